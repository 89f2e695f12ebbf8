"""The column mapping of an upload: what each CSV file is (accounts or territories) and which
contract name each of its headers is read as, pre-filled as the import would read them.

The page reads the files' header lines itself (nothing else of the files leaves the browser
before the upload) and asks :func:`guess` how ``align`` would read them: the same synonyms and
the same ambiguity rule as :func:`align.importing.map_headers`. The choices are then sent with the
upload as ``map`` items (``accounts:Last Year Sales=revenue``, as ``--map`` on the command line)
and ``accounts=`` / ``territories=`` naming the files, so problems come back worded as by the
CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from ...importing import SYNONYMS, map_headers, normal
from ...validation import Table

KINDS = ("accounts", "territories")
MAX_HEADERS = 500  # a header line longer than this is not a scenario table
# contract names offered besides the synonyms' (planar coordinates, greenfield candidates)
EXTRA_NAMES = {"accounts": ("x", "y", "candidate"), "territories": ("x", "y")}


@dataclass
class Column:
    header: str
    name: str  # the contract name it will be read as; "" = kept as an extra column
    how: str  # why: "the contract's name", "a common name", "not recognised", a problem
    options: list[tuple[str, str]] = field(default_factory=list)  # (form value, label)


@dataclass
class File:
    file: str
    kind: str  # "accounts", "territories" or "" (read as named: distances.csv, scenario.toml)
    columns: list[Column]
    alias: bool  # the upload is not named <kind>.csv: sent as accounts=FILE (or territories)


def names_of(kind: str) -> list[str]:
    return [*SYNONYMS[kind], *EXTRA_NAMES[kind]]


def kind_of(file: str, headers: list[str]) -> str:
    """accounts.csv / territories.csv by name; else by words in the name; else by headers."""
    stem = normal(file.rsplit(".", 1)[0])
    if not file.lower().endswith(".csv"):
        return ""
    for kind in KINDS:
        if stem == kind:
            return kind
    if stem in ("distances", "adjacency", "history"):
        return ""
    if re.search(r"territor|\brep|seat|region", stem):
        return "territories"
    if re.search(r"account|customer|crm|export|compan", stem):
        return "accounts"
    read = {k: set(_read_as(headers, k)[0].values()) for k in KINDS}
    if "account_id" in read["accounts"]:
        return "accounts"
    if "territory_id" in read["territories"]:
        return "territories"
    return ""


def _read_as(headers: list[str], kind: str) -> tuple[dict[str, str], list[str]]:
    """header -> contract name as the import reads it without a mapping, and its problems."""
    table = Table(f"{kind}.csv", pd.DataFrame(columns=headers))
    _notes, problems = map_headers(table, kind, [])
    read = {h: str(c) for h, c in zip(headers, table.frame.columns, strict=True)}
    return read, problems


def _kept(header: str, names: list[str]) -> str:
    """The name a header the import would recognise is kept under as an extra column."""
    plain = normal(header).replace(" ", "_") or "column"
    return f"{plain}_kept" if plain in names else plain


def guess(file: str, headers: list[str], kind: str | None = None) -> File:
    """How ``file`` (its header line ``headers``) will be read, as the page's selects."""
    headers = [h.strip() for h in headers[:MAX_HEADERS]]
    kind = kind_of(file, headers) if kind is None else kind
    if kind not in KINDS:
        return File(file, "", [], alias=False)
    read, problems = _read_as(headers, kind)
    names = names_of(kind)
    columns = []
    for h in headers:
        name = read.get(h, h)
        doubt = [p for p in problems if repr(h) in p]
        if doubt:
            name, how = "", doubt[0].split(": ", 1)[1]
        elif h in names:
            how = "the contract's name"
        elif name in names:
            how = f"a common name for {name}"
        else:
            name, how = "", "not recognised: choose a name, or keep it as an extra column"
        options = [("" if name == "" else f"{kind}:{h}={_kept(h, names)}", "(extra column, kept)")]
        for n in names:
            options.append(("" if n == h else f"{kind}:{h}={n}", n))
        columns.append(Column(h, name, how, options))
    return File(file, kind, columns, alias=file != f"{kind}.csv")
