"""Trend review: figures checked against pandas computed here, history input rules."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import align
from align.history import period_key
from align.reviewing import NO_HISTORY, review

TERRITORIES = [
    {"territory_id": "T1", "region": "East", "x": 0, "y": 0},
    {"territory_id": "T2", "region": "East", "x": 5, "y": 0},
    {"territory_id": "T3", "region": "West", "x": 10, "y": 0},
]


def make_accounts(n: int = 20, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    r24 = rng.integers(0, 1000, n).astype(float)
    r25 = np.round(r24 * rng.uniform(0.7, 1.5, n))
    r26 = np.round(r25 * rng.uniform(0.7, 1.5, n))
    r25[3] = 0  # an account without 2025 revenue
    df = pd.DataFrame(
        {
            "account_id": [f"A{i:02d}" for i in range(n)],
            "x": rng.uniform(0, 10, n).round(2),
            "y": 0.0,
            "potential": np.round(r26 * rng.uniform(1.0, 3.0, n)),
            "segment": rng.choice(["Retail", "Health", "Finance"], n),
            "current_territory": rng.choice(["T1", "T2", "T3"], n).astype(object),
            # columns out of calendar order: the review sorts periods
            "revenue_2026": r26,
            "revenue_2024": r24,
            "revenue_2025": r25,
        }
    )
    df.loc[5, "current_territory"] = None  # no territory, so no region
    df.loc[6, "potential"] = df.loc[6, "revenue_2026"] / 2  # more revenue than potential
    return df


@pytest.fixture
def accounts() -> pd.DataFrame:
    return make_accounts()


@pytest.fixture
def folder(accounts: pd.DataFrame, write_scenario: Callable[..., Path]) -> Path:
    rows = accounts.astype(object).where(accounts.notna(), "").to_dict("records")
    return write_scenario(accounts=rows, territories=TERRITORIES)


def expected_by(accounts: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """Growth, cagr, share and whitespace per group, computed here with plain pandas."""
    df = accounts.assign(
        key=key, whitespace=(accounts["potential"] - accounts["revenue_2026"]).clip(lower=0)
    )
    g = df.groupby("key")[["revenue_2024", "revenue_2025", "revenue_2026", "whitespace"]].sum()
    g["growth"] = g["revenue_2026"] / g["revenue_2025"] - 1
    g["cagr"] = (g["revenue_2026"] / g["revenue_2024"]) ** 0.5 - 1
    g["share"] = g["revenue_2026"] / g["revenue_2026"].sum()
    g["accounts"] = df.groupby("key").size()
    return g


def check(got: pd.DataFrame, dim: str, want: pd.DataFrame) -> None:
    got = got.set_index(dim)
    assert sorted(got.index) == sorted(want.index)
    cols = ["accounts", "revenue_2024", "revenue_2025", "revenue_2026", "growth", "cagr", "share",
            "whitespace"]  # fmt: skip
    pd.testing.assert_frame_equal(
        got.loc[want.index, cols], want[cols], check_names=False, check_dtype=False
    )
    # the largest group by last-period revenue comes first
    assert got["revenue_2026"].is_monotonic_decreasing


def test_review_growth_by_segment_region_and_territory_match_pandas(
    folder: Path, accounts: pd.DataFrame
) -> None:
    rv = review(align.load_scenario(folder))
    assert rv.periods == ["2024", "2025", "2026"]
    check(rv.by_segment, "segment", expected_by(accounts, accounts["segment"]))
    territory = accounts["current_territory"].fillna("(none)")
    check(rv.by_territory, "territory", expected_by(accounts, territory))
    regions = {t["territory_id"]: t["region"] for t in TERRITORIES}
    region = accounts["current_territory"].map(regions).fillna("(none)")
    check(rv.by_region, "region", expected_by(accounts, region))
    assert rv.by_region.set_index("region").loc["(none)", "accounts"] == 1


def test_review_concentration_and_top_customers_match_pandas(
    folder: Path, accounts: pd.DataFrame
) -> None:
    rv = review(align.load_scenario(folder))
    k = math.ceil(0.1 * len(accounts))  # top 10% of 20 accounts: 2
    for period in ("2024", "2025", "2026"):
        col = accounts[f"revenue_{period}"]
        row = rv.concentration.set_index("period").loc[period]
        assert row["top_accounts"] == k
        assert row["top_share"] == pytest.approx(col.nlargest(k).sum() / col.sum())
    top = accounts.nlargest(k, "revenue_2026")
    assert list(rv.top_customers["account_id"]) == list(top["account_id"])
    growth = top["revenue_2026"] / top["revenue_2025"] - 1
    assert rv.top_customers["growth"].to_numpy() == pytest.approx(growth.to_numpy())
    seg = rv.top_profile.loc[rv.top_profile["dimension"] == "segment"].set_index("value")
    want = top["segment"].value_counts() / k
    assert seg["top_share"].to_dict() == pytest.approx(want.to_dict())
    share_all = accounts["segment"].value_counts(normalize=True)
    for value, s in want.items():
        assert seg.loc[value, "lift"] == pytest.approx(s / share_all[value])
    # size: quartile of potential; the top customers' sizes come from the same ranking
    quartile = pd.qcut(accounts["potential"].rank(method="first"), 4, labels=False)
    names = np.array(["small", "medium", "large", "very large"])
    assert list(rv.top_customers["size"]) == list(names[quartile[top.index]])


def test_history_csv_gives_the_same_review_as_period_columns(
    folder: Path, accounts: pd.DataFrame, write_scenario: Callable[..., Path]
) -> None:
    plain = accounts.drop(columns=["revenue_2024", "revenue_2025", "revenue_2026"])
    long = accounts.melt(
        id_vars="account_id",
        value_vars=["revenue_2024", "revenue_2025", "revenue_2026"],
        var_name="period",
        value_name="amount",
    )
    long["period"] = long["period"].str.removeprefix("revenue_")
    # split one amount over two rows: repeated (account, period) rows add up
    extra = long.iloc[[0]].assign(amount=long["amount"].iloc[0] / 2)
    long.loc[0, "amount"] /= 2
    long = pd.concat([long, extra], ignore_index=True).sample(frac=1, random_state=1)
    other = write_scenario(
        accounts=plain.astype(object).where(plain.notna(), "").to_dict("records"),
        territories=TERRITORIES,
    )
    long.to_csv(other / "history.csv", index=False)
    a = review(align.load_scenario(folder))
    b = review(align.load_scenario(other))
    for name, frame in a.tables.items():
        pd.testing.assert_frame_equal(frame, b.tables[name], check_dtype=False, obj=name)
    # the Python API takes DataFrames too
    c = review(plain, history=long, territories=pd.DataFrame(TERRITORIES))
    pd.testing.assert_frame_equal(a.by_region, c.by_region, check_dtype=False)


def test_periods_sort_in_calendar_order() -> None:
    labels = ["2026Q1", "2025Q4", "2025Q2"]
    assert sorted(labels, key=period_key) == ["2025Q2", "2025Q4", "2026Q1"]
    assert sorted(["2025-10", "2025-9", "2024-12"], key=period_key) == [
        "2024-12", "2025-9", "2025-10"
    ]  # fmt: skip


def test_invalid_history_is_listed_row_by_row(
    write_scenario: Callable[..., Path], base_accounts: list[dict[str, object]]
) -> None:
    base_accounts[0]["revenue_2025"] = -3
    folder = write_scenario(accounts=base_accounts)
    (folder / "history.csv").write_text(
        "account_id,period,amount\nA1,2024,10\nA11,2024,5\nA2,last year,4\nA3,2024,-1\nA4,2025,7\n"
    )
    with pytest.raises(align.ScenarioError) as e:
        align.load_scenario(folder)
    assert e.value.problems == [
        "accounts.csv row 2: revenue_2025 must be >= 0 (got -3)",
        "history.csv row 3: account_id 'A11' is not an account_id of accounts.csv "
        "(did you mean 'A1'?)",
        "history.csv row 4: period must be a year such as 2025, or a year and a part such as "
        "2025Q1, 2025-H2 or 2025-03 (got 'last year')",
        "history.csv: period 2025 is also a column revenue_2025 of accounts.csv; give each "
        "period's revenue in one place",
        "history.csv row 5: amount must be >= 0 (got -1)",
    ]
    (folder / "history.csv").write_text("account_id,period,amount\nA1,2024Q4,10\nA2,2024,4\n")
    base_accounts[0]["revenue_2025"] = 3
    mixed = write_scenario(accounts=base_accounts)
    (mixed / "history.csv").write_text((folder / "history.csv").read_text())
    with pytest.raises(align.ScenarioError) as e:
        align.load_scenario(mixed)
    assert e.value.problems == [
        "revenue history: periods mix years and quarters; use one granularity"
    ]


def test_review_without_history_is_a_clear_message(
    write_scenario: Callable[..., Path],
    tmp_path: Path,
    run_align: Callable[..., tuple[int, str, str]],
) -> None:
    folder = write_scenario()
    with pytest.raises(align.ScenarioError) as e:
        review(align.load_scenario(folder))
    assert e.value.problems == [NO_HISTORY]
    code, _, err = run_align("review", str(folder), "--out", str(tmp_path / "r"))
    assert code == 2
    assert err == f"error: 1 problem in the scenario:\n- {NO_HISTORY}\n"


def test_review_on_the_command_line_writes_tables_charts_and_summary(
    folder: Path,
    accounts: pd.DataFrame,
    tmp_path: Path,
    run_align: Callable[..., tuple[int, str, str]],
) -> None:
    out = tmp_path / "review"
    code, stdout, err = run_align("review", str(folder), "--out", str(out))
    assert code == 0, err
    total = accounts["revenue_2026"].sum()
    growth = total / accounts["revenue_2025"].sum() - 1
    assert f"Revenue {total:,.0f} in 2026, {growth:+.1%} on 2025" in stdout
    names = {p.name for p in out.iterdir()}
    assert names == {
        "by_segment.csv", "by_region.csv", "by_territory.csv", "concentration.csv",
        "top_customers.csv", "top_profile.csv", "opportunities.csv", "growth.png",
        "concentration.png", "opportunities.png", "summary.md",
    }  # fmt: skip
    assert (out / "growth.png").read_bytes()[:4] == b"\x89PNG"
    summary = (out / "summary.md").read_text()
    assert "![growth](growth.png)" in summary
    seg = pd.read_csv(out / "by_segment.csv")
    assert seg["revenue_2026"].sum() == total
