"""Contiguous incumbents for the exact greenfield loop, from the local search.

The exact loop (:func:`.districts.solve_with_cuts`) meets plans that are in band but cut, and
contiguous plans whose centres are not their territories' best members. Both seed the
contiguity-preserving local search of :mod:`.local_search`: each territory keeps the piece
holding its centre, the cut-off units are grown back, and border moves and recombinations bring
the plan within the bands and lower its cost, every territory recentred on its best candidate
member. The plan it returns is contiguous and within every band (summed anew), so it is a valid
incumbent of the loop; the loop's bound is untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from .contiguity import Graph
from .districts import Band
from .local_search import Bands, ContiguousSearch, make_contiguous

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

ONCE_S = 3.0  # at most, for the local search from each plan the exact loop meets
ONCE_SHARE = 0.1  # of the time left
ONCE_PER_UNIT_S = 0.01  # and this long per unit: a small map is searched in a fraction of a
# second, and the loop's rounds (which wait for it) are not slowed by it


class SearchPolish:
    """``polish(plan, seconds)``: a contiguous plan within the bands from a plan of the pair
    model (``plan[i]`` the candidate position of unit i's centre), or None.

    ``cost`` is (n, k) unit-to-candidate cost, ``cand`` (k,) the candidate units, ``keep``
    (n, k) the pairs the model has (L-fixing): a returned plan uses kept pairs only; ``left``
    the time left of the solve, for :meth:`once`. The
    search sees a pair outside the model at a cost above any territory of kept pairs, so it
    moves units off such pairs and recentres on a member that keeps them all where one exists.
    """

    def __init__(
        self,
        graph: Graph,
        cost: FloatArray,
        bands: list[Band],
        m: int,
        cand: IntArray,
        keep: NDArray[np.bool_] | None = None,
        seed: int = 0,
        left: Callable[[], float] | None = None,
    ) -> None:
        self.graph = graph
        if keep is not None:  # a pair the model lacks costs more than any territory of kept ones
            top = float(cost[keep].max(initial=0.0))
            cost = np.where(keep, cost, cost.shape[0] * max(top, 1.0) + 1.0)
        self.cost = cost
        self.m = m
        self.cand = cand.astype(np.int64)
        self.keep = keep
        self.pos = np.full(cost.shape[0], -1, dtype=np.int64)
        self.pos[self.cand] = np.arange(len(self.cand))
        values = np.column_stack([b.values for b in bands]) if bands else np.zeros((len(cost), 1))
        lo = np.array([b.lo for b in bands]) if bands else np.array([-np.inf])
        hi = np.array([b.hi for b in bands]) if bands else np.array([np.inf])
        self.bands = Bands.uniform(values, lo, hi, m)
        self.seed = seed
        self.calls = 0
        self.left = left or (lambda: math.inf)
        self.searched: set[bytes] = set()

    def once(self, plan: IntArray) -> IntArray | None:
        """The search from a plan not searched before, briefly (see ONCE_*), or None."""
        left = self.left()
        if left < 1.0 or plan.tobytes() in self.searched:
            return None
        self.searched.add(plan.tobytes())
        return self(plan, min(ONCE_S, ONCE_SHARE * left, ONCE_PER_UNIT_S * len(plan)))

    def recentre(self, members: IntArray) -> tuple[int, FloatArray]:
        """The member candidate with the least total cost to the members."""
        options = self.pos[members]
        options = options[options >= 0]
        if len(options) == 0:  # no member is a candidate
            raise _NoCentre
        k = int(options[np.argmin(self.cost[np.ix_(members, options)].sum(axis=0))])
        return int(self.cand[k]), self.cost[:, k]

    def __call__(self, plan: IntArray, seconds: float) -> IntArray | None:
        cols = np.unique(plan)
        if len(cols) != self.m or (plan < 0).any():
            return None
        self.calls += 1
        roots = self.cand[cols]
        local = np.searchsorted(cols, plan).astype(np.int64)
        cost = self.cost[:, cols]
        assign = make_contiguous(self.graph, local, cost, roots=roots)
        if (assign < 0).any():
            return None
        search = ContiguousSearch(
            self.graph,
            cost,
            self.bands,
            assign,
            roots=roots,
            recentre=self.recentre,
            seed=self.seed + self.calls,
        )
        try:
            search.recentre_all()
            search.run(seconds)
        except _NoCentre:
            return None
        if not search.in_band():
            return None
        out = self.pos[search.roots][search.assign]
        if (out < 0).any():
            return None
        if self.keep is not None and not self.keep[np.arange(len(out)), out].all():
            return None
        return out


class _NoCentre(Exception):
    """A territory without a member that may be its centre."""
