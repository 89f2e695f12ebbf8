"""The contiguous incumbent of the exact greenfield loop (engine/incumbent.SearchPolish) and
the iterated local search (ContiguousSearch.explore), checked against enumeration and networkx."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from test_local_search import grid, nx_graph

from align.engine.districts import Band
from align.engine.incumbent import SearchPolish
from align.engine.local_search import Bands, ContiguousSearch, make_contiguous


def pmedian_case(seed: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """A 3 x 3 grid with seeded unit values: values, unit-to-unit costs, band +-15%."""
    rng = np.random.default_rng(seed)
    _, xy, _ = grid(3, 3)
    v = rng.integers(1, 10, 9).astype(float)
    cost = v[:, None] * ((xy[:, None] - xy[None]) ** 2).sum(-1)
    mean = v.sum() / 2
    return v, cost, 0.85 * mean, 1.15 * mean


def brute_force(G: nx.Graph, v: np.ndarray, cost: np.ndarray, lo: float, hi: float) -> float:
    """The best split of the grid into two connected parts within the band, each part served
    from its best member."""
    best = np.inf
    for labels in itertools.product(range(2), repeat=8):
        a = np.array((0, *labels))
        parts = [np.flatnonzero(a == t) for t in range(2)]
        if any(len(p) == 0 or not lo <= v[p].sum() <= hi for p in parts):
            continue
        if not all(nx.is_connected(G.subgraph(p.tolist())) for p in parts):
            continue
        best = min(best, sum(cost[np.ix_(p, p)].sum(axis=0).min() for p in parts))
    return best


def check(G: nx.Graph, plan: np.ndarray, v: np.ndarray, cost: np.ndarray, lo: float, hi: float):  # type: ignore[no-untyped-def]
    """The plan's cost after checking it independently: two centres, each in its own part,
    every part connected (networkx) and within the band."""
    centres = np.unique(plan)
    assert len(centres) == 2
    for c in centres:
        part = np.flatnonzero(plan == c)
        assert c in part  # a centre serves itself
        assert nx.is_connected(G.subgraph(part.tolist()))
        assert lo - 1e-9 <= v[part].sum() <= hi + 1e-9
    return float(cost[np.arange(len(plan)), plan].sum())


@pytest.mark.parametrize("seed", range(5))
def test_search_from_a_cut_plan_reaches_the_enumerated_optimum(seed: int) -> None:
    """From a plan in pieces around two corner centres, the search gives contiguous plans in
    band, never below the optimum; on seeds 2-4 the best of a few is the optimum (it is a local
    search: on seeds 0 and 1 it ends 19% and 7% above it, which the exact loop's bound shows)."""
    g, _, _ = grid(3, 3)
    G = nx_graph(g)
    v, cost, lo, hi = pmedian_case(seed)
    opt = brute_force(G, v, cost, lo, hi)
    assert np.isfinite(opt)
    start = np.where(np.arange(9) % 2 == 0, 0, 8)  # a checkerboard: both territories cut
    found = []
    for s in range(4):
        polish = SearchPolish(g, cost, [Band(v, lo, hi)], 2, np.arange(9), seed=s)
        plan = polish(start, 1.0)
        assert plan is not None and polish.calls == 1
        found.append(check(G, plan, v, cost, lo, hi))
    assert min(found) >= opt - 1e-9
    if seed >= 2:
        assert min(found) == pytest.approx(opt)


def test_search_keeps_to_the_pairs_the_model_has() -> None:
    """With unit 4 (the middle) barred from every centre but unit 0, a plan that comes back
    serves unit 4 from 0; with unit 4 barred from every centre, none comes back."""
    g, _, _ = grid(3, 3)
    G = nx_graph(g)
    v, cost, lo, hi = pmedian_case(1)
    keep = np.ones((9, 9), dtype=bool)
    keep[4, 1:] = False
    start = np.array([0, 0, 0, 0, 0, 8, 8, 8, 8])
    plans = [
        SearchPolish(g, cost, [Band(v, lo, hi)], 2, np.arange(9), keep, seed=s)(start, 1.0)
        for s in range(4)
    ]
    kept = [p for p in plans if p is not None]
    assert kept
    for plan in kept:
        check(G, plan, v, cost, lo, hi)
        assert plan[4] == 0
    keep[4, 0] = False
    polish = SearchPolish(g, cost, [Band(v, lo, hi)], 2, np.arange(9), keep)
    assert polish(start, 1.0) is None


def test_a_plan_without_every_centre_is_left_alone() -> None:
    g, _, _ = grid(3, 3)
    v, cost, lo, hi = pmedian_case(0)
    polish = SearchPolish(g, cost, [Band(v, lo, hi)], 2, np.arange(9))
    assert polish(np.zeros(9, dtype=np.int64), 1.0) is None
    assert polish.calls == 0


@pytest.mark.parametrize("seed", range(5))
def test_explore_leaves_the_local_optima_that_run_stops_at(seed: int) -> None:
    """Fixed start (both territories cut, centres 0 and 8): run() alone stops 19% and 6.5%
    above the enumerated optimum on cases 0 and 1, whatever its seed; explore() (kicks within
    the bands, restarts from the best) reaches the optimum on every case and seed, and never
    hands back a plan outside the bands or in pieces."""
    g, _, _ = grid(3, 3)
    G = nx_graph(g)
    v, cost, lo, hi = pmedian_case(seed)
    opt = brute_force(G, v, cost, lo, hi)
    roots = np.array([0, 8])
    start = np.where(np.arange(9) % 2 == 0, 0, 1)
    bands = Bands(v[:, None], np.full((2, 1), lo), np.full((2, 1), hi))

    def recentre(members: np.ndarray) -> tuple[int, np.ndarray]:
        c = int(members[np.argmin(cost[np.ix_(members, members)].sum(axis=0))])
        return c, cost[:, c]

    def search(s: int) -> ContiguousSearch:
        assign = make_contiguous(g, start, cost[:, roots], roots=roots)
        out = ContiguousSearch(
            g, cost[:, roots], bands, assign, roots=roots, recentre=recentre, seed=s
        )
        out.recentre_all()
        return out

    for s in range(2):
        alone = search(s)
        alone.run(60.0)
        explored = search(s)
        explored.explore(60.0, rounds=20)
        assert explored.in_band()
        plan = explored.roots[explored.assign]
        assert check(G, plan, v, cost, lo, hi) == pytest.approx(opt)
        assert explored.objective() == pytest.approx(opt)
        if seed in (0, 1):
            assert alone.objective() > 1.06 * opt
