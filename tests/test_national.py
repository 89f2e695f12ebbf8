"""Contiguous greenfield at national scale (engine/greenfield.national_plan, engine/partition,
the sparse Lagrangian bound), on small synthetic maps with the size threshold lowered.

Every plan is checked by networkx (each territory one piece) and pandas (bands), independently
of the engine; the bound against brute force where brute force is possible.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from test_local_search import brute_force_pmedian, grid, lake_map

from align.engine import greenfield, solve
from align.engine.centre_bound import sparse_centre_bound
from align.engine.partition import bisect_plan
from align.errors import AlignError
from align.io import make_scenario


@pytest.fixture
def national(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every contiguous greenfield scenario takes the national path, however small."""
    monkeypatch.setattr(greenfield, "NATIONAL_MIN_PAIRS", 0)


def grid_map(w: int, h: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units on a w x h grid (4-neighbours), heavy-tailed potential."""
    rng = np.random.default_rng(seed)
    g, xy, _ = grid(w, h)
    ids = np.array([f"u{i}" for i in range(g.n)])
    acc = pd.DataFrame(
        {
            "account_id": ids,
            "x": xy[:, 0],
            "y": xy[:, 1],
            "potential": rng.lognormal(3, 0.6, g.n).round(2),
        }
    )
    A = sp.triu(g.A).tocoo()
    return acc, pd.DataFrame({"account_id": ids[A.row], "neighbor_id": ids[A.col]})


def contiguous_settings(k: int, tol: float, limit: float) -> dict:
    return {
        "territories": {"count": k},
        "balance": {"potential": {"tolerance": tol}},
        "objective": {"distance_power": 2},
        "constraints": {"contiguity": True},
        "solver": {"time_limit_s": limit},
    }


def check_plan(run, acc: pd.DataFrame, adj: pd.DataFrame, k: int, tol: float) -> pd.Series:
    """Each territory one piece (networkx), every band held (pandas), bound below the plan."""
    assert run.has_plan, run.message
    G = nx.Graph()
    G.add_nodes_from(acc["account_id"])
    G.add_edges_from(adj.itertuples(index=False))
    a = run.assignments.set_index("account_id")["territory_id"]
    assert a.nunique() == k
    assert all(nx.is_connected(G.subgraph(a.index[a == t])) for t in a.unique())
    tot = acc.set_index("account_id")["potential"].groupby(a).sum()
    target = acc["potential"].sum() / k
    assert tot.min() >= target * (1 - tol) - 1e-6 and tot.max() <= target * (1 + tol) + 1e-6
    assert run.bound is not None and 0 <= run.bound <= run.objective + 1e-9
    assert run.gap == pytest.approx((run.objective - run.bound) / run.objective)
    assert (run.status == "optimal") == (run.gap <= run.settings.solver.gap)
    return a


@settings(max_examples=25, deadline=None)
@given(
    w=st.integers(2, 30),
    h=st.integers(1, 30),
    m=st.integers(1, 40),
    seed=st.integers(0, 10_000),
)
def test_bisection_gives_each_part_its_share(w: int, h: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = w * h
    m = min(m, n)
    xy = rng.random((n, 2)) * [w, h]
    v = rng.lognormal(0, 1, n)
    part = bisect_plan(xy, v, m)
    assert sorted(np.unique(part)) == list(range(m))  # every part has a unit
    tot = np.bincount(part, weights=v, minlength=m)
    # each cut is off its ratio by less than one unit, and a part sits below ceil(log2 m) cuts
    assert np.abs(tot - v.sum() / m).max() <= max(math.ceil(math.log2(m)), 1) * v.max() + 1e-9


@pytest.mark.usefixtures("national")
def test_national_plan_on_a_grid_is_connected_and_in_band() -> None:
    acc, adj = grid_map(30, 20, seed=4)
    run = solve(make_scenario(acc, None, adjacency=adj, settings=contiguous_settings(12, 0.05, 4)))
    check_plan(run, acc, adj, 12, 0.05)
    assert run.stats["method"] == "recursive bisection, contiguous local search"
    assert run.stats["search"]["objective"] <= run.stats["start"]["objective"]


@pytest.mark.usefixtures("national")
def test_national_plan_goes_round_a_lake() -> None:
    """A lake cuts the bisection's straight lines: territories that would reach across it are
    mended into one piece each and brought back into their bands."""
    acc, _, adj = lake_map(30, 1, seed=2)
    run = solve(make_scenario(acc, None, adjacency=adj, settings=contiguous_settings(9, 0.05, 4)))
    check_plan(run, acc, adj, 9, 0.05)


def brute_greenfield(acc: pd.DataFrame, adj: pd.DataFrame, k: int, tol: float) -> float:
    """The optimum of the contiguous balanced p-median (moment of inertia), every plan tried."""
    G = nx.Graph()
    G.add_nodes_from(range(len(acc)))
    ids = {a: i for i, a in enumerate(acc["account_id"])}
    G.add_edges_from((ids[a], ids[b]) for a, b in adj.itertuples(index=False))
    xy = acc[["x", "y"]].to_numpy()
    v = acc["potential"].to_numpy()
    cost = v[:, None] * ((xy[:, None] - xy[None]) ** 2).sum(-1)  # (unit, centre)
    lo, hi = v.sum() / k * (1 - tol), v.sum() / k * (1 + tol)
    best = math.inf
    for plan in itertools.product(range(k), repeat=len(acc)):
        a = np.array(plan)
        if a[0] != 0:  # territory names are interchangeable
            continue
        tot = np.bincount(a, v, k)
        if (tot < lo - 1e-9).any() or (tot > hi + 1e-9).any():
            continue
        parts = [np.flatnonzero(a == t) for t in range(k)]
        if not all(nx.is_connected(G.subgraph(p.tolist())) for p in parts):
            continue
        best = min(best, sum(float(cost[np.ix_(p, p)].sum(axis=0).min()) for p in parts))
    return best


@pytest.mark.usefixtures("national")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_national_bound_is_below_the_brute_force_optimum(seed: int) -> None:
    acc, adj = grid_map(4, 3, seed=seed)
    k, tol = 3, 0.25
    best = brute_greenfield(acc, adj, k, tol)
    run = solve(make_scenario(acc, None, adjacency=adj, settings=contiguous_settings(k, tol, 2)))
    check_plan(run, acc, adj, k, tol)
    assert run.bound <= best + 1e-6 * best <= run.objective * (1 + 1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_sparse_bound_matches_the_pairs_it_may_leave_out(seed: int) -> None:
    """The sparse bound with a low cap (few pairs) is still below the brute-force optimum of
    the balanced p-median, and with every pair listed equals the dense bound's order."""
    n, p, v, cost, hi, best = brute_force_pmedian(seed)
    for share in (0.2, 1.0, 10.0):
        cap = share * cost.max(axis=1)
        ii, cc = np.nonzero((cost < cap[:, None]) & ~np.eye(n, dtype=bool))
        bound = sparse_centre_bound(
            (ii, cc, cost[ii, cc]),
            cap,
            v,
            hi,
            p,
            centres=np.arange(n),
            upper=best * 1.2,
            seconds=3,
            prices=np.zeros(n),
        )
        assert 0 <= bound <= best + 1e-9
        if share == 10.0:
            assert bound > 0  # every pair listed: the bound is not the trivial one


def split_map() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A 6 x 4 grid and, apart from it, a strip of three units (a lake between)."""
    acc, adj = grid_map(6, 4, seed=1)
    acc["potential"] = 10.0
    strip = pd.DataFrame(
        {
            "account_id": ["s1", "s2", "s3"],
            "x": [20.0, 21.0, 22.0],
            "y": [0.0, 0.0, 0.0],
            "potential": [10.0, 10.0, 10.0],
        }
    )
    links = pd.DataFrame({"account_id": ["s1", "s2"], "neighbor_id": ["s2", "s3"]})
    return pd.concat([acc, strip], ignore_index=True), pd.concat([adj, links], ignore_index=True)


@pytest.mark.usefixtures("national")
def test_split_map_names_the_units_cut_off() -> None:
    acc, adj = split_map()  # 270 in all; 9 territories of 30: the strip (30) is one of them
    run = solve(make_scenario(acc, None, adjacency=adj, settings=contiguous_settings(9, 0.05, 5)))
    assert run.status == "no_solution"
    assert run.reasons == [
        "adjacency: 3 unit(s) are cut off from the rest of the map (s1, s2, s3): no path of "
        "neighbours joins them to it, so it could hold 1 whole territories of its own; add a "
        "row to adjacency.csv linking them to the unit they are reached from (a bridge, a ferry)"
    ]
    # 4 territories of 67.5 +-5%: the strip's 30 can make no whole territory
    run = solve(make_scenario(acc, None, adjacency=adj, settings=contiguous_settings(4, 0.05, 5)))
    assert run.status == "infeasible"
    assert run.reasons == [
        "adjacency: 3 unit(s) are cut off from the rest of the map (s1, s2, s3): no path of "
        "neighbours joins them to it, so its potential 30 cannot make whole territories within "
        "the band [64.125, 70.875]; add a row to adjacency.csv linking them to the unit they "
        "are reached from (a bridge, a ferry)"
    ]


@pytest.mark.usefixtures("national")
def test_a_unit_too_heavy_for_any_band_is_named() -> None:
    acc, adj = grid_map(8, 8, seed=3)
    acc.loc[10, "potential"] = acc["potential"].sum()  # half the total: no band of 10 holds it
    run = solve(make_scenario(acc, None, adjacency=adj, settings=contiguous_settings(10, 0.05, 5)))
    assert run.status == "infeasible"
    v, hi = acc.loc[10, "potential"], acc["potential"].sum() / 10 * 1.05
    assert run.reasons == [
        f"account u10: potential {v:,.6g} alone is above every territory's band (at most "
        f"{hi:,.6g} with 10 territories at +-5.0%); use fewer territories, widen "
        "balance.potential.tolerance, or split the account"
    ]


def test_a_unit_with_no_neighbour_is_reported_with_the_fix() -> None:
    acc, adj = grid_map(5, 5, seed=0)
    adj = adj[(adj.account_id != "u24") & (adj.neighbor_id != "u24")]
    with pytest.raises(AlignError) as err:
        make_scenario(acc, None, adjacency=adj, settings=contiguous_settings(5, 0.05, 5))
    assert (
        "account 'u24' has no neighbour in adjacency.csv (an island): with "
        "constraints.contiguity = true it can only be a territory on its own; add a row to "
        "adjacency.csv linking it to a unit it is reached from (a bridge, a ferry), or set "
        "constraints.contiguity = false"
    ) in str(err.value)
