"""Scenario sweeps: every point solved as on its own, the Pareto frontier, local and Dask pools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import align
from align.executors import DaskExecutor, LocalExecutor, get_executor
from align.sweeping import pareto_mask, parse_vary, point_settings

PFIZER = "tests/data/pfizer-22x4"
TWO_REPS = "data/examples/two-reps"
GRID = {"objective.travel": [0, 1], "objective.disruption": [0, 1]}
AXES = ["balance", "disruption", "travel"]


def dominated(row: pd.Series, others: pd.DataFrame) -> bool:
    """Whether any other row is at least as good on every axis and better on one."""
    for _, o in others.iterrows():
        if o["point"] == row["point"]:
            continue
        le = all(o[a] <= row[a] + 1e-9 for a in AXES)
        lt = any(o[a] < row[a] - 1e-9 for a in AXES)
        if le and lt:
            return True
    return False


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory) -> align.Sweep:
    out = tmp_path_factory.mktemp("sweep")
    return align.sweep(PFIZER, GRID, workers=2, out=out)


def test_each_point_equals_its_own_solve(local_sweep: align.Sweep) -> None:
    t = local_sweep.table
    assert list(t["point"]) == [
        "p1_travel=0_disruption=0",
        "p2_travel=0_disruption=1",
        "p3_travel=1_disruption=0",
        "p4_travel=1_disruption=1",
    ]
    # the optimum of each point, solved on its own with --set
    expected = {(0, 0): 0.0, (0, 1): 1.0, (1, 0): 154.6}
    for _, row in t.iterrows():
        travel, disruption = row["objective.travel"], row["objective.disruption"]
        alone = align.solve(
            align.load_scenario(
                PFIZER,
                overrides=[f"objective.travel={travel}", f"objective.disruption={disruption}"],
            )
        )
        assert row["status"] == alone.status == "optimal"
        assert row["objective"] == pytest.approx(alone.objective, abs=1e-6)
        if (travel, disruption) in expected:
            assert row["objective"] == pytest.approx(expected[travel, disruption], abs=1e-6)
        run = local_sweep.runs[row["point"]]
        assert run.settings is not None
        assert run.settings.objective.travel == travel
        assert run.settings.objective.disruption == disruption
        assert row["balance"] == pytest.approx(
            max(run.kpis["after"]["potential.max_abs_deviation"],
                run.kpis["after"]["workload.max_abs_deviation"])
        )  # fmt: skip
        assert row["disruption"] == run.kpis["after"]["moved_share.accounts"]
        assert row["travel"] == run.kpis["after"]["travel"]


def test_frontier_is_the_non_dominated_plans(local_sweep: align.Sweep) -> None:
    t = local_sweep.table
    expected = {r["point"] for _, r in t.iterrows() if not dominated(r, t)}
    assert set(local_sweep.frontier["point"]) == expected
    assert list(t["frontier"]) == [p in expected for p in t["point"]]


def test_pareto_mask_on_a_known_set() -> None:
    values = np.array([[1, 1, 1], [2, 2, 2], [1, 2, 1], [0, 3, 3], [1, 1, 1]], dtype=float)
    # [2,2,2] and [1,2,1] are beaten by [1,1,1]; equal rows do not dominate each other
    assert pareto_mask(values).tolist() == [True, False, False, True, True]


def test_sweep_folder_holds_ordinary_runs_and_the_tables(local_sweep: align.Sweep) -> None:
    folder = local_sweep.path
    assert folder is not None
    for name in ("sweep.csv", "frontier.csv", "frontier.png", "sweep.json"):
        assert (folder / name).is_file(), name
    table = pd.read_csv(folder / "sweep.csv")
    assert len(table) == 4 and set(table["status"]) == {"optimal"}
    for _, row in table.iterrows():
        run = align.load_run(folder / row["run"])
        assert run.status == row["status"]
        assert run.objective == pytest.approx(row["objective"])
    info = json.loads((folder / "sweep.json").read_text())
    assert info["grid"] == GRID
    assert info["executor"] == {"name": "local", "workers": 2}
    assert info["frontier"] == list(local_sweep.frontier["point"])
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert info["threads_per_solve"] == threads
    assert {r.settings.solver.threads for r in local_sweep.runs.values() if r.settings} == {threads}


def test_local_workers_load_the_scenario_once_each(local_sweep: align.Sweep) -> None:
    used = local_sweep.info["workers_used"]
    assert 1 <= len(used) <= 2
    assert sum(w["points"] for w in used.values()) == 4
    assert max(w["points"] for w in used.values()) >= 2  # some worker solved several points
    assert all(w["scenario_loads"] == 1 for w in used.values())


def _load_twice_counter(path: str) -> str:
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    return "shared"


def _read_shared(value: str, i: int) -> tuple[int, str, int]:
    return os.getpid(), value, i


def test_local_executor_makes_shared_data_once_per_process(tmp_path: Path) -> None:
    from align.executors import Lazy

    log = tmp_path / "loads.txt"
    with LocalExecutor(2) as ex:
        handle = ex.scatter(Lazy(_load_twice_counter, (str(log),)))
        futures = [ex.submit(_read_shared, handle, i) for i in range(8)]
        results = [f.result() for f in ex.as_completed(futures)]
    assert sorted(r[2] for r in results) == list(range(8))
    assert {r[1] for r in results} == {"shared"}
    loads = log.read_text().split()
    assert len(loads) == len(set(loads))  # no process made it twice
    assert {str(r[0]) for r in results} <= set(loads)


def test_executor_map_keeps_the_order() -> None:
    with LocalExecutor(2) as ex:
        handle = ex.scatter("data")
        assert [r[1:] for r in ex.map(_read_shared, [handle] * 3, [5, 6, 7])] == [
            ("data", 5),
            ("data", 6),
            ("data", 7),
        ]


def test_set_overrides_lie_under_the_varied_keys() -> None:
    loaded = align.load_scenario(TWO_REPS, overrides=["objective.travel=2", "solver.gap=0.01"])
    points = point_settings(loaded, {"objective.travel": [0, 1]})
    # a scenario loaded with overrides keeps them; the varied key wins over them
    assert [(s.objective.travel, s.solver.gap) for _, s in points] == [(0, 0.01), (1, 0.01)]
    # a preset may be varied: its rules come in under scenario.toml
    plain = align.load_scenario(TWO_REPS)
    (_, balanced), (_, minimal) = point_settings(plain, {"model": ["balanced", "min-disruption"]})
    assert balanced.balance["potential"].tolerance == 0.10  # scenario.toml over the preset
    assert balanced.balance["workload"].tolerance == 0.15  # from models/balanced.toml
    assert minimal.constraints.max_moved_share == 0.25  # from models/min-disruption.toml


def test_dask_local_cluster_gives_the_local_results(
    local_sweep: align.Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    scatters: list[dict[str, Any]] = []
    original = distributed.Client.scatter

    def spy(self: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        scatters.append({"type": type(data).__name__, **kwargs})
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", spy)
    with distributed.LocalCluster(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        result = align.sweep(PFIZER, GRID, executor=cluster.scheduler_address)
    # the scenario travels once, to every worker; the tasks carry only settings
    assert scatters == [{"type": "Scenario", "broadcast": True, "hash": False}]
    assert result.info["executor"]["name"] == "dask"
    assert result.info["executor"]["workers"] == 2
    cols = ["point", "status", "objective"]
    pd.testing.assert_frame_equal(result.table[cols], local_sweep.table[cols])
    assert list(result.table["frontier"]) == list(local_sweep.table["frontier"])
    for name, run in result.runs.items():
        if name.startswith("p1"):
            continue  # travel and disruption weigh 0: any plan is optimal
        local = local_sweep.runs[name].kpis["after"]
        assert run.kpis["after"]["travel"] == pytest.approx(local["travel"])
        assert run.kpis["after"]["moved_accounts"] == local["moved_accounts"]


def test_unreachable_dask_scheduler_is_a_clear_error() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(align.ExecutorError) as e:
        DaskExecutor("tcp://127.0.0.1:1", timeout=0.5)
    assert str(e.value).startswith(
        "executor dask: cannot reach a Dask scheduler at tcp://127.0.0.1:1 within 0.5 s"
    )
    assert e.value.exit_code == 2


def test_unknown_executor_names_the_forms() -> None:
    with pytest.raises(align.ExecutorError, match="expected 'local' or 'dask://HOST:PORT'"):
        get_executor("spark://x")


def test_infeasible_and_failing_points_are_recorded_with_the_rest(tmp_path: Path) -> None:
    grid = {"balance.potential.tolerance": [0.1, 0.5], "constraints.max_moved_share": [0, 1]}
    result = align.sweep(TWO_REPS, grid, workers=2, out=tmp_path / "s")
    t = result.table.set_index("point")
    bad = "p1_tolerance=0.1_max_moved_share=0"
    assert t.loc[bad, "status"] == "infeasible"
    assert t.loc[bad, "reason"] == (
        "smallest single change that lets a plan exist: constraints.max_moved_share must rise "
        "to at least 20.00% (it is 0.00%); or, alone: balance.potential.tolerance must rise to "
        "at least 33.34% (it is 10.00%)"
    )
    assert not t.loc[bad, "frontier"]
    assert (t.drop(index=bad)["status"] == "optimal").all()
    # +-10%, moves allowed: A3 moves (the README's worked example)
    assert t.loc["p2_tolerance=0.1_max_moved_share=1", "objective"] == 15
    # +-50%, no moves: today's plan, travel 11
    assert t.loc["p3_tolerance=0.5_max_moved_share=0", "objective"] == 11
    assert json.loads((tmp_path / "s/runs" / bad / "run.json").read_text())["status"] == (
        "infeasible"
    )
    assert not (tmp_path / "s/runs" / bad / "assignments.csv").exists()

    failing = align.sweep(TWO_REPS, {"solver.name": ["highs", "nosuch"]}, workers=2)
    f = failing.table.set_index("point")
    assert f.loc["p1_name=highs", "status"] == "optimal"
    assert f.loc["p2_name=nosuch", "status"] == "error"
    assert f.loc["p2_name=nosuch", "reason"].startswith(
        "SolverError: settings key 'solver.name': unknown solver 'nosuch'"
    )


def test_interrupt_keeps_the_finished_points(tmp_path: Path) -> None:
    seen: list[str] = []

    def stop_after_first(done: int, total: int, row: dict[str, Any]) -> None:
        seen.append(str(row["point"]))
        raise KeyboardInterrupt

    grid = {"objective.disruption": [0, 1, 2, 3]}
    result = align.sweep(TWO_REPS, grid, workers=1, out=tmp_path / "s", progress=stop_after_first)
    assert result.interrupted
    t = result.table.set_index("point")
    assert len(seen) == 1
    assert t.loc[seen[0], "status"] == "optimal"
    assert (t.drop(index=seen[0])["status"] == "cancelled").all()
    assert align.load_run(tmp_path / "s/runs" / seen[0]).status == "optimal"
    assert len(pd.read_csv(tmp_path / "s/sweep.csv")) == 4
    assert json.loads((tmp_path / "s/sweep.json").read_text())["interrupted"] is True


def test_vary_values_parse_as_set_does() -> None:
    assert parse_vary(["objective.travel_weight=none,potential", "solver.gap=0,0.01"]) == {
        "objective.travel_weight": ["none", "potential"],
        "solver.gap": [0, 0.01],
    }
    with pytest.raises(align.SettingsError, match="expected key=value,value"):
        parse_vary(["objective.disruption"])


def test_a_varied_column_the_scenario_lacks_is_reported_before_solving() -> None:
    with pytest.raises(align.SettingsError) as e:
        align.sweep(TWO_REPS, {"objective.travel_weight": ["none", "potentail"]})
    assert e.value.problems == [
        "--vary objective.travel_weight=potentail: settings key 'objective.travel_weight': "
        "accounts.csv has no column 'potentail' (did you mean 'potential'?)"
    ]


def align_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "align.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_cli_bad_vary_key_exits_2_naming_the_nearest_key(tmp_path: Path) -> None:
    res = align_cli(
        "sweep", TWO_REPS, "--vary", "balance.potential.tolerence=0.1,0.2",
        "--out", str(tmp_path / "s"),
    )  # fmt: skip
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "error: 1 problem in the scenario:\n"
        "- --vary: unknown settings key 'balance.potential.tolerence' "
        "(did you mean 'balance.potential.tolerance'?)"
    )
    assert not (tmp_path / "s").exists()


def test_cli_writes_the_sweep(tmp_path: Path) -> None:
    out = tmp_path / "s"
    res = align_cli(
        "sweep", TWO_REPS, "--vary", "balance.potential.tolerance=0.1,0.5",
        "--vary", "objective.disruption=0,100", "--out", str(out), "--workers", "2",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "4 of 4 points with a plan" in res.stdout
    assert res.stderr == ""  # no progress bar off a terminal
    table = pd.read_csv(out / "sweep.csv")
    assert list(table.columns[:3]) == [
        "point", "balance.potential.tolerance", "objective.disruption"
    ]  # fmt: skip
    # a move costs 100: the +-50% plans keep today's alignment
    keep = table[table["objective.disruption"] == 100]
    assert (keep[keep["balance.potential.tolerance"] == 0.5]["disruption"] == 0).all()
    frontier = pd.read_csv(out / "frontier.csv")
    assert set(frontier["point"]) == set(table[table["frontier"]]["point"])
    assert len(list((out / "runs").iterdir())) == 4
    assert (out / "frontier.png").stat().st_size > 10_000


def test_cli_reads_the_dask_address_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from align.cli.sweeps import _executor_spec

    monkeypatch.delenv("ALIGN_DASK_ADDRESS", raising=False)
    assert _executor_spec(None) == "local"
    monkeypatch.setenv("ALIGN_DASK_ADDRESS", "10.0.0.5:8786")
    assert _executor_spec(None) == "dask://10.0.0.5:8786"
    assert _executor_spec("local") == "local"  # the option wins
    monkeypatch.setenv("ALIGN_DASK_ADDRESS", "tcp://10.0.0.5:8786")
    assert _executor_spec(None) == "tcp://10.0.0.5:8786"


# --- chosen measures, labelled points, unique headers ------------------------------------


def test_frontier_weighs_the_measures_chosen(tmp_path: Path) -> None:
    grid = {"balance.potential.tolerance": [0.1, 0.5], "objective.disruption": [0, 100]}
    result = align.sweep(TWO_REPS, grid, workers=2, measures="potential,moved,travel",
                         out=tmp_path / "s")  # fmt: skip
    assert result.measures == {
        "potential": "potential.max_abs_deviation", "moved": "disruption", "travel": "travel"
    }  # fmt: skip
    t = result.table.set_index("point")
    # +-10%: West and East at 30 each (A3 moves); +-50%: today's 40/20 stays
    assert t["potential.max_abs_deviation"].tolist() == pytest.approx([0, 0, 1 / 3, 1 / 3])
    assert t["label"].tolist() == [
        "tolerance=0.1, disruption=0", "tolerance=0.1, disruption=100",
        "tolerance=0.5, disruption=0", "tolerance=0.5, disruption=100",
    ]  # fmt: skip
    cols = list(result.measures.values())
    for point, row in t.iterrows():
        others = t.drop(index=point)
        le = (others[cols] <= row[cols] + 1e-9).all(axis=1)
        lt = (others[cols] < row[cols] - 1e-9).any(axis=1)
        assert row["frontier"] == (not (le & lt).any())
    info = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert info["measures"] == result.measures
    assert repr(result).startswith("<Sweep 4 points, 4 with a plan, 4 on the frontier of ")


def test_an_unknown_measure_is_named_with_the_choices() -> None:
    with pytest.raises(align.SettingsError) as e:
        align.sweep(TWO_REPS, {"objective.disruption": [0, 1]}, measures=["potentail", "moved"])
    assert e.value.problems == [
        "--measures 'potentail': not a measure (did you mean 'potential'?); choose from "
        "balance, moved, disruption, travel, distance, potential, workload"
    ]
    with pytest.raises(align.SettingsError, match="give two or more"):
        align.sweep(TWO_REPS, {"objective.disruption": [0, 1]}, measures="travel")


def test_short_keys_are_unique_tails() -> None:
    from align.sweeping import short_keys

    keys = ["objective.disruption", "balance.potential.tolerance", "balance.workload.tolerance"]
    assert short_keys(keys) == {
        "objective.disruption": "disruption",
        "balance.potential.tolerance": "potential.tolerance",
        "balance.workload.tolerance": "workload.tolerance",
    }
    assert short_keys(["objective.travel"], taken=("travel",)) == {
        "objective.travel": "objective.travel"
    }


def test_cli_sweep_headers_are_unique_and_name_the_measures(tmp_path: Path) -> None:
    res = align_cli(
        "sweep", TWO_REPS, "--vary", "objective.travel=0,1", "--vary", "objective.disruption=0,100",
        "--measures", "potential,moved,travel", "--out", str(tmp_path / "s"), "--workers", "2",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    header = next(line for line in res.stdout.splitlines() if line.strip().startswith("point"))
    names = header.split()
    assert names == ["point", "objective.travel", "disruption", "status", "objective",
                     "potential", "moved", "travel"]  # fmt: skip
    assert len(set(names)) == len(names)
    assert "on the frontier of potential, moved, travel" in res.stdout
