"""Train one reconstruction network: one plain function, read in one sitting.

``train(model, supervision, val_x, cfg, checkpoint=PATH)`` runs Adam/AdamW/RMSprop on the
supervision's loss (:class:`empirical.targets.Supervision`: by default the clean image with fresh
noise — and for MRI the example's own mask — at every step, under MSE as the paper's denoising, L1,
or the paper's MRI loss 1 − SSIM; other targets — a second noisy image, a split of the measured
k-space — and fixed training noise are other supervisions), evaluates on a validation set with
fixed, seeded noise every ``eval_every`` steps, decays the learning rate on a validation plateau (or
by a cosine schedule), stops early, and keeps the best weights by validation PSNR (SSIM when the
loss is SSIM). Every evaluation writes an atomic checkpoint (model, optimiser, scheduler, RNG state,
history, config) that ``train`` resumes from; checkpoints load with ``weights_only=True``, so
loading never executes pickled code.

On a GPU a step is built for throughput: bf16 autocast, channels_last, fused Adam, optional
``torch.compile``; a training set of up to 4 GiB (:data:`empirical.targets.RESIDENT_MAX_BYTES`) and
its MRI masks stay on the GPU, and batches and noise are drawn there from one device generator, so a
step neither copies from nor waits for the host (the loss is read back only at evaluations).

Data-parallel training is an option of the same loop (``parallel=DataParallel.current()`` inside an
initialised process group; :mod:`empirical.ddp` is the ``torchrun`` entry point). Then every step
consumes one global batch of ``batch_size`` examples: epoch e is the
:class:`~torch.utils.data.DistributedSampler` permutation of the N examples (seed ``cfg.seed``,
reshuffled per epoch), each of the P processes takes ``batch_size / P`` of its share per step, and
the P local batches of step t are exactly the examples of the one-process batch t
(:func:`epoch_batches`; the last ``N mod B`` examples of an epoch are skipped). Example i's fresh
draws in epoch e come from its own generator seeded by (:func:`empirical.seeds.epoch_noise_seed`,
i), not from a per-process stream, and DDP averages the P local mean-loss gradients, the gradient
of the global batch mean. So a run on P processes follows the one-process run of the same sampler
up to floating-point reduction order, for every training target, and a checkpoint resumes on any P
that divides ``batch_size``. Validation is sharded over the processes and all-reduced
(:func:`evaluate_sharded`), so every process takes the same selection and learning-rate decisions;
rank 0 alone writes checkpoints and shows progress. Without ``parallel`` (the sweep), batches are
uniform draws with replacement from the run's generator, which also draws the fresh noise: the two
samplers give different (equally valid) trajectories, and a checkpoint of one never resumes the other.

Budget rule per N: ``steps = clip(round(epochs · N / batch_size), min_steps, max_steps)`` —
``epochs`` passes over the training set, at least ``min_steps`` updates for small N, capped for
large N (:func:`budget_steps`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler

from theory.infra.io import atomic_write
from theory.infra.process import interrupts_deferred

from .config import NOT_IN_IDENTITY
from .metrics import evaluate as task_metrics
from .metrics import nmse
from .seeds import TEST_DRAW_STRIDE, VAL_NOISE_SEED, epoch_noise_seed
from .targets import Supervision, TrainTarget
from .tasks import Task

__all__ = ["TrainConfig", "TrainResult", "Progress", "DataParallel", "train", "evaluate", "evaluate_sharded",
           "epoch_batches", "budget_steps", "make_optimizer", "pick_device", "selection_metric",
           "checkpoint_identity", "checkpoint_state", "optimizer_step", "resume", "record_evaluation",
           "save_checkpoint", "load_checkpoint", "CheckpointError"]

CKPT_FORMAT = "reconscale-ckpt-3"  # 2: records whether the run had stopped early; 3: wall time of all attempts
_READABLE_FORMATS = ("reconscale-ckpt-2", CKPT_FORMAT)
_METRICS = ("mse", "psnr", "ssim", "nmse")
#: An lr schedule (or None for a constant lr); stepped per step (cosine) or per evaluation (plateau).
Schedule = torch.optim.lr_scheduler.LRScheduler | None
#: The checkpoint identity's sampler entry of a data-parallel run (a sweep run's has none).
DDP_SAMPLER = "ddp-epochs"


class CheckpointError(ValueError):
    """A checkpoint that is truncated, foreign, or from another configuration."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the model and data are arguments of :func:`train`)."""

    optimizer: str = "adam"  # "adam" | "adamw" | "rmsprop" (the paper's MRI runs)
    loss: str = "mse"  # "mse" | "l1" | "ssim" (1 − SSIM, 7×7 window, data range = target max; paper MRI)
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 8
    epochs: float = 50.0  # passes over the training set (the per-N budget)
    min_steps: int = 300
    max_steps: int = 3000
    schedule: str = "plateau"  # "plateau" (paper: factor 0.5 on validation PSNR) | "cosine" | "constant"
    plateau_factor: float = 0.5
    plateau_patience: int = 3  # evaluations without improvement before the lr is halved
    min_lr: float = 1e-5
    early_stop_patience: int = 8  # evaluations without improvement at the minimum lr (or overall)
    eval_every: int = 100
    eval_batch: int = 32
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    bf16: bool = True  # autocast on CUDA only
    channels_last: bool = True  # CUDA only
    compile: bool = False
    seed: int = 0
    clamp: bool = True  # clamp outputs to [0, 1] for metrics (images); False for the subspace source

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "adamw", "rmsprop"):
            raise ValueError(f"optimizer={self.optimizer!r}: use 'adam', 'adamw' or 'rmsprop'")
        if self.loss not in ("mse", "l1", "ssim"):
            raise ValueError(f"loss={self.loss!r}: use 'mse', 'l1' or 'ssim'")
        if self.schedule not in ("plateau", "cosine", "constant"):
            raise ValueError(f"schedule={self.schedule!r}: use 'plateau', 'cosine' or 'constant'")
        for name in ("lr", "epochs"):
            if not (getattr(self, name) > 0 and math.isfinite(getattr(self, name))):
                raise ValueError(f"{name}={getattr(self, name)} must be a positive number")
        for name in ("batch_size", "min_steps", "max_steps", "eval_every", "eval_batch"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be a positive integer")
        if self.min_steps > self.max_steps:
            raise ValueError(f"min_steps={self.min_steps} exceeds max_steps={self.max_steps}; lower min_steps or "
                             "raise max_steps")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay={self.weight_decay} must be a finite number ≥ 0")
        if not 0 < self.plateau_factor < 1:
            raise ValueError(f"plateau_factor={self.plateau_factor} must lie in (0, 1)")
        if not (self.min_lr >= 0 and math.isfinite(self.min_lr)):
            raise ValueError(f"min_lr={self.min_lr} must be a finite number ≥ 0")
        for name in ("plateau_patience", "early_stop_patience"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be an integer ≥ 0")
        if not (self.device in ("auto", "cpu", "cuda") or str(self.device).startswith("cuda:")):
            raise ValueError(f"device={self.device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")


@dataclass
class TrainResult:
    """What a run produced. ``status`` is "done" or "failed" (with ``reason``)."""

    status: str
    reason: str = ""
    best_step: int = -1
    steps: int = 0
    best_val: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    wall_s: float = 0.0
    device: str = "cpu"
    best_state: dict | None = None


@dataclass
class Progress:
    """A run's loop state, saved in every checkpoint: where it is and its best weights so far."""

    step: int = 0
    best: float = -math.inf  # best validation score (sign-adjusted: larger is better)
    best_step: int = -1
    stale: int = 0  # evaluations since the best one
    history: list = field(default_factory=list)
    best_state: dict | None = None
    stopped: bool = False  # stopped early (saved, so a resumed run stays stopped)
    wall_s: float = 0.0  # training time of the earlier attempts (a resumed run counts all of them)

    def record(self, val: dict, score: float, train_loss: float, model: nn.Module, opt: torch.optim.Optimizer,
               sched: Schedule, cfg: TrainConfig) -> None:
        """One evaluation: log it, keep the best weights, step the plateau schedule, decide early stopping."""
        self.history.append({"step": self.step, "train_loss": train_loss, "lr": opt.param_groups[0]["lr"],
                             **{f"val_{k}": v for k, v in val.items()}})
        if score > self.best:
            self.best, self.best_step, self.stale = score, self.step, 0
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            self.stale += 1
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(score)
        at_floor = cfg.schedule != "plateau" or opt.param_groups[0]["lr"] <= cfg.min_lr * (1 + 1e-9)
        self.stopped = at_floor and self.stale >= cfg.early_stop_patience

    def result(self, status: str, reason: str, *, wall_s: float, device: str) -> TrainResult:
        """The run's :class:`TrainResult`; ``wall_s`` is this attempt's time (earlier ones are added)."""
        if status == "done" and self.best_state is None:
            status, reason = "failed", "no evaluation was completed"
        best_val = next((h for h in self.history if h["step"] == self.best_step), {})
        return TrainResult(status=status, reason=reason, best_step=self.best_step, steps=self.step,
                           best_val={k[4:]: v for k, v in best_val.items() if k.startswith("val_")},
                           history=self.history, wall_s=self.wall_s + wall_s, device=device,
                           best_state=self.best_state)

    @classmethod
    def restore(cls, ck: dict) -> "Progress":
        return cls(**{f.name: ck[f.name] for f in fields(cls) if f.name in ck})


def selection_metric(cfg: "TrainConfig") -> tuple[str, float]:
    """The validation metric that picks the best weights, and its sign (larger sign·value is better).

    PSNR for image outputs, SSIM when training on the SSIM loss (the paper's MRI protocol), MSE
    when outputs are not images in [0, 1] (the subspace source).
    """
    if not cfg.clamp:
        return "mse", -1.0
    return ("ssim" if cfg.loss == "ssim" else "psnr"), 1.0


def budget_steps(N: int, cfg: TrainConfig) -> int:
    """Gradient steps for a training set of N examples: clip(epochs·N/batch, min_steps, max_steps)."""
    return int(min(max(round(cfg.epochs * N / cfg.batch_size), cfg.min_steps), cfg.max_steps))


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available; use device 'auto' or 'cpu'")
    return torch.device(name)


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, images: torch.Tensor, *, seed: int, ids: torch.Tensor | None = None,
             mask_ids: torch.Tensor | None = None, batch: int = 32, clamp: bool = True,
             autocast: bool = False, draws: int = 1, per_image: bool = False) -> dict:
    """Mean metrics of ``model`` on ``images`` (B, C, H, W) under fixed, per-image noise.

    Noise for image b is seeded by (``seed``, ``ids[b]``) (``task.corrupt_fixed``), so it does not
    depend on batch size or order; MRI masks are seeded by ``mask_ids`` (default ``ids``; fastMRI
    passes volume ids, one mask per volume). With ``draws`` > 1 every image is corrupted ``draws``
    times, draw j seeded by ``seed + j·TEST_DRAW_STRIDE`` (:mod:`empirical.seeds`; draw 0 is the
    one draw of ``draws = 1``), and every metric averages over images and draws. Metrics follow
    the task's conventions (clamp, data range, border crop, luma; :func:`empirical.metrics.evaluate`)
    when ``clamp``; otherwise (the subspace source, not an image range) only MSE and NMSE are
    meaningful and PSNR/SSIM are NaN.

    Returns:
        {"mse", "psnr", "ssim", "nmse"} means over the images (and draws); with ``per_image`` also
        ``"per_image_mse"`` and (with ``clamp``) ``"per_image_psnr"``: (B,) float64 arrays, each image's
        MSE and PSNR averaged over the draws (their means over the images are ``mse`` and ``psnr``).
    """
    model.eval()
    device = next(model.parameters()).device
    ids = torch.arange(images.shape[0]) if ids is None else ids
    mask_ids = ids if mask_ids is None else mask_ids
    sums: dict[str, float] = {"mse": 0.0, "psnr": 0.0, "ssim": 0.0, "nmse": 0.0}
    per = np.zeros(images.shape[0])
    per_psnr = np.zeros(images.shape[0])
    for j in range(int(draws)):
        for a in range(0, images.shape[0], batch):
            inp, target = task.corrupt_fixed(images[a : a + batch], seed=int(seed) + j * TEST_DRAW_STRIDE,
                                             noise_ids=ids[a : a + batch], example_ids=mask_ids[a : a + batch])
            inp, target = inp.to(device), target.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                out = model(inp)
            out = out.float()
            mse = ((out - target) ** 2).mean(dim=(1, 2, 3))
            per[a : a + mse.shape[0]] += mse.double().cpu().numpy()
            sums["mse"] += float(mse.sum())
            sums["nmse"] += float(nmse(out, target).sum())
            if clamp:
                m = task_metrics(out, target, task)
                sums["psnr"] += float(m["psnr"].sum())
                sums["ssim"] += float(m["ssim"].sum())
                per_psnr[a : a + mse.shape[0]] += m["psnr"].double().cpu().numpy()
    n = images.shape[0] * int(draws)
    res: dict[str, Any] = {k: v / n for k, v in sums.items()}
    if not clamp:
        res["psnr"] = res["ssim"] = float("nan")
    if per_image:
        res["per_image_mse"] = per / int(draws)
        if clamp:
            res["per_image_psnr"] = per_psnr / int(draws)
    model.train()
    return res


def save_checkpoint(obj: dict, path: Path) -> None:
    """Write a checkpoint atomically (:func:`theory.infra.io.atomic_write`): a crash leaves the old one.

    Ctrl-C and SIGTERM wait until the file is written (:func:`theory.infra.process.interrupts_deferred`):
    inside torch's writer they would surface as a ``RuntimeError`` and fail the run instead of stopping it.
    """
    with interrupts_deferred():
        atomic_write(path, lambda fh: torch.save(obj, fh))


def load_checkpoint(path: Path, cfg_dict: dict) -> dict:
    """Read a checkpoint written for ``cfg_dict`` (``weights_only``: loading never runs pickled code).

    Raises:
        CheckpointError: the file is truncated, foreign, or from another configuration.
    """
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, pickle payload, not a torch file
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(e).__name__}); delete it to restart the run") from None
    if not isinstance(ck, dict) or ck.get("format") not in _READABLE_FORMATS:
        raise CheckpointError(f"checkpoint {path} is not a reconscale checkpoint; delete it to restart the run")
    if ck.get("config") != cfg_dict:
        raise CheckpointError(f"checkpoint {path} belongs to another configuration; delete it or use another directory")
    return ck


def make_optimizer(model: nn.Module, cfg: TrainConfig, steps: int,
                   device: torch.device) -> tuple[torch.optim.Optimizer, Schedule]:
    """The optimiser of ``cfg`` over ``model``'s parameters and its lr schedule (None for "constant").

    Adam/AdamW use the fused CUDA kernel on the GPU (one launch for all parameters).
    """
    opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}[cfg.optimizer]
    kw = {"fused": True} if device.type == "cuda" and cfg.optimizer != "rmsprop" else {}
    opt = opt_cls(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, **kw)
    if cfg.schedule == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=cfg.plateau_factor,
                                                           patience=cfg.plateau_patience, min_lr=cfg.min_lr)
    elif cfg.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=cfg.min_lr)
    else:
        sched = None
    return opt, sched


def checkpoint_identity(cfg: TrainConfig, run_config: dict | None, **extra: Any) -> dict:
    """What a checkpoint must match to be resumed: the training settings that change the result
    (not the device or evaluation batching: :data:`empirical.config.NOT_IN_IDENTITY`), the run's
    identity and ``extra`` (the sampler of a DDP run)."""
    return {"train": {k: v for k, v in asdict(cfg).items() if k not in NOT_IN_IDENTITY}, "run": run_config or {},
            **extra}


def checkpoint_state(cfg_dict: dict, model: nn.Module, opt: torch.optim.Optimizer, sched: Schedule, run: Progress,
                     *, attempt_s: float, **extra: Any) -> dict:
    """Everything a resumed run needs: weights, optimiser, schedule, config, loop state (its wall
    time including this attempt's ``attempt_s`` so far) and ``extra`` (the RNG state)."""
    state = {**vars(run), "wall_s": run.wall_s + attempt_s}
    return {"format": CKPT_FORMAT, "config": cfg_dict, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched else {}, **state, **extra}


def resume(checkpoint: Path | None, cfg_dict: dict, model: nn.Module, opt: torch.optim.Optimizer,
           sched: Schedule) -> tuple[Progress, dict]:
    """The loop state to start from: restored from ``checkpoint`` if it exists (weights, optimiser
    and schedule are loaded in place), else fresh. Returns (progress, the checkpoint dict or {})."""
    if checkpoint is None or not checkpoint.exists():
        return Progress(), {}
    ck = load_checkpoint(checkpoint, cfg_dict)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    if sched is not None:
        sched.load_state_dict(ck["scheduler"])
    return Progress.restore(ck), ck


def record_evaluation(run: Progress, val: dict, train_loss: float, cfg: TrainConfig, model: nn.Module,
                      opt: torch.optim.Optimizer, sched: Schedule) -> str:
    """Log one evaluation into ``run`` (selection, plateau schedule, early stop).

    Returns:
        "" when the run may go on, else why it failed (a non-finite training loss or validation score).
    """
    key, sign = selection_metric(cfg)
    if not math.isfinite(train_loss):
        return f"non-finite training loss ({train_loss}) at step {run.step}"
    score = sign * val[key]
    if not math.isfinite(score):
        return f"non-finite validation {key} at step {run.step}"
    run.record(val, score, train_loss, model, opt, sched, cfg)
    return ""


def optimizer_step(fwd: Callable[[torch.Tensor], torch.Tensor], opt: torch.optim.Optimizer, sched: Schedule,
                   inp: torch.Tensor, target: TrainTarget, cfg: TrainConfig, cuda: bool,
                   loss_of: Callable[[torch.Tensor, TrainTarget, str], torch.Tensor]) -> torch.Tensor:
    """One optimiser step on a (B, C_in, H, W) input batch; returns the loss (not read back).

    ``loss_of(out, target, cfg.loss)`` is the supervision's loss (:meth:`Supervision.loss`); under
    DDP the backward pass all-reduces (averages) the gradients."""
    if cuda and cfg.channels_last:
        inp = inp.contiguous(memory_format=torch.channels_last)
    with torch.autocast(inp.device.type, dtype=torch.bfloat16, enabled=cuda and cfg.bf16):
        out = fwd(inp)
    loss = loss_of(out, target, cfg.loss)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR):
        sched.step()
    return loss


@dataclass(frozen=True)
class DataParallel:
    """This process's place in a data-parallel run (:func:`train` with ``parallel``).

    Attributes:
        rank: this process's rank; world: the number of processes P; local_rank: its GPU on the node.
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def current(cls) -> "DataParallel":
        """From the initialised process group (``LOCAL_RANK`` from torchrun), else one process."""
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
        return cls()


def epoch_batches(N: int, *, batch_size: int, world: int, rank: int, seed: int, epoch: int) -> torch.Tensor:
    """This process's local batches of one data-parallel epoch.

    Args:
        N: training set size (≥ ``batch_size``).
        batch_size: the global batch B (a multiple of ``world``).
        world, rank: number of processes P and this one's rank.
        seed, epoch: the permutation's seed and epoch (``DistributedSampler.set_epoch``).

    Returns:
        (N // B, B / P) int64 tensor: row t holds the dataset indices this process trains on at
        step t of the epoch. Over the P ranks, row t is the single-process row t (as a set).
    """
    sampler = DistributedSampler(range(N), num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    b, steps = batch_size // world, N // batch_size
    return torch.tensor(list(sampler)[: steps * b], dtype=torch.int64).reshape(steps, b)


def evaluate_sharded(model: nn.Module, task: Task, images: torch.Tensor, *, parallel: DataParallel,
                     ids: torch.Tensor | None = None, mask_ids: torch.Tensor | None = None, **kw: Any) -> dict:
    """:func:`evaluate` over ``images[rank::world]`` (N_val, C, H, W), all-reduced into the full-set means."""
    n_all = images.shape[0]
    ids = torch.arange(n_all) if ids is None else ids
    mask_ids = ids if mask_ids is None else mask_ids
    part = slice(parallel.rank, None, parallel.world)
    n = images[part].shape[0]
    local = evaluate(model, task, images[part], ids=ids[part], mask_ids=mask_ids[part], **kw) if n else {}
    device = next(model.parameters()).device
    sums = torch.tensor([local.get(k, 0.0) * n for k in _METRICS], dtype=torch.float64, device=device)
    if parallel.world > 1:
        dist.all_reduce(sums)
    return {k: float(v) / n_all for k, v in zip(_METRICS, sums.tolist())}


def train(
    model: nn.Module,
    supervision: Supervision,
    val_x: torch.Tensor,
    cfg: TrainConfig,
    *,
    val_ids: torch.Tensor | None = None,
    val_mask_ids: torch.Tensor | None = None,
    checkpoint: str | Path | None = None,
    run_config: dict | None = None,
    progress: bool = False,
    parallel: DataParallel | None = None,
) -> TrainResult:
    """Train ``model`` to reconstruct images from ``supervision.task``-corrupted versions.

    Args:
        model: maps (B, C_in, H, W) network inputs to (B, C_out, H, W) reconstructions.
        supervision: the training set and what it trains on (:class:`~empirical.targets.Supervision`;
            ``Supervision.clean(task, train_x)`` for clean targets with fresh noise), on the host.
        val_x: (N_val, C, H, W) clean validation images; their noise is fixed (seeded).
        cfg: optimisation settings (``batch_size`` is the global batch under ``parallel``).
        val_ids: (N_val,) validation identities (seed their fixed noise); ``val_mask_ids`` their
            mask identities when they differ (fastMRI: the volume).
        checkpoint: file to write every evaluation and to resume from if it exists.
        run_config: the run's full config, stored in (and checked against) the checkpoint.
        progress: tqdm bar over steps.
        parallel: data-parallel training in the initialised process group
            (:meth:`DataParallel.current`; see the module doc): every process calls ``train`` with the
            same arguments and gets the same result. None: one process, the sweep's sampler.

    Returns:
        :class:`TrainResult` with the best weights (by validation PSNR — SSIM for the SSIM loss — or MSE when not clamped).

    Raises:
        ValueError: under ``parallel``, ``batch_size`` not divisible by P, or N < batch_size.
    """
    t0 = time.perf_counter()
    task, n_train = supervision.task, supervision.n
    rank, world = (parallel.rank, parallel.world) if parallel is not None else (0, 1)
    if parallel is not None and cfg.batch_size % world:
        raise ValueError(f"batch_size={cfg.batch_size} is not divisible by the {world} processes; "
                         f"use a multiple of {world} (the global batch is split evenly)")
    if parallel is not None and n_train < cfg.batch_size:
        raise ValueError(f"N={n_train} is smaller than batch_size={cfg.batch_size}; lower batch_size for DDP runs")
    device = pick_device(cfg.device)
    cuda = device.type == "cuda"
    if cuda and parallel is not None:
        device = torch.device("cuda", parallel.local_rank)
        torch.cuda.set_device(device)
    model = model.to(device)
    if cuda and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = model  # DDP all-reduces the gradients in backward
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    fwd = torch.compile(net) if cfg.compile else net
    steps, per_epoch = budget_steps(n_train, cfg), n_train // cfg.batch_size
    opt, sched = make_optimizer(model, cfg, steps, device)
    # Training data on the device (small sets resident, with their MRI masks). The sweep's batches and
    # fresh noise come from one generator there (a CUDA run's noise stream is the GPU's, distributed
    # as the CPU's but not equal to it); data-parallel draws are seeded per (epoch, example) instead.
    data = supervision.to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    # "sampler" keeps a checkpoint of one sampler from being resumed by the other.
    cfg_dict = checkpoint_identity(cfg, run_config, **({"sampler": DDP_SAMPLER} if parallel is not None else {}))
    ckpt = Path(checkpoint) if checkpoint is not None else None
    run, ck = resume(ckpt, cfg_dict, model, opt, sched)
    if "rng" in ck:
        gen.set_state(ck["rng"])
    eval_kw = {"seed": cfg.seed + VAL_NOISE_SEED, "ids": val_ids, "mask_ids": val_mask_ids, "batch": cfg.eval_batch,
               "clamp": cfg.clamp, "autocast": cuda and cfg.bf16}

    bar = None
    if progress and rank == 0:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=steps, initial=run.step, desc="train" if parallel is None else f"train ×{world}",
                   unit="step", leave=False)
    status, reason, batches, batches_epoch = "done", "", None, -1
    model.train()
    try:
        while run.step < steps and not run.stopped:
            if parallel is None:  # uniform draws with replacement; noise from the same stream
                idx = torch.randint(n_train, (min(cfg.batch_size, n_train),), generator=gen, device=device)
                noise: torch.Generator | int = gen
            else:  # this rank's share of the epoch's permutation; noise fixed per (epoch, example)
                epoch, t = divmod(run.step, per_epoch)
                if epoch != batches_epoch:
                    batches = epoch_batches(n_train, batch_size=cfg.batch_size, world=world, rank=rank,
                                            seed=cfg.seed, epoch=epoch)
                    batches_epoch = epoch
                idx, noise = batches[t], epoch_noise_seed(cfg.seed, epoch)
            inp, target = data.batch(idx, noise)
            loss = optimizer_step(fwd, opt, sched, inp, target, cfg, cuda, data.loss)
            run.step += 1
            if bar is not None:
                bar.update(1)
            if run.step % cfg.eval_every and run.step != steps:
                continue
            # -- evaluation, selection, schedule, checkpoint (one host sync per evaluation)
            if parallel is None:
                train_loss = float(loss.detach())
                val = evaluate(model, task, val_x, **eval_kw)
            else:  # the global batch's mean loss, and validation sharded over the processes
                total = loss.detach().double()
                if world > 1:
                    dist.all_reduce(total)
                train_loss = float(total) / world
                val = evaluate_sharded(model, task, val_x, parallel=parallel, **eval_kw)
            reason = record_evaluation(run, val, train_loss, cfg, model, opt, sched)  # the same on every rank
            if reason:
                status = "failed"
                break
            if ckpt is not None and rank == 0:
                extra = {"rng": gen.get_state()} if parallel is None else {}
                save_checkpoint(checkpoint_state(cfg_dict, model, opt, sched, run, attempt_s=time.perf_counter() - t0,
                                                 **extra), ckpt)
            if world > 1:
                dist.barrier()  # nobody runs ahead of a checkpoint that is still being written
    finally:
        if bar is not None:
            bar.close()
    if parallel is None:
        return run.result(status, reason, wall_s=time.perf_counter() - t0, device=str(device))
    backend = dist.get_backend() if world > 1 else "none"
    return run.result(status, reason, wall_s=time.perf_counter() - t0, device=f"{device} ×{world} (DDP, {backend})")
