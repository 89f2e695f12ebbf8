"""How large a solve of fixed territories is: candidate pairs and memory, checked up front."""

from __future__ import annotations

import math
import os

from ..errors import NoSolutionError
from ..scenario import Scenario


def default_candidates(m: int) -> int:
    """Candidate territories per account when ``solver.candidates`` is not set."""
    return min(m, 8)


BASE_MIB = 250.0  # the interpreter, libraries and per-account tables of a solve
PAIR_BYTES = 500.0  # per candidate pair: LP columns, pricing, the MIP models, plans
ACCOUNT_BYTES = 400.0  # per account: the problem's arrays, checks and output tables


def estimate_mib(n: int, m: int, candidates: int) -> tuple[int, float]:
    """Candidate pairs of a solve (each account's k cheapest territories and today's) and the
    memory it needs, in MiB (measured: 100,000 x 200 peaks at 743 MiB, 1M x 1,000 at 3.1 GiB)."""
    pairs = n * (min(candidates, m) + 1)
    return pairs, BASE_MIB + (pairs * PAIR_BYTES + n * ACCOUNT_BYTES) / 2**20


def available_mib() -> float:
    """Memory this machine has available now (MemAvailable), in MiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (ValueError, OSError, AttributeError):
        return math.inf


def check_size(scenario: Scenario) -> None:
    """Refuse, before any work, an instance whose estimated memory exceeds what is available,
    naming the estimate and the ``solver.candidates`` that would fit."""
    n, m = scenario.n_accounts, scenario.n_territories
    k = scenario.settings.solver.candidates or default_candidates(m)
    pairs, need = estimate_mib(n, m, k)
    have = available_mib()
    if need <= have:
        return
    fits = [c for c in range(min(k, m) - 1, 1, -1) if estimate_mib(n, m, c)[1] <= have]
    fix = (
        f"set solver.candidates = {fits[0]} (about {estimate_mib(n, m, fits[0])[1]:,.0f} MiB)"
        if fits
        else "split the accounts into regions and solve each apart"
    )
    raise NoSolutionError(
        f"scenario too large for this machine: {n:,} accounts x {min(k, m) + 1} candidate "
        f"territories = {pairs:,} pairs need about {need:,.0f} MiB, {have:,.0f} MiB are "
        f"available; {fix}, or run on a machine with more memory"
    )
