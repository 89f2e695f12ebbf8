"""A succeeded run's stored result: its tables, the run as the library's :class:`Run`, and a
cache of encoded responses (a finished run's result never changes)."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pandas as pd
from fastapi import HTTPException, Request
from fastapi.responses import Response

from ..runs import Run, stored_run, stored_table
from .deps import run_row
from .store import ACTIVE, SUCCEEDED, RunRow, Store


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


def cached(
    request: Request,
    store: Store,
    run_id: str,
    owner: str,
    what: tuple[str, str],
    build: Callable[[], Response],
) -> Response:
    """A succeeded run's result from the cache (its owner and status checked on every request),
    else built and kept."""
    row = run_row(store, run_id, owner)
    cache: ResultCache = request.app.state.results
    key = (row.id, *what)
    if row.status == SUCCEEDED and (hit := cache.get(key)) is not None:
        return Response(hit[0], media_type=hit[1])
    response = build()
    if response.status_code == 200 and response.media_type is not None:
        cache.put(key, bytes(response.body), response.media_type)
    return response


def stored(store: Store, run_id: str, owner: str) -> tuple[RunRow, Any]:
    """The run and its stored result; 409 unless it has succeeded."""
    row = run_row(store, run_id, owner)
    result = store.result(row.id) if row.status == SUCCEEDED else None
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
