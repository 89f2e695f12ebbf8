"""align: exact quota and territory alignment."""

from __future__ import annotations

from ._version import __version__
from .continuity import solve_from
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
from .model import solve
from .pockets import WhitespacePockets, find_pockets
from .quotas import (
    Proposal,
    adjust_run,
    carry_proposal,
    load_proposal,
    override_quotas,
    propose_quotas,
)
from .report import write_report
from .review import Review, review
from .runs import Comparison, Run, compare_runs, load_run
from .scenario import Scenario
from .settings import Settings, list_presets
from .sweep import Sweep, sweep
from .tracking import Tracking, track

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
