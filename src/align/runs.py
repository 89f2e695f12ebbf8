"""A run: the record of one solve, and the comparison of runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InfeasibleError, NoSolutionError
from .io import read_run_folder, write_run_folder

STATUSES = ("optimal", "feasible", "infeasible", "no_solution")


@dataclass(eq=False)
class Run:
    """The outcome of one solve. ``status`` is always set; a plan exists when :attr:`has_plan`.

    ``objective`` is the plan's cost in raw units (TRAVEL x travel + MOVED x disruption),
    ``bound`` a proven lower bound on the best possible cost and ``gap`` their relative distance.
    """

    status: str
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    terms: dict[str, float] = field(default_factory=dict)
    solver: str = "highs"
    wall_seconds: float = 0.0
    kpis: dict[str, dict[str, float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    input_hash: str = ""
    version: str = ""
    scenario: str = ""
    reasons: list[str] = field(default_factory=list)
    message: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    assignments: pd.DataFrame | None = None
    territories: pd.DataFrame | None = None
    path: Path | None = None

    @property
    def has_plan(self) -> bool:
        return self.assignments is not None and self.status in ("optimal", "feasible")

    def raise_for_status(self) -> Run:
        """Return the run when it holds a plan; raise InfeasibleError or NoSolutionError if not."""
        if self.status == "infeasible":
            raise InfeasibleError(self.reasons or ["the rules admit no plan"])
        if not self.has_plan:
            raise NoSolutionError(self.message or "no plan was found within the limits")
        return self

    def summary(self) -> dict[str, Any]:
        """The content of run.json."""

        def num(v: float | None) -> float | None:
            return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v

        return {
            "status": self.status,
            "objective": num(self.objective),
            "bound": num(self.bound),
            "gap": num(self.gap),
            "terms": self.terms,
            "solver": self.solver,
            "wall_seconds": round(self.wall_seconds, 4),
            "kpis": self.kpis,
            "settings": self.settings,
            "input_hash": self.input_hash,
            "version": self.version,
            "scenario": self.scenario,
            "reasons": self.reasons,
            "message": self.message,
            "stats": self.stats,
        }

    def write(self, folder: str | Path) -> Path:
        """Write the run folder (run.json, and assignments.csv and territories.csv with a plan)."""
        folder = Path(folder)
        frames: dict[str, pd.DataFrame] = {}
        if self.has_plan:
            assert self.assignments is not None and self.territories is not None
            frames = {"assignments.csv": self.assignments, "territories.csv": self.territories}
        else:
            for stale in ("assignments.csv", "territories.csv"):
                (folder / stale).unlink(missing_ok=True)
        write_run_folder(folder, self.summary(), frames)
        self.path = folder
        return folder


def load_run(path: str | Path) -> Run:
    """Read a run folder written by :meth:`Run.write` (or ``align solve --out``)."""
    summary, assignments, territories = read_run_folder(path)
    keys = set(Run.__dataclass_fields__) - {"assignments", "territories", "path"}
    run = Run(**{k: v for k, v in summary.items() if k in keys})
    run.assignments, run.territories, run.path = assignments, territories, Path(path)
    return run


def compare_runs(runs: list[Run], *, names: list[str] | None = None) -> pd.DataFrame:
    """A KPI table: one row per KPI, one column per run (the plan's KPIs, 'after')."""
    names = names or [str(r.path.name if r.path else f"run{k + 1}") for k, r in enumerate(runs)]
    cols = {}
    for name, run in zip(names, runs, strict=True):
        row: dict[str, Any] = {
            "status": run.status,
            "objective": run.objective,
            "bound": run.bound,
            "gap": run.gap,
            "wall_seconds": run.wall_seconds,
        }
        row.update(run.kpis.get("after", {}))
        cols[name] = row
    return pd.DataFrame(cols)


def moved_between(a: Run, b: Run) -> pd.DataFrame:
    """Accounts whose territory differs between two runs."""
    if a.assignments is None or b.assignments is None:
        return pd.DataFrame(columns=["account_id", "from", "to"])
    left = a.assignments[["account_id", "territory_id"]].rename(columns={"territory_id": "from"})
    right = b.assignments[["account_id", "territory_id"]].rename(columns={"territory_id": "to"})
    both = left.merge(right, on="account_id", how="outer")
    diff = both["from"].fillna("") != both["to"].fillna("")
    return both.loc[diff].reset_index(drop=True)
