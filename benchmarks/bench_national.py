#!/usr/bin/env python3
"""Contiguous territories at national scale: the engine beside GerryChain ReCom, same time.

The lower-48 counties (``benchmarks/data/counties-US``, built by ``scripts/make_us_counties.py``
from the us-atlas shapes; potential a population proxy) into k territories at +-tolerance,
greenfield, moment of inertia. For each k:

* ``engine``: ``align.solve`` with ``solver.time_limit_s``; its claimed bound and gap are kept.
* ``recom``: GerryChain ReCom (the configuration of ``bench_peers.py``: a
  ``recursive_tree_part`` start within the band, short bursts of 10 steps steered by the moment of
  inertia) run until the engine's wall time is spent (at least ``--recom-min`` s).
* ``spopt-skater``, ``spopt-azp``: PySAL spopt's Skater and AZP (one start), as configured in
  ``bench_peers.py``, each in a child process stopped once the engine's wall time (at least
  ``--recom-min`` s) is spent; a peer still working then has no plan.

Every plan is measured here, not by the engine (``bench_peers.measure``: networkx contiguity,
deviation from the mean, moment of inertia around each territory's best member unit, on
great-circle km). Ratios are each peer's over the engine's, for plans within the band (above 1:
the engine is more compact).

    nice -n 10 .venv/bin/python benchmarks/bench_national.py --k 20,50 --time-limit 600
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_peers as bp  # noqa: E402 - the shared loader, metrics and engine runner

DATA = Path(__file__).resolve().parent / "data"


def bench_k(k: int, args: argparse.Namespace) -> dict:
    state = bp.load_state("US", args.data)
    state.k = k
    d2 = bp.great_circle_km(state.lat, state.lon) ** 2
    g = state.graph()
    out: dict = {"k": k, "units": state.n}
    t0 = time.perf_counter()
    labels, note, claim = run_engine_k(state, k, args.tolerance, args.time_limit, args.threads)
    wall = time.perf_counter() - t0
    out["engine"] = {"wall_s": round(wall, 1), "note": note, "claim": claim}
    if labels is not None:
        out["engine"].update(bp.measure(state, labels, args.tolerance, d2, g))
    print(f"k={k} engine {wall:.1f} s: {note}", flush=True)
    if "recom" in args.methods:
        budget = max(wall, args.recom_min)
        t0 = time.perf_counter()
        labels, note = bp.run_recom(state, args.tolerance, 10**9, 10, args.seed, d2, seconds=budget)
        out["recom"] = {"wall_s": round(time.perf_counter() - t0, 1), "note": note}
        if labels is not None:
            out["recom"].update(bp.measure(state, labels, args.tolerance, d2, g))
        print(f"k={k} recom: {note}", flush=True)
    for method in SPOPT:
        if method not in args.methods:
            continue
        t0 = time.perf_counter()
        labels, note = run_spopt(method, state, args.tolerance, max(wall, args.recom_min), d2)
        out[method] = {"wall_s": round(time.perf_counter() - t0, 1), "note": note}
        if labels is not None:
            out[method].update(bp.measure(state, labels, args.tolerance, d2, g))
        print(f"k={k} {method}: {note}", flush=True)
    for name in METHODS:
        out.get(name, {}).pop("centres", None)
    return out


METHODS = ("engine", "recom", "spopt-skater", "spopt-azp")
SPOPT = METHODS[2:]


def _spopt(method: str, state: bp.State, tol: float, d2: Any) -> tuple:
    g = state.graph()
    if method == "spopt-skater":
        return bp.run_spopt_skater(state, tol, d2, g)
    return bp.run_spopt_azp(state, tol, 1, d2, g)


def run_spopt(method: str, state: bp.State, tol: float, seconds: float, d2: Any) -> tuple:
    """A spopt method's plan (or None) and a note, stopped ``seconds`` after the start."""
    try:
        result, took = bp.in_child(_spopt, (method, state, tol, d2), seconds)
    except bp.ChildFailed as exc:
        return None, f"failed: {exc}"
    if result is None:
        return None, f"no plan within {took:.0f} s (stopped)"
    labels, note = result
    return labels, f"{note}; {took:.1f} s"


def run_engine_k(
    state: bp.State, k: int, tol: float, limit: float, threads: int | None = None
) -> tuple:
    import align

    overrides = [
        f"territories.count={k}",
        f"balance.potential.tolerance={tol}",
        f"solver.time_limit_s={limit}",
    ]
    if threads is not None:
        overrides.append(f"solver.threads={threads}")
    sc = align.load_scenario(state.folder, overrides=overrides)
    run = align.solve(sc)
    claim = {
        "status": run.status,
        "objective": run.objective,
        "bound": run.bound,
        "gap": run.gap,
        "reasons": run.reasons[:5],
        "search": run.stats.get("search"),
        "bound_method": run.stats.get("bound_method"),
    }
    note = f"status {run.status}, objective {run.objective}, bound {run.bound}, gap {run.gap}"
    if run.reasons:
        note += "; " + " | ".join(run.reasons[:5])
    if run.assignments is None or len(run.assignments) == 0:
        return None, note, claim
    terr = run.assignments.set_index("account_id")["territory_id"].astype(str)
    codes = {t: i for i, t in enumerate(sorted(set(terr)))}
    return np.array([codes[terr[a]] for a in state.ids]), note, claim


def markdown(results: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "| k | method | wall s | in band | contiguous (checked) | max dev | moment of inertia "
        "| bound | gap | peer / engine |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, m, tail in measured_cells(r, note_chars=120):
            lines.append(f"| {r['k']} | {name} | {m['wall_s']} | " + tail)
    return "\n".join(lines) + "\n"


def measured_cells(r: dict, note_chars: int) -> list[tuple[str, dict, str]]:
    """Per method of one result (engine, then the peers): its name, its measures and the row's
    cells from "in band" to "peer / engine" (the ratio of moments of inertia, on a peer's row,
    when both plans are within the band)."""
    e = r.get("engine", {})
    out = []
    for name in METHODS:
        m = r.get(name, {})
        if not m:
            continue
        ratio = (
            f"{m['moi'] / e['moi']:.3f}"
            if "moi" in e and "moi" in m and e.get("balanced") and m.get("balanced")
            else ""
        )
        claim = m.get("claim", {})
        b, gp = claim.get("bound"), claim.get("gap")
        out.append((
            name,
            m,
            f"{m.get('balanced', '')} | {m.get('contiguous', '')} | "
            + (f"{m['max_dev']:.2%}" if "max_dev" in m else "")
            + " | "
            + (f"{m['moi']:.4g}" if "moi" in m else m["note"][:note_chars])
            + f" | {'' if b is None else f'{b:.4g}'} | {'' if gp is None else f'{gp:.1%}'} | "
            + (ratio if name != "engine" else "")
            + " |",
        ))  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", default="20,50", help="territory counts, comma-separated")
    ap.add_argument("--methods", default="engine,recom", help=f"subset of {','.join(METHODS)}")
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--time-limit", type=float, default=600.0, help="engine time limit, s")
    ap.add_argument("--recom-min", type=float, default=30.0, help="peers at least this long, s")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="the engine's solver.threads (default: its own)")
    ap.add_argument("--data", type=Path, default=DATA, help="folder holding counties-US/")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",")]
    command = "benchmarks/bench_national.py " + " ".join(argv if argv is not None else sys.argv[1:])
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"`{command.strip()}`: {stamp}, commit {bp.commit()}; {bp.versions()}."
    print(header, flush=True)
    results = [bench_k(int(k), args) for k in args.k.split(",")]
    text = markdown(results, header)
    print(text)
    bp.write_outputs(args, header, results, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
