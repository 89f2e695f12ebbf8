"""solve(scenario) -> Run: LP with pricing, fix the integral part, a small MIP, honest status.

1. Candidates: each account's k cheapest eligible territories (plus today's).
2. LP relaxation over the candidates; widen k when pruning made it infeasible. Price every pruned
   pair with the LP duals and add the ones with negative reduced cost until none is left: the LP
   value is then a bound for the whole problem, not only the pruned one.
3. Dive on the LP with every band narrowed by a margin (room for rounding), fix the accounts it
   assigns integrally and solve the small MIP over the split ones, elastic (band slack at a
   big-M cost, warm-started from the rounding); a greedy move repair, then neighbourhoods of the
   territories still out of band, remove what slack is left.
4. If the gap to the LP bound is still above ``solver.gap``: a MIP over every pair whose reduced
   cost could still improve on the incumbent (reduced-cost fixing keeps this exact), warm-started.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import AlignError
from ..metrics import alignment_kpis, distances_of, territory_table
from ..runs import Run
from ..scenario import Scenario
from .backends import Backend, BackendResult, get_backend, lp_session, stop_requested
from .diagnose import elastic_reasons, quick_checks
from .formulation import (
    Layout,
    Problem,
    build_model,
    build_problem,
    pair_reduced_costs,
    reduced_costs,
    rule_duals,
    unique_pairs,
)

Progress = Callable[[str, dict[str, Any]], None]
PRICE_TOL = 1e-6  # a pruned pair enters when its scaled reduced cost is below -PRICE_TOL
INTEGRAL_TOL = 1e-6


class Clock:
    def __init__(self, limit: float):
        self.start = time.perf_counter()
        self.limit = limit

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        """Seconds left: none once the watcher asked the solve to stop (Ctrl-C)."""
        if stop_requested():
            return 0.0
        return max(self.limit - self.elapsed(), 0.0)


def solve(scenario: Scenario, *, progress: Progress | None = None) -> Run:
    """Assign every account to one territory, optimally within ``solver.gap`` when time allows.

    Returns a :class:`Run` whose status is ``optimal``, ``feasible`` (a plan, gap above the
    target), ``infeasible`` (with ``reasons``) or ``no_solution`` (no plan within the limits).
    """
    if scenario.greenfield:
        from .greenfield import solve_greenfield

        return solve_greenfield(scenario, progress=progress)
    if scenario.settings.constraints.contiguity:
        from .districts import solve_contiguous

        return solve_contiguous(scenario, progress=progress)
    s = scenario.settings
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
        return _make_run(scenario, problem, backend, clock, stats, status, assign, **kw)

    t0 = time.perf_counter()
    reasons = quick_checks(problem)
    phase("checks", t0)
    if reasons:
        return finish("infeasible", reasons=reasons)

    # --- 2. LP with pricing ------------------------------------------------------------------
    t0 = time.perf_counter()
    k = s.solver.candidates or default_candidates(problem.m)
    pi, pj = problem.nearest_pairs(k)
    # big-M slack on every band keeps the LP feasible while pricing brings in what it needs
    model, layout = build_model(problem, pi, pj, slack_cost=SLACK_COST)
    slack = np.arange(len(pi), model.shape[1])  # session columns of the slacks
    cols = np.arange(len(pi))  # session column of each pair
    session = lp_session(backend, model, seed=s.solver.seed)
    band_rows = np.arange(len(layout.accounts), model.shape[0])
    band_lo, band_hi = model.row_lo[band_rows], model.row_hi[band_rows]
    del model
    stats["phases"]["build"] += round(time.perf_counter() - t0, 4)  # candidates and the LP
    t0 = time.perf_counter()
    rounds = 0
    while True:
        rounds += 1
        say("lp", {"round": rounds, "pairs": len(pi), "elapsed": clock.elapsed()})
        lp = session.solve(time_limit=clock.left())
        if lp.status != "optimal" or lp.row_dual is None or lp.x is None:
            phase("lp", t0)
            return finish("no_solution", message=f"the LP relaxation was not solved ({lp.message})")
        new_i, new_j, shortfall = price(problem, lp.row_dual, layout, pi, pj)
        if len(new_i) == 0:
            break
        block, _ = build_model(problem, new_i, new_j)
        cols = np.r_[cols, session.ncol + np.arange(len(new_i))]
        session.add_columns(block)
        pi, pj = np.r_[pi, new_i], np.r_[pj, new_j]
        layout.pi, layout.pj, layout.n_pair_cols = pi, pj, len(pi)
    phase("lp", t0)
    if lp.x[slack].max(initial=0.0) > 1e-7:
        # with every pair priced, the LP itself needs slack: no plan can exist
        return _infeasible(problem, backend, clock, finish)
    lp.x = lp.x[cols]
    lp_bound = (lp.objective + shortfall) * problem.cost_scale
    stats.update(
        lp_rounds=rounds, candidate_pairs=len(pi), lp_objective=lp.objective * problem.cost_scale
    )

    # --- 2b. dive: fix the largest split accounts and re-solve the LP until few are split -----
    t0 = time.perf_counter()
    x0 = _tighten(session, band_rows, band_lo, band_hi, slack, cols, clock, stats)
    dive_x = _dive(problem, session, lp.x if x0 is None else x0, cols, layout, clock, stats)
    session.set_row_bounds(band_rows, band_lo, band_hi)
    phase("dive", t0)

    # --- 3. fix the integral part, MIP on the split accounts ---------------------------------
    t0 = time.perf_counter()
    say("repair", {"elapsed": clock.elapsed(), "bound": lp_bound})
    assign, split = _fix_and_solve(problem, backend, lp, dive_x, layout, clock, stats)
    phase("repair", t0)
    if assign is None:
        if split == "infeasible":
            return _infeasible(problem, backend, clock, finish)
        return finish(
            "no_solution", bound=lp_bound, message="no plan was found within the time limit"
        )

    objective = problem.plan_cost(assign)
    bound = lp_bound
    say("incumbent", {"objective": objective, "bound": bound, "elapsed": clock.elapsed()})

    # --- 4. close the gap exactly ------------------------------------------------------------
    if _gap(objective, bound) > s.solver.gap and clock.left() > 0:
        t0 = time.perf_counter()
        assign, objective, bound = _improve(
            problem, backend, lp, layout, assign, objective, bound, clock, stats
        )
        phase("improve", t0)
    return finish("plan", assign, objective=objective, bound=bound)


def default_candidates(m: int) -> int:
    return min(m, 8)


def price(
    problem: Problem,
    row_dual: np.ndarray,
    layout: Layout,
    pi: np.ndarray,
    pj: np.ndarray,
    *,
    threshold: float = -PRICE_TOL,
    per_account: int = 3,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Pruned pairs whose reduced cost is below ``threshold`` (at most ``per_account`` each).

    Also returns the Lagrangian shortfall ``sum_i min(0, min_j rc_ij)`` over pruned pairs: the LP
    value plus it is a valid bound of the full problem's LP.
    """
    m = problem.m
    duals = rule_duals(problem, layout, row_dual)
    rows_all = _may_price(problem, duals)
    # the candidate pairs of those accounts, sorted by account, to mark them per chunk
    in_set = np.zeros(problem.n, dtype=bool)
    in_set[rows_all] = True
    mine = np.flatnonzero(in_set[pi])
    mine = mine[np.argsort(pi[mine], kind="stable")]
    have_i, have_j = pi[mine], pj[mine]
    out_i, out_j = [], []
    shortfall = 0.0
    for rows in problem.iter_chunks(rows_all):
        rc = reduced_costs(problem, rows, duals)
        lo, hi = np.searchsorted(have_i, [rows[0], rows[-1] + 1])
        local = np.searchsorted(rows, have_i[lo:hi])
        rc[local, have_j[lo:hi]] = np.inf
        best = rc.min(axis=1)
        neg = best < 0
        shortfall += float(best[neg].sum())
        hit = np.flatnonzero(best < threshold)
        if not len(hit):
            continue
        sub = rc[hit]
        take = min(per_account, m)
        idx = np.argpartition(sub, take - 1, axis=1)[:, :take]
        vals = np.take_along_axis(sub, idx, axis=1)
        ok = vals < threshold
        out_i.append(np.repeat(rows[hit], take).reshape(len(hit), take)[ok])
        out_j.append(idx[ok])
    if not out_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), shortfall
    return np.concatenate(out_i), np.concatenate(out_j).astype(np.int64), shortfall


def _may_price(problem: Problem, duals, slack: float = 0.0) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Accounts whose pruned pairs may have a reduced cost below ``slack`` (sorted).

    A pruned pair costs at least ``problem.pruned_floor`` (raw), and its resource term is at
    least ``-max_j v_i y_j``; accounts where even that bound is >= ``slack`` are skipped (their
    pruned pairs cannot enter, nor add to the shortfall). Without a floor: every account.
    """
    if problem.pruned_floor is None:
        return np.arange(problem.n)
    lb = problem.pruned_floor / problem.cost_scale - duals.account
    for r, y in zip(problem.resources, duals.resource, strict=True):
        if len(y):
            lb = lb - np.maximum(r.values * y.max(), r.values * y.min())
    return np.flatnonzero(~(lb >= slack))


def _per_account_max(problem: Problem, pi: np.ndarray, pj: np.ndarray, x: np.ndarray):  # type: ignore[no-untyped-def]
    order = np.lexsort((-x, pi))
    first = np.r_[True, pi[order][1:] != pi[order][:-1]]
    top = order[first]
    best_x = np.zeros(problem.n)
    best_j = np.full(problem.n, -1, dtype=np.int64)
    best_x[pi[top]] = x[top]
    best_j[pi[top]] = pj[top]
    return best_x, best_j


NEIGHBOURHOOD_MIN = 200  # accounts freed around the split ones in the repair MIP
NEIGHBOURHOOD_PER_SPLIT = 4
NEIGHBOURHOOD_ROUNDS = 8  # at most; each doubles the neighbourhood
IMPROVE_MAX_PAIRS_PER_ACCOUNT = 10  # beyond this the exact MIP cannot help within the limits
REPAIR_MIN_S = 2.0  # the repair MIP's time box: this many seconds or the share below
REPAIR_TIME_SHARE = 0.15
FIRST_PLAN_TIME_SHARE = 0.02  # each attempt at a first plan gets this share (at least the min)
REPAIR_SHARE = 0.5  # the repair MIP stops within this share of solver.gap (absolute)
SLACK_TOL = 1e-7  # slack left in an elastic repair MIP's answer: not a plan
SLACK_COST = 1e6  # scaled cost of one mean target of band slack in the LP (big M)
DIVE_ROUNDS = 10
DIVE_STOP = 8  # leave this many split accounts or fewer to the small MIP


TIGHTEN = 0.1  # share of each band's width the dive keeps free, as room for rounding


def _tighten(session, rows, lo, hi, slack, cols, clock, stats):  # type: ignore[no-untyped-def]
    """Narrow every two-sided band by TIGHTEN of its width and re-solve the LP.

    Rounding a fractional plan moves each territory's load by up to a split account's size; an LP
    that keeps a margin inside every band leaves room for that. Returns the pair values of the
    narrowed LP, or None (bounds restored) when it needs band slack. The bound is not affected:
    it comes from the LP over the true bands.
    """
    both = np.isfinite(lo) & np.isfinite(hi)
    if not both.any() or TIGHTEN <= 0:
        return None
    margin = np.where(both, TIGHTEN * (hi - lo) / 2, 0.0)
    session.set_row_bounds(rows, lo + margin, hi - margin)
    res = session.solve(time_limit=clock.left())
    ok = res.status == "optimal" and res.x is not None and res.x[slack].max(initial=0.0) <= 1e-7
    stats["tightened"] = bool(ok)
    if not ok:
        session.set_row_bounds(rows, lo, hi)
        return None
    return res.x[cols]


def _dive(
    problem: Problem,
    session,
    x: np.ndarray,
    cols_of_pairs: np.ndarray,
    layout: Layout,
    clock: Clock,
    stats: dict,
) -> np.ndarray:  # type: ignore[no-untyped-def,type-arg]
    """Fix the larger half of the split accounts to their main territory, re-solve, repeat.

    Big accounts split by the LP are the hard part of rounding; fixing them while the LP can still
    move small accounts around them keeps the cost close to the bound. Returns the last LP
    solution (the bound is not affected: it comes from the LP before the dive).
    """
    pi, pj = layout.pi, layout.pj
    m = problem.m
    col_of = pd.Index(pi * m + pj)
    size = np.zeros(problem.n)
    for r in problem.resources:
        size = np.maximum(size, r.values)
    fixed: list[np.ndarray] = []
    rounds = 0
    for rounds in range(1, DIVE_ROUNDS + 1):  # noqa: B007 - reported below
        best_x, best_j = _per_account_max(problem, pi, pj, x)
        split = np.flatnonzero(best_x < 1 - INTEGRAL_TOL)
        if len(split) <= DIVE_STOP or clock.left() <= 0:
            break
        pick = split[np.argsort(-size[split], kind="stable")][: max(1, len(split) // 2)]
        cols = cols_of_pairs[col_of.get_indexer(pick * m + best_j[pick])]
        session.set_bounds(cols, np.ones(len(cols)), np.ones(len(cols)))
        res = session.solve(time_limit=clock.left())
        if res.status != "optimal" or res.x is None:
            session.set_bounds(cols, np.zeros(len(cols)), np.ones(len(cols)))
            break
        fixed.append(cols)
        x = res.x[cols_of_pairs]
    for cols in fixed:  # leave the session as it was
        session.set_bounds(cols, np.zeros(len(cols)), np.ones(len(cols)))
    stats["dive_rounds"] = rounds
    return x


def _fix_and_solve(problem, backend, lp, x, layout, clock, stats):  # type: ignore[no-untyped-def]
    """Keep what the LP assigns whole and place the split accounts with a small MIP.

    First the split accounts alone (freeing more, cheapest alternatives first, while that is
    infeasible): a plan within seconds. Then, if that plan is not yet within half the target gap
    of the bound, a neighbourhood around them, warm-started from it and time-boxed.
    """
    s = problem.scenario.settings.solver
    pi, pj = layout.pi, layout.pj
    best_x, best_j = _per_account_max(problem, pi, pj, x)
    integral = best_x > 1 - INTEGRAL_TOL
    split = np.flatnonzero(~integral)
    stats["split_accounts"] = int(len(split))
    if not len(split):
        return best_j, None
    # accounts whose alternatives are cheapest (in reduced cost) are freed first
    rc = pair_reduced_costs(problem, pi, pj, rule_duals(problem, layout, lp.row_dual))
    alt = np.full(problem.n, np.inf)
    other = pj != best_j[pi]
    np.minimum.at(alt, pi[other], rc[other])
    order = np.argsort(alt, kind="stable")
    order = order[integral[order]]
    target = (1 + REPAIR_SHARE * s.gap) * lp.objective  # scaled: stop once the plan is this good

    def place(free: np.ndarray, base: np.ndarray, share: float, least: float = REPAIR_MIN_S):  # type: ignore[no-untyped-def]
        fixed_assign = np.where(free, -1, base)
        use = free[pi]
        # elastic: slack on every band and the moved cap at a big-M cost, so the rounded LP
        # (base, with slack filling what it violates) is a complete start and the MIP only has
        # to push the slack out; a plan counts only when no slack is left
        model, sub = build_model(
            problem, pi[use], pj[use], fixed_assign=fixed_assign, integer=True,
            slack_cost=SLACK_COST,
        )  # fmt: skip
        start = _elastic_start(model, sub, (sub.pj == base[sub.pi]).astype(float))
        held = np.flatnonzero(~free)
        fixed_cost = float(problem.pair_costs(held, base[held]).sum()) / problem.cost_scale
        box = min(clock.left(), max(least, share * clock.left()))
        res: BackendResult = backend.solve(
            model,
            time_limit=box,
            gap=0.0,
            abs_gap=max(REPAIR_SHARE * s.gap, 1e-4) * abs(lp.objective),
            seed=s.seed,
            stop_at=target - fixed_cost,
            start=start,
        )
        if res.x is None:
            return None, math.inf
        out = fixed_assign.copy()
        chosen = res.x[: sub.n_pair_cols] > 0.5
        out[sub.pi[chosen]] = sub.pj[chosen]
        return out, float(res.x[sub.n_pair_cols :].sum())

    # 1. the split accounts first, then, while slack is left, neighbourhoods of the territories
    #    still out of their bands (each warm-started from the least-slack plan so far)
    base, base_slack = best_j, math.inf
    extra, attempts, stalled = 0, 0, 0
    while True:
        free = ~integral
        if attempts:
            near = _near_violations(problem, pi, pj, base)
            pick = order[near[order]]
            free[pick[:extra]] = True
            free[order[: extra // 4]] = True
        attempts += 1
        # a MIP that could not reduce the slack gets twice the time next
        least = REPAIR_MIN_S * 2**stalled
        out, slack_left = place(free, base, share=FIRST_PLAN_TIME_SHARE, least=least)
        if out is not None and slack_left > SLACK_TOL:
            out, slack_left = _repair_moves(problem, pi, pj, out)
        if out is not None and slack_left <= SLACK_TOL:
            assign = out
            break
        if out is not None and slack_left < base_slack * (1 - 1e-3):
            base, base_slack, stalled = out, slack_left, 0
        else:
            stalled += 1
        if clock.left() <= 0:
            return None, "time"
        if extra < len(order):
            # more freedom makes a plan easier to find
            extra = min(len(order), max(2 * extra, NEIGHBOURHOOD_MIN))
            continue
        return _whole_mip(problem, backend, pi, pj, clock, infeasible=False)
    stats["first_plan_attempts"] = attempts
    # 2. neighbourhoods around them, warm-started from the plan so far, growing while the plan is
    #    not yet within half the target gap of the bound
    cost = problem.plan_cost(assign) / problem.cost_scale
    more = min(len(order), max(2 * extra, NEIGHBOURHOOD_MIN, NEIGHBOURHOOD_PER_SPLIT * len(split)))
    certified = (1 + s.gap) * lp.objective
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
                assign, cost = better, better_cost
        extra, more = more, min(len(order), 2 * more)
    stats["repair_free_accounts"] = int(len(split) + extra)
    return assign, None


def _violation(r, load: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.maximum(load - r.hi, 0.0) + np.maximum(r.lo - load, 0.0)


def _repair_moves(
    problem: Problem, pi: np.ndarray, pj: np.ndarray, assign: np.ndarray, *, rounds: int = 200
) -> tuple[np.ndarray, float]:
    """Greedy single moves along candidate pairs that reduce the band and cap violations.

    Each round scores every move out of or into a territory that violates a band by the elastic
    objective (scaled cost change + SLACK_COST x violation change) and makes the best moves that
    touch distinct territories. Returns the plan and its remaining total violation (scaled).
    """
    assign = assign.copy()
    m = problem.m
    cs = problem.cost_scale
    cur = problem.current
    capped = problem.moved_min_kept is not None
    has_cur = cur >= 0
    for _ in range(rounds):
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
        ci, cb = pi[sel], pj[sel]
        if not len(ci):
            return assign, total
        ca = assign[ci]
        dv = np.zeros(len(ci))
        for r, load in zip(problem.resources, loads, strict=True):
            v = r.values[ci]
            ga, gb = (ca, cb) if r.group is None else (r.group[ca], r.group[cb])
            diff = ga != gb
            la, lb = load[ga], load[gb]
            lo_a, hi_a, lo_b, hi_b = r.lo[ga], r.hi[ga], r.lo[gb], r.hi[gb]
            da = (
                np.maximum(la - v - hi_a, 0) + np.maximum(lo_a - la + v, 0)
                - np.maximum(la - hi_a, 0) - np.maximum(lo_a - la, 0)
            )  # fmt: skip
            db = (
                np.maximum(lb + v - hi_b, 0) + np.maximum(lo_b - lb - v, 0)
                - np.maximum(lb - hi_b, 0) - np.maximum(lo_b - lb, 0)
            )  # fmt: skip
            dv += np.where(diff, da + db, 0.0)
        if capped:
            mk = problem.measure[ci] / problem.moved_scale
            dk = np.where(cur[ci] == cb, mk, 0.0) - np.where(cur[ci] == ca, mk, 0.0)
            lo_k = problem.moved_min_kept
            dv += np.maximum(lo_k - kept - dk, 0) - np.maximum(lo_k - kept, 0)  # type: ignore[operator]
        dc = (problem.pair_costs(ci, cb) - problem.pair_costs(ci, ca)) / cs
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
            assign[ci[q]] = b
            touched[a] = touched[b] = True
            moved_any = True
            if capped:
                break  # the cap is one row shared by every move: one at a time
        if not moved_any:
            return assign, total
    return assign, total


def _near_violations(
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
    if problem.moved_min_kept is not None:
        cur = problem.current
        kept = float(problem.measure[(cur >= 0) & (cur == assign)].sum()) / problem.moved_scale
        if kept < problem.moved_min_kept - 1e-9:
            near |= (cur >= 0) & (cur != assign)
    return near


def _elastic_start(model, layout: Layout, x_pairs: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
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


def _whole_mip(problem, backend, pi, pj, clock, *, infeasible: bool):  # type: ignore[no-untyped-def]
    """The whole MIP: over the candidates, or over every eligible pair when those admit no plan."""
    s = problem.scenario.settings.solver
    sets = [problem.all_pairs()] if infeasible else [(pi, pj), problem.all_pairs()]
    for ai, aj in sets:
        model, sub = build_model(problem, ai, aj, integer=True)
        res = backend.solve(model, time_limit=clock.left(), gap=s.gap, seed=s.seed)
        if res.status != "infeasible":
            break
    if res.x is None:
        return None, "infeasible" if res.status == "infeasible" else "time"
    chosen = res.x[: sub.n_pair_cols] > 0.5
    assign = np.full(problem.n, -1, dtype=np.int64)
    assign[sub.pi[chosen]] = sub.pj[chosen]
    return assign, None


def _improve(problem, backend, lp, layout, assign, objective, bound, clock, stats):  # type: ignore[no-untyped-def]
    """MIP over every pair that could improve the incumbent (reduced-cost fixing), warm-started."""
    s = problem.scenario.settings.solver
    cs = problem.cost_scale
    delta = (objective - bound) / cs + 1e-9
    duals = rule_duals(problem, layout, lp.row_dual)
    # candidate pairs by their reduced cost; pruned ones only of accounts where one may qualify
    rc_pairs = pair_reduced_costs(problem, layout.pi, layout.pj, duals)
    near = rc_pairs <= delta
    keep_i, keep_j = [layout.pi[near]], [layout.pj[near]]
    for rows in problem.iter_chunks(_may_price(problem, duals, slack=delta + 1e-9)):
        rc = reduced_costs(problem, rows, duals)
        ii, jj = np.nonzero(rc <= delta)
        keep_i.append(rows[ii])
        keep_j.append(jj.astype(np.int64))
    idx = np.arange(problem.n)
    pi, pj = unique_pairs(
        np.r_[np.concatenate(keep_i), idx], np.r_[np.concatenate(keep_j), assign], problem.m
    )
    stats["improve_pairs"] = int(len(pi))
    if len(pi) > max(20_000, IMPROVE_MAX_PAIRS_PER_ACCOUNT * problem.n):
        # the gap is too wide for reduced-cost fixing to shrink the MIP: it would be the whole
        # problem, which does not finish in time; the plan stands with its true gap
        stats["improve_skipped"] = "too many pairs could still improve the plan"
        return assign, objective, bound
    model, sub = build_model(problem, pi, pj, integer=True)
    start = (sub.pj == assign[sub.pi]).astype(float)
    res = backend.solve(model, time_limit=clock.left(), gap=s.gap, seed=s.seed, start=start)
    if res.x is not None:
        chosen = res.x[: sub.n_pair_cols] > 0.5
        cand = np.full(problem.n, -1, dtype=np.int64)
        cand[sub.pi[chosen]] = sub.pj[chosen]
        value = problem.plan_cost(cand) if (cand >= 0).all() else math.inf
        if value < objective:
            assign, objective = cand, value
    if math.isfinite(res.bound):
        # solutions outside the kept pairs cost more than the old incumbent
        bound = max(bound, min(res.bound * cs, objective))
    return assign, objective, bound


def _gap(objective: float, bound: float) -> float:
    if not math.isfinite(bound):
        return math.inf
    return max(objective - bound, 0.0) / max(abs(objective), 1e-9)


def _infeasible(problem: Problem, backend: Backend, clock: Clock, finish):  # type: ignore[no-untyped-def]
    s = problem.scenario.settings.solver
    limit = max(min(clock.left(), 60.0), 5.0)
    try:
        reasons = elastic_reasons(problem, backend, time_limit=limit, seed=s.seed)
    except AlignError as e:  # pragma: no cover - backend failure while explaining
        reasons = [str(e)]
    return finish("infeasible", reasons=reasons)


def _make_run(
    scenario: Scenario,
    problem: Problem,
    backend: Backend,
    clock: Clock,
    stats: dict[str, Any],
    status: str,
    assign: np.ndarray | None,
    *,
    objective: float | None = None,
    bound: float | None = None,
    reasons: list[str] | None = None,
    message: str = "",
) -> Run:
    s = scenario.settings
    t_out = time.perf_counter()
    run = Run(
        status=status,
        solver=backend.name,
        settings=s.model_dump(),
        input_hash=scenario.input_hash,
        version=__version__,
        scenario=scenario.name,
        scenario_path=str(scenario.source.resolve()) if scenario.source else "",
        reasons=reasons or [],
        message=message,
        stats=stats,
    )
    kpis: dict[str, dict[str, float]] = {}
    if (scenario.current >= 0).any():
        kpis["before"] = alignment_kpis(scenario, scenario.current)
    if assign is not None:
        assert objective is not None and bound is not None
        bound = min(bound, objective)  # a bound never claims to beat the plan
        gap = _gap(objective, bound)
        run.status = "optimal" if gap <= s.solver.gap + 1e-12 else "feasible"
        run.objective, run.bound, run.gap = objective, bound, gap
        after = alignment_kpis(scenario, assign)
        kpis["after"] = after
        run.terms = {"TRAVEL": after["travel"], "MOVED": after["disruption"]}
        run.assignments = assignment_table(scenario, assign)
        run.territories = territory_table(scenario, assign)
        run.account_shapes = scenario.shapes
        stats["max_band_violation"] = band_violation(problem, assign)
    elif bound is not None and math.isfinite(bound):
        run.bound = bound
    run.kpis = kpis
    stats.setdefault("phases", {})["output"] = round(time.perf_counter() - t_out, 4)  # KPIs, tables
    run.wall_seconds = clock.elapsed()
    return run


def assignment_table(scenario: Scenario, assign: np.ndarray) -> pd.DataFrame:
    tids = scenario.territory_ids
    cur = scenario.current
    prev = pd.Series(tids[np.maximum(cur, 0)]).where(cur >= 0, None).to_numpy()
    return pd.DataFrame(
        {
            "account_id": scenario.account_ids,
            "territory_id": tids[assign],
            "previous_territory": prev,
            "moved": (cur >= 0) & (cur != assign),
            "distance": distances_of(scenario, assign),
        }
    )


def band_violation(problem: Problem, assign: np.ndarray) -> float:
    """Largest relative violation of a band or capacity by a plan (0 when all hold)."""
    worst = 0.0
    for r in problem.resources:
        load = r.load(assign, problem.m)
        over = np.where(np.isfinite(r.hi), load - r.hi, 0.0)
        under = np.where(np.isfinite(r.lo), r.lo - load, 0.0)
        worst = max(worst, float(np.max(over)), float(np.max(under)))
    return max(worst, 0.0)
