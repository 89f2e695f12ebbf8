"""Offline geocoding: accounts and reps with a US ZIP code but no coordinates.

A row without lat/lon and with a ``zip`` is placed at the centroid of its ZIP code, from the data
the ``zipcodes`` package ships (US ZIP codes only; no network). Coordinates given in the file win.
Other countries are not covered: such rows need lat/lon.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd

from .validation import Table

US = frozenset({"", "us", "usa", "u s", "u s a", "united states", "united states of america"})
FIVE = re.compile(r"^(\d{5})(?:-?\d{4})?$")
SHORT = re.compile(r"^\d{3,4}$")  # a ZIP code whose leading zeros a spreadsheet dropped
PLURAL = {"territory": "territories"}
LOOKUP_EACH_BELOW = 500  # distinct ZIP codes looked up one by one; more: the whole table once


def source() -> str:
    """Where the centroids come from, for notes and docs."""
    import zipcodes

    return f"zipcodes {zipcodes.__version__}"


@cache
def _all_centroids() -> dict[str, tuple[float, float]]:
    import zipcodes

    return {z["zip_code"]: _point(z) for z in zipcodes.list_all() if _point(z) is not None}  # type: ignore[misc]


def _point(z: dict) -> tuple[float, float] | None:  # type: ignore[type-arg]
    try:
        lat, lon = float(z["lat"]), float(z["long"])
    except (KeyError, TypeError, ValueError):
        return None
    return (lat, lon) if np.isfinite(lat) and np.isfinite(lon) else None


def zip_text(v: object) -> str | None:
    """A ZIP code as five digits: "43215", "43215-1234", 2134 (leading zero lost) -> "02134";
    None when blank; the text as it is when it is not a ZIP code's shape."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    text = str(v).strip()
    if not text:
        return None
    if SHORT.match(text):
        text = text.zfill(5)
    m = FIVE.match(text)
    return m[1] if m else text


def centroids(codes: list[str]) -> dict[str, tuple[float, float]]:
    """The centroid (lat, lon) of each known five-digit ZIP code among ``codes``."""
    wanted = sorted({c for c in codes if FIVE.match(c)})
    if len(wanted) >= LOOKUP_EACH_BELOW:
        table = _all_centroids()
        return {c: table[c] for c in wanted if c in table}
    import zipcodes

    out = {}
    for c in wanted:
        found = zipcodes.matching(c)
        point = _point(found[0]) if found else None
        if point is not None:
            out[c] = point
    return out


def place_by_zip(table: Table, what: str) -> tuple[list[str], list[str], set[int]]:
    """Fill lat/lon from ``zip`` where a row has no coordinates.

    Returns (notes, problems, rows reported): a ZIP code that is not a US ZIP code, or a row in
    another country, is a problem naming the row and the value.
    """
    f = table.frame
    if "zip" not in f or "x" in f or "y" in f:
        return [], [], set()
    has = {c: c in f for c in ("lat", "lon")}
    lat = pd.to_numeric(f["lat"], errors="coerce") if has["lat"] else pd.Series(np.nan, f.index)
    lon = pd.to_numeric(f["lon"], errors="coerce") if has["lon"] else pd.Series(np.nan, f.index)
    need = (lat.isna() | lon.isna()).to_numpy().copy()
    if has["lat"]:
        need &= f["lat"].isna().to_numpy()  # a cell that is text is validation's to report
    if has["lon"]:
        need &= f["lon"].isna().to_numpy()
    codes = f["zip"].map(zip_text)
    need &= codes.notna().to_numpy()
    if not need.any():
        return [], [], set()
    problems: list[str] = []
    reported: set[int] = set()
    if "country" in f:
        country = (
            f["country"]
            .astype(object)
            .map(
                lambda v: (
                    " ".join(re.sub(r"[^a-z]+", " ", str(v).lower()).split())
                    if isinstance(v, str)
                    else ""
                )
            )
        )
        abroad = need & ~country.isin(US).to_numpy()
        for pos in np.flatnonzero(abroad):
            problems.append(
                f"{table.label} row {table.row(int(pos))}: country {f['country'].iloc[pos]!r}: "
                f"ZIP code centroids cover the United States only; give lat and lon for this {what}"
            )
            reported.add(int(pos))
        need &= ~abroad
    found = centroids(list(codes[need]))
    known = codes.map(lambda c: c in found).to_numpy()
    unknown = need & ~known
    for pos in np.flatnonzero(unknown):
        raw = f["zip"].iloc[pos]
        shown = raw if isinstance(raw, str) else codes.iloc[pos]
        problems.append(
            f"{table.label} row {table.row(int(pos))}: zip {shown!r} is not a US ZIP code, so the "
            f"{what} cannot be placed; correct it or give lat and lon"
        )
        reported.add(int(pos))
    placed = need & known
    if placed.any():
        points = np.array([found[c] for c in codes[placed]], dtype=float)
        lat_deg = lat.astype(float).to_numpy().copy()
        lon_deg = lon.astype(float).to_numpy().copy()
        lat_deg[placed], lon_deg[placed] = points[:, 0], points[:, 1]
        table.frame = f.assign(lat=lat_deg, lon=lon_deg)
    n = int(placed.sum())
    word = what if n == 1 else PLURAL.get(what, what + "s")
    notes = (
        [
            f"{table.label}: {n:,} {word} without coordinates placed at the centroid of "
            f"their ZIP code ({source()}, US ZIP codes only)"
        ]
        if n
        else []
    )
    return notes, problems, reported
