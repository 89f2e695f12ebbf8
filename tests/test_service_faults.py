"""Faults against a real `align serve` (issue "Hardening", point 3), behind ``-m faults``: the
SQLite file read-only or locked for 20 s while runs solve, a full disk while a run folder is
written. After each: no run stuck ``running``, a clear state and reason for each run, health
answered throughout (503 with the reason while the database cannot be read).

They mount small tmpfs file systems, so they need root (skipped otherwise); about 2 minutes.
kill -9 of the server and of a solver process are in test_service.py (always run).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import FINAL, Server, slow_scenario, wait_for

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses mount and /proc"),
]

OUTAGE_S = 20.0


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Any]:
    """``mount(size)``: a fresh tmpfs of that size under tmp_path (unmounted afterwards)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"mounting a tmpfs needs root ({done.stderr.decode().strip()})")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def read_only(where: Path) -> None:
    """``where`` read-only for whoever opens a file in it from now on (a read-only bind mount
    over it: the database's files are opened again for each transaction)."""
    subprocess.run(["mount", "--bind", str(where), str(where)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(where)], check=True)


def writable(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], check=True)  # the bind mount, not the tmpfs


def submit_two(c: httpx.Client, time_limit_s: float) -> list[str]:
    sid = c.post("/scenarios", json=slow_scenario(time_limit_s)).json()["id"]
    return [c.post(f"/scenarios/{sid}/runs", json={}).json()["id"] for _ in range(2)]


def wait_solving(c: httpx.Client, runs: list[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        phases = [c.get(f"/runs/{r}").json()["phase"] for r in runs]
        if all(p not in ("queued", "starting", "loading") for p in phases):
            return
        time.sleep(0.2)
    raise AssertionError(f"the runs did not start solving: {phases}")


def watch_health(url: str, seconds: float) -> list[tuple[int, str]]:
    """/healthz once a second for ``seconds``: (status, detail) of each answer."""
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r = httpx.get(url + "/healthz", timeout=10)
        seen.append((r.status_code, r.json().get("detail", "")))
        time.sleep(1.0)
    return seen


def check_outcome(c: httpx.Client, runs: list[str]) -> list[dict[str, Any]]:
    outcome = [wait_for(c, r) for r in runs]
    for run in outcome:
        assert run["status"] in FINAL
        assert run["status"] == "succeeded" or "no plan was found within the limits" in (
            run["reason"] or ""
        ), run
        assert run["attempts"] == 1, run
    assert c.get("/runs", params={"status": "running"}).json()["runs"] == []
    return outcome


def test_sqlite_read_only_for_20_s_while_two_runs_solve(tmpfs: Any, tmp_path: Path) -> None:
    disk = tmpfs("64m")
    server = Server(f"sqlite:///{disk / 'align.db'}", tmp_path).start(workers=2)
    try:
        with server.client() as c:
            runs = submit_two(c, time_limit_s=4)
            wait_solving(c, runs)
            read_only(disk)
            try:
                health = watch_health(server.url, OUTAGE_S)
            finally:
                writable(disk)
            assert health and all(status in (200, 503) for status, _ in health), health
            assert all(d.startswith("the database is unavailable: ") for s, d in health if s == 503)
            check_outcome(c, runs)
    finally:
        server.stop()


def test_sqlite_locked_for_20_s_while_two_runs_solve(tmp_path: Path) -> None:
    db = tmp_path / "align.db"
    server = Server(f"sqlite:///{db}", tmp_path).start(workers=2)
    try:
        with server.client() as c:
            runs = submit_two(c, time_limit_s=4)
            wait_solving(c, runs)
            lock = sqlite3.connect(db, timeout=60, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            try:
                health = watch_health(server.url, OUTAGE_S)
            finally:
                lock.execute("COMMIT")
                lock.close()
            assert [s for s, _ in health] == [200] * len(health)  # reads go on under the lock
            check_outcome(c, runs)
    finally:
        server.stop()


def test_a_full_disk_while_writing_a_run_folder_keeps_the_previous_one(
    tmpfs: Any, tmp_path: Path
) -> None:
    import numpy as np
    import pandas as pd

    disk = tmpfs("256k")
    small = Path("data/examples/two-reps")
    run = disk / "run"
    first = subprocess.run([sys.executable, "-m", "align.cli", "solve", str(small), "--out",
                            str(run)], capture_output=True, text=True)  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    rng = np.random.default_rng(0)
    n = 20_000  # assignments.csv of ~800 kB: more than the disk has
    big = tmp_path / "big"
    big.mkdir()
    pd.DataFrame(
        {
            "account_id": [f"ACCOUNT{i:06d}" for i in range(n)],
            "x": rng.uniform(0, 100, n),
            "y": rng.uniform(0, 100, n),
            "potential": rng.integers(1, 100, n),
        }
    ).to_csv(big / "accounts.csv", index=False)
    pd.DataFrame({"territory_id": ["T1", "T2"], "x": [25.0, 75.0], "y": [50.0, 50.0]}).to_csv(
        big / "territories.csv", index=False
    )  # fmt: skip
    full = subprocess.run([sys.executable, "-m", "align.cli", "solve", str(big), "--out",
                           str(run), "--set", "balance.potential.tolerance=0.2"],
                          capture_output=True, text=True)  # fmt: skip
    assert full.returncode == 1, full.stderr
    assert full.stderr.startswith(
        f"error: --out {run}: the run folder could not be written (No space left on device); "
        "the previous content is unchanged"
    )
    assert "Traceback" not in full.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert [p.name for p in disk.iterdir()] == ["run"]  # no half-written folder beside it


def test_ctrl_c_at_any_moment_of_a_write_leaves_a_whole_run_folder_or_the_previous_one(
    tmp_path: Path,
) -> None:
    """SIGINT to `align solve` at 12 moments spread over its run: the folder is absent or
    reads as a whole run (every file of one run), never a mix."""
    import json
    import signal

    import pandas as pd

    from align.runs import load_run

    scenario = Path("data/samples")
    accounts = len(pd.read_csv(scenario / "accounts.csv", usecols=["account_id"]))
    for k in range(12):
        out = tmp_path / f"run{k}"
        args = ["solve", str(scenario), "--out", str(out), "-q"]
        code = ("import sys, align.cli as c; sys.stderr.write('ready\\n'); sys.stderr.flush(); "
                f"sys.argv = ['align', *{args!r}]; c.main()")  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
        assert proc.stderr is not None and proc.stderr.readline() == b"ready\n"
        time.sleep(0.3 + 0.4 * k)  # from the start of the solve to past the write
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        assert b"Traceback" not in err, err.decode()
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f".run{k}."))
        assert left == [], left
        if not out.exists():
            continue
        status = json.loads((out / "run.json").read_text())["status"]
        if status in ("optimal", "feasible"):  # a plan: every file of it
            assert load_run(out).status == status
            assert len(pd.read_csv(out / "assignments.csv", dtype=str)) == accounts
        else:  # stopped before a plan: the record of that, alone (exit 4)
            assert sorted(p.name for p in out.iterdir()) == ["run.json"], status


def test_health_is_answered_while_a_solve_runs(tmp_path: Path) -> None:
    # a long solve never blocks the event loop: health answers within its timeout throughout
    server = Server(f"sqlite:///{tmp_path / 'align.db'}", tmp_path).start(workers=2)
    try:
        with server.client() as c:
            runs = submit_two(c, time_limit_s=8)
            wait_solving(c, runs)
            health = watch_health(server.url, 6.0)
            assert [s for s, _ in health] == [200] * len(health)
            for r in runs:
                c.delete(f"/runs/{r}")
    finally:
        server.stop()


@pytest.fixture
def postgres() -> Iterator[Any]:
    """A private PostgreSQL server on a free loopback port (scripts/test-postgres.sh):
    ``(url, stop, start)``. Skipped where PostgreSQL is not installed."""
    import shutil
    import tempfile

    from servers import free_port

    if not sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        pytest.skip("PostgreSQL is not installed")
    folder = tempfile.mkdtemp(prefix="align-test-pg-")  # tmp_path is private to root
    port = str(free_port())

    def run(*args: str) -> str:
        done = subprocess.run(["scripts/test-postgres.sh", *args], capture_output=True,
                              text=True, check=True)  # fmt: skip
        return done.stdout.strip()

    url = run("start", folder, port)
    try:
        yield url, lambda: run("stop", folder), lambda: run("start", folder, port)
    finally:
        subprocess.run(["scripts/test-postgres.sh", "stop", folder], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_postgresql_down_for_30_s_while_two_runs_solve(postgres: Any, tmp_path: Path) -> None:
    url, stop, start = postgres
    work = tmp_path / "serve"
    work.mkdir()
    server = Server(url, work).start(workers=2)
    try:
        with server.client() as c:
            runs = submit_two(c, time_limit_s=4)
            wait_solving(c, runs)
            stop()
            try:
                health = watch_health(server.url, 30.0)
            finally:
                start()
            assert health and {s for s, _ in health} == {503}, health
            assert all(d.startswith("the database is unavailable: ") for _, d in health)
            assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
            check_outcome(c, runs)
    finally:
        server.stop()


def test_a_run_past_its_memory_cap_fails_and_the_server_lives(tmp_path: Path) -> None:
    # 64 MiB is below what a solver process holds at its start: its first allocations fail
    server = Server(f"sqlite:///{tmp_path / 'align.db'}", tmp_path,
                    ALIGN_RUN_MEMORY_MB="64").start(workers=1)  # fmt: skip
    try:
        with server.client() as c:
            runs = submit_two(c, time_limit_s=4)
            outcome = [wait_for(c, r) for r in runs]
            for run in outcome:
                assert run["status"] == "failed", run
                assert "memory cap of 64 MiB (ALIGN_RUN_MEMORY_MB)" in run["reason"], run
            assert c.get("/healthz").status_code == 200
            assert c.get("/runs", params={"status": "running"}).json()["runs"] == []
    finally:
        server.stop()
