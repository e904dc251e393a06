"""Forward operators A of linear inverse problems y = A x + z on real signal vectors.

A signal is a real vector x of length ``n = prod(shape)``: an image flattened in C order (row
major). Every operator maps a batch ``(..., n)`` to real measurements ``(..., m)`` and back:

* :class:`Denoise` — A = I_n.
* :class:`MRI` — Cartesian single-coil MRI: unitary centred 2-D DFT followed by column
  (phase-encode) subsampling, complex k-space split into real and imaginary parts.
* :class:`SuperResolution` — s×s block averaging.

The specs here are the single source of truth for the operators: :meth:`describe` gives a
JSON-able dict and :func:`operator_from_dict` rebuilds the identical operator from it, so other
packages (e.g. a torch re-implementation) can reproduce A exactly, masks included.

All maps are real-linear and return float64. ``adjoint`` is the exact transpose of ``forward``
(dot-test exact to rounding), ``matrix()`` is the dense (m, n) matrix, and ``singular_values()``
is computed from the operator's structure rather than from an SVD.
"""

from __future__ import annotations

import math
import operator as _operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, Union

import numpy as np

from .infra.validation import finite_float as _as_finite_float
from .infra.validation import integer as _as_int

__all__ = [
    "Denoise",
    "MRI",
    "SuperResolution",
    "Operator",
    "fft2c",
    "ifft2c",
    "conjugate_index",
    "OPERATOR_NAMES",
    "make_operator",
    "operator_from_dict",
]

MASK_TYPES = ("equispaced", "random")
_IMAGE_AXES = (-2, -1)
# Identity rows per block when building matrix(); bounds peak memory at ~_CHUNK * (n + m) floats.
_CHUNK = 1024


# --------------------------------------------------------------------------- validation helpers


def _shape_repr(shape: Any) -> str:
    # numpy 2 reprs scalars as np.int64(7); show plain numbers in messages where we can.
    try:
        return repr(tuple(int(s) if isinstance(s, (int, np.integer)) else s for s in shape))
    except TypeError:
        return repr(shape)


def _normalise_shape(shape: Any) -> tuple[int, ...]:
    """Tuple of positive Python ints from an int or a sequence of ints; one-line ValueError otherwise."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, np.ndarray)):
        raise ValueError(f"shape={shape!r} must be a tuple of positive integers (the image size)")
    out = []
    for s in shape:
        if isinstance(s, (bool, np.bool_)):
            raise ValueError(f"shape={_shape_repr(shape)} must be a tuple of positive integers (the image size)")
        try:
            v = _operator.index(s)
        except TypeError:
            raise ValueError(
                f"shape={_shape_repr(shape)} must be a tuple of positive integers (the image size)"
            ) from None
        if v < 1:
            raise ValueError(f"shape={_shape_repr(shape)} must be a tuple of positive integers (the image size)")
        out.append(int(v))
    if not out:
        raise ValueError("shape=() must have at least one dimension (the image size)")
    return tuple(out)


def _real_batch(a: Any, size: int, name: str) -> np.ndarray:
    """View ``a`` as a float64 array of shape (..., size); reject complex input instead of dropping Im."""
    arr = np.asarray(a)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} is complex; the operators act on real vectors (split real and imaginary parts)")
    if arr.ndim == 0 or arr.shape[-1] != size:
        raise ValueError(f"{name} has shape {arr.shape}; expected (..., {size}) (last axis of length {size})")
    return arr.astype(np.float64, copy=False)


def _dense_matrix(forward: Any, n: int, m: int) -> np.ndarray:
    """(m, n) matrix of a linear map, column j = forward(e_j), built in blocks of identity rows."""
    mat = np.empty((m, n), dtype=np.float64)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        eye = np.zeros((stop - start, n), dtype=np.float64)
        eye[np.arange(stop - start), np.arange(start, stop)] = 1.0
        mat[:, start:stop] = forward(eye).T
    return mat


# --------------------------------------------------------------------------- centred unitary FFT


def fft2c(x: Any, xp: Any = np) -> Any:
    """Unitary centred 2-D DFT over the last two axes, ``fftshift(fft2(ifftshift(x), norm="ortho"))``.

    The project's one centred FFT: DC sits at index (h//2, w//2). ``xp`` is the array namespace
    whose ``fft`` module does the work (numpy, scipy, cupy, or torch for torch tensors: their
    ``fft2``/``fftshift`` take the same positional arguments), so every package shares this
    convention without ``theory`` importing torch.

    Args:
        x: (..., h, w) array or tensor.
        xp: numpy (default), ``scipy``, ``cupy`` or ``torch``.

    Returns:
        (..., h, w) complex array of the same library.
    """
    f = xp.fft
    return f.fftshift(f.fft2(f.ifftshift(x, _IMAGE_AXES), None, _IMAGE_AXES, "ortho"), _IMAGE_AXES)


def ifft2c(k: Any, xp: Any = np) -> Any:
    """Inverse (= conjugate transpose) of :func:`fft2c`; (..., h, w) → (..., h, w)."""
    f = xp.fft
    return f.fftshift(f.ifft2(f.ifftshift(k, _IMAGE_AXES), None, _IMAGE_AXES, "ortho"), _IMAGE_AXES)


def conjugate_index(size: int) -> np.ndarray:
    """Index of the conjugate-symmetric partner of every index of a centred (fftshifted) axis.

    Index j holds frequency j − size//2, whose partner −(j − size//2) (mod size) sits at index
    (2·(size//2) − j) mod size. For even sizes index 0 (Nyquist) and size//2 (DC) are their own
    partners; for odd sizes only the DC is.

    Returns:
        (size,) int array.
    """
    j = np.arange(size)
    return (2 * (size // 2) - j) % size


# --------------------------------------------------------------------------- operators


@dataclass(frozen=True)
class Denoise:
    """Denoising: A = I_n, m = n.

    Args:
        shape: signal shape, any number of positive dimensions (an int is taken as 1-D).
    """

    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _normalise_shape(self.shape))

    @property
    def n(self) -> int:
        """Signal length prod(shape)."""
        return math.prod(self.shape)

    @property
    def m(self) -> int:
        """Number of real measurements (= n)."""
        return self.n

    def forward(self, x: np.ndarray) -> np.ndarray:
        """A x = x.

        Args:
            x: (..., n) real array.

        Returns:
            (..., n) float64 copy of x.
        """
        return np.array(_real_batch(x, self.n, "x"), dtype=np.float64, copy=True)

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """Aᵀ y = y.

        Args:
            y: (..., m) real array.

        Returns:
            (..., n) float64 copy of y.
        """
        return np.array(_real_batch(y, self.m, "y"), dtype=np.float64, copy=True)

    def matrix(self) -> np.ndarray:
        """Dense matrix of A, shape (m, n) = (n, n)."""
        return _dense_matrix(self.forward, self.n, self.m)

    def singular_values(self) -> np.ndarray:
        """All ones, shape (n,)."""
        return np.ones(self.n, dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        """JSON-able spec; :func:`operator_from_dict` inverts it."""
        return {"operator": "denoise", "shape": list(self.shape)}


def check_mri_sampling(accel: Any, center_fraction: Any, mask: Any) -> tuple[float, float]:
    """Validate MRI sampling parameters (the spec's and empirical's MRI task share it).

    Returns:
        (accel, center_fraction) as floats; raises a one-line ValueError naming the parameter.
    """
    a = _as_finite_float("accel", accel, "acceleration factor")
    if a < 1:
        raise ValueError(f"accel={accel!r} must be >= 1 (acceleration factor)")
    cf = _as_finite_float("center_fraction", center_fraction, "fraction of fully sampled centre columns")
    if not 0 < cf <= 1:
        raise ValueError(f"center_fraction={center_fraction!r} must be in (0, 1] (fraction of fully sampled centre columns)")
    if mask not in MASK_TYPES:
        raise ValueError(f"mask={mask!r} must be 'equispaced' or 'random' (column sampling pattern)")
    return a, cf


@dataclass(frozen=True)
class MRI:
    """Cartesian single-coil MRI with column (phase-encode) undersampling, fastMRI conventions.

    The image x (flattened (h, w), C order) goes through the unitary centred 2-D DFT
    ``F(x) = fftshift(fft2(ifftshift(x), norm="ortho"))`` (DC at index (h//2, w//2)); the columns
    with ``mask_columns()`` True are kept, all h rows of each. With s sampled columns the complex
    samples ``k = F(x)[:, mask]`` (shape (h, s)) are flattened in C order (row-major: row 0's s
    samples, then row 1's, ...) and the real measurement vector is::

        y = concatenate([k.real, k.imag])          # m = 2·h·s

    Noise convention: the theory adds z ~ N(0, σ² I_m) to this real vector, i.e. variance σ² per
    real and per imaginary component. Since AᵀA = I_n under full sampling (``accel=1``), that case
    is exactly denoising at σ.

    Spectrum: AᵀA = Re(F^H P F) with P the projection onto the sampled k-space locations. On real
    images its eigenvalues are 1 (a frequency and its conjugate partner both sampled), 1/2 (only
    one of them sampled) or 0, so the singular values are 1, 1/√2 or 0.

    Mask (``mask_columns``):

    * centre: ``num_low = max(1, round(w·center_fraction))`` columns ``pad : pad + num_low`` with
      ``pad = (w − num_low + 1) // 2``; always contains the DC column w//2.
    * ``"equispaced"``: integer spacing ``a = round(accel·(w − num_low) / (w − num_low·accel))``
      (≥ 1), offset drawn from ``default_rng(seed).integers(0, a)``, columns offset, offset + a, ...
      plus the centre. If ``num_low ≥ w/accel`` only the centre is sampled.
    * ``"random"``: every column independently with probability
      ``p = clip((w/accel − num_low) / (w − num_low), 0, 1)`` from ``default_rng(seed).random(w)``,
      plus the centre; the expected number of sampled columns is w/accel.
    * ``accel == 1`` samples every column.

    Args:
        shape: (h, w) image shape.
        accel: acceleration factor R ≥ 1 (≈ w/R columns sampled).
        center_fraction: fraction of columns fully sampled around the k-space centre, in (0, 1].
        mask: ``"equispaced"`` or ``"random"``.
        seed: non-negative seed of the mask's randomness.
    """

    shape: tuple[int, int]
    accel: float = 4.0
    center_fraction: float = 0.08
    mask: str = "equispaced"
    seed: int = 0

    def __post_init__(self) -> None:
        shape = _normalise_shape(self.shape)
        if len(shape) != 2:
            raise ValueError(f"shape={shape} must be 2-D (h, w) for MRI; pass the image height and width")
        accel, cf = check_mri_sampling(self.accel, self.center_fraction, self.mask)
        seed = _as_int("seed", self.seed, "mask random seed")
        if seed < 0:
            raise ValueError(f"seed={seed} must be a non-negative integer (mask random seed)")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "accel", accel)
        object.__setattr__(self, "center_fraction", cf)
        object.__setattr__(self, "seed", seed)

    # -- sizes

    @property
    def n(self) -> int:
        """Signal length h·w."""
        return self.shape[0] * self.shape[1]

    @property
    def m(self) -> int:
        """Number of real measurements 2·h·s (s = number of sampled columns)."""
        return 2 * self.shape[0] * self.num_sampled

    @property
    def num_low(self) -> int:
        """Number of fully sampled centre columns."""
        w = self.shape[1]
        # At least the DC column, so the operator never measures nothing (fastMRI would give 0 for tiny w).
        return min(w, max(1, round(w * self.center_fraction)))

    @property
    def num_sampled(self) -> int:
        """Number s of sampled columns."""
        return int(self._mask.sum())

    # -- mask

    def center_columns(self) -> np.ndarray:
        """The fully sampled centre columns ``pad : pad + num_low``, ``pad = (w − num_low + 1) // 2``.

        Returns:
            (w,) bool array (a subset of :meth:`mask_columns`; always contains the DC column w//2).
        """
        w, num_low = self.shape[1], self.num_low
        centre = np.zeros(w, dtype=bool)
        pad = (w - num_low + 1) // 2
        centre[pad : pad + num_low] = True
        return centre

    @cached_property
    def _mask(self) -> np.ndarray:
        # Cached: forward/adjoint use it on every call. Not a dataclass field, so eq/hash ignore it.
        w = self.shape[1]
        num_low = self.num_low
        mask = self.center_columns()
        if self.accel == 1.0:
            mask[:] = True
        elif self.mask == "equispaced":
            denom = w - num_low * self.accel
            if denom > 0:  # else the centre alone already reaches w/accel
                spacing = max(1, round(self.accel * (w - num_low) / denom))
                offset = int(np.random.default_rng(self.seed).integers(0, spacing))
                mask[offset::spacing] = True
        else:
            p = (w / self.accel - num_low) / (w - num_low) if w > num_low else 0.0
            p = min(1.0, max(0.0, p))
            mask |= np.random.default_rng(self.seed).random(w) < p
        mask.setflags(write=False)
        return mask

    def mask_columns(self) -> np.ndarray:
        """Sampled k-space columns.

        Returns:
            (w,) bool array, True where the column (all h rows) is sampled.
        """
        return self._mask.copy()

    # -- maps

    def forward(self, x: np.ndarray) -> np.ndarray:
        """A x = [Re k, Im k] with k = F(x)[:, mask] flattened in C order.

        Args:
            x: (..., n) real array, images flattened in C order.

        Returns:
            (..., m) float64 array, m = 2·h·s; first h·s entries real parts, last h·s imaginary.
        """
        h, w = self.shape
        x = _real_batch(x, self.n, "x")
        batch = x.shape[:-1]
        k = fft2c(x.reshape(*batch, h, w))[..., self._mask].reshape(*batch, -1)
        return np.concatenate([k.real, k.imag], axis=-1)

    def _zero_filled_kspace(self, y: np.ndarray) -> np.ndarray:
        h, w = self.shape
        y = _real_batch(y, self.m, "y")
        batch = y.shape[:-1]
        hs = h * self.num_sampled
        k = (y[..., :hs] + 1j * y[..., hs:]).reshape(*batch, h, self.num_sampled)
        ksp = np.zeros((*batch, h, w), dtype=np.complex128)
        ksp[..., self._mask] = k
        return ksp

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """Aᵀ y = Re(F^H Pᵀ (a + i b)) for y = [a, b], the transpose of the real map ``forward``.

        For real x, ⟨A x, y⟩ = Re⟨S F x, a + i b⟩ = xᵀ Re(F^H Sᵀ (a + i b)), S the column selection.

        Args:
            y: (..., m) real array in the layout of :meth:`forward`.

        Returns:
            (..., n) float64 array.
        """
        img = ifft2c(self._zero_filled_kspace(y))
        return np.ascontiguousarray(img.real).reshape(*img.shape[:-2], self.n)

    def zero_filled(self, y: np.ndarray) -> np.ndarray:
        """Zero-filled reconstruction F^H Pᵀ (a + i b): the complex image whose real part is Aᵀ y.

        Args:
            y: (..., m) real array in the layout of :meth:`forward`.

        Returns:
            (..., h, w) complex128 image.
        """
        return ifft2c(self._zero_filled_kspace(y))

    def matrix(self) -> np.ndarray:
        """Dense matrix of A, shape (m, n)."""
        return _dense_matrix(self.forward, self.n, self.m)

    def _gram_eigenvalues(self) -> np.ndarray:
        """Eigenvalues of AᵀA, one per k-space location, unsorted, shape (n,).

        Each location contributes (P(k) + P(k*))/2 with k* its conjugate partner: a pair {k, k*}
        spans a 2-D real subspace with eigenvalue (#sampled)/2; a self-conjugate k spans a 1-D one
        with eigenvalue P(k). Rows are all sampled or not together, so only columns matter.
        """
        mask = self._mask.astype(np.float64)
        per_column = 0.5 * (mask + mask[conjugate_index(self.shape[1])])
        return np.tile(per_column, self.shape[0])

    def singular_values(self) -> np.ndarray:
        """Singular values of A (1, 1/√2 or 0), descending, zero-padded/truncated to min(m, n)."""
        eig = np.sort(self._gram_eigenvalues())[::-1]
        # n eigenvalues and rank ≤ m, so truncating to min(m, n) drops only zeros.
        return np.sqrt(eig[: min(self.m, self.n)])

    def describe(self) -> dict[str, Any]:
        """JSON-able spec; :func:`operator_from_dict` inverts it."""
        return {
            "operator": "mri",
            "shape": list(self.shape),
            "accel": self.accel,
            "center_fraction": self.center_fraction,
            "mask": self.mask,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class SuperResolution:
    """Super-resolution by s×s block averaging.

    Output pixel (i, j) is the mean of ``x[i*s:(i+1)*s, j*s:(j+1)*s]``; the low-res image
    (h/s, w/s) is flattened in C order, so m = (h/s)·(w/s). A Aᵀ = I_m / s², hence all m singular
    values equal 1/s.

    Args:
        shape: (h, w) high-resolution image shape, both divisible by ``scale``.
        scale: downsampling factor s ≥ 1.
    """

    shape: tuple[int, int]
    scale: int = 2

    def __post_init__(self) -> None:
        shape = _normalise_shape(self.shape)
        if len(shape) != 2:
            raise ValueError(f"shape={shape} must be 2-D (h, w) for super-resolution; pass the image height and width")
        scale = _as_int("scale", self.scale, "block-average downsampling factor")
        if scale < 1:
            raise ValueError(f"scale={scale} must be a positive integer (block-average downsampling factor)")
        if shape[0] % scale or shape[1] % scale:
            raise ValueError(
                f"shape {shape} is not divisible by scale={scale}; use a shape that is a multiple of the scale"
            )
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "scale", scale)

    @property
    def n(self) -> int:
        """Signal length h·w."""
        return self.shape[0] * self.shape[1]

    @property
    def low_shape(self) -> tuple[int, int]:
        """Low-resolution image shape (h/s, w/s)."""
        return self.shape[0] // self.scale, self.shape[1] // self.scale

    @property
    def m(self) -> int:
        """Number of measurements (h/s)·(w/s)."""
        return self.low_shape[0] * self.low_shape[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Block means.

        Args:
            x: (..., n) real array, images flattened in C order.

        Returns:
            (..., m) float64 array, low-res images flattened in C order.
        """
        (H, W), s = self.low_shape, self.scale
        x = _real_batch(x, self.n, "x")
        batch = x.shape[:-1]
        return x.reshape(*batch, H, s, W, s).mean(axis=(-3, -1)).reshape(*batch, self.m)

    def upsample(self, y: np.ndarray) -> np.ndarray:
        """Nearest-neighbour upsampling, s² · Aᵀ y (each low-res pixel copied into its s×s block).

        Args:
            y: (..., m) real array.

        Returns:
            (..., n) float64 array.
        """
        (H, W), s = self.low_shape, self.scale
        y = _real_batch(y, self.m, "y")
        batch = y.shape[:-1]
        blocks = np.broadcast_to(y.reshape(*batch, H, 1, W, 1), (*batch, H, s, W, s))
        return np.array(blocks, dtype=np.float64).reshape(*batch, self.n)

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """Aᵀ y: each low-res value spread over its block with weight 1/s².

        Args:
            y: (..., m) real array.

        Returns:
            (..., n) float64 array.
        """
        return self.upsample(y) / self.scale**2

    def matrix(self) -> np.ndarray:
        """Dense matrix of A, shape (m, n)."""
        return _dense_matrix(self.forward, self.n, self.m)

    def singular_values(self) -> np.ndarray:
        """All equal to 1/s, shape (m,) (m ≤ n)."""
        return np.full(self.m, 1.0 / self.scale)

    def describe(self) -> dict[str, Any]:
        """JSON-able spec; :func:`operator_from_dict` inverts it."""
        return {"operator": "sr", "shape": list(self.shape), "scale": self.scale}


Operator = Union[Denoise, MRI, SuperResolution]

_REGISTRY: dict[str, type] = {"denoise": Denoise, "mri": MRI, "sr": SuperResolution}
OPERATOR_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def _lookup(name: Any) -> type:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in OPERATOR_NAMES)
        raise ValueError(f"operator={name!r} is unknown; use one of {valid}") from None


def make_operator(name: str, shape: Any, **kw: Any) -> Operator:
    """Build an operator by name.

    Args:
        name: ``"denoise"``, ``"mri"`` or ``"sr"``.
        shape: signal shape (2-D (h, w) for MRI and SR).
        **kw: the remaining fields of that operator (e.g. ``accel``, ``scale``).

    Raises:
        ValueError: unknown name or field, or invalid field values.
    """
    cls = _lookup(name)
    allowed = {f.name for f in fields(cls)} - {"shape"}
    extra = sorted(set(kw) - allowed)
    if extra:
        raise ValueError(f"unknown field(s) {extra} for operator {name!r}; valid fields: {sorted(allowed)}")
    return cls(shape, **kw)


def operator_from_dict(d: Mapping[str, Any]) -> Operator:
    """Rebuild an operator from :meth:`describe` output (also after a JSON round trip).

    Args:
        d: mapping with key ``"operator"`` and the operator's fields.

    Raises:
        ValueError: missing or unknown ``"operator"``, missing ``"shape"``, unknown fields.
    """
    if not isinstance(d, Mapping) or "operator" not in d:
        raise ValueError("operator spec must be a dict with an 'operator' key (as returned by describe())")
    kw = dict(d)
    name = kw.pop("operator")
    if "shape" not in kw:
        raise ValueError(f"operator spec {d!r} has no 'shape'; add the signal shape")
    return make_operator(name, kw.pop("shape"), **kw)
