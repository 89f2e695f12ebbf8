"""Proposing quotas: fair shares, rule bounds, the model solved, the reason per territory,
region roll-ups and fairness KPIs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from ..engine.backends import HighsBackend
from ..engine.formulation import MatrixModel
from ..errors import NoSolutionError, ScenarioError
from ..io import scenario_of
from ..runs import Run
from ..scenario import Scenario
from ..settings import QuotaSettings, Settings
from ..status import Status
from ..validation import suggest
from .inputs import (
    _EPS,
    _Inputs,
    _inputs,
    _money,
    _pct,
    _read_region_goals,
)
from .model import _build, _Model, _ranges, _solve_mip, _solve_qp, _ties
from .proposal import Proposal

FloatArray = NDArray[np.float64]


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
    scenario = scenario_of(run, scenario)
    qs = _quota_settings(settings, scenario)
    unit = qs.unit
    goal = float(goal)
    if not math.isfinite(goal) or goal <= 0:
        raise ScenarioError(f"goal must be a positive amount (got {goal!r})")
    if not _unit_multiple(goal, unit):
        raise ScenarioError(_not_multiple("goal", goal, unit))
    inp = _inputs(run, scenario, qs)
    m = len(inp.ids)
    ovr = _normalise_overrides(overrides)
    rg = _read_region_goals(region_goals, qs, scenario)
    regions = sorted(set(inp.region))
    comp_goals = (
        np.array([qs.components.goals[c] for c in inp.comp_names], dtype=float)
        if inp.comp_names
        else None
    )
    problems = _override_problems(inp, ovr, unit) + _region_goal_problems(rg, regions, goal, unit)
    problems += _component_goal_problems(inp, qs, goal)
    if problems:
        raise ScenarioError(problems)

    # fair share per group: each region with its goal, or all territories with the goal
    whole = [(np.arange(m), goal)]
    groups = [(np.flatnonzero(inp.region == r), rg[r]) for r in regions] if rg else whole
    fair = _fair_shares(inp, qs, groups)
    lo, hi, lo_rule, hi_rule = _rule_bounds(inp, qs, goal)
    problems = [
        f"territory {inp.ids[j]}: its {_rule_name(lo_rule[j], qs)} ({_money(lo[j] * unit)}) "
        f"is above its {_rule_name(hi_rule[j], qs)} ({_money(hi[j] * unit)}); loosen one of them"
        for j in map(int, np.flatnonzero(lo > hi))
    ]
    xlo, xhi, fixed, held = _hold_overrides(inp, ovr, lo, hi, unit)
    problems += held
    base = Proposal(
        status=Status.INFEASIBLE,
        goal=goal,
        settings=qs,
        run=str(Path(run.path).resolve()) if run.path else None,
        overrides=ovr,
        region_goals=rg,
        periods=inp.period_labels,
        components=inp.comp_names,
    )
    if not problems:
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
        base.status = Status.NO_SOLUTION
        base.message = (
            "the quota MIP found no solution within solver.time_limit_s and its window "
            f"(QP status {qp.status}); raise solver.time_limit_s"
        )
        return base
    return _finish(base, inp, model, sol, fair, low, high, xlo, xhi, lo_rule, hi_rule, fixed, qs)


def _quota_settings(
    settings: QuotaSettings | Mapping[str, Any] | None, scenario: Scenario
) -> QuotaSettings:
    """The ``[quota]`` settings given, or the scenario's."""
    if settings is None:
        return scenario.settings.quota
    if isinstance(settings, QuotaSettings):
        return settings
    return Settings.model_validate({"quota": dict(settings)}).quota


def _override_problems(inp: _Inputs, ovr: list[dict[str, Any]], unit: float) -> list[str]:
    """Overrides of an unknown territory or off the unit grid."""
    problems = []
    for o in ovr:
        t, q = o["territory_id"], o["quota"]
        if t not in inp.ids:
            problems.append(
                f"override {t}={_money(q)}: '{t}' is not a territory_id{suggest(t, inp.ids)}"
            )
        elif not _unit_multiple(q, unit):
            problems.append(_not_multiple(f"override {t}=", q, unit).replace("= ", "=", 1))
    return problems


def _region_goal_problems(
    rg: Mapping[str, float], regions: list[str], goal: float, unit: float
) -> list[str]:
    """Region goals of unknown regions, off the grid, missing, or not summing to the goal."""
    if not rg:
        return []
    problems = []
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
    return problems


def _component_goal_problems(inp: _Inputs, qs: QuotaSettings, goal: float) -> list[str]:
    """Component goals below zero, off the grid, or not summing to the goal."""
    if not inp.comp_names:
        return []
    cg, unit = qs.components.goals, qs.unit
    problems = []
    for c in inp.comp_names:
        if cg[c] < 0:
            problems.append(f"component goal {c} must be >= 0 (got {_money(cg[c])})")
        elif not _unit_multiple(cg[c], unit):
            problems.append(_not_multiple(f"component goal {c}", cg[c], unit))
    total = float(np.array([cg[c] for c in inp.comp_names], dtype=float).sum())
    if abs(total - goal) > 1e-6 * max(goal, 1.0):
        problems.append(
            f"component goals sum to {_money(total)}, the goal is "
            f"{_money(goal)}; make quota.components.goals sum to the goal"
        )
    return problems


def _hold_overrides(
    inp: _Inputs, ovr: list[dict[str, Any]], lo: FloatArray, hi: FloatArray, unit: float
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_], list[str]]:
    """Bounds in units with each override held at its quota, which territories are held, and
    the overrides outside what the rules allow."""
    fixed = np.zeros(len(inp.ids), dtype=bool)
    xlo, xhi = lo.copy(), hi.copy()
    by_tid = {t: k for k, t in enumerate(inp.ids)}
    problems = []
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
    return xlo, xhi, fixed, problems


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
    base.status = Status.OPTIMAL
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
