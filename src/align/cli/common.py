"""What every command shares: the Typer app, the consoles, common options and the tables and
exits of a run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from ..errors import AlignError
from ..runs import Run, load_run
from ..status import Status
from ..units import DASH, Units

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


def print_notes(notes: list[str]) -> None:
    """How the files were read: mappings, parsed amounts, ZIP codes placed, the preset."""
    for note in notes:
        out.print(f"note: {note}")


def read_run(ref: str | Path) -> Run:
    """A run folder (or stored run id) as :func:`align.load_run` reads it; how it was read
    (settings that no longer validate) is said on stderr, keeping stdout for the output."""
    run = load_run(ref)
    for note in run.notes:
        err.print(f"note: {note}")
    return run


def show(v: object) -> str:
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


def format_cell(units: Units, key: str, v: object) -> str:
    """A value of column or KPI ``key``, shown with its unit (text as it is)."""
    if isinstance(v, str):
        return v
    if key.startswith("settings."):
        return units.format(v, "pct" if key.endswith(("tolerance", "share")) else "num")
    return units.kpi(key, v)


def kpi_table(run: Run) -> Table:
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


def exit_without_plan(run: Run, out_dir: Path, what: str) -> None:
    """Exit 3 (infeasible, with the reasons) or 4 (no plan) when the run holds no plan."""
    if run.status == Status.INFEASIBLE:
        err.print(f"infeasible: the {what} admit no plan ({out_dir}/run.json)", style="bold red")
        for r in run.reasons:
            err.print(f"- {r}")
        raise typer.Exit(3)
    if not run.has_plan:
        err.print(f"no plan: {run.message} ({out_dir}/run.json)", style="bold red")
        raise typer.Exit(4)


def save_run(run: Run, out_dir: Path) -> None:
    """Write the run folder; a file system failure (a full disk, permissions) is a message."""
    try:
        run.write(out_dir)
    except OSError as e:  # not the input's fault: exit 1
        raise AlignError(
            f"--out {out_dir}: the run folder could not be written ({e.strerror or e}); the "
            "previous content is unchanged; free space or choose another folder"
        ) from None


def short_path(path: Path) -> str:
    """A path relative to the working folder when it lies under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def percent(v: float | None, digits: int = 1) -> str:
    """A share as a percentage; a dash when there is none (a plan without a bound has no gap)."""
    return Units().pct(v, digits)
