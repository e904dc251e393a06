"""Cell helpers shared by the notebook builders (``_build_*.py``): collect markdown and code cells,
then write a valid notebook without outputs and with stable cell ids (small diffs on regeneration)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


class Cells:
    """An ordered list of cells; ``md`` and ``code`` take indented triple-quoted text."""

    def __init__(self) -> None:
        self.cells: list[tuple[str, str]] = []

    def md(self, text: str) -> None:
        self.cells.append(("md", textwrap.dedent(text).strip("\n")))

    def code(self, text: str) -> None:
        self.cells.append(("code", textwrap.dedent(text).strip("\n")))

    def torch_free_footer(self) -> None:
        """The closing code cell of a torch-free notebook: fail if torch was imported, print the compute
        time since the notebook's ``T0`` (both notebooks that promise numpy-only end with it)."""
        self.code(
            """
            assert "torch" not in sys.modules, "this notebook must not import torch"
            print(f"notebook compute time: {time.perf_counter() - T0:.1f} s (torch imported: {'torch' in sys.modules})")
            """
        )

    def build(self) -> nbformat.NotebookNode:
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nb.metadata["language_info"] = {"name": "python"}
        for kind, src in self.cells:
            nb.cells.append(new_markdown_cell(src) if kind == "md" else new_code_cell(src))
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"cell-{i:02d}"
        nbformat.validate(nb)
        return nb

    def write(self, path: Path) -> None:
        nbformat.write(self.build(), path)
        print(f"wrote {path} ({len(self.cells)} cells, no outputs)")
