"""The fitting machinery of the scaling laws of :mod:`bridge.laws`: data checks, the :class:`Law` base
class, the multi-start nonlinear least-squares loop (:class:`NonlinearLaw`) and the Gauss–Newton
covariance. The concrete laws and their registry live in :mod:`bridge.laws`; import them from there.

A law is a fitted object in the scikit-learn style (``fit`` returns self, fitted attributes end in ``_``).

Fitting space. Positive, multiplicatively noisy quantities (risk, MSE) are fitted in log space:
residual ``r_i = ln y_i − ln ŷ_i`` (``space = "log"``); a quality in dB (PSNR) or SSIM fits plain
residuals ``r_i = y_i − ŷ_i`` (``space = "linear"``). Given standard errors ``σ_i`` of y, residuals
are divided by ``σ_i`` carried into the fitting space by the delta method (``σ_i / y_i`` in log
space).

Nonlinear fits (:class:`NonlinearLaw`) minimise ``Σ ρ(r_i²)`` with :func:`scipy.optimize.least_squares`
over unconstrained (bounded where sensible) variables θ that each law maps to its reported
parameters. Each law derives deterministic starting points from the data; they are screened by their
cost and the best few are optimised, first with a squared loss, then (``loss="soft_l1"``) with the
robust ``ρ(z) = 2(√(1 + z) − 1)`` at ``f_scale`` = 2 × the robust (MAD) scale of the residuals.

Uncertainty. ``cov_`` is the Gauss–Newton covariance of ``coef_`` (the *reported* parameters):
``s² (JᵀJ)⁻¹`` with ``J = ∂r/∂coef`` at the optimum and ``s² = RSS/(m − p)`` (``(JᵀJ)⁻¹`` unscaled
when σ was given). Because the reparametrisation ``θ ↦ coef`` is a diffeomorphism with Jacobian
``G``, this equals the delta-method transform ``G (J_θᵀ J_θ)⁻¹ Gᵀ`` of the covariance of the
unconstrained variables; taking J in the reported parameters directly keeps it finite where the
reparametrisation saturates (a floor near 0). It is NaN when JᵀJ is singular or m ≤ p unweighted.
Information criteria (Gaussian): ``AIC = m ln(RSS/m) + 2p``, ``BIC = m ln(RSS/m) + p ln m``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares

__all__ = ["FitData", "Law", "NonlinearLaw", "check_N", "check_data", "gauss_newton_cov"]

_FDSTEP = 6e-6  # ≈ eps^(1/3): the central-difference step that balances truncation and rounding
_SINGULAR = 1e-10  # relative singular value below which JᵀJ counts as singular


def _as_1d(x: ArrayLike, name: str) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D with shape (m,); got shape {a.shape}: pass a flat array")
    return a


def check_N(N: ArrayLike) -> NDArray[np.float64]:
    """Training-set sizes as a float array, refused in one line unless finite and positive.

    Args:
        N: (m,) sizes (a scalar is treated as (1,)).

    Returns:
        (m,) float64 copy of N.

    Raises:
        ValueError: N is not 1-D, or has a non-finite or non-positive entry.
    """
    N = _as_1d(N, "N")
    bad = ~np.isfinite(N)
    if bad.any():
        raise ValueError(f"N contains {int(bad.sum())} non-finite values (NaN or inf): drop those points")
    if (N <= 0).any():
        raise ValueError(f"N must be positive; got min {N.min():g}: drop points with N <= 0")
    return N


def check_data(
    law: Law, N: ArrayLike, y: ArrayLike, sigma: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
    """Validate (N, y, sigma) for ``law``: shapes, finiteness, N > 0, y > 0 in log space.

    Args:
        law: the law to be fitted (its ``space`` decides whether y must be positive).
        N: (m,) positive sizes. y: (m,) metric values. sigma: optional (m,) positive standard errors of y.

    Returns:
        ``(N, y, sigma)`` as (m,) float64 arrays (sigma None when not given).

    Raises:
        ValueError: one line naming the problem and the fix.
    """
    name = type(law).__name__
    N = check_N(N)
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


def gauss_newton_cov(J: NDArray, rss: float, weighted: bool) -> NDArray[np.float64]:
    """``s² (JᵀJ)⁻¹`` (J: (m, p)) via an SVD of the column-scaled J; NaN matrix if singular.

    Args:
        J: (m, p) Jacobian of the (weighted) residuals in the reported parameters.
        rss: residual sum of squares at the optimum (sets ``s² = rss/(m − p)`` when unweighted).
        weighted: whether residuals were divided by given standard errors (then ``s² = 1``).

    Returns:
        (p, p) symmetric covariance; all NaN when JᵀJ is singular, J is not finite, or m ≤ p unweighted.
    """
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
        return self.from_space(self.model(np.log(check_N(N)), coef))

    def residuals(self, N: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Unweighted residuals in the fitting space (``ln y − ln ŷ`` or ``y − ŷ``), shape (m,)."""
        coef = self._coef()
        N, y, _ = check_data(self, N, y, None)
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


@dataclass(frozen=True)
class FitData:
    """One fit's data in the fitting space: ln N, target t, scale s (all (m,)), and references.

    Attributes:
        lnN: (m,) natural logarithms of the sizes N.
        y: (m,) the metric in its own units. t: (m,) the metric in the fitting space (``ln y`` or ``y``).
        s: (m,) the residuals' scale in the fitting space (σ carried over, or ones).
        lnN_ref: mean of ``lnN`` (the geometric-mean ``N_ref`` at which amplitudes are taken).
    """

    lnN: NDArray
    y: NDArray
    t: NDArray
    s: NDArray
    lnN_ref: float

    @property
    def ymin(self) -> float:
        """The smallest y (the scale of a floor)."""
        return float(self.y.min())


class NonlinearLaw(Law):
    """Shared multi-start ``least_squares`` machinery; subclasses give θ ↦ coef, bounds and starts.

    Subclasses (the nonlinear laws of :mod:`bridge.laws`) define, besides what :class:`Law` asks for,
    ``_theta_to_coef``, ``_bounds``, ``_starts`` and ``_model_grad`` on a :class:`FitData`, optionally
    ``_postprocess`` and ``_positive`` (or ``_positive_mask``); :meth:`fit` does the rest.

    Args:
        loss: ``"soft_l1"`` (robust, default) or ``"linear"`` (plain least squares).
    """

    _positive: ClassVar[tuple[bool, ...]] = ()  # reported params that must stay > 0 (relative FD steps)
    _n_starts: int = 3  # screened starting points that get optimised

    def __init__(self, *, loss: str = "soft_l1") -> None:
        if loss not in ("soft_l1", "linear"):
            raise ValueError(f"loss must be 'soft_l1' or 'linear'; got {loss!r}")
        self.loss = loss

    def get_params(self) -> dict[str, Any]:
        return {"loss": self.loss}

    @abstractmethod
    def _theta_to_coef(self, theta: NDArray, d: FitData) -> NDArray:
        """Unconstrained variables θ -> reported parameters coef."""

    @abstractmethod
    def _bounds(self, d: FitData) -> tuple[NDArray, NDArray]:
        """Bounds (lo, hi) on θ."""

    @abstractmethod
    def _starts(self, d: FitData) -> list[NDArray]:
        """Deterministic candidate θ derived from the data (screened by cost in ``fit``)."""

    @abstractmethod
    def _model_grad(self, theta: NDArray, d: FitData) -> NDArray:
        """Analytic ∂(fitting-space prediction)/∂θ, shape (m, len(θ))."""

    def _postprocess(self, coef: NDArray) -> NDArray:
        """Canonical form of coef (e.g. breaks sorted); identity by default."""
        return coef

    def _positive_mask(self) -> tuple[bool, ...]:
        return self._positive

    def _resid(self, theta: NDArray, d: FitData) -> NDArray:
        # trial steps may overflow (exp of a large log amplitude) or underflow the amplitude to 0
        # (log 0 = −inf gives the A = 0 model exactly): least_squares rejects non-finite residuals,
        # so the warnings carry no information here
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return (d.t - self.model(d.lnN, self._theta_to_coef(theta, d))) / d.s

    def _resid_jac(self, theta: NDArray, d: FitData) -> NDArray:
        with np.errstate(over="ignore", invalid="ignore"):
            return -self._model_grad(theta, d) / d.s[:, None]

    def fit(self, N: ArrayLike, y: ArrayLike, *, sigma: ArrayLike | None = None) -> NonlinearLaw:
        N, y, sigma = check_data(self, N, y, sigma)
        self._check_distinct(N)
        s = np.ones_like(y) if sigma is None else self._sigma_to_space(sigma, y)
        lnN = np.log(N)
        d = FitData(lnN=lnN, y=y, t=self.to_space(y), s=s, lnN_ref=float(lnN.mean()))
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
        self._set_fit(coef, gauss_newton_cov(J, rss, sigma is not None), rss, N)
        return self

    def _solve(self, th0: NDArray, d: FitData, lo: NDArray, hi: NDArray, loss: str, f_scale: float) -> Any:
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
