"""The states of a run in the service's queue: queued, running, then succeeded, failed or
cancelled.

A queue state says where a job is; how its solve ended (optimal, infeasible, ...) is an
:class:`align.status.Status`, kept beside it as the run's ``solver_status``. Both are
``StrEnum``: the database and the API hold the same strings as before.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """Where a run of the service is: waiting, being solved, or done (one of three ways)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = (RunState.QUEUED, RunState.RUNNING)
