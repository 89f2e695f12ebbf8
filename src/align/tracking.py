"""Progress against quota: bookings to date, pace to year end, pipeline coverage, risk.

A quota proposal folder holds ``quotas.csv`` (territory_id, region, quota and optionally
``period_<label>`` columns, the territory's seasonal split of its quota) and ``proposal.json``
(with ``run``, the run folder whose ``assignments.csv`` maps accounts to territories, and
``periods``, the period labels in calendar order). :func:`track` compares bookings to date with
each territory's quota pro-rated by its seasonal profile (or evenly by days):

* the plan year starts on ``year_start`` and its periods are equal consecutive parts of it
  (whole months when the count divides 12, e.g. quarters; equal days otherwise); a period's
  quota accrues evenly over its days;
* ``expected`` = the quota accrued from the year start to the as-of date (inclusive);
* ``attainment`` = bookings / quota; ``pace`` = bookings / expected, and ``projected`` =
  pace x quota, the year-end bookings if the run rate against the seasonal profile holds;
* ``gap`` = what remains of the quota (quota - bookings, at least 0) and ``coverage`` = open
  pipeline closing after the as-of date and within the plan year / gap;
* a territory is ``at_risk`` when its pace is below ``pace_threshold`` and, when a pipeline is
  given, its coverage is below ``min_coverage`` too (a territory whose quota is met never is).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ScenarioError
from .io import read_table
from .validation import Problems, Table, check_dates, check_numeric, check_refs, missing_columns

PACE_THRESHOLD = 0.9
MIN_COVERAGE = 1.0
CLOSED_STAGES = ("closed won", "closed lost", "won", "lost", "closed")
ALL = "(all)"


@dataclass
class Proposal:
    """What tracking reads of a quota proposal folder."""

    path: Path
    quotas: pd.DataFrame  # territory_id, region, quota, period_<label>...
    periods: list[str]
    plan: pd.DataFrame  # account_id, territory_id
    meta: dict[str, Any]


def read_proposal(path: str | Path) -> Proposal:
    """Read quotas.csv, proposal.json and the assignments of the run it names.

    Raises
    ------
    ScenarioError
        When a file is missing or invalid (every problem listed).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: no such proposal folder")
    p = Problems()
    meta: dict[str, Any] = {}
    meta_path = folder / "proposal.json"
    if not meta_path.is_file():
        p.add(f"{folder}: proposal.json is missing")
    else:
        try:
            loaded = json.loads(meta_path.read_text())
            meta = loaded if isinstance(loaded, dict) else {}
            if not isinstance(loaded, dict):
                p.add(f"{meta_path}: must be a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            p.add(f"{meta_path}: not valid JSON ({e})")
    table = read_table(folder / "quotas.csv")
    q = table.frame.copy()
    periods = meta.get("periods")
    if not isinstance(periods, list):
        periods = [c[len("period_") :] for c in q.columns if str(c).startswith("period_")]
    periods = [str(x) for x in periods]
    need = ("territory_id", "quota", *[f"period_{x}" for x in periods])
    if not missing_columns(p, table, need):
        q["territory_id"] = check_refs(p, table, "territory_id")
        q["quota"] = check_numeric(p, table, "quota")
        for x in periods:
            q[f"period_{x}"] = check_numeric(p, table, f"period_{x}")
        if periods:
            total = q[[f"period_{x}" for x in periods]].sum(axis=1).to_numpy()
            quota = q["quota"].to_numpy()
            off = np.abs(total - quota) > 1e-6 * np.maximum(1.0, np.abs(quota))
            off &= ~np.isnan(quota)
            p.rows(
                table,
                off,
                lambda i: f"the period columns sum to {total[i]:g} but quota is {quota[i]:g}",
            )
    q["region"] = q["region"].astype(object).where(q["region"].notna(), "") if "region" in q else ""
    plan = pd.DataFrame(columns=["account_id", "territory_id"])
    run = meta.get("run")
    if meta and not (isinstance(run, str) and run):
        p.add(f"{meta_path}: 'run' must name the run folder of the proposal's alignment")
    elif isinstance(run, str):
        run_dir = Path(run) if Path(run).is_absolute() else folder / run
        assignments = run_dir / "assignments.csv"
        if not assignments.is_file():
            p.add(f"{meta_path}: run {run}: assignments.csv is missing")
        else:
            plan = pd.read_csv(assignments, dtype={"account_id": str, "territory_id": str})
    p.raise_if_any()
    return Proposal(folder, q, periods, plan[["account_id", "territory_id"]], meta)


def proposal_of(
    quotas: pd.DataFrame,
    plan: pd.DataFrame,
    *,
    periods: list[str] | None = None,
    label: str = "proposal",
    year_start: str | None = None,
) -> Proposal:
    """What :func:`track` reads of a proposal, from frames already in memory (a quota table
    with territory_id, region, quota and the ``period_<label>`` columns of ``periods``, and the
    plan's account_id, territory_id) instead of a folder."""
    q = quotas.copy()
    q["territory_id"] = q["territory_id"].astype(str)
    q["region"] = q["region"].astype(object).where(q["region"].notna(), "") if "region" in q else ""
    plan = plan[["account_id", "territory_id"]].astype(str)
    meta = {"year_start": year_start} if year_start is not None else {}
    return Proposal(Path(label), q, [str(x) for x in periods or []], plan, meta)


def read_bookings(source: str | Path | pd.DataFrame, *, kind: str = "actuals") -> pd.DataFrame:
    """Validate actuals (account_id, date, amount) or a pipeline (account_id, stage, amount,
    close_date); returns the frame with ids as text, dates as days, amounts as floats."""
    label = f"{kind}.csv"
    if isinstance(source, pd.DataFrame):
        table = Table(label, source.reset_index(drop=True), header_rows=1)
    else:
        table = read_table(source)
    columns: tuple[str, ...] = ("account_id", "date", "amount")
    if kind == "pipeline":
        columns = ("account_id", "stage", "amount", "close_date")
    p = Problems()
    if missing_columns(p, table, columns):
        p.raise_if_any()
    f = table.frame.copy()
    f["account_id"] = check_refs(p, table, "account_id")
    f["amount"] = check_numeric(p, table, "amount")
    date = columns[-1] if kind == "pipeline" else "date"
    f[date] = check_dates(p, table, date)
    if kind == "pipeline":
        f["stage"] = f["stage"].astype(object).where(f["stage"].notna(), "").astype(str)
    p.raise_if_any()
    return f[list(columns)]


def plan_calendar(year_start: pd.Timestamp, periods: list[str]) -> pd.DataFrame:
    """The periods of the plan year: label, start, end (exclusive), in calendar order."""
    k = max(len(periods), 1)
    labels = periods or ["year"]
    if 12 % k == 0:
        step = 12 // k
        edges = [year_start + pd.DateOffset(months=step * i) for i in range(k + 1)]
    else:
        days = (year_start + pd.DateOffset(years=1) - year_start).days
        edges = [year_start + pd.Timedelta(days=round(days * i / k)) for i in range(k + 1)]
    return pd.DataFrame({"period": labels, "start": edges[:-1], "end": edges[1:]})


def accrued_share(calendar: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Share of each period elapsed by the end of the as-of day (0 to 1)."""
    end_of_day = as_of.normalize() + pd.Timedelta(days=1)
    length = (calendar["end"] - calendar["start"]).dt.days.to_numpy(dtype=float)
    done = (end_of_day - calendar["start"]).dt.days.to_numpy(dtype=float)
    return np.asarray(np.clip(done / length, 0.0, 1.0))


@dataclass(eq=False)
class Tracking:
    """Progress of a quota proposal as of a date.

    ``territories`` has one row per territory (see the module docstring for the columns),
    ``regions`` the roll-up (and a total row ``(all)``), ``unknown`` the accounts of the actuals
    or pipeline that the plan does not know, and ``ignored`` what fell outside the window.
    """

    as_of: pd.Timestamp
    year_start: pd.Timestamp
    year_end: pd.Timestamp
    territories: pd.DataFrame
    regions: pd.DataFrame
    unknown: pd.DataFrame
    ignored: dict[str, dict[str, float]] = field(default_factory=dict)
    pace_threshold: float = PACE_THRESHOLD
    min_coverage: float = MIN_COVERAGE
    has_pipeline: bool = False
    proposal: str = ""

    @property
    def at_risk(self) -> pd.DataFrame:
        return self.territories.loc[self.territories["at_risk"]]

    def write(self, folder: str | Path) -> list[Path]:
        """tracking.csv, tracking_regions.csv, unknown_accounts.csv and tracking.md."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for name, frame in (
            ("tracking.csv", self.territories),
            ("tracking_regions.csv", self.regions),
            ("unknown_accounts.csv", self.unknown),
        ):
            frame.to_csv(folder / name, index=False, float_format="%.10g")
            files.append(folder / name)
        (folder / "tracking.md").write_text(self.markdown())
        files.append(folder / "tracking.md")
        return files

    def markdown(self) -> str:
        """A Markdown section for a report."""
        day = f"{self.as_of:%Y-%m-%d}"
        last = self.year_end - pd.Timedelta(days=1)
        total = self.regions.loc[self.regions["region"] == ALL].iloc[0]
        lines = [
            f"## Progress against quota, as of {day}",
            "",
            f"Plan year {self.year_start:%Y-%m-%d} to {last:%Y-%m-%d}. "
            f"Bookings to date {_money(total['bookings'])} of {_money(total['quota'])} quota "
            f"({_pct(total['attainment'])}); {_money(total['expected'])} was expected by now, "
            f"pace {_pct(total['pace'])}, projected {_money(total['projected'])} at year end. "
            f"{int(total['at_risk'])} of {int(total['territories'])} territories at risk "
            f"(pace below {self.pace_threshold:.0%}"
            + (f" and pipeline coverage below {self.min_coverage:g}x" if self.has_pipeline else "")
            + ").",
            "",
            "### Regions",
            "",
        ]
        cols = ["region", "quota", "expected", "bookings", "attainment", "pace", "projected", "gap"]
        if self.has_pipeline:
            cols += ["pipeline", "coverage"]
        cols += ["at_risk"]
        lines += _md_table(self.regions, cols)
        risk = self.at_risk
        lines += ["", "### Territories at risk", ""]
        if len(risk):
            lines += _md_table(
                risk, ["territory_id", "region", "quota", "bookings", "pace", "gap", "risk"]
            )
        else:
            lines.append("None.")
        if len(self.unknown):
            lines += ["", "### Accounts the plan does not know", ""]
            lines += _md_table(self.unknown, list(self.unknown.columns))
        notes = [
            f"{k}: {v['rows']:,.0f} rows, {_money(v['amount'])}" for k, v in self.ignored.items()
        ]
        if notes:
            lines += ["", "Not counted: " + "; ".join(notes) + "."]
        return "\n".join(lines) + "\n"


def track(
    proposal: str | Path | Proposal,
    actuals: str | Path | pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    pipeline: str | Path | pd.DataFrame | None = None,
    year_start: str | pd.Timestamp | None = None,
    pace_threshold: float = PACE_THRESHOLD,
    min_coverage: float = MIN_COVERAGE,
) -> Tracking:
    """Compare bookings to date with a quota proposal; see the module docstring for the terms.

    Parameters
    ----------
    proposal
        Quota proposal folder (quotas.csv, proposal.json naming the run), or what
        :func:`read_proposal` or :func:`proposal_of` gives.
    actuals
        Bookings: account_id, date, amount (a CSV file or a DataFrame).
    as_of
        The date bookings are counted to (inclusive); later bookings are ignored and counted.
    pipeline
        Open opportunities: account_id, stage, amount, close_date.
    year_start
        First day of the plan year; default proposal.json's ``year_start``, else January 1 of
        the as-of date's year.

    Raises
    ------
    ScenarioError
        For a missing or invalid file, date or option (every problem listed).
    """
    day = _date(as_of, "as_of")
    prop = proposal if isinstance(proposal, Proposal) else read_proposal(proposal)
    start_text = year_start if year_start is not None else prop.meta.get("year_start")
    start = (
        _date(start_text, "year_start") if start_text is not None else pd.Timestamp(day.year, 1, 1)
    )
    end = start + pd.DateOffset(years=1)
    if not (pace_threshold > 0 and min_coverage >= 0):
        raise ScenarioError(
            f"pace_threshold must be > 0 and min_coverage >= 0 (got {pace_threshold:g}, "
            f"{min_coverage:g})"
        )
    bookings = read_bookings(actuals, kind="actuals")
    deals = read_bookings(pipeline, kind="pipeline") if pipeline is not None else None
    owner = prop.plan.set_index(prop.plan["account_id"].astype(str))["territory_id"]

    ignored: dict[str, dict[str, float]] = {}

    def note(label: str, mask: pd.Series, amounts: pd.Series) -> None:
        if mask.any():
            ignored[label] = {"rows": float(mask.sum()), "amount": float(amounts[mask].sum())}

    when = bookings["date"]
    note(f"bookings dated after {day:%Y-%m-%d}", when > day, bookings["amount"])
    outside = (when < start) | (when >= end)
    note("bookings outside the plan year", outside & (when <= day), bookings["amount"])
    counted = (when <= day) & ~outside
    known = bookings["account_id"].isin(owner.index)
    unknown = [_unknown(bookings, known, counted, "actuals")]

    q = prop.quotas
    calendar = plan_calendar(start, prop.periods)
    share = accrued_share(calendar, day)
    if prop.periods:
        amounts = q[[f"period_{x}" for x in prop.periods]].to_numpy(dtype=float)
        expected = amounts @ share
    else:
        expected = q["quota"].to_numpy(dtype=float) * share[0]
    booked = bookings.loc[counted & known]
    per_territory = booked.groupby(booked["account_id"].map(owner))["amount"].sum()
    table = pd.DataFrame(
        {
            "territory_id": q["territory_id"].astype(str).to_numpy(),
            "region": q["region"].astype(str).to_numpy(),
            "quota": q["quota"].to_numpy(dtype=float),
            "expected": expected,
        }
    )
    unquoted = sorted(set(per_territory.index) - set(table["territory_id"]))
    if unquoted:
        extra = pd.DataFrame({"territory_id": unquoted, "region": "", "quota": np.nan})
        table = pd.concat([table, extra.assign(expected=np.nan)], ignore_index=True)
    table["bookings"] = table["territory_id"].map(per_territory).fillna(0.0).to_numpy()
    if deals is not None:
        unknown.append(_add_pipeline(table, deals, owner, day, end, note))
    _ratios(table, deals is not None)
    table["at_risk"], table["risk"] = _risk(table, deals is not None, pace_threshold, min_coverage)
    regions = _roll_up(table, deals is not None, pace_threshold, min_coverage)
    unknown_df = pd.concat(unknown, ignore_index=True)
    return Tracking(
        as_of=day,
        year_start=start,
        year_end=end,
        territories=table,
        regions=regions,
        unknown=unknown_df,
        ignored=ignored,
        pace_threshold=pace_threshold,
        min_coverage=min_coverage,
        has_pipeline=deals is not None,
        proposal=str(prop.path),
    )


def _add_pipeline(
    table: pd.DataFrame,
    deals: pd.DataFrame,
    owner: pd.Series,
    day: pd.Timestamp,
    end: pd.Timestamp,
    note: Callable[[str, pd.Series, pd.Series], None],
) -> pd.DataFrame:
    """Open deals closing within the plan year, per territory, as ``table["pipeline"]``; the
    deals left out are noted; returns the deals of accounts not in the plan."""
    stage = deals["stage"].str.strip().str.lower()
    closed = stage.isin(CLOSED_STAGES)
    close = deals["close_date"]
    note("pipeline deals in a closed stage", closed, deals["amount"])
    note(
        f"pipeline deals closing on or before {day:%Y-%m-%d}",
        ~closed & (close <= day),
        deals["amount"],
    )
    note("pipeline deals closing after the plan year", ~closed & (close >= end), deals["amount"])
    open_ = ~closed & (close > day) & (close < end)
    d_known = deals["account_id"].isin(owner.index)
    live = deals.loc[open_ & d_known]
    per = live.groupby(live["account_id"].map(owner))["amount"].sum()
    table["pipeline"] = table["territory_id"].map(per).fillna(0.0).to_numpy()
    return _unknown(deals, d_known, open_, "pipeline")


def _date(value: object, name: str) -> pd.Timestamp:
    try:
        day: pd.Timestamp | None = pd.Timestamp(str(value).strip())
    except ValueError:
        day = None
    if day is None or pd.isna(day):
        raise ScenarioError(f"{name}: {value!r} is not a date; use YYYY-MM-DD, e.g. 2027-02-15")
    if day.year > 9998:  # its plan year would end past the calendar's last year
        raise ScenarioError(f"{name}: {value!r} is too late; use a date before 9999-01-01")
    return day.normalize()


def _unknown(
    frame: pd.DataFrame, known: pd.Series, counted: pd.Series, source: str
) -> pd.DataFrame:
    """Rows of accounts the plan does not know: per account, rows, amount, amount in window."""
    rows = frame.loc[~known]
    grouped = rows.groupby("account_id", sort=True)
    out = pd.DataFrame(
        {
            "rows": grouped.size(),
            "amount": grouped["amount"].sum(),
            "amount_in_window": rows["amount"]
            .where(counted[~known], 0.0)
            .groupby(rows["account_id"])
            .sum(),
        }
    )
    out.index.name = "account_id"
    return out.reset_index().assign(source=source)[
        ["account_id", "source", "rows", "amount", "amount_in_window"]
    ]


def _ratios(t: pd.DataFrame, pipeline: bool) -> None:
    """Attainment, pace, projected, gap (and coverage) from quota, expected, bookings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        quota = t["quota"].to_numpy(dtype=float)
        expected = t["expected"].to_numpy(dtype=float)
        booked = t["bookings"].to_numpy(dtype=float)
        t["attainment"] = np.where(quota > 0, booked / quota, np.nan)
        t["pace"] = np.where(expected > 0, booked / expected, np.nan)
        t["projected"] = t["pace"].to_numpy() * quota
        gap = np.maximum(quota - booked, 0.0)
        t["gap"] = gap
        if pipeline:
            t["coverage"] = np.where(gap > 0, t["pipeline"].to_numpy(dtype=float) / gap, np.nan)


def _risk(
    t: pd.DataFrame, pipeline: bool, pace_threshold: float, min_coverage: float
) -> tuple[np.ndarray, list[str]]:
    pace = t["pace"].to_numpy(dtype=float)
    slow = (pace < pace_threshold) & (t["gap"].to_numpy() > 0)
    thin = t["coverage"].to_numpy(dtype=float) < min_coverage if pipeline else np.ones(len(t), bool)
    risk = slow & thin
    why = []
    for k in range(len(t)):
        if not risk[k]:
            why.append("")
            continue
        text = f"pace {pace[k]:.0%} < {pace_threshold:.0%}"
        if pipeline:
            text += f", pipeline covers {t['coverage'].iloc[k]:.2f}x of the gap < {min_coverage:g}x"
        why.append(text)
    return risk, why


def _roll_up(
    t: pd.DataFrame, pipeline: bool, pace_threshold: float, min_coverage: float
) -> pd.DataFrame:
    sums = ["quota", "expected", "bookings"] + (["pipeline"] if pipeline else [])
    frames = [t.assign(region=t["region"].replace("", "(none)")), t.assign(region=ALL)]
    both = pd.concat(frames, ignore_index=True)
    grouped = both.groupby("region", sort=True)
    out = grouped[sums].sum(min_count=1).reset_index()
    out.insert(1, "territories", grouped.size().to_numpy())
    _ratios(out, pipeline)
    out["at_risk"] = grouped["at_risk"].sum().to_numpy().astype(int)
    order = (out["region"] == ALL).to_numpy()
    return pd.concat([out.loc[~order], out.loc[order]], ignore_index=True)


def _money(v: float) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:,.0f}"


def _pct(v: float) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.1%}"


SHARES = ("attainment", "pace")


def _md_table(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    def cell(col: str, v: object) -> str:
        if isinstance(v, bool | np.bool_):
            return "yes" if v else ""
        if isinstance(v, int | float | np.integer | np.floating):
            f = float(v)
            if col in SHARES:
                return _pct(f)
            if col == "coverage":
                return "-" if not math.isfinite(f) else f"{f:.2f}x"
            return _money(f)
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame[cols].itertuples(index=False):
        lines.append("| " + " | ".join(cell(c, v) for c, v in zip(cols, row, strict=True)) + " |")
    return lines
