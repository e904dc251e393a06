"""Execute every notebook in notebooks/ and fail on any cell error (or on a notebook without figures).

Needs the ``[notebooks]`` extra (nbclient, nbformat, ipykernel, matplotlib); skipped otherwise.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _image_outputs(nb) -> int:
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") in ("display_data", "execute_result") and "image/png" in out.get("data", {})
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat", reason="notebook tests need the [notebooks] extra (nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="notebook tests need the [notebooks] extra (nbclient)")
    pytest.importorskip("ipykernel", reason="notebook tests need the [notebooks] extra (ipykernel)")
    pytest.importorskip("matplotlib", reason="notebook tests need the [notebooks] extra (matplotlib)")

    # The kernel inherits this process's environment: no GUI backend, ever. Notebooks that show
    # figures select the inline backend themselves (%matplotlib inline).
    monkeypatch.setenv("MPLBACKEND", "Agg")

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name}: a cell raised\n{err}", pytrace=False)
    elapsed = time.perf_counter() - t0
    print(f"{path.name}: executed in {elapsed:.1f} s")

    errors = [out for cell in nb.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs {[e.get('ename') for e in errors]}"
    assert _image_outputs(nb) >= 1, f"{path.name}: no figure was produced (image/png output missing)"


def test_notebooks_are_stored_without_outputs() -> None:
    """Notebooks are committed clean (CI executes them); keeps the repository small."""
    nbformat = pytest.importorskip("nbformat", reason="notebook tests need the [notebooks] extra (nbformat)")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"
