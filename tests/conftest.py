"""Shared fixtures: write small scenario folders into ``tmp_path``."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Rows = list[dict[str, Any]] | list[list[Any]] | str | bytes

# A valid scenario that tests copy and break: 4 accounts, 2 territories, lat/lon everywhere.
BASE_ACCOUNTS: list[dict[str, Any]] = [
    {
        "account_id": "A1",
        "potential": 100,
        "workload": 10,
        "revenue": 80,
        "segment": "Retail",
        "lat": 40.0,
        "lon": -74.0,
        "current_territory": "T1",
        "locked": "false",
    },
    {
        "account_id": "A2",
        "potential": 200,
        "workload": 20,
        "revenue": 150,
        "segment": "Pharma",
        "lat": 40.1,
        "lon": -74.1,
        "current_territory": "T1",
        "locked": "false",
    },
    {
        "account_id": "A3",
        "potential": 300,
        "workload": 30,
        "revenue": 200,
        "segment": "Retail",
        "lat": 41.0,
        "lon": -75.0,
        "current_territory": "T2",
        "locked": "true",
    },
    {
        "account_id": "A4",
        "potential": 400,
        "workload": 40,
        "revenue": 300,
        "segment": "Pharma",
        "lat": 41.1,
        "lon": -75.1,
        "current_territory": "T2",
        "locked": "false",
    },
]
BASE_TERRITORIES: list[dict[str, Any]] = [
    {"territory_id": "T1", "name": "North", "lat": 40.05, "lon": -74.05},
    {"territory_id": "T2", "name": "South", "lat": 41.05, "lon": -75.05},
]


def write_csv(path: Path, rows: Rows) -> Path:
    """Write rows as CSV: dicts (header = keys in first-seen order), lists (first = header),
    or the exact text/bytes of the file."""
    if isinstance(rows, bytes):
        path.write_bytes(rows)
        return path
    if isinstance(rows, str):
        path.write_text(rows, encoding="utf-8")
        return path
    if rows and isinstance(rows[0], dict):
        header: list[str] = []
        for r in rows:
            header += [k for k in r if k not in header]
        lines = [header] + [[r.get(k, "") for k in header] for r in rows]  # type: ignore[union-attr]
    else:
        lines = list(rows)  # type: ignore[arg-type]
    path.write_text("".join(",".join(map(str, line)) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def base_accounts() -> list[dict[str, Any]]:
    """A fresh copy of the baseline accounts, to mutate."""
    return copy.deepcopy(BASE_ACCOUNTS)


@pytest.fixture
def base_territories() -> list[dict[str, Any]]:
    """A fresh copy of the baseline territories, to mutate."""
    return copy.deepcopy(BASE_TERRITORIES)


def scenario_writer(base: Path) -> Callable[..., Path]:
    """``write(accounts=..., territories=..., distances=..., adjacency=..., toml=..., name=...)``.

    Each call writes a new folder under ``base`` and returns it. ``accounts``/``territories``
    default to the valid baseline; ``None`` leaves a file out; ``toml`` is scenario.toml's text.
    """
    count = 0

    def write(
        *,
        accounts: Rows | None = BASE_ACCOUNTS,
        territories: Rows | None = BASE_TERRITORIES,
        distances: Rows | None = None,
        adjacency: Rows | None = None,
        toml: str | bytes | None = None,
        name: str | None = None,
    ) -> Path:
        nonlocal count
        count += 1
        folder = base / (name or f"scenario{count}")
        folder.mkdir()
        for file, rows in (
            ("accounts.csv", accounts),
            ("territories.csv", territories),
            ("distances.csv", distances),
            ("adjacency.csv", adjacency),
        ):
            if rows is not None:
                write_csv(folder / file, rows)
        if toml is not None:
            path = folder / "scenario.toml"
            path.write_bytes(toml if isinstance(toml, bytes) else toml.encode())
        return folder

    return write


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """Write scenario folders into this test's tmp_path (see :func:`scenario_writer`)."""
    return scenario_writer(tmp_path)


@pytest.fixture(scope="session")
def make_scenario_writer() -> Callable[[Path], Callable[..., Path]]:
    """:func:`scenario_writer` itself, for fixtures wider than one test."""
    return scenario_writer


@pytest.fixture
def lp_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The LP path ends without a plan (as when the time limit or Ctrl-C stops it first): what
    a solve returns is then the first plan's, or no plan."""
    from align.engine import fixed

    monkeypatch.setattr(
        fixed, "_solve_lp", lambda *a, **k: fixed.Outcome("no_solution", message="stop")
    )


@pytest.fixture
def run_align(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """``run_align("solve", ...) -> (exit code, stdout, stderr)``: the command in this process,
    through the same entry point as the console script (quicker than a subprocess)."""
    from align.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["align", *args])
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# --- polygon scenarios: a grid of square "counties" whose adjacency is known by hand
UTM14 = 32614  # UTM zone 14N (metres), around lon -99


def grid_units(nx: int, ny: int, *, size: float = 10_000.0) -> Any:
    """A GeoDataFrame of nx x ny squares (``size`` metres) in UTM 14N, row by row from the
    south-west: account_id ``r{row}c{col}``, potential 1, workload 1."""
    import geopandas as gpd
    from shapely.geometry import box

    x0, y0 = 500_000.0, 4_200_000.0  # about lat 37.9, lon -99
    cells = [(r, c) for r in range(ny) for c in range(nx)]
    return gpd.GeoDataFrame(
        {
            "account_id": [f"r{r}c{c}" for r, c in cells],
            "potential": 1.0,
            "workload": 1.0,
        },
        geometry=[
            box(x0 + c * size, y0 + r * size, x0 + (c + 1) * size, y0 + (r + 1) * size)
            for r, c in cells
        ],
        crs=UTM14,
    )


def write_polygon_scenario(
    folder: Path,
    units: Any,
    territories: list[dict[str, Any]],
    *,
    file: str = "accounts.gpkg",
    toml: str | None = None,
) -> Path:
    """Write ``units`` (a GeoDataFrame) as ``file`` and the territories as territories.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    driver = "GPKG" if file.endswith(".gpkg") else "GeoJSON"
    units.to_file(folder / file, driver=driver)
    write_csv(folder / "territories.csv", territories)
    if toml is not None:
        (folder / "scenario.toml").write_text(toml)
    return folder
