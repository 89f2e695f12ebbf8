"""Solver backends: HiGHS through highspy (default) and any solver PuLP drives.

A backend takes a :class:`MatrixModel` and returns a :class:`BackendResult` whose status is honest:
``optimal`` (LP optimal, or MIP within the requested gap), ``feasible`` (a solution, not proven
within the gap, e.g. stopped by the time limit), ``infeasible``, or ``no_solution``.
"""

from __future__ import annotations

import atexit
import itertools
import math
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import SolverError
from ..status import Status
from . import _highs_child as _child
from . import _highs_runner as _runner
from .formulation import MatrixModel

FloatArray = NDArray[np.float64]


@dataclass
class BackendResult:
    status: Status
    x: FloatArray | None = None
    objective: float = math.nan
    bound: float = -math.inf  # valid lower bound (minimisation), -inf when unknown
    row_dual: FloatArray | None = None
    message: str = ""


def _from_child(result: tuple[str, Any, float, float, Any, str]) -> BackendResult:
    """A BackendResult from the tuple of :mod:`._highs_child` (plain values, picklable)."""
    status, x, objective, bound, row_dual, message = result
    return BackendResult(Status(status), x, objective, bound, row_dual, message)


class Backend(Protocol):
    name: str

    def solve(
        self,
        model: MatrixModel,
        *,
        time_limit: float,
        gap: float,
        seed: int = 0,
        threads: int | None = None,
        start: FloatArray | None = None,
        abs_gap: float = 0.0,
        stop_at: float | None = None,
        on_solution: Callable[[FloatArray], bool] | None = None,
        cutoff: float | None = None,
    ) -> BackendResult: ...

    def solve_qp(
        self, model: MatrixModel, hessian_diag: FloatArray, *, time_limit: float = 60.0
    ) -> BackendResult:
        """Minimise ``c x + x' diag(hessian_diag) x / 2`` over a continuous model."""
        ...

    def column_ranges(
        self,
        model: MatrixModel,
        n: int,
        *,
        released: NDArray[np.bool_] | None = None,
        released_lo: FloatArray | None = None,
        released_hi: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray] | None:
        """Least and most of each of the first ``n`` columns over the LP relaxation (nan where
        a re-solve is not optimal); a ``released`` column takes ``released_lo``/``released_hi``
        as its bounds while its own range is found. None when the relaxation is infeasible."""
        ...


_BANNER_DONE = False


def _silence_banner(highspy) -> None:  # type: ignore[no-untyped-def]
    """HiGHS prints a banner to C stdout when the first instance is made; send it nowhere."""
    global _BANNER_DONE
    if _BANNER_DONE:
        return
    import os
    import sys

    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded interpreter)
        highspy.Highs()
        _BANNER_DONE = True
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _BANNER_DONE = True


class HighsBackend:
    """HiGHS through its Python API: the model is passed as arrays, no per-variable objects."""

    name = "highs"

    def __init__(self) -> None:
        import highspy

        self._hs = highspy
        _silence_banner(highspy)

    def _load(
        self, model: MatrixModel, *, time_limit: float, gap: float, seed: int, threads: int | None
    ) -> Any:
        return _child.load(
            self._hs, _arrays(model), time_limit=time_limit, gap=gap, seed=seed, threads=threads
        )

    def _result(self, h: Any, is_mip: bool) -> BackendResult:
        return _from_child(_child.result(self._hs, h, is_mip))

    def solve_qp(
        self, model: MatrixModel, hessian_diag: FloatArray, *, time_limit: float = 60.0
    ) -> BackendResult:
        """Minimise ``c x + x' diag(hessian_diag) x / 2`` over a continuous model (HiGHS QP)."""
        h = self._load(model, time_limit=time_limit, gap=0.0, seed=0, threads=None)
        n = len(hessian_diag)
        start = np.arange(n + 1, dtype=np.int32)
        index = np.arange(n, dtype=np.int32)
        h.passHessian(n, n, self._hs.HessianFormat.kTriangular, start, index, hessian_diag)
        if not _runner.run_within(self._hs, h, time_limit):
            return _from_child(_runner.stuck_result(time_limit))
        return self._result(h, False)

    def column_ranges(
        self,
        model: MatrixModel,
        n: int,
        *,
        released: NDArray[np.bool_] | None = None,
        released_lo: FloatArray | None = None,
        released_hi: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray] | None:
        """Least and most of each of the first ``n`` columns over the LP relaxation (nan where
        a re-solve is not optimal); a ``released`` column takes ``released_lo``/``released_hi``
        as its bounds while its own range is found. None when the relaxation is infeasible.

        One HiGHS instance: a first basis, then two warm-started primal simplex re-solves per
        column (cost +1 and -1 on that column alone, no presolve)."""
        h = self._load(model, time_limit=60.0, gap=0.0, seed=0, threads=None)
        h.run()  # a first basis; the re-solves below start from the last one (no presolve)
        optimal = self._hs.HighsModelStatus.kOptimal
        if h.getModelStatus() != optimal:
            return None
        h.setOptionValue("presolve", "off")
        h.setOptionValue("simplex_strategy", 4)  # primal: a new cost keeps the basis feasible
        free = np.zeros(n, dtype=bool) if released is None else released
        low = np.empty(n)
        high = np.empty(n)
        for j in range(n):
            if free[j]:
                assert released_lo is not None and released_hi is not None
                h.changeColBounds(j, float(released_lo[j]), float(released_hi[j]))
            for sense, out in ((1.0, low), (-1.0, high)):
                h.changeColCost(j, sense)
                h.run()
                ok = h.getModelStatus() == optimal
                out[j] = sense * h.getInfo().objective_function_value if ok else np.nan
            h.changeColCost(j, 0.0)
            if free[j]:
                h.changeColBounds(j, float(model.col_lo[j]), float(model.col_hi[j]))
        return low, high

    def solve(
        self,
        model: MatrixModel,
        *,
        time_limit: float,
        gap: float,
        seed: int = 0,
        threads: int | None = None,
        start: FloatArray | None = None,
        abs_gap: float = 0.0,
        stop_at: float | None = None,
        on_solution: Callable[[FloatArray], bool] | None = None,
        cutoff: float | None = None,
    ) -> BackendResult:
        """Solve; a MIP stops early once its incumbent is at or below ``stop_at``.

        With a ``cutoff`` a MIP looks only for solutions of objective at most ``cutoff`` (the
        offset included): INFEASIBLE then means none is, and every solution is at least
        ``min(bound, cutoff)`` (HiGHS may still hand back a solution above the cutoff).

        ``on_solution(x)`` sees every improving MIP solution; returning True stops the solve.
        A MIP runs in a worker process (:class:`_Worker`), ended when it overruns its time
        limit by :data:`KILL_GRACE_S`; the result is then its best reported solution and bound.
        """
        kw: dict[str, Any] = dict(
            time_limit=time_limit,
            gap=gap,
            seed=seed,
            threads=threads,
            start=start,
            abs_gap=abs_gap,
            stop_at=stop_at,
            cutoff=cutoff,
        )
        m = _arrays(model)
        if ISOLATE_MIP and model.integer.any():
            res = _solve_in_worker(m, kw, on_solution)
            if res is not None:
                return res

        def watch(h: Any, is_mip: bool) -> None:
            _subscribe_watch(h, is_mip=is_mip)

        execute = _runner.executor(self._hs)
        return _from_child(_child.run(self._hs, m, kw, on_solution, watch, execute))

    def lp_session(
        self, model: MatrixModel, *, seed: int = 0, threads: int | None = None
    ) -> HighsSession:
        return HighsSession(self, model, seed, threads)


class HighsSession:
    """An LP kept in one HiGHS instance: columns are added and bounds changed between solves,
    and each solve warm-starts from the last basis."""

    def __init__(
        self, backend: HighsBackend, model: MatrixModel, seed: int, threads: int | None = None
    ) -> None:
        self.backend = backend
        self.h = backend._load(model, time_limit=1e9, gap=0.0, seed=seed, threads=threads)
        self.ncol = model.shape[1]
        self._watched = False
        self._stuck: _child.Result | None = None

    def solve(self, *, time_limit: float) -> BackendResult:
        """Solve from the last basis. A run that does not stop within its time limit (see
        :mod:`._highs_runner`) is left behind, and so is the session: this and every later
        solve then ends with no solution, and changes to the LP are ignored."""
        if self._stuck is not None:
            return _from_child(self._stuck)
        if not self._watched:
            self._watched = _subscribe_watch(self.h, is_mip=False)
        # HiGHS measures time_limit against the run time of the instance over all its runs
        limit = self.h.getRunTime() + max(float(time_limit), 0.01)
        self.h.setOptionValue("time_limit", limit)
        if not _runner.run_within(self.backend._hs, self.h, time_limit):
            self._stuck = _runner.stuck_result(time_limit)
            return _from_child(self._stuck)
        return self.backend._result(self.h, False)

    def basis(self) -> tuple[NDArray[np.int8], NDArray[np.int8]] | None:
        """The last solve's basis (HiGHS's status codes per column and per row), or None."""
        b = None if self._stuck is not None else self.h.getBasis()
        if b is None or not b.valid:
            return None
        cols, rows = (
            np.array([int(v) for v in st], np.int8) for st in (b.col_status, b.row_status)
        )
        return cols, rows

    def set_basis(self, cols: NDArray[np.int8], rows: NDArray[np.int8]) -> bool:
        """Start the next solve from this basis (status codes as :meth:`basis` gives them; no
        presolve then). False when HiGHS does not take it (the solve starts as it would have).
        HiGHS's dual simplex is kept: from a carried sifting basis it took 0.2-1.0 of the cold
        time, the primal simplex 8x (benchmarks/README.md, "Each sifting round starts ...")."""
        if self._stuck is not None:
            return False
        status = list(self.backend._hs.HighsBasisStatus.__members__.values())
        b = self.backend._hs.HighsBasis()
        b.col_status = [status[k] for k in cols.tolist()]
        b.row_status = [status[k] for k in rows.tolist()]
        return bool(self.h.setBasis(b) == self.backend._hs.HighsStatus.kOk)

    def add_columns(self, block: MatrixModel) -> None:
        A = block.A.tocsc()
        n = A.shape[1]
        if self._stuck is None:
            self.h.addCols(
                n, block.c, block.col_lo, block.col_hi, A.nnz, A.indptr[:-1], A.indices, A.data
            )
        self.ncol += n

    def set_bounds(self, cols: NDArray[np.int64], lo: FloatArray, hi: FloatArray) -> None:
        if self._stuck is not None:
            return
        cols = np.asarray(cols, dtype=np.int32)
        self.h.changeColsBounds(len(cols), cols, np.asarray(lo, float), np.asarray(hi, float))

    def set_row_bounds(self, rows: NDArray[np.int64], lo: FloatArray, hi: FloatArray) -> None:
        if self._stuck is not None:
            return
        rows = np.asarray(rows, dtype=np.int32)
        self.h.changeRowsBounds(len(rows), rows, np.asarray(lo, float), np.asarray(hi, float))


# ---------------------------------------------------------------------------------------------
# MIPs in a worker process: HiGHS 1.16 was seen spending minutes in the presolve of a sub-MIP
# (RENS at the root, in ``HPresolve::strengthenInequalities``) far past its time limit, where it
# neither checks the clock nor calls back, so nothing inside the process could stop it.

ISOLATE_MIP = True  # run HiGHS MIPs in a worker process (False: in this process)
KILL_GRACE_S = 3.0  # a worker this far past its time limit (or its stop request) is ended
POLL_S = 0.02  # how often the parent looks at the stop request (Ctrl-C) while it waits


def _arrays(model: MatrixModel) -> dict[str, Any]:
    """The model as the plain arrays :mod:`._highs_child` takes (picklable without align)."""
    A = model.A.tocsc()
    return {
        "shape": model.shape,
        "c": np.asarray(model.c, dtype=float),
        "row_lo": np.asarray(model.row_lo, dtype=float),
        "row_hi": np.asarray(model.row_hi, dtype=float),
        "col_lo": np.asarray(model.col_lo, dtype=float),
        "col_hi": np.asarray(model.col_hi, dtype=float),
        "integer": np.asarray(model.integer, dtype=bool),
        "offset": float(model.offset),
        "indptr": A.indptr,
        "indices": A.indices,
        "data": A.data,
    }


class _Worker:
    """A Python process running :func:`._highs_child.serve`, reused from solve to solve."""

    _idle: list[_Worker] = []
    _lock = threading.Lock()
    _count = itertools.count()

    def __init__(self) -> None:
        import os
        import sys
        from multiprocessing.connection import Connection

        to_child, child_in = os.pipe()[::-1]  # (write end, read end)
        child_out, from_child = os.pipe()[::-1]
        try:
            self.proc = subprocess.Popen(
                [sys.executable, _child.__file__, str(child_in), str(child_out)],
                pass_fds=(child_in, child_out),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        self.send = Connection(to_child, readable=False)
        self.recv = Connection(from_child, writable=False)

    @classmethod
    def take(cls) -> _Worker:
        with cls._lock:
            while cls._idle:
                w = cls._idle.pop()
                if w.proc.poll() is None:
                    return w
        return cls()

    def give_back(self) -> None:
        with self._lock:
            self._idle.append(self)

    def end(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.send.close()
        self.recv.close()

    @classmethod
    def close_idle(cls) -> None:
        """At exit: idle workers read the end of their input and return."""
        with cls._lock:
            idle, cls._idle = cls._idle, []
        try:
            for w in idle:
                w.send.close()
                try:
                    w.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    w.proc.kill()
                    w.proc.wait(timeout=5)
                w.recv.close()
        except KeyboardInterrupt:
            # Ctrl-C while the process exits: end the workers, without a traceback
            for w in idle:
                if w.proc.poll() is None:
                    w.proc.kill()


atexit.register(_Worker.close_idle)


def _solve_in_worker(
    m: dict[str, Any], kw: dict[str, Any], on_solution: Callable[[FloatArray], bool] | None
) -> BackendResult | None:
    """Solve a MIP in a worker; None when no worker process can be started."""
    try:
        worker = _Worker.take()
        ident = next(_Worker._count)
        worker.send.send(("solve", ident, m, kw))
    except OSError:
        return None
    deadline = time.monotonic() + float(kw["time_limit"]) + KILL_GRACE_S
    best_x: FloatArray | None = None
    best_value = math.inf
    bound = -math.inf
    asked = False
    w = _WATCH
    done: tuple[Any, ...] | None = None

    def ask() -> None:
        nonlocal asked, deadline
        if not asked:
            worker.send.send(("stop", ident))
            asked = True
            deadline = min(deadline, time.monotonic() + KILL_GRACE_S)

    try:
        while done is None:
            if w is not None and w.stop.is_set():
                ask()
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not worker.recv.poll(min(left, POLL_S)):
                if worker.proc.poll() is not None:
                    break  # it died
                continue
            kind, got, data = worker.recv.recv()
            if got != ident:
                continue
            if kind == "done":
                done = data
            elif kind == "error":
                worker.give_back()
                raise SolverError(f"HiGHS failed: {data}")
            elif kind == "mip":
                primal, dual, gap = data
                if math.isfinite(dual):
                    bound = max(bound, float(dual))
                if w is not None and w.on_mip is not None:
                    w.on_mip({"objective": primal, "bound": dual, "gap": gap})
            elif kind == "solution":
                x = np.asarray(data, dtype=float)
                value = float(m["c"] @ x + m["offset"])
                if value < best_value:
                    best_x, best_value = x, value
                if w is not None and w.on_mip is not None:
                    gap = (value - bound) / max(abs(value), 1e-9)
                    w.on_mip({"objective": value, "bound": bound, "gap": gap})
                if on_solution is not None and on_solution(x):
                    ask()
    except (EOFError, OSError):
        pass
    if done is not None:
        worker.give_back()
        return _from_child(done)
    worker.end()
    # ended by us past its time limit (or it died): its best solution, its last bound
    bound = min(bound, best_value)
    message = "HiGHS did not stop at its time limit; its process was ended"
    if best_x is None:
        return BackendResult(Status.NO_SOLUTION, bound=bound, message=message)
    return BackendResult(Status.FEASIBLE, best_x, best_value, bound, message=message)


# ---------------------------------------------------------------------------------------------
# Watching a solve: progress from inside HiGHS, and a request to stop (Ctrl-C)


@dataclass
class Watch:
    """What a caller watching a solve wants: ``on_mip(info)`` receives the state of the running
    HiGHS MIP (``objective`` of its incumbent, ``bound``, ``gap``, of that MIP, which may be a
    sub-problem), at most every ``every_s`` seconds and at each improving solution; setting
    ``stop`` interrupts HiGHS at its next check, and the solve keeps the best plan found."""

    on_mip: Callable[[dict[str, float]], None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    every_s: float = 0.5


_WATCH: Watch | None = None


@contextmanager
def watching(watch: Watch) -> Iterator[Watch]:
    """Watch every HiGHS solve started inside the block (see :class:`Watch`)."""
    global _WATCH
    previous, _WATCH = _WATCH, watch
    try:
        yield watch
    finally:
        _WATCH = previous


def current_watch() -> Watch | None:
    """The watch of the block being run (:func:`watching`), None outside one."""
    return _WATCH


def stop_requested() -> bool:
    """True once the watcher of the running solve asked it to stop."""
    return _WATCH is not None and _WATCH.stop.is_set()


def _subscribe_watch(h: Any, *, is_mip: bool) -> bool:
    """Subscribe the active watch (if any) to a HiGHS instance; True when subscribed."""
    w = _WATCH
    if w is None:
        return False
    last = [0.0]

    def report(e: Any, force: bool = False) -> None:
        now = time.monotonic()
        if w.on_mip is None or (not force and now - last[0] < w.every_s):
            return
        last[0] = now
        d = e.data_out
        w.on_mip({"objective": d.mip_primal_bound, "bound": d.mip_dual_bound, "gap": d.mip_gap})

    def interrupt(e: Any) -> None:
        if w.stop.is_set():
            e.interrupt()
        elif is_mip:
            report(e)

    h.cbSimplexInterrupt.subscribe(interrupt)
    if is_mip:
        h.cbMipInterrupt.subscribe(interrupt)
        h.cbMipImprovingSolution.subscribe(lambda e: report(e, force=True))
    return True


# ---------------------------------------------------------------------------------------------
# PuLP


def _cbc(**kw: object):  # type: ignore[no-untyped-def]
    import pulp

    for cls_name in ("PULP_CBC_CMD", "COIN_CMD"):
        cls = getattr(pulp, cls_name, None)
        if cls is None:
            continue
        solver = cls(**kw)
        if solver.available():
            return solver
    raise SolverError(
        "solver 'cbc' is not available: install a PuLP that bundles CBC (pulp>=3.3,<4) "
        "or a cbc binary on PATH"
    )


def _generic(pulp_name: str) -> Callable[..., object]:
    def make(**kw: object):  # type: ignore[no-untyped-def]
        import pulp

        try:
            solver = pulp.getSolver(pulp_name, **kw)
        except pulp.PulpSolverError as e:
            raise SolverError(f"solver {pulp_name!r}: {e}") from None
        if not solver.available():
            raise SolverError(f"solver {pulp_name!r} is not available on this machine")
        return solver

    return make


PULP_SOLVERS: dict[str, Callable[..., object]] = {
    "cbc": _cbc,
    "glpk": _generic("GLPK_CMD"),
    "gurobi": _generic("GUROBI"),
    "cplex": _generic("CPLEX_CMD"),
    "scip": _generic("SCIP_CMD"),
    "highs-pulp": _generic("HiGHS"),
}


class PulpBackend:
    """Any solver PuLP drives. The model is translated row by row; use it on reduced models."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._make = PULP_SOLVERS[name]

    def _highs_only(self, what: str) -> SolverError:
        return SolverError(
            f'solver {self.name!r}: {what} are solved with HiGHS only; set solver.name = "highs"'
        )

    def solve_qp(
        self, model: MatrixModel, hessian_diag: FloatArray, *, time_limit: float = 60.0
    ) -> BackendResult:
        """Not through PuLP: raises :class:`SolverError` (quadratic objectives need HiGHS)."""
        raise self._highs_only("quadratic objectives")

    def column_ranges(
        self,
        model: MatrixModel,
        n: int,
        *,
        released: NDArray[np.bool_] | None = None,
        released_lo: FloatArray | None = None,
        released_hi: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray] | None:
        """Not through PuLP: raises :class:`SolverError` (ranging needs HiGHS's warm starts)."""
        raise self._highs_only("column ranges")

    def solve(
        self,
        model: MatrixModel,
        *,
        time_limit: float,
        gap: float,
        seed: int = 0,
        threads: int | None = None,
        start: FloatArray | None = None,
        abs_gap: float = 0.0,
        stop_at: float | None = None,
        on_solution: Callable[[FloatArray], bool] | None = None,  # not offered through PuLP
        cutoff: float | None = None,
    ) -> BackendResult:
        import pulp

        nrow, ncol = model.shape
        is_mip = bool(model.integer.any())
        prob = pulp.LpProblem("align", pulp.LpMinimize)
        xs = [
            pulp.LpVariable(
                f"x{k}",
                lowBound=float(model.col_lo[k]),
                upBound=None if math.isinf(model.col_hi[k]) else float(model.col_hi[k]),
                cat=pulp.LpInteger if model.integer[k] else pulp.LpContinuous,
            )
            for k in range(ncol)
        ]
        prob += pulp.LpAffineExpression(zip(xs, model.c.tolist(), strict=True)) + model.offset
        R = model.A.tocsr()
        cons: list[tuple[Any, Any]] = []
        for r in range(nrow):
            s, e = R.indptr[r], R.indptr[r + 1]
            expr = pulp.LpAffineExpression(
                zip([xs[k] for k in R.indices[s:e]], R.data[s:e].tolist(), strict=True)
            )
            lo, hi = float(model.row_lo[r]), float(model.row_hi[r])
            if lo == hi:
                c = expr == lo
                prob += c, f"e{r}"
                cons.append((prob.constraints[f"e{r}"], None))
                continue
            ge = le = None
            if math.isfinite(lo):
                prob += expr >= lo, f"g{r}"
                ge = prob.constraints[f"g{r}"]
            if math.isfinite(hi):
                prob += expr <= hi, f"l{r}"
                le = prob.constraints[f"l{r}"]
            cons.append((ge, le))
        if is_mip and cutoff is not None:
            prob += prob.objective <= float(cutoff), "cutoff"
        if is_mip and start is not None:
            for v, val in zip(xs, start, strict=True):
                v.setInitialValue(float(round(val)) if v.cat == pulp.LpInteger else float(val))
        kw: dict[str, object] = {"msg": False, "timeLimit": max(1, math.ceil(time_limit))}
        if is_mip:
            kw["gapRel"] = float(gap)
            if abs_gap > 0:
                kw["gapAbs"] = float(abs_gap)
            if start is not None and self.name == "cbc":
                kw["warmStart"] = True
        if threads:
            kw["threads"] = int(threads)
        solver = self._make(**kw)
        try:
            prob.solve(solver)
        except pulp.PulpSolverError as e:
            raise SolverError(f"solver {self.name!r} failed: {e}") from None
        st = prob.sol_status
        if st not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
            # CBC reports a proven-infeasible MIP as status Infeasible with sol_status 0
            if st == pulp.LpSolutionInfeasible or prob.status == pulp.LpStatusInfeasible:
                return BackendResult(Status.INFEASIBLE, message="infeasible")
            return BackendResult(Status.NO_SOLUTION, message=pulp.LpStatus.get(prob.status, ""))
        x = np.array([v.varValue if v.varValue is not None else 0.0 for v in xs], dtype=float)
        obj = float(model.c @ x + model.offset)
        if not is_mip:
            if st != pulp.LpSolutionOptimal:
                return BackendResult(Status.NO_SOLUTION, message="LP not solved to optimality")
            duals = np.zeros(nrow)
            for r, (a, b) in enumerate(cons):
                duals[r] = sum(float(c.pi or 0.0) for c in (a, b) if c is not None)
            return BackendResult(Status.OPTIMAL, x, obj, obj, row_dual=duals)
        if st == pulp.LpSolutionOptimal:
            # PuLP does not expose the solver's bound; optimal means within gapRel of it.
            return BackendResult(Status.OPTIMAL, x, obj, obj - max(gap * abs(obj), abs_gap))
        return BackendResult(Status.FEASIBLE, x, obj, -math.inf, message="stopped before the gap")


class RebuildSession:
    """The same interface for backends without incremental changes: re-solve from scratch."""

    def __init__(
        self, backend: Backend, model: MatrixModel, seed: int, threads: int | None = None
    ) -> None:
        self.backend = backend
        self.model = model
        self.seed = seed
        self.threads = threads

    @property
    def ncol(self) -> int:
        return self.model.shape[1]

    def solve(self, *, time_limit: float) -> BackendResult:
        return self.backend.solve(
            self.model, time_limit=time_limit, gap=0.0, seed=self.seed, threads=self.threads
        )

    def basis(self) -> None:
        """No basis is kept between solves here."""

    def set_basis(self, cols: NDArray[np.int8], rows: NDArray[np.int8]) -> bool:
        return False  # not taken: each solve starts from scratch

    def add_columns(self, block: MatrixModel) -> None:
        import scipy.sparse as sp

        m = self.model
        self.model = MatrixModel(
            c=np.r_[m.c, block.c],
            A=sp.hstack([m.A, block.A], format="csc"),
            row_lo=m.row_lo,
            row_hi=m.row_hi,
            col_lo=np.r_[m.col_lo, block.col_lo],
            col_hi=np.r_[m.col_hi, block.col_hi],
            integer=np.r_[m.integer, block.integer],
            offset=m.offset,
        )

    def set_row_bounds(self, rows: NDArray[np.int64], lo: FloatArray, hi: FloatArray) -> None:
        self.model.row_lo = self.model.row_lo.copy()
        self.model.row_hi = self.model.row_hi.copy()
        self.model.row_lo[rows] = lo
        self.model.row_hi[rows] = hi

    def set_bounds(self, cols: NDArray[np.int64], lo: FloatArray, hi: FloatArray) -> None:
        self.model.col_lo = self.model.col_lo.copy()
        self.model.col_hi = self.model.col_hi.copy()
        self.model.col_lo[cols] = lo
        self.model.col_hi[cols] = hi


LPSession = HighsSession | RebuildSession  # an LP kept between solves


def lp_session(
    backend: Backend, model: MatrixModel, *, seed: int = 0, threads: int | None = None
) -> LPSession:
    """An LP that can grow columns and change bounds between solves (``threads``: HiGHS's)."""
    if isinstance(backend, HighsBackend):
        return backend.lp_session(model, seed=seed, threads=threads)
    return RebuildSession(backend, model, seed, threads)


def get_backend(name: str) -> Backend:
    """The backend named in ``solver.name``."""
    key = name.lower()
    if key == "highs":
        return HighsBackend()
    if key in PULP_SOLVERS:
        PULP_SOLVERS[key](msg=False)  # raises SolverError when unavailable
        return PulpBackend(key)
    raise SolverError(
        f"settings key 'solver.name': unknown solver {name!r}; choose one of: highs, "
        + ", ".join(PULP_SOLVERS)
    )
