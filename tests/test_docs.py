"""The documentation site builds strictly: a broken link, a missing page or a docstring that
mkdocstrings cannot render fails the suite, so the docs cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason='pip install -e ".[dev]" brings MkDocs')
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    reference = (tmp_path / "site" / "reference" / "index.html").read_text()
    # every public name of the package has its section in the reference
    import align

    public = [n for n in align.__all__ if n != "__version__"]
    missing = [n for n in public if f'id="align.{n}"' not in reference]
    assert missing == [], f"public names without a reference entry: {missing}"
    bench = (tmp_path / "site" / "benchmarks" / "index.html").read_text()
    assert "bench_scale.py" in bench  # benchmarks/README.md is included, not copied
