"""Distances and candidate pairs.

Distances are kilometres on the sphere (haversine) for lat/lon, plain Euclidean units for x/y, or
given per pair by distances.csv. Everything is vectorised over numpy arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088

FloatArray = NDArray[np.float64]


def haversine_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> FloatArray:
    """Great-circle distance in km between points given in degrees (broadcasts like numpy)."""
    p1 = np.radians(np.asarray(lat1, dtype=float))
    p2 = np.radians(np.asarray(lat2, dtype=float))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def planar(x1: ArrayLike, y1: ArrayLike, x2: ArrayLike, y2: ArrayLike) -> FloatArray:
    """Euclidean distance in the units of the coordinates."""
    return np.hypot(
        np.asarray(x2, dtype=float) - np.asarray(x1, dtype=float),
        np.asarray(y2, dtype=float) - np.asarray(y1, dtype=float),
    )


def point_distance(kind: str, p: FloatArray, q: FloatArray) -> FloatArray:
    """Distance between points of p and q given as (..., 2) arrays (broadcasting): haversine km
    for ``kind == "latlon"`` (lat, lon), planar units otherwise (x, y)."""
    if kind == "latlon":
        return haversine_km(p[..., 0], p[..., 1], q[..., 0], q[..., 1])
    return planar(p[..., 0], p[..., 1], q[..., 0], q[..., 1])


def _unit_xyz(lat: FloatArray, lon: FloatArray) -> FloatArray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


class Geometry:
    """Where accounts and territories are, and the distance between them.

    Exactly one of three forms: ``kind == "latlon"`` (haversine km), ``"xy"`` (planar) or
    ``"matrix"`` (a dense accounts x territories matrix of given distances).
    """

    def __init__(
        self,
        kind: str,
        acc: FloatArray | None = None,
        ter: FloatArray | None = None,
        matrix: FloatArray | None = None,
    ):
        self.kind = kind
        self.acc = acc  # (n, 2): lat, lon or x, y
        self.ter = ter  # (m, 2)
        self.matrix = matrix  # (n, m)

    @property
    def shape(self) -> tuple[int, int]:
        if self.matrix is not None:
            return self.matrix.shape  # type: ignore[return-value]
        assert self.acc is not None and self.ter is not None
        return (len(self.acc), len(self.ter))

    def pairs(self, i: NDArray[np.int64], j: NDArray[np.int64]) -> FloatArray:
        """Distance of each (account i, territory j) pair."""
        if self.matrix is not None:
            return np.asarray(self.matrix[i, j], dtype=float)
        assert self.acc is not None and self.ter is not None
        return point_distance(self.kind, self.acc[i], self.ter[j])

    def rows(self, i: NDArray[np.int64]) -> FloatArray:
        """Dense distances of accounts ``i`` to every territory, shape (len(i), m)."""
        if self.matrix is not None:
            return np.asarray(self.matrix[i], dtype=float)
        assert self.acc is not None and self.ter is not None
        return point_distance(self.kind, self.acc[i][:, None, :], self.ter[None, :, :])

    def nearest(self, k: int) -> NDArray[np.int64]:
        """Indices of the k nearest territories of every account, shape (n, k)."""
        n, m = self.shape
        k = min(k, m)
        if self.matrix is not None:
            if k == m:
                return np.tile(np.arange(m), (n, 1))
            return np.argpartition(self.matrix, k - 1, axis=1)[:, :k].astype(np.int64)
        assert self.acc is not None and self.ter is not None
        if self.kind == "latlon":
            tree = cKDTree(_unit_xyz(self.ter[:, 0], self.ter[:, 1]))
            _, idx = tree.query(_unit_xyz(self.acc[:, 0], self.acc[:, 1]), k=k)
        else:
            tree = cKDTree(self.ter)
            _, idx = tree.query(self.acc, k=k)
        return np.asarray(idx, dtype=np.int64).reshape(n, k)
