"""The `align` command: a thin Typer app over the library."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich import box
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from ._version import __version__
from .continuity import lineage, solve_from
from .errors import AlignError, RunError, ScenarioError
from .io import load_scenario
from .model import solve as solve_scenario
from .pockets import SUGGEST_TIME_LIMIT_S, find_pockets, suggest_territories
from .progress import live_progress, steps, stop_on_ctrl_c
from .quotas import (
    Proposal,
    adjust_run,
    carry_proposal,
    describe_stale,
    load_proposal,
    next_version_folder,
    override_quotas,
    propose_quotas,
    stale_overrides,
)
from .reviewing import review as review_trends
from .runs import Run, check_run_folder, compare_runs, load_run, moved_between
from .settings import list_presets, load_preset
from .tracking import MIN_COVERAGE, PACE_THRESHOLD
from .tracking import track as track_progress
from .units import DASH, Units, parse_amount

app = typer.Typer(
    name="align",
    help="Exact, balanced territory alignment. Exit codes: 0 plan written, 2 invalid input, "
    "3 the rules admit no plan, 4 no plan found within the limits.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
PIPE_WIDTH = 10_000  # a pipe or a log has no width: tables keep their natural width


class _Console(Console):
    """A console whose tables are never cut to fit when it writes to a pipe or a file (money
    would read "5,526,..."); on a terminal, the terminal's width."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal:
            return size
        return ConsoleDimensions(PIPE_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


# markup off: ids and messages from user data are printed as they are
out = _Console(highlight=False, soft_wrap=True, markup=False)
err = _Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a setting, e.g. --set balance.workload.tolerance=0.1"),
]

MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help='Read a header of the files as a name of the contract, e.g. --map "Account ID='
        'account_id" (territories:HEADER=NAME for territories.csv only); as [columns] in '
        "scenario.toml",
    ),
]


def _print_notes(notes: list[str]) -> None:
    """How the files were read: mappings, parsed amounts, ZIP codes placed, the preset."""
    for note in notes:
        out.print(f"note: {note}")


def _fmt(v: object) -> str:
    if v is None:
        return DASH
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int | float):
        f = float(v)
        if math.isnan(f):
            return DASH
        if math.isinf(f):
            return "inf"
        if f == int(f) and abs(f) < 1e15:
            return f"{int(f):,}"
        if abs(f) < 1:
            return f"{f:.4f}"
        return f"{f:,.2f}" if abs(f) < 1e6 else f"{f:,.0f}"
    return str(v)


def _cell(units: Units, key: str, v: object) -> str:
    """A value of column or KPI ``key``, shown with its unit (text as it is)."""
    if isinstance(v, str):
        return v
    if key.startswith("settings."):
        return units.format(v, "pct" if key.endswith(("tolerance", "share")) else "num")
    return units.kpi(key, v)


def _kpi_table(run: Run) -> Table:
    before = run.kpis.get("before", {})
    after = run.kpis.get("after", {})
    units = run.units
    table = Table(title="KPIs: today's alignment and the plan", title_justify="left")
    table.add_column("kpi")
    if before:
        table.add_column("today", justify="right")
    table.add_column("plan", justify="right")
    if before:
        table.add_column("change", justify="right")
    for key in after or before:
        if key in ("accounts",):
            continue
        row = [key]
        if before:
            row.append(units.kpi(key, before.get(key)))
        row.append(units.kpi(key, after.get(key)))
        if before:
            row.append(units.change(key, before.get(key), after.get(key)))
        table.add_row(*row)
    return table


def _exit_without_plan(run: Run, out_dir: Path, what: str) -> None:
    """Exit 3 (infeasible, with the reasons) or 4 (no plan) when the run holds no plan."""
    if run.status == "infeasible":
        err.print(f"infeasible: the {what} admit no plan ({out_dir}/run.json)", style="bold red")
        for r in run.reasons:
            err.print(f"- {r}")
        raise typer.Exit(3)
    if not run.has_plan:
        err.print(f"no plan: {run.message} ({out_dir}/run.json)", style="bold red")
        raise typer.Exit(4)


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="scenario folder")],
    set_: SetOption = None,
    map_: MapOption = None,
) -> None:
    """Check a scenario folder and report every problem at once."""
    sc = load_scenario(scenario, overrides=set_, columns=map_)
    _print_notes(sc.notes)
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
        _print_notes(sc.notes)
    live = not quiet and sys.stderr.isatty()
    with live_progress(err, enabled=live) as progress, stop_on_ctrl_c(progress) as stopped:
        if from_run is None:
            run = solve_scenario(sc, progress=progress)
        else:
            run = solve_from(sc, load_run(from_run), progress=progress)
    if stopped.is_set():
        note = f"interrupted (Ctrl-C) after {run.wall_seconds:.1f} s"
        run.message = f"{note}; {run.message}" if run.message else note
        run.stats["interrupted"] = True
    _write_run(run, out_dir)
    if stopped.is_set() and run.has_plan:
        err.print(
            f"interrupted (Ctrl-C): kept the best plan found, {run.status} with gap "
            f"{_share(run.gap, 2)} ({out_dir}/run.json)",
            style="yellow",
        )
    _exit_without_plan(run, out_dir, "rules")
    if quiet:
        return
    out.print(
        f"{run.status}: objective {_fmt(run.objective)}, bound {_fmt(run.bound)}, "
        f"gap {run.units.pct(run.gap, 2)}, {run.wall_seconds:.2f} s with {run.solver}"
    )
    out.print(_kpi_table(run))
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


def _write_run(run: Run, out_dir: Path) -> None:
    """Write the run folder; a file system failure (a full disk, permissions) is a message."""
    try:
        run.write(out_dir)
    except OSError as e:  # not the input's fault: exit 1
        raise AlignError(
            f"--out {out_dir}: the run folder could not be written ({e.strerror or e}); the "
            "previous content is unchanged; free space or choose another folder"
        ) from None


def _short(path: Path) -> str:
    """A path relative to the working folder when it lies under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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
    units = next((r.units for r in loaded if r.settings), Units())
    for key in df.columns:
        table.add_row(str(key), *[_cell(units, str(key), v) for v in df[key].tolist()])
    out.print(table)
    for path in runs:
        chain = lineage(path)
        if len(chain) > 1:
            out.print("chain: " + " <- ".join(_short(p) for p in chain))
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
    map_: MapOption = None,
) -> None:
    """Find opportunity pockets: dense clusters of whitespace (potential - revenue)."""
    sc = load_scenario(scenario, overrides=set_, columns=map_)
    plan = load_run(run) if run is not None else None
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
            table.add_row(*[_cell(units, c, v) for c, v in zip(cols, row, strict=True)])
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
            t.add_row(*[_cell(units, c, v) for c, v in zip(cols, row, strict=True)])
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


# --- quota proposals and negotiation (align quotas, align adjust) -----------------------------


def _pairs(items: list[str] | None, option: str, example: str) -> dict[str, str]:
    out: dict[str, str] = {}
    problems = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            problems.append(f"{option} {item!r}: expected {example}")
            continue
        out[key.strip()] = value.strip()
    if problems:
        raise ScenarioError(problems)
    return out


def _print_proposal(proposal: Proposal, folder: Path, top: int) -> None:
    if not proposal.has_quotas:
        if proposal.status == "infeasible":
            err.print(f"infeasible: no quota proposal ({folder}/proposal.json)", style="bold red")
            for r in proposal.reasons:
                err.print(f"- {r}")
            raise typer.Exit(3)
        err.print(f"no proposal: {proposal.message} ({folder}/proposal.json)", style="bold red")
        raise typer.Exit(4)
    assert proposal.quotas is not None and proposal.regions is not None
    units = Units()
    cols = ["territory_id", "region", "fair_share", "quota", "growth", "binding", "min_quota",
            "max_quota"]  # fmt: skip
    if top > 0:
        table = Table(title=f"Quotas, version {proposal.version}", title_justify="left")
        for c in cols:
            left = c in ("territory_id", "region", "binding")
            table.add_column(c, justify="left" if left else "right")
        for row in proposal.quotas.head(top)[cols].itertuples(index=False):
            table.add_row(*[_cell(units, c, v) for c, v in zip(cols, row, strict=True)])
        out.print(table)
        if len(proposal.quotas) > top:
            out.print(f"... and {len(proposal.quotas) - top:,} more")
    regions = Table(title="Regions", title_justify="left")
    rcols = ["region", "territories", "quota", "goal", "growth", "quota_to_potential"]
    for c in rcols:
        regions.add_column(c, justify="left" if c == "region" else "right")
    for row in proposal.regions[rcols].itertuples(index=False):
        regions.add_row(*[_cell(units, c, v) for c, v in zip(rcols, row, strict=True)])
    out.print(regions)
    k = proposal.kpis
    out.print(
        f"goal {units.money(proposal.goal)} met exactly: quotas sum to "
        f"{units.money(k['quota'])}; "
        f"quota/potential cv {k['quota_to_potential.cv']:.3f}, "
        f"{int(k['over_potential_alert'])} territories above "
        f"{k['potential_alert']:.0%} of potential, growth {k['growth.min']:+.1%} to "
        f"{k['growth.max']:+.1%} (median {k['growth.median']:+.1%})"
    )
    if proposal.diff is not None and len(proposal.diff):
        diff = Table(title=f"Changes against version {proposal.version - 1}", title_justify="left")
        for c in proposal.diff.columns:
            diff.add_column(c, justify="left" if c in ("territory_id", "reason") else "right")
        dcols = [str(c) for c in proposal.diff.columns]
        for row in proposal.diff.itertuples(index=False):
            diff.add_row(*[_cell(units, c, v) for c, v in zip(dcols, row, strict=True)])
        out.print(diff)
    files = ["quotas.csv", "regions.csv", "proposal.json", "proposal.xlsx"]
    if proposal.diff is not None:
        files.insert(3, "diff.csv")
    out.print(f"wrote {folder}/ ({', '.join(files)})")


@app.command()
def quotas(
    source: Annotated[
        Path, typer.Argument(help="run folder (propose) or proposal folder (override)")
    ],
    goal: Annotated[
        str | None,
        typer.Option("--goal", help="company goal (with a run): 144000000, 144,000,000, 144M"),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="proposal folder to write (override: default <source>-v2)"
        ),
    ] = None,
    override: Annotated[
        list[str] | None,
        typer.Option("--override", help="hold a quota: TERRITORY=QUOTA (repeatable)"),
    ] = None,
    reason: Annotated[
        list[str] | None,
        typer.Option("--reason", help="why: one for all overrides, or one per --override"),
    ] = None,
    region_goals: Annotated[
        Path | None, typer.Option("--region-goals", help="CSV of region, goal")
    ] = None,
    top: Annotated[int, typer.Option(help="territories to list")] = 30,
    set_: SetOption = None,
) -> None:
    """Propose territory quotas for a run, or override quotas of a proposal (a new version)."""
    pairs = _pairs(override, "--override", "TERRITORY=QUOTA, e.g. T07=1250000")
    values: dict[str, float] = {}
    problems: list[str] = []
    for t, text in pairs.items():
        try:
            values[t] = parse_amount(text, what=f"--override {t}=")
        except ScenarioError as e:
            problems += e.problems
    if problems:
        raise ScenarioError(problems)
    reasons = list(reason or [])
    if len(reasons) > 1 and len(reasons) != len(values):
        raise ScenarioError(
            f"--reason given {len(reasons)} times for {len(values)} overrides; give one reason "
            "for all, or one per --override in the same order"
        )
    why: dict[str, str] = (
        dict(zip(values, reasons, strict=True)) if len(reasons) > 1
        else {t: reasons[0] if reasons else "" for t in values}
    )  # fmt: skip
    if (source / "proposal.json").is_file():
        if goal is not None or set_ or region_goals is not None:
            raise ScenarioError(
                f"{source}: a proposal keeps its goal, settings and region goals; propose again "
                "from its run to change them (align quotas RUN --goal ...)"
            )
        if not values:
            raise ScenarioError(f"{source}: give at least one --override TERRITORY=QUOTA")
        previous = load_proposal(source)
        target = out_dir or next_version_folder(previous)
        if (target / "proposal.json").is_file():
            raise ScenarioError(
                f"{target}: already holds a proposal; versions are never written over, choose "
                "another --out"
            )
        proposal = override_quotas(previous, values, reason=why)
    else:
        if goal is None:
            raise ScenarioError(f"{source}: give the company goal, e.g. --goal 48000000")
        amount = parse_amount(goal, what="--goal")
        if out_dir is None:
            raise ScenarioError("give the proposal folder to write, e.g. --out proposals/fy27")
        run = load_run(source)
        sc = load_scenario(run.scenario_path, overrides=set_) if run.scenario_path else None
        ovr = [{"territory_id": t, "quota": q, "reason": why.get(t, "")} for t, q in values.items()]
        proposal = propose_quotas(
            run, goal=amount, overrides=ovr or None, region_goals=region_goals, scenario=sc
        )
        target = out_dir
    proposal.write(target)
    _print_proposal(proposal, target, top)


@app.command()
def adjust(
    run_dir: Annotated[Path, typer.Argument(help="run folder to adjust")],
    move: Annotated[
        list[str], typer.Option("--move", help="ACCOUNT=TERRITORY, locked there (repeatable)")
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="new run folder to write")],
    proposal_dir: Annotated[
        Path | None, typer.Option("--proposal", help="quota proposal to carry over")
    ] = None,
    proposal_out: Annotated[
        Path | None,
        typer.Option("--proposal-out", help="folder of the carried proposal (default <p>-v2)"),
    ] = None,
    drop_overrides: Annotated[
        bool,
        typer.Option(
            "--drop-overrides", help="drop carried overrides that left the range the rules allow"
        ),
    ] = False,
    restate_overrides: Annotated[
        bool,
        typer.Option(
            "--restate-overrides",
            help="hold carried overrides that left their range at its nearest end",
        ),
    ] = False,
) -> None:
    """Move accounts by hand; the rest changes as little as possible; carry quotas over.

    A carried quota override may leave the range the rules allow once accounts move (a
    territory that loses accounts loses revenue, so its growth cap allows less): the command
    names each, and --drop-overrides or --restate-overrides says what to do with them."""
    if drop_overrides and restate_overrides:
        raise ScenarioError("give --drop-overrides or --restate-overrides, not both")
    if (drop_overrides or restate_overrides) and proposal_dir is None:
        flag = "--drop-overrides" if drop_overrides else "--restate-overrides"
        raise ScenarioError(f"{flag} applies to a carried proposal: give --proposal FOLDER")
    moves = _pairs(move, "--move", "ACCOUNT=TERRITORY, e.g. A00017=T03")
    run = load_run(run_dir)
    previous = load_proposal(proposal_dir) if proposal_dir is not None else None
    new = adjust_run(run, moves)
    new.write(out_dir)
    _exit_without_plan(new, out_dir, "moves")
    changed = moved_between(run, new)
    others = changed.loc[~changed["account_id"].isin(list(moves))]
    out.print(
        f"{new.status}: {len(moves)} moved by hand, {len(others)} other accounts moved to keep "
        f"the rules ({', '.join(others['account_id'].head(10)) or 'none'})"
    )
    out.print(f"wrote {out_dir}/ (assignments.csv, territories.csv, run.json)")
    if previous is not None:
        target = proposal_out or next_version_folder(previous)
        stale: Literal["keep", "drop", "restate"] = (
            "drop" if drop_overrides else "restate" if restate_overrides else "keep"
        )
        carried = carry_proposal(previous, new, stale=stale)
        carried.write(target)
        if stale != "keep" and carried.message:
            for note in carried.message.split("; "):
                out.print(note)
        if not carried.has_quotas and stale == "keep":
            for o in stale_overrides(previous, new):
                err.print(
                    f"{describe_stale(o)}: rerun with --drop-overrides to drop it, or "
                    "--restate-overrides to hold it at the nearest end of that range",
                    style="yellow",
                )
        _print_proposal(carried, target, 0)


@app.command()
def version() -> None:
    """Print the engine version."""
    out.print(__version__)


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


def _share(v: float | None, digits: int = 1) -> str:
    """A share as a percentage; a dash when there is none (a plan without a bound has no gap)."""
    return Units().pct(v, digits)


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
        f"as of {result.as_of:%Y-%m-%d}: bookings {_fmt(total['bookings'])} of quota "
        f"{_fmt(total['quota'])} ({_share(total['attainment'])}), pace {_share(total['pace'])}, "
        f"projected {_fmt(total['projected'])}; {int(total['at_risk'])} of "
        f"{int(total['territories'])} territories at risk"
    )
    for r in result.regions.to_dict("records"):
        cover = f" ({r['coverage']:.2f}x)" if math.isfinite(r.get("coverage", math.nan)) else ""
        pipe = f", pipeline {_fmt(r['pipeline'])}{cover}" if "pipeline" in r else ""
        out.print(
            f"{r['region']}: {r['territories']} territories, quota {_fmt(r['quota'])}, bookings "
            f"{_fmt(r['bookings'])} ({_share(r['attainment'])}), pace {_share(r['pace'])}, "
            f"projected {_fmt(r['projected'])}, gap {_fmt(r['gap'])}{pipe}, {r['at_risk']} at risk"
        )
    for row in result.at_risk.itertuples(index=False):
        out.print(f"at risk: {row.territory_id} ({row.region}): {row.risk}")
    for row in result.unknown.itertuples(index=False):
        out.print(
            f"not in the plan: {row.account_id} ({row.source}): {row.rows} rows, {_fmt(row.amount)}"
        )
    for label, info in result.ignored.items():
        out.print(f"not counted: {label}: {int(info['rows'])} rows, {_fmt(info['amount'])}")
    out.print(f"wrote {folder}/ ({', '.join(p.name for p in files)})")


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
    from .plots import plot_balance, plot_map, save

    loaded = load_run(run)
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
    from .service.config import ServiceConfigError
    from .service.keys import KeyRing

    config = ServiceConfig.from_env(workers=workers, database_url=database_url)
    if not (config.api_keys or config.api_keys_file) and not _loopback(host):
        raise ServiceConfigError(
            [
                f"--host {host}: listening beyond this machine without API keys would let "
                "anyone who reaches the port read and run every scenario; set ALIGN_API_KEYS or "
                "ALIGN_API_KEYS_FILE, or listen on 127.0.0.1 (the default)"
            ]
        )
    ring = KeyRing(config.api_keys, config.api_keys_file)
    keys = f"{len(ring)} API keys" if ring.enabled else "no API keys (open)"
    err.print(
        f"align serve: http://{host}:{port}/ (planning room; API docs at /docs), "
        f"{config.workers} solver processes, "
        f"database {_redact(config.database_url)}, {keys}"
    )
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level)


def _loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve to anything


def _redact(url: str) -> str:
    """A database URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, user = head.partition("://")
    return f"{scheme}{sep}{user.split(':')[0]}:***@{tail}" if ":" in user else url


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

    from .sweeping import parse_vary, short_keys
    from .sweeping import sweep as run_sweep

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
    plans = int(t["status"].isin(["optimal", "feasible"]).sum())
    if not quiet:
        table = Table(
            title="Sweep: one row per point (* on the Pareto frontier)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        shown = {("moved" if m == "disruption" else m): c for m, c in result.measures.items()}
        fixed = ("point", "status", "objective", *shown)
        heads = short_keys(list(grid), taken=fixed)  # every header once
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
            cells.append(_fmt(row["objective"]))
            for c in shown.values():
                kind = "num" if c == "travel" else "dist" if "distance" in c else "pct"
                cells.append(units.format(row[c], kind))
            table.add_row(*cells)
        out.print(table)
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
        infeasible = bool((t["status"] == "infeasible").all())
        err.print(
            "no point has a plan" + (": the rules admit none" if infeasible else ""),
            style="bold red",
        )
        raise typer.Exit(3 if infeasible else 4)


# --- the report and the demo -----------------------------------------------------------------


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="run folder")],
    proposal_dir: Annotated[
        Path | None, typer.Option("--proposal", help="quota proposal folder of the run")
    ] = None,
    pockets_dir: Annotated[
        Path | None, typer.Option("--pockets", help="folder written by align pockets")
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="HTML file to write (default RUN/report.html)"),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="scenario folder (default: the one the run names)"),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option("--title", help='the report\'s title, e.g. "FY27 territories: Midwest"'),
    ] = None,
) -> None:
    """Write one self-contained HTML report of a run (KPIs, map, balance, moves, quotas,
    pockets, a plan per territory); it opens without network access."""
    from .report import write_report

    loaded = load_run(run_dir)
    proposal = load_proposal(proposal_dir) if proposal_dir is not None else None
    sc = load_scenario(scenario, overrides=["constraints.contiguity=false"]) if scenario else None
    path = write_report(
        loaded,
        proposal=proposal,
        pockets=pockets_dir,
        scenario=sc,
        out=out_file or run_dir / "report.html",
        title=title,
    )
    out.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, self-contained)")


DEMO_GOAL = 110_000_000
DEMO_QUOTA = {"max_growth": 0.25, "min_growth": 0.0}
DEMO_POCKETS = {"radius_km": 40.0, "min_whitespace": 1_500_000}
DEMO_SUGGEST_S = 10.0  # time limit of each re-solve with a new territory in the demo


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="folder to write")] = Path(
        "runs/demo"
    ),
    scenario: Annotated[Path, typer.Option("--scenario", help="scenario folder")] = Path(
        "data/samples"
    ),
    goal: Annotated[
        str, typer.Option("--goal", help="company quota goal, e.g. 110M or 110,000,000")
    ] = f"{DEMO_GOAL:,}",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no live progress")] = False,
) -> None:
    """The whole planning cycle on a scenario: solve, pockets, quotas, report."""
    from .report import write_report

    live = not quiet and sys.stderr.isatty()
    amount = parse_amount(goal, what="--goal")
    sc = load_scenario(scenario)
    out.print(
        f"1/4 solve {scenario}: {sc.n_accounts:,} accounts, {sc.n_territories} territories, "
        f"model {sc.settings.model or 'defaults'}"
    )
    with live_progress(err, enabled=live) as progress, stop_on_ctrl_c(progress):
        run = solve_scenario(sc, progress=progress)
    plan_dir = out_dir / "plan"
    run.write(plan_dir)
    run.raise_for_status()
    before, after = run.kpis.get("before", {}), run.kpis.get("after", {})
    dev = "potential.max_abs_deviation"
    out.print(
        f"    {run.status} (gap {_share(run.gap, 2)}) in {run.wall_seconds:.1f} s: largest "
        f"potential deviation {before.get(dev, math.nan):.1%} today -> "
        f"{after.get(dev, math.nan):.1%}, "
        f"{int(after.get('moved_accounts', 0)):,} accounts move; wrote {plan_dir}/"
    )
    out.print("2/4 pockets of whitespace, and a new territory where nobody is near")
    found = find_pockets(sc, run=run, settings=DEMO_POCKETS)
    pockets_dir = out_dir / "pockets"
    found.write(pockets_dir)
    if found.n_pockets:
        # the pocket with the most whitespace whose owner is far: where a new seat pays
        table = found.pockets
        far = table.assign(_far=table["whitespace"] * table["far_owner_share"])
        far = far.sort_values("_far", ascending=False, kind="stable").drop(columns="_far")
        with steps(err, 2, "re-solving", enabled=live) as step:
            sugg = suggest_territories(
                sc, replace(found, pockets=far), 1, time_limit_s=DEMO_SUGGEST_S, progress=step
            )
        sugg.to_csv(pockets_dir / "suggestions.csv", index=False)
        top = far.iloc[0]
        reach = sugg["whitespace_within_reach.change"].iloc[-1]
        out.print(
            f"    {found.n_pockets} pockets; {top['pocket_id']} holds "
            f"{run.units.money(top['whitespace'])} of whitespace, "
            f"{top['far_owner_share']:.0%} of it far from its owner "
            f"(nearest rep {top['nearest_territory']}, "
            f"{top['nearest_distance_km']:.0f} km); a new territory there brings "
            f"{reach:+.1%} of all whitespace within reach; wrote {pockets_dir}/"
        )
    units = run.units
    out.print(
        f"3/4 quotas for a goal of {units.money(amount)} (growth 0% to +25% over last revenue)"
    )
    proposal = propose_quotas(run, goal=amount, settings=DEMO_QUOTA, scenario=sc)
    quotas_dir = out_dir / "quotas"
    proposal.write(quotas_dir)
    proposal.raise_for_status()
    k = proposal.kpis
    out.print(
        f"    growth {k['growth.min']:+.1%} to {k['growth.max']:+.1%} (median "
        f"{k['growth.median']:+.1%}); wrote {quotas_dir}/ (proposal.xlsx for leaders)"
    )
    out.print("4/4 report")
    path = write_report(run, proposal=proposal, pockets=pockets_dir, scenario=sc,
                        out=out_dir / "report.html")  # fmt: skip
    out.print(f"report: {path.resolve()}")
    out.print("open it in a browser (no network needed); align report RUN writes one for any run")


def main() -> None:
    """Entry point: AlignError becomes a message and its exit code, never a traceback.

    Usage errors are Typer's own (exit 2, with the usage line).
    """
    try:
        app()
    except AlignError as e:
        err.print(f"error: {e}")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:  # outside a solve (which keeps its best plan): stop, no traceback
        err.print("interrupted (Ctrl-C); a run folder being written is left as it was before")
        sys.exit(130)


if __name__ == "__main__":
    main()
