"""The service under hostile input and failing parts (issue "Hardening"): in process, each defect
found by probing is a test here; the real-server fault runs are in test_service_faults.py."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from align.service import create_app
from align.service import keys as keys_module
from align.service.config import ServiceConfig
from align.service.keys import KeyRing, RateLimiter
from align.service.states import RunState
from align.service.store import Store
from align.service.worker import DATABASE_EXIT, WorkerPool, _Job

TWO_REPS = Path("data/examples/two-reps")
FILES = ("accounts.csv", "territories.csv", "scenario.toml")


def make_client(tmp_path: Path, **settings: Any) -> TestClient:
    config = ServiceConfig(database_url=f"sqlite:///{tmp_path / 'align.db'}", **settings)
    return TestClient(create_app(config, run_workers=False), raise_server_exceptions=True)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as c:
        yield c


def upload(c: TestClient, **replace: bytes) -> Any:
    files = {n: (TWO_REPS / n).read_bytes() for n in FILES}
    files.update(replace)
    parts = [("files", (n, content)) for n, content in files.items() if content is not None]
    return c.post("/scenarios", files=parts, data={"name": "two reps"})


def scenario_id(c: TestClient) -> str:
    r = upload(c)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# --- the six 500s -------------------------------------------------------------------------


def test_a_corrupt_parquet_upload_is_422_naming_the_file(client: TestClient) -> None:
    r = upload(client, **{"accounts.csv": None, "accounts.parquet": b"PAR1garbagePAR1"})
    assert r.status_code == 422
    (problem,) = r.json()["problems"]
    assert problem.startswith("accounts.parquet: not a readable Parquet file (")
    assert "/tmp" not in problem and "align-scenario" not in problem


@pytest.mark.parametrize(
    "toml, message",
    [
        ("a = " + "[" * 50_000 + "]" * 50_000, "nested too many levels deep"),
        ("[" + ".".join(["a"] * 5_000) + "]", "nested more than 16 levels deep"),
    ],
)
def test_a_deep_scenario_toml_upload_is_422(client: TestClient, toml: str, message: str) -> None:
    r = upload(client, **{"scenario.toml": toml.encode()})
    assert r.status_code == 422
    (problem,) = r.json()["problems"]
    assert problem.startswith("scenario.toml: tables or arrays are ") and message in problem


def test_run_overrides_of_a_huge_key_or_a_deep_value_are_422(client: TestClient) -> None:
    sid = scenario_id(client)
    key = ".".join(["a"] * 10_000)
    deep = "[" * 5_000 + "]" * 5_000
    r = client.post(
        f"/scenarios/{sid}/runs", json={"overrides": [f"{key}=1", f"solver.gap={deep}"]}
    )
    assert r.status_code == 422
    found = r.json()["problems"]
    assert len(found) == 2
    assert found[0].startswith("run settings: override 'a.a.a")
    assert found[0].endswith("': the key has more than 16 parts; settings keys have a few, e.g. "
                             "balance.potential.tolerance")  # fmt: skip
    assert "nested too many levels deep" in found[1]
    for depth in (100, 5_000):  # past the JSON parser's own limit, 400
        deep_settings = '{"a": ' * depth + "{}" + "}" * depth
        r = client.post(f"/scenarios/{sid}/runs", content='{"settings": ' + deep_settings + "}",
                        headers={"content-type": "application/json"})  # fmt: skip
        assert r.status_code == (422 if depth == 100 else 400), r.text[:300]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_quota_override_of_nan_is_422(client: TestClient, value: str) -> None:
    r = client.post(
        "/proposals/0123456789abcdef0123456789abcdef/overrides",
        content='{"quotas": {"T1": ' + value + "}}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "quotas", "T1"]


def test_an_unexpected_error_is_a_500_answered_like_any_response(tmp_path: Path) -> None:
    # the exception is not raised on to the server (which closed the connection without
    # Connection: close): TestClient would raise it here if it were
    config = ServiceConfig(database_url=f"sqlite:///{tmp_path / 'align.db'}")
    app = create_app(config, run_workers=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=True) as c:
        r = c.get("/boom")
        assert r.status_code == 500
        assert r.json() == {"detail": "internal error; the server log has the details",
                            "problems": []}  # fmt: skip
        assert "connection" not in r.headers
        assert c.get("/healthz").status_code == 200


# --- presets, solver names, time limits, pairs ------------------------------------------------


@pytest.mark.parametrize("preset", ["../pyproject", "/etc/passwd", "../../../etc/os-release"])
def test_a_preset_path_is_an_unknown_preset(client: TestClient, preset: str) -> None:
    sid = scenario_id(client)
    r = client.post(f"/scenarios/{sid}/runs", json={"preset": preset})
    assert r.status_code == 422
    assert r.json()["problems"] == [
        f"run settings: settings key 'model': unknown preset '{preset}'; presets: balanced, "
        "greenfield, min-disruption"
    ]


def test_an_unknown_solver_and_a_huge_time_limit_are_refused_at_submit(
    client: TestClient,
) -> None:
    sid = scenario_id(client)
    r = client.post(
        f"/scenarios/{sid}/runs",
        json={"overrides": ["solver.name=nosuch", "solver.time_limit_s=1e308"]},
    )
    assert r.status_code == 422
    assert r.json()["problems"] == [
        "run settings: settings key 'solver.name': unknown solver 'nosuch'; choose one of: "
        "highs, cbc, glpk, gurobi, cplex, scip, highs-pulp",
        "run settings: settings key 'solver.time_limit_s' is 1e+308 s, above this service's "
        "limit of 3600 s (ALIGN_MAX_TIME_LIMIT_S); ask for less",
    ]
    assert client.get("/runs").json()["runs"] == []


def test_pairs_past_the_limit_are_refused_with_the_setting_that_fits(tmp_path: Path) -> None:
    with make_client(tmp_path, max_pairs=6) as c:  # 5 accounts x 2 territories = 10 pairs
        sid = scenario_id(c)
        r = c.post(f"/scenarios/{sid}/runs", json={})
        assert r.status_code == 422
        assert r.json()["problems"] == [
            "run settings: 5 accounts x 2 territories are 10 pairs, above this service's limit "
            "of 6 (ALIGN_MAX_PAIRS); send fewer accounts"
        ]
    with make_client(tmp_path, max_pairs=12) as c:
        r = c.post(f"/scenarios/{sid}/runs", json={})
        assert r.status_code == 202


# --- limits checked before the expensive work ---------------------------------------------------


def test_a_million_columns_are_refused_from_the_header_line(client: TestClient) -> None:
    header = "account_id,potential,x,y," + ",".join(f"c{i}" for i in range(1_000_000))
    row = "A1,1,0,0" + "," * 1_000_000
    r = upload(client, **{"accounts.csv": f"{header}\n{row}\n".encode()})
    assert r.status_code == 413
    assert r.json()["detail"] == (
        "accounts.csv (columns) is 1,000,004; the limit is 1,000 (ALIGN_MAX_COLUMNS); send less "
        "or raise it"
    )


def test_a_cell_over_the_limit_is_refused_with_its_row(tmp_path: Path) -> None:
    with make_client(tmp_path, max_cell_bytes=100) as c:
        text = (TWO_REPS / "accounts.csv").read_text().splitlines()
        text[2] = text[2].replace("Retail", "R" * 101)
        r = upload(c, **{"accounts.csv": ("\n".join(text) + "\n").encode()})
        assert r.status_code == 413
        assert r.json()["detail"] == (
            "accounts.csv row 3: a cell is over 100 bytes, the limit (ALIGN_MAX_CELL_BYTES); "
            "send less or raise it"
        )


def test_parquet_rows_are_counted_from_its_footer(tmp_path: Path) -> None:
    frame = pd.DataFrame({"account_id": [f"A{i}" for i in range(2_000)], "potential": 1.0,
                          "x": 0.0, "y": 0.0})  # fmt: skip
    buf = io.BytesIO()
    frame.to_parquet(buf)
    with make_client(tmp_path, max_accounts=1_000) as c:
        r = upload(c, **{"accounts.csv": None, "accounts.parquet": buf.getvalue()})
        assert r.status_code == 413
        assert r.json()["detail"] == (
            "accounts.parquet (rows) is 2,000; the limit is 1,000 (ALIGN_MAX_ACCOUNTS); send "
            "less or raise it"
        )


def test_queued_runs_per_key_are_capped_with_429(tmp_path: Path) -> None:
    with make_client(tmp_path, max_active_runs=2) as c:
        sid = scenario_id(c)
        assert [c.post(f"/scenarios/{sid}/runs", json={}).status_code for _ in range(2)] == [
            202,
            202,
        ]
        r = c.post(f"/scenarios/{sid}/runs", json={})
        assert r.status_code == 429 and r.headers["retry-after"] == "10"
        assert r.json()["detail"] == (
            "2 runs of this key are queued or running, the limit (ALIGN_MAX_ACTIVE_RUNS); wait "
            "for one to finish or cancel one"
        )


def test_request_rate_per_key_is_429_with_retry_after_and_wrong_keys_too(tmp_path: Path) -> None:
    with make_client(tmp_path, api_keys=("k1",), rate_per_s=0.01, rate_burst=3) as c:
        codes = [c.get("/scenarios", headers={"X-API-Key": "k1"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        wrong = [c.get("/scenarios", headers={"X-API-Key": f"guess{i}"}) for i in range(4)]
        assert [r.status_code for r in wrong] == [403, 403, 403, 429]
        assert int(wrong[-1].headers["retry-after"]) >= 1
        assert c.get("/healthz").status_code == 200  # health checks are never limited


def test_the_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    rates = RateLimiter(2.0, 2, clock=lambda: now[0])
    assert [rates.take("a") for _ in range(3)] == [0.0, 0.0, 0.5]
    assert rates.take("b") == 0.0  # identities are apart
    now[0] = 0.5
    assert rates.take("a") == 0.0 and rates.take("a") == 0.5


# --- keys ---------------------------------------------------------------------------------------


def test_keys_are_held_as_digests_only() -> None:
    ring = KeyRing(["secret-one"])
    held = repr(vars(ring))
    assert "secret-one" not in held and b"secret-one".hex() not in held
    assert ring.owner("secret-one") is not None and ring.owner("secret-on") is None
    assert ring.owner("") is None and ring.owner(None) is None


def test_a_key_file_rotates_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys_module, "CHECK_FILE_EVERY_S", 0.0)
    path = tmp_path / "keys"
    path.write_text("# the team's keys\nold-key\n")
    with make_client(tmp_path, api_keys_file=path) as c:
        assert c.get("/scenarios", headers={"X-API-Key": "old-key"}).status_code == 200
        path.write_text("new-key  # rotated\n\n")
        assert c.get("/scenarios", headers={"X-API-Key": "old-key"}).status_code == 403
        assert c.get("/scenarios", headers={"X-API-Key": "new-key"}).status_code == 200
        path.unlink()  # a file being replaced: the keys read last still hold
        assert c.get("/scenarios", headers={"X-API-Key": "new-key"}).status_code == 200


def test_the_owner_of_a_key_is_the_same_as_before(tmp_path: Path) -> None:
    # stored objects of a key keep their owner: sha256 of the key, 32 hex digits
    import hashlib

    assert KeyRing(["k"]).owner("k") == hashlib.sha256(b"k").hexdigest()[:32]


# --- health and the database ------------------------------------------------------------------


def test_healthz_is_503_with_the_reason_while_the_database_file_is_gone(
    tmp_path: Path,
) -> None:
    with make_client(tmp_path) as c:
        assert c.get("/healthz").status_code == 200
        (tmp_path / "align.db").unlink()
        r = c.get("/healthz")
        assert r.status_code == 503
        assert r.json()["detail"] == (
            "the database is unavailable: the database file align.db is missing"
        )
        assert not (tmp_path / "align.db").exists()  # not made again, empty


class _Dead:
    """A solver process that has ended with ``exitcode``."""

    def __init__(self, exitcode: int):
        self.exitcode = exitcode

    def is_alive(self) -> bool:
        return False

    def join(self, timeout: float | None = None) -> None:
        return None


def _claimed(tmp_path: Path) -> tuple[Store, Any]:
    with make_client(tmp_path) as c:
        sid = scenario_id(c)
        run_id = c.post(f"/scenarios/{sid}/runs", json={}).json()["id"]
    store = Store(f"sqlite:///{tmp_path / 'align.db'}")
    claim = store.claim_next()
    assert claim is not None and claim.run_id == run_id
    return store, claim


def test_a_run_is_not_forgotten_while_its_failure_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, claim = _claimed(tmp_path)
    pool = WorkerPool(store, store.url, size=1)
    pool.jobs[claim.run_id] = _Job(claim, _Dead(1))  # type: ignore[arg-type]
    real = store.finish
    calls = []

    def read_only(*args: Any, **kw: Any) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE runs", {}, Exception("attempt to write a readonly db"))
        return real(*args, **kw)

    monkeypatch.setattr(store, "finish", read_only)
    with pytest.raises(OperationalError):
        pool.tick()
    assert claim.run_id in pool.jobs and store.run(claim.run_id).status == RunState.RUNNING  # type: ignore[union-attr]
    pool.tick()  # the database is writable again
    row = store.run(claim.run_id)
    assert row is not None and row.status == RunState.FAILED and not pool.jobs
    assert row.reason == (
        "the solver process stopped unexpectedly (exit code 1); it may have run out of memory"
    )


def test_a_run_whose_outcome_could_not_be_written_is_queued_again(tmp_path: Path) -> None:
    store, claim = _claimed(tmp_path)
    pool = WorkerPool(store, store.url, size=0)  # size 0: nothing is started again here
    pool.jobs[claim.run_id] = _Job(claim, _Dead(DATABASE_EXIT))  # type: ignore[arg-type]
    pool.tick()
    row = store.run(claim.run_id)
    assert row is not None and row.status == RunState.QUEUED and row.attempts == 1
    assert row.phase == "re-queued: the database was unavailable when the result was written"


def test_the_solver_process_writes_its_outcome_once_the_database_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from align.service import worker

    store, claim = _claimed(tmp_path)
    real = store.finish
    failures = [2]

    def flaky(*args: Any, **kw: Any) -> bool:
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("UPDATE runs", {}, Exception("database is locked"))
        return real(*args, **kw)

    monkeypatch.setattr(store, "finish", flaky)
    monkeypatch.setattr(worker.time, "sleep", lambda _: None)
    worker._execute(store, claim)
    row = store.run(claim.run_id)
    assert row is not None and row.status == "succeeded" and row.summary["objective"] == 15.0


def test_results_are_encoded_once_and_still_checked_on_every_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from align.service import formats, worker

    with make_client(tmp_path, api_keys=("k1", "k2")) as c:
        c.headers["X-API-Key"] = "k1"
        sid = scenario_id(c)
        run_id = c.post(f"/scenarios/{sid}/runs", json={}).json()["id"]
        store = Store(f"sqlite:///{tmp_path / 'align.db'}")
        claim = store.claim_next()
        assert claim is not None
        worker._execute(store, claim)
        first = c.get(f"/runs/{run_id}/assignments")
        assert first.status_code == 200
        assert [r["account_id"] for r in first.json() if r["moved"]] == ["A3"]

        def again(*_: object, **__: object) -> None:
            raise AssertionError("encoded again")

        monkeypatch.setattr(formats, "respond", again)
        second = c.get(f"/runs/{run_id}/assignments")
        assert second.status_code == 200 and second.content == first.content
        other = c.get(f"/runs/{run_id}/assignments", headers={"X-API-Key": "k2"})
        assert other.status_code == 404  # the cache never skips the owner's check


def test_time_without_a_database_does_not_count_against_a_solve(tmp_path: Path) -> None:
    # the dispatcher stops a solve far past its time limit; a database outage is not solving
    store, claim = _claimed(tmp_path)
    pool = WorkerPool(store, store.url, size=0)

    class Alive(_Dead):
        def is_alive(self) -> bool:
            return True

    import time as clock

    job = _Job(claim, Alive(0))  # type: ignore[arg-type]
    job.started = clock.monotonic() - 20  # 20 s of solving (limit 60 s + 60 s grace)
    pool.jobs[claim.run_id] = job
    pool._down_since = clock.monotonic() - 200  # then 200 s without a database
    pool.tick()
    assert job.stop_reason is None and pool._down_since is None
    assert clock.monotonic() - job.started < 30


def test_a_solve_past_its_memory_cap_fails_with_that_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from align.service import worker

    store, claim = _claimed(tmp_path)

    def greedy(*_: object, **__: object) -> None:
        raise MemoryError

    monkeypatch.setattr(worker, "solve", greedy)
    worker._execute(store, claim, memory_mb=512)
    row = store.run(claim.run_id)
    assert row is not None and row.status == RunState.FAILED
    assert row.reason == (
        "the solve passed its memory cap of 512 MiB (ALIGN_RUN_MEMORY_MB); solve fewer accounts "
        "or pairs (solver.candidates), or raise the cap"
    )


def test_uploaded_file_names_never_leave_the_scenario_folder(
    client: TestClient, tmp_path: Path
) -> None:
    files = {n: (TWO_REPS / n).read_bytes() for n in FILES}
    parts = [("files", (f"../../../{tmp_path.name}/{n}", c)) for n, c in files.items()]
    r = client.post("/scenarios", files=parts)
    assert r.status_code == 201  # the folders of a name are dropped: accounts.csv is accounts.csv
    assert sorted(r.json()["files"]) == sorted(FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["align.db"]
    r = client.post("/scenarios", files=[("files", ("../../etc/passwd", b"root:x:0:0"))])
    assert r.status_code == 422
    assert r.json()["problems"] == [
        "upload 'passwd': not a scenario file; send accounts.csv, accounts.parquet, "
        "accounts.geojson, accounts.gpkg, territories.csv, distances.csv, adjacency.csv, "
        "scenario.toml, or say which it is with the form field accounts='passwd' (or territories)"
    ]
