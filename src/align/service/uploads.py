"""A scenario as it arrives: multipart uploads (files named as in a scenario folder, with
``map`` and ``accounts=``/``territories=`` aliases) or a JSON body; and memory given back after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ..errors import ScenarioError
from . import formats
from .config import ServiceConfig
from .schemas import ScenarioIn

SCENARIO_FILES = (
    "accounts.csv",
    "accounts.parquet",
    "accounts.geojson",
    "accounts.gpkg",
    "territories.csv",
    "distances.csv",
    "adjacency.csv",
    "scenario.toml",
)


def _form_fields(form: Any, problems: list[str]) -> tuple[list[str], dict[str, str]]:
    """The text fields: ``map`` entries and upload aliases (an upload read as accounts.csv)."""
    maps: list[str] = []  # map=HEADER=NAME, as --map on the command line
    alias: dict[str, str] = {}  # accounts=Account_Export.csv
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if key == "map":
            maps.append(value)
        elif key in ("accounts", "territories"):
            alias[Path(value).name] = f"{key}.csv"
        elif key != "name":
            problems.append(
                f"form field {key!r}: expected a file upload, 'name', 'map', 'accounts' or "
                "'territories'"
            )
    uploaded = {Path(v.filename or k).name for k, v in form.multi_items() if not isinstance(v, str)}
    for upload, as_name in alias.items():
        if upload not in uploaded:
            problems.append(
                f"form field {as_name[:-4]}={upload!r}: no file {upload!r} was uploaded"
            )
    return maps, alias


async def read_upload(request: Request) -> tuple[str, dict[str, bytes]]:
    """The scenario's name and files of a multipart upload (422 with every problem)."""
    form = await request.form()
    files: dict[str, bytes] = {}
    problems: list[str] = []
    name = form.get("name")
    maps, alias = _form_fields(form, problems)
    for key, value in form.multi_items():
        if isinstance(value, str):
            continue
        filename = alias.get(Path(value.filename or key).name, Path(value.filename or key).name)
        if filename not in SCENARIO_FILES:
            problems.append(
                f"upload {filename!r}: not a scenario file; send {', '.join(SCENARIO_FILES)}, "
                f"or say which it is with the form field accounts={filename!r} (or territories)"
            )
            continue
        if filename in files:
            problems.append(f"upload {filename!r}: sent twice")
            continue
        files[filename] = await value.read()
    await form.close()
    if not files and not problems:
        problems.append("no files uploaded; send accounts.csv and territories.csv as 'files'")
    if maps and not problems:
        files = formats.with_columns(files, maps)
    if problems:
        raise ScenarioError(problems)
    label = name if isinstance(name, str) and name.strip() else "scenario"
    return formats.clean_name(label), files


def json_scenario(raw: bytes, config: ServiceConfig) -> tuple[str, dict[str, bytes]]:
    """A JSON scenario's name and files (in a worker thread: a large body is parsed there, not
    on the event loop)."""
    try:
        body = ScenarioIn.model_validate_json(raw)
    except ValidationError as e:
        raise RequestValidationError(e.errors(include_url=False)) from None
    return body.name, formats.scenario_files(body, config.max_accounts)


M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc malloc.h)


def steady_malloc() -> None:
    """Keep large buffers (an upload's bytes, its copies) out of the heap: glibc serves
    allocations from 128 KiB with their own mappings, returned to the system when freed, but
    raises that threshold to the largest block freed so far, after which a large upload's
    buffers stay in the heap. Fixing the threshold keeps it at 128 KiB (glibc only)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def release_memory() -> None:
    """Give memory freed by a large request back to the system (glibc keeps freed heap pages
    for reuse otherwise, and the server would stay at its peak after one large upload)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
