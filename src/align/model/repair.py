"""Plans that break a band: measure the violation, and repair it by single moves."""

from __future__ import annotations

import numpy as np

from .formulation import Problem

SLACK_COST = 1e6  # scaled cost of one mean target of band slack in the LP (big M)
SLACK_TOL = 1e-7  # slack left in an elastic answer (or a repaired plan): not a plan


def _violation(r, load: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.maximum(load - r.hi, 0.0) + np.maximum(r.lo - load, 0.0)


def repair_moves(
    problem: Problem, pi: np.ndarray, pj: np.ndarray, assign: np.ndarray, *, rounds: int = 200
) -> tuple[np.ndarray, float]:
    """Greedy single moves along candidate pairs that reduce the band and cap violations.

    Each round scores every move out of or into a territory that violates a band by the elastic
    objective (scaled cost change + SLACK_COST x violation change) and makes the best moves that
    touch distinct territories. Returns the plan and its remaining total violation (scaled).
    """
    assign = assign.copy()
    m = problem.m
    cs = problem.cost_scale
    cur = problem.current
    capped = problem.moved_min_kept is not None
    has_cur = cur >= 0
    for _ in range(rounds):
        loads = [r.load(assign, m) for r in problem.resources]
        bad = np.zeros(m, dtype=bool)
        total = 0.0
        for r, load in zip(problem.resources, loads, strict=True):
            v = _violation(r, load)
            total += float(v.sum())
            hit = v > 1e-12
            bad |= hit if r.group is None else hit[r.group]
        kept = 0.0
        if capped:
            kept = float(problem.measure[has_cur & (cur == assign)].sum()) / problem.moved_scale
            short = max(problem.moved_min_kept - kept, 0.0)  # type: ignore[operator]
            total += short
        if total <= SLACK_TOL:
            return assign, total
        a_all = assign[pi]
        sel = (pj != a_all) & (bad[a_all] | bad[pj])
        if capped and short > 0:
            sel |= (pj == cur[pi]) & (a_all != pj)
        ci, cb = pi[sel], pj[sel]
        if not len(ci):
            return assign, total
        ca = assign[ci]
        dv = np.zeros(len(ci))
        for r, load in zip(problem.resources, loads, strict=True):
            v = r.values[ci]
            ga, gb = (ca, cb) if r.group is None else (r.group[ca], r.group[cb])
            diff = ga != gb
            la, lb = load[ga], load[gb]
            lo_a, hi_a, lo_b, hi_b = r.lo[ga], r.hi[ga], r.lo[gb], r.hi[gb]
            da = (
                np.maximum(la - v - hi_a, 0) + np.maximum(lo_a - la + v, 0)
                - np.maximum(la - hi_a, 0) - np.maximum(lo_a - la, 0)
            )  # fmt: skip
            db = (
                np.maximum(lb + v - hi_b, 0) + np.maximum(lo_b - lb - v, 0)
                - np.maximum(lb - hi_b, 0) - np.maximum(lo_b - lb, 0)
            )  # fmt: skip
            dv += np.where(diff, da + db, 0.0)
        if capped:
            mk = problem.measure[ci] / problem.moved_scale
            dk = np.where(cur[ci] == cb, mk, 0.0) - np.where(cur[ci] == ca, mk, 0.0)
            lo_k = problem.moved_min_kept
            dv += np.maximum(lo_k - kept - dk, 0) - np.maximum(lo_k - kept, 0)  # type: ignore[operator]
        dc = (problem.pair_costs(ci, cb) - problem.pair_costs(ci, ca)) / cs
        score = dc + SLACK_COST * dv
        good = np.flatnonzero((dv < -1e-12) & (score < 0))
        if not len(good):
            return assign, total
        good = good[np.argsort(score[good], kind="stable")]
        touched = np.zeros(m, dtype=bool)
        moved_any = False
        for q in good[: 4 * m]:
            a, b = ca[q], cb[q]
            if touched[a] or touched[b] or assign[ci[q]] != a:
                continue
            assign[ci[q]] = b
            touched[a] = touched[b] = True
            moved_any = True
            if capped:
                break  # the cap is one row shared by every move: one at a time
        if not moved_any:
            return assign, total
    return assign, total


def near_violations(
    problem: Problem, pi: np.ndarray, pj: np.ndarray, assign: np.ndarray
) -> np.ndarray:
    """Accounts in, or with a candidate pair into, a territory whose band a plan violates."""
    bad = np.zeros(problem.m, dtype=bool)
    for r in problem.resources:
        load = r.load(assign, problem.m)
        out = (load > r.hi + 1e-9) | (load < r.lo - 1e-9)
        bad |= out if r.group is None else out[r.group]
    near = bad[assign]
    near[pi[bad[pj]]] = True
    if problem.moved_min_kept is not None:
        cur = problem.current
        kept = float(problem.measure[(cur >= 0) & (cur == assign)].sum()) / problem.moved_scale
        if kept < problem.moved_min_kept - 1e-9:
            near |= (cur >= 0) & (cur != assign)
    return near
