"""Risk along a whole filter path (every k at once) for one draw of training data.

For W = M diag(h) Vᵀ (M = X Yᵀ V, the form of every spectral estimator) the risk is a quadratic
form in the gains h. Two versions:

* :func:`risk_path`: the true risk R(W) given (X, Y), as the paper computes per draw;
* :func:`conditional_risk_path`: E[R(W) | Y], the Rao–Blackwellised risk. With X = W*Y + E and
  E independent of Y (columns N(0, Σ_e)),

      E[R | Y] = R* + [ tr(W*(I−F)Σ_y(I−F)W*ᵀ) + tr Σ_e · Σ_i f_i² v_iᵀΣ_y v_i / λ_i ] / tr Σ_x,

  F = V diag(f) Vᵀ, so the noise in the targets is integrated exactly and only Y is drawn.

Both reduce to  gᵀ[(P Pᵀ + s I) ∘ (Fᵀ F)]g  with P = VᵀAB (Σ_y = AB(AB)ᵀ + σ²I); see
:func:`hadamard_quadform`, which picks a dense (r²) or low-rank (r·p·q) evaluation by cost.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .estimators import TrainingSpectrum
from .problem import Population

__all__ = ["hadamard_quadform", "risk_path", "conditional_risk_path", "validation_error_path"]

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

    Only ``spec.lam`` and ``spec.V`` are used (X is integrated out exactly).

    Args:
        f: (K, r) filter values f(λ_i) (not the gains).

    Returns:
        (K,) conditional expected risks.
    """
    P = _P(pop, spec, xp)
    mu, Sinv = xp.asarray(pop.mu), xp.asarray(pop._S_inv)
    Pw = (P @ Sinv) * xp.sqrt(mu)[None, :]  # VᵀW*ᵀW*V = Pw Pwᵀ
    alpha = xp.sum((P @ (mu[:, None] * Sinv)) * P, axis=1)  # v_iᵀ Σ_y Ω v_i
    c = xp.sum(P * P, axis=1) + pop.sigma**2  # v_iᵀ Σ_y v_i
    c0 = pop.trace_x - pop.trace_e  # tr(W* Σ_y W*ᵀ)
    bias = c0 - 2.0 * (f @ alpha) + hadamard_quadform(f, P, pop.sigma**2, Pw.T, xp=xp)
    var = pop.trace_e * ((f * f) @ (c / spec.lam))
    return pop.floor + (bias + var) / pop.trace_x


def validation_error_path(
    pop: Population, spec: TrainingSpectrum, h: Any, C_val: Any, Y_val: Any, *, xp: ModuleType = np
) -> Any:
    """Held-out error ‖W_k Y_val − X_val‖_F² (up to the constant ‖X_val‖²) for every row h_k.

    Args:
        spec: training spectrum holding ``H`` (model-generated data).
        C_val: (p, N_val) latent codes of the validation targets (X_val = B C_val).
        Y_val: (m, N_val) validation inputs.

    Returns:
        (K,) validation errors minus ‖X_val‖² (only differences and the argmin matter).
    """
    mu = xp.asarray(pop.mu)
    Pv = spec.V.T @ Y_val  # (r, N_val)
    Ft = xp.sqrt(mu)[:, None] * spec.H
    d = xp.sum(Pv * ((mu[:, None] * C_val).T @ spec.H).T, axis=1)  # (VᵀY_val X_valᵀ M)_ii
    return hadamard_quadform(h, Pv, 0.0, Ft, xp=xp) - 2.0 * (h @ d)
