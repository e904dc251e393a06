"""test_draws: every test image under several fixed noise draws, and each image's MSE kept for a
paired bootstrap over test images (issue 18 §2–§3)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from empirical import sweep as sweep_mod  # noqa: E402
from empirical.config import DEFAULTS, RunConfig  # noqa: E402
from empirical.ledger import Ledger  # noqa: E402
from empirical.models import build_model  # noqa: E402
from empirical.seeds import TEST_DRAW_STRIDE  # noqa: E402
from empirical.tasks import make_task  # noqa: E402
from empirical.train import evaluate  # noqa: E402
from tests.helpers import raises_one_line  # noqa: E402


def test_draws_average_independent_fixed_draws():
    """draws = D is the mean of D one-draw evaluations at seeds seed + j·stride (draw 0 is the one-draw
    default), and each image's MSE averages over the draws."""
    torch.manual_seed(0)
    task = make_task("denoise", sigma=0.2)
    model = build_model("unet", in_chans=1, out_chans=1, width=4, num_pool_layers=1)
    x = torch.rand(6, 1, 8, 8)
    ids = torch.arange(6) + 100
    three = evaluate(model, task, x, seed=7, ids=ids, draws=3, per_image=True, batch=4)
    one = [evaluate(model, task, x, seed=7 + j * TEST_DRAW_STRIDE, ids=ids, per_image=True, batch=4) for j in range(3)]
    assert one[0]["mse"] == evaluate(model, task, x, seed=7, ids=ids)["mse"]
    for k in ("mse", "psnr", "ssim", "nmse"):
        assert three[k] == pytest.approx(np.mean([o[k] for o in one]), rel=1e-6)
    np.testing.assert_allclose(three["per_image_mse"], np.mean([o["per_image_mse"] for o in one], axis=0), rtol=1e-12)
    assert three["per_image_mse"].mean() == pytest.approx(three["mse"], rel=1e-6)
    assert len({float(o["mse"]) for o in one}) == 3  # the draws differ


def test_test_draws_is_validated_and_keeps_old_ids_at_its_default():
    base = RunConfig.from_dict({**DEFAULTS, "N": 8})
    assert "test_draws" not in base.identity()
    assert RunConfig.from_dict({**DEFAULTS, "N": 8, "test_draws": 4}).id != base.id
    raises_one_line(lambda: RunConfig.from_dict({**DEFAULTS, "test_draws": 0}),
                    "test_draws=0 must be an integer from 1 to 64")


def test_a_run_keeps_each_test_images_mse(tmp_path):
    cfg = {**DEFAULTS, "name": "t", "data": "deadleaves", "size": 8, "N": 4, "width": 4, "depth": 1, "n_val": 4,
           "n_test": 5, "batch_size": 4, "min_steps": 4, "max_steps": 4, "eval_every": 4, "device": "cpu",
           "test_draws": 2}
    path = sweep_mod.run_sweep(cfg, tmp_path, progress=False).ledger
    with Ledger(path) as led:
        (row,) = led.rows()
    m = row["metrics"]
    per = m["test_per_image"]["mse"]
    assert row["status"] == "done" and len(per) == 5 and m["conventions"]["test_draws"] == 2
    assert np.mean(per) == pytest.approx(m["test"]["mse"], rel=1e-5)
    # and its PSNR (mean over the draws): their mean is the row's test PSNR, a mean of per-image PSNRs
    per_psnr = m["test_per_image"]["psnr"]
    assert len(per_psnr) == 5 and np.mean(per_psnr) == pytest.approx(m["test"]["psnr"], rel=1e-9)


def test_the_linear_estimators_exact_noise_expectation_is_the_mean_over_many_draws():
    """expected_test_mse (the linear-exact rows' test MSE) against its brute-force twin: 64 fixed noise
    draws through the same evaluate, per image, within 4 SEM; and at σ → 0 it is the bias alone."""
    from empirical.linear import as_module, expected_test_mse

    rng = np.random.default_rng(0)
    n, sigma = 16, 0.3
    W = np.eye(n) * 0.6 + 0.05 * rng.standard_normal((n, n))
    x = torch.from_numpy(rng.random((5, 1, 4, 4)))
    exact = expected_test_mse(W, x, sigma)
    task, model = make_task("denoise", sigma=sigma), as_module(W, (1, 4, 4), (1, 4, 4))
    ids = torch.arange(5)
    draws = np.array([evaluate(model, task, x.float(), seed=3 + j * TEST_DRAW_STRIDE, ids=ids, clamp=False,
                               per_image=True)["per_image_mse"] for j in range(64)])
    sem = draws.std(axis=0, ddof=1) / 8
    assert np.all(np.abs(draws.mean(axis=0) - exact) < 4 * sem), (draws.mean(axis=0) - exact) / sem
    X = x.reshape(5, -1).numpy()
    np.testing.assert_allclose(expected_test_mse(W, x, 0.0), np.mean((X @ W.T - X) ** 2, axis=1), rtol=1e-12)
    raises_one_line(lambda: expected_test_mse(np.eye(3), x, sigma), r"W has shape \(3, 3\); denoising 16-pixel images")
