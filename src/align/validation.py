"""Every input rule. Problems are collected, never raised one at a time: a user sees them all.

Row numbers are the line numbers of the file as an editor or spreadsheet shows them
(header = row 1).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import ScenarioError
from .settings import Settings

ROWS_SHOWN = 5  # rows listed per rule before the rest are counted

ACCOUNT_NUMERIC = ("potential", "workload", "revenue")
TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f", ""}
# planar coordinates and given distances at most this (in their own units): a weighted travel
# cost of them stays finite (the weights' totals are at most io.MAX_TOTAL), squared or not
PLANAR_MAX = 1e9


@dataclass
class Problems:
    items: list[str] = field(default_factory=list)

    def add(self, msg: str) -> None:
        self.items.append(msg)

    def rows(self, table: Table, mask: np.ndarray, describe) -> None:  # type: ignore[no-untyped-def]
        """One message per offending row (``describe(pos) -> str``), the rest counted."""
        pos = np.flatnonzero(mask)
        for p in pos[:ROWS_SHOWN]:
            self.add(f"{table.label} row {table.row(p)}: {describe(p)}")
        if len(pos) > ROWS_SHOWN:
            self.add(
                f"{table.label}: {len(pos) - ROWS_SHOWN:,} more rows like row {table.row(pos[0])}"
            )

    def raise_if_any(self) -> None:
        if self.items:
            raise ScenarioError(self.items)


@dataclass
class Table:
    label: str
    frame: pd.DataFrame
    header_rows: int = 1  # CSV: data row 0 is line 2
    lines: np.ndarray | None = None  # file line of each row, when blank lines were dropped
    shapes: Any = None  # accounts: a GeoSeries of polygons aligned with the rows, when given
    derived: bool = False  # adjacency: derived from the polygons, not read from adjacency.csv
    unplaced: set[int] = field(default_factory=set)  # rows whose ZIP code could not be placed

    def row(self, pos: int) -> int:
        if self.lines is not None:
            return int(self.lines[pos])
        return int(pos) + 1 + self.header_rows


def _show(v: object) -> str:
    """A cell value as a message shows it: strings quoted, numbers plain (not ``np.float64``)."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating):
        return f"{float(v):g}"
    if isinstance(v, int | np.integer):
        return str(int(v))
    return repr(v) if isinstance(v, str) else repr(str(v))


def _id_text(v: object) -> str | None:
    """An id as text: blank -> None, 1005 and 1005.0 -> '1005', ' A1 ' -> 'A1'."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float | np.floating):
        if np.isnan(v):
            return None
        if float(v).is_integer():
            return str(int(v))
    if isinstance(v, np.integer):
        return str(int(v))
    text = str(v).strip()
    return text or None


def as_ids(s: pd.Series) -> pd.Series:
    """Ids as text (object dtype, None where blank); see :func:`_id_text`."""
    return pd.Series([_id_text(v) for v in s.astype(object)], index=s.index, dtype=object)


def _is_blank(s: pd.Series) -> np.ndarray:
    blank = s.isna().to_numpy().copy()
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        blank = blank | s.astype(str).str.strip().eq("").to_numpy()
    return blank


def check_ids(p: Problems, t: Table, col: str) -> pd.Series:
    """Required, non-empty, unique string ids."""
    ids = as_ids(t.frame[col])
    blank = ids.isna().to_numpy()
    p.rows(t, blank, lambda i: f"{col} is empty")
    dup = ids.duplicated(keep="first").to_numpy() & ~blank
    if dup.any():
        first: dict[object, int] = {}
        for pos, v in enumerate(ids):
            first.setdefault(v, pos)
        p.rows(
            t,
            dup,
            lambda i: f"duplicate {col} {ids.iloc[i]!r} (first at row {t.row(first[ids.iloc[i]])})",
        )
    return ids


def check_refs(p: Problems, t: Table, col: str) -> pd.Series:
    """Required, non-empty ids that may repeat (references, e.g. account_id of a booking)."""
    ids = as_ids(t.frame[col])
    p.rows(t, ids.isna().to_numpy(), lambda i: f"{col} is empty")
    return ids


def check_dates(p: Problems, t: Table, col: str) -> pd.Series:
    """Required calendar dates (YYYY-MM-DD, or ISO 8601 with a time); returns days (datetime64)."""
    raw = t.frame[col]
    text = raw.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    dates = pd.to_datetime(
        text.astype(str).where(text.notna(), None), format="ISO8601", errors="coerce"
    )
    missing = _is_blank(raw)
    p.rows(t, missing, lambda i: f"{col} is missing")
    bad = dates.isna().to_numpy() & ~missing
    p.rows(t, bad, lambda i: f"{col} must be a date such as 2027-02-15 (got {_show(raw.iloc[i])})")
    return dates.dt.normalize()


def check_numeric(
    p: Problems,
    t: Table,
    col: str,
    *,
    required: bool = True,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    strict_min: bool = False,
) -> pd.Series:
    """Numbers that are present (if required), finite and within limits. Returns floats."""
    raw = t.frame[col]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        num = raw.astype(float)
        missing = num.isna().to_numpy()
        nonnum = np.zeros(len(raw), dtype=bool)
    else:
        stripped = raw.astype(object).map(_strip)
        try:
            num = pd.to_numeric(stripped, errors="coerce").astype(float)
        except OverflowError:  # an integer of hundreds of digits: float() makes it inf
            num = stripped.map(_as_float).astype(float)
        missing = _is_blank(raw)
        nonnum = num.isna().to_numpy() & ~missing
    values = num.to_numpy()
    if required:
        p.rows(t, missing, lambda i: f"{col} is missing")
    p.rows(t, nonnum, lambda i: f"{col} must be a number (got {_show(raw.iloc[i])})")
    inf = np.isinf(values)
    p.rows(t, inf, lambda i: f"{col} must be finite (got {values[i]:g})")
    ok = ~np.isnan(values) & ~inf
    if minimum is not None and maximum is not None:
        out = ok & ((values < minimum) | (values > maximum))
        p.rows(
            t,
            out,
            lambda i: f"{col} must be between {minimum:g} and {maximum:g} (got {values[i]:g})",
        )
        return num
    if minimum is not None:
        low = ok & ((values <= minimum) if strict_min else (values < minimum))
        op = ">" if strict_min else ">="
        p.rows(t, low, lambda i: f"{col} must be {op} {minimum:g} (got {values[i]:g})")
    if maximum is not None:
        high = ok & (values > maximum)
        p.rows(t, high, lambda i: f"{col} must be <= {maximum:g} (got {values[i]:g})")
    return num


def _as_float(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _strip(v: object) -> object:
    return v.strip() if isinstance(v, str) else v


def partial_coordinates(t: Table) -> bool:
    """True when the table has one column of a coordinate pair (lat without lon, ...)."""
    f = t.frame
    return ("lat" in f) != ("lon" in f) or ("x" in f) != ("y" in f)


def check_coordinates(p: Problems, t: Table) -> str | None:
    """lat/lon (range-checked) or x/y; returns the kind or None. Partial pairs are errors."""
    f = t.frame
    kinds = []
    for kind, (a, b) in (("latlon", ("lat", "lon")), ("xy", ("x", "y"))):
        if (a in f) != (b in f):
            have, lack = (a, b) if a in f else (b, a)
            p.add(f"{t.label}: has column '{have}' but not '{lack}'; give both or neither")
        elif a in f:
            kinds.append(kind)
    if len(kinds) > 1:
        p.add(f"{t.label}: give lat/lon or x/y, not both")
    if not kinds:
        return None
    kind = kinds[0]
    if kind == "latlon":
        lat = check_numeric(p, t, "lat", required=False, minimum=-90, maximum=90)
        lon = check_numeric(p, t, "lon", required=False, minimum=-180, maximum=180)
    else:
        # planar units of any scale, short of what overflows a weighted travel cost
        lat = check_numeric(p, t, "x", required=False, minimum=-PLANAR_MAX, maximum=PLANAR_MAX)
        lon = check_numeric(p, t, "y", required=False, minimum=-PLANAR_MAX, maximum=PLANAR_MAX)
    t.frame = t.frame.assign(
        **dict(zip(("lat", "lon") if kind == "latlon" else ("x", "y"), (lat, lon), strict=True))
    )
    return kind


def _bool_word(v: object) -> str:
    if v is None or v is pd.NA or (isinstance(v, float | np.floating) and np.isnan(v)):
        return ""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, int | float | np.integer | np.floating) and float(v) in (0.0, 1.0):
        return str(int(v))  # 1, 1.0 (a 0/1 column with gaps reads as floats)
    return str(v).strip().lower()


def check_bool(p: Problems, t: Table, col: str) -> pd.Series:
    raw = t.frame[col]
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype(bool)
    words = raw.astype(object).map(_bool_word)
    bad = ~(words.isin(TRUE_WORDS) | words.isin(FALSE_WORDS)).to_numpy()
    p.rows(
        t,
        bad,
        lambda i: f"{col} must be true or false (got {_show(raw.iloc[i])}); blank means false",
    )
    return words.isin(TRUE_WORDS).astype(bool)


def missing_columns(p: Problems, t: Table, required: tuple[str, ...]) -> bool:
    lacking = [c for c in required if c not in t.frame.columns]
    names = [str(c) for c in t.frame.columns]
    by_lower = {n.lower().replace(" ", "_"): n for n in names}
    for c in lacking:
        near = by_lower.get(c) or next(iter(difflib.get_close_matches(c, names, n=1)), None)
        tip = f" (did you mean '{near}'?)" if near else ""
        p.add(f"{t.label}: missing required column '{c}'{tip} (columns: {', '.join(names)})")
    return bool(lacking)


def suggest(name: str, options: list[str]) -> str:
    hint = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def check_greenfield(
    p: Problems,
    A: Table,
    acc: pd.DataFrame,
    ter: pd.DataFrame,
    settings: Settings,
    kind: str | None,
    *,
    from_file: bool,
) -> None:
    """Greenfield (the engine chooses the centres among the accounts): what it needs."""
    why = "greenfield design (the engine choosing the centres) "
    if from_file:
        why = (
            "territories.csv has no home bases (lat/lon or x/y), so this is a greenfield "
            "design (the engine choosing the centres), which "
        )
    if kind is None:
        p.add(f"{A.label}: {why}needs lat/lon (or x/y) for every account")
    else:
        cols = ["lat", "lon"] if kind == "latlon" else ["x", "y"]
        p.rows(A, acc[cols].isna().any(axis=1).to_numpy(), lambda i: f"{why}needs a location")
    if "candidate" in A.frame:
        cand = check_bool(p, A, "candidate")
        acc["candidate"] = cand
        if int(np.sum(cand)) < len(ter):
            p.add(
                f"{A.label}: {int(np.sum(cand))} accounts are marked candidate but {len(ter)} "
                "territories need a centre each; mark more candidates"
            )
    o, c = settings.objective, settings.constraints
    if c.max_distance_km is not None:
        p.add(
            f"settings key 'constraints.max_distance_km': {why}does not support a maximum "
            "distance yet (the centres are not known); drop it"
        )
    if o.disruption > 0 or c.max_moved_share < 1:
        p.add(
            f"{why}starts from scratch: objective.disruption must be 0 and "
            "constraints.max_moved_share 1 (give territories.csv with home bases to measure moves)"
        )
    if "locked" in A.frame and bool(np.any(acc["locked"].to_numpy(dtype=bool))):
        p.add(f"{A.label}: {why}cannot keep locked accounts; unlock them or give home bases")
    for col in ("capacity", "segments", "target_share"):
        if col in ter and ter[col].notna().any() and col != "target_share":
            p.add(f"territories.csv: {why}does not support '{col}' yet; drop the column")
    if "target_share" in ter and ter["target_share"].nunique() > 1:
        p.add(f"territories.csv: {why}needs equal target_share (the centres are not known yet)")


def check_islands(
    p: Problems,
    A: Table,
    acc_ids: pd.Series,
    adjacency: Table | None,
    adj: pd.DataFrame | None,
) -> None:
    """Contiguity needs adjacency, and every unit needs a neighbour.

    An island (a unit with no neighbour) can only be a territory on its own: it cannot share a
    connected territory with anything. The fix is a link (a bridge, a ferry) or no contiguity.
    """
    off = "or set constraints.contiguity = false"
    if adjacency is None:
        p.add(
            "settings key 'constraints.contiguity': contiguous territories need to know which "
            "units are neighbours; give adjacency.csv (account_id, neighbor_id: one row per "
            f"shared border) or polygons in accounts.geojson / accounts.gpkg, {off}"
        )
        return
    if adj is None or len(acc_ids) == 0:
        return  # adjacency.csv lacks its columns: reported above
    seen = set(adj["account_id"].dropna()) | set(adj["neighbor_id"].dropna())
    lonely = acc_ids.notna().to_numpy() & ~acc_ids.isin(seen).to_numpy()
    if len(acc_ids) < 2 or not lonely.any():
        return
    if adjacency.derived:
        where = "shares no border with any other unit"
        fix = (
            "link it to a unit it is reached from (a bridge, a ferry) in adjacency.csv "
            "(`align adjacency SCENARIO --out SCENARIO/adjacency.csv` writes the borders found; "
            "add the link there)"
        )
    else:
        where = f"has no neighbour in {adjacency.label}"
        fix = (
            f"add a row to {adjacency.label} linking it to a unit it is reached from (a bridge, "
            "a ferry)"
        )
    p.rows(
        A,
        lonely,
        lambda i: (
            f"account {acc_ids.iloc[i]!r} {where} (an island): with constraints.contiguity = "
            f"true it can only be a territory on its own; {fix}, {off}"
        ),
    )


def build(
    accounts: Table,
    territories: Table | None,
    settings: Settings,
    *,
    distances: Table | None = None,
    adjacency: Table | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """Check every rule; return normalised (accounts, territories, distances, adjacency).

    One check per input table, then the rules between tables; every problem is collected and
    raised at once (:class:`ScenarioError`)."""
    p = Problems()
    A = accounts
    acc, a_ok, acc_kind, acc_partial = _check_accounts(p, A)
    ter, ter_kind, ter_partial, greenfield = _check_territories(p, territories, settings, distances)
    if greenfield:
        check_greenfield(p, A, acc, ter, settings, acc_kind, from_file=territories is not None)
    ter_ids = set(ter["territory_id"].dropna()) if "territory_id" in ter else set()
    acc_ids = acc["account_id"] if "account_id" in acc else pd.Series([], dtype=object)
    _check_references(p, A, acc, territories, ter, ter_ids)
    dist, covered = _check_distances(p, distances, acc_ids, ter_ids)
    if a_ok and territories is not None and ter_ids and not acc_partial and not greenfield:
        _check_locations(
            p, A, territories, distances, acc, ter, acc_ids, ter_ids, (acc_kind, ter_kind),
            ter_partial, dist, covered,
        )  # fmt: skip
    adj = _check_adjacency(p, adjacency, acc_ids)
    _check_setting_columns(p, A, acc, territories, ter, settings, greenfield)
    if settings.constraints.contiguity:
        check_islands(p, A, acc_ids, adjacency, adj)
    p.raise_if_any()
    acc = acc.reset_index(drop=True)
    ter = ter.reset_index(drop=True)
    return acc, ter, dist, adj


def _check_accounts(p: Problems, A: Table) -> tuple[pd.DataFrame, bool, str | None, bool]:
    """accounts.csv: ids, numbers, coordinates, labels, locks. Returns the normalised table,
    whether the required columns are there, the coordinate kind and whether it is partial."""
    a_ok = not missing_columns(p, A, ("account_id", "potential"))
    acc = A.frame.copy()
    if "account_id" in acc:
        acc["account_id"] = check_ids(p, A, "account_id")
    if len(acc) == 0:
        p.add(f"{A.label}: no accounts (one row per account is required)")
    for col in ACCOUNT_NUMERIC:
        if col in acc:
            acc[col] = check_numeric(p, A, col, required=True)
    if "workload" not in acc:
        acc["workload"] = 1.0
    acc_kind = check_coordinates(p, A)
    acc_partial = partial_coordinates(A)
    acc = acc.assign(**{c: A.frame[c] for c in ("lat", "lon", "x", "y") if c in A.frame})
    for col in ("segment", "current_territory"):
        if col in acc:
            acc[col] = as_ids(acc[col])
    acc["locked"] = check_bool(p, A, "locked") if "locked" in acc else False

    return acc, a_ok, acc_kind, acc_partial


def _check_territories(
    p: Problems, territories: Table | None, settings: Settings, distances: Table | None
) -> tuple[pd.DataFrame, str | None, bool, bool]:
    """territories.csv (or the greenfield seats of territories.count): the normalised table,
    its coordinate kind, whether that is partial, and whether the design is greenfield."""
    count = settings.territories.count
    greenfield = False
    if territories is None:
        if count:
            greenfield = True
            width = len(str(count))
            ter = pd.DataFrame(
                {
                    "territory_id": pd.Series([f"T{k:0{width}d}" for k in range(1, count + 1)]),
                    "target_share": 1.0,
                }
            )
        else:
            p.add(
                "territories.csv is required: one row per territory (territory_id, lat, lon), "
                "or set territories.count for a greenfield design"
            )
            ter = pd.DataFrame({"territory_id": pd.Series([], dtype=object)})
        ter_kind = None
        ter_partial = False
    else:
        T = territories
        t_ok = not missing_columns(p, T, ("territory_id",))
        ter = T.frame.copy()
        if t_ok:
            ter["territory_id"] = check_ids(p, T, "territory_id")
        else:
            ter["territory_id"] = pd.Series([None] * len(ter), dtype=object)
        ter_kind = check_coordinates(p, T)
        ter_partial = partial_coordinates(T)
        ter = ter.assign(**{c: T.frame[c] for c in ("lat", "lon", "x", "y") if c in T.frame})
        if "target_share" in ter:
            ter["target_share"] = check_numeric(p, T, "target_share", minimum=0, strict_min=True)
        else:
            ter["target_share"] = 1.0
        if "capacity" in ter:
            ter["capacity"] = check_numeric(p, T, "capacity", required=False)
        if "segments" in ter:
            ter["segments"] = as_ids(ter["segments"])
        if len(ter) == 0:
            p.add(f"{T.label}: no territories (one row per territory is required)")
        greenfield = ter_kind is None and not ter_partial and distances is None and len(ter) > 0
        if greenfield and count and count != len(ter):
            p.add(
                f"settings key 'territories.count' is {count} but {T.label} has {len(ter)} "
                "territories without home bases; make them agree (or drop territories.count)"
            )
    return ter, ter_kind, ter_partial, greenfield


def _check_references(
    p: Problems,
    A: Table,
    acc: pd.DataFrame,
    territories: Table | None,
    ter: pd.DataFrame,
    ter_ids: set[Any],
) -> None:
    """Between accounts and territories: current owners, locks, segments served."""
    if "current_territory" in acc and territories is not None and ter_ids:
        cur = acc["current_territory"]
        unknown = cur.notna().to_numpy() & ~cur.isin(ter_ids).to_numpy()
        p.rows(A, unknown, lambda i: f"current_territory {cur.iloc[i]!r} is not in territories.csv")
    if "locked" in A.frame:
        has_cur = (
            acc["current_territory"].notna().to_numpy()
            if "current_territory" in acc
            else np.zeros(len(acc), bool)
        )
        bad = acc["locked"].to_numpy(dtype=bool) & ~has_cur
        p.rows(
            A,
            bad,
            lambda i: (
                "locked is true but current_territory is empty; name the territory to keep it "
                "in, or unlock it"
            ),
        )
    if "segments" in ter and territories is not None and len(acc):
        known = set(acc["segment"].dropna()) if "segment" in acc else set()
        why = "" if "segment" in acc else " (accounts.csv has no 'segment' column)"
        for pos, spec in enumerate(ter["segments"]):
            if spec is None:
                continue
            for s in sorted({x.strip() for x in str(spec).split(";") if x.strip()} - known):
                p.add(
                    f"{territories.label} row {territories.row(pos)}: segments names {s!r}, "
                    "which is "
                    f"not the segment of any account{why}{suggest(s, sorted(known))}"
                )


def _check_distances(
    p: Problems, distances: Table | None, acc_ids: pd.Series, ter_ids: set[Any]
) -> tuple[pd.DataFrame | None, pd.Series | None]:
    """distances.csv: the normalised table and how many territories each account has a
    distance to (None without the file)."""
    dist = None
    covered = None
    if distances is not None:
        D = distances
        if not missing_columns(p, D, ("from_id", "to_id", "distance")):
            dist = D.frame.copy()
            dist["from_id"] = as_ids(dist["from_id"])
            dist["to_id"] = as_ids(dist["to_id"])
            dist["distance"] = check_numeric(p, D, "distance", maximum=PLANAR_MAX)
            bad_from = ~dist["from_id"].isin(set(acc_ids.dropna())).to_numpy()
            p.rows(
                D,
                bad_from,
                lambda i: (
                    f"from_id {dist['from_id'].iloc[i]!r} is not an account_id of accounts.csv"
                ),
            )
            bad_to = ~dist["to_id"].isin(ter_ids).to_numpy()
            p.rows(
                D,
                bad_to,
                lambda i: (
                    f"to_id {dist['to_id'].iloc[i]!r} is not a territory_id of territories.csv"
                ),
            )
            dup = dist.duplicated(["from_id", "to_id"]).to_numpy()
            if dup.any():
                first_pair: dict[tuple[object, object], int] = {}
                for pos, pair in enumerate(zip(dist["from_id"], dist["to_id"], strict=True)):
                    first_pair.setdefault(pair, pos)

                def twice(i: int) -> str:
                    pair = (dist["from_id"].iloc[i], dist["to_id"].iloc[i])
                    return (
                        f"pair ({pair[0]}, {pair[1]}) is given twice (first at row "
                        f"{D.row(first_pair[pair])}); keep one distance per pair"
                    )

                p.rows(D, dup, twice)
            ok = ~(bad_from | bad_to | dup)
            covered = dist.loc[ok, "from_id"].value_counts()

    return dist, covered


def _check_locations(
    p: Problems,
    A: Table,
    T: Table,
    D: Table | None,
    acc: pd.DataFrame,
    ter: pd.DataFrame,
    acc_ids: pd.Series,
    ter_ids: set[Any],
    kinds: tuple[str | None, str | None],
    ter_partial: bool,
    dist: pd.DataFrame | None,
    covered: pd.Series | None,
) -> None:
    """Every (account, territory) pair needs a distance: given, or computed from coordinates."""
    acc_kind, ter_kind = kinds
    n_ter = len(ter_ids)
    kind = acc_kind or ter_kind or "latlon"
    cols = ("lat", "lon") if kind == "latlon" else ("x", "y")
    names = {"latlon": "lat/lon", "xy": "x/y"}
    acc_loc = (
        acc[list(cols)].notna().all(axis=1).to_numpy()
        if acc_kind
        else np.zeros(len(acc), dtype=bool)
    )
    ter_has = ter_kind == kind
    ter_loc = (
        ter[list(cols)].notna().all(axis=1).to_numpy() if ter_has else np.zeros(len(ter), bool)
    )
    if acc_kind and ter_kind and acc_kind != ter_kind:
        p.add(
            f"accounts use {names[acc_kind]} but territories use {names[ter_kind]}; "
            "use one coordinate system"
        )
    full = (
        acc_ids.map(covered).fillna(0).to_numpy() >= n_ter
        if covered is not None
        else np.zeros(len(acc), dtype=bool)
    )
    computable = acc_loc & bool(ter_loc.all())
    if dist is None:
        if acc_kind is None:
            p.add(
                f"{A.label}: no location: give lat/lon (or x/y) columns, or distances.csv "
                "with the distance of every account to every territory"
            )
        else:
            p.rows(
                A,
                ~acc_loc,
                lambda i: (
                    f"no location ({'/'.join(cols)} empty) and no distances.csv to replace it"
                ),
            )
            if ter_kind is None and not ter_partial:
                p.add(f"{T.label}: no home bases: give {'/'.join(cols)} columns, or distances.csv")
            elif ter_has:
                p.rows(
                    T,
                    ~ter_loc,
                    lambda i: (
                        f"no home base ({'/'.join(cols)} empty) and no distances.csv to replace it"
                    ),
                )
    else:
        assert covered is not None and D is not None  # distances.csv was read
        gaps = ~full & ~computable
        if gaps.any():
            n_missing = int((n_ter - acc_ids.map(covered).fillna(0).to_numpy())[gaps].sum())
            example = acc_ids.to_numpy()[gaps][0]
            have = set(dist.loc[dist["from_id"] == example, "to_id"])
            lack = sorted(t for t in ter_ids if t not in have)[:1]
            p.add(
                f"{D.label}: {n_missing:,} account-territory pairs have no distance "
                f"(e.g. {example} to {lack[0] if lack else '?'}) and no coordinates to compute "
                "them; give every pair, or lat/lon for accounts and territories"
            )


def _check_adjacency(
    p: Problems, adjacency: Table | None, acc_ids: pd.Series
) -> pd.DataFrame | None:
    """adjacency.csv: both ends of every border are accounts."""
    adj = None
    if adjacency is not None:
        J = adjacency
        if not missing_columns(p, J, ("account_id", "neighbor_id")):
            adj = J.frame[["account_id", "neighbor_id"]].apply(as_ids)
            known_acc = set(acc_ids.dropna())
            for col in ("account_id", "neighbor_id"):
                bad = ~adj[col].isin(known_acc).to_numpy()
                p.rows(
                    J,
                    bad,
                    lambda i, col=col: (
                        f"{col} {adj[col].iloc[i]!r} is not an account_id of accounts.csv"
                    ),
                )

    return adj


def _check_setting_columns(
    p: Problems,
    A: Table,
    acc: pd.DataFrame,
    territories: Table | None,
    ter: pd.DataFrame,
    settings: Settings,
    greenfield: bool,
) -> None:
    """Settings that name columns (balance, balance_regions, travel weight, disruption
    measure) name columns the tables have; numeric ones are checked in place."""
    numeric_cols = [
        c
        for c in acc.columns
        if c not in ("account_id", "lat", "lon", "x", "y")
        and pd.api.types.is_numeric_dtype(acc[c].dtype)
        and not pd.api.types.is_bool_dtype(acc[c].dtype)
    ]
    lacking = {"account_id", "potential"} - set(A.frame.columns)  # reported above
    sections: tuple[tuple[str, dict[str, Any]], ...] = (
        ("balance", settings.balance),
        ("balance_regions", settings.balance_regions),
    )
    for section, rules in sections:
        for col in rules:
            if col in lacking:
                continue
            if col not in acc:
                p.add(
                    f"settings key '{section}.{col}': accounts.csv has no column '{col}'"
                    f"{suggest(col, numeric_cols)}"
                )
            elif col not in ACCOUNT_NUMERIC and col not in ("lat", "lon", "x", "y"):
                acc[col] = check_numeric(p, A, col)
    if settings.balance_regions and not greenfield:
        region = ter["region"] if "region" in ter else None
        if region is None:
            p.add(
                "settings key 'balance_regions' needs a 'region' column in territories.csv "
                "(the region of every territory)"
            )
        elif territories is not None:
            ter["region"] = as_ids(region)
            p.rows(
                territories,
                ter["region"].isna().to_numpy(),
                lambda i: "region is empty; balance_regions needs the region of every territory",
            )
    if greenfield and settings.territories.regions and settings.territories.regions > len(ter):
        p.add(
            f"settings key 'territories.regions' is {settings.territories.regions}, more than "
            f"the {len(ter)} territories to group"
        )
    for key, col, extra in (
        ("objective.travel_weight", settings.objective.travel_weight, "none"),
        ("objective.disruption_measure", settings.objective.disruption_measure, "accounts"),
    ):
        if col == extra or col in lacking:
            continue
        if col not in acc:
            p.add(
                f"settings key '{key}': accounts.csv has no column '{col}'"
                f'{suggest(col, numeric_cols)}; use "{extra}" or one of: {", ".join(numeric_cols)}'
            )
        elif col not in ACCOUNT_NUMERIC and col not in settings.balance:
            acc[col] = check_numeric(p, A, col)
