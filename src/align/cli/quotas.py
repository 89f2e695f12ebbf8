"""Commands of quota proposals and negotiation: align quotas, align adjust."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from ..continuity import adjust_run
from ..errors import ScenarioError
from ..io import load_scenario
from ..quotas import (
    Proposal,
    carry_proposal,
    describe_stale,
    load_proposal,
    next_version_folder,
    override_quotas,
    propose_quotas,
    stale_overrides,
)
from ..runs import moved_between
from ..status import Status
from ..units import Units, parse_amount
from .common import (
    SetOption,
    app,
    err,
    exit_without_plan,
    format_cell,
    out,
    read_run,
)

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
        if proposal.status == Status.INFEASIBLE:
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
            table.add_row(*[format_cell(units, c, v) for c, v in zip(cols, row, strict=True)])
        out.print(table)
        if len(proposal.quotas) > top:
            out.print(f"... and {len(proposal.quotas) - top:,} more")
    regions = Table(title="Regions", title_justify="left")
    rcols = ["region", "territories", "quota", "goal", "growth", "quota_to_potential"]
    for c in rcols:
        regions.add_column(c, justify="left" if c == "region" else "right")
    for row in proposal.regions[rcols].itertuples(index=False):
        regions.add_row(*[format_cell(units, c, v) for c, v in zip(rcols, row, strict=True)])
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
            diff.add_row(*[format_cell(units, c, v) for c, v in zip(dcols, row, strict=True)])
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
        run = read_run(source)
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
    run = read_run(run_dir)
    previous = load_proposal(proposal_dir) if proposal_dir is not None else None
    new = adjust_run(run, moves)
    new.write(out_dir)
    exit_without_plan(new, out_dir, "moves")
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
