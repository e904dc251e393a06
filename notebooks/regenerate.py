"""Rebuild, execute and store the notebooks with their outputs, so they read without running them.

Run from anywhere (all notebooks, or the ones named)::

    python notebooks/regenerate.py [00_scaling_intuition ...]

Each ``NN_name.ipynb`` is built from ``_build_NN_name.py``, executed in place by nbclient in a fresh
kernel and written with its outputs (figures as PNG). What makes a re-run reproduce the stored
text: the kernel gets the Agg backend, one BLAS thread, a fixed hash seed, this checkout first on
its path and no external results (``RECONSCALE_DEMO`` names an empty folder, ``RECONSCALE_SELFSUP``
is empty); the notebooks seed every generator themselves; execution timings, kernel details and
widget state are not stored. ``tests/test_notebooks.py`` executes the stored notebooks the same way
(:func:`execute`) and compares their text outputs (:func:`first_difference`). PNG bytes may change
with the matplotlib version, so images are stored but not compared.
"""

from __future__ import annotations

import copy
import difflib
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NOTEBOOK_DIR = Path(__file__).resolve().parent
ROOT = NOTEBOOK_DIR.parent
#: the one command that brings the stored notebooks up to date (said by every failing test).
COMMAND = "python notebooks/regenerate.py"
#: the most one stored notebook may weigh (a code host shows it, figures included).
MAX_BYTES = 3 * 2**20
#: seconds one cell may run before the execution fails.
CELL_TIMEOUT = 600
#: output data compared between the stored and a fresh run; HTML and JavaScript carry generated ids.
TEXT_MIMES = ("text/plain", "text/markdown", "text/latex")

__all__ = ["COMMAND", "MAX_BYTES", "NOTEBOOK_DIR", "TEXT_MIMES", "build", "builders", "execute", "first_difference",
           "image_count", "main", "text_outputs"]

# Panel/Bokeh outputs name their models and comms with random UUIDs (and 32-hex comm ids); they are
# renamed in order of appearance, consistently across the notebook, so a re-run writes the same bytes.
_PANEL_MIMES = ("application/vnd.holoviews_exec.v0+json", "application/vnd.holoviews_load.v0+json")
_RANDOM_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{32}\b")


def builders() -> dict[str, Path]:
    """Every notebook's builder: ``{"00_scaling_intuition.ipynb": Path(".../_build_00_scaling_intuition.py")}``."""
    return {p.name.removeprefix("_build_").removesuffix(".py") + ".ipynb": p
            for p in sorted(NOTEBOOK_DIR.glob("_build_*.py"))}


def build(builder: Path) -> Any:
    """The notebook a builder describes, without outputs (an ``nbformat.NotebookNode``)."""
    if str(NOTEBOOK_DIR) not in sys.path:  # builders import their sibling `_nbcells`
        sys.path.insert(0, str(NOTEBOOK_DIR))
    spec = importlib.util.spec_from_file_location(builder.stem, builder)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CELLS.build()


def _kernel_env(scratch: Path) -> dict[str, str]:
    """The kernel's environment: this process's, made deterministic and independent of the machine."""
    env = dict(os.environ)
    env.update({
        "MPLBACKEND": "Agg",          # never a GUI; the notebooks select `%matplotlib inline` themselves
        "PYTHONHASHSEED": "0",        # set iteration order, should a notebook ever print one
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",  # one summation order
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])]),
        "RECONSCALE_DEMO": str(scratch / "no-demo"),   # stored outputs never depend on local results
        "RECONSCALE_SELFSUP": "",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",          # the kernel's debugger otherwise warns on stderr
    })
    return env


def execute(nb: Any, *, timeout: int = CELL_TIMEOUT) -> Any:
    """Execute ``nb`` in place in a fresh kernel (cwd: ``notebooks/``) and strip what varies per run.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised (its traceback in the message).
    """
    import nbclient  # the [notebooks] extra, needed only here

    with tempfile.TemporaryDirectory(prefix="reconscale-nb-") as scratch:
        client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=timeout, record_timing=False,
                                         resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
        client.execute(env=_kernel_env(Path(scratch)))
    _strip_volatile(nb)
    return nb


def _strip_volatile(nb: Any) -> None:
    """Keep the builder's notebook metadata (no kernel version or widget state) and no per-run cell metadata."""
    nb.metadata = {k: nb.metadata[k] for k in ("kernelspec",) if k in nb.metadata}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        merged: list[Any] = []
        for out in cell.outputs:
            out.pop("transient", None)  # display ids: random per run
            # where the kernel cuts a cell's printed text into messages depends on timing: join them
            if out.output_type == "stream" and merged and merged[-1].output_type == "stream" \
                    and merged[-1].name == out.name:
                merged[-1].text += out.text
            else:
                merged.append(out)
        cell.outputs = merged
    _stable_panel_ids(nb)


def _stable_panel_ids(nb: Any) -> None:
    """Rename the random ids inside Panel outputs (data and metadata) to ``00000001-0000-4000-8000-…``."""
    from nbformat import from_dict  # the [notebooks] extra

    names: dict[str, str] = {}

    def rename(match: re.Match) -> str:
        i = names.setdefault(match.group(0), str(len(names) + 1))
        return f"{int(i):032x}" if len(match.group(0)) == 32 else f"{int(i):08x}-0000-4000-8000-{int(i):012x}"

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if any(m in out.get("data", {}) for m in _PANEL_MIMES):
                for key in ("data", "metadata"):
                    out[key] = from_dict(json.loads(_RANDOM_ID.sub(rename, json.dumps(out[key]))))


def text_outputs(cell: Any) -> list[str]:
    """A code cell's compared outputs, one string per output: streams, :data:`TEXT_MIMES`, errors."""
    texts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            texts.append(f"[{out['name']}]\n{out['text']}")
        elif kind == "error":
            texts.append(f"[error] {out.get('ename')}: {out.get('evalue')}")
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            texts.extend(f"[{mime}]\n{_joined(data[mime])}" for mime in TEXT_MIMES if mime in data)
    return texts


def _joined(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def first_difference(stored: Any, fresh: Any, *, name: str = "", context: int = 2, max_lines: int = 24) -> str | None:
    """None when every code cell's :func:`text_outputs` agree; else where and how they first differ.

    Args:
        stored, fresh: the notebook as stored and the same notebook executed again.
        name: the notebook's stem, for the regenerate command in the message.
        context, max_lines: diff context lines, and the most diff lines shown.

    Returns:
        A message naming the first differing code cell (index, id, first source line), a unified
        diff of its stored (``-``) and fresh (``+``) text, and the regenerate command.
    """
    again = f"regenerate: {COMMAND} {name}".rstrip()
    if len(stored.cells) != len(fresh.cells):
        return f"{len(stored.cells)} stored cells, {len(fresh.cells)} executed; {again}"
    for i, (a, b) in enumerate(zip(stored.cells, fresh.cells)):
        if a.cell_type != "code":
            continue
        old, new = "\n".join(text_outputs(a)), "\n".join(text_outputs(b))
        if old != new:
            diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "stored", "fresh", n=context,
                                             lineterm=""))
            more = f"\n... ({len(diff) - max_lines} more diff lines)" if len(diff) > max_lines else ""
            head = (a.source.splitlines() or [""])[0]
            return (f"cell {i} ({a.get('id')}, `{head}`): stored text outputs differ from a fresh run\n"
                    + "\n".join(diff[:max_lines]) + more + f"\n{again}")
    return None


def image_count(nb: Any) -> int:
    """How many PNG figures ``nb`` stores."""
    return sum(1 for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
               if "image/png" in out.get("data", {}))


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the named notebooks (stems or file names; default all); returns the exit code."""
    import nbformat  # the [notebooks] extra

    known = builders()
    names = list(sys.argv[1:] if argv is None else argv)
    chosen = [n if n.endswith(".ipynb") else n + ".ipynb" for n in names] or list(known)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        print(f"regenerate: no builder for {', '.join(unknown)}: choose from {', '.join(known)}", file=sys.stderr)
        return 2
    for name in chosen:
        t0 = time.perf_counter()
        nb = execute(build(known[name]))
        path = NOTEBOOK_DIR / name
        nbformat.write(copy.deepcopy(nb), path)
        size = path.stat().st_size
        print(f"{name}: executed in {time.perf_counter() - t0:.1f} s, {image_count(nb)} figures, "
              f"{size / 2**10:.0f} KiB" + ("  (over the 3 MiB limit)" if size > MAX_BYTES else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
