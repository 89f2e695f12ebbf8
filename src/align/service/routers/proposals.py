"""Quota proposals on a succeeded run's plan: propose, list, read, hold quotas (the next
version), the tables as JSON or CSV, and the leaders' workbook."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse, Response

from ...errors import ScenarioError
from ...quotas import DIFF_COLUMNS, Proposal, override_quotas, propose_quotas
from ...quotas.workbook import territory_labels, write_workbook
from ...scenario import Scenario
from ...settings import _parse_overrides, deep_merge
from ...status import Status
from ...units import Units
from .. import formats
from ..deps import (
    ID,
    QUOTA_SETTINGS,
    Limit,
    Offset,
    Owner,
    StoreDep,
    TableFormat,
    proposal_row,
    run_row,
)
from ..results import as_run
from ..scenarios import load_scenario
from ..schemas import OverridesIn, Problem, ProposalList, ProposalOut, QuotasIn
from ..states import ACTIVE, RunState
from ..store import ProposalRow, RunRow, Store, clean_json, new_id, now
from ..views import proposal_info, proposal_out

router = APIRouter(tags=["quotas"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
}


def plan_or_409(row: RunRow) -> None:
    if row.status == RunState.SUCCEEDED:
        return
    if row.status in ACTIVE:
        raise HTTPException(
            409, f"run {row.id} is {row.status}; propose quotas once it has succeeded"
        )
    why = f" ({row.reason})" if row.reason else ""
    raise HTTPException(
        409, f"run {row.id} has {row.status}{why}; quotas are proposed on a succeeded run's plan"
    )


def quotas_or_409(row: ProposalRow) -> None:
    if row.status != Status.OPTIMAL:
        raise HTTPException(
            409,
            f"proposal {row.id} is {row.status}; it holds no quotas (see its reasons); propose "
            "again with another goal or settings",
        )


def quota_scenario(
    store: Store, row: RunRow, effective: dict[str, Any], problems: list[str]
) -> Scenario:
    """The run's scenario with the run's settings and the proposal's (422 with every problem
    of both)."""
    scenario_row = store.scenario(row.scenario_id, row.owner)
    assert scenario_row is not None  # a run's scenario is never deleted
    return load_scenario(store, scenario_row, effective, label=QUOTA_SETTINGS, problems=problems)


def new_proposal(
    proposal: Proposal, owner: str, run_id: str, parent_id: str | None, request: dict[str, Any]
) -> ProposalRow:
    data = clean_json(proposal.to_dict())
    detail = ("periods", "components", "objective", "reasons", "message")
    return ProposalRow(
        id=new_id(),
        owner=owner,
        run_id=run_id,
        parent_id=parent_id,
        version=proposal.version,
        status=proposal.status,
        goal=proposal.goal,
        request=clean_json(request),
        settings=data["settings"],
        region_goals=data["region_goals"],
        overrides=data["overrides"],
        kpis=data["kpis"],
        quotas=data["quotas"],
        regions=data["regions"],
        diff=data["diff"],
        detail={k: data[k] for k in detail},
        created_at=now(),
    )


def created(store: Store, row: ProposalRow) -> JSONResponse:
    store.add_proposal(row)
    out = proposal_out(row)
    return JSONResponse(out.model_dump(mode="json"), 201, headers={"Location": out.url})


def library_proposal(row: ProposalRow) -> Proposal:
    """A stored version as the library's :class:`Proposal` (run and parent: the service ids)."""
    data = {
        **row.detail,
        "status": row.status,
        "goal": row.goal,
        "settings": row.settings,
        "region_goals": row.region_goals,
        "overrides": row.overrides,
        "kpis": row.kpis,
        "version": row.version,
        "run": row.run_id,
        "parent": row.parent_id,
        "quotas": row.quotas,
        "regions": row.regions,
        "diff": row.diff,
    }
    return Proposal.from_dict(data)


def workbook_context(store: Store, row: ProposalRow) -> tuple[pd.DataFrame | None, Units]:
    """Territory names and reps (the scenario's territories.csv) and the run's units."""
    run = store.run(row.run_id)
    if run is None:
        return None, Units()
    units = Units.of((run.summary or {}).get("settings") or {})
    raw = store.scenario_files(run.scenario_id).get("territories.csv")
    return (territory_labels(io.BytesIO(raw)) if raw is not None else None), units


@router.post("/runs/{run_id}/quotas", status_code=201, responses=ANSWERS)
def propose(run_id: str, body: QuotasIn, store: StoreDep, owner: Owner) -> JSONResponse:
    """Propose quotas on a succeeded run's plan (as ``align quotas RUN --goal``), solved
    now; 201 with the proposal, version 1. Its status is ``optimal`` with the quotas, or
    ``infeasible`` with the reasons (an impossible goal, say)."""
    row = run_row(store, run_id, owner)
    plan_or_409(row)
    dotted, problems = _parse_overrides(body.overrides)
    problems = [p.replace("--set ", f"{QUOTA_SETTINGS}: override ", 1) for p in problems]
    given = {"quota": body.settings} if body.settings is not None else {}
    effective = deep_merge(deep_merge(row.request.get("effective") or {}, given), dotted)
    scenario = quota_scenario(store, row, effective, problems)
    if scenario.settings.quota.region_goals and body.region_goals is None:
        raise ScenarioError(
            f"{QUOTA_SETTINGS}: quota.region_goals names a file "
            f"({scenario.settings.quota.region_goals!r}), which the service does not hold; "
            "send the goals as region_goals in the request body"
        )
    proposal = propose_quotas(
        as_run(store, row.id, owner),
        goal=body.goal,
        region_goals=body.region_goals,
        scenario=scenario,
    )
    request = {**body.model_dump(), "effective": effective}
    return created(store, new_proposal(proposal, owner, row.id, None, request))


@router.get("/proposals")
def list_proposals(
    store: StoreDep,
    owner: Owner,
    run: Annotated[str | None, Query(description="a run id")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ProposalList:
    """Your proposals (every version), oldest first; of one run when asked."""
    if run is not None and not ID.fullmatch(run):
        return ProposalList(proposals=[])
    rows = store.proposals(owner, run_id=run, limit=limit, offset=offset)
    return ProposalList(proposals=[proposal_info(r) for r in rows])


@router.get("/proposals/{proposal_id}", responses={404: {"model": Problem}})
def get_proposal(proposal_id: str, store: StoreDep, owner: Owner) -> ProposalOut:
    """One version: status, goal, settings, overrides, KPIs, the quotas (with rationale
    and negotiation range), the region roll-up and, from version 2, the diff."""
    return proposal_out(proposal_row(store, proposal_id, owner))


def _table_route(table: str) -> None:
    what = {
        "quotas": "one row per territory (quotas.csv)",
        "regions": "the region roll-up with a total line (regions.csv)",
        "diff": "changes against the previous version (diff.csv; empty for version 1)",
    }[table]

    def read(
        proposal_id: str, store: StoreDep, owner: Owner, format: TableFormat = "json"
    ) -> Response:
        row = proposal_row(store, proposal_id, owner)
        quotas_or_409(row)
        frame = getattr(library_proposal(row), table)
        if frame is None:
            frame = pd.DataFrame(columns=DIFF_COLUMNS)
        return formats.respond(frame, format, lambda: None, table)

    read.__doc__ = f"The proposal's {what}: ``?format=json`` (rows) or ``csv``."
    router.get(
        f"/proposals/{{proposal_id}}/{table}",
        name=f"proposal_{table}",
        operation_id=f"proposal_{table}",
        responses={404: {"model": Problem}, 409: {"model": Problem}},
    )(read)


for _table in ("quotas", "regions", "diff"):
    _table_route(_table)


@router.post("/proposals/{proposal_id}/overrides", status_code=201, responses=ANSWERS)
def override(proposal_id: str, body: OverridesIn, store: StoreDep, owner: Owner) -> JSONResponse:
    """Hold quotas and rebalance the rest (as ``align quotas PROPOSAL --override``): 201
    with the next version and its diff. Each quota must lie in its negotiation range."""
    previous = proposal_row(store, proposal_id, owner)
    quotas_or_409(previous)
    if not body.quotas:
        raise ScenarioError('give at least one quota to hold, e.g. {"quotas": {"T07": 1250000}}')
    if isinstance(body.reason, dict):
        odd = sorted(set(body.reason) - set(body.quotas))
        if odd:
            raise ScenarioError(
                f"reason given for {', '.join(odd)}: not among the quotas held; give one "
                "reason for all, or one per territory of quotas"
            )
    row = run_row(store, previous.run_id, owner)
    effective = dict(previous.request.get("effective") or {})
    scenario = quota_scenario(store, row, effective, [])
    proposal = override_quotas(
        library_proposal(previous),
        body.quotas,
        reason=body.reason,
        run=as_run(store, row.id, owner),
        scenario=scenario,
    )
    request = {**body.model_dump(), "effective": effective}
    return created(store, new_proposal(proposal, owner, row.id, previous.id, request))


@router.get(
    "/proposals/{proposal_id}/xlsx",
    response_class=Response,
    responses={
        200: {"content": {XLSX: {}}, "description": "proposal.xlsx"},
        404: {"model": Problem},
        409: {"model": Problem},
    },
)
def workbook(proposal_id: str, store: StoreDep, owner: Owner) -> Response:
    """The leaders' workbook (proposal.xlsx): Territories, Regions, Changes, Summary."""
    row = proposal_row(store, proposal_id, owner)
    quotas_or_409(row)
    with tempfile.TemporaryDirectory(prefix="align-xlsx-") as tmp:
        labels, units = workbook_context(store, row)
        content = write_workbook(
            library_proposal(row), Path(tmp) / "proposal.xlsx", labels=labels, units=units
        )
        data = content.read_bytes()
    name = f"proposal-{row.id[:8]}-v{row.version}.xlsx"
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
