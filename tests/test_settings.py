"""Settings: preset <- scenario.toml <- --set, every key checked, every problem named."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from align import ScenarioError, Settings, SettingsError, list_presets, load_scenario
from align.settings import KNOWN_KEYS, load_preset, parse_overrides, resolve_settings

# The scenario.toml block of DESIGN.md section 3, verbatim.
DESIGN_TOML = """
model = "balanced"
[territories]
count = 7                         # greenfield: how many territories to create
[balance.potential]               # one table per balanced column of accounts.csv
tolerance = 0.05                  # every territory within +-5% of its target
[balance.workload]
tolerance = 0.20
[objective]                       # objective = travel * TRAVEL + disruption * MOVED (raw units)
travel = 1.0                      # weight of the travel term; 0 turns it off
travel_weight = "potential"       # per-account weight of distance: "none" or a numeric column
distance_power = 1                # 1 = weighted travel (p-median); 2 = moment of inertia
disruption = 0.0                  # weight of the disruption term
disruption_measure = "accounts"   # what a move costs: "accounts" or a numeric column
[constraints]
contiguity = false                # every territory one connected piece (needs adjacency)
max_moved_share = 1.0             # at most this share of the disruption measure may move
[solver]
name = "highs"
time_limit_s = 60
gap = 0.001
seed = 0
"""


def problems_of(*args: Any, **kw: Any) -> list[str]:
    with pytest.raises(SettingsError) as info:
        resolve_settings(*args, **kw)
    return info.value.problems


def leaves(data: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in data.items():
        out += leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"]
    return out


# --------------------------------------------------------------------------------------------
# the keys


def test_known_keys_include_every_key_of_the_design() -> None:
    for key in leaves(tomllib.loads(DESIGN_TOML)):
        if key.startswith("balance."):
            key = "balance.<column>." + key.split(".")[-1]
        assert key in KNOWN_KEYS, key


def test_known_keys_are_the_design_keys_plus_pockets() -> None:
    design = set()
    for key in leaves(tomllib.loads(DESIGN_TOML)):
        if key.startswith("balance."):
            key = "balance.<column>." + key.split(".")[-1]
        design.add(key)
    extra = set(KNOWN_KEYS) - design
    names = ("min_whitespace", "radius_km", "segment", "seed", "reach_km")
    pockets = {f"pockets.{k}" for k in names}
    assert pockets <= extra
    quota = {"quota.unit", "quota.max_growth", "quota.blend.potential", "quota.components.goals"}
    assert quota <= extra
    beyond = {
        "solver.threads",
        "solver.candidates",
        "solver.method",
        "territories.regions",
        "balance_regions.<column>.tolerance",
        "continuity.mode",
        "constraints.corner_adjacency",
        "constraints.max_distance_km",
        "columns",
        "units.currency",
        "units.distance",
    }
    assert all(k.startswith(("pockets.", "quota.")) for k in extra - beyond)


def test_the_design_example_is_a_valid_scenario_toml() -> None:
    s = resolve_settings(tomllib.loads(DESIGN_TOML))
    assert s.model == "balanced"
    assert s.territories.count == 7
    assert s.balance["workload"].tolerance == 0.20
    assert s.objective.travel_weight == "potential"
    assert s.solver.time_limit_s == 60


def test_defaults_without_any_layer() -> None:
    s = resolve_settings()
    assert s == Settings()
    assert s.balance == {}
    assert (s.objective.travel, s.objective.travel_weight, s.objective.distance_power) == (
        1.0,
        "potential",
        1,
    )
    assert s.objective.disruption_measure == "accounts"
    assert s.constraints.max_moved_share == 1.0


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_resolves(name: str) -> None:
    s = resolve_settings({"model": name})
    assert s.model == name
    assert s.balance, f"preset {name} balances nothing"


# --------------------------------------------------------------------------------------------
# the layers


def test_later_layers_win_preset_then_scenario_toml_then_set() -> None:
    preset = load_preset("min-disruption")
    toml = {
        "model": "min-disruption",
        "balance": {"potential": {"tolerance": 0.07}},
        "objective": {"disruption": 5.0},
    }
    s = resolve_settings(toml, ["balance.potential.tolerance=0.03"])
    assert s.balance["potential"].tolerance == 0.03  # set in all three: --set wins
    assert s.objective.disruption == 5.0  # preset and scenario.toml: scenario.toml wins
    assert s.balance["workload"].tolerance == preset["balance"]["workload"]["tolerance"]
    assert s.constraints.max_moved_share == preset["constraints"]["max_moved_share"]
    assert s.objective.disruption_measure == preset["objective"]["disruption_measure"]


def test_set_can_choose_the_preset() -> None:
    s = resolve_settings({"model": "balanced"}, ["model=min-disruption"])
    assert s.model == "min-disruption"
    assert s.objective.disruption == load_preset("min-disruption")["objective"]["disruption"]


def test_layers_through_a_scenario_folder(write_scenario) -> None:
    folder = write_scenario(
        toml='model = "balanced"\n[balance.potential]\ntolerance = 0.3\n'
        "[solver]\ntime_limit_s = 5\n"
    )
    sc = load_scenario(folder, overrides=["solver.time_limit_s=2", "objective.travel_weight=none"])
    preset = load_preset("balanced")
    assert sc.settings.balance["potential"].tolerance == 0.3
    assert sc.settings.balance["workload"].tolerance == preset["balance"]["workload"]["tolerance"]
    assert sc.settings.solver.time_limit_s == 2
    assert sc.settings.objective.travel_weight == "none"
    assert sc.raw_settings["solver"] == {"time_limit_s": 5}


def test_dict_overrides_are_merged_like_set() -> None:
    s = resolve_settings({"objective": {"travel": 2.0}}, {"objective": {"disruption": 3.0}})
    assert (s.objective.travel, s.objective.disruption) == (2.0, 3.0)


# --------------------------------------------------------------------------------------------
# --set values


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("objective.travel=0.1", {"objective": {"travel": 0.1}}),
        ("solver.seed=3", {"solver": {"seed": 3}}),
        ("objective.travel_weight=none", {"objective": {"travel_weight": "none"}}),
        ('objective.travel_weight="revenue"', {"objective": {"travel_weight": "revenue"}}),
        ("constraints.contiguity=true", {"constraints": {"contiguity": True}}),
        ("solver.name = cbc ", {"solver": {"name": "cbc"}}),
        ("balance.potential.tolerance=5e-2", {"balance": {"potential": {"tolerance": 0.05}}}),
    ],
)
def test_set_values_are_read_as_toml_else_as_text(item: str, expected: dict[str, Any]) -> None:
    parsed = parse_overrides([item])
    assert parsed == expected
    assert type(leaf(parsed)) is type(leaf(expected))


def leaf(d: Any) -> Any:
    while isinstance(d, dict):
        (d,) = d.values()
    return d


def test_set_items_merge_into_one_table() -> None:
    assert parse_overrides(["objective.travel=1", "objective.disruption=2", "model=balanced"]) == {
        "objective": {"travel": 1, "disruption": 2},
        "model": "balanced",
    }


def test_set_without_equals_sign() -> None:
    with pytest.raises(SettingsError) as info:
        parse_overrides(["balance.potential.tolerance"])
    assert info.value.problems == [
        "--set 'balance.potential.tolerance': expected key=value, e.g. "
        "balance.potential.tolerance=0.05"
    ]


def test_set_with_empty_key() -> None:
    assert problems_of({}, ["=0.1"]) == [
        "--set '=0.1': expected key=value, e.g. balance.potential.tolerance=0.05"
    ]


def test_set_with_an_empty_part_of_the_key() -> None:
    assert problems_of({}, ["objective..travel=1"]) == [
        "--set 'objective..travel=1': 'objective..travel' is not a settings key (empty part)"
    ]


def test_set_a_table_and_a_value_of_it() -> None:
    assert problems_of({}, ["objective.travel=1", "objective=2"]) == [
        "--set 'objective=2': 'objective' is a table of settings; set one of its keys, e.g. "
        "objective.<key>=value"
    ]
    assert problems_of({}, ["model=balanced", "model.x=1"]) == [
        "--set 'model.x=1': 'model' is set as a value and as a table"
    ]


# --------------------------------------------------------------------------------------------
# unknown keys, with the nearest valid key


def test_unknown_key_in_scenario_toml_suggests_the_nearest() -> None:
    toml = {"balance": {"potential": {"tolerence": 0.1}}}
    assert problems_of(toml) == [
        "scenario.toml: unknown settings key 'balance.potential.tolerence' (did you mean "
        "'balance.potential.tolerance'?)"
    ]


def test_unknown_key_in_set_suggests_the_nearest() -> None:
    assert problems_of({}, ["objectve.travel=2"]) == [
        "--set: unknown settings key 'objectve.travel' (did you mean 'objective.travel'?)"
    ]


def test_unknown_key_inside_a_known_table() -> None:
    assert problems_of({}, ["solver.time_limit=10"]) == [
        "--set: unknown settings key 'solver.time_limit' (did you mean 'solver.time_limit_s'?)"
    ]


def test_unknown_key_without_a_near_one_has_no_suggestion() -> None:
    assert problems_of({"zzz": 1}) == ["scenario.toml: unknown settings key 'zzz'"]


def test_unknown_keys_in_a_folder_name_scenario_toml_and_set(write_scenario) -> None:
    folder = write_scenario(toml="[objectve]\ntravel = 1\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder, overrides=["balance.potential.tolerence=0.1"])
    assert info.value.problems == [
        "scenario.toml: unknown settings key 'objectve.travel' (did you mean 'objective.travel'?)",
        "--set: unknown settings key 'balance.potential.tolerence' (did you mean "
        "'balance.potential.tolerance'?)",
    ]


def test_unknown_preset_suggests_the_nearest() -> None:
    assert problems_of({"model": "balanc"}) == [
        "scenario.toml: settings key 'model': unknown preset 'balanc' (did you mean 'balanced'?); "
        f"presets: {', '.join(list_presets())}"
    ]


def test_unknown_preset_from_set_names_set() -> None:
    [msg] = problems_of({}, ["model=min-disrupton"])
    assert msg.startswith(
        "--set: settings key 'model': unknown preset 'min-disrupton' "
        "(did you mean 'min-disruption'?)"
    )


def test_preset_name_must_be_text() -> None:
    assert problems_of({"model": 3}) == [
        "scenario.toml: settings key 'model' must be a preset name such as \"balanced\" (got 3)"
    ]


# --------------------------------------------------------------------------------------------
# values


@pytest.mark.parametrize("value", ["0", "-0.1"])
def test_tolerance_must_be_positive(value: str) -> None:
    assert problems_of({}, [f"balance.potential.tolerance={value}"]) == [
        f"--set: settings key 'balance.potential.tolerance' must be greater than 0 (got {value}); "
        "0.05 means every territory within +-5% of its target"
    ]


def test_tolerance_in_scenario_toml_names_scenario_toml() -> None:
    assert problems_of({"balance": {"workload": {"tolerance": 0}}}) == [
        "scenario.toml: settings key 'balance.workload.tolerance' must be greater than 0 (got 0); "
        "0.05 means every territory within +-5% of its target"
    ]


def test_balance_rule_must_be_a_table() -> None:
    assert problems_of({"balance": {"potential": 0.05}}) == [
        "scenario.toml: settings key 'balance.potential' must be a table such as "
        "{ tolerance = 0.05 } (got 0.05)"
    ]


def test_balance_rule_needs_a_tolerance() -> None:
    assert problems_of({"balance": {"potential": {}}}) == [
        "scenario.toml: settings key 'balance.potential.tolerance' is required"
    ]


def test_distance_power_must_be_1_or_2() -> None:
    assert problems_of({}, ["objective.distance_power=3"]) == [
        "--set: settings key 'objective.distance_power' must be 1 or 2 (got 3); "
        "1 = weighted travel (p-median), 2 = moment of inertia"
    ]


def test_a_number_given_as_text() -> None:
    assert problems_of({}, ["objective.travel=abc"]) == [
        "--set: settings key 'objective.travel' must be a number (got 'abc'); 0 turns travel off"
    ]


def test_infinite_and_nan_values_are_refused() -> None:
    assert problems_of({}, ["balance.potential.tolerance=inf", "objective.travel=nan"]) == [
        "--set: settings key 'balance.potential.tolerance' must be a finite number (got inf); "
        "0.05 means every territory within +-5% of its target",
        "--set: settings key 'objective.travel' must be a finite number (got nan); "
        "0 turns travel off",
    ]


def test_share_above_one() -> None:
    assert problems_of({"constraints": {"max_moved_share": 2}}) == [
        "scenario.toml: settings key 'constraints.max_moved_share' must be less than or equal to 1 "
        "(got 2); a share between 0 and 1, e.g. 0.25"
    ]


def test_a_value_where_a_table_belongs() -> None:
    assert problems_of({"objective": 3}) == [
        "scenario.toml: settings key 'objective' must be a table of settings, not a single value "
        "(got 3)"
    ]


def test_bad_value_in_a_preset_is_named_by_the_layer_that_set_it() -> None:
    # scenario.toml breaks a key the preset sets: the message names scenario.toml
    assert problems_of({"model": "balanced", "solver": {"gap": 2}}) == [
        "scenario.toml: settings key 'solver.gap' must be less than 1 (got 2); "
        "a share, e.g. 0.001 for 0.1%"
    ]


def test_every_problem_of_every_layer_at_once() -> None:
    toml = {"model": "balanced", "objectve": {"travel": 1}, "solver": {"time_limit_s": -1}}
    assert problems_of(toml, ["balance.potential.tolerance=0", "noequals", "solver.gapp=0.1"]) == [
        "--set 'noequals': expected key=value, e.g. balance.potential.tolerance=0.05",
        "scenario.toml: unknown settings key 'objectve.travel' (did you mean 'objective.travel'?)",
        "--set: unknown settings key 'solver.gapp' (did you mean 'solver.gap'?)",
        "--set: settings key 'balance.potential.tolerance' must be greater than 0 (got 0); "
        "0.05 means every territory within +-5% of its target",
        "scenario.toml: settings key 'solver.time_limit_s' must be greater than 0 (got -1); "
        "seconds, e.g. 60",
    ]


def test_settings_error_is_a_scenario_error_with_exit_code_2() -> None:
    err = SettingsError("x")
    assert isinstance(err, ScenarioError) and err.exit_code == 2 and err.problems == ["x"]


# --------------------------------------------------------------------------------------------
# scenario.toml as a file


def test_invalid_toml_names_the_file_and_the_line(write_scenario) -> None:
    folder = write_scenario(toml="[balance.potential\ntolerance = 0.1\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    assert info.value.problems == [
        "scenario.toml: not valid TOML (Expected ']' at the end of a table declaration "
        "(at line 1, column 19))"
    ]


def test_scenario_toml_that_is_not_utf8(write_scenario) -> None:
    folder = write_scenario(toml=b"model = '\xff'\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    assert info.value.problems == ["scenario.toml: not valid TOML (the file is not UTF-8 text)"]


def test_invalid_toml_and_data_problems_are_reported_together(
    write_scenario, base_accounts
) -> None:
    base_accounts[0]["potential"] = -1
    folder = write_scenario(accounts=base_accounts, toml="model = \n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    assert info.value.problems == [
        "scenario.toml: not valid TOML (Invalid value (at line 1, column 9))",
        "accounts.csv row 2: potential must be >= 0 (got -1)",
    ]


def test_empty_scenario_toml_means_defaults(write_scenario) -> None:
    sc = load_scenario(write_scenario(toml=""))
    assert sc.settings == Settings()
