"""Stored scenarios: adding one (validated), reading one back with a request's settings, and
the checks a run must pass before it is queued."""

from __future__ import annotations

import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from ..engine.backends import get_backend
from ..errors import ScenarioError, SolverError
from ..scenario import Scenario
from ..settings import _parse_overrides, deep_merge
from . import formats
from .config import ServiceConfig
from .deps import RUN_SETTINGS
from .formats import TooLarge
from .schemas import RunIn
from .store import ScenarioRow, Store, new_id, now
from .worker import context, load_stored


def add_scenario(
    store: Store, owner: str, name: str, files: dict[str, bytes], config: ServiceConfig
) -> tuple[ScenarioRow, list[str]]:
    """The stored scenario and how its files were read (headers mapped, amounts, ZIP codes).

    The files are read and validated in a short-lived child process (:func:`read_apart`), so
    the memory a large upload takes is given back whole when it ends.
    """
    fields, notes = read_apart(files, config)
    row = ScenarioRow(id=new_id(), owner=owner, name=name, created_at=now(), **fields)
    return store.add_scenario(row, files), notes


def scenario_fields(
    files: dict[str, bytes], config: ServiceConfig
) -> tuple[dict[str, Any], list[str]]:
    """What the store keeps of a scenario beside its files (sizes, coordinates, hash, resolved
    settings, points) and the notes of its reading; ScenarioError or 413 when it is refused."""
    formats.check_tables(files, config)
    with tempfile.TemporaryDirectory(prefix="align-scenario-") as tmp:
        scenario = load_stored(files, Path(tmp) / "scenario")
    if scenario.n_accounts > config.max_accounts:
        raise TooLarge(
            "the number of accounts", scenario.n_accounts, config.max_accounts, "ALIGN_MAX_ACCOUNTS"
        )
    fields = {
        "n_accounts": scenario.n_accounts,
        "n_territories": scenario.n_territories,
        "coord_kind": scenario.coord_kind,
        "input_hash": scenario.input_hash,
        "settings": formats.plain_tree(scenario.settings.model_dump()),
        "points": formats.points_of(scenario),
    }
    return fields, scenario.notes


def read_apart(files: dict[str, bytes], config: ServiceConfig) -> tuple[dict[str, Any], list[str]]:
    """:func:`scenario_fields` in a child process of its own.

    glibc keeps the heap a large parse grew for reuse, so parsing in the server left it ~60
    MiB above its baseline after the first large upload; a child's memory goes back to the
    system when it ends. (The child is not capped at ALIGN_RUN_MEMORY_MB: that cap is set for
    solves, and may be below what reading a scenario takes.)
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=context(), max_tasks_per_child=1) as pool:
        kind, value = pool.submit(_read_in_child, files, config).result()
    if kind == "problems":
        raise ScenarioError(value)
    if kind == "http":
        raise HTTPException(*value)
    fields, notes = value
    return fields, notes


def _read_in_child(files: dict[str, bytes], config: ServiceConfig) -> tuple[str, Any]:
    """The body of :func:`read_apart`'s child: the outcome as plain values (an exception with
    arguments of its own would not cross the process boundary intact)."""
    try:
        return "ok", scenario_fields(files, config)
    except ScenarioError as e:
        return "problems", e.problems
    except HTTPException as e:
        return "http", (e.status_code, e.detail)


def load_scenario(
    store: Store,
    row: ScenarioRow,
    overrides: dict[str, Any] | None,
    *,
    label: str,
    problems: list[str] | None = None,
) -> Scenario:
    """The stored scenario, validated again with ``overrides``; '--set' problems renamed and
    listed after ``problems`` (those found before), which are raised in any case."""
    found = list(problems or [])
    with tempfile.TemporaryDirectory(prefix="align-scenario-") as tmp:
        try:
            scenario = load_stored(store.scenario_files(row.id), Path(tmp) / "scenario", overrides)
        except ScenarioError as e:
            found += [
                f"{label}{p[len('--set') :]}" if p.startswith("--set") else p for p in e.problems
            ]
            raise ScenarioError(found) from None
    if found:
        raise ScenarioError(found)
    return scenario


def run_overrides(body: RunIn) -> tuple[dict[str, Any], list[str]]:
    """preset, then settings, then the dotted overrides, as one nested dict; and the problems
    of the overrides that do not parse."""
    merged: dict[str, Any] = dict(body.settings or {})
    if body.preset is not None:
        merged["model"] = body.preset
    dotted, problems = _parse_overrides(body.overrides)
    problems = [p.replace("--set ", f"{RUN_SETTINGS}: override ", 1) for p in problems]
    return deep_merge(merged, dotted), problems


def check_run_limits(scenario: Scenario, config: ServiceConfig) -> None:
    """422 before a run is queued: an unknown solver, a time limit past the service's, or
    more account x territory pairs than the service solves (with the setting that fits)."""
    problems = []
    solver = scenario.settings.solver
    try:
        get_backend(solver.name)
    except SolverError as e:
        problems.append(f"{RUN_SETTINGS}: {e}")
    if solver.time_limit_s > config.max_time_limit_s:
        problems.append(
            f"{RUN_SETTINGS}: settings key 'solver.time_limit_s' is {solver.time_limit_s:g} s, "
            f"above this service's limit of {config.max_time_limit_s:g} s "
            "(ALIGN_MAX_TIME_LIMIT_S); ask for less"
        )
    n = scenario.n_accounts
    m = max(scenario.n_territories, scenario.settings.territories.count or 0)
    per_account = min(m, solver.candidates) if solver.candidates else m
    if n * per_account > config.max_pairs:
        fit = config.max_pairs // max(n, 1)
        how = (
            f"set solver.candidates = {fit} (nearest territories per account) or send fewer "
            "accounts"
            if fit >= 2
            else "send fewer accounts"
        )
        problems.append(
            f"{RUN_SETTINGS}: {n:,} accounts x {per_account:,} territories are "
            f"{n * per_account:,} pairs, above this service's limit of {config.max_pairs:,} "
            f"(ALIGN_MAX_PAIRS); {how}"
        )
    if problems:
        raise ScenarioError(problems)
