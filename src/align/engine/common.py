"""What the engines share: the progress callback, the clock, and the assembly of a Run (its
assignment and territory tables, KPIs and status) from a plan.

Every engine (:mod:`.fixed`, :mod:`.districts`, :mod:`.greenfield`) imports from here; this
module imports no engine.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..importing import carried_columns
from ..metrics import alignment_kpis, distance_unit, distances_of, far_accounts, territory_table
from ..runs import Run
from ..scenario import Scenario
from ..status import Status
from .backends import Backend, stop_requested
from .formulation import Problem
from .repair import band_violation

Progress = Callable[[str, dict[str, Any]], None]


class Clock:
    """The time limit of a solve: seconds elapsed and left (none once a stop was asked)."""

    def __init__(self, limit: float):
        self.start = time.perf_counter()
        self.limit = limit

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        """Seconds left: none once the watcher asked the solve to stop (Ctrl-C)."""
        if stop_requested():
            return 0.0
        return max(self.limit - self.elapsed(), 0.0)

    def until(self, reserve: float) -> float:
        """The wall-clock time (:func:`time.time`, which a child process shares) at which
        ``reserve`` seconds are left (now, if fewer are)."""
        return time.time() + max(self.left() - reserve, 0.0)

    def boxed(self, seconds: float) -> Clock:
        """A clock of the same start that runs out ``seconds`` from now (or with this one)."""
        box = copy.copy(self)
        box.limit = min(self.limit, self.elapsed() + max(seconds, 0.0))
        return box


def relative_gap(objective: float, bound: float) -> float:
    """The gap of a plan to a bound, relative to the plan (inf without a finite bound)."""
    if not math.isfinite(bound):
        return math.inf
    return max(objective - bound, 0.0) / max(abs(objective), 1e-9)


def make_run(
    scenario: Scenario,
    problem: Problem,
    backend: Backend,
    clock: Clock,
    stats: dict[str, Any],
    status: str,
    assign: np.ndarray | None,
    *,
    objective: float | None = None,
    bound: float | None = None,
    reasons: list[str] | None = None,
    message: str = "",
) -> Run:
    """The Run of a solve: ``status`` and ``reasons`` as given without a plan; with a plan
    (``assign``, one territory index per account) its tables and KPIs, and the status
    ``optimal`` or ``feasible`` from the gap between ``objective`` and ``bound``."""
    s = scenario.settings
    t_out = time.perf_counter()
    run = Run(
        status=Status.FEASIBLE if assign is not None else Status(status),  # set below with a plan
        solver=backend.name,
        settings=s.model_copy(deep=True),
        input_hash=scenario.input_hash,
        version=__version__,
        scenario=scenario.name,
        scenario_path=str(scenario.source.resolve()) if scenario.source else "",
        reasons=reasons or [],
        message=message,
        stats=stats,
    )
    kpis: dict[str, dict[str, float]] = {}
    if (scenario.current >= 0).any():
        kpis["before"] = alignment_kpis(scenario, scenario.current)
    if assign is not None:
        assert objective is not None and bound is not None
        bound = min(bound, objective)  # a bound never claims to beat the plan
        gap = relative_gap(objective, bound)
        run.status = Status.OPTIMAL if gap <= s.solver.gap + 1e-12 else Status.FEASIBLE
        run.objective, run.bound, run.gap = objective, bound, gap
        after = alignment_kpis(scenario, assign)
        kpis["after"] = after
        run.terms = {"TRAVEL": after["travel"], "MOVED": after["disruption"]}
        run.assignments = assignment_table(scenario, assign)
        far = far_accounts(run.assignments, unit=distance_unit(scenario))
        if far is not None:
            stats["far_accounts"] = far  # a warning for solve output, report and service
        run.territories = territory_table(scenario, assign)
        run.account_shapes = scenario.shapes
        stats["max_band_violation"] = band_violation(problem, assign)
    elif bound is not None and math.isfinite(bound):
        run.bound = bound
    run.kpis = kpis
    stats.setdefault("phases", {})["output"] = round(time.perf_counter() - t_out, 4)  # KPIs, tables
    run.wall_seconds = clock.elapsed()
    return run


def assignment_table(scenario: Scenario, assign: np.ndarray) -> pd.DataFrame:
    """One row per account: its territory, previous territory, moved, distance, CRM labels."""
    tids = scenario.territory_ids
    cur = scenario.current
    prev = pd.Series(tids[np.maximum(cur, 0)]).where(cur >= 0, None).to_numpy()
    table = pd.DataFrame(
        {
            "account_id": scenario.account_ids,
            "territory_id": tids[assign],
            "previous_territory": prev,
            "moved": (cur >= 0) & (cur != assign),
            "distance": distances_of(scenario, assign),
        }
    )
    labels = carried_columns(scenario.accounts)  # name, city, state, zip of a CRM export
    return table.assign(**{c: scenario.accounts[c].to_numpy() for c in labels})
