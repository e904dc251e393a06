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

:class:`PowerLaw` does its least squares in log10 (as the paper does), which gives the same estimate as
a fit of ``ln y``; its residuals, ``rss_``, ``aic_`` and ``bic_`` are in natural-log units like the
other log-space laws so that information criteria are comparable between them. :class:`SaturatingLaw`
fits plain residuals (dB); the others fit in log space. How the laws are fitted (fitting space,
weights, the multi-start loop, ``cov_``, AIC/BIC): :mod:`bridge.lawfit`.

Parametrisation of the nonlinear laws: log amplitudes taken at the geometric-mean ``N_ref`` of the
data (``a N^α = a_ref (N/N_ref)^α``, which decorrelates amplitude and exponent), the floor as
``c = min(y) · softplus(v)``, log break positions and log sharpness. Starting points come from a
deterministic grid derived from the data (floor candidates as fractions of ``min y``, break
candidates at quantiles of ``log N``, exponents from a grid), each completed by linear least
squares for the parameters that enter linearly.

Registry. :data:`LAWS` names every law once (``power``, ``floor``, ``saturating``, ``broken``) with
what it fits (an error or a quality metric) and the optimiser's box of the parameters an interval
can run into; :func:`law_spec` looks one up by that name or by class name. ``reconscale fit``
(:func:`bridge.report.analyse`), ``compare`` (:func:`bridge.compare.compare_fits`) and ``selfsup``
(:func:`bridge.extra.extra_examples`) pick their laws there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from .lawfit import FitData, Law, NonlinearLaw, check_data, check_N, gauss_newton_cov

__all__ = ["EXPONENT_BOX", "LAWS", "SHARPNESS_BOX", "BrokenPowerLaw", "FloorPowerLaw", "Law", "LawSpec", "PowerLaw",
           "SaturatingLaw", "law_spec"]

_LN10 = math.log(10.0)
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


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}g}"


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
        N, y, sigma = check_data(self, N, y, sigma)
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
        cov = gauss_newton_cov(X * w[:, None], rss10, sigma is not None)
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


def _wlstsq(X: NDArray, z: NDArray, s: NDArray) -> NDArray:
    """Weighted linear least squares ``min ‖(z − X b)/s‖``; b: (k,)."""
    b, *_ = np.linalg.lstsq(X / s[:, None], z / s, rcond=None)
    return b


class FloorPowerLaw(NonlinearLaw):
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

    def _theta_to_coef(self, theta: NDArray, d: FitData) -> NDArray:
        v, la_ref, alpha = theta
        with np.errstate(over="ignore"):  # an overflowing trial step gives inf, which least_squares rejects
            return np.array([d.ymin * _softplus(v), np.exp(la_ref - alpha * d.lnN_ref), alpha])

    def _model_grad(self, theta: NDArray, d: FitData) -> NDArray:
        v, la_ref, alpha = theta
        x = d.lnN - d.lnN_ref
        lnc = math.log(d.ymin * _softplus(v))
        wg = expit(la_ref + alpha * x - lnc)  # share of the power-law term in the prediction
        return np.column_stack([(1.0 - wg) * (expit(v) / _softplus(v)), wg, wg * x])

    def _bounds(self, d: FitData) -> tuple[NDArray, NDArray]:
        return np.array([_V_MIN, -np.inf, EXPONENT_BOX[0]]), np.array([5.0, np.inf, EXPONENT_BOX[1]])

    def _starts(self, d: FitData) -> list[NDArray]:
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
        _, a, alpha = self._coef()
        return a * check_N(N) ** alpha


class SaturatingLaw(NonlinearLaw):
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

    def _theta_to_coef(self, theta: NDArray, d: FitData) -> NDArray:
        y_inf, la_ref, alpha = theta
        with np.errstate(over="ignore"):
            return np.array([y_inf, np.exp(la_ref - alpha * d.lnN_ref), alpha])

    def _model_grad(self, theta: NDArray, d: FitData) -> NDArray:
        _, la_ref, alpha = theta
        x = d.lnN - d.lnN_ref
        g = np.exp(la_ref + alpha * x)
        return np.column_stack([np.ones_like(x), -g, -g * x])

    def _bounds(self, d: FitData) -> tuple[NDArray, NDArray]:
        return np.array([-np.inf, -np.inf, EXPONENT_BOX[0]]), np.array([np.inf, np.inf, EXPONENT_BOX[1]])

    def _starts(self, d: FitData) -> list[NDArray]:
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
        return A * check_N(N) ** alpha


class BrokenPowerLaw(NonlinearLaw):
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

    def _theta_to_coef(self, theta: NDArray, d: FitData) -> NDArray:
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

    def _model_grad(self, theta: NDArray, d: FitData) -> NDArray:
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

    def _bounds(self, d: FitData) -> tuple[NDArray, NDArray]:
        lo_n, hi_n = float(d.lnN.min()), float(d.lnN.max())
        lo = [_V_MIN, -np.inf, -3.0] + [-8.0, lo_n - 1.0, math.log(SHARPNESS_BOX[0])] * self.breaks
        hi = [5.0, np.inf, 8.0] + [8.0, hi_n + 1.0, math.log(SHARPNESS_BOX[1])] * self.breaks
        return np.array(lo), np.array(hi)

    def _starts(self, d: FitData) -> list[NDArray]:
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
        return np.exp(self._log_gap(np.log(check_N(N)), coef))


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
