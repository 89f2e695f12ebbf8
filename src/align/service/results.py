"""A succeeded run's stored result: its tables, the run as the library's :class:`Run`, and a
cache of encoded responses (a finished run's result never changes)."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from fastapi import HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..runs import Run, stored_run, stored_table
from .deps import run_row
from .states import ACTIVE, RunState
from .store import RunRow, Store


@dataclass(frozen=True)
class Encoded:
    """A result as sent: the bytes, their media type and entity tag, and whose run it is."""

    owner: str
    body: bytes
    media_type: str
    etag: str


class ResultCache:
    """Encoded result tables of succeeded runs (which never change), the least recently used
    dropped past ``max_bytes``: a result is parsed and encoded once, not on every request, and
    a hit is served without a query (the owner is kept with the bytes)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, ...], Encoded] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> Encoded | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[str, ...], item: Encoded) -> None:
        if len(item.body) > self.max_bytes // 4:
            return  # one large result must not empty the cache
        with self._lock:
            if key in self._items:
                return
            self._items[key] = item
            self._bytes += len(item.body)
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old.body)


def encoded(owner: str, response: Response) -> Encoded:
    body = bytes(response.body)
    tag = hashlib.blake2b(body, digest_size=16).hexdigest()
    return Encoded(owner, body, response.media_type or "application/octet-stream", f'"{tag}"')


async def cached(
    request: Request,
    store: Store,
    run_id: str,
    owner: str,
    what: tuple[str, str],
    build: Callable[[], Response],
) -> Response:
    """A succeeded run's result, from the cache when its owner asks, else built (in a worker
    thread: queries, parsing, encoding) and kept. With an ETag; 304 when the client has it.

    A run's result exists only once it has succeeded, and then never changes, so a hit needs
    no query. Another owner's hit is not served from the cache: the store answers (404), as it
    does for an unknown id, in the same time.
    """
    cache: ResultCache = request.app.state.results
    key = (run_id, *what)
    item = cache.get(key)
    if item is None or item.owner != owner:
        response = await run_in_threadpool(build)
        if response.status_code != 200:
            return response
        item = encoded(owner, response)
        cache.put(key, item)
    headers = {"ETag": item.etag, "Cache-Control": "private, no-cache"}
    if item.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(item.body, media_type=item.media_type, headers=headers)


def stored(store: Store, run_id: str, owner: str) -> tuple[RunRow, Any]:
    """The run and its stored result; 409 unless it has succeeded."""
    row = run_row(store, run_id, owner)
    result = store.result(row.id) if row.status == RunState.SUCCEEDED else None
    if result is None:
        when = "once it has succeeded" if row.status in ACTIVE else "only for succeeded runs"
        raise HTTPException(409, f"run {row.id} is {row.status}; results exist {when}")
    return row, result


def result_table(store: Store, run_id: str, owner: str, table: str) -> tuple[RunRow, pd.DataFrame]:
    """A succeeded run's ``assignments`` or ``territories`` table."""
    row, result = stored(store, run_id, owner)
    content = result.assignments if table == "assignments" else result.territories
    return row, stored_table(content)


def as_run(store: Store, run_id: str, owner: str) -> Run:
    """A stored, succeeded run as a :class:`Run` (for comparisons, pockets and quotas)."""
    row, result = stored(store, run_id, owner)
    return stored_run(row.summary or {}, result.assignments, result.territories)


def points(store: Store, row: RunRow) -> pd.DataFrame | None:
    """account_id, lat, lon of the run's scenario, when it has lat/lon coordinates."""
    content = store.points(row.scenario_id)
    if content is None:
        return None
    return pd.read_csv(io.BytesIO(content), dtype={"account_id": str})
