"""Training targets (empirical.targets): clean, noisy (fixed and resampled), split; bad input; linear-exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from empirical.config import DEFAULTS, RunConfig, expand
from empirical.linear import fit_spectrum, training_pairs
from empirical.plan import load_data, plan
from empirical.operators import fft2c
from empirical.seeds import TARGET_NOISE_SEED, TRAIN_NOISE_SEED
from empirical.targets import Supervision, Target, noisy_targets, split_loss
from empirical.tasks import make_task

SIGMA = 0.1


def _images(n: int = 6, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand((n, 1, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_clean_runs_keep_their_identity():
    """The new keys stay out of a clean run's identity, so older sweeps resume under the same run ids."""
    run = RunConfig()
    assert not {"target", "train_noise", "split_fraction", "split_center"} & set(run.identity())
    noisy = RunConfig(target="noisy")
    assert noisy.identity()["target"] == "noisy" and noisy.id != run.id
    assert RunConfig(train_noise="fixed").id != run.id


@pytest.mark.parametrize("overrides, words", [
    ({"task": "mri", "target": "noisy"}, "use target='split'"),
    ({"task": "sr", "target": "noisy-resampled"}, "task 'denoise' only"),
    ({"target": "split"}, "has none"),
    ({"target": "noisy", "loss": "l1"}, "use loss='mse'"),
    ({"target": "noisy-resampled", "arch": "linear-exact", "size": 8}, "use target='noisy'"),
    ({"target": "bogus"}, "use clean, noisy"),
    ({"train_noise": "often"}, "use 'fresh'"),
    ({"task": "mri", "target": "split", "split_fraction": 0.0}, "must lie in (0, 1)"),
    ({"task": "mri", "target": "split", "coils": 4}, "single-coil"),
])
def test_bad_targets_are_one_line_errors(overrides, words):
    cfg = {**DEFAULTS, "data": "phantoms", "size": 16, **overrides}
    with pytest.raises(ValueError) as e:
        for run in expand(cfg):
            plan(run)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_noisy_targets_are_fixed_per_example_and_nested():
    x = _images()
    ids = torch.arange(10, 16)
    t = noisy_targets(x, SIGMA, seed=5, ids=ids)
    assert torch.equal(t[:3], noisy_targets(x[:3], SIGMA, seed=5, ids=ids[:3]))  # nested over N
    assert torch.equal(t, noisy_targets(x, SIGMA, seed=5, ids=ids))  # drawn once: the same every call
    assert not torch.equal(t, noisy_targets(x, SIGMA, seed=6, ids=ids))
    z = (t - x) / SIGMA
    assert abs(float(z.std()) - 1) < 0.15 and abs(float(z.mean())) < 0.15


def test_supervision_batches():
    task = make_task("denoise", sigma=SIGMA)
    x = _images(n=12)
    ids = torch.arange(12)
    idx = torch.tensor([3, 1, 3])
    gen = torch.Generator().manual_seed(0)
    noisy = Supervision.build(task, Target("noisy"), x, ids=ids, mask_ids=None, seed=2)
    i1, t1 = noisy.batch(idx, gen)
    i2, t2 = noisy.batch(idx, gen)
    assert torch.equal(t1, t2) and torch.equal(t1, noisy_targets(x[idx], SIGMA, seed=2 + TARGET_NOISE_SEED, ids=idx))
    assert not torch.equal(i1, i2)  # fresh input noise every step
    res = Supervision.build(task, Target("noisy-resampled"), x, ids=ids, mask_ids=None, seed=2)
    assert not torch.equal(res.batch(idx, gen)[1], res.batch(idx, gen)[1])
    fixed = Supervision.build(task, Target("clean", train_noise="fixed"), x, ids=ids, mask_ids=None, seed=2)
    f1, c1 = fixed.batch(idx, gen)
    want = task.corrupt_fixed(x[idx], seed=2 + TRAIN_NOISE_SEED, noise_ids=idx)[0]
    assert torch.equal(f1, want) and torch.equal(c1, x[idx])


def test_split_loss_is_the_image_mse_when_gamma_is_everything():
    """Parseval: with Γ = every column the k-space loss equals the image MSE against the noisy image."""
    g = torch.Generator().manual_seed(1)
    out = torch.rand((3, 1, 8, 6), generator=g, dtype=torch.float64)
    noisy = torch.rand((3, 1, 8, 6), generator=g, dtype=torch.float64)
    every = torch.ones((3, 6), dtype=torch.bool)
    got = split_loss(out, (fft2c(noisy), every))
    assert torch.allclose(got, torch.mean((out - noisy) ** 2), rtol=1e-12)
    some = every.clone()
    some[:, :3] = False
    assert float(split_loss(out, (fft2c(noisy), some))) < float(got)


def test_linear_exact_noisy_targets_enter_the_fit():
    """The fit's X Yᵀ V uses the fixed noisy copies: equal to the pairs built by hand, unequal to clean."""
    task = make_task("denoise", sigma=SIGMA)
    x = _images(n=40, size=4).float()
    ids = torch.arange(40)

    def targets(xb, ib):
        return noisy_targets(xb, SIGMA, seed=TARGET_NOISE_SEED, ids=ib)

    for chunk in (7, 1024):  # the Gram path (N < m is false here: m = 16) and chunked accumulation agree
        spec = fit_spectrum(task, x, seed=TRAIN_NOISE_SEED, ids=ids, chunk=chunk, targets=targets)
        Y, X = training_pairs(task, x, seed=TRAIN_NOISE_SEED, ids=ids, targets=targets)
        np.testing.assert_allclose(spec.XYV, X @ Y.T @ spec.V, rtol=1e-9, atol=1e-9)
    clean = fit_spectrum(task, x, seed=TRAIN_NOISE_SEED, ids=ids)
    assert not np.allclose(clean.XYV, spec.XYV)


def _linear_run(target: str, N: int):
    from empirical.linear import run_linear_exact

    cfg = {**DEFAULTS, "data": "photos", "size": 8, "n_val": 64, "n_test": 20, "N": N, "arch": "linear-exact",
           "target": target, "sigma": 0.2}
    (run,) = expand(cfg)
    p = plan(run)
    return run_linear_exact(p, load_data(p))


def test_linear_exact_noisy_targets_cost_examples_and_catch_up():
    """Noise2Noise for the learned linear map: worse than clean targets at small N, nearly equal at large N."""
    small = {t: _linear_run(t, 16).metrics["test"]["mse"] for t in ("clean", "noisy")}
    large = {t: _linear_run(t, 4096).metrics["test"]["mse"] for t in ("clean", "noisy")}
    # measured: 1.41 at N = 16, 1.09 at N = 4096 (σ = σ_t = 0.2, 8×8 crops, m = 64)
    assert small["noisy"] > 1.2 * small["clean"]
    assert large["noisy"] / large["clean"] < 1.15


def _mri_split_set(N: int = 12, size: int = 8, *, complex_input: bool = False):
    task = make_task("mri", sigma=0.05, accel=2.0, center_fraction=0.25, complex_input=complex_input)
    x = _images(n=N, size=size, seed=3)
    ids = torch.arange(100, 100 + N)
    return task, x, ids


def test_split_training_data_is_one_measurement_per_example():
    """Input from Λ and target on Γ come from one fixed noisy measurement; Λ ∪ Γ = the example's mask."""
    from empirical.targets import split_training_data

    task, x, ids = _mri_split_set()
    target = Target("split")
    inp, k, lam, gam = split_training_data(task, target, x, ids=ids, mask_ids=ids, seed=4)
    measured = task.column_masks((8, 8), ids)
    assert torch.equal(lam | gam, measured) and bool(lam.any(1).all()) and bool(gam.any(1).all())
    centre = torch.from_numpy(task.operator_spec((8, 8)).center_columns())
    assert bool((lam & gam)[:, centre].all())  # split_center "both"
    inp2, k2, lam2, gam2 = split_training_data(task, target, x[:5], ids=ids[:5], mask_ids=ids[:5], seed=4)
    assert torch.equal(k2, k[:5]) and torch.equal(lam2, lam[:5]) and torch.equal(inp2, inp[:5])  # nested over N
    from empirical.operators import ifft2c
    zf = ifft2c(torch.where(lam[:, None, None, :], k, torch.zeros((), dtype=k.dtype))).abs()
    assert torch.allclose(inp, zf)
    noise = (k - fft2c(x)) / 0.05
    assert abs(float(noise.real.std()) - 1) < 0.2


@pytest.mark.parametrize("complex_input", [False, True])
def test_torch_training_on_the_split_loss_follows_the_theory_path(complex_input):
    """A bias-free LinearNet trained by full-batch GD on the sweep's split loss equals theory.split.SplitPath's W^k.

    split_loss is the theory's ½Σᵢ‖P_Γᵢ F W yᵢ − kᵢ‖² times 2/(B·n), so GD at step η·B·n/2 on it is GD at η.
    """
    from empirical.models import LinearNet
    from empirical.targets import split_training_data
    from theory.split import SplitPath

    task, x, ids = _mri_split_set(complex_input=complex_input)
    inp, k, _, gam = split_training_data(task, Target("split"), x, ids=ids, mask_ids=ids, seed=0)
    Y = inp.flatten(1).numpy().T
    path = SplitPath.fit(Y, k[:, 0].numpy(), gam.numpy(), shape=(8, 8))
    net = LinearNet(tuple(inp.shape[1:]), (1, 8, 8)).double()
    opt = torch.optim.SGD(net.parameters(), lr=path.lr_ * x.shape[0] * 64 / 2)
    for _ in range(7):
        opt.zero_grad()
        split_loss(net(inp), (k, gam)).backward()
        opt.step()
    want = path.weights(7)
    np.testing.assert_allclose(net.weight.detach().numpy(), want, rtol=1e-8, atol=1e-10 * np.abs(want).max())


@pytest.mark.parametrize("complex_input", [False, True])
def test_linear_exact_split_rows_say_which_input_the_theory_describes(complex_input, tmp_path):
    """The split arm labels its input in every row: theory.split's risk describes the [Re, Im] input only."""
    from empirical.linear import SPLIT_INPUT, run_linear_exact

    cfg = {**DEFAULTS, "task": "mri", "data": "phantoms", "size": 8, "n_val": 4, "n_test": 4, "N": 8,
           "arch": "linear-exact", "target": "split", "sigma": 0.01, "complex_input": complex_input}
    (run,) = expand(cfg)
    p = plan(run)
    row = run_linear_exact(p, load_data(p), tmp_path)
    assert row.status == "done", row.reason
    label = row.metrics["conventions"]["split_input"]
    assert label == SPLIT_INPUT[complex_input]
    assert ("does not describe" in label) is (not complex_input)
