"""Continuity between quarters: solve a scenario from an earlier run's plan, hand moves on a
run (:func:`adjust_run`), and run lineage.

``solve_from(scenario, run)`` takes ``run``'s alignment as today's (the disruption baseline, the
anchor of locks; see :func:`align.runs.continue_from`), solves, and records ``run`` as the
parent. With ``continuity.mode = "keep"`` (the default) the objective is replaced by a
lexicographic one: first move as little as the rules allow (the sum of
``objective.disruption_measure`` over accounts moved away from ``run``'s plan), then the
shortest travel among those plans. Travel is scaled so that the whole travel difference between
any two plans is worth less than half of the smallest positive move, so no move is ever traded
for travel. ``continuity.mode = "objective"`` keeps the scenario's own objective.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from .engine import solve
from .engine.common import Progress
from .geo import point_distance
from .io import scenario_of
from .runs import Continuation, Run, continue_from
from .scenario import Scenario
from .settings import Settings

CHUNK = 1 << 20  # account-territory distances computed at a time


def keep_objective(scenario: Scenario) -> Scenario:
    """The scenario with the "keep" objective: fewest moves first, then shortest travel.

    The disruption weight becomes 1 and the travel weight ``eps``, where
    ``eps x (sum of w_i (max_j d_ij^p - min_j d_ij^p) over unlocked accounts)`` is half the
    smallest positive disruption measure of an account (travel 0 stays 0).
    """
    s = scenario.settings
    measure = scenario.column(s.objective.disruption_measure)
    positive = measure[measure > 0]
    if len(positive) == 0:
        return scenario
    travel = s.objective.travel
    if travel > 0:
        spread = _travel_spread(scenario)
        if spread > 0:
            travel = 0.5 * float(positive.min()) / spread
    objective = s.objective.model_copy(update={"disruption": 1.0, "travel": travel})
    settings = s.model_copy(update={"objective": objective})
    return replace(scenario, settings=settings)


def _travel_spread(scenario: Scenario) -> float:
    """Upper bound on how much travel can differ between two plans (unlocked accounts only)."""
    s = scenario.settings.objective
    free = np.flatnonzero(~scenario.accounts["locked"].to_numpy(dtype=bool))
    if len(free) == 0:
        return 0.0
    weight = scenario.column(s.travel_weight)
    step = max(CHUNK // max(scenario.n_territories, 1), 1)
    total = 0.0
    for start in range(0, len(free), step):
        rows = free[start : start + step]
        d = scenario.geometry.rows(rows) ** s.distance_power
        total += float((weight[rows] * (d.max(axis=1) - d.min(axis=1))).sum())
    return total


def solve_from(
    scenario: Scenario,
    run: Run,
    *,
    moves: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> Run:
    """Solve ``scenario`` continuing from ``run``'s plan; the new run names ``run`` as parent.

    Accounts ``run`` did not know are placed, accounts it knew that are gone are reported, and
    ``moves`` (account -> territory) are locked to their new territory.
    ``run.stats["continuation"]`` holds the mode, how many accounts kept their baseline
    territory, and the unseen and vanished accounts.
    """
    c = continue_from(scenario, run, moves=moves)
    mode = scenario.settings.continuity.mode
    solved = solve(keep_objective(c.scenario) if mode == "keep" else c.scenario, progress=progress)
    solved.parent = str(run.path.resolve()) if run.path is not None else ""
    solved.stats["continuation"] = continuation_stats(c, solved, mode)
    return solved


def continuation_stats(c: Continuation, solved: Run, mode: str) -> dict[str, object]:
    """What a continued solve did with last quarter's plan."""
    kept = moved = 0
    if solved.assignments is not None:
        a = solved.assignments
        known = ~a["account_id"].astype(str).isin(c.unseen)
        has_base = a["previous_territory"].notna() & known
        same = a["territory_id"].astype(str) == a["previous_territory"].astype(str)
        kept = int((has_base & same).sum())
        moved = int((has_base & ~same).sum())
    return {
        "mode": mode,
        "kept": kept,
        "moved": moved,
        "unseen": c.unseen,
        "vanished": c.vanished,
        "hand_moves": c.moved,
    }


def lineage(run: str | Path) -> list[Path]:
    """The run folder and its ancestors, following ``parent`` while the folders exist."""
    chain = [Path(run)]
    seen = {Path(run).resolve()}
    parent = _parent_of(Path(run))
    while parent is not None and parent.resolve() not in seen:
        chain.append(parent)  # a parent that is gone is shown, not followed
        seen.add(parent.resolve())
        parent = _parent_of(parent)
    return chain


def _parent_of(folder: Path) -> Path | None:
    try:
        summary = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return None
    parent = summary.get("parent") if isinstance(summary, dict) else None
    return Path(parent) if isinstance(parent, str) and parent else None


def adjust_run(run: Run, moves: Mapping[str, str], *, scenario: Scenario | None = None) -> Run:
    """Move accounts by hand and re-solve: the moved accounts are locked to their new territory
    and the rest changes as little as possible against ``run``.

    The run's own settings are kept, with a disruption term that outweighs any travel a move
    could save: the disruption measure is the travel weight column (``accounts`` when travel is
    unweighted) and ``objective.disruption`` is twice the largest possible distance (to the
    power ``distance_power``) times ``objective.travel``. Balance bands and caps still hold, so
    accounts move only where the hand moves force it.
    """
    scenario = scenario_of(run, scenario)
    settings = Settings.model_validate(run.settings) if run.settings else scenario.settings
    obj = settings.objective
    measure = obj.travel_weight if obj.travel_weight != "none" else "accounts"
    span = _max_distance(scenario)
    weight = max(2.0 * span**obj.distance_power * max(obj.travel, 1e-9), 1.0)
    settings = settings.model_copy(
        update={
            "objective": obj.model_copy(
                update={"disruption": weight, "disruption_measure": measure}
            )
        }
    )
    cont = continue_from(dataclasses.replace(scenario, settings=settings), run, moves=moves)
    new = solve(cont.scenario)
    new.parent = str(Path(run.path).resolve()) if run.path else ""
    return new


def _max_distance(scenario: Scenario) -> float:
    """An upper bound on any account-territory distance (given distances or the bounding box)."""
    far = 0.0
    if scenario.distances is not None and len(scenario.distances):
        far = float(scenario.distances["distance"].max())
    kind = scenario.coord_kind
    if kind is not None:
        cols = ["lat", "lon"] if kind == "latlon" else ["x", "y"]
        pts = [scenario.accounts[cols].to_numpy(dtype=float)]
        if all(c in scenario.territories for c in cols):
            pts.append(scenario.territories[cols].dropna().to_numpy(dtype=float))
        allp = np.vstack(pts)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        far = max(far, float(point_distance(kind, lo[None, :], hi[None, :])[0]))
        if kind == "latlon":
            far = max(far, float(point_distance(kind, np.array([[lo[0], hi[1]]]),
                                                np.array([[hi[0], lo[1]]]))[0]))  # fmt: skip
    return far
