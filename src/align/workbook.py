"""The leaders' file: a quota proposal as an XLSX workbook (openpyxl), formatted for people.

Sheets: ``Territories`` (one row per territory: rationale, quota, negotiation range, reasons,
components and periods), ``Regions`` (the roll-up with its total line), from version 2
``Changes`` (who moved how much against the previous version, with the reasons) and ``Summary``
(goal, version, status, overrides and the fairness KPIs). Currency cells carry a currency
format, shares a percent format; every table has a bold frozen header, an auto filter and
widths fitted to the content."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .quotas import Proposal

CURRENCY = '"$"#,##0'
PERCENT = "0.0%"
RATIO = "0.000"
_MONEY_COLUMNS = {
    "potential", "revenue", "fair_share", "quota", "min_quota", "max_quota", "goal",
    "previous_quota", "change",
}  # fmt: skip
_PERCENT_COLUMNS = {"growth", "quota_to_potential"}
_HEADERS = {
    "territory_id": "Territory",
    "region": "Region",
    "territories": "Territories",
    "potential": "Potential",
    "revenue": "Revenue (last period)",
    "fair_share": "Fair share",
    "quota": "Quota",
    "goal": "Goal",
    "growth": "Growth over revenue",
    "quota_to_potential": "Quota / potential",
    "binding": "Binding rule",
    "min_quota": "Range: min",
    "max_quota": "Range: max",
    "reason": "Override reason",
    "previous_quota": "Previous quota",
    "change": "Change",
}
SHEETS = ("Territories", "Regions", "Summary")
CHANGES = "Changes"  # from version 2: the diff against the previous version, before Summary


def _header(column: str) -> str:
    if column in _HEADERS:
        return _HEADERS[column]
    for prefix, label in (("component_", "Component: "), ("period_", "Period: ")):
        if column.startswith(prefix):
            return label + column[len(prefix) :]
    return column


def _format(column: str) -> str | None:
    if column in _MONEY_COLUMNS or column.startswith(("component_", "period_")):
        return CURRENCY
    if column in _PERCENT_COLUMNS:
        return PERCENT
    return None


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
    return value


def _table_sheet(ws: Any, frame: pd.DataFrame, *, bold_last: bool = False) -> None:
    from openpyxl.styles import Font

    columns = list(frame.columns)
    ws.append([_header(c) for c in columns])
    for row in frame.itertuples(index=False):
        ws.append([_cell(v) for v in row])
    for k, c in enumerate(columns, start=1):
        fmt = _format(c)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=k, max_col=k):
                cell.number_format = fmt
    for cell in ws[1]:
        cell.font = Font(bold=True)
    if bold_last and ws.max_row > 1:
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = ws.dimensions
    _fit_widths(ws)


def _fit_widths(ws: Any) -> None:
    from openpyxl.utils import get_column_letter

    for k, column in enumerate(ws.iter_cols(values_only=True), start=1):
        longest = 0
        for v in column:
            if v is None:
                continue
            text = (
                f"{v:,.0f}  $" if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
            )
            longest = max(longest, len(text))
        ws.column_dimensions[get_column_letter(k)].width = min(max(longest + 2, 8), 60)


def write_workbook(proposal: Proposal, path: str | Path) -> Path:
    """Write ``proposal`` as proposal.xlsx (sheets Territories, Regions, Summary)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    assert proposal.quotas is not None and proposal.regions is not None
    wb = Workbook()
    ws = wb.active
    ws.title = SHEETS[0]
    _table_sheet(ws, proposal.quotas)
    _table_sheet(wb.create_sheet(SHEETS[1]), proposal.regions, bold_last=True)
    if proposal.diff is not None:
        _table_sheet(wb.create_sheet(CHANGES), proposal.diff)
    ws = wb.create_sheet(SHEETS[2])
    ws.append(["Item", "Value"])
    rows: list[tuple[str, Any, str | None]] = [
        ("Goal", proposal.goal, CURRENCY),
        ("Version", proposal.version, None),
        ("Status", proposal.status, None),
        ("Run", proposal.run or "", None),
        ("Previous version", proposal.parent or "", None),
        ("Rounding unit", proposal.settings.unit, CURRENCY),
        ("Overrides", len(proposal.overrides), None),
    ]
    for o in proposal.overrides:
        rows.append((f"Override {o['territory_id']}", o["quota"], CURRENCY))
        rows.append((f"Reason {o['territory_id']}", o.get("reason", ""), None))
    for key, value in proposal.kpis.items():
        fmt = PERCENT if key.startswith("growth.") else RATIO if "." in key else None
        rows.append((key, value, fmt))
    for label, value, fmt in rows:
        ws.append([label, _cell(value)])
        if fmt:
            ws.cell(row=ws.max_row, column=2).number_format = fmt
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    _fit_widths(ws)
    path = Path(path)
    wb.save(path)
    return path


def read_workbook(path: str | Path) -> dict[str, pd.DataFrame]:
    """The sheets of a proposal.xlsx as DataFrames (headers as written), for checks and tools."""
    return pd.read_excel(path, sheet_name=None, engine="openpyxl")  # type: ignore[return-value]
