"""The planning room: web pages served by ``align serve`` beside the HTTP API.

:func:`mount` adds them to the service's app: the pages (Jinja2 templates), the static assets
vendored from npm (Leaflet, htmx, topojson-client, us-atlas), the API the map needs
(:mod:`.plans`), and the sign-in cookie as a second way to send the API key (:mod:`.access`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..deps import owner_of
from . import outlines, pages, plans, reviews
from .access import Access, owner

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Serve the planning room from ``app`` (built by :func:`align.service.app.create_app`)."""
    app.state.access = Access.from_env(app.state.config)
    app.dependency_overrides[owner_of] = owner
    app.include_router(plans.router)
    app.include_router(reviews.router)
    app.include_router(outlines.router)
    app.include_router(pages.router)
    app.add_exception_handler(pages.SignIn, pages.signin_redirect)
    app.middleware("http")(reviews.refuse_stale_quotas)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="static")
