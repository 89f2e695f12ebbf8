"""The planning room's territory outlines: polygons dissolved per territory on the server, and
updated for the territories a hand move touched."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from align.service import create_app
from align.service.config import ServiceConfig
from align.shapes import adjacency_pairs

ROOT = Path(__file__).resolve().parents[1]
COUNTIES = ROOT / "data/examples/counties"
PAGE = {"X-Align-Page": "1"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    work = tmp_path_factory.mktemp("outlines")
    app = create_app(ServiceConfig(database_url=f"sqlite:///{work / 'a.db'}"), run_workers=True)
    with TestClient(app) as c:
        yield c


def solve(c: TestClient, folder: Path, names: tuple[str, ...]) -> str:
    files = [("files", (n, (folder / n).read_bytes())) for n in names]
    sid = c.post("/scenarios", files=files).json()["id"]
    run = c.post(f"/scenarios/{sid}/runs", json={}).json()["id"]
    for _ in range(600):
        body = c.get(f"/runs/{run}").json()
        if body["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert body["status"] == "succeeded", str(body)
    return str(run)


def pieces(owner: dict[str, str]) -> dict[str, int]:
    """How many connected pieces each territory is, from the counties' shared borders."""
    units = gpd.read_file(COUNTIES / "accounts.geojson")
    pairs = adjacency_pairs(units.geometry, units["account_id"])
    out = {}
    for t in set(owner.values()):
        g = nx.Graph()
        g.add_nodes_from(a for a, o in owner.items() if o == t)
        g.add_edges_from((a, b) for a, b in pairs.itertuples(index=False)
                         if owner[a] == t and owner[b] == t)  # fmt: skip
        out[t] = nx.number_connected_components(g)
    return out


@pytest.fixture(scope="module")
def counties(client: TestClient) -> str:
    return solve(client, COUNTIES, ("accounts.geojson", "territories.csv", "scenario.toml"))


def test_outlines_are_one_union_per_territory_and_one_polygon_where_contiguous(
    client: TestClient, counties: str
) -> None:
    plan = client.get(f"/runs/{counties}/plan").json()
    assert plan["outlines"] == "dissolved"
    owner = dict(zip(plan["accounts"]["id"], plan["accounts"]["plan"], strict=True))
    body = client.get(f"/runs/{counties}/outlines").json()
    assert body["type"] == "FeatureCollection" and body["version"] == 0
    feats = {f["properties"]["territory_id"]: f for f in body["features"]}
    assert sorted(feats) == ["T1", "T2", "T3", "T4"]
    units = gpd.read_file(COUNTIES / "accounts.geojson").set_index("account_id")
    for t, n in pieces(owner).items():
        f = feats[t]
        mine = [a for a, o in owner.items() if o == t]
        assert f["properties"]["units"] == len(mine)
        assert f["properties"]["parts"] == n
        assert f["geometry"]["type"] == ("Polygon" if n == 1 else "MultiPolygon")
        shape = shapely.geometry.shape(f["geometry"])
        union = shapely.union_all(units.loc[mine].geometry.to_numpy())
        # simplified for the map, yet the same area within 1%
        assert shape.area == pytest.approx(union.area, rel=0.01)


def test_a_hand_move_redraws_the_two_territories_it_touched(
    client: TestClient, counties: str
) -> None:
    plan = client.get(f"/runs/{counties}/plan").json()
    owner = dict(zip(plan["accounts"]["id"], plan["accounts"]["plan"], strict=True))
    # a county of T1 on T1's border with another territory
    units = gpd.read_file(COUNTIES / "accounts.geojson")
    pairs = adjacency_pairs(units.geometry, units["account_id"])
    a, b = next((a, b) for a, b in pairs.itertuples(index=False) if owner[a] != owner[b])
    src, dst = owner[a], owner[b]
    move = {"accounts": [a], "territory": dst, "reason": "border", "base": 0}
    r = client.post(f"/runs/{counties}/changes", headers=PAGE, json=move)
    assert r.status_code == 201, r.text
    body = client.get(f"/runs/{counties}/outlines?territories={src},{dst}").json()
    assert body["version"] == 1
    feats = {f["properties"]["territory_id"]: f["properties"] for f in body["features"]}
    mine = sum(o == src for o in owner.values())
    assert set(feats) == ({src, dst} if mine > 1 else {dst})
    assert feats[dst]["units"] == sum(o == dst for o in owner.values()) + 1
    owner[a] = dst
    n = pieces(owner)
    assert feats[dst]["parts"] == n[dst]
    if mine > 1:
        assert feats[src]["units"] == mine - 1 and feats[src]["parts"] == n[src]


def test_a_scenario_of_points_has_hulls_and_no_outlines(client: TestClient) -> None:
    names = ("accounts.csv", "territories.csv", "scenario.toml")
    run = solve(client, ROOT / "data/examples/two-reps", names)
    assert client.get(f"/runs/{run}/plan").json()["outlines"] == "hulls"
    r = client.get(f"/runs/{run}/outlines")
    assert r.status_code == 409
    assert r.json()["detail"] == (
        f"run {run}'s scenario has no polygons (its accounts are points), so its territories "
        "have no dissolved outlines; the map draws hulls"
    )


def test_a_territory_in_two_pieces_is_one_multipolygon_feature() -> None:
    from align.service.web.outlines import dissolved

    squares = shapely.box([0, 1, 2, 3], 0, [1, 2, 3, 4], 1)  # four unit squares in a row
    ids = pd.Index(["a", "b", "c", "d"])
    where = pd.Series({"a": "T1", "b": "T2", "c": "T1", "d": "T1"})
    feats = {f["properties"]["territory_id"]: f for f in dissolved(ids, squares, where,
                                                                   ["T1", "T2", "T3"])}  # fmt: skip
    assert sorted(feats) == ["T1", "T2"]  # T3 has no units: no feature
    t1, t2 = feats["T1"], feats["T2"]
    assert t1["properties"] == {"territory_id": "T1", "units": 3, "parts": 2}
    assert t1["geometry"]["type"] == "MultiPolygon"
    assert shapely.geometry.shape(t1["geometry"]).area == pytest.approx(3.0)
    assert t2["properties"] == {"territory_id": "T2", "units": 1, "parts": 1}
    assert shapely.geometry.shape(t2["geometry"]).equals(shapely.box(1, 0, 2, 1))
