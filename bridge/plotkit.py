"""What every drawing module shares: a checked Axes, tagged lines, labels/grid/legend, a bare Figure and
its files (matplotlib only; no pyplot).

:mod:`bridge.plot` (the paper's figure types) and :mod:`bridge.plot_stages` (the stages' own panels)
draw with these; :mod:`bridge.figures`, the command line and the stages make figures with
:func:`new_figure` and write them with :func:`save`.

* :func:`check_ax`, :func:`check_tuple` — the one-line refusals of a drawing function's arguments.
* :func:`plot_line` — one line tagged with a ``gid``, so callers and tests can find what was drawn.
* :func:`finish_axes` — labels, a light grid and a legend in drawing order.
* :func:`new_figure` — a bare :class:`matplotlib.figure.Figure` (no pyplot state, no backend switch),
  so figures work headless and in notebooks; :func:`save` writes PNG + PDF atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from theory.infra.io import atomic_write

__all__ = ["check_ax", "check_tuple", "finish_axes", "new_figure", "plot_line", "save"]

_GRID_ALPHA = 0.3
_LEGEND_FONTSIZE = "small"


def check_ax(ax: Any) -> Axes:
    """``ax`` itself if it is a matplotlib ``Axes``, else a one-line ValueError (a drawing function's first check)."""
    if not isinstance(ax, Axes):
        raise ValueError(f"ax must be a matplotlib Axes (e.g. from new_figure()); got {type(ax).__name__}")
    return ax


def check_tuple(name: str, item: Any, *, sizes: tuple[int, ...]) -> tuple:
    """``item`` as a tuple, refused in one line unless it is a tuple (or list) of one of the allowed lengths.

    Args:
        name: what the caller calls the argument (named in the error).
        item: the argument. sizes: the allowed lengths, e.g. ``(2, 3)``.

    Returns:
        ``tuple(item)``.
    """
    if not isinstance(item, (tuple, list)) or len(item) not in sizes:
        want = " or ".join(str(s) for s in sizes)
        raise ValueError(f"{name} must be a tuple of {want} items; got {type(item).__name__}")
    return tuple(item)


def plot_line(ax: Axes, *args: Any, gid: str, **style: Any) -> Line2D:
    """``ax.plot`` of one line, tagged with ``gid`` so callers and tests can find it."""
    (line,) = ax.plot(*args, **style)
    line.set_gid(gid)
    return line


def finish_axes(ax: Axes, *, xlabel: str, ylabel: str, title: str | None = None) -> Axes:
    """Label the axes, draw the light grid and a legend in drawing order (when anything is labelled).

    Args:
        ax: the Axes drawn on. xlabel, ylabel: axis labels. title: optional axes title.

    Returns:
        ``ax``.
    """
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=_GRID_ALPHA)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        # matplotlib lists error-bar containers after all plain artists; restore drawing order instead.
        children = {id(c): i for i, c in enumerate(ax.get_children())}

        def drawn_at(h: Any) -> int:
            first = h.lines[0] if isinstance(h, ErrorbarContainer) else h
            return children.get(id(first), len(children))

        order = sorted(range(len(handles)), key=lambda i: drawn_at(handles[i]))
        ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=_LEGEND_FONTSIZE)
    return ax


def new_figure(ncols: int = 1, nrows: int = 1, *, size: tuple[float, float] = (5, 4)) -> tuple[Figure, Any]:
    """A pyplot-free figure with a grid of axes and constrained layout.

    Args:
        ncols: number of panel columns (>= 1).
        nrows: number of panel rows (>= 1).
        size: (width, height) in inches of ONE panel; the figure is ``ncols*width`` by ``nrows*height``.

    Returns:
        ``(fig, axes)``: like ``pyplot.subplots``, ``axes`` is a single Axes for a 1x1 grid, an array of
        shape (ncols,) or (nrows,) for one row or column, else of shape (nrows, ncols).

    Raises:
        ValueError: non-positive counts or sizes.
    """
    for name, val in (("ncols", ncols), ("nrows", nrows)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer; got {val!r}")
    width, height = (float(s) for s in check_tuple("size", size, sizes=(2,)))
    if not (width > 0 and height > 0 and np.isfinite(width) and np.isfinite(height)):
        raise ValueError(f"size must be positive (width, height) inches per panel; got {size!r}")
    # A bare Figure (not pyplot.figure) keeps no global state and needs no backend switch: headless-safe.
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(int(nrows), int(ncols), squeeze=True)
    return fig, axes


def save(fig: Figure, path: str | os.PathLike) -> list[Path]:
    """Write ``fig`` as PNG (150 dpi) and PDF side by side, atomically, creating the directory.

    Args:
        fig: the figure.
        path: a stem ("out/fig1") or a file name ending in .png/.pdf ("out/fig1.png"); both files use
            the stem.

    Returns:
        ``[png_path, pdf_path]``.

    Raises:
        ValueError: ``fig`` is not a matplotlib Figure or ``path`` is empty.
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure (e.g. from new_figure()); got {type(fig).__name__}")
    p = Path(path)
    if not p.name:
        raise ValueError(f"path {str(path)!r} has no file name: pass a stem like 'figures/fig1'")
    stem = p.with_suffix("") if p.suffix.lower() in (".png", ".pdf") else p
    written = []
    for fmt, extra in (("png", {"dpi": 150}), ("pdf", {"metadata": {"CreationDate": None}})):
        target = stem.parent / f"{stem.name}.{fmt}"
        atomic_write(target, lambda fh, fmt=fmt, extra=extra: fig.savefig(fh, format=fmt, bbox_inches="tight", **extra))
        written.append(target)
    return written
