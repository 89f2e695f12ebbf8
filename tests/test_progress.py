"""Live progress of `align solve` on a terminal, silence elsewhere, Ctrl-C that keeps the plan."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from align.engine.backends import Watch, stop_requested, watching
from align.progress import SolveProgress

ROOT = Path(__file__).resolve().parents[1]
TWO_REPS = str(ROOT / "data/examples/two-reps")


def test_progress_line_shows_phase_elapsed_incumbent_bound_and_gap() -> None:
    p = SolveProgress()
    p("lp", {"round": 2, "pairs": 1500, "elapsed": 0.3})
    line = p.line()
    assert line.startswith("solving: LP relaxation · ")
    assert " s · round 2 · pairs 1,500" in line
    assert "incumbent" not in line
    p("repair", {"elapsed": 0.5, "bound": 100.0})
    p.mip({"objective": 105.0, "bound": 100.0, "gap": 0.05})
    assert p.line().endswith("MIP incumbent 105, gap 5.00%")
    p("incumbent", {"objective": 110.0, "bound": 100.0, "elapsed": 0.9})
    line = p.line()
    assert "closing the gap" in line
    assert "incumbent 110 · bound 100 · gap 9.09%" in line
    assert "MIP incumbent" not in line  # a new phase forgets the last MIP
    p.stopping = True
    assert p.line().endswith("stopping (Ctrl-C): keeping the best plan found")
    p.close()
    assert [d.split(":")[0] for d in p.done] == [
        "LP relaxation",
        "placing split accounts",
        "closing the gap",
    ]


def test_watch_is_active_only_inside_its_block() -> None:
    w = Watch()
    assert not stop_requested()
    with watching(w):
        assert not stop_requested()
        w.stop.set()
        assert stop_requested()
    assert not stop_requested()


def _run_on_pty(args: list[str], *, interrupt_on: bytes | None = None, limit: float = 120):
    """Run `align ARGS` with stderr on a pseudo-terminal; send SIGINT once ``interrupt_on``
    appears there. Returns (exit code, stdout, terminal output)."""
    import pty

    env = dict(os.environ, COLUMNS="220", TERM="xterm")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "align.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        cwd=ROOT,
    )
    os.close(slave)
    screen = b""
    sent = False
    start = time.monotonic()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk and proc.poll() is not None:
                    break
                screen += chunk
            elif proc.poll() is not None:
                break
            if interrupt_on is not None and not sent and interrupt_on in screen:
                proc.send_signal(signal.SIGINT)
                sent = True
            if time.monotonic() - start > limit:
                proc.kill()
                pytest.fail(f"align {' '.join(args)} did not finish within {limit} s")
        out = proc.communicate()[0].decode()
    finally:
        os.close(master)
    if interrupt_on is not None:
        assert sent, f"never saw {interrupt_on!r} on the terminal: {screen[-2000:]!r}"
    return proc.returncode, out, screen.decode(errors="replace")


def test_solve_is_quiet_when_output_is_not_a_terminal(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "align.cli", "solve", TWO_REPS, "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0
    assert res.stderr == ""
    assert res.stdout.startswith("optimal: objective 15, bound 15")


def test_solve_shows_live_progress_on_a_terminal_and_none_with_quiet(tmp_path: Path) -> None:
    code, out, screen = _run_on_pty(["solve", TWO_REPS, "--out", str(tmp_path / "r")])
    assert code == 0
    assert "done  LP relaxation: " in screen
    assert "done  placing split accounts: " in screen
    assert "solving: " in screen  # the live line
    assert out.startswith("optimal: objective 15, bound 15")
    code, out, screen = _run_on_pty(["solve", TWO_REPS, "--out", str(tmp_path / "q"), "--quiet"])
    assert code == 0
    assert out == "" and screen == ""


def test_ctrl_c_stops_the_solve_and_keeps_the_best_plan_with_its_true_status(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from generate import generate, settings_toml, write_scenario
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    # gap 0: the first plan comes within seconds, closing the gap takes long
    accounts, territories = generate(5000, 50, seed=1)
    toml = settings_toml(tolerance_potential=0.03, tolerance_workload=0.06, gap=0.0, seed=1)
    write_scenario(tmp_path / "big", accounts, territories, toml)
    run = tmp_path / "run"
    code, out, screen = _run_on_pty(
        ["solve", str(tmp_path / "big"), "--out", str(run), "--set", "solver.time_limit_s=60"],
        interrupt_on="· incumbent".encode(),  # a whole plan exists (not only a MIP's)
    )
    assert code == 0, screen[-2000:]
    summary = json.loads((run / "run.json").read_text())
    assert summary["status"] == "feasible"
    assert summary["gap"] > 0
    assert summary["stats"]["interrupted"] is True
    assert summary["message"].startswith("interrupted (Ctrl-C) after ")
    assert summary["wall_seconds"] < 60
    assert out.startswith("feasible: objective ")
    assert "interrupted (Ctrl-C): kept the best plan found, feasible with gap " in screen
    a = pd.read_csv(run / "assignments.csv", dtype=str)
    assert len(a) == 5000 and a["account_id"].is_unique and a["territory_id"].notna().all()
