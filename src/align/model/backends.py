"""Solver backends: HiGHS through highspy (default) and any solver PuLP drives.

A backend takes a :class:`MatrixModel` and returns a :class:`BackendResult` whose status is honest:
``optimal`` (LP optimal, or MIP within the requested gap), ``feasible`` (a solution, not proven
within the gap, e.g. stopped by the time limit), ``infeasible``, or ``no_solution``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import SolverError
from .formulation import MatrixModel

FloatArray = NDArray[np.float64]


@dataclass
class BackendResult:
    status: str
    x: FloatArray | None = None
    objective: float = math.nan
    bound: float = -math.inf  # valid lower bound (minimisation), -inf when unknown
    row_dual: FloatArray | None = None
    message: str = ""


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
    ) -> BackendResult: ...


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
    ):  # type: ignore[no-untyped-def]
        hs = self._hs
        h = hs.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
        h.setOptionValue("random_seed", int(seed))
        h.setOptionValue("mip_rel_gap", float(gap))
        if threads:
            h.setOptionValue("threads", int(threads))
        lp = hs.HighsLp()
        nrow, ncol = model.shape
        lp.num_col_ = ncol
        lp.num_row_ = nrow
        lp.col_cost_ = model.c
        lp.col_lower_ = model.col_lo
        lp.col_upper_ = model.col_hi
        lp.row_lower_ = model.row_lo
        lp.row_upper_ = model.row_hi
        lp.offset_ = model.offset
        A = model.A.tocsc()
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr
        lp.a_matrix_.index_ = A.indices
        lp.a_matrix_.value_ = A.data
        lp.a_matrix_.num_col_ = ncol
        lp.a_matrix_.num_row_ = nrow
        if model.integer.any():
            lp.integrality_ = [
                hs.HighsVarType.kInteger if f else hs.HighsVarType.kContinuous
                for f in model.integer
            ]
        h.passModel(lp)
        return h

    def _result(self, h, is_mip: bool) -> BackendResult:  # type: ignore[no-untyped-def]
        hs = self._hs
        status = h.getModelStatus()
        info = h.getInfo()
        MS = hs.HighsModelStatus
        has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
        sol = h.getSolution()
        x = np.asarray(sol.col_value, dtype=float) if has_x else None
        obj = float(info.objective_function_value) if has_x else math.nan
        if status == MS.kOptimal:
            if is_mip:
                return BackendResult("optimal", x, obj, float(info.mip_dual_bound))
            duals = np.asarray(sol.row_dual, dtype=float)
            return BackendResult("optimal", x, obj, obj, row_dual=duals)
        if status == MS.kInfeasible:
            return BackendResult("infeasible", message="infeasible")
        if status == MS.kUnboundedOrInfeasible and not has_x:
            return BackendResult("infeasible", message="infeasible or unbounded")
        bound = float(info.mip_dual_bound) if is_mip else -math.inf
        if not math.isfinite(bound):
            bound = -math.inf
        label = h.modelStatusToString(status)
        if x is not None and is_mip:
            return BackendResult("feasible", x, obj, bound, message=label)
        return BackendResult("no_solution", bound=bound, message=label)

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
    ) -> BackendResult:
        """Solve; a MIP stops early once its incumbent is at or below ``stop_at``.

        ``on_solution(x)`` sees every improving MIP solution; returning True stops the solve.
        """
        h = self._load(model, time_limit=time_limit, gap=gap, seed=seed, threads=threads)
        if abs_gap > 0:
            h.setOptionValue("mip_abs_gap", float(abs_gap))
        is_mip = bool(model.integer.any())
        stop = [False]
        if is_mip and on_solution is not None:
            seen = on_solution

            def improving(e) -> None:  # type: ignore[no-untyped-def]
                if seen(np.asarray(e.data_out.mip_solution, dtype=float)):
                    stop[0] = True

            def interrupt(e) -> None:  # type: ignore[no-untyped-def]
                if stop[0]:
                    e.interrupt()

            h.cbMipImprovingSolution.subscribe(improving)
            h.cbMipInterrupt.subscribe(interrupt)
        if is_mip and stop_at is not None:
            target = float(stop_at)

            def good_enough(e) -> None:  # type: ignore[no-untyped-def]
                if e.data_out.mip_primal_bound <= target:
                    e.interrupt()

            h.cbMipInterrupt.subscribe(good_enough)
        _subscribe_watch(h, is_mip=is_mip)
        if is_mip:
            # HiGHS 1.16 was seen running a warm-started MIP far past its time_limit: a
            # deadline checked in its own interrupt callbacks stops it
            deadline = time.monotonic() + float(time_limit) + 1.0

            def past_deadline(e) -> None:  # type: ignore[no-untyped-def]
                if time.monotonic() > deadline:
                    e.interrupt()

            h.cbMipInterrupt.subscribe(past_deadline)
            h.cbSimplexInterrupt.subscribe(past_deadline)
        if is_mip and start is not None:
            sol = self._hs.HighsSolution()
            sol.col_value = list(map(float, start))
            sol.value_valid = True
            h.setSolution(sol)
        h.run()
        res = self._result(h, is_mip)
        if res.x is not None and start is not None:
            # HiGHS 1.16 can report a better objective while handing back the start as the
            # solution (seen when presolve finishes the MIP): trust only a consistent answer
            value = float(model.c @ res.x + model.offset)
            if abs(value - res.objective) > 1e-7 * (1 + abs(value)):
                return self.solve(
                    model,
                    time_limit=time_limit,
                    gap=gap,
                    seed=seed,
                    threads=threads,
                    abs_gap=abs_gap,
                    stop_at=stop_at,
                    on_solution=on_solution,
                )
        return res

    def lp_session(self, model: MatrixModel, *, seed: int = 0) -> HighsSession:
        return HighsSession(self, model, seed)


class HighsSession:
    """An LP kept in one HiGHS instance: columns are added and bounds changed between solves,
    and each solve warm-starts from the last basis."""

    def __init__(self, backend: HighsBackend, model: MatrixModel, seed: int) -> None:
        self.backend = backend
        self.h = backend._load(model, time_limit=1e9, gap=0.0, seed=seed, threads=None)
        self.ncol = model.shape[1]
        self._watched = False

    def solve(self, *, time_limit: float) -> BackendResult:
        if not self._watched:
            self._watched = _subscribe_watch(self.h, is_mip=False)
        # HiGHS measures time_limit against the run time of the instance over all its runs
        limit = self.h.getRunTime() + max(float(time_limit), 0.01)
        self.h.setOptionValue("time_limit", limit)
        self.h.run()
        return self.backend._result(self.h, False)

    def add_columns(self, block: MatrixModel) -> None:
        A = block.A.tocsc()
        n = A.shape[1]
        self.h.addCols(
            n, block.c, block.col_lo, block.col_hi, A.nnz, A.indptr[:-1], A.indices, A.data
        )
        self.ncol += n

    def set_bounds(self, cols: NDArray[np.int64], lo: FloatArray, hi: FloatArray) -> None:
        cols = np.asarray(cols, dtype=np.int32)
        self.h.changeColsBounds(len(cols), cols, np.asarray(lo, float), np.asarray(hi, float))

    def set_row_bounds(self, rows: NDArray[np.int64], lo: FloatArray, hi: FloatArray) -> None:
        rows = np.asarray(rows, dtype=np.int32)
        self.h.changeRowsBounds(len(rows), rows, np.asarray(lo, float), np.asarray(hi, float))


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
                return BackendResult("infeasible", message="infeasible")
            return BackendResult("no_solution", message=pulp.LpStatus.get(prob.status, ""))
        x = np.array([v.varValue if v.varValue is not None else 0.0 for v in xs], dtype=float)
        obj = float(model.c @ x + model.offset)
        if not is_mip:
            if st != pulp.LpSolutionOptimal:
                return BackendResult("no_solution", message="LP not solved to optimality")
            duals = np.zeros(nrow)
            for r, (a, b) in enumerate(cons):
                duals[r] = sum(float(c.pi or 0.0) for c in (a, b) if c is not None)
            return BackendResult("optimal", x, obj, obj, row_dual=duals)
        if st == pulp.LpSolutionOptimal:
            # PuLP does not expose the solver's bound; optimal means within gapRel of it.
            return BackendResult("optimal", x, obj, obj - max(gap * abs(obj), abs_gap))
        return BackendResult("feasible", x, obj, -math.inf, message="stopped before the gap")


class RebuildSession:
    """The same interface for backends without incremental changes: re-solve from scratch."""

    def __init__(self, backend: Backend, model: MatrixModel, seed: int) -> None:
        self.backend = backend
        self.model = model
        self.seed = seed

    @property
    def ncol(self) -> int:
        return self.model.shape[1]

    def solve(self, *, time_limit: float) -> BackendResult:
        return self.backend.solve(self.model, time_limit=time_limit, gap=0.0, seed=self.seed)

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


def lp_session(backend: Backend, model: MatrixModel, *, seed: int = 0):  # type: ignore[no-untyped-def]
    """An LP that can grow columns and change bounds between solves."""
    if isinstance(backend, HighsBackend):
        return backend.lp_session(model, seed=seed)
    return RebuildSession(backend, model, seed)


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
