#!/usr/bin/env python3
"""Seeded synthetic alignment scenarios in the scenario-folder contract (DESIGN.md section 3).

A fictional US sales organisation, built with vectorised numpy only so a million accounts take
seconds:

* accounts: a mixture of Gaussian population centres (lognormal cluster sizes, lognormal spreads of
  tens of km) plus a uniform rural background, inside a box the size of the contiguous US;
* potential: lognormal (median ~40k); workload: sublinear in potential (``~ potential^0.55``) with
  lognormal noise; revenue: potential x a beta-distributed penetration (some accounts are pure
  whitespace); segment: an industry vertical;
* no account carries more than ``max_account_share`` (default 20%) of the mean territory's
  potential or workload, so +-5% bands are always feasible;
* territories: home bases at account locations, picked by a potential-weighted k-means++ seeding
  and a few Lloyd steps (on a potential-weighted sample), so reps sit where the business is;
* ``current_territory``: the nearest home base (great-circle), so today is unbalanced.

Use it as a library::

    from generate import generate, settings_toml, write_scenario
    accounts, territories = generate(5000, 50, seed=1)
    write_scenario("/tmp/s", accounts, territories, settings_toml(tolerance_potential=0.05))

or from the shell::

    python benchmarks/generate.py --accounts 5000 --territories 50 --seed 1 --out /tmp/s \\
        --tolerance-potential 0.05 --tolerance-workload 0.10
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# Contiguous-US-sized box (degrees).
LAT_RANGE = (25.0, 49.0)
LON_RANGE = (-124.0, -67.0)
KM_PER_DEG = 111.195

SEGMENTS = np.array(
    ["Manufacturing", "Healthcare", "Retail", "Finance", "Technology", "Public Sector"]
)
SEGMENT_SHARE = np.array([0.26, 0.22, 0.20, 0.13, 0.10, 0.09])
# Effort per unit of potential differs by vertical (public sector is paperwork-heavy).
SEGMENT_WORKLOAD = np.array([1.00, 1.10, 0.90, 0.85, 0.95, 1.25])

REGIONS = (("West", -180.0, -104.0), ("Central", -104.0, -87.0), ("East", -87.0, 180.0))


@dataclass(frozen=True)
class Shape:
    """One shape of book: how potential, geography and today's owners are drawn, which rules."""

    name: str
    note: str
    potential_sigma: float = 1.0
    whale_share: float = 0.0
    background: float = 0.12  # 1.0 = uniform geography
    cities: str = "lognormal"
    owner: str = "nearest"
    max_moved_share: float = 1.0
    locked_share: float = 0.0
    specialist_share: float = 0.0
    max_account_share: float = 0.20

    def generate(self, n: int, m: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The accounts and territories of this shape, ``n x m``, from ``seed``."""
        return generate(
            n,
            m,
            seed=seed,
            potential_sigma=self.potential_sigma,
            whale_share=self.whale_share,
            background=self.background,
            cities=self.cities,
            owner=self.owner,
            locked_share=self.locked_share,
            specialist_share=self.specialist_share,
            max_account_share=self.max_account_share,
        )


# The family the benchmarks report the worst of: light and heavy tails, whales, clustered and
# uniform geography, nearest and random owners, moved caps, specialists and locks.
SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("base", "the original benchmark: lognormal sigma 1.0, lognormal cities, nearest"),
        Shape(
            "heavy",
            "lognormal sigma 1.1, Pareto cities, nearest owner (largest account 30%)",
            potential_sigma=1.1, cities="pareto", max_account_share=0.30,
        ),
        Shape(
            "wide-random",
            "lognormal sigma 1.5, uniform geography, random owner, 20% moved cap",
            potential_sigma=1.5, background=1.0, owner="random", max_moved_share=0.20,
            max_account_share=0.30,
        ),
        Shape(
            "whale",
            "1% of accounts hold 30% of potential, clustered, nearest owner",
            whale_share=0.30, max_account_share=0.60,
        ),
        Shape(
            "light-rules",
            "lognormal sigma 0.5, uniform geography, 10% one-segment territories, 5% locked",
            potential_sigma=0.5, background=1.0, specialist_share=0.10, locked_share=0.05,
        ),
        Shape(
            "capped",
            "lognormal sigma 1.1, Pareto cities, random owner, 15% moved cap, 2% locked",
            potential_sigma=1.1, cities="pareto", owner="random", max_moved_share=0.15,
            locked_share=0.02, max_account_share=0.30,
        ),
    )
}  # fmt: skip


def _unit_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    cl = np.cos(la)
    return np.column_stack((cl * np.cos(lo), cl * np.sin(lo), np.sin(la)))


def _cap(values: np.ndarray, share: float, m: int, rounds: int = 8) -> np.ndarray:
    """Clip values so none exceeds ``share`` of the per-territory mean (``total / m``)."""
    out = values.copy()
    for _ in range(rounds):
        cap = share * out.sum() / m
        if out.max() <= cap:
            break
        np.minimum(out, cap, out=out)
    return out


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(len(str(max(n - 1, 0))), 2)
    return (prefix + pd.Series(np.arange(n, dtype=np.int64)).astype(str).str.zfill(width)).to_numpy(
        dtype=object
    )


def _locations(
    rng: np.random.Generator, n: int, n_clusters: int, background: float, cities: str = "lognormal"
) -> tuple[np.ndarray, np.ndarray]:
    """Account lat/lon: Gaussian population centres plus uniform background.

    ``cities``: the law of the centres' sizes, ``"lognormal"`` (sigma 1.1) or ``"pareto"``
    (shape 1.1: a handful of metros hold most accounts).
    """
    (lat0, lat1), (lon0, lon1) = LAT_RANGE, LON_RANGE
    n_bg = int(rng.binomial(n, background)) if n else 0
    n_cl = n - n_bg
    c_lat = rng.uniform(lat0 + 1.0, lat1 - 1.0, n_clusters)
    c_lon = rng.uniform(lon0 + 1.0, lon1 - 1.0, n_clusters)
    if cities == "pareto":
        size = rng.pareto(1.1, n_clusters) + 1.0
    elif cities == "lognormal":
        size = rng.lognormal(0.0, 1.1, n_clusters)  # a few big metros, many small towns
    else:
        raise ValueError(f'cities must be "lognormal" or "pareto" (got {cities!r})')
    spread_km = np.clip(rng.lognormal(np.log(35.0), 0.5, n_clusters), 8.0, 200.0)
    spread_km *= (size / size.mean()) ** 0.25  # bigger metros sprawl more
    k = rng.choice(n_clusters, size=n_cl, p=size / size.sum())
    sd_lat = spread_km[k] / KM_PER_DEG
    sd_lon = sd_lat / np.cos(np.radians(c_lat[k]))
    lat = np.empty(n)
    lon = np.empty(n)
    lat[:n_cl] = c_lat[k] + rng.standard_normal(n_cl) * sd_lat
    lon[:n_cl] = c_lon[k] + rng.standard_normal(n_cl) * sd_lon
    lat[n_cl:] = rng.uniform(lat0, lat1, n_bg)
    lon[n_cl:] = rng.uniform(lon0, lon1, n_bg)
    np.clip(lat, lat0, lat1, out=lat)
    np.clip(lon, lon0, lon1, out=lon)
    # interleave clustered and background accounts so ids carry no structure
    perm = rng.permutation(n)
    return lat[perm], lon[perm]


def _home_bases(
    rng: np.random.Generator,
    xyz: np.ndarray,
    potential: np.ndarray,
    m: int,
    *,
    pool_size: int,
    lloyd_iters: int,
) -> np.ndarray:
    """Indices of ``m`` distinct accounts to serve as home bases.

    A pool is sampled proportionally to potential (so its plain k-means is a potential-weighted
    one); k-means++ seeding on the pool, ``lloyd_iters`` Lloyd steps, then every centre snaps to
    the nearest pool account not yet taken.
    """
    from scipy.spatial import cKDTree

    n = len(potential)
    p = potential / potential.sum()
    size = min(n, max(pool_size, 40 * m))
    pool, counts = np.unique(rng.choice(n, size=size, replace=True, p=p), return_counts=True)
    w = counts.astype(float)  # multiplicity ~ potential
    if len(pool) < m:  # tiny scenarios: every account is a candidate, weighted by potential
        pool, w = np.arange(n), potential.astype(float)
    pts = xyz[pool]
    # k-means++ (weights = pool multiplicity, which is ~ potential)
    first = rng.choice(len(pool), p=w / w.sum())
    centres = [first]
    d2 = ((pts - pts[first]) ** 2).sum(axis=1)
    for _ in range(1, m):
        prob = w * d2
        tot = prob.sum()
        nxt = rng.choice(len(pool), p=prob / tot) if tot > 0 else int(rng.integers(len(pool)))
        centres.append(nxt)
        np.minimum(d2, ((pts - pts[nxt]) ** 2).sum(axis=1), out=d2)
    c = pts[np.array(centres)].copy()
    for _ in range(lloyd_iters):
        _, lab = cKDTree(c).query(pts)
        wsum = np.bincount(lab, weights=w, minlength=m)
        new: np.ndarray = np.column_stack(
            [np.bincount(lab, weights=w * pts[:, d], minlength=m) for d in range(3)]
        ).astype(float)
        ok = wsum > 0
        new[ok] /= wsum[ok, None]
        new[ok] /= np.linalg.norm(new[ok], axis=1)[:, None]
        c[ok] = new[ok]
    # snap each centre to a distinct pool account
    tree = cKDTree(pts)
    kq = min(len(pool), 16)
    _, cand = tree.query(c, k=kq)
    cand = np.asarray(cand).reshape(m, kq)
    taken: set[int] = set()
    out = np.empty(m, dtype=np.int64)
    for j in range(m):
        pick = next((int(q) for q in cand[j] if int(q) not in taken), None)
        if pick is None:
            free = np.setdiff1d(np.arange(len(pool)), np.fromiter(taken, dtype=np.int64))
            pick = int(free[0])
        taken.add(pick)
        out[j] = pool[pick]
    return out


def generate(
    n_accounts: int,
    n_territories: int,
    *,
    seed: int = 0,
    current: bool = True,
    locked_share: float = 0.0,
    n_clusters: int | None = None,
    background: float = 0.12,
    potential_median: float = 40_000.0,
    potential_sigma: float = 1.0,
    workload_exponent: float = 0.55,
    workload_noise: float = 0.35,
    max_account_share: float = 0.20,
    pool_size: int = 50_000,
    lloyd_iters: int = 3,
    cities: str = "lognormal",
    whale_share: float = 0.0,
    owner: str = "nearest",
    specialist_share: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic scenario: ``(accounts, territories)`` DataFrames in the folder contract.

    Parameters
    ----------
    n_accounts, n_territories
        Sizes. Territories are at most as many as accounts.
    seed
        Everything is determined by it.
    current
        Fill ``current_territory`` with the nearest home base (else the column is empty).
    locked_share
        Share of accounts (chosen at random) that are ``locked`` to their current territory.
    n_clusters
        Population centres (default ``clip(2 * n_territories, 30, 400)``).
    background
        Share of accounts spread uniformly over the box.
    max_account_share
        No account's potential or workload exceeds this share of the mean territory's total.
    pool_size, lloyd_iters
        Size of the potential-weighted sample used to place home bases, and Lloyd steps on it.
    cities
        Law of the population centres' sizes: ``"lognormal"`` or ``"pareto"`` (lumpier).
    whale_share
        When > 0, 1% of the accounts (at random) are rescaled to hold this share of the potential.
    owner
        ``current_territory``: ``"nearest"`` home base or ``"random"`` (an inherited book).
    specialist_share
        Share of territories that serve one segment only (``segments`` column), the segment drawn
        by its share of accounts.
    """
    n, m = int(n_accounts), int(n_territories)
    if n < 1 or m < 1 or m > n:
        raise ValueError(
            f"need 1 <= n_territories <= n_accounts (got {n} accounts, {m} territories)"
        )
    if owner not in ("nearest", "random"):
        raise ValueError(f'owner must be "nearest" or "random" (got {owner!r})')
    if not 0.0 <= whale_share < 1.0 or not 0.0 <= specialist_share <= 1.0:
        raise ValueError(
            f"whale_share must be in [0, 1) and specialist_share in [0, 1] "
            f"(got {whale_share}, {specialist_share})"
        )
    if not 0.0 <= locked_share <= 1.0:
        raise ValueError(f"locked_share must be in [0, 1] (got {locked_share})")
    if locked_share > 0 and not current:
        raise ValueError(
            "locked accounts need a current_territory: use current=True or locked_share=0"
        )
    rng = np.random.default_rng(seed)
    k = n_clusters if n_clusters is not None else int(np.clip(2 * m, 30, 400))

    lat, lon = _locations(rng, n, k, background, cities)
    lat = np.round(lat, 5)
    lon = np.round(lon, 5)

    seg = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARE)
    potential = rng.lognormal(np.log(potential_median), potential_sigma, n)
    if whale_share > 0:
        whales = rng.choice(n, size=max(1, n // 100), replace=False)
        rest = np.ones(n, dtype=bool)
        rest[whales] = False
        scale = whale_share / (1 - whale_share) * potential[rest].sum() / potential[whales].sum()
        potential[whales] *= scale
    potential = np.round(_cap(potential, max_account_share, m), 2)
    rel = potential / np.median(potential)
    workload = (
        12.0
        * SEGMENT_WORKLOAD[seg]
        * rel**workload_exponent
        * rng.lognormal(0.0, workload_noise, n)
    )
    workload = np.round(np.maximum(_cap(workload, max_account_share, m), 0.25), 3)
    penetration = rng.beta(2.0, 3.0, n) * (rng.random(n) >= 0.08)  # ~8% pure whitespace
    revenue = np.round(potential * penetration, 2)

    xyz = _unit_xyz(lat, lon)
    bases = _home_bases(rng, xyz, potential, m, pool_size=pool_size, lloyd_iters=lloyd_iters)
    t_lat, t_lon = lat[bases], lon[bases]

    tids = _ids("T", m)
    region = np.empty(m, dtype=object)
    for name, lo, hi in REGIONS:
        region[(t_lon >= lo) & (t_lon < hi)] = name
    # name territories west-to-east within a region: "West 03"
    order = np.lexsort((t_lat, t_lon))
    names = np.empty(m, dtype=object)
    counter: dict[str, int] = {}
    for j in order:
        counter[region[j]] = counter.get(region[j], 0) + 1
        names[j] = f"{region[j]} {counter[region[j]]:02d}"
    territories = pd.DataFrame(
        {"territory_id": tids, "lat": t_lat, "lon": t_lon, "name": names, "region": region}
    )
    if specialist_share > 0:
        spec = rng.random(m) < specialist_share
        own = SEGMENTS[rng.choice(len(SEGMENTS), size=m, p=SEGMENT_SHARE)]
        territories["segments"] = np.where(spec, own, "")

    if current:
        from scipy.spatial import cKDTree

        if owner == "nearest":
            _, near = cKDTree(_unit_xyz(t_lat, t_lon)).query(xyz)
        else:
            near = rng.integers(m, size=n)
        cur = tids[np.asarray(near, dtype=np.int64)]
        locked = rng.random(n) < locked_share
        if "segments" in territories:  # a lock never holds an account where its segment is barred
            served = territories["segments"].to_numpy()[np.asarray(near, dtype=np.int64)]
            locked &= (served == "") | (served == SEGMENTS[seg])
    else:
        cur = np.full(n, None, dtype=object)
        locked = np.zeros(n, dtype=bool)
    accounts = pd.DataFrame(
        {
            "account_id": _ids("A", n),
            "lat": lat,
            "lon": lon,
            "potential": potential,
            "workload": workload,
            "revenue": revenue,
            "segment": SEGMENTS[seg],
            "current_territory": cur,
            "locked": locked,
        }
    )
    return accounts, territories


def settings_toml(
    *,
    tolerance_potential: float = 0.05,
    tolerance_workload: float = 0.10,
    travel: float = 1.0,
    travel_weight: str = "potential",
    distance_power: int = 1,
    disruption: float = 0.0,
    time_limit_s: float = 120.0,
    gap: float = 0.005,
    seed: int = 0,
    max_moved_share: float = 1.0,
    threads: int | None = None,
) -> str:
    """The text of a fully explicit ``scenario.toml`` (no preset, so presets cannot shift it)."""
    constraints = (
        f"\n[constraints]\nmax_moved_share = {float(max_moved_share)!r}\n"
        if max_moved_share < 1.0
        else ""
    )
    solver_threads = f"threads = {int(threads)}\n" if threads else ""
    return (
        "# generated by benchmarks/generate.py\n"
        "[balance.potential]\n"
        f"tolerance = {tolerance_potential!r}\n"
        "\n[balance.workload]\n"
        f"tolerance = {tolerance_workload!r}\n"
        "\n[objective]\n"
        f"travel = {float(travel)!r}\n"
        f'travel_weight = "{travel_weight}"\n'
        f"distance_power = {int(distance_power)}\n"
        f"disruption = {float(disruption)!r}\n"
        "\n[solver]\n"
        'name = "highs"\n'
        f"time_limit_s = {float(time_limit_s)!r}\n"
        f"gap = {float(gap)!r}\n"
        f"seed = {int(seed)}\n"
        f"{solver_threads}"
        f"{constraints}"
    )


def write_scenario(
    folder: str | Path,
    accounts: pd.DataFrame,
    territories: pd.DataFrame,
    settings_toml_text: str | None = None,
) -> Path:
    """Write accounts.csv, territories.csv and (when given) scenario.toml into ``folder``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    accounts.to_csv(out / "accounts.csv", index=False)
    territories.to_csv(out / "territories.csv", index=False)
    if settings_toml_text is not None:
        (out / "scenario.toml").write_text(settings_toml_text, encoding="utf-8")
    return out


def describe(accounts: pd.DataFrame, territories: pd.DataFrame) -> str:
    """One paragraph on today's imbalance (max/min of territory potential vs. the mean)."""
    m = len(territories)
    lines = [f"{len(accounts):,} accounts, {m:,} territories"]
    if accounts["current_territory"].notna().any():
        idx = pd.Index(territories["territory_id"]).get_indexer(accounts["current_territory"])
        for col in ("potential", "workload"):
            tot = np.bincount(idx, weights=accounts[col].to_numpy(), minlength=m)
            mean = tot.mean()
            lines.append(
                f"today {col}: min {tot.min() / mean:.2f}x, max {tot.max() / mean:.2f}x "
                "the mean territory; "
                f"{np.mean(np.abs(tot / mean - 1) <= 0.05):.0%} within +-5%"
            )
    for col in ("potential", "workload"):
        share = accounts[col].max() / (accounts[col].sum() / m)
        lines.append(f"largest account {col}: {share:.1%} of the mean territory")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--territories", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True, help="scenario folder to write")
    ap.add_argument("--tolerance-potential", type=float, default=0.05)
    ap.add_argument("--tolerance-workload", type=float, default=0.10)
    ap.add_argument("--locked-share", type=float, default=0.0)
    ap.add_argument("--no-current", action="store_true", help="leave current_territory empty")
    ap.add_argument(
        "--time-limit", type=float, default=120.0, help="solver.time_limit_s in scenario.toml"
    )
    ap.add_argument("--gap", type=float, default=0.005, help="solver.gap in scenario.toml")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    accounts, territories = generate(
        a.accounts,
        a.territories,
        seed=a.seed,
        current=not a.no_current,
        locked_share=a.locked_share,
    )
    t1 = time.perf_counter()
    text = settings_toml(
        tolerance_potential=a.tolerance_potential,
        tolerance_workload=a.tolerance_workload,
        time_limit_s=a.time_limit,
        gap=a.gap,
        seed=a.seed,
    )
    write_scenario(a.out, accounts, territories, text)
    t2 = time.perf_counter()
    if not a.quiet:
        print(describe(accounts, territories))
        print(f"generated in {t1 - t0:.2f} s, written to {a.out} in {t2 - t1:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
