"""The `align` command: a thin Typer app over the library."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import AlignError
from .io import load_scenario
from .model import solve as solve_scenario
from .pockets import SUGGEST_TIME_LIMIT_S, find_pockets, suggest_territories
from .runs import Run, compare_runs, load_run, moved_between
from .settings import list_presets, load_preset

app = typer.Typer(
    name="align",
    help="Exact, balanced territory alignment. Exit codes: 0 plan written, 2 invalid input, "
    "3 the rules admit no plan, 4 no plan found within the limits.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# markup off: ids and messages from user data are printed as they are
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a setting, e.g. --set balance.workload.tolerance=0.1"),
]


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int | float):
        f = float(v)
        if math.isnan(f):
            return "-"
        if math.isinf(f):
            return "inf"
        if f == int(f) and abs(f) < 1e15:
            return f"{int(f):,}"
        if abs(f) < 1:
            return f"{f:.4f}"
        return f"{f:,.2f}" if abs(f) < 1e6 else f"{f:,.0f}"
    return str(v)


def _kpi_table(run: Run) -> Table:
    before = run.kpis.get("before", {})
    after = run.kpis.get("after", {})
    table = Table(title="KPIs: today's alignment and the plan", title_justify="left")
    table.add_column("kpi")
    if before:
        table.add_column("today", justify="right")
    table.add_column("plan", justify="right")
    for key in after or before:
        if key in ("accounts",):
            continue
        row = [key] + ([_fmt(before.get(key))] if before else []) + [_fmt(after.get(key))]
        table.add_row(*row)
    return table


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="scenario folder")],
    set_: SetOption = None,
) -> None:
    """Check a scenario folder and report every problem at once."""
    sc = load_scenario(scenario, overrides=set_)
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
) -> None:
    """Solve a scenario and write the run folder."""
    sc = load_scenario(scenario, overrides=set_)
    live = not quiet and sys.stderr.isatty()

    def progress(phase: str, info: dict[str, object]) -> None:
        if live:
            bits = ", ".join(f"{k} {_fmt(v)}" for k, v in info.items())
            err.print(f"{phase}: {bits}", style="dim")

    run = solve_scenario(sc, progress=progress)
    run.write(out_dir)
    if run.status == "infeasible":
        err.print(f"infeasible: the rules admit no plan ({out_dir}/run.json)", style="bold red")
        for r in run.reasons:
            err.print(f"- {r}")
        raise typer.Exit(3)
    if not run.has_plan:
        err.print(f"no plan: {run.message} ({out_dir}/run.json)", style="bold red")
        raise typer.Exit(4)
    if quiet:
        return
    out.print(
        f"{run.status}: objective {_fmt(run.objective)}, bound {_fmt(run.bound)}, "
        f"gap {run.gap:.4%}, {run.wall_seconds:.2f} s with {run.solver}"
    )
    out.print(_kpi_table(run))
    out.print(f"wrote {out_dir}/ (assignments.csv, territories.csv, run.json)")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="two or more run folders")],
    moved: Annotated[int, typer.Option(help="moved accounts to list")] = 20,
) -> None:
    """Print the KPIs of runs side by side and the accounts that moved between them."""
    loaded = [load_run(p) for p in runs]
    names = [str(p) for p in runs]
    df = compare_runs(loaded, names=names)
    table = Table(title="KPIs by run", title_justify="left")
    table.add_column("kpi")
    for name in names:
        table.add_column(name, justify="right")
    for key, row in df.iterrows():
        table.add_row(str(key), *[_fmt(v) for v in row.tolist()])
    out.print(table)
    for a, b, na, nb in zip(loaded, loaded[1:], names, names[1:], strict=False):
        diff = moved_between(a, b)
        out.print(f"{len(diff):,} accounts differ between {na} and {nb}")
        if len(diff) and moved:
            t = Table(show_header=True)
            for c in diff.columns:
                t.add_column(str(c))
            for row in diff.head(moved).itertuples(index=False):
                t.add_row(*[_fmt(v) for v in row])
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
) -> None:
    """Find opportunity pockets: dense clusters of whitespace (potential - revenue)."""
    sc = load_scenario(scenario, overrides=set_)
    plan = load_run(run) if run is not None else None
    result = find_pockets(sc, run=plan, by_segment=by_segment)
    files = result.write(out_dir)
    s = result.settings
    seg = f", segment {s.segment}" if s.segment is not None else ""
    out.print(
        f"{result.n_pockets} pockets (radius {s.radius_km:g} km, min whitespace "
        f"{s.min_whitespace:,.0f}{seg}); owners from {run if run is not None else 'today'}"
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
        for row in result.pockets.head(top)[cols].itertuples(index=False):
            table.add_row(*[_fmt(v) for v in row])
        out.print(table)
        if result.n_pockets > top:
            out.print(f"... and {result.n_pockets - top:,} more")
    if suggest:
        limit = min(sc.settings.solver.time_limit_s, SUGGEST_TIME_LIMIT_S)
        out.print(f"re-solving with new territories (solver.time_limit_s = {limit:g} s each)")
        live = sys.stderr.isatty()

        def progress(label: str) -> None:
            if live:
                err.print(f"solving {label}", style="dim")

        df = suggest_territories(sc, result, suggest, progress=progress)
        path = Path(out_dir) / "suggestions.csv"
        df.to_csv(path, index=False)
        files.append(path)
        cols = ["scenario", "status", "objective", "potential.max_abs_deviation",
                "weighted_mean_distance", "whitespace_within_reach"]  # fmt: skip
        t = Table(title="New territories at pockets (vs baseline)", title_justify="left")
        for c in cols:
            t.add_column(c, justify="left" if c in ("scenario", "status") else "right")
        for row in df[cols].itertuples(index=False):
            t.add_row(*[_fmt(v) for v in row])
        out.print(t)
    out.print(f"wrote {out_dir}/ ({', '.join(p.name for p in files)})")


@app.command()
def presets() -> None:
    """List the optimisation presets in models/."""
    for name in list_presets():
        raw = load_preset(name)
        bal = ", ".join(
            f"{k} +-{v.get('tolerance', 0):.0%}" for k, v in raw.get("balance", {}).items()
        )
        out.print(f"{name}: balance {bal or 'none'}")


@app.command()
def version() -> None:
    """Print the engine version."""
    out.print(__version__)


# ---------------------------------------------------------------------------------------------
# align serve: the HTTP service (FastAPI is imported only here, when the command runs)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on (loopback by default)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[
        int | None, typer.Option(help="solver processes at once (env ALIGN_WORKERS, default 2)")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="sqlite:///align.db (default) or postgresql://user:pw@host/db "
            "(env ALIGN_DATABASE_URL)"
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve scenarios and solve runs over HTTP (OpenAPI docs at /docs)."""
    import uvicorn

    from .service import ServiceConfig, create_app

    config = ServiceConfig.from_env(workers=workers, database_url=database_url)
    keys = f"{len(config.api_keys)} API keys" if config.api_keys else "no API keys (open)"
    err.print(
        f"align serve: http://{host}:{port} (docs at /docs), {config.workers} solver processes, "
        f"database {_redact(config.database_url)}, {keys}"
    )
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level)


def _redact(url: str) -> str:
    """A database URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, user = head.partition("://")
    return f"{scheme}{sep}{user.split(':')[0]}:***@{tail}" if ":" in user else url


def main() -> None:
    """Entry point: AlignError becomes a message and its exit code, never a traceback.

    Usage errors are Typer's own (exit 2, with the usage line).
    """
    try:
        app()
    except AlignError as e:
        err.print(f"error: {e}")
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
