"""Extrapolation past the data and margins to an asymptote for the scaling laws of ``bridge.laws``.

Predictions with bootstrap intervals (:func:`extrapolate`, on a :class:`bridge.uncertainty.Bootstrap`),
the N at which a law comes within a margin of its asymptote (:func:`n_to_margin`, :func:`n_to_margin_ci`),
the boundary-aware floor (:func:`floor_test`, :func:`floor_profile`) and the band the report extrapolates
with (:func:`envelope` and its members).

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
from .uncertainty import Bootstrap, check_level, percentile_interval

__all__ = [
    "REJECT_Z",
    "Envelope",
    "backtest",
    "delta_band",
    "envelope",
    "extrapolate",
    "floor_profile",
    "floor_test",
    "n_to_margin",
    "n_to_margin_ci",
    "tail_floor_band",
    "tail_power_law",
]


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
    level = check_level(level)
    N = np.atleast_1d(np.asarray(N, dtype=float))
    N_ref = np.full_like(N, boot.N.max())
    pred = boot.law.predict(N, **extra)
    gain = pred - boot.law.predict(N_ref, **extra)
    S = boot.predict_samples(N, **extra)
    lo, hi = percentile_interval(S, level)
    glo, ghi = percentile_interval(S - boot.predict_samples(N_ref, **extra), level)
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
    level = check_level(level)
    est = n_to_margin(boot.law, margin, relative=relative)
    vals = np.array([n_to_margin(law, margin, relative=relative) for law in boot.laws])
    lo = np.quantile(vals, (1.0 - level) / 2.0, method="lower")
    hi = np.quantile(vals, (1.0 + level) / 2.0, method="higher")
    return float(est), float(lo), float(hi)


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

    level = check_level(level)
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
    scale = float(np.exp(np.mean(law.model(lnN, coef)))) if law.space == "log" else 1.0
    names = law.param_names
    for j in range(coef.size):
        h = 6e-6 * (max(coef[j], scale) if names[j] == "floor" else max(abs(coef[j]), 1e-6))
        up, dn = coef.copy(), coef.copy()
        up[j] += h
        if not (names[j] == "floor" and coef[j] - h < 0):  # forward difference at the floor's boundary
            dn[j] -= h
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            G[:, j] = (law.model(lnN, up) - law.model(lnN, dn)) / (up[j] - dn[j])
    return G


def delta_band(law: Law, N: ArrayLike, level: float = 0.95) -> tuple[NDArray, NDArray, NDArray]:
    """Delta-method band of a fitted law's mean curve: (predict, lo, hi), each (k,).

    ``f(N) ± t_{m−p} √(gᵀ cov_ g)`` in the fitting space (g = ∂f/∂coef), mapped back to y; infinite
    where ``cov_`` is undefined (a singular or exactly determined fit).
    """
    from scipy.stats import t as t_dist  # noqa: PLC0415

    level = check_level(level)
    lnN = np.log(np.atleast_1d(np.asarray(N, dtype=float)))
    f = law.model(lnN, law.coef_)
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
    back = law.from_space
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

    level = check_level(level)
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
    t = part.to_space(y)
    obs = float(t[test].mean())
    pred, lo, hi = delta_band(part, [held.max()], level)
    f = float(part.to_space(pred)[0])
    k = int(test.sum())
    s = _noise_scale(N, t)
    if not math.isfinite(s):
        s = math.sqrt(part.rss_ / max(part.n_points_ - part.n_params, 1)) if sig is None else 0.0
    from scipy.stats import t as t_dist  # noqa: PLC0415

    q = float(t_dist.ppf(0.5 + level / 2.0, max(part.n_points_ - part.n_params, 1)))
    se_pred = float((part.to_space(hi)[0] - f) / q) if np.isfinite(hi[0]) else math.inf
    z = (obs - f) / math.sqrt(se_pred**2 + s**2 / k) if math.isfinite(se_pred) else 0.0
    out.update({"N": float(held.max()), "observed": float(part.from_space(np.array([obs]))[0]),
                "predict": float(pred[0]), "lo": float(lo[0]), "hi": float(hi[0]), "error": obs - f,
                "inside": bool(lo[0] <= part.from_space(np.array([obs]))[0] <= hi[0]), "z": float(z),
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
    level = check_level(level)
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
