"""Sweeps: a flat TOML config → one run per combination of its list-valued keys → the ledger.

Any key may be a list, which makes it a sweep axis (N, width, seed, arch, sigma, size, accel,
scale, …), so each of the paper's ablations is one config. ``run_sweep`` registers every run as
pending, skips finished ones, resumes interrupted ones from their checkpoints, retries failed ones
on request, and writes results only from the driver (executors return rows; see
:mod:`empirical.executors` for the local, process, Ray and SLURM executors).
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .ledger import Ledger

if TYPE_CHECKING:
    from .executors import ExecutorConfig

__all__ = ["DEFAULTS", "load_config", "expand", "run_task", "run_data", "build_run", "finish_row", "run_one",
           "write_result", "run_sweep", "CONFIG_DIR", "parse_override"]

CONFIG_DIR = Path(__file__).with_name("configs")

#: Every key a sweep config may set, with its default. Lists make axes.
DEFAULTS: dict[str, Any] = {
    "name": "sweep",
    # task
    "task": "denoise", "sigma": 25 / 255, "accel": 4.0, "center_fraction": 0.08, "mask": "equispaced",
    "complex_input": False, "coils": 1, "scale": 2, "sr_kernel": "block",
    # data
    "data": "deadleaves-textured", "test_data": "", "size": 64, "channels": 1, "d": 10, "n_val": 32, "n_test": 16,
    "data_seed": 0,
    # model
    "N": 100, "arch": "unet", "width": 16, "depth": 2, "residual": True,
    # training (empirical.train.TrainConfig)
    "optimizer": "adam", "loss": "mse", "lr": 1e-3, "weight_decay": 0.0, "batch_size": 8, "epochs": 50.0, "min_steps": 300,
    "max_steps": 3000, "schedule": "plateau", "plateau_factor": 0.5, "plateau_patience": 3, "min_lr": 1e-5,
    "early_stop_patience": 8, "eval_every": 100, "eval_batch": 32, "device": "auto", "bf16": True,
    "channels_last": True, "compile": False, "seed": 0,
}


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; the value is TOML (``N=[10,100]``, ``sigma=0.1``, ``data="photos"``)
    or a bare string."""
    if "=" not in text:
        raise ValueError(f"--set {text!r}: expected key=value, e.g. --set N=[16,64]")
    key, raw = (s.strip() for s in text.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def load_config(source: str | Path, overrides: Iterable[str] = ()) -> dict:
    """Read a sweep config (a path, or the name of a shipped config like ``quick-denoise``)."""
    path = Path(source)
    if not path.exists():
        shipped = CONFIG_DIR / f"{source}.toml"
        if not shipped.exists():
            names = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.toml")))
            raise ValueError(f"config {source!r} is neither a file nor a shipped config ({names})")
        path = shipped
    try:
        cfg = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    for item in overrides:
        k, v = parse_override(item)
        cfg[k] = v
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{path.name}: unknown key(s) {', '.join(unknown)}; see empirical.sweep.DEFAULTS")
    return {**DEFAULTS, **cfg}


def expand(cfg: dict) -> list[dict]:
    """All run configs: the cartesian product of the list-valued keys (N varies fastest)."""
    axes = [k for k, v in cfg.items() if isinstance(v, list)]
    axes.sort(key=lambda k: (k == "N", k))
    for k in axes:
        if not cfg[k]:
            raise ValueError(f"sweep axis {k!r} is an empty list")
    runs = []
    for combo in itertools.product(*(cfg[k] for k in axes)):
        run = {**cfg, **dict(zip(axes, combo))}
        _validate_run(run)
        runs.append(run)
    return runs


def _validate_run(run: dict) -> None:
    for key in ("N", "width", "size", "n_val", "n_test", "depth"):
        v = run[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if key == "n_test" else 1):
            raise ValueError(f"{key}={v!r} must be a positive integer")
    if run["task"] not in ("denoise", "mri", "sr"):
        raise ValueError(f"task={run['task']!r}: use denoise, mri or sr")


def _versions() -> dict:
    import numpy  # noqa: PLC0415
    import torch  # noqa: PLC0415

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}


def run_task(run: dict) -> Any:
    """The :class:`~empirical.tasks.Task` of a flat run config."""
    from .tasks import make_task  # noqa: PLC0415

    return make_task(run["task"], sigma=run["sigma"], accel=run["accel"], center_fraction=run["center_fraction"],
                     mask=run["mask"], complex_input=run["complex_input"], scale=run["scale"],
                     sr_kernel=run["sr_kernel"], coils=run["coils"])


def run_data(run: dict, *, with_train: bool = True) -> dict:
    """Images and identities of a run, the one place they are built (runs and baselines share it).

    Returns a dict with ``task``, ``train_x``/``train_mask_ids`` (when ``with_train``), ``val_x``,
    ``val_ids``, ``val_mask_ids``, ``test_x``, ``test_ids``, ``test_mask_ids`` and ``clamp``. Images
    are (B, C, size, size) float32 tensors; ids seed each image's fixed noise; mask ids seed MRI masks
    (the example itself, or its volume for sources with volumes such as fastMRI). Validation and test
    sets do not depend on N.
    """
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    from .data import make_source  # noqa: PLC0415

    kw = {"d": run["d"]} if run["data"] == "subspace" else {}
    src = make_source(run["data"], size=run["size"], channels=run["channels"], seed=run["data_seed"], **kw)
    split = src.split(n_train=run["N"] if with_train else 0, n_val=run["n_val"],
                      n_test=0 if run["test_data"] else run["n_test"], seed=run["data_seed"])
    if run["test_data"]:
        tsrc = make_source(run["test_data"], size=run["size"], channels=run["channels"], seed=run["data_seed"])
        test_idx = tsrc.split(n_train=0, n_val=0, n_test=run["n_test"], seed=run["data_seed"]).test
    else:
        tsrc, test_idx = src, split.test

    def images(s: Any, idx: Any) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(s.batch(idx), dtype=np.float32))

    def ids(a: Any) -> torch.Tensor:
        return torch.from_numpy(np.array(a, dtype=np.int64))  # a writable copy

    def mask_ids(s: Any, idx: Any) -> torch.Tensor:
        return ids(s.volume_of(idx)) if hasattr(s, "volume_of") else ids(idx)

    out = {"task": run_task(run), "val_x": images(src, split.val), "val_ids": ids(split.val),
           "val_mask_ids": mask_ids(src, split.val), "test_x": images(tsrc, test_idx), "test_ids": ids(test_idx),
           "test_mask_ids": mask_ids(tsrc, test_idx), "clamp": run["data"] != "subspace"}
    if with_train:
        tr_idx = split.train(run["N"])
        out |= {"train_x": images(src, tr_idx), "train_mask_ids": mask_ids(src, tr_idx)}
    return out


def build_run(run: dict) -> tuple[dict, Any, Any, int]:
    """Data, freshly initialised model, training config and parameter count of one run config.

    The model's initial weights depend on ``run["seed"]`` only (torch's global RNG is forked and
    seeded around the construction, so nothing leaks into or out of it).

    Returns:
        ``(data, model, train_config, params)``: ``data`` as :func:`run_data`.
    """
    import torch  # noqa: PLC0415

    from .models import build_model, param_count  # noqa: PLC0415
    from .train import TrainConfig  # noqa: PLC0415

    d = run_data(run)
    task, C = d["task"], run["channels"]
    tcfg = TrainConfig(**{f.name: run[f.name] for f in fields(TrainConfig) if f.name in run and f.name != "clamp"},
                       clamp=d["clamp"])
    extra = {"num_pool_layers": run["depth"]} if run["arch"] == "unet" else {}
    with torch.random.fork_rng(devices=[]):  # module init draws from torch's global RNG: isolate and seed it
        torch.manual_seed(run["seed"])
        model = build_model(run["arch"], in_chans=task.in_channels(C), out_chans=task.out_channels(C),
                            width=run["width"], image_shape=(run["size"], run["size"]),
                            residual=run["residual"] and task.in_channels(C) == task.out_channels(C), **extra)
    return d, model, tcfg, param_count(model)


def finish_row(run: dict, d: dict, model: Any, res: Any, params: int, tcfg: Any) -> dict:
    """The ledger row of a trained run: status and, when done, the best weights' test metrics
    next to the input's own (``model`` is left holding the best weights)."""
    from .train import evaluate  # noqa: PLC0415

    row = {"status": res.status, "reason": res.reason, "params": params, "best_step": res.best_step,
           "steps": res.steps, "wall_s": res.wall_s, "device": res.device, "versions": _versions()}
    if res.status == "done":
        model.load_state_dict(res.best_state)
        task, clamp = d["task"], d["clamp"]
        kw = {"seed": run["seed"] + 20_000, "ids": d["test_ids"], "mask_ids": d["test_mask_ids"], "clamp": clamp}
        test = evaluate(model, task, d["test_x"], batch=tcfg.eval_batch, **kw)
        baseline = _input_metrics(task, d["test_x"], **kw)
        row["metrics"] = {"val": res.best_val, "test": test, "test_input": baseline, "history": res.history,
                          "conventions": _conventions(run, task)}
    return row


def run_one(run: dict, run_dir: str | Path, *, progress: bool = False) -> dict:
    """Train and evaluate one run; returns the ledger row (never raises for training failures).

    The row is also written atomically, with the run's config, to ``run_dir/result.json``, so a
    finished run is not lost when the driver dies before recording it (:func:`run_sweep` adopts it).
    """
    from .train import train  # noqa: PLC0415

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    d, model, tcfg, params = build_run(run)
    res = train(model, d["task"], d["train_x"], d["val_x"], tcfg, train_ids=d["train_mask_ids"], val_ids=d["val_ids"],
                val_mask_ids=d["val_mask_ids"], checkpoint=run_dir / "ckpt.pt",
                run_config=json.loads(json.dumps(run)), progress=progress)
    row = finish_row(run, d, model, res, params, tcfg)
    write_result(run_dir, run, row)
    return row


def _input_metrics(task: Any, x: Any, *, seed: int, ids: Any, mask_ids: Any = None, clamp: bool) -> dict:
    """Metrics of the network input itself (noisy / zero-filled / upsampled) on the test set."""
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    from .train import evaluate  # noqa: PLC0415

    class _Input(nn.Module):  # the identity "reconstruction" (magnitude for 2-channel MRI input)
        def __init__(self) -> None:
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return z if z.shape[1] != 2 else torch.sqrt(z[:, :1] ** 2 + z[:, 1:] ** 2)

    return evaluate(_Input(), task, x, seed=seed, ids=ids, mask_ids=mask_ids, clamp=clamp)


def _conventions(run: dict, task: Any) -> dict:
    try:
        from .metrics import conventions  # noqa: PLC0415

        return conventions(task)
    except ImportError:  # pragma: no cover
        return {}


def write_result(run_dir: Path, run: dict, row: dict) -> None:
    """Atomically write ``run_dir/result.json`` ({"config", "row"}): a finished run survives a dead driver."""
    tmp = run_dir / f".result.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"config": run, "row": row}, sort_keys=True))
    os.replace(tmp, run_dir / "result.json")


def _finished_result(run: dict, run_dir: Path) -> dict | None:
    """The row in ``run_dir/result.json`` if it is a finished ("done") run of exactly ``run``'s config."""
    try:
        saved = json.loads((run_dir / "result.json").read_text())
        row = saved["row"]
        same = saved["config"] == json.loads(json.dumps(run))
    except (OSError, ValueError, KeyError, TypeError):  # missing, truncated or foreign: train instead
        return None
    return row if same and isinstance(row, dict) and row.get("status") == "done" else None


def run_sweep(cfg: dict, out: str | Path, *, executor: str | ExecutorConfig = "local", workers: int | None = None,
              retry_failed: bool = False, progress: bool = True) -> Path:
    """Run every combination of ``cfg`` into ``out/ledger.sqlite``; resumable. Returns the ledger path.

    Args:
        cfg: a flat sweep config (:func:`load_config`).
        out: the sweep directory (ledger, ``runs/<run id>/``, and ``submitit/`` for SLURM).
        executor: "local", "process", "ray" or "slurm", or an
            :class:`~empirical.executors.ExecutorConfig` with per-run resources and cluster options.
        workers: with a kind name: processes (process) or runs in flight (ray).
        retry_failed: run failed runs again (by default they stay failed).
        progress: progress bars.

    A run whose ``result.json`` records it as done with the same config (its worker finished but
    the driver died before writing the ledger) is recorded without training again; interrupted runs
    resume from their checkpoints.
    """
    from .executors import ExecutorConfig, execute, require  # noqa: PLC0415

    if isinstance(executor, ExecutorConfig):
        if workers is not None:
            raise ValueError("pass workers inside the ExecutorConfig, not next to it")
        ecfg = executor
    else:
        ecfg = ExecutorConfig(kind=executor, workers=workers)
    require(ecfg.kind)  # a missing optional dependency fails before anything is written
    out = Path(out)
    if ecfg.kind == "slurm" and ecfg.folder is None:
        ecfg = replace(ecfg, folder=str(out / "submitit"))
    runs = expand(cfg)
    ledger = Ledger(out / "ledger.sqlite")
    try:
        pending = []
        for run in runs:
            rid = ledger.add(cfg["name"], run)
            row = ledger.get(rid)
            if row["status"] == "done" or (row["status"] == "failed" and not retry_failed):
                continue
            saved = _finished_result(run, out / "runs" / rid)
            if saved is not None:
                ledger.finish(rid, saved)
                continue
            pending.append((rid, run, out / "runs" / rid))
        bar = None
        if progress:
            from tqdm.auto import tqdm  # noqa: PLC0415

            bar = tqdm(total=len(runs), initial=len(runs) - len(pending), desc=f"sweep {cfg['name']}", unit="run")

        def on_result(rid: str, row: dict) -> None:
            ledger.finish(rid, row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"last: {row['status']}")

        try:
            execute(pending, ecfg, on_start=ledger.start, on_result=on_result,
                    progress=progress and ecfg.kind == "local")
        finally:
            if bar is not None:
                bar.close()
    finally:
        ledger.close()
    return out / "ledger.sqlite"
