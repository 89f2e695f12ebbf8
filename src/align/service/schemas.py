"""Request and response bodies of the service (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..status import Status
from .states import RunState

Row = dict[str, Any]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN is no quota or goal


class ScenarioIn(_In):
    """A scenario as JSON: each table a list of rows (objects keyed by column, as in the CSV
    files). Problems are reported as for the files: the first row of a table is row 2."""

    name: str = Field(default="scenario", min_length=1, max_length=200)
    accounts: list[Row] = Field(description="accounts.csv rows: account_id, potential, ...")
    territories: list[Row] | None = Field(default=None, description="territories.csv rows")
    distances: list[Row] | None = Field(default=None, description="from_id, to_id, distance")
    adjacency: list[Row] | None = Field(default=None, description="account_id, neighbor_id")
    settings: dict[str, Any] | None = Field(
        default=None, description="scenario.toml as an object, e.g. {'model': 'balanced'}"
    )


class ScenarioOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    accounts: int
    territories: int
    coordinates: str | None = Field(description="latlon, xy or none (given distances only)")
    input_hash: str
    files: list[str] = []
    settings: dict[str, Any] = Field(description="the scenario's settings, as resolved")
    notes: list[str] = Field(
        default=[], description="on creation: how the files were read (mapped headers, amounts)"
    )
    url: str


class ScenarioList(BaseModel):
    scenarios: list[ScenarioOut]


class RunIn(_In):
    """How to solve: a preset, settings merged over the scenario's, then dotted overrides; and a
    name to find the run by."""

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="a name for the run, e.g. 'FY27 balanced +-5%' (no control characters)",
    )

    preset: str | None = Field(default=None, description="a preset from GET /models")
    settings: dict[str, Any] | None = Field(
        default=None, description="nested settings, e.g. {'solver': {'time_limit_s': 10}}"
    )
    overrides: list[str] = Field(
        default=[], description="dotted key=value items, as align solve --set"
    )


class RunCreated(BaseModel):
    id: str
    status: RunState
    url: str


class RunOut(BaseModel):
    id: str
    scenario_id: str
    name: str | None = Field(default=None, description="the run's name, when it was given one")
    status: RunState
    progress: float = Field(description="0 to 1")
    phase: str | None
    reason: str | None = Field(description="why the run failed or was cancelled")
    solver_status: Status | None = Field(description="optimal, feasible, infeasible, no_solution")
    objective: float | None
    bound: float | None
    gap: float | None
    kpis: dict[str, Any] | None
    terms: dict[str, Any] | None
    wall_seconds: float | None
    reasons: list[str] = Field(
        default=[], description="infeasible: the smallest single change first, then the others"
    )
    warnings: list[str] = Field(
        default=[], description="e.g. accounts far beyond their territory's typical distance"
    )
    request: dict[str, Any]
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str


class RunList(BaseModel):
    runs: list[RunOut]


class Moved(BaseModel):
    account_id: str
    from_: str | None = Field(alias="from")
    to: str | None

    model_config = ConfigDict(populate_by_name=True)


class MovedBetween(BaseModel):
    a: str
    b: str
    count: int
    accounts: list[Moved]


class Comparison(BaseModel):
    runs: list[str]
    kpis: dict[str, dict[str, Any]] = Field(description="kpi -> run id -> value")
    moved: list[MovedBetween]


class PocketsIn(_In):
    run: str | None = Field(default=None, description="a run whose plan gives the owners")
    settings: dict[str, Any] | None = Field(
        default=None, description="pockets settings, e.g. {'radius_km': 40}"
    )
    by_segment: bool = False


class PocketsOut(BaseModel):
    settings: dict[str, Any]
    pockets: list[Row]
    members: list[Row]
    by_segment: list[Row] | None = None


class QuotasIn(_In):
    """A quota proposal on a run's plan: the company goal, ``[quota]`` settings (an object, then
    dotted overrides as ``align quotas --set``) and optional region goals."""

    goal: float = Field(description="the company goal, a multiple of quota.unit", examples=[4e6])
    settings: dict[str, Any] | None = Field(
        default=None, description="[quota] settings, e.g. {'max_growth': 0.25, 'unit': 1000}"
    )
    overrides: list[str] = Field(
        default=[], description="dotted key=value items, as align quotas --set, e.g. "
        "quota.max_growth=0.25"
    )  # fmt: skip
    region_goals: dict[str, float] | None = Field(
        default=None, description="region -> goal (regions of territories.csv; they sum to goal)"
    )


class OverridesIn(_In):
    """Quotas to hold (the others are rebalanced under the same rules): the next version."""

    quotas: dict[str, float] = Field(
        description="territory_id -> quota held, within its negotiation range",
        examples=[{"T07": 1250000}],
    )
    reason: str | dict[str, str] = Field(
        default="", description="why: one reason for all, or territory_id -> reason"
    )


class ProposalInfo(BaseModel):
    id: str
    run_id: str
    parent_id: str | None = Field(description="the previous version (from version 2)")
    version: int
    status: Status = Field(description="optimal (quotas set), infeasible (reasons), no_solution")
    goal: float
    settings: dict[str, Any] = Field(description="the [quota] settings used")
    region_goals: dict[str, float]
    overrides: list[Row] = Field(description="quotas held: territory_id, quota, reason")
    kpis: dict[str, float | None]
    periods: list[str]
    components: list[str]
    reasons: list[str] = Field(description="why the rules admit no proposal")
    message: str
    created_at: datetime
    url: str


class ProposalOut(ProposalInfo):
    quotas: list[Row] | None = Field(description="one row per territory (quotas.csv)")
    regions: list[Row] | None = Field(description="the region roll-up and a total line")
    diff: list[Row] | None = Field(description="changes against the previous version")


class ProposalList(BaseModel):
    proposals: list[ProposalInfo]


class TrackingIn(_In):
    """Bookings (and open pipeline) against a proposal's quotas, as ``align track``. Problems
    are reported as for the files: the first row of a table is row 2."""

    actuals: list[Row] = Field(description="actuals.csv rows: account_id, date, amount")
    pipeline: list[Row] | None = Field(
        default=None, description="pipeline.csv rows: account_id, stage, amount, close_date"
    )
    as_of: str = Field(description="count bookings to this day (YYYY-MM-DD), inclusive")
    year_start: str | None = Field(
        default=None, description="first day of the plan year; default January 1 of as_of's"
    )
    pace_threshold: float = Field(default=0.9, description="at risk below this pace")
    min_coverage: float = Field(default=1.0, description="... and pipeline coverage below this")


class TrackingOut(BaseModel):
    as_of: str
    year_start: str
    year_end: str = Field(description="the day after the plan year's last day")
    territories: list[Row] = Field(description="quota, expected, bookings, pace, gap, risk ...")
    regions: list[Row] = Field(description="per region and (all)")
    unknown: list[Row] = Field(description="accounts of the actuals or pipeline the plan lacks")
    ignored: dict[str, dict[str, float]] = Field(description="rows not counted, and why")
    at_risk: list[str]
    markdown: str


class Preset(BaseModel):
    name: str
    settings: dict[str, Any]


class Presets(BaseModel):
    models: list[Preset]


class Health(BaseModel):
    status: str
    version: str
    database: str


class Problem(BaseModel):
    detail: str
    problems: list[str] = []
