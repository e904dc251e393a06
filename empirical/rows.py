"""A run's ledger row: its test metrics next to its input's, a warning when it learned nothing, and
``result.json``.

Every kind of run ends here — a trained network (:func:`finish_row`, from :func:`empirical.run.run_one`
and :mod:`empirical.ddp`) and ``arch = "linear-exact"`` (:func:`empirical.linear.run_linear_exact`) —
so their rows are scored and written alike: test metrics on fixed noise seeded by
``seed + TEST_NOISE_SEED`` (validation: ``VAL_NOISE_SEED``, :mod:`empirical.seeds`), the input's own
metrics on the same images (:func:`input_metrics`), the package versions, and the row with the run's
identity in ``RUN_DIR/result.json`` (:func:`write_result`), so a finished run survives a driver that
dies before recording it (:func:`finished_result` adopts it).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch
from torch import nn

from theory.infra.io import atomic_write

from .config import RunConfig
from .ledger import Row
from .metrics import conventions
from .models import param_count
from .plan import RunData, RunPlan
from .seeds import TEST_NOISE_SEED, VAL_NOISE_SEED
from .tasks import Task
from .train import TrainConfig, TrainResult, evaluate, selection_metric

__all__ = ["finish_row", "test_metrics", "input_metrics", "nonsense_warning", "versions", "write_result", "finished_result"]


def versions() -> dict:
    """The versions a row was computed with (python, torch, numpy)."""
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}


def finish_row(p: RunPlan, data: RunData, model: nn.Module, res: TrainResult) -> Row:
    """The ledger row of a trained run: when done, the best weights' test metrics next to the input's
    own, and a warning when the network ended worse than its input (``model`` keeps the best weights)."""
    row = Row(status=res.status, reason=res.reason, params=param_count(model), best_step=res.best_step,
              steps=res.steps, wall_s=res.wall_s, device=res.device, versions=versions())
    if res.status != "done":
        return row
    model.load_state_dict(res.best_state)
    seed, clamp, batch = p.config.seed, p.clamp, p.train.eval_batch
    val_kw = {"seed": seed + VAL_NOISE_SEED, "ids": data.val_ids, "mask_ids": data.val_mask_ids, "clamp": clamp}
    val_input = input_metrics(p.task, data.val_x, batch=batch, **val_kw)
    test, test_input, per_image = test_metrics(model, p, data)
    row.metrics = {"val": res.best_val, "val_input": val_input, "test": test, "test_input": test_input,
                   "test_per_image": per_image, "history": res.history,
                   "conventions": {**conventions(p.task), **p.target.describe(p.task.sigma),
                                   "test_draws": p.config.test_draws}}
    row.warning = nonsense_warning(res.best_val, val_input, p.train)
    return row


def test_metrics(model: nn.Module, p: RunPlan, data: RunData) -> tuple[dict, dict, dict[str, list[float]]]:
    """A model's test metrics, its input's, and each test image's MSE and PSNR: the one test protocol.

    Every test image is corrupted ``test_draws`` times (fixed noise, draw j seeded by
    ``seed + TEST_NOISE_SEED + j·TEST_DRAW_STRIDE``, :mod:`empirical.seeds`); the metrics average over
    images and draws, and the per-image MSE and PSNR over the draws (what a paired bootstrap over
    test images resamples: :mod:`bridge.paired`).

    Returns:
        ``(test, test_input, per_image)``: the two metric dicts of :func:`empirical.train.evaluate`
        and ``{"mse": n_test floats, "psnr": n_test floats}`` (``psnr`` only where the task's
        metrics apply); the means of the lists are ``test["mse"]`` and ``test["psnr"]``.
    """
    kw = {"seed": p.config.seed + TEST_NOISE_SEED, "ids": data.test_ids, "mask_ids": data.test_mask_ids,
          "clamp": p.clamp, "batch": p.train.eval_batch, "draws": p.config.test_draws}
    test = evaluate(model, p.task, data.test_x, per_image=True, **kw)
    per_image = {k: [float(v) for v in test.pop(f"per_image_{k}")] for k in ("mse", "psnr") if f"per_image_{k}" in test}
    return test, evaluate(_Input(), p.task, data.test_x, **kw), per_image


def nonsense_warning(best_val: dict, val_input: dict, cfg: TrainConfig) -> str:
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


class _Input(nn.Module):
    """The identity "reconstruction": the network input itself (magnitude for 2-channel MRI input)."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z if z.shape[1] != 2 else torch.sqrt(z[:, :1] ** 2 + z[:, 1:] ** 2)


def input_metrics(task: Task, x: torch.Tensor, *, seed: int, ids: torch.Tensor, mask_ids: torch.Tensor | None = None,
                  clamp: bool, batch: int = 32) -> dict:
    """Metrics of the network input itself (noisy / zero-filled / upsampled image) on ``x`` (B, C, H, W)."""
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
