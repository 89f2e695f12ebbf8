"""Contiguity-preserving local search (model/local_search.py) and fixed territories in one piece.

Every plan is checked by networkx (connectivity) and numpy (bands), independently of the engine.
"""

from __future__ import annotations

import itertools
import time

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from align.engine import solve
from align.engine.beside import Beside
from align.engine.chains import chain_moves
from align.engine.contiguity import Graph, piece_counts
from align.engine.greenfield_bound import BOUND_METHOD
from align.engine.local_search import Bands, ContiguousSearch, grow, make_contiguous
from align.io import make_scenario
from align.scenario import Scenario


def grid(w: int, h: int, holes: np.ndarray | None = None) -> tuple[Graph, np.ndarray, np.ndarray]:
    """A w x h grid graph (4-neighbours) without the ``holes`` cells: graph, xy, kept cells."""
    idx = np.arange(w * h).reshape(h, w)
    keep = np.ones(w * h, dtype=bool) if holes is None else ~holes
    e = np.r_[
        np.c_[idx[:, :-1].ravel(), idx[:, 1:].ravel()],
        np.c_[idx[:-1].ravel(), idx[1:].ravel()],
    ]
    e = e[keep[e[:, 0]] & keep[e[:, 1]]]
    new = np.cumsum(keep) - 1
    n = int(keep.sum())
    A = sp.coo_matrix((np.ones(len(e)), (new[e[:, 0]], new[e[:, 1]])), shape=(n, n))
    A = ((A + A.T) > 0).astype(np.int8).tocsr()
    A.sort_indices()
    xy = np.c_[idx.ravel() % w, idx.ravel() // w].astype(float)[keep]
    return Graph(A), xy, keep


def nx_graph(g: Graph) -> nx.Graph:
    G = nx.from_scipy_sparse_array(g.A)
    return G


def connected(G: nx.Graph, assign: np.ndarray, m: int) -> list[bool]:
    return [
        len(np.flatnonzero(assign == t)) > 0
        and nx.is_connected(G.subgraph(np.flatnonzero(assign == t).tolist()))
        for t in range(m)
    ]


def sq_cost(xy: np.ndarray, homes: np.ndarray, w: np.ndarray) -> np.ndarray:
    return w[:, None] * ((xy[:, None, :] - xy[homes][None]) ** 2).sum(-1)


# --- seeding ---------------------------------------------------------------------------------


def test_make_contiguous_keeps_main_pieces_and_grows_the_rest() -> None:
    # 1 x 6 path, territory 0 in two pieces (units 0-1 and 4), territory 1 units 2-3 and 5
    g, xy, _ = grid(6, 1)
    assign = np.array([0, 0, 1, 1, 0, 1])
    cost = np.zeros((6, 2))
    out = make_contiguous(g, assign, cost, roots=np.array([0, 2]))
    # unit 4 is cut off from territory 0's root: it joins its only neighbouring territory, 1
    assert out.tolist() == [0, 0, 1, 1, 1, 1]


def test_grow_leaves_units_no_allowed_territory_reaches() -> None:
    g, _, _ = grid(4, 1)
    allowed = np.array([[True, False], [True, True], [False, True], [True, False]])
    out = grow(g, np.array([0, -1, 1, -1]), np.zeros((4, 2)), allowed)
    # unit 1 joins 0 or 1 (both allowed, equal cost); unit 3 touches only territory 1 (unit 2)
    # which it may not join
    assert out[3] == -1 and out[1] in (0, 1)


@settings(max_examples=60, deadline=None)
@given(w=st.integers(2, 7), h=st.integers(2, 7), m=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_piece_counts_match_networkx(w: int, h: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    g, _, _ = grid(w, h, rng.random(w * h) < 0.2)
    assign = rng.integers(0, m, g.n)
    G = nx_graph(g)
    want = [
        nx.number_connected_components(G.subgraph(np.flatnonzero(assign == t).tolist()))
        for t in range(m)
    ]
    assert piece_counts(g, assign, m).tolist() == want


def test_a_plan_in_pieces_is_never_kept() -> None:
    g, _, _ = grid(3, 1)  # a path 0 - 1 - 2
    pot = np.ones((3, 1))
    bands = Bands(pot, np.full((2, 1), 0.0), np.full((2, 1), 3.0))
    search = ContiguousSearch(g, np.zeros((3, 2)), bands, np.array([0, 1, 0]))
    with pytest.raises(RuntimeError) as err:
        search.in_band()
    assert str(err.value) == (
        "the contiguous local search left 1 territories in pieces (columns [0]): "
        "a defect of the search, not of the scenario"
    )


# --- moves keep pieces whole -----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    w=st.integers(3, 7),
    h=st.integers(2, 6),
    m=st.integers(2, 5),
    seed=st.integers(0, 10_000),
)
# two border moves of one round: a unit left t, then its neighbour joined t through it
@example(w=5, h=3, m=5, seed=256)
def test_search_never_breaks_a_territory(w: int, h: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    holes = rng.random(w * h) < 0.15
    g, xy, _ = grid(w, h, holes)
    G = nx_graph(g)
    if g.n < m or not nx.is_connected(G):
        return
    homes = rng.choice(g.n, m, replace=False)
    pot = rng.integers(1, 20, g.n).astype(float)
    cost = sq_cost(xy, homes, pot)
    seed_plan = rng.integers(0, m, g.n)
    seed_plan[homes] = np.arange(m)
    plan = make_contiguous(g, seed_plan, cost, roots=homes)
    assert (plan >= 0).all() and all(connected(G, plan, m))
    tgt = pot.sum() / m
    bands = Bands(pot[:, None], np.full((m, 1), 0.8 * tgt), np.full((m, 1), 1.2 * tgt))
    search = ContiguousSearch(g, cost, bands, plan, roots=homes, seed=seed)
    v0, c0 = search.violation(), search.objective()
    search.run(2.0)  # the invariants hold at any time; stuck books use all of it
    assert all(connected(G, search.assign, m))
    assert (search.assign[homes] == np.arange(m)).all()
    v1, c1 = search.violation(), search.objective()
    assert v1 < v0 + 1e-12 and (v1 < v0 - 1e-12 or c1 <= c0 + 1e-9)
    # the search's totals are the plan's
    np.testing.assert_allclose(search.totals[:, 0], np.bincount(search.assign, pot, m))


@settings(max_examples=60, deadline=None)
@given(w=st.integers(3, 6), h=st.integers(2, 5), seed=st.integers(0, 10_000))
def test_stays_connected_agrees_with_networkx(w: int, h: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    g, _, _ = grid(w, h)
    G = nx_graph(g)
    assign = rng.integers(0, 2, g.n)
    search = ContiguousSearch(
        g, np.zeros((g.n, 2)), Bands(np.zeros((g.n, 1)), np.zeros((2, 1)), np.zeros((2, 1))), assign
    )
    for u in range(g.n):
        t = assign[u]
        rest = [x for x in np.flatnonzero(assign == t) if x != u]
        # only asked of a territory that is one piece with u
        if not nx.is_connected(G.subgraph(np.flatnonzero(assign == t).tolist())) or not rest:
            continue
        assert search.stays_connected(u) == nx.is_connected(G.subgraph(rest))


def brute_force(
    G: nx.Graph, cost: np.ndarray, pot: np.ndarray, lo: float, hi: float, m: int
) -> float:
    best = np.inf
    n = cost.shape[0]
    for plan in itertools.product(range(m), repeat=n):
        a = np.array(plan)
        tot = np.bincount(a, pot, m)
        if (tot < lo - 1e-9).any() or (tot > hi + 1e-9).any():
            continue
        if not all(connected(G, a, m)):
            continue
        best = min(best, float(cost[np.arange(n), a].sum()))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_search_reaches_the_optimum_of_small_grids(seed: int) -> None:
    """3 x 3 grid, 2 territories, every plan enumerated: the search, given time, ends on a
    contiguous plan in band whose cost is the brute-force optimum."""
    rng = np.random.default_rng(seed)
    g, xy, _ = grid(3, 3)
    G = nx_graph(g)
    pot = rng.integers(1, 10, g.n).astype(float)
    homes = np.array([0, 8])
    cost = sq_cost(xy, homes, pot)
    tgt = pot.sum() / 2
    lo, hi = 0.8 * tgt, 1.2 * tgt
    opt = brute_force(G, cost, pot, lo, hi, 2)
    assert np.isfinite(opt)
    bands = Bands(pot[:, None], np.full((2, 1), lo), np.full((2, 1), hi))
    found = []
    for s in range(5):
        plan = make_contiguous(g, np.argmin(cost, axis=1), cost, roots=homes)
        search = ContiguousSearch(g, cost, bands, plan, roots=homes, seed=s)
        search.run(3.0)
        assert search.violation() == 0.0 and all(connected(G, search.assign, 2))
        found.append(search.objective())
    assert min(found) == pytest.approx(opt)
    assert all(f >= opt - 1e-9 for f in found)


def test_recombination_balances_a_pair_border_moves_cannot() -> None:
    """A 2 x 8 strip split 14 / 2 with a band of 8 +-1: single moves from the big territory
    each improve, but a recombination does it in one step; either way the end is in band."""
    g, xy, _ = grid(8, 2)
    pot = np.ones(16)
    cost = np.zeros((16, 2))
    assign = np.zeros(16, dtype=np.int64)
    assign[[7, 15]] = 1
    bands = Bands(pot[:, None], np.full((2, 1), 7.0), np.full((2, 1), 9.0))
    search = ContiguousSearch(g, cost, bands, assign, seed=1)
    assert search.recombine(0, 1, trees=5)
    tot = np.bincount(search.assign, minlength=2)
    assert 7 <= tot.min() and tot.max() <= 9
    assert all(connected(nx_graph(g), search.assign, 2))


# --- fixed territories in one piece, at scale ------------------------------------------------


def lake_map(w: int, m: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Units on a w x w grid around an elliptic lake (no unit, no adjacency across it), m
    reps with home bases at random units, heavy-tailed potential."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.arange(w), np.arange(w))
    x, y = x.ravel(), y.ravel()
    lake = ((x - 0.55 * w) / (0.12 * w)) ** 2 + ((y - 0.5 * w) / (0.3 * w)) ** 2 < 1
    g, xy, keep = grid(w, w, lake)
    ids = np.array([f"u{i}" for i in range(g.n)])
    acc = pd.DataFrame(
        {
            "account_id": ids,
            "x": xy[:, 0],
            "y": xy[:, 1],
            "potential": rng.lognormal(3, 1, g.n).round(2),
        }
    )
    A = sp.triu(g.A).tocoo()
    adj = pd.DataFrame({"account_id": ids[A.row], "neighbor_id": ids[A.col]})
    homes = rng.choice(g.n, m, replace=False)
    ter = pd.DataFrame(
        {"territory_id": [f"T{k}" for k in range(m)], "x": xy[homes, 0], "y": xy[homes, 1]}
    )
    return acc, ter, adj


def test_fixed_territories_stay_in_one_piece_around_a_lake() -> None:
    """1,450 units, 30 reps, +-5%: without contiguity territories reach across the lake (in
    pieces by the adjacency); with it every territory is one piece and every band holds."""
    acc, ter, adj = lake_map(40, 30, seed=3)
    base = {
        "balance": {"potential": {"tolerance": 0.05}},
        "objective": {"distance_power": 2},
        "solver": {"time_limit_s": 25},  # gap 1.9-3.2% at 20-60 s
    }
    G = nx.Graph()
    G.add_edges_from(adj.itertuples(index=False))

    def pieces(run) -> int:  # type: ignore[no-untyped-def]
        a = run.assignments.set_index("account_id")["territory_id"]
        return sum(
            nx.number_connected_components(G.subgraph(a.index[a == t])) - 1
            for t in ter["territory_id"]
        )

    loose = solve(make_scenario(acc, ter, adjacency=adj, settings=base))
    assert loose.has_plan and pieces(loose) > 0
    run = solve(
        make_scenario(
            acc, ter, adjacency=adj, settings={**base, "constraints": {"contiguity": True}}
        )
    )
    assert run.has_plan and run.status in ("optimal", "feasible")
    assert pieces(run) == 0
    a = run.assignments.set_index("account_id")["territory_id"]
    tot = acc.set_index("account_id")["potential"].groupby(a).sum()
    target = acc["potential"].sum() / 30
    assert len(tot) == 30
    assert tot.min() >= 0.95 * target - 1e-6 and tot.max() <= 1.05 * target + 1e-6
    # a proven bound (the relaxation's, raised by the cut rounds) within a few percent
    assert run.bound is not None and run.bound <= run.objective + 1e-6
    assert run.gap is not None and run.gap < 0.05


def test_solve_never_returns_a_contiguous_plan_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry checks every plan made with contiguity on, whichever engine made it."""
    from align.engine import entry

    acc = pd.DataFrame(
        {"account_id": ["a", "b", "c"], "x": [0.0, 1.0, 2.0], "y": 0.0, "potential": 1.0}
    )
    ter = pd.DataFrame({"territory_id": ["T1", "T2"], "x": [0.0, 2.0], "y": 0.0})
    adj = pd.DataFrame({"account_id": ["a", "b"], "neighbor_id": ["b", "c"]})
    scenario = make_scenario(
        acc,
        ter,
        adjacency=adj,
        settings={"constraints": {"contiguity": True}, "balance": {"potential": {"tolerance": 1}}},
    )
    run = solve(scenario)
    assert run.has_plan and run.assignments is not None  # whole: T1 = {a} or {a, b}
    broken = run.assignments.copy()
    broken["territory_id"] = ["T1", "T2", "T1"]  # T1 = {a, c}: two pieces
    real = entry.solve_contiguous

    def in_pieces(sc, progress=None):  # type: ignore[no-untyped-def]
        out = real(sc, progress=progress)
        out.assignments = broken
        return out

    monkeypatch.setattr(entry, "solve_contiguous", in_pieces)
    with pytest.raises(RuntimeError) as err:
        solve(scenario)
    assert str(err.value) == (
        "the plan leaves 1 territories in pieces (T1) with constraints.contiguity on: "
        "a defect of the engine, not of the scenario"
    )


# --- greenfield above the exact model's size -------------------------------------------------


@pytest.mark.parametrize("threads", [None, 1])
def test_contiguous_greenfield_above_the_exact_size_gives_a_plan_and_a_bound(
    threads: int | None,
) -> None:
    """625 units, every one a candidate centre (390,625 pairs, above the exact model's
    250,000), into 6 contiguous territories at +-10%: a plan in one piece each, in band, with
    a positive proven bound below it (once refused outright). On two threads (the default) the
    bound runs beside the search from the seed plan on; with ``solver.threads = 1`` it follows
    the search, around the search's plan."""
    acc, _, adj = lake_map(25, 1, seed=5)
    settings = {
        "territories": {"count": 6},
        "balance": {"potential": {"tolerance": 0.10}},
        "objective": {"distance_power": 2},
        "constraints": {"contiguity": True},
        "solver": {"time_limit_s": 30, "threads": threads},
    }
    run = solve(make_scenario(acc, None, adjacency=adj, settings=settings))
    assert run.has_plan, run.message
    G = nx.Graph()
    G.add_edges_from(adj.itertuples(index=False))
    a = run.assignments.set_index("account_id")["territory_id"]
    assert a.nunique() == 6
    assert all(nx.is_connected(G.subgraph(a.index[a == t])) for t in a.unique())
    tot = acc.set_index("account_id")["potential"].groupby(a).sum()
    target = acc["potential"].sum() / 6
    assert tot.min() >= 0.9 * target - 1e-6 and tot.max() <= 1.1 * target + 1e-6
    assert run.bound is not None and 0 < run.bound <= run.objective
    assert run.stats["method"].startswith("contiguous local search")
    beside = ", beside the search" if threads is None else ""
    assert run.stats["bound_method"] == BOUND_METHOD + beside
    assert "bound_error" not in run.stats


def lake_greenfield() -> Scenario:
    """625 lake units into 6 contiguous territories at +-10%, a minute: above the exact size."""
    acc, _, adj = lake_map(25, 1, seed=5)
    settings = {
        "territories": {"count": 6},
        "balance": {"potential": {"tolerance": 0.10}},
        "constraints": {"contiguity": True},
        "solver": {"time_limit_s": 60},
    }
    return make_scenario(acc, None, adjacency=adj, settings=settings)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Beside[float]]:
    """Every bound started beside a search in the test, in order."""
    from align.engine import greenfield

    besides: list[Beside[float]] = []

    class Recorded(Beside[float]):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)  # type: ignore[arg-type]
            besides.append(self)

    monkeypatch.setattr(greenfield, "Beside", Recorded)
    return besides


def test_a_search_stopped_by_ctrl_c_stops_the_bound_beside_it(
    monkeypatch: pytest.MonkeyPatch, started: list[Beside[float]]
) -> None:
    """Ctrl-C in the contiguous search (here raised by its first call): the solve stops, and so
    does the bound's child process, which would otherwise work on until its deadline."""

    def interrupted(self: ContiguousSearch, seconds: float) -> int:
        assert started and started[0].running  # the bound is working beside the search
        raise KeyboardInterrupt

    monkeypatch.setattr(ContiguousSearch, "explore", interrupted)
    with pytest.raises(KeyboardInterrupt):
        solve(lake_greenfield())
    assert len(started) == 1 and not started[0].running


def test_a_solve_asked_to_stop_does_not_wait_for_the_bound_beside_it(
    monkeypatch: pytest.MonkeyPatch, started: list[Beside[float]]
) -> None:
    """A stop asked while the search runs (Ctrl-C in the CLI, cancel in the service; here the
    search is cut to 3 s and the stop is seen as it ends): the plan is kept, the bound's
    child is stopped at once rather than awaited, and the run says why it has no bound."""
    explore = ContiguousSearch.explore
    monkeypatch.setattr(ContiguousSearch, "explore", lambda self, seconds: explore(self, 3.0))
    monkeypatch.setattr("align.engine.greenfield.stop_requested", lambda: True)
    run = solve(lake_greenfield())
    assert run.has_plan and run.bound == -np.inf  # awaited, the child would have given one
    assert run.stats["bound_error"] == "the solve was stopped before the bound"
    assert len(started) == 1 and not started[0].running


def test_a_bound_process_that_gives_no_value_leaves_no_bound_and_says_why() -> None:
    import sys

    from align.engine.common import Clock
    from align.engine.greenfield import _collected

    stats: dict[str, object] = {}
    bound = _collected(Beside(sys.exit, "out of memory"), Clock(30.0), stats)
    assert bound == -np.inf
    assert stats["bound_error"] == "out of memory"
    assert stats["bound_method"] == BOUND_METHOD + ", beside the search"


def test_greenfield_names_the_units_that_break_a_band_alone() -> None:
    acc, _, adj = lake_map(10, 1, seed=1)
    acc.loc[7, "potential"] = acc["potential"].sum()  # half the total: above a +-5% band of 4
    acc.loc[3, "potential"] = acc["potential"].sum() * 0.5
    settings = {
        "territories": {"count": 4},
        "balance": {"potential": {"tolerance": 0.05}},
        "constraints": {"contiguity": True},
    }
    run = solve(make_scenario(acc, None, adjacency=adj, settings=settings))
    assert run.status == "infeasible"
    hi = acc["potential"].sum() / 4 * 1.05
    v7, v3 = acc.loc[7, "potential"], acc.loc[3, "potential"]
    assert run.reasons == [
        f"account u7: potential {v7:,.6g} alone is above every territory's band (at most "
        f"{hi:,.6g} with 4 territories at +-5.0%); use fewer territories, widen "
        "balance.potential.tolerance, or split the account",
        f"account u3: potential {v3:,.6g} alone is above every territory's band (at most "
        f"{hi:,.6g} with 4 territories at +-5.0%); use fewer territories, widen "
        "balance.potential.tolerance, or split the account",
    ]


# --- the Lagrangian bound of greenfield ------------------------------------------------------


def brute_force_pmedian(seed: int) -> tuple[int, int, np.ndarray, np.ndarray, float, float]:
    """A random 7-unit balanced p-median (p 2 or 3, each part at most 1.3x the mean): n, p,
    the unit values, the unit-to-centre costs, the part cap and the optimum by enumeration."""
    rng = np.random.default_rng(seed)
    n, p = 7, int(rng.integers(2, 4))
    xy = rng.random((n, 2))
    v = rng.integers(1, 10, n).astype(float)
    cost = v[:, None] * ((xy[:, None] - xy[None]) ** 2).sum(-1)
    hi = v.sum() / p * 1.3
    best = np.inf
    for centres in itertools.combinations(range(n), p):
        for plan in itertools.product(range(p), repeat=n):
            a = np.array(plan)
            if any(a[c] != j for j, c in enumerate(centres)) or (np.bincount(a, v, p) > hi).any():
                continue
            best = min(best, float(cost[np.arange(n), np.array(centres)[a]].sum()))
    return n, p, v, cost, hi, best


@pytest.mark.parametrize("seed", range(6))
def test_centre_bound_never_exceeds_the_brute_force_optimum(seed: int) -> None:
    from align.engine.centre_bound import centre_bound

    n, p, v, cost, hi, best = brute_force_pmedian(seed)
    bound = centre_bound(cost, v, hi, p, centres=np.arange(n), upper=best * 1.2, seconds=5)
    assert 0 < bound <= best + 1e-9


def test_large_greenfield_without_contiguity_now_carries_a_bound() -> None:
    acc, _, _ = lake_map(25, 1, seed=5)
    settings = {
        "territories": {"count": 6},
        "balance": {"potential": {"tolerance": 0.10}},
        "objective": {"distance_power": 2},
        "solver": {"time_limit_s": 20},
    }
    run = solve(make_scenario(acc, None, settings=settings))
    assert run.has_plan and run.objective is not None
    assert run.bound is not None and 0 < run.bound <= run.objective
    assert run.gap == pytest.approx((run.objective - run.bound) / run.objective)
    assert run.message.endswith("heuristic plan, Lagrangian bound")


def test_a_search_that_cannot_reach_the_bands_gives_up_when_told() -> None:
    """Nine units of 1 into two territories of exactly 4.5 each: no plan is within the bands.
    With ``give_up`` the search stops after that many rounds that did not lower the violation
    (well before its minute), out of band, with every territory still one piece."""
    g, _, _ = grid(3, 3)
    assign = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
    bands = Bands(np.ones((9, 1)), np.full((2, 1), 4.5), np.full((2, 1), 4.5))
    cost = np.zeros((9, 2))
    search = ContiguousSearch(g, cost, bands, assign, roots=np.array([0, 8]), seed=1)
    search.run(60.0, give_up=3)
    assert search.violation() > 0
    assert search.rounds == 4  # nothing lowers the violation: four stalled rounds, the last over
    G = nx_graph(g)
    for t in range(2):
        assert nx.is_connected(G.subgraph(np.flatnonzero(search.assign == t).tolist()))


def test_a_search_out_of_band_gives_up_even_while_its_cost_still_falls() -> None:
    """The give-up count is of rounds that did not lower the violation: a cost that falls every
    round (here a search whose objective is made to fall by one each time it is read) does not
    keep a search that cannot reach the bands going."""

    class Falling(ContiguousSearch):
        reads = 0.0

        def objective(self) -> float:
            self.reads += 1.0
            return 1e6 - self.reads

    g, _, _ = grid(3, 3)
    bands = Bands(np.ones((9, 1)), np.full((2, 1), 4.5), np.full((2, 1), 4.5))
    search = Falling(g, np.zeros((9, 2)), bands, np.array([0, 0, 0, 0, 0, 1, 1, 1, 1]),
                     roots=np.array([0, 8]), seed=1)  # fmt: skip
    search.run(60.0, give_up=3)
    assert search.violation() > 0
    assert search.rounds == 4


def test_a_surplus_travels_two_territories_on_in_one_chain() -> None:
    """Nine equal units on a line, three territories of exactly 3: today 4, 3, 2. No single
    move lowers the violation (the surplus would only pass to the middle territory), but a
    chain does: the first passes a unit to the middle, the middle passes one to the last."""
    g, _, _ = grid(9, 1)
    bands = Bands(np.ones((9, 1)), np.full((3, 1), 3.0), np.full((3, 1), 3.0))
    assign = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
    search = ContiguousSearch(g, np.zeros((9, 3)), bands, assign, roots=np.array([0, 4, 8]))
    assert search.border_moves(time.perf_counter() + 10) == 0
    assert chain_moves(search, time.perf_counter() + 10) == 1
    assert search.assign.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert search.violation() == 0.0 and search.moves == 2
    # and the other way: a shortfall at the start is filled from two territories on
    search = ContiguousSearch(g, np.zeros((9, 3)), bands, np.array([0, 0, 1, 1, 1, 2, 2, 2, 2]),
                              roots=np.array([0, 4, 8]))  # fmt: skip
    assert chain_moves(search, time.perf_counter() + 10) == 1
    assert search.assign.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_chains_keep_every_territory_in_one_piece_and_never_raise_the_violation() -> None:
    rng = np.random.default_rng(5)
    g, _, _ = grid(12, 12)
    values = rng.integers(1, 4, (144, 1)).astype(float)
    made = 0
    for seed in range(5):
        cost = rng.random((144, 6))
        start = make_contiguous(g, rng.integers(0, 6, 144), cost)
        target = values.sum() / 6
        bands = Bands(values, np.full((6, 1), target * 0.97), np.full((6, 1), target * 1.03))
        search = ContiguousSearch(g, cost, bands, start, seed=seed)
        before = search.violation()
        made += chain_moves(search, time.perf_counter() + 10)
        assert search.violation() <= before + 1e-12
        G = nx_graph(g)
        for t in np.unique(search.assign):
            assert nx.is_connected(G.subgraph(np.flatnonzero(search.assign == t).tolist()))
    assert made > 0  # the chains were tried and made, not only left alone
