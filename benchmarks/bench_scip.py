#!/usr/bin/env python3
"""SCIP with lazy contiguity rows against the engine's solve-separate loop (county cases).

The same model as the engine's exact greenfield (the balanced p-median of
``model.districts.hess_model`` with L-fixing and the neighbour rows) is handed to SCIP
(``pyscipopt``) with a constraint handler that adds the separator rows of
``model.contiguity`` where they are violated: at every integer solution SCIP meets (check and
enforcement: rows of every cut-off piece, length-bounded as in the engine) and at fractional
LP solutions (max-flow separation, ``fractional_cuts``), all in one search tree. The engine's
figures for the same cases come from ``bench_counties.py`` (run separately).

    nice -n 10 .venv/bin/python benchmarks/bench_scip.py --states AL,NE,ME --time-limit 60
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

import align
from align.engine.contiguity import account_graph, find_cuts, fractional_cuts
from align.engine.districts import Band, cut_rows, hess_model, length_fixing, neighbour_rows
from align.engine.greenfield_bound import coords, unit_costs

VERBOSE = False
DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


def solve_scip(folder: Path, tol: float, limit: float, gap: float) -> dict:
    from pyscipopt import SCIP_RESULT, Conshdlr, Model, quicksum

    t0 = time.perf_counter()
    sc = align.load_scenario(folder, overrides=[f"balance.potential.tolerance={tol}"])
    n, m = sc.n_accounts, sc.n_territories
    kind, pts = coords(sc)
    cand = np.arange(n)
    cost = unit_costs(sc, pts, kind, cand, cand)
    scale = float(np.median(cost[cost > 0]))
    v = sc.column("potential")
    band = Band(v, v.sum() / m * (1 - tol), v.sum() / m * (1 + tol))
    graph = account_graph(sc.adjacency, sc.accounts["account_id"])
    assert graph is not None
    keep, budget = length_fixing(graph, [band], cand)
    pm = hess_model(cost / scale, [band], m, cand, keep)
    pm.add_rows(*neighbour_rows(pm, graph, skip_roots=True))
    mm = pm.model
    model = Model()
    model.hideOutput(quiet=not VERBOSE)
    x = [model.addVar(vtype="B", obj=float(c)) for c in mm.c]
    A = mm.A.tocsr()
    for r in range(A.shape[0]):
        k = slice(A.indptr[r], A.indptr[r + 1])
        expr = quicksum(float(a) * x[j] for a, j in zip(A.data[k], A.indices[k], strict=True))
        lo, hi = float(mm.row_lo[r]), float(mm.row_hi[r])
        if lo == hi:
            model.addCons(expr == lo)
        elif math.isfinite(lo) and math.isfinite(hi):
            model.addCons(lo <= (expr <= hi))
        elif math.isfinite(lo):
            model.addCons(expr >= lo)
        else:
            model.addCons(expr <= hi)
    npair = len(pm.pi)
    added = {"integer": 0, "fractional": 0}
    units = np.arange(n)

    def values(sol: object = None) -> np.ndarray:
        return np.array([model.getSolVal(sol, x[j]) for j in range(npair)])

    def add(cuts: list, kind: str) -> None:
        C, _, hi = cut_rows(pm, cuts)
        C = C.tocsr()
        for r in range(C.shape[0]):
            k = slice(C.indptr[r], C.indptr[r + 1])
            expr = quicksum(float(a) * x[j] for a, j in zip(C.data[k], C.indices[k], strict=True))
            model.addCons(expr <= float(hi[r]), removable=True)
        added[kind] += C.shape[0]

    def integer_cuts(sol: object = None) -> list:
        plan = pm.assignment(values(sol))
        if (plan < 0).any():
            return []
        return find_cuts(graph, plan, pm.m, roots=pm.roots, centre_of=pm.centre_of, budget=budget)

    class Contiguity(Conshdlr):  # type: ignore[misc]
        def conscheck(
            self, constraints, solution, checkintegrality, checklprows, printreason, completely
        ):  # noqa: E501, ANN001, ANN201, PLR0913
            return {
                "result": SCIP_RESULT.INFEASIBLE if integer_cuts(solution) else SCIP_RESULT.FEASIBLE
            }

        def consenfolp(self, constraints, nusefulconss, solinfeasible):  # noqa: ANN001, ANN201
            cuts = integer_cuts()
            if not cuts:
                return {"result": SCIP_RESULT.FEASIBLE}
            add(cuts, "integer")
            return {"result": SCIP_RESULT.CONSADDED}

        def consenfops(self, constraints, nusefulconss, solinfeasible, objinfeasible):  # noqa: ANN001, ANN201
            return {"result": SCIP_RESULT.INFEASIBLE if integer_cuts() else SCIP_RESULT.FEASIBLE}

        def conssepalp(self, constraints, nusefulconss):  # noqa: ANN001, ANN201
            xv = values()
            on = (xv > 1e-3) & (pm.pi != pm.roots[pm.pj])
            pairs = list(zip(pm.pi[on].tolist(), pm.pj[on].tolist(), strict=True))

            def x_of(t: int) -> np.ndarray:
                cols = pm.columns(units, t)
                return np.where(cols >= 0, xv[np.maximum(cols, 0)], 0.0)

            cuts = fractional_cuts(graph, x_of, pairs, pm.roots)
            if not cuts:
                return {"result": SCIP_RESULT.DIDNOTFIND}
            add(cuts, "fractional")
            return {"result": SCIP_RESULT.CONSADDED}

        def conslock(self, constraint, locktype, nlockspos, nlocksneg):  # noqa: ANN001, ANN201
            for var in x:
                self.model.addVarLocks(var, nlockspos + nlocksneg, nlockspos + nlocksneg)

    handler = Contiguity()
    model.includeConshdlr(
        handler,
        "contiguity",
        "every territory one connected piece",
        sepapriority=1,
        enfopriority=-1,
        chckpriority=-1,
        sepafreq=1,
        needscons=True,
    )
    # one constraint of the handler: it locks every variable (presolve must not fix any by
    # dual reasoning that ignores contiguity) and makes SCIP check every solution with it
    cons = model.createCons(
        handler,
        "connected",
        initial=False,
        separate=True,
        enforce=True,
        check=True,
        propagate=False,
        local=False,
        modifiable=False,
        dynamic=False,
        removable=False,
        stickingatnode=False,
    )
    model.addPyCons(cons)
    model.setParam("limits/time", max(limit - (time.perf_counter() - t0), 1.0))
    model.setParam("limits/gap", gap)
    model.optimize()
    status = model.getStatus()
    nsols = model.getNSols()
    obj = model.getObjVal() * scale if nsols else None
    bound = model.getDualbound() * scale
    out = {
        "status": status,
        "objective": obj,
        "bound": bound if math.isfinite(bound) else None,
        "gap": (obj - bound) / obj if obj else None,
        "wall_s": round(time.perf_counter() - t0, 1),
        "nodes": model.getNNodes(),
        "rows": dict(added),
    }
    if nsols:  # the plan, checked here with networkx
        import networkx as nx

        plan = pm.assignment(values(model.getBestSol()))
        g = nx.Graph()
        g.add_edges_from(sc.adjacency[["account_id", "neighbor_id"]].astype(str).itertuples(False))
        ids = sc.account_ids
        out["contiguous"] = all(
            nx.is_connected(g.subgraph([str(ids[i]) for i in np.flatnonzero(plan == t)]))
            for t in np.unique(plan)
        )
        tot = np.bincount(plan, weights=v)
        tot = tot[tot > 0]
        out["max_dev"] = float(np.abs(tot / (v.sum() / m) - 1).max())

    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--states", default="AL,AR,KS,ME,NE,OK,SC,WV")
    ap.add_argument("--tolerance", type=float, default=0.005)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--gap", type=float, default=0.005)
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    print(
        "| state | status | objective | bound | gap | wall s | nodes | rows (int / frac) "
        "| contiguous (checked) | max dev |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for st in args.states.split(","):
        r = solve_scip(args.data / f"counties-{st}", args.tolerance, args.time_limit, args.gap)
        gap = "" if r["gap"] is None else f"{r['gap']:.2%}"
        dev = "" if "max_dev" not in r else f"{r['max_dev']:.3%}"
        obj = "" if r["objective"] is None else f"{r['objective']:.4g}"
        bnd = "" if r["bound"] is None else f"{r['bound']:.4g}"
        print(
            f"| {st} | {r['status']} | {obj} | {bnd} | {gap} | {r['wall_s']} | {r['nodes']} | "
            f"{r['rows']['integer']} / {r['rows']['fractional']} | {r.get('contiguous', '')} | "
            f"{dev} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
