"""reconscale.empirical — train reconstruction networks across N and width (torch).

Tasks (denoising, accelerated MRI, super-resolution) whose operators are built from the
``theory`` operator specs; offline data sources (the theory's subspace model, dead leaves,
phantoms, bundled photographs, any image folder) with nested training sets; U-Net, a compact
SwinIR and the theory's twin ``LinearNet``; one plain training function with atomic, resumable
checkpoints; sweeps from flat TOML configs into a SQLite ledger, run locally, in processes, on
Ray or on SLURM (submitit); data-parallel training of one large run with torchrun (``empirical.ddp``).
"""

from .data import Source, Split, make_source
from .ddp import train_ddp
from .executors import ExecutorConfig
from .ledger import Ledger
from .metrics import conventions, nmse, psnr, ssim
from .models import LinearNet, SwinIRLite, UNet, build_model, param_count
from .sweep import expand, load_config, run_one, run_sweep
from .tasks import Task, TorchOperator, make_task
from .train import CheckpointError, TrainConfig, TrainResult, budget_steps

# `train` and `evaluate` stay in their modules (empirical.train.train, empirical.metrics.evaluate):
# re-exporting them would shadow the `empirical.train` submodule and conflate two `evaluate`s.

__all__ = [
    "CheckpointError",
    "ExecutorConfig",
    "Ledger",
    "LinearNet",
    "Source",
    "Split",
    "SwinIRLite",
    "Task",
    "TorchOperator",
    "TrainConfig",
    "TrainResult",
    "UNet",
    "budget_steps",
    "build_model",
    "conventions",
    "expand",
    "load_config",
    "make_source",
    "make_task",
    "nmse",
    "param_count",
    "psnr",
    "run_one",
    "run_sweep",
    "ssim",
    "train_ddp",
]
