"""Quota inputs: the run's territories with their potential, revenue, periods and
components, the region goals, and the constants and number formats every quota module uses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import ScenarioError
from ..runs import Run
from ..scenario import Scenario
from ..settings import QuotaSettings
from ..validation import suggest

FloatArray = NDArray[np.float64]


QUOTA_COLUMNS = [
    "territory_id", "region", "potential", "revenue", "fair_share", "quota", "growth",
    "quota_to_potential", "binding", "min_quota", "max_quota", "reason",
]  # fmt: skip
DIFF_COLUMNS = ["territory_id", "previous_quota", "quota", "change", "reason"]
DEFAULT_REGION = "all"
TIE_WEIGHT = 1e-6
_EPS = 1e-7
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def _money(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def _pct(v: float) -> str:
    return f"{v:+.0%}" if abs(v * 100 - round(v * 100)) < 1e-9 else f"{v:+.1%}"


# ---------------------------------------------------------------------------------------------
# inputs


@dataclass
class _Inputs:
    """What the quota model needs of a run, per territory."""

    ids: list[str]
    region: NDArray[np.object_]
    potential: FloatArray
    revenue: FloatArray
    comp_names: list[str] = field(default_factory=list)
    comp_potential: FloatArray | None = None  # (m, C)
    period_labels: list[str] = field(default_factory=list)
    period_revenue: FloatArray | None = None  # (m, T)
    period_accounts: FloatArray | None = None  # (m,) accounts with period history


def _period_columns(accounts: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, label) of ``revenue_<label>`` period columns, in calendar order."""
    found = [
        (c, c[len("revenue_") :].lower())
        for c in accounts.columns
        if c.startswith("revenue_") and pd.api.types.is_numeric_dtype(accounts[c].dtype)
    ]
    if len(found) < 2:
        return []
    labels = [lab for _, lab in found]

    def key(label: str) -> tuple[int, int, str]:
        if label[:3] in _MONTHS:
            return (0, _MONTHS.index(label[:3]), label)
        m = re.fullmatch(r"[a-z]*?(\d+)", label)
        if m:
            return (1, int(m[1]), label)
        return (2, labels.index(label), label)

    return sorted(found, key=lambda item: key(item[1]))


def _inputs(run: Run, scenario: Scenario, settings: QuotaSettings) -> _Inputs:
    label = f"run {run.path or run.scenario}"
    if not run.has_plan or run.assignments is None:
        raise ScenarioError(
            f"{label}: status {run.status}, it holds no plan; solve the scenario and propose "
            "quotas on a run with a plan"
        )
    ter = scenario.territories
    ids = [str(t) for t in ter["territory_id"]]
    if run.territories is not None and "territory_id" in run.territories:
        run_ids = [str(t) for t in run.territories["territory_id"]]
        if set(run_ids) != set(ids):
            odd = sorted(set(run_ids) ^ set(ids))
            raise ScenarioError(
                f"{label}: its territories differ from the scenario's territories.csv "
                f"({', '.join(odd[:5])}); propose quotas from the scenario the run was solved from"
            )
    acc = scenario.accounts
    plan = run.assignments.set_index(run.assignments["account_id"].astype(str))["territory_id"]
    owner = acc["account_id"].astype(str).map(plan.astype(str))
    j = pd.Index(ids).get_indexer(pd.Index(owner))
    ok = j >= 0
    m = len(ids)

    def per_territory(values: FloatArray) -> FloatArray:
        return np.bincount(j[ok], weights=values[ok], minlength=m).astype(float)

    potential = acc["potential"].to_numpy(dtype=float)
    revenue = acc["revenue"].to_numpy(dtype=float) if "revenue" in acc else np.zeros(len(acc))
    revenue = np.nan_to_num(revenue)
    if "region" in ter:
        region = ter["region"].fillna(DEFAULT_REGION).astype(str).to_numpy(dtype=object)
    else:
        region = np.full(m, DEFAULT_REGION, dtype=object)
    out = _Inputs(ids, region, per_territory(potential), per_territory(revenue))
    comp = settings.components
    if comp.goals:
        if comp.by == "history":
            labels = np.where(revenue > 0, "existing", "new").astype(object)
        elif comp.by in acc:
            named = acc[comp.by].astype(object).where(acc[comp.by].notna(), "(none)")
            labels = named.astype(str).to_numpy(dtype=object)
        else:
            cols = [c for c in acc.columns if not pd.api.types.is_numeric_dtype(acc[c].dtype)]
            raise ScenarioError(
                f"settings key 'quota.components.by': accounts have no column '{comp.by}'"
                f'{suggest(comp.by, cols)}; use "history" (existing/new) or a text column'
            )
        known = sorted(set(labels))
        bad = [c for c in comp.goals if c not in known]
        if bad:
            raise ScenarioError(
                [
                    f"settings key 'quota.components.goals.{c}': no account has component "
                    f"'{c}' (by {comp.by}){suggest(c, known)}; components: {', '.join(known)}"
                    for c in bad
                ]
            )
        out.comp_names = list(comp.goals)
        out.comp_potential = np.column_stack(
            [per_territory(np.where(labels == c, potential, 0.0)) for c in out.comp_names]
        )
    periods = _period_columns(acc)
    if periods:
        values = np.column_stack([np.nan_to_num(acc[c].to_numpy(dtype=float)) for c, _ in periods])
        out.period_labels = [lab for _, lab in periods]
        out.period_revenue = np.column_stack(
            [per_territory(values[:, t]) for t in range(values.shape[1])]
        )
        out.period_accounts = per_territory((values.sum(axis=1) > 0).astype(float))
    return out


def _read_region_goals(
    region_goals: Mapping[str, float] | str | Path | None,
    settings: QuotaSettings,
    scenario: Scenario,
) -> dict[str, float]:
    if region_goals is None and settings.region_goals:
        base = scenario.source or Path(".")
        region_goals = Path(base) / settings.region_goals
    if region_goals is None:
        return {}
    if isinstance(region_goals, Mapping):
        return {str(k): float(v) for k, v in region_goals.items()}
    path = Path(region_goals)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such region goals file (columns region, goal)")
    frame = pd.read_csv(path, dtype={"region": str})
    frame.columns = [str(c).strip() for c in frame.columns]
    if not {"region", "goal"} <= set(frame.columns):
        raise ScenarioError(
            f"{path.name}: needs the columns region, goal (got {', '.join(frame.columns)})"
        )
    goals = pd.to_numeric(frame["goal"], errors="coerce")
    bad = [f"{path.name} row {k + 2}: goal must be a number (got {frame['goal'][k]!r})"
           for k in np.flatnonzero(goals.isna().to_numpy())]  # fmt: skip
    dup = frame["region"][frame["region"].duplicated()].tolist()
    bad += [f"{path.name}: region '{r}' appears more than once" for r in dup]
    if bad:
        raise ScenarioError(bad)
    return dict(zip(frame["region"].astype(str), goals.astype(float), strict=True))
