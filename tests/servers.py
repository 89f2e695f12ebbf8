"""A real `align serve` process on a free loopback port, for the service tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

TWO_REPS = Path("data/examples/two-reps")
TWO_REPS_FILES = ("accounts.csv", "territories.csv", "scenario.toml")
PFIZER = Path("tests/data/pfizer-22x4")
PFIZER_FILES = ("accounts.csv", "territories.csv", "distances.csv", "scenario.toml")
# the classic Pfizer bands and their proven minimum distances (tests/test_pfizer.py)
PFIZER_OPTIMA = {0.20: 154.60, 0.15: 160.32, 0.10: 162.43}
PFIZER_SET = ["objective.travel_weight=none", "solver.gap=0"]
FINAL = ("succeeded", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``align serve`` in its own process, driven with httpx."""

    def __init__(self, database_url: str, workdir: Path, **env: str):
        self.database_url = database_url
        self.workdir = workdir
        self.env = env
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, workers: int = 2) -> Server:
        self.port = free_port()
        env = {**os.environ, "ALIGN_DATABASE_URL": self.database_url, **self.env}
        cmd = [sys.executable, "-m", "align.cli", "serve", "--port", str(self.port)]
        cmd += ["--workers", str(workers), "--log-level", "warning"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"align serve exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"align serve did not answer: {self.log.read_text()}")

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> list[int]:
        """SIGKILL the server (a crash); returns the pids of the processes it had started."""
        assert self.process is not None
        children = descendants(self.process.pid)
        self.process.kill()
        self.process.wait()
        self.process = None
        return children


def descendants(pid: int, *, depth: int | None = None) -> list[int]:
    """Every process below ``pid`` (Linux /proc); with ``depth``, that many levels only."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        parents[int(stat.parent.name)] = int(fields[1])
    out, frontier, level = [], [pid], 0
    while frontier and (depth is None or level < depth):
        kids = [c for c, pp in parents.items() if pp in frontier]
        out += kids
        frontier, level = kids, level + 1
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(client: httpx.Client, run_id: str, until: tuple[str, ...] = FINAL) -> dict[str, Any]:
    """Poll a run until its status is one of ``until`` (a bounded wait, not a timing test)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/runs/{run_id}").json()
        if body["status"] in until:
            return body
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} is still {body['status']}")


def upload(client: httpx.Client, folder: Path, names: tuple[str, ...], name: str) -> httpx.Response:
    files = [("files", (n, (folder / n).read_bytes())) for n in names if (folder / n).is_file()]
    return client.post("/scenarios", files=files, data={"name": name})


def slow_scenario(time_limit_s: float) -> dict[str, Any]:
    """300 accounts, 6 reps, every band +-0.1% and gap 0: the solve uses its whole time limit
    (it ends as no_solution or feasible, never proven optimal earlier)."""
    rng = np.random.default_rng(1)
    n, m = 300, 6
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "x": rng.uniform(0, 100, n).round(3),
            "y": rng.uniform(0, 100, n).round(3),
            "potential": rng.integers(1, 1000, n),
            "workload": rng.integers(1, 50, n),
        }
    )
    territories = pd.DataFrame(
        {
            "territory_id": [f"T{j}" for j in range(m)],
            "x": rng.uniform(0, 100, m).round(3),
            "y": rng.uniform(0, 100, m).round(3),
        }
    )
    return {
        "name": "slow",
        "accounts": accounts.to_dict(orient="records"),
        "territories": territories.to_dict(orient="records"),
        "settings": {
            "balance": {"potential": {"tolerance": 0.001}, "workload": {"tolerance": 0.001}},
            "solver": {"gap": 0, "time_limit_s": time_limit_s},
        },
    }


# ---------------------------------------------------------------------------------------------
# databases

POSTGRES_ENV = "ALIGN_TEST_POSTGRES_URL"
NO_POSTGRES = (
    f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://user:password@127.0.0.1:5432/postgres "
    "(a role that may create databases); .ci/run sets it up, docs/service.md says how to locally"
)


@contextmanager
def database(kind: str, work: Path) -> Iterator[str]:
    """A fresh database's URL: an SQLite file in ``work``, or a new PostgreSQL database
    (skipped without ALIGN_TEST_POSTGRES_URL), dropped afterwards."""
    import pytest

    if kind == "sqlite":
        yield f"sqlite:///{work / 'align.db'}"
        return
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(NO_POSTGRES)
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def create_postgres_database() -> str:
    """A new, empty database on the server of ALIGN_TEST_POSTGRES_URL; its URL."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(os.environ[POSTGRES_ENV])
    name = f"align_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    base = make_url(os.environ[POSTGRES_ENV])
    with psycopg.connect(_libpq(base), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


def _libpq(url: Any) -> str:
    return str(url.set(drivername="postgresql").render_as_string(hide_password=False))


def solver_processes(server_pid: int) -> list[int]:
    """The solver processes of a server: the children of its multiprocessing fork server
    (not their own HiGHS worker processes)."""
    for pid in descendants(server_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in cmdline:
            return [p for p in descendants(pid, depth=1) if alive(p)]
    return []
