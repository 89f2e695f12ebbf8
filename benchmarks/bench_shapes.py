#!/usr/bin/env python3
"""The engine over a family of book shapes and seeds: the worst case and the median per size.

For every size, every shape of ``generate.SHAPES`` (or ``--shapes``) and every seed, a scenario is
generated, written to a temporary folder and solved by the engine in its own subprocess
(``bench_core.py --method engine``), which checks the plan independently: every account once,
every band, locks, one-segment territories, the moved cap, the objective recomputed. The naive
full MIP (every pair in PuLP, solved by HiGHS) runs beside it on the instances ``--naive`` names:
``worst`` (the engine's slowest instance of the size; the default for sizes up to 5,000 x 50),
``all`` or ``none``. The load average is recorded before and after every solve.

    .venv/bin/python benchmarks/bench_shapes.py            # 5,000 x 50, 6 shapes x 3 seeds
    .venv/bin/python benchmarks/bench_shapes.py --sizes 100000x200 --gap 0.01 --time-limit 120 \\
        --naive none --shapes capped,heavy,whale
    .venv/bin/python benchmarks/bench_shapes.py --threads 1 --json /tmp/t1.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_core import _child, _fmt, _machine, _verdict  # noqa: E402
from generate import SHAPES, settings_toml, write_scenario  # noqa: E402

NAIVE_MAX_PAIRS = 250_000  # the naive PuLP model beyond this is minutes of object building alone


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _one(
    n: int, m: int, shape: str, seed: int, a: argparse.Namespace, methods: list[str]
) -> list[dict[str, Any]]:
    sh = SHAPES[shape]
    accounts, territories = sh.generate(n, m, seed)
    out = []
    with tempfile.TemporaryDirectory(prefix="align-shapes-") as tmp:
        folder = Path(tmp)
        text = settings_toml(
            tolerance_potential=a.tolerance_potential,
            tolerance_workload=a.tolerance_workload,
            time_limit_s=a.time_limit,
            gap=a.gap,
            seed=seed,
            max_moved_share=sh.max_moved_share,
            threads=a.threads,
        )
        write_scenario(folder, accounts, territories, text)
        for method in methods:
            # the naive reference gets its own limit (--naive all gave it the engine's)
            limit = a.naive_time_limit if method == "naive" else a.time_limit
            ns = Namespace(time_limit=limit, gap=a.gap, seed=seed)
            before = _load()
            res = _child(method, folder, ns)
            res.update(
                accounts=n, territories=m, shape=shape, seed=seed, load_before=before,
                load_after=_load(), threads=a.threads,
            )  # fmt: skip
            out.append(res)
            _print_row(res)
    return out


HEAD = (
    f"{'size':>11} {'shape':<12} {'seed':>4} {'method':<6} {'status':<11} {'gap':>8} "
    f"{'wall s':>7} {'first s':>7} {'peak MiB':>8} {'check':<5} {'load':<15} phases (s)"
)


def _print_row(r: dict[str, Any]) -> None:
    ph = (r.get("stats") or {}).get("phases", {})
    phases = ", ".join(f"{k} {v:.2f}" for k, v in ph.items() if v >= 0.05)
    size = f"{r['accounts']}x{r['territories']}"
    print(
        f"{size:>11} {r['shape']:<12} {r['seed']:>4} {r['method']:<6} {r.get('status', '?'):<11} "
        f"{_fmt(r.get('gap'), '.3%'):>8} {_fmt(r.get('wall_s'), '.2f'):>7} "
        f"{_fmt(r.get('first_plan_s'), '.2f'):>7} {_fmt(r.get('peak_mib'), '.0f'):>8} "
        f"{_verdict(r.get('check') or {}):<5} {r['load_before']:<15} {phases}",
        flush=True,
    )
    if r.get("error"):
        print(f"    error: {r['error'][-400:]}")
    for p in (r.get("check") or {}).get("problems", []):
        print(f"    check: {p}")


def _certified(r: dict[str, Any], gap: float) -> bool:
    ok = _verdict(r.get("check") or {}) == "PASS"
    return ok and r.get("status") == "optimal" and (r.get("gap") or math.inf) <= gap + 1e-12


def summarise(results: list[dict[str, Any]], gap: float) -> list[str]:
    """Worst and median per size (engine), and the naive comparison where it ran."""
    lines = []
    sizes = sorted({(r["accounts"], r["territories"]) for r in results})
    for n, m in sizes:
        eng = [
            r for r in results
            if r["method"] == "engine" and (r["accounts"], r["territories"]) == (n, m)
        ]  # fmt: skip
        walls = [r.get("wall_s") or math.inf for r in eng]
        gaps = [r.get("gap") if r.get("gap") is not None else math.inf for r in eng]
        worst = max(eng, key=lambda r: r.get("wall_s") or math.inf)
        cert = sum(_certified(r, gap) for r in eng)
        lines.append(
            f"{n:,} x {m}: {len(eng)} runs ({len({r['shape'] for r in eng})} shapes), "
            f"certified optimal within {gap:.2%}: {cert}/{len(eng)}; wall median "
            f"{statistics.median(walls):.2f} s, worst {max(walls):.2f} s ({worst['shape']} seed "
            f"{worst['seed']}, {worst.get('status')}); gap median {statistics.median(gaps):.3%}, "
            f"worst {max(gaps):.3%}; peak MiB worst {max(r.get('peak_mib') or 0 for r in eng):.0f}"
        )
        for shape in dict.fromkeys(r["shape"] for r in eng):
            mine = [r for r in eng if r["shape"] == shape]
            w = [r.get("wall_s") or math.inf for r in mine]
            lines.append(
                f"    {shape:<12} wall {', '.join(_fmt(x, '.2f') for x in w)}; status "
                f"{', '.join(r.get('status', '?') for r in mine)}"
            )
        for nv in (
            r for r in results
            if r["method"] == "naive" and (r["accounts"], r["territories"]) == (n, m)
        ):  # fmt: skip
            e = next(r for r in eng if (r["shape"], r["seed"]) == (nv["shape"], nv["seed"]))
            ratio = (nv.get("wall_s") or math.nan) / (e.get("wall_s") or math.nan)
            if nv.get("objective") and e.get("objective"):
                diff = e["objective"] / nv["objective"] - 1
                obj = f"engine objective {diff:+.3%} against naive"
                sign = ""
            else:
                obj = f"naive found no plan ({nv.get('status')})"
                sign = "> "
            lines.append(
                f"    naive on {nv['shape']} seed {nv['seed']}: {nv.get('status')} in "
                f"{_fmt(nv.get('wall_s'), '.1f')} s (gap {_fmt(nv.get('gap'), '.3%')}); "
                f"speed-up {sign}{ratio:.1f}x; {obj}"
            )
    return lines


def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        n, m = part.lower().split("x")
        out.append((int(n), int(m)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="5000x50", help="comma-separated NxM (default 5000x50)")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated shape names")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--gap", type=float, default=0.005)
    ap.add_argument("--tolerance-potential", type=float, default=0.05)
    ap.add_argument("--tolerance-workload", type=float, default=0.10)
    ap.add_argument("--threads", type=int, default=None, help="solver.threads (default: unset)")
    ap.add_argument("--naive", choices=["worst", "all", "none"], default="worst")
    ap.add_argument("--naive-time-limit", type=float, default=600.0)
    ap.add_argument("--json", type=Path, help="save every result as JSON")
    a = ap.parse_args(argv)
    shapes = [s for s in a.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        ap.error(f"unknown shapes {unknown}; known: {', '.join(SHAPES)}")
    seeds = [int(s) for s in a.seeds.split(",")]
    mach = _machine()
    print(
        f"shapes benchmark: potential +-{a.tolerance_potential:.0%}, workload "
        f"+-{a.tolerance_workload:.0%}, gap {a.gap:.2%}, time limit {a.time_limit:g} s, "
        f"threads {a.threads or 'unset'}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, "
        f"commit {mach['commit']}, {mach['nproc']} cpus"
    )
    for s in shapes:
        print(f"  {s}: {SHAPES[s].note}")
    print(HEAD)
    results: list[dict[str, Any]] = []
    for n, m in _sizes(a.sizes):
        naive_here = a.naive != "none" and n * m <= NAIVE_MAX_PAIRS
        for shape in shapes:
            for seed in seeds:
                methods = ["engine"] + (["naive"] if naive_here and a.naive == "all" else [])
                results += _one(n, m, shape, seed, a, methods)
        if naive_here and a.naive == "worst":
            eng = [
                r for r in results
                if r["method"] == "engine" and (r["accounts"], r["territories"]) == (n, m)
            ]  # fmt: skip
            w = max(eng, key=lambda r: r.get("wall_s") or math.inf)
            na = Namespace(**{**vars(a), "time_limit": a.naive_time_limit})
            results += _one(n, m, w["shape"], w["seed"], na, ["naive"])
    print()
    for line in summarise(results, a.gap):
        print(line)
    if a.json:
        info = {"machine": mach, "args": {k: str(v) for k, v in vars(a).items()}}
        a.json.write_text(json.dumps({"info": info, "results": results}, indent=2, default=float))
        print(f"results saved to {a.json}")
    bad = [
        r for r in results if r["method"] == "engine" and _verdict(r.get("check") or {}) == "FAIL"
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
