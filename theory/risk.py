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

Oracle early stopping needs only the argmin over k: :func:`risk_quadratic` /
:func:`conditional_risk_quadratic` hold the same quadratic form once per draw and
:func:`gd_oracle_search` finds the exact integer argmin by branch and bound on k (convexity in the
gains gives certified lower bounds on k-intervals), evaluating ~50 k instead of kmax + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .backend import to_numpy
from .estimators import TrainingSpectrum, check_lr, gd_filter
from .problem import Population

__all__ = ["hadamard_quadform", "risk_path", "conditional_risk_path", "validation_error_path", "PathQuadratic",
           "risk_quadratic", "conditional_risk_quadratic", "gd_oracle_search", "ORACLE_TIE_RTOL"]

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


# ------------------------------------------------------------------ oracle early stopping
# Two risks count as equal when they differ by less than this, relative to the size of the terms the
# risk is summed from (|c| + |gᵀQg|/T + 2|qᵀg|/T, ~1–10): a few ulps of those terms, about the rounding
# of one evaluation (the risk is 1 + (…)/tr Σ_x, so its rounding is absolute, however small the risk).
ORACLE_TIE_RTOL = 1e-15


@dataclass(frozen=True, eq=False)
class PathQuadratic:
    """A risk along a filter path as a convex quadratic in the filter vector g (gains h or values f).

        R(g) = c + (gᵀ Q g − 2 qᵀ g) / T,   Q = (P Pᵀ + s I) ∘ (Fᵀ F) + diag(e)  (positive semidefinite)

    Built once per draw by :func:`risk_quadratic` (the true risk, in the gains h) or
    :func:`conditional_risk_quadratic` (E[R | Y], in the filter values f); :meth:`value_grad`
    evaluates R and ∇R at any set of rows g — the ingredients of :func:`gd_oracle_search`.
    Arrays are numpy (host): the search evaluates a few hundred rows at most. The search's guarantee
    rests on Q ⪰ 0, which holds for both risks (a Schur product of positive semidefinite matrices
    plus a non-negative diagonal); a hand-built instance with an indefinite Q has no guarantee.

    Attributes:
        P: (r, p). s: scalar. F: (q, r). e: (r,) extra diagonal (≥ 0). q: (r,). c, T: scalars.
        variable: ``"h"`` (gains) or ``"f"`` (filter values) — which filter output g is.
    """

    P: np.ndarray
    s: float
    F: np.ndarray
    e: np.ndarray
    q: np.ndarray
    c: float
    T: float
    variable: str

    def __post_init__(self) -> None:
        r, p = self.P.shape
        qf = self.F.shape[0]
        diag = self.s * np.sum(self.F * self.F, axis=0) + self.e  # (r,)
        object.__setattr__(self, "_diag", diag)
        if p * qf < r:  # Q − diag = Z Zᵀ with Z_i = P_i ⊗ F_:,i (rank ≤ p·q)
            object.__setattr__(self, "_Z", (self.P[:, :, None] * self.F.T[:, None, :]).reshape(r, p * qf))
            object.__setattr__(self, "_Qd", None)
        else:
            object.__setattr__(self, "_Z", None)
            object.__setattr__(self, "_Qd", (self.P @ self.P.T) * (self.F.T @ self.F))

    @property
    def rank(self) -> int:
        return int(self.P.shape[0])

    def value_grad(self, G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """R, ∇R and the size of R's terms at each row of G.

        Args:
            G: (K, r) filter vectors.

        Returns:
            values (K,), gradients (K, r) and magnitudes (K,) = |c| + (|gᵀQg| + 2|qᵀg|)/T (the scale
            of the rounding error of a value).
        """
        QG = (G @ self._Z) @ self._Z.T if self._Z is not None else G @ self._Qd
        QG = QG + self._diag * G
        quad = np.sum(G * QG, axis=1)
        lin = G @ self.q
        val = self.c + (quad - 2.0 * lin) / self.T
        grad = (2.0 / self.T) * (QG - self.q)
        mag = abs(self.c) + (np.abs(quad) + 2.0 * np.abs(lin)) / self.T
        return val, grad, mag


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


def _filter_rows(lam: np.ndarray, ks: np.ndarray, lr: float, variable: str) -> np.ndarray:
    f, h = gd_filter(lam, ks, lr)
    return h if variable == "h" else f


def _boxes(lam: np.ndarray, lr: float, variable: str, ka: np.ndarray, kb: np.ndarray,
           ga: np.ndarray, gb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per interval [ka, kb] and mode i, bounds lo ≤ g_i(k) ≤ hi valid for every integer k in it.

    For ηλ_i ≤ 1 the filter 1 − (1 − ηλ_i)^k is non-decreasing in k, so the endpoints bound it; for
    ηλ_i > 1 it oscillates around 1 with amplitude |1 − ηλ_i|^k, bounded by its largest value.
    """
    lo, hi = np.minimum(ga, gb), np.maximum(ga, gb)
    x = lr * lam
    osc = x > 1.0
    if np.any(osc):
        rho = np.abs(1.0 - x[osc])[None, :]
        amp = np.maximum(rho ** ka[:, None], rho ** kb[:, None])
        scale = (lr / x[osc]) if variable == "h" else np.ones(int(osc.sum()))  # h = f/λ = f·η/x
        lo[:, osc] = np.minimum(lo[:, osc], (1.0 - amp) * scale)
        hi[:, osc] = np.maximum(hi[:, osc], (1.0 + amp) * scale)
    return lo, hi


def gd_oracle_search(
    quad: PathQuadratic, lam: Any, lr: float, kmax: int, *, grid: int = 48, rtol: float = ORACLE_TIE_RTOL
) -> tuple[int, float, int]:
    """Oracle early stopping: argmin over integers 0 ≤ k ≤ kmax of R(g(k)), without evaluating every k.

    R is a convex quadratic in the filter vector g (Q is positive semidefinite), so on an interval
    [a, b] of k, where every g(k) lies in a box [lo, hi] (:func:`_boxes`), R is bounded below by its
    tangent plane at an evaluated endpoint minimised over the box:

        R(g) ≥ R(g_a) + Σ_i min(∂_iR(g_a)(lo_i − g_a,i), ∂_iR(g_a)(hi_i − g_a,i))

    (and the same at b). Branch and bound on k: evaluate a geometric grid, then repeatedly bisect
    every interval whose bound could beat the best risk found by more than a tie tolerance tol, until
    no such interval has interior integers. R(k) need not be unimodal (it can have several local
    minima); the bound does not assume it, so the search is global and exact up to tol = ``rtol`` ×
    the size of the risk's terms (a few ulps; the risk is 1 + (…)/tr Σ_x, so its rounding is
    absolute): the returned k has R(k) ≤ min_k R(k) + tol, and it is the lowest risk evaluated.
    Like ``argmin`` it returns the first k of an exact tie: intervals left of the best k that could
    tie it are searched too, so on a plateau (every filter converged to 1 in floating point: a run of
    equal values) the plateau's first k is found in O(log kmax) steps. Where a minimum is flat to
    rounding over many k, the dense argmin and the search pick whichever k their own rounding makes
    lowest — the same k or a tie within tol (that chase stops after ``8 × grid`` evaluations).
    The brute-force twin is the dense ``argmin`` of :func:`risk_path` / :func:`conditional_risk_path`
    over ``arange(kmax + 1)``; if anything is not finite the search falls back to it (evaluating
    every k through :meth:`PathQuadratic.value_grad`).

    Args:
        quad: the draw's risk as a quadratic (:func:`risk_quadratic` or :func:`conditional_risk_quadratic`).
        lam: (r,) eigenvalues of Y Yᵀ (as in ``spec.lam``). lr: GD step η, stable (:func:`check_lr`).
        kmax: largest k searched.
        grid: size of the initial geometric grid.
        rtol: tie tolerance relative to the size of the risk's terms.

    Returns:
        (k, risk, evaluations): the oracle k, R at k (from the quadratic) and how many k were evaluated.
    """
    lam = np.asarray(to_numpy(lam), dtype=float)
    kmax = int(kmax)
    if kmax < 0:
        raise ValueError(f"kmax={kmax} must be ≥ 0")
    if lam.size:
        check_lr(lr, float(lam.max()))
    var = quad.variable
    x = lr * lam
    monotone = bool(np.all((x > 0.0) & (x < 1.0)))  # the usual case (paper step): every g_i(k) increases with k
    if monotone:  # gd_filter's formula, without its per-call checks (the search calls it once per level)
        L, scale = np.log1p(-x), (lr / x if var == "h" else np.ones_like(x))

        def rows(k: np.ndarray) -> np.ndarray:
            return -np.expm1(k[:, None] * L) * scale
    else:

        def rows(k: np.ndarray) -> np.ndarray:
            return _filter_rows(lam, k, lr, var)

    ks = np.unique(np.concatenate([np.arange(min(kmax, 8) + 1),
                                   np.round(np.geomspace(1, max(kmax, 1), grid)).astype(np.int64), [kmax]]))
    ks = ks[ks <= kmax].astype(np.int64)
    G = rows(ks.astype(float))
    val, grad, mag = quad.value_grad(G)
    if not (np.all(np.isfinite(val)) and np.all(np.isfinite(grad))):
        return _dense_oracle(quad, lam, lr, kmax)
    n_eval = ks.size
    tie_budget = 8 * ks.size  # evaluations after which ties are no longer chased to their first k
    i = int(np.argmin(val))  # first of the lowest: the smallest k (ks is sorted)
    best_k, best, tol = int(ks[i]), float(val[i]), rtol * float(mag[i])
    # active intervals [ka, kb] with both ends evaluated: (k, value, g, gradient) at each end
    ka, va, ga, da = ks[:-1], val[:-1], G[:-1], grad[:-1]
    kb, vb, gb, db = ks[1:], val[1:], G[1:], grad[1:]
    while ka.size:
        wide = kb - ka > 1
        if monotone:  # box [g_a, g_b]: the tangent plane at a (at b) is lowest where it moves g up (down)
            delta = gb - ga
            lb = np.maximum(va + np.sum(np.minimum(da * delta, 0.0), axis=1),
                            vb - np.sum(np.maximum(db * delta, 0.0), axis=1))
        else:
            lo, hi = _boxes(lam, lr, var, ka.astype(float), kb.astype(float), ga, gb)
            lb = np.maximum(_tangent_bound(va, da, ga, lo, hi), _tangent_bound(vb, db, gb, lo, hi))
        # intervals that could beat the best by more than tol; and, while the tie budget lasts, those
        # left of the best k that could tie it (the bound itself carries rounding, hence + tol)
        keep = wide & (lb < best - tol)
        if n_eval < tie_budget:
            keep |= wide & (kb <= best_k) & (lb <= best + tol)
        if not keep.any():
            break
        ka, va, ga, da, kb, vb, gb, db = (t[keep] for t in (ka, va, ga, da, kb, vb, gb, db))
        km = (ka + kb) // 2
        gm = rows(km.astype(float))
        vm, dm, mm = quad.value_grad(gm)
        if not (np.all(np.isfinite(vm)) and np.all(np.isfinite(dm))):
            return _dense_oracle(quad, lam, lr, kmax)
        n_eval += km.size
        low = np.flatnonzero(vm == vm.min())
        j = low[np.argmin(km[low])]
        if vm[j] < best or (vm[j] == best and km[j] < best_k):
            best_k, best, tol = int(km[j]), float(vm[j]), rtol * float(mm[j])
        # each interval splits into [a, m] and [m, b]
        ka, va, ga, da, kb, vb, gb, db = (np.concatenate(t) for t in (
            (ka, km), (va, vm), (ga, gm), (da, dm), (km, kb), (vm, vb), (gm, gb), (dm, db)))
    return best_k, best, int(n_eval)


def _tangent_bound(v: np.ndarray, d: np.ndarray, g: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """min over the box [lo, hi] of the tangent plane v + d·(g' − g); shapes (J,), (J, r), (J, r), (J, r), (J, r)."""
    return v + np.sum(np.minimum(d * (lo - g), d * (hi - g)), axis=1)


def _dense_oracle(quad: PathQuadratic, lam: np.ndarray, lr: float, kmax: int) -> tuple[int, float, int]:
    """Every k in 0..kmax (the fallback of :func:`gd_oracle_search`); first index of the minimum."""
    ks = np.arange(kmax + 1)
    val = np.empty(kmax + 1)
    step = max(1, _BLOCK_ELEMS // max(quad.rank, 1))
    for a in range(0, kmax + 1, step):
        val[a : a + step] = quad.value_grad(_filter_rows(lam, ks[a : a + step], lr, quad.variable))[0]
    with np.errstate(invalid="ignore"):
        i = int(np.nanargmin(val)) if np.any(np.isfinite(val)) else 0
    return i, float(val[i]), kmax + 1
