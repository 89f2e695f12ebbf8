"""The planning room's quota page is told when the quotas changed under it: an edit sent with
the version it read (If-Match) is refused once another version was made from the proposal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from align.service import create_app
from align.service.config import ServiceConfig

ROOT = Path(__file__).resolve().parents[1]
TWO = ROOT / "data/examples/two-reps"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    work = tmp_path_factory.mktemp("quotas")
    app = create_app(ServiceConfig(database_url=f"sqlite:///{work / 'a.db'}"))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def proposal(client: TestClient) -> str:
    names = ("accounts.csv", "territories.csv", "scenario.toml")
    files = [("files", (n, (TWO / n).read_bytes())) for n in names]
    sid = client.post("/scenarios", files=files).json()["id"]
    run = client.post(f"/scenarios/{sid}/runs", json={}).json()["id"]
    for _ in range(600):
        if client.get(f"/runs/{run}").json()["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    body = client.post(f"/runs/{run}/quotas", json={"goal": 1_000_000}).json()
    assert body["status"] == "optimal", body
    return str(body["id"])


def quota(client: TestClient, pid: str, territory: str) -> float:
    rows = client.get(f"/proposals/{pid}").json()["quotas"]
    return float(next(q["quota"] for q in rows if q["territory_id"] == territory))


def test_a_quota_edit_from_a_stale_page_is_refused_not_written(
    client: TestClient, proposal: str
) -> None:
    review = client.get(f"/proposals/{proposal}/review").json()
    assert review["newest"] == {"id": proposal, "version": 1, "etag": f'"{proposal}"'}
    seen = review["newest"]["etag"]  # what both pages read
    held = quota(client, proposal, "T1")
    first = client.post(f"/proposals/{proposal}/overrides", headers={"If-Match": seen},
                        json={"quotas": {"T1": held + 1000}, "reason": "Ana's page"})  # fmt: skip
    assert first.status_code == 201, first.text
    v2 = first.json()["id"]
    second = client.post(f"/proposals/{proposal}/overrides", headers={"If-Match": seen},
                         json={"quotas": {"T1": held - 1000}, "reason": "Lee's page"})  # fmt: skip
    assert second.status_code == 409
    assert second.json()["detail"] == (
        "the quotas changed since this page read them (it read v1 as the newest, now v2); "
        "reload to see the changes, then make yours again"
    )
    versions = [p["id"] for p in client.get("/proposals").json()["proposals"]]
    assert versions == [proposal, v2]  # nothing written
    newest = client.get(f"/proposals/{proposal}/review").json()["newest"]
    assert newest["id"] == v2 and newest["version"] == 2
    # read again: the edit goes through, from the newest version
    again = client.post(f"/proposals/{v2}/overrides", headers={"If-Match": newest["etag"]},
                        json={"quotas": {"T1": held - 1000}, "reason": "reloaded"})  # fmt: skip
    assert again.status_code == 201 and again.json()["version"] == 3
    # an unknown version, and no If-Match at all (scripts as before)
    r = client.post(f"/proposals/{v2}/overrides", headers={"If-Match": '"nope"'},
                    json={"quotas": {"T1": held}, "reason": "x"})  # fmt: skip
    assert (
        r.status_code == 409
        and "(it read an unknown version as the newest, now v3)" in (r.json()["detail"])
    )
    assert client.post(f"/proposals/{v2}/overrides",
                       json={"quotas": {"T1": held}, "reason": "x"}).status_code == 201  # fmt: skip


def test_the_quota_page_carries_the_version_it_read(client: TestClient, proposal: str) -> None:
    page = client.get(f"/ui/proposals/{proposal}")
    newest = client.get(f"/proposals/{proposal}/review").json()["newest"]
    assert f'data-etag="{newest["etag"].replace(chr(34), "&#34;")}"' in page.text
