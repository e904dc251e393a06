"""Train one reconstruction network: one plain function, read in one sitting.

``train(model, task, train_x, val_x, cfg, checkpoint=PATH)`` runs Adam/AdamW/RMSprop on a loss
between the network's output and the clean image (MSE as the paper's denoising, L1, or the paper's
MRI loss 1 − SSIM with the target's maximum as data range), with fresh noise (and for MRI, the example's own mask) at
every step (other targets — a second noisy image, a split of the measured k-space — and fixed training
noise come from an :class:`empirical.targets.Supervision`), evaluates on a validation set with fixed, seeded noise every ``eval_every`` steps,
decays the learning rate on a validation plateau (or by a cosine schedule), stops early, and
keeps the best weights by validation PSNR (SSIM when the loss is SSIM). Every evaluation writes an atomic checkpoint (model,
optimiser, scheduler, RNG state, history, config) that ``train`` resumes from; checkpoints load
with ``weights_only=True``, so loading never executes pickled code.

On a GPU a step is built for throughput: bf16 autocast, channels_last, fused Adam, optional
``torch.compile``; a training set of up to 4 GiB (``RESIDENT_MAX_BYTES``) and its MRI masks stay on
the GPU, and batches and noise are drawn there from one device generator, so a step neither copies
from nor waits for the host (the loss is read back only at evaluations). Data-parallel training of
one large run over several GPUs or processes is :func:`empirical.ddp.train_ddp` (``torchrun``).

Budget rule per N: ``steps = clip(round(epochs · N / batch_size), min_steps, max_steps)`` —
``epochs`` passes over the training set, at least ``min_steps`` updates for small N, capped for
large N (:func:`budget_steps`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from theory.io import atomic_write

__all__ = ["TrainConfig", "TrainResult", "Progress", "train", "evaluate", "budget_steps", "loss_fn", "make_optimizer",
           "pick_device", "selection_metric", "checkpoint_identity", "checkpoint_state", "optimizer_step", "resume", "record_evaluation", "save_checkpoint",
           "load_checkpoint", "CheckpointError", "VAL_NOISE_SEED", "TEST_NOISE_SEED"]

CKPT_FORMAT = "reconscale-ckpt-3"  # 2: records whether the run had stopped early; 3: wall time of all attempts
_READABLE_FORMATS = ("reconscale-ckpt-2", CKPT_FORMAT)
#: Offsets added to a run's seed for the fixed noise of its validation and test images (their
#: per-image noise is seeded by (seed + offset, image id)); training noise never uses these seeds.
VAL_NOISE_SEED: int = 10_000
TEST_NOISE_SEED: int = 20_000
#: Training sets up to this size are kept on the GPU for the whole run (see :func:`train`).
RESIDENT_MAX_BYTES = 4 << 30


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

    def record(self, val: dict, score: float, train_loss: float, model: nn.Module, opt: Any, sched: Any,
               cfg: TrainConfig) -> None:
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


def loss_fn(out: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Scalar training loss of (B, C, H, W) outputs against targets (computed in float32 or wider).

    ``"ssim"`` is fastMRI's SSIM loss: 1 − mean SSIM (skimage conventions, 7×7 uniform window)
    with each target's maximum as its data range, so it is scale-free like the paper's MRI metric.
    """
    out = out.float()
    if kind == "mse":
        return torch.mean((out - target) ** 2)
    if kind == "l1":
        return torch.mean(torch.abs(out - target))
    from .metrics import ssim  # noqa: PLC0415

    r = target.detach().flatten(1).amax(dim=1).clamp_min(1e-8)
    return (1.0 - ssim(out, target, data_range=r).mean()).float()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available; use device 'auto' or 'cpu'")
    return torch.device(name)


@torch.no_grad()
def evaluate(model: nn.Module, task: Any, images: torch.Tensor, *, seed: int, ids: torch.Tensor | None = None,
             mask_ids: torch.Tensor | None = None, batch: int = 32, clamp: bool = True,
             autocast: bool = False) -> dict:
    """Mean metrics of ``model`` on ``images`` (B, C, H, W) under fixed, per-image noise.

    Noise for image b is seeded by (``seed``, ``ids[b]``) (``task.corrupt_fixed``), so it does not
    depend on batch size or order; MRI masks are seeded by ``mask_ids`` (default ``ids``; fastMRI
    passes volume ids, one mask per volume). Metrics follow the task's conventions (clamp, data range,
    border crop, luma; :func:`empirical.metrics.evaluate`) when ``clamp``; otherwise (the subspace
    source, not an image range) only MSE and NMSE are meaningful and PSNR/SSIM are NaN.

    Returns:
        {"mse", "psnr", "ssim", "nmse"} means over the images.
    """
    from .metrics import evaluate as task_metrics  # noqa: PLC0415
    from .metrics import nmse  # noqa: PLC0415

    model.eval()
    device = next(model.parameters()).device
    ids = torch.arange(images.shape[0]) if ids is None else ids
    mask_ids = ids if mask_ids is None else mask_ids
    sums: dict[str, float] = {"mse": 0.0, "psnr": 0.0, "ssim": 0.0, "nmse": 0.0}
    for a in range(0, images.shape[0], batch):
        inp, target = task.corrupt_fixed(images[a : a + batch], seed=int(seed), noise_ids=ids[a : a + batch],
                                         example_ids=mask_ids[a : a + batch])
        inp, target = inp.to(device), target.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = model(inp)
        out = out.float()
        sums["mse"] += float(((out - target) ** 2).mean(dim=(1, 2, 3)).sum())
        sums["nmse"] += float(nmse(out, target).sum())
        if clamp:
            m = task_metrics(out, target, task)
            sums["psnr"] += float(m["psnr"].sum())
            sums["ssim"] += float(m["ssim"].sum())
    n = images.shape[0]
    res = {k: v / n for k, v in sums.items()}
    if not clamp:
        res["psnr"] = res["ssim"] = float("nan")
    model.train()
    return res


def save_checkpoint(obj: dict, path: Path) -> None:
    """Write a checkpoint atomically (:func:`theory.io.atomic_write`): a crash leaves the old one."""
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


def make_optimizer(model: nn.Module, cfg: TrainConfig, steps: int, device: torch.device) -> tuple[Any, Any]:
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
    from .config import NOT_IN_IDENTITY  # noqa: PLC0415

    return {"train": {k: v for k, v in asdict(cfg).items() if k not in NOT_IN_IDENTITY}, "run": run_config or {},
            **extra}


def checkpoint_state(cfg_dict: dict, model: nn.Module, opt: Any, sched: Any, run: Progress, *, attempt_s: float,
                     **extra: Any) -> dict:
    """Everything a resumed run needs: weights, optimiser, schedule, config, loop state (its wall
    time including this attempt's ``attempt_s`` so far) and ``extra`` (the RNG state)."""
    state = {**vars(run), "wall_s": run.wall_s + attempt_s}
    return {"format": CKPT_FORMAT, "config": cfg_dict, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched else {}, **state, **extra}


def resume(checkpoint: Path | None, cfg_dict: dict, model: nn.Module, opt: Any, sched: Any) -> tuple[Progress, dict]:
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


def record_evaluation(run: Progress, val: dict, train_loss: float, cfg: TrainConfig, model: nn.Module, opt: Any,
                      sched: Any) -> str:
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


def optimizer_step(fwd: Any, opt: Any, sched: Any, inp: torch.Tensor, target: Any, cfg: TrainConfig,
                   cuda: bool, *, loss_of: Any = None) -> torch.Tensor:
    """One optimiser step on a (B, C_in, H, W) input batch; returns the loss (not read back).

    ``loss_of(out, target, kind)`` replaces :func:`loss_fn` (the split-measurement loss of
    :mod:`empirical.targets`, whose target is k-space, not an image)."""
    if cuda and cfg.channels_last:
        inp = inp.contiguous(memory_format=torch.channels_last)
    with torch.autocast(inp.device.type, dtype=torch.bfloat16, enabled=cuda and cfg.bf16):
        out = fwd(inp)
    loss = (loss_of or loss_fn)(out, target, cfg.loss)
    opt.zero_grad(set_to_none=True)
    loss.backward()  # under DDP, the gradients are all-reduced (averaged) here
    opt.step()
    if isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR):
        sched.step()
    return loss


def train(
    model: nn.Module,
    task: Any,
    train_x: torch.Tensor,
    val_x: torch.Tensor,
    cfg: TrainConfig,
    *,
    train_ids: torch.Tensor | None = None,
    val_ids: torch.Tensor | None = None,
    val_mask_ids: torch.Tensor | None = None,
    checkpoint: str | Path | None = None,
    run_config: dict | None = None,
    progress: bool = False,
    supervision: Any = None,
) -> TrainResult:
    """Train ``model`` to reconstruct images from ``task``-corrupted versions.

    Args:
        model: maps (B, C_in, H, W) network inputs to (B, C_out, H, W) reconstructions.
        task: has ``corrupt(x, *, generator, example_ids) -> (input, target)``.
        train_x: (N, C, H, W) clean training images (float32, CPU).
        val_x: (N_val, C, H, W) clean validation images; their noise is fixed (seeded).
        cfg: optimisation settings.
        train_ids: (N,) mask identities of the training examples (MRI: one fixed mask per id).
        val_ids: (N_val,) validation identities (seed their fixed noise); ``val_mask_ids`` their
            mask identities when they differ (fastMRI: the volume).
        checkpoint: file to write every evaluation and to resume from if it exists.
        run_config: the run's full config, stored in (and checked against) the checkpoint.
        progress: tqdm bar over steps.
        supervision: an :class:`empirical.targets.Supervision` for targets other than the clean
            image with fresh input noise (noisy or split targets, fixed training noise): it
            supplies each batch's input and target and the loss; None is clean supervision.

    Returns:
        :class:`TrainResult` with the best weights (by validation PSNR — SSIM for the SSIM loss — or MSE when not clamped).
    """
    t0 = time.perf_counter()
    device = pick_device(cfg.device)
    cuda = device.type == "cuda"
    model = model.to(device)
    if cuda and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    fwd = torch.compile(model) if cfg.compile else model
    n_train = train_x.shape[0]
    steps = budget_steps(n_train, cfg)
    opt, sched = make_optimizer(model, cfg, steps, device)
    # Batches and training noise (resampled every step) come from one generator on the training
    # device: on CUDA the draws never touch the host (a CUDA run's noise stream is the GPU's,
    # distributed as the CPU's but not equal to it).
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    # Small training sets live on the GPU with their MRI masks (a (N, W) table), so a step does
    # no host transfer and no host sync; larger ones are gathered on the host and copied per step.
    resident = cuda and train_x.numel() * train_x.element_size() <= RESIDENT_MAX_BYTES
    data = train_x.to(device) if resident else train_x
    mask_table = None
    if resident and task.name == "mri":
        mask_table = task.column_masks(tuple(train_x.shape[-2:]), train_ids, batch_size=n_train, device=device)
    cfg_dict = checkpoint_identity(cfg, run_config)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    run, ck = resume(ckpt, cfg_dict, model, opt, sched)
    if ck:
        gen.set_state(ck["rng"])

    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=steps, initial=run.step, desc="train", unit="step", leave=False)
    status, reason = "done", ""
    model.train()
    try:
        while run.step < steps and not run.stopped:
            idx = torch.randint(n_train, (min(cfg.batch_size, n_train),), generator=gen, device=device)
            if supervision is not None:
                inp, target = supervision.batch(idx, gen, lambda xb: task.corrupt(xb, generator=gen)[0])
            elif mask_table is not None:
                inp, target = task.corrupt(data[idx], generator=gen, column_masks=mask_table[idx])
            elif resident:  # mask ids matter for MRI only
                inp, target = task.corrupt(data[idx], generator=gen)
            else:
                host_idx = idx.to(data.device)  # a no-op unless a large set stays on the host
                inp, target = task.corrupt(data[host_idx].to(device, non_blocking=True), generator=gen,
                                           example_ids=None if train_ids is None else train_ids[host_idx])
            loss = optimizer_step(fwd, opt, sched, inp, target, cfg, cuda,
                                  loss_of=None if supervision is None else supervision.loss)
            run.step += 1
            if bar is not None:
                bar.update(1)
            if run.step % cfg.eval_every and run.step != steps:
                continue
            # -- evaluation, selection, schedule, checkpoint (one host sync per evaluation)
            train_loss = float(loss.detach())
            val = evaluate(model, task, val_x, seed=cfg.seed + VAL_NOISE_SEED, ids=val_ids, mask_ids=val_mask_ids,
                           batch=cfg.eval_batch, clamp=cfg.clamp, autocast=cuda and cfg.bf16)
            reason = record_evaluation(run, val, train_loss, cfg, model, opt, sched)
            if reason:
                status = "failed"
                break
            if ckpt is not None:
                save_checkpoint(checkpoint_state(cfg_dict, model, opt, sched, run, attempt_s=time.perf_counter() - t0,
                                                 rng=gen.get_state()), ckpt)
    finally:
        if bar is not None:
            bar.close()
    return run.result(status, reason, wall_s=time.perf_counter() - t0, device=str(device))
