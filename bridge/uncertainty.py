"""Bootstrap and model choice for the scaling laws of ``bridge.laws``: how well the data pin one law down.

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
``√((n−1)/n)``: intervals from 2–3 replicates are somewhat narrow (:func:`inflate_replicates` scales
the within-N deviations by ``√(n/(n−1))`` first, for callers that want the unbiased spread).

**Draws of y.** When each point is itself an estimate from a sample that is not resampled above —
a run's test MSE is a mean over a finite test set shared by every run — pass ``draws``: (B, m)
realisations of y, e.g. every run's test metric under the b-th resample of the test images
(:func:`bridge.paired.run_draws`, one resample shared by every point). Refit b then fits the scheme's
resample of ``draws[b]`` instead of y, so the intervals combine the seeds (or points) with the test
sample; a resample of the test images moves every point at once, which the schemes above, treating
points as independent, cannot do. Under the residual scheme ``draws[b]`` shifts the fitted values:
``y* = T⁻¹(T(ŷ) + T(draws_b) − T(y) + s ⋅ e*)`` (conservative: the residuals already hold some
test-sample noise).

Model choice (:func:`compare_laws`): Gaussian information criteria ``AIC = m ln(RSS/m) + 2p`` and
``BIC = m ln(RSS/m) + p ln m`` of each law fitted in the same residual space, plus an
extrapolation check: fit without the ``holdout`` largest distinct N and report the RMS fitting-space
error on those points.

Break detection (:func:`detect_break`): a one-break BNSL ``y = c + b N^(−c0) (1 + (N/d)^(1/f))^(−c1 f)``
on risk-like data (positive, decreasing in N); the break d is supported when the BNSL beats both
``c + a N^α`` and ``β N^α`` by BIC and its bootstrap interval lies strictly inside the observed N range.
PSNR is not risk-like: convert it first with :func:`psnr_to_mse`, ``MSE = R² 10^(−PSNR/10)`` for
data range R (:func:`mse_to_psnr` is its inverse, the one PSNR formula of the package).

Extrapolation past the data, margins to an asymptote and floors live in :mod:`bridge.extrapolation`,
which builds on the bootstrap here (:func:`check_level` and :func:`percentile_interval` are shared
with it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .laws import BrokenPowerLaw, FloorPowerLaw, Law, PowerLaw

__all__ = [
    "Bootstrap",
    "BreakResult",
    "bootstrap",
    "check_level",
    "compare_laws",
    "detect_break",
    "inflate_replicates",
    "mse_to_psnr",
    "percentile_interval",
    "psnr_to_mse",
]

_MAX_BOOT = 1000  # every refitted law is stored


def check_level(level: float) -> float:
    """Validate an interval level.

    Args:
        level: the coverage of an interval or band, strictly between 0 and 1.

    Returns:
        ``level`` as a float. Raises ValueError outside (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    return float(level)


def percentile_interval(a: ArrayLike, level: float) -> tuple[NDArray, NDArray]:
    """Central percentile interval over the first axis (the bootstrap replicates).

    Args:
        a: (B, ...) samples, one row per replicate.
        level: coverage in (0, 1) (not checked here; see :func:`check_level`).

    Returns:
        (lo, hi): the ``(1 − level)/2`` and ``(1 + level)/2`` quantiles, each of shape ``a.shape[1:]``.
    """
    q = np.quantile(a, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
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
        lo, hi = percentile_interval(self.samples, check_level(level))
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
        return percentile_interval(self.predict_samples(N, **extra), check_level(level))


def _fit_kwargs(sigma: NDArray | None, extra: Mapping[str, NDArray], idx: NDArray) -> dict[str, Any]:
    kw: dict[str, Any] = {k: v[idx] for k, v in extra.items()}
    if sigma is not None:
        kw["sigma"] = sigma[idx]
    return kw


def inflate_replicates(N: ArrayLike, y: ArrayLike, *, log: bool = True) -> NDArray[np.float64]:
    """Values with their within-N (log) deviations scaled by ``√(n/(n−1))`` (n values at that N).

    Resampling n replicates (seeds) with replacement has a spread ``√((n−1)/n)`` of the true one;
    inflating the deviations first, as the residual scheme inflates residuals by ``√(m/(m−p))``, gives
    the stratified bootstrap the unbiased spread. The (log) mean of every N is unchanged; single
    values are left alone.

    Args:
        N: (m,) training-set sizes. y: (m,) or (B, m) values (each row inflated on its own), positive
            with ``log`` (errors: deviations in log), any without (a PSNR in dB, which is already a log).

    Returns:
        Same shape as ``y``.
    """
    N = np.asarray(N, dtype=float)
    ln = np.log(np.asarray(y, dtype=float)) if log else np.asarray(y, dtype=float)
    _, inv, counts = np.unique(N, return_inverse=True, return_counts=True)
    rows = np.atleast_2d(ln)
    mean = np.stack([np.bincount(inv, weights=r) / counts for r in rows])[:, inv]
    n = counts[inv]
    kappa = np.sqrt(np.where(n > 1, n / np.maximum(n - 1, 1), 1.0))
    out = mean + kappa * (rows - mean)
    out = np.exp(out) if log else out
    return out[0] if ln.ndim == 1 else out


def bootstrap(
    law: Law,
    N: ArrayLike,
    y: ArrayLike,
    *,
    sigma: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    extra: Mapping[str, ArrayLike] | None = None,
    draws: ArrayLike | None = None,
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
        draws: optional (B', m) realisations of y with B' ≥ n_boot (e.g. under resamples of a shared
            test set): refit b resamples ``draws[b]`` instead of y (module docstring).
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
    draws_a = None
    if draws is not None:
        draws_a = np.asarray(draws, dtype=float)
        if draws_a.ndim != 2 or draws_a.shape[1] != m or draws_a.shape[0] < int(n_boot):
            raise ValueError(f"draws has shape {draws_a.shape}; need (B, {m}) with B ≥ n_boot = {n_boot}: one row of "
                             "y per resample")
        if not np.isfinite(draws_a[: int(n_boot)]).all():
            raise ValueError("draws holds non-finite values: every resample needs a finite y at every point")

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
    for b in range(int(n_boot)):
        y_src = y if draws_a is None else draws_a[b]  # resample b of the test sample, shared by every point
        if scheme == "groups":
            pick = rng.integers(0, len(members), size=len(members))
            idx = np.concatenate([members[g] for g in pick])
            yb = y_src[idx]
        elif scheme == "stratified":
            idx = np.concatenate([rng.choice(mem, size=mem.size, replace=True) for mem in members])
            yb = y_src[idx]
        else:
            idx = np.arange(m)
            base = pred_sp if draws_a is None else pred_sp + to_sp(y_src) - to_sp(y)
            yb = from_sp(base + s * rng.choice(e, size=m, replace=True))
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
    draws: ArrayLike | None = None,
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
        draws: optional (B, m) realisations of y (:func:`bootstrap`).
        n_boot: bootstrap resamples.
        level: interval level.
        rng: the only source of randomness.

    Returns:
        A :class:`BreakResult`.
    """
    level = check_level(level)
    power = PowerLaw().fit(N, y, sigma=sigma)
    if power.exponent_ >= 0:
        raise ValueError(
            f"detect_break needs risk-like y decreasing in N; the log-log slope is {power.exponent_:+.3g}: "
            "for PSNR pass psnr_to_mse(psnr)"
        )
    floor = FloorPowerLaw().fit(N, y, sigma=sigma)
    boot = bootstrap(BrokenPowerLaw(breaks=1), N, y, sigma=sigma, groups=groups, draws=draws, n_boot=n_boot, rng=rng)
    broken = boot.law
    assert isinstance(broken, BrokenPowerLaw)
    lo, hi = percentile_interval(boot.samples[:, broken.param_names.index("d1")], level)
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
