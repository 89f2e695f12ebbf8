"""Scenario sweeps: solve every combination of settings, in parallel, and find the trade-offs.

``sweep(scenario, {"balance.potential.tolerance": [0.02, 0.05], "objective.disruption": [0, 2]})``
solves the scenario once per point of the grid (the product of the varied values), each with its
overrides applied as ``--set`` would, on a local process pool or a Dask cluster
(:mod:`align.executors`). The result holds one row per point and the Pareto frontier: the runs no
other run beats on all three of balance (the largest ``|deviation|`` of any balanced measure),
disruption (the moved share of the disruption measure) and travel (the travel KPI), lower being
better on each.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import cpu_count
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .engine import solve
from .errors import SettingsError
from .executors import Executor, Lazy, get_executor, worker_stats
from .io import load_scenario
from .runs import Run
from .scenario import Scenario
from .settings import Settings, deep_merge, parse_overrides, resolve_settings
from .status import PLANNED
from .units import strict_json
from .validation import suggest

Progress = Callable[[int, int, dict[str, Any]], None]

AXES = ("balance", "disruption", "travel")  # the default measures of the frontier
PLAN = tuple(PLANNED)
# measures by name: the table column each reads (lower is better on all)
MEASURE_COLUMNS = {
    "balance": "balance",  # the largest |deviation| of any balanced measure
    "moved": "disruption",  # the moved share of the disruption measure
    "disruption": "disruption",
    "travel": "travel",
    "distance": "weighted_mean_distance",
}
# what a measure's values are, for labels
MEASURE_LABELS = {
    "balance": "balance: largest |deviation| from target (share)",
    "disruption": "moved: share of the disruption measure moved",
    "travel": "travel",
    "weighted_mean_distance": "mean distance to the rep (weighted)",
}


# --- the grid ---------------------------------------------------------------------------------


def parse_vary(items: list[str] | None) -> dict[str, list[Any]]:
    """``["a.b=1,2", "c=x,y"]`` -> ``{"a.b": [1, 2], "c": ["x", "y"]}``.

    Each value is read as ``--set`` reads it (TOML, else a plain string).
    """
    grid: dict[str, list[Any]] = {}
    problems: list[str] = []
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        values = [v.strip() for v in text.split(",")]
        if not sep or not key or not all(values):
            problems.append(
                f"--vary {item!r}: expected key=value,value,..., "
                "e.g. balance.potential.tolerance=0.02,0.05,0.1"
            )
            continue
        if key in grid:
            problems.append(f"--vary {item!r}: '{key}' is varied twice; give all its values once")
            continue
        parsed = []
        for v in values:
            try:
                nested = parse_overrides([f"{key}={v}"])
            except SettingsError as e:
                problems += [m.replace("--set", "--vary", 1) for m in e.problems]
                break
            node: Any = nested
            for part in key.split("."):
                node = node[part.strip()]
            parsed.append(node)
        grid[key] = parsed
    if problems:
        raise SettingsError(problems)
    return grid


def _nest(key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    parts = [p.strip() for p in key.split(".")]
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def short_keys(keys: list[str], taken: tuple[str, ...] = ()) -> dict[str, str]:
    """Each dotted key by its shortest tail that is unique among ``keys`` and not in ``taken``:
    ``balance.potential.tolerance`` -> ``tolerance``, unless another key ends so too (then
    ``potential.tolerance``)."""
    out: dict[str, str] = {}
    for k in keys:
        parts = k.split(".")
        for depth in range(1, len(parts) + 1):
            tail = ".".join(parts[-depth:])
            clash = [o for o in keys if o != k and (o == tail or o.endswith("." + tail))]
            if not clash and tail not in taken:
                out[k] = tail
                break
        else:
            out[k] = k
    return out


def measure_columns(measures: list[str], settings: Settings) -> dict[str, str]:
    """``{measure: table column}`` for the frontier's measures, e.g. ``potential`` ->
    ``potential.max_abs_deviation``.

    A measure is ``balance`` (the worst balanced measure), ``moved`` (or ``disruption``),
    ``travel``, ``distance`` (mean distance to the rep, weighted), or a balanced column
    (``potential``, ``workload`` or any column of ``[balance]``): its largest |deviation|.

    Raises
    ------
    SettingsError
        An unknown or repeated measure, or fewer than two.
    """
    columns = list(dict.fromkeys(["potential", "workload", *settings.balance]))
    known = [*MEASURE_COLUMNS, *columns]
    problems = []
    out: dict[str, str] = {}
    for m in measures:
        if m in MEASURE_COLUMNS:
            col = MEASURE_COLUMNS[m]
        elif m in columns:
            col = f"{m}.max_abs_deviation"
        else:
            problems.append(
                f"--measures {m!r}: not a measure{suggest(m, known)}; choose from "
                f"{', '.join(known)}"
            )
            continue
        if col in out.values():
            problems.append(f"--measures {m!r}: given twice")
        out[m] = col
    if not problems and len(out) < 2:
        problems.append("--measures: give two or more, e.g. potential,moved,travel")
    if problems:
        raise SettingsError(problems)
    return out


def _point_names(grid: Mapping[str, list[Any]], points: list[dict[str, Any]]) -> list[str]:
    lasts = [k.split(".")[-1] for k in grid]
    short = {k: (k.split(".")[-1] if lasts.count(k.split(".")[-1]) == 1 else k) for k in grid}
    width = len(str(len(points)))
    names = []
    for i, point in enumerate(points, 1):
        bits = "_".join(f"{short[k]}={_text(v)}" for k, v in point.items())
        name = f"p{i:0{width}d}" + (f"_{bits}" if bits else "")
        names.append(re.sub(r"[^A-Za-z0-9._=+-]", "-", name))
    return names


def _text(v: Any) -> str:
    if isinstance(v, float) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return str(v).lower() if isinstance(v, bool) else str(v)


# --- settings of each point -------------------------------------------------------------------


def _base_layer(scenario: Scenario, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the varied keys are merged over, as ``--set`` would: scenario.toml (or the
    settings given) and ``overrides``. A scenario whose settings are not its raw settings plus
    ``overrides`` (loaded with other overrides) keeps its settings as resolved."""
    layer = deep_merge(dict(scenario.raw_settings or {}), overrides)
    if resolve_settings(layer) != scenario.settings:
        layer = deep_merge(scenario.settings.model_dump(), overrides)
        layer.pop("model", None)  # its preset is merged in already
    return layer


def _column_problems(scenario: Scenario, settings: Settings, label: str) -> list[str]:
    """Settings of a point that name account columns the scenario lacks (or other data)."""
    acc = scenario.accounts
    numeric = [
        c
        for c in acc.columns
        if c not in ("account_id", "lat", "lon", "x", "y")
        and pd.api.types.is_numeric_dtype(acc[c].dtype)
        and not pd.api.types.is_bool_dtype(acc[c].dtype)
    ]
    problems = []
    named = [(f"balance.{c}", c) for c in settings.balance]
    named += [(f"balance_regions.{c}", c) for c in settings.balance_regions]
    named += [
        ("objective.travel_weight", settings.objective.travel_weight),
        ("objective.disruption_measure", settings.objective.disruption_measure),
    ]
    for key, col in named:
        if col in ("none", "accounts") or col in numeric:
            continue
        what = "no column" if col not in acc else "no numeric column"
        problems.append(
            f"{label}: settings key '{key}': accounts.csv has {what} '{col}'{suggest(col, numeric)}"
        )
    if settings.balance_regions and "region" not in scenario.territories:
        problems.append(f"{label}: settings key 'balance_regions' needs a 'region' column")
    if settings.constraints.contiguity and scenario.adjacency is None:
        problems.append(
            f"{label}: settings key 'constraints.contiguity' needs adjacency "
            "(adjacency.csv or polygons)"
        )
    return problems


def point_settings(
    scenario: Scenario,
    grid: Mapping[str, list[Any]],
    *,
    overrides: Mapping[str, Any] | None = None,
) -> list[tuple[dict[str, Any], Settings]]:
    """Every point of the grid (its varied values) with its settings, all checked first.

    Raises
    ------
    SettingsError
        Every bad key (with the nearest valid key) or value of the grid, before anything runs.
    """
    base = _base_layer(scenario, overrides or {})
    problems: list[str] = []
    if not grid:
        problems.append("--vary: nothing to vary; give e.g. --vary objective.disruption=0,1")
    for key, values in grid.items():
        if not values:
            problems.append(f"--vary {key}: no values")
        for value in values:
            try:
                s = resolve_settings(deep_merge(base, _nest(key, value)), scenario_label="--vary")
            except SettingsError as e:
                problems += [m for m in e.problems if m not in problems]
                continue
            problems += [
                m
                for m in _column_problems(scenario, s, f"--vary {key}={_text(value)}")
                if m not in problems
            ]
    if problems:
        raise SettingsError(problems)
    out = []
    for combo in itertools.product(*grid.values()):
        point = dict(zip(grid, combo, strict=True))
        layer = base
        for key, value in point.items():
            layer = deep_merge(layer, _nest(key, value))
        out.append((point, resolve_settings(layer, scenario_label="--vary")))
    return out


def with_settings(scenario: Scenario, settings: Settings) -> Scenario:
    """The same data under other settings (a new input hash)."""
    digest = hashlib.sha256(
        (scenario.input_hash + settings.model_dump_json()).encode()
    ).hexdigest()[:16]
    return dataclasses.replace(scenario, settings=settings, input_hash=digest)


def _solve_point(scenario: Scenario, settings: Settings) -> dict[str, Any]:
    """One point, in a worker: the run, or the error that stopped it."""
    out: dict[str, Any] = worker_stats()
    try:
        out["run"] = solve(with_settings(scenario, settings))
    except Exception as e:  # noqa: BLE001 - one point's failure must not lose the others
        out["error"] = f"{type(e).__name__}: {e}"
    return out


# --- the result -------------------------------------------------------------------------------


@dataclass
class Sweep:
    """One row per point of the grid, the Pareto frontier, and the runs.

    ``table`` has per point: ``point`` (its name), the varied keys, ``status``, ``objective``,
    ``bound``, ``gap``, ``wall_seconds``, ``balance``, ``disruption``, ``travel``, ``frontier``,
    ``reason`` (why there is no plan), ``worker``, ``label`` (the varied settings that made
    the point, e.g. ``tolerance=0.05, disruption=2``), ``run`` (its folder, once written) and
    every KPI of the plan. ``frontier`` is the rows no other plan dominates on the
    ``measures`` (``{measure: column}``; by default balance, disruption and travel; all lower
    is better). ``runs`` maps point names to their :class:`Run`.
    """

    table: pd.DataFrame
    grid: dict[str, list[Any]]
    runs: dict[str, Run] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    measures: dict[str, str] = field(default_factory=lambda: {a: a for a in AXES})

    def __repr__(self) -> str:
        t = self.table
        plans = int(t["status"].isin(PLAN).sum()) if len(t) else 0
        front = int(t["frontier"].sum()) if "frontier" in t else 0
        where = f" path={str(self.path)!r}" if self.path is not None else ""
        return (
            f"<Sweep {len(t)} points, {plans} with a plan, {front} on the frontier of "
            f"{', '.join(self.measures)}{where}>"
        )

    @property
    def frontier(self) -> pd.DataFrame:
        return self.table[self.table["frontier"]].reset_index(drop=True)

    @property
    def interrupted(self) -> bool:
        return bool(self.info.get("interrupted"))

    def write(self, folder: str | Path) -> Path:
        """Write runs/<point>/ (run folders), sweep.csv, frontier.csv, frontier.png, sweep.json."""
        folder = Path(folder)
        for name, run in self.runs.items():
            if run.path is None or run.path.resolve() != (folder / "runs" / name).resolve():
                run.write(folder / "runs" / name)
        table = self.table.copy()
        table["run"] = [f"runs/{n}" if n in self.runs else "" for n in table["point"]]
        self.table = table
        folder.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / "sweep.csv", index=False, float_format="%.10g")
        self.frontier.to_csv(folder / "frontier.csv", index=False, float_format="%.10g")
        ax = self.plot_frontier()
        ax.figure.savefig(folder / "frontier.png")
        info = dict(
            self.info, grid=self.grid, measures=self.measures, frontier=list(self.frontier["point"])
        )
        (folder / "sweep.json").write_text(
            json.dumps(strict_json(info), indent=2, default=str, allow_nan=False) + "\n"
        )
        self.path = folder
        return folder

    def plot_frontier(self, *, ax: Any = None) -> Any:
        """The first measure against the second, coloured by the third; the frontier's points
        labelled with the settings that made them.

        Returns the matplotlib Axes (made without pyplot when not given).
        """
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(8, 6), dpi=110, layout="constrained").add_subplot()
        t = self.table
        cols = list(self.measures.values())
        names = list(self.measures)
        x, y = cols[0], cols[1]
        colour = cols[2] if len(cols) > 2 else cols[1]
        plan = t[t["status"].isin(PLAN)]
        front = plan[plan["frontier"]]
        rest = plan[~plan["frontier"]]
        if len(plan):
            norm = None
            if plan[colour].notna().any():
                from matplotlib.colors import Normalize

                norm = Normalize(plan[colour].min(), plan[colour].max())
            styles = (
                (rest, {"s": 30, "alpha": 0.5, "label": "dominated"}),
                (front, {"s": 90, "edgecolors": "black", "linewidths": 1.2, "label": "frontier"}),
            )
            for rows, style in styles:
                if len(rows):
                    sc = ax.scatter(
                        rows[x],
                        rows[y],
                        c=rows[colour],
                        norm=norm,
                        cmap="viridis",
                        **style,
                    )
            ax.figure.colorbar(sc, ax=ax, label=_measure_label(names[-1], colour))
            # one label per place: points at the same place share it
            places: dict[tuple[float, float], list[str]] = {}
            for _, row in front.iterrows():
                key = (row[x], row[y])
                places.setdefault(key, []).append(_label_of(row))
            for (px, py), labels in places.items():
                ax.annotate(
                    "\n".join(labels),
                    (px, py),
                    textcoords="offset points",
                    xytext=(6, 4),
                    fontsize=8,
                )
            ax.legend(loc="best", fontsize=8)
        else:
            ax.text(0.5, 0.5, "no point has a plan", ha="center", transform=ax.transAxes)
        ax.set_xlabel(_measure_label(names[0], x))
        ax.set_ylabel(_measure_label(names[1], y))
        ax.set_title(
            f"{len(t)} runs, {len(plan)} with a plan, {len(front)} on the Pareto frontier",
            loc="left",
        )
        return ax


def _measure_label(name: str, column: str) -> str:
    if column in MEASURE_LABELS:
        return MEASURE_LABELS[column]
    return f"{name}: largest |deviation| from target (share)"


def _label_of(row: pd.Series) -> str:
    """``p2: tolerance=0.1, disruption=0``: a point and the settings that made it."""
    head = str(row["point"]).split("_", 1)[0]
    label = row.get("label")
    return f"{head}: {label}" if isinstance(label, str) and label else head


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Rows of ``values`` (lower is better in every column) that no other row dominates.

    Row a dominates row b when a <= b in every column and a < b in one (1e-9 relative slack).
    """
    n = len(values)
    keep = np.ones(n, dtype=bool)
    tol = 1e-9 * np.maximum(1.0, np.abs(values))
    for i in range(n):
        le = np.all(values <= values[i] + tol[i], axis=1)
        lt = np.any(values < values[i] - tol[i], axis=1)
        keep[i] = not np.any(le & lt)
    return keep


def _metrics(run: Run) -> dict[str, float]:
    after = run.kpis.get("after", {})
    s = run.settings
    measures = list(s.balance) if s is not None else []
    devs = [after[f"{m}.max_abs_deviation"] for m in measures if f"{m}.max_abs_deviation" in after]
    dm = s.objective.disruption_measure if s is not None else "accounts"
    moved = after.get(f"moved_share.{dm}", after.get("moved_share.accounts", math.nan))
    return {
        "balance": max(devs) if devs else math.nan,
        "disruption": moved,
        "travel": after.get("travel", math.nan),
    }


def _row(name: str, point: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"point": name, **point}
    run: Run | None = result.get("run")
    if run is None:
        row.update(status="error", reason=result.get("error", "no result"))
    else:
        row.update(
            status=run.status,
            objective=run.objective,
            bound=run.bound,
            gap=run.gap,
            wall_seconds=run.wall_seconds,
        )
        if run.has_plan:
            row.update(_metrics(run))
        row["reason"] = "; ".join(run.reasons) or (run.message if not run.has_plan else "")
    row["worker"] = result.get("worker", "")
    loads = result.get("loads") or {}
    row["loads"] = max(loads.values()) if loads else None
    if run is not None and run.has_plan:
        row.update({k: v for k, v in run.kpis.get("after", {}).items() if k not in row})
    return row


COLUMNS = [
    "status", "objective", "bound", "gap", "wall_seconds", "balance", "disruption", "travel",
    "frontier", "reason", "worker", "loads",
]  # fmt: skip


def point_labels(grid: Mapping[str, list[Any]], points: list[dict[str, Any]]) -> list[str]:
    """Each point's varied settings as a person reads them: ``tolerance=0.1, disruption=0``."""
    short = short_keys(list(grid))
    return [", ".join(f"{short[k]}={_text(v)}" for k, v in p.items()) for p in points]


def _table(
    names: list[str],
    points: list[dict[str, Any]],
    rows: dict[str, dict[str, Any]],
    measures: Mapping[str, str] | None = None,
    grid: Mapping[str, list[Any]] | None = None,
) -> pd.DataFrame:
    full = []
    for name, point in zip(names, points, strict=True):
        full.append(rows.get(name) or {"point": name, **point, "status": "cancelled"})
    table = pd.DataFrame(full)
    cols = list((measures or {a: a for a in AXES}).values())
    for col in [*COLUMNS, *cols]:
        if col not in table:
            table[col] = None if col in ("reason", "worker", "loads") else math.nan
    table["label"] = point_labels(grid or {k: [] for k in points[0]} if points else {}, points)
    ok = table["status"].isin(PLAN).to_numpy()
    vals = table[cols].to_numpy(dtype=float)
    ok = ok & np.isfinite(vals).all(axis=1)
    mask = np.zeros(len(table), dtype=bool)
    if ok.any():
        mask[np.flatnonzero(ok)] = pareto_mask(vals[ok])
    table["frontier"] = mask
    table["reason"] = table["reason"].fillna("")
    head = ["point", *points[0].keys(), *COLUMNS] if points else ["point", *COLUMNS]
    return table[head + [c for c in table.columns if c not in head]]


# --- the sweep --------------------------------------------------------------------------------


def sweep(
    scenario: str | Path | Scenario,
    vary: Mapping[str, list[Any]],
    *,
    executor: str | Executor | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
    progress: Progress | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    measures: list[str] | str | None = None,
) -> Sweep:
    """Solve the scenario at every point of the grid and find the Pareto frontier.

    Parameters
    ----------
    scenario
        A scenario folder or a :class:`Scenario`.
    vary
        Dotted settings keys (as ``--set``) and the values to try, e.g.
        ``{"balance.potential.tolerance": [0.02, 0.05], "objective.disruption": [0, 2]}``.
    executor
        ``"local"`` (default: a process pool), ``"dask://HOST:PORT"`` or an
        :class:`~align.executors.Executor`.
    workers
        Local worker processes (default: the number of CPUs, at most the number of points).
        Each solve gets ``CPUs // workers`` HiGHS threads unless ``solver.threads`` is set.
    out
        Sweep folder: each run is written to ``out/runs/<point>/`` as it finishes, then
        sweep.csv, frontier.csv, frontier.png and sweep.json.
    progress
        Called as ``progress(done, total, row)`` after each point.
    overrides
        ``--set`` overrides applied to every point (under the varied keys).
    measures
        What the frontier weighs (lower is better on each), e.g. ``["potential", "moved",
        "travel"]`` or ``"potential,moved,travel"``: ``balance`` (the worst balanced
        measure), ``moved``, ``travel``, ``distance`` or a balanced column (its largest
        |deviation|). Default ``balance, disruption, travel``.

    Returns
    -------
    Sweep
        Failed points (no plan, an error in a worker) are rows with their status and reason.
        On Ctrl-C the pending points are cancelled (status ``cancelled``), the finished ones
        kept and written, and ``Sweep.interrupted`` is True.

    Raises
    ------
    SettingsError
        A bad key or value in ``vary`` or ``overrides``, before anything runs.
    ExecutorError
        An unknown executor, or a Dask scheduler that cannot be reached within 5 s.
    """
    started = time.time()
    over = parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides or {})
    if isinstance(scenario, Scenario):
        base = scenario
        shared: Any = scenario
    else:
        base = load_scenario(scenario, overrides=over)
        shared = Lazy(load_scenario, (Path(scenario),), {"overrides": over})
    grid = {k: list(v) for k, v in vary.items()}
    if isinstance(measures, str):
        measures = [m.strip() for m in measures.split(",") if m.strip()]
    chosen = (
        measure_columns(list(measures), base.settings)
        if measures is not None
        else {a: a for a in AXES}
    )
    settled = point_settings(base, grid, overrides=over)
    points = [p for p, _ in settled]
    names = _point_names(grid, points)
    total = len(points)
    pool_size = min(workers, total) if workers else None
    if pool_size is None and (executor is None or executor == "local"):
        pool_size = min(cpu_count() or 1, total)
    ex = get_executor(executor, workers=pool_size)
    owned = not isinstance(executor, Executor)
    threads_set = base.settings.solver.threads is not None or any(
        k.startswith("solver.threads") for k in grid
    )
    info: dict[str, Any] = {
        "scenario": base.name,
        "scenario_path": str(Path(base.source).resolve()) if base.source else "",
        "overrides": overrides if isinstance(overrides, list) else over,
        "points": total,
        "executor": ex.describe(),
        "threads_per_solve": None if threads_set else ex.threads_per_task,
    }
    rows: dict[str, dict[str, Any]] = {}
    runs: dict[str, Run] = {}
    folder = Path(out) if out is not None else None
    interrupted = False
    futures: dict[Any, tuple[str, dict[str, Any]]] = {}
    try:
        handle = ex.scatter(shared)
        for name, (point, s) in zip(names, settled, strict=True):
            if not threads_set:
                s = s.model_copy(
                    update={"solver": s.solver.model_copy(update={"threads": ex.threads_per_task})}
                )
            futures[ex.submit(_solve_point, handle, s)] = (name, point)
        interrupted = _collect(ex, futures, rows, runs, folder, progress)
    finally:
        if owned:
            ex.close()
    table = _table(names, points, rows, chosen, grid)
    statuses = table["status"].value_counts().to_dict()
    info.update(
        interrupted=interrupted,
        statuses={str(k): int(v) for k, v in statuses.items()},
        wall_seconds=round(time.time() - started, 3),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        workers_used=_workers_used(table),
    )
    result = Sweep(table=table, grid=grid, runs=runs, info=info, measures=chosen)
    if folder is not None:
        result.write(folder)
    return result


def _collect(
    ex: Executor,
    futures: dict[Any, tuple[str, dict[str, Any]]],
    rows: dict[str, dict[str, Any]],
    runs: dict[str, Run],
    folder: Path | None,
    progress: Progress | None,
) -> bool:
    """Gather the points as they finish into ``rows`` and ``runs`` (each run written to
    ``folder/runs/<point>/``); True when Ctrl-C cancelled the points still pending."""
    try:
        for done, fut in enumerate(ex.as_completed(futures), 1):
            name, point = futures[fut]
            try:
                result = fut.result()
            except Exception as e:  # noqa: BLE001 - a dead worker loses one point only
                result = {"error": f"{type(e).__name__}: {e}"}
            run = result.get("run")
            if run is not None:
                runs[name] = run
                if folder is not None:
                    run.write(folder / "runs" / name)
            rows[name] = _row(name, point, result)
            if progress is not None:
                progress(done, len(futures), rows[name])
    except KeyboardInterrupt:
        ex.cancel(list(futures))
        return True
    return False


def _workers_used(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per worker: points solved and how often it loaded the scenario (local pool)."""
    used: dict[str, dict[str, Any]] = {}
    for _, row in table.iterrows():
        worker = row.get("worker")
        if not isinstance(worker, str) or not worker:
            continue
        w = used.setdefault(worker, {"points": 0, "scenario_loads": None})
        w["points"] += 1
        loads = row.get("loads")
        if loads is not None and not (isinstance(loads, float) and math.isnan(loads)):
            w["scenario_loads"] = max(int(loads), w["scenario_loads"] or 0)
    return used
