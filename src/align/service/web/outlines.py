"""Territory outlines for the map: the accounts' polygons dissolved per territory on the server,
simplified for the screen, as GeoJSON.

A scenario whose accounts are polygons (counties, ZIPs, bricks from accounts.geojson or .gpkg)
gets one feature per territory, the union of its units in the plan as it stands (manual changes
applied). After a hand move the page asks again for the territories the move touched only, so
the outlines follow each change. Scenarios of points keep the hulls the page draws itself.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse

from ..deps import StoreDep
from . import records
from .access import CallerDep
from .plans import ERRORS, _succeeded, working_plan
from .polygons import SHAPES

router = APIRouter(tags=["planning room"])
SIMPLIFY = 1 / 2000  # of the plan's extent (diagonal, degrees): well under a pixel on the map


def dissolved(
    ids: pd.Index, polygons: np.ndarray, where: pd.Series, territories: list[str]
) -> list[dict[str, Any]]:
    """One GeoJSON feature per territory of ``territories`` that has units: the union of its
    polygons (``where``: account id -> territory), simplified; ``parts`` counts its pieces."""
    from ...shapes import dissolve

    owner = where.reindex(ids).astype(str).to_numpy()
    x0, y0, x1, y1 = shapely.total_bounds(polygons)
    tolerance = SIMPLIFY * float(np.hypot(x1 - x0, y1 - y0))
    features = []
    for t in territories:
        mine = polygons[owner == t]
        if not len(mine):
            continue
        shape = shapely.simplify(dissolve(mine), tolerance, preserve_topology=True)
        parts = shapely.get_num_geometries(shape) if shape.geom_type == "MultiPolygon" else 1
        features.append(
            {
                "type": "Feature",
                "properties": {"territory_id": t, "units": int(len(mine)), "parts": int(parts)},
                "geometry": json.loads(shapely.to_geojson(shape)),
            }
        )
    return features


@router.get("/runs/{run_id}/outlines", responses=ERRORS)
def outlines(
    run_id: str,
    store: StoreDep,
    who: CallerDep,
    territories: str = Query(
        default="", description="comma-separated territory ids; empty = every territory"
    ),
) -> JSONResponse:
    """The territories of the plan as it stands (manual changes applied), each the union of
    its accounts' polygons, simplified for the map: a GeoJSON FeatureCollection with
    ``territory_id``, ``units`` and ``parts`` (1 = one piece) per feature, and the plan's
    ``version``. 409 when the scenario's accounts are points (the page draws hulls then)."""
    row, assignments = _succeeded(store, run_id, who.owner)
    found = SHAPES.of(store, row.scenario_id, row.owner, row.request.get("effective"))
    if found is None:
        raise HTTPException(
            409,
            f"run {row.id}'s scenario has no polygons (its accounts are points), so its "
            "territories have no dissolved outlines; the map draws hulls",
        )
    changes = list(records.changes(store, row.id))
    where, _ = working_plan(assignments, changes)
    known = list(dict.fromkeys(where.astype(str)))
    asked = [t for t in dict.fromkeys(territories.split(",")) if t] or known
    body = {
        "type": "FeatureCollection",
        "version": records.version_of(changes),
        "features": dissolved(found[0], found[1], where, asked),
    }
    return JSONResponse(body)
