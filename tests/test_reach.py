"""Plans people accept: a maximum distance, warnings for far accounts, the smallest fix first."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import align
from align import load_scenario, make_scenario
from align.metrics import far_accounts

PFIZER = "tests/data/pfizer-22x4"
RULES = {
    "balance": {"potential": {"tolerance": 0.25}},
    "objective": {"travel_weight": "none"},
    "solver": {"gap": 0.0},
}


def line(
    xs: list[float],
    potential: list[float],
    current: list[str] | None = None,
    *,
    limit: float | None,
    homes: tuple[float, ...] = (0.0, 10.0),
) -> align.Scenario:
    acc = pd.DataFrame(
        {
            "account_id": [f"A{i + 1}" for i in range(len(xs))],
            "x": xs,
            "y": 0.0,
            "potential": potential,
        }
    )
    if current is not None:
        acc["current_territory"] = current
    ter = pd.DataFrame(
        {"territory_id": [f"T{j + 1}" for j in range(len(homes))], "x": list(homes), "y": 0.0}
    )
    rules = dict(RULES)
    if limit is not None:
        rules = {**RULES, "constraints": {"max_distance_km": limit}}
    return make_scenario(acc, ter, settings=rules)


def brute_force(sc: align.Scenario) -> float | None:
    """The least travel of any plan within every rule, by trying every plan (None: no plan)."""
    xs = sc.accounts["x"].to_numpy()
    homes = sc.territories["x"].to_numpy()
    d = np.abs(xs[:, None] - homes[None, :])
    pot = sc.accounts["potential"].to_numpy()
    target = pot.sum() / len(homes)
    limit = sc.settings.constraints.max_distance_km
    cur = sc.current
    best = None
    for plan in itertools.product(range(len(homes)), repeat=len(xs)):
        a = np.array(plan)
        dist = d[np.arange(len(xs)), a]
        if limit is not None and np.any((dist > limit) & (a != cur)):
            continue
        load = np.bincount(a, weights=pot, minlength=len(homes))
        if np.any(np.abs(load - target) > 0.25 * target + 1e-9):
            continue
        cost = float(dist.sum())
        best = cost if best is None else min(best, cost)
    return best


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    xs=st.lists(st.integers(0, 20), min_size=5, max_size=6),
    seed=st.integers(0, 10**6),
    limit=st.integers(4, 15),
)
def test_max_distance_matches_brute_force(xs: list[int], seed: int, limit: int) -> None:
    rng = np.random.default_rng(seed)
    potential = list(rng.integers(1, 5, len(xs)).astype(float))
    current = list(rng.choice(["T1", "T2", "T3"], len(xs)))
    sc = line([float(x) for x in xs], potential, current, limit=limit, homes=(0.0, 10.0, 20.0))
    run = align.solve(sc)
    best = brute_force(sc)
    if best is None:
        assert run.status == "infeasible"
        assert run.reasons  # explained
        return
    assert run.status == "optimal"
    assert run.objective == pytest.approx(best)
    plan = run.assignments
    stays = plan["territory_id"] == pd.Series(current)
    assert ((plan["distance"] <= limit + 1e-9) | stays).all()


def test_todays_owner_is_kept_where_it_is_farther_already() -> None:
    # A3 at x=9 is owned by T1 (9 away) beyond the limit of 5; it may stay, T2 is 1 away
    sc = line([1, 2, 9, 8], [1, 1, 1, 1], ["T1", "T1", "T1", "T2"], limit=5)
    run = align.solve(sc)
    assert run.status == "optimal"
    # balance 2 +- 0.5 per territory: A1, A2 with T1; A3, A4 with T2 (travel 1 + 2 + 1 + 2)
    assert run.objective == pytest.approx(6)
    # where staying is the only way to a plan, it stays: A1 is 29 from T2, its owner, and T1
    # may take only two (A2, A3: A3 is 9 from T1, its owner); A4 is within reach of T2 only
    sc = line([1, 2, 9, 28], [1, 1, 1, 1], ["T2", "T1", "T1", "T2"], limit=5, homes=(0, 30))
    run = align.solve(sc)
    assert run.status == "optimal"
    assert run.objective == pytest.approx(29 + 2 + 9 + 2)
    assert list(run.assignments["territory_id"]) == ["T2", "T1", "T1", "T2"]


def test_an_account_out_of_reach_of_every_territory_is_named() -> None:
    sc = line([1, 2, 9, 25], [1, 1, 1, 1], limit=5)
    run = align.solve(sc)
    assert run.status == "infeasible"
    assert run.reasons == [
        "account A4: no territory within constraints.max_distance_km = 5 (the nearest it may "
        "join, T2, is 15 units away)",
        "constraints.max_distance_km must rise to at least 15 for every account to have a "
        "territory within reach (it is 5)",
    ]


def test_infeasible_reach_names_the_least_limit_that_admits_a_plan() -> None:
    # x = 1, 2, 3, 4, 6 with homes 0 and 10: balance needs 2 or 3 accounts each (+-25% of
    # 2.5); within 5, T2 reaches A5 only; A4 is 6 away. A band of +-60% would take 4 and 1.
    sc = line([1, 2, 3, 4, 6], [1, 1, 1, 1, 1], limit=5)
    run = align.solve(sc)
    assert run.status == "infeasible"
    assert run.reasons == [
        "smallest single change that lets a plan exist: constraints.max_distance_km admits a plan "
        "at 6 units (it is 5)",
        "or, alone: balance.potential.tolerance must rise to at least 60.00% (it is 25.00%)",
    ]
    assert align.solve(line([1, 2, 3, 4, 6], [1] * 5, limit=6)).status == "optimal"
    assert align.solve(line([1, 2, 3, 4, 6], [1] * 5, limit=5.9)).status == "infeasible"


def test_smallest_single_change_comes_first_and_is_enough() -> None:
    # the least disruption any [0.9, 1.1] workload plan needs is 0.2529 of 4.0 = 6.3225%
    over = ["objective.disruption_measure=workload", "balance.workload.tolerance=0.1"]
    run = align.solve(load_scenario(PFIZER, overrides=[*over, "constraints.max_moved_share=0.05"]))
    assert run.status == "infeasible"
    first, second = run.reasons
    assert first == (
        "smallest single change that lets a plan exist: constraints.max_moved_share must rise "
        "to at least 6.33% (it is 5.00%)"
    )
    assert second.startswith("or, alone: balance.workload.tolerance must rise to at least ")
    fix = load_scenario(PFIZER, overrides=[*over, "constraints.max_moved_share=0.0633"])
    assert align.solve(fix).has_plan
    short = load_scenario(PFIZER, overrides=[*over, "constraints.max_moved_share=0.0631"])
    assert align.solve(short).status == "infeasible"
    tolerance = float(second.split("at least ")[1].split("%")[0]) / 100
    widened = [*over, f"balance.workload.tolerance={tolerance}", "constraints.max_moved_share=0.05"]
    assert align.solve(load_scenario(PFIZER, overrides=widened)).has_plan


def test_far_accounts_are_measured_against_their_territorys_median() -> None:
    plan = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "B1", "B2", "B3"],
            "name": ["Acme", "Bolt", "Cord", "Dune", "Echo", "Fern", "Glow"],
            "territory_id": ["T1"] * 4 + ["T2"] * 3,
            "distance": [10.0, 10.0, 12.0, 61.0, 100.0, 120.0, 290.0],
        }
    )
    far = far_accounts(plan)
    assert far is not None and far["count"] == 1  # A4: 61 > 3 x 11; B3: 290 < 3 x 120
    assert far["farthest"] == [
        {
            "account_id": "A4",
            "territory_id": "T1",
            "distance": 61.0,
            "typical": 11.0,
            "name": "Dune",
        }
    ]
    assert far["message"] == (
        "1 account lies more than 3x their territory's median distance from its home base; the "
        "farthest, A4 (Dune), is 61 km from T1 (median 11 km); constraints.max_distance_km sets "
        "a limit no plan may pass"
    )
    assert far_accounts(plan.iloc[:3]) is None


def test_solve_warns_of_far_accounts_in_output_run_and_report(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / "s"
    folder.mkdir()
    xs = [1, 2, 1.5, 2.5, 40, 11, 12, 11.5, 12.5]
    pd.DataFrame(
        {"account_id": [f"A{i}" for i in range(len(xs))], "x": xs, "y": 0.0, "potential": 1.0}
    ).to_csv(folder / "accounts.csv", index=False)
    pd.DataFrame({"territory_id": ["T1", "T2"], "x": [0.0, 10.0], "y": 0.0}).to_csv(
        folder / "territories.csv", index=False
    )
    (folder / "scenario.toml").write_text('[objective]\ntravel_weight = "none"\n')
    res = subprocess.run(
        [sys.executable, "-m", "align.cli", "solve", str(folder), "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "warning: 1 account lies more than 3x their territory's median distance" in res.stderr
    assert "the farthest, A4, is 30 units from T2 (median 2 units)" in res.stderr
    run = align.load_run(tmp_path / "r")
    assert run.stats["far_accounts"]["count"] == 1
    from align.report import render_report

    assert 'id="far-accounts">Warning: 1 account lies more' in render_report(run)
