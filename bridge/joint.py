r"""The joint data-and-model scaling law: should the next dollar buy data or width?

A sweep trains one network per (N, width) pair, so its results form a grid in the number of training
examples N and the parameter count P. :class:`JointLaw` fits one law across the whole grid, the
additive form with an error floor

.. math::

    E(N, P) = E_\infty + A N^{-\alpha} + B P^{-\beta}, \qquad A, B, \alpha, \beta > 0,\ E_\infty \ge 0,

where E is an error (MSE, NMSE or 1 - SSIM). PSNR results are converted first with
MSE = 10^(-PSNR/10) (data range 1; ``bridge.uncertainty.psnr_to_mse``). The three terms are the
irreducible error, the error of learning from finitely many examples and the error of a finite network.

Fitting. Residuals are taken in log space, r_i = (log y_i - log E(N_i, P_i)) / s_i, with s_i = 1, or
s_i = sigma_i / y_i when standard errors sigma_i of y_i are given (delta method), so a few percent
multiplicative noise is a constant residual scale. ``scipy.optimize.least_squares`` minimises a robust
loss (default ``soft_l1``) of these residuals over the internal, well-conditioned variables

.. math::

    \theta = (v, a, \log\alpha, b, \log\beta), \qquad
    E = y_s \bigl(v + e^{a} (N/N_r)^{-\alpha} + e^{b} (P/P_r)^{-\beta}\bigr),

with y_s = min y, N_r and P_r the geometric means of N and P, v >= 0 (so E_inf = y_s v) and the
exponents bounded to [1e-3, 10]; the reported amplitudes are A = y_s e^a N_r^alpha and
B = y_s e^b P_r^beta. Starts are a deterministic grid of floors (fractions of min y) and exponents,
with the amplitudes of each start solved by non-negative least squares; the best few starts are
refined, first with a plain least-squares pilot whose residual MAD sets the robust loss's
``f_scale``, then with the robust loss. No randomness is involved.

Uncertainty. ``cov_`` is the delta-method covariance of the reported parameters,
G s^2 (J^T J)^{-1} G^T, with J the residual Jacobian in theta at the optimum, G = d(reported)/d(theta),
and s^2 = RSS / (m - 5) (or 1 when ``sigma`` was given, since the residuals are then standardised).
Information criteria are Gaussian: AIC = m log(RSS/m) + 2p, BIC = m log(RSS/m) + p log m, p = 5.

Guidelines. :func:`gain_table` compares, at given (N, P), the predicted gain from twice the data,
E(N, P) - E(2N, P), with the gain from twice the width, E(N, P) - E(N, kP) with k = 4 for a conv net
whose parameter count grows as width^2; both also in dB, 10 log10(E(N, P) / E(2N, P)).
:func:`smallest_width` finds, for each N, the narrowest width whose predicted PSNR, -10 log10 E, is
within a margin of the best over the widths of a sweep, and :func:`params_for_width` interpolates
log P against log width for widths outside the sweep.

The law needs a grid: if every N has its own single width (e.g. only the per-N best width), the N
and P terms are confounded and ``fit`` refuses (ValueError).

Fit quality. After ``fit``, ``residual_rms_`` (RMS log residual), ``seed_std_`` (the seeds' pooled
within-(N, P) spread of log y), ``fit_ratio_`` (their ratio), ``fits_`` (ratio ≤ :data:`FIT_RATIO_MAX`;
None without replicates) and ``fit_verdict_`` ("fits: …" / "does not fit: …") say whether the law
describes the sweep to within its seed noise; :meth:`JointLaw.quality` returns them as a dict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares, nnls

from theory.infra.validation import finite_float

from ._validate import vector
from .uncertainty import mse_to_psnr

__all__ = ["FIT_RATIO_MAX", "JointLaw", "gain_table", "smallest_width", "params_for_width"]

_LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")
_EXP_LO, _EXP_HI = 1e-3, 10.0  # exponent bounds: positive, and no steeper than any plausible law
_AMP_BOUND = 200.0  # |log amplitude| bound of the internal variables, far from any real fit
_N_REFINE = 6  # starts refined by the pilot least squares
_N_ROBUST = 3  # pilot optima refined with the robust loss
#: the law "does not fit" when its RMS log residual exceeds the seeds' pooled spread by this factor: with
#: the right law the ratio is ≈ √((m − 5)/m) ≤ 1 (seed noise only); 1.5× leaves room for a handful of
#: seeds' sampling error of their own spread.
FIT_RATIO_MAX = 1.5


class _Predictor(Protocol):
    def predict(self, N: ArrayLike, *, P: ArrayLike) -> np.ndarray: ...


def _broadcast_np(N: ArrayLike, P: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Positive 1-D N and P broadcast against each other (scalars allowed), each (m,)."""
    n = vector("N", N, positive=True)
    p = vector("P", P, positive=True)
    try:
        n, p = np.broadcast_arrays(n, p)
    except ValueError:
        raise ValueError(f"N and P must have the same length (or one be a scalar); got {n.size} and {p.size}") from None
    return n.astype(float), p.astype(float)


class JointLaw:
    """E(N, P) = floor + A N^-alpha + B P^-beta, fitted in log space across a (N, width) sweep.

    Args:
        loss: robust loss of ``scipy.optimize.least_squares`` for the log residuals ("soft_l1"
            default; "linear" for plain least squares; also "huber", "cauchy", "arctan").

    Attributes (after ``fit``)::

        params_: dict name -> value in ``param_names`` order.
        coef_: (5,) array (floor, A, alpha, B, beta).
        cov_: (5, 5) delta-method covariance of ``coef_`` (NaN if the Jacobian is singular or m = 5
            without ``sigma``).
        rss_: weighted sum of squared log residuals at the optimum.
        aic_, bic_: Gaussian information criteria from ``rss_``.
        n_points_: number of points m.
        n_range_, p_range_: (min, max) of the fitted N and P.
        floor_, A_, alpha_, B_, beta_: the parameters by name (exponents positive: E ~ N^-alpha).
    """

    param_names: tuple[str, ...] = ("floor", "A", "alpha", "B", "beta")
    space: ClassVar[str] = "log"  # residuals are log y - log E, as for the log-space laws of bridge.laws

    def __init__(self, *, loss: str = "soft_l1") -> None:
        if loss not in _LOSSES:
            raise ValueError(f"loss={loss!r} is not supported; choose from {', '.join(_LOSSES)}")
        self.loss = loss

    @property
    def n_params(self) -> int:
        """Number of free parameters (5)."""
        return len(self.param_names)

    def get_params(self) -> dict[str, Any]:
        """Constructor options (what :meth:`clone` copies)."""
        return {"loss": self.loss}

    def clone(self) -> JointLaw:
        """An unfitted copy with the same options."""
        return type(self)(**self.get_params())

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has run."""
        return hasattr(self, "coef_")

    # ------------------------------------------------------------------ model in internal variables
    def _q_and_jac(self, theta: np.ndarray, ln_n: np.ndarray, ln_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """q = E / y_s (m,) and d log q / d theta (m, 5) at internal variables theta (5,)."""
        v, a, la, b, lb = theta
        alpha, beta = np.exp(la), np.exp(lb)
        t_a = np.exp(a - alpha * ln_n)
        t_b = np.exp(b - beta * ln_p)
        q = v + t_a + t_b
        jac = np.column_stack([np.ones_like(q), t_a, -alpha * ln_n * t_a, t_b, -beta * ln_p * t_b]) / q[:, None]
        return q, jac

    def _to_reported(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reported coef (5,) and its Jacobian G = d coef / d theta (5, 5)."""
        v, a, la, b, lb = theta
        alpha, beta = np.exp(la), np.exp(lb)
        ln_nr, ln_pr = self._ln_ref
        amp_a = self._y_scale * np.exp(a + alpha * ln_nr)
        amp_b = self._y_scale * np.exp(b + beta * ln_pr)
        coef = np.array([self._y_scale * v, amp_a, alpha, amp_b, beta])
        g = np.zeros((5, 5))
        g[0, 0] = self._y_scale
        g[1, 1], g[1, 2] = amp_a, amp_a * alpha * ln_nr
        g[2, 2] = alpha
        g[3, 3], g[3, 4] = amp_b, amp_b * beta * ln_pr
        g[4, 4] = beta
        return coef, g

    # ------------------------------------------------------------------ fitting
    def _validate(
        self, N: ArrayLike, y: ArrayLike, P: ArrayLike, sigma: ArrayLike | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        if self.loss not in _LOSSES:
            raise ValueError(f"loss={self.loss!r} is not supported; choose from {', '.join(_LOSSES)}")
        n = vector("N", N, positive=True)
        yy = vector("y", y, positive=True)
        p = vector("P", P, positive=True)
        if not n.size == yy.size == p.size:
            raise ValueError(f"N, y and P must have the same length; got {n.size}, {yy.size} and {p.size}")
        sig = None
        if sigma is not None:
            sig = vector("sigma", sigma, positive=True)
            if sig.size != yy.size:
                raise ValueError(f"sigma must have one entry per point; got {sig.size} for {yy.size} points")
        n_distinct, p_distinct = np.unique(n).size, np.unique(p).size
        if n_distinct < 2:
            raise ValueError(f"fit needs at least 2 distinct N for JointLaw; got {n_distinct}: add training-set sizes")
        if p_distinct < 2:
            raise ValueError(
                f"fit needs at least 2 distinct P for JointLaw; got {p_distinct}: add widths or use a 1-D law"
            )
        if all(np.unique(p[n == v]).size < 2 for v in np.unique(n)):
            raise ValueError(
                "JointLaw needs at least one N trained at two or more widths; every N here has a single width "
                "(e.g. the best width per N), so the N and P terms are confounded: fit the full (N, width) grid"
            )
        pairs = np.unique(np.column_stack([n, p]), axis=0).shape[0]
        if pairs < self.n_params:
            raise ValueError(
                f"fit needs at least {self.n_params} distinct (N, P) points for JointLaw ({self.n_params} parameters); "
                f"got {pairs}: add points"
            )
        return n, yy, p, sig

    def _starts(self, ln_n: np.ndarray, ln_p: np.ndarray, yq: np.ndarray) -> list[np.ndarray]:
        """Deterministic starting points (internal variables) from the data, best-first by plain cost."""
        # data-derived exponent guess: steepest end-to-end log-log slope within any group of equal P (or N)
        def slope(x: np.ndarray, g: np.ndarray) -> float:
            best = 0.0
            for key in np.unique(g):
                sel = g == key
                if np.unique(x[sel]).size >= 2:
                    xs, ls = x[sel], np.log(yq[sel])
                    best = max(best, -(ls[xs.argmax()] - ls[xs.argmin()]) / (xs.max() - xs.min()))
            return float(np.clip(2.0 * best, 0.05, 3.0))  # the floor flattens end slopes: look steeper

        alphas = sorted({0.25, 0.6, 1.2, round(slope(ln_n, ln_p), 3)})
        betas = sorted({0.25, 0.6, 1.2, round(slope(ln_p, ln_n), 3)})
        starts, costs = [], []
        for v0 in (1e-3, 0.5, 0.9):  # floor as a fraction of min y (y_s = min y, so min yq = 1)
            z = yq - v0
            for alpha in alphas:
                for beta in betas:
                    # amplitudes by NNLS on relative errors (a proxy for the log residuals)
                    basis = np.column_stack([np.exp(-alpha * ln_n), np.exp(-beta * ln_p)]) / yq[:, None]
                    amps, _ = nnls(basis, z / yq)
                    amps = np.maximum(amps, 1e-3)
                    theta = np.array([v0, np.log(amps[0]), np.log(alpha), np.log(amps[1]), np.log(beta)])
                    q, _ = self._q_and_jac(theta, ln_n, ln_p)
                    starts.append(theta)
                    costs.append(float(np.sum((np.log(yq) - np.log(q)) ** 2)))
        order = np.argsort(costs, kind="stable")
        return [starts[i] for i in order]

    def fit(self, N: ArrayLike, y: ArrayLike, *, P: ArrayLike, sigma: ArrayLike | None = None) -> JointLaw:
        """Fit the law to a sweep's results.

        Args:
            N: (m,) training-set sizes, positive; repeats allowed (seeds as separate points).
            y: (m,) errors, positive (MSE, NMSE, 1 - SSIM; PSNR via ``bridge.uncertainty.psnr_to_mse``).
            P: (m,) parameter counts of the networks, positive.
            sigma: optional (m,) positive standard errors of y (units of y), used as weights
                sigma/y in log space; ``cov_`` is then not rescaled by the residual variance.

        Returns:
            self, fitted.

        Raises:
            ValueError: on bad shapes or values, too few distinct N, P or (N, P) points, or when no
                start converges.
        """
        n, yy, p, sig = self._validate(N, y, P, sigma)
        self._y_scale = float(yy.min())
        self._ln_ref = (float(np.mean(np.log(n))), float(np.mean(np.log(p))))
        ln_n, ln_p = np.log(n) - self._ln_ref[0], np.log(p) - self._ln_ref[1]
        yq = yy / self._y_scale
        ln_y = np.log(yq)
        w = np.ones_like(yy) if sig is None else yy / sig  # 1 / (sigma / y)

        def fun(theta: np.ndarray) -> np.ndarray:
            q, _ = self._q_and_jac(theta, ln_n, ln_p)
            return (ln_y - np.log(q)) * w

        def jac(theta: np.ndarray) -> np.ndarray:
            _, dq = self._q_and_jac(theta, ln_n, ln_p)
            return -dq * w[:, None]

        lo = np.array([0.0, -_AMP_BOUND, np.log(_EXP_LO), -_AMP_BOUND, np.log(_EXP_LO)])
        hi = np.array([np.inf, _AMP_BOUND, np.log(_EXP_HI), _AMP_BOUND, np.log(_EXP_HI)])

        def solve(theta0: np.ndarray, loss: str, f_scale: float) -> Any:
            x0 = np.clip(theta0, lo + 1e-9, hi - 1e-9)
            try:
                # overflow/invalid in trial steps far from the optimum are rejected by the solver itself
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    res = least_squares(fun, x0, jac=jac, bounds=(lo, hi), loss=loss, f_scale=f_scale,
                                        method="trf", x_scale="jac", max_nfev=2000)
            except (ValueError, np.linalg.LinAlgError):
                return None
            return res if np.all(np.isfinite(res.fun)) and np.isfinite(res.cost) else None

        starts = self._starts(ln_n, ln_p, yq)[:_N_REFINE]
        pilots = [r for r in (solve(t, "linear", 1.0) for t in starts) if r is not None]
        if not pilots:
            raise ValueError("JointLaw fit failed from every start: check that y decreases with N and P")
        pilots.sort(key=lambda r: r.cost)
        best = pilots[0]
        if self.loss != "linear":
            # f_scale from the robust (MAD) scale of the pilot residuals, so inliers stay in the quadratic zone
            mad = 1.4826 * float(np.median(np.abs(best.fun)))
            f_scale = max(2.0 * mad, np.sqrt(np.finfo(float).eps))
            robust = [r for r in (solve(r0.x, self.loss, f_scale) for r0 in pilots[:_N_ROBUST]) if r is not None]
            if robust:
                best = min(robust, key=lambda r: r.cost)

        theta = best.x
        resid = fun(theta)
        m, k = yy.size, self.n_params
        self.rss_ = float(np.sum(resid**2))
        coef, g = self._to_reported(theta)
        self.coef_ = coef
        self.params_ = dict(zip(self.param_names, (float(c) for c in coef)))
        self.floor_, self.A_, self.alpha_, self.B_, self.beta_ = (float(c) for c in coef)
        self.n_points_ = m
        self.n_range_ = (float(n.min()), float(n.max()))
        self.p_range_ = (float(p.min()), float(p.max()))
        self.cov_ = self._covariance(jac(theta), g, m, k, scaled=sig is None)
        with np.errstate(divide="ignore"):  # an exact fit has rss 0 and AIC -inf, which is the honest value
            log_term = m * np.log(self.rss_ / m)
        self.aic_ = float(log_term + 2 * k)
        self.bic_ = float(log_term + k * np.log(m))
        self._set_quality(n, p, yy)
        return self

    def _set_quality(self, n: np.ndarray, p: np.ndarray, yy: np.ndarray) -> None:
        """Residuals against the seeds' spread: ``fit_ratio_ = residual_rms_ / seed_std_``.

        ``residual_rms_`` is the RMS of the unweighted log residuals ``log y − log E`` over all points,
        ``seed_std_`` the pooled within-(N, P) standard deviation of ``log y`` (the seeds' spread; NaN
        without replicates). ``fits_`` is ``fit_ratio_ <= FIT_RATIO_MAX`` (None without replicates) and
        ``fit_verdict_`` says it in words: a law whose residuals exceed the seeds' spread by more than
        :data:`FIT_RATIO_MAX` "does not fit".
        """
        ln_y = np.log(yy)
        resid = ln_y - np.log(self.predict(n, P=p))
        self.residual_rms_ = float(np.sqrt(np.mean(resid**2)))
        ss, dof = 0.0, 0
        for key in np.unique(np.column_stack([n, p]), axis=0):
            v = ln_y[(n == key[0]) & (p == key[1])]
            if v.size >= 2:
                ss += float(np.sum((v - v.mean()) ** 2))
                dof += v.size - 1
        self.seed_std_ = float(np.sqrt(ss / dof)) if dof > 0 and ss > 0 else float("nan")
        if np.isfinite(self.seed_std_):
            self.fit_ratio_ = self.residual_rms_ / self.seed_std_
            self.fits_: bool | None = bool(self.fit_ratio_ <= FIT_RATIO_MAX)
            verdict = "fits" if self.fits_ else "does not fit"
            self.fit_verdict_ = (f"{verdict}: RMS log residual {self.residual_rms_:.3g} is {self.fit_ratio_:.2f}× "
                                 f"the seeds' spread {self.seed_std_:.3g} (threshold {FIT_RATIO_MAX:g}×)")
        else:
            self.fit_ratio_, self.fits_ = float("nan"), None
            self.fit_verdict_ = (f"fit not checked: no (N, P) point has two or more seeds to measure their spread "
                                 f"(RMS log residual {self.residual_rms_:.3g})")

    def quality(self) -> dict[str, Any]:
        """``{"residual_rms", "seed_std", "ratio", "fits", "verdict", "threshold"}`` (see ``fit``)."""
        self._check_fitted()
        return {"residual_rms": self.residual_rms_, "seed_std": self.seed_std_, "ratio": self.fit_ratio_,
                "fits": self.fits_, "verdict": self.fit_verdict_, "threshold": FIT_RATIO_MAX}

    def _covariance(self, jac: np.ndarray, g: np.ndarray, m: int, k: int, *, scaled: bool) -> np.ndarray:
        """G s^2 (J^T J)^-1 G^T, (k, k); NaN where singular or s^2 undefined."""
        nan = np.full((k, k), np.nan)
        if scaled and m <= k:
            return nan
        s2 = self.rss_ / (m - k) if scaled else 1.0
        _, sv, vt = np.linalg.svd(jac, full_matrices=False)
        if sv.size < k or sv[-1] <= sv[0] * 1e-12:
            return nan
        inv = (vt.T / sv**2) @ vt
        cov = g @ (s2 * inv) @ g.T
        return 0.5 * (cov + cov.T)

    # ------------------------------------------------------------------ using the fit
    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise ValueError("this JointLaw is not fitted yet: call fit(N, y, P=...) before predict")

    def predict(self, N: ArrayLike, *, P: ArrayLike) -> np.ndarray:
        """Predicted error E(N, P).

        Args:
            N: (m,) or scalar training-set sizes, positive.
            P: (m,) or scalar parameter counts, positive (broadcast against N).

        Returns:
            (m,) predicted errors.
        """
        self._check_fitted()
        n, p = _broadcast_np(N, P)
        floor, amp_a, alpha, amp_b, beta = self.coef_
        return floor + amp_a * n ** (-alpha) + amp_b * p ** (-beta)

    def residuals(self, N: ArrayLike, y: ArrayLike, *, P: ArrayLike) -> np.ndarray:
        """Unweighted fitting-space residuals log y - log E(N, P), (m,)."""
        self._check_fitted()
        n, p = _broadcast_np(N, P)
        yy = vector("y", y, positive=True)
        if yy.size != n.size:
            raise ValueError(f"y must have one entry per (N, P) point; got {yy.size} for {n.size}")
        return np.log(yy) - np.log(self.predict(n, P=p))

    def label(self) -> str:
        """Short legend text, e.g. '0.002 + 0.5 N^-0.60 + 3 P^-0.50'."""
        self._check_fitted()
        f, a, alpha, b, beta = self.coef_
        return f"{f:.3g} + {a:.3g} N^-{alpha:.2f} + {b:.3g} P^-{beta:.2f}"

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"JointLaw(loss={self.loss!r})"
        f, a, alpha, b, beta = self.coef_
        return f"JointLaw(loss={self.loss!r}, y = {f:.4g} + {a:.4g} N^-{alpha:.4g} + {b:.4g} P^-{beta:.4g})"


# ---------------------------------------------------------------------- guidelines
def gain_table(
    law: _Predictor,
    N: ArrayLike,
    P: ArrayLike,
    *,
    width: ArrayLike | None = None,
    width_factor_params: float = 4.0,
) -> list[dict[str, Any]]:
    """Data or model? The predicted gain from 2x data against 2x width at each (N, P).

    Args:
        law: a fitted law with ``predict(N, *, P)`` (e.g. :class:`JointLaw`).
        N: (m,) or scalar training-set sizes.
        P: (m,) or scalar parameter counts (broadcast against N).
        width: optional (m,) widths, only copied into the rows.
        width_factor_params: factor on P for twice the width (4 for a conv net, P ~ width^2).

    Returns:
        m rows with keys N, P, (width), error = E(N, P), error_2x_data = E(2N, P),
        error_2x_width = E(N, k P), gain_data and gain_model (absolute error reductions),
        rel_gain_data and rel_gain_model (reductions divided by E(N, P)), gain_data_db and
        gain_model_db (10 log10 of the error ratios; PSNR gains for MSE), and better: "data" or
        "model", whichever gain is larger ("tie" if exactly equal).
    """
    k = finite_float("width_factor_params", width_factor_params, "the factor on P for twice the width, e.g. 4.0")
    if k <= 1.0:
        raise ValueError(f"width_factor_params must exceed 1; got {k:g}: use 4.0 for P ~ width^2, 2.0 for P ~ width")
    n, p = _broadcast_np(N, P)
    widths = None
    if width is not None:
        widths = vector("width", width, positive=True)
        if widths.size != n.size:
            raise ValueError(f"width must have one entry per (N, P) point; got {widths.size} for {n.size}")
    e0 = law.predict(n, P=p)
    e_data = law.predict(2.0 * n, P=p)
    e_model = law.predict(n, P=k * p)
    rows = []
    for i in range(n.size):
        db_data = float(10.0 * np.log10(e0[i] / e_data[i]))
        db_model = float(10.0 * np.log10(e0[i] / e_model[i]))
        row: dict[str, Any] = {"N": float(n[i]), "P": float(p[i])}
        if widths is not None:
            row["width"] = float(widths[i])
        row.update(
            error=float(e0[i]),
            error_2x_data=float(e_data[i]),
            error_2x_width=float(e_model[i]),
            gain_data=float(e0[i] - e_data[i]),
            gain_model=float(e0[i] - e_model[i]),
            rel_gain_data=float((e0[i] - e_data[i]) / e0[i]),
            rel_gain_model=float((e0[i] - e_model[i]) / e0[i]),
            gain_data_db=db_data,
            gain_model_db=db_model,
            better="data" if db_data > db_model else "model" if db_model > db_data else "tie",
        )
        rows.append(row)
    return rows


def smallest_width(
    law: _Predictor,
    N: ArrayLike,
    widths: Sequence[float] | np.ndarray,
    params: Sequence[float] | np.ndarray,
    *,
    margin_db: float = 0.1,
) -> list[dict[str, Any]]:
    """For each N, the narrowest width predicted within ``margin_db`` of the best over ``widths``.

    The predicted PSNR of an error E is -10 log10 E (data range 1), so the criterion is
    10 log10(E(N, P_w) / min_w' E(N, P_w')) <= margin_db, which is scale-free for any error.

    Args:
        law: a fitted law with ``predict(N, *, P)``.
        N: (k,) or scalar training-set sizes.
        widths: (w,) widths of the sweep (any order, distinct).
        params: (w,) parameter count of each width.
        margin_db: tolerated PSNR shortfall in dB, >= 0.

    Returns:
        k rows with keys N, width, params, error, psnr (of the chosen width), best_width, best_psnr
        and shortfall_db (best_psnr - psnr, <= margin_db).
    """
    margin = finite_float("margin_db", margin_db, "the tolerated PSNR shortfall in dB, e.g. 0.1")
    if margin < 0:
        raise ValueError(f"margin_db must be >= 0; got {margin:g}")
    n = vector("N", N, positive=True)
    w = vector("widths", widths, positive=True)
    pw = vector("params", params, positive=True)
    if w.size != pw.size:
        raise ValueError(f"widths and params must have the same length; got {w.size} and {pw.size}")
    if np.unique(w).size != w.size:
        raise ValueError("widths must be distinct: give each width once with its parameter count")
    order = np.argsort(w)
    w, pw = w[order], pw[order]
    rows = []
    for n_i in n:
        err = law.predict(np.full(w.size, n_i), P=pw)
        psnr = np.asarray(mse_to_psnr(err), dtype=float)
        best = int(np.argmax(psnr))
        shortfall = psnr[best] - psnr
        pick = int(np.flatnonzero(shortfall <= margin + 1e-12)[0])  # widths sorted: first hit is the narrowest
        rows.append({
            "N": float(n_i), "width": float(w[pick]), "params": float(pw[pick]), "error": float(err[pick]),
            "psnr": float(psnr[pick]), "best_width": float(w[best]), "best_psnr": float(psnr[best]),
            "shortfall_db": float(shortfall[pick]),
        })
    return rows


def params_for_width(
    widths: Sequence[float] | np.ndarray, params: Sequence[float] | np.ndarray
) -> Callable[[ArrayLike], Any]:
    """Parameter count as a function of width, piecewise linear in log P vs log width.

    Beyond the sweep the end segments are extended (a power law, e.g. P ~ width^2 for a conv net).

    Args:
        widths: (w,) distinct positive widths, w >= 2.
        params: (w,) positive parameter counts.

    Returns:
        f(width) -> parameter counts of the same shape as ``width`` (a float for a scalar).
    """
    w = vector("widths", widths, positive=True)
    pw = vector("params", params, positive=True)
    if w.size != pw.size:
        raise ValueError(f"widths and params must have the same length; got {w.size} and {pw.size}")
    if w.size < 2 or np.unique(w).size != w.size:
        raise ValueError(f"params_for_width needs at least 2 distinct widths; got {list(w)}: give each width once")
    order = np.argsort(w)
    lw, lp = np.log(w[order]), np.log(pw[order])
    slope_lo = (lp[1] - lp[0]) / (lw[1] - lw[0])
    slope_hi = (lp[-1] - lp[-2]) / (lw[-1] - lw[-2])

    def f(width: ArrayLike) -> Any:
        arr = np.asarray(width, dtype=float)
        if not np.all(np.isfinite(arr) & (arr > 0)):
            raise ValueError("width must be positive and finite: parameter counts are interpolated in log width")
        x = np.log(arr)
        out = np.interp(x, lw, lp)
        out = np.where(x < lw[0], lp[0] + slope_lo * (x - lw[0]), out)
        out = np.where(x > lw[-1], lp[-1] + slope_hi * (x - lw[-1]), out)
        out = np.exp(out)
        return float(out) if out.ndim == 0 else out

    return f
