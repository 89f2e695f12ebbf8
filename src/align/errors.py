"""The error tree: every error the library raises on purpose derives from :class:`AlignError`.

Each class also subclasses the matching built-in so callers may catch either.
"""

from __future__ import annotations


class AlignError(Exception):
    """Base of every error raised by align on purpose."""

    exit_code = 1


class ScenarioError(AlignError, ValueError):
    """The input is invalid. Carries every problem found, one message each."""

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems: list[str] = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the scenario"
        super().__init__(head + ":\n" + "\n".join(f"- {p}" for p in self.problems))


class SettingsError(ScenarioError):
    """A settings key or value is invalid (scenario.toml, a preset or --set)."""


class InfeasibleError(AlignError, RuntimeError):
    """The rules admit no plan. ``reasons`` says which rules contradict and by how much."""

    exit_code = 3

    def __init__(self, reasons: list[str] | str):
        if isinstance(reasons, str):
            reasons = [reasons]
        self.reasons: list[str] = list(reasons)
        super().__init__("the rules admit no plan:\n" + "\n".join(f"- {r}" for r in self.reasons))


class NoSolutionError(AlignError, RuntimeError):
    """No plan was found within the limits (time, solver)."""

    exit_code = 4


class SolverError(AlignError, RuntimeError):
    """A solver backend is unknown, unavailable or failed."""

    exit_code = 4


class RunError(AlignError, ValueError):
    """A run folder is missing or unreadable."""

    exit_code = 2


class ExecutorError(AlignError, ValueError):
    """An executor is misconfigured or unreachable (a wrong Dask address, no workers)."""

    exit_code = 2
