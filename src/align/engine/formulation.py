"""The alignment MIP as arrays: one small function per business rule.

Variables are account-territory pairs ``x[p]`` for a candidate set of pairs ``(pi[p], pj[p])``.
Rows:

* assignment: every account in exactly one territory (``sum_j x_ij = 1``);
* resources: for every balanced column k and territory j, ``lo_kj <= sum_i v_ki x_ij <= hi_kj``
  (balance bands), and ``sum_i workload_i x_ij <= capacity_j`` (capacity);
* moved: ``sum_i m_i x_{i,cur(i)} >= (1 - max_moved_share) * M`` (disruption cap).

Locks and segment eligibility are not rows: they decide which pairs may exist at all. Costs are
``travel * w_i * d_ij^p + disruption * m_i * [j != cur(i)]``. Resource values are scaled by each
column's mean target and costs by a single factor, so the solver sees numbers near 1; the results
are scaled back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from ..geo import Geometry
from ..scenario import Scenario

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass
class Resource:
    """Rows ``lo_j <= sum_i values_i x_ij <= hi_j`` for every territory j (in scaled units)."""

    name: str  # column name
    kind: str  # "balance" or "capacity"
    values: FloatArray  # (n,) scaled
    lo: FloatArray  # (m,) scaled, -inf where absent
    hi: FloatArray  # (m,) scaled, +inf where absent
    scale: float  # raw = scaled * scale
    target: FloatArray  # (m,) raw target (balance) or capacity (raw)
    tolerance: float = 0.0
    group: IntArray | None = None  # kind "region": band of each territory (lo/hi/target per band)
    labels: list[str] | None = None  # kind "region": the band names

    def load(self, assign: IntArray, m: int, rows: IntArray | None = None) -> FloatArray:
        """Scaled total of every band (territory, or region) under a plan of ``rows`` (all)."""
        v = self.values if rows is None else self.values[rows]
        per: FloatArray = np.bincount(assign, weights=v, minlength=m).astype(np.float64)
        if self.group is None:
            return per
        return np.bincount(self.group, per, len(self.lo)).astype(np.float64)


@dataclass
class Problem:
    """Everything about one alignment problem that does not depend on the candidate set."""

    scenario: Scenario
    n: int
    m: int
    travel: float
    weight: FloatArray  # travel weight per account
    power: int
    disruption: float
    measure: FloatArray  # disruption measure per account
    current: IntArray  # (n,) current territory, -1 none
    fixed: IntArray  # (n,) territory an account is locked to, -1 free
    resources: list[Resource]
    moved_min_kept: float | None  # scaled rhs of the moved row, None when no cap
    moved_scale: float
    cost_scale: float = 1.0
    pruned_floor: FloatArray | None = None  # set by nearest_pairs
    gap: float | None = None  # relative gap to aim at; None: ``solver.gap``
    _elig: NDArray[np.bool_] | None = field(default=None, repr=False)

    @property
    def target_gap(self) -> float:
        return self.scenario.settings.solver.gap if self.gap is None else self.gap

    # --- pairs -------------------------------------------------------------------------------
    def eligible_rows(self, rows: IntArray) -> NDArray[np.bool_]:
        """(len(rows), m) which territories each account may join (segments, maximum distance
        and locks)."""
        elig_table = self.scenario.eligible
        if elig_table is None:
            out = np.ones((len(rows), self.m), dtype=bool)
        else:
            out = elig_table[self.scenario.segment_code[rows]].copy()
        limit = self.scenario.settings.constraints.max_distance_km
        if limit is not None:  # pairs beyond it are never built; today's owner stays allowed
            near = self.scenario.geometry.rows(rows) <= limit
            cur = self.current[rows]
            has = np.flatnonzero(cur >= 0)
            near[has, cur[has]] = True
            out &= near
        f = self.fixed[rows]
        locked = f >= 0
        if locked.any():
            out[locked] = False
            out[np.flatnonzero(locked), f[locked]] = True
        return out

    def eligible_for(self, rows: IntArray, b: int) -> NDArray[np.bool_]:
        """(len(rows),) which of the accounts ``rows`` may join territory ``b``: the column ``b``
        of :meth:`eligible_rows`, without the others' distances."""
        elig_table = self.scenario.eligible
        if elig_table is None:
            out = np.ones(len(rows), dtype=bool)
        else:
            out = elig_table[self.scenario.segment_code[rows], b].copy()
        limit = self.scenario.settings.constraints.max_distance_km
        if limit is not None:
            near = self.scenario.geometry.pairs(rows, np.full(len(rows), b, dtype=np.int64))
            out &= (near <= limit) | (self.current[rows] == b)
        f = self.fixed[rows]
        out &= (f < 0) | (f == b)
        return out

    @property
    def geo(self) -> Geometry:
        """Where the accounts are (an aggregate has its own: its clusters' centres)."""
        return self.scenario.geometry

    def raw_costs(self, rows: IntArray) -> FloatArray:
        """Dense (len(rows), m) unscaled cost of every pair of these accounts."""
        d = self.geo.rows(rows)
        cost = np.zeros_like(d)
        if self.travel:
            cost += self.travel * self.weight[rows, None] * (d if self.power == 1 else d * d)
        if self.disruption:
            cur = self.current[rows]
            moved = (cur[:, None] >= 0) & (np.arange(self.m)[None, :] != cur[:, None])
            cost += self.disruption * self.measure[rows, None] * moved
        return cost

    def pair_costs(self, pi: IntArray, pj: IntArray) -> FloatArray:
        """Unscaled cost of given pairs."""
        cost = np.zeros(len(pi))
        if self.travel:
            d = self.geo.pairs(pi, pj)
            cost += self.travel * self.weight[pi] * (d if self.power == 1 else d * d)
        if self.disruption:
            cur = self.current[pi]
            cost += self.disruption * self.measure[pi] * ((cur >= 0) & (pj != cur))
        return cost

    def plan_cost(self, assign: IntArray) -> float:
        """Unscaled cost of a plan (a territory for every account)."""
        return float(self.pair_costs(np.arange(self.n), assign).sum())

    def iter_chunks(self, rows: IntArray | None = None, size: int = 0):  # type: ignore[no-untyped-def]
        rows = np.arange(self.n) if rows is None else rows
        size = size or max(1, 2_000_000 // max(self.m, 1))
        for s in range(0, len(rows), size):
            yield rows[s : s + size]

    def nearest_pairs(self, k: int) -> tuple[IntArray, IntArray]:
        """The k cheapest eligible territories of every account, plus its current one.

        Also sets :attr:`pruned_floor`: a lower bound of the raw cost of every eligible pair left
        out (+inf where none is), which lets pricing skip accounts whose pruned pairs cannot
        have a negative reduced cost.
        """
        kk = min(k, self.m)
        if kk < self.m and self._nearest_by_distance():
            return self._nearest_tree(kk)
        pis, pjs = [], []
        floor = np.full(self.n, np.inf)
        for rows in self.iter_chunks():
            cost = self.raw_costs(rows)
            elig = self.eligible_rows(rows)
            cost[~elig] = np.inf
            if kk < self.m:
                part = np.argpartition(cost, kk - 1, axis=1)[:, :kk]
            else:
                part = np.tile(np.arange(self.m), (len(rows), 1))
            kept_cost = np.take_along_axis(cost, part, axis=1)
            take = np.isfinite(kept_cost)
            if kk < self.m:
                floor[rows] = kept_cost.max(axis=1)
            r = np.repeat(rows, kk).reshape(len(rows), kk)
            pis.append(r[take])
            pjs.append(part[take])
            cur = self.current[rows]
            has = cur >= 0
            ok = has.copy()
            ok[has] = elig[np.flatnonzero(has), cur[has]]
            pis.append(rows[ok])
            pjs.append(cur[ok])
        self.pruned_floor = floor
        return unique_pairs(np.concatenate(pis), np.concatenate(pjs), self.m)

    def _nearest_by_distance(self) -> bool:
        """Whether the k cheapest pairs are the k nearest (plus today's): every pair eligible
        but a locked account's (its lock is its one pair), costs increasing in distance,
        coordinates rather than a given matrix."""
        geo = self.scenario.geometry
        return (
            geo.matrix is None
            and self.scenario.eligible is None
            and self.scenario.settings.constraints.max_distance_km is None
            and self.travel > 0
            and bool((self.weight >= 0).all())
        )

    def _nearest_tree(self, k: int) -> tuple[IntArray, IntArray]:
        """:meth:`nearest_pairs` by a k-d tree (no dense n x m work): the k nearest territories
        and today's; a locked account's lock alone. Any pair left out is at least as far as the
        k-th nearest and is a move (a locked account leaves none out)."""
        geo = self.scenario.geometry
        idx = geo.nearest(k)
        d_k = geo.pairs(np.arange(self.n), idx[:, -1])  # the tree returns them nearest first
        floor = self.travel * self.weight * (d_k if self.power == 1 else d_k * d_k)
        if self.disruption:
            floor = floor + self.disruption * self.measure * (self.current >= 0)
        locked = self.fixed >= 0
        free = np.flatnonzero(~locked)
        self.pruned_floor = np.where(locked, np.inf, floor * (1 - 1e-9) - 1e-9)
        today = free[self.current[free] >= 0]
        held = np.flatnonzero(locked)
        pi = np.r_[np.repeat(free, k), today, held]
        pj = np.r_[idx[free].ravel(), self.current[today], self.fixed[held]]
        return unique_pairs(pi, pj, self.m)

    def all_pairs(self) -> tuple[IntArray, IntArray]:
        pis, pjs = [], []
        for rows in self.iter_chunks():
            ii, jj = np.nonzero(self.eligible_rows(rows))
            pis.append(rows[ii])
            pjs.append(jj.astype(np.int64))
        return np.concatenate(pis), np.concatenate(pjs)


def unique_pairs(pi: IntArray, pj: IntArray, m: int) -> tuple[IntArray, IntArray]:
    """The distinct pairs, sorted by account then territory."""
    key = np.sort(pi.astype(np.int64) * m + pj)  # sorting beats np.unique's hashing here
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    return key // m, key % m


def build_problem(scenario: Scenario) -> Problem:
    """Turn a validated scenario into the arrays of the model."""
    s = scenario.settings
    n, m = scenario.n_accounts, scenario.n_territories
    share = scenario.target_share
    resources: list[Resource] = []
    for name, rule in s.balance.items():
        resources.append(balance_rows(scenario.column(name), share, name, rule.tolerance))
    for name, rule in s.balance_regions.items():
        region = scenario.territories["region"].astype(str)
        codes, labels = pd.factorize(region)
        resources.append(
            region_rows(scenario.column(name), share, codes, list(labels), name, rule.tolerance)
        )
    if "capacity" in scenario.territories:
        cap = scenario.territories["capacity"].to_numpy(dtype=float)
        if np.isfinite(cap).any():
            resources.append(capacity_rows(scenario.column("workload"), cap))
    current = scenario.current
    locked = scenario.accounts["locked"].to_numpy(dtype=bool)
    fixed = np.where(locked & (current >= 0), current, -1)
    measure = scenario.column(s.objective.disruption_measure)
    moved_min, moved_scale = moved_row(measure, current, s.constraints.max_moved_share)
    problem = Problem(
        scenario=scenario,
        n=n,
        m=m,
        travel=s.objective.travel,
        weight=scenario.column(s.objective.travel_weight),
        power=s.objective.distance_power,
        disruption=s.objective.disruption,
        measure=measure,
        current=current,
        fixed=fixed,
        resources=resources,
        moved_min_kept=moved_min,
        moved_scale=moved_scale,
    )
    problem.cost_scale = cost_scale(problem)
    return problem


def balance_rows(values: FloatArray, share: FloatArray, name: str, tol: float) -> Resource:
    """Band ``target_j * (1 +- tol)`` with ``target_j = share_j * total``."""
    return _band(values, share * values.sum(), name, tol)


def region_rows(
    values: FloatArray, share: FloatArray, codes: IntArray, labels: list[str], name: str, tol: float
) -> Resource:
    """Band ``target_g * (1 +- tol)`` on every region g (the sum of its territories' targets)."""
    target = np.bincount(codes, weights=share, minlength=len(labels)) * values.sum()
    return _band(values, target, name, tol, group=np.asarray(codes, np.int64), labels=labels)


def _band(
    values: FloatArray,
    target: FloatArray,
    name: str,
    tol: float,
    *,
    group: IntArray | None = None,
    labels: list[str] | None = None,
) -> Resource:
    scale = float(target.mean()) or 1.0
    return Resource(
        name=name,
        kind="balance" if group is None else "region",
        values=values / scale,
        lo=target * (1 - tol) / scale,
        hi=target * (1 + tol) / scale,
        scale=scale,
        target=target,
        tolerance=tol,
        group=group,
        labels=labels,
    )


def capacity_rows(workload: FloatArray, capacity: FloatArray) -> Resource:
    """``sum_i workload_i x_ij <= capacity_j`` where a capacity is given."""
    finite = capacity[np.isfinite(capacity)]
    scale = float(finite.mean()) if len(finite) and finite.mean() > 0 else 1.0
    hi = np.where(np.isfinite(capacity), capacity / scale, np.inf)
    return Resource(
        name="workload",
        kind="capacity",
        values=workload / scale,
        lo=np.full(len(capacity), -np.inf),
        hi=hi,
        scale=scale,
        target=capacity,
    )


def moved_row(measure: FloatArray, current: IntArray, share: float) -> tuple[float | None, float]:
    """At most ``share`` of the measure (over accounts with an owner today) may move."""
    total = float(measure[current >= 0].sum())
    if share >= 1.0 or total <= 0:
        return None, 1.0
    scale = total
    return (1.0 - share), scale  # scaled: sum (m_i/total) x_{i,cur} >= 1 - share


def cost_scale(problem: Problem) -> float:
    """A factor that brings typical pair costs near 1 (costs are divided by it)."""
    rows = np.arange(0, problem.n, max(1, problem.n // 2000))
    c = problem.raw_costs(rows)
    pos = c[c > 0]
    return float(np.median(pos)) if len(pos) else 1.0


# ---------------------------------------------------------------------------------------------


@dataclass
class MatrixModel:
    """A linear model in the solver-neutral form the backends take."""

    c: FloatArray
    A: sp.csc_matrix
    row_lo: FloatArray
    row_hi: FloatArray
    col_lo: FloatArray
    col_hi: FloatArray
    integer: NDArray[np.bool_]
    offset: float = 0.0  # constant added to the objective

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.A.shape
        return int(rows), int(cols)


@dataclass
class Layout:
    """How a MatrixModel's rows and columns map back to the problem."""

    accounts: IntArray  # accounts with an assignment row, in row order
    pi: IntArray
    pj: IntArray
    resource_rows: list[IntArray]  # row index per territory for each resource (-1 absent)
    moved_row: int  # -1 when absent
    n_pair_cols: int
    elastic_cols: list[tuple[str, int, int, int]] = field(default_factory=list)
    # (kind, resource or -1, territory or -1, column)


def _slack_columns(
    band_rows: list[IntArray],
    moved_index: int,
    first_col: int,
    entries: tuple[list[IntArray], list[IntArray], list[FloatArray]],
) -> list[tuple[str, int, int, int]]:
    """Slack columns from ``first_col`` on: an under and an over slack on every band row, one on
    the moved row (when there is one). Their coefficients are appended to ``entries`` (rows,
    cols, vals); returns (kind, resource, band, column) per slack column."""
    rows, cols, vals = entries
    out: list[tuple[str, int, int, int]] = []
    col = first_col
    for k, band in enumerate(band_rows):
        for j in np.flatnonzero(band >= 0):  # j: the band (territory, or region)
            for sign, kind in ((1.0, "under"), (-1.0, "over")):
                rows.append(np.array([band[j]]))
                cols.append(np.array([col]))
                vals.append(np.array([sign]))
                out.append((kind, k, int(j), col))
                col += 1
    if moved_index >= 0:
        rows.append(np.array([moved_index]))
        cols.append(np.array([col]))
        vals.append(np.array([1.0]))
        out.append(("moved", -1, -1, col))
    return out


def build_model(
    problem: Problem,
    pi: IntArray,
    pj: IntArray,
    *,
    fixed_assign: IntArray | None = None,
    integer: bool = False,
    elastic: bool = False,
    slack_cost: float | None = None,
) -> tuple[MatrixModel, Layout]:
    """The model over candidate pairs (pi, pj).

    ``fixed_assign`` (n,) gives a territory for accounts held fixed (-1 = free); the pairs must then
    cover free accounts only and the fixed ones shift the right-hand sides. ``elastic`` adds slack
    columns on every resource and moved row, with the slacks alone in the objective;
    ``slack_cost`` adds the same columns at that cost beside the pair costs (a big-M phase one,
    so the LP is always feasible and pricing can bring in the pairs that remove the slack).
    """
    m = problem.m
    free_mask = np.ones(problem.n, dtype=bool)
    if fixed_assign is not None:
        free_mask = fixed_assign < 0
    accounts = np.flatnonzero(free_mask)
    row_of = np.full(problem.n, -1, dtype=np.int64)
    row_of[accounts] = np.arange(len(accounts))
    assert (row_of[pi] >= 0).all(), "pairs must belong to free accounts"
    n_rows = len(accounts)
    npair = len(pi)
    rows = [row_of[pi]]
    cols = [np.arange(npair)]
    vals = [np.ones(npair)]
    lo_parts = [np.ones(n_rows)]
    hi_parts = [np.ones(n_rows)]
    resource_rows: list[IntArray] = []
    band_rows: list[IntArray] = []
    for r in problem.resources:
        active = np.isfinite(r.lo) | np.isfinite(r.hi)
        band = np.full(len(r.lo), -1, dtype=np.int64)
        band[active] = n_rows + np.arange(int(active.sum()))
        idx = band if r.group is None else band[r.group]
        lo, hi = r.lo[active].copy(), r.hi[active].copy()
        if fixed_assign is not None:
            held = np.flatnonzero(~free_mask)
            load = r.load(fixed_assign[held], m, held)
            lo -= load[active]
            hi -= load[active]
        use = idx[pj] >= 0
        rows.append(idx[pj][use])
        cols.append(np.flatnonzero(use))
        vals.append(r.values[pi][use])
        lo_parts.append(lo)
        hi_parts.append(hi)
        resource_rows.append(idx)
        band_rows.append(band)
        n_rows += int(active.sum())
    moved_index = -1
    if problem.moved_min_kept is not None:
        moved_index = n_rows
        kept = (problem.current[pi] == pj) & (pj >= 0)
        coef = problem.measure[pi][kept] / problem.moved_scale
        rows.append(np.full(int(kept.sum()), moved_index))
        cols.append(np.flatnonzero(kept))
        vals.append(coef)
        rhs = problem.moved_min_kept
        if fixed_assign is not None:
            held = np.flatnonzero(~free_mask)
            stay = held[(problem.current[held] == fixed_assign[held]) & (fixed_assign[held] >= 0)]
            rhs -= float(problem.measure[stay].sum()) / problem.moved_scale
        lo_parts.append(np.array([rhs]))
        hi_parts.append(np.array([np.inf]))
        n_rows += 1
    c = problem.pair_costs(pi, pj) / problem.cost_scale
    n_cols = npair
    elastic_cols: list[tuple[str, int, int, int]] = []
    if elastic or slack_cost is not None:
        if elastic:
            c = np.zeros(npair)
        unit = 1.0 if elastic or slack_cost is None else float(slack_cost)
        elastic_cols = _slack_columns(band_rows, moved_index, n_cols, (rows, cols, vals))
        n_cols += len(elastic_cols)
        c = np.concatenate([c, np.full(len(elastic_cols), unit)])
    A = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_cols),
    )
    col_hi = np.ones(n_cols)
    col_hi[npair:] = np.inf
    integrality = (
        np.zeros(n_cols, dtype=bool)
        if not integer
        else np.r_[np.ones(npair, bool), np.zeros(n_cols - npair, bool)]
    )
    model = MatrixModel(
        c=c,
        A=A,
        row_lo=np.concatenate(lo_parts),
        row_hi=np.concatenate(hi_parts),
        col_lo=np.zeros(n_cols),
        col_hi=col_hi,
        integer=integrality,
    )
    layout = Layout(
        accounts=accounts,
        pi=pi,
        pj=pj,
        resource_rows=resource_rows,
        moved_row=moved_index,
        n_pair_cols=npair,
        elastic_cols=elastic_cols,
    )
    return model, layout


@dataclass
class RuleDuals:
    """The LP's row duals by rule: one per account, one per resource and territory, moved row."""

    account: FloatArray  # (n,), 0 for accounts without an assignment row
    resource: list[FloatArray]  # (m,) per resource, 0 where the row is absent
    moved: float


def rule_duals(problem: Problem, layout: Layout, row_dual: FloatArray) -> RuleDuals:
    """Map the row duals of a model built by :func:`build_model` back to the rules."""
    account = np.zeros(problem.n)
    account[layout.accounts] = row_dual[: len(layout.accounts)]
    resource = [
        np.where(idx >= 0, row_dual[np.maximum(idx, 0)], 0.0) for idx in layout.resource_rows
    ]
    moved = float(row_dual[layout.moved_row]) if layout.moved_row >= 0 else 0.0
    return RuleDuals(account, resource, moved)


def reduced_costs(problem: Problem, rows: IntArray, duals: RuleDuals) -> FloatArray:
    """Dense (len(rows), m) scaled reduced cost of every pair of these accounts.

    Uses the duals of a model built over *all* accounts (no fixed ones). Ineligible pairs get +inf.
    """
    rc = problem.raw_costs(rows) / problem.cost_scale - duals.account[rows, None]
    for r, y in zip(problem.resources, duals.resource, strict=True):
        rc -= r.values[rows, None] * y[None, :]
    if duals.moved:
        cur = problem.current[rows]
        has = np.flatnonzero(cur >= 0)
        rc[has, cur[has]] -= problem.measure[rows[has]] / problem.moved_scale * duals.moved
    rc[~problem.eligible_rows(rows)] = np.inf
    return rc


def pair_reduced_costs(
    problem: Problem, pi: IntArray, pj: IntArray, duals: RuleDuals
) -> FloatArray:
    """Scaled reduced cost of the given pairs (the pairwise form of :func:`reduced_costs`)."""
    rc = problem.pair_costs(pi, pj) / problem.cost_scale - duals.account[pi]
    for r, y in zip(problem.resources, duals.resource, strict=True):
        rc -= r.values[pi] * y[pj]
    if duals.moved:
        kept = problem.current[pi] == pj
        rc[kept] -= problem.measure[pi][kept] / problem.moved_scale * duals.moved
    return rc
