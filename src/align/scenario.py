"""Scenario: the validated input tables and the resolved settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .geo import Geometry
from .settings import Settings


@dataclass(eq=False)
class Scenario:
    """Accounts, territories and rules, validated.

    ``accounts`` has at least account_id, potential, workload, locked, and, where given, revenue,
    segment, current_territory, lat/lon or x/y, and any further numeric columns. ``territories``
    has territory_id, target_share and, where given, lat/lon or x/y, name, rep, region, capacity,
    segments. ``history`` is the revenue history (account_id, period, amount) from accounts'
    ``revenue_<period>`` columns and history.csv, None without one. ``shapes`` holds the
    accounts' polygons (a GeoSeries aligned with ``accounts``, in the CRS they were given in)
    when accounts.geojson / accounts.gpkg gave polygons. ``notes`` say how the files were read
    (headers mapped, amounts parsed, accounts placed by ZIP code, the preset that applied). Build
    one with
    :func:`align.load_scenario` or :func:`align.make_scenario`.
    """

    accounts: pd.DataFrame
    territories: pd.DataFrame
    settings: Settings
    distances: pd.DataFrame | None = None
    adjacency: pd.DataFrame | None = None
    history: pd.DataFrame | None = None  # revenue history: account_id, period, amount
    shapes: Any = None
    name: str = "scenario"
    source: Path | None = None
    input_hash: str = ""
    raw_settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # how the files were read (import profile)

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)

    @property
    def n_territories(self) -> int:
        return len(self.territories)

    @cached_property
    def territory_ids(self) -> NDArray[np.object_]:
        return self.territories["territory_id"].to_numpy(dtype=object)

    @cached_property
    def account_ids(self) -> NDArray[np.object_]:
        return self.accounts["account_id"].to_numpy(dtype=object)

    def territory_index(self, ids: pd.Series) -> NDArray[np.int64]:
        """Positions of territory ids in ``territories`` (-1 for missing/unknown)."""
        codes = pd.Index(self.territories["territory_id"]).get_indexer(ids.astype(object))
        return np.asarray(codes, dtype=np.int64)

    @cached_property
    def current(self) -> NDArray[np.int64]:
        """Index of each account's current territory, -1 where it has none."""
        if "current_territory" not in self.accounts:
            return np.full(self.n_accounts, -1, dtype=np.int64)
        return self.territory_index(self.accounts["current_territory"])

    @property
    def greenfield(self) -> bool:
        """Territories without home bases: the engine chooses the centres among the accounts."""
        located = any(c in self.territories for c in ("lat", "lon", "x", "y"))
        return not located and self.distances is None

    @cached_property
    def coord_kind(self) -> str | None:
        for kind, cols in (("latlon", ("lat", "lon")), ("xy", ("x", "y"))):
            if all(c in self.accounts for c in cols):
                return kind
        return None

    @cached_property
    def geometry(self) -> Geometry:
        """Distances between accounts and territories (given matrix or computed)."""
        n, m = self.n_accounts, self.n_territories
        kind = self.coord_kind
        cols = ["lat", "lon"] if kind == "latlon" else ["x", "y"]
        acc = self.accounts[cols].to_numpy(dtype=float) if kind else None
        has_ter = kind is not None and all(c in self.territories for c in cols)
        ter = self.territories[cols].to_numpy(dtype=float) if has_ter else None
        if self.distances is None:
            assert kind is not None and acc is not None and ter is not None
            return Geometry(kind, acc=acc, ter=ter)
        matrix = np.full((n, m), np.nan)
        i = pd.Index(self.accounts["account_id"]).get_indexer(self.distances["from_id"])
        j = pd.Index(self.territories["territory_id"]).get_indexer(self.distances["to_id"])
        ok = (i >= 0) & (j >= 0)
        matrix[i[ok], j[ok]] = self.distances["distance"].to_numpy(dtype=float)[ok]
        missing = np.isnan(matrix)
        if missing.any():
            assert acc is not None and ter is not None, "validation guarantees full coverage"
            mi, mj = np.nonzero(missing)
            matrix[mi, mj] = Geometry(kind or "xy", acc=acc, ter=ter).pairs(mi, mj)
        return Geometry("matrix", matrix=matrix, acc=acc, ter=ter)

    @cached_property
    def eligible(self) -> NDArray[np.bool_] | None:
        """(n_segments_codes, m) eligibility by segment, or None when every pair is eligible.

        Use with :attr:`segment_code`: ``eligible[segment_code[i], j]``.
        """
        if "segments" not in self.territories:
            return None
        specs = self.territories["segments"]
        if specs.isna().all() or (specs.astype(str).str.strip() == "").all():
            return None
        seg = self.accounts["segment"] if "segment" in self.accounts else None
        labels = list(pd.unique(seg.dropna())) if seg is not None else []
        table = np.ones((len(labels) + 1, self.n_territories), dtype=bool)
        for j, spec in enumerate(specs):
            allowed = _split_segments(spec)
            if not allowed:
                continue
            table[:-1, j] = [lab in allowed for lab in labels]
            table[-1, j] = False  # accounts without a segment go to generalists
        return table

    @cached_property
    def segment_code(self) -> NDArray[np.int64]:
        """Row of :attr:`eligible` for each account (last row = no segment)."""
        if "segment" not in self.accounts:
            return np.zeros(self.n_accounts, dtype=np.int64)
        seg = self.accounts["segment"]
        labels = list(pd.unique(seg.dropna()))
        codes = pd.Index(labels).get_indexer(seg)
        return np.where(codes < 0, len(labels), codes).astype(np.int64)

    def column(self, name: str) -> NDArray[np.float64]:
        """A numeric account column as floats; "accounts" means 1 per account."""
        if name == "accounts":
            return np.ones(self.n_accounts)
        if name == "none":
            return np.ones(self.n_accounts)
        return self.accounts[name].to_numpy(dtype=float)

    @cached_property
    def target_share(self) -> NDArray[np.float64]:
        s = self.territories["target_share"].to_numpy(dtype=float)
        return np.asarray(s / s.sum(), dtype=float)


def _split_segments(spec: object) -> set[str]:
    if spec is None or (isinstance(spec, float) and np.isnan(spec)):
        return set()
    return {s.strip() for s in str(spec).split(";") if s.strip()}
