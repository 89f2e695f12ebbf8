"""The service's statuses: one enum per meaning, the same strings in the OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from align.service.app import create_app
from align.service.config import ServiceConfig
from align.service.schemas import RunCreated
from align.service.states import ACTIVE, RunState
from align.status import Status


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db: Path = tmp_path_factory.mktemp("states") / "a.db"
    app = create_app(ServiceConfig.from_env(database_url=f"sqlite:///{db}"), run_workers=False)
    return app.openapi()


def test_queue_states_are_the_strings_of_the_database_and_the_api() -> None:
    assert list(RunState) == ["queued", "running", "succeeded", "failed", "cancelled"]
    assert ACTIVE == ("queued", "running")
    created = RunCreated(id="r1", status=RunState("queued"), url="/runs/r1")
    assert json.loads(created.model_dump_json()) == {
        "id": "r1",
        "status": "queued",
        "url": "/runs/r1",
    }


def test_openapi_names_run_states_and_solver_statuses_by_their_strings(
    openapi: dict[str, Any],
) -> None:
    schemas = openapi["components"]["schemas"]
    assert schemas["RunState"]["enum"] == ["queued", "running", "succeeded", "failed", "cancelled"]
    assert schemas["Status"]["enum"] == ["optimal", "feasible", "infeasible", "no_solution"]
    assert schemas["Status"]["enum"] == list(Status)
    run_out = schemas["RunOut"]["properties"]
    assert run_out["status"] == {"$ref": "#/components/schemas/RunState"}
    assert {"$ref": "#/components/schemas/Status"} in run_out["solver_status"]["anyOf"]
    proposal = schemas["ProposalInfo"]["properties"]["status"]
    assert proposal["$ref"] == "#/components/schemas/Status"
    listed = {p["name"]: p for p in openapi["paths"]["/runs"]["get"]["parameters"]}
    assert {"$ref": "#/components/schemas/RunState"} in listed["status"]["schema"]["anyOf"]
