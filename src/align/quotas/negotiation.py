"""Negotiating quotas: overrides and the next version, the diff between versions, and carrying a
proposal to another run (stale overrides kept, dropped or restated)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import ScenarioError
from ..io import scenario_of
from ..runs import Run, load_run
from ..scenario import Scenario
from ..validation import suggest
from .allocation import (
    _not_multiple,
    _rule_bounds,
    _unit_multiple,
    propose_quotas,
)
from .inputs import (
    _inputs,
    _money,
)
from .proposal import Proposal

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
        lo, hi = (float(v) for v in table.loc[t, ["min_quota", "max_quota"]].to_numpy(float))
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
    before = cur.index.map(prev.to_dict()).to_numpy(dtype=float)
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


def stale_overrides(
    proposal: Proposal, run: Run, *, scenario: Scenario | None = None
) -> list[dict[str, Any]]:
    """The overrides of ``proposal`` that lie outside what the rules allow for their territory
    on ``run`` (its growth caps, floor and ceiling move with the accounts it now owns): each
    override with ``min_quota`` and ``max_quota``, the range the rules now allow."""
    if not proposal.overrides:
        return []
    qs = proposal.settings
    inp = _inputs(run, scenario_of(run, scenario), qs)
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
        scenario = scenario_of(run, scenario)
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
