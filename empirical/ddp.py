"""Data-parallel training of one large run: the ``torchrun`` entry point.

For the paper's large points (N up to 10⁵ images, U-Nets up to ~500M parameters) one run is spread
over P processes (GPUs, or CPU processes with the gloo backend)::

    torchrun --standalone --nproc_per_node 8 -m empirical.ddp paper-denoise --out sweeps/big \\
        --set N=100000 --set width=256

The config must expand to exactly one run, of any training target (clean, noisy, noisy-resampled,
split; fresh or fixed training noise). This module only parses the command, initialises and tears
down the process group, and calls the one training loop, :func:`empirical.train.train` with
``parallel=DataParallel.current()`` (its module doc says how batches are shared out, and why the
number of processes P does not change the trajectory). The run lands in the same layout and ledger
as ``reconscale sweep`` (``OUT/ledger.sqlite``, ``OUT/runs/<run id>/``), written by rank 0 only, so
``reconscale results OUT`` and the bridge read it like any sweep. Re-running the command resumes
from the rank-0 checkpoint (on any P that divides ``batch_size``); a finished run is not trained
again.

A DDP run uses the data-parallel sampler (epochs without replacement, noise fixed per (epoch,
example)), not the sweep's (uniform draws, one noise stream): it is compared with
``--nproc_per_node 1`` of the same command, not with a sweep run of the same config.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.distributed as dist

from theory.infra.command import Parser, UsageError, run_command

from .cli import config_arguments, load_runs
from .ledger import DriverLock, Ledger, Row
from .plan import RunPlan, load_data, validate
from .rows import finish_row, write_result
from .run import supervision
from .sweep import check_out_dir
from .train import DataParallel, train

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``torchrun [--nproc_per_node P] -m empirical.ddp CONFIG --out DIR [--set key=value ...]``."""
    prog = "python -m empirical.ddp"
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    p = Parser(prog=prog, description="Train one run data-parallel (launch with torchrun).")
    config_arguments(p, config_help="a TOML file or a shipped config name; must expand to exactly one run",
                     out_help="sweep directory (ledger.sqlite and runs/ are written by rank 0)", out_required=True)

    def check() -> tuple[argparse.Namespace, RunPlan, Path]:  # every rank validates; only rank 0 speaks
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        runs = load_runs(a)
        if len(runs) != 1:
            raise UsageError(f"the config expands to {len(runs)} runs; a DDP run trains one: make every axis a "
                             "single value with --set (e.g. --set N=100000 --set width=256)")
        (plan,) = validate(runs)
        run = plan.config
        if run.arch == "linear-exact":
            raise UsageError("arch='linear-exact' is a closed form, not a network: run it with reconscale sweep")
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
        try:
            sup = supervision(plan, data)
        except ValueError as e:  # a split leaving Λ or Γ empty: the same on every rank, a failed row
            row = Row.failed(str(e))
        else:
            res = train(model, sup, data.val_x, plan.train, val_ids=data.val_ids, val_mask_ids=data.val_mask_ids,
                        checkpoint=run_dir / "ckpt.pt", run_config=run.identity(), progress=not a.quiet,
                        parallel=DataParallel.current())
            row = finish_row(plan, data, model, res) if rank == 0 else None
        if rank == 0:
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


def _quiet(body: Callable[[], object]) -> int:
    """A non-zero rank's validation: the same checks as rank 0, whose message the user sees."""
    try:
        body()
        return 0
    except Exception:  # rank 0 reports the problem in one line
        return 2


if __name__ == "__main__":
    sys.exit(main())
