"""The API behind the map: a run's plan with everything the page needs to recompute balance in
the browser, manual changes (who, why, undo), and "re-optimise around my changes"."""

from __future__ import annotations

import io
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ...errors import ScenarioError
from ...scenario import Scenario
from ...settings import deep_merge
from ...status import Status
from .. import deps, formats
from ..deps import StoreDep, run_row
from ..results import result_table
from ..scenarios import add_scenario, load_scenario
from ..schemas import Problem
from ..states import RunState
from ..store import RunRow, Store, new_id, now, utc
from . import records
from .access import CallerDep
from .polygons import SHAPES
from .records import PlanChangeRow, Stale
from .reviews import approved_proposal

router = APIRouter(tags=["planning room"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
}
NAME_COLUMNS = ("name", "account_name", "company")


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accounts: Annotated[list[str], Field(min_length=1, max_length=100_000)]
    territory: str | None = Field(
        default=None, description="move the accounts here; omit to lock them where they are"
    )
    lock: bool = Field(default=True, description="lock them there for re-optimising")
    reason: Annotated[str, Field(max_length=2000)]
    base: Annotated[int, Field(ge=0, description="the plan version the page shows")]


class UndoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: Annotated[int, Field(ge=0)]


class ReoptimiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_moved_share: Annotated[
        float, Field(ge=0, le=1, description="share of accounts that may move besides yours")
    ] = 0.05
    time_limit_s: Annotated[float | None, Field(gt=0, le=3600)] = None
    base: Annotated[int, Field(ge=0)]


def change_out(row: PlanChangeRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "accounts": row.accounts,
        "previous": row.previous,
        "territory": row.territory,
        "locked": row.locked,
        "who": row.who,
        "reason": row.reason,
        "created_at": utc(row.created_at).isoformat(),
        "undone_seq": row.undone_seq,
        "undone_by": row.undone_by,
    }


def working_plan(plan: pd.DataFrame, rows: list[PlanChangeRow]) -> tuple[pd.Series, set[str]]:
    """The plan with the changes not undone applied in order (account_id -> territory), and the
    accounts they touched."""
    where = pd.Series(plan["territory_id"].astype(str).to_numpy(), index=plan["account_id"])
    touched: set[str] = set()
    for row in rows:
        if row.undone_seq is None:
            if row.territory:
                where.loc[row.accounts] = row.territory
            touched.update(row.accounts)
    return where, touched


def _stale(current: int, base: int) -> HTTPException:
    return HTTPException(
        409,
        f"the plan changed since this page read it (version {base}, now {current}); reload to "
        "see the changes, then make yours again",
    )


def _not_frozen(store: Store, row: RunRow) -> None:
    approved = approved_proposal(store, row.owner, row.id)
    if approved is not None:
        raise HTTPException(
            409,
            f"run {row.id}'s plan is frozen: proposal {approved} on it is approved; re-optimise "
            "it into a new run to change it",
        )


def _succeeded(store: Store, run_id: str, owner: str) -> tuple[RunRow, pd.DataFrame]:
    row = run_row(store, run_id, owner)
    if row.status != RunState.SUCCEEDED:
        raise HTTPException(409, f"run {row.id} is {row.status}; its plan changes once it has one")
    return result_table(store, run_id, owner, "assignments")


@router.get("/runs/{run_id}/plan", responses=ERRORS)
def plan(run_id: str, store: StoreDep, who: CallerDep) -> JSONResponse:
    """Everything the map needs, columnar: accounts (coordinates, measures, owner today and in
    the plan, locks), territories, balance tolerances, the manual changes and the version."""
    row, assignments = _succeeded(store, run_id, who.owner)
    scenario_row = deps.scenario_row(store, row.scenario_id, row.owner)
    sc = load_scenario(
        store, scenario_row, row.request.get("effective") or None, label="run settings"
    )
    acc = sc.accounts.reset_index(drop=True)
    planned = assignments.set_index(assignments["account_id"].astype(str))["territory_id"]
    ids = acc["account_id"].astype(str)
    name_col = next((c for c in NAME_COLUMNS if c in acc), None)
    measures = [
        {"name": k, "tolerance": v.tolerance} for k, v in sc.settings.balance.items() if k in acc
    ]
    columns: dict[str, Any] = {
        "id": ids.tolist(),
        "name": (acc[name_col].astype(str) if name_col else ids).tolist(),
        "plan": planned.reindex(ids).astype(str).tolist(),
        "today": _texts(acc["current_territory"]) if "current_territory" in acc else None,
        "locked": acc["locked"].astype(bool).tolist(),
    }
    for col in {"potential", "workload", "revenue", *(str(m["name"]) for m in measures)}:
        if col in acc:
            columns[col] = np.round(acc[col].to_numpy(dtype=float), 4).tolist()
    kind = sc.coord_kind
    if kind is not None:
        a, b = ("lat", "lon") if kind == "latlon" else ("y", "x")
        columns["lat"] = acc[a].round(6).tolist()
        columns["lon"] = acc[b].round(6).tolist()
    ter = sc.territories.reset_index(drop=True)
    territories = []
    for t in ter.to_dict(orient="records"):
        home = (t.get("lat"), t.get("lon")) if kind == "latlon" else (t.get("y"), t.get("x"))
        territories.append(
            {
                "id": str(t["territory_id"]),
                "name": str(t.get("name") or t["territory_id"]),
                "rep": formats.plain(t.get("rep")),
                "region": formats.plain(t.get("region")),
                "target_share": formats.plain(t.get("target_share")) or 1.0,
                "home": None if home[0] is None or pd.isna(home[0]) else [home[0], home[1]],
            }
        )
    changes = list(records.changes(store, row.id))
    summary = row.summary or {}
    body = {
        "run": {
            "id": row.id,
            "scenario_id": row.scenario_id,
            "solver_status": row.solver_status,
            "gap": summary.get("gap"),
            "objective": summary.get("objective"),
            "bound": summary.get("bound"),
            "parent_run": row.request.get("parent_run"),
            "manual": row.request.get("manual") or [],
        },
        "coordinates": kind,
        "outlines": "dissolved" if SHAPES.keep(scenario_row.id, sc) is not None else "hulls",
        "version": records.version_of(changes),
        "measures": measures,
        "accounts": columns,
        "territories": territories,
        "changes": [change_out(c) for c in changes],
    }
    return JSONResponse(formats.plain_tree(body))


@router.post("/runs/{run_id}/changes", status_code=201, responses=ERRORS)
def add_change(run_id: str, body: ChangeIn, store: StoreDep, who: CallerDep) -> dict[str, Any]:
    """Move accounts to a territory (locked there unless ``lock`` is false) or lock them where
    they are; recorded with who and why. 409 when the page is stale (``base`` is not the
    plan's version)."""
    who.require("ops", "changing a plan")
    row, assignments = _succeeded(store, run_id, who.owner)
    _not_frozen(store, row)
    changes = list(records.changes(store, row.id))
    where, _ = working_plan(assignments, changes)
    problems: list[str] = []
    unknown = [a for a in dict.fromkeys(body.accounts) if a not in where.index]
    if unknown:
        shown = ", ".join(repr(a) for a in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        problems.append(f"accounts: {shown}{more} not in run {row.id}'s plan")
    territories = set(where.unique())
    if body.territory is not None:
        scenario_row = deps.scenario_row(store, row.scenario_id, row.owner)
        territories |= {str(t.get("territory_id")) for t in _territories_of(store, scenario_row)}
        if body.territory not in territories:
            problems.append(
                f"territory: {body.territory!r} is not a territory of the scenario; pick one of "
                "the plan's territories"
            )
    if not body.reason.strip():
        problems.append("reason: say why (it is recorded with the change), e.g. 'rep knows them'")
    if problems:
        raise ScenarioError(problems)
    accounts = list(dict.fromkeys(body.accounts))
    previous = where.loc[accounts].astype(str).tolist()
    change = PlanChangeRow(
        run_id=row.id,
        owner=who.owner,
        accounts=accounts,
        previous=previous,
        territory=body.territory or "",
        locked=body.lock,
        who=who.name,
        reason=body.reason.strip(),
    )
    try:
        records.add_change(store, change, base=body.base)
    except Stale as e:
        raise _stale(e.current, body.base) from None
    return change_out(change)


@router.post("/runs/{run_id}/changes/{change_id}/undo", responses=ERRORS)
def undo(
    run_id: str, change_id: str, body: UndoIn, store: StoreDep, who: CallerDep
) -> dict[str, Any]:
    """Undo a manual change (recorded: who undid it; the change stays in the log)."""
    who.require("ops", "undoing a change")
    row, _ = _succeeded(store, run_id, who.owner)
    _not_frozen(store, row)
    try:
        change = records.undo_change(store, row.id, change_id, who.name, base=body.base)
    except Stale as e:
        raise _stale(e.current, body.base) from None
    except KeyError:
        raise HTTPException(404, f"run {row.id} has no change {change_id[:32]!r}") from None
    except ValueError as e:
        raise HTTPException(409, str(e)) from None
    return change_out(change)


@router.post("/runs/{run_id}/reoptimise", status_code=202, responses=ERRORS)
async def reoptimise(
    run_id: str, body: ReoptimiseIn, request: Request, store: StoreDep, who: CallerDep
) -> JSONResponse:
    """Solve again around the manual changes: they are locked, the plan so far is everyone's
    owner today, and at most ``max_moved_share`` of the accounts may move besides them. 202
    with the new run (its ``moved`` accounts are what else moved)."""
    who.require("ops", "re-optimising a plan")
    row, assignments = _succeeded(store, run_id, who.owner)
    changes = list(records.changes(store, row.id))
    current = records.version_of(changes)
    if current != body.base:
        raise _stale(current, body.base)
    where, touched = working_plan(assignments, changes)
    scenario_row = deps.scenario_row(store, row.scenario_id, row.owner)
    files = store.scenario_files(scenario_row.id)
    if "accounts.csv" not in files:
        raise ScenarioError(
            "re-optimising needs the scenario's accounts as accounts.csv; upload it as CSV"
        )
    accounts = pd.read_csv(io.BytesIO(files["accounts.csv"]), dtype={"account_id": str})
    ids = accounts["account_id"].astype(str)
    accounts["current_territory"] = ids.map(where).to_numpy()
    locked = accounts["locked"] if "locked" in accounts else pd.Series(False, index=accounts.index)
    locked = locked.astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
    accounts["locked"] = np.where(locked | ids.isin(touched), "true", "false")
    buf = io.StringIO()
    accounts.to_csv(buf, index=False)
    files = {**files, "accounts.csv": buf.getvalue().encode()}
    config = request.app.state.config
    name = formats.clean_name(f"{scenario_row.name} around {len(touched)} changes")
    derived, _notes = await run_in_threadpool(add_scenario, store, row.owner, name, files, config)
    extra: dict[str, Any] = {"constraints": {"max_moved_share": body.max_moved_share}}
    if body.time_limit_s is not None:
        extra["solver"] = {"time_limit_s": body.time_limit_s}
    effective = deep_merge(row.request.get("effective") or {}, extra)
    sc = await run_in_threadpool(load_scenario, store, derived, effective, label="run settings")
    asked = {
        "preset": None,
        "settings": extra,
        "overrides": [],
        "parent_run": row.id,
        "parent_version": current,
        "manual": sorted(touched),
        "effective": effective,
    }
    new = queue_run(request, derived.id, row.owner, asked, sc)
    url = f"/runs/{new.id}"
    out = {"id": new.id, "status": new.status, "url": url, "page": f"/ui/runs/{new.id}"}
    return JSONResponse(out, 202, headers={"Location": url})


def _texts(column: pd.Series) -> list[str | None]:
    out: list[str | None] = column.astype(object).where(column.notna(), None).tolist()
    return [None if v is None else str(v) for v in out]


def queue_run(
    request: Request, scenario_id: str, owner: str, asked: dict[str, Any], scenario: Scenario
) -> RunRow:
    """Queue a solve of a stored scenario (``asked``: the run's request, with ``effective``)."""
    store: Store = request.app.state.store
    run = store.add_run(
        RunRow(
            id=new_id(),
            scenario_id=scenario_id,
            owner=owner,
            status=RunState.QUEUED,
            progress=0.0,
            phase="queued",
            request=asked,
            time_limit_s=scenario.settings.solver.time_limit_s,
            attempts=0,
            created_at=now(),
        )
    )
    request.app.state.pool.wake()
    return run


def _territories_of(store: Store, scenario_row: Any) -> list[dict[str, Any]]:
    content = store.scenario_files(scenario_row.id).get("territories.csv")
    if content is None:
        return []
    frame = pd.read_csv(io.BytesIO(content), dtype={"territory_id": str})
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict(orient="records")]


TARGETS = 10  # target accounts listed per territory, by whitespace


def territory_plan(store: Store, run_id: str, territory_id: str, owner: str) -> dict[str, Any]:
    """What a rep's page shows: the territory, its accounts in the plan as it stands (manual
    changes applied), the targets by whitespace, and its quota in the newest proposal."""
    row, assignments = _succeeded(store, run_id, owner)
    scenario_row = deps.scenario_row(store, row.scenario_id, row.owner)
    sc = load_scenario(
        store, scenario_row, row.request.get("effective") or None, label="run settings"
    )
    ter = sc.territories.set_index(sc.territories["territory_id"].astype(str))
    if territory_id not in ter.index:
        raise HTTPException(404, f"run {row.id} has no territory {territory_id[:64]!r}")
    where, _ = working_plan(assignments, list(records.changes(store, row.id)))
    acc = sc.accounts.assign(territory_id=sc.accounts["account_id"].astype(str).map(where))
    mine = acc.loc[acc["territory_id"] == territory_id].copy()
    name_col = next((c for c in NAME_COLUMNS if c in mine), None)
    mine["label"] = mine[name_col].astype(str) if name_col else mine["account_id"].astype(str)
    if "revenue" in mine:
        mine["whitespace"] = (mine["potential"] - mine["revenue"]).clip(lower=0)
    t = ter.loc[territory_id]
    kind = sc.coord_kind
    points = []
    if kind is not None:
        a, b = ("lat", "lon") if kind == "latlon" else ("y", "x")
        points = mine[[a, b]].round(6).to_numpy().tolist()
        home = [t.get(a), t.get(b)] if pd.notna(t.get(a)) else None
    else:
        home = None
    quota = None
    for info in reversed(store.proposals(owner, run_id=row.id, limit=1000, offset=0)):
        if info.status == Status.OPTIMAL:
            full = store.proposal(info.id, owner, tables=True)
            found = [q for q in (full.quotas if full else None) or []
                     if str(q.get("territory_id")) == territory_id]  # fmt: skip
            if found:
                q = found[0]
                season = {k[len("period_") :]: v for k, v in q.items() if k.startswith("period_")}
                quota = {"proposal": info, "row": q, "season": season}
                break
    cols = [c for c in ("account_id", "label", "potential", "revenue", "whitespace", "workload")
            if c in mine]  # fmt: skip
    targets = (
        mine.sort_values("whitespace", ascending=False, kind="stable").head(TARGETS)
        if "whitespace" in mine
        else mine.head(0)
    )
    return {
        "run": row,
        "territory": {k: formats.plain(v) for k, v in t.to_dict().items()} | {"id": territory_id},
        "accounts": formats.records(mine[cols].sort_values("potential", ascending=False)),
        "targets": formats.records(targets[cols]),
        "totals": {
            c: float(mine[c].sum()) for c in ("potential", "revenue", "workload") if c in mine
        },  # fmt: skip
        "points": points,
        "home": home,
        "coordinates": kind,
        "quota": quota,
    }
