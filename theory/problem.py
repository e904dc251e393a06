"""A linear inverse problem y = A x + z with Gaussian x, and one draw of its population.

:class:`Problem` is the spec (signal model, operator, σ). :meth:`Problem.population` draws the
signal basis (the paper redraws U for every run) and returns a :class:`Population`, which knows
the true distribution: the optimal estimator W*, the error floor R*, the risk of any W, and how
to sample training data.

Normalisation (the paper's): R(W) = E‖W y − x‖² / E‖x‖², E‖x‖² = tr Σ_x (= d for the subspace
model). Because x − W*y is Gaussian and independent of y,

    R(W) = R* + tr((W − W*) Σ_y (W − W*)ᵀ) / tr Σ_x,     Σ_y = A Σ_x Aᵀ + σ² I,

which is the form used everywhere here (it makes R(W) ≥ R* exact).

Noisy targets (Noise2Noise-style, ``target_sigma`` = σ_t): the estimators are fitted to
t = x + z′, z′ ~ N(0, σ_t² I_n) independent of y, while the risk is still measured against the clean
x. Since x = W*y + e with e ⊥ y, the target is t = W*y + (e + z′): the same regression with the
residual's covariance Σ_e + σ_t² I_n, so every formula that integrates the residual out takes
tr Σ_e + n σ_t² (:attr:`Population.trace_e_target`) in its variance term, while W*, R* and the
bias are unchanged. σ_t = 0 is the supervised case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import ModuleType

import numpy as np

from .estimators import paper_step
from .operators import Denoise, MRI, SuperResolution
from .signals import Signal, SpectralSignal, SubspaceSignal

__all__ = ["Problem", "Population", "PopulationSpectrum", "check_target_sigma", "merge_eigenvalues"]


def check_target_sigma(target_sigma: object) -> float:
    """σ_t as a float, or a one-line ValueError unless it is a finite real number ≥ 0."""
    ok = not isinstance(target_sigma, (bool, np.bool_, str, bytes)) and np.ndim(target_sigma) == 0
    try:
        val = float(target_sigma) if ok else float("nan")
    except (TypeError, ValueError):
        val = float("nan")
    if not (np.isfinite(val) and val >= 0):
        raise ValueError(f"target_sigma={target_sigma!r} must be a finite number ≥ 0 (0: clean targets)")
    return val

Operator = Denoise | MRI | SuperResolution


@dataclass(frozen=True)
class Problem:
    """Spec of y = A x + z: signal model, forward operator and noise level σ.

    Args:
        signal: :class:`SubspaceSignal` or :class:`SpectralSignal` (length n).
        sigma: noise standard deviation σ ≥ 0 (per real measurement).
        operator: forward operator on R^n; ``None`` means denoising (A = I).
        target_sigma: σ_t ≥ 0, the noise of the training targets t = x + z′, z′ ~ N(0, σ_t² I_n)
            independent of the input noise (Noise2Noise-style); 0 (default) is supervised training.
            The risk is always measured against the clean x.
    """

    signal: Signal
    sigma: float
    operator: Operator | None = None
    target_sigma: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.signal, (SubspaceSignal, SpectralSignal)):
            raise ValueError("signal must be a SubspaceSignal or SpectralSignal")
        if not np.isfinite(self.sigma) or self.sigma < 0:
            raise ValueError(f"sigma={self.sigma} must be a finite number ≥ 0")
        object.__setattr__(self, "target_sigma", check_target_sigma(self.target_sigma))
        op = self.operator if self.operator is not None else Denoise((self.signal.n,))
        if op.n != self.signal.n:
            raise ValueError(
                f"operator acts on n={op.n} values but the signal has n={self.signal.n}; "
                "make the operator's shape multiply to the signal's n"
            )
        object.__setattr__(self, "operator", op)
        object.__setattr__(self, "sigma", float(self.sigma))

    @property
    def n(self) -> int:
        return self.signal.n

    @property
    def m(self) -> int:
        return self.operator.m

    @property
    def d(self) -> int:
        """Subspace dimension d (paper); for a spectral signal the number of nonzero eigenvalues."""
        if isinstance(self.signal, SubspaceSignal):
            return self.signal.d
        return int(np.count_nonzero(np.asarray(self.signal.eigenvalues)))

    @property
    def is_denoising(self) -> bool:
        return isinstance(self.operator, Denoise)

    @property
    def rotation_invariant(self) -> bool:
        """True when every population draw has the same spectral data (so one draw suffices)."""
        return self.is_denoising or not self.signal.random_basis

    def population(self, *, rng: np.random.Generator | None) -> "Population":
        """Draw the signal basis (U for the subspace model) and return the population.

        ``rng=None`` is allowed only for rotation-invariant problems (denoising, or a fixed basis):
        their spectral data do not depend on the draw, so the canonical basis is used (no QR).
        """
        if rng is None:
            if not self.rotation_invariant:
                raise ValueError("rng=None needs a rotation-invariant problem; pass rng= to draw the signal basis")
            B = self.signal.canonical_factor()
        else:
            B = self.signal.factor(rng=rng)
        A = None if self.is_denoising else self.operator.matrix()
        return Population(B, A, self.sigma, target_sigma=self.target_sigma)

    def describe(self) -> dict:
        out = {**self.signal.describe(), "d": self.d, "sigma": self.sigma, "target_sigma": self.target_sigma,
               "m": self.m}
        out.update({f"op_{k}" if k != "operator" else k: v for k, v in self.operator.describe().items()})
        return out


@dataclass(frozen=True)
class PopulationSpectrum:
    """Σ_y's distinct eigenvalues λ_j with multiplicities n_j and ω_j = tr(P_j W*ᵀW*).

    All that the large-N law and the random-matrix equivalent need to know about the population.
    """

    lam: np.ndarray  # (J,)
    mult: np.ndarray  # (J,)
    omega: np.ndarray  # (J,)
    trace_x: float
    trace_e: float
    trace_zt: float = 0.0  # n σ_t², the targets' own noise (0: clean targets)

    @property
    def floor(self) -> float:
        return self.trace_e / self.trace_x

    @property
    def trace_e_target(self) -> float:
        """tr Σ_e + n σ_t²: the trace of the fitted targets' residual t − W*y (variance terms)."""
        return self.trace_e + self.trace_zt


@dataclass(eq=False)
class Population:
    """One draw of the population: x = B c, y = A x + z.

    Args:
        B: (n, p) signal factor with orthogonal columns (Σ_x = B Bᵀ).
        A: (m, n) forward matrix, or ``None`` for the identity.
        sigma: noise level σ.
        xp: array module for sampling and the heavy algebra (numpy or cupy).
        target_sigma: σ_t, the training targets' noise (t = x + z′, z′ ~ N(0, σ_t² I_n)); 0: clean.
    """

    B: np.ndarray
    A: np.ndarray | None
    sigma: float
    xp: ModuleType = field(default=np)
    target_sigma: float = 0.0

    def __post_init__(self) -> None:
        self.target_sigma = check_target_sigma(self.target_sigma)

    @property
    def n(self) -> int:
        return self.B.shape[0]

    @property
    def p(self) -> int:
        return self.B.shape[1]

    @property
    def m(self) -> int:
        return self.n if self.A is None else self.A.shape[0]

    @cached_property
    def AB(self) -> np.ndarray:
        """A B, shape (m, p)."""
        return self.B if self.A is None else self.A @ self.B

    @cached_property
    def mu(self) -> np.ndarray:
        """Column energies μ = diag(BᵀB), shape (p,)."""
        return np.einsum("ij,ij->j", self.B, self.B)

    @cached_property
    def S_inv(self) -> np.ndarray:
        """S⁻¹ = (σ² I_p + (AB)ᵀAB)⁻¹ (pseudo-inverse when σ = 0), shape (p, p); W* = B S⁻¹ (AB)ᵀ."""
        S = self.AB.T @ self.AB + self.sigma**2 * np.eye(self.p)
        if self.sigma > 0:
            return np.linalg.inv(S)
        return np.linalg.pinv(S, hermitian=True)

    @cached_property
    def K(self) -> np.ndarray:
        """AB S⁻¹, shape (m, p); W* = B Kᵀ (push-through form of Σ_x Aᵀ Σ_y⁻¹)."""
        return self.AB @ self.S_inv

    @cached_property
    def W_star(self) -> np.ndarray:
        """The optimal (posterior-mean) linear estimator W*, shape (n, m)."""
        return self.B @ self.K.T

    @cached_property
    def trace_x(self) -> float:
        """tr Σ_x = E‖x‖² (the risk's normaliser; d for the subspace model)."""
        return float(self.mu.sum())

    @cached_property
    def trace_e(self) -> float:
        """tr Σ_e, Σ_e = Cov(x − W* y): the un-normalised error floor."""
        if self.sigma > 0:
            # I − S⁻¹(AB)ᵀAB = σ² S⁻¹: no cancellation at small σ.
            return float(self.sigma**2 * np.einsum("j,jj->", self.mu, self.S_inv))
        G = self.AB.T @ self.AB
        return float(np.einsum("j,jj->", self.mu, np.eye(self.p) - self.S_inv @ G))

    @property
    def trace_e_target(self) -> float:
        """tr Σ_e + n σ_t²: the trace of the fitted targets' residual t − W*y = e + z′.

        Equals :attr:`trace_e` for clean targets; it replaces tr Σ_e in every variance term (the
        floor R* and the bias are those of the clean x).
        """
        return self.trace_e + self.n * self.target_sigma**2

    @property
    def floor(self) -> float:
        """R* = R(W*) = tr Σ_e / tr Σ_x (σ²/(1+σ²) for subspace denoising)."""
        return self.trace_e / self.trace_x

    @cached_property
    def trace_y(self) -> float:
        """tr Σ_y = ‖AB‖_F² + σ² m."""
        return float(np.sum(self.AB**2) + self.sigma**2 * self.m)

    @cached_property
    def lam_max_y(self) -> float:
        """Largest eigenvalue of Σ_y."""
        s = np.linalg.svd(self.AB, compute_uv=False)
        return float(s[0] ** 2 + self.sigma**2)

    def paper_lr(self, N: int) -> float:
        """The paper's step η = 1 / (N (1+ε) λ_max(Σ_y)), ε = sqrt(10 tr(Σ_y) log(m) / N) (:func:`paper_step`).

        For subspace denoising λ_max(Σ_y) = 1+σ² and tr Σ_y = d + σ² n: the paper's formula.
        """
        return paper_step(N, self.lam_max_y, self.trace_y, self.m)

    # ---------------------------------------------------------------- risk of a given W
    def risk(self, W: np.ndarray) -> np.ndarray | float:
        """R(W) for one estimator or a batch.

        Args:
            W: (..., n, m) estimator(s).

        Returns:
            (...) risks, each ≥ R* (the excess is a Σ_y-weighted squared norm).
        """
        D = np.asarray(W) - self.W_star
        excess = np.sum((D @ self.AB) ** 2, axis=(-2, -1)) + self.sigma**2 * np.sum(D**2, axis=(-2, -1))
        return self.floor + excess / self.trace_x

    def risk_factored(self, L: np.ndarray, R: np.ndarray) -> float:
        """R(W) for W = L Rᵀ given as factors (n×q, m×q), without forming W (large n)."""
        L2 = np.concatenate([L, -self.B], axis=1)
        R2 = np.concatenate([R, self.K], axis=1)
        LtL = L2.T @ L2
        RtAB = R2.T @ self.AB
        excess = np.sum(LtL * (RtAB @ RtAB.T)) + self.sigma**2 * np.sum(LtL * (R2.T @ R2))
        return self.floor + float(excess) / self.trace_x

    # ---------------------------------------------------------------- sampling
    def sample(self, N: int, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Training data X (n, N) and Y = A X + Z (m, N), as arrays of ``self.xp``."""
        C, Y = self.sample_latent(N, rng=rng)
        return self.xp.asarray(self.B) @ C, Y

    def sample_latent(self, N: int, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Latent codes C (p, N) with X = B C, and Y (m, N); X is never formed (large n·N)."""
        xp = self.xp
        C = xp.asarray(rng.standard_normal((self.p, N)))
        Z = xp.asarray(rng.standard_normal((self.m, N)))
        Y = xp.asarray(self.AB) @ C
        Y += self.sigma * Z
        return C, Y

    # ---------------------------------------------------------------- spectral data
    def spectrum(self, *, rtol: float = 1e-9) -> PopulationSpectrum:
        """Distinct eigenvalues of Σ_y, their multiplicities, and ω_j = tr(P_j W*ᵀW*).

        Eigenvalues closer than ``rtol`` (relative) are merged; zero eigenvalues (σ = 0) are
        dropped since those directions carry no data.
        """
        Ua, s, _ = np.linalg.svd(self.AB, full_matrices=False)
        rank = int(np.sum(s > s[0] * max(self.AB.shape) * np.finfo(float).eps))
        Ua, s = Ua[:, :rank], s[:rank]
        # Ω = K diag(μ) Kᵀ lives in range(AB); its diagonal in Σ_y's eigenbasis:
        UK = Ua.T @ self.K
        omega_i = np.einsum("ia,a,ia->i", UK, self.mu, UK)
        lam_i = np.concatenate([s**2 + self.sigma**2, np.full(self.m - rank, self.sigma**2)])
        om_i = np.concatenate([omega_i, np.zeros(self.m - rank)])
        order = np.argsort(lam_i)[::-1]
        lam_i, om_i = lam_i[order], om_i[order]
        lam, mult, omega = merge_eigenvalues(lam_i, om_i, rtol=rtol)
        return PopulationSpectrum(lam, mult, omega, self.trace_x, self.trace_e,
                                  self.n * self.target_sigma**2)


def merge_eigenvalues(lam: np.ndarray, omega: np.ndarray, *, rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray,
                                                                                          np.ndarray]:
    """Distinct eigenvalues of Σ_y with their multiplicities and summed weights ω.

    Args:
        lam: (m,) eigenvalues in descending order; zeros (σ = 0) are dropped.
        omega: (m,) the weight of each eigenvector (uᵢᵀ Σ_x uᵢ-type projections).
        rtol: eigenvalues closer than this (relative) are merged; their running mean keeps the merged
            value exact to rounding.

    Returns:
        (lam, mult, omega), each (k,): the distinct eigenvalues, their multiplicities (float) and summed ω.
    """
    out_lam: list[float] = []
    mult: list[int] = []
    out_om: list[float] = []
    for li, oi in zip(lam, omega):
        if li <= 0:
            continue
        if out_lam and abs(out_lam[-1] - li) <= rtol * out_lam[-1]:
            out_lam[-1] = (out_lam[-1] * mult[-1] + li) / (mult[-1] + 1)
            mult[-1] += 1
            out_om[-1] += oi
        else:
            out_lam.append(li)
            mult.append(1)
            out_om.append(oi)
    return np.array(out_lam, dtype=float), np.array(mult, dtype=float), np.array(out_om, dtype=float)
