"""Gaussian signal models x = B c, c ~ N(0, I_p).

Every model gives a factor ``B`` (n×p, orthogonal columns) so that Σ_x = B Bᵀ. The paper's model is
:class:`SubspaceSignal` (B = U, a uniformly random n×d orthonormal basis redrawn for every run);
:class:`SpectralSignal` has a prescribed covariance spectrum (power law j^−α, or estimated from
data) in a fixed or random basis. :func:`fourier_power` is the stationary (periodic, 2-D) spectrum
of example crops, shared by :meth:`SpectralSignal.from_data`, :mod:`theory.datamodel` and empirical's
spectrum estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np

__all__ = ["SubspaceSignal", "SpectralSignal", "Signal", "random_orthonormal", "fourier_power", "check_crop_shape"]


def check_crop_shape(shape: Any, n: int) -> tuple[int, int]:
    """``shape`` as a crop size (h, w) with h·w = n, or a one-line ValueError.

    Args:
        shape: two integers (h, w). n: values per example (the vectorised crop's length).

    Returns:
        (h, w) as Python ints.
    """
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape={shape!r} must be a crop size (h, w) with h·w = n = {n}") from None
    if h < 1 or w < 1 or h * w != n:
        raise ValueError(f"shape={tuple(shape)!r} does not match n = {n} values per example; give (h, w) with h·w = {n}")
    return h, w


def fourier_power(X: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Averaged periodogram μ_k = mean_i |FFT_ortho(x_i)_k|², flattened in ``np.fft.fft2`` order.

    The eigenvalues of the periodic-stationary (circulant) projection of the uncentred second moment
    XᵀX/N_ex (:func:`theory.datamodel.second_moment_spectrum` with ``method="stationary"``).

    Args:
        X: (N_ex, h·w) examples, rows are crops flattened in C order.
        shape: (h, w).

    Returns:
        (h·w,) non-negative powers; μ_k = μ_{−k} (real data).
    """
    h, w = shape
    F = np.fft.fft2(X.reshape(-1, h, w), norm="ortho")
    return np.mean(F.real**2 + F.imag**2, axis=0).reshape(-1)


def random_orthonormal(n: int, d: int, *, rng: np.random.Generator) -> np.ndarray:
    """A uniformly (Haar) distributed n×d matrix with orthonormal columns.

    QR of an n×d Gaussian matrix with the signs of R's diagonal moved into Q, which makes the
    distribution exactly uniform (plain QR is not).

    Returns:
        (n, d) float64 array U with UᵀU = I_d.
    """
    g = rng.standard_normal((n, d))
    q, r = np.linalg.qr(g)
    return q * np.sign(np.diag(r))


@dataclass(frozen=True)
class SubspaceSignal:
    """The paper's signal model: x = U c with U uniformly random n×d orthonormal, c ~ N(0, I_d).

    E‖x‖² = d, which is the risk's normaliser. ``U`` is redrawn for every run (``random_basis``).
    """

    n: int
    d: int

    random_basis = True

    def __post_init__(self) -> None:
        if int(self.n) != self.n or self.n < 1:
            raise ValueError(f"n={self.n} must be a positive integer")
        if int(self.d) != self.d or self.d < 1:
            raise ValueError(f"d={self.d} must be a positive integer")
        if self.d >= self.n:
            raise ValueError(f"d={self.d} must be smaller than n={self.n} (the signal lives in a d-dimensional subspace)")

    def factor(self, *, rng: np.random.Generator) -> np.ndarray:
        """Draw B = U, shape (n, d)."""
        return random_orthonormal(self.n, self.d, rng=rng)

    def canonical_factor(self) -> np.ndarray:
        """U = the first d standard basis vectors, (n, d): any basis has the same spectral data."""
        return np.eye(self.n, self.d)

    def describe(self) -> dict:
        return {"signal": "subspace", "n": self.n, "d": self.d}


@dataclass(frozen=True)
class SpectralSignal:
    """Gaussian signal with covariance V diag(μ) Vᵀ.

    Args:
        eigenvalues: μ, length n, non-negative (not all zero).
        basis: ``"identity"`` (V = I, fixed) or ``"random"`` (V Haar-random, redrawn every run).
        label: short name recorded in results (e.g. ``"powerlaw(alpha=1)"``).
    """

    eigenvalues: tuple[float, ...]
    basis: str = "identity"
    label: str = "spectral"

    def __post_init__(self) -> None:
        mu = np.asarray(self.eigenvalues, dtype=float)
        if mu.ndim != 1 or mu.size < 2:
            raise ValueError("eigenvalues must be a 1-D sequence of at least 2 values")
        if not np.all(np.isfinite(mu)) or np.any(mu < 0) or not np.any(mu > 0):
            raise ValueError("eigenvalues must be finite, non-negative and not all zero")
        if self.basis not in ("identity", "random"):
            raise ValueError(f"basis={self.basis!r}: use 'identity' or 'random'")
        object.__setattr__(self, "eigenvalues", tuple(float(v) for v in mu))

    @property
    def n(self) -> int:
        return len(self.eigenvalues)

    @property
    def random_basis(self) -> bool:
        return self.basis == "random"

    @classmethod
    def powerlaw(cls, n: int, alpha: float, *, basis: str = "identity") -> "SpectralSignal":
        """μ_j = j^(−α), j = 1..n, so the leading direction has unit variance like the subspace model."""
        if int(n) != n or n < 2:
            raise ValueError(f"n={n} must be an integer ≥ 2")
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha={alpha} must be a finite number ≥ 0")
        mu = np.arange(1, n + 1, dtype=float) ** (-float(alpha))
        return cls(tuple(mu), basis=basis, label=f"powerlaw(alpha={alpha:g})")

    @classmethod
    def from_data(cls, X: np.ndarray, *, basis: str = "identity", method: str = "covariance",
                  shape: tuple[int, int] | None = None) -> "SpectralSignal":
        """Eigenvalues of the (uncentred) sample second-moment matrix X Xᵀ / N of data X, shape (n, N).

        Args:
            X: (n, N) data, one example per column.
            basis: basis of the returned signal (only the spectrum is kept, sorted descending).
            method: ``"covariance"`` (eigenvalues of X Xᵀ/N) or ``"stationary"`` (the averaged 2-D
                power spectrum :func:`fourier_power` of crops of size ``shape``: exact for periodic
                stationary images; :func:`theory.datamodel.second_moment_spectrum` also keeps the basis).
            shape: crop size (h, w), h·w = n (``"stationary"`` only).
        """
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] < 1:
            raise ValueError("X must be a 2-D array of shape (n, N) with N ≥ 1")
        if method == "stationary":
            if shape is None:
                raise ValueError("method='stationary' needs shape=(h, w), the crop size with h·w = n")
            if not np.all(np.isfinite(X)):
                raise ValueError(f"X has {int((~np.isfinite(X)).sum())} non-finite values; give finite pixel values")
            mu = np.sort(fourier_power(X.T, check_crop_shape(shape, X.shape[0])))[::-1]
            return cls(tuple(mu), basis=basis, label="from_data(stationary)")
        if method != "covariance":
            raise ValueError(f"unknown method {method!r}; use 'covariance' or 'stationary'")
        mu = np.clip(np.linalg.eigvalsh(X @ X.T / X.shape[1])[::-1], 0.0, None)
        return cls(tuple(mu), basis=basis, label="from_data")

    def factor(self, *, rng: np.random.Generator) -> np.ndarray:
        """B = V diag(√μ) restricted to μ > 0, shape (n, p)."""
        mu = np.asarray(self.eigenvalues)
        keep = mu > 0
        if self.basis == "random":
            V = random_orthonormal(self.n, self.n, rng=rng)[:, keep]
        else:
            V = np.eye(self.n)[:, keep]
        return V * np.sqrt(mu[keep])

    def canonical_factor(self) -> np.ndarray:
        """B in the identity basis, (n, p): the spectral data of any basis."""
        mu = np.asarray(self.eigenvalues)
        keep = mu > 0
        return np.eye(self.n)[:, keep] * np.sqrt(mu[keep])

    def describe(self) -> dict:
        return {"signal": self.label, "n": self.n, "basis": self.basis}


Signal = Union[SubspaceSignal, SpectralSignal]
