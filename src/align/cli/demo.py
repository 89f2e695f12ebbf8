"""align report and align demo: the HTML report, and the whole planning cycle on the sample."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from ..engine import solve as solve_scenario
from ..io import load_scenario
from ..pockets import find_pockets, suggest_territories
from ..progress import live_progress, steps, stop_on_ctrl_c
from ..quotas import (
    load_proposal,
    propose_quotas,
)
from ..runs import load_run
from ..units import parse_amount
from .common import (
    app,
    err,
    out,
    percent,
)

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
    from ..report import write_report

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
    from ..report import write_report

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
        f"    {run.status} (gap {percent(run.gap, 2)}) in {run.wall_seconds:.1f} s: largest "
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
