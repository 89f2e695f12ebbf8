"""Stored rows as the API's response models."""

from __future__ import annotations

from ..status import Status
from . import formats
from .schemas import ProposalInfo, ProposalOut, RunOut, ScenarioOut
from .states import RunState
from .store import ProposalRow, RunRow, ScenarioRow, utc


def scenario_out(row: ScenarioRow, files: list[str] | None = None) -> ScenarioOut:
    return ScenarioOut(
        id=row.id,
        name=row.name,
        created_at=utc(row.created_at),
        accounts=row.n_accounts,
        territories=row.n_territories,
        coordinates=row.coord_kind,
        input_hash=row.input_hash,
        files=files or [],
        settings=row.settings,
        url=f"/scenarios/{row.id}",
    )


def run_out(row: RunRow) -> RunOut:
    s = row.summary or {}
    return RunOut(
        id=row.id,
        scenario_id=row.scenario_id,
        status=RunState(row.status),
        progress=row.progress,
        name=row.request.get("name"),
        phase=row.phase,
        reason=row.reason,
        solver_status=Status(row.solver_status) if row.solver_status else None,
        objective=formats.plain(s.get("objective")),
        bound=formats.plain(s.get("bound")),
        gap=formats.plain(s.get("gap")),
        kpis=formats.plain_tree(s.get("kpis")),
        terms=formats.plain_tree(s.get("terms")),
        wall_seconds=s.get("wall_seconds"),
        reasons=s.get("reasons") or [],
        warnings=[w["message"] for w in [(s.get("stats") or {}).get("far_accounts")] if w],
        request={k: v for k, v in row.request.items() if k != "effective"},
        attempts=row.attempts,
        created_at=utc(row.created_at),
        started_at=utc(row.started_at),
        finished_at=utc(row.finished_at),
        url=f"/runs/{row.id}",
    )


def proposal_info(row: ProposalRow) -> ProposalInfo:
    d = row.detail
    return ProposalInfo(
        id=row.id,
        run_id=row.run_id,
        parent_id=row.parent_id,
        version=row.version,
        status=Status(row.status),
        goal=row.goal,
        settings=row.settings,
        region_goals=row.region_goals,
        overrides=row.overrides,
        kpis=row.kpis,
        periods=d.get("periods") or [],
        components=d.get("components") or [],
        reasons=d.get("reasons") or [],
        message=d.get("message") or "",
        created_at=utc(row.created_at),
        url=f"/proposals/{row.id}",
    )


def proposal_out(row: ProposalRow) -> ProposalOut:
    """One version with its tables: quotas, the region roll-up and the diff."""
    return ProposalOut(
        **proposal_info(row).model_dump(), quotas=row.quotas, regions=row.regions, diff=row.diff
    )
