"""The dive's narrowed rows, and the mend of a rounding out of band (src/align/engine/dive.py,
fixed._mend): margins computed from the rows, plans that keep every rule or none."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_invariants import check_plan

import align
from align.engine import dive as dive_module
from align.engine import fixed
from align.engine.backends import get_backend
from align.engine.common import Clock
from align.engine.decompose import SubProblem
from align.engine.dive import (
    DIVE_STOP,
    INTEGRAL_TOL,
    dive,
    narrowed_rows,
    per_account_max,
    tighten_rows,
)
from align.engine.formulation import build_problem
from align.engine.pricing import PricedLP
from align.engine.repair import SLACK_COST, exact_violation, moved_shortfall

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from generate import generate  # noqa: E402


def _book(n: int, m: int, cap: float, seed: int = 3, **shape: float) -> align.Scenario:
    acc, ter = generate(n, m, seed=seed, **shape)  # type: ignore[arg-type]
    conf = {
        "balance": {"potential": {"tolerance": 0.05}, "workload": {"tolerance": 0.10}},
        "objective": {"travel_weight": "potential"},
        "constraints": {"max_moved_share": cap},
        "solver": {"gap": 0.005, "time_limit_s": 60},
    }
    return align.make_scenario(acc, ter, settings=conf)


def test_the_dive_keeps_a_margin_inside_every_band_and_under_the_moved_cap() -> None:
    problem = build_problem(_book(1500, 8, cap=0.3))
    pi, pj = problem.nearest_pairs(4)
    priced = PricedLP(problem, get_backend("highs"), pi, pj, SLACK_COST)
    layout = priced.layout
    rows, lo, hi, narrowed = narrowed_rows(problem, layout, priced, 0.1, 0.2)
    assert narrowed is not None
    at = rows == layout.moved_row
    assert at.sum() == 1 and np.isinf(hi[at]).all()
    # bands: a tenth of each width, half on either side; the moved row: a fifth of the moves
    # the cap leaves (the whole measure kept, less the least it must keep)
    both = ~at
    width = hi[both] - lo[both]
    assert narrowed[0][both] == pytest.approx(lo[both] + 0.05 * width)
    assert narrowed[1][both] == pytest.approx(hi[both] - 0.05 * width)
    room = problem.measure[problem.current >= 0].sum() / problem.moved_scale - lo[at][0]
    assert room == pytest.approx(0.3)  # the cap: 30% of the measure may move
    assert narrowed[0][at][0] == pytest.approx(lo[at][0] + 0.2 * room)
    # no cap share: the moved row as it is; no share at all: nothing narrowed
    _, _, _, bands_only = narrowed_rows(problem, layout, priced, 0.1, 0.0)
    assert bands_only is not None and bands_only[0][at][0] == lo[at][0]
    assert narrowed_rows(problem, layout, priced, 0.0, 0.0)[3] is None

    # the LP on the narrowed rows moves at most 80% of what the cap allows
    lp = priced.solve(lambda: 60.0)
    assert lp.status == "optimal"
    stats: dict[str, object] = {}
    x = tighten_rows(priced.session, rows, lo, hi, narrowed, priced.slack, priced.cols,
                     Clock(60), stats)  # fmt: skip
    assert stats["tightened"] is True and x is not None
    stay = problem.current[pi] == pj
    moved = 1 - float((problem.measure[pi[stay]] * x[stay]).sum() / problem.moved_scale)
    assert moved <= 0.8 * 0.3 + 1e-7


def test_the_dives_rounds_are_recorded_and_fixing_does_not_lower_the_split_accounts() -> None:
    # tight bands: an LP vertex splits about one account per tight band row, whatever is fixed
    acc, ter = generate(3000, 30, seed=3)
    conf = {
        "balance": {"potential": {"tolerance": 0.01}, "workload": {"tolerance": 0.02}},
        "objective": {"travel_weight": "potential"},
    }
    problem = build_problem(align.make_scenario(acc, ter, settings=conf))
    pi, pj = problem.nearest_pairs(4)
    priced = PricedLP(problem, get_backend("highs"), pi, pj, SLACK_COST)
    lp = priced.solve(lambda: 60.0)
    assert lp.status == "optimal" and lp.x is not None
    layout, x0 = priced.layout, lp.x[priced.cols]
    best_x, _ = per_account_max(problem, layout.pi, layout.pj, x0)
    split_lp = int((best_x < 1 - INTEGRAL_TOL).sum())

    stats: dict[str, Any] = {}
    x = dive(problem, priced.session, x0, priced.cols, layout, Clock(60), stats)
    assert np.allclose(np.bincount(layout.pi, weights=x, minlength=problem.n), 1.0, atol=1e-6)
    best_x, _ = per_account_max(problem, layout.pi, layout.pj, x)
    left = int((best_x < 1 - INTEGRAL_TOL).sum())
    # one entry per re-solve, the first with the LP's own split accounts
    trace = stats["dive_traces"][-1]
    assert len(trace) == stats["dive_rounds"] == dive_module.DIVE_ROUNDS
    assert trace[0][0] == split_lp and all(seconds >= 0 for _, seconds in trace)
    # ten rounds, each fixing half the split accounts, and never fewer than 3/4 of the first
    assert min(n for n, _ in trace) > 0.75 * split_lp and left > 0.75 * split_lp > DIVE_STOP
    # the session is left as it was: the same LP again
    again = priced.session.solve(time_limit=60)
    assert again.objective == pytest.approx(lp.objective, rel=1e-9)
    # a round that would end past DIVE_SHARE of the time left is not begun: with no share,
    # one round (the rounding and the repair get the rest of the time)
    short: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dive_module, "DIVE_SHARE", 0.0)
        x = dive(problem, priced.session, x0, priced.cols, layout, Clock(60), short)
    assert len(short["dive_traces"][-1]) == 1 and short["dive_traces"][-1][0][0] == split_lp
    assert np.allclose(np.bincount(layout.pi, weights=x, minlength=problem.n), 1.0, atol=1e-6)
    assert priced.session.solve(time_limit=60).objective == pytest.approx(lp.objective, rel=1e-9)


def test_a_rounding_out_of_band_is_mended_into_every_band_or_refused() -> None:
    # one-segment territories: today's territory is not always one an account may join
    sc = _book(2000, 10, cap=0.3, seed=5, locked_share=0.05, specialist_share=0.2)
    problem = build_problem(sc)
    rows = np.arange(problem.n)
    elig = problem.eligible_rows(rows)
    assert not elig[rows, problem.current].all()
    locked = problem.fixed >= 0
    pi, pj = problem.nearest_pairs(4)
    # the start: today's plan, an account today's territory may not take at its nearest candidate
    start = problem.current.copy()
    first = np.r_[True, pi[1:] != pi[:-1]]  # pairs sorted by account
    away = ~elig[rows, start]
    start[away] = pj[first][away]
    assert elig[rows, start].all()
    assert exact_violation(problem, start) > 0  # it breaks some band
    plan = fixed._mend(problem, pi, pj, start, Clock(30))
    assert plan is not None
    assert exact_violation(problem, plan) == 0 and moved_shortfall(problem, plan) == 0
    assert elig[rows, plan].all() and (plan[locked] == problem.fixed[locked]).all()
    # a moved cap below what the bands make move leaves nothing to mend with
    tight = build_problem(_book(2000, 10, cap=0.001, seed=5))
    assert fixed._mend(tight, pi, pj, problem.current, Clock(30)) is None


@pytest.mark.parametrize("first_mend_fails", [False, True])
def test_a_restriction_whose_rounding_its_mips_cannot_place_is_mended_over_every_account(
    monkeypatch, first_mend_fails: bool
) -> None:  # type: ignore[no-untyped-def]
    acc, ter = generate(3000, 10, seed=3)
    conf = {
        "balance": {"potential": {"tolerance": 0.05}, "workload": {"tolerance": 0.10}},
        "objective": {"travel_weight": "potential", "disruption": 10.0},
        "constraints": {"max_moved_share": 0.4},
        "solver": {"gap": 0.005, "time_limit_s": 60, "method": "decompose"},
    }
    sc = align.make_scenario(acc, ter, settings=conf)

    def no_answer(problem, backend, layout, lp_objective, clock, target, free, base, **kw):  # type: ignore[no-untyped-def]
        return base, 1.0  # the split MIP gives back its start, slack and all

    real_repair = fixed.repair_moves

    def stuck(problem, pi, pj, assign, **kw):  # type: ignore[no-untyped-def]
        if isinstance(problem, SubProblem):
            return assign, 1.0  # ... and the greedy repair is stuck inside the restriction
        return real_repair(problem, pi, pj, assign, **kw)

    real_mend, mends = fixed._mend, []

    def mend(*args, **kw):  # type: ignore[no-untyped-def]
        mends.append(1)
        if first_mend_fails and len(mends) == 1:
            return None  # the first rounding cannot be mended: the dive again, cap narrowed
        return real_mend(*args, **kw)

    monkeypatch.setattr(fixed, "_place_split", no_answer)
    monkeypatch.setattr(fixed, "repair_moves", stuck)
    monkeypatch.setattr(fixed, "_mend", mend)
    run = align.solve(sc)
    assert run.stats["mended_whole"] is True
    assert run.stats.get("redive", False) is first_mend_fails
    assert len(mends) == (2 if first_mend_fails else 1)
    assert run.status in ("optimal", "feasible")
    check_plan(run, sc, acc, ter)
    assert run.bound is not None and run.bound <= run.objective
