"""What the planning room adds to the store: manual changes to a run's plan (who, why, undone),
and the review of a quota proposal (states and comments). Migration 0003 creates the tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from ..store import Base, ProposalRow, Store, new_id, now

DRAFT, SUBMITTED, APPROVED, CHANGES = "draft", "submitted", "approved", "changes_requested"
# review state -> the states a proposal may move to, and the role that moves it
TRANSITIONS: dict[str, dict[str, str]] = {
    DRAFT: {SUBMITTED: "ops"},
    CHANGES: {SUBMITTED: "ops"},
    SUBMITTED: {APPROVED: "leader", CHANGES: "leader"},
    APPROVED: {},
}


class PlanChangeRow(Base):
    """One manual change of a run's plan: accounts moved to a territory and/or locked."""

    __tablename__ = "plan_changes"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    accounts: Mapped[list[str]] = mapped_column(JSON)
    previous: Mapped[list[str]] = mapped_column(JSON)  # each account's territory before
    territory: Mapped[str] = mapped_column(String(200))
    locked: Mapped[bool] = mapped_column()
    who: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    undone_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    undone_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ReviewRow(Base):
    """One step of a proposal's review: the state it moved to, by whom, for which region."""

    __tablename__ = "proposal_reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), index=True
    )
    region: Mapped[str] = mapped_column(String(200))  # "" = the whole proposal
    state: Mapped[str] = mapped_column(String(24))
    who: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CommentRow(Base):
    __tablename__ = "proposal_comments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), index=True
    )
    region: Mapped[str] = mapped_column(String(200))
    who: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# --- manual changes ---------------------------------------------------------------------------


def changes(store: Store, run_id: str) -> Sequence[PlanChangeRow]:
    q = select(PlanChangeRow).where(PlanChangeRow.run_id == run_id).order_by(PlanChangeRow.seq)
    with store.tx() as s:
        return s.scalars(q).all()


def version_of(rows: Sequence[PlanChangeRow]) -> int:
    """The plan's version: the number of changes and undos recorded on it."""
    return max([0, *(r.seq for r in rows), *(r.undone_seq or 0 for r in rows)])


class Stale(Exception):
    """The plan changed since the page read it."""

    def __init__(self, current: int):
        self.current = current


def add_change(store: Store, row: PlanChangeRow, *, base: int) -> PlanChangeRow:
    """Record a change made on version ``base`` of the plan (Stale when that is not the latest;
    two racing writers: the unique (run, seq) lets one through)."""
    with store.tx() as s:
        rows = s.scalars(select(PlanChangeRow).where(PlanChangeRow.run_id == row.run_id)).all()
        current = version_of(rows)
        if current != base:
            raise Stale(current)
        row.id, row.seq, row.created_at = new_id(), current + 1, now()
        s.add(row)
    return row


def undo_change(store: Store, run_id: str, change_id: str, who: str, *, base: int) -> PlanChangeRow:
    """Mark a change undone (KeyError: no such change; ValueError: already undone)."""
    with store.tx() as s:
        rows = s.scalars(select(PlanChangeRow).where(PlanChangeRow.run_id == run_id)).all()
        current = version_of(rows)
        if current != base:
            raise Stale(current)
        row = next((r for r in rows if r.id == change_id), None)
        if row is None:
            raise KeyError(change_id)
        if row.undone_seq is not None:
            raise ValueError(f"change {row.seq} was already undone by {row.undone_by}")
        row.undone_seq, row.undone_by, row.undone_at = current + 1, who, now()
    return row


# --- reviews ----------------------------------------------------------------------------------


_Row = TypeVar("_Row", "ReviewRow", "CommentRow")


def _of_proposal(store: Store, row: type[_Row], proposal_id: str) -> Sequence[_Row]:
    """The rows of one proposal, oldest first."""
    q = select(row).where(row.proposal_id == proposal_id).order_by(row.created_at, row.id)
    with store.tx() as s:
        return s.scalars(q).all()


def reviews(store: Store, proposal_id: str) -> Sequence[ReviewRow]:
    return _of_proposal(store, ReviewRow, proposal_id)


def state_of(rows: Sequence[ReviewRow], region: str = "") -> str:
    last = [r.state for r in rows if r.region == region]
    return last[-1] if last else DRAFT


def add_review(store: Store, row: ReviewRow) -> ReviewRow:
    row.id, row.created_at = new_id(), now()
    with store.tx() as s:
        s.add(row)
    return row


def comments(store: Store, proposal_id: str) -> Sequence[CommentRow]:
    return _of_proposal(store, CommentRow, proposal_id)


def add_comment(store: Store, row: CommentRow) -> CommentRow:
    row.id, row.created_at = new_id(), now()
    with store.tx() as s:
        s.add(row)
    return row


def descends(by_id: dict[str, ProposalRow], r: ProposalRow, ancestor: str) -> bool:
    """Whether proposal ``r`` is ``ancestor`` or made from it, through its parents."""
    at: ProposalRow | None = r
    while at is not None:
        if at.id == ancestor:
            return True
        at = by_id.get(at.parent_id or "")
    return False
