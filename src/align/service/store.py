"""The service's store: scenarios, their files, runs, results and quota proposals (SQLAlchemy 2).

SQLite (a file, the default) or PostgreSQL. The database is the source of truth for every run's
status; each state change is one transaction, and a run's result is written together with its
final status, so a crash leaves the previous state, never half a result.
"""

from __future__ import annotations

import json
import math
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, overload

import numpy as np
from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    sessionmaker,
    undefer,
)
from sqlalchemy.pool import NullPool

from ..status import Status
from .states import ACTIVE, RunState

CONNECT_TIMEOUT_S = 5


def now() -> datetime:
    return datetime.now(UTC)


@overload
def utc(t: datetime) -> datetime: ...
@overload
def utc(t: None) -> None: ...
def utc(t: datetime | None) -> datetime | None:
    """A stored time as UTC (SQLite gives it back without its zone)."""
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class ScenarioRow(Base):
    __tablename__ = "scenarios"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    n_accounts: Mapped[int] = mapped_column(Integer)
    n_territories: Mapped[int] = mapped_column(Integer)
    coord_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    input_hash: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    # account_id, lat, lon as CSV (lat/lon scenarios only): the map of a run's results
    points: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)


class ScenarioFileRow(Base):
    __tablename__ = "scenario_files"

    scenario_id: Mapped[str] = mapped_column(
        ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id"), index=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    solver_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    phase: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    time_limit_s: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RunResultRow(Base):
    __tablename__ = "run_results"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    assignments: Mapped[bytes] = mapped_column(LargeBinary)
    territories: Mapped[bytes] = mapped_column(LargeBinary)


class ProposalRow(Base):
    """A quota proposal of a run: one version, its tables as JSON records (see
    :meth:`align.quotas.Proposal.to_dict`). Versions from 2 name their parent."""

    __tablename__ = "proposals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("proposals.id"), nullable=True, index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    goal: Mapped[float] = mapped_column(Float)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    region_goals: Mapped[dict[str, Any]] = mapped_column(JSON)
    overrides: Mapped[list[Any]] = mapped_column(JSON)
    kpis: Mapped[dict[str, Any]] = mapped_column(JSON)
    quotas: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True, deferred=True)
    regions: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True, deferred=True)
    diff: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True, deferred=True)
    # periods, components, objective, reasons, message
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class Claim:
    """A queued run handed to a worker: only the holder of ``token`` may finish it."""

    run_id: str
    token: str
    time_limit_s: float


def engine_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` use psycopg 3 (the driver align depends on)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    """An engine; SQLite gets WAL and a busy timeout so worker processes can write beside it."""
    url = engine_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, poolclass=NullPool)

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            # WAL is kept in the file: set it once, not on every connection (each request and
            # each progress write opens one; setting the mode is not free)
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # an unreachable server fails a connection in seconds, not after the system's TCP timeout
    args = {"connect_timeout": CONNECT_TIMEOUT_S} if url.startswith("postgresql") else {}
    if pooled:
        return create_engine(url, pool_pre_ping=True, connect_args=args)
    return create_engine(url, poolclass=NullPool, connect_args=args)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL on disk (None for other databases and in-memory SQLite)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url not in (prefix, prefix + ":memory:"):
        return Path(url[len(prefix) :])
    return None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic, shipped inside the package)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def migrations_dir() -> Path:
    return Path(str(resources.files("align.service"))) / "migrations"


def clean_json(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and infinities to None (PostgreSQL rejects NaN)."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return json.loads(json.dumps(value, default=str))


class Store:
    """Transactions over the service's tables."""

    def __init__(self, url: str, *, pooled: bool = True):
        self.url = url
        self.engine = make_engine(url, pooled=pooled)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction: committed at the end, rolled back on any error."""
        with self.sessions.begin() as session:
            yield session

    # --- scenarios --------------------------------------------------------------------------

    def add_scenario(self, row: ScenarioRow, files: dict[str, bytes]) -> ScenarioRow:
        with self.tx() as s:
            s.add(row)
            s.flush()
            s.add_all(
                ScenarioFileRow(scenario_id=row.id, name=k, content=v) for k, v in files.items()
            )
        return row

    def scenario(self, scenario_id: str, owner: str) -> ScenarioRow | None:
        with self.tx() as s:
            row = s.get(ScenarioRow, scenario_id)
            return row if row is not None and row.owner == owner else None

    def scenarios(self, owner: str, *, limit: int, offset: int) -> Sequence[ScenarioRow]:
        q = (
            select(ScenarioRow)
            .where(ScenarioRow.owner == owner)
            .order_by(ScenarioRow.created_at, ScenarioRow.id)
            .limit(limit)
            .offset(offset)
        )
        with self.tx() as s:
            return s.scalars(q).all()

    def points(self, scenario_id: str) -> bytes | None:
        q = select(ScenarioRow.points).where(ScenarioRow.id == scenario_id)
        with self.tx() as s:
            return s.scalars(q).first()

    def scenario_files(self, scenario_id: str) -> dict[str, bytes]:
        q = select(ScenarioFileRow).where(ScenarioFileRow.scenario_id == scenario_id)
        with self.tx() as s:
            return {f.name: f.content for f in s.scalars(q)}

    # --- runs -------------------------------------------------------------------------------

    def add_run(self, row: RunRow) -> RunRow:
        with self.tx() as s:
            s.add(row)
        return row

    def run(self, run_id: str, owner: str | None = None) -> RunRow | None:
        with self.tx() as s:
            row = s.get(RunRow, run_id)
            if row is None or (owner is not None and row.owner != owner):
                return None
            return row

    def runs(
        self,
        owner: str,
        *,
        scenario_id: str | None,
        status: RunState | None,
        limit: int,
        offset: int,
    ) -> Sequence[RunRow]:
        q = select(RunRow).where(RunRow.owner == owner)
        if scenario_id is not None:
            q = q.where(RunRow.scenario_id == scenario_id)
        if status is not None:
            q = q.where(RunRow.status == status)
        q = q.order_by(RunRow.created_at, RunRow.id).limit(limit).offset(offset)
        with self.tx() as s:
            return s.scalars(q).all()

    def active_runs(self, owner: str) -> int:
        """Queued and running runs of ``owner``."""
        q = select(func.count()).select_from(RunRow)
        q = q.where(RunRow.owner == owner, RunRow.status.in_(ACTIVE))
        with self.tx() as s:
            return int(s.scalar(q) or 0)

    def unreachable(self) -> str | None:
        """Why the database cannot be used now (None when it answers): a SQLite file that is
        gone (it is not created again here) or a query on the runs table that fails."""
        path = sqlite_file(self.url)
        if path is not None and not path.is_file():
            return f"the database file {path.name} is missing"
        try:
            with self.engine.connect() as conn:
                conn.execute(select(RunRow.id).limit(1)).all()
        except SQLAlchemyError as e:
            first = str(getattr(e, "orig", None) or e).strip().splitlines()
            return first[0] if first else type(e).__name__
        return None

    def result(self, run_id: str) -> RunResultRow | None:
        with self.tx() as s:
            return s.get(RunResultRow, run_id)

    def cancel(self, run_id: str) -> bool:
        """Mark a queued or running run cancelled; False when it had already ended."""
        q = (
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.status.in_(ACTIVE))
            .values(
                status=RunState.CANCELLED,
                reason="cancelled on request",
                finished_at=now(),
                token=None,
            )
        )
        with self.tx() as s:
            return bool(s.execute(q).rowcount)  # type: ignore[attr-defined]

    def claim_next(self) -> Claim | None:
        """Move the oldest queued run to running (one at a time, even with several servers)."""
        for _ in range(5):
            with self.tx() as s:
                row = s.scalars(
                    select(RunRow)
                    .where(RunRow.status == RunState.QUEUED)
                    .order_by(RunRow.created_at, RunRow.id)
                    .limit(1)
                ).first()
                if row is None:
                    return None
                token = secrets.token_hex(16)
                claimed = s.execute(
                    update(RunRow)
                    .where(RunRow.id == row.id, RunRow.status == RunState.QUEUED)
                    .values(
                        status=RunState.RUNNING,
                        token=token,
                        started_at=now(),
                        attempts=RunRow.attempts + 1,
                        progress=0.0,
                        phase="starting",
                    )
                ).rowcount  # type: ignore[attr-defined]
                if claimed:
                    return Claim(row.id, token, row.time_limit_s)
        return None

    def set_progress(self, claim: Claim, progress: float, phase: str) -> bool:
        """Record progress; False when the run is no longer this worker's (cancelled...)."""
        q = (
            update(RunRow)
            .where(RunRow.id == claim.run_id, RunRow.token == claim.token)
            .values(progress=progress, phase=phase)
        )
        with self.tx() as s:
            return bool(s.execute(q).rowcount)  # type: ignore[attr-defined]

    def finish(
        self,
        claim: Claim,
        *,
        status: RunState,
        reason: str | None = None,
        solver_status: Status | None = None,
        summary: dict[str, Any] | None = None,
        frames: tuple[bytes, bytes] | None = None,
    ) -> bool:
        """Write the outcome and the result in one transaction, if the run is still the claim's.

        Returns False (and writes nothing) when the run was cancelled or re-queued meanwhile.
        """
        with self.tx() as s:
            done = s.execute(
                update(RunRow)
                .where(RunRow.id == claim.run_id, RunRow.token == claim.token)
                .values(
                    status=status,
                    reason=reason,
                    solver_status=solver_status,
                    summary=clean_json(summary) if summary is not None else None,
                    progress=1.0 if status == RunState.SUCCEEDED else RunRow.progress,
                    phase="done",
                    finished_at=now(),
                    token=None,
                )
            ).rowcount  # type: ignore[attr-defined]
            if not done:
                return False
            if frames is not None:
                s.add(
                    RunResultRow(run_id=claim.run_id, assignments=frames[0], territories=frames[1])
                )
        return True

    def recover(self, *, max_attempts: int) -> tuple[list[str], list[str]]:
        """Runs left ``running`` by a stopped server: re-queue them, or fail those already tried
        ``max_attempts`` times. Returns (re-queued ids, failed ids)."""
        with self.tx() as s:
            rows = s.scalars(select(RunRow).where(RunRow.status == RunState.RUNNING)).all()
            requeued, failed = [], []
            for row in rows:
                row.token = None
                if row.attempts >= max_attempts:
                    row.status = RunState.FAILED
                    row.finished_at = now()
                    row.reason = (
                        f"the server stopped while this run was solving, {row.attempts} "
                        f"time{'s' if row.attempts != 1 else ''}; it is not started again "
                        f"(ALIGN_MAX_ATTEMPTS = {max_attempts})"
                    )
                    failed.append(row.id)
                else:
                    row.status = RunState.QUEUED
                    row.progress = 0.0
                    row.phase = "re-queued after a server restart"
                    requeued.append(row.id)
        return requeued, failed

    def requeue(
        self, claim: Claim, *, phase: str = "re-queued at shutdown", count: bool = False
    ) -> None:
        """Give a claimed run back to the queue: at a graceful shutdown, not counting the
        attempt; after a database outage (``count``), counting it (ALIGN_MAX_ATTEMPTS)."""
        q = (
            update(RunRow)
            .where(RunRow.id == claim.run_id, RunRow.token == claim.token)
            .values(
                status=RunState.QUEUED,
                token=None,
                progress=0.0,
                phase=phase,
                attempts=RunRow.attempts if count else RunRow.attempts - 1,
            )
        )
        with self.tx() as s:
            s.execute(q)

    # --- proposals --------------------------------------------------------------------------

    def add_proposal(self, row: ProposalRow) -> ProposalRow:
        """Store a proposal (its tables with it): one transaction."""
        with self.tx() as s:
            s.add(row)
        return row

    def proposal(self, proposal_id: str, owner: str, *, tables: bool = False) -> ProposalRow | None:
        """A proposal of ``owner``; with ``tables``, its quotas, regions and diff loaded too."""
        q = select(ProposalRow).where(ProposalRow.id == proposal_id, ProposalRow.owner == owner)
        if tables:
            q = q.options(
                *(undefer(c) for c in (ProposalRow.quotas, ProposalRow.regions, ProposalRow.diff))
            )
        with self.tx() as s:
            return s.scalars(q).first()

    def proposals(
        self, owner: str, *, run_id: str | None, limit: int, offset: int
    ) -> Sequence[ProposalRow]:
        q = select(ProposalRow).where(ProposalRow.owner == owner)
        if run_id is not None:
            q = q.where(ProposalRow.run_id == run_id)
        q = q.order_by(ProposalRow.created_at, ProposalRow.id).limit(limit).offset(offset)
        with self.tx() as s:
            return s.scalars(q).all()

    def status_of(self, run_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        if not run_ids:
            return {}
        q = select(RunRow.id, RunRow.status, RunRow.token).where(RunRow.id.in_(list(run_ids)))
        with self.tx() as s:
            return {r.id: (r.status, r.token) for r in s.execute(q)}
