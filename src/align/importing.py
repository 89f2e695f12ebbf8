"""Import profiles: read a CRM export as a scenario table.

A profile maps the file's headers to the contract's names (``[columns]`` in scenario.toml, ``--map
"Account ID=account_id"`` on the command line), recognises common synonyms ("Latitude", "Zip",
"Account Owner"), and reads amounts written for people ("$242,000", "12%", "1.2M"). Every mapping
and every parse is reported as a note; every cell or mapping that cannot be read is a problem
naming the file, the row, the value and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .validation import Table, suggest

# what each table's columns mean; keys are the contract's names, values normalised headers
ACCOUNT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "account_id": (
        "account id",
        "acct id",
        "account number",
        "account no",
        "customer id",
        "crm id",
    ),
    "name": ("account name", "account", "company", "company name", "customer name", "customer"),
    "potential": (
        "potential",
        "annual potential",
        "account potential",
        "revenue potential",
        "total potential",
        "sales potential",
    ),
    "revenue": (
        "revenue",
        "last year revenue",
        "ly revenue",
        "prior year revenue",
        "sales last year",
        "revenue last year",
        "actual sales",
    ),
    "workload": ("workload", "effort", "visits", "calls per year"),
    "segment": ("segment", "industry", "vertical"),
    "current_territory": (
        "owner",
        "account owner",
        "current owner",
        "territory",
        "current territory",
        "territory id",
        "owner territory",
    ),
    "locked": ("locked", "lock", "keep owner"),
    "lat": ("lat", "latitude", "billing latitude", "shipping latitude"),
    "lon": (
        "lon",
        "lng",
        "long",
        "longitude",
        "billing longitude",
        "shipping longitude",
    ),
    "zip": (
        "zip",
        "zip code",
        "zipcode",
        "postal code",
        "postcode",
        "billing zip postal code",
        "billing postal code",
        "billing zip",
        "shipping zip postal code",
    ),
    "city": ("city", "billing city", "shipping city", "town"),
    "state": ("state", "billing state province", "billing state", "state province", "province"),
    "country": ("country", "billing country", "shipping country"),
}
TERRITORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "territory_id": ("territory id", "territory", "territory code", "rep id", "seat id"),
    "name": ("territory name",),
    "rep": ("rep", "rep name", "sales rep", "owner", "account owner", "representative"),
    "region": ("region", "area", "district"),
    "capacity": ("capacity",),
    "target_share": ("target share",),
    "segments": ("segments",),
    "lat": ("lat", "latitude", "home lat", "home latitude", "base lat", "base latitude"),
    "lon": (
        "lon",
        "lng",
        "long",
        "longitude",
        "home lon",
        "home lng",
        "home long",
        "home longitude",
        "base lon",
        "base lng",
        "base longitude",
    ),
    "zip": (
        "zip",
        "zip code",
        "zipcode",
        "postal code",
        "postcode",
        "home zip",
        "home postal code",
    ),
    "city": ("city", "home city", "base city"),
    "state": ("state", "home state"),
    "country": ("country", "home country"),
}
SYNONYMS = {"accounts": ACCOUNT_SYNONYMS, "territories": TERRITORY_SYNONYMS}
CONTRACT = {kind: frozenset(table) for kind, table in SYNONYMS.items()}
# columns read as text whatever they hold: "00123" stays an id, "02134" stays a ZIP code
TEXT_NAMES = frozenset(
    {
        "account_id",
        "territory_id",
        "current_territory",
        "segment",
        "segments",
        "name",
        "rep",
        "region",
        "zip",
        "city",
        "state",
        "country",
    }
)
NUMERIC_NAMES = frozenset(
    {"potential", "revenue", "workload", "lat", "lon", "x", "y", "capacity", "target_share"}
)
BOOL_NAMES = frozenset({"locked", "candidate"})
TABLE_KINDS = tuple(SYNONYMS)


def normal(header: str) -> str:
    """A header as synonyms are written: lower case, no units in brackets, words only.

    "Annual Potential (USD)" -> "annual potential"; "Billing Zip/Postal Code" -> "billing zip
    postal code"; "Account #" -> "account number".
    """
    text = re.sub(r"[\(\[].*?[\)\]]", " ", str(header).lower()).replace("#", " number ")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


# ---------------------------------------------------------------------------------------------
# the profile: explicit mappings


@dataclass(frozen=True)
class ColumnMap:
    """One explicit mapping: the contract ``name`` is the file's ``header``."""

    name: str
    header: str
    source: str  # where it was said, for messages: "--map 'Account ID=account_id'"
    table: str | None = None  # "accounts" or "territories"; None: whichever has the header


def mappings_from_settings(columns: Mapping[str, object]) -> list[ColumnMap]:
    """``[columns]`` of scenario.toml: ``name = "Header"``, or per table ``[columns.accounts]``."""
    out: list[ColumnMap] = []
    for key, value in columns.items():
        if isinstance(value, Mapping):
            for name, header in value.items():
                out.append(
                    ColumnMap(str(name), str(header), f"[columns.{key}] {name} = {header!r}", key)
                )
        else:
            out.append(ColumnMap(str(key), str(value), f"[columns] {key} = {value!r}"))
    return out


def parse_map(items: Iterable[str]) -> tuple[list[ColumnMap], list[str]]:
    """``--map "Account ID=account_id"`` items (``territories:Home Lat=lat`` for one table)."""
    out: list[ColumnMap] = []
    problems: list[str] = []
    for item in items:
        source = f"--map {item!r}"
        header, sep, name = item.rpartition("=")
        table = None
        prefix, colon, rest = header.partition(":")
        if colon and prefix.strip() in TABLE_KINDS:
            table, header = prefix.strip(), rest
        header, name = header.strip(), name.strip()
        if not sep or not header or not name:
            problems.append(f'{source}: expected HEADER=NAME, e.g. --map "Account ID=account_id"')
            continue
        out.append(ColumnMap(name, header, source, table))
    return out, problems


def check_mappings(mappings: list[ColumnMap]) -> list[str]:
    """Settings-level problems: an unknown table, one name given two headers."""
    problems: list[str] = []
    seen: dict[tuple[str | None, str], ColumnMap] = {}
    for m in mappings:
        if m.table is not None and m.table not in TABLE_KINDS:
            problems.append(
                f"{m.source}: unknown table {m.table!r}; [columns.accounts] or "
                "[columns.territories]"
            )
            continue
        first = seen.get((m.table, m.name))
        if first is not None and first.header != m.header:
            problems.append(
                f"{m.source}: two headers map to {m.name!r}: {first.header!r} ({first.source}) and "
                f"{m.header!r}; map one header to each name"
            )
            continue
        seen[(m.table, m.name)] = m
    return problems


def text_headers(headers: Iterable[str], kind: str, mappings: list[ColumnMap]) -> set[str]:
    """The headers of a file to read as text (ids, codes, ZIPs), before the mapping is applied."""
    explicit = {m.header: m.name for m in mappings if m.table in (None, kind)}
    synonyms = SYNONYMS.get(kind, {})
    out = set()
    for h in headers:
        name = explicit.get(h.strip())
        if name is None:
            n = normal(h)
            name = next((c for c, words in synonyms.items() if n in words), None)
        if name in TEXT_NAMES:
            out.add(h)
    return out


# ---------------------------------------------------------------------------------------------
# applying a profile to a table


def map_headers(table: Table, kind: str, mappings: list[ColumnMap]) -> tuple[list[str], list[str]]:
    """Rename the table's headers to the contract's names; return (notes, problems).

    Explicit mappings first; then synonyms for the names still missing. A header left over stays
    as it is (an extra column, carried to the outputs where they show accounts).
    """
    notes: list[str] = []
    problems: list[str] = []
    frame = table.frame
    headers = [str(c) for c in frame.columns]
    renames: dict[str, str] = {}
    copies: dict[str, str] = {}  # a second name read from a header already mapped
    for m in mappings:
        if m.table not in (None, kind) or m.header not in headers:
            continue
        if m.header == m.name or m.name in copies or m.name in renames.values():
            continue  # the same name twice: reported by check_mappings
        if m.name in headers and m.name not in renames:
            problems.append(
                f"{table.label}: two headers map to {m.name!r}: {m.name!r} and {m.header!r} "
                f"({m.source}); drop or rename one"
            )
            continue
        if m.header in renames:
            copies[m.name] = m.header
        else:
            renames[m.header] = m.name
        notes.append(f"{table.label}: column {m.header!r} read as {m.name} ({m.source})")
    taken = (set(headers) - set(renames)) | set(renames.values()) | set(copies)
    by_name: dict[str, list[str]] = {}
    for h in headers:
        if h in renames or h in SYNONYMS[kind]:
            continue  # mapped already, or the contract's own name
        n = normal(h)
        for name, words in SYNONYMS[kind].items():
            if n in words and name != h and name not in taken:
                by_name.setdefault(name, []).append(h)
    recognised: list[str] = []
    for name, found in by_name.items():
        if len(found) > 1:
            quoted = " and ".join(repr(h) for h in found)
            problems.append(
                f"{table.label}: two headers could be {name!r}: {quoted}; say which with "
                f'--map "{found[0]}={name}" (or [columns] {name} = {found[0]!r} in scenario.toml)'
            )
            continue
        renames[found[0]] = name
        recognised.append(f"{found[0]!r} as {name}")
    if recognised:
        notes.append(f"{table.label}: read {', '.join(recognised)} (common names)")
    if renames or copies:
        frame = frame.rename(columns=renames)
        for name, header in copies.items():
            frame[name] = frame[renames[header]]
        table.frame = frame
    return notes, problems


def check_mapped(mappings: list[ColumnMap], tables: dict[str, Table]) -> list[str]:
    """A mapping whose header is in no table it may apply to: a problem, with the nearest."""
    problems = []
    for m in mappings:
        scope = [m.table] if m.table else list(tables)
        found = [k for k in scope if k in tables and m.header in map(str, tables[k].frame.columns)]
        if found or any(k in tables and m.name in tables[k].frame.columns for k in scope):
            continue  # the header is there, or the table was read with this profile already
        labels = " or ".join(tables[k].label for k in scope if k in tables) or "the tables"
        columns = [str(c) for k in scope if k in tables for c in tables[k].frame.columns]
        has = "; ".join(
            f"{tables[k].label} has {', '.join(map(str, tables[k].frame.columns))}"
            for k in scope
            if k in tables
        )
        problems.append(
            f"{m.source}: no column {m.header!r} in {labels}{suggest(m.header, columns)} ({has})"
        )
    return problems


# ---------------------------------------------------------------------------------------------
# values written for people

AMOUNT = re.compile(
    r"""^\s*(?P<open>\()?\s*(?P<sign>[-+])?\s*(?P<cur>[$€£]|usd|eur|gbp)?\s*(?P<sign2>[-+])?\s*
    (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)\s*
    (?P<suffix>k|m|mm|mn|b|bn)?\s*(?P<pct>%)?\s*(?P<cur2>usd|eur|gbp)?\s*(?P<close>\))?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
SUFFIX = {"k": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9}


def parse_amount(text: str) -> float | None:
    """An amount written for people as a number: "$242,000" -> 242000.0, "12%" -> 0.12,
    "1.2M" -> 1200000.0, "(1,500)" -> -1500.0; None when it is not one."""
    m = AMOUNT.match(text)
    if m is None or bool(m["open"]) != bool(m["close"]) or (m["sign"] and m["sign2"]):
        return None
    value = float(m["num"].replace(",", ""))
    if m["suffix"]:
        value *= SUFFIX[m["suffix"].lower()]
    if m["pct"]:
        value /= 100
    if m["open"] or "-" in (m["sign"] or "", m["sign2"] or ""):
        value = -value
    return value


def _amount_values(m: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(value, matched) of the groups of :data:`AMOUNT` extracted from each cell."""
    ok = m["num"].notna() & (m["open"].notna() == m["close"].notna())
    ok &= ~(m["sign"].notna() & m["sign2"].notna())
    num = pd.to_numeric(m["num"].str.replace(",", "", regex=False), errors="coerce")
    mult = m["suffix"].str.lower().map(SUFFIX).astype(float).fillna(1.0)
    value: pd.Series = num.astype(float) * mult / np.where(m["pct"].notna(), 100.0, 1.0)
    negative = (
        m["open"].notna() | m["sign"].eq("-").fillna(False) | m["sign2"].eq("-").fillna(False)
    )
    value = value.where(~negative, -value)
    return value.to_numpy(dtype=float), ok.fillna(False).to_numpy(dtype=bool).copy()


def parse_amounts(raw: pd.Series) -> tuple[pd.Series, np.ndarray, dict[str, str]]:
    """Numbers of a text column: (values, parsed mask, one example per kind of writing).

    Cells that are numbers already stay; blank cells stay missing; a cell that is not an
    amount stays as it was (validation names its row and value). Vectorised: one regular
    expression over the column.
    """
    obj = raw.astype(object)
    is_text = obj.map(type).eq(str).to_numpy()  # type: ignore[arg-type]
    text = pd.Series(np.where(is_text, obj, ""), index=raw.index, dtype="string").str.strip()
    value, ok = _amount_values(text.str.extract(AMOUNT.pattern, flags=AMOUNT.flags))
    ok = ok & is_text & text.ne("").to_numpy(dtype=bool)
    values = obj.copy()
    values[ok] = value[ok]
    plain = text.str.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)").fillna(False).to_numpy(dtype=bool)
    parsed = ok & ~plain  # a plain number is nothing to report
    found: list[tuple[int, str, str]] = []  # (first row, kind, example)
    kinds = (
        ("abbreviated amount", text.str.contains(r"\d\s*(?:k|m|mm|mn|b|bn)\b", case=False)),
        ("percent", text.str.contains("%", regex=False)),
        ("money", text.str.contains(r"[$€£,]|usd|eur|gbp", case=False)),
        ("amount", pd.Series(True, index=raw.index)),
    )
    left = parsed.copy()
    for kind, mask in kinds:
        hit = left & mask.fillna(False).to_numpy(dtype=bool)
        if hit.any():
            first = int(np.argmax(hit))
            found.append((first, kind, str(text.iloc[first])))
        left &= ~hit
    return values, parsed, {kind: example for _, kind, example in sorted(found)}


def _describe(examples: dict[str, str]) -> str:
    parts = []
    for kind, text in examples.items():
        x = parse_amount(text)
        shown = f"{x:,.4g}" if x is not None and abs(x) < 1 else f"{x:,.0f}"
        parts.append(f"{kind} such as {text!r} -> {shown}")
    return "; ".join(parts)


def parse_values(table: Table, kind: str, numeric: Iterable[str] = ()) -> list[str]:
    """Read amounts written as text in the table's numeric columns; return the notes.

    Known numeric columns (potential, lat, ...) and the ``numeric`` names (balanced columns) keep
    a cell that does not parse as it is, for validation to report. Other text columns become
    numbers only when every filled cell is an amount.
    """
    notes: list[str] = []
    frame = table.frame
    wanted = NUMERIC_NAMES | set(numeric)
    for col in list(frame.columns):
        raw = frame[col]
        if (
            col in TEXT_NAMES
            or col in BOOL_NAMES
            or not (raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype))
        ):
            continue
        filled = raw.astype(object).map(lambda v: isinstance(v, str) and bool(v.strip()))
        if not filled.any():
            continue  # no text to read (numbers too large for a float stay for validation)
        values, parsed, examples = parse_amounts(raw)
        unread = filled.to_numpy() & values.map(lambda v: isinstance(v, str)).to_numpy()
        if col not in wanted and (unread.any() or not filled.any()):
            continue
        if not parsed.any() and unread.any():
            continue  # nothing was read: validation reports the column as it is
        frame[col] = values if unread.any() else values.astype(float)
        if parsed.any():
            notes.append(
                f"{table.label} {col}: read {int(parsed.sum()):,} values written as "
                f"{_describe(examples)}"
            )
    for col in BOOL_NAMES & set(frame.columns):
        words = (
            frame[col]
            .astype(object)
            .map(lambda v: str(v).strip().lower() if isinstance(v, str) else "")
        )
        said = sorted({w for w in words if w in ("yes", "no", "y", "n")})
        if said:
            notes.append(f"{table.label} {col}: read {'/'.join(said)} as true/false")
    table.frame = frame
    return notes


def owners_as_territories(accounts: Table, territories: Table | None) -> list[str]:
    """current_territory holding rep (or territory) names, not ids: read as the territory ids.

    Only when every filled owner is a territory id, a rep or a name of exactly one territory;
    otherwise the column is left for validation to report the unknown owners.
    """
    if territories is None or "current_territory" not in accounts.frame:
        return []
    ter = territories.frame
    if "territory_id" not in ter:
        return []
    ids = ter["territory_id"].astype(str).str.strip()
    owners = accounts.frame["current_territory"]
    text = owners.astype(object).map(lambda v: str(v).strip() if isinstance(v, str) else v)
    filled = text.map(lambda v: isinstance(v, str) and bool(v))
    if not filled.any() or text[filled].isin(set(ids)).all():
        return []
    for col in ("rep", "name"):
        if col not in ter:
            continue
        labels = ter[col].astype(object).map(lambda v: str(v).strip() if isinstance(v, str) else v)
        if labels.duplicated().any():
            continue
        lookup = dict(zip(labels, ids, strict=True)) | {i: i for i in ids}
        if text[filled].isin(set(lookup)).all():
            accounts.frame["current_territory"] = text.map(lambda v, lk=lookup: lk.get(v, v))
            return [
                f"{accounts.label} current_territory: owners are {col}s of {territories.label}; "
                f"read as their territory_id"
            ]
    return []


def carried_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that label accounts in the outputs: name, city, state, zip, where given."""
    return [c for c in ("name", "city", "state", "zip") if c in frame]


def apply_profile(
    tables: Mapping[str, Table | None],
    mappings: list[ColumnMap],
    *,
    numeric: Iterable[str] = (),
) -> tuple[list[str], list[str]]:
    """Map, parse and place the accounts and territories tables in place: (notes, problems).

    Problems name the file, row and value: a mapping to a missing header, two headers for one
    name, an amount that does not parse (left for validation, which names row and value), a ZIP
    code that is not one.
    """
    from .geocoding import place_by_zip

    present = {k: t for k, t in tables.items() if k in TABLE_KINDS and t is not None}
    problems = check_mappings(mappings) + check_mapped(mappings, present)
    notes: list[str] = []
    for kind, t in present.items():
        n, p = map_headers(t, kind, mappings)
        notes += n
        problems += p
        notes += parse_values(t, kind, numeric)
    if "accounts" in present:
        notes += owners_as_territories(present["accounts"], present.get("territories"))
    for kind, what in (("accounts", "account"), ("territories", "territory")):
        if kind in present:
            n, p, rows = place_by_zip(present[kind], what)
            notes += n
            problems += p
            present[kind].unplaced = rows
    return notes, problems


def unmapped_names(mappings: list[ColumnMap], problems: list[str]) -> set[str]:
    """Names whose mapping failed: validation need not report them missing as well."""
    failed = {m.name for m in mappings if any(p.startswith(m.source + ":") for p in problems)}
    return failed | {m[1] for p in problems for m in re.finditer(r"two headers \w+ \w+ '(\w+)'", p)}


def drop_echoes(
    problems: list[str], tables: Mapping[str, Table | None], names: set[str]
) -> list[str]:
    """Validation's problems less those that repeat a problem of the profile: a required column
    whose mapping failed, a row without a location whose ZIP code was already reported."""
    echoes = set()
    for t in tables.values():
        if t is None:
            continue
        echoes |= {f"{t.label}: missing required column '{n}'" for n in names}
        if names & {"zip", "lat", "lon"}:
            echoes.add(f"{t.label}: no location")
        echoes |= {f"{t.label} row {t.row(pos)}: no location" for pos in t.unplaced}
    return [p for p in problems if not any(p.startswith(e) for e in echoes)]
