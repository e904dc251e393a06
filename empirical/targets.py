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
(seed + :data:`empirical.seeds.TRAIN_NOISE_SEED`, image id) — the draw ``arch = "linear-exact"``
always uses, and what a real dataset of measurements is. The fixed training pairs are built once
per run and kept in memory (at most :data:`FIXED_MAX_BYTES`).

:class:`Supervision` is every run's training set: the clean images with what the target needs
(fixed noisy copies, splits, fixed inputs), placed on the training device once
(:meth:`Supervision.to`), and the one source of training batches and of the training loss
(:func:`loss_fn`, or :func:`split_loss` for split targets) for :func:`empirical.train.train`.
Clean targets with fresh noise (:meth:`Supervision.clean`) are the default supervision.

Nothing here runs at import beyond torch; :class:`Target` validates its own values and its fit
with the task (:meth:`Target.check`), which :func:`empirical.plan.plan` calls, so a bad
combination is one line before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from theory.split import split_columns

from .metrics import ssim
from .operators import fft2c
from .seeds import SPLIT_SEED, TARGET_NOISE_SEED, TRAIN_NOISE_SEED
from .tasks import Task, example_generator

__all__ = ["TARGETS", "TRAIN_NOISES", "SPLIT_CENTERS", "FIXED_MAX_BYTES", "RESIDENT_MAX_BYTES", "Target",
           "Supervision", "TrainTarget", "loss_fn", "noisy_targets", "split_masks", "split_training_data", "split_loss"]

TARGETS: tuple[str, ...] = ("clean", "noisy", "noisy-resampled", "split")
TRAIN_NOISES: tuple[str, ...] = ("fresh", "fixed")
SPLIT_CENTERS: tuple[str, ...] = ("both", "lambda")
#: Largest in-memory set of fixed training pairs (inputs and targets) a run may build.
FIXED_MAX_BYTES = 2 << 30
#: Training sets up to this size are kept on the GPU for the whole run (:meth:`Supervision.to`).
RESIDENT_MAX_BYTES = 4 << 30
#: A batch's training target: (B, C_out, H, W) images, or for split targets
#: (k (B, 1, h, w) complex measured k-space, Γ (B, w) bool loss columns).
TrainTarget = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


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
    lam, gamma = split_masks(task, target, tuple(int(s) for s in x.shape[-2:]), seed=seed + SPLIT_SEED,
                             mask_ids=mask_ids)
    k = torch.cat([task.measure(x[i : i + 1], example_generator(seed + TRAIN_NOISE_SEED, int(n)))
                   for i, n in enumerate(ids.tolist())]) if len(ids) else fft2c(x)
    return task.zero_filled(k, lam), k, lam, gamma


def loss_fn(out: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Scalar training loss of (B, C, H, W) outputs against image targets (computed in float32 or wider).

    ``"mse"``, ``"l1"``, or ``"ssim"``: fastMRI's SSIM loss, 1 − mean SSIM (skimage conventions,
    7×7 uniform window) with each target's maximum as its data range, so it is scale-free like the
    paper's MRI metric.
    """
    out = out.float()
    if kind == "mse":
        return torch.mean((out - target) ** 2)
    if kind == "l1":
        return torch.mean(torch.abs(out - target))
    r = target.detach().flatten(1).amax(dim=1).clamp_min(1e-8)
    return (1.0 - ssim(out, target, data_range=r).mean()).float()


def split_loss(out: torch.Tensor, target: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """SSDU loss ``Σ_Γ |F(out) − k|² / (B·h·w)`` of (B, 1, h, w) outputs; target = (k (B,1,h,w) complex, Γ (B, w))."""
    k, gamma = target
    diff = fft2c(out.to(torch.float64 if k.dtype == torch.complex128 else torch.float32)) - k
    diff = torch.where(gamma[:, None, None, :], diff, torch.zeros((), dtype=diff.dtype, device=diff.device))
    return (diff.real ** 2 + diff.imag ** 2).sum() / out.numel()


class Supervision:
    """A run's training set under its :class:`Target`: ``batch(idx, noise) -> (input, target)`` and ``loss``.

    Built once per run on the host (:meth:`build`; :meth:`clean` for the default, clean targets
    with fresh noise): the fixed pieces (noisy targets, splits, fixed inputs) are computed there for
    the run's N training images. :meth:`to` places it on the training device (a CUDA set of up to
    :data:`RESIDENT_MAX_BYTES` stays there with its MRI masks, so a step neither copies from nor
    waits for the host); a step then only indexes it and draws the fresh parts.

    Attributes:
        task, target: the run's task and target.
        x: (N, C, H, W) clean training images (on the host, or resident on the device).
        mask_ids: (N,) MRI mask ids of the training examples (None: not MRI, or the seed-0 mask).
        lam, gamma: (N, w) bool Λ/Γ columns (split targets), else None.
        fixed_input, fixed_target: fixed training inputs (``train_noise = "fixed"``) and fixed
            targets (noisy copies, or the measured k-space of fixed split examples), else None.
        device: the training device (:meth:`to`).
    """

    def __init__(self, task: Task, target: Target, x: torch.Tensor, *, mask_ids: torch.Tensor | None,
                 lam: torch.Tensor | None = None, gamma: torch.Tensor | None = None,
                 fixed_input: torch.Tensor | None = None, fixed_target: torch.Tensor | None = None,
                 device: torch.device = torch.device("cpu"), mask_table: torch.Tensor | None = None) -> None:
        self.task, self.target, self.x, self.device = task, target, x, device
        self.mask_ids = mask_ids if task.name == "mri" else None  # only MRI masks depend on the example
        self.lam, self.gamma, self.fixed_input, self.fixed_target = lam, gamma, fixed_input, fixed_target
        self.mask_table = mask_table  # (N, w) bool MRI masks on the device (resident MRI sets)

    @property
    def n(self) -> int:
        """The number of training examples N."""
        return int(self.x.shape[0])

    @classmethod
    def clean(cls, task: Task, x: torch.Tensor, *, mask_ids: torch.Tensor | None = None) -> "Supervision":
        """The default supervision: clean targets ``x`` (N, C, H, W), fresh input noise at every step
        (MRI: example i's mask seeded by ``mask_ids[i]``; None: the seed-0 mask). Needs no seed."""
        return cls(task, Target(), x, mask_ids=mask_ids)

    @classmethod
    def build(cls, task: Task, target: Target, x: torch.Tensor, *, seed: int, ids: torch.Tensor | None = None,
              mask_ids: torch.Tensor | None = None) -> "Supervision":
        """The run's supervision for training images ``x`` (N, C, H, W), on the host.

        Args:
            seed: the run's seed (its fixed draws use ``seed +`` the offsets of :mod:`empirical.seeds`).
            ids: (N,) image ids seeding the fixed draws (default ``arange(N)``).
            mask_ids: (N,) MRI mask ids (default ``ids``).

        Raises:
            ValueError: fixed training pairs over :data:`FIXED_MAX_BYTES`, or a split leaving Λ or Γ empty.
        """
        if target.kind == "clean" and target.train_noise == "fresh":
            return cls.clean(task, x, mask_ids=mask_ids)
        ids = torch.arange(x.shape[0]) if ids is None else ids
        mask_ids = ids if mask_ids is None else mask_ids
        shape = tuple(int(s) for s in x.shape[-2:])
        per = x[:1].numel() * x.element_size() * (2 + 4 * (target.kind == "split"))
        if target.train_noise == "fixed" and per * x.shape[0] > FIXED_MAX_BYTES:
            raise ValueError(f"train_noise='fixed' keeps every training pair in memory ({per * x.shape[0] >> 20} MiB "
                             f"> {FIXED_MAX_BYTES >> 20} MiB); use train_noise='fresh' or a smaller N")
        lam = gamma = fixed_input = fixed_target = None
        if target.kind == "split":
            if target.train_noise == "fixed":  # one measurement per example: input and target from the same draw
                fixed_input, fixed_target, lam, gamma = split_training_data(task, target, x, ids=ids,
                                                                            mask_ids=mask_ids, seed=seed)
            else:
                lam, gamma = split_masks(task, target, shape, seed=seed + SPLIT_SEED, mask_ids=mask_ids)
        else:
            if target.train_noise == "fixed":
                fixed_input = task.corrupt_fixed(x, seed=seed + TRAIN_NOISE_SEED, noise_ids=ids,
                                                 example_ids=mask_ids)[0]
            if target.kind == "noisy":
                fixed_target = noisy_targets(x, task.sigma, seed=seed + TARGET_NOISE_SEED, ids=ids)
        return cls(task, target, x, mask_ids=mask_ids, lam=lam, gamma=gamma, fixed_input=fixed_input,
                   fixed_target=fixed_target)

    def to(self, device: torch.device) -> "Supervision":
        """This training set placed for training on ``device`` (a new object; the host copy stays).

        The fixed tables go to the device. The images too, with their MRI masks as an (N, w) table,
        when the device is a GPU and they take at most :data:`RESIDENT_MAX_BYTES`; a larger set stays
        on the host and each batch is gathered there and copied.
        """
        def put(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        resident = device.type != "cuda" or self.x.numel() * self.x.element_size() <= RESIDENT_MAX_BYTES
        fresh_mri = (device.type == "cuda" and resident and self.task.name == "mri" and self.target.kind != "split"
                     and self.fixed_input is None)
        table = (self.task.column_masks(tuple(self.x.shape[-2:]), self.mask_ids, batch_size=self.n, device=device)
                 if fresh_mri else None)
        return Supervision(self.task, self.target, self.x.to(device) if resident else self.x,
                           mask_ids=self.mask_ids, lam=put(self.lam), gamma=put(self.gamma),
                           fixed_input=put(self.fixed_input), fixed_target=put(self.fixed_target), device=device,
                           mask_table=table)

    def batch(self, idx: torch.Tensor, noise: torch.Generator | int) -> tuple[torch.Tensor, TrainTarget]:
        """(network input, target) of training examples ``idx`` (B,) on the training device.

        Args:
            idx: (B,) int64 positions in the training set (on the device or the host).
            noise: where the fresh draws come from: the run's generator (a stream over the whole
                batch: the sweep's loop), or an int seed: example ``idx[b]``'s draws come from its own
                generator seeded by (seed, ``idx[b]``), so they do not depend on how a batch is split
                over processes (data-parallel training, :func:`empirical.seeds.epoch_noise_seed`).

        Returns:
            ``(input (B, C_in, H, W), target)``: the target is (B, C_out, H, W) images, or for split
            targets ``(k (B, 1, h, w) complex, Γ (B, w) bool)``.
        """
        if isinstance(noise, torch.Generator):
            return self._draw(idx, noise)
        parts = [self._draw(idx[b : b + 1], example_generator(noise, int(i))) for b, i in enumerate(idx.tolist())]
        inp = torch.cat([p[0] for p in parts])
        if isinstance(parts[0][1], tuple):
            return inp, tuple(torch.cat([p[1][j] for p in parts]) for j in range(len(parts[0][1])))
        return inp, torch.cat([p[1] for p in parts])

    def _draw(self, idx: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, TrainTarget]:
        """One batch with every fresh draw from ``gen``, in a fixed order (input noise, then target noise)."""
        on = idx.to(self.device)  # indexes the tables on the device (a no-op for device indices)
        kind = self.target.kind
        if kind == "split" and self.fixed_input is not None:
            return self.fixed_input[on], (self.fixed_target[on], self.gamma[on])
        x = self.x[idx.to(self.x.device)].to(self.device, non_blocking=True)
        if kind == "split":
            k = self.task.measure(x, gen)
            return self.task.zero_filled(k, self.lam[on]), (k, self.gamma[on])
        if self.fixed_input is not None:
            inp = self.fixed_input[on]
        elif self.mask_table is not None:
            inp = self.task.corrupt(x, generator=gen, column_masks=self.mask_table[on])[0]
        else:
            ids = None if self.mask_ids is None else self.mask_ids[idx.to(self.mask_ids.device)]
            inp = self.task.corrupt(x, generator=gen, example_ids=ids)[0]
        if kind == "clean":
            return inp, x
        if kind == "noisy":
            return inp, self.fixed_target[on]
        z = torch.randn(tuple(x.shape), generator=gen, device=gen.device, dtype=x.dtype).to(x.device)
        return inp, x + self.task.sigma * z

    def loss(self, out: torch.Tensor, target: TrainTarget, kind: str) -> torch.Tensor:
        """The scalar training loss of outputs ``out`` (B, C_out, H, W) against what :meth:`batch` returned.

        ``kind`` is the run's loss (:func:`loss_fn`); split targets always use :func:`split_loss`.
        """
        if self.target.kind == "split":
            return split_loss(out.float(), target)
        return loss_fn(out, target, kind)
