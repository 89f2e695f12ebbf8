"""The decomposed solve (solver.method = "decompose"): aggregated prices, sifting, restriction.

Checked against brute force on random small scenarios (with the sifting forced to start from
no free account, so that it has to find the accounts in doubt itself), and against the
monolithic LP on a seeded synthetic scenario large enough to be aggregated.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_invariants import brute_force, check_plan, scenarios

import align
from align.engine import decompose
from align.engine.aggregate import aggregate
from align.engine.backends import BackendResult
from align.engine.formulation import build_problem
from align.engine.lagrange import band_term, pairs_of, reduced
from align.status import Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from generate import generate  # noqa: E402


def test_plans_are_valid_and_bounds_true_against_brute_force(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(decompose, "FREE_SHARE", 0.0)
    monkeypatch.setattr(decompose, "FREE_PER_BAND", 0)
    outcomes: dict[str, int] = {}

    @settings(
        max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(scenarios())
    def check(case) -> None:  # type: ignore[no-untyped-def]
        acc, ter, conf = case
        conf = {**conf, "solver": {**conf["solver"], "method": "decompose"}}
        sc = align.make_scenario(acc, ter, settings=conf)
        run = align.solve(sc)
        best, count = brute_force(sc)
        outcomes[run.status] = outcomes.get(run.status, 0) + 1
        held = run.stats.get("free_accounts", len(acc)) < len(acc)
        if held and run.stats.get("held_pinned") and run.status == "optimal":
            outcomes["proved with held accounts"] = outcomes.get("proved with held accounts", 0) + 1
        if count == 0:
            assert run.status == "infeasible"
            assert run.reasons
            return
        assert run.status in ("optimal", "feasible"), run.message
        check_plan(run, sc, acc, ter)
        # the bound is true, and a plan called optimal (gap 0 asked) is the optimum
        assert run.bound is not None and run.bound <= best + 1e-6
        assert run.objective >= best - 1e-6
        if run.status == "optimal":
            assert run.objective == pytest.approx(best, rel=1e-6, abs=1e-6)

    check()
    # the sifting ended with accounts held, and reduced-cost fixing proved them in place
    assert outcomes.get("proved with held accounts", 0) > 0, outcomes
    assert outcomes.get("infeasible", 0) > 0, outcomes


@pytest.fixture(scope="module")
def synthetic():  # type: ignore[no-untyped-def]
    acc, ter = generate(3000, 10, seed=3)
    conf = {
        "balance": {"potential": {"tolerance": 0.05}, "workload": {"tolerance": 0.10}},
        "objective": {"travel_weight": "potential", "disruption": 10.0},
        "constraints": {"max_moved_share": 0.4},
        "solver": {"gap": 0.005, "time_limit_s": 120},
    }
    return acc, ter, conf


def test_aggregated_clusters_partition_the_accounts_and_keep_their_sums(synthetic) -> None:  # type: ignore[no-untyped-def]
    acc, ter, conf = synthetic
    problem = build_problem(align.make_scenario(acc, ter, settings=conf))
    pi, pj = problem.nearest_pairs(8)
    agg, ai, aj, cluster_of = aggregate(problem, pi, pj, 300)  # type: ignore[misc]
    assert 250 <= agg.n <= 400
    assert sorted(agg.members.tolist()) == list(range(problem.n))
    # members share today's territory; sums are kept
    assert (problem.current == agg.current[cluster_of]).all()
    for r, ra in zip(problem.resources, agg.resources, strict=True):
        assert ra.values.sum() == pytest.approx(r.values.sum())
    # a cluster costs what its whole weight costs from its weighted centre, which lies among
    # its members
    c = 5
    members = agg.members[agg.starts[c] : agg.starts[c + 1]]
    xy = problem.scenario.geometry.acc[members]  # type: ignore[index]
    centre = agg.geo.acc[c]  # type: ignore[index]
    assert (xy.min(axis=0) <= centre).all() and (centre <= xy.max(axis=0)).all()
    j = aj[ai == c][0]
    d = agg.geo.pairs(np.array([c]), np.array([j]))[0]
    moved = agg.current[c] != j
    expected = problem.weight[members].sum() * d + 10.0 * problem.measure[members].sum() * moved
    assert agg.pair_costs(np.array([c]), np.array([j]))[0] == pytest.approx(expected)
    assert agg.raw_costs(np.array([c]))[0, j] == pytest.approx(expected)


def test_decomposed_and_monolithic_prove_the_same_lp_bound(synthetic) -> None:  # type: ignore[no-untyped-def]
    acc, ter, conf = synthetic
    runs = {}
    for method in ("lp", "decompose"):
        c = {**conf, "solver": {**conf["solver"], "method": method}}
        runs[method] = align.solve(align.make_scenario(acc, ter, settings=c))
    lp, dec = runs["lp"], runs["decompose"]
    assert lp.status == dec.status == "optimal"
    assert dec.stats["decomposed"]["aggregate"]["clusters"] < 3000
    assert dec.stats["free_accounts"] < 3000  # some accounts were held
    # the decomposed bound is valid (at most the LP relaxation's value) and the sifting
    # stops only once its restricted LP is within a fifth of the gap target of it
    value = lp.stats["lp_objective"]
    assert value * (1 - 0.2 * 0.005 * 1.01) <= dec.bound <= value * (1 + 1e-9)
    assert dec.objective <= lp.stats["lp_objective"] * 1.005
    assert dec.stats["max_band_violation"] == 0.0


def test_any_multipliers_give_a_bound_below_the_lp(synthetic) -> None:  # type: ignore[no-untyped-def]
    acc, ter, conf = synthetic
    sc = align.make_scenario(acc, ter, settings={**conf, "solver": {"method": "lp", "gap": 0.005}})
    lp_value = align.solve(sc).stats["lp_objective"]
    problem = build_problem(sc)
    pi, pj = problem.all_pairs()
    pairs = pairs_of(problem, pi, pj)
    rng = np.random.default_rng(0)
    for _ in range(5):
        ys = [rng.normal(0, 50, len(r.lo)) for r in problem.resources]
        lam = float(rng.uniform(0, 50))
        value = pairs.row_min(reduced(pairs, ys, lam)).sum() + band_term(problem, ys, lam)
        assert value * problem.cost_scale <= lp_value * (1 + 1e-9)


def test_a_sifting_round_not_solved_in_time_leaves_the_last_solved_restriction(
    synthetic, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A later round's LP over more accounts that is not solved in its time gives way to the
    round before it: that round's free accounts are the restriction, and its LP (warm) is the
    restriction's LP, so the reserve kept for the MIP still yields a plan."""
    acc, ter, conf = synthetic
    conf = {**conf, "solver": {**conf["solver"], "method": "decompose"}}
    monkeypatch.setattr(decompose, "SIFT_ENOUGH", 0.0)  # sift on until every account is content
    monkeypatch.setattr(decompose, "FREE_SHARE", 0.0)
    monkeypatch.setattr(decompose, "FREE_PER_BAND", 0)
    sessions = []
    real = decompose.lp_session

    def lp_session(*args, **kwargs):  # type: ignore[no-untyped-def]
        session = real(*args, **kwargs)
        sessions.append(session)
        if len(sessions) == 3:  # the third round's LP runs out of time
            session.solve = lambda **_: BackendResult(Status.NO_SOLUTION)
        return session

    monkeypatch.setattr(decompose, "lp_session", lp_session)
    run = align.solve(align.make_scenario(acc, ter, settings=conf))
    sift = run.stats["decomposed"]["sift"]
    assert len(sift) == 3 and sift[2]["unsolved"] == "no_solution"
    assert sift[2]["free"] > sift[1]["free"]
    # the restriction is the second round's, and its LP the second round's, warm
    assert run.stats["free_accounts"] == sift[1]["free"]
    assert run.stats["restricted_lp_warm"] is True
    assert run.status in ("optimal", "feasible")
    assert run.stats["max_band_violation"] == 0.0
    assert run.bound is not None and run.bound >= sift[1]["bound"] * (1 - 1e-9)


def test_a_sifting_stopped_with_a_weak_bound_gives_the_bound_time(synthetic, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One sifting round over few free accounts: its restricted LP is further above its bound
    than the gap target, so no plan of the restriction could be certified. After the plan, dual
    ascent from the sifting's multipliers raises the bound, which stays a bound (at most the
    LP relaxation's value)."""
    acc, ter, conf = synthetic
    sc = align.make_scenario(acc, ter, settings={**conf, "solver": {"method": "lp", "gap": 0.005}})
    lp_value = align.solve(sc).stats["lp_objective"]
    monkeypatch.setattr(decompose, "SIFT_ROUNDS", 1)
    monkeypatch.setattr(decompose, "FREE_SHARE", 0.0)
    conf = {**conf, "solver": {**conf["solver"], "method": "decompose"}}
    run = align.solve(align.make_scenario(acc, ter, settings=conf))
    (sifted,) = run.stats["decomposed"]["sift"]
    assert sifted["restricted_lp"] - sifted["bound"] > 0.005 * sifted["restricted_lp"]  # weak
    assert sifted["bound"] < run.stats["ascended_bound"] <= lp_value * (1 + 1e-9)
    assert run.bound is not None and run.bound >= run.stats["ascended_bound"] * (1 - 1e-9)
    assert run.status in ("optimal", "feasible")
    assert run.stats["max_band_violation"] == 0.0


def test_each_sifting_round_starts_from_the_last_rounds_basis(synthetic, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A sifting round frees more accounts than the last; the last round's basis, carried over
    (each newly freed account basic on its held territory), is a start HiGHS takes: every round
    reaches the same restricted LP as from scratch, in fewer simplex iterations."""
    acc, ter, conf = synthetic
    conf = {**conf, "solver": {**conf["solver"], "method": "decompose"}}
    monkeypatch.setattr(decompose, "SIFT_ENOUGH", 0.0)  # sift on until every account is content
    monkeypatch.setattr(decompose, "FREE_SHARE", 0.0)
    monkeypatch.setattr(decompose, "FREE_PER_BAND", 0)
    real = decompose.lp_session
    runs, iterations = {}, {}
    for warm in (False, True):
        monkeypatch.setattr(decompose, "WARM_SIFT", warm)
        counts: list[int] = []
        iterations[warm] = counts

        def lp_session(*args, counts=counts, **kwargs):  # type: ignore[no-untyped-def]
            session = real(*args, **kwargs)
            solve = session.solve

            def counted(**kw):  # type: ignore[no-untyped-def]
                out = solve(**kw)
                counts.append(session.h.getInfo().simplex_iteration_count)
                return out

            session.solve = counted
            return session

        monkeypatch.setattr(decompose, "lp_session", lp_session)
        runs[warm] = align.solve(align.make_scenario(acc, ter, settings=conf))
    cold, warm = (runs[w].stats["decomposed"] for w in (False, True))
    assert len(warm["sift"]) == len(cold["sift"]) >= 3
    assert "sift_warm" not in cold
    assert warm["sift_warm"] == [True] * (len(warm["sift"]) - 1)
    for a, b in zip(cold["sift"], warm["sift"], strict=True):
        assert a["free"] == b["free"]
        assert b["restricted_lp"] == pytest.approx(a["restricted_lp"], rel=1e-9)
    rounds = len(cold["sift"])  # the sifting's own solves (the dive's come after)
    assert sum(iterations[True][1:rounds]) < sum(iterations[False][1:rounds])
    assert runs[True].objective == pytest.approx(runs[False].objective, rel=1e-9)


def test_a_sifting_round_over_the_cap_holds_settled_accounts_again(synthetic, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Past ``SIFT_FREE_CAP`` free accounts, a round holds again the free accounts its LP
    settled (whole in their cheapest territory), where that LP put them: the LP's plan is still
    one of the next round's, so the restricted LP never rises, the carried basis still fits
    (HiGHS takes it every round), and the sifting still ends on the whole LP's value."""
    acc, ter, conf = synthetic
    sc = align.make_scenario(acc, ter, settings={**conf, "solver": {"method": "lp", "gap": 0.005}})
    lp_value = align.solve(sc).stats["lp_objective"]
    conf = {**conf, "solver": {**conf["solver"], "method": "decompose"}}
    monkeypatch.setattr(decompose, "SIFT_ENOUGH", 0.0)  # sift on until every account is content
    monkeypatch.setattr(decompose, "FREE_SHARE", 0.0)
    monkeypatch.setattr(decompose, "FREE_PER_BAND", 0)
    monkeypatch.setattr(decompose, "SIFT_ADD_MIN", 150)
    monkeypatch.setattr(decompose, "SIFT_FREE_CAP", 300)
    monkeypatch.setattr(decompose, "SIFT_BACK", 100)
    monkeypatch.setattr(decompose, "SIFT_ROUNDS", 40)
    run = align.solve(align.make_scenario(acc, ter, settings=conf))
    dec = run.stats["decomposed"]
    sift = [r for r in dec["sift"] if "restricted_lp" in r]
    assert sum(r.get("held_again", 0) for r in sift) > 0
    *rounds, last = sift
    assert all(r["free"] <= 300 for r in rounds[1:])  # the first round frees what it must
    # converged, the last round gives the restriction back SIFT_BACK of the accounts held
    # again, the most in doubt: the LP's value is unchanged and the restriction is that round's
    assert last["free"] == rounds[-1]["free"] + 100
    assert last["restricted_lp"] == pytest.approx(rounds[-1]["restricted_lp"], rel=1e-9)
    assert run.stats["free_accounts"] == last["free"]
    assert dec["sift_warm"] == [True] * (len(dec["sift"]) - 1)
    for a, b in zip(sift[:-1], sift[1:], strict=True):
        assert b["restricted_lp"] <= a["restricted_lp"] * (1 + 1e-9)
    assert dec["exact"] is True
    assert last["restricted_lp"] == pytest.approx(lp_value, rel=1e-7)
    assert run.bound == pytest.approx(lp_value, rel=1e-7)
    assert run.status in ("optimal", "feasible")
    assert run.stats["max_band_violation"] == 0.0
