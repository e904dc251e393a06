"""Theory and experiment on one N axis: curves, alignment, side-by-side fits.

**Comparable y-scales.** The theory's risk is normalised by the signal energy, R(W) = E‖Wy − x‖²/E‖x‖²,
an experiment reports PSNR or MSE on images with a mean and a data range. The scale both share
without any convention is the error *relative to the noisy input*:

    theory:      R(W) / R(I),   R(I) = σ² n / d   (denoising: W = I returns y)
    experiment:  MSE(network) / MSE(input)         (the test set's noisy or zero-filled input)

(``scale="relative-input"``). ``"risk"`` keeps the theory's R and the experiment's MSE, ``"psnr"``
the experiment's PSNR. For denoising the relative floor of the theory is
R(W*)/R(I) = d / (n (1 + σ²)).

Calibration of a linear theory against such a curve lives in :mod:`bridge.calibrate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .identify import underdetermined
from .laws import LAWS, law_spec
from .results import require_distinct_N, runs_curve
from .uncertainty import bootstrap

__all__ = ["Curve", "SCALES", "COMPARE_LAWS", "theory_curve", "empirical_curve", "align", "compare_fits"]

SCALES = ("relative-input", "risk", "psnr")
#: the laws of :data:`bridge.laws.LAWS` :func:`compare_fits` fits (``floor`` is ``saturating`` on PSNR).
COMPARE_LAWS = ("floor", "power", "broken")


@dataclass(frozen=True)
class Curve:
    """One curve on the N axis.

    Attributes:
        N: (j,) distinct training-set sizes, increasing.
        y: (j,) mean value at each N.
        err: (j,) standard deviation over runs/seeds (zeros if one).
        scale: one of :data:`SCALES`.
        label: legend text.
        points: per-run points ``(N (m,), y (m,), group (m,))`` for fits and bootstraps (group = run
            or seed), or None.
    """

    N: np.ndarray
    y: np.ndarray
    err: np.ndarray
    scale: str
    label: str
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def at(self, N: Sequence[float]) -> "Curve":
        """The curve restricted to the given N (each must be on the grid)."""
        idx = [int(np.flatnonzero(self.N == v)[0]) for v in N]
        pts = None
        if self.points is not None:
            keep = np.isin(self.points[0], np.asarray(N, dtype=float))
            pts = tuple(a[keep] for a in self.points)
        return Curve(self.N[idx], self.y[idx], self.err[idx], self.scale, self.label, pts)


def _from_points(N: np.ndarray, y: np.ndarray, g: np.ndarray, scale: str, label: str) -> Curve:
    Ns = np.unique(N)
    mean = np.array([y[N == v].mean() for v in Ns])
    err = np.array([y[N == v].std(ddof=1) if np.sum(N == v) > 1 else 0.0 for v in Ns])
    return Curve(Ns.astype(float), mean, err, scale, label, (N.astype(float), y.astype(float), g))


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r}: use one of {', '.join(SCALES)}")


def theory_curve(rows: Sequence[dict], *, estimator: str = "gd-oracle", scale: str = "relative-input",
                 setup: int | None = None, label: str | None = None) -> Curve:
    """A theory curve from a ``reconscale theory setups`` table (one row per run) or a ``theory curve``
    table (``risk_mean``/``risk_std`` per N).

    Args:
        rows: the table's rows. estimator: which estimator (``gd-oracle``, ``ols``, ``pca``, ``optimal``…).
        scale: ``"relative-input"`` (R / R(I), denoising only) or ``"risk"``.
        setup: select one setup of a setups table (required when it holds several).
        label: legend text (default: the estimator and the problem).
    """
    _check_scale(scale)
    if scale == "psnr":
        raise ValueError("theory curves have no PSNR; use scale='risk' or 'relative-input'")
    sel = [r for r in rows if r.get("estimator") == estimator and (setup is None or r.get("setup") == setup)]
    if not sel:
        names = sorted({str(r.get("estimator")) for r in rows})
        raise ValueError(f"no rows for estimator {estimator!r}{'' if setup is None else f' in setup {setup}'}; "
                         f"the table has {', '.join(names)}")
    problems = {(r.get("n"), r.get("d"), r.get("sigma"), r.get("operator", "denoise")) for r in sel}
    if len(problems) > 1:
        raise ValueError(f"the table holds {len(problems)} problems; choose one with setup=… (--setup)")
    n, d, sigma, operator = problems.pop()
    if scale == "relative-input" and operator != "denoise":
        raise ValueError(f"relative-input needs a denoising theory table (operator is {operator!r}); use scale='risk'")
    col = "risk" if "risk" in sel[0] else "risk_mean"
    N = np.array([float(r["N"]) for r in sel])
    y = np.array([float(r[col]) for r in sel])
    g = np.array([r.get("run", 0) for r in sel])
    if scale == "relative-input":
        y = y * d / (sigma**2 * n)
    lab = label or f"theory {estimator} (n={n}, d={d}, σ={sigma:g})"
    c = _from_points(N, y, g, scale, lab)
    if col == "risk_mean":  # one row per N: carry the table's spread across runs
        std = np.array([float(r.get("risk_std") or 0.0) for r in sel])
        if scale == "relative-input":
            std = std * d / (sigma**2 * n)
        c = Curve(c.N, c.y, np.array([std[N == v][0] for v in c.N]), scale, lab, c.points)
    return c


def empirical_curve(table: Sequence[dict], *, metric: str = "psnr", scale: str = "relative-input",
                    label: str | None = None, **where: Any) -> Curve:
    """Per N: the best width by validation ``metric`` (the paper's selection), its runs over seeds.

    Args:
        table: tidy runs table (:func:`bridge.results.load_table`).
        metric: selection metric (psnr, ssim, mse, nmse).
        scale: ``"relative-input"`` (test MSE / test MSE of the input), ``"risk"`` (test MSE) or ``"psnr"``.
        where: keep only runs with these column values (e.g. ``arch="unet"``).
    """
    _check_scale(scale)
    runs = [r for r in table if r.get("status") == "done" and all(r.get(k) == v for k, v in where.items())]
    if not runs:
        raise ValueError("no finished runs match; run the sweep first or relax the filters")
    best = runs_curve(runs, metric=metric)
    require_distinct_N([r["N"] for r in best], what="an empirical curve")
    if len({r["N"] for r in best}) != len(best):
        raise ValueError("the sweep varies more than N and width; filter it (e.g. arch=…, sigma=…) first")
    N, y, g = [], [], []
    for b in best:
        for r in runs:
            if r["N"] == b["N"] and r["width"] == b["width"]:
                if scale == "psnr":
                    v = r["test_psnr"]
                elif scale == "risk":
                    v = r["test_mse"]
                else:
                    if not r.get("test_input_mse"):
                        raise ValueError("the runs have no test_input_mse; relative-input needs the input's error")
                    v = r["test_mse"] / r["test_input_mse"]
                N.append(r["N"])
                y.append(v)
                g.append(r.get("seed", 0))
    lab = label or f"experiment ({runs[0].get('arch', 'net')}, best width per N)"
    return _from_points(np.array(N, float), np.array(y, float), np.array(g), scale, lab)


def align(theory: Curve, empirical: Curve, *, interpolate: bool = False) -> tuple[Curve, Curve]:
    """The two curves on the empirical N grid and the same scale.

    Without ``interpolate`` the grids must be equal (or the theory's must contain the experiment's);
    with it, the theory is interpolated linearly in (log N, log y) inside its range (never extrapolated).
    """
    if theory.scale != empirical.scale:
        raise ValueError(f"scales differ ({theory.scale} vs {empirical.scale}); build both curves with the same scale=")
    missing = [v for v in empirical.N if v not in set(theory.N)]
    if not missing:
        return theory.at(empirical.N), empirical
    if not interpolate:
        raise ValueError(f"the theory has no point at N = {', '.join(f'{v:g}' for v in missing[:5])}; recompute it "
                         "on the empirical grid or pass interpolate=True (--interpolate)")
    lo, hi = theory.N.min(), theory.N.max()
    if empirical.N.min() < lo or empirical.N.max() > hi:
        raise ValueError(f"the empirical N range [{empirical.N.min():g}, {empirical.N.max():g}] leaves the theory's "
                         f"[{lo:g}, {hi:g}]; interpolation never extrapolates: extend the theory grid")
    ly = np.interp(np.log(empirical.N), np.log(theory.N), np.log(theory.y))
    le = np.interp(np.log(empirical.N), np.log(theory.N), theory.err / theory.y)
    y = np.exp(ly)
    return Curve(empirical.N.copy(), y, le * y, theory.scale, theory.label + " (interpolated)", None), empirical


def compare_fits(curves: Sequence[Curve], *, law: str = "floor", n_boot: int = 200, level: float = 0.95,
                 rng: np.random.Generator) -> list[dict]:
    """Fit every curve with the same law family; exponents, floors and break points side by side.

    Args:
        curves: curves on the same scale (risk-like: positive, decreasing; or PSNR).
        law: ``"floor"`` (a N^α + c, or P∞ − A N^α for PSNR), ``"power"`` (β N^α) or ``"broken"``
            (one BNSL break).
        n_boot: bootstrap resamples (over runs/seeds when the curve has per-run points).
        rng: randomness for the bootstrap.

    Returns:
        One row per curve: label, law, exponent (and CI), floor/asymptote (and CI), break N (broken law),
        the fitted law's label, AIC/BIC; for a curve with no more distinct N than the law has parameters,
        ``fit: "not fitted"``, ``identified: False`` and the ``reason`` instead
        (:func:`bridge.identify.underdetermined`).
    """

    spec = law_spec(law, among=COMPARE_LAWS)
    rows = []
    for c in curves:
        psnr = c.scale == "psnr"
        if psnr and spec.name != "floor":
            raise ValueError(f"law {law!r} needs an error scale; use scale='relative-input' or 'risk' for PSNR data")
        proto = (LAWS["saturating"] if psnr else spec).make()  # PSNR rises to an asymptote: the floor's twin
        N, y, g = c.points if c.points is not None else (c.N, c.y, None)
        why = underdetermined(type(proto).__name__, proto.n_params, np.unique(N).size)
        if why:  # as many parameters as N: an exact fit, no finding
            rows.append({"curve": c.label, "scale": c.scale, "law": type(proto).__name__, "fit": "not fitted",
                         "identified": False, "reason": why})
            continue
        boot = bootstrap(proto, N, y, groups=g if g is not None and len(np.unique(g)) > 1 else None,
                         n_boot=n_boot, rng=rng)
        ci = boot.ci(level)
        f = boot.law
        row: dict[str, Any] = {"curve": c.label, "scale": c.scale, "law": type(f).__name__, "fit": f.label(),
                               "exponent": float(f.exponent_), "exponent_lo": ci["exponent"][0] if "exponent" in ci
                               else np.nan, "exponent_hi": ci["exponent"][1] if "exponent" in ci else np.nan,
                               "aic": float(f.aic_), "bic": float(f.bic_), "n_points": int(f.n_points_)}
        for name in ("floor", "asymptote"):
            if hasattr(f, f"{name}_"):
                row["floor"] = float(getattr(f, f"{name}_"))
                row["floor_lo"], row["floor_hi"] = ci.get(name, (np.nan, np.nan))
        if spec.name == "broken":
            row["break_N"] = float(f.breaks_[0])
            row["slope_after"] = float(f.exponents_[1])
        rows.append(row)
    return rows
