"""Polygon accounts: shapes kept, adjacency from shared borders, islands, dissolved territories.

The polygons are grids of squares (tests/conftest.py) whose adjacency is known by hand: on a
3 x 3 grid the centre shares a border with 4 squares (rook) and touches 8 (queen).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import UTM14, grid_units, write_polygon_scenario
from pyproj import CRS
from shapely.geometry import Point, Polygon, box

import align
from align.shapes import adjacency_pairs, dissolve, metric_crs


def centre_latlon(units: gpd.GeoDataFrame, account_id: str) -> tuple[float, float]:
    row = units.loc[units["account_id"] == account_id]
    p = row.geometry.to_crs(UTM14).centroid.to_crs(4326).iloc[0]
    return p.y, p.x


def home_bases(units: gpd.GeoDataFrame, homes: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for tid, unit in homes.items():
        lat, lon = centre_latlon(units, unit)
        out.append({"territory_id": tid, "lat": lat, "lon": lon})
    return out


def by_hand(nx: int, ny: int, *, queen: bool) -> set[tuple[str, str]]:
    """Neighbouring squares of an nx x ny grid, each pair once, from the grid's arithmetic."""
    cells = [(r, c) for r in range(ny) for c in range(nx)]
    out = set()
    for a, (r1, c1) in enumerate(cells):
        for r2, c2 in cells[a + 1 :]:
            dr, dc = abs(r1 - r2), abs(c1 - c2)
            if (max(dr, dc) == 1) if queen else (dr + dc == 1):
                out.add((f"r{r1}c{c1}", f"r{r2}c{c2}"))
    return out


def pairs(adjacency: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(adjacency["account_id"], adjacency["neighbor_id"], strict=True))


def degree(adjacency: pd.DataFrame, unit: str) -> int:
    return int((adjacency["account_id"] == unit).sum() + (adjacency["neighbor_id"] == unit).sum())


TWO = {"T1": "r0c0", "T2": "r2c2"}


# --------------------------------------------------------------------------------------------
# adjacency


@pytest.mark.parametrize(("corners", "centre_degree", "count"), [(False, 4, 12), (True, 8, 20)])
def test_polygons_give_rook_or_queen_adjacency(
    tmp_path: Path, corners: bool, centre_degree: int, count: int
) -> None:
    units = grid_units(3, 3)
    folder = write_polygon_scenario(tmp_path / "grid", units, home_bases(units, TWO))
    sc = align.load_scenario(
        folder, overrides=[f"constraints.corner_adjacency={str(corners).lower()}"]
    )
    assert sc.adjacency is not None
    assert len(sc.adjacency) == count
    assert pairs(sc.adjacency) == by_hand(3, 3, queen=corners)
    assert degree(sc.adjacency, "r1c1") == centre_degree
    assert degree(sc.adjacency, "r0c0") == (3 if corners else 2)


def test_adjacency_is_the_same_in_lat_lon_degrees(tmp_path: Path) -> None:
    # the same squares reprojected to WGS84 and written as GeoJSON: topology does not change
    units = grid_units(4, 3).to_crs(4326)
    folder = write_polygon_scenario(
        tmp_path / "g", units, home_bases(units, TWO), file="accounts.geojson"
    )
    sc = align.load_scenario(folder)
    assert sc.adjacency is not None
    assert pairs(sc.adjacency) == by_hand(4, 3, queen=False)
    assert sc.shapes is not None and CRS.from_user_input(sc.shapes.crs).to_epsg() == 4326


def test_adjacency_csv_wins_over_the_polygons(tmp_path: Path) -> None:
    units = grid_units(3, 3)
    folder = write_polygon_scenario(tmp_path / "g", units, home_bases(units, TWO))
    pd.DataFrame({"account_id": ["r0c0"], "neighbor_id": ["r2c2"]}).to_csv(
        folder / "adjacency.csv", index=False
    )
    sc = align.load_scenario(folder)
    assert sc.adjacency is not None
    assert pairs(sc.adjacency) == {("r0c0", "r2c2")}


def test_overlapping_units_are_neighbours_and_a_gap_separates(tmp_path: Path) -> None:
    shapes = gpd.GeoSeries(
        [box(0, 0, 10, 10), box(9, 0, 20, 10), box(20.5, 0, 30, 10), box(30, 10, 40, 20)],
        crs=UTM14,
    )
    ids = np.array(["a", "b", "c", "d"], dtype=object)
    rook = adjacency_pairs(shapes, ids)
    queen = adjacency_pairs(shapes, ids, corners=True)
    assert pairs(rook) == {("a", "b")}  # b-c have a gap; c-d touch at a corner only
    assert pairs(queen) == {("a", "b"), ("c", "d")}


def test_dissolve_is_exact_for_tilings_overlaps_and_gaps() -> None:
    tiles = np.array([box(0, 0, 10, 10), box(10, 0, 15, 10)])
    overlap = np.array([box(0, 0, 10, 10), box(5, 0, 15, 10)])
    gap = np.array([box(0, 0, 10, 10), box(12, 0, 15, 10)])
    assert dissolve(tiles).equals(box(0, 0, 15, 10))
    assert dissolve(overlap).equals(box(0, 0, 15, 10))
    assert dissolve(gap).geom_type == "MultiPolygon" and dissolve(gap).area == 130.0


def test_metric_crs_is_utm_for_degrees_and_web_mercator_but_keeps_metric_projections() -> None:
    units = grid_units(2, 2)
    assert metric_crs(units.geometry).to_epsg() == UTM14
    assert metric_crs(units.geometry.to_crs(4326)).to_epsg() == UTM14
    assert metric_crs(units.geometry.to_crs(3857)).to_epsg() == UTM14
    albers = units.geometry.to_crs(5070)  # CONUS Albers equal area, metres
    assert metric_crs(albers).to_epsg() == 5070


def test_a_unit_location_is_a_point_inside_it(tmp_path: Path) -> None:
    # a U shape: its centroid lies in the notch, outside the polygon
    u = Polygon([(0, 0), (30, 0), (30, 30), (20, 30), (20, 10), (10, 10), (10, 30), (0, 30)])
    x0, y0 = 500_000.0, 4_200_000.0
    u = shapely.affinity.scale(u, 1000, 1000, origin=(0, 0))
    u = shapely.affinity.translate(u, x0, y0)
    units = gpd.GeoDataFrame({"account_id": ["u"], "potential": [1.0]}, geometry=[u], crs=UTM14)
    folder = write_polygon_scenario(
        tmp_path / "u", units, [{"territory_id": "T", "lat": 38, "lon": -99}]
    )
    sc = align.load_scenario(folder)
    point = gpd.GeoSeries(
        [Point(sc.accounts["lon"].iloc[0], sc.accounts["lat"].iloc[0])], crs=4326
    ).to_crs(UTM14)
    assert u.contains(point.iloc[0])
    assert not u.contains(u.centroid)


# --------------------------------------------------------------------------------------------
# geometry problems


def test_invalid_empty_and_missing_geometry_are_named_with_their_fix(tmp_path: Path) -> None:
    units = grid_units(3, 1)
    bowtie = Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
    units.loc[0, "geometry"] = shapely.affinity.translate(bowtie, 500_000, 4_300_000)
    units.loc[1, "geometry"] = Polygon()
    units.loc[2, "geometry"] = None
    folder = write_polygon_scenario(
        tmp_path / "g", units, [{"territory_id": "T", "lat": 38, "lon": -99}]
    )
    with pytest.raises(align.ScenarioError) as e:
        align.load_scenario(folder)
    assert e.value.problems == [
        "accounts.gpkg row 3: account 'r0c2' has no geometry; give it a polygon or a point",
        "accounts.gpkg row 2: account 'r0c1' has an empty geometry; give it a polygon or a point",
        "accounts.gpkg row 1: account 'r0c0' has invalid geometry (Self-intersection[500500 "
        '4300500]); repair it (e.g. shapely.make_valid, or "Fix geometries" in QGIS)',
    ]


def test_points_mixed_with_polygons_are_refused(tmp_path: Path) -> None:
    units = grid_units(3, 1)
    units.loc[1, "geometry"] = Point(515_000, 4_205_000)
    folder = write_polygon_scenario(
        tmp_path / "g",
        units,
        [{"territory_id": "T", "lat": 38, "lon": -99}],
        file="accounts.geojson",
    )
    with pytest.raises(align.ScenarioError) as e:
        align.load_scenario(folder)
    assert e.value.problems == [
        "accounts.geojson: 2 features are polygons and 1 are points (e.g. row 2); give every unit "
        "a polygon, or every account a point"
    ]


# --------------------------------------------------------------------------------------------
# islands under contiguity


def with_island(nx: int = 3, ny: int = 3) -> gpd.GeoDataFrame:
    units = grid_units(nx, ny)
    island = gpd.GeoDataFrame(
        {"account_id": ["isle"], "potential": [1.0], "workload": [1.0]},
        geometry=[box(540_000, 4_200_000, 545_000, 4_205_000)],  # 10 km east of the grid
        crs=UTM14,
    )
    return gpd.GeoDataFrame(pd.concat([units, island], ignore_index=True), crs=UTM14)


def contiguous(tmp_path: Path, units: gpd.GeoDataFrame) -> Path:
    """A polygon scenario folder with constraints.contiguity = true."""
    toml = "[constraints]\ncontiguity = true\n"
    return write_polygon_scenario(tmp_path / "g", units, home_bases(units, TWO), toml=toml)


def test_an_island_is_reported_with_what_fixes_it(tmp_path: Path) -> None:
    units = with_island()
    folder = contiguous(tmp_path, units)
    with pytest.raises(align.ScenarioError) as e:
        align.load_scenario(folder)
    assert e.value.problems == [
        "accounts.gpkg row 10: account 'isle' shares no border with any other unit (an island): "
        "with constraints.contiguity = true it can only be a territory on its own; link it to a "
        "unit it is reached from (a bridge, a ferry) in adjacency.csv (`align adjacency SCENARIO "
        "--out SCENARIO/adjacency.csv` writes the borders found; add the link there), or set "
        "constraints.contiguity = false"
    ]
    # without contiguity the island is a unit like any other
    sc = align.load_scenario(folder, overrides=["constraints.contiguity=false"])
    assert sc.n_accounts == 10


def test_a_ferry_link_in_adjacency_csv_joins_the_island(tmp_path: Path) -> None:
    units = with_island()
    folder = contiguous(tmp_path, units)
    derived = adjacency_pairs(units.geometry, units["account_id"])
    ferry = pd.DataFrame({"account_id": ["r1c2"], "neighbor_id": ["isle"]})
    pd.concat([derived, ferry]).to_csv(folder / "adjacency.csv", index=False)
    sc = align.load_scenario(folder)
    assert sc.adjacency is not None and len(sc.adjacency) == 13
    assert degree(sc.adjacency, "isle") == 1


def test_an_account_missing_from_adjacency_csv_is_an_island(write_scenario) -> None:
    adjacency = [["account_id", "neighbor_id"], ["A1", "A2"], ["A2", "A3"]]
    folder = write_scenario(adjacency=adjacency, toml="[constraints]\ncontiguity = true\n")
    with pytest.raises(align.ScenarioError) as e:
        align.load_scenario(folder)
    assert e.value.problems == [
        "accounts.csv row 5: account 'A4' has no neighbour in adjacency.csv (an island): with "
        "constraints.contiguity = true it can only be a territory on its own; add a row to "
        "adjacency.csv linking it to a unit it is reached from (a bridge, a ferry), or set "
        "constraints.contiguity = false"
    ]


def test_contiguity_with_polygons_and_no_island_is_valid(tmp_path: Path) -> None:
    folder = contiguous(tmp_path, grid_units(3, 3))
    sc = align.load_scenario(folder)
    assert sc.settings.constraints.contiguity
    assert sc.adjacency is not None and pairs(sc.adjacency) == by_hand(3, 3, queen=False)


# --------------------------------------------------------------------------------------------
# territories.geojson


def test_run_folder_gets_one_dissolved_shape_per_territory(tmp_path: Path) -> None:
    units = grid_units(4, 2)
    homes = {"W": "r0c0", "E": "r1c3"}
    folder = write_polygon_scenario(
        tmp_path / "g",
        units,
        home_bases(units, homes),
        toml='[balance.potential]\ntolerance = 0.01\n[objective]\ntravel_weight = "none"\n',
    )
    run = align.solve(align.load_scenario(folder))
    assert run.status == "optimal"
    out = run.write(tmp_path / "run")
    gdf = gpd.read_file(out / "territories.geojson")
    assert CRS.from_user_input(gdf.crs).to_epsg() == 4326
    assert gdf["territory_id"].tolist() == ["W", "E"]
    table = pd.read_csv(out / "territories.csv")
    for col in ("accounts", "potential", "potential_deviation", "mean_distance"):
        assert gdf[col].tolist() == pytest.approx(table[col].tolist())
    # each territory's shape is the union of its units: the west and east halves of the grid
    plan = pd.read_csv(out / "assignments.csv").set_index("account_id")["territory_id"]
    metric = gdf.to_crs(UTM14).set_index("territory_id").geometry
    for tid in ("W", "E"):
        mine = units.loc[units["account_id"].map(plan).eq(tid)]
        assert len(mine) == 4
        assert metric[tid].geom_type == "Polygon"  # one piece, inner borders dissolved
        assert metric[tid].symmetric_difference(mine.union_all()).area < 1.0  # m2
        assert metric[tid].area == pytest.approx(4 * 10_000.0**2, rel=1e-6)
    # a loaded run reads the shapes back
    loaded = align.load_run(out)
    shapes = loaded.territory_shapes()
    assert shapes is not None and shapes["territory_id"].tolist() == ["W", "E"]


def test_point_scenarios_write_no_territories_geojson(write_scenario, tmp_path: Path) -> None:
    run = align.solve(align.load_scenario(write_scenario()))
    out = run.write(tmp_path / "run")
    assert run.territory_shapes() is None
    assert not (out / "territories.geojson").exists()
    assert json.loads((out / "run.json").read_text())["status"] == run.status


def test_make_scenario_takes_a_geodataframe(tmp_path: Path) -> None:
    units = grid_units(3, 3)
    sc = align.make_scenario(units, pd.DataFrame(home_bases(units, TWO)))
    assert sc.shapes is not None and len(sc.shapes) == 9
    assert sc.adjacency is not None and pairs(sc.adjacency) == by_hand(3, 3, queen=False)
    lat, lon = centre_latlon(units, "r1c1")
    row = sc.accounts.set_index("account_id").loc["r1c1"]
    assert (row["lat"], row["lon"]) == pytest.approx((lat, lon), abs=1e-6)


def test_align_adjacency_writes_the_borders_found(tmp_path: Path, write_scenario) -> None:
    from typer.testing import CliRunner

    from align.cli import app

    units = grid_units(3, 3)
    folder = write_polygon_scenario(tmp_path / "g", units, home_bases(units, TWO))
    out = tmp_path / "adjacency.csv"
    res = CliRunner().invoke(app, ["adjacency", str(folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"wrote {out} (12 pairs of neighbours)"
    assert pairs(pd.read_csv(out)) == by_hand(3, 3, queen=False)
    res = CliRunner().invoke(app, ["adjacency", str(write_scenario()), "--out", str(out)])
    assert res.exit_code == 2
    assert "no adjacency: the accounts have no polygons and there is no adjacency.csv" in (
        res.output
    )
