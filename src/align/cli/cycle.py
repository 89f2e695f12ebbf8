"""Commands of the planning cycle: trend review and progress tracking."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from ..io import load_scenario
from ..reviewing import review as review_trends
from ..tracking import MIN_COVERAGE, PACE_THRESHOLD
from ..tracking import track as track_progress
from .common import (
    MapOption,
    SetOption,
    app,
    out,
    percent,
    show,
)

# --- planning cycle: trend review and progress tracking -------------------------------------


@app.command()
def review(
    scenario: Annotated[Path, typer.Argument(help="scenario folder with revenue history")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="folder to write")],
    top_share: Annotated[
        float, typer.Option(help="share of accounts counted as top customers")
    ] = 0.10,
    set_: SetOption = None,
    map_: MapOption = None,
) -> None:
    """Review revenue trends: growth, concentration, top customers, whitespace."""
    sc = load_scenario(scenario, overrides=set_, columns=map_)
    result = review_trends(sc, top_share=top_share)
    files = result.write(out_dir)
    out.print(result.markdown().split("\n## ")[0].strip())
    out.print(f"wrote {out_dir}/ ({', '.join(p.name for p in files)})")


@app.command()
def track(
    proposal: Annotated[
        Path, typer.Argument(help="quota proposal folder (quotas.csv, proposal.json)")
    ],
    actuals: Annotated[Path, typer.Option("--actuals", help="bookings: account_id, date, amount")],
    as_of: Annotated[
        str, typer.Option("--as-of", help="count bookings up to this date, YYYY-MM-DD")
    ],
    pipeline: Annotated[
        Path | None,
        typer.Option("--pipeline", help="open deals: account_id, stage, amount, close_date"),
    ] = None,
    year_start: Annotated[
        str | None,
        typer.Option("--year-start", help="first day of the plan year (default: Jan 1 of --as-of)"),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="folder to write (default PROPOSAL/tracking-AS_OF)"),
    ] = None,
    pace_threshold: Annotated[
        float, typer.Option(help="at risk below this pace (bookings / expected to date)")
    ] = PACE_THRESHOLD,
    min_coverage: Annotated[
        float, typer.Option(help="... and pipeline below this multiple of the remaining quota")
    ] = MIN_COVERAGE,
) -> None:
    """Track bookings against a quota proposal: attainment, pace, gap, pipeline, risk."""
    result = track_progress(
        proposal,
        actuals,
        as_of=as_of,
        pipeline=pipeline,
        year_start=year_start,
        pace_threshold=pace_threshold,
        min_coverage=min_coverage,
    )
    folder = out_dir or proposal / f"tracking-{result.as_of:%Y-%m-%d}"
    files = result.write(folder)
    total = result.regions.iloc[-1]
    out.print(
        f"as of {result.as_of:%Y-%m-%d}: bookings {show(total['bookings'])} of quota "
        f"{show(total['quota'])} ({percent(total['attainment'])}), pace {percent(total['pace'])}, "
        f"projected {show(total['projected'])}; {int(total['at_risk'])} of "
        f"{int(total['territories'])} territories at risk"
    )
    for r in result.regions.to_dict("records"):
        cover = f" ({r['coverage']:.2f}x)" if math.isfinite(r.get("coverage", math.nan)) else ""
        pipe = f", pipeline {show(r['pipeline'])}{cover}" if "pipeline" in r else ""
        out.print(
            f"{r['region']}: {r['territories']} territories, quota {show(r['quota'])}, bookings "
            f"{show(r['bookings'])} ({percent(r['attainment'])}), pace {percent(r['pace'])}, "
            f"projected {show(r['projected'])}, gap {show(r['gap'])}{pipe}, {r['at_risk']} at risk"
        )
    for row in result.at_risk.itertuples(index=False):
        out.print(f"at risk: {row.territory_id} ({row.region}): {row.risk}")
    for row in result.unknown.itertuples(index=False):
        out.print(
            f"not in the plan: {row.account_id} ({row.source}): {row.rows} rows, {show(row.amount)}"
        )
    for label, info in result.ignored.items():
        out.print(f"not counted: {label}: {int(info['rows'])} rows, {show(info['amount'])}")
    out.print(f"wrote {folder}/ ({', '.join(p.name for p in files)})")
