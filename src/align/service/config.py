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
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and self.database_url != prefix + ":memory:":
            return Path(self.database_url[len(prefix) :])
        return None
