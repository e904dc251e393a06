"""arch = "linear-exact": the learned linear estimator in closed form, as a sweep row.

(a) its GD path is the literal GD loop on the same training pairs (the twin, rtol 1e-8) and its k is
the brute-force validation optimum over every integer k (and k = ∞); (b) in a sweep beside U-Nets it gives one row per N, scored by
the same evaluate path (identical input metrics); (c) on real crops its test PSNR rises with N
towards the Wiener filter's; (d) what it cannot run is one line at `reconscale sweep`, nothing written.
"""

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bridge.cli import main as cli_main  # noqa: E402
from empirical import linear as L  # noqa: E402
from empirical.config import DEFAULTS, RunConfig, expand, load_config  # noqa: E402
from empirical.ledger import Ledger  # noqa: E402
from empirical.plan import load_data, plan  # noqa: E402
from empirical.run import run_one  # noqa: E402
from empirical.sweep import run_sweep  # noqa: E402
from empirical.seeds import TEST_NOISE_SEED, TRAIN_NOISE_SEED, VAL_NOISE_SEED  # noqa: E402
from theory.estimators import gd_filter, gd_loop  # noqa: E402

TASKS = {
    "denoise": {"task": "denoise", "size": 4},
    "sr": {"task": "sr", "size": 4, "scale": 2, "sigma": 0.05},  # block-replicated input: rank m/4
    "mri-complex": {"task": "mri", "size": 4, "sigma": 0.02, "accel": 2.0, "center_fraction": 0.25,
                    "complex_input": True},  # 2-channel input: W is n × 2n
}


def _run_and_data(kind, N, **kw):
    run = RunConfig(**{"data": "photos", "n_val": 12, "n_test": 8, "arch": "linear-exact", "N": N, **TASKS[kind],
                       **kw})
    p = plan(run)
    return p, load_data(p)


def _pinv(Y):
    return np.linalg.pinv(Y, rcond=np.sqrt(max(Y.shape) * np.finfo(float).eps))


def _pairs(p, d):
    return L.training_pairs(p.task, d.train_x, seed=p.config.seed + TRAIN_NOISE_SEED, ids=d.train_ids,
                            mask_ids=d.train_mask_ids)


# --------------------------------------------------------------------------- (a) the twin and the choice of k
@pytest.mark.parametrize("kind", sorted(TASKS))
@pytest.mark.parametrize("N", [6, 50])  # the Gram branch (N < m) and the chunked Y Yᵀ branch (N ≥ m)
def test_closed_form_path_is_the_literal_gd_loop(kind, N):
    p, d = _run_and_data(kind, N)
    Y, X = _pairs(p, d)
    assert (N < Y.shape[0]) == (N == 6)  # m = 16, or 32 for the complex MRI input
    spec = L.fit_spectrum(p.task, d.train_x, seed=p.config.seed + TRAIN_NOISE_SEED, ids=d.train_ids,
                          mask_ids=d.train_mask_ids, chunk=16)  # several chunks when N ≥ m
    lr = L.step_size(spec, N)
    steps = [1, 7, 60]
    closed = spec.weights(L.gains(spec, np.array(steps, dtype=float), lr))
    loop = gd_loop(X, Y, steps, lr=lr)
    # eigh of Y Yᵀ is accurate to ~eps·λ_max absolute, and real inputs span 8+ decades of λ (the mean
    # image dominates): entries far below the largest weight carry that rounding (measured against an
    # extended-precision loop: ≤ 4e-9 of max|W| for the complex MRI input at k = 60, the loop 2e-14)
    for Wc, Wl in zip(closed, loop):
        np.testing.assert_allclose(Wc, Wl, rtol=1e-8, atol=1e-8 * np.abs(Wl).max())
    # k = ∞ is the minimum-norm least squares X Y⁺ (with the tolerance λ > λ_max·max(m, N)·eps on s²)
    ls = spec.weights(L.gains(spec, np.array([np.inf]), lr))[0]
    np.testing.assert_allclose(ls, X @ _pinv(Y), rtol=1e-6, atol=1e-8 * np.abs(ls).max())


def test_chunking_does_not_change_the_estimator():
    p, d = _run_and_data("denoise", 50)
    kw = {"seed": 3, "ids": d.train_ids, "mask_ids": d.train_mask_ids}
    a, b = L.fit_spectrum(p.task, d.train_x, chunk=7, **kw), L.fit_spectrum(p.task, d.train_x, chunk=1024, **kw)
    h = np.array([[1.0], [100.0], [np.inf]])
    Wa = a.weights(L.gains(a, h[:, 0], L.step_size(a, 50)))
    Wb = b.weights(L.gains(b, h[:, 0], L.step_size(b, 50)))
    np.testing.assert_allclose(Wa, Wb, rtol=1e-9, atol=1e-12 * np.abs(Wb).max())


@pytest.mark.parametrize("N", [6, 100])
def test_chosen_k_minimises_the_validation_error_over_every_k_by_brute_force(N):
    """The row's k is the argmin of the validation MSE over every integer k ≤ linear_kmax and k = ∞, each W^k
    from the literal GD loop with the step rule written out here (the paper's η on YYᵀ/N)."""
    kmax = 4000
    p, d = _run_and_data("denoise", N, linear_kmax=kmax, size=8)  # SSIM needs 7×7 pixels
    row = L.run_linear_exact(p, d)
    Y, X = _pairs(p, d)
    Yv, Xv = L.training_pairs(p.task, d.val_x, seed=p.config.seed + VAL_NOISE_SEED, ids=d.val_ids,
                              mask_ids=d.val_mask_ids)
    m = Y.shape[0]
    eps = np.sqrt(10.0 * np.sum(Y * Y) / N * np.log(m) / N)
    lr = 1.0 / ((1.0 + eps) * np.linalg.eigvalsh(Y @ Y.T)[-1])
    assert row.metrics["conventions"]["lr"] == pytest.approx(lr, rel=1e-10)
    brute, W = np.empty(kmax + 2), np.zeros((X.shape[0], m))
    G, XYt = Y @ Y.T, X @ Y.T
    for k in range(kmax + 1):  # the literal GD loop W ← W − η(W YYᵀ − XYᵀ) from 0, scored at every k
        brute[k] = np.mean((W @ Yv - Xv) ** 2)
        W = W - lr * (W @ G - XYt)
    brute[-1] = np.mean((X @ _pinv(Y) @ Yv - Xv) ** 2)  # k = ∞
    best = int(np.argmin(brute))
    assert 50 < best < kmax  # a real interior optimum, not an end of the range
    chosen = row.best_step if row.best_step >= 0 else kmax + 1
    assert brute[chosen] - brute[best] <= 1e-12 * brute[best], (chosen, best)
    hist = row.metrics["history"]
    assert [h["step"] for h in hist] == [row.best_step, -1] and 1 < row.steps < kmax // 5
    np.testing.assert_allclose([h["val_mse"] for h in hist], [brute[chosen], brute[-1]], rtol=1e-7)
    # the row's validation metrics are evaluate()'s, on float32 inputs: equal to the exact MSE to float32
    assert row.metrics["val"]["mse"] == pytest.approx(brute[best], rel=1e-5)
    assert row.status == "done" and row.device == "cpu" and row.params == 64 * 64
    assert row.metrics["conventions"]["task"] == "denoise" and "one fixed noise draw" in \
        row.metrics["conventions"]["train_noise"]
    assert "every integer k" in row.metrics["conventions"]["k_selection"]


def test_split_validation_mse_is_a_sum_of_quadratics_and_its_k_the_dense_argmin():
    """A split path's validation MSE, one quadratic per column group, is the MSE of its predictions at every
    k (and k = ∞); the k chosen over every integer ≤ kmax is the dense argmin of those predictions."""
    from theory.split import SplitPath
    from theory.stopping import choose_k

    rng = np.random.default_rng(3)
    (h, w), m, N, n_val, kmax = (4, 6), 10, 12, 5, 800
    Y = rng.standard_normal((m, N)) * np.linspace(2, 0.1, m)[:, None]
    kspace = rng.standard_normal((N, h, w)) + 1j * rng.standard_normal((N, h, w))
    gamma = rng.random((N, w)) < 0.5
    path = SplitPath.fit(Y, kspace, gamma, shape=(h, w), lr=0.3 / np.linalg.eigvalsh(Y @ Y.T)[-1])
    Y_val, X_val = rng.standard_normal((m, n_val)), rng.standard_normal((h * w, n_val))
    quads = L.split_validation_quadratics(path, Y_val, X_val)
    lams = [sp.lam for sp in path.spectra_]
    ks = np.array([0.0, 1, 30, 800, np.inf])
    direct = np.mean((path.predict(Y_val, ks) - X_val[None]) ** 2, axis=(1, 2))
    def gains(lam, k):
        return 1.0 / lam[None] if np.isinf(k) else gd_filter(lam, [k], path.lr_)[1]

    via = [sum(q.value_grad(gains(lam, k))[0][0] for q, lam in zip(quads, lams)) for k in ks]
    np.testing.assert_allclose(via, direct, rtol=1e-10)
    k, _, stop = choose_k(quads, lams, path.lr_, kmax)
    dense = np.mean((path.predict(Y_val, np.append(np.arange(kmax + 1.0), np.inf)) - X_val[None]) ** 2, axis=(1, 2))
    best = int(np.argmin(dense))
    assert dense[kmax + 1 if np.isinf(k) else int(k)] - dense[best] <= 1e-12 * dense[best] and stop.evaluations < kmax


# --------------------------------------------------------------------------- (b) in a sweep, beside the networks
TINY = {"name": "tiny", "data": "deadleaves", "size": 16, "N": [4, 12], "width": [4, 8], "depth": 1, "n_val": 4,
        "n_test": 4, "batch_size": 4, "min_steps": 4, "max_steps": 4, "eval_every": 2, "device": "cpu",
        "sigma": 0.2, "lr": 3e-3, "early_stop_patience": 100, "arch": ["unet", "linear-exact"]}


def test_sweep_gives_one_linear_row_per_N_scored_like_the_networks(tmp_path):
    cfg = {**DEFAULTS, **TINY}
    runs = expand(cfg)
    assert sorted((r.arch, r.N) for r in runs) == sorted([("linear-exact", 4), ("linear-exact", 12)]
                                                         + [("unet", N) for N in (4, 12) for _ in (4, 8)])
    summary = run_sweep(runs, tmp_path / "s", progress=False)
    assert summary.complete and summary.runs == 6
    with Ledger(summary.ledger) as led:
        rows = led.rows()
    lin = [r for r in rows if r["config"]["arch"] == "linear-exact"]
    assert sorted(r["config"]["N"] for r in lin) == [4, 12]
    for r in lin:
        assert r["config"]["width"] == DEFAULTS["width"] and r["config"]["lr"] == DEFAULTS["lr"]
        assert r["params"] == (16 * 16) ** 2 and r["device"] == "cpu" and r["metrics"]["history"][-1]["step"] == -1
        assert r["steps"] > len(r["metrics"]["history"])  # the k the search evaluated, and k = ∞
        nets = [u for u in rows if u["config"]["arch"] == "unet" and u["config"]["N"] == r["config"]["N"]]
        assert len(nets) == 2
        for u in nets:  # same test crops, same fixed noise, same evaluate(): identical input scores
            assert u["metrics"]["test_input"] == r["metrics"]["test_input"]
            assert u["metrics"]["val_input"] == r["metrics"]["val_input"]
            assert set(u["metrics"]["test"]) == set(r["metrics"]["test"])
        saved = json.loads((tmp_path / "s" / "runs" / r["run_id"] / "result.json").read_text())
        assert saved["row"]["metrics"]["test"] == r["metrics"]["test"]
    # a re-run finds everything done; a network sweep's training keys do not change the linear runs
    assert run_sweep(runs, tmp_path / "s", progress=False).complete
    other = expand({**cfg, "lr": 1e-2, "max_steps": 8, "width": 16})
    assert {r.id for r in other if r.arch == "linear-exact"} == {r["run_id"] for r in lin}


def test_linear_exact_is_usable_with_any_shipped_config():
    for name in ("quick-denoise", "quick-mri", "quick-sr", "paper-denoise"):
        runs = expand(load_config(name, ['arch=["unet","linear-exact"]']))
        lin = [r for r in runs if r.arch == "linear-exact"]
        cfg = load_config(name)
        n_seeds = len(cfg["seed"]) if isinstance(cfg["seed"], list) else 1
        assert len(lin) == len(cfg["N"]) * n_seeds, name
        assert len(expand(load_config(name, ['arch="linear-exact"']))) == len(lin)


def test_one_run_via_run_one_writes_result_json(tmp_path):
    run = RunConfig(**{**{k: v for k, v in TINY.items() if k not in ("N", "width", "arch")}, "N": 8,
                       "arch": "linear-exact", "task": "mri", "complex_input": True, "sigma": 0.01})
    row = run_one(plan(run), tmp_path / "r")
    assert row.status == "done" and row.params == 2 * 256 * 256
    assert json.loads((tmp_path / "r" / "result.json").read_text())["config"] == run.identity()
    assert not (tmp_path / "r" / "ckpt.pt").exists()


# --------------------------------------------------------------------------- (c) towards the Wiener filter
def test_test_psnr_rises_with_N_towards_the_wiener_filter():
    """8×8 grey crops of the training photos, σ = 25/255; tested on the held-out photos' crops.

    The Wiener filter Σ_x(Σ_x + σ²I)⁻¹ from the clean second moments of the 2048 crops is the
    limit of the learned estimator (the linear MMSE estimator for the training distribution P).
    On validation crops (P) the learned one reaches it; on the test photos (Q) it stays a little
    above it, because k is chosen on P (measured: 8% in MSE at N = 4096).
    """
    run = RunConfig(data="photos", test_data="photos", size=8, N=2048, n_val=64, n_test=20, arch="linear-exact")
    p = plan(run)
    full = load_data(p)
    X = full.train_x.flatten(1).double().numpy().T
    Sx = X @ X.T / X.shape[1]
    wiener = Sx @ np.linalg.inv(Sx + p.task.sigma**2 * np.eye(Sx.shape[0]))

    def mse_of(W, x, seed, ids):
        Y, Xc = L.training_pairs(p.task, x, seed=seed, ids=ids)
        return float(np.mean((W @ Y - Xc) ** 2))

    w_test = mse_of(wiener, full.test_x, TEST_NOISE_SEED, full.test_ids)
    w_val = mse_of(wiener, full.val_x, VAL_NOISE_SEED, full.val_ids)
    psnr, test_mse, val_mse = [], [], []
    for N in (4, 16, 64, 256, 2048):  # nested training sets: the first N crops of the same pool
        d = dataclasses.replace(full, train_x=full.train_x[:N], train_ids=full.train_ids[:N],
                                train_mask_ids=full.train_mask_ids[:N])
        row = L.run_linear_exact(dataclasses.replace(p, config=dataclasses.replace(run, N=N)), d)
        psnr.append(row.metrics["test"]["psnr"])
        test_mse.append(row.metrics["test"]["mse"])
        val_mse.append(row.metrics["val"]["mse"])
    assert all(b > a for a, b in zip(psnr, psnr[1:])), psnr
    assert psnr[-1] > row.metrics["test_input"]["psnr"] + 2.0
    assert val_mse[-1] == pytest.approx(w_val, rel=0.03)  # at the floor on P
    assert w_test * 0.97 < test_mse[-1] < w_test * 1.15  # near it on Q
    assert test_mse[0] > 2 * w_test  # and far from it at N = 4


# --------------------------------------------------------------------------- (d) bad input: one line, nothing written
def _sweep(out, *sets):
    args = ["sweep", "quick-denoise", "--out", str(out), "--quiet", "--set", 'arch="linear-exact"',
            "--set", "N=[4,8]", "--set", "n_val=4", "--set", "n_test=4"]
    for s in sets:
        args += ["--set", s]
    return cli_main(args)


@pytest.mark.parametrize(("sets", "expected"), [
    (["size=80"], "arch='linear-exact' with size=80 needs an eigendecomposition of a 6400×6400 matrix"),
    (["size=40", "channels=3"], "use size ≤ 36"),
    (['task="mri"', "complex_input=true", "size=48", 'data="phantoms"', 'test_data=""'], "use size ≤ 45"),
    (["linear_kmax=0"], "linear_kmax=0.0 must be a finite number ≥ 1"),
    (['arch="unet"', "linear_kmax=100"], "linear_kmax=100 applies only to arch linear-exact"),
])
def test_what_linear_exact_cannot_run_is_one_line_and_writes_nothing(tmp_path, capsys, sets, expected):
    out = tmp_path / "s"
    code = _sweep(out, *sets)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert expected in err, err
    assert not out.exists()


def test_the_model_spec_refuses_to_build_a_network():
    p = plan(RunConfig(arch="linear-exact", size=8))
    with pytest.raises(ValueError, match="no torch model"):
        p.model.build(0)
