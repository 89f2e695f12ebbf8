"""Runs: continuing from an earlier run."""

from __future__ import annotations

import pandas as pd
import pytest

import align
from align.runs import continue_from

EXAMPLE = "data/examples/two-reps"


def test_continue_from_takes_the_runs_plan_as_today() -> None:
    sc = align.load_scenario(EXAMPLE)
    run = align.solve(sc).raise_for_status()
    assert run.scenario_path.endswith("two-reps")
    c = continue_from(sc, run)
    plan = dict(zip(run.assignments["account_id"], run.assignments["territory_id"], strict=True))
    rebased = c.scenario.accounts
    assert dict(zip(rebased["account_id"], rebased["current_territory"], strict=True)) == plan
    assert c.unseen == c.vanished == c.moved == []
    # the plan is optimal for its own baseline: solving again moves nothing
    again = align.solve(c.scenario).raise_for_status()
    assert again.objective == pytest.approx(run.objective)


def test_continue_from_locks_hand_moves_and_reports_new_and_gone_accounts() -> None:
    sc = align.load_scenario(EXAMPLE)
    run = align.solve(sc).raise_for_status()
    run.assignments = run.assignments.iloc[1:].copy()  # the run did not know the first account
    extra = run.assignments.iloc[:1].assign(account_id="GONE")
    run.assignments = pd.concat([run.assignments, extra], ignore_index=True)
    a2 = sc.account_ids[1]
    owner = run.assignments.set_index("account_id").loc[a2, "territory_id"]
    other = next(t for t in sc.territory_ids if t != owner)
    c = continue_from(sc, run, moves={a2: other})
    assert c.unseen == [sc.account_ids[0]]
    assert c.vanished == ["GONE"]
    row = c.scenario.accounts.set_index("account_id").loc[a2]
    assert (row["current_territory"], bool(row["locked"])) == (other, True)
    plan = align.solve(c.scenario).raise_for_status()
    assert plan.assignments.set_index("account_id").loc[a2, "territory_id"] == other


def test_continue_from_names_unknown_accounts_and_territories() -> None:
    sc = align.load_scenario(EXAMPLE)
    run = align.solve(sc).raise_for_status()
    with pytest.raises(align.ScenarioError) as e:
        continue_from(sc, run, moves={"A1x": "T1", "A1": "T1x"})
    assert e.value.problems == [
        "move A1x=T1: 'A1x' is not an account_id (did you mean 'A1'?)",
        "move A1=T1x: 'T1x' is not a territory_id (did you mean 'T1'?)",
    ]
