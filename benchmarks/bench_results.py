#!/usr/bin/env python3
"""Results that a refactor must not change: the Pfizer optima, small county plans, bench_core.

Solves a fixed set of cases and prints one line per case (status, objective, bound) and, with
``--json``, writes them for a before/after comparison (docs/architecture.md holds the figures).

    .venv/bin/python benchmarks/bench_results.py --json /tmp/results-before.json
    .venv/bin/python benchmarks/bench_results.py --json /tmp/results-after.json \\
        --compare /tmp/results-before.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import align  # noqa: E402

PFIZER = ROOT / "tests" / "data" / "pfizer-22x4"
COUNTIES = ROOT / "tests" / "data"


def _case(name: str, folder: Path, overrides: list[str]) -> dict[str, Any]:
    run = align.solve(align.load_scenario(folder, overrides=overrides))
    return {"case": name, "status": str(run.status), "objective": run.objective, "bound": run.bound}


def cases() -> list[dict[str, Any]]:
    """Every case solved to optimality (gap 0 or the scenario's own gap), so the figures repeat."""
    out = []
    for tol in (0.20, 0.15, 0.10):
        for solver in ("highs", "cbc"):
            over = ["objective.travel_weight=none", "solver.gap=0"]
            over += [f"balance.workload.tolerance={tol}", f"solver.name={solver}"]
            out.append(_case(f"pfizer {solver} +-{tol:.0%}", PFIZER, over))
    out.append(
        _case(
            "counties-NH +-5%",
            COUNTIES / "counties-NH",
            ["balance.potential.tolerance=0.05", "solver.gap=0"],
        )
    )
    out.append(_case("counties-NH +-0.5%", COUNTIES / "counties-NH", []))
    out.append(_case("counties-NM +-0.5%", COUNTIES / "counties-NM", []))
    out.append(_case("counties-ME +-0.5%", COUNTIES / "counties-ME", ["solver.gap=0"]))
    out.append(
        _case("counties-CO +-5%", COUNTIES / "counties-CO", ["balance.potential.tolerance=0.05"])
    )
    return out


def bench_core(accounts: int, territories: int) -> dict[str, Any]:
    """The engine's objective on bench_core's synthetic scenario (no naive reference)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "core.json"
        cmd = [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_core.py"),
            "--skip-naive",
            "--accounts",
            str(accounts),
            "--territories",
            str(territories),
            "--json",
            str(out),
        ]
        subprocess.run(cmd, check=True, capture_output=True)
        res = json.loads(out.read_text())
    eng = next(r for r in res["results"] if r["method"] == "engine")
    return {
        "case": f"bench_core {accounts}x{territories} engine",
        "status": eng["status"],
        "objective": eng["objective"],
        "bound": eng["bound"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--compare", type=Path, help="a previous --json file to compare with")
    ap.add_argument("--core", default="1000x20", help="bench_core size, ACCOUNTSxTERRITORIES")
    a = ap.parse_args()
    n, t = (int(v) for v in a.core.split("x"))
    results = [*cases(), bench_core(n, t)]
    before = {}
    if a.compare:
        before = {r["case"]: r for r in json.loads(a.compare.read_text())}
    for r in results:
        line = f"{r['case']:<32} {r['status']:<11} {r['objective']!s:>22} {r['bound']!s:>22}"
        if r["case"] in before:
            same = before[r["case"]]["objective"] == r["objective"]
            line += "  same" if same else f"  CHANGED (was {before[r['case']]['objective']})"
        print(line)
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
