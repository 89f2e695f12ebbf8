#!/usr/bin/env python3
"""Benchmark reading a CRM export: header mapping, "$242,000" amounts, ZIP code centroids.

For each size a CRM export is written by ``scripts/make_crm_example.py`` (accounts in real ZIP
codes of Ohio, Indiana and Michigan, money as text, no coordinates, owners as rep names) and read
with ``align.load_scenario`` in a fresh subprocess, which reports its wall time and peak memory.

    .venv/bin/python benchmarks/bench_import.py                    # 3,000 and 100,000 accounts
    .venv/bin/python benchmarks/bench_import.py --sizes 3000 30000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, resource, sys, time
from align import load_scenario
t = time.perf_counter()
sc = load_scenario(sys.argv[1], columns=["Last Year Sales=revenue"])
wall = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"accounts": sc.n_accounts, "seconds": round(wall, 2), "peak_mib": round(peak)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[3000, 100_000])
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the start")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        for n in a.sizes:
            folder = Path(tmp) / f"crm-{n}"
            subprocess.run(
                [sys.executable, str(ROOT / "scripts/make_crm_example.py"), "--accounts", str(n),
                 "--out", str(folder)],
                check=True, capture_output=True,
            )  # fmt: skip
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(folder)],
                check=True,
                capture_output=True,
                text=True,
            )
            print(json.dumps({"size": n, **json.loads(out.stdout)}))
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")


if __name__ == "__main__":
    main()
