"""Work beside the main path (src/align/engine/beside.py): a function's value from a child
process, its error, a child that dies, a child that overruns, and a daemonic parent."""

from __future__ import annotations

import math
import operator
import subprocess
import sys
import time

import pytest

from align.engine.beside import Beside


def test_the_value_of_the_function_run_beside() -> None:
    job: Beside[int] = Beside(operator.mul, 6, 7)
    assert job.value() == 42
    assert not job.running


def test_an_error_of_the_function_is_raised_where_its_value_is_asked_for() -> None:
    job: Beside[float] = Beside(math.sqrt, -1.0)
    with pytest.raises(ValueError, match="^math domain error$"):
        job.value()


def test_a_child_that_dies_gives_no_value_and_what_it_said() -> None:
    job: Beside[None] = Beside(sys.exit, "the bound's child stopped")
    assert job.value(60) is None
    assert job.error == "the bound's child stopped"


def test_a_child_still_running_when_asked_gives_no_value_and_is_stopped() -> None:
    job: Beside[None] = Beside(time.sleep, 30.0)
    t0 = time.perf_counter()
    assert job.value(0.5) is None
    assert not job.running  # stopped, not left to run its 30 s
    assert time.perf_counter() - t0 < 10.0


DAEMONIC = """
import multiprocessing as mp, operator
from align.engine.beside import Beside

def work(q):
    q.put(Beside(operator.mul, 6, 7).value(60))

if __name__ == "__main__":
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=work, args=(q,), daemon=True)
    p.start()
    print(q.get(timeout=90))
    p.join()
"""


def test_a_daemonic_process_such_as_a_service_solve_may_work_beside() -> None:
    """The service's solver processes are daemonic: ``multiprocessing`` refuses them children,
    a child Python process it is not."""
    done = subprocess.run(
        [sys.executable, "-c", DAEMONIC], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
