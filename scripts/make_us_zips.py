#!/usr/bin/env python3
"""Build the national ZIP scenario ``benchmarks/data/zips-US/`` (lower 48 states).

Points: the ZIP codes of the ``zipcodes`` package (MIT licence; its data ships inside the
package, no network), active ones of the lower 48 states. Points outside the lower 48's box
are dropped (the package puts a few at 0, 0). ZIP codes at the very same point (a post
office's PO-box and unique ZIPs beside its standard one) are one unit: the first in the order
standard, PO box, unique gives the unit its id, ``zips`` counts them.

County: each unit is matched to a county of ``benchmarks/data/counties-US`` by the county name
and state the package gives ("Suffolk County", NY -> 36103); among several counties of that
name in the state (Virginia's independent cities) the nearest centroid, and without any
match the nearest county centroid of the state (the script prints how many).

Potential: a documented *proxy*, not population: each county's proxy potential (10,000 plus its
GeoNames places of 15,000+ people, see ``make_us_counties.py``) shared equally among the units
in it; a county that holds no unit gives its potential to the unit nearest its centroid.

Adjacency: the Delaunay triangulation of the points projected to the Albers equal-area conic
(EPSG:5070), an edge kept only when its two units lie in the same county or in adjacent
counties (so no edge crosses a lake or a bay between counties that share no border). Pieces
the graph leaves apart are joined to the nearest unit of the main piece, printed one by one.

    .venv/bin/python scripts/make_us_zips.py            # -> benchmarks/data/zips-US
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd
import zipcodes
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, cKDTree

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data"
NOT_LOWER_48 = {"AK", "HI", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP", "FM", "MH", "PW"}
LAT, LON = (24.0, 50.0), (-125.0, -66.5)  # the lower 48's box: points outside are wrong
KINDS = {"STANDARD": 0, "PO BOX": 1, "UNIQUE": 2}
SUFFIX = re.compile(r"\s+(county|parish|borough|city and borough|census area|municipality)$")
SCENARIO_TOML = """\
# Lower-48 ZIP codes (zipcodes package) into contiguous territories; built by
# scripts/make_us_zips.py. Potential is a population proxy (see the script).
[territories]
count = 200
[balance.potential]
tolerance = 0.05
[objective]
distance_power = 2
[constraints]
contiguity = true
[solver]
time_limit_s = 900
"""


def _key(name: str) -> str:
    """A county name as both sources can agree on: lower case, no "County"/"Parish" suffix."""
    s = SUFFIX.sub("", name.strip().lower())
    return s.replace("saint ", "st. ").replace("ste. ", "ste ").replace("'", "").replace(" ", "")


def read_zips() -> pd.DataFrame:
    """Active lower-48 ZIP codes with a location, one row per distinct point."""
    rows = [
        {
            "zip": z["zip_code"],
            "kind": KINDS.get(z["zip_code_type"], 3),
            "state": z["state"],
            "county": z["county"] or "",
            "city": z["city"],
            "lat": float(z["lat"]),
            "lon": float(z["long"]),
        }
        for z in zipcodes.list_all()
        if z["active"] and z["lat"] and z["long"] and z["state"] not in NOT_LOWER_48
    ]
    df = pd.DataFrame(rows)
    box = df.lat.between(*LAT) & df.lon.between(*LON)
    print(f"{int((~box).sum())} ZIP codes outside the lower 48's box dropped (e.g. at 0, 0)")
    df = df[box].sort_values(["kind", "zip"], kind="stable")
    df["zips"] = df.groupby(["lat", "lon"])["zip"].transform("size")
    return df.drop_duplicates(["lat", "lon"]).sort_values("zip").reset_index(drop=True)


def match_counties(z: pd.DataFrame, counties: pd.DataFrame) -> np.ndarray:
    """Row of ``counties`` for every unit (see the module docstring)."""
    ckey = counties["state"] + "|" + counties["name"].map(_key)
    by_key: dict[str, list[int]] = {}
    for i, k in enumerate(ckey):
        by_key.setdefault(k, []).append(i)
    by_state = counties.groupby("state").indices
    cxy = counties[["lat", "lon"]].to_numpy()
    out = np.empty(len(z), dtype=np.int64)
    unmatched = 0
    for r, (state, county, lat, lon) in enumerate(
        z[["state", "county", "lat", "lon"]].itertuples(index=False)
    ):
        opts = by_key.get(f"{state}|{_key(county)}")
        if not opts:
            unmatched += 1
            opts = list(by_state.get(state, range(len(counties))))
        d = np.hypot(cxy[opts, 0] - lat, cxy[opts, 1] - lon)
        out[r] = opts[int(np.argmin(d))]
    print(f"{unmatched} units matched to a county by distance (no county of their name)")
    return out


def delaunay_edges(xy: np.ndarray) -> np.ndarray:
    """(k, 2) the edges of the Delaunay triangulation, i < j."""
    tri = Delaunay(xy).simplices
    e = np.vstack((tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]))
    e.sort(axis=1)
    return np.unique(e, axis=0)


def join_pieces(edges: np.ndarray, xy: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The edges plus one link from every piece but the largest to the nearest unit of the
    largest piece (printed)."""
    n = len(xy)
    A = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    count, labels = connected_components(A, directed=False)
    if count == 1:
        return edges
    main = int(np.argmax(np.bincount(labels)))
    inside = np.flatnonzero(labels == main)
    tree = cKDTree(xy[inside])
    extra = []
    for piece in range(count):
        if piece == main:
            continue
        units = np.flatnonzero(labels == piece)
        d, j = tree.query(xy[units])
        k = int(np.argmin(d))
        a, b = int(units[k]), int(inside[j[k]])
        extra.append((min(a, b), max(a, b)))
        print(
            f"piece of {len(units)} unit(s) from {ids[units[0]]}: joined {ids[a]} to {ids[b]} "
            f"({d[k] / 1000:.1f} km)"
        )
    return np.vstack((edges, np.array(extra, dtype=edges.dtype)))


def build(counties_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    counties = pd.read_csv(counties_dir / "accounts.csv", dtype={"account_id": str})
    cadj = pd.read_csv(counties_dir / "adjacency.csv", dtype=str)
    z = read_zips()
    crow = match_counties(z, counties)
    # potential: each county's proxy shared among its units; empty counties to the nearest unit
    per = np.bincount(crow, minlength=len(counties))
    pot = counties["potential"].to_numpy(dtype=float)
    share = np.where(per > 0, pot / np.maximum(per, 1), 0.0)
    potential = share[crow]
    empty = np.flatnonzero(per == 0)
    if len(empty):
        tree = cKDTree(z[["lat", "lon"]].to_numpy())
        _, near = tree.query(counties.loc[empty, ["lat", "lon"]].to_numpy())
        np.add.at(potential, near, pot[empty])
        print(f"{len(empty)} counties hold no unit: their potential goes to the nearest unit")
    # adjacency: Delaunay edges within a county or between adjacent counties
    xy = np.column_stack(
        Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True).transform(
            z["lon"].to_numpy(), z["lat"].to_numpy()
        )
    )
    edges = delaunay_edges(xy)
    fips = counties["account_id"].to_numpy()
    cindex = pd.Index(fips)
    ca = cindex.get_indexer(cadj["account_id"])
    cb = cindex.get_indexer(cadj["neighbor_id"])
    near_c = set(zip(ca.tolist(), cb.tolist(), strict=True))
    near_c |= {(b, a) for a, b in near_c}
    a, b = crow[edges[:, 0]], crow[edges[:, 1]]
    keep = (a == b) | np.array([(x, y) in near_c for x, y in zip(a, b, strict=True)])
    print(f"{len(edges)} Delaunay edges, {int((~keep).sum())} dropped (counties not adjacent)")
    ids = z["zip"].to_numpy()
    edges = join_pieces(edges[keep], xy, ids)
    acc = pd.DataFrame(
        {
            "account_id": ids,
            "name": z["city"].to_numpy(),
            "state": z["state"].to_numpy(),
            "county": fips[crow],
            "zips": z["zips"].to_numpy(),
            "lat": z["lat"].round(5).to_numpy(),
            "lon": z["lon"].round(5).to_numpy(),
            "potential": potential.round(1),
        }
    )
    adj = pd.DataFrame({"account_id": ids[edges[:, 0]], "neighbor_id": ids[edges[:, 1]]})
    return acc, adj


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--counties", type=Path, default=DATA / "counties-US")
    ap.add_argument("--out", type=Path, default=DATA / "zips-US")
    args = ap.parse_args()
    acc, adj = build(args.counties)
    args.out.mkdir(parents=True, exist_ok=True)
    acc.to_csv(args.out / "accounts.csv", index=False)
    adj.to_csv(args.out / "adjacency.csv", index=False)
    (args.out / "scenario.toml").write_text(SCENARIO_TOML)
    print(f"{len(acc)} units, {len(adj)} adjacencies, potential {acc.potential.sum():,.0f}")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
