"""The service's routes, one router per resource (included in this order by ``create_app``)."""

from __future__ import annotations

from fastapi import APIRouter

from . import health, pockets, proposals, results, runs, scenarios, tracking

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    scenarios.router,
    runs.router,
    results.router,
    pockets.router,
    proposals.router,
    tracking.router,
)
