"""The status of a solve, shared by runs, quota proposals, backends and the service.

A :class:`Status` is a ``StrEnum``: it compares equal to its string and is written as that string
in run.json, proposal.json, CSV tables and API responses, so files read before and after are the
same.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """How a solve ended: a plan proven optimal (within the gap), a plan, no plan exists, or none
    was found within the limits."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no_solution"

    @property
    def has_plan(self) -> bool:
        """True for ``optimal`` and ``feasible``: the outcome holds a plan."""
        return self in PLANNED


PLANNED = frozenset({Status.OPTIMAL, Status.FEASIBLE})
