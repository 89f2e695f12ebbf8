"""A balanced start for territories over a large map (tens of thousands of units, hundreds of
territories), and the pieces of a map that its adjacency leaves apart.

The start is a recursive bisection of the units' locations: the set is cut across its longer
side at the point where the balanced column splits in the ratio of the territory counts on each
side (k // 2 to k - k // 2), and each side is cut again until every part is one territory.
Every part is then within a unit or two of its target, whatever the density (a city of a
hundred units and a state of a hundred units weigh the same), but a part may lie in several
pieces of the graph (across a bay): :func:`.local_search.make_contiguous` then keeps each
territory's main piece and grows the rest into neighbours, and the local search repairs the
bands.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from .contiguity import Graph

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

NAMED = 10  # units named at most in a message


def bisect_plan(plane: FloatArray, values: FloatArray, m: int) -> IntArray:
    """(n,) part 0..m-1 of every unit: recursive bisection of the planar points ``plane``
    (n, 2), balanced on ``values`` (see the module docstring). Parts are numbered in the order
    the cuts leave them."""
    n = len(plane)
    out = np.empty(n, dtype=np.int64)
    label = 0
    stack: list[tuple[IntArray, int]] = [(np.arange(n, dtype=np.int64), m)]
    while stack:
        units, k = stack.pop()
        if k == 1 or len(units) <= 1:
            out[units] = label
            label += 1
            continue
        k1 = k // 2
        xy = plane[units]
        axis = int(np.argmax(xy.max(axis=0) - xy.min(axis=0)))
        order = units[np.argsort(xy[:, axis], kind="stable")]
        w = np.maximum(values[order], 0.0)
        cum = np.cumsum(w)
        cut = int(np.searchsorted(cum, cum[-1] * k1 / k)) if cum[-1] > 0 else len(order) * k1 // k
        cut = min(max(cut, k1), len(order) - (k - k1))  # at least one unit per territory
        stack.append((order[cut:], k - k1))
        stack.append((order[:cut], k1))
    return out


def cut_off_units(graph: Graph) -> list[IntArray]:
    """The pieces of the map apart from the largest one (units in index order), largest first:
    empty when the adjacency connects every unit."""
    count, labels = connected_components(graph.A, directed=False)
    if count <= 1:
        return []
    sizes = np.bincount(labels)
    main = int(np.argmax(sizes))
    order = [int(c) for c in np.argsort(-sizes, kind="stable") if c != main]
    return [np.flatnonzero(labels == c) for c in order]


def piece_reasons(
    pieces: list[IntArray],
    ids: NDArray[np.object_],
    values: FloatArray,
    name: str,
    lo: float,
    hi: float,
    m: int,
) -> tuple[list[str], bool]:
    """Messages naming the units each piece cuts off, and whether no count of territories per
    piece can keep the band (then no contiguous plan exists at all)."""
    total = float(values.sum())
    sizes = [float(values[p].sum()) for p in pieces]
    rest = total - sum(sizes)
    fits = [_counts(s, lo, hi) for s in [*sizes, rest]]
    least = sum(f[0] for f in fits)
    most = sum(f[1] for f in fits)
    impossible = any(f[0] > f[1] for f in fits) or least > m or most < m
    out = []
    for p, s, f in zip(pieces, sizes, fits, strict=False):
        shown = ", ".join(str(ids[i]) for i in p[:NAMED]) + (
            f" and {len(p) - NAMED} more" if len(p) > NAMED else ""
        )
        why = (
            f"its {name} {s:,.6g} cannot make whole territories within the band "
            f"[{lo:,.6g}, {hi:,.6g}]"
            if f[0] > f[1]
            else f"it could hold {f[0]}"
            + (f"-{f[1]}" if f[1] > f[0] else "")
            + " whole territories of its own"
        )
        out.append(
            f"adjacency: {len(p)} unit(s) are cut off from the rest of the map ({shown}): no "
            f"path of neighbours joins them to it, so {why}; add a row to adjacency.csv "
            "linking them to the unit they are reached from (a bridge, a ferry)"
        )
    return out, impossible


def _counts(total: float, lo: float, hi: float) -> tuple[int, int]:
    """(least, most) territories a piece of this total can make, each within [lo, hi]."""
    least = int(np.ceil(total / hi - 1e-9)) if hi > 0 else 0
    most = int(np.floor(total / lo + 1e-9)) if lo > 0 else 10**9
    return max(least, 1 if total > 0 else 0), most
