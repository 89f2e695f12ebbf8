"""The HTML report of a run: one self-contained file a sales leader reads.

:func:`write_report` writes a single HTML page with everything inlined (CSS, charts as base64
PNG; no script, font or image is fetched from anywhere), readable on a laptop and printable:
the headline KPIs before and after, the map, the balance charts, the accounts that moved, the
quota proposal and its negotiation ranges (when given), the opportunity pockets (when given)
and one page per territory (quota, potential, revenue, top target accounts by whitespace,
pockets inside it), each starting on a new printed page.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .._version import __version__
from ..errors import RunError, ScenarioError
from ..io import scenario_of
from ..status import Status
from ..units import DASH, Units
from .style import CSS

if TYPE_CHECKING:  # pragma: no cover
    from ..pockets import PocketsResult
    from ..quotas import Proposal
    from ..runs import Run
    from ..scenario import Scenario

TOP_TARGETS = 10  # target accounts listed per territory
MOVED_ROWS = 50  # moved accounts listed (the largest by potential)
POCKET_ROWS = 15

# KPIs of the headline table: key, label, kind (pct, num, dist), lower is better
HEADLINE = [
    ("potential.max_abs_deviation", "Largest potential deviation from target", "pct"),
    ("potential.cv", "Spread of potential (coefficient of variation)", "pct"),
    ("workload.max_abs_deviation", "Largest workload deviation from target", "pct"),
    ("workload.cv", "Spread of workload (coefficient of variation)", "pct"),
    ("potential.max_min_ratio", "Largest / smallest territory potential", "ratio"),
    ("weighted_mean_distance", "Mean distance to rep, weighted by potential", "dist"),
    ("mean_distance", "Mean distance to rep", "dist"),
    ("moved_accounts", "Accounts that change owner", "num"),
    ("moved_share.potential", "Share of potential that changes owner", "pct"),
    ("accounts_per_territory.min", "Fewest accounts in a territory", "num"),
    ("accounts_per_territory.max", "Most accounts in a territory", "num"),
]


# ---------------------------------------------------------------------------------------------
# formatting


# the units of the report being rendered (a run's ``units`` settings)
_UNITS: ContextVar[Units | None] = ContextVar("report_units", default=None)
# account label columns shown beside the CRM id, the first present
NAME_COLUMNS = ("name", "account_name")


def _units() -> Units:
    return _UNITS.get() or Units()


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _num(v: Any, digits: int = 0) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _esc(v) if v is not None else "–"
    if not math.isfinite(f):
        return "–"
    return f"{f:,.{digits}f}"


def _pct(v: Any, digits: int = 1, *, sign: bool = False) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(f):
        return "–"
    return f"{f:+.{digits}%}" if sign else f"{f:.{digits}%}"


def _kind(v: Any, kind: str) -> str:
    if kind == "pct":
        return _pct(v)
    if kind == "ratio":
        return _units().format(v, "ratio")
    if kind == "dist":
        return _esc(_units().dist(v))
    if kind == "money":
        return _esc(_units().money(v))
    return _num(v)


def _table(
    frame: pd.DataFrame,
    columns: Sequence[tuple[str, str, str]],
    *,
    cls: str = "",
    scroll: bool = False,
) -> str:
    """An HTML table of ``frame``: columns as (column, header, kind); kind 'text' is left-aligned,
    'num' (whole numbers), 'money' (with the currency), 'pct', 'spct' (signed percent) and
    'dist' (one decimal, with the distance unit) right."""
    head = "".join(
        f'<th class="l">{_esc(h)}</th>' if k == "text" else f"<th>{_esc(h)}</th>"
        for _, h, k in columns
    )
    rows = []
    for rec in frame.to_dict("records"):
        cells = []
        for col, _, kind in columns:
            v = rec.get(col)
            if kind == "text":
                text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else v
                cells.append(f'<td class="l">{_esc(text)}</td>')
            elif kind == "pct":
                cells.append(f"<td>{_pct(v)}</td>")
            elif kind == "spct":
                cells.append(f"<td>{_pct(v, sign=True)}</td>")
            elif kind in ("dist", "money"):
                cells.append(f"<td>{_kind(v, kind)}</td>")
            else:
                cells.append(f"<td>{_num(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = "\n".join(rows)
    table = f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'
    return f'<div class="scroll">{table}</div>' if scroll else table


def _png(ax: Any, *, dpi: int = 100) -> str:
    """The figure of ``ax`` as a data: URI (PNG, base64)."""
    buf = io.BytesIO()
    fig = ax.get_figure(root=True)
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(uri: str, alt: str, caption: str, *, fig_id: str) -> str:
    return (
        f'<figure id="{fig_id}"><img src="{uri}" alt="{_esc(alt)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


# ---------------------------------------------------------------------------------------------
# inputs


def _scenario_of(run: Run, scenario: Scenario | None) -> Scenario | None:
    """The run's scenario (for account names, whitespace and point maps), or None if unreadable."""
    try:
        return scenario_of(run, scenario, overrides=["constraints.contiguity=false"])
    except RunError:
        return None


def _pocket_tables(
    pockets: PocketsResult | str | Path | None,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]:
    """pockets, members and suggestions (each None when absent) from a result or a folder."""
    if pockets is None:
        return None, None, None
    if isinstance(pockets, str | Path):
        folder = Path(pockets)
        if not (folder / "pockets.csv").is_file():
            raise ScenarioError(
                f"{folder}: not a pockets folder (pockets.csv missing); write one with "
                "align pockets SCENARIO --out DIR"
            )

        def read(name: str) -> pd.DataFrame | None:
            p = folder / name
            ids = {"pocket_id": str, "account_id": str, "nearest_territory": str}
            return pd.read_csv(p, dtype=ids) if p.is_file() else None

        return read("pockets.csv"), read("pocket_members.csv"), read("suggestions.csv")
    return pockets.pockets, pockets.members, None


# ---------------------------------------------------------------------------------------------
# sections


def _headline(run: Run) -> str:
    before = run.kpis.get("before", {})
    after = run.kpis.get("after", {})
    cards = []
    picks = [
        ("potential.max_abs_deviation", "Largest potential gap to target", "pct"),
        ("workload.max_abs_deviation", "Largest workload gap to target", "pct"),
        ("weighted_mean_distance", "Mean distance to rep (by potential)", "dist"),
        ("moved_accounts", "Accounts changing owner", "num"),
    ]
    for key, label, kind in picks:
        if key not in after:
            continue
        was = ""
        cls = ""
        if key in before and key != "moved_accounts":
            b_, a_ = float(before[key]), float(after[key])
            cls = "better" if a_ < b_ - 1e-12 else "worse" if a_ > b_ + 1e-12 else ""
            was = f'<div class="was">today {_kind(b_, kind)}</div>'
        elif key == "moved_accounts":
            share = after.get("moved_share.accounts")
            was = f'<div class="was">{_pct(share)} of accounts</div>' if share is not None else ""
        cards.append(
            f'<div class="card"><div class="label">{_esc(label)}</div>'
            f'<div class="value {cls}">{_kind(after[key], kind)}</div>{was}</div>'
        )
    rows = []
    for key, label, kind in HEADLINE:
        if key not in after and key not in before:
            continue
        b: float | None = before.get(key)
        a: float | None = after.get(key)
        change = ""
        if b is not None and a is not None:
            d = float(a) - float(b)
            txt = _units().change(key, b, a)
            if txt == DASH:  # a side is not finite (an empty territory): no change to show
                change = txt
            else:
                better = d < 0 if not key.startswith(("moved", "accounts_per_territory")) else None
                cls = "" if better is None or abs(d) < 1e-12 else "better" if better else "worse"
                change = f'<span class="{cls}">{_esc(txt)}</span>'
        rows.append(
            f'<tr><td class="l">{_esc(label)}</td><td>{_kind(b, kind) if b is not None else "–"}'
            f"</td><td>{_kind(a, kind) if a is not None else '–'}</td><td>{change}</td></tr>"
        )
    table = (
        '<table id="kpi-table"><thead><tr><th class="l">KPI</th><th>today</th><th>plan</th>'
        "<th>change</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    gap = "" if run.gap is None else f", proven within {_pct(run.gap, 2)} of the best possible"
    status = (
        f'<span class="pill {"ok" if run.status == Status.OPTIMAL else "warn"}">{_esc(run.status)}'
        f"</span>"
    )
    bands = ", ".join(f"{_esc(m)} within ±{v.tolerance:.0%}" for m, v in run.balance.items())
    far = run.stats.get("far_accounts")
    warning = ""
    if far:
        warning = f'<p class="warn" id="far-accounts">Warning: {_esc(far["message"])}</p>'
    return (
        '<section id="headline"><h2>Headline: today against the plan</h2>'
        f'<p class="lead">Plan {status}{gap}. Rules: {bands or "no balance bands"}.</p>'
        f'{warning}<div class="cards">{"".join(cards)}</div>{table}</section>'
    )


def _map_section(run: Run, scenario: Scenario | None) -> str:
    from ..plots import plot_map

    try:
        ax = plot_map(run, scenario=scenario)
    except (RunError, ScenarioError) as e:
        return f'<section id="map"><h2>Map</h2><p class="note">No map: {_esc(e)}</p></section>'
    uri = _png(ax, dpi=90)
    return (
        '<section id="map"><h2>Map of the plan</h2>'
        + _figure(
            uri,
            "map of the territories",
            "Every account in its territory's colour; large markers are the reps' home bases.",
            fig_id="map-figure",
        )
        + "</section>"
    )


def _balance_section(run: Run) -> str:
    from ..plots import plot_balance

    measures = list(run.balance)
    ax = plot_balance(run)
    from ..plots import _root

    _root(ax).set_size_inches(12, 4.6)
    bands = ", ".join(f"{m} ±{v.tolerance:.0%}" for m, v in run.balance.items())
    fig = _figure(
        _png(ax, dpi=90),
        "deviation from target per territory",
        f"Each territory's deviation from its target for {', '.join(measures) or 'potential'}; "
        f"dashed lines are the bands ({bands or 'none set'}).",
        fig_id="balance-chart",
    )
    return (
        '<section id="balance"><h2>Balance</h2><p class="lead">Every territory against the band '
        "its rules allow: 0 is exactly on target.</p>" + fig + "</section>"
    )


def _moved_section(assignments: pd.DataFrame, accounts: pd.DataFrame | None) -> str:
    moved = assignments.loc[assignments["moved"].astype(bool)].copy()
    if "previous_territory" not in assignments or moved.empty:
        return (
            '<section id="moved"><h2>Accounts that move</h2>'
            '<p class="lead">No account changes owner.</p></section>'
        )
    cols: list[tuple[str, str, str]] = [("account_id", "account", "text")]
    if accounts is not None:
        label = [c for c in NAME_COLUMNS if c in accounts][:1]
        extra = [c for c in ("city", "state", "segment", "potential", "revenue") if c in accounts]
        details = [*label, *extra]
        # the scenario's details win over the copies a run carries (name, city, state)
        moved = moved.drop(columns=[c for c in details if c in moved]).merge(
            accounts[["account_id", *details]], on="account_id", how="left"
        )
        cols += [(c, "name", "text") for c in label]
        cols += [(c, c, "money" if c in ("potential", "revenue") else "text") for c in extra]
    cols += [("previous_territory", "from", "text"), ("territory_id", "to", "text"),
             ("distance", "distance to new rep", "dist")]  # fmt: skip
    if "potential" in moved:
        moved = moved.sort_values("potential", ascending=False, kind="stable")
    flows = (
        moved.groupby(["previous_territory", "territory_id"]).size().sort_values(ascending=False)
    )
    pairs = cast(dict[tuple[str, str], int], flows.head(6).to_dict())
    top_flows = ", ".join(f"{a} → {b} ({n})" for (a, b), n in pairs.items())
    shown = moved.head(MOVED_ROWS)
    more = (
        f'<p class="note">The {MOVED_ROWS} largest by potential of {len(moved):,} are listed; '
        "all are in the run's assignments.csv (moved = True).</p>"
        if len(moved) > MOVED_ROWS
        else ""
    )
    return (
        '<section id="moved"><h2>Accounts that move</h2>'
        f'<p class="lead">{len(moved):,} accounts change owner. Largest flows: {_esc(top_flows)}.'
        "</p>" + _table(shown, cols, cls="moved", scroll=True) + more + "</section>"
    )


def _ranges_chart(quotas: pd.DataFrame) -> Any:
    from matplotlib.figure import Figure

    q = quotas.reset_index(drop=True)
    n = len(q)
    fig = Figure(figsize=(11, max(3.0, 0.28 * n + 1.2)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    lo = q["min_quota"].to_numpy(dtype=float)
    hi = q["max_quota"].to_numpy(dtype=float)
    ax.barh(y, hi - lo, left=lo, height=0.55, color="#9ec5ea", label="negotiation range")
    ax.scatter(q["quota"], y, color="#1f5fa8", zorder=3, s=28, label="proposed quota")
    if "revenue" in q:
        ax.scatter(q["revenue"], y, marker="|", color="black", s=90, zorder=3, label="last revenue")
    ax.set_yticks(y, q["territory_id"].astype(str), fontsize=8)
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e6:,.1f}M"))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Quota per territory within the range the rules allow")
    return ax


def _quota_section(proposal: Proposal) -> str:
    if not proposal.has_quotas or proposal.quotas is None:
        reasons = "".join(f"<li>{_esc(r)}</li>" for r in proposal.reasons)
        return (
            '<section id="quotas"><h2>Quota proposal</h2>'
            f'<p class="lead">No quotas: status {_esc(proposal.status)}. {_esc(proposal.message)}'
            f"</p><ul>{reasons}</ul></section>"
        )
    q = proposal.quotas
    k = proposal.kpis
    lead = (
        f"Version {proposal.version}: company goal {_units().money(proposal.goal)} met exactly. "
        f"Growth over last revenue from {_pct(k.get('growth.min'), sign=True)} to "
        f"{_pct(k.get('growth.max'), sign=True)} (median {_pct(k.get('growth.median'), sign=True)})"
        f"; {int(k.get('over_potential_alert', 0))} territories above "
        f"{_pct(k.get('potential_alert'), 0)} of their potential."
    )
    regions = ""
    if proposal.regions is not None:
        regions = "<h3>Regions</h3>" + _table(
            proposal.regions,
            [("region", "region", "text"), ("territories", "territories", "num"),
             ("potential", "potential", "money"), ("revenue", "last revenue", "money"),
             ("quota", "quota", "money"), ("growth", "growth", "spct"),
             ("quota_to_potential", "quota / potential", "pct")],
            cls="regions",
        )  # fmt: skip
    cols: list[tuple[str, str, str]] = [
        ("territory_id", "territory", "text"), ("region", "region", "text"),
        ("potential", "potential", "money"), ("revenue", "last revenue", "money"),
        ("quota", "quota", "money"), ("growth", "growth", "spct"),
        ("min_quota", "range from", "money"), ("max_quota", "range to", "money"),
        ("binding", "what holds it", "text"),
    ]  # fmt: skip
    if q["reason"].astype(str).str.strip().ne("").any():
        cols.append(("reason", "override reason", "text"))
    chart = ""
    if {"min_quota", "max_quota"} <= set(q.columns):
        chart = _figure(
            _png(_ranges_chart(q), dpi=80),
            "quota ranges",
            "Each quota (dot) inside the least and the most it can be while the goal and every "
            "other rule hold (bar); the tick is last period's revenue.",
            fig_id="quota-ranges",
        )
    return (
        '<section id="quotas"><h2>Quota proposal</h2>'
        f'<p class="lead">{_esc(lead)}</p>{regions}<h3>Territories</h3>'
        + _table(q, cols, cls="quotas", scroll=True)
        + chart
        + "</section>"
    )


def _pockets_section(
    pockets: pd.DataFrame, suggestions: pd.DataFrame | None, pockets_png: str | None
) -> str:
    if pockets.empty:
        return (
            '<section id="pockets"><h2>Opportunity pockets</h2>'
            '<p class="lead">No pocket of whitespace is dense enough to report.</p></section>'
        )
    total = float(pockets["whitespace"].sum())
    lead = (
        f"{len(pockets)} clusters of untapped potential (whitespace = potential − revenue), "
        f"{_units().money(total)} in all. The far-owner share is the part of a pocket's "
        "whitespace whose rep lives beyond the pocket's radius."
    )
    table = _table(
        pockets.head(POCKET_ROWS),
        [("pocket_id", "pocket", "text"), ("accounts", "accounts", "num"),
         ("whitespace", "whitespace", "money"), ("potential", "potential", "money"),
         ("dominant_segment", "main segment", "text"), ("radius_80_km", "radius", "dist"),
         ("nearest_territory", "nearest rep", "text"),
         ("nearest_distance_km", "distance", "dist"),
         ("far_owner_share", "far-owner share", "pct")],
        cls="pockets",
    )  # fmt: skip
    sugg = ""
    if suggestions is not None and len(suggestions):
        sugg = "<h3>A new territory at a pocket: the effect</h3>" + _table(
            suggestions,
            [("scenario", "variant", "text"), ("status", "status", "text"),
             ("potential.max_abs_deviation", "largest potential gap", "pct"),
             ("weighted_mean_distance", "mean distance (by potential)", "dist"),
             ("weighted_mean_distance.change", "change", "dist"),
             ("whitespace_within_reach", "whitespace within reach", "pct"),
             ("whitespace_within_reach.change", "change", "spct")],
            cls="suggestions",
        )  # fmt: skip
    fig = (
        _figure(
            pockets_png,
            "map of the pockets",
            "Pockets sized by whitespace; triangles are home bases.",
            fig_id="pockets-map",
        )
        if pockets_png
        else ""
    )
    return (
        f'<section id="pockets"><h2>Opportunity pockets</h2><p class="lead">{_esc(lead)}</p>'
        + table
        + sugg
        + fig
        + "</section>"
    )


def _plans(
    run: Run,
    territories: pd.DataFrame,
    assignments: pd.DataFrame,
    accounts: pd.DataFrame | None,
    quotas: pd.DataFrame | None,
    pockets: pd.DataFrame | None,
    members: pd.DataFrame | None,
) -> str:
    """One page per territory."""
    owner = assignments[["account_id", "territory_id"]]
    acc = owner
    if accounts is not None:
        acc = owner.merge(accounts, on="account_id", how="left", suffixes=("", "_scenario"))
        if "revenue" in acc:
            acc["whitespace"] = (acc["potential"] - acc["revenue"].fillna(0)).clip(lower=0)
        elif "potential" in acc:
            acc["whitespace"] = acc["potential"]
    qrow = quotas.set_index("territory_id") if quotas is not None else None
    in_pocket = None
    if pockets is not None and members is not None and len(members):
        m = members.merge(acc, on="account_id", how="left")
        if "whitespace" in m:
            in_pocket = (
                m.groupby(["territory_id", "pocket_id"])
                .agg(accounts=("account_id", "size"), whitespace=("whitespace", "sum"))
                .reset_index()
            )
    pages = []
    balance = list(run.balance)
    for t in territories.to_dict("records"):
        tid = str(t["territory_id"])
        name = t.get("name") if isinstance(t.get("name"), str) else ""
        rep = t.get("rep") if isinstance(t.get("rep"), str) else ""
        region = t.get("region") if isinstance(t.get("region"), str) else ""
        mine = acc.loc[acc["territory_id"].astype(str) == tid]
        facts = [("Accounts", _num(t.get("accounts")))]
        for m_ in balance:
            if m_ in t:
                dev = _pct(t.get(f"{m_}_deviation"), sign=True)
                shown = _kind(t[m_], "money" if m_ in ("potential", "revenue") else "num")
                facts.append((m_.capitalize(), f"{shown} <small>({dev})</small>"))
        if "revenue" in mine:
            facts.append(("Last revenue", _kind(mine["revenue"].sum(), "money")))
        if "whitespace" in mine:
            facts.append(("Whitespace", _kind(mine["whitespace"].sum(), "money")))
        if qrow is not None and tid in qrow.index:
            r = qrow.loc[tid]
            facts.append(("Quota", _kind(r["quota"], "money")))
            if "growth" in r and pd.notna(r["growth"]):
                facts.append(("Growth", _pct(r["growth"], sign=True)))
            if "min_quota" in r and pd.notna(r["min_quota"]):
                facts.append(
                    (
                        "Negotiation range",
                        f"{_kind(r['min_quota'], 'money')} – {_kind(r['max_quota'], 'money')}",
                    )
                )
        facts.append(("Mean distance", _kind(t.get("mean_distance"), "dist")))
        fact_html = "".join(
            f'<div class="fact"><div class="label">{_esc(lbl)}</div><div class="value">{v}</div>'
            "</div>"
            for lbl, v in facts
        )
        targets = ""
        if "whitespace" in mine and len(mine):
            top = mine.sort_values("whitespace", ascending=False, kind="stable").head(TOP_TARGETS)
            cols: list[tuple[str, str, str]] = [("account_id", "account", "text")]
            cols += [(c, "name", "text") for c in [c for c in NAME_COLUMNS if c in top][:1]]
            cols += [(c, c, "text") for c in ("city", "state", "segment") if c in top]
            cols += [(c, c, "money") for c in ("potential", "revenue", "whitespace") if c in top]
            targets = f"<h3>Top {len(top)} target accounts by whitespace</h3>" + _table(
                top, cols, cls="targets"
            )
        inside = ""
        if in_pocket is not None:
            mp = in_pocket.loc[in_pocket["territory_id"].astype(str) == tid]
            mp = mp.sort_values("whitespace", ascending=False)
            if len(mp):
                inside = "<h3>Pockets inside this territory</h3>" + _table(
                    mp,
                    [("pocket_id", "pocket", "text"), ("accounts", "its accounts here", "num"),
                     ("whitespace", "whitespace here", "money")],
                    cls="plan-pockets",
                )  # fmt: skip
            else:
                inside = '<p class="note">No pocket reaches into this territory.</p>'
        who = " · ".join(_esc(x) for x in (name, rep, region) if x)
        pages.append(
            f'<section class="plan" id="plan-{_esc(tid)}"><h2>Territory {_esc(tid)}'
            f'{" — " + who if who else ""}</h2><div class="facts">{fact_html}</div>'
            f"{targets}{inside}</section>"
        )
    return "\n".join(pages)


def _tracking_section(proposal: Proposal | None) -> str:
    """tracking.md of the newest tracking folder of the proposal, as preformatted text."""
    if proposal is None or proposal.path is None:
        return ""
    found = sorted(Path(proposal.path).glob("tracking-*/tracking.md"))
    if not found:
        return ""
    text = found[-1].read_text()
    return (
        '<section id="tracking"><h2>Progress against quota</h2>'
        f'<pre style="white-space:pre-wrap">{_esc(text)}</pre></section>'
    )


# ---------------------------------------------------------------------------------------------
# the page


def render_report(
    run: Run,
    *,
    proposal: Proposal | None = None,
    pockets: PocketsResult | str | Path | None = None,
    scenario: Scenario | None = None,
    title: str | None = None,
) -> str:
    """The report of ``run`` as one self-contained HTML string; see :func:`write_report`."""
    if not run.has_plan or run.assignments is None or run.territories is None:
        raise RunError(
            f"{run.path or 'run'}: status {run.status}, it holds no plan to report; solve again "
            "with a longer solver.time_limit_s or wider bands"
        )
    token = _UNITS.set(run.units)
    try:
        return _render(run, proposal, pockets, scenario, title)
    finally:
        _UNITS.reset(token)


def _render(
    run: Run,
    proposal: Proposal | None,
    pockets: PocketsResult | str | Path | None,
    scenario: Scenario | None,
    title: str | None,
) -> str:
    assert run.assignments is not None and run.territories is not None
    sc = _scenario_of(run, scenario)
    accounts = None
    if sc is not None:
        accounts = sc.accounts.drop(columns=["geometry"], errors="ignore").copy()
        accounts["account_id"] = accounts["account_id"].astype(str)
    assignments = run.assignments.astype({"account_id": str, "territory_id": str})
    territories = run.territories
    pk, members, suggestions = _pocket_tables(pockets)
    pockets_png = None
    if pockets is not None and not isinstance(pockets, str | Path) and pockets.n_pockets:
        tmp = Path(_tmp_png())
        try:
            pockets.plot(tmp)
            pockets_png = "data:image/png;base64," + base64.b64encode(tmp.read_bytes()).decode()
        finally:
            tmp.unlink(missing_ok=True)
    elif isinstance(pockets, str | Path) and (Path(pockets) / "pockets.png").is_file():
        data = (Path(pockets) / "pockets.png").read_bytes()
        pockets_png = "data:image/png;base64," + base64.b64encode(data).decode()
    name = title or f"Territory plan: {run.scenario or 'scenario'}"
    links = [("headline", "Headline"), ("map", "Map"), ("balance", "Balance"),
             ("moved", "Moved accounts")]  # fmt: skip
    if proposal is not None:
        links.append(("quotas", "Quotas"))
    if pk is not None:
        links.append(("pockets", "Pockets"))
    links.append(("plans", "Territory plans"))
    nav = "".join(f'<a href="#{k}">{_esc(v)}</a>' for k, v in links)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    n_acc, n_ter = len(assignments), len(territories)
    model = run.settings.model if run.settings is not None else None
    sub = (
        f"{n_acc:,} accounts · {n_ter} territories · solved with {_esc(run.solver)} in "
        f"{run.wall_seconds:.1f} s · {_esc(model or 'custom rules')}"
    )
    parts = [
        _headline(run),
        _map_section(run, sc),
        _balance_section(run),
        _moved_section(assignments, accounts),
    ]
    if proposal is not None:
        parts.append(_quota_section(proposal))
        parts.append(_tracking_section(proposal))
    if pk is not None:
        parts.append(_pockets_section(pk, suggestions, pockets_png))
    quotas = proposal.quotas if proposal is not None and proposal.has_quotas else None
    parts.append(
        '<section id="plans"><h2>Territory plans</h2><p class="lead">One page per territory '
        "(each prints on its own page): its numbers, its best target accounts by whitespace"
        + (", its quota and range" if quotas is not None else "")
        + (" and the pockets inside it" if pk is not None else "")
        + ".</p></section>"
    )
    parts.append(_plans(run, territories, assignments, accounts, quotas, pk, members))
    body = "\n".join(p for p in parts if p)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(name)}</title>
<style>{CSS}</style></head>
<body>
<header class="top"><div class="inner"><h1>{_esc(name)}</h1><p>{sub}</p>
<nav>{nav}</nav></div></header>
<main>
{body}
</main>
<footer>align {__version__} · written {when}{_source(run, proposal)}</footer>
</body></html>
"""


def _source(run: Run, proposal: Proposal | None) -> str:
    bits = []
    if run.path is not None:
        bits.append(f"run {_esc(run.path)}")
    if proposal is not None and proposal.path is not None:
        bits.append(f"proposal {_esc(proposal.path)}")
    return " · " + " · ".join(bits) if bits else ""


def _tmp_png() -> str:
    import os
    import tempfile

    fd, name = tempfile.mkstemp(suffix=".png")
    os.close(fd)
    return name


def write_report(
    run: Run,
    *,
    proposal: Proposal | None = None,
    pockets: PocketsResult | str | Path | None = None,
    out: str | Path = "report.html",
    scenario: Scenario | None = None,
    title: str | None = None,
) -> Path:
    """Write the run's report as one self-contained HTML file (nothing fetched when opened).

    Parameters
    ----------
    run
        A run with a plan (:func:`align.solve` or :func:`align.load_run`).
    proposal
        A quota proposal of the run (:func:`align.propose_quotas` or :func:`align.load_proposal`):
        adds the quotas, their negotiation ranges, and each territory's quota to its plan.
    pockets
        A :class:`~align.pockets.PocketsResult` or a folder written by ``align pockets``: adds the
        pockets (and suggestions.csv when present) and the pockets inside each territory.
    out
        The HTML file to write.
    scenario
        The run's scenario; by default read from ``run.scenario_path`` (for account details,
        whitespace and point maps; the report stands without it).

    Raises
    ------
    RunError
        When the run holds no plan.
    """
    text = render_report(run, proposal=proposal, pockets=pockets, scenario=scenario, title=title)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
