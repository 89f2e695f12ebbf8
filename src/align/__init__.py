"""align: exact quota and territory alignment."""

from __future__ import annotations

__version__ = "0.1.0"

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
from .model import solve  # noqa: E402
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
