"""Scaling laws of a metric y against the number of training examples N.

Four laws, each a fitted object in the scikit-learn style (``fit`` returns self, fitted attributes
end in ``_``):

* :class:`PowerLaw` — ``y = β N^α``. The paper's method: ordinary least squares of ``log10 y`` on
  ``log10 N`` (optionally only over a window of N), in closed form. ``coef_ = (log10 β, α)``.
* :class:`FloorPowerLaw` — ``y = c + a N^α`` with ``a > 0, α < 0, c ≥ 0``: a risk (MSE) decaying
  to the floor ``c``.
* :class:`SaturatingLaw` — ``y = y∞ − A N^α`` with ``A > 0, α < 0``: PSNR (dB) or SSIM rising to
  the asymptote ``y∞``.
* :class:`BrokenPowerLaw` — the broken neural scaling law (BNSL) of Caballero et al. (2022),
  ``y = c + b N^(−c0) ∏_i (1 + (N/d_i)^(1/f_i))^(−c_i f_i)``, with breaks at ``d_i`` of sharpness
  ``f_i``; far from the breaks the log-log slope is ``−c0`` before the first break and
  ``−c0 − c_1 − … − c_i`` after break ``i`` (ignoring the floor).

Fitting space. Positive, multiplicatively noisy quantities (risk, MSE) are fitted in log space:
residual ``r_i = ln y_i − ln ŷ_i`` (``space = "log"``); :class:`SaturatingLaw` fits plain residuals
``r_i = y_i − ŷ_i`` (dB; ``space = "linear"``). Given standard errors ``σ_i`` of y, residuals are
divided by ``σ_i`` carried into the fitting space by the delta method (``σ_i / y_i`` in log
space). :class:`PowerLaw` does its least squares in log10 (as the paper does), which gives the same
estimate; its residuals, ``rss_``, ``aic_`` and ``bic_`` are in natural-log units like the other
log-space laws so that information criteria are comparable between them.

Nonlinear fits minimise ``Σ ρ(r_i²)`` with :func:`scipy.optimize.least_squares` over unconstrained
(bounded where sensible) variables — log amplitudes taken at the geometric-mean ``N_ref`` of the
data (``a N^α = a_ref (N/N_ref)^α``, which decorrelates amplitude and exponent), the floor as
``c = min(y) · softplus(v)``, log break positions and log sharpness. Starting points come from a
deterministic grid derived from the data (floor candidates as fractions of ``min y``, break
candidates at quantiles of ``log N``, exponents from a grid), each completed by linear least
squares for the parameters that enter linearly and screened by its cost; the best few are
optimised, first with a squared loss, then (``loss="soft_l1"``) with the robust
``ρ(z) = 2(√(1 + z) − 1)`` at ``f_scale`` = 2 × the robust (MAD) scale of the residuals.

Uncertainty. ``cov_`` is the Gauss–Newton covariance of ``coef_`` (the *reported* parameters):
``s² (JᵀJ)⁻¹`` with ``J = ∂r/∂coef`` at the optimum and ``s² = RSS/(m − p)`` (``(JᵀJ)⁻¹`` unscaled
when σ was given). Because the reparametrisation ``θ ↦ coef`` is a diffeomorphism with Jacobian
``G``, this equals the delta-method transform ``G (J_θᵀ J_θ)⁻¹ Gᵀ`` of the covariance of the
unconstrained variables; taking J in the reported parameters directly keeps it finite where the
reparametrisation saturates (a floor near 0). It is NaN when JᵀJ is singular or m ≤ p unweighted.
Information criteria (Gaussian): ``AIC = m ln(RSS/m) + 2p``, ``BIC = m ln(RSS/m) + p ln m``.

Registry. :data:`LAWS` names every law once (``power``, ``floor``, ``saturating``, ``broken``) with
what it fits (an error or a quality metric) and the optimiser's box of the parameters an interval
can run into; :func:`law_spec` looks one up by that name or by class name. ``reconscale fit``
(:func:`bridge.report.analyse`), ``compare`` (:func:`bridge.compare.compare_fits`) and ``selfsup``
(:func:`bridge.extra.extra_examples`) pick their laws there.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares
from scipy.special import expit

__all__ = ["Law", "PowerLaw", "FloorPowerLaw", "SaturatingLaw", "BrokenPowerLaw", "LawSpec", "LAWS", "law_spec",
           "EXPONENT_BOX", "SHARPNESS_BOX"]

_LN10 = math.log(10.0)
_FDSTEP = 6e-6  # ≈ eps^(1/3): the central-difference step that balances truncation and rounding
_SINGULAR = 1e-10  # relative singular value below which JᵀJ counts as singular
_V_MIN = -40.0  # softplus(-40) ≈ 4e-18: a floor indistinguishable from 0
#: the optimiser's box of the exponent α of ``c + a N^α`` and ``y∞ − A N^α`` (an interval reaching it pins
#: nothing down: :data:`LAWS` hands it to :func:`bridge.identify.identify`)
EXPONENT_BOX = (-8.0, -1e-4)
#: the optimiser's box of a BNSL break's sharpness f_i
SHARPNESS_BOX = (0.05, 3.0)


def _softplus(v: NDArray | float) -> NDArray | float:
    return np.logaddexp(0.0, v)


def _softplus_inv(x: float) -> float:
    # a zero-floor start sits at c = 0.0025 min(y), not on the bound, where softplus has no gradient
    return math.log(math.expm1(x)) if x > 0 else -6.0


def _as_1d(x: ArrayLike, name: str) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D with shape (m,); got shape {a.shape}: pass a flat array")
    return a


def _check_N(N: ArrayLike) -> NDArray[np.float64]:
    N = _as_1d(N, "N")
    bad = ~np.isfinite(N)
    if bad.any():
        raise ValueError(f"N contains {int(bad.sum())} non-finite values (NaN or inf): drop those points")
    if (N <= 0).any():
        raise ValueError(f"N must be positive; got min {N.min():g}: drop points with N <= 0")
    return N


def _check_data(
    law: Law, N: ArrayLike, y: ArrayLike, sigma: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
    """Validate (N, y, sigma) for ``law``: shapes, finiteness, N > 0, y > 0 in log space."""
    name = type(law).__name__
    N = _check_N(N)
    y = _as_1d(y, "y")
    if y.shape != N.shape:
        raise ValueError(f"y has shape {y.shape} but N has shape {N.shape}: pass one y per N")
    bad = ~np.isfinite(y)
    if bad.any():
        raise ValueError(f"y contains {int(bad.sum())} non-finite values (NaN or inf): drop those points")
    if law.space == "log" and (y <= 0).any():
        raise ValueError(
            f"{name} fits log y, so y must be positive; got {int((y <= 0).sum())} values <= 0: "
            "drop them, or fit dB quantities with SaturatingLaw"
        )
    if sigma is not None:
        sigma = _as_1d(sigma, "sigma")
        if sigma.shape != N.shape:
            raise ValueError(f"sigma has shape {sigma.shape} but N has shape {N.shape}: pass one sigma per point")
        if not (np.isfinite(sigma).all() and (sigma > 0).all()):
            raise ValueError("sigma must be finite and positive (standard errors of y): drop or fix those points")
    return N, y, sigma


def _gauss_newton_cov(J: NDArray, rss: float, weighted: bool) -> NDArray[np.float64]:
    """``s² (JᵀJ)⁻¹`` (J: (m, p)) via an SVD of the column-scaled J; NaN matrix if singular."""
    m, p = J.shape
    nan = np.full((p, p), np.nan)
    if not np.isfinite(J).all() or (not weighted and m <= p):
        return nan
    norms = np.linalg.norm(J, axis=0)
    if not (norms > 0).all():
        return nan
    _, s, vt = np.linalg.svd(J / norms, full_matrices=False)
    if s[-1] <= _SINGULAR * s[0]:
        return nan
    cov = (vt.T / s**2) @ vt / np.outer(norms, norms)
    if not weighted:
        cov *= rss / (m - p)
    return 0.5 * (cov + cov.T)


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}g}"


class Law(ABC):
    """Abstract scaling law ``y = f(N; coef)`` fitted by (weighted) least squares.

    Subclasses define ``param_names``, the fitting ``space`` (``"log"``: residuals ``ln y − ln ŷ``;
    ``"linear"``: ``y − ŷ``), :meth:`model` (the prediction in the fitting space from ``ln N``),
    ``_set_named``, ``_formula`` and ``fit`` (which ends with ``_set_fit``). Fitted attributes:
    ``coef_`` (p,), ``params_``, ``cov_`` (p, p), ``rss_``, ``n_points_``, ``aic_``, ``bic_``,
    ``n_range_`` (min and max fitted N).
    """

    param_names: tuple[str, ...] = ()
    space: ClassVar[str] = "log"

    @property
    def n_params(self) -> int:
        """Number of free parameters p."""
        return len(self.param_names)

    def get_params(self) -> dict[str, Any]:
        """Constructor options (what :meth:`clone` copies)."""
        return {}

    def clone(self) -> Law:
        """An unfitted copy with the same options."""
        return type(self)(**self.get_params())

    @property
    def is_fitted(self) -> bool:
        """Whether fit has run (the fitted attributes exist)."""
        return hasattr(self, "coef_")

    @abstractmethod
    def fit(self, N: ArrayLike, y: ArrayLike, *, sigma: ArrayLike | None = None) -> Law:
        """Fit the law.

        Args:
            N: (m,) positive training-set sizes; repeated N (several seeds) are separate points.
            y: (m,) finite metric values (positive for log-space laws).
            sigma: optional (m,) positive standard errors of y, in the units of y; used as weights.

        Returns:
            self.
        """

    @abstractmethod
    def model(self, lnN: NDArray, coef: NDArray) -> NDArray:
        """The law in its fitting space, for any parameters (what the delta method differentiates).

        Args:
            lnN: (m,) natural logarithms of the sizes.
            coef: (p,) reported parameters in ``param_names`` order (e.g. ``coef_`` or a perturbed copy).

        Returns:
            (m,) predictions in the fitting space (``ln ŷ`` for log-space laws, ``ŷ`` for linear ones).
        """

    @abstractmethod
    def _formula(self, digits: int) -> str:
        """The fitted law as a formula in N with ``digits`` significant digits."""

    @abstractmethod
    def _set_named(self) -> None:
        """Set the law's named fitted attributes (``amplitude_``, ``exponent_``, …) from ``coef_``."""

    # ------------------------------------------------------------------ fitting-space helpers
    def to_space(self, y: NDArray) -> NDArray:
        """Map values of y into the fitting space: ``ln y`` for log-space laws, ``y`` for linear ones.

        Args:
            y: values in the units of y (positive for log-space laws).

        Returns:
            The fitting-space values, same shape.
        """
        return np.log(y) if self.space == "log" else y

    def from_space(self, f: NDArray) -> NDArray:
        """Map fitting-space values back to the units of y (the inverse of :meth:`to_space`).

        Args:
            f: fitting-space values (e.g. from :meth:`model`).

        Returns:
            Values of y, same shape: ``exp f`` for log-space laws, ``f`` for linear ones.
        """
        return np.exp(f) if self.space == "log" else f

    def _sigma_to_space(self, sigma: NDArray, y: NDArray) -> NDArray:
        # delta method: d ln y = dy / y
        return sigma / y if self.space == "log" else sigma

    def _check_distinct(self, N: NDArray, where: str = "") -> None:
        k, p = np.unique(N).size, self.n_params
        if k < p:
            fewer = " (PowerLaw)" if p > 2 else ""
            raise ValueError(
                f"fit needs at least {p} distinct N for {type(self).__name__} ({p} parameters){where}; got {k}: "
                f"add points or use a law with fewer parameters{fewer}"
            )

    def _coef(self) -> NDArray:
        if not self.is_fitted:
            raise ValueError(f"{type(self).__name__} is not fitted yet: call fit(N, y) before using it")
        return self.coef_

    # ------------------------------------------------------------------ public API
    def predict(self, N: ArrayLike) -> NDArray[np.float64]:
        """The fitted law at N.

        Args:
            N: (m,) positive sizes (a scalar is treated as (1,)).

        Returns:
            (m,) predictions of y.
        """
        coef = self._coef()
        return self.from_space(self.model(np.log(_check_N(N)), coef))

    def residuals(self, N: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Unweighted residuals in the fitting space (``ln y − ln ŷ`` or ``y − ŷ``), shape (m,)."""
        coef = self._coef()
        N, y, _ = _check_data(self, N, y, None)
        return self.to_space(y) - self.model(np.log(N), coef)

    def label(self) -> str:
        """Short legend text, e.g. ``"0.004 + 0.31 N^-0.52"``."""
        self._coef()
        return self._formula(2)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        if not self.is_fitted:
            return f"{type(self).__name__}({opts})"
        sep = ", " if opts else ""
        return f"{type(self).__name__}({opts}{sep}y = {self._formula(4)})"

    def _set_fit(self, coef: NDArray, cov: NDArray, rss: float, N: NDArray) -> None:
        m, p = N.size, self.n_params
        self.coef_ = np.asarray(coef, dtype=float)
        self.params_ = dict(zip(self.param_names, map(float, self.coef_)))
        self.cov_ = cov
        self.rss_ = float(rss)
        self.n_points_ = int(m)
        ll = m * math.log(rss / m) if rss > 0 else -math.inf  # an exact fit has rss = 0
        self.aic_ = ll + 2 * p
        self.bic_ = ll + p * math.log(m)
        self.n_range_ = (float(N.min()), float(N.max()))
        self._set_named()


class PowerLaw(Law):
    """``y = β N^α`` by ordinary least squares of ``log10 y`` on ``log10 N`` (the paper's fit).

    Args:
        window: optional ``(N_lo, N_hi)``; only points with ``N_lo <= N <= N_hi`` are fitted.

    Fitted attributes: ``amplitude_`` (β), ``exponent_`` (α, negative for a decreasing risk).
    Note ``coef_ = (log10 β, α)`` and ``cov_`` is the covariance of those two.
    """

    param_names = ("log10_amplitude", "exponent")
    space = "log"

    def __init__(self, *, window: tuple[float, float] | None = None) -> None:
        if window is not None:
            lo, hi = (float(w) for w in window)
            if not (0 < lo <= hi < math.inf):
                raise ValueError(f"window must be (N_lo, N_hi) with 0 < N_lo <= N_hi; got {window!r}")
            window = (lo, hi)
        self.window = window

    def get_params(self) -> dict[str, Any]:
        return {"window": self.window}

    def fit(self, N: ArrayLike, y: ArrayLike, *, sigma: ArrayLike | None = None) -> PowerLaw:
        N, y, sigma = _check_data(self, N, y, sigma)
        where = ""
        if self.window is not None:
            keep = (N >= self.window[0]) & (N <= self.window[1])
            N, y = N[keep], y[keep]
            sigma = None if sigma is None else sigma[keep]
            where = f" inside window {self.window}"
        self._check_distinct(N, where)
        X = np.column_stack([np.ones_like(N), np.log10(N)])
        t = np.log10(y)
        w = np.ones_like(y) if sigma is None else _LN10 * y / sigma  # 1 / (σ in log10 units)
        coef, *_ = np.linalg.lstsq(X * w[:, None], t * w, rcond=None)
        r = (t - X @ coef) * w
        rss10 = float(r @ r)
        cov = _gauss_newton_cov(X * w[:, None], rss10, sigma is not None)
        # weighted residuals are unit-free; unweighted ones go to natural-log units (× ln 10)
        rss = rss10 if sigma is not None else rss10 * _LN10**2
        self._set_fit(coef, cov, rss, N)
        return self

    def model(self, lnN: NDArray, coef: NDArray) -> NDArray:
        return _LN10 * coef[0] + coef[1] * lnN

    def _set_named(self) -> None:
        self.amplitude_ = float(10.0 ** self.coef_[0])
        self.exponent_ = float(self.coef_[1])

    def _formula(self, digits: int) -> str:
        return f"{_fmt(self.amplitude_, digits)} N^{_fmt(self.exponent_, digits)}"


@dataclass(frozen=True)
class _Data:
    """One fit's data in the fitting space: ln N, target t, scale s (all (m,)), and references."""

    lnN: NDArray
    y: NDArray
    t: NDArray
    s: NDArray
    lnN_ref: float

    @property
    def ymin(self) -> float:
        return float(self.y.min())


class _NonlinearLaw(Law):
    """Shared multi-start ``least_squares`` machinery; subclasses give θ ↦ coef, bounds and starts."""

    _positive: ClassVar[tuple[bool, ...]] = ()  # reported params that must stay > 0 (relative FD steps)
    _n_starts: int = 3  # screened starting points that get optimised

    def __init__(self, *, loss: str = "soft_l1") -> None:
        if loss not in ("soft_l1", "linear"):
            raise ValueError(f"loss must be 'soft_l1' or 'linear'; got {loss!r}")
        self.loss = loss

    def get_params(self) -> dict[str, Any]:
        return {"loss": self.loss}

    @abstractmethod
    def _theta_to_coef(self, theta: NDArray, d: _Data) -> NDArray:
        """Unconstrained variables θ -> reported parameters coef."""

    @abstractmethod
    def _bounds(self, d: _Data) -> tuple[NDArray, NDArray]:
        """Bounds (lo, hi) on θ."""

    @abstractmethod
    def _starts(self, d: _Data) -> list[NDArray]:
        """Deterministic candidate θ derived from the data (screened by cost in ``fit``)."""

    @abstractmethod
    def _model_grad(self, theta: NDArray, d: _Data) -> NDArray:
        """Analytic ∂(fitting-space prediction)/∂θ, shape (m, len(θ))."""

    def _postprocess(self, coef: NDArray) -> NDArray:
        """Canonical form of coef (e.g. breaks sorted); identity by default."""
        return coef

    def _positive_mask(self) -> tuple[bool, ...]:
        return self._positive

    def _resid(self, theta: NDArray, d: _Data) -> NDArray:
        # trial steps may overflow (exp of a large log amplitude) or underflow the amplitude to 0
        # (log 0 = −inf gives the A = 0 model exactly): least_squares rejects non-finite residuals,
        # so the warnings carry no information here
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return (d.t - self.model(d.lnN, self._theta_to_coef(theta, d))) / d.s

    def _resid_jac(self, theta: NDArray, d: _Data) -> NDArray:
        with np.errstate(over="ignore", invalid="ignore"):
            return -self._model_grad(theta, d) / d.s[:, None]

    def fit(self, N: ArrayLike, y: ArrayLike, *, sigma: ArrayLike | None = None) -> _NonlinearLaw:
        N, y, sigma = _check_data(self, N, y, sigma)
        self._check_distinct(N)
        s = np.ones_like(y) if sigma is None else self._sigma_to_space(sigma, y)
        lnN = np.log(N)
        d = _Data(lnN=lnN, y=y, t=self.to_space(y), s=s, lnN_ref=float(lnN.mean()))
        lo, hi = self._bounds(d)

        scored = []
        for th in self._starts(d):
            th = np.clip(np.asarray(th, dtype=float), lo, hi)
            r = self._resid(th, d)
            if np.isfinite(r).all():
                scored.append((float(r @ r), th))
        scored.sort(key=lambda e: e[0])

        best = None
        for _, th0 in scored[: self._n_starts]:
            res = self._solve(th0, d, lo, hi, "linear", 1.0)
            if res is None:
                continue
            if best is not None and abs(res.cost - best.cost) <= 1e-7 * max(best.cost, 1e-300):
                break  # two starts agree on the optimum: the rest would most likely find it again
            if best is None or res.cost < best.cost:
                best = res
        if best is None:
            raise ValueError(
                f"{type(self).__name__} fit failed from every starting point: check that y follows the law's "
                "shape (e.g. decreasing risk) or try another law"
            )
        theta = best.x
        self.f_scale_ = math.nan  # the soft_l1 scale actually used (NaN: plain least squares)
        if self.loss == "soft_l1":
            r = self._resid(theta, d)
            f_scale = 2.0 * 1.4826 * float(np.median(np.abs(r - np.median(r))))
            if f_scale > 1e-10:  # an (almost) exact fit has nothing to down-weight
                res = self._solve(theta, d, lo, hi, "soft_l1", f_scale)
                if res is not None:
                    theta = res.x
                    self.f_scale_ = f_scale

        coef = self._postprocess(self._theta_to_coef(theta, d))
        r = (d.t - self.model(lnN, coef)) / s
        rss = float(r @ r)
        J = self._jacobian(lnN, coef, s, d.ymin)
        self._set_fit(coef, _gauss_newton_cov(J, rss, sigma is not None), rss, N)
        return self

    def _solve(self, th0: NDArray, d: _Data, lo: NDArray, hi: NDArray, loss: str, f_scale: float) -> Any:
        try:
            # a wild trial step's residuals may square to overflow inside the robust loss: that step is
            # rejected (infinite cost), and a start that ends non-finite is dropped below
            with np.errstate(over="ignore", invalid="ignore"):
                res = least_squares(
                    self._resid, th0, jac=self._resid_jac, args=(d,), bounds=(lo, hi), method="trf",
                    loss=loss, f_scale=f_scale, x_scale="jac", max_nfev=40 * (th0.size + 1),
                )
        except (ValueError, np.linalg.LinAlgError):
            return None
        return res if np.isfinite(res.cost) and np.isfinite(res.x).all() else None

    def _jacobian(self, lnN: NDArray, coef: NDArray, s: NDArray, ymin: float) -> NDArray:
        """Finite-difference ∂r/∂coef (m, p) of the weighted residuals in the reported parameters.

        Steps are relative to each parameter, except the floor's, which is relative to min(y): a
        floor near 0 still moves the prediction at that scale. A step that would push a positive
        parameter below 0 becomes a forward difference.
        """
        J = np.empty((lnN.size, coef.size))
        pos = self._positive_mask()
        for j in range(coef.size):
            if self.param_names[j] == "floor":
                h = _FDSTEP * max(coef[j], ymin)
            else:
                h = _FDSTEP * (abs(coef[j]) if pos[j] and coef[j] > 0 else max(abs(coef[j]), 1.0))
            up, dn = coef.copy(), coef.copy()
            up[j] += h
            if not (pos[j] and coef[j] - h <= 0):
                dn[j] -= h
            with np.errstate(over="ignore", invalid="ignore"):
                J[:, j] = -(self.model(lnN, up) - self.model(lnN, dn)) / (up[j] - dn[j]) / s
        return J


def _wlstsq(X: NDArray, z: NDArray, s: NDArray) -> NDArray:
    """Weighted linear least squares ``min ‖(z − X b)/s‖``; b: (k,)."""
    b, *_ = np.linalg.lstsq(X / s[:, None], z / s, rcond=None)
    return b


class FloorPowerLaw(_NonlinearLaw):
    """``y = c + a N^α`` (``a > 0, α < 0, c ≥ 0``): a risk decaying to the floor c; log residuals.

    Args:
        loss: ``"soft_l1"`` (robust, default) or ``"linear"`` (plain least squares).

    Fitted attributes: ``floor_`` (c), ``amplitude_`` (a), ``exponent_`` (α).
    """

    param_names = ("floor", "amplitude", "exponent")
    space = "log"
    _positive = (True, True, False)

    def model(self, lnN: NDArray, coef: NDArray) -> NDArray:
        c, a, alpha = coef
        with np.errstate(divide="ignore"):  # c = 0 -> ln c = -inf, which logaddexp handles
            return np.logaddexp(np.log(c), np.log(a) + alpha * lnN)

    def _theta_to_coef(self, theta: NDArray, d: _Data) -> NDArray:
        v, la_ref, alpha = theta
        with np.errstate(over="ignore"):  # an overflowing trial step gives inf, which least_squares rejects
            return np.array([d.ymin * _softplus(v), np.exp(la_ref - alpha * d.lnN_ref), alpha])

    def _model_grad(self, theta: NDArray, d: _Data) -> NDArray:
        v, la_ref, alpha = theta
        x = d.lnN - d.lnN_ref
        lnc = math.log(d.ymin * _softplus(v))
        wg = expit(la_ref + alpha * x - lnc)  # share of the power-law term in the prediction
        return np.column_stack([(1.0 - wg) * (expit(v) / _softplus(v)), wg, wg * x])

    def _bounds(self, d: _Data) -> tuple[NDArray, NDArray]:
        return np.array([_V_MIN, -np.inf, EXPONENT_BOX[0]]), np.array([5.0, np.inf, EXPONENT_BOX[1]])

    def _starts(self, d: _Data) -> list[NDArray]:
        starts = []
        x = d.lnN - d.lnN_ref
        X = np.column_stack([np.ones_like(x), x])
        for frac in (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95):
            # with the floor fixed, ln(y − c) = ln a_ref + α x is linear
            la_ref, alpha = _wlstsq(X, np.log(d.y - frac * d.ymin), d.s)
            starts.append(np.array([_softplus_inv(frac), la_ref, alpha]))
        return starts

    def _set_named(self) -> None:
        self.floor_, self.amplitude_, self.exponent_ = map(float, self.coef_)

    def _formula(self, digits: int) -> str:
        return f"{_fmt(self.floor_, digits)} + {_fmt(self.amplitude_, digits)} N^{_fmt(self.exponent_, digits)}"

    def gap(self, N: ArrayLike) -> NDArray[np.float64]:
        """Distance to the floor, ``a N^α`` (m,)."""
        c, a, alpha = self._coef()
        return a * _check_N(N) ** alpha


class SaturatingLaw(_NonlinearLaw):
    """``y = y∞ − A N^α`` (``A > 0, α < 0``): PSNR/SSIM rising to ``y∞``; linear residuals (dB).

    Args:
        loss: ``"soft_l1"`` (robust, default) or ``"linear"`` (plain least squares).

    Fitted attributes: ``asymptote_`` (y∞), ``amplitude_`` (A), ``exponent_`` (α).
    """

    param_names = ("asymptote", "amplitude", "exponent")
    space = "linear"
    _positive = (False, True, False)

    def model(self, lnN: NDArray, coef: NDArray) -> NDArray:
        y_inf, A, alpha = coef
        return y_inf - A * np.exp(alpha * lnN)  # no log A: an amplitude that underflowed to 0 is the flat law

    def _theta_to_coef(self, theta: NDArray, d: _Data) -> NDArray:
        y_inf, la_ref, alpha = theta
        with np.errstate(over="ignore"):
            return np.array([y_inf, np.exp(la_ref - alpha * d.lnN_ref), alpha])

    def _model_grad(self, theta: NDArray, d: _Data) -> NDArray:
        _, la_ref, alpha = theta
        x = d.lnN - d.lnN_ref
        g = np.exp(la_ref + alpha * x)
        return np.column_stack([np.ones_like(x), -g, -g * x])

    def _bounds(self, d: _Data) -> tuple[NDArray, NDArray]:
        return np.array([-np.inf, -np.inf, EXPONENT_BOX[0]]), np.array([np.inf, np.inf, EXPONENT_BOX[1]])

    def _starts(self, d: _Data) -> list[NDArray]:
        starts = []
        x = d.lnN - d.lnN_ref
        for alpha in -np.geomspace(0.02, 4.0, 16):
            # with α fixed, y = y∞ − A_ref (N/N_ref)^α is linear in (y∞, A_ref)
            y_inf, A_ref = _wlstsq(np.column_stack([np.ones_like(x), -np.exp(alpha * x)]), d.y, d.s)
            if A_ref > 0:
                starts.append(np.array([y_inf, math.log(A_ref), alpha]))
        if not starts:  # flat or decreasing data: still try something sensible
            span = float(np.ptp(d.y)) or 1.0
            starts.append(np.array([float(d.y.max()) + span, math.log(span), -0.5]))
        return starts

    def _set_named(self) -> None:
        self.asymptote_, self.amplitude_, self.exponent_ = map(float, self.coef_)

    def _formula(self, digits: int) -> str:
        return f"{_fmt(self.asymptote_, digits)} - {_fmt(self.amplitude_, digits)} N^{_fmt(self.exponent_, digits)}"

    def gap(self, N: ArrayLike) -> NDArray[np.float64]:
        """Distance to the asymptote, ``A N^α`` (m,)."""
        _, A, alpha = self._coef()
        return A * _check_N(N) ** alpha


class BrokenPowerLaw(_NonlinearLaw):
    """Broken power law (BNSL, Caballero et al. 2022) with 1 or 2 breaks; log residuals.

    ``y = c + b N^(−c0) ∏_i (1 + (N/d_i)^(1/f_i))^(−c_i f_i)``, ``b > 0, c ≥ 0, d_i > 0, f_i > 0``.

    Args:
        breaks: number of breaks, 1 or 2.
        loss: ``"soft_l1"`` (robust, default) or ``"linear"`` (plain least squares).

    ``coef_`` order: ``(floor, amplitude, c0, c1, d1, f1[, c2, d2, f2])`` with breaks sorted by d.
    Fitted attributes: ``floor_`` (c), ``amplitude_`` (b), ``exponent_`` (−c0, the initial slope),
    ``breaks_`` (breaks,) break positions d_i, ``exponents_`` (breaks+1,) local log-log slopes
    ``−c0, −c0−c1, …`` (ignoring the floor), ``sharpness_`` (breaks,) f_i.
    """

    space = "log"

    def __init__(self, *, breaks: int = 1, loss: str = "soft_l1") -> None:
        super().__init__(loss=loss)
        if breaks not in (1, 2):
            raise ValueError(f"breaks must be 1 or 2; got {breaks!r}")
        self.breaks = int(breaks)
        self._n_starts = 2 + self.breaks
        names = ["floor", "amplitude", "c0"]
        for i in range(1, self.breaks + 1):
            names += [f"c{i}", f"d{i}", f"f{i}"]
        self.param_names = tuple(names)

    def get_params(self) -> dict[str, Any]:
        return {"breaks": self.breaks, "loss": self.loss}

    def _positive_mask(self) -> tuple[bool, ...]:
        return (True, True, False) + (False, True, True) * self.breaks

    @staticmethod
    def _log_gap(lnN: NDArray, coef: NDArray) -> NDArray:
        """``ln(b N^(−c0) ∏ …)``: the law without its floor, in log space (stable for any N)."""
        out = np.log(coef[1]) - coef[2] * lnN
        for i in range(3, coef.size, 3):
            ci, di, fi = coef[i : i + 3]
            out = out - ci * fi * np.logaddexp(0.0, (lnN - np.log(di)) / fi)
        return out

    def model(self, lnN: NDArray, coef: NDArray) -> NDArray:
        with np.errstate(divide="ignore"):
            return np.logaddexp(np.log(coef[0]), self._log_gap(lnN, coef))

    def _theta_to_coef(self, theta: NDArray, d: _Data) -> NDArray:
        coef = np.empty_like(theta)
        coef[0] = d.ymin * _softplus(theta[0])
        with np.errstate(over="ignore"):
            coef[1] = np.exp(theta[1] + theta[2] * d.lnN_ref)  # ln b = ln b_ref + c0 ln N_ref
            coef[2] = theta[2]
            for i in range(3, theta.size, 3):
                coef[i] = theta[i]
                coef[i + 1] = np.exp(theta[i + 1])
                coef[i + 2] = np.exp(theta[i + 2])
        return coef

    def _model_grad(self, theta: NDArray, d: _Data) -> NDArray:
        x = d.lnN - d.lnN_ref
        v = theta[0]
        lnG = theta[1] - theta[2] * x  # ln b − c0 ln N, written with b_ref
        cols = [None, None, None]
        terms = []
        for i in range(3, theta.size, 3):
            ci, f = theta[i], math.exp(theta[i + 2])
            u = (d.lnN - theta[i + 1]) / f
            L = np.logaddexp(0.0, u)
            lnG = lnG - ci * f * L
            terms.append((ci, f, u, L))
        wg = expit(lnG - math.log(d.ymin * _softplus(v)))  # share of the floorless term
        cols = [(1.0 - wg) * (expit(v) / _softplus(v)), wg, -wg * x]
        for ci, f, u, L in terms:
            su = expit(u)
            cols += [-wg * f * L, wg * ci * su, -wg * ci * f * (L - u * su)]
        return np.column_stack(cols)

    def _bounds(self, d: _Data) -> tuple[NDArray, NDArray]:
        lo_n, hi_n = float(d.lnN.min()), float(d.lnN.max())
        lo = [_V_MIN, -np.inf, -3.0] + [-8.0, lo_n - 1.0, math.log(SHARPNESS_BOX[0])] * self.breaks
        hi = [5.0, np.inf, 8.0] + [8.0, hi_n + 1.0, math.log(SHARPNESS_BOX[1])] * self.breaks
        return np.array(lo), np.array(hi)

    def _starts(self, d: _Data) -> list[NDArray]:
        lo_n, hi_n = float(d.lnN.min()), float(d.lnN.max())
        if self.breaks == 1:
            qs = np.linspace(0.15, 0.85, 7)
            positions = [(lo_n + q * (hi_n - lo_n),) for q in qs]
        else:
            qs = np.linspace(0.1, 0.9, 6)
            positions = [
                (lo_n + qi * (hi_n - lo_n), lo_n + qj * (hi_n - lo_n))
                for i, qi in enumerate(qs) for qj in qs[i + 1:]
            ]
        x = d.lnN - d.lnN_ref
        starts = []
        for frac in (0.0, 0.5, 0.85):
            z = np.log(d.y - frac * d.ymin)
            for f in (0.25, 1.0):
                for lnd in positions:
                    # with floor, d_i and f_i fixed, ln(y − c) is linear in (ln b_ref, c0, c_i)
                    cols = [np.ones_like(x), -x] + [-f * np.logaddexp(0.0, (d.lnN - ld) / f) for ld in lnd]
                    b = _wlstsq(np.column_stack(cols), z, d.s)
                    th = [_softplus_inv(frac), b[0], b[1]]
                    for k, ld in enumerate(lnd):
                        th += [b[2 + k], ld, math.log(f)]
                    starts.append(np.array(th))
        return starts

    def _postprocess(self, coef: NDArray) -> NDArray:
        # the product over breaks is symmetric in the (c_i, d_i, f_i) triples: sort them by d_i
        triples = coef[3:].reshape(-1, 3)
        return np.concatenate([coef[:3], triples[np.argsort(triples[:, 1])].ravel()])

    def _set_named(self) -> None:
        coef = self.coef_
        triples = coef[3:].reshape(-1, 3)
        self.floor_ = float(coef[0])
        self.amplitude_ = float(coef[1])
        self.exponent_ = float(-coef[2])
        self.breaks_ = triples[:, 1].copy()
        self.sharpness_ = triples[:, 2].copy()
        self.exponents_ = -coef[2] - np.concatenate([[0.0], np.cumsum(triples[:, 0])])

    def _formula(self, digits: int) -> str:
        head = f"{_fmt(self.floor_, digits)} + {_fmt(self.amplitude_, digits)} N^{_fmt(self.exponent_, digits)}"
        tail = ", ".join(
            f"N^{_fmt(s, digits)} after {_fmt(b, digits)}" for b, s in zip(self.breaks_, self.exponents_[1:])
        )
        return f"{head} ({tail})"

    def gap(self, N: ArrayLike) -> NDArray[np.float64]:
        """Distance to the floor, ``b N^(−c0) ∏_i (1 + (N/d_i)^(1/f_i))^(−c_i f_i)`` (m,)."""
        coef = self._coef()
        return np.exp(self._log_gap(np.log(_check_N(N)), coef))


# ------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class LawSpec:
    """One entry of the law registry :data:`LAWS`.

    Attributes:
        name: the registry (and command-line) name, e.g. ``"floor"``.
        cls: the law's class.
        options: constructor options of :meth:`make` (e.g. ``{"breaks": 1}``).
        fits: ``"error"`` (positive, decreasing: MSE, risk, 1 − SSIM) or ``"quality"`` (PSNR, SSIM).
        formula: the law in words, for help texts.
        boxes: parameter name → the optimiser's box ``(lo, hi)`` in reported units; an interval that
            reaches it identifies nothing (``kind="exponent"`` of :func:`bridge.identify.identify`).
    """

    name: str
    cls: type[Law]
    options: dict[str, Any]
    fits: str
    formula: str
    boxes: dict[str, tuple[float, float]]

    @property
    def n_params(self) -> int:
        """Free parameters of the law :meth:`make` builds."""
        return self.make().n_params

    def make(self, **options: Any) -> Law:
        """An unfitted law with the registry's options, overridden by ``options`` (e.g. ``window=``)."""
        return self.cls(**{**self.options, **options})


#: The laws, by name, in the order reports list them: ``power`` β N^α, ``floor`` c + a N^α, ``broken``
#: the one-break BNSL and ``saturating`` y∞ − A N^α (a quality rising to its asymptote).
LAWS: dict[str, LawSpec] = {
    "power": LawSpec("power", PowerLaw, {}, "error", "β N^α", {}),
    "floor": LawSpec("floor", FloorPowerLaw, {}, "error", "c + a N^α", {"exponent": EXPONENT_BOX}),
    "broken": LawSpec("broken", BrokenPowerLaw, {"breaks": 1}, "error", "c + b N^−c0 with one break (BNSL)",
                      {"f1": SHARPNESS_BOX}),
    "saturating": LawSpec("saturating", SaturatingLaw, {}, "quality", "y∞ − A N^α", {"exponent": EXPONENT_BOX}),
}


def law_spec(name: str, *, among: tuple[str, ...] | None = None) -> LawSpec:
    """The registry entry of ``name`` (a registry name such as ``"floor"`` or a class name such as
    ``"FloorPowerLaw"``), restricted to ``among`` when given; a one-line ValueError otherwise."""
    allowed = tuple(LAWS) if among is None else among
    for key in allowed:
        if name in (key, LAWS[key].cls.__name__):
            return LAWS[key]
    raise ValueError(f"law must be one of {', '.join(allowed)}; got {name!r}")
