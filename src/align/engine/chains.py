"""Two-hop moves for territories out of band (ejection chains of length two).

A border move passes one unit between two territories. Where units weigh much the same and the
band is narrow (a city's ZIP codes, each several percent of a target), a territory just above
its band cannot pass a unit to an in-band neighbour without putting that neighbour above its
own band: the shortfall or surplus has to travel two territories on. A chain does that in one
step: a unit passes between the broken territory ``a`` and a neighbour ``b`` (in the direction
that helps ``a``), and ``b`` passes one on to, or takes one from, another neighbour ``c``. Every
territory stays one piece (each hop is checked on the plan after the hop before it); the chain
is made when it lowers the total band violation of the three territories.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .contiguity import Graph

IntArray = NDArray[np.int64]


class ContiguousSearch(Protocol):
    """What a chain needs of :class:`.local_search.ContiguousSearch`."""

    graph: Graph
    bands: Any  # local_search.Bands
    cost: NDArray[np.float64]
    totals: NDArray[np.float64]
    assign: IntArray
    roots: IntArray
    size: IntArray
    allowed: NDArray[np.bool_] | None
    n: int
    m: int
    moves: int

    def stays_connected(self, u: int) -> bool: ...

    def _move(self, u: int, t: int) -> None: ...


EPS = 1e-12
FIRST_HOPS = 16  # first hops tried per broken territory (the most helpful ones first)


def chain_moves(search: ContiguousSearch, deadline: float) -> int:
    """The best improving chain of each territory out of band, while any lowers the violation
    (or until the deadline); returns how many chains were made."""
    A = search.graph.A.tocoo()
    eu, ev = A.row.astype(np.int64), A.col.astype(np.int64)
    is_root = np.zeros(search.n, dtype=bool)
    is_root[search.roots[search.roots >= 0]] = True
    made = 0
    bands = search.bands
    for a in np.argsort(-bands.violation(search.totals, np.arange(search.m))):
        a = int(a)
        if time.perf_counter() >= deadline:
            break
        if bands.violation(search.totals[a], a) <= 0.0:
            break  # sorted: the rest are in band
        over = bool((search.totals[a] > bands.hi[a]).any())
        best = _best_chain(search, a, over, eu, ev, is_root, deadline)
        if best is not None:
            u, to_u, w, to_w = best
            search._move(u, to_u)
            search._move(w, to_w)
            made += 1
    return made


def _hops(
    search: ContiguousSearch,
    t: int,
    gives: bool,
    other: int,
    eu: IntArray,
    ev: IntArray,
    is_root: np.ndarray,
) -> tuple[IntArray, IntArray, IntArray]:
    """Units that may pass across territory ``t``'s border, as (unit, from, to): out of ``t``
    when ``gives``, else into it; never to or from ``other``."""
    a = search.assign
    s, d = a[eu], a[ev]
    if gives:
        keep = (s == t) & (d != t) & (d != other)
    else:
        keep = (d == t) & (s != t) & (s != other)
    u, src, dst = eu[keep], s[keep], d[keep]
    keep = ~is_root[u] & (search.size[src] > 1)
    if search.allowed is not None:
        keep &= search.allowed[u, dst]
    key = np.unique(u[keep] * search.m + dst[keep])
    u, dst = key // search.m, key % search.m
    return u, a[u], dst


def _best_chain(
    search: ContiguousSearch,
    a: int,
    over: bool,
    eu: IntArray,
    ev: IntArray,
    is_root: np.ndarray,
    deadline: float,
) -> tuple[int, int, int, int] | None:
    """The chain from ``a`` that lowers the violation most (then the cost): (u, where u goes,
    w, where w goes), or None."""
    bands, V, cost = search.bands, search.bands.values, search.cost
    u1, s1, d1 = _hops(search, a, over, -1, eu, ev, is_root)
    if len(u1) == 0:
        return None
    # the first hops that help a the most come first (a's violation after the hop)
    after_a = search.totals[a] + (-V[u1] if over else V[u1])
    order = np.argsort(bands.violation(after_a, np.full(len(u1), a)), kind="stable")
    best: tuple[float, float, int, int, int, int] | None = None
    tried = 0
    for k in order:
        if tried >= FIRST_HOPS or time.perf_counter() >= deadline:
            break
        u, src, dst = int(u1[k]), int(s1[k]), int(d1[k])
        if not search.stays_connected(u):
            continue
        tried += 1
        b = dst if over else src  # the neighbour the first hop passes to (over) or takes from
        trio = np.array([a, b])
        before_ab = bands.violation(search.totals[trio], trio).sum()
        search._move(u, dst)
        try:
            # b passes a unit on (it received one) or takes one (it gave one)
            w, s2, d2 = _hops(search, b, over, a, eu, ev, is_root)
            if len(w) == 0:
                continue
            c = d2 if over else s2
            sign = -1.0 if over else 1.0  # change of b's totals by the second hop
            tb = search.totals[b] + sign * V[w]
            tc = search.totals[c] - sign * V[w]
            dv = (
                bands.violation(search.totals[a], a)
                + bands.violation(tb, np.full(len(w), b))
                + bands.violation(tc, c)
                - bands.violation(search.totals[c], c)
                - before_ab
            )
            dc = cost[u, dst] - cost[u, src] + cost[w, d2] - cost[w, s2]
            for j in np.lexsort((dc, dv)):
                if dv[j] >= -EPS:
                    break
                if best is not None and (dv[j], dc[j]) >= best[:2]:
                    break
                if search.stays_connected(int(w[j])):
                    best = (float(dv[j]), float(dc[j]), u, dst, int(w[j]), int(d2[j]))
                    break
        finally:
            search._move(u, src)
            search.moves -= 2  # a tried first hop is no move
    return None if best is None else best[2:]
