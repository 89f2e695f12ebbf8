"""Read and write scenario folders and run folders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import RunError, ScenarioError
from .scenario import Scenario
from .settings import Settings, read_toml, resolve_settings
from .validation import Table, build

ID_COLUMNS = {
    "account_id": str,
    "territory_id": str,
    "current_territory": str,
    "segment": str,
    "segments": str,
    "from_id": str,
    "to_id": str,
    "neighbor_id": str,
    "name": str,
    "rep": str,
    "region": str,
}
ACCOUNT_FILES = ("accounts.csv", "accounts.parquet", "accounts.geojson", "accounts.gpkg")


def _read_table(path: Path) -> Table:
    label = path.name
    try:
        if path.suffix == ".csv":
            head = pd.read_csv(path, nrows=0)
            dtypes = {c: ID_COLUMNS[c] for c in head.columns if c in ID_COLUMNS}
            frame = pd.read_csv(path, dtype=dtypes, skipinitialspace=True)  # type: ignore[arg-type]
            return Table(label, frame, header_rows=1)
        if path.suffix == ".parquet":
            return Table(label, pd.read_parquet(path), header_rows=0)
        return Table(label, _read_geo(path), header_rows=0)
    except ScenarioError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise ScenarioError(f"{label}: cannot be read ({e})") from None


def _read_geo(path: Path) -> pd.DataFrame:
    try:
        import geopandas as gpd
    except ImportError:  # pragma: no cover - geopandas is a dependency
        raise ScenarioError(f"{path.name}: reading geometry needs geopandas") from None
    try:
        gdf = gpd.read_file(path)
    except Exception as e:  # pyogrio raises its own DataSourceError family
        raise ScenarioError(f"{path.name}: cannot be read ({e})") from None
    if gdf.crs is None:
        raise ScenarioError(
            f"{path.name}: the geometry has no coordinate reference system; set one "
            "(e.g. EPSG:4326 for lat/lon degrees)"
        )
    bad = ~gdf.geometry.is_valid | gdf.geometry.is_empty
    if bad.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise ScenarioError(f"{path.name}: invalid or empty geometry in features {rows}")
    points = gdf.geometry.representative_point().to_crs(4326)
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    for c in ("account_id", "current_territory", "segment"):
        if c in frame:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
            frame[c] = frame[c].map(lambda v: v if v is None else str(v))
    frame["lat"] = points.y.to_numpy()
    frame["lon"] = points.x.to_numpy()
    return frame


def _hash_files(paths: list[Path], settings: Settings) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    h.update(settings.model_dump_json().encode())
    return h.hexdigest()[:16]


def load_scenario(
    path: str | Path,
    *,
    overrides: list[str] | dict[str, Any] | None = None,
) -> Scenario:
    """Read and validate a scenario folder.

    Parameters
    ----------
    path
        Folder with accounts.csv (or .parquet/.geojson/.gpkg), territories.csv and optionally
        distances.csv, adjacency.csv and scenario.toml.
    overrides
        ``["balance.workload.tolerance=0.1", ...]`` or a nested dict, merged last.

    Raises
    ------
    ScenarioError
        With every problem found, each naming file, row or key, rule and value.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: no such scenario folder")
    problems: list[str] = []
    acc_path = next((folder / f for f in ACCOUNT_FILES if (folder / f).is_file()), None)
    if acc_path is None:
        problems.append(f"{folder}: accounts.csv is missing (one row per account is required)")
    toml_path = folder / "scenario.toml"
    raw_settings = read_toml(toml_path, label="scenario.toml") if toml_path.is_file() else {}
    try:
        settings = resolve_settings(raw_settings, overrides)
    except ScenarioError as e:
        problems += e.problems
        settings = None
    if acc_path is None or settings is None:
        raise ScenarioError(problems)
    tables: dict[str, Table | None] = {}
    used = [acc_path] + ([toml_path] if toml_path.is_file() else [])
    for key in ("territories", "distances", "adjacency"):
        p = folder / f"{key}.csv"
        tables[key] = _read_table(p) if p.is_file() else None
        if p.is_file():
            used.append(p)
    accounts, territories, distances, adjacency = build(
        _read_table(acc_path),
        tables["territories"],
        settings,
        distances=tables["distances"],
        adjacency=tables["adjacency"],
    )
    return Scenario(
        accounts=accounts,
        territories=territories,
        settings=settings,
        distances=distances,
        adjacency=adjacency,
        name=folder.resolve().name,
        source=folder,
        input_hash=_hash_files(used, settings),
        raw_settings=raw_settings,
    )


def make_scenario(
    accounts: pd.DataFrame,
    territories: pd.DataFrame,
    *,
    settings: Settings | dict[str, Any] | None = None,
    distances: pd.DataFrame | None = None,
    adjacency: pd.DataFrame | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    name: str = "scenario",
) -> Scenario:
    """Build and validate a scenario from DataFrames (same columns as the folder's files)."""
    raw = settings.model_dump(exclude_defaults=True) if isinstance(settings, Settings) else settings
    resolved = resolve_settings(raw or {}, overrides)

    def table(label: str, frame: pd.DataFrame | None) -> Table | None:
        return None if frame is None else Table(label, frame.reset_index(drop=True), header_rows=1)

    acc, ter, dist, adj = build(
        table("accounts.csv", accounts),  # type: ignore[arg-type]
        table("territories.csv", territories),
        resolved,
        distances=table("distances.csv", distances),
        adjacency=table("adjacency.csv", adjacency),
    )
    h = hashlib.sha256()
    for frame in (acc, ter, dist, adj):
        if frame is not None:
            h.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    h.update(resolved.model_dump_json().encode())
    return Scenario(
        accounts=acc,
        territories=ter,
        settings=resolved,
        distances=dist,
        adjacency=adj,
        name=name,
        input_hash=h.hexdigest()[:16],
        raw_settings=dict(raw or {}),
    )


# ---------------------------------------------------------------------------------------------
# run folders


def write_run_folder(folder: Path, summary: dict[str, Any], frames: dict[str, pd.DataFrame]) -> None:
    """Write the run folder atomically enough: files go to a temp name and are renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        tmp = folder / f".{name}.tmp"
        frame.to_csv(tmp, index=False, float_format="%.10g")
        tmp.replace(folder / name)
    tmp = folder / ".run.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    tmp.replace(folder / "run.json")


def _json_default(o: object) -> object:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if np.isnan(o) else float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_run_folder(folder: str | Path) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Read run.json, assignments.csv and territories.csv of a run folder."""
    folder = Path(folder)
    files = [folder / "run.json", folder / "assignments.csv", folder / "territories.csv"]
    lacking = [f.name for f in files if not f.is_file()]
    if lacking:
        raise RunError(f"{folder}: not a run folder ({', '.join(lacking)} missing)")
    try:
        summary = json.loads(files[0].read_text())
    except json.JSONDecodeError as e:
        raise RunError(f"{files[0]}: not valid JSON ({e})") from None
    dtypes = {"account_id": str, "territory_id": str, "previous_territory": str}
    assignments = pd.read_csv(files[1], dtype=dtypes)  # type: ignore[arg-type]
    territories = pd.read_csv(files[2], dtype={"territory_id": str})
    return summary, assignments, territories
