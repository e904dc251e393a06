"""Runs → plans: build every object a run needs, and so validate it, before anything is written.

:func:`plan` turns a :class:`~empirical.config.RunConfig` into a :class:`RunPlan`: the task (noise
level, MRI mask, SR scale), the training settings, the data sources with their split, the model's
specification, the device. Each object checks its own values (``Task``, ``TrainConfig``,
``make_source``, ``build_model``), so this is the one place where a run is validated: a sweep calls
:func:`validate` on all of its runs before it opens the ledger, and any problem is one line naming
the key. Nothing here trains or loads images; models are built on torch's ``meta`` device, so even
the paper's 46.5M-parameter U-Net costs nothing to check. ``arch = "linear-exact"`` has no network: its
plan checks that its m×m factorisation fits (:func:`check_linear_exact`), and its
:class:`ModelSpec` is a record only (:meth:`ModelSpec.build` refuses it).

The plans :func:`validate` returns are what the sweep hands to its workers
(:func:`empirical.run.run_one`): a run is planned once. A plan pickles cheaply (its sources hold
their settings and file lists, never images), so it travels to process, Ray and SLURM workers.
:func:`load_data` then builds a plan's images (in the worker that trains the run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from theory.infra.process import memory_bytes

from .config import RunConfig
from .data import Source, make_source
from .models import build_model
from .targets import Target
from .tasks import Task, make_task
from .train import TrainConfig, pick_device

__all__ = ["ModelSpec", "RunPlan", "RunData", "plan", "validate", "load_data", "images_bytes", "check_memory", "MAX_N",
           "check_linear_exact"]

#: Largest input or output dimension m = C·H·W of a linear-exact run (:mod:`empirical.linear`): Y Yᵀ
#: is m×m (128 MiB at 4096) and its eigh costs ∝ m³ (0.34 s of CPU at m = 1024, 32×32 grey images;
#: ~64× that at 4096).
MAX_N = 4096


def check_linear_exact(m: int, n: int, *, size: int, in_chans: int) -> None:
    """Raise a one-line ``ValueError`` when a linear-exact run is too large to factorise.

    Args:
        m, n: input and output dimension (C·H·W). size: the image side. in_chans: input channels.
    """
    if max(m, n) > MAX_N:
        side = math.isqrt(MAX_N // max(in_chans, 1))
        raise ValueError(f"arch='linear-exact' with size={size} needs an eigendecomposition of a {max(m, n)}×"
                         f"{max(m, n)} matrix (channels·size² > {MAX_N}); use size ≤ {side}")


@dataclass(frozen=True)
class ModelSpec:
    """What :func:`empirical.models.build_model` is called with for one run."""

    arch: str
    in_chans: int
    out_chans: int
    width: int
    image_shape: tuple[int, int]
    residual: bool
    options: tuple[tuple[str, Any], ...] = ()  # architecture-specific keywords (U-Net depth)

    def build(self, seed: int, *, device: str | torch.device = "cpu") -> nn.Module:
        """The model with initial weights that depend on ``seed`` only.

        Torch's global RNG is forked and seeded around the construction, so nothing leaks into or
        out of it. On ``device="meta"`` no memory is allocated (validation).
        """
        if self.arch == "linear-exact":
            raise ValueError("arch='linear-exact' has no torch model to build: its runs are computed in closed form "
                             "by empirical.linear.run_linear_exact (reconscale sweep)")
        with torch.random.fork_rng(devices=[]), torch.device(device):
            torch.manual_seed(seed)
            return build_model(self.arch, in_chans=self.in_chans, out_chans=self.out_chans, width=self.width,
                               image_shape=self.image_shape, residual=self.residual, **dict(self.options))


@dataclass(frozen=True)
class RunPlan:
    """Everything one run is made of, built and checked, but no images yet.

    Attributes:
        config: the run's settings.
        task: how a clean (B, C, size, size) image becomes (network input, target).
        train: the optimisation settings.
        source: training and validation images; ``test_source`` the test images (may be the same).
        model: the network to build.
        target: what the run trains on (clean, noisy, noisy-resampled, split) and its training noise.
        clamp: outputs are images in [0, 1] (PSNR/SSIM apply); False for the subspace source.
    """

    config: RunConfig
    task: Task
    train: TrainConfig
    source: Source
    test_source: Source
    model: ModelSpec
    clamp: bool
    target: Target = Target()


@dataclass
class RunData:
    """A run's images and the identities that seed their fixed noise and MRI masks.

    Images are (B, C, size, size) float32 tensors on the CPU; ids are (B,) int64. Noise of a
    validation/test image is seeded by its id; MRI masks by its mask id (the image itself, or its
    volume for sources with volumes such as fastMRI). Validation and test sets do not depend on N.
    """

    val_x: torch.Tensor
    val_ids: torch.Tensor
    val_mask_ids: torch.Tensor
    test_x: torch.Tensor
    test_ids: torch.Tensor
    test_mask_ids: torch.Tensor
    train_x: torch.Tensor | None = None
    train_mask_ids: torch.Tensor | None = None
    train_ids: torch.Tensor | None = None  # the training images' indices (seed arch linear-exact's fixed noise)


def _source(run: RunConfig, spec: str, *, options: dict) -> Source:
    kw = {"d": run.d} if spec == "subspace" else {}
    try:
        return make_source(spec, size=run.size, channels=run.channels, seed=run.data_seed, **kw, **options)
    except (ValueError, TypeError) as e:
        key = "data" if spec == run.data else "test_data"
        text = str(e)
        raise ValueError(text if text.startswith(("size=", "channels=", "unknown option")) or "[source]" in text
                         else f"{key}={spec!r}: {text}") from None


def images_bytes(run: RunConfig) -> int:
    """Bytes of a run's images in memory: its N training, n_val validation and n_test test images,
    float32 (B, C, size, size) tensors, as :func:`load_data` holds them for the whole run."""
    return (run.N + run.n_val + run.n_test) * run.channels * run.size**2 * 4


def check_memory(run: RunConfig, available: int | None = None) -> None:
    """Refuse a run whose images alone cannot fit in this machine's memory (nothing is allocated).

    Every source is loaded whole into memory by :func:`load_data`, so :func:`images_bytes` is a
    lower bound on what the run needs; above the memory one process here may use
    (:func:`theory.infra.process.memory_bytes`: physical memory, or a cgroup limit) the run could only
    die in an allocation, after a long wait (or, for a huge N, in validation's own index arrays).

    Args:
        run: the run.
        available: the limit in bytes; default :func:`theory.infra.process.memory_bytes` (no check if unknown).

    Raises:
        ValueError: one line with the estimate, naming N and size and the fix.
    """
    available = memory_bytes() if available is None else available
    need = images_bytes(run)
    if available is None or need <= available:
        return
    images = run.N + run.n_val + run.n_test
    chans = f"{run.channels} channel{'s' if run.channels > 1 else ''}"
    raise ValueError(f"the images of N={run.N} at size={run.size} need {_gib(need)} of memory ({images} images "
                     f"(N + n_val + n_test) × {chans} × {run.size}² pixels × 4 bytes) but this machine has "
                     f"{_gib(available)}; use a smaller size or N")


def _gib(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


def plan(run: RunConfig) -> RunPlan:
    """Build and check everything ``run`` needs (no images, no training).

    Raises:
        ValueError: one line naming the key, e.g. ``optimizer='foo': use 'adam', 'adamw' or 'rmsprop'``.
    """
    task = make_task(run.task, sigma=run.sigma, accel=run.accel, center_fraction=run.center_fraction,
                     mask=run.mask, complex_input=run.complex_input, scale=run.scale, sr_kernel=run.sr_kernel,
                     coils=run.coils)
    clamp = run.data != "subspace"
    tcfg = TrainConfig(**{f.name: getattr(run, f.name) for f in fields(TrainConfig) if f.name != "clamp"},
                       clamp=clamp)
    if run.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={run.device!r}: no CUDA GPU is available here; use device 'auto' or 'cpu'")
    pick_device(run.device)
    try:
        source = _source(run, run.data, options=run.source)
    except ValueError as e:
        if run.source and "unknown option" in str(e):
            raise ValueError(f"[source] {e}") from None
        raise
    # a test source of the training source's own kind is that source: the same [source] options (e.g. the
    # photos' scale and their grid of test crops); another kind takes none of them
    test_source = source if run.test_data in (None, "", run.data) else _source(run, run.test_data, options={})
    target = Target(run.target, train_noise=run.train_noise, split_fraction=run.split_fraction,
                    split_center=run.split_center)
    target.check(task, arch=run.arch, loss=run.loss, size=run.size)
    C = run.channels
    if run.arch == "linear-exact":  # no network: check the size of its factorisation instead
        m, n = task.in_channels(C) * run.size**2, task.out_channels(C) * run.size**2
        check_linear_exact(m, n, size=run.size, in_chans=task.in_channels(C))
    spec = ModelSpec(arch=run.arch, in_chans=task.in_channels(C), out_chans=task.out_channels(C), width=run.width,
                     image_shape=(run.size, run.size),
                     residual=run.residual and run.arch not in ("linear", "linear-exact")
                     and task.in_channels(C) == task.out_channels(C),
                     options=(("num_pool_layers", run.depth),) if run.arch == "unet" else
                     (("k_max", run.linear_kmax),) if run.arch == "linear-exact" else ())
    return RunPlan(config=run, task=task, train=tcfg, source=source, test_source=test_source, model=spec, clamp=clamp,
                   target=target)


def _check_model(p: RunPlan) -> None:
    """Build the model on the meta device and push one input through it (shapes only, no memory)."""
    run = p.config
    try:
        model = p.model.build(0, device="meta")
        with torch.no_grad():
            out = model(torch.empty(1, p.model.in_chans, run.size, run.size, device="meta"))
    except (ValueError, RuntimeError, TypeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        depth = f" with depth {run.depth}" if run.arch == "unet" else ""
        raise ValueError(f"arch={run.arch!r}{depth} cannot run on size={run.size} images ({first}); "
                         "use a larger size or a smaller depth/width") from None
    if tuple(out.shape[-2:]) != (run.size, run.size):
        raise ValueError(f"arch={run.arch!r} maps {run.size}×{run.size} images to {tuple(out.shape[-2:])}; "
                         "use a size the architecture preserves")


def validate(runs: Sequence[RunConfig]) -> list[RunPlan]:
    """Plan every run and check what only the whole sweep shows; returns the plans.

    Checks, each once per distinct setting: every run's images fit in this machine's memory
    (:func:`check_memory`, first, so that a run too large to hold them refuses before any source or
    index array of its size is built); every plan builds (:func:`plan`); each model runs on an
    image of the run's size; each source holds enough images for the largest N with its validation
    and test sets (for a folder or fastMRI source the message names the largest N that fits); a
    folder's images are not smaller than ``size`` (the headers of the first 256 images a sweep uses;
    a smaller file met later fails its run as a ``failed`` row with the same kind of line, and the
    sweep goes on).

    Raises:
        ValueError: one line; when the sweep has axes, it names the run (``run N=8, width=4: …``).
    """
    if not runs:
        raise ValueError("the config expands to no runs")
    axes = [k for k in runs[0].to_dict() if len({repr(getattr(r, k)) for r in runs}) > 1]
    plans, models_seen, splits_seen = [], set(), {}
    for i, run in enumerate(runs):
        try:
            check_memory(run)
            p = plan(run)
            key = (p.model, run.size)
            if key not in models_seen and run.arch != "linear-exact":  # linear-exact: checked by plan()
                _check_model(p)
                models_seen.add(key)
            src_key = (run.data, run.test_data, run.size, run.channels, run.data_seed, run.d, repr(run.source),
                       run.n_val, run.n_test)
            splits_seen[src_key] = max(splits_seen.get(src_key, (0, None))[0], run.N), p
        except ValueError as e:
            # Name the run only when the problem is specific to it: earlier runs passed, or the
            # offending key is itself an axis.
            specific = axes and (i > 0 or str(e).split("=", 1)[0].strip("[] ") in axes)
            raise ValueError(f"run {run.axes_text(axes)}: {e}" if specific else str(e)) from None
        plans.append(p)
    for (_, test_data, *_), (n_max, p) in splits_seen.items():
        run = p.config
        n_test = 0 if test_data else run.n_test
        try:
            split = p.source.split(n_train=n_max, n_val=run.n_val, n_test=n_test, seed=run.data_seed)
        except ValueError as e:
            raise ValueError(_split_problem(p.source, run, n_max, n_test, e)) from None
        try:
            test_split = p.test_source.split(n_train=0, n_val=0, n_test=run.n_test, seed=run.data_seed) \
                if test_data else split
        except ValueError as e:
            raise ValueError(f"test_data={test_data!r} with n_test={run.n_test}: {e}") from None
        # image files: their headers against size (the first few only; a later smaller file fails its run)
        checks = [(p.source, (split.test, split.val, split.train_pool))] + ([(p.test_source, (test_split.test,))]
                                                                           if test_data else [])
        for src, idx in checks:
            if hasattr(src, "check_sizes"):
                src.check_sizes(np.concatenate(idx))  # one line starting "size=…", naming the folder
    return plans


def _split_problem(source: Source, run: RunConfig, n_max: int, n_test: int, err: ValueError) -> str:
    """One line for a split of ``source`` that cannot hold N up to ``n_max`` with its validation and test sets."""
    cap = None
    if hasattr(source, "train_capacity"):  # a finite source: is it N, or the validation/test sets, that do not fit?
        try:
            cap = source.train_capacity(n_val=run.n_val, n_test=n_test, seed=run.data_seed)
        except ValueError:  # the validation/test sets alone do not fit
            pass
    if cap is None:
        return f"data={run.data!r} with N up to {n_max}, n_val={run.n_val}, n_test={n_test}: {err}"
    unit = "slices" if hasattr(source, "volume_of") else "images"
    held = " and ".join(f"{k} {what}" for k, what in ((run.n_val, "validation"), (n_test, "test")) if k)
    after = f" after {held}" if held else ""
    fix = f"lower N to at most {cap}" if cap else "lower n_val/n_test"
    whole = ", whole volumes each" if unit == "slices" and held else ""
    return (f"N={n_max} needs {n_max} training {unit} but {source.name} has {cap or 'none'} left{after} "
            f"({len(source)} in all{whole}); {fix} or add {unit}")


def load_data(p: RunPlan, *, with_train: bool = True) -> RunData:
    """The images of a plan: training (the first N of the nested training pool), validation, test.

    Runs, baselines and :mod:`empirical.ddp` all build their data here, so they see the same images.
    """
    run = p.config
    split = p.source.split(n_train=run.N if with_train else 0, n_val=run.n_val,
                           n_test=0 if run.test_data else run.n_test, seed=run.data_seed)
    if run.test_data:
        test_idx = p.test_source.split(n_train=0, n_val=0, n_test=run.n_test, seed=run.data_seed).test
    else:
        test_idx = split.test

    def images(s: Source, idx: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(s.batch(idx), dtype=np.float32))

    def ids(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(a, dtype=np.int64))  # a writable copy

    def mask_ids(s: Source, idx: np.ndarray) -> torch.Tensor:
        return ids(s.volume_of(idx)) if hasattr(s, "volume_of") else ids(idx)

    data = RunData(val_x=images(p.source, split.val), val_ids=ids(split.val), val_mask_ids=mask_ids(p.source, split.val),
                   test_x=images(p.test_source, test_idx), test_ids=ids(test_idx),
                   test_mask_ids=mask_ids(p.test_source, test_idx))
    if with_train:
        tr_idx = split.train(run.N)
        data.train_x, data.train_mask_ids = images(p.source, tr_idx), mask_ids(p.source, tr_idx)
        data.train_ids = ids(tr_idx)
    return data
