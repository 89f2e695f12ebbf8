"""Maps and charts of a run: territories on a map, balance against the bands.

matplotlib is imported only here, and only when a chart is drawn (``import align`` does not
import it). Figures are made without pyplot (no global state, no interactive backend): pass
``ax`` to draw into a figure of your own, e.g. in a notebook.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from .errors import RunError
from .io import RunSource, scenario_of
from .scenario import Scenario
from .settings import BalanceRule
from .validation import suggest

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


class Run(RunSource, Protocol):
    """What a chart reads of a run (:class:`align.Run` has it all); plots import no runs."""

    @property
    def status(self) -> str: ...
    @property
    def balance(self) -> Mapping[str, BalanceRule]: ...
    @property
    def kpis(self) -> Mapping[str, Mapping[str, float]]: ...
    @property
    def assignments(self) -> pd.DataFrame | None: ...
    @property
    def territories(self) -> pd.DataFrame | None: ...
    @property
    def account_shapes(self) -> Any: ...
    @property
    def has_plan(self) -> bool: ...

    def territory_shapes(self) -> Any: ...


MAP_SIZE = (12.0, 8.0)  # inches
DRAWN = ["constraints.contiguity=false"]  # a scenario read to draw needs no adjacency
BALANCE_SIZE = (12.0, 6.0)
DPI = 110
# qualitative colours, strong ones first; no greys (they read as "nobody's")
PALETTES = ("tab10", "tab20", "Set3", "Dark2", "tab20b")
GREYS = {"#7f7f7f", "#c7c7c7", "#d9d9d9", "#666666"}
CONTRAST = 0.45  # RGB distance a colour keeps from its neighbours' when the palette allows


def _root(ax: Axes) -> Figure:
    fig = ax.get_figure(root=True)
    assert fig is not None
    return fig


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=DPI, layout="constrained")


def _palette() -> np.ndarray:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex, to_rgb

    out: list[tuple[float, float, float]] = []
    for name in PALETTES:
        for c in colormaps[name].colors:  # type: ignore[attr-defined]
            rgb = to_rgb(c)
            if to_hex(rgb) not in GREYS and rgb not in out:
                out.append(rgb)
    return np.array(out)


def territory_colours(m: int, pairs: np.ndarray) -> np.ndarray:
    """An RGB colour per territory: distinct while the palette lasts (56 colours), and
    neighbours (``pairs``, an (k, 2) array of territory indices) clearly different.

    Greedy, most connected first: each territory takes the first unused colour (strong colours
    come first) at least :data:`CONTRAST` away from its neighbours' colours, else the farthest.
    """
    palette = _palette()
    nbrs: list[set[int]] = [set() for _ in range(m)]
    for a, b in np.asarray(pairs, dtype=np.int64).reshape(-1, 2):
        if a != b:
            nbrs[a].add(int(b))
            nbrs[b].add(int(a))
    colour = np.full(m, -1, dtype=np.int64)
    used = np.zeros(len(palette), dtype=bool)
    for t in sorted(range(m), key=lambda t: (-len(nbrs[t]), t)):
        if used.all():
            used[:] = False
        free = np.flatnonzero(~used)
        taken = [colour[n] for n in nbrs[t] if colour[n] >= 0]
        pick = int(free[0])
        if taken:
            d = np.linalg.norm(palette[free][:, None, :] - palette[taken][None, :, :], axis=2)
            near = d.min(axis=1)
            ok = np.flatnonzero(near >= CONTRAST)
            pick = int(free[ok[0]] if len(ok) else free[int(np.argmax(near))])
        colour[t] = pick
        used[pick] = True
    return palette[colour]


def _darken(rgb: np.ndarray, top: float) -> np.ndarray:
    """Pale colours scaled down to luminance ``top``: dots must stand out on white."""
    lum = rgb @ np.array([0.299, 0.587, 0.114])
    return rgb * np.minimum(1.0, top / np.maximum(lum, 1e-9))[:, None]


def _plan(run: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not run.has_plan or run.assignments is None or run.territories is None:
        label = run.path or run.scenario or "run"
        raise RunError(f"{label}: status {run.status}, it holds no plan to draw")
    return run.assignments, run.territories


def _legend_label(row: pd.Series) -> str:
    name = row.get("name")
    if isinstance(name, str) and name.strip() and name.strip() != row["territory_id"]:
        return f"{row['territory_id']} {name.strip()}"
    return str(row["territory_id"])


def _halo(size: float) -> dict[str, Any]:
    from matplotlib import patheffects

    return dict(
        fontsize=size,
        fontweight="bold",
        ha="center",
        va="center",
        path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
        zorder=6,
    )


def _polygon_path(geom: Any) -> Any:
    import shapely
    from matplotlib.path import Path as MplPath

    paths = []
    for poly in shapely.get_parts(geom):
        rings = [poly.exterior, *poly.interiors]
        paths += [MplPath(np.asarray(r.coords)[:, :2], closed=True) for r in rings]
    return MplPath.make_compound_path(*paths) if paths else None


def _unit_borders(shapes: Any) -> Any:
    """Every unit's border as one LineCollection (vectorised over the shapes)."""
    import shapely
    from matplotlib.collections import LineCollection

    parts = shapely.get_parts(shapely.boundary(shapes.to_crs(4326).to_numpy()))
    coords, index = shapely.get_coordinates(parts, return_index=True)
    cuts = np.flatnonzero(np.diff(index)) + 1
    return LineCollection(np.split(coords, cuts), colors="white", linewidths=0.3, zorder=2)


def plot_map(run: Run, *, ax: Axes | None = None, scenario: Scenario | None = None) -> Axes:
    """A map of the run's territories, labelled, with a legend.

    Polygons (the run's territories.geojson, or the scenario's polygons dissolved) are filled in
    one colour per territory with its id at a point inside it; without polygons, every account
    is a dot in its territory's colour and every home base a large labelled marker. Neighbouring
    territories get contrasting colours; the legend lists ``id name`` per territory.

    Parameters
    ----------
    run
        A run with a plan (from :func:`align.solve` or :func:`align.load_run`).
    ax
        Axes to draw into; by default a new figure of :data:`MAP_SIZE` inches.
    scenario
        The scenario the run was solved from; by default read from ``run.scenario_path`` (only
        needed for point maps and for the borders of the units).
    """
    from matplotlib.patches import Patch

    assignments, territories = _plan(run)
    own = ax is None
    if ax is None:
        ax = _figure(MAP_SIZE).add_subplot()
    m = len(territories)
    tids = territories["territory_id"].astype(str).to_numpy()
    marked: tuple[np.ndarray, np.ndarray] | None = None  # home bases to label beside
    home: Any = None  # legend entry of the home bases
    shapes = run.territory_shapes()
    unit_shapes = run.account_shapes
    sc: Scenario | None = scenario
    if shapes is None:  # points, or polygons of a run written without territories.geojson
        sc = scenario_of(run, scenario, overrides=DRAWN)
        unit_shapes = sc.shapes
        if unit_shapes is not None:
            from .shapes import territory_shapes

            shapes = territory_shapes(unit_shapes, assignments["territory_id"], territories)
    font = 11.0 if m <= 10 else 9.0 if m <= 30 else 7.0
    if shapes is not None:
        colours, home = _draw_polygons(ax, run, sc, shapes, unit_shapes, territories, font)
        kind = "latlon"
    else:
        assert sc is not None
        colours, marked, home, kind = _draw_points(ax, run, sc, assignments, tids)
    if kind == "latlon":
        mid = np.mean(ax.get_ylim())
        ax.set_aspect(1 / max(math.cos(math.radians(mid)), 0.1))
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
    else:
        ax.set_aspect("equal")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    handles = [
        Patch(facecolor=colours[k], edgecolor="0.25", label=_legend_label(row))
        for k, (_, row) in enumerate(territories.iterrows())
    ]
    if home is not None:
        handles.append(home)
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        ncol=max(1, math.ceil(m / 30)),
        fontsize=8 if m <= 30 else 7,
        frameon=False,
        title="territories",
        title_fontsize=9,
    )
    ax.set_title(_map_title(run, m))
    if own:
        _fit_figure(ax, ncol=max(1, math.ceil(m / 30)))
    if marked is not None:
        _label_markers(ax, marked[0], marked[1], font)
    return ax


def _draw_polygons(
    ax: Axes,
    run: Run,
    sc: Scenario | None,
    shapes: Any,
    unit_shapes: Any,
    territories: pd.DataFrame,
    font: float,
) -> tuple[np.ndarray, Any]:
    """Territories as filled polygons with the units' borders, labels and home bases; returns
    the colours and the legend entry of the home bases (None without them)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch

    tids = territories["territory_id"].astype(str).to_numpy()
    m = len(tids)
    home: Any = None
    geoms = shapes.set_index(shapes["territory_id"].astype(str)).geometry.reindex(tids)
    colours = territory_colours(m, _touching(geoms))
    drawn = ~(geoms.isna() | geoms.is_empty).to_numpy()
    for k in np.flatnonzero(drawn).tolist():
        t, path = tids[k], _polygon_path(geoms.iloc[k])
        coll = PatchCollection(
            [PathPatch(path)],
            facecolor=colours[k],
            edgecolor="0.2",
            linewidth=1.0,
            alpha=0.85,
            zorder=1,
        )
        coll.set_gid(t)
        ax.add_collection(coll)
    if unit_shapes is None:
        try:
            unit_shapes = scenario_of(run, sc, overrides=DRAWN).shapes
        except RunError:  # the map stands without the units' borders
            unit_shapes = None
    if unit_shapes is not None:
        ax.add_collection(_unit_borders(unit_shapes))
    label_at = _label_points(geoms[drawn])
    for k, p in zip(np.flatnonzero(drawn).tolist(), label_at, strict=True):
        ax.text(p.x, p.y, tids[k], **_halo(font))
    if "centre_lat" in territories and "centre_lon" in territories:
        ax.scatter(
            territories["centre_lon"],
            territories["centre_lat"],
            marker="^",
            s=36,
            c="black",
            edgecolors="white",
            linewidths=0.6,
            zorder=5,
        )
        home = Line2D([], [], marker="^", color="black", linestyle="", label="home base")
    ax.autoscale_view()
    return colours, home


def _draw_points(
    ax: Axes, run: Run, sc: Scenario, assignments: pd.DataFrame, tids: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], Any, str]:
    """Every account a dot in its territory's colour and every home base a large marker;
    returns the colours, the markers to label, the legend entry and the coordinate kind."""
    from matplotlib.lines import Line2D

    m = len(tids)
    if sc.coord_kind is None:
        raise RunError(f"{run.path or 'run'}: the accounts have no coordinates to map")
    kind = sc.coord_kind
    a, b = ("lat", "lon") if kind == "latlon" else ("x", "y")
    acc = sc.accounts[["account_id", a, b]].merge(
        assignments[["account_id", "territory_id"]].astype({"account_id": object}),
        on="account_id",
    )
    j = pd.Index(tids).get_indexer(acc["territory_id"].astype(str))
    xy = acc[[b, a]].to_numpy(dtype=float)
    centre = np.array(
        [xy[j == k].mean(axis=0) if (j == k).any() else [np.nan, np.nan] for k in range(m)]
    )
    ter = sc.territories.set_index(sc.territories["territory_id"].astype(str))
    if a in ter and b in ter:
        base = ter.reindex(tids)[[b, a]].to_numpy(dtype=float)
        centre = np.where(np.isnan(base), centre, base)
    colours = _darken(territory_colours(m, _delaunay_pairs(centre, kind)), 0.72)
    size = float(np.clip(16000 / max(len(acc), 1), 3, 30))
    for k in range(m):
        pts = xy[j == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=size, color=colours[k], linewidths=0, zorder=2)
    ok = ~np.isnan(centre).any(axis=1)
    ax.scatter(
        centre[ok, 0],
        centre[ok, 1],
        s=MARKER**2,
        c=colours[ok],
        edgecolors="black",
        linewidths=1.2,
        zorder=4,
    )
    marked = (centre[ok], tids[ok])
    home = Line2D(
        [],
        [],
        marker="o",
        markersize=MARKER * 0.7,
        markerfacecolor="white",
        markeredgecolor="black",
        linestyle="",
        label="home base",
    )
    return colours, marked, home, kind


def _fit_figure(ax: Axes, *, ncol: int) -> None:
    """Size a figure of our own to the map's shape: no bands of white above and below."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    aspect = ax.get_aspect()
    ratio = abs(y1 - y0) * (aspect if isinstance(aspect, float) else 1.0) / max(abs(x1 - x0), 1e-12)
    width = MAP_SIZE[0] - 2.0 + 2.0 * ncol
    _root(ax).set_size_inches(width, float(np.clip(9.0 * ratio + 1.2, 4.5, 11.0)))


# label offsets around a marker, in points, tried in order
_OFFSETS = [(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]
MARKER = 14.0  # home base marker diameter, points


def _label_markers(ax: Axes, xy: np.ndarray, texts: np.ndarray, font: float) -> None:
    """Labels beside markers, each where it overlaps no other label or marker (greedy), with a
    leader line when it had to move away."""
    fig = _root(ax)
    fig.draw_without_rendering()  # the final layout, so data -> points is right
    scale = 72.0 / fig.dpi
    anchor = ax.transData.transform(xy) * scale  # points
    h = font * 1.25
    widths = np.array([len(t) * font * 0.62 + 2 for t in texts])
    r = MARKER / 2
    boxes = [(a[0] - r, a[1] - r, a[0] + r, a[1] + r) for a in anchor]  # the markers

    def overlap(b: tuple[float, float, float, float]) -> float:
        total = 0.0
        for o in boxes:
            dx = min(b[2], o[2]) - max(b[0], o[0])
            dy = min(b[3], o[3]) - max(b[1], o[1])
            if dx > 0 and dy > 0:
                total += dx * dy
        return total

    for k in np.argsort(-anchor[:, 1], kind="stable"):
        best: tuple[float, float, float, tuple[float, float, float, float]] | None = None
        for ring in (1.0, 2.0, 3.2):
            for ux, uy in _OFFSETS:
                dx = ux * (r + 2 + widths[k] / 2) * ring if ux else 0.0
                dy = uy * (r + 2 + h / 2) * ring if uy else 0.0
                cx, cy = anchor[k, 0] + dx, anchor[k, 1] + dy
                box = (cx - widths[k] / 2, cy - h / 2, cx + widths[k] / 2, cy + h / 2)
                cost = overlap(box)
                if best is None or cost < best[0]:
                    best = (cost, dx, dy, box)
                if cost == 0:
                    break
            if best is not None and best[0] == 0:
                break
        assert best is not None
        _, dx, dy, box = best
        boxes.append(box)
        far = math.hypot(dx, dy) > 2.5 * (r + h)
        ax.annotate(
            texts[k],
            xy[k],
            xytext=(dx, dy),
            textcoords="offset points",
            arrowprops=dict(arrowstyle="-", color="0.3", linewidth=0.7) if far else None,
            **_halo(font),
        )


def _map_title(run: Run, m: int) -> str:
    after = run.kpis.get("after", {})
    bits = [f"{run.scenario or 'run'}: {m} territories, {run.status}"]
    for measure in run.balance or ["potential"]:
        dev = after.get(f"{measure}.max_abs_deviation")
        if dev is not None:
            bits.append(f"{measure} within ±{dev:.1%}")
    return ", ".join(bits)


def _label_points(geoms: Any) -> Any:
    """A point inside the largest piece (by area, in metres) of each territory."""
    import shapely

    from .shapes import metric_crs

    arr = geoms.to_numpy()
    parts, owner = shapely.get_parts(arr, return_index=True)
    area = shapely.area(type(geoms)(parts, crs=geoms.crs).to_crs(metric_crs(geoms)).to_numpy())
    order = np.lexsort((-area, owner))  # by territory, largest piece first
    first = order[np.r_[True, np.diff(owner[order]) != 0]]
    return shapely.point_on_surface(parts[first])


def _touching(geoms: Any) -> np.ndarray:
    """Pairs of territories whose shapes touch or overlap."""
    import shapely

    arr = geoms.to_numpy()
    ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    idx = np.flatnonzero(ok)
    tree = shapely.STRtree(arr[idx])
    i, j = tree.query(arr[idx], predicate="intersects")
    return np.column_stack((idx[i], idx[j]))


def _delaunay_pairs(centre: np.ndarray, kind: str) -> np.ndarray:
    """Neighbouring territories: edges of the Delaunay triangulation of their centres."""
    ok = np.flatnonzero(~np.isnan(centre).any(axis=1))
    if len(ok) < 3:
        return np.empty((0, 2), dtype=np.int64)
    from scipy.spatial import Delaunay, QhullError

    pts = centre[ok].copy()
    if kind == "latlon":
        pts[:, 0] *= np.cos(np.radians(pts[:, 1].mean()))
    try:
        tri = Delaunay(pts)
    except QhullError:  # all centres on a line
        order = np.argsort(pts[:, 0])
        return np.column_stack((ok[order[:-1]], ok[order[1:]]))
    s = tri.simplices
    edges = np.vstack((s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]))
    return ok[edges]


def plot_balance(run: Run, measure: str | None = None, *, ax: Axes | None = None) -> Axes:
    """Each territory's total of a measure against its band.

    With ``measure`` (a column of the run's territories.csv): bars of the totals, each territory's
    target as a black tick and its band (target +- tolerance, when the measure is balanced) as a
    green box; bars outside the band are red. Without: the relative deviation from target of every
    balanced measure, side by side, with each band as dashed lines.
    """
    from matplotlib.ticker import FuncFormatter

    _, territories = _plan(run)
    if ax is None:
        ax = _figure(BALANCE_SIZE).add_subplot()
    balance = run.balance
    tids = territories["territory_id"].astype(str).tolist()
    x = np.arange(len(tids))
    if measure is not None:
        if measure not in territories or f"{measure}_target" not in territories:
            known = [str(c)[: -len("_target")] for c in territories if str(c).endswith("_target")]
            raise RunError(
                f"{run.path or 'run'}: no measure '{measure}' in territories.csv"
                f"{suggest(measure, known)}; measures: {', '.join(known)}"
            )
        value = territories[measure].to_numpy(dtype=float)
        target = territories[f"{measure}_target"].to_numpy(dtype=float)
        tol = balance[measure].tolerance if measure in balance else None
        inside = np.ones(len(x), dtype=bool)
        if tol is not None:
            lo, hi = target * (1 - tol), target * (1 + tol)
            inside = (value >= lo - 1e-9 * np.abs(target)) & (value <= hi + 1e-9 * np.abs(target))
            ax.bar(
                x,
                hi - lo,
                bottom=lo,
                width=0.9,
                color="#2ca02c",
                alpha=0.18,
                zorder=1,
                label=f"band (target ±{tol:.0%})",
            )
        ax.bar(
            x,
            value,
            width=0.6,
            color=np.where(inside, "#4c72b0", "#d62728"),
            zorder=2,
            label=measure,
        )
        ax.hlines(
            target, x - 0.45, x + 0.45, colors="black", linewidth=1.5, zorder=3, label="target"
        )
        ax.set_ylabel(measure)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_title(f"{run.scenario or 'run'}: {measure} per territory against its band")
    else:
        measures = list(balance) or ["potential"]
        width = 0.8 / len(measures)
        from matplotlib import colormaps

        cmap = colormaps["tab10"]
        for k, meas in enumerate(measures):
            dev = territories[f"{meas}_deviation"].to_numpy(dtype=float) * 100
            pos = x - 0.4 + width * (k + 0.5)
            ax.bar(pos, dev, width=width, color=cmap(k), label=meas, zorder=2)
            tol = balance[meas].tolerance if meas in balance else None
            if tol is not None:
                for sign in (-1, 1):
                    ax.axhline(
                        sign * tol * 100,
                        color=cmap(k),
                        linestyle="--",
                        linewidth=1,
                        zorder=1,
                        label=f"{meas} band ±{tol:.0%}" if sign > 0 else None,
                    )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_ylabel("deviation from target (%)")
        ax.set_title(f"{run.scenario or 'run'}: balance per territory (0 = on target)")
    ax.set_xticks(x, tids, rotation=90 if len(tids) > 12 else 0, fontsize=8)
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return ax


def save(ax: Axes, path: str | Path) -> Path:
    """Write the figure of ``ax`` as PNG (its size in inches x :data:`DPI` pixels)."""
    _root(ax).savefig(path, dpi=DPI)
    return Path(path)


TRADEOFF_SIZE = (7.0, 5.0)


def plot_tradeoff(compare: pd.DataFrame, x: str, y: str, *, ax: Axes | None = None) -> Axes:
    """One labelled point per run of :func:`align.compare_runs`: KPI ``y`` against KPI ``x``.

    Points that no other run beats on both (lower is better on each axis) are joined by a line:
    the trade-off frontier of the runs compared.
    """
    missing = [c for c in (x, y) if c not in compare.columns]
    if missing:
        cols = [str(c) for c in compare.columns]
        raise RunError(
            f"plot_tradeoff: no column '{missing[0]}' in the comparison"
            f"{suggest(missing[0], cols)}; columns: {', '.join(cols)}"
        )
    if ax is None:
        ax = _figure(TRADEOFF_SIZE).add_subplot()
    xs = pd.to_numeric(compare[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(compare[y], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    ax.scatter(xs[ok], ys[ok], s=60, color="#4c72b0", edgecolors="black", zorder=3)
    for name, a, b in zip(compare.index[ok], xs[ok], ys[ok], strict=True):
        ax.annotate(str(name), (a, b), xytext=(6, 6), textcoords="offset points", fontsize=9)
    idx = np.flatnonzero(ok)
    front = [
        k for k in idx
        if not any(xs[o] <= xs[k] and ys[o] <= ys[k] and (xs[o], ys[o]) != (xs[k], ys[k])
                   for o in idx)
    ]  # fmt: skip
    if len(front) > 1:
        order = sorted(front, key=lambda k: (xs[k], ys[k]))
        ax.plot(xs[order], ys[order], color="#4c72b0", alpha=0.5, zorder=2, label="frontier")
        ax.legend(fontsize=8, frameon=False)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)
    ax.set_title(f"{y} against {x}")
    return ax
