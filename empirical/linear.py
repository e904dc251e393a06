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
* **Step.** The project's one step rule (:func:`theory.estimators.paper_step`): the paper's
  η = 1/(N(1+ε)λ_max(S)), ε = √(10 tr S log m / N), on the second moment S = Y Yᵀ/N of the run's own
  training inputs (a plug-in: the theory evaluates the same formula on its population Σ_y;
  :func:`step_size`). So ηλ_max(YYᵀ) = 1/(1+ε) < 1: every mode decays monotonically, and where few
  examples make ε large the steps are small, so the stopping time ηk is resolved finely.
* **Choosing k.** Every integer 0 ≤ k ≤ ``linear_kmax`` (default 10⁷), and k = ∞: the validation MSE
  ‖W^k Y_val − X_val‖²/(n N_val) (exact, float64, unclamped — the definition of ``val_mse`` in the
  networks' rows; the networks' validation images, ids, masks and fixed noise ``seed + VAL_NOISE_SEED``)
  is a convex quadratic in the filter gains (:func:`theory.risk.validation_quadratic`; for a split
  run one block per column group, :func:`split_validation_quadratics`), so the certified search
  :func:`theory.stopping.search_steps` finds its exact integer argmin evaluating a few hundred k
  (:func:`theory.stopping.choose_k`). k = ∞ is compared with it, a finite k winning a tie. This is the theory's
  validation stopping; no grid is involved (on a grid, because the test distribution differs from the
  validation one, where the grid lands moves the test score by a tenth of a dB). The networks keep
  their best checkpoint by validation PSNR.
* **Evaluation.** The chosen W is loaded into the torch twin :class:`empirical.models.LinearNet`
  (float64) and scored by :func:`empirical.train.evaluate` and :func:`empirical.rows.input_metrics`
  on validation and test with the networks' own images, ids, masks, fixed noise, clamp and metric
  conventions, so its metrics and the input's are comparable with every network row.

The row (:class:`empirical.ledger.Row`, written to ``result.json`` as every run's, so resuming and
adopting finished runs work unchanged): status ``done``; ``params`` = m·n; ``best_step`` = the chosen
k (−1 for k = ∞); ``wall_s`` = the fit (corrupting the
training set, factorising, scoring every k), not loading the images or the test evaluation;
``device`` ``cpu``; ``metrics`` = ``val``, ``val_input``, ``test``, ``test_input`` as a network's,
``history`` (two entries, the chosen k and k = ∞: ``step`` (−1 for ∞), ``lr`` = η, ``val_mse`` (exact,
unclamped), and ``val_psnr``/``val_ssim``/``val_nmse`` by the task's metric conventions) and
``conventions`` (the task's metric conventions plus ``estimator``, ``train_noise``, ``lr``,
``step_rule``, ``k_selection``, ``k_max``); ``steps`` = the number of k the search evaluated, plus one (∞).
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
from theory.estimators import TrainingSpectrum, gd_filter, ols_filter, paper_step, sample_step
from theory.operators import fft2c
from theory.risk import validation_quadratic
from theory.split import SplitPath
from theory.stopping import PathQuadratic, Stop, choose_k

from .ledger import Row
from .metrics import conventions
from .metrics import evaluate as task_metrics
from .metrics import nmse
from .models import LinearNet
from .plan import RunData, RunPlan
from .rows import input_metrics, test_metrics, versions, write_result
from .seeds import TARGET_NOISE_SEED, TRAIN_NOISE_SEED, VAL_NOISE_SEED
from .targets import noisy_targets, split_training_data
from .tasks import Task
from .train import evaluate, selection_metric

#: ``targets(x, ids)``: the training targets (n, B) of images x with ids (the fixed noisy copies).
Targets = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``metrics(out)``: the task's metrics of a block of validation outputs (k, n, N_val), one dict per k.
Metrics = Callable[[np.ndarray], list[dict]]

__all__ = ["CHUNK", "SPLIT_INPUT", "STEP_RULE", "training_pairs", "fit_spectrum", "step_size", "gains",
           "validation_path", "split_validation_quadratics", "learned_estimator", "as_module", "expected_test_mse",
           "run_linear_exact"]

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


#: The step rule, as a row records it (``conventions["step_rule"]``).
STEP_RULE = ("η = 1/(N(1+ε)λ_max(YYᵀ/N)), ε = √(10 tr(YYᵀ/N) log m / N): the paper's step on the training "
             "inputs' own second moment (theory.estimators.paper_step; the theory uses its population Σ_y)")


def step_size(spec: TrainingSpectrum, N: int) -> float:
    """The step η of N training examples: :func:`theory.estimators.sample_step` (see the module doc)."""
    return sample_step(spec, N)


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


def split_validation_quadratics(path: SplitPath, Y_val: np.ndarray, X_val: np.ndarray) -> list[PathQuadratic]:
    """The validation MSE of a split path, ‖W^k Y_val − X_val‖²/(n N_val), as one quadratic per column group.

    W^k Y_val = F^H Z with Z's columns of group g equal to BV_g diag(h_g) (V_gᵀ Y_val) (rows: the
    group's output frequencies) and F unitary, so the MSE is ‖Z − F X_val‖²/T, T = n N_val: a sum over
    groups of ‖BV_g diag(h_g) P_g − T_g‖² with P_g = V_gᵀ Y_val real and BV_g, T_g complex, i.e.
    hᵀ[(P Pᵀ) ∘ Re(BVᴴ BV)]h − 2 Re(diag(BVᴴ T Pᵀ))ᵀh + ‖T_g‖² — a :class:`PathQuadratic` with
    F = [Re BV; Im BV]. Frequencies no group holds stay 0 at every k; their energy is in the constant,
    which the first block carries (c = ‖X_val‖²/T in all).

    Args:
        path: the fitted :class:`theory.split.SplitPath`. Y_val: (m, N_val). X_val: (n, N_val), n = h·w.

    Returns:
        One quadratic in the gains per group of ``path`` (in its order; eigenvalues ``spectra_[g].lam``).
    """
    h, w = path.shape
    FX = fft2c(X_val.T.reshape(-1, h, w))  # (N_val, h, w): the targets' spectra
    T = float(X_val.size)
    quads = []
    for g, (cols, spec, BV) in enumerate(zip(path.groups_, path.spectra_, path.BV_)):
        P = spec.V.T @ Y_val  # (r, N_val)
        Tg = FX[:, :, cols].reshape(FX.shape[0], -1).T  # (h·|C|, N_val), rows (row, column) as BV's
        q = np.real(np.sum((BV.conj().T @ Tg) * P, axis=1))
        quads.append(PathQuadratic(P=P, s=0.0, F=np.concatenate([BV.real, BV.imag]), e=np.zeros(spec.rank), q=q,
                                   c=float(np.sum(X_val * X_val)) / T if g == 0 else 0.0, T=T, variable="h"))
    return quads


def learned_estimator(spec: TrainingSpectrum, N: int, Y_val: np.ndarray, X_val: np.ndarray,
                      kmax: float) -> tuple[np.ndarray, float, float, Stop]:
    """The ``linear-exact`` estimator of factorised training data, on plain arrays (no task, no torch).

    The step rule (:func:`step_size`), then the validation-best k over every integer ≤ ``kmax`` and
    k = ∞ (:func:`theory.stopping.choose_k`): what :func:`run_linear_exact` computes for a clean- or noisy-target run.

    Args:
        spec: the training spectrum (with ``XYV``) of N examples. Y_val: (m, N_val). X_val: (n, N_val).
        kmax: the largest finite k.

    Returns:
        (W (n, m), k (``inf``: least squares), η, the search's :class:`~theory.stopping.Stop`).
    """
    lr = step_size(spec, N)
    k, _, stop = choose_k(validation_quadratic(spec, Y_val, X_val), spec.lam, lr, kmax)
    return spec.weights(gains(spec, np.array([k]), lr))[0], k, lr, stop


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
    measurement and one fixed Λ/Γ split per example; inputs from Λ, the loss on Γ. The step is the
    project's rule (:func:`theory.estimators.paper_step`) on the inputs' YYᵀ/N, as for the other arms.
    """
    inp, k, _, gamma = split_training_data(p.task, p.target, data.train_x, ids=data.train_ids,
                                           mask_ids=data.train_mask_ids, seed=p.config.seed)
    Y = np.ascontiguousarray(inp.flatten(1).to(torch.float64).numpy().T)
    m, N = Y.shape
    with one_blas_thread():
        lam_max = float(np.linalg.eigvalsh(Y @ Y.T if N >= m else Y.T @ Y)[-1])  # λ_max(YYᵀ)
        # the step rule on YYᵀ/N: every Y S_ω Yᵀ (S_ω ≤ I) then has ηλ ≤ 1/(1+ε) < 1
        lr = paper_step(N, lam_max / N, float(np.sum(Y * Y)) / N, m)
        path = SplitPath.fit(Y, k[:, 0].to(torch.complex128).numpy(), gamma.numpy(), shape=tuple(k.shape[-2:]), lr=lr)
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


def expected_test_mse(W: np.ndarray, x: torch.Tensor, sigma: float) -> np.ndarray:
    """Each test image's MSE under denoising, in expectation over its noise: exact, no draw.

    For y = x + σz (z white), E_z ‖W y − x‖² = ‖(W − I)x‖² + σ²‖W‖²_F, per pixel divided by n.

    Args:
        W: (n, n) the estimator. x: (B, C, H, W) clean test images (C·H·W = n). sigma: σ.

    Returns:
        (B,) float64 expected per-pixel MSE of each image.
    """
    X = x.reshape(x.shape[0], -1).to(torch.float64).numpy()
    n = X.shape[1]
    if W.shape != (n, n):
        raise ValueError(f"W has shape {W.shape}; denoising {n}-pixel images needs ({n}, {n})")
    bias = X @ W.T - X
    return (np.sum(bias**2, axis=1) + sigma**2 * float(np.sum(W**2))) / n


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

    def metrics(out: np.ndarray) -> list[dict]:
        return _task_metrics(out, val_target, task, p.clamp)

    if p.target.kind == "split":
        path, lr = _fit_split(p, data)
        k_best, _, stop = choose_k(split_validation_quadratics(path, Y_val, X_val),
                                   [sp.lam for sp in path.spectra_], lr, run.linear_kmax)
        steps = np.array([k_best, np.inf]) if math.isfinite(k_best) else np.array([np.inf])
        mse, extra = _scores(lambda a, b: path.predict(Y_val, steps[a:b]), steps.size, X_val, metrics)
        W = path.weights(k_best)
    else:
        spec = _fit(p, data)
        W, k_best, lr, stop = learned_estimator(spec, data.train_x.shape[0], Y_val, X_val, run.linear_kmax)
        steps = np.array([k_best, np.inf]) if math.isfinite(k_best) else np.array([np.inf])
        mse, extra = validation_path(spec, gains(spec, steps, lr), Y_val, X_val, metrics=metrics)  # the direct twin
    wall = time.perf_counter() - t0
    history = [{"step": int(k) if math.isfinite(k) else -1, "lr": lr, "val_mse": float(e),
                **{f"val_{name}": v for name, v in more.items()}} for k, e, more in zip(steps, mse, extra)]
    model = as_module(W, in_shape, out_shape)
    batch, clamp = p.train.eval_batch, p.clamp
    val_kw = {"seed": val_seed, "ids": data.val_ids, "mask_ids": data.val_mask_ids, "clamp": clamp}
    val = evaluate(model, task, data.val_x, batch=batch, **val_kw)
    val_input = input_metrics(task, data.val_x, batch=batch, **val_kw)
    conv = {**conventions(task), **p.target.describe(task.sigma),
            "estimator": ("linear-exact split: GD on ½Σᵢ‖P_Γᵢ F W yᵢ − kᵢ‖² from W = 0, one filter per k-space "
                          "column pair (theory.split.SplitPath), k = ∞: minimum-norm least squares"
                          if p.target.kind == "split" else
                          "linear-exact: W^k = X Yᵀ V diag((1 − (1 − ηλ)^k)/λ) Vᵀ, GD on ½‖WY − X‖² from W = 0, "
                          "k = ∞: X Y⁺ (empirical.linear)"),
            "train_noise": f"one fixed noise draw per training example, seeded by (seed + {TRAIN_NOISE_SEED}, "
                           "image id); networks: fresh noise every step unless train_noise = 'fixed'",
            **({"split_input": SPLIT_INPUT[bool(task.complex_input)]} if p.target.kind == "split" else {}),
            "lr": lr, "step_rule": STEP_RULE, "k_max": float(run.linear_kmax),
            "k_selection": "least validation MSE (float64, unclamped) over every integer k from 0 to k_max (exact, "
                           "by the certified search theory.stopping.search_steps), and k = ∞ (best_step -1); "
                           "a finite k wins a tie"}
    row = Row(status="done", params=in_shape[0] * H * W_ * out_shape[0] * H * W_,
              best_step=int(k_best) if math.isfinite(k_best) else -1, steps=stop.evaluations + 1, wall_s=wall,
              device="cpu", versions=versions())
    test, test_input, per_image = test_metrics(model, p, data)
    if task.name == "denoise":  # the test noise integrated exactly: the limit of test_draws → ∞
        per_image["mse"] = [float(v) for v in expected_test_mse(W, data.test_x, task.sigma)]
        test["mse"] = float(np.mean(per_image["mse"]))
        conv["test_mse"] = ("exact expectation over the test noise, per image (‖(W − I)x‖² + σ²‖W‖²_F)/n; PSNR, "
                            "SSIM and NMSE over the test_draws fixed draws")
    row.metrics = {"val": val, "val_input": val_input, "test": test, "test_input": test_input,
                   "test_per_image": per_image, "history": history,
                   "conventions": {**conv, "test_draws": run.test_draws}}
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
