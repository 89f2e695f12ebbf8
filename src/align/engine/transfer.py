"""A first plan under a tight moved cap: today's plan, mended by the fewest moves.

Lagrangian rounding moves every account whose price tips, small ones as much as large ones, so
under a moved cap close to the least the bands make move (:func:`.diagnose.least_moved_share`)
it spends the cap on moves that barely help, and the greedy repair cannot win it back. Here the
plan starts from today's and every move is one that pays per unit of the cap:

1. **shed**: while a territory is over a band, its account that sheds the most along its
   excess (in band widths, across it counting against) per unit of the disruption measure,
   and keeps it above its bands' bottoms, moves to the cheapest of the territories under a
   band that it fills best without going over (else to the cheapest with room);
2. **fill**: while a territory is under a band, the account that brings the most per unit of
   the measure (and leaves its own territory inside its bands) moves in, the cheapest of the
   near-best;
3. **swap**: while a territory breaks a band (typically one band kept, another not: workload
   over with potential at its bottom), the swap with another territory that mends it most per
   unit of the measure, the two accounts matched on the band it keeps (on large books, the
   next best swaps of the same scoring too), until the swaps stall; then fill again;
4. **eject**: while a territory is under a band that no account can fill without breaking
   another's top (a whale's territory: potential full, workload short), its account that
   frees most of the full bands leaves (as in the shed) and the territory is filled again.

Moves are made one at a time (the loads change with each); each looks at one territory's
accounts, or one account's row of costs. Shed and fill weigh what a move spends of the moved cap
but do not hold it; swaps never spend more of it than is left, and an eject is undone unless the
cap holds. What a plan still violates, the moved cap included, is returned with it, and only a
plan that violates nothing is used. Pairs used outside the candidate set are returned with the
plan, so the local search can work on them.

The same moves mend a plan that is not today's (``transfer_plan(start=...)``): the Lagrangian
rounding's, where its single-move repair gets stuck (:class:`.first_plan.FirstPlan`). Fill and
swap pick only among the accounts a territory may take, so a one-segment territory short of
accounts is filled from its own segment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .diagnose import least_moved_share
from .formulation import BoolArray, FloatArray, IntArray, Problem
from .repair import exact_violation, kept_measure, moved_shortfall

TIGHT_CAP = 1.15  # a cap below this many times the least moved share is tight
# the first plan mends today's plan before it tries the Lagrangian rounding below this many
# times the least share: the rounding moves more than such a cap allows (whale books at
# 100,000 x 200 under a 15% cap: 31% moved, its repair stuck after a minute)
TRANSFER_FIRST = 2.5
FILL_BEYOND = 1.5  # fill: an account larger than this many times the shortfall is a poor pick
FILL_NEAR = 0.5  # fill: the cheapest of the accounts this close to the best per unit of the cap
# shed: weight of what a move sheds across the excess (against it), one per attempt; a high
# one sheds each band's excess with accounts that carry little of the others (more moves), so
# the swaps that follow have little to mend (whale accounts: a low one sheds the whales, and
# leaves the territories they left over on workload with potential at its bottom)
ALIGN_PENALTIES = (0.8, 1.5, 3.0, 0.6, 1.0, 0.4)
# ... under a moved cap with room (not tight): the high ones first, the cap can afford them
ROOMY_PENALTIES = (1.5, 3.0, 0.8, 0.6, 1.0, 0.4)
PREFER_UNDER = 1e6  # shed: territories under a band come first (scaled cost units)
SHED_NEAR = 1e-9  # shed: accounts this close to the best gain (ties): the cheapest moves
SHED_LOOK = 16  # ... at most this many of them looked at
SWAP_ACCOUNTS = 150  # swap: accounts of the violated territory tried
SWAPS_PER_ROUND = 16  # swap: at most this many swaps made from one scoring of a territory,
SWAP_ROUND_ACCOUNTS = 5_000  # ... one per this many accounts (a scoring costs O(accounts);
# on small books one swap a round makes the better plans)
SWAP_POOL = 8  # ... from this many times as many of its best-scored swaps
SWAP_CHECK = 64  # swap: every this many rounds, stop unless the total violation fell
SWAP_STALL = 0.01  # ... by at least this share since the last check
EJECT_TRIES = 4  # eject: accounts of a territory tried, the ones that free most first
EJECT_MOST = 8  # eject: only where at most this many territories are out of band


_GUARD = threading.Lock()
_SLOT = "_transfer_slot"  # a problem's shared transfer plan (see shared_transfer_plan)


def shared_transfer_plan(
    problem: Problem,
    pi: IntArray,
    pj: IntArray,
    *,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[IntArray, float, tuple[IntArray, IntArray]]:
    """:func:`transfer_plan`, made once per problem and candidate set: the first plan (in its
    thread) and the decomposed path both ask for it, and the second waits for the first
    rather than make it again beside it (the work holds the GIL). A plan not found because
    ``stop()`` came is not kept."""
    with _GUARD:
        slot = problem.__dict__.setdefault(_SLOT, {"lock": threading.Lock(), "key": None})
    with slot["lock"]:
        # the arrays themselves are kept (not their ids, which a new array could reuse)
        held = slot["key"]
        if held is not None and held[0] is pi and held[1] is pj:
            return slot["out"]  # type: ignore[no-any-return]
        out = transfer_plan(problem, pi, pj, stop=stop)
        if out[1] == 0 or not stop():
            slot["key"], slot["out"] = (pi, pj), out
        return out


def cap_is_tight(problem: Problem, factor: float = TIGHT_CAP) -> bool:
    """Whether the moved cap allows less than ``factor`` times the least share the bands make
    move (:func:`.diagnose.least_moved_share`): where a plan must be made from today's."""
    if problem.moved_min_kept is None:
        return False
    return 1 - problem.moved_min_kept < factor * least_moved_share(problem)


@dataclass
class _Book:
    """A plan being mended and its band loads: ``k`` ungrouped resources by ``m`` territories."""

    assign: IntArray  # (n,) territory of every account (changed in place)
    loads: FloatArray  # (k, m)
    values: FloatArray  # (k, n)
    lo: FloatArray  # (k, m)
    hi: FloatArray
    width: FloatArray  # (k, 1) mean band width of each resource
    movable: np.ndarray  # (n,) bool: not locked, placed

    def unpack(
        self,
    ) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray]:
        return self.assign, self.loads, self.values, self.lo, self.hi, self.width, self.movable


def transfer_plan(
    problem: Problem,
    pi: IntArray,
    pj: IntArray,
    *,
    stop: Callable[[], bool] = lambda: False,
    start: IntArray | None = None,
) -> tuple[IntArray, float, tuple[IntArray, IntArray]]:
    """A plan from today's (or from ``start``, a plan that breaks some bands, whose every
    account has a territory it may join) by shed, fill and swap moves (module docstring), tried
    with each of ALIGN_PENALTIES (ROOMY_PENALTIES under a cap that is not tight) until one
    holds every rule.

    Returns the plan, what it still violates (0: every band, capacity and the moved cap hold,
    see :func:`.repair.exact_violation`; else the least violated attempt) and the candidate
    pairs with the plan's own added. Bands over groups of territories are not looked at here:
    a plan that breaks one is returned with its violation.
    """
    out, left = None, np.inf
    roomy = problem.moved_min_kept is not None and not cap_is_tight(problem)
    for penalty in ROOMY_PENALTIES if roomy else ALIGN_PENALTIES:
        if start is None:
            plan = _transfer_once(problem, pi, pj, penalty, stop)
        else:
            plan = _mend(problem, start.copy(), penalty, stop)
        rest = exact_violation(problem, plan)
        if rest < left:
            out, left = plan, rest
        if left == 0 or stop():
            break
    assert out is not None
    m = problem.m
    # the plan's own pairs join the candidates (shed moves may leave them)
    key = np.unique(np.r_[pi * m + pj, np.arange(problem.n) * m + out])
    return out, left, (key // m, key % m)


def _transfer_once(
    problem: Problem, pi: IntArray, pj: IntArray, penalty: float, stop: Callable[[], bool]
) -> IntArray:
    """One attempt of :func:`transfer_plan` with the shed's ``penalty``."""
    n, m = problem.n, problem.m
    fixed = problem.fixed
    assign = np.where(fixed >= 0, fixed, problem.current)
    # accounts without an owner today, or whose owner the rules no longer allow (segments,
    # distance: the candidate pairs carry them): their cheapest candidate
    allowed = np.zeros(n, dtype=bool)
    placed = np.flatnonzero(assign >= 0)
    allowed[placed] = np.isin(placed * m + assign[placed], pi.astype(np.int64) * m + pj)
    allowed |= fixed >= 0
    none = np.flatnonzero(~allowed)
    if len(none):
        cost = problem.pair_costs(pi, pj)
        order = np.lexsort((cost, pi))
        first = order[np.r_[True, pi[order][1:] != pi[order][:-1]]]
        best = np.full(n, -1, dtype=np.int64)
        best[pi[first]] = pj[first]
        assign[none] = best[none]
    return _mend(problem, assign, penalty, stop)


def _mend(problem: Problem, assign: IntArray, penalty: float, stop: Callable[[], bool]) -> IntArray:
    """Shed, fill, swap, fill again and eject on ``assign`` (in place, and returned)."""
    n, m = problem.n, problem.m
    fixed = problem.fixed
    res = [r for r in problem.resources if r.group is None]
    if not res:
        return assign
    values = np.array([r.values for r in res])  # (k, n)
    lo = np.array([r.lo for r in res])  # (k, m)
    hi = np.array([r.hi for r in res])
    loads = np.array([r.load(assign, m) for r in res])
    width = np.where(np.isfinite(hi - lo), hi - lo, 1.0).mean(axis=1, keepdims=True)
    width = np.maximum(width, 1e-12)
    measure = problem.measure if problem.moved_min_kept is not None else np.ones(n)
    movable = (fixed < 0) & (assign >= 0)
    book = _Book(assign, loads, values, lo, hi, width, movable)
    _shed(problem, book, measure, penalty, stop)
    _fill(problem, book, stop)
    _swap(problem, book, _budget(problem, assign), stop)
    _fill(problem, book, stop)
    _eject(problem, book, measure, penalty, stop)
    return assign


def _eject(
    problem: Problem, book: _Book, measure: FloatArray, penalty: float, stop: Callable[[], bool]
) -> int:
    """Step 4 of the module docstring, in place: a territory still under a band whose other
    bands leave no room to fill it (a whale's: potential at its top, workload short) lets one
    of its accounts go, the one that frees most of those bands for the least of the short ones,
    to where the shed would send it (where no territory has room: the one it overfills least,
    which then sheds), and is filled in its place; each such exchange is undone unless the
    whole violation falls and the moved cap holds. Returns the moves made."""
    assign, loads, values, lo, hi, width, movable = book.unpack()
    made = 0
    tried = np.zeros(problem.m, dtype=bool)
    if (_violation(loads, lo, hi, width) > 1e-12).sum() > EJECT_MOST:
        return 0  # the attempt failed broadly: the next penalty's is likelier to hold
    while not stop():
        viol = _violation(loads, lo, hi, width)
        short = (lo - loads > 1e-12).any(axis=0) & ~tried
        if not short.any():
            break
        t = int(np.argmax(np.where(short, viol, -np.inf)))
        tried[t] = True
        cand = np.flatnonzero(movable & (assign == t))
        under = lo[:, t] - loads[:, t] > 1e-12
        frees = ((np.where(under, -1.0, 1.0)[:, None] * values[:, cand]) / width).sum(axis=0)
        cand = cand[np.argsort(-frees, kind="stable")[:EJECT_TRIES]]
        if not len(cand):
            continue
        dest, extra = _destinations(problem, cand, values[:, cand], t, loads, lo, hi, width)
        # no room anywhere: the territory it overfills least (the shed then mends it)
        over = (np.maximum(loads[:, None, :] + values[:, cand, None] - hi[:, None, :], 0.0)
                / width[:, :, None]).sum(axis=0)  # fmt: skip
        over = np.where(problem.eligible_rows(cand), over, np.inf)
        over[:, t] = np.inf
        dest = np.where(np.isfinite(extra), dest, over.argmin(axis=1))
        before = float(viol.sum())
        for i, b in zip(cand, dest, strict=True):
            kept_assign, kept_loads = assign.copy(), loads.copy()
            v = values[:, i]
            assign[i] = b
            loads[:, t] -= v
            loads[:, b] += v
            movable[i] = False  # the fill would bring it straight back
            filled = _fill(problem, book, stop, into=t)
            if (loads[:, b] > hi[:, b] + 1e-12).any():
                filled += _shed(problem, book, measure, penalty, stop) + _fill(problem, book, stop)
            movable[i] = True
            after = float(_violation(loads, lo, hi, width).sum())
            if after < before - 1e-12 and moved_shortfall(problem, assign) == 0:
                made += 1 + filled
                tried[:] = False
                break
            assign[:], loads[:] = kept_assign, kept_loads
    return made


def _budget(problem: Problem, assign: IntArray) -> float:
    """What is left of the moved cap (raw measure; inf without a cap)."""
    if problem.moved_min_kept is None:
        return np.inf
    return kept_measure(problem, assign) - problem.moved_min_kept * problem.moved_scale


def _over(loads: FloatArray, hi: FloatArray, width: FloatArray) -> FloatArray:
    """Each territory's largest excess over a band top, in band widths (<= 0: none)."""
    return np.asarray(np.max((loads - hi) / width, axis=0, initial=-np.inf))


def _shed(
    problem: Problem, book: _Book, measure: FloatArray, penalty: float, stop: Callable[[], bool]
) -> int:
    """Step 1 of the module docstring, in place. Returns the moves made."""
    assign, loads, values, lo, hi, width, movable = book.unpack()
    m = problem.m
    # per territory, its movable accounts
    acc = np.flatnonzero(movable)
    order = acc[np.argsort(assign[acc], kind="stable")]
    start = np.searchsorted(assign[order], np.arange(m + 1))
    alive = np.ones(len(order), dtype=bool)
    done = np.zeros(m, dtype=bool)  # territories nothing more can leave
    cut = 1.0 / np.maximum(measure, 1e-12)  # per unit of the measure
    made = 0
    while not stop():
        over = _over(loads, hi, width)
        over[done] = -np.inf
        a = int(np.argmax(over))
        if over[a] <= 0:
            break
        sl = slice(start[a], start[a + 1])
        idx = np.flatnonzero(alive[sl]) + start[a]
        cand = order[idx]
        v = values[:, cand]
        fit = _gives(loads, lo, v, np.full(len(cand), a))
        if not fit.any():
            done[a] = True
            continue
        # what each sheds along the excess (in band widths), per unit of the measure: the
        # resource most over weighs most, so the bands come in together
        excess = np.maximum(loads[:, a] - hi[:, a], 0.0)[:, None]
        u = np.minimum(v, excess) / width
        e = excess / width
        e = e / max(float(np.linalg.norm(e)), 1e-12)
        along = (u * e).sum(axis=0)
        off = np.linalg.norm(u - along * e, axis=0)
        gain = (along - penalty * off) * cut[cand]
        gain[~fit] = -np.inf
        top = int(np.argmax(gain))
        if gain[top] <= 0:
            done[a] = True
            continue
        # the near-best (ties are common: equal accounts), each to its destination; the one
        # whose move costs least
        near = np.flatnonzero(gain >= gain[top] - SHED_NEAR * abs(gain[top]))
        near = near[np.argsort(-gain[near], kind="stable")[:SHED_LOOK]]
        dest, extra = _destinations(problem, cand[near], v[:, near], a, loads, lo, hi, width)
        alive[idx[near[~np.isfinite(extra)]]] = False  # nowhere to go (loads only rise)
        if not np.isfinite(extra).any():
            continue
        k = int(np.argmin(extra))
        alive[idx[near[k]]] = False
        i, b = int(cand[near[k]]), int(dest[k])
        v = v[:, near[k]]
        assign[i] = b
        loads[:, a] -= v
        loads[:, b] += v
        made += 1
    return made


def _destinations(
    problem: Problem,
    rows: IntArray,
    v: FloatArray,
    a: int,
    loads: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    width: FloatArray,
) -> tuple[IntArray, FloatArray]:
    """Where each account of ``rows`` (values ``v``, leaving ``a``) goes: among the territories
    under a band that it fits best (fills most of their shortfall, overfills least), the
    cheapest; else the cheapest with room. Returns the territories and what each move adds to
    the cost (scaled; inf: no territory has room)."""
    cs = problem.cost_scale
    room = (loads[:, None, :] + v[:, :, None] <= hi[:, None, :] + 1e-12).all(axis=0)  # (K, m)
    room &= problem.eligible_rows(rows)
    room[:, a] = False
    need = (np.maximum(lo - loads, 0.0) / width)[:, None, :]  # (k, 1, m)
    u = (v / width)[:, :, None]  # (k, K, 1)
    fills = (np.minimum(u, need) - np.maximum(u - need, 0.0)).sum(axis=0)  # (K, m)
    fills = np.where(room & (need > 0).any(axis=0), fills, -np.inf)
    costs = problem.raw_costs(rows) / cs
    best = fills.max(axis=1, keepdims=True)
    near = np.isfinite(best) & (fills >= best - FILL_NEAR * np.abs(best))
    score = np.where(room, costs + PREFER_UNDER * (np.isfinite(best) & ~near), np.inf)
    dest = score.argmin(axis=1)
    k = np.arange(len(rows))
    extra = score[k, dest] - costs[k, a]
    return dest, np.where(np.isfinite(score[k, dest]), extra, np.inf)


def _fill(problem: Problem, book: _Book, stop: Callable[[], bool], into: int | None = None) -> int:
    """Step 2 of the module docstring, in place (``into``: that territory alone). Returns the
    moves made."""
    assign, loads, values, lo, hi, _, movable = book.unpack()
    m = problem.m
    cur = problem.current
    measure = problem.measure
    acc = np.flatnonzero(movable)
    v_all = values[:, acc]
    a = assign[acc]
    # whether each account can leave its territory inside its bands: a move changes it only in
    # the two territories whose loads it changes
    gives = _gives(loads, lo, v_all, a)
    made = 0
    tried = np.zeros(m, dtype=bool)  # territories no account can fill now
    while not stop():
        short = np.max(lo - loads, axis=0, initial=-np.inf)
        short[tried] = -np.inf
        if into is not None:
            short[np.arange(m) != into] = -np.inf
        b = int(np.argmax(short))
        if short[b] <= 1e-12:
            break
        sub = np.flatnonzero(gives & (a != b))  # the rest cannot come
        v = v_all[:, sub]
        fits = (loads[:, [b]] + v <= hi[:, [b]] + 1e-12).all(axis=0)
        sub, v = sub[fits], v[:, fits]
        ok = problem.eligible_for(acc[sub], b)  # before the pick: a specialist takes few
        need = np.maximum(lo[:, b] - loads[:, b], 0.0)
        gain = np.minimum(v, FILL_BEYOND * need[:, None]).sum(axis=0)
        # what the move costs in the cap: a move back home gives one back, a moved account
        # moving on costs nothing more
        mk, home = measure[acc[sub]], cur[acc[sub]]
        cost = np.where(home == b, -mk, np.where(home == a[sub], mk, 0.0))
        pick = np.where(ok & (gain > 0), gain / np.maximum(cost, 1e-3 * np.maximum(mk, 1e-12)), 0)
        # among the near-best per unit of the cap, the cheapest
        best = pick.max(initial=0.0)
        top = sub[np.flatnonzero(pick >= FILL_NEAR * best)] if best > 0 else sub[:0]
        if not len(top):
            tried[b] = True
            continue
        k = int(top[np.argmin(problem.pair_costs(acc[top], np.full(len(top), b)))])
        i, was = int(acc[k]), int(a[k])
        loads[:, was] -= v_all[:, k]
        loads[:, b] += v_all[:, k]
        assign[i] = b
        a[k] = b
        changed = np.flatnonzero((a == was) | (a == b))
        gives[changed] = _gives(loads, lo, v_all[:, changed], a[changed])
        made += 1
        tried[:] = False
    return made


def _gives(loads: FloatArray, lo: FloatArray, v: FloatArray, a: IntArray) -> BoolArray:
    """Whether each account (values ``v``, in territory ``a``) can leave it inside its bands."""
    return np.asarray((loads[:, a] - v >= lo[:, a] - 1e-12).all(axis=0))


def _violation(loads: FloatArray, lo: FloatArray, hi: FloatArray, width: FloatArray) -> FloatArray:
    """Each column's total band violation in band widths (columns: territories, or swaps)."""
    return np.asarray(
        ((np.maximum(loads - hi, 0.0) + np.maximum(lo - loads, 0.0)) / width).sum(axis=0)
    )


def _swap(
    problem: Problem, book: _Book, budget: float, stop: Callable[[], bool]
) -> tuple[int, float]:
    """Step 3 of the module docstring, in place: swaps that mend the most violated territory
    without breaking its partner, matched on the resource it keeps. Returns the moves made and
    the budget of the moved cap (raw measure) left."""
    assign, loads, values, lo, hi, width, movable = book.unpack()
    m = problem.m
    cur, measure = problem.current, problem.measure
    made = 0
    tried = np.zeros(m, dtype=bool)
    unit = 1e-3 * max(float(measure.mean()), 1e-12)  # a free swap: its gain per this
    narrow = width[:, 0] / np.maximum(np.abs(values).mean(axis=1), 1e-12)  # band per account
    # each resource's accounts by value, once: each round orders its partners by territory
    # with a stable sort of small integers (a radix sort) instead of sorting them anew
    by_value = np.argsort(values, axis=1, kind="stable")
    # ... and each account's rank by value (equal values, equal ranks): a partner's position
    # in its territory's run is one search over (territory, rank) keys for every territory
    rank = np.array([np.searchsorted(v[o], v) for v, o in zip(values, by_value, strict=True)])
    label = np.int16 if m < 2**15 else np.int64
    runs = np.int64(problem.n + 1)
    rounds, mark = 0, np.inf
    per_round = int(np.clip(problem.n // SWAP_ROUND_ACCOUNTS, 1, SWAPS_PER_ROUND))
    while not stop():
        viol = _violation(loads, lo, hi, width)
        if rounds % SWAP_CHECK == 0:
            # stalled (the budget spent, only swaps that barely help left): the next attempt
            # is likelier to hold than more of these
            total = float(viol.sum())
            if total > (1 - SWAP_STALL) * mark:
                break
            mark = total
        rounds += 1
        viol[tried] = 0.0
        t = int(np.argmax(viol))
        if viol[t] <= 1e-12:
            break
        inside = (loads[:, t] >= lo[:, t] - 1e-12) & (loads[:, t] <= hi[:, t] + 1e-12)
        # match on the narrowest band the territory keeps
        rel = np.where(inside, narrow, np.inf)
        key = int(np.argmin(rel)) if np.isfinite(rel).any() else 0
        mine = np.flatnonzero(movable & (assign == t))
        # the accounts richest (over) or poorest (under) in the violated resources against
        # the matched one: the swaps that mend most
        sign = np.where(loads[:, t] > hi[:, t], 1.0, np.where(loads[:, t] < lo[:, t], -1.0, 0.0))
        ratio = (sign[:, None] * values[:, mine] / width).sum(axis=0) / np.maximum(
            values[key, mine] / width[key, 0], 1e-12
        )
        mine = mine[np.argsort(-ratio, kind="stable")[:SWAP_ACCOUNTS]]
        if not len(mine):
            tried[t] = True
            continue
        # the partners: accounts of other territories that may join t, by territory, and
        # within it by the matched resource
        acc = by_value[key]
        acc = acc[movable[acc] & (assign[acc] != t)]
        acc = acc[problem.eligible_for(acc, t)]
        acc = acc[np.argsort(assign[acc].astype(label), kind="stable")]
        start = np.searchsorted(assign[acc], np.arange(m + 1))
        live = np.flatnonzero(start[1:] > start[:-1])
        mine_to = problem.eligible_rows(mine)[:, live].T  # (B, Q): where each may go
        live_ok = mine_to.any(axis=1)
        live, mine_to = live[live_ok], mine_to[live_ok]
        if not len(live):
            tried[t] = True
            continue
        # each of mine against the two partners of each territory b nearest it on the matched
        # resource (just below, just above): (B, 2, Q) swaps, scored at once
        keys = assign[acc] * runs + rank[key, acc]  # ascending: by territory, then by value
        by = np.argsort(rank[key, mine], kind="stable")  # queries in order search faster
        pos = np.empty((len(live), len(mine)), dtype=np.int64)
        pos[:, by] = np.searchsorted(keys, live[:, None] * runs + rank[key, mine[by]])
        first, last = start[live][:, None], start[live + 1][:, None] - 1
        ks = acc[np.stack([np.clip(pos - 1, first, last), np.clip(pos, first, last)], axis=1)]
        d = values[:, mine][:, None, None, :] - values[:, ks]  # (k, B, 2, Q): t loses, b gains
        before_b = _violation(loads[:, live], lo[:, live], hi[:, live], width)[:, None, None]
        # band by band (a load is over its top or under its bottom, not both), in (B, 2, Q)
        after_t = np.zeros(d.shape[1:])
        after_b = np.zeros(d.shape[1:])
        for r, dr in enumerate(d):
            x = loads[r, t] - dr
            after_t += np.maximum(np.maximum(x - hi[r, t], lo[r, t] - x), 0.0) / width[r, 0]
            x = loads[r, live][:, None, None] + dr
            lo_b, hi_b = lo[r, live][:, None, None], hi[r, live][:, None, None]
            after_b += np.maximum(np.maximum(x - hi_b, lo_b - x), 0.0) / width[r, 0]
        gain = viol[t] + before_b - after_t - after_b
        ok = (after_t < viol[t] - 1e-12) & (after_b <= before_b + 1e-12)
        bs = live[:, None, None]
        cur_k, measure_k = cur[ks], measure[ks]
        spend = (
            np.where(cur[mine] == t, measure[mine], 0.0)
            - np.where(cur[mine] == bs, measure[mine], 0.0)
            + np.where(cur_k == bs, measure_k, 0.0)
            - np.where(cur_k == t, measure_k, 0.0)
        )
        ok &= (spend <= budget + 1e-9) & mine_to[:, None, :]
        score = np.where(ok, gain / np.maximum(spend, unit), -np.inf)
        if not score.max() > 0:
            tried[t] = True
            continue
        took, budget = _take_swaps(book, t, score, (mine, ks, live, spend), budget, per_round)
        made += 2 * took
        tried[:] = False
    return made, budget


def _take_swaps(
    book: _Book,
    t: int,
    score: FloatArray,
    found: tuple[IntArray, IntArray, IntArray, FloatArray],
    budget: float,
    most: int,
) -> tuple[int, float]:
    """Make the best of the scored swaps of ``t`` (``found``: its accounts, the partners, their
    territories and what each swap spends of the cap), then the next best, up to ``most`` of
    them, each with accounts and a partner territory of its own and checked again at the loads
    the earlier ones left (it must still mend ``t`` and not hurt its partner): one scoring
    serves several swaps. Returns the swaps made and the budget left."""
    assign, loads, values, lo, hi, width, _ = book.unpack()
    mine, ks, live, spend = found
    flat = score.ravel()
    pool = min(SWAP_POOL * most, flat.size)
    best = np.argpartition(-flat, pool - 1)[:pool]
    best = best[np.lexsort((best, -flat[best]))]  # ties: the first (by territory, below first)
    used: set[int] = set()  # accounts
    partners: set[int] = set()  # territories
    took = 0
    for top in best:
        if not flat[top] > 0 or took == most:
            break
        q = np.unravel_index(int(top), score.shape)
        si, sk, sb, spent = int(mine[q[2]]), int(ks[q]), int(live[q[0]]), float(spend[q])
        if si in used or sk in used or sb in partners or spent > budget + 1e-9:
            continue
        d = values[:, si] - values[:, sk]
        if took:
            pair = [t, sb]
            now = _violation(loads[:, pair], lo[:, pair], hi[:, pair], width)
            if now[0] <= 1e-12:
                break
            moved = loads[:, pair] + np.stack([-d, d], axis=1)
            then = _violation(moved, lo[:, pair], hi[:, pair], width)
            if not (then[0] < now[0] - 1e-12 and then[1] <= now[1] + 1e-12):
                continue
        loads[:, t] -= d
        loads[:, sb] += d
        assign[si], assign[sk] = sb, t
        budget -= spent
        took += 1
        used.update((si, sk))
        partners.add(sb)
    return took, budget
