"""Runs: continuing from an earlier run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

import align
from align.runs import continue_from
from align.settings import Settings

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


def test_compare_runs_is_one_row_per_run_with_the_settings_that_differ() -> None:
    a = align.solve(align.load_scenario(EXAMPLE)).raise_for_status()
    b = align.solve(
        align.load_scenario(EXAMPLE, overrides=["balance.potential.tolerance=0.2"])
    ).raise_for_status()
    df = align.compare_runs([a, b], names=["tight", "loose"])
    assert isinstance(df, align.Comparison)
    assert list(df.index) == ["tight", "loose"] and df.index.name == "run"
    assert list(df.columns[:5]) == ["status", "objective", "bound", "gap", "wall_seconds"]
    assert df["objective"].tolist() == [15.0, 15.0]
    assert df["moved_accounts"].tolist() == [1.0, 1.0]
    differ = [c for c in df.columns if c.startswith("settings.")]
    assert differ == ["settings.balance.potential.tolerance"]
    assert df[differ[0]].tolist() == [0.1, 0.2]
    assert isinstance(df.loc[["tight"]], align.Comparison)  # slices keep plot_tradeoff


def test_plot_tradeoff_labels_each_run_and_names_unknown_columns() -> None:
    a = align.solve(align.load_scenario(EXAMPLE)).raise_for_status()
    b = align.solve(
        align.load_scenario(EXAMPLE, overrides=["objective.disruption=100"])
    ).raise_for_status()
    df = align.compare_runs([a, b], names=["balanced", "sticky"])
    ax = df.plot_tradeoff("moved_accounts", "potential.max_abs_deviation")
    assert [t.get_text() for t in ax.texts] == ["balanced", "sticky"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("moved_accounts", "potential.max_abs_deviation")
    with pytest.raises(align.RunError) as e:
        df.plot_tradeoff("moved_acounts", "gap")
    assert str(e.value).startswith(
        "plot_tradeoff: no column 'moved_acounts' in the comparison (did you mean "
        "'moved_accounts'?)"
    )


def test_load_run_by_id_needs_the_run_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ALIGN_DATABASE_URL", raising=False)
    with pytest.raises(align.RunError) as e:
        align.load_run("run-42")
    assert str(e.value) == (
        "run 'run-42': no such folder; run ids need ALIGN_DATABASE_URL set to the run store "
        "(e.g. sqlite:///runs.db), or give a run folder (align solve --out RUN)"
    )
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    monkeypatch.setenv("ALIGN_DATABASE_URL", url)
    with pytest.raises(align.RunError) as e:
        align.load_run("run-42")
    assert str(e.value) == f"run 'run-42': ALIGN_DATABASE_URL names no database file ({url})"
    (tmp_path / "runs.db").write_bytes(b"")  # a database without the service's tables
    with pytest.raises(align.RunError, match="the run store ALIGN_DATABASE_URL cannot be read"):
        align.load_run("run-42")
    with pytest.raises(align.RunError, match="not a run folder"):
        align.load_run("runs/nowhere")


# --- outputs a program can read and a person can read ------------------------------------


TWO_REPS = EXAMPLE  # optimum by hand: travel 15, A3 moves West -> East


def test_solve_accepts_a_folder_or_a_scenario_and_names_anything_else() -> None:
    by_path = align.solve(TWO_REPS)
    by_scenario = align.solve(align.load_scenario(TWO_REPS))
    assert by_path.objective == pytest.approx(15.0) == by_scenario.objective
    with pytest.raises(align.ScenarioError) as e:
        align.solve(42)  # type: ignore[arg-type]
    assert e.value.problems == [
        "align.solve: expected a Scenario or a scenario folder, got int; "
        "e.g. align.solve('data/samples')"
    ]
    with pytest.raises(align.ScenarioError):
        align.solve("data/examples/no-such-folder")


def test_run_repr_is_one_short_line() -> None:
    run = align.solve(TWO_REPS)
    text = repr(run)
    assert text.startswith("<Run optimal objective=15 gap=0.00% accounts=5 territories=2 ")
    assert "\n" not in text and len(text) < 120


def test_kpi_table_is_one_row_per_kpi_with_before_after_and_change() -> None:
    table = align.solve(TWO_REPS).kpi_table()
    assert list(table.columns) == ["before", "after", "change", "kind"]
    assert table.index.name == "kpi" and table.index.is_unique
    row = table.loc["potential.max_abs_deviation"]  # West 40 of 60 today, 30/30 planned
    assert row["before"] == pytest.approx(1 / 3) and row["after"] == pytest.approx(0.0)
    assert row["change"] == pytest.approx(-1 / 3) and row["kind"] == "pct"
    assert table.loc["moved_accounts", "after"] == 1.0
    assert table.loc["mean_distance", "kind"] == "dist"


def test_run_json_is_strict_json_when_a_kpi_is_not_finite(tmp_path: Path) -> None:
    run = align.solve(TWO_REPS)
    run.kpis["after"]["potential.max_min_ratio"] = float("inf")  # an empty territory
    run.kpis["after"]["potential.cv"] = float("nan")
    run.write(tmp_path / "run")

    def refuse(name: str) -> None:
        raise AssertionError(f"run.json holds {name}")

    summary = json.loads((tmp_path / "run" / "run.json").read_text(), parse_constant=refuse)
    assert summary["kpis"]["after"]["potential.max_min_ratio"] is None
    assert summary["kpis"]["after"]["potential.cv"] is None
    table = align.load_run(tmp_path / "run").kpi_table()
    assert math.isnan(table.loc["potential.max_min_ratio", "change"])


def test_compare_lists_an_infeasible_run_with_its_status_and_reason(tmp_path: Path) -> None:
    align.solve(TWO_REPS).write(tmp_path / "plan")
    stuck = align.solve(TWO_REPS, overrides=["constraints.max_moved_share=0"])
    stuck.write(tmp_path / "stuck")
    loaded = align.load_run(tmp_path / "stuck")
    assert loaded.status == "infeasible" and not loaded.has_plan
    assert loaded.reasons == stuck.reasons and loaded.reasons
    df = align.compare_runs([align.load_run(tmp_path / "plan"), loaded])
    assert list(df.columns[:2]) == ["status", "reason"]
    assert df["status"].tolist() == ["optimal", "infeasible"]
    assert df.loc["stuck", "reason"] == (
        "smallest single change that lets a plan exist: constraints.max_moved_share must rise "
        "to at least 20.00% (it is 0.00%); or, alone: balance.potential.tolerance must rise to "
        "at least 33.34% (it is 10.00%)"
    )
    assert math.isnan(df.loc["stuck", "potential.max_abs_deviation"])
    assert df.loc["plan", "potential.max_abs_deviation"] == pytest.approx(0.0)


def test_run_json_round_trips_the_typed_settings(tmp_path: Path) -> None:
    run = align.solve(TWO_REPS, overrides=["balance.potential.tolerance=0.2", "units.currency=EUR"])
    assert isinstance(run.settings, Settings)
    run.write(tmp_path / "a")
    text = (tmp_path / "a" / "run.json").read_text()
    assert json.loads(text)["settings"] == run.settings.model_dump()
    loaded = align.load_run(tmp_path / "a")
    assert loaded.settings == run.settings and loaded.settings is not None
    assert loaded.settings.balance["potential"].tolerance == 0.2
    assert loaded.units.currency == "EUR" and loaded.notes == [] and loaded.settings_raw is None
    loaded.write(tmp_path / "b")
    assert (tmp_path / "b" / "run.json").read_text() == text


def test_run_json_of_an_older_version_loads_with_missing_keys_as_defaults(tmp_path: Path) -> None:
    align.solve(TWO_REPS).write(tmp_path / "run")
    path = tmp_path / "run" / "run.json"
    summary = json.loads(path.read_text())
    del summary["settings"]["units"], summary["settings"]["pockets"]["reach_km"]
    path.write_text(json.dumps(summary))
    loaded = align.load_run(tmp_path / "run")
    assert loaded.settings == Settings.model_validate(summary["settings"])
    assert loaded.settings is not None and loaded.settings.pockets.reach_km == 0.0
    assert loaded.notes == [] and loaded.has_plan


def test_run_json_whose_settings_no_longer_validate_still_loads(tmp_path: Path) -> None:
    align.solve(TWO_REPS).write(tmp_path / "run")
    path = tmp_path / "run" / "run.json"
    summary = json.loads(path.read_text())
    summary["settings"]["solver"]["legacy_knob"] = 3
    summary["settings"]["retired"] = {"x": 1}
    path.write_text(json.dumps(summary))
    loaded = align.load_run(tmp_path / "run")
    assert loaded.settings is None and loaded.settings_raw == summary["settings"]
    assert loaded.notes == [
        f"{path}: settings do not validate under align {align.__version__} (solver.legacy_knob: "
        "Extra inputs are not permitted; retired: Extra inputs are not permitted); kept as read "
        "in run.settings_raw, run.settings is None"
    ]
    assert loaded.has_plan and loaded.kpis == summary["kpis"] and loaded.balance == {}
    df = align.compare_runs([loaded, align.load_run(tmp_path / "run")])
    assert "settings.retired.x" not in df.columns  # the same raw settings: nothing differs
    loaded.write(tmp_path / "again")
    again = json.loads((tmp_path / "again" / "run.json").read_text())
    assert again["settings"] == summary["settings"]
