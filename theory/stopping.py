"""Early stopping on a continuum: the exact integer argmin of a risk along the GD path, certified.

Every stopping rule of the project — oracle (a draw's true risk), validation (a held-out MSE) and
expected risk (the mean over draws, or the deterministic equivalent) — chooses k among *every*
integer 0 ≤ k ≤ kmax by one search, :func:`search_steps`, a branch and bound on k. An objective
supplies R at any set of k and a lower bound of R over an interval [a, b] of k that is valid for every
k in it; the search evaluates a geometric grid, then bisects every interval whose bound could beat the
best value found by more than a tie tolerance, until no such interval has interior integers. R(k) need
not be unimodal: the bound does not assume it, so the argmin is global. Two kinds of bound:

* :class:`QuadraticPath` — R is a convex quadratic (:class:`PathQuadratic`) in the filter vector g(k)
  (gains h or filter values f of GD, or several such blocks summed: the mean over draws, a split
  path's column groups). On [a, b] every g(k) lies in a box (the endpoints while 0 < ηλ < 1, where
  g_i(k) increases with k), and R is bounded below by its tangent plane at an endpoint, minimised over
  the box. Exact up to a tie tolerance of a few ulps of R's terms (:data:`ORACLE_TIE_RTOL`).
* :class:`CurvaturePath` — R is a finite sum Re[c + Σ β_a u_a^k + Σ Γ_ab u_a^k u_b^k] with |u_a| ≤ 1
  (the deterministic equivalent's contour quadrature, :mod:`theory.data_asymptotics`). Its second
  derivative on [a, b] is bounded by absolute sums M₂ evaluated at a (|u|^k decreases), and
  R(k) ≥ min(R(a), R(b)) − M₂ (b − a)²/8 (linear interpolation error). Exact up to the tolerance the
  caller gives (the quadrature's own accuracy: two k closer than that are the same to the method).

k = ∞ (least squares) is no integer: callers compare it with the search's best separately, a finite k
winning ties. The brute-force twin is the dense argmin over ``arange(kmax + 1)``; the search falls back
to it when anything it evaluates is not finite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .backend import to_numpy
from .estimators import check_lr, gd_filter

__all__ = ["ORACLE_TIE_RTOL", "CurvaturePath", "PathQuadratic", "QuadraticPath", "StepObjective", "Stop", "choose_k",
           "dense_steps", "gd_oracle_search", "search_steps"]

# Two risks count as equal when they differ by less than this, relative to the size of the terms the
# risk is summed from (|c| + |gᵀQg|/T + 2|qᵀg|/T, ~1–10): a few ulps of those terms, about the rounding
# of one evaluation (the risk is 1 + (…)/tr Σ_x, so its rounding is absolute, however small the risk).
ORACLE_TIE_RTOL = 1e-15

_DENSE_BLOCK = 4_000_000  # array elements per block of the dense fallback (memory bound)


@dataclass(frozen=True, eq=False)
class PathQuadratic:
    """A risk along a filter path as a convex quadratic in the filter vector g (gains h or values f).

        R(g) = c + (gᵀ Q g − 2 qᵀ g) / T,   Q = (P Pᵀ + s I) ∘ (Fᵀ F) + diag(e)  (positive semidefinite)

    Built once per draw by :func:`theory.risk.risk_quadratic` (the true risk, in h),
    :func:`theory.risk.conditional_risk_quadratic` (E[R | Y], in f) or
    :func:`theory.risk.validation_quadratic` (a held-out MSE, in h); :meth:`value_grad` evaluates R and
    ∇R at any set of rows g. Arrays are numpy (host). The search's guarantee rests on Q ⪰ 0, which
    holds for all three (a Schur product of positive semidefinite matrices plus a non-negative
    diagonal); a hand-built instance with an indefinite Q has no guarantee.

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
        if self.variable not in ("h", "f"):
            raise ValueError(f"variable={self.variable!r}: use 'h' (gains) or 'f' (filter values)")
        r, p = self.P.shape
        qf = self.F.shape[0]
        object.__setattr__(self, "_diag", self.s * np.sum(self.F * self.F, axis=0) + self.e)  # (r,)
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


@dataclass(frozen=True)
class Stop:
    """The outcome of :func:`search_steps`: the chosen k, R there, and how many k were evaluated."""

    k: int
    value: float
    evaluations: int


class StepObjective(Protocol):
    """What :func:`search_steps` needs of a risk along the GD path.

    ``evaluate(k)`` returns values (K,), tie tolerances (K,) (two values closer than that are a tie)
    and a tuple of per-k arrays (first axis K) that ``lower_bound`` uses;
    ``lower_bound(ka, kb, va, vb, sa, sb)`` returns, per interval, a number ≤ R(k) for every k in
    [ka, kb] (sa, sb: the per-k arrays at the endpoints). ``block``: rows per dense-fallback call.
    """

    block: int

    def evaluate(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]: ...

    def lower_bound(self, ka: np.ndarray, kb: np.ndarray, va: np.ndarray, vb: np.ndarray,
                    sa: tuple[np.ndarray, ...], sb: tuple[np.ndarray, ...]) -> np.ndarray: ...


def search_steps(objective: StepObjective, kmax: int, *, grid: int = 48) -> Stop:
    """argmin over integers 0 ≤ k ≤ kmax of the objective's R(k), certified by its interval bounds.

    Branch and bound (see the module doc). Like ``argmin`` it returns the first k of a tie: intervals
    left of the best k that could tie it (within its tolerance) are searched too, so on a plateau (a
    run of equal values) the plateau's first k is found in O(log kmax) steps. Where a minimum is flat
    to within the tolerance over many k, the search returns whichever k it evaluated lowest — a tie
    within tolerance of the dense argmin (that chase stops after ``8 × grid`` evaluations). If anything
    evaluated is not finite the search falls back to the dense argmin (:func:`dense_steps`).

    Args:
        objective: a :class:`StepObjective` (:class:`QuadraticPath`, :class:`CurvaturePath`).
        kmax: largest k searched (≥ 0). grid: size of the initial geometric grid.

    Returns:
        :class:`Stop` (k, R at k, number of k evaluated).
    """
    kmax = int(kmax)
    if kmax < 0:
        raise ValueError(f"kmax={kmax} must be ≥ 0")
    ks = np.unique(np.concatenate([np.arange(min(kmax, 8) + 1),
                                   np.round(np.geomspace(1, max(kmax, 1), grid)).astype(np.int64), [kmax]]))
    ks = ks[ks <= kmax].astype(np.int64)
    val, tol_k, state = objective.evaluate(ks.astype(float))
    if not _finite(val, state):
        return dense_steps(objective, kmax)
    n_eval = ks.size
    tie_budget = 8 * ks.size  # evaluations after which ties are no longer chased to their first k
    i = int(np.argmin(val))  # first of the lowest: the smallest k (ks is sorted)
    best_k, best, tol = int(ks[i]), float(val[i]), float(tol_k[i])
    # active intervals [ka, kb] with both ends evaluated: (k, value, per-k state) at each end
    ka, va, sa = ks[:-1], val[:-1], tuple(s[:-1] for s in state)
    kb, vb, sb = ks[1:], val[1:], tuple(s[1:] for s in state)
    while ka.size:
        wide = kb - ka > 1
        lb = objective.lower_bound(ka.astype(float), kb.astype(float), va, vb, sa, sb)
        # intervals that could beat the best by more than tol; and, while the tie budget lasts, those
        # left of the best k that could tie it (the bound itself carries rounding, hence + tol)
        keep = wide & (lb < best - tol)
        if n_eval < tie_budget:
            keep |= wide & (kb <= best_k) & (lb <= best + tol)
        if not keep.any():
            break
        ka, va, kb, vb = ka[keep], va[keep], kb[keep], vb[keep]
        sa, sb = tuple(s[keep] for s in sa), tuple(s[keep] for s in sb)
        km = (ka + kb) // 2
        vm, tm, sm = objective.evaluate(km.astype(float))
        if not _finite(vm, sm):
            return dense_steps(objective, kmax)
        n_eval += km.size
        low = np.flatnonzero(vm == vm.min())
        j = low[np.argmin(km[low])]
        if vm[j] < best or (vm[j] == best and km[j] < best_k):
            best_k, best, tol = int(km[j]), float(vm[j]), float(tm[j])
        # each interval splits into [a, m] and [m, b]
        ka, kb = np.concatenate([ka, km]), np.concatenate([km, kb])
        va, vb = np.concatenate([va, vm]), np.concatenate([vm, vb])
        sa = tuple(np.concatenate([x, y]) for x, y in zip(sa, sm))
        sb = tuple(np.concatenate([x, y]) for x, y in zip(sm, sb))
    return Stop(best_k, best, int(n_eval))


def _finite(val: np.ndarray, state: tuple[np.ndarray, ...]) -> bool:
    return bool(np.all(np.isfinite(val)) and all(np.all(np.isfinite(s)) for s in state))


def dense_steps(objective: StepObjective, kmax: int) -> Stop:
    """The brute-force twin of :func:`search_steps`: every k in 0..kmax, the first index of the minimum."""
    kmax = int(kmax)
    ks = np.arange(kmax + 1, dtype=float)
    val = np.empty(kmax + 1)
    for a in range(0, kmax + 1, objective.block):
        val[a : a + objective.block] = objective.evaluate(ks[a : a + objective.block])[0]
    with np.errstate(invalid="ignore"):
        i = int(np.nanargmin(val)) if np.any(np.isfinite(val)) else 0
    return Stop(i, float(val[i]), kmax + 1)


class QuadraticPath:
    """R(k) = Σ_b R_b(g_b(k)): convex quadratics of GD filter vectors, one block per spectrum.

    One block is one draw's risk (oracle), one validation MSE (``linear-exact``, ``gd-val``); several
    are the sum over draws (the expected risk of ``gd-argmin``, up to the factor 1/draws) or a split
    path's column groups. Block b's filter is GD with step η_b on eigenvalues λ_b: g = f = 1 − (1 − η_bλ)^k
    (``variable = "f"``) or h = f/λ (``"h"``).

    Args:
        quads: the blocks' :class:`PathQuadratic` (one, or a sequence).
        lams: their (r_b,) eigenvalues (host or device arrays).
        lrs: their steps η_b (one number for all, or one per block); each stable (:func:`check_lr`).
        rtol: tie tolerance relative to the size of the risk's terms.
    """

    def __init__(self, quads: PathQuadratic | Sequence[PathQuadratic], lams: Any, lrs: float | Sequence[float], *,
                 rtol: float = ORACLE_TIE_RTOL) -> None:
        single = isinstance(quads, PathQuadratic)
        self.quads = [quads] if single else list(quads)
        lam_list = [lams] if single else list(lams)
        lr_list = [float(lrs)] * len(self.quads) if np.ndim(lrs) == 0 else [float(v) for v in lrs]
        if not (len(lam_list) == len(lr_list) == len(self.quads)) or not self.quads:
            raise ValueError("give one eigenvalue array and one step per quadratic block")
        lam_list = [np.asarray(to_numpy(v), dtype=float) for v in lam_list]
        for lam, lr, q in zip(lam_list, lr_list, self.quads):
            if lam.shape != (q.rank,):
                raise ValueError(f"a block has {lam.shape[0]} eigenvalues but its quadratic has rank {q.rank}")
            if lam.size:
                check_lr(lr, float(lam.max()))
        self.lams, self.lrs, self.rtol = lam_list, lr_list, float(rtol)
        self.edges = np.cumsum([0] + [q.rank for q in self.quads])
        lam = np.concatenate(lam_list)
        self.x = np.concatenate([lr * v for lr, v in zip(lr_list, lam_list)])  # ηλ per coordinate
        # g = f·scale: scale = 1/λ for gains (h = f/λ), 1 for filter values
        self.scale = np.concatenate([1.0 / v if q.variable == "h" else np.ones_like(v)
                                     for q, v in zip(self.quads, lam_list)]) if lam.size else lam
        self.monotone = bool(np.all((self.x > 0.0) & (self.x < 1.0)))  # the usual case: every g_i(k) rises
        self._L = np.log1p(-self.x) if self.monotone else None
        self.block = max(1, _DENSE_BLOCK // max(int(self.edges[-1]), 1))

    def rows(self, k: np.ndarray) -> np.ndarray:
        """(K, Σ r_b) filter vectors g(k) of every block."""
        if self.monotone:  # gd_filter's formula without its per-call checks (the search calls it per level)
            return -np.expm1(k[:, None] * self._L) * self.scale
        parts = []
        for q, lam, lr in zip(self.quads, self.lams, self.lrs):
            f, h = gd_filter(lam, k, lr)
            parts.append(h if q.variable == "h" else f)
        return np.concatenate(parts, axis=1)

    def evaluate(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        G = self.rows(k)
        val, grad, mag = np.zeros(k.size), np.empty_like(G), np.zeros(k.size)
        for q, a, b in zip(self.quads, self.edges[:-1], self.edges[1:]):
            v, g, m = q.value_grad(G[:, a:b])
            val += v
            grad[:, a:b] = g
            mag += m
        return val, self.rtol * mag, (G, grad)

    def limit(self) -> float:
        """R at k = ∞ (least squares: f = 1 on every mode, h = 1/λ)."""
        return float(sum(q.value_grad(self.scale[None, a:b])[0][0]  # g = f·scale with f = 1
                         for q, a, b in zip(self.quads, self.edges[:-1], self.edges[1:])))

    def lower_bound(self, ka: np.ndarray, kb: np.ndarray, va: np.ndarray, vb: np.ndarray,
                    sa: tuple[np.ndarray, ...], sb: tuple[np.ndarray, ...]) -> np.ndarray:
        """max of the tangent planes at a and at b, each minimised over the box holding g on [ka, kb].

        R(g) ≥ R(g_a) + Σ_i min(∂_iR(g_a)(lo_i − g_a,i), ∂_iR(g_a)(hi_i − g_a,i)) (convexity).
        """
        (ga, da), (gb, db) = sa, sb
        if self.monotone:  # box [g_a, g_b]: the tangent plane at a (at b) is lowest where it moves g up (down)
            delta = gb - ga
            return np.maximum(va + np.sum(np.minimum(da * delta, 0.0), axis=1),
                              vb - np.sum(np.maximum(db * delta, 0.0), axis=1))
        lo, hi = self._boxes(ka, kb, ga, gb)
        return np.maximum(_tangent_bound(va, da, ga, lo, hi), _tangent_bound(vb, db, gb, lo, hi))

    def _boxes(self, ka: np.ndarray, kb: np.ndarray, ga: np.ndarray, gb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per interval and coordinate, lo ≤ g_i(k) ≤ hi for every integer k in [ka, kb].

        For ηλ_i ≤ 1 the filter 1 − (1 − ηλ_i)^k is non-decreasing in k, so the endpoints bound it; for
        ηλ_i > 1 it oscillates around 1 with amplitude |1 − ηλ_i|^k, bounded by its largest value.
        """
        lo, hi = np.minimum(ga, gb), np.maximum(ga, gb)
        osc = self.x > 1.0
        if np.any(osc):
            rho = np.abs(1.0 - self.x[osc])[None, :]
            amp = np.maximum(rho ** ka[:, None], rho ** kb[:, None])
            scale = self.scale[osc]
            lo[:, osc] = np.minimum(lo[:, osc], (1.0 - amp) * scale)
            hi[:, osc] = np.maximum(hi[:, osc], (1.0 + amp) * scale)
        return lo, hi


def _tangent_bound(v: np.ndarray, d: np.ndarray, g: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """min over the box [lo, hi] of the tangent plane v + d·(g' − g); shapes (J,), (J, r), (J, r), (J, r), (J, r)."""
    return v + np.sum(np.minimum(d * (lo - g), d * (hi - g)), axis=1)


class CurvaturePath:
    """R(k) = Re[c + Σ_a β_a u_a^k + Σ_a γ_a u_a^{2k} + Σ_ab Γ_ab u_a^k u_b^k] with |u_a| ≤ 1, evaluated elsewhere.

    The bound needs only absolute values: on [ka, kb], |u_a|^k ≤ |u_a|^ka, so with ℓ_a = |log u_a|

        |R''(k)| ≤ M₂ = Σ_a |β_a| ℓ_a² x_a + 4 Σ_a |γ_a| ℓ_a² x_a² + Σ_ab |Γ_ab| (ℓ_a + ℓ_b)² x_a x_b,   x_a = |u_a|^ka,

    and R(k) ≥ min(R(ka), R(kb)) − M₂ (kb − ka)²/8 (the error of linear interpolation).

    Args:
        risk: ``risk(ks) -> (K,)`` values of R (the accurate evaluation; the expansion serves the bound only).
        u: (M,) complex, |u| ≤ 1. beta, gamma: (M,) complex. Gamma: (M, M) complex.
        rtol: tie tolerance relative to |R|: the accuracy of ``risk`` itself.
        block: rows per call of the dense fallback.
    """

    def __init__(self, risk: Any, u: np.ndarray, beta: np.ndarray, gamma: np.ndarray, Gamma: np.ndarray, *,
                 rtol: float, block: int = 512) -> None:
        au = np.abs(u)
        if np.any(au > 1.0 + 1e-12):
            raise ValueError("CurvaturePath needs |u| ≤ 1 (a decaying exponential sum); the step is unstable")
        self.risk, self.rtol, self.block = risk, float(rtol), int(block)
        self.logu = np.log(np.minimum(au, 1.0))  # log|u| ≤ 0: |u|^k = exp(k log|u|)
        ell = np.abs(np.log(u.astype(complex)))
        # v_a v_b = v_b v_a: fold each pair before taking |·|; G_aa = |Γ_aa|, and the double sum over
        # a ≠ b counts each pair twice, hence the ½
        G = 0.5 * np.abs(Gamma + Gamma.T)
        self._lin = np.abs(beta) * ell**2
        self._sq = 4.0 * np.abs(gamma) * ell**2
        self._G, self._ell = G, ell

    def evaluate(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        val = np.asarray(self.risk(k), dtype=float)
        return val, self.rtol * np.abs(val), ()

    def curvature(self, ka: np.ndarray) -> np.ndarray:
        """M₂ per interval starting at ka (see the class doc), shape (J,)."""
        X = np.exp(ka[:, None] * self.logu[None, :])  # (J, M)
        XL, XL2 = X * self._ell, X * self._ell**2
        # Σ_ab G_ab (ℓ_a + ℓ_b)² x_a x_b = 2 (ℓ²x)ᵀ G x + 2 (ℓx)ᵀ G (ℓx) for symmetric G
        pair = 2.0 * np.sum((XL2 @ self._G) * X, axis=1) + 2.0 * np.sum((XL @ self._G) * XL, axis=1)
        return (X @ self._lin + (X * X) @ self._sq + pair) * (1.0 + 1e-9)  # headroom for the rounding of the sums

    def lower_bound(self, ka: np.ndarray, kb: np.ndarray, va: np.ndarray, vb: np.ndarray,
                    sa: tuple[np.ndarray, ...], sb: tuple[np.ndarray, ...]) -> np.ndarray:
        return np.minimum(va, vb) - self.curvature(ka) * (kb - ka) ** 2 / 8.0


def choose_k(quads: PathQuadratic | Sequence[PathQuadratic], lams: Any, lrs: float | Sequence[float],
             kmax: float) -> tuple[float, float, Stop]:
    """The best k over every integer 0 ≤ k ≤ kmax and k = ∞ (least squares), a finite k winning a tie.

    Validation stopping of ``linear-exact`` (:mod:`empirical.linear`) and of the notebooks' twins.

    Args:
        quads, lams, lrs: as :class:`QuadraticPath` (e.g. :func:`theory.risk.validation_quadratic`).
        kmax: the largest finite k.

    Returns:
        (k, R at k, the search's :class:`Stop`); k = ``inf`` for least squares.
    """
    objective = QuadraticPath(quads, lams, lrs)
    stop = search_steps(objective, int(kmax))
    at_inf = objective.limit()
    if not (np.isfinite(stop.value) or np.isfinite(at_inf)):
        raise ValueError("no k has a finite risk; check the data for NaN or inf")
    if np.isfinite(stop.value) and (stop.value <= at_inf or not np.isfinite(at_inf)):
        return float(stop.k), stop.value, stop
    return float("inf"), at_inf, stop


def gd_oracle_search(quad: PathQuadratic, lam: Any, lr: float, kmax: int, *, grid: int = 48,
                     rtol: float = ORACLE_TIE_RTOL) -> tuple[int, float, int]:
    """Oracle early stopping of one draw: :func:`search_steps` on its :class:`QuadraticPath`.

    Args:
        quad: the draw's risk (:func:`theory.risk.risk_quadratic` or
            :func:`theory.risk.conditional_risk_quadratic`). lam: (r,) eigenvalues of Y Yᵀ.
        lr: GD step η, stable (:func:`check_lr`). kmax: largest k searched.
        grid: size of the initial geometric grid. rtol: tie tolerance relative to the size of R's terms.

    Returns:
        (k, risk, evaluations): the oracle k, R at k (from the quadratic) and how many k were evaluated.
    """
    if int(kmax) < 0:
        raise ValueError(f"kmax={kmax} must be ≥ 0")
    stop = search_steps(QuadraticPath(quad, lam, lr, rtol=rtol), kmax, grid=grid)
    return stop.k, stop.value, stop.evaluations
