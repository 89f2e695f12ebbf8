"""Polygons of geographic units (ZIPs, bricks, counties): reading, checking, adjacency, dissolve.

Shapes are kept as a GeoSeries aligned with the accounts, in the CRS they were given in.
Adjacency is topology (shared borders), which no projection changes, so it is computed in that
CRS with exact predicates; anything metric (areas, lengths) uses :func:`metric_crs`. Distances
between accounts and territories stay great-circle kilometres between lat/lon points (see
:mod:`align.geo`): a polygon's lat/lon is its representative point, which lies inside it.
Everything is vectorised over shapely 2 arrays: a 30,000-unit file loads in seconds.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .errors import ScenarioError
from .validation import Problems, Table

POLYGONAL = ("Polygon", "MultiPolygon")
REPAIR = 'repair it (e.g. shapely.make_valid, or "Fix geometries" in QGIS)'


def read_geo(path: Any) -> tuple[pd.DataFrame, gpd.GeoSeries | None]:
    """Read accounts.geojson / accounts.gpkg: attributes with lat/lon, and polygons if given.

    Raises
    ------
    ScenarioError
        When the file cannot be read, has no CRS, or has missing, empty, invalid or mixed
        geometry (every offending feature named, with its account_id and the fix).
    """
    try:
        gdf = gpd.read_file(path)
    except Exception as e:  # pyogrio raises its own DataSourceError family
        raise ScenarioError(f"{path.name}: cannot be read ({e})") from None
    return split_geo(gdf, label=path.name)


def split_geo(
    gdf: gpd.GeoDataFrame, *, label: str, header_rows: int = 0
) -> tuple[pd.DataFrame, gpd.GeoSeries | None]:
    """Attributes (with ``lat``/``lon`` of each feature's representative point) and shapes.

    Shapes are returned only when the features are polygons; points give ``None``. Rows of
    messages count features from 1 (after ``header_rows``).
    """
    if gdf.crs is None:
        raise ScenarioError(
            f"{label}: the geometry has no coordinate reference system; set one "
            "(e.g. EPSG:4326 for lat/lon degrees)"
        )
    geoms = gdf.geometry.reset_index(drop=True)
    table = Table(label, pd.DataFrame(gdf).reset_index(drop=True), header_rows=header_rows)
    ids = gdf["account_id"].astype(str).to_numpy() if "account_id" in gdf else None

    def who(i: int) -> str:
        return f"account {ids[i]!r}" if ids is not None else "the feature"

    p = Problems()
    arr = geoms.to_numpy()
    missing = shapely.is_missing(arr)
    empty = ~missing & shapely.is_empty(arr)
    invalid = ~missing & ~empty & ~shapely.is_valid(arr)
    p.rows(table, missing, lambda i: f"{who(i)} has no geometry; give it a polygon or a point")
    p.rows(table, empty, lambda i: f"{who(i)} has an empty geometry; give it a polygon or a point")
    if invalid.any():
        reasons = np.asarray(shapely.is_valid_reason(arr), dtype=object)
        p.rows(table, invalid, lambda i: f"{who(i)} has invalid geometry ({reasons[i]}); {REPAIR}")
    kinds = np.asarray(shapely.get_type_id(arr))
    polygon = np.isin(kinds, (3, 6))  # Polygon, MultiPolygon
    point = kinds == 0
    usable = ~(missing | empty)
    other = usable & ~polygon & ~point
    types = geoms.geom_type.to_numpy()
    p.rows(table, other, lambda i: f"{who(i)} is a {types[i]}; give a polygon or a point")
    if (usable & polygon).any() and (usable & point).any():
        n_pt, n_pg = int((usable & point).sum()), int((usable & polygon).sum())
        minority = usable & (point if n_pt <= n_pg else polygon)
        p.add(
            f"{label}: {n_pg:,} features are polygons and {n_pt:,} are points (e.g. row "
            f"{table.row(int(np.flatnonzero(minority)[0]))}); give every unit a polygon, or "
            "every account a point"
        )
    p.raise_if_any()
    shapes = gpd.GeoSeries(arr, crs=gdf.crs)
    points = gpd.GeoSeries(shapely.point_on_surface(arr), crs=gdf.crs).to_crs(4326)
    # ids stay as read: validation turns them into text (1005 and 1005.0 both become '1005')
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    frame["lat"] = points.y.to_numpy()
    frame["lon"] = points.x.to_numpy()
    return frame, (shapes if polygon.any() else None)


def metric_crs(shapes: gpd.GeoSeries) -> CRS:
    """A CRS in metres for areas and lengths: the given one when it is projected in metres
    (and not Web Mercator, whose scale grows with latitude), else the UTM zone of the data."""
    crs = CRS.from_user_input(shapes.crs)
    if crs.is_projected and crs.to_epsg() != 3857:
        units = {a.unit_name for a in crs.axis_info}
        if units <= {"metre", "meter"}:
            return crs
    utm = shapes.estimate_utm_crs()
    return CRS.from_user_input(utm)


def adjacency_pairs(
    shapes: gpd.GeoSeries, ids: pd.Series | np.ndarray, *, corners: bool = False
) -> pd.DataFrame:
    """Neighbouring units as ``account_id, neighbor_id`` rows, each pair once (in file order).

    Two units are neighbours when they share a border of positive length (rook contiguity);
    with ``corners=True`` touching at a single point is enough (queen contiguity). Overlapping
    units count as neighbours. Computed with exact predicates in the shapes' own CRS.
    """
    arr = shapes.to_numpy()
    tree = shapely.STRtree(arr)
    i, j = tree.query(arr, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if not corners and len(i):
        # DE-9IM: interiors overlap (2********) or boundaries meet in a line (****1****)
        m = np.asarray(shapely.relate(arr[i], arr[j]), dtype="U9")
        chars = m.view("U1").reshape(len(m), 9)
        rook = (chars[:, 0] == "2") | (chars[:, 4] == "1")
        i, j = i[rook], j[rook]
    order = np.lexsort((j, i))
    ids = np.asarray(ids, dtype=object)
    return pd.DataFrame({"account_id": ids[i[order]], "neighbor_id": ids[j[order]]}, dtype=object)


def derived_adjacency(accounts: Table, *, corners: bool) -> Table | None:
    """Adjacency from the polygons of ``accounts`` as a Table, or None without polygons."""
    if accounts.shapes is None or "account_id" not in accounts.frame:
        return None
    pairs = adjacency_pairs(accounts.shapes, accounts.frame["account_id"], corners=corners)
    pairs = pairs.dropna().reset_index(drop=True)  # blank ids are reported on accounts
    return Table(f"{accounts.label} (shared borders)", pairs, header_rows=0, derived=True)


def territory_shapes(
    shapes: gpd.GeoSeries, territory_of: pd.Series | np.ndarray, table: pd.DataFrame
) -> gpd.GeoDataFrame:
    """One dissolved (multi)polygon per territory, with the columns of ``table``, in WGS84.

    ``territory_of`` is each account's territory id (aligned with ``shapes``); ``table`` has a
    ``territory_id`` column (a run's territories.csv). Territories without units get an empty
    geometry.
    """
    arr = shapes.to_numpy()
    tid = pd.Series(np.asarray(territory_of, dtype=object))
    groups = tid.groupby(tid, sort=False).indices
    ids = table["territory_id"].astype(object).to_numpy()
    values = [dissolve(arr[groups[t]]) if t in groups else shapely.Polygon() for t in ids]
    out = gpd.GeoDataFrame(table.reset_index(drop=True), geometry=values, crs=shapes.crs)
    return out.to_crs(4326)


def dissolve(parts: np.ndarray) -> Any:
    """The union of polygons. Units of a map usually tile the plane (a coverage), whose union
    is ten times faster; anything else (overlaps, borders not noded alike) takes the full union.
    """
    try:
        fast = shapely.coverage_union_all(parts)
    except shapely.errors.GEOSException:
        fast = None
    if fast is not None and shapely.is_valid(fast):
        total = float(shapely.area(parts).sum())
        if abs(shapely.area(fast) - total) <= 1e-9 * max(total, 1e-300):
            return fast
    return shapely.union_all(parts)
