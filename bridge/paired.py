"""Intervals that include the test sample: a paired bootstrap over test images and seeds.

A curve point's test MSE is a mean over seeds (independent training runs) of a mean over the test
images; both are samples. Its interval here resamples both:

* **test images** — one multinomial resample of the n test images per bootstrap draw
  (:func:`image_weights`), *shared by every run and every curve*, so that differences between
  curves (a crossing, a gap to a floor) are paired: the same hard images count in both;
* **seeds** — per curve point, the runs are resampled with replacement.

Draw b of a point is ``PSNR_b = 10 log₁₀(1 / mean over resampled seeds s of Σ_i w_bi e_si)``, with
``e_si`` run s's MSE on image i (mean over its noise draws: ``test_draws``,
:func:`empirical.rows.test_metrics`) and ``w_b`` the image weights (counts / n). The interval is
the percentile interval of the draws at ``level``. One PSNR convention throughout: the PSNR of the
mean MSE (``10 log₁₀(1/MSE)``, images in [0, 1]), not a mean of per-image PSNRs.

With fewer than 3 seeds, resampling seeds says little about the seed-to-seed spread (two seeds give
three possible resamples): the rows say how many seeds an interval rests on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .results import read_ledger
from .uncertainty import check_level, inflate_replicates, mse_to_psnr

__all__ = ["image_errors", "image_weights", "point_draws", "run_draws", "curve_bands", "difference_interval"]


def image_errors(path: str | Path, metric: str = "mse") -> dict[str, np.ndarray]:
    """Each finished run's MSE (or PSNR) per test image, from a sweep's ledger.

    Args:
        path: a sweep directory or its ``ledger.sqlite``.
        metric: ``"mse"`` or ``"psnr"`` (each image's PSNR averaged over its noise draws; their mean
            is the run's ``test_psnr``).

    Returns:
        ``{run_id: (n_test,) float64}`` for the done runs that kept them (runs of sweeps older than
        ``test_per_image``, or than its ``psnr``, are absent).
    """
    out = {}
    for r in read_ledger(path):
        per = (r.get("metrics") or {}).get("test_per_image", {}).get(metric)
        if r.get("status") == "done" and per:
            out[r["run_id"]] = np.asarray(per, dtype=float)
    return out


def image_weights(n_images: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` resamples of ``n_images`` test images with replacement, as weights.

    Returns:
        (n_boot, n_images) float64: counts / n_images (each row sums to 1).
    """
    if n_images < 2:
        raise ValueError(f"{n_images} test image(s): a bootstrap over test images needs at least 2")
    counts = rng.multinomial(n_images, np.full(n_images, 1.0 / n_images), size=n_boot)
    return counts / n_images


def point_draws(errors: Sequence[np.ndarray], weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap draws of one curve point's MSE.

    Args:
        errors: per run (seed) of the point, its (n,) MSE per test image.
        weights: (B, n) image weights of :func:`image_weights` (shared across points and curves).
        rng: resamples the seeds.

    Returns:
        (B,) MSE draws: per draw, the mean over resampled seeds of the weighted image mean.
    """
    E = np.vstack([np.asarray(e, dtype=float) for e in errors])  # (S, n)
    if E.shape[1] != weights.shape[1]:
        raise ValueError(f"runs scored on {E.shape[1]} test images, the weights resample {weights.shape[1]}: the "
                         "curves compared must share one test set")
    per_seed = weights @ E.T  # (B, S): every run on the same resampled images
    S = E.shape[0]
    if S > 1:  # resampling S values shrinks their spread by (S − 1)/S: restore it (the unbiased variance)
        centre = per_seed.mean(axis=1, keepdims=True)
        per_seed = centre + (per_seed - centre) * np.sqrt(S / (S - 1))
    pick = rng.integers(S, size=(weights.shape[0], S))
    return np.take_along_axis(per_seed, pick, axis=1).mean(axis=1)


def run_draws(runs: Sequence[dict], errors: dict[str, np.ndarray], weights: np.ndarray, *,
              log: bool = True) -> np.ndarray:
    """Every run's test metric under each shared resample of the test images, for the law fits.

    Args:
        runs: m run rows (``run_id``, ``N``); each needs its per-image values.
        errors: :func:`image_errors` of their sweep(s) (MSE, or PSNR with ``log=False``).
        weights: (B, n) of :func:`image_weights`.
        log: scale the seeds' deviations in log (a positive error) or as they are (a PSNR in dB).

    Returns:
        (B, m): row b is every run scored on resample b (its weighted image mean), with each N's
        deviations between its seeds scaled by ``√(S/(S−1))``
        (:func:`bridge.uncertainty.inflate_replicates`, as :func:`point_draws` does), so that a
        bootstrap resampling the S seeds of each N has their unbiased spread. Pass it as ``draws``
        to :func:`bridge.report.analyse` so that its intervals include the test sample.
    """
    missing = [r["run_id"] for r in runs if r["run_id"] not in errors]
    if missing or not runs:
        raise ValueError(f"run {missing[0] if missing else '?'} kept no per-image test errors: re-run its sweep with "
                         "this version (a new test_per_image metric)")
    E = np.vstack([np.asarray(errors[r["run_id"]], dtype=float) for r in runs])  # (m, n)
    if E.shape[1] != weights.shape[1]:
        raise ValueError(f"runs scored on {E.shape[1]} test images, the weights resample {weights.shape[1]}: the "
                         "runs must share one test set")
    return inflate_replicates([float(r["N"]) for r in runs], weights @ E.T, log=log)


def curve_bands(curve: Sequence[dict], runs: Sequence[dict], errors: dict[str, np.ndarray], weights: np.ndarray, *,
                level: float = 0.9, rng: np.random.Generator) -> tuple[list[dict], dict[Any, np.ndarray]]:
    """Intervals of a curve's points over test images and seeds.

    Args:
        curve: rows ``{N, width, …}`` of :func:`bridge.results.runs_curve` (the kept width per N).
        runs: the tidy run rows the curve was made from (``run_id``, ``N``, ``width``, ``status``).
        errors: :func:`image_errors` of their sweep.
        weights: shared image weights (:func:`image_weights`).
        level: interval level.
        rng: resamples seeds.

    Returns:
        ``(rows, draws)``: each curve row with ``mse``/``psnr`` of the mean over seeds and images and
        ``mse_lo``, ``mse_hi``, ``psnr_lo``, ``psnr_hi``, ``test_images``, ``seeds``; and the (B,) PSNR
        draws per N (for paired differences: :func:`difference_interval`).

    Raises:
        ValueError: a kept run has no per-image errors (a sweep older than ``test_per_image``).
    """
    check_level(level)
    q = 50 * (1 - level), 50 * (1 + level)
    rows, draws = [], {}
    for row in curve:
        kept = [r for r in runs if r.get("status") == "done" and r["N"] == row["N"] and r.get("width") == row.get("width")]
        missing = [r["run_id"] for r in kept if r["run_id"] not in errors]
        if missing or not kept:
            raise ValueError(f"run {missing[0] if missing else '?'} (N = {row['N']}) kept no per-image test errors: "
                             "re-run its sweep with this version (a new test_per_image metric), or use the SEM over seeds")
        E = [errors[r["run_id"]] for r in kept]
        mse_b = point_draws(E, weights, rng)
        mse = float(np.mean([e.mean() for e in E]))
        psnr_b = mse_to_psnr(mse_b)
        lo, hi = np.percentile(mse_b, q)
        rows.append({**row, "mse": mse, "psnr": float(mse_to_psnr(mse)), "mse_lo": float(lo), "mse_hi": float(hi),
                     "psnr_lo": float(mse_to_psnr(hi)), "psnr_hi": float(mse_to_psnr(lo)),
                     "test_images": int(weights.shape[1]), "seeds": len(kept)})
        draws[row["N"]] = psnr_b
    return rows, draws


def difference_interval(a: np.ndarray, b: np.ndarray, *, level: float = 0.9) -> tuple[float, float]:
    """Percentile interval of a paired difference of draws (``a − b``, e.g. PSNR of two curves at one N
    under the same image resamples)."""
    check_level(level)
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    lo, hi = np.percentile(d, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)
