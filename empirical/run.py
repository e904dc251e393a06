"""One run: plan → images → model → :func:`empirical.train.train` → test metrics → a ledger :class:`Row`.

The fourth step of the sweep path (config → runs → executor → one run → ledger). :func:`run_one` is
what every executor calls in its worker, and what :mod:`empirical.ddp` mirrors for a
data-parallel run. It never raises for a training failure (a non-finite loss is a ``failed`` row),
and a corrupt checkpoint is moved aside and reported as a ``failed`` row: a re-run with
``--retry-failed`` trains that run from scratch. Storage errors (disk full, read-only) do raise:
the driver stops the sweep cleanly on them.

Runs of ``arch = "linear-exact"`` are no training: :func:`run_one` hands them to
:func:`empirical.linear.run_linear_exact` (the learned linear estimator in closed form, scored by the
same :func:`~empirical.train.evaluate` path and written as the same kind of row).

Every finished row is also written, with the run's identity, to ``RUN_DIR/result.json``, so a
finished run survives a driver that dies before recording it.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from theory.io import atomic_write

from .config import RunConfig
from .ledger import Row
from .plan import RunData, RunPlan, load_data, plan
from .train import (TEST_NOISE_SEED, VAL_NOISE_SEED, CheckpointError, TrainResult, evaluate, selection_metric,
                    train)

__all__ = ["run_one", "finish_row", "input_metrics", "write_result", "finished_result", "nonsense_warning"]


def _versions() -> dict:
    import numpy  # noqa: PLC0415

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}


def run_one(run: RunConfig, run_dir: str | Path, *, progress: bool = False) -> Row:
    """Train and evaluate one run in ``run_dir`` (checkpoint, ``result.json``); returns its row.

    Args:
        run: the run's settings (already validated by :func:`empirical.plan.validate`).
        run_dir: the run's directory; ``ckpt.pt`` there is resumed from.
        progress: a tqdm bar over training steps.

    Raises:
        OSError: the run directory cannot be written (disk full, read-only): the sweep must stop.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    p = plan(run)
    data = load_data(p)
    if run.arch == "linear-exact":  # closed form, no torch training (writes result.json itself)
        from .linear import run_linear_exact  # noqa: PLC0415

        return run_linear_exact(p, data, run_dir)
    model = p.model.build(run.seed)
    ckpt = run_dir / "ckpt.pt"
    try:
        supervision = _supervision(p, data)
    except ValueError as e:  # e.g. an example whose split leaves Λ or Γ empty: this run fails, the sweep goes on
        row = Row.failed(str(e))
        write_result(run_dir, run, row)
        return row
    try:
        res = train(model, p.task, data.train_x, data.val_x, p.train, train_ids=data.train_mask_ids,
                    val_ids=data.val_ids, val_mask_ids=data.val_mask_ids, checkpoint=ckpt,
                    run_config=run.identity(), progress=progress, supervision=supervision)
    except CheckpointError as e:
        aside = ckpt.with_name(f"ckpt.pt.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        ckpt.replace(aside)
        row = Row.failed(f"CheckpointError: {str(e).split(';')[0]}; moved to {aside.name}; "
                         "re-run with --retry-failed to train from scratch")
        write_result(run_dir, run, row)
        return row
    row = finish_row(p, data, model, res, progress=progress)
    write_result(run_dir, run, row)
    return row


def _supervision(p: RunPlan, data: RunData) -> Any:
    """The run's :class:`empirical.targets.Supervision`, or None for clean targets with fresh noise."""
    if p.target.kind == "clean" and p.target.train_noise == "fresh":
        return None
    from .targets import Supervision  # noqa: PLC0415
    from .train import pick_device  # noqa: PLC0415

    return Supervision.build(p.task, p.target, data.train_x, ids=data.train_ids, mask_ids=data.train_mask_ids,
                             seed=p.config.seed, device=pick_device(p.train.device))


def finish_row(p: RunPlan, data: RunData, model: nn.Module, res: TrainResult, *, progress: bool = False,
               extra_device: str | None = None) -> Row:
    """The ledger row of a trained run: when done, the best weights' test metrics next to the input's
    own, and a warning when the network ended worse than its input (``model`` keeps the best weights)."""
    from .models import param_count  # noqa: PLC0415

    params = param_count(model)
    row = Row(status=res.status, reason=res.reason, params=params, best_step=res.best_step, steps=res.steps,
              wall_s=res.wall_s, device=extra_device or res.device, versions=_versions())
    if res.status != "done":
        return row
    from .metrics import conventions  # noqa: PLC0415

    model.load_state_dict(res.best_state)
    seed, clamp, batch = p.config.seed, p.clamp, p.train.eval_batch
    test_kw = {"seed": seed + TEST_NOISE_SEED, "ids": data.test_ids, "mask_ids": data.test_mask_ids, "clamp": clamp}
    val_kw = {"seed": seed + VAL_NOISE_SEED, "ids": data.val_ids, "mask_ids": data.val_mask_ids, "clamp": clamp}
    val_input = input_metrics(p.task, data.val_x, batch=batch, **val_kw)
    row.metrics = {"val": res.best_val, "val_input": val_input,
                   "test": evaluate(model, p.task, data.test_x, batch=batch, **test_kw),
                   "test_input": input_metrics(p.task, data.test_x, batch=batch, **test_kw),
                   "history": res.history,
                   "conventions": {**conventions(p.task), **p.target.describe(p.task.sigma)}}
    row.warning = nonsense_warning(res.best_val, val_input, p.train)
    return row


def nonsense_warning(best_val: dict, val_input: dict, cfg: Any) -> str:
    """A warning when the selected network scores worse on validation than its own input.

    A reconstruction network that cannot beat "return the input" has diverged or not trained
    (too high a learning rate, too few steps); its numbers should not enter a scaling law silently.
    """
    key, sign = selection_metric(cfg)
    got, base = best_val.get(key), val_input.get(key)
    if got is None or base is None or not sign * got < sign * base:
        return ""
    unit = " dB" if key == "psnr" else ""
    return (f"best validation {key} {got:.4g}{unit} is worse than the input's {base:.4g}{unit}: the network did not "
            f"learn (check lr={cfg.lr:g} and the step budget)")


def input_metrics(task: Any, x: torch.Tensor, *, seed: int, ids: torch.Tensor, mask_ids: torch.Tensor | None = None,
                  clamp: bool, batch: int = 32) -> dict:
    """Metrics of the network input itself (noisy / zero-filled / upsampled image) on ``x``."""

    class _Input(nn.Module):  # the identity "reconstruction" (magnitude for 2-channel MRI input)
        def __init__(self) -> None:
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return z if z.shape[1] != 2 else torch.sqrt(z[:, :1] ** 2 + z[:, 1:] ** 2)

    return evaluate(_Input(), task, x, seed=seed, ids=ids, mask_ids=mask_ids, clamp=clamp, batch=batch)


def write_result(run_dir: Path, run: RunConfig, row: Row) -> None:
    """Atomically write ``run_dir/result.json`` ({"config": identity, "row"}): a finished run
    survives a dead driver."""
    atomic_write(run_dir / "result.json", json.dumps({"config": run.identity(), "row": row.to_dict()},
                                                      sort_keys=True))


def finished_result(run: RunConfig, run_dir: Path) -> Row | None:
    """The row in ``run_dir/result.json`` if it records a finished ("done") run of exactly ``run``."""
    try:
        saved = json.loads((run_dir / "result.json").read_text())
        same = saved["config"] == json.loads(json.dumps(run.identity()))
        row = Row.from_dict(saved["row"])
    except (OSError, ValueError, KeyError, TypeError):  # missing, truncated or foreign: train instead
        return None
    return row if same and row.status == "done" else None
