"""Continuity between quarters: solve --from last quarter's run, lineage in compare."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import align
from align.continuity import lineage, solve_from

# the two-reps example (README): T1 at x=0, T2 at x=10, band +-10% of the mean potential
ACCOUNTS = [
    {"account_id": "A1", "x": 1, "y": 0, "potential": 15, "current_territory": "T1"},
    {"account_id": "A2", "x": 2, "y": 0, "potential": 15, "current_territory": "T1"},
    {"account_id": "A3", "x": 3, "y": 0, "potential": 10, "current_territory": "T1"},
    {"account_id": "A4", "x": 7, "y": 0, "potential": 10, "current_territory": "T2"},
    {"account_id": "A5", "x": 8, "y": 0, "potential": 10, "current_territory": "T2"},
]
TERRITORIES = [
    {"territory_id": "T1", "x": 0, "y": 0},
    {"territory_id": "T2", "x": 10, "y": 0},
]
TOML = """
[balance.potential]
tolerance = {tol}
[objective]
travel_weight = "none"
[solver]
gap = 0.0
"""


def plan_of(run: align.Run) -> dict[str, str]:
    assert run.assignments is not None
    a = run.assignments
    return dict(zip(a["account_id"], a["territory_id"], strict=True))


@pytest.fixture
def q1(write_scenario: Callable[..., Path], tmp_path: Path) -> align.Run:
    """Last quarter: West holds 40 of 60, the +-10% band forces A3 over to East."""
    folder = write_scenario(accounts=ACCOUNTS, territories=TERRITORIES, toml=TOML.format(tol=0.1))
    run = align.solve(align.load_scenario(folder)).raise_for_status()
    assert plan_of(run) == {"A1": "T1", "A2": "T1", "A3": "T2", "A4": "T2", "A5": "T2"}
    run.write(tmp_path / "q1")
    return align.load_run(tmp_path / "q1")


def test_continuity_keeps_every_unchanged_account_when_no_rule_forces_a_move(
    q1: align.Run, write_scenario: Callable[..., Path]
) -> None:
    # this quarter: A4 is gone, A6 is new, and the band is looser (+-50%); the old plan is still
    # feasible, so keep mode moves nobody, though travel alone would bring A3 back to West
    accounts = [a for a in ACCOUNTS if a["account_id"] != "A4"]
    accounts.append({"account_id": "A6", "x": 9, "y": 0, "potential": 10, "current_territory": ""})
    folder = write_scenario(accounts=accounts, territories=TERRITORIES, toml=TOML.format(tol=0.5))
    run = solve_from(align.load_scenario(folder), q1).raise_for_status()
    assert run.status == "optimal"
    plan = plan_of(run)
    assert {a: plan[a] for a in ("A1", "A2", "A3", "A5")} == {
        "A1": "T1", "A2": "T1", "A3": "T2", "A5": "T2"
    }  # fmt: skip
    assert plan["A6"] == "T2"  # placed where it travels least (1 unit, not 9)
    c = run.stats["continuation"]
    assert (c["mode"], c["kept"], c["moved"]) == ("keep", 4, 0)
    assert (c["unseen"], c["vanished"]) == (["A6"], ["A4"])
    assert run.parent == str(q1.path.resolve())  # type: ignore[union-attr]
    # the scenario's own objective (travel only) does move A3 back: keep mode did the work
    own = align.load_scenario(folder, overrides=["continuity.mode=objective"])
    other = solve_from(own, q1).raise_for_status()
    assert plan_of(other)["A3"] == "T1"
    assert other.stats["continuation"]["moved"] == 1


def test_continuity_moves_as_few_accounts_as_the_rules_force(
    q1: align.Run, write_scenario: Callable[..., Path]
) -> None:
    # A1 grew to 25: West 40, East 30, band 35 +- 3.5. One move cannot fix it (West loses 15 or
    # 25, or gains); two can: A2 (15) east and one 10 west. Bringing A3 back saves 4 travel units
    # (3 instead of 7), A4 would cost 4 more, A5 6 more: A2 and A3 move, nobody else.
    accounts = [dict(a, potential=25) if a["account_id"] == "A1" else a for a in ACCOUNTS]
    folder = write_scenario(accounts=accounts, territories=TERRITORIES, toml=TOML.format(tol=0.1))
    run = solve_from(align.load_scenario(folder), q1).raise_for_status()
    assert plan_of(run) == {"A1": "T1", "A2": "T2", "A3": "T1", "A4": "T2", "A5": "T2"}
    assert run.kpis["after"]["moved_accounts"] == 2
    assert run.stats["continuation"]["kept"] == 3


def test_solve_from_on_the_command_line_records_the_parent_and_compare_shows_the_chain(
    q1: align.Run,
    write_scenario: Callable[..., Path],
    tmp_path: Path,
    run_align: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts = ACCOUNTS[:4] + [{"account_id": "A7", "x": 9, "y": 0, "potential": 10}]
    folder = write_scenario(accounts=accounts, territories=TERRITORIES, toml=TOML.format(tol=0.5))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_align("solve", str(folder), "--from", "q1", "--out", "q2")
    assert code == 0, err
    assert (
        "from q1 (keep): 4 accounts kept their territory, 0 moved, 1 new placed, "
        "1 vanished: A5" in out
    )
    summary = json.loads((tmp_path / "q2" / "run.json").read_text())
    assert summary["parent"] == str((tmp_path / "q1").resolve())
    code, out, err = run_align("solve", str(folder), "--from", "q2", "--out", "q3", "-q")
    assert (code, out) == (0, ""), err
    code, out, err = run_align("compare", "q1", "q3")
    assert code == 0, err
    assert "chain: q3 <- q2 <- q1" in out
    assert lineage(tmp_path / "q2") == [tmp_path / "q2", tmp_path / "q1"]
    code, out, err = run_align("solve", str(folder), "--from", "gone", "--out", "q4")
    assert code == 2
    assert (
        err
        == "error: gone: not a run folder (run.json, assignments.csv, territories.csv missing)\n"
    )


def test_lineage_shows_a_parent_that_is_gone_and_stops_there(q1: align.Run, tmp_path: Path) -> None:
    child = align.load_run(tmp_path / "q1")
    child.parent = str(tmp_path / "q0")  # deleted since
    child.write(tmp_path / "q2")
    assert lineage(tmp_path / "q2") == [tmp_path / "q2", tmp_path / "q0"]
    assert lineage(tmp_path / "q1") == [tmp_path / "q1"]


def test_solve_from_a_run_without_a_plan_is_an_input_error(
    q1: align.Run, write_scenario: Callable[..., Path]
) -> None:
    q1.status, q1.assignments = "infeasible", None
    folder = write_scenario(accounts=ACCOUNTS, territories=TERRITORIES, toml=TOML.format(tol=0.1))
    with pytest.raises(align.ScenarioError, match="status infeasible, it holds no plan"):
        solve_from(align.load_scenario(folder), q1)


def test_continuity_keeps_a_larger_plan_whole_when_it_still_fits_the_rules(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    n = 80
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:03d}" for i in range(n)],
            "x": rng.uniform(0, 100, n).round(1),
            "y": rng.uniform(0, 100, n).round(1),
            "potential": rng.integers(50, 150, n),
        }
    )
    territories = pd.DataFrame(
        {"territory_id": ["T1", "T2", "T3", "T4"], "x": [25, 75, 25, 75], "y": [25, 25, 75, 75]}
    )
    toml = "[balance.potential]\ntolerance = {tol}\n[solver]\ngap = 0.0\n"
    q1_folder = write_scenario(
        accounts=accounts.to_dict("records"),
        territories=territories.to_dict("records"),
        toml=toml.format(tol=0.02),
    )
    q1 = align.solve(align.load_scenario(q1_folder)).raise_for_status()
    q1.write(tmp_path / "q1")
    # next quarter: three small new accounts, a wider band (+-10%)
    new = pd.DataFrame(
        {"account_id": ["N1", "N2", "N3"], "x": [10, 50, 90], "y": [50, 50, 50], "potential": 5}
    )
    q2_accounts = pd.concat([accounts, new], ignore_index=True)
    q2_folder = write_scenario(
        accounts=q2_accounts.to_dict("records"),
        territories=territories.to_dict("records"),
        toml=toml.format(tol=0.10),
    )
    # the old plan still fits: every territory within +-10% even with all new accounts in it
    old = q1.assignments.set_index("account_id")["territory_id"]  # type: ignore[union-attr]
    totals = accounts.groupby(accounts["account_id"].map(old))["potential"].sum()
    target = q2_accounts["potential"].sum() / 4
    assert (totals >= 0.9 * target).all() and (totals + 15 <= 1.1 * target).all()
    run = solve_from(align.load_scenario(q2_folder), align.load_run(tmp_path / "q1"))
    plan = plan_of(run.raise_for_status())
    assert {a: plan[a] for a in accounts["account_id"]} == old.to_dict()
    assert run.stats["continuation"]["kept"] == n
    # with the scenario's own objective (travel weighted by potential) accounts do move
    own = align.load_scenario(q2_folder, overrides=["continuity.mode=objective"])
    moved = solve_from(own, align.load_run(tmp_path / "q1")).stats["continuation"]["moved"]
    assert moved > 0
