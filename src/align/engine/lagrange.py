"""The Lagrangian dual of the band rows: a bound and prices without the monolithic LP.

Relaxing every band (and the moved cap) with multipliers ``y`` leaves one choice per account:

    L(y) = sum_i min_j (c_ij - sum_k v_ki y_k[j] - lam mu_i [j = cur(i)])
           + sum_bands min(y lo, y hi) + lam K

Every ``y`` (with ``lam >= 0`` and ``y <= 0`` on one-sided capacity rows) gives a valid lower
bound of the alignment problem, and the maximum equals the LP relaxation's value. Evaluating it
is one pass over the candidate pairs (flat arrays grouped by account), so it scales linearly where
the simplex method on the LP does not.

The maximum is found on the entropy-smoothed dual (the soft minimum at temperature ``tau``,
which is differentiable: its gradient is the band load of the soft assignment), with L-BFGS-B
over a falling sequence of temperatures, warm-started. The exact ``L`` is tracked at every
evaluation and the best ``y`` kept: the bound never depends on the smoothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .formulation import FloatArray, IntArray, Problem, RuleDuals, unique_pairs
from .pricing import price

TEMPERATURES = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003)  # in units of the typical cost margin
STAGE_ITERATIONS = 60  # L-BFGS-B iterations per temperature at most
Z_CAP = 100.0  # largest multiplier, in typical cost margins per mean account: bounds the ascent
# while the candidates alone admit no plan (the LP then needs priced pairs); optimal multipliers
# of the sample scenarios stay within +-20


@dataclass
class Pairs:
    """Candidate pairs, flat and grouped by account (``unique_pairs`` order): every
    per-account minimum or sum is one ``reduceat`` over ``starts``."""

    row: IntArray  # (P,) account of each pair
    pj: IntArray  # (P,) territory
    C: FloatArray  # (P,) scaled cost
    kept: FloatArray  # (P,) moved-row coefficient (mu_i / moved_scale where pj is today's) or 0
    groups: list[IntArray]  # per resource: band of each pair (pj, or the region of pj)
    vals: list[FloatArray]  # per resource: the value of each pair's account (scaled)
    starts: IntArray  # first pair of every account

    def row_min(self, R: FloatArray) -> FloatArray:
        return np.minimum.reduceat(R, self.starts)

    def row_sum(self, R: FloatArray) -> FloatArray:
        return np.add.reduceat(R, self.starts)

    def argmin(self, R: FloatArray) -> IntArray:
        """The pair (index into the flat arrays) of every row's minimum (the first on ties)."""
        at = np.flatnonzero(R == self.row_min(R)[self.row])
        return at[np.r_[True, self.row[at][1:] != self.row[at][:-1]]]


def pairs_of(problem: Problem, pi: IntArray, pj: IntArray) -> Pairs:
    """The candidate pairs (sorted by account, as :func:`unique_pairs` returns them)."""
    counts = np.bincount(pi, minlength=problem.n)
    assert (counts > 0).all(), "every account needs a candidate pair"
    kept = np.zeros(len(pi))
    if problem.moved_min_kept is not None:
        stay = problem.current[pi] == pj
        kept[stay] = problem.measure[pi[stay]] / problem.moved_scale
    return Pairs(
        row=pi,
        pj=pj,
        C=problem.pair_costs(pi, pj) / problem.cost_scale,
        kept=kept,
        groups=[pj if r.group is None else r.group[pj] for r in problem.resources],
        vals=[r.values[pi] for r in problem.resources],
        starts=np.r_[0, np.cumsum(counts)[:-1]],
    )


@dataclass
class Dual:
    """Multipliers of the band rows and the moved row, with the bound they prove."""

    resource: list[FloatArray]  # per resource, one per band (territory or region)
    moved: float
    value: float  # L(y) over the candidate pairs (scaled)
    evaluations: int = 0

    def rule_duals(self, account: FloatArray) -> RuleDuals:
        return RuleDuals(account, [y.copy() for y in self.resource], self.moved)


@dataclass
class _Best:
    value: float
    z: FloatArray
    evals: int = 0


class _Space:
    """The vector z of the optimiser and its map to the multipliers.

    z holds, per resource, the non-negative parts y+ (rows ``>= lo``) and y- (rows ``<= hi``),
    then lam; each block is scaled by the mean coefficient so that z is in cost units.
    """

    def __init__(self, problem: Problem, cap: float = math.inf):
        self.problem = problem
        self.sizes = [len(r.lo) for r in problem.resources]
        self.scales = [float(np.mean(np.abs(r.values))) or 1.0 for r in problem.resources]
        self.capped = problem.moved_min_kept is not None
        mu = problem.measure[problem.current >= 0] / problem.moved_scale
        self.moved_scale = float(mu.mean()) if self.capped and len(mu) and mu.mean() > 0 else 1.0
        bounds: list[tuple[float, float]] = []
        lin: list[FloatArray] = []
        for r, s in zip(problem.resources, self.scales, strict=True):
            lo_ok, hi_ok = np.isfinite(r.lo), np.isfinite(r.hi)
            bounds += [(0.0, cap if ok else 0.0) for ok in lo_ok]
            bounds += [(0.0, cap if ok else 0.0) for ok in hi_ok]
            lin += [np.where(lo_ok, r.lo, 0.0) / s, -np.where(hi_ok, r.hi, 0.0) / s]
        if self.capped:
            bounds.append((0.0, cap))
            lin.append(np.array([float(problem.moved_min_kept) / self.moved_scale]))  # type: ignore[arg-type]
        self.bounds = bounds
        self.lin = np.concatenate(lin) if lin else np.zeros(0)
        self.size = len(bounds)

    def split(self, z: FloatArray) -> tuple[list[FloatArray], float]:
        ys, at = [], 0
        for b, s in zip(self.sizes, self.scales, strict=True):
            ys.append((z[at : at + b] - z[at + b : at + 2 * b]) / s)
            at += 2 * b
        lam = float(z[at]) / self.moved_scale if self.capped else 0.0
        return ys, lam

    def join(self, ys: list[FloatArray], lam: float) -> FloatArray:
        parts = []
        for y, s in zip(ys, self.scales, strict=True):
            parts += [np.maximum(y, 0.0) * s, np.maximum(-y, 0.0) * s]
        if self.capped:
            parts.append(np.array([max(lam, 0.0) * self.moved_scale]))
        z = np.concatenate(parts) if parts else np.zeros(0)
        lo = np.array([b[0] for b in self.bounds])
        hi = np.array([b[1] for b in self.bounds])
        return np.clip(z, lo, hi)


def reduced(pairs: Pairs, ys: list[FloatArray], lam: float) -> FloatArray:
    """Lagrangian cost of every candidate pair."""
    R = pairs.C.copy()
    for v, g, y in zip(pairs.vals, pairs.groups, ys, strict=True):
        R -= v * y[g]
    if lam:
        R -= lam * pairs.kept
    return R


def cost_margin(pairs: Pairs) -> float:
    """The median gap between an account's cheapest and second-cheapest candidate (scaled):
    the scale of the prices that move accounts, and of the smoothing temperatures."""
    C = pairs.C.copy()
    first = pairs.row_min(C)
    C[pairs.argmin(C)] = np.inf
    gap = pairs.row_min(C) - first
    gap = gap[np.isfinite(gap) & (gap > 0)]
    return float(np.median(gap)) if len(gap) else 1.0


def band_term(problem: Problem, ys: list[FloatArray], lam: float) -> float:
    """sum_bands min(y lo, y hi) + lam K: the multipliers' share of L(y)."""
    total = 0.0
    for r, y in zip(problem.resources, ys, strict=True):
        side = np.where(y >= 0, r.lo, r.hi)
        total += float(np.sum(np.where(y != 0, y * side, 0.0)))
    if problem.moved_min_kept is not None:
        total += lam * float(problem.moved_min_kept)
    return total


def ascend(
    problem: Problem,
    pairs: Pairs,
    *,
    deadline: Callable[[], float],
    start: Dual | None = None,
    temperatures: tuple[float, ...] = TEMPERATURES,
    iterations: int = STAGE_ITERATIONS,
) -> Dual:
    """Maximise L over the multipliers (smoothed, L-BFGS-B); the best exact L found.

    ``deadline()`` returns the seconds left for this phase; the ascent stops at 0 with the best
    multipliers so far (any of them proves its bound).
    """
    if start is not None and deadline() <= 0:  # no time: the bound of the given multipliers
        low = pairs.row_min(reduced(pairs, start.resource, start.moved))
        value = float(low.sum()) + band_term(problem, start.resource, start.moved)
        return Dual(start.resource, start.moved, value, 1)
    unit = cost_margin(pairs)
    space = _Space(problem, cap=Z_CAP * unit)
    z0 = np.zeros(space.size) if start is None else space.join(start.resource, start.moved)
    best = _Best(-math.inf, z0.copy())
    kept_any = problem.moved_min_kept is not None

    class _Stop(Exception):
        pass

    def fun(z: FloatArray, tau: float) -> tuple[float, FloatArray]:
        ys, lam = space.split(z)
        R = reduced(pairs, ys, lam)
        low = pairs.row_min(R)
        exact = float(low.sum()) + band_term(problem, ys, lam)
        best.evals += 1
        if exact > best.value:
            best.value, best.z = exact, z.copy()
        R -= low[pairs.row]
        R *= -1.0 / tau
        P = np.exp(R, out=R)
        S = pairs.row_sum(P)
        soft = float((low - tau * np.log(S)).sum())
        P /= S[pairs.row]
        grad = []
        blocks = zip(
            problem.resources, pairs.vals, pairs.groups, space.sizes, space.scales, strict=True
        )
        for r, v, g, b, s in blocks:
            load = np.bincount(g, P * v, minlength=b)
            grad += [(np.where(np.isfinite(r.lo), r.lo, 0.0) - load) / s]
            grad += [(load - np.where(np.isfinite(r.hi), r.hi, 0.0)) / s]
        if kept_any:
            grad.append(
                np.array([(float(problem.moved_min_kept) - float(P @ pairs.kept))  # type: ignore[arg-type]
                          / space.moved_scale])
            )  # fmt: skip
        value = soft + float(space.lin @ z)
        if deadline() <= 0:
            raise _Stop
        return -value, -np.concatenate(grad)

    z = z0
    for tau in np.asarray(temperatures) * unit:
        try:
            res = minimize(
                fun, z, args=(tau,), jac=True, method="L-BFGS-B", bounds=space.bounds,
                options={"maxiter": iterations, "maxcor": 20},
            )  # fmt: skip
            z = res.x
        except _Stop:
            break
    ys, lam = space.split(best.z)
    return Dual(ys, lam, best.value, best.evals)


def dual_bound(
    problem: Problem,
    pi: IntArray,
    pj: IntArray,
    *,
    deadline: Callable[[], float],
    rounds: int = 8,
    temperatures: tuple[float, ...] = TEMPERATURES,
    iterations: int = STAGE_ITERATIONS,
    start: Dual | None = None,
) -> tuple[Dual, float, IntArray, IntArray]:
    """Maximise L with pricing: ascend over the candidates, price the pruned pairs at the best
    multipliers, add those that beat an account's candidates, ascend again.

    Returns the multipliers, the bound they prove for the whole problem (scaled: L over the
    candidates plus the pricing shortfall), and the candidate pairs grown by pricing.
    With ``start`` and a deadline already passed: the bound of those multipliers (after
    pricing what they bring in).
    """
    dual = start
    bound = -math.inf
    temps = temperatures
    if dual is not None:  # prices from elsewhere: bring in what they price first
        pairs = pairs_of(problem, pi, pj)
        low = pairs.row_min(reduced(pairs, dual.resource, dual.moved))
        new_i, new_j, _ = price(problem, dual.rule_duals(low), pi, pj)
        pi, pj = unique_pairs(np.r_[pi, new_i], np.r_[pj, new_j], problem.m)
    for _ in range(rounds):
        pairs = pairs_of(problem, pi, pj)
        dual = ascend(
            problem, pairs, deadline=deadline, start=dual, temperatures=temps, iterations=iterations
        )
        low = pairs.row_min(reduced(pairs, dual.resource, dual.moved))
        new_i, new_j, shortfall = price(problem, dual.rule_duals(low), pi, pj)
        bound = max(bound, dual.value + shortfall)
        if not len(new_i) or deadline() <= 0:
            break
        pi, pj = unique_pairs(np.r_[pi, new_i], np.r_[pj, new_j], problem.m)
        temps = temps[len(temps) // 2 :]
    assert dual is not None
    return dual, bound, pi, pj
