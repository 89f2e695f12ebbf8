"""Property-based: schemathesis drives every operation of the OpenAPI document; no 500s."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from servers import TWO_REPS, TWO_REPS_FILES, Server, database, upload

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    work = tmp_path_factory.mktemp(f"serve-schema-{request.param}")
    with database(request.param, work) as url:
        srv = Server(url, work).start(workers=1)
        with srv.client() as c:  # something to find: a scenario (ids are random: mostly 404s)
            upload(c, TWO_REPS, TWO_REPS_FILES, "two reps")
        yield srv
        srv.stop()


def test_no_operation_answers_500(live: Server) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call_and_validate(checks=[not_a_server_error], timeout=60)
            statuses.append(response.status_code)

        check()
    # every operation was called, and the examples reached past validation (2xx answers)
    assert len(statuses) >= 5 * len(operations)
    assert any(200 <= s < 300 for s in statuses) and 500 not in statuses
