r"""Theory of your own data: a Gaussian signal model estimated from examples, trained on P, tested on Q.

**Signal model from data.** Given training examples ``X`` of shape (N_ex, n) — one vectorised clean
crop per row, as images are usually stacked — :func:`second_moment_spectrum` estimates the
*uncentred* second moment Σ = E[x xᵀ] (the paper's model is zero-mean Gaussian x ~ N(0, Σ); with
uncentred moments the Gaussian with that Σ has the same E‖W y − x‖² for every linear W as the data,
because the risk of a linear estimator depends on the distribution only through E[x xᵀ]; pass
``centre=True`` to model the centred covariance instead, e.g. for mean-subtracted pipelines):

* ``method="covariance"``: Σ̂ = XᵀX/N_ex and its full eigendecomposition V diag(μ) Vᵀ (needs
  N_ex ≥ n examples for a full-rank estimate);
* ``method="stationary"`` with ``shape=(h, w)``: the projection of Σ̂ on periodic-stationary
  (circulant) covariances, μ_k = mean |FFT_ortho(x)_k|² per 2-D frequency, basis the real DFT
  (:func:`real_fourier_basis`); exact for periodic stationary images, O(N_ex·n log n) for any n.

**Train on P, test on Q.** :class:`DataModel` holds Σ_P (training), Σ_Q (test; Σ_P when omitted),
σ and the forward operator A. The risk of W on Q is

    R_Q(W) = E_Q‖W y − x‖² / E_Q‖x‖² = [tr((WA − I) Σ_Q (WA − I)ᵀ) + σ² tr(W Wᵀ)] / tr Σ_Q,

a quadratic form in W. Two floors: ``floor_Q`` = R_Q(W*_Q), W*_Q = Σ_Q Aᵀ(AΣ_QAᵀ + σ²I)⁻¹, the best
any linear W can do on Q; ``floor_P_on_Q`` = R_Q(W*_P), what infinite training data from P gives
(the N → ∞ limit of least squares and of GD for k → ∞). ``floor_Q ≤ floor_P_on_Q``, with equality
when P = Q.

**Expected risk** over training sets of N Gaussian examples from P (:func:`data_expected_risk`):
``montecarlo`` (draws of X, Z; the true R_Q of each learned W), ``rao-blackwell`` (draws of Y only:
x = W*_P y + e with e ⊥ y under P integrates the targets' noise out exactly, giving

    E[R_Q | Y] = R_Q(W*_P F) + tr Σ_{e,P} · Σ_i f_i² v_iᵀ Σ_{y,Q} v_i / λ_i / tr Σ_Q,

F = V diag(f) Vᵀ), and ``asymptotic`` (the deterministic equivalent of
:mod:`theory.data_asymptotics`). Estimators are the project's :class:`~theory.montecarlo.Estimator`
names: ``optimal`` (W*_Q, i.e. the floor on Q), ``ols``, ``ridge``, ``gd``, ``gf``, ``gd-oracle``
(per draw, min of R_Q over k — an oracle that sees Q), ``gd-argmin`` (argmin of the expected curve),
``gd-val`` (k minimising the error on ``n_val`` held-out examples from P: what a practitioner can do).
The three stopping rules choose k among every integer ≤ ``kmax`` by one certified search
(:mod:`theory.stopping`) on the risk's quadratic in the filter: per draw (gd-oracle), the held-out MSE
(gd-val, :func:`~theory.risk.validation_quadratic`) or the sum over draws (gd-argmin). The step is
the project's one rule (:meth:`DataModel.paper_lr`, :func:`~theory.estimators.paper_step`) unless
``lr`` is given.

**Noisy training targets** (``DataModel(..., target_sigma=σ_t)``, Noise2Noise-style): W is fitted to
t = x + z′, z′ ~ N(0, σ_t² I_n) independent of y, for the *training* examples only; the risk is R_Q
against the clean x of Q, so the floors, W*_P and the bias are unchanged. Under P the fitted residual
is e + z′ (still Gaussian and ⊥ y), so every variance term takes tr Σ_{e,P} + n σ_t²
(``pop_P.trace_e_target``) — exactly in the Rao–Blackwellised formula above and in the deterministic
equivalent; Σ_Q never meets z′. Plain Monte Carlo draws z′ literally from the draw's own target stream
(:func:`~theory.montecarlo.target_rng`, as :func:`theory.montecarlo.montecarlo` does), so X, Y and the
validation inputs are those of the clean-target run; ``gd-val``'s held-out targets are noisy too (all a
Noise2Noise user has). σ_t = 0 (default) draws nothing extra: the supervised numbers, bit for bit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from .data_asymptotics import data_equivalent_curves
from .estimators import TrainingSpectrum, check_lr, gd_filter, gf_filter, ols_filter, paper_step, ridge_filter
from .montecarlo import Estimator, RiskCurve, draw_rng, noisy_targets, target_rng
from .problem import Population, check_target_sigma
from .stopping import PathQuadratic, QuadraticPath, search_steps
from .risk import hadamard_quadform, risk_path, risk_quadratic, validation_quadratic
from .signals import SpectralSignal, check_crop_shape, fourier_power
from .infra.validation import validate_N

__all__ = [
    "SPECTRUM_METHODS",
    "DataSpectrum",
    "DataModel",
    "second_moment_spectrum",
    "real_fourier_basis",
    "data_montecarlo",
    "data_expected_risk",
    "DATA_METHODS",
]

SPECTRUM_METHODS = ("covariance", "stationary")
DATA_METHODS = ("montecarlo", "rao-blackwell", "asymptotic")


# ------------------------------------------------------------------------------ spectra from data
def _real_array(what: str, a: Any) -> np.ndarray:
    """``a`` as a float array; one-line ValueError when it is not real numbers."""
    if np.iscomplexobj(a):
        raise ValueError(f"{what} is complex; give real values (e.g. the magnitude or the real part)")
    try:
        return np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an array of real numbers, got {type(a).__name__}") from None


def real_fourier_basis(shape: tuple[int, int]) -> np.ndarray:
    """Real orthonormal DFT basis of R^{h·w}, columns in ``np.fft.fft2`` frequency order.

    For a frequency k with partner −k ≠ k the column at the smaller flat index is √2·Re e_k and the
    one at the partner's index √2·Im e_k (e_k = exp(2πi k·x)/√n); self-conjugate frequencies (DC,
    Nyquist) get Re e_k. Every periodic-stationary (circulant) covariance is diagonal in it, with
    the power μ_k of :func:`~theory.signals.fourier_power` at both columns of a pair.

    Returns:
        (n, n) orthogonal matrix.
    """
    h, w = (int(s) for s in shape)
    n = h * w
    k1, k2 = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    k1, k2 = k1.reshape(-1), k2.reshape(-1)
    x1, x2 = k1, k2  # pixel coordinates share the index grid
    phase = 2 * np.pi * (np.outer(x1, k1) / h + np.outer(x2, k2) / w)  # (pixel, frequency)
    partner = ((-k1) % h) * w + ((-k2) % w)
    idx = np.arange(n)
    V = np.empty((n, n))
    self_conj = partner == idx
    rep = idx < partner
    V[:, self_conj] = np.cos(phase[:, self_conj]) / np.sqrt(n)
    V[:, rep] = np.sqrt(2.0 / n) * np.cos(phase[:, rep])
    V[:, partner[rep]] = np.sqrt(2.0 / n) * np.sin(phase[:, rep])
    return V


@dataclass(frozen=True, eq=False)
class DataSpectrum:
    """A second-moment model Σ = V diag(μ) Vᵀ of vectorised signals.

    Attributes:
        mu: (n,) eigenvalues μ ≥ 0 (descending for ``basis="eigen"``, fft2 order for ``"fourier"``).
        basis: ``"eigen"`` (V stored) or ``"fourier"`` (V = :func:`real_fourier_basis` of ``shape``).
        V: (n, n) orthonormal basis for ``"eigen"``; ``None`` for ``"fourier"`` (built on demand).
        shape: crop size (h, w) or ``None``.
        label: short description recorded with results.
    """

    mu: np.ndarray
    basis: str = "eigen"
    V: np.ndarray | None = None
    shape: tuple[int, int] | None = None
    label: str = "data"

    def __post_init__(self) -> None:
        mu = _real_array("the spectrum mu", self.mu)
        if mu.ndim != 1 or mu.size < 2:
            raise ValueError("the spectrum mu must be a 1-D array of at least 2 eigenvalues")
        bad = ~np.isfinite(mu)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"the spectrum has negative, non-finite or all-zero values: {int(bad.sum())} non-finite "
                             f"(mu[{k}] = {mu[k]}); give finite μ ≥ 0, not all 0")
        if np.any(mu < 0):
            k = int(np.argmin(mu))
            raise ValueError(f"the spectrum has negative, non-finite or all-zero values: {int((mu < 0).sum())} negative "
                             f"(smallest mu[{k}] = {mu[k]:.3g}); give finite μ ≥ 0, not all 0 (clip round-off with "
                             "np.clip(mu, 0, None))")
        if not np.any(mu > 0):
            raise ValueError("the spectrum has negative, non-finite or all-zero values: all zero; give finite μ ≥ 0, not all 0")
        if self.basis not in ("eigen", "fourier"):
            raise ValueError(f"basis={self.basis!r}: use 'eigen' or 'fourier'")
        if self.basis == "fourier":
            if self.shape is None:
                raise ValueError("a 'fourier' spectrum needs shape=(h, w)")
            object.__setattr__(self, "shape", check_crop_shape(self.shape, mu.size))
        else:
            V = np.eye(mu.size) if self.V is None else _real_array("basis V", self.V)
            if V.shape != (mu.size, mu.size):
                raise ValueError(f"basis V has shape {V.shape}; expected ({mu.size}, {mu.size}) to match the spectrum")
            if not np.all(np.isfinite(V)):
                raise ValueError(f"basis V has {int((~np.isfinite(V)).sum())} non-finite entries; give a finite "
                                 "orthonormal (n, n) basis (e.g. from np.linalg.eigh of a finite matrix)")
            object.__setattr__(self, "V", V)
            if self.shape is not None:
                object.__setattr__(self, "shape", check_crop_shape(self.shape, mu.size))
        object.__setattr__(self, "mu", mu)

    @property
    def n(self) -> int:
        return int(self.mu.size)

    @property
    def trace(self) -> float:
        """tr Σ = E‖x‖²."""
        return float(self.mu.sum())

    @cached_property
    def basis_matrix(self) -> np.ndarray:
        """V, (n, n)."""
        return real_fourier_basis(self.shape) if self.basis == "fourier" else self.V

    def matrix(self) -> np.ndarray:
        """Σ = V diag(μ) Vᵀ, (n, n)."""
        V = self.basis_matrix
        return (V * self.mu) @ V.T

    def factor(self) -> np.ndarray:
        """B = V diag(√μ) restricted to μ > 0, shape (n, p): Σ = B Bᵀ, x = B c with c ~ N(0, I_p)."""
        keep = self.mu > 0
        return self.basis_matrix[:, keep] * np.sqrt(self.mu[keep])

    def signal(self) -> SpectralSignal:
        """The spectrum as a :class:`SpectralSignal` (identity basis): for the existing ``Problem`` API."""
        return SpectralSignal(tuple(np.sort(self.mu)[::-1]), label=self.label)

    def same_basis(self, other: "DataSpectrum") -> bool:
        """True when both are diagonal in the same basis (same Fourier shape, or the identical V)."""
        if self.basis == "fourier" and other.basis == "fourier":
            return self.shape == other.shape
        if self.basis == "eigen" and other.basis == "eigen":
            return self.V is other.V or np.array_equal(self.V, other.V)
        return False


def second_moment_spectrum(X: Any, *, method: str = "covariance", shape: Sequence[int] | None = None,
                           centre: bool = False, label: str | None = None) -> DataSpectrum:
    """Estimate the signal's second-moment spectrum from examples.

    Args:
        X: (N_ex, n) examples, one vectorised clean crop per row (crops flattened in C order).
        method: ``"covariance"`` (full eigendecomposition of XᵀX/N_ex; needs N_ex ≥ n) or
            ``"stationary"`` (averaged 2-D power spectrum, Fourier basis; needs ``shape``).
        shape: crop size (h, w) with h·w = n (required for ``"stationary"``, recorded otherwise).
        centre: subtract the example mean first (covariance instead of the uncentred E[x xᵀ]).
        label: description stored with the spectrum.

    Returns:
        :class:`DataSpectrum`.
    """
    if method not in SPECTRUM_METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(SPECTRUM_METHODS)}")
    X = _real_array("X", X)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 2:
        raise ValueError(f"X has shape {X.shape}; expected (examples, n) with one vectorised crop per row")
    bad = ~np.isfinite(X)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(f"X has non-finite values ({int(bad.sum())} in {rows.size} example(s), first row {int(rows[0])}); "
                         "give finite pixel values (drop or repair those examples)")
    n_ex, n = X.shape
    if centre:
        X = X - X.mean(axis=0, keepdims=True)
    lab = label or f"{method}({n_ex} examples{', centred' if centre else ''})"
    if method == "stationary":
        if shape is None:
            raise ValueError("method='stationary' needs shape=(h, w), the crop size with h·w = n")
        hw = check_crop_shape(shape, n)
        return DataSpectrum(fourier_power(X, hw), basis="fourier", shape=hw, label=lab)
    if n_ex < n:
        raise ValueError(
            f"covariance needs at least n = {n} examples for a full-rank estimate (got {n_ex}); "
            "give more crops or use method='stationary'"
        )
    S = X.T @ X / n_ex
    mu, V = np.linalg.eigh(S)
    mu, V = np.clip(mu[::-1], 0.0, None), V[:, ::-1]
    return DataSpectrum(mu, basis="eigen", V=np.ascontiguousarray(V),
                        shape=None if shape is None else check_crop_shape(shape, n), label=lab)


# ------------------------------------------------------------------------------ the model
def _operator_matrix(operator: Any, n: int) -> np.ndarray | None:
    if operator is None:
        return None
    if hasattr(operator, "matrix"):
        if getattr(operator, "n", n) != n:
            raise ValueError(f"operator acts on n={operator.n} values but the signal has n={n}; match the crop size")
        if type(operator).__name__ == "Denoise":
            return None
        A = _real_array(f"operator {type(operator).__name__}'s matrix", operator.matrix())
    elif isinstance(operator, (str, bytes, dict)) or np.isscalar(operator):
        raise ValueError(f"operator={operator!r} is not an operator; give None (denoising), a theory operator "
                         f"(MRI, SuperResolution, …) or an (m, {n}) matrix")
    else:
        A = _real_array("operator matrix", operator)
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] != n:
        raise ValueError(f"operator matrix has shape {A.shape}; expected finite (m, {n}) with m ≥ 1 "
                         f"to act on the signal's n = {n} values")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"operator matrix has shape {A.shape}; expected finite (m, {n}): "
                         f"it has {int((~np.isfinite(A)).sum())} non-finite entries")
    return A


@dataclass(eq=False)
class DataModel:
    """Learn W from N Gaussian examples of P, measure it on Q: y = A x + z, z ~ N(0, σ² I).

    Args:
        train: Σ_P as a :class:`DataSpectrum`.
        sigma: noise level σ ≥ 0.
        test: Σ_Q (``None``: Q = P).
        operator: ``None`` (denoising), a theory operator (``MRI``, ``SuperResolution``, …) or an
            (m, n) matrix A.
        target_sigma: keyword-only σ_t ≥ 0, the noise of the *training* targets t = x + z′,
            z′ ~ N(0, σ_t² I_n) ⊥ y (Noise2Noise-style); 0 (default) is supervised. Q is always scored
            against the clean x.
    """

    train: DataSpectrum
    sigma: float
    test: DataSpectrum | None = None
    operator: Any = None
    target_sigma: float = field(default=0.0, kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.train, DataSpectrum):
            raise ValueError("train must be a DataSpectrum (see second_moment_spectrum)")
        if self.test is None:
            self.test = self.train
        if not isinstance(self.test, DataSpectrum):
            raise ValueError("test must be a DataSpectrum or None")
        if self.test.n != self.train.n:
            raise ValueError(
                f"P has n = {self.train.n} and Q has n = {self.test.n}: train and test spectra must describe crops of the same size"
            )
        try:
            ok = not isinstance(self.sigma, (bool, np.bool_, str, bytes)) and np.ndim(self.sigma) == 0 \
                and np.isfinite(float(self.sigma)) and float(self.sigma) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"sigma={self.sigma!r} must be a finite number ≥ 0")
        self.sigma = float(self.sigma)
        self.target_sigma = check_target_sigma(self.target_sigma)
        self.A = _operator_matrix(self.operator, self.train.n)

    @property
    def n(self) -> int:
        return self.train.n

    @property
    def m(self) -> int:
        return self.n if self.A is None else self.A.shape[0]

    @property
    def shifted(self) -> bool:
        """True when Q differs from P."""
        return self.test is not self.train

    @property
    def commuting(self) -> bool:
        """Denoising with P and Q diagonal in one basis: every quantity is a per-direction number."""
        return self.A is None and (not self.shifted or self.train.same_basis(self.test))

    @cached_property
    def pop_P(self) -> Population:
        """The training population (W*_P, sampling, the paper's step; its ``trace_e_target`` has the targets' noise)."""
        return Population(self.train.factor(), self.A, self.sigma, target_sigma=self.target_sigma)

    @cached_property
    def pop_Q(self) -> Population:
        """The test population: its ``risk(W)`` is R_Q(W) (against the clean x; σ_t never enters it)."""
        return self.pop_P if not self.shifted else Population(self.test.factor(), self.A, self.sigma)

    # ------------------------------------------------------------------ risk on Q
    def risk(self, W: np.ndarray) -> np.ndarray | float:
        """R_Q(W) for (..., n, m) estimators."""
        return self.pop_Q.risk(W)

    @staticmethod
    def _wiener_gain(mu: np.ndarray, s2: float) -> np.ndarray:
        """μ/(μ + σ²) per direction (1 on μ > 0 and 0 on μ = 0 when σ = 0)."""
        return np.divide(mu, mu + s2, out=np.zeros_like(mu), where=(mu + s2) > 0)

    @cached_property
    def floor_Q(self) -> float:
        """R_Q(W*_Q): the best any linear estimator does on Q."""
        if self.A is None:  # W*_Q is diagonal in Q's basis: no n×n algebra
            muQ = self.test.mu
            return float(np.sum(muQ * (1.0 - self._wiener_gain(muQ, self.sigma**2))) / self.test.trace)
        return float(self.pop_Q.floor)

    @cached_property
    def floor_P_on_Q(self) -> float:
        """R_Q(W*_P): what infinite data from P gives on Q (≥ ``floor_Q``)."""
        if not self.shifted:
            return self.floor_Q
        if self.commuting:
            w = self._wiener_gain(self.train.mu, self.sigma**2)
            return float(np.sum(self.test.mu * (1.0 - w) ** 2 + self.sigma**2 * w**2) / self.test.trace)
        return float(self.pop_Q.risk(self.pop_P.W_star))

    def paper_lr(self, N: int) -> float:
        """The step rule :func:`~theory.estimators.paper_step` on Σ_y,P: η = 1/(N(1+ε)λ_max(Σ_y,P)), ε = √(10 tr Σ_y,P log m / N)."""
        if self.A is not None:
            return self.pop_P.paper_lr(N)
        return paper_step(N, float(self.train.mu.max()) + self.sigma**2, self.train.trace + self.sigma**2 * self.n,
                          self.n)

    def describe(self) -> dict:
        return {"signal": self.train.label, "test_signal": self.test.label, "n": self.n, "m": self.m,
                "sigma": self.sigma, "target_sigma": self.target_sigma, "floor_Q": self.floor_Q,
                "floor_P_on_Q": self.floor_P_on_Q}

    # ------------------------------------------------------------------ per-draw paths
    def sample(self, N: int, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """N training examples from P: clean X (n, N), Y = A X + σ Z (m, N) (the targets' noise is drawn apart)."""
        pop = self.pop_P
        C = rng.standard_normal((pop.p, N))
        X = pop.B @ C
        Y = (X if self.A is None else self.A @ X) + self.sigma * rng.standard_normal((self.m, N))
        return X, Y

    def risk_path(self, spec: TrainingSpectrum, h: np.ndarray) -> np.ndarray:
        """R_Q of W_k = X Yᵀ V diag(h_k) Vᵀ for every row of the gains h (K, r); ``spec`` holds XYV."""
        return risk_path(self.pop_Q, spec, h)

    def _conditional_terms(self, spec: TrainingSpectrum) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """PQ = VᵀA B_Q (r, p_Q), WV = W*_P V (n, r), ℓ = diag(Vᵀ A Σ_Q W*_P V), c_i = v_iᵀ Σ_{y,Q} v_i."""
        pP, pQ = self.pop_P, self.pop_Q
        PQ = spec.V.T @ pQ.AB  # VᵀΣ_{y,Q}V = PQ PQᵀ + σ² I
        WV = pP.W_star @ spec.V  # Vᵀ W*_Pᵀ W*_P V = WVᵀ WV
        ell = np.einsum("ia,ia->i", PQ, (pQ.B.T @ WV).T)
        c = np.sum(PQ * PQ, axis=1) + self.sigma**2
        return PQ, WV, ell, c

    def conditional_risk_path(self, spec: TrainingSpectrum, f: np.ndarray) -> np.ndarray:
        """E[R_Q | Y] for filter values f (K, r): X (and the targets' noise) integrated out under P exactly."""
        PQ, WV, ell, c = self._conditional_terms(spec)
        trQ = self.pop_Q.trace_x
        bias = trQ - 2.0 * (f @ ell) + hadamard_quadform(f, PQ, self.sigma**2, WV)
        var = self.pop_P.trace_e_target * ((f * f) @ (c / spec.lam))  # the residual of the *fitted* targets, e + z′
        return (bias + var) / trQ

    def conditional_risk_quadratic(self, spec: TrainingSpectrum) -> PathQuadratic:
        """:meth:`conditional_risk_path` (its dense twin) as a :class:`~theory.stopping.PathQuadratic` in f."""
        PQ, WV, ell, c = self._conditional_terms(spec)
        return PathQuadratic(P=PQ, s=float(self.sigma**2), F=WV, e=self.pop_P.trace_e_target * (c / spec.lam), q=ell,
                             c=1.0, T=float(self.pop_Q.trace_x), variable="f")

    def risk_quadratic(self, spec: TrainingSpectrum) -> PathQuadratic:
        """:meth:`risk_path` (its dense twin) as a :class:`~theory.stopping.PathQuadratic` in the gains h."""
        return risk_quadratic(self.pop_Q, spec)


# ------------------------------------------------------------------------------ Monte Carlo
_SUPPORTED = ("optimal", "ols", "ridge", "gd", "gf", "gd-oracle", "gd-argmin", "gd-val")


def _lr(model: DataModel, lr: float | str, N: int) -> float:
    if lr == "paper":
        return model.paper_lr(N)
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} must be 'paper' or a positive number")
    return float(lr)


def _path(model: DataModel, spec: TrainingSpectrum, rao_blackwell: bool, f: np.ndarray, h: np.ndarray) -> np.ndarray:
    """R_Q along a filter path of one draw: E[R_Q | Y] from f (Rao–Blackwell) or the true R_Q from h."""
    return model.conditional_risk_path(spec, f) if rao_blackwell else model.risk_path(spec, h)


def _gd_at(path: Any, lam: np.ndarray, eta: float, k: int) -> np.ndarray:
    return path(*gd_filter(lam, [k], eta))


def data_montecarlo(model: DataModel, N: Sequence[int], estimators: Sequence[Estimator | str], *, runs: int,
                    rng: np.random.Generator, lr: float | str = "paper",
                    rao_blackwell: bool = False) -> list[RiskCurve]:
    """Monte Carlo E R_Q over training sets of N Gaussian examples from P.

    Args:
        model: the P/Q model. N: training-set sizes. estimators: names or :class:`Estimator`.
        runs: draws per N. rng: source of the base seed (draw (N, run) has its own stream).
        lr: ``"paper"`` or a step η. rao_blackwell: E[R_Q | Y] instead of R_Q (X and the targets'
            noise integrated out).

    With ``model.target_sigma`` > 0 plain Monte Carlo fits every estimator to T = X + σ_t Z′ (Z′ from
    :func:`~theory.montecarlo.target_rng`) and scores it on Q against the clean x (see the module doc).

    Returns:
        One :class:`RiskCurve` per estimator (``floor`` = R*_Q; ``info`` has ``floor_P_on_Q`` and
        ``target_sigma``).
    """
    ests = [Estimator(e) if isinstance(e, str) else e for e in estimators]
    if not ests:
        raise ValueError("give at least one estimator")
    bad = [e.name for e in ests if e.name not in _SUPPORTED]
    if bad:
        raise ValueError(f"estimator {bad[0]!r} is not defined for a data model; use one of {', '.join(_SUPPORTED)}")
    if rao_blackwell and any(e.name == "gd-val" for e in ests):
        raise ValueError("estimator 'gd-val' needs method=montecarlo (its choice of k depends on X)")
    Ns = validate_N(N)
    if int(runs) != runs or runs < 1:
        raise ValueError(f"runs={runs} must be a positive integer")
    base = int(rng.integers(2**62))
    noisy = model.target_sigma > 0 and not rao_blackwell  # plain Monte Carlo draws the targets' noise
    argmin = [i for i, e in enumerate(ests) if e.name == "gd-argmin"]
    draws = [np.empty((runs, Ns.size, e.params.size)) for e in ests]
    kopt = [np.full((runs, Ns.size), np.nan) for _ in ests]
    for j, n_train in enumerate(Ns):
        eta = _lr(model, lr, int(n_train))
        kept = []  # per draw (quadratic, λ, risk at k): gd-argmin searches their sum after all draws
        for run in range(runs):
            r = draw_rng(base, n_train, run)
            rt = target_rng(base, n_train, run) if noisy else None  # its own stream: X, Y as in the clean run
            X, Y = model.sample(int(n_train), rng=r)
            T = noisy_targets(X, model.target_sigma, rt) if noisy else X  # what the estimators are fitted to
            spec = TrainingSpectrum.fit(Y, None if rao_blackwell else T)
            if spec.rank and any(e.name in ("gd", "gd-oracle", "gd-argmin", "gd-val") for e in ests):
                check_lr(eta, float(spec.lam[0]))

            path = functools.partial(_path, model, spec, rao_blackwell)
            at = functools.partial(_gd_at, path, spec.lam, eta)  # bound now: gd-argmin calls it after the loop
            quad = None
            if any(e.name in ("gd-oracle", "gd-argmin") for e in ests):
                quad = model.conditional_risk_quadratic(spec) if rao_blackwell else model.risk_quadratic(spec)
                if argmin:
                    kept.append((quad, spec.lam, at))
            for i, e in enumerate(ests):
                if e.name == "optimal":
                    val = [model.floor_Q]
                elif e.name == "ols":
                    val = path(*ols_filter(spec.lam))
                elif e.name == "ridge":
                    val = path(*ridge_filter(spec.lam, e.lam))
                elif e.name == "gd":
                    val = path(*gd_filter(spec.lam, e.steps, eta))
                elif e.name == "gf":
                    val = path(*gf_filter(spec.lam, e.steps, eta))
                elif e.name == "gd-oracle":  # every k ≤ kmax, by the certified search (theory.stopping)
                    k = search_steps(QuadraticPath(quad, spec.lam, eta), e.kmax).k
                    val, kopt[i][run, j] = at(k), k
                elif e.name == "gd-val":  # the k of least MSE on n_val held-out examples of P
                    X_val, Y_val = model.sample(e.n_val, rng=r)
                    T_val = noisy_targets(X_val, model.target_sigma, rt) if noisy else X_val
                    k = search_steps(QuadraticPath(validation_quadratic(spec, Y_val, T_val), spec.lam, eta), e.kmax).k
                    val, kopt[i][run, j] = at(k), k
                else:  # gd-argmin, after all draws
                    val = [np.nan]
                draws[i][run, j] = np.asarray(val, dtype=float)
        for i in argmin:  # argmin of the mean curve: the search on the sum of the draws' quadratics
            k = search_steps(QuadraticPath([q for q, _, _ in kept], [lam for _, lam, _ in kept], eta),
                             ests[i].kmax).k
            draws[i][:, j, 0] = [float(at(k)[0]) for _, _, at in kept]
            kopt[i][:, j] = k
    floors = np.full((runs, Ns.size), model.floor_Q)
    method = "rao-blackwell" if rao_blackwell else "montecarlo"
    info = {"lr": lr, "floor_P_on_Q": model.floor_P_on_Q, "target_sigma": model.target_sigma}
    return [RiskCurve(e, Ns, draws[i], floors, kopt[i] if e.name in ("gd-oracle", "gd-argmin", "gd-val") else None,
                      method=method, info=dict(info)) for i, e in enumerate(ests)]


def data_expected_risk(model: DataModel, N: Sequence[int], estimators: Sequence[Estimator | str], *,
                       method: str = "montecarlo", runs: int = 100, rng: np.random.Generator | None = None,
                       lr: float | str = "paper", rtol: float = 1e-9) -> list[RiskCurve]:
    """E R_Q of each estimator at each N: the data-model twin of :func:`theory.expected_risk`.

    Args:
        model: the P/Q model. N: training-set sizes. estimators: names or :class:`Estimator`.
        method: ``"montecarlo"``, ``"rao-blackwell"`` or ``"asymptotic"`` (deterministic
            equivalent; no draws, early stopping = argmin of the expected curve, ``gd-val`` refused).
        runs, rng: draws (Monte Carlo methods; ``rng`` required there). lr: ``"paper"`` or η.
        rtol: quadrature tolerance of the deterministic equivalent (relative to the risk).

    Noisy training targets come with the model (``DataModel(..., target_sigma=σ_t)``); every method
    supports them and the curves' ``info`` carries ``target_sigma``.

    Returns:
        One :class:`RiskCurve` per estimator.
    """
    if method not in DATA_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(DATA_METHODS)}")
    if method == "asymptotic":
        return data_equivalent_curves(model, N, estimators, lr=lr, rtol=rtol)
    if rng is None:
        raise ValueError(f"method {method!r} draws training sets: pass rng=np.random.default_rng(seed)")
    return data_montecarlo(model, N, estimators, runs=runs, rng=rng, lr=lr, rao_blackwell=method == "rao-blackwell")
