"""Two-level hierarchy: region bands over the territories, and greenfield regions."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from test_greenfield import grid

import align


def line_scenario() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Eight accounts on a line; four territories, two per region; most potential in the west."""
    acc = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(8)],
            "x": np.arange(8.0),
            "y": 0.0,
            "potential": [30, 25, 20, 10, 5, 4, 3, 3],
        }
    )
    ter = pd.DataFrame(
        {
            "territory_id": ["T1", "T2", "T3", "T4"],
            "x": [0.0, 2.0, 5.0, 7.0],
            "y": 0.0,
            "region": ["West", "West", "East", "East"],
        }
    )
    return acc, ter


def brute(acc: pd.DataFrame, ter: pd.DataFrame, tol_t: float, tol_r: float | None) -> float:
    p = acc["potential"].to_numpy(float)
    d = np.abs(acc["x"].to_numpy()[:, None] - ter["x"].to_numpy()[None, :])
    plans = np.array(list(itertools.product(range(4), repeat=8)))
    load = np.stack([(plans == t) @ p for t in range(4)], axis=1)
    ok = (np.abs(load / (p.sum() / 4) - 1) <= tol_t + 1e-12).all(axis=1)
    if tol_r is not None:
        west = load[:, 0] + load[:, 1]
        ok &= np.abs(west / (p.sum() / 2) - 1) <= tol_r + 1e-12
    cost = (p[None, :] * d[np.arange(8)[None, :], plans]).sum(axis=1)
    return float(cost[ok].min())


@pytest.mark.parametrize("tol_r", [None, 0.3, 0.1])
def test_region_bands_match_brute_force(tol_r: float | None) -> None:
    acc, ter = line_scenario()
    settings: dict = {
        "balance": {"potential": {"tolerance": 0.9}},
        "solver": {"gap": 0.0},
    }
    if tol_r is not None:
        settings["balance_regions"] = {"potential": {"tolerance": tol_r}}
    run = align.solve(align.make_scenario(acc, ter, settings=settings)).raise_for_status()
    assert run.objective == pytest.approx(brute(acc, ter, 0.9, tol_r), rel=1e-9)
    if tol_r is not None:
        owner = run.assignments.set_index("account_id")["territory_id"]
        west = acc.set_index("account_id")["potential"][owner.isin(["T1", "T2"])].sum()
        assert abs(west / (acc["potential"].sum() / 2) - 1) <= tol_r + 1e-9


def test_a_region_band_that_cannot_hold_is_named() -> None:
    acc, ter = line_scenario()
    acc["potential"] = [31, 25, 21, 11, 5, 4, 2, 2]  # 101: no whole sum is within 0.1% of 50.5
    settings = {
        "balance": {"potential": {"tolerance": 0.9}},
        "balance_regions": {"potential": {"tolerance": 0.001}},
    }
    run = align.solve(align.make_scenario(acc, ter, settings=settings))
    assert run.status == "infeasible"
    # the closest whole sums are 50 and 51: 0.5 from 50.5, a band of 0.99% (shown rounded up)
    assert run.reasons == [
        "smallest single change that lets a plan exist: balance_regions.potential.tolerance "
        "must rise to at least 1.00% (it is 0.10%)"
    ]


def test_region_bands_need_a_region_column() -> None:
    acc, ter = line_scenario()
    settings = {"balance_regions": {"potential": {"tolerance": 0.1}}}
    with pytest.raises(align.ScenarioError) as e:
        align.make_scenario(acc, ter.drop(columns="region"), settings=settings)
    assert e.value.problems == [
        "settings key 'balance_regions' needs a 'region' column in territories.csv (the region "
        "of every territory)"
    ]


def test_greenfield_groups_its_territories_into_regions() -> None:
    acc, adj = grid(4, 6, 7)
    settings = {
        "territories": {"count": 6, "regions": 2},
        "balance": {"potential": {"tolerance": 0.1}},
        "balance_regions": {"potential": {"tolerance": 0.05}},
    }
    run = align.solve(align.make_scenario(acc, None, settings=settings, adjacency=adj))
    run.raise_for_status()
    ter = run.territories
    assert sorted(ter["region"].unique()) == ["R1", "R2"]
    totals = ter.groupby("region")["potential"].sum()
    assert (np.abs(totals / (acc["potential"].sum() / 2) - 1) <= 0.05 + 1e-9).all()
    assert run.stats["regions"]["status"] == "optimal"
