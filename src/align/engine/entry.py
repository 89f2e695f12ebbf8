"""solve(scenario) -> Run: the one entry of the optimisation, which chooses the engine.

* greenfield (no home bases given): :func:`.greenfield.solve_greenfield` chooses the centres;
* ``constraints.contiguity``: :func:`.districts.solve_contiguous`, every territory one piece;
* otherwise :func:`.fixed.solve_fixed`, the LP with pricing, dive and repair.

The engines never import this module; what they share lives in :mod:`.common`.
"""

from __future__ import annotations

from ..runs import Run
from ..scenario import Scenario
from .common import Progress
from .districts import solve_contiguous
from .fixed import solve_fixed
from .greenfield import solve_greenfield


def solve(scenario: Scenario, *, progress: Progress | None = None) -> Run:
    """Assign every account to one territory, optimally within ``solver.gap`` when time allows.

    Returns a :class:`Run` whose status is ``optimal``, ``feasible`` (a plan, gap above the
    target), ``infeasible`` (with ``reasons``) or ``no_solution`` (no plan within the limits).
    """
    if scenario.greenfield:
        return solve_greenfield(scenario, progress=progress)
    if scenario.settings.constraints.contiguity:
        return solve_contiguous(scenario, progress=progress)
    return solve_fixed(scenario, progress=progress)
