r"""Data-free expected risk: the least-squares identity, the large-N law, and the random-matrix
(deterministic-equivalent) risk of the whole GD path.

Setting (any Gaussian model of :mod:`theory.problem`): Σ = Σ_y has distinct eigenvalues λ_j with
multiplicities n_j; Ω = W*ᵀW* enters through ω_j = tr(P_j Ω); Ŝ = Y Yᵀ/N. Every spectral
estimator is W = X Yᵀ p(Ŝ)/N with filter φ(s) = s·p(s) (GD: φ = 1 − (1 − τs)^k, τ = ηN).
Integrating the targets' noise out (x = W*y + e, e ⊥ y) gives exactly

    E R = R* + E[ tr(Ω (I−φ(Ŝ)) Σ (I−φ(Ŝ))) + tr Σ_e · tr(Σ ψ(Ŝ))/N ] / tr Σ_x,   ψ(s) = φ(s)²/s.

**Large-N law** (:func:`large_n_curve`): replace Ŝ by Σ. Then

    E R ≈ R* + [ Σ_j ω_j λ_j (1 − φ(λ_j))² + tr Σ_e · Σ_j n_j φ(λ_j)² / N ] / tr Σ_x,

floor + signal-learning error (bias) + a variance that decays as 1/N. For subspace denoising
with the paper's step, early-stopped GD learns the d signal directions in a few steps while the
n − d noise directions stay unlearned, so the excess is ≈ R*·d/N.

**Deterministic equivalent** (:func:`rmt_curve`), valid for any N, k in the proportional regime.
With the companion Stieltjes transform m(z) of Yᵀ Y/N, solving (Silverstein)

    z = −1/m + (1/N) Σ_j n_j λ_j / (1 + λ_j m),     r_j(z) = 1/(1 + λ_j m(z)),

the resolvent Q(z) = (Ŝ − z)⁻¹ has equivalent Q̄ = −diag(r_j)/z, and the two-resolvent
equivalent is  E tr(Ω Q(z₁) Σ Q(z₂)) ≈ Σ_j ω_j λ_j q_j(z₁) q_j(z₂) / (1 − c(z₁, z₂)),

    c(z₁, z₂) = (1/N) Σ_j n_j λ_j² m(z₁) m(z₂) r_j(z₁) r_j(z₂).

Writing φ(Ŝ) = −(1/2πi)∮ φ(z) Q(z) dz and p(z) = φ(z)/z (regular at the atom z = 0):

    φ̄_j = (1/2πi)∮ p r_j dz,   ψ̄_j = (1/2πi)∮ p² r_j dz,
    D   = (1/2πi)² ∮∮ p(z₁) p(z₂) Σ_j ω_j λ_j r_j(z₁) r_j(z₂) / (1 − c(z₁,z₂)) dz₁ dz₂,
    E R ≈ R* + [ Σ_j ω_j λ_j (1 − 2 φ̄_j) + D + tr Σ_e · Σ_j n_j λ_j ψ̄_j / N ] / tr Σ_x.

**Noisy targets** (t = x + z′, z′ ~ N(0, σ_t² I_n) ⊥ y; ``target_sigma``): the fitted residual is
e + z′, still Gaussian and independent of y, so both forms hold exactly as derived with tr Σ_e
replaced by tr Σ_e + n σ_t² (``PopulationSpectrum.trace_e_target``) in the variance term — and
only there: R*, Ω and the bias are those of the clean x. Nothing else in the derivation changes,
so the large-N law and the deterministic equivalent extend to every filter (gd, gf, ridge, ols)
and to argmin stopping on their curves; what needs draws (pca, gd-val) needs them as before.

The contour is a Bernstein ellipse around the limiting support [a, b] of Ŝ's nonzero spectrum,
as wide as the filter allows (|1 − τz|^k stays bounded on it), and the trapezoid rule in the
ellipse angle converges geometrically; the quadrature error is estimated by halving the nodes.
Least squares and ridge have a pole at z = 0 (or −λ/N) instead of growth: their ellipse lives in
w = log z (:func:`log_ellipse`, as :mod:`theory.data_asymptotics` uses for every filter), which
excludes the whole negative axis however many decades [a, b] spans. (A z-plane ellipse that must
stay right of a/2 is a sliver ρ → 1 when b ≫ a, as on photo spectra: it needed more nodes than
allowed, and its vertex came closer to b than the edge solver resolved.)
As N → ∞ (m → −1/z) it reduces to the large-N law; for least squares it gives R*·N/(N − m)
against the exact R*·(N − 1)/(N − m − 1).

Accuracy (measured, see tests and the README): within a few percent of Monte Carlo for n ≥ 400,
d ≥ 40 at N/n ∈ [0.1, 0.5] ∪ [2, 64] and k ≤ k_opt; for the paper's d = 10 setups the finite-d
fluctuations of the signal directions are not captured as well (the equivalent treats the d
spikes as a thin bulk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from .estimators import gd_filter, gf_filter, lr_is_unstable, ridge_filter
from .problem import Population, PopulationSpectrum

__all__ = [
    "ols_expected_risk",
    "large_n_curve",
    "rmt_curve",
    "check_rmt_sigma",
    "spectrum_support",
    "FILTER_KINDS",
    "check_filter_values",
    "SpectralFilter",
    "solve_stieltjes",
    "log_ellipse",
    "log_ellipse_rho",
    "LOG_CONTOUR_ARG_CAP",
]

FILTER_KINDS = ("gd", "gf", "ridge", "ols")
_MAX_NODES = 8192
#: largest |arg z| on a log-plane contour (radians): away from the negative axis and the branch cut
LOG_CONTOUR_ARG_CAP = 1.2


def ols_expected_risk(pop: Population, N: int) -> float:
    """Exact E R(W^∞) = R* + (tr Σ_e + n σ_t²)/tr Σ_x · m/(N − m − 1) for N > m + 1 (Gaussian y,
    full-rank Σ_y); = R*·(N − 1)/(N − m − 1) for clean targets (σ_t = 0).

    From E[(YYᵀ)⁻¹] = Σ_y⁻¹/(N − m − 1) (inverse Wishart) and T = W*Y + E′ with E′ ⊥ Y
    (E′ = E + σ_t Z′, the residual plus the targets' noise).
    """
    if N <= pop.m + 1:
        raise ValueError(f"the least-squares identity needs N > m + 1 = {pop.m + 1}; got N={N}")
    if pop.target_sigma == 0:
        return pop.floor * (N - 1) / (N - pop.m - 1)
    return pop.floor + pop.trace_e_target / pop.trace_x * pop.m / (N - pop.m - 1)


def check_filter_values(kind: str, values: Any) -> np.ndarray:
    """The parameters of a filter family as a float array, or a one-line ValueError.

    Args:
        kind: one of :data:`FILTER_KINDS` (``"gd"`` steps k, ``"gf"`` times t, ``"ridge"`` λ, ``"ols"``).
        values: scalar or 1-D sequence of finite numbers ≥ 0 (ignored for ``"ols"``).

    Returns:
        (K,) float array; ``[nan]`` (K = 1) for ``"ols"``, which has no parameter.
    """
    if kind not in FILTER_KINDS:
        raise ValueError(f"unknown filter kind {kind!r}; use one of {', '.join(FILTER_KINDS)}")
    if kind == "ols":
        return np.array([np.nan])
    vals = np.atleast_1d(np.asarray(values, dtype=float))
    if vals.ndim != 1 or np.any(vals < 0) or not np.all(np.isfinite(vals)):
        raise ValueError(f"{kind} values must be a 1-D array of finite numbers ≥ 0")
    return vals


def _population_filter(kind: str, values: np.ndarray, x: np.ndarray, lr: float) -> np.ndarray:
    """φ at the eigenvalues x of N·Σ_y (large-N law), shape (K, J)."""
    if kind == "gd":
        return gd_filter(x, values, lr)[0]
    if kind == "gf":
        return gf_filter(x, values, lr)[0]
    if kind == "ridge":
        return ridge_filter(x, values)[0]
    return np.ones((1, x.size))


def large_n_curve(pop: Population, N: int, kind: str, values: Any = None, *, lr: float | str = "paper",
                  spectrum: PopulationSpectrum | None = None) -> np.ndarray:
    """Large-N law of E R for a filter family (Ŝ replaced by Σ_y).

    Args:
        pop: population. N: training-set size. kind: ``"gd"`` (values = steps k), ``"gf"``
            (times t), ``"ridge"`` (λ on the un-normalised loss) or ``"ols"``.
        lr: ``"paper"`` or the step η (gd, gf).

    Returns:
        (K,) expected risks.
    """
    vals = check_filter_values(kind, values)
    sp = spectrum if spectrum is not None else pop.spectrum()
    eta = pop.paper_lr(N) if lr == "paper" else float(lr)
    if kind == "gd" and lr_is_unstable(eta * N, sp.lam[0]):  # same boundary (and tolerance) as check_lr
        raise ValueError(f"lr={eta:.4g} is unstable for the population: η·N·λ_max(Σ_y) ≥ 2; use a smaller lr")
    f = _population_filter(kind, vals, N * sp.lam, eta)
    bias = ((1.0 - f) ** 2) @ (sp.omega * sp.lam)
    var = sp.trace_e_target * (f**2 @ sp.mult) / N
    return sp.floor + (bias + var) / sp.trace_x


# ---------------------------------------------------------------------- random-matrix theory
def _z_of_m(m: np.ndarray, lam: np.ndarray, mult: np.ndarray, N: int) -> np.ndarray:
    """Silverstein's inverse map z(m) = −1/m + (1/N) Σ n_j λ_j/(1 + λ_j m)."""
    return -1.0 / m + (mult * lam / (1.0 + np.multiply.outer(m, lam))).sum(-1) / N


def spectrum_support(sp: PopulationSpectrum, N: int) -> tuple[float, float]:
    """Hull [a, b] of the limiting support of Ŝ's nonzero eigenvalues.

    b = min of z(m) on (−1/λ_max, 0) (first minimum from 0); a = max of z(m) on (−∞, −1/λ_min)
    (first maximum from −∞); a = 0 when the spectrum reaches 0 (N ≈ m, hard edge).
    """
    lam, mult = sp.lam, sp.mult
    tail = np.concatenate([np.logspace(-9, np.log10(0.5), 3000), 1.0 - np.logspace(np.log10(0.5), -13, 3000)[1:]])

    def first_extremum(ms: np.ndarray, sign: float) -> tuple[float, float]:
        zs = sign * _z_of_m(ms, lam, mult, N)
        i = int(np.argmax(np.diff(zs) > 0)) if np.any(np.diff(zs) > 0) else len(zs) - 2
        lo, hi = ms[max(i - 1, 0)], ms[min(i + 1, len(ms) - 1)]
        res = minimize_scalar(lambda t: sign * _z_of_m(np.array([t]), lam, mult, N)[0],
                              bounds=(min(lo, hi), max(lo, hi)), method="bounded",
                              options={"xatol": 1e-14 * max(abs(lo), abs(hi))})
        return float(res.x), float(sign * res.fun)

    _, b = first_extremum(-tail / lam[0], +1.0)  # m from 0⁻ towards −1/λ_max
    if sp.mult.sum() > N:
        # N < m: the gap (0, a) below the bulk maps to m > 0 (z rises from −∞, peaks at a, → 0⁺)
        ms = np.logspace(-8, 14, 6000) / lam[-1]
        zs = _z_of_m(ms, lam, mult, N)
        i = int(np.argmax(zs))
        res = minimize_scalar(lambda t: -_z_of_m(np.array([t]), lam, mult, N)[0],
                              bounds=(ms[max(i - 1, 0)], ms[min(i + 1, ms.size - 1)]), method="bounded",
                              options={"xatol": 1e-14 * ms[i]})
        a = -float(res.fun)
    else:
        _, a = first_extremum(-1.0 / (lam[-1] * tail), -1.0)  # m from −∞ towards −1/λ_min
    return max(a, 0.0), b


@dataclass(frozen=True)
class SpectralFilter:
    """A filter family φ(s) = s·p(s) off the real axis: p(z) = φ(z)/z on a contour, and its growth.

    Shared by the deterministic equivalents of :func:`rmt_curve` and
    :class:`~theory.data_asymptotics.DataEquivalent`.

    Attributes:
        kind: one of :data:`FILTER_KINDS`.
        values: (K,) steps k (gd), times t (gf), or the *normalised* ridge λ/N (ridge); ignored for ols.
        tau: η·N, the step times the training-set size (gd, gf).
    """

    kind: str
    values: np.ndarray
    tau: float  # η N

    def p(self, z: np.ndarray) -> np.ndarray:
        """p(z) = φ(z)/z at complex nodes z, shape (M,) → (K, M) (regular at z = 0)."""
        v = self.values[:, None]
        if self.kind == "gd":
            L = np.log1p(-self.tau * z)[None, :]
            with np.errstate(invalid="ignore"):
                out = self.tau * np.expm1(v * L) / np.expm1(L)
            return np.where(v == 0, 0.0, out)
        if self.kind == "gf":
            x = self.tau * v * z[None, :]
            with np.errstate(invalid="ignore", divide="ignore"):
                out = -np.expm1(-x) / z[None, :]
            return np.where(v == 0, 0.0, out)
        if self.kind == "ridge":
            return 1.0 / (z[None, :] + v)
        return (1.0 / z)[None, :]

    def log_growth(self, z: np.ndarray) -> np.ndarray:
        """log of the largest |1 − φ(z)| over the family (must stay O(1) on the contour)."""
        kmax = float(self.values.max()) if self.kind in ("gd", "gf") else 0.0
        if self.kind == "gd":
            return kmax * np.log(np.abs(1.0 - self.tau * z))
        if self.kind == "gf":
            return -kmax * self.tau * z.real
        return np.zeros(z.shape)


def _ellipse(a: float, b: float, rho: float, M: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w (for (1/2πi)∮ f dz ≈ Σ w f(z)) on the Bernstein ellipse E_ρ of [a, b]."""
    c0, r0 = (a + b) / 2, (b - a) / 2
    theta = 2 * np.pi * (np.arange(M) + 0.5) / M
    xi = rho * np.exp(1j * theta)
    z = c0 + r0 * (xi + 1 / xi) / 2
    w = r0 * (xi - 1 / xi) / (2 * M)  # (dz/dθ)(2π/M)/(2πi)
    return z, w


def log_ellipse(a: float, b: float, rho: float, M: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z = e^w and weights (for (1/2πi)∮ f dz ≈ Σ weight·f(z)) on a Bernstein ellipse in w = log z.

    Args:
        a, b: the support's hull, 0 < a < b. rho: the ellipse's parameter (> 1). M: nodes (even).

    Returns:
        (z, weight), each (M,), ordered by angle from the right vertex (upper half first).
    """
    c0, r0 = (np.log(a) + np.log(b)) / 2, (np.log(b) - np.log(a)) / 2
    theta = 2 * np.pi * (np.arange(M) + 0.5) / M
    xi = rho * np.exp(1j * theta)
    z = np.exp(c0 + r0 * (xi + 1 / xi) / 2)
    return z, z * r0 * (xi - 1 / xi) / (2 * M)


def log_ellipse_rho(a: float, b: float) -> float:
    """The widest :func:`log_ellipse` of [a, b] with |arg z| ≤ :data:`LOG_CONTOUR_ARG_CAP`:
    r0(ρ − 1/ρ)/2 ≤ cap with r0 = log(b/a)/2."""
    t = LOG_CONTOUR_ARG_CAP / ((np.log(b) - np.log(a)) / 2)
    return float(t + np.sqrt(t * t + 1))


def _choose_rho(filt: SpectralFilter, a: float, b: float, rho_max: float = 3.0, growth: float = 3.0) -> float:
    """Widest z-plane ellipse on which a gd/gf filter stays bounded (``|1 − φ| ≤ e^growth``)."""

    def ok(rho: float) -> bool:
        z, _ = _ellipse(a, b, rho, 2048)
        return bool(filt.log_growth(z).max() <= growth)

    if ok(rho_max):
        return rho_max
    lo, hi = 1.0, rho_max
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    if lo <= 1.0 + 1e-9:
        raise ValueError("asymptotic method: the spectrum reaches 0 (N ≈ m or σ = 0); no contour fits — use montecarlo")
    return lo


def solve_stieltjes(z: np.ndarray, lam: np.ndarray, mult: np.ndarray, N: int, b: float) -> np.ndarray:
    """The companion Stieltjes transform m(z) of Yᵀ Y/N on the upper half of a contour, by Newton
    continuation of Silverstein's equation z = −1/m + (1/N) Σ_j n_j λ_j/(1 + λ_j m).

    Starts from the real solution at the right vertex (z > b, m ∈ (m_b, 0)) and walks along the
    ellipse, subdividing steps where Newton does not converge; the lower half is the conjugate.

    Args:
        z: (M,) complex nodes of the contour's upper half, ordered by angle from the right vertex.
        lam: (J,) distinct eigenvalues of Σ_y, descending. mult: (J,) their multiplicities.
        N: training-set size. b: right edge of the support (:func:`spectrum_support`); z[0] > b.

    Returns:
        (M,) complex m(z).

    Raises:
        RuntimeError: the continuation does not converge.
    """

    def F(mv: complex, zv: complex) -> tuple[complex, complex]:
        t = 1.0 + lam * mv
        f = zv + 1.0 / mv - np.sum(mult * lam / t) / N
        df = -1.0 / mv**2 + np.sum(mult * lam**2 / t**2) / N
        return f, df

    def newton(m0: complex, zt: complex) -> complex | None:
        mv = m0
        for _ in range(40):
            f, df = F(mv, zt)
            step = f / df
            mv = mv - step
            if abs(step) <= 1e-14 * abs(mv):
                return mv
        return None

    z0 = z[0].real

    def z_of(t: float) -> float:
        return float(_z_of_m(np.array([t]), lam, mult, N)[0])

    # bracket the increasing branch: between the minimiser (edge b) and 0⁻. The grid's minimum is only
    # near the minimiser; refine it, because a contour that must hug a wide support (least squares and
    # ridge keep Re z > a/2, so ρ → 1 when b ≫ a, as on photo spectra) puts its vertex z0 closer to b
    # than the grid's error (it then found no sign change)
    ms = -np.logspace(-14, 0, 4000)[::-1] / lam[0] * (1 - 1e-12)
    i = int(np.argmin(_z_of_m(ms, lam, mult, N)))
    lo_i, hi_i = ms[max(i - 1, 0)], ms[min(i + 1, ms.size - 1)]
    lo_b = float(minimize_scalar(z_of, bounds=(lo_i, hi_i), method="bounded",
                                 options={"xatol": 1e-15 * abs(ms[i])}).x)
    hi_b = ms[-1]
    if not z_of(lo_b) < z0 < z_of(hi_b):
        raise RuntimeError(f"asymptotic method: the contour's vertex {z0:.17g} is not above the support's edge "
                           f"{z_of(lo_b):.17g} to double precision")
    m_cur = complex(brentq(lambda t: z_of(t) - z0, lo_b, hi_b, xtol=1e-300, rtol=1e-15))
    z_cur = complex(z0)
    out = np.empty(z.size, dtype=complex)
    for i, zt in enumerate(z):
        stack = [zt]
        while stack:
            target = stack[-1]
            _, df = F(m_cur, z_cur)
            guess = m_cur - (target - z_cur) / df  # predictor: dm/dz = −1/F'(m)
            mv = newton(guess, target)
            if mv is None or (target.imag > 0 and mv.imag < -1e-12 * abs(mv)) or abs(mv - m_cur) > 0.5 * abs(m_cur) + 1e-300:
                if len(stack) > 40:
                    raise RuntimeError("asymptotic method: Stieltjes-transform continuation failed")
                stack.append((z_cur + target) / 2)
                continue
            m_cur, z_cur = mv, target
            stack.pop()
        out[i] = m_cur
    return out


def _rmt_terms(sp: PopulationSpectrum, N: int, filt: SpectralFilter, a: float, b: float, rho: float, M: int) -> np.ndarray:
    # least squares and ridge: the log-plane ellipse (module docstring); gd and gf: the z-plane one
    z, w = (log_ellipse if filt.kind in ("ols", "ridge") else _ellipse)(a, b, rho, M)
    half = M // 2
    m_up = solve_stieltjes(z[:half], sp.lam, sp.mult, N, b)
    m = np.concatenate([m_up, np.conj(m_up[::-1])])  # θ ↦ 2π − θ is conjugation
    r = 1.0 / (1.0 + np.multiply.outer(m, sp.lam))  # (M, J)
    P = filt.p(z) * w[None, :]  # (K, M)
    P2 = filt.p(z) ** 2 * w[None, :]
    phibar = P @ r  # (K, J)
    psibar = P2 @ r
    Rw = r * np.sqrt(sp.omega * sp.lam)[None, :]
    Uc = (m[:, None] * r) * np.sqrt(sp.mult * sp.lam**2 / N)[None, :]
    T = (Rw @ Rw.T) / (1.0 - Uc @ Uc.T)  # (M, M)
    D = np.sum((P @ T) * P, axis=1)
    ol = sp.omega * sp.lam
    total = ol.sum() - 2.0 * (phibar @ ol) + D + sp.trace_e_target * (psibar @ (sp.mult * sp.lam)) / N
    return sp.floor + total.real / sp.trace_x


def check_rmt_sigma(sigma: float) -> None:
    """Refuse σ = 0 for the random-matrix equivalent, in one line that names the fix.

    At σ = 0 the floor is 0 and Σ_y is singular (the data span only the signal's range), so the risk
    of every filter that converges tends to 0: the contour quadrature's *relative* error criterion
    has no scale, and the equivalent's derivation (a full-rank Σ_y bulk) does not apply.
    """
    if not sigma > 0:
        raise ValueError(
            f"asymptotic method: sigma = {sigma:g} is not supported (no noise: a zero floor and a singular Σ_y, "
            "where the random-matrix equivalent is undefined); use method montecarlo or rao-blackwell, or a sigma > 0"
        )


def rmt_curve(pop: Population, N: int, kind: str, values: Any = None, *, lr: float | str = "paper",
              spectrum: PopulationSpectrum | None = None, rtol: float = 1e-7,
              return_info: bool = False) -> np.ndarray | tuple[np.ndarray, dict]:
    """Deterministic-equivalent E R for a filter family at training-set size N (see module doc).

    Args:
        pop: population. N: training-set size. kind: ``"gd"``, ``"gf"``, ``"ridge"``, ``"ols"``.
        values: steps k (gd), times t (gf), or λ (ridge). lr: ``"paper"`` or η.
        rtol: accepted quadrature error (estimated by halving the nodes) relative to the risk.
        return_info: also return ``{"a", "b", "rho", "nodes", "quad_error"}``.

    Returns:
        (K,) expected risks (and the info dict).

    Raises:
        ValueError: σ = 0 (see :func:`check_rmt_sigma`), unstable step (τ·b ≥ 2), a spectrum that
            reaches 0 where the filter needs a contour that excludes it, or a quadrature that cannot
            reach ``rtol``.
    """
    check_rmt_sigma(pop.sigma)
    vals = check_filter_values(kind, values)
    sp = spectrum if spectrum is not None else pop.spectrum()
    eta = pop.paper_lr(N) if lr == "paper" else float(lr)
    a, b = spectrum_support(sp, N)
    tau = eta * N
    if kind == "gd" and lr_is_unstable(tau, b):  # same boundary (and tolerance) as check_lr
        raise ValueError(f"lr={eta:.4g} is unstable: η·N·b = {tau * b:.4g} ≥ 2 at the spectrum's edge b; use a smaller lr")
    reg = vals / N if kind == "ridge" else vals
    if kind == "ols":
        if N <= sum(sp.mult) and a == 0.0:
            raise ValueError("least squares at N ≈ m: the expected risk diverges")
    if kind in ("gd", "gf") and a > 0:
        # Where |1 − φ| < e⁻⁴⁰ on the whole support the filter *is* least squares to machine
        # precision; evaluating that polynomial on a contour would need ~k nodes, so don't.
        if kind == "gd":
            logmax = vals * max(np.log(abs(1 - tau * a)), np.log(abs(1 - tau * b)))
        else:
            logmax = -vals * tau * a
        done = logmax < -40.0
        if done.any():
            out = np.empty(vals.size)
            out[done] = rmt_curve(pop, N, "ols", spectrum=sp, rtol=rtol)[0]
            if (~done).any():
                out[~done] = rmt_curve(pop, N, kind, vals[~done], lr=eta, spectrum=sp, rtol=rtol)
            return (out, {"a": a, "b": b, "converged": int(done.sum())}) if return_info else out
    filt = SpectralFilter(kind, reg, tau)
    if kind in ("ols", "ridge"):
        if not a > b * 1e-12:
            raise ValueError("asymptotic method: the spectrum reaches 0 (N ≈ m or σ = 0); no contour fits — use montecarlo")
        rho = float(np.sqrt(log_ellipse_rho(a, b)))  # half the admissible log-width: equal margins inside and out
    else:
        rho = _choose_rho(filt, a, b)
    # Geometric convergence in the node count: start from the ellipse's rate, double until two
    # successive counts agree (degree-k polynomial filters need more nodes than the rate says).
    M = int(np.clip(np.ceil(20.0 / np.log(rho)), 64, _MAX_NODES))
    M = -(-M // 4) * 4  # multiples of 4 keep conjugate pairs at every count
    prev = _rmt_terms(sp, N, filt, a, b, rho, M)
    while True:
        risk = _rmt_terms(sp, N, filt, a, b, rho, 2 * M)
        err = float(np.max(np.abs(risk - prev) / np.abs(risk)))
        M *= 2
        if err <= rtol:
            break
        if 2 * M > _MAX_NODES:
            big = f"k up to {int(vals.max())} (a degree-k polynomial filter) " if kind in ("gd", "gf") else ""
            raise ValueError(
                f"asymptotic method: {big}at N={N} needs more than {_MAX_NODES} contour nodes "
                f"(quadrature error {err:.1e}); use smaller k or method montecarlo/rao-blackwell"
            )
        prev = risk
    info = {"a": a, "b": b, "rho": rho, "nodes": M, "quad_error": err}
    return (risk, info) if return_info else risk
