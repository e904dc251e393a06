"""Reconstruction tasks in torch, built from the theory's operator specs.

:class:`Task` — a frozen spec of an empirical reconstruction problem: how clean images ``x``
(B, C, H, W) in [0, 1] become a network input and a target (:meth:`Task.corrupt`). The torch
operators it measures with (:class:`~empirical.operators.TorchOperator`, the centred FFT
:func:`~empirical.operators.fft2c`, the simulated coils) live in :mod:`empirical.operators`.

Conventions shared with :mod:`theory.operators` (its specs are the single source of truth):

* images flattened in C order; MRI uses the unitary centred 2-D DFT
  ``F(x) = fftshift(fft2(ifftshift(x), norm="ortho"))`` and the spec's column mask
  (:meth:`theory.MRI.mask_columns`), measurements ``[Re k, Im k]`` of the sampled columns;
* SR ``"block"`` is s×s block averaging (the theory operator); the network input is the
  block-replicated (nearest-neighbour) upsampling of the low-res image, ``s² Aᵀ y``.
* noise σ is on the [0, 1] image scale: per pixel (denoise), per real and per imaginary
  component of each sampled k-space entry (MRI, as in the theory; multi-coil: of every coil,
  independently), per low-res pixel (SR).
* simulated multi-coil MRI (``coils > 1``, not in the theory): coil ``c`` measures
  ``M F(S_c · x)`` with the smooth, deterministic sensitivity maps of
  :func:`~empirical.operators.coil_sensitivities`
  (normalised so ``Σ_c |S_c|² = 1``), all coils sharing the example's column mask; the network
  input is the root-sum-of-squares (RSS) of the zero-filled coil images, as for fastMRI's
  multi-coil data.

Randomness: :meth:`Task.corrupt` draws all its noise from the ``torch.Generator`` it is given and
never touches the global RNG. Use one running generator for training (a fresh noise draw every
step, as in the paper) and, for validation and test, either a generator freshly seeded with a
fixed seed before each pass (reproducible for a fixed batch order and batch size) or
:meth:`Task.corrupt_fixed`, whose noise is fixed per (seed, example) whatever the batching.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from theory.operators import MRI, Denoise, SuperResolution, check_mri_sampling
from theory.infra.validation import finite_float as _float_field
from theory.infra.validation import integer as _int_value

from .operators import Spec, coil_sensitivities, fft2c, ifft2c

__all__ = [
    "SR_KERNELS",
    "TASK_NAMES",
    "Task",
    "example_generator",
    "make_task",
]

TASK_NAMES: tuple[str, ...] = ("denoise", "mri", "sr")
SR_KERNELS: tuple[str, ...] = ("block", "bicubic")

# Task fields that only mean something for one task; "name" and "sigma" apply to all.
_TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "denoise": ("sigma",),
    "mri": ("sigma", "accel", "center_fraction", "mask", "complex_input", "coils"),
    "sr": ("sigma", "scale", "sr_kernel"),
}


# --------------------------------------------------------------------------- validation helpers


def _check_images(x: Any) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"x has shape {tuple(x.shape)}; expected (B, C, H, W) clean images")
    if not x.is_floating_point():
        raise ValueError(f"x has dtype {x.dtype}; use a real floating dtype (float32 or float64)")


def _check_generator(generator: Any) -> None:
    if not isinstance(generator, torch.Generator):
        raise ValueError(
            f"generator must be a torch.Generator, got {type(generator).__name__}; "
            "pass e.g. torch.Generator().manual_seed(0)"
        )


def _id_tensor(ids: Any, batch: int | None, name: str) -> torch.Tensor:
    """(B,) int64 CPU tensor of non-negative ids (any B when ``batch`` is None); one-line ValueError otherwise."""
    if isinstance(ids, np.ndarray):
        ids = np.array(ids)  # a writable copy: torch warns on read-only arrays
    try:
        t = torch.as_tensor(ids)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a (B,) tensor of non-negative integers") from None
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} has dtype {t.dtype}; use an integer tensor (e.g. torch.long)")
    if t.ndim != 1 or (batch is not None and t.shape[0] != batch):
        raise ValueError(
            f"{name} has shape {tuple(t.shape)}; expected ({'B' if batch is None else batch},), one id per image"
        )
    t = t.to(device="cpu", dtype=torch.int64)
    if t.numel() and int(t.min()) < 0:
        raise ValueError(f"{name} contains negative values; ids must be non-negative integers")
    return t


def example_generator(seed: int, example: int) -> torch.Generator:
    """A CPU generator fixed per (seed, example id): the one convention for noise that must not depend
    on batching (:meth:`Task.corrupt_fixed`, the fixed targets and splits of :mod:`empirical.targets`)."""
    return torch.Generator(device="cpu").manual_seed(_example_seed(int(seed), int(example)))


@lru_cache(maxsize=1 << 17)
def _example_seed(seed: int, example: int) -> int:
    # every evaluation pass of every run in a process asks for the same test and validation ids
    state = np.random.SeedSequence([seed, example]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def _noise(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device, returned on ``like``'s device/dtype.

    Drawing on the generator's device makes a CPU generator give the same noise for CPU and CUDA
    images.
    """
    z = torch.randn(shape, generator=generator, device=generator.device, dtype=like.dtype)
    return z.to(like.device)


@lru_cache(maxsize=65536)
def _mask_columns_cached(
    shape: tuple[int, int], accel: float, center_fraction: float, mask: str, seed: int
) -> torch.Tensor:
    # The theory spec builds the mask; we only cache it (one per volume/example id).
    cols = MRI(shape, accel=accel, center_fraction=center_fraction, mask=mask, seed=seed).mask_columns()
    return torch.from_numpy(cols.copy())


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    """An empirical reconstruction task: how clean images become (network input, target).

    Fields that belong to another task must keep their defaults (e.g. ``accel`` for denoising),
    so two equal tasks describe the same experiment; :meth:`describe` lists only the fields of
    this task.

    Args:
        name: ``"denoise"``, ``"mri"`` or ``"sr"``.
        sigma: noise standard deviation on the [0, 1] image scale, ≥ 0. Denoise: per pixel.
            MRI: per real and per imaginary component of each sampled k-space entry (the theory's
            convention; the DFT is unitary, so this is also the image-domain level). SR: per
            low-res pixel.
        accel: MRI acceleration factor R ≥ 1.
        center_fraction: MRI fraction of fully sampled centre columns, in (0, 1].
        mask: MRI column pattern, ``"equispaced"`` or ``"random"`` (see :class:`theory.MRI`).
        complex_input: MRI network input: 2-channel ``[Re z, Im z]`` of the zero-filled image z
            (True) or its magnitude ``|z|`` (False, 1 channel). Single-coil only for now.
        scale: SR factor s ≥ 1 (image sides must be divisible by it).
        sr_kernel: SR degradation: ``"block"`` (s×s block mean, the theory operator; input =
            block-replicated low-res image) or ``"bicubic"`` (``F.interpolate(mode="bicubic",
            antialias=True)`` down and up; Keys a = −0.5 kernel in both directions).
        coils: MRI number of simulated receive coils C ≥ 1. 1 (default): the theory's single-coil
            operator. C > 1: coil c measures ``M F(S_c x)`` + noise with the maps ``S_c`` of
            :func:`coil_sensitivities` (Σ_c |S_c|² = 1), one column mask per example shared by
            all coils, independent noise σ per component per coil; network input the
            root-sum-of-squares ``sqrt(Σ_c |F^H k_c|²)`` (1 channel), target x.
    """

    name: str
    sigma: float = 25 / 255
    accel: float = 4.0
    center_fraction: float = 0.08
    mask: str = "equispaced"
    complex_input: bool = False
    scale: int = 2
    sr_kernel: str = "block"
    coils: int = 1  # last, so positional construction of the older fields keeps working

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or self.name not in TASK_NAMES:
            valid = ", ".join(repr(t) for t in TASK_NAMES)
            raise ValueError(f"task={self.name!r} is unknown; use one of {valid}")
        sigma = _float_field("sigma", self.sigma, "noise standard deviation on the [0, 1] scale")
        if sigma < 0:
            raise ValueError(f"sigma={self.sigma!r} must be >= 0 (noise standard deviation on the [0, 1] scale)")
        accel, cf = check_mri_sampling(self.accel, self.center_fraction, self.mask)
        if not isinstance(self.complex_input, (bool, np.bool_)):
            raise ValueError(f"complex_input={self.complex_input!r} must be True or False (MRI network input)")
        coils = _int_value("coils", self.coils, "number of simulated MRI receive coils")
        if coils < 1:
            raise ValueError(f"coils={coils} must be a positive integer (number of simulated MRI receive coils)")
        if coils > 1 and self.complex_input:
            raise ValueError(
                f"complex_input=True is single-coil only for now (coils={coils}); use complex_input=False "
                "(root-sum-of-squares input) or coils=1"
            )
        scale = _int_value("scale", self.scale, "super-resolution factor")
        if scale < 1:
            raise ValueError(f"scale={scale} must be a positive integer (super-resolution factor)")
        if self.sr_kernel not in SR_KERNELS:
            raise ValueError(f"sr_kernel={self.sr_kernel!r} must be 'block' or 'bicubic' (SR degradation)")
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "accel", accel)
        object.__setattr__(self, "center_fraction", cf)
        object.__setattr__(self, "complex_input", bool(self.complex_input))
        object.__setattr__(self, "coils", coils)
        object.__setattr__(self, "scale", scale)
        own = _TASK_FIELDS[self.name]
        for f in fields(self):
            if f.name in ("name",) + own:
                continue
            if getattr(self, f.name) != f.default:
                users = [t for t, fs in _TASK_FIELDS.items() if f.name in fs]
                raise ValueError(
                    f"{f.name}={getattr(self, f.name)!r} applies to task {users[0]!r} only; drop it for task {self.name!r}"
                )

    # -- channels

    def _check_channels(self, image_channels: Any) -> int:
        c = _int_value("image_channels", image_channels, "channels of the clean images")
        if c < 1:
            raise ValueError(f"image_channels={c} must be a positive integer (channels of the clean images)")
        if self.name == "mri" and c != 1:
            raise ValueError(f"mri needs single-channel images (C=1), got C={c}; convert to greyscale/magnitude first")
        return c

    def in_channels(self, image_channels: int) -> int:
        """Channels of the network input for clean images with ``image_channels`` channels.

        Denoise and SR: ``image_channels``. MRI (needs 1): 2 with ``complex_input`` else 1.
        """
        c = self._check_channels(image_channels)
        if self.name == "mri":
            return 2 if self.complex_input else 1
        return c

    def out_channels(self, image_channels: int) -> int:
        """Channels of the target (= network output): ``image_channels`` (MRI: 1, the magnitude)."""
        return self._check_channels(image_channels)

    # -- theory spec

    def operator_spec(self, shape: tuple[int, int], *, example_id: int | None = None) -> Spec:
        """The theory operator of this task for one channel of an (h, w) image.

        Channels are independent (RGB denoising/SR apply the spec to each channel).

        Args:
            shape: (h, w) image size.
            example_id: MRI only: the example's (or volume's) id, used as the mask seed; None
                gives seed 0. Ignored by the other tasks.

        Returns:
            ``Denoise((h, w))``, ``MRI((h, w), accel, center_fraction, mask, seed)`` or
            ``SuperResolution((h, w), scale)``.

        Raises:
            ValueError: bad shape or id, ``sr_kernel="bicubic"`` or MRI ``coils > 1`` (no theory
                operator; the theory's MRI is single-coil).
        """
        if self.name == "denoise":
            return Denoise(shape)
        if self.name == "sr":
            if self.sr_kernel != "block":
                raise ValueError(
                    "sr_kernel='bicubic' has no theory operator; use sr_kernel='block' to compare with theory"
                )
            return SuperResolution(shape, scale=self.scale)
        if self.coils > 1:
            raise ValueError(
                f"coils={self.coils} has no theory operator (the theory's MRI is single-coil); "
                "use coils=1 to compare with theory"
            )
        return self._mri_spec(shape, example_id)

    def _mri_spec(self, shape: tuple[int, int], example_id: int | None = None) -> MRI:
        """The single-coil theory spec whose column mask every coil shares."""
        seed = 0 if example_id is None else _int_value("example_id", example_id, "MRI mask seed")
        if seed < 0:
            raise ValueError(f"example_id={seed} must be a non-negative integer (MRI mask seed)")
        return MRI(shape, accel=self.accel, center_fraction=self.center_fraction, mask=self.mask, seed=seed)

    def column_masks(
        self,
        shape: tuple[int, int],
        example_ids: torch.Tensor | None = None,
        *,
        batch_size: int = 1,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """MRI only: the sampled k-space columns of each example, from the theory spec.

        Args:
            shape: (h, w) image size.
            example_ids: (B,) non-negative ints, mask seed per example (fastMRI: one mask per
                volume, so pass the volume id); None gives the seed-0 mask ``batch_size`` times.
            batch_size: number of rows when ``example_ids`` is None.
            device: device of the result (default CPU).

        Returns:
            (B, w) bool tensor, row b = ``operator_spec(shape, example_id=ids[b]).mask_columns()``
            (the theory spec of the same task with ``coils=1``; multi-coil shares the mask).
        """
        if self.name != "mri":
            raise ValueError(f"column_masks is defined for task 'mri' only, not {self.name!r}")
        spec = self._mri_spec(shape)  # validates the shape
        if example_ids is None:
            seeds = [0] * _int_value("batch_size", batch_size, "number of masks")
        else:
            seeds = _id_tensor(example_ids, None, "example_ids").tolist()
        key = (spec.shape, spec.accel, spec.center_fraction, spec.mask)
        rows = [_mask_columns_cached(*key, s) for s in seeds]
        out = torch.stack(rows) if rows else torch.zeros((0, spec.shape[1]), dtype=torch.bool)
        return out.to(device if device is not None else "cpu")

    # -- corruption

    def corrupt(
        self,
        x: torch.Tensor,
        *,
        generator: torch.Generator,
        example_ids: torch.Tensor | None = None,
        column_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Measure and corrupt clean images: (network input, target).

        All noise comes from ``generator`` (drawn on the generator's device, then moved to x's),
        always with the same draw shape whatever σ, so tasks differing only in σ share the noise
        realisation for the same generator state. Training: pass one running generator (noise
        resampled every step). Validation/test: pass a generator seeded with a fixed seed at the
        start of each pass (same batch order and size every time), or use :meth:`corrupt_fixed`.

        * denoise: input ``x + σ n``, target x.
        * mri (C = 1): ``k = F(x)`` with noise σ n_r + i σ n_i added, kept on the sampled
          columns only (zero elsewhere); zero-filled image ``z = F^H(mask · k)``; input ``|z|``
          (1 channel) or ``[Re z, Im z]`` (2 channels, ``complex_input``); target x.
        * mri (C = 1), ``coils > 1``: per coil ``k_c = F(S_c x)`` + independent noise as above,
          kept on the example's sampled columns (the same for every coil); input the RSS
          ``sqrt(Σ_c |F^H k_c|²)`` (1 channel); target x.
        * sr: low = A x + σ n (block mean or antialiased bicubic downsampling to (H/s, W/s));
          input = low upsampled to (H, W) (block replication, or bicubic); target x.

        Args:
            x: (B, C, H, W) clean images in [0, 1] (not checked), float32 or float64.
            generator: the source of all randomness.
            example_ids: MRI: (B,) non-negative int ids seeding each example's mask (one fixed
                mask per example or volume); None uses the seed-0 mask for all. Ignored by
                denoise and SR (validated if given).
            column_masks: MRI only, instead of ``example_ids``: (B, W) bool sampled columns
                already on x's device (rows of :meth:`column_masks`, e.g. gathered from a table
                resident on the GPU, so a training step needs no host round trip for the ids).

        Returns:
            ``(net_input, target)``: (B, in_channels(C), H, W) and (B, out_channels(C), H, W),
            dtype and device of x; ``target`` is x itself (not a copy).

        Raises:
            ValueError: bad x, generator or ids; C != 1 for MRI; H or W not divisible by the
                SR scale.
        """
        _check_images(x)
        _check_generator(generator)
        b, c = x.shape[:2]
        self._check_channels(c)
        ids = None if example_ids is None else _id_tensor(example_ids, b, "example_ids")
        if column_masks is not None:
            if self.name != "mri" or ids is not None:
                raise ValueError("column_masks is for task 'mri' only, and replaces example_ids; pass one of them")
            if (column_masks.dtype != torch.bool or tuple(column_masks.shape) != (b, x.shape[3])
                    or column_masks.device != x.device):
                raise ValueError(f"column_masks must be a ({b}, {x.shape[3]}) bool tensor on {x.device}, "
                                 f"got {tuple(column_masks.shape)} {column_masks.dtype} on {column_masks.device}")
        if self.name == "denoise":
            return x + self.sigma * _noise(tuple(x.shape), generator, x), x
        if self.name == "mri":
            return self._corrupt_mri(x, generator, ids, column_masks), x
        return self._corrupt_sr(x, generator), x

    def _corrupt_mri(self, x: torch.Tensor, generator: torch.Generator, ids: torch.Tensor | None,
                     masks: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        if masks is None:
            masks = self.column_masks((h, w), ids, batch_size=b, device=x.device)  # (B, w)
        if self.coils > 1:
            return self._corrupt_multicoil(x, generator, masks)
        return self.zero_filled(self.measure(x, generator), masks)

    def measure(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """MRI, single coil: the full noisy k-space ``F(x) + σ(n_r + i n_i)``, (B, 1, h, w) complex.

        The noise is drawn as :meth:`corrupt` draws it (one (B, 2, h, w) draw from ``generator``).
        """
        noise = _noise((x.shape[0], 2, *x.shape[2:]), generator, x)
        return fft2c(x) + torch.complex(self.sigma * noise[:, :1], self.sigma * noise[:, 1:])

    def zero_filled(self, k: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """MRI, single coil: the network input of k-space ``k`` (B, 1, h, w) kept on ``columns`` (B, w).

        Returns:
            (B, in_channels, h, w): the zero-filled image's magnitude, or [Re, Im] with ``complex_input``.
        """
        k = torch.where(columns[:, None, None, :], k, torch.zeros((), dtype=k.dtype, device=k.device))
        z = ifft2c(k)  # (B, 1, h, w) complex
        if self.complex_input:
            return torch.cat([z.real, z.imag], dim=1)
        return z.abs()

    def _corrupt_multicoil(self, x: torch.Tensor, generator: torch.Generator, masks: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        cdtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
        maps = coil_sensitivities(self.coils, (h, w), dtype=cdtype, device=x.device)  # (coils, h, w)
        noise = _noise((b, 2, self.coils, h, w), generator, x)  # [real, imag] per coil
        k = fft2c(maps * x) + torch.complex(self.sigma * noise[:, 0], self.sigma * noise[:, 1])  # (B, coils, h, w)
        k = torch.where(masks[:, None, None, :], k, torch.zeros((), dtype=k.dtype, device=k.device))
        return torch.linalg.vector_norm(ifft2c(k), dim=1, keepdim=True)  # RSS, (B, 1, h, w) real

    def _corrupt_sr(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, c, h, w = x.shape
        s = self.scale
        if h % s or w % s:
            raise ValueError(
                f"image size {(h, w)} is not divisible by scale={s}; crop the images to a multiple of the scale"
            )
        if self.sr_kernel == "block":
            low = x.reshape(b, c, h // s, s, w // s, s).mean(dim=(3, 5))
        else:
            low = F.interpolate(x, size=(h // s, w // s), mode="bicubic", align_corners=False, antialias=True)
        low = low + self.sigma * _noise(tuple(low.shape), generator, x)
        if self.sr_kernel == "block":
            return low.repeat_interleave(s, dim=2).repeat_interleave(s, dim=3)
        return F.interpolate(low, size=(h, w), mode="bicubic", align_corners=False, antialias=True)

    def corrupt_fixed(
        self,
        x: torch.Tensor,
        *,
        seed: int,
        noise_ids: torch.Tensor,
        example_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`corrupt` with noise fixed per (seed, noise id): for validation and test sets.

        Each image gets its own CPU generator seeded from ``(seed, noise_ids[b])``, so its noise
        does not depend on batch size, batch order or device (a single batched generator's
        does). Slower than :meth:`corrupt` (one call per image).

        Args:
            x: (B, C, H, W) clean images.
            seed: non-negative base seed of the evaluation set.
            noise_ids: (B,) non-negative ints, unique per image (e.g. the dataset index).
            example_ids: MRI mask ids as in :meth:`corrupt` (e.g. volume ids).

        Returns:
            ``(net_input, target)`` as :meth:`corrupt`.
        """
        _check_images(x)
        s = _int_value("seed", seed, "evaluation noise seed")
        if s < 0:
            raise ValueError(f"seed={s} must be a non-negative integer (evaluation noise seed)")
        nids = _id_tensor(noise_ids, x.shape[0], "noise_ids")
        ids = None if example_ids is None else _id_tensor(example_ids, x.shape[0], "example_ids")
        if self.name == "denoise" and nids.numel():
            # corrupt's own draw, image by image, without its per-call checks (the evaluation's hot loop)
            self._check_channels(x.shape[1])
            noise = torch.cat([_noise((1, *x.shape[1:]), example_generator(s, nid), x) for nid in nids.tolist()])
            return x + self.sigma * noise, x
        inputs = []
        for i, nid in enumerate(nids.tolist()):
            gen = example_generator(s, nid)
            inp, _ = self.corrupt(x[i : i + 1], generator=gen, example_ids=None if ids is None else ids[i : i + 1])
            inputs.append(inp)
        if not inputs:
            return self.corrupt(x, generator=torch.Generator(), example_ids=ids)
        return torch.cat(inputs), x

    # -- description

    def describe(self) -> dict[str, Any]:
        """JSON-able spec with this task's fields only; ``make_task(**describe())`` rebuilds it.

        MRI lists ``coils`` only when > 1 (single-coil descriptions are unchanged).
        """
        out = {"name": self.name, **{f: getattr(self, f) for f in _TASK_FIELDS[self.name]}}
        if self.name == "mri" and self.coils == 1:
            del out["coils"]
        return out


def make_task(name: str, **kw: Any) -> Task:
    """Build a task by name.

    Any :class:`Task` field is accepted, so a flat config row carrying every field works; fields
    of another task must keep their defaults (``make_task("denoise", accel=4.0)`` is fine,
    ``accel=8`` is an error rather than silently ignored).

    Args:
        name: ``"denoise"``, ``"mri"`` or ``"sr"``.
        **kw: task fields (denoise: sigma; mri: sigma, accel, center_fraction, mask,
            complex_input, coils; sr: sigma, scale, sr_kernel).

    Raises:
        ValueError: unknown task or field, a non-default field of another task, or an invalid
            value.
    """
    if not isinstance(name, str) or name not in TASK_NAMES:
        valid = ", ".join(repr(t) for t in TASK_NAMES)
        raise ValueError(f"task={name!r} is unknown; use one of {valid}")
    allowed = {f.name for f in fields(Task)} - {"name"}
    extra = sorted(set(kw) - allowed)
    if extra:
        raise ValueError(f"unknown field(s) {extra} for task {name!r}; valid fields: {sorted(_TASK_FIELDS[name])}")
    return Task(name, **kw)
