"""solve(scenario) -> Run: the one entry of the optimisation, which chooses the engine.

* greenfield (no home bases given): :func:`.greenfield.solve_greenfield` chooses the centres;
* ``constraints.contiguity``: :func:`.districts.solve_contiguous`, every territory one piece;
* otherwise :func:`.fixed.solve_fixed`, the LP with pricing, dive and repair.

The engines never import this module; what they share lives in :mod:`.common`.
"""

from __future__ import annotations

import pandas as pd

from ..runs import Run
from ..scenario import Scenario
from .common import Progress
from .contiguity import account_graph, piece_counts
from .districts import solve_contiguous
from .fixed import solve_fixed
from .greenfield import solve_greenfield


def solve(scenario: Scenario, *, progress: Progress | None = None) -> Run:
    """Assign every account to one territory, optimally within ``solver.gap`` when time allows.

    Returns a :class:`Run` whose status is ``optimal``, ``feasible`` (a plan, gap above the
    target), ``infeasible`` (with ``reasons``) or ``no_solution`` (no plan within the limits).
    """
    if scenario.greenfield:
        return check_whole(scenario, solve_greenfield(scenario, progress=progress))
    if scenario.settings.constraints.contiguity:
        return check_whole(scenario, solve_contiguous(scenario, progress=progress))
    return solve_fixed(scenario, progress=progress)


def check_whole(scenario: Scenario, run: Run) -> Run:
    """``run`` as it is, once every territory of its plan is found one piece of the scenario's
    adjacency where ``constraints.contiguity`` is on (an independent check of every engine that
    keeps territories whole). A plan in pieces is a defect, never a result: it raises."""
    if not scenario.settings.constraints.contiguity or not run.has_plan or run.assignments is None:
        return run
    graph = account_graph(scenario.adjacency, scenario.accounts["account_id"])
    if graph is None:
        return run
    a = run.assignments
    where = pd.Series(a["territory_id"].to_numpy(), index=a["account_id"].astype(str))
    codes, names = pd.factorize(where.reindex(scenario.accounts["account_id"].astype(str)))
    broken = [str(t) for t in names[piece_counts(graph, codes, len(names)) > 1]]
    if broken:
        raise RuntimeError(
            f"the plan leaves {len(broken)} territories in pieces ({', '.join(broken[:10])}) "
            "with constraints.contiguity on: a defect of the engine, not of the scenario"
        )
    return run
