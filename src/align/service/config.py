"""The service's configuration, read once from ``ALIGN_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import SettingsError

DEFAULT_DATABASE = "align.db"

ENV_KEYS = {
    "database_url": "ALIGN_DATABASE_URL",
    "api_keys": "ALIGN_API_KEYS",
    "workers": "ALIGN_WORKERS",
    "max_request_bytes": "ALIGN_MAX_REQUEST_BYTES",
    "max_accounts": "ALIGN_MAX_ACCOUNTS",
    "cors_origins": "ALIGN_CORS_ORIGINS",
    "max_attempts": "ALIGN_MAX_ATTEMPTS",
    "api_keys_file": "ALIGN_API_KEYS_FILE",
    "max_columns": "ALIGN_MAX_COLUMNS",
    "max_cell_bytes": "ALIGN_MAX_CELL_BYTES",
    "max_pairs": "ALIGN_MAX_PAIRS",
    "max_time_limit_s": "ALIGN_MAX_TIME_LIMIT_S",
    "run_memory_mb": "ALIGN_RUN_MEMORY_MB",
    "max_active_runs": "ALIGN_MAX_ACTIVE_RUNS",
    "rate_per_s": "ALIGN_RATE_PER_S",
    "rate_burst": "ALIGN_RATE_BURST",
    "result_cache_mb": "ALIGN_RESULT_CACHE_MB",
    "worker_nice": "ALIGN_WORKER_NICE",
}


class ServiceConfigError(SettingsError):
    """An ``ALIGN_*`` variable or an ``align serve`` option is invalid."""

    def __str__(self) -> str:
        return "invalid service settings:\n" + "\n".join(f"- {p}" for p in self.problems)


class ServiceConfig(BaseModel):
    """What the service needs to run; every field has an ``ALIGN_*`` variable (see ENV_KEYS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATABASE}",
        description="SQLAlchemy URL: sqlite:///path.db (default ./align.db) or postgresql://...",
    )
    api_keys: tuple[str, ...] = Field(
        default=(), description="accepted API keys; empty = no authentication"
    )
    workers: int = Field(default=2, ge=1, le=64, description="solver processes at once")
    max_request_bytes: int = Field(default=50 * 2**20, ge=1024, description="largest request body")
    max_accounts: int = Field(default=200_000, ge=1, description="largest scenario, in accounts")
    cors_origins: tuple[str, ...] = Field(default=(), description="origins allowed by CORS")
    max_attempts: int = Field(
        default=2, ge=1, description="times a run is started before a server crash fails it"
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="a file of API keys, one a line (# comments); re-read when it changes, so "
        "keys rotate without a restart. Keys of ALIGN_API_KEYS are accepted too",
    )
    # limits on every resource, checked before the expensive work
    max_columns: int = Field(
        default=1000, ge=4, description="columns of an uploaded table (from its header line)"
    )
    max_cell_bytes: int = Field(default=10_000, ge=16, description="bytes of one table cell")
    max_pairs: int = Field(
        default=50_000_000,
        ge=1,
        description="account x territory pairs of a run (estimated at submit)",
    )
    max_time_limit_s: float = Field(
        default=3600.0, gt=0, le=7 * 86400, description="largest solver.time_limit_s of a run"
    )
    run_memory_mb: int = Field(
        default=8192,
        ge=0,
        description="address-space cap of one solver process, MiB (0 = none); a process starts "
        "at about 1.8 GiB of address space (260 MiB resident)",
    )
    max_active_runs: int = Field(
        default=20, ge=1, description="queued and running runs of one key at once"
    )
    rate_per_s: float = Field(
        default=50.0,
        gt=0,
        description="requests per second of one key (or one client "
        "address without a valid key), on average",
    )
    rate_burst: int = Field(default=100, ge=1, description="requests of one key at once")
    result_cache_mb: int = Field(
        default=64, ge=0, description="memory for encoded results of succeeded runs, MiB"
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="niceness added to each solver process (0 = none): the web process keeps "
        "the cores it needs to answer while solves run",
    )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> ServiceConfig:
        """Read ``ALIGN_*`` variables (lists comma-separated), then apply ``overrides``.

        Raises SettingsError naming the variable and the value when one is invalid.
        """
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for field, var in ENV_KEYS.items():
            text = env.get(var, "").strip()
            if not text:
                continue
            if field in ("api_keys", "cors_origins"):
                raw[field] = tuple(p.strip() for p in text.split(",") if p.strip())
            else:
                raw[field] = text
        given = {k: v for k, v in overrides.items() if v is not None}
        raw.update(given)
        try:
            return cls.model_validate(raw)
        except ValidationError as e:
            problems = []
            for err in e.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                source = f"--{field.replace('_', '-')}" if field in given else ENV_KEYS[field]
                problems.append(f"{source}: {err['msg'].lower()} (got {err.get('input')!r})")
            raise ServiceConfigError(problems) from None

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the store is SQLite on disk."""
        from .store import sqlite_file

        return sqlite_file(self.database_url)
