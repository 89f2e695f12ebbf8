"""The quota model: goal rows and bounds as sparse arrays, the continuous QP that centres it,
the exact MIP on a window around it, and the negotiation ranges (LP ranging)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ..engine.backends import Backend, BackendResult
from ..engine.formulation import MatrixModel
from .inputs import (
    TIE_WEIGHT,
    _Inputs,
)

FloatArray = NDArray[np.float64]


# ---------------------------------------------------------------------------------------------
# the model


@dataclass
class _Model:
    """The quota rules in units of ``U``: columns x (one per territory) and, with components,
    y (one per territory and component holding potential there); rows: the goal of each group
    (the regions, or everything), and with components ``sum_c y_jc = x_j`` and
    ``sum_j y_jc = G_c``. The objective is added by the MIP."""

    matrix: MatrixModel
    m: int
    f: FloatArray  # fair share in units (floored above 0)
    lo: FloatArray  # bounds in units from the rules (before overrides)
    hi: FloatArray
    pj: NDArray[np.int64]  # component pairs
    pc: NDArray[np.int64]
    n_groups: int  # the first rows: one goal row per group
    comp_goals: FloatArray | None = None  # in units


def _build(
    inputs: _Inputs,
    *,
    f: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    groups: list[tuple[NDArray[np.int64], float]],
    comp_goals: FloatArray | None,
) -> _Model:
    m = len(f)
    if comp_goals is not None and inputs.comp_potential is not None:
        has = inputs.comp_potential > 0
        has[~has.any(axis=1)] = True  # a territory without component potential takes any
        pj, pc = np.nonzero(has)
    else:
        pj = pc = np.zeros(0, dtype=np.int64)
    npair = len(pj)
    ncol = m + npair
    members = np.concatenate([g for g, _ in groups])
    gid = np.repeat(np.arange(len(groups)), [len(g) for g, _ in groups])
    blocks = [sp.csr_matrix((np.ones(len(members)), (gid, members)), (len(groups), ncol))]
    rhs = [np.array([goal for _, goal in groups], dtype=float)]
    if npair:
        assert comp_goals is not None
        k = np.arange(npair)
        blocks.append(  # link: sum_c y_jc - x_j = 0
            sp.csr_matrix(
                (
                    np.r_[np.ones(npair), -np.ones(m)],
                    (np.r_[pj, np.arange(m)], np.r_[m + k, np.arange(m)]),
                ),
                (m, ncol),
            )
        )
        rhs.append(np.zeros(m))
        blocks.append(sp.csr_matrix((np.ones(npair), (pc, m + k)), (len(comp_goals), ncol)))
        rhs.append(comp_goals)
    b = np.concatenate(rhs)
    matrix = MatrixModel(
        c=np.zeros(ncol),
        A=sp.vstack(blocks, format="csc"),
        row_lo=b,
        row_hi=b.copy(),
        col_lo=np.r_[lo, np.zeros(npair)],
        col_hi=np.r_[hi, np.full(npair, np.inf)],
        integer=np.ones(ncol, dtype=bool),
    )
    return _Model(matrix, m, f, lo, hi, pj, pc, len(groups), comp_goals)


def _ties(potential: FloatArray) -> FloatArray:
    """Tie-breaking cost per unit: more potential (then earlier in the file) takes the odd unit."""
    m = len(potential)
    order = np.lexsort((np.arange(m), -potential))
    rank = np.empty(m)
    rank[order] = np.arange(m)
    return TIE_WEIGHT * (rank + 1) / (m + 1)


def _solve_qp(
    backend: Backend, model: _Model, lo: FloatArray, hi: FloatArray, ties: FloatArray
) -> BackendResult:
    """The continuous optimum of sum (x - f)^2 / f over the goal rows and bounds (HiGHS QP):
    the centre of the MIP's window (components are left to the MIP)."""
    mm = model.matrix
    m = model.m
    qp = MatrixModel(
        c=-2.0 + ties,
        A=mm.A[: model.n_groups, :m].tocsc(),
        row_lo=mm.row_lo[: model.n_groups],
        row_hi=mm.row_hi[: model.n_groups],
        col_lo=lo,
        col_hi=hi,
        integer=np.zeros(m, dtype=bool),
        offset=float(model.f.sum()),
    )
    return backend.solve_qp(qp, 2.0 / model.f)


def _epigraph(model: _Model, wlo: FloatArray, whi: FloatArray, ties: FloatArray) -> MatrixModel:
    """The MIP: x_j in [wlo, whi] and e_j >= every chord of (x - f)^2 / f on that window."""
    mm = model.matrix
    m, f = model.m, model.f
    ncol0 = mm.shape[1]
    counts = (whi - wlo).astype(np.int64)  # chords per territory
    j = np.repeat(np.arange(m), counts)
    a = wlo[j] + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))

    def fval(jj: NDArray[np.int64], aa: FloatArray) -> FloatArray:
        return (aa - f[jj]) ** 2 / f[jj]

    slope = fval(j, a + 1) - fval(j, a)
    rhs = fval(j, a) - slope * a
    nrow = len(j)
    k = np.arange(nrow)
    chords = sp.csr_matrix(
        (np.r_[np.ones(nrow), -slope], (np.r_[k, k], np.r_[ncol0 + j, j])), (nrow, ncol0 + m)
    )
    A = sp.vstack([sp.hstack([mm.A, sp.csc_matrix((mm.shape[0], m))]), chords], format="csc")
    e_lo = np.where(counts == 0, fval(np.arange(m), wlo), 0.0)
    c = np.r_[mm.c, np.ones(m)]
    c[:m] += ties
    return MatrixModel(
        c=c,
        A=A,
        row_lo=np.r_[mm.row_lo, rhs],
        row_hi=np.r_[mm.row_hi, np.full(nrow, np.inf)],
        col_lo=np.r_[wlo, mm.col_lo[m:], e_lo],
        col_hi=np.r_[whi, mm.col_hi[m:], np.full(m, np.inf)],
        integer=np.r_[mm.integer, np.zeros(m, dtype=bool)],
    )


def _ranges(
    backend: Backend, model: _Model, lo: FloatArray, hi: FloatArray, fixed: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray] | None:
    """Least and most of each x_j over the LP relaxation (warm-started re-solves); None when
    the relaxation is infeasible."""
    mm = model.matrix
    m = model.m
    lp = dataclasses.replace(
        mm,
        col_lo=np.r_[lo, mm.col_lo[m:]],
        col_hi=np.r_[hi, mm.col_hi[m:]],
        integer=np.zeros_like(mm.integer),
    )
    return backend.column_ranges(lp, m, released=fixed, released_lo=model.lo, released_hi=model.hi)


def _solve_mip(
    backend: Backend,
    model: _Model,
    center: FloatArray,
    xlo: FloatArray,
    xhi: FloatArray,
    ties: FloatArray,
    time_limit: float,
) -> FloatArray | None:
    """The integer optimum: exact quadratic on a window around the QP optimum, widened while
    a window edge binds."""
    m = model.m
    width = 2.0
    for _ in range(6):
        wlo = np.maximum(xlo, np.floor(center + 1e-9) - width)
        whi = np.minimum(xhi, np.ceil(center - 1e-9) + width)
        mip = _epigraph(model, wlo, whi, ties)
        res = backend.solve(mip, time_limit=time_limit, gap=0.0, abs_gap=1e-9)
        if res.x is not None:
            x = np.round(res.x[:m])
            edge = ((x == wlo) & (wlo > xlo)) | ((x == whi) & (whi < xhi))
            if not edge.any():
                return np.asarray(np.r_[x, res.x[m:]], dtype=float)
            center = x
        width *= 4
    return None
