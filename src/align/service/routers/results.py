"""A succeeded run's results: its plan, its territories, and runs compared."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from ...runs import compare_runs, moved_between
from .. import formats
from ..deps import Format, Owner, StoreDep
from ..results import as_run, cached, points, result_table
from ..schemas import Comparison, MovedBetween, Problem

router = APIRouter(tags=["results"])
FOUND_OR_NOT: dict[int | str, dict[str, Any]] = {404: {"model": Problem}, 409: {"model": Problem}}


@router.get("/runs/{run_id}/assignments", responses=FOUND_OR_NOT)
async def assignments(
    run_id: str, request: Request, store: StoreDep, owner: Owner, format: Format = "json"
) -> Response:
    """The plan: account_id, territory_id, previous_territory, moved, distance."""

    def build() -> Response:
        row, frame = result_table(store, run_id, owner, "assignments")
        return formats.respond(frame, format, lambda: points(store, row), "accounts")

    return await cached(request, store, run_id, owner, ("assignments", format), build)


@router.get("/runs/{run_id}/territories", responses=FOUND_OR_NOT)
async def territories(
    run_id: str, request: Request, store: StoreDep, owner: Owner, format: Format = "json"
) -> Response:
    """One row per territory: totals, targets, deviations, mean distance. In GeoJSON each
    territory is the convex hull of its accounts (lat/lon scenarios)."""

    def build() -> Response:
        row, frame = result_table(store, run_id, owner, "territories")

        def hulls() -> dict[str, Any] | None:
            _, plan = result_table(store, run_id, owner, "assignments")
            return formats.hulls(plan, points(store, row))

        return formats.respond(frame, format, hulls, "territories")

    return await cached(request, store, run_id, owner, ("territories", format), build)


@router.get("/compare", responses={**FOUND_OR_NOT, 422: {"model": Problem}})
def compare(
    store: StoreDep,
    owner: Owner,
    runs: Annotated[str, Query(description="two or more run ids, comma-separated")],
    moved: Annotated[int, Query(ge=0, le=100_000, description="moved accounts to list")] = 100,
) -> Comparison:
    """KPIs side by side (one column per run) and the accounts moved between each pair."""
    ids = [r.strip() for r in runs.split(",") if r.strip()]
    if len(ids) < 2:
        raise HTTPException(422, "give two or more run ids: /compare?runs=ID1,ID2")
    loaded = [as_run(store, i, owner) for i in ids]
    tidy = compare_runs(loaded, names=ids)  # one row per run
    table = tidy.drop(columns=[c for c in tidy.columns if str(c).startswith("settings.")]).T
    kpis = {
        str(k): {str(i): formats.plain(v) for i, v in row.items()} for k, row in table.iterrows()
    }
    pairs = []
    for a, b, ia, ib in zip(loaded, loaded[1:], ids, ids[1:], strict=False):
        diff = moved_between(a, b)
        pairs.append(
            MovedBetween(
                a=ia,
                b=ib,
                count=len(diff),
                accounts=formats.records(diff.head(moved)),  # type: ignore[arg-type]
            )
        )
    return Comparison(runs=ids, kpis=kpis, moved=pairs)
