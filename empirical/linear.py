"""The learned linear estimator on a sweep's own images, in closed form: ``arch = "linear-exact"``.

The paper's linear estimator — W learned by gradient descent from W⁰ = 0 on ½‖WY − X‖_F² over the
N training examples, stopped early at the k that is best on held-out data — computed exactly from
one factorisation (no torch training; seconds per N at 32×32) and recorded as an ordinary ledger
row, one per (N, seed), next to the networks' rows. Conventions:

* **Training pairs.** Y (m × N): the network inputs of the run's N training images (the same nested
  training set as the networks), each corrupted **once**, with its own fixed noise seeded by
  (``seed + TRAIN_NOISE_SEED``, image index; :mod:`empirical.seeds`) through
  :meth:`empirical.tasks.Task.corrupt_fixed` —
  the path of the validation and test noise, with its own offset; MRI: the example's own mask.
  X (n × N): the clean targets. The networks see fresh noise at every step instead; one fixed noisy
  copy per example is the paper's (and :mod:`theory`'s) object. The noise of an image does not
  depend on N, so the training sets are nested in images and noise alike.
* **The map.** m = C_in·H·W and n = C_out·H·W: the most general linear map from the whole network
  input (every channel: RGB, the MRI magnitude, the 2-channel [Re, Im] complex MRI input, the
  upsampled SR input) to the whole output, without bias (second moments, as the theory).
  ``max(m, n) ≤`` :data:`empirical.plan.MAX_N` (an m×m eigendecomposition), checked when the sweep
  is validated (:func:`empirical.plan.check_linear_exact`).
* **The GD path.** With Y Yᵀ = V diag(λ) Vᵀ (nonzero part), W^k = X Yᵀ V diag(f_k(λ)/λ) Vᵀ,
  f_k = 1 − (1 − ηλ)^k (:func:`theory.estimators.gd_filter`, log1p/expm1 form), and W^∞ = X Y⁺ (the
  minimum-norm least squares, the limit of GD from 0). One factorisation gives every k: for
  N ≥ m, Y Yᵀ and X Yᵀ are accumulated over chunks of examples (memory O(m²), whatever N) and
  Y Yᵀ goes to ``eigh``; for N < m, ``eigh`` of the Gram matrix YᵀY (:func:`fit_spectrum`).
  Eigenvalues below λ_max·max(m, N)·eps are dropped (the pseudo-inverse's convention; a
  block-replicated SR input has rank n/s²).
* **Step.** η = 1/λ_max(Y Yᵀ): the largest step at which every mode decays monotonically, so k
  counts steps of that size. (The paper's η = 1/(N(1+ε)(1+σ²)) is this step for its normalised
  subspace data; for images, whose mean is far from 0, λ_max ≈ N·‖mean image‖² and that step
  would diverge.) With ηλ ≤ 1, GD at step k is close to gradient flow at time ηk, so the chosen
  estimator hardly depends on this convention.
* **Choosing k.** The grid :func:`k_grid`: 8 log-spaced integers per decade from 1 to
  ``linear_kmax`` (default 10⁷), then k = ∞. Every k is scored on the run's validation set (the
  networks' validation images, ids, masks and fixed noise ``seed + VAL_NOISE_SEED``) by its exact
  float64 validation MSE, unclamped — the definition of ``val_mse`` in the networks' rows — from
  Vᵀ Y_val, one (n × r)(r × N_val) product per k (:func:`validation_path`). The smallest k with
  the least MSE is chosen (the theory's validation stopping; the networks keep their best
  checkpoint by validation PSNR).
* **Evaluation.** The chosen W is loaded into the torch twin :class:`empirical.models.LinearNet`
  (float64) and scored by :func:`empirical.train.evaluate` and :func:`empirical.rows.input_metrics`
  on validation and test with the networks' own images, ids, masks, fixed noise, clamp and metric
  conventions, so its metrics and the input's are comparable with every network row.

The row (:class:`empirical.ledger.Row`, written to ``result.json`` as every run's, so resuming and
adopting finished runs work unchanged): status ``done``; ``params`` = m·n; ``best_step`` = the chosen
k (−1 for k = ∞); ``steps`` = the number of k evaluated; ``wall_s`` = the fit (corrupting the
training set, factorising, scoring every k), not loading the images or the test evaluation;
``device`` ``cpu``; ``metrics`` = ``val``, ``val_input``, ``test``, ``test_input`` as a network's,
``history`` (one entry per k: ``step`` (−1 for ∞), ``lr`` = η, ``val_mse`` (exact, unclamped), and
``val_psnr``/``val_ssim``/``val_nmse`` by the task's metric conventions) and ``conventions`` (the
task's metric conventions plus ``estimator``, ``train_noise``, ``lr``, ``k_selection``, ``k_max``).
A done row carries a warning when the chosen estimator scores worse on validation than its own
input (too few examples for a map of m inputs).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from theory.backend import one_blas_thread
from theory.estimators import TrainingSpectrum, gd_filter, k_grid, ols_filter
from theory.split import SplitPath

from .ledger import Row
from .metrics import conventions
from .metrics import evaluate as task_metrics
from .metrics import nmse
from .models import LinearNet
from .plan import RunData, RunPlan
from .rows import input_metrics, versions, write_result
from .seeds import TARGET_NOISE_SEED, TEST_NOISE_SEED, TRAIN_NOISE_SEED, VAL_NOISE_SEED
from .targets import noisy_targets, split_training_data
from .tasks import Task
from .train import evaluate, selection_metric

#: ``targets(x, ids)``: the training targets (n, B) of images x with ids (the fixed noisy copies).
Targets = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``metrics(out)``: the task's metrics of a block of validation outputs (k, n, N_val), one dict per k.
Metrics = Callable[[np.ndarray], list[dict]]

__all__ = ["CHUNK", "SPLIT_INPUT", "k_grid", "training_pairs", "fit_spectrum",
           "step_size", "gains", "validation_path", "select", "as_module", "run_linear_exact"]

#: Training examples corrupted and accumulated at once (the memory of Y is m × CHUNK, not m × N).
CHUNK = 1024


def training_pairs(task: Task, x: torch.Tensor, *, seed: int, ids: torch.Tensor,
                   mask_ids: torch.Tensor | None = None,
                   targets: Targets | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(Y, X) of images ``x`` with noise fixed per (seed, id): (m, B) inputs and (n, B) targets, float64.

    ``targets(x, ids)`` replaces the clean targets (the fixed noisy copies of ``target = "noisy"``)."""
    inp, target = task.corrupt_fixed(x, seed=int(seed), noise_ids=ids, example_ids=mask_ids)
    if targets is not None:
        target = targets(x, ids)
    Y = inp.flatten(1).to(torch.float64).numpy().T
    X = target.flatten(1).to(torch.float64).numpy().T
    return np.ascontiguousarray(Y), np.ascontiguousarray(X)


def fit_spectrum(task: Task, x: torch.Tensor, *, seed: int, ids: torch.Tensor, mask_ids: torch.Tensor | None = None,
                 chunk: int = CHUNK, targets: Targets | None = None) -> TrainingSpectrum:
    """The factorised training data of the corrupted images ``x`` (B, C, H, W): one eigendecomposition.

    For B ≥ m, Y Yᵀ and X Yᵀ are summed over chunks of ``chunk`` examples (Y is never held whole)
    and Y Yᵀ (m × m) goes to ``eigh``; for B < m, ``eigh`` of the Gram matrix YᵀY (B × B) gives
    Y = V diag(√λ) Qᵀ, V = Y Q diag(λ^-½) and X Yᵀ V = X Q diag(√λ). The noise of example b is
    seeded by (``seed``, ``ids[b]``), so the result does not depend on ``chunk``. ``targets(x, ids)``
    replaces the clean targets, as in :func:`training_pairs`.

    :meth:`theory.estimators.TrainingSpectrum.fit` takes an SVD of Y for m/2 < B < 2m instead, for
    full relative accuracy of the smallest eigenvalues at the interpolation threshold; an SVD of a
    1024 × 1024 Y costs about five ``eigh`` of the same size. ``eigh`` is accurate to ~eps·λ_max
    absolute, which matters only for k = ∞ (least squares) within a few percent of B = m — the
    double-descent spike, far from the validation optimum.
    """
    B, C, H, W = x.shape
    m = task.in_channels(C) * H * W
    if B < m:
        Y, X = training_pairs(task, x, seed=seed, ids=ids, mask_ids=mask_ids, targets=targets)
        with one_blas_thread():
            lam, Q = np.linalg.eigh(Y.T @ Y)
        lam, Q = lam[::-1], Q[:, ::-1]
        lam, Q = _nonzero(lam, Q, max(m, B))
        root = np.sqrt(lam)
        return TrainingSpectrum(lam=lam, V=(Y @ Q) / root[None, :], XYV=X @ (Q * root[None, :]))
    from scipy.linalg.blas import dsyrk  # noqa: PLC0415

    n = task.out_channels(C) * H * W
    G, XYt = np.zeros((m, m), order="F"), np.zeros((n, m))  # G: upper triangle of Y Yᵀ (syrk: half a GEMM)
    for a in range(0, B, chunk):
        inp, target = task.corrupt_fixed(x[a : a + chunk], seed=int(seed), noise_ids=ids[a : a + chunk],
                                         example_ids=None if mask_ids is None else mask_ids[a : a + chunk])
        Yt = inp.flatten(1).to(torch.float64).numpy()  # (b, m): Yt.T is Y, Fortran-ordered, no copy
        G = dsyrk(1.0, Yt.T, beta=1.0, c=G, overwrite_c=True)
        if targets is not None:
            target = targets(x[a : a + chunk], ids[a : a + chunk])
        XYt += target.flatten(1).to(torch.float64).numpy().T @ Yt
    with one_blas_thread():
        lam, V = np.linalg.eigh(G, UPLO="U")
    lam, V = _nonzero(lam[::-1], V[:, ::-1], max(m, B))
    return TrainingSpectrum(lam=lam, V=V, XYV=XYt @ V)


def _nonzero(lam: np.ndarray, vec: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Descending eigenpairs above λ_max·size·eps (the tolerance of TrainingSpectrum.fit)."""
    if lam.size == 0 or not lam[0] > 0:
        return lam[:0].copy(), vec[:, :0].copy()
    keep = int((lam > float(lam[0]) * size * np.finfo(float).eps).sum())
    return np.ascontiguousarray(lam[:keep]), np.ascontiguousarray(vec[:, :keep])


def step_size(spec: TrainingSpectrum) -> float:
    """η = 1/λ_max(Y Yᵀ) (see the module doc)."""
    if spec.rank == 0:
        raise ValueError("the training inputs are all zero; the linear estimator is W = 0")
    return 1.0 / float(spec.lam[0])


def gains(spec: TrainingSpectrum, steps: np.ndarray, lr: float) -> np.ndarray:
    """Filter gains h = f(λ)/λ of W^k for every k in ``steps`` (``inf``: least squares), shape (K, r)."""
    steps = np.asarray(steps, dtype=float)
    h = np.empty((steps.size, spec.rank))
    finite = np.isfinite(steps)
    if finite.any():
        h[finite] = gd_filter(spec.lam, steps[finite], lr)[1]
    if (~finite).any():
        h[~finite] = ols_filter(spec.lam)[1]
    return h


def validation_path(spec: TrainingSpectrum, h: np.ndarray, Y_val: np.ndarray, X_val: np.ndarray, *,
                    metrics: Metrics | None = None, max_elems: int = 4_000_000) -> tuple[np.ndarray, list[dict]]:
    """Exact validation MSE of W_k = X Yᵀ V diag(h_k) Vᵀ for every row h_k, in one pass.

    The outputs W_k Y_val = (X Yᵀ V) diag(h_k) (Vᵀ Y_val) share Vᵀ Y_val, so each k costs one
    (n × r)(r × N_val) product, done for several k at once (``max_elems`` outputs per block).

    Args:
        h: (K, r) gains. Y_val: (m, N_val) validation inputs. X_val: (n, N_val) their targets.
        metrics: optional ``f(outputs)`` on a (k, n, N_val) block returning k dicts of further
            per-k metrics (the task's PSNR/SSIM).

    Returns:
        (K,) MSEs (per pixel, mean over images, unclamped, float64) and the K metric dicts
        (empty without ``metrics``).
    """
    P = spec.V.T @ Y_val  # (r, N_val)
    return _scores(lambda a, b: np.matmul(spec.XYV, h[a:b, :, None] * P[None]), h.shape[0], X_val, metrics,
                   max_elems=max_elems)


def select(mse: np.ndarray) -> int:
    """Index of the least validation MSE (the first, i.e. the smallest k, among ties)."""
    if not np.isfinite(mse).any():
        raise ValueError("no k has a finite validation error")
    return int(np.nanargmin(np.where(np.isfinite(mse), mse, np.inf)))


class _Float64(nn.Module):
    """Evaluate the float64 twin on float32 inputs: x ↦ W vec(x) in float64, returned as x's dtype."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.to(torch.float64)).to(z.dtype)


def as_module(W: np.ndarray, in_shape: tuple[int, int, int], out_shape: tuple[int, int, int]) -> nn.Module:
    """The estimator W (n × m) as the torch twin :class:`~empirical.models.LinearNet` (float64)."""
    if W.shape != (math.prod(out_shape), math.prod(in_shape)):
        raise ValueError(f"W has shape {W.shape}; expected {(math.prod(out_shape), math.prod(in_shape))}")
    net = LinearNet(in_shape, out_shape).double()
    with torch.no_grad():
        net.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
    net.weight.requires_grad_(False)
    return _Float64(net)


def _task_metrics(out: np.ndarray, target: torch.Tensor, task: Task, clamp: bool) -> list[dict]:
    """The task's PSNR/SSIM/NMSE (means over images) of a block of validation outputs (k, n, N_val)."""
    k, n_val = out.shape[0], target.shape[0]
    pred = torch.from_numpy(np.ascontiguousarray(out.transpose(0, 2, 1))).reshape(k * n_val, *target.shape[1:])
    tgt = target.repeat(k, 1, 1, 1)
    res = {"nmse": nmse(pred, tgt).reshape(k, n_val).mean(dim=1)}
    if clamp:
        m = task_metrics(pred, tgt, task)
        res.update(psnr=m["psnr"].reshape(k, n_val).mean(dim=1), ssim=m["ssim"].reshape(k, n_val).mean(dim=1))
    nan = float("nan")
    return [{"psnr": float(res["psnr"][i]) if clamp else nan, "ssim": float(res["ssim"][i]) if clamp else nan,
             "nmse": float(res["nmse"][i])} for i in range(k)]


def _fit(p: RunPlan, data: RunData) -> TrainingSpectrum:
    """The factorised training data of a clean- or noisy-target run (noisy: the networks' fixed copies)."""
    run, task = p.config, p.task
    targets = None
    if p.target.kind == "noisy":
        def noisy(xb: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
            return noisy_targets(xb, task.sigma, seed=run.seed + TARGET_NOISE_SEED, ids=ib)

        targets = noisy
    return fit_spectrum(task, data.train_x, seed=run.seed + TRAIN_NOISE_SEED, ids=data.train_ids,
                        mask_ids=data.train_mask_ids, targets=targets)


#: What a split run's input is, in its row (``conventions["split_input"]``): theory.split's risk
#: (``split_risk_curve``) describes the 2-channel [Re, Im] zero-filled input, not its magnitude.
SPLIT_INPUT = {
    True: "the 2-channel [Re, Im] zero-filled image of the Λ columns: the input theory.split describes",
    False: "the magnitude of the zero-filled image of the Λ columns: theory.split's risk does not describe this "
           "arm (it models the 2-channel [Re, Im] input; set complex_input = true for that)",
}


def _fit_split(p: RunPlan, data: RunData) -> tuple[SplitPath, float]:
    """The split-measurement GD path (:class:`theory.split.SplitPath`) of a ``target = "split"`` run.

    The training set is the networks' (:func:`empirical.targets.split_training_data`): one fixed
    measurement and one fixed Λ/Γ split per example; inputs from Λ, the loss on Γ.
    """
    inp, k, _, gamma = split_training_data(p.task, p.target, data.train_x, ids=data.train_ids,
                                           mask_ids=data.train_mask_ids, seed=p.config.seed)
    Y = np.ascontiguousarray(inp.flatten(1).to(torch.float64).numpy().T)
    with one_blas_thread():
        path = SplitPath.fit(Y, k[:, 0].to(torch.complex128).numpy(), gamma.numpy(), shape=tuple(k.shape[-2:]))
    return path, float(path.lr_)


def _scores(outputs: Callable[[int, int], np.ndarray], K: int, X_val: np.ndarray, metrics: Metrics | None, *,
            max_elems: int = 4_000_000
            ) -> tuple[np.ndarray, list[dict]]:
    """Validation MSE and metrics of K estimators whose outputs ``outputs(a, b)`` gives in blocks (b−a, n, N_val)."""
    n, n_val = X_val.shape
    per = max(1, max_elems // max(1, n * n_val))
    mse, extra = np.empty(K), []
    for a in range(0, K, per):
        out = outputs(a, min(K, a + per))
        mse[a : a + out.shape[0]] = np.mean((out - X_val[None]) ** 2, axis=(1, 2))
        if metrics is not None:
            extra.extend(metrics(out))
    return mse, extra


def run_linear_exact(p: RunPlan, data: RunData, run_dir: str | Path | None = None) -> Row:
    """One linear-exact run: fit, choose k on validation, evaluate; returns its ledger row.

    Args:
        p: the run's :class:`~empirical.plan.RunPlan` (``p.config.arch == "linear-exact"``).
        data: its :class:`~empirical.plan.RunData` with the training set (``train_ids`` included).
        run_dir: when given, the row is written to ``run_dir/result.json``
            (:func:`empirical.rows.write_result`) as every run's is. Nothing else is stored: a run
            takes seconds, so an interrupted one simply starts again.

    Returns:
        The :class:`~empirical.ledger.Row` described in the module doc.
    """
    run, task = p.config, p.task
    if data.train_x is None or data.train_ids is None:
        raise ValueError("run_linear_exact needs the training set: load_data(plan) with with_train=True")
    t0 = time.perf_counter()
    C, H, W_ = (int(s) for s in data.train_x.shape[1:])
    in_shape, out_shape = (task.in_channels(C), H, W_), (task.out_channels(C), H, W_)
    val_seed = run.seed + VAL_NOISE_SEED
    Y_val, X_val = training_pairs(task, data.val_x, seed=val_seed, ids=data.val_ids, mask_ids=data.val_mask_ids)
    val_target = data.val_x.to(torch.float64)
    steps = np.append(k_grid(run.linear_kmax), np.inf)

    def metrics(out: np.ndarray) -> list[dict]:
        return _task_metrics(out, val_target, task, p.clamp)

    if p.target.kind == "split":
        path, lr = _fit_split(p, data)
        mse, extra = _scores(lambda a, b: path.predict(Y_val, steps[a:b]), steps.size, X_val, metrics)
        best = select(mse)
        W = path.weights(steps[best])
    else:
        spec = _fit(p, data)
        lr = step_size(spec)
        h = gains(spec, steps, lr)
        mse, extra = validation_path(spec, h, Y_val, X_val, metrics=metrics)
        best = select(mse)
        W = spec.weights(h[best : best + 1])[0]
    wall = time.perf_counter() - t0
    history = [{"step": int(k) if math.isfinite(k) else -1, "lr": lr, "val_mse": float(e),
                **{f"val_{name}": v for name, v in more.items()}} for k, e, more in zip(steps, mse, extra)]
    model = as_module(W, in_shape, out_shape)
    batch, clamp = p.train.eval_batch, p.clamp
    test_kw = {"seed": run.seed + TEST_NOISE_SEED, "ids": data.test_ids, "mask_ids": data.test_mask_ids,
               "clamp": clamp}
    val_kw = {"seed": val_seed, "ids": data.val_ids, "mask_ids": data.val_mask_ids, "clamp": clamp}
    val = evaluate(model, task, data.val_x, batch=batch, **val_kw)
    val_input = input_metrics(task, data.val_x, batch=batch, **val_kw)
    k_best = steps[best]
    conv = {**conventions(task), **p.target.describe(task.sigma),
            "estimator": ("linear-exact split: GD on ½Σᵢ‖P_Γᵢ F W yᵢ − kᵢ‖² from W = 0, one filter per k-space "
                          "column pair (theory.split.SplitPath), k = ∞: minimum-norm least squares"
                          if p.target.kind == "split" else
                          "linear-exact: W^k = X Yᵀ V diag((1 − (1 − ηλ)^k)/λ) Vᵀ, GD on ½‖WY − X‖² from W = 0, "
                          "k = ∞: X Y⁺ (empirical.linear)"),
            "train_noise": f"one fixed noise draw per training example, seeded by (seed + {TRAIN_NOISE_SEED}, "
                           "image id); networks: fresh noise every step unless train_noise = 'fixed'",
            **({"split_input": SPLIT_INPUT[bool(task.complex_input)]} if p.target.kind == "split" else {}),
            "lr": lr, "k_max": float(run.linear_kmax),
            "k_selection": "least validation MSE (float64, unclamped) over 8 log-spaced k per decade from 1 to "
                           "k_max, and k = ∞ (best_step -1)"}
    row = Row(status="done", params=in_shape[0] * H * W_ * out_shape[0] * H * W_,
              best_step=int(k_best) if math.isfinite(k_best) else -1, steps=int(steps.size), wall_s=wall,
              device="cpu", versions=versions())
    row.metrics = {"val": val, "val_input": val_input,
                   "test": evaluate(model, task, data.test_x, batch=batch, **test_kw),
                   "test_input": input_metrics(task, data.test_x, batch=batch, **test_kw),
                   "history": history, "conventions": conv}
    key, sign = selection_metric(p.train)
    if sign * val[key] < sign * val_input[key]:
        unit = " dB" if key == "psnr" else ""
        k_text = "∞" if not math.isfinite(k_best) else f"{int(k_best)}"
        row.warning = (f"the learned linear estimator (N={run.N}, k={k_text}) scores validation {key} "
                       f"{val[key]:.4g}{unit}, worse than its input's {val_input[key]:.4g}{unit}: too few training "
                       f"examples for a linear map of {in_shape[0] * H * W_} inputs")
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        write_result(Path(run_dir), run, row)
    return row
