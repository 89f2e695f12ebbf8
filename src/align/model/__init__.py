"""The alignment optimisation: formulation, backends, solve."""

from .solve import solve

__all__ = ["solve"]
