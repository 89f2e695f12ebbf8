"""Opportunity pockets: where uncovered whitespace clusters, and whether a new seat would pay.

Whitespace is what an account could still buy: ``max(potential - revenue, 0)`` (``potential``
when revenue is not given). A *pocket* is a dense patch of whitespace on the map.

Why a density method (DBSCAN) rather than k-means or a grid:

- pockets have irregular shapes (a metro area along a coast, a corridor between two cities), and
  density-based clusters follow those shapes instead of forcing round blobs of similar size;
- nobody knows in advance how many pockets there are: DBSCAN finds as many as the data hold,
  there is no ``k`` to choose;
- most accounts are background, scattered thinly over the map; DBSCAN leaves them out as noise
  instead of forcing every account into some cluster.

The two parameters are in business units:

- ``radius_km`` (km): the neighbourhood of an account, about what a rep covers around a point;
  DBSCAN's ``eps`` is ``radius_km / 6371.0088`` on the great circle (haversine, radians).
- ``min_whitespace`` (dollars): DBSCAN's ``min_samples`` with every account weighted by its
  whitespace, so an account is a *core* of a pocket when the accounts within ``radius_km`` of it
  hold at least that much whitespace together. Clusters whose total whitespace stays below
  ``min_whitespace`` are dropped as well.

A pocket is a place, not a chain: density clusters can string thin background together over a
whole country, so each cluster is cut into local pieces whose members all lie within
``max_radius_km`` of the piece's centre (by default the larger of twice ``radius_km`` and 5% of
the span of the data), and a piece is kept only when its whitespace is at least
``min_density_ratio`` times as dense as the data's on average (whitespace over the area of the
accounts' convex hull; a piece's area is the disc that holds 80% of its whitespace, at least
``radius_km`` wide): background alone is never a pocket.

Only accounts with whitespace take part. Planar scenarios (x/y) use Euclidean distance and
``radius_km`` in the units of the coordinates. DBSCAN is deterministic; ``seed`` is accepted for
anything random. Pockets are ranked by whitespace, largest first, and named P01, P02, ...

``--suggest N`` adds a territory at each of the N best pockets' centroids (one at a time, then all
together), re-solves with the same rules and a short time limit, and reports how the KPIs move.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN

from .errors import RunError, ScenarioError
from .geo import EARTH_RADIUS_KM, point_distance
from .runs import Run
from .scenario import Scenario
from .settings import PocketSettings

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

POCKET_COLUMNS = [
    "pocket_id",
    "lat",
    "lon",
    "accounts",
    "whitespace",
    "potential",
    "revenue",
    "dominant_segment",
    "dominant_segment_share",
    "radius_80_km",
    "nearest_territory",
    "nearest_distance_km",
    "far_owner_share",
]
SUGGEST_TIME_LIMIT_S = 30.0
KPIS = ["potential.max_abs_deviation", "travel", "weighted_mean_distance"]


# ---------------------------------------------------------------------------------------------
# the estimator


class WhitespacePockets(ClusterMixin, BaseEstimator):  # type: ignore[misc]  # untyped bases
    """Density clustering of accounts weighted by whitespace (scikit-learn estimator).

    ``fit(X, sample_weight=whitespace)`` with ``X`` = (lat, lon) in degrees (or x, y with
    ``metric="euclidean"``). Learned: ``labels_`` (pocket per row, ranked by whitespace, -1 =
    background), ``centroids_`` (whitespace-weighted, one row per pocket, same units as ``X``),
    ``whitespace_`` (per pocket), ``n_pockets_``, ``max_radius_km_`` (the locality radius
    used) and ``background_density_`` (whitespace per square km, or per square unit, of the
    whole data).
    """

    def __init__(
        self,
        radius_km: float = 50.0,
        min_whitespace: float = 500_000.0,
        seed: int = 0,
        metric: str = "haversine",
        max_radius_km: float | None = None,
        min_density_ratio: float = 5.0,
    ):
        self.radius_km = radius_km
        self.min_whitespace = min_whitespace
        self.seed = seed
        self.metric = metric
        self.max_radius_km = max_radius_km
        self.min_density_ratio = min_density_ratio

    def fit(
        self, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None
    ) -> WhitespacePockets:
        pts = np.asarray(X, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"X must have two columns (lat, lon or x, y), got shape {pts.shape}")
        if not np.isfinite(pts).all():
            raise ValueError("X has missing or infinite coordinates")
        n = len(pts)
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("sample_weight must be one finite number >= 0 per row")
        if not self.radius_km > 0 or not self.min_whitespace > 0:
            raise ValueError("radius_km and min_whitespace must be > 0")
        if self.metric not in ("haversine", "euclidean"):
            raise ValueError(f"metric must be 'haversine' or 'euclidean', got {self.metric!r}")
        if self.max_radius_km is not None and not self.max_radius_km > 0:
            raise ValueError("max_radius_km must be > 0 (or None: from the data's span)")
        if not self.min_density_ratio >= 0:
            raise ValueError("min_density_ratio must be >= 0")
        raw = np.full(n, -1, dtype=np.int64)
        if n:
            if self.metric == "haversine":
                db = DBSCAN(
                    eps=self.radius_km / EARTH_RADIUS_KM,
                    min_samples=max(int(math.ceil(self.min_whitespace)), 1),
                    metric="haversine",
                    algorithm="ball_tree",
                )
                db.fit(np.radians(pts), sample_weight=w)
            else:
                db = DBSCAN(
                    eps=self.radius_km,
                    min_samples=max(int(math.ceil(self.min_whitespace)), 1),
                    metric="euclidean",
                    algorithm="ball_tree",
                )
                db.fit(pts, sample_weight=w)
            raw = np.asarray(db.labels_, dtype=np.int64)
        plane = _plane_km(pts, self.metric)
        span, area = _span_and_area(plane[w > 0] if (w > 0).any() else plane)
        self.max_radius_km_ = float(self.max_radius_km or max(2 * self.radius_km, 0.05 * span))
        self.background_density_ = float(w.sum() / area) if area > 0 else 0.0
        raw = self._local_pieces(raw, pts, w)
        # keep clusters with enough whitespace, ranked by whitespace (ties: first row first)
        keep: list[tuple[float, int, int]] = []
        for lab in np.unique(raw[raw >= 0]):
            rows = np.flatnonzero(raw == lab)
            total = float(w[rows].sum())
            if total >= self.min_whitespace:
                keep.append((-total, int(rows[0]), int(lab)))
        keep.sort()
        labels = np.full(n, -1, dtype=np.int64)
        centroids = np.zeros((len(keep), 2))
        whitespace = np.zeros(len(keep))
        for k, (neg, _, lab) in enumerate(keep):
            rows = raw == lab
            labels[rows] = k
            whitespace[k] = -neg
            centroids[k] = _centroid(pts[rows], w[rows], self.metric)
        self.labels_ = labels
        self.centroids_ = centroids
        self.whitespace_ = whitespace
        self.n_pockets_ = len(keep)
        return self

    def _local_pieces(self, raw: IntArray, pts: FloatArray, w: FloatArray) -> IntArray:
        """Cut each cluster into pieces whose members lie within ``max_radius_km_`` of the
        piece's centre, densest first; drop pieces no denser than the background."""
        out = np.full(len(raw), -1, dtype=np.int64)
        kind = "latlon" if self.metric == "haversine" else "xy"
        radius, reach = self.radius_km, self.max_radius_km_
        label = 0
        for lab in np.unique(raw[raw >= 0]):
            rows = np.flatnonzero(raw == lab)
            # each member's whitespace within radius_km (among the cluster): the densest seeds
            local = _neighbourhood_whitespace(pts[rows], w[rows], radius, self.metric)
            left = np.ones(len(rows), dtype=bool)
            while left.any():
                cand = np.flatnonzero(left)
                seed = cand[int(np.argmax(local[cand]))]
                d = point_distance(kind, pts[rows[cand]], pts[rows[seed]][None, :])
                near = cand[d <= reach]
                centre = _centroid(pts[rows[near]], w[rows[near]], self.metric)
                d = point_distance(kind, pts[rows[cand]], centre[None, :])
                piece = np.union1d(cand[d <= reach], [seed])
                left[piece] = False
                core = self._core(pts[rows[piece]], w[rows[piece]], kind)
                if core is not None:
                    out[rows[piece][core]] = label
                    label += 1
        return out

    def _core(self, pts: FloatArray, w: FloatArray, kind: str) -> NDArray[np.bool_] | None:
        """The members of a piece that make a pocket, or None when the piece is background.

        The piece's extent is where whitespace above the background's accumulates: around
        its centre, the whitespace within a distance less what the background density puts
        in that disc rises to a peak; the core radius holds 80% of that peak. The core must
        be ``min_density_ratio`` times as dense as the background (over a disc at least
        ``radius_km`` wide), and its members lie within twice the core radius (so that the
        thin background a dense patch gathers around it is left out)."""
        if float(w.sum()) < self.min_whitespace:
            return None
        c = _centroid(pts, w, self.metric)
        d = point_distance(kind, pts, c[None, :])
        order = np.argsort(d, kind="stable")
        ds, cum = d[order], np.cumsum(w[order])
        excess = cum - self.background_density_ * math.pi * ds * ds
        peak = float(excess.max())
        if peak <= 0:
            return None
        k = int(np.argmax(excess >= 0.8 * peak))
        r_core = float(ds[k])
        r = max(r_core, self.radius_km)
        density = float(cum[k]) / (math.pi * r * r)
        if density < self.min_density_ratio * self.background_density_:
            return None
        core = d <= 2 * r_core + 1e-9
        return core if float(w[core].sum()) >= self.min_whitespace else None


def _plane_km(pts: FloatArray, metric: str) -> FloatArray:
    """Points on a plane in km (an equirectangular projection about the mean latitude) for
    lat/lon; x/y as they are."""
    if metric != "haversine" or not len(pts):
        return pts
    lat0 = math.radians(float(np.mean(pts[:, 0])))
    k = math.pi / 180 * EARTH_RADIUS_KM
    return np.column_stack((pts[:, 1] * k * math.cos(lat0), pts[:, 0] * k))


def _span_and_area(plane: FloatArray) -> tuple[float, float]:
    """The diagonal of the points' bounding box and the area of their convex hull (0 when
    they lie on a line or there are fewer than three)."""
    if len(plane) == 0:
        return 0.0, 0.0
    span = float(np.hypot(*(plane.max(axis=0) - plane.min(axis=0))))
    if len(plane) < 3:
        return span, 0.0
    from scipy.spatial import ConvexHull, QhullError

    try:
        return span, float(ConvexHull(plane).volume)  # in 2-D the volume is the area
    except (QhullError, ValueError):
        return span, 0.0


def _neighbourhood_whitespace(
    pts: FloatArray, w: FloatArray, radius_km: float, metric: str
) -> FloatArray:
    """Each point's whitespace within ``radius_km`` (itself included)."""
    from sklearn.neighbors import BallTree

    if metric == "haversine":
        x, r = np.radians(pts), radius_km / EARTH_RADIUS_KM
    else:
        x, r = pts, radius_km
    found = BallTree(x, metric=metric).query_radius(x, r)  # each holds the point itself
    sizes = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return np.add.reduceat(w[np.concatenate(found)], starts).astype(float)


def _radius_80(d: FloatArray, w: FloatArray) -> float:
    """The distance from the centre within which 80% of the whitespace lies."""
    total = float(w.sum())
    order = np.argsort(d, kind="stable")
    cum = np.cumsum(w[order])
    return float(d[order][np.searchsorted(cum, 0.8 * total - 1e-9 * max(total, 1.0))])


def _centroid(pts: FloatArray, w: FloatArray, metric: str) -> FloatArray:
    """Weighted centre: on the sphere (mean of unit vectors) for lat/lon, plain mean for x/y."""
    ww = w if w.sum() > 0 else np.ones(len(w))
    if metric != "haversine":
        return np.asarray(np.average(pts, axis=0, weights=ww), dtype=float)
    la, lo = np.radians(pts[:, 0]), np.radians(pts[:, 1])
    xyz = np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))
    v = np.average(xyz, axis=0, weights=ww)
    lat = math.degrees(math.atan2(v[2], math.hypot(v[0], v[1])))
    lon = math.degrees(math.atan2(v[1], v[0]))
    return np.array([lat, lon])


# ---------------------------------------------------------------------------------------------
# finding pockets in a scenario


@dataclass(eq=False)
class PocketsResult:
    """Pockets of one scenario: ``pockets`` (one row per pocket, ranked), ``members``
    (account_id, pocket_id) and, with ``by_segment``, the per-segment pockets."""

    pockets: pd.DataFrame
    members: pd.DataFrame
    settings: PocketSettings
    coord_kind: str
    by_segment: pd.DataFrame | None = None
    labels: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    whitespace: FloatArray = field(default_factory=lambda: np.zeros(0))
    scenario: Scenario | None = None
    max_radius_km: float = math.nan  # the locality radius used (pockets.max_radius_km or default)

    @property
    def n_pockets(self) -> int:
        return len(self.pockets)

    def write(self, folder: str | Path) -> list[Path]:
        """Write pockets.csv, pocket_members.csv, pockets.png (and pockets_by_segment.csv)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = [folder / "pockets.csv", folder / "pocket_members.csv", folder / "pockets.png"]
        self.pockets.to_csv(files[0], index=False)
        self.members.to_csv(files[1], index=False)
        self.plot(files[2])
        if self.by_segment is not None:
            files.append(folder / "pockets_by_segment.csv")
            self.by_segment.to_csv(files[-1], index=False)
        return files

    def plot(self, path: str | Path) -> Path:
        """A map: accounts (grey), pockets (coloured, sized by whitespace), home bases (black)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        assert self.scenario is not None
        sc = self.scenario
        a, b = ("lat", "lon") if self.coord_kind == "latlon" else ("x", "y")
        fig, ax = plt.subplots(figsize=(9, 7))
        try:
            acc = sc.accounts
            ax.scatter(acc[b], acc[a], s=4, c="0.75", label="accounts", zorder=1)
            if self.n_pockets:
                cmap = plt.get_cmap("tab20")
                top = max(float(self.pockets["whitespace"].max()), 1.0)
                whitespace = self.pockets["whitespace"].to_numpy(dtype=float)
                for k, row in enumerate(self.pockets.itertuples(index=False)):
                    colour = cmap(k % 20)
                    rows = self.labels == k
                    ax.scatter(acc.loc[rows, b], acc.loc[rows, a], s=10, color=colour, zorder=2)
                    size = 80 + 900 * float(whitespace[k]) / top
                    ax.scatter(
                        [getattr(row, b)],
                        [getattr(row, a)],
                        s=size,
                        color=colour,
                        alpha=0.5,
                        edgecolors="black",
                        zorder=3,
                    )
                    ax.annotate(str(row.pocket_id), (getattr(row, b), getattr(row, a)), fontsize=8)
            ter = sc.territories
            if a in ter and b in ter:
                ax.scatter(
                    ter[b], ter[a], marker="^", s=50, c="black", label="home bases", zorder=4
                )
            ax.set_xlabel("lon" if b == "lon" else "x")
            ax.set_ylabel("lat" if a == "lat" else "y")
            s = self.settings
            ax.set_title(
                f"{sc.name}: {self.n_pockets} opportunity pockets "
                f"(radius {s.radius_km:g} km, min whitespace {s.min_whitespace:,.0f})"
            )
            ax.legend(loc="best", fontsize=8)
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)
        return Path(path)


def whitespace_of(scenario: Scenario) -> FloatArray:
    """max(potential - revenue, 0) per account; potential where revenue is missing."""
    pot = scenario.column("potential")
    if "revenue" not in scenario.accounts:
        return pot.copy()
    rev = pd.to_numeric(scenario.accounts["revenue"], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(rev), pot, np.maximum(pot - rev, 0.0))


def _settings(
    scenario: Scenario, settings: PocketSettings | dict[str, Any] | None
) -> PocketSettings:
    base = scenario.settings.pockets
    if settings is None:
        return base
    if isinstance(settings, PocketSettings):
        return settings
    from pydantic import ValidationError

    from .errors import SettingsError

    try:
        return PocketSettings.model_validate({**base.model_dump(), **settings})
    except ValidationError as e:
        raise SettingsError(
            [f"pockets.{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()]
        ) from None


def _coords(scenario: Scenario) -> tuple[str, FloatArray, str]:
    kind = scenario.coord_kind
    if kind is None:
        raise ScenarioError(
            "pockets need account coordinates (lat/lon or x/y in accounts.csv); this scenario "
            "has only given distances"
        )
    cols = ["lat", "lon"] if kind == "latlon" else ["x", "y"]
    metric = "haversine" if kind == "latlon" else "euclidean"
    return kind, scenario.accounts[cols].to_numpy(dtype=float), metric


def _owners(scenario: Scenario, run: Run | None) -> IntArray:
    """Territory index of each account's owner: the run's plan, else today's (-1 = none)."""
    if run is None:
        return scenario.current
    if run.assignments is None:
        raise RunError(f"run {run.path or ''} has no assignments (status {run.status})".strip())
    a = run.assignments
    owner = pd.Series(a["territory_id"].to_numpy(), index=a["account_id"].astype(str))
    ids = scenario.accounts["account_id"].astype(str).map(owner)
    return scenario.territory_index(ids)


def _pocket_table(
    scenario: Scenario,
    rows_all: IntArray,
    labels: IntArray,
    n_pockets: int,
    ws: FloatArray,
    kind: str,
    pts: FloatArray,
    owners: IntArray,
    reach: float,
) -> pd.DataFrame:
    """One row per pocket; ``labels`` are per row of ``rows_all`` (positions in accounts)."""
    acc = scenario.accounts
    ter = scenario.territories
    tcols = ["lat", "lon"] if kind == "latlon" else ["x", "y"]
    has_home = all(c in ter for c in tcols) and ter[tcols].notna().all().all()
    home = ter[tcols].to_numpy(dtype=float) if has_home else None
    pot = scenario.column("potential")
    rev = (
        pd.to_numeric(acc["revenue"], errors="coerce").to_numpy(dtype=float)
        if "revenue" in acc
        else np.full(len(acc), np.nan)
    )
    seg = acc["segment"] if "segment" in acc else None
    out: list[dict[str, Any]] = []
    metric = "haversine" if kind == "latlon" else "euclidean"
    for k in range(n_pockets):
        idx = rows_all[labels == k]
        w = ws[idx]
        total = float(w.sum())
        c = _centroid(pts[idx], w, metric)
        r80 = _radius_80(point_distance(kind, pts[idx], c[None, :]), w)
        row: dict[str, Any] = {
            "pocket_id": f"P{k + 1:02d}",
            tcols[0]: float(c[0]),
            tcols[1]: float(c[1]),
            "accounts": len(idx),
            "whitespace": total,
            "potential": float(pot[idx].sum()),
            "revenue": float(np.nansum(rev[idx])),
            "dominant_segment": None,
            "dominant_segment_share": np.nan,
            "radius_80_km": r80,
        }
        if seg is not None:
            by = pd.Series(w, index=seg.iloc[idx].fillna("(none)").astype(str).to_numpy())
            sums = by.groupby(level=0, sort=True).sum()
            if len(sums):
                top = sums.sort_values(ascending=False, kind="stable")
                row["dominant_segment"] = str(top.index[0])
                row["dominant_segment_share"] = float(top.iloc[0] / total) if total else np.nan
        if home is not None and len(home):
            dh = point_distance(kind, home, c[None, :])
            j = int(np.argmin(dh))
            row["nearest_territory"] = str(ter["territory_id"].iloc[j])
            row["nearest_distance_km"] = float(dh[j])
            own = owners[idx]
            far = np.ones(len(idx), dtype=bool)
            ok = own >= 0
            if ok.any():
                dist_own = point_distance(kind, pts[idx][ok], home[own[ok]])
                far[ok] = dist_own > r80 + reach
            row["far_owner_share"] = float(w[far].sum() / total) if total else np.nan
        else:
            row["nearest_territory"] = None
            row["nearest_distance_km"] = np.nan
            row["far_owner_share"] = np.nan
        out.append(row)
    cols = [
        c if c not in ("lat", "lon") else {"lat": tcols[0], "lon": tcols[1]}[c]
        for c in POCKET_COLUMNS
    ]
    return pd.DataFrame(out, columns=cols)


def _cluster(
    scenario: Scenario,
    mask: NDArray[np.bool_],
    s: PocketSettings,
    ws: FloatArray,
    kind: str,
    pts: FloatArray,
    metric: str,
    owners: IntArray,
) -> tuple[pd.DataFrame, IntArray, float]:
    """Pockets among the accounts in ``mask`` (with whitespace); labels for every account; the
    locality radius used."""
    rows = np.flatnonzero(mask & (ws > 0))
    est = WhitespacePockets(
        radius_km=s.radius_km,
        min_whitespace=s.min_whitespace,
        seed=s.seed,
        metric=metric,
        max_radius_km=s.max_radius_km,
        min_density_ratio=s.min_density_ratio,
    ).fit(pts[rows], sample_weight=ws[rows])
    labels = np.full(scenario.n_accounts, -1, dtype=np.int64)
    labels[rows] = est.labels_
    table = _pocket_table(
        scenario, rows, est.labels_, est.n_pockets_, ws, kind, pts, owners, s.reach_km
    )
    return table, labels, est.max_radius_km_


def find_pockets(
    scenario: Scenario,
    *,
    run: Run | None = None,
    settings: PocketSettings | dict[str, Any] | None = None,
    by_segment: bool = False,
) -> PocketsResult:
    """Find opportunity pockets: dense clusters of whitespace (see the module docstring).

    ``settings`` defaults to ``scenario.settings.pockets`` (a dict is merged over it). Owners
    for ``far_owner_share`` come from ``run``'s plan when given, else ``current_territory``.
    ``by_segment`` also clusters every segment on its own (``PocketsResult.by_segment``).
    Raises ScenarioError without coordinates, for an unknown segment or without whitespace.
    """
    s = _settings(scenario, settings)
    kind, pts, metric = _coords(scenario)
    ws = whitespace_of(scenario)
    acc = scenario.accounts
    seg = acc["segment"] if "segment" in acc else None
    known = sorted(str(v) for v in pd.unique(seg.dropna())) if seg is not None else []
    mask = np.ones(scenario.n_accounts, dtype=bool)
    if s.segment is not None:
        if seg is None:
            raise ScenarioError(
                f"settings key 'pockets.segment' is {s.segment!r} but accounts have no segment "
                "column"
            )
        if s.segment not in known:
            raise ScenarioError(
                f"settings key 'pockets.segment': unknown segment {s.segment!r}; segments: "
                + ", ".join(known)
            )
        mask = (seg.astype(str) == s.segment).to_numpy()
    if by_segment and seg is None:
        raise ScenarioError("--by-segment needs a segment column in accounts.csv")
    if not (ws[mask] > 0).any():
        where = f" in segment {s.segment!r}" if s.segment is not None else ""
        raise ScenarioError(
            f"no account{where} has whitespace (potential above revenue): nothing to cluster"
        )
    owners = _owners(scenario, run)
    table, labels, reach = _cluster(scenario, mask, s, ws, kind, pts, metric, owners)
    ids = np.array([f"P{k + 1:02d}" for k in range(len(table))], dtype=object)
    inp = labels >= 0
    members = pd.DataFrame(
        {"account_id": acc["account_id"].to_numpy()[inp], "pocket_id": ids[labels[inp]]}
    )
    members = members.assign(_k=labels[inp]).sort_values(["_k"], kind="stable").drop(columns="_k")
    members = members.reset_index(drop=True)
    per_seg: pd.DataFrame | None = None
    if by_segment:
        assert seg is not None
        segs = [s.segment] if s.segment is not None else known
        frames = []
        for name in segs:
            m = (seg.astype(str) == name).to_numpy()
            if not (ws[m] > 0).any():
                continue
            t, _, _ = _cluster(scenario, m, s, ws, kind, pts, metric, owners)
            frames.append(t.assign(segment=name))
        cols = ["segment", *table.columns]
        per_seg = (
            pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
        )
    return PocketsResult(
        pockets=table,
        members=members,
        settings=s,
        coord_kind=kind,
        by_segment=per_seg,
        labels=labels,
        whitespace=ws,
        scenario=scenario,
        max_radius_km=reach,
    )


# ---------------------------------------------------------------------------------------------
# suggesting territories


def suggest_territories(
    scenario: Scenario,
    result: PocketsResult,
    n: int,
    *,
    time_limit_s: float = SUGGEST_TIME_LIMIT_S,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Add a territory at each of the ``n`` best pockets (one at a time, then all) and re-solve.

    Every variant, the baseline included, is built with :func:`align.make_scenario` from the
    scenario's accounts, territories and settings (current_territory as is, so a new seat starts
    empty; given distances are left out, as the new seats have none) and solved with
    :func:`align.solve` under ``solver.time_limit_s = min(setting, time_limit_s)``. Returns one
    row per variant: status, objective, KPIs and their change vs the baseline, and the share of
    whitespace within reach (home base within ``radius_km + reach_km`` of the account).
    """
    from .engine import solve
    from .io import make_scenario

    if n < 1:
        raise ScenarioError("--suggest needs a number of pockets >= 1")
    kind = result.coord_kind
    tcols = ["lat", "lon"] if kind == "latlon" else ["x", "y"]
    ter = scenario.territories
    if not all(c in ter for c in tcols) or ter[tcols].isna().any().any():
        raise ScenarioError(
            "suggesting territories needs every territory's home base "
            f"({', '.join(tcols)} in territories.csv)"
        )
    top = result.pockets.head(n)
    if top.empty:
        raise ScenarioError("no pockets found: nothing to suggest (lower pockets.min_whitespace?)")
    raw = scenario.settings.model_dump()
    raw["model"] = None  # resolved already; a preset must not be merged in again
    limit = min(scenario.settings.solver.time_limit_s, time_limit_s)
    raw["solver"]["time_limit_s"] = limit
    taken = set(ter["territory_id"].astype(str))

    def new_row(p: Any) -> dict[str, Any]:
        tid = f"NEW-{p.pocket_id}"
        while tid in taken:
            tid += "x"
        row: dict[str, Any] = {"territory_id": tid, tcols[0]: p[tcols[0]], tcols[1]: p[tcols[1]]}
        if "name" in ter:
            row["name"] = f"pocket {p.pocket_id}"
        if "target_share" in ter:
            row["target_share"] = float(ter["target_share"].median())
        if "capacity" in ter and ter["capacity"].notna().any():
            row["capacity"] = float(ter["capacity"].median())
        return row

    variants: list[tuple[str, list[dict[str, Any]]]] = [("baseline", [])]
    singles = [(f"+{p.pocket_id}", [new_row(p)]) for _, p in top.iterrows()]
    variants += singles
    if len(singles) > 1:
        variants.append(("+all", [r for _, rows in singles for r in rows]))
    reach = result.settings.radius_km + result.settings.reach_km
    ws = result.whitespace if len(result.whitespace) else whitespace_of(scenario)
    total_ws = float(ws.sum())
    acc_pts = scenario.accounts[tcols].to_numpy(dtype=float)
    out: list[dict[str, Any]] = []
    for label, rows in variants:
        if progress:
            progress(label)
        t = pd.concat([ter, pd.DataFrame(rows)], ignore_index=True) if rows else ter.copy()
        sc = make_scenario(
            scenario.accounts.copy(),
            t,
            settings=raw,
            adjacency=scenario.adjacency,
            name=f"{scenario.name}{'' if label == 'baseline' else ' ' + label}",
        )
        run = solve(sc)
        rec: dict[str, Any] = {
            "scenario": label,
            "new_territories": ";".join(r["territory_id"] for r in rows),
            "status": run.status,
            "objective": run.objective,
            "bound": run.bound,
            "gap": run.gap,
            "time_limit_s": limit,
        }
        after = run.kpis.get("after", {}) if run.has_plan else {}
        for key in KPIS:
            rec[key] = after.get(key, np.nan)
        rec["whitespace_within_reach"] = np.nan
        if run.has_plan and run.assignments is not None:
            owner = pd.Series(
                run.assignments["territory_id"].to_numpy(),
                index=run.assignments["account_id"].astype(str),
            )
            j = sc.territory_index(sc.accounts["account_id"].astype(str).map(owner))
            homes = sc.territories[tcols].to_numpy(dtype=float)
            ok = j >= 0
            near = np.zeros(len(j), dtype=bool)
            near[ok] = point_distance(kind, acc_pts[ok], homes[j[ok]]) <= reach
            rec["whitespace_within_reach"] = float(ws[near].sum() / total_ws) if total_ws else 0.0
        out.append(rec)
    df = pd.DataFrame(out)
    for key in ["objective", *KPIS, "whitespace_within_reach"]:
        base = df.loc[0, key]
        df[f"{key}.change"] = pd.to_numeric(df[key], errors="coerce") - pd.to_numeric(
            pd.Series([base] * len(df)), errors="coerce"
        )
    return df
