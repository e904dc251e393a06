"""Figures 2–4 from results tables, and the fit windows of figure 1: the glue between tables, fits
and :mod:`bridge.plot`.

Every figure function takes rows (a runs table: :func:`bridge.results.load_table`) or curves, fits
what the figure shows, draws with the pure functions of :mod:`bridge.plot` (the stages' panels: of
:mod:`bridge.plot_stages`), writes PNG and PDF next to ``path`` (:func:`bridge.plotkit.save`) and
returns the written paths. So every figure is regenerable from a results file.
Figure 1's windowed power-law fits come from :func:`window_fits` (windows of the released notebook,
:data:`RELEASED_WINDOWS`, or the rule :func:`rule_windows`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .compare import empirical_curve
from .joint import JointLaw
from .laws import FloorPowerLaw, PowerLaw
from .report import analyse
from .uncertainty import mse_to_psnr, psnr_to_mse

__all__ = ["empirical_figure", "three_curve_figure", "selfsup_figure", "params_figure", "overlay_figure", "fit_joint", "METRIC_LABELS", "RELEASED_WINDOWS",
           "WINDOW_MODES", "released_windows", "rule_windows", "window_fits"]

METRIC_LABELS = {"psnr": "test PSNR (dB)", "ssim": "test SSIM", "mse": "test MSE", "nmse": "test NMSE"}


#: Fit windows ``[N_start, N_end]`` of the released theory notebook (Klug & Heckel, ICLR 2023;
#: transcribed in ``../shared/paper.md``, "Theory model"), per setup ``(d, n, σ)``: estimator ->
#: window of the least-squares fit of log10 R on log10 N, for W^{k_opt} ("gd-oracle") and W_PCA
#: ("pca"). Figure 1 uses these by default (``reconscale paper-figures --windows released``).
#: (10, 1000, 0.1)'s W^{k_opt} window ends at N = 80, which is not on the d = 10 grid of
#: :data:`theory.setups.N_GRIDS` (the released notebook fails there). We do not add N = 80 to the
#: grid: the fit uses the grid points inside the window, 18..64 (its W_PCA window [80, 256] likewise
#: uses 100 and 256), and fits.csv says so: ``"18-80 (grid points 18..64)"``.
RELEASED_WINDOWS: dict[tuple[int, int, float], dict[str, tuple[float, float]]] = {
    (10, 100, 0.05): {"gd-oracle": (8.0, 24.0), "pca": (10.0, 44.0)},
    (10, 100, 0.1): {"gd-oracle": (8.0, 24.0), "pca": (10.0, 44.0)},
    (10, 100, 0.2): {"gd-oracle": (8.0, 24.0), "pca": (10.0, 44.0)},
    (10, 1000, 0.05): {"gd-oracle": (10.0, 44.0), "pca": (10.0, 100.0)},
    (10, 1000, 0.1): {"gd-oracle": (18.0, 80.0), "pca": (80.0, 256.0)},
    (10, 10000, 0.1): {"gd-oracle": (100.0, 256.0), "pca": (512.0, 2048.0)},
    (50, 1000, 0.1): {"gd-oracle": (50.0, 100.0), "pca": (50.0, 256.0)},
    (100, 1000, 0.1): {"gd-oracle": (80.0, 175.0), "pca": (80.0, 175.0)},
}

#: ``--windows`` choices of ``reconscale paper-figures``: the released notebook's table, or the rule.
WINDOW_MODES = ("released", "rule")


def released_windows(d: int, n: int, sigma: float) -> dict[str, tuple[float, float]] | None:
    """The released notebook's windows for setup ``(d, n, σ)`` (σ compared to 1e-9), None if absent."""
    for (d0, n0, s0), w in RELEASED_WINDOWS.items():
        if int(d) == d0 and int(n) == n0 and abs(float(sigma) - s0) <= 1e-9:
            return dict(w)
    return None


def rule_windows(d: int, n: int, N_max: float) -> list[tuple[float, float]]:
    """The rule for W^{k_opt}'s windows (``--windows rule``, and setups not in :data:`RELEASED_WINDOWS`):
    the steep regime where GD learns the subspace (d ≤ N ≤ n) and the slow regime near the floor
    (N ≥ min(4n, N_max/4))."""
    return [(float(d), float(n)), (float(min(4 * n, N_max / 4)), float(N_max))]


def _window_text(N: np.ndarray, lo: float, hi: float) -> str:
    inside = N[(N >= lo) & (N <= hi)]
    text = f"{lo:g}-{hi:g}"
    if inside.size and (inside[0] != lo or inside[-1] != hi):
        text += f" (grid points {inside[0]:g}..{inside[-1]:g})"
    return text


def window_fits(curves: dict[str, tuple], d: int, n: int, sigma: float, *,
                windows: str = "released") -> tuple[list[dict], list[str]]:
    """Figure 1's pure power laws β N^α, each fitted (log-log least squares) over its window.

    Args:
        curves: estimator -> ``(N, mean, err)`` (as for :func:`bridge.plot.theory_risk_vs_N`).
        d, n, sigma: the setup.
        windows: "released" — the released notebook's windows (:data:`RELEASED_WINDOWS`) for
            "gd-oracle" and "pca"; a setup not in that table falls back to the rule, with a note —
            or "rule" — :func:`rule_windows` for "gd-oracle" only.

    Returns:
        (fits, notes): each fit a dict with ``estimator``, ``window`` (lo, hi), ``window_text`` (with
        the grid points used when an end is not on the grid), ``windows`` (where the window came
        from) and ``law`` (the fitted :class:`bridge.laws.PowerLaw`); notes are lines for the user
        (a fallback to the rule, a window skipped for too few points).
    """

    if windows not in WINDOW_MODES:
        raise ValueError(f"windows must be one of {', '.join(WINDOW_MODES)}; got {windows!r}")
    notes: list[str] = []
    plan: list[tuple[str, float, float]] = []
    source = windows
    table = released_windows(d, n, sigma) if windows == "released" else None
    if table is not None:
        plan = [(est, lo, hi) for est, (lo, hi) in table.items()]
    else:
        if windows == "released":
            source = "rule (setup not in the released table)"
            notes.append(f"(d={d}, n={n}, σ={sigma:g}) is not a setup of the released notebook: W^{{k_opt}} is "
                         "fitted over the rule's windows (d..n and N ≥ min(4n, N_max/4))")
        if "gd-oracle" in curves:
            N_max = float(np.max(curves["gd-oracle"][0]))
            plan = [("gd-oracle", lo, hi) for lo, hi in rule_windows(d, n, N_max)]
    fits = []
    for est, lo, hi in plan:
        if est not in curves:
            notes.append(f"no {est} curve in the table: its {lo:g}-{hi:g} fit is skipped")
            continue
        N, mean = np.asarray(curves[est][0], float), np.asarray(curves[est][1], float)
        try:
            law = PowerLaw(window=(lo, hi)).fit(N, mean)
        except ValueError as e:
            notes.append(f"{est} window {lo:g}-{hi:g} skipped: {e}")
            continue
        fits.append({"estimator": est, "window": (lo, hi), "window_text": _window_text(N, lo, hi),
                     "windows": source, "law": law})
    return fits, notes


def _done(rows: Sequence[dict]) -> list[dict]:
    done = [r for r in rows if r.get("status") == "done"]
    if not done:
        raise ValueError("no finished runs in the table; run (or resume) the sweep first")
    return done


def empirical_figure(rows: Sequence[dict], path: str | Path, *, metric: str = "psnr",
                     extrapolate_to: float | None = None, n_boot: int = 100, level: float = 0.95,
                     baselines: dict[str, float] | None = None, band: dict | None = None,
                     rng: np.random.Generator) -> list[Path]:
    """Figure 2: every run as a dot, the best width per N, and the band the report uses.

    The band is the reported extrapolation of :func:`bridge.report.analyse` (its ``band``): the
    envelope of the bands of every law not rejected by its backtest (fit without the largest N,
    predict it), each widened by its bootstrap, so it carries the uncertainty of the law family, not
    only of one law's parameters; its centre is drawn dashed. No asymptote is drawn: it is a finding
    only where :func:`bridge.report.analyse` identifies it.

    Args:
        rows: a runs table. path: output stem. metric: ``psnr``, ``ssim``, ``mse`` or ``nmse``.
        extrapolate_to: the band is drawn up to this N (default 4× the largest N: farther is not a
            finding); the region past the data is shaded.
        n_boot, rng: the bootstrap of the analysis (over the seeds of the best width per N).
        level: band level. baselines: name → metric value, horizontal lines.
        band: an analysis' ``band`` already computed on this curve (the demo's, whose bootstrap
            also resamples the test images); then ``n_boot``, ``level`` and ``rng`` are not used.
    """
    from .plot import empirical_vs_N  # noqa: PLC0415
    from .plotkit import new_figure, save  # noqa: PLC0415

    done = _done(rows)
    key = f"test_{metric}"
    if key not in done[0]:
        raise ValueError(f"metric {metric!r} is not in the table; use psnr, ssim, mse or nmse")
    runs = {"N": np.array([r["N"] for r in done], float), "value": np.array([r[key] for r in done], float),
            "width": np.array([r["width"] for r in done])}
    scale = "psnr" if metric == "psnr" else "risk"
    best = empirical_curve(done, metric=metric, scale=scale) if metric in ("psnr", "mse") else None
    drawn = centre = None
    ext = None
    if best is not None and best.points is not None and np.unique(best.points[0]).size >= 4:
        N, y, g = best.points
        ext = 4.0 * float(N.max()) if extrapolate_to is None else float(extrapolate_to)
        if band is None:
            try:
                band = analyse(N, y, metric=f"test_{metric}", groups=g, n_boot=n_boot, level=level, rng=rng,
                               band_grid=np.geomspace(N.min(), max(N.max(), ext), 200)).get("band")
            except (ValueError, np.linalg.LinAlgError):
                band = None
        if band is None:
            ext = None  # no law could be fitted: the figure shows the data only
        else:
            level = float(band["level"])
            grid, c, lo, hi = (np.array([np.nan if v is None else v for v in band[k]], dtype=float)
                               for k in ("N", "predict", "lo", "hi"))
            ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(c)
            drawn, centre = (grid[ok], np.minimum(lo, hi)[ok], np.maximum(lo, hi)[ok]), (grid[ok], c[ok])
    fig, ax = new_figure(1, 1, size=(6.0, 4.2))
    empirical_vs_N(ax, runs, envelope=(best.N, best.y, best.err) if best is not None else None, band=drawn,
                   extrapolate_to=ext, baselines=baselines, metric=METRIC_LABELS.get(metric, metric))
    if centre is not None:
        ax.plot(*centre, color="tab:blue", lw=1.2, ls="--", label=f"law-family envelope ({int(100 * level)}%)",
                gid="envelope-centre")
        ax.legend(fontsize=7)
    return save(fig, path)


def three_curve_figure(theory: Sequence[dict], linear: Sequence[dict], network: Sequence[dict], path: str | Path, *,
                       baselines: dict[str, float] | None = None) -> list[Path]:
    """The core figure: the linear theory of the data, the learned linear estimator, the networks.

    Left: test PSNR against N with the linear floor R_Q(W*_P), the Wiener floor of the test images
    R_Q(W*_Q) (only when Σ_Q has full rank: else W*_Q merely projects onto the test images' span)
    and the baselines. Right: the excess test MSE above the linear floor, log–log (where
    the power law lives); points at or below the floor are marked on the bottom edge.

    Args:
        theory: rows of :func:`bridge.datatheory.data_theory_curve` (``N``, ``mse``, ``psnr``,
            ``floor_P_on_Q``, ``floor_Q``). linear, network: rows of
            :func:`bridge.results.runs_curve` (``N``, ``mse``, ``mse_sem``, ``psnr``, ``psnr_sem``).
        path: output stem. baselines: name → PSNR (dB).
    """
    from .plot_stages import three_curves  # noqa: PLC0415
    from .plotkit import new_figure, save  # noqa: PLC0415

    fig, (ax, bx) = new_figure(2, 1, size=(5.6, 4.2))
    three_curves(ax, bx, theory, linear, network, baselines=baselines)
    return save(fig, path)


def fit_joint(rows: Sequence[dict], *, metric: str = "psnr") -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """The joint law E(N, P) = E∞ + A N^−α + B P^−β over every finished run (E = MSE for PSNR).

    Returns:
        (fitted JointLaw, N (m,), P (m,), metric values (m,)).
    """

    done = _done(rows)
    N = np.array([r["N"] for r in done], float)
    P = np.array([r["params"] for r in done], float)
    v = np.array([r[f"test_{metric}"] for r in done], float)
    err = psnr_to_mse(v) if metric == "psnr" else (1 - v if metric == "ssim" else v)
    return JointLaw().fit(N, err, P=P), N, P, v


def params_figure(rows: Sequence[dict], path: str | Path, *, metric: str = "psnr", law: Any = None) -> list[Path]:
    """Figure 3: metric vs parameter count, one curve per N, with the joint law's prediction."""
    from .plot import metric_vs_params  # noqa: PLC0415
    from .plotkit import new_figure, save  # noqa: PLC0415

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
    from .plot import overlay  # noqa: PLC0415
    from .plotkit import new_figure, save  # noqa: PLC0415

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


#: Colour per estimator family of :func:`selfsup_figure` (the three-curve figure's).
_FAMILY_COLOURS = {"theory": "black", "linear": "tab:blue", "linear (magnitude input)": "tab:cyan", "network": "tab:red"}


def selfsup_figure(curves: Sequence[dict], extra: Sequence[dict], path: str | Path) -> list[Path]:
    """Supervised and self-supervised training on one N axis, and the extra examples needed.

    Left: test PSNR against N per estimator family (theory, linear, network), clean targets solid,
    self-supervised dashed. Right: the factor N_equiv / N per family and self-supervised target
    (:func:`bridge.plot_stages.extra_examples`: intervals as bars, not-identified N on the top edge).

    Args:
        curves: rows ``{family, target, N, psnr, psnr_sem}`` (:func:`bridge.extra.compare_targets`,
            theory rows with ``psnr_sem`` 0). extra: its ``extra`` rows (``family``, ``target``, …).
        path: output stem.
    """
    from .plot_stages import extra_examples  # noqa: PLC0415
    from .plotkit import new_figure, save  # noqa: PLC0415

    fig, (ax, bx) = new_figure(2, 1, size=(5.6, 4.2))
    for (family, target) in sorted({(r["family"], r["target"]) for r in curves}):
        rows = sorted((r for r in curves if r["family"] == family and r["target"] == target), key=lambda r: r["N"])
        N = np.array([r["N"] for r in rows], float)
        y = np.array([r["psnr"] for r in rows])
        e = np.array([r.get("psnr_sem") or 0.0 for r in rows])
        ax.errorbar(N, y, yerr=e if e.any() else None, color=_FAMILY_COLOURS.get(family, "tab:gray"),
                    ls="-" if target == "clean" else "--", marker="" if family == "theory" else "o", ms=3,
                    capsize=2, label=f"{family}, {target} targets")
    ax.set_xscale("log")
    ax.set_xlabel("training examples N")
    ax.set_ylabel("test PSNR (dB)")
    ax.legend(fontsize=7)
    groups = sorted({(r["family"], r["target"]) for r in extra})
    for i, (family, target) in enumerate(groups):
        rows = [r for r in extra if r["family"] == family and r["target"] == target]
        extra_examples(bx, rows, label=f"{family}, {target}", color=_FAMILY_COLOURS.get(family, "tab:gray"),
                       marker="osD^v"[i % 5])
    bx.set_xlabel("N with clean targets")
    bx.set_ylabel("examples needed / N")
    return save(fig, path)
