"""What the service hands out: strict JSON, named runs, API docs that work offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import Server, database, wait_for


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    work = tmp_path_factory.mktemp("serve-outputs")
    with database("sqlite", work) as url:
        srv = Server(url, work).start()
        try:
            with srv.client() as c:
                yield c
        finally:
            srv.stop()


def strict(response: httpx.Response) -> Any:
    """The body, refused if it holds NaN or Infinity (invalid JSON for most parsers)."""

    def refuse(name: str) -> None:
        raise AssertionError(f"the response holds {name}: {response.text[:200]}")

    return json.loads(response.text, parse_constant=refuse)


# two accounts, three reps: the far rep gets nothing, so potential.max_min_ratio is infinite
EMPTY_REP = {
    "name": "an empty territory",
    "accounts": [
        {"account_id": "A1", "x": 0, "y": 0, "potential": 10},
        {"account_id": "A2", "x": 1, "y": 0, "potential": 20},
    ],
    "territories": [
        {"territory_id": "T1", "x": 0, "y": 0},
        {"territory_id": "T2", "x": 1, "y": 0},
        {"territory_id": "T3", "x": 100, "y": 0},
    ],
    # settings of its own (no band): without any the balanced preset would apply
    "settings": {"solver": {"gap": 0.001}},
}


def test_a_named_run_keeps_its_name_and_its_json_is_strict(client: httpx.Client) -> None:
    r = client.post("/scenarios", json=EMPTY_REP)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = client.post(f"/scenarios/{sid}/runs", json={"name": "FY27 balanced +-5%"})
    assert r.status_code == 202, r.text
    done = wait_for(client, r.json()["id"])
    assert done["status"] == "succeeded", (done.get("reason"), done)
    got = client.get(f"/runs/{done['id']}")
    body = strict(got)
    assert body["name"] == "FY27 balanced +-5%"
    assert body["kpis"]["after"]["potential.max_min_ratio"] is None  # infinite: null
    assert body["kpis"]["after"]["accounts_per_territory.min"] == 0
    listed = strict(client.get("/runs", params={"scenario": sid}))["runs"]
    assert [x["name"] for x in listed] == ["FY27 balanced +-5%"]
    unnamed = client.post(f"/scenarios/{sid}/runs", json={})
    assert strict(client.get(unnamed.json()["url"]))["name"] is None


@pytest.mark.parametrize("name", ["", "bad\nname", "x" * 201])
def test_a_run_name_must_be_one_line_of_at_most_200_characters(
    client: httpx.Client, name: str
) -> None:
    sid = client.post("/scenarios", json=EMPTY_REP).json()["id"]
    r = client.post(f"/scenarios/{sid}/runs", json={"name": name})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "name"]], r.text


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css"]),
        ("/redoc", ["redoc.standalone.js"]),
    ],
)
def test_api_docs_load_their_assets_from_the_service_itself(
    client: httpx.Client, page: str, assets: list[str]
) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assert "cdn." not in html.text and "googleapis" not in html.text
    for asset in assets:
        url = f"/static-offline-docs/{asset}"
        assert url in html.text
        got = client.get(url)
        assert got.status_code == 200 and len(got.content) > 100_000
    assert client.get("/openapi.json").json()["info"]["title"] == "align"


def test_package_ships_the_docs_assets() -> None:
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"} <= {
        p.name for p in static.iterdir()
    }
