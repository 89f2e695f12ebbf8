"""Progress against a proposal's quotas (bookings to date, pace, pipeline, risk)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter

from ...tracking import proposal_of, track
from .. import formats
from ..deps import Owner, StoreDep, proposal_row
from ..results import result_table
from ..schemas import Problem, TrackingIn, TrackingOut
from .proposals import quotas_or_409

router = APIRouter(tags=["quotas"])


def rows_file(folder: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    """Rows of a table as the CSV file ``align track`` reads (no rows: an empty file)."""
    path = folder / name
    path.write_bytes(formats.rows_csv(name, rows) if rows else b"")
    return path


@router.post(
    "/proposals/{proposal_id}/tracking",
    responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
)
def tracking(proposal_id: str, body: TrackingIn, store: StoreDep, owner: Owner) -> TrackingOut:
    """Progress against the proposal's quotas (as ``align track``): bookings to date, pace,
    projection, gap, pipeline coverage and risk per territory and region, the accounts the
    plan does not know, and a Markdown summary. Nothing is stored."""
    row = proposal_row(store, proposal_id, owner)
    quotas_or_409(row)
    _, plan = result_table(store, row.run_id, owner, "assignments")
    quotas = pd.DataFrame.from_records(row.quotas or [])
    prop = proposal_of(
        quotas, plan, periods=row.detail.get("periods") or [], label=f"proposal {row.id}"
    )
    with tempfile.TemporaryDirectory(prefix="align-tracking-") as tmp:
        pipeline = body.pipeline
        result = track(
            prop,
            rows_file(Path(tmp), "actuals.csv", body.actuals),
            pipeline=None if pipeline is None else rows_file(Path(tmp), "pipeline.csv", pipeline),
            as_of=body.as_of,
            year_start=body.year_start,
            pace_threshold=body.pace_threshold,
            min_coverage=body.min_coverage,
        )
    return TrackingOut(
        as_of=f"{result.as_of:%Y-%m-%d}",
        year_start=f"{result.year_start:%Y-%m-%d}",
        year_end=f"{result.year_end:%Y-%m-%d}",
        territories=formats.records(result.territories),
        regions=formats.records(result.regions),
        unknown=formats.records(result.unknown),
        ignored=result.ignored,
        at_risk=[str(t) for t in result.at_risk["territory_id"]],
        markdown=result.markdown(),
    )
