"""The Lagrangian bounds of greenfield designs too large for the exact model, and the unit costs
they are built on.

:func:`lagrangian_bound` prices every unit against every candidate centre
(:func:`.centre_bound.centre_bound`, both ends of the band); at the scale of a whole country's
ZIP codes :func:`national_bound` keeps the pairs within a radius of each unit's centre and caps
its multiplier so that the pairs beyond never price negatively
(:func:`.centre_bound.sparse_centre_bound`). Both are valid for the contiguous problem too
(contiguity only adds rows). :func:`lagrangian_bound` takes only data that pickles, so that it
can run in a child process beside the local search (:mod:`.beside`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from ..geo import point_distance
from ..scenario import Scenario
from .centre_bound import centre_bound, sparse_centre_bound, sparse_pairs
from .common import Clock
from .districts import Band
from .local_search import ContiguousSearch

BOUND_ITERATIONS = 100_000  # subgradient steps at most: the bound's time share ends it
BOUND_MAX_PAIRS = 20_000_000  # unit x candidate costs held for the bound (8 bytes each)
BOUND_METHOD = "Lagrangian (assignment rows), fractional knapsack per centre"
NATIONAL_PAIRS = 12_000_000  # unit x centre pairs at most held for the sparse bound
CAP_FACTOR = 1.5  # a unit's multiplier at most its cost at this many times its distance now


def coords(scenario: Scenario) -> tuple[str, np.ndarray]:
    """The kind of coordinates ("latlon" or "xy") and each account's pair of them (n, 2)."""
    kind = scenario.coord_kind or "xy"
    cols = ["lat", "lon"] if kind == "latlon" else ["x", "y"]
    return kind, scenario.accounts[cols].to_numpy(dtype=float)


def unit_costs(
    scenario: Scenario, pts: np.ndarray, kind: str, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """(len(rows), len(cols)) cost of serving account rows[i] from a centre at account cols[c]."""
    o = scenario.settings.objective
    d = point_distance(kind, pts[rows][:, None, :], pts[cols][None, :, :])
    w = scenario.column(o.travel_weight)[rows]
    return np.asarray(o.travel * w[:, None] * (d if o.distance_power == 1 else d * d), dtype=float)


def balance_bands(scenario: Scenario) -> list[Band]:
    """One band per balanced column: within its tolerance of an equal share."""
    m = scenario.n_territories
    bands = []
    for name, rule in scenario.settings.balance.items():
        v = scenario.column(name)
        target = v.sum() / m
        bands.append(Band(v, target * (1 - rule.tolerance), target * (1 + rule.tolerance)))
    return bands


def lagrangian_bound(
    scenario: Scenario,
    cand: np.ndarray,
    prices: np.ndarray,
    upper: float,
    until: float,
) -> float:
    """:func:`.centre_bound.centre_bound` on the scenario's first balanced column, started from
    ``prices`` (each account's cost in the known plan, of cost ``upper``), until ``until``
    (seconds since the epoch, :func:`time.time`: a deadline that holds in a child process,
    whose start and cost table are then inside it)."""
    kind, pts = coords(scenario)
    band = balance_bands(scenario)[0]
    full = unit_costs(scenario, pts, kind, np.arange(scenario.n_accounts), cand)
    seconds = until - time.time()
    return centre_bound(
        full,
        band.values,
        band.hi,
        scenario.n_territories,
        centres=cand,
        upper=upper,
        seconds=max(seconds, 0.5),
        iterations=BOUND_ITERATIONS,
        prices=prices,
        lo=band.lo,
    )


def national_bound(
    scenario: Scenario,
    cand: np.ndarray,
    search: ContiguousSearch,
    upper: float,
    clock: Clock,
    finish: float,
    say: Any,
) -> float:
    """:func:`.centre_bound.sparse_centre_bound` around the search's plan: each unit's
    multiplier is capped at its cost at :data:`CAP_FACTOR` times its distance to its centre
    (at least its territory's median distance; less when the pairs would be more than
    :data:`NATIONAL_PAIRS`); the multipliers start at each unit's cost to its nearest other
    candidate, a positive bound already."""
    s = scenario.settings
    o = s.objective
    kind, pts = coords(scenario)
    m = scenario.n_territories
    d_own = point_distance(kind, pts, pts[search.roots[search.assign]])
    typical = pd.Series(d_own).groupby(search.assign).median().reindex(range(m)).fillna(0.0)
    # km (or planar units): a multiplier may rise to the cost at this distance, no further
    radius = np.maximum(CAP_FACTOR * d_own, typical.to_numpy()[search.assign])
    w = scenario.column(o.travel_weight) * o.travel
    ii, cc, cost, cap, start = sparse_pairs(
        kind, pts, w, o.distance_power, cand, radius, most=NATIONAL_PAIRS
    )
    band = balance_bands(scenario)[0]
    say("bound", {"pairs": len(ii), "seconds_left": round(clock.left(), 1)})

    def report(it: int, best: float) -> None:
        say("bound", {"iteration": it, "bound": best, "elapsed": round(clock.elapsed(), 1)})

    return sparse_centre_bound(
        (ii, cc, cost),
        cap,
        band.values,
        band.hi,
        m,
        centres=cand,
        upper=upper,
        seconds=max(clock.left() - finish, 0.1),
        prices=start,
        say=report,
    )
