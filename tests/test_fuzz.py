"""Fuzzing of scenario folders (issue "Hardening", point 1): Hypothesis breaks a valid folder in
many ways at once (files missing, empty, truncated, binary, in other encodings, deep or huge
TOML, corrupt Parquet/GeoJSON/GeoPackage, huge ids, many columns, NaN/inf/1e308, duplicated or
ragged rows) and `align validate`, `align solve` and ``POST /scenarios`` each end in a plan or in
exit 2 / HTTP 4xx whose every problem names its file, row or key. Never a traceback, never 500.

A bounded number of examples by default; ``pytest -m fuzz`` runs many more.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from align import cli
from align.engine import solve
from align.errors import AlignError, ScenarioError
from align.io import load_scenario
from align.runs import STATUSES
from align.service import create_app
from align.service.config import ServiceConfig

BASE = Path("data/examples/two-reps")
CSV_FILES = ("accounts.csv", "territories.csv", "distances.csv", "adjacency.csv")
# where a problem may be: a file of the folder, the folder, a settings layer
PLACES = (*CSV_FILES, "accounts.parquet", "accounts.geojson", "accounts.gpkg", "history.csv",
          "scenario.toml", "models/", "--set", "settings", "run settings")  # fmt: skip
FEW, MANY = 15, 400


# --- what can go wrong with one file ------------------------------------------------------------


def _truncate(content: bytes, at: float) -> bytes:
    return content[: int(len(content) * at)]


def _cells(text: str, row: int, col: int, value: str) -> str:
    lines = text.splitlines()
    r = 1 + row % max(len(lines) - 1, 1)
    if r < len(lines):
        cells = lines[r].split(",")
        cells[col % len(cells)] = value
        lines[r] = ",".join(cells)
    return "\n".join(lines) + "\n"


ODD_VALUES = ["NaN", "nan", "inf", "-inf", "1e308", "-1e308", "1e999", "-5", "", "abc", "0x10",
              '"', "TRUE", "1,5", "\u00e9", "9" * 400, "A" * 5_000]  # fmt: skip


@st.composite
def csv_damage(draw: st.DrawFn, content: bytes) -> bytes | None:
    """One CSV file, damaged (or None: the file left out)."""
    kind = draw(
        st.sampled_from(
            [
                "keep",
                "missing",
                "empty",
                "truncate",
                "binary",
                "utf16",
                "latin1",
                "cell",
                "cells",
                "huge_id",
                "columns",
                "duplicate",
                "ragged",
                "blank",
                "header_only",
                "semicolons",
                "bom",
                "crlf",
                "dup_header",
            ]  # fmt: skip
        )
    )
    text = content.decode()
    if kind == "keep":
        return content
    if kind == "missing":
        return None
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"   \n\n"]))
    if kind == "truncate":
        return _truncate(content, draw(st.floats(0.01, 0.99)))
    if kind == "binary":
        return draw(st.binary(min_size=1, max_size=200))
    if kind == "utf16":
        return text.encode("utf-16")
    if kind == "latin1":
        return _cells(text, draw(st.integers(0, 9)), 0, "Caf\u00e9").encode("latin-1")
    if kind == "cell":
        row, col = draw(st.integers(0, 9)), draw(st.integers(0, 9))
        return _cells(text, row, col, draw(st.sampled_from(ODD_VALUES))).encode()
    if kind == "cells":
        for _ in range(draw(st.integers(2, 6))):
            row, col = draw(st.integers(0, 9)), draw(st.integers(0, 9))
            text = _cells(text, row, col, draw(st.sampled_from(ODD_VALUES)))
        return text.encode()
    if kind == "huge_id":
        return _cells(text, draw(st.integers(0, 9)), 0, "X" * draw(st.integers(1_000, 50_000))
                      ).encode()  # fmt: skip
    if kind == "columns":
        n = draw(st.sampled_from([50, 1_500]))
        lines = text.splitlines()
        lines[0] += "".join(f",c{i}" for i in range(n))
        lines[1:] = [line + ",1" * n for line in lines[1:]]
        return ("\n".join(lines) + "\n").encode()
    if kind == "duplicate":
        lines = text.splitlines()
        return ("\n".join(lines + lines[1:]) + "\n").encode()
    if kind == "ragged":
        lines = text.splitlines()
        i = 1 + draw(st.integers(0, max(len(lines) - 2, 0)))
        if i < len(lines):
            lines[i] = draw(st.sampled_from([lines[i] + ",x,y", lines[i].rsplit(",", 2)[0]]))
        return ("\n".join(lines) + "\n").encode()
    if kind == "blank":
        return text.replace("\n", "\n\n").encode()
    if kind == "header_only":
        return (text.splitlines()[0] + "\n").encode()
    if kind == "semicolons":
        return text.replace(",", ";").encode()
    if kind == "bom":
        return b"\xef\xbb\xbf" + content
    if kind == "crlf":
        return text.replace("\n", "\r\n").encode()
    lines = text.splitlines()  # dup_header
    first = lines[0].split(",")
    lines[0] = ",".join([*first, first[0]])
    return ("\n".join(lines) + "\n").encode()


DEEP_TOML = [
    "a = " + "[" * 3_000 + "]" * 3_000,
    "[" + ".".join(["a"] * 3_000) + "]",
    "x = {" * 200 + "}" * 200,
]


@st.composite
def toml_damage(draw: st.DrawFn, content: bytes) -> bytes | None:
    kind = draw(st.sampled_from(["keep", "missing", "empty", "truncate", "binary", "deep",
                                 "huge", "keys", "values", "preset", "utf16"]))  # fmt: skip
    if kind == "keep":
        return content
    if kind == "missing":
        return None
    if kind == "empty":
        return b""
    if kind == "truncate":
        return _truncate(content, draw(st.floats(0.01, 0.99)))
    if kind == "binary":
        return draw(st.binary(min_size=1, max_size=200))
    if kind == "deep":
        return draw(st.sampled_from(DEEP_TOML)).encode()
    if kind == "huge":
        return b"# " + b"x" * (1 << 20) + b"\n"
    if kind == "utf16":
        return content.decode().encode("utf-16")
    if kind == "keys":
        key = draw(st.sampled_from(["solver.nme", "balance.potential.tol", "zzz", "a.b.c.d"]))
        return content + f"\n{key} = 1\n".encode()
    if kind == "preset":
        name = draw(st.sampled_from(["../pyproject", "/etc/passwd", "nosuch", "", "a" * 300]))
        return f'model = "{name}"\n'.encode() + content
    value = draw(st.sampled_from(["nan", "inf", "-1", "1e308", '"x"', "[1, 2]", "{a = 1}"]))
    key = draw(st.sampled_from(["time_limit_s", "gap", "seed", "name"]))
    return content + f"\n[solver]\n{key} = {value}\n".encode()


@st.composite
def parquet_damage(draw: st.DrawFn, accounts: pd.DataFrame) -> tuple[str, bytes]:
    """accounts.csv replaced by accounts.parquet/.geojson/.gpkg, valid or damaged."""
    kind = draw(st.sampled_from(["parquet", "geojson", "gpkg"]))
    buf = io.BytesIO()
    if kind == "parquet":
        accounts.to_parquet(buf)
    else:
        import geopandas as gpd

        frame = accounts.drop(columns=["x", "y"])
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(accounts["x"] / 10,
                               accounts["y"] / 10), crs="EPSG:4326")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"a.{kind}"
            gdf.to_file(path, driver="GeoJSON" if kind == "geojson" else "GPKG")
            buf.write(path.read_bytes())
    content = buf.getvalue()
    how = draw(st.sampled_from(["keep", "truncate", "binary", "flip", "empty"]))
    if how == "truncate":
        content = _truncate(content, draw(st.floats(0.01, 0.99)))
    elif how == "binary":
        content = draw(st.binary(min_size=1, max_size=300))
    elif how == "flip":
        i = draw(st.integers(0, len(content) - 1))
        content = content[:i] + bytes([content[i] ^ 0xFF]) + content[i + 1 :]
    elif how == "empty":
        content = b""
    return f"accounts.{kind}", content


@st.composite
def scenario_files(draw: st.DrawFn) -> dict[str, bytes]:
    """A scenario folder's files, each kept or damaged."""
    files: dict[str, bytes] = {}
    for name in ("accounts.csv", "territories.csv", "scenario.toml"):
        content = (BASE / name).read_bytes()
        if name == "accounts.csv" and draw(st.integers(0, 5)) == 0:
            accounts = pd.read_csv(BASE / name, dtype={"account_id": str})
            other, damaged = draw(parquet_damage(accounts))
            files[other] = damaged
            continue
        damaged_or_none = draw(
            toml_damage(content) if name.endswith(".toml") else csv_damage(content)
        )
        if damaged_or_none is not None:
            files[name] = damaged_or_none
    if draw(st.booleans()):  # a distances.csv, whole or damaged
        rows = ["from_id,to_id,distance"] + [f"A{i},T{t},{i * t}" for i in range(1, 6)
                                             for t in (1, 2)]  # fmt: skip
        extra = draw(csv_damage(("\n".join(rows) + "\n").encode()))
        if extra is not None:
            files["distances.csv"] = extra
    return files


# --- the checks ---------------------------------------------------------------------------


def write(files: dict[str, bytes], folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


# an exception's text as the whole message (a reader's reason in parentheses after the place
# is fine: "accounts.parquet: not a readable Parquet file (Couldn't deserialize thrift...)")
RAW = re.compile(r"^\s*[A-Za-z.]*(Error|Exception)\b|Traceback|object at 0x|<class ")


def names_a_place(problem: str, folder: Path) -> bool:
    """A problem names a file, a settings layer or key, the folder, or the accounts/territories
    it is about; and is not an exception's raw text."""
    where = (str(folder), *PLACES, "account", "territor")
    return bool(problem.strip()) and any(w in problem for w in where) and not RAW.search(problem)


def check_library(files: dict[str, bytes], folder: Path) -> None:
    """validate (load_scenario) then solve: a Run with a status, or problems with places."""
    write(files, folder)
    try:
        scenario = load_scenario(folder)
    except ScenarioError as e:
        assert e.problems, "an error without problems"
        for p in e.problems:
            assert names_a_place(p, folder), p
        return
    run = solve(scenario)
    assert run.status in STATUSES


def run_cli(*args: str) -> tuple[int, str]:
    """``align ARGS`` in process, as the entry point runs it: (exit code, stderr)."""
    err = io.StringIO()
    saved = sys.argv
    sys.argv = ["align", *args]
    code = 0
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            cli.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0
    finally:
        sys.argv = saved
    return code, err.getvalue()


def check_cli(files: dict[str, bytes], folder: Path) -> None:
    write(files, folder)
    for command in (["validate", str(folder)],
                    ["solve", str(folder), "--out", str(folder.parent / "run")]):  # fmt: skip
        code, stderr = run_cli(*command)
        assert "Traceback" not in stderr, stderr
        assert code in (0, 2, 3, 4), (command, code, stderr)
        if code == 2:
            assert stderr.startswith("error: ") and names_a_place(stderr, folder), stderr


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    work = tmp_path_factory.mktemp("fuzz-service")
    config = ServiceConfig(database_url=f"sqlite:///{work / 'align.db'}", rate_per_s=1e6,
                           rate_burst=10**6)  # fmt: skip
    with TestClient(create_app(config, run_workers=False)) as c:
        yield c


def check_upload(c: TestClient, files: dict[str, bytes]) -> None:
    parts = [("files", (name, content)) for name, content in files.items()]
    if not parts:
        parts = [("files", ("accounts.csv", b""))]
    r = c.post("/scenarios", files=parts, data={"name": "fuzz"})
    assert r.status_code in (201, 413, 422), (r.status_code, r.text[:500])
    if r.status_code == 422:
        body = r.json()
        for p in body["problems"]:
            assert names_a_place(p, Path("/nowhere")), p
            assert "align-scenario" not in p and "/tmp/" not in p, p  # no server paths
    if r.status_code == 413:
        assert "ALIGN_" in r.json()["detail"]


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=examples == FEW,  # the bounded run is the same on every machine
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],  # fmt: skip
    )


# --- the tests ----------------------------------------------------------------------------------


@fuzz(FEW)
@given(files=scenario_files())
def test_validate_and_solve_of_a_broken_folder_end_in_a_plan_or_named_problems(
    files: dict[str, bytes], tmp_path: Path
) -> None:
    check_library(files, tmp_path / "s")


@fuzz(FEW)
@given(files=scenario_files())
def test_the_cli_on_a_broken_folder_exits_2_with_the_place_never_a_traceback(
    files: dict[str, bytes], tmp_path: Path
) -> None:
    check_cli(files, tmp_path / "s")


@fuzz(FEW)
@given(files=scenario_files())
def test_uploading_a_broken_folder_is_201_or_4xx_never_500(
    files: dict[str, bytes], client: TestClient
) -> None:
    check_upload(client, files)


@pytest.mark.fuzz
@fuzz(MANY)
@given(files=scenario_files())
def test_many_broken_folders_through_the_library_the_cli_and_the_service(
    files: dict[str, bytes], tmp_path: Path, client: TestClient
) -> None:
    check_library(files, tmp_path / "lib")
    check_cli(files, tmp_path / "cli")
    check_upload(client, files)


def test_the_fuzzer_breaks_folders_in_each_way_it_claims() -> None:
    # the strategies are not vacuous: each kind of damage shows up in a plain sample
    seen: set[str] = set()

    @settings(max_examples=300, derandomize=True, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(files=scenario_files())
    def sample(files: dict[str, bytes]) -> None:
        acc = files.get("accounts.csv")
        seen.update(n for n in files if not n.endswith(".csv"))
        if "accounts.csv" not in files and not any(n.startswith("accounts.") for n in files):
            seen.add("missing")
        if acc is not None:
            if acc.startswith(b"\xff\xfe"):
                seen.add("utf16")
            if b"1e308" in acc or b"nan" in acc.lower():
                seen.add("odd number")
            if b"XXXXXXXXXX" in acc:
                seen.add("huge id")
            if acc.count(b",c") > 1000:
                seen.add("columns")
        toml = files.get("scenario.toml", b"")
        if b"[[[[[" in toml or b"a.a.a.a" in toml:
            seen.add("deep toml")

    sample()
    assert {"missing", "utf16", "odd number", "huge id", "columns", "deep toml",
            "accounts.parquet", "scenario.toml"} <= seen, seen  # fmt: skip


def test_the_upload_check_is_not_vacuous(client: TestClient) -> None:
    files = {n: (BASE / n).read_bytes() for n in ("accounts.csv", "territories.csv")}
    r = client.post("/scenarios", files=[("files", (n, c)) for n, c in files.items()])
    assert r.status_code == 201
    bad = {**files, "accounts.csv": b"account_id,potential\nA1,-5\n"}
    r = client.post("/scenarios", files=[("files", (n, c)) for n, c in bad.items()])
    assert r.status_code == 422
    assert "accounts.csv row 2: potential must be >= 0 (got -5)" in json.dumps(r.json())
    assert AlignError  # the tree every expected error comes from
