"""The analyst notebooks: stored without outputs, and each runs from a clean kernel."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAMES = ["01_compare_solver_runs", "02_negotiate_quotas", "03_find_pockets"]


def test_the_three_notebooks_are_there() -> None:
    assert [p.stem for p in NOTEBOOKS] == NAMES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code
    assert [(c["outputs"], c["execution_count"]) for c in code] == [([], None)] * len(code)
    assert nb["cells"][0]["cell_type"] == "markdown"  # each tells its story first


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec named python3 that runs this interpreter (not whatever `python` is first
    on PATH), found first through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (align tests)",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("ALIGN_NOTEBOOK_OUT", str(tmp_path / "out"))
    return "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_from_a_clean_kernel(path: Path, kernel: str, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=300,
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []
    # it wrote its results where it was told, nothing into the repository
    out = tmp_path / "out"
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    expected = {
        "01_compare_solver_runs": "01_compare/min-disruption-cbc/run.json",
        "02_negotiate_quotas": "02_quotas/fy27-v2/diff.csv",
        "03_find_pockets": "03_pockets/report.html",
    }[path.stem]
    assert expected in written
    images = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs
        if "image/png" in o.get("data", {})
    ]  # fmt: skip
    # the charts were drawn: tradeoff, two maps, two balance charts; two range charts; pockets
    assert len(images) == {"01": 5, "02": 2, "03": 1}[path.stem[:2]]
