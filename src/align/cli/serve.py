"""align serve: the HTTP service (FastAPI is imported only here, when the command runs)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from .common import (
    app,
    err,
)

# ---------------------------------------------------------------------------------------------
# align serve: the HTTP service (FastAPI is imported only here, when the command runs)


class LogLevel(StrEnum):
    """uvicorn's log levels, most to least verbose."""

    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


DEFAULT_LOG_LEVEL = LogLevel.INFO
ACCESS_LOG_LEVELS = frozenset({LogLevel.TRACE, LogLevel.DEBUG, LogLevel.INFO})


def logs_access(log_level: LogLevel | None) -> bool:
    """True when ``--log-level`` asks for a line per request (trace, debug or info given);
    by default (no ``--log-level``) requests are not logged."""
    return log_level in ACCESS_LOG_LEVELS


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on (loopback by default)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[
        int | None, typer.Option(help="solver processes at once (env ALIGN_WORKERS, default 2)")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="sqlite:///align.db (default) or postgresql://user:pw@host/db "
            "(env ALIGN_DATABASE_URL)"
        ),
    ] = None,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            help="uvicorn log level (default info); given as debug or info, a line per request "
            "is logged too (the access log, off by default)"
        ),
    ] = None,
) -> None:
    """Serve scenarios and solve runs over HTTP (OpenAPI docs at /docs)."""
    import uvicorn

    from ..service import ServiceConfig, create_app
    from ..service.config import ServiceConfigError
    from ..service.keys import KeyRing

    config = ServiceConfig.from_env(workers=workers, database_url=database_url)
    if not (config.api_keys or config.api_keys_file) and not _loopback(host):
        raise ServiceConfigError(
            [
                f"--host {host}: listening beyond this machine without API keys would let "
                "anyone who reaches the port read and run every scenario; set ALIGN_API_KEYS or "
                "ALIGN_API_KEYS_FILE, or listen on 127.0.0.1 (the default)"
            ]
        )
    ring = KeyRing(config.api_keys, config.api_keys_file)
    keys = f"{len(ring)} API keys" if ring.enabled else "no API keys (open)"
    err.print(
        f"align serve: http://{host}:{port}/ (planning room; API docs at /docs), "
        f"{config.workers} solver processes, "
        f"database {_redact(config.database_url)}, {keys}"
    )
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level=str(log_level or DEFAULT_LOG_LEVEL),
        access_log=logs_access(log_level),
    )


def _loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve to anything


def _redact(url: str) -> str:
    """A database URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, user = head.partition("://")
    return f"{scheme}{sep}{user.split(':')[0]}:***@{tail}" if ":" in user else url
