"""The alignment optimisation: formulation, backends, the engines and their one entry."""

from .entry import solve

__all__ = ["solve"]
