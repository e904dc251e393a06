"""Data-parallel training of one large run: ``torchrun``, DistributedDataParallel, DistributedSampler.

For the paper's large points (N up to 10⁵ images, U-Nets up to ~500M parameters) one run is spread
over P processes (GPUs, or CPU processes with the gloo backend)::

    torchrun --standalone --nproc_per_node 8 -m empirical.ddp paper-denoise --out sweeps/big \\
        --set N=100000 --set width=256

The config must expand to exactly one run. The run lands in the same layout and ledger as
``reconscale sweep`` (``OUT/ledger.sqlite``, ``OUT/runs/<run id>/``), written by rank 0 only, so
``reconscale results OUT`` and the bridge read it like any sweep. Re-running the command resumes
from the rank-0 checkpoint; a finished run is not trained again.

Sampling, and why P does not change the trajectory. Every step consumes one global batch of
``batch_size`` examples: epoch e is the :class:`~torch.utils.data.DistributedSampler` permutation
of the N examples (seed ``cfg.seed``, reshuffled per epoch), each process takes ``batch_size / P``
of its share per step, and the P local batches of step t are exactly the examples of the
single-process batch t (positions ``[t·B, (t+1)·B)`` of the permutation; the last ``N mod B``
examples of an epoch are skipped, as by ``drop_last``). An example's training noise (and MRI mask)
is fixed per (epoch, example) through :meth:`empirical.tasks.Task.corrupt_fixed`, not drawn from a
per-process stream, and DDP averages the P local mean-loss gradients, which is the gradient of the
global batch mean. So a run on P processes follows the one-process run up to floating-point
reduction order, and a checkpoint resumes on any P that divides ``batch_size``. Validation is
sharded over the processes and all-reduced, so every process takes the same selection and
learning-rate decisions.

This differs from :func:`empirical.train.train` only in the sampler (epochs without replacement
instead of uniform draws with replacement) and in the noise stream; a DDP run is compared with
``--nproc_per_node 1`` of the same command, not with a sweep run of the same config.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler

from .train import (VAL_NOISE_SEED, TrainConfig, TrainResult, budget_steps, checkpoint_identity, checkpoint_state,
                    evaluate, make_optimizer, optimizer_step, pick_device, record_evaluation, resume, save_checkpoint)

__all__ = ["train_ddp", "epoch_batches", "main"]

_METRICS = ("mse", "psnr", "ssim", "nmse")


def _context() -> tuple[int, int, int]:
    """(rank, world size, local rank): from the process group when one is initialised, else (0, 1, 0)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return 0, 1, 0


def epoch_batches(N: int, *, batch_size: int, world: int, rank: int, seed: int, epoch: int) -> torch.Tensor:
    """This process's local batches of one epoch.

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


def _noise_seed(seed: int, epoch: int) -> int:
    # ≥ 2³², so never equal to a validation (seed + 10 000) or test (seed + 20 000) noise seed.
    return ((seed + 1) << 32) + epoch


def _evaluate_sharded(model: nn.Module, task: Any, images: torch.Tensor, *, ids: torch.Tensor | None,
                      mask_ids: torch.Tensor | None, rank: int, world: int, **kw: Any) -> dict:
    """:func:`empirical.train.evaluate` over ``images[rank::world]``, all-reduced into the full-set means."""
    n_all = images.shape[0]
    ids = torch.arange(n_all) if ids is None else ids
    mask_ids = ids if mask_ids is None else mask_ids
    part = slice(rank, None, world)
    n = images[part].shape[0]
    local = evaluate(model, task, images[part], ids=ids[part], mask_ids=mask_ids[part], **kw) if n else {}
    device = next(model.parameters()).device
    sums = torch.tensor([local.get(k, 0.0) * n for k in _METRICS], dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(sums)
    return {k: float(v) / n_all for k, v in zip(_METRICS, sums.tolist())}


def train_ddp(
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
) -> TrainResult:
    """Train ``model`` data-parallel over the initialised process group (or alone, without one).

    Every process calls this with the same arguments (the same full ``train_x``: each indexes its
    own share). Rank 0 writes the checkpoint; every rank resumes from it.

    Args:
        model: maps (B, C_in, H, W) inputs to (B, C_out, H, W); identical initial weights on every
            rank (DDP also broadcasts rank 0's).
        task: has ``corrupt_fixed(x, *, seed, noise_ids, example_ids)`` (:class:`empirical.tasks.Task`).
        train_x: (N, C, H, W) clean training images (CPU), N ≥ ``cfg.batch_size``.
        val_x: (N_val, C, H, W) clean validation images (fixed, seeded noise).
        cfg: optimisation settings; ``cfg.batch_size`` is the global batch, a multiple of the
            number of processes.
        train_ids, val_ids, val_mask_ids, checkpoint, run_config, progress: as :func:`empirical.train.train`.

    Returns:
        :class:`~empirical.train.TrainResult`, the same on every rank.

    Raises:
        ValueError: ``batch_size`` not divisible by the number of processes, or N < batch_size.
    """
    t0 = time.perf_counter()
    rank, world, local_rank = _context()
    N = train_x.shape[0]
    if cfg.batch_size % world:
        raise ValueError(f"batch_size={cfg.batch_size} is not divisible by the {world} processes; "
                         f"use a multiple of {world} (the global batch is split evenly)")
    if N < cfg.batch_size:
        raise ValueError(f"N={N} is smaller than batch_size={cfg.batch_size}; lower batch_size for DDP runs")
    device = pick_device(cfg.device)
    cuda = device.type == "cuda"
    if cuda:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    model = model.to(device)
    if cuda and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if cuda else None) if world > 1 else model
    fwd = torch.compile(net) if cfg.compile else net
    steps, per_epoch = budget_steps(N, cfg), N // cfg.batch_size
    opt, sched = make_optimizer(model, cfg, steps, device)
    # "sampler" keeps a train() checkpoint (uniform draws with replacement) from being resumed here.
    cfg_dict = checkpoint_identity(cfg, run_config, sampler="ddp-epochs")
    eval_kw = {"seed": cfg.seed + VAL_NOISE_SEED, "ids": val_ids, "mask_ids": val_mask_ids, "batch": cfg.eval_batch,
               "clamp": cfg.clamp, "autocast": cuda and cfg.bf16, "rank": rank, "world": world}

    ckpt = Path(checkpoint) if checkpoint is not None else None
    run, _ = resume(ckpt, cfg_dict, model, opt, sched)

    bar = None
    if progress and rank == 0:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=steps, initial=run.step, desc=f"train ×{world}", unit="step", leave=False)
    status, reason, batches, batches_epoch = "done", "", None, -1
    model.train()
    try:
        while run.step < steps and not run.stopped:
            epoch, t = divmod(run.step, per_epoch)
            if epoch != batches_epoch:
                batches = epoch_batches(N, batch_size=cfg.batch_size, world=world, rank=rank, seed=cfg.seed,
                                        epoch=epoch)
                batches_epoch = epoch
            idx = batches[t]
            inp, target = task.corrupt_fixed(train_x[idx], seed=_noise_seed(cfg.seed, epoch), noise_ids=idx,
                                             example_ids=None if train_ids is None else train_ids[idx])
            inp, target = inp.to(device, non_blocking=True), target.to(device, non_blocking=True)
            loss = optimizer_step(fwd, opt, sched, inp, target, cfg, cuda)  # DDP averages the gradients
            run.step += 1
            if bar is not None:
                bar.update(1)
            if run.step % cfg.eval_every and run.step != steps:
                continue
            # -- evaluation (sharded), selection, schedule, rank-0 checkpoint
            train_loss = loss.detach().double()
            if world > 1:
                dist.all_reduce(train_loss)
            train_loss = float(train_loss) / world  # the global batch's mean loss
            val = _evaluate_sharded(model, task, val_x, **eval_kw)
            reason = record_evaluation(run, val, train_loss, cfg, model, opt, sched)  # identical on every rank
            if reason:
                status = "failed"
                break
            if ckpt is not None and rank == 0:
                save_checkpoint(checkpoint_state(cfg_dict, model, opt, sched, run, attempt_s=time.perf_counter() - t0),
                                ckpt)
            if world > 1:
                dist.barrier()  # nobody runs ahead of a checkpoint that is still being written
    finally:
        if bar is not None:
            bar.close()
    backend = dist.get_backend() if world > 1 else "none"
    return run.result(status, reason, wall_s=time.perf_counter() - t0, device=f"{device} ×{world} (DDP, {backend})")


def main(argv: Sequence[str] | None = None) -> int:
    """``torchrun [--nproc_per_node P] -m empirical.ddp CONFIG --out DIR [--set key=value ...]``."""
    from theory.command import Parser, UsageError, run_command  # noqa: PLC0415

    from .cli import config_arguments, load_runs  # noqa: PLC0415
    from .ledger import DriverLock, Ledger  # noqa: PLC0415
    from .plan import load_data, validate  # noqa: PLC0415
    from .run import finish_row, write_result  # noqa: PLC0415
    from .sweep import check_out_dir  # noqa: PLC0415

    prog = "python -m empirical.ddp"
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    p = Parser(prog=prog, description="Train one run data-parallel (launch with torchrun).")
    config_arguments(p, config_help="a TOML file or a shipped config name; must expand to exactly one run",
                     out_help="sweep directory (ledger.sqlite and runs/ are written by rank 0)", out_required=True)

    def check() -> Any:  # every rank validates; only rank 0 speaks
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        runs = load_runs(a)
        if len(runs) != 1:
            raise UsageError(f"the config expands to {len(runs)} runs; a DDP run trains one: make every axis a "
                             "single value with --set (e.g. --set N=100000 --set width=256)")
        (plan,) = validate(runs)
        run = plan.config
        if run.arch == "linear-exact":
            raise UsageError("arch='linear-exact' is a closed form, not a network: run it with reconscale sweep")
        if run.target != "clean" or run.train_noise != "fresh":
            raise UsageError(f"target={run.target!r} with train_noise={run.train_noise!r}: DDP trains clean targets "
                             "with fresh noise only; run self-supervised targets with reconscale sweep")
        if run.batch_size % world:
            raise UsageError(f"batch_size={run.batch_size} is not divisible by the {world} processes; "
                             "set a multiple with --set batch_size=…")
        if run.N < run.batch_size:
            raise UsageError(f"N={run.N} is smaller than batch_size={run.batch_size}")
        return a, plan, check_out_dir(a.out)

    got: list = []
    code = run_command(prog, lambda: got.append(check()) or 0) if rank == 0 else _quiet(lambda: got.append(check()))
    if code or not got:
        return code or 2
    a, plan, out = got[0]
    run = plan.config
    if world > 1:
        gpu = torch.cuda.is_available() and run.device != "cpu"
        dist.init_process_group(backend="nccl" if gpu else "gloo")
    lock = DriverLock(out)
    try:
        rid, run_dir, done = run.id, out / "runs" / run.id, [False]
        if rank == 0:
            lock.acquire()
            with Ledger(out / "ledger.sqlite") as led:
                led.add(run.name, rid, run.to_dict())
                done[0] = led.get(rid)["status"] == "done"
                if not done[0]:
                    led.start(rid)
            run_dir.mkdir(parents=True, exist_ok=True)
        if world > 1:
            dist.broadcast_object_list(done, src=0)
        if done[0]:
            if rank == 0:
                print(f"run {rid} is already done in {out / 'ledger.sqlite'}", file=sys.stderr)
            return 0
        data = load_data(plan)
        model = plan.model.build(run.seed)
        res = train_ddp(model, plan.task, data.train_x, data.val_x, plan.train, train_ids=data.train_mask_ids,
                        val_ids=data.val_ids, val_mask_ids=data.val_mask_ids, checkpoint=run_dir / "ckpt.pt",
                        run_config=run.identity(), progress=not a.quiet)
        if rank == 0:
            row = finish_row(plan, data, model, res)
            write_result(run_dir, run, row)
            with Ledger(out / "ledger.sqlite") as led:
                led.finish(rid, row)
            print(f"ledger: {out / 'ledger.sqlite'} (run {rid}: {row.status})", file=sys.stderr)
        return 0
    except KeyboardInterrupt:
        if rank == 0:
            print(f"{prog}: interrupted; re-run the same command to resume from the checkpoint", file=sys.stderr)
        return 130
    finally:
        lock.release()
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _quiet(body: Any) -> int:
    """A non-zero rank's validation: the same checks as rank 0, whose message the user sees."""
    try:
        body()
        return 0
    except Exception:  # rank 0 reports the problem in one line
        return 2


if __name__ == "__main__":
    sys.exit(main())
