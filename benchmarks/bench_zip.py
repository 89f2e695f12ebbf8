#!/usr/bin/env python3
"""The whole country at ZIP scale: the engine beside GerryChain ReCom, same time, one run.

The lower-48 ZIP codes (``benchmarks/data/zips-US``, built by ``scripts/make_us_zips.py``:
37,031 units, Delaunay adjacency within adjacent counties, potential a population proxy) into
k contiguous territories at +-tolerance, greenfield, moment of inertia.

* ``engine``: ``align.solve`` with ``solver.time_limit_s``; its claimed bound and gap are kept,
  its peak memory (this process's) noted.
* ``recom``: GerryChain ReCom (``bench_peers.run_recom``: a ``recursive_tree_part`` start within
  the band, short bursts of 10 steps steered by the moment of inertia) in a child process, for
  the engine's wall time; a child still looking for its start then is stopped, and said so.
* ``spopt-skater``, ``spopt-azp``: spopt's Skater and AZP (``bench_national.run_spopt``), each
  in a child process for the engine's wall time; one still working then has no plan.

Every plan is measured here (``bench_peers.measure``: networkx contiguity, deviation from the
mean, moment of inertia around each territory's best member, great-circle km computed per
territory, no all-pairs matrix). Ratios are each peer's over the engine's, for plans within
the band (above 1: the engine's plan is more compact). ``uptime``'s load average is printed
before and after each method.

    nice -n 10 .venv/bin/python benchmarks/bench_zip.py --k 200 --time-limit 900 \\
        --json zip.json --out zip.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_national as bn  # noqa: E402 - the engine runner
import bench_peers as bp  # noqa: E402 - State, metrics, ReCom

from align.geo import haversine_km  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "zips-US"


class SquaredKm:
    """``d2[np.ix_(rows, cols)]`` of great-circle km squared, computed on demand (the all-pairs
    matrix of 37,031 units would take 11 GB)."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray) -> None:
        self.lat, self.lon = lat, lon

    def __getitem__(self, index: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        r, c = index
        d = haversine_km(self.lat[r], self.lon[r], self.lat[c], self.lon[c])
        return np.asarray(d * d)


def load(folder: Path, k: int) -> bp.State:
    acc = pd.read_csv(folder / "accounts.csv", dtype={"account_id": str})
    adj = pd.read_csv(folder / "adjacency.csv", dtype={"account_id": str, "neighbor_id": str})
    index = pd.Index(acc["account_id"])
    a, b = index.get_indexer(adj["account_id"]), index.get_indexer(adj["neighbor_id"])
    edges = np.unique(np.sort(np.column_stack((a, b))[a != b], axis=1), axis=0)
    return bp.State(
        name="zips-US",
        folder=folder,
        ids=acc["account_id"].tolist(),
        lat=acc["lat"].to_numpy(float),
        lon=acc["lon"].to_numpy(float),
        pop=acc["potential"].to_numpy(float),
        edges=edges,
        k=k,
    )


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _recom(state: bp.State, tol: float, seed: int, seconds: float) -> tuple:
    d2 = SquaredKm(state.lat, state.lon)
    labels, note = bp.run_recom(state, tol, 10**9, 10, seed, d2, seconds=seconds)  # type: ignore[arg-type]
    return labels, note, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_recom(state: bp.State, tol: float, seed: int, seconds: float) -> tuple:
    """ReCom's plan (or None), a note and its peak memory (MB), stopped ``seconds`` after the
    start (a minute more for the step it is in)."""
    try:
        result, took = bp.in_child(_recom, (state, tol, seed, seconds), seconds + 60)
    except bp.ChildFailed as exc:
        return None, f"failed: {exc}", None
    if result is None:
        return (
            None,
            f"no plan within {took:.0f} s: recursive_tree_part was still "
            f"looking for a start within +-{tol:.0%} (stopped)",
            None,
        )
    labels, note, rss = result
    return labels, note, rss / 1024


def bench(args: argparse.Namespace) -> dict:
    state = load(args.data, args.k)
    g = state.graph()
    d2 = SquaredKm(state.lat, state.lon)
    out: dict = {"k": args.k, "units": state.n, "edges": len(state.edges)}
    if "engine" in args.methods:
        load0 = load_average()
        t0 = time.perf_counter()
        labels, note, claim = bn.run_engine_k(state, args.k, args.tolerance, args.time_limit)
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["engine"] = {
            "wall_s": round(wall, 1),
            "note": note,
            "claim": claim,
            "peak_mb": round(rss),
            "load": f"{load0} -> {load_average()}",
        }
        if labels is not None:
            out["engine"].update(bp.measure(state, labels, args.tolerance, d2, g))  # type: ignore[arg-type]
        print(f"engine {wall:.1f} s, peak {rss:.0f} MB: {note}", flush=True)
    if "recom" in args.methods:
        budget = out.get("engine", {}).get("wall_s", args.time_limit)
        load0 = load_average()
        t0 = time.perf_counter()
        labels, note, rss = run_recom(state, args.tolerance, args.seed, budget)
        out["recom"] = {
            "wall_s": round(time.perf_counter() - t0, 1),
            "note": note,
            "peak_mb": None if rss is None else round(rss),
            "load": f"{load0} -> {load_average()}",
        }
        if labels is not None:
            out["recom"].update(bp.measure(state, labels, args.tolerance, d2, g))  # type: ignore[arg-type]
        print(f"recom: {note}", flush=True)
    for method in bn.SPOPT:
        if method not in args.methods:
            continue
        budget = out.get("engine", {}).get("wall_s", args.time_limit)
        load0 = load_average()
        t0 = time.perf_counter()
        labels, note = bn.run_spopt(method, state, args.tolerance, budget, d2)
        out[method] = {
            "wall_s": round(time.perf_counter() - t0, 1),
            "note": note,
            "load": f"{load0} -> {load_average()}",
        }
        if labels is not None:
            out[method].update(bp.measure(state, labels, args.tolerance, d2, g))  # type: ignore[arg-type]
        print(f"{method}: {note}", flush=True)
    for name in bn.METHODS:
        out.get(name, {}).pop("centres", None)
    return out


def markdown(r: dict, header: str) -> str:
    lines = [
        header,
        "",
        "| method | wall s | load average | peak MB | in band | contiguous (networkx) | max dev "
        "| moment of inertia | bound | gap | peer / engine |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m, tail in bn.measured_cells(r, note_chars=160):
        lines.append(f"| {name} | {m['wall_s']} | {m['load']} | {m.get('peak_mb') or ''} | " + tail)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    with (DATA / "scenario.toml").open("rb") as f:
        k0 = int(tomllib.load(f)["territories"]["count"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=k0, help="territory count")
    ap.add_argument("--methods", default="engine,recom", help=f"subset of {','.join(bn.METHODS)}")
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--time-limit", type=float, default=900.0, help="engine time limit, s")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DATA, help="the zips-US scenario folder")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",")]
    command = "benchmarks/bench_zip.py " + " ".join(argv if argv is not None else sys.argv[1:])
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"`{command.strip()}`: {stamp}, commit {bp.commit()}; {bp.versions()}."
    print(header, flush=True)
    result = bench(args)
    text = markdown(result, header)
    print(text)
    bp.write_outputs(args, header, [result], text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
