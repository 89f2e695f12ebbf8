"""Scenarios: store one (JSON tables or uploaded files), list them, read one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..deps import ConfigDep, Limit, Offset, Owner, StoreDep, scenario_row
from ..scenarios import add_scenario
from ..schemas import Problem, ScenarioIn, ScenarioList, ScenarioOut
from ..uploads import json_scenario, read_upload, release_memory
from ..views import scenario_out

router = APIRouter(tags=["scenarios"])

MULTIPART: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "map": {
            "type": "array",
            "items": {"type": "string"},
            "description": 'HEADER=NAME, e.g. "Account ID=account_id" (as align --map)',
        },
        "accounts": {"type": "string", "description": "the upload to read as accounts.csv"},
        "territories": {
            "type": "string",
            "description": "the upload to read as territories.csv",
        },
    },
    "required": ["files"],
}


@router.post(
    "/scenarios",
    status_code=201,
    responses={422: {"model": Problem}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ScenarioIn.model_json_schema()},
                "multipart/form-data": {"schema": MULTIPART},
            },
        }
    },
)
async def create_scenario(
    request: Request, owner: Owner, store: StoreDep, config: ConfigDep
) -> JSONResponse:
    """Store a validated scenario: its tables as JSON, or its files uploaded (multipart,
    field ``files``, named as in a scenario folder). Invalid input is 422 with every problem,
    worded as by ``align validate``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        name, files = await read_upload(request)
    elif kind in ("application/json", ""):
        raw = await request.body()
        name, files = await run_in_threadpool(json_scenario, raw, config)
    else:
        raise HTTPException(415, "send application/json or multipart/form-data")
    names = list(files)
    try:
        row, notes = await run_in_threadpool(add_scenario, store, owner, name, files, config)
    finally:
        del files
        await run_in_threadpool(release_memory)
    out = scenario_out(row, names).model_copy(update={"notes": notes})
    return JSONResponse(out.model_dump(mode="json"), 201, headers={"Location": out.url})


@router.get("/scenarios")
def list_scenarios(
    store: StoreDep, owner: Owner, limit: Limit = 100, offset: Offset = 0
) -> ScenarioList:
    """Your scenarios, oldest first."""
    rows = store.scenarios(owner, limit=limit, offset=offset)
    return ScenarioList(scenarios=[scenario_out(r) for r in rows])


@router.get("/scenarios/{scenario_id}", responses={404: {"model": Problem}})
def get_scenario(scenario_id: str, store: StoreDep, owner: Owner) -> ScenarioOut:
    """One scenario: sizes, settings as resolved, its files."""
    row = scenario_row(store, scenario_id, owner)
    return scenario_out(row, sorted(store.scenario_files(row.id)))
