"""Contiguity-preserving local search: plans whose every territory is one connected piece.

A plan is seeded from any assignment (typically the plan of the relaxation without contiguity):
each territory keeps its main piece (the one holding its root, else its heaviest) and the units
cut off are grown back, layer by layer, into the cheapest adjacent territory, so every territory
stays one piece. The plan is then improved by three kinds of moves that never break a piece:

- **border moves**: a unit on a territory's border joins a neighbouring territory when its own
  territory stays connected without it (checked by a search from its neighbours);
- **chains** (:mod:`.chains`), for territories out of band only: a unit passes between the
  broken territory and a neighbour, and that neighbour passes one on to a third (a surplus of
  units of equal weight travels two territories on);
- **recombination** of two adjacent territories (ReCom, DeFord, Duchin and Solomon 2021): their
  union is spanned by a random tree and cut at the edge that gives the best pair, every edge's
  two sides evaluated at once from subtree sums.

All are steered lexicographically: first the total band violation (the sum over territories
and balanced columns of the squared distance to the band, relative to the band's target), then the
objective. Greenfield passes a ``recentre`` function: a territory's centre is then its best
member, updated after every recombination and after each round of border moves.

:meth:`ContiguousSearch.explore` goes on from the local optima: a few adjacent pairs are
redrawn at random within the bands, whatever the cost, the search runs again, and it goes on
from the better plan (an iterated local search).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from .chains import chain_moves
from .contiguity import Graph, piece_counts

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Recentre = Callable[[IntArray], tuple[int, FloatArray]]

TREES = 3  # random spanning trees tried per recombined pair
EPS = 1e-12
MARGIN = 0.25  # of a band's half-width: the search first aims this far inside the bands
PATIENCE = 3  # sweeps over more trees once in band and stuck, before run() gives up
KICK = 2  # adjacent pairs redrawn at random (within the bands) between runs of explore()
KICK_PATIENCE = 0  # run()'s patience after a kick


@dataclass
class Bands:
    """Balanced columns: ``values`` (n, B) per unit, ``lo`` and ``hi`` (m, B) per territory."""

    values: FloatArray
    lo: FloatArray
    hi: FloatArray

    @property
    def scale(self) -> FloatArray:
        """(B,) the mean target of each column: violations are measured relative to it."""
        mid = np.where(np.isfinite(self.hi), self.hi, self.lo)
        mid = np.where(np.isfinite(self.lo) & np.isfinite(self.hi), (self.lo + self.hi) / 2, mid)
        s = np.array([np.mean(c[np.isfinite(c)]) if np.isfinite(c).any() else 1.0 for c in mid.T])
        return np.where(s > 0, s, 1.0)

    @classmethod
    def uniform(cls, values: FloatArray, lo: FloatArray, hi: FloatArray, m: int) -> Bands:
        """The same band (``lo``, ``hi``: one bound per column) for each of ``m`` territories."""
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        return cls(values, np.tile(lo, (m, 1)), np.tile(hi, (m, 1)))

    @classmethod
    def around_mean(cls, values: FloatArray, tolerance: FloatArray, m: int) -> Bands:
        """Each column's mean over ``m`` territories, within ``tolerance`` of it (one relative
        tolerance per column; an infinite one is no band)."""
        mean = values.sum(axis=0) / m
        free = ~np.isfinite(tolerance)
        tol = np.where(free, 0.0, tolerance)
        lo = np.where(free, -np.inf, mean * (1 - tol))
        hi = np.where(free, np.inf, mean * (1 + tol))
        return cls.uniform(values, lo, hi, m)

    def tightened(self, margin: float) -> Bands:
        """The bands narrowed by ``margin`` of their half-width on each side (finite ones)."""
        half = np.where(np.isfinite(self.lo) & np.isfinite(self.hi), (self.hi - self.lo) / 2, 0.0)
        return Bands(self.values, self.lo + margin * half, self.hi - margin * half)

    def violation(self, totals: FloatArray, t: IntArray | int) -> FloatArray:
        """Band violation of territories ``t`` with these ``totals`` (len(t), B) -> (len(t),):
        the sum of squared distances to the bands relative to the targets (squared, so that
        passing a shortfall on along a chain of territories is an improvement)."""
        lo, hi = self.lo[t], self.hi[t]
        over = np.maximum(totals - hi, 0.0) + np.maximum(lo - totals, 0.0)
        return np.asarray(((over / self.scale) ** 2).sum(axis=-1), dtype=np.float64)


def grow(
    graph: Graph,
    assign: IntArray,
    cost: FloatArray,
    allowed: BoolArray | None = None,
) -> IntArray:
    """Give every unassigned unit (-1) a territory, layer by layer from the assigned ones: a
    unit joins the cheapest allowed territory among its assigned neighbours', so a territory
    that was one piece stays one piece. Units no allowed territory can reach stay -1."""
    out = assign.copy()
    A = graph.A.tocoo()
    u, v = A.row.astype(np.int64), A.col.astype(np.int64)
    while True:
        edge = (out[u] < 0) & (out[v] >= 0)
        if not edge.any():
            return out
        eu, et = u[edge], out[v[edge]]
        if allowed is not None:
            ok = allowed[eu, et]
            eu, et = eu[ok], et[ok]
            if len(eu) == 0:
                return out
        c = cost[eu, et]
        order = np.lexsort((c, eu))
        first = np.r_[True, eu[order][1:] != eu[order][:-1]]
        out[eu[order][first]] = et[order][first]


def make_contiguous(
    graph: Graph,
    assign: IntArray,
    cost: FloatArray,
    *,
    roots: IntArray | None = None,
    weight: FloatArray | None = None,
    allowed: BoolArray | None = None,
) -> IntArray:
    """Each territory's main piece kept (holding ``roots[t]`` when >= 0, else the heaviest by
    ``weight``), every other unit grown back by :func:`grow`. Units left at -1 could not be
    reached by an allowed territory."""
    m = cost.shape[1]
    w = np.ones(graph.n) if weight is None else weight
    out = assign.copy()
    for t in range(m):
        members = out == t
        count, labels = graph.pieces(members)
        if count <= 1:
            continue
        units = np.flatnonzero(members)
        if roots is not None and roots[t] >= 0 and members[roots[t]]:
            main = labels[np.searchsorted(units, roots[t])]
        else:
            main = int(np.argmax(np.bincount(labels, weights=w[units], minlength=count)))
        out[units[labels != main]] = -1
    return grow(graph, out, cost, allowed)


class ContiguousSearch:
    """Border moves and recombinations on a contiguous plan; see the module docstring.

    ``cost`` (n, m) is the cost of every unit in every territory (rewritten column by column
    by ``recentre`` in greenfield); ``roots[t]`` (>= 0) a unit that never leaves territory t
    (a locked account, or the centre in greenfield); ``allowed`` (n, m) the pairs that may
    exist (eligibility and locks).
    """

    def __init__(
        self,
        graph: Graph,
        cost: FloatArray,
        bands: Bands,
        assign: IntArray,
        *,
        roots: IntArray | None = None,
        allowed: BoolArray | None = None,
        recentre: Recentre | None = None,
        seed: int = 0,
    ) -> None:
        self.graph = graph
        self.cost = np.array(cost, dtype=np.float64)
        self.bands = bands
        self.n, self.m = self.cost.shape
        self.assign = assign.astype(np.int64).copy()
        self.roots = (
            np.full(self.m, -1, dtype=np.int64) if roots is None else roots.astype(np.int64).copy()
        )
        self.allowed = allowed
        self.recentre = recentre
        self.rng = np.random.default_rng(seed)
        self.indptr = graph.A.indptr
        self.indices = graph.A.indices
        self.totals = np.zeros((self.m, bands.values.shape[1]))
        self.size = np.zeros(self.m, dtype=np.int64)
        self._recount()
        self.moves = 0
        self.recombinations = 0
        self.chains = 0  # two-hop moves (see .chains)
        self.rounds = 0  # of run(), over all its calls

    # --- state ---------------------------------------------------------------------------
    def _recount(self) -> None:
        for b in range(self.bands.values.shape[1]):
            self.totals[:, b] = np.bincount(
                self.assign, weights=self.bands.values[:, b], minlength=self.m
            )
        self.size = np.bincount(self.assign, minlength=self.m).astype(np.int64)

    def in_band(self) -> bool:
        """Whether every territory is within its bands, from totals summed anew (free of the
        drift of the running totals, which this refreshes). Checks the plan is in one piece
        per territory first (:meth:`check_whole`): this is asked before a plan is kept."""
        self.check_whole()
        self._recount()
        b = self.bands
        return not bool(((self.totals < b.lo) | (self.totals > b.hi)).any())

    def check_whole(self) -> None:
        """Raise if a territory is in several pieces: every move keeps them whole, so that is
        a defect of the search, and a plan in pieces must never be kept as a contiguous one."""
        broken = np.flatnonzero(piece_counts(self.graph, self.assign, self.m) > 1)
        if len(broken):
            raise RuntimeError(
                f"the contiguous local search left {len(broken)} territories in pieces "
                f"(columns {broken[:10].tolist()}): a defect of the search, not of the scenario"
            )

    def objective(self) -> float:
        return float(self.cost[np.arange(self.n), self.assign].sum())

    def violation(self) -> float:
        return float(self.bands.violation(self.totals, np.arange(self.m)).sum())

    def summary(self) -> dict[str, float]:
        """What the search reached, for a run's stats."""
        return {
            "objective": self.objective(),
            "violation": self.violation(),
            "moves": self.moves,
            "recombinations": self.recombinations,
            "chains": self.chains,
        }

    def _move(self, u: int, t: int) -> None:
        s = int(self.assign[u])
        v = self.bands.values[u]
        self.totals[s] -= v
        self.totals[t] += v
        self.size[s] -= 1
        self.size[t] += 1
        self.assign[u] = t
        self.moves += 1

    # --- border moves --------------------------------------------------------------------
    def stays_connected(self, u: int) -> bool:
        """Whether u's territory is still one piece without u (a search from one of u's
        neighbours in it, stopped as soon as all of them are reached)."""
        s = self.assign[u]
        a, ind, ptr = self.assign, self.indices, self.indptr
        nb = [int(x) for x in ind[ptr[u] : ptr[u + 1]] if a[x] == s]
        if len(nb) <= 1:
            return True
        want = set(nb)
        seen = {u, nb[0]}
        want.discard(nb[0])
        stack = [nb[0]]
        while stack:
            x = stack.pop()
            for y in ind[ptr[x] : ptr[x + 1]]:
                y = int(y)
                if y in seen or a[y] != s:
                    continue
                seen.add(y)
                if y in want:
                    want.discard(y)
                    if not want:
                        return True
                stack.append(y)
        return False

    def _gain(self, u: int, t: int) -> tuple[float, float]:
        """(change of violation, change of cost) of moving u to t."""
        s = int(self.assign[u])
        v = self.bands.values[u]
        ts = np.array([s, t])
        before = self.bands.violation(self.totals[ts], ts).sum()
        after_tot = self.totals[ts] + np.array([-v, v])
        after = self.bands.violation(after_tot, ts).sum()
        return float(after - before), float(self.cost[u, t] - self.cost[u, s])

    def border_moves(self, deadline: float) -> int:
        """Improving moves of border units until none is left (or the deadline): returns how
        many were made."""
        made = 0
        A = self.graph.A.tocoo()
        eu, ev = A.row.astype(np.int64), A.col.astype(np.int64)
        is_root = np.zeros(self.n, dtype=bool)
        is_root[self.roots[self.roots >= 0]] = True
        cscale = max(float(np.abs(self.cost).mean()), 1e-12)
        while time.perf_counter() < deadline:
            s, t = self.assign[eu], self.assign[ev]
            cand = (s != t) & ~is_root[eu]
            if self.allowed is not None:
                cand &= self.allowed[eu, t]
            u, t, s, via = eu[cand], t[cand], s[cand], ev[cand]
            if len(u) == 0:
                break
            # vectorised gains on the current totals
            vals = self.bands.values[u]
            dv = (
                self.bands.violation(self.totals[s] - vals, s)
                + self.bands.violation(self.totals[t] + vals, t)
                - self.bands.violation(self.totals[s], s)
                - self.bands.violation(self.totals[t], t)
            )
            dc = self.cost[u, t] - self.cost[u, s]
            good = (dv < -EPS) | ((np.abs(dv) <= EPS) & (dc < -EPS * cscale))
            if not good.any():
                break
            order = np.flatnonzero(good)[np.lexsort((dc[good], dv[good]))]
            touched = np.zeros(self.m, dtype=bool)
            round_made = 0
            for k in order:
                if time.perf_counter() >= deadline:
                    break
                uk, tk, sk = int(u[k]), int(t[k]), int(s[k])
                if self.assign[uk] != sk or self.size[sk] <= 1:
                    continue
                if self.assign[via[k]] != tk:
                    continue  # the neighbour that joined u to t has left it this round
                if touched[sk] or touched[tk]:  # stale gain: recompute
                    gv, gc = self._gain(uk, tk)
                    if not (gv < -EPS or (abs(gv) <= EPS and gc < -EPS * cscale)):
                        continue
                if not self.stays_connected(uk):
                    continue
                self._move(uk, tk)
                touched[sk] = touched[tk] = True
                round_made += 1
            made += round_made
            if round_made == 0:
                break
        return made

    # --- recombination -------------------------------------------------------------------
    def adjacent_pairs(self) -> IntArray:
        """(k, 2) territory pairs that share a border, s < t."""
        A = self.graph.A.tocoo()
        s, t = self.assign[A.row], self.assign[A.col]
        keep = s < t
        key = np.unique(s[keep] * self.m + t[keep])
        return np.column_stack((key // self.m, key % self.m)).astype(np.int64)

    def recombine(self, s: int, t: int, trees: int = TREES, *, bands_only: bool = False) -> bool:
        """Redraw the border of territories s and t (both kept one piece) when a spanning-tree
        cut of their union is better (with ``bands_only``: no worse for the bands, whatever
        the cost); returns whether the plan changed."""
        U = np.flatnonzero((self.assign == s) | (self.assign == t))
        if len(U) < 2:
            return False
        sub = self.graph.A[U][:, U]
        upper = sp.triu(sub, k=1).tocoo()
        vals = self.bands.values[U]
        total = vals.sum(axis=0)
        cs, ct = self.cost[U, s], self.cost[U, t]
        is_root_s = U == self.roots[s] if self.recentre is None else np.zeros(len(U), bool)
        is_root_t = U == self.roots[t] if self.recentre is None else np.zeros(len(U), bool)
        bad_s = ~self.allowed[U, s] if self.allowed is not None else np.zeros(len(U), bool)
        bad_t = ~self.allowed[U, t] if self.allowed is not None else np.zeros(len(U), bool)
        # per node, summed over its subtree: band values, cost as s minus cost as t, and counts
        node = np.column_stack((vals, cs - ct, is_root_s, is_root_t, bad_s, bad_t)).astype(float)
        B = vals.shape[1]
        pair = np.array([s, t])
        cur_v = float(self.bands.violation(self.totals[pair], pair).sum())
        cur_c = float(self.cost[U, self.assign[U]].sum())
        best: tuple[float, float, NDArray[np.bool_]] | None = None
        for _ in range(trees):
            w = sp.coo_matrix(
                (self.rng.random(len(upper.data)) + 1e-3, (upper.row, upper.col)),
                shape=sub.shape,
            )
            tree = minimum_spanning_tree(w)
            tree = tree + tree.T
            root = int(self.rng.integers(len(U)))
            order, pred = breadth_first_order(tree, root, directed=False)
            if len(order) < len(U):
                return False  # the union is not connected: cannot happen for adjacent pieces
            acc = node.copy()
            for v in order[:0:-1]:
                acc[pred[v]] += acc[v]
            sub_ = acc[order[1:]]  # one row per tree edge (the subtree below it)
            allsum = acc[root]
            sv = sub_[:, :B]
            dsc = sub_[:, B]
            rs, rt, bs, bt = (sub_[:, B + k] for k in range(1, 5))
            for side in (0, 1):  # side 0: subtree -> s; side 1: subtree -> t
                if side == 0:
                    tot_s, tot_t = sv, total - sv
                    c = ct.sum() + dsc
                    ok = (bs == 0) & (allsum[B + 4] - bt == 0) & (rt == 0)
                    ok &= allsum[B + 1] - rs == 0
                else:
                    tot_s, tot_t = total - sv, sv
                    c = ct.sum() + allsum[B] - dsc
                    ok = (bt == 0) & (allsum[B + 3] - bs == 0) & (rs == 0)
                    ok &= allsum[B + 2] - rt == 0
                if not ok.any():
                    continue
                viol = self.bands.violation(tot_s, np.full(len(sv), s)) + self.bands.violation(
                    tot_t, np.full(len(sv), t)
                )
                idx = np.flatnonzero(ok)
                k = idx[np.lexsort((c[idx], viol[idx]))[0]]
                cand = (float(viol[k]), float(c[k]))
                if best is None or cand < best[:2]:
                    below = np.zeros(len(U), dtype=bool)
                    below[_subtree(order, pred, int(order[1 + k]))] = True
                    to_s = below if side == 0 else ~below
                    best = (cand[0], cand[1], to_s)
        if best is None:
            return False
        cscale = max(abs(cur_c), 1e-12)
        better = best[0] < cur_v - EPS or (
            best[0] <= cur_v + EPS and best[1] < cur_c - EPS * cscale
        )
        if not (better or (bands_only and best[0] <= cur_v + EPS)):
            return False
        old = self.assign[U].copy()
        new = np.where(best[2], s, t)
        if np.array_equal(old, new):
            return False
        self.assign[U] = new
        if self.recentre is not None:
            saved = (self.cost[:, [s, t]].copy(), self.roots[[s, t]].copy())
            for q in (s, t):
                self._recentre(q)
            after = (
                float(self.bands.violation(_totals(self.bands.values, U, new == s), pair).sum()),
                float(self.cost[U, self.assign[U]].sum()),
            )
            kept = after[0] < cur_v - EPS or (after[0] <= cur_v + EPS and after[1] < cur_c)
            if not (kept or (bands_only and after[0] <= cur_v + EPS)):
                self.assign[U] = old
                self.cost[:, [s, t]], self.roots[[s, t]] = saved
                return False
        self._recount()
        self.recombinations += 1
        return True

    def _recentre(self, t: int) -> None:
        assert self.recentre is not None
        centre, column = self.recentre(np.flatnonzero(self.assign == t))
        self.roots[t] = centre
        self.cost[:, t] = column

    def recentre_all(self) -> None:
        if self.recentre is not None:
            for t in range(self.m):
                self._recentre(t)

    # --- driver --------------------------------------------------------------------------
    def run(
        self,
        seconds: float,
        *,
        margin: float = MARGIN,
        patience: int = PATIENCE,
        give_up: int | None = None,
    ) -> None:
        """Alternate border moves and a sweep of recombinations over every adjacent pair (in
        random order) until a whole round changes nothing, even with ``patience`` sweeps over
        more trees, or the time is up; while a band is
        still broken, territories out of band are recombined with each neighbour over more
        trees, and with the cost ignored when that is what it takes.

        The search is steered towards bands narrowed by ``margin`` of their half-width until
        the plan is within the true bands (a plan at the very edge of every band leaves no room
        to pass a shortfall on), then by the true bands. With ``give_up``, a plan still out of
        band after that many rounds that did not lower its violation is left as it is (for a
        restart).
        """
        deadline = time.perf_counter() + seconds
        real = self.bands
        if margin > 0:
            self.bands = real.tightened(margin)
        stuck = stalled = 0  # rounds without progress; out of band, without a lower violation
        try:
            while time.perf_counter() < deadline:
                self.rounds += 1
                before = (self.violation(), self.objective())
                self.border_moves(deadline)
                self.recentre_all()
                self.sweep(deadline)
                if self.bands is not real and _broken(real, self.totals) == 0.0:
                    self.bands, stuck = real, 0  # in band: from now on, the objective
                    continue
                after = (self.violation(), self.objective())
                if 0.0 < before[0] - EPS <= after[0]:
                    # out of band, and the moves within pairs no longer lower the violation
                    chains = chain_moves(self, deadline)
                    self.chains += chains
                    if chains:
                        after = (self.violation(), self.objective())
                stalled = 0 if after[0] < before[0] - EPS else stalled + 1
                if give_up is not None and after[0] > 0.0 and stalled > give_up:
                    break  # out of band, and the violation no lower for give_up rounds
                if after[0] < before[0] - EPS or after[1] < before[1] - EPS * abs(before[1]):
                    stuck = 0
                    continue
                stuck += 1
                if after[0] <= 0.0:
                    # in band and stuck: every pair again over more trees, while time allows
                    if stuck > patience:
                        break
                    self.sweep(deadline, trees=min(4 * TREES * stuck, 60))
                    continue
                # out of band and stuck: recombine around the broken territories over more
                # trees, then accept any redraw no worse for the bands (a walk on the plateau)
                self.sweep(
                    deadline,
                    only_broken=True,
                    trees=min(4 * TREES * stuck, 60),
                    bands_only=stuck > 1,
                )
        finally:
            self.bands = real

    def explore(
        self,
        seconds: float,
        *,
        kick: int = KICK,
        rounds: int | None = None,
        patience: int = KICK_PATIENCE,
    ) -> int:
        """Iterated local search: :meth:`run` to a local optimum, then, while time is left,
        redraw ``kick`` random adjacent pairs by any cut that keeps the bands (whatever the
        cost: a step out of the local optimum, as ReCom's chain takes), run again from there,
        and go on from the better of the two plans; at most ``rounds`` kicks when given (the
        search is then the same for the same seed, whatever the machine's speed, when the time
        suffices). After a kick, :meth:`run` gives up after ``patience`` sweeps over more trees
        (a kick changes two pairs: many cheap descents find more than a few thorough ones).
        Returns how many kicks led to a better plan.
        """
        deadline = time.perf_counter() + seconds
        self.run(seconds)
        if not self.in_band():
            return 0
        best, best_obj, better = self._state(), self.objective(), 0
        for _ in itertools.count() if rounds is None else range(rounds):
            if time.perf_counter() >= deadline:
                break
            pairs = self.adjacent_pairs()
            for k in self.rng.choice(len(pairs), size=min(kick, len(pairs)), replace=False):
                s, t = (int(x) for x in pairs[k])
                self.recombine(s, t, trees=1, bands_only=True)
            self.run(deadline - time.perf_counter(), margin=0.0, patience=patience)
            obj = self.objective()
            if self.in_band() and obj < best_obj - EPS * abs(best_obj):
                best, best_obj, better = self._state(), obj, better + 1
            else:
                self._restore(best)
        self._restore(best)
        return better

    def _state(self) -> tuple[IntArray, FloatArray, IntArray]:
        return self.assign.copy(), self.cost.copy(), self.roots.copy()

    def _restore(self, state: tuple[IntArray, FloatArray, IntArray]) -> None:
        self.assign, self.cost, self.roots = state[0].copy(), state[1].copy(), state[2].copy()
        self._recount()

    def sweep(
        self,
        deadline: float,
        *,
        only_broken: bool = False,
        trees: int = TREES,
        bands_only: bool = False,
    ) -> None:
        """One recombination of every adjacent pair (or of those with a territory out of
        band), in random order."""
        pairs = self.adjacent_pairs()
        if only_broken:  # pairs within two steps of a territory out of band
            near = self.bands.violation(self.totals, np.arange(self.m)) > 0
            for _ in range(2):
                near = near.copy()
                hit = near[pairs[:, 0]] | near[pairs[:, 1]]
                near[pairs[hit].ravel()] = True
            pairs = pairs[near[pairs[:, 0]] | near[pairs[:, 1]]]
        for k in self.rng.permutation(len(pairs)):
            if time.perf_counter() >= deadline:
                break
            s, t = (int(x) for x in pairs[k])
            if self.size[s] and self.size[t]:
                self.recombine(s, t, trees=trees, bands_only=bands_only)


def _broken(bands: Bands, totals: FloatArray) -> float:
    return float(bands.violation(totals, np.arange(len(totals))).sum())


def _subtree(order: IntArray, pred: IntArray, v: int) -> IntArray:
    """The nodes of the BFS tree below (and including) v."""
    children: dict[int, list[int]] = {}
    for x in order[1:]:
        children.setdefault(int(pred[x]), []).append(int(x))
    out, stack = [], [v]
    while stack:
        x = stack.pop()
        out.append(x)
        stack.extend(children.get(x, []))
    return np.array(out, dtype=np.int64)


def _totals(values: FloatArray, U: IntArray, to_s: BoolArray) -> FloatArray:
    """(2, B) totals of the two sides of a recombined pair."""
    v = values[U]
    return np.vstack((v[to_s].sum(axis=0), v[~to_s].sum(axis=0)))
