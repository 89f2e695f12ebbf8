"""Plans that break a band: measure the violation, and repair it by single moves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .formulation import BoolArray, FloatArray, IntArray, Problem, Resource

SLACK_COST = 1e6  # scaled cost of one mean target of band slack in the LP (big M)
SLACK_TOL = 1e-7  # slack left in an elastic answer (or a repaired plan): not a plan


def _violation(r: Resource, load: FloatArray) -> FloatArray:
    return np.asarray(np.maximum(load - r.hi, 0.0) + np.maximum(r.lo - load, 0.0))


def repair_moves(
    problem: Problem,
    pi: np.ndarray,
    pj: np.ndarray,
    assign: np.ndarray,
    *,
    rounds: int = 200,
    stop: Callable[[], bool] = lambda: False,
    costs: FloatArray | None = None,
) -> tuple[np.ndarray, float]:
    """Greedy single moves along candidate pairs that reduce the band and cap violations.

    Each round scores every move out of or into a territory that violates a band by the elastic
    objective (scaled cost change + SLACK_COST x violation change) and makes the best moves that
    touch distinct territories (and, together, do not break the moved cap). Returns the plan and
    its remaining total violation (scaled). No new round starts once ``stop()`` is true.
    ``costs``: the pairs' unscaled costs (``problem.pair_costs(pi, pj)``), when the caller
    has them.
    """
    assign = assign.copy()
    # the pairs' costs and each account's where it is, once: not a distance per move per round
    pair_cost = problem.pair_costs(pi, pj) if costs is None else costs
    own = problem.pair_costs(np.arange(problem.n), assign)
    m = problem.m
    cs = problem.cost_scale
    cur = problem.current
    capped = problem.moved_min_kept is not None
    has_cur = cur >= 0
    for _ in range(rounds):
        if stop():
            break
        loads = [r.load(assign, m) for r in problem.resources]
        bad = np.zeros(m, dtype=bool)
        total = 0.0
        for r, load in zip(problem.resources, loads, strict=True):
            v = _violation(r, load)
            total += float(v.sum())
            hit = v > 1e-12
            bad |= hit if r.group is None else hit[r.group]
        kept = 0.0
        if capped:
            kept = float(problem.measure[has_cur & (cur == assign)].sum()) / problem.moved_scale
            short = max(problem.moved_min_kept - kept, 0.0)  # type: ignore[operator]
            total += short
        if total <= SLACK_TOL:
            return assign, total
        a_all = assign[pi]
        sel = (pj != a_all) & (bad[a_all] | bad[pj])
        if capped and short > 0:
            sel |= (pj == cur[pi]) & (a_all != pj)
        at = np.flatnonzero(sel)
        ci, cb = pi[at], pj[at]
        if not len(ci):
            return assign, total
        ca = assign[ci]
        dv = np.zeros(len(ci))
        for r, load in zip(problem.resources, loads, strict=True):
            v = r.values[ci]
            ga, gb = (ca, cb) if r.group is None else (r.group[ca], r.group[cb])
            # per band, once: how far over its top and under its bottom (at most one is > 0),
            # so a move's change is max(over - v, under + v, 0) - violation at each end
            over, under = load - r.hi, r.lo - load
            now = np.maximum(over, 0.0) + np.maximum(under, 0.0)
            ends = []
            for g, sv in ((ga, -v), (gb, v)):
                x, y = over[g], under[g]
                x += sv
                y -= sv
                np.maximum(x, y, out=x)
                np.maximum(x, 0.0, out=x)
                x -= now[g]
                ends.append(x)
            ends[0] += ends[1]
            if r.group is not None:  # a move within one group changes nothing of its band
                ends[0][ga == gb] = 0.0
            dv += ends[0]
        if capped:
            mk = problem.measure[ci] / problem.moved_scale
            dk = np.where(cur[ci] == cb, mk, 0.0) - np.where(cur[ci] == ca, mk, 0.0)
            lo_k = problem.moved_min_kept
            dv += np.maximum(lo_k - kept - dk, 0) - np.maximum(lo_k - kept, 0)  # type: ignore[operator]
        to = pair_cost[at]
        dc = (to - own[ci]) / cs
        score = dc + SLACK_COST * dv
        good = np.flatnonzero((dv < -1e-12) & (score < 0))
        if not len(good):
            return assign, total
        good = good[np.argsort(score[good], kind="stable")]
        touched = np.zeros(m, dtype=bool)
        moved_any = False
        for q in good[: 4 * m]:
            a, b = ca[q], cb[q]
            if touched[a] or touched[b] or assign[ci[q]] != a:
                continue
            if capped and moved_any and dk[q] < 0 and kept + dk[q] < lo_k - 1e-12:  # type: ignore[operator]
                continue  # the cap is one row shared by every move: never overdrawn together
            assign[ci[q]] = b
            own[ci[q]] = to[q]
            touched[a] = touched[b] = True
            moved_any = True
            if capped:
                kept += float(dk[q])
        if not moved_any:
            return assign, total
    loads = [r.load(assign, m) for r in problem.resources]
    pairs = zip(problem.resources, loads, strict=True)
    total = sum(float(_violation(r, load).sum()) for r, load in pairs)
    return assign, total + moved_shortfall(problem, assign)


def near_violations(
    problem: Problem, pi: np.ndarray, pj: np.ndarray, assign: np.ndarray
) -> np.ndarray:
    """Accounts in, or with a candidate pair into, a territory whose band a plan violates."""
    bad = np.zeros(problem.m, dtype=bool)
    for r in problem.resources:
        load = r.load(assign, problem.m)
        out = (load > r.hi + 1e-9) | (load < r.lo - 1e-9)
        bad |= out if r.group is None else out[r.group]
    near = bad[assign]
    near[pi[bad[pj]]] = True
    if moved_shortfall(problem, assign) > 1e-9:
        cur = problem.current
        near |= (cur >= 0) & (cur != assign)
    return np.asarray(near, dtype=bool)


def _fits(
    problem: Problem, loads: list[np.ndarray], a: np.ndarray, b: np.ndarray, v: list[np.ndarray]
) -> np.ndarray:
    """Whether moving ``v[r]`` (per resource, signed: out of ``a``, into ``b``) keeps both bands."""
    ok = np.ones(len(a), dtype=bool)
    for r, load, dv in zip(problem.resources, loads, v, strict=True):
        ga, gb = (a, b) if r.group is None else (r.group[a], r.group[b])
        same = ga == gb
        la, lb = load[ga] - dv, load[gb] + dv
        ok &= same | ((la >= r.lo[ga] - BAND_EPS) & (la <= r.hi[ga] + BAND_EPS))
        ok &= same | ((lb >= r.lo[gb] - BAND_EPS) & (lb <= r.hi[gb] + BAND_EPS))
    return ok


PRICE_STEP = 0.05  # first price step of a band, in typical costs per unit of its resource
PRICE_INNER = (0.25, 0.4, 0.1)  # share of a band's width on each side prices steer from
PRICE_PATIENCE = 150  # rounds without a better rounding before the repair takes over
PRICE_REPAIRS = 3  # roundings repaired at most
PRICE_DECAY = 0.998  # the moved cap's price step decays by this each round
BAND_EPS = 1e-9  # scaled: a band counts as kept within this
CHAIN_MAX = 1_000_000  # two-leg moves scored per round, at most (memory: ~100 bytes each)
CHAIN_LEGS = 24  # second legs tried out of each territory: its cheapest moves


def _argsort_stable(x: FloatArray) -> IntArray:
    """``np.argsort(x, kind="stable")``, by the faster unstable sort where no two values tie and
    none is NaN (the order is then the same)."""
    order = np.argsort(x)
    s = x[order]
    if len(s) < 2 or ((s[1:] != s[:-1]).all() and not np.isnan(s[-1])):
        return order
    return np.argsort(x, kind="stable")


@dataclass
class _Ends:
    """What each move (an account: a -> b) does to its own two territories, worked out once
    per round and shared by the shifts and the chains: per resource the load a is left with
    and the load b gets, and whether every band of a (``leaves``) and of b (``joins``) holds."""

    out_a: list[FloatArray]
    in_b: list[FloatArray]
    leaves: BoolArray
    joins: BoolArray


def _ends(
    problem: Problem, loads: list[np.ndarray], oa: IntArray, ob: IntArray, vals: list[FloatArray]
) -> _Ends:
    """:class:`_Ends` of the moves ``oa -> ob`` (bands of single territories only)."""
    ends = _Ends([], [], np.ones(len(oa), dtype=bool), np.ones(len(oa), dtype=bool))
    for r, load, v in zip(problem.resources, loads, vals, strict=True):
        lo, hi = r.lo - BAND_EPS, r.hi + BAND_EPS
        out_a = load[oa] - v
        in_b = load[ob] + v
        ends.leaves &= (out_a >= lo[oa]) & (out_a <= hi[oa])
        ends.joins &= (in_b >= lo[ob]) & (in_b <= hi[ob])
        ends.out_a.append(out_a)
        ends.in_b.append(in_b)
    return ends


def _fits_chain(
    problem: Problem,
    ends: _Ends,
    oa: IntArray,
    ob: IntArray,
    vals: list[FloatArray],
    f: IntArray,
    g: IntArray,
) -> BoolArray:
    """Whether the move f (account i: a -> b) then the move g (account k: b -> c; c may be a: a
    swap) keep the bands of a, b and c. ``ends``, ``oa``, ``ob``, ``vals``: each move's own two
    territories and the account's values (what a move does there is worked out once per move,
    not once per chain)."""
    a, b, c = oa[f], ob[f], ob[g]
    back = c == a
    swap = np.flatnonzero(back)
    ok: BoolArray = back | (ends.leaves[f] & ends.joins[g])
    for r, out_a, in_b, v in zip(problem.resources, ends.out_a, ends.in_b, vals, strict=True):
        lo, hi = r.lo - BAND_EPS, r.hi + BAND_EPS
        vk = v[g]
        new = in_b[f] - vk
        ok &= (new >= lo[b]) & (new <= hi[b])
        new = out_a[f[swap]] + vk[swap]  # a swap: k comes back to a
        ok[swap] &= (new >= lo[a[swap]]) & (new <= hi[a[swap]])
    return ok


def local_search(
    problem: Problem,
    pi: np.ndarray,
    pj: np.ndarray,
    assign: np.ndarray,
    *,
    rounds: int = 60,
    deadline: float = np.inf,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[np.ndarray, int]:
    """Improve a plan by shift and swap moves along candidate pairs that keep every band.

    A shift moves one account to another of its candidate territories; a swap exchanges two
    accounts between two territories (each a candidate of the other's). Each round scores every
    shift and every swap whose first leg lowers the cost, vectorised, and makes the best ones
    that touch distinct territories (and keep the moved cap). Returns the plan and the moves made.
    ``deadline``: a ``time.perf_counter()`` value after which no new round starts (nor once
    ``stop()`` is true).
    """
    import time

    assign = assign.copy()
    m = problem.m
    cur = problem.current
    capped = problem.moved_min_kept is not None
    mk = problem.measure / problem.moved_scale if capped else None
    grouped = any(r.group is not None for r in problem.resources)
    cost_of = problem.pair_costs(pi, pj)
    made = 0
    for _ in range(rounds):
        if time.perf_counter() > deadline or stop():
            break
        loads = [r.load(assign, m) for r in problem.resources]
        ca = assign[pi]
        here = problem.pair_costs(np.arange(problem.n), assign)
        at = pj == ca
        other = np.flatnonzero(~at)
        oi, ob = pi[other], pj[other]
        oa = assign[oi]
        d1 = cost_of[other] - here[oi]
        vals = [r.values[oi] for r in problem.resources]
        kept = 0.0
        dk1 = np.zeros(len(oi))
        if capped:
            assert mk is not None
            kept = float(mk[(cur >= 0) & (cur == assign)].sum())
            dk1 = np.where(cur[oi] == ob, mk[oi], 0.0) - np.where(cur[oi] == oa, mk[oi], 0.0)
        # shifts
        ends = None if grouped else _ends(problem, loads, oa, ob, vals)
        fit = _fits(problem, loads, oa, ob, vals) if ends is None else ends.leaves & ends.joins
        ok = (d1 < -1e-9) & fit
        if capped:
            ok &= kept + dk1 >= problem.moved_min_kept - 1e-9  # type: ignore[operator]
        s_idx = np.flatnonzero(ok)
        moves_gain = [d1[s_idx]]
        moves_a = [oi[s_idx]]
        moves_b = [np.full(len(s_idx), -1)]  # second account of a swap (-1: a shift)
        moves_ta, moves_tb, moves_tc = [oa[s_idx]], [ob[s_idx]], [np.full(len(s_idx), -1)]
        moves_dk = [dk1[s_idx]]
        # chains: a first leg i: a -> b that lowers the cost, a second leg k: b -> c out of its
        # target (c = a: a swap); bands over groups of territories get shifts only
        first = np.flatnonzero(d1 < -1e-9)
        if len(first) and ends is not None:  # bands of single territories
            # the moves by gain once; second legs by territory (a radix sort), its CHAIN_LEGS best
            by_gain = _argsort_stable(d1)
            first = by_gain[d1[by_gain] < -1e-9]
            order = by_gain[np.argsort(oa[by_gain].astype(np.min_scalar_type(m)), kind="stable")]
            runs = np.bincount(oa, minlength=m)  # each territory's run of moves in ``order``
            rank = np.arange(len(order)) - (np.cumsum(runs) - runs)[oa[order]]
            order = order[rank < CHAIN_LEGS]
            runs = np.minimum(runs, CHAIN_LEGS)
            lo_i, cnt = (np.cumsum(runs) - runs)[ob[first]], runs[ob[first]]
            keep = np.cumsum(cnt) <= CHAIN_MAX
            first, lo_i, cnt = first[keep], lo_i[keep], cnt[keep]
            if cnt.sum():
                f = np.repeat(first, cnt)
                starts = np.repeat(lo_i - np.r_[0, np.cumsum(cnt)[:-1]], cnt)
                g = order[np.arange(len(f)) + starts]
                gain = d1[f] + d1[g]
                good = gain < -1e-9
                f, g, gain = f[good], g[good], gain[good]
                fit = _fits_chain(problem, ends, oa, ob, vals, f, g)
                dk = dk1[f] + dk1[g]
                if capped:
                    fit &= kept + dk >= problem.moved_min_kept - 1e-9  # type: ignore[operator]
                f, g, gain, dk = f[fit], g[fit], gain[fit], dk[fit]
                moves_gain.append(gain)
                moves_a.append(oi[f])
                moves_b.append(oi[g])
                moves_ta.append(oa[f])
                moves_tb.append(ob[f])
                moves_tc.append(ob[g])
                moves_dk.append(dk)
        gain = np.concatenate(moves_gain)
        if not len(gain):
            break
        acc_a, acc_b, dk = (np.concatenate(x) for x in (moves_a, moves_b, moves_dk))
        ta, tb, tc = (np.concatenate(x) for x in (moves_ta, moves_tb, moves_tc))
        pick = np.argsort(gain, kind="stable")
        touched = np.zeros(m, dtype=bool)
        moved_now = 0
        for q in pick[: 8 * m]:
            a, b, c = ta[q], tb[q], tc[q]
            if touched[a] or touched[b] or (c >= 0 and touched[c]):
                continue
            if capped and kept + dk[q] < problem.moved_min_kept - 1e-9:  # type: ignore[operator]
                continue
            assign[acc_a[q]] = b
            if acc_b[q] >= 0:
                assign[acc_b[q]] = c
                touched[c] = True
            touched[a] = touched[b] = True
            kept += float(dk[q])
            moved_now += 1
            if grouped:
                break  # a band over several territories: one move at a time
        made += moved_now
        if not moved_now:
            break
    return assign, made


def priced_plan(
    problem: Problem,
    pi: np.ndarray,
    pj: np.ndarray,
    *,
    stop: Callable[[], bool] = lambda: False,
    iterations: int = 2000,
    shares: tuple[float, ...] = PRICE_INNER,
    repairs: int = PRICE_REPAIRS,
) -> tuple[np.ndarray, float]:
    """A plan by Lagrangian rounding: every account to its cheapest candidate at prices on the
    bands (and the moved cap) that rise where a band is over and fall where it is under, then
    greedy repair moves (:func:`repair_moves`) from the least violated roundings; tried again
    with prices steering to a narrower, then a wider middle of each band while none holds
    (``shares``: of a band's width on either side).

    Returns the plan and its remaining violation (scaled; <= SLACK_TOL: every band and the cap
    hold). Candidate pairs carry locks and segment rules, so those always hold. ``stop()``
    ends the work early.
    """
    out, left = None, np.inf
    for share in shares:
        plan, rest = _priced_once(
            problem, pi, pj, stop=stop, iterations=iterations, inner_share=share, repairs=repairs
        )
        if rest < left:
            out, left = plan, rest
        if left <= SLACK_TOL or stop():
            break
    assert out is not None
    return out, left


def _priced_once(
    problem: Problem,
    pi: np.ndarray,
    pj: np.ndarray,
    *,
    stop: Callable[[], bool] = lambda: False,
    iterations: int = 2000,
    inner_share: float = 0.25,
    repairs: int = PRICE_REPAIRS,
) -> tuple[np.ndarray, float]:
    """One Lagrangian rounding and repair (:func:`priced_plan`), prices steering to the
    middle of each band, ``inner_share`` of its width from either side."""

    n, m = problem.n, problem.m
    raw = problem.pair_costs(pi, pj)
    cost = raw / problem.cost_scale
    cheapest = np.full(n, np.inf)
    np.minimum.at(cheapest, pi, cost)
    extra = cost - cheapest[pi]  # what each pair costs beyond the account's cheapest
    capped = problem.moved_min_kept is not None
    cur = problem.current
    stay = (cur[pi] == pj) & (pj >= 0)
    mk = problem.measure[pi] / problem.moved_scale if capped else None
    steps: list[np.ndarray] = []
    prices: list[np.ndarray] = []
    signs: list[np.ndarray] = []
    for r in problem.resources:
        v = r.values[pi]
        pos = (v > 0) & (extra > 0)
        # a price step: the typical cost of moving one unit of the resource to another candidate
        unit = float(np.median(extra[pos] / v[pos])) if pos.any() else 1.0
        steps.append(np.full(len(r.lo), PRICE_STEP * unit))
        prices.append(np.zeros(len(r.lo)))
        signs.append(np.zeros(len(r.lo)))
    cap_price, cap_step = 0.0, 1.0
    if capped:
        assert mk is not None
        pos = (mk > 0) & (extra > 0)
        cap_step = float(np.median(extra[pos] / mk[pos])) if pos.any() else 1.0
    # pairs as a dense (accounts x most candidates) table, padded with +inf, for a fast argmin
    order = np.argsort(pi, kind="stable")
    start = np.searchsorted(pi[order], np.arange(n))
    slot = np.arange(len(pi)) - start[pi[order]]
    table = np.full((n, int(slot.max()) + 1), -1, dtype=np.int64)
    table[pi[order], slot] = order
    pad = table < 0
    # each iteration works on the table alone: its costs, territories and the moved cap's
    # measure of staying, gathered once (a padded slot costs +inf)
    at = np.where(pad, 0, table)
    cost_t = np.where(pad, np.inf, cost[at])
    pj_t = np.where(pad, 0, pj[at])
    stay_t = np.where(stay[at] & ~pad, mk[at], 0.0) if mk is not None else None
    # each account's values repeated along its row: numpy broadcasts a column slowly
    values_t = [np.repeat(r.values[:, None], table.shape[1], axis=1) for r in problem.resources]
    rows = np.arange(n)
    best, best_v = None, np.inf
    rate = 1.0
    best_at = 0
    tried: list[np.ndarray] = []  # the improving roundings, the last one best
    for it in range(iterations):
        if best is not None and stop():
            break
        score = cost_t.copy()
        for r, y, v in zip(problem.resources, prices, values_t, strict=True):
            yj = y if r.group is None else y[r.group]
            score += yj[pj_t] * v
        if stay_t is not None:
            score -= cap_price * stay_t
        assign = pj_t[rows, score.argmin(axis=1)]
        total = 0.0
        for r, y, st, last in zip(problem.resources, prices, steps, signs, strict=True):
            load = r.load(assign, m)
            over = np.maximum(load - r.hi, 0.0)
            under = np.maximum(r.lo - load, 0.0)
            total += float(over.sum() + under.sum())
            # per band, Rprop: the step grows while the violation keeps its sign, halves when
            # it flips; bands that hold keep their price
            # prices steer to the middle half of each band, so lumpy accounts land inside it
            inner = np.where(np.isfinite(r.hi - r.lo), inner_share * (r.hi - r.lo), 0.0)
            high = np.maximum(load - r.hi + inner, 0.0)
            sign = np.sign(high - np.maximum(r.lo + inner - load, 0.0))
            st *= np.where(sign * last > 0, 1.2, np.where(sign * last < 0, 0.5, 1.0))
            y += sign * st
            last[sign != 0] = sign[sign != 0]
        short = 0.0
        if capped:
            short = moved_shortfall(problem, assign)
            total += short
            move = 1.0 if short > 0 else -0.1
            cap_price = max(0.0, cap_price + rate * PRICE_STEP * cap_step * move)
        if total < best_v * (1 - 1e-3):
            best, best_v, best_at = assign, total, it
            tried.append(assign)
        if total <= SLACK_TOL or it - best_at > PRICE_PATIENCE:
            break
        rate *= PRICE_DECAY
    assert best is not None
    if best_v <= SLACK_TOL:
        return best, best_v
    # repair the least violated roundings, best first, until one holds every band
    out, left = best, best_v
    for start in tried[::-1][:repairs]:
        plan, rest = repair_moves(problem, pi, pj, start, rounds=2000, stop=stop, costs=raw)
        if rest < left:
            out, left = plan, rest
        if left <= SLACK_TOL or stop():
            break
    return out, left


HOLD_MARGIN = 1e-6  # relative: how far inside its bands a plan is pushed when it misses one


def band_violation(problem: Problem, assign: np.ndarray) -> float:
    """Largest relative violation of a band or capacity by a plan (0 when all hold)."""
    worst = 0.0
    for r in problem.resources:
        load = r.load(assign, problem.m)
        over = np.where(np.isfinite(r.hi), load - r.hi, 0.0)
        under = np.where(np.isfinite(r.lo), r.lo - load, 0.0)
        worst = max(worst, float(np.max(over)), float(np.max(under)))
    return max(worst, 0.0)


def exact_violation(problem: Problem, assign: np.ndarray) -> float:
    """Largest amount (scaled) by which a whole plan misses a band, a capacity or the moved cap,
    from its own sums: 0 when every rule holds within BAND_EPS (floating-point sums only)."""
    worst = max(band_violation(problem, assign), moved_shortfall(problem, assign))
    return worst if worst > BAND_EPS else 0.0


def kept_measure(problem: Problem, assign: np.ndarray) -> float:
    """The disruption measure (raw) of the accounts a plan keeps in today's territory."""
    cur = problem.current
    return float(problem.measure[(cur >= 0) & (cur == assign)].sum())


def moved_shortfall(problem: Problem, assign: np.ndarray) -> float:
    """How far (scaled) a plan's kept measure falls short of the moved cap's minimum (0 when
    the cap holds or there is none)."""
    if problem.moved_min_kept is None:
        return 0.0
    kept = kept_measure(problem, assign) / problem.moved_scale
    return max(problem.moved_min_kept - kept, 0.0)


def _narrowed(problem: Problem, margin: float) -> Problem:
    """The problem with every band, capacity and the moved cap moved inward by ``margin`` of its
    own size (never past the band's middle)."""
    resources = []
    for r in problem.resources:
        mid = np.where(np.isfinite(r.lo) & np.isfinite(r.hi), (r.lo + r.hi) / 2, np.nan)
        lo = np.where(np.isfinite(r.lo), r.lo + margin * np.abs(r.lo), r.lo)
        hi = np.where(np.isfinite(r.hi), r.hi - margin * np.abs(r.hi), r.hi)
        lo = np.where(np.isnan(mid), lo, np.minimum(lo, mid))
        hi = np.where(np.isnan(mid), hi, np.maximum(hi, mid))
        resources.append(replace(r, lo=lo, hi=hi))
    kept = problem.moved_min_kept
    if kept is not None:
        kept = min(kept + margin * abs(kept), 1.0)
    return replace(problem, resources=resources, moved_min_kept=kept)


def hold_exactly(
    problem: Problem, pi: np.ndarray, pj: np.ndarray, assign: np.ndarray
) -> np.ndarray | None:
    """A plan that keeps every band, capacity and the moved cap from its own sums.

    A plan from a MIP solver or an elastic repair may miss a band by up to the solver's
    feasibility tolerance (1e-6 of a target). Such a plan is moved inside bands narrowed by
    HOLD_MARGIN with the greedy repair, then checked again. Returns the plan as it is when it
    holds, the mended plan, or None when it cannot be mended along the candidate pairs.
    """
    if exact_violation(problem, assign) == 0.0:
        return assign
    for margin in (HOLD_MARGIN, 100 * HOLD_MARGIN):
        mended, _left = repair_moves(_narrowed(problem, margin), pi, pj, assign)
        if exact_violation(problem, mended) == 0.0:
            return mended
    return None
