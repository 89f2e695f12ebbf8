"""The align service: a thin FastAPI app over the library (``align serve``).

Nothing else in the library imports FastAPI: ``create_app`` and ``ServiceConfig`` are loaded on
first use, so :func:`align.load_run` can read the run store (``align.service.store``, SQLAlchemy
only) without the web stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServiceConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServiceConfig":
        from .config import ServiceConfig

        return ServiceConfig
    raise AttributeError(name)
