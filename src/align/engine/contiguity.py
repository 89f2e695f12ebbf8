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
from scipy.sparse.csgraph import (
    breadth_first_order,
    connected_components,
    dijkstra,
    maximum_flow,
)

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
        return np.asarray(np.diff(self.A.indptr), dtype=np.int64)

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
        return np.asarray(cand[touches], dtype=np.int64)


def account_graph(adjacency: pd.DataFrame | None, account_ids: pd.Series) -> Graph | None:
    """The adjacency graph from ``account_id, neighbor_id`` rows (either direction suffices)."""
    if adjacency is None or len(adjacency) == 0:
        return None
    index = pd.Index(account_ids.astype(str))
    a = index.get_indexer(pd.Index(adjacency["account_id"].astype(str)))
    b = index.get_indexer(pd.Index(adjacency["neighbor_id"].astype(str)))
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
    budget: Budget | None = None,
) -> list[Cut]:
    """Rows violated by ``assign``: one per unit of every piece cut off from its territory's root.

    ``centre_of[u]`` (greenfield) is the territory whose root unit u would be, -1 for none: the
    rows are then also written for every other member of the territory as the root, since the
    same split pieces are just as disconnected around any other centre of the same members.

    ``roots[t]`` (when >= 0) is a unit that is always in territory t (a greenfield centre, a
    locked account); the cut then takes the ``b = -1`` form, ``x[a,t] <= sum_S x[s,t]``.
    Without a root, a territory's root is its heaviest piece (by ``weight``), represented by its
    heaviest unit, and the cut is the two-point form.

    With a ``budget``, each row's separator is a minimal length-bounded one (LCUT): every path
    from the root to the unit that avoids it is heavier than the territory's band allows.
    """
    w = np.ones(graph.n) if weight is None else weight
    lengths = _Lengths(graph, budget) if budget is not None else None
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
            b = -1 if rooted else root
            if lengths is None:
                cuts += [Cut(t, int(a), b, sep) for a in piece]
            else:
                cuts += lengths.cuts(t, piece, root, b, sep)
            if centre_of is None:
                continue
            for r in units[labels != lab]:
                if r == root or centre_of[r] < 0:
                    continue
                sep_r = graph.separator(piece, int(r))
                tr = int(centre_of[r])
                if lengths is None:
                    cuts += [Cut(tr, int(a), -1, sep_r) for a in piece]
                else:
                    cuts += lengths.cuts(tr, piece, int(r), -1, sep_r)
    return cuts


class _Lengths:
    """Length-bounded separators (LCUT) for :func:`find_cuts`, with the root distances cached."""

    def __init__(self, graph: Graph, budget: Budget) -> None:
        self.budget = budget
        self.values = budget.values
        self.W = _weighted(graph, budget.values)
        self._from: dict[int, FloatArray] = {}

    def totals(self, root: int) -> FloatArray:
        if root not in self._from:
            self._from[root] = _path_totals(self.W, self.values, np.array([root]))[0]
        return self._from[root]

    def cuts(self, t: int, piece: IntArray, root: int, b: int, sep: IntArray) -> list[Cut]:
        """One row per unit of the piece that could reach the root within the band: the
        separator made length-bounded and minimal (the plain one when that is not smaller)."""
        limit = self.budget.slack(t)
        from_root = self.totals(root)
        out = []
        for a in piece:
            a = int(a)
            if from_root[a] > limit:
                continue  # the pair cannot exist: no row needed
            from_a = self.totals(a)
            # a unit on no root-a path within the limit need not be in the separator
            useful = sep[from_root[sep] + from_a[sep] - self.values[sep] <= limit]
            C = length_separator(self.W, self.values, useful, root, a, limit)
            out.append(Cut(t, a, b, sep if C is None else C))
        return out


def piece_counts(graph: Graph, assign: IntArray, m: int) -> IntArray:
    """How many connected pieces each territory's units form (0: empty), in one pass over the
    edges: the components of the graph kept to its edges within a territory."""
    A = graph.A.tocoo()
    same = assign[A.row] == assign[A.col]
    within = sp.coo_matrix((np.ones(int(same.sum())), (A.row[same], A.col[same])), shape=A.shape)
    _, labels = connected_components(within, directed=False)
    ok = assign >= 0
    pieces = np.unique(np.column_stack((assign[ok], labels[ok])), axis=0)
    return np.bincount(pieces[:, 0], minlength=m).astype(np.int64)


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


# ---------------------------------------------------------------------------------------------
# length-bounded reasoning (Validi, Buchanan and Lykhovyd 2022): a territory holds a path from
# its root to each member, so its total is at least the lightest such path's total


@dataclass
class Budget:
    """A balanced column's values per unit and the largest total of every territory: a member
    of a territory is joined to its root by a path of members, whose total is at most ``hi``."""

    values: NDArray[np.float64]  # (n,) >= 0
    hi: NDArray[np.float64]  # (m,) the upper band of every territory (inf: none)

    def slack(self, t: int) -> float:
        """``hi[t]`` with room for rounding (a path at most this heavy may exist)."""
        h = float(self.hi[t])
        return h + 1e-9 * max(abs(h), float(self.values.sum()), 1.0)


def path_totals(graph: Graph, values: NDArray[np.float64], sources: IntArray) -> FloatArray:
    """(len(sources), n): the least total of ``values`` over the units of a path from each
    source to each unit, both ends counted (inf where no path)."""
    return _path_totals(_weighted(graph, values), values, sources)


FloatArray = NDArray[np.float64]
_TINY = 1e-300  # scipy's graph routines read a stored 0 as "no edge": zero weights become this


def _weighted(graph: Graph, values: FloatArray) -> sp.csr_matrix:
    """Arcs u -> v weighing ``values[v]``: a path's length plus its source's value is its total."""
    A = graph.A.tocsr()
    W = sp.csr_matrix(
        (np.maximum(values[A.indices], _TINY), A.indices.copy(), A.indptr.copy()), shape=A.shape
    )
    return W


def _path_totals(
    W: sp.csr_matrix, values: FloatArray, sources: IntArray, limit: float = np.inf
) -> FloatArray:
    d = dijkstra(W, directed=True, indices=np.asarray(sources), limit=limit)
    return np.asarray(d, dtype=np.float64) + values[np.asarray(sources)][:, None]


def reachable_pairs(graph: Graph, budget: Budget, roots: IntArray) -> NDArray[np.bool_]:
    """(len(roots), n): unit i can share territory t with its root ``roots[t]`` (>= 0) in a
    contiguous plan within the bands: the lightest root-i path fits in ``hi[t]`` (L-fixing)."""
    totals = path_totals(graph, budget.values, roots)
    slack = np.array([budget.slack(t) for t in range(len(roots))])
    return totals <= slack[:, None]


def length_separator(
    W: sp.csr_matrix,
    values: FloatArray,
    start: IntArray,
    root: int,
    a: int,
    limit: float,
) -> IntArray | None:
    """A minimal set C within ``start`` such that every root-a path avoiding C totals more than
    ``limit``; None when ``start`` itself is not such a set.

    Greedy (Validi et al.): drop each unit of C in turn while C stays a length-bounded separator,
    checked by Dijkstra from the root on the graph without C.
    """
    n = W.shape[0]

    def heavy(C: IntArray) -> bool:
        keep = np.ones(n)
        keep[C] = 0.0
        D = sp.diags(keep)
        d = dijkstra(D @ W @ D, directed=True, indices=root, limit=limit - values[root])
        return bool(d[a] + values[root] > limit)

    C = np.asarray(start, dtype=np.int64)
    if not heavy(C):
        return None
    for c in list(C):
        trial = C[C != c]
        if heavy(trial):
            C = trial
    return C
