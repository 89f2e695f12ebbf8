"""A plan first: Lagrangian rounding with repair and local search, made beside the main path
(in a thread: HiGHS releases the GIL) so that a solve stopped before the LP's plan still returns
one, and what a solve of one problem ended with."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import Clock, Progress
from .formulation import Problem
from .repair import PRICE_INNER, SLACK_TOL, local_search, priced_plan
from .transfer import TRANSFER_FIRST, cap_is_tight, shared_transfer_plan, transfer_plan

FIRST_PLAN_BACKGROUND_SHARE = 1.0  # the background first plan works at most this share
FIRST_PLAN_GRACE_S = 2.0  # ... and this long past a main path that ended without a plan
FIRST_PLAN_INLINE_SHARE = 0.1  # ... and in line (solver.threads = 1) this share


class FirstPlan:
    """A plan by :func:`.repair.priced_plan` (Lagrangian rounding, greedy repair; where that
    gets stuck, its plan mended by :func:`.transfer.transfer_plan`; then local search), made
    in a background thread while the main path runs, or, with ``background=False``
    (``solver.threads = 1``), up front within a small share of the time limit. Under a moved
    cap below ``transfer.TRANSFER_FIRST`` times the least moved share, and where the rounding's
    plan cannot be mended, today's plan mended instead."""

    def __init__(
        self,
        problem: Problem,
        pairs: tuple[np.ndarray, np.ndarray],
        clock: Clock,
        *,
        background: bool,
    ) -> None:
        self.problem, self.pairs, self.clock = problem, pairs, clock
        self.assign: np.ndarray | None = None
        self.seconds = 0.0
        self.held: float | None = None  # seconds until the plan held every rule
        self.method = ""  # how the plan was made: "transfer", "priced" or "priced, mended"
        self._halt = threading.Event()
        share = FIRST_PLAN_BACKGROUND_SHARE if background else FIRST_PLAN_INLINE_SHARE
        self._deadline = (
            time.perf_counter() + share * clock.left() + (FIRST_PLAN_GRACE_S if background else 0.0)
        )
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="align-first-plan", daemon=True)
            self._thread.start()
        else:
            self._run()

    def announcing(self, say: Progress) -> Progress:
        """``say`` that first reports the first plan as the incumbent, once it exists and while
        the main path has reported none (in the main thread: progress need not be thread-safe).
        Once the main path reports a plan of its own, the background work stops (with the plan
        it has, if any): the CPU is the main path's."""
        told = False

        def relay(phase: str, info: dict[str, Any]) -> None:
            nonlocal told
            if phase == "incumbent":
                told = True
                self._halt.set()
            elif not told and self.assign is not None:
                told = True
                objective = self.problem.plan_cost(self.assign)
                say("incumbent", {"objective": objective, "bound": self.floor()})
            say(phase, info)

        return relay

    def floor(self) -> float:
        """Every account at its cheapest eligible territory: a bound of any plan (the candidates
        hold each account's cheapest eligible pair)."""
        problem = self.problem
        pi, pj = self.pairs
        cheapest = np.full(problem.n, np.inf)
        np.minimum.at(cheapest, pi, problem.pair_costs(pi, pj))
        return float(cheapest.sum())

    def _stopped(self) -> bool:
        # the clock may have run out: the grace after the main path gives up is its own limit
        return self._halt.is_set() or time.perf_counter() > self._deadline

    def _run(self) -> None:
        t0 = time.perf_counter()
        pi, pj = self.pairs
        try:
            left = math.inf
            today_first = cap_is_tight(self.problem, TRANSFER_FIRST)
            if today_first:
                # under a moved cap near the least share: today's plan mended by the moves that
                # pay most per unit of the cap (the rounding spends it on moves that barely help)
                plan, left, (pi, pj) = shared_transfer_plan(
                    self.problem, pi, pj, stop=self._stopped
                )
                self.method = "transfer"
            if left > 0 and not self._stopped():
                plan, left, (pi, pj) = self._priced(pi, pj)
            if left > SLACK_TOL and not today_first and not self._stopped():
                # still stuck (large accounts, narrow bands): today's plan mended holds where
                # the rounding's does not
                mended, rest, pairs = shared_transfer_plan(self.problem, pi, pj, stop=self._stopped)
                if rest == 0:
                    plan, left, (pi, pj) = mended, 0.0, pairs
                    self.method = "transfer"
            if left <= SLACK_TOL:
                # the plan holds: announced (and a rescue's) while the local search improves it
                self.assign = plan
                self.held = time.perf_counter() - t0
                plan, _ = local_search(self.problem, pi, pj, plan, stop=self._stopped)
                self.assign = plan
        finally:
            self.seconds = time.perf_counter() - t0

    def _priced(
        self, pi: np.ndarray, pj: np.ndarray
    ) -> tuple[np.ndarray, float, tuple[np.ndarray, np.ndarray]]:
        """The Lagrangian rounding, one band middle after another (``repair.PRICE_INNER``);
        where its single-move repair gets stuck (a one-segment territory short of accounts, a
        band only swaps mend), the rounding's plan mended by shed, fill and swap moves (a
        fraction of a second) before the next middle is tried. Only the best rounding is
        repaired: where that repair sticks, the next ones' did too, and the mending holds
        sooner. Returns the plan, what it violates and the candidate pairs with its own."""
        out, left, pairs = None, math.inf, (pi, pj)
        for share in PRICE_INNER:
            plan, rest = priced_plan(
                self.problem, pi, pj, stop=self._stopped, shares=(share,), repairs=1
            )
            method = "priced"
            if rest > SLACK_TOL and not self._stopped():
                mended, mended_rest, mended_pairs = transfer_plan(
                    self.problem, pi, pj, stop=self._stopped, start=plan
                )
                if mended_rest == 0:
                    plan, rest, method = mended, 0.0, "priced, mended"
            if rest < left:
                out, left, self.method = plan, rest, method
                pairs = mended_pairs if method == "priced, mended" else (pi, pj)
            if left <= SLACK_TOL or self._stopped():
                break
        assert out is not None
        return out, left, pairs

    def stop(self, *, grace: bool = False) -> None:
        """End the background work; with ``grace`` (the main path has no plan), let it finish
        within FIRST_PLAN_GRACE_S more seconds."""
        if self._thread is not None and grace:
            self._thread.join(timeout=FIRST_PLAN_GRACE_S)
        self._halt.set()
        if self._thread is not None:
            self._thread.join()

    def rescue(self, out: Outcome, stats: dict[str, Any], say: Progress) -> Outcome:
        """The first plan in place of a main path that ended without one (time, Ctrl-C)."""
        stats["first_plan"] = {
            "seconds": round(self.seconds, 4),
            "found": self.assign is not None,
            "method": self.method,
            "held_s": None if self.held is None else round(self.held, 4),
        }
        if self.assign is None:
            return out
        problem = self.problem
        floor = self.floor()
        bound = floor if out.bound is None else max(out.bound, floor)
        objective = problem.plan_cost(self.assign)
        stats["first_plan"]["used"] = True
        say("incumbent", {"objective": objective, "bound": bound, "elapsed": self.clock.elapsed()})
        return Outcome("plan", self.assign, objective, min(bound, objective))


@dataclass
class Outcome:
    """What a solve of one problem (the whole, or a restriction of it) ended with."""

    kind: str  # "plan", "infeasible" (proven) or "no_solution"
    assign: np.ndarray | None = None
    objective: float = math.inf  # raw
    bound: float | None = None  # raw
    message: str = ""
    whole: bool = False  # of a restriction: ``assign`` is a plan of the whole problem
