"""Maps and balance charts: what is drawn, checked on the artists and on the PNG written."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import grid_units, write_polygon_scenario
from matplotlib.collections import LineCollection, PatchCollection, PathCollection
from matplotlib.colors import to_rgb
from typer.testing import CliRunner

import align
from align.cli import app
from align.plots import CONTRAST, DPI, plot_balance, plot_map, save, territory_colours

TERRITORIES = pd.DataFrame(
    {
        "territory_id": ["T1", "T2", "T3"],
        "name": ["Denver", "Omaha", "Dallas"],
        "lat": [39.74, 41.26, 32.78],
        "lon": [-104.99, -95.94, -96.80],
    }
)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def point_run() -> tuple[align.Scenario, align.Run]:
    rng = np.random.default_rng(3)
    k = np.repeat(np.arange(3), 12)
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:02d}" for i in range(36)],
            "lat": TERRITORIES["lat"].to_numpy()[k] + rng.normal(0, 0.8, 36),
            "lon": TERRITORIES["lon"].to_numpy()[k] + rng.normal(0, 0.8, 36),
            "potential": rng.uniform(50, 150, 36).round(),
        }
    )
    settings = {"balance": {"potential": {"tolerance": 0.2}}, "solver": {"time_limit_s": 10}}
    sc = align.make_scenario(accounts, TERRITORIES, settings=settings, name="plains")
    run = align.solve(sc)
    assert run.has_plan
    return sc, run


@pytest.fixture(scope="module")
def polygon_run(tmp_path_factory: pytest.TempPathFactory) -> align.Run:
    base = tmp_path_factory.mktemp("poly")
    units = grid_units(4, 4)
    centres = units.geometry.centroid.to_crs(4326)
    homes = {"NW": 12, "NE": 15, "SW": 0, "SE": 3}  # corner squares
    ter = [
        {"territory_id": t, "lat": centres.iloc[i].y, "lon": centres.iloc[i].x}
        for t, i in homes.items()
    ]
    toml = '[balance.potential]\ntolerance = 0.01\n[objective]\ntravel_weight = "none"\n'
    folder = write_polygon_scenario(base / "grid", units, ter, toml=toml)
    run = align.solve(align.load_scenario(folder))
    assert run.status == "optimal"
    return align.load_run(run.write(base / "run"))


def test_point_map_colours_accounts_by_territory_with_labelled_home_bases(
    point_run: tuple[align.Scenario, align.Run], tmp_path: Path
) -> None:
    sc, run = point_run
    ax = plot_map(run, scenario=sc)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "T1 Denver",
        "T2 Omaha",
        "T3 Dallas",
        "home base",
    ]
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(dots) == 4  # the accounts of each territory, then the home bases
    assert run.assignments is not None
    plan = run.assignments.set_index("account_id")["territory_id"]
    acc = sc.accounts.set_index("account_id")
    for tid, coll in zip(TERRITORIES["territory_id"], dots[:3], strict=True):
        mine = acc.loc[plan.index[plan == tid], ["lon", "lat"]].to_numpy()
        assert np.allclose(np.sort(coll.get_offsets(), axis=0), np.sort(mine, axis=0))
    assert np.allclose(dots[3].get_offsets(), TERRITORIES[["lon", "lat"]].to_numpy())
    assert sorted(t.get_text() for t in ax.texts) == ["T1", "T2", "T3"]
    path = save(ax, tmp_path / "map.png")
    w, h = png_size(path)
    size = ax.get_figure(root=True).get_size_inches() * DPI
    assert (w, h) == (round(size[0]), round(size[1]))
    assert w > h > 300


def test_point_map_reads_the_scenario_folder_the_run_names(tmp_path: Path) -> None:
    run = align.solve(align.load_scenario("data/examples/two-reps"))
    ax = run.plot_map()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "T1 West",
        "T2 East",
        "home base",
    ]
    assert ax.get_xlabel() == "x" and ax.get_aspect() == 1.0


def test_polygon_map_fills_one_collection_per_territory_with_contrasting_neighbours(
    polygon_run: align.Run, tmp_path: Path
) -> None:
    ax = polygon_run.plot_map()
    fills = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert [c.get_gid() for c in fills] == ["NW", "NE", "SW", "SE"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["NW", "NE", "SW", "SE", "home base"]
    # the 16 squares' borders, read back from the scenario folder the run names
    borders = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(borders) == 1 and len(borders[0].get_segments()) == 16
    # touching territories (from the written shapes) get clearly different colours
    assert polygon_run.path is not None
    shapes = gpd.read_file(polygon_run.path / "territories.geojson").set_index("territory_id")
    colour = {c.get_gid(): np.array(c.get_facecolor()[0][:3]) for c in fills}
    touching = 0
    for a in colour:
        for b in colour:
            if a < b and shapely.intersects(shapes.geometry[a], shapes.geometry[b]):
                touching += 1
                assert np.linalg.norm(colour[a] - colour[b]) >= CONTRAST
    assert touching >= 3
    assert sorted(t.get_text() for t in ax.texts) == ["NE", "NW", "SE", "SW"]
    w, h = png_size(save(ax, tmp_path / "m.png"))
    assert w > 600 and h > 300


def test_colours_stay_distinct_for_25_territories_and_neighbours_differ_beyond() -> None:
    def grid_pairs(n: int) -> np.ndarray:
        return np.array(
            [(r * n + c, r * n + c + 1) for r in range(n) for c in range(n - 1)]
            + [(r * n + c, (r + 1) * n + c) for r in range(n - 1) for c in range(n)]
        )

    pairs = grid_pairs(5)
    colours = territory_colours(25, pairs)
    assert len({tuple(c) for c in colours}) == 25
    gaps = np.linalg.norm(colours[pairs[:, 0]] - colours[pairs[:, 1]], axis=1)
    assert gaps.min() >= CONTRAST
    pairs = grid_pairs(10)  # 100 territories: more than the palette, colours repeat
    colours = territory_colours(100, pairs)
    gaps = np.linalg.norm(colours[pairs[:, 0]] - colours[pairs[:, 1]], axis=1)
    assert gaps.min() > 0.2
    assert not any(np.allclose(c, to_rgb("#7f7f7f")) for c in colours)


def test_balance_chart_shows_totals_against_targets_and_bands(
    point_run: tuple[align.Scenario, align.Run],
) -> None:
    _, run = point_run
    assert run.territories is not None
    ax = plot_balance(run, "potential")
    band, bars = ax.containers  # the band boxes, then the totals
    target = run.territories["potential_target"].to_numpy()
    assert [r.get_y() for r in band] == pytest.approx(target * 0.8)
    assert [r.get_y() + r.get_height() for r in band] == pytest.approx(target * 1.2)
    assert [r.get_height() for r in bars] == pytest.approx(run.territories["potential"].tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["T1", "T2", "T3"]
    ax = plot_balance(run)  # every balanced measure, as deviations in percent
    (dev,) = ax.containers
    expected = run.territories["potential_deviation"].to_numpy() * 100
    assert [r.get_height() for r in dev] == pytest.approx(expected)


def test_balance_of_an_unknown_measure_names_the_known_ones(
    point_run: tuple[align.Scenario, align.Run],
) -> None:
    _, run = point_run
    with pytest.raises(align.RunError) as e:
        plot_balance(run, "potental")
    assert str(e.value) == (
        "run: no measure 'potental' in territories.csv (did you mean 'potential'?); measures: "
        "potential, workload"
    )


def test_a_run_without_a_plan_has_no_map() -> None:
    run = align.Run(status="infeasible", scenario="s")
    with pytest.raises(align.RunError) as e:
        plot_map(run)
    assert str(e.value) == "s: status infeasible, it holds no plan to draw"


def test_align_map_writes_map_png_into_the_run_folder(polygon_run: align.Run) -> None:
    assert polygon_run.path is not None
    res = CliRunner().invoke(app, ["map", str(polygon_run.path)])
    assert res.exit_code == 0, res.output
    path = polygon_run.path / "map.png"
    assert res.output.strip() == f"wrote {path}"
    w, h = png_size(path)
    assert w > h > 300


def test_import_align_does_not_import_matplotlib() -> None:
    code = "import sys, align; print('matplotlib' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "False", res.stderr


def test_a_point_map_of_an_in_memory_scenario_needs_the_scenario(
    point_run: tuple[align.Scenario, align.Run],
) -> None:
    _, run = point_run
    assert run.scenario_path == ""
    with pytest.raises(align.RunError) as e:
        run.plot_map()
    assert str(e.value) == (
        "run plains: it does not name its scenario folder; pass scenario= (the scenario it was "
        "solved from)"
    )


def test_a_polygon_run_without_territories_geojson_is_drawn_from_its_scenario(
    polygon_run: align.Run, tmp_path: Path
) -> None:
    import shutil

    assert polygon_run.path is not None
    copy = Path(shutil.copytree(polygon_run.path, tmp_path / "old"))
    (copy / "territories.geojson").unlink()
    ax = align.load_run(copy).plot_map()
    fills = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert [c.get_gid() for c in fills] == ["NW", "NE", "SW", "SE"]
