"""Classical reconstruction algorithms in numpy (no torch): the arithmetic of the baselines of
:mod:`empirical.baselines`, which runs them on a sweep run's data.

* :func:`haar_bayes_shrink` — BayesShrink soft thresholding of a 2-D Haar (db1) wavelet
  decomposition with known noise σ: what ``skimage.restoration.denoise_wavelet`` computes with
  ``wavelet="db1", method="BayesShrink", mode="soft"``, without needing PyWavelets.
* :func:`tv_prox` — isotropic-TV ROF denoising ``argmin_u ½‖u − f‖² + λ TV(u)`` (the objective of
  ``skimage.restoration.denoise_tv_chambolle``) by fast gradient projection on the dual, batched.
* :func:`tv_cs` — compressed sensing with a TV prior, ``min_x ½‖M F x − y‖² + λ TV(x)`` over real
  images from undersampled k-space, by FISTA with :func:`tv_prox` as its prox.

numpy rather than torch: these loops run many small element-wise steps, where torch's CPU
allocator (fresh pages for every intermediate tensor) costs far more than the arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["haar_bayes_shrink", "tv_cs", "tv_prox"]

_TV_INNER = 20  # FGP iterations of the TV prox per FISTA step (warm-started)


def _wavelet_levels(shape: tuple[int, int]) -> int:
    """skimage's default: three less than pywt.dwtn_max_level for db1 (filter length 2), at least 1."""
    return max(math.floor(math.log2(min(shape))) - 3, 1) if min(shape) >= 1 else 1


# --------------------------------------------------------------------------- wavelet (Haar BayesShrink)


def _haar_split(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    if a.shape[axis] % 2:  # pywt "symmetric" extension of one sample = repeat the edge
        edge = np.take(a, [-1], axis=axis)
        a = np.concatenate([a, edge], axis=axis)
    even = np.take(a, np.arange(0, a.shape[axis], 2), axis=axis)
    odd = np.take(a, np.arange(1, a.shape[axis], 2), axis=axis)
    return (even + odd) / math.sqrt(2.0), (even - odd) / math.sqrt(2.0)


def _haar_merge(lo: np.ndarray, hi: np.ndarray, axis: int, length: int) -> np.ndarray:
    even, odd = (lo + hi) / math.sqrt(2.0), (lo - hi) / math.sqrt(2.0)
    shape = list(lo.shape)
    shape[axis] *= 2
    out = np.empty(shape, dtype=lo.dtype)
    idx = [slice(None)] * lo.ndim
    idx[axis] = slice(0, None, 2)
    out[tuple(idx)] = even
    idx[axis] = slice(1, None, 2)
    out[tuple(idx)] = odd
    idx[axis] = slice(0, length)
    return out[tuple(idx)]


def haar_bayes_shrink(img: np.ndarray, sigma: float, *, levels: int | None = None) -> np.ndarray:
    """BayesShrink soft thresholding of a 2-D Haar (db1) decomposition with known noise σ.

    The same computation as ``skimage.restoration.denoise_wavelet(img, sigma=sigma, wavelet="db1",
    method="BayesShrink", mode="soft")`` for a float image (skimage's default number of levels,
    pywt's "symmetric" extension for odd sizes), without needing PyWavelets: per detail array d,
    threshold ``σ² / sqrt(max(mean(d²) − σ², eps))``, soft thresholding, inverse transform.
    """
    a = np.asarray(img, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"haar_bayes_shrink takes one 2-D image, got shape {a.shape}")
    levels = _wavelet_levels(a.shape) if levels is None else int(levels)
    var = float(sigma) ** 2
    eps = np.finfo(np.float64).eps
    stack = []
    for _ in range(levels):
        shape = a.shape
        lo, hi = _haar_split(a, 0)
        ll, lh = _haar_split(lo, 1)
        hl, hh = _haar_split(hi, 1)
        details = []
        for d in (lh, hl, hh):
            t = var / math.sqrt(max(float(np.mean(d * d)) - var, eps))
            details.append(np.sign(d) * np.maximum(np.abs(d) - t, 0.0))
        stack.append((shape, details))
        a = ll
    for shape, (lh, hl, hh) in reversed(stack):
        lo = _haar_merge(a, lh, 1, _haar_half(shape[1]) * 2)
        hi = _haar_merge(hl, hh, 1, _haar_half(shape[1]) * 2)
        a = _haar_merge(lo, hi, 0, shape[0])[:, : shape[1]]
    return a


def _haar_half(n: int) -> int:
    return (n + 1) // 2


# --------------------------------------------------------------------------- TV prox and TV-CS


def _grad(u: np.ndarray) -> np.ndarray:
    """Forward differences (zero past the last row/column): (..., H, W) -> (..., 2, H, W)."""
    out = np.zeros((*u.shape[:-2], 2, *u.shape[-2:]), dtype=u.dtype)
    out[..., 0, :-1, :] = u[..., 1:, :] - u[..., :-1, :]
    out[..., 1, :, :-1] = u[..., :, 1:] - u[..., :, :-1]
    return out


def _grad_t(p: np.ndarray) -> np.ndarray:
    """Exact transpose of :func:`_grad` (= minus the discrete divergence)."""
    px, py = p[..., 0, :, :], p[..., 1, :, :]
    out = np.zeros(px.shape, dtype=p.dtype)
    out[..., 1:, :] += px[..., :-1, :]
    out[..., :-1, :] -= px[..., :-1, :]
    out[..., :, 1:] += py[..., :, :-1]
    out[..., :, :-1] -= py[..., :, :-1]
    return out


def tv_prox(f: np.ndarray, lam: Any, *, n_iter: int = 50, p0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """ROF denoising ``argmin_u ½‖u − f‖² + λ TV(u)``, isotropic TV with forward differences.

    The objective of ``skimage.restoration.denoise_tv_chambolle(f, weight=λ)``, solved by the fast
    gradient projection of Beck & Teboulle (2009) on the dual, batched.

    Args:
        f: (B, H, W) real images (float64).
        lam: λ ≥ 0, a float or a (B,) array (one weight per image).
        n_iter: dual iterations.
        p0: (B, 2, H, W) dual warm start (e.g. the previous call's), or None for zeros.

    Returns:
        (u, p): the denoised images and the final dual variable.
    """
    f = np.asarray(f, dtype=np.float64)
    lam_c = np.maximum(np.asarray(lam, dtype=np.float64).reshape(-1, 1, 1), 1e-12)  # λ = 0: u = f (to 1e-12)
    step = 1.0 / (8.0 * lam_c[:, None])  # 1/L of the dual, ‖∇‖² ≤ 8
    p = np.zeros((*f.shape[:-2], 2, *f.shape[-2:])) if p0 is None else p0
    r, t = p, 1.0
    for _ in range(n_iter):
        q = r + _grad(f - lam_c * _grad_t(r)) * step
        p_new = q / np.maximum(np.sqrt((q * q).sum(axis=-3, keepdims=True)), 1.0)
        t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        r = p_new + ((t - 1.0) / t_new) * (p_new - p)
        p, t = p_new, t_new
    return f - lam_c * _grad_t(p), p


def tv_cs(z: np.ndarray, masks: np.ndarray, lam: Any, *, n_iter: int = 100, checkpoints: Sequence[int] = (),
          inner: int = _TV_INNER) -> np.ndarray | dict[int, np.ndarray]:
    """TV-regularised least squares from undersampled k-space, over real images.

    Minimises ``½‖M F x − y‖² + λ TV(x)`` over real x by FISTA with step 1 (the real-restricted
    ‖M F‖ ≤ 1), starting at x₀ = Re z, with y = M F z (z the complex zero-filled image, so y is
    the sampled k-space exactly) and the prox :func:`tv_prox` warm-started across iterations.

    Args:
        z: (B, H, W) complex zero-filled images.
        masks: (B, W) bool sampled columns per example.
        lam: λ ≥ 0, float or (B,) array.
        n_iter: FISTA iterations.
        checkpoints: iteration counts at which to also return the iterate.
        inner: prox iterations per FISTA step.

    Returns:
        (B, H, W) real x after ``n_iter`` iterations, or ``{k: x_k}`` for k in
        ``checkpoints`` when given.
    """
    import scipy  # noqa: PLC0415
    import scipy.fft  # noqa: F401, PLC0415  (fft2c/ifft2c use the namespace's .fft: scipy.fft here)

    from theory.operators import fft2c, ifft2c  # noqa: PLC0415  (the project's one centred FFT)

    z = np.asarray(z, dtype=np.complex128)
    m = np.asarray(masks, dtype=bool)[:, None, :]
    y = np.where(m, fft2c(z, scipy), 0)
    x = z.real.copy()
    v, t, p = x, 1.0, None
    snaps: dict[int, np.ndarray] = {}
    for k in range(1, n_iter + 1):
        resid = np.where(m, fft2c(v, scipy), 0) - y
        x_new, p = tv_prox(v - ifft2c(resid, scipy).real, lam, n_iter=inner, p0=p)
        t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        v = x_new + ((t - 1.0) / t_new) * (x_new - x)
        x, t = x_new, t_new
        if k in checkpoints:
            snaps[k] = x.copy()
    return snaps if checkpoints else x
