"""One Status for runs, proposals and backend results; one scenario_of(run); the backends'
public methods that quotas use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import align
from align.engine.backends import HighsBackend, PulpBackend
from align.engine.formulation import MatrixModel
from align.errors import RunError, SolverError
from align.io import scenario_of
from align.runs import STATUSES
from align.status import PLANNED, Status

PFIZER = "tests/data/pfizer-22x4"


def test_status_is_the_same_string_everywhere(tmp_path: Path) -> None:
    assert [str(s) for s in Status] == ["optimal", "feasible", "infeasible", "no_solution"]
    assert STATUSES == tuple(Status) and PLANNED == {"optimal", "feasible"}
    run = align.solve(PFIZER, overrides=["objective.travel_weight=none", "solver.gap=0"])
    assert run.status is Status.OPTIMAL and run.status == "optimal" and run.status.has_plan
    run.write(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "optimal"
    back = align.load_run(tmp_path / "run")
    assert back.status is Status.OPTIMAL
    assert repr(back).startswith("<Run optimal objective=154.6 ")
    assert align.Run(status="no_solution").status is Status.NO_SOLUTION
    with pytest.raises(ValueError, match="'planned' is not a valid Status"):
        align.Run(status="planned")


def test_scenario_of_a_run_names_the_run_and_the_fix(tmp_path: Path) -> None:
    run = align.solve(PFIZER, overrides=["objective.travel_weight=none"])
    assert scenario_of(run).name == "pfizer-22x4"
    given = align.load_scenario(PFIZER)
    assert scenario_of(align.Run(status="optimal"), given) is given
    with pytest.raises(RunError) as e:
        scenario_of(align.Run(status="optimal", scenario="north"))
    assert str(e.value) == (
        "run north: it does not name its scenario folder; pass scenario= (the scenario it was "
        "solved from)"
    )
    gone = align.Run(status="optimal", scenario_path=str(tmp_path / "gone"), path=tmp_path / "r")
    with pytest.raises(RunError) as e:
        scenario_of(gone)
    assert str(e.value).startswith(f"run {tmp_path / 'r'}: its scenario folder {tmp_path / 'gone'}")
    assert str(e.value).endswith("; pass scenario= (the scenario it was solved from)")


def _box(lo: float, hi: float) -> MatrixModel:
    """x0 + x1 = 3, each in [lo, hi]: the least and most of each is 3 - hi and hi."""
    return MatrixModel(
        c=np.zeros(2),
        A=sp.csc_matrix(np.array([[1.0, 1.0]])),
        row_lo=np.array([3.0]),
        row_hi=np.array([3.0]),
        col_lo=np.full(2, lo),
        col_hi=np.full(2, hi),
        integer=np.zeros(2, dtype=bool),
    )


def test_the_backend_ranges_columns_and_solves_a_qp_through_public_methods() -> None:
    highs = HighsBackend()
    low, high = highs.column_ranges(_box(0.0, 2.0), 2) or (None, None)
    assert low.tolist() == [1.0, 1.0] and high.tolist() == [2.0, 2.0]
    # column 0 released to [0, 3] while its own range is taken: 1 (x1 <= 2) to 3 (x1 = 0);
    # then held again, so column 1 keeps 1 to 2
    low, high = highs.column_ranges(
        _box(0.0, 2.0),
        2,
        released=np.array([True, False]),
        released_lo=np.array([0.0, 0.0]),
        released_hi=np.array([3.0, 0.0]),
    ) or (None, None)
    assert low.tolist() == [1.0, 1.0] and high.tolist() == [3.0, 2.0]
    assert highs.column_ranges(_box(0.0, 1.0), 2) is None  # 3 cannot be reached
    # minimise (x0 - 2)^2 + (x1 - 0)^2 on x0 + x1 = 3: x = (2.5, 0.5)
    qp = MatrixModel(
        c=np.array([-4.0, 0.0]),
        A=sp.csc_matrix(np.array([[1.0, 1.0]])),
        row_lo=np.array([3.0]),
        row_hi=np.array([3.0]),
        col_lo=np.full(2, -10.0),
        col_hi=np.full(2, 10.0),
        integer=np.zeros(2, dtype=bool),
        offset=4.0,
    )
    res = highs.solve_qp(qp, np.array([2.0, 2.0]))
    assert res.status is Status.OPTIMAL and res.x is not None
    assert res.x.tolist() == pytest.approx([2.5, 0.5], abs=1e-6)
    assert res.objective == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(SolverError) as e:
        PulpBackend("cbc").solve_qp(qp, np.array([2.0, 2.0]))
    assert str(e.value) == (
        "solver 'cbc': quadratic objectives are solved with HiGHS only; set solver.name = \"highs\""
    )
