"""Pure ASGI middleware of the service: the request body limit and the last net under every
route (an unexpected exception becomes a plain 500 response)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException

log = logging.getLogger("align.service")

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
