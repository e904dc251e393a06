"""Torch operators: the theory's operator specs and centred FFT on torch tensors, and simulated coils.

* :func:`fft2c` / :func:`ifft2c` — the project's one unitary centred 2-D DFT
  (:func:`theory.operators.fft2c`) on torch tensors.
* :class:`TorchOperator` — a torch re-implementation of one :mod:`theory.operators` spec
  (:class:`~theory.Denoise`, :class:`~theory.MRI`, :class:`~theory.SuperResolution`) acting on
  flattened images ``(B, n) -> (B, m)`` with exactly the theory's real representation, mask and
  FFT conventions (agreement to rounding is tested). Differentiable, batched, any device.
* :func:`coil_sensitivities` — the smooth, deterministic sensitivity maps of simulated multi-coil
  MRI (not in the theory), used by :class:`empirical.tasks.Task`.

Conventions shared with :mod:`theory.operators` (its specs are the single source of truth): images
flattened in C order; MRI uses ``F(x) = fftshift(fft2(ifftshift(x), norm="ortho"))`` and the spec's
column mask (:meth:`theory.MRI.mask_columns`), measurements ``[Re k, Im k]`` of the sampled
columns; SR ``"block"`` is s×s block averaging.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Union

import numpy as np
import torch

from theory import operators as _centred  # the one centred FFT (fft2c, ifft2c), namespace-generic
from theory.operators import MRI, Denoise, SuperResolution, operator_from_dict
from theory.infra.validation import integer as _int_value

__all__ = ["Spec", "TorchOperator", "coil_sensitivities", "fft2c", "ifft2c"]

#: A theory operator spec that :class:`TorchOperator` mirrors.
Spec = Union[Denoise, MRI, SuperResolution]


# --------------------------------------------------------------------------- centred unitary FFT


def fft2c(img: torch.Tensor) -> torch.Tensor:
    """Unitary centred 2-D DFT over the last two axes, DC at index (h//2, w//2): the project's one
    centred FFT (:func:`theory.operators.fft2c`) on torch tensors.

    Args:
        img: (..., h, w) real or complex tensor.

    Returns:
        (..., h, w) complex tensor (complex128 for float64 input, complex64 for float32).
    """
    return _centred.fft2c(img, torch)


def ifft2c(ksp: torch.Tensor) -> torch.Tensor:
    """Inverse (= conjugate transpose) of :func:`fft2c` (:func:`theory.operators.ifft2c` on torch tensors).

    Args:
        ksp: (..., h, w) complex tensor, centred k-space.

    Returns:
        (..., h, w) complex tensor.
    """
    return _centred.ifft2c(ksp, torch)


# --------------------------------------------------------------------------- coil sensitivities

#: Coil sensitivity model (see :func:`coil_sensitivities`), lengths in units of max(h, w).
_COIL_RADIUS = 0.75  # coils on a circle of this radius around the image centre (just outside it)
_COIL_WIDTH = 0.5  # standard deviation of each coil's Gaussian magnitude profile
_COIL_PHASE = np.pi  # phase change of each coil's linear phase across one image side


@lru_cache(maxsize=64)
def _coil_maps_cached(coils: int, h: int, w: int) -> torch.Tensor:
    size = float(max(h, w))
    v = (np.arange(h, dtype=np.float64) - (h - 1) / 2) / size  # rows, downwards
    u = (np.arange(w, dtype=np.float64) - (w - 1) / 2) / size  # columns, rightwards
    vv, uu = np.meshgrid(v, u, indexing="ij")
    theta = 2 * np.pi * np.arange(coils) / coils
    cu, cv = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    dist2 = (uu - _COIL_RADIUS * cu) ** 2 + (vv - _COIL_RADIUS * cv) ** 2
    magnitude = np.exp(-dist2 / (2 * _COIL_WIDTH**2))
    phase = theta[:, None, None] + _COIL_PHASE * (uu * cu + vv * cv)
    maps = magnitude * np.exp(1j * phase)
    maps /= np.sqrt((np.abs(maps) ** 2).sum(axis=0, keepdims=True))
    return torch.from_numpy(maps)  # complex128; never modified in place


def coil_sensitivities(
    coils: int,
    shape: tuple[int, int],
    *,
    dtype: torch.dtype = torch.complex128,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Simulated coil sensitivity maps ``S_c``, deterministic given ``(coils, h, w)`` (cached).

    Model (lengths in units of L = max(h, w), pixel centres at ``(u, v)`` relative to the image
    centre, u along columns, v along rows): coil c = 0..C−1 sits at angle ``θ_c = 2πc / C`` on a
    circle of radius 0.75 L around the centre, ``p_c = 0.75 (cos θ_c, sin θ_c)``. Its raw map is a
    Gaussian in the distance to the coil (standard deviation 0.5 L) times a linear phase along the
    coil's direction, ``s_c(r) = exp(−|r − p_c|² / (2·0.5²)) · exp(i (θ_c + π r·(cos θ_c, sin θ_c)))``,
    and the maps are normalised pixelwise, ``S_c = s_c / sqrt(Σ_c' |s_c'|²)``, so ``Σ_c |S_c|² = 1``
    everywhere: the root-sum-of-squares of the coil images ``S_c x`` of a real image x is ``|x|``.
    (``coils = 1`` gives a pure phase map, |S_0| = 1; :class:`Task` with ``coils=1`` uses no map.)

    Args:
        coils: number of coils C ≥ 1.
        shape: (h, w) image size.
        dtype: complex dtype of the result (complex128 default, or complex64).
        device: device of the result (default CPU).

    Returns:
        (C, h, w) complex tensor (a fresh copy).
    """
    c = _int_value("coils", coils, "number of MRI receive coils")
    if c < 1:
        raise ValueError(f"coils={c} must be a positive integer (number of MRI receive coils)")
    h, w = _shape2(shape)
    if dtype not in (torch.complex64, torch.complex128):
        raise ValueError(f"dtype={dtype} is not supported; use torch.complex128 or torch.complex64")
    return _coil_maps_cached(c, h, w).to(device=device if device is not None else "cpu", dtype=dtype, copy=True)


def _shape2(shape: Any) -> tuple[int, int]:
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"shape={shape!r} must be (h, w), two positive integers") from None
    if len(dims) != 2:
        raise ValueError(f"shape={shape!r} must be (h, w), two positive integers")
    h, w = (_int_value("shape", d, "image size (h, w)") for d in dims)
    if h < 1 or w < 1:
        raise ValueError(f"shape={shape!r} must be (h, w), two positive integers")
    return h, w


# --------------------------------------------------------------------------- torch operators


class TorchOperator:
    """Torch version of a :mod:`theory.operators` spec, same maps to rounding.

    Build with :meth:`from_spec`. ``forward`` maps flattened images (C order) to the theory's real
    measurement vector and ``adjoint`` is its exact transpose; both are differentiable and act on
    any leading batch shape.

    Attributes:
        spec: the theory spec it was built from.
        kind: ``"denoise"``, ``"mri"`` or ``"sr"``.
        shape: image shape of the spec.
        n: signal length prod(shape).
        m: number of real measurements.
        dtype: real dtype of inputs and outputs (float32 or float64).
        device: device of its buffers (inputs must live there).
    """

    def __init__(self, spec: Spec, *, device: torch.device, dtype: torch.dtype) -> None:
        # Use from_spec: it validates and normalises the arguments.
        self.spec = spec
        self.kind = spec.describe()["operator"]
        self.shape = tuple(spec.shape)
        self.n = int(spec.n)
        self.m = int(spec.m)
        self.dtype = dtype
        self.device = device
        self._columns: torch.Tensor | None = None
        if isinstance(spec, MRI):
            cols = np.flatnonzero(spec.mask_columns())
            self._columns = torch.as_tensor(cols, dtype=torch.int64, device=device)

    @classmethod
    def from_spec(
        cls,
        spec: Spec | Mapping[str, Any],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> TorchOperator:
        """Torch operator of a theory spec (or of its :meth:`describe` dict).

        Args:
            spec: a :class:`~theory.Denoise`, :class:`~theory.MRI` or
                :class:`~theory.SuperResolution`, or the dict its ``describe()`` returns.
            device: device of the operator's buffers and of the tensors it accepts (default CPU).
            dtype: real dtype, ``torch.float64`` (default; matches theory to ~1e-15) or
                ``torch.float32``.

        Raises:
            ValueError: not a theory spec, or a dtype other than float32/float64.
        """
        if isinstance(spec, Mapping):
            spec = operator_from_dict(spec)
        if not isinstance(spec, (Denoise, MRI, SuperResolution)):
            raise ValueError(
                f"spec must be a theory operator (Denoise, MRI, SuperResolution) or its describe() dict, "
                f"got {type(spec).__name__}"
            )
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype} is not supported; use torch.float64 or torch.float32")
        return cls(spec, device=torch.device(device if device is not None else "cpu"), dtype=dtype)

    def __repr__(self) -> str:
        return f"TorchOperator({self.spec!r}, dtype={self.dtype}, device={self.device})"

    def _check(self, t: Any, size: int, name: str) -> torch.Tensor:
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor of shape (..., {size}), got {type(t).__name__}")
        if t.is_complex():
            raise ValueError(f"{name} is complex; the operators act on real vectors (split real and imaginary parts)")
        if t.dtype != self.dtype:
            raise ValueError(
                f"{name} has dtype {t.dtype} but the operator is {self.dtype}; cast it or build with dtype={t.dtype}"
            )
        if t.ndim == 0 or t.shape[-1] != size:
            raise ValueError(f"{name} has shape {tuple(t.shape)}; expected (..., {size}) (last axis of length {size})")
        if t.device != self.device:
            raise ValueError(f"{name} is on {t.device} but the operator is on {self.device}; move one of them")
        return t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A x, the theory spec's ``forward`` on flattened images.

        Args:
            x: (..., n) real tensor of the operator's dtype and device, images flattened in C order.

        Returns:
            (..., m) real tensor: denoise x; MRI ``[Re k, Im k]`` with ``k = F(x)[:, mask]``
            flattened row-major (m = 2·h·s); SR block means flattened in C order.
        """
        x = self._check(x, self.n, "x")
        batch = x.shape[:-1]
        if self.kind == "denoise":
            return x.clone()
        h, w = self.shape
        if self.kind == "mri":
            k = fft2c(x.reshape(*batch, h, w)).index_select(-1, self._columns).reshape(*batch, self.m // 2)
            return torch.cat([k.real, k.imag], dim=-1)
        s = self.spec.scale
        return x.reshape(*batch, h // s, s, w // s, s).mean(dim=(-3, -1)).reshape(*batch, self.m)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Aᵀ y, the exact transpose of :meth:`forward` (the theory spec's ``adjoint``).

        Args:
            y: (..., m) real tensor in the layout of :meth:`forward`.

        Returns:
            (..., n) real tensor.
        """
        y = self._check(y, self.m, "y")
        batch = y.shape[:-1]
        if self.kind == "denoise":
            return y.clone()
        if self.kind == "mri":
            img = self._zero_filled(y)
            return img.real.reshape(*batch, self.n)
        return self._upsample(y) / self.spec.scale**2

    def zero_filled(self, y: torch.Tensor) -> torch.Tensor:
        """MRI only: zero-filled reconstruction F^H Pᵀ (a + i b), whose real part is Aᵀ y.

        Args:
            y: (..., m) real tensor in the layout of :meth:`forward`.

        Returns:
            (..., h, w) complex tensor.
        """
        if self.kind != "mri":
            raise ValueError(f"zero_filled is defined for MRI operators only, not {self.kind!r}")
        return self._zero_filled(self._check(y, self.m, "y"))

    def _zero_filled(self, y: torch.Tensor) -> torch.Tensor:
        h, w = self.shape
        batch = y.shape[:-1]
        hs = self.m // 2
        k = torch.complex(y[..., :hs], y[..., hs:]).reshape(*batch, h, hs // h)
        ksp = torch.zeros((*batch, h, w), dtype=k.dtype, device=k.device).index_copy(-1, self._columns, k)
        return ifft2c(ksp)

    def upsample(self, y: torch.Tensor) -> torch.Tensor:
        """SR only: block-replicating (nearest-neighbour) upsampling, s² Aᵀ y (theory's ``upsample``).

        Args:
            y: (..., m) real tensor, low-res images flattened in C order.

        Returns:
            (..., n) real tensor.
        """
        if self.kind != "sr":
            raise ValueError(f"upsample is defined for super-resolution operators only, not {self.kind!r}")
        return self._upsample(self._check(y, self.m, "y"))

    def _upsample(self, y: torch.Tensor) -> torch.Tensor:
        h, w = self.shape
        s = self.spec.scale
        batch = y.shape[:-1]
        blocks = y.reshape(*batch, h // s, 1, w // s, 1).expand(*batch, h // s, s, w // s, s)
        return blocks.reshape(*batch, self.n)
