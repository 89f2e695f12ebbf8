"""Commands on scenarios and runs: validate, solve, compare, pockets, presets, version, map,
adjacency."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .._version import __version__
from ..continuity import lineage, solve_from
from ..engine import solve as solve_scenario
from ..errors import RunError
from ..io import load_scenario
from ..pockets import SUGGEST_TIME_LIMIT_S, find_pockets, suggest_territories
from ..progress import live_progress, steps, stop_on_ctrl_c
from ..runs import check_run_folder, compare_runs, moved_between
from ..settings import list_presets, load_preset
from ..units import Units
from .common import (
    MapOption,
    SetOption,
    app,
    err,
    exit_without_plan,
    format_cell,
    kpi_table,
    out,
    percent,
    print_notes,
    read_run,
    save_run,
    short_path,
    show,
)


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="scenario folder")],
    set_: SetOption = None,
    map_: MapOption = None,
) -> None:
    """Check a scenario folder and report every problem at once."""
    sc = load_scenario(scenario, overrides=set_, columns=map_)
    print_notes(sc.notes)
    balance = ", ".join(f"{k} +-{v.tolerance:.1%}" for k, v in sc.settings.balance.items())
    out.print(
        f"{scenario}: valid. {sc.n_accounts:,} accounts, {sc.n_territories:,} territories; "
        f"balance: {balance or 'none'}; model: {sc.settings.model or 'defaults'}"
    )


@app.command()
def solve(
    scenario: Annotated[Path, typer.Argument(help="scenario folder")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="run folder to write")],
    set_: SetOption = None,
    map_: MapOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    from_run: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="run folder whose plan is today's alignment (last quarter's plan); "
            "continuity.mode keep (default) moves as little as the rules allow",
        ),
    ] = None,
) -> None:
    """Solve a scenario and write the run folder."""
    sc = load_scenario(scenario, overrides=set_, columns=map_)
    if out_dir.resolve() == scenario.resolve():
        raise RunError(
            f"--out {out_dir}: is the scenario folder; write the run to a folder of its own "
            f"(e.g. --out {scenario / 'runs' / 'plan'})"
        )
    check_run_folder(out_dir)  # before the solve, not after it
    if not quiet:
        print_notes(sc.notes)
    live = not quiet and sys.stderr.isatty()
    with live_progress(err, enabled=live) as progress, stop_on_ctrl_c(progress) as stopped:
        if from_run is None:
            run = solve_scenario(sc, progress=progress)
        else:
            run = solve_from(sc, read_run(from_run), progress=progress)
    if stopped.is_set():
        note = f"interrupted (Ctrl-C) after {run.wall_seconds:.1f} s"
        run.message = f"{note}; {run.message}" if run.message else note
        run.stats["interrupted"] = True
    save_run(run, out_dir)
    if stopped.is_set() and run.has_plan:
        err.print(
            f"interrupted (Ctrl-C): kept the best plan found, {run.status} with gap "
            f"{percent(run.gap, 2)} ({out_dir}/run.json)",
            style="yellow",
        )
    exit_without_plan(run, out_dir, "rules")
    if quiet:
        return
    out.print(
        f"{run.status}: objective {show(run.objective)}, bound {show(run.bound)}, "
        f"gap {run.units.pct(run.gap, 2)}, {run.wall_seconds:.2f} s with {run.solver}"
    )
    out.print(kpi_table(run))
    far = run.stats.get("far_accounts")
    if far:
        err.print(f"warning: {far['message']}", style="yellow")
    if from_run is not None:
        c = run.stats["continuation"]
        gone = ", ".join(c["vanished"][:10]) + (" ..." if len(c["vanished"]) > 10 else "")
        out.print(
            f"from {from_run} ({c['mode']}): {c['kept']:,} accounts kept their territory, "
            f"{c['moved']:,} moved, {len(c['unseen']):,} new placed, "
            f"{len(c['vanished']):,} vanished{': ' + gone if gone else ''}"
        )
    out.print(f"wrote {out_dir}/ (assignments.csv, territories.csv, run.json)")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="two or more run folders")],
    moved: Annotated[int, typer.Option(help="moved accounts to list")] = 20,
) -> None:
    """Print the KPIs of runs side by side and the accounts that moved between them."""
    loaded = [read_run(p) for p in runs]
    names = [str(p) for p in runs]
    df = compare_runs(loaded, names=names)
    table = Table(title="KPIs by run", title_justify="left")
    table.add_column("kpi")
    for name in names:
        table.add_column(name, justify="right")
    units = next((r.units for r in loaded if r.settings), Units())
    for key in df.columns:
        table.add_row(str(key), *[format_cell(units, str(key), v) for v in df[key].tolist()])
    out.print(table)
    for path in runs:
        chain = lineage(path)
        if len(chain) > 1:
            out.print("chain: " + " <- ".join(short_path(p) for p in chain))
    for a, b, na, nb in zip(loaded, loaded[1:], names, names[1:], strict=False):
        lacking = [
            f"{n} holds no plan ({r.status})" for r, n in ((a, na), (b, nb)) if not r.has_plan
        ]
        if lacking:
            out.print(f"no accounts compared between {na} and {nb}: {'; '.join(lacking)}")
            continue
        diff = moved_between(a, b)
        out.print(f"{len(diff):,} accounts differ between {na} and {nb}")
        if len(diff) and moved:
            t = Table(show_header=True)
            for c in diff.columns:
                t.add_column(str(c))
            for row in diff.head(moved).itertuples(index=False):
                t.add_row(*[show(v) for v in row])
            out.print(t)
            if len(diff) > moved:
                out.print(f"... and {len(diff) - moved:,} more")


@app.command()
def pockets(
    scenario: Annotated[Path, typer.Argument(help="scenario folder")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="folder to write")],
    run: Annotated[
        Path | None, typer.Option("--run", help="run folder whose plan gives the owners")
    ] = None,
    suggest: Annotated[
        int, typer.Option("--suggest", help="add a territory at the N best pockets, re-solve")
    ] = 0,
    by_segment: Annotated[
        bool, typer.Option("--by-segment", help="also cluster each segment on its own")
    ] = False,
    top: Annotated[int, typer.Option(help="pockets to list")] = 10,
    set_: SetOption = None,
    map_: MapOption = None,
) -> None:
    """Find opportunity pockets: dense clusters of whitespace (potential - revenue)."""
    sc = load_scenario(scenario, overrides=set_, columns=map_)
    plan = read_run(run) if run is not None else None
    result = find_pockets(sc, run=plan, by_segment=by_segment)
    files = result.write(out_dir)
    s = result.settings
    seg = f", segment {s.segment}" if s.segment is not None else ""
    out.print(
        f"{result.n_pockets} pockets (radius {s.radius_km:g} km, members within "
        f"{result.max_radius_km:,.0f} km of a centre, min whitespace "
        f"{Units.of(sc.settings).money(s.min_whitespace)}{seg}); owners from "
        f"{run if run is not None else 'today'}"
    )
    if result.n_pockets:
        a, b = ("lat", "lon") if result.coord_kind == "latlon" else ("x", "y")
        table = Table(title="Pockets by whitespace", title_justify="left")
        cols = [
            "pocket_id", "accounts", "whitespace", a, b, "dominant_segment",
            "nearest_territory", "far_owner_share",
        ]  # fmt: skip
        for c in cols:
            table.add_column(
                c, justify="left" if c in ("pocket_id", "dominant_segment") else "right"
            )
        units = Units.of(sc.settings)
        for row in result.pockets.head(top)[cols].itertuples(index=False):
            table.add_row(*[format_cell(units, c, v) for c, v in zip(cols, row, strict=True)])
        out.print(table)
        if result.n_pockets > top:
            out.print(f"... and {result.n_pockets - top:,} more")
    if suggest:
        limit = min(sc.settings.solver.time_limit_s, SUGGEST_TIME_LIMIT_S)
        out.print(f"re-solving with new territories (solver.time_limit_s = {limit:g} s each)")
        n_variants = 1 + min(suggest, result.n_pockets) + (min(suggest, result.n_pockets) > 1)
        with steps(err, n_variants, "re-solving", enabled=sys.stderr.isatty()) as step:
            df = suggest_territories(sc, result, suggest, progress=step)
        path = Path(out_dir) / "suggestions.csv"
        df.to_csv(path, index=False)
        files.append(path)
        cols = ["scenario", "status", "objective", "potential.max_abs_deviation",
                "weighted_mean_distance", "whitespace_within_reach"]  # fmt: skip
        t = Table(title="New territories at pockets (vs baseline)", title_justify="left")
        for c in cols:
            t.add_column(c, justify="left" if c in ("scenario", "status") else "right")
        units = Units.of(sc.settings)
        for row in df[cols].itertuples(index=False):
            t.add_row(*[format_cell(units, c, v) for c, v in zip(cols, row, strict=True)])
        out.print(t)
    out.print(f"wrote {out_dir}/ ({', '.join(p.name for p in files)})")


@app.command()
def models() -> None:
    """List the models: the presets of settings in models/ (scenario.toml: model = "NAME")."""
    for name in list_presets():
        raw = load_preset(name)
        bal = ", ".join(
            f"{k} +-{v.get('tolerance', 0):.0%}" for k, v in raw.get("balance", {}).items()
        )
        out.print(f"{name}: balance {bal or 'none'}")


@app.command(hidden=True)
def presets() -> None:
    """Deprecated spelling of `align models`."""
    err.print("note: `align presets` is now `align models` (the folder models/, model = ...)")
    models()


@app.command()
def version() -> None:
    """Print the engine version."""
    out.print(__version__)


# --- maps and adjacency -----------------------------------------------------------------------


@app.command("map")
def map_(
    run: Annotated[Path, typer.Argument(help="run folder")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="PNG to write (default RUN/map.png)")
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="scenario folder (default: the one the run names)"),
    ] = None,
    balance: Annotated[
        Path | None, typer.Option("--balance", help="also write the balance chart to this PNG")
    ] = None,
) -> None:
    """Draw the run's territories on a map (PNG): coloured, labelled, with a legend."""
    from ..plots import plot_balance, plot_map, save

    loaded = read_run(run)
    sc = load_scenario(scenario, overrides=["constraints.contiguity=false"]) if scenario else None
    path = save(plot_map(loaded, scenario=sc), out_file or run / "map.png")
    written = [path]
    if balance is not None:
        written.append(save(plot_balance(loaded), balance))
    out.print(f"wrote {', '.join(str(p) for p in written)}")


@app.command()
def adjacency(
    scenario: Annotated[Path, typer.Argument(help="scenario folder")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="CSV to write")],
    set_: SetOption = None,
) -> None:
    """Write the scenario's adjacency (account_id, neighbor_id) as CSV, e.g. to add links."""
    sc = load_scenario(scenario, overrides=[*(set_ or []), "constraints.contiguity=false"])
    if sc.adjacency is None:
        err.print(
            f"{scenario}: no adjacency: the accounts have no polygons and there is no "
            "adjacency.csv",
            style="bold red",
        )
        raise typer.Exit(2)
    sc.adjacency.to_csv(out_file, index=False)
    out.print(f"wrote {out_file} ({len(sc.adjacency):,} pairs of neighbours)")
