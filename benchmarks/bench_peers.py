#!/usr/bin/env python3
"""Benchmark the engine against peer regionalisation tools on the US county scenarios.

Each state of ``../shared/benchmarks/counties-XX`` (k equal-population contiguous territories,
moment-of-inertia compactness) is solved at +-5% (``--tolerance``) by:

* ``spopt-azp``: PySAL spopt's AZP with k regions, an objective of ours that spopt calls (the
  population-weighted squared distance to each region's weighted centroid, in projected km, plus
  a penalty for population outside the band large enough to dominate it), best of ``--azp-seeds``
  random starts;
* ``spopt-skater``: spopt's Skater with k regions on the projected coordinates (it has no
  population mechanism: its ``floor`` counts units), best of the one deterministic run;
* ``recom``: GerryChain ReCom from a ``recursive_tree_part`` plan within the band, ``--recom-steps``
  steps (short bursts of ``--recom-burst`` steps, or a plain chain with ``--recom-burst 0``) with
  the band and contiguity as constraints, keeping the plan with the smallest moment of inertia;
* ``engine``: ``align.load_scenario`` + ``align.solve`` with the tolerance and ``--time-limit``
  overridden; "pending" (with the engine's message) while it refuses the scenario.

Every plan is measured here, with code independent of the engine: number of territories, the
largest population deviation from the mean, contiguity (networkx, per territory), the moment of
inertia with the best centre unit per territory (great-circle km), cut edges and wall time.

    /tmp/v/bin/python benchmarks/bench_peers.py --states NH,ME --out /tmp/peers.md
    /tmp/v/bin/python benchmarks/bench_peers.py --json /tmp/peers.json     # all 16 states
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import platform
import queue
import random
import subprocess
import sys
import time
import tomllib
import warnings
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "benchmarks"
if not DATA.is_dir():
    DATA = Path("/work/shared/benchmarks")
STATES = "AL AR CO IA ID KS LA ME MS NE NH NM OK OR SC WV".split()
METHODS = ("engine", "spopt-azp", "spopt-skater", "recom")
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
BAND_EPS = 1e-9


# ---------------------------------------------------------------------------------------------
# the scenario


@dataclass
class State:
    name: str
    folder: Path
    ids: list[str]
    lat: np.ndarray
    lon: np.ndarray
    pop: np.ndarray
    edges: np.ndarray  # (e, 2) unit indices, each undirected edge once
    k: int

    @property
    def n(self) -> int:
        return len(self.ids)

    def graph(self) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        g.add_edges_from(map(tuple, self.edges.tolist()))
        return g

    def xy_km(self) -> np.ndarray:
        """Local equirectangular projection (km) around the population-weighted mean."""
        lat0 = math.radians(float(np.average(self.lat, weights=self.pop)))
        x = np.radians(self.lon) * EARTH_RADIUS_KM * math.cos(lat0)
        y = np.radians(self.lat) * EARTH_RADIUS_KM
        return np.column_stack([x - x.mean(), y - y.mean()])


def load_state(code: str, data: Path = DATA) -> State:
    folder = data / f"counties-{code}"
    acc = pd.read_csv(folder / "accounts.csv", dtype={"account_id": str})
    adj = pd.read_csv(folder / "adjacency.csv", dtype={"account_id": str, "neighbor_id": str})
    with (folder / "scenario.toml").open("rb") as f:
        k = int(tomllib.load(f)["territories"]["count"])
    ids = acc["account_id"].tolist()
    index = {a: i for i, a in enumerate(ids)}
    pairs = {
        (min(index[a], index[b]), max(index[a], index[b]))
        for a, b in zip(adj["account_id"], adj["neighbor_id"], strict=True)
        if a != b
    }
    return State(
        name=code,
        folder=folder,
        ids=ids,
        lat=acc["lat"].to_numpy(float),
        lon=acc["lon"].to_numpy(float),
        pop=acc["potential"].to_numpy(float),
        edges=np.array(sorted(pairs), dtype=int).reshape(-1, 2),
        k=k,
    )


class ChildFailed(RuntimeError):
    """The child of :func:`in_child` raised: the message names the exception."""


def _child_main(target: Any, args: tuple, out: Any) -> None:
    try:
        result = target(*args)
    except BaseException as exc:  # noqa: BLE001 - any failure is reported to the parent
        out.put(("failed", f"{type(exc).__name__}: {exc}"))
        return
    out.put(("ok", result))


def in_child(target: Any, args: tuple, seconds: float) -> tuple[Any, float]:
    """``target(*args)`` in a forked child (the arguments are shared, nothing pickled but the
    result): its result, or None when it was still working ``seconds`` after the start (it is
    then killed), and the seconds it took. Raises ChildFailed as soon as the child raises."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_child_main, args=(target, args, out))
    t0 = time.perf_counter()
    child.start()
    try:
        kind, result = out.get(timeout=seconds)
    except queue.Empty:  # still working when the time was up
        child.kill()
        child.join()
        return None, time.perf_counter() - t0
    child.join()
    if kind == "failed":
        raise ChildFailed(f"{result} (after {time.perf_counter() - t0:.1f} s)")
    return result, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# independent metrics (no engine code)


def great_circle_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """All-pairs haversine distance matrix in km."""
    p, q = np.radians(lat), np.radians(lon)
    dp = p[:, None] - p[None, :]
    dq = q[:, None] - q[None, :]
    a = np.sin(dp / 2) ** 2 + np.cos(p)[:, None] * np.cos(p)[None, :] * np.sin(dq / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def moment_of_inertia(members: np.ndarray, pop: np.ndarray, d2: np.ndarray) -> tuple[float, int]:
    """min over centre units c in the territory of sum_i pop_i * d(i, c)^2; (value, centre)."""
    cost = pop[members] @ d2[np.ix_(members, members)]
    best = int(np.argmin(cost))
    return float(cost[best]), int(members[best])


def measure(state: State, labels: np.ndarray, tol: float, d2: np.ndarray, g: nx.Graph) -> dict:
    """Balance, territories, contiguity, compactness and cut edges of one plan (unit labels)."""
    labels = np.asarray(labels)
    parts = [np.flatnonzero(labels == t) for t in np.unique(labels)]
    mean = state.pop.sum() / state.k
    pops = np.array([state.pop[m].sum() for m in parts])
    dev = np.abs(pops / mean - 1.0)
    split = sum(1 for m in parts if not nx.is_connected(g.subgraph(m.tolist())))
    moi = [moment_of_inertia(m, state.pop, d2) for m in parts]
    cut = int((labels[state.edges[:, 0]] != labels[state.edges[:, 1]]).sum())
    return {
        "territories": len(parts),
        "max_dev": float(dev.max()),
        "balanced": bool(len(parts) == state.k and dev.max() <= tol + BAND_EPS),
        "noncontiguous": split,
        "contiguous": split == 0,
        "moi": float(sum(v for v, _ in moi)),
        "centres": [state.ids[c] for _, c in moi],
        "cut_edges": cut,
    }


def plan_key(m: dict, tol: float) -> tuple:
    """Order plans: in band and contiguous first, then by band excess, then compactness."""
    return (not (m["balanced"] and m["contiguous"]), max(0.0, m["max_dev"] - tol), m["moi"])


# ---------------------------------------------------------------------------------------------
# the methods: each returns (labels or None, note)


def run_spopt_azp(state: State, tol: float, seeds: int, d2: np.ndarray, g: nx.Graph) -> tuple:
    import geopandas as gpd
    from libpysal.weights import W
    from spopt.region import AZP
    from spopt.region.objective_function import ObjectiveFunction

    xy = state.xy_km()
    pop = state.pop
    mean = pop.sum() / state.k
    # one unit of band excess (as a share of the mean) costs more than the whole state's
    # moment of inertia about its centroid, so balance comes first, compactness second
    centroid = np.average(xy, axis=0, weights=pop)
    penalty = 10.0 * float(pop @ ((xy - centroid) ** 2).sum(axis=1))

    class BalancedInertia(ObjectiveFunction):
        """sum_r sum_{i in r} pop_i |xy_i - centroid_r|^2 + penalty * sum_r band excess_r."""

        def __init__(self) -> None:
            super().__init__(None)

        def __call__(self, labels: np.ndarray, attr: np.ndarray) -> float:
            p, x = attr[:, 2], attr[:, :2]
            total = 0.0
            for r in np.unique(labels):
                sel = labels == r
                w = p[sel]
                c = np.average(x[sel], axis=0, weights=w) if w.sum() > 0 else x[sel].mean(0)
                total += float(w @ ((x[sel] - c) ** 2).sum(axis=1))
                total += penalty * max(0.0, abs(w.sum() / mean - 1.0) - tol)
            return total

        def update(self, moving_area, recipient_region, labels, attr) -> float:  # noqa: ANN001
            new = labels.copy()
            new[moving_area] = recipient_region
            return self(new, attr) - self(labels, attr)

    neighbours: dict[int, list[int]] = {i: [] for i in range(state.n)}
    for a, b in state.edges.tolist():
        neighbours[a].append(b)
        neighbours[b].append(a)
    w = W(neighbours, silence_warnings=True)
    gdf = gpd.GeoDataFrame({"x": xy[:, 0], "y": xy[:, 1], "pop": pop})
    best: tuple | None = None
    for seed in range(seeds):
        random.seed(seed)
        np.random.seed(seed)
        model = AZP(
            gdf,
            w,
            ["x", "y", "pop"],
            n_clusters=state.k,
            random_state=seed,
            objective_func=BalancedInertia(),
        )
        model.solve()
        labels = np.asarray(model.labels_)
        key = plan_key(measure(state, labels, tol, d2, g), tol)
        if best is None or key < best[0]:
            best = (key, labels, seed)
    assert best is not None
    return best[1], f"best of {seeds} seeds (seed {best[2]})"


def run_spopt_skater(state: State, tol: float, d2: np.ndarray, g: nx.Graph) -> tuple:
    import geopandas as gpd
    from libpysal.weights import W
    from spopt.region import Skater

    neighbours: dict[int, list[int]] = {i: [] for i in range(state.n)}
    for a, b in state.edges.tolist():
        neighbours[a].append(b)
        neighbours[b].append(a)
    w = W(neighbours, silence_warnings=True)
    xy = state.xy_km()
    gdf = gpd.GeoDataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    model = Skater(gdf, w, ["x", "y"], n_clusters=state.k, islands="ignore")
    model.solve()
    return np.asarray(model.labels_), "deterministic; no population constraint"


def run_recom(
    state: State,
    tol: float,
    steps: int,
    burst: int,
    seed: int,
    d2: np.ndarray,
    tries: int = 10,
    max_attempts: int = 2000,
    seconds: float | None = None,
) -> tuple:
    """ReCom's best plan (labels or None) and a note; with ``seconds``, the bursts stop once
    that long has passed since the call (the initial plan included)."""
    t0 = time.perf_counter()
    from gerrychain import Graph, MarkovChain, Partition
    from gerrychain.constraints import contiguous, within_percent_of_ideal_population
    from gerrychain.optimization import SingleMetricOptimizer
    from gerrychain.partition.initial_partition_generators import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.proposals.tree_proposals import MetagraphError
    from gerrychain.tree import BipartitionWarning, bipartition_tree
    from gerrychain.updaters import Tally

    warnings.filterwarnings("ignore", category=BipartitionWarning)
    nxg = state.graph()
    nx.set_node_attributes(nxg, {i: float(p) for i, p in enumerate(state.pop)}, "population")
    graph = Graph.from_networkx(nxg)
    target = state.pop.sum() / state.k
    rng = random.Random(seed)
    assignment, last, attempt = None, None, 0
    while assignment is None and attempt < tries:
        attempt += 1
        try:
            assignment = recursive_tree_part(
                graph,
                list(range(state.k)),
                target,
                "population",
                tol,
                bipartition_tree_fn=partial(bipartition_tree, max_attempts=max_attempts),
                rng=rng,
            )
        except Exception as exc:  # noqa: BLE001 - gerrychain raises several kinds here
            last = exc
    if assignment is None:
        why = " ".join(str(last).split())
        return (
            None,
            f"no initial plan within +-{tol:.0%} in {tries} tries of {max_attempts} trees ({why})",
        )
    part = Partition(graph, assignment, updaters={"population": Tally("population")})
    fg = part.graph
    unit = {v: int(fg.original_nx_node_id_for_internal_node_id(v)) for v in fg.node_indices}
    cache: dict[frozenset, float] = {}

    def score(p: Partition) -> float:
        total = 0.0
        for nodes in p.parts.values():
            key = frozenset(nodes)
            if key not in cache:
                cache[key] = moment_of_inertia(np.array([unit[v] for v in nodes]), state.pop, d2)[0]
            total += cache[key]
        return total

    def plan(p: Partition) -> np.ndarray:
        labels = np.empty(state.n, dtype=int)
        for v, t in p.assignment.to_dict().items():
            labels[unit[v]] = int(t)
        return labels

    # a pair whose merged region yields no balanced cut in max_attempts trees is given up for
    # another pair (allow_pair_reselection), so a step never stalls on one hard pair
    proposal = partial(
        recom,
        pop_col="population",
        pop_target=target,
        epsilon=tol,
        bipartition_tree_fn=partial(
            bipartition_tree, max_attempts=max_attempts, allow_pair_reselection=True
        ),
    )
    constraints = [contiguous, within_percent_of_ideal_population(part, tol)]
    stopped = ""
    if burst > 0:
        opt = SingleMetricOptimizer(proposal, constraints, part, score, maximize=False, rng=seed)
        try:
            for _ in opt.short_bursts(burst, max(1, steps // burst)):
                if seconds is not None and time.perf_counter() - t0 >= seconds:
                    stopped = f"; stopped at {seconds:.0f} s"
                    break
        except MetagraphError as exc:  # no adjacent pair could be re-split
            stopped = f"; stopped early: {exc}"
        best = opt.best_part or part
        how = f"short bursts {burst} x {max(1, steps // burst)}"
    else:
        best, best_score = part, score(part)
        try:
            for p in MarkovChain(
                proposal, constraints, initial_partition=part, total_steps=steps, rng=seed
            ):
                if (s := score(p)) < best_score:
                    best, best_score = p, s
        except MetagraphError as exc:
            stopped = f"; stopped early: {exc}"
        how = f"chain of {steps} steps"
    return plan(best), f"{how}; initial plan at try {attempt}{stopped}"


def run_engine(state: State, tol: float, time_limit: float) -> tuple:
    """The engine's plan (labels), a note, and what it claims (status, objective, bound, gap)."""
    try:
        import align

        sc = align.load_scenario(
            state.folder,
            overrides=[f"balance.potential.tolerance={tol}", f"solver.time_limit_s={time_limit}"],
        )
        run = align.solve(sc)
    except Exception as exc:  # noqa: BLE001 - the engine may refuse these scenarios
        return None, "not available: " + " ".join(str(exc).split()), {"status": "pending"}
    claim = {"status": run.status, "objective": run.objective, "bound": run.bound, "gap": run.gap}
    note = f"status {run.status}, objective {run.objective}, bound {run.bound}, gap {run.gap}"
    if run.assignments is None or len(run.assignments) == 0:
        return None, note, claim
    terr = run.assignments.set_index("account_id")["territory_id"].astype(str)
    codes = {t: i for i, t in enumerate(sorted(set(terr)))}
    labels = np.array([codes[terr[a]] for a in state.ids])
    return labels, note, claim


# ---------------------------------------------------------------------------------------------
# driver


def bench_state(code: str, args: argparse.Namespace) -> dict:
    state = load_state(code, args.data)
    d2 = great_circle_km(state.lat, state.lon) ** 2
    g = state.graph()
    out: dict[str, Any] = {"state": code, "units": state.n, "k": state.k, "methods": {}}
    for method in args.methods:
        t0 = time.perf_counter()
        claim: dict[str, Any] = {}
        if method == "engine":
            labels, note, claim = run_engine(state, args.tolerance, args.time_limit)
        elif method == "spopt-azp":
            labels, note = run_spopt_azp(state, args.tolerance, args.azp_seeds, d2, g)
        elif method == "spopt-skater":
            labels, note = run_spopt_skater(state, args.tolerance, d2, g)
        else:
            labels, note = run_recom(
                state, args.tolerance, args.recom_steps, args.recom_burst, args.seed, d2
            )
        wall = time.perf_counter() - t0
        status = "plan" if labels is not None else claim.get("status", "no plan")
        row: dict[str, Any] = {"wall_s": wall, "status": status, "note": note, "claim": claim}
        if labels is not None:
            row.update(measure(state, labels, args.tolerance, d2, g))
            row["plan"] = dict(zip(state.ids, (int(x) for x in labels), strict=True))
            if claim.get("objective"):  # the engine's objective against the one measured here
                row["objective_rel_diff"] = row["moi"] / float(claim["objective"]) - 1.0
                note += f"; measured MoI / engine objective - 1 = {row['objective_rel_diff']:.2e}"
        out["methods"][method] = row
        print(f"  {code} {method:13s} {wall:7.2f}s  {fmt_row(row)}  ({note})", flush=True)
    # compactness relative to the best plan that is in band and contiguous (any plan if none is)
    plans = [r for r in out["methods"].values() if "moi" in r]
    feasible = [r["moi"] for r in plans if r["balanced"] and r["contiguous"]]
    best = min(feasible or [r["moi"] for r in plans] or [math.nan])
    out["best_feasible_moi"] = min(feasible) if feasible else None
    for r in plans:
        r["moi_ratio"] = r["moi"] / best
    return out


def warm_imports(methods: list[str]) -> float:
    """Import each method's libraries once, so no method's wall time carries an import."""
    t0 = time.perf_counter()
    if "engine" in methods:
        try:
            import align  # noqa: F401
        except ImportError:
            pass
    if any(m.startswith("spopt") for m in methods):
        import geopandas  # noqa: F401
        import libpysal  # noqa: F401
        import spopt.region  # noqa: F401
    if "recom" in methods:
        import gerrychain  # noqa: F401
        import gerrychain.optimization  # noqa: F401
    return time.perf_counter() - t0


def fmt_row(r: dict) -> str:
    if "moi" not in r:
        return r["status"]
    return (
        f"dev {r['max_dev']:.2%}  k={r['territories']}  "
        f"{'contiguous' if r['contiguous'] else str(r['noncontiguous']) + ' split'}  "
        f"MoI {r['moi']:.4g}  cut {r['cut_edges']}"
    )


def markdown(results: list[dict], args: argparse.Namespace, header: str) -> str:
    tol = args.tolerance
    lines = [
        header,
        "",
        "| state | units | k | method | max dev | in band | contiguous | MoI (1e9 p km2) "
        "| MoI / best | cut edges | wall s |",
        "| --- | ---: | ---: | --- | ---: | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for res in results:
        for method in args.methods:
            r = res["methods"][method]
            head = f"| {res['state']} | {res['units']} | {res['k']} | {method} "
            if "moi" not in r:
                lines.append(head + f"| {r['status']} | | | | | | {r['wall_s']:.2f} |")
                continue
            lines.append(
                head + f"| {r['max_dev']:.2%} | {'yes' if r['balanced'] else '**no**'} "
                f"| {'yes' if r['contiguous'] else '**no** (' + str(r['noncontiguous']) + ')'} "
                f"| {r['moi'] / 1e9:,.2f} | {r['moi_ratio']:.3f} | {r['cut_edges']} "
                f"| {r['wall_s']:.2f} |"
            )
    lines += [
        "",
        f"Summary over {len(results)} states (band +-{tol:.0%}):",
        "",
        "| method | in band | contiguous | both | MoI / best (geometric mean, its plans in band "
        "and contiguous) | best plan of the state | proved no plan | wall s (total) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for method in args.methods:
        rows = [res["methods"][method] for res in results]
        done = [r for r in rows if "moi" in r]
        wall = sum(r["wall_s"] for r in rows)
        if all(r["status"] == "pending" for r in rows):
            lines.append(f"| {method} | pending | pending | pending | | | | {wall:.1f} |")
            continue
        ok = [r for r in done if r["balanced"] and r["contiguous"]]
        wins = 0
        for res in results:
            r = res["methods"][method]
            feas = [
                x["moi"]
                for x in res["methods"].values()
                if "moi" in x and x["balanced"] and x["contiguous"]
            ]
            if any(r is x for x in ok) and r["moi"] <= min(feas) * (1 + 1e-9):
                wins += 1
        gm = math.exp(np.mean([math.log(r["moi_ratio"]) for r in ok])) if ok else None
        proved = sum(r["status"] == "infeasible" for r in rows)  # only an exact method can
        lines.append(
            f"| {method} | {sum(r['balanced'] for r in done)}/{len(rows)} "
            f"| {sum(r['contiguous'] for r in done)}/{len(rows)} | {len(ok)}/{len(rows)} "
            f"| {'n/a' if gm is None else f'{gm:.3f}'} | {wins}/{len(rows)} | {proved} "
            f"| {wall:.1f} |"
        )
    return "\n".join(lines) + "\n"


def versions() -> str:
    names = ["spopt", "libpysal", "gerrychain", "networkx", "numpy", "align"]
    found = []
    for n in names:
        try:
            found.append(f"{n} {metadata.version(n)}")
        except metadata.PackageNotFoundError:
            found.append(f"{n} n/a")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--states", default=",".join(STATES), help="comma-separated state codes")
    ap.add_argument("--methods", default=",".join(METHODS), help="subset of " + ",".join(METHODS))
    ap.add_argument("--tolerance", type=float, default=0.05, help="population band (+-)")
    ap.add_argument("--time-limit", type=float, default=60.0, help="engine time limit, s")
    ap.add_argument("--azp-seeds", type=int, default=10, help="AZP random starts (best kept)")
    ap.add_argument("--recom-steps", type=int, default=1000, help="ReCom steps in all")
    ap.add_argument(
        "--recom-burst",
        type=int,
        default=10,
        help="short-burst length (0 = one plain chain, best plan seen kept)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DATA, help="folder holding counties-XX/")
    ap.add_argument("--json", type=Path, help="write all results (with plans) here")
    ap.add_argument("--out", type=Path, help="write the markdown tables here")
    args = ap.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if bad := sorted(set(args.methods) - set(METHODS)):
        ap.error(f"unknown method(s) {bad}; choose from {', '.join(METHODS)}")
    states = [s.strip().upper() for s in args.states.split(",") if s.strip()]
    command = "benchmarks/bench_peers.py " + " ".join(argv if argv is not None else sys.argv[1:])
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"`{command.strip()}`: band +-{args.tolerance:.0%}, engine time limit "
        f"{args.time_limit:g} s, AZP {args.azp_seeds} seeds, ReCom {args.recom_steps} steps "
        f"(burst {args.recom_burst}), seed {args.seed}; {stamp}, commit {commit()}; "
        f"{versions()}."
    )
    print(header, flush=True)
    print(f"imports (not timed): {warm_imports(args.methods):.1f} s", flush=True)
    results = [bench_state(s, args) for s in states]
    text = markdown(results, args, header)
    print()
    print(text)
    write_outputs(args, header, results, text)
    return 0


def write_outputs(args: argparse.Namespace, header: str, results: list, text: str) -> None:
    """The table to ``--out`` and the results to ``--json``, where asked for."""
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"header": header, "results": results}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
