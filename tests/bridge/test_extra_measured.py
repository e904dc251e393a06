"""bridge.extra.measured_extra_examples: the extra-examples factor read off measured curves, no law."""

import numpy as np
import pytest

from bridge.extra import compare_targets, measured_extra_examples
from bridge.paired import image_weights

N = np.array([16, 32, 64, 128, 256, 512, 1024, 2048])


def _curve(rng, Ns, factor, c, S=3, floor=2e-3):
    """Per N, S runs' per-image MSE of the curve floor + 0.1·(N/factor)^-0.7, image difficulty c."""
    return [[(floor + 0.1 * (n / factor) ** -0.7) * c * rng.gamma(200, 1 / 200, size=c.size) for _ in range(S)]
            for n in Ns]


def test_a_known_factor_is_recovered_inside_the_data_and_not_claimed_outside():
    rng = np.random.default_rng(0)
    c = np.exp(0.5 * rng.standard_normal(400))
    hits, width = [], []
    for _ in range(20):
        sup, ss = _curve(rng, N, 1.0, c), _curve(rng, N, 3.0, c)  # true factor 3 at every N
        rows = measured_extra_examples(sup, N, ss, N, image_weights(400, 200, rng), level=0.9, rng=rng)
        inside = [r for r in rows if r["N"] <= 512]  # 3·512 = 1536 < 2048: measured
        assert all(r["identified"] for r in inside)
        hits += [r["lo"] <= 3.0 <= r["hi"] for r in inside]
        width += [r["hi"] / r["lo"] for r in inside]
        assert not rows[-1]["identified"] and "extrapolation" in rows[-1]["reason"]  # 3·2048 > 2048
    assert np.mean(hits) >= 0.85, np.mean(hits)  # with the interpolation spread: straight segments alone gave 0.73
    assert np.median(width) < 1.5


def test_compare_targets_reads_measured_curves_first_and_says_which():
    rng = np.random.default_rng(1)
    c = np.exp(0.5 * rng.standard_normal(100))
    runs, errors = [], {}
    for t, f in (("clean", 1.0), ("noisy", 2.0)):
        for n, per_seed in zip(N, _curve(rng, N, f, c, S=2)):
            for s, e in enumerate(per_seed):
                rid = f"{t}-{n}-{s}"
                runs.append({"run_id": rid, "status": "done", "arch": "linear-exact", "target": t, "N": int(n),
                             "width": 16, "seed": s, "val_mse": float(e.mean()), "test_mse": float(e.mean())})
                errors[rid] = e
    res = compare_targets(runs, n_boot=50, rng=rng, errors=errors, n_boot_test=100)
    methods = {r["N"]: r["method"] for r in res["extra"]}
    assert methods[16.0] == "measured" and methods[2048.0] == "law"
    plain = compare_targets(runs, n_boot=50, rng=rng)
    assert {r["method"] for r in plain["extra"]} == {"law"}
    # with per-image errors every curve point is the PSNR of its mean MSE with an interval over test
    # images and seeds that holds it; without them, the SEM over seeds alone
    for r in res["curves"]:
        mean = np.mean([errors[x["run_id"]].mean() for x in runs if x["target"] == r["target"] and x["N"] == r["N"]])
        assert r["mse"] == pytest.approx(mean, rel=1e-12) and r["psnr"] == pytest.approx(-10 * np.log10(mean))
        assert r["psnr_lo"] < r["psnr"] < r["psnr_hi"] and r["test_images"] == 100
    assert all("psnr_lo" not in r for r in plain["curves"])
