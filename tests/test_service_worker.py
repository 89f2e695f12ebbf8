"""The worker pool in this process, with real solver processes and a real store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from servers import slow_scenario

from align.service import worker
from align.service.formats import scenario_files
from align.service.schemas import ScenarioIn
from align.service.store import RunRow, ScenarioRow, Store, new_id, now


def test_a_solve_far_past_its_time_limit_is_stopped_and_failed_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'align.db'}"
    store = Store(url)
    store.migrate()
    files = scenario_files(ScenarioIn.model_validate(slow_scenario(120)), 10_000)
    sid = new_id()
    store.add_scenario(
        ScenarioRow(id=sid, owner="", name="slow", created_at=now(), n_accounts=300,
                    n_territories=6, coord_kind="xy", input_hash="h", settings={}),
        files,
    )  # fmt: skip
    # the solver's own limit is 120 s; the run was recorded with 0.5 s (as if its settings
    # said so and the solver did not stop): the pool stops it at 0.5 s + the grace period
    run = store.add_run(
        RunRow(id=new_id(), scenario_id=sid, owner="", status="queued", progress=0.0,
               request={"effective": {}}, time_limit_s=0.5, attempts=0, created_at=now())
    )  # fmt: skip
    monkeypatch.setattr(worker, "GRACE_S", 1.0)
    pool = worker.WorkerPool(store, url, size=1)
    try:
        deadline = time.monotonic() + 120
        while (row := store.run(run.id)) is not None and row.status in ("queued", "running"):
            assert time.monotonic() < deadline
            pool.tick()
            time.sleep(0.1)
    finally:
        pool.stop()
    assert row is not None
    assert (row.status, row.reason) == (
        "failed",
        "stopped after 1.5 s: the solve ran far past solver.time_limit_s = 0.5 s",
    )
    assert pool.jobs == {}
    store.dispose()
