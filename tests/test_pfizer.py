"""The Pfizer-Turkey 22 bricks x 4 reps case (tests/data/pfizer-22x4, origin in ORIGIN.md).

Optima computed independently with PuLP/CBC and scipy.milp/HiGHS over the raw files (see
ORIGIN.md); the [0.8, 1.2] values match the published report.
"""

from __future__ import annotations

import pytest

import align

DATA = "tests/data/pfizer-22x4"
BACKENDS = ["highs", "cbc"]


def load(*overrides: str) -> align.Scenario:
    return align.load_scenario(
        DATA, overrides=["objective.travel_weight=none", "solver.gap=0", *overrides]
    )


@pytest.mark.parametrize("solver", BACKENDS)
@pytest.mark.parametrize(
    ("tolerance", "distance", "plan"),
    [
        (
            0.20,
            154.60,
            {
                1: [4, 5, 6, 7, 8, 9, 12, 19, 20],
                2: [11, 13, 14, 18],
                3: [10, 15, 16, 17],
                4: [1, 2, 3, 21, 22],
            },
        ),
        (
            0.15,
            160.32,
            {
                1: [4, 5, 6, 7, 8, 9, 12, 19],
                2: [11, 13, 14, 18],
                3: [10, 15, 16, 17],
                4: [1, 2, 3, 20, 21, 22],
            },
        ),
        (
            0.10,
            162.43,
            {
                1: [4, 5, 6, 7, 8, 9, 12, 19],
                2: [11, 13, 14, 17],
                3: [10, 15, 16, 18],
                4: [1, 2, 3, 20, 21, 22],
            },
        ),
    ],
)
def test_min_distance_at_the_classic_bands(
    solver: str, tolerance: float, distance: float, plan: dict
) -> None:  # type: ignore[type-arg]
    run = align.solve(load(f"balance.workload.tolerance={tolerance}", f"solver.name={solver}"))
    assert run.status == "optimal"
    assert run.objective == pytest.approx(distance, abs=1e-6)
    assert run.bound == pytest.approx(distance, abs=1e-6)
    assert run.assignments is not None
    got = run.assignments.groupby("territory_id")["account_id"].apply(
        lambda s: sorted(int(v) for v in s)
    )
    assert {int(k): v for k, v in got.items()} == plan


@pytest.mark.parametrize("solver", BACKENDS)
@pytest.mark.parametrize(("tolerance", "moved"), [(0.20, 0.1696), (0.15, 0.2529), (0.10, 0.2529)])
def test_min_disruption_at_the_classic_bands(solver: str, tolerance: float, moved: float) -> None:
    run = align.solve(
        load(
            f"balance.workload.tolerance={tolerance}",
            f"solver.name={solver}",
            "objective.travel=0",
            "objective.disruption=1",
            "objective.disruption_measure=workload",
        )
    )
    assert run.status == "optimal"
    assert run.objective == pytest.approx(moved, abs=1e-6)
    assert run.terms["MOVED"] == pytest.approx(moved, abs=1e-6)


@pytest.mark.parametrize("solver", BACKENDS)
def test_at_most_three_bricks_moved(solver: str) -> None:
    run = align.solve(
        load(
            "balance.workload.tolerance=0.1",
            f"solver.name={solver}",
            f"constraints.max_moved_share={3 / 22}",
        )
    )
    assert run.status == "optimal"
    assert run.objective == pytest.approx(172.46, abs=1e-6)
    assert run.assignments is not None
    moved = run.assignments.loc[run.assignments["moved"], "account_id"]
    assert sorted(moved.astype(int)) == [10, 11, 19]


def test_moving_at_most_0_2_workload_is_infeasible_and_says_how_much_is_needed() -> None:
    # the least disruption any [0.9, 1.1] plan needs is 0.2529 of 4.0 workload = 6.32%
    run = align.solve(
        load(
            "balance.workload.tolerance=0.1",
            "objective.disruption_measure=workload",
            "constraints.max_moved_share=0.05",
        )
    )
    assert run.status == "infeasible"
    assert run.reasons[0] == (
        "smallest single change that lets a plan exist: constraints.max_moved_share must rise "
        "to at least 6.33% (it is 5.00%)"
    )
    assert run.reasons[1:] == [
        "or, alone: balance.workload.tolerance must rise to at least 15.34% (it is 10.00%)"
    ]


def test_locked_office_bricks_never_move() -> None:
    run = align.solve(
        load("balance.workload.tolerance=0.1", "objective.travel=0", "objective.disruption=1")
    )
    assert run.assignments is not None
    owner = dict(zip(run.assignments["account_id"], run.assignments["territory_id"], strict=True))
    assert (owner["4"], owner["14"], owner["16"], owner["22"]) == ("1", "2", "3", "4")
