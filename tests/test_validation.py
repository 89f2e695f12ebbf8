"""Every input rule, pinned with its exact message.

Scenario folders are tiny and written into tmp_path (see conftest.py): a valid baseline of four
accounts and two territories, broken one rule at a time. Row numbers are file line numbers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import align
from align import ScenarioError, load_scenario, make_scenario

ACC_COLUMNS = (
    "account_id, potential, workload, revenue, segment, lat, lon, current_territory, locked"
)


def problems_of(folder: Path, **kw: Any) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder, **kw)
    return info.value.problems


def set_cell(rows: list[dict[str, Any]], i: int, **cells: Any) -> list[dict[str, Any]]:
    rows[i].update(cells)
    return rows


def drop_column(rows: list[dict[str, Any]], *cols: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in cols} for r in rows]


def full_distances(acc: list[str], ter: list[str]) -> list[list[Any]]:
    return [["from_id", "to_id", "distance"]] + [
        [a, t, 10 * i + j] for i, a in enumerate(acc) for j, t in enumerate(ter)
    ]


# --------------------------------------------------------------------------------------------
# the baseline


def test_baseline_scenario_is_valid(write_scenario) -> None:
    sc = load_scenario(write_scenario())
    assert sc.n_accounts == 4 and sc.n_territories == 2
    assert sc.accounts["locked"].tolist() == [False, False, True, False]
    assert sc.accounts["current_territory"].tolist() == ["T1", "T1", "T2", "T2"]


def test_territory_segments_are_read_with_blank_as_generalist(
    write_scenario, base_territories
) -> None:
    ter = set_cell(base_territories, 1, segments=" Retail; Pharma")
    ter = set_cell(ter, 0, segments="")
    sc = load_scenario(write_scenario(territories=ter))
    assert sc.territories["segments"].tolist() == [None, "Retail; Pharma"]


# --------------------------------------------------------------------------------------------
# files and columns


def test_missing_scenario_folder_is_named(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope") == [f"{tmp_path / 'nope'}: no such scenario folder"]


def test_missing_accounts_csv_is_named_with_its_folder(write_scenario) -> None:
    folder = write_scenario(accounts=None)
    assert problems_of(folder) == [
        f"{folder}: accounts.csv is missing (one row per account is required)"
    ]


def test_missing_territories_csv_is_required(write_scenario) -> None:
    assert problems_of(write_scenario(territories=None)) == [
        "territories.csv is required: one row per territory (territory_id, lat, lon), "
        "or set territories.count for a greenfield design"
    ]


def test_greenfield_needs_a_fresh_start(write_scenario, base_accounts) -> None:
    base_accounts[0]["locked"] = "true"
    folder = write_scenario(
        territories=None,
        accounts=base_accounts,
        toml="[territories]\ncount = 3\n[objective]\ndisruption = 1.0\n",
    )
    why = "greenfield design (the engine choosing the centres) "
    assert problems_of(folder) == [
        f"{why}starts from scratch: objective.disruption must be 0 and constraints.max_moved_share "
        "1 (give territories.csv with home bases to measure moves)",
        f"accounts.csv: {why}cannot keep locked accounts; unlock them or give home bases",
    ]


def test_greenfield_count_must_match_territories_without_home_bases(
    write_scenario, base_accounts
) -> None:
    folder = write_scenario(
        accounts=[{**r, "locked": "false"} for r in base_accounts],
        territories=[{"territory_id": "T1"}, {"territory_id": "T2"}],
        toml="[territories]\ncount = 3\n",
    )
    assert problems_of(folder) == [
        "settings key 'territories.count' is 3 but territories.csv has 2 territories without "
        "home bases; make them agree (or drop territories.count)"
    ]


def test_missing_account_columns_list_the_columns_found(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=drop_column(base_accounts, "account_id", "potential"))
    found = "workload, revenue, segment, lat, lon, current_territory, locked"
    # no follow-on noise such as "objective.travel_weight: no column 'potential'"
    assert problems_of(folder) == [
        f"accounts.csv: missing required column 'account_id' (columns: {found})",
        f"accounts.csv: missing required column 'potential' (columns: {found})",
    ]


def test_missing_column_suggests_the_same_name_in_another_case(
    write_scenario, base_accounts
) -> None:
    rows = [
        {("Potential_Usd" if k == "potential" else k): v for k, v in r.items()}
        for r in base_accounts
    ]
    [msg] = problems_of(write_scenario(accounts=rows))
    assert msg.startswith(
        "accounts.csv: missing required column 'potential' (did you mean 'Potential_Usd'?)"
    )


def test_a_common_name_in_another_case_is_read_and_said(write_scenario, base_accounts) -> None:
    rows = [
        {("Potential" if k == "potential" else k): v for k, v in r.items()} for r in base_accounts
    ]
    sc = load_scenario(write_scenario(accounts=rows))
    assert list(sc.accounts["potential"]) == [100, 200, 300, 400]
    assert "accounts.csv: read 'Potential' as potential (common names)" in sc.notes


def test_missing_territory_id_column(write_scenario, base_territories) -> None:
    folder = write_scenario(territories=drop_column(base_territories, "territory_id"))
    assert (
        "territories.csv: missing required column 'territory_id' (columns: name, lat, lon)"
        in problems_of(folder)
    )


def test_duplicate_account_id_names_the_first_row(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 3, account_id="A2"))
    assert problems_of(folder) == ["accounts.csv row 5: duplicate account_id 'A2' (first at row 3)"]


def test_duplicate_territory_id_names_the_first_row(write_scenario, base_territories) -> None:
    folder = write_scenario(territories=set_cell(base_territories, 1, territory_id="T1"))
    assert "territories.csv row 3: duplicate territory_id 'T1' (first at row 2)" in problems_of(
        folder
    )


def test_ids_differing_only_by_spaces_are_duplicates(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 1, account_id="A1  "))
    assert problems_of(folder) == ["accounts.csv row 3: duplicate account_id 'A1' (first at row 2)"]


def test_empty_account_id_names_the_row(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 2, account_id=""))
    assert problems_of(folder) == ["accounts.csv row 4: account_id is empty"]


def test_empty_territory_id_names_the_row(write_scenario, base_territories) -> None:
    folder = write_scenario(territories=set_cell(base_territories, 0, territory_id=" "))
    assert "territories.csv row 2: territory_id is empty" in problems_of(folder)


def test_accounts_csv_with_a_header_only_has_no_accounts(write_scenario) -> None:
    folder = write_scenario(accounts="account_id,potential,lat,lon\n")
    assert problems_of(folder) == ["accounts.csv: no accounts (one row per account is required)"]


def test_territories_csv_with_a_header_only_has_no_territories(write_scenario) -> None:
    folder = write_scenario(territories="territory_id,lat,lon\n")
    assert problems_of(folder) == [
        "territories.csv: no territories (one row per territory is required)"
    ]


# --------------------------------------------------------------------------------------------
# numbers: potential, workload, revenue


NUMERIC = ["potential", "workload", "revenue"]


@pytest.mark.parametrize("col", NUMERIC)
def test_missing_number_names_row_and_column(write_scenario, base_accounts, col) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 1, **{col: ""}))
    assert problems_of(folder) == [f"accounts.csv row 3: {col} is missing"]


@pytest.mark.parametrize("col", NUMERIC)
def test_non_numeric_value_is_quoted(write_scenario, base_accounts, col) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 0, **{col: "abc"}))
    assert problems_of(folder) == [f"accounts.csv row 2: {col} must be a number (got 'abc')"]


@pytest.mark.parametrize("col", NUMERIC)
def test_negative_value_names_row_and_value(write_scenario, base_accounts, col) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 3, **{col: -5}))
    assert problems_of(folder) == [f"accounts.csv row 5: {col} must be >= 0 (got -5)"]


def test_negative_potential_names_row_and_value(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 2, potential="-12.5"))
    assert problems_of(folder) == ["accounts.csv row 4: potential must be >= 0 (got -12.5)"]


@pytest.mark.parametrize("col", NUMERIC)
def test_literal_nan_is_not_a_number(write_scenario, base_accounts, col) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 0, **{col: "nan"}))
    assert problems_of(folder) == [f"accounts.csv row 2: {col} must be a number (got 'nan')"]


@pytest.mark.parametrize("col", NUMERIC)
@pytest.mark.parametrize("text", ["inf", "-inf"])
def test_infinite_value_must_be_finite(write_scenario, base_accounts, col, text) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 1, **{col: text}))
    assert problems_of(folder) == [f"accounts.csv row 3: {col} must be finite (got {text})"]


def test_workload_defaults_to_one_per_account(write_scenario, base_accounts) -> None:
    sc = load_scenario(write_scenario(accounts=drop_column(base_accounts, "workload")))
    assert sc.accounts["workload"].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_territory_numbers_target_share_and_capacity(write_scenario, base_territories) -> None:
    rows = set_cell(base_territories, 0, target_share=0, capacity=-1)
    rows = set_cell(rows, 1, target_share="", capacity="abc")
    assert problems_of(write_scenario(territories=rows)) == [
        "territories.csv row 3: target_share is missing",
        "territories.csv row 2: target_share must be > 0 (got 0)",
        "territories.csv row 3: capacity must be a number (got 'abc')",
        "territories.csv row 2: capacity must be >= 0 (got -1)",
    ]


# --------------------------------------------------------------------------------------------
# coordinates


def test_latitude_out_of_range_names_the_range(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 0, lat=91))
    assert problems_of(folder) == ["accounts.csv row 2: lat must be between -90 and 90 (got 91)"]


def test_longitude_out_of_range_names_the_range(write_scenario, base_territories) -> None:
    folder = write_scenario(territories=set_cell(base_territories, 1, lon=-180.5))
    assert problems_of(folder) == [
        "territories.csv row 3: lon must be between -180 and 180 (got -180.5)"
    ]


def test_lat_without_lon_is_one_clear_problem(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=drop_column(base_accounts, "lon"))
    assert problems_of(folder) == [
        "accounts.csv: has column 'lat' but not 'lon'; give both or neither"
    ]


def test_lon_without_lat_on_territories(write_scenario, base_territories) -> None:
    folder = write_scenario(territories=drop_column(base_territories, "lat"))
    assert "territories.csv: has column 'lon' but not 'lat'; give both or neither" in problems_of(
        folder
    )


def test_both_lat_lon_and_x_y_is_rejected(write_scenario, base_accounts) -> None:
    rows = [dict(r, x=1.0, y=2.0) for r in base_accounts]
    assert problems_of(write_scenario(accounts=rows)) == [
        "accounts.csv: give lat/lon or x/y, not both"
    ]


def test_accounts_and_territories_in_different_coordinate_systems(
    write_scenario, base_territories
) -> None:
    rows = [{"territory_id": t["territory_id"], "x": 1.0, "y": 2.0} for t in base_territories]
    assert "accounts use lat/lon but territories use x/y; use one coordinate system" in problems_of(
        write_scenario(territories=rows)
    )


def test_planar_x_y_coordinates_are_valid(write_scenario, base_accounts, base_territories) -> None:
    acc = [dict(drop_column([r], "lat", "lon")[0], x=i, y=-i) for i, r in enumerate(base_accounts)]
    ter = [
        dict(drop_column([r], "lat", "lon")[0], x=i, y=i) for i, r in enumerate(base_territories)
    ]
    assert load_scenario(write_scenario(accounts=acc, territories=ter)).coord_kind == "xy"


# --------------------------------------------------------------------------------------------
# references between tables


def test_current_territory_must_be_a_territory(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 2, current_territory="T9"))
    assert problems_of(folder) == [
        "accounts.csv row 4: current_territory 'T9' is not in territories.csv"
    ]


def test_locked_without_current_territory(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 2, current_territory=""))
    assert problems_of(folder) == [
        "accounts.csv row 4: locked is true but current_territory is empty; name the territory "
        "to keep it in, or unlock it"
    ]


def test_locked_must_be_a_boolean(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 0, locked="maybe"))
    assert problems_of(folder) == [
        "accounts.csv row 2: locked must be true or false (got 'maybe'); blank means false"
    ]


def test_locked_reads_the_usual_spellings(write_scenario, base_accounts) -> None:
    for row, word in zip(base_accounts, ["TRUE", "no", "1", ""], strict=True):
        row["locked"] = word
    sc = load_scenario(write_scenario(accounts=base_accounts))
    assert sc.accounts["locked"].tolist() == [True, False, True, False]


def test_territory_segment_that_no_account_has_suggests_the_nearest(
    write_scenario, base_territories
) -> None:
    ter = set_cell(base_territories, 1, segments="Retial;Pharma")
    ter = set_cell(ter, 0, segments="")
    folder = write_scenario(territories=ter)
    assert problems_of(folder) == [
        "territories.csv row 3: segments names 'Retial', which is not the segment of any account "
        "(did you mean 'Retail'?)"
    ]


def test_territory_segments_without_account_segments(
    write_scenario, base_accounts, base_territories
) -> None:
    folder = write_scenario(
        accounts=drop_column(base_accounts, "segment"),
        territories=set_cell(base_territories, 1, segments="Retail;Pharma"),
    )
    assert problems_of(folder) == [
        "territories.csv row 3: segments names 'Pharma', which is not the segment of any account "
        "(accounts.csv has no 'segment' column)",
        "territories.csv row 3: segments names 'Retail', which is not the segment of any account "
        "(accounts.csv has no 'segment' column)",
    ]


# --------------------------------------------------------------------------------------------
# locations and distances


def test_accounts_without_location_and_without_distances(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=drop_column(base_accounts, "lat", "lon"))
    assert problems_of(folder) == [
        "accounts.csv: no location: give lat/lon (or x/y) columns, or distances.csv with the "
        "distance of every account to every territory"
    ]


def test_account_with_empty_location_names_the_row(write_scenario, base_accounts) -> None:
    folder = write_scenario(accounts=set_cell(base_accounts, 3, lat="", lon=""))
    assert problems_of(folder) == [
        "accounts.csv row 5: no location (lat/lon empty) and no distances.csv to replace it"
    ]


def test_territories_without_home_bases_mean_greenfield(write_scenario, base_territories) -> None:
    folder = write_scenario(territories=drop_column(base_territories, "lat", "lon"))
    assert problems_of(folder) == [
        "accounts.csv: territories.csv has no home bases (lat/lon or x/y), so this is a greenfield "
        "design (the engine choosing the centres), which cannot keep locked accounts; unlock them "
        "or give home bases"
    ]


def test_territory_without_home_base_names_the_row(write_scenario, base_territories) -> None:
    folder = write_scenario(territories=set_cell(base_territories, 0, lat="", lon=""))
    assert problems_of(folder) == [
        "territories.csv row 2: no home base (lat/lon empty) and no distances.csv to replace it"
    ]


def test_distances_replace_locations(write_scenario, base_accounts, base_territories) -> None:
    acc = drop_column(base_accounts, "lat", "lon")
    ter = drop_column(base_territories, "lat", "lon")
    folder = write_scenario(
        accounts=acc,
        territories=ter,
        distances=full_distances(["A1", "A2", "A3", "A4"], ["T1", "T2"]),
    )
    sc = load_scenario(folder)
    assert sc.geometry.kind == "matrix"
    assert len(sc.distances) == 8


def test_planar_coordinates_and_distances_past_a_billion_are_refused(
    write_scenario, base_accounts, base_territories
) -> None:
    # a travel cost of 1e308 units overflows to inf (and the objective with it): refused, not
    # solved to an "optimal" plan of infinite cost
    acc = [{k: v for k, v in r.items() if k not in ("lat", "lon")} | {"x": 1.0, "y": 2.0}
           for r in base_accounts]  # fmt: skip
    ter = [{k: v for k, v in r.items() if k not in ("lat", "lon")} | {"x": 0.0, "y": 0.0}
           for r in base_territories]  # fmt: skip
    acc[0]["x"], acc[2]["y"], ter[1]["x"] = 1e308, -2e9, 1e9  # 1e9 itself is allowed
    assert problems_of(write_scenario(accounts=acc, territories=ter)) == [
        "accounts.csv row 2: x must be between -1e+09 and 1e+09 (got 1e+308)",
        "accounts.csv row 4: y must be between -1e+09 and 1e+09 (got -2e+09)",
    ]
    dist = full_distances(["A1", "A2", "A3", "A4"], ["T1", "T2"])
    dist[3][2] = 1e308
    folder = write_scenario(
        accounts=drop_column(base_accounts, "lat", "lon"),
        territories=drop_column(base_territories, "lat", "lon"),
        distances=dist,
    )
    assert problems_of(folder) == [
        "distances.csv row 4: distance must be between 0 and 1e+09 (got 1e+308)"
    ]


def test_distances_with_unknown_ids_duplicates_and_negative_values(
    write_scenario, base_accounts, base_territories
) -> None:
    dist = full_distances(["A1", "A2", "A3", "A4"], ["T1", "T2"])
    dist[1][0] = "AX"  # row 2: unknown account
    dist[2][1] = "TX"  # row 3: unknown territory
    dist[4] = ["A2", "T1", 7]  # row 5: repeats row 4
    dist[6][2] = -5  # row 7: negative
    folder = write_scenario(
        accounts=drop_column(base_accounts, "lat", "lon"),
        territories=drop_column(base_territories, "lat", "lon"),
        distances=dist,
    )
    assert problems_of(folder) == [
        "distances.csv row 7: distance must be between 0 and 1e+09 (got -5)",
        "distances.csv row 2: from_id 'AX' is not an account_id of accounts.csv",
        "distances.csv row 3: to_id 'TX' is not a territory_id of territories.csv",
        "distances.csv row 5: pair (A2, T1) is given twice (first at row 4); "
        "keep one distance per pair",
        "distances.csv: 3 account-territory pairs have no distance (e.g. A1 to T1) and no "
        "coordinates to compute them; give every pair, or lat/lon for accounts and territories",
    ]


def test_missing_distance_pairs_are_counted_with_an_example(
    write_scenario, base_accounts, base_territories
) -> None:
    folder = write_scenario(
        accounts=drop_column(base_accounts, "lat", "lon"),
        territories=drop_column(base_territories, "lat", "lon"),
        distances=full_distances(["A1", "A2"], ["T1", "T2"]) + [["A3", "T2", 1]],
    )
    assert problems_of(folder) == [
        "distances.csv: 3 account-territory pairs have no distance (e.g. A3 to T1) and no "
        "coordinates to compute them; give every pair, or lat/lon for accounts and territories"
    ]


def test_partial_distances_are_completed_from_coordinates(write_scenario) -> None:
    folder = write_scenario(distances=[["from_id", "to_id", "distance"], ["A1", "T2", 999]])
    sc = load_scenario(folder)
    assert sc.geometry.kind == "matrix"


def test_distances_csv_missing_columns(write_scenario) -> None:
    folder = write_scenario(distances="from,to,d\nA1,T1,1\n")
    assert problems_of(folder) == [
        "distances.csv: missing required column 'from_id' (did you mean 'from'?) "
        "(columns: from, to, d)",
        "distances.csv: missing required column 'to_id' (columns: from, to, d)",
        "distances.csv: missing required column 'distance' (columns: from, to, d)",
    ]


def test_adjacency_with_unknown_ids(write_scenario) -> None:
    folder = write_scenario(adjacency="account_id,neighbor_id\nA1,A2\nA1,AX\nAY,A2\n")
    assert problems_of(folder) == [
        "adjacency.csv row 4: account_id 'AY' is not an account_id of accounts.csv",
        "adjacency.csv row 3: neighbor_id 'AX' is not an account_id of accounts.csv",
    ]


def test_adjacency_missing_column(write_scenario) -> None:
    folder = write_scenario(adjacency="account_id,neighbour\nA1,A2\n")
    assert problems_of(folder) == [
        "adjacency.csv: missing required column 'neighbor_id' (did you mean 'neighbour'?) "
        "(columns: account_id, neighbour)"
    ]


# --------------------------------------------------------------------------------------------
# settings that name columns of accounts.csv


def test_balanced_column_that_does_not_exist_suggests_one(write_scenario) -> None:
    folder = write_scenario(toml="[balance.potentail]\ntolerance = 0.1\n")
    assert problems_of(folder) == [
        "settings key 'balance.potentail': accounts.csv has no column 'potentail' "
        "(did you mean 'potential'?)"
    ]


def test_balanced_column_must_be_numeric(write_scenario) -> None:
    probs = problems_of(write_scenario(), overrides=["balance.segment.tolerance=0.1"])
    assert probs[0] == "accounts.csv row 2: segment must be a number (got 'Retail')"


def test_travel_weight_naming_a_missing_column(write_scenario) -> None:
    probs = problems_of(write_scenario(), overrides=["objective.travel_weight=revenu"])
    assert probs == [
        "settings key 'objective.travel_weight': accounts.csv has no column 'revenu' (did you mean "
        "'revenue'?); use \"none\" or one of: potential, workload, revenue"
    ]


def test_disruption_measure_naming_a_missing_column(write_scenario) -> None:
    probs = problems_of(write_scenario(), overrides=["objective.disruption_measure=calls"])
    assert probs == [
        "settings key 'objective.disruption_measure': accounts.csv has no column 'calls'; use "
        '"accounts" or one of: potential, workload, revenue'
    ]


def test_extra_numeric_column_can_be_balanced_and_weighted(write_scenario, base_accounts) -> None:
    rows = [dict(r, calls=i + 1) for i, r in enumerate(base_accounts)]
    sc = load_scenario(
        write_scenario(accounts=rows),
        overrides=["balance.calls.tolerance=0.5", "objective.disruption_measure=calls"],
    )
    assert sc.column("calls").tolist() == [1.0, 2.0, 3.0, 4.0]


def test_contiguity_without_adjacency_says_what_to_give(write_scenario) -> None:
    assert problems_of(write_scenario(), overrides=["constraints.contiguity=true"]) == [
        "settings key 'constraints.contiguity': contiguous territories need to know which units "
        "are neighbours; give adjacency.csv (account_id, neighbor_id: one row per shared border) "
        "or polygons in accounts.geojson / accounts.gpkg, or set constraints.contiguity = false"
    ]


# --------------------------------------------------------------------------------------------
# every problem at once


def test_many_problems_are_reported_together(
    write_scenario, base_accounts, base_territories
) -> None:
    acc = set_cell(base_accounts, 0, potential=-1)
    acc = set_cell(acc, 1, lat=95)
    acc = set_cell(acc, 2, current_territory="T9")
    acc = set_cell(acc, 3, locked="maybe", account_id="A1")
    ter = set_cell(base_territories, 1, territory_id="T1")
    folder = write_scenario(
        accounts=acc,
        territories=ter,
        toml="[objectve]\ntravel = 1\n",
        adjacency="account_id,neighbor_id\nA1,AX\n",
    )
    probs = problems_of(folder, overrides=["balance.potential.tolerance=0"])
    assert probs == [
        "scenario.toml: unknown settings key 'objectve.travel' (did you mean 'objective.travel'?)",
        "--set: settings key 'balance.potential.tolerance' must be greater than 0 (got 0); "
        "0.05 means every territory within +-5% of its target",
        "accounts.csv row 5: duplicate account_id 'A1' (first at row 2)",
        "accounts.csv row 2: potential must be >= 0 (got -1)",
        "accounts.csv row 3: lat must be between -90 and 90 (got 95)",
        "accounts.csv row 5: locked must be true or false (got 'maybe'); blank means false",
        "territories.csv row 3: duplicate territory_id 'T1' (first at row 2)",
        "accounts.csv row 4: current_territory 'T9' is not in territories.csv",
        "accounts.csv row 5: current_territory 'T2' is not in territories.csv",
        "adjacency.csv row 2: neighbor_id 'AX' is not an account_id of accounts.csv",
    ]


def test_the_error_message_lists_every_problem() -> None:
    err = ScenarioError(["a.csv row 2: x", "b.csv row 3: y"])
    assert str(err) == "2 problems in the scenario:\n- a.csv row 2: x\n- b.csv row 3: y"
    assert isinstance(err, ValueError) and err.exit_code == 2


def test_more_than_five_rows_are_counted_not_listed(write_scenario, base_accounts) -> None:
    rows = [dict(base_accounts[0], account_id=f"A{i}", potential=-i) for i in range(1, 10)]
    assert problems_of(write_scenario(accounts=rows)) == [
        "accounts.csv row 2: potential must be >= 0 (got -1)",
        "accounts.csv row 3: potential must be >= 0 (got -2)",
        "accounts.csv row 4: potential must be >= 0 (got -3)",
        "accounts.csv row 5: potential must be >= 0 (got -4)",
        "accounts.csv row 6: potential must be >= 0 (got -5)",
        "accounts.csv: 4 more rows like row 2",
    ]


# --------------------------------------------------------------------------------------------
# make_scenario: the same rules for DataFrames


def test_make_scenario_reports_the_same_problems_as_a_folder(
    write_scenario, base_accounts, base_territories
) -> None:
    acc = set_cell(base_accounts, 1, potential=-5, current_territory="T9")
    folder_problems = problems_of(write_scenario(accounts=acc))
    frame = pd.DataFrame(acc)
    with pytest.raises(ScenarioError) as info:
        make_scenario(frame, pd.DataFrame(base_territories))
    assert (
        info.value.problems
        == folder_problems
        == [
            "accounts.csv row 3: potential must be >= 0 (got -5)",
            "accounts.csv row 3: current_territory 'T9' is not in territories.csv",
        ]
    )


def test_make_scenario_checks_settings_and_data_together(base_accounts, base_territories) -> None:
    acc = pd.DataFrame(set_cell(base_accounts, 0, workload=float("nan")))
    with pytest.raises(ScenarioError) as info:
        make_scenario(
            acc,
            pd.DataFrame(base_territories),
            settings={"balance": {"potential": {"tolerence": 0.1}}},
        )
    assert info.value.problems == [
        "settings: unknown settings key 'balance.potential.tolerence' (did you mean "
        "'balance.potential.tolerance'?)",
        "accounts.csv row 2: workload is missing",
    ]


def test_make_scenario_accepts_integer_ids(base_accounts) -> None:
    acc = pd.DataFrame(base_accounts).assign(
        account_id=[1, 2, 3, 4], current_territory=[10, 10, 20, 20], locked=[1.0, 0.0, 1.0, 0.0]
    )
    ter = pd.DataFrame({"territory_id": [10, 20], "lat": [40.0, 41.0], "lon": [-74.0, -75.0]})
    sc = make_scenario(acc, ter, settings={"balance": {"potential": {"tolerance": 0.5}}})
    assert sc.accounts["account_id"].tolist() == ["1", "2", "3", "4"]
    assert sc.current.tolist() == [0, 0, 1, 1]
    assert sc.accounts["locked"].tolist() == [True, False, True, False]
    assert sc.settings.balance["potential"].tolerance == 0.5


# --------------------------------------------------------------------------------------------
# odd files: clean errors or the right reading, never a traceback


def test_empty_accounts_file(write_scenario) -> None:
    assert problems_of(write_scenario(accounts="")) == [
        "accounts.csv: the file is empty; it needs a header row (account_id, potential, lat, lon) "
        "and one row per record"
    ]


def test_empty_territories_file(write_scenario) -> None:
    assert problems_of(write_scenario(territories="\n")) == [
        "territories.csv: the file is empty; it needs a header row (territory_id, lat, lon) and "
        "one row per record"
    ]


def test_utf8_bom_is_read(write_scenario, base_accounts) -> None:
    folder = write_scenario()
    for name in ("accounts.csv", "territories.csv"):
        path = folder / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_scenario(folder).accounts["account_id"].tolist() == ["A1", "A2", "A3", "A4"]


def test_binary_file_named_accounts_csv(write_scenario) -> None:
    folder = write_scenario(accounts=bytes(range(256)) * 8)
    assert problems_of(folder) == [
        "accounts.csv: the file is binary, not CSV text; save it as CSV UTF-8 (comma-separated)"
    ]


def test_excel_workbook_named_accounts_csv(write_scenario) -> None:
    folder = write_scenario(accounts=b"PK\x03\x04" + bytes(200))
    assert problems_of(folder) == [
        "accounts.csv: the file is an Excel workbook (or a zip file), not CSV; save it as CSV "
        "UTF-8 (comma-separated)"
    ]


def test_utf16_file(write_scenario) -> None:
    folder = write_scenario(accounts="account_id,potential\nA1,1\n".encode("utf-16"))
    assert problems_of(folder) == [
        "accounts.csv: the file is UTF-16 text; save it as CSV UTF-8 (comma-separated)"
    ]


def test_latin1_file(write_scenario) -> None:
    folder = write_scenario(
        accounts="account_id,potential,lat,lon\nMünchen,1,48,11\n".encode("latin-1")
    )
    assert problems_of(folder) == [
        "accounts.csv: the file is not UTF-8 text (byte 0xfc); "
        "save it as CSV UTF-8 (comma-separated)"
    ]


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolons"), ("\t", "tabs")])
def test_semicolon_or_tab_separated_file(write_scenario, sep, word) -> None:
    folder = write_scenario(accounts=f"account_id{sep}potential\nA1{sep}1\n")
    assert problems_of(folder) == [
        f"accounts.csv: the header is one column {'account_id' + sep + 'potential'!r}: the file is "
        f"separated by {word}, align reads comma-separated files; save it as CSV UTF-8 "
        "(comma-separated)"
    ]


def test_column_given_twice(write_scenario) -> None:
    folder = write_scenario(accounts="account_id,potential,potential,lat,lon\nA1,1,2,40,-74\n")
    assert problems_of(folder) == [
        "accounts.csv: column 'potential' appears twice in the header (columns 2 and 3); rename "
        "or remove one"
    ]


def test_row_with_too_many_cells(write_scenario) -> None:
    text = "account_id,potential,lat,lon\nA1,1,40,-74\nA2,1,000,40,-74\n"
    assert problems_of(write_scenario(accounts=text)) == [
        "accounts.csv row 3: 5 cells where the header has 4 columns; quote values that contain "
        'commas ("1,000") or remove the extra cells'
    ]


def test_extra_cell_in_the_first_row_is_not_silently_dropped(write_scenario) -> None:
    text = "account_id,potential,lat,lon\nA1,1,5,40,-74\nA2,1,40,-74\n"
    assert problems_of(write_scenario(accounts=text)) == [
        "accounts.csv row 2: 5 cells where the header has 4 columns; quote values that contain "
        'commas ("1,000") or remove the extra cells'
    ]


def test_empty_extra_cells_are_harmless(write_scenario) -> None:
    text = "account_id,potential,lat,lon\nA1,1,40,-74,\nA2,2,40,-74,,\n"
    sc = load_scenario(write_scenario(accounts=text))
    assert sc.accounts["potential"].tolist() == [1.0, 2.0]


def test_unreadable_file_and_settings_problems_are_reported_together(write_scenario) -> None:
    folder = write_scenario(territories=b"\x00\x01", toml="model = 'balancd'\n")
    assert problems_of(folder) == [
        "scenario.toml: settings key 'model': unknown preset 'balancd' (did you mean 'balanced'?); "
        f"presets: {', '.join(align.list_presets())}",
        "territories.csv: the file is binary, not CSV text; save it as CSV UTF-8 (comma-separated)",
    ]


def test_blank_lines_keep_row_numbers_as_in_the_file(write_scenario) -> None:
    text = "account_id,potential,lat,lon\nA1,1,40,-74\n\nA2,-3,40,-74\n,,,\nA3,x,40,-74\n\n\n"
    assert problems_of(write_scenario(accounts=text)) == [
        "accounts.csv row 6: potential must be a number (got 'x')",
        "accounts.csv row 4: potential must be >= 0 (got -3)",
    ]


def test_spaces_around_header_names_and_values_are_ignored(write_scenario) -> None:
    text = "account_id , potential,lat , lon\n A1 , 5 ,40,-74\nA2,6,40,-74\n"
    sc = load_scenario(write_scenario(accounts=text))
    assert sc.accounts["account_id"].tolist() == ["A1", "A2"]
    assert sc.accounts["potential"].tolist() == [5.0, 6.0]


def test_trailing_comma_on_every_row_is_harmless(write_scenario) -> None:
    text = "account_id,potential,lat,lon,\nA1,1,40,-74,\nA2,2,40,-74,\n"
    sc = load_scenario(write_scenario(accounts=text))
    assert sc.accounts["account_id"].tolist() == ["A1", "A2"]
    assert sc.accounts["potential"].tolist() == [1.0, 2.0]


def test_ids_that_look_like_numbers_stay_strings(write_scenario) -> None:
    folder = write_scenario(
        accounts="account_id,potential,current_territory\n01005,1,007\n1005,2,7\n",
        territories="territory_id\n007\n7\n",
        distances=[
            ["from_id", "to_id", "distance"],
            ["01005", "007", 1],
            ["01005", "7", 2],
            ["1005", "007", 3],
            ["1005", "7", 4],
        ],
    )
    sc = load_scenario(folder)
    assert sc.accounts["account_id"].tolist() == ["01005", "1005"]
    assert sc.territories["territory_id"].tolist() == ["007", "7"]
    assert sc.current.tolist() == [0, 1]
    assert sc.geometry.matrix.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_na_is_a_segment_name_not_a_missing_value(
    write_scenario, base_accounts, base_territories
) -> None:
    rows = [dict(r, segment="NA") for r in base_accounts]
    folder = write_scenario(accounts=rows, territories=set_cell(base_territories, 1, segments="NA"))
    assert load_scenario(folder).accounts["segment"].tolist() == ["NA"] * 4


# --------------------------------------------------------------------------------------------
# the command line: exit codes and messages, never a traceback


def align_cli(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "align.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


BAD_PROBLEMS = [
    "scenario.toml: unknown settings key 'balance.potential.tolerence' (did you mean "
    "'balance.potential.tolerance'?)",
    "accounts.csv row 2: potential must be >= 0 (got -5)",
    "accounts.csv row 3: current_territory 'T9' is not in territories.csv",
]


@pytest.fixture(scope="module")
def cli(tmp_path_factory, make_scenario_writer) -> dict[str, Any]:
    """Run the commands once, side by side (each start of Python costs a second or two)."""
    base = tmp_path_factory.mktemp("cli")
    write = make_scenario_writer(base)
    good = write(name="good")
    text = (good / "accounts.csv").read_text()
    text = text.replace("A1,100,", "A1,-5,").replace("-74.1,T1,", "-74.1,T9,")
    bad = write(accounts=text, toml="[balance.potential]\ntolerence = 0.1\n", name="bad")
    procs = {
        "validate bad": align_cli("validate", bad),
        "validate good": align_cli("validate", good, "--set", "balance.potential.tolerance=0.5"),
        "solve bad": align_cli("solve", bad, "--out", base / "run", "--set", "objectve.travel=2"),
    }
    results: dict[str, Any] = {"run": base / "run"}
    for key, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[key] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


def test_cli_validate_bad_scenario_exits_2_with_every_problem(cli) -> None:
    res = cli["validate bad"]
    assert res.returncode == 2, res.stderr
    for problem in BAD_PROBLEMS:
        assert problem in res.stderr
    assert "3 problems in the scenario" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_cli_validate_good_scenario_exits_0(cli) -> None:
    res = cli["validate good"]
    assert res.returncode == 0, res.stderr
    assert "valid. 4 accounts, 2 territories" in res.stdout


def test_cli_solve_bad_scenario_exits_2_and_writes_nothing(cli) -> None:
    res = cli["solve bad"]
    assert res.returncode == 2, res.stderr
    assert (
        "--set: unknown settings key 'objectve.travel' (did you mean 'objective.travel'?)"
        in res.stderr
    )
    for problem in BAD_PROBLEMS:
        assert problem in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert not (cli["run"] / "run.json").exists()
