"""The explorer's figure as a file: the risk (or PSNR) against N of the current state, with the simulated
points, drawn with matplotlib (:mod:`bridge.plotkit`) and returned as PNG or PDF bytes for the page's
download buttons. matplotlib loads when a figure is made, never at import.

:data:`COLORS` is the one colour per estimator that the page (Bokeh) and the file (matplotlib) share.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .explore_curves import Result
from .explore_state import ESTIMATORS, LABELS, ExplorerState
from .uncertainty import mse_to_psnr

__all__ = ["COLORS", "FIGURE_FORMATS", "draw_figure", "figure_bytes", "psnr_sem"]

COLORS: dict[str, str] = {"optimal": "#444444", "gd-oracle": "#1f77b4", "ridge": "#2ca02c", "ols": "#d62728",
                          "pca": "#9467bd", "gd-val": "#ff7f0e"}
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf")


def psnr_sem(risk: float, sem: float) -> float:
    """The standard error of −10 log10 R from that of R (first order: 10/ln 10 · sem/R)."""
    return 10.0 / math.log(10.0) * sem / risk


def draw_figure(state: ExplorerState, result: Result, simulated: list[dict] | None = None) -> Any:
    """The page's main figure as a :class:`matplotlib.figure.Figure` (lines tagged ``explore-NAME``, the
    simulated markers ``explore-sim-NAME``).

    Args:
        state: the settings drawn (its ``axis`` picks risk or PSNR). result: their data-free numbers.
        simulated: the simulated points (``bridge.explore_sim.SimResult.points``), drawn as squares with
            ±1 SEM bars; None or [] for none.
    """
    from .plotkit import finish_axes, new_figure, plot_line  # matplotlib stays lazy

    psnr = state.axis == "psnr"
    fig, ax = new_figure(size=(6.4, 4.2))
    for name in ESTIMATORS:
        pts = [p for p in result.points if p["estimator"] == name]
        if pts:
            y = [p["psnr" if psnr else "risk"] for p in pts]
            plot_line(ax, [p["N"] for p in pts], y, gid=f"explore-{name}", color=COLORS[name], marker="o",
                      markersize=3, linestyle="--" if name == "optimal" else "-", label=LABELS[name])
        sim = [p for p in simulated or [] if p["estimator"] == name]
        if sim:
            y = np.array([p["psnr" if psnr else "risk"] for p in sim])
            err = np.array([psnr_sem(p["risk"], p["sem"]) if psnr else p["sem"] for p in sim])
            bars = ax.errorbar([p["N"] for p in sim], y, yerr=_clip_below(y, err, log=not psnr), fmt="s",
                               color=COLORS[name], markerfacecolor="white", markersize=5, capsize=2,
                               label=f"{LABELS[name]} (simulated)")
            bars.lines[0].set_gid(f"explore-sim-{name}")
    floor = float(mse_to_psnr(result.floor)) if psnr else result.floor
    ax.axhline(floor, color=COLORS["optimal"], linestyle=":", linewidth=1)
    if result.slowdown["N"] is not None:
        ax.axvline(result.slowdown["N"], color="#7f7f7f", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    if not psnr:
        ax.set_yscale("log")
    _title(ax, state, result, runs=max([p["runs"] for p in simulated or []], default=0))
    finish_axes(ax, xlabel="training examples N",
                ylabel="PSNR −10 log10 R (dB)" if psnr else "risk R = E‖Ŵy − x‖² / E‖x‖²")
    return fig


def figure_bytes(state: ExplorerState, result: Result, simulated: list[dict] | None = None, *,
                 fmt: str = "png") -> bytes:
    """:func:`draw_figure` as a file's bytes, written by :func:`bridge.plotkit.save` (PNG at 150 dpi).

    Args:
        state, result, simulated: as :func:`draw_figure`. fmt: ``"png"`` or ``"pdf"``.

    Raises:
        ValueError: an unknown format (one line).
    """
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"fmt={fmt!r}: choose one of {', '.join(FIGURE_FORMATS)}")
    from .plotkit import save  # matplotlib stays lazy

    fig = draw_figure(state, result, simulated)
    with tempfile.TemporaryDirectory() as tmp:
        png, pdf = save(fig, Path(tmp) / "explorer")
        return (png if fmt == "png" else pdf).read_bytes()


def _clip_below(y: np.ndarray, err: np.ndarray, *, log: bool) -> np.ndarray:
    """(2, K) error bars; on a log axis a lower end at or below 0 stops at y/10 (as bridge.plot does)."""
    lower = np.minimum(err, 0.9 * y) if log else err
    return np.vstack([lower, err])


def _title(ax: Any, state: ExplorerState, result: Result, *, runs: int) -> None:
    if state.signal == "subspace":
        sig = f"subspace n = {state.n}, d = {state.d}"
    elif state.signal == "powerlaw":
        sig = f"power law n = {state.n}, α = {state.alpha:g}"
    else:
        sig = f"photos {state.size}×{state.size}"
    task = {"denoise": "denoising", "mri": f"MRI {state.accel:g}×", "sr": f"SR ×{state.scale}"}[state.task]
    ax.set_title(f"{sig}, {task}, σ = {state.sigma:g}" + (f", σ_t = {state.sigma_t:g}" if state.sigma_t else "")
                 + f" ({state.form} form)\n{LABELS[result.slowdown['estimator']]}: {result.slowdown['text']}"
                 + (f"\nsquares: Monte Carlo, {runs} draws per N, ±1 SEM" if runs else ""), fontsize="small")
