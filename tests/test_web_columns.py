"""The planning room's upload with a column mapping: each header pre-filled as the import reads
it, the choices sent as map items, problems worded as by the CLI."""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from align.service import create_app
from align.service.config import ServiceConfig
from align.service.web.columns import guess, kind_of

ROOT = Path(__file__).resolve().parents[1]
CRM = ROOT / "data/examples/crm-export"
PAGE = {"X-Align-Page": "1"}


def header(name: str) -> list[str]:
    with open(CRM / name, newline="") as f:
        return next(csv.reader(f))


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        ServiceConfig(database_url=f"sqlite:///{tmp_path / 'a.db'}"), run_workers=False
    )
    with TestClient(app) as c:
        yield c


def test_headers_are_prefilled_with_the_names_the_import_recognises() -> None:
    accounts = guess("Account_Export.csv", header("accounts.csv"))
    assert accounts.kind == "accounts" and accounts.alias
    assert {c.header: c.name for c in accounts.columns} == {
        "Account ID": "account_id",
        "Account Name": "name",
        "Billing City": "city",
        "Billing State/Province": "state",
        "Billing Zip/Postal Code": "zip",
        "Industry": "segment",
        "Annual Potential (USD)": "potential",
        "Last Year Sales": "",  # not a common name: the user chooses
        "Account Owner": "current_territory",
        "Strategic": "",
    }
    reps = guess("Reps.csv", header("territories.csv"))
    assert reps.kind == "territories"
    assert [c.name for c in reps.columns] == ["territory_id", "rep", "city", "state", "zip"]
    assert guess("territories.csv", ["territory_id", "Rep"]).alias is False


def test_a_file_is_told_apart_by_its_name_then_by_its_headers() -> None:
    assert kind_of("accounts.csv", []) == "accounts"
    assert kind_of("distances.csv", ["from_id", "to_id", "distance"]) == ""
    assert kind_of("scenario.toml", []) == ""
    assert kind_of("Q3 reps.csv", ["Rep ID"]) == "territories"
    assert kind_of("export 2026.csv", []) == "accounts"
    assert kind_of("data.csv", ["Customer ID", "Potential"]) == "accounts"
    assert kind_of("data.csv", ["Territory", "Rep"]) == "territories"


def test_two_headers_for_one_name_are_left_open_with_the_import_message() -> None:
    cols = {
        c.header: c for c in guess("accounts.csv", ["Account ID", "Zip", "Postal Code"]).columns
    }
    assert cols["Zip"].name == "" and cols["Postal Code"].name == ""
    assert cols["Zip"].how == (
        "two headers could be 'zip': 'Zip' and 'Postal Code'; say which with --map "
        "\"Zip=zip\" (or [columns] zip = 'Zip' in scenario.toml)"
    )
    # kept as an extra column: renamed so the import does not read it as zip after all
    assert cols["Zip"].options[0] == ("", "(extra column, kept)")
    industry = guess("accounts.csv", ["Industry"]).columns[0]
    assert industry.options[0] == ("accounts:Industry=industry", "(extra column, kept)")
    potential = guess("accounts.csv", ["potential"]).columns[0]
    assert potential.how == "the contract's name"
    assert ("", "potential") in potential.options  # no mapping needed
    assert potential.options[0] == ("accounts:potential=potential_kept", "(extra column, kept)")


def test_the_columns_fragment_escapes_headers(client: TestClient) -> None:
    body = {"files": [{"file": "x/../CRM.csv", "headers": ["Account ID", "<script>x</script>"]}]}
    r = client.post("/ui/columns", json=body, headers=PAGE)
    assert r.status_code == 200
    assert "<script>x" not in r.text and "&lt;script&gt;x&lt;/script&gt;" in r.text
    assert 'name="accounts" value="CRM.csv"' in r.text
    assert client.post("/ui/columns", json=body).status_code == 200  # no cookie: an open service


def test_an_upload_with_the_mapping_reads_the_crm_export(client: TestClient) -> None:
    files = [("files", ("Account_Export.csv", (CRM / "accounts.csv").read_bytes())),
             ("files", ("Reps.csv", (CRM / "territories.csv").read_bytes()))]  # fmt: skip
    form = {"name": "crm", "accounts": "Account_Export.csv", "territories": "Reps.csv",
            "map": ["accounts:Last Year Sales=revenue", "accounts:Strategic=locked"]}  # fmt: skip
    r = client.post("/ui/scenarios", files=files, data=form, headers=PAGE)
    assert r.status_code == 204, r.text
    (sc,) = client.get("/scenarios").json()["scenarios"]
    assert sc["accounts"] == 600 and sc["territories"] == 10
    assert sc["settings"]["columns"]["accounts"] == {"revenue": "Last Year Sales",
                                                     "locked": "Strategic"}  # fmt: skip
    form["map"] = ["accounts:Last Year Sale=revenue", "accounts:Account Name=potential"]
    r = client.post("/ui/scenarios", files=files, data=form, headers=PAGE)
    problems = [html.unescape(t) for t in re.findall(r"<td>(.*?)</td>", r.text)][1::2]
    assert problems[0] == (
        "[columns.accounts] revenue = 'Last Year Sale': no column 'Last Year Sale' in "
        "accounts.csv (did you mean 'Last Year Sales'?) (accounts.csv has Account ID, Account "
        "Name, Billing City, Billing State/Province, Billing Zip/Postal Code, Industry, Annual "
        "Potential (USD), Last Year Sales, Account Owner, Strategic)"
    )
    assert (
        problems[1] == "accounts.csv row 2: potential must be a number (got 'Cardinal Logistics')"
    )
    assert problems[-1] == "accounts.csv: 595 more rows like row 2"
    assert client.get("/scenarios").json()["scenarios"] == [sc]  # nothing more was stored
