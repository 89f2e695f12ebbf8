"""The FastAPI app: scenarios and solve runs over HTTP, persisted, optionally keyed.

``create_app(config)`` builds the app; ``align serve`` runs it under uvicorn. The database
schema is migrated on start, runs left ``running`` by a stopped server are re-queued (or failed
with the reason), and a :class:`WorkerPool` solves queued runs in their own processes.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from .._version import __version__
from ..errors import AlignError, ScenarioError, SolverError
from ..model.backends import get_backend
from ..pockets import find_pockets
from ..quotas import DIFF_COLUMNS, Proposal, override_quotas, propose_quotas
from ..quotas.workbook import territory_labels, write_workbook
from ..runs import Run, compare_runs, moved_between, stored_run, stored_table
from ..scenario import Scenario
from ..settings import _parse_overrides, deep_merge, list_presets, load_preset
from ..tracking import proposal_of, track
from ..units import Units
from . import formats
from .config import ServiceConfig
from .formats import TooLarge
from .keys import KeyRing, RateLimiter
from .schemas import (
    Comparison,
    Health,
    MovedBetween,
    OverridesIn,
    PocketsIn,
    PocketsOut,
    Preset,
    Presets,
    Problem,
    ProposalInfo,
    ProposalList,
    ProposalOut,
    QuotasIn,
    RunCreated,
    RunIn,
    RunList,
    RunOut,
    ScenarioIn,
    ScenarioList,
    ScenarioOut,
    TrackingIn,
    TrackingOut,
)
from .store import (
    ACTIVE,
    QUEUED,
    SUCCEEDED,
    ProposalRow,
    RunRow,
    ScenarioRow,
    Store,
    clean_json,
    new_id,
    now,
    utc,
)
from .worker import WorkerPool, load_stored

log = logging.getLogger("align.service")

SCENARIO_FILES = (
    "accounts.csv",
    "accounts.parquet",
    "accounts.geojson",
    "accounts.gpkg",
    "territories.csv",
    "distances.csv",
    "adjacency.csv",
    "scenario.toml",
)
ID = re.compile(r"[0-9a-f]{32}")
RUN_SETTINGS = "run settings"
QUOTA_SETTINGS = "quota settings"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# ---------------------------------------------------------------------------------------------
# limits, keys, errors


Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _Middleware:
    """A pure ASGI middleware over HTTP requests (others pass through)."""

    def __init__(self, app: Callable[..., Awaitable[None]]):
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        raise NotImplementedError


async def send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    """A whole JSON response, straight on the ASGI channel."""
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(content).encode()})


class BodyLimit(_Middleware):
    """Reject request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: Callable[..., Awaitable[None]], limit: int):
        super().__init__(app)
        self.limit = limit

    async def http(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            detail = (
                f"the request body is {int(declared):,} bytes; the limit is {self.limit:,} "
                "bytes (ALIGN_MAX_REQUEST_BYTES); send less or raise it"
            )
            await send_json(send, 413, {"detail": detail})
            return
        seen = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(
                        413,
                        f"the request body is over {self.limit:,} bytes, the limit "
                        "(ALIGN_MAX_REQUEST_BYTES); send less or raise it",
                    )
            return message

        await self.app(scope, counted, send)


class Unexpected(_Middleware):
    """An exception no handler took becomes a 500 with a plain message (the details go to the
    log), answered like any other response: the exception is not raised on to the server, which
    would close the keep-alive connection without saying so."""

    async def http(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started |= message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:  # noqa: BLE001 - the last net under every route
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:  # half a response is out: only closing tells the client
                raise
            detail = "internal error; the server log has the details"
            await send_json(send, 500, {"detail": detail, "problems": []})


api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="one of ALIGN_API_KEYS")


def owner_of(request: Request, key: Annotated[str | None, Depends(api_key)]) -> str:
    """The owner of what this request creates or reads: a digest of its API key.

    Each owner (or, without a valid key or keys at all, each client address) has a request rate
    (ALIGN_RATE_PER_S, ALIGN_RATE_BURST); past it the answer is 429 with Retry-After, also for
    wrong keys, so keys cannot be guessed at speed.
    """
    keys: KeyRing = request.app.state.keys
    owner = keys.owner(key) if keys.enabled else ""
    client = request.client.host if request.client is not None else "?"
    # per key; per client address without a valid key, and on an open service (no keys)
    wait = request.app.state.rates.take(f"key:{owner}" if owner else f"ip:{client}")
    if wait > 0:
        raise HTTPException(
            429,
            f"too many requests: the limit is {request.app.state.config.rate_per_s:g} a second "
            "(ALIGN_RATE_PER_S); retry after the seconds in Retry-After",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    if owner is not None:
        return owner
    if not key:
        raise HTTPException(
            401,
            "an API key is required: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    raise HTTPException(403, "the API key is not valid")


Owner = Annotated[str, Depends(owner_of)]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(store_of)]
Format = Annotated[
    Literal["json", "csv", "geojson"], Query(description="json rows, csv text or geojson")
]
TableFormat = Annotated[Literal["json", "csv"], Query(description="json rows or csv text")]


def problem(status: int, detail: str, problems: list[str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "problems": problems or []}, status_code=status)


def not_found(kind: str, ident: str) -> HTTPException:
    shown = ident if ID.fullmatch(ident) else "that id"
    return HTTPException(404, f"no {kind} {shown}")


# ---------------------------------------------------------------------------------------------
# the app


def create_app(config: ServiceConfig | None = None, *, run_workers: bool = True) -> FastAPI:
    """Build the service. ``config`` defaults to the ``ALIGN_*`` environment variables."""
    config = config or ServiceConfig.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(config.database_url)
        store.migrate()
        requeued, failed = store.recover(max_attempts=config.max_attempts)
        if requeued or failed:
            log.warning("recovered runs: %d re-queued, %d failed", len(requeued), len(failed))
        pool = WorkerPool(
            store, config.database_url, size=config.workers, memory_mb=config.run_memory_mb
        )
        app.state.store, app.state.pool = store, pool
        if run_workers:
            pool.start()
        try:
            yield
        finally:
            if run_workers:
                pool.stop()
            store.dispose()

    # /docs and /redoc load Swagger UI and ReDoc from the service itself (no CDN: they work
    # offline); the assets are those fastapi-offline ships, served under /static-offline-docs
    app = FastAPIOffline(
        title="align",
        version=__version__,
        summary="Exact, balanced territory alignment: scenarios and solve runs over HTTP.",
        lifespan=lifespan,
        responses={401: {"model": Problem}, 403: {"model": Problem}, 413: {"model": Problem}},
    )
    app.state.config = config
    app.state.keys = KeyRing(config.api_keys, config.api_keys_file)
    app.state.rates = RateLimiter(config.rate_per_s, config.rate_burst)
    app.state.results = ResultCache(config.result_cache_mb * 2**20)
    app.add_middleware(BodyLimit, limit=config.max_request_bytes)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Content-Type"],
        )

    @app.exception_handler(AlignError)
    async def align_error(_: Request, e: AlignError) -> JSONResponse:
        if isinstance(e, ScenarioError):
            n = len(e.problems)
            return problem(422, f"{n} problem{'s' if n != 1 else ''} in the input", e.problems)
        return problem(422, str(e))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, e: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer, with the echoed inputs made JSON (NaN was a 500 when echoed)
        return JSONResponse({"detail": _echoable(jsonable_encoder(e.errors()))}, 422)

    app.add_middleware(Unexpected)  # a 500 is a response; the connection stays usable
    _routes(app)
    from .web import mount  # the planning room: pages, its API, the sign-in cookie

    mount(app)
    return app


def _routes(app: FastAPI) -> None:  # noqa: C901 - one place that lists every route
    @app.get("/healthz", tags=["service"], responses={503: {"model": Problem}})
    def healthz(store: StoreDep) -> Health:
        """Liveness and the database's reachability (no key needed): 503 with the reason while
        the database cannot be read (gone, locked, unreachable)."""
        reason = store.unreachable()
        if reason is not None:
            raise HTTPException(503, f"the database is unavailable: {reason}")
        return Health(status="ok", version=__version__, database=store.engine.dialect.name)

    @app.get("/models", tags=["service"])
    def models(_: Owner) -> Presets:
        """The optimisation presets (models/), usable as a run's ``preset``."""
        return Presets(models=[Preset(name=n, settings=load_preset(n)) for n in list_presets()])

    # --- scenarios --------------------------------------------------------------------------

    multipart_schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "map": {
                "type": "array",
                "items": {"type": "string"},
                "description": 'HEADER=NAME, e.g. "Account ID=account_id" (as align --map)',
            },
            "accounts": {"type": "string", "description": "the upload to read as accounts.csv"},
            "territories": {
                "type": "string",
                "description": "the upload to read as territories.csv",
            },
        },
        "required": ["files"],
    }

    @app.post(
        "/scenarios",
        status_code=201,
        tags=["scenarios"],
        responses={422: {"model": Problem}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": ScenarioIn.model_json_schema()},
                    "multipart/form-data": {"schema": multipart_schema},
                },
            }
        },
    )
    async def create_scenario(request: Request, owner: Owner) -> JSONResponse:
        """Store a validated scenario: its tables as JSON, or its files uploaded (multipart,
        field ``files``, named as in a scenario folder). Invalid input is 422 with every problem,
        worded as by ``align validate``."""
        config: ServiceConfig = request.app.state.config
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            name, files = await _read_upload(request)
        elif kind in ("application/json", ""):
            raw = await request.body()
            name, files = await run_in_threadpool(_json_scenario, raw, config)
        else:
            raise HTTPException(415, "send application/json or multipart/form-data")
        names = list(files)
        try:
            row, notes = await run_in_threadpool(
                _add_scenario, store_of(request), owner, name, files, config
            )
        finally:
            del files
            await run_in_threadpool(release_memory)
        out = _scenario_out(row, names).model_copy(update={"notes": notes})
        return JSONResponse(out.model_dump(mode="json"), 201, headers={"Location": out.url})

    @app.get("/scenarios", tags=["scenarios"])
    def list_scenarios(
        store: StoreDep,
        owner: Owner,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> ScenarioList:
        """Your scenarios, oldest first."""
        rows = store.scenarios(owner, limit=limit, offset=offset)
        return ScenarioList(scenarios=[_scenario_out(r) for r in rows])

    @app.get("/scenarios/{scenario_id}", tags=["scenarios"], responses={404: {"model": Problem}})
    def get_scenario(scenario_id: str, store: StoreDep, owner: Owner) -> ScenarioOut:
        """One scenario: sizes, settings as resolved, its files."""
        row = _scenario(store, scenario_id, owner)
        return _scenario_out(row, sorted(store.scenario_files(row.id)))

    @app.post(
        "/scenarios/{scenario_id}/runs",
        status_code=202,
        tags=["runs"],
        responses={404: {"model": Problem}, 422: {"model": Problem}},
    )
    def create_run(
        scenario_id: str, body: RunIn, request: Request, store: StoreDep, owner: Owner
    ) -> JSONResponse:
        """Queue a solve of the scenario; 202 with the run's id and URL. Settings are checked
        now (422 with every problem); the solve happens in a worker process."""
        row = _scenario(store, scenario_id, owner)
        config: ServiceConfig = request.app.state.config
        active = store.active_runs(owner)
        if active >= config.max_active_runs:
            raise HTTPException(
                429,
                f"{active} runs of this key are queued or running, the limit "
                "(ALIGN_MAX_ACTIVE_RUNS); wait for one to finish or cancel one",
                headers={"Retry-After": "10"},
            )
        effective, problems = _run_overrides(body)
        scenario = _load(store, row, effective, label=RUN_SETTINGS, problems=problems)
        _check_run_limits(scenario, config)
        run = store.add_run(
            RunRow(
                id=new_id(),
                scenario_id=row.id,
                owner=owner,
                status=QUEUED,
                progress=0.0,
                phase="queued",
                request={**body.model_dump(), "effective": effective},
                time_limit_s=scenario.settings.solver.time_limit_s,
                attempts=0,
                created_at=now(),
            )
        )
        request.app.state.pool.wake()
        url = f"/runs/{run.id}"
        created = RunCreated(id=run.id, status=run.status, url=url)
        return JSONResponse(created.model_dump(), 202, headers={"Location": url})

    # --- runs -------------------------------------------------------------------------------

    @app.get("/runs", tags=["runs"])
    def list_runs(
        store: StoreDep,
        owner: Owner,
        scenario: Annotated[str | None, Query(description="a scenario id")] = None,
        status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> RunList:
        """Your runs, oldest first; of one scenario and in one status when asked."""
        if scenario is not None and not ID.fullmatch(scenario):
            return RunList(runs=[])  # no scenario has such an id
        rows = store.runs(owner, scenario_id=scenario, status=status, limit=limit, offset=offset)
        return RunList(runs=[_run_out(r) for r in rows])

    @app.get("/runs/{run_id}", tags=["runs"], responses={404: {"model": Problem}})
    def get_run(run_id: str, store: StoreDep, owner: Owner) -> RunOut:
        """Status, progress, and when solved: objective, bound, gap and KPIs."""
        return _run_out(_run(store, run_id, owner))

    @app.delete(
        "/runs/{run_id}",
        tags=["runs"],
        responses={404: {"model": Problem}, 409: {"model": Problem}},
    )
    def cancel_run(run_id: str, request: Request, store: StoreDep, owner: Owner) -> RunOut:
        """Cancel a queued or running run (its solver process is stopped)."""
        row = _run(store, run_id, owner)
        if not store.cancel(row.id):
            row = _run(store, run_id, owner)
            raise HTTPException(
                409, f"run {row.id} has already {row.status}; only queued or running runs cancel"
            )
        request.app.state.pool.wake()
        return _run_out(_run(store, run_id, owner))

    @app.get(
        "/runs/{run_id}/assignments",
        tags=["results"],
        responses={404: {"model": Problem}, 409: {"model": Problem}},
    )
    def assignments(
        run_id: str, request: Request, store: StoreDep, owner: Owner, format: Format = "json"
    ) -> Response:
        """The plan: account_id, territory_id, previous_territory, moved, distance."""

        def build() -> Response:
            row, frame = _result(store, run_id, owner, "assignments")
            return formats.respond(frame, format, lambda: _points(store, row), "accounts")

        return _cached(request, store, run_id, owner, ("assignments", format), build)

    @app.get(
        "/runs/{run_id}/territories",
        tags=["results"],
        responses={404: {"model": Problem}, 409: {"model": Problem}},
    )
    def territories(
        run_id: str, request: Request, store: StoreDep, owner: Owner, format: Format = "json"
    ) -> Response:
        """One row per territory: totals, targets, deviations, mean distance. In GeoJSON each
        territory is the convex hull of its accounts (lat/lon scenarios)."""

        def build() -> Response:
            row, frame = _result(store, run_id, owner, "territories")

            def hulls() -> dict[str, Any] | None:
                _, plan = _result(store, run_id, owner, "assignments")
                return formats.hulls(plan, _points(store, row))

            return formats.respond(frame, format, hulls, "territories")

        return _cached(request, store, run_id, owner, ("territories", format), build)

    @app.get(
        "/compare",
        tags=["results"],
        responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
    )
    def compare(
        store: StoreDep,
        owner: Owner,
        runs: Annotated[str, Query(description="two or more run ids, comma-separated")],
        moved: Annotated[int, Query(ge=0, le=100_000, description="moved accounts to list")] = 100,
    ) -> Comparison:
        """KPIs side by side (one column per run) and the accounts moved between each pair."""
        ids = [r.strip() for r in runs.split(",") if r.strip()]
        if len(ids) < 2:
            raise HTTPException(422, "give two or more run ids: /compare?runs=ID1,ID2")
        loaded = [_as_run(store, i, owner) for i in ids]
        tidy = compare_runs(loaded, names=ids)  # one row per run
        table = tidy.drop(columns=[c for c in tidy.columns if str(c).startswith("settings.")]).T
        kpis = {
            str(k): {i: formats.plain(v) for i, v in row.items()} for k, row in table.iterrows()
        }
        pairs = []
        for a, b, ia, ib in zip(loaded, loaded[1:], ids, ids[1:], strict=False):
            diff = moved_between(a, b)
            pairs.append(
                MovedBetween(
                    a=ia,
                    b=ib,
                    count=len(diff),
                    accounts=formats.records(diff.head(moved)),  # type: ignore[arg-type]
                )
            )
        return Comparison(runs=ids, kpis=kpis, moved=pairs)

    # --- pockets ----------------------------------------------------------------------------

    @app.post(
        "/scenarios/{scenario_id}/pockets",
        tags=["scenarios"],
        responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
    )
    def pockets(scenario_id: str, body: PocketsIn, store: StoreDep, owner: Owner) -> PocketsOut:
        """Opportunity pockets: dense clusters of whitespace (as ``align pockets``)."""
        row = _scenario(store, scenario_id, owner)
        plan = _as_run(store, body.run, owner) if body.run is not None else None
        if body.run is not None and _run(store, body.run, owner).scenario_id != row.id:
            raise HTTPException(422, f"run {body.run} is a run of another scenario")
        scenario = _load(store, row, None, label="scenario")
        result = find_pockets(
            scenario, run=plan, settings=body.settings, by_segment=body.by_segment
        )
        return PocketsOut(
            settings=result.settings.model_dump(),
            pockets=formats.records(result.pockets),
            members=formats.records(result.members),
            by_segment=None if result.by_segment is None else formats.records(result.by_segment),
        )

    # --- quota proposals --------------------------------------------------------------------

    @app.post(
        "/runs/{run_id}/quotas",
        status_code=201,
        tags=["quotas"],
        responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
    )
    def propose(run_id: str, body: QuotasIn, store: StoreDep, owner: Owner) -> JSONResponse:
        """Propose quotas on a succeeded run's plan (as ``align quotas RUN --goal``), solved
        now; 201 with the proposal, version 1. Its status is ``optimal`` with the quotas, or
        ``infeasible`` with the reasons (an impossible goal, say)."""
        row = _run(store, run_id, owner)
        _plan_or_409(row)
        dotted, problems = _parse_overrides(body.overrides)
        problems = [p.replace("--set ", f"{QUOTA_SETTINGS}: override ", 1) for p in problems]
        given = {"quota": body.settings} if body.settings is not None else {}
        effective = deep_merge(deep_merge(row.request.get("effective") or {}, given), dotted)
        scenario = _quota_scenario(store, row, effective, problems)
        if scenario.settings.quota.region_goals and body.region_goals is None:
            raise ScenarioError(
                f"{QUOTA_SETTINGS}: quota.region_goals names a file "
                f"({scenario.settings.quota.region_goals!r}), which the service does not hold; "
                "send the goals as region_goals in the request body"
            )
        proposal = propose_quotas(
            _as_run(store, row.id, owner),
            goal=body.goal,
            region_goals=body.region_goals,
            scenario=scenario,
        )
        request = {**body.model_dump(), "effective": effective}
        return _created(store, _new_proposal(proposal, owner, row.id, None, request))

    @app.get("/proposals", tags=["quotas"])
    def list_proposals(
        store: StoreDep,
        owner: Owner,
        run: Annotated[str | None, Query(description="a run id")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> ProposalList:
        """Your proposals (every version), oldest first; of one run when asked."""
        if run is not None and not ID.fullmatch(run):
            return ProposalList(proposals=[])
        rows = store.proposals(owner, run_id=run, limit=limit, offset=offset)
        return ProposalList(proposals=[_proposal_info(r) for r in rows])

    @app.get("/proposals/{proposal_id}", tags=["quotas"], responses={404: {"model": Problem}})
    def get_proposal(proposal_id: str, store: StoreDep, owner: Owner) -> ProposalOut:
        """One version: status, goal, settings, overrides, KPIs, the quotas (with rationale
        and negotiation range), the region roll-up and, from version 2, the diff."""
        row = _proposal_row(store, proposal_id, owner)
        return ProposalOut(
            **_proposal_info(row).model_dump(), quotas=row.quotas, regions=row.regions,
            diff=row.diff,
        )  # fmt: skip

    for table in ("quotas", "regions", "diff"):
        _proposal_table(app, table)

    @app.post(
        "/proposals/{proposal_id}/overrides",
        status_code=201,
        tags=["quotas"],
        responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
    )
    def override(
        proposal_id: str, body: OverridesIn, store: StoreDep, owner: Owner
    ) -> JSONResponse:
        """Hold quotas and rebalance the rest (as ``align quotas PROPOSAL --override``): 201
        with the next version and its diff. Each quota must lie in its negotiation range."""
        previous = _proposal_row(store, proposal_id, owner)
        _quotas_or_409(previous)
        if not body.quotas:
            raise ScenarioError(
                'give at least one quota to hold, e.g. {"quotas": {"T07": 1250000}}'
            )
        if isinstance(body.reason, dict):
            odd = sorted(set(body.reason) - set(body.quotas))
            if odd:
                raise ScenarioError(
                    f"reason given for {', '.join(odd)}: not among the quotas held; give one "
                    "reason for all, or one per territory of quotas"
                )
        row = _run(store, previous.run_id, owner)
        effective = dict(previous.request.get("effective") or {})
        scenario = _quota_scenario(store, row, effective, [])
        proposal = override_quotas(
            _library_proposal(previous),
            body.quotas,
            reason=body.reason,
            run=_as_run(store, row.id, owner),
            scenario=scenario,
        )
        request = {**body.model_dump(), "effective": effective}
        return _created(store, _new_proposal(proposal, owner, row.id, previous.id, request))

    @app.get(
        "/proposals/{proposal_id}/xlsx",
        tags=["quotas"],
        response_class=Response,
        responses={
            200: {"content": {XLSX: {}}, "description": "proposal.xlsx"},
            404: {"model": Problem},
            409: {"model": Problem},
        },
    )
    def workbook(proposal_id: str, store: StoreDep, owner: Owner) -> Response:
        """The leaders' workbook (proposal.xlsx): Territories, Regions, Changes, Summary."""
        row = _proposal_row(store, proposal_id, owner)
        _quotas_or_409(row)
        with tempfile.TemporaryDirectory(prefix="align-xlsx-") as tmp:
            labels, units = _workbook_context(store, row)
            content = write_workbook(
                _library_proposal(row), Path(tmp) / "proposal.xlsx", labels=labels, units=units
            )
            data = content.read_bytes()
        name = f"proposal-{row.id[:8]}-v{row.version}.xlsx"
        return Response(
            data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @app.post(
        "/proposals/{proposal_id}/tracking",
        tags=["quotas"],
        responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
    )
    def tracking(proposal_id: str, body: TrackingIn, store: StoreDep, owner: Owner) -> TrackingOut:
        """Progress against the proposal's quotas (as ``align track``): bookings to date, pace,
        projection, gap, pipeline coverage and risk per territory and region, the accounts the
        plan does not know, and a Markdown summary. Nothing is stored."""
        row = _proposal_row(store, proposal_id, owner)
        _quotas_or_409(row)
        _, plan = _result(store, row.run_id, owner, "assignments")
        quotas = pd.DataFrame.from_records(row.quotas or [])
        prop = proposal_of(
            quotas, plan, periods=row.detail.get("periods") or [], label=f"proposal {row.id}"
        )
        with tempfile.TemporaryDirectory(prefix="align-tracking-") as tmp:
            pipeline = body.pipeline
            result = track(
                prop,
                _rows_file(Path(tmp), "actuals.csv", body.actuals),
                pipeline=None
                if pipeline is None
                else _rows_file(Path(tmp), "pipeline.csv", pipeline),
                as_of=body.as_of,
                year_start=body.year_start,
                pace_threshold=body.pace_threshold,
                min_coverage=body.min_coverage,
            )
        return TrackingOut(
            as_of=f"{result.as_of:%Y-%m-%d}",
            year_start=f"{result.year_start:%Y-%m-%d}",
            year_end=f"{result.year_end:%Y-%m-%d}",
            territories=formats.records(result.territories),
            regions=formats.records(result.regions),
            unknown=formats.records(result.unknown),
            ignored=result.ignored,
            at_risk=[str(t) for t in result.at_risk["territory_id"]],
            markdown=result.markdown(),
        )


# ---------------------------------------------------------------------------------------------
# helpers of the routes


async def _read_upload(request: Request) -> tuple[str, dict[str, bytes]]:
    form = await request.form()
    files: dict[str, bytes] = {}
    problems: list[str] = []
    name = form.get("name")
    maps: list[str] = []  # map=HEADER=NAME, as --map on the command line
    alias: dict[str, str] = {}  # accounts=Account_Export.csv: an upload read as accounts.csv
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if key == "map":
            maps.append(value)
        elif key in ("accounts", "territories"):
            alias[Path(value).name] = f"{key}.csv"
        elif key != "name":
            problems.append(
                f"form field {key!r}: expected a file upload, 'name', 'map', 'accounts' or "
                "'territories'"
            )
    uploaded = {Path(v.filename or k).name for k, v in form.multi_items() if not isinstance(v, str)}
    for upload, as_name in alias.items():
        if upload not in uploaded:
            problems.append(
                f"form field {as_name[:-4]}={upload!r}: no file {upload!r} was uploaded"
            )
    for key, value in form.multi_items():
        if isinstance(value, str):
            continue
        filename = alias.get(Path(value.filename or key).name, Path(value.filename or key).name)
        if filename not in SCENARIO_FILES:
            problems.append(
                f"upload {filename!r}: not a scenario file; send {', '.join(SCENARIO_FILES)}, "
                f"or say which it is with the form field accounts={filename!r} (or territories)"
            )
            continue
        if filename in files:
            problems.append(f"upload {filename!r}: sent twice")
            continue
        files[filename] = await value.read()
    await form.close()
    if not files and not problems:
        problems.append("no files uploaded; send accounts.csv and territories.csv as 'files'")
    if maps and not problems:
        files = formats.with_columns(files, maps)
    if problems:
        raise ScenarioError(problems)
    label = name if isinstance(name, str) and name.strip() else "scenario"
    return formats.clean_name(label), files


def _echoable(value: Any) -> Any:
    """A validation error's content as strict JSON: NaN and infinities as their names."""
    stack = [value]
    while stack:  # no recursion: an echoed input may nest deeply
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in list(items):
            if isinstance(v, float) and not math.isfinite(v):
                node[k] = str(v)
            elif isinstance(v, dict | list):
                stack.append(v)
    return value


def release_memory() -> None:
    """Give memory freed by a large request back to the system (glibc keeps freed heap pages
    for reuse otherwise, and the server would stay at its peak after one large upload)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _json_scenario(raw: bytes, config: ServiceConfig) -> tuple[str, dict[str, bytes]]:
    """A JSON scenario's name and files (in a worker thread: a large body is parsed there, not
    on the event loop)."""
    try:
        body = ScenarioIn.model_validate_json(raw)
    except ValidationError as e:
        raise RequestValidationError(e.errors(include_url=False)) from None
    return body.name, formats.scenario_files(body, config.max_accounts)


def _add_scenario(
    store: Store, owner: str, name: str, files: dict[str, bytes], config: ServiceConfig
) -> tuple[ScenarioRow, list[str]]:
    """The stored scenario and how its files were read (headers mapped, amounts, ZIP codes)."""
    formats.check_tables(files, config)
    with tempfile.TemporaryDirectory(prefix="align-scenario-") as tmp:
        scenario = load_stored(files, Path(tmp) / "scenario")
    if scenario.n_accounts > config.max_accounts:
        raise TooLarge(
            "the number of accounts", scenario.n_accounts, config.max_accounts, "ALIGN_MAX_ACCOUNTS"
        )
    row = ScenarioRow(
        id=new_id(),
        owner=owner,
        name=name,
        created_at=now(),
        n_accounts=scenario.n_accounts,
        n_territories=scenario.n_territories,
        coord_kind=scenario.coord_kind,
        input_hash=scenario.input_hash,
        settings=formats.plain_tree(scenario.settings.model_dump()),
        points=formats.points_of(scenario),
    )
    return store.add_scenario(row, files), scenario.notes


def _scenario(store: Store, scenario_id: str, owner: str) -> ScenarioRow:
    row = store.scenario(scenario_id, owner) if ID.fullmatch(scenario_id) else None
    if row is None:
        raise not_found("scenario", scenario_id)
    return row


def _run(store: Store, run_id: str, owner: str) -> RunRow:
    row = store.run(run_id, owner) if ID.fullmatch(run_id) else None
    if row is None:
        raise not_found("run", run_id)
    return row


def _load(
    store: Store,
    row: ScenarioRow,
    overrides: dict[str, Any] | None,
    *,
    label: str,
    problems: list[str] | None = None,
) -> Scenario:
    """The stored scenario, validated again with ``overrides``; '--set' problems renamed and
    listed after ``problems`` (those found before), which are raised in any case."""
    found = list(problems or [])
    with tempfile.TemporaryDirectory(prefix="align-scenario-") as tmp:
        try:
            scenario = load_stored(store.scenario_files(row.id), Path(tmp) / "scenario", overrides)
        except ScenarioError as e:
            found += [
                f"{label}{p[len('--set') :]}" if p.startswith("--set") else p for p in e.problems
            ]
            raise ScenarioError(found) from None
    if found:
        raise ScenarioError(found)
    return scenario


def _check_run_limits(scenario: Scenario, config: ServiceConfig) -> None:
    """422 before a run is queued: an unknown solver, a time limit past the service's, or
    more account x territory pairs than the service solves (with the setting that fits)."""
    problems = []
    solver = scenario.settings.solver
    try:
        get_backend(solver.name)
    except SolverError as e:
        problems.append(f"{RUN_SETTINGS}: {e}")
    if solver.time_limit_s > config.max_time_limit_s:
        problems.append(
            f"{RUN_SETTINGS}: settings key 'solver.time_limit_s' is {solver.time_limit_s:g} s, "
            f"above this service's limit of {config.max_time_limit_s:g} s "
            "(ALIGN_MAX_TIME_LIMIT_S); ask for less"
        )
    n = scenario.n_accounts
    m = max(scenario.n_territories, scenario.settings.territories.count or 0)
    per_account = min(m, solver.candidates) if solver.candidates else m
    if n * per_account > config.max_pairs:
        fit = config.max_pairs // max(n, 1)
        how = (
            f"set solver.candidates = {fit} (nearest territories per account) or send fewer "
            "accounts"
            if fit >= 2
            else "send fewer accounts"
        )
        problems.append(
            f"{RUN_SETTINGS}: {n:,} accounts x {per_account:,} territories are "
            f"{n * per_account:,} pairs, above this service's limit of {config.max_pairs:,} "
            f"(ALIGN_MAX_PAIRS); {how}"
        )
    if problems:
        raise ScenarioError(problems)


def _plan_or_409(row: RunRow) -> None:
    if row.status == SUCCEEDED:
        return
    if row.status in ACTIVE:
        raise HTTPException(
            409, f"run {row.id} is {row.status}; propose quotas once it has succeeded"
        )
    why = f" ({row.reason})" if row.reason else ""
    raise HTTPException(
        409, f"run {row.id} has {row.status}{why}; quotas are proposed on a succeeded run's plan"
    )


def _quota_scenario(
    store: Store, row: RunRow, effective: dict[str, Any], problems: list[str]
) -> Scenario:
    """The run's scenario with the run's settings and the proposal's (422 with every problem
    of both)."""
    scenario_row = store.scenario(row.scenario_id, row.owner)
    assert scenario_row is not None  # a run's scenario is never deleted
    return _load(store, scenario_row, effective, label=QUOTA_SETTINGS, problems=problems)


def _rows_file(folder: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    """Rows of a table as the CSV file ``align track`` reads (no rows: an empty file)."""
    path = folder / name
    path.write_bytes(formats.rows_csv(name, rows) if rows else b"")
    return path


def _proposal_row(store: Store, proposal_id: str, owner: str) -> ProposalRow:
    row = store.proposal(proposal_id, owner, tables=True) if ID.fullmatch(proposal_id) else None
    if row is None:
        raise not_found("proposal", proposal_id)
    return row


def _quotas_or_409(row: ProposalRow) -> None:
    if row.status != "optimal":
        raise HTTPException(
            409,
            f"proposal {row.id} is {row.status}; it holds no quotas (see its reasons); propose "
            "again with another goal or settings",
        )


def _new_proposal(
    proposal: Proposal, owner: str, run_id: str, parent_id: str | None, request: dict[str, Any]
) -> ProposalRow:
    data = clean_json(proposal.to_dict())
    detail = ("periods", "components", "objective", "reasons", "message")
    return ProposalRow(
        id=new_id(),
        owner=owner,
        run_id=run_id,
        parent_id=parent_id,
        version=proposal.version,
        status=proposal.status,
        goal=proposal.goal,
        request=clean_json(request),
        settings=data["settings"],
        region_goals=data["region_goals"],
        overrides=data["overrides"],
        kpis=data["kpis"],
        quotas=data["quotas"],
        regions=data["regions"],
        diff=data["diff"],
        detail={k: data[k] for k in detail},
        created_at=now(),
    )


def _created(store: Store, row: ProposalRow) -> JSONResponse:
    store.add_proposal(row)
    out = ProposalOut(
        **_proposal_info(row).model_dump(), quotas=row.quotas, regions=row.regions, diff=row.diff
    )
    return JSONResponse(out.model_dump(mode="json"), 201, headers={"Location": out.url})


def _proposal_info(row: ProposalRow) -> ProposalInfo:
    d = row.detail
    return ProposalInfo(
        id=row.id,
        run_id=row.run_id,
        parent_id=row.parent_id,
        version=row.version,
        status=row.status,
        goal=row.goal,
        settings=row.settings,
        region_goals=row.region_goals,
        overrides=row.overrides,
        kpis=row.kpis,
        periods=d.get("periods") or [],
        components=d.get("components") or [],
        reasons=d.get("reasons") or [],
        message=d.get("message") or "",
        created_at=utc(row.created_at),
        url=f"/proposals/{row.id}",
    )


def _workbook_context(store: Store, row: ProposalRow) -> tuple[pd.DataFrame | None, Units]:
    """Territory names and reps (the scenario's territories.csv) and the run's units."""
    run = store.run(row.run_id)
    if run is None:
        return None, Units()
    units = Units.of((run.summary or {}).get("settings") or {})
    raw = store.scenario_files(run.scenario_id).get("territories.csv")
    return (territory_labels(io.BytesIO(raw)) if raw is not None else None), units


def _library_proposal(row: ProposalRow) -> Proposal:
    """A stored version as the library's :class:`Proposal` (run and parent: the service ids)."""
    data = {
        **row.detail,
        "status": row.status,
        "goal": row.goal,
        "settings": row.settings,
        "region_goals": row.region_goals,
        "overrides": row.overrides,
        "kpis": row.kpis,
        "version": row.version,
        "run": row.run_id,
        "parent": row.parent_id,
        "quotas": row.quotas,
        "regions": row.regions,
        "diff": row.diff,
    }
    return Proposal.from_dict(data)


def _proposal_table(app: FastAPI, table: str) -> None:
    what = {
        "quotas": "one row per territory (quotas.csv)",
        "regions": "the region roll-up with a total line (regions.csv)",
        "diff": "changes against the previous version (diff.csv; empty for version 1)",
    }[table]

    def read(
        proposal_id: str, store: StoreDep, owner: Owner, format: TableFormat = "json"
    ) -> Response:
        row = _proposal_row(store, proposal_id, owner)
        _quotas_or_409(row)
        frame = getattr(_library_proposal(row), table)
        if frame is None:
            frame = pd.DataFrame(columns=DIFF_COLUMNS)
        return formats.respond(frame, format, lambda: None, table)

    read.__doc__ = f"The proposal's {what}: ``?format=json`` (rows) or ``csv``."
    app.get(
        f"/proposals/{{proposal_id}}/{table}",
        tags=["quotas"],
        name=f"proposal_{table}",
        operation_id=f"proposal_{table}",
        responses={404: {"model": Problem}, 409: {"model": Problem}},
    )(read)


def _run_overrides(body: RunIn) -> tuple[dict[str, Any], list[str]]:
    """preset, then settings, then the dotted overrides, as one nested dict; and the problems
    of the overrides that do not parse."""
    merged: dict[str, Any] = dict(body.settings or {})
    if body.preset is not None:
        merged["model"] = body.preset
    dotted, problems = _parse_overrides(body.overrides)
    problems = [p.replace("--set ", f"{RUN_SETTINGS}: override ", 1) for p in problems]
    return deep_merge(merged, dotted), problems


def _scenario_out(row: ScenarioRow, files: list[str] | None = None) -> ScenarioOut:
    return ScenarioOut(
        id=row.id,
        name=row.name,
        created_at=utc(row.created_at),
        accounts=row.n_accounts,
        territories=row.n_territories,
        coordinates=row.coord_kind,
        input_hash=row.input_hash,
        files=files or [],
        settings=row.settings,
        url=f"/scenarios/{row.id}",
    )


def _run_out(row: RunRow) -> RunOut:
    s = row.summary or {}
    return RunOut(
        id=row.id,
        scenario_id=row.scenario_id,
        status=row.status,  # type: ignore[arg-type]
        progress=row.progress,
        name=row.request.get("name"),
        phase=row.phase,
        reason=row.reason,
        solver_status=row.solver_status,
        objective=formats.plain(s.get("objective")),
        bound=formats.plain(s.get("bound")),
        gap=formats.plain(s.get("gap")),
        kpis=formats.plain_tree(s.get("kpis")),
        terms=formats.plain_tree(s.get("terms")),
        wall_seconds=s.get("wall_seconds"),
        reasons=s.get("reasons") or [],
        warnings=[w["message"] for w in [(s.get("stats") or {}).get("far_accounts")] if w],
        request={k: v for k, v in row.request.items() if k != "effective"},
        attempts=row.attempts,
        created_at=utc(row.created_at),
        started_at=utc(row.started_at),
        finished_at=utc(row.finished_at),
        url=f"/runs/{row.id}",
    )


class ResultCache:
    """Encoded result tables of succeeded runs (which never change), the least recently used
    dropped past ``max_bytes``: a result is parsed and encoded once, not on every request."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, ...], tuple[bytes, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> tuple[bytes, str] | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[str, ...], body: bytes, media_type: str) -> None:
        if len(body) > self.max_bytes // 4:
            return  # one large result must not empty the cache
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (body, media_type)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, (old, _) = self._items.popitem(last=False)
                self._bytes -= len(old)


def _cached(
    request: Request,
    store: Store,
    run_id: str,
    owner: str,
    what: tuple[str, str],
    build: Callable[[], Response],
) -> Response:
    """A succeeded run's result from the cache (its owner and status checked on every request),
    else built and kept."""
    row = _run(store, run_id, owner)
    cache: ResultCache = request.app.state.results
    key = (row.id, *what)
    if row.status == SUCCEEDED and (hit := cache.get(key)) is not None:
        return Response(hit[0], media_type=hit[1])
    response = build()
    if response.status_code == 200 and response.media_type is not None:
        cache.put(key, bytes(response.body), response.media_type)
    return response


def _stored(store: Store, run_id: str, owner: str) -> tuple[RunRow, Any]:
    """The run and its stored result; 409 unless it has succeeded."""
    row = _run(store, run_id, owner)
    result = store.result(row.id) if row.status == SUCCEEDED else None
    if result is None:
        when = "once it has succeeded" if row.status in ACTIVE else "only for succeeded runs"
        raise HTTPException(409, f"run {row.id} is {row.status}; results exist {when}")
    return row, result


def _result(store: Store, run_id: str, owner: str, table: str) -> tuple[RunRow, pd.DataFrame]:
    row, result = _stored(store, run_id, owner)
    content = result.assignments if table == "assignments" else result.territories
    return row, stored_table(content)


def _as_run(store: Store, run_id: str, owner: str) -> Run:
    """A stored, succeeded run as a :class:`Run` (for comparisons and pockets)."""
    row, result = _stored(store, run_id, owner)
    return stored_run(row.summary or {}, result.assignments, result.territories)


def _points(store: Store, row: RunRow) -> pd.DataFrame | None:
    """account_id, lat, lon of the run's scenario, when it has lat/lon coordinates."""
    content = store.points(row.scenario_id)
    if content is None:
        return None
    return pd.read_csv(io.BytesIO(content), dtype={"account_id": str})
