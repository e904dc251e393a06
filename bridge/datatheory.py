"""The linear theory of a sweep's own images: the Gaussian model with their second moments, on an N axis.

Input: the ``.npz`` of ``reconscale spectrum`` (:mod:`empirical.spectrum`): Σ_P, the uncentred
second moment of the training crops, and Σ_Q, that of the sweep's test images. The model
(:class:`theory.datamodel.DataModel`) learns W by gradient descent from 0 on N Gaussian examples
x ~ N(0, Σ_P), y = x + σz, and is scored on Q:

    R_Q(W) = E_Q‖W y − x‖² / E_Q‖x‖²,   per-pixel MSE = R_Q · tr Σ_Q / n,   PSNR = −10 log₁₀ MSE

(images in [0, 1]; the PSNR of the mean MSE over the test images — the scale on which the theory
predicts anything). No parameter is fitted to the experiment.

**Stopping**, as the ``linear-exact`` runs stop: GD from 0 with the project's one step rule
(:func:`theory.estimators.paper_step`: η = 1/(N(1+ε)λ_max), here on the model's own Σ_y, the
runs' on their sample's) and k chosen over *every* integer 0 ≤ k ≤ ``kmax``, and k = ∞ (least
squares), by the *training* distribution's expected risk R_P — the expectation of what the runs'
validation crops (from the training photos) estimate — and the curve is R_Q at that k. The choice is
exact (:meth:`theory.data_asymptotics.DataEquivalent.gd_stop`, a certified search; no grid: because
P ≠ Q, R_Q is still falling where R_P is flat, so a grid's spacing would move the curve).
``stopping="oracle"`` chooses by R_Q instead (a lower bound no practitioner attains when P ≠ Q).

**Method**: the deterministic equivalent (:mod:`theory.data_asymptotics`) at every N, except
near the interpolation threshold N ≈ n, where it is undefined: there the Rao–Blackwellised Monte
Carlo of :func:`theory.datamodel.data_montecarlo` is used (``draws`` draws; k by the mean of the
draws' E[R_P | Y] over every integer k, then R_Q at that k on the same draws), and the row says so.

Floors (per-pixel MSE): ``floor_P_on_Q`` = R_Q(W*_P), what unlimited training data from P gives
(the N → ∞ limit of the curve, the *linear floor* of the experiment); ``floor_Q`` = R_Q(W*_Q),
the best linear map for the test images themselves (the Wiener floor of Q; meaningful only when
Σ_Q has full rank — with fewer test images than pixels, W*_Q projects onto their span).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from theory.data_asymptotics import DataEquivalent, shift_spectrum
from theory.datamodel import DataModel, DataSpectrum, data_montecarlo
from theory.estimators import TrainingSpectrum, gd_filter, ols_filter
from theory.montecarlo import Estimator

from .uncertainty import mse_to_psnr

__all__ = ["load_data_model", "data_theory_curve", "floor_draws", "theory_draws"]


def load_data_model(path: str | Path) -> tuple[Any, dict]:
    """The :class:`~theory.datamodel.DataModel` of a ``reconscale spectrum`` file, and its metadata.

    Raises:
        ValueError: one line when the file is missing, unreadable or not a spectrum file.
    """

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such spectrum file; write one with `reconscale spectrum CONFIG --out {path}`")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({e}); write it again with `reconscale spectrum`") from None
    missing = [k for k in ("P_mu", "Q_mu", "Q_V", "sigma", "shape", "meta") if k not in arrays]
    if missing:
        raise ValueError(f"{path}: not a reconscale spectrum file (missing {', '.join(missing)}); "
                         "write it with `reconscale spectrum`")
    meta = json.loads(str(arrays["meta"]))
    shape = tuple(int(s) for s in arrays["shape"])
    if "P_V" in arrays:
        P = DataSpectrum(arrays["P_mu"], V=arrays["P_V"], shape=shape if len(arrays["P_mu"]) == shape[0] * shape[1]
                         else None, label="P: " + meta.get("P", "training crops"))
    else:
        P = DataSpectrum(arrays["P_mu"], basis="fourier", shape=shape, label="P: " + meta.get("P", "training crops"))
    Q = DataSpectrum(arrays["Q_mu"], V=arrays["Q_V"], label="Q: " + meta.get("Q", "test images"))
    return DataModel(P, float(arrays["sigma"]), Q), meta


def _monte_carlo_stop(model: Any, model_P: Any, n_train: int, kmax: int, stopping: str, draws: int,
                      seed: int) -> tuple[int, np.ndarray]:
    """k (−1: least squares) and the draws' E[R_Q | Y] there, Rao–Blackwellised; one seed: paired draws."""
    choose = model_P if stopping == "validation" else model
    gd, ols = data_montecarlo(choose, [n_train], [Estimator("gd-argmin", kmax=kmax), Estimator("ols")], runs=draws,
                              rng=np.random.default_rng(seed), rao_blackwell=True)
    k = int(gd.k_opt[0, 0]) if gd.mean[0, 0] <= ols.mean[0, 0] else -1  # a finite k wins a tie
    est = Estimator("gd", steps=(k,)) if k >= 0 else Estimator("ols")
    (c,) = data_montecarlo(model, [n_train], [est], runs=draws, rng=np.random.default_rng(seed), rao_blackwell=True)
    return k, c.draws[:, 0, 0]


def data_theory_curve(model: Any, N: Sequence[int], *, kmax: float = 1e7, stopping: str = "validation",
                      draws: int = 20, rng: np.random.Generator | None = None) -> list[dict]:
    """Expected test MSE of early-stopped GD at each N (see the module doc).

    Args:
        model: :class:`~theory.datamodel.DataModel` (denoising; P and Q).
        N: training-set sizes.
        kmax: the largest finite k searched (every integer 0..kmax, and k = ∞).
        stopping: ``"validation"`` (k by R_P) or ``"oracle"`` (k by R_Q).
        draws: Monte Carlo draws where the deterministic equivalent is undefined (N ≈ n).
        rng: seeds those draws (default ``default_rng(0)``).

    Returns:
        One row per N: ``N``, ``k`` (−1 for least squares), ``risk`` (R_Q), ``mse``, ``psnr``,
        ``method`` (``asymptotic`` or ``rao-blackwell (D draws)``), ``mse_sem`` (0 for the
        equivalent), ``floor_P_on_Q``, ``floor_Q`` (per-pixel MSE), ``rank_Q`` (the rank of Σ_Q:
        below n, W*_Q knows the span of the test images and ``floor_Q`` is no floor of the test
        *distribution*).
    """

    if stopping not in ("validation", "oracle"):
        raise ValueError(f"stopping={stopping!r}: use 'validation' or 'oracle'")
    if model.A is not None:
        raise ValueError("data_theory_curve covers denoising (operator None) only")
    if not (np.isfinite(kmax) and kmax >= 0):
        raise ValueError(f"kmax={kmax} must be a finite number ≥ 0 (the largest finite k searched)")
    kmax = int(kmax)
    rng = np.random.default_rng(0) if rng is None else rng
    # Q = P: the risk the validation crops estimate (same training targets, so the same target noise)
    model_P = DataModel(model.train, model.sigma, target_sigma=model.target_sigma)
    sp_Q, sp_P = shift_spectrum(model), shift_spectrum(model_P)
    to_mse = model.test.trace / model.n
    mu_Q = model.test.mu
    rank_Q = int(np.sum(mu_Q > mu_Q.max() * model.n * np.finfo(float).eps))
    floors = {"floor_P_on_Q": sp_Q.floor_P_on_Q * to_mse, "floor_Q": sp_Q.floor_Q * to_mse, "rank_Q": rank_Q,
              "n": model.n}
    rows = []
    for n_train in (int(v) for v in N):
        tau = model.paper_lr(n_train) * n_train  # the step rule on Σ_y,P (theory.estimators.paper_step)
        try:
            eq_Q, eq_P = DataEquivalent(sp_Q, n_train, tau), DataEquivalent(sp_P, n_train, tau)
        except ValueError as e:
            if "interpolation threshold" not in str(e):
                raise
            k, r_draws = _monte_carlo_stop(model, model_P, n_train, kmax, stopping, draws, int(rng.integers(2**32)))
            risk, sem, method = float(r_draws.mean()), float(r_draws.std(ddof=1) / np.sqrt(draws)), \
                f"rao-blackwell ({draws} draws)"
        else:
            chooser = eq_P if stopping == "validation" else eq_Q
            stop = chooser.gd_stop(kmax)
            k = stop.k if stop.value <= float(chooser.risk("ols")[0]) else -1  # a finite k wins a tie
            risk = float(eq_Q.risk("gd", [k])[0] if k >= 0 else eq_Q.risk("ols")[0])
            sem, method = 0.0, "asymptotic"
        mse = risk * to_mse
        rows.append({"N": n_train, "k": k, "risk": risk, "mse": mse, "psnr": float(mse_to_psnr(mse)),
                     "mse_sem": sem * to_mse, "method": method, **floors})
    return rows


def floor_draws(model: Any, X: Any, weights: Any) -> dict[str, Any]:
    """The two floors, per-pixel MSE, as far as the test crops pin them down.

    * The linear floor R_Q(W*_P), W*_P = Σ_P(Σ_P + σ²I)⁻¹, is linear in Σ_Q = Σ_i w_i x_i x_iᵀ: each image
      contributes (‖(W*_P − I)x_i‖² + σ²‖W*_P‖²_F)/n, so it is resampled with the curves' own image
      weights (paired with them).
    * The Wiener floor of the test distribution is bracketed instead: the in-sample floor of the
      crops, σ² Σ_j λ_j/(λ_j + σ²)/n over the eigenvalues of Σ_Q, is optimistic (W*_Q is fitted to the
      very crops it is scored on; a bootstrap of it is biased upward, measured +0.16 dB on the demo's
      crops), and the 2-fold cross-validated floor (W*_Q of one half scored on the other) is
      pessimistic; the distribution's floor lies between them.

    Args:
        model: the :class:`~theory.datamodel.DataModel` of a spectrum file with P's eigenvectors.
        X: (n_test, n) the test images (``Q_X`` of the spectrum file).
        weights: (B, n_test) image weights (:func:`bridge.paired.image_weights`).

    Returns:
        ``{"floor_P_on_Q": (B,), "floor_Q_bracket": (in-sample, cross-validated)}``; empty when P has
        no eigenvectors (a stationary spectrum).
    """
    P = model.train
    if getattr(P, "V", None) is None:
        return {}
    X = np.asarray(X, dtype=float)
    m, n = X.shape
    s2 = float(model.sigma) ** 2
    mu = np.asarray(P.mu, dtype=float)
    W = (P.V * (mu / (mu + s2))) @ P.V.T
    e = (np.sum((X @ W.T - X) ** 2, axis=1) + s2 * float(np.sum(W**2))) / n

    def wiener(S: np.ndarray) -> np.ndarray:
        return S @ np.linalg.inv(S + s2 * np.eye(n))

    def risk(Wq: np.ndarray, S: np.ndarray) -> float:
        D = Wq - np.eye(n)
        return float(np.trace(D @ S @ D.T) + s2 * np.sum(Wq**2)) / n

    lam = np.clip(np.linalg.eigvalsh(X.T @ X / m), 0, None)
    inside = s2 * float(np.sum(lam / (lam + s2))) / n
    half = np.random.default_rng(0).permutation(m)  # a fixed split: the bracket is a property of the crops
    A, B = X[half[: m // 2]], X[half[m // 2:]]
    SA, SB = A.T @ A / len(A), B.T @ B / len(B)
    crossed = (risk(wiener(SA), SB) + risk(wiener(SB), SA)) / 2
    return {"floor_P_on_Q": weights @ e, "floor_Q_bracket": (inside, crossed)}


def theory_draws(model: Any, rows: Sequence[dict], X: Any, weights: Any, *, draws: int = 8,
                 rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Each theory point's per-pixel MSE under the curves' resamples of the test images.

    R_Q of a fixed W is linear in Σ_Q: each test image contributes (‖(W − I)x_i‖² + σ²‖W‖²_F)/n. The
    theory's point is the expectation of that over the training draws, so a resample w_b of the
    images moves it by Σ_i (w_bi − 1/m) e_i, with e_i the expected contribution of image i. e is
    estimated from ``draws`` training sets of the Gaussian model at the row's own N, step
    (:meth:`theory.datamodel.DataModel.paper_lr`) and k; only this correction carries their
    Monte Carlo error, the point itself stays the row's.

    Args:
        model: the :class:`~theory.datamodel.DataModel` (P with eigenvectors). rows: theory rows of
            :func:`data_theory_curve` (``N``, ``k``, ``mse``). X: (m, n) the test images (``Q_X``).
        weights: (B, m) image weights (:func:`bridge.paired.image_weights`). draws: training sets
            per N. rng: their randomness.

    Returns:
        N → (B,) per-pixel MSE draws; empty when P has no eigenvectors.
    """
    P = model.train
    if getattr(P, "V", None) is None:
        return {}
    X = np.asarray(X, dtype=float)
    n, s2 = X.shape[1], float(model.sigma) ** 2
    root = P.V * np.sqrt(np.clip(np.asarray(P.mu, dtype=float), 0, None))
    out = {}
    for r in rows:
        N, k = int(r["N"]), int(r["k"])
        lr = model.paper_lr(N)
        e = np.zeros(X.shape[0])
        for _ in range(draws):
            Xt = root @ rng.standard_normal((n, N))
            spec = TrainingSpectrum.fit(Xt + float(model.sigma) * rng.standard_normal((n, N)), Xt)
            h = ols_filter(spec.lam)[1] if k < 0 else gd_filter(spec.lam, [k], lr)[1]
            W = spec.weights(h)[0]
            e += (np.sum((X @ W.T - X) ** 2, axis=1) + s2 * float(np.sum(W**2))) / n
        e /= draws
        out[N] = float(r["mse"]) + weights @ e - e.mean()
    return out

