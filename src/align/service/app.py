"""The FastAPI app: scenarios and solve runs over HTTP, persisted, optionally keyed.

``create_app(config)`` builds the app; ``align serve`` runs it under uvicorn. The database
schema is migrated on start, runs left ``running`` by a stopped server are re-queued (or failed
with the reason), and a :class:`WorkerPool` solves queued runs in their own processes. The
routes live in :mod:`.routers` (one per resource), what they depend on in :mod:`.deps`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from .._version import __version__
from ..errors import AlignError, ScenarioError
from .config import ServiceConfig
from .deps import problem
from .keys import KeyRing, RateLimiter
from .middleware import BodyLimit, Unexpected
from .results import ResultCache
from .routers import ROUTERS
from .schemas import Problem
from .store import Store
from .uploads import steady_malloc
from .web import mount
from .worker import WorkerPool

__all__ = ["create_app"]

log = logging.getLogger("align.service")


def create_app(config: ServiceConfig | None = None, *, run_workers: bool = True) -> FastAPI:
    """Build the service. ``config`` defaults to the ``ALIGN_*`` environment variables."""
    config = config or ServiceConfig.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        steady_malloc()
        store = Store(config.database_url)
        store.migrate()
        requeued, failed = store.recover(max_attempts=config.max_attempts)
        if requeued or failed:
            log.warning("recovered runs: %d re-queued, %d failed", len(requeued), len(failed))
        pool = WorkerPool(
            store,
            config.database_url,
            size=config.workers,
            memory_mb=config.run_memory_mb,
            nice=config.worker_nice,
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
    app.exception_handler(AlignError)(align_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.add_middleware(Unexpected)  # a 500 is a response; the connection stays usable
    for router in ROUTERS:
        app.include_router(router)
    mount(app)  # the planning room: pages, its API, the sign-in cookie
    return app


async def align_error(_: Request, e: AlignError) -> JSONResponse:
    """Invalid input: 422 with every problem (a scenario's), or the error's message."""
    if isinstance(e, ScenarioError):
        n = len(e.problems)
        return problem(422, f"{n} problem{'s' if n != 1 else ''} in the input", e.problems)
    return problem(422, str(e))


async def invalid_request(_: Request, e: RequestValidationError) -> JSONResponse:
    """FastAPI's own answer, with the echoed inputs made JSON (NaN was a 500 when echoed)."""
    return JSONResponse({"detail": echoable(jsonable_encoder(e.errors()))}, 422)


def echoable(value: Any) -> Any:
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
