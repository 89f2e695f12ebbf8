"""Improving a plan a few territories at a time: exact MIPs over small groups of neighbours.

A group is a territory and the ``size - 1`` territories its accounts would most often go to
instead (their cheapest other candidate). Every account the plan gives to the group is freed,
may go to any eligible territory of the group, and a MIP places them all at least cost, every
other account held where it is: bands, capacities and the moved cap are the model's rows (held
accounts shift their right-hand sides), so a better answer is a better plan that keeps every
rule. This is the move a greedy search does not find on lumpy books: a large account changes
territory and many small ones shift around it so that both bands still hold.

The groups are visited in turn, largest cost first, until the plan reaches ``stop_at``, a whole
round improves nothing, or the time is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from ..geo import point_distance
from .backends import Backend
from .formulation import IntArray, Problem, build_model
from .repair import band_violation, exact_violation, hold_exactly, moved_shortfall

GROUP_SIZES = (4, 5, 6)  # territories per group: the next when a round gains under ROUND_GAIN
ROUND_GAIN = 2e-4  # of the plan's cost
GROUP_BOX_S = 3.0  # time box of one group's MIP, seconds
GROUP_GAP = 1e-3  # each group's MIP stops within this of its own optimum
MIN_GAIN = 1e-6  # of the plan's cost: smaller gains are rounding, not improvement


@dataclass
class Regrouped:
    """What :func:`improve_by_groups` did: the plan, its cost and what it took."""

    assign: IntArray
    cost: float  # unscaled
    groups: int = 0  # MIPs solved
    improved: int = 0  # MIPs that lowered the cost
    unheld: int = 0  # answers left because they missed a band and could not be mended
    rounds: int = 0
    size: int = 0  # the largest group size tried
    seconds: float = 0.0


def neighbour_groups(
    problem: Problem, pi: IntArray, pj: IntArray, assign: IntArray, size: int
) -> IntArray:
    """(m, size) territory indices: each territory first, then its nearest territories (home
    bases), or, without territory locations, the territories its accounts' cheapest other
    candidates name most often."""
    m = problem.m
    size = min(size, m)
    geo = problem.geo
    if geo.ter is not None and geo.kind != "matrix":
        apart = point_distance(geo.kind, geo.ter[:, None, :], geo.ter[None, :, :])
    else:
        cost = problem.pair_costs(pi, pj)
        other = pj != assign[pi]
        oi, oj, oc = pi[other], pj[other], cost[other]
        order = np.lexsort((oc, oi))  # by account, cheapest first
        first = np.ones(len(order), dtype=bool)
        first[1:] = oi[order][1:] != oi[order][:-1]
        best = order[first]
        votes = np.zeros((m, m))
        np.add.at(votes, (assign[oi[best]], oj[best]), 1.0)
        apart = -votes
    apart = np.array(apart, dtype=float)
    np.fill_diagonal(apart, -np.inf)  # each territory first
    return np.argsort(apart, axis=1, kind="stable")[:, :size].astype(np.int64)


def improve_by_groups(
    problem: Problem,
    backend: Backend,
    pi: IntArray,
    pj: IntArray,
    assign: IntArray,
    *,
    deadline: float,
    stop_at: float = -np.inf,
    seed: int = 0,
    workers: int = 1,
    on_better: Callable[[IntArray, float], None] | None = None,
) -> Regrouped:
    """Re-place the accounts of each group of neighbouring territories by an exact MIP.

    ``pi, pj`` are candidate pairs (used only to choose the groups); the MIPs use every eligible
    pair inside the group. ``stop_at`` (unscaled cost) ends the search once reached;
    ``workers`` groups with no territory in common are solved at once (each MIP runs in its
    own process); ``on_better(assign, cost)`` is told of every improvement. When a whole round
    of groups gains nothing, the groups grow by one territory (up to ``GROUP_SIZES[-1]``).
    """
    t0 = time.perf_counter()
    out = Regrouped(assign.copy(), problem.plan_cost(assign))
    for size in GROUP_SIZES:
        if out.cost <= stop_at or time.perf_counter() >= deadline or size > problem.m:
            break
        _rounds(problem, backend, pi, pj, out, size, deadline, stop_at, seed, workers, on_better)
        out.size = size
    out.seconds = time.perf_counter() - t0
    return out


def _rounds(
    problem: Problem,
    backend: Backend,
    pi: IntArray,
    pj: IntArray,
    out: Regrouped,
    size: int,
    deadline: float,
    stop_at: float,
    seed: int,
    workers: int,
    on_better: Callable[[IntArray, float], None] | None,
) -> None:
    """Rounds of groups of ``size`` territories until a round gains nothing (updates ``out``)."""
    assign, cost = out.assign, out.cost
    groups = neighbour_groups(problem, pi, pj, assign, size)
    # largest cost first: that is where a territory's accounts travel farthest
    per = np.bincount(assign, weights=problem.pair_costs(np.arange(problem.n), assign),
                      minlength=problem.m)  # fmt: skip
    order = [int(c) for c in np.argsort(-per, kind="stable")]
    since_gain = 0  # groups solved since the last gain
    missed = exact_violation(problem, assign)  # how far the plan misses a band (0: holds)
    round_start, rounds = cost, 0
    queue: list[int] = []
    busy: dict[Future[_Placed | None], int] = {}
    stamp = np.zeros(problem.m, dtype=np.int64)  # changes of each territory's accounts
    seen: dict[int, tuple[int, ...]] = {}  # each group's stamps when it was last solved
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while True:
            stop = cost <= stop_at or time.perf_counter() >= deadline or since_gain >= len(order)
            # start every group that shares no territory with one in flight
            in_flight = {int(t) for c in busy.values() for t in groups[c]}
            while not stop and len(busy) < max(1, workers):
                if not queue:
                    if rounds and cost > round_start * (1 - ROUND_GAIN):
                        stop = True  # the last round gained little: larger groups next
                        break
                    queue, round_start = list(order), cost
                    rounds += 1
                    out.rounds += 1
                pick = next((c for c in queue if not in_flight & set(groups[c].tolist())), None)
                if pick is None:
                    break
                queue.remove(pick)
                key = tuple(stamp[groups[pick]].tolist())
                if seen.get(pick) == key:
                    since_gain += 1  # solved before, and none of its territories changed since
                    continue
                seen[pick] = key
                job = pool.submit(_place, problem, backend, groups[pick], assign.copy(),
                                  deadline, seed)  # fmt: skip
                busy[job] = pick
                in_flight |= set(groups[pick].tolist())
            if not busy:
                break
            done, _ = wait(list(busy), return_when=FIRST_COMPLETED)
            for job in done:
                busy.pop(job)
                placed = job.result()
                out.groups += 1
                since_gain += 1
                if placed is None:
                    continue
                trial = assign.copy()
                trial[placed.rows] = placed.to
                trial_cost = problem.plan_cost(trial)
                if trial_cost >= cost * (1 - MIN_GAIN):
                    continue
                trial_missed = exact_violation(problem, trial)
                if trial_missed > missed:
                    # the MIP's answer misses a band by up to its tolerance (seen with whale
                    # accounts): mended, or left, never kept out of band
                    held = hold_exactly(problem, pi, pj, trial)
                    if held is None:
                        out.unheld += 1
                        continue
                    trial, trial_cost, trial_missed = held, problem.plan_cost(held), 0.0
                    if trial_cost >= cost * (1 - MIN_GAIN):
                        continue
                if problem.moved_min_kept is not None or _grouped_bands(problem):
                    # rows shared by groups solved at once (the moved cap, region bands): keep
                    # the answer only if the plan it makes still holds them
                    if band_violation(problem, trial) > band_violation(problem, assign) or (
                        moved_shortfall(problem, trial) > moved_shortfall(problem, assign)
                    ):
                        continue
                changed = trial != assign
                stamp[np.unique(np.r_[assign[changed], trial[changed]])] += 1
                assign, cost, missed = trial, trial_cost, trial_missed
                out.improved += 1
                since_gain = 0
                if on_better is not None:
                    on_better(assign, cost)
    out.assign, out.cost = assign, cost


@dataclass
class _Placed:
    rows: IntArray  # the accounts of the group
    to: IntArray  # their territories in the group's best answer


def _place(
    problem: Problem,
    backend: Backend,
    group: IntArray,
    assign: IntArray,
    deadline: float,
    seed: int,
) -> _Placed | None:
    """The group's accounts placed by a MIP, every other account held (None: no answer)."""
    left = deadline - time.perf_counter()
    rows = np.flatnonzero(np.isin(assign, group))
    if left <= 0 or not len(rows):
        return None
    ii, kk = np.nonzero(problem.eligible_rows(rows)[:, group])
    fixed = assign.copy()
    fixed[rows] = -1
    model, sub = build_model(problem, rows[ii], group[kk], fixed_assign=fixed, integer=True)
    res = backend.solve(
        model,
        time_limit=min(GROUP_BOX_S, left),
        gap=GROUP_GAP,
        seed=seed,
        threads=1,
        start=(sub.pj == assign[sub.pi]).astype(float),
    )
    if res.x is None:
        return None
    chosen = res.x[: sub.n_pair_cols] > 0.5
    to = np.full(problem.n, -1, dtype=np.int64)
    to[sub.pi[chosen]] = sub.pj[chosen]
    if (to[rows] < 0).any():
        return None
    return _Placed(rows, to[rows])


def _grouped_bands(problem: Problem) -> bool:
    """Whether a band spans several territories (region bands)."""
    return any(r.group is not None for r in problem.resources)
