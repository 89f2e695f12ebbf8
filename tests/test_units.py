"""One way to show numbers with units, and to read amounts as people type them."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from align.errors import ScenarioError
from align.settings import Settings
from align.units import DASH, Units, kind_of, parse_amount, strict_json


def test_units_show_money_shares_and_distances_with_their_unit() -> None:
    u = Units()
    assert u.money(5_526_000) == "$5,526,000"
    assert u.money(-1200.4) == "-$1,200"
    assert u.pct(2.276) == "227.6%"
    assert u.pct(0.0727, sign=True) == "+7.3%"
    assert u.dist(81.66) == "81.7 km"
    assert u.kpi("potential.max_min_ratio", 2) == "2.00×"
    assert u.kpi("moved_accounts", 1785.0) == "1,785"
    assert u.change("potential.max_abs_deviation", 0.33, 0.05) == "-28.0 pts"
    assert u.change("mean_distance", 26.5, 81.7) == "+55.2 km"


def test_currency_and_distance_unit_come_from_the_settings() -> None:
    s = Settings.model_validate({"units": {"currency": "EUR", "distance": "mi"}})
    u = Units.of(s)
    assert u.money(1234.6) == "1,235 EUR"
    assert u.dist(3) == "3.0 mi"
    assert Units.of({"units": {"currency": "€"}}).money(10) == "€10"  # run.json's settings
    assert Units.of({}).money(10) == "$10"


@pytest.mark.parametrize("v", [math.inf, -math.inf, math.nan, None, "n/a"])
def test_values_that_are_not_finite_show_a_dash_never_inf(v: object) -> None:
    u = Units()
    for kind in ("money", "pct", "spct", "dist", "ratio", "count", "num"):
        assert u.format(v, kind) in (DASH, "n/a")
    assert u.change("potential.max_min_ratio", v, 1.0) == DASH
    assert u.change("potential.max_min_ratio", 1.0, v) == DASH


def test_kpi_keys_have_the_kind_a_reader_expects() -> None:
    assert kind_of("potential.cv") == "pct"
    assert kind_of("moved_share.potential") == "pct"
    assert kind_of("weighted_mean_distance") == "dist"
    assert kind_of("fair_share") == "money"
    assert kind_of("quota") == "money"
    assert kind_of("growth.median") == "spct"
    assert kind_of("accounts_per_territory.min") == "count"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("144000000", 144e6),
        ("144,000,000", 144e6),
        ("144_000_000", 144e6),
        ("144M", 144e6),
        ("144m", 144e6),
        ("$1.2M", 1.2e6),
        ("250k", 250e3),
        ("1.5B", 1.5e9),
        ("-2,500", -2500.0),
        (" 48000000 ", 48e6),
    ],
)
def test_parse_amount_reads_amounts_as_people_write_them(text: str, value: float) -> None:
    assert parse_amount(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["144MM M", "1,44,000", "twelve", "", "12%", "1e400"])
def test_parse_amount_names_the_text_and_the_forms_it_reads(text: str) -> None:
    with pytest.raises(ScenarioError) as e:
        parse_amount(text, what="--goal")
    assert e.value.problems == [
        f"--goal {text!r}: not an amount; write e.g. 144000000, 144,000,000 or 144M "
        "(k = thousand, M = million, B = billion)"
    ]


@given(st.integers(min_value=0, max_value=10**15))
def test_parse_amount_reads_back_any_grouped_whole_amount(n: int) -> None:
    assert parse_amount(f"{n:,}") == n
    assert parse_amount(Units().money(n)) == n


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


@given(json_values)
def test_strict_json_has_no_nan_or_infinity_and_keeps_finite_values(value: object) -> None:
    clean = strict_json(value)
    text = json.dumps(clean, allow_nan=False)  # raises on NaN or infinity
    assert json.loads(text) == clean
    if isinstance(value, float) and math.isfinite(value):
        assert clean == value
