"""Load (issue "Hardening", point 4), behind ``-m load``: 200 requests a second for 60 s on the
result endpoints of a real `align serve` while 10 solves run; every request answered 200, none
lost. The latencies (p50, p99) are printed and written down in benchmarks/README.md, not
asserted. About 2 minutes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.load,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc"),
]


def test_result_endpoints_answer_every_request_while_ten_solves_run() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_service import load

    result = load(argparse.Namespace(rate=200.0, seconds=60.0, solves=10))
    print(result)
    assert result["transport_errors"] == 0
    assert result["statuses"] == {200: result["requests"]}
    assert result["solves_running_at_start"] == 10  # the solves ran while the load began
