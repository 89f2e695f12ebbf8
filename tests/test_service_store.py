"""The service's store on SQLite and on a real PostgreSQL server (ALIGN_TEST_POSTGRES_URL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from servers import database
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from align.service.store import (
    Base,
    Claim,
    RunResultRow,
    RunRow,
    ScenarioRow,
    Store,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with database(request.param, tmp_path_factory.mktemp("store")) as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    s.migrate()
    yield s
    with s.tx() as tx:
        for table in reversed(Base.metadata.sorted_tables):
            tx.execute(delete(table))
    s.dispose()


def scenario(store: Store, owner: str = "o1", name: str = "s") -> ScenarioRow:
    row = ScenarioRow(id=f"{name:0>32}", owner=owner, name=name, created_at=T0, n_accounts=2,
                      n_territories=1, coord_kind="xy", input_hash="h", settings={})  # fmt: skip
    return store.add_scenario(row, {"accounts.csv": b"account_id,potential\nA,1\n"})


def queued(store: Store, k: int, scenario_id: str, owner: str = "o1") -> RunRow:
    return store.add_run(
        RunRow(
            id=f"{k:0>32}",
            scenario_id=scenario_id,
            owner=owner,
            status="queued",
            progress=0.0,
            request={},
            time_limit_s=5.0,
            attempts=0,
            created_at=T0 + timedelta(seconds=k),
        )  # fmt: skip
    )


def test_migrations_build_exactly_the_models(store: Store) -> None:
    import align.service.web.records  # noqa: F401 - the planning room's tables, in Base.metadata

    store.migrate()  # a second time: nothing to do
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == "0003"
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_ship_inside_the_package() -> None:
    import align.service

    folder = Path(align.service.__file__).parent / "migrations"
    assert (folder / "env.py").is_file() and (folder / "versions" / "0001_initial.py").is_file()


def test_scenarios_belong_to_their_owner(store: Store) -> None:
    mine = scenario(store, "o1", "a")
    scenario(store, "o2", "b")
    assert store.scenario(mine.id, "o1") is not None
    assert store.scenario(mine.id, "o2") is None
    assert [s.id for s in store.scenarios("o1", limit=10, offset=0)] == [mine.id]
    assert store.scenario_files(mine.id) == {"accounts.csv": b"account_id,potential\nA,1\n"}


def test_claims_take_the_oldest_queued_run_once(store: Store) -> None:
    sid = scenario(store).id
    runs = [queued(store, k, sid) for k in (3, 1, 2)]
    claims = [store.claim_next() for _ in range(4)]
    assert [c.run_id if c else None for c in claims] == [runs[1].id, runs[2].id, runs[0].id, None]
    row = store.run(runs[1].id)
    assert row is not None and (row.status, row.attempts, row.token) == (
        "running",
        1,
        claims[0].token,
    )  # type: ignore[union-attr]


def test_one_queued_run_is_claimed_by_one_of_many_dispatchers(store: Store) -> None:
    sid = scenario(store).id
    queued(store, 1, sid)
    got: list[Claim | None] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        got.append(store.claim_next())

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(c is not None for c in got) == 1


def test_outcome_and_result_are_written_together(store: Store) -> None:
    sid = scenario(store).id
    run = queued(store, 1, sid)
    claim = store.claim_next()
    assert claim is not None
    summary = {"objective": 15.0, "gap": float("nan"), "kpis": {"after": {"x": float("inf")}}}
    assert store.finish(claim, status="succeeded", solver_status="optimal", summary=summary,
                        frames=(b"a\n1\n", b"t\n2\n"))  # fmt: skip
    row = store.run(run.id)
    assert row is not None
    assert (row.status, row.progress, row.token) == ("succeeded", 1.0, None)
    assert row.summary == {"objective": 15.0, "gap": None, "kpis": {"after": {"x": None}}}
    result = store.result(run.id)
    assert result is not None and (result.assignments, result.territories) == (b"a\n1\n", b"t\n2\n")


def test_a_failure_mid_write_leaves_the_old_state(store: Store) -> None:
    sid = scenario(store).id
    run = queued(store, 1, sid)
    claim = store.claim_next()
    assert claim is not None
    store.set_progress(claim, 0.5, "lp")
    # the status update succeeds, then the result row fails (territories must not be NULL)
    with pytest.raises(IntegrityError):
        store.finish(claim, status="succeeded", summary={"objective": 1.0},
                     frames=(b"a\n", None))  # type: ignore[arg-type]  # fmt: skip
    row = store.run(run.id)
    assert row is not None
    assert (row.status, row.progress, row.phase, row.summary) == ("running", 0.5, "lp", None)
    assert row.token == claim.token
    with store.tx() as tx:
        assert tx.scalar(select(func.count()).select_from(RunResultRow)) == 0


def test_a_cancelled_run_keeps_its_state_when_its_worker_finishes(store: Store) -> None:
    sid = scenario(store).id
    run = queued(store, 1, sid)
    claim = store.claim_next()
    assert claim is not None
    assert store.cancel(run.id) is True
    assert store.cancel(run.id) is False  # already ended
    assert store.set_progress(claim, 0.9, "repair") is False
    assert store.finish(claim, status="succeeded", frames=(b"a", b"t")) is False
    row = store.run(run.id)
    assert row is not None and (row.status, row.reason) == ("cancelled", "cancelled on request")
    assert store.result(run.id) is None


def test_recovery_requeues_then_fails_with_the_reason(store: Store) -> None:
    sid = scenario(store).id
    run = queued(store, 1, sid)
    first = store.claim_next()
    assert store.recover(max_attempts=2) == ([run.id], [])
    row = store.run(run.id)
    assert row is not None and (row.status, row.token, row.attempts) == ("queued", None, 1)
    assert first is not None and store.finish(first, status="succeeded") is False  # stale worker
    second = store.claim_next()
    assert second is not None and second.run_id == run.id
    assert store.recover(max_attempts=2) == ([], [run.id])
    row = store.run(run.id)
    assert row is not None and row.status == "failed"
    assert row.reason == (
        "the server stopped while this run was solving, 2 times; it is not started again "
        "(ALIGN_MAX_ATTEMPTS = 2)"
    )
    assert store.recover(max_attempts=2) == ([], [])


def test_a_graceful_stop_gives_the_run_back_without_counting_it(store: Store) -> None:
    sid = scenario(store).id
    run = queued(store, 1, sid)
    claim = store.claim_next()
    assert claim is not None
    store.requeue(claim)
    row = store.run(run.id)
    assert row is not None and (row.status, row.attempts, row.token) == ("queued", 0, None)


def test_runs_list_by_owner_scenario_and_status(store: Store) -> None:
    a, b = scenario(store, "o1", "a").id, scenario(store, "o1", "b").id
    r1, r2, r3 = queued(store, 1, a), queued(store, 2, b), queued(store, 3, a, owner="o2")
    store.cancel(r2.id)
    ids = lambda **kw: [r.id for r in store.runs("o1", limit=10, offset=0, **kw)]  # noqa: E731
    assert ids(scenario_id=None, status=None) == [r1.id, r2.id]
    assert ids(scenario_id=a, status=None) == [r1.id]
    assert ids(scenario_id=None, status="cancelled") == [r2.id]
    assert store.run(r3.id, "o1") is None and store.run(r3.id, "o2") is not None


def test_nothing_but_the_service_imports_fastapi() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pkgutil, importlib, align, align.engine\n"
        "for pkg in (align, align.engine):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name != 'align.service':\n"
        "            importlib.import_module(m.name)\n"
        "assert 'align.cli' in sys.modules and 'align.engine.entry' in sys.modules\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('fastapi', 'starlette', "
        "'uvicorn', 'sqlalchemy', 'alembic')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
