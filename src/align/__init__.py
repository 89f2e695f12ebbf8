"""align: exact quota and territory alignment."""

from __future__ import annotations

__version__ = "0.1.0"

import os  # noqa: E402
from pathlib import Path  # noqa: E402

from .continuity import solve_from  # noqa: E402
from .errors import (  # noqa: E402
    AlignError,
    ExecutorError,
    InfeasibleError,
    NoSolutionError,
    RunError,
    ScenarioError,
    SettingsError,
    SolverError,
)
from .io import load_scenario, make_scenario  # noqa: E402
from .metrics import alignment_kpis  # noqa: E402
from .model.solve import Progress  # noqa: E402
from .model.solve import solve as _solve  # noqa: E402
from .pockets import WhitespacePockets, find_pockets  # noqa: E402
from .quotas import (  # noqa: E402
    Proposal,
    adjust_run,
    carry_proposal,
    load_proposal,
    override_quotas,
    propose_quotas,
)
from .report import write_report  # noqa: E402
from .review import Review, review  # noqa: E402
from .runs import Comparison, Run, compare_runs, load_run  # noqa: E402
from .scenario import Scenario  # noqa: E402
from .settings import Settings, list_presets  # noqa: E402
from .sweep import Sweep, sweep  # noqa: E402
from .tracking import Tracking, track  # noqa: E402


def solve(
    scenario: Scenario | str | os.PathLike[str],
    *,
    overrides: list[str] | dict[str, object] | None = None,
    progress: Progress | None = None,
) -> Run:
    """Solve a scenario: a :class:`Scenario` or the path of a scenario folder (read with
    :func:`load_scenario`, ``overrides`` as ``--set``). See :func:`align.model.solve`.

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
