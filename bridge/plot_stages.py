"""The stages' own panels as pure drawing functions (matplotlib only; no file reading).

:mod:`bridge.plot` draws the paper's figure types; this module draws the two panels that belong to
this project's stages, with the same contract (an ``Axes`` first, plain rows in, the ``Axes`` out) and
the same helpers (:func:`bridge.plotkit.check_ax`, :func:`bridge.plotkit.plot_line`,
:func:`bridge.plotkit.finish_axes`):

* :func:`three_curves` — the demo's core figure: the Gaussian theory of the training crops, the
  learned linear estimator and the networks against N, as PSNR and as the excess MSE above the
  linear floor (:func:`bridge.figures.three_curve_figure` writes it).
* :func:`extra_examples` — how many times more examples a self-supervised method needs, against N
  (:func:`bridge.figures.selfsup_figure` writes it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from .plotkit import check_ax, finish_axes, plot_line
from .uncertainty import mse_to_psnr

__all__ = ["extra_examples", "three_curves"]


def three_curves(ax: Axes, bx: Axes, theory: Sequence[Mapping[str, Any]], linear: Sequence[Mapping[str, Any]],
                 network: Sequence[Mapping[str, Any]], *, baselines: Mapping[str, float] | None = None,
                 network_label: str = "U-Net (best width)") -> tuple[Axes, Axes]:
    """The core figure on two Axes: theory, learned linear estimator and networks on one N axis.

    Args:
        ax: the PSNR panel: the three curves, the linear floor R_Q(W*_P), the Wiener floor of the
            test images when Σ_Q has full rank (``rank_Q`` ≥ ``n`` in the theory rows), baselines.
        bx: the excess test MSE above the linear floor, log–log; points at or below the floor are
            marked on the bottom edge.
        theory: rows with ``N``, ``mse``, ``psnr`` and, in the first row, ``floor_P_on_Q``,
            ``floor_Q`` (and optionally ``rank_Q``, ``n``). linear, network: rows with ``N``, ``mse``,
            ``psnr`` and either ``psnr_lo``/``psnr_hi``/``mse_lo``/``mse_hi`` (intervals, drawn as
            error bars) or ``mse_sem``, ``psnr_sem``; either may be empty.
        baselines: name → PSNR (dB), horizontal lines. network_label: the legend of the network curve.

    Returns:
        ``(ax, bx)``.
    """
    ax, bx = check_ax(ax), check_ax(bx)
    if not theory:
        raise ValueError("theory needs at least one row (it carries the linear floor)")
    floor, wiener = float(theory[0]["floor_P_on_Q"]), float(theory[0]["floor_Q"])
    styles = {"theory": dict(color="tab:green", lw=2.0, marker="", label="Gaussian theory (training crops' Σ)"),
              "linear": dict(color="tab:blue", marker="o", ms=4, lw=1.2, label="learned linear (exact, on the crops)"),
              "network": dict(color="tab:red", marker="s", ms=4, lw=1.2, label=network_label)}
    for name, rows in (("theory", theory), ("linear", linear), ("network", network)):
        if not rows:
            continue
        N = np.array([r["N"] for r in rows], float)
        p = np.array([r["psnr"] for r in rows])
        m = np.array([r["mse"] for r in rows])
        if all(r.get("psnr_lo") is not None for r in rows):  # intervals over test images and seeds
            e = np.vstack([p - [r["psnr_lo"] for r in rows], [r["psnr_hi"] for r in rows] - p])
            em = np.vstack([m - [r["mse_lo"] for r in rows], [r["mse_hi"] for r in rows] - m])
        else:  # SEM over seeds (none for the theory)
            e = np.array([r.get("psnr_sem", 0.0) for r in rows])
            em = np.array([r.get("mse_sem", 0.0) for r in rows])
        ax.errorbar(N, p, yerr=e if e.any() else None, capsize=2, gid=name, **styles[name])
        ex = m - floor
        pos = ex > 0
        bx.errorbar(N[pos], ex[pos], yerr=(em[..., pos] if em.any() else None) if name != "theory" else None,
                    capsize=2, gid=name, **styles[name])
        if (~pos).any():
            bx.plot(N[~pos], np.full((~pos).sum(), np.nan), ls="none")  # keeps the x range
            bx.scatter(N[~pos], np.zeros((~pos).sum()), marker="v", color=styles[name]["color"], clip_on=False,
                       transform=bx.get_xaxis_transform(), zorder=5,
                       label=f"{name}: at or below the linear floor", gid=f"{name}-below")
    ax.axhline(float(mse_to_psnr(floor)), color="tab:green", ls="--", lw=1, label="linear floor R_Q(W*_P)")
    if theory[0].get("rank_Q", np.inf) >= theory[0].get("n", 0):  # else W*_Q projects onto the test crops' span
        ax.axhline(float(mse_to_psnr(wiener)), color="0.2", ls=":", lw=1, label="Wiener floor of the test crops")
    for i, (k, v) in enumerate((baselines or {}).items()):
        ax.axhline(v, color="0.6", lw=0.8, ls=("-.", (0, (1, 2)), (0, (5, 2)))[i % 3], label=k)
    ax.set_xscale("log")
    ax.set_xlabel("training examples N")
    ax.set_ylabel("test PSNR (dB) of the mean MSE")
    ax.legend(fontsize=7)
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel("training examples N")
    bx.set_ylabel("test MSE − linear floor")
    bx.legend(fontsize=7)
    return ax, bx


def extra_examples(ax: Axes, rows: Sequence[Mapping[str, Any]], *, label: str = "self-supervised",
                   color: str = "tab:purple", marker: str = "o") -> Axes:
    """How many times more examples a self-supervised method needs, against the supervised N.

    Draws ``factor = N_equiv / N`` (rows of :func:`bridge.extra.extra_examples` or
    :func:`bridge.extra.theory_extra_examples`) against N on log-log axes, with the interval
    ``[lo, hi]`` as bars, and the reference ``N_equiv = N`` (factor 1) as a dashed line. The factor
    rather than ``N_equiv`` is on the y axis: on an ``N_equiv``-vs-N plot a constant factor of 3 is a
    half-decade offset from the diagonal that the N range (several decades) squeezes flat, and a factor
    that grows or shrinks with N is hard to see; against N it is a flat, rising or falling line, and
    the diagonal becomes the horizontal line at 1 (drawn once per panel, so several curves can share it).

    Not-identified rows are never drawn as values: each is a hollow triangle on the top edge of the
    panel at its N (outside the data scale), with one legend entry "<label>: not identified".

    Args:
        ax: the Axes to draw on.
        rows: dicts with ``N``, ``factor``, ``lo``, ``hi``, ``identified`` (``factor``/``lo``/``hi``
            may be None when not identified).
        label: legend text of the curve. color, marker: its look.

    Returns:
        ``ax``.

    Raises:
        ValueError: ``ax`` is not an Axes, ``rows`` is empty or a row lacks a key.
    """
    ax = check_ax(ax)
    if not rows:
        raise ValueError("rows is empty: pass the rows of bridge.extra.extra_examples")
    for r in rows:
        missing = [k for k in ("N", "factor", "lo", "hi", "identified") if k not in r]
        if missing:
            raise ValueError(f"a row lacks {', '.join(missing)}: pass the rows of bridge.extra.extra_examples")
    ok = [r for r in rows if r["identified"]]
    bad = [r for r in rows if not r["identified"]]
    ax.set_xscale("log")
    ax.set_yscale("log")
    if ok:
        ok.sort(key=lambda r: r["N"])
        n = np.array([r["N"] for r in ok], float)
        f = np.array([r["factor"] for r in ok], float)
        err = np.vstack([f - np.array([r["lo"] for r in ok], float), np.array([r["hi"] for r in ok], float) - f])
        style = dict(color=color, marker=marker, ms=4, lw=1.2, label=label)
        if np.any(err > 0):
            ax.errorbar(n, f, yerr=np.maximum(err, 0.0), capsize=2, **style).lines[0].set_gid("extra-examples")
        else:  # exact (theory) rows: no bars
            plot_line(ax, n, f, gid="extra-examples", **style)
    if bad:
        nb = np.array([r["N"] for r in bad], float)
        ax.plot(nb, np.ones_like(nb), ls="none")  # the x range includes them (the edge markers do not count)
        ax.scatter(nb, np.ones_like(nb), marker="^", facecolors="none", edgecolors=color, clip_on=False,
                   transform=ax.get_xaxis_transform(), zorder=5, label=f"{label}: not identified",
                   gid="extra-examples-not-identified")
    if not any(ln.get_gid() == "extra-examples-reference" for ln in ax.lines):  # once per panel
        ax.axhline(1.0, color="gray", ls="--", lw=1.0, label="$N_{equiv} = N$ (no extra examples)",
                   gid="extra-examples-reference")
    return finish_axes(ax, xlabel="supervised training examples $N$",
                        ylabel="extra-examples factor $N_{equiv} / N$")
