"""align sweep: many solves over a grid of settings, and their Pareto front."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from ..status import PLANNED, Status
from ..sweeping import Sweep, parse_vary, short_keys
from ..sweeping import sweep as run_sweep
from ..units import Units
from .common import (
    SetOption,
    app,
    err,
    out,
    show,
)

# --- sweeps -----------------------------------------------------------------------------------


def _executor_spec(option: str | None) -> str:
    """--executor, else ALIGN_DASK_ADDRESS (read here, at the edge), else the local pool."""
    import os

    spec = option or os.environ.get("ALIGN_DASK_ADDRESS", "").strip() or "local"
    if spec != "local" and "://" not in spec:
        spec = "dask://" + spec  # a bare host:port
    return spec


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="scenario folder")],
    vary: Annotated[
        list[str],
        typer.Option(
            "--vary", help="a setting and its values, e.g. --vary objective.disruption=0,0.5,2"
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="sweep folder to write")],
    set_: SetOption = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="local (default) or dask://HOST:PORT; default from ALIGN_DASK_ADDRESS",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="local worker processes (CPUs)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    measures: Annotated[
        str | None,
        typer.Option(
            "--measures",
            help="what the frontier weighs, e.g. potential,moved,travel: balance (the worst "
            "balanced measure), moved, travel, distance or a balanced column "
            "(default balance,moved,travel)",
        ),
    ] = None,
) -> None:
    """Solve every combination of the varied settings and find the Pareto frontier.

    Writes SWEEP/runs/<point>/ (ordinary run folders), sweep.csv, frontier.csv, frontier.png and
    sweep.json. Exit 0 when some point has a plan, 3 when every point is infeasible, 4 when no
    point found a plan otherwise, 130 when interrupted (finished points are written).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    grid = parse_vary(vary)
    live = not quiet and sys.stderr.isatty()
    bar = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not live,
    )
    with bar:
        task = bar.add_task("solving", total=math.prod(len(v) for v in grid.values()))

        def progress(done: int, total: int, row: dict[str, object]) -> None:
            bar.update(task, completed=done, description=f"{row['point']}: {row['status']}")

        result = run_sweep(
            scenario,
            grid,
            executor=_executor_spec(executor),
            workers=workers,
            out=out_dir,
            progress=progress,
            overrides=set_,
            measures=measures,
        )
    t = result.table
    plans = int(t["status"].isin(PLANNED).sum())
    if not quiet:
        shown = {("moved" if m == "disruption" else m): c for m, c in result.measures.items()}
        out.print(_sweep_table(result, list(grid), shown))
        for _, row in t[t["reason"].astype(bool)].iterrows():
            out.print(f"{str(row['point']).split('_', 1)[0]} {row['status']}: {row['reason']}")
        out.print(
            f"{plans} of {len(t)} points with a plan, {int(t['frontier'].sum())} on the frontier "
            f"of {', '.join(shown)}; "
            f"wrote {out_dir}/ (runs/, sweep.csv, frontier.csv, frontier.png, sweep.json)"
        )
    if result.interrupted:
        err.print(f"interrupted: finished points are written to {out_dir}/", style="bold red")
        raise typer.Exit(130)
    if plans == 0:
        infeasible = bool((t["status"] == Status.INFEASIBLE).all())
        err.print(
            "no point has a plan" + (": the rules admit none" if infeasible else ""),
            style="bold red",
        )
        raise typer.Exit(3 if infeasible else 4)


def _sweep_table(result: Sweep, grid: list[str], shown: dict[str, str]) -> Table:
    """One row per point: its settings, status, objective and the frontier's measures."""
    t = result.table
    table = Table(
        title="Sweep: one row per point (* on the Pareto frontier)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    fixed = ("point", "status", "objective", *shown)
    heads = short_keys(grid, taken=fixed)  # every header once
    units = next((r.units for r in result.runs.values() if r.settings), Units())
    for header in ("point", *heads.values(), "status", "objective", *shown):
        numeric = header in ("objective", *shown)
        table.add_column(
            header,
            justify="right" if numeric else "left",
            no_wrap=True,
            min_width={"status": 10, "moved": 6}.get(header, min(len(header), 10)),
        )
    for _, row in t.iterrows():
        cells = [("* " if row["frontier"] else "  ") + str(row["point"]).split("_", 1)[0]]
        cells += [str(row[k]) for k in grid] + [str(row["status"])]
        cells.append(show(row["objective"]))
        for c in shown.values():
            kind = "num" if c == "travel" else "dist" if "distance" in c else "pct"
            cells.append(units.format(row[c], kind))
        table.add_row(*cells)
    return table
