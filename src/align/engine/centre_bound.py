"""A Lagrangian lower bound for the balanced p-median (greenfield) too large for the exact model.

The model of :func:`.districts.hess_model` with the assignment rows ``sum_c x[i,c] = 1`` moved
into the objective with multipliers ``u``, the lower bands, the centres' own pairs and
integrality dropped (each a relaxation, so every value is a valid bound)::

    L(u) = sum_i u_i + sum of the p smallest g_c(u)
    g_c(u) = min { sum_i (cost[i,c] - u_i) x_i : sum_i v_i x_i <= hi, 0 <= x_i <= 1, x_c = 1 }

``g_c`` is the centre's own pair plus a fractional knapsack: the units of negative reduced cost,
most negative per unit of the balanced column first, until the band's top is full. ``u``
follows subgradient steps (Polyak's rule towards the incumbent's objective). Contiguity only
adds rows, so the bound holds for the contiguous problem as well.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def centre_bound(
    cost: FloatArray,
    values: FloatArray,
    hi: float,
    count: int,
    *,
    centres: NDArray[np.int64],
    upper: float,
    seconds: float,
    iterations: int = 500,
    prices: FloatArray | None = None,
) -> float:
    """The best ``L(u)`` found within ``seconds`` (or ``iterations``), at least 0: a bound on the
    cost of every plan of ``count`` territories (centres among ``cost``'s columns) whose
    ``values`` total at most ``hi`` each. ``upper`` is the cost of a known plan (the target of
    the steps). ``cost`` is (n, k), non-negative; ``centres[c]`` the unit of column c.
    ``prices`` starts ``u`` (each unit's cost in the known plan is a good start)."""
    deadline = time.perf_counter() + seconds
    n, k = cost.shape
    v = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
    tiny = 1e-12 * max(float(v.max(initial=0.0)), 1.0)
    # start: every unit's price its cost to its (count)-th nearest candidate
    if prices is not None:
        u = np.asarray(prices, dtype=np.float64).copy()
    else:
        u = np.partition(cost, min(count, k - 1), axis=1)[:, min(count, k - 1)].astype(float)
    best = -np.inf
    step = 2.0
    since = 0
    for _ in range(iterations):
        if time.perf_counter() >= deadline:
            break
        value, sub = _lagrangian(cost, v, hi, count, u, tiny, centres)
        if value > best + 1e-12 * abs(best if np.isfinite(best) else 1.0):
            best, since = value, 0
        else:
            since += 1
            if since >= 15:
                step, since = step / 2, 0
        norm = float(sub @ sub)
        if norm <= 0 or best >= upper:
            break
        u = u + step * (upper - value) / norm * sub
    return max(float(best), 0.0)  # costs are non-negative: 0 is a bound too


def _lagrangian(
    cost: FloatArray,
    v: FloatArray,
    hi: float,
    count: int,
    u: FloatArray,
    tiny: float,
    centres: NDArray[np.int64],
) -> tuple[float, FloatArray]:
    """``L(u)`` and its subgradient ``1 - sum_{c open} x[i,c]``."""
    n, k = cost.shape
    neg = cost < u[:, None]
    neg[centres, np.arange(k)] = False  # the centre's own pair: always in, counted below
    ii, cc = np.nonzero(neg)
    r = cost[ii, cc] - u[ii]
    vv = v[ii]
    order = np.lexsort((r / np.maximum(vv, tiny), cc))
    ii, cc, r, vv = ii[order], cc[order], r[order], vv[order]
    cum = np.cumsum(vv)
    starts = np.searchsorted(cc, np.arange(k))
    room = hi - v[centres]  # (k,) the top less the centre's own value
    before = cum - vv - np.r_[0.0, cum][starts[cc]]  # the column's total before this unit
    take = np.where(vv > tiny, np.clip((room[cc] - before) / np.maximum(vv, tiny), 0.0, 1.0), 1.0)
    take = np.where(room[cc] < 0, 0.0, take)
    g = np.bincount(cc, weights=r * take, minlength=k) + cost[centres, np.arange(k)] - u[centres]
    g = np.where(room < 0, np.inf, g)  # a centre heavier than the band opens no territory
    open_ = np.argsort(g, kind="stable")[:count]
    value = float(u.sum() + g[open_].sum())
    is_open = np.zeros(k, dtype=bool)
    is_open[open_] = True
    on = is_open[cc]
    sub = np.asarray(1.0 - np.bincount(ii[on], weights=take[on], minlength=n), dtype=np.float64)
    sub[centres[open_]] -= 1.0
    return value, sub
