"""Live progress of long work on a terminal, and Ctrl-C that stops a solve cleanly.

:class:`SolveProgress` is the ``progress`` callback of :func:`align.solve` and the ``on_mip``
of a :class:`~align.engine.backends.Watch`; shown with :func:`live_progress` it draws one line
on the terminal (rich.live) that keeps the phase, the elapsed time and the incumbent, bound and
gap as the solver reports them, and prints a line per finished phase. :func:`stop_on_ctrl_c`
turns the first Ctrl-C into a stop request: HiGHS is interrupted at its next check and the solve
returns the best plan found with its true status; a second Ctrl-C aborts at once.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from .engine.backends import Watch, current_watch, watching

PHASES = {
    "lp": "LP relaxation",
    "repair": "placing split accounts",
    "incumbent": "closing the gap",
    "contiguity": "contiguity rounds",
    "greenfield": "choosing centres",
    "mip": "MIP",
}


def _num(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return "-"
    if abs(f) >= 1e6:
        return f"{f:,.0f}"
    return f"{f:,.4g}" if f != int(f) else f"{int(f):,}"


class SolveProgress:
    """The state of a running solve, rendered as one line (a rich renderable).

    Call it as ``progress(phase, info)`` (the solver's callback) and use :meth:`mip` as a
    :class:`~align.engine.backends.Watch` ``on_mip``. ``incumbent`` events (a whole plan) set the
    objective, bound and gap shown; MIP reports show the running MIP's own incumbent and gap.
    """

    def __init__(self, console: Console | None = None, *, label: str = "solving") -> None:
        self.console = console
        self.label = label
        self.start = time.perf_counter()
        self.phase = "starting"
        self.phase_start = self.start
        self.info: dict[str, Any] = {}
        self.plan: dict[str, float] = {}
        self.mip_info: dict[str, float] = {}
        self.done: list[str] = []
        self.stopping = False
        self._lock = threading.RLock()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        finished = None
        with self._lock:
            if phase == "incumbent":
                self.plan = {k: float(info[k]) for k in ("objective", "bound") if k in info}
                if self.plan.get("objective") and "bound" in self.plan:
                    obj, bound = self.plan["objective"], self.plan["bound"]
                    self.plan["gap"] = max(obj - bound, 0.0) / max(abs(obj), 1e-9)
            if phase != self.phase:
                finished = self._finish_phase()
                self.phase, self.phase_start = phase, time.perf_counter()
                self.mip_info = {}
            self.info = {k: v for k, v in info.items() if k != "elapsed"}
        self._print(finished)

    def mip(self, info: dict[str, float]) -> None:
        """A report from inside a running MIP (a Watch's ``on_mip``)."""
        with self._lock:
            self.mip_info = dict(info)

    def _finish_phase(self) -> str | None:
        """Record the phase that ends; its line is printed outside the lock (printing redraws
        the live line, which takes the lock)."""
        if self.phase in ("starting", "done"):
            return None
        took = time.perf_counter() - self.phase_start
        line = f"{PHASES.get(self.phase, self.phase)}: {took:.1f} s"
        self.done.append(line)
        return line

    def _print(self, line: str | None) -> None:
        if line is not None and self.console is not None:
            self.console.print(Text(f"  done  {line}", style="dim"))

    def line(self) -> str:
        """The status line: phase, elapsed time, incumbent, bound and gap."""
        with self._lock:
            bits = [f"{PHASES.get(self.phase, self.phase)}", f"{self.elapsed():.1f} s"]
            bits += [f"{k} {_num(v)}" for k, v in self.info.items() if k in ("round", "pairs")]
            if self.plan:
                bits.append(f"incumbent {_num(self.plan.get('objective'))}")
                bits.append(f"bound {_num(self.plan.get('bound'))}")
                if "gap" in self.plan:
                    bits.append(f"gap {self.plan['gap']:.2%}")
            m = self.mip_info
            if m and math.isfinite(float(m.get("objective", math.inf))):
                gap = float(m.get("gap", math.inf))
                gap_text = f", gap {gap:.2%}" if math.isfinite(gap) and gap < 10 else ""
                bits.append(f"MIP incumbent {_num(m['objective'])}{gap_text}")
            if self.stopping:
                bits.append("stopping (Ctrl-C): keeping the best plan found")
        return f"{self.label}: " + " · ".join(bits)

    def __rich__(self) -> Table:
        grid = Table.grid(padding=(0, 1))
        grid.add_row(Spinner("dots", style="cyan"), Text(self.line()))
        return grid

    def close(self) -> None:
        with self._lock:
            finished = self._finish_phase()
            self.phase = "done"
        self._print(finished)


@contextmanager
def live_progress(console: Console, *, enabled: bool, label: str = "solving") -> Iterator[Any]:
    """A :class:`SolveProgress` drawn live on ``console`` while ``enabled``; a silent one when
    not (``--quiet``, or the console is not a terminal). Yields the progress; HiGHS MIPs
    started inside report to it."""
    progress = SolveProgress(console if enabled else None, label=label)
    display = (
        Live(progress, console=console, refresh_per_second=4, transient=True)
        if enabled
        else nullcontext()
    )
    with display, watching(Watch(on_mip=progress.mip)):
        try:
            yield progress
        finally:
            progress.close()


@contextmanager
def stop_on_ctrl_c(progress: Any = None) -> Iterator[threading.Event]:
    """While inside, the first Ctrl-C (SIGINT) asks the watched solve to stop and keep its best
    plan; a second one raises KeyboardInterrupt. Yields the stop event (set once asked).

    Use inside :func:`live_progress` (whose watch it stops) or alone. Only the main thread can
    install a signal handler; elsewhere the block runs without it.
    """
    watch = current_watch()
    event = watch.stop if watch is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum: int, frame: Any) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        if progress is not None:
            progress.stopping = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def steps(console: Console, total: int, label: str, *, enabled: bool) -> Iterator[Any]:
    """A progress bar of ``total`` steps on ``console`` while ``enabled`` (silent otherwise).
    Yields ``step(name)``: call it as each step starts (e.g. each re-solve of a sweep or of
    ``align pockets --suggest``)."""
    if not enabled:
        yield lambda name: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=total)
        started = [0]

        def step(name: str) -> None:
            if started[0]:
                bar.advance(task)
            started[0] += 1
            bar.update(task, description=f"{label} {name}")

        yield step
        bar.update(task, completed=total)
