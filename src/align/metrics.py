"""KPIs of any alignment: balance, travel, disruption, size. Works on plain arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .scenario import Scenario

IntArray = NDArray[np.int64]


def measures(scenario: Scenario) -> list[str]:
    """Columns whose balance is reported: potential, workload and every balanced column."""
    out = ["potential", "workload"]
    out += [c for c in scenario.settings.balance if c not in out]
    return out


def territory_totals(scenario: Scenario, assign: IntArray, column: str) -> NDArray[np.float64]:
    m = scenario.n_territories
    ok = assign >= 0
    totals = np.bincount(assign[ok], weights=scenario.column(column)[ok], minlength=m)
    return totals.astype(float)


def distances_of(scenario: Scenario, assign: IntArray) -> NDArray[np.float64]:
    """Distance of each account to its territory (NaN when unassigned)."""
    d = np.full(len(assign), np.nan)
    ok = assign >= 0
    idx = np.flatnonzero(ok)
    d[idx] = scenario.geometry.pairs(idx, assign[ok])
    return d


def alignment_kpis(
    scenario: Scenario, assign: IntArray, *, baseline: IntArray | None = None
) -> dict[str, float]:
    """KPIs of an alignment (territory index per account, -1 = unassigned).

    ``baseline`` (default: today's alignment) is what moves are counted against.
    """
    s = scenario.settings
    m = scenario.n_territories
    ok = assign >= 0
    out: dict[str, float] = {
        "accounts": float(len(assign)),
        "unassigned_accounts": float((~ok).sum()),
    }
    share = scenario.target_share
    for col in measures(scenario):
        tot = territory_totals(scenario, assign, col)
        target = share * tot.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(target > 0, tot / target - 1.0, 0.0)
            out[f"{col}.max_abs_deviation"] = float(np.abs(dev).max()) if m else 0.0
            mean = tot.mean()
            out[f"{col}.cv"] = float(tot.std() / mean) if mean > 0 else 0.0
            lo = tot.min()
            out[f"{col}.max_min_ratio"] = float(tot.max() / lo) if lo > 0 else float("inf")
    d = distances_of(scenario, assign)
    w = scenario.column(s.objective.travel_weight)
    dd = d if s.objective.distance_power == 1 else d * d
    out["travel"] = float(np.nansum(w * dd))
    wsum = w[ok].sum()
    out["weighted_mean_distance"] = float(np.nansum(w * d) / wsum) if wsum > 0 else 0.0
    out["mean_distance"] = float(np.nanmean(d)) if ok.any() else 0.0
    base = scenario.current if baseline is None else baseline
    has = base >= 0
    moved = has & ok & (assign != base)
    out["moved_accounts"] = float(moved.sum())
    out["moved_share.accounts"] = float(moved.sum() / has.sum()) if has.any() else 0.0
    for col in ["potential", "workload"]:
        v = scenario.column(col)
        tot = v[has].sum()
        out[f"moved_share.{col}"] = float(v[moved].sum() / tot) if tot > 0 else 0.0
    meas = scenario.column(s.objective.disruption_measure)
    out["disruption"] = float(meas[moved].sum())
    counts = np.bincount(assign[ok], minlength=m)
    out["accounts_per_territory.min"] = float(counts.min()) if m else 0.0
    out["accounts_per_territory.max"] = float(counts.max()) if m else 0.0
    return out


def territory_table(scenario: Scenario, assign: IntArray) -> pd.DataFrame:
    """One row per territory: size, each measure with target and deviation, centre, distance."""
    ter = scenario.territories
    m = scenario.n_territories
    ok = assign >= 0
    out = pd.DataFrame({"territory_id": ter["territory_id"].to_numpy()})
    for label in ("name", "rep", "region"):
        if label in ter:
            out[label] = ter[label].to_numpy()
    out["accounts"] = np.bincount(assign[ok], minlength=m)
    share = scenario.target_share
    for col in measures(scenario):
        tot = territory_totals(scenario, assign, col)
        target = share * tot.sum()
        out[col] = tot
        out[f"{col}_target"] = target
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{col}_deviation"] = np.where(target > 0, tot / target - 1.0, 0.0)
    for a, b in (("lat", "lon"), ("x", "y")):
        if a in ter and b in ter:
            out[f"centre_{a}"] = ter[a].to_numpy()
            out[f"centre_{b}"] = ter[b].to_numpy()
    if "centre_account" in ter:  # greenfield: the account chosen as the territory's centre
        out["centre_account"] = ter["centre_account"].to_numpy()
    d = distances_of(scenario, assign)
    sums = np.bincount(assign[ok], weights=d[ok], minlength=m)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["mean_distance"] = np.where(out["accounts"] > 0, sums / out["accounts"], np.nan)
    out["contiguous"] = contiguity(scenario, assign)
    return out


def contiguity(scenario: Scenario, assign: IntArray) -> list[bool | None]:
    """Whether each territory is one connected piece of the adjacency graph (None without one)."""
    m = scenario.n_territories
    adj = scenario.adjacency
    if adj is None or len(adj) == 0:
        return [None] * m
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = pd.Index(scenario.accounts["account_id"])
    a = index.get_indexer(adj["account_id"])
    b = index.get_indexer(adj["neighbor_id"])
    same = (assign[a] == assign[b]) & (assign[a] >= 0)
    n = len(assign)
    g = coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    out: list[bool | None] = []
    for j in range(m):
        members = labels[assign == j]
        out.append(bool(len(np.unique(members)) <= 1))
    return out


def distance_unit(scenario: Scenario) -> str:
    """The unit distances are in: km for lat/lon, else the unit of x/y or distances.csv."""
    return "km" if scenario.distances is None and scenario.coord_kind == "latlon" else "units"


FAR_FACTOR = 3.0  # an account farther than this many times its territory's median distance


def far_accounts(
    assignments: pd.DataFrame, *, unit: str = "km", factor: float = FAR_FACTOR, shown: int = 5
) -> dict[str, Any] | None:
    """Accounts far beyond their territory's typical distance, or None when there are none.

    Typical is the median distance of the territory's accounts in the plan; an account is far
    when it is more than ``factor`` times that. Returns the count, the farthest accounts (with
    name, where the plan carries one) and a one-line ``message`` for people.
    """
    d = assignments["distance"].to_numpy(dtype=float)
    typical = assignments.groupby("territory_id")["distance"].transform("median").to_numpy(float)
    far = np.isfinite(d) & (typical > 0) & (d > factor * typical)
    if not far.any():
        return None
    order = np.flatnonzero(far)[np.argsort(-d[far], kind="stable")]
    worst = []
    for i in order[:shown]:
        row = {
            "account_id": str(assignments["account_id"].iloc[i]),
            "territory_id": str(assignments["territory_id"].iloc[i]),
            "distance": round(float(d[i]), 1),
            "typical": round(float(typical[i]), 1),
        }
        if "name" in assignments and isinstance(assignments["name"].iloc[i], str):
            row["name"] = assignments["name"].iloc[i]
        worst.append(row)
    w = worst[0]
    who = f"{w['account_id']} ({w['name']})" if "name" in w else w["account_id"]
    n = int(far.sum())
    message = (
        f"{n:,} {'account lies' if n == 1 else 'accounts lie'} more than {factor:g}x their "
        f"territory's median distance from its home base; the farthest, {who}, is "
        f"{w['distance']:,.0f} {unit} from {w['territory_id']} (median {w['typical']:,.0f} "
        f"{unit}); constraints.max_distance_km sets a limit no plan may pass"
    )
    return {"count": n, "factor": factor, "unit": unit, "farthest": worst, "message": message}
