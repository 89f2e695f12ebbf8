"""A quota proposal: the :class:`Proposal` record, its folder (quotas.csv, proposal.json,
proposal.xlsx) and :func:`load_proposal`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InfeasibleError, NoSolutionError, ScenarioError
from ..settings import QuotaSettings
from ..status import PLANNED, Status
from ..units import strict_json
from .workbook import write_workbook

# ---------------------------------------------------------------------------------------------
# the result


@dataclass(eq=False)
class Proposal:
    """A quota proposal. ``status`` is always set: ``optimal``, ``infeasible`` or ``no_solution``.

    ``quotas`` has one row per territory (the columns of quotas.csv), ``regions`` the region
    roll-up with a total line, ``diff`` the change against the previous version (from version 2).
    """

    status: Status
    goal: float
    settings: QuotaSettings
    run: str | None = None
    version: int = 1
    parent: str | None = None
    quotas: pd.DataFrame | None = None
    regions: pd.DataFrame | None = None
    diff: pd.DataFrame | None = None
    kpis: dict[str, float] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    region_goals: dict[str, float] = field(default_factory=dict)
    periods: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    objective: float | None = None
    reasons: list[str] = field(default_factory=list)
    message: str = ""
    path: Path | None = None

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def has_quotas(self) -> bool:
        return self.quotas is not None and self.status in PLANNED

    def raise_for_status(self) -> Proposal:
        """Return the proposal when it holds quotas; raise InfeasibleError or NoSolutionError."""
        if self.status == Status.INFEASIBLE:
            raise InfeasibleError(self.reasons or ["the quota rules admit no proposal"])
        if not self.has_quotas:
            raise NoSolutionError(self.message or "no proposal was found within the limits")
        return self

    def summary(self) -> dict[str, Any]:
        """The content of proposal.json."""
        return {
            "version": self.version,
            "parent": self.parent,
            "run": self.run,
            "goal": self.goal,
            "status": self.status,
            "objective": self.objective,
            "settings": self.settings.model_dump(),
            "region_goals": self.region_goals,
            "overrides": self.overrides,
            "periods": self.periods,
            "components": self.components,
            "kpis": self.kpis,
            "reasons": self.reasons,
            "message": self.message,
        }

    def to_dict(self) -> dict[str, Any]:
        """proposal.json plus the quota, region and diff tables as records (JSON-able)."""
        out = self.summary()
        for key, frame in (("quotas", self.quotas), ("regions", self.regions), ("diff", self.diff)):
            out[key] = None if frame is None else _records(frame)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Proposal:
        """The proposal of :meth:`to_dict` (tables as records or DataFrames) or proposal.json."""

        def frame(value: Any) -> pd.DataFrame | None:
            if value is None or isinstance(value, pd.DataFrame):
                return value
            out = pd.DataFrame.from_records(value)
            for col in ("reason", "binding"):
                if col in out:
                    out[col] = out[col].fillna("").astype(str)
            return out

        goals = data.get("region_goals") or {}
        return cls(
            status=data["status"],
            goal=float(data["goal"]),
            settings=QuotaSettings.model_validate(data.get("settings") or {}),
            run=data.get("run"),
            version=int(data.get("version", 1)),
            parent=data.get("parent"),
            quotas=frame(data.get("quotas")),
            regions=frame(data.get("regions")),
            diff=frame(data.get("diff")),
            kpis=dict(data.get("kpis") or {}),
            overrides=list(data.get("overrides") or []),
            region_goals={str(k): float(v) for k, v in goals.items()},
            periods=list(data.get("periods") or []),
            components=list(data.get("components") or []),
            objective=data.get("objective"),
            reasons=list(data.get("reasons") or []),
            message=data.get("message") or "",
        )

    def write(self, folder: str | Path) -> Path:
        """Write the proposal folder: quotas.csv, regions.csv, proposal.json, diff.csv (from
        version 2) and proposal.xlsx. The folder of the previous version is never written over.
        """
        folder = Path(folder)
        if self.parent and folder.resolve() == Path(self.parent).resolve():
            raise ScenarioError(
                f"{folder}: holds version {self.version - 1}, the previous version; write "
                f"version {self.version} to a new folder (e.g. {_next_folder(folder)})"
            )
        folder.mkdir(parents=True, exist_ok=True)
        frames = {"quotas.csv": self.quotas, "regions.csv": self.regions, "diff.csv": self.diff}
        for name, frame in frames.items():
            if frame is None or not self.has_quotas:
                (folder / name).unlink(missing_ok=True)
                continue
            frame.to_csv(folder / name, index=False, float_format="%.10g")
        (folder / "proposal.json").write_text(
            json.dumps(strict_json(self.summary()), indent=2, allow_nan=False) + "\n"
        )
        if self.has_quotas:
            write_workbook(self, folder / "proposal.xlsx")
        else:
            (folder / "proposal.xlsx").unlink(missing_ok=True)
        self.path = folder
        return folder


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [strict_json(r) for r in frame.astype(object).to_dict(orient="records")]


def _next_folder(folder: Path) -> Path:
    m = re.fullmatch(r"(.*)-v(\d+)", folder.name)
    name = f"{m[1]}-v{int(m[2]) + 1}" if m else f"{folder.name}-v2"
    return folder.with_name(name)


def next_version_folder(proposal: Proposal) -> Path:
    """The default folder of the next version: a sibling named ``<proposal>-v<N>``."""
    if proposal.path is None:
        raise ScenarioError("the proposal has no folder; give the new version's folder (--out)")
    folder = Path(proposal.path)
    m = re.fullmatch(r"(.*)-v(\d+)", folder.name)
    stem = m[1] if m else folder.name
    return folder.with_name(f"{stem}-v{proposal.version + 1}")


def load_proposal(path: str | Path) -> Proposal:
    """Read a proposal folder written by :meth:`Proposal.write` (or ``align quotas --out``)."""
    folder = Path(path)
    meta = folder / "proposal.json"
    if not meta.is_file():
        raise ScenarioError(f"{folder}: not a proposal folder (proposal.json missing)")
    try:
        data = json.loads(meta.read_text())
    except json.JSONDecodeError as e:
        raise ScenarioError(f"{meta}: not valid JSON ({e})") from None

    def table(name: str) -> pd.DataFrame | None:
        p = folder / name
        if not p.is_file():
            return None
        text = {"territory_id": str, "region": str, "reason": str, "binding": str}
        frame = pd.read_csv(p, dtype=text, keep_default_na=False, na_values=[""])
        if "reason" in frame:
            frame["reason"] = frame["reason"].fillna("").astype(str)
        if "binding" in frame:
            frame["binding"] = frame["binding"].fillna("").astype(str)
        return frame

    tables = {key: table(f"{key}.csv") for key in ("quotas", "regions", "diff")}
    proposal = Proposal.from_dict({**data, **tables})
    proposal.path = folder
    return proposal
