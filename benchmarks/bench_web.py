#!/usr/bin/env python3
"""How the planning room's map page keeps up with many accounts (a measurement, not a test).

A seeded scenario from ``generate.py`` (default 20,000 accounts x 100 territories, +-5% potential,
+-10% workload, 60 s limit) is uploaded to a real ``align serve`` on a loopback port and solved;
then Debian's Chromium (Playwright) opens the run's page and we read, in the page's own clock:

* ``data``: from the script's start to the plan's JSON being parsed;
* ``first render``: from the script's start to every account drawn (canvas), with balance bars,
  KPIs, hulls and the change log, after two animation frames; and from navigation start;
* ``update``: from the click on "Move" to the next frame after balance, KPIs, warnings and hulls
  are recomputed for the whole plan (three accounts moved each time; several moves, median).

With ``--polygons`` every account is a polygon (the Voronoi cell of its point, clipped to the
accounts' box; accounts.geojson): territories are dissolved on the server, and we also read
``GET /runs/{id}/outlines`` (every territory, from the server's memory) and, in the page, the
time to the first outlines drawn and from the click on "Move" to the touched territories'
outlines redrawn.

    .venv/bin/python benchmarks/bench_web.py                        # 20,000 accounts
    .venv/bin/python benchmarks/bench_web.py --polygons             # the same, as polygons
    .venv/bin/python benchmarks/bench_web.py --accounts 5000 --territories 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from generate import generate, settings_toml, write_scenario  # noqa: E402
from servers import Server, upload, wait_for  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--territories", type=int, default=100)
    parser.add_argument("--moves", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--polygons", action="store_true", help="accounts as Voronoi cells")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="align-bench-web-") as tmp:
        work = Path(tmp)
        accounts, territories = generate(args.accounts, args.territories, seed=args.seed)
        toml = settings_toml(tolerance_potential=0.05, time_limit_s=60.0)
        write_scenario(work / "scenario", accounts, territories, toml)
        files = ("accounts.csv", "territories.csv", "scenario.toml")
        if args.polygons:
            write_cells(work / "scenario", accounts, seed=args.seed)
            files = ("accounts.geojson", "territories.csv", "scenario.toml")
        server = Server(f"sqlite:///{work / 'align.db'}", work, ALIGN_API_KEYS="bench-key")
        server.start(workers=1)
        try:
            with server.client("bench-key") as c:
                sc = upload(c, work / "scenario", files, "bench").json()
                t = time.monotonic()
                run = c.post(f"/scenarios/{sc['id']}/runs", json={}).json()
                done = wait_for(c, run["id"])
                solve_s = time.monotonic() - t
                assert done["status"] == "succeeded", done
                t = time.monotonic()
                size = len(c.get(f"/runs/{run['id']}/plan").content)
                plan_s = time.monotonic() - t
                outlines = []
                for _ in range(3 if args.polygons else 0):
                    t = time.monotonic()
                    body = c.get(f"/runs/{run['id']}/outlines").content
                    outlines.append(time.monotonic() - t)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(server.url + "/login")
                page.fill("input[name=key]", "bench-key")
                page.click("button[type=submit]")
                page.goto(f"{server.url}/ui/runs/{run['id']}")
                page.wait_for_selector("#room[data-ready='1']", timeout=300_000)
                first = page.evaluate("window.alignRoom.timings")
                updates, redraws = [], []
                ids = accounts["account_id"].astype(str).tolist()
                for k in range(args.moves):
                    chosen = ids[3 * k : 3 * k + 3]
                    page.evaluate("(ids) => window.alignRoom.selectIds(ids)", chosen)
                    page.select_option("#move select[name=territory]", index=k % 5)
                    page.fill("#move input[name=reason]", f"bench move {k}")
                    page.click("#move button[type=submit]")
                    page.wait_for_selector(f"#room[data-saved='{k + 1}']")
                    updates.append(page.evaluate("window.alignRoom.timings.update"))
                    if args.polygons:
                        page.wait_for_selector(f"#room[data-outlines='{k + 1}']")
                        redraws.append(page.evaluate("window.alignRoom.timings.outlinesUpdate"))
                browser.close()
        finally:
            server.stop()
    load = os.getloadavg()
    print(f"{args.accounts:,} accounts x {args.territories} territories; solve {solve_s:.1f} s "
          f"({done['solver_status']}, gap {done['gap']:.2%})")  # fmt: skip
    print(f"plan JSON: {size / 2**20:.2f} MiB in {plan_s * 1000:.0f} ms (server, httpx)")
    print(f"page: data {first['data']:.0f} ms, first render {first['firstRender']:.0f} ms after "
          f"the script started, {first['sinceNavigation']:.0f} ms after navigation")  # fmt: skip
    print(f"update after a move (balance, KPIs, warnings, hulls; {len(updates)} moves): median "
          f"{statistics.median(updates):.0f} ms, max {max(updates):.0f} ms")  # fmt: skip
    if args.polygons:
        print(
            f"outlines JSON (every territory): {len(body) / 2**20:.2f} MiB, "
            f"{' / '.join(f'{s * 1000:.0f}' for s in outlines)} ms (server, httpx; 3 calls)"
        )
        print(f"page: outlines drawn {first['outlines']:.0f} ms after the script started; "
              f"move -> touched outlines redrawn: median {statistics.median(redraws):.0f} ms, "
              f"max {max(redraws):.0f} ms")  # fmt: skip
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


def write_cells(folder: Path, accounts: Any, *, seed: int) -> None:
    """accounts.geojson: each account the Voronoi cell of its point (points jittered by a few
    metres so that none coincide), clipped to the accounts' box; accounts.csv removed."""
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    x = accounts["lon"].to_numpy() + rng.uniform(-1e-4, 1e-4, len(accounts))
    y = accounts["lat"].to_numpy() + rng.uniform(-1e-4, 1e-4, len(accounts))
    points = shapely.points(x, y)
    box = shapely.box(x.min() - 0.1, y.min() - 0.1, x.max() + 0.1, y.max() + 0.1)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), extend_to=box))
    tree = shapely.STRtree(cells)
    inside, cell = tree.query(points, predicate="within")
    order = np.empty(len(points), dtype=int)
    order[inside] = cell
    shapes = shapely.intersection(cells[order], box)
    frame = accounts.drop(columns=["lat", "lon"])
    gpd.GeoDataFrame(frame, geometry=shapes, crs=4326).to_file(
        folder / "accounts.geojson", driver="GeoJSON"
    )
    (folder / "accounts.csv").unlink()


if __name__ == "__main__":
    raise SystemExit(main())
