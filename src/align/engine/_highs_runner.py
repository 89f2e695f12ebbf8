"""HiGHS runs in this process with a wall clock over them.

An LP (and a MIP where no worker process can be had) is solved in this process. HiGHS checks its
time limit only where it calls back, so a run stuck where it does not (a deadlock of its thread
scheduler, a loop that never reaches a check) would hold the caller for ever: a fuzzed two-rep
folder once held a test run for 50 minutes in one LP. Here each calling thread hands its runs to
one long-lived thread of its own and waits at most the run's time limit plus
:data:`OVERRUN_GRACE_S`; a run still going then is left behind (its thread and HiGHS instance
with it, never touched again) and the caller gets "did not stop" as the outcome, so a time limit
always holds for the caller.

One long-lived thread per calling thread, not one per run: HiGHS keeps a scheduler per thread,
and threads that end after a run are where its scheduler has been seen to deadlock (HiGHS
pull request 1886); a runner whose caller has ended resets its thread's scheduler and ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from ._highs_child import Result

OVERRUN_GRACE_S = 5.0  # a run this far past its time limit is left behind
IDLE_CHECK_S = 1.0  # how often an idle runner looks whether its caller still lives

_LOCAL = threading.local()


class _Runner:
    """A thread that runs the HiGHS instances handed to it by one calling thread, in order."""

    def __init__(self, hs: Any) -> None:
        self.hs = hs
        self.owner = threading.current_thread()
        self.jobs: queue.SimpleQueue[tuple[Any, threading.Event, list[BaseException]]] = (
            queue.SimpleQueue()
        )
        self.retired = False  # left behind by its caller: it ends after the run it is in
        self.thread = threading.Thread(target=self._loop, name="align-highs", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                h, done, errors = self.jobs.get(timeout=IDLE_CHECK_S)
            except queue.Empty:
                if not self.owner.is_alive():
                    break
                continue
            try:
                h.run()
            except BaseException as e:  # handed back to the caller
                errors.append(e)
            finally:
                done.set()
            if self.retired:
                break
        self.hs.Highs.resetThreadScheduler(False)


def run_within(hs: Any, h: Any, time_limit: float) -> bool:
    """``h.run()`` in this thread's runner; False when it did not end within ``time_limit``
    plus :data:`OVERRUN_GRACE_S` (it is then left behind: do not touch ``h`` again)."""
    runner: _Runner | None = getattr(_LOCAL, "runner", None)
    if runner is None or not runner.thread.is_alive():
        runner = _LOCAL.runner = _Runner(hs)
    done = threading.Event()
    errors: list[BaseException] = []
    runner.jobs.put((h, done, errors))
    if not done.wait(max(float(time_limit), 0.0) + OVERRUN_GRACE_S):
        runner.retired = True  # its thread may be busy for good: the next run gets a new one
        _LOCAL.runner = None
        return False
    if errors:
        raise errors[0]
    return True


def stuck_result(time_limit: float) -> Result:
    """The outcome (as :func:`._highs_child.result` gives it) of a run left behind."""
    return (
        "no_solution",
        None,
        float("nan"),
        float("-inf"),
        None,
        f"HiGHS did not stop within {time_limit:g} s + {OVERRUN_GRACE_S:g} s; left running",
    )


def executor(hs: Any) -> Callable[[Any, float], Result | None]:
    """``execute`` for :func:`._highs_child.run`: the run in this thread's runner, None when it
    ended, :func:`stuck_result` when it was left behind."""

    def execute(h: Any, time_limit: float) -> Result | None:
        return None if run_within(hs, h, time_limit) else stuck_result(time_limit)

    return execute
