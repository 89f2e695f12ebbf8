"""Greenfield design (the engine chooses the centres) and contiguous territories.

Greenfield is the balanced p-median of Hess et al. (1965): a variable ``x[i, c]`` for every unit
i and candidate centre c, ``x[c, c]`` opens the centre, exactly N centres open, every unit in one
open centre's territory, each open territory's balanced totals within their bands, cost
``travel * w_i * d(i, c)^p`` (p = 1: balanced p-median; p = 2: moment of inertia). The whole MIP
is solved, so the bound and gap are proven.

Contiguity (greenfield or fixed territories) adds the rows of :mod:`.contiguity` in a loop:
solve, find the pieces cut off from their territory, add their separator rows, solve again
(HiGHS has no lazy-constraint callback, so the loop re-solves; every contiguous plan met on the
way is kept as the incumbent and handed to the next round as a start). The model of every round
is a relaxation of the contiguous problem, so its bound is a valid bound throughout.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ..runs import Run
from ..scenario import Scenario
from ..settings import SolverSettings
from ..status import Status
from .backends import Backend, get_backend
from .common import Clock, make_run
from .contiguity import (
    Budget,
    Cut,
    Graph,
    account_graph,
    find_cuts,
    fractional_cuts,
    reachable_pairs,
)
from .diagnose import quick_checks
from .fixed import solve_fixed
from .formulation import MatrixModel, Problem, build_model, build_problem
from .local_search import Bands, ContiguousSearch, make_contiguous

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
Say = Callable[[str, dict[str, object]], None]


@dataclass
class PairModel:
    """A MIP whose first columns are unit-territory pairs ``(pi[p], pj[p])``."""

    model: MatrixModel
    pi: IntArray
    pj: IntArray
    n: int
    m: int
    roots: IntArray | None = None  # the unit always in territory t (-1: none)
    centre_of: IntArray | None = None  # greenfield: unit -> the territory it is the centre of
    _key: IntArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = self.pi * self.m + self.pj
        self._order = np.argsort(key, kind="stable")
        self._key = key[self._order]

    def columns(self, units: IntArray, t: int | IntArray) -> IntArray:
        """Columns of pairs (u, t) (t one territory or one per unit); -1 where none exists."""
        key = np.asarray(units, dtype=np.int64) * self.m + t
        pos = np.minimum(np.searchsorted(self._key, key), len(self._key) - 1)
        return np.where(self._key[pos] == key, self._order[pos], -1)

    def assignment(self, x: FloatArray) -> IntArray:
        """The territory of every unit in an integer solution."""
        on = x[: len(self.pi)] > 0.5
        out = np.full(self.n, -1, dtype=np.int64)
        out[self.pi[on]] = self.pj[on]
        return out

    def vector(self, assign: IntArray, ncol: int) -> FloatArray:
        """The 0/1 column vector of a plan (all other columns 0)."""
        x = np.zeros(ncol)
        cols = np.empty(self.n, dtype=np.int64)
        for t in range(self.m):
            units = np.flatnonzero(assign == t)
            cols[units] = self.columns(units, t)
        x[cols[cols >= 0]] = 1.0
        return x

    def add_rows(self, A: sp.spmatrix, lo: FloatArray, hi: FloatArray) -> None:
        mm = self.model
        self.model = MatrixModel(
            c=mm.c,
            A=sp.vstack([mm.A, A]).tocsc(),
            row_lo=np.r_[mm.row_lo, lo],
            row_hi=np.r_[mm.row_hi, hi],
            col_lo=mm.col_lo,
            col_hi=mm.col_hi,
            integer=mm.integer,
            offset=mm.offset,
        )


def cut_rows(pm: PairModel, cuts: list[Cut]) -> tuple[sp.csr_matrix, FloatArray, FloatArray]:
    """The rows of separator cuts: ``x[a,t] (+ x[b,t]) - sum_S x[s,t] <= 1 (0 with a root)``."""
    rows, cols, vals, hi = [], [], [], []
    for r, cut in enumerate(cuts):
        lhs = [pm.columns(np.array([cut.a]), cut.t)]
        coef = [np.ones(1)]
        if cut.b >= 0:
            lhs.append(pm.columns(np.array([cut.b]), cut.t))
            coef.append(np.ones(1))
        lhs.append(pm.columns(cut.separator, cut.t))
        coef.append(-np.ones(len(cut.separator)))
        c = np.concatenate(lhs)
        v = np.concatenate(coef)
        ok = c >= 0
        rows.append(np.full(int(ok.sum()), r))
        cols.append(c[ok])
        vals.append(v[ok])
        hi.append(1.0 if cut.b >= 0 else 0.0)
    ncol = pm.model.shape[1]
    A = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(cuts), ncol),
    )
    return A, np.full(len(cuts), -np.inf), np.array(hi)


def neighbour_rows(
    pm: PairModel, graph: Graph, *, skip_roots: bool
) -> tuple[sp.csr_matrix, FloatArray, FloatArray]:
    """``x[i,t] <= sum_{s in N(i)} x[s,t]``: a unit that shares its territory has a neighbour in it.

    Valid for a unit that is not its territory's centre (greenfield) or when no territory can be
    a single unit; callers decide.
    """
    A = graph.A.tocsr()
    deg = np.diff(A.indptr)
    pi, pj = pm.pi, pm.pj
    keep = np.ones(len(pi), dtype=bool)
    if skip_roots and pm.roots is not None:
        keep &= pi != pm.roots[pj]  # -1 (no root) never equals a unit
    p = np.flatnonzero(keep)
    r = np.arange(len(p))
    # neighbours of each pair's unit, paired with the same territory
    counts = deg[pi[p]]
    rep_rows = np.repeat(r, counts)
    starts = A.indptr[pi[p]]
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    nb = A.indices[np.repeat(starts, counts) + offs]
    nb_cols = pm.columns(nb, np.repeat(pj[p], counts))
    ok = nb_cols >= 0
    rows = np.r_[r, rep_rows[ok]]
    cols = np.r_[p, nb_cols[ok]]
    vals = np.r_[np.ones(len(p)), -np.ones(int(ok.sum()))]
    M = sp.csr_matrix((vals, (rows, cols)), shape=(len(p), pm.model.shape[1]))
    return M, np.full(len(p), -np.inf), np.zeros(len(p))


@dataclass
class LoopResult:
    status: str  # optimal | feasible | infeasible | no_solution
    assign: IntArray | None
    objective: float  # scaled model units
    bound: float  # scaled, -inf when unknown
    rounds: int
    cuts: int
    message: str = ""


def _cuts_of(
    pm: PairModel,
    graph: Graph | None,
    plan: IntArray,
    weight: FloatArray | None,
    budget: Budget | None,
) -> list[Cut]:
    """The separator rows a plan violates (none without a graph)."""
    if graph is None:
        return []
    return find_cuts(
        graph, plan, pm.m, roots=pm.roots, weight=weight, centre_of=pm.centre_of, budget=budget
    )


def solve_with_cuts(
    pm: PairModel,
    backend: Backend,
    graph: Graph | None,
    *,
    time_left: Callable[[], float],
    solver: SolverSettings,
    weight: FloatArray | None = None,
    start: IntArray | None = None,
    say: Say | None = None,
    budget: Budget | None = None,
    polish: Callable[[IntArray, float], IntArray | None] | None = None,
    improve: Callable[[IntArray], IntArray | None] | None = None,
) -> LoopResult:
    """Solve the pair MIP; with a graph, add separator rows until the plan is contiguous
    (length-bounded ones with a ``budget``, see :func:`.contiguity.find_cuts`).

    ``polish(plan, best)`` may turn a plan that is not contiguous into a contiguous one (better
    than ``best``, in model units), or give None; ``improve(plan)`` may turn any plan (the start,
    and every plan HiGHS reports) into a contiguous plan within the bands, or give None. Both
    run while HiGHS goes on with the round.
    """
    say = say or (lambda phase, info: None)
    best: IntArray | None = None
    best_obj = math.inf
    ncol = pm.model.shape[1]

    def offer(plan: IntArray | None) -> None:
        """Keep a contiguous plan within the bands if it beats the incumbent."""
        nonlocal best, best_obj
        if plan is None:
            return
        value = float(pm.model.c @ pm.vector(plan, ncol)) + pm.model.offset
        if value < best_obj - 1e-9:
            best, best_obj = plan, value

    if start is not None:
        offer(start)
        if improve is not None:
            offer(improve(start))
    bound = -math.inf
    rounds = n_cuts = 0
    if graph is not None and pm.roots is not None and (pm.roots >= 0).all():
        n_cuts += separate_root(pm, backend, graph, time_left, solver, say)
    pending: list[Cut] = []
    keys: set[tuple[int, int, int]] = set()

    def seen(x: FloatArray) -> bool:
        """Every improving plan of the round: keep it if contiguous, else collect its cuts."""
        plan = pm.assignment(x)
        if (plan < 0).any():
            return False
        cuts = _cuts_of(pm, graph, plan, weight, budget)
        if not cuts:
            offer(plan)
        for c in cuts:
            key = (c.t, c.a, c.b)
            if key not in keys:
                keys.add(key)
                pending.append(c)
        if improve is not None:
            offer(improve(plan))
        if cuts and polish is not None:  # the contiguous plan nearest to this cut one, if better
            offer(polish(plan, best_obj))
        # a cut plan without a contiguous one yet stops the round: it need not be proven
        # optimal; with one, the round runs on and raises the bound
        return bool(cuts) and best is None

    while True:
        rounds += 1
        left = time_left()
        if left <= 0.05:
            break
        x0 = pm.vector(best, pm.model.shape[1]) if best is not None and WARM_START else None
        pending.clear()
        keys.clear()
        # only plans better than the incumbent by more than the gap are worth finding: the
        # rest of the tree is pruned, and a round that finds none proves the incumbent
        cutoff = best_obj - solver.gap * abs(best_obj) if best is not None and CUTOFF else None
        res = backend.solve(
            pm.model,
            time_limit=left,
            gap=solver.gap,
            seed=solver.seed,
            threads=solver.threads,
            start=x0,
            on_solution=seen if graph is not None else None,
            cutoff=cutoff,
        )
        if res.status == Status.INFEASIBLE:
            if best is None:
                return LoopResult("infeasible", None, math.inf, math.inf, rounds, n_cuts)
            if cutoff is not None:  # nothing at or below the cutoff: the incumbent is proven
                bound = max(bound, cutoff)
                return LoopResult("optimal", best, best_obj, bound, rounds, n_cuts)
            break  # cannot happen with a contiguous incumbent; keep it
        if res.x is not None:
            seen(res.x)
        say(
            "contiguity",
            {"round": rounds, "cuts": len(pending), "objective": res.objective, "cutoff": cutoff},
        )
        # with a cutoff, HiGHS's bound covers only the plans below it: the others are at least
        # the cutoff, so the round's bound on the whole problem is the smaller of the two
        round_bound = res.bound if cutoff is None else min(res.bound, cutoff)
        if math.isfinite(round_bound):
            bound = max(bound, round_bound)  # any round's model relaxes the contiguous problem
        if best is not None and bound >= best_obj - solver.gap * abs(best_obj) - GAP_TOL:
            return LoopResult("optimal", best, best_obj, min(bound, best_obj), rounds, n_cuts)
        if not pending:
            break  # the time limit, or a round HiGHS ended without closing the gap
        n_cuts += len(pending)
        pm.add_rows(*cut_rows(pm, pending))
    if best is None:
        return LoopResult("no_solution", None, math.inf, bound, rounds, n_cuts, "time limit")
    return LoopResult("feasible", best, best_obj, min(bound, best_obj), rounds, n_cuts)


ROOT_ROUNDS = 20  # cutting rounds on the LP relaxation before the MIP
# HiGHS gets no start in the cut loop: each round's model is a relaxation, so its own plans beat
# the contiguous incumbent anyway, and with the start HiGHS 1.16 spent whole rounds in one
# sub-MIP presolve (counties-AR at +-0.5%: killed at the limit with a 1.4% gap; without the
# start, optimal in 14 s)
WARM_START = False
# each round after the first incumbent passes HiGHS a cutoff (the incumbent less the gap): at
# +-0.5%, over three seeds, counties-KS and OK proven in every seed (OK never was), AL proven
# once (never before); at +-5% faster in the median on 5 of 6 states, but two seed-runs of 18
# stalled in HiGHS (benchmarks/README.md, "The incumbent as a cutoff")
CUTOFF = True
GAP_TOL = 1e-6  # model units: HiGHS's own absolute gap (mip_abs_gap) also ends a round
ROOT_SHARE = 0.2  # of the time left, at most


def separate_root(
    pm: PairModel,
    backend: Backend,
    graph: Graph,
    time_left: Callable[[], float],
    solver: SolverSettings,
    say: Say,
) -> int:
    """Tighten the LP relaxation with separator rows its fractional solutions violate.

    Every territory needs a root (a unit always in it). Returns the number of rows added.
    """
    assert pm.roots is not None
    deadline = time_left() * (1 - ROOT_SHARE)
    added = 0
    npair = len(pm.pi)
    units = np.arange(pm.n)
    for rnd in range(ROOT_ROUNDS):
        if time_left() <= deadline:
            break
        mm = pm.model
        lp = MatrixModel(
            mm.c,
            mm.A,
            mm.row_lo,
            mm.row_hi,
            mm.col_lo,
            mm.col_hi,
            np.zeros_like(mm.integer),
            mm.offset,
        )
        res = backend.solve(lp, time_limit=time_left() - deadline, gap=0.0, seed=solver.seed)
        if res.x is None:
            break
        x = res.x[:npair]
        on = (x > 1e-3) & (pm.pi != pm.roots[pm.pj])
        pairs = list(zip(pm.pi[on].tolist(), pm.pj[on].tolist(), strict=True))

        def x_of(t: int, x: FloatArray = x) -> FloatArray:
            cols = pm.columns(units, t)
            return np.where(cols >= 0, x[np.maximum(cols, 0)], 0.0)

        cuts = fractional_cuts(graph, x_of, pairs, pm.roots)
        say("contiguity", {"lp_round": rnd + 1, "cuts": len(cuts), "bound": res.objective})
        if not cuts:
            break
        pm.add_rows(*cut_rows(pm, cuts))
        added += len(cuts)
    return added


# ---------------------------------------------------------------------------------------------
# greenfield


@dataclass
class Band:
    """One balanced column: values per unit and the band of every open territory (raw units)."""

    values: FloatArray
    lo: float
    hi: float


def hess_model(
    cost: FloatArray,
    bands: list[Band],
    count: int,
    cand: IntArray,
    keep: NDArray[np.bool_] | None = None,
) -> PairModel:
    """The balanced p-median: ``cost`` is (n, k) unit-to-candidate cost, ``keep`` (n, k) the
    pairs that may exist (default all; a centre's own pair is always kept).

    Columns: the kept pairs, unit-major. Rows: assignment (n), open count (1), linking
    ``x[i,c] <= x[cand[c],c]`` (one per kept pair off the centre), and per band two rows per
    candidate.
    """
    n, k = cost.shape
    keep = np.ones((n, k), dtype=bool) if keep is None else keep.copy()
    keep[cand, np.arange(k)] = True
    pi, pj = (a.astype(np.int64) for a in np.nonzero(keep))
    ncol = len(pi)
    index = np.full((n, k), -1, dtype=np.int64)
    index[pi, pj] = np.arange(ncol)
    centre_col = index[cand, np.arange(k)]
    rows_l, cols_l, vals_l, lo_l, hi_l = [], [], [], [], []
    r0 = 0
    # assignment
    rows_l.append(pi)
    cols_l.append(np.arange(ncol))
    vals_l.append(np.ones(ncol))
    lo_l.append(np.ones(n))
    hi_l.append(np.ones(n))
    r0 += n
    # open count
    rows_l.append(np.full(k, r0))
    cols_l.append(centre_col)
    vals_l.append(np.ones(k))
    lo_l.append(np.array([float(count)]))
    hi_l.append(np.array([float(count)]))
    r0 += 1
    # linking
    off = np.flatnonzero(pi != cand[pj])
    nl = len(off)
    rows_l += [r0 + np.arange(nl), r0 + np.arange(nl)]
    cols_l += [off, centre_col[pj[off]]]
    vals_l += [np.ones(nl), -np.ones(nl)]
    lo_l.append(np.full(nl, -np.inf))
    hi_l.append(np.zeros(nl))
    r0 += nl
    # bands: sum_i v_i x_ic - lo * x_cc >= 0 and sum_i v_i x_ic - hi * x_cc <= 0
    for b in bands:
        scale = max(abs(b.hi), 1e-12)
        v = b.values / scale
        for bound, is_lo in ((b.lo / scale, True), (b.hi / scale, False)):
            rows_l += [r0 + pj, r0 + np.arange(k)]
            cols_l += [np.arange(ncol), centre_col]
            vals_l += [v[pi], np.full(k, -bound)]
            lo_l.append(np.zeros(k) if is_lo else np.full(k, -np.inf))
            hi_l.append(np.full(k, np.inf) if is_lo else np.zeros(k))
            r0 += k
    total = ncol
    A = sp.csc_matrix(
        (np.concatenate(vals_l), (np.concatenate(rows_l), np.concatenate(cols_l))),
        shape=(r0, total),
    )
    A.sum_duplicates()
    model = MatrixModel(
        c=cost[pi, pj],
        A=A,
        row_lo=np.concatenate(lo_l),
        row_hi=np.concatenate(hi_l),
        col_lo=np.zeros(total),
        col_hi=np.ones(total),
        integer=np.ones(total, dtype=bool),
    )
    centre_of = np.full(n, -1, dtype=np.int64)
    centre_of[cand] = np.arange(k)
    return PairModel(model, pi, pj, n, k, roots=cand.astype(np.int64), centre_of=centre_of)


# ---------------------------------------------------------------------------------------------
# fixed territories, contiguous


def solve_contiguous(scenario: Scenario, *, progress: Say | None = None) -> Run:
    """Fixed territories (home bases given) with every territory one connected piece.

    The whole MIP over every eligible pair, the neighbour rows where they are valid, and
    separator rows added until the plan is connected. A locked account roots its territory.
    """
    s = scenario.settings
    clock = Clock(s.solver.time_limit_s)
    backend = get_backend(s.solver.name)
    problem = build_problem(scenario)
    stats: dict[str, object] = {"accounts": problem.n, "territories": problem.m}
    reasons = quick_checks(problem)
    if reasons:
        return make_run(
            scenario, problem, backend, clock, stats, "infeasible", None, reasons=reasons
        )
    graph = account_graph(scenario.adjacency, scenario.accounts["account_id"])
    assert graph is not None, "validation requires adjacency with contiguity"
    pi, pj = problem.all_pairs()
    # a locked account is always in its territory: it roots the territory's connectivity rows
    roots = np.full(problem.m, -1, dtype=np.int64)
    held = np.flatnonzero(problem.fixed >= 0)
    roots[problem.fixed[held][::-1]] = held[::-1]
    budgets = [
        Budget(r.values, r.hi)
        for r in problem.resources
        if r.kind in ("balance", "capacity") and r.group is None and (r.values >= 0).all()
    ]
    ok = np.ones(len(pi), dtype=bool)
    if (roots >= 0).any():
        rooted = np.flatnonzero(roots >= 0)
        where = np.full(problem.m, -1)
        where[rooted] = np.arange(len(rooted))
        on = where[pj] >= 0
        for b in budgets:  # L-fixing: the pairs too far (by the band) from their root go
            sub = Budget(b.values, b.hi[rooted])
            ok[on] &= reachable_pairs(graph, sub, roots[rooted])[where[pj[on]], pi[on]]
        ok |= problem.fixed[pi] == pj
    stats["pairs_fixed"] = int(len(pi) - ok.sum())
    pi, pj = pi[ok], pj[ok]
    model, _ = build_model(problem, pi, pj, integer=True)
    pm = PairModel(model, pi, pj, problem.n, problem.m, roots=roots)
    if _no_single_unit_territory(problem):
        pm.add_rows(*neighbour_rows(pm, graph, skip_roots=True))
    elif (roots >= 0).any():
        A, lo, hi = neighbour_rows(pm, graph, skip_roots=True)
        rooted = roots[pm.pj[pm.pi != roots[pm.pj]]] >= 0
        pm.add_rows(A[rooted], lo[rooted], hi[rooted])
    weight = problem.resources[0].values if problem.resources else None
    start, relaxed_bound = None, None
    if problem.n * problem.m >= SEARCH_MIN_PAIRS:
        start, relaxed_bound = contiguous_start(
            scenario, problem, graph, roots, clock, stats, progress
        )
    res = solve_with_cuts(
        pm,
        backend,
        graph,
        time_left=clock.left,
        solver=s.solver,
        weight=weight,
        start=start,
        say=progress,
        budget=(
            next((b for b in budgets if np.isfinite(b.hi).any()), None)
            if problem.n <= LCUT_MAX_UNITS
            else None
        ),
    )
    if relaxed_bound is not None and res.assign is not None:
        # the plan without contiguity bounds the contiguous one as well
        bound_scaled = max(res.bound, relaxed_bound / problem.cost_scale)
        bound_scaled = min(bound_scaled, res.objective)
        gap_ok = bound_scaled >= res.objective - s.solver.gap * abs(res.objective)
        res = replace(res, bound=bound_scaled, status="optimal" if gap_ok else res.status)
    stats.update(contiguity_rounds=res.rounds, contiguity_cuts=res.cuts, candidate_pairs=len(pi))
    why = []
    if res.status == Status.INFEASIBLE:
        why = [
            "no plan keeps every territory one connected piece within the bands; widen a "
            "tolerance, add adjacency, or turn constraints.contiguity off"
        ]
    bound = res.bound * problem.cost_scale if math.isfinite(res.bound) else -math.inf
    plan = res.assign is not None
    run = make_run(
        scenario,
        problem,
        backend,
        clock,
        stats,
        res.status,
        res.assign,
        objective=problem.plan_cost(res.assign) if res.assign is not None else None,
        bound=bound if plan or math.isfinite(bound) else None,
        reasons=why,
        message=res.message,
    )
    return run


# below this many account x territory pairs the exact loop alone is quick (state county cases,
# the fixed-centre solves inside greenfield): the relaxation and the search would only take its
# time (NH at +-0.5% took 60 s to prove infeasible instead of 3 s with them)
SEARCH_MIN_PAIRS = 5_000
START_SHARE = 0.2  # of the time limit, for the plan without contiguity that seeds the search
SEARCH_SHARE = 0.6  # of the time left after it, at most, for the contiguous local search
GIVE_UP = 10  # rounds without progress out of band before the search starts again
# length-bounded separators take a Dijkstra per unit of every separator: on thousands of units
# the rows of one round took longer than the round itself
LCUT_MAX_UNITS = 1_000


def contiguous_start(
    scenario: Scenario,
    problem: Problem,
    graph: Graph,
    roots: IntArray,
    clock: Clock,
    stats: dict[str, object],
    progress: Say | None,
) -> tuple[IntArray | None, float | None]:
    """A contiguous plan within the bands to start the cut loop from, and the bound (raw) of
    the problem without contiguity, which bounds the contiguous problem too.

    The plan without contiguity (the relaxation) is solved, each territory kept to its main
    piece and the rest grown back (:func:`.local_search.make_contiguous`), then improved by
    the contiguity-preserving local search. None when the search ends outside a band.
    """
    s = scenario.settings
    say = progress or (lambda phase, info: None)
    relaxed = replace(
        scenario,
        settings=s.model_copy(
            update={
                "constraints": s.constraints.model_copy(update={"contiguity": False}),
                "solver": s.solver.model_copy(
                    update={"time_limit_s": max(START_SHARE * clock.left(), 1.0)}
                ),
            }
        ),
    )
    run = solve_fixed(relaxed)
    bound = run.bound if run.bound is not None and math.isfinite(run.bound) else None
    if run.status == Status.OPTIMAL and run.objective is not None:
        bound = max(bound or -math.inf, float(run.objective) / (1 + s.solver.gap))
    stats["relaxation"] = {"status": run.status, "objective": run.objective, "bound": bound}
    all_rows = np.arange(problem.n)
    cost = problem.raw_costs(all_rows)
    allowed = problem.eligible_rows(all_rows)
    if run.has_plan and run.assignments is not None:
        seed = scenario.territory_index(run.assignments["territory_id"])
    else:  # nearest allowed territory
        seed = np.argmin(np.where(allowed, cost, np.inf), axis=1)
    plan = make_contiguous(graph, seed, cost, roots=roots, allowed=allowed)
    if (plan < 0).any():
        stats["search"] = {"status": "units out of reach", "units": int((plan < 0).sum())}
        return None, bound
    bands = [r for r in problem.resources if r.group is None]
    B = Bands(
        np.column_stack([r.values for r in bands]) if bands else np.zeros((problem.n, 1)),
        np.column_stack([r.lo for r in bands]) if bands else np.full((problem.m, 1), -np.inf),
        np.column_stack([r.hi for r in bands]) if bands else np.full((problem.m, 1), np.inf),
    )
    deadline = time.perf_counter() + SEARCH_SHARE * clock.left()
    for attempt in itertools.count():
        # a search stuck out of band starts again from the same plan with another seed:
        # which pair is redrawn first decides where a search gets stuck
        search = ContiguousSearch(
            graph, cost, B, plan, roots=roots, allowed=allowed, seed=s.solver.seed + attempt
        )
        search.run(deadline - time.perf_counter(), give_up=GIVE_UP)
        if search.violation() <= 0.0 or deadline - time.perf_counter() < 1.0:
            break
    search.check_whole()
    in_band = search.violation() <= 0.0 and _regions_ok(problem, search.assign)
    summary: dict[str, object] = {
        **search.summary(),
        "attempts": attempt + 1,
        "seconds": round(clock.elapsed(), 3),
    }
    stats["search"] = summary
    say("search", summary)
    return (search.assign if in_band else None), bound


def _regions_ok(problem: Problem, assign: IntArray) -> bool:
    """Whether a plan keeps every region band (the rows the search does not steer)."""
    for r in problem.resources:
        if r.group is None:
            continue
        load = r.load(assign, problem.m)
        if (load < r.lo - 1e-9).any() or (load > r.hi + 1e-9).any():
            return False
    return True


def _no_single_unit_territory(problem: Problem) -> bool:
    """True when no account alone reaches a territory's lower band (so each has 2+ accounts)."""
    for r in problem.resources:
        if r.kind == "balance" and float(r.values.max(initial=0.0)) < float(r.lo.min()) - 1e-12:
            return True
    return False


def length_fixing(
    graph: Graph, bands: list[Band], cand: np.ndarray
) -> tuple[np.ndarray, Budget | None]:
    """(n, k) the unit-candidate pairs a contiguous plan within the bands can use, and the
    budget of the length-bounded separator rows (the first band with non-negative values).

    A unit in the territory of centre c is joined to c by a path of members, whose total of
    any non-negative balanced column is at most the band's top: a pair whose lightest path is
    heavier cannot exist (L-fixing, Validi, Buchanan and Lykhovyd 2022).
    """
    keep = np.ones((graph.n, len(cand)), dtype=bool)
    budget = None
    for b in bands:
        if (b.values < 0).any() or not math.isfinite(b.hi):
            continue
        bb = Budget(b.values, np.full(len(cand), b.hi))
        keep &= reachable_pairs(graph, bb, cand).T
        budget = budget or bb
    return keep, budget
