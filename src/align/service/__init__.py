"""The align service: a thin FastAPI app over the library (``align serve``).

Nothing else in the library imports this package (or FastAPI).
"""

from __future__ import annotations

from .app import create_app
from .config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
