"""The planning room's pages: sign-in, scenarios and runs, a run's map, compare.

Pages are rendered on the server (Jinja2, autoescaped); the map page loads its data from the
JSON API (``/runs/{id}/plan``) and recomputes balance in the browser. Forms post to the routes
here, which call the same functions as the API and show its messages.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ...errors import ScenarioError
from ...settings import list_presets
from ..config import ServiceConfig
from ..deps import ID, RUN_SETTINGS, StoreDep, proposal_row, run_row, scenario_row
from ..scenarios import add_scenario, load_scenario, run_overrides
from ..schemas import RunIn
from ..states import ACTIVE
from ..store import ProposalRow
from ..uploads import read_upload
from ..views import run_out, scenario_out
from .access import COOKIE, PAGE_HEADER, Caller, caller, owner
from .columns import guess
from .plans import queue_run, territory_plan
from .records import descends
from .reviews import regions_of, review_of

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
)


class SignIn(Exception):
    """The page needs a key: send the browser to the sign-in form."""


def _who(request: Request) -> Caller:
    try:
        return caller(request, owner(request))
    except HTTPException as e:
        if e.status_code in (401, 403):
            raise SignIn from None
        raise


def page(request: Request, template: str, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, template, {"page_header": PAGE_HEADER, **context}
    )
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def signin_redirect(request: Request, _: Exception) -> Response:
    """A page asked for without a valid key: the sign-in form, back here afterwards."""
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


# --- sign-in ----------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, "login.html", next=_local(next), error=None)


@router.post("/login")
def login(
    request: Request, key: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    config: ServiceConfig = request.app.state.config
    given = key.strip().encode()
    if config.api_keys and not any(hmac.compare_digest(given, k.encode()) for k in config.api_keys):
        return page(request, "login.html", next=_local(next), error="the API key is not valid")
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        COOKIE, key.strip(), httponly=True, samesite="strict", secure=False, path="/"
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only paths of this site after signing in (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


# --- scenarios and runs -----------------------------------------------------------------------


@router.get("/")
def home(request: Request, store: StoreDep) -> Response:
    who = _who(request)
    scenarios = [scenario_out(s) for s in store.scenarios(who.owner, limit=1000, offset=0)]
    runs = [run_out(r) for r in store.runs(who.owner, scenario_id=None, status=None,
                                            limit=1000, offset=0)]  # fmt: skip
    names = {s.id: s.name for s in scenarios}
    return page(
        request,
        "home.html",
        who=who,
        scenarios=list(reversed(scenarios)),
        runs=list(reversed(runs)),
        names=names,
        presets=list_presets(),
    )


@router.post("/ui/scenarios")
async def upload(request: Request, store: StoreDep) -> Response:
    """Upload a scenario's files; the validation problems as a table, or the scenario."""
    who = _who(request)
    try:
        name, files = await read_upload(request)
        row, _notes = await run_in_threadpool(
            add_scenario, store, who.owner, name, files, request.app.state.config
        )
    except ScenarioError as e:
        return page(request, "problems.html", problems=e.problems, status=422)
    except HTTPException as e:
        return page(request, "problems.html", problems=[str(e.detail)], status=e.status_code)
    response = Response(status_code=204)
    response.headers["HX-Redirect"] = f"/?scenario={row.id}"
    return response


class HeadersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: Annotated[str, Field(min_length=1, max_length=300)]
    headers: Annotated[list[Annotated[str, Field(max_length=300)]], Field(max_length=500)]
    kind: Literal["accounts", "territories", ""] | None = None


class ColumnsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: Annotated[list[HeadersIn], Field(max_length=20)]


@router.post("/ui/columns")
def columns_form(body: ColumnsIn, request: Request) -> Response:
    """The column mapping of an upload: for each CSV file (its header line, read by the page)
    what it is read as and each header's contract name, pre-filled as the import reads them."""
    _who(request)
    files = [guess(Path(f.file).name, f.headers, f.kind) for f in body.files]
    return page(request, "columns.html", files=files)


@router.post("/ui/scenarios/{scenario_id}/runs")
def start_run(
    scenario_id: str,
    request: Request,
    store: StoreDep,
    preset: Annotated[str, Form()] = "",
    time_limit_s: Annotated[str, Form()] = "",
    tolerance: Annotated[str, Form()] = "",
) -> Response:
    """Start a run with a preset and a few settings; problems as a table."""
    who = _who(request)
    who.require("ops", "starting a run")
    row = scenario_row(store, scenario_id, who.owner)
    overrides = []
    if time_limit_s.strip():
        overrides.append(f"solver.time_limit_s={time_limit_s.strip()}")
    if tolerance.strip():
        overrides.append(f"balance.potential.tolerance={tolerance.strip()}")
    body = RunIn(preset=preset or None, overrides=overrides)
    effective, problems = run_overrides(body)
    try:
        sc = load_scenario(store, row, effective, label=RUN_SETTINGS, problems=problems)
    except ScenarioError as e:
        return page(request, "problems.html", problems=e.problems, status=422)
    run = queue_run(request, row.id, who.owner, {**body.model_dump(), "effective": effective}, sc)
    response = Response(status_code=204)
    response.headers["HX-Redirect"] = f"/ui/runs/{run.id}"
    return response


@router.get("/ui/runs/{run_id}")
def run_page(run_id: str, request: Request, store: StoreDep) -> Response:
    who = _who(request)
    run = run_out(run_row(store, run_id, who.owner))
    scenario = scenario_out(scenario_row(store, run.scenario_id, who.owner))
    proposals = store.proposals(who.owner, run_id=run.id, limit=1000, offset=0)
    return page(request, "run.html", who=who, run=run, scenario=scenario, proposals=proposals)


@router.get("/ui/runs/{run_id}/status")
def run_status(run_id: str, request: Request, store: StoreDep) -> Response:
    """The live progress fragment (polled while the run is queued or running)."""
    who = _who(request)
    run = run_out(run_row(store, run_id, who.owner))
    response = page(request, "status.html", run=run)
    if run.status not in ACTIVE:
        response.headers["HX-Refresh"] = "true"  # the page now shows the plan
    return response


@router.get("/ui/compare")
def compare_page(request: Request, store: StoreDep, runs: str = "") -> Response:
    who = _who(request)
    ids = [r for r in runs.split(",") if ID.fullmatch(r)]
    rows = [run_out(run_row(store, r, who.owner)) for r in ids]
    keys = dict.fromkeys(k for r in rows for k in ((r.kpis or {}).get("after") or {}))
    return page(
        request, "compare.html", who=who, runs=rows, kpi_keys=list(keys), plot=tradeoff(rows)
    )


PLOT_X, PLOT_Y = "potential.max_abs_deviation", "weighted_mean_distance"


def tradeoff(runs: list[Any]) -> dict[str, Any]:
    """The trade-off plot: one point per run, balance (x) against distance (y), as SVG
    coordinates in a 480 x 280 box with a 50-pixel margin on the left and bottom."""
    pts = []
    for r in runs:
        after = (r.kpis or {}).get("after") or {}
        x, y = after.get(PLOT_X), after.get(PLOT_Y)
        if isinstance(x, int | float) and isinstance(y, int | float):
            pts.append((r.id, float(x), float(y)))
    if not pts:
        return {"points": [], "x": PLOT_X, "y": PLOT_Y}
    xs, ys = [p[1] for p in pts], [p[2] for p in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1e-9
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1e-9
    return {
        "x": PLOT_X,
        "y": PLOT_Y,
        "range": [x0, x1, y0, y1],
        "points": [
            {"id": i, "x": x, "y": y, "px": 60 + 400 * (x - x0) / (x1 - x0),
             "py": 240 - 200 * (y - y0) / (y1 - y0)}
            for i, x, y in pts
        ],
    }  # fmt: skip


@router.get("/ui/proposals/{proposal_id}")
def proposal_page(proposal_id: str, request: Request, store: StoreDep) -> Response:
    """A quota proposal: each quota inside its range, versions side by side, the diff, the
    review (state, history, comments) and what the caller's role may do."""
    who = _who(request)
    row = proposal_row(store, proposal_id, who.owner)
    quotas = row.quotas or []
    top = max([float(q.get("max_quota") or q.get("quota") or 0) for q in quotas] + [1.0])
    bars = [
        {
            **q,
            "lo": 100 * float(q.get("min_quota") or 0) / top,
            "hi": 100 * float(q.get("max_quota") or 0) / top,
            "at": 100 * float(q.get("quota") or 0) / top,
        }
        for q in quotas
    ]
    versions = [
        proposal_row(store, v.id, who.owner)
        for v in lineage(store.proposals(who.owner, run_id=row.run_id, limit=1000, offset=0), row)
    ]
    side = {
        str(q["territory_id"]): {v.id: q2.get("quota") for v in versions for q2 in v.quotas or []
                                 if q2.get("territory_id") == q["territory_id"]}
        for q in quotas
    }  # fmt: skip
    return page(
        request,
        "proposal.html",
        who=who,
        proposal=row,
        bars=bars,
        versions=versions,
        side=side,
        review=review_of(store, row),
        regions=regions_of(row),
    )


def lineage(rows: Sequence[ProposalRow], row: ProposalRow) -> list[ProposalRow]:
    """The versions ``row`` comes from and those made from it, oldest first."""
    by_id = {r.id: r for r in rows}
    chain: set[str] = set()
    at: ProposalRow | None = by_id.get(row.id, row)
    while at is not None:
        chain.add(at.id)
        at = by_id.get(at.parent_id or "")
    grown = True
    while grown:
        grown = False
        for r in rows:
            if r.parent_id in chain and r.id not in chain and descends(by_id, r, row.id):
                chain.add(r.id)
                grown = True
    return [r for r in rows if r.id in chain]


@router.get("/ui/runs/{run_id}/territories/{territory_id}")
def rep_page(run_id: str, territory_id: str, request: Request, store: StoreDep) -> Response:
    """One territory's plan, printable: the rep, a map of it, its accounts with names, the
    target accounts by whitespace, and the quota of the run's newest proposal with its range and
    seasonality."""
    who = _who(request)
    plan = territory_plan(store, run_id, territory_id, who.owner)
    return page(request, "rep.html", who=who, **plan)
