"""The dive: from the LP's fractional plan to one with few split accounts.

The LP is re-solved with its rule rows narrowed (:func:`tighten_rows`: a margin inside every
band and under the moved cap, room for the rounding that follows), then the larger half of the
split accounts is fixed to its main territory and the LP re-solved, until few are split
(:func:`dive`), while another round fits in ``DIVE_SHARE`` of the time left when the dive
began. :mod:`.fixed` places what is left with a small MIP. The bound is not affected:
it comes from the LP over the true rows. On a large LP the split accounts do not become fewer
(about one per tight band row whatever is fixed); the later rounds trade them for smaller
ones, which round into cheaper plans (benchmarks/README.md, "The dive's rounds, traced").

A round's fixings may break a band that the accounts left free cannot mend (a split whale fixed
to its main territory on a restriction): the re-solved LP then carries the pricing LP's big-M
slack, and the rounding is out of band, to be mended over every account (:func:`.fixed._mend`).
Dives that refuse such rounds were tried and rounded worse ("The dive's slack, traced").
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from ..status import Status
from .backends import LPSession
from .common import Clock
from .formulation import FloatArray, IntArray, Layout, Problem
from .pricing import PricedLP
from .repair import kept_measure

INTEGRAL_TOL = 1e-6
TIGHTEN = 0.1  # share of each band's width the dive keeps free, as room for rounding
# ... on a restriction to the accounts in doubt, where every move is costly: much less
TIGHTEN_RESTRICTED = 0.03
# ... and of the moves a moved cap has left, on a restriction: a rounding that spends the cap to
# the last account leaves the repair no move to bring a band in (whale books, 30,000 x 150: 1%
# is too little); it costs the plan moves it could use (heavy 100,000 x 200: 0.78% -> 1.26%)
CAP_TIGHTEN_RESTRICTED = 0.03
CAP_REDIVE = 0.1  # ... where that rounding can be neither placed nor mended: the dive again
DIVE_ROUNDS = 10
DIVE_STOP = 8  # leave this many split accounts or fewer to the small MIP
DIVE_SHARE = 0.5  # of the time left when the dive starts: no round begins past it


def per_account_max(
    problem: Problem, pi: IntArray, pj: IntArray, x: FloatArray
) -> tuple[FloatArray, IntArray]:
    """Each account's largest pair value and its territory (-1 without a pair)."""
    order = np.lexsort((-x, pi))
    first = np.r_[True, pi[order][1:] != pi[order][:-1]]
    top = order[first]
    best_x = np.zeros(problem.n)
    best_j = np.full(problem.n, -1, dtype=np.int64)
    best_x[pi[top]] = x[top]
    best_j[pi[top]] = pj[top]
    return best_x, best_j


def narrowed_rows(
    problem: Problem, layout: Layout, priced: PricedLP, share: float, cap_share: float
) -> tuple[IntArray, FloatArray, FloatArray, tuple[FloatArray, FloatArray] | None]:
    """The LP's rule rows (bands and the moved row), their true bounds, and their narrowed ones
    (None: none narrowed): every two-sided band by ``share`` of its width, and the moved row by
    ``cap_share`` of the moves the cap leaves (its least kept measure raised by that much)."""
    rows, lo, hi = priced.band_rows, priced.band_lo, priced.band_hi
    both = np.isfinite(lo) & np.isfinite(hi)
    margin = max(share, 0.0) * np.where(both, hi - lo, 0.0) / 2
    narrow_lo, narrow_hi = lo + margin, hi - margin
    at = rows == layout.moved_row
    if cap_share > 0 and layout.moved_row >= 0 and at.any():
        # the row keeps sum_i m_i x_i,today >= lo; at most the whole measure is kept
        room = kept_measure(problem, problem.current) / problem.moved_scale - float(lo[at][0])
        narrow_lo[at] += cap_share * max(room, 0.0)
    if (narrow_lo == lo).all() and (narrow_hi == hi).all():
        return rows, lo, hi, None
    return rows, lo, hi, (narrow_lo, narrow_hi)


def tighten_rows(
    session: LPSession,
    rows: IntArray,
    lo: FloatArray,
    hi: FloatArray,
    narrowed: tuple[FloatArray, FloatArray] | None,
    slack: IntArray,
    cols: IntArray,
    clock: Clock,
    stats: dict[str, Any],
) -> FloatArray | None:
    """Re-solve the LP with its rule rows ``narrowed`` (see :func:`narrowed_rows`).

    Rounding a fractional plan moves each territory's load by up to a split account's size, and
    spends moves of the moved cap; an LP that keeps a margin inside every band and under the cap
    leaves room for that. Returns the pair values of the narrowed LP, or None (bounds restored)
    when it needs slack. The bound is not affected: it comes from the LP over the true rows.
    """
    if narrowed is None:
        return None
    session.set_row_bounds(rows, *narrowed)
    res = session.solve(time_limit=clock.left())
    ok = (
        res.status == Status.OPTIMAL and res.x is not None and res.x[slack].max(initial=0.0) <= 1e-7
    )
    stats["tightened"] = bool(ok)
    if not ok:
        session.set_row_bounds(rows, lo, hi)
        return None
    assert res.x is not None
    return res.x[cols]


def dive(
    problem: Problem,
    session: LPSession,
    x: FloatArray,
    cols_of_pairs: IntArray,
    layout: Layout,
    clock: Clock,
    stats: dict[str, Any],
) -> FloatArray:
    """Fix the larger half of the split accounts to their main territory, re-solve, repeat.

    Big accounts split by the LP are the hard part of rounding; fixing them while the LP can still
    move small accounts around them keeps the cost close to the bound. Returns the last LP
    solution (the bound is not affected: it comes from the LP before the dive).
    """
    pi, pj = layout.pi, layout.pj
    m = problem.m
    col_of = pd.Index(pi * m + pj)
    size = np.zeros(problem.n)
    for r in problem.resources:
        size = np.maximum(size, r.values)
    fixed: list[IntArray] = []
    rounds = 0
    trace: list[tuple[int, float]] = []  # each round's split accounts and seconds of LP
    box = clock.boxed(DIVE_SHARE * clock.left())  # no round begins that would end past it
    for rounds in range(1, DIVE_ROUNDS + 1):  # noqa: B007 - reported below
        best_x, best_j = per_account_max(problem, pi, pj, x)
        split = np.flatnonzero(best_x < 1 - INTEGRAL_TOL)
        if len(split) <= DIVE_STOP or clock.left() <= 0:
            break
        if trace and (box.left() <= 0 or trace[-1][1] > box.left()):
            break  # another round would eat the time the rounding and the repair need
        t0 = time.perf_counter()
        pick = split[np.argsort(-size[split], kind="stable")][: max(1, len(split) // 2)]
        cols = cols_of_pairs[col_of.get_indexer(pick * m + best_j[pick])]
        session.set_bounds(cols, np.ones(len(cols)), np.ones(len(cols)))
        res = session.solve(time_limit=clock.left())
        if res.status != "optimal" or res.x is None:
            session.set_bounds(cols, np.zeros(len(cols)), np.ones(len(cols)))
            break
        fixed.append(cols)
        x = res.x[cols_of_pairs]
        trace.append((len(split), round(time.perf_counter() - t0, 3)))
    for cols in fixed:  # leave the session as it was
        session.set_bounds(cols, np.zeros(len(cols)), np.ones(len(cols)))
    stats["dive_rounds"] = rounds
    stats.setdefault("dive_traces", []).append(trace)  # one per dive (a restriction may dive twice)
    return x
