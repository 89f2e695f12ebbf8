"""Opportunity pockets of a scenario (optionally against a run's plan)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from ...pockets import find_pockets
from .. import formats
from ..deps import Owner, StoreDep, run_row, scenario_row
from ..results import as_run
from ..scenarios import load_scenario
from ..schemas import PocketsIn, PocketsOut, Problem

router = APIRouter(tags=["scenarios"])


@router.post(
    "/scenarios/{scenario_id}/pockets",
    responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
)
def pockets(scenario_id: str, body: PocketsIn, store: StoreDep, owner: Owner) -> PocketsOut:
    """Opportunity pockets: dense clusters of whitespace (as ``align pockets``)."""
    row = scenario_row(store, scenario_id, owner)
    plan = as_run(store, body.run, owner) if body.run is not None else None
    if body.run is not None and run_row(store, body.run, owner).scenario_id != row.id:
        raise HTTPException(422, f"run {body.run} is a run of another scenario")
    scenario = load_scenario(store, row, None, label="scenario")
    result = find_pockets(scenario, run=plan, settings=body.settings, by_segment=body.by_segment)
    return PocketsOut(
        settings=result.settings.model_dump(),
        pockets=formats.records(result.pockets),
        members=formats.records(result.members),
        by_segment=None if result.by_segment is None else formats.records(result.by_segment),
    )
