"""Read and write scenario folders and run folders."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .errors import RunError, ScenarioError
from .history import build_history
from .importing import (
    ColumnMap,
    apply_profile,
    drop_echoes,
    mappings_from_settings,
    parse_map,
    text_headers,
    unmapped_names,
)
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


EXPECTED_COLUMNS = {
    "accounts.csv": "account_id, potential, lat, lon",
    "territories.csv": "territory_id, lat, lon",
    "distances.csv": "from_id, to_id, distance",
    "adjacency.csv": "account_id, neighbor_id",
    "history.csv": "account_id, period, amount",
    "actuals.csv": "account_id, date, amount",
    "pipeline.csv": "account_id, stage, amount, close_date",
}
SAVE_AS = "save it as CSV UTF-8 (comma-separated)"


def _read_table(path: Path, text: Callable[[list[str]], set[str]] | None = None) -> Table:
    label = path.name
    try:
        if path.suffix == ".csv":
            return _read_csv(path, text)
        if path.suffix == ".parquet":
            return _read_parquet(path)
        return _read_geo(path)
    except ScenarioError:
        raise
    except RecursionError:
        raise ScenarioError(f"{label}: cannot be read (nested too deeply)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise ScenarioError(f"{label}: cannot be read ({str(e).strip()})") from None


def _read_parquet(path: Path) -> Table:
    """A Parquet file as a Table; a corrupt or truncated file is a ScenarioError naming it."""
    import pyarrow as pa

    try:
        frame = pd.read_parquet(path)
    except (pa.ArrowException, ValueError, OSError) as e:
        why = str(e).replace(str(path), path.name).strip() or type(e).__name__
        why = why.splitlines()[0]
        raise ScenarioError(
            f"{path.name}: not a readable Parquet file ({why}); write it again with "
            "pandas.DataFrame.to_parquet or send accounts.csv"
        ) from None
    return Table(path.name, frame, header_rows=0)


def read_table(path: str | Path) -> Table:
    """One input table (CSV, Parquet or geometry) with the scenario's reading rules.

    Raises ScenarioError naming the file when it is missing or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such file")
    return _read_table(path)


def _read_csv(path: Path, text: Callable[[list[str]], set[str]] | None = None) -> Table:
    """A CSV file as a Table: ids stay strings, row numbers stay file line numbers.

    Only empty cells are missing values: ``NA`` is a segment (North America) and ``nan`` in a
    numeric column is reported, not silently read as a gap. ``text`` picks further headers to
    read as text (those an import profile maps to ids or ZIP codes).
    """
    label = path.name
    with path.open("rb") as f:
        head = f.read(1 << 16)
    if not head.strip():
        raise ScenarioError(
            f"{label}: the file is empty; it needs a header row "
            f"({EXPECTED_COLUMNS.get(label, 'column names')}) and one row per record"
        )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScenarioError(f"{label}: the file is UTF-16 text; {SAVE_AS}")
    if head.startswith(b"PK\x03\x04"):
        raise ScenarioError(
            f"{label}: the file is an Excel workbook (or a zip file), not CSV; {SAVE_AS}"
        )
    if b"\x00" in head:
        raise ScenarioError(f"{label}: the file is binary, not CSV text; {SAVE_AS}")
    try:
        first_line = head.decode("utf-8-sig", errors="strict").splitlines()[0]
    except UnicodeDecodeError:
        first_line = None
    except IndexError:  # pragma: no cover - head.strip() is not empty
        first_line = ""
    if first_line is not None:
        header = [c.strip() for c in next(csv.reader([first_line]), [])]
        if len(header) == 1:
            for sep, name in ((";", "semicolons"), ("\t", "tabs")):
                if sep in header[0]:
                    raise ScenarioError(
                        f"{label}: the header is one column {header[0]!r}: the file is "
                        f"separated by {name}, align reads comma-separated files; {SAVE_AS}"
                    )
        seen: dict[str, int] = {}
        for n, c in enumerate(header, start=1):
            if c and c in seen:
                raise ScenarioError(
                    f"{label}: column {c!r} appears twice in the header (columns {seen[c]} and "
                    f"{n}); rename or remove one"
                )
            seen[c] = n
    try:
        names = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
        dtypes = {c: ID_COLUMNS[c.strip()] for c in names if c.strip() in ID_COLUMNS}
        if text is not None:
            dtypes |= {c: str for c in text([str(c) for c in names])}
        options: dict[str, Any] = dict(
            dtype=dtypes,
            encoding="utf-8-sig",
            skipinitialspace=True,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            index_col=False,  # never take a first column as the index
        )
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                frame = pd.read_csv(path, **options)
            ragged = any(issubclass(w.category, pd.errors.ParserWarning) for w in caught)
        except pd.errors.ParserError as e:
            if "Expected" not in str(e):
                raise
            ragged = True
        if ragged:
            # cells beyond the header's columns: an error unless they are empty (trailing commas)
            _check_extra_cells(path, len(names))
            frame = pd.read_csv(path, usecols=range(len(names)), **options)
    except UnicodeDecodeError as e:
        raise ScenarioError(
            f"{label}: the file is not UTF-8 text (byte 0x{e.object[e.start]:02x}); {SAVE_AS}"
        ) from None
    except pd.errors.ParserError as e:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if m:
            raise ScenarioError(
                f"{label} row {m[2]}: {m[3]} cells where the header has {m[1]} columns; quote "
                'values that contain commas ("1,000") or remove the extra cells'
            ) from None
        raise ScenarioError(f"{label}: cannot be read as CSV ({str(e).strip()})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    blank = frame.isna().all(axis=1).to_numpy() if len(frame.columns) else np.zeros(0, bool)
    lines = None
    if blank.any():  # blank lines: drop them, keep the line numbers of the rest
        lines = np.flatnonzero(~blank) + 2
        frame = frame.loc[~blank].reset_index(drop=True)
    return Table(label, frame, header_rows=1, lines=lines)


def _check_extra_cells(path: Path, n_columns: int) -> None:
    """Raise for the first row with non-empty cells beyond the header's columns."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, skipinitialspace=True)
        for row in reader:
            if len(row) > n_columns and any(c.strip() for c in row[n_columns:]):
                raise ScenarioError(
                    f"{path.name} row {reader.line_num}: {len(row)} cells where the header has "
                    f'{n_columns} columns; quote values that contain commas ("1,000") or remove '
                    "the extra cells"
                )


def _read_geo(path: Path) -> Table:
    from .shapes import read_geo

    try:
        frame, shapes = read_geo(path)
    except ScenarioError as e:  # the reader's message may hold the path: the name is the place
        raise ScenarioError([m.replace(str(path), path.name) for m in e.problems]) from None
    return Table(path.name, frame, header_rows=0, shapes=shapes)


def _not_a_file(path: Path) -> str | None:
    """Why an entry named as a scenario file is not one (a folder, a broken or looping link),
    or None when it is a regular file or absent."""
    if not os.path.lexists(path) or path.is_file():
        return None
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:  # Python 3.11 reports a loop so
            return "is a symbolic link that loops back on itself; replace it by the file"
        except OSError as e:
            if e.errno == errno.ELOOP:
                return "is a symbolic link that loops back on itself; replace it by the file"
            return "is a symbolic link to nothing; replace it by the file"
    if path.is_dir():
        return "is a folder, not a file; put the file itself there"
    return "is not a regular file (a device or a pipe); put the file itself there"


MAX_TOTAL = 1e15  # a total past this is beyond the solver's exact arithmetic (and any business)


def _check_totals(accounts: pd.DataFrame, settings: Settings | None, label: str) -> list[str]:
    """Columns the model sums (potential, workload, balanced and weighting columns) whose total
    is past MAX_TOTAL: the bands would be silently unenforced."""
    columns = {"potential", "workload", "revenue"}
    if settings is not None:
        columns |= set(settings.balance) | set(settings.balance_regions)
        columns |= {settings.objective.travel_weight, settings.objective.disruption_measure}
    problems = []
    for col in sorted(columns):
        if col not in accounts or not pd.api.types.is_numeric_dtype(accounts[col].dtype):
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            total = float(np.abs(accounts[col].to_numpy(dtype=float)).sum())
        if not total <= MAX_TOTAL:  # also catches inf and nan
            shown = "infinite" if not np.isfinite(total) else f"{total:.3g}"
            problems.append(
                f"{label}: the total of column {col!r} is {shown}, above {MAX_TOTAL:.0e}, "
                "where the bands and the objective are no longer exact; give it in larger "
                "units (thousands or millions)"
            )
    return problems


def _adjacency_of(accounts: Table, given: Table | None, settings: Settings | None) -> Table | None:
    """adjacency.csv when given (it wins), else the shared borders of the accounts' polygons."""
    if given is not None or accounts.shapes is None:
        return given
    from .shapes import derived_adjacency

    corners = settings.constraints.corner_adjacency if settings is not None else False
    return derived_adjacency(accounts, corners=corners)


def _hash_files(paths: list[Path], settings: Settings) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    h.update(settings.model_dump_json().encode())
    return h.hexdigest()[:16]


DEFAULT_PRESET = "balanced"


def load_scenario(
    path: str | Path,
    *,
    overrides: list[str] | dict[str, Any] | None = None,
    columns: list[str] | None = None,
) -> Scenario:
    """Read and validate a scenario folder.

    Parameters
    ----------
    path
        Folder with accounts.csv (or .parquet/.geojson/.gpkg), territories.csv and optionally
        distances.csv, adjacency.csv and scenario.toml. Without scenario.toml the ``balanced``
        preset applies (and :attr:`Scenario.notes` says so).
    overrides
        ``["balance.workload.tolerance=0.1", ...]`` or a nested dict, merged last.
    columns
        ``["Account ID=account_id", ...]``: headers of the files read as the contract's names,
        beside scenario.toml's ``[columns]`` (see :mod:`align.importing`).

    Raises
    ------
    ScenarioError
        With every problem found, each naming file, row or key, rule and value.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: no such scenario folder")
    problems: list[str] = []
    names = (*ACCOUNT_FILES, "territories.csv", "distances.csv", "adjacency.csv",
             "history.csv", "scenario.toml")  # fmt: skip
    odd = {n: why for n in names if (why := _not_a_file(folder / n)) is not None}
    problems += [f"{folder / n}: {why}" for n, why in odd.items()]
    acc_path = next((folder / f for f in ACCOUNT_FILES if (folder / f).is_file()), None)
    if acc_path is None and not odd.keys() & set(ACCOUNT_FILES):
        problems.append(f"{folder}: accounts.csv is missing (one row per account is required)")
    toml_path = folder / "scenario.toml"
    raw_settings: dict[str, Any] = {}
    settings: Settings | None = None
    notes: list[str] = []
    try:
        if toml_path.is_file():
            raw_settings = read_toml(toml_path, label="scenario.toml")
        else:
            raw_settings = {"model": DEFAULT_PRESET}
        settings = resolve_settings(raw_settings, overrides)
        if not toml_path.is_file() and settings.model == DEFAULT_PRESET:
            notes.append(_default_note(settings))
    except ScenarioError as e:
        problems += e.problems
    mappings, map_problems = parse_map(columns or [])
    problems += map_problems
    raw_columns = settings.columns if settings is not None else raw_settings.get("columns")
    if isinstance(raw_columns, dict):
        mappings = mappings_from_settings(raw_columns) + mappings
    # Read every table even when something is already wrong: the user sees all problems at once.
    # A file that cannot be read stops the checks of the data, but not of the other files.
    paths: dict[str, Path | None] = {"accounts": acc_path}
    paths.update(
        {k: folder / f"{k}.csv" for k in ("territories", "distances", "adjacency", "history")}
    )
    tables: dict[str, Table | None] = {}
    unreadable = False
    for key, p in paths.items():
        tables[key] = None
        if p is None or not p.is_file():
            continue
        try:
            tables[key] = _read_table(p, _text_of(key, mappings))
        except ScenarioError as e:
            problems += e.problems
            unreadable = True
    accounts_table = tables["accounts"]
    if accounts_table is None or unreadable:
        raise ScenarioError(problems)
    profile_notes, profile_problems = apply_profile(
        tables, mappings, numeric=settings.balance if settings else ()
    )
    notes += profile_notes
    problems += profile_problems
    data_problems: list[str] = []
    used = [p for p in paths.values() if p is not None and p.is_file()]
    if toml_path.is_file():
        used.append(toml_path)
    try:
        accounts, territories, distances, adjacency = build(
            accounts_table,
            tables["territories"],
            settings or Settings(),  # defaults only to find the data's own problems
            distances=tables["distances"],
            adjacency=_adjacency_of(accounts_table, tables["adjacency"], settings),
        )
    except ScenarioError as e:
        data_problems += e.problems
    else:
        data_problems += _check_totals(accounts, settings, accounts_table.label)
    history, history_problems = build_history(accounts_table, tables["history"])
    data_problems += history_problems
    problems += drop_echoes(data_problems, tables, unmapped_names(mappings, profile_problems))
    if problems or settings is None:
        raise ScenarioError(problems)
    return Scenario(
        accounts=accounts,
        territories=territories,
        settings=settings,
        distances=distances,
        adjacency=adjacency,
        history=history,
        shapes=accounts_table.shapes,
        name=folder.resolve().name,
        source=folder,
        input_hash=_hash_files(used, settings),
        raw_settings=raw_settings,
        notes=notes,
    )


class RunSource(Protocol):
    """What :func:`scenario_of` reads of a run (:class:`align.Run` has it)."""

    @property
    def path(self) -> Path | None: ...
    @property
    def scenario(self) -> str: ...
    @property
    def scenario_path(self) -> str: ...


def scenario_of(
    run: RunSource, scenario: Scenario | None = None, *, overrides: list[str] | None = None
) -> Scenario:
    """The scenario a run was solved from: ``scenario`` when given, else the folder the run
    names (``run.scenario_path``), read with ``overrides``.

    Raises
    ------
    RunError
        When the run names no scenario folder, or that folder cannot be read.
    """
    if scenario is not None:
        return scenario
    label = f"run {run.path}" if run.path else f"run {run.scenario}" if run.scenario else "run"
    fix = "pass scenario= (the scenario it was solved from)"
    if not run.scenario_path:
        raise RunError(f"{label}: it does not name its scenario folder; {fix}")
    try:
        return load_scenario(run.scenario_path, overrides=overrides)
    except ScenarioError as e:
        raise RunError(
            f"{label}: its scenario folder {run.scenario_path} cannot be read "
            f"({e.problems[0]}); {fix}"
        ) from None


def _default_note(settings: Settings) -> str:
    bands = ", ".join(f"{k} +-{v.tolerance:.0%}" for k, v in settings.balance.items())
    return (
        f"no scenario.toml: the {DEFAULT_PRESET} preset applies ({bands}, shortest travel); "
        "write scenario.toml (or --set model=...) to choose the rules"
    )


def _text_of(key: str, mappings: list[ColumnMap]) -> Callable[[list[str]], set[str]] | None:
    """The headers of table ``key`` to read as text, by the import profile."""
    if key not in ("accounts", "territories"):
        return None
    return lambda headers: text_headers(headers, key, mappings)


def make_scenario(
    accounts: pd.DataFrame,
    territories: pd.DataFrame | None,
    *,
    settings: Settings | dict[str, Any] | None = None,
    distances: pd.DataFrame | None = None,
    adjacency: pd.DataFrame | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    name: str = "scenario",
    history: pd.DataFrame | None = None,
    columns: list[str] | None = None,
) -> Scenario:
    """Build and validate a scenario from DataFrames (same columns as the folder's files).

    The import profile applies as for a folder: ``settings["columns"]`` and ``columns``
    (``["Account ID=account_id", ...]``) map headers, common names are recognised, amounts
    written as text are read and ZIP codes placed (see :attr:`Scenario.notes`).
    ``history`` (account_id, period, amount) is the revenue history, as history.csv.
    ``accounts`` may be a GeoDataFrame (points or polygons, with a CRS): polygons give the
    adjacency when ``adjacency`` is not given, ``territories.geojson`` and maps.
    """
    raw = settings.model_dump(exclude_defaults=True) if isinstance(settings, Settings) else settings
    problems: list[str] = []
    resolved: Settings | None = None
    try:
        resolved = resolve_settings(raw or {}, overrides, scenario_label="settings")
    except ScenarioError as e:
        problems += e.problems

    def table(label: str, frame: pd.DataFrame | None) -> Table | None:
        return None if frame is None else Table(label, frame.reset_index(drop=True), header_rows=1)

    acc_table = table("accounts.csv", accounts)
    ter_table = table("territories.csv", territories)
    mappings, map_problems = parse_map(columns or [])
    problems += map_problems
    if resolved is not None:
        mappings = mappings_from_settings(resolved.columns) + mappings
    notes: list[str] = []
    profile_problems: list[str] = []
    try:
        if acc_table is not None and type(accounts).__name__ == "GeoDataFrame":
            from .shapes import split_geo

            frame, shapes = split_geo(accounts, label="accounts.csv", header_rows=1)
            acc_table = Table("accounts.csv", frame, header_rows=1, shapes=shapes)
        notes, profile_problems = apply_profile(
            {"accounts": acc_table, "territories": ter_table},
            mappings,
            numeric=resolved.balance if resolved else (),
        )
        acc, ter, dist, adj = build(
            acc_table,  # type: ignore[arg-type]
            ter_table,
            resolved or Settings(),
            distances=table("distances.csv", distances),
            adjacency=_adjacency_of(
                acc_table,  # type: ignore[arg-type]
                table("adjacency.csv", adjacency),
                resolved,
            ),
        )
    except ScenarioError as e:
        problems += drop_echoes(
            e.problems,
            {"accounts": acc_table, "territories": ter_table},
            unmapped_names(mappings, profile_problems),
        )
    problems = profile_problems + problems
    assert acc_table is not None
    hist, history_problems = build_history(acc_table, table("history.csv", history))
    problems += history_problems
    if problems or resolved is None:
        raise ScenarioError(problems)
    h = hashlib.sha256()
    parts: tuple[pd.DataFrame | None, ...] = (acc, ter, dist, adj, hist)
    for part in parts:
        if part is not None:
            h.update(pd.util.hash_pandas_object(part.astype(str), index=False).to_numpy().tobytes())
    h.update(resolved.model_dump_json().encode())
    return Scenario(
        accounts=acc,
        territories=ter,
        settings=resolved,
        distances=dist,
        adjacency=adj,
        history=hist,
        shapes=acc_table.shapes if acc_table is not None else None,
        name=name,
        input_hash=h.hexdigest()[:16],
        raw_settings=dict(raw or {}),
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# run folders


def write_run_folder(
    folder: Path, summary: dict[str, Any], frames: dict[str, pd.DataFrame]
) -> None:
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
    assignments = pd.read_csv(files[1], dtype=dtypes)
    territories = pd.read_csv(files[2], dtype={"territory_id": str})
    return summary, assignments, territories
