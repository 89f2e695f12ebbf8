"""The engine's fast parts: local search that keeps every rule, a plan first, threads honoured."""

from __future__ import annotations

import itertools
import sys
import threading
from pathlib import Path

import highspy
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from test_invariants import scenarios

import align
from align.engine import _highs_child, backends, first_plan, fixed, repair, size
from align.engine.common import Clock
from align.engine.formulation import build_model, build_problem
from align.engine.pricing import PricedLP
from align.engine.repair import SLACK_COST, SLACK_TOL, local_search, priced_plan

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from generate import SHAPES, settings_toml  # noqa: E402


def swap_case() -> align.Scenario:
    """Two reps at x=0 and x=10; four accounts of potential 10, each territory must hold 20.

    The plan {A9, C2} / {B1, D8} costs 9 + 2 + 9 + 2 = 22 (distance, unweighted); no single move
    keeps both bands, the swap A9 <-> B1 does and gives the optimum 1 + 2 + 1 + 2 = 6.
    """
    acc = pd.DataFrame(
        {
            "account_id": ["A9", "B1", "C2", "D8"],
            "x": [9.0, 1.0, 2.0, 8.0],
            "y": [0.0] * 4,
            "potential": [10.0] * 4,
        }
    )
    ter = pd.DataFrame({"territory_id": ["T1", "T2"], "x": [0.0, 10.0], "y": [0.0, 0.0]})
    conf = {
        "balance": {"potential": {"tolerance": 0.01}},
        "objective": {"travel_weight": "none"},
    }
    return align.make_scenario(acc, ter, settings=conf)


def test_local_search_swaps_two_accounts_when_no_single_move_keeps_the_bands() -> None:
    problem = build_problem(swap_case())
    pi, pj = problem.all_pairs()
    start = np.array([0, 1, 0, 1])
    assert problem.plan_cost(start) == pytest.approx(22.0)
    plan, moves = local_search(problem, pi, pj, start)
    assert moves == 1
    assert plan.tolist() == [1, 0, 0, 1]
    assert problem.plan_cost(plan) == pytest.approx(6.0)


def _violation(problem, plan: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    worst = repair.band_violation(problem, plan)
    if problem.moved_min_kept is not None:
        cur = problem.current
        kept = problem.measure[(cur >= 0) & (cur == plan)].sum() / problem.moved_scale
        worst = max(worst, problem.moved_min_kept - kept)
    return float(worst)


@pytest.mark.parametrize(
    "x",
    [
        [3.0, -1.0, 2.5, 0.0, -7.0],  # no ties: the fast unstable sort
        [1.0, -2.0, 1.0, 0.5, -2.0, 1.0],  # ties: equal values keep their order
        [0.5, np.nan, -1.0, np.nan, 2.0],  # NaN sorts last, in order
        [4.0],
        [],
    ],
)
def test_the_local_search_orders_moves_as_a_stable_sort_would(x: list[float]) -> None:
    """The moves are ordered by gain as ``np.argsort(kind="stable")`` would (the plan depends
    on which of two equal gains comes first), the faster sort used only where nothing ties."""
    a = np.array(x, dtype=float)
    assert repair._argsort_stable(a).tolist() == np.argsort(a, kind="stable").tolist()
    big = np.random.default_rng(5).integers(0, 50, 5000).astype(float)  # many ties
    assert (repair._argsort_stable(big) == np.argsort(big, kind="stable")).all()


def test_local_search_keeps_every_rule_and_never_costs_more() -> None:
    """Against enumeration: from the worst plan that holds every rule, the local search ends
    on a plan that still holds them, costs no more, and no less than the optimum."""

    @settings(
        max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(scenarios())
    def check(case) -> None:  # type: ignore[no-untyped-def]
        acc, ter, conf = case
        problem = build_problem(align.make_scenario(acc, ter, settings=conf))
        pi, pj = problem.all_pairs()
        locked = problem.fixed >= 0
        plans = []
        for combo in itertools.product(range(problem.m), repeat=problem.n):
            plan = np.array(combo)
            if (locked & (plan != problem.fixed)).any() or _violation(problem, plan) > 1e-9:
                continue
            plans.append((problem.plan_cost(plan), plan))
        if not plans:
            return
        best = min(c for c, _ in plans)
        worst, start = max(plans, key=lambda cp: cp[0])
        plan, _ = local_search(problem, pi, pj, start)
        assert _violation(problem, plan) <= 1e-9
        assert not (locked & (plan != problem.fixed)).any()
        assert best - 1e-6 <= problem.plan_cost(plan) <= worst + 1e-6

    check()


def _shape_scenario(name: str, n: int, m: int, seed: int, **solver: object) -> align.Scenario:
    sh = SHAPES[name]
    acc, ter = sh.generate(n, m, seed)
    text = settings_toml(seed=seed, max_moved_share=sh.max_moved_share, gap=0.005)
    import tomllib

    conf = tomllib.loads(text)
    conf["solver"].update(solver)
    return align.make_scenario(acc, ter, settings=conf)


@pytest.mark.parametrize("shape", ["capped", "light-rules"])
def test_the_candidate_pairs_keep_each_lock_alone_and_a_floor_under_every_pair_left_out(
    shape: str,
) -> None:
    """Candidates by k-d tree with locks (capped: no dense n x m work), and by the dense rows
    with segments (light-rules): a locked account's one pair is its lock, every other account
    keeps today's pair where it may stay, and no eligible pair left out costs less than the
    account's floor (pricing skips accounts by it)."""
    problem = build_problem(_shape_scenario(shape, 2000, 20, 1))
    locked = problem.fixed >= 0
    assert locked.any()
    assert problem._nearest_by_distance() is (shape == "capped")
    pi, pj = problem.nearest_pairs(6)
    rows = np.arange(problem.n)
    assert (np.bincount(pi, minlength=problem.n)[locked] == 1).all()
    assert (pj[locked[pi]] == problem.fixed[pi[locked[pi]]]).all()
    kept = np.zeros((problem.n, problem.m), dtype=bool)
    kept[pi, pj] = True
    elig = problem.eligible_rows(rows)
    today = np.flatnonzero(~locked & (problem.current >= 0))
    today = today[elig[today, problem.current[today]]]  # where its segment still allows it
    assert kept[today, problem.current[today]].all()
    assert (kept.sum(axis=1)[~locked] >= np.minimum(6, elig.sum(axis=1)[~locked])).all()
    left = elig & ~kept
    assert left.sum() > 0
    cost = problem.raw_costs(rows)
    assert (cost[left] >= np.broadcast_to(problem.pruned_floor[:, None], left.shape)[left]).all()
    assert np.isinf(problem.pruned_floor[locked]).all()


def _check_run(run: align.Run, sc: align.Scenario) -> None:
    """Every account once, every band, locks, segments and the moved cap, a true bound."""
    assert run.assignments is not None
    problem = build_problem(sc)
    tid = {t: j for j, t in enumerate(sc.territory_ids)}
    assert list(run.assignments["account_id"]) == list(sc.account_ids)
    plan = run.assignments["territory_id"].map(tid).to_numpy()
    assert _violation(problem, plan) <= 1e-7
    locked = problem.fixed >= 0
    assert (plan[locked] == problem.fixed[locked]).all()
    elig = problem.eligible_rows(np.arange(problem.n))
    assert elig[np.arange(problem.n), plan].all()
    assert run.objective == pytest.approx(problem.plan_cost(plan), rel=1e-9)
    assert run.bound is not None and run.bound <= run.objective * (1 + 1e-12)


@pytest.mark.parametrize(
    ("shape", "seed"), [("heavy", 2), ("wide-random", 1), ("light-rules", 2), ("capped", 1)]
)
@pytest.mark.usefixtures("lp_stopped")
def test_a_solve_without_the_main_plan_returns_the_first_plan(shape: str, seed: int) -> None:
    """The LP path stopped before its plan (as by the time limit or Ctrl-C): the Lagrangian
    rounding with repair is returned, valid under every rule, with its true bound and gap."""
    sc = _shape_scenario(shape, 1500, 15, seed, threads=1, time_limit_s=60.0)
    events: list[str] = []
    run = align.solve(sc, progress=lambda phase, info: events.append(phase))
    assert run.status == "feasible"
    first = run.stats["first_plan"]
    assert first["used"] is True
    assert 0 < first["held_s"] <= first["seconds"]  # it held before its local search ended
    assert "incumbent" in events
    _check_run(run, sc)
    assert run.gap is not None and 0 < run.gap < 1


@pytest.mark.parametrize(
    ("shape", "n", "m", "seed"),
    [("whale", 200, 5, 4), ("heavy", 1000, 12, 1), ("light-rules", 1000, 12, 3)],
)
@pytest.mark.usefixtures("lp_stopped")
def test_the_first_plan_mends_the_roundings_plan_where_its_repair_sticks(
    shape: str, n: int, m: int, seed: int
) -> None:
    """Books where the Lagrangian rounding's single-move repair cannot bring every band in (a
    large account, a one-segment territory short of accounts, no move that helps alone): the
    first plan is the rounding's plan mended by shed, fill and swap moves, valid under every
    rule."""
    sc = _shape_scenario(shape, n, m, seed, threads=1, time_limit_s=60.0)
    problem = build_problem(sc)
    pi, pj = problem.nearest_pairs(fixed.default_candidates(problem.m))
    assert priced_plan(problem, pi, pj)[1] > SLACK_TOL  # the rounding alone leaves a band broken
    run = align.solve(sc)
    assert run.status == "feasible"
    assert run.stats["first_plan"]["used"] is True
    assert run.stats["first_plan"]["method"] == "priced, mended"
    _check_run(run, sc)


def test_the_first_plan_is_there_while_its_local_search_runs(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """As soon as the first plan holds every rule it is announced and would be the rescue,
    not only once the local search has improved it (at 30,000 x 150 that search took 18 s)."""
    problem = build_problem(_shape_scenario("heavy", 1000, 12, 2))
    pairs = problem.nearest_pairs(fixed.default_candidates(problem.m))
    entered, release = threading.Event(), threading.Event()
    real = first_plan.local_search

    def held_back(*a, **k):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(60)
        return real(*a, **k)

    monkeypatch.setattr(first_plan, "local_search", held_back)
    fp = first_plan.FirstPlan(problem, pairs, Clock(120), background=True)
    try:
        assert entered.wait(60)
        held = fp.assign
        assert held is not None
        assert repair.exact_violation(problem, held) == 0.0
    finally:
        release.set()
        fp.stop(grace=True)
    assert fp.assign is not None
    assert repair.exact_violation(problem, fp.assign) == 0.0
    assert problem.plan_cost(fp.assign) <= problem.plan_cost(held)


@pytest.mark.usefixtures("lp_stopped")
def test_the_first_plan_falls_back_to_todays_plan_mended(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Where the rounding's plan cannot be mended either (made to fail here), today's plan
    mended is the first plan, valid under every rule."""
    sc = _shape_scenario("whale", 200, 5, 4, threads=1, time_limit_s=60.0)
    real = first_plan.transfer_plan
    starts: list[bool] = []

    def mend_fails(*a, **k):  # type: ignore[no-untyped-def]
        starts.append(k.get("start") is not None)
        plan, _, pairs = real(*a, **k)
        return plan, 1.0, pairs

    monkeypatch.setattr(first_plan, "transfer_plan", mend_fails)
    run = align.solve(sc)
    # the rounding's plan was mended (and made to fail) at every band middle
    assert starts == [True] * len(repair.PRICE_INNER)
    assert run.status == "feasible"
    assert run.stats["first_plan"]["method"] == "transfer"
    _check_run(run, sc)


@pytest.mark.parametrize("shape", ["heavy", "capped"])
def test_priced_plan_holds_every_rule_on_lumpy_books(shape: str) -> None:
    sc = _shape_scenario(shape, 3000, 30, 2)
    problem = build_problem(sc)
    pi, pj = problem.nearest_pairs(8)
    plan, left = priced_plan(problem, pi, pj)
    assert left <= SLACK_TOL
    assert _violation(problem, plan) <= 1e-7
    locked = problem.fixed >= 0
    assert (plan[locked] == problem.fixed[locked]).all()


@pytest.fixture
def fresh_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's HiGHS thread pool as in a new process: not sized yet (tests in one
    process run one at a time, so rebuilding the pool here disturbs no running solve)."""
    highspy.Highs.resetGlobalScheduler(True)
    monkeypatch.setattr(_highs_child, "_POOL", [])


def test_solver_threads_reach_the_lp_session_and_every_mip(monkeypatch, fresh_pool) -> None:  # type: ignore[no-untyped-def]
    sc = _shape_scenario("heavy", 1500, 15, 1, threads=2, time_limit_s=60.0)
    problem = build_problem(sc)
    pi, pj = problem.nearest_pairs(8)
    lp = PricedLP(problem, backends.get_backend("highs"), pi, pj, SLACK_COST)
    assert lp.session.h.getOptionValue("threads")[1] == 2
    seen: list[object] = []
    real = backends.HighsBackend.solve

    def spy(self, model, **kw):  # type: ignore[no-untyped-def]
        seen.append(kw.get("threads"))
        return real(self, model, **kw)

    monkeypatch.setattr(backends.HighsBackend, "solve", spy)
    run = align.solve(sc)
    assert run.status in ("optimal", "feasible")
    assert seen and set(seen) == {2}


def test_the_mip_worker_sets_the_threads_option(fresh_pool) -> None:  # type: ignore[no-untyped-def]
    sc = swap_case()
    problem = build_problem(sc)
    model, _ = build_model(problem, *problem.all_pairs(), integer=True)
    h = _highs_child.load(
        highspy, backends._arrays(model), time_limit=1.0, gap=0.0, seed=0, threads=2
    )
    assert h.getOptionValue("threads")[1] == 2


def _size_pool(threads: int) -> None:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    _highs_child.set_threads(highspy, h, threads)
    h.addVariable(0.0, 1.0)
    assert h.run() == highspy.HighsStatus.kOk


def test_a_solve_asking_for_other_threads_than_the_pool_has_still_proves_its_plan(
    fresh_pool,  # type: ignore[no-untyped-def]
) -> None:
    # HiGHS refuses an instance asking for another pool size than the process's (an error, no
    # solve): a sweep in Dask threads, a notebook or a service process solves after others did
    _size_pool(2)
    sc = align.load_scenario("tests/data/pfizer-22x4", overrides=["solver.threads=1"])
    run = align.solve(sc)
    assert run.status == "optimal"
    assert run.objective == pytest.approx(154.60, abs=0.005)  # the published optimum
    assert _highs_child._POOL == [2]  # the pool was left as it was


def test_a_worker_process_rebuilds_its_pool_for_the_threads_asked(  # type: ignore[no-untyped-def]
    fresh_pool, monkeypatch
) -> None:
    monkeypatch.setattr(_highs_child, "_RESET_POOL", True)  # as in the MIP worker process
    _size_pool(2)
    sc = swap_case()
    problem = build_problem(sc)
    model, _ = build_model(problem, *problem.all_pairs(), integer=True)
    h = _highs_child.load(
        highspy, backends._arrays(model), time_limit=5.0, gap=0.0, seed=0, threads=1
    )
    assert h.getOptionValue("threads")[1] == 1 and _highs_child._POOL == [1]
    assert h.run() == highspy.HighsStatus.kOk


def test_an_instance_too_large_for_the_machine_is_refused_before_it_starts(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sc = _shape_scenario("base", 1500, 15, 1)
    monkeypatch.setattr(size, "available_mib", lambda: 255.0)
    monkeypatch.setattr(fixed, "build_problem", lambda *a: pytest.fail("work started"))
    with pytest.raises(align.errors.NoSolutionError) as e:
        align.solve(sc)
    assert str(e.value) == (
        "scenario too large for this machine: 1,500 accounts x 9 candidate territories = "
        "13,500 pairs need about 257 MiB, 255 MiB are available; set solver.candidates = 5 "
        "(about 255 MiB), or run on a machine with more memory"
    )
    assert e.value.exit_code == 4
    monkeypatch.setattr(size, "available_mib", lambda: 100.0)
    with pytest.raises(align.errors.NoSolutionError, match="split the accounts into regions"):
        align.solve(sc)


def test_the_first_plan_is_reported_before_the_lp_is_solved() -> None:
    """With solver.threads = 1 the first plan is made in line: the progress shows it as the
    incumbent (with a bound below it) before the first LP round, and the solve goes on."""
    sc = _shape_scenario("heavy", 1500, 15, 2, threads=1, time_limit_s=60.0)
    events: list[tuple[str, dict]] = []
    run = align.solve(sc, progress=lambda phase, info: events.append((phase, dict(info))))
    phases = [p for p, _ in events]
    assert phases.index("incumbent") < phases.index("lp")
    first = events[phases.index("incumbent")][1]
    assert first["bound"] < first["objective"]
    assert run.status in ("optimal", "feasible")
    assert run.objective is not None and run.objective <= first["objective"] + 1e-6
    _check_run(run, sc)
