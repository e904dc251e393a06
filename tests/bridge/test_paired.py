"""bridge.paired: intervals over test images and seeds cover the truth; paired differences are paired."""

import numpy as np
import pytest

from bridge.paired import curve_bands, difference_interval, image_weights, point_draws
from bridge.uncertainty import mse_to_psnr
from tests.helpers import raises_one_line

MU, SC, TAU = 0.01, 0.8, 0.1  # mean error, image-difficulty spread (log), seed effect (log)


def _errors(rng, S, n, c=None, tau=TAU, shape=4.0):
    """e_si = μ · c_i · a_s · ε_si: image difficulty c (lognormal), seed effect a, gamma noise (mean 1)."""
    c = np.exp(SC * rng.standard_normal(n)) if c is None else c
    a = np.exp(tau * rng.standard_normal(S))
    return MU * c[None] * a[:, None] * rng.gamma(shape, 1 / shape, size=(S, n)), c


def test_the_90_percent_interval_covers_the_truth_at_about_its_level():
    """Known answer: E e = μ·E c·E a = μ·exp(SC²/2)·exp(TAU²/2) over new images and new seeds."""
    rng = np.random.default_rng(0)
    truth = mse_to_psnr(MU * np.exp(SC**2 / 2) * np.exp(TAU**2 / 2))
    hits = []
    for _ in range(200):
        E, _ = _errors(rng, 5, 200)
        d = point_draws(list(E), image_weights(200, 300, rng), rng)
        lo, hi = np.percentile(d, [5, 95])
        hits.append(mse_to_psnr(hi) <= truth <= mse_to_psnr(lo))
    assert 0.82 <= np.mean(hits) <= 0.97, np.mean(hits)  # 200 datasets: SE 0.02


def test_images_shared_across_curves_make_differences_paired():
    """Two curves on the same images: where which images were drawn dominates (small seed effects and
    run-to-run noise per image), their
    difference's interval is far narrower paired than when each curve resamples its own images, and it
    still covers the true difference."""
    rng = np.random.default_rng(1)
    A, c = _errors(rng, 4, 400, tau=0.01, shape=100.0)
    B, _ = _errors(rng, 4, 400, c=c, tau=0.01, shape=100.0)
    B *= 0.9  # curve b is 10% better on every image: a true difference of 10 log10(1/0.9) dB
    w = image_weights(400, 400, rng)
    da, db = mse_to_psnr(point_draws(list(A), w, rng)), mse_to_psnr(point_draws(list(B), w, rng))
    lo, hi = difference_interval(db, da)
    own = mse_to_psnr(point_draws(list(B), image_weights(400, 400, rng), rng))
    lo_u, hi_u = difference_interval(own, da)
    assert hi - lo < 0.5 * (hi_u - lo_u)
    assert lo < 10 * np.log10(1 / 0.9) < hi


def test_curve_bands_rows():
    rng = np.random.default_rng(2)
    runs, errors, curve = [], {}, []
    for N in (16, 64):
        for w in (4, 8):
            E, _ = _errors(rng, 2, 50)
            for s in range(2):
                rid = f"{N}-{w}-{s}"
                runs.append({"run_id": rid, "status": "done", "N": N, "width": w, "seed": s})
                errors[rid] = E[s] / (1 + (w == 8))  # width 8 is better
        curve.append({"N": N, "width": 8})
    rows, draws = curve_bands(curve, runs, errors, image_weights(50, 200, rng), rng=rng)
    for r in rows:
        mine = [errors[f"{r['N']}-8-{s}"] for s in range(2)]
        assert r["mse"] == pytest.approx(np.mean(mine)) and r["psnr"] == pytest.approx(mse_to_psnr(np.mean(mine)))
        assert r["psnr_lo"] < r["psnr"] < r["psnr_hi"] and r["mse_lo"] < r["mse"] < r["mse_hi"]
        assert r["seeds"] == 2 and r["test_images"] == 50 and draws[r["N"]].shape == (200,)
    raises_one_line(lambda: curve_bands(curve, runs, {}, image_weights(50, 10, rng), rng=rng),
                    "kept no per-image test errors")
    raises_one_line(lambda: point_draws([np.ones(7)], image_weights(50, 10, rng), rng), "must share one test set")
    raises_one_line(lambda: image_weights(1, 10, rng), "needs at least 2")
