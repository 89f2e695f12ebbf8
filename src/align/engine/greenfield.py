"""Greenfield: choose the territory centres among the accounts, then assign every account.

Small and mid-size problems (up to :data:`EXACT_PAIRS` unit-candidate pairs) are solved exactly
with the balanced p-median of :mod:`.districts` (contiguity by separator rows), warm-started
from the heuristic below when contiguity is off. Larger ones get that heuristic alone: seeded
k-means++ on the locations weighted by the first balanced column, each centre moved to the
nearest candidate account, an exact fixed-centre alignment, then alternating "best centre of each
territory" and re-alignment while it improves, with a Lagrangian bound. Contiguous ones seed
the contiguity-preserving local search with that plan (:func:`contiguous_search_plan`); above
:data:`NATIONAL_MIN_PAIRS` (a whole country's ZIP codes) a recursive bisection seeds it and the
bound is computed from sparse pairs (:func:`national_plan`).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..io import make_scenario
from ..runs import Run
from ..scenario import Scenario
from ..status import Status
from .backends import get_backend, stop_requested
from .beside import GRACE_S, Beside
from .common import Clock, make_run
from .contiguity import Graph, account_graph
from .districts import (
    LoopResult,
    hess_model,
    length_fixing,
    neighbour_rows,
    solve_contiguous,
    solve_with_cuts,
)
from .fixed import solve_fixed
from .formulation import build_problem
from .greenfield_bound import (
    BOUND_MAX_PAIRS,
    BOUND_METHOD,
    balance_bands,
    coords,
    lagrangian_bound,
    national_bound,
    unit_costs,
)
from .incumbent import SearchPolish
from .local_search import Bands, ContiguousSearch, make_contiguous
from .partition import bisect_plan, cut_off_units, piece_reasons

EXACT_PAIRS = 250_000  # unit x candidate pairs the exact model takes on
RECENTRE_ROUNDS = 6
HEURISTIC_SHARE = 0.3  # of the time limit, for the starting plan of the exact model
POLISH_SHARE = 0.4  # of the time left, for a contiguous plan around a cut plan's centres
POLISH_S = 20.0  # and at most this long


def centred_scenario(scenario: Scenario, centres: np.ndarray) -> Scenario:
    """The scenario with territory i's home base at account ``centres[i]`` (a fixed-centre one)."""
    kind, pts = coords(scenario)
    cols = ["lat", "lon"] if kind == "latlon" else ["x", "y"]
    ter = scenario.territories.copy()
    ter[cols[0]] = pts[centres, 0]
    ter[cols[1]] = pts[centres, 1]
    ter["centre_account"] = scenario.account_ids[centres]
    # region bands belong to the second step (group_regions): the territories have no region yet
    settings = scenario.settings.model_copy(update={"balance_regions": {}})
    return replace(scenario, territories=ter, settings=settings)


def anchored(scenario: Scenario) -> Scenario:
    """A centred scenario whose centre accounts are locked to their own territory."""
    acc = scenario.accounts.copy()
    centres = pd.Index(acc["account_id"]).get_indexer(scenario.territories["centre_account"])
    acc["current_territory"] = None
    acc.loc[centres, "current_territory"] = scenario.territories["territory_id"].to_numpy()
    locked = np.zeros(len(acc), dtype=bool)
    locked[centres] = True
    acc["locked"] = locked
    return replace(scenario, accounts=acc)


def _order(centres: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Centres numbered north to south, then west to east (stable names between runs)."""
    return centres[np.lexsort((pts[centres, 1], -pts[centres, 0]))]


def fixed_centres(scenario: Scenario, centres: np.ndarray, limit: float) -> tuple[Run, Scenario]:
    """The exact alignment around given centre accounts (each locked to its own territory),
    within ``limit`` seconds, and the fixed-centre scenario it solved."""
    fixed = anchored(centred_scenario(scenario, centres))
    s = scenario.settings
    fixed.settings = fixed.settings.model_copy(
        update={"solver": s.solver.model_copy(update={"time_limit_s": limit})}
    )
    return _solve_around(fixed), fixed


def _solve_around(fixed: Scenario) -> Run:
    """The alignment around chosen centres: contiguous when the scenario asks for it."""
    if fixed.settings.constraints.contiguity:
        return solve_contiguous(fixed)
    return solve_fixed(fixed)


def heuristic(
    scenario: Scenario, cand: np.ndarray, budget: float, say: Any
) -> tuple[Run | None, np.ndarray]:
    """k-means++ centres, fixed-centre alignment, alternating recentring: the best run found
    within ``budget`` seconds (None when no fixed-centre plan was found), and its centres."""
    from sklearn.cluster import KMeans

    clock = Clock(budget)
    s = scenario.settings
    kind, pts = coords(scenario)
    m = scenario.n_territories
    plane = _plane(kind, pts)
    first = next(iter(s.balance), None)
    weight = scenario.column(first) if first else np.ones(scenario.n_accounts)
    km = KMeans(n_clusters=m, init="k-means++", n_init=4, random_state=s.solver.seed)
    km.fit(plane, sample_weight=np.maximum(weight, 1e-9))
    centres = np.empty(m, dtype=np.int64)
    free = np.ones(len(cand), dtype=bool)
    for t, c in enumerate(km.cluster_centers_):
        d = np.hypot(*(plane[cand] - c).T)
        d[~free] = np.inf
        k = int(np.argmin(d))
        centres[t], free[k] = cand[k], False
    best: Run | None = None
    best_centres = centres
    cand_set = np.zeros(scenario.n_accounts, dtype=bool)
    cand_set[cand] = True
    for r in range(RECENTRE_ROUNDS):
        left = clock.left()
        if left < 0.5:
            break
        centres = _order(centres, pts)
        run, fixed = fixed_centres(scenario, centres, left)
        say("greenfield", {"round": r + 1, "objective": run.objective, "elapsed": clock.elapsed()})
        if not run.has_plan or run.objective is None:
            break
        if best is not None and best.objective is not None and run.objective >= best.objective:
            break
        best, best_centres = run, centres
        # each territory's best centre among its candidate members
        assert run.assignments is not None
        assign = fixed.territory_index(run.assignments["territory_id"])
        moved = False
        for t in range(m):
            members = np.flatnonzero(assign == t)
            options = members[cand_set[members]]
            if len(options) == 0:
                continue
            k = int(np.argmin(unit_costs(scenario, pts, kind, members, options).sum(axis=0)))
            if options[k] != centres[t]:
                centres = centres.copy()
                centres[t] = options[k]
                moved = True
        if not moved:
            break
    return best, best_centres


def solve_greenfield(scenario: Scenario, *, progress: Any = None) -> Run:
    """Choose the centres and the alignment; see the module docstring."""
    s = scenario.settings
    say = progress or (lambda phase, info: None)
    clock = Clock(s.solver.time_limit_s)
    backend = get_backend(s.solver.name)
    n, m = scenario.n_accounts, scenario.n_territories
    kind, pts = coords(scenario)
    acc = scenario.accounts
    cand = (
        np.flatnonzero(acc["candidate"].to_numpy(dtype=bool))
        if "candidate" in acc
        else np.arange(n)
    )
    graph = (
        account_graph(scenario.adjacency, acc["account_id"]) if s.constraints.contiguity else None
    )
    stats: dict[str, Any] = {"accounts": n, "territories": m, "candidates": len(cand)}
    exact = n * len(cand) <= EXACT_PAIRS
    heavy = heavy_units(scenario)
    if heavy:
        return Run(
            status=Status.INFEASIBLE,
            reasons=heavy,
            settings=s.model_copy(deep=True),
            scenario=scenario.name,
            stats=stats,
            wall_seconds=clock.elapsed(),
        )
    if graph is not None and n * len(cand) > NATIONAL_MIN_PAIRS:
        return national_plan(scenario, graph, cand, clock, stats, say)
    if graph is not None and not exact:
        return contiguous_search_plan(scenario, graph, cand, clock, stats, say)
    with_bound = not exact and n * len(cand) <= BOUND_MAX_PAIRS and bool(s.balance)
    budget = s.solver.time_limit_s * (
        HEURISTIC_SHARE if exact else (1.0 - BOUND_SHARE if with_bound else 1.0)
    )
    start_run, centres0 = heuristic(scenario, cand, budget, say)
    start_assign = None
    if start_run is not None and start_run.assignments is not None:
        stats["heuristic_objective"] = start_run.objective
        stats["heuristic_seconds"] = round(clock.elapsed(), 3)
        if not exact:
            return _heuristic_plan(scenario, start_run, centres0, cand, clock, stats, with_bound)
        pos = pd.Index(cand).get_indexer(pd.Index(centres0))
        plan = centred_scenario(scenario, centres0).territory_index(
            start_run.assignments["territory_id"]
        )
        start_assign = pos[plan]
    elif not exact:
        return Run(
            status=Status.NO_SOLUTION,
            message="no plan was found within the time limit",
            settings=s.model_copy(deep=True),
            scenario=scenario.name,
            wall_seconds=clock.elapsed(),
        )
    cost = unit_costs(scenario, pts, kind, np.arange(n), cand)
    scale = float(np.median(cost[cost > 0])) if (cost > 0).any() else 1.0
    bands = balance_bands(scenario)
    keep, lengths = None, None
    if graph is not None:
        keep, lengths = length_fixing(graph, bands, cand)
        stats["pairs_fixed"] = int(keep.size - keep.sum())
    pm = hess_model(cost / scale, bands, m, cand, keep)
    if graph is not None:
        pm.add_rows(*neighbour_rows(pm, graph, skip_roots=True))
    tried: set[tuple[int, ...]] = set()
    search = (
        SearchPolish(graph, cost, bands, m, cand, keep, seed=s.solver.seed, left=clock.left)
        if graph is not None
        else None
    )

    def polish(plan: np.ndarray, best: float) -> np.ndarray | None:
        """The best contiguous plan around the centres of a plan that is cut."""
        centres = _order(cand[np.unique(plan)], pts)
        key = tuple(sorted(centres.tolist()))
        left = clock.left()
        if len(centres) != m or key in tried or left < 1.0:
            return None
        tried.add(key)
        run, fixed = fixed_centres(scenario, centres, min(POLISH_S, POLISH_SHARE * left))
        say("greenfield", {"polish": run.status, "objective": run.objective})
        if not run.has_plan or run.assignments is None:
            return None
        pos = pd.Index(cand).get_indexer(pd.Index(centres))
        return pos[fixed.territory_index(run.assignments["territory_id"])]

    res = solve_with_cuts(
        pm,
        backend,
        graph,
        time_left=clock.left,
        solver=s.solver,
        start=start_assign,
        say=say,
        budget=lengths,
        polish=polish if graph is not None else None,
        improve=search.once if search is not None else None,
    )
    stats.update(contiguity_rounds=res.rounds, contiguity_cuts=res.cuts)
    if search is not None:
        stats["searches"] = search.calls
    if res.assign is None:
        return _without_plan(scenario, res, graph is not None, scale, stats, clock)
    centres = _order(cand[np.unique(res.assign)], pts)
    fixed = centred_scenario(scenario, centres)
    where = {int(c): t for t, c in enumerate(centres)}
    assign = np.array([where[int(cand[c])] for c in res.assign], dtype=np.int64)
    problem = build_problem(fixed)
    objective = problem.plan_cost(assign)
    bound = res.bound * scale if math.isfinite(res.bound) else -math.inf
    run = make_run(
        fixed, problem, backend, clock, stats, res.status, assign, objective=objective, bound=bound
    )
    return group_regions(run, scenario, clock.left())


def _heuristic_plan(
    scenario: Scenario,
    start_run: Run,
    centres0: np.ndarray,
    cand: np.ndarray,
    clock: Clock,
    stats: dict[str, Any],
    with_bound: bool,
) -> Run:
    """The heuristic's plan as the result (above the exact model's size), with the Lagrangian
    bound when ``with_bound``."""
    assert start_run.assignments is not None
    n = scenario.n_accounts
    kind, pts = coords(scenario)
    start_run.stats.update(stats, method="k-means++ centres, alternating re-alignment")
    start_run.bound, start_run.gap, start_run.status = None, None, Status.FEASIBLE
    objective = start_run.objective
    if with_bound and objective is not None:
        c0 = _order(centres0, pts)
        own = c0[
            centred_scenario(scenario, c0).territory_index(start_run.assignments["territory_id"])
        ]
        prices = np.zeros(n)
        for c in np.unique(own):
            rows = np.flatnonzero(own == c)
            prices[rows] = unit_costs(scenario, pts, kind, rows, np.array([c]))[:, 0]
        lower = lagrangian_bound(scenario, cand, prices, float(objective), clock.until(0.5))
        start_run.bound = min(lower, float(objective))
        start_run.gap = (float(objective) - start_run.bound) / max(abs(objective), 1e-12)
        start_run.stats["bound_method"] = BOUND_METHOD
    start_run.message = (
        f"greenfield on {n:,} accounts x {len(cand):,} candidate centres is above the "
        f"exact model's size ({EXACT_PAIRS:,} pairs): heuristic plan"
        + (", Lagrangian bound" if start_run.bound is not None else ", no bound")
    )
    start_run.wall_seconds = clock.elapsed()
    return group_regions(start_run, scenario, clock.left())


def _without_plan(
    scenario: Scenario,
    res: LoopResult,
    contiguous: bool,
    scale: float,
    stats: dict[str, Any],
    clock: Clock,
) -> Run:
    """The Run of an exact greenfield model that ended without a plan (infeasible, or none
    within the limits)."""
    s, m, graph = scenario.settings, scenario.n_territories, contiguous
    status = res.status
    reasons = []
    if status == Status.INFEASIBLE:
        reasons = [
            f"no plan of {m} territories{' that are contiguous' if graph else ''} keeps every "
            "balanced column within its band; widen a tolerance"
            + (" or turn contiguity off" if graph else "")
        ]
    bound = res.bound * scale if math.isfinite(res.bound) else None
    return Run(
        status=Status(status),
        bound=bound,
        reasons=reasons,
        message=res.message,
        settings=s.model_copy(deep=True),
        scenario=scenario.name,
        stats=stats,
        wall_seconds=clock.elapsed(),
    )


def heavy_units(scenario: Scenario) -> list[str]:
    """Reasons naming every account whose value of a balanced column alone is above the band's
    top (no plan can hold it), heaviest first."""
    s = scenario.settings
    m = scenario.n_territories
    ids = scenario.account_ids
    acc = scenario.accounts
    label = [f" ({x})" for x in acc["name"].astype(str)] if "name" in acc else [""] * len(ids)
    out = []
    for name, rule in s.balance.items():
        v = scenario.column(name)
        hi = v.sum() / m * (1 + rule.tolerance)
        over = np.flatnonzero(v > hi * (1 + 1e-12))
        for i in over[np.argsort(-v[over])]:
            out.append(
                f"account {ids[i]}{label[i]}: {name} {v[i]:,.6g} alone is above every "
                f"territory's band (at most {hi:,.6g} with {m} territories at "
                f"+-{rule.tolerance:.1%}); use fewer territories, widen "
                f"balance.{name}.tolerance, or split the account"
            )
    return out


SEED_SHARE = 0.2  # of the time limit: the plan without contiguity that seeds the search
BOUND_SHARE = 0.3  # of the time limit: the Lagrangian bound (in turn: solver.threads = 1)


def contiguous_search_plan(
    scenario: Scenario,
    graph: Graph,
    cand: np.ndarray,
    clock: Any,
    stats: dict[str, Any],
    say: Any,
) -> Run:
    """Contiguous greenfield above the exact model's size: a heuristic plan and a valid bound.

    The plan without contiguity (k-means++ centres, exact fixed-centre alignment, recentring:
    :func:`heuristic`) seeds the contiguity-preserving local search of
    :mod:`.local_search`, whose territories recentre on their best candidate member; the
    search goes on from its local optima by random redraws within the bands
    (:meth:`.ContiguousSearch.explore`). The bound is the Lagrangian bound of
    :mod:`.centre_bound` (valid for the contiguous problem too): in a child process beside the
    search from the seed plan on, both until the end (:mod:`.beside`), or with
    ``solver.threads = 1`` after the search, in :data:`BOUND_SHARE` of the time.
    """
    s = scenario.settings
    n, m = scenario.n_accounts, scenario.n_territories
    kind, pts = coords(scenario)
    loose = replace(
        scenario,
        settings=s.model_copy(
            update={"constraints": s.constraints.model_copy(update={"contiguity": False})}
        ),
    )
    seed_run, centres = heuristic(loose, cand, SEED_SHARE * s.solver.time_limit_s, say)
    if seed_run is None or seed_run.assignments is None:
        return Run(
            status=Status.NO_SOLUTION,
            message="no plan without contiguity was found to start from within the time limit",
            settings=s.model_copy(deep=True),
            scenario=scenario.name,
            stats=stats,
            wall_seconds=clock.elapsed(),
        )
    centres = _order(centres, pts)
    seed = centred_scenario(scenario, centres).territory_index(seed_run.assignments["territory_id"])
    stats["seed_objective"] = seed_run.objective
    stats["seed_seconds"] = round(clock.elapsed(), 3)
    is_cand = np.zeros(n, dtype=bool)
    is_cand[cand] = True
    all_units = np.arange(n)

    def recentre(members: np.ndarray) -> tuple[int, np.ndarray]:
        options = members[is_cand[members]]
        if len(options) == 0:
            options = members
        k = int(np.argmin(unit_costs(scenario, pts, kind, members, options).sum(axis=0)))
        c = int(options[k])
        return c, unit_costs(scenario, pts, kind, all_units, np.array([c]))[:, 0]

    cost = unit_costs(scenario, pts, kind, all_units, centres)
    plan = make_contiguous(graph, seed, cost, roots=centres)
    names, values, tol = _balanced(scenario)
    bands = Bands.around_mean(values, tol, m)
    search = ContiguousSearch(
        graph, cost, bands, plan, roots=centres, recentre=recentre, seed=s.solver.seed
    )
    bound_s = BOUND_SHARE * s.solver.time_limit_s if n * len(cand) <= BOUND_MAX_PAIRS else 0.0
    beside: Beside[float] | None = None
    if bound_s > 0 and names and s.solver.threads != 1:
        # the bound beside the search, both until the end (its start: the seed plan's costs)
        start = cost[all_units, seed]
        beside = Beside(
            lagrangian_bound,
            scenario,
            cand,
            start,
            float(start.sum()),
            clock.until(1.0),
        )
    reserve = 0.0 if beside is not None else bound_s  # the time after the search
    try:
        better = search.explore(max(clock.left() - reserve - 1.0, 1.0))
        stats["search"] = {
            **search.summary(),
            "kicks_better": better,
            "seconds": round(clock.elapsed(), 3),
        }
        say("search", dict(stats["search"]))
        if not search.in_band():
            return _out_of_band(scenario, stats, clock)
        fixed, problem, assign, objective = _final_plan(scenario, search)
        bound = -math.inf
        if beside is not None:
            bound = _collected(beside, clock, stats)
        elif bound_s > 0 and names:
            bound = lagrangian_bound(
                scenario,
                cand,
                search.cost[all_units, search.assign],
                objective,
                time.time() + min(bound_s, clock.left() - 0.5),
            )
            stats["bound_method"] = BOUND_METHOD
    finally:
        if beside is not None:
            beside.stop()  # a search stopped (Ctrl-C, out of band) stops the bound too
    stats["method"] = "contiguous local search from the plan without contiguity"
    backend = get_backend(s.solver.name)
    run = make_run(
        fixed, problem, backend, clock, stats, "feasible", assign, objective=objective, bound=bound
    )
    return group_regions(run, scenario, clock.left())


def _collected(beside: Beside[float], clock: Clock, stats: dict[str, Any]) -> float:
    """The bound computed beside the search (-inf, and why in ``stats["bound_error"]``, when
    its process gave none: a solve asked to stop does not wait for it)."""
    stopped = stop_requested()
    got = beside.value(0.0 if stopped else clock.left() + GRACE_S)
    stats["bound_method"] = BOUND_METHOD + ", beside the search"
    if got is None:
        why = "the solve was stopped before the bound" if stopped else "no value in time"
        stats["bound_error"] = beside.error or why
        return -math.inf
    return got


def _out_of_band(scenario: Scenario, stats: dict[str, Any], clock: Clock) -> Run:
    """The Run of a contiguous search that ended with a territory outside its band."""
    return Run(
        status=Status.NO_SOLUTION,
        message=(
            "the contiguous local search ended with a territory outside its band within "
            "the time limit; allow more time or widen a tolerance"
        ),
        settings=scenario.settings.model_copy(deep=True),
        scenario=scenario.name,
        stats=stats,
        wall_seconds=clock.elapsed(),
    )


def _final_plan(
    scenario: Scenario, search: ContiguousSearch
) -> tuple[Scenario, Any, np.ndarray, float]:
    """The search's plan as a fixed-centre scenario (territories numbered north to south),
    its problem, its assignment and its objective."""
    _, pts = coords(scenario)
    final = _order(search.roots.copy(), pts)
    where = {int(c): t for t, c in enumerate(final)}
    assign = np.array([where[int(search.roots[t])] for t in search.assign], dtype=np.int64)
    fixed = centred_scenario(scenario, final)
    problem = build_problem(fixed)
    return fixed, problem, assign, problem.plan_cost(assign)


REGION_TIME_S = 10.0  # at most, for grouping the territories into regions


def group_regions(run: Run, scenario: Scenario, left: float) -> Run:
    """Second step of a greenfield design: group the territories into ``territories.regions``.

    The territories become the units of a small greenfield problem of their own (located at
    their centres, carrying their balanced totals), banded by ``balance_regions`` (or, without
    it, by the territory bands), travel weighted by the first balanced column. Adds ``region``
    to the run's territories table and ``stats["regions"]``.
    """
    s = scenario.settings
    count = s.territories.regions
    if not count or not run.has_plan or run.territories is None:
        return run
    ter = run.territories
    kind = scenario.coord_kind or "xy"
    a, b = ("lat", "lon") if kind == "latlon" else ("x", "y")
    rules = s.balance_regions or s.balance
    cols = [c for c in rules if c in ter]
    units = pd.DataFrame(
        {
            "account_id": ter["territory_id"].astype(str),
            a: ter[f"centre_{a}"].to_numpy(),
            b: ter[f"centre_{b}"].to_numpy(),
        }
    )
    for c in cols:
        units[c] = ter[c].to_numpy()
    if "potential" not in units:
        units["potential"] = units[cols[0]] if cols else 1.0
    settings = {
        "territories": {"count": count},
        "balance": {c: {"tolerance": rules[c].tolerance} for c in cols},
        "objective": {
            "travel_weight": cols[0] if cols else "none",
            "distance_power": s.objective.distance_power,
        },
        "solver": {"time_limit_s": max(min(REGION_TIME_S, left), 1.0), "gap": s.solver.gap},
    }
    grouped = solve_greenfield(make_scenario(units, None, settings=settings))
    run.stats["regions"] = {"status": grouped.status, "gap": grouped.gap}
    if grouped.has_plan and grouped.assignments is not None:
        owner = grouped.assignments.set_index("account_id")["territory_id"]
        labels = {t: f"R{k + 1}" for k, t in enumerate(sorted(owner.unique()))}
        run.territories = ter.assign(
            region=ter["territory_id"].astype(str).map(owner).map(labels).to_numpy()
        )
    else:
        run.message = (run.message + "; " if run.message else "") + (
            f"the territories could not be grouped into {count} regions within the bands "
            f"({grouped.status})"
        )
    return run


NATIONAL_MIN_PAIRS = BOUND_MAX_PAIRS  # contiguous greenfield above this: national_plan
NATIONAL_BOUND_SHARE = 0.25  # of the time limit: the sparse Lagrangian bound of a national map
RECENTRE_OPTIONS = 256  # a territory's centre is the best of its members nearest its middle
REPORT_S = 30.0  # progress of the local search at least this often
FINISH_S = 5.0  # kept for the run's tables once the bound is done


def _balanced(scenario: Scenario) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The balanced columns' names, their values (n, B) and tolerances (B,); with none, one
    column of ones without a band (each unit counts one)."""
    s = scenario.settings
    names = list(s.balance)
    if not names:
        return names, np.ones((scenario.n_accounts, 1)), np.array([np.inf])
    values = np.column_stack([scenario.column(c) for c in names])
    return names, values, np.array([s.balance[c].tolerance for c in names])


def _plane(kind: str, pts: np.ndarray) -> np.ndarray:
    """Planar coordinates for cutting and seeding: equirectangular km about the mean latitude
    for lat/lon (fine for where to cut; distances themselves stay great-circle)."""
    if kind != "latlon":
        return pts
    return np.column_stack(
        (pts[:, 1] * 111.32 * math.cos(math.radians(pts[:, 0].mean())), pts[:, 0] * 110.57)
    )


def national_plan(
    scenario: Scenario,
    graph: Graph,
    cand: np.ndarray,
    clock: Clock,
    stats: dict[str, Any],
    say: Any,
) -> Run:
    """Contiguous greenfield on a map of tens of thousands of units (whole-country ZIP codes).

    A recursive bisection balanced on the first balanced column (:mod:`.partition`) gives every
    territory its share; each keeps its main piece of the graph (the rest grows into
    neighbours), its centre is its best member; the contiguity-preserving local search repairs
    the bands and then lowers the objective, reporting progress; the bound is the Lagrangian
    bound of :func:`.centre_bound.sparse_centre_bound` over every candidate centre.
    """
    s = scenario.settings
    n, m = scenario.n_accounts, scenario.n_territories
    kind, pts = coords(scenario)
    names, values, tol = _balanced(scenario)
    bands = Bands.around_mean(values, tol, m)
    pieces = cut_off_units(graph)
    if pieces:
        reasons, impossible = piece_reasons(
            pieces,
            scenario.account_ids,
            values[:, 0],
            names[0] if names else "accounts",
            float(bands.lo[0, 0]),
            float(bands.hi[0, 0]),
            m,
        )
        return Run(
            status=Status.INFEASIBLE if impossible else Status.NO_SOLUTION,
            reasons=reasons,
            message="the adjacency splits the map into pieces"
            + ("" if impossible else "; a map of this size is designed as one piece: link them"),
            settings=s.model_copy(deep=True),
            scenario=scenario.name,
            stats=stats,
            wall_seconds=clock.elapsed(),
        )
    plane = _plane(kind, pts)
    part = bisect_plan(plane, values[:, 0], m)
    is_cand = np.zeros(n, dtype=bool)
    is_cand[cand] = True
    all_units = np.arange(n)

    def best_member(members: np.ndarray) -> int:
        options = members[is_cand[members]]
        if len(options) == 0:
            options = members
        if len(options) > RECENTRE_OPTIONS:
            w = np.maximum(values[members, 0], 1e-12)
            mid = (plane[members] * w[:, None]).sum(axis=0) / w.sum()
            near = np.argsort(((plane[options] - mid) ** 2).sum(axis=1))[:RECENTRE_OPTIONS]
            options = options[near]
        k = int(np.argmin(unit_costs(scenario, pts, kind, members, options).sum(axis=0)))
        return int(options[k])

    def recentre(members: np.ndarray) -> tuple[int, np.ndarray]:
        c = best_member(members)
        return c, unit_costs(scenario, pts, kind, all_units, np.array([c]))[:, 0]

    centres = np.array([best_member(np.flatnonzero(part == t)) for t in range(m)])
    cost = np.empty((n, m))
    for t in range(m):
        cost[:, t] = unit_costs(scenario, pts, kind, all_units, centres[t : t + 1])[:, 0]
    plan = make_contiguous(graph, part, cost, roots=centres)
    search = ContiguousSearch(
        graph, cost, bands, plan, roots=centres, recentre=recentre, seed=s.solver.seed
    )
    stats["start"] = {
        "method": "recursive bisection",
        "objective": search.objective(),
        "violation": search.violation(),
        "seconds": round(clock.elapsed(), 3),
    }
    say("start", dict(stats["start"]))
    bound_s = NATIONAL_BOUND_SHARE * s.solver.time_limit_s if names else 0.0
    finish = min(FINISH_S, 0.1 * s.solver.time_limit_s)
    for rnd in itertools.count(1):
        if clock.left() - bound_s - finish <= 0.05:
            break
        before = search.summary()
        search.run(min(REPORT_S, clock.left() - bound_s - finish))
        now = search.summary()
        say("search", {"round": rnd, **now, "elapsed": round(clock.elapsed(), 1)})
        if now["violation"] <= 1e-12 and now["objective"] >= before["objective"] * (1 - 1e-9):
            break  # in band and no better within a whole run: the bound gets the time left
    stats["search"] = {**search.summary(), "seconds": round(clock.elapsed(), 3)}
    if not search.in_band():
        return _out_of_band(scenario, stats, clock)
    fixed, problem, assign, objective = _final_plan(scenario, search)
    bound = -math.inf
    if names and clock.left() > finish:
        bound = national_bound(scenario, cand, search, objective, clock, finish, say)
        stats["bound_method"] = BOUND_METHOD + ", sparse pairs"
    stats["method"] = "recursive bisection, contiguous local search"
    backend = get_backend(s.solver.name)
    run = make_run(
        fixed, problem, backend, clock, stats, "feasible", assign, objective=objective, bound=bound
    )
    return group_regions(run, scenario, clock.left())
