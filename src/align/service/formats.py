"""Tables in and out of the service: JSON rows to scenario files, frames to JSON/CSV/GeoJSON."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response

from ..errors import ScenarioError
from ..importing import check_mappings, parse_map
from ..scenario import Scenario
from .config import ServiceConfig
from .schemas import ScenarioIn


class TooLarge(HTTPException):
    """413, naming the size, the limit and the variable that sets it."""

    def __init__(self, what: str, size: int, limit: int, variable: str):
        super().__init__(
            413, f"{what} is {size:,}; the limit is {limit:,} ({variable}); send less or raise it"
        )


BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_name(name: str) -> str:
    """A scenario's label: control characters dropped, at most 200 characters."""
    return CONTROL.sub("", name).strip()[:200] or "scenario"


def rows_csv(label: str, rows: list[dict[str, Any]]) -> bytes:
    """Rows (objects) as the CSV file a user would have written: columns in first-seen order,
    missing cells empty, true/false for booleans."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for c in frame.columns:
        if frame[c].map(lambda v: isinstance(v, dict | list)).any():
            raise ScenarioError(
                f"{label} column {c!r}: cells must be numbers, text or true/false, not objects "
                "or lists"
            )
        if frame[c].map(lambda v: isinstance(v, bool)).any():
            frame[c] = frame[c].map(lambda v: str(v).lower() if isinstance(v, bool) else v)
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def toml_text(settings: dict[str, Any]) -> bytes:
    """scenario.toml for a settings object (tables, strings, numbers, booleans, lists)."""
    problems: list[str] = []
    lines: list[str] = []

    def key(k: str) -> str:
        return k if BARE_KEY.fullmatch(k) else json.dumps(k)

    def value(v: Any, where: str) -> str | None:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            parts = [value(x, where) for x in v]
            return None if any(p is None for p in parts) else "[" + ", ".join(parts) + "]"  # type: ignore[arg-type]
        what = "null" if v is None else type(v).__name__
        problems.append(f"settings key '{where}': {what} is not a setting value; leave it out")
        return None

    def table(d: dict[str, Any], path: list[str]) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in d.items() if isinstance(v, dict)}
        if path and (scalars or not tables):
            lines.append("[" + ".".join(key(p) for p in path) + "]")
        for k, v in scalars.items():
            text = value(v, ".".join([*path, k]))
            if text is not None:
                lines.append(f"{key(k)} = {text}")
        for k, v in tables.items():
            table(v, [*path, k])

    table(settings, [])
    if problems:
        raise ScenarioError(problems)
    return ("\n".join(lines) + "\n").encode()


def with_columns(files: dict[str, bytes], maps: list[str]) -> dict[str, bytes]:
    """The files with ``map`` items (HEADER=NAME) added to scenario.toml's ``[columns]``, so the
    stored scenario reads the same way whenever it is validated again. Without an uploaded
    scenario.toml the one written names the preset that would apply without it."""
    mappings, problems = parse_map(maps)
    problems += check_mappings(mappings)
    settings: dict[str, Any] = {"model": "balanced"}
    if "scenario.toml" in files:
        try:
            settings = tomllib.loads(files["scenario.toml"].decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            problems.append(f"scenario.toml: not valid TOML ({e})")
    if problems:
        raise ScenarioError(problems)
    columns = settings.setdefault("columns", {})
    for m in mappings:
        (columns.setdefault(m.table, {}) if m.table else columns)[m.name] = m.header
    return {**files, "scenario.toml": toml_text(settings)}


def scenario_files(body: ScenarioIn, max_accounts: int) -> dict[str, bytes]:
    """The scenario folder's files for a JSON scenario."""
    if len(body.accounts) > max_accounts:
        raise TooLarge("the number of accounts", len(body.accounts), max_accounts,
                       "ALIGN_MAX_ACCOUNTS")  # fmt: skip
    files: dict[str, bytes] = {}
    problems: list[str] = []
    tables = (
        ("accounts.csv", body.accounts),
        ("territories.csv", body.territories),
        ("distances.csv", body.distances),
        ("adjacency.csv", body.adjacency),
    )
    for name, rows in tables:
        if rows is None:
            continue
        if not rows:
            problems.append(f"{name}: no rows; give at least one or leave the table out")
            continue
        try:
            files[name] = rows_csv(name, rows)
        except ScenarioError as e:
            problems += e.problems
    if body.settings:
        try:
            files["scenario.toml"] = toml_text(body.settings)
        except ScenarioError as e:
            problems += e.problems
    if problems:
        raise ScenarioError(problems)
    return files


def check_tables(files: dict[str, bytes], config: ServiceConfig) -> None:
    """413 before any table is parsed when it is past a limit: rows of the accounts (lines of
    accounts.csv, Parquet metadata), columns (the header line, Parquet schema) and the bytes of
    one cell. Every file is checked; the first table past a limit is reported."""
    for name, content in files.items():
        if name.endswith(".csv"):
            _check_csv(name, content, config, rows=name == "accounts.csv")
        elif name.endswith(".parquet"):
            _check_parquet(name, content, config)


def _check_csv(name: str, content: bytes, config: ServiceConfig, *, rows: bool) -> None:
    end = content.find(b"\n")
    header = content if end < 0 else content[:end]
    # commas bound the columns from above (quoted commas only make the count larger)
    columns = header.count(b",") + 1
    if columns > config.max_columns:
        exact = len(next(csv.reader([header.decode("utf-8", "replace")]), []))
        if exact > config.max_columns:
            raise TooLarge(f"{name} (columns)", exact, config.max_columns, "ALIGN_MAX_COLUMNS")
    limit = config.max_cell_bytes
    raw = np.frombuffer(content, dtype=np.uint8)
    cuts = np.flatnonzero((raw == ord(",")) | (raw == ord("\n")))
    widths = np.diff(cuts, prepend=-1, append=len(raw)) - 1  # bytes between separators
    longest = int(np.argmax(widths)) if len(widths) else 0
    if len(widths) and widths[longest] > limit:
        start = int(cuts[longest - 1]) + 1 if longest > 0 else 0
        row = content.count(b"\n", 0, start) + 1
        raise HTTPException(
            413,
            f"{name} row {row}: a cell is over {limit:,} bytes, the limit (ALIGN_MAX_CELL_BYTES); "
            "send less or raise it",
        )
    if rows:
        lines = content.count(b"\n") + (0 if content.endswith(b"\n") else 1) - 1
        if lines > config.max_accounts:
            raise TooLarge(f"{name} (rows)", lines, config.max_accounts, "ALIGN_MAX_ACCOUNTS")


def _check_parquet(name: str, content: bytes, config: ServiceConfig) -> None:
    """Rows and columns from the Parquet footer, without reading a row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(pa.BufferReader(content)).metadata
    except (pa.ArrowException, ValueError, OSError):
        return  # not readable: the scenario's reader names the problem
    if meta.num_columns > config.max_columns:
        raise TooLarge(f"{name} (columns)", meta.num_columns, config.max_columns,
                       "ALIGN_MAX_COLUMNS")  # fmt: skip
    if meta.num_rows > config.max_accounts:
        raise TooLarge(f"{name} (rows)", meta.num_rows, config.max_accounts, "ALIGN_MAX_ACCOUNTS")


def points_of(scenario: Scenario) -> bytes | None:
    """account_id, lat, lon of a lat/lon scenario, as CSV (None for x/y or no coordinates)."""
    if scenario.coord_kind != "latlon":
        return None
    buf = io.StringIO()
    scenario.accounts[["account_id", "lat", "lon"]].to_csv(buf, index=False, float_format="%.8g")
    return buf.getvalue().encode()


# ---------------------------------------------------------------------------------------------
# out


def plain(v: Any) -> Any:
    """A JSON value: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def plain_tree(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): plain_tree(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [plain_tree(x) for x in v]
    return plain(v)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", double_precision=15))
    return out


def respond(
    frame: pd.DataFrame,
    fmt: str,
    geometry: Callable[[], Any],
    kind: str,
) -> Response:
    """A result table as JSON rows, CSV text or a GeoJSON FeatureCollection."""
    if fmt == "csv":
        buf = io.StringIO()
        frame.to_csv(buf, index=False, float_format="%.10g")
        return Response(buf.getvalue(), media_type="text/csv")
    if fmt == "json":
        return JSONResponse(records(frame))
    rows = records(frame)
    geo = geometry()
    if kind == "accounts":
        where: dict[str, Any] = {}
        if geo is not None:
            for a, lat, lon in geo[["account_id", "lat", "lon"]].itertuples(index=False):
                where[str(a)] = {"type": "Point", "coordinates": [float(lon), float(lat)]}
        feats = [_feature(r, where.get(str(r["account_id"]))) for r in rows]
    else:
        shapes = geo or {}
        feats = [_feature(r, shapes.get(str(r["territory_id"]))) for r in rows]
    body = {"type": "FeatureCollection", "features": feats}
    return JSONResponse(body, media_type="application/geo+json")


def _feature(props: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def hulls(plan: pd.DataFrame, points: pd.DataFrame | None) -> dict[str, Any] | None:
    """territory_id -> GeoJSON geometry: the convex hull of its accounts (lon, lat)."""
    if points is None:
        return None
    import shapely

    merged = plan[["account_id", "territory_id"]].merge(points, on="account_id", how="inner")
    out: dict[str, Any] = {}
    for tid, group in merged.groupby("territory_id", sort=False):
        pts = shapely.multipoints(group[["lon", "lat"]].to_numpy(dtype=float))
        out[str(tid)] = shapely.geometry.mapping(shapely.convex_hull(pts))
    return out
