"""The notebooks are stored executed, and a fresh run reproduces them.

Per notebook (parametrized, so pytest-xdist spreads them): execute the stored notebook again, exactly
as ``notebooks/regenerate.py`` does, and require no cell error, the same text outputs cell by cell
(streams, text/plain, text/markdown, text/latex; PNG bytes are not compared), figures stored and
produced, and a file of at most 3 MiB. Without executing anything: each stored notebook holds its
builder's cells, executed. Needs the ``[notebooks]`` extra (nbclient, nbformat, ipykernel,
matplotlib); a notebook whose own dependency (torch, Panel) is missing is skipped.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import time
from pathlib import Path
from types import ModuleType

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: what a notebook imports beyond the [notebooks] extra and the torch-free packages.
NEEDS = {"00_scaling_intuition.ipynb": ("panel",), "02_empirical.ipynb": ("torch",)}


def _extras() -> tuple[ModuleType, ModuleType]:
    """(nbformat, nbclient), or a skip naming the missing part of the [notebooks] extra."""
    pytest.importorskip("ipykernel", reason="notebook tests need the [notebooks] extra (ipykernel)")
    pytest.importorskip("matplotlib", reason="notebook tests need the [notebooks] extra (matplotlib)")
    return (pytest.importorskip("nbformat", reason="notebook tests need the [notebooks] extra (nbformat)"),
            pytest.importorskip("nbclient", reason="notebook tests need the [notebooks] extra (nbclient)"))


@functools.cache
def _regenerate() -> ModuleType:
    """``notebooks/regenerate.py``: the one definition of how a notebook is executed and compared."""
    spec = importlib.util.spec_from_file_location("notebooks_regenerate", NOTEBOOK_DIR / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_stored_outputs_reproduce(path: Path) -> None:
    nbformat, nbclient = _extras()
    for module in NEEDS.get(path.name, ()):
        pytest.importorskip(module, reason=f"{path.name} needs {module}")
    regen = _regenerate()
    size = path.stat().st_size
    assert size <= regen.MAX_BYTES, f"{path.name}: {size / 2**20:.1f} MiB > 3 MiB; lower its figures' dpi or size"

    stored = nbformat.read(path, as_version=4)
    assert regen.image_count(stored) >= 1, f"{path.name}: no figure stored; regenerate: {regen.COMMAND} {path.stem}"
    fresh = copy.deepcopy(stored)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    t0 = time.perf_counter()
    try:
        regen.execute(fresh)
    except nbclient.exceptions.CellExecutionError as err:  # names the cell, holds its traceback
        pytest.fail(f"{path.name}: a cell raised\n{err}", pytrace=False)
    print(f"{path.name}: executed in {time.perf_counter() - t0:.1f} s")

    errors = [out for cell in fresh.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs {[e.get('ename') for e in errors]}"
    assert regen.image_count(fresh) >= 1, f"{path.name}: a fresh run draws no figure (image/png output missing)"
    diff = regen.first_difference(stored, fresh, name=path.stem)
    if diff is not None:  # the message already holds the diff: no assertion rewriting around it
        pytest.fail(f"{path.name}: {diff}", pytrace=False)


def test_stored_notebooks_are_their_builders_executed() -> None:
    """Each stored notebook has its builder's cells (an edited builder needs a regenerate), all executed."""
    nbformat, _ = _extras()
    regen = _regenerate()
    builders = regen.builders()
    assert sorted(builders) == [p.name for p in NOTEBOOKS], \
        f"notebooks {[p.name for p in NOTEBOOKS]} and builders {sorted(builders)} differ: one builder per notebook"
    for name, builder in builders.items():
        stored = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        want = [(c.cell_type, c.get("id"), c.source) for c in regen.build(builder).cells]
        have = [(c.cell_type, c.get("id"), c.source) for c in stored.cells]
        stale = next((i for i, (w, h) in enumerate(zip(want, have)) if w != h), min(len(want), len(have)))
        assert want == have, (f"{name}: cell {stale} differs from {builder.name}; regenerate: "
                              f"{regen.COMMAND} {Path(name).stem}")
        unrun = [i for i, c in enumerate(stored.cells) if c.cell_type == "code" and c.execution_count is None]
        assert not unrun, f"{name}: code cells {unrun} are stored unexecuted; regenerate: {regen.COMMAND} {Path(name).stem}"
