"""The server's memory returns to its baseline after large uploads (issue "Hardening", point
2): resident memory of a real `align serve`, not a timing. The margin is the one documented in
docs/hardening.md ("Memory")."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from servers import TWO_REPS, TWO_REPS_FILES, Server, upload

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_service import big_accounts, rss_mib, send  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")

MARGIN_MIB = 16  # docs/hardening.md: within 16 MiB of the baseline after any number of uploads


def test_server_memory_returns_to_its_baseline_after_large_uploads(tmp_path: Path) -> None:
    server = Server(f"sqlite:///{tmp_path / 'align.db'}", tmp_path, ALIGN_RATE_PER_S="1000")
    server.start(workers=1)
    try:
        assert server.process is not None
        pid = server.process.pid
        with server.client() as c:
            assert upload(c, TWO_REPS, TWO_REPS_FILES, "warm-up").status_code == 201
            time.sleep(0.5)
            baseline = rss_mib(pid)
            accounts = big_accounts(200_000)  # 8 MB, the size the benchmark uploads
            territories = b"territory_id,x,y\nT1,250,500\nT2,750,500\n"
            after = []
            for _ in range(3):
                r = send(c, accounts, territories)
                assert r.status_code == 201, r.text[:300]
                assert r.json()["accounts"] == 200_000
                after.append(rss_mib(pid))
        assert max(after) - baseline <= MARGIN_MIB, (baseline, after)
    finally:
        server.stop()
