"""Cell helpers shared by the notebook builders (``_build_*.py``): collect markdown and code cells,
then build a valid notebook with stable cell ids (small diffs on regeneration). ``regenerate.py``
executes and stores what :meth:`Cells.build` returns."""

from __future__ import annotations

import textwrap

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
        """The closing code cell of a torch-free notebook: fail if torch was imported. (No run time is
        printed: stored outputs must reproduce exactly; ``regenerate.py`` prints the time instead.)"""
        self.code(
            """
            assert "torch" not in sys.modules, "this notebook must not import torch"
            print("torch was never imported: this notebook needs numpy, scipy and matplotlib only")
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
