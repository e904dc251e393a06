"""Theory and experiment on one N axis: curves, alignment, side-by-side fits, calibration.

**Comparable y-scales.** The theory's risk is normalised by the signal energy, R(W) = E‖Wy − x‖²/E‖x‖²,
an experiment reports PSNR or MSE on images with a mean and a data range. The scale both share
without any convention is the error *relative to the noisy input*:

    theory:      R(W) / R(I),   R(I) = σ² n / d   (denoising: W = I returns y)
    experiment:  MSE(network) / MSE(input)         (the test set's noisy or zero-filled input)

(``scale="relative-input"``). ``"risk"`` keeps the theory's R and the experiment's MSE, ``"psnr"``
the experiment's PSNR. For denoising the relative floor of the theory is
R(W*)/R(I) = d / (n (1 + σ²)).

**Calibration.** :func:`calibrate` fits the linear theory's free parameters — the effective
subspace dimension d_eff and the noise level σ of the subspace model, with n fixed to the
experiment's pixel count — so that the random-matrix expected risk of early-stopped gradient
descent (oracle k ≤ kmax, the paper's rule), on the relative-input scale, matches an empirical
curve in least squares on log y. Every evaluation is one deterministic-equivalent curve
(:func:`theory.expected_risk` with ``method="asymptotic"``; ~1 s), so the search is a small
Nelder–Mead in (log d, log σ) and the uncertainty is the Gauss–Newton covariance from a
finite-difference Jacobian at the optimum (residual variance from the fit, or from the seeds' standard
errors when given), reported as intervals in log space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .results import select_per_N

__all__ = ["Curve", "SCALES", "theory_curve", "empirical_curve", "align", "compare_fits", "calibrate",
           "Calibration", "theory_relative_curve"]

SCALES = ("relative-input", "risk", "psnr")


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
    best = select_per_N(runs, metric=metric)
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
        the fitted law's label, AIC/BIC.
    """
    from .laws import BrokenPowerLaw, FloorPowerLaw, PowerLaw, SaturatingLaw  # noqa: PLC0415
    from .uncertainty import bootstrap  # noqa: PLC0415

    if law not in ("floor", "power", "broken"):
        raise ValueError(f"law {law!r}: use floor, power or broken")
    rows = []
    for c in curves:
        psnr = c.scale == "psnr"
        if law == "power":
            proto = PowerLaw()
        elif law == "broken":
            proto = BrokenPowerLaw(breaks=1)
        else:
            proto = SaturatingLaw() if psnr else FloorPowerLaw()
        if psnr and law != "floor":
            raise ValueError(f"law {law!r} needs an error scale; use scale='relative-input' or 'risk' for PSNR data")
        N, y, g = c.points if c.points is not None else (c.N, c.y, None)
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
        if law == "broken":
            row["break_N"] = float(f.breaks_[0])
            row["slope_after"] = float(f.exponents_[1])
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------ calibration
def theory_relative_curve(N: Sequence[float], *, n: int, d: int, sigma: float, kmax: int = 5000,
                          estimator: str = "gd-oracle") -> np.ndarray:
    """Deterministic-equivalent E R(Ŵ) / R(I) of the subspace denoising model at each N, shape (len(N),)."""
    from theory import Estimator, Problem, SubspaceSignal, expected_risk  # noqa: PLC0415

    est = Estimator(estimator, kmax=kmax) if estimator in ("gd-oracle", "gd-argmin") else Estimator(estimator)
    prob = Problem(SubspaceSignal(int(n), int(d)), float(sigma))
    (c,) = expected_risk(prob, [int(v) for v in N], [est], method="asymptotic", rng=np.random.default_rng(0))
    return c.mean[:, 0] * d / (sigma**2 * n)


@dataclass(frozen=True)
class Calibration:
    """The linear theory fitted to an empirical curve (relative-input scale).

    Attributes:
        n: ambient dimension (the experiment's pixel count). d_eff: effective subspace dimension.
        sigma: the theory's noise level. d_ci, sigma_ci: (lo, hi) intervals at ``level``.
        rms_log_error: RMS of log(theory / experiment) over the points. evaluations: theory curves computed.
        N: (j,) the calibration grid. y: (j,) the calibrated theory there. floor: d/(n(1+σ²)).
    """

    n: int
    d_eff: int
    sigma: float
    d_ci: tuple[float, float]
    sigma_ci: tuple[float, float]
    level: float
    rms_log_error: float
    evaluations: int
    N: np.ndarray
    y: np.ndarray
    kmax: int = 5000

    @property
    def floor(self) -> float:
        return self.d_eff / (self.n * (1 + self.sigma**2))

    def predict(self, N: Sequence[float]) -> np.ndarray:
        """The calibrated theory's relative error at N (one deterministic-equivalent curve)."""
        return theory_relative_curve(N, n=self.n, d=self.d_eff, sigma=self.sigma, kmax=self.kmax)

    def as_dict(self) -> dict:
        return {"n": self.n, "d_eff": self.d_eff, "d_lo": self.d_ci[0], "d_hi": self.d_ci[1], "sigma": self.sigma,
                "sigma_lo": self.sigma_ci[0], "sigma_hi": self.sigma_ci[1], "level": self.level,
                "floor": self.floor, "rms_log_error": self.rms_log_error, "evaluations": self.evaluations}


def calibrate(curve: Curve, *, n: int, kmax: int = 5000, level: float = 0.95, max_evals: int = 60,
              progress: bool = False) -> Calibration:
    """Fit (d_eff, σ) of the subspace denoising model to an empirical relative-input curve.

    Args:
        curve: the experiment on the ``relative-input`` scale (its ``err`` are seed spreads).
        n: the theory's ambient dimension: the experiment's pixel count (size² × channels).
        kmax: early-stopping horizon of the theory (the paper: 5000).
        level: confidence level of the intervals.
        max_evals: theory curves the Nelder–Mead search may compute.
        progress: tqdm bar over theory evaluations.

    Returns:
        :class:`Calibration`.
    """
    from scipy import optimize, stats  # noqa: PLC0415

    if curve.scale != "relative-input":
        raise ValueError(f"calibrate needs a relative-input curve, got {curve.scale!r}; build it with scale='relative-input'")
    if int(n) != n or n < 2:
        raise ValueError(f"n={n} must be an integer ≥ 2 (the experiment's pixel count)")
    if curve.N.size < 3:
        raise ValueError(f"calibration needs at least 3 distinct N (2 parameters); got {curve.N.size}")
    if np.any(curve.y <= 0):
        raise ValueError("the empirical curve has non-positive values; relative errors must be positive")
    N, ly = curve.N, np.log(curve.y)
    reps = np.array([np.sum(curve.points[0] == v) for v in N]) if curve.points is not None else np.ones(N.size)
    rel_se = np.where(reps > 1, curve.err / curve.y / np.sqrt(np.maximum(reps, 1)), np.nan)
    cache: dict[tuple[int, float], np.ndarray] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=max_evals, desc="calibrate theory", unit="curve", leave=False)

    def model(theta: np.ndarray) -> np.ndarray:
        d = int(np.clip(round(float(np.exp(theta[0]))), 1, n - 1))
        s = float(np.clip(np.exp(theta[1]), 1e-3, 1e3))
        key = (d, round(s, 12))
        if key not in cache:
            cache[key] = np.log(theory_relative_curve(N, n=n, d=d, sigma=s, kmax=kmax))
            if bar is not None:
                bar.update(1)
        return cache[key]

    def loss(theta: np.ndarray) -> float:
        return float(np.sum((model(theta) - ly) ** 2))

    # Start where the theory's floor d/(n(1+σ²)) equals the experiment's last point with σ = 1.
    d0 = float(np.clip(2 * n * curve.y[-1], 1, n - 1))
    start = np.array([np.log(d0), 0.0])
    try:
        res = optimize.minimize(loss, start, method="Nelder-Mead",
                                options={"initial_simplex": start + np.array([[0, 0], [0.7, 0], [0, 0.7]]),
                                         "xatol": 0.02, "fatol": 1e-4, "maxfev": max_evals})
    finally:
        if bar is not None:
            bar.close()
    best = res.x

    d_hat = int(np.clip(round(float(np.exp(best[0]))), 1, n - 1))
    s_hat = float(np.exp(best[1]))
    r = model(np.array([np.log(d_hat), np.log(s_hat)])) - ly
    # Gauss–Newton covariance of (log d, log σ) from a finite-difference Jacobian (steps of 10% and 5%).
    J = np.empty((N.size, 2))
    for j, h in enumerate((0.1, 0.05)):
        tp = np.array([np.log(d_hat), np.log(s_hat)])
        tm = tp.copy()
        tp[j] += h
        tm[j] -= h
        if j == 0:  # d is an integer: use the integers the steps land on
            dp, dm = max(round(d_hat * np.exp(h)), d_hat + 1), max(min(round(d_hat * np.exp(-h)), d_hat - 1), 1)
            tp[0], tm[0] = np.log(min(dp, n - 1)), np.log(dm)
        J[:, j] = (model(tp) - model(tm)) / (tp[j] - tm[j])
    dof = max(N.size - 2, 1)
    s2 = float(r @ r) / dof
    if np.all(np.isfinite(rel_se)):
        s2 = max(s2, float(np.mean(rel_se**2)))
    try:
        cov = s2 * np.linalg.inv(J.T @ J)
        z = stats.t.ppf(0.5 + level / 2, dof)
        half = z * np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        half = np.array([np.inf, np.inf])
    d_ci = (float(np.exp(np.log(d_hat) - half[0])), float(min(np.exp(np.log(d_hat) + half[0]), n)))
    s_ci = (float(np.exp(np.log(s_hat) - half[1])), float(np.exp(np.log(s_hat) + half[1])))
    return Calibration(n=int(n), d_eff=d_hat, sigma=s_hat, d_ci=d_ci, sigma_ci=s_ci, level=level,
                       rms_log_error=float(np.sqrt(np.mean(r**2))), evaluations=len(cache), N=N.copy(),
                       y=np.exp(ly + r), kmax=kmax)

