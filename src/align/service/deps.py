"""What the routes depend on: the caller's owner (API key and request rate), the store, the
settings, and the owned objects looked up by id (404 across owners)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from .config import ServiceConfig
from .keys import KeyRing
from .store import ProposalRow, RunRow, ScenarioRow, Store

ID = re.compile(r"[0-9a-f]{32}")
RUN_SETTINGS = "run settings"
QUOTA_SETTINGS = "quota settings"

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


async def store_of(request: Request) -> Store:  # async: no worker thread for an attribute
    store: Store = request.app.state.store
    return store


async def config_of(request: Request) -> ServiceConfig:
    config: ServiceConfig = request.app.state.config
    return config


Owner = Annotated[str, Depends(owner_of)]
StoreDep = Annotated[Store, Depends(store_of)]
ConfigDep = Annotated[ServiceConfig, Depends(config_of)]
Format = Annotated[
    Literal["json", "csv", "geojson"], Query(description="json rows, csv text or geojson")
]
TableFormat = Annotated[Literal["json", "csv"], Query(description="json rows or csv text")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


def problem(status: int, detail: str, problems: list[str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "problems": problems or []}, status_code=status)


def not_found(kind: str, ident: str) -> HTTPException:
    shown = ident if ID.fullmatch(ident) else "that id"
    return HTTPException(404, f"no {kind} {shown}")


def scenario_row(store: Store, scenario_id: str, owner: str) -> ScenarioRow:
    """The owner's scenario, else 404 (the same answer whether it is another's or none)."""
    row = store.scenario(scenario_id, owner) if ID.fullmatch(scenario_id) else None
    if row is None:
        raise not_found("scenario", scenario_id)
    return row


def run_row(store: Store, run_id: str, owner: str) -> RunRow:
    """The owner's run, else 404."""
    row = store.run(run_id, owner) if ID.fullmatch(run_id) else None
    if row is None:
        raise not_found("run", run_id)
    return row


def proposal_row(store: Store, proposal_id: str, owner: str) -> ProposalRow:
    """The owner's proposal with its tables, else 404."""
    row = store.proposal(proposal_id, owner, tables=True) if ID.fullmatch(proposal_id) else None
    if row is None:
        raise not_found("proposal", proposal_id)
    return row
