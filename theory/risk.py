"""Risk along a whole filter path (every k at once) for one draw of training data.

For W = M diag(h) Vᵀ (M = X Yᵀ V, the form of every spectral estimator) the risk is a quadratic
form in the gains h. Two versions:

* :func:`risk_path`: the true risk R(W) given (X, Y), as the paper computes per draw;
* :func:`conditional_risk_path`: E[R(W) | Y], the Rao–Blackwellised risk. With X = W*Y + E and
  E independent of Y (columns N(0, Σ_e)),

      E[R | Y] = R* + [ tr(W*(I−F)Σ_y(I−F)W*ᵀ) + tr Σ_e · Σ_i f_i² v_iᵀΣ_y v_i / λ_i ] / tr Σ_x,

  F = V diag(f) Vᵀ, so the noise in the targets is integrated exactly and only Y is drawn.
  With noisy targets T = X + σ_t Z′ (Noise2Noise-style) the fit's residual is E + σ_t Z′, still
  independent of Y, so tr Σ_e becomes tr Σ_e + n σ_t² (``pop.trace_e_target``) in the second term
  while R* and the first term (the bias) stay those of the clean x.

Both reduce to  gᵀ[(P Pᵀ + s I) ∘ (Fᵀ F)]g  with P = VᵀAB (Σ_y = AB(AB)ᵀ + σ²I); see
:func:`hadamard_quadform`, which picks a dense (r²) or low-rank (r·p·q) evaluation by cost.

Early stopping needs only the argmin over k: :func:`risk_quadratic` /
:func:`conditional_risk_quadratic` / :func:`validation_quadratic` hold the same quadratic forms once
per draw (:class:`theory.stopping.PathQuadratic`) and :func:`theory.stopping.search_steps` finds the
exact integer argmin by branch and bound on k, evaluating ~50 k instead of kmax + 1.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .backend import to_numpy
from .estimators import TrainingSpectrum
from .problem import Population
from .stopping import PathQuadratic

__all__ = ["hadamard_quadform", "risk_path", "conditional_risk_path", "validation_error_path", "risk_quadratic",
           "conditional_risk_quadratic", "validation_quadratic"]

_BLOCK_ELEMS = 4_000_000  # rows of the filter matrix processed at once (memory bound)


def hadamard_quadform(G: Any, P: Any, s: float, F: Any, *, xp: ModuleType = np) -> Any:
    """Row-wise quadratic forms g_kᵀ [(P Pᵀ + s I) ∘ (Fᵀ F)] g_k.

    Args:
        G: (K, r) rows g_k. P: (r, p). s: scalar added on the diagonal of P Pᵀ. F: (q, r).

    Returns:
        (K,) values.
    """
    K, r = G.shape
    p, q = P.shape[1], F.shape[0]
    colnorm = xp.sum(F * F, axis=0)  # diag(FᵀF), (r,)
    out = xp.empty(K)
    low_rank = p * q < r
    if low_rank:
        # gᵀ[(PPᵀ)∘(FᵀF)]g = ‖Pᵀ diag(g) Fᵀ‖_F²  → one GEMM against Z_i = P_i ⊗ F_:,i
        Z = (P[:, :, None] * F.T[:, None, :]).reshape(r, p * q)
    else:
        Kd = (P @ P.T) * (F.T @ F)
    step = max(1, _BLOCK_ELEMS // max(r, p * q if low_rank else r))
    for a in range(0, K, step):
        g = G[a : a + step]
        if low_rank:
            val = xp.sum((g @ Z) ** 2, axis=1)
        else:
            val = xp.sum((g @ Kd) * g, axis=1)
        out[a : a + step] = val + s * ((g * g) @ colnorm)
    return out


def _P(pop: Population, spec: TrainingSpectrum, xp: ModuleType) -> Any:
    """VᵀAB, shape (r, p)."""
    return spec.V.T @ xp.asarray(pop.AB)


def risk_path(pop: Population, spec: TrainingSpectrum, h: Any, *, xp: ModuleType = np) -> Any:
    """True risk R(W) of W = X Yᵀ V diag(h_k) Vᵀ for every row h_k.

    Args:
        pop: the population the data came from. spec: factorised training data (with XYV or H).
        h: (K, r) gains (from a filter function).

    Returns:
        (K,) risks.
    """
    P = _P(pop, spec, xp)
    mu = xp.asarray(pop.mu)
    if spec.H is not None:  # X = B C: Mᵀ M = Hᵀ diag(μ) H, Bᵀ M = diag(μ) H
        Ft = xp.sqrt(mu)[:, None] * spec.H
        BtM = mu[:, None] * spec.H
    else:
        Ft = spec.XYV
        BtM = xp.asarray(pop.B).T @ spec.XYV
    b = xp.sum(P * BtM.T, axis=1)  # b_i = (Vᵀ A Σ_x M)_ii
    quad = hadamard_quadform(h, P, pop.sigma**2, Ft, xp=xp)
    # R = 1 + (hᵀKh − 2bᵀh)/tr Σ_x; equals R* + excess (the W = 0 risk is 1).
    return 1.0 + (quad - 2.0 * (h @ b)) / pop.trace_x


def conditional_risk_path(pop: Population, spec: TrainingSpectrum, f: Any, *, xp: ModuleType = np) -> Any:
    """Rao–Blackwellised risk E[R(W) | Y] of the filtered estimators, for every row f_k.

    Only ``spec.lam`` and ``spec.V`` are used (X, and the targets' noise of σ_t = ``pop.target_sigma``,
    are integrated out exactly: the variance term carries tr Σ_e + n σ_t²).

    Args:
        f: (K, r) filter values f(λ_i) (not the gains).

    Returns:
        (K,) conditional expected risks.
    """
    P = _P(pop, spec, xp)
    mu, Sinv = xp.asarray(pop.mu), xp.asarray(pop.S_inv)
    Pw = (P @ Sinv) * xp.sqrt(mu)[None, :]  # VᵀW*ᵀW*V = Pw Pwᵀ
    alpha = xp.sum((P @ (mu[:, None] * Sinv)) * P, axis=1)  # v_iᵀ Σ_y Ω v_i
    c = xp.sum(P * P, axis=1) + pop.sigma**2  # v_iᵀ Σ_y v_i
    c0 = pop.trace_x - pop.trace_e  # tr(W* Σ_y W*ᵀ)
    bias = c0 - 2.0 * (f @ alpha) + hadamard_quadform(f, P, pop.sigma**2, Pw.T, xp=xp)
    var = pop.trace_e_target * ((f * f) @ (c / spec.lam))
    return pop.floor + (bias + var) / pop.trace_x


def validation_error_path(
    pop: Population, spec: TrainingSpectrum, h: Any, C_val: Any, Y_val: Any, *, T_val: Any = None,
    xp: ModuleType = np,
) -> Any:
    """Held-out error ‖W_k Y_val − T_val‖_F² (up to the constant ‖T_val‖²) for every row h_k.

    W_k = M diag(h_k) Vᵀ with M = T Yᵀ V the training targets' cross term (``spec.H`` or ``spec.XYV``).

    Args:
        spec: training spectrum holding ``H`` (model-generated clean targets, M = B H) or ``XYV`` (M).
        C_val: (p, N_val) latent codes of the clean validation signals (X_val = B C_val).
        Y_val: (m, N_val) validation inputs.
        T_val: (n, N_val) validation targets when they are not the clean X_val (e.g. noisy targets
            X_val + σ_t Z′_val); ``None`` means T_val = X_val.

    Returns:
        (K,) validation errors minus ‖T_val‖² (only differences and the argmin matter).
    """
    Pv = spec.V.T @ Y_val  # (r, N_val)
    if spec.H is not None and T_val is None:
        mu = xp.asarray(pop.mu)
        Ft = xp.sqrt(mu)[:, None] * spec.H
        d = xp.sum(Pv * ((mu[:, None] * C_val).T @ spec.H).T, axis=1)  # (VᵀY_val X_valᵀ M)_ii
        return hadamard_quadform(h, Pv, 0.0, Ft, xp=xp) - 2.0 * (h @ d)
    B = xp.asarray(pop.B)
    M = spec.XYV if spec.XYV is not None else B @ spec.H  # (n, r)
    T = T_val if T_val is not None else B @ C_val  # (n, N_val)
    d = xp.sum((M.T @ T) * Pv, axis=1)  # (Mᵀ T_val Y_valᵀ V)_ii
    return hadamard_quadform(h, Pv, 0.0, M, xp=xp) - 2.0 * (h @ d)


# ------------------------------------------------------------------ the same risks as quadratics (for stopping)
def risk_quadratic(pop: Population, spec: TrainingSpectrum, *, xp: ModuleType = np) -> PathQuadratic:
    """The true risk R(W) of W = X Yᵀ V diag(h) Vᵀ as a :class:`PathQuadratic` in the gains h.

    The same quantities as :func:`risk_path` (its dense twin), returned on the host.
    """
    P = _P(pop, spec, xp)
    mu = xp.asarray(pop.mu)
    if spec.H is not None:
        Ft = xp.sqrt(mu)[:, None] * spec.H
        BtM = mu[:, None] * spec.H
    else:
        Ft = spec.XYV
        BtM = xp.asarray(pop.B).T @ spec.XYV
    b = xp.sum(P * BtM.T, axis=1)
    P, Ft, b = to_numpy(P), to_numpy(Ft), to_numpy(b)
    return PathQuadratic(P=P, s=float(pop.sigma**2), F=Ft, e=np.zeros(P.shape[0]), q=b, c=1.0,
                         T=float(pop.trace_x), variable="h")


def conditional_risk_quadratic(pop: Population, spec: TrainingSpectrum, *, xp: ModuleType = np) -> PathQuadratic:
    """E[R(W) | Y] as a :class:`PathQuadratic` in the filter values f (dense twin: :func:`conditional_risk_path`)."""
    P = _P(pop, spec, xp)
    mu, Sinv = xp.asarray(pop.mu), xp.asarray(pop.S_inv)
    Pw = (P @ Sinv) * xp.sqrt(mu)[None, :]
    alpha = xp.sum((P @ (mu[:, None] * Sinv)) * P, axis=1)
    cvec = xp.sum(P * P, axis=1) + pop.sigma**2
    e = pop.trace_e_target * (cvec / spec.lam)
    c0 = pop.trace_x - pop.trace_e
    T = float(pop.trace_x)
    P, Pw, alpha, e = to_numpy(P), to_numpy(Pw), to_numpy(alpha), to_numpy(e)
    return PathQuadratic(P=P, s=float(pop.sigma**2), F=Pw.T, e=e, q=alpha, c=float(pop.floor) + c0 / T, T=T,
                         variable="f")


def validation_quadratic(spec: TrainingSpectrum, Y_val: Any, X_val: Any, *, B: Any = None) -> PathQuadratic:
    """The held-out MSE ‖W Y_val − X_val‖_F² / (n N_val) of W = M diag(h) Vᵀ as a :class:`PathQuadratic` in h.

    W Y_val = M diag(h) (Vᵀ Y_val), so the error is c + (hᵀ[(Pv Pvᵀ) ∘ (Mᵀ M)]h − 2 dᵀh)/T with
    Pv = Vᵀ Y_val, d_i = (Mᵀ X_val Pvᵀ)_ii, c = ‖X_val‖²/T and T = n N_val: the per-entry MSE itself
    (its dense twin, up to the constant, is :func:`validation_error_path`). Host arrays (numpy).

    Args:
        spec: training spectrum holding ``XYV`` (M = X Yᵀ V), or ``H`` with ``B`` given (M = B H).
        Y_val: (m, N_val) validation inputs. X_val: (n, N_val) their targets (clean or noisy).
        B: (n, p) signal factor, needed when ``spec`` holds ``H``.

    Returns:
        The MSE along the path as a quadratic in the gains h.
    """
    if spec.XYV is None and B is None:
        raise ValueError("validation_quadratic needs spec.XYV, or B when the spectrum holds latent codes H")
    M = to_numpy(spec.XYV if spec.XYV is not None else B @ spec.H)  # (n, r)
    Y_val, X_val = to_numpy(Y_val), to_numpy(X_val)
    Pv = to_numpy(spec.V).T @ Y_val  # (r, N_val)
    T = float(X_val.size)
    d = np.sum((M.T @ X_val) * Pv, axis=1)
    return PathQuadratic(P=Pv, s=0.0, F=M, e=np.zeros(Pv.shape[0]), q=d, c=float(np.sum(X_val * X_val)) / T, T=T,
                         variable="h")
