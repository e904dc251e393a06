"""Classical (non-learned) reconstructions, evaluated exactly like a sweep run's network.

``evaluate_baselines(run)`` builds the run's test set and fixed test noise as
:func:`empirical.run.run_one` does (seed ``run.seed + TEST_NOISE_SEED``, noise and example ids =
the test indices) and scores each baseline with :func:`empirical.train.evaluate` — the same function,
noise and metric conventions that score the networks — so a table can put both side by side.
Baselines with a free parameter are tuned on the run's *validation* set (the training source,
fixed noise seed ``run.seed + VAL_NOISE_SEED``, ids = the validation indices), never on the test set.

Methods, per task (:data:`BASELINES`):

* denoise — ``input``: the noisy image. ``wavelet``: BayesShrink soft thresholding of a Haar
  (db1) wavelet decomposition per image and channel, as ``skimage.restoration.denoise_wavelet(img,
  sigma=σ, wavelet="db1", method="BayesShrink", mode="soft", rescale_sigma=True)`` with the
  *known* task σ (not estimated); skimage needs PyWavelets, and when that is missing an exact
  re-implementation (:func:`empirical.classical.haar_bayes_shrink`) is used instead
  (``params["implementation"]`` says which).
  ``tv``: ``skimage.restoration.denoise_tv_chambolle`` per image and channel, its weight tuned on
  validation over ``σ·TV_FACTORS``. ``bm3d``: ``bm3d.bm3d(img, sigma_psd=σ)`` per image and
  channel, only when the optional ``bm3d`` package is importable (it is not a dependency);
  otherwise the result records ``{"skipped": reason}``.
* mri — ``zero-filled``: magnitude of the zero-filled image (the magnitude network input, or
  |z| of the 2-channel complex input). ``tv-cs``: compressed sensing with a TV prior,
  ``min_x ½‖M F x − y‖² + λ TV(x)`` over *real* images x (the tasks measure F of a real,
  non-negative image), solved by FISTA with step 1 (‖M F‖ ≤ 1) from x₀ = Re z, whose prox is an
  isotropic-TV ROF denoiser (the same objective as ``denoise_tv_chambolle``; both are
  :mod:`empirical.classical`'s :func:`~empirical.classical.tv_cs` and :func:`~empirical.classical.tv_prox`);
  the output is |x|. The measurements y = M F z are recovered exactly from the complex
  zero-filled image z (F is unitary; M is the example's own column mask,
  :meth:`empirical.tasks.Task.column_masks`). For a magnitude-input task the complex z comes
  from the same fixed noise draw: the task with ``complex_input=True`` draws identical noise.
  λ and the iteration count are tuned on validation over ``TVCS_LAMBDAS × TVCS_ITERS``.
* sr — ``upsampled``: the network input itself (block-replicated or bicubic-upsampled low-res
  image, per ``sr_kernel``). ``bicubic``: ``F.interpolate(low, mode="bicubic",
  align_corners=False)`` of the low-res image, recovered from the block-replicated input by block
  averaging (exact for ``sr_kernel="block"``); with ``sr_kernel="bicubic"`` the input already is
  the bicubic upsampling and is returned unchanged.

Outputs: :func:`reconstruct` returns raw reconstructions; :func:`evaluate_baselines` clamps them
to the task's metric range where the conventions clamp (denoise, SR: [0, 1]; MRI: raw, as
fastMRI) so MSE/NMSE agree with PSNR (the sweep reports the networks' MSE unclamped; PSNR and
SSIM are computed after the same clamp for both).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from theory.infra.command import Parser, UsageError, run_command  # the CLI layer every command shares

from .classical import haar_bayes_shrink, tv_cs
from .config import DEFAULTS, RunConfig, expand, load_config
from .seeds import TEST_NOISE_SEED, VAL_NOISE_SEED

__all__ = [
    "BASELINES",
    "TUNED",
    "TVCS_ITERS",
    "TVCS_LAMBDAS",
    "TV_FACTORS",
    "BaselineUnavailable",
    "baselines_main",
    "default_params",
    "evaluate_baselines",
    "reconstruct",
    "tune_params",
    "unavailable",
]

#: Baselines per task, in table order.
BASELINES: dict[str, tuple[str, ...]] = {
    "denoise": ("input", "wavelet", "tv", "bm3d"),
    "mri": ("zero-filled", "tv-cs"),
    "sr": ("upsampled", "bicubic"),
}
#: Baselines whose parameters are tuned on the validation set, and the parameters tuned.
TUNED: dict[str, tuple[str, ...]] = {"tv": ("weight",), "tv-cs": ("lam", "n_iter")}
#: TV denoising weight grid, as multiples of the noise σ.
TV_FACTORS: tuple[float, ...] = tuple(float(v) for v in np.geomspace(0.2, 3.2, 9))
#: TV-CS regularisation weights λ (images in [0, 1], unitary F) and iteration counts.
TVCS_LAMBDAS: tuple[float, ...] = (0.0, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
TVCS_ITERS: tuple[int, ...] = (25, 50, 100)
#: Parameters used when a tunable baseline is not tuned (``tune=False``).
_DEFAULT_TV_FACTOR = 0.6
_DEFAULT_TVCS = {"lam": 3e-3, "n_iter": 100}

_COMBO_DATA_KEYS = ("data", "test_data", "size", "channels", "n_val", "n_test", "data_seed")


#: bm3d's block size: the package refuses smaller images and crashes (SIGSEGV) on exactly 8×8 ones.
_BM3D_BLOCK = 8


class BaselineUnavailable(RuntimeError):
    """A baseline whose optional package is missing."""


def unavailable(name: str) -> str | None:
    """Why baseline ``name`` cannot run here (a missing optional package), or None."""
    if name == "bm3d":
        try:
            import bm3d  # noqa: F401, PLC0415
        except ImportError:
            return "bm3d not installed: pip install bm3d"
    return None


def _check_name(name: str, task: Any) -> None:
    tname = getattr(task, "name", None)
    valid = BASELINES.get(tname, ())
    if not valid:
        raise ValueError(f"task={task!r} is not a reconstruction Task (denoise, mri or sr)")
    if name not in valid:
        raise ValueError(f"baseline {name!r} does not apply to task {tname!r}; use one of {', '.join(valid)}")


def _has_pywt() -> bool:
    try:
        import pywt  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def _wavelet_image(img: np.ndarray, sigma: float) -> np.ndarray:
    if _has_pywt():
        from skimage.restoration import denoise_wavelet  # noqa: PLC0415

        return denoise_wavelet(img, sigma=sigma, wavelet="db1", method="BayesShrink", mode="soft",
                               rescale_sigma=True)
    return haar_bayes_shrink(img, sigma)


def default_params(name: str, task: Any, *, sigma: float) -> dict:
    """The parameters a baseline uses when it is not tuned (and its fixed settings)."""
    _check_name(name, task)
    if name == "wavelet":
        return {"sigma": float(sigma), "sigma_source": "known (the task's sigma, not estimated)",
                "wavelet": "db1", "method": "BayesShrink", "mode": "soft",
                "implementation": "skimage" if _has_pywt() else "reconscale (PyWavelets not installed)"}
    if name == "tv":
        return {"weight": _DEFAULT_TV_FACTOR * float(sigma)}
    if name == "bm3d":
        return {"sigma_psd": float(sigma)}
    if name == "tv-cs":
        return {**_DEFAULT_TVCS, "domain": "real", "prox": "isotropic TV (FGP)", "x0": "Re z"}
    if name == "upsampled":
        return {"kernel": task.sr_kernel}
    if name == "bicubic":
        if task.sr_kernel == "bicubic":
            return {"note": "the input already is the bicubic upsampling (sr_kernel='bicubic'); returned unchanged"}
        return {"mode": "bicubic", "align_corners": False, "low_res": "block mean of the input"}
    return {}


def _complex_input(net_input: torch.Tensor) -> torch.Tensor:
    if net_input.shape[1] != 2:
        raise ValueError("tv-cs needs the 2-channel complex zero-filled input [Re z, Im z] (the measured k-space); "
                         "for a magnitude-input task use the same task with complex_input=True (evaluate_baselines does)")
    z64 = net_input.detach().cpu().to(torch.float64).numpy()
    return z64[:, 0] + 1j * z64[:, 1]


# --------------------------------------------------------------------------- reconstruct


def _per_channel(net_input: torch.Tensor, fn: Any) -> torch.Tensor:
    arr = net_input.detach().cpu().to(torch.float64).numpy()
    out = np.empty_like(arr)
    for b in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            out[b, c] = fn(arr[b, c])
    return torch.from_numpy(out).to(device=net_input.device, dtype=net_input.dtype)


def reconstruct(name: str, task: Any, net_input: torch.Tensor, *, sigma: float, params: dict | None = None,
                example_ids: torch.Tensor | None = None) -> torch.Tensor:
    """One classical reconstruction from the network input.

    Args:
        name: a baseline of ``BASELINES[task.name]``.
        task: the :class:`empirical.tasks.Task` that produced ``net_input``.
        net_input: (B, C_in, H, W) network input (noisy image / zero-filled image / upsampled low-res).
        sigma: the noise level σ (the task's; denoising baselines use it as known).
        params: the baseline's parameters (``tv``: weight; ``tv-cs``: lam, n_iter); None uses
            :func:`default_params`.
        example_ids: MRI ``tv-cs``: (B,) ids seeding each example's mask, as given to
            ``task.corrupt``; None means the seed-0 mask for all (as ``corrupt`` does).

    Returns:
        (B, C_out, H, W) raw (unclamped) reconstruction, dtype and device of ``net_input``.

    Raises:
        ValueError: unknown name for the task, bad input; BaselineUnavailable: bm3d missing.
    """
    _check_name(name, task)
    if not isinstance(net_input, torch.Tensor) or net_input.ndim != 4 or not net_input.is_floating_point():
        raise ValueError("net_input must be a real (B, C_in, H, W) tensor")
    p = {**default_params(name, task, sigma=sigma), **(params or {})}
    sigma = float(sigma)
    if name in ("input", "upsampled"):
        return net_input.clone()
    if name == "zero-filled":
        if net_input.shape[1] == 2:
            return torch.sqrt(net_input[:, :1] ** 2 + net_input[:, 1:] ** 2)
        return net_input.clone()
    if name == "wavelet":
        return _per_channel(net_input, lambda im: _wavelet_image(im, sigma))
    if name == "tv":
        weight = float(p["weight"])
        if weight <= 0:
            return net_input.clone()
        from skimage.restoration import denoise_tv_chambolle  # noqa: PLC0415

        return _per_channel(net_input, lambda im: denoise_tv_chambolle(im, weight=weight))
    if name == "bm3d":
        reason = unavailable("bm3d")
        if reason:
            raise BaselineUnavailable(reason)
        if min(net_input.shape[-2:]) <= _BM3D_BLOCK:
            raise ValueError(f"bm3d needs images larger than its {_BM3D_BLOCK}×{_BM3D_BLOCK} blocks; got "
                             f"{net_input.shape[-2]}×{net_input.shape[-1]}")
        if sigma <= 0:
            return net_input.clone()
        import bm3d  # noqa: PLC0415

        return _per_channel(net_input, lambda im: np.asarray(bm3d.bm3d(im, sigma_psd=sigma), dtype=np.float64))
    if name == "tv-cs":
        z = _complex_input(net_input)
        h, w = z.shape[-2:]
        masks = task.column_masks((h, w), example_ids, batch_size=z.shape[0]).numpy()
        x = tv_cs(z, masks, float(p["lam"]), n_iter=int(p["n_iter"]))
        return torch.from_numpy(np.abs(x)[:, None]).to(device=net_input.device, dtype=net_input.dtype)
    # bicubic
    if task.sr_kernel == "bicubic":
        return net_input.clone()
    b, c, h, w = net_input.shape
    s = task.scale
    low = net_input.reshape(b, c, h // s, s, w // s, s).mean(dim=(3, 5))
    return F.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)


# --------------------------------------------------------------------------- data of a run


def _run_config(run: Any) -> Any:
    """A :class:`~empirical.config.RunConfig` from one, or from a (partial) flat dict."""

    return run if isinstance(run, RunConfig) else RunConfig.from_dict({**DEFAULTS, **run})


def _eval_task(name: str, task: Any) -> Any:
    """The task whose corruption feeds the baseline: tv-cs needs the complex zero-filled input,
    which the task with complex_input=True draws from the same noise."""
    if name == "tv-cs" and not task.complex_input:
        return dataclasses.replace(task, complex_input=True)
    return task


def _clamp_range(task: Any, clamp: bool) -> tuple[float, float] | None:
    from .metrics import conventions  # noqa: PLC0415

    rng = conventions(task)["clamp"]
    return (float(rng[0]), float(rng[1])) if clamp and rng is not None else None


# --------------------------------------------------------------------------- tuning


def _score(out: torch.Tensor, target: torch.Tensor, task: Any, clamp: bool) -> float:
    """Mean validation score, higher is better: PSNR under the task's conventions (−MSE when not images)."""
    from .metrics import evaluate as task_metrics  # noqa: PLC0415

    if not clamp:
        return -float(((out.double() - target.double()) ** 2).mean())
    return float(task_metrics(out, target, task)["psnr"].mean())


def tune_params(name: str, task: Any, val_x: torch.Tensor, *, seed: int, ids: torch.Tensor,
                mask_ids: torch.Tensor | None = None, clamp: bool = True) -> dict:
    """Tune a baseline's parameters on validation images by grid search.

    Args:
        name: a baseline in :data:`TUNED` (others return :func:`default_params`).
        task: the run's task.
        val_x: (n_val, C, H, W) clean validation images.
        seed: the validation noise seed (``run.seed + empirical.seeds.VAL_NOISE_SEED``).
        ids: (n_val,) validation indices (noise ids; also the mask ids unless ``mask_ids``).
        mask_ids: (n_val,) MRI mask ids when they differ from ``ids`` (fastMRI: volumes).
        clamp: image data (score by PSNR after the conventions' clamp) or not (score by MSE).

    Returns:
        The chosen parameters, the grid and the best validation score.
    """
    sigma = float(task.sigma)
    params = default_params(name, task, sigma=sigma)
    if name not in TUNED:
        return params
    etask = _eval_task(name, task)
    mask_ids = ids if mask_ids is None else mask_ids
    inp, target = etask.corrupt_fixed(val_x, seed=int(seed), noise_ids=ids, example_ids=mask_ids)
    rng = _clamp_range(task, clamp)

    def score(out: torch.Tensor) -> float:
        out = out.to(torch.float32)
        return _score(out.clamp(*rng) if rng else out, target, task, clamp)

    key = "val_psnr" if clamp else "val_mse"
    sign = 1.0 if clamp else -1.0
    if name == "tv":
        if sigma <= 0:
            return {**params, "weight": 0.0, "note": "sigma = 0: TV weight 0 (the input)"}
        grid = [f * sigma for f in TV_FACTORS]
        scores = [score(reconstruct("tv", task, inp, sigma=sigma, params={"weight": wt})) for wt in grid]
        best = int(np.argmax(scores))
        return {**params, "weight": grid[best], "grid": grid, key: sign * scores[best], "tuned_on": "validation"}
    # tv-cs: every λ of the grid in one batch, the iterates at each iteration count of the grid
    z = _complex_input(inp)
    h, w = z.shape[-2:]
    masks = etask.column_masks((h, w), mask_ids).numpy()
    n, L = z.shape[0], len(TVCS_LAMBDAS)
    lam = np.repeat(np.array(TVCS_LAMBDAS, dtype=np.float64), n)
    snaps = tv_cs(np.tile(z, (L, 1, 1)), np.tile(masks, (L, 1)), lam, n_iter=max(TVCS_ITERS),
                  checkpoints=TVCS_ITERS)
    best, best_score = None, -math.inf
    for it in TVCS_ITERS:
        xs = torch.from_numpy(np.abs(snaps[it]).reshape(L, n, 1, h, w))
        for j, lam_j in enumerate(TVCS_LAMBDAS):
            s = score(xs[j])
            if s > best_score:
                best, best_score = (lam_j, it), s
    assert best is not None
    return {**params, "lam": best[0], "n_iter": best[1], "grid_lam": list(TVCS_LAMBDAS),
            "grid_n_iter": list(TVCS_ITERS), key: sign * best_score, "tuned_on": "validation"}


# --------------------------------------------------------------------------- evaluation


class _Baseline(nn.Module):
    """A baseline as a module for :func:`empirical.train.evaluate` (one batch = the whole set)."""

    def __init__(self, name: str, task: Any, sigma: float, params: dict, ids: torch.Tensor,
                 clamp_range: tuple[float, float] | None) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))  # evaluate() reads the device from the parameters
        self.name, self.task, self.sigma, self.params = name, task, sigma, params
        self.ids, self.clamp_range = ids, clamp_range

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[0] != self.ids.shape[0]:  # the ids (MRI masks) assume the whole set in one batch
            raise RuntimeError(f"baseline got a batch of {z.shape[0]} images, expected all {self.ids.shape[0]}")
        out = reconstruct(self.name, self.task, z, sigma=self.sigma, params=self.params, example_ids=self.ids)
        return out.clamp(*self.clamp_range) if self.clamp_range else out


def _check_names(names: Sequence[str] | None, task: Any) -> list[str]:
    if names is None:
        return list(BASELINES[task.name])
    if isinstance(names, str):
        names = [names]
    out = []
    for n in names:
        _check_name(n, task)
        if n not in out:
            out.append(n)
    return out


def evaluate_baselines(run: dict, *, names: Sequence[str] | None = None, tune: bool = True) -> dict[str, dict]:
    """Metrics of classical baselines on a sweep run's test set, with the run's fixed test noise.

    Args:
        run: a run (one element of :func:`empirical.config.expand`, or a flat dict of its keys);
            N, width, arch, depth and the training keys are ignored.
        names: baselines to evaluate (default: all of ``BASELINES[run.task]``).
        tune: tune :data:`TUNED` parameters on the validation set (else :func:`default_params`).

    Returns:
        ``{name: {"psnr", "ssim", "mse", "nmse", "params"}}`` (means over the test images, as
        :func:`empirical.train.evaluate`), or ``{name: {"skipped": reason}}`` for a baseline whose
        optional package is missing.
    """
    from .plan import load_data, plan  # noqa: PLC0415
    from .train import evaluate  # noqa: PLC0415

    run = _run_config(run)
    if run.n_test < 1:
        raise ValueError("n_test=0: there are no test images to evaluate baselines on")
    p = plan(run)
    d = load_data(p, with_train=False)  # exactly the images and ids the run itself is tested on
    task, clamp = p.task, p.clamp
    chosen = _check_names(names, task)
    rng = _clamp_range(task, clamp)
    out: dict[str, dict] = {}
    for name in chosen:
        reason = unavailable(name)
        if name == "tv-cs" and getattr(task, "coils", 1) > 1:
            reason = "tv-cs is single-coil only for now (multi-coil CS needs the coil maps in the data term)"
        if name == "bm3d" and not reason and min(d.test_x.shape[-2:]) <= _BM3D_BLOCK:
            reason = (f"bm3d needs images larger than its {_BM3D_BLOCK}×{_BM3D_BLOCK} blocks (these are "
                      f"{d.test_x.shape[-2]}×{d.test_x.shape[-1]}; at exactly 8 the bm3d package crashes)")
        if reason:
            out[name] = {"skipped": reason}
            continue
        if tune and name in TUNED:
            params = tune_params(name, task, d.val_x, seed=run.seed + VAL_NOISE_SEED, ids=d.val_ids,
                                 mask_ids=d.val_mask_ids, clamp=clamp)
        else:
            params = default_params(name, task, sigma=task.sigma)
        etask = _eval_task(name, task)
        module = _Baseline(name, etask, task.sigma, params, d.test_mask_ids, rng)
        res = evaluate(module, etask, d.test_x, seed=run.seed + TEST_NOISE_SEED, ids=d.test_ids,
                       mask_ids=d.test_mask_ids, batch=d.test_x.shape[0], clamp=clamp, draws=run.test_draws)
        out[name] = {**res, "params": params}
    return out


# --------------------------------------------------------------------------- command line


def _combo(run: dict, task: Any) -> dict:
    """The keys that define what a baseline sees: task fields, data, sizes, seeds (not N, width, …)."""
    desc = task.describe()
    row = {"task": desc.pop("name"), **desc}
    row.update({k: getattr(run, k) for k in _COMBO_DATA_KEYS})
    if run.data == "subspace":
        row["d"] = run.d
    row["seed"] = run.seed
    return row


def _cell(v: Any, fmt: str) -> Any:
    return json.dumps(v) if fmt == "csv" and isinstance(v, (dict, list, tuple)) else v


def baselines_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale baselines CONFIG [--set key=value ...] [--format csv|json] [--out FILE] [--names a,b]``."""
    p = Parser(prog="reconscale baselines", description="Classical baselines (noisy input, wavelet, TV, BM3D; "
                "zero-filled, TV compressed sensing; upsampled, bicubic) on a sweep config's test sets with the "
                "same fixed noise as the networks; one row per (task, data, size, noise, seed) combination and "
                "baseline.")
    p.add_argument("config", help="a TOML file or a shipped config name (quick-denoise, quick-mri, quick-sr, …)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (TOML value), e.g. --set size=32 --set sigma=[0.05,0.1]")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--out", default=None, help="write the table to this file instead of stdout")
    p.add_argument("--names", default=None, help="comma-separated baselines (default: all of each task's)")
    p.add_argument("--no-tune", action="store_true", help="use default parameters instead of tuning on validation")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        from theory.infra.io import write_table  # noqa: PLC0415

        from .plan import plan  # noqa: PLC0415

        try:
            runs = expand(load_config(a.config, a.set))
            combos: dict[str, tuple[dict, Any, dict]] = {}
            for run in runs:
                task = plan(run).task
                key = _combo(run, task)
                combos.setdefault(json.dumps(key, sort_keys=True), (run, task, key))
        except ValueError as e:
            raise UsageError(f"reconscale baselines: error: {e}") from None
        names = None
        if a.names is not None:
            names = [n.strip() for n in a.names.split(",") if n.strip()]
            tasks = {t.name for _, t, _ in combos.values()}
            valid = [n for t in BASELINES if t in tasks for n in BASELINES[t]]
            bad = [n for n in names if n not in valid]
            if not names or bad:
                raise UsageError(f"reconscale baselines: error: --names {a.names!r}: unknown baseline(s) "
                                 f"{', '.join(bad) or '(none given)'} for task(s) {', '.join(sorted(tasks))}; "
                                 f"use {', '.join(valid)}")
        from .metrics import conventions  # noqa: PLC0415

        rows = []
        for run, task, key in combos.values():
            sel = None if names is None else [n for n in names if n in BASELINES[task.name]]
            if sel == []:
                continue
            try:
                res = evaluate_baselines(run, names=sel, tune=not a.no_tune)
            except ValueError as e:
                raise UsageError(f"reconscale baselines: error: {e}") from None
            conv = {f"conv_{k}": _cell(v, a.format) for k, v in conventions(task).items() if k != "task"}
            for name, r in res.items():
                row = {**key, "baseline": name}
                for m in ("psnr", "ssim", "mse", "nmse"):
                    row[m] = r.get(m)
                row["params"] = _cell(r.get("params", {}), a.format)
                row["skipped"] = r.get("skipped", "")
                rows.append({**row, **conv})
        text = write_table(rows, a.out, a.format)
        if a.out is None:
            sys.stdout.write(text)
        return 0

    return run_command("reconscale baselines", body)
