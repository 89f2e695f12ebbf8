"""A CRM export as a sales-ops analyst has it: headers mapped, amounts parsed, ZIPs placed."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from align import load_scenario, make_scenario
from align.errors import ScenarioError
from align.importing import parse_amount

# Real ZIP codes of Ohio, Indiana and Michigan and their centroids in the zipcodes package's data.
CENTROIDS = {
    "43215": (39.9671, -83.0044),  # Columbus OH
    "44114": (41.5064, -81.6743),  # Cleveland OH
    "45202": (39.1072, -84.502),  # Cincinnati OH
    "45402": (39.7563, -84.1895),  # Dayton OH
    "43604": (41.6614, -83.5249),  # Toledo OH
    "46204": (39.772, -86.1535),  # Indianapolis IN
    "46802": (41.0707, -85.1543),  # Fort Wayne IN
    "47708": (37.9718, -87.572),  # Evansville IN
    "48226": (42.3333, -83.0484),  # Detroit MI
    "49503": (42.9659, -85.6527),  # Grand Rapids MI
    "48933": (42.7334, -84.5571),  # Lansing MI
    "48104": (42.2694, -83.7282),  # Ann Arbor MI
}
HEADER = [
    "Account ID",
    "Account Name",
    "Billing City",
    "State",
    "Zip",
    "Annual Potential (USD)",
    "Last Year Sales",
    "Account Owner",
    "Strategic",
]
EXPORT = """\
0016000001,Buckeye Foods,Columbus,OH,43215,"$242,000","$120,500",Dana Whitfield,No
0016000002,Lakeside Health,Cleveland,OH,44114,$1.2M,"$400,000",Dana Whitfield,Yes
0016000003,Queen City Supply,Cincinnati,OH,45202,"$310,000","$90,000",Dana Whitfield,No
0016000004,Gem City Works,Dayton,OH,45402,"$95,000","$20,000",Jenna Ortiz,N
0016000005,Glass City Group,Toledo,OH,43604,"$180,000","$75,000",Rob Nguyen,No
0016000006,Circle Logistics,Indianapolis,IN,46204,"$650,000","$300,000",Jenna Ortiz,No
0016000007,Summit Partners,Fort Wayne,IN,46802,"$140,000","$60,000",Jenna Ortiz,No
0016000008,River City Foods,Evansville,IN,47708,"$88,000","$30,000",Jenna Ortiz,No
0016000009,Motor City Health,Detroit,MI,48226,"$720,000","$350,000",Rob Nguyen,Y
0016000010,Furniture Row,Grand Rapids,MI,49503,"$205,000","$80,000",Rob Nguyen,No
0016000011,Capitol Works,Lansing,MI,48933,"$160,000","$50,000",Rob Nguyen,No
0016000012,Arbor Labs,Ann Arbor,MI,48104,"$275,000","$110,000",Rob Nguyen,No
"""
ROWS = list(csv.reader(EXPORT.splitlines()))
REPS = [
    ["Territory ID", "Rep Name", "Home Lat", "Home Lng"],
    ["T01", "Dana Whitfield", 39.9612, -82.9988],  # Columbus
    ["T02", "Jenna Ortiz", 39.7684, -86.1581],  # Indianapolis
    ["T03", "Rob Nguyen", 42.3314, -83.0458],  # Detroit
]
SETTINGS = """
[balance.potential]
tolerance = 0.5
[columns]
revenue = "Last Year Sales"
locked = "Strategic"
"""


def write_export(
    folder: Path, rows: list[list[str]] | None = None, toml: str | None = SETTINGS
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "accounts.csv").open("w", newline="") as f:
        csv.writer(f).writerows([HEADER, *(ROWS if rows is None else rows)])
    with (folder / "territories.csv").open("w", newline="") as f:
        csv.writer(f).writerows(REPS)
    if toml is not None:
        (folder / "scenario.toml").write_text(toml)
    return folder


def align_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "align.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_crm_export_reads_as_a_scenario(tmp_path: Path) -> None:
    sc = load_scenario(write_export(tmp_path / "crm"))
    acc = sc.accounts.set_index("account_id")
    assert list(acc.index[:2]) == ["0016000001", "0016000002"]  # leading zeros kept
    assert acc.loc["0016000001", "potential"] == 242_000
    assert acc.loc["0016000002", "potential"] == 1_200_000
    assert acc.loc["0016000001", "revenue"] == 120_500
    assert acc.loc["0016000001", "name"] == "Buckeye Foods"
    assert acc.loc["0016000001", "city"] == "Columbus"
    for account, zip_code in zip(acc.index, [r[4] for r in ROWS], strict=True):
        assert (acc.loc[account, "lat"], acc.loc[account, "lon"]) == CENTROIDS[zip_code]
    assert (
        list(acc["current_territory"]) == ["T01"] * 3 + ["T02", "T03"] + ["T02"] * 3 + ["T03"] * 4
    )
    assert list(acc.index[acc["locked"]]) == ["0016000002", "0016000009"]
    ter = sc.territories.set_index("territory_id")
    assert ter.loc["T02", "lat"] == 39.7684 and ter.loc["T02", "lon"] == -86.1581
    assert ter.loc["T02", "rep"] == "Jenna Ortiz"
    notes = "\n".join(sc.notes)
    assert "accounts.csv: column 'Last Year Sales' read as revenue ([columns] revenue = " in notes
    assert "'Account ID' as account_id" in notes and "'Zip' as zip" in notes
    assert "'Home Lat' as lat, 'Home Lng' as lon" in notes
    assert (
        "accounts.csv potential: read 12 values written as money such as '$242,000' -> 242,000"
        in notes
    )
    assert "abbreviated amount such as '$1.2M' -> 1,200,000" in notes
    assert "accounts.csv locked: read n/no/y/yes as true/false" in notes
    assert "owners are reps of territories.csv; read as their territory_id" in notes
    assert "accounts.csv: 12 accounts without coordinates placed at the centroid" in notes


def test_crm_export_solves_and_carries_names_to_the_plan(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "crm")
    res = align_cli("solve", str(folder), "--out", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr
    assert "note: accounts.csv: 12 accounts without coordinates placed" in res.stdout
    plan = pd.read_csv(tmp_path / "run" / "assignments.csv", dtype=str)
    assert {"name", "city", "state", "zip"} <= set(plan.columns)
    first = plan.set_index("account_id").loc["0016000001"]
    assert (first["name"], first["city"], first["zip"]) == ("Buckeye Foods", "Columbus", "43215")


def test_map_option_reads_a_header_as_a_name(tmp_path: Path) -> None:
    rows = [r[:] for r in ROWS]
    header = HEADER[:]
    header[5] = "Est. Spend"  # no common name: needs a mapping
    folder = write_export(tmp_path / "crm", toml="")
    with (folder / "accounts.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    with pytest.raises(ScenarioError, match="missing required column 'potential'"):
        load_scenario(folder)
    sc = load_scenario(folder, columns=["Est. Spend=potential"])
    assert sc.accounts["potential"].sum() == 4_265_000
    assert (
        "accounts.csv: column 'Est. Spend' read as potential (--map 'Est. Spend=potential')"
        in sc.notes
    )


def test_columns_table_per_file(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "crm", toml='[columns.territories]\nrep = "Rep Name"\n')
    sc = load_scenario(folder)
    assert list(sc.territories["rep"]) == ["Dana Whitfield", "Jenna Ortiz", "Rob Nguyen"]
    assert (
        "territories.csv: column 'Rep Name' read as rep ([columns.territories] rep = 'Rep Name')"
        in sc.notes
    )


def test_bad_crm_export_lists_every_problem_with_row_and_value_and_writes_nothing(
    tmp_path: Path,
) -> None:
    rows = [r[:] for r in ROWS]
    rows[3][4] = "99999"  # not a ZIP code: row 5 of the file
    rows[6][5] = "$14O,000"  # a letter O for a zero: row 8
    folder = write_export(tmp_path / "crm", rows)
    out = tmp_path / "run"
    res = align_cli(
        "solve",
        str(folder),
        "--out",
        str(out),
        "--map",
        "Acct Name=name",
        "--map",
        "Strategic=revenue",
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert not out.exists()
    problems = [line[2:] for line in res.stderr.splitlines() if line.startswith("- ")]
    assert problems == [
        "--map 'Strategic=revenue': two headers map to 'revenue': 'Last Year Sales' "
        "([columns] revenue = 'Last Year Sales') and 'Strategic'; map one header to each name",
        "--map 'Acct Name=name': no column 'Acct Name' in accounts.csv or territories.csv "
        "(did you mean 'Account Name'?) (accounts.csv has Account ID, Account Name, Billing City, "
        "State, Zip, Annual Potential (USD), Last Year Sales, Account Owner, Strategic; "
        "territories.csv has Territory ID, Rep Name, Home Lat, Home Lng)",
        "accounts.csv row 5: zip '99999' is not a US ZIP code, so the account cannot be placed; "
        "correct it or give lat and lon",
        "accounts.csv row 8: potential must be a number (got '$14O,000')",
    ]


def test_two_headers_with_one_common_name_are_a_problem(tmp_path: Path) -> None:
    header = [*HEADER, "Postal Code"]
    folder = write_export(tmp_path / "crm")
    with (folder / "accounts.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *[[*r, r[4]] for r in ROWS]])
    with pytest.raises(ScenarioError) as e:
        load_scenario(folder)
    assert e.value.problems == [
        "accounts.csv: two headers could be 'zip': 'Zip' and 'Postal Code'; say which with "
        "--map \"Zip=zip\" (or [columns] zip = 'Zip' in scenario.toml)"
    ]


def test_other_countries_and_lost_leading_zeros(tmp_path: Path) -> None:
    header = [*HEADER, "Country"]
    rows = [[*r, "USA"] for r in ROWS]
    rows[0][4], rows[1][4], rows[1][-1] = "2134", "M5V 2T6", "Canada"
    folder = write_export(tmp_path / "crm")
    with (folder / "accounts.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    with pytest.raises(ScenarioError) as e:
        load_scenario(folder)
    assert e.value.problems == [
        "accounts.csv row 3: country 'Canada': ZIP code centroids cover the United States "
        "only; give lat and lon for this account"
    ]
    rows[1][4], rows[1][-1] = "44114", "United States"
    with (folder / "accounts.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    acc = load_scenario(folder).accounts
    assert (acc["lat"].iloc[0], acc["lon"].iloc[0]) == (42.3535, -71.1329)  # 02134, Allston MA


def test_coordinates_given_win_over_the_zip(tmp_path: Path) -> None:
    header = [*HEADER, "Latitude", "Longitude"]
    rows = [[*r, "", ""] for r in ROWS]
    rows[0][-2:] = ["40.0", "-83.0"]
    folder = write_export(tmp_path / "crm")
    with (folder / "accounts.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    sc = load_scenario(folder)
    assert (sc.accounts["lat"].iloc[0], sc.accounts["lon"].iloc[0]) == (40.0, -83.0)
    assert (sc.accounts["lat"].iloc[1], sc.accounts["lon"].iloc[1]) == CENTROIDS["44114"]
    assert "accounts.csv: 11 accounts without coordinates placed" in "\n".join(sc.notes)


def test_without_scenario_toml_the_balanced_preset_applies_and_says_so(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "crm", toml=None)
    sc = load_scenario(folder, columns=["Last Year Sales=revenue"])
    assert sc.settings.model == "balanced"
    assert sc.settings.balance["potential"].tolerance == 0.05
    assert sc.notes[0] == (
        "no scenario.toml: the balanced preset applies (potential +-5%, workload +-15%, shortest "
        "travel); write scenario.toml (or --set model=...) to choose the rules"
    )
    sc = load_scenario(folder, overrides=["model=min-disruption"])
    assert sc.settings.model == "min-disruption" and not sc.notes[0].startswith("no scenario")
    res = align_cli("validate", str(folder))
    assert res.returncode == 0, res.stderr
    assert "note: no scenario.toml: the balanced preset applies" in res.stdout


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$242,000", 242_000.0),
        ("242000", 242_000.0),
        ("12%", 0.12),
        ("12.5 %", 0.125),
        ("1.2M", 1_200_000.0),
        ("$3.5k", 3_500.0),
        ("USD 1,000", 1_000.0),
        ("1,000 EUR", 1_000.0),
        ("(1,500)", -1_500.0),
        ("-$20", -20.0),
        ("2bn", 2e9),
    ],
)
def test_parse_amount_reads_what_people_write(text: str, value: float) -> None:
    assert parse_amount(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["$24x,000", "1,2,3", "12,34", "$", "(12", "1.2Q", "N/A", "--5"])
def test_parse_amount_refuses_what_is_not_an_amount(text: str) -> None:
    assert parse_amount(text) is None


@given(st.integers(min_value=0, max_value=10**12))
def test_parse_amount_round_trips_money(n: int) -> None:
    assert parse_amount(f"${n:,}") == n
    assert parse_amount(f"{n:,} USD") == n


@given(st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False))
def test_parse_amount_reads_percent_as_a_share(d: object) -> None:
    assert parse_amount(f"{d}%") == pytest.approx(float(str(d)) / 100)


def test_example_crm_export_validates() -> None:
    res = align_cli("validate", "data/examples/crm-export", "--map", "Last Year Sales=revenue")
    assert res.returncode == 0, res.stderr
    assert "600 accounts, 10 territories" in res.stdout
    assert res.stdout.count("note:") >= 5


def test_make_scenario_reads_a_crm_frame_as_the_folder_does(tmp_path: Path) -> None:
    accounts = pd.read_csv(write_export(tmp_path / "crm") / "accounts.csv", dtype=str)
    territories = pd.DataFrame(REPS[1:], columns=REPS[0])
    sc = make_scenario(accounts, territories, columns=["Last Year Sales=revenue"])
    acc = sc.accounts.set_index("account_id")
    assert acc.loc["0016000002", "potential"] == 1_200_000
    assert acc.loc["0016000002", "revenue"] == 400_000
    assert (acc.loc["0016000009", "lat"], acc.loc["0016000009", "lon"]) == CENTROIDS["48226"]
    assert "accounts.csv: column 'Last Year Sales' read as revenue" in "\n".join(sc.notes)
    accounts.loc[2, "Zip"] = "00000"
    with pytest.raises(ScenarioError) as e:
        make_scenario(accounts, territories, columns=["Missing=revenue"])
    assert e.value.problems == [
        "--map 'Missing=revenue': no column 'Missing' in accounts.csv or territories.csv "
        f"(accounts.csv has {', '.join(HEADER)}; territories.csv has "
        "Territory ID, Rep Name, Home Lat, Home Lng)",
        "accounts.csv row 4: zip '00000' is not a US ZIP code, so the account cannot be placed; "
        "correct it or give lat and lon",
    ]


def test_a_scenario_read_with_a_profile_can_be_rebuilt_from_its_tables(tmp_path: Path) -> None:
    # what sweeps and pocket suggestions do: the tables already carry the contract's names
    sc = load_scenario(write_export(tmp_path / "crm"))
    again = make_scenario(sc.accounts, sc.territories, settings=sc.settings)
    assert again.accounts["revenue"].sum() == sc.accounts["revenue"].sum() == 1_685_500
