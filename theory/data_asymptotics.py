r"""Deterministic equivalent of E R_Q for a general population spectrum, trained on P, tested on Q.

Notation: Σ = Σ_{y,P} = A Σ_P Aᵀ + σ² I = U diag(λ) Uᵀ (training inputs), Ŝ = Y Yᵀ/N, filter
φ(s) = s·p(s) (GD: φ = 1 − (1 − τs)^k, τ = ηN; gradient flow 1 − e^{−τts}; ridge s/(s + λ/N);
least squares 1). With x = W*_P y + e under P (e ⊥ y) the estimator is W = W*_P φ(Ŝ) + E Yᵀp(Ŝ)/N
and exactly

    E R_Q · tr Σ_Q = tr Σ_Q − 2 E tr(φ(Ŝ) L) + E tr(Ω φ(Ŝ) B φ(Ŝ)) + tr Σ_{e,P} · E tr(B ψ(Ŝ))/N,

with L = A Σ_Q W*_P, Ω = W*_Pᵀ W*_P, B = Σ_{y,Q} = A Σ_Q Aᵀ + σ² I, ψ = φ²/s. The deterministic
equivalents (Silverstein; m(z) the companion Stieltjes transform, r_j = 1/(1 + λ_j m),
Q̄(z) = −U diag(r) Uᵀ/z; the two-resolvent equivalent
E[Q₁BQ₂] ≈ Q̄₁BQ̄₂ + (1/N)tr(ΣQ̄₁BQ̄₂)(z₁m₁)(z₂m₂)/(1 − c₁₂)·Q̄₁ΣQ̄₂ holds for any deterministic B):

    E φ(Ŝ) ≈ U diag(φ̄) Uᵀ,  φ̄_j = (1/2πi)∮ p r_j dz,   ψ̄_j = (1/2πi)∮ p² r_j dz,
    E tr(Ωφ(Ŝ)Bφ(Ŝ)) ≈ φ̄ᵀ H φ̄ + (1/2πi)²∮∮ p₁p₂ [Σ_j ω_jλ_j r₁ⱼr₂ⱼ][(1/N)Σ_j λ_j b_j m₁m₂ r₁ⱼr₂ⱼ]/(1 − c₁₂),

where H = (UᵀΩU) ∘ (UᵀBU): diagonal for denoising (A = I: Ω and Σ share P's basis, whatever Q is,
so only the diagonal of V_Pᵀ Σ_Q V_P enters), a full J×J matrix for a general operator A (MRI,
super-resolution, with P ≠ Q in different bases),
ω_j, b_j the diagonals of UᵀΩU and UᵀBU, ℓ_j that of UᵀLU, and c₁₂ = (1/N)Σ_j λ_j² m₁m₂r₁ⱼr₂ⱼ. With
P = Q (H = diag(ω_jλ_j), b = λ, ℓ = ωλ) this is :func:`theory.rmt_curve`'s formula.

**Noisy training targets** (``DataModel(..., target_sigma=σ_t)``): the fitted residual under P is
e + z′, z′ ~ N(0, σ_t² I_n) ⊥ y, and the variance term above needs only its trace (its columns are
i.i.d. and independent of Y), so the formula holds exactly as derived with tr Σ_{e,P} replaced by
tr Σ_{e,P} + n σ_t² (:attr:`ShiftSpectrum.trace_e_target`); L, Ω, B and the floors do not see z′
(they are P's clean regression and Q's clean risk). Every filter and argmin stopping extend; nothing
here needs to refuse σ_t > 0 (only ``gd-val``/``pca``, which need draws anyway, are refused).

**The contour** (why image spectra and k up to 10⁷ work). Σ's eigenvalues span many decades, so
the contour lives in w = log z: a Bernstein ellipse around [log a, log b] (the hull of Ŝ's limiting
nonzero support), mapped back by z = e^w. The trapezoid rule in the ellipse angle converges like
ρ^{−M} whatever the support's fine structure (isolated spikes, gaps), because every singularity of
the integrand lies on the focal segment. The ellipse is kept inside the disc |1 − τz| ≤ 1, on which
|(1 − τz)^k| ≤ 1 for *every* k (and |e^{−τtz}| ≤ 1 for every t): one contour per N serves every
step count, gradient-flow time, ridge strength and least squares, with no polynomial blow-up; the
node count doubles until two counts agree to ``rtol``. Ŝ's atom at 0 (N < m) lies outside the
contour, which is right since φ(0) = 0. At the interpolation threshold (a → 0, N ≈ m) the hull
reaches 0 and the method refuses (use Monte Carlo there).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .asymptotics import (SpectralFilter, check_filter_values, check_rmt_sigma, log_ellipse, log_ellipse_rho,
                          solve_stieltjes, spectrum_support)
from .estimators import lr_is_unstable
from .montecarlo import Estimator, RiskCurve
from .problem import PopulationSpectrum
from .stopping import CurvaturePath, Stop, search_steps
from .infra.validation import validate_N

__all__ = ["ShiftSpectrum", "shift_spectrum", "DataEquivalent", "data_rmt_curve", "data_equivalent_curves", "argmin_steps"]

_MAX_NODES = 4096


@dataclass(frozen=True, eq=False)
class ShiftSpectrum:
    """Everything the equivalent needs, in Σ_{y,P}'s eigenbasis (grouped by distinct λ when diagonal).

    Attributes:
        lam: (J,) eigenvalues of Σ_{y,P}, descending. mult: (J,) multiplicities.
        omega: (J,) tr(P_j Ω), Ω = W*_PᵀW*_P. b: (J,) tr(P_j Σ_{y,Q}). ell: (J,) tr(P_j A Σ_Q W*_P).
        H: (J,) diagonal of (UᵀΩU)∘(UᵀΣ_{y,Q}U) summed per group, or (J, J) the full matrix.
        trace_Q: tr Σ_Q. trace_eP: tr Cov_P(x − W*_P y). floor_Q: R_Q(W*_Q).
        trace_zt: n σ_t², the training targets' own noise (0: clean targets).
    """

    lam: np.ndarray
    mult: np.ndarray
    omega: np.ndarray
    b: np.ndarray
    ell: np.ndarray
    H: np.ndarray
    trace_Q: float
    trace_eP: float
    floor_Q: float
    trace_zt: float = 0.0

    @property
    def trace_e_target(self) -> float:
        """tr Σ_{e,P} + n σ_t²: the trace of the fitted targets' residual under P (the variance term)."""
        return self.trace_eP + self.trace_zt

    @property
    def m(self) -> int:
        return int(self.mult.sum())

    @property
    def diagonal(self) -> bool:
        return self.H.ndim == 1

    @property
    def floor_P_on_Q(self) -> float:
        """R_Q(W*_P) = the N → ∞ limit (φ = 1 on every direction)."""
        return float((self.trace_Q - 2 * self.ell.sum() + self.H.sum()) / self.trace_Q)

    def population_spectrum(self) -> PopulationSpectrum:
        """As the existing :class:`PopulationSpectrum` (for :func:`spectrum_support`)."""
        return PopulationSpectrum(self.lam, self.mult, self.omega, self.trace_Q, self.trace_eP, self.trace_zt)


def _group(lam: np.ndarray, cols: list[np.ndarray], rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    order = np.argsort(lam)[::-1]
    lam = lam[order]
    new = np.concatenate([[True], lam[1:] < lam[:-1] * (1 - rtol)])
    gid = np.cumsum(new) - 1
    J = int(gid[-1]) + 1
    mult = np.bincount(gid, minlength=J).astype(float)
    glam = np.bincount(gid, weights=lam, minlength=J) / mult
    return glam, mult, [np.bincount(gid, weights=c[order], minlength=J) for c in cols]


def shift_spectrum(model: Any, *, full_matrix: bool = False) -> ShiftSpectrum:
    """The :class:`ShiftSpectrum` of a :class:`~theory.datamodel.DataModel` (σ > 0), with its targets' noise.

    Denoising (A = I): Σ_{y,P} = V_P diag(μ_P + σ²) V_Pᵀ and Ω = W*_PᵀW*_P = V_P diag(w²) V_Pᵀ
    (w = μ_P/(μ_P + σ²)) share P's basis, so H is diagonal whatever Q is: only the diagonal of
    V_Pᵀ Σ_Q V_P enters (one n×n product when Q has another basis, none when it shares P's).
    A general operator needs one eigendecomposition of Σ_{y,P} and the full H (O(m³)).

    Args:
        model: the P/Q model.
        full_matrix: force the general (full-H) path even for denoising (a consistency check).
    """
    check_rmt_sigma(model.sigma)
    s2 = model.sigma**2
    trQ = model.test.trace
    trace_zt = model.n * model.target_sigma**2  # only the variance term sees the targets' noise
    if model.A is None and not full_matrix:
        muP = model.train.mu
        lam = muP + s2
        w = muP / lam
        if model.commuting:
            muQ_P = model.test.mu  # Σ_Q is diagonal in P's basis
        else:
            G = model.train.basis_matrix.T @ model.test.basis_matrix  # V_Pᵀ V_Q
            muQ_P = (G * G) @ model.test.mu  # diag(V_Pᵀ Σ_Q V_P)
        omega, b, ell = w**2, muQ_P + s2, muQ_P * w
        glam, mult, (gom, gb, gell, gH) = _group(lam, [omega, b, ell, omega * b])
        return ShiftSpectrum(glam, mult, gom, gb, gell, gH, trQ, float(np.sum(muP * s2 / lam)), model.floor_Q,
                             trace_zt)
    SP, SQ = model.train.matrix(), model.test.matrix()
    A = model.A
    ASP = SP if A is None else A @ SP
    SyP = (ASP if A is None else ASP @ A.T) + s2 * np.eye(model.m)
    ASQ = SQ if A is None else A @ SQ
    SyQ = (ASQ if A is None else ASQ @ A.T) + s2 * np.eye(model.m)
    lam, U = np.linalg.eigh(SyP)
    lam, U = lam[::-1], U[:, ::-1]
    WU = ASP.T @ U / lam  # W*_P U = Σ_P Aᵀ U diag(1/λ), (n, m)
    Om = WU.T @ WU
    Bm = U.T @ SyQ @ U
    ell = np.einsum("ij,ij->j", U, ASQ @ WU)  # diag(Uᵀ A Σ_Q W*_P U)
    pQ = model.pop_Q
    return ShiftSpectrum(lam, np.ones_like(lam), np.diag(Om).copy(), np.diag(Bm).copy(), ell, Om * Bm, trQ,
                         float(model.pop_P.trace_e), float(pQ.floor), trace_zt)


def _model_spectrum(model: Any, spectrum: ShiftSpectrum | None) -> ShiftSpectrum:
    """``spectrum`` (or :func:`shift_spectrum` of the model), refused when it was built for other targets' noise."""
    if spectrum is None:
        return shift_spectrum(model)
    want = model.n * model.target_sigma**2
    if not np.isclose(spectrum.trace_zt, want, rtol=1e-12, atol=0.0):
        # a reused spectrum would silently keep another σ_t in the variance term
        raise ValueError(f"spectrum was built for n·σ_t² = {spectrum.trace_zt:.6g} but the model has target_sigma="
                         f"{model.target_sigma:g} (n·σ_t² = {want:.6g}); rebuild it with shift_spectrum(model)")
    return spectrum


class DataEquivalent:
    """The deterministic equivalent at one training-set size N: one contour for every filter.

    Noisy training targets come with the spectrum (``trace_zt`` = n σ_t², set by
    :func:`shift_spectrum` from the model's ``target_sigma``).

    Args:
        spectrum: :class:`ShiftSpectrum` (from :func:`shift_spectrum`).
        N: training-set size. tau: η·N (the step times N; fixes the disc |1 − τz| ≤ 1).
        rtol: accepted quadrature error relative to the risk (nodes double until reached).

    Raises:
        ValueError: unstable step (τ·b ≥ 2), or N at the interpolation threshold (a ≈ 0).
    """

    def __init__(self, spectrum: ShiftSpectrum, N: int, tau: float, *, rtol: float = 1e-9) -> None:
        self.sp, self.N, self.tau, self.rtol = spectrum, int(N), float(tau), float(rtol)
        a, b = spectrum_support(spectrum.population_spectrum(), self.N)
        if lr_is_unstable(self.tau, b):
            raise ValueError(f"lr is unstable: η·N·b = {self.tau * b:.4g} ≥ 2 at the spectrum's edge b; use a smaller lr")
        if not a > b * 1e-12:
            raise ValueError(
                f"asymptotic method: N = {self.N} is at the interpolation threshold N ≈ m = {spectrum.m} (the spectrum "
                "reaches 0); use method montecarlo or rao-blackwell there"
            )
        self.a, self.b = a, b
        self.rho = self._choose_rho()
        self._cache: dict[int, dict] = {}
        self.M = None

    def _choose_rho(self) -> float:
        cap = log_ellipse_rho(self.a, self.b)  # |arg z| ≤ LOG_CONTOUR_ARG_CAP

        def ok(rho: float) -> bool:
            z, _ = log_ellipse(self.a, self.b, rho, 2048)
            return bool(np.max(np.abs(1 - self.tau * z)) <= 1.0)

        lo, hi = 1.0, cap
        if ok(cap):
            lo = cap
        else:
            for _ in range(50):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        if lo <= 1.0 + 1e-9:
            raise ValueError("asymptotic method: no contour fits between the spectrum and the step's stability disc; "
                             "use a smaller lr or method montecarlo")
        return float(np.sqrt(lo))  # half the admissible log-width: equal margins inside and out

    def _nodes(self, M: int) -> dict:
        if M in self._cache:
            return self._cache[M]
        sp = self.sp
        z, w = log_ellipse(self.a, self.b, self.rho, M)
        half = M // 2
        m_up = solve_stieltjes(z[:half], sp.lam, sp.mult, self.N, self.b)
        m = np.concatenate([m_up, np.conj(m_up[::-1])])
        r = 1.0 / (1.0 + np.multiply.outer(m, sp.lam))  # (M, J)
        mr = m[:, None] * r
        # Rows of the upper half only: node M−1−a is the conjugate of node a, so the double sum is
        # 2·Re Σ_{a upper} Σ_b P_a T_ab P_b (half the GEMMs).
        ru, mru = r[:half], mr[:half]
        A1 = (ru * (sp.omega * sp.lam)) @ r.T
        A2 = (mru * (sp.lam * sp.b / self.N)) @ mr.T
        C = (mru * (sp.mult * sp.lam**2 / self.N)) @ mr.T
        out = {"z": z, "w": w, "r": r, "T": A1 * A2 / (1.0 - C)}  # (M/2, M)
        self._cache = {M: out}  # keep one node set: memory is M² complex
        return out

    def _risk_at(self, M: int, kind: str, vals: np.ndarray) -> np.ndarray:
        sp, nd = self.sp, self._nodes(M)
        filt = SpectralFilter(kind, vals / self.N if kind == "ridge" else vals, self.tau)
        pz = filt.p(nd["z"])
        P = pz * nd["w"][None, :]
        phibar = P @ nd["r"]
        psibar = (pz * P) @ nd["r"]
        sep = np.sum(phibar**2 * sp.H, axis=1) if sp.diagonal else np.sum((phibar @ sp.H) * phibar, axis=1)
        half = P.shape[1] // 2
        fl = 2.0 * np.sum((P[:, :half] @ nd["T"]) * P, axis=1).real
        total = sp.trace_Q - 2.0 * (phibar @ sp.ell) + sep + fl + sp.trace_e_target * (psibar @ sp.b) / self.N
        return total.real / sp.trace_Q

    def _converge(self, probes: list[tuple[str, np.ndarray]]) -> None:
        M = int(np.clip(np.ceil(20.0 / np.log(self.rho)), 64, _MAX_NODES // 2))
        M = -(-M // 4) * 4
        probes = [(k, check_filter_values(k, v)) for k, v in probes]
        prev = np.concatenate([self._risk_at(M, k, v) for k, v in probes])
        err = np.inf
        while True:
            if 2 * M > _MAX_NODES:
                raise ValueError(f"asymptotic method: at N={self.N} the quadrature needs more than {_MAX_NODES} nodes "
                                 f"(error {err:.1e}); use method montecarlo or rao-blackwell")
            cur = np.concatenate([self._risk_at(2 * M, k, v) for k, v in probes])
            err = float(np.max(np.abs(cur - prev) / np.abs(cur)))
            M *= 2
            if err <= self.rtol:
                break
            prev = cur
        self.M, self.quad_error = M, err

    def risk(self, kind: str, values: Any = None) -> np.ndarray:
        """E R_Q for a filter family: ``"gd"`` (steps k), ``"gf"`` (times t), ``"ridge"`` (λ), ``"ols"``.

        Returns:
            (K,) expected risks on Q.
        """
        vals = check_filter_values(kind, values)
        if self.M is None:
            self._converge([(kind, vals)])
        return self._risk_at(self.M, kind, vals)


    def gd_expansion(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        """The GD risk as an exponential sum in k: R(k) = Re[c + Σβ_a u_a^k + Σγ_a u_a^{2k} + Σ Γ_ab u_a^k u_b^k].

        On the converged contour p(z) = (1 − u^k)/z, u = 1 − τz, so with α = w/z every term of the risk
        (module doc) is a polynomial of degree ≤ 2 in v_a = u_a^k: −2ℓ·φ̄ and ψ̄'s cross term are linear,
        ψ̄'s square is γ (v_a²), and φ̄ᵀHφ̄ and the double integral give Γ. Used for the bound of
        :class:`theory.stopping.CurvaturePath` (values come from :meth:`risk`, which avoids the cancellation
        of 1 − v at small k).

        Returns:
            (u, β, γ, Γ, c) with β, γ, Γ, c already divided by tr Σ_Q.
        """
        if self.M is None:
            self._converge([("gd", _PROBE_K), ("ols", None)])
        sp, nd = self.sp, self._nodes(self.M)
        z, r, T = nd["z"], nd["r"], nd["T"]
        alpha = nd["w"] / z
        half = z.size // 2
        phi_inf = alpha @ r  # φ̄ at v = 0 (least squares)
        rH = r * sp.H if sp.diagonal else r @ sp.H  # (M, J)
        Ta = T @ alpha  # (M/2,)
        aT = alpha[:half] @ T  # (M,)
        var = sp.trace_e_target / self.N * (alpha / z) * (r @ sp.b)
        beta = 2.0 * alpha * (r @ sp.ell) - 2.0 * alpha * (rH @ phi_inf) - 2.0 * alpha * aT - 2.0 * var
        beta[:half] -= 2.0 * alpha[:half] * Ta
        Gamma = (alpha[:, None] * (rH @ r.T)) * alpha[None, :]
        Gamma[:half] += 2.0 * alpha[:half, None] * T * alpha[None, :]
        const = (sp.trace_Q - 2.0 * (phi_inf @ sp.ell) + (np.sum(phi_inf**2 * sp.H) if sp.diagonal else
                 phi_inf @ sp.H @ phi_inf) + 2.0 * (alpha[:half] @ Ta) + sp.trace_e_target / self.N * (alpha / z) @ (r @ sp.b))
        tQ = sp.trace_Q
        return 1.0 - self.tau * z, beta / tQ, var / tQ, Gamma / tQ, complex(const) / tQ

    def gd_stop(self, kmax: int) -> Stop:
        """argmin over every integer 0 ≤ k ≤ kmax of this equivalent's GD risk, certified.

        :func:`theory.stopping.search_steps` on a :class:`~theory.stopping.CurvaturePath` built from
        :meth:`gd_expansion`; exact up to the quadrature tolerance ``rtol`` (relative to the risk): two k
        whose risks differ by less are the same to this method. k = ∞ is the caller's to compare.
        """
        u, beta, gamma, Gamma, _ = self.gd_expansion()
        path = CurvaturePath(functools.partial(self.risk, "gd"), u, beta, gamma, Gamma, rtol=self.rtol)
        return search_steps(path, kmax)


def _tau(model: Any, N: int, lr: float | str) -> float:
    if lr == "paper":
        return model.paper_lr(N) * N
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} must be 'paper' or a positive number")
    return float(lr) * N


def data_rmt_curve(model: Any, N: int, kind: str, values: Any = None, *, lr: float | str = "paper",
                   rtol: float = 1e-9, spectrum: ShiftSpectrum | None = None,
                   return_info: bool = False) -> np.ndarray | tuple[np.ndarray, dict]:
    """Deterministic-equivalent E R_Q of one filter family at N examples of P (see module doc).

    Args:
        model: :class:`~theory.datamodel.DataModel`. N: training-set size.
        kind: ``"gd"``, ``"gf"``, ``"ridge"`` or ``"ols"``; values: k, t or λ. lr: ``"paper"`` or η.
        rtol: quadrature tolerance. spectrum: precomputed :func:`shift_spectrum` (reuse across N; refused
            when built for another ``target_sigma`` than the model's).
        return_info: also return ``{"a", "b", "rho", "nodes", "quad_error"}``.

    Returns:
        (K,) expected risks on Q (and the info dict).
    """
    sp = _model_spectrum(model, spectrum)
    eq = DataEquivalent(sp, N, _tau(model, int(N), lr), rtol=rtol)
    risk = eq.risk(kind, values)
    if return_info:
        return risk, {"a": eq.a, "b": eq.b, "rho": eq.rho, "nodes": eq.M, "quad_error": eq.quad_error}
    return risk


_PROBE_K = np.unique(np.round(np.geomspace(1, 1e9, 25)))


def argmin_steps(curve: Any, kmax: int) -> tuple[int, float]:
    """argmin over integers 0 ≤ k ≤ kmax of a smooth expected curve ``curve(ks) -> risks``.

    A geometric grid, then nested 64-point grids between the neighbours of the minimum until every
    integer in the bracket is evaluated: exact for a curve unimodal near its minimum, and about
    ten evaluations of 64 points even for kmax = 10⁹ (where :func:`theory.argmin_curve` would
    evaluate every integer between geometric neighbours). For a curve known only as a callable (the
    explorer's large-N law); the deterministic equivalent's own stopping is the certified
    :meth:`DataEquivalent.gd_stop`.
    """
    ks = np.unique(np.concatenate([np.arange(min(kmax, 64) + 1), np.round(np.geomspace(1, max(kmax, 1), 200))]))
    ks = ks[ks <= kmax].astype(float)
    while True:
        r = curve(ks)
        i = int(np.argmin(r))
        lo, hi = ks[max(i - 1, 0)], ks[min(i + 1, ks.size - 1)]
        if hi - lo <= 64 or ks.size < 3:
            fine = np.arange(lo, hi + 1, dtype=float)
            rf = curve(fine)
            j = int(np.argmin(rf))
            return int(fine[j]), float(rf[j])
        ks = np.unique(np.round(np.linspace(lo, hi, 64)))


def data_equivalent_curves(model: Any, N: Sequence[int], estimators: Sequence[Estimator | str], *,
                           lr: float | str = "paper", rtol: float = 1e-9,
                           spectrum: ShiftSpectrum | None = None) -> list[RiskCurve]:
    """The ``asymptotic`` method of :func:`~theory.datamodel.data_expected_risk`: one RiskCurve per estimator.

    ``gd-oracle`` and ``gd-argmin`` are the argmin of the expected curve over every integer k ≤ kmax
    (:meth:`DataEquivalent.gd_stop`, certified); ``gd-val`` needs draws and is refused. ``spectrum``: a precomputed
    :func:`shift_spectrum` (reuse it across calls).
    """
    ests = [Estimator(e) if isinstance(e, str) else e for e in estimators]
    if not ests:
        raise ValueError("give at least one estimator")
    for e in ests:
        if e.name in ("gd-val", "pca"):
            raise ValueError(f"estimator {e.name!r} needs draws; use method montecarlo or rao-blackwell")
    Ns = validate_N(N)
    sp = _model_spectrum(model, spectrum)
    draws = [np.empty((1, Ns.size, e.params.size)) for e in ests]
    kopt = [np.full((1, Ns.size), np.nan) for _ in ests]
    for j, n_train in enumerate(Ns):
        eq = DataEquivalent(sp, int(n_train), _tau(model, int(n_train), lr), rtol=rtol)
        eq._converge([("gd", _PROBE_K), ("ols", None)])
        for i, e in enumerate(ests):
            if e.name == "optimal":
                draws[i][0, j] = sp.floor_Q
            elif e.name == "ols":
                draws[i][0, j] = eq.risk("ols")
            elif e.name == "ridge":
                draws[i][0, j] = eq.risk("ridge", e.lam)
            elif e.name in ("gd", "gf"):
                draws[i][0, j] = eq.risk(e.name, e.steps)
            else:  # gd-oracle / gd-argmin: every integer k ≤ kmax, certified (DataEquivalent.gd_stop)
                stop = eq.gd_stop(e.kmax)
                draws[i][0, j], kopt[i][0, j] = stop.value, stop.k
    floors = np.full((1, Ns.size), sp.floor_Q)
    info = {"lr": lr, "floor_P_on_Q": sp.floor_P_on_Q, "target_sigma": model.target_sigma}
    return [RiskCurve(e, Ns, draws[i], floors, kopt[i] if e.name in ("gd-oracle", "gd-argmin") else None,
                      method="asymptotic", info=dict(info)) for i, e in enumerate(ests)]
