"""The leaders' file: a quota proposal as an XLSX workbook (XlsxWriter), live for people.

Sheets:

- ``Territories``: one row per territory, its name and rep beside its id (from the scenario's
  territories.csv when the run names it), the rationale, the quota, its negotiation range and
  the reasons; ``Growth over revenue``, ``Quota / potential`` and ``Within range`` are formulas
  of the quota, and a ``Total`` row sums the money columns, so that a leader who edits a quota
  sees growth, totals and every roll-up recompute.
- ``By rep``: one row per rep (or per territory when the scenario names no reps): quota,
  revenue and potential summed from ``Territories`` (SUMIF formulas), growth.
- ``Regions``: the roll-up, summed from ``Territories`` (formulas), and a total with the goal.
- ``Changes`` (from version 2): who moved how much against the previous version, and why.
- ``Summary``: goal, the quotas' live sum and what is left to assign, version, status, the
  run's folder name (never a local path), overrides and the fairness KPIs with readable labels.

Every formula is written with its value cached, so a reader that does not calculate (pandas,
a preview) sees the numbers as proposed. Money carries the currency of ``units.currency``
(whole units), shares a percent format; tables have a bold frozen header and an auto filter.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from ..settings import QuotaSettings
from ..units import Units


class Proposal(Protocol):
    """What the workbook reads of a quota proposal (:class:`align.Proposal` has it all)."""

    @property
    def status(self) -> str: ...
    @property
    def goal(self) -> float: ...
    @property
    def settings(self) -> QuotaSettings: ...
    @property
    def run(self) -> str | None: ...
    @property
    def version(self) -> int: ...
    @property
    def parent(self) -> str | None: ...
    @property
    def quotas(self) -> pd.DataFrame | None: ...
    @property
    def regions(self) -> pd.DataFrame | None: ...
    @property
    def diff(self) -> pd.DataFrame | None: ...
    @property
    def kpis(self) -> Mapping[str, float]: ...
    @property
    def overrides(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def region_goals(self) -> Mapping[str, float]: ...


PERCENT = "0.0%"
RATIO = "0.000"
_MONEY_COLUMNS = {
    "potential", "revenue", "fair_share", "quota", "min_quota", "max_quota", "goal",
    "previous_quota", "change",
}  # fmt: skip
_SUMMED = {"potential", "revenue", "fair_share", "quota"}  # a total row adds these up
_PERCENT_COLUMNS = {"growth", "quota_to_potential"}
_HEADERS = {
    "territory_id": "Territory",
    "name": "Name",
    "rep": "Rep",
    "region": "Region",
    "territories": "Territories",
    "potential": "Potential",
    "revenue": "Revenue (last period)",
    "fair_share": "Fair share",
    "quota": "Quota",
    "goal": "Goal",
    "growth": "Growth over revenue",
    "quota_to_potential": "Quota / potential",
    "in_range": "Within range",
    "binding": "Binding rule",
    "min_quota": "Range: min",
    "max_quota": "Range: max",
    "reason": "Override reason",
    "previous_quota": "Previous quota",
    "change": "Change",
}
_KPI_LABELS = {
    "territories": "Territories",
    "quota": "Quotas as proposed",
    "quota_to_potential.mean": "Quota / potential: mean",
    "quota_to_potential.cv": "Quota / potential: spread (coefficient of variation)",
    "potential_alert": "Alert when quota / potential is above",
    "over_potential_alert": "Territories above the alert",
    "binding": "Territories held by a rule",
    "growth.min": "Growth: lowest",
    "growth.p25": "Growth: lower quartile",
    "growth.median": "Growth: median",
    "growth.p75": "Growth: upper quartile",
    "growth.max": "Growth: highest",
    "growth.mean": "Growth: mean",
}
TERRITORIES, BY_REP, REGIONS, SUMMARY = "Territories", "By rep", "Regions", "Summary"
SHEETS = (TERRITORIES, BY_REP, REGIONS, SUMMARY)
CHANGES = "Changes"  # from version 2: the diff against the previous version, before Summary
TOTAL = "Total"


def _header(column: str) -> str:
    if column in _HEADERS:
        return _HEADERS[column]
    for prefix, label in (("component_", "Component: "), ("period_", "Period: ")):
        if column.startswith(prefix):
            return label + column[len(prefix) :]
    return column.replace("_", " ").capitalize()


def kpi_label(key: str) -> str:
    """A readable label of a proposal KPI: ``quota_to_potential.cv`` -> "Quota / potential:
    spread (coefficient of variation)"."""
    if key in _KPI_LABELS:
        return _KPI_LABELS[key]
    return key.replace("_", " ").replace(".", ": ").capitalize()


def _is_money(column: str) -> bool:
    return column in _MONEY_COLUMNS or column.startswith(("component_", "period_"))


def currency_format(units: Units) -> str:
    """The Excel number format of money in ``units``: ``"$"#,##0`` or ``#,##0 "EUR"``."""
    c = units.currency.replace('"', "")
    if len(c) == 3 and c.isalpha() and c.isupper():
        return f'#,##0 "{c}"'
    return f'"{c}"#,##0'


def _value(v: Any) -> Any:
    """A cell value: numpy scalars to Python, NaN/inf and missing to None."""
    if v is None or v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _money(v: Any) -> Any:
    """Money as shown to leaders: whole units."""
    v = _value(v)
    return round(v) if isinstance(v, float) else v


@dataclass(frozen=True)
class Context:
    """What the workbook shows beside the proposal: territory labels and units."""

    labels: pd.DataFrame | None = None  # territory_id and name and/or rep, as text
    units: Units = Units()


def context_of(proposal: Proposal) -> Context:
    """Territory names and reps from the scenario of the proposal's run (its run.json names the
    scenario folder), and the run's units; empty when either is not at hand."""
    if not proposal.run:
        return Context()
    run_json = Path(proposal.run) / "run.json"
    try:
        summary = json.loads(run_json.read_text())
    except (OSError, ValueError):
        return Context()
    units = Units.of(summary.get("settings") or {})
    folder = summary.get("scenario_path") or ""
    path = Path(folder) / "territories.csv" if folder else None
    if path is None or not path.is_file():
        return Context(units=units)
    return Context(labels=territory_labels(path), units=units)


def territory_labels(source: str | Path | io.BytesIO) -> pd.DataFrame | None:
    """territory_id with name and/or rep from a territories.csv (a path or its bytes), or None
    when it has neither or cannot be read."""
    try:
        table = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    keep = [c for c in ("name", "rep") if c in table.columns]
    if "territory_id" not in table.columns or not keep:
        return None
    return table[["territory_id", *keep]].drop_duplicates("territory_id")


class _Sheet:
    """A worksheet written row by row, remembering widths for a fitted layout."""

    def __init__(self, wb: Any, name: str, formats: dict[str, Any]) -> None:
        self.ws = wb.add_worksheet(name)
        self.name = name
        self.formats = formats
        self.widths: dict[int, int] = {}

    def write(self, row: int, col: int, value: Any, fmt: str | None = None) -> None:
        f = self.formats.get(fmt) if fmt else None
        v = _value(value)
        if v is None:
            self.ws.write_blank(row, col, None, f)
        else:
            self.ws.write(row, col, v, f)
        self._width(col, v, fmt)

    def formula(self, row: int, col: int, text: str, cached: Any, fmt: str | None = None) -> None:
        v = _value(cached)
        self.ws.write_formula(row, col, text, self.formats.get(fmt) if fmt else None,
                              "" if v is None else v)  # fmt: skip
        self._width(col, v, fmt)

    def _width(self, col: int, v: Any, fmt: str | None) -> None:
        if v is None:
            return
        text = f"{v:,.0f}  $" if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
        if fmt == "pct":
            text = "100.0%"
        self.widths[col] = max(self.widths.get(col, 0), len(text))

    def header(self, labels: Sequence[str]) -> None:
        for k, label in enumerate(labels):
            self.write(0, k, label, "bold")

    def finish(self, *, last_row: int, columns: int, freeze_col: int = 1) -> None:
        for col, width in self.widths.items():
            self.ws.set_column(col, col, min(max(width + 2, 8), 60))
        self.ws.freeze_panes(1, freeze_col)
        if last_row >= 1 and columns:
            self.ws.autofilter(0, 0, last_row, columns - 1)


def _cell(row: int, col: int, *, absolute: bool = False) -> str:
    from xlsxwriter.utility import xl_rowcol_to_cell

    return str(xl_rowcol_to_cell(row, col, row_abs=absolute, col_abs=absolute))


def _column_range(sheet: str, col: int, first: int, last: int) -> str:
    from xlsxwriter.utility import xl_rowcol_to_cell

    a = xl_rowcol_to_cell(first, col, row_abs=True, col_abs=True)
    b = xl_rowcol_to_cell(last, col, row_abs=True, col_abs=True)
    return f"'{sheet}'!{a}:{b}"


def _ratio(num: Any, den: Any, minus: float = 0.0) -> float | None:
    n, d = _value(num), _value(den)
    if n is None or d is None or d <= 0:
        return None
    return float(n) / float(d) - minus


def _territories_sheet(
    wb: Any, formats: dict[str, Any], quotas: pd.DataFrame, labels: pd.DataFrame | None
) -> tuple[_Sheet, list[str], int]:
    """Write ``Territories``; returns the sheet, its columns and the index of its total row."""
    frame = quotas.copy()
    frame["territory_id"] = frame["territory_id"].astype(str)
    label_cols: list[str] = []
    if labels is not None:
        label_cols = [c for c in ("name", "rep") if c in labels.columns]
        lab = labels.assign(territory_id=labels["territory_id"].astype(str))
        frame = frame.merge(lab[["territory_id", *label_cols]], on="territory_id", how="left")
    frame["in_range"] = None
    lead = ["territory_id", *label_cols, "region", "potential", "revenue", "fair_share", "quota",
            "growth", "quota_to_potential", "in_range", "min_quota", "max_quota", "binding",
            "reason"]  # fmt: skip
    columns = [c for c in lead if c in frame.columns]
    columns += [c for c in frame.columns if c not in columns]
    sheet = _Sheet(wb, TERRITORIES, formats)
    sheet.header([_header(c) for c in columns])
    at = {c: k for k, c in enumerate(columns)}
    n = len(frame)
    for i, rec in enumerate(frame.to_dict("records"), start=1):
        for c in columns:
            k = at[c]
            if c == "growth" and {"quota", "revenue"} <= set(at):
                q, rev = _cell(i, at["quota"]), _cell(i, at["revenue"])
                sheet.formula(i, k, f'=IF({rev}>0,{q}/{rev}-1,"")',
                              _ratio(rec["quota"], rec["revenue"], 1.0), "pct")  # fmt: skip
            elif c == "quota_to_potential" and {"quota", "potential"} <= set(at):
                q, pot = _cell(i, at["quota"]), _cell(i, at["potential"])
                sheet.formula(i, k, f'=IF({pot}>0,{q}/{pot},"")',
                              _ratio(rec["quota"], rec["potential"]), "pct")  # fmt: skip
            elif c == "in_range" and {"quota", "min_quota", "max_quota"} <= set(at):
                q, lo, hi = (_cell(i, at[x]) for x in ("quota", "min_quota", "max_quota"))
                ok = _value(rec["min_quota"]) is not None and (
                    rec["min_quota"] - 1e-6 <= rec["quota"] <= rec["max_quota"] + 1e-6
                )
                sheet.formula(i, k, f'=IF(AND({q}>={lo},{q}<={hi}),"yes","no")',
                              "yes" if ok else "no")  # fmt: skip
            elif _is_money(c):
                sheet.write(i, k, _money(rec[c]), "money")
            elif c in _PERCENT_COLUMNS:
                sheet.write(i, k, rec[c], "pct")
            else:
                text = _value(rec[c])
                sheet.write(i, k, "" if text is None else text)
    total = n + 1
    sheet.write(total, 0, TOTAL, "bold")
    for c in columns:
        k = at[c]
        if c in _SUMMED or c.startswith(("component_", "period_")):
            rng = f"{_cell(1, k)}:{_cell(n, k)}"
            cached = float(pd.to_numeric(frame[c], errors="coerce").fillna(0).round().sum())
            if c == "quota":
                cached = float(frame[c].sum())
            sheet.formula(total, k, f"=SUM({rng})", cached, "money_bold")
    sums = {c: float(pd.to_numeric(frame[c]).round().sum()) for c in _SUMMED if c in at}
    if "quota" in at:
        sums["quota"] = float(frame["quota"].sum())
    if "growth" in at and {"quota", "revenue"} <= set(at):
        q, rev = _cell(total, at["quota"]), _cell(total, at["revenue"])
        sheet.formula(total, at["growth"], f'=IF({rev}>0,{q}/{rev}-1,"")',
                      _ratio(sums["quota"], sums["revenue"], 1.0), "pct_bold")  # fmt: skip
    if "quota_to_potential" in at and {"quota", "potential"} <= set(at):
        q, pot = _cell(total, at["quota"]), _cell(total, at["potential"])
        sheet.formula(total, at["quota_to_potential"], f'=IF({pot}>0,{q}/{pot},"")',
                      _ratio(sums["quota"], sums["potential"]), "pct_bold")  # fmt: skip
    sheet.finish(last_row=n, columns=len(columns), freeze_col=1 + len(label_cols))
    return sheet, columns, total


def _rollup_sheet(
    wb: Any,
    formats: dict[str, Any],
    name: str,
    key: str,
    groups: list[tuple[str, pd.DataFrame]],
    territories: list[str],
    n: int,
    *,
    goal: float | None = None,
    goals: Mapping[str, float] | None = None,
) -> _Sheet:
    """A roll-up of ``Territories`` by its column ``key``: SUMIF formulas, cached values."""
    sheet = _Sheet(wb, name, formats)
    money = [c for c in ("potential", "revenue", "fair_share", "quota") if c in territories]
    cols = [key, "territories", *money, *(["goal"] if goal is not None else []), "growth",
            "quota_to_potential"]  # fmt: skip
    sheet.header([_header(c) for c in cols])
    at = {c: k for k, c in enumerate(cols)}
    src = territories.index(key)
    key_range = _column_range(TERRITORIES, src, 1, n)
    totals: dict[str, float] = {c: 0.0 for c in money}
    row = 0
    for row, (label, part) in enumerate(groups, start=1):
        sheet.write(row, 0, label)
        me = _cell(row, 0)
        sheet.formula(row, at["territories"], f"=COUNTIF({key_range},{me})", len(part))
        values: dict[str, float] = {}
        for c in money:
            rng = _column_range(TERRITORIES, territories.index(c), 1, n)
            v = float(part[c].sum()) if c == "quota" else float(part[c].round().sum())
            values[c] = v
            totals[c] += v
            sheet.formula(row, at[c], f"=SUMIF({key_range},{me},{rng})", v, "money")
        _ratios(sheet, row, at, values, bold=False)
        if goals and label in goals:
            sheet.write(row, at["goal"], goals[label], "money")
    total = row + 1
    sheet.write(total, 0, TOTAL, "bold")
    sheet.formula(total, at["territories"], f"=SUM({_cell(1, 1)}:{_cell(row, 1)})",
                  sum(len(p) for _, p in groups), "bold")  # fmt: skip
    for c in money:
        k = at[c]
        sheet.formula(total, k, f"=SUM({_cell(1, k)}:{_cell(row, k)})", totals[c], "money_bold")
    if goal is not None:
        sheet.write(total, at["goal"], goal, "money_bold")
    _ratios(sheet, total, at, totals, bold=True)
    sheet.finish(last_row=row, columns=len(cols))
    return sheet


def _ratios(
    sheet: _Sheet, row: int, at: dict[str, int], v: dict[str, float], *, bold: bool
) -> None:
    fmt = "pct_bold" if bold else "pct"
    if "quota" in at and "revenue" in at:
        q, rev = _cell(row, at["quota"]), _cell(row, at["revenue"])
        sheet.formula(row, at["growth"], f'=IF({rev}>0,{q}/{rev}-1,"")',
                      _ratio(v["quota"], v["revenue"], 1.0), fmt)  # fmt: skip
    if "quota" in at and "potential" in at:
        q, pot = _cell(row, at["quota"]), _cell(row, at["potential"])
        sheet.formula(row, at["quota_to_potential"], f'=IF({pot}>0,{q}/{pot},"")',
                      _ratio(v["quota"], v["potential"]), fmt)  # fmt: skip


def _changes_sheet(wb: Any, formats: dict[str, Any], diff: pd.DataFrame) -> None:
    sheet = _Sheet(wb, CHANGES, formats)
    columns = [str(c) for c in diff.columns]
    sheet.header([_header(c) for c in columns])
    for i, rec in enumerate(diff.to_dict("records"), start=1):
        for k, c in enumerate(columns):
            v = rec[c]
            if _is_money(c):
                sheet.write(i, k, _money(v), "money")
            else:
                sheet.write(i, k, "" if _value(v) is None else v)
    sheet.finish(last_row=len(diff), columns=len(columns))


def _folder_name(path: str | None) -> str:
    """A run or proposal folder as its name only: a workbook travels, local paths do not."""
    return Path(path).name if path else ""


def write_workbook(
    proposal: Proposal,
    path: str | Path,
    *,
    labels: pd.DataFrame | None = None,
    units: Units | None = None,
) -> Path:
    """Write ``proposal`` as proposal.xlsx (sheets Territories, By rep, Regions, Changes from
    version 2, Summary).

    ``labels`` (territory_id with name and/or rep) and ``units`` default to those of the
    proposal's run and its scenario (see :func:`context_of`).
    """
    import xlsxwriter

    assert proposal.quotas is not None and proposal.regions is not None
    ctx = context_of(proposal) if labels is None or units is None else Context()
    labels = labels if labels is not None else ctx.labels
    units = units or ctx.units
    path = Path(path)
    wb = xlsxwriter.Workbook(str(path))
    money_fmt = currency_format(units)
    formats = {
        "bold": wb.add_format({"bold": True}),
        "money": wb.add_format({"num_format": money_fmt}),
        "money_bold": wb.add_format({"num_format": money_fmt, "bold": True}),
        "pct": wb.add_format({"num_format": PERCENT}),
        "pct_bold": wb.add_format({"num_format": PERCENT, "bold": True}),
        "ratio": wb.add_format({"num_format": RATIO}),
    }
    quotas = proposal.quotas
    _, columns, total = _territories_sheet(wb, formats, quotas, labels)
    n = len(quotas)
    frame = quotas.assign(territory_id=quotas["territory_id"].astype(str))
    if labels is not None:
        lab = labels.assign(territory_id=labels["territory_id"].astype(str))
        frame = frame.merge(lab, on="territory_id", how="left")
    key = "rep" if "rep" in columns else "name" if "name" in columns else "territory_id"
    keyed = frame.assign(**{key: frame[key].fillna("").astype(str)})
    by_rep = list(keyed.groupby(key, sort=True))
    _rollup_sheet(wb, formats, BY_REP, key, [(str(k), g) for k, g in by_rep], columns, n)
    regions = [r for r in proposal.regions["region"].astype(str) if r != "total"]
    by_region = [(r, frame[frame["region"].astype(str) == r]) for r in regions]
    _rollup_sheet(wb, formats, REGIONS, "region", by_region, columns, n, goal=proposal.goal,
                  goals=proposal.region_goals)  # fmt: skip
    if proposal.diff is not None:
        _changes_sheet(wb, formats, proposal.diff)
    _summary_sheet(wb, formats, proposal, columns, total)
    wb.close()
    return path


def _summary_sheet(
    wb: Any, formats: dict[str, Any], proposal: Proposal, columns: list[str], total: int
) -> None:
    sheet = _Sheet(wb, SUMMARY, formats)
    sheet.header(["Item", "Value"])
    quota_total = f"'{TERRITORIES}'!{_cell(total, columns.index('quota'), absolute=True)}"
    sheet.write(1, 0, "Goal")
    sheet.write(1, 1, proposal.goal, "money")
    quota_sum = float(proposal.quotas["quota"].sum()) if proposal.quotas is not None else 0.0
    sheet.write(2, 0, "Quotas (sum of Territories, live)")
    sheet.formula(2, 1, f"={quota_total}", quota_sum, "money")
    sheet.write(3, 0, "Left to assign (goal - quotas)")
    sheet.formula(3, 1, "=B2-B3", proposal.goal - quota_sum, "money")
    rest: list[tuple[str, Any, str | None]] = [
        ("Version", proposal.version, None),
        ("Status", proposal.status, None),
        ("Run", _folder_name(proposal.run), None),
        ("Previous version", _folder_name(proposal.parent), None),
        ("Rounding unit", proposal.settings.unit, "money"),
        ("Overrides", len(proposal.overrides), None),
    ]
    for o in proposal.overrides:
        rest.append((f"Override {o['territory_id']}", o["quota"], "money"))
        rest.append((f"Reason {o['territory_id']}", o.get("reason", "") or "", None))
    for key, value in proposal.kpis.items():
        if key == "quota":
            continue  # the live sum above
        v = _value(value)
        if key.startswith("growth.") or key in ("quota_to_potential.mean", "potential_alert"):
            fmt: str | None = "pct"
            v = None if v is None else round(float(v), 4)
        elif "." in key:
            fmt = "ratio"
            v = None if v is None else round(float(v), 3)
        else:
            fmt = None
            v = int(v) if isinstance(v, float) and v == int(v) else v
        rest.append((kpi_label(key), v, fmt))
    for i, (label, value, fmt) in enumerate(rest, start=4):
        sheet.write(i, 0, label)
        sheet.write(i, 1, value, fmt)
    sheet.finish(last_row=0, columns=0, freeze_col=0)


def read_workbook(path: str | Path) -> dict[str, pd.DataFrame]:
    """The sheets of a proposal.xlsx as DataFrames (headers as written; formulas as their cached
    values), for checks and tools."""
    return pd.read_excel(path, sheet_name=None, engine="openpyxl")
