"""Runs: queue a solve of a scenario, list runs, read one, cancel one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from ..deps import (
    ID,
    RUN_SETTINGS,
    ConfigDep,
    Limit,
    Offset,
    Owner,
    StoreDep,
    run_row,
    scenario_row,
)
from ..scenarios import check_run_limits, load_scenario, run_overrides
from ..schemas import Problem, RunCreated, RunIn, RunList, RunOut
from ..states import RunState
from ..store import RunRow, new_id, now
from ..views import run_out

router = APIRouter(tags=["runs"])


@router.post(
    "/scenarios/{scenario_id}/runs",
    status_code=202,
    responses={404: {"model": Problem}, 422: {"model": Problem}},
)
def create_run(
    scenario_id: str,
    body: RunIn,
    request: Request,
    store: StoreDep,
    owner: Owner,
    config: ConfigDep,
) -> JSONResponse:
    """Queue a solve of the scenario; 202 with the run's id and URL. Settings are checked
    now (422 with every problem); the solve happens in a worker process."""
    row = scenario_row(store, scenario_id, owner)
    active = store.active_runs(owner)
    if active >= config.max_active_runs:
        raise HTTPException(
            429,
            f"{active} runs of this key are queued or running, the limit "
            "(ALIGN_MAX_ACTIVE_RUNS); wait for one to finish or cancel one",
            headers={"Retry-After": "10"},
        )
    effective, problems = run_overrides(body)
    scenario = load_scenario(store, row, effective, label=RUN_SETTINGS, problems=problems)
    check_run_limits(scenario, config)
    run = store.add_run(
        RunRow(
            id=new_id(),
            scenario_id=row.id,
            owner=owner,
            status=RunState.QUEUED,
            progress=0.0,
            phase="queued",
            request={**body.model_dump(), "effective": effective},
            time_limit_s=scenario.settings.solver.time_limit_s,
            attempts=0,
            created_at=now(),
        )
    )
    request.app.state.pool.wake()
    url = f"/runs/{run.id}"
    created = RunCreated(id=run.id, status=RunState(run.status), url=url)
    return JSONResponse(created.model_dump(), 202, headers={"Location": url})


@router.get("/runs")
def list_runs(
    store: StoreDep,
    owner: Owner,
    scenario: Annotated[str | None, Query(description="a scenario id")] = None,
    status: RunState | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> RunList:
    """Your runs, oldest first; of one scenario and in one status when asked."""
    if scenario is not None and not ID.fullmatch(scenario):
        return RunList(runs=[])  # no scenario has such an id
    rows = store.runs(owner, scenario_id=scenario, status=status, limit=limit, offset=offset)
    return RunList(runs=[run_out(r) for r in rows])


@router.get("/runs/{run_id}", responses={404: {"model": Problem}})
def get_run(run_id: str, store: StoreDep, owner: Owner) -> RunOut:
    """Status, progress, and when solved: objective, bound, gap and KPIs."""
    return run_out(run_row(store, run_id, owner))


@router.delete("/runs/{run_id}", responses={404: {"model": Problem}, 409: {"model": Problem}})
def cancel_run(run_id: str, request: Request, store: StoreDep, owner: Owner) -> RunOut:
    """Cancel a queued or running run (its solver process is stopped)."""
    row = run_row(store, run_id, owner)
    if not store.cancel(row.id):
        row = run_row(store, run_id, owner)
        raise HTTPException(
            409, f"run {row.id} has already {row.status}; only queued or running runs cancel"
        )
    request.app.state.pool.wake()
    return run_out(run_row(store, run_id, owner))
