"""Large problems without the monolithic LP: Lagrangian prices, then an LP over few accounts.

The LP relaxation of a large alignment has one row per account, and most accounts are not in
doubt: their best territory under near-optimal band prices is clearly cheaper than their second.
So:

1. prices ``y`` and a plan from the LP over compact clusters of accounts (:mod:`.aggregate`),
   or without coordinates from the smoothed Lagrangian dual (:mod:`.lagrange`);
2. every account priced at ``y``; the accounts of the clusters that LP split, and those whose
   best and second-best territory differ the least per unit of size, are *free*, the rest
   *held* at the plan;
3. the LP over the free accounts (held ones shift the band right-hand sides) gives exact band
   duals for that restriction; every held account is then checked against them (and every
   pruned pair priced): one that would rather be elsewhere is freed and the LP re-solved. When
   none would, the restricted LP's optimum is the whole LP's (a sifting method, over accounts).
   Past ``SIFT_FREE_CAP`` free accounts a round holds again the free accounts its LP settled
   (whole in their cheapest territory, held where the LP put them), so each round's LP stays
   small; once the sifting has converged, the restriction gets the most in doubt of them back;
4. the whole bound at every step is ``L(y)`` at the restricted LP's duals plus the pricing
   shortfall, valid whatever the free set;
5. the usual dive, repair and improvement run on the restricted problem (held accounts fixed).

Only the free accounts ever reach the simplex method; the rest is array work over the pairs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .aggregate import aggregated_duals
from .backends import Backend, BackendResult, LPSession, lp_session
from .formulation import (
    BoolArray,
    FloatArray,
    IntArray,
    Layout,
    MatrixModel,
    Problem,
    Resource,
    RuleDuals,
    build_model,
    reduced_costs,
    rule_duals,
    unique_pairs,
)
from .lagrange import Dual, Pairs, band_term, dual_bound, pairs_of, reduced
from .pricing import may_price, price
from .repair import SLACK_TOL
from .transfer import cap_is_tight, shared_transfer_plan

FREE_SHARE = 0.03  # share of the accounts freed at first (at least FREE_PER_BAND per band row)
FREE_PER_BAND = 10
PRICES_SHARE = 0.5  # of the time left, for the first prices (aggregated LP or ascent)
CLUSTERS_PER_BAND = 12  # the aggregated LP has this many clusters per band row
CLUSTERS_MAX = 15_000
HELD_TOL = 1e-7
SIFT_ROUNDS = 12
SIFT_RESERVE = 0.4  # share of the time left at the first restricted LP kept for the MIP
SIFT_RESERVE_LENT = 0.5  # share of that reserve a later round's LP may use: past it, the last
# round solved stands (its restriction gets the rest of the time)
SIFT_ADD_MIN = 20_000  # accounts a sifting round may free even when fewer are free
SIFT_FREE_CAP = 20_000  # past this many free accounts, settled ones are held again (0: never)
SIFT_BACK = 10_000  # accounts held again that the restriction gets back once the sifting converged
WARM_SIFT = True  # each sifting round starts from the last round's basis
SIFT_ENOUGH = 0.2  # stop sifting once the restricted LP is this share of the gap from the bound
BOUND_SHARE = 0.25  # of the time left after a sifting whose bound is the weak side: the bound's


@dataclass
class SubProblem(Problem):
    """The problem over a subset of the accounts, the others held where a plan put them.

    Accounts are renumbered ``0..len(index)-1``; costs, eligibility and geometry are the
    parent's, looked up through ``index``. Band and moved right-hand sides are shifted by what
    the held accounts contribute.
    """

    parent: Problem | None = None
    index: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    pairs: tuple[IntArray, IntArray] | None = None  # candidate pairs, renumbered

    def eligible_rows(self, rows: IntArray):  # type: ignore[no-untyped-def]
        assert self.parent is not None
        return self.parent.eligible_rows(self.index[rows])

    def raw_costs(self, rows: IntArray) -> FloatArray:
        assert self.parent is not None
        return self.parent.raw_costs(self.index[rows])

    def pair_costs(self, pi: IntArray, pj: IntArray) -> FloatArray:
        assert self.parent is not None
        return self.parent.pair_costs(self.index[pi], pj)

    def nearest_pairs(self, k: int) -> tuple[IntArray, IntArray]:
        assert self.pairs is not None
        return self.pairs


def restrict(
    problem: Problem, free: np.ndarray, base: IntArray, pi: IntArray, pj: IntArray
) -> SubProblem:
    """The problem over the ``free`` accounts, the others held at ``base``."""
    index = np.flatnonzero(free)
    held = np.flatnonzero(~free)
    new_of = np.full(problem.n, -1, dtype=np.int64)
    new_of[index] = np.arange(len(index))
    resources: list[Resource] = []
    for r in problem.resources:
        load = r.load(base[held], problem.m, held)
        resources.append(replace(r, values=r.values[index], lo=r.lo - load, hi=r.hi - load))
    moved_min = problem.moved_min_kept
    if moved_min is not None:
        stay = held[problem.current[held] == base[held]]
        moved_min = moved_min - float(problem.measure[stay].sum()) / problem.moved_scale
    use = free[pi]
    floor = None if problem.pruned_floor is None else problem.pruned_floor[index]
    return SubProblem(
        scenario=problem.scenario,
        n=len(index),
        m=problem.m,
        travel=problem.travel,
        weight=problem.weight[index],
        power=problem.power,
        disruption=problem.disruption,
        measure=problem.measure[index],
        current=problem.current[index],
        fixed=problem.fixed[index],
        resources=resources,
        moved_min_kept=moved_min,
        moved_scale=problem.moved_scale,
        cost_scale=problem.cost_scale,
        pruned_floor=floor,
        gap=problem.gap,
        parent=problem,
        index=index,
        pairs=(new_of[pi[use]], pj[use]),
    )


@dataclass
class Sifted:
    """Where the sifting stopped: the restriction, its held plan, and the whole bound."""

    free: np.ndarray  # (n,) bool
    base: IntArray  # (n,) territory of every account (held ones keep it)
    pi: IntArray  # candidate pairs of the whole problem (grown by pricing)
    pj: IntArray
    bound: float  # scaled, valid for the whole problem
    restricted: float  # scaled: the last restricted LP's value, held accounts included
    infeasible: bool  # the LP over every account and every pair needs slack: no plan exists
    order: IntArray  # accounts, most in doubt first (to free more)
    prices: Dual  # the multipliers that prove ``bound``
    stats: dict[str, Any]
    # the held accounts sit where a plan that keeps every rule (the transfer plan) puts them:
    # ``base`` over the free accounts is a plan of the restriction
    held_plan: bool = False
    # the last restricted LP, solved without slack: its session, model, layout and free set
    last_lp: tuple[LPSession, MatrixModel, Layout, BoolArray] | None = None


def warm_lp(sifted: Sifted, sub: SubProblem) -> tuple[LPSession, MatrixModel, Layout] | None:
    """The sifting's last restricted LP as the LP of ``sub`` (its accounts renumbered), when
    ``sub`` frees the same accounts: a re-solve then starts from its optimal basis instead of
    from nothing. None otherwise."""
    if sifted.last_lp is None:
        return None
    session, model, layout, free = sifted.last_lp
    if not np.array_equal(np.flatnonzero(free), sub.index):
        return None
    renumbered = replace(
        layout, accounts=np.arange(sub.n), pi=np.searchsorted(sub.index, layout.pi)
    )
    return session, model, renumbered


def _first_prices(
    problem: Problem,
    backend: Backend,
    pi: IntArray,
    pj: IntArray,
    clock: tuple[float, Callable[[], float]],
    slack_cost: float,
    stats: dict[str, Any],
    ascent: dict[str, Any],
    transfer: tuple[IntArray, IntArray] | None = None,
) -> tuple[float, Dual, IntArray, IntArray, Pairs, IntArray, FloatArray, IntArray, BoolArray]:
    """Steps 1-2: prices (from the aggregated LP, or dual ascent) and their bound, the pairs,
    each account's cheapest territory at those prices (or the aggregated plan), its size, the
    accounts by margin and the first free set (the smallest margins). ``clock`` is the start
    of the pricing phase and its deadline. With ``transfer`` (the first candidate pairs,
    under a tight cap), the transfer plan is held when one is found (not the aggregated one)
    and the accounts it moves are free as well; it is asked for after the aggregated LP,
    which the first plan's thread has spent making it."""
    t0, deadline = clock
    bands = sum(int((np.isfinite(r.lo) | np.isfinite(r.hi)).sum()) for r in problem.resources)
    clusters = min(CLUSTERS_MAX, CLUSTERS_PER_BAND * (bands + 1))
    got = None
    if clusters < problem.n // 2:
        got = aggregated_duals(
            problem, backend, pi, pj, clusters, left=deadline, slack_cost=slack_cost
        )
    if got is not None:
        stats["aggregate"] = got.info
        dual, bound, pi, pj = dual_bound(problem, pi, pj, deadline=lambda: 0.0, start=got.duals)
    else:
        dual, bound, pi, pj = dual_bound(problem, pi, pj, deadline=deadline, **ascent)
        stats["ascent_evaluations"] = dual.evaluations
    prices = Dual(dual.resource, dual.moved, bound)
    stats["prices_s"] = round(time.perf_counter() - t0, 3)
    stats["prices_bound"] = bound * problem.cost_scale
    pairs = pairs_of(problem, pi, pj)
    R = reduced(pairs, dual.resource, dual.moved)
    at = pairs.argmin(R)
    base = pairs.pj[at]
    best = R[at]
    R[at] = np.inf
    margin = pairs.row_min(R) - best
    # how far the prices must move to flip an account: its margin per unit of its size
    size = np.zeros(problem.n)
    for r in problem.resources:
        size = np.maximum(size, np.abs(r.values) / float(np.mean(np.abs(r.values)) or 1.0))
    margin = margin / np.maximum(size, 1e-12)
    want = min(problem.n, max(int(FREE_SHARE * problem.n), FREE_PER_BAND * (bands + 1)))
    by_margin = np.argsort(margin, kind="stable")
    free = np.zeros(problem.n, dtype=bool)
    free[by_margin[:want]] = True
    if got is not None:
        # the aggregated LP's plan, with its split clusters free, leaves the LP a plan
        base = got.base
        free |= got.split
        pi, pj = unique_pairs(np.r_[pi, np.arange(problem.n)], np.r_[pj, base], problem.m)
        pairs = pairs_of(problem, pi, pj)
    plan = None
    if transfer is not None:
        plan, ti, tj = _transfer_start(problem, *transfer, lambda: deadline() <= 0, stats)
    if plan is not None:
        # held where the plan puts them (its pairs are among ti, tj); the clusters the
        # aggregated LP split stay free
        base = plan
        free |= (problem.current >= 0) & (plan != problem.current)
        pi, pj = unique_pairs(np.r_[pi, ti], np.r_[pj, tj], problem.m)
        pairs = pairs_of(problem, pi, pj)
    return bound, prices, pi, pj, pairs, base, size, by_margin, free


def sift(
    problem: Problem,
    backend: Backend,
    pi: IntArray,
    pj: IntArray,
    *,
    left: Callable[[], float],
    slack_cost: float,
    say: Callable[[str, dict[str, Any]], None],
    gap: float = 0.0,
    **ascent: Any,
) -> Sifted | None:
    """Steps 1-4 above. None when not even the first restricted LP was solved in time."""
    stats: dict[str, Any] = {}
    t_end = left() * PRICES_SHARE
    t0 = time.perf_counter()

    def deadline() -> float:
        return t_end - (time.perf_counter() - t0)

    transfer = (pi, pj) if cap_is_tight(problem) else None
    bound, prices, pi, pj, pairs, base, size, by_margin, free = _first_prices(
        problem, backend, pi, pj, (t0, deadline), slack_cost, stats, ascent, transfer
    )
    free |= problem.fixed >= 0  # locked accounts cost nothing to carry
    held_plan = bool(stats.get("transfer", {}).get("found"))  # a plan keeping every rule
    if held_plan:
        whole = problem.plan_cost(base)
        say("incumbent", {"objective": whole, "bound": bound * problem.cost_scale})
    reserve = SIFT_RESERVE * left()  # kept for the restricted MIP: sifting stops before it
    exact = infeasible = False
    last_lp = None
    rounds = 0
    total = math.inf
    carried: tuple[Layout, Basis | None] | None = None  # the last round's layout and basis
    again, back_done = np.zeros(problem.n, dtype=bool), False  # held again; given back
    for rounds in range(1, SIFT_ROUNDS + 1):  # noqa: B007 - reported below
        say("lp", {"round": rounds, "free": int(free.sum())})
        t_round = time.perf_counter()
        # a round after one whose restriction has a plan may not eat the MIP's time
        limit = left() if last_lp is None else left() - SIFT_RESERVE_LENT * reserve
        session, model, layout, lp = _round_lp(
            problem, backend, (pi, pj), (free, base), slack_cost, carried, limit, stats
        )
        if lp.status != "optimal" or lp.row_dual is None:
            if rounds == 1:
                return None
            if last_lp is not None:  # the last round solved stands: its LP is the restriction's
                stats["sift"].append(
                    {"free": int(free.sum()), "unsolved": lp.status, "seconds": _since(t_round)}
                )
                free = last_lp[3].copy()
            break
        carried = (layout, session.basis()) if WARM_SIFT else None
        slack = float(sum(lp.x[col] for *_, col in layout.elastic_cols)) if lp.x is not None else 0
        last_lp = (session, model, layout, free.copy()) if slack <= SLACK_TOL else None
        if slack > SLACK_TOL:
            stats.setdefault("sift", []).append(
                {"free": int(free.sum()), "slack": slack, "seconds": _since(t_round)}
            )
            grown = _free_for_slack(problem, layout, lp, pi, pj, base, free, by_margin)
            if grown is None:
                infeasible = True
                break
            if len(grown[0]) > len(pi):
                pi, pj = grown
                pairs = pairs_of(problem, pi, pj)
            if left() <= 0:
                break
            continue
        duals = rule_duals(problem, layout, lp.row_dual)
        ys, lam, scale = duals.resource, duals.moved, problem.cost_scale
        R = reduced(pairs, ys, lam)
        low = pairs.row_min(R)
        new_i, new_j, shortfall = price(problem, duals.__class__(low, ys, lam), pi, pj)
        value = float(low.sum()) + band_term(problem, ys, lam) + shortfall
        if value > bound:
            bound, prices = value, Dual(ys, lam, value)
        # held accounts that would rather be elsewhere at these prices
        own = R[np.searchsorted(pi * problem.m + pj, np.arange(problem.n) * problem.m + base)]
        unhappy = ~free & (own - low > HELD_TOL)
        unhappy[new_i] |= ~free[new_i]
        # before the pairs grow: who the next round may hold again, and who may come back
        settled, back = _again(problem, layout, lp.x, carried, pairs, R, (free, unhappy, again),
                               size)  # fmt: skip
        stats.setdefault("sift", []).append(
            {"free": int(free.sum()), "lp_objective": lp.objective,
             "bound": value * scale, "unhappy": int(unhappy.sum()),
             "priced": int(len(new_i)), "seconds": _since(t_round)}
        )  # fmt: skip
        if len(new_i):
            pi, pj = unique_pairs(np.r_[pi, new_i], np.r_[pj, new_j], problem.m)
            pairs = pairs_of(problem, pi, pj)
        held = np.flatnonzero(~free)
        total = lp.objective + float(problem.pair_costs(held, base[held]).sum()) / scale
        stats["sift"][-1]["restricted_lp"] = total * scale
        exact = not unhappy.any() and not len(new_i)
        done = not unhappy.any() or total - bound <= SIFT_ENOUGH * gap * abs(total)
        if done and back is not None and not back_done:
            # the restriction gets back the held again most in doubt (a warm, short round)
            free[back[~free[back]][:SIFT_BACK]] = True
            back_done = True
            continue
        if done or back_done:
            break  # what the restriction loses is a small part of the gap target
        if left() - reserve < _since(t_round):
            break  # the next round (over more accounts) would not end before the reserve
        # the most unhappy first (per unit of size), at most doubling the restricted LP
        gain = np.where(unhappy, (own - low) / np.maximum(size, 1e-12), -np.inf)
        take = max(int(free.sum()), SIFT_ADD_MIN)
        add = np.argsort(-gain, kind="stable")[: min(take, int(unhappy.sum()))]
        if settled is not None:
            over = int(free.sum()) + len(add) - SIFT_FREE_CAP
            held_again = _hold_again(settled, over, base, free, again, held_plan)
            stats["sift"][-1]["held_again"] = held_again
        free[add] = True
    stats["sift_rounds"] = rounds
    stats["exact"] = exact  # the restricted LP's optimum is the whole LP's
    return Sifted(free, base, pi, pj, bound, total, infeasible, by_margin, prices, stats,
                  held_plan, last_lp)  # fmt: skip


def _round_lp(
    problem: Problem,
    backend: Backend,
    pairs: tuple[IntArray, IntArray],
    plan: tuple[BoolArray, IntArray],
    slack_cost: float,
    carried: tuple[Layout, Basis | None] | None,
    limit: float,
    stats: dict[str, Any],
) -> tuple[LPSession, MatrixModel, Layout, BackendResult]:
    """A sifting round's restricted LP over the ``free`` accounts of ``plan`` (the others held
    at its ``base``), started from the last round's basis where there is one, solved within
    ``limit`` seconds."""
    pi, pj = pairs
    free, base = plan
    use = free[pi]
    fixed_assign = np.where(free, -1, base)
    model, layout = build_model(
        problem, pi[use], pj[use], fixed_assign=fixed_assign, slack_cost=slack_cost
    )
    solver = problem.scenario.settings.solver
    session = lp_session(backend, model, seed=solver.seed, threads=solver.threads)
    _start_warm(session, carried, (layout, base, problem.m), stats)
    return session, model, layout, session.solve(time_limit=max(limit, 0.0))


BASIC = 1  # HiGHS's status of a basic column or row (0: nonbasic at its lower bound)
Basis = tuple[NDArray[np.int8], NDArray[np.int8]]  # status codes per column and per row


def _start_warm(
    session: LPSession,
    carried: tuple[Layout, Basis | None] | None,
    round_: tuple[Layout, IntArray, int],
    stats: dict[str, Any],
) -> None:
    """Start ``session`` (a sifting round's LP; ``round_``: its layout, the held plan and the
    number of territories) from the last round's basis (:func:`carried_basis`), where there is
    one; whether HiGHS took it goes to ``stats["sift_warm"]``."""
    if carried is None or carried[1] is None:
        return
    layout, base, m = round_
    warm = carried_basis(carried[1], carried[0], layout, base, m)
    stats.setdefault("sift_warm", []).append(warm is not None and session.set_basis(*warm))


def carried_basis(
    basis: Basis,
    before: Layout,
    after: Layout,
    base: IntArray,
    m: int,
) -> Basis | None:
    """The basis of a sifting round's LP (``before``) carried to the next round's (``after``),
    which frees more accounts, may have more pairs and may hold again accounts the last LP
    settled. Each newly freed account's pair with its held territory (``base``) is basic, its
    other pairs and its assignment row nonbasic; everything else keeps its status. The basis
    matrix is then the old one bordered by an identity, so it is non-singular, and every row
    keeps its activity (the held account's load moves from the row's bounds into its basic
    pair at 1): the basis is primal feasible. An account held again takes its row and its
    pairs out, one of them basic (:func:`_settled` holds no other), so the count still fits.
    None when the layouts do not line up (a freed account without its held pair, or a basis
    left with more or fewer basic entries than rows)."""
    cols_before, rows_before = basis
    n_old = before.n_pair_cols
    if len(after.elastic_cols) != len(before.elastic_cols) or n_old > len(cols_before):
        return None
    key_old = before.pi * m + before.pj
    order = np.argsort(key_old, kind="stable")
    key_new = after.pi * m + after.pj
    at = np.minimum(np.searchsorted(key_old[order], key_new), max(len(order) - 1, 0))
    known = key_old[order][at] == key_new if len(order) else np.zeros(len(key_new), bool)
    cols = np.zeros(after.n_pair_cols + len(after.elastic_cols), dtype=np.int8)
    cols[: after.n_pair_cols][known] = cols_before[order[at[known]]]
    cols[after.n_pair_cols :] = cols_before[n_old:]
    was_free = np.zeros(len(base), dtype=bool)
    was_free[before.accounts] = True
    freed = ~was_free[after.pi] & (after.pj == base[after.pi])
    if int(freed.sum()) != int((~was_free[after.accounts]).sum()):
        return None
    cols[: after.n_pair_cols][freed] = BASIC
    rows = np.zeros(len(after.accounts) + len(rows_before) - len(before.accounts), dtype=np.int8)
    row_of = np.full(len(was_free), -1, dtype=np.int64)
    row_of[before.accounts] = np.arange(len(before.accounts))
    old = row_of[after.accounts]
    rows[: len(after.accounts)][old >= 0] = rows_before[old[old >= 0]]
    rows[len(after.accounts) :] = rows_before[len(before.accounts) :]
    if int((cols == BASIC).sum() + (rows == BASIC).sum()) != len(rows):
        return None  # an account held again left the basis short (or long)
    return cols, rows


def _again(
    problem: Problem,
    layout: Layout,
    x: FloatArray | None,
    carried: tuple[Layout, Basis | None] | None,
    pairs: Pairs,
    R: FloatArray,
    sets: tuple[BoolArray, BoolArray, BoolArray],
    size: FloatArray,
) -> tuple[tuple[IntArray, IntArray] | None, IntArray | None]:
    """After a round's LP (``sets``: its free accounts, the held ones that would rather move,
    and those held again so far): the free accounts the next round may hold again
    (:func:`_settled`; None below ``SIFT_FREE_CAP``, or without a basis), and the accounts
    held again so far, the most in doubt first (None when there are none)."""
    free, unhappy, again = sets
    basis = None if carried is None else carried[1]
    over = bool(SIFT_FREE_CAP) and int(free.sum() + unhappy.sum()) > SIFT_FREE_CAP
    if not again.any() and (not over or basis is None):
        return None, None
    margin = _margins(pairs, R, size)  # once a round, for both
    back = None
    if again.any():
        back = np.flatnonzero(again)
        back = back[np.argsort(margin[back], kind="stable")]
    if not over or basis is None:
        return None, back
    return _settled(problem, layout, x, basis, pairs, R, free, margin), back


def _hold_again(
    settled: tuple[IntArray, IntArray],
    over: int,
    base: IntArray,
    free: BoolArray,
    again: BoolArray,
    held_plan: bool,
) -> int:
    """Hold again (in place: ``base``, ``free``, ``again``) the ``over`` most settled accounts,
    where the LP put them; under a held transfer plan only those it keeps at that plan, so the
    plan stays the restriction's fallback. Returns how many."""
    if over <= 0:
        return 0
    hold, at = settled
    if held_plan:
        keep = at == base[hold]
        hold, at = hold[keep], at[keep]
    hold, at = hold[:over], at[:over]
    base[hold] = at
    free[hold] = False
    again[hold] = True
    return len(hold)


def _settled(
    problem: Problem,
    layout: Layout,
    x: FloatArray | None,
    basis: Basis,
    pairs: Pairs,
    R: FloatArray,
    free: BoolArray,
    margin: FloatArray,
) -> tuple[IntArray, IntArray]:
    """Free accounts a sifting round may hold again, with their territory, the most settled
    first: whole in one territory in the LP's plan, that territory their cheapest at its
    duals (``R``), not locked, and exactly one basic among their pairs and their assignment
    row, so that taking them out of the LP leaves its basis a basis (and optimal: the rest of
    the plan is unchanged, their load moves into the rows' bounds). Ordered by the margin to
    their second-cheapest territory, per unit of size (``margin``, :func:`_margins`)."""
    none = np.zeros(0, np.int64)
    if x is None:
        return none, none
    cols, rows = basis
    n_pairs = layout.n_pair_cols
    whole = np.flatnonzero(x[:n_pairs] >= 1 - HELD_TOL)
    acc, ter = layout.pi[whole], layout.pj[whole]
    basic = np.bincount(layout.pi, (cols[:n_pairs] == BASIC).astype(float), problem.n)
    basic[layout.accounts] += rows[: len(layout.accounts)] == BASIC
    low = pairs.row_min(R)
    own = R[np.searchsorted(pairs.row * problem.m + pairs.pj, acc * problem.m + ter)]
    ok = free[acc] & (problem.fixed[acc] < 0) & (basic[acc] == 1) & (own - low[acc] <= HELD_TOL)
    acc, ter = acc[ok], ter[ok]
    order = np.argsort(-margin[acc], kind="stable")
    return acc[order], ter[order]


def _margins(pairs: Pairs, R: FloatArray, size: FloatArray) -> FloatArray:
    """Every account's margin from its cheapest territory to its second at reduced costs
    ``R``, per unit of its size (how far the prices must move to flip it)."""
    low = pairs.row_min(R)
    second = R.copy()
    second[pairs.argmin(R)] = np.inf
    return (pairs.row_min(second) - low) / np.maximum(size, 1e-12)


def bound_is_weak(problem: Problem, sifted: Sifted) -> bool:
    """Whether the sifting stopped with its restricted LP further above its bound than the gap
    target: no plan of the restriction could then be certified, however good, and time spent on
    the bound is what could close the gap."""
    if sifted.stats.get("exact") or not math.isfinite(sifted.restricted):
        return False
    return sifted.restricted - sifted.bound > problem.target_gap * abs(sifted.restricted)


def ascended_bound(problem: Problem, sifted: Sifted, seconds: float) -> float:
    """The sifting's bound (scaled) raised by dual ascent over every pair
    (:func:`.lagrange.dual_bound`, priced), from the multipliers that prove it, for about
    ``seconds``. Any multipliers give a valid bound; the ascent only finds better ones."""
    t0 = time.perf_counter()
    _, bound, _, _ = dual_bound(
        problem, sifted.pi, sifted.pj, deadline=lambda: seconds - (time.perf_counter() - t0),
        start=sifted.prices,
    )  # fmt: skip
    return max(bound, sifted.bound)


def _free_for_slack(
    problem: Problem,
    layout: Layout,
    lp: BackendResult,
    pi: IntArray,
    pj: IntArray,
    base: IntArray,
    free: BoolArray,
    by_margin: IntArray,
) -> tuple[IntArray, IntArray] | None:
    """A restricted LP that needed slack: the held accounts leave the free ones no plan, and
    its duals are big-M prices, so rather than trust them, the held accounts nearest (by
    margin) to the bands that needed slack are freed (``free``, in place), as many again as
    are free. Nothing left to free: the pairs the candidates miss, priced at the big-M duals
    (as the monolithic LP does), are returned with the candidates; None when there are none
    either (no plan exists at all)."""
    near = _near_slack(problem, layout, lp.x, pi, pj, base) & ~free
    if not near.any():
        near = ~free  # chains of moves: any held account may help
    pick = by_margin[near[by_margin]][: max(int(free.sum()), 1)]
    free[pick] = True
    if len(pick):
        return pi, pj
    assert lp.row_dual is not None  # solved: the caller checked
    new_i, new_j, _ = price(problem, rule_duals(problem, layout, lp.row_dual), pi, pj)
    if not len(new_i):
        return None
    return unique_pairs(np.r_[pi, new_i], np.r_[pj, new_j], problem.m)


def _since(t0: float) -> float:
    return round(time.perf_counter() - t0, 3)


def _transfer_start(
    problem: Problem, pi: IntArray, pj: IntArray, stop: Callable[[], bool], stats: dict[str, Any]
) -> tuple[IntArray | None, IntArray, IntArray]:
    """Under a moved cap, a plan that keeps every rule to hold the accounts at
    (:func:`.transfer.transfer_plan`: today's plan mended by the fewest moves; None when none
    is found) and the pairs with its own. Held there, the restricted LP has a plan
    (no slack: its duals are true prices) and its held accounts spend none of the cap, where
    the aggregated LP's plan moves whole clusters and overdraws a tight cap."""
    t0 = time.perf_counter()
    plan, left, (ti, tj) = shared_transfer_plan(problem, pi, pj, stop=stop)
    stats["transfer"] = {"seconds": round(time.perf_counter() - t0, 3), "found": left == 0}
    return (plan if left == 0 else None), ti, tj


def _near_slack(problem: Problem, layout, x, pi, pj, base) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Accounts in, or with a candidate pair into, a territory whose band row needed slack;
    with slack on the moved cap, also every account a plan moves."""
    hot = np.zeros(problem.m, dtype=bool)
    near = np.zeros(problem.n, dtype=bool)
    for kind, k, j, col in layout.elastic_cols:
        if x[col] <= SLACK_TOL:
            continue
        if kind == "moved":
            near |= (problem.current >= 0) & (problem.current != base)
            continue
        group = problem.resources[k].group
        hot |= (np.arange(problem.m) == j) if group is None else (group == j)
    near |= hot[base]
    near[pi[hot[pj]]] = True
    return near


def held_pinned(problem: Problem, sifted: Sifted, free: np.ndarray, objective: float) -> bool:
    """Whether no plan cheaper than ``objective`` (raw) moves a held account.

    Reduced-cost fixing at the multipliers that prove ``sifted.bound``: a plan's cost is at
    least that bound plus the reduced cost (against each account's cheapest candidate) of
    every pair it uses, so a pair whose reduced cost exceeds ``objective - bound`` is in no
    cheaper plan. When every held account's every other pair (pruned ones too) is such a pair,
    the restricted problem's own bound is a bound of the whole problem.
    """
    y = sifted.prices
    delta = objective / problem.cost_scale - y.value + 1e-9
    held = ~free
    if not held.any():
        return True
    pairs = pairs_of(problem, sifted.pi, sifted.pj)
    R = reduced(pairs, y.resource, y.moved)
    low = pairs.row_min(R)
    other = pairs.pj != sifted.base[pairs.row]
    if (held[pairs.row] & other & (R - low[pairs.row] <= delta)).any():
        return False
    duals = RuleDuals(low, y.resource, y.moved)
    rows = may_price(problem, duals, slack=delta)
    for chunk in problem.iter_chunks(rows[held[rows]]):
        rc = reduced_costs(problem, chunk, duals)
        rc[np.arange(len(chunk)), sifted.base[chunk]] = np.inf
        if (rc <= delta).any():
            return False
    return True
