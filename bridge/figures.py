"""Figures 2–4 from results tables: the glue between tables, fits and :mod:`bridge.plot`.

Every function takes rows (a runs table: :func:`bridge.results.load_table`) or curves, fits what
the figure shows, draws with the pure functions of :mod:`bridge.plot`, writes PNG and PDF next to
``path`` and returns the written paths. So every figure is regenerable from a results file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["empirical_figure", "params_figure", "overlay_figure", "fit_joint", "METRIC_LABELS"]

METRIC_LABELS = {"psnr": "test PSNR (dB)", "ssim": "test SSIM", "mse": "test MSE", "nmse": "test NMSE"}


def _done(rows: Sequence[dict]) -> list[dict]:
    done = [r for r in rows if r.get("status") == "done"]
    if not done:
        raise ValueError("no finished runs in the table; run (or resume) the sweep first")
    return done


def empirical_figure(rows: Sequence[dict], path: str | Path, *, metric: str = "psnr", extrapolate_to: float = 1e6,
                     n_boot: int = 100, level: float = 0.95, baselines: dict[str, float] | None = None,
                     rng: np.random.Generator) -> list[Path]:
    """Figure 2: every run as a dot, best-width envelope, fitted law with its band, extrapolation.

    The law is the saturating form P∞ − A N^α for PSNR/SSIM (a floor law a N^α + c for errors),
    fitted to the best width's runs per N and bootstrapped over seeds.
    """
    from .compare import empirical_curve  # noqa: PLC0415
    from .laws import FloorPowerLaw, SaturatingLaw  # noqa: PLC0415
    from .plot import empirical_vs_N, new_figure, save  # noqa: PLC0415
    from .uncertainty import bootstrap  # noqa: PLC0415

    done = _done(rows)
    key = f"test_{metric}"
    if key not in done[0]:
        raise ValueError(f"metric {metric!r} is not in the table; use psnr, ssim, mse or nmse")
    runs = {"N": np.array([r["N"] for r in done], float), "value": np.array([r[key] for r in done], float),
            "width": np.array([r["width"] for r in done])}
    scale = "psnr" if metric == "psnr" else "risk"
    best = empirical_curve(done, metric=metric, scale=scale) if metric in ("psnr", "mse") else None
    fit = band = None
    if best is not None and best.points is not None:
        N, y, g = best.points
        proto = SaturatingLaw() if metric == "psnr" else FloorPowerLaw()
        if np.unique(N).size >= proto.n_params:
            boot = bootstrap(proto, N, y, groups=g if np.unique(g).size > 1 else None, n_boot=n_boot, rng=rng)
            fit = boot.law
            grid = np.geomspace(N.min(), max(N.max(), extrapolate_to), 200)
            lo, hi = boot.predict_band(grid, level)
            band = (grid, lo, hi)
    fig, ax = new_figure(1, 1, size=(6.0, 4.2))
    empirical_vs_N(ax, runs, envelope=(best.N, best.y, best.err) if best is not None else None, fit=fit, band=band,
                   extrapolate_to=extrapolate_to if fit is not None else None, baselines=baselines,
                   metric=METRIC_LABELS.get(metric, metric))
    return save(fig, path)


def fit_joint(rows: Sequence[dict], *, metric: str = "psnr") -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """The joint law E(N, P) = E∞ + A N^−α + B P^−β over every finished run (E = MSE for PSNR).

    Returns:
        (fitted JointLaw, N (m,), P (m,), metric values (m,)).
    """
    from .joint import JointLaw  # noqa: PLC0415
    from .uncertainty import psnr_to_mse  # noqa: PLC0415

    done = _done(rows)
    N = np.array([r["N"] for r in done], float)
    P = np.array([r["params"] for r in done], float)
    v = np.array([r[f"test_{metric}"] for r in done], float)
    err = psnr_to_mse(v) if metric == "psnr" else (1 - v if metric == "ssim" else v)
    return JointLaw().fit(N, err, P=P), N, P, v


def params_figure(rows: Sequence[dict], path: str | Path, *, metric: str = "psnr", law: Any = None) -> list[Path]:
    """Figure 3: metric vs parameter count, one curve per N, with the joint law's prediction."""
    from .plot import metric_vs_params, new_figure, save  # noqa: PLC0415
    from .uncertainty import mse_to_psnr  # noqa: PLC0415

    done = _done(rows)
    N = np.array([r["N"] for r in done], float)
    P = np.array([r["params"] for r in done], float)
    v = np.array([r[f"test_{metric}"] for r in done], float)
    if law is None and np.unique(P).size >= 2:
        try:
            law = fit_joint(done, metric=metric)[0]
        except ValueError:
            law = None  # too few (N, P) points for the 5-parameter law: draw the data only
    # Mean over seeds per (N, P): one point per curve and width.
    keys = sorted(set(zip(N, P)))
    Nm = np.array([k[0] for k in keys])
    Pm = np.array([k[1] for k in keys])
    vm = np.array([v[(N == a) & (P == b)].mean() for a, b in keys])
    to_metric = mse_to_psnr if metric == "psnr" else ((lambda e: 1 - e) if metric == "ssim" else None)
    fig, ax = new_figure(1, 1, size=(6.0, 4.2))
    metric_vs_params(ax, Pm, vm, Nm, law=law, metric=METRIC_LABELS.get(metric, metric), to_metric=to_metric)
    return save(fig, path)


def overlay_figure(theory: Any, empirical: Any, path: str | Path, *,
                   calibrated: tuple[Sequence[float], Sequence[float]] | None = None) -> list[Path]:
    """Figure 4: theory and experiment (relative-input scale) with both floor-law fits, and the
    calibrated theory ``(N, y)`` when given."""
    from .laws import FloorPowerLaw  # noqa: PLC0415
    from .plot import new_figure, overlay, save  # noqa: PLC0415

    fits = []
    for c in (theory, empirical):
        N, y, _ = c.points if c.points is not None else (c.N, c.y, None)
        try:
            fits.append(FloorPowerLaw().fit(N, y) if np.unique(N).size >= 3 else None)
        except ValueError:
            fits.append(None)  # a curve this law cannot fit is drawn without its fit
    cal = None if calibrated is None else (np.asarray(calibrated[0], float), np.asarray(calibrated[1], float))
    fig, ax = new_figure(1, 1, size=(6.0, 4.2))
    overlay(ax, (theory.N, theory.y, theory.err), (empirical.N, empirical.y, empirical.err), theory_fit=fits[0],
            empirical_fit=fits[1], calibrated=cal, ylabel="error relative to the noisy input")
    return save(fig, path)
