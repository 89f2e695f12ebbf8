"""Progress tracking against a quota proposal: figures computed by hand."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import write_csv

import align
from align.tracking import plan_calendar, proposal_of, track

AS_OF = "2027-02-15"  # 46 of Q1's 90 days elapsed (31 in January, 15 in February)
Q1 = 46 / 90

QUOTAS: list[dict[str, Any]] = [
    # territory_id, region, quota and its seasonal split (the quota proposal's contract)
    {"territory_id": "T1", "region": "East", "quota": 1000, "period_q1": 100, "period_q2": 200,
     "period_q3": 300, "period_q4": 400},
    {"territory_id": "T2", "region": "East", "quota": 900, "period_q1": 225, "period_q2": 225,
     "period_q3": 225, "period_q4": 225},
    {"territory_id": "T3", "region": "West", "quota": 600, "period_q1": 300, "period_q2": 100,
     "period_q3": 100, "period_q4": 100},
]  # fmt: skip
PLAN = {"A1": "T1", "A2": "T1", "A3": "T2", "A4": "T3"}
ACTUALS = [
    ["account_id", "date", "amount"],
    ["A1", "2027-01-10", 30],
    ["A2", "2027-02-15", 20],  # on the as-of date: counted
    ["A3", "2027-02-01", 60],
    ["A3", "2027-02-16", 500],  # after the as-of date: ignored, counted in the summary
    ["A4", "2026-12-31", 1000],  # before the plan year
    ["A4", "2027-01-20", 200],
    ["X9", "2027-02-01", 70],  # not in the plan
    ["X9", "2027-03-01", 5],
]
PIPELINE = [
    ["account_id", "stage", "amount", "close_date"],
    ["A3", "Proposal", 400, "2027-05-01"],
    ["A1", "Negotiation", 2000, "2027-06-30"],
    ["A4", "Closed Won", 99, "2027-03-01"],
    ["A4", "Proposal", 50, "2027-02-10"],  # closing before the as-of date
    ["A4", "Proposal", 70, "2028-02-01"],  # after the plan year
    ["Z1", "Proposal", 10, "2027-04-01"],
]


def make_proposal(
    base: Path,
    quotas: list[dict[str, Any]] = QUOTAS,
    periods: list[str] | None = None,
    **meta: Any,
) -> Path:
    """A run folder with assignments.csv and a proposal folder naming it, as quotas writes."""
    run = base / "run"
    run.mkdir(exist_ok=True)
    write_csv(
        run / "assignments.csv", [{"account_id": a, "territory_id": t} for a, t in PLAN.items()]
    )
    folder = base / "proposal"
    folder.mkdir()
    write_csv(folder / "quotas.csv", quotas)
    info = {
        "version": 1,
        "parent": None,
        "run": str(run.resolve()),
        "goal": 2500,
        "periods": ["q1", "q2", "q3", "q4"] if periods is None else periods,
        "components": [],
        "status": "draft",
        **meta,
    }
    (folder / "proposal.json").write_text(json.dumps(info))
    return folder


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "proposal": make_proposal(tmp_path),
        "actuals": write_csv(tmp_path / "actuals.csv", ACTUALS),
        "pipeline": write_csv(tmp_path / "pipeline.csv", PIPELINE),
    }


def test_quarters_of_a_calendar_year_are_whole_months() -> None:
    cal = plan_calendar(pd.Timestamp("2027-01-01"), ["q1", "q2", "q3", "q4"])
    assert [f"{d:%m-%d}" for d in cal["start"]] == ["01-01", "04-01", "07-01", "10-01"]
    assert f"{cal['end'].iloc[-1]:%Y-%m-%d}" == "2028-01-01"


def test_attainment_pace_gap_and_coverage_match_a_hand_computation(files: dict[str, Path]) -> None:
    t = track(files["proposal"], files["actuals"], pipeline=files["pipeline"], as_of=AS_OF)
    got = t.territories.set_index("territory_id")
    expected = {"T1": 100 * Q1, "T2": 225 * Q1, "T3": 300 * Q1}
    booked = {"T1": 50.0, "T2": 60.0, "T3": 200.0}
    quota = {"T1": 1000.0, "T2": 900.0, "T3": 600.0}
    for tid in ("T1", "T2", "T3"):
        row = got.loc[tid]
        assert row["expected"] == pytest.approx(expected[tid])
        assert row["bookings"] == booked[tid]
        assert row["attainment"] == pytest.approx(booked[tid] / quota[tid])
        assert row["pace"] == pytest.approx(booked[tid] / expected[tid])
        assert row["projected"] == pytest.approx(booked[tid] / expected[tid] * quota[tid])
        assert row["gap"] == quota[tid] - booked[tid]
    assert got.loc["T1", "pace"] == pytest.approx(0.978260869)  # 50 / 51.11
    assert got["pipeline"].to_dict() == {"T1": 2000.0, "T2": 400.0, "T3": 0.0}
    assert got.loc["T2", "coverage"] == pytest.approx(400 / 840)
    # T2: pace 52% < 90% and coverage 0.48x < 1x; T1 is on pace; T3 ahead of its profile
    assert got["at_risk"].to_dict() == {"T1": False, "T2": True, "T3": False}
    assert got.loc["T2", "risk"] == "pace 52% < 90%, pipeline covers 0.48x of the gap < 1x"
    regions = t.regions.set_index("region")
    assert list(regions.index) == ["East", "West", "(all)"]
    east = regions.loc["East"]
    assert (east["quota"], east["bookings"], east["gap"], east["at_risk"]) == (1900, 110, 1790, 1)
    assert east["pace"] == pytest.approx(110 / (325 * Q1))
    assert east["coverage"] == pytest.approx(2400 / 1790)
    total = regions.loc["(all)"]
    assert (total["territories"], total["bookings"], total["pipeline"]) == (3, 310, 2400)
    assert total["projected"] == pytest.approx(310 / (625 * Q1) * 2500)


def test_a_proposal_given_as_frames_tracks_as_its_folder(files: dict[str, Path]) -> None:
    plan = pd.DataFrame({"account_id": list(PLAN), "territory_id": list(PLAN.values())})
    frames = proposal_of(
        pd.DataFrame(QUOTAS), plan, periods=["q1", "q2", "q3", "q4"], year_start="2026-12-01"
    )
    by_frames = track(frames, files["actuals"], pipeline=files["pipeline"], as_of=AS_OF)
    fiscal = files["proposal"].parent / "fiscal"
    fiscal.mkdir()
    folder = make_proposal(fiscal, year_start="2026-12-01")
    by_folder = track(folder, files["actuals"], pipeline=files["pipeline"], as_of=AS_OF)
    assert f"{by_frames.year_start:%Y-%m-%d}" == "2026-12-01"
    for name in ("territories", "regions", "unknown"):
        pd.testing.assert_frame_equal(getattr(by_frames, name), getattr(by_folder, name))
    assert by_frames.ignored == by_folder.ignored
    assert by_frames.markdown() == by_folder.markdown()
    assert by_frames.territories["bookings"].sum() > 0


def test_a_date_whose_plan_year_ends_past_the_calendar_is_refused(files: dict[str, Path]) -> None:
    with pytest.raises(align.ScenarioError) as e:
        track(files["proposal"], files["actuals"], as_of="9999-12-31")
    assert e.value.problems == ["as_of: '9999-12-31' is too late; use a date before 9999-01-01"]


def test_unknown_accounts_and_ignored_rows_are_reported_not_dropped(
    files: dict[str, Path], tmp_path: Path
) -> None:
    t = track(files["proposal"], files["actuals"], pipeline=files["pipeline"], as_of=AS_OF)
    assert t.unknown.to_dict("records") == [
        {"account_id": "X9", "source": "actuals", "rows": 2, "amount": 75.0,
         "amount_in_window": 70.0},
        {"account_id": "Z1", "source": "pipeline", "rows": 1, "amount": 10.0,
         "amount_in_window": 10.0},
    ]  # fmt: skip
    assert t.ignored == {
        "bookings dated after 2027-02-15": {"rows": 2, "amount": 505},
        "bookings outside the plan year": {"rows": 1, "amount": 1000},
        "pipeline deals in a closed stage": {"rows": 1, "amount": 99},
        "pipeline deals closing on or before 2027-02-15": {"rows": 1, "amount": 50},
        "pipeline deals closing after the plan year": {"rows": 1, "amount": 70},
    }
    files_written = t.write(tmp_path / "out")
    assert [p.name for p in files_written] == [
        "tracking.csv", "tracking_regions.csv", "unknown_accounts.csv", "tracking.md"
    ]  # fmt: skip
    unknown = pd.read_csv(tmp_path / "out" / "unknown_accounts.csv")
    assert list(unknown["account_id"]) == ["X9", "Z1"]
    md = (tmp_path / "out" / "tracking.md").read_text()
    assert md.startswith("## Progress against quota, as of 2027-02-15")
    assert "| T2 | East | 900 | 60 | 52.2% | 840 |" in md
    assert "| X9 | actuals | 2 | 75 | 70 |" in md


def test_without_periods_the_quota_accrues_evenly_by_day(tmp_path: Path) -> None:
    quotas = [{k: v for k, v in q.items() if not k.startswith("period_")} for q in QUOTAS]
    proposal = make_proposal(tmp_path, quotas, periods=[])
    t = track(proposal, pd.DataFrame(ACTUALS[1:], columns=ACTUALS[0]), as_of=AS_OF)
    got = t.territories.set_index("territory_id")
    assert got.loc["T3", "expected"] == pytest.approx(600 * 46 / 365)
    assert got.loc["T3", "projected"] == pytest.approx(200 / (600 * 46 / 365) * 600)
    # without a pipeline, pace alone decides: T1 50 of 126.0 expected is behind
    assert got["at_risk"].to_dict() == {"T1": True, "T2": True, "T3": False}
    assert "pipeline" not in got.columns


def test_a_fiscal_year_start_from_the_proposal_shifts_the_periods(tmp_path: Path) -> None:
    proposal = make_proposal(tmp_path, year_start="2026-10-01")
    t = track(proposal, pd.DataFrame(ACTUALS[1:], columns=ACTUALS[0]), as_of=AS_OF)
    got = t.territories.set_index("territory_id")
    # q1 = Oct-Dec, all of it elapsed; q2 = Jan-Mar, 46 of 90 days
    assert got.loc["T1", "expected"] == pytest.approx(100 + 200 * Q1)
    # the December booking of A4 now falls in the plan year
    assert got.loc["T3", "bookings"] == 1200
    assert f"{t.year_end:%Y-%m-%d}" == "2027-10-01"


def test_invalid_actuals_are_listed_row_by_row(tmp_path: Path) -> None:
    proposal = make_proposal(tmp_path)
    bad = write_csv(
        tmp_path / "actuals.csv",
        [["account_id", "date", "amount"], ["A1", "15/02/2027", 10], ["A2", "2027-01-02", -5],
         ["", "2027-01-03", 1], ["A3", "", 2]],
    )  # fmt: skip
    with pytest.raises(align.ScenarioError) as e:
        track(proposal, bad, as_of=AS_OF)
    assert e.value.problems == [
        "actuals.csv row 4: account_id is empty",
        "actuals.csv row 3: amount must be >= 0 (got -5)",
        "actuals.csv row 5: date is missing",
        "actuals.csv row 2: date must be a date such as 2027-02-15 (got '15/02/2027')",
    ]
    cols = write_csv(tmp_path / "pipeline.csv", [["account_id", "stage", "amt", "close"]])
    with pytest.raises(align.ScenarioError) as e:
        track(proposal, tmp_path / "missing.csv", as_of=AS_OF)
    assert e.value.problems == [f"{tmp_path / 'missing.csv'}: no such file"]
    good = write_csv(tmp_path / "good.csv", ACTUALS)
    with pytest.raises(align.ScenarioError) as e:
        track(proposal, good, pipeline=cols, as_of=AS_OF)
    assert e.value.problems == [
        "pipeline.csv: missing required column 'amount' (did you mean 'amt'?) (columns: "
        "account_id, stage, amt, close)",
        "pipeline.csv: missing required column 'close_date' (did you mean 'close'?) (columns: "
        "account_id, stage, amt, close)",
    ]
    with pytest.raises(align.ScenarioError, match="as_of: '2027-02-30' is not a date"):
        track(proposal, good, as_of="2027-02-30")


def test_track_on_the_command_line(
    files: dict[str, Path], tmp_path: Path, run_align: Callable[..., tuple[int, str, str]]
) -> None:
    out = tmp_path / "tracked"
    code, stdout, err = run_align(
        "track", str(files["proposal"]), "--actuals", str(files["actuals"]), "--pipeline",
        str(files["pipeline"]), "--as-of", AS_OF, "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert "1 of 3 territories at risk" in stdout
    assert "at risk: T2 (East): pace 52% < 90%, pipeline covers 0.48x of the gap < 1x" in stdout
    assert "not in the plan: X9 (actuals): 2 rows, 75" in stdout
    assert "not counted: bookings dated after 2027-02-15: 2 rows, 505" in stdout
    assert pd.read_csv(out / "tracking.csv")["at_risk"].tolist() == [False, True, False]
    nope = tmp_path / "nope.csv"
    code, stdout, err = run_align(
        "track", str(files["proposal"]), "--actuals", str(nope), "--as-of", AS_OF
    )
    assert code == 2
    assert err == f"error: 1 problem in the scenario:\n- {nope}: no such file\n"


def test_the_bundled_example_tracks_as_computed_by_hand() -> None:
    ex = Path("data/examples/cycle")
    t = track(ex / "proposal", ex / "actuals.csv", pipeline=ex / "pipeline.csv", as_of=AS_OF)
    t2 = t.territories.set_index("territory_id").loc["T2"]
    # T2 (after the plan moved A10 in): A05 6 + A07 11 booked; A07's 25 on Feb 20 is later
    assert t2["bookings"] == 17
    assert t2["pace"] == pytest.approx(17 / (64 * Q1))
    assert t2["coverage"] == pytest.approx((15 + 60 + 10) / (320 - 17))
    assert t.at_risk["territory_id"].tolist() == ["T2"]
    assert t.unknown["account_id"].tolist() == ["A99"]


def test_bookings_of_a_territory_without_a_quota_are_shown_not_lost(tmp_path: Path) -> None:
    proposal = make_proposal(tmp_path, QUOTAS[:2])
    t = track(proposal, pd.DataFrame(ACTUALS[1:], columns=ACTUALS[0]), as_of=AS_OF)
    t3 = t.territories.set_index("territory_id").loc["T3"]
    assert (t3["bookings"], t3["region"], bool(t3["at_risk"])) == (200, "", False)
    assert math.isnan(t3["quota"])
    regions = t.regions.set_index("region")
    assert regions.loc["(none)", "bookings"] == 200
    assert regions.loc["(all)", "bookings"] == 310
