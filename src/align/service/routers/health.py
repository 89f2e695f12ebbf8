"""Liveness, the database's reachability, and the optimisation presets."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from ..._version import __version__
from ...settings import list_presets, load_preset
from ..deps import Owner, StoreDep
from ..schemas import Health, Preset, Presets, Problem

router = APIRouter(tags=["service"])


@router.get("/healthz", responses={503: {"model": Problem}})
def healthz(store: StoreDep) -> Health:
    """Liveness and the database's reachability (no key needed): 503 with the reason while
    the database cannot be read (gone, locked, unreachable)."""
    reason = store.unreachable()
    if reason is not None:
        raise HTTPException(503, f"the database is unavailable: {reason}")
    return Health(status="ok", version=__version__, database=store.engine.dialect.name)


@router.get("/models")
def models(_: Owner) -> Presets:
    """The optimisation presets (models/), usable as a run's ``preset``."""
    return Presets(models=[Preset(name=n, settings=load_preset(n)) for n in list_presets()])
