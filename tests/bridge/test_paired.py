"""bridge.paired: intervals over test images and seeds cover the truth; paired differences are paired."""

import numpy as np
import pytest

from bridge.laws import PowerLaw
from bridge.paired import (
    curve_bands,
    difference_interval,
    image_weights,
    point_draws,
    run_draws,
)
from bridge.uncertainty import bootstrap, mse_to_psnr
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


def _width_runs(rng, gains, N=4096, n=300, S=3):
    """Runs at one N whose width w has test MSE μ·c_i·(1 − gains[w])·ε (shared images c)."""
    c = np.exp(SC * rng.standard_normal(n))
    runs, errors = [], {}
    for w, g in gains.items():
        for s in range(S):
            rid = f"{w}-{s}"
            runs.append({"run_id": rid, "status": "done", "N": N, "width": w, "seed": s})
            errors[rid] = MU * c * (1 - g) * rng.gamma(50, 1 / 50, size=n)
    return runs, errors


def test_width_saturation_is_identified_only_inside_the_widths_trained():
    from bridge.demo import width_saturation

    rng = np.random.default_rng(3)
    w = image_weights(300, 400, rng)
    runs, err = _width_runs(rng, {4: 0.0, 8: 0.2, 12: 0.2})  # 8 beats 4; 12 does not beat 8
    f = width_saturation(4096, runs, err, w, level=0.9, rng=rng)
    assert f["identified"] and f["value"] == 8 and (f["lo"], f["hi"]) == (4, 8), f
    runs, err = _width_runs(rng, {4: 0.0, 8: 0.1, 12: 0.2})  # still improving at the widest
    f = width_saturation(4096, runs, err, w, level=0.9, rng=rng)
    assert not f["identified"] and f["value"] is None and "beyond the widths trained" in f["reason"]
    runs, err = _width_runs(rng, {4: 0.0, 8: 0.0, 12: 0.0})  # no width helps
    f = width_saturation(4096, runs, err, w, level=0.9, rng=rng)
    assert not f["identified"] and "at or below the smallest width" in f["reason"]
    f = width_saturation(4096, runs[:3], err, w, level=0.9, rng=rng)
    assert not f["identified"] and "one width" in f["reason"]


def test_gain_per_doubling_and_crossing_intervals_are_paired():
    from bridge.demo import paired_findings

    rng = np.random.default_rng(4)
    w = image_weights(300, 400, rng)
    runs, err = _width_runs(rng, {4: 0.0}, N=1024)
    more, err2 = _width_runs(rng, {4: 0.5}, N=4096)  # half the error: +3.01 dB over 2 doublings
    for r in more:
        r["run_id"] = "b" + r["run_id"]
    err.update({"b" + k: v for k, v in err2.items()})
    runs += more
    curve = [{"N": N, "width": 4} for N in (1024, 4096)]
    rows, draws = curve_bands(curve, runs, err, w, rng=rng)
    out = paired_findings(rows, draws, draws, runs, err, w, floor_db=0.0, level=0.9, rng=rng)
    gain = out["network"][0]
    assert gain["identified"] and gain["lo"] < gain["value"] < gain["hi"]
    assert abs(gain["value"] - (rows[1]["psnr"] - rows[0]["psnr"]) / 2) < 1e-12
    assert out["network-linear"][4096] == (0.0, 0.0)  # a curve against itself: paired, exactly 0
    assert all(lo > 0 for lo, _ in out["network-floor"].values())


def test_law_fits_on_run_draws_cover_the_truth_through_the_test_sample():
    """A power law fitted to runs scored on one shared test set: its amplitude moves with which images
    were drawn (every point at once). Refits on :func:`run_draws` (resample b of the images, seeds
    resampled within N) cover the true amplitude at about the 90% level; refits over the seeds alone
    (the same bootstrap without ``draws``) miss it most of the time."""
    rng = np.random.default_rng(7)
    Ns, S, n, beta, alpha, tau = (16, 64, 256, 1024, 4096), 2, 200, 0.05, -0.3, 0.02
    truth = np.log10(beta * np.exp(SC**2 / 2) * np.exp(tau**2 / 2))  # E over images, seeds and noise
    runs = [{"run_id": f"{N}-{s}", "N": N} for N in Ns for s in range(S)]
    N = np.array([r["N"] for r in runs], dtype=float)
    hits, hits_seeds = [], []
    for _ in range(60):
        c = np.exp(SC * rng.standard_normal(n))  # one test set for every run
        errors = {r["run_id"]: beta * r["N"] ** alpha * _errors(rng, 1, n, c=c, tau=tau, shape=100.0)[0][0] / MU
                  for r in runs}
        y = np.array([errors[r["run_id"]].mean() for r in runs])
        draws = run_draws(runs, errors, image_weights(n, 100, rng))
        assert draws.shape == (100, len(runs))
        for out, d in ((hits, draws), (hits_seeds, None)):
            lo, hi = bootstrap(PowerLaw(), N, y, draws=d, n_boot=100, rng=rng).ci(0.9)["log10_amplitude"]
            out.append(lo <= truth <= hi)
    assert 0.8 <= np.mean(hits) <= 1.0, np.mean(hits)  # 60 datasets: SE 0.04
    assert np.mean(hits_seeds) <= 0.4, np.mean(hits_seeds)


def test_run_draws_are_every_run_on_the_shared_resamples():
    """Row b is every run's weighted image mean under resample b; each N's two seeds moved apart by √2."""
    rng = np.random.default_rng(2)
    E, _ = _errors(rng, 4, 50)
    runs = [{"run_id": str(i), "N": (16, 16, 64, 64)[i]} for i in range(4)]
    errors = {str(i): E[i] for i in range(4)}
    w = image_weights(50, 30, rng)
    d = run_draws(runs, errors, w)
    raw = w @ E.T
    for j in (0, 2):  # log deviations from each N's log mean, scaled by √(2/1)
        m = np.log(raw[:, j:j + 2]).mean(axis=1, keepdims=True)
        np.testing.assert_allclose(np.log(d[:, j:j + 2]) - m, np.sqrt(2) * (np.log(raw[:, j:j + 2]) - m), rtol=1e-10)
    lin = run_draws(runs, errors, w, log=False)  # a PSNR: deviations from each N's mean, as they are
    for j in (0, 2):
        m = raw[:, j:j + 2].mean(axis=1, keepdims=True)
        np.testing.assert_allclose(lin[:, j:j + 2] - m, np.sqrt(2) * (raw[:, j:j + 2] - m), rtol=1e-10)
    raises_one_line(lambda: run_draws(runs[:1] + [{"run_id": "x", "N": 16}], errors, w), "per-image")
    raises_one_line(lambda: run_draws(runs, errors, w[:, :10]), "one test set")
