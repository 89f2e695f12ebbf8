"""The HTML report: self-contained, every section present, rendered by a real headless Chromium;
and `align demo`, the whole cycle."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import align
from align.report import MOVED_ROWS, TOP_TARGETS

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# East-coast part of the sample: 6 general territories, their accounts
TERRITORIES = ["T01", "T02", "T03", "T06", "T07", "T08"]


def align_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "align.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def small_sample(folder: Path) -> Path:
    """A scenario folder cut from data/samples: the accounts today in TERRITORIES."""
    acc = pd.read_csv(ROOT / "data/samples/accounts.csv", dtype={"account_id": str})
    ter = pd.read_csv(ROOT / "data/samples/territories.csv")
    folder.mkdir(parents=True)
    acc["name"] = acc["city"] + " account " + acc["account_id"].str[-4:]  # a CRM's names
    acc.loc[acc["current_territory"].isin(TERRITORIES)].to_csv(folder / "accounts.csv", index=False)
    ter.loc[ter["territory_id"].isin(TERRITORIES)].to_csv(folder / "territories.csv", index=False)
    (folder / "scenario.toml").write_text(
        'model = "balanced"\n[solver]\ntime_limit_s = 20\ngap = 0.005\n'
        "[pockets]\nradius_km = 40\nmin_whitespace = 500000\n"
    )
    return folder


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Solve, pockets (with one suggestion), quotas and the report, through the command line."""
    base = tmp_path_factory.mktemp("cycle")
    sc = small_sample(base / "scenario")
    run, pockets, quotas = base / "run", base / "pockets", base / "quotas"
    for args in (
        ["solve", str(sc), "--out", str(run), "--quiet"],
        ["pockets", str(sc), "--out", str(pockets), "--run", str(run), "--suggest", "1"],
        ["quotas", str(run), "--goal", "25000000", "--out", str(quotas),
         "--set", "quota.max_growth=0.5", "--set", "quota.min_growth=0"],
        ["report", str(run), "--proposal", str(quotas), "--pockets", str(pockets),
         "--title", "FY27 East: territories & quotas"],
    ):  # fmt: skip
        res = align_cli(*args)
        assert res.returncode == 0, (args, res.stderr)
    assert res.stdout.startswith(f"wrote {run / 'report.html'} (")
    return {"scenario": sc, "run": run, "pockets": pockets, "quotas": quotas,
            "html": run / "report.html"}  # fmt: skip


def rows(html: str, table_class: str) -> list[list[str]]:
    """The body rows of every table of a class, as lists of cell texts."""
    out = []
    for body in re.findall(rf'<table class="{table_class}">.*?<tbody>(.*?)</tbody>', html, re.S):
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            out.append([re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)])
    return out


def test_report_is_one_self_contained_file(cycle: dict[str, Path]) -> None:
    html = cycle["html"].read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "<link" not in html and "@import" not in html
    # every image is inlined, nothing is fetched
    assert re.findall(r'src="(?!data:image/png;base64,)', html) == []
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "url(" not in html
    images = re.findall(r'<img src="data:image/png;base64,', html)
    assert len(images) == 4  # map, balance, quota ranges, pockets


def test_report_holds_kpis_moves_quotas_pockets_and_a_plan_per_territory(
    cycle: dict[str, Path],
) -> None:
    html = cycle["html"].read_text()
    run = align.load_run(cycle["run"])
    for section in ("headline", "map", "balance", "moved", "quotas", "pockets", "plans"):
        assert f'<section id="{section}">' in html, section
    # headline: today's and the plan's largest potential deviation
    kpi = {r[0]: r[1:] for r in re.findall(
        r'<tr><td class="l">([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>', html)}  # fmt: skip
    before = run.kpis["before"]["potential.max_abs_deviation"]
    after = run.kpis["after"]["potential.max_abs_deviation"]
    assert kpi["Largest potential deviation from target"] == (f"{before:.1%}", f"{after:.1%}")
    # moved accounts: the largest by potential, as many as the table shows
    moved = run.assignments.loc[run.assignments["moved"]]
    table = rows(html, "moved")
    assert len(table) == min(len(moved), MOVED_ROWS) > 0
    assert f"{len(moved):,} accounts change owner." in html
    first = table[0]
    acc = pd.read_csv(cycle["scenario"] / "accounts.csv", dtype={"account_id": str})
    biggest = acc.loc[acc["account_id"].isin(moved["account_id"])].nlargest(1, "potential")
    assert first[0] == biggest["account_id"].iloc[0]
    # quotas: one row per territory with its range
    q = align.load_proposal(cycle["quotas"]).quotas
    qrows = rows(html, "quotas")
    assert [r[0] for r in qrows] == q["territory_id"].tolist()
    assert [r[4] for r in qrows] == [f"${v:,.0f}" for v in q["quota"]]
    assert [(r[6], r[7]) for r in qrows] == [
        (f"${lo:,.0f}", f"${hi:,.0f}")
        for lo, hi in zip(q["min_quota"], q["max_quota"], strict=True)
    ]
    # pockets and the suggestion
    p = pd.read_csv(cycle["pockets"] / "pockets.csv")
    assert [r[0] for r in rows(html, "pockets")] == p["pocket_id"].head(15).tolist()
    assert [r[0] for r in rows(html, "suggestions")] == ["baseline", "+P01"]
    # a plan per territory, each on its own printed page, with its quota and top targets
    plans = re.findall(r'<section class="plan" id="plan-(\w+)">', html)
    assert plans == TERRITORIES
    assert "page-break-before: always" in html
    targets = rows(html, "targets")
    assert len(targets) == TOP_TARGETS * len(TERRITORIES)
    t01 = html.split('id="plan-T01"')[1].split("</section>")[0]
    quota = q.set_index("territory_id").loc["T01", "quota"]
    assert f'<div class="label">Quota</div><div class="value">${quota:,.0f}</div>' in t01
    mine = acc.merge(run.assignments, on="account_id").query("territory_id == 'T01'")
    ws = (mine["potential"] - mine["revenue"]).clip(lower=0)
    top = mine.assign(ws=ws).nlargest(TOP_TARGETS, "ws", keep="first")["account_id"].tolist()
    assert [r[0] for r in rows(t01, "targets")] == top
    names = acc.set_index("account_id")["name"]
    assert [r[1] for r in rows(t01, "targets")] == [names[a] for a in top]  # names beside ids
    assert first[1] == names[first[0]]


def test_report_has_its_title_units_and_no_infinite_change(cycle: dict[str, Path]) -> None:
    html = cycle["html"].read_text()
    assert "<title>FY27 East: territories &amp; quotas</title>" in html
    assert "<h1>FY27 East: territories &amp; quotas</h1>" in html
    kpi = {r[0]: r[1:] for r in re.findall(
        r'<tr><td class="l">([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>', html)}  # fmt: skip
    run = align.load_run(cycle["run"])
    d = run.kpis["after"]["mean_distance"]
    assert kpi["Mean distance to rep"][1] == f"{d:,.1f} km"
    text = re.sub(r"<[^>]+>", " ", html.split("<main>")[1])
    assert not re.search(r"(?<![\w-])-?inf\b|\bnan\b", text, re.I)


def test_report_shows_a_dash_where_a_kpi_change_is_not_finite(tmp_path: Path) -> None:
    from align.report import render_report

    run = align.solve("data/examples/two-reps")
    run.kpis["before"]["potential.max_min_ratio"] = float("inf")  # an empty territory today
    html = render_report(run, title="Two reps")
    row = re.search(r"Largest / smallest territory potential</td>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells == ["–", "1.00×", "–"]
    assert "inf" not in html.split("<main>")[1]


def test_report_of_a_run_without_a_plan_is_refused() -> None:
    with pytest.raises(align.RunError) as e:
        align.write_report(align.Run(status="infeasible"), out="never.html")
    assert str(e.value) == (
        "run: status infeasible, it holds no plan to report; solve again with a longer "
        "solver.time_limit_s or wider bands"
    )
    assert not Path("never.html").exists()


def test_report_renders_in_headless_chromium(cycle: dict[str, Path], tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent (Debian package chromium; .ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    errors: list[str] = []
    shot = tmp_path / "report.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(cycle["html"].resolve().as_uri(), wait_until="load")
            page.screenshot(path=str(shot), full_page=True)
            widths = page.evaluate(
                "Array.from(document.images).map(i => [i.closest('figure').id, i.naturalWidth])"
            )
            counts = page.evaluate(
                "['kpi-table', 'moved', 'quotas', 'pockets', 'targets'].map(c => "
                "document.querySelectorAll(`table#${c} tbody tr, table.${c} tbody tr`).length)"
            )
            map_box = page.locator("#map-figure img").bounding_box()
            title = page.title()
        finally:
            browser.close()
    assert errors == []
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []
    assert dict(widths) and all(w > 0 for _, w in widths), widths
    assert {f for f, _ in widths} == {"map-figure", "balance-chart", "quota-ranges", "pockets-map"}
    assert map_box is not None and map_box["width"] > 800 and map_box["height"] > 300
    assert counts[0] == 11 and counts[2] == len(TERRITORIES) and counts[1] > 0 and counts[3] > 0
    assert counts[4] == TOP_TARGETS * len(TERRITORIES)
    assert title == "FY27 East: territories & quotas"  # align report --title
    assert shot.stat().st_size > 100_000
    keep = ROOT / "runs" / "report-screenshot.png"  # for a person to look at, never committed
    if keep.parent.is_dir():
        shutil.copy(shot, keep)


def test_demo_walks_the_whole_cycle_and_says_where_the_report_is(tmp_path: Path) -> None:
    sc = small_sample(tmp_path / "scenario")
    out = tmp_path / "demo"
    res = align_cli(
        "demo", "--scenario", str(sc), "--out", str(out), "--goal", "25000000", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert [ln[:4] for ln in lines if ln[:1].isdigit()] == ["1/4 ", "2/4 ", "3/4 ", "4/4 "]
    assert lines[-2] == f"report: {(out / 'report.html').resolve()}"
    for f in ("plan/run.json", "plan/assignments.csv", "pockets/pockets.csv",
              "pockets/suggestions.csv", "quotas/quotas.csv", "quotas/proposal.xlsx",
              "report.html"):  # fmt: skip
        assert (out / f).is_file(), f
    q = pd.read_csv(out / "quotas/quotas.csv")
    assert q["quota"].sum() == 25_000_000
    assert (q["growth"] <= 0.25 + 1e-9).all() and (q["growth"] >= -1e-9).all()
    assert res.stderr == ""  # not a terminal: no progress


def test_report_takes_pockets_found_in_python(cycle: dict[str, Path], tmp_path: Path) -> None:
    sc = align.load_scenario(cycle["scenario"])
    run = align.load_run(cycle["run"])
    found = align.find_pockets(sc, run=run)
    path = align.write_report(run, pockets=found, scenario=sc, out=tmp_path / "r.html")
    html = path.read_text()
    assert [r[0] for r in rows(html, "pockets")] == found.pockets["pocket_id"].head(15).tolist()
    assert '<figure id="pockets-map"><img src="data:image/png;base64,' in html
    assert 'id="quotas"' not in html and "suggestions" not in html
    assert "Quota</div>" not in html  # no proposal: no quota on the plans
