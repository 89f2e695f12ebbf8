"""The review of a quota proposal: draft -> submitted -> approved or changes requested, per
region where the plan has regions; comments; roles enforced here (ops submit, leaders decide).

An approved version is frozen: it never changes state again, and the plan of its run takes no
more manual changes (an override makes a new version, which starts as a draft).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ...errors import ScenarioError
from ..deps import StoreDep, proposal_row
from ..schemas import Problem
from ..store import ProposalRow, Store, utc
from . import records
from .access import CallerDep, owner
from .records import APPROVED, CHANGES, DRAFT, SUBMITTED, TRANSITIONS, CommentRow, ReviewRow

router = APIRouter(tags=["planning room"])
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
}
ACTION = {SUBMITTED: "submitting", APPROVED: "approving", CHANGES: "asking for changes to"}
OVERRIDES = re.compile(r"/proposals/(?P<id>[0-9a-f]{32})/overrides")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Literal["submitted", "approved", "changes_requested"]
    region: str = Field(default="", description="one region; empty = every region at once")
    note: Annotated[str, Field(max_length=5000)] = ""


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=5000)]
    region: str = ""


def regions_of(row: ProposalRow) -> list[str]:
    """The proposal's regions (its quotas' ``region`` values), none when there is one."""
    found = sorted({str(q.get("region")) for q in row.quotas or [] if q.get("region")})
    return found if len(found) > 1 else []


def review_of(store: Store, row: ProposalRow) -> dict[str, Any]:
    """The proposal's state (overall and per region), its history and comments."""
    history = list(records.reviews(store, row.id))
    regions = regions_of(row)
    per = {r: records.state_of(history, r) for r in regions}
    if regions:
        states = set(per.values())
        if states == {APPROVED}:
            overall = APPROVED
        elif CHANGES in states:
            overall = CHANGES
        elif states <= {SUBMITTED, APPROVED}:
            overall = SUBMITTED
        else:
            overall = DRAFT
    else:
        overall = records.state_of(history)
    newest = newest_from(store, row)
    return {
        "proposal_id": row.id,
        "newest": {"id": newest.id, "version": newest.version, "etag": etag(newest)},
        "state": overall,
        "frozen": overall == APPROVED,
        "regions": per,
        "history": [
            {
                "state": h.state,
                "region": h.region,
                "who": h.who,
                "role": h.role,
                "note": h.note,
                "at": utc(h.created_at).isoformat(),
            }
            for h in history
        ],  # fmt: skip
        "comments": [
            {"who": c.who, "region": c.region, "text": c.text, "at": utc(c.created_at).isoformat()}
            for c in records.comments(store, row.id)
        ],
    }


def approved_proposal(store: Store, owner: str, run_id: str) -> str | None:
    """The id of an approved proposal of the run, if any (its plan is then frozen)."""
    for info in store.proposals(owner, run_id=run_id, limit=1000, offset=0):
        row = store.proposal(info.id, owner, tables=True)
        if row is not None and review_of(store, row)["state"] == APPROVED:
            return row.id
    return None


def newest_from(store: Store, row: ProposalRow) -> ProposalRow:
    """The newest version made from ``row`` (``row`` itself when none was): a quota page that
    read ``row`` is stale once this changes under it."""
    rows = store.proposals(row.owner, run_id=row.run_id, limit=1000, offset=0)
    by_id = {r.id: r for r in rows}
    made = [r for r in rows if records.descends(by_id, r, row.id)] or [row]
    return max(made, key=lambda r: (r.version, utc(r.created_at)))


def etag(row: ProposalRow) -> str:
    return f'"{row.id}"'


def stale_quotas(store: Store, who: str, proposal_id: str, seen: str) -> str | None:
    """Why an edit of the quotas of ``proposal_id`` that read ``seen`` (an ETag, from the page or
    ``GET /proposals/{id}/review``) would overwrite a newer version; None when it would not."""
    row = store.proposal(proposal_id, who, tables=False)
    if row is None:
        return None  # the route says 404
    newest = newest_from(store, row)
    if seen.strip() in (etag(newest), "*"):
        return None
    rows = store.proposals(who, run_id=row.run_id, limit=1000, offset=0)
    shown = next((f"v{r.version}" for r in rows if etag(r) == seen.strip()), "an unknown version")
    return (
        f"the quotas changed since this page read them (it read {shown} as the newest, now "
        f"v{newest.version}); reload to see the changes, then make yours again"
    )


async def refuse_stale_quotas(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """409 for a quota edit (``POST /proposals/{id}/overrides``) sent with ``If-Match`` when a
    newer version was made from the proposal since the sender read it (the page always sends
    it; scripts may)."""
    found = OVERRIDES.fullmatch(request.url.path)
    seen = request.headers.get("If-Match")
    if request.method != "POST" or found is None or seen is None:
        return await call_next(request)
    try:
        who = owner(request)
    except HTTPException:
        return await call_next(request)  # the route answers 401/403 as usual
    store: Store = request.app.state.store
    why = await run_in_threadpool(stale_quotas, store, who, found["id"], seen)
    if why is not None:
        return JSONResponse({"detail": why, "problems": []}, status_code=409)
    return await call_next(request)


@router.get("/proposals/{proposal_id}/review", responses=ERRORS)
def get_review(proposal_id: str, store: StoreDep, who: CallerDep) -> dict[str, Any]:
    """Where the proposal stands: draft, submitted, approved or changes requested."""
    return review_of(store, proposal_row(store, proposal_id, who.owner))


@router.post("/proposals/{proposal_id}/review", responses=ERRORS)
def move(proposal_id: str, body: ReviewIn, store: StoreDep, who: CallerDep) -> dict[str, Any]:
    """Move the proposal (or one region of it) on: ops submit a draft or a version sent back;
    leaders approve a submitted one or ask for changes (with a note saying what)."""
    row = proposal_row(store, proposal_id, who.owner)
    if row.status != "optimal":
        raise HTTPException(409, f"proposal {row.id} is {row.status}; only quotas are reviewed")
    regions = regions_of(row)
    if body.region and body.region not in regions:
        known = ", ".join(regions) or "none: review the whole proposal (region empty)"
        raise ScenarioError(f"region: {body.region!r} is not a region of the proposal ({known})")
    if body.to == CHANGES and not body.note.strip():
        raise ScenarioError("note: say what should change when asking for changes")
    history = list(records.reviews(store, row.id))
    targets = [body.region] if body.region or not regions else regions
    for region in targets:
        now_state = records.state_of(history, region)
        role = TRANSITIONS[now_state].get(body.to)
        where = f" (region {region})" if region else ""
        if role is None:
            frozen = "; an approved version is frozen" if now_state == APPROVED else ""
            raise HTTPException(
                409, f"proposal {row.id}{where} is {now_state}; it cannot become {body.to}{frozen}"
            )
        who.require(role, f"{ACTION[body.to]} a proposal")  # type: ignore[arg-type]
    for region in targets:
        records.add_review(
            store,
            ReviewRow(proposal_id=row.id, region=region, state=body.to, who=who.name,
                      role=who.role, note=body.note.strip()),
        )  # fmt: skip
    return review_of(store, row)


@router.post("/proposals/{proposal_id}/comments", status_code=201, responses=ERRORS)
def comment(proposal_id: str, body: CommentIn, store: StoreDep, who: CallerDep) -> dict[str, Any]:
    """Comment on a proposal (anyone who may read it, in any state)."""
    row = proposal_row(store, proposal_id, who.owner)
    if body.region and body.region not in regions_of(row):
        raise ScenarioError(f"region: {body.region!r} is not a region of the proposal")
    if not body.text.strip():
        raise ScenarioError("text: the comment is empty")
    records.add_comment(
        store, CommentRow(proposal_id=row.id, region=body.region, who=who.name,
                          text=body.text.strip())
    )  # fmt: skip
    return review_of(store, row)
