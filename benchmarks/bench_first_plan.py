#!/usr/bin/env python3
"""The first plan alone (``engine/first_plan.FirstPlan``) over the shapes of ``generate.SHAPES``:
whether it holds every rule, when it first held (before its local search), how long it took
with the local search, how it was made and what it costs.

The first plan is what a solve stopped before its LP's plan returns (docs/speed.md, "A plan
first, always"), so it is measured on its own, made in line with the whole of ``--limit`` for it
(``FIRST_PLAN_INLINE_SHARE`` of a clock of ``--limit / share`` seconds). The plan is checked here
against every band, capacity and the moved cap (``repair.exact_violation``), locks and
eligibility.

    .venv/bin/python benchmarks/bench_first_plan.py                  # 5,000 x 50, 6 x 3 books
    .venv/bin/python benchmarks/bench_first_plan.py --sizes 1500x15,3000x30 --seeds 1,2,3,4,5
    .venv/bin/python benchmarks/bench_first_plan.py --whole 1,2   # also whole solves, 1 s and 2 s

``--whole`` solves each book whole (``align.solve``, gap 0.5%) with each time limit and says
whether it returned a plan (the main path's or the first plan), in how long, and whose.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from generate import SHAPES, settings_toml  # noqa: E402

import align  # noqa: E402
from align.engine import first_plan  # noqa: E402
from align.engine.common import Clock  # noqa: E402
from align.engine.fixed import default_candidates  # noqa: E402
from align.engine.formulation import build_problem  # noqa: E402
from align.engine.repair import exact_violation  # noqa: E402


def one(shape: str, n: int, m: int, seed: int, limit: float) -> dict[str, object]:
    sh = SHAPES[shape]
    accounts, territories = sh.generate(n, m, seed)
    conf = tomllib.loads(settings_toml(seed=seed, max_moved_share=sh.max_moved_share))
    problem = build_problem(align.make_scenario(accounts, territories, settings=conf))
    pairs = problem.nearest_pairs(default_candidates(problem.m))
    clock = Clock(limit / first_plan.FIRST_PLAN_INLINE_SHARE)
    t0 = time.perf_counter()
    fp = first_plan.FirstPlan(problem, pairs, clock, background=False)
    seconds = time.perf_counter() - t0
    plan = fp.assign
    holds = plan is not None and exact_violation(problem, plan) == 0
    if plan is not None:
        locked = problem.fixed >= 0
        holds &= bool((plan[locked] == problem.fixed[locked]).all())
        holds &= bool(problem.eligible_rows(np.arange(problem.n))[np.arange(problem.n), plan].all())
    return {
        "size": f"{n}x{m}",
        "shape": shape,
        "seed": seed,
        "plan": plan is not None,
        "holds": bool(holds),
        "seconds": round(seconds, 2),
        "held": None if fp.held is None else round(fp.held, 2),
        "method": fp.method,
        "objective": problem.plan_cost(plan) if plan is not None else None,
    }


def whole(shape: str, n: int, m: int, seed: int, limit: float) -> dict[str, object]:
    sh = SHAPES[shape]
    accounts, territories = sh.generate(n, m, seed)
    conf = tomllib.loads(
        settings_toml(seed=seed, max_moved_share=sh.max_moved_share, time_limit_s=limit)
    )
    t0 = time.perf_counter()
    run = align.solve(align.make_scenario(accounts, territories, settings=conf))
    fp = run.stats.get("first_plan", {})
    return {
        "size": f"{n}x{m}",
        "shape": shape,
        "seed": seed,
        "limit": limit,
        "status": run.status,
        "seconds": round(time.perf_counter() - t0, 2),
        "whose": f"first plan ({fp['method']})" if fp.get("used") else "main path",
    }


def _books(a: argparse.Namespace) -> Iterator[tuple[str, int, int, int]]:
    """(shape, accounts, territories, seed) of every book the arguments name, in order."""
    for size in a.sizes.split(","):
        n, m = (int(x) for x in size.split("x"))
        for shape in a.shapes.split(","):
            for seed in (int(s) for s in a.seeds.split(",")):
                yield shape, n, m, seed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="5000x50")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds for each first plan")
    ap.add_argument("--whole", default="", help="time limits of whole solves, e.g. 1,2")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    rows = []
    print("| size | shape | seed | holds every rule | held at s | seconds | method | objective |")
    print("|---|---|---:|---|---:|---:|---|---:|")
    for shape, n, m, seed in _books(a):
        r = one(shape, n, m, seed, a.limit)
        rows.append(r)
        obj = "" if r["objective"] is None else f"{r['objective']:.4e}"
        held = "yes" if r["holds"] else ("**no** (broken)" if r["plan"] else "no plan")
        print(
            f"| {r['size']} | {shape} | {seed} | {held} | {r['held'] or ''} | {r['seconds']} | "
            f"{r['method']} | {obj} |",
            flush=True,
        )
    secs = [float(r["seconds"]) for r in rows]  # type: ignore[arg-type]
    held_at = [float(r["held"]) for r in rows if r["held"] is not None]  # type: ignore[arg-type]
    print(
        f"\nholds every rule: {sum(bool(r['holds']) for r in rows)} of {len(rows)}; seconds "
        f"median {statistics.median(secs):.2f}, worst {max(secs):.2f}"
        + (
            f"; held at median {statistics.median(held_at):.2f}, worst {max(held_at):.2f}"
            if held_at
            else ""
        )
    )
    wholes = []
    for limit in (float(x) for x in a.whole.split(",") if x):
        print(f"\nwhole solves, time limit {limit:g} s\n")
        print("| size | shape | seed | status | seconds | plan |")
        print("|---|---|---:|---|---:|---|")
        for shape, n, m, seed in _books(a):
            w = whole(shape, n, m, seed, limit)
            wholes.append(w)
            print(
                f"| {w['size']} | {shape} | {seed} | {w['status']} | {w['seconds']} | "
                f"{w['whose'] if w['status'] != 'no_solution' else ''} |",
                flush=True,
            )
        got = [w for w in wholes if w["limit"] == limit and w["status"] != "no_solution"]
        print(f"\nwith a plan at {limit:g} s: {len(got)} of {len(rows)}")
    if a.json:
        a.json.write_text(json.dumps({"first_plan": rows, "whole": wholes}, indent=1))
    return 0 if all(r["holds"] or not r["plan"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
