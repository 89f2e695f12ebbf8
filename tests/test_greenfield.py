"""Greenfield design and contiguous territories, checked against brute force."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import align

DATA = Path(__file__).resolve().parent / "data"


def grid(rows: int, cols: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units on a grid with seeded potentials, and rook adjacency."""
    rng = np.random.default_rng(seed)
    ids = [f"U{r}{c}" for r in range(rows) for c in range(cols)]
    acc = pd.DataFrame(
        {
            "account_id": ids,
            "x": [c for r in range(rows) for c in range(cols)],
            "y": [r for r in range(rows) for c in range(cols)],
            "potential": rng.integers(5, 15, rows * cols),
        }
    )
    edges = [
        (f"U{r}{c}", f"U{r + dr}{c + dc}")
        for r in range(rows)
        for c in range(cols)
        for dr, dc in ((0, 1), (1, 0))
        if r + dr < rows and c + dc < cols
    ]
    return acc, pd.DataFrame(edges, columns=["account_id", "neighbor_id"])


def brute_greenfield(
    acc: pd.DataFrame, k: int, tol: float, power: int, adj: pd.DataFrame | None
) -> float:
    """The best plan over every labelled partition, each part served from its best member."""
    pts = acc[["x", "y"]].to_numpy(float)
    p = acc["potential"].to_numpy(float)
    w = p
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)) ** power
    lo, hi = p.sum() / k * (1 - tol), p.sum() / k * (1 + tol)
    g = nx.Graph()
    g.add_nodes_from(range(len(acc)))
    if adj is not None:
        index = {a: i for i, a in enumerate(acc["account_id"])}
        g.add_edges_from((index[a], index[b]) for a, b in adj.itertuples(index=False))
    best = np.inf
    n = len(acc)
    for labels in itertools.product(range(k), repeat=n - 1):
        lab = np.array((0, *labels))  # unit 0 in part 0: halves the symmetric labellings
        total = 0.0
        for t in range(k):
            part = np.flatnonzero(lab == t)
            if len(part) == 0 or not lo <= p[part].sum() <= hi:
                break
            if adj is not None and not nx.is_connected(g.subgraph(part.tolist())):
                break
            total += (w[part, None] * d[np.ix_(part, part)]).sum(axis=0).min()
        else:
            best = min(best, total)
    return best


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("contiguous", [False, True])
def test_greenfield_matches_brute_force(seed: int, contiguous: bool) -> None:
    acc, adj = grid(2, 4, seed)
    tol, power = 0.2, 2
    settings = {
        "territories": {"count": 2},
        "balance": {"potential": {"tolerance": tol}},
        "objective": {"distance_power": power},
        "constraints": {"contiguity": contiguous},
        "solver": {"gap": 0.0, "time_limit_s": 30},
    }
    sc = align.make_scenario(acc, None, settings=settings, adjacency=adj)
    assert sc.greenfield
    run = align.solve(sc).raise_for_status()
    expected = brute_greenfield(acc, 2, tol, power, adj if contiguous else None)
    assert run.status == "optimal"
    assert run.objective == pytest.approx(expected, rel=1e-9)
    assert run.bound == pytest.approx(expected, rel=1e-6)
    # the centres are accounts, reported in territories.csv
    ter = run.territories.set_index("centre_account")
    pos = acc.set_index("account_id").loc[ter.index]
    assert (ter["centre_x"].to_numpy() == pos["x"].to_numpy()).all()
    owner = run.assignments.set_index("account_id").loc[ter.index, "territory_id"]
    assert (owner.to_numpy() == ter["territory_id"].to_numpy()).all()  # a centre serves itself
    if contiguous:
        assert run.territories["contiguous"].all()


def connected(run: align.Run, adj: pd.DataFrame) -> bool:
    """Every territory one connected piece, checked with networkx (not the engine's code)."""
    g = nx.Graph(list(adj.astype(str).itertuples(index=False)))
    owner = run.assignments.set_index("account_id")["territory_id"]
    g.add_nodes_from(owner.index)
    return all(nx.is_connected(g.subgraph(owner.index[owner == t])) for t in owner.unique())


def test_new_hampshire_has_no_contiguous_plan_within_half_a_percent() -> None:
    """Validi, Buchanan and Lykhovyd (2022): NH is infeasible with contiguity at +-0.5%."""
    run = align.solve(align.load_scenario(DATA / "counties-NH"))
    assert run.status == "infeasible"
    assert run.reasons == [
        "no plan of 2 territories that are contiguous keeps every balanced column within its "
        "band; widen a tolerance or turn contiguity off"
    ]
    with pytest.raises(align.InfeasibleError):
        run.raise_for_status()


def test_new_hampshire_at_five_percent_matches_enumeration() -> None:
    folder = DATA / "counties-NH"
    sc = align.load_scenario(folder, overrides=["balance.potential.tolerance=0.05", "solver.gap=0"])
    run = align.solve(sc).raise_for_status()
    acc = pd.read_csv(folder / "accounts.csv", dtype={"account_id": str})
    adj = pd.read_csv(folder / "adjacency.csv", dtype=str)
    from align.geo import haversine_km

    lat, lon, p = acc["lat"].to_numpy(), acc["lon"].to_numpy(), acc["potential"].to_numpy(float)
    d2 = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) ** 2
    g = nx.Graph(list(adj.itertuples(index=False)))
    ids = acc["account_id"].to_numpy()
    best = np.inf
    for mask in range(1, 2 ** (len(acc) - 1)):  # unit 0 always in part 0
        part = np.array([(mask >> i) & 1 for i in range(len(acc))], dtype=bool)
        sides = [np.flatnonzero(~part), np.flatnonzero(part)]
        if any(abs(p[s].sum() / (p.sum() / 2) - 1) > 0.05 for s in sides):
            continue
        if not all(nx.is_connected(g.subgraph(ids[s].tolist())) for s in sides):
            continue
        best = min(best, sum((p[s, None] * d2[np.ix_(s, s)]).sum(axis=0).min() for s in sides))
    assert run.status == "optimal"
    assert run.objective == pytest.approx(best, rel=1e-9)
    assert run.objective == pytest.approx(2_828_305_127.6, rel=1e-9)
    assert connected(run, adj)


@pytest.mark.parametrize("state", ["NM"])
def test_small_states_are_solved_contiguous_within_half_a_percent(state: str) -> None:
    folder = DATA / f"counties-{state}"
    run = align.solve(align.load_scenario(folder)).raise_for_status()
    assert run.status == "optimal"
    assert run.gap is not None and run.gap <= 0.005
    assert run.territories["potential_deviation"].abs().max() <= 0.005 + 1e-12
    assert connected(run, pd.read_csv(folder / "adjacency.csv", dtype=str))


@pytest.mark.parametrize("tol", [0.05, 0.005])
def test_colorado_has_no_contiguous_plan_because_of_denver(tol: float) -> None:
    """Denver (600,158) is below the band's floor at +-5% (682,534) and each neighbour (Adams
    441,603, Arapahoe 572,003, Jefferson 534,543) takes it above the top (754,379): L-fixing
    proves the whole problem infeasible before any branch and bound."""
    folder = DATA / "counties-CO"
    acc = pd.read_csv(folder / "accounts.csv", dtype={"account_id": str}).set_index("account_id")
    adj = pd.read_csv(folder / "adjacency.csv", dtype=str)
    p = acc["potential"]
    lo, hi = p.sum() / 7 * (1 - tol), p.sum() / 7 * (1 + tol)
    nb = set(adj.loc[adj["account_id"] == "08031", "neighbor_id"]) | set(
        adj.loc[adj["neighbor_id"] == "08031", "account_id"]
    )
    assert sorted(nb) == ["08001", "08005", "08059"]
    assert p["08031"] < lo and all(p["08031"] + p[b] > hi for b in nb)
    sc = align.load_scenario(folder, overrides=[f"balance.potential.tolerance={tol}"])
    run = align.solve(sc)
    assert run.status == "infeasible"
    assert run.reasons == [
        "no plan of 7 territories that are contiguous keeps every balanced column within its "
        "band; widen a tolerance or turn contiguity off"
    ]


def test_the_cut_loop_hands_its_incumbent_to_highs_as_a_cutoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from align.engine import backends

    acc, adj = grid(2, 4, 1)
    settings = {
        "territories": {"count": 2},
        "balance": {"potential": {"tolerance": 0.2}},
        "objective": {"distance_power": 2},
        "constraints": {"contiguity": True},
        "solver": {"gap": 0.01, "time_limit_s": 30},
    }
    sc = align.make_scenario(acc, None, settings=settings, adjacency=adj)
    calls: list[tuple[float | None, str]] = []
    solve = backends.HighsBackend.solve

    def recording(self: backends.HighsBackend, model, **kw):  # type: ignore[no-untyped-def]
        res = solve(self, model, **kw)
        if model.integer.any():
            calls.append((kw.get("cutoff"), res.status))
        return res

    monkeypatch.setattr(backends.HighsBackend, "solve", recording)
    run = align.solve(sc).raise_for_status()
    expected = brute_greenfield(acc, 2, 0.2, 2, adj)
    # the heuristic start is already the optimum: the cut loop asks HiGHS only for a plan
    # better by more than the 1% gap, there is none, and that answer proves the start (the
    # bound is the cutoff) in one round
    assert run.stats["heuristic_objective"] == pytest.approx(expected, rel=1e-9)
    assert run.status == "optimal"
    assert run.objective == pytest.approx(expected, rel=1e-9)
    assert run.bound == pytest.approx(expected * 0.99, rel=1e-9)
    assert run.stats["contiguity_rounds"] == 1
    cutoff, status = calls[-1]
    # HiGHS says infeasible, or hands back a plan at or above the cutoff: either way nothing
    # below it exists
    assert cutoff is not None and status in ("infeasible", "optimal")
    assert all(c is None for c, _ in calls[:-1])  # the heuristic's own solves have none
