"""Calibrating a linear theory to an experiment's curve: which (d_eff, σ) or spectrum reproduces it.

The curve is a :class:`bridge.compare.Curve` on the relative-input scale (see :mod:`bridge.compare`).

**Calibration.** :func:`calibrate` fits a linear theory to an empirical relative-input curve, with n fixed
to the experiment's pixel count: the random-matrix expected risk of gradient descent from 0 (the paper's
step, oracle k ≤ kmax), relative to R(I), matched in least squares on log y. Two models:

* ``"subspace"`` — the paper's model; fits the effective dimension d_eff and the noise level σ;
* ``"power"`` — a signal spectrum μ_i = scale·i^(−exponent), i = 1..n, with σ known (the experiment's);
  fits exponent and scale (eigenvalues grouped in 5% log bins: ~10⁻⁴ relative error, any n).

Each theory curve is one deterministic equivalent per N (:class:`theory.DataEquivalent` on a
:class:`theory.ShiftSpectrum` built here; ~0.05–0.3 s per N). The point fit is a bounded trust-region
least squares on the exact theory; the intervals come from refits on a local biquadratic surrogate (the
exact theory on a 3×3 stencil around the fit) for resamples of the experiment's seeds (percentile
bootstrap), joined with the profile-likelihood interval; each parameter is classified by
:func:`bridge.identify.identify`, and an unidentified calibration says so (``identified``, ``reason``).
Measured on 2 shared cores (load average 4–7), 6 values of N, 3 seeds, 200 resamples: subspace n = 1600
5–8 s, power n = 1600 10–17 s, power n = 256²·3 18–24 s (23–26 theory curves each).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from theory import (
    DataEquivalent,
    Estimator,
    Problem,
    ShiftSpectrum,
    SubspaceSignal,
    argmin_curve,
    expected_risk,
    rmt_curve,
    spectrum_support,
)
from theory.backend import one_blas_thread
from theory.estimators import lr_is_unstable

from .compare import Curve
from .identify import identify

__all__ = ["CALIBRATION_MODELS", "Calibration", "calibrate", "theory_relative_curve", "power_relative_curve",
           "subspace_spectrum", "power_spectrum", "relative_curve"]

#: the calibration models: the paper's subspace model (d_eff, σ) and a power-law spectrum (exponent, scale; σ known).
CALIBRATION_MODELS = ("subspace", "power")
_PARAMS = {"subspace": ("d_eff", "sigma"), "power": ("exponent", "scale")}
_POWER_BIN = 0.05  # power-law Σ_y eigenvalues within 5% (log) share one group: relative risk error ~1e-4
_EDGE = 0.01  # an interval within 1% of the explored box's width of its edge "reaches" it
_GROW = 3.0  # the explored box grows by this factor where an interval reaches its edge
_MAX_GROW = 2
_DENSE = 81  # dense grid per axis of the local surrogate (bootstrap argmins, profile)


def theory_relative_curve(N: Sequence[float], *, n: int, d: int, sigma: float, kmax: int = 5000,
                          estimator: str = "gd-oracle") -> np.ndarray:
    """Deterministic-equivalent E R(Ŵ) / R(I) of the subspace denoising model at each N, shape (len(N),)."""

    est = Estimator(estimator, kmax=kmax) if estimator in ("gd-oracle", "gd-argmin") else Estimator(estimator)
    prob = Problem(SubspaceSignal(int(n), int(d)), float(sigma))
    (c,) = expected_risk(prob, [int(v) for v in N], [est], method="asymptotic", rng=np.random.default_rng(0))
    return c.mean[:, 0] * d / (sigma**2 * n)


def _paper_tau(trace_x: float, lam_max: float, n: int, sigma: float, N: int) -> float:
    """The paper's step times N, η·N = 1/((1+ε) λ_max(Σ_y)), ε = √(10 tr Σ_y log n / N) (denoising)."""
    eps = np.sqrt(10.0 * (trace_x + sigma**2 * n) * np.log(n) / N)
    return 1.0 / ((1.0 + eps) * lam_max)


def subspace_spectrum(n: int, d: float, sigma: float):
    """Σ_y = (1+σ²) on d directions, σ² on n − d (d may be fractional: the equivalent only needs multiplicities)."""

    s2 = sigma**2
    w = 1.0 / (1.0 + s2)
    sp = ShiftSpectrum(np.array([1.0 + s2, s2]), np.array([d, n - d], float), np.array([d * w * w, 0.0]),
                       np.array([d * (1.0 + s2), (n - d) * s2]), np.array([d * w, 0.0]),
                       np.array([d * w * w * (1.0 + s2), 0.0]), float(d), d * s2 / (1.0 + s2), s2 / (1.0 + s2))
    return sp, 1.0 + s2


def _power_mu(n: int, exponent: float, scale: float) -> np.ndarray:
    return scale * np.arange(1, n + 1, dtype=float) ** (-exponent)


def power_spectrum(n: int, exponent: float, scale: float, sigma: float, *, bin_width: float = _POWER_BIN):
    """Σ_y = diag(μ + σ²), μ_i = scale·i^(−exponent), with eigenvalues grouped in log bins of ``bin_width``."""

    mu = _power_mu(n, exponent, scale)
    s2 = sigma**2
    lam = mu + s2
    w = mu / lam
    ll = np.log(lam)
    key = np.floor((ll[0] - ll) / bin_width).astype(np.int64) if bin_width > 0 else np.arange(n)
    _, gid = np.unique(key, return_inverse=True)
    J = int(gid.max()) + 1
    mult = np.bincount(gid, minlength=J).astype(float)
    glam = np.bincount(gid, weights=lam, minlength=J) / mult
    om, b, ell, H = (np.bincount(gid, weights=c, minlength=J) for c in (w**2, lam, mu * w, w**2 * lam))
    tx, te = float(mu.sum()), float(np.sum(mu * s2 / lam))
    return ShiftSpectrum(glam, mult, om, b, ell, H, tx, te, te / tx), float(lam[0])


def _oracle_min(eq: Any, kmax: int) -> float:
    """min over integers 0 ≤ k ≤ kmax of the expected GD curve: a geometric grid, then 33 points between the
    neighbours of its minimum (the curve is flat there: the value is exact to ~1e-6 relative)."""
    ks = np.unique(np.concatenate([[0.0], np.round(np.geomspace(1, max(kmax, 1), 48))]))
    ks = ks[ks <= kmax]
    r = eq.risk("gd", ks)
    i = int(np.argmin(r))
    lo, hi = ks[max(i - 1, 0)], ks[min(i + 1, ks.size - 1)]
    fine = np.unique(np.round(np.linspace(lo, hi, 33)))
    return float(min(eq.risk("gd", fine).min(), r[i]))


def relative_curve(sp: Any, lam_max: float, n: int, sigma: float, Ns: Sequence[float], kmax: int) -> np.ndarray:
    """E R(W^{k_opt}) / R(I) at each N from a denoising spectrum (deterministic equivalent, the paper's step)."""
    with one_blas_thread():
        return _relative_unthreaded(sp, lam_max, n, sigma, Ns, kmax)


def _relative_unthreaded(sp: Any, lam_max: float, n: int, sigma: float, Ns: Sequence[float], kmax: int) -> np.ndarray:
    from types import SimpleNamespace  # noqa: PLC0415

    out = np.empty(len(Ns))
    for j, N in enumerate(Ns):
        N = int(N)
        tau = _paper_tau(sp.trace_Q, lam_max, n, sigma, N)
        try:
            if abs(N - n) <= 0.05 * n + 2:  # the log contour is slow or fails next to the hard edge (N ≈ n)
                raise RuntimeError("N ≈ n")
            try:
                eq = DataEquivalent(sp, N, tau, rtol=1e-6)
            except ValueError:
                # The paper's ε accounts for the noise bulk in absolute units; where its step would diverge on
                # the bulk's edge b, the largest stable step 1/b is used instead.
                b = spectrum_support(sp.population_spectrum(), N)[1]
                if not lr_is_unstable(tau, b):
                    raise
                tau = 1.0 / b
                eq = DataEquivalent(sp, N, tau, rtol=1e-6)
            risk = _oracle_min(eq, kmax)
        except (ValueError, RuntimeError):
            # N ≈ n: the log contour cannot reach the hard edge (and next to it its continuation can take minutes);
            # theory's linear contour (rmt_curve) can, and needs of the population only σ (the step is given).
            curve = functools.partial(rmt_curve, SimpleNamespace(sigma=sigma), N, "gd", lr=tau / N,
                                      spectrum=sp.population_spectrum())
            risk = argmin_curve(curve, kmax, dense=False)[1]
        out[j] = risk * sp.trace_Q / (sigma**2 * n)
    return out


def power_relative_curve(N: Sequence[float], *, n: int, exponent: float, scale: float, sigma: float,
                         kmax: int = 5000) -> np.ndarray:
    """Deterministic-equivalent E R(W^{k_opt}) / R(I) for denoising a power-law spectrum, shape (len(N),).

    The signal is Gaussian with covariance eigenvalues μ_i = scale·i^(−exponent), i = 1..n; W^{k_opt} is
    gradient descent from 0 with the paper's step, stopped at the oracle k ≤ kmax (as for the subspace
    model). R(I) = σ² n / Σ μ_i.
    """
    if not (np.isfinite(exponent) and exponent >= 0 and np.isfinite(scale) and scale > 0 and sigma > 0):
        raise ValueError(f"exponent={exponent}, scale={scale}, sigma={sigma}: need exponent ≥ 0, scale > 0, sigma > 0")
    sp, lam_max = power_spectrum(int(n), float(exponent), float(scale), float(sigma))
    return relative_curve(sp, lam_max, int(n), float(sigma), N, int(kmax))


class _Model:
    """A calibration model in fitting coordinates x = (u, v): subspace (log d, log σ), power (exponent, log SNR)
    with SNR = Σμ/(σ² n) (the relative error of W = 0), so that the scale follows from (exponent, SNR)."""

    def __init__(self, name: str, *, n: int, Ns: np.ndarray, kmax: int, sigma: float | None, y_max: float,
                 bar: Any = None) -> None:
        self.name, self.n, self.Ns, self.kmax, self.sigma, self.bar = name, n, Ns, kmax, sigma, bar
        self.cache: dict[tuple[float, float], np.ndarray] = {}
        if name == "subspace":
            self.lo = np.array([0.0, np.log(1e-2)])
            self.hi = np.array([np.log(n - 1.0), np.log(1e2)])
        else:
            self.lo = np.array([0.05, np.log(max(y_max / 2, 1e-6))])
            self.hi = np.array([4.0, np.log(max(1e4, 100 * y_max))])

    def harmonic(self, exponent: np.ndarray) -> np.ndarray:
        """Σ_i i^(−exponent) over i = 1..n, elementwise (each distinct exponent summed once)."""
        e = np.asarray(exponent, float)
        uniq, inv = np.unique(e.ravel(), return_inverse=True)
        i = np.arange(1, self.n + 1, dtype=float)
        return np.array([np.sum(i ** (-a)) for a in uniq])[inv].reshape(e.shape)

    def natural(self, x: np.ndarray) -> np.ndarray:
        """(..., 2) fitting coordinates → (..., 2) reported parameters."""
        x = np.asarray(x, float)
        if self.name == "subspace":
            return np.exp(x)
        scale = np.exp(x[..., 1]) * self.sigma**2 * self.n / self.harmonic(x[..., 0])
        return np.stack([x[..., 0], scale], axis=-1)

    def log_curve(self, x: np.ndarray) -> np.ndarray:
        """log of the relative theory curve at the data's N, (j,) (cached)."""
        x = np.clip(np.asarray(x, float), self.lo, self.hi)
        key = (round(float(x[0]), 10), round(float(x[1]), 10))
        if key not in self.cache:
            if self.name == "subspace":
                d, s = float(np.exp(x[0])), float(np.exp(x[1]))
                y = relative_curve(*subspace_spectrum(self.n, d, s), self.n, s, self.Ns, self.kmax)
            else:
                a, scale = (float(v) for v in self.natural(x))
                y = relative_curve(*power_spectrum(self.n, a, scale, self.sigma), self.n, self.sigma, self.Ns, self.kmax)
            self.cache[key] = np.log(y)
            if self.bar is not None:
                self.bar.update(1)
        return self.cache[key]

    def start(self, y: np.ndarray) -> np.ndarray:
        if self.name == "subspace":  # the floor d/(n(1+σ²)) at the last point with σ = 1 (as before)
            return np.array([np.log(np.clip(2 * self.n * y[-1], 1, self.n - 1)), 0.0])
        return np.array([1.0, np.log(max(2 * y.max(), np.exp(self.lo[1]) * 1.01))])


def _lagrange3(nodes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Quadratic Lagrange basis on 3 nodes at points t: (len(t), 3)."""
    a, b, c = nodes
    t = np.asarray(t, float)[:, None]
    return np.concatenate([(t - b) * (t - c) / ((a - b) * (a - c)), (t - a) * (t - c) / ((b - a) * (b - c)),
                           (t - a) * (t - b) / ((c - a) * (c - b))], axis=1)


@dataclass(frozen=True)
class Calibration:
    """A linear theory fitted to an empirical curve (relative-input scale).

    Attributes:
        model: ``"subspace"`` (parameters ``d_eff``, ``sigma``) or ``"power"`` (``exponent``, ``scale``; σ known).
        n: ambient dimension (the experiment's pixel count).
        params: the estimates by name. intervals: ``(lo, hi)`` at ``level`` by name.
        findings: per parameter the :func:`bridge.identify.identify` row (``identified``, ``reason``).
        identified: every parameter identified. reason: why not (``""`` when identified).
        sigma: the theory's noise level (fitted for ``subspace``, given for ``power``).
        level: interval level. interval_method: how the intervals were obtained.
        rms_log_error: RMS of log(theory / experiment) over the points. evaluations: theory curves computed.
        N: (j,) the calibration grid. y: (j,) the calibrated theory there. kmax: early-stopping horizon.
        box: per parameter the (lo, hi) range the intervals were searched in.
        bootstrap: per parameter the bootstrap percentile interval alone (``intervals`` is its hull with the
            profile-likelihood interval).
    """

    model: str
    n: int
    params: dict
    intervals: dict
    findings: dict
    identified: bool
    reason: str
    sigma: float
    level: float
    interval_method: str
    rms_log_error: float
    evaluations: int
    N: np.ndarray
    y: np.ndarray
    kmax: int = 5000
    box: dict = field(default_factory=dict)
    bootstrap: dict = field(default_factory=dict)

    def _need(self, model: str, what: str) -> None:
        if self.model != model:
            raise ValueError(f"{what} is a parameter of the {model} model; this calibration is {self.model!r}")

    @property
    def d_eff(self) -> int:
        """The subspace model's effective dimension, rounded to an integer."""
        self._need("subspace", "d_eff")
        return int(np.clip(round(self.params["d_eff"]), 1, self.n - 1))

    @property
    def d_ci(self) -> tuple[float, float]:
        self._need("subspace", "d_ci")
        return self.intervals["d_eff"]

    @property
    def sigma_ci(self) -> tuple[float, float]:
        """The interval of σ (a point for the power model, where σ is given)."""
        return self.intervals["sigma"] if self.model == "subspace" else (self.sigma, self.sigma)

    @property
    def exponent(self) -> float:
        self._need("power", "exponent")
        return float(self.params["exponent"])

    @property
    def scale(self) -> float:
        self._need("power", "scale")
        return float(self.params["scale"])

    @property
    def floor(self) -> float:
        """The relative error of W* (N → ∞): d/(n(1+σ²)), or Σ μ/(μ+σ²)/n for the power law."""
        if self.model == "subspace":
            return self.d_eff / (self.n * (1 + self.sigma**2))
        mu = _power_mu(self.n, self.exponent, self.scale)
        return float(np.sum(mu / (mu + self.sigma**2)) / self.n)

    def predict(self, N: Sequence[float]) -> np.ndarray:
        """The calibrated theory's relative error at N, shape (len(N),) (one deterministic-equivalent curve)."""
        if self.model == "subspace":
            return relative_curve(*subspace_spectrum(self.n, self.d_eff, self.sigma), self.n, self.sigma, N, self.kmax)
        return power_relative_curve(N, n=self.n, exponent=self.exponent, scale=self.scale, sigma=self.sigma,
                                    kmax=self.kmax)

    def as_dict(self) -> dict:
        """Flat JSON-able summary: per parameter ``name``, ``name_lo``, ``name_hi``, ``name_identified``,
        ``name_reason``; the whole calibration's ``identified`` and ``reason``."""
        out: dict[str, Any] = {"model": self.model, "n": self.n}
        for name in _PARAMS[self.model]:
            key = "d" if name == "d_eff" else name
            value = self.d_eff if name == "d_eff" else float(self.params[name])
            out[name] = value
            out[f"{key}_lo"], out[f"{key}_hi"] = (float(v) for v in self.intervals[name])
            out[f"{name}_identified"] = bool(self.findings[name]["identified"])
            out[f"{name}_reason"] = self.findings[name]["reason"]
        if self.model == "power":
            out["sigma"] = self.sigma
        out.update({"identified": self.identified, "reason": self.reason, "level": self.level,
                    "interval_method": self.interval_method, "floor": self.floor,
                    "rms_log_error": self.rms_log_error, "evaluations": self.evaluations, "kmax": self.kmax})
        return out


def _seed_table(curve: Curve) -> tuple[np.ndarray, np.ndarray] | None:
    """(j, k) per-seed values (NaN where a seed has no run at that N) and the groups, or None (< 2 groups)."""
    if curve.points is None:
        return None
    PN, Py, Pg = curve.points
    groups = np.unique(Pg)
    if groups.size < 2:
        return None
    table = np.full((curve.N.size, groups.size), np.nan)
    for i, v in enumerate(curve.N):
        for k, g in enumerate(groups):
            sel = (PN == v) & (Pg == g)
            if sel.any():
                table[i, k] = Py[sel].mean()
    return table, groups


def calibrate(curve: Curve, *, n: int, model: str = "subspace", sigma: float | None = None, kmax: int = 5000,
              level: float = 0.95, n_boot: int = 200, max_evals: int = 60, rng: np.random.Generator | None = None,
              progress: bool = False) -> Calibration:
    """Fit a linear theory to an empirical relative-input curve, with bootstrap intervals and identification.

    Models (both: denoising, gradient descent from 0 with the paper's step stopped at the oracle k ≤ kmax,
    deterministic-equivalent expected risk relative to R(I), fitted in least squares on log y):

    * ``"subspace"``: the paper's model with n fixed; fits d_eff (continuous in the search; reported
      rounded) and σ (a noise-to-signal ratio: the signal has unit variance per direction).
    * ``"power"``: signal covariance eigenvalues μ_i = scale·i^(−exponent), i = 1..n, noise σ known
      (the experiment's); fits exponent and scale.

    Intervals: the fit (Levenberg–Marquardt-type, ≤ ``max_evals`` theory curves) is followed by a local
    surrogate — the exact theory on a 3×3 stencil of the box θ̂ ± 3 standard errors (Gauss–Newton),
    interpolated biquadratically in the fitting coordinates — on which the curve is refitted for each of
    ``n_boot`` resamples of the experiment's seeds (``curve.points`` groups, deviations scaled by √(k/(k−1))
    for k seeds; a parametric bootstrap from the fit's residuals when there are fewer than 2 seeds). The
    reported interval is the hull of the bootstrap percentile interval and the profile-likelihood interval
    (sub-level set of the loss at s²·F(1, ν), s² the larger of the residual variance, ν = j − 2, and the
    seeds' variance of a log-mean, ν = runs − j), so that a flat direction is not hidden by a bootstrap that
    happens not to move along it; ``bootstrap`` keeps the percentile interval alone.
    Where an interval reaches the box's edge the box grows (×3, twice at most) up to the search bounds;
    each parameter is then classified by :func:`bridge.identify.identify` (kind ``scale`` for d_eff, σ and
    the power law's scale, ``exponent`` for its exponent, with the explored box as the bounds): an
    interval that reaches them or spans more than a decade is *not identified*.

    Args:
        curve: the experiment on the ``relative-input`` scale; its ``points`` carry the seeds.
        n: the theory's ambient dimension: the experiment's pixel count (size² × channels).
        model: one of :data:`CALIBRATION_MODELS`.
        sigma: the experiment's noise level (``power`` only; the subspace model fits its own σ).
        kmax: early-stopping horizon of the theory (the paper: 5000).
        level: interval level in (0, 1).
        n_boot: bootstrap resamples (≥ 20).
        max_evals: evaluations the least-squares point fit may spend (scipy's ``max_nfev``; its finite-difference
            Jacobians, 2 curves per step, and the intervals' stencils, 8–24 curves, come on top).
        rng: randomness of the bootstrap (default: a fixed seed, so a calibration is reproducible).
        progress: tqdm bar over theory evaluations.

    Returns:
        :class:`Calibration`.
    """
    from scipy import optimize, stats  # noqa: PLC0415

    if curve.scale != "relative-input":
        raise ValueError(f"calibrate needs a relative-input curve, got {curve.scale!r}; build it with scale='relative-input'")
    if model not in CALIBRATION_MODELS:
        raise ValueError(f"model {model!r}: use one of {', '.join(CALIBRATION_MODELS)}")
    if int(n) != n or n < 2:
        raise ValueError(f"n={n} must be an integer ≥ 2 (the experiment's pixel count)")
    n = int(n)
    if model == "power":
        if sigma is None or not np.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"model='power' needs the experiment's noise level: pass sigma > 0 (got {sigma})")
    elif sigma is not None:
        raise ValueError("the subspace model fits its own σ; pass sigma only with model='power'")
    if curve.N.size < 3:
        raise ValueError(f"calibration needs at least 3 distinct N (2 parameters); got {curve.N.size}")
    if not np.all(np.isfinite(curve.y)) or np.any(curve.y <= 0):
        raise ValueError("the empirical curve has non-positive or non-finite values; relative errors must be positive")
    if np.any(curve.N < 1) or np.any(curve.N != np.round(curve.N)):
        raise ValueError("the curve's N must be positive integers (training-set sizes)")
    if not 0 < level < 1:
        raise ValueError(f"level={level} must be in (0, 1), e.g. 0.95")
    if int(n_boot) != n_boot or n_boot < 20:
        raise ValueError(f"n_boot={n_boot} must be an integer ≥ 20 (percentile intervals need resamples)")
    if int(max_evals) != max_evals or max_evals < 3:
        raise ValueError(f"max_evals={max_evals} must be an integer ≥ 3")
    rng = np.random.default_rng(0) if rng is None else rng
    N, ly = curve.N.astype(float), np.log(curve.y)
    j = N.size
    dof = max(j - 2, 1)
    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(desc=f"calibrate {model} theory", unit="curve", leave=False)
    m = _Model(model, n=n, Ns=N, kmax=int(kmax), sigma=None if sigma is None else float(sigma),
               y_max=float(curve.y.max()), bar=bar)
    try:
        # 1. the point fit on the exact theory
        res = optimize.least_squares(lambda x: m.log_curve(x) - ly, np.clip(m.start(curve.y), m.lo, m.hi),
                                     bounds=(m.lo, m.hi), diff_step=0.01, max_nfev=int(max_evals), method="trf",
                                     xtol=1e-3, ftol=1e-4, gtol=1e-6)
        x_hat = np.clip(res.x, m.lo, m.hi)
        r = m.log_curve(x_hat) - ly
        # noise variance of a log-mean: the residuals', or the seeds' standard errors when larger
        reps = np.array([np.sum(curve.points[0] == v) for v in N]) if curve.points is not None else np.ones(j)
        s2, s2_dof = float(r @ r) / dof, dof
        if np.all(reps > 1):
            seed_s2 = float(np.mean((curve.err / curve.y) ** 2 / reps))
            if seed_s2 > s2:
                s2, s2_dof = seed_s2, int(np.sum(reps - 1))
        s2 = max(s2, 1e-10)
        try:
            se = np.sqrt(np.clip(np.diag(s2 * np.linalg.inv(res.jac.T @ res.jac)), 0, None))
        except np.linalg.LinAlgError:
            se = np.full(2, np.inf)
        se = np.where(np.isfinite(se), se, 1e3)
        # 2. the resamples
        table = _seed_table(curve)
        if table is not None:
            vals, groups = table
            counts = rng.multinomial(groups.size, np.full(groups.size, 1.0 / groups.size), size=n_boot)
            have = np.isfinite(vals)
            num = np.nan_to_num(vals) @ counts.T
            den = have.astype(float) @ counts.T
            boot = np.where(den > 0, num / np.where(den > 0, den, 1.0), curve.y[:, None]).T  # (B, j)
            # a resampled mean of k seeds varies (k−1)/k as much as the mean itself: undo that shrinkage
            k = groups.size
            lboot = ly + np.sqrt(k / (k - 1)) * (np.log(boot) - ly)
            method = f"seed bootstrap ({groups.size} seeds, {n_boot} resamples)"
        else:
            lboot = (m.log_curve(x_hat) + np.sqrt(float(r @ r) / dof) * rng.standard_normal((n_boot, j)))
            method = f"parametric bootstrap from the fit's residuals ({n_boot} resamples; the curve has < 2 seeds)"
        thresh = s2 * float(stats.f.ppf(level, 1, s2_dof))
        # 3. local surrogate, refits, profile; grow the box where an interval reaches its edge
        half = np.clip(3.0 * se, 0.05, 1.5)
        grown = np.zeros(2, int)
        while True:
            blo, bhi = np.maximum(x_hat - half, m.lo), np.minimum(x_hat + half, m.hi)
            nodes = []
            for i in range(2):
                mid = x_hat[i] if blo[i] + 1e-9 < x_hat[i] < bhi[i] - 1e-9 else (blo[i] + bhi[i]) / 2
                nodes.append(np.array([blo[i], mid, bhi[i]]))
            V = np.array([[m.log_curve(np.array([a, b])) for b in nodes[1]] for a in nodes[0]])  # (3, 3, j)
            gu, gv = np.linspace(blo[0], bhi[0], _DENSE), np.linspace(blo[1], bhi[1], _DENSE)
            Q = np.einsum("ia,jb,abk->ijk", _lagrange3(nodes[0], gu), _lagrange3(nodes[1], gv), V).reshape(-1, j)
            X = np.stack(np.meshgrid(gu, gv, indexing="ij"), axis=-1).reshape(-1, 2)
            qq = (Q**2).sum(1)
            fits = X[np.argmin(qq[None, :] - 2.0 * lboot @ Q.T, axis=1)]  # (B, 2): each resample's argmin
            loss = ((Q - ly) ** 2).sum(1)
            sub = X[loss <= min(loss.min(), float(r @ r)) + thresh]
            q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
            hull_lo = np.minimum.reduce([np.percentile(fits, q[0], axis=0), sub.min(0), x_hat])
            hull_hi = np.maximum.reduce([np.percentile(fits, q[1], axis=0), sub.max(0), x_hat])
            tol = _EDGE * (bhi - blo)
            reach_lo, reach_hi = hull_lo <= blo + tol, hull_hi >= bhi - tol
            grow = ((reach_lo & (blo > m.lo + 1e-9)) | (reach_hi & (bhi < m.hi - 1e-9))) & (grown < _MAX_GROW)
            if not grow.any():
                break
            half = np.where(grow, half * _GROW, half)
            grown += grow
        hull_lo, hull_hi = np.where(reach_lo, blo, hull_lo), np.where(reach_hi, bhi, hull_hi)
    finally:
        if bar is not None:
            bar.close()
    # 4. report in the parameters' units, classify
    names = _PARAMS[model]
    est = m.natural(x_hat)
    pts = m.natural(np.concatenate([fits, sub, x_hat[None]]))
    nb = len(fits)
    box_nat = m.natural(np.array([[blo[0], blo[1]], [bhi[0], bhi[1]]]))
    intervals, findings, box, boot_ci = {}, {}, {}, {}
    for i, name in enumerate(names):
        b_lo, b_hi = float(box_nat[0, i]), float(box_nat[1, i])
        boot_ci[name] = (float(np.percentile(pts[:nb, i], q[0])), float(np.percentile(pts[:nb, i], q[1])))
        if model == "power" and name == "scale":  # derived from both coordinates: bootstrap percentiles ∪ sub-level set
            lo = min(float(np.percentile(pts[:nb, i], q[0])), float(pts[nb:, i].min()))
            hi = max(float(np.percentile(pts[:nb, i], q[1])), float(pts[nb:, i].max()))
            lo, hi = (b_lo if reach_lo[1] else lo), (b_hi if reach_hi[1] else hi)  # SNR at the box: so is the scale
            kind = "scale"
        else:
            lo, hi = (float(v) for v in m.natural(np.array([hull_lo, hull_hi]))[:, i])
            kind = "exponent" if name == "exponent" else "scale"
        intervals[name] = (lo, hi)
        box[name] = (b_lo, b_hi)
        findings[name] = identify(name, float(est[i]), lo, hi, kind=kind, bounds=(b_lo, b_hi))
    bad = [f"{k}: {f['reason']}" for k, f in findings.items() if not f["identified"]]
    params = {name: float(est[i]) for i, name in enumerate(names)}
    sig = float(np.exp(x_hat[1])) if model == "subspace" else float(sigma)
    if model == "subspace":
        params["sigma"] = sig
        d_int = int(np.clip(round(params["d_eff"]), 1, n - 1))
        y_fit = relative_curve(*subspace_spectrum(n, d_int, sig), n, sig, N, int(kmax))
    else:
        y_fit = np.exp(m.log_curve(x_hat))
    return Calibration(model=model, n=n, params=params, intervals=intervals, findings=findings,
                       identified=not bad, reason="; ".join(bad), sigma=sig, level=float(level),
                       interval_method=method, rms_log_error=float(np.sqrt(np.mean((np.log(y_fit) - ly) ** 2))),
                       evaluations=len(m.cache), N=N.copy(), y=y_fit, kmax=int(kmax), box=box, bootstrap=boot_ci)
