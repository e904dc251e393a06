"""Split-measurement (SSDU-style) training of a linear estimator for MRI: the exact GD path and its risk.

Every training example i has measured k-space columns M_i, split into input columns Λ_i and loss
columns Γ_i (Λ_i ∪ Γ_i = M_i; they may overlap, e.g. the fully sampled centre kept in both). The
estimator sees a real input y_i ∈ R^m (in the theory: the MRI measurement vector with the entries
outside Λ_i zeroed; any real feature vector works) and is trained to predict the measured, noisy
k-space κ_i on Γ_i only:

    L(W) = ½ Σ_i ‖G_i W y_i − t_i‖²,    W real (n, m),

G_i the real representation of P_Γi F (rows Re and Im of the Γ_i columns), F the unitary centred
DFT :func:`theory.operators.fft2c` of the (h, w) image (C order, n = h·w), t_i = [Re, Im] of κ_i on
Γ_i. GD from W⁰ = 0 with step η: W^{k+1} = W^k − η Σ_i G_iᵀ(G_i W^k y_i − t_i) y_iᵀ.

Derivation. For a real image v, v̂ = F v is conjugate symmetric, v̂(−ω) = conj v̂(ω), with −ω the
partner index :func:`~theory.operators.conjugate_index` on both axes (even sizes: Nyquist and DC are their own partners;
odd: only DC). Hence G_iᵀG_i = Re(F^H P_Γi F) = F^H diag(s_i) F with the per-frequency weight

    s_i(ω) = (p_i(ω) + p_i(−ω)) / 2 ∈ {0, ½, 1},    p_i(ω) = 1 iff ω's column ∈ Γ_i,

and G_iᵀ t_i = u_i = Re(F^H P_Γi κ_i), whose DFT is û_i(ω) = ½(P κ_i(ω) + conj(P κ_i(−ω))) (zero
wherever s_i(ω) = 0). In W̃ = F W (complex, one row per frequency ω of the output image) the
iteration decouples into rows: W̃_ω ← W̃_ω − η(W̃_ω Y S_ω Yᵀ − b_ω), S_ω = diag_i s_i(ω),
b_ω = Σ_i û_i(ω) y_iᵀ ∈ row space of Y S_ω. So, with Y S_ω Yᵀ = V_ω diag(λ_ω) V_ωᵀ,

    W̃^k_ω = b_ω V_ω diag(f_k(λ_ω)/λ_ω) V_ωᵀ,    f_k(λ) = 1 − (1 − ηλ)^k    (k = ∞: f = 1, min-norm LS),

a spectral filter over pairs (frequency, eigenvalue of Y S_ω Yᵀ). S_ω depends only on ω's column c,
and s(c) = s(−c), so columns with the same weight vector (at least each pair {c, −c}; all always
supervised centre columns together) share one factorisation: about w/2 + 1 of them, each of
:class:`theory.estimators.TrainingSpectrum` (m×m or the N×N Gram, whichever is cheaper). W^k =
F^H W̃^k is real because row −ω is the conjugate of row ω. Default step η = 1/max_ω λ_max(Y S_ω Yᵀ).

Risk on the clean x (:func:`split_risk_curve`). At test time the trained W is applied to the FULL
measured vector y = A x + z (the SSDU inference convention: all measured data in, no split), so the
risk of one trained W is exactly :meth:`Population.risk`. There is no closed form over the random
splits, so the expectation over training sets is Monte Carlo; each draw's risk is exact. Note that
training inputs hold only the Λ_i columns while test inputs hold all of them: for a linear
estimator this train/test mismatch (dropout-like, no rescaling) keeps the split estimator away from
W* even as N → ∞; it is the convention's cost, not a numerical error. Moreover, with one mask per
problem a frequency whose column and partner column are both unmeasured is never in any Γ_i, so its
row of W̃^k stays exactly 0 and R(W^k) ≥ (signal energy on those frequencies)/tr Σ_x for every k, N:
the split estimator cannot learn what no example measures (unlike W*, which infers it from Σ_x).
:func:`split_risk_curve` reports that bound as ``mask_floor`` (:func:`mask_floor`), the best risk
reachable from each draw's training set as ``realised_floor`` (:func:`realised_floor`), and R* of W* as
``floor``; they are ordered R* ≤ mask_floor ≤ realised_floor ≤ R(W^k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .estimators import TrainingSpectrum, check_lr, gd_filter
from .montecarlo import draw_rng
from .operators import MRI, conjugate_index, fft2c, ifft2c
from .problem import Population, Problem

__all__ = ["SplitPath", "mask_floor", "realised_floor", "split_columns", "split_gd_loop", "split_risk_curve",
           "split_training_set"]

CENTER_MODES = ("both", "lambda")


# --------------------------------------------------------------------------- the split of the columns
def split_columns(measured: Any, *, fraction: float = 0.6, center: str = "both", center_columns: Any = None,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random split of the measured columns into input columns Λ and loss columns Γ.

    The measured non-centre columns are shuffled and the first ``⌊fraction · count + ½⌋`` (rounded half
    up: 2.5 → 3, not Python's half-to-even ``round``) go to Λ, the rest to Γ (a fixed proportion, as in SSDU). The fully sampled centre goes to both Λ and Γ
    (``center="both"``, default: the loss then supervises the low frequencies, which hold most of the
    image energy, directly) or only to Λ (``center="lambda"``: Λ and Γ disjoint).

    Args:
        measured: (w,) bool, the measured columns (e.g. ``MRI.mask_columns()``).
        fraction: share of the non-centre measured columns given to Λ, in (0, 1).
        center: ``"both"`` or ``"lambda"``.
        center_columns: (w,) bool or int indices of the centre columns (``MRI.center_columns()``), a
            subset of ``measured``; ``None``: no protected centre.
        rng: the split's random stream.

    Returns:
        lam, gamma: (w,) bool arrays, Λ ∪ Γ = measured.
    """
    meas = np.asarray(measured)
    if meas.ndim != 1 or meas.dtype != bool or not meas.any():
        raise ValueError("measured must be a non-empty (w,) bool array of measured columns (MRI.mask_columns())")
    w = meas.size
    frac = float(fraction) if np.ndim(fraction) == 0 and not isinstance(fraction, (bool, str)) else np.nan
    if not 0.0 < frac < 1.0:
        raise ValueError(f"fraction={fraction!r} must be in (0, 1) (share of the non-centre columns given to Λ)")
    if center not in CENTER_MODES:
        raise ValueError(f"center={center!r} must be 'both' or 'lambda' (where the fully sampled centre goes)")
    centre = np.zeros(w, dtype=bool)
    if center_columns is not None:
        cc = np.asarray(center_columns)
        if cc.dtype == bool and cc.shape == (w,):
            centre = cc.copy()
        elif cc.ndim == 1 and np.issubdtype(cc.dtype, np.integer) and np.all((cc >= 0) & (cc < w)):
            centre[cc] = True
        else:
            raise ValueError(f"center_columns must be a ({w},) bool mask or column indices in [0, {w})")
        if np.any(centre & ~meas):
            raise ValueError("center_columns must be measured columns; pass MRI.center_columns() with its mask")
    outer = rng.permutation(np.flatnonzero(meas & ~centre))
    n_lam = int(np.floor(frac * outer.size + 0.5))
    lam, gamma = centre.copy(), centre.copy() if center == "both" else np.zeros(w, dtype=bool)
    lam[outer[:n_lam]] = True
    gamma[outer[n_lam:]] = True
    if not lam.any():
        raise ValueError("Λ (input columns) came out empty; raise fraction or pass the centre columns")
    if not gamma.any():
        raise ValueError("Γ (loss columns) came out empty; lower fraction or use center='both'")
    return lam, gamma


# --------------------------------------------------------------------------- the exact GD path
def _check_data(Y: Any, targets: Any, gamma: Any, shape: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Validated (Y, P_Γ κ, gamma, h, w); one-line ValueError naming the fix otherwise."""
    if np.ndim(shape) != 1 or len(shape) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in shape):
        raise ValueError(f"shape={shape!r} must be the image size (h, w), two positive integers")
    h, w = (int(s) for s in shape)
    Y = np.asarray(Y)
    if Y.ndim != 2 or np.iscomplexobj(Y) or not np.all(np.isfinite(Y)):
        raise ValueError(f"Y has shape {Y.shape}; expected a real finite (m, N) matrix of training inputs")
    N = Y.shape[1]
    targets, gamma = np.asarray(targets), np.asarray(gamma)
    if targets.shape != (N, h, w):
        raise ValueError(f"targets have shape {targets.shape}; expected (N, h, w) = {(N, h, w)} measured k-space")
    if gamma.shape != (N, w) or gamma.dtype != bool:
        raise ValueError(f"gamma has shape {gamma.shape}, dtype {gamma.dtype}; expected (N, w) = {(N, w)} bool")
    if not np.all(gamma.any(axis=1)):
        raise ValueError(f"example {int(np.argmin(gamma.any(axis=1)))} has no loss columns; give every Γ_i a column")
    Pk = np.where(gamma[:, None, :], targets, 0).astype(np.complex128)
    if not np.all(np.isfinite(Pk)):
        raise ValueError("targets are not finite on the loss columns Γ")
    return Y.astype(np.float64, copy=False), Pk, gamma, h, w


def _steps(steps: Any) -> tuple[np.ndarray, bool]:
    k = np.asarray(steps, dtype=float)
    if k.ndim > 1 or k.size == 0 or np.any(np.isnan(k)) or np.any(k < 0):
        raise ValueError("steps must be a non-negative number or 1-D array of them (np.inf: least squares)")
    return np.atleast_1d(k), k.ndim == 0


@dataclass(frozen=True, eq=False)
class SplitPath:
    """The whole GD path of the split loss, from one factorisation per group of columns.

    Attributes:
        shape: (h, w) image shape; n = h·w outputs.
        m: input length.
        lr_: step η.
        groups_: per group, the columns (int array) sharing one weight vector s(c) (N,).
        spectra_: per group, :class:`TrainingSpectrum` of Y diag(s) Yᵀ (lam (r,), V (m, r)).
        BV_: per group, b V: (h·|columns|, r) complex, rows (row, column) in C order.
    """

    shape: tuple[int, int]
    m: int
    lr_: float
    groups_: tuple[np.ndarray, ...]
    spectra_: tuple[TrainingSpectrum, ...]
    BV_: tuple[np.ndarray, ...]

    @classmethod
    def fit(cls, Y: Any, targets: Any, gamma: Any, *, shape: tuple[int, int], lr: float | None = None) -> "SplitPath":
        """Factor the split loss.

        Args:
            Y: (m, N) real training inputs.
            targets: (N, h, w) measured k-space (complex); values outside Γ_i are ignored.
            gamma: (N, w) bool loss columns Γ_i.
            shape: (h, w) output image shape.
            lr: GD step η; ``None``: 1/max_ω λ_max(Y S_ω Yᵀ). Stability is checked.

        Cost: one factorisation (m×m, N×N or SVD) per group (≈ w/2 + 1 for per-example random splits)
        plus O(n·N·m) for b V; :meth:`weights` is O(K·n·m·r) per group, no iteration.
        """
        Y, Pk, gamma, h, w = _check_data(Y, targets, gamma, shape)
        N = Y.shape[1]
        cw, ch = conjugate_index(w), conjugate_index(h)
        s = 0.5 * (gamma.astype(float) + gamma[:, cw])  # (N, w); not bool + bool (that is "or")
        uhat = 0.5 * (Pk + np.conj(Pk[:, ch][:, :, cw]))  # F Re(F^H P κ), exact zeros where s = 0
        keys: dict[bytes, list[int]] = {}
        for c in range(w):
            if s[:, c].any():
                keys.setdefault(s[:, c].tobytes(), []).append(c)
        groups = tuple(np.array(cols) for cols in keys.values())
        spectra = TrainingSpectrum.fit_many([Y * np.sqrt(s[:, cols[0]])[None, :] for cols in groups])
        BV = tuple((uhat[:, :, cols].reshape(N, -1).T @ Y.T) @ sp.V for cols, sp in zip(groups, spectra))
        lam_max = max((float(sp.lam[0]) for sp in spectra if sp.rank), default=0.0)
        if lam_max <= 0:
            raise ValueError("Y S_ω Yᵀ is zero for every frequency; the inputs Y carry no data")
        if lr is None:
            lr = 1.0 / lam_max
        check_lr(lr, lam_max)
        return cls((h, w), Y.shape[0], float(lr), groups, tuple(spectra), BV)

    def _gains(self, spec: TrainingSpectrum, k: np.ndarray) -> np.ndarray:
        """(K, r) gains f/λ; k = ∞ gives 1/λ (min-norm least squares)."""
        H = np.empty((k.size, spec.rank))
        fin = np.isfinite(k)
        if fin.any():
            H[fin] = gd_filter(spec.lam, k[fin], self.lr_)[1]
        H[~fin] = 1.0 / spec.lam
        return H

    def _wtilde(self, k: np.ndarray) -> np.ndarray:
        """W̃^k = F W^k as (K, h, w, m) complex (rows: output frequencies)."""
        h, w = self.shape
        Wt = np.zeros((k.size, h, w, self.m), dtype=np.complex128)
        for cols, spec, BV in zip(self.groups_, self.spectra_, self.BV_):
            blk = (BV[None] * self._gains(spec, k)[:, None, :]) @ spec.V.T
            Wt[:, :, cols, :] = blk.reshape(k.size, h, cols.size, self.m)
        return Wt

    def weights(self, steps: Any) -> np.ndarray:
        """W^k for each step count.

        Args:
            steps: scalar or (K,) step counts ≥ 0 (np.inf: the min-norm least-squares limit).

        Returns:
            (n, m) for a scalar k, else (K, n, m) real estimators.
        """
        k, scalar = _steps(steps)
        h, w = self.shape
        W = ifft2c(np.moveaxis(self._wtilde(k), -1, 1)).real  # (K, m, h, w)
        W = np.ascontiguousarray(W.reshape(k.size, self.m, h * w).transpose(0, 2, 1))
        return W[0] if scalar else W

    def predict(self, Yv: Any, steps: Any) -> np.ndarray:
        """Outputs W^k Yv for each k without forming W^k (cheaper when Nv < m).

        Args:
            Yv: (m, Nv) real inputs. steps: as in :meth:`weights`.

        Returns:
            (K, n, Nv) real images, flattened in C order (K = 1 for a scalar k).
        """
        Yv = np.asarray(Yv, dtype=np.float64)
        if Yv.ndim != 2 or Yv.shape[0] != self.m:
            raise ValueError(f"Yv has shape {Yv.shape}; expected ({self.m}, Nv) inputs like the training Y")
        k, _ = _steps(steps)
        h, w = self.shape
        Z = np.zeros((k.size, Yv.shape[1], h, w), dtype=np.complex128)
        for cols, spec, BV in zip(self.groups_, self.spectra_, self.BV_):
            blk = (BV[None] * self._gains(spec, k)[:, None, :]) @ (spec.V.T @ Yv)  # (K, h·|C|, Nv)
            Z[..., cols] = blk.reshape(k.size, h, cols.size, -1).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(ifft2c(Z).real.reshape(k.size, -1, h * w).transpose(0, 2, 1))


def split_gd_loop(Y: Any, targets: Any, gamma: Any, *, shape: tuple[int, int], steps: Any, lr: float) -> np.ndarray:
    """The literal GD loop on the split loss, the brute-force twin of :class:`SplitPath`.

    Each step forms the predictions W Y, takes their k-space by :func:`fft2c`, keeps the residual on
    the Γ_i columns and applies G_iᵀ = Re(ifft2c(·)) (the transpose of the real map, as in
    ``MRI.adjoint``): W ← W − η Σ_i G_iᵀ(G_i W y_i − t_i) y_iᵀ. No conjugate-symmetry argument is used.
    ``lr`` is taken as given (no stability check, which would need the path's derivation).

    Args:
        Y, targets, gamma, shape: as in :meth:`SplitPath.fit`. steps: (K,) integer step counts ≥ 0.
        lr: step η.

    Returns:
        (K, n, m) W^k at the requested steps.
    """
    Y, Pk, gamma, h, w = _check_data(Y, targets, gamma, shape)
    k = np.asarray(steps)
    if k.ndim != 1 or not np.issubdtype(k.dtype, np.integer) or np.any(k < 0):
        raise ValueError("steps must be a 1-D array of integer step counts ≥ 0")
    N, mask = Y.shape[1], gamma[:, None, :]
    W = np.zeros((h * w, Y.shape[0]))
    out = np.empty((k.size, *W.shape))
    for it in range(int(k.max(initial=-1)) + 1):
        out[k == it] = W
        resid = np.where(mask, fft2c((W @ Y).T.reshape(N, h, w)) - Pk, 0)
        W = W - lr * (ifft2c(resid).real.reshape(N, h * w).T @ Y.T)
    return out


# --------------------------------------------------------------------------- risk on the clean x
def _mri(problem: Problem) -> MRI:
    if not isinstance(problem.operator, MRI):
        raise ValueError("split measurements need an MRI problem; pass Problem(..., operator=MRI(...))")
    if problem.target_sigma > 0:
        raise ValueError("split training uses the measurements as targets; set target_sigma=0")
    return problem.operator


def split_training_set(problem: Problem, pop: Population, N: int, *, fraction: float = 0.6, center: str = "both",
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw N examples x, y = A x + z and a split (Λ_i, Γ_i) of the operator's columns for each.

    Args:
        problem: MRI problem (the mask and σ). pop: its population draw (the signal basis).
        N: examples. fraction, center: as in :func:`split_columns`. rng: the random stream.

    Returns:
        Y_lam: (m, N) measurement vectors with the entries outside Λ_i zeroed;
        targets: (N, h, w) measured noisy k-space (zero off the mask); gamma: (N, w) bool.
    """
    op = _mri(problem)
    h, w = op.shape
    _, Y = pop.sample(int(N), rng=rng)
    measured, centre = op.mask_columns(), op.center_columns()
    lam, gamma = np.zeros((N, w), dtype=bool), np.zeros((N, w), dtype=bool)
    for i in range(N):
        lam[i], gamma[i] = split_columns(measured, fraction=fraction, center=center, center_columns=centre, rng=rng)
    keep = np.broadcast_to(lam[:, None, measured], (N, h, op.num_sampled)).reshape(N, -1)  # layout of k (h, s)
    Y_lam = Y * np.concatenate([keep, keep], axis=1).T
    return Y_lam, fft2c(op.zero_filled(Y.T)), gamma


def _never_supervised(op: MRI, center: str) -> np.ndarray:
    """(w,) bool: columns that no split can put in Γ, nor their conjugate partner columns."""
    can = op.mask_columns()
    if center == "lambda":
        can &= ~op.center_columns()
    return ~(can | can[conjugate_index(op.shape[1])])


def mask_floor(problem: Problem, pop: Population, *, center: str = "both") -> float:
    """The split estimator's floor set by the mask: the signal energy on never-supervised frequencies.

    A frequency whose column and conjugate partner column can never be in any Γ_i (unmeasured, or the
    centre with ``center="lambda"``) keeps its row of W̃^k = F W^k exactly 0 for every k and N, so
    ``R(W^k) ≥ Σ_{ω never supervised} E|(F x)_ω|² / tr Σ_x = ‖P_U F B‖_F² / tr Σ_x`` (Σ_x = B Bᵀ). Unlike
    R* (:attr:`Population.floor`, the floor of W*, which infers those frequencies from Σ_x), no amount
    of split-trained data goes below it.

    Args:
        problem: MRI problem (the mask). pop: its population draw (B: (n, p)).
        center: where the split puts the centre columns, as in :func:`split_columns`.

    Returns:
        The floor, a fraction of tr Σ_x in [0, 1].
    """
    op = _mri(problem)
    if center not in CENTER_MODES:
        raise ValueError(f"center={center!r} must be 'both' or 'lambda' (where the fully sampled centre goes)")
    h, w = op.shape
    FB = fft2c(np.asarray(pop.B).T.reshape(-1, h, w))  # (p, h, w)
    return float(np.sum(np.abs(FB[:, :, _never_supervised(op, center)]) ** 2) / pop.trace_x)


def realised_floor(pop: Population, Y: Any, gamma: Any, *, shape: tuple[int, int]) -> float:
    """The lowest risk any estimator trainable on this split training set can reach.

    Split-trained GD keeps each row of W̃ = F W in the span of the inputs that supervise it:
    ``W̃^k_ω ∈ span{y_iᵀ : s_i(ω) > 0}`` for every k (module docstring). The risk decouples over rows,
    ``R(W) = R* + Σ_ω (W̃_ω − W̃*_ω) Σ_y (W̃_ω − W̃*_ω)ᴴ / tr Σ_x`` (Σ_y = (AB)(AB)ᵀ + σ² I), so the best
    estimator in that set is the Σ_y-weighted projection of each row of W̃* onto its span (Q_ω an
    orthonormal basis): excess ``w Σ_y wᴴ − w Σ_y Q (Qᵀ Σ_y Q)⁻¹ Qᵀ Σ_y wᴴ`` per row. It is ≤ R(W^k) for
    every k (including least squares) and ≥ :func:`mask_floor`. It need not approach R* even as N → ∞:
    outside the centre Λ_i and Γ_i are disjoint, so the inputs that supervise a column lack its own
    samples (the train/test mismatch of the module docstring).

    Args:
        pop: the population the training set was drawn from. Y: (m, N) the training inputs (Λ_i entries).
        gamma: (N, w) bool loss columns. shape: (h, w) image shape.

    Returns:
        The realised floor, a fraction of tr Σ_x.
    """
    N = np.shape(Y)[1] if np.ndim(Y) == 2 else 0
    try:
        dummy = np.zeros((N, *shape), dtype=complex)  # _check_data wants targets; only Y, gamma matter here
    except (TypeError, ValueError):
        dummy = np.zeros((N, 0))
    Y, _, gamma, h, w = _check_data(Y, dummy, gamma, shape)
    AB = np.asarray(pop.AB)
    if Y.shape[0] != AB.shape[0]:
        raise ValueError(f"Y has {Y.shape[0]} rows but the population's measurements have m = {AB.shape[0]}")
    Sy = AB @ AB.T + pop.sigma**2 * np.eye(AB.shape[0])
    Wt = fft2c(np.asarray(pop.W_star).T.reshape(-1, h, w))  # (m, h, w): rows of F W*, one per frequency
    g = gamma.astype(float)
    s = 0.5 * (g + g[:, conjugate_index(w)])  # (N, w) per-column weights s_i(c)
    excess = 0.0
    for c in range(w):
        rows = Wt[:, :, c].T  # (h, m)
        total = float(np.einsum("rm,mk,rk->", rows.conj(), Sy, rows).real)
        idx = s[:, c] > 0
        if idx.any():
            U, sv, _ = np.linalg.svd(Y[:, idx], full_matrices=False)
            Q = U[:, sv > sv[0] * max(Y.shape) * np.finfo(float).eps]
            P = rows @ Sy @ Q  # (h, r)
            total -= float(np.einsum("rq,qk,rk->", P.conj(), np.linalg.inv(Q.T @ Sy @ Q), P).real)
        excess += max(total, 0.0)
    return float(pop.floor + excess / pop.trace_x)


def split_risk_curve(problem: Problem, N_values: Sequence[int], steps: Any, *, draws: int, fraction: float = 0.6,
                     center: str = "both", lr: float | None = None, rng: np.random.Generator) -> list[dict]:
    """Expected risk on the clean x of the split-trained W^k, by Monte Carlo over training sets.

    Per draw: a population (signal basis), N examples with their splits, the exact path, and the
    exact risk R(W^k) = :meth:`Population.risk` with W^k applied to the full measured y. No closed
    form exists over the random splits, hence the average over ``draws``.

    Args:
        problem: MRI problem. N_values: training-set sizes. steps: (K,) step counts (np.inf: least
            squares). draws: training sets per N. fraction, center: the split. lr: step (None: per
            draw 1/max λ). rng: source of the base seed (draw (N, d) has its own stream).

    Returns:
        Rows (dicts) with the problem's description, N, estimator ("gd", "ols" for k = ∞, and
        "gd-oracle": per draw the min over the given finite steps), k, risk_mean, risk_sem (over
        draws), risk_std, runs, floor, mask_floor, realised_floor, lr, method="montecarlo-split",
        target="split". Three floors, means over draws: ``floor`` is R* = R(W*) of the optimal linear
        estimator (:attr:`Population.floor`), which the split estimator need not approach;
        ``mask_floor`` the energy of the never-supervised frequencies (:func:`mask_floor`), below which
        no split-trained W goes at any N; ``realised_floor`` the best risk within the span of each draw's
        training set (:func:`realised_floor`), a lower bound of every row's risk for that N.
    """
    _mri(problem)
    Ns = np.atleast_1d(np.asarray(N_values))
    if Ns.ndim != 1 or Ns.size == 0 or np.any(Ns != np.round(Ns)) or np.any(Ns < 1):
        raise ValueError("N_values must be a non-empty list of positive integers")
    k, _ = _steps(steps)
    if int(draws) != draws or draws < 1:
        raise ValueError(f"draws={draws!r} must be a positive integer")
    base, desc, fin = int(rng.integers(2**62)), problem.describe(), np.isfinite(k)
    extra = {"method": "montecarlo-split", "target": "split", "fraction": fraction, "center": center,
             "runs": int(draws)}
    rows = []
    for N in Ns.astype(int):
        R, floors, lrs = np.empty((draws, k.size)), np.empty(draws), np.empty(draws)
        mfloors, rfloors = np.empty(draws), np.empty(draws)
        for d in range(draws):
            r = draw_rng(base, N, d)
            pop = problem.population(rng=r)
            Y_lam, T, gamma = split_training_set(problem, pop, N, fraction=fraction, center=center, rng=r)
            path = SplitPath.fit(Y_lam, T, gamma, shape=problem.operator.shape, lr=lr)
            R[d], floors[d], lrs[d] = pop.risk(path.weights(k)), pop.floor, path.lr_
            mfloors[d] = mask_floor(problem, pop, center=center)
            rfloors[d] = realised_floor(pop, Y_lam, gamma, shape=problem.operator.shape)
        common = {**desc, "N": int(N), "floor": float(floors.mean()), "mask_floor": float(mfloors.mean()),
                  "realised_floor": float(rfloors.mean()), "lr": float(lrs.mean()), **extra}

        def row(est: str, kk: Any, vals: np.ndarray, **more: Any) -> dict:
            std = float(vals.std(ddof=1)) if draws > 1 else 0.0
            return {**common, "estimator": est, "k": kk, "risk_mean": float(vals.mean()), "risk_std": std,
                    "risk_sem": std / np.sqrt(draws), **more}

        rows += [row("gd", int(kk), R[:, t]) if np.isfinite(kk) else row("ols", None, R[:, t])
                 for t, kk in enumerate(k)]
        if fin.any():
            best = np.argmin(R[:, fin], axis=1)
            kopt = k[fin][best]
            rows.append(row("gd-oracle", None, R[:, fin].min(axis=1), k_opt_mean=float(kopt.mean()),
                            k_opt_std=float(kopt.std(ddof=1)) if draws > 1 else 0.0))
    return rows
