"""Running HiGHS on a model given as plain arrays, in this process or in a worker process.

This module imports only numpy and highspy (never the ``align`` package), so that it can run as
a script: ``python _highs_child.py FD_IN FD_OUT`` serves solve requests over two pipes (see
:mod:`.backends`, which starts it). HiGHS 1.16 was seen spending minutes inside the presolve of a
sub-MIP, where it neither checks its clock nor calls back; a worker process can be ended then.

A model is a dict of arrays: ``c, row_lo, row_hi, col_lo, col_hi, integer, offset`` and the
column-wise matrix ``indptr, indices, data`` of shape ``(nrow, ncol)``. A result is a tuple
``(status, x, objective, bound, row_dual, message)`` (the fields of ``BackendResult``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Result = tuple[str, Any, float, float, Any, str]

# HiGHS keeps one thread pool per process, sized by the first solve, and refuses (an error
# status, no solve) an instance that asks for another size afterwards. _POOL holds the size this
# process's pool was given (0: HiGHS's own default) once an instance asked; _RESET_POOL is True
# in a worker process, which runs one solve at a time and so may rebuild its pool.
_POOL: list[int] = []
_RESET_POOL = False


def set_threads(hs: Any, h: Any, threads: Any) -> None:
    """Ask HiGHS for ``threads`` threads where this process's pool allows it (see ``_POOL``):
    the first instance of the process sizes the pool; a later one that asks for another size
    keeps the pool as it is, or, in a worker process, rebuilds it at that size."""
    want = int(threads or 0)
    if not _POOL:
        _POOL.append(want)
    elif want and want != _POOL[0]:
        if not _RESET_POOL:
            return
        hs.Highs.resetGlobalScheduler(True)
        _POOL[0] = want
    if want:
        h.setOptionValue("threads", want)


def load(
    hs: Any, m: dict[str, Any], *, time_limit: float, gap: float, seed: int, threads: Any
) -> Any:
    """A HiGHS instance holding the model, with its options set."""
    h = hs.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    h.setOptionValue("random_seed", int(seed))
    h.setOptionValue("mip_rel_gap", float(gap))
    set_threads(hs, h, threads)
    lp = hs.HighsLp()
    nrow, ncol = m["shape"]
    lp.num_col_ = ncol
    lp.num_row_ = nrow
    lp.col_cost_ = m["c"]
    lp.col_lower_ = m["col_lo"]
    lp.col_upper_ = m["col_hi"]
    lp.row_lower_ = m["row_lo"]
    lp.row_upper_ = m["row_hi"]
    lp.offset_ = m["offset"]
    lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
    lp.a_matrix_.start_ = m["indptr"]
    lp.a_matrix_.index_ = m["indices"]
    lp.a_matrix_.value_ = m["data"]
    lp.a_matrix_.num_col_ = ncol
    lp.a_matrix_.num_row_ = nrow
    if m["integer"].any():
        lp.integrality_ = [
            hs.HighsVarType.kInteger if f else hs.HighsVarType.kContinuous for f in m["integer"]
        ]
    h.passModel(lp)
    return h


def result(hs: Any, h: Any, is_mip: bool) -> Result:
    """The honest outcome of a finished run."""
    status = h.getModelStatus()
    info = h.getInfo()
    MS = hs.HighsModelStatus
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=float) if has_x else None
    obj = float(info.objective_function_value) if has_x else math.nan
    if status == MS.kOptimal:
        if is_mip:
            return ("optimal", x, obj, float(info.mip_dual_bound), None, "")
        return ("optimal", x, obj, obj, np.asarray(sol.row_dual, dtype=float), "")
    if status == MS.kInfeasible:
        return ("infeasible", None, math.nan, -math.inf, None, "infeasible")
    if status == MS.kUnboundedOrInfeasible and not has_x:
        return ("infeasible", None, math.nan, -math.inf, None, "infeasible or unbounded")
    bound = float(info.mip_dual_bound) if is_mip else -math.inf
    if not math.isfinite(bound):
        bound = -math.inf
    label = h.modelStatusToString(status)
    if x is not None and is_mip:
        return ("feasible", x, obj, bound, None, label)
    return ("no_solution", None, math.nan, bound, None, label)


def run(
    hs: Any,
    m: dict[str, Any],
    kw: dict[str, Any],
    on_solution: Callable[[Any], bool] | None = None,
    prepare: Callable[[Any, bool], None] | None = None,
    execute: Callable[[Any, float], Result | None] | None = None,
) -> Result:
    """Solve; a MIP stops early once its incumbent is at or below ``kw["stop_at"]``.

    ``on_solution(x)`` sees every improving MIP solution; returning True stops the solve.
    ``prepare(h, is_mip)`` may subscribe more callbacks before the run. ``execute(h,
    time_limit)`` runs ``h`` in place of ``h.run()``: a result from it is the outcome (a run
    that did not stop), None lets the run's own result be read.
    """
    time_limit = float(kw["time_limit"])
    start = kw.get("start")
    h = load(
        hs, m, time_limit=time_limit, gap=kw["gap"], seed=kw["seed"], threads=kw.get("threads")
    )
    if kw.get("abs_gap", 0.0) > 0:
        h.setOptionValue("mip_abs_gap", float(kw["abs_gap"]))
    is_mip = bool(m["integer"].any())
    stop = [False]
    if is_mip and on_solution is not None:
        seen = on_solution

        def improving(e: Any) -> None:
            if seen(np.asarray(e.data_out.mip_solution, dtype=float)):
                stop[0] = True

        def interrupt(e: Any) -> None:
            if stop[0]:
                e.interrupt()

        h.cbMipImprovingSolution.subscribe(improving)
        h.cbMipInterrupt.subscribe(interrupt)
    if is_mip and kw.get("cutoff") is not None:
        # a cutoff on the objective, offset included: HiGHS prunes every node whose bound
        # reaches it; with nothing below it, it reports kInfeasible or hands back a solution
        # above it (HiGHS 1.16), so min(bound, cutoff) is the bound that holds
        h.setOptionValue("objective_bound", float(kw["cutoff"]))
    if is_mip and kw.get("stop_at") is not None:
        target = float(kw["stop_at"])

        def good_enough(e: Any) -> None:
            if e.data_out.mip_primal_bound <= target:
                e.interrupt()

        h.cbMipInterrupt.subscribe(good_enough)
    if prepare is not None:
        prepare(h, is_mip)
    if is_mip:
        # HiGHS 1.16 was seen running a warm-started MIP far past its time_limit: a deadline
        # checked in its own interrupt callbacks stops it where it calls back
        deadline = time.monotonic() + time_limit + 1.0

        def past_deadline(e: Any) -> None:
            if time.monotonic() > deadline:
                e.interrupt()

        h.cbMipInterrupt.subscribe(past_deadline)
        h.cbSimplexInterrupt.subscribe(past_deadline)
    if is_mip and start is not None:
        sol = hs.HighsSolution()
        sol.col_value = list(map(float, start))
        sol.value_valid = True
        h.setSolution(sol)
    if execute is None:
        h.run()
    elif (stuck := execute(h, time_limit)) is not None:
        return stuck
    res = result(hs, h, is_mip)
    if res[1] is not None and start is not None:
        # HiGHS 1.16 can report a better objective while handing back the start as the
        # solution (seen when presolve finishes the MIP): trust only a consistent answer
        value = float(m["c"] @ res[1] + m["offset"])
        if abs(value - res[2]) > 1e-7 * (1 + abs(value)):
            return run(hs, m, {**kw, "start": None}, on_solution, prepare, execute)
    return res


REPORT_EVERY_S = 0.5  # a worker reports its incumbent and bound this often


def _die_with_parent(sig: int) -> None:
    """Linux: the kernel sends ``sig`` to this worker when its parent dies (a solver process
    killed by a cancel or the out-of-memory killer must not leave a MIP running)."""
    import ctypes
    import os

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's pipe closing ends the loop
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(0)


def serve(fd_in: int, fd_out: int) -> None:
    """The worker loop: ``("solve", id, model, kw)`` in; ``("solution", id, x)``, ``("mip",
    id, (objective, bound, gap))`` and finally ``("done", id, result)`` or ``("error", id,
    text)`` out; ``("stop", id)`` in stops solve ``id`` at HiGHS's next callback."""
    import signal
    from multiprocessing.connection import Connection

    import highspy

    global _RESET_POOL
    _RESET_POOL = True  # one solve at a time here: the pool may be rebuilt between them
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent(signal.SIGKILL)
    inbox = Connection(fd_in, writable=False)
    out = Connection(fd_out, readable=False)
    while True:
        try:
            msg = inbox.recv()
        except (EOFError, OSError):
            return
        if msg[0] != "solve":
            continue  # a stop for a solve that has already finished
        _, ident, m, kw = msg
        _serve_one(highspy, inbox, out, ident, m, kw)


def _serve_one(hs: Any, inbox: Any, out: Any, ident: int, m: dict[str, Any], kw: Any) -> None:
    stop = [False]
    last = [0.0]

    def solution(x: Any) -> bool:
        out.send(("solution", ident, x))
        return False

    def interrupt(e: Any, report: bool = False) -> None:
        now = time.monotonic()
        if report and now - last[0] >= REPORT_EVERY_S:  # MIP callbacks carry the bounds
            last[0] = now
            d = e.data_out
            out.send(("mip", ident, (d.mip_primal_bound, d.mip_dual_bound, d.mip_gap)))
        while inbox.poll():
            got = inbox.recv()
            if got[0] == "stop" and got[1] == ident:
                stop[0] = True
        if stop[0]:
            e.interrupt()

    def prepare(h: Any, is_mip: bool) -> None:
        h.cbSimplexInterrupt.subscribe(interrupt)
        if is_mip:
            h.cbMipInterrupt.subscribe(lambda e: interrupt(e, report=True))

    try:
        res = run(hs, m, kw, solution, prepare)
    except Exception as e:  # noqa: BLE001 - the parent raises it
        out.send(("error", ident, repr(e)))
    else:
        out.send(("done", ident, res))


if __name__ == "__main__":
    import os
    import sys

    # the banner HiGHS prints on its first instance goes to stdout, which is not ours to use
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    serve(int(sys.argv[1]), int(sys.argv[2]))
