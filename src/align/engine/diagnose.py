"""Why the rules admit no plan: quick pre-checks first, then an elastic re-solve.

The elastic re-solve asks, for each rule on its own (the moved share, each balance measure's
tolerance, the capacities), how far that one setting must move for a plan to exist with every
other rule kept. The smallest such change comes first: a share rises by points (tolerance, moved
share), a capacity by the share of itself it must grow.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..metrics import distance_unit
from ..status import Status
from .backends import Backend
from .formulation import MatrixModel, Problem, Resource, build_model


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
    reasons += _beyond_reach(problem, elig_code)
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


def _cover(value: np.ndarray, cost: np.ndarray, need: float) -> float:
    """Least cost of a share of items (fractions allowed, sorted cheapest per unit of value
    first) whose values reach ``need``; inf when they cannot."""
    return _cover_sums(np.cumsum(value), np.cumsum(cost), need)


def _cover_sums(cv: np.ndarray, cc: np.ndarray, need: float) -> float:
    """:func:`_cover` from the running sums of the items' values and costs."""
    q = int(np.searchsorted(cv, need))
    if q >= len(cv):
        return math.inf
    v0, c0 = (cv[q - 1], cc[q - 1]) if q else (0.0, 0.0)
    return float(c0 + (need - v0) / (cv[q] - v0) * (cc[q] - c0))


def least_moved_share(problem: Problem) -> float:
    """A lower bound on the share of the disruption measure any plan in band moves, worked out
    once per problem (the solve's stats, the tight-cap checks of the first plan, the transfer
    plan and the sifting, and the reasons all ask; ~65 ms at 100,000 x 200).

    Accounts locked away from today's territory move; every territory over a band's top must
    shed at least its excess, every territory under a band's bottom take in its shortfall. Each
    is a knapsack cover whose fractional solution (the cheapest measure per unit of value
    first) bounds it below; the moves out of different territories are different accounts, as
    are the moves into them, so either sum bounds the whole.
    """
    known = problem.__dict__.get(_LEAST_SLOT)
    if known is None:
        known = problem.__dict__[_LEAST_SLOT] = _least_moved_share(problem)
    return float(known)


_LEAST_SLOT = "_least_moved_share"  # a problem's least moved share, once worked out


def _least_moved_share(problem: Problem) -> float:
    """:func:`least_moved_share`, worked out."""
    cur, fixed, measure = problem.current, problem.fixed, problem.measure
    has = cur >= 0
    total = float(measure[has].sum())
    if total <= 0:
        return 0.0
    forced = has & (fixed >= 0) & (fixed != cur)
    where = np.where(forced, fixed, cur)  # today's plan, with the locked accounts moved
    m = problem.m
    out_need, in_need = np.zeros(m), np.zeros(m)
    everyone_placed = bool(has.all())
    for r in problem.resources:
        if r.group is not None:
            continue
        load = np.bincount(where[has], weights=r.values[has], minlength=m)
        free = np.flatnonzero(has & (fixed < 0) & (r.values > 0))
        per_value = measure[free] / r.values[free]
        order = free[np.lexsort((per_value, cur[free]))]  # by today's territory, cheapest first
        owner = cur[order]
        for j in np.flatnonzero(load > r.hi + 1e-12):
            mine = order[np.searchsorted(owner, j) : np.searchsorted(owner, j, side="right")]
            need = _cover(r.values[mine], measure[mine], load[j] - r.hi[j])
            out_need[j] = max(out_need[j], need)
        if not everyone_placed:
            continue  # accounts without an owner today can fill a territory without a move
        # moves into a territory: a cover from every movable account (its own among them: a
        # cover from more accounts costs no more, so the bound stays valid)
        anyone = free[np.argsort(per_value, kind="stable")]
        cv, cc = np.cumsum(r.values[anyone]), np.cumsum(measure[anyone])
        for j in np.flatnonzero(load < r.lo - 1e-12):
            in_need[j] = max(in_need[j], _cover_sums(cv, cc, r.lo[j] - load[j]))
    # a band no move can mend (the locked accounts alone break it) is named by the checks above
    out_need[~np.isfinite(out_need)] = 0.0
    in_need[~np.isfinite(in_need)] = 0.0
    moved = float(measure[forced].sum()) + max(float(out_need.sum()), float(in_need.sum()))
    return moved / total


@dataclass
class Change:
    """One setting that, changed alone, lets a plan exist."""

    size: float  # points of a share, or the relative rise of a capacity: smaller comes first
    text: str


def _up(share: float) -> float:
    """A share rounded up to 0.01%: the value shown must suffice, never fall just short."""
    return math.ceil(share * 10_000 - 1e-6) / 10_000


def _families(problem: Problem) -> list[tuple[str, int]]:
    fams = [("band", k) for k in range(len(problem.resources))]
    if problem.moved_min_kept is not None:
        fams.insert(0, ("moved", -1))
    return fams


def _alone(
    model: MatrixModel,
    cols: list[tuple[str, int, int, int]],
    family: tuple[str, int],
    problem: Problem,
) -> tuple[MatrixModel, list[int]]:
    """The elastic model with slack on one family of rows only; a band family's slack is bounded
    by one widening ``delta`` of its tolerance (the last column), which is what is minimised."""
    kind, k = family
    mine = [(col, j) for kd, kk, j, col in cols if (kd == "moved") == (kind == "moved") and kk == k]
    col_hi = model.col_hi.copy()
    others = [col for *_, col in cols if col not in {c for c, _ in mine}]
    col_hi[others] = 0.0
    c = np.zeros(model.A.shape[1])
    if kind == "moved" or problem.resources[k].kind == "capacity":
        if kind == "moved":
            c[mine[0][0]] = 1.0
        else:
            r = problem.resources[k]
            for col, j in mine:
                c[col] = r.scale / max(float(r.target[j]), 1e-12)  # relative rise
        m = MatrixModel(c, model.A, model.row_lo, model.row_hi, model.col_lo, col_hi, model.integer)
        return m, [col for col, _ in mine]
    r = problem.resources[k]
    n_rows, n_cols = model.A.shape
    delta = n_cols
    rows = np.arange(len(mine))
    coef = np.array([float(r.target[j]) / r.scale for _, j in mine])
    extra = sp.csc_matrix(
        (
            np.r_[np.ones(len(mine)), -coef],
            (np.r_[rows, rows], np.r_[[col for col, _ in mine], np.full(len(mine), delta)]),
        ),
        shape=(len(mine), n_cols + 1),
    )
    A = sp.vstack([sp.hstack([model.A, sp.csc_matrix((n_rows, 1))]), extra]).tocsc()
    m = MatrixModel(
        np.r_[c, 1.0],
        A,
        np.r_[model.row_lo, np.full(len(mine), -np.inf)],
        np.r_[model.row_hi, np.zeros(len(mine))],
        np.r_[model.col_lo, 0.0],
        np.r_[col_hi, np.inf],
        np.r_[model.integer, False],
    )
    return m, [delta]


def single_changes(
    problem: Problem, backend: Backend, *, time_limit: float, seed: int
) -> list[Change]:
    """Each rule changed alone: how far it must move for a plan to exist, smallest first."""
    pi, pj = problem.all_pairs()
    model, layout = build_model(problem, pi, pj, integer=True, elastic=True)
    families = _families(problem)
    changes: list[Change] = []
    each = max(time_limit / max(len(families), 1), 2.0)
    tids = problem.scenario.territory_ids
    for family in families:
        m, watch = _alone(model, layout.elastic_cols, family, problem)
        res = backend.solve(m, time_limit=each, gap=1e-6, seed=seed)
        if res.x is None:
            continue  # this rule alone cannot make room for a plan (or time ran out)
        proven = res.status == Status.OPTIMAL
        verb = "must rise to at least" if proven else "admits a plan at"
        if family[0] == "moved":
            now = 1 - problem.moved_min_kept  # type: ignore[operator]
            need = _up(now + float(res.x[watch[0]]))
            changes.append(
                Change(
                    need - now,
                    f"constraints.max_moved_share {verb} {need:.2%} (it is {now:.2%})",
                )
            )
            continue
        r = problem.resources[family[1]]
        if r.kind == "capacity":
            rises = [
                (j, float(res.x[col]) * r.scale)
                for kd, kk, j, col in layout.elastic_cols
                if kk == family[1] and kd == "over" and res.x[col] > 1e-7
            ]
            if not rises:
                continue
            size = max(v / max(float(r.target[j]), 1e-12) for j, v in rises)
            which = ", ".join(f"{tids[j]} to {_fmt(r.target[j] + v)}" for j, v in rises[:5])
            more = f" and {len(rises) - 5} more" if len(rises) > 5 else ""
            changes.append(Change(size, f"capacities {verb}: {which}{more}"))
            continue
        key = "balance_regions" if r.group is not None else "balance"
        need = _up(r.tolerance + float(res.x[watch[0]]))
        changes.append(
            Change(
                need - r.tolerance,
                f"{key}.{r.name}.tolerance {verb} {need:.2%} (it is {r.tolerance:.2%})",
            )
        )
    reach = _reach_change(problem, backend, time_limit=each, seed=seed)
    if reach is not None:
        changes.append(reach)
    return sorted(changes, key=lambda ch: ch.size)


def _reach_change(
    problem: Problem, backend: Backend, *, time_limit: float, seed: int
) -> Change | None:
    """constraints.max_distance_km alone: a limit that admits a plan with every other rule kept,
    by bisection over feasibility MIPs (each over the pairs within the trial limit)."""
    from dataclasses import replace

    from .formulation import build_problem

    sc = problem.scenario
    limit = sc.settings.constraints.max_distance_km
    if limit is None:
        return None
    c = sc.settings.constraints.model_copy(update={"max_distance_km": None})
    free = build_problem(replace(sc, settings=sc.settings.model_copy(update={"constraints": c})))
    pi, pj = free.all_pairs()
    d = sc.geometry.pairs(pi, pj)
    home = pj == problem.current[pi]
    start = time.perf_counter()

    def plan_within(reach: float) -> float | None:
        """The farthest pair of a plan within ``reach`` (today's owner always allowed)."""
        keep = (d <= reach) | home
        if len(np.unique(pi[keep])) < free.n:
            return None  # an account with no territory within reach
        model, layout = build_model(free, pi[keep], pj[keep], integer=True)
        model.c = np.zeros_like(model.c)
        left = time_limit - (time.perf_counter() - start)
        res = backend.solve(model, time_limit=max(left, 1.0), gap=1.0, seed=seed)
        if res.x is None:
            return None
        used = res.x[: layout.n_pair_cols] > 0.5
        far = d[keep][used & ~home[keep]]
        return float(far.max()) if len(far) else limit

    hi = plan_within(float(d.max()))
    if hi is None:
        return None  # no plan even without the limit: another rule must give
    lo = limit
    while hi - lo > max(1.0, 0.01 * hi) and time.perf_counter() - start < time_limit:
        mid = (lo + hi) / 2
        found = plan_within(mid)
        if found is None:
            lo = mid
        else:
            hi = found
    unit = distance_unit(sc)
    need = math.ceil(hi)
    text = f"constraints.max_distance_km admits a plan at {need:,} {unit} (it is {limit:g}"
    text += f"; none exists at {math.floor(lo):,})" if lo > limit else ")"
    return Change(need / limit - 1, text)


RANKED_PAIRS_MAX = 2_000_000  # account x territory pairs the ranked reasons model at most: their
# models hold every pair (~280 bytes each; 100,000 x 200 took 5.6 GiB and 125 s)


def ranked_reasons(
    problem: Problem, backend: Backend, *, time_limit: float, seed: int
) -> list[str]:
    """The smallest single change that lets a plan exist first, then the other single changes
    ranked; without one, what the closest plan breaks (:func:`elastic_reasons`). Above
    RANKED_PAIRS_MAX pairs, what is proven without a model (:func:`unranked_reasons`)."""
    if problem.n * problem.m > RANKED_PAIRS_MAX:
        return unranked_reasons(problem)
    changes = single_changes(problem, backend, time_limit=time_limit * 0.7, seed=seed)
    if not changes:
        closest = elastic_reasons(problem, backend, time_limit=time_limit * 0.3, seed=seed)
        return ["no single setting changed alone lets a plan exist; the closest plan breaks:"] + [
            f"  {r}" for r in closest
        ]
    first, *rest = changes
    return [f"smallest single change that lets a plan exist: {first.text}"] + [
        f"or, alone: {ch.text}" for ch in rest
    ]


def _beyond_reach(problem: Problem, elig_code: np.ndarray) -> list[str]:
    """Accounts with no territory within constraints.max_distance_km (nor a current one)."""
    sc = problem.scenario
    limit = sc.settings.constraints.max_distance_km
    if limit is None:
        return []
    unit = distance_unit(sc)
    far_i, far_j, far_d = [], [], []
    for rows in problem.iter_chunks():
        free = rows[(problem.current[rows] < 0) & (problem.fixed[rows] < 0)]
        if not len(free):
            continue
        d = np.where(elig_code[sc.segment_code[free]], sc.geometry.rows(free), np.inf)
        j = d.argmin(axis=1)
        nearest = d[np.arange(len(free)), j]
        out = np.isfinite(nearest) & (nearest > limit)
        far_i.append(free[out])
        far_j.append(j[out])
        far_d.append(nearest[out])
    if not far_i or not sum(len(a) for a in far_i):
        return []
    i, j, dist = np.concatenate(far_i), np.concatenate(far_j), np.concatenate(far_d)
    ids, tids = sc.account_ids, sc.territory_ids
    reasons = [
        f"account {ids[a]}: no territory within constraints.max_distance_km = {limit:g} "
        f"(the nearest it may join, {tids[b]}, is {_fmt(float(x))} {unit} away)"
        for a, b, x in zip(i[:5], j[:5], dist[:5], strict=True)
    ]
    if len(i) > 5:
        reasons.append(f"{len(i) - 5:,} more accounts have no territory within it")
    reasons.append(
        f"constraints.max_distance_km must rise to at least {math.ceil(dist.max()):,} for every "
        f"account to have a territory within reach (it is {limit:g})"
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
        if res.status == Status.INFEASIBLE:
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


def unranked_reasons(problem: Problem) -> list[str]:
    """Why no plan exists, for a book too large to rank the changes on: the least share of
    moves the bands force, when the moved cap is below it (a proven bound: the cap must rise at
    least that far, though a plan may need more), then how to get the ranking."""
    pairs = problem.n * problem.m
    rules = ["balance.<measure>.tolerance"]
    rules += ["the capacities"] if any(r.kind == "capacity" for r in problem.resources) else []
    rules += ["constraints.max_moved_share"] if problem.moved_min_kept is not None else []
    note = (
        f"the single changes that let a plan exist are not ranked for {problem.n:,} accounts x "
        f"{problem.m:,} territories ({pairs:,} pairs; at most {RANKED_PAIRS_MAX:,} are "
        f"modelled): relax {' or '.join(rules)} and solve again"
    )
    if problem.moved_min_kept is not None:
        least, now = least_moved_share(problem), 1 - problem.moved_min_kept
        if least > now * (1 + 1e-9) + 1e-12:
            return [
                f"constraints.max_moved_share must rise to at least {_up(least):.2%} (it is "
                f"{now:.2%}): bringing every territory inside its bands moves at least that "
                "share",
                note,
            ]
    return ["no plan keeps every rule (proven by the solve)", note]
