"""The planning room: its API against a real `align serve`, its store on SQLite and PostgreSQL,
and the whole flow in Debian's Chromium driven by Playwright."""

from __future__ import annotations

import html
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import pandas as pd
import pytest
from servers import Server, database, slow_scenario, wait_for

from align.service.config import ServiceConfig, ServiceConfigError
from align.service.states import RunState
from align.service.store import RunRow, ScenarioRow, Store, new_id, now
from align.service.web import records
from align.service.web.access import Access
from align.service.web.records import PlanChangeRow, Stale
from align.shapes import adjacency_pairs

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
OPS, LEADER, OTHER = "ops-key-1", "leader-key-2", "other-key-3"
ROLES = f"{OPS}=ops:Ana Ops,{LEADER}=leader:Lee Lead"
EAST = ["T01", "T02", "T03", "T06", "T07", "T08"]
XSS = "<script>alert(1)</script>"
MOVED = ["A00057", "A00148", "A01080"]  # T01 accounts today, each far from any other


def east_sample(folder: Path) -> Path:
    """The sample's accounts today in six territories (427 accounts), one named with a script
    tag; a 20 s limit and a 0.5% gap."""
    acc = pd.read_csv(ROOT / "data/samples/accounts.csv", dtype={"account_id": str})
    ter = pd.read_csv(ROOT / "data/samples/territories.csv")
    acc = acc.loc[acc["current_territory"].isin(EAST)].reset_index(drop=True)
    acc.insert(1, "name", acc["city"] + " account")
    acc.loc[0, "name"] = XSS
    folder.mkdir(parents=True)
    acc.to_csv(folder / "accounts.csv", index=False)
    ter.loc[ter["territory_id"].isin(EAST)].to_csv(folder / "territories.csv", index=False)
    (folder / "scenario.toml").write_text(
        'model = "balanced"\n[solver]\ntime_limit_s = 20\ngap = 0.005\n'
    )
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("web")
    srv = Server(
        f"sqlite:///{work / 'align.db'}",
        work,
        ALIGN_API_KEYS=f"{OPS},{LEADER},{OTHER}",
        ALIGN_KEY_ROLES=ROLES,
    )
    srv.start(workers=1)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def solved(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The east sample uploaded and solved through the API by the ops key."""
    folder = east_sample(tmp_path_factory.mktemp("east") / "scenario")
    with server.client(OPS) as c:
        files = [("files", (n, (folder / n).read_bytes())) for n in
                 ("accounts.csv", "territories.csv", "scenario.toml")]  # fmt: skip
        sc = c.post("/scenarios", files=files, data={"name": "east"}).json()
        run = c.post(f"/scenarios/{sc['id']}/runs", json={}).json()
        done = wait_for(c, run["id"])
        assert done["status"] == "succeeded", done
    return {"scenario": sc["id"], "run": run["id"], "folder": folder}


def fresh_run(server: Server, solved: dict[str, Any]) -> str:
    """Another solve of the east sample (each test that changes a plan gets its own)."""
    with server.client(OPS) as c:
        run = c.post(f"/scenarios/{solved['scenario']}/runs", json={}).json()
        assert wait_for(c, run["id"])["status"] == "succeeded"
    return str(run["id"])


# --- access -----------------------------------------------------------------------------------


def test_key_roles_name_people_and_reject_unknown_keys_and_roles() -> None:
    config = ServiceConfig(api_keys=("k1", "k2"))
    access = Access.from_env(config, {"ALIGN_KEY_ROLES": "k1=ops:Ana, k2=leader"})
    assert access.members["k1"].name == "Ana" and access.members["k1"].role == "ops"
    assert access.members["k2"].name == "leader" and access.members["k2"].role == "leader"
    with pytest.raises(ServiceConfigError) as e:
        Access.from_env(config, {"ALIGN_KEY_ROLES": "k1=boss:Ana,k9=ops:Zed,nonsense"})
    assert e.value.problems == [
        "ALIGN_KEY_ROLES item 1: role must be ops or leader (got 'boss')",
        "ALIGN_KEY_ROLES item 2: the key is not among ALIGN_API_KEYS; add it there",
        "ALIGN_KEY_ROLES item 3: expected KEY=ROLE:NAME, e.g. k1=ops:Ana (got 'nonsense')",
    ]


def test_pages_ask_for_a_key_and_the_cookie_is_checked_like_the_header(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.get("/")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
        r = c.post("/login", data={"key": "wrong", "next": "/"})
        assert r.status_code == 200 and "the API key is not valid" in r.text
        assert "align_key" not in c.cookies
        r = c.post("/login", data={"key": OPS, "next": "https://elsewhere.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert c.get("/").status_code == 200
        assert c.get("/scenarios").status_code == 200  # the API accepts the cookie too
        r = c.post("/scenarios", json={})
        assert r.status_code == 403
        assert r.json()["detail"] == (
            "a change signed in by cookie must come from the planning room (header "
            "X-Align-Page: 1); scripts send their key in X-API-Key"
        )


def test_the_ops_and_leader_keys_share_a_team_and_others_get_404(
    server: Server, solved: dict[str, Any]
) -> None:
    run = solved["run"]
    with server.client(LEADER) as lead, server.client(OTHER) as other:
        assert lead.get(f"/runs/{run}/plan").status_code == 200
        r = other.get(f"/runs/{run}/plan")
        assert r.status_code == 404 and r.json()["detail"] == f"no run {run}"
        assert other.get(f"/ui/runs/{run}", headers={}).status_code == 404
        r = lead.post(f"/runs/{run}/changes", json={"accounts": MOVED, "territory": "T02",
                                                   "reason": "x", "base": 0})  # fmt: skip
        assert r.status_code == 403
        assert r.json()["detail"] == (
            "changing a plan needs the ops role; Lee Lead is leader (ALIGN_KEY_ROLES)"
        )


def test_the_progress_fragment_polls_a_running_run_and_cancels_it(server: Server) -> None:
    with server.client(OPS) as c:
        sc = c.post("/scenarios", json=slow_scenario(60)).json()
        run = c.post(f"/scenarios/{sc['id']}/runs", json={}).json()["id"]
        wait_for(c, run, until=("running",))
        live = c.get(f"/ui/runs/{run}/status")
        assert f'hx-get="/ui/runs/{run}/status" hx-trigger="every 1s"' in live.text
        assert f'hx-delete="/runs/{run}"' in live.text and "HX-Refresh" not in live.headers
    with httpx.Client(base_url=server.url, cookies={"align_key": OPS}, timeout=60) as page:
        assert page.delete(f"/runs/{run}").status_code == 403  # the cookie alone cannot
        gone = page.delete(f"/runs/{run}", headers={"X-Align-Page": "1"})
        assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
        done = page.get(f"/ui/runs/{run}/status")
        assert done.headers["HX-Refresh"] == "true"
        assert "hx-delete" not in done.text and "cancelled on request" in done.text


# --- manual changes ---------------------------------------------------------------------------


def test_changes_are_recorded_with_who_and_why_checked_and_undone(
    server: Server, solved: dict[str, Any]
) -> None:
    run = fresh_run(server, solved)
    with server.client(OPS) as c:
        plan = c.get(f"/runs/{run}/plan").json()
        assert plan["version"] == 0 and plan["changes"] == []
        where = dict(zip(plan["accounts"]["id"], plan["accounts"]["plan"], strict=True))
        r = c.post(f"/runs/{run}/changes", json={"accounts": ["NOPE", MOVED[0]],
                   "territory": "T99", "reason": " ", "base": 0})  # fmt: skip
        assert r.status_code == 422
        assert r.json()["problems"] == [
            f"accounts: 'NOPE' not in run {run}'s plan",
            "territory: 'T99' is not a territory of the scenario; pick one of the plan's "
            "territories",
            "reason: say why (it is recorded with the change), e.g. 'rep knows them'",
        ]
        body = {"accounts": MOVED, "territory": "T02", "reason": "rep knows them", "base": 0}
        first = c.post(f"/runs/{run}/changes", json=body)
        assert first.status_code == 201, first.text
        change = first.json()
        assert change["who"] == "Ana Ops" and change["reason"] == "rep knows them"
        assert change["seq"] == 1 and change["previous"] == [where[a] for a in MOVED]
        stale = c.post(f"/runs/{run}/changes", json=body)  # the same page, still on version 0
        assert stale.status_code == 409
        assert stale.json()["detail"] == (
            "the plan changed since this page read it (version 0, now 1); reload to see the "
            "changes, then make yours again"
        )
        keep = {"accounts": ["A00017"], "reason": "key account", "base": 1}
        lock = c.post(f"/runs/{run}/changes", json=keep)
        assert lock.status_code == 201, lock.text
        assert lock.json()["territory"] == ""
        undo = c.post(f"/runs/{run}/changes/{change['id']}/undo", json={"base": 2})
        assert undo.status_code == 200 and undo.json()["undone_by"] == "Ana Ops"
        again = c.post(f"/runs/{run}/changes/{change['id']}/undo", json={"base": 3})
        assert again.status_code == 409
        assert again.json()["detail"] == "change 1 was already undone by Ana Ops"
        plan = c.get(f"/runs/{run}/plan").json()
        assert plan["version"] == 3
        assert [(x["seq"], x["undone_seq"]) for x in plan["changes"]] == [(1, 3), (2, None)]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_change_log_versions_refuse_stale_writers(kind: str, tmp_path: Path) -> None:
    with database(kind, tmp_path) as url:
        store = Store(url)
        try:
            store.migrate()
            sc = store.add_scenario(
                ScenarioRow(id=new_id(), owner="o", name="s", created_at=now(), n_accounts=2,
                            n_territories=2, coord_kind=None, input_hash="h", settings={}),
                {},
            )  # fmt: skip
            run = store.add_run(
                RunRow(id=new_id(), scenario_id=sc.id, owner="o", status=RunState.QUEUED,
                       progress=0.0, request={}, time_limit_s=1.0, created_at=now())
            )  # fmt: skip

            def change(base: int) -> PlanChangeRow:
                row = PlanChangeRow(run_id=run.id, owner="o", accounts=["a"], previous=["T1"],
                                    territory="T2", locked=True, who="Ana",
                                    reason="why")  # fmt: skip
                return records.add_change(store, row, base=base)

            first = change(0)
            assert first.seq == 1
            with pytest.raises(Stale) as e:
                change(0)
            assert e.value.current == 1
            records.undo_change(store, run.id, first.id, "Lee", base=1)
            rows = records.changes(store, run.id)
            assert records.version_of(rows) == 2
            assert [(r.seq, r.undone_seq, r.undone_by) for r in rows] == [(1, 2, "Lee")]
        finally:
            store.dispose()


def test_review_roles_regions_and_frozen_plans(server: Server, solved: dict[str, Any]) -> None:
    run = fresh_run(server, solved)
    with server.client(OPS) as ops, server.client(LEADER) as lead, server.client(OTHER) as other:
        prop = ops.post(f"/runs/{run}/quotas", json={"goal": 25_000_000}).json()
        pid = prop["id"]
        assert prop["status"] == "optimal"
        url = f"/proposals/{pid}/review"
        assert ops.get(url).json()["state"] == "draft"
        assert other.get(url).status_code == 404
        r = lead.post(url, json={"to": "submitted"})
        assert r.status_code == 403
        assert r.json()["detail"] == (
            "submitting a proposal needs the ops role; Lee Lead is leader (ALIGN_KEY_ROLES)"
        )
        r = ops.post(url, json={"to": "approved"})
        assert r.status_code == 409
        assert r.json()["detail"] == (
            f"proposal {pid} (region East) is draft; it cannot become approved"
        )
        r = ops.post(url, json={"to": "submitted", "region": "North"})
        assert r.status_code == 422
        assert r.json()["problems"] == [
            "region: 'North' is not a region of the proposal (East, South)"
        ]
        body = ops.post(url, json={"to": "submitted", "note": "first cut"}).json()
        assert body["state"] == "submitted"
        assert body["regions"] == {"East": "submitted", "South": "submitted"}
        r = ops.post(url, json={"to": "approved", "region": "East"})
        assert r.status_code == 403
        assert r.json()["detail"] == (
            "approving a proposal needs the leader role; Ana Ops is ops (ALIGN_KEY_ROLES)"
        )
        r = lead.post(url, json={"to": "changes_requested", "region": "South"})
        assert r.status_code == 422
        assert r.json()["problems"] == ["note: say what should change when asking for changes"]
        body = lead.post(url, json={"to": "approved", "region": "East"}).json()
        assert body["state"] == "submitted"
        assert body["regions"] == {"East": "approved", "South": "submitted"}
        body = lead.post(url, json={"to": "approved", "region": "South"}).json()
        assert body["state"] == "approved" and body["frozen"] is True
        assert [(h["who"], h["state"], h["region"]) for h in body["history"]] == [
            ("Ana Ops", "submitted", "East"),
            ("Ana Ops", "submitted", "South"),
            ("Lee Lead", "approved", "East"),
            ("Lee Lead", "approved", "South"),
        ]
        r = ops.post(url, json={"to": "submitted"})
        assert r.status_code == 409
        assert r.json()["detail"] == (
            f"proposal {pid} (region East) is approved; it cannot become submitted; an "
            "approved version is frozen"
        )
        move = {"accounts": MOVED, "territory": "T02", "reason": "x", "base": 0}
        r = ops.post(f"/runs/{run}/changes", json=move)
        assert r.status_code == 409
        assert r.json()["detail"] == (
            f"run {run}'s plan is frozen: proposal {pid} on it is approved; re-optimise it "
            "into a new run to change it"
        )
        assert ops.get(f"/proposals/{pid}/xlsx").status_code == 200  # still exportable
        body = lead.post(f"/proposals/{pid}/comments", json={"text": XSS}).json()
        assert body["comments"] == [
            {"who": "Lee Lead", "region": "", "text": XSS, "at": body["comments"][0]["at"]}
        ]
        page = lead.get(f"/ui/proposals/{pid}")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and XSS not in page.text


# --- the whole flow in a real browser --------------------------------------------------------


@dataclass
class Room:
    """Chromium pages that record console errors, dialogs and every request that would leave
    loopback (aborted)."""

    server: Server
    browser: Any
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def page(self, key: str | None = None) -> Any:
        """A new page (its own cookies), signed in with ``key`` when given."""
        page = self.browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

        def route(r: Any) -> None:
            if r.request.url.startswith(self.server.url + "/"):
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        if key is not None:
            page.goto(self.server.url + "/")
            page.fill("input[name=key]", key)
            page.click("button[type=submit]")
            page.wait_for_selector("body[data-js='1'] #upload")
        return page

    def check(self, expected: tuple[str, ...] = ()) -> None:
        """No console error but those ``expected`` (each seen once), nothing left loopback."""
        assert sorted(self.errors) == sorted(expected)
        assert self.outside == []
        assert self.dialogs == []


@contextmanager
def chromium(server: Server) -> Iterator[Room]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (Debian package chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield Room(server, browser)
        finally:
            browser.close()


def shots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ALIGN_TEST_SHOTS (to look at them after the run) or tmp_path."""
    shots = Path(os.environ.get("ALIGN_TEST_SHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {shots}")
    return shots


def test_the_planning_room_in_chromium(
    server: Server, solved: dict[str, Any], tmp_path: Path
) -> None:
    shots = shots_dir(tmp_path)
    folder = solved["folder"]
    bad = tmp_path / "bad"
    bad.mkdir()
    acc = pd.read_csv(folder / "accounts.csv", dtype={"account_id": str})
    acc.assign(potential=acc["potential"].where(acc.index != 15, -5)).to_csv(
        bad / "accounts.csv", index=False
    )  # line 17 of the file: a negative potential
    with chromium(server) as room:
        page = room.page()
        page.goto(server.url + "/")
        page.fill("input[name=key]", OPS)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-js='1'] #upload")

        # upload: problems in a table, then a valid scenario
        invalid = [str(bad / "accounts.csv"), str(folder / "territories.csv")]
        page.set_input_files("#upload input[type=file]", invalid)
        page.click("#upload button[type=submit]")
        page.wait_for_selector("table.problems")
        assert "accounts.csv row 17: potential must be >= 0 (got -5)" in page.inner_text(
            "table.problems"
        )
        page.screenshot(path=str(shots / "1-problems.png"))
        page.fill("#upload input[name=name]", "east upload")
        page.set_input_files("#upload input[type=file]", [str(folder / n) for n in
                             ("accounts.csv", "territories.csv", "scenario.toml")])  # fmt: skip
        page.click("#upload button[type=submit]")
        page.wait_for_selector("table.scenarios td:text('east upload')")
        page.wait_for_selector("body[data-js='1']")

        # solve with a preset and a time limit; the run page follows it live
        row = page.locator("table.scenarios tr", has_text="east upload")
        row.locator("select[name=preset]").select_option("balanced")
        row.locator("input[name=time_limit_s]").fill("20")
        row.locator("button[type=submit]").click()
        page.wait_for_url("**/ui/runs/*")
        page.wait_for_selector("#room[data-ready='1']", timeout=240_000)
        run = page.url.rsplit("/", 1)[1]
        page.screenshot(path=str(shots / "2-map.png"))

        # hover details: the name with a script tag is shown as text
        page.evaluate(f"window.alignRoom.openTip({acc.loc[0, 'account_id']!r})")
        tip = page.inner_text(".leaflet-tooltip")
        assert XSS in tip and "owner today" in tip and "in the plan" in tip
        assert page.locator(".leaflet-tooltip script").count() == 0

        # move three accounts by clicking them, and see balance change at once
        with httpx.Client(base_url=server.url, headers={"X-API-Key": OPS}) as c:
            plan = pd.DataFrame(c.get(f"/runs/{run}/assignments").json())
        pot = acc.set_index("account_id")["potential"]
        totals = plan.assign(p=plan["account_id"].map(pot)).groupby("territory_id")["p"].sum()
        target = totals.sum() / len(EAST)
        moved = totals.copy()
        for a in MOVED:
            moved[plan.set_index("account_id").loc[a, "territory_id"]] -= pot[a]
            moved["T02"] += pot[a]
        for i, a in enumerate(MOVED):
            x, y = page.evaluate(f"window.alignRoom.pointOf({a!r})")
            if i:
                page.keyboard.down("Shift")
            page.mouse.click(x, y)
            page.keyboard.up("Shift")
        assert page.evaluate("window.alignRoom.selected()") == MOVED
        page.click("#clear")
        x, y = page.evaluate("window.alignRoom.pointOf('A00148')")  # alone for 2 degrees
        page.keyboard.down("Shift")
        page.mouse.move(x - 12, y - 12)
        page.mouse.down()
        for dx, dy in ((12, -12), (12, 12), (-12, 12), (-12, -12)):
            page.mouse.move(x + dx, y + dy, steps=3)
        page.mouse.up()
        page.keyboard.up("Shift")
        assert page.evaluate("window.alignRoom.selected()") == ["A00148"]  # lasso
        page.evaluate(f"window.alignRoom.selectIds({MOVED!r})")
        page.select_option("#move select[name=territory]", "T02")
        page.fill("#move input[name=reason]", "Aisha knows them")
        page.click("#move button[type=submit]")
        bar = page.locator(".bars .row[data-measure=potential][data-territory=T02]")
        expected = moved["T02"] / target - 1
        assert float(bar.get_attribute("data-deviation") or "nan") == pytest.approx(expected)
        assert bar.locator(".pct").inner_text() == f"{100 * expected:+.1f}%"
        page.wait_for_selector("#changes li:has-text('Ana Ops')")  # recorded by the server
        assert "Aisha knows them" in page.inner_text("#changes li")
        assert "Distance warnings (" in page.inner_text("#warnings h2")
        page.screenshot(path=str(shots / "3-moved.png"))

        # re-optimise around them: what else moved, within the cap, and the proven gap
        page.fill("#reoptimise input[name=max_moved_share]", "0.05")
        page.click("#reoptimise button[type=submit]")
        page.wait_for_url(lambda u: run not in u)
        page.wait_for_selector("#room[data-ready='1']", timeout=240_000)
        page.wait_for_selector("#parent ul.others")
        new = page.url.rsplit("/", 1)[1]
        with httpx.Client(base_url=server.url, headers={"X-API-Key": OPS}) as c:
            after = pd.DataFrame(c.get(f"/runs/{new}/assignments").json()).set_index("account_id")
            gap = c.get(f"/runs/{new}").json()["gap"]
        assert (after.loc[MOVED, "territory_id"] == "T02").all()
        others = after.loc[after["moved"].astype(bool)]
        assert len(others) <= 0.05 * len(after)
        assert page.locator("#parent ul.others li").count() == len(others)
        assert f"proven gap {100 * gap:.1f}%" in page.inner_text("#parent")
        page.screenshot(path=str(shots / "4-reoptimised.png"))

        # quotas on the new plan: propose, edit one with a reason, submit
        page.fill("#propose input[name=goal]", "25000000")
        page.click("#propose button[type=submit]")
        page.wait_for_selector("body[data-proposal-js='1'] table.quotas")
        first = page.url
        page.select_option("#override select[name=territory]", "T01")
        page.fill("#override input[name=quota]", "4000000")
        page.fill("#override input[name=reason]", "new hire ramps slowly")
        page.click("#override button[type=submit]")
        page.wait_for_url(lambda u: u != first)
        page.wait_for_selector("body[data-proposal-js='1'] table.diff")
        assert page.inner_text("tr[data-territory=T01] td.quota") == "4,000,000"
        assert "new hire ramps slowly" in page.inner_text("table.diff")
        assert page.locator("table.versions thead th").count() == 3  # territory, v1, v2
        page.click("#review button[value=submitted]")
        page.wait_for_selector("h1 .review-state.submitted")
        second = page.url

        # a leader approves with the second key; the version is frozen
        page.click("header button")  # sign out
        page.goto(second)
        page.fill("input[name=key]", LEADER)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-proposal-js='1'] #review")
        assert page.locator("#review button[value=submitted]").count() == 0
        page.click("#review button[value=approved]")
        page.wait_for_selector("h1 .review-state.approved")
        assert page.locator("#override, #review").count() == 0
        assert "frozen" in page.inner_text("section.card")
        page.screenshot(path=str(shots / "5-approved.png"), full_page=True)

        # the rep's page: from the map's balance bars; the quota, the targets, printable
        page.click("text=the run's map")
        page.wait_for_selector("#room[data-ready='1']")
        page.click(".bars .row[data-measure=potential][data-territory=T01] a")
        page.wait_for_selector("body[data-rep-ready='1']")
        head = page.inner_text("#rep section.card")
        assert "Territory plan T01 · Philadelphia" in head and "Rep Jordan Reed" in head
        assert "4,000,000" in page.inner_text("#rep")
        assert page.locator("table.targets tbody tr").count() == 10
        page.emulate_media(media="print")
        page.screenshot(path=str(shots / "6-rep-print.png"), full_page=True)
    room.check()


def test_vendored_assets_carry_their_licences_and_pages_name_no_other_site() -> None:
    web = ROOT / "src/align/service/web"
    vendored = sorted(p.name for p in (web / "static/vendor").iterdir())
    assert vendored == ["htmx", "leaflet", "topojson-client", "us-atlas"]
    for name in vendored:
        folder = web / "static/vendor" / name
        assert (folder / "LICENSE").stat().st_size > 300, name
        assert "@" in (folder / "VERSION").read_text(), name
    ours = [*web.glob("templates/*.html"), *web.glob("static/*.js"), *web.glob("static/*.css")]
    assert len(ours) >= 10
    for path in ours:
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, path.name


def test_compare_page_shows_runs_side_by_side(server: Server, solved: dict[str, Any]) -> None:
    other = fresh_run(server, solved)
    with server.client(OPS) as c:
        page = c.get(f"/ui/compare?runs={solved['run']},{other}")
        kpis = c.get(f"/runs/{other}").json()["kpis"]["after"]
    assert page.status_code == 200
    assert (
        f'href="/ui/runs/{solved["run"]}"' in page.text and f'href="/ui/runs/{other}"' in page.text
    )
    assert "<th>potential.max_abs_deviation</th>" in page.text
    assert f"<td>{kpis['potential.max_abs_deviation']:.4g}</td>" in page.text
    assert page.text.count("<circle ") == 2  # the trade-off plot: one point per run
    assert f"<title>{other[:8]}: {100 * kpis['potential.max_abs_deviation']:.3f}%" in page.text


def test_the_run_form_lists_every_settings_problem_as_the_cli_words_it(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from align.service import create_app

    app = create_app(
        ServiceConfig(database_url=f"sqlite:///{tmp_path / 'a.db'}"), run_workers=False
    )
    folder = ROOT / "data/examples/two-reps"
    with TestClient(app) as c:
        files = [
            ("files", (n, (folder / n).read_bytes())) for n in ("accounts.csv", "territories.csv")
        ]
        sid = c.post("/scenarios", files=files).json()["id"]
        form = {"time_limit_s": "-1", "tolerance": "abc", "preset": "nope"}
        r = c.post(f"/ui/scenarios/{sid}/runs", data=form, headers={"X-Align-Page": "1"})
        assert c.get("/runs").json()["runs"] == []  # nothing was queued
    cells = [html.unescape(t) for t in re.findall(r"<td>(.*?)</td>", r.text)][1::2]
    assert cells == [
        "run settings: settings key 'model': unknown preset 'nope'; presets: balanced, "
        "greenfield, min-disruption",
        "run settings: settings key 'balance.potential.tolerance' must be a number (got 'abc'); "
        "0.05 means every territory within +-5% of its target",
        "run settings: settings key 'solver.time_limit_s' must be greater than 0 (got -1); "
        "seconds, e.g. 60",
    ]


COUNTIES = ROOT / "data/examples/counties"
CRM = ROOT / "data/examples/crm-export"
CONFLICT = "Failed to load resource: the server responded with a status of 409 (Conflict)"


def test_crm_mapping_dissolved_outlines_and_stale_quotas_in_chromium(
    server: Server, solved: dict[str, Any], tmp_path: Path
) -> None:
    shots = shots_dir(tmp_path)
    crm = tmp_path / "crm"
    crm.mkdir()
    (crm / "Account_Export.csv").write_bytes((CRM / "accounts.csv").read_bytes())
    (crm / "Reps.csv").write_bytes((CRM / "territories.csv").read_bytes())
    api = httpx.Client(base_url=server.url, headers={"X-API-Key": OPS}, timeout=60)
    with chromium(server) as room, api:
        page = room.page(OPS)

        # a CRM export: the columns listed with the names the import recognises, one chosen
        page.fill("#upload input[name=name]", "crm export")
        page.set_input_files("#upload input[type=file]",
                             [str(crm / "Account_Export.csv"), str(crm / "Reps.csv")])  # fmt: skip
        page.wait_for_selector("#upload[data-mapped='2']")

        def column(file: str, header: str) -> Any:
            return page.locator(f"fieldset[data-file='{file}'] tr[data-header='{header}'] select")

        accounts = "Account_Export.csv"
        assert column(accounts, "Account ID").input_value() == "accounts:Account ID=account_id"
        assert column(accounts, "Annual Potential (USD)").input_value() == (
            "accounts:Annual Potential (USD)=potential"
        )
        assert column(accounts, "Last Year Sales").input_value() == ""  # not a common name
        assert column("Reps.csv", "Rep Name").input_value() == "territories:Rep Name=rep"
        assert page.locator("fieldset[data-file='Reps.csv'] select.kind").input_value() == (
            "territories"
        )
        column(accounts, "Last Year Sales").select_option(label="revenue")
        column(accounts, "Strategic").select_option(label="revenue")  # two columns, one name
        page.screenshot(path=str(shots / "7-crm-mapping.png"), full_page=True)
        page.click("#upload button[type=submit]")
        page.wait_for_selector("table.problems")
        assert page.locator("table.problems tbody tr").count() == 1
        assert page.inner_text("table.problems tbody td:nth-child(2)") == (
            "--map 'accounts:Strategic=revenue': two headers map to 'revenue': 'Last Year "
            "Sales' (--map 'accounts:Last Year Sales=revenue') and 'Strategic'; map one header "
            "to each name"
        )
        page.screenshot(path=str(shots / "8-crm-problem.png"), full_page=True)
        column(accounts, "Strategic").select_option(label="locked")
        page.click("#upload button[type=submit]")
        page.wait_for_selector("table.scenarios td:text('crm export')")
        row = page.locator("table.scenarios tr", has_text="crm export")
        assert "600" in row.inner_text()
        stored = [x for x in api.get("/scenarios").json()["scenarios"] if x["name"] == "crm export"]
        columns = stored[0]["settings"]["columns"]["accounts"]
        assert columns["revenue"] == "Last Year Sales" and columns["locked"] == "Strategic"

        # a scenario of polygons: territories drawn as their counties dissolved
        page.wait_for_selector("body[data-js='1'] #upload")
        page.fill("#upload input[name=name]", "counties")
        page.set_input_files("#upload input[type=file]", [str(COUNTIES / n) for n in
                             ("accounts.geojson", "territories.csv", "scenario.toml")])  # fmt: skip
        page.wait_for_selector("#upload[data-mapped='1']")  # territories.csv; no CSV else
        page.click("#upload button[type=submit]")
        page.wait_for_selector("table.scenarios td:text('counties')")
        page.wait_for_selector("body[data-js='1']")
        page.locator("table.scenarios tr", has_text="counties").locator("button").click()
        page.wait_for_url("**/ui/runs/*")
        page.wait_for_selector("#room[data-ready='1'][data-outlines='0']", timeout=240_000)
        run = page.url.rsplit("/", 1)[1]
        drawn = page.evaluate("window.alignRoom.outlines()")
        table = api.get(f"/runs/{run}/territories").json()
        contiguous = {str(t["territory_id"]): bool(t["contiguous"]) for t in table}
        assert [o["territory"] for o in drawn] == sorted(contiguous)  # one feature each
        for o in drawn:
            assert (o["type"], o["parts"] == 1) == (
                ("Polygon", True) if contiguous[o["territory"]] else ("MultiPolygon", False)
            ), o
        assert sum(o["units"] for o in drawn) == 30
        page.screenshot(path=str(shots / "9-counties-dissolved.png"))

        # a county moved by hand to a neighbouring territory: both outlines drawn again
        plan = pd.DataFrame(api.get(f"/runs/{run}/assignments").json())
        owner = dict(zip(plan["account_id"], plan["territory_id"], strict=True))
        units = gpd.read_file(COUNTIES / "accounts.geojson")
        pairs = adjacency_pairs(units.geometry, units["account_id"])
        a, b = next((a, b) for a, b in pairs.itertuples(index=False) if owner[a] != owner[b])
        src, dst = owner[a], owner[b]
        page.evaluate(f"window.alignRoom.selectIds([{a!r}])")
        page.select_option("#move select[name=territory]", dst)
        page.fill("#move input[name=reason]", "the rep lives next door")
        page.click("#move button[type=submit]")
        page.wait_for_selector("#room[data-outlines='1']")
        after = {o["territory"]: o for o in page.evaluate("window.alignRoom.outlines()")}
        before = {o["territory"]: o for o in drawn}
        assert after[dst]["units"] == before[dst]["units"] + 1
        assert after.get(src, {"units": 0})["units"] == before[src]["units"] - 1
        assert {t: o["units"] for t, o in after.items() if t not in (src, dst)} == {
            t: o["units"] for t, o in before.items() if t not in (src, dst)
        }
        page.screenshot(path=str(shots / "10-counties-moved.png"))

        # two pages on one proposal: the second edit is told the quotas changed under it
        pid = api.post(f"/runs/{solved['run']}/quotas", json={"goal": 25_000_000}).json()["id"]
        quotas = {q["territory_id"]: q for q in api.get(f"/proposals/{pid}").json()["quotas"]}
        t01 = quotas["T01"]
        base = round(t01["quota"] / 1000) * 1000
        lo, hi = max(base - 200_000, t01["min_quota"]), min(base + 200_000, t01["max_quota"])
        ana, lee = room.page(OPS), room.page(OPS)
        for p in (ana, lee):
            p.goto(f"{server.url}/ui/proposals/{pid}")
            p.wait_for_selector("body[data-proposal-js='1'] #override")
        for p, value, why in ((ana, hi, "Ana: a big renewal"), (lee, lo, "Lee: a slow start")):
            p.select_option("#override select[name=territory]", "T01")
            p.fill("#override input[name=quota]", str(int(value)))
            p.fill("#override input[name=reason]", why)
        ana.click("#override button[type=submit]")
        ana.wait_for_url(lambda u: pid not in u)
        ana.wait_for_selector("body[data-proposal-js='1'] table.diff")
        lee.click("#override button[type=submit]")
        lee.wait_for_selector("#message.error")
        assert lee.inner_text("#message") == (
            "the quotas changed since this page read them (it read v1 as the newest, now v2); "
            "reload to see the changes, then make yours again"
        )
        assert lee.url.endswith(pid)  # still on v1, nothing made
        made = api.get("/proposals", params={"run": solved["run"]}).json()["proposals"]
        assert [p["version"] for p in made if p["id"] == pid or p["parent_id"] == pid] == [1, 2]
        lee.screenshot(path=str(shots / "11-stale-quota.png"), full_page=True)
    room.check(expected=(CONFLICT,))  # the browser's own line for the refused edit
