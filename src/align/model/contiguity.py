"""Contiguity: every territory one connected piece of the adjacency graph, enforced exactly.

The MIP is solved without the (exponentially many) connectivity rows; each integer plan is
checked, and for every piece C of a territory that is cut off from the territory's root, the
minimal separator S between C and the root gives the valid rows (Oehrlein and Haunert 2017;
Validi, Buchanan and Lykhovyd 2022, "CUT")::

    x[a, t] + x[b, t] - sum_{s in S} x[s, t] <= 1     for every a in C (b: the root)

When the root is itself a unit that must belong to t (a greenfield centre), ``x[b, t]`` is the
centre's own variable. Rows are added and the MIP solved again until the plan is connected, so
the plan returned is exactly optimal among contiguous plans (no repair afterwards).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import breadth_first_order, connected_components, maximum_flow

IntArray = NDArray[np.int64]


@dataclass
class Graph:
    """Symmetric adjacency of the accounts as a CSR matrix (no self loops)."""

    A: sp.csr_matrix

    @property
    def n(self) -> int:
        return int(self.A.shape[0])

    def neighbours(self, i: int) -> IntArray:
        return np.asarray(self.A.indices[self.A.indptr[i] : self.A.indptr[i + 1]], dtype=np.int64)

    def degree(self) -> IntArray:
        return np.diff(self.A.indptr).astype(np.int64)

    def pieces(self, members: NDArray[np.bool_]) -> tuple[int, IntArray]:
        """Connected pieces of the members: (count, label per member in index order)."""
        idx = np.flatnonzero(members)
        sub = self.A[idx][:, idx]
        count, labels = connected_components(sub, directed=False)
        return int(count), np.asarray(labels, dtype=np.int64)

    def separator(self, piece: IntArray, root: int) -> IntArray:
        """A minimal set of units whose removal cuts ``piece`` off from ``root``.

        N(piece), kept to the units that touch the root's side once the piece and N(piece) are
        removed: every path from the piece to the root passes through one of them.
        """
        inside = np.zeros(self.n, dtype=bool)
        inside[piece] = True
        border = np.zeros(self.n, dtype=bool)
        border[self.A[piece].indices] = True
        border &= ~inside
        keep = ~(inside | border)
        idx = np.flatnonzero(keep)
        pos = np.full(self.n, -1)
        pos[idx] = np.arange(len(idx))
        _, labels = connected_components(self.A[idx][:, idx], directed=False)
        side = np.zeros(self.n, dtype=bool)
        side[idx[labels == labels[pos[root]]]] = True
        cand = np.flatnonzero(border)
        touches = np.asarray((self.A[cand] @ side.astype(np.int8)) > 0).ravel()
        return cand[touches]


def account_graph(adjacency: pd.DataFrame | None, account_ids: pd.Series) -> Graph | None:
    """The adjacency graph from ``account_id, neighbor_id`` rows (either direction suffices)."""
    if adjacency is None or len(adjacency) == 0:
        return None
    index = pd.Index(account_ids.astype(str))
    a = index.get_indexer(adjacency["account_id"].astype(str))
    b = index.get_indexer(adjacency["neighbor_id"].astype(str))
    ok = (a >= 0) & (b >= 0) & (a != b)
    n = len(index)
    A = sp.coo_matrix((np.ones(int(ok.sum())), (a[ok], b[ok])), shape=(n, n)).tocsr()
    A = ((A + A.T) > 0).astype(np.int8).tocsr()
    A.sort_indices()
    return Graph(A)


@dataclass
class Cut:
    """``x[a,t] + x[b,t] - sum_S x[s,t] <= 1``; with ``b == -1``, ``x[a,t] - sum_S x[s,t] <= 0``."""

    t: int
    a: int
    b: int
    separator: IntArray


def find_cuts(
    graph: Graph,
    assign: IntArray,
    m: int,
    *,
    roots: IntArray | None = None,
    weight: NDArray[np.float64] | None = None,
    centre_of: IntArray | None = None,
) -> list[Cut]:
    """Rows violated by ``assign``: one per unit of every piece cut off from its territory's root.

    ``centre_of[u]`` (greenfield) is the territory whose root unit u would be, -1 for none: the
    rows are then also written for every other member of the territory as the root, since the
    same split pieces are just as disconnected around any other centre of the same members.

    ``roots[t]`` (when >= 0) is a unit that is always in territory t (a greenfield centre, a
    locked account); the cut then takes the ``b = -1`` form, ``x[a,t] <= sum_S x[s,t]``.
    Without a root, a territory's root is its heaviest piece (by ``weight``), represented by its
    heaviest unit, and the cut is the two-point form.
    """
    w = np.ones(graph.n) if weight is None else weight
    cuts: list[Cut] = []
    for t in range(m):
        members = assign == t
        count, labels = graph.pieces(members)
        if count <= 1:
            continue
        units = np.flatnonzero(members)
        rooted = roots is not None and roots[t] >= 0 and members[roots[t]]
        if rooted:
            assert roots is not None
            root = int(roots[t])
            root_label = labels[np.searchsorted(units, root)]
        else:
            mass = np.bincount(labels, weights=w[units], minlength=count)
            root_label = int(np.argmax(mass))
            piece0 = units[labels == root_label]
            root = int(piece0[np.argmax(w[piece0])])
        for lab in range(count):
            if lab == root_label:
                continue
            piece = units[labels == lab]
            sep = graph.separator(piece, root)
            for a in piece:
                cuts.append(Cut(t, int(a), -1 if rooted else root, sep))
            if centre_of is None:
                continue
            for r in units[labels != lab]:
                if r == root or centre_of[r] < 0:
                    continue
                sep_r = graph.separator(piece, int(r))
                cuts += [Cut(int(centre_of[r]), int(a), -1, sep_r) for a in piece]
    return cuts


def is_contiguous(graph: Graph, assign: IntArray, m: int) -> list[bool]:
    """Whether each territory's units form one connected piece (an empty territory counts)."""
    return [graph.pieces(assign == t)[0] <= 1 for t in range(m)]


FLOW_SCALE = 1_000_000  # capacities of the max-flow separation (scipy wants integers)


def fractional_cuts(
    graph: Graph,
    x_of: Callable[[int], NDArray[np.float64]],
    pairs: list[tuple[int, int]],
    roots: IntArray,
    *,
    tol: float = 0.05,
) -> list[Cut]:
    """Separator rows violated by a fractional solution (rooted form, ``x[a,t] <= sum_S x[s,t]``).

    ``x_of(t)`` gives the (n,) values ``x[., t]``. For every ``(a, t)`` of ``pairs``, the vertex
    set separating a from the root of t (``roots[t]``) of least weight under ``x[., t]`` is found
    by a max-flow on the split graph (each unit an in->out arc of capacity ``x[s, t]``); a row is
    returned when that weight is below ``x[a, t] - tol``.
    """
    n = graph.n
    A = graph.A.tocoo()
    tail, head = A.row.astype(np.int64), A.col.astype(np.int64)
    big = min(n * FLOW_SCALE, 2**31 - 1)
    # node s_in = s, s_out = n + s; arcs s_in -> s_out (capacity x[s, t]), u_out -> v_in (big)
    rows = np.r_[np.arange(n), n + tail]
    cols = np.r_[n + np.arange(n), head]
    cuts: list[Cut] = []
    by_t: dict[int, list[int]] = {}
    for a, t in pairs:
        by_t.setdefault(t, []).append(a)
    for t, units in by_t.items():
        root = int(roots[t])
        x = x_of(t)
        caps = np.r_[np.floor(np.clip(x, 0, 1) * FLOW_SCALE), np.full(len(tail), big)]
        caps[root] = big
        for a in units:
            c = caps.copy()
            c[a] = big
            C = sp.csr_matrix((c.astype(np.int32), (rows, cols)), shape=(2 * n, 2 * n))
            res = maximum_flow(C, n + a, root, method="dinic")
            if res.flow_value >= (x[a] - tol) * FLOW_SCALE:
                continue
            resid = (C - res.flow).tocsr()
            resid.data = np.maximum(resid.data, 0)
            resid.eliminate_zeros()
            reach = np.zeros(2 * n, dtype=bool)
            reach[breadth_first_order(resid, n + a, directed=True, return_predecessors=False)] = (
                True
            )
            sep = np.flatnonzero(reach[:n] & ~reach[n:])
            sep = sep[(sep != a) & (sep != root)]
            cuts.append(Cut(t, int(a), -1, sep.astype(np.int64)))
    return cuts
