#!/usr/bin/env python3
"""Benchmark the core engine against a naive full MIP in PuLP + HiGHS.

One synthetic scenario (``generate.py``; default 5,000 accounts x 50 territories, potential +-5%,
workload +-10%, potential-weighted travel, distance power 1, no disruption term, gap 0.5%, time
limit 120 s) is solved two ways, each in its own subprocess so peak memory does not mix:

* ``engine``: ``align.load_scenario`` + ``align.solve`` (pricing LP, split repair, gap closing);
* ``naive``: the whole assignment MIP over every account-territory pair, built with PuLP objects
  and solved by HiGHS through highspy (``pulp.HiGHS``) with the same gap and time limit. Distances
  come from ``align.geo.haversine_km``, so both see identical numbers.

Both plans are checked here, independently of the engine: every account exactly once, every
territory's potential and workload inside its band, and the objective recomputed from the plan.

    .venv/bin/python benchmarks/bench_core.py                       # the default benchmark
    .venv/bin/python benchmarks/bench_core.py --accounts 20000 --territories 100 --skip-naive
    .venv/bin/python benchmarks/bench_core.py --json /tmp/bench.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BAND_EPS = 1e-7  # relative slack allowed when checking bands (solver feasibility tolerance)


# ---------------------------------------------------------------------------------------------
# helpers shared by both children


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _read_inputs(folder: Path) -> tuple[Any, Any, dict[str, Any]]:
    import pandas as pd

    acc = pd.read_csv(folder / "accounts.csv", dtype={"account_id": str, "current_territory": str})
    ter = pd.read_csv(folder / "territories.csv", dtype={"territory_id": str})
    with (folder / "scenario.toml").open("rb") as f:
        settings = tomllib.load(f)
    return acc, ter, settings


def _tolerances(settings: dict[str, Any]) -> dict[str, float]:
    return {col: float(rule["tolerance"]) for col, rule in settings.get("balance", {}).items()}


def _check_rules(
    merged: Any, ter: Any, settings: dict[str, Any], j: Any, problems: list[str]
) -> bool:
    """Locks, one-segment territories and the moved cap (accounts measure) of a plan."""
    import pandas as pd

    ok = True
    tid = ter["territory_id"].to_numpy(dtype=object)
    cur = merged["current_territory"] if "current_territory" in merged else None
    if cur is not None and "locked" in merged:
        lock = merged["locked"].astype(bool).to_numpy() & cur.notna().to_numpy()
        broken = int((lock & (tid[j] != cur.to_numpy(dtype=object))).sum())
        if broken:
            ok = False
            problems.append(f"{broken} locked accounts moved")
    if "segments" in ter and "segment" in merged:
        allowed = ter["segments"].fillna("").astype(str).str.split(";").to_numpy()
        seg = merged["segment"].astype(str).to_numpy()
        barred = sum(1 for a, s in zip(allowed[j], seg, strict=True) if a != [""] and s not in a)
        if barred:
            ok = False
            problems.append(f"{barred} accounts in a territory that does not serve their segment")
    cap = float(settings.get("constraints", {}).get("max_moved_share", 1.0))
    if cap < 1.0 and cur is not None:
        has = cur.notna().to_numpy()
        moved = has & (pd.Series(tid[j]).to_numpy() != cur.to_numpy(dtype=object))
        share = moved.sum() / max(has.sum(), 1)
        if share > cap + 1e-9:
            ok = False
            problems.append(f"moved share {share:.4%} above the cap {cap:.0%}")
    return ok


def check_plan(
    acc: Any,
    ter: Any,
    tol: dict[str, float],
    account_ids: Any,
    territory_ids: Any,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Independent check of a plan given as parallel arrays (account_id, territory_id)."""
    import numpy as np
    import pandas as pd

    from align.geo import haversine_km

    out: dict[str, Any] = {"problems": []}
    plan = pd.DataFrame(
        {
            "account_id": np.asarray(account_ids, dtype=object),
            "territory_id": np.asarray(territory_ids, dtype=object),
        }
    )
    dup = int(plan["account_id"].duplicated().sum())
    missing = int((~acc["account_id"].isin(plan["account_id"])).sum())
    extra = int((~plan["account_id"].isin(acc["account_id"])).sum())
    unknown_t = int((~plan["territory_id"].isin(ter["territory_id"])).sum())
    for label, count in (
        ("duplicated accounts", dup),
        ("missing accounts", missing),
        ("unknown accounts", extra),
        ("unknown territories", unknown_t),
    ):
        if count:
            out["problems"].append(f"{count} {label}")
    out["once"] = not (dup or missing or extra or unknown_t)
    m = len(ter)
    if unknown_t or missing:
        out["bands_ok"] = False
        out["objective"] = math.nan
        return out
    merged = acc.merge(plan.drop_duplicates("account_id"), on="account_id", how="left")
    j = pd.Index(ter["territory_id"]).get_indexer(merged["territory_id"])
    worst: dict[str, float] = {}
    bands_ok = True
    for col, t in tol.items():
        v = merged[col].to_numpy(dtype=float)
        load = np.bincount(j, weights=v, minlength=m)
        if "target_share" in ter:
            share = ter["target_share"].fillna(1.0).to_numpy(dtype=float)
        else:
            share = np.ones(m)
        target = v.sum() * share / share.sum()
        dev = load / target - 1.0
        worst[col] = float(np.abs(dev).max())
        bad = np.flatnonzero(np.abs(dev) > t * (1 + BAND_EPS) + BAND_EPS)
        if len(bad):
            bands_ok = False
            out["problems"].append(
                f"{col}: {len(bad)} territories outside +-{t:.0%} "
                f"(worst {ter['territory_id'].iloc[bad[0]]} at {dev[bad[0]]:+.4%})"
            )
    out["bands_ok"] = bands_ok
    out["max_deviation"] = worst
    out["rules_ok"] = _check_rules(merged, ter, settings or {}, j, out["problems"])
    d = haversine_km(
        merged["lat"].to_numpy(),
        merged["lon"].to_numpy(),
        ter["lat"].to_numpy()[j],
        ter["lon"].to_numpy()[j],
    )
    out["objective"] = float((merged["potential"].to_numpy(dtype=float) * d).sum())
    return out


# ---------------------------------------------------------------------------------------------
# children


def run_engine(folder: Path, a: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    import align

    t_import = time.perf_counter() - t0
    base = _peak_mib()
    overrides = [
        f"solver.time_limit_s={a.time_limit}",
        f"solver.gap={a.gap}",
        f"solver.seed={a.seed}",
    ]
    t0 = time.perf_counter()
    sc = align.load_scenario(folder, overrides=overrides)
    t_load = time.perf_counter() - t0
    events: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def progress(phase: str, info: dict[str, Any]) -> None:
        events.append(
            {
                "t": time.perf_counter() - t0,
                "phase": phase,
                **{k: v for k, v in info.items() if k != "elapsed"},
            }
        )

    run = align.solve(sc, progress=progress)
    t_solve = time.perf_counter() - t0
    first = next((ev for ev in events if ev["phase"] == "incumbent"), None)
    res: dict[str, Any] = {
        "method": "engine",
        "import_s": t_import,
        "load_s": t_load,
        "solve_s": t_solve,
        "wall_s": t_load + t_solve,
        "run_wall_s": run.wall_seconds,
        "status": run.status,
        "objective": run.objective,
        "bound": run.bound,
        "gap": run.gap,
        "stats": run.stats,
        "first_plan_s": first["t"] if first else None,
        "first_plan_objective": first.get("objective") if first else None,
        "events": events,
        "message": run.message,
        "reasons": run.reasons,
        "settings": run.settings.model_dump(include={"balance", "objective", "solver"})
        if run.settings is not None
        else {},
    }
    if run.assignments is not None:
        acc, ter, settings = _read_inputs(folder)
        chk = check_plan(
            acc,
            ter,
            _tolerances(settings),
            run.assignments["account_id"],
            run.assignments["territory_id"],
            settings,
        )
        res["check"] = chk
        if run.objective:
            res["objective_recomputed_rel_diff"] = abs(chk["objective"] - run.objective) / abs(
                run.objective
            )
    res["base_mib"] = base
    res["peak_mib"] = _peak_mib()
    return res


def _naive_supports(acc: Any, ter: Any, settings: dict[str, Any]) -> None:
    """The naive model knows bands, potential-weighted travel and lat/lon only: refuse the rest."""
    obj = settings.get("objective", {})
    rules = [
        ("lat/lon coordinates", {"lat", "lon"} <= set(acc.columns)),
        ("no target_share/capacity", not {"target_share", "capacity"} & set(ter)),
        ("travel_weight = potential", obj.get("travel_weight", "potential") == "potential"),
        ("distance_power = 1", int(obj.get("distance_power", 1)) == 1),
        ("travel = 1", float(obj.get("travel", 1.0)) == 1.0),
        ("disruption = 0", float(obj.get("disruption", 0.0)) == 0.0),
        (
            "constraints: max_moved_share only",
            set(settings.get("constraints", {})) <= {"max_moved_share"},
        ),
        (
            "disruption_measure = accounts",
            obj.get("disruption_measure", "accounts") == "accounts",
        ),
        ("no preset", "model" not in settings),
    ]
    missing = [name for name, ok in rules if not ok]
    if missing:
        raise SystemExit(f"the naive reference needs: {', '.join(missing)} (use --skip-naive)")


def _naive_rules(prob: Any, x: Any, acc: Any, ter: Any, settings: dict[str, Any]) -> None:
    """Locks (fixed), one-segment territories (pairs fixed to 0) and the moved cap (one row)."""
    import pulp

    m = len(ter)
    tid = {t: k for k, t in enumerate(ter["territory_id"])}
    cur = (
        acc["current_territory"].map(tid).fillna(-1).astype(int).to_numpy()
        if "current_territory" in acc
        else None
    )
    if cur is not None and "locked" in acc:
        for i in acc.index[acc["locked"].astype(bool).to_numpy() & (cur >= 0)]:
            x[i][cur[i]].lowBound = 1
    if "segments" in ter:
        allowed = ter["segments"].fillna("").astype(str).str.split(";").tolist()
        seg = acc["segment"].astype(str).to_numpy()
        for j in range(m):
            if allowed[j] != [""]:
                for i in range(len(acc)):
                    if seg[i] not in allowed[j]:
                        x[i][j].upBound = 0
    cap = float(settings.get("constraints", {}).get("max_moved_share", 1.0))
    if cap < 1.0 and cur is not None:
        has = [i for i in range(len(acc)) if cur[i] >= 0]
        keep = pulp.LpAffineExpression((x[i][cur[i]], 1.0) for i in has)
        prob += keep >= (1 - cap) * len(has), "moved_cap"


def run_naive(folder: Path, a: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    import numpy as np
    import pulp

    from align.geo import haversine_km

    t_import = time.perf_counter() - t0
    base = _peak_mib()
    t0 = time.perf_counter()
    acc, ter, settings = _read_inputs(folder)
    tol = _tolerances(settings)
    t_load = time.perf_counter() - t0
    _naive_supports(acc, ter, settings)

    t0 = time.perf_counter()
    n, m = len(acc), len(ter)
    dist = haversine_km(
        acc["lat"].to_numpy()[:, None],
        acc["lon"].to_numpy()[:, None],
        ter["lat"].to_numpy()[None, :],
        ter["lon"].to_numpy()[None, :],
    )
    cost = acc["potential"].to_numpy(dtype=float)[:, None] * dist
    prob = pulp.LpProblem("naive_alignment", pulp.LpMinimize)
    x = [[pulp.LpVariable(f"x_{i}_{j}", cat=pulp.LpBinary) for j in range(m)] for i in range(n)]
    prob += pulp.LpAffineExpression(
        (x[i][j], float(cost[i, j])) for i in range(n) for j in range(m)
    )
    for i in range(n):
        prob += pulp.LpAffineExpression((x[i][j], 1.0) for j in range(m)) == 1, f"assign_{i}"
    for col, t in tol.items():
        v = acc[col].to_numpy(dtype=float)
        target = v.sum() / m
        for j in range(m):
            expr = pulp.LpAffineExpression((x[i][j], float(v[i])) for i in range(n))
            prob += expr >= target * (1 - t), f"{col}_lo_{j}"
            prob += expr <= target * (1 + t), f"{col}_hi_{j}"
    _naive_rules(prob, x, acc, ter, settings)
    t_build = time.perf_counter() - t0

    solver = pulp.HiGHS(msg=False, timeLimit=a.time_limit, gapRel=a.gap, random_seed=a.seed)
    t0 = time.perf_counter()
    prob.solve(solver)
    t_solve = time.perf_counter() - t0

    h = getattr(prob, "solverModel", None)
    bound: float | None = None
    highs_gap: float | None = None
    highs_run: float | None = None
    if h is not None:
        try:
            info = h.getInfo()
            bound = float(info.mip_dual_bound)
            highs_gap = float(info.mip_gap)
            highs_run = float(h.getRunTime())
        except Exception:  # pragma: no cover - depends on highspy version
            pass
    sol = {1: "optimal", 2: "feasible", 0: "no_solution", -1: "infeasible", -2: "unbounded"}.get(
        prob.sol_status, str(prob.sol_status)
    )
    res: dict[str, Any] = {
        "method": "naive",
        "import_s": t_import,
        "load_s": t_load,
        "build_s": t_build,
        "solve_s": t_solve,
        "highs_run_s": highs_run,
        "wall_s": t_load + t_build + t_solve,
        "status": sol,
        "pulp_status": pulp.LpStatus[prob.status],
        "variables": n * m,
        "constraints": len(prob.constraints),
    }
    if prob.sol_status in (1, 2):
        val = np.array([[xij.varValue or 0.0 for xij in row] for row in x])
        assign = val.argmax(axis=1)
        ok_int = bool(
            (np.abs(val - np.round(val)) < 1e-6).all() and np.allclose(val.sum(axis=1), 1.0)
        )
        chk = check_plan(
            acc,
            ter,
            tol,
            acc["account_id"].to_numpy(),
            ter["territory_id"].to_numpy()[assign],
            settings,
        )
        chk["integral"] = ok_int
        res["check"] = chk
        obj = chk["objective"]
        res["objective"] = obj
        res["solver_objective"] = float(pulp.value(prob.objective))
        if bound is not None and math.isfinite(bound):
            res["bound"] = bound
            res["gap"] = max(obj - bound, 0.0) / abs(obj) if obj else math.nan
        res["highs_gap"] = highs_gap
    else:
        res["objective"] = None
        res["bound"] = bound if bound is not None and math.isfinite(bound) else None
    res["base_mib"] = base
    res["peak_mib"] = _peak_mib()
    return res


# ---------------------------------------------------------------------------------------------
# parent


def _machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("align", "highspy", "PuLP", "numpy", "scipy", "pandas"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = "-"
    try:
        root = HERE.parent
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "src"], capture_output=True, text=True
        ).stdout.strip()
        commit = f"{head}{' + uncommitted src changes' if dirty else ''}" if head else "?"
    except OSError:
        commit = "?"
    return {
        "commit": commit,
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def _child(method: str, folder: Path, a: argparse.Namespace) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--method",
        method,
        "--scenario",
        str(folder),
        "--result",
        str(out),
        "--time-limit",
        str(a.time_limit),
        "--gap",
        str(a.gap),
        "--seed",
        str(a.seed),
    ]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=a.time_limit * 4 + 600)
        outer = time.perf_counter() - t0
        if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            return {
                "method": method,
                "status": "error",
                "error": (proc.stderr or proc.stdout)[-3000:],
                "returncode": proc.returncode,
            }
        res = json.loads(out.read_text())
    except subprocess.TimeoutExpired:
        return {"method": method, "status": "timeout", "error": "child timed out"}
    finally:
        out.unlink(missing_ok=True)
    res["process_s"] = outer
    return res


def _fmt(v: Any, spec: str = ".3f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, spec)


def _verdict(chk: dict[str, Any]) -> str:
    if not chk:
        return "n/a"
    return (
        "PASS" if chk.get("once") and chk.get("bands_ok") and chk.get("rules_ok", True) else "FAIL"
    )


def print_report(results: list[dict[str, Any]], info: dict[str, Any]) -> None:
    """The table and the notes under it."""
    say = print
    say(
        f"scenario: {info['accounts']:,} accounts x {info['territories']} territories, "
        f"seed {info['seed']}, potential +-{info['tol_potential']:.0%}, "
        f"workload +-{info['tol_workload']:.0%}, gap {info['gap']:.2%}, "
        f"time limit {info['time_limit']:g} s"
    )
    mach = info["machine"]
    pkgs = ", ".join(f"{k} {v}" for k, v in mach["packages"].items())
    say(f"machine: {mach['nproc']} cpus, {mach['cpu']}, Python {mach['python']}, {pkgs}")
    say(f"date: {info['date']}, align commit {mach.get('commit', '?')}")
    say()
    head = ["method", "load s", "build s", "solve s", "wall s", "peak MiB"]
    head += ["status", "objective", "bound", "gap", "check"]
    rows = []
    for r in results:
        naive = r["method"] == "naive"
        rows.append(
            [
                r["method"],
                _fmt(r.get("load_s"), ".2f"),
                _fmt(r.get("build_s"), ".2f") if naive else "(in solve)",
                _fmt(r.get("solve_s"), ".2f"),
                _fmt(r.get("wall_s"), ".2f"),
                _fmt(r.get("peak_mib"), ".0f"),
                r.get("status", "?"),
                _fmt(r.get("objective"), ",.0f"),
                _fmt(r.get("bound"), ",.0f"),
                _fmt(r.get("gap"), ".4%"),
                _verdict(r.get("check") or {}),
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    left = (0, 6, 10)

    def fmt_row(row: list[str]) -> str:
        cells = zip(row, widths, strict=True)
        out = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(cells)]
        return "  ".join(out).rstrip()

    say(fmt_row(head))
    say("-" * len(fmt_row(head)))
    for row in rows:
        say(fmt_row(row))
    say()
    by = {r["method"]: r for r in results}
    e, n = by.get("engine"), by.get("naive")
    if e and "stats" in e:
        st = e["stats"]
        ph = st.get("phases", {})
        other = e.get("run_wall_s", 0.0) - sum(ph.values())
        parts = ", ".join(f"{k} {v:.3f}" for k, v in ph.items())
        say(f"engine phases (s): {parts}, other (build_problem, KPIs, tables) {other:.3f}")
        say("engine stats: " + ", ".join(f"{k}={v}" for k, v in st.items() if k != "phases"))
        if e.get("first_plan_s") is not None:
            fo, bd = e["first_plan_objective"], st.get("lp_objective")
            fg = f" (gap to LP bound {(fo - bd) / fo:.3%})" if fo and bd else ""
            say(f"engine first plan after {e['first_plan_s']:.2f} s of solve: {fo:,.0f}{fg}")
        say(
            f"engine: import align {e.get('import_s', 0):.2f} s (not counted), "
            f"RSS after imports {e.get('base_mib', 0):.0f} MiB"
        )
    if n and "build_s" in n:
        say(
            f"naive model: {n.get('variables', 0):,} binaries, {n.get('constraints', 0):,} rows; "
            f"PuLP status {n.get('pulp_status')}, sol_status {n.get('status')}"
        )
        if n.get("highs_run_s") is not None:
            say(
                f"naive: HiGHS run {n['highs_run_s']:.2f} s of the {n['solve_s']:.2f} s solve "
                f"(the rest is PuLP -> highspy transfer); HiGHS mip_gap "
                f"{_fmt(n.get('highs_gap'), '.4%')}; "
                f"RSS after imports {n.get('base_mib', 0):.0f} MiB"
            )
    for r in results:
        chk = r.get("check") or {}
        if chk:
            dev = ", ".join(f"{k} {v:.3%}" for k, v in chk.get("max_deviation", {}).items())
            msg = "; ".join(chk["problems"]) or "every account exactly once, every band holds"
            say(f"check {r['method']}: {_verdict(chk)} ({msg}); max |deviation| {dev}")
        if r.get("error"):
            say(f"{r['method']} failed: {r['error']}")
    if e and e.get("objective_recomputed_rel_diff") is not None:
        diff = e["objective_recomputed_rel_diff"]
        say(f"engine objective recomputed from its assignments: rel. diff {diff:.2e}")
    say()
    naive_failed = bool(n and n.get("wall_s") and not n.get("objective"))
    if e and n and naive_failed and e.get("wall_s"):
        say(
            f"speed-up naive/engine: > {n['wall_s'] / e['wall_s']:.1f}x (lower bound: the naive "
            f"reference found no plan in {n['wall_s']:.1f} s, status {n.get('status')}; "
            f"engine {e.get('status')} in {e['wall_s']:.2f} s); objective ratio: n/a"
        )
        if n.get("peak_mib") and e.get("peak_mib"):
            say(f"peak memory naive/engine: {n['peak_mib'] / e['peak_mib']:.2f}x")
    if (
        e
        and n
        and e.get("wall_s")
        and n.get("wall_s")
        and e.get("objective")
        and n.get("objective")
    ):
        speed = n["wall_s"] / e["wall_s"]
        say(
            f"speed-up naive/engine: wall {speed:.1f}x "
            f"(solve only {n['solve_s'] / e['solve_s']:.1f}x)"
        )
        say(f"objective ratio engine/naive: {e['objective'] / n['objective']:.5f}")
        if n.get("peak_mib") and e.get("peak_mib"):
            say(f"peak memory naive/engine: {n['peak_mib'] / e['peak_mib']:.2f}x")
    if e:
        tgt = [
            ("certified gap <= 0.5%", e.get("gap") is not None and e["gap"] <= 0.005 + 1e-12),
            ("engine wall <= 5 s", e.get("wall_s") is not None and e["wall_s"] <= 5.0),
        ]
        if n and n.get("wall_s") and e.get("wall_s") and (n.get("objective") or naive_failed):
            fast = n["wall_s"] / e["wall_s"] >= 5.0 and e.get("objective") is not None
            tgt.append((">= 5x faster than naive", fast))
        if n and n.get("objective") and e.get("objective"):
            tgt.append(("objective <= naive", e["objective"] <= n["objective"] * (1 + 1e-9)))
        say("targets: " + "; ".join(f"{k}: {'met' if ok else 'MISSED'}" for k, ok in tgt))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--territories", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1, help="generator and solver seed")
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--gap", type=float, default=0.005)
    ap.add_argument("--tolerance-potential", type=float, default=0.05)
    ap.add_argument("--tolerance-workload", type=float, default=0.10)
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument(
        "--scenario", type=Path, help="use this scenario folder instead of generating one"
    )
    ap.add_argument(
        "--keep", type=Path, help="write the generated scenario here (default: a temp folder)"
    )
    ap.add_argument("--json", type=Path, help="save all results as JSON")
    ap.add_argument("--method", choices=["engine", "naive"], help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.method:  # child process
        res = run_engine(a.scenario, a) if a.method == "engine" else run_naive(a.scenario, a)
        a.result.write_text(json.dumps(res, default=float))
        return 0

    sys.path.insert(0, str(HERE))
    from generate import generate, settings_toml, write_scenario

    tmp = None
    if a.scenario:
        folder = a.scenario
        with (folder / "scenario.toml").open("rb") as f:
            raw = tomllib.load(f)
        tol = _tolerances(raw)
        import pandas as pd

        n_acc = sum(1 for _ in (folder / "accounts.csv").open()) - 1
        n_ter = len(pd.read_csv(folder / "territories.csv"))
        t_gen = 0.0
    else:
        t0 = time.perf_counter()
        accounts, territories = generate(a.accounts, a.territories, seed=a.seed)
        t_gen = time.perf_counter() - t0
        if a.keep:
            folder = a.keep
        else:
            tmp = tempfile.TemporaryDirectory(prefix="align-bench-")
            folder = Path(tmp.name)
        text = settings_toml(
            tolerance_potential=a.tolerance_potential,
            tolerance_workload=a.tolerance_workload,
            time_limit_s=a.time_limit,
            gap=a.gap,
            seed=a.seed,
        )
        write_scenario(folder, accounts, territories, text)
        tol = {"potential": a.tolerance_potential, "workload": a.tolerance_workload}
        n_acc, n_ter = a.accounts, a.territories
    info = {
        "accounts": n_acc,
        "territories": n_ter,
        "seed": a.seed,
        "gap": a.gap,
        "time_limit": a.time_limit,
        "tol_potential": tol.get("potential", float("nan")),
        "tol_workload": tol.get("workload", float("nan")),
        "generate_s": t_gen,
        "scenario": str(folder),
        "machine": _machine(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    results = [_child("engine", folder, a)]
    if not a.skip_naive:
        results.append(_child("naive", folder, a))
    print_report(results, info)
    if a.json:
        a.json.write_text(json.dumps({"info": info, "results": results}, indent=2, default=float))
        print(f"\nresults saved to {a.json}")
    if tmp is not None:
        tmp.cleanup()
    # exit 1 when a child crashed or the engine has no plan that passes the check; the naive
    # reference finding no plan within its limit is a result, not a failure
    crashed = any(r.get("status") in ("error", "timeout") for r in results)
    e = results[0].get("check") or {}
    return 0 if not crashed and e.get("once") and e.get("bands_ok") else 1


if __name__ == "__main__":
    sys.exit(main())
