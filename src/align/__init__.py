"""align: exact quota and territory alignment."""

from __future__ import annotations

import os
from pathlib import Path

from ._version import __version__
from .continuity import adjust_run, solve_from
from .engine.common import Progress
from .engine.entry import solve as _solve
from .errors import (
    AlignError,
    ExecutorError,
    InfeasibleError,
    NoSolutionError,
    RunError,
    ScenarioError,
    SettingsError,
    SolverError,
)
from .io import load_scenario, make_scenario
from .metrics import alignment_kpis
from .pockets import WhitespacePockets, find_pockets
from .quotas import (
    Proposal,
    carry_proposal,
    load_proposal,
    override_quotas,
    propose_quotas,
)
from .report import write_report
from .reviewing import Review, review
from .runs import Comparison, Run, compare_runs, load_run
from .scenario import Scenario
from .settings import Settings, list_presets
from .sweeping import Sweep, sweep
from .tracking import Tracking, track


def solve(
    scenario: Scenario | str | os.PathLike[str],
    *,
    overrides: list[str] | dict[str, object] | None = None,
    progress: Progress | None = None,
) -> Run:
    """Solve a scenario: a :class:`Scenario` or the path of a scenario folder (read with
    :func:`load_scenario`, ``overrides`` as ``--set``). See :func:`align.engine.entry.solve`.

    Raises
    ------
    ScenarioError
        When the folder is invalid, ``scenario`` is neither a Scenario nor a path, or
        ``overrides`` come with a Scenario (already resolved: use ``load_scenario(path,
        overrides=...)``).
    """
    if isinstance(scenario, str | os.PathLike):
        scenario = load_scenario(Path(scenario), overrides=overrides)
    elif not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"align.solve: expected a Scenario or a scenario folder, got "
            f"{type(scenario).__name__}; e.g. align.solve('data/samples')"
        )
    elif overrides:
        raise ScenarioError(
            "align.solve: overrides apply when reading a folder; the Scenario's settings are "
            "resolved already (use load_scenario(path, overrides=...))"
        )
    return _solve(scenario, progress=progress)


__all__ = [
    "AlignError",
    "Comparison",
    "ExecutorError",
    "InfeasibleError",
    "NoSolutionError",
    "Proposal",
    "Review",
    "Run",
    "RunError",
    "Scenario",
    "ScenarioError",
    "Settings",
    "SettingsError",
    "SolverError",
    "Sweep",
    "Tracking",
    "WhitespacePockets",
    "__version__",
    "adjust_run",
    "alignment_kpis",
    "carry_proposal",
    "compare_runs",
    "find_pockets",
    "list_presets",
    "load_proposal",
    "load_run",
    "load_scenario",
    "make_scenario",
    "override_quotas",
    "propose_quotas",
    "review",
    "solve",
    "solve_from",
    "sweep",
    "track",
    "write_report",
]
