"""Band prices from an aggregated LP: accounts grouped into small compact clusters.

Accounts of one cluster share today's territory, segment and lock, and lie close together (a
Morton order of their locations, cut into runs), so their costs per unit differ little. The LP
in which every cluster splits as one (a restriction of the real LP, with one row per cluster)
is small enough for the simplex method, and its band duals are close to the real LP's: good
prices to start from, where a sample (noisy per band) or a smoothed ascent (slow to converge)
is not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..geo import Geometry
from .backends import Backend
from .formulation import (
    FloatArray,
    IntArray,
    Problem,
    unique_pairs,
)
from .lagrange import Dual
from .pricing import PricedLP


@dataclass
class Aggregate(Problem):
    """Clusters as accounts: values, weight and measure are sums over the members, distances
    are from the cluster's weighted centre (an approximation: this problem only prices)."""

    parent: Problem | None = None
    members: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # by cluster
    starts: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # first member
    first: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # one member each
    centres: Geometry | None = None

    def eligible_rows(self, rows: IntArray):  # type: ignore[no-untyped-def]
        assert self.parent is not None
        return self.parent.eligible_rows(self.first[rows])

    @property
    def geo(self) -> Geometry:
        assert self.centres is not None
        return self.centres

    def nearest_pairs(self, k: int) -> tuple[IntArray, IntArray]:
        raise NotImplementedError("pass the clusters' pairs from aggregate()")


def _centres(xy: FloatArray, weight: FloatArray, cluster_of: IntArray, c: int) -> FloatArray:
    """Every cluster's centre: its members' mean location weighted by travel weight (plain
    mean where the weights sum to 0)."""
    w = np.where(np.bincount(cluster_of, weight, c)[cluster_of] > 0, weight, 1.0)
    total = np.bincount(cluster_of, w, c)
    return np.column_stack([np.bincount(cluster_of, w * xy[:, k], c) / total for k in range(2)])


def _sum(cluster_of: IntArray, values: FloatArray, c: int) -> FloatArray:
    return np.bincount(cluster_of, values, c).astype(np.float64)


def _morton(xy: FloatArray) -> IntArray:
    """Morton (Z-order) code of 2-D points: nearby points get nearby codes."""
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    q = ((xy - lo) / np.where(hi > lo, hi - lo, 1.0) * 65535).astype(np.uint64)
    code = np.zeros(len(xy), dtype=np.uint64)
    for b in range(16):
        bit = np.uint64(1 << b)
        code |= ((q[:, 0] & bit) << np.uint64(b)) | ((q[:, 1] & bit) << np.uint64(b + 1))
    return code.astype(np.int64)


def aggregate(
    problem: Problem, pi: IntArray, pj: IntArray, clusters: int
) -> tuple[Aggregate, IntArray, IntArray, IntArray] | None:
    """About ``clusters`` clusters, their candidate pairs (the union of the members'), and the
    cluster of every account. None when the accounts have no coordinates."""
    geo = problem.scenario.geometry
    if geo.acc is None:
        return None
    n = problem.n
    size = max(1, n // max(clusters, 1))
    sc = problem.scenario
    key_cur = problem.current.astype(np.int64)
    seg = sc.segment_code.astype(np.int64) if sc.eligible is not None else np.zeros(n, np.int64)
    locked = problem.fixed >= 0
    order = np.lexsort((_morton(np.asarray(geo.acc, float)), problem.fixed, seg, key_cur))
    # runs of equal (today, segment, lock); locked accounts stay alone
    k_cur, k_seg, k_fix = key_cur[order], seg[order], problem.fixed[order]
    new_run = np.r_[True, (k_cur[1:] != k_cur[:-1]) | (k_seg[1:] != k_seg[:-1])
                    | (k_fix[1:] != k_fix[:-1])]  # fmt: skip
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    pos = np.arange(n) - run_start[run_id]
    chunk = pos // size
    new_cluster = np.r_[True, (run_id[1:] != run_id[:-1]) | (chunk[1:] != chunk[:-1])]
    new_cluster |= locked[order]
    if len(new_cluster) > 1:
        new_cluster[1:] |= locked[order][:-1]
    cid_sorted = np.cumsum(new_cluster) - 1
    cluster_of = np.empty(n, dtype=np.int64)
    cluster_of[order] = cid_sorted
    starts = np.flatnonzero(new_cluster)
    c = len(starts)
    members = order
    first = order[starts]
    centres = _centres(np.asarray(geo.acc, float), problem.weight, cluster_of, c)
    resources = []
    for r in problem.resources:
        resources.append(replace(r, values=_sum(cluster_of, r.values, c)))
    agg = Aggregate(
        scenario=problem.scenario,
        n=c,
        m=problem.m,
        travel=problem.travel,
        weight=_sum(cluster_of, problem.weight, c),
        power=problem.power,
        disruption=problem.disruption,
        measure=_sum(cluster_of, problem.measure, c),
        current=problem.current[first],
        fixed=problem.fixed[first],
        resources=resources,
        moved_min_kept=problem.moved_min_kept,
        moved_scale=problem.moved_scale,
        cost_scale=problem.cost_scale,
        gap=problem.gap,
        parent=problem,
        members=members,
        starts=starts,
        first=first,
        centres=Geometry(geo.kind, centres, geo.ter),
    )
    ai, aj = unique_pairs(cluster_of[pi], pj, problem.m)
    return agg, ai, aj, cluster_of


def aggregated_duals(
    problem: Problem,
    backend: Backend,
    pi: IntArray,
    pj: IntArray,
    clusters: int,
    *,
    left: Callable[[], float],
    slack_cost: float,
) -> Prices | None:
    """Band and moved-row duals of the aggregated LP (with pricing over the clusters' pairs).
    None without coordinates, or when the LP is not solved in time."""
    made = aggregate(problem, pi, pj, clusters)
    if made is None:
        return None
    agg, ai, aj, cluster_of = made
    priced = PricedLP(agg, backend, ai, aj, slack_cost)
    lp = priced.solve(left, stop=lambda: left() <= 0)
    if lp.status != "optimal" or lp.row_dual is None or lp.x is None:
        return None
    duals = priced.duals(lp)
    info = {
        "clusters": agg.n,
        "rounds": priced.rounds,
        "pairs": len(priced.pi),
        "objective": lp.objective,
    }
    base, split = _disaggregate(agg, cluster_of, priced.pi, priced.pj, priced.pairs_x(lp))
    info["split_clusters"] = int(split.sum())
    return Prices(Dual(duals.resource, duals.moved, -math.inf), base, split[cluster_of], info)


@dataclass
class Prices:
    """What the aggregated LP says: band duals, a plan of every account (each cluster's
    members follow its LP split, by their share of its first balanced value), and which
    accounts were in a split cluster."""

    duals: Dual  # their bound is not known here: -inf
    base: IntArray
    split: np.ndarray  # (n,) bool
    info: dict  # type: ignore[type-arg]


def _disaggregate(agg: Aggregate, cluster_of: IntArray, ai, aj, x):  # type: ignore[no-untyped-def]
    """Every member a territory: a whole cluster's members its territory; a split cluster's
    members in Morton order, cut by the cumulative share of the cluster's value."""
    keep = x > 1e-9
    ai, aj, x = ai[keep], aj[keep], x[keep]
    order = np.lexsort((-x, ai))
    ai, aj, x = ai[order], aj[order], x[order]
    first = np.r_[True, ai[1:] != ai[:-1]]
    base_c = np.full(agg.n, -1, dtype=np.int64)
    base_c[ai[first]] = aj[first]
    split = np.zeros(agg.n, dtype=bool)
    split[ai[~first]] = True
    base = base_c[cluster_of]
    values = agg.parent.resources[0].values if agg.parent.resources else None  # type: ignore[union-attr]
    for c in np.flatnonzero(split):
        mem = agg.members[
            agg.starts[c] : agg.starts[c] + np.diff(np.r_[agg.starts, len(agg.members)])[c]
        ]
        share = (
            (np.cumsum(values[mem]) / values[mem].sum())
            if values is not None
            else (np.arange(1, len(mem) + 1) / len(mem))
        )
        rows = np.flatnonzero(ai == c)
        cut = np.cumsum(x[rows])
        pick = np.searchsorted(cut, share - 1e-12)
        base[mem] = aj[rows][np.minimum(pick, len(rows) - 1)]
    return base, split
