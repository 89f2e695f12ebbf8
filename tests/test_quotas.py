"""Quota proposals: exact goals, caps, fairness, ranges, overrides, components, periods."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import align
from align.continuity import adjust_run
from align.errors import ScenarioError
from align.quotas import carry_proposal, load_proposal, override_quotas, propose_quotas
from align.runs import Run
from align.settings import QuotaSettings

UNIT = 1000.0


def make_case(
    potential: list[float],
    revenue: list[float] | None = None,
    *,
    regions: list[str] | None = None,
    per_territory: int = 1,
    extra: dict[str, list[Any]] | None = None,
) -> tuple[Run, align.Scenario]:
    """One scenario and a run that owns accounts as given: territory k gets accounts k*n..k*n+n-1,
    each with an equal part of the territory's potential and revenue."""
    m = len(potential)
    revenue = revenue or [0.0] * m
    n = per_territory
    rows = []
    for k in range(m):
        for i in range(n):
            rows.append(
                {
                    "account_id": f"A{k * n + i:03d}",
                    "x": float(k),
                    "y": float(i),
                    "potential": potential[k] / n,
                    "revenue": revenue[k] / n,
                    "current_territory": f"T{k + 1}",
                }
            )
    acc = pd.DataFrame(rows)
    for col, values in (extra or {}).items():
        acc[col] = values
    ter = pd.DataFrame({"territory_id": [f"T{k + 1}" for k in range(m)], "x": range(m), "y": 0.0})
    if regions is not None:
        ter["region"] = regions
    sc = align.make_scenario(acc, ter)
    run = Run(
        status="optimal",
        assignments=acc[["account_id"]].assign(territory_id=acc["current_territory"]),
        territories=ter[["territory_id"]],
    )
    return run, sc


def quotas_of(p: align.Proposal) -> dict[str, float]:
    assert p.quotas is not None
    return dict(zip(p.quotas["territory_id"], p.quotas["quota"], strict=True))


def only_potential(**kw: Any) -> QuotaSettings:
    return QuotaSettings.model_validate({"blend": {"potential": 1, "history": 0}, **kw})


def test_quotas_are_the_fair_shares_when_no_rule_binds() -> None:
    run, sc = make_case([100, 200, 300, 400])
    p = propose_quotas(run, goal=1_000_000, settings=only_potential(), scenario=sc)
    assert p.status == "optimal"
    assert quotas_of(p) == {"T1": 100_000, "T2": 200_000, "T3": 300_000, "T4": 400_000}
    assert p.quotas is not None and (p.quotas["binding"] == "").all()


def test_a_growth_cap_binds_and_the_rest_scale_proportionally_with_exact_ranges() -> None:
    # fair shares 100k, 100k, 200k; T3 may grow 20% over 150k = 180k; the 20k left over goes
    # to T1 and T2 in proportion to their fair shares (the chi-square optimum)
    run, sc = make_case([100, 100, 200], [100_000, 100_000, 150_000])
    p = propose_quotas(run, goal=400_000, settings=only_potential(max_growth=0.2), scenario=sc)
    assert quotas_of(p) == {"T1": 110_000, "T2": 110_000, "T3": 180_000}
    q = p.quotas.set_index("territory_id")  # type: ignore[union-attr]
    assert q.loc["T3", "binding"] == "capped at +20% growth"
    assert q.loc["T1", "growth"] == pytest.approx(0.10)
    # T1: at least 400k - 120k (T2 cap) - 180k (T3 cap), at most its own cap 120k
    assert (q.loc["T1", "min_quota"], q.loc["T1", "max_quota"]) == (100_000, 120_000)
    # T3: at least 400k - 2 x 120k
    assert (q.loc["T3", "min_quota"], q.loc["T3", "max_quota"]) == (160_000, 180_000)
    assert q.loc["T2", "quota_to_potential"] == pytest.approx(110_000 / 100)


def test_goal_above_what_the_caps_allow_is_refused_with_the_numbers() -> None:
    run, sc = make_case([100, 100], [100_000, 200_000])
    p = propose_quotas(run, goal=400_000, settings=only_potential(max_growth=0.25), scenario=sc)
    assert p.status == "infeasible" and p.quotas is None
    assert p.reasons == [
        "goal 400,000 is above the most the caps allow (375,000); raise quota.max_growth "
        "(now +25%) for T1, T2"
    ]
    with pytest.raises(align.InfeasibleError, match="above the most the caps allow"):
        p.raise_for_status()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_territories_get_equal_quotas_and_more_potential_never_less(seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(50, 400, size=6).astype(float)
    potential = np.r_[base, base[:3]]  # T7..T9 equal T1..T3
    revenue = [100_000.0] * len(potential)  # all else equal: same history, same caps
    run, sc = make_case(list(potential), revenue)
    goal = float(rng.integers(1_000, 1_300)) * UNIT
    p = propose_quotas(run, goal=goal, settings=only_potential(max_growth=0.5), scenario=sc)
    q = np.array(list(quotas_of(p).values()))
    assert q.sum() == goal
    assert p.quotas is not None and (p.quotas["binding"] != "").any()  # the caps take part
    for a in range(3):
        # equal territories: equal, or one unit apart when the goal does not split evenly
        assert abs(q[a] - q[a + 6]) <= UNIT
    more = potential[:, None] > potential[None, :]
    assert (q[:, None] >= q[None, :])[more].all()  # more potential never gets less quota


@pytest.mark.parametrize("seed", [3, 4])
def test_negotiation_ranges_are_what_the_other_territories_can_absorb(seed: int) -> None:
    # without components the LP ranges have a closed form: within a region with goal G_r,
    # q_j >= G_r - sum of the others' maxima and q_j <= G_r - sum of the others' minima
    rng = np.random.default_rng(seed)
    m = 8
    revenue = rng.integers(50, 150, size=m) * 1000.0
    regions = ["N"] * 4 + ["S"] * 4
    run, sc = make_case(list(rng.integers(50, 300, size=m).astype(float)), list(revenue),
                        regions=regions)  # fmt: skip
    settings = {"min_growth": -0.1, "max_growth": 0.3}
    lo = np.ceil(revenue * 0.9 / UNIT) * UNIT
    hi = np.floor(revenue * 1.3 / UNIT) * UNIT
    goals = {r: float(np.round((lo + hi)[4 * k : 4 * k + 4].sum() / 2 / UNIT) * UNIT)
             for k, r in enumerate(["N", "S"])}  # fmt: skip
    hold = {"T2": float(lo[1] + hi[1]) // 2 // UNIT * UNIT}
    p = propose_quotas(run, goal=sum(goals.values()), settings=settings, region_goals=goals,
                       overrides=hold, scenario=sc)  # fmt: skip
    q = p.quotas.set_index("territory_id")  # type: ignore[union-attr]
    assert q.loc["T2", "quota"] == hold["T2"]
    for j in range(m):
        block = np.arange(4) + (4 if j >= 4 else 0)
        others = [i for i in block if i != j]
        # the other overrides stay fixed; a territory's own override is released
        olo = np.array([hold["T2"] if i == 1 else lo[i] for i in others])
        ohi = np.array([hold["T2"] if i == 1 else hi[i] for i in others])
        g = goals[regions[j]]
        tid = f"T{j + 1}"
        assert q.loc[tid, "min_quota"] == max(lo[j], g - ohi.sum()), tid
        assert q.loc[tid, "max_quota"] == min(hi[j], g - olo.sum()), tid
        assert q.loc[tid, "min_quota"] <= q.loc[tid, "quota"] <= q.loc[tid, "max_quota"]


def test_an_odd_unit_goes_to_the_territory_listed_first() -> None:
    run, sc = make_case([100, 100])
    p = propose_quotas(run, goal=201_000, settings=only_potential(), scenario=sc)
    assert quotas_of(p) == {"T1": 101_000, "T2": 100_000}


def test_region_goals_are_met_and_rolled_up_with_a_total_line() -> None:
    run, sc = make_case([100, 300, 200, 200], regions=["East", "East", "West", "West"])
    p = propose_quotas(
        run,
        goal=1_000_000,
        settings=only_potential(),
        region_goals={"East": 600_000, "West": 400_000},
        scenario=sc,
    )
    assert quotas_of(p) == {"T1": 150_000, "T2": 450_000, "T3": 200_000, "T4": 200_000}
    r = p.regions.set_index("region")  # type: ignore[union-attr]
    assert list(r.index) == ["East", "West", "total"]
    assert r.loc["East", "quota"] == r.loc["East", "goal"] == 600_000
    assert r.loc["total", "quota"] == 1_000_000 and r.loc["total", "territories"] == 4
    # a region's goal holds while ranging: T1 can only trade with T2
    q = p.quotas.set_index("territory_id")  # type: ignore[union-attr]
    assert (q.loc["T3", "min_quota"], q.loc["T3", "max_quota"]) == (0, 400_000)


def test_region_goals_come_from_the_file_the_settings_name(tmp_path: Path) -> None:
    run, sc = make_case([100, 300, 200, 200], regions=["East", "East", "West", "West"])
    (tmp_path / "region_goals.csv").write_text("region,goal\nWest,300000\nEast,700000\n")
    sc.source = tmp_path
    settings = only_potential(region_goals="region_goals.csv")
    p = propose_quotas(run, goal=1_000_000, settings=settings, scenario=sc)
    assert quotas_of(p) == {"T1": 175_000, "T2": 525_000, "T3": 150_000, "T4": 150_000}
    assert p.region_goals == {"West": 300_000, "East": 700_000}
    (tmp_path / "bad.csv").write_text("region,goal\nWest,lots\n")
    with pytest.raises(ScenarioError) as e:
        propose_quotas(run, goal=1_000_000, region_goals=tmp_path / "bad.csv", scenario=sc)
    assert e.value.problems == ["bad.csv row 2: goal must be a number (got 'lots')"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"goal": 1_000_500},
            "goal 1,000,500 is not a multiple of the rounding unit quota.unit = 1,000; use "
            "1,000,000 or 1,001,000, or set quota.unit to a divisor of it",
        ),
        (
            {"goal": 1_000_000, "overrides": {"T11": 1000}},
            "override T11=1,000: 'T11' is not a territory_id (did you mean 'T1'?)",
        ),
        (
            {"goal": 1_000_000, "region_goals": {"Eats": 500_000, "East": 500_000}},
            "region goals: region 'Eats' is not a region of territories.csv (did you mean "
            "'East'?); regions: East",
        ),
        (
            {"goal": 1_000_000, "region_goals": {"East": 900_000}},
            "region goals sum to 900,000, the goal is 1,000,000; make them sum to the goal",
        ),
    ],
)
def test_bad_input_is_a_clear_error(kwargs: dict[str, Any], message: str) -> None:
    run, sc = make_case([100, 100], regions=["East", "East"])
    with pytest.raises(ScenarioError) as e:
        propose_quotas(run, scenario=sc, **kwargs)
    assert message in e.value.problems


def test_a_run_without_a_plan_is_refused() -> None:
    run, sc = make_case([100, 100])
    run.status, run.path = "infeasible", Path("runs/tight")
    with pytest.raises(ScenarioError, match=r"run runs/tight: status infeasible, it holds no plan"):
        propose_quotas(run, goal=100_000, scenario=sc)


def test_override_holds_the_quota_rebalances_the_rest_and_keeps_the_reason(
    tmp_path: Path,
) -> None:
    run, sc = make_case([100, 100, 200], [100_000, 100_000, 150_000])
    settings = only_potential(max_growth=0.2)
    v1 = propose_quotas(run, goal=400_000, settings=settings, scenario=sc)
    v1.write(tmp_path / "p")
    v1 = load_proposal(tmp_path / "p")
    v2 = override_quotas(v1, {"T1": 104_000}, reason="new hire ramp", run=run, scenario=sc)
    assert v2.version == 2 and v2.parent == str((tmp_path / "p").resolve())
    assert quotas_of(v2) == {"T1": 104_000, "T2": 116_000, "T3": 180_000}
    q = v2.quotas.set_index("territory_id")  # type: ignore[union-attr]
    assert q.loc["T1", "binding"] == "override" and q.loc["T1", "reason"] == "new hire ramp"
    assert v2.diff is not None
    assert v2.diff.to_dict("records") == [
        {"territory_id": "T1", "previous_quota": 110_000, "quota": 104_000, "change": -6_000,
         "reason": "new hire ramp"},
        {"territory_id": "T2", "previous_quota": 110_000, "quota": 116_000, "change": 6_000,
         "reason": ""},
    ]  # fmt: skip
    # a second override keeps the first; the leaders' file shows the changes
    v2.write(tmp_path / "p-v2")
    changes = pd.read_excel(tmp_path / "p-v2" / "proposal.xlsx", sheet_name="Changes")
    assert changes.columns.tolist() == ["Territory", "Previous quota", "Quota", "Change",
                                        "Override reason"]  # fmt: skip
    assert changes["Change"].tolist() == [-6_000, 6_000]
    v3 = override_quotas(v2, {"T2": 120_000}, reason="key account", run=run, scenario=sc)
    assert quotas_of(v3) == {"T1": 104_000, "T2": 120_000, "T3": 176_000}
    assert [o["territory_id"] for o in v3.overrides] == ["T1", "T2"]
    with pytest.raises(ScenarioError) as e:
        override_quotas(v1, {"T3": 190_000}, run=run, scenario=sc)
    assert e.value.problems == [
        "override T3=190,000 is outside its negotiation range 160,000 to 180,000 (the other "
        "rules and the goal hold only within it); choose a quota in the range"
    ]


def test_components_split_every_quota_and_meet_their_goals() -> None:
    # T1: accounts A000 (revenue) and A001 (no revenue); T2 likewise
    run, sc = make_case([200, 200], [100_000, 100_000], per_territory=2)
    rev = sc.accounts["revenue"].to_numpy().copy()
    rev[[1, 3]] = 0.0
    pot = np.array([150.0, 50.0, 50.0, 150.0])
    sc.accounts["revenue"], sc.accounts["potential"] = rev, pot
    settings = {"components": {"goals": {"existing": 300_000, "new": 100_000}}}
    p = propose_quotas(run, goal=400_000, settings=settings, scenario=sc)
    q = p.quotas
    assert q is not None and p.components == ["existing", "new"]
    parts = q[["component_existing", "component_new"]]
    assert (parts.sum(axis=1) == q["quota"]).all()
    assert parts.sum().tolist() == [300_000, 100_000]
    # each component follows that component's potential in the territory, scaled to the
    # quotas and the goals (iterative proportional fitting), to the nearest unit
    y = np.array([[150.0, 50.0], [50.0, 150.0]])
    for _ in range(200):
        y *= (q["quota"].to_numpy() / y.sum(axis=1))[:, None]
        y *= np.array([300_000, 100_000]) / y.sum(axis=0)
    assert np.abs(parts.to_numpy() - y).max() <= UNIT
    assert not np.allclose(y, [[200_000, 0], [100_000, 100_000]])  # not a corner of the L1


def test_component_goals_the_caps_cannot_meet_are_refused() -> None:
    # only T2 holds new-customer potential, and it may reach 120k; the new goal is 150k
    run, sc = make_case([100, 100], [100_000, 100_000], per_territory=2)
    sc.accounts["revenue"] = [50_000.0, 50_000.0, 100_000.0, 0.0]
    settings = {"max_growth": 0.2, "components": {"goals": {"existing": 50_000, "new": 150_000}}}
    p = propose_quotas(run, goal=200_000, settings=settings, scenario=sc)
    assert p.status == "infeasible"
    assert p.reasons == [
        "the component goals (existing 50,000, new 150,000) cannot be met within the caps: a "
        "component can only be placed in territories holding its potential; move goal between "
        "components or loosen quota.max_growth / quota.ceiling"
    ]


def test_periods_follow_the_territorys_own_profile_or_the_companys_and_sum_exactly() -> None:
    m, n = 2, 6
    seasons = {
        "revenue_q2": [0.0] * (m * n),
        "revenue_q1": [10.0] * n + [0.0] * n,  # T1: all in q1
        "revenue_q4": [0.0] * n + [0.0] * (n - 1) + [30.0],  # T2: thin history (1 account)
        "revenue_q3": [30.0] * n + [0.0] * n,
    }
    run, sc = make_case([100, 100], [60_000, 30_000], per_territory=n, extra=seasons)
    p = propose_quotas(run, goal=101_000, settings=only_potential(), scenario=sc)
    assert p.periods == ["q1", "q2", "q3", "q4"]
    q = p.quotas
    assert q is not None
    cols = [f"period_{s}" for s in p.periods]
    assert (q[cols].sum(axis=1) == q["quota"]).all()
    # T1 has 6 accounts of history (>= season_min_accounts): its own 1:0:3:0 profile
    assert q.loc[0, cols].tolist() == [13_000, 0, 38_000, 0]  # 51 units: 12.75 + 38.25
    # T2 has 1 such account: the company's profile 60:0:180:30 of 270
    total = np.array([60.0, 0, 180.0, 30.0])
    expected = 50 * total / total.sum()
    assert np.abs(q.loc[1, cols].to_numpy(dtype=float) / UNIT - expected).max() < 1


def test_fairness_kpis_are_computed_from_the_table() -> None:
    run, sc = make_case([100, 100, 200], [100_000, 100_000, 150_000])
    p = propose_quotas(run, goal=400_000, settings=only_potential(max_growth=0.2), scenario=sc)
    ratio = np.array([1100.0, 1100.0, 900.0])
    assert p.kpis["quota_to_potential.cv"] == pytest.approx(ratio.std() / ratio.mean())
    assert p.kpis["over_potential_alert"] == 3  # every quota exceeds 80% of its potential
    assert p.kpis["growth.max"] == pytest.approx(0.2)
    assert p.kpis["growth.median"] == pytest.approx(0.1)
    assert p.kpis["binding"] == 1


def test_the_proposal_folder_contract_and_the_workbook(tmp_path: Path) -> None:
    run, sc = make_case([100, 100, 200], [100_000, 100_000, 150_000], regions=["E", "E", "W"])
    run.path = tmp_path / "run"
    p = propose_quotas(run, goal=400_000, settings=only_potential(max_growth=0.2), scenario=sc)
    p.write(tmp_path / "p")
    q = pd.read_csv(tmp_path / "p" / "quotas.csv")
    assert list(q.columns) == [
        "territory_id", "region", "potential", "revenue", "fair_share", "quota", "growth",
        "quota_to_potential", "binding", "min_quota", "max_quota", "reason",
    ]  # fmt: skip
    meta = json.loads((tmp_path / "p" / "proposal.json").read_text())
    assert meta["version"] == 1 and meta["parent"] is None
    assert meta["run"] == str((tmp_path / "run").resolve())
    assert meta["goal"] == 400_000 and meta["status"] == "optimal"
    assert meta["settings"]["max_growth"] == 0.2
    assert meta["overrides"] == [] and meta["periods"] == [] and meta["components"] == []
    assert meta["kpis"]["binding"] == 1
    assert not (tmp_path / "p" / "diff.csv").exists()
    back = load_proposal(tmp_path / "p")
    assert quotas_of(back) == quotas_of(p) and back.settings == p.settings
    data = json.loads(json.dumps(back.to_dict()))  # JSON-able, as the service sends it
    assert data["quotas"][2]["binding"] == "capped at +20% growth"
    assert data["quotas"][0]["reason"] == "" and data["regions"][-1]["region"] == "total"
    again = align.Proposal.from_dict(data)
    assert quotas_of(again) == quotas_of(p) and again.kpis == back.kpis

    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "p" / "proposal.xlsx")
    assert wb.sheetnames == ["Territories", "By rep", "Regions", "Summary"]
    ws = wb["Territories"]
    assert ws.freeze_panes == "B2"
    header = [c.value for c in ws[1]]
    assert header[:6] == ["Territory", "Region", "Potential", "Revenue (last period)",
                          "Fair share", "Quota"]  # fmt: skip
    quota_col = header.index("Quota") + 1
    assert [ws.cell(row=r, column=quota_col).value for r in (2, 3, 4)] == [110_000, 110_000,
                                                                            180_000]  # fmt: skip
    assert ws.cell(row=2, column=quota_col).number_format == '"$"#,##0'
    assert ws.cell(row=2, column=header.index("Growth over revenue") + 1).number_format == "0.0%"
    assert ws.cell(row=5, column=1).value == "Total"
    assert ws.cell(row=5, column=quota_col).value == "=SUM(F2:F4)"
    assert ws.column_dimensions["A"].width >= len("Territory")
    regions = pd.read_excel(tmp_path / "p" / "proposal.xlsx", sheet_name="Regions")
    assert regions["Region"].tolist() == ["E", "W", "Total"]
    assert regions["Quota"].tolist() == [220_000, 180_000, 400_000]  # cached values of SUMIFs
    assert regions["Goal"].tolist()[-1] == 400_000  # the company's goal on the total line
    summary = pd.read_excel(tmp_path / "p" / "proposal.xlsx", sheet_name="Summary")
    assert summary.set_index("Item").loc["Goal", "Value"] == 400_000
    with pytest.raises(ScenarioError, match="previous version"):
        override_quotas(back, {"T1": 105_000}, run=run, scenario=sc).write(tmp_path / "p")


def test_adjust_locks_the_moves_and_keeps_everything_else_where_it_was() -> None:
    # the run put A2 with the far territory; a plain solve would bring it home, adjust must not
    acc = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4"],
            "x": [0.0, 1.0, 9.0, 10.0],
            "y": 0.0,
            "potential": [10.0, 10.0, 10.0, 10.0],
            "revenue": [5.0, 5.0, 5.0, 5.0],
        }
    )
    ter = pd.DataFrame({"territory_id": ["T1", "T2"], "x": [0.0, 10.0], "y": 0.0})
    sc = align.make_scenario(acc, ter, settings={"balance": {"potential": {"tolerance": 0.5}}})
    run = Run(
        status="optimal",
        assignments=pd.DataFrame(
            {"account_id": ["A1", "A2", "A3", "A4"], "territory_id": ["T1", "T2", "T2", "T2"]}
        ),
        territories=ter[["territory_id"]],
        path=Path("runs/base"),
    )
    new = adjust_run(run, {"A3": "T1"}, scenario=sc)
    assert new.has_plan and new.parent == str(Path("runs/base").resolve())
    plan = dict(zip(new.assignments["account_id"], new.assignments["territory_id"], strict=True))
    assert plan == {"A1": "T1", "A2": "T2", "A3": "T1", "A4": "T2"}
    v1 = propose_quotas(run, goal=40_000, settings=only_potential(), scenario=sc)
    v2 = carry_proposal(v1, new, scenario=sc)
    assert v2.version == 2 and quotas_of(v2) == {"T1": 20_000, "T2": 20_000}
    assert quotas_of(v1) == {"T1": 10_000, "T2": 30_000}


def align_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command in-process as a user would (``main``: messages and exit codes)."""
    from align import cli

    argv = sys.argv
    sys.argv = ["align", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.argv = argv
    res = capsys.readouterr()
    return code, res.out, res.err


def test_cli_proposes_overrides_and_exits_2_or_3_on_bad_goals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = align.solve(align.load_scenario("data/examples/two-reps")).raise_for_status()
    run.write(tmp_path / "run")  # West and East, 30 potential each
    p = tmp_path / "p"
    code, out, err = align_cli(capsys, "quotas", str(tmp_path / "run"), "--goal", "60000",
                               "--out", str(p))  # fmt: skip
    assert code == 0, err
    assert "goal $60,000 met exactly" in out
    assert pd.read_csv(p / "quotas.csv")["quota"].tolist() == [30_000, 30_000]
    code, out, err = align_cli(capsys, "quotas", str(p), "--override", "T1=32000", "--reason",
                               "ramp")  # fmt: skip
    assert code == 0, err
    v2 = load_proposal(tmp_path / "p-v2")
    assert v2.version == 2 and quotas_of(v2) == {"T1": 32_000, "T2": 28_000}
    assert pd.read_csv(tmp_path / "p-v2" / "diff.csv")["change"].tolist() == [2_000, -2_000]
    code, out, err = align_cli(capsys, "quotas", str(tmp_path / "run"), "--goal", "60500",
                               "--out", str(p))  # fmt: skip
    assert code == 2 and "not a multiple of the rounding unit" in err
    code, out, err = align_cli(
        capsys, "quotas", str(tmp_path / "run"), "--goal", "60000", "--out", str(tmp_path / "x"),
        "--set", "quota.ceiling=20000",
    )  # fmt: skip
    assert code == 3
    assert "goal 60,000 is above the most the caps allow (40,000)" in err


def test_cli_adjust_moves_what_the_bands_force_and_refuses_what_they_cannot_absorb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = align.solve(align.load_scenario("data/examples/two-reps")).raise_for_status()
    run.write(tmp_path / "run")  # West A1, A2 (15 each), East A3, A4, A5 (10 each); bands 27..33
    # A1 to East: East must then hold exactly A1 and A2 (the only way into 27..33)
    code, out, err = align_cli(
        capsys, "adjust", str(tmp_path / "run"), "--move", "A1=T2", "--out", str(tmp_path / "a")
    )
    assert code == 0, err
    assert "1 moved by hand, 4 other accounts moved to keep the rules" in out
    new = align.load_run(tmp_path / "a")
    assert new.parent == str((tmp_path / "run").resolve())
    plan = dict(zip(new.assignments["account_id"], new.assignments["territory_id"], strict=True))
    assert plan == {"A1": "T2", "A2": "T2", "A3": "T1", "A4": "T1", "A5": "T1"}
    moves = ["--move", "A1=T2", "--move", "A2=T2", "--move", "A3=T2"]  # East 40 > 33
    code, out, err = align_cli(capsys, "adjust", str(tmp_path / "run"), *moves, "--out",
                               str(tmp_path / "b"))  # fmt: skip
    assert code == 3 and "infeasible: the moves admit no plan" in err
    code, out, err = align_cli(
        capsys, "adjust", str(tmp_path / "run"), "--move", "A9=T2", "--out", str(tmp_path / "c")
    )
    assert code == 2 and "move A9=T2: 'A9' is not an account_id" in err


def write_ramp_case(folder: Path) -> Path:
    """Two reps on a line, each with two accounts of 10,000 revenue today."""
    folder.mkdir()
    (folder / "accounts.csv").write_text(
        "account_id,x,y,potential,revenue,current_territory\n"
        "A1,0,0,20000,10000,T1\nA2,1,0,20000,10000,T1\n"
        "A3,9,0,20000,10000,T2\nA4,10,0,20000,10000,T2\n"
    )
    (folder / "territories.csv").write_text("territory_id,x,y\nT1,0,0\nT2,10,0\n")
    (folder / "scenario.toml").write_text(
        "[quota]\nmax_growth = 0.5\n[quota.blend]\npotential = 1\nhistory = 0\n"
    )
    return folder


def test_adjust_names_overrides_that_left_their_range_and_drops_or_restates_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc = write_ramp_case(tmp_path / "sc")
    run = tmp_path / "run"
    assert align_cli(capsys, "solve", str(sc), "--out", str(run), "-q")[0] == 0
    # T1 (revenue 20,000, at most +50%) is held at 28,000; moving A2 to T2 leaves T1 10,000 of
    # revenue, so at most 15,000: the override has left its range
    code, out, err = align_cli(capsys, "quotas", str(run), "--goal", "50k", "--override",
                               "T1=28,000", "--reason", "ramp",
                               "--out", str(tmp_path / "p"))  # fmt: skip
    assert code == 0, err
    move = ["adjust", str(run), "--move", "A2=T2", "--proposal", str(tmp_path / "p")]
    code, out, err = align_cli(capsys, *move, "--out", str(tmp_path / "a1"),
                               "--proposal-out", str(tmp_path / "p1"))  # fmt: skip
    assert code == 3
    assert (
        "override T1=28,000 is outside what the rules now allow for it (0 to 15,000): rerun "
        "with --drop-overrides to drop it, or --restate-overrides to hold it at the nearest end "
        "of that range"
    ) in err
    code, out, err = align_cli(capsys, *move, "--out", str(tmp_path / "a2"), "--proposal-out",
                               str(tmp_path / "p2"), "--restate-overrides")  # fmt: skip
    assert code == 0, err
    assert (
        "restated override T1=28,000 is outside what the rules now allow for it (0 to "
        "15,000) at 15,000" in out
    )
    restated = load_proposal(tmp_path / "p2")
    assert quotas_of(restated) == {"T1": 15_000, "T2": 35_000}
    assert restated.overrides == [
        {"territory_id": "T1", "quota": 15_000.0, "reason": "ramp; restated from 28,000"}
    ]
    code, out, err = align_cli(capsys, *move, "--out", str(tmp_path / "a3"), "--proposal-out",
                               str(tmp_path / "p3"), "--drop-overrides")  # fmt: skip
    assert code == 0, err
    assert "dropped override T1=28,000 is outside what the rules now allow" in out
    dropped = load_proposal(tmp_path / "p3")
    assert dropped.overrides == []
    # potential only: T1 keeps A1 (20,000 of 80,000 potential): a fair share of 12,500, on the
    # 1,000 grid 12,000 or 13,000 (under its 15,000 cap)
    q = quotas_of(dropped)
    assert q["T1"] in (12_000, 13_000) and q["T1"] + q["T2"] == 50_000
    code, out, err = align_cli(capsys, *move, "--out", str(tmp_path / "a4"),
                               "--drop-overrides", "--restate-overrides")  # fmt: skip
    assert code == 2 and "give --drop-overrides or --restate-overrides, not both" in err
