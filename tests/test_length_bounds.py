"""L-fixing and length-bounded separator rows, checked against every feasible plan of small
graphs (enumerated): neither may remove a pair or cut off a plan that is contiguous and within
the band."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from align.engine.contiguity import Budget, Graph, account_graph, find_cuts, path_totals
from align.engine.districts import Band, length_fixing


def random_graph(n: int, seed: int) -> tuple[Graph, nx.Graph]:
    """A connected planar-ish graph: a random spanning tree plus a few chords."""
    rng = np.random.default_rng(seed)
    edges = {(int(rng.integers(0, i)), i) for i in range(1, n)}
    for _ in range(n // 2):
        a, b = (int(v) for v in rng.choice(n, 2, replace=False))
        edges.add((min(a, b), max(a, b)))
    adj = pd.DataFrame(sorted(edges), columns=["account_id", "neighbor_id"]).astype(str)
    g = account_graph(adj, pd.Series([str(i) for i in range(n)]))
    assert g is not None
    return g, nx.Graph(sorted(edges))


def feasible_plans(nxg: nx.Graph, w: np.ndarray, k: int, lo: float, hi: float):
    """Every partition into k contiguous parts within [lo, hi] (each part once, as a list)."""
    n = len(w)
    seen = set()
    for labels in itertools.product(range(k), repeat=n - 1):
        lab = np.array((0, *labels))
        parts = [np.flatnonzero(lab == t) for t in range(k)]
        if any(len(p) == 0 or not lo <= w[p].sum() <= hi for p in parts):
            continue
        if not all(nx.is_connected(nxg.subgraph(p.tolist())) for p in parts):
            continue
        key = frozenset(frozenset(p.tolist()) for p in parts)
        if key not in seen:
            seen.add(key)
            yield parts


CASES = [(seed, k, tol) for seed in range(4) for k, tol in ((2, 0.05), (3, 0.2), (2, 0.3))]


def weights(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(100 + seed).integers(1, 20, n).astype(float)


def test_path_totals_count_both_ends() -> None:
    g, _ = random_graph(6, 0)
    w = np.arange(1.0, 7.0)
    d = path_totals(g, w, np.arange(6))
    assert np.allclose(np.diag(d), w)
    assert np.allclose(d, d.T)
    for a, b in zip(*np.nonzero(g.A.toarray()), strict=True):
        assert d[a, b] == w[a] + w[b]


@pytest.mark.parametrize(("seed", "k", "tol"), CASES)
def test_length_fixing_keeps_every_pair_a_feasible_plan_uses(seed: int, k: int, tol: float) -> None:
    n = 9
    g, nxg = random_graph(n, seed)
    w = weights(n, seed)
    lo, hi = w.sum() / k * (1 - tol), w.sum() / k * (1 + tol)
    keep, budget = length_fixing(g, [Band(w, lo, hi)], np.arange(n))
    assert budget is not None
    for parts in feasible_plans(nxg, w, k, lo, hi):
        for p in parts:
            for centre in p:  # any member may be the centre
                assert keep[p, centre].all(), (p, centre)


def test_length_fixing_does_remove_pairs() -> None:
    removed = 0
    for seed, k, tol in CASES:
        g, _ = random_graph(9, seed)
        w = weights(9, seed)
        lo, hi = w.sum() / k * (1 - tol), w.sum() / k * (1 + tol)
        keep, _ = length_fixing(g, [Band(w, lo, hi)], np.arange(9))
        removed += int((~keep).sum())
    assert removed > 50


@pytest.mark.parametrize(("seed", "k", "tol"), CASES)
def test_length_bounded_rows_cut_off_no_feasible_plan(seed: int, k: int, tol: float) -> None:
    """Rows from disconnected plans (greenfield form: territory = its centre unit), checked
    against every contiguous plan within the band and every centre it could have."""
    n = 9
    g, nxg = random_graph(n, seed)
    w = weights(n, seed)
    lo, hi = w.sum() / k * (1 - tol), w.sum() / k * (1 + tol)
    budget = Budget(w, np.full(n, hi))
    plain, bounded = [], []
    rng = np.random.default_rng(seed)
    for _ in range(60):
        centres = rng.choice(n, k, replace=False)
        assign = centres[rng.integers(0, k, n)]
        assign[centres] = centres
        kw = {"roots": np.arange(n), "weight": w, "centre_of": np.arange(n)}
        plain += find_cuts(g, assign, n, **kw)
        bounded += find_cuts(g, assign, n, budget=budget, **kw)
    assert bounded, "some random plans are disconnected"
    plans = list(feasible_plans(nxg, w, k, lo, hi))
    for cut in bounded:
        assert cut.b == -1
        for parts in plans:
            for p in parts:
                if cut.t in p and cut.a in p:
                    assert np.isin(cut.separator, p).any(), (cut, p)
    # never larger than the plain rows
    assert sum(len(c.separator) for c in bounded) <= sum(len(c.separator) for c in plain)


def test_length_bounded_rows_are_smaller_somewhere() -> None:
    smaller = 0
    for seed, k, tol in CASES:
        g, _ = random_graph(9, seed)
        w = weights(9, seed)
        hi = w.sum() / k * (1 + tol)
        rng = np.random.default_rng(seed)
        for _ in range(30):
            centres = rng.choice(9, k, replace=False)
            assign = centres[rng.integers(0, k, 9)]
            assign[centres] = centres
            kw = {"roots": np.arange(9), "weight": w, "centre_of": np.arange(9)}
            plain = {(c.t, c.a): len(c.separator) for c in find_cuts(g, assign, 9, **kw)}
            budget = Budget(w, np.full(9, hi))
            for c in find_cuts(g, assign, 9, budget=budget, **kw):
                assert len(c.separator) <= plain[c.t, c.a]
                smaller += len(c.separator) < plain[c.t, c.a]
    assert smaller > 0


@pytest.mark.parametrize("seed", range(4))
def test_two_point_rows_cut_off_no_feasible_plan(seed: int) -> None:
    """Fixed territories without a root: ``x[a,t] + x[b,t] - sum_C x[c,t] <= 1``."""
    n, k, tol = 8, 2, 0.1
    g, nxg = random_graph(n, seed)
    w = weights(n, seed)
    lo, hi = w.sum() / k * (1 - tol), w.sum() / k * (1 + tol)
    budget = Budget(w, np.full(k, hi))
    rng = np.random.default_rng(seed)
    cuts = []
    for _ in range(40):
        cuts += find_cuts(g, rng.integers(0, k, n), k, weight=w, budget=budget)
    assert cuts
    plans = list(feasible_plans(nxg, w, k, lo, hi))
    for cut in cuts:
        assert cut.b >= 0
        for parts in plans:
            for p in (parts, parts[::-1]):  # either labelling
                part = p[cut.t]
                if cut.a in part and cut.b in part:
                    assert np.isin(cut.separator, part).any()
