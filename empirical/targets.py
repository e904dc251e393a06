"""Training targets: clean, a second noisy observation, or a split of the measured k-space.

The sweep key ``target`` says what a run is trained to reproduce; validation and test always score
against the clean image, with the task's usual input, so every target kind is compared on the
same footing. Clean targets are what practitioners lack (MRI has no fully sampled ground truth at
scale; low-dose or microscopy data come with a second noisy copy at best), so the question is how
many more examples the self-supervised kinds need (Klug, Atik & Heckel, NeurIPS 2023).

* ``clean`` — the clean image x (the paper's supervised training).
* ``noisy`` (denoising) — Noise2Noise: a second noisy observation t = x + σ z′ of every training
  image, at the task's σ, drawn **once** per example (seeded by (seed + :data:`TARGET_NOISE_SEED`,
  image id): fixed like a stored dataset, and nested over N) and reused at every step.
* ``noisy-resampled`` (denoising) — a fresh target noise draw at every step. An easier problem
  (infinitely many noisy copies of each image average to x) kept as its own value so the two are
  never confused.
* ``split`` (MRI, single coil) — SSDU-style: each training example's measured columns M are split
  once, at random (seeded by (seed + :data:`SPLIT_SEED`, mask id) through
  :func:`theory.split.split_columns`), into Λ and Γ with Λ ∪ Γ = M. The network sees the
  zero-filled image of the Λ columns and its loss is the squared error of its output's k-space on
  the Γ columns against the measured (noisy) k-space there, ``Σ_Γ |F(out) − k|² / (B·h·w)``
  (with Γ = every column this is the image MSE against a noisy target, by Parseval). The fully
  sampled centre is kept in both Λ and Γ by default (``split_center = "both"``: the loss then
  sees the low frequencies that carry most of the energy) or in Λ only (``"lambda"``). At
  validation and test the network gets the usual input from all of M (SSDU's inference
  convention), so its numbers are comparable with supervised runs on the same images.

Input noise during training (``train_noise``, trained networks only): ``fresh`` draws new noise
every step (the paper's supervised protocol; split: a new measurement of the example's mask
every step, input and target from the same draw); ``fixed`` uses one draw per example, seeded by
(seed + :data:`empirical.linear.TRAIN_NOISE_SEED`, image id) — the draw ``arch = "linear-exact"``
always uses, and what a real dataset of measurements is. The fixed training pairs are built once
per run and kept in memory (at most :data:`FIXED_MAX_BYTES`).

Nothing here runs at import beyond torch; :class:`Target` validates its own values and its fit
with the task (:meth:`Target.check`), which :func:`empirical.plan.plan` calls, so a bad
combination is one line before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from .operators import fft2c
from .tasks import Task, example_generator

__all__ = ["TARGETS", "TRAIN_NOISES", "SPLIT_CENTERS", "TARGET_NOISE_SEED", "SPLIT_SEED", "FIXED_MAX_BYTES", "Target",
           "Supervision", "noisy_targets", "split_masks", "split_training_data", "split_loss"]

TARGETS: tuple[str, ...] = ("clean", "noisy", "noisy-resampled", "split")
TRAIN_NOISES: tuple[str, ...] = ("fresh", "fixed")
SPLIT_CENTERS: tuple[str, ...] = ("both", "lambda")
#: Offset added to a run's seed for the one fixed target noise draw of each training example.
TARGET_NOISE_SEED = 40_000
#: Offset added to a run's seed for the fixed Λ/Γ split of each training example's columns.
SPLIT_SEED = 50_000
#: Largest in-memory set of fixed training pairs (inputs and targets) a run may build.
FIXED_MAX_BYTES = 2 << 30


@dataclass(frozen=True)
class Target:
    """What a run trains on (see the module doc).

    Attributes:
        kind: ``clean``, ``noisy``, ``noisy-resampled`` or ``split``.
        train_noise: ``fresh`` or ``fixed`` input noise during training.
        split_fraction: ``split`` only: fraction of the measured non-centre columns put in Λ.
        split_center: ``split`` only: the fully sampled centre in ``both`` Λ and Γ, or in ``lambda`` only.
    """

    kind: str = "clean"
    train_noise: str = "fresh"
    split_fraction: float = 0.6
    split_center: str = "both"

    def __post_init__(self) -> None:
        if self.kind not in TARGETS:
            raise ValueError(f"target={self.kind!r}: use clean, noisy, noisy-resampled (denoising) or split (MRI)")
        if self.train_noise not in TRAIN_NOISES:
            raise ValueError(f"train_noise={self.train_noise!r}: use 'fresh' (new noise every step) or 'fixed' "
                             "(one draw per training example)")
        if not 0 < self.split_fraction < 1:
            raise ValueError(f"split_fraction={self.split_fraction} must lie in (0, 1) (the share of the measured "
                             "columns that forms the input Λ)")
        if self.split_center not in SPLIT_CENTERS:
            raise ValueError(f"split_center={self.split_center!r}: use 'both' (centre in Λ and Γ) or 'lambda'")

    def check(self, task: Task, *, arch: str, loss: str, size: int) -> None:
        """Raise a one-line ``ValueError`` when this target does not fit the task, arch or loss."""
        if self.kind in ("noisy", "noisy-resampled") and task.name != "denoise":
            fix = "use target='split' (a split of the measured k-space)" if task.name == "mri" else "use target='clean'"
            raise ValueError(f"target={self.kind!r} is a second noisy image, defined for task 'denoise' only; "
                             f"for task {task.name!r} {fix}")
        if self.kind == "split":
            if task.name != "mri":
                raise ValueError(f"target='split' splits the measured MRI k-space columns; task {task.name!r} has none "
                                 "(for denoising use target='noisy')")
            if task.coils != 1:
                raise ValueError(f"target='split' is single-coil (coils=1); got coils={task.coils}")
            from theory.split import split_columns  # noqa: PLC0415

            measured = task.column_masks((size, size), batch_size=1)[0].numpy()
            split_columns(measured, fraction=self.split_fraction, center=self.split_center,
                          center_columns=self._centre(task, size), rng=np.random.default_rng(0))
        if self.kind != "clean" and loss != "mse":
            raise ValueError(f"target={self.kind!r} trains on the squared error (a noisy target is unbiased only in "
                             f"mean); use loss='mse', not {loss!r}")
        if arch == "linear-exact" and self.kind == "noisy-resampled":
            raise ValueError("target='noisy-resampled' redraws targets every step, which arch 'linear-exact' (a fixed "
                             "training set in closed form) has not; use target='noisy'")

    @staticmethod
    def _centre(task: Task, size: int) -> np.ndarray:
        """(w,) bool: the fully sampled centre columns of the task's masks (the theory spec's)."""
        return task.operator_spec((size, size)).center_columns()

    def describe(self, sigma: float) -> dict[str, str]:
        """The row's account of its training targets and noise (``conventions``)."""
        from .linear import TRAIN_NOISE_SEED  # noqa: PLC0415

        text = {
            "clean": "the clean image",
            "noisy": f"a second noisy image x + σz′ (σ = {sigma:.6g}), one fixed draw per training example seeded by "
                     f"(seed + {TARGET_NOISE_SEED}, image id), reused every step",
            "noisy-resampled": f"x + σz′ (σ = {sigma:.6g}) with z′ redrawn at every step (an easier problem than one "
                               "fixed noisy copy)",
            "split": f"SSDU split: input from Λ, loss on Γ of the measured k-space; one fixed random split per example "
                     f"(seed + {SPLIT_SEED}, mask id), Λ ∪ Γ = measured columns, {self.split_fraction:g} of the "
                     f"non-centre columns in Λ, centre in {'Λ and Γ' if self.split_center == 'both' else 'Λ only'}; "
                     "validation and test: input from all measured columns, scored against the clean image",
        }[self.kind]
        noise = ("one fixed draw per training example, seeded by (seed + "
                 f"{TRAIN_NOISE_SEED}, image id)" if self.train_noise == "fixed" else "fresh noise every step")
        return {"target": text, "train_noise": noise}


def noisy_targets(x: torch.Tensor, sigma: float, *, seed: int, ids: torch.Tensor) -> torch.Tensor:
    """x + σ z′ with z′ fixed per (seed, id): the stored second observation of each image.

    Args:
        x: (B, C, H, W) clean images. ids: (B,) image ids.

    Returns:
        (B, C, H, W) noisy targets, x's dtype.
    """
    out = torch.empty_like(x)
    for i, nid in enumerate(ids.tolist()):
        g = example_generator(seed, nid)
        out[i] = x[i] + sigma * torch.randn(tuple(x.shape[1:]), generator=g, dtype=x.dtype)
    return out


def split_masks(task: Task, target: Target, shape: tuple[int, int], *, seed: int,
                mask_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed (Λ, Γ) column masks of each training example, each (B, w) bool.

    Example b's measured columns are its mask (seeded by ``mask_ids[b]``, as :meth:`Task.corrupt`);
    its split is drawn by (seed, mask id), so an example keeps its split as N grows.

    Raises:
        ValueError: an example whose split leaves Λ or Γ empty (its run becomes a ``failed`` row).
    """
    from theory.split import split_columns  # noqa: PLC0415

    measured = task.column_masks(shape, mask_ids).numpy()
    centre = Target._centre(task, shape[0])
    lam, gam = np.zeros_like(measured), np.zeros_like(measured)
    for b, mid in enumerate(mask_ids.tolist()):
        rng = np.random.default_rng([int(seed), int(mid)])
        lam[b], gam[b] = split_columns(measured[b], fraction=target.split_fraction, center=target.split_center,
                                       center_columns=centre, rng=rng)
    return torch.from_numpy(lam), torch.from_numpy(gam)


def split_training_data(task: Task, target: Target, x: torch.Tensor, *, ids: torch.Tensor, mask_ids: torch.Tensor,
                        seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed split-measurement training set of images ``x`` (N, 1, h, w), as networks and linear-exact see it.

    Example i is measured once (noise seeded by (seed + TRAIN_NOISE_SEED, ids[i])) and split once
    (:func:`split_masks`, seed + :data:`SPLIT_SEED`).

    Returns:
        ``(inputs (N, C_in, h, w), k (N, 1, h, w) complex measured k-space, Λ (N, w), Γ (N, w))``.
    """
    from .linear import TRAIN_NOISE_SEED  # noqa: PLC0415

    lam, gamma = split_masks(task, target, tuple(int(s) for s in x.shape[-2:]), seed=seed + SPLIT_SEED,
                             mask_ids=mask_ids)
    k = torch.cat([task.measure(x[i : i + 1], example_generator(seed + TRAIN_NOISE_SEED, int(n)))
                   for i, n in enumerate(ids.tolist())]) if len(ids) else fft2c(x)
    return task.zero_filled(k, lam), k, lam, gamma


def split_loss(out: torch.Tensor, target: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """SSDU loss ``Σ_Γ |F(out) − k|² / (B·h·w)`` of (B, 1, h, w) outputs; target = (k (B,1,h,w) complex, Γ (B, w))."""
    k, gamma = target
    diff = fft2c(out.to(torch.float64 if k.dtype == torch.complex128 else torch.float32)) - k
    diff = torch.where(gamma[:, None, None, :], diff, torch.zeros((), dtype=diff.dtype, device=diff.device))
    return (diff.real ** 2 + diff.imag ** 2).sum() / out.numel()


class Supervision:
    """The training batches of one run under a :class:`Target`: ``batch(idx, gen) -> (input, target)``.

    Built once per run (:meth:`build`): the fixed pieces (noisy targets, splits, fixed inputs) are
    computed here, on the host, for the run's N training images; a step then only indexes them or
    draws the fresh parts from the run's generator.
    """

    def __init__(self, task: Task, target: Target, x: torch.Tensor, *, lam: torch.Tensor | None,
                 gamma: torch.Tensor | None, fixed_input: torch.Tensor | None,
                 fixed_target: torch.Tensor | None,
                 device: torch.device) -> None:
        self.task, self.target, self.device = task, target, device
        self.x = x.to(device)
        self.lam = None if lam is None else lam.to(device)
        self.gamma = None if gamma is None else gamma.to(device)
        self.fixed_input = None if fixed_input is None else fixed_input.to(device)
        self.fixed_target = None if fixed_target is None else fixed_target.to(device)

    @classmethod
    def build(cls, task: Task, target: Target, x: torch.Tensor, *, ids: torch.Tensor, mask_ids: torch.Tensor | None,
              seed: int, device: torch.device) -> "Supervision":
        """The run's supervision for training images ``x`` (N, C, H, W) with ids and MRI mask ids.

        Raises:
            ValueError: fixed training pairs over :data:`FIXED_MAX_BYTES`, or a split leaving Λ or Γ empty.
        """
        from .linear import TRAIN_NOISE_SEED  # noqa: PLC0415

        mask_ids = ids if mask_ids is None else mask_ids
        shape = tuple(int(s) for s in x.shape[-2:])
        per = x[:1].numel() * x.element_size() * (2 + 4 * (target.kind == "split"))
        if target.train_noise == "fixed" and per * x.shape[0] > FIXED_MAX_BYTES:
            raise ValueError(f"train_noise='fixed' keeps every training pair in memory ({per * x.shape[0] >> 20} MiB "
                             f"> {FIXED_MAX_BYTES >> 20} MiB); use train_noise='fresh' or a smaller N")
        lam = gamma = fixed_input = fixed_target = None
        tseed = seed + TRAIN_NOISE_SEED
        if target.kind == "split":
            if target.train_noise == "fixed":  # one measurement per example: input and target from the same draw
                fixed_input, fixed_target, lam, gamma = split_training_data(task, target, x, ids=ids,
                                                                            mask_ids=mask_ids, seed=seed)
            else:
                lam, gamma = split_masks(task, target, shape, seed=seed + SPLIT_SEED, mask_ids=mask_ids)
        else:
            if target.train_noise == "fixed":
                fixed_input = task.corrupt_fixed(x, seed=tseed, noise_ids=ids, example_ids=mask_ids)[0]
            if target.kind == "noisy":
                fixed_target = noisy_targets(x, task.sigma, seed=seed + TARGET_NOISE_SEED, ids=ids)
        return cls(task, target, x, lam=lam, gamma=gamma, fixed_input=fixed_input, fixed_target=fixed_target,
                   device=device)

    def batch(self, idx: torch.Tensor, generator: torch.Generator,
              corrupt: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, Any]:
        """(network input, target) of training examples ``idx`` (B,) on the run's device.

        Args:
            corrupt: the task's fresh-noise input of clean images (the caller's own fast path).
        """
        kind, x = self.target.kind, self.x[idx]
        if kind == "split":
            if self.fixed_input is not None:
                return self.fixed_input[idx], (self.fixed_target[idx], self.gamma[idx])
            k = self.task.measure(x, generator)
            return self.task.zero_filled(k, self.lam[idx]), (k, self.gamma[idx])
        inp = self.fixed_input[idx] if self.fixed_input is not None else corrupt(x)
        if kind == "clean":
            return inp, x
        if kind == "noisy":
            return inp, self.fixed_target[idx]
        z = torch.randn(tuple(x.shape), generator=generator, device=generator.device, dtype=x.dtype).to(x.device)
        return inp, x + self.task.sigma * z

    def loss(self, out: torch.Tensor, target: Any, kind: str) -> torch.Tensor:
        """The training loss of outputs ``out`` against what :meth:`batch` returned."""
        from .train import loss_fn  # noqa: PLC0415

        if self.target.kind == "split":
            return split_loss(out.float(), target)
        return loss_fn(out, target, kind)
