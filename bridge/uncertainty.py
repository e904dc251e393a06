"""Uncertainty, model choice, break detection and extrapolation for the scaling laws of ``bridge.laws``.

Bootstrap. A fitted law ``θ̂ = fit(N, y)`` is refitted on B resamples; percentile intervals of the
refits' reported parameters (or predictions) estimate its sampling distribution. Resampling:

* ``groups`` given (e.g. the seed of each point): a cluster bootstrap — draw whole groups with
  replacement, each keeping all its points (seeds are the independent units of an experiment);
* otherwise, when every distinct N has at least 2 points: resample points with replacement within
  each N (stratified), so every N stays present and few-point fits do not break;
* otherwise (one point per N): a residual bootstrap — ``y* = T⁻¹(T(ŷ) + s ⋅ e*)`` with ``e*`` drawn
  from the centred standardised fitting-space residuals ``(T(y) − T(ŷ))/s`` inflated by
  ``√(m/(m−p))``, since resampling a single point per N would leave the data unchanged.

With n points per stratum (or n groups) the resampled spread is smaller than the true one by about
``√((n−1)/n)``: intervals from 2–3 replicates are somewhat narrow.

Model choice (:func:`compare_laws`): Gaussian information criteria ``AIC = m ln(RSS/m) + 2p`` and
``BIC = m ln(RSS/m) + p ln m`` of each law fitted in the same residual space, plus an
extrapolation check: fit without the ``holdout`` largest distinct N and report the RMS fitting-space
error on those points.

Break detection (:func:`detect_break`): a one-break BNSL ``y = c + b N^(−c0) (1 + (N/d)^(1/f))^(−c1 f)``
on risk-like data (positive, decreasing in N); the break d is supported when the BNSL beats both
``c + a N^α`` and ``β N^α`` by BIC and its bootstrap interval lies strictly inside the observed N range.
PSNR is not risk-like: convert it first with :func:`psnr_to_mse`, ``MSE = R² 10^(−PSNR/10)`` for
data range R.

Floors (:func:`floor_profile`, :func:`floor_test`): the floor c ≥ 0 of ``c + a N^α`` sits on the boundary
of its range when the curve is a pure power law, so its interval is boundary-aware: a profile-likelihood
interval that may reach 0, and a likelihood-ratio (F) test of c = 0 whose null distribution is the
mixture ½·0 + ½·F(1, m − 3). A percentile bootstrap over 2–3 seeds cannot reach 0 (every resample
finds a small positive floor) and is what made pure power laws report floors whose interval excluded 0.

Extrapolation (:func:`envelope`, :func:`backtest`, :func:`delta_band`, :func:`tail_floor_band`): the band
the report uses is the union of the bands of the laws not rejected by a backtest (fit without the largest
N, predict it; rejected beyond ``REJECT_Z`` standard errors): ``β N^α``, the same over the upper half of N
(the current local slope continued), ``c + a N^α`` and, with ≥ 8 distinct N, the one-break BNSL, and
always the profile-likelihood bands of ``c + a N^α`` over the upper half of N and over the last 3
distinct N (:func:`tail_floor_band`). It carries the uncertainty of the law family, which one law's band
ignores.

Why the profile member. Far past the data (100× the largest N) the prediction is the floor plus what
is left of the gap, so the band must contain every floor the data cannot reject. On curves whose
slope changes inside the data (a break) and that level off to a floor of the order of the gap at the
largest N, the whole-range laws cannot hold that floor: ``c + a N^α`` fitted over all N puts the floor
where the break bends the curve (too high when the slope flattens, 0 when it steepens, since a
steepening curve is concave in log-log and a floor can only make it convex), or is rejected by its
backtest, and the power laws run under the floor; each law's band is narrow (a 3-seed bootstrap, or
its delta band), so the union of 1.1–1.4× wide bands missed the truth in most such curves
(``benchmarks/extrapolation_coverage.py --boot 100``: 6/20 and 4/13 reported bands covered at 100× the
largest N, for breaks that flatten and that steepen; 17/18 and 12/13 with the profile members). Past the break a floor plus one power law describes such a curve, and its
profile likelihood in the *prediction* (not a bootstrap, which has 10 distinct resamples with 3 seeds)
gives every value the data cannot reject; the last 3 distinct N lie past a break that the upper half
still straddles. The price is width: a pure power law's band at 100× is about twice as wide (median hi/lo 15
instead of 7 with 7 N from 16 to 1024, 3 seeds, 2% noise), which is what the data allow.

Margins (:func:`n_to_margin`): the N at which a law is within ``margin`` of its asymptote, i.e. solves
``gap(N) = margin`` where ``gap = a N^α`` (floor law, closed form ``N = (margin/a)^(1/α)``),
``A N^α`` (saturating law, in dB) or the floorless BNSL term (numerically, ``brentq`` on ln N).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq
from scipy.special import expit

from .laws import BrokenPowerLaw, FloorPowerLaw, Law, PowerLaw, SaturatingLaw

__all__ = [
    "Bootstrap",
    "BreakResult",
    "Envelope",
    "backtest",
    "delta_band",
    "envelope",
    "floor_profile",
    "floor_test",
    "tail_power_law",
    "tail_floor_band",
    "bootstrap",
    "compare_laws",
    "detect_break",
    "extrapolate",
    "n_to_margin",
    "n_to_margin_ci",
    "psnr_to_mse",
    "mse_to_psnr",
]

_MAX_BOOT = 1000  # every refitted law is stored


def _check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    return float(level)


def _quantiles(a: NDArray, level: float, **kw: Any) -> tuple[NDArray, NDArray]:
    q = np.quantile(a, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0, **kw)
    return q[0], q[1]


def _per_point(x: ArrayLike | None, name: str, m: int) -> NDArray | None:
    if x is None:
        return None
    a = np.asarray(x)
    if a.shape != (m,):
        raise ValueError(f"{name} has shape {a.shape} but N has shape ({m},): pass one value per point")
    return a


@dataclass(frozen=True, eq=False)
class Bootstrap:
    """Bootstrap refits of a law.

    Attributes:
        law: the law fitted on the full data.
        samples: (B, p) ``coef_`` of the successful refits, in ``law.param_names`` order.
        laws: the B fitted clones (to predict with).
        n_failed: refits that raised and were skipped.
        N: (m,) the observed N.
        indices: B arrays of the resampled point indices (``arange(m)`` for the residual scheme).
        scheme: ``"groups"``, ``"stratified"`` or ``"residuals"``.
    """

    law: Law
    samples: NDArray[np.float64]
    laws: tuple[Law, ...]
    n_failed: int
    N: NDArray[np.float64]
    indices: tuple[NDArray[np.int64], ...]
    scheme: str

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.law.param_names)

    def ci(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile intervals of the reported parameters: name -> (lo, hi)."""
        lo, hi = _quantiles(self.samples, _check_level(level))
        return {n: (float(a), float(b)) for n, a, b in zip(self.param_names, lo, hi)}

    def se(self) -> dict[str, float]:
        """Bootstrap standard deviation of each reported parameter."""
        if len(self.samples) < 2:
            return {n: math.nan for n in self.param_names}
        sd = self.samples.std(axis=0, ddof=1)
        return {n: float(v) for n, v in zip(self.param_names, sd)}

    def predict_samples(self, N: ArrayLike, **extra: Any) -> NDArray[np.float64]:
        """(B, len(N)) predictions of every refit."""
        return np.stack([law.predict(N, **extra) for law in self.laws])

    def predict_band(self, N: ArrayLike, level: float = 0.95, **extra: Any) -> tuple[NDArray, NDArray]:
        """Percentile band of the refits' predictions: (lo, hi), each (len(N),)."""
        return _quantiles(self.predict_samples(N, **extra), _check_level(level))


def _fit_kwargs(sigma: NDArray | None, extra: Mapping[str, NDArray], idx: NDArray) -> dict[str, Any]:
    kw: dict[str, Any] = {k: v[idx] for k, v in extra.items()}
    if sigma is not None:
        kw["sigma"] = sigma[idx]
    return kw


def bootstrap(
    law: Law,
    N: ArrayLike,
    y: ArrayLike,
    *,
    sigma: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    extra: Mapping[str, ArrayLike] | None = None,
    n_boot: int = 200,
    rng: np.random.Generator,
) -> Bootstrap:
    """Bootstrap a law's fit (see the module docstring for the resampling schemes).

    Args:
        law: a law instance (fitted or not; clones are fitted).
        N: (m,) training-set sizes.
        y: (m,) metric values.
        sigma: optional (m,) standard errors of y, passed to ``fit``.
        groups: optional (m,) labels (e.g. seed); resample whole groups.
        extra: optional per-point (m,) arrays passed to ``fit`` as keyword arguments (e.g. ``P``).
        n_boot: number of resamples B, 2..1000.
        rng: the only source of randomness.

    Returns:
        A :class:`Bootstrap`. Raises ValueError if more than half of the refits fail.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator (np.random.default_rng(seed)); got {type(rng).__name__}")
    if not 2 <= int(n_boot) <= _MAX_BOOT:
        raise ValueError(f"n_boot must be between 2 and {_MAX_BOOT}; got {n_boot!r}")
    N = np.asarray(N, dtype=float)
    y = np.asarray(y, dtype=float)
    if N.ndim != 1:
        raise ValueError(f"N must be 1-D with shape (m,); got shape {N.shape}: pass a flat array")
    m = N.shape[0]
    sigma_a = _per_point(sigma, "sigma", m) if sigma is not None else None
    groups_a = _per_point(groups, "groups", m)
    extra_a = {k: _per_point(v, f"extra[{k!r}]", m) for k, v in (extra or {}).items()}
    sigma_a = None if sigma_a is None else sigma_a.astype(float)

    full = law.clone().fit(N, y, **_fit_kwargs(sigma_a, extra_a, np.arange(m)))

    # the resampling scheme
    if groups_a is not None:
        scheme = "groups"
        _, inv = np.unique(groups_a, return_inverse=True)
        members = [np.flatnonzero(inv == g) for g in range(inv.max() + 1)]
    else:
        _, inv, counts = np.unique(N, return_inverse=True, return_counts=True)
        members = [np.flatnonzero(inv == k) for k in range(counts.size)]
        scheme = "stratified" if counts.min() >= 2 else "residuals"
    if scheme == "residuals":
        # fitting-space transform from the law's `space` (works for any law exposing it)
        log_space = getattr(full, "space", "log") == "log"
        to_sp, from_sp = (np.log, np.exp) if log_space else (np.asarray, np.asarray)
        pred_sp = to_sp(full.predict(N, **extra_a))
        s = np.ones(m) if sigma_a is None else (sigma_a / y if log_space else sigma_a)  # delta method
        e = (to_sp(y) - pred_sp) / s
        e = (e - e.mean()) * math.sqrt(m / max(m - full.n_params, 1))

    samples, fitted, indices, n_failed = [], [], [], 0
    for _ in range(int(n_boot)):
        if scheme == "groups":
            pick = rng.integers(0, len(members), size=len(members))
            idx = np.concatenate([members[g] for g in pick])
            yb = y[idx]
        elif scheme == "stratified":
            idx = np.concatenate([rng.choice(mem, size=mem.size, replace=True) for mem in members])
            yb = y[idx]
        else:
            idx = np.arange(m)
            yb = from_sp(pred_sp + s * rng.choice(e, size=m, replace=True))
        try:
            refit = law.clone().fit(N[idx], yb, **_fit_kwargs(sigma_a, extra_a, idx))
        except (ValueError, np.linalg.LinAlgError):
            n_failed += 1
            continue
        samples.append(refit.coef_)
        fitted.append(refit)
        indices.append(idx)
    if n_failed > n_boot / 2:
        raise ValueError(
            f"{n_failed} of {n_boot} bootstrap refits of {type(law).__name__} failed: the law is not identifiable "
            "on resampled data; add points/seeds or use a law with fewer parameters"
        )
    return Bootstrap(
        law=full,
        samples=np.array(samples),
        laws=tuple(fitted),
        n_failed=n_failed,
        N=N.copy(),
        indices=tuple(indices),
        scheme=scheme,
    )


def compare_laws(
    laws: Sequence[Law],
    N: ArrayLike,
    y: ArrayLike,
    *,
    sigma: ArrayLike | None = None,
    holdout: int = 1,
) -> list[dict[str, Any]]:
    """Fit several laws and rank them by BIC.

    Args:
        laws: unfitted law instances, all with the same residual space (log or linear).
        N: (m,) training-set sizes.
        y: (m,) metric values.
        sigma: optional (m,) standard errors of y.
        holdout: how many of the largest distinct N to hold out for ``holdout_error``.

    Returns:
        Rows sorted by BIC: ``{"law", "label", "n_params", "aic", "bic", "holdout_error", "fitted"}``;
        ``holdout_error`` is the RMS fitting-space residual on the held-out points of the law fitted
        on the rest (NaN if too few points remain), ``fitted`` the law fitted on all points.
    """
    laws = list(laws)
    if not laws:
        raise ValueError("compare_laws needs at least one law: pass e.g. [PowerLaw(), FloorPowerLaw()]")
    spaces = {law.space for law in laws}
    if len(spaces) > 1:
        raise ValueError(
            f"compare_laws needs laws with one residual space; got {sorted(spaces)}: AIC/BIC of log and linear "
            "residuals are not comparable, so compare log-space laws and dB laws separately"
        )
    if int(holdout) < 0:
        raise ValueError(f"holdout must be >= 0 distinct N; got {holdout!r}")
    N = np.asarray(N, dtype=float)
    y = np.asarray(y, dtype=float)
    sig = None if sigma is None else np.asarray(sigma, dtype=float)
    distinct = np.unique(N) if N.ndim == 1 else np.array([])
    held = distinct[distinct.size - int(holdout):] if 0 < int(holdout) < distinct.size else distinct[:0]
    test = np.isin(N, held)

    rows = []
    for law in laws:
        fitted = law.clone().fit(N, y, sigma=sig)
        err = math.nan
        if test.any():
            train = ~test
            try:
                part = law.clone().fit(N[train], y[train], sigma=None if sig is None else sig[train])
            except ValueError:  # too few distinct N left for this law
                pass
            else:
                err = float(np.sqrt(np.mean(part.residuals(N[test], y[test]) ** 2)))
        rows.append(
            {
                "law": type(law).__name__,
                "label": fitted.label(),
                "n_params": fitted.n_params,
                "aic": fitted.aic_,
                "bic": fitted.bic_,
                "holdout_error": err,
                "fitted": fitted,
            }
        )
    return sorted(rows, key=lambda r: (math.isnan(r["bic"]), r["bic"]))


@dataclass(frozen=True, eq=False)
class BreakResult:
    """Where a steep power law slows (see :func:`detect_break`).

    Attributes:
        N_break: the fitted break position d of the one-break BNSL.
        ci: bootstrap percentile interval (lo, hi) of the break.
        slope_before: local log-log slope before the break (−c0).
        slope_after: local log-log slope after it (−c0 − c1), ignoring the floor.
        supported: BNSL beats FloorPowerLaw and PowerLaw by BIC and the interval lies strictly
            inside the observed N range.
        law: the fitted BrokenPowerLaw.
        bic: BIC of the three laws by class name.
        bootstrap: the bootstrap of the BNSL.
    """

    N_break: float
    ci: tuple[float, float]
    slope_before: float
    slope_after: float
    supported: bool
    law: BrokenPowerLaw
    bic: dict[str, float]
    bootstrap: Bootstrap


def detect_break(
    N: ArrayLike,
    y: ArrayLike,
    *,
    sigma: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    n_boot: int = 200,
    level: float = 0.95,
    rng: np.random.Generator,
) -> BreakResult:
    """Locate where a decreasing risk's power law slows, with a bootstrap interval.

    y must be risk-like (positive, decreasing in N: MSE, NMSE, 1 − SSIM). For PSNR pass
    ``psnr_to_mse(psnr, data_range)``.

    Args:
        N: (m,) training-set sizes (at least 6 distinct).
        y: (m,) positive risk values.
        sigma: optional (m,) standard errors of y.
        groups: optional (m,) labels (seed) for a cluster bootstrap.
        n_boot: bootstrap resamples.
        level: interval level.
        rng: the only source of randomness.

    Returns:
        A :class:`BreakResult`.
    """
    level = _check_level(level)
    power = PowerLaw().fit(N, y, sigma=sigma)
    if power.exponent_ >= 0:
        raise ValueError(
            f"detect_break needs risk-like y decreasing in N; the log-log slope is {power.exponent_:+.3g}: "
            "for PSNR pass psnr_to_mse(psnr)"
        )
    floor = FloorPowerLaw().fit(N, y, sigma=sigma)
    boot = bootstrap(BrokenPowerLaw(breaks=1), N, y, sigma=sigma, groups=groups, n_boot=n_boot, rng=rng)
    broken = boot.law
    assert isinstance(broken, BrokenPowerLaw)
    lo, hi = _quantiles(boot.samples[:, broken.param_names.index("d1")], level)
    n_lo, n_hi = broken.n_range_
    bic = {"BrokenPowerLaw": broken.bic_, "FloorPowerLaw": floor.bic_, "PowerLaw": power.bic_}
    supported = bool(broken.bic_ < floor.bic_ and broken.bic_ < power.bic_ and n_lo < lo and hi < n_hi)
    return BreakResult(
        N_break=float(broken.breaks_[0]),
        ci=(float(lo), float(hi)),
        slope_before=float(broken.exponents_[0]),
        slope_after=float(broken.exponents_[1]),
        supported=supported,
        law=broken,
        bic=bic,
        bootstrap=boot,
    )


def extrapolate(boot: Bootstrap, N: ArrayLike, *, level: float = 0.95, **extra: Any) -> list[dict[str, float]]:
    """Predictions at (typically larger) N with intervals, and the gain over the largest observed N.

    ``gain = predict(N) − predict(N_max_observed)``; its interval is taken over the same refits
    (paired), so it is much narrower than the difference of the two prediction bands.

    Args:
        boot: a :class:`Bootstrap`.
        N: (k,) sizes to predict at.
        level: interval level.
        **extra: per-point (k,) arrays passed to ``predict`` (joint laws).

    Returns:
        k rows ``{"N", "predict", "lo", "hi", "gain", "gain_lo", "gain_hi"}``.
    """
    level = _check_level(level)
    N = np.atleast_1d(np.asarray(N, dtype=float))
    N_ref = np.full_like(N, boot.N.max())
    pred = boot.law.predict(N, **extra)
    gain = pred - boot.law.predict(N_ref, **extra)
    S = boot.predict_samples(N, **extra)
    lo, hi = _quantiles(S, level)
    glo, ghi = _quantiles(S - boot.predict_samples(N_ref, **extra), level)
    return [
        {"N": float(n), "predict": float(p), "lo": float(a), "hi": float(b),
         "gain": float(g), "gain_lo": float(c), "gain_hi": float(d)}
        for n, p, a, b, g, c, d in zip(N, pred, lo, hi, gain, glo, ghi)
    ]


def _solve_gap(law: Law, target: float) -> float:
    """Largest N where ``law.gap`` falls to ``target`` (brentq on ln N over N in [e^-50, e^250])."""
    u = np.linspace(-50.0, 250.0, 1201)

    def h(v: NDArray | float) -> NDArray:
        with np.errstate(over="ignore", divide="ignore", under="ignore"):
            return np.log(law.gap(np.exp(np.atleast_1d(v)))) - math.log(target)

    hu = h(u)
    if hu[-1] > 0:
        return math.inf
    above = np.flatnonzero(hu > 0)
    if above.size == 0:
        return 0.0  # within the margin already at N = e^-50
    i = int(above[-1])
    return float(math.exp(brentq(lambda v: float(h(v)[0]), u[i], u[i + 1], xtol=1e-12, rtol=1e-14)))


def n_to_margin(law: Law, margin: float, *, relative: bool = False, method: str = "auto") -> float:
    """The N at which a fitted law is within ``margin`` of its asymptote.

    Solves ``gap(N) = margin`` (``margin × |asymptote|`` when ``relative``): closed form
    ``(margin/a)^(1/α)`` for FloorPowerLaw and SaturatingLaw, brentq on ln N for BrokenPowerLaw
    (``method="numeric"`` forces the numerical route for any law with a ``gap``).

    Args:
        law: a fitted FloorPowerLaw, SaturatingLaw or BrokenPowerLaw.
        margin: positive distance to the asymptote (units of y, or a fraction when relative).
        relative: measure the margin relative to the asymptote.
        method: ``"auto"`` or ``"numeric"``.

    Returns:
        N (inf if the law never gets that close, e.g. α ≥ 0 or a zero floor with ``relative``).
    """
    if method not in ("auto", "numeric"):
        raise ValueError(f"method must be 'auto' or 'numeric'; got {method!r}")
    if not hasattr(law, "gap"):
        raise ValueError(
            f"{type(law).__name__} has no asymptote, so no margin to it: use FloorPowerLaw, SaturatingLaw "
            "or BrokenPowerLaw"
        )
    if not law.is_fitted:
        raise ValueError(f"{type(law).__name__} is not fitted yet: call fit(N, y) before n_to_margin")
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a positive number; got {margin!r}")
    if isinstance(law, SaturatingLaw):
        asymptote, amp, alpha = law.asymptote_, law.amplitude_, law.exponent_
    else:
        asymptote = law.floor_  # type: ignore[attr-defined]
        amp, alpha = getattr(law, "amplitude_", math.nan), getattr(law, "exponent_", math.nan)
    target = margin * abs(asymptote) if relative else float(margin)
    if target <= 0:
        return math.inf
    if method == "auto" and isinstance(law, (FloorPowerLaw, SaturatingLaw)):
        if alpha >= 0:
            return math.inf
        with np.errstate(over="ignore"):
            return float(np.exp(math.log(target / amp) / alpha))
    if isinstance(law, BrokenPowerLaw) and law.exponents_[-1] >= 0:
        return math.inf
    return _solve_gap(law, target)


def n_to_margin_ci(
    boot: Bootstrap, margin: float, *, relative: bool = False, level: float = 0.95
) -> tuple[float, float, float]:
    """:func:`n_to_margin` of the full fit and its bootstrap percentile interval: (estimate, lo, hi).

    Refits that never reach the margin give inf, so the interval's order statistics are taken
    without interpolation (``lo`` rounds down, ``hi`` up).
    """
    level = _check_level(level)
    est = n_to_margin(boot.law, margin, relative=relative)
    vals = np.array([n_to_margin(law, margin, relative=relative) for law in boot.laws])
    lo = np.quantile(vals, (1.0 - level) / 2.0, method="lower")
    hi = np.quantile(vals, (1.0 + level) / 2.0, method="higher")
    return float(est), float(lo), float(hi)


def psnr_to_mse(psnr: ArrayLike, data_range: float = 1.0) -> NDArray[np.float64]:
    """``MSE = R² 10^(−PSNR/10)`` for data range R (same shape as ``psnr``)."""
    if not data_range > 0:
        raise ValueError(f"data_range must be positive; got {data_range!r}")
    return data_range**2 * 10.0 ** (-np.asarray(psnr, dtype=float) / 10.0)


def mse_to_psnr(mse: ArrayLike, data_range: float = 1.0) -> NDArray[np.float64]:
    """``PSNR = 10 log10(R² / MSE)`` for data range R (same shape as ``mse``; MSE > 0)."""
    mse = np.asarray(mse, dtype=float)
    if not data_range > 0:
        raise ValueError(f"data_range must be positive; got {data_range!r}")
    if (mse <= 0).any():
        raise ValueError("mse must be positive for PSNR (10 log10(R²/MSE)): drop zero-error points")
    return 10.0 * np.log10(data_range**2 / mse)


# ------------------------------------------------------------------------------------------------
# Boundary-aware floor test, delta-method bands, the law-family envelope and the backtest
# ------------------------------------------------------------------------------------------------
#: a law is rejected from the envelope when its backtest residual exceeds this many standard errors
REJECT_Z = 3.0


def floor_test(N: ArrayLike, y: ArrayLike, *, sigma: ArrayLike | None = None,
               floor_law: FloorPowerLaw | None = None) -> dict[str, float]:
    """Likelihood-ratio (F) test of floor = 0 (``β N^α``) against floor > 0 (``c + a N^α``).

    Both laws are fitted in log space; ``F = (RSS₀ − RSS₁) / (RSS₁ / (m − 3))``. The floor sits on the
    boundary of its range under the null, so the null distribution is the mixture ½·0 + ½·F(1, m − 3)
    (Self & Liang 1987): ``p = ½ P(F(1, m−3) > F)`` (1 when F ≤ 0).

    Returns:
        ``{"F", "p", "rss_power", "rss_floor"}``.
    """
    from scipy.stats import f as f_dist  # noqa: PLC0415

    N = np.asarray(N, dtype=float)
    y = np.asarray(y, dtype=float)
    power = PowerLaw().fit(N, y, sigma=sigma)
    floor = floor_law if floor_law is not None and floor_law.is_fitted else FloorPowerLaw().fit(N, y, sigma=sigma)
    m = N.size
    rss0, rss1 = power.rss_, floor.rss_
    dof = m - 3
    if dof <= 0 or not rss1 > 0:
        return {"F": math.nan, "p": math.nan, "rss_power": rss0, "rss_floor": rss1}
    F = (rss0 - rss1) / (rss1 / dof)
    p = 1.0 if F <= 0 else 0.5 * float(f_dist.sf(F, 1, dof))
    return {"F": float(F), "p": p, "rss_power": float(rss0), "rss_floor": float(rss1)}


def floor_profile(N: ArrayLike, y: ArrayLike, floor_law: FloorPowerLaw, *, level: float = 0.95,
                  sigma: ArrayLike | None = None) -> dict[str, Any]:
    """Profile-likelihood interval of the floor of ``c + a N^α`` (boundary-aware: it may reach 0).

    For c on a log grid below the estimate (down to 10⁻³ of it) and c = 0, ``a`` and ``α`` are refitted
    by least squares of the log residuals; ``F(c) = (RSS(c) − RSS_min) / (RSS_min / (m − 3))`` and c is
    excluded when ``F(c) > F_{1, m−3}(level)``. Returns ``{"lo", "F0", "p0"}``: the largest excluded grid
    value below the estimate (0 when none is excluded), ``F(0)`` and the boundary-corrected p-value of
    floor = 0 (``½ P(F(1, m−3) > F(0))``, Self & Liang 1987).
    """
    from scipy.optimize import least_squares as _lsq  # noqa: PLC0415
    from scipy.stats import f as f_dist  # noqa: PLC0415

    level = _check_level(level)
    N = np.asarray(N, dtype=float)
    y = np.asarray(y, dtype=float)
    lnN, ln_y = np.log(N), np.log(y)
    w = np.ones_like(y) if sigma is None else y / np.asarray(sigma, dtype=float)
    x = lnN - lnN.mean()
    c_hat, a_hat, al_hat = floor_law.coef_
    dof = N.size - 3
    if dof <= 0:
        return {"lo": 0.0, "F0": math.nan, "p0": math.nan}

    def rss_at(c: float, th0: NDArray) -> tuple[float, NDArray]:
        lnc = math.log(c) if c > 0 else -np.inf

        def r(th: NDArray) -> NDArray:
            with np.errstate(over="ignore", divide="ignore"):
                return (ln_y - np.logaddexp(lnc, th[0] + th[1] * x)) * w

        def jac(th: NDArray) -> NDArray:
            with np.errstate(over="ignore", divide="ignore"):
                share = expit(th[0] + th[1] * x - lnc)
            return -np.column_stack([share, share * x]) * w[:, None]

        res = _lsq(r, th0, jac=jac, method="lm", xtol=1e-10, ftol=1e-10)
        return float(2.0 * res.cost), res.x

    th = np.array([math.log(a_hat) + al_hat * lnN.mean(), al_hat])
    rss_min, th = rss_at(c_hat, th) if c_hat > 0 else (float(floor_law.rss_), th)
    grid = [c_hat * 10.0 ** (-k / 4.0) for k in range(1, 13)] if c_hat > 0 else []
    q = float(f_dist.ppf(level, 1, dof))
    lo = 0.0
    F_of = []
    for c in grid + [0.0]:
        rss, th = rss_at(c, th)
        F_of.append((c, (rss - rss_min) / (rss_min / dof) if rss_min > 0 else math.inf))
    for c, F in F_of:  # from the estimate downwards: the first excluded c is the interval's lower end
        if F > q:
            lo = c
            break
    F0 = max(F_of[-1][1], 0.0)
    p0 = 1.0 if F0 <= 0 else 0.5 * float(f_dist.sf(F0, 1, dof))
    return {"lo": float(lo), "F0": float(F0), "p0": p0}


def _model_grad(law: Law, lnN: NDArray) -> NDArray:
    """∂(fitting-space prediction)/∂coef at ``ln N`` (k, p), by central differences."""
    coef = law.coef_
    G = np.empty((lnN.size, coef.size))
    scale = float(np.exp(np.mean(law._model(lnN, coef)))) if law.space == "log" else 1.0
    names = law.param_names
    for j in range(coef.size):
        h = 6e-6 * (max(coef[j], scale) if names[j] == "floor" else max(abs(coef[j]), 1e-6))
        up, dn = coef.copy(), coef.copy()
        up[j] += h
        if not (names[j] == "floor" and coef[j] - h < 0):  # forward difference at the floor's boundary
            dn[j] -= h
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            G[:, j] = (law._model(lnN, up) - law._model(lnN, dn)) / (up[j] - dn[j])
    return G


def delta_band(law: Law, N: ArrayLike, level: float = 0.95) -> tuple[NDArray, NDArray, NDArray]:
    """Delta-method band of a fitted law's mean curve: (predict, lo, hi), each (k,).

    ``f(N) ± t_{m−p} √(gᵀ cov_ g)`` in the fitting space (g = ∂f/∂coef), mapped back to y; infinite
    where ``cov_`` is undefined (a singular or exactly determined fit).
    """
    from scipy.stats import t as t_dist  # noqa: PLC0415

    level = _check_level(level)
    lnN = np.log(np.atleast_1d(np.asarray(N, dtype=float)))
    f = law._model(lnN, law.coef_)
    dof = max(law.n_points_ - law.n_params, 1)
    q = float(t_dist.ppf(0.5 + level / 2.0, dof))
    cov = law.cov_
    if not np.isfinite(cov).all():
        se = np.full_like(f, np.inf)
    else:
        G = _model_grad(law, lnN)
        with np.errstate(invalid="ignore", over="ignore"):
            se = np.sqrt(np.maximum(np.einsum("kp,pq,kq->k", G, cov, G), 0.0))
        se = np.where(np.isfinite(se), se, np.inf)
    back = law._from_space
    with np.errstate(over="ignore"):
        return back(f), back(f - q * se), back(f + q * se)


def _noise_scale(N: NDArray, t: NDArray) -> float:
    """Pooled within-N standard deviation of the fitting-space values (NaN without replicates)."""
    ss, dof = 0.0, 0
    for n in np.unique(N):
        v = t[N == n]
        if v.size >= 2:
            ss += float(np.sum((v - v.mean()) ** 2))
            dof += v.size - 1
    return math.sqrt(ss / dof) if dof > 0 else math.nan


def _default_laws(N: NDArray, space: str) -> list[Law]:
    if space == "linear":
        return [SaturatingLaw()]
    laws: list[Law] = [PowerLaw(), tail_power_law(N), FloorPowerLaw()]
    if np.unique(N).size >= 8:  # the backtest leaves the 6-parameter BNSL ≥ 7 distinct N
        laws.append(BrokenPowerLaw(breaks=1))
    return laws


def tail_power_law(N: ArrayLike) -> PowerLaw:
    """``β N^α`` over the upper half of the distinct N (at least 3): the curve's current local slope,
    continued. The most pessimistic member of the envelope for a curve that keeps decelerating."""
    return PowerLaw(window=(_tail_start(np.asarray(N, dtype=float)), 1e300))


def _tail_start(N: NDArray) -> float:
    """The smallest N of the upper half of the distinct N (at least 3 of them kept)."""
    d = np.unique(N)
    return float(d[max(0, min(d.size // 2, d.size - 3))])


def _profile_starts(N: NDArray) -> list[float]:
    """Windows of the profile members: the upper half of the distinct N and the last 3 of them."""
    d = np.unique(N)
    return sorted({_tail_start(N), float(d[max(0, d.size - 3)])})


#: the profile grids of :func:`tail_floor_band`: the floor's share u = c / ŷ(N_ref) at the window's largest N
#: and the exponent α (−4 … −0.001; steps of 0.0027 move the log-shape over a factor 8 in N by < 0.006)
_U_GRID = np.concatenate([np.linspace(0.0, 0.98, 99), 1.0 - np.geomspace(0.02, 1e-4, 25)[1:]])
_ALPHA_GRID = -np.linspace(1e-3, 4.0, 1500)


def tail_floor_band(N: ArrayLike, y: ArrayLike, N_new: ArrayLike, *, level: float = 0.95,
                    sigma: ArrayLike | None = None, start: float | None = None) -> tuple[NDArray, NDArray, NDArray]:
    """Profile-likelihood band of ``c + a N^α`` (``c ≥ 0``, ``α < 0``) fitted over the tail of N.

    The window is ``N ≥ start`` (default: the upper half of the distinct N, at least 3 of them, as
    :func:`tail_power_law`). The law is written in its value ``v`` at the window's largest N (``N_ref``),
    the floor's share ``u = c / v ∈ [0, 1)`` there and α: ``ln ŷ(N) = ln v + h(N)`` with
    ``h(N) = ln(u + (1 − u)(N/N_ref)^α)``. For fixed (u, α) the log residuals' sum of squares is
    ``S(u, α) + W (ln v − μ(u, α))²`` (μ the weighted mean of ``ln y − h``, W the sum of the weights), and
    the prediction at n is ``ln v + h(n)``, a shift of ``ln v``; so the profile of the prediction is exact
    on a (u, α) grid: every value ``μ + h(n) ± √((thr − S)/W)`` with ``S ≤ thr = RSS_min (1 + F_{1, m−3}(level)
    / (m − 3))`` (m points in the window; the F calibration of :func:`floor_profile`) is kept. Every floor
    the window cannot reject is in the band, with what is left of the gap at n.

    Args:
        N: (m,) training-set sizes (repeats for seeds).
        y: (m,) positive risk values.
        N_new: (k,) sizes to predict at.
        level: band level.
        sigma: optional (m,) standard errors of y (log-space weights y/σ).
        start: the window's smallest N (default: the upper half of the distinct N).

    Returns:
        (predict, lo, hi), each (k,): the best fit and the band; NaN at ``n < start`` (the law describes
        the window only) and everywhere when the window has fewer than 4 points.
    """
    from scipy.stats import f as f_dist  # noqa: PLC0415

    level = _check_level(level)
    N = np.asarray(N, dtype=float)
    y = np.asarray(y, dtype=float)
    N_new = np.atleast_1d(np.asarray(N_new, dtype=float))
    if N.shape != y.shape or N.ndim != 1:
        raise ValueError(f"N and y must be 1-D of equal length; got shapes {N.shape} and {y.shape}")
    if (y <= 0).any() or (N <= 0).any() or (N_new <= 0).any():
        raise ValueError("tail_floor_band needs positive N, y and N_new (a risk fitted in log space): drop the others")
    nan = np.full(N_new.shape, np.nan)
    start = _tail_start(N) if start is None else float(start)
    win = N >= start
    dof = int(win.sum()) - 3
    if dof < 1:
        return nan, nan.copy(), nan.copy()
    w2 = np.ones(int(win.sum())) if sigma is None else (y[win] / np.asarray(sigma, dtype=float)[win]) ** 2
    Nw, ly = N[win], np.log(y[win])
    # the sum of squares splits into the within-N part (no parameter moves it) and the distinct N's means
    dN, inv = np.unique(Nw, return_inverse=True)
    Wj = np.bincount(inv, weights=w2)
    mj = np.bincount(inv, weights=w2 * ly) / Wj
    pure = float(np.sum(w2 * (ly - mj[inv]) ** 2))
    W = float(Wj.sum())
    lnu = np.log(np.maximum(_U_GRID, 1e-300))[:, None]
    ln1u = np.log1p(-_U_GRID)[:, None]
    h_of = lambda x: np.logaddexp(lnu, ln1u + _ALPHA_GRID[None, :] * x)  # noqa: E731  (U, A) at ln(N/N_ref) = x
    with np.errstate(over="ignore"):
        z = mj[None, None, :] - np.stack([h_of(x) for x in np.log(dN / dN.max())], axis=-1)  # (U, A, J)
    mu = z @ Wj / W
    S = ((z - mu[..., None]) ** 2) @ Wj + pure
    S = np.where(np.isfinite(S), S, np.inf)
    best = np.unravel_index(np.argmin(S), S.shape)
    thr = S[best] * (1.0 + float(f_dist.ppf(level, 1, dof)) / dof)
    ok = S <= thr
    mu_ok, half = mu[ok], np.sqrt(np.maximum(thr - S[ok], 0.0) / W)
    pred, lo, hi = nan.copy(), nan.copy(), nan.copy()
    for i, n in enumerate(N_new):
        if n < start:
            continue
        with np.errstate(over="ignore"):
            h = h_of(math.log(n / dN.max()))
        centre = mu_ok + h[ok]
        pred[i] = math.exp(mu[best] + h[best])
        lo[i] = math.exp(float(np.min(centre - half)))
        hi[i] = math.exp(float(np.max(centre + half)))
    return pred, lo, hi


def _law_name(law: Law) -> str:
    if isinstance(law, PowerLaw) and law.window is not None and law.window[1] >= 1e300:
        return f"PowerLaw (N ≥ {law.window[0]:g})"
    return type(law).__name__


def backtest(law: Law, N: ArrayLike, y: ArrayLike, *, sigma: ArrayLike | None = None, level: float = 0.95,
             holdout: int = 1) -> dict[str, Any]:
    """Fit ``law`` without the ``holdout`` largest distinct N and predict the mean held out.

    Returns:
        ``{"law", "N", "observed", "predict", "lo", "hi", "error", "inside", "z", "rejected", "reason"}``:
        ``observed`` is the mean over the held-out points at the largest N (fitting space mapped back),
        ``error`` the fitting-space error observed − predicted (ln ratio for log-space laws, units of y
        for linear ones), ``inside`` whether the observation fell in the ``level`` band and ``z`` the
        error over √(se_pred² + s²/k) with s the pooled within-N noise (the law's residual scale without
        replicates); ``rejected`` is ``|z| > REJECT_Z`` or a failed refit.
    """
    N = np.asarray(N, dtype=float)
    y = np.asarray(y, dtype=float)
    distinct = np.unique(N)
    name = _law_name(law)
    out: dict[str, Any] = {"law": name, "N": math.nan, "observed": math.nan, "predict": math.nan, "lo": math.nan,
                           "hi": math.nan, "error": math.nan, "inside": False, "z": math.nan, "rejected": True,
                           "reason": ""}
    if not 0 < holdout < distinct.size:
        out["reason"] = "too few distinct N to hold any out"
        return out
    held = distinct[distinct.size - holdout:]
    test = N == held.max()
    train = ~np.isin(N, held)
    sig = None if sigma is None else np.asarray(sigma, dtype=float)
    try:
        part = law.clone().fit(N[train], y[train], sigma=None if sig is None else sig[train])
    except (ValueError, np.linalg.LinAlgError) as e:
        out["reason"] = f"could not be fitted without the largest N: {e}"
        return out
    t = part._to_space(y)
    obs = float(t[test].mean())
    pred, lo, hi = delta_band(part, [held.max()], level)
    f = float(part._to_space(pred)[0])
    k = int(test.sum())
    s = _noise_scale(N, t)
    if not math.isfinite(s):
        s = math.sqrt(part.rss_ / max(part.n_points_ - part.n_params, 1)) if sig is None else 0.0
    from scipy.stats import t as t_dist  # noqa: PLC0415

    q = float(t_dist.ppf(0.5 + level / 2.0, max(part.n_points_ - part.n_params, 1)))
    se_pred = float((part._to_space(hi)[0] - f) / q) if np.isfinite(hi[0]) else math.inf
    z = (obs - f) / math.sqrt(se_pred**2 + s**2 / k) if math.isfinite(se_pred) else 0.0
    out.update({"N": float(held.max()), "observed": float(part._from_space(np.array([obs]))[0]),
                "predict": float(pred[0]), "lo": float(lo[0]), "hi": float(hi[0]), "error": obs - f,
                "inside": bool(lo[0] <= part._from_space(np.array([obs]))[0] <= hi[0]), "z": float(z),
                "rejected": bool(abs(z) > REJECT_Z or not math.isfinite(se_pred)),
                "reason": "" if abs(z) <= REJECT_Z and math.isfinite(se_pred) else
                (f"held-out error {abs(z):.1f} standard errors (> {REJECT_Z:g})" if math.isfinite(se_pred)
                 else "its held-out band is unbounded")})
    return out


@dataclass(frozen=True, eq=False)
class Envelope:
    """The extrapolation band over a law family (see :func:`envelope`).

    Attributes:
        N: (k,) sizes predicted at.
        predict, lo, hi: (k,) the envelope's centre (the mean of the kept laws' predictions) and band:
            the smallest lower and largest upper end over the kept laws' bands.
        laws: the fitted laws by name (all candidates).
        bands: name -> (predict, lo, hi) of each law's own band (a profile member's is NaN below its
            window).
        backtests: name -> :func:`backtest` row (none for the profile members).
        kept: the names of the laws not rejected by their backtest, and the profile members (the
            envelope's members).
    """

    N: NDArray[np.float64]
    predict: NDArray[np.float64]
    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    laws: dict[str, Law]
    bands: dict[str, tuple[NDArray, NDArray, NDArray]]
    backtests: dict[str, dict[str, Any]]
    kept: tuple[str, ...]


def envelope(N: ArrayLike, y: ArrayLike, N_new: ArrayLike, *, laws: Sequence[Law] | None = None,
             sigma: ArrayLike | None = None, level: float = 0.95,
             boots: Mapping[str, Bootstrap] | None = None, profile: bool = True) -> Envelope:
    """Extrapolation band including the uncertainty of the law family.

    Every candidate law (default: ``β N^α``, ``β N^α`` over the upper half of N, ``c + a N^α`` and, with
    ≥ 8 distinct N, the one-break BNSL; ``SaturatingLaw`` alone for linear-space data) is fitted and
    backtested (:func:`backtest`: fit without the largest N, predict it). Laws whose held-out error exceeds
    ``REJECT_Z`` standard errors are rejected (if all are, the one with the smallest |z| is kept). Each kept
    law's band at ``N_new`` is its delta-method band (:func:`delta_band`), widened to its bootstrap
    percentile band when ``boots`` has one. With ``profile`` (log-space data only), the profile-likelihood
    bands of the floor law over the upper half of N and over the last 3 distinct N (:func:`tail_floor_band`,
    named ``"FloorPowerLaw (N ≥ …, profile)"``, no backtest: each is itself the set of values the data
    cannot reject) are always members, at the ``N_new`` inside or above their windows. The envelope is the union of
    the kept laws' bands and its centre their mean.

    Args:
        N: (m,) training-set sizes. y: (m,) metric values. N_new: (k,) sizes to predict at.
        laws: candidate laws (default above). sigma: optional (m,) standard errors of y.
        level: band level. boots: law name -> :class:`Bootstrap` to widen that law's band with.
        profile: add the tail floor law's profile bands (``False``: the law family alone, as before the
            profile members were added; it missed break-plus-floor curves far out).

    Returns:
        An :class:`Envelope`, its arrays (k,).
    """
    level = _check_level(level)
    N = np.asarray(N, dtype=float)
    y = np.asarray(y, dtype=float)
    N_new = np.atleast_1d(np.asarray(N_new, dtype=float))
    laws = list(laws) if laws is not None else _default_laws(N, "log")
    fitted, bands, tests = {}, {}, {}
    for law in laws:
        name = _law_name(law)
        boot = (boots or {}).get(name)
        try:
            f = boot.law if boot is not None else law.clone().fit(N, y, sigma=sigma)
        except (ValueError, np.linalg.LinAlgError):
            continue
        p, lo, hi = delta_band(f, N_new, level)
        if boot is not None and len(boot.laws) >= 2:
            blo, bhi = boot.predict_band(N_new, level)
            lo, hi = np.minimum(lo, blo), np.maximum(hi, bhi)
        fitted[name], bands[name] = f, (p, lo, hi)
        tests[name] = backtest(law, N, y, sigma=sigma, level=level)
    if not fitted:
        raise ValueError("no law could be fitted to this curve: check that y is positive and decreasing in N")
    kept = [k for k in fitted if not tests[k]["rejected"]]
    if not kept:
        kept = [min(fitted, key=lambda k: abs(tests[k]["z"]) if math.isfinite(tests[k]["z"]) else math.inf)]
    if profile and all(law.space == "log" for law in fitted.values()):
        for start in _profile_starts(N):
            band = tail_floor_band(N, y, N_new, level=level, sigma=sigma, start=start)
            if np.isfinite(band[0]).any():
                name = f"FloorPowerLaw (N ≥ {start:g}, profile)"
                bands[name] = band
                kept.append(name)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column cannot occur: the laws span all N
        lo = np.nanmin([bands[k][1] for k in kept], axis=0)
        hi = np.nanmax([bands[k][2] for k in kept], axis=0)
        centre = np.nanmean([bands[k][0] for k in kept], axis=0)
    return Envelope(N=N_new, predict=centre, lo=lo, hi=hi, laws=fitted, bands=bands, backtests=tests,
                    kept=tuple(kept))
