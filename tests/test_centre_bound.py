"""The Lagrangian bound of greenfield with both ends of the band (src/align/engine/centre_bound.py):
each centre's knapsack against an LP solver, the bound against brute force, and what the band's
bottom adds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from align.engine.centre_bound import _filled, _lagrangian, centre_bound


def banded_pmedian(seed: int) -> tuple[int, np.ndarray, np.ndarray, float, float, float, float]:
    """A random 7-unit p-median, p = 3, every part within +-10% of the mean: the unit values,
    the unit-to-centre costs, the band, the optimum with the band's bottom by enumeration and
    the optimum without it."""
    rng = np.random.default_rng(seed)
    n, p = 7, 3
    xy = rng.random((n, 2))
    v = rng.integers(1, 10, n).astype(float)
    cost = v[:, None] * ((xy[:, None] - xy[None]) ** 2).sum(-1)
    lo, hi = v.sum() / p * 0.9, v.sum() / p * 1.1
    both = top_only = np.inf
    for centres in itertools.combinations(range(n), p):
        for plan in itertools.product(range(p), repeat=n):
            a = np.array(plan)
            load = np.bincount(a, v, p)
            if any(a[c] != j for j, c in enumerate(centres)) or (load > hi).any():
                continue
            value = float(cost[np.arange(n), np.array(centres)[a]].sum())
            top_only = min(top_only, value)
            if (load >= lo).all():
                both = min(both, value)
    return p, v, cost, lo, hi, both, top_only


@pytest.mark.parametrize("seed", range(4))
def test_each_centres_knapsack_with_the_bands_bottom_is_the_lps_optimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    v = rng.uniform(0.0, 3.0, n)
    v[:3] = 0.0  # units of no value take no room
    cost = rng.uniform(0.0, 10.0, (n, n))
    np.fill_diagonal(cost, 0.0)
    u = rng.uniform(0.0, 8.0, n)
    lo, hi = 0.3 * v.sum(), 0.4 * v.sum()
    cols = np.arange(n)
    g, x = _filled(np.ascontiguousarray(cost.T), v, lo, hi, u, 1e-12, cols, cols)
    for c in range(n):
        others = np.flatnonzero(np.arange(n) != c)
        room = (lo - v[c], hi - v[c])
        lp = linprog(
            cost[others, c] - u[others],
            A_ub=np.vstack([v[others], -v[others]]),
            b_ub=[room[1], -room[0]],
            bounds=(0, 1),
        )
        if room[1] < 0 or not lp.success:
            assert g[c] == np.inf
            continue
        assert g[c] == pytest.approx(lp.fun + cost[c, c] - u[c], abs=1e-7)
        # the shares are a solution: within the band, worth g
        assert x[c, c] == 0.0 and ((x[c] >= 0) & (x[c] <= 1)).all()
        assert lo - 1e-9 <= v[c] + x[c] @ v <= hi + 1e-9
        assert x[c] @ (cost[:, c] - u) + cost[c, c] - u[c] == pytest.approx(g[c], abs=1e-7)


def test_the_bands_bottom_raises_the_lagrangian_at_every_multiplier() -> None:
    rng = np.random.default_rng(7)
    n, p = 60, 4
    xy = rng.random((n, 2))
    v = rng.uniform(1.0, 5.0, n)
    cost = v[:, None] * ((xy[:, None] - xy[None]) ** 2).sum(-1)
    lo, hi = v.sum() / p * 0.95, v.sum() / p * 1.05
    cols = np.arange(n)
    cost_t = np.ascontiguousarray(cost.T)
    raised = 0
    for _ in range(20):
        u = rng.uniform(0.0, 0.5, n) * np.median(cost)  # few units pay: the bottom binds
        top, _ = _lagrangian(cost, v, (0.0, hi), p, u, 1e-12, cols)
        both, sub = _lagrangian(cost, v, (lo, hi), p, u, 1e-12, cols, cost_t)
        # by brute force over the exact values: the p smallest, every centre's with the bottom
        g, _ = _filled(cost_t, v, lo, hi, u, 1e-12, cols, cols)
        assert both == pytest.approx(u.sum() + np.sort(g)[:p].sum(), rel=1e-9)
        assert both >= top - 1e-9 * abs(top)
        raised += both > top + 1e-6 * abs(top)
        assert sub.shape == (n,) and sub.max() <= 1.0
    assert raised >= 15  # the bottom binds almost everywhere on a +-5% band


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 7, 8])  # 0, 6, 9: no plan in the band
def test_the_banded_bound_is_below_the_banded_optimum_and_above_the_top_only_bound(
    seed: int,
) -> None:
    p, v, cost, lo, hi, both, _ = banded_pmedian(seed)
    n = len(v)

    def bound(lo: float) -> float:  # the step count ends the ascent: the same steps every run
        return centre_bound(
            cost, v, hi, p, centres=np.arange(n), upper=both * 1.2, seconds=30, lo=lo,
            iterations=3000,
        )  # fmt: skip

    banded = bound(lo)
    assert 0 < banded <= both + 1e-9
    assert banded > bound(0.0) * (1 + 1e-6)  # the same ascent without the bottom stays lower
