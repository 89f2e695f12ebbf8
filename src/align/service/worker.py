"""Solve runs outside the web process: a dispatcher thread and one solver process per run.

The dispatcher claims queued runs from the store (at most ``workers`` at once) and starts each
in its own process (forked from a preloaded fork server, so starting is cheap). The process
loads the scenario from the store, solves it, and writes the outcome and the result in one
transaction that only succeeds while the run is still its own. Cancelling terminates the
process; a process that dies is reported as a failed run with the reason; a solve running far
past ``solver.time_limit_s`` is stopped.
"""

from __future__ import annotations

import io
import logging
import multiprocessing as mp
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..engine import solve
from ..errors import ScenarioError
from ..io import load_scenario
from ..runs import Run
from ..scenario import Scenario
from ..status import Status
from .states import RunState
from .store import Claim, Store

log = logging.getLogger("align.service")
T = TypeVar("T")

# progress figure by solver phase (the solver reports phases, not fractions)
PHASES = {"starting": 0.02, "loading": 0.05, "lp": 0.15, "repair": 0.6, "incumbent": 0.8}
PROGRESS_EVERY_S = 0.5
GRACE_S = 30.0  # past solver.time_limit_s + max(GRACE_S, the limit), a solve is stopped
RECORD_RETRY_S = 60.0  # a solver process tries this long to write its outcome
DATABASE_EXIT = 75  # EX_TEMPFAIL: the outcome could not be written; the run is re-queued


def overtime(time_limit_s: float) -> float:
    """Seconds a solve may run before it is stopped: the limit, plus a grace period."""
    return time_limit_s + max(GRACE_S, time_limit_s)


# ---------------------------------------------------------------------------------------------
# in the solver process


def materialise(files: dict[str, bytes], folder: Path) -> Path:
    """Write a stored scenario's files into ``folder`` (a scenario folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / Path(name).name).write_bytes(content)
    return folder


def load_stored(
    files: dict[str, bytes], folder: Path, overrides: dict[str, Any] | None = None
) -> Scenario:
    """A stored scenario, written to ``folder`` and read; problems name its files, never the
    server's temporary folder."""
    materialise(files, folder)
    try:
        return load_scenario(folder, overrides=overrides)
    except ScenarioError as e:
        problems = [
            m.replace(f"{folder}/", "").replace(f"{folder}: ", "").replace(str(folder), "scenario")
            for m in e.problems
        ]
        raise ScenarioError(problems) from None


def frame_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.10g")
    return buf.getvalue().encode()


def _die_with_server() -> None:
    """End this process when the web process that started it ends (crash or kill).

    A forkserver child keeps the fork server alive, so the server's own sentinel is watched
    (:func:`multiprocessing.parent_process` is the process that called ``start``).
    """
    parent = mp.parent_process()
    if parent is None:  # pragma: no cover - always started by a WorkerPool
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="align-watch-server", daemon=True).start()


def cap_memory(memory_mb: int) -> None:
    """Cap this process's address space (a run past it gets MemoryError, the server lives)."""
    if memory_mb <= 0:
        return
    import resource

    limit = memory_mb * 2**20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def lower_priority(nice: int) -> None:
    """Run this process (and the HiGHS processes it starts) ``nice`` steps below the server:
    on a busy machine the web process then wins the cores and answers while solves run."""
    if nice > 0 and hasattr(os, "nice"):
        os.nice(nice)


def execute(database_url: str, claim: Claim, memory_mb: int = 0, nice: int = 0) -> None:
    """Solve one claimed run and record its outcome (the body of a solver process).

    When the outcome cannot be written (the database is away past RECORD_RETRY_S) the process
    exits with DATABASE_EXIT, and the dispatcher puts the run back in the queue.
    """
    _die_with_server()
    lower_priority(nice)
    cap_memory(memory_mb)
    store = Store(database_url, pooled=False)
    try:
        _execute(store, claim, memory_mb)
    except SQLAlchemyError:
        log.error("run %s: the database is unavailable\n%s", claim.run_id, traceback.format_exc())
        store.dispose()
        os._exit(DATABASE_EXIT)
    finally:
        store.dispose()


def _retrying(write: Callable[[], T]) -> T:
    """A store write, tried again while the database is unavailable, up to RECORD_RETRY_S."""
    deadline = time.monotonic() + RECORD_RETRY_S
    delay = 0.2
    while True:
        try:
            return write()
        except OperationalError:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable; writing again in %.1f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _execute(store: Store, claim: Claim, memory_mb: int = 0) -> None:
    row = _retrying(lambda: store.run(claim.run_id))
    if row is None or row.token != claim.token:
        return
    last = [0.0, 0.0]  # time of the last write, figure written

    def report(phase: str, info: dict[str, Any]) -> None:
        figure = max(PHASES.get(phase, last[1]), last[1])
        elapsed = float(info.get("elapsed", 0.0) or 0.0)
        if claim.time_limit_s > 0:  # time spent is a floor for the figure, short of done
            figure = max(figure, min(0.95, elapsed / claim.time_limit_s))
        t = time.monotonic()
        if t - last[0] >= PROGRESS_EVERY_S or phase != "lp":
            last[0], last[1] = t, figure
            try:
                mine = store.set_progress(claim, round(figure, 4), phase)
            except OperationalError:  # progress can wait; the solve goes on
                log.warning("run %s: progress not written (database unavailable)", claim.run_id)
                return
            if not mine:
                os._exit(0)  # cancelled or re-queued: the run is no longer this process's

    report("loading", {})
    request = row.request
    try:
        with tempfile.TemporaryDirectory(prefix="align-run-") as tmp:
            files = store.scenario_files(row.scenario_id)
            scenario = load_stored(files, Path(tmp) / "scenario", request.get("effective") or None)
    except ScenarioError as e:
        reason = "the scenario is invalid: " + "; ".join(e.problems)
        _retrying(lambda: store.finish(claim, status=RunState.FAILED, reason=reason))
        return
    scenario.name = row.scenario_id
    try:
        run = solve(scenario, progress=report)
    except MemoryError:
        reason = (
            f"the solve passed its memory cap of {memory_mb:,} MiB (ALIGN_RUN_MEMORY_MB); "
            "solve fewer accounts or pairs (solver.candidates), or raise the cap"
        )
        _retrying(lambda: store.finish(claim, status=RunState.FAILED, reason=reason))
        return
    except Exception as e:  # noqa: BLE001 - any solver failure becomes the run's reason
        log.error("run %s: solve raised\n%s", claim.run_id, traceback.format_exc())
        reason = f"the solve failed: {type(e).__name__}: {e}"
        _retrying(lambda: store.finish(claim, status=RunState.FAILED, reason=reason))
        return
    _retrying(lambda: record(store, claim, run))


def record(store: Store, claim: Claim, run: Run) -> bool:
    """Write a finished solve: succeeded with its plan, or failed with the solver's reasons."""
    summary = run.summary()
    if run.has_plan:
        assert run.assignments is not None and run.territories is not None
        frames = (frame_bytes(run.assignments), frame_bytes(run.territories))
        return store.finish(
            claim,
            status=RunState.SUCCEEDED,
            solver_status=run.status,
            summary=summary,
            frames=frames,
        )
    if run.status == Status.INFEASIBLE:
        # one line: the smallest single change; the run's ``reasons`` list holds them all
        more = len(run.reasons) - 1
        reason = "infeasible: the rules admit no plan: " + (run.reasons[0] if run.reasons else "")
        reason += f" ({more} more in reasons)" if more > 0 else ""
    else:
        reason = f"no plan was found within the limits: {run.message}"
    return store.finish(
        claim, status=RunState.FAILED, solver_status=run.status, summary=summary, reason=reason
    )


# ---------------------------------------------------------------------------------------------
# in the web process


def context() -> BaseContext:
    """Where the service starts processes: a fork server with the solver and the scenario
    readers imported (starting a process is then cheap), else spawn."""
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["align.service.worker", "align.service.scenarios"])
        return ctx
    return mp.get_context("spawn")  # pragma: no cover - Windows


@dataclass
class _Job:
    claim: Claim
    process: BaseProcess
    started: float = field(default_factory=time.monotonic)
    stop_reason: str | None = None


class WorkerPool:
    """Claims queued runs and solves each in its own process, ``size`` at a time."""

    def __init__(
        self,
        store: Store,
        database_url: str,
        *,
        size: int,
        poll_s: float = 0.25,
        memory_mb: int = 0,
        nice: int = 0,
    ):
        self.store = store
        self.database_url = database_url
        self.size = size
        self.memory_mb = memory_mb
        self.nice = nice
        self.poll_s = poll_s
        self.jobs: dict[str, _Job] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None  # when a tick last failed (the database away)
        self._ctx = context()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="align-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (a run was submitted or cancelled)."""
        self._wake.set()

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop dispatching; runs in flight are stopped and given back to the queue."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for job in list(self.jobs.values()):
            _terminate(job.process)
            self.store.requeue(job.claim)
        self.jobs.clear()

    def _loop(self) -> None:
        if self._ctx.get_start_method() == "forkserver":  # start it (and preload) before a run
            from multiprocessing import forkserver

            forkserver.ensure_running()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the dispatcher must outlive a database hiccup
                log.error("dispatcher: %s", traceback.format_exc())
                self._down_since = self._down_since or time.monotonic()
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def tick(self) -> None:
        """One round: reap ended processes, stop cancelled or overdue ones, start queued runs."""
        states = self.store.status_of(list(self.jobs))
        if self._down_since is not None:  # time without a database is no solving time
            away = time.monotonic() - self._down_since
            for job in self.jobs.values():
                job.started += away
            self._down_since = None
        for run_id, job in list(self.jobs.items()):
            status, token = states.get(run_id, (None, None))
            mine = status == RunState.RUNNING and token == job.claim.token
            if not job.process.is_alive():
                job.process.join()
                if mine:  # the process ended without recording an outcome
                    code = job.process.exitcode
                    if code == DATABASE_EXIT and job.stop_reason is None:
                        self.store.requeue(
                            job.claim,
                            phase="re-queued: the database was unavailable when the result "
                            "was written",
                            count=True,
                        )
                    else:
                        self.store.finish(job.claim, status=RunState.FAILED, reason=job.stop_reason
                                          or self._died(code))  # fmt: skip
                # forgotten only once the outcome is written: a write that fails (the database
                # away) is tried again at the next tick, so no run stays running for good
                del self.jobs[run_id]
                continue
            if not mine:  # cancelled (or taken away): stop solving
                _terminate(job.process)
                continue
            limit = overtime(job.claim.time_limit_s)
            if time.monotonic() - job.started > limit and job.stop_reason is None:
                job.stop_reason = (
                    f"stopped after {limit:g} s: the solve ran far past solver.time_limit_s = "
                    f"{job.claim.time_limit_s:g} s"
                )
                _terminate(job.process)
        while len(self.jobs) < self.size and not self._stop.is_set():
            claim = self.store.claim_next()
            if claim is None:
                break
            process = self._ctx.Process(  # type: ignore[attr-defined]
                target=execute,
                args=(self.database_url, claim, self.memory_mb, self.nice),
                name=f"align-run-{claim.run_id[:8]}",
                daemon=True,
            )
            try:
                process.start()
            except Exception as e:  # noqa: BLE001 - the run must not stay claimed forever
                log.error("run %s: cannot start\n%s", claim.run_id, traceback.format_exc())
                reason = f"no solver process could be started ({type(e).__name__}: {e})"
                self.store.finish(claim, status=RunState.FAILED, reason=reason)
                continue
            self.jobs[claim.run_id] = _Job(claim, process)

    def _died(self, code: int | None) -> str:
        why = f"the solver process stopped unexpectedly (exit code {code})"
        if code is not None and code < 0:
            why = f"the solver process was killed (signal {-code})"
        if self.memory_mb > 0:
            return f"{why}; it may have passed its memory cap of {self.memory_mb:,} MiB " + (
                "(ALIGN_RUN_MEMORY_MB) or the machine's memory"
            )
        return f"{why}; it may have run out of memory"


def _terminate(process: BaseProcess, *, wait_s: float = 5.0) -> None:
    if process.is_alive():
        process.terminate()
        process.join(wait_s)
        if process.is_alive():
            process.kill()
            process.join(wait_s)
