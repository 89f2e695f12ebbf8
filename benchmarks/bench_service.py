"""The service under load and after large uploads (issue "Hardening", points 2 and 4).

    python benchmarks/bench_service.py memory            # server RSS: baseline, after uploads
    python benchmarks/bench_service.py load              # 200 req/s for 60 s while 10 solves run
    python benchmarks/bench_service.py load --rate 100 --seconds 20 --solves 4

Each starts its own `align serve` on a free loopback port with a fresh SQLite file, and stops it.
Figures go to benchmarks/README.md ("Hardening"), with the load average of the machine.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import TWO_REPS, TWO_REPS_FILES, Server, slow_scenario, upload, wait_for  # noqa: E402


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its threads (not its children), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def big_accounts(n: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i:07d}" for i in range(n)],
            "x": rng.uniform(0, 1000, n).round(3),
            "y": rng.uniform(0, 1000, n).round(3),
            "potential": rng.integers(1, 10_000, n),
            "workload": rng.integers(1, 50, n),
            "segment": rng.choice(["Retail", "Health", "Industry"], n),
        }
    )
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def send(c: httpx.Client, accounts: bytes, territories: bytes) -> httpx.Response:
    files = [("files", ("accounts.csv", accounts)), ("files", ("territories.csv", territories))]
    return c.post("/scenarios", files=files)


def memory(args: argparse.Namespace) -> dict[str, Any]:
    """RSS of the server: at start, after `repeat` uploads of an accounts.csv of `accounts`
    rows, after as many hostile uploads (1,000,000 columns, 9.9 MB), and after `repeat` runs of
    `run_accounts` accounts whose assignments, territories and run record are read back."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"ALIGN_MAX_ACCOUNTS": str(max(args.accounts, 200_000)), "ALIGN_RATE_PER_S": "1000",
               "ALIGN_RESULT_CACHE_MB": str(args.result_cache_mb)}  # fmt: skip
        server = Server(f"sqlite:///{tmp}/align.db", Path(tmp), **env).start(workers=1)
        assert server.process is not None
        pid = server.process.pid
        out: dict[str, Any] = {}
        try:
            with server.client() as c:
                upload(c, TWO_REPS, TWO_REPS_FILES, "warm-up")
                time.sleep(1)
                out["baseline_mib"] = rss_mib(pid)
                content = big_accounts(args.accounts)
                territories = b"territory_id,x,y\nT1,250,500\nT2,750,500\n"
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    r = send(c, content, territories)
                    assert r.status_code == 201, r.text[:300]
                    out.setdefault("upload_s", []).append(round(time.perf_counter() - t, 2))
                    time.sleep(1)
                    out.setdefault("rss_after_each_mib", []).append(round(rss_mib(pid)))
                time.sleep(2)
                out["upload_mb"] = round(len(content) / 1e6, 1)
                out["after_uploads_mib"] = rss_mib(pid)
                header = "account_id,potential,x,y," + ",".join(f"c{i}" for i in range(10**6))
                hostile = f"{header}\nA1,1,0,0{',' * 10**6}\n".encode()
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    r = send(c, hostile, territories)
                    took = round(time.perf_counter() - t, 2)
                    out.setdefault("hostile", []).append((r.status_code, took))
                time.sleep(2)
                out["hostile_mb"] = round(len(hostile) / 1e6, 1)
                out["after_hostile_mib"] = rss_mib(pid)
                # large runs: solved in a worker process, their results read through the server
                runs_of = big_accounts(args.run_accounts, seed=1)
                sid = send(c, runs_of, territories).json()["id"]
                for _ in range(args.repeat):
                    rid = c.post(f"/scenarios/{sid}/runs", json={}).json()["id"]
                    assert wait_for(c, rid)["status"] == "succeeded"
                    for path in ("/assignments", "/territories", ""):
                        assert c.get(f"/runs/{rid}{path}").status_code == 200
                    time.sleep(1)
                    out.setdefault("rss_after_each_run_mib", []).append(round(rss_mib(pid)))
                time.sleep(2)
                out["run_accounts"] = args.run_accounts
                out["after_runs_mib"] = rss_mib(pid)
        finally:
            server.stop()
    out["load"] = os.getloadavg()
    return out


def _pace(
    url: str, paths: list[str], rate: float, seconds: float, threads: int = 32
) -> tuple[list[float], dict[int, int], int, dict[str, list[float]]]:
    """GETs of ``paths`` in turn, request i due at i/rate s, for ``seconds``, from ``threads``
    keep-alive clients: latencies (s, from the due time, so a late start counts), status
    counts, transport errors, and the latencies of each path. Each client opens its connection
    (a GET of /healthz) before the first request is due: the client's own start-up is not the
    server's latency (it made the first seconds' requests up to 2 s late)."""
    import threading

    latencies: list[float] = []
    by_path: dict[str, list[float]] = {p: [] for p in paths}
    statuses: dict[int, int] = {}
    errors = 0
    lock = threading.Lock()
    n = int(rate * seconds)
    counter = iter(range(n))
    clock = [0.0]  # when request 0 is due: set once every client is connected
    ready = threading.Barrier(threads, action=lambda: clock.__setitem__(0, time.perf_counter()))

    def work() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=30) as client:
            client.get("/healthz")
            ready.wait()
            start = clock[0] + 0.2
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                path = paths[i % len(paths)]
                try:
                    r = client.get(path)
                except httpx.HTTPError:
                    with lock:
                        errors += 1
                    continue
                took = time.perf_counter() - due
                with lock:
                    latencies.append(took)
                    by_path[path].append(took)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, statuses, errors, by_path


def load(args: argparse.Namespace) -> dict[str, Any]:
    """`rate` requests a second for `seconds` on result endpoints of a succeeded run, while
    `solves` long solves run (ALIGN_WORKERS = solves)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"ALIGN_RATE_PER_S": str(args.rate * 4), "ALIGN_RATE_BURST": str(args.rate * 4)}
        server = Server(f"sqlite:///{tmp}/align.db", Path(tmp), **env).start(workers=args.solves)
        try:
            with server.client() as c:
                say("server up; solving the two-reps example")
                sid = upload(c, TWO_REPS, TWO_REPS_FILES, "two reps").json()["id"]
                done = c.post(f"/scenarios/{sid}/runs", json={}).json()["id"]
                assert wait_for(c, done)["status"] == "succeeded"
                slow = c.post("/scenarios", json=slow_scenario(args.seconds + 60)).json()["id"]
                runs = [c.post(f"/scenarios/{slow}/runs", json={}).json()["id"]
                        for _ in range(args.solves)]  # fmt: skip
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    states = [c.get(f"/runs/{r}").json()["status"] for r in runs]
                    if states.count("running") == args.solves:
                        break
                    time.sleep(0.5)
                say(
                    f"{states.count('running')} solves running; {args.rate:g} req/s for "
                    f"{args.seconds:g} s"
                )
                paths = [f"/runs/{done}/assignments", f"/runs/{done}/territories",
                         f"/runs/{done}", "/runs?limit=20"]  # fmt: skip
                load_before = os.getloadavg()
                lat, statuses, errors, by_path = _pace(server.url, paths, args.rate, args.seconds)
                running_at_end = sum(
                    c.get(f"/runs/{r}").json()["status"] == "running" for r in runs
                )
                for r in runs:
                    c.delete(f"/runs/{r}")
        finally:
            server.stop()
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) >= 100 else [float("nan")] * 99
    return {
        "requests": int(args.rate * args.seconds),
        "answered": len(lat),
        "statuses": statuses,
        "transport_errors": errors,
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1) if lat else None,
        "p99_ms_by_endpoint": {
            p.replace(done, "{id}"): round(statistics.quantiles(v, n=100)[98] * 1000, 1)
            for p, v in by_path.items()
            if len(v) >= 100
        },
        "worker_nice": os.environ.get("ALIGN_WORKER_NICE", "10 (default)"),
        "solves_running_at_start": states.count("running"),
        "solves_running_at_end": running_at_end,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--accounts", type=int, default=200_000)
    m.add_argument("--repeat", type=int, default=3)
    m.add_argument("--run-accounts", type=int, default=50_000)
    m.add_argument("--result-cache-mb", type=int, default=64, help="ALIGN_RESULT_CACHE_MB")
    ld = sub.add_parser("load")
    ld.add_argument("--rate", type=float, default=200)
    ld.add_argument("--seconds", type=float, default=60)
    ld.add_argument("--solves", type=int, default=10)
    args = parser.parse_args()
    result = memory(args) if args.what == "memory" else load(args)
    for k, v in result.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
