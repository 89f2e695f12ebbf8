"""Hostile scenario folders and run folders: a message and exit 2, never a traceback; run folders
whole or absent (issue "Hardening")."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import align
from align import cli
from align.engine import solve
from align.errors import ScenarioError
from align.io import load_scenario
from align.runs import Run, load_run
from align.settings import load_preset

TWO_REPS = Path("data/examples/two-reps")


def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str):
    """``align ARGS`` in this process, as the entry point runs it: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["align", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the two-reps example to break."""
    return Path(shutil.copytree(TWO_REPS, tmp_path / "scenario"))


def problems_of(path: Path, overrides: list[str] | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides=overrides)
    return info.value.problems


# --- scenario.toml, presets and --set ---------------------------------------------------------


def test_a_deeply_nested_array_in_scenario_toml_is_a_problem_not_a_recursion_error(
    folder: Path,
) -> None:
    (folder / "scenario.toml").write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert problems_of(folder) == [
        "scenario.toml: tables or arrays are nested too many levels deep; settings nest at "
        "most 16 levels (e.g. [balance.potential] tolerance = 0.05)"
    ]


@pytest.mark.parametrize("parts", [17, 5_000])
def test_a_table_header_of_many_parts_is_refused_with_the_depth_limit(
    folder: Path, parts: int
) -> None:
    (folder / "scenario.toml").write_text("[" + ".".join(["a"] * parts) + "]\n")
    assert problems_of(folder) == [
        "scenario.toml: tables or arrays are nested more than 16 levels deep; settings nest "
        "at most 16 levels (e.g. [balance.potential] tolerance = 0.05)"
    ]


def test_a_scenario_toml_over_a_mebibyte_is_refused_before_parsing(folder: Path) -> None:
    (folder / "scenario.toml").write_text("# " + "x" * (1 << 20) + "\n")
    (problem,) = problems_of(folder)
    assert problem.startswith("scenario.toml: the file is over 1,048,576 bytes;")


def test_a_key_of_ten_thousand_parts_or_a_deep_value_in_set_is_a_problem(folder: Path) -> None:
    key = ".".join(["a"] * 10_000)
    deep = "[" * 5_000 + "]" * 5_000
    found = problems_of(folder, [f"{key}=1", f"solver.gap={deep}"])
    assert len(found) == 2
    assert found[0].startswith("--set 'a.a.a.a") and found[0].endswith(
        "...': the key has more than 16 parts; settings keys have a few, e.g. "
        "balance.potential.tolerance"
    )
    assert found[1].endswith(
        "...': tables or arrays are nested too many levels deep; settings nest at most 16 "
        "levels (e.g. [balance.potential] tolerance = 0.05)"
    )


@pytest.mark.parametrize("name", ["../pyproject", "/etc/passwd", "../../models/balanced", "x/y"])
def test_a_preset_name_never_reaches_the_file_system(name: str, folder: Path) -> None:
    (folder / "scenario.toml").write_text(f'model = "{name}"\n')
    assert problems_of(folder) == [
        f"scenario.toml: settings key 'model': unknown preset '{name}'; presets: balanced, "
        "greenfield, min-disruption"
    ]
    with pytest.raises(ScenarioError):
        load_preset(name)


def test_the_pyproject_beside_models_is_not_a_preset(tmp_path: Path) -> None:
    # it exists (one folder up from models/) and is TOML: still unknown, nothing of it echoed
    assert Path("pyproject.toml").is_file()
    with pytest.raises(ScenarioError) as info:
        load_preset("../pyproject")
    assert "project" not in str(info.value).replace("pyproject", "")


# --- account files ------------------------------------------------------------------------------


def test_a_corrupt_parquet_is_named_with_the_fix(folder: Path) -> None:
    (folder / "accounts.csv").unlink()
    (folder / "accounts.parquet").write_bytes(b"PAR1garbagePAR1")
    (problem,) = problems_of(folder)
    assert problem.startswith("accounts.parquet: not a readable Parquet file (")
    assert problem.endswith(
        "; write it again with pandas.DataFrame.to_parquet or send accounts.csv"
    )
    assert str(folder) not in problem  # the place is the file's name, not a server's path


def test_a_truncated_parquet_is_named(folder: Path) -> None:
    frame = pd.read_csv(folder / "accounts.csv")
    (folder / "accounts.csv").unlink()
    frame.to_parquet(folder / "accounts.parquet")
    content = (folder / "accounts.parquet").read_bytes()
    (folder / "accounts.parquet").write_bytes(content[: len(content) // 2])
    (problem,) = problems_of(folder)
    assert problem.startswith("accounts.parquet: not a readable Parquet file (")


def test_a_folder_named_accounts_csv_is_not_reported_missing(folder: Path) -> None:
    (folder / "accounts.csv").unlink()
    (folder / "accounts.csv").mkdir()
    assert problems_of(folder) == [
        f"{folder / 'accounts.csv'}: is a folder, not a file; put the file itself there"
    ]


def test_a_symlink_loop_and_a_dangling_link_are_named(folder: Path) -> None:
    (folder / "accounts.csv").unlink()
    (folder / "accounts.csv").symlink_to("accounts.csv")
    (folder / "territories.csv").unlink()
    (folder / "territories.csv").symlink_to("gone.csv")
    assert problems_of(folder) == [
        f"{folder / 'accounts.csv'}: is a symbolic link that loops back on itself; replace it "
        "by the file",
        f"{folder / 'territories.csv'}: is a symbolic link to nothing; replace it by the file",
    ]


@pytest.mark.parametrize("value", ["1e308", "9e307"])
def test_potentials_whose_total_is_past_1e15_are_refused(folder: Path, value: str) -> None:
    text = (folder / "accounts.csv").read_text().splitlines()
    text[1] = text[1].replace(",15,", f",{value},", 1)
    text[2] = text[2].replace(",15,", f",{value},", 1)
    (folder / "accounts.csv").write_text("\n".join(text) + "\n")
    (problem,) = problems_of(folder)
    assert problem.startswith("accounts.csv: the total of column 'potential' is ")
    assert problem.endswith(
        ", above 1e+15, where the bands and the objective are no longer exact; give it in "
        "larger units (thousands or millions)"
    )


def test_potentials_of_a_trillion_each_still_solve(folder: Path) -> None:
    # 60 units of potential in the example become 60e12: inside the limit, same plan
    frame = pd.read_csv(folder / "accounts.csv")
    frame["potential"] = frame["potential"] * 1e12
    frame.to_csv(folder / "accounts.csv", index=False)
    run = solve(load_scenario(folder))
    assert run.status == "optimal"
    moved = run.assignments.loc[run.assignments["moved"], "account_id"].tolist()
    assert moved == ["A3"]


# --- run folders ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_reps_run() -> Run:
    return solve(load_scenario(TWO_REPS))


def test_a_new_run_replaces_the_old_folder_whole(two_reps_run: Run, tmp_path: Path) -> None:
    out = tmp_path / "run"
    two_reps_run.write(out)
    (out / "report.html").write_text("<p>of the previous run</p>")
    (out / "map.png").write_bytes(b"old map")
    two_reps_run.write(out)
    assert sorted(p.name for p in out.iterdir()) == [
        "assignments.csv",
        "run.json",
        "territories.csv",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left


@pytest.mark.parametrize("stop", [KeyboardInterrupt, lambda: OSError(errno.ENOSPC, "No space")])
def test_a_write_stopped_midway_leaves_the_previous_run_folder(
    two_reps_run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stop: Callable[[], BaseException],
) -> None:
    out = tmp_path / "run"
    two_reps_run.write(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import align.io

    real = align.io.write_run_folder

    def half(folder: Path, summary: dict[str, object], frames: dict[str, pd.DataFrame]) -> None:
        first = dict(list(frames.items())[:1])
        real(folder, {**summary, "objective": -1.0}, first)  # one file, then the stop
        raise stop()

    monkeypatch.setattr("align.runs.write_run_folder", half)
    with pytest.raises((KeyboardInterrupt, OSError)):
        two_reps_run.write(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert load_run(out).objective == two_reps_run.objective


def test_a_folder_that_is_not_a_run_is_never_written_over(two_reps_run: Run, folder: Path) -> None:
    from align.errors import RunError

    with pytest.raises(RunError, match="holds files that are not a run's"):
        two_reps_run.write(folder)
    assert (folder / "territories.csv").read_bytes() == (TWO_REPS / "territories.csv").read_bytes()


# --- the CLI's error paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    "out, message",
    [
        ("scenario", "is the scenario folder; write the run to a folder of its own"),
        ("scenario/accounts.csv", "is a file, not a run folder; give a folder to write"),
        ("scenario/accounts.csv/run", "is a file, so the folder cannot be made there"),
        ("notes", "holds files that are not a run's (a.txt); write the run to a new folder"),
    ],
)
def test_solve_checks_out_before_solving(
    folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    out: str,
    message: str,
) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def no_solve(*_: object, **__: object) -> Run:
        raise AssertionError("solved before --out was checked")

    monkeypatch.setattr(cli.plans, "solve_scenario", no_solve)
    code, stdout, stderr = run_cli(capsys, monkeypatch, "solve", str(folder), "--out",
                                   str(tmp_path / out))  # fmt: skip
    assert code == 2
    assert stderr.startswith("error: ") and message in stderr, stderr
    assert "Traceback" not in stderr + stdout
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_solve_checks_an_unwritable_out_before_solving(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, stderr = run_cli(capsys, monkeypatch, "solve", str(folder), "--out",
                              str(locked / "run"))  # fmt: skip
    assert code == 2 and "(permission denied); choose another" in stderr


def test_a_plan_without_a_bound_is_printed_with_dashes(
    folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    two_reps_run: Run,
) -> None:
    from dataclasses import replace

    # a large greenfield plan stopped early: a plan, no bound, so no gap
    stopped = replace(two_reps_run, status="feasible", bound=None, gap=None)
    monkeypatch.setattr(cli.plans, "solve_scenario", lambda *_, **__: stopped)
    code, stdout, stderr = run_cli(
        capsys, monkeypatch, "solve", str(folder), "--out", str(tmp_path / "run")
    )
    assert code == 0, stderr
    assert stdout.startswith("feasible: objective 15, bound –, gap –, ")  # units.DASH
    assert json.loads((tmp_path / "run" / "run.json").read_text())["gap"] is None


def test_a_failed_write_after_the_solve_is_a_message_and_exit_1(
    folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("align.runs.write_run_folder", full)
    code, stdout, stderr = run_cli(
        capsys, monkeypatch, "solve", str(folder), "--out", str(tmp_path / "run")
    )
    assert code == 1
    assert stderr == (
        f"error: --out {tmp_path / 'run'}: the run folder could not be written (No space left "
        "on device); the previous content is unchanged; free space or choose another folder\n"
    )
    assert not (tmp_path / "run").exists() and [p.name for p in tmp_path.iterdir()] == ["scenario"]


def test_a_number_of_four_hundred_digits_is_a_problem_not_an_overflow(folder: Path) -> None:
    # found by the fuzzing suite: pandas' to_numeric raised OverflowError
    text = (folder / "accounts.csv").read_text().splitlines()
    text[1] = text[1].replace("A1,1,0,", "A1," + "9" * 400 + ",0,", 1)
    (folder / "accounts.csv").write_text("\n".join(text) + "\n")
    found = problems_of(folder)
    assert found[0] == "accounts.csv row 2: x must be a number (got " + "9" * 400 + ")"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_serve_refuses_to_listen_beyond_loopback_without_keys(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("ALIGN_API_KEYS", "ALIGN_API_KEYS_FILE"):
        monkeypatch.delenv(var, raising=False)
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: pytest.fail("served without keys"))
    code, _, stderr = run_cli(capsys, monkeypatch, "serve", "--host", host)
    assert code == 2
    assert stderr == (
        f"error: invalid service settings:\n- --host {host}: listening beyond this machine "
        "without API keys would let anyone who reaches the port read and run every scenario; "
        "set ALIGN_API_KEYS or ALIGN_API_KEYS_FILE, or listen on 127.0.0.1 (the default)\n"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_serve_listens_on_loopback_without_keys(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    import uvicorn

    monkeypatch.delenv("ALIGN_API_KEYS", raising=False)
    monkeypatch.setenv("ALIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    served: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_, host, **__: served.append(host))
    code, _, stderr = run_cli(capsys, monkeypatch, "serve", "--host", host)
    assert code == 0 and served == [host], stderr
    assert "no API keys (open)" in stderr


@pytest.mark.parametrize(
    ("given", "level", "access_log"),
    [
        ([], "info", False),
        (["--log-level", "info"], "info", True),
        (["--log-level", "debug"], "debug", True),
        (["--log-level", "warning"], "warning", False),
    ],
)
def test_serve_logs_requests_only_when_the_log_level_asks(
    given: list[str], level: str, access_log: bool, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    import uvicorn

    monkeypatch.delenv("ALIGN_API_KEYS", raising=False)
    monkeypatch.setenv("ALIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    served: list[tuple[str, bool]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_, log_level, access_log, **__: served.append(
        (log_level, access_log)
    ))  # fmt: skip
    code, _, stderr = run_cli(capsys, monkeypatch, "serve", *given)
    assert code == 0 and served == [(level, access_log)], stderr


def test_serve_names_an_unknown_log_level(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: pytest.fail("served"))
    code, _, stderr = run_cli(capsys, monkeypatch, "serve", "--log-level", "loud")
    assert code == 2 and "'loud' is not one of" in stderr, stderr


def test_compare_reads_a_run_whose_settings_no_longer_validate_with_a_note(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    align.solve(TWO_REPS).write(tmp_path / "old")
    align.solve(TWO_REPS).write(tmp_path / "new")
    path = tmp_path / "old" / "run.json"
    summary = json.loads(path.read_text())
    summary["settings"]["retired"] = 1
    path.write_text(json.dumps(summary))
    code, stdout, stderr = run_cli(capsys, monkeypatch, "compare", str(tmp_path / "old"),
                                   str(tmp_path / "new"))  # fmt: skip
    assert code == 0 and "KPIs by run" in stdout, stderr
    assert stderr == (
        f"note: {path}: settings do not validate under align {align.__version__} (retired: Extra "
        "inputs are not permitted); kept as read in run.settings_raw, run.settings is None\n"
    )
