"""One way to show numbers with their units, and to read amounts people type.

The CLI, the report and the workbook all format through :class:`Units`: money with the currency
of the ``units.currency`` setting, distances with ``units.distance`` (km by default), shares as
percentages, ratios with a times sign. A value that is missing or not finite shows as a dash,
never as ``nan`` or ``-inf``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ScenarioError

Kind = Literal["money", "pct", "spct", "dist", "num", "ratio", "count", "text"]

DASH = "–"

# what a KPI key measures, by its parts; the first match wins
_KPI_KINDS: tuple[tuple[str, Kind], ...] = (
    ("max_min_ratio", "ratio"),
    ("tolerance", "pct"),
    ("gap", "pct"),
    ("quota_to_potential", "pct"),
    ("fair_share", "money"),
    ("max_abs_deviation", "pct"),
    ("deviation", "spct"),
    (".cv", "pct"),
    ("moved_share", "pct"),
    ("share", "pct"),
    ("growth", "spct"),
    ("distance", "dist"),
    ("accounts", "count"),
    ("territories", "count"),
    ("travel", "num"),
    ("disruption", "num"),
    ("potential", "money"),
    ("revenue", "money"),
    ("whitespace", "money"),
    ("quota", "money"),
    ("goal", "money"),
)


def kind_of(key: str) -> Kind:
    """The kind of a KPI or column name: ``potential.cv`` -> pct, ``mean_distance`` -> dist,
    ``potential`` -> money, ``moved_accounts`` -> count; anything else -> num."""
    for part, kind in _KPI_KINDS:
        if part in key:
            return kind
    return "num"


def _finite(v: Any) -> float | None:
    if v is None or isinstance(v, bool | str):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass(frozen=True)
class Units:
    """How numbers are shown: ``currency`` is a symbol put before the amount ("$", "€") or a
    three-letter code put after it ("EUR"); ``distance`` the unit of distances ("km")."""

    currency: str = "$"
    distance: str = "km"

    @classmethod
    def of(cls, settings: Any = None) -> Units:
        """The units of resolved settings (a :class:`~align.settings.Settings` or its dict, as
        run.json keeps it); defaults when they name none."""
        if settings is None:
            return cls()
        if isinstance(settings, Mapping):
            raw = settings.get("units") or {}
        else:
            u = getattr(settings, "units", None)
            raw = u.model_dump() if u is not None else {}
        return cls(
            currency=str(raw.get("currency", cls.currency)),
            distance=str(raw.get("distance", cls.distance)),
        )

    def money(self, v: Any, digits: int = 0) -> str:
        """``$5,526,000``; ``-$1,200``; ``5,526,000 EUR`` for a code."""
        f = _finite(v)
        if f is None:
            return DASH
        body = f"{abs(f):,.{digits}f}"
        sign = "-" if f < 0 and body.strip("0.,") else ""
        if len(self.currency) == 3 and self.currency.isalpha() and self.currency.isupper():
            return f"{sign}{body} {self.currency}"
        return f"{sign}{self.currency}{body}"

    def pct(self, v: Any, digits: int = 1, *, sign: bool = False) -> str:
        """A share as a percentage: 0.0727 -> ``7.3%``, signed ``+7.3%``."""
        f = _finite(v)
        if f is None:
            return DASH
        return f"{f:+.{digits}%}" if sign else f"{f:.{digits}%}"

    def dist(self, v: Any, digits: int = 1) -> str:
        """``26.5 km``."""
        f = _finite(v)
        if f is None:
            return DASH
        return f"{f:,.{digits}f} {self.distance}".rstrip()

    def num(self, v: Any, digits: int | None = None) -> str:
        """A plain number: whole numbers with thousands separators, others with 2 decimals (4
        below 1)."""
        f = _finite(v)
        if f is None:
            return DASH
        if digits is not None:
            return f"{f:,.{digits}f}"
        if f == int(f) and abs(f) < 1e15:
            return f"{int(f):,}"
        if abs(f) < 1:
            return f"{f:.4f}"
        return f"{f:,.2f}" if abs(f) < 1e6 else f"{f:,.0f}"

    def format(self, v: Any, kind: Kind | str) -> str:
        """``v`` shown as ``kind``: money, pct, spct (signed percent), dist, ratio, count, num,
        text."""
        if kind == "text":
            return DASH if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "yes" if v else "no"
        if kind == "money":
            return self.money(v)
        if kind == "pct":
            return self.pct(v)
        if kind == "spct":
            return self.pct(v, sign=True)
        if kind == "dist":
            return self.dist(v)
        if kind == "ratio":
            f = _finite(v)
            return DASH if f is None else f"{f:,.2f}×"
        if kind == "count":
            f = _finite(v)
            return DASH if f is None else f"{round(f):,}"
        return self.num(v)

    def kpi(self, key: str, v: Any) -> str:
        """A KPI value shown by its kind (see :func:`kind_of`)."""
        return self.format(v, kind_of(key))

    def change(self, key: str, before: Any, after: Any) -> str:
        """The change of a KPI: points for percentages, the unit's difference otherwise; a dash
        when either side is missing or not finite (never ``-inf``)."""
        b, a = _finite(before), _finite(after)
        if b is None or a is None:
            return DASH
        d = a - b
        kind = kind_of(key)
        if kind in ("pct", "spct"):
            return f"{d * 100:+.1f} pts"
        if kind == "money":
            return ("+" if d >= 0 else "") + self.money(d)
        if kind == "dist":
            return f"{d:+,.1f} {self.distance}".rstrip()
        if kind == "ratio":
            return f"{d:+,.2f}×"
        if kind == "count":
            return f"{round(d):+,}"
        return f"{d:+,.2f}"


_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "mm": 1e6, "b": 1e9, "bn": 1e9}
_AMOUNT = re.compile(
    r"^\s*(?P<neg>-)?\s*(?P<cur>[$€£¥])?\s*(?P<num>\d[\d,_ ]*(?:\.\d+)?|\.\d+)\s*"
    r"(?P<scale>k|m|mm|b|bn)?\s*$",
    re.IGNORECASE,
)


def parse_amount(text: str | float | int, *, what: str = "amount") -> float:
    """Read an amount as people write it: ``144000000``, ``144,000,000``, ``144_000_000``,
    ``144M``, ``$1.2m``, ``250k``, ``1.5B``.

    Raises
    ------
    ScenarioError
        Naming ``what``, the text and the forms accepted.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        m = _AMOUNT.match(str(text))
        digits = m.group("num").replace(",", "").replace("_", "").replace(" ", "") if m else ""
        if m is None or (m.group("num").count(",") and not _grouped(m.group("num"))):
            raise ScenarioError(
                f"{what} {str(text)!r}: not an amount; write e.g. 144000000, 144,000,000 or 144M "
                "(k = thousand, M = million, B = billion)"
            )
        value = float(digits) * _SCALE[(m.group("scale") or "").lower()]
        if m.group("neg"):
            value = -value
    if not math.isfinite(value):
        raise ScenarioError(f"{what} {str(text)!r}: must be a finite amount")
    return value


def _grouped(num: str) -> bool:
    """Thousands separators in their places: 144,000,000 yes, 1,44,00 no."""
    whole = num.split(".")[0]
    groups = whole.split(",")
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def strict_json(value: Any) -> Any:
    """``value`` with every NaN and infinity replaced by None (and numpy scalars by Python
    numbers), recursively through dicts, lists and tuples: strict JSON for any parser."""
    if isinstance(value, Mapping):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return strict_json(item())
    return value
