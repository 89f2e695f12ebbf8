"""Results under load (issue "Hardening", point 4): a succeeded run's result is encoded once,
served from memory to its owner without a query, revalidated by its ETag (304), and solver
processes run below the server's priority."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from servers import Server, descendants, slow_scenario, wait_for

from align.service import create_app, worker
from align.service.config import ServiceConfig
from align.service.store import Store

TWO_REPS = Path("data/examples/two-reps")
FILES = ("accounts.csv", "territories.csv", "scenario.toml")


def _solved(tmp_path: Path, c: TestClient) -> str:
    """The two-reps example solved (in this process) by the key of ``c``; the run's id."""
    parts = [("files", (n, (TWO_REPS / n).read_bytes())) for n in FILES]
    sid = c.post("/scenarios", files=parts, data={"name": "two reps"}).json()["id"]
    run_id = str(c.post(f"/scenarios/{sid}/runs", json={}).json()["id"])
    store = Store(f"sqlite:///{tmp_path / 'align.db'}")
    claim = store.claim_next()
    assert claim is not None and claim.run_id == run_id
    worker._execute(store, claim)
    store.dispose()
    return run_id


def test_a_cached_result_needs_no_query_for_its_owner_and_revalidates_by_etag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ServiceConfig(database_url=f"sqlite:///{tmp_path / 'align.db'}", api_keys=("k1", "k2"))
    with TestClient(create_app(config, run_workers=False)) as c:
        c.headers["X-API-Key"] = "k1"
        run_id = _solved(tmp_path, c)
        first = c.get(f"/runs/{run_id}/assignments")
        assert first.status_code == 200
        # the two-reps optimum moves one account, A3 (data/examples/two-reps/README)
        assert [r["account_id"] for r in first.json() if r["moved"]] == ["A3"]
        etag = first.headers["etag"]
        assert etag.startswith('"') and first.headers["cache-control"] == "private, no-cache"

        store = c.app.state.store  # type: ignore[attr-defined]
        queries: list[str] = []
        for name in ("run", "result", "points"):
            real = getattr(store, name)

            def counted(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
                queries.append(_name)
                return _real(*args, **kw)

            monkeypatch.setattr(store, name, counted)

        again = c.get(f"/runs/{run_id}/assignments")
        assert (again.status_code, again.content, again.headers["etag"]) == (
            200,
            first.content,
            etag,
        )
        assert queries == []  # served from memory
        same = c.get(f"/runs/{run_id}/assignments", headers={"If-None-Match": etag})
        assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
        changed = c.get(f"/runs/{run_id}/assignments", headers={"If-None-Match": '"other"'})
        assert changed.status_code == 200 and changed.content == first.content
        assert queries == []

        csv = c.get(f"/runs/{run_id}/assignments", params={"format": "csv"})
        assert csv.status_code == 200 and csv.text.startswith("account_id,territory_id,")
        assert csv.headers["etag"] != etag

        queries.clear()
        other = c.get(f"/runs/{run_id}/assignments", headers={"X-API-Key": "k2"})
        assert other.status_code == 404 and other.json()["detail"] == f"no run {run_id}"
        assert queries == ["run"]  # another owner is answered by the store, as for no run
        other = c.get(
            f"/runs/{run_id}/assignments", headers={"X-API-Key": "k2", "If-None-Match": etag}
        )
        assert other.status_code == 404


def _nice(pid: int) -> int | None:
    """The niceness of a process (None once it has ended)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
    except OSError:
        return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_solver_processes_run_below_the_server_priority(tmp_path: Path) -> None:
    server = Server(f"sqlite:///{tmp_path / 'align.db'}", tmp_path, ALIGN_WORKER_NICE="7")
    server.start(workers=1)
    try:
        assert server.process is not None
        base = _nice(server.process.pid)
        assert base is not None
        with server.client() as c:
            sid = c.post("/scenarios", json=slow_scenario(60)).json()["id"]
            run_id = c.post(f"/scenarios/{sid}/runs", json={}).json()["id"]
            wait_for(c, run_id, until=("running",))
            deadline = time.monotonic() + 30
            niced: list[int] = []
            while not niced and time.monotonic() < deadline:
                kids = descendants(server.process.pid)
                niced = [p for p in kids if (_nice(p) or base) > base]
                time.sleep(0.1)
            assert niced, "no solver process below the server's priority"
            assert {_nice(p) for p in niced} == {min(base + 7, 19)}
            assert _nice(server.process.pid) == base
            c.delete(f"/runs/{run_id}")
    finally:
        server.stop()
