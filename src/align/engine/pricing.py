"""Pricing the pairs left out of the candidate set, by reduced cost against given duals.

The duals may come from an LP over the candidates or from Lagrangian multipliers (with the
account duals set to each account's best candidate): either way a pruned pair with a negative
reduced cost is one the candidates miss, and the sum of the most negative ones (the shortfall)
turns the candidates' bound into a bound of the whole problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .backends import Backend, BackendResult, LPSession, lp_session
from .formulation import (
    Layout,
    MatrixModel,
    Problem,
    RuleDuals,
    build_model,
    reduced_costs,
    rule_duals,
)

PRICE_TOL = 1e-6  # a pruned pair enters when its scaled reduced cost is below -PRICE_TOL


def price(
    problem: Problem,
    duals: RuleDuals,
    pi: np.ndarray,
    pj: np.ndarray,
    *,
    threshold: float = -PRICE_TOL,
    per_account: int = 3,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Pruned pairs whose reduced cost is below ``threshold`` (at most ``per_account`` each).

    Also returns the Lagrangian shortfall ``sum_i min(0, min_j rc_ij)`` over pruned pairs: the LP
    value plus it is a valid bound of the full problem's LP. ``rows`` (sorted): price only
    those accounts.
    """
    m = problem.m
    rows_all = may_price(problem, duals)
    if rows is not None:
        keep = np.zeros(problem.n, dtype=bool)
        keep[rows] = True
        rows_all = rows_all[keep[rows_all]]
    # the candidate pairs of those accounts, sorted by account, to mark them per chunk
    in_set = np.zeros(problem.n, dtype=bool)
    in_set[rows_all] = True
    mine = np.flatnonzero(in_set[pi])
    mine = mine[np.argsort(pi[mine], kind="stable")]
    have_i, have_j = pi[mine], pj[mine]
    out_i, out_j = [], []
    shortfall = 0.0
    for rows in problem.iter_chunks(rows_all):
        rc = reduced_costs(problem, rows, duals)
        lo, hi = np.searchsorted(have_i, [rows[0], rows[-1] + 1])
        local = np.searchsorted(rows, have_i[lo:hi])
        rc[local, have_j[lo:hi]] = np.inf
        best = rc.min(axis=1)
        neg = best < 0
        shortfall += float(best[neg].sum())
        hit = np.flatnonzero(best < threshold)
        if not len(hit):
            continue
        sub = rc[hit]
        take = min(per_account, m)
        idx = np.argpartition(sub, take - 1, axis=1)[:, :take]
        vals = np.take_along_axis(sub, idx, axis=1)
        ok = vals < threshold
        out_i.append(np.repeat(rows[hit], take).reshape(len(hit), take)[ok])
        out_j.append(idx[ok])
    if not out_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), shortfall
    return np.concatenate(out_i), np.concatenate(out_j).astype(np.int64), shortfall


def may_price(problem: Problem, duals, slack: float = 0.0) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Accounts whose pruned pairs may have a reduced cost below ``slack`` (sorted).

    A pruned pair costs at least ``problem.pruned_floor`` (raw), and its resource term is at
    least ``-max_j v_i y_j``; accounts where even that bound is >= ``slack`` are skipped (their
    pruned pairs cannot enter, nor add to the shortfall). Without a floor: every account.
    """
    if problem.pruned_floor is None:
        return np.arange(problem.n)
    lb = problem.pruned_floor / problem.cost_scale - duals.account
    for r, y in zip(problem.resources, duals.resource, strict=True):
        if len(y):
            lb = lb - np.maximum(r.values * y.max(), r.values * y.min())
    return np.flatnonzero(~(lb >= slack))


class PricedLP:
    """The LP over candidate pairs, big-M slack on every band, kept warm in one session and
    grown by pricing (:meth:`solve`) until no pruned pair could lower its value."""

    def __init__(
        self,
        problem: Problem,
        backend: Backend,
        pi: np.ndarray,
        pj: np.ndarray,
        slack_cost: float,
        *,
        warm: tuple[LPSession, MatrixModel, Layout] | None = None,
    ) -> None:
        """``warm``: a session already holding this LP (its model built by
        :func:`.formulation.build_model` over ``pi, pj`` with ``slack_cost``, and its layout),
        solved or not, used instead of a new one: a re-solve starts from its last basis."""
        if warm is None:
            model, self.layout = build_model(problem, pi, pj, slack_cost=slack_cost)
            solver = problem.scenario.settings.solver
            self.session = lp_session(backend, model, seed=solver.seed, threads=solver.threads)
        else:
            self.session, model, self.layout = warm
        self.problem = problem
        self.pi, self.pj = pi, pj
        self.slack = np.arange(len(pi), model.shape[1])  # session columns of the slacks
        self.cols = np.arange(len(pi))  # session column of each pair
        self.band_rows = np.arange(len(self.layout.accounts), model.shape[0])
        self.band_lo = model.row_lo[self.band_rows]
        self.band_hi = model.row_hi[self.band_rows]
        self.rounds = 0
        self.shortfall = 0.0

    def solve(
        self,
        left: Callable[[], float],
        *,
        on_round: Callable[[int], None] | None = None,
        stop: Callable[[], bool] = lambda: False,
    ) -> BackendResult:
        """Solve, price, add what prices out, re-solve; the last result (not optimal when the
        time ran out). ``stop()`` ends the pricing early (the pairs so far)."""
        problem, layout = self.problem, self.layout
        while True:
            self.rounds += 1
            if on_round is not None:
                on_round(self.rounds)
            lp = self.session.solve(time_limit=left())
            if lp.status != "optimal" or lp.row_dual is None or lp.x is None:
                return lp
            duals = rule_duals(problem, layout, lp.row_dual)
            new_i, new_j, self.shortfall = price(problem, duals, self.pi, self.pj)
            if not len(new_i) or stop():
                return lp
            block, _ = build_model(problem, new_i, new_j)
            self.cols = np.r_[self.cols, self.session.ncol + np.arange(len(new_i))]
            self.session.add_columns(block)
            self.pi, self.pj = np.r_[self.pi, new_i], np.r_[self.pj, new_j]
            layout.pi, layout.pj, layout.n_pair_cols = self.pi, self.pj, len(self.pi)

    def duals(self, lp: BackendResult) -> RuleDuals:
        assert lp.row_dual is not None
        return rule_duals(self.problem, self.layout, lp.row_dual)

    def pairs_x(self, lp: BackendResult) -> Any:
        """The value of every pair (in ``pi, pj`` order) in an LP result."""
        assert lp.x is not None
        return lp.x[self.cols]
