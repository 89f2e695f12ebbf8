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
