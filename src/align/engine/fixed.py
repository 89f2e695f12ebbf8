"""solve(scenario) -> Run: LP with pricing, fix the integral part, a small MIP, honest status.

1. Candidates: each account's k cheapest eligible territories (plus today's).
2. LP relaxation over the candidates; widen k when pruning made it infeasible. Price every pruned
   pair with the LP duals and add the ones with negative reduced cost until none is left: the LP
   value is then a bound for the whole problem, not only the pruned one.
3. Dive (:mod:`.dive`) on the LP with every band narrowed by a margin (room for rounding; on a
   restriction, the moved cap too), fix the accounts it assigns integrally and solve the small
   MIP over the split ones, elastic (band slack at a big-M cost, warm-started from the
   rounding); a greedy move repair, then once the transfer moves with every account free (of
   the whole problem, on a restriction: :func:`_mend`), then neighbourhoods of the territories
   still out of band, remove what slack is left. A local search, then exact MIPs over groups of
   neighbouring territories (:mod:`.neighbourhood`), improve the plan.
4. If the gap to the LP bound is still above ``solver.gap``: a MIP over every pair whose reduced
   cost could still improve on the incumbent (reduced-cost fixing keeps this exact), warm-started.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import AlignError
from ..runs import Run
from ..scenario import Scenario
from .backends import Backend, BackendResult, LPSession, get_backend
from .common import Clock, Progress, make_run, relative_gap
from .decompose import (
    BOUND_SHARE,
    Sifted,
    ascended_bound,
    bound_is_weak,
    held_pinned,
    restrict,
    sift,
    warm_lp,
)
from .diagnose import least_moved_share, quick_checks, ranked_reasons
from .dive import (
    CAP_REDIVE,
    CAP_TIGHTEN_RESTRICTED,
    INTEGRAL_TOL,
    TIGHTEN,
    TIGHTEN_RESTRICTED,
    dive,
    narrowed_rows,
    per_account_max,
    tighten_rows,
)
from .exact import improve_exactly, whole_mip
from .first_plan import FirstPlan, Outcome
from .formulation import (
    BoolArray,
    FloatArray,
    IntArray,
    Layout,
    MatrixModel,
    Problem,
    build_model,
    build_problem,
    pair_reduced_costs,
    rule_duals,
    unique_pairs,
)
from .neighbourhood import improve_by_groups
from .pricing import PricedLP
from .repair import (
    SLACK_COST,
    SLACK_TOL,
    exact_violation,
    hold_exactly,
    local_search,
    near_violations,
    repair_moves,
)
from .size import check_size, default_candidates
from .transfer import transfer_plan


def solve_fixed(scenario: Scenario, *, progress: Progress | None = None) -> Run:
    """Assign every account to one of the given territories, optimally within ``solver.gap``
    when time allows (no contiguity, home bases given).

    Returns a :class:`Run` whose status is ``optimal``, ``feasible`` (a plan, gap above the
    target), ``infeasible`` (with ``reasons``) or ``no_solution`` (no plan within the limits).
    """
    s = scenario.settings
    check_size(scenario)
    clock = Clock(s.solver.time_limit_s)
    say = progress or (lambda phase, info: None)
    backend = get_backend(s.solver.name)
    t_build = time.perf_counter()
    problem = build_problem(scenario)
    stats: dict[str, Any] = {"accounts": problem.n, "territories": problem.m, "phases": {}}

    def phase(name: str, t0: float) -> None:
        stats["phases"][name] = round(time.perf_counter() - t0, 4)

    phase("build", t_build)

    def finish(status: str, assign: np.ndarray | None = None, **kw: Any) -> Run:
        return make_run(scenario, problem, backend, clock, stats, status, assign, **kw)

    t0 = time.perf_counter()
    reasons = quick_checks(problem)
    phase("checks", t0)
    if reasons:
        return finish("infeasible", reasons=reasons)
    if problem.moved_min_kept is not None:
        least = stats["least_moved_share"] = least_moved_share(problem)
        if least > (1 - problem.moved_min_kept) * (1 + 1e-9) + 1e-12:
            return _infeasible(problem, backend, clock, finish)  # proven: no LP needed
    t0 = time.perf_counter()
    k = s.solver.candidates or default_candidates(problem.m)
    pairs = problem.nearest_pairs(k)
    stats["phases"]["build"] += round(time.perf_counter() - t0, 4)
    # a plan first: Lagrangian rounding with repair, beside the LP (a thread: HiGHS releases
    # the GIL), so a solve stopped before the LP's plan still returns one
    first = FirstPlan(problem, pairs, clock, background=s.solver.threads != 1)
    say = first.announcing(say)
    out = Outcome("no_solution", message=NO_PLAN)
    try:
        if _decompose(problem):
            out = _solve_decomposed(problem, backend, clock, stats, say, pairs)
        else:
            out = _solve_lp(problem, backend, clock, stats, say, pairs=pairs)
    finally:
        first.stop(grace=out.kind == "no_solution")
    if out.kind == "infeasible":
        return _infeasible(problem, backend, clock, finish)
    if out.kind == "plan":
        out = _held(problem, pairs, out, stats)
    if out.kind != "plan":
        out = _held(problem, pairs, first.rescue(out, stats, say), stats)
    if out.kind == "plan":
        return finish("plan", out.assign, objective=out.objective, bound=out.bound)
    return finish("no_solution", bound=out.bound, message=out.message + _cap_note(problem, stats))


def _cap_note(problem: Problem, stats: dict[str, Any]) -> str:
    """Where the moved cap stands against the least the bands make move (a cap close to it
    leaves few plans, and they are hard to find)."""
    if problem.moved_min_kept is None:
        return ""
    allowed, least = 1 - problem.moved_min_kept, stats["least_moved_share"]  # set on entry
    close = ": a cap close to that leaves few plans" if allowed < CAP_CLOSE * least else ""
    return (
        f"; constraints.max_moved_share allows {allowed:.1%} and bringing every territory "
        f"inside its bands moves at least {least:.1%}{close}"
    )


CAP_CLOSE = 1.25  # a moved cap below this many times the least the bands make move is close


def _solve_lp(
    problem: Problem,
    backend: Backend,
    clock: Clock,
    stats: dict[str, Any],
    say: Progress,
    tighten: float = TIGHTEN,
    cap_tighten: float = 0.0,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
    incumbent: IntArray | None = None,
    warm: tuple[LPSession, MatrixModel, Layout] | None = None,
    widen: Callable[[IntArray], IntArray | None] | None = None,
) -> Outcome:
    """Steps 2-4 of the module docstring on ``problem`` (``pairs``: its candidates, if made).

    ``incumbent``: a plan of ``problem`` that keeps every rule, known beforehand. The first
    plan falls back to it when none better comes before the clock runs out, and the group MIPs
    and the exact MIP of step 4 are left to the caller. ``warm``: a session already holding the
    LP over ``pairs`` (see :class:`.pricing.PricedLP`)."""
    s = problem.scenario.settings

    def phase(name: str, t0: float) -> None:
        stats["phases"][name] = stats["phases"].get(name, 0.0) + round(time.perf_counter() - t0, 4)

    # --- 2. LP with pricing ------------------------------------------------------------------
    t0 = time.perf_counter()
    k = s.solver.candidates or default_candidates(problem.m)
    pi, pj = pairs if pairs is not None else problem.nearest_pairs(k)
    # big-M slack on every band keeps the LP feasible while pricing brings in what it needs
    priced = PricedLP(problem, backend, pi, pj, SLACK_COST, warm=warm)
    session, layout = priced.session, priced.layout
    phase("build", t0)  # candidates and the LP
    t0 = time.perf_counter()

    def on_round(rounds: int) -> None:
        say("lp", {"round": rounds, "pairs": len(priced.pi), "elapsed": clock.elapsed()})

    # a warm LP was priced by the sifting at its own duals: one more pricing gives its bound
    # (the LP plus the shortfall), and more columns would cost re-solves the plan needs
    lp = priced.solve(clock.left, on_round=on_round, stop=lambda: warm is not None)
    phase("lp", t0)
    if lp.status != "optimal" or lp.row_dual is None or lp.x is None:
        if incumbent is not None:
            return Outcome("plan", incumbent, problem.plan_cost(incumbent))
        return Outcome("no_solution", message=f"the LP relaxation was not solved ({lp.message})")
    pi, pj, cols, slack = priced.pi, priced.pj, priced.cols, priced.slack
    if lp.x[slack].max(initial=0.0) > 1e-7:
        # with every pair priced, the LP itself needs slack: no plan can exist
        return Outcome("infeasible")
    lp.x = lp.x[cols]
    lp_bound = (lp.objective + priced.shortfall) * problem.cost_scale
    stats.update(
        lp_rounds=priced.rounds,
        candidate_pairs=len(pi),
        lp_objective=lp.objective * problem.cost_scale,
    )

    # --- 2b. dive: fix the largest split accounts and re-solve the LP until few are split -----
    t0 = time.perf_counter()
    lp_x = lp.x

    def dive_on(cap_share: float) -> FloatArray:
        rows, lo, hi, narrowed = narrowed_rows(problem, layout, priced, tighten, cap_share)
        x0 = tighten_rows(session, rows, lo, hi, narrowed, slack, cols, clock, stats)
        dive_x = dive(problem, session, lp_x if x0 is None else x0, cols, layout, clock, stats)
        session.set_row_bounds(rows, lo, hi)
        return dive_x

    def redive() -> FloatArray:  # with a wider margin under the moved cap (see _fix_and_solve)
        stats["redive"] = True
        return dive_on(CAP_REDIVE)

    dive_x = dive_on(cap_tighten)
    phase("dive", t0)

    # --- 3. fix the integral part, MIP on the split accounts ---------------------------------
    t0 = time.perf_counter()
    say("repair", {"elapsed": clock.elapsed(), "bound": lp_bound})
    assign, split = _fix_and_solve(
        problem, backend, lp, dive_x, layout, clock, stats, say=say, bound=lp_bound,
        incumbent=incumbent, widen=widen,
        redive=redive if cap_tighten > 0 and problem.moved_min_kept is not None else None,
    )  # fmt: skip
    phase("repair", t0)
    if split == WHOLE:  # a plan of the whole problem: the caller measures and improves it
        return Outcome("plan", assign, bound=lp_bound, whole=True)
    if assign is None:
        if split == "infeasible":
            return Outcome("infeasible")
        return Outcome("no_solution", bound=lp_bound, message=NO_PLAN)

    objective = problem.plan_cost(assign)
    bound = lp_bound
    say("incumbent", {"objective": objective, "bound": bound, "elapsed": clock.elapsed()})

    # --- 4. close the gap exactly (with an incumbent, the caller improves the plan) -----------
    far = relative_gap(objective, bound) > problem.target_gap
    if far and clock.left() > 0 and incumbent is None:
        t0 = time.perf_counter()
        assign, objective, bound = improve_exactly(
            problem, backend, lp, layout, assign, objective, bound, clock, stats
        )
        phase("improve", t0)
    return Outcome("plan", assign, objective, bound)


def _decompose(problem: Problem) -> bool:
    """Whether to take the decomposed path (``solver.method``; auto: beyond DECOMPOSE_PAIRS
    candidate pairs, where the monolithic LP stops being solved in seconds)."""
    method = problem.scenario.settings.solver.method
    if method != "auto":
        return method == "decompose"
    k = problem.scenario.settings.solver.candidates or default_candidates(problem.m)
    return problem.n * k > DECOMPOSE_PAIRS


def _solve_decomposed(
    problem: Problem,
    backend: Backend,
    clock: Clock,
    stats: dict[str, Any],
    say: Progress,
    pairs: tuple[np.ndarray, np.ndarray],
) -> Outcome:
    """Prices from an aggregated LP, sifting to the accounts in doubt (:mod:`.decompose`),
    then steps 2-4 on the problem restricted to them; the bound is the whole problem's."""
    pi, pj = pairs
    t0 = time.perf_counter()
    sifted = sift(
        problem, backend, pi, pj, left=clock.left, slack_cost=SLACK_COST, say=say,
        gap=problem.target_gap,
    )  # fmt: skip
    stats["phases"]["prices"] = round(time.perf_counter() - t0, 4)
    if sifted is None:
        return Outcome("no_solution", message="the restricted LP was not solved in time")
    stats["decomposed"] = sifted.stats
    if sifted.infeasible:
        return Outcome("infeasible")
    bound = sifted.bound * problem.cost_scale
    free = sifted.free.copy()
    # held at a plan that keeps every rule: that plan is the restriction's fallback, the
    # restriction gets a share of the time and the group MIPs over the whole problem the rest
    known = sifted.held_plan
    # a bound too weak for any plan to be certified gets a share of the time, after the
    # restriction's plan (the plan first)
    weak = bound_is_weak(problem, sifted)
    reserve = BOUND_SHARE * clock.left() if weak else 0.0
    left = clock.left() - reserve
    box = clock.boxed(RESTRICTED_SHARE * left if known else left)
    for attempt in range(RESTRICT_ATTEMPTS + 1):
        if attempt == RESTRICT_ATTEMPTS or free.all():
            # the restrictions admit no plan: the whole problem, as the monolithic path does
            stats["restriction"] = "the whole problem"
            return _solve_lp(problem, backend, clock, stats, say)
        sub = restrict(problem, free, sifted.base, sifted.pi, sifted.pj)
        held = np.flatnonzero(~free)
        held_cost = float(problem.pair_costs(held, sifted.base[held]).sum())
        sub.gap = _restricted_gap(problem, sifted.restricted * problem.cost_scale, held_cost, bound)
        stats["free_accounts"] = int(sub.n)
        warm = warm_lp(sifted, sub)  # the sifting's last LP, when it is this one
        stats["restricted_lp_warm"] = warm is not None
        if sub.n == 0:  # every account held, and the held plan is one (the LP needed no slack)
            out = Outcome("plan", np.zeros(0, np.int64), 0.0, 0.0)
        else:
            out = _solve_lp(
                sub,
                backend,
                box,
                stats,
                _whole(say, held_cost, bound),
                tighten=TIGHTEN_RESTRICTED,
                cap_tighten=CAP_TIGHTEN_RESTRICTED,
                pairs=None if warm is None else (warm[2].pi, warm[2].pj),
                incumbent=sifted.base[sub.index] if known else None,
                warm=warm,
                widen=functools.partial(_widen, problem, sifted, sub.index, clock),
            )
        if out.kind != "infeasible" or clock.left() <= 0:
            break
        # the restricted LP had a plan but the restricted MIP has none: free twice as many
        more = sifted.order[~free[sifted.order]][: max(int(free.sum()), 1)]
        free[more] = True
    if weak and clock.left() > 0:
        bound = _ascend(problem, sifted, bound, min(reserve, clock.left()), stats)
    if out.kind != "plan" or out.assign is None:
        return Outcome("no_solution", bound=bound, message=out.message or NO_PLAN)
    assign = out.assign
    stats["mended_whole"] = out.whole  # the restriction's rounding, mended over every account
    if not out.whole:
        assign = sifted.base.copy()
        assign[sub.index] = out.assign
    if known or out.whole:
        t0 = time.perf_counter()
        assign = _polish(problem, sifted.pi, sifted.pj, assign, clock, stats, say, bound)
        certified = (1 + problem.target_gap) * bound / problem.cost_scale
        assign, _ = _regroup(problem, backend, sifted.pi, sifted.pj, assign, clock, stats, say,
                             bound, certified, share=GROUPS_LAST_SHARE)  # fmt: skip
        stats["phases"]["groups"] = round(time.perf_counter() - t0, 4)
    objective = problem.plan_cost(assign)
    if out.bound is not None and held_pinned(problem, sifted, free, objective):
        # no cheaper plan moves a held account: the restriction's bound holds for the whole
        bound = max(bound, min(out.bound + held_cost, objective))
        stats["held_pinned"] = True
    return Outcome("plan", assign, objective, bound)


def _widen(
    problem: Problem, sifted: Sifted, index: IntArray, clock: Clock, plan: IntArray
) -> IntArray | None:
    """A plan of the restriction to ``index`` out of band, with the held accounts where the
    sifting holds them, mended as a plan of the whole problem (:func:`_mend`)."""
    whole = sifted.base.copy()
    whole[index] = plan
    return _mend(problem, sifted.pi, sifted.pj, whole, clock)


def _ascend(
    problem: Problem, sifted: Sifted, bound: float, seconds: float, stats: dict[str, Any]
) -> float:
    """``bound`` (raw) raised by :func:`.decompose.ascended_bound` in about ``seconds``."""
    t0 = time.perf_counter()
    ascended = ascended_bound(problem, sifted, seconds) * problem.cost_scale
    stats["ascended_bound"] = ascended
    stats["phases"]["bound"] = round(time.perf_counter() - t0, 4)
    return max(bound, ascended)


def _whole(say: Progress, held_cost: float, bound: float) -> Progress:
    """Progress of a restriction in the whole problem's terms: held accounts' cost added to
    its plans, the whole problem's bound."""

    def relay(phase: str, info: dict[str, Any]) -> None:
        if "bound" in info:  # the restriction's own bound is not the whole problem's
            info = {**info, "bound": bound}
        if phase == "incumbent":
            info = {**info, "objective": info["objective"] + held_cost}
        say(phase, info)

    return relay


def _restricted_gap(problem: Problem, total: float, held_cost: float, bound: float) -> float:
    """The restriction's own gap target: what is left of the whole one (beyond what the
    restriction's LP loses against the bound), over the free accounts' part of that LP."""
    if not math.isfinite(total):
        return problem.target_gap
    free_lp = max(total - held_cost, 1e-9)
    room = problem.target_gap * total - max(total - bound, 0.0)
    return min(max(room, 0.25 * problem.target_gap * total) / free_lp, 0.5)


NEIGHBOURHOOD_MIN = 200  # accounts freed around the split ones in the repair MIP
NEIGHBOURHOOD_PER_SPLIT = 4
NEIGHBOURHOOD_ROUNDS = 8  # at most; each doubles the neighbourhood
REPAIR_MIN_S = 2.0  # the repair MIP's time box: this many seconds or the share below
REPAIR_TIME_SHARE = 0.15
FIRST_PLAN_TIME_SHARE = 0.02  # each attempt at a first plan gets this share (at least the min)
REPAIR_SHARE = 0.5  # the repair MIP stops within this share of solver.gap (absolute)
SLACK_SEEN = 1e-6  # ... and slack this large (of a mean target) costs it at least that gap
RESTRICT_ATTEMPTS = 3  # restrictions tried (free set doubled) before the whole problem
DECOMPOSE_PAIRS = 150_000  # solver.method auto: decomposed beyond this many candidate pairs
NO_PLAN = "no plan was found within the time limit"
WHOLE = "whole"  # _fix_and_solve: the plan is of the whole problem, not of the restriction
POLISH_SHARE = 0.05  # local search on a plan: this share of the time left, at least the min
POLISH_MIN_S = 0.5
GROUPS_SHARE = 0.85  # MIPs over groups of neighbouring territories: this share of the time left
GROUPS_LAST_SHARE = 0.9  # ... when they are the last step (the whole problem's, tight cap)
RESTRICTED_SHARE = 0.85  # tight cap: the restriction's share of the time left after sifting


def _freeing_order(
    problem: Problem, layout: Layout, lp: BackendResult, best_j: IntArray, integral: BoolArray
) -> IntArray:
    """The integral accounts in the order they are freed: cheapest alternative (in reduced
    cost at the LP's duals) first."""
    pi, pj = layout.pi, layout.pj
    assert lp.row_dual is not None  # an optimal LP
    rc = pair_reduced_costs(problem, pi, pj, rule_duals(problem, layout, lp.row_dual))
    alt = np.full(problem.n, np.inf)
    other = pj != best_j[pi]
    np.minimum.at(alt, pi[other], rc[other])
    order = np.argsort(alt, kind="stable")
    return order[integral[order]]


def _fix_and_solve(
    problem: Problem,
    backend: Backend,
    lp: BackendResult,
    x: FloatArray,
    layout: Layout,
    clock: Clock,
    stats: dict[str, Any],
    say: Progress | None = None,
    bound: float | None = None,
    incumbent: IntArray | None = None,
    widen: Callable[[IntArray], IntArray | None] | None = None,
    redive: Callable[[], FloatArray] | None = None,
) -> tuple[IntArray | None, str | None]:
    """Keep what the LP assigns whole and place the split accounts with a small MIP.

    First the split accounts alone (freeing more, cheapest alternatives first, while that is
    infeasible): a plan within seconds. Then, if that plan is not yet within half the target gap
    of the bound, a neighbourhood around them, warm-started from it and time-boxed. With an
    ``incumbent`` (see :func:`_solve_lp`): the cheaper of it and the first plan, and no group
    MIPs (the caller's). ``widen``: mends a plan of this restriction out of band as a plan
    of the whole problem (see :func:`_mend`); such a plan is returned with the reason WHOLE.
    ``redive``: where the first rounding cannot be placed nor mended, the LP's values from a
    dive that keeps a wider margin under the moved cap (a rounding that spends the cap to the
    last account leaves no move to bring a band in); the search starts over from its rounding.
    """
    pi, pj = layout.pi, layout.pj
    best_j, integral, split, order = _rounding(problem, layout, lp, x)
    stats["split_accounts"] = int(len(split))
    if not len(split):
        return best_j, None
    target = (1 + REPAIR_SHARE * problem.target_gap) * lp.objective  # scaled: good enough

    place = functools.partial(_place_split, problem, backend, layout, lp.objective, clock, target)
    # 1. the split accounts first, then, while slack is left, neighbourhoods of the territories
    #    still out of their bands (each warm-started from the least-slack plan so far)
    base, base_slack = best_j, math.inf
    extra, attempts, stalled = 0, 0, 0
    assign: IntArray | None = None  # the first plan within every band
    while True:
        free = ~integral
        if attempts:
            near = near_violations(problem, pi, pj, base)
            pick = order[near[order]]
            free[pick[:extra]] = True
            free[order[: extra // 4]] = True
        attempts += 1
        # a MIP that could not reduce the slack gets twice the time next
        least = REPAIR_MIN_S * 2**stalled
        out, slack_left = place(free, base, share=FIRST_PLAN_TIME_SHARE, least=least)
        if out is not None and slack_left > SLACK_TOL:
            out, slack_left = repair_moves(problem, pi, pj, out)
        if out is not None and slack_left > SLACK_TOL and attempts == 1:
            # the transfer moves, once, with every account free (``widen``: of the whole)
            mended = _mend(problem, pi, pj, out, clock) if widen is None else widen(out)
            if mended is not None and widen is not None:
                return mended, WHOLE
            if mended is not None:
                out, slack_left = mended, 0.0
            elif redive is not None:
                best_j, integral, split, order = _rounding(problem, layout, lp, redive())
                redive, base, base_slack, extra, attempts, stalled = None, best_j, math.inf, 0, 0, 0
                continue
        if out is not None and slack_left <= SLACK_TOL:
            assign = out
            break
        if out is not None and slack_left < base_slack * (1 - 1e-3):
            base, base_slack, stalled = out, slack_left, 0
        else:
            stalled += 1
        if clock.left() <= 0:
            break
        if extra < len(order):
            # more freedom makes a plan easier to find
            extra = min(len(order), max(2 * extra, NEIGHBOURHOOD_MIN))
            continue
        if incumbent is None:
            return whole_mip(problem, backend, pi, pj, clock, infeasible=False)
        break
    stats["first_plan_attempts"] = attempts
    if incumbent is not None and (assign is None or _cheaper(problem, incumbent, assign)):
        stats["first_plan_known"] = True
        assign = incumbent
    if assign is None:
        return None, "time"
    if say is not None:  # a whole plan exists from here on (kept if the solve is stopped)
        say("incumbent", {"objective": problem.plan_cost(assign), "bound": bound})
    # 2. shift and swap moves that keep every band (seconds at most), then neighbourhoods around
    #    the split accounts, warm-started from the plan so far, growing while the plan is not yet
    #    within half the target gap of the bound
    assign = _polish(problem, pi, pj, assign, clock, stats, say, bound)
    certified = (1 + problem.target_gap) * lp.objective
    share = GROUPS_SHARE if incumbent is None else 0.0  # else the caller regroups the whole plan
    assign, cost = _regroup(problem, backend, pi, pj, assign, clock, stats, say, bound, certified,
                            share=share)  # fmt: skip
    more = min(len(order), max(2 * extra, NEIGHBOURHOOD_MIN, NEIGHBOURHOOD_PER_SPLIT * len(split)))
    for rounds in range(NEIGHBOURHOOD_ROUNDS):
        # the first neighbourhood aims at half the gap; later ones only run while the plan is
        # not yet within the gap at all
        if cost <= (target if rounds == 0 else certified) or more <= extra or clock.left() <= 0:
            break
        free = ~integral
        free[order[:more]] = True
        better, slack_left = place(free, assign, share=REPAIR_TIME_SHARE)
        if better is not None and slack_left <= SLACK_TOL:
            better_cost = problem.plan_cost(better) / problem.cost_scale
            if better_cost < cost:
                assign = _polish(problem, pi, pj, better, clock, stats, say, bound)
                cost = problem.plan_cost(assign) / problem.cost_scale
        extra, more = more, min(len(order), 2 * more)
    stats["repair_free_accounts"] = int(len(split) + extra)
    return assign, None


def _rounding(
    problem: Problem, layout: Layout, lp: BackendResult, x: FloatArray
) -> tuple[IntArray, BoolArray, IntArray, IntArray]:
    """The LP's values ``x`` rounded: each account's main territory, which accounts are
    integral, the split ones, and the integral ones in the order they are freed (none when
    none is split: nothing is freed then)."""
    best_x, best_j = per_account_max(problem, layout.pi, layout.pj, x)
    integral = best_x > 1 - INTEGRAL_TOL
    split = np.flatnonzero(~integral)
    if not len(split):
        return best_j, integral, split, split
    return best_j, integral, split, _freeing_order(problem, layout, lp, best_j, integral)


def _mend(
    problem: Problem, pi: IntArray, pj: IntArray, plan: IntArray, clock: Clock
) -> IntArray | None:
    """A plan out of band mended by the greedy repair, then by the transfer moves (shed, fill,
    swap, eject: :func:`.transfer.transfer_plan`), the plan's own pairs among the candidates;
    None unless every band and the moved cap hold. Where the repair's single moves stall (a
    band a hair out, the moved cap a few accounts short), swaps and ejects still find a way; on
    a restriction (:func:`_solve_decomposed`) they need the held accounts free. The repair
    moves along any candidate pair: only eligible ones may be given (the candidates hold every
    account's today's territory where it may stay)."""
    qi, qj = unique_pairs(np.r_[pi, np.arange(problem.n)], np.r_[pj, plan], problem.m)
    stop = lambda: clock.left() <= 0  # noqa: E731
    out, slack = repair_moves(problem, qi, qj, plan, stop=stop)
    if slack > SLACK_TOL:
        out, _, _ = transfer_plan(problem, qi, qj, start=out, stop=stop)
    return out if exact_violation(problem, out) == 0 else None


def _place_split(
    problem: Problem,
    backend: Backend,
    layout: Layout,
    lp_objective: float,
    clock: Clock,
    target: float,
    free: BoolArray,
    base: IntArray,
    share: float,
    least: float = REPAIR_MIN_S,
) -> tuple[IntArray | None, float]:
    """The ``free`` accounts placed by a MIP over their candidate pairs, the others held at
    ``base``, time-boxed (``share`` of the time left, at least ``least`` s); stops at the scaled
    cost ``target``. Returns the plan (None: no answer) and the slack it still needs."""
    s = problem.scenario.settings.solver
    pi, pj = layout.pi, layout.pj
    fixed_assign = np.where(free, -1, base)
    use = free[pi]
    # elastic: slack on every band and the moved cap at a big-M cost, so the rounded LP
    # (base, with slack filling what it violates) is a complete start and the MIP only has
    # to push the slack out; a plan counts only when no slack is left
    abs_gap = max(REPAIR_SHARE * problem.target_gap, 1e-4) * abs(lp_objective)
    # slack whose cost is below the MIP's own gap is slack it may keep: it would end at its
    # start, a rounding a hair outside one band, however many accounts were free
    slack_cost = max(SLACK_COST, abs_gap / SLACK_SEEN)
    model, sub = build_model(
        problem, pi[use], pj[use], fixed_assign=fixed_assign, integer=True,
        slack_cost=slack_cost,
    )  # fmt: skip
    start = _elastic_start(model, sub, (sub.pj == base[sub.pi]).astype(float))
    held = np.flatnonzero(~free)
    fixed_cost = float(problem.pair_costs(held, base[held]).sum()) / problem.cost_scale
    box = min(clock.left(), max(least, share * clock.left()))
    res: BackendResult = backend.solve(
        model,
        time_limit=box,
        gap=0.0,
        abs_gap=abs_gap,
        seed=s.seed,
        threads=s.threads,
        stop_at=target - fixed_cost,
        start=start,
    )
    if res.x is None:
        return None, math.inf
    out = fixed_assign.copy()
    chosen = res.x[: sub.n_pair_cols] > 0.5
    out[sub.pi[chosen]] = sub.pj[chosen]
    return out, float(res.x[sub.n_pair_cols :].sum())


def _cheaper(problem: Problem, a: IntArray, b: IntArray) -> bool:
    return problem.plan_cost(a) < problem.plan_cost(b)


def _polish(
    problem: Problem,
    pi: IntArray,
    pj: IntArray,
    assign: IntArray,
    clock: Clock,
    stats: dict[str, Any],
    say: Progress | None,
    bound: float | None,
) -> IntArray:
    """Local search (shift and swap moves that keep every band) on a plan, time-boxed."""
    t0 = time.perf_counter()
    box = max(POLISH_SHARE * clock.left(), POLISH_MIN_S)
    better, moves = local_search(problem, pi, pj, assign, deadline=t0 + min(box, clock.left()))
    stats["polish_moves"] = stats.get("polish_moves", 0) + moves
    stats["polish_s"] = round(stats.get("polish_s", 0.0) + time.perf_counter() - t0, 4)
    if moves and say is not None:
        say("incumbent", {"objective": problem.plan_cost(better), "bound": bound})
    return better


def _regroup(
    problem: Problem,
    backend: Backend,
    pi: IntArray,
    pj: IntArray,
    assign: IntArray,
    clock: Clock,
    stats: dict[str, Any],
    say: Progress | None,
    bound: float | None,
    certified: float,
    share: float = GROUPS_SHARE,
) -> tuple[IntArray, float]:
    """Exact MIPs over groups of neighbouring territories (:mod:`.neighbourhood`), until the
    plan is within the gap of the bound, a round gains nothing, or ``share`` of the time left
    is spent. Returns the plan and its scaled cost."""
    cs = problem.cost_scale
    before = problem.plan_cost(assign)
    if before <= certified * cs or clock.left() <= 0 or share <= 0:
        return assign, before / cs
    stop_at = certified * cs
    if bound is not None:
        stop_at = min(stop_at, (1 + problem.target_gap) * bound)

    def tell(better: IntArray, cost: float) -> None:
        if say is not None:
            say("incumbent", {"objective": cost, "bound": bound})

    s = problem.scenario.settings.solver
    out = improve_by_groups(
        problem, backend, pi, pj, assign,
        deadline=time.perf_counter() + share * clock.left(),
        stop_at=stop_at, seed=s.seed, workers=min(s.threads or 2, os.cpu_count() or 1),
        on_better=tell,
    )  # fmt: skip
    stats["groups"] = {
        "before": before, "after": out.cost, "solved": out.groups, "improved": out.improved,
        "rounds": out.rounds, "size": out.size, "seconds": round(out.seconds, 4),
        "unheld": out.unheld,
    }  # fmt: skip
    return out.assign, out.cost / cs


def _elastic_start(model: MatrixModel, layout: Layout, x_pairs: FloatArray) -> FloatArray:
    """A complete start of an elastic model: the pair values, slack covering every violation."""
    x = np.zeros(model.shape[1])
    x[: layout.n_pair_cols] = x_pairs
    act = model.A[:, : layout.n_pair_cols] @ x_pairs
    for kind, _k, _j, col in layout.elastic_cols:
        row = model.A.indices[model.A.indptr[col]]
        if kind == "over":
            x[col] = max(0.0, act[row] - model.row_hi[row])
        else:  # "under" and "moved": the slack adds to the row
            x[col] = max(0.0, model.row_lo[row] - act[row])
    return x


def _held(
    problem: Problem, pairs: tuple[np.ndarray, np.ndarray], out: Outcome, stats: dict[str, Any]
) -> Outcome:
    """The plan of ``out`` checked against every band from its own sums, and mended when it
    misses one within a solver's tolerance (see :func:`hold_exactly`); a plan that cannot be
    mended is no plan."""
    if out.kind != "plan" or out.assign is None:
        return out
    missed = exact_violation(problem, out.assign)
    if missed == 0.0:
        return out
    mended = hold_exactly(problem, *pairs, out.assign)
    stats["mended"] = {
        "missed": missed,
        "moves": None if mended is None else int((mended != out.assign).sum()),
    }
    if mended is None:
        return Outcome(
            "no_solution",
            bound=out.bound,
            message=f"the best plan found misses a band by {missed:.2g} of a mean target and "
            "could not be moved inside it; " + NO_PLAN,
        )
    objective = problem.plan_cost(mended)
    bound = out.bound if out.bound is None else min(out.bound, objective)
    return Outcome("plan", mended, objective, bound)


def _infeasible(
    problem: Problem, backend: Backend, clock: Clock, finish: Callable[..., Run]
) -> Run:
    s = problem.scenario.settings.solver
    limit = max(min(clock.left(), 60.0), 5.0)
    try:
        reasons = ranked_reasons(problem, backend, time_limit=limit, seed=s.seed)
    except AlignError as e:  # pragma: no cover - backend failure while explaining
        reasons = [str(e)]
    return finish("infeasible", reasons=reasons)
