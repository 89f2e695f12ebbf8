"""Trend review: what moved in the business, before this quarter's plan is drawn.

Revenue history comes from accounts' ``revenue_<period>`` columns (revenue_2025,
revenue_2026, ...) or from history.csv (account_id, period, amount); periods sort in calendar
order (2025 < 2026, 2025Q4 < 2026Q1). An account with no revenue in a period counts 0.

* growth = last period / the period before - 1 (NaN when the period before is 0); ``cagr`` =
  the compound growth per period from the first to the last;
* a territory is the account's ``current_territory`` and its region that territory's
  ``region`` in territories.csv; ``(none)`` where either is missing;
* concentration = the share of a period's revenue held by the top ``top_share`` (10%) of
  accounts (ceil(10% x accounts), ranked by that period's revenue);
* size = the quartile of ``potential`` among all accounts (small, medium, large, very large);
  last-period revenue when there is no potential;
* whitespace = max(potential - last period's revenue, 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from .errors import ScenarioError
from .history import build_history, period_key
from .scenario import Scenario
from .validation import Table

NONE = "(none)"
SIZES = ("small", "medium", "large", "very large")
DIMENSIONS = ("segment", "region", "territory")
PROFILE = ("segment", "size", "region")
NO_HISTORY = (
    "no revenue history: the trend review needs revenue by period, as accounts.csv columns "
    "named revenue_<period> (e.g. revenue_2025, revenue_2026) or history.csv "
    "(account_id, period, amount)"
)


@dataclass(eq=False)
class Review:
    """The tables of a trend review (DataFrames) and a readable summary.

    ``by_segment``, ``by_region``, ``by_territory``: revenue per period, growth, cagr, share,
    potential and whitespace per group. ``concentration``: per period, the top accounts' share.
    ``top_customers``: the top accounts by last-period revenue; ``top_profile``: per segment,
    size and region, the share of top customers against the share of all accounts (``lift``).
    ``opportunities``: segments and regions ranked by whitespace and by growth.
    """

    periods: list[str]
    by_segment: pd.DataFrame
    by_region: pd.DataFrame
    by_territory: pd.DataFrame
    concentration: pd.DataFrame
    top_customers: pd.DataFrame
    top_profile: pd.DataFrame
    opportunities: pd.DataFrame
    top_share: float = 0.10
    accounts: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per account

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        names = ("by_segment", "by_region", "by_territory", "concentration", "top_customers",
                 "top_profile", "opportunities")  # fmt: skip
        return {name: getattr(self, name) for name in names}

    def write(self, folder: str | Path) -> list[Path]:
        """One CSV per table, charts (PNG) and summary.md."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for name, frame in self.tables.items():
            frame.to_csv(folder / f"{name}.csv", index=False, float_format="%.10g")
            files.append(folder / f"{name}.csv")
        files += self._charts(folder)
        (folder / "summary.md").write_text(self.markdown(charts=True))
        files.append(folder / "summary.md")
        return files

    # -- summary -----------------------------------------------------------------------------

    def markdown(self, *, charts: bool = False) -> str:
        """A short summary in Markdown (with the chart images when ``charts``)."""
        first, last = self.periods[0], self.periods[-1]
        total = self.concentration.set_index("period")["total_revenue"]
        lines = ["# Trend review", ""]
        if len(self.periods) > 1:
            prev = self.periods[-2]
            lines.append(
                f"Revenue {_money(total[last])} in {last}, {_change(total[last], total[prev])} "
                f"on {prev} ({_money(total[prev])}); periods {first} to {last}."
            )
        else:
            lines.append(f"Revenue {_money(total[last])} in {last}; one period, so no growth.")
        c = self.concentration.iloc[-1]
        lines += [
            "",
            f"**Concentration**: the top {self.top_share:.0%} of accounts "
            f"({int(c['top_accounts'])} of {int(c['accounts'])}) hold {c['top_share']:.1%} of "
            f"{last} revenue.",
        ]
        common = []
        for dim in PROFILE:
            rows = self.top_profile.loc[self.top_profile["dimension"] == dim]
            if len(rows):
                r = rows.sort_values(["top_share", "lift"], ascending=False).iloc[0]
                common.append(
                    f"{dim} {r['value']} ({r['top_share']:.0%} of top customers, "
                    f"{r['all_share']:.0%} of all accounts)"
                )
        if common:
            lines += ["", "**Top customers have in common**: " + "; ".join(common) + "."]
        for label, key in (("Fastest growth", "growth"), ("Most whitespace", "whitespace")):
            parts = []
            for dim in ("segment", "region"):
                rows = self.opportunities.loc[self.opportunities["dimension"] == dim]
                rows = rows.dropna(subset=[key]).sort_values(key, ascending=False).head(3)
                shown = ", ".join(
                    f"{r['group']} ({_pct(r[key]) if key == 'growth' else _money(r[key])})"
                    for _, r in rows.iterrows()
                )
                if shown:
                    parts.append(f"{dim}s: {shown}")
            if parts:
                lines += ["", f"**{label}**: " + "; ".join(parts) + "."]
        for title, frame in (("Segments", self.by_segment), ("Regions", self.by_region)):
            lines += ["", f"## {title}", ""] + _md_table(frame, self.periods)
        if charts:
            lines += ["", "## Charts", "", "![growth](growth.png)", "",
                      "![concentration](concentration.png)", "",
                      "![opportunities](opportunities.png)"]  # fmt: skip
        return "\n".join(lines) + "\n"

    def _charts(self, folder: Path) -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        last = self.periods[-1]
        paths = [folder / n for n in ("growth.png", "concentration.png", "opportunities.png")]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, (dim, frame) in zip(
            axes, (("segment", self.by_segment), ("region", self.by_region)), strict=True
        ):
            ax.bar(frame[dim].astype(str), frame["growth"].fillna(0.0) * 100)
            ax.set_title(f"Growth by {dim}, {last} vs previous (%)")
            ax.tick_params(axis="x", rotation=45)
            ax.axhline(0, color="grey", linewidth=0.8)
        fig.tight_layout()
        fig.savefig(paths[0], dpi=100)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(5, 4))
        revenue = np.sort(self.accounts[f"revenue_{last}"].to_numpy(dtype=float))[::-1]
        total = revenue.sum()
        share = np.r_[0.0, np.cumsum(revenue) / total] if total > 0 else np.zeros(len(revenue) + 1)
        ax.plot(np.linspace(0, 100, len(share)), share * 100)
        ax.axvline(self.top_share * 100, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel("accounts, largest first (%)")
        ax.set_ylabel(f"share of {last} revenue (%)")
        ax.set_title("Revenue concentration")
        fig.tight_layout()
        fig.savefig(paths[1], dpi=100)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(6, 4))
        for dim, marker in (("segment", "o"), ("region", "s")):
            rows = self.opportunities.loc[self.opportunities["dimension"] == dim]
            ax.scatter(
                rows["whitespace"], rows["growth"].fillna(0.0) * 100, marker=marker, label=dim
            )
            for _, r in rows.iterrows():
                ax.annotate(str(r["group"]), (r["whitespace"], (r["growth"] or 0.0) * 100),
                            fontsize=7)  # fmt: skip
        ax.set_xlabel("whitespace")
        ax.set_ylabel("growth (%)")
        ax.set_title("Where to look: whitespace and growth")
        ax.legend()
        fig.tight_layout()
        fig.savefig(paths[2], dpi=100)
        plt.close(fig)
        return paths


def review(
    scenario_or_accounts: Scenario | pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    territories: pd.DataFrame | None = None,
    top_share: float = 0.10,
) -> Review:
    """Review revenue trends of a scenario (or of an accounts DataFrame).

    Parameters
    ----------
    scenario_or_accounts
        A scenario (its history, accounts and territories are used) or an accounts frame
        (account_id and optionally segment, potential, current_territory, revenue_<period>).
    history
        account_id, period, amount; replaces the scenario's history.csv.
    territories
        territory_id and region, for accounts given as a frame.
    top_share
        The share of accounts counted as top customers (0.10 = the top 10%).

    Raises
    ------
    ScenarioError
        When there is no revenue history or it is invalid.
    """
    if not 0 < top_share <= 1:
        raise ScenarioError(f"top_share must be > 0 and <= 1 (got {top_share:g})")
    if isinstance(scenario_or_accounts, Scenario):
        accounts = scenario_or_accounts.accounts
        territories = scenario_or_accounts.territories if territories is None else territories
        long = scenario_or_accounts.history
    else:
        accounts = scenario_or_accounts.reset_index(drop=True)
        long = None
    if history is not None or long is None:
        table = Table("accounts.csv", accounts, header_rows=1)
        extra = None if history is None else Table("history.csv", history.reset_index(drop=True))
        long, problems = build_history(table, extra)
        if problems:
            raise ScenarioError(problems)
    if long is None or long.empty:
        raise ScenarioError(NO_HISTORY)
    periods = sorted(pd.unique(long["period"]), key=period_key)
    wide = long.pivot_table(
        index="account_id", columns="period", values="amount", aggfunc="sum", fill_value=0.0
    )
    wide = wide.reindex(index=accounts["account_id"].astype(str), columns=periods, fill_value=0.0)
    acc = _account_frame(accounts, territories, wide, periods)
    by = {dim: _group_table(acc, dim, periods) for dim in DIMENSIONS}
    concentration = _concentration(acc, periods, top_share)
    top, profile = _top_customers(acc, periods, top_share)
    opportunities = pd.concat(
        [
            by[dim]
            .rename(columns={dim: "group"})
            .assign(dimension=dim)[["dimension", "group", "whitespace", "growth", "potential"]]
            for dim in ("segment", "region")
        ],
        ignore_index=True,
    )
    for key in ("whitespace", "growth"):
        opportunities[f"rank_{key}"] = opportunities.groupby("dimension")[key].rank(
            ascending=False, method="min"
        )
    return Review(
        periods=periods,
        by_segment=by["segment"],
        by_region=by["region"],
        by_territory=by["territory"],
        concentration=concentration,
        top_customers=top,
        top_profile=profile,
        opportunities=opportunities,
        top_share=top_share,
        accounts=acc,
    )


def _account_frame(
    accounts: pd.DataFrame, territories: pd.DataFrame | None, wide: pd.DataFrame, periods: list[str]
) -> pd.DataFrame:
    """One row per account: segment, territory, region, size, revenue per period, whitespace."""

    def labels(col: str) -> pd.Series:
        if col not in accounts:
            return pd.Series(NONE, index=accounts.index, dtype=object)
        s = accounts[col].astype(object)
        return s.where(s.notna() & (s.astype(str).str.strip() != ""), NONE).astype(str)

    acc = pd.DataFrame({"account_id": accounts["account_id"].astype(str).to_numpy()})
    acc["segment"] = labels("segment").to_numpy()
    acc["territory"] = labels("current_territory").to_numpy()
    region = pd.Series(dtype=object)
    if territories is not None and "region" in territories:
        ter = territories.dropna(subset=["region"])
        region = pd.Series(
            ter["region"].astype(str).to_numpy(), index=ter["territory_id"].astype(str)
        )
    acc["region"] = acc["territory"].map(region).fillna(NONE).to_numpy()
    for p in periods:
        acc[f"revenue_{p}"] = wide[p].to_numpy(dtype=float)
    last = acc[f"revenue_{periods[-1]}"]
    if "potential" in accounts:
        acc["potential"] = accounts["potential"].to_numpy(dtype=float)
        acc["whitespace"] = np.maximum(acc["potential"] - last, 0.0)
        basis = acc["potential"]
    else:
        acc["potential"] = np.nan
        acc["whitespace"] = np.nan
        basis = last
    # quartiles of the rank, so ties and few distinct values still give four bands
    ranks = basis.rank(method="first")
    acc["size"] = (
        pd.qcut(ranks, len(SIZES), labels=list(SIZES)).astype(str) if len(acc) >= 4 else SIZES[0]
    )
    return acc


def _growth(last: pd.Series | np.ndarray, prev: pd.Series | np.ndarray) -> np.ndarray:
    last, prev = np.asarray(last, dtype=float), np.asarray(prev, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev > 0, last / prev - 1.0, np.nan)


def _group_table(acc: pd.DataFrame, dim: str, periods: list[str]) -> pd.DataFrame:
    cols = [f"revenue_{p}" for p in periods]
    g = acc.groupby(dim, sort=True)
    out = g[cols].sum()
    out.insert(0, "accounts", g.size())
    last = out[cols[-1]]
    out["growth"] = _growth(last, out[cols[-2]]) if len(cols) > 1 else np.nan
    if len(cols) > 2:
        first = out[cols[0]].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(first > 0, last.to_numpy() / first, np.nan)
        out["cagr"] = ratio ** (1.0 / (len(cols) - 1)) - 1.0
    else:
        out["cagr"] = out["growth"]
    total = last.sum()
    out["share"] = last / total if total > 0 else np.nan
    out["potential"] = g["potential"].sum(min_count=1)
    out["whitespace"] = g["whitespace"].sum(min_count=1)
    ws = out["whitespace"].sum()
    out["whitespace_share"] = out["whitespace"] / ws if ws > 0 else np.nan
    out = out.reset_index().sort_values([cols[-1], dim], ascending=[False, True])
    return out.reset_index(drop=True)


def _top_count(n: int, top_share: float) -> int:
    return max(1, math.ceil(round(top_share * n, 9))) if n else 0


def _concentration(acc: pd.DataFrame, periods: list[str], top_share: float) -> pd.DataFrame:
    k = _top_count(len(acc), top_share)
    rows = []
    for p in periods:
        revenue = np.sort(acc[f"revenue_{p}"].to_numpy(dtype=float))[::-1]
        total = float(revenue.sum())
        top = float(revenue[:k].sum())
        rows.append(
            {
                "period": p,
                "accounts": len(acc),
                "accounts_with_revenue": int((revenue > 0).sum()),
                "top_accounts": k,
                "top_revenue": top,
                "total_revenue": total,
                "top_share": top / total if total > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _top_customers(
    acc: pd.DataFrame, periods: list[str], top_share: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = f"revenue_{periods[-1]}"
    k = _top_count(len(acc), top_share)
    ranked = acc.sort_values([last, "account_id"], ascending=[False, True])
    top = ranked.head(k).copy()
    top["growth"] = (
        _growth(top[last], top[f"revenue_{periods[-2]}"]) if len(periods) > 1 else np.nan
    )
    cols = ["account_id", "segment", "size", "region", "territory", last, "growth", "potential",
            "whitespace"]  # fmt: skip
    top = top[cols].reset_index(drop=True)
    rows = []
    top_total = float(top[last].sum())
    for dim in PROFILE:
        all_share = acc[dim].value_counts(normalize=True)
        counts = top[dim].value_counts()
        revenue = top.groupby(dim)[last].sum()
        for value, n in counts.items():
            rows.append(
                {
                    "dimension": dim,
                    "value": value,
                    "top_accounts": int(n),
                    "top_share": n / k,
                    "all_share": float(all_share.loc[cast(Any, value)]),
                    "lift": (n / k) / float(all_share.loc[cast(Any, value)]),
                    "top_revenue_share": (
                        float(revenue.loc[cast(Any, value)]) / top_total if top_total else np.nan
                    ),
                }
            )
    profile = pd.DataFrame(rows).sort_values(
        ["dimension", "top_accounts", "value"], ascending=[True, False, True]
    )
    return top, profile.reset_index(drop=True)


def _money(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{v:,.0f}"


def _pct(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{v:+.1%}"


def _change(now: float, before: float) -> str:
    return _pct(now / before - 1.0) if before > 0 else "new"


def _md_table(frame: pd.DataFrame, periods: list[str]) -> list[str]:
    dim = frame.columns[0]
    cols = [dim, "accounts", f"revenue_{periods[-1]}", "growth", "share", "whitespace"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in frame[cols].itertuples(index=False):
        cells = [
            str(r[0]),
            f"{r[1]:,}",
            _money(r[2]),
            _pct(r[3]),
            f"{r[4]:.1%}" if math.isfinite(r[4]) else "-",
            _money(r[5]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
