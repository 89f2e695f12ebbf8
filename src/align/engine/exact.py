"""The exact MIPs of the fixed-territory engine: the whole MIP when the repair finds no plan,
and the MIP over every pair that could still improve a plan (reduced-cost fixing at the LP's
duals keeps it exact), warm-started from that plan."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..status import Status
from .backends import Backend, BackendResult
from .common import Clock
from .formulation import (
    IntArray,
    Layout,
    Problem,
    build_model,
    pair_reduced_costs,
    reduced_costs,
    rule_duals,
    unique_pairs,
)
from .pricing import may_price

IMPROVE_MAX_PAIRS_PER_ACCOUNT = 10  # beyond this the exact MIP cannot help within the limits


def whole_mip(
    problem: Problem,
    backend: Backend,
    pi: IntArray,
    pj: IntArray,
    clock: Clock,
    *,
    infeasible: bool,
) -> tuple[IntArray | None, str | None]:
    """The whole MIP: over the candidates, or over every eligible pair when those admit no plan."""
    s = problem.scenario.settings.solver
    sets = [problem.all_pairs()] if infeasible else [(pi, pj), problem.all_pairs()]
    for ai, aj in sets:
        model, sub = build_model(problem, ai, aj, integer=True)
        res = backend.solve(
            model, time_limit=clock.left(), gap=problem.target_gap, seed=s.seed, threads=s.threads
        )
        if res.status != "infeasible":
            break
    if res.x is None:
        return None, "infeasible" if res.status == Status.INFEASIBLE else "time"
    chosen = res.x[: sub.n_pair_cols] > 0.5
    assign = np.full(problem.n, -1, dtype=np.int64)
    assign[sub.pi[chosen]] = sub.pj[chosen]
    return assign, None


def improve_exactly(
    problem: Problem,
    backend: Backend,
    lp: BackendResult,
    layout: Layout,
    assign: IntArray,
    objective: float,
    bound: float,
    clock: Clock,
    stats: dict[str, Any],
) -> tuple[IntArray, float, float]:
    """MIP over every pair that could improve the incumbent (reduced-cost fixing), warm-started."""
    s = problem.scenario.settings.solver
    cs = problem.cost_scale
    delta = (objective - bound) / cs + 1e-9
    assert lp.row_dual is not None  # an optimal LP
    duals = rule_duals(problem, layout, lp.row_dual)
    # candidate pairs by their reduced cost; pruned ones only of accounts where one may qualify
    rc_pairs = pair_reduced_costs(problem, layout.pi, layout.pj, duals)
    near = rc_pairs <= delta
    keep_i, keep_j = [layout.pi[near]], [layout.pj[near]]
    for rows in problem.iter_chunks(may_price(problem, duals, slack=delta + 1e-9)):
        rc = reduced_costs(problem, rows, duals)
        ii, jj = np.nonzero(rc <= delta)
        keep_i.append(rows[ii])
        keep_j.append(jj.astype(np.int64))
    idx = np.arange(problem.n)
    pi, pj = unique_pairs(
        np.r_[np.concatenate(keep_i), idx], np.r_[np.concatenate(keep_j), assign], problem.m
    )
    stats["improve_pairs"] = int(len(pi))
    if len(pi) > max(20_000, IMPROVE_MAX_PAIRS_PER_ACCOUNT * problem.n):
        # the gap is too wide for reduced-cost fixing to shrink the MIP: it would be the whole
        # problem, which does not finish in time; the plan stands with its true gap
        stats["improve_skipped"] = "too many pairs could still improve the plan"
        return assign, objective, bound
    model, sub = build_model(problem, pi, pj, integer=True)
    start = (sub.pj == assign[sub.pi]).astype(float)
    res = backend.solve(
        model,
        time_limit=clock.left(),
        gap=problem.target_gap,
        seed=s.seed,
        threads=s.threads,
        start=start,
    )
    if res.x is not None:
        chosen = res.x[: sub.n_pair_cols] > 0.5
        cand = np.full(problem.n, -1, dtype=np.int64)
        cand[sub.pi[chosen]] = sub.pj[chosen]
        value = problem.plan_cost(cand) if (cand >= 0).all() else math.inf
        if value < objective:
            assign, objective = cand, value
    if math.isfinite(res.bound):
        # solutions outside the kept pairs cost more than the old incumbent
        bound = max(bound, min(res.bound * cs, objective))
    return assign, objective, bound
