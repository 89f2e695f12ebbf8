"""The service takes a CRM export as it is, with a mapping: the same rules as `align --map`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Server, wait_for
from test_importing import write_export

EXPORT = "Account_Export_2026-03-01.csv"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("serve-import")
    srv = Server(f"sqlite:///{work / 'align.db'}", work).start(workers=1)
    yield srv
    srv.stop()


def post_export(server: Server, folder: Path, maps: list[str]) -> dict:  # type: ignore[type-arg]
    files = [
        ("files", (EXPORT, (folder / "accounts.csv").read_bytes())),
        ("files", ("territories.csv", (folder / "territories.csv").read_bytes())),
    ]
    data = {"name": "crm", "accounts": EXPORT, "map": maps}
    with server.client() as c:
        r = c.post("/scenarios", files=files, data=data)
    return {"status": r.status_code, **r.json()}


def test_upload_of_a_crm_export_with_a_mapping(server: Server, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "crm", toml=None)
    out = post_export(server, folder, ["Last Year Sales=revenue", "Strategic=locked"])
    assert out["status"] == 201, out
    assert (out["accounts"], out["territories"]) == (12, 3)
    assert out["settings"]["columns"] == {"revenue": "Last Year Sales", "locked": "Strategic"}
    assert out["settings"]["model"] == "balanced"  # as without scenario.toml
    assert (
        "accounts.csv: 12 accounts without coordinates placed at the centroid of their ZIP "
        "code (zipcodes 3.0.0, US ZIP codes only)" in out["notes"]
    )
    with server.client() as c:
        run = c.post(
            f"/scenarios/{out['id']}/runs",
            json={
                "settings": {
                    "balance": {"workload": {"tolerance": 1.0}},
                    "constraints": {"max_moved_share": 0.0},
                }
            },
        ).json()
        done = wait_for(c, run["id"])
    assert done["solver_status"] == "infeasible"
    first = done["reasons"][0]
    assert first.startswith("smallest single change that lets a plan exist: ")
    more = len(done["reasons"]) - 1
    assert done["reason"] == "infeasible: the rules admit no plan: " + first + (
        f" ({more} more in reasons)" if more else ""
    )


def test_bad_crm_upload_lists_each_problem(server: Server, tmp_path: Path) -> None:
    from test_importing import ROWS

    rows = [r[:] for r in ROWS]
    rows[3][4] = "99999"
    rows[6][5] = "$14O,000"
    folder = write_export(tmp_path / "crm", rows, toml=None)
    out = post_export(server, folder, ["Acct Name=name", "Strategic=locked", "Flag=locked"])
    assert out["status"] == 422
    assert out["problems"] == [
        "--map 'Flag=locked': two headers map to 'locked': 'Strategic' (--map "
        "'Strategic=locked') and 'Flag'; map one header to each name"
    ]
    out = post_export(server, folder, ["Acct Name=name"])
    assert out["status"] == 422
    assert out["problems"] == [
        "[columns] name = 'Acct Name': no column 'Acct Name' in accounts.csv or territories.csv "
        "(did you mean 'Account Name'?) (accounts.csv has Account ID, Account Name, Billing "
        "City, State, Zip, Annual Potential (USD), Last Year Sales, Account Owner, Strategic; "
        "territories.csv has Territory ID, Rep Name, Home Lat, Home Lng)",
        "accounts.csv row 5: zip '99999' is not a US ZIP code, so the account cannot be placed; "
        "correct it or give lat and lon",
        "accounts.csv row 8: potential must be a number (got '$14O,000')",
    ]
    with server.client() as c:
        r = c.post("/scenarios", files=[("files", (EXPORT, b"a,b\n1,2\n"))])
    assert r.json()["problems"] == [
        f"upload '{EXPORT}': not a scenario file; send accounts.csv, accounts.parquet, "
        "accounts.geojson, accounts.gpkg, territories.csv, distances.csv, adjacency.csv, "
        f"scenario.toml, or say which it is with the form field accounts='{EXPORT}' (or "
        "territories)"
    ]
