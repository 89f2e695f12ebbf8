"""Revenue history for trend review: ``revenue_<period>`` columns of accounts.csv and
history.csv, checked and read into one long table."""

from __future__ import annotations

import re

import pandas as pd

from .validation import (
    Problems,
    Table,
    as_ids,
    check_numeric,
    check_refs,
    missing_columns,
    suggest,
)

PERIOD = re.compile(r"^(\d{4})(?:[-_ ]?(?:(Q)([1-4])|(H)([12])|(M)?(0?[1-9]|1[0-2])))?$", re.I)
PERIOD_HINT = "a year such as 2025, or a year and a part such as 2025Q1, 2025-H2 or 2025-03"
HISTORY_PREFIX = "revenue_"


def period_key(label: str) -> tuple[int, str, int]:
    """Sort key and granularity of a period label: (year, kind, part); kind '' for a year."""
    m = PERIOD.match(label.strip())
    if m is None:
        raise ValueError(label)
    year, q, qn, h, hn, _, mn = m.groups()
    if q:
        return int(year), "Q", int(qn)
    if h:
        return int(year), "H", int(hn)
    if mn:
        return int(year), "M", int(mn)
    return int(year), "", 0


def history_columns(columns: list[str]) -> list[str]:
    """The ``revenue_<period>`` columns of accounts.csv (others named revenue_* are ordinary)."""
    return [
        c
        for c in columns
        if c.startswith(HISTORY_PREFIX) and PERIOD.match(c[len(HISTORY_PREFIX) :])
    ]


def build_history(accounts: Table, history: Table | None) -> tuple[pd.DataFrame | None, list[str]]:
    """Revenue by account and period from accounts' revenue_<period> columns and history.csv.

    Returns the long table (account_id, period, amount; amounts of repeated (account, period)
    rows of history.csv are added up) or None without history, and the problems found.
    """
    if "account_id" not in accounts.frame:
        return None, []  # reported by the accounts' own checks
    account_ids = as_ids(accounts.frame["account_id"])
    p = Problems()
    frames = []
    cols = history_columns([str(c) for c in accounts.frame.columns])
    for col in cols:
        amount = check_numeric(p, accounts, col, required=False).fillna(0.0)
        frames.append(
            pd.DataFrame(
                {"account_id": account_ids, "period": col[len(HISTORY_PREFIX) :], "amount": amount}
            )
        )
    in_columns = {col[len(HISTORY_PREFIX) :] for col in cols}
    if history is not None and not missing_columns(p, history, ("account_id", "period", "amount")):
        h = history.frame
        ids = check_refs(p, history, "account_id")
        known = set(account_ids.dropna())
        options = sorted(known)
        unknown = ids.notna().to_numpy() & ~ids.isin(known).to_numpy()
        p.rows(
            history,
            unknown,
            lambda i: (
                f"account_id {ids.iloc[i]!r} is not an account_id of accounts.csv"
                f"{suggest(str(ids.iloc[i]), options)}"
            ),
        )
        period = as_ids(h["period"])
        blank = period.isna().to_numpy()
        p.rows(history, blank, lambda i: "period is empty")
        bad = ~blank & ~period.fillna("").map(lambda v: bool(PERIOD.match(v))).to_numpy()
        p.rows(history, bad, lambda i: f"period must be {PERIOD_HINT} (got {period.iloc[i]!r})")
        twice = sorted(set(period.dropna()) & in_columns)
        if twice:
            p.add(
                f"{history.label}: period {twice[0]} is also a column revenue_{twice[0]} of "
                f"{accounts.label}; give each period's revenue in one place"
            )
        amount = check_numeric(p, history, "amount")
        frames.append(pd.DataFrame({"account_id": ids, "period": period, "amount": amount}))
    if not frames or p.items:
        return None, p.items
    out = pd.concat(frames, ignore_index=True)
    out = pd.DataFrame(
        out.groupby(["account_id", "period"], as_index=False, sort=False)["amount"].sum()
    )
    kinds = {period_key(x)[1] for x in out["period"]}
    if len(kinds) > 1:
        names = {"": "years", "Q": "quarters", "H": "halves", "M": "months"}
        mixed = " and ".join(names[k] for k in sorted(kinds))
        return None, [f"revenue history: periods mix {mixed}; use one granularity"]
    return out, []
