"""The time limit holds even where HiGHS itself does not stop (its MIPs run in a worker)."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import align
from align.engine import backends
from align.engine.formulation import MatrixModel

DATA = Path(__file__).resolve().parent / "data"


def test_contiguous_districting_returns_soon_after_a_short_limit() -> None:
    """Arkansas at +-0.5%: HiGHS 1.16 once spent minutes in one sub-MIP presolve here."""
    sc = align.load_scenario(DATA / "counties-AR", overrides=["solver.time_limit_s=3"])
    t0 = time.monotonic()
    run = align.solve(sc)
    wall = time.monotonic() - t0
    assert wall < 3 + 20  # generous: the limit plus the grace before a worker is ended
    assert run.status in ("feasible", "no_solution", "optimal")
    if run.has_plan:
        assert run.bound is not None and run.objective is not None
        assert run.bound <= run.objective * (1 + 1e-9)
        assert run.territories["contiguous"].all()
        assert run.territories["potential_deviation"].abs().max() <= 0.005 + 1e-12


def knapsack(n: int = 300) -> MatrixModel:
    rng = np.random.default_rng(3)
    w = rng.integers(1000, 100000, n).astype(float)
    return MatrixModel(
        c=-rng.uniform(1, 2, n),
        A=sp.csc_matrix(w[None, :]),
        row_lo=np.array([-np.inf]),
        row_hi=np.array([w.sum() / 2]),
        col_lo=np.zeros(n),
        col_hi=np.ones(n),
        integer=np.ones(n, dtype=bool),
    )


def test_a_worker_past_its_limit_is_ended_with_an_honest_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a deadline already past: the worker is ended at once, as if HiGHS had hung
    monkeypatch.setattr(backends, "KILL_GRACE_S", -30.0)
    t0 = time.monotonic()
    res = backends.HighsBackend().solve(knapsack(), time_limit=30.0, gap=0.0)
    assert time.monotonic() - t0 < 20
    assert res.status == "no_solution"
    assert res.message == "HiGHS did not stop at its time limit; its process was ended"
    assert res.x is None and res.bound == -math.inf
    # the next solve gets a fresh worker and a real answer
    monkeypatch.setattr(backends, "KILL_GRACE_S", 3.0)
    small = MatrixModel(
        c=np.array([1.0, 2.0]),
        A=sp.csc_matrix(np.array([[1.0, 1.0]])),
        row_lo=np.array([1.0]),
        row_hi=np.array([1.0]),
        col_lo=np.zeros(2),
        col_hi=np.ones(2),
        integer=np.ones(2, dtype=bool),
    )
    res = backends.HighsBackend().solve(small, time_limit=10.0, gap=0.0)
    assert res.status == "optimal"
    assert res.objective == 1.0
    assert res.x is not None and list(res.x) == [1.0, 0.0]


def test_mips_in_this_process_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = align.load_scenario(DATA / "counties-NM", overrides=["balance.potential.tolerance=0.05"])
    isolated = align.solve(sc)
    monkeypatch.setattr(backends, "ISOLATE_MIP", False)
    here = align.solve(sc)
    assert isolated.status == here.status == "optimal"
    assert isolated.objective == pytest.approx(here.objective, rel=1e-9)


class _Stuck:
    """A HiGHS instance stand-in whose run does not return until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def run(self) -> None:
        self.release.wait(120)


def test_a_highs_run_past_its_limit_is_left_behind_and_the_next_run_gets_a_new_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import highspy

    from align.engine import _highs_runner as runner

    monkeypatch.setattr(runner, "OVERRUN_GRACE_S", 0.2)
    stuck = _Stuck()
    t0 = time.monotonic()
    assert runner.run_within(highspy, stuck, 0.1) is False
    assert time.monotonic() - t0 < 60  # not the 120 s the run would take
    # the next run of this thread is not queued behind the stuck one
    lp = dataclasses.replace(knapsack(30), integer=np.zeros(30, dtype=bool))
    session = backends.HighsBackend().lp_session(lp)
    res = session.solve(time_limit=5.0)
    assert res.status == "optimal"
    stuck.release.set()


def test_a_solve_whose_lp_does_not_stop_returns_the_first_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An in-process HiGHS run that never returns (as one did under the fuzz tests for 50
    minutes) leaves the solve at its limit with the first plan, not for ever."""
    import highspy

    from align.engine import _highs_runner as runner

    monkeypatch.setattr(runner, "OVERRUN_GRACE_S", 0.5)
    release = threading.Event()
    plain = highspy.Highs.run

    def never(h: object) -> object:
        release.wait(120)
        return plain(h)

    monkeypatch.setattr(highspy.Highs, "run", never)
    sc = align.load_scenario(DATA.parent.parent / "data/examples/two-reps",
                             overrides=["solver.time_limit_s=2"])  # fmt: skip
    t0 = time.monotonic()
    try:
        run = align.solve(sc)
    finally:
        release.set()
    assert time.monotonic() - t0 < 60  # not the 120 s the LP would take
    assert run.status == "feasible"
    assert run.stats["first_plan"]["used"] is True
    # the optimum (A1, A2 West: 1 + 2; A3, A4, A5 East: 7 + 3 + 2), found without the LP;
    # the bound is every account at its nearest rep (1 + 2 + 3 + 3 + 2), not the LP's
    assert run.objective == 15.0 and run.bound == 11.0


@pytest.mark.parametrize("where", ["worker", "here", "cbc"])
def test_a_cutoff_on_the_objective_counts_the_offset(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ten items, weights against a capacity; the optimum found by trying every subset
    value = np.array([12, 7, 9, 15, 4, 11, 8, 6, 13, 5], dtype=float)
    weight = np.array([5, 3, 4, 7, 2, 6, 4, 3, 6, 2], dtype=float)
    subsets = np.array([[(s >> k) & 1 for k in range(10)] for s in range(1 << 10)], dtype=float)
    optimum = 100.0 - max(subsets[subsets @ weight <= 20] @ value)
    model = dataclasses.replace(knapsack(10), c=-value, A=sp.csc_matrix(weight[None, :]))
    model = dataclasses.replace(model, row_hi=np.array([20.0]), offset=100.0)
    if where == "here":
        monkeypatch.setattr(backends, "ISOLATE_MIP", False)
    backend = backends.get_backend("cbc") if where == "cbc" else backends.HighsBackend()
    # a cutoff at the optimum (offset included) still finds it
    res = backend.solve(model, time_limit=20.0, gap=0.0, cutoff=optimum + 0.5)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(optimum)
    # below what any choice of items could cost (offset less every value): nothing qualifies
    res = backend.solve(model, time_limit=20.0, gap=0.0, cutoff=100.0 - value.sum() - 0.5)
    assert res.status == "infeasible"
    assert res.x is None


@pytest.mark.parametrize("below", [0.01, 0.1, 1.0])
def test_highs_with_a_cutoff_bounds_every_solution_below_it(below: float) -> None:
    # HiGHS prunes the nodes whose bound reaches the cutoff but may still hand back a solution
    # above it (reported optimal): the optimum is at least min(its bound, the cutoff)
    model = dataclasses.replace(knapsack(300), offset=100.0)
    backend = backends.HighsBackend()
    exact = backend.solve(model, time_limit=30.0, gap=0.0)
    assert exact.status == "optimal"
    res = backend.solve(model, time_limit=30.0, gap=0.0, cutoff=exact.objective - below)
    assert res.status in ("optimal", "infeasible")
    assert min(res.bound, exact.objective - below) <= exact.objective + 1e-9
    if res.x is not None:
        assert float(model.c @ res.x) + 100.0 == pytest.approx(res.objective)
        assert res.objective >= exact.objective - 1e-9


def test_ctrl_c_while_the_process_exits_ends_the_idle_workers_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl-C that lands while the exit handler waits for an idle worker (seen in the Ctrl-C
    fault test: a traceback from the atexit callback) ends the workers and returns."""
    w = backends._Worker()
    wait = w.proc.wait

    def interrupted(timeout: float | None = None) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(w.proc, "wait", interrupted)
    monkeypatch.setattr(backends._Worker, "_idle", [w])
    backends._Worker.close_idle()  # no KeyboardInterrupt escapes
    assert backends._Worker._idle == []
    wait(timeout=10)  # it ended (killed, or out of input first): not left running
    assert w.proc.returncode is not None
    w.recv.close()
