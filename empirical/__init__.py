"""reconscale.empirical — train reconstruction networks across N and width (torch).

Tasks (denoising, accelerated MRI, super-resolution) whose operators are built from the
``theory`` operator specs; offline data sources (the theory's subspace model, dead leaves,
phantoms, bundled photographs, any image folder, fastMRI files) with nested training sets; U-Net, a
compact SwinIR and the theory's twin ``LinearNet``; one plain training function with atomic,
resumable checkpoints; sweeps from flat TOML configs into a SQLite ledger, run locally, in
processes, on Ray or on SLURM (submitit); data-parallel training of one large run with torchrun
(``empirical.ddp``).

The sweep path, one module per step: :mod:`~empirical.config` (TOML → runs) →
:mod:`~empirical.plan` (validation) → :mod:`~empirical.sweep` (the driver) →
:mod:`~empirical.executors` → :mod:`~empirical.run` (one run) → :mod:`~empirical.ledger`.

Names are imported on first use, so ``import empirical.ledger`` or ``empirical.config`` (what
``bridge`` reads) loads no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> submodule that defines it. `train` and `evaluate` stay in their modules
# (empirical.train.train, empirical.metrics.evaluate): re-exporting them would shadow the
# `empirical.train` submodule and conflate two `evaluate`s.
_EXPORTS = {
    "RunConfig": "config", "load_config": "config", "expand": "config",
    "RunPlan": "plan", "plan": "plan", "validate": "plan", "load_data": "plan",
    "run_sweep": "sweep", "SweepSummary": "sweep",
    "ExecutorConfig": "executors",
    "run_one": "run",
    "Ledger": "ledger", "Row": "ledger",
    "Source": "data", "Split": "data", "make_source": "data",
    "conventions": "metrics", "nmse": "metrics", "psnr": "metrics", "ssim": "metrics",
    "LinearNet": "models", "SwinIRLite": "models", "UNet": "models", "build_model": "models", "param_count": "models",
    "Task": "tasks", "TorchOperator": "operators", "make_task": "tasks",
    "CheckpointError": "train", "TrainConfig": "train", "TrainResult": "train", "budget_steps": "train",
    "DataParallel": "train",
    "Supervision": "targets", "Target": "targets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'empirical' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
