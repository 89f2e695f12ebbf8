"""The leaders' workbook: names beside ids, live formulas with cached values, no local paths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

import align

ACCOUNTS = """account_id,lat,lon,potential,revenue,current_territory
A1,39.96,-83.00,5200000.4,4000000,T1
A2,39.90,-83.10,3100000,2600000,T1
A3,41.65,-83.54,4400000,3500000,T2
A4,41.60,-83.60,2950000,2500000,T2
A5,42.33,-83.05,6100000,5000000,T3
A6,42.30,-83.10,2000000,1900000,T3
"""
TERRITORIES = """territory_id,name,rep,region,lat,lon
T1,Columbus,Ann Lee,Ohio,39.96,-83.00
T2,Toledo,Ann Lee,Ohio,41.65,-83.54
T3,Detroit,Bo Chan,Michigan,42.33,-83.05
"""
GOAL = 22_000_000


@pytest.fixture(scope="module")
def proposal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("workbook")
    sc = base / "scenario"
    sc.mkdir()
    (sc / "accounts.csv").write_text(ACCOUNTS)
    (sc / "territories.csv").write_text(TERRITORIES)
    (sc / "scenario.toml").write_text('[units]\ncurrency = "EUR"\n')
    run = align.solve(sc, overrides=["constraints.max_moved_share=0"])
    assert run.status == "optimal"
    run.write(base / "run")
    proposal = align.propose_quotas(align.load_run(base / "run"), goal=GOAL)
    proposal.raise_for_status().write(base / "proposal")
    return base / "proposal"


def cells(path: Path, *, cached: bool) -> dict[str, list[list[object]]]:
    wb = load_workbook(path, data_only=cached)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb}


def test_territories_show_names_and_reps_beside_ids_and_a_total_row(proposal_dir: Path) -> None:
    sheets = cells(proposal_dir / "proposal.xlsx", cached=True)
    assert list(sheets) == ["Territories", "By rep", "Regions", "Summary"]
    rows = sheets["Territories"]
    assert rows[0][:5] == ["Territory", "Name", "Rep", "Region", "Potential"]
    assert [r[:3] for r in rows[1:4]] == [
        ["T1", "Columbus", "Ann Lee"], ["T2", "Toledo", "Ann Lee"], ["T3", "Detroit", "Bo Chan"]
    ]  # fmt: skip
    quotas = pd.read_csv(proposal_dir / "quotas.csv", dtype={"territory_id": str})
    header = rows[0]
    q, rev, growth = (header.index(h) for h in ("Quota", "Revenue (last period)",
                                                "Growth over revenue"))  # fmt: skip
    assert [r[q] for r in rows[1:4]] == quotas["quota"].tolist()
    assert rows[4][0] == "Total" and rows[4][q] == GOAL  # cached value of =SUM(...)
    for r, (_, t) in zip(rows[1:4], quotas.iterrows(), strict=True):
        assert r[growth] == pytest.approx(t["quota"] / t["revenue"] - 1)
    assert rows[4][growth] == pytest.approx(GOAL / quotas["revenue"].sum() - 1)
    potential = rows[0].index("Potential")
    assert rows[1][potential] == 8_300_000  # 5,200,000.4 + 3,100,000 shown in whole euros


def test_formulas_are_written_as_leaders_expect(proposal_dir: Path) -> None:
    ws = load_workbook(proposal_dir / "proposal.xlsx")["Territories"]
    header = [c.value for c in ws[1]]
    col = {h: chr(ord("A") + k) for k, h in enumerate(header)}
    q, rev, pot = col["Quota"], col["Revenue (last period)"], col["Potential"]
    assert ws[f"{col['Growth over revenue']}2"].value == f'=IF({rev}2>0,{q}2/{rev}2-1,"")'
    assert ws[f"{col['Quota / potential']}3"].value == f'=IF({pot}3>0,{q}3/{pot}3,"")'
    lo, hi = col["Range: min"], col["Range: max"]
    assert ws[f"{col['Within range']}4"].value == f'=IF(AND({q}4>={lo}4,{q}4<={hi}4),"yes","no")'
    assert ws[f"{q}5"].value == f"=SUM({q}2:{q}4)"
    assert ws[f"{q}2"].number_format == '#,##0 "EUR"'  # units.currency of the scenario
    regions = load_workbook(proposal_dir / "proposal.xlsx")["Regions"]
    assert regions["A2"].value == "Michigan" and regions["A3"].value == "Ohio"
    assert regions["F3"].value == f"=SUMIF('Territories'!$D$2:$D$4,A3,'Territories'!${q}$2:${q}$4)"


def test_a_leader_editing_a_quota_sees_totals_growth_and_rollups_recompute(
    proposal_dir: Path,
) -> None:
    formulas = pytest.importorskip("formulas")
    path = proposal_dir / "proposal.xlsx"
    header = cells(path, cached=True)["Territories"][0]
    q = chr(ord("A") + header.index("Quota"))
    g = chr(ord("A") + header.index("Growth over revenue"))
    quotas = pd.read_csv(proposal_dir / "quotas.csv")
    new_t1 = int(quotas.loc[0, "quota"]) + 1_000_000
    book = f"'[{path.name}]"
    model = formulas.ExcelModel().loads(str(path)).finish()
    sol = model.calculate(inputs={f"{book}TERRITORIES'!{q}2": new_t1})

    def value(ref: str) -> float:
        return float(sol[f"{book}{ref}"].value[0][0])

    assert value(f"TERRITORIES'!{q}5") == GOAL + 1_000_000
    assert value(f"TERRITORIES'!{g}2") == pytest.approx(new_t1 / quotas.loc[0, "revenue"] - 1)
    # Ann Lee carries T1 and T2; Ohio holds T1 and T2
    ann = new_t1 + int(quotas.loc[1, "quota"])
    assert value("BY REP'!F2") == ann
    assert value("REGIONS'!F3") == ann
    assert value("SUMMARY'!B3") == GOAL + 1_000_000
    assert value("SUMMARY'!B4") == -1_000_000  # left to assign: the goal is now exceeded


def test_summary_has_readable_labels_rounding_and_no_local_paths(proposal_dir: Path) -> None:
    sheets = cells(proposal_dir / "proposal.xlsx", cached=True)
    summary = {r[0]: r[1] for r in sheets["Summary"][1:]}
    assert summary["Goal"] == GOAL and summary["Left to assign (goal - quotas)"] == 0
    assert summary["Run"] == "run"  # the folder's name, never a local path
    assert "quota_to_potential.cv" not in summary
    cv = summary["Quota / potential: spread (coefficient of variation)"]
    assert isinstance(cv, float) and cv == round(cv, 3)
    assert summary["Growth: median"] == round(summary["Growth: median"], 4)
    base = str(proposal_dir.parent)
    for rows in sheets.values():
        for row in rows:
            for v in row:
                assert not (isinstance(v, str) and (base in v or v.startswith("/"))), v
    by_rep = sheets["By rep"]
    assert [r[:2] for r in by_rep[1:]] == [["Ann Lee", 2], ["Bo Chan", 1], ["Total", 3]]
