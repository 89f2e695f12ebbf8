"""A run: the record of one solve, and the comparison of runs."""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from ._version import __version__
from .errors import InfeasibleError, NoSolutionError, RunError, ScenarioError
from .io import read_run_folder, write_run_folder
from .plots import plot_balance, plot_map, plot_tradeoff
from .scenario import Scenario
from .settings import BalanceRule, Settings
from .status import PLANNED, Status
from .units import Units, strict_json
from .validation import suggest

STATUSES = tuple(Status)


@dataclass(eq=False)
class Run:
    """The outcome of one solve. ``status`` is always set; a plan exists when :attr:`has_plan`.

    ``scenario_path`` is the scenario folder it was solved from (when it came from a folder) and
    ``parent`` the run folder it continued from (``align solve --from``, ``align adjust``).

    ``account_shapes`` are the polygons of the accounts (aligned with ``assignments``) when the
    scenario gave polygons; :meth:`territory_shapes` dissolves them into one shape per territory,
    written as ``territories.geojson``.

    ``objective`` is the plan's cost in raw units (TRAVEL x travel + MOVED x disruption),
    ``bound`` a proven lower bound on the best possible cost and ``gap`` their relative distance.

    ``settings`` are the resolved settings it was solved under (None when unknown). A run.json
    whose settings no longer validate (written by a version with other keys) still loads: its
    settings are None, the dict read is kept in ``settings_raw`` (and written back as it was)
    and ``notes`` says why.
    """

    status: Status
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    terms: dict[str, float] = field(default_factory=dict)
    solver: str = "highs"
    wall_seconds: float = 0.0
    kpis: dict[str, dict[str, float]] = field(default_factory=dict)
    settings: Settings | None = None
    input_hash: str = ""
    version: str = ""
    scenario: str = ""
    scenario_path: str = ""
    parent: str = ""
    reasons: list[str] = field(default_factory=list)
    message: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    assignments: pd.DataFrame | None = None
    territories: pd.DataFrame | None = None
    path: Path | None = None
    account_shapes: Any = None
    settings_raw: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    _territory_shapes: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def has_plan(self) -> bool:
        return self.assignments is not None and self.status in PLANNED

    def raise_for_status(self) -> Run:
        """Return the run when it holds a plan; raise InfeasibleError or NoSolutionError if not."""
        if self.status == Status.INFEASIBLE:
            raise InfeasibleError(self.reasons or ["the rules admit no plan"])
        if not self.has_plan:
            raise NoSolutionError(self.message or "no plan was found within the limits")
        return self

    def __repr__(self) -> str:
        parts: list[str] = [str(self.status)]
        if self.objective is not None and math.isfinite(self.objective):
            parts.append(f"objective={self.objective:,.6g}")
        if self.gap is not None and math.isfinite(self.gap):
            parts.append(f"gap={self.gap:.2%}")
        if self.assignments is not None:
            parts.append(f"accounts={len(self.assignments):,}")
        if self.territories is not None:
            parts.append(f"territories={len(self.territories):,}")
        if self.reasons:
            parts.append(f"reasons={len(self.reasons)}")
        parts.append(f"{self.wall_seconds:.2f}s")
        if self.path is not None:
            parts.append(f"path={str(self.path)!r}")
        return f"<Run {' '.join(parts)}>"

    def kpi_table(self) -> pd.DataFrame:
        """The KPIs as a tidy table: one row per KPI (index ``kpi``), columns ``before``
        (today's alignment), ``after`` (the plan), ``change`` (after - before) and ``kind``
        (money, pct, dist, count, ratio, num: how :class:`~align.units.Units` shows it).
        Values that are not finite (an empty territory's ratio) are NaN."""
        from .units import kind_of

        before = self.kpis.get("before", {})
        after = self.kpis.get("after", {})
        keys = list(dict.fromkeys([*before, *after]))
        df = pd.DataFrame(
            {
                "before": [_as_float(before.get(k)) for k in keys],
                "after": [_as_float(after.get(k)) for k in keys],
            },
            index=pd.Index(keys, name="kpi"),
            dtype=float,
        )
        df = df.where(df.abs() != math.inf)
        df["change"] = df["after"] - df["before"]
        df["kind"] = [kind_of(k) for k in keys]
        return df

    @property
    def balance(self) -> dict[str, BalanceRule]:
        """The balance rules it was solved under (column -> rule); empty when unknown."""
        return dict(self.settings.balance) if self.settings is not None else {}

    @property
    def units(self) -> Units:
        """How this run's numbers are shown (the ``units`` settings)."""
        return Units.of(self.settings)

    def summary(self) -> dict[str, Any]:
        """The content of run.json: strict JSON (NaN and infinities are null)."""
        summary: dict[str, Any] = strict_json(self._summary())
        return summary

    def _summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "terms": self.terms,
            "solver": self.solver,
            "wall_seconds": round(self.wall_seconds, 4),
            "kpis": self.kpis,
            "settings": self._settings_dump(),
            "input_hash": self.input_hash,
            "version": self.version,
            "scenario": self.scenario,
            "scenario_path": self.scenario_path,
            "parent": self.parent,
            "reasons": self.reasons,
            "message": self.message,
            "stats": self.stats,
        }

    def _settings_dump(self) -> dict[str, Any]:
        """run.json's settings: the model's dump, else the raw dict read, else empty."""
        if self.settings is not None:
            return self.settings.model_dump()
        return dict(self.settings_raw or {})

    def write(self, folder: str | Path) -> Path:
        """Write the run folder: run.json, and with a plan assignments.csv, territories.csv and,
        when the scenario gave polygons, territories.geojson.

        The files are written to a hidden folder beside ``folder``, which is then renamed into
        place: a run folder is whole or absent, never half written (a stop, a full disk or
        Ctrl-C leaves the previous one). A previous run folder there is replaced whole (with
        what else it held: a report or a map of that run); a folder that is not a run's
        (no run.json, not empty) or a file is never written over (RunError).
        """
        import secrets
        import shutil

        folder = Path(folder)
        check_run_folder(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tag = secrets.token_hex(4)
        tmp = folder.parent / f".{folder.name}.{tag}.tmp"
        old = folder.parent / f".{folder.name}.{tag}.old"
        tmp.mkdir()  # the permissions a folder gets (mkdtemp would make it private)
        try:
            frames: dict[str, pd.DataFrame] = {}
            if self.has_plan:
                assert self.assignments is not None and self.territories is not None
                frames = {"assignments.csv": self.assignments, "territories.csv": self.territories}
            write_run_folder(tmp, self.summary(), frames)
            shapes = self.territory_shapes() if self.has_plan else None
            if shapes is not None:
                shapes.to_file(tmp / "territories.geojson", driver="GeoJSON")
            if folder.is_dir():
                folder.rename(old)
            tmp.rename(folder)
        except BaseException:
            if old.is_dir() and not folder.exists():
                old.rename(folder)  # put the previous run back
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
        self.path = folder
        return folder

    def territory_shapes(self) -> Any:
        """One dissolved (multi)polygon per territory with the columns of ``territories``, in
        WGS84 (a GeoDataFrame), or None when the scenario gave no polygons.

        Dissolved from :attr:`account_shapes`, or read from the run folder's territories.geojson.
        """
        if self._territory_shapes is None and self.has_plan:
            if self.account_shapes is not None:
                from .shapes import territory_shapes

                assert self.assignments is not None and self.territories is not None
                self._territory_shapes = territory_shapes(
                    self.account_shapes, self.assignments["territory_id"], self.territories
                )
            elif self.path is not None and (self.path / "territories.geojson").is_file():
                import geopandas as gpd

                gdf = gpd.read_file(self.path / "territories.geojson")
                gdf["territory_id"] = gdf["territory_id"].astype(str)
                self._territory_shapes = gdf
        return self._territory_shapes

    def plot_map(self, *, ax: Any = None, scenario: Scenario | None = None) -> Any:
        """A map of the territories; see :func:`align.plots.plot_map`."""
        return plot_map(self, ax=ax, scenario=scenario)

    def plot_balance(self, measure: str | None = None, *, ax: Any = None) -> Any:
        """Each territory's balanced measures against their bands; see
        :func:`align.plots.plot_balance`."""
        return plot_balance(self, measure, ax=ax)


def _as_float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


RUN_ID_ENV = "ALIGN_DATABASE_URL"


def check_run_folder(folder: Path) -> None:
    """Raise RunError unless a run folder may be written at ``folder``: absent (its parent
    creatable and writable), empty, or a previous run folder (it is replaced whole)."""
    import os

    if folder.exists() or folder.is_symlink():
        if not folder.is_dir():
            raise RunError(f"{folder}: is a file, not a run folder; give a folder to write")
        if not (folder / "run.json").is_file() and any(folder.iterdir()):
            found = sorted(p.name for p in folder.iterdir())[:3]
            raise RunError(
                f"{folder}: holds files that are not a run's ({', '.join(found)}); write "
                "the run to a new folder"
            )
    base = folder.absolute().parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise RunError(f"{folder}: {base} is a file, so the folder cannot be made there")
    if not os.access(base, os.W_OK | os.X_OK):
        raise RunError(f"{folder}: cannot write in {base} (permission denied); choose another")


def _looks_like_id(ref: str) -> bool:
    """A run id of the run store: no path separator, no dot, not an existing path."""
    return bool(ref) and not any(c in ref for c in "/\\.") and not Path(ref).exists()


def load_run(path_or_id: str | Path) -> Run:
    """Read a run: a run folder written by :meth:`Run.write` (``align solve --out``), or the id
    of a run kept by the run store.

    Raises
    ------
    RunError
        When the folder has no run.json, or an id is given without a run store
        (``ALIGN_DATABASE_URL``).
    """
    import os

    if isinstance(path_or_id, str) and _looks_like_id(path_or_id):
        url = os.environ.get(RUN_ID_ENV, "")
        if not url:
            raise RunError(
                f"run {path_or_id!r}: no such folder; run ids need {RUN_ID_ENV} set to the run "
                "store (e.g. sqlite:///runs.db), or give a run folder (align solve --out RUN)"
            )
        return _load_stored_run(path_or_id, url)
    folder = Path(path_or_id)
    summary = _plan_less_summary(folder)
    if summary is not None:  # an infeasible or plan-less run: run.json alone
        run = _run_of(summary, str(folder / "run.json"))
        run.path = folder
        return run
    summary, assignments, territories = read_run_folder(path_or_id)
    run = _run_of(summary, str(Path(path_or_id) / "run.json"))
    run.assignments, run.territories, run.path = assignments, territories, Path(path_or_id)
    return run


_SUMMARY_KEYS = set(Run.__dataclass_fields__) - {
    "assignments",
    "territories",
    "path",
    "account_shapes",
    "settings_raw",
    "notes",
    "_territory_shapes",
}


def _run_of(summary: Mapping[str, Any], label: str = "run.json") -> Run:
    """A Run (without its tables) from run.json's summary; settings that no longer validate
    are kept aside as read (``settings_raw``) with a note, never an error."""
    fields = {k: v for k, v in summary.items() if k in _SUMMARY_KEYS and k != "settings"}
    run = Run(**fields)
    raw = summary.get("settings")
    if not raw:
        return run
    if not isinstance(raw, Mapping):
        run.settings_raw = {"settings": raw}
        run.notes.append(f"{label}: settings are not a table (got {type(raw).__name__}); ignored")
        return run
    try:
        run.settings = Settings.model_validate(raw)
    except ValidationError as e:
        run.settings_raw = dict(raw)
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'settings'}: {err['msg']}" for err in e.errors()
        )
        run.notes.append(
            f"{label}: settings do not validate under align {__version__} ({problems}); "
            "kept as read in run.settings_raw, run.settings is None"
        )
    return run


def _plan_less_summary(folder: Path) -> dict[str, Any] | None:
    """run.json of a run folder whose status says it holds no plan, else None."""
    import json

    path = folder / "run.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(summary, dict):
        raise RunError(f"{path}: not a run summary (a JSON object)")
    status = summary.get("status")
    if status not in STATUSES:
        raise RunError(f"{path}: status {status!r} is not one of {', '.join(STATUSES)}")
    return summary if status in ("infeasible", "no_solution") else None


def _load_stored_run(run_id: str, url: str) -> Run:
    """A succeeded run of the service's run store (SQLAlchemy; no web stack imported)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .service.states import RunState
    from .service.store import Store

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise RunError(f"run {run_id!r}: {RUN_ID_ENV} names no database file ({url})")
    store = Store(url, pooled=False)
    try:
        row = store.run(run_id)
        if row is None:
            raise RunError(f"run {run_id!r}: not in the run store {RUN_ID_ENV}")
        result = store.result(row.id) if row.status == RunState.SUCCEEDED else None
        if result is None:
            raise RunError(f"run {run_id!r} is {row.status}; only succeeded runs hold a plan")
    except SQLAlchemyError as e:
        first = str(e).splitlines()[0]
        raise RunError(
            f"run {run_id!r}: the run store {RUN_ID_ENV} cannot be read ({first})"
        ) from None
    finally:
        store.engine.dispose()
    return stored_run(row.summary or {}, result.assignments, result.territories)


ID_COLUMNS = ("account_id", "territory_id", "previous_territory")


def stored_table(content: bytes) -> pd.DataFrame:
    """A run table stored as CSV bytes (the run store), ids kept as text."""
    return pd.read_csv(io.BytesIO(content), dtype=dict.fromkeys(ID_COLUMNS, str))


def stored_run(summary: Mapping[str, Any], assignments: bytes, territories: bytes) -> Run:
    """A Run from what the run store keeps: run.json's summary and the two tables as CSV."""
    run = _run_of(summary, "the run store's run summary")
    run.assignments, run.territories = stored_table(assignments), stored_table(territories)
    return run


RUN_COLUMNS = ["status", "objective", "bound", "gap", "wall_seconds"]


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v if not isinstance(v, list) else ";".join(map(str, v))
    return out


class Comparison(pd.DataFrame):
    """The KPIs of several runs, one row per run (the index, ``run``), from
    :func:`compare_runs`; a DataFrame with :meth:`plot_tradeoff`."""

    @property
    def _constructor(self):  # type: ignore[no-untyped-def]
        return Comparison

    def plot_tradeoff(self, x: str, y: str, *, ax: Any = None) -> Any:
        """A scatter of two columns, one labelled point per run; returns the Axes.

        E.g. ``compare.plot_tradeoff("moved_share.accounts", "potential.max_abs_deviation")``:
        what each run pays in disruption for its balance.
        """
        return plot_tradeoff(self, x, y, ax=ax)


def compare_runs(runs: list[Run], *, names: list[str] | None = None) -> Comparison:
    """A tidy KPI table: one row per run (index ``run``), one column per KPI.

    Columns: status, objective, bound, gap, wall_seconds, ``reason`` (why a run holds no plan:
    an infeasible run's reasons, a no_solution run's message; only when some run has no plan),
    the plan's KPIs (run.kpis['after']),
    then ``settings.<key>`` for every setting whose value differs between the runs (e.g.
    ``settings.model``, ``settings.solver.name``). Names default to the run folders' names.
    """
    if names is None:
        names = [str(r.path.name if r.path else f"run{k + 1}") for k, r in enumerate(runs)]
    if len(names) != len(runs):
        raise RunError(f"compare_runs: {len(runs)} runs but {len(names)} names")
    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "status": run.status,
            "objective": run.objective,
            "bound": run.bound,
            "gap": run.gap,
            "wall_seconds": run.wall_seconds,
        }
        if not run.has_plan:
            row["reason"] = "; ".join(run.reasons) or run.message or "no plan"
        row.update(run.kpis.get("after", {}) if run.has_plan else {})
        rows.append(row)
    flat = [_flat(r._settings_dump()) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    differ = [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1]
    for row, f in zip(rows, flat, strict=True):
        row.update({f"settings.{k}": f.get(k) for k in differ})
    df = Comparison(rows, index=pd.Index(names, name="run"))
    if "reason" in df.columns:  # beside the status it explains
        df = df[["status", "reason", *[c for c in df.columns if c not in ("status", "reason")]]]
    return df


def moved_between(a: Run, b: Run) -> pd.DataFrame:
    """Accounts whose territory differs between two runs."""
    if a.assignments is None or b.assignments is None:
        return pd.DataFrame(columns=["account_id", "from", "to"])
    left = a.assignments[["account_id", "territory_id"]].rename(columns={"territory_id": "from"})
    right = b.assignments[["account_id", "territory_id"]].rename(columns={"territory_id": "to"})
    both = left.merge(right, on="account_id", how="outer")
    diff = both["from"].fillna("") != both["to"].fillna("")
    return both.loc[diff].reset_index(drop=True)


@dataclass(eq=False)
class Continuation:
    """A scenario re-based on an earlier run, and what changed between the two.

    ``scenario`` has each account's ``current_territory`` set to where ``run`` put it (the
    disruption baseline and the anchor of locks); ``unseen`` are accounts the run did not know
    (the solver places them), ``vanished`` accounts of the run the scenario no longer has, and
    ``moved`` the accounts moved by hand and locked to their new territory.
    """

    scenario: Scenario
    parent: Run
    unseen: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)


def continue_from(
    scenario: Scenario, run: Run, *, moves: Mapping[str, str] | None = None
) -> Continuation:
    """Take ``run``'s alignment as today's for ``scenario``; optionally move accounts by hand.

    Locked accounts stay locked (now to the run's territory), accounts new since the run are
    placed by the solver, and every account of ``moves`` is locked to its new territory.

    Raises
    ------
    ScenarioError
        When the run holds no plan, names territories the scenario does not have, or a move
        names an unknown account or territory.
    """
    label = f"run {run.path or run.scenario}"
    if not run.has_plan or run.assignments is None:
        raise ScenarioError(f"{label}: status {run.status}, it holds no plan")
    tids = [str(t) for t in scenario.territory_ids]
    acc = scenario.accounts.copy()
    plan = run.assignments.set_index(run.assignments["account_id"].astype(str))["territory_id"]
    plan = plan.astype(str)
    problems = [
        f"{label}: territory '{t}' is not in the scenario's territories.csv{suggest(t, tids)}"
        for t in sorted(set(plan) - set(tids))
    ]
    ids = acc["account_id"].astype(str)
    known = ids.isin(plan.index).to_numpy()
    vanished = sorted(set(plan.index) - set(ids))
    moves = dict(moves or {})
    id_list = list(ids)
    for a, t in moves.items():
        if a not in set(id_list):
            problems.append(f"move {a}={t}: '{a}' is not an account_id{suggest(a, id_list)}")
        if t not in tids:
            problems.append(f"move {a}={t}: '{t}' is not a territory_id{suggest(t, tids)}")
    if problems:
        raise ScenarioError(problems)
    current = acc["current_territory"] if "current_territory" in acc else pd.Series(None, acc.index)
    current = current.astype(object).where(~known, ids.map(plan).to_numpy())
    locked = acc["locked"].to_numpy(dtype=bool).copy()
    if moves:
        hand = ids.isin(list(moves)).to_numpy()
        current = current.where(~hand, ids.map(moves).to_numpy())
        locked |= hand
    acc["current_territory"] = current.to_numpy()
    acc["locked"] = locked
    digest = hashlib.sha256(
        f"{scenario.input_hash}|{run.input_hash}|{sorted(moves.items())}".encode()
    ).hexdigest()[:16]
    rebased = replace(scenario, accounts=acc, input_hash=digest)
    return Continuation(
        scenario=rebased,
        parent=run,
        unseen=list(ids[~known]),
        vanished=vanished,
        moved=list(moves),
    )
