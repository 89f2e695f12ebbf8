"""The first plan under a tight moved cap: today's plan mended by shed, fill and swap moves
(``engine/transfer.py``) keeps every rule, and spends no more of the cap than it has."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from test_invariants import scenarios

import align
from align.engine import fixed, transfer
from align.engine.diagnose import least_moved_share
from align.engine.fixed import _whole
from align.engine.formulation import Problem, build_problem
from align.engine.repair import SLACK_TOL, exact_violation, priced_plan
from align.engine.transfer import transfer_plan

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from generate import SHAPES, settings_toml  # noqa: E402


def _rules_broken(problem: Problem, plan: np.ndarray, cap: float) -> list[str]:
    """Every rule checked from the plan's own sums, apart from the engine's checks."""
    broken = []
    for r in problem.resources:
        load = np.bincount(plan, weights=r.values, minlength=problem.m)
        if r.group is not None:
            load = np.bincount(r.group, load, len(r.lo))
        if (load > r.hi + 1e-9).any() or (load < r.lo - 1e-9).any():
            broken.append(f"band {r.name}")
    locked = problem.fixed >= 0
    if (plan[locked] != problem.fixed[locked]).any():
        broken.append("lock")
    if not problem.eligible_rows(np.arange(problem.n))[np.arange(problem.n), plan].all():
        broken.append("segment")
    has = problem.current >= 0
    moved = problem.measure[has & (plan != problem.current)].sum()
    if moved > cap * problem.measure[has].sum() + 1e-9:
        broken.append("moved cap")
    return broken


def two_reps(cap: float) -> align.Scenario:
    """Five accounts of potential 10 with T1 today, one with T2; each territory must hold
    30 +-10%. T1 (50) must shed at least 17 and T2 (10) take in at least 17: two accounts
    move (one third), and no plan in band moves fewer."""
    acc = pd.DataFrame(
        {
            "account_id": ["A", "B", "C", "D", "E", "F"],
            "x": [1.0, 2.0, 3.0, 8.0, 9.0, 9.5],
            "y": [0.0] * 6,
            "potential": [10.0] * 6,
            "current_territory": ["T1"] * 5 + ["T2"],
        }
    )
    ter = pd.DataFrame({"territory_id": ["T1", "T2"], "x": [0.0, 10.0], "y": [0.0, 0.0]})
    conf = {
        "balance": {"potential": {"tolerance": 0.1}},
        "objective": {"travel_weight": "none"},
        "constraints": {"max_moved_share": cap},
    }
    return align.make_scenario(acc, ter, settings=conf)


@pytest.mark.parametrize(("n", "m", "seed"), [(1000, 20, 1), (1500, 15, 2)])
def test_accounts_whose_owner_the_rules_no_longer_allow_start_on_an_allowed_territory(
    n: int, m: int, seed: int
) -> None:
    """One-segment territories hold accounts of other segments today (42 and 104 of them were
    left there, the second with every band held, so a plan breaking the segment rule counted as
    a plan): every account now starts on one of its candidates, and no plan, held or not,
    puts an account where the rules forbid it."""
    sh = SHAPES["light-rules"]
    acc, ter = sh.generate(n, m, seed)
    problem = build_problem(
        align.make_scenario(acc, ter, settings=tomllib.loads(settings_toml(seed=seed)))
    )
    rows = np.arange(problem.n)
    allowed = problem.eligible_rows(rows)
    assert not allowed[rows, problem.current].all()  # today breaks the segment rule
    pi, pj = problem.nearest_pairs(fixed.default_candidates(problem.m))
    plan, left, _ = transfer_plan(problem, pi, pj)
    assert allowed[rows, plan].all()
    locked = problem.fixed >= 0
    assert (plan[locked] == problem.fixed[locked]).all()
    assert (left == 0) == (exact_violation(problem, plan) == 0)


def _light_rules(n: int, m: int, seed: int, **extra: float) -> Problem:
    acc, ter = SHAPES["light-rules"].generate(n, m, seed)
    conf = tomllib.loads(settings_toml(seed=seed))
    conf.setdefault("constraints", {}).update(extra)
    return build_problem(align.make_scenario(acc, ter, settings=conf))


@pytest.mark.parametrize(("n", "m", "seed"), [(1000, 12, 3), (1500, 15, 6)])
def test_the_roundings_plan_mended_fills_one_segment_territories(n: int, m: int, seed: int) -> None:
    """The rounding leaves one-segment territories short; the fill and the swap chose among
    all accounts before asking which the territory may take, and gave up when the best were
    of another segment (0.050 and 0.107 left). They now choose among the eligible ones."""
    problem = _light_rules(n, m, seed)
    pi, pj = problem.nearest_pairs(fixed.default_candidates(problem.m))
    start, broken = priced_plan(problem, pi, pj)
    assert broken > SLACK_TOL
    plan, left, _ = transfer_plan(problem, pi, pj, start=start)
    assert left == 0.0
    assert _rules_broken(problem, plan, 1.0) == []


def test_eligible_for_is_the_column_of_eligible_rows() -> None:
    problem = _light_rules(1000, 12, 3, max_distance_km=400.0)
    rows = np.arange(problem.n)
    table = problem.eligible_rows(rows)
    assert 0 < table.sum() < table.size  # segments, distance and locks all say no somewhere
    for b in range(problem.m):
        assert (problem.eligible_for(rows, b) == table[:, b]).all()


def test_a_cap_that_allows_the_least_plan_moves_the_two_nearest_accounts() -> None:
    problem = build_problem(two_reps(1 / 3))
    pi, pj = problem.all_pairs()
    plan, left, _ = transfer_plan(problem, pi, pj)
    assert left == 0.0
    assert exact_violation(problem, plan) == 0.0
    assert _rules_broken(problem, plan, 1 / 3) == []
    # the two accounts of T1 nearest T2 (D at 8, E at 9) move: the cheapest plan of two moves
    assert plan.tolist() == [0, 0, 0, 1, 1, 1]


def test_a_solve_under_that_cap_is_optimal_with_two_moves() -> None:
    run = align.solve(two_reps(1 / 3))
    assert run.status == "optimal"
    assert int(run.assignments["moved"].sum()) == 2
    assert run.objective == pytest.approx(1 + 2 + 3 + 2 + 1 + 0.5)


def exact_cover() -> align.Scenario:
    """T1 holds four accounts of 10, T2 one of 8; each must hold 24 +-25% (18 to 30). T1 must
    shed 10 and T2 take in 10: one account, a fifth of them, and the least moved share is
    exactly that: a cap equal to it admits the plan that moves C or D (nearest T2: D)."""
    acc = pd.DataFrame(
        {
            "account_id": ["A", "B", "C", "D", "E"],
            "x": [1.0, 2.0, 3.0, 7.0, 9.0],
            "y": [0.0] * 5,
            "potential": [10.0, 10.0, 10.0, 10.0, 8.0],
            "current_territory": ["T1"] * 4 + ["T2"],
        }
    )
    ter = pd.DataFrame({"territory_id": ["T1", "T2"], "x": [0.0, 10.0], "y": [0.0, 0.0]})
    conf = {
        "balance": {"potential": {"tolerance": 0.25}},
        "objective": {"travel_weight": "none"},
        "constraints": {"max_moved_share": 0.2},
    }
    return align.make_scenario(acc, ter, settings=conf)


def test_a_cap_equal_to_the_least_moved_share_still_gets_the_plan() -> None:
    problem = build_problem(exact_cover())
    assert least_moved_share(problem) == pytest.approx(0.2)
    pi, pj = problem.all_pairs()
    plan, left, _ = transfer_plan(problem, pi, pj)
    assert left == 0.0
    assert plan.tolist() == [0, 0, 0, 1, 1]
    assert _rules_broken(problem, plan, 0.2) == []
    run = align.solve(exact_cover())
    assert run.status == "optimal"
    assert run.assignments["territory_id"].tolist() == ["T1", "T1", "T1", "T2", "T2"]
    assert run.objective == pytest.approx(1 + 2 + 3 + 3 + 1)


def test_transfer_plans_keep_every_rule_whenever_they_are_found() -> None:
    """On small random books, with the cap at the least moved share and above: a plan the
    transfer returns as whole (left 0) keeps every band, lock, segment and the cap, and a
    plan it cannot mend is never passed off as one."""
    found = []

    @settings(
        max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(scenarios())
    def check(case) -> None:  # type: ignore[no-untyped-def]
        acc, ter, conf = case
        base = build_problem(align.make_scenario(acc, ter, settings=conf))
        least = least_moved_share(base)
        for cap in (min(1.0, least + 1e-9), min(1.0, 2 * least + 0.2)):
            sc = align.make_scenario(
                acc, ter, settings={**conf, "constraints": {"max_moved_share": cap}}
            )
            problem = build_problem(sc)
            pi, pj = problem.all_pairs()
            plan, left, (pi2, pj2) = transfer_plan(problem, pi, pj)
            broken = _rules_broken(problem, plan, cap)
            if left == 0.0:
                assert broken == []
                found.append(cap)
            else:
                assert broken != [] and exact_violation(problem, plan) == left
            # the plan's own pairs are among the pairs returned
            key = set((pi2 * problem.m + pj2).tolist())
            assert {i * problem.m + int(j) for i, j in enumerate(plan)} <= key

    check()
    assert len(found) >= 40


def _heavy(n: int, m: int, seed: int, cap: float) -> align.Scenario:
    acc, ter = SHAPES["heavy"].generate(n, m, seed)
    conf = tomllib.loads(settings_toml(seed=seed, max_moved_share=cap, gap=0.01))
    return align.make_scenario(acc, ter, settings=conf)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_lumpy_book_under_a_cap_just_above_its_least_gets_a_plan(seed: int) -> None:
    """`heavy` books of 3,000 x 30 (nearest owner, accounts up to 30% of a territory) with the
    moved cap 10% above the least the bands make move: the plan holds every rule."""
    least = least_moved_share(build_problem(_heavy(3000, 30, seed, 1.0)))
    cap = 1.1 * least
    problem = build_problem(_heavy(3000, 30, seed, cap))
    pi, pj = problem.nearest_pairs(8)
    plan, left, _ = transfer_plan(problem, pi, pj)
    assert left == 0.0
    assert _rules_broken(problem, plan, cap) == []


@pytest.mark.usefixtures("lp_stopped")
def test_a_capped_solve_stopped_before_its_lp_returns_the_transfer_plan() -> None:
    least = least_moved_share(build_problem(_heavy(3000, 30, 1, 1.0)))
    sc = _heavy(3000, 30, 1, 1.1 * least)
    run = align.solve(sc)
    assert run.status == "feasible"
    assert run.stats["first_plan"]["used"] is True
    assert run.stats["first_plan"]["method"] == "transfer"
    problem = build_problem(sc)
    tid = {t: j for j, t in enumerate(sc.territory_ids)}
    plan = run.assignments["territory_id"].map(tid).to_numpy()
    assert _rules_broken(problem, plan, 1.1 * least) == []
    assert run.objective == pytest.approx(problem.plan_cost(plan), rel=1e-9)
    assert run.bound is not None and run.bound <= run.objective


def _decomposed_heavy(seed: int, gap: float, time_limit: float) -> tuple[align.Scenario, float]:
    least = least_moved_share(build_problem(_heavy(3000, 30, seed, 1.0)))
    sc = _heavy(3000, 30, seed, 1.1 * least)
    solver = sc.settings.solver
    solver.method, solver.gap, solver.time_limit_s = "decompose", gap, time_limit
    return sc, 1.1 * least


def _plan_of(sc: align.Scenario, run: align.Run) -> np.ndarray:
    tid = {t: j for j, t in enumerate(sc.territory_ids)}
    return run.assignments["territory_id"].map(tid).to_numpy()


def test_under_a_tight_cap_the_group_mips_improve_the_whole_books_plan() -> None:
    """Held at the transfer plan, the decomposed path's plan (the restriction's, searched
    locally) goes to group MIPs over the whole book, not only over the restriction's free
    accounts: they start from and end at whole-book costs, and the plan keeps every rule."""
    sc, cap = _decomposed_heavy(1, 0.01, 10.0)
    run = align.solve(sc)
    assert run.stats["decomposed"]["transfer"]["found"] is True
    assert "first_plan" not in run.stats  # the path's own plan, not the rescue
    problem = build_problem(sc)
    plan = _plan_of(sc, run)
    assert _rules_broken(problem, plan, cap) == []
    assert exact_violation(problem, plan) == 0.0
    assert run.objective == pytest.approx(problem.plan_cost(plan), rel=1e-9)
    groups = run.stats["groups"]
    assert groups["after"] == pytest.approx(run.objective, rel=1e-9)
    assert groups["after"] <= groups["before"]
    assert run.bound is not None and run.bound <= run.objective


def test_a_restricted_mip_that_finds_nothing_falls_back_to_the_held_plan(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Every split-account MIP of the restriction answers nothing: the restriction's plan is
    the transfer plan it was held at (no rescue by the first plan), improved by the local
    search and the group MIPs, and it keeps every rule."""
    sc, cap = _decomposed_heavy(2, 0.01, 8.0)
    monkeypatch.setattr(fixed, "_place_split", lambda *a, **k: (None, np.inf))
    run = align.solve(sc)
    assert run.stats["first_plan_known"] is True
    assert "first_plan" not in run.stats
    problem = build_problem(sc)
    plan = _plan_of(sc, run)
    assert _rules_broken(problem, plan, cap) == []
    assert exact_violation(problem, plan) == 0.0
    assert run.status in ("optimal", "feasible")
    assert run.bound is not None and run.bound <= run.objective
    # the fallback was improved, not returned as it was
    transfer, _, _ = transfer_plan(problem, *problem.nearest_pairs(8))
    assert run.objective < problem.plan_cost(transfer)


def test_a_restrictions_progress_speaks_of_the_whole_book() -> None:
    """Every progress event of a restriction carries the whole problem's bound (not the
    restriction's own, which leaves the held accounts out), and its plans the held accounts'
    cost added."""
    heard: list[tuple[str, dict]] = []
    relay = _whole(lambda phase, info: heard.append((phase, info)), held_cost=40.0, bound=95.0)
    relay("repair", {"elapsed": 2.0, "bound": 17.0})
    relay("incumbent", {"objective": 60.0, "bound": 17.0})
    relay("dive", {"elapsed": 1.0})
    assert heard == [
        ("repair", {"elapsed": 2.0, "bound": 95.0}),
        ("incumbent", {"objective": 100.0, "bound": 95.0}),
        ("dive", {"elapsed": 1.0}),
    ]


def whales_together() -> align.Scenario:
    """T1 holds the two whales (potential 5, workload 0.5 each), T2 ten small accounts
    (potential 1, workload 1.5): both territories carry their potential (10 of 20), T1 too
    little workload (1 of 16) and T2 too much. No account can join T1 without taking its
    potential over the top, nor leave T2 without taking it under the bottom: one whale must
    go (a plan: each whale with five small accounts; four and six hold too)."""
    acc = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(12)],
            "x": [0.0, 0.5] + [6.0 + 0.1 * i for i in range(10)],
            "y": [0.0] * 12,
            "potential": [5.0] * 2 + [1.0] * 10,
            "workload": [0.5] * 2 + [1.5] * 10,
            "current_territory": ["T1"] * 2 + ["T2"] * 10,
        }
    )
    ter = pd.DataFrame({"territory_id": ["T1", "T2"], "x": [0.0, 7.0], "y": [0.0, 0.0]})
    conf = {
        "balance": {"potential": {"tolerance": 0.1}, "workload": {"tolerance": 0.2}},
        "objective": {"travel_weight": "none"},
    }
    return align.make_scenario(acc, ter, settings=conf)


def test_a_territory_full_of_whales_lets_one_go_and_is_filled(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    problem = build_problem(whales_together())
    pi, pj = problem.all_pairs()
    plan, left, _ = transfer_plan(problem, pi, pj)
    assert left == 0.0
    assert _rules_broken(problem, plan, 1.0) == []
    # one whale in each territory (with four to six small accounts: each band holds)
    assert sorted(plan[:2].tolist()) == [0, 1]
    # the shed, fill and swaps alone leave T1 short of workload
    monkeypatch.setattr(transfer, "_eject", lambda *a, **k: 0)
    _, stuck, _ = transfer_plan(problem, pi, pj)
    assert stuck > SLACK_TOL
