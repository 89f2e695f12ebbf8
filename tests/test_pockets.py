"""Opportunity pockets: planted pockets are found, the estimator follows sklearn, the CLI writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

import align
from align import ScenarioError, WhitespacePockets, find_pockets
from align.geo import haversine_km

CENTRES = [(40.0, -95.0), (37.0, -88.0), (43.0, -84.0), (38.5, -99.0)]
SEGMENTS = ["Retail", "Pharma", "Finance"]
SETTINGS = {"pockets": {"radius_km": 20.0, "min_whitespace": 500_000.0}}


def planted(
    seed: int = 7, n_background: int = 300, planar: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Accounts with 4 planted pockets (label 0..3) and thin background (label -1)."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for k, (lat, lon) in enumerate(CENTRES):
        n = int(rng.integers(30, 61))
        r = 12.0 * np.sqrt(rng.random(n))  # km, uniform in a disk
        t = 2 * np.pi * rng.random(n)
        dlat = r * np.sin(t) / 111.2
        dlon = r * np.cos(t) / (111.2 * np.cos(np.radians(lat)))
        pot = rng.uniform(100_000, 200_000, n)
        rev = rng.uniform(0, 20_000, n)
        for i in range(n):
            seg = SEGMENTS[k % 3] if rng.random() < 0.8 else SEGMENTS[(k + 1) % 3]
            rows.append((lat + dlat[i], lon + dlon[i], pot[i], rev[i], seg))
            truth.append(k)
    lat_bg = rng.uniform(34.0, 45.0, n_background)
    lon_bg = rng.uniform(-102.0, -80.0, n_background)
    for i in range(n_background):
        pot = rng.uniform(20_000, 40_000)
        rows.append((lat_bg[i], lon_bg[i], pot, rng.uniform(10_000, pot), SEGMENTS[i % 3]))
        truth.append(-1)
    acc = pd.DataFrame(rows, columns=["lat", "lon", "potential", "revenue", "segment"])
    acc.insert(0, "account_id", [f"A{i:04d}" for i in range(len(acc))])
    ter = pd.DataFrame(
        {
            "territory_id": ["T1", "T2", "T3", "T4"],
            "lat": [36.0, 44.0, 36.0, 44.0],
            "lon": [-100.0, -100.0, -82.0, -82.0],
        }
    )
    d = haversine_km(
        acc["lat"].to_numpy()[:, None],
        acc["lon"].to_numpy()[:, None],
        ter["lat"].to_numpy()[None, :],
        ter["lon"].to_numpy()[None, :],
    )
    acc["current_territory"] = ter["territory_id"].to_numpy()[d.argmin(axis=1)]
    if planar:  # an equirectangular projection in km
        for frame in (acc, ter):
            frame["x"] = frame.pop("lon") * 111.2 * np.cos(np.radians(40.0))
            frame["y"] = frame.pop("lat") * 111.2
    return acc, ter, np.array(truth)


@pytest.fixture(scope="module")
def scenario_and_truth() -> tuple[align.Scenario, np.ndarray]:
    acc, ter, truth = planted()
    return align.make_scenario(acc, ter, settings=SETTINGS), truth


def test_planted_pockets_are_found(scenario_and_truth: tuple[align.Scenario, np.ndarray]) -> None:
    sc, truth = scenario_and_truth
    res = find_pockets(sc)
    assert res.n_pockets == 4
    assert adjusted_rand_score(truth, res.labels) >= 0.9
    assert list(res.pockets["pocket_id"]) == ["P01", "P02", "P03", "P04"]
    assert res.pockets["whitespace"].is_monotonic_decreasing
    for lat, lon in CENTRES:
        d = haversine_km(lat, lon, res.pockets["lat"], res.pockets["lon"])
        k = int(np.argmin(d))
        assert d[k] <= max(res.pockets["radius_80_km"].iloc[k], 20.0)
    background_in_pockets = int(((truth == -1) & (res.labels >= 0)).sum())
    assert background_in_pockets <= 5
    assert set(res.members.columns) == {"account_id", "pocket_id"}
    assert len(res.members) == int((res.labels >= 0).sum())
    # owners are the nearest territory; every planted centre is far from every home base
    assert (res.pockets["nearest_distance_km"] > 100).all()
    assert (res.pockets["far_owner_share"] > 0.99).all()
    assert (res.pockets["dominant_segment_share"] > 0.5).all()


def test_same_seed_same_result(scenario_and_truth: tuple[align.Scenario, np.ndarray]) -> None:
    sc, _ = scenario_and_truth
    a, b = find_pockets(sc), find_pockets(sc)
    pd.testing.assert_frame_equal(a.pockets, b.pockets)
    pd.testing.assert_frame_equal(a.members, b.members)


def test_settings_and_segment(scenario_and_truth: tuple[align.Scenario, np.ndarray]) -> None:
    sc, _ = scenario_and_truth
    # a neighbourhood too small for the threshold: no pocket at all
    assert find_pockets(sc, settings={"min_whitespace": 1e9}).n_pockets == 0
    res = find_pockets(sc, settings={"segment": "Retail"}, by_segment=True)
    assert (res.pockets["dominant_segment"] == "Retail").all()
    assert res.by_segment is not None
    assert set(res.by_segment["segment"]) <= set(SEGMENTS)
    assert list(res.by_segment.columns[:2]) == ["segment", "pocket_id"]
    with pytest.raises(ScenarioError, match="unknown segment 'Nope'"):
        find_pockets(sc, settings={"segment": "Nope"})


def test_no_whitespace_is_a_clear_error() -> None:
    acc, ter, _ = planted(n_background=20)
    acc["revenue"] = acc["potential"]
    sc = align.make_scenario(acc, ter, settings=SETTINGS)
    with pytest.raises(ScenarioError, match="no account has whitespace"):
        find_pockets(sc)


def test_planar_scenarios_use_coordinate_units() -> None:
    acc, ter, truth = planted(planar=True)
    sc = align.make_scenario(acc, ter, settings=SETTINGS)
    res = find_pockets(sc)
    assert res.n_pockets == 4
    assert {"x", "y"} <= set(res.pockets.columns)
    assert adjusted_rand_score(truth, res.labels) >= 0.9


def test_estimator_follows_sklearn_conventions() -> None:
    acc, _, truth = planted(n_background=50)
    ws = np.maximum(acc["potential"] - acc["revenue"], 0).to_numpy()
    est = WhitespacePockets(radius_km=20.0, min_whitespace=500_000.0, seed=3)
    params = est.get_params()
    assert params == {
        "radius_km": 20.0,
        "min_whitespace": 500_000.0,
        "seed": 3,
        "metric": "haversine",
        "max_radius_km": None,
        "min_density_ratio": 5.0,
    }
    assert clone(est).get_params() == params
    assert est.set_params(seed=3) is est
    X = acc[["lat", "lon"]].to_numpy()
    assert est.fit(X, sample_weight=ws) is est
    assert len(est.labels_) == len(X)
    assert est.n_pockets_ == 4 and est.centroids_.shape == (4, 2)
    assert adjusted_rand_score(truth, est.labels_) >= 0.9
    assert np.array_equal(est.fit_predict(X, sample_weight=ws), est.labels_)


def _folder(tmp_path: Path, n_background: int = 120) -> Path:
    acc, ter, _ = planted(n_background=n_background)
    folder = tmp_path / "sc"
    folder.mkdir()
    acc.to_csv(folder / "accounts.csv", index=False)
    ter.to_csv(folder / "territories.csv", index=False)
    (folder / "scenario.toml").write_text("[pockets]\nradius_km = 20\nmin_whitespace = 500000\n")
    return folder


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "align.cli", "pockets", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_writes_pockets_and_suggestions(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    out = tmp_path / "out"
    done = _cli(str(folder), "--out", str(out), "--suggest", "2", "--by-segment")
    assert done.returncode == 0, done.stderr
    for name in ("pockets.csv", "pocket_members.csv", "pockets.png", "pockets_by_segment.csv"):
        assert (out / name).is_file(), name
    pockets = pd.read_csv(out / "pockets.csv")
    assert len(pockets) == 4 and list(pockets.columns[:3]) == ["pocket_id", "lat", "lon"]
    sug = pd.read_csv(out / "suggestions.csv")
    assert list(sug["scenario"]) == ["baseline", "+P01", "+P02", "+all"]
    assert set(sug["status"]) <= {"optimal", "feasible"}
    assert (sug["time_limit_s"] <= 30).all()
    # a seat at a pocket brings its whitespace within reach
    assert (sug["whitespace_within_reach.change"].iloc[1:] > 0).all()
    assert "P01" in done.stdout and "suggestions.csv" in done.stdout


def test_cli_unknown_segment_is_a_message(tmp_path: Path) -> None:
    folder = _folder(tmp_path, n_background=10)
    done = _cli(str(folder), "--out", str(tmp_path / "o"), "--set", "pockets.segment=Nope")
    assert done.returncode == 2
    assert "unknown segment 'Nope'" in done.stderr
    assert "Traceback" not in done.stderr


def test_owners_come_from_the_run(scenario_and_truth: tuple[align.Scenario, np.ndarray]) -> None:
    sc, truth = scenario_and_truth
    acc, ter, _ = planted()
    ter = pd.concat(
        [ter, pd.DataFrame([{"territory_id": "T5", "lat": CENTRES[0][0], "lon": CENTRES[0][1]}])],
        ignore_index=True,
    )
    sc5 = align.make_scenario(acc, ter, settings=SETTINGS)
    owner = np.where(truth == 0, "T5", acc["current_territory"].to_numpy())
    run = align.Run(
        status="optimal",
        assignments=pd.DataFrame({"account_id": acc["account_id"], "territory_id": owner}),
    )
    today, planned = find_pockets(sc5), find_pockets(sc5, run=run)
    k = int(np.argmin(haversine_km(*CENTRES[0], today.pockets["lat"], today.pockets["lon"])))
    assert today.pockets["far_owner_share"].iloc[k] > 0.99
    # beyond radius_80_km counts as far: about a fifth of the whitespace, none with some reach
    assert planned.pockets["far_owner_share"].iloc[k] <= 0.25
    reach = find_pockets(sc5, run=run, settings={"reach_km": 5.0})
    assert reach.pockets["far_owner_share"].iloc[k] < 0.01
    assert planned.pockets["nearest_territory"].iloc[k] == "T5"
    with pytest.raises(align.AlignError, match="no assignments"):
        find_pockets(sc5, run=align.Run(status="infeasible"))


def with_heavy_background(
    n_background: int, low: float, high: float, seed: int = 7
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The planted pockets in a background whose whitespace alone meets the density rule
    almost everywhere (each account low, many of them): DBSCAN chains it over the map."""
    acc, ter, truth = planted(seed=seed, n_background=n_background)
    rng = np.random.default_rng(seed + 1)
    bg = truth == -1
    acc.loc[bg, "potential"] = rng.uniform(low, high, int(bg.sum())) + 1_000
    acc.loc[bg, "revenue"] = 1_000.0
    return acc, ter, truth


@pytest.mark.parametrize(
    ("n_background", "low", "high", "radius_km"),
    [(3000, 20_000, 60_000, 50.0), (2000, 40_000, 80_000, 50.0), (2000, 10_000, 50_000, 30.0)],
)
def test_pockets_are_places_and_never_background_alone(
    n_background: int, low: float, high: float, radius_km: float
) -> None:
    acc, ter, truth = with_heavy_background(n_background, low, high)
    sc = align.make_scenario(acc, ter, settings={"pockets": {"radius_km": radius_km}})
    res = find_pockets(sc)
    assert res.n_pockets == 4
    assert adjusted_rand_score(truth, res.labels) >= 0.9
    pts = acc[["lat", "lon"]].to_numpy()
    for k, row in res.pockets.iterrows():
        members = res.labels == k
        assert (truth[members] >= 0).mean() > 0.8  # planted accounts, not background
        d = haversine_km(pts[members, 0], pts[members, 1], row["lat"], row["lon"])
        assert d.max() <= res.max_radius_km  # local: within the radius of its centre
    # the data span about 2,300 km: the default radius is 5% of that, at least 2 x radius_km
    assert res.max_radius_km == pytest.approx(max(2 * radius_km, 114.0), abs=6.0)


def test_the_locality_radius_and_density_ratio_are_settings() -> None:
    acc, ter, truth = with_heavy_background(2000, 40_000, 80_000)
    loose = {"radius_km": 50.0, "max_radius_km": 5000.0, "min_density_ratio": 0.0}
    res = find_pockets(align.make_scenario(acc, ter, settings={"pockets": loose}))
    assert res.max_radius_km == 5000.0
    # no density rule and no locality: the background chains into country-wide clusters
    assert adjusted_rand_score(truth, res.labels) < 0.5
    with pytest.raises(ScenarioError, match="pockets.max_radius_km. must be greater than 0"):
        align.make_scenario(acc, ter, settings={"pockets": {"max_radius_km": -1}})
