"""The service as a real `align serve` process on a loopback port, driven with httpx."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from servers import (
    PFIZER,
    PFIZER_FILES,
    PFIZER_OPTIMA,
    PFIZER_SET,
    TWO_REPS,
    TWO_REPS_FILES,
    Server,
    alive,
    database,
    slow_scenario,
    solver_processes,
    upload,
    wait_for,
)

import align
from align.service.store import Store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per database kind for the module (SQLite file; PostgreSQL when configured)."""
    work = tmp_path_factory.mktemp(f"serve-{request.param}")
    with database(request.param, work) as url:
        srv = Server(url, work).start()
        yield srv
        srv.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def two_reps(client: httpx.Client) -> str:
    r = upload(client, TWO_REPS, TWO_REPS_FILES, "two reps")
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def solve(client: httpx.Client, scenario_id: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"/scenarios/{scenario_id}/runs", json=body)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["url"] == f"/runs/{r.json()['id']}"
    return wait_for(client, r.json()["id"])


# --- scenarios ----------------------------------------------------------------------------


def test_worked_example_through_the_api_moves_a3_and_proves_it_optimal(
    client: httpx.Client,
) -> None:
    sid = two_reps(client)
    run = solve(client, sid)
    assert (run["status"], run["solver_status"]) == ("succeeded", "optimal")
    assert (run["objective"], run["bound"], run["gap"], run["progress"]) == (15.0, 15.0, 0.0, 1.0)
    plan = client.get(f"/runs/{run['id']}/assignments").json()
    assert [a["account_id"] for a in plan if a["moved"]] == ["A3"]
    assert {a["account_id"]: a["territory_id"] for a in plan} == {
        "A1": "T1", "A2": "T1", "A3": "T2", "A4": "T2", "A5": "T2",
    }  # fmt: skip
    territories = client.get(f"/runs/{run['id']}/territories").json()
    assert [(t["territory_id"], t["potential"]) for t in territories] == [("T1", 30), ("T2", 30)]


def test_load_run_reads_a_run_of_the_store_by_id(
    client: httpx.Client, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = solve(client, two_reps(client))
    monkeypatch.delenv("ALIGN_DATABASE_URL", raising=False)
    with pytest.raises(align.RunError, match="run ids need ALIGN_DATABASE_URL"):
        align.load_run(run["id"])
    monkeypatch.setenv("ALIGN_DATABASE_URL", server.database_url)
    stored = align.load_run(run["id"])
    assert (stored.status, stored.objective, stored.bound) == ("optimal", 15.0, 15.0)
    api = client.get(f"/runs/{run['id']}/assignments", params={"format": "csv"}).text
    expected = pd.read_csv(io.StringIO(api), dtype={"account_id": str, "territory_id": str,
                                                     "previous_territory": str})  # fmt: skip
    pd.testing.assert_frame_equal(stored.assignments, expected)
    with pytest.raises(align.RunError, match="'nosuchrun': not in the run store"):
        align.load_run("nosuchrun")


def test_json_scenario_equals_the_uploaded_files(client: httpx.Client) -> None:
    accounts = pd.read_csv(TWO_REPS / "accounts.csv").to_dict(orient="records")
    territories = pd.read_csv(TWO_REPS / "territories.csv").to_dict(orient="records")
    settings = {
        "balance": {"potential": {"tolerance": 0.1}},
        "objective": {"travel_weight": "none"},
        "solver": {"gap": 0.0},
    }
    body = {"name": "two reps (json)", "accounts": accounts, "territories": territories,
            "settings": settings}  # fmt: skip
    r = client.post("/scenarios", json=body)
    assert r.status_code == 201, r.text
    as_json = r.json()
    as_files = client.get(f"/scenarios/{two_reps(client)}").json()
    for key in ("accounts", "territories", "coordinates", "settings"):
        assert as_json[key] == as_files[key]
    assert as_json["settings"]["balance"] == {"potential": {"tolerance": 0.1}}
    assert solve(client, as_json["id"])["objective"] == 15.0
    listed = [s["id"] for s in client.get("/scenarios", params={"limit": 1000}).json()["scenarios"]]
    assert as_json["id"] in listed and as_files["id"] in listed


def test_invalid_scenario_is_422_with_the_cli_messages(
    client: httpx.Client, tmp_path: Path
) -> None:
    bad = pd.read_csv(TWO_REPS / "accounts.csv", dtype=str)
    bad.loc[1, "potential"] = "-5"
    bad.loc[3, "account_id"] = "A1"
    bad.loc[4, "locked"] = "maybe"
    folder = tmp_path / "bad"
    folder.mkdir()
    bad.to_csv(folder / "accounts.csv", index=False)
    (folder / "territories.csv").write_bytes((TWO_REPS / "territories.csv").read_bytes())
    with pytest.raises(align.ScenarioError) as cli:
        align.load_scenario(folder)
    assert len(cli.value.problems) == 3
    r = upload(client, folder, ("accounts.csv", "territories.csv"), "bad")
    assert r.status_code == 422
    assert r.json()["problems"] == cli.value.problems
    as_json = client.post(
        "/scenarios",
        json={
            "accounts": bad.to_dict(orient="records"),
            "territories": pd.read_csv(folder / "territories.csv").to_dict(orient="records"),
        },
    )
    assert as_json.status_code == 422
    assert as_json.json()["problems"] == cli.value.problems


def test_run_settings_are_checked_when_submitted(client: httpx.Client) -> None:
    sid = two_reps(client)
    r = client.post(
        f"/scenarios/{sid}/runs",
        json={"preset": "balancd", "overrides": ["solver.time_limit_s=-1", "nonsense"]},
    )
    assert r.status_code == 422
    assert r.json()["problems"] == [
        "run settings: override 'nonsense': expected key=value, e.g. "
        "balance.potential.tolerance=0.05",
        "run settings: settings key 'model': unknown preset 'balancd' (did you mean "
        "'balanced'?); presets: " + ", ".join(align.list_presets()),
        "run settings: settings key 'solver.time_limit_s' must be greater than 0 (got -1); "
        "seconds, e.g. 60",
    ]
    assert client.get("/runs", params={"scenario": sid}).json()["runs"] == []


def test_models_lists_the_presets(client: httpx.Client) -> None:
    models = client.get("/models").json()["models"]
    assert [m["name"] for m in models] == align.list_presets()
    balanced = next(m for m in models if m["name"] == "balanced")
    assert balanced["settings"]["balance"]["potential"]["tolerance"] == 0.05


# --- runs ---------------------------------------------------------------------------------


def test_pfizer_through_the_api_equals_the_cli(client: httpx.Client, tmp_path: Path) -> None:
    out = tmp_path / "cli-run"
    sets = [a for s in PFIZER_SET for a in ("--set", s)]
    subprocess.run(
        [sys.executable, "-m", "align.cli", "solve", str(PFIZER), "--out", str(out), *sets, "-q"],
        check=True,
    )
    cli = align.load_run(out)
    sid = upload(client, PFIZER, PFIZER_FILES, "pfizer").json()["id"]
    run = solve(client, sid, overrides=PFIZER_SET)
    assert run["solver_status"] == cli.status == "optimal"
    assert run["objective"] == pytest.approx(PFIZER_OPTIMA[0.20], abs=1e-6)
    assert (run["objective"], run["bound"], run["kpis"]) == (cli.objective, cli.bound, cli.kpis)
    for table, frame in (("assignments", cli.assignments), ("territories", cli.territories)):
        text = client.get(f"/runs/{run['id']}/{table}", params={"format": "csv"}).text
        api = pd.read_csv(io.StringIO(text), dtype={"account_id": str, "territory_id": str,
                                                     "previous_territory": str})  # fmt: skip
        assert frame is not None
        pd.testing.assert_frame_equal(api, frame, check_dtype=False)


def test_twenty_runs_at_once_all_finish_with_the_known_optima(client: httpx.Client) -> None:
    sid = upload(client, PFIZER, PFIZER_FILES, "pfizer").json()["id"]
    bands = [list(PFIZER_OPTIMA)[k % 3] for k in range(20)]

    def submit(tol: float) -> str:
        body = {"overrides": [*PFIZER_SET, f"balance.workload.tolerance={tol}",
                              f"balance.potential.tolerance={tol}"]}  # fmt: skip
        r = client.post(f"/scenarios/{sid}/runs", json=body)
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(submit, bands))
    assert len(set(ids)) == 20
    for run_id, tol in zip(ids, bands, strict=True):
        run = wait_for(client, run_id)
        assert (run["status"], run["solver_status"]) == ("succeeded", "optimal"), run["reason"]
        assert run["objective"] == pytest.approx(PFIZER_OPTIMA[tol], abs=1e-6)
        plan = client.get(f"/runs/{run_id}/assignments").json()
        assert sorted(a["account_id"] for a in plan) == sorted(str(i) for i in range(1, 23))
    listed = client.get("/runs", params={"scenario": sid}).json()["runs"]
    assert [r["id"] for r in listed] == ids or sorted(r["id"] for r in listed) == sorted(ids)
    assert {r["status"] for r in listed} == {"succeeded"}


def test_compare_gives_the_kpi_table_and_the_moved_accounts(client: httpx.Client) -> None:
    sid = upload(client, PFIZER, PFIZER_FILES, "pfizer").json()["id"]
    wide = solve(client, sid, overrides=PFIZER_SET)
    tight = solve(client, sid, overrides=[*PFIZER_SET, "balance.workload.tolerance=0.1",
                                           "balance.potential.tolerance=0.1"])  # fmt: skip
    r = client.get("/compare", params={"runs": f"{wide['id']},{tight['id']}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kpis"]["objective"] == {wide["id"]: pytest.approx(154.60),
                                         tight["id"]: pytest.approx(162.43)}  # fmt: skip
    # 0.20 -> 0.10 (tests/test_pfizer.py): bricks 13, 14 leave SR1's and SR4's plans; 17, 18
    # swap between SR2 and SR3; 20 moves from SR1 to SR4
    moved = {m["account_id"]: (m["from"], m["to"]) for m in body["moved"][0]["accounts"]}
    assert moved == {"17": ("3", "2"), "18": ("2", "3"), "20": ("1", "4")}
    assert body["moved"][0]["count"] == 3


def test_geojson_of_a_latlon_scenario_has_points_and_hulls(
    client: httpx.Client,
    base_accounts: list[dict[str, Any]],
    base_territories: list[dict[str, Any]],
) -> None:
    body = {"accounts": base_accounts, "territories": base_territories,
            "settings": {"balance": {"potential": {"tolerance": 0.5}}}}  # fmt: skip
    sid = client.post("/scenarios", json=body).json()["id"]
    run = solve(client, sid)
    assert run["status"] == "succeeded", run["reason"]
    geo = client.get(f"/runs/{run['id']}/assignments", params={"format": "geojson"})
    assert geo.headers["content-type"] == "application/geo+json"
    where = {f["properties"]["account_id"]: f["geometry"] for f in geo.json()["features"]}
    assert where["A2"] == {"type": "Point", "coordinates": [-74.1, 40.1]}
    plan = client.get(f"/runs/{run['id']}/assignments").json()
    owners = {a["account_id"]: a["territory_id"] for a in plan}
    hulls = client.get(f"/runs/{run['id']}/territories", params={"format": "geojson"}).json()
    for f in hulls["features"]:
        mine = [
            where[a]["coordinates"]
            for a, t in owners.items()
            if t == f["properties"]["territory_id"]
        ]
        kind = {1: "Point", 2: "LineString"}.get(len(mine), "Polygon")
        assert f["geometry"]["type"] == kind


def test_pockets_through_the_api_equal_the_library(
    client: httpx.Client,
    base_accounts: list[dict[str, Any]],
    base_territories: list[dict[str, Any]],
) -> None:
    body = {"accounts": base_accounts, "territories": base_territories}
    sid = client.post("/scenarios", json=body).json()["id"]
    settings = {"radius_km": 20, "min_whitespace": 100}
    r = client.post(f"/scenarios/{sid}/pockets", json={"settings": settings})
    assert r.status_code == 200, r.text
    scenario = align.make_scenario(pd.DataFrame(base_accounts), pd.DataFrame(base_territories))
    expected = align.find_pockets(scenario, settings=settings)
    # A3+A4 (whitespace 100+100, 14 km apart) make a pocket; A1+A2 hold 20+50, below 100
    pockets = r.json()["pockets"]
    assert [(p["pocket_id"], p["accounts"], p["whitespace"]) for p in pockets] == [("P01", 2, 200)]
    assert pockets == json.loads(expected.pockets.to_json(orient="records", double_precision=15))
    assert r.json()["members"] == expected.members.to_dict(orient="records")
    bad = client.post(f"/scenarios/{sid}/pockets", json={"settings": {"radius_km": -1}})
    assert bad.status_code == 422
    assert bad.json()["problems"] == ["pockets.radius_km: Input should be greater than 0"]


def test_cancelling_a_running_run_stops_its_solver_process(
    server: Server, client: httpx.Client
) -> None:
    sid = client.post("/scenarios", json=slow_scenario(120)).json()["id"]
    run_id = client.post(f"/scenarios/{sid}/runs", json={}).json()["id"]
    # the solver process reports its phases (loading, lp, ...) and a progress figure
    wait_until(lambda: client.get(f"/runs/{run_id}").json()["phase"] not in ("queued", "starting"))
    running = client.get(f"/runs/{run_id}").json()
    assert running["status"] == "running" and 0 < running["progress"] < 1
    assert server.process is not None
    solvers = solver_processes(server.process.pid)
    assert len(solvers) == 1
    r = client.delete(f"/runs/{run_id}")
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["reason"]) == ("cancelled", "cancelled on request")
    wait_until(lambda: not alive(solvers[0]))  # the solver process is stopped
    assert client.get(f"/runs/{run_id}").json()["status"] == "cancelled"
    again = client.delete(f"/runs/{run_id}")
    assert again.status_code == 409
    assert (
        again.json()["detail"]
        == f"run {run_id} has already cancelled; only queued or running runs cancel"
    )
    assert client.get(f"/runs/{run_id}/assignments").status_code == 409


def wait_until(condition: Any) -> None:
    import time

    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def test_a_crash_mid_run_leaves_every_run_intact_and_the_run_finishes_after_restart(
    tmp_path: Path,
) -> None:
    srv = Server(f"sqlite:///{tmp_path / 'align.db'}", tmp_path).start()
    try:
        with srv.client() as c:
            sid = two_reps(c)
            done = solve(c, sid)
            failed = solve(c, sid, overrides=["constraints.max_moved_share=0"])
            slow = c.post("/scenarios", json=slow_scenario(5)).json()["id"]
            before = {p: c.get(p).json() for p in (f"/scenarios/{sid}", f"/scenarios/{slow}",
                      f"/runs/{done['id']}", f"/runs/{failed['id']}")}  # fmt: skip
            plan = c.get(f"/runs/{done['id']}/assignments").json()
            run_id = c.post(f"/scenarios/{slow}/runs", json={}).json()["id"]
            assert wait_for(c, run_id, until=("running",))["attempts"] == 1
        orphans = srv.kill()
        wait_until(lambda: not any(alive(p) for p in orphans))  # nothing solves on unseen
        srv.start()
        with srv.client() as c:
            after = wait_for(c, run_id)
            assert after["attempts"] == 2, after
            assert after["status"] in ("succeeded", "failed")
            if after["status"] == "failed":  # the slow case may end without a plan: with a reason
                assert after["reason"].startswith("no plan was found within the limits")
            assert {p: c.get(p).json() for p in before} == before
            assert c.get(f"/runs/{done['id']}/assignments").json() == plan
            # a graceful stop (SIGTERM) gives a run in flight back to the queue, uncounted
            again = c.post(f"/scenarios/{slow}/runs", json={}).json()["id"]
            wait_until(
                lambda: c.get(f"/runs/{again}").json()["phase"] not in ("queued", "starting")
            )
        srv.stop()
        store = Store(srv.database_url)
        row = store.run(again)
        store.dispose()
        assert row is not None
        assert (row.status, row.attempts, row.phase) == ("queued", 0, "re-queued at shutdown")
    finally:
        srv.stop()
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("infeasible: the rules admit no plan: ")


def test_a_solver_process_that_dies_fails_its_run_with_the_reason(
    server: Server, client: httpx.Client
) -> None:
    sid = client.post("/scenarios", json=slow_scenario(120)).json()["id"]
    run_id = client.post(f"/scenarios/{sid}/runs", json={}).json()["id"]
    wait_until(lambda: client.get(f"/runs/{run_id}").json()["phase"] not in ("queued", "starting"))
    assert server.process is not None
    (solver,) = solver_processes(server.process.pid)
    os.kill(solver, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    run = wait_for(client, run_id)
    assert (run["status"], run["reason"]) == (
        "failed",
        "the solver process was killed (signal 9); it may have passed its memory cap of 8,192 "
        "MiB (ALIGN_RUN_MEMORY_MB) or the machine's memory",
    )
