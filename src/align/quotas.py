"""Quota proposals: a company goal turned into territory quotas, explained and negotiable.

The model
---------
Every territory ``j`` of a run gets a *fair share* of the goal ``G`` (of its region's goal when
region goals are given)::

    F_j = G * (w_p * P_j / sum P + w_h * R_j / sum R + w_e / m)

with ``P`` potential, ``R`` last period's revenue and the ``[quota.blend]`` weights (normalised to
sum 1; with no revenue anywhere the history weight goes to potential). Quotas are whole multiples
of the rounding unit ``U``: ``q_j = U * x_j`` with ``x_j`` integer, and the proposal is the
solution of one model::

    minimise   sum_j (q_j - F_j)^2 / F_j                  (closeness to the fair share)
    subject to sum_j q_j = G                              (the goal, exactly)
               sum_{j in r} q_j = G_r                     (each region's goal, when given)
               lo_j <= q_j <= hi_j                        (floor, ceiling, min and max growth)
               q_j = sum_c q_jc, sum_j q_jc = G_c         (components, when given)
               q_j = U * x_j, x_j integer

The closeness measure is the chi-square distance ``(q - F)^2 / F``. Its continuous optimum is
proportional scaling: every territory not held by a cap gets the same relative deviation from its
fair share, so equal territories get equal quotas and a territory with more potential (all else
equal) never gets less quota; on the integer lattice the same exchange argument holds exactly,
because the objective is strictly convex in each quota. HiGHS has no mixed-integer QP, so the
model is solved in two steps that are exact together: the continuous QP gives the optimum ``x*``,
then a MIP in which each territory's quadratic is written exactly at the integer points of a
window around ``x*`` (one chord per unit step, an epigraph variable per territory) gives the
integer optimum; a window edge that binds is widened and the MIP solved again.

Ties: when the goal does not split evenly (two equal territories and an odd number of units),
equal territories differ by one unit. The unit goes to the territory with more potential, and
between equal potentials to the one listed first in territories.csv (a tie-breaking cost of at
most 1e-6 per unit, far below any real difference of the objective).

Components (``[quota.components]``) are integer variables of the same MIP (``q_jc``, one per
territory and component holding potential there), so the quotas it chooses can always be split
with every component meeting its goal. The split itself follows the potential: the component
potentials of each territory are scaled to the quotas (rows) and the component goals (columns) by
iterative proportional fitting, and the nearest split in whole units is a small transportation
problem, whose LP has integral vertices.

The continuous QP that centres the MIP's window holds the goal rows and the bounds; components are
left to the MIP (a window edge that binds is widened, so they never cut the optimum off).

Negotiation range: ``min_quota`` and ``max_quota`` of a territory are the least and the most its
quota can be while every other rule holds and the goal (and region and component goals) is met,
computed by linear programming over the LP (continuous) relaxation of the same constraints, with
the overrides fixed (for an overridden territory, with its own override released). They are
reported rounded inward to the unit, so every value of the range on the unit grid is a quota the
rules admit (constraints of this shape have integral vertices).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from .errors import InfeasibleError, NoSolutionError, ScenarioError
from .io import load_scenario
from .model.backends import Backend, BackendResult, HighsBackend
from .model.formulation import MatrixModel
from .runs import Run, continue_from, load_run
from .scenario import Scenario
from .settings import QuotaSettings, Settings
from .units import strict_json
from .validation import suggest
from .workbook import write_workbook

FloatArray = NDArray[np.float64]

QUOTA_COLUMNS = [
    "territory_id", "region", "potential", "revenue", "fair_share", "quota", "growth",
    "quota_to_potential", "binding", "min_quota", "max_quota", "reason",
]  # fmt: skip
DIFF_COLUMNS = ["territory_id", "previous_quota", "quota", "change", "reason"]
DEFAULT_REGION = "all"
TIE_WEIGHT = 1e-6
_EPS = 1e-7
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def _money(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def _pct(v: float) -> str:
    return f"{v:+.0%}" if abs(v * 100 - round(v * 100)) < 1e-9 else f"{v:+.1%}"


# ---------------------------------------------------------------------------------------------
# inputs


@dataclass
class _Inputs:
    """What the quota model needs of a run, per territory."""

    ids: list[str]
    region: NDArray[np.object_]
    potential: FloatArray
    revenue: FloatArray
    comp_names: list[str] = field(default_factory=list)
    comp_potential: FloatArray | None = None  # (m, C)
    period_labels: list[str] = field(default_factory=list)
    period_revenue: FloatArray | None = None  # (m, T)
    period_accounts: FloatArray | None = None  # (m,) accounts with period history


def _period_columns(accounts: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, label) of ``revenue_<label>`` period columns, in calendar order."""
    found = [
        (c, c[len("revenue_") :].lower())
        for c in accounts.columns
        if c.startswith("revenue_") and pd.api.types.is_numeric_dtype(accounts[c].dtype)
    ]
    if len(found) < 2:
        return []
    labels = [lab for _, lab in found]

    def key(label: str) -> tuple[int, int, str]:
        if label[:3] in _MONTHS:
            return (0, _MONTHS.index(label[:3]), label)
        m = re.fullmatch(r"[a-z]*?(\d+)", label)
        if m:
            return (1, int(m[1]), label)
        return (2, labels.index(label), label)

    return sorted(found, key=lambda item: key(item[1]))


def _inputs(run: Run, scenario: Scenario, settings: QuotaSettings) -> _Inputs:
    label = f"run {run.path or run.scenario}"
    if not run.has_plan or run.assignments is None:
        raise ScenarioError(
            f"{label}: status {run.status}, it holds no plan; solve the scenario and propose "
            "quotas on a run with a plan"
        )
    ter = scenario.territories
    ids = [str(t) for t in ter["territory_id"]]
    if run.territories is not None and "territory_id" in run.territories:
        run_ids = [str(t) for t in run.territories["territory_id"]]
        if set(run_ids) != set(ids):
            odd = sorted(set(run_ids) ^ set(ids))
            raise ScenarioError(
                f"{label}: its territories differ from the scenario's territories.csv "
                f"({', '.join(odd[:5])}); propose quotas from the scenario the run was solved from"
            )
    acc = scenario.accounts
    plan = run.assignments.set_index(run.assignments["account_id"].astype(str))["territory_id"]
    owner = acc["account_id"].astype(str).map(plan.astype(str))
    j = pd.Index(ids).get_indexer(owner)
    ok = j >= 0
    m = len(ids)

    def per_territory(values: FloatArray) -> FloatArray:
        return np.bincount(j[ok], weights=values[ok], minlength=m).astype(float)

    potential = acc["potential"].to_numpy(dtype=float)
    revenue = acc["revenue"].to_numpy(dtype=float) if "revenue" in acc else np.zeros(len(acc))
    revenue = np.nan_to_num(revenue)
    if "region" in ter:
        region = ter["region"].fillna(DEFAULT_REGION).astype(str).to_numpy(dtype=object)
    else:
        region = np.full(m, DEFAULT_REGION, dtype=object)
    out = _Inputs(ids, region, per_territory(potential), per_territory(revenue))
    comp = settings.components
    if comp.goals:
        if comp.by == "history":
            labels = np.where(revenue > 0, "existing", "new").astype(object)
        elif comp.by in acc:
            labels = acc[comp.by].astype(object).where(acc[comp.by].notna(), "(none)")
            labels = labels.astype(str).to_numpy(dtype=object)
        else:
            cols = [c for c in acc.columns if not pd.api.types.is_numeric_dtype(acc[c].dtype)]
            raise ScenarioError(
                f"settings key 'quota.components.by': accounts have no column '{comp.by}'"
                f'{suggest(comp.by, cols)}; use "history" (existing/new) or a text column'
            )
        known = sorted(set(labels))
        bad = [c for c in comp.goals if c not in known]
        if bad:
            raise ScenarioError(
                [
                    f"settings key 'quota.components.goals.{c}': no account has component "
                    f"'{c}' (by {comp.by}){suggest(c, known)}; components: {', '.join(known)}"
                    for c in bad
                ]
            )
        out.comp_names = list(comp.goals)
        out.comp_potential = np.column_stack(
            [per_territory(np.where(labels == c, potential, 0.0)) for c in out.comp_names]
        )
    periods = _period_columns(acc)
    if periods:
        values = np.column_stack([np.nan_to_num(acc[c].to_numpy(dtype=float)) for c, _ in periods])
        out.period_labels = [lab for _, lab in periods]
        out.period_revenue = np.column_stack(
            [per_territory(values[:, t]) for t in range(values.shape[1])]
        )
        out.period_accounts = per_territory((values.sum(axis=1) > 0).astype(float))
    return out


def _read_region_goals(
    region_goals: Mapping[str, float] | str | Path | None,
    settings: QuotaSettings,
    scenario: Scenario,
) -> dict[str, float]:
    if region_goals is None and settings.region_goals:
        base = scenario.source or Path(".")
        region_goals = Path(base) / settings.region_goals
    if region_goals is None:
        return {}
    if isinstance(region_goals, Mapping):
        return {str(k): float(v) for k, v in region_goals.items()}
    path = Path(region_goals)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such region goals file (columns region, goal)")
    frame = pd.read_csv(path, dtype={"region": str})
    frame.columns = [str(c).strip() for c in frame.columns]
    if not {"region", "goal"} <= set(frame.columns):
        raise ScenarioError(
            f"{path.name}: needs the columns region, goal (got {', '.join(frame.columns)})"
        )
    goals = pd.to_numeric(frame["goal"], errors="coerce")
    bad = [f"{path.name} row {k + 2}: goal must be a number (got {frame['goal'][k]!r})"
           for k in np.flatnonzero(goals.isna().to_numpy())]  # fmt: skip
    dup = frame["region"][frame["region"].duplicated()].tolist()
    bad += [f"{path.name}: region '{r}' appears more than once" for r in dup]
    if bad:
        raise ScenarioError(bad)
    return dict(zip(frame["region"].astype(str), goals.astype(float), strict=True))


# ---------------------------------------------------------------------------------------------
# the model


@dataclass
class _Model:
    """The quota rules in units of ``U``: columns x (one per territory) and, with components,
    y (one per territory and component holding potential there); rows: the goal of each group
    (the regions, or everything), and with components ``sum_c y_jc = x_j`` and
    ``sum_j y_jc = G_c``. The objective is added by the MIP."""

    matrix: MatrixModel
    m: int
    f: FloatArray  # fair share in units (floored above 0)
    lo: FloatArray  # bounds in units from the rules (before overrides)
    hi: FloatArray
    pj: NDArray[np.int64]  # component pairs
    pc: NDArray[np.int64]
    n_groups: int  # the first rows: one goal row per group
    comp_goals: FloatArray | None = None  # in units


def _build(
    inputs: _Inputs,
    *,
    f: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    groups: list[tuple[NDArray[np.int64], float]],
    comp_goals: FloatArray | None,
) -> _Model:
    m = len(f)
    if comp_goals is not None and inputs.comp_potential is not None:
        has = inputs.comp_potential > 0
        has[~has.any(axis=1)] = True  # a territory without component potential takes any
        pj, pc = np.nonzero(has)
    else:
        pj = pc = np.zeros(0, dtype=np.int64)
    npair = len(pj)
    ncol = m + npair
    members = np.concatenate([g for g, _ in groups])
    gid = np.repeat(np.arange(len(groups)), [len(g) for g, _ in groups])
    blocks = [sp.csr_matrix((np.ones(len(members)), (gid, members)), (len(groups), ncol))]
    rhs = [np.array([goal for _, goal in groups], dtype=float)]
    if npair:
        assert comp_goals is not None
        k = np.arange(npair)
        blocks.append(  # link: sum_c y_jc - x_j = 0
            sp.csr_matrix(
                (
                    np.r_[np.ones(npair), -np.ones(m)],
                    (np.r_[pj, np.arange(m)], np.r_[m + k, np.arange(m)]),
                ),
                (m, ncol),
            )
        )
        rhs.append(np.zeros(m))
        blocks.append(sp.csr_matrix((np.ones(npair), (pc, m + k)), (len(comp_goals), ncol)))
        rhs.append(comp_goals)
    b = np.concatenate(rhs)
    matrix = MatrixModel(
        c=np.zeros(ncol),
        A=sp.vstack(blocks, format="csc"),
        row_lo=b,
        row_hi=b.copy(),
        col_lo=np.r_[lo, np.zeros(npair)],
        col_hi=np.r_[hi, np.full(npair, np.inf)],
        integer=np.ones(ncol, dtype=bool),
    )
    return _Model(matrix, m, f, lo, hi, pj, pc, len(groups), comp_goals)


def _ties(potential: FloatArray) -> FloatArray:
    """Tie-breaking cost per unit: more potential (then earlier in the file) takes the odd unit."""
    m = len(potential)
    order = np.lexsort((np.arange(m), -potential))
    rank = np.empty(m)
    rank[order] = np.arange(m)
    return TIE_WEIGHT * (rank + 1) / (m + 1)


def _solve_qp(
    backend: Backend, model: _Model, lo: FloatArray, hi: FloatArray, ties: FloatArray
) -> BackendResult:
    """The continuous optimum of sum (x - f)^2 / f over the goal rows and bounds (HiGHS QP):
    the centre of the MIP's window (components are left to the MIP)."""
    mm = model.matrix
    m = model.m
    qp = MatrixModel(
        c=-2.0 + ties,
        A=mm.A[: model.n_groups, :m].tocsc(),
        row_lo=mm.row_lo[: model.n_groups],
        row_hi=mm.row_hi[: model.n_groups],
        col_lo=lo,
        col_hi=hi,
        integer=np.zeros(m, dtype=bool),
        offset=float(model.f.sum()),
    )
    return backend.solve_qp(qp, 2.0 / model.f)


def _epigraph(model: _Model, wlo: FloatArray, whi: FloatArray, ties: FloatArray) -> MatrixModel:
    """The MIP: x_j in [wlo, whi] and e_j >= every chord of (x - f)^2 / f on that window."""
    mm = model.matrix
    m, f = model.m, model.f
    ncol0 = mm.shape[1]
    counts = (whi - wlo).astype(np.int64)  # chords per territory
    j = np.repeat(np.arange(m), counts)
    a = wlo[j] + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))

    def fval(jj: NDArray[np.int64], aa: FloatArray) -> FloatArray:
        return (aa - f[jj]) ** 2 / f[jj]

    slope = fval(j, a + 1) - fval(j, a)
    rhs = fval(j, a) - slope * a
    nrow = len(j)
    k = np.arange(nrow)
    chords = sp.csr_matrix(
        (np.r_[np.ones(nrow), -slope], (np.r_[k, k], np.r_[ncol0 + j, j])), (nrow, ncol0 + m)
    )
    A = sp.vstack([sp.hstack([mm.A, sp.csc_matrix((mm.shape[0], m))]), chords], format="csc")
    e_lo = np.where(counts == 0, fval(np.arange(m), wlo), 0.0)
    c = np.r_[mm.c, np.ones(m)]
    c[:m] += ties
    return MatrixModel(
        c=c,
        A=A,
        row_lo=np.r_[mm.row_lo, rhs],
        row_hi=np.r_[mm.row_hi, np.full(nrow, np.inf)],
        col_lo=np.r_[wlo, mm.col_lo[m:], e_lo],
        col_hi=np.r_[whi, mm.col_hi[m:], np.full(m, np.inf)],
        integer=np.r_[mm.integer, np.zeros(m, dtype=bool)],
    )


def _ranges(
    backend: Backend, model: _Model, lo: FloatArray, hi: FloatArray, fixed: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray] | None:
    """Least and most of each x_j over the LP relaxation (warm-started re-solves); None when
    the relaxation is infeasible."""
    mm = model.matrix
    m = model.m
    lp = dataclasses.replace(
        mm,
        col_lo=np.r_[lo, mm.col_lo[m:]],
        col_hi=np.r_[hi, mm.col_hi[m:]],
        integer=np.zeros_like(mm.integer),
    )
    return backend.column_ranges(lp, m, released=fixed, released_lo=model.lo, released_hi=model.hi)


# ---------------------------------------------------------------------------------------------
# the result


@dataclass(eq=False)
class Proposal:
    """A quota proposal. ``status`` is always set: ``optimal``, ``infeasible`` or ``no_solution``.

    ``quotas`` has one row per territory (the columns of quotas.csv), ``regions`` the region
    roll-up with a total line, ``diff`` the change against the previous version (from version 2).
    """

    status: str
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

    @property
    def has_quotas(self) -> bool:
        return self.quotas is not None and self.status in ("optimal", "feasible")

    def raise_for_status(self) -> Proposal:
        """Return the proposal when it holds quotas; raise InfeasibleError or NoSolutionError."""
        if self.status == "infeasible":
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
        frame = pd.read_csv(p, dtype=text, keep_default_na=False, na_values=[""])  # type: ignore[arg-type]
        if "reason" in frame:
            frame["reason"] = frame["reason"].fillna("").astype(str)
        if "binding" in frame:
            frame["binding"] = frame["binding"].fillna("").astype(str)
        return frame

    tables = {key: table(f"{key}.csv") for key in ("quotas", "regions", "diff")}
    proposal = Proposal.from_dict({**data, **tables})
    proposal.path = folder
    return proposal


# ---------------------------------------------------------------------------------------------
# proposing


def _normalise_overrides(
    overrides: Mapping[str, float] | Sequence[Mapping[str, Any]] | None,
) -> list[dict[str, Any]]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [{"territory_id": str(t), "quota": float(q), "reason": ""}
                for t, q in overrides.items()]  # fmt: skip
    return [
        {"territory_id": str(o["territory_id"]), "quota": float(o["quota"]),
         "reason": str(o.get("reason") or "")}
        for o in overrides
    ]  # fmt: skip


def _unit_multiple(value: float, unit: float) -> bool:
    k = value / unit
    return abs(k - round(k)) <= 1e-9 * max(1.0, abs(k))


def _not_multiple(what: str, value: float, unit: float) -> str:
    below = math.floor(value / unit) * unit
    return (
        f"{what} {_money(value)} is not a multiple of the rounding unit quota.unit = "
        f"{_money(unit)}; use {_money(below)} or {_money(below + unit)}, or set quota.unit to a "
        "divisor of it"
    )


def propose_quotas(
    run: Run,
    *,
    goal: float,
    settings: QuotaSettings | Mapping[str, Any] | None = None,
    overrides: Mapping[str, float] | Sequence[Mapping[str, Any]] | None = None,
    region_goals: Mapping[str, float] | str | Path | None = None,
    scenario: Scenario | None = None,
) -> Proposal:
    """Set one quota per territory of ``run`` so that they sum to ``goal``.

    Parameters
    ----------
    run
        A run holding a plan; its scenario (``run.scenario_path``) gives potential, revenue,
        regions, segments and period columns.
    goal
        The company goal, a multiple of ``quota.unit``.
    settings
        ``[quota]`` settings; default: the scenario's (scenario.toml and its preset).
    overrides
        ``{territory_id: quota}`` or ``[{"territory_id", "quota", "reason"}]``: quotas held fixed.
    region_goals
        ``{region: goal}`` or a CSV path (region, goal); default ``quota.region_goals``.
    scenario
        The run's scenario, when already loaded.

    Returns
    -------
    Proposal
        ``status`` ``optimal`` with the quotas, or ``infeasible`` with the reasons.

    Raises
    ------
    ScenarioError
        For invalid input: a goal off the unit grid, an unknown territory or region, region or
        component goals that do not add up, a run without a plan.
    """
    scenario = _scenario_of_run(run, scenario)
    if settings is None:
        qs = scenario.settings.quota
    elif isinstance(settings, QuotaSettings):
        qs = settings
    else:
        qs = Settings.model_validate({"quota": dict(settings)}).quota
    unit = qs.unit
    goal = float(goal)
    if not math.isfinite(goal) or goal <= 0:
        raise ScenarioError(f"goal must be a positive amount (got {goal!r})")
    if not _unit_multiple(goal, unit):
        raise ScenarioError(_not_multiple("goal", goal, unit))
    inp = _inputs(run, scenario, qs)
    m = len(inp.ids)
    ovr = _normalise_overrides(overrides)
    problems: list[str] = []
    for o in ovr:
        t, q = o["territory_id"], o["quota"]
        if t not in inp.ids:
            problems.append(
                f"override {t}={_money(q)}: '{t}' is not a territory_id{suggest(t, inp.ids)}"
            )
        elif not _unit_multiple(q, unit):
            problems.append(_not_multiple(f"override {t}=", q, unit).replace("= ", "=", 1))
    rg = _read_region_goals(region_goals, qs, scenario)
    regions = sorted(set(inp.region))
    if rg:
        for r, g in rg.items():
            if r not in regions:
                problems.append(
                    f"region goals: region '{r}' is not a region of territories.csv"
                    f"{suggest(r, regions)}; regions: {', '.join(regions)}"
                )
            elif not _unit_multiple(g, unit):
                problems.append(_not_multiple(f"region goal {r}", g, unit))
        missing = [r for r in regions if r not in rg]
        problems += [f"region goals: region '{r}' has territories but no goal; add it"
                     for r in missing]  # fmt: skip
        total = sum(rg.values())
        if abs(total - goal) > 1e-6 * max(goal, 1.0):
            problems.append(
                f"region goals sum to {_money(total)}, the goal is {_money(goal)}; make them "
                "sum to the goal"
            )
    comp_goals = None
    if inp.comp_names:
        cg = qs.components.goals
        comp_goals = np.array([cg[c] for c in inp.comp_names], dtype=float)
        for c in inp.comp_names:
            if cg[c] < 0:
                problems.append(f"component goal {c} must be >= 0 (got {_money(cg[c])})")
            elif not _unit_multiple(cg[c], unit):
                problems.append(_not_multiple(f"component goal {c}", cg[c], unit))
        if abs(comp_goals.sum() - goal) > 1e-6 * max(goal, 1.0):
            problems.append(
                f"component goals sum to {_money(comp_goals.sum())}, the goal is "
                f"{_money(goal)}; make quota.components.goals sum to the goal"
            )
    if problems:
        raise ScenarioError(problems)

    # fair share per group
    if rg:
        groups = [(np.flatnonzero(inp.region == r), rg[r]) for r in regions]
    else:
        groups = [(np.arange(m), goal)]
    fair = _fair_shares(inp, qs, groups)
    lo, hi, lo_rule, hi_rule = _rule_bounds(inp, qs, goal)
    problems = []
    for j in map(int, np.flatnonzero(lo > hi)):
        problems.append(
            f"territory {inp.ids[j]}: its {_rule_name(lo_rule[j], qs)} ({_money(lo[j] * unit)}) "
            f"is above its {_rule_name(hi_rule[j], qs)} ({_money(hi[j] * unit)}); "
            f"loosen one of them"
        )
    fixed = np.zeros(m, dtype=bool)
    xlo, xhi = lo.copy(), hi.copy()
    by_tid = {t: k for k, t in enumerate(inp.ids)}
    for o in ovr:
        j = by_tid[o["territory_id"]]
        x = round(o["quota"] / unit)
        if not lo[j] <= x <= hi[j]:
            problems.append(
                f"override {inp.ids[j]}={_money(o['quota'])} is outside what the rules allow "
                f"for it ({_money(lo[j] * unit)} to {_money(hi[j] * unit)})"
            )
        xlo[j] = xhi[j] = x
        fixed[j] = True
    base = Proposal(
        status="infeasible",
        goal=goal,
        settings=qs,
        run=str(Path(run.path).resolve()) if run.path else None,
        overrides=ovr,
        region_goals=rg,
        periods=inp.period_labels,
        components=inp.comp_names,
    )
    if problems:
        base.reasons = problems
        return base
    problems = _capacity_problems(
        inp, qs, groups, xlo, xhi, lo_rule, hi_rule, fixed, unit, bool(rg)
    )
    if problems:
        base.reasons = problems
        return base
    f_units = np.maximum(fair / unit, 0.5)
    model = _build(
        inp,
        f=f_units,
        lo=lo,
        hi=hi,
        groups=[(members, g / unit) for members, g in groups],
        comp_goals=None if comp_goals is None else comp_goals / unit,
    )
    backend = HighsBackend()
    ties = _ties(inp.potential)
    ranges = _ranges(backend, model, xlo, xhi, fixed)
    if ranges is None:  # the LP relaxation is infeasible: so is the MIP
        base.reasons = [_component_reason(inp, comp_goals, unit)]
        return base
    low, high = ranges
    qp = _solve_qp(backend, model, xlo, xhi, ties)
    sol = None
    if qp.x is not None:
        limit = scenario.settings.solver.time_limit_s
        sol = _solve_mip(backend, model, qp.x[:m], xlo, xhi, ties, limit)
    if sol is None:
        base.status = "no_solution"
        base.message = (
            "the quota MIP found no solution within solver.time_limit_s and its window "
            f"(QP status {qp.status}); raise solver.time_limit_s"
        )
        return base
    return _finish(base, inp, model, sol, fair, low, high, xlo, xhi, lo_rule, hi_rule, fixed, qs)


def _fair_shares(
    inp: _Inputs, qs: QuotaSettings, groups: list[tuple[NDArray[np.int64], float]]
) -> FloatArray:
    """Each group's goal split by the blend of potential, history and even shares."""
    fair = np.zeros(len(inp.ids))
    w = np.array([qs.blend.potential, qs.blend.history, qs.blend.even], dtype=float)
    if w.sum() <= 0:
        raise ScenarioError(
            "settings keys 'quota.blend.*': the weights are all 0; give potential, history or "
            "even a positive weight"
        )
    for members, g in groups:
        P, R = inp.potential[members], inp.revenue[members]
        wp, wh, we = w / w.sum()
        if R.sum() <= 0:
            wp, wh = wp + wh, 0.0
        if P.sum() <= 0:
            we, wp = we + wp, 0.0
        share = we / len(members) + (wp * P / P.sum() if wp else 0.0)
        share = share + (wh * R / R.sum() if wh else 0.0)
        fair[members] = g * share
    return fair


def _rule_bounds(
    inp: _Inputs, qs: QuotaSettings, goal: float
) -> tuple[FloatArray, FloatArray, NDArray[np.object_], NDArray[np.object_]]:
    """Least and most quota of each territory in units, and the rule that sets each."""
    m, unit = len(inp.ids), qs.unit
    lo_raw = np.full(m, qs.floor)
    hi_raw = np.full(m, qs.ceiling if qs.ceiling is not None else np.inf)
    lo_rule = np.array(["floor"] * m, dtype=object)
    hi_rule = np.array(["ceiling"] * m, dtype=object)
    has_rev = inp.revenue > 0  # territories without revenue have no growth caps
    if qs.min_growth is not None:
        g_lo = inp.revenue * (1 + qs.min_growth)
        use = has_rev & (g_lo > lo_raw)
        lo_raw[use], lo_rule[use] = g_lo[use], "min_growth"
    if qs.max_growth is not None:
        g_hi = inp.revenue * (1 + qs.max_growth)
        use = has_rev & (g_hi < hi_raw)
        hi_raw[use], hi_rule[use] = g_hi[use], "max_growth"
    lo = np.ceil(lo_raw / unit - 1e-9)
    hi = np.floor(np.where(np.isfinite(hi_raw), hi_raw / unit + 1e-9, goal / unit))
    return lo, np.minimum(hi, goal / unit), lo_rule, hi_rule


def _rule_name(rule: str, qs: QuotaSettings) -> str:
    return {
        "floor": f"floor (quota.floor = {_money(qs.floor)})",
        "ceiling": "ceiling (quota.ceiling)",
        "min_growth": f"minimum growth ({_pct(qs.min_growth or 0.0)})",
        "max_growth": f"maximum growth ({_pct(qs.max_growth or 0.0)})",
    }[rule]


def _capacity_problems(
    inp: _Inputs,
    qs: QuotaSettings,
    groups: list[tuple[NDArray[np.int64], float]],
    xlo: FloatArray,
    xhi: FloatArray,
    lo_rule: NDArray[np.object_],
    hi_rule: NDArray[np.object_],
    fixed: NDArray[np.bool_],
    unit: float,
    regional: bool,
) -> list[str]:
    """A goal above what the caps allow or below what the floors require, with the numbers."""
    out = []
    for members, g in groups:
        label = f"region {inp.region[members[0]]}: goal" if regional else "goal"
        most, least = xhi[members].sum() * unit, xlo[members].sum() * unit
        if g > most + 1e-6:
            free = members[~fixed[members]]
            fixes = []
            if (hi_rule[free] == "max_growth").any():
                fixes.append(f"raise quota.max_growth (now {_pct(qs.max_growth or 0.0)})")
            if (hi_rule[free] == "ceiling").any() and qs.ceiling is not None:
                fixes.append(f"raise quota.ceiling (now {_money(qs.ceiling)})")
            fix = " or ".join(fixes) or "release an override"
            names = [inp.ids[j] for j in free]
            held = (
                f"all {len(names)} territories" if len(names) == len(inp.ids) and len(names) > 5
                else ", ".join(names)
            )  # fmt: skip
            out.append(
                f"{label} {_money(g)} is above the most the caps allow ({_money(most)}); "
                f"{fix} for {held}"
                + (
                    f" (overridden: {', '.join(inp.ids[j] for j in members[fixed[members]])})"
                    if fixed[members].any()
                    else ""
                )  # fmt: skip
            )
        elif g < least - 1e-6:
            out.append(
                f"{label} {_money(g)} is below the least the floors require ({_money(least)}); "
                "lower quota.min_growth"
                + (f" (now {_pct(qs.min_growth)})" if qs.min_growth is not None else "")
                + f" or quota.floor (now {_money(qs.floor)})"
            )
    return out


def _component_reason(inp: _Inputs, comp_goals: FloatArray | None, unit: float) -> str:
    if comp_goals is None:
        return "the quota rules admit no proposal (goal, region goals and caps contradict)"
    goals = ", ".join(f"{c} {_money(g)}" for c, g in zip(inp.comp_names, comp_goals, strict=True))
    return (
        f"the component goals ({goals}) cannot be met within the caps: a component can only be "
        "placed in territories holding its potential; move goal between components or loosen "
        "quota.max_growth / quota.ceiling"
    )


def _solve_mip(
    backend: Backend,
    model: _Model,
    center: FloatArray,
    xlo: FloatArray,
    xhi: FloatArray,
    ties: FloatArray,
    time_limit: float,
) -> FloatArray | None:
    """The integer optimum: exact quadratic on a window around the QP optimum, widened while
    a window edge binds."""
    m = model.m
    width = 2.0
    for _ in range(6):
        wlo = np.maximum(xlo, np.floor(center + 1e-9) - width)
        whi = np.minimum(xhi, np.ceil(center - 1e-9) + width)
        mip = _epigraph(model, wlo, whi, ties)
        res = backend.solve(mip, time_limit=time_limit, gap=0.0, abs_gap=1e-9)
        if res.x is not None:
            x = np.round(res.x[:m])
            edge = ((x == wlo) & (wlo > xlo)) | ((x == whi) & (whi < xhi))
            if not edge.any():
                return np.r_[x, res.x[m:]]
            center = x
        width *= 4
    return None


def _finish(
    base: Proposal,
    inp: _Inputs,
    model: _Model,
    sol: FloatArray,
    fair: FloatArray,
    low: FloatArray,
    high: FloatArray,
    xlo: FloatArray,
    xhi: FloatArray,
    lo_rule: NDArray[np.object_],
    hi_rule: NDArray[np.object_],
    fixed: NDArray[np.bool_],
    qs: QuotaSettings,
) -> Proposal:
    unit = qs.unit
    x = sol[: model.m]
    quota = x * unit
    P, R = inp.potential, inp.revenue
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(R > 0, quota / R - 1.0, np.nan)
        q2p = np.where(P > 0, quota / P, np.nan)
    binding = []
    for j in range(len(x)):
        if fixed[j]:
            binding.append("override")
        elif x[j] >= xhi[j] and hi_rule[j] == "max_growth" and qs.max_growth is not None:
            binding.append(f"capped at {_pct(qs.max_growth)} growth")
        elif x[j] >= xhi[j] and hi_rule[j] == "ceiling" and qs.ceiling is not None:
            binding.append(f"at ceiling {_money(qs.ceiling)}")
        elif x[j] <= xlo[j] and lo_rule[j] == "min_growth" and qs.min_growth is not None:
            binding.append(f"held at {_pct(qs.min_growth)} growth")
        elif x[j] <= xlo[j] and qs.floor > 0:
            binding.append(f"at floor {_money(qs.floor)}")
        else:
            binding.append("")
    reasons = {o["territory_id"]: o["reason"] for o in base.overrides}
    q = pd.DataFrame(
        {
            "territory_id": inp.ids,
            "region": inp.region.astype(str),
            "potential": P,
            "revenue": R,
            "fair_share": np.round(fair, 2),
            "quota": quota,
            "growth": growth,
            "quota_to_potential": q2p,
            "binding": binding,
            "min_quota": np.ceil(low - _EPS) * unit + 0.0,  # + 0.0: no -0.0
            "max_quota": np.floor(high + _EPS) * unit + 0.0,
            "reason": [reasons.get(t, "") for t in inp.ids],
        }
    )
    if inp.comp_names:
        q = pd.concat([q, _components(inp, model, x, unit)], axis=1)
    if inp.period_labels:
        q = pd.concat([q, _periods(inp, x, qs, unit)], axis=1)
    base.status = "optimal"
    base.quotas = q
    base.regions = region_rollup(q, base.region_goals, goal=base.goal)
    base.kpis = fairness_kpis(q, alert=qs.potential_alert)
    base.objective = float(np.sum((quota - fair) ** 2 / np.maximum(fair, unit / 2)))
    return base


def _components(inp: _Inputs, model: _Model, x: FloatArray, unit: float) -> pd.DataFrame:
    """Split the quotas into components: proportional to each component's potential in the
    territory, scaled so that rows sum to the quotas and columns to the component goals
    (iterative proportional fitting), then the nearest split in whole units (a transportation
    problem: its LP has integral vertices, solved as a MIP all the same)."""
    assert inp.comp_potential is not None
    m, pj, pc = model.m, model.pj, model.pc
    C = len(inp.comp_names)
    assert model.comp_goals is not None
    goals = model.comp_goals
    cp = inp.comp_potential
    seed = np.where(cp[pj, pc] > 0, cp[pj, pc], goals[pc] / max(goals.sum(), 1e-12))
    y = seed.astype(float)
    for _ in range(1000):
        rows = np.bincount(pj, weights=y, minlength=m)
        y *= np.where(rows > 0, x / np.where(rows > 0, rows, 1.0), 0.0)[pj]
        cols = np.bincount(pc, weights=y, minlength=C)
        y *= np.where(cols > 0, goals / np.where(cols > 0, cols, 1.0), 0.0)[pc]
        if np.abs(np.bincount(pj, weights=y, minlength=m) - x).max() < 1e-9:
            break
    n = len(pj)
    k = np.arange(n)
    A = sp.vstack(
        [
            sp.csr_matrix((np.ones(n), (pj, k)), (m, 3 * n)),
            sp.csr_matrix((np.ones(n), (pc, k)), (C, 3 * n)),
            sp.csr_matrix(
                (
                    np.r_[np.ones(n), -np.ones(n), np.ones(n)],
                    (np.r_[k, k, k], np.r_[k, n + k, 2 * n + k]),
                ),
                (n, 3 * n),
            ),
        ],
        format="csc",
    )
    split = MatrixModel(
        c=np.r_[np.zeros(n), np.ones(2 * n)],
        A=A,
        row_lo=np.r_[x, goals, y],
        row_hi=np.r_[x, goals, y],
        col_lo=np.zeros(3 * n),
        col_hi=np.full(3 * n, np.inf),
        integer=np.r_[np.ones(n, dtype=bool), np.zeros(2 * n, dtype=bool)],
    )
    res = HighsBackend().solve(split, time_limit=60.0, gap=0.0, abs_gap=1e-9)
    if res.x is None:  # pragma: no cover - the quota model held these rows
        raise NoSolutionError("the component split of the quotas could not be found")
    table = np.zeros((m, C))
    np.add.at(table, (pj, pc), np.round(res.x[:n]))
    return pd.DataFrame(table * unit, columns=[f"component_{c}" for c in inp.comp_names])


def _periods(inp: _Inputs, x: FloatArray, qs: QuotaSettings, unit: float) -> pd.DataFrame:
    """Each quota split into periods by the territory's own seasonal profile (the company's when
    fewer than ``season_min_accounts`` accounts carry period history), in whole units summing
    exactly to the quota (largest remainders)."""
    assert inp.period_revenue is not None and inp.period_accounts is not None
    rev = inp.period_revenue
    company = rev.sum(axis=0)
    T = rev.shape[1]
    company = company / company.sum() if company.sum() > 0 else np.full(T, 1.0 / T)
    tot = rev.sum(axis=1, keepdims=True)
    own = (inp.period_accounts >= qs.season_min_accounts) & (tot[:, 0] > 0)
    profile = np.where(own[:, None], rev / np.where(tot > 0, tot, 1.0), company[None, :])
    exact = x[:, None] * profile
    base = np.floor(exact + 1e-9)
    left = (x - base.sum(axis=1)).astype(np.int64)
    frac = exact - base
    order = np.argsort(-frac, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(T)[None, :].repeat(len(x), axis=0), axis=1)
    units = base + (ranks < left[:, None])
    return pd.DataFrame(units * unit, columns=[f"period_{lab}" for lab in inp.period_labels])


def region_rollup(
    quotas: pd.DataFrame,
    region_goals: Mapping[str, float] | None = None,
    *,
    goal: float | None = None,
) -> pd.DataFrame:
    """One row per region and a ``total`` line: territories, potential, revenue, fair share,
    quota, goal (the region's, and the company's on the total line), growth, quota/potential
    and the component and period columns summed."""
    sums = ["potential", "revenue", "fair_share", "quota"]
    extra = [c for c in quotas.columns if c.startswith(("component_", "period_"))]
    g = quotas.groupby("region", sort=True)
    out = g[sums + extra].sum()
    out.insert(0, "territories", g.size())
    total = out.sum(numeric_only=True).to_frame("total").T
    out = pd.concat([out, total])
    out.index.name = "region"
    out = out.reset_index()
    goals = dict(region_goals or {})
    if goal is not None:
        goals["total"] = goal
    out.insert(6, "goal", [goals.get(r, np.nan) for r in out["region"]])
    with np.errstate(divide="ignore", invalid="ignore"):
        out.insert(
            7, "growth", np.where(out["revenue"] > 0, out["quota"] / out["revenue"] - 1, np.nan)
        )
        q2p = np.where(out["potential"] > 0, out["quota"] / out["potential"], np.nan)
        out.insert(8, "quota_to_potential", q2p)
    out["territories"] = out["territories"].astype(int)
    return out


def fairness_kpis(quotas: pd.DataFrame, *, alert: float = 0.8) -> dict[str, float]:
    """Fairness of a quota table: spread of quota/potential, territories above ``alert`` x
    potential, and the growth distribution over territories with revenue."""
    q2p = quotas["quota_to_potential"].to_numpy(dtype=float)
    q2p = q2p[np.isfinite(q2p)]
    growth = quotas["growth"].to_numpy(dtype=float)
    growth = growth[np.isfinite(growth)]
    mean = float(q2p.mean()) if len(q2p) else math.nan
    out: dict[str, float] = {
        "territories": float(len(quotas)),
        "quota": float(quotas["quota"].sum()),
        "quota_to_potential.mean": mean,
        "quota_to_potential.cv": float(q2p.std() / mean) if len(q2p) and mean > 0 else math.nan,
        "potential_alert": float(alert),
        "over_potential_alert": float((q2p > alert + 1e-12).sum()),
        "binding": float((quotas["binding"].astype(str) != "").sum()),
    }
    for name, v in (("min", 0), ("p25", 25), ("median", 50), ("p75", 75), ("max", 100)):
        out[f"growth.{name}"] = float(np.percentile(growth, v)) if len(growth) else math.nan
    out["growth.mean"] = float(growth.mean()) if len(growth) else math.nan
    return out


# ---------------------------------------------------------------------------------------------
# negotiation


def _proposal_run(proposal: Proposal, run: Run | None) -> Run:
    if run is not None:
        return run
    if not proposal.run:
        raise ScenarioError(
            f"proposal {proposal.path}: it does not name its run folder; pass run= (the run it "
            "was proposed on)"
        )
    return load_run(proposal.run)


def override_quotas(
    proposal: Proposal,
    overrides: Mapping[str, float],
    *,
    reason: str | Mapping[str, str] = "",
    run: Run | None = None,
    scenario: Scenario | None = None,
) -> Proposal:
    """Hold some quotas fixed and rebalance the others under the same rules: the next version.

    Earlier overrides are kept (an override of the same territory replaces it). Each override must
    lie in its negotiation range (``min_quota`` to ``max_quota`` of ``proposal``).

    Raises
    ------
    ScenarioError
        An unknown territory, a quota off the unit grid or outside its negotiation range.
    """
    proposal.raise_for_status()
    assert proposal.quotas is not None
    table = proposal.quotas.set_index(proposal.quotas["territory_id"].astype(str))
    ids = list(table.index)
    unit = proposal.settings.unit
    problems = []
    for t, q in overrides.items():
        q = float(q)
        if t not in table.index:
            problems.append(f"override {t}={_money(q)}: '{t}' is not a territory_id"
                            f"{suggest(t, ids)}")  # fmt: skip
            continue
        if not _unit_multiple(q, unit):
            problems.append(_not_multiple(f"override {t}=", q, unit).replace("= ", "=", 1))
            continue
        lo, hi = float(table.at[t, "min_quota"]), float(table.at[t, "max_quota"])
        if not lo - 1e-6 <= q <= hi + 1e-6:
            problems.append(
                f"override {t}={_money(q)} is outside its negotiation range {_money(lo)} to "
                f"{_money(hi)} (the other rules and the goal hold only within it); choose a "
                "quota in the range"
            )
    if problems:
        raise ScenarioError(problems)
    why = reason if isinstance(reason, Mapping) else {t: reason for t in overrides}
    merged = {o["territory_id"]: dict(o) for o in proposal.overrides}
    for t, q in overrides.items():
        merged[t] = {"territory_id": t, "quota": float(q), "reason": str(why.get(t, ""))}
    new = propose_quotas(
        _proposal_run(proposal, run),
        goal=proposal.goal,
        settings=proposal.settings,
        overrides=list(merged.values()),
        region_goals=proposal.region_goals or None,
        scenario=scenario,
    )
    return _next_version(proposal, new)


def _next_version(previous: Proposal, new: Proposal) -> Proposal:
    new.version = previous.version + 1
    new.parent = str(Path(previous.path).resolve()) if previous.path else None
    if new.has_quotas and previous.quotas is not None:
        assert new.quotas is not None
        new.diff = quota_diff(previous.quotas, new.quotas)
    return new


def quota_diff(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Territories whose quota changed (or that carry an override reason): who moved how much."""
    prev = previous.set_index(previous["territory_id"].astype(str))["quota"]
    cur = current.set_index(current["territory_id"].astype(str))
    before = cur.index.map(prev).to_numpy(dtype=float)
    before = np.nan_to_num(before)
    change = cur["quota"].to_numpy(dtype=float) - before
    reason = cur["reason"].fillna("").astype(str).to_numpy()
    keep = (np.abs(change) > 1e-9) | (cur["binding"].to_numpy() == "override") & (reason != "")
    out = pd.DataFrame(
        {
            "territory_id": cur.index.to_numpy()[keep],
            "previous_quota": before[keep],
            "quota": cur["quota"].to_numpy(dtype=float)[keep],
            "change": change[keep],
            "reason": reason[keep],
        }
    )
    return out


def adjust_run(run: Run, moves: Mapping[str, str], *, scenario: Scenario | None = None) -> Run:
    """Move accounts by hand and re-solve: the moved accounts are locked to their new territory
    and the rest changes as little as possible against ``run``.

    The run's own settings are kept, with a disruption term that outweighs any travel a move
    could save: the disruption measure is the travel weight column (``accounts`` when travel is
    unweighted) and ``objective.disruption`` is twice the largest possible distance (to the
    power ``distance_power``) times ``objective.travel``. Balance bands and caps still hold, so
    accounts move only where the hand moves force it.
    """
    from .model import solve

    scenario = _scenario_of_run(run, scenario)
    settings = Settings.model_validate(run.settings) if run.settings else scenario.settings
    obj = settings.objective
    measure = obj.travel_weight if obj.travel_weight != "none" else "accounts"
    span = _max_distance(scenario)
    weight = max(2.0 * span**obj.distance_power * max(obj.travel, 1e-9), 1.0)
    settings = settings.model_copy(
        update={
            "objective": obj.model_copy(
                update={"disruption": weight, "disruption_measure": measure}
            )
        }
    )
    cont = continue_from(dataclasses.replace(scenario, settings=settings), run, moves=moves)
    new = solve(cont.scenario)
    new.parent = str(Path(run.path).resolve()) if run.path else ""
    return new


def _max_distance(scenario: Scenario) -> float:
    """An upper bound on any account-territory distance (given distances or the bounding box)."""
    from .geo import point_distance

    far = 0.0
    if scenario.distances is not None and len(scenario.distances):
        far = float(scenario.distances["distance"].max())
    kind = scenario.coord_kind
    if kind is not None:
        cols = ["lat", "lon"] if kind == "latlon" else ["x", "y"]
        pts = [scenario.accounts[cols].to_numpy(dtype=float)]
        if all(c in scenario.territories for c in cols):
            pts.append(scenario.territories[cols].dropna().to_numpy(dtype=float))
        allp = np.vstack(pts)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        far = max(far, float(point_distance(kind, lo[None, :], hi[None, :])[0]))
        if kind == "latlon":
            far = max(far, float(point_distance(kind, np.array([[lo[0], hi[1]]]),
                                                np.array([[hi[0], lo[1]]]))[0]))  # fmt: skip
    return far


def _scenario_of_run(run: Run, scenario: Scenario | None) -> Scenario:
    """``scenario``, or the scenario folder the run names."""
    if scenario is not None:
        return scenario
    if not run.scenario_path:
        raise ScenarioError(
            f"run {run.path or run.scenario}: it does not name its scenario folder; pass "
            "scenario= (the scenario it was solved from)"
        )
    return load_scenario(run.scenario_path)


def stale_overrides(
    proposal: Proposal, run: Run, *, scenario: Scenario | None = None
) -> list[dict[str, Any]]:
    """The overrides of ``proposal`` that lie outside what the rules allow for their territory
    on ``run`` (its growth caps, floor and ceiling move with the accounts it now owns): each
    override with ``min_quota`` and ``max_quota``, the range the rules now allow."""
    if not proposal.overrides:
        return []
    qs = proposal.settings
    inp = _inputs(run, _scenario_of_run(run, scenario), qs)
    lo, hi, _, _ = _rule_bounds(inp, qs, proposal.goal)
    by_tid = {t: k for k, t in enumerate(inp.ids)}
    out = []
    for o in proposal.overrides:
        j = by_tid.get(str(o["territory_id"]))
        if j is None:
            continue  # an unknown territory is reported by propose_quotas
        if not lo[j] <= round(o["quota"] / qs.unit) <= hi[j]:
            lo_q, hi_q = float(lo[j] * qs.unit) + 0.0, float(hi[j] * qs.unit)  # no -0
            out.append({**o, "min_quota": lo_q, "max_quota": hi_q})
    return out


def describe_stale(o: Mapping[str, Any]) -> str:
    """One line on an override that left its range."""
    hi = "no most" if not math.isfinite(o["max_quota"]) else _money(o["max_quota"])
    return (
        f"override {o['territory_id']}={_money(o['quota'])} is outside what the rules now allow "
        f"for it ({_money(o['min_quota'])} to {hi})"
    )


STALE_CHOICES = ("keep", "drop", "restate")


def carry_proposal(
    proposal: Proposal,
    run: Run,
    *,
    scenario: Scenario | None = None,
    stale: Literal["keep", "drop", "restate"] = "keep",
) -> Proposal:
    """Re-propose on another run (e.g. after :func:`adjust_run`) with the same goal, settings,
    region goals and overrides: the next version of ``proposal``.

    An override may leave its range on the new run (a territory that lost accounts has less
    revenue, so its growth cap allows less). ``stale`` says what to do with such overrides:
    ``keep`` them (the proposal is then infeasible, its reasons name them), ``drop`` them, or
    ``restate`` them at the nearest end of the range the rules now allow. What was dropped or
    restated is said in the new proposal's ``message``.
    """
    if stale not in STALE_CHOICES:
        raise ScenarioError(f"stale={stale!r}: choose one of {', '.join(STALE_CHOICES)}")
    overrides = [dict(o) for o in proposal.overrides]
    notes = []
    if stale != "keep":
        scenario = _scenario_of_run(run, scenario)
        bad = {str(o["territory_id"]): o for o in stale_overrides(proposal, run, scenario=scenario)}
        kept = []
        for o in overrides:
            b = bad.get(str(o["territory_id"]))
            if b is None:
                kept.append(o)
            elif stale == "drop":
                notes.append(f"dropped {describe_stale(b)}")
            else:
                unit = proposal.settings.unit
                q = min(max(o["quota"], b["min_quota"]), b["max_quota"])
                q = round(q / unit) * unit
                why = f"restated from {_money(o['quota'])}"
                reason = f"{o.get('reason')}; {why}" if o.get("reason") else why
                kept.append({**o, "quota": float(q), "reason": reason})
                notes.append(f"restated {describe_stale(b)} at {_money(q)}")
        overrides = kept
    new = propose_quotas(
        run,
        goal=proposal.goal,
        settings=proposal.settings,
        overrides=overrides,
        region_goals=proposal.region_goals or None,
        scenario=scenario,
    )
    if notes:
        new.message = "; ".join(notes) + (f"; {new.message}" if new.message else "")
    return _next_version(proposal, new)
