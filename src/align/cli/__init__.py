"""The `align` command: a thin Typer app over the library, one module per group of commands.

Importing the command modules registers their commands on :data:`.common.app` (in this order:
scenarios and runs, quotas, the planning cycle, the service, sweeps, report and demo).
"""

from __future__ import annotations

import sys

from ..errors import AlignError
from .common import app, err

# the order of the command modules is the order of `align --help`
# isort: off
from . import plans, quotas, cycle, serve, sweeps, demo

# isort: on

COMMAND_GROUPS = (plans, quotas, cycle, serve, sweeps, demo)

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: AlignError becomes a message and its exit code, never a traceback.

    Usage errors are Typer's own (exit 2, with the usage line).
    """
    try:
        app()
    except AlignError as e:
        err.print(f"error: {e}")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:  # outside a solve (which keeps its best plan): stop, no traceback
        err.print("interrupted (Ctrl-C); a run folder being written is left as it was before")
        sys.exit(130)
