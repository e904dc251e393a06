"""Linear estimators learned from training data (X, Y), all from one factorisation.

Every estimator here except W* and W_PCA is a spectral filter of the training data: with
Y Yᵀ = V diag(λ) Vᵀ (nonzero part, r = rank),

    W = X Yᵀ V diag(h) Vᵀ,   h_i = f(λ_i) / λ_i,

    gradient descent  W^k:  f = 1 − (1 − ηλ)^k        (W⁰ = 0, loss ½‖WY − X‖_F², step η)
    gradient flow     W(t): f = 1 − exp(−ηλt)          (t in units of steps)
    ridge             W_λ:  f = λ / (λ + λ_reg)
    least squares     W^∞:  f = 1                      (= X Y⁺, the GD limit from 0)

so the whole GD path for any array of k costs one eigendecomposition and no iteration.
Filters use log1p/expm1, so k up to 10⁹ neither overflows nor loses the small-λ limit h → ηk.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Sequence

import numpy as np

__all__ = [
    "TrainingSpectrum",
    "paper_step",
    "sample_step",
    "LR_STABILITY_RTOL",
    "check_lr",
    "lr_is_unstable",
    "gd_filter",
    "gf_filter",
    "ridge_filter",
    "ols_filter",
    "optimal",
    "pca",
    "least_squares",
    "ridge",
    "gradient_descent",
    "gradient_flow",
    "gd_loop",
]


@dataclass(frozen=True, eq=False)
class TrainingSpectrum:
    """Y Yᵀ = V diag(lam) Vᵀ restricted to its nonzero part, and the targets projected on V.

    Attributes:
        lam: (r,) positive eigenvalues of Y Yᵀ, descending.
        V: (m, r) orthonormal eigenvectors.
        XYV: (n, r) X Yᵀ V, or ``None`` when X was given only through latent codes (see ``H``).
        H: (p, r) C Yᵀ V when X = B C came from a model (keeps n·N-sized X unformed), else None.
    """

    lam: Any
    V: Any
    XYV: Any = None
    H: Any = None

    @property
    def rank(self) -> int:
        return int(self.lam.shape[0])

    @classmethod
    def fit(cls, Y: Any, X: Any = None, *, C: Any = None, xp: ModuleType = np) -> "TrainingSpectrum":
        """Factor the training inputs once.

        Args:
            Y: (m, N) training inputs.
            X: (n, N) training targets (gives ``XYV``), or
            C: (p, N) latent codes with X = B C (gives ``H``); pass at most one of X, C.
            xp: array module of Y (numpy or cupy).

        Uses eigh of the smaller Gram matrix when N ≥ 2m or N ≤ m/2 (well conditioned there, one
        GEMM) and an SVD of Y near the interpolation threshold N ≈ m, so the small eigenvalues that
        drive the double-descent spike keep full relative accuracy.
        """
        return cls.fit_many([Y], None if X is None else [X], Cs=None if C is None else [C], xp=xp)[0]

    @classmethod
    def fit_many(
        cls, Ys: Sequence[Any], Xs: Sequence[Any] | None = None, *, Cs: Sequence[Any] | None = None,
        xp: ModuleType = np,
    ) -> list["TrainingSpectrum"]:
        """:meth:`fit` for several draws of the same shape, with one batched factorisation.

        The Gram matrices (or the Y themselves, near N ≈ m) are stacked into a (draws, ·, ·) array and
        factorised by one ``eigh`` / ``svd`` call, so the per-draw overhead is paid once; every draw
        gets exactly what :meth:`fit` gives it (``fit`` is ``fit_many`` of one draw).

        Args:
            Ys: draws of (m, N) training inputs, all the same shape.
            Xs: matching (n, N) targets, or Cs: matching (p, N) latent codes (at most one of the two).
            xp: array module of the Y (numpy or cupy).

        Returns:
            One :class:`TrainingSpectrum` per draw, in order.
        """
        Ys = list(Ys)
        if not Ys:
            return []
        m, N = Ys[0].shape
        if any(Y.shape != (m, N) for Y in Ys):
            raise ValueError("fit_many needs training inputs of one shape; fit them one by one")
        if N >= 2 * m:
            lam, V = xp.linalg.eigh(xp.stack([Y @ Y.T for Y in Ys]))
            lam, V = lam[:, ::-1], V[:, :, ::-1]
        elif 2 * N <= m:
            lam, Q = xp.linalg.eigh(xp.stack([Y.T @ Y for Y in Ys]))
            lam, Q = lam[:, ::-1], Q[:, :, ::-1]
            V = [(Y @ Q[i]) / xp.sqrt(xp.maximum(lam[i], xp.finfo(float).tiny))[None, :] for i, Y in enumerate(Ys)]
        else:
            V, s, _ = xp.linalg.svd(xp.stack(Ys), full_matrices=False)
            lam = s**2
        out = []
        for i, Y in enumerate(Ys):
            lam_i, V_i = lam[i], V[i]
            tol = float(lam_i[0]) * max(m, N) * np.finfo(float).eps if lam_i.shape[0] else 0.0
            keep = int((lam_i > tol).sum())
            lam_i, V_i = lam_i[:keep], V_i[:, :keep]
            X = None if Xs is None else Xs[i]
            C = None if Cs is None else Cs[i]
            # (X Yᵀ) V, not X (Yᵀ V): no N×r intermediate, and C Yᵀ is only p×m
            out.append(cls(lam=lam_i, V=V_i, XYV=None if X is None else (X @ Y.T) @ V_i,
                           H=None if C is None else (C @ Y.T) @ V_i))
        return out

    def weights(self, h: Any, *, B: Any = None) -> Any:
        """W = X Yᵀ V diag(h) Vᵀ for filter gains h.

        Args:
            h: (..., r) gains.
            B: (n, p) signal factor, needed when the spectrum holds ``H`` instead of ``XYV``.

        Returns:
            (..., n, m) estimators.
        """
        XYV = self.XYV if self.XYV is not None else B @ self.H
        return (XYV * h[..., None, :]) @ self.V.T


# Relative tolerance of the stability boundary η·λ_max = 2. λ_max reaches check_lr from different
# routes (eigh of YYᵀ or of YᵀY, an SVD of Y, eigvalsh in gd_loop) that agree only to ~1e-15·m relative,
# so a step set to exactly 2/λ_max by one route can land on either side of 2 by another. Everything
# within this tolerance of the boundary is treated as the boundary, and the boundary is refused.
LR_STABILITY_RTOL = 1e-9


def paper_step(N: int, lam_max: float, trace: float, m: int) -> float:
    """The one GD step rule of the project: η = 1 / (N (1+ε) λ_max(S)), ε = √(10 tr S · log m / N).

    S is the second moment of the m-dimensional training inputs (the paper's η(N), natural log; for its
    subspace denoising λ_max(Σ_y) = 1+σ² and tr Σ_y = d + σ²n). The theory knows its population and
    uses S = Σ_y (:meth:`theory.problem.Population.paper_lr`, :meth:`theory.datamodel.DataModel.paper_lr`:
    every method, Monte Carlo and deterministic equivalent alike); a learner that knows only its
    examples uses the plug-in S = Y Yᵀ/N (:func:`sample_step`, ``linear-exact``). The step is stable,
    η·λ_max(Y Yᵀ) < 2, whenever λ_max(YYᵀ/N) < 2(1+ε)λ_max(S) (always for the plug-in).
    With k chosen over every integer (:mod:`theory.stopping`) GD is stopped at the best time ηk the
    step can resolve; ηλ ≤ 1/(1+ε) keeps that resolution fine where few examples make ε large.

    Args:
        N: training-set size (≥ 1). lam_max, trace: λ_max(S) and tr S (> 0). m: input dimension (≥ 1).
    """
    if not (N >= 1 and m >= 1 and lam_max > 0 and trace > 0 and np.isfinite(lam_max) and np.isfinite(trace)):
        raise ValueError(f"paper_step needs N ≥ 1, m ≥ 1 and a positive finite second moment; got N={N}, m={m}, "
                         f"λ_max={lam_max}, trace={trace}")
    eps = np.sqrt(10.0 * trace * np.log(m) / N)
    return float(1.0 / (N * (1.0 + eps) * lam_max))


def sample_step(spec: TrainingSpectrum, N: int) -> float:
    """:func:`paper_step` on the plug-in second moment Y Yᵀ/N of the training inputs in ``spec``.

    λ_max(YYᵀ/N) = λ₁/N and tr(YYᵀ/N) = Σλ/N (the nonzero eigenvalues carry the whole trace), m = the
    input dimension; so η·λ₁ = 1/(1+ε) < 1: every mode decays monotonically.
    """
    if spec.rank == 0:
        raise ValueError("the training inputs are all zero; the linear estimator is W = 0")
    lam = spec.lam
    return paper_step(int(N), float(lam[0]) / N, float(np.sum(lam)) / N, int(spec.V.shape[0]))


def lr_is_unstable(lr: float, lam_max: float) -> bool:
    """True when η·λ_max ≥ 2·(1 − :data:`LR_STABILITY_RTOL`).

    At η·λ_max = 2 the top mode's error flips sign every step without decaying (GD never converges),
    and past it GD diverges; both are refused. Steps up to 2·(1 − rtol)/λ_max — oscillating but
    convergent — are accepted, whatever rounding λ_max carries.
    """
    return lr * lam_max >= 2.0 * (1.0 - LR_STABILITY_RTOL)


def check_lr(lr: float, lam_max: float) -> None:
    """Raise if the step η is at or past the stability limit η·λ_max(YYᵀ) = 2 (see :func:`lr_is_unstable`)."""
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"learning rate lr={lr} must be a positive finite number (or 'paper')")
    if lr_is_unstable(lr, lam_max):
        raise ValueError(
            f"learning rate lr={lr:.4g} is unstable: lr·λ_max(YYᵀ)={lr * lam_max:.10g} is at or past 2 "
            f"(relative tolerance {LR_STABILITY_RTOL:g}); use lr < {2.0 * (1.0 - LR_STABILITY_RTOL) / lam_max:.4g} "
            "or lr='paper'"
        )


def _as_steps(steps: Any, xp: ModuleType) -> Any:
    k = np.asarray(steps)
    if k.ndim > 1 or (k.size and (np.any(k < 0) or not np.all(np.isfinite(k)))):
        raise ValueError("steps must be a scalar or 1-D array of non-negative numbers")
    return xp.asarray(np.atleast_1d(k).astype(float))


def gd_filter(lam: Any, steps: Any, lr: float, *, xp: ModuleType = np) -> tuple[Any, Any]:
    """Gradient-descent filter after k steps from W⁰ = 0.

    Args:
        lam: (r,) eigenvalues of Y Yᵀ (≥ 0).
        steps: (K,) step counts k ≥ 0 (floats allowed; k may be as large as 1e9).
        lr: step η on ½‖WY − X‖² with η·λ_max < 2.

    Returns:
        f, h: (K, r) arrays, f = 1 − (1 − ηλ)^k and h = f/λ (h → ηk as λ → 0).
    """
    k = _as_steps(steps, xp)[:, None]
    x = lr * xp.asarray(lam)[None, :]
    if bool(xp.all(x < 1.0)) and bool(xp.all(x > 0.0)):
        # the usual case (the paper's step keeps ηλ < 1): four passes over the (K, r) array
        f = -xp.expm1(k * xp.log1p(-x))
        return f, f * (lr / x)
    below = x <= 1.0
    # (1 − x)^k = sign^k · exp(k·log|1 − x|); log1p keeps tiny x exact, x = 1 gives log 0 = −inf.
    with np.errstate(divide="ignore", invalid="ignore"):
        logabs = xp.where(below, xp.log1p(-xp.minimum(x, 1.0)), xp.log(xp.maximum(x - 1.0, 0.0)))
        klog = xp.where(k == 0, 0.0, k * logabs)
        odd = xp.fmod(k, 2.0) == 1.0
        sign = xp.where(below | ~odd, 1.0, -1.0)
        f = xp.where(below, -xp.expm1(klog), 1.0 - sign * xp.exp(klog))
        h = xp.where(x > 0, f / xp.where(x > 0, x, 1.0), k) * lr
    return f, h


def gf_filter(lam: Any, times: Any, lr: float, *, xp: ModuleType = np) -> tuple[Any, Any]:
    """Gradient-flow filter f = 1 − exp(−ηλt), h = f/λ; t in units of steps of size η."""
    t = _as_steps(times, xp)[:, None]
    x = lr * xp.asarray(lam)[None, :] * t
    f = -xp.expm1(-x)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = xp.where(x > 0, f / xp.where(x > 0, x, 1.0), 1.0)  # (1 − e^−x)/x → 1
    return f, ratio * lr * t


def ridge_filter(lam: Any, lam_reg: Any, *, xp: ModuleType = np) -> tuple[Any, Any]:
    """Ridge filter for W_λ = X Yᵀ(Y Yᵀ + λ_reg I)⁻¹: f = λ/(λ+λ_reg), h = 1/(λ+λ_reg).

    Args:
        lam_reg: (K,) regularisation strengths ≥ 0 (on the un-normalised loss ½‖WY−X‖² + ½λ‖W‖²).
    """
    reg = xp.asarray(np.atleast_1d(np.asarray(lam_reg, dtype=float)))[:, None]
    if np.any(np.asarray(lam_reg) < 0):
        raise ValueError("ridge strength lam must be ≥ 0")
    lam = xp.asarray(lam)[None, :]
    h = 1.0 / (lam + reg)
    return lam * h, h


def ols_filter(lam: Any, *, xp: ModuleType = np) -> tuple[Any, Any]:
    """Least-squares (min-norm) filter: f = 1, h = 1/λ on the nonzero spectrum; shapes (1, r)."""
    lam = xp.asarray(lam)[None, :]
    return xp.ones_like(lam), 1.0 / lam


# ---------------------------------------------------------------- estimators as matrices
def optimal(population: Any) -> np.ndarray:
    """W* = Σ_x Aᵀ (A Σ_x Aᵀ + σ² I)⁻¹, shape (n, m); for subspace denoising UUᵀ/(1+σ²)."""
    return population.W_star


def pca(Y: np.ndarray, d: int, sigma: float) -> np.ndarray:
    """W_PCA = Û Ûᵀ/(1+σ²) with Û the top-d left singular vectors of Y (paper, denoising).

    Args:
        Y: (n, N) noisy training data. d: subspace dimension. sigma: noise level.
    """
    U, _, _ = np.linalg.svd(Y, full_matrices=False)
    Ud = U[:, :d]
    return Ud @ Ud.T / (1.0 + sigma**2)


def least_squares(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """W^∞ = X Y⁺ (minimum-norm least squares, the GD limit from W⁰ = 0), shape (n, m)."""
    spec = TrainingSpectrum.fit(Y, X)
    return spec.weights(ols_filter(spec.lam)[1])[0]


def ridge(X: np.ndarray, Y: np.ndarray, lam: float) -> np.ndarray:
    """W_λ = X Yᵀ (Y Yᵀ + λ I)⁻¹, shape (n, m)."""
    spec = TrainingSpectrum.fit(Y, X)
    return spec.weights(ridge_filter(spec.lam, lam)[1])[0]


def gradient_descent(X: np.ndarray, Y: np.ndarray, steps: Any = None, *, lr: float) -> np.ndarray:
    """The GD path W^k for every k in ``steps``, in closed form (one factorisation).

    Args:
        X: (n, N) targets. Y: (m, N) inputs. steps: (K,) step counts, or ``None`` for the
            converged limit W^∞ = X Y⁺. lr: step η (stability is checked).

    Returns:
        (K, n, m) estimators (or (n, m) when ``steps`` is None).
    """
    spec = TrainingSpectrum.fit(Y, X)
    if steps is None:
        return spec.weights(ols_filter(spec.lam)[1])[0]
    check_lr(lr, float(spec.lam[0]))
    return spec.weights(gd_filter(spec.lam, steps, lr)[1])


def gradient_flow(X: np.ndarray, Y: np.ndarray, times: Any = None, *, lr: float) -> np.ndarray:
    """Gradient flow W(t) = X Yᵀ V diag((1 − e^{−ηλt})/λ) Vᵀ; ``times=None`` means converged."""
    spec = TrainingSpectrum.fit(Y, X)
    if times is None:
        return spec.weights(ols_filter(spec.lam)[1])[0]
    return spec.weights(gf_filter(spec.lam, times, lr)[1])


def gd_loop(X: np.ndarray, Y: np.ndarray, steps: Any, *, lr: float) -> np.ndarray:
    """The literal GD iteration W^{k+1} = W^k − η (W^k Y Yᵀ − X Yᵀ) from W⁰ = 0.

    The brute-force twin of :func:`gradient_descent` (as in the paper's notebook); returns W^k at
    the requested ``steps`` (sorted, non-negative ints), shape (K, n, m).

    Args:
        X: (n, N) training targets: the clean signals, or noisy targets T = X + σ_t Z′
            (Noise2Noise-style; the loop is the same, only the targets change).
        Y: (m, N) training inputs. steps: (K,) step counts. lr: step η (stability is checked).
    """
    steps = np.asarray(steps, dtype=int)
    G, XYt = Y @ Y.T, X @ Y.T
    check_lr(lr, float(np.linalg.eigvalsh(G)[-1]))
    W = np.zeros((X.shape[0], Y.shape[0]))
    out = np.empty((steps.size, *W.shape))
    want = {int(k): [i for i, kk in enumerate(steps) if kk == k] for k in steps}
    for k in range(int(steps.max()) + 1 if steps.size else 0):
        for i in want.get(k, ()):
            out[i] = W
        W = W - lr * (W @ G - XYt)
    return out
