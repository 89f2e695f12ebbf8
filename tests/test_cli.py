"""The `align` command as a user runs it: a real subprocess, exit codes, files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

PFIZER = "tests/data/pfizer-22x4"


def align_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "align.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_solve_writes_the_run_folder_contract(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = align_cli("solve", PFIZER, "--out", str(out), "--set", "objective.travel_weight=none")
    assert res.returncode == 0, res.stderr
    assert "optimal: objective 154.60, bound 154.60" in res.stdout
    assert "today" in res.stdout and "plan" in res.stdout  # before/after KPI table
    a = pd.read_csv(out / "assignments.csv", dtype=str)
    assert list(a.columns) == [
        "account_id",
        "territory_id",
        "previous_territory",
        "moved",
        "distance",
    ]
    assert len(a) == 22 and a["account_id"].is_unique
    t = pd.read_csv(out / "territories.csv", dtype={"territory_id": str})
    for col in (
        "territory_id",
        "accounts",
        "workload",
        "workload_deviation",
        "mean_distance",
        "contiguous",
    ):
        assert col in t.columns
    assert (t["workload_deviation"].abs() <= 0.2 + 1e-9).all()
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "optimal"
    assert run["objective"] == 154.6 or abs(run["objective"] - 154.6) < 1e-6
    assert run["gap"] <= run["settings"]["solver"]["gap"]
    assert set(run["terms"]) == {"TRAVEL", "MOVED"}
    assert set(run["kpis"]) == {"before", "after"}
    assert run["settings"]["balance"]["workload"]["tolerance"] == 0.2
    assert len(run["input_hash"]) == 16 and run["version"]


def test_infeasible_exits_3_with_the_reason(tmp_path: Path) -> None:
    res = align_cli(
        "solve",
        PFIZER,
        "--out",
        str(tmp_path / "r"),
        "--set",
        "balance.workload.tolerance=0.1",
        "--set",
        "constraints.max_moved_share=0.05",
        "--set",
        "objective.disruption_measure=workload",
    )
    assert res.returncode == 3
    assert (
        "- smallest single change that lets a plan exist: constraints.max_moved_share must rise "
        "to at least 6.33% (it is 5.00%)\n- or, alone: balance.workload.tolerance" in res.stderr
    )
    assert "Traceback" not in res.stderr
    assert json.loads((tmp_path / "r" / "run.json").read_text())["status"] == "infeasible"
    assert not (tmp_path / "r" / "assignments.csv").exists()


def test_compare_prints_kpis_side_by_side_and_moved_accounts(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        align_cli(
            "solve", PFIZER, "--out", str(a), "-q", "--set", "objective.travel_weight=none"
        ).returncode
        == 0
    )
    assert (
        align_cli(
            "solve",
            PFIZER,
            "--out",
            str(b),
            "-q",
            "--set",
            "objective.travel_weight=none",
            "--set",
            "balance.workload.tolerance=0.1",
        ).returncode
        == 0
    )
    res = align_cli("compare", str(a), str(b))
    assert res.returncode == 0, res.stderr
    assert "154.60" in res.stdout and "162.43" in res.stdout
    # [0.8,1.2] -> [0.9,1.1]: bricks 17, 18 and 20 change hands
    assert "3 accounts differ between" in res.stdout


def test_compare_of_a_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    res = align_cli("compare", str(tmp_path / "nope"), str(tmp_path / "nope2"))
    assert res.returncode == 2
    assert "not a run folder" in res.stderr
    assert "Traceback" not in res.stderr


def test_tables_in_a_pipe_keep_whole_amounts_and_goal_reads_144m(tmp_path: Path) -> None:
    import os

    sc = tmp_path / "sc"
    sc.mkdir()
    (sc / "accounts.csv").write_text(
        "account_id,lat,lon,potential,revenue,current_territory\n"
        "A1,40.0,-83.0,55261234,48000000,T1\nA2,40.1,-83.1,31000000,29000000,T1\n"
        "A3,41.0,-84.0,29500000,25000000,T2\nA4,41.1,-84.1,41000000,39000000,T2\n"
    )
    (sc / "territories.csv").write_text(
        "territory_id,name,lat,lon\nT1,Columbus,40.0,-83.0\nT2,Toledo,41.0,-84.0\n"
    )
    # settings of its own (no band): without scenario.toml the balanced preset would apply
    (sc / "scenario.toml").write_text("[solver]\ngap = 0.001\n")
    assert align_cli("solve", str(sc), "--out", str(tmp_path / "run"), "-q").returncode == 0
    narrow = {**os.environ, "COLUMNS": "40"}  # a narrow terminal's width must not cut a pipe
    written = {}
    for goal in ("165M", "165,000,000", "165000000"):
        res = subprocess.run(
            [sys.executable, "-m", "align.cli", "quotas", str(tmp_path / "run"), "--goal", goal,
             "--out", str(tmp_path / goal)],  # fmt: skip
            capture_output=True, text=True, timeout=120, env=narrow,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert "…" not in res.stdout and "..." not in res.stdout
        quotas = pd.read_csv(tmp_path / goal / "quotas.csv")
        assert quotas["quota"].sum() == 165_000_000
        for q in quotas["quota"]:
            assert f"${int(q):,}" in res.stdout  # whole, with its currency
        assert "goal $165,000,000 met exactly" in res.stdout
        written[goal] = quotas["quota"].tolist()
    assert written["165M"] == written["165,000,000"] == written["165000000"]
    bad = align_cli("quotas", str(tmp_path / "run"), "--goal", "16x5", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2
    assert "--goal '16x5': not an amount; write e.g. 144000000, 144,000,000 or 144M" in bad.stderr
    assert not (tmp_path / "x").exists()


def test_compare_lists_an_infeasible_run_with_its_status(tmp_path: Path) -> None:
    ok, stuck = tmp_path / "ok", tmp_path / "stuck"
    assert align_cli("solve", "data/examples/two-reps", "--out", str(ok), "-q").returncode == 0
    res = align_cli("solve", "data/examples/two-reps", "--out", str(stuck), "-q",
                    "--set", "constraints.max_moved_share=0")  # fmt: skip
    assert res.returncode == 3
    res = align_cli("compare", str(ok), str(stuck))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    status = next(line for line in lines if line.startswith("│ status"))
    assert "optimal" in status and "infeasible" in status
    reason = next(line for line in lines if line.startswith("│ reason"))
    assert "constraints.max_moved_share must rise to at least 20.00% (it is 0.00%)" in reason
    assert f"no accounts compared between {ok} and {stuck}: {stuck} holds no plan (infeasible)" in (
        res.stdout
    )
    distance = next(line for line in lines if line.startswith("│ weighted_mean_distance"))
    assert distance.split("│")[2].strip() == "3.0 km" and distance.split("│")[3].strip() == "–"


def test_models_lists_the_presets_and_presets_is_its_old_spelling() -> None:
    """One word: the models/ folder, model = "..." in scenario.toml, /models and `align models`."""
    res = align_cli("models")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "balanced: balance potential +-5%, workload +-15%",
        "greenfield: balance potential +-5%, workload +-15%",
        "min-disruption: balance potential +-10%, workload +-20%",
    ]
    old = align_cli("presets")
    assert old.returncode == 0 and old.stdout == res.stdout
    assert old.stderr == (
        "note: `align presets` is now `align models` (the folder models/, model = ...)\n"
    )
    assert "│ presets" not in align_cli("--help").stdout  # hidden from the command list
