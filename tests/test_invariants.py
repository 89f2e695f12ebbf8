"""Property tests: on random small scenarios the plan is checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import align


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(3, 7))
    m = draw(st.integers(2, 3))
    floats = st.floats(0, 10, allow_nan=False, width=32)
    acc = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "x": draw(st.lists(floats, min_size=n, max_size=n)),
            "y": draw(st.lists(floats, min_size=n, max_size=n)),
            "potential": draw(st.lists(st.integers(1, 20), min_size=n, max_size=n)),
            "workload": draw(st.lists(st.integers(1, 5), min_size=n, max_size=n)),
            "current_territory": [
                f"T{j}" for j in draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n))
            ],
            "locked": draw(st.lists(st.booleans().filter(lambda b: True), min_size=n, max_size=n)),
        }
    )
    acc["locked"] = acc["locked"] & (np.arange(n) % 3 == 0)  # about a third may be locked
    ter = pd.DataFrame(
        {
            "territory_id": [f"T{j}" for j in range(m)],
            "x": draw(st.lists(floats, min_size=m, max_size=m)),
            "y": draw(st.lists(floats, min_size=m, max_size=m)),
        }
    )
    tol = draw(st.sampled_from([0.1, 0.3, 0.6, 1.0]))
    wtol = draw(st.sampled_from([0.5, 1.5]))
    disruption = draw(st.sampled_from([0.0, 3.0]))
    share = draw(st.sampled_from([1.0, 0.5]))
    conf = {
        "balance": {"potential": {"tolerance": tol}, "workload": {"tolerance": wtol}},
        "objective": {"travel_weight": "potential", "disruption": disruption},
        "constraints": {"max_moved_share": share},
        "solver": {"gap": 0.0},
    }
    return acc, ter, conf


def brute_force(sc: align.Scenario) -> tuple[float, int]:
    """Best objective over every assignment (inf if none is feasible) and how many are feasible."""
    n, m = sc.n_accounts, sc.n_territories
    s = sc.settings
    d = sc.geometry.rows(np.arange(n))
    w = sc.column("potential")
    cur = sc.current
    locked = sc.accounts["locked"].to_numpy()
    best, count = np.inf, 0
    for combo in itertools.product(range(m), repeat=n):
        a = np.array(combo)
        if (locked & (a != cur)).any():
            continue
        ok = True
        for col, rule in s.balance.items():
            v = sc.column(col)
            tot = np.bincount(a, weights=v, minlength=m)
            target = v.sum() / m
            if (tot < target * (1 - rule.tolerance) - 1e-9).any() or (
                tot > target * (1 + rule.tolerance) + 1e-9
            ).any():
                ok = False
                break
        moved = a != cur
        if moved.sum() > s.constraints.max_moved_share * n + 1e-9:
            ok = False
        if not ok:
            continue
        count += 1
        cost = (w * d[np.arange(n), a]).sum() + s.objective.disruption * moved.sum()
        best = min(best, cost)
    return best, count


def check_plan(run: align.Run, sc: align.Scenario, acc: pd.DataFrame, ter: pd.DataFrame) -> None:
    """Every account exactly once with a real territory, locks kept, every band held."""
    assert run.assignments is not None
    assert sorted(run.assignments["account_id"]) == sorted(acc["account_id"])
    assert run.assignments["territory_id"].isin(ter["territory_id"]).all()
    owner = dict(zip(run.assignments["account_id"], run.assignments["territory_id"], strict=True))
    for _, row in acc[acc["locked"]].iterrows():
        assert owner[row["account_id"]] == row["current_territory"]
    for col, rule in sc.settings.balance.items():
        tot = run.territories.set_index("territory_id")[col]  # type: ignore[union-attr]
        target = acc[col].sum() / len(ter)
        assert (tot >= target * (1 - rule.tolerance) - 1e-6).all()
        assert (tot <= target * (1 + rule.tolerance) + 1e-6).all()


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_plans_are_valid_and_optimal_against_brute_force(solver: str) -> None:
    examples = 60 if solver == "highs" else 12

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(scenarios())
    def check(case) -> None:  # type: ignore[no-untyped-def]
        acc, ter, conf = case
        conf = {**conf, "solver": {**conf["solver"], "name": solver}}
        sc = align.make_scenario(acc, ter, settings=conf)
        run = align.solve(sc)
        best, count = brute_force(sc)
        if count == 0:
            assert run.status == "infeasible"
            assert run.reasons
            return
        assert run.status == "optimal", run.message
        check_plan(run, sc, acc, ter)
        # optimal against brute force, and the bound is true
        assert run.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
        assert run.bound is not None and run.bound <= best + 1e-6

    check()
