#!/usr/bin/env python3
"""Fixed reps' territories in one piece on real ZIP codes (issue 15, point 4).

The ZIP codes of a few states (``benchmarks/data/zips-US``: Delaunay adjacency kept within a
county or between adjacent counties, so no edge crosses a lake or a strait) are aligned to
``--reps`` fixed home bases: the potential-weighted k-means centres of the units (seeded),
each moved to its nearest unit; today's owner of a unit is its nearest rep. The same scenario
is solved twice with ``align.solve``: without contiguity and with it (``constraints.contiguity
= true``). Every plan is measured here, not by the engine: territories in pieces (networkx
components of each territory in the adjacency), the largest deviation from the band's target,
the potential-weighted mean distance to the rep, and the rep whose accounts lie farthest
on average.

    .venv/bin/python benchmarks/bench_fixed_zip.py --states MI,WI,MN,IL --reps 40 \\
        --time-limit 180 --json fixed_zip.json --out fixed_zip.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from align.geo import haversine_km

DATA = Path(__file__).resolve().parent / "data" / "zips-US"


def build(
    states: list[str], reps: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(accounts with today's owner, territories with home bases, adjacency) of the states."""
    a = pd.read_csv(DATA / "accounts.csv", dtype={"account_id": str, "county": str})
    e = pd.read_csv(DATA / "adjacency.csv", dtype=str)
    unknown = sorted(set(states) - set(a["state"]))
    if unknown:
        raise SystemExit(f"no ZIP codes for state(s) {', '.join(unknown)} in {DATA}")
    a = a[a["state"].isin(states)].reset_index(drop=True)
    ids = set(a["account_id"])
    e = e[e["account_id"].isin(ids) & e["neighbor_id"].isin(ids)].reset_index(drop=True)
    # units reached only through a state left out (Rock Island IL from Iowa, the Upper
    # Peninsula alone): the largest connected part is kept, the rest said
    G = nx.Graph()
    G.add_nodes_from(ids)
    G.add_edges_from(e[["account_id", "neighbor_id"]].itertuples(index=False))
    main = max(nx.connected_components(G), key=len)
    if len(main) < len(ids):
        print(f"left out: {len(ids) - len(main)} units not joined to the rest", file=sys.stderr)
        a = a[a["account_id"].isin(main)].reset_index(drop=True)
        e = e[e["account_id"].isin(main)].reset_index(drop=True)
    xy = a[["lat", "lon"]].to_numpy()
    km = KMeans(reps, n_init=4, random_state=seed).fit(xy, sample_weight=a["potential"])
    home = np.unique([int(np.argmin(((xy - c) ** 2).sum(axis=1))) for c in km.cluster_centers_])
    if len(home) < reps:
        raise SystemExit(f"only {len(home)} distinct home bases for {reps} reps")
    terr = pd.DataFrame(
        {
            "territory_id": [f"R{i + 1:02d}" for i in range(reps)],
            "name": a["name"].to_numpy()[home],
            "lat": a["lat"].to_numpy()[home],
            "lon": a["lon"].to_numpy()[home],
        }
    )
    d = haversine_km(
        a["lat"].to_numpy()[:, None],
        a["lon"].to_numpy()[:, None],
        terr["lat"].to_numpy()[None],
        terr["lon"].to_numpy()[None],
    )
    acc = a[["account_id", "name", "lat", "lon", "potential"]].copy()
    acc["current_territory"] = terr["territory_id"].to_numpy()[np.argmin(d, axis=1)]
    return acc, terr, e


def measure(
    acc: pd.DataFrame, terr: pd.DataFrame, adj: pd.DataFrame, owner: pd.Series, tol: float
) -> dict[str, Any]:
    """Pieces, deviation and distances of a plan (``owner``: account_id -> territory_id)."""
    G = nx.Graph()
    G.add_nodes_from(acc["account_id"])
    G.add_edges_from(adj[["account_id", "neighbor_id"]].itertuples(index=False))
    t_of = owner.reindex(acc["account_id"]).to_numpy()
    pieces = {}
    for t in terr["territory_id"]:
        members = acc["account_id"].to_numpy()[t_of == t]
        pieces[t] = nx.number_connected_components(G.subgraph(members)) if len(members) else 0
    pot = acc.groupby(t_of)["potential"].sum().reindex(terr["territory_id"]).fillna(0.0)
    target = acc["potential"].sum() / len(terr)
    home = terr.set_index("territory_id").loc[t_of]
    dist = haversine_km(
        acc["lat"].to_numpy(), acc["lon"].to_numpy(), home["lat"].to_numpy(), home["lon"].to_numpy()
    )
    w = acc["potential"].to_numpy()
    per_rep = pd.Series(dist * w).groupby(t_of).sum() / pd.Series(w).groupby(t_of).sum()
    worst = str(per_rep.idxmax())
    return {
        "in_pieces": int(sum(p > 1 for p in pieces.values())),
        "pieces_max": int(max(pieces.values())),
        "max_dev": float((pot / target - 1).abs().max()),
        "in_band": bool(((pot / target - 1).abs() <= tol + 1e-9).all()),
        "mean_km": float((dist * w).sum() / w.sum()),
        "worst_rep": f"{worst} ({terr.set_index('territory_id').loc[worst, 'name']})",
        "worst_rep_km": float(per_rep.max()),
        "moved_share": float((t_of != acc["current_territory"].to_numpy()).mean()),
    }


def solve(
    acc: pd.DataFrame,
    terr: pd.DataFrame,
    adj: pd.DataFrame,
    args: argparse.Namespace,
    contiguity: bool,
) -> dict[str, Any]:
    import align

    sc = align.make_scenario(
        acc.drop(columns=["name"]),
        terr,
        adjacency=adj,
        settings={
            "balance": {"potential": {"tolerance": args.tolerance}},
            "objective": {"travel_weight": "potential"},
            "constraints": {"contiguity": contiguity},
            "solver": {"time_limit_s": args.time_limit, "gap": args.gap},
        },
        name="fixed-zip",
    )
    load = os.getloadavg()
    t0 = time.perf_counter()
    run = align.solve(sc)
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {
        "contiguity": contiguity,
        "status": str(run.status),
        "objective": run.objective,
        "bound": run.bound,
        "gap": run.gap,
        "wall_s": round(wall, 1),
        "load": f"{load[0]:.2f} -> {os.getloadavg()[0]:.2f}",
        "reasons": run.reasons[:3],
    }
    if run.assignments is not None and len(run.assignments):
        owner = run.assignments.set_index("account_id")["territory_id"].astype(str)
        out.update(measure(acc, terr, adj, owner, args.tolerance))
    return out


def markdown(r: dict[str, Any], header: str) -> str:
    cols = ["contiguity", "status", "wall_s", "load", "in_band", "max_dev", "in_pieces",
            "pieces_max", "mean_km", "worst_rep", "worst_rep_km", "moved_share", "objective",
            "bound", "gap"]  # fmt: skip
    fmt = {"max_dev": "{:.2%}", "moved_share": "{:.1%}", "gap": "{:.2%}", "mean_km": "{:.1f}",
           "worst_rep_km": "{:.1f}", "objective": "{:.4g}", "bound": "{:.4g}"}  # fmt: skip
    lines = [header, "", f"{r['units']} ZIP units, {r['edges']} adjacencies, {r['reps']} reps, "
             f"+-{r['tolerance']:.0%}, limit {r['time_limit']} s", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]  # fmt: skip
    for row in r["runs"]:
        cells = []
        for c in cols:
            v = row.get(c)
            cells.append("" if v is None else fmt.get(c, "{}").format(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--states", default="MI,WI,MN,IL", help="two-letter codes, comma-separated")
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--time-limit", type=float, default=180.0)
    ap.add_argument("--gap", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--without", action=argparse.BooleanOptionalAction, default=True,
                    help="also solve without contiguity (the plan to compare)")  # fmt: skip
    ap.add_argument("--json", type=Path)
    ap.add_argument("--out", type=Path, help="markdown table")
    args = ap.parse_args(argv)
    states = [s.strip().upper() for s in args.states.split(",") if s.strip()]
    acc, terr, adj = build(states, args.reps, args.seed)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    cmd = " ".join(sys.argv[1:] if argv is None else argv)
    now = dt.datetime.now(dt.UTC)
    header = f"`benchmarks/bench_fixed_zip.py {cmd}`: {now:%Y-%m-%d %H:%M} UTC, commit {commit}"
    r: dict[str, Any] = {
        "states": states, "units": len(acc), "edges": len(adj), "reps": args.reps,
        "tolerance": args.tolerance, "time_limit": args.time_limit, "runs": [],
    }  # fmt: skip
    for contiguity in ([False] if args.without else []) + [True]:
        row = solve(acc, terr, adj, args, contiguity)
        print(json.dumps(row), flush=True)
        r["runs"].append(row)
    md = markdown(r, header)
    print(md)
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))
    if args.out:
        args.out.write_text(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
