"""The public API and the README's worked example."""

from __future__ import annotations

import pytest

import align


def test_public_api_is_one_sorted_list() -> None:
    assert align.__all__ == sorted(align.__all__)
    for name in align.__all__:
        assert hasattr(align, name), name


def test_readme_worked_example_moves_a3_and_proves_it_optimal() -> None:
    run = align.solve(align.load_scenario("data/examples/two-reps"))
    assert (run.status, run.objective, run.bound) == ("optimal", 15.0, 15.0)
    assert run.assignments is not None
    moved = run.assignments.loc[run.assignments["moved"], "account_id"].tolist()
    assert moved == ["A3"]
    assert run.kpis["before"]["potential.max_abs_deviation"] == pytest.approx(1 / 3)
    assert run.kpis["after"]["potential.max_abs_deviation"] == pytest.approx(0.0)


def test_presets_are_listed() -> None:
    assert {"balanced", "min-disruption"} <= set(align.list_presets())
