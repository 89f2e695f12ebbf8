"""The benchmarks' child runner (`benchmarks/bench_peers.in_child`), which runs each peer (ReCom,
spopt) in a forked process it can stop: a peer that raises is reported at once with its error,
not waited for until the time is up and counted as "no plan within the time"."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_peers as bp  # noqa: E402


def _add(a: int, b: int) -> int:
    return a + b


def _boom(word: str) -> None:
    raise ValueError(f"no {word}")


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def test_a_child_returns_its_result() -> None:
    result, took = bp.in_child(_add, (1, 2), 30)
    assert result == 3
    assert took < 30


def test_a_child_that_raises_is_reported_with_its_error_before_the_time_is_up() -> None:
    t0 = time.perf_counter()
    with pytest.raises(bp.ChildFailed, match=r"^ValueError: no luck \(after \d+\.\d s\)$"):
        bp.in_child(_boom, ("luck",), 60)
    assert time.perf_counter() - t0 < 30  # not the 60 s of the limit


def test_a_child_still_working_when_the_time_is_up_is_stopped() -> None:
    result, took = bp.in_child(_sleep, (60,), 0.5)
    assert result is None
    assert 0.5 <= took < 30
