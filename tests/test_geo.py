"""Distances and geometry input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

import align
from align.geo import Geometry, haversine_km


def test_haversine_matches_known_city_distance() -> None:
    # New York (40.7128, -74.0060) to Los Angeles (34.0522, -118.2437): about 3,936 km
    assert haversine_km(40.7128, -74.0060, 34.0522, -118.2437) == pytest.approx(3935.7, abs=1.0)
    assert haversine_km(10.0, 20.0, 10.0, 20.0) == 0.0


def test_nearest_uses_great_circle_order() -> None:
    acc = np.array([[0.0, 0.0], [60.0, 179.0]])
    ter = np.array([[0.0, 1.0], [60.0, -179.0], [0.0, 30.0]])
    g = Geometry("latlon", acc=acc, ter=ter)
    # across the antimeridian, -179 is 1 degree from 179
    assert g.nearest(1)[:, 0].tolist() == [0, 1]


def _territories(tmp: Path) -> None:
    pd.DataFrame(
        {"territory_id": ["T1", "T2"], "lat": [40.0, 40.0], "lon": [-100.0, -90.0]}
    ).to_csv(tmp / "territories.csv", index=False)


def test_geojson_points_are_read_as_lat_lon(tmp_path: Path) -> None:
    pts = [Point(-99.0, 40.0), Point(-98.0, 40.0), Point(-92.0, 40.0), Point(-91.0, 40.0)]
    gdf = gpd.GeoDataFrame(
        {"account_id": ["01001", "01003", "01005", "01007"], "potential": [1.0, 1.0, 1.0, 1.0]},
        geometry=pts,
        crs=4326,
    )
    gdf.to_file(tmp_path / "accounts.geojson", driver="GeoJSON")
    _territories(tmp_path)
    sc = align.load_scenario(tmp_path, overrides=["balance.potential.tolerance=0.01"])
    assert sc.accounts["account_id"].tolist() == ["01001", "01003", "01005", "01007"]
    assert sc.accounts["lon"].tolist() == pytest.approx([-99.0, -98.0, -92.0, -91.0])
    run = align.solve(sc)
    assert run.status == "optimal"
    assert run.assignments is not None
    assert run.assignments["territory_id"].tolist() == ["T1", "T1", "T2", "T2"]


def test_geopackage_polygons_in_a_projected_crs_use_their_centres(tmp_path: Path) -> None:
    # squares in Web Mercator around lon -99 and -91 at lat 40
    centres = gpd.GeoSeries([Point(-99.0, 40.0), Point(-91.0, 40.0)], crs=4326).to_crs(3857)
    polys = [box(c.x - 1000, c.y - 1000, c.x + 1000, c.y + 1000) for c in centres]
    gdf = gpd.GeoDataFrame(
        {"account_id": ["a", "b"], "potential": [1.0, 1.0]}, geometry=polys, crs=3857
    )
    gdf.to_file(tmp_path / "accounts.gpkg", driver="GPKG")
    _territories(tmp_path)
    sc = align.load_scenario(tmp_path)
    assert sc.accounts["lat"].tolist() == pytest.approx([40.0, 40.0], abs=1e-3)
    assert sc.accounts["lon"].tolist() == pytest.approx([-99.0, -91.0], abs=1e-3)


# the file is written without a CRS on purpose: the writer's warning says so too
@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_geometry_without_crs_is_a_clear_error(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"account_id": ["a"], "potential": [1.0]}, geometry=[Point(1.0, 2.0)])
    gdf.to_file(tmp_path / "accounts.gpkg", driver="GPKG")
    _territories(tmp_path)
    with pytest.raises(align.ScenarioError) as e:
        align.load_scenario(tmp_path)
    assert e.value.problems == [
        "accounts.gpkg: the geometry has no coordinate reference system; set one "
        "(e.g. EPSG:4326 for lat/lon degrees)"
    ]
