"""Why the rules admit no plan: quick pre-checks first, then an elastic re-solve."""

from __future__ import annotations

import numpy as np

from .backends import Backend
from .formulation import Problem, Resource, build_model


def _fmt(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.4g}"


def _rule(r: Resource, j: int) -> str:
    if r.kind == "capacity":
        return f"its capacity is {_fmt(r.target[j])}"
    return (
        f"its {r.name} band allows at most {_fmt(r.hi[j] * r.scale)} "
        f"(target {_fmt(r.target[j])} +{r.tolerance:.1%})"
    )


def quick_checks(problem: Problem) -> list[str]:
    """Contradictions that can be seen without solving, in the user's terms."""
    sc = problem.scenario
    ids, tids = sc.account_ids, sc.territory_ids
    reasons: list[str] = []
    table = sc.eligible
    codes = sc.segment_code
    fixed = problem.fixed
    held = fixed >= 0
    seg = sc.accounts["segment"] if "segment" in sc.accounts else None
    if table is not None:
        for code in np.flatnonzero(~table.any(axis=1)):
            members = np.flatnonzero(codes == code)
            if not len(members):
                continue
            label = seg.iloc[members[0]] if seg is not None else None
            what = f"segment {label!r}" if label is not None else "accounts without a segment"
            reasons.append(
                f"{what}: no territory serves it ({len(members):,} accounts, e.g. "
                f"{ids[members[0]]}); add it to a territory's segments, or leave one "
                "territory's segments empty"
            )
        lock_bad = np.flatnonzero(held & ~table[codes, np.maximum(fixed, 0)])
        for i in lock_bad[:5]:
            spec = sc.territories["segments"].iloc[fixed[i]]
            reasons.append(
                f"account {ids[i]} (segment {seg.iloc[i] if seg is not None else None!r}) is "
                f"locked to {tids[fixed[i]]}, which serves only {spec}"
            )
    elig_code = table if table is not None else np.ones((codes.max() + 1, problem.m), bool)
    for r in problem.resources:
        if r.group is not None:
            continue  # region bands: the elastic re-solve names them
        load = np.bincount(fixed[held], weights=r.values[held], minlength=problem.m)
        for j in np.flatnonzero(load > r.hi * (1 + 1e-9) + 1e-12):
            reasons.append(
                f"territory {tids[j]}: locked accounts carry {_fmt(load[j] * r.scale)} "
                f"{r.name}, {_rule(r, int(j))}"
            )
        hi_code = np.where(elig_code, r.hi[None, :], -np.inf).max(axis=1)
        cap_i = np.where(held, r.hi[np.maximum(fixed, 0)], hi_code[codes])
        big = np.flatnonzero(r.values > cap_i * (1 + 1e-9) + 1e-12)
        for i in big[:5]:
            reasons.append(
                f"account {ids[i]}: {r.name} {_fmt(r.values[i] * r.scale)} is larger than the "
                f"upper limit of every territory it may join (at most {_fmt(cap_i[i] * r.scale)})"
            )
        if len(big) > 5:
            reasons.append(f"{len(big) - 5:,} more accounts are too large for any territory")
        total = r.values.sum()
        if np.isfinite(r.hi).all() and r.hi.sum() < total * (1 - 1e-9):
            word = "capacities" if r.kind == "capacity" else f"{r.name} upper limits"
            reasons.append(
                f"the {word} add up to {_fmt(r.hi.sum() * r.scale)} but the accounts carry "
                f"{_fmt(total * r.scale)} {r.name}"
            )
        free = ~held
        per_code = np.bincount(codes[free], weights=r.values[free], minlength=elig_code.shape[0])
        supply = elig_code.T.astype(float) @ per_code + load
        for j in np.flatnonzero(supply < r.lo * (1 - 1e-9) - 1e-12):
            spec = ""
            if "segments" in sc.territories and sc.territories["segments"].iloc[j]:
                spec = f" (serves {sc.territories['segments'].iloc[j]})"
            reasons.append(
                f"territory {tids[j]}{spec}: the accounts it may take carry "
                f"{_fmt(supply[j] * r.scale)} {r.name}, its band needs at least "
                f"{_fmt(r.lo[j] * r.scale)} (target {_fmt(r.target[j])} -{r.tolerance:.1%})"
            )
    if problem.moved_min_kept is not None:
        cur = problem.current
        has = cur >= 0
        stay_ok = np.zeros(problem.n, bool)
        stay_ok[has] = elig_code[codes[has], cur[has]]
        forced = has & ~stay_ok
        share = 1 - problem.moved_min_kept
        carried = problem.measure[forced].sum() / problem.moved_scale
        if carried > share * (1 + 1e-9) + 1e-12:
            reasons.append(
                f"{int(forced.sum()):,} accounts must leave their current territory (it does "
                f"not serve their segment): they carry {carried:.1%} of the disruption measure, "
                f"constraints.max_moved_share allows {share:.1%}"
            )
    return reasons


def elastic_reasons(
    problem: Problem, backend: Backend, *, time_limit: float, seed: int
) -> list[str]:
    """Re-solve with slack on every band, capacity and the moved cap; name what must give."""
    pi, pj = problem.all_pairs()
    model, layout = build_model(problem, pi, pj, integer=True, elastic=True)
    res = backend.solve(model, time_limit=time_limit, gap=1e-6, seed=seed)
    if res.x is None:
        if res.status == "infeasible":
            return ["every account needs a territory it may join, and no assignment exists"]
        return [
            "no plan satisfies every rule, and the check of which rule must give ran out of "
            "time; widen the balance tolerances or raise capacities and try again"
        ]
    tids = problem.scenario.territory_ids
    reasons: list[str] = []
    for kind, k, j, col in layout.elastic_cols:
        v = res.x[col]
        if v <= 1e-7:
            continue
        if kind == "moved":
            share = 1 - problem.moved_min_kept + v  # type: ignore[operator]
            reasons.append(
                f"constraints.max_moved_share must rise to at least {share:.1%} "
                f"(it is {1 - problem.moved_min_kept:.1%})"  # type: ignore[operator]
            )
            continue
        r = problem.resources[k]
        amount = v * r.scale
        if r.kind == "capacity":
            reasons.append(
                f"territory {tids[j]}: workload exceeds its capacity {_fmt(r.target[j])} by "
                f"{_fmt(amount)}; the capacity must rise to {_fmt(r.target[j] + amount)}"
            )
            continue
        if kind == "under":
            limit = r.lo[j] * r.scale - amount
            need = 1 - limit / r.target[j]
            side = f"short of its lower limit {_fmt(r.lo[j] * r.scale)} by {_fmt(amount)}"
        else:
            limit = r.hi[j] * r.scale + amount
            need = limit / r.target[j] - 1
            side = f"over its upper limit {_fmt(r.hi[j] * r.scale)} by {_fmt(amount)}"
        where, key = f"territory {tids[j]}", "balance"
        if r.group is not None and r.labels is not None:
            where, key = f"region {r.labels[j]}", "balance_regions"
        reasons.append(
            f"{where}: {r.name} is {side} in the closest plan; "
            f"{key}.{r.name}.tolerance would have to be at least {need:.2%} "
            f"(it is {r.tolerance:.2%})"
        )
    if not reasons:
        reasons.append("no plan was found although no rule had to give; try a longer time limit")
    return reasons
