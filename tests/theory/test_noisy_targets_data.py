"""Noisy training targets in the data-model theory (train on P, test on Q) and in ``theory setups``.

t = x + z′, z′ ~ N(0, σ_t² I_n) for the *training* examples of P only; the risk is R_Q against the clean x.
Twins: the literal GD loop on drawn targets (same draws and independent ones), the average over X, Z′ | Y
of the literal risk, an exact least-squares identity, plain vs Rao–Blackwellised Monte Carlo, the
deterministic equivalent vs Monte Carlo; limits σ_t = 0 (the supervised numbers, bit for bit) and
monotonicity in σ_t; the setups table and its CLI. No stored numbers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bridge.cli import main as cli_main
from theory import TrainingSpectrum, gd_filter, gd_loop, random_orthonormal
from theory import setups as setups_mod
from theory.data_asymptotics import data_rmt_curve, shift_spectrum
from theory.datamodel import DataModel, DataSpectrum, data_expected_risk, data_montecarlo
from theory.montecarlo import Estimator, draw_rng, target_rng


def shifted_model(n: int, *, seed: int, sigma: float = 0.1, target_sigma: float = 0.0, m: int | None = None,
                  decades: float = 2.0) -> DataModel:
    """P ≠ Q in different bases (power-law spectra); an (m, n) Gaussian operator when m is given."""
    rng = np.random.default_rng(seed)
    j = np.arange(1, n + 1.0)
    alpha = decades / np.log10(n)
    P = DataSpectrum(j**-alpha, V=random_orthonormal(n, n, rng=rng), label="P")
    Q = DataSpectrum(0.6 * j ** (-0.8 * alpha), V=random_orthonormal(n, n, rng=rng), label="Q")
    A = None if m is None else rng.standard_normal((m, n)) / np.sqrt(n)
    return DataModel(P, sigma, Q, operator=A, target_sigma=target_sigma)


def literal_risk_Q(W: np.ndarray, model: DataModel) -> float:
    """R_Q(W) = [tr((WA − I)Σ_Q(WA − I)ᵀ) + σ² tr(WWᵀ)] / tr Σ_Q, written out (clean x of Q)."""
    SQ = model.test.matrix()
    D = (W if model.A is None else W @ model.A) - np.eye(model.n)
    return float((np.trace(D @ SQ @ D.T) + model.sigma**2 * np.sum(W * W)) / np.trace(SQ))


def noisy(model: DataModel, **kw) -> DataModel:
    """The same P, Q, σ, A with other training targets."""
    return DataModel(model.train, model.sigma, model.test, operator=model.A, **kw)


ESTS = (Estimator("gd-oracle", kmax=200), Estimator("gd-argmin", kmax=200), Estimator("gd-val", kmax=200, n_val=15),
        Estimator("gd", steps=(0, 5, 50)), Estimator("gf", steps=(20.0,)), Estimator("ridge", lam=(1.0,)),
        Estimator("ols"), Estimator("optimal"))


# ------------------------------------------------------------------ σ_t = 0 is the supervised case
@pytest.mark.parametrize("method", ["montecarlo", "rao-blackwell", "asymptotic"])
def test_zero_target_sigma_reproduces_the_data_model_curves_exactly(method):
    model = shifted_model(12, seed=1, sigma=0.2)
    ests = [e for e in ESTS if method == "montecarlo" or e.name != "gd-val"]
    kw = {} if method == "asymptotic" else {"runs": 3}
    default = data_expected_risk(model, [6, 40], ests, method=method, rng=np.random.default_rng(5), **kw)
    zero = data_expected_risk(noisy(model, target_sigma=0.0), [6, 40], ests, method=method,
                              rng=np.random.default_rng(5), **kw)
    for c0, c in zip(default, zero):
        assert np.array_equal(c.draws, c0.draws), c.estimator.name  # same draws, same numbers
        assert (c.k_opt is None) == (c0.k_opt is None)
        if c.k_opt is not None:
            assert np.array_equal(c.k_opt, c0.k_opt), c.estimator.name
        assert c.info["target_sigma"] == 0.0
    assert model.describe()["target_sigma"] == 0.0


def test_noisy_targets_change_only_what_is_fitted_to_them():
    """Same draws of X, Y (the target noise has its own stream): W*_Q, the floors and k = 0 are unchanged, every
    fitted estimator changes; σ_t = 1e-9 lands on the supervised numbers."""
    model = shifted_model(12, seed=2, sigma=0.2)
    run = lambda mdl: {c.estimator.name: c for c in  # noqa: E731
                       data_montecarlo(mdl, [6, 40], ESTS, runs=4, rng=np.random.default_rng(9))}
    clean, tiny, loud = run(model), run(noisy(model, target_sigma=1e-9)), run(noisy(model, target_sigma=0.3))
    assert loud["ols"].info["target_sigma"] == 0.3
    for name, c in loud.items():
        np.testing.assert_allclose(tiny[name].draws, clean[name].draws, rtol=1e-6, err_msg=name)
        d, d0 = c.draws, clean[name].draws
        if name == "gd":
            assert np.all(d[..., 0] == 1.0) and np.all(d0[..., 0] == 1.0)  # W⁰ = 0 on any Q
            d, d0 = d[..., 1:], d0[..., 1:]
        if name == "optimal":
            assert np.array_equal(d, d0)
        else:  # per draw the drawn noise may help or hurt (worse in expectation: the Rao–Blackwell tests below)
            assert not np.any(d == d0), name
    assert noisy(model, target_sigma=0.3).floor_P_on_Q == model.floor_P_on_Q


# ------------------------------------------------------------------ the literal loop twin
@pytest.mark.parametrize("m", [None, 9])
def test_monte_carlo_is_the_literal_loop_on_noisy_targets(m):
    """Plain Monte Carlo per draw = the literal GD loop fitted to T = X + σ_t Z′ (streams rebuilt), scored on Q."""
    model = shifted_model(12, seed=3, sigma=0.1, target_sigma=0.2, m=m)
    ks, N = (0, 1, 7, 60), 20
    curve = data_montecarlo(model, [N], [Estimator("gd", steps=ks)], runs=3, rng=np.random.default_rng(4), lr=0.02)[0]
    base = int(np.random.default_rng(4).integers(2**62))
    for run in range(3):
        X, Y = model.sample(N, rng=draw_rng(base, N, run))
        T = X + model.target_sigma * target_rng(base, N, run).standard_normal(X.shape)
        literal = [literal_risk_Q(W, model) for W in gd_loop(T, Y, ks, lr=0.02)]
        np.testing.assert_allclose(curve.draws[run, 0], literal, rtol=1e-10)


def test_conditional_risk_is_the_average_over_noisy_targets():
    """E[R_Q | Y] (closed form, tr Σ_e,P + n σ_t²) = the mean of the literal R_Q over X | Y and Z′, within 4 SEM;
    the supervised closed form is off by many SEM (the target-noise term is what makes it agree).
    Measured (3000 draws, k = 1, 10, 100): +0.7, −0.5, −0.9 SEM; the supervised form: +25, +85, +112 SEM."""
    rng = np.random.default_rng(11)
    model = shifted_model(6, seed=5, sigma=0.3, target_sigma=0.4, m=5)
    N, ks = 9, [1, 10, 100]
    _, Y = model.sample(N, rng=rng)
    spec = TrainingSpectrum.fit(Y)
    lr = 0.5 / spec.lam[0]
    cond = model.conditional_risk_path(spec, gd_filter(spec.lam, ks, lr)[0])
    pP = model.pop_P
    SP = model.train.matrix()
    Le = np.linalg.cholesky(SP - pP.W_star @ model.A @ SP + 1e-15 * np.eye(model.n))  # Cov_P(x | y)
    vals = np.array([[literal_risk_Q(W, model) for W in gd_loop(
        pP.W_star @ Y + Le @ rng.standard_normal((model.n, N)) + model.target_sigma * rng.standard_normal((model.n, N)),
        Y, ks, lr=lr)] for _ in range(3000)])
    mean, sem = vals.mean(0), vals.std(0, ddof=1) / np.sqrt(len(vals))
    assert np.all(np.abs(mean - cond) <= 4 * sem), ((mean - cond) / sem)
    clean = noisy(model).conditional_risk_path(spec, gd_filter(spec.lam, ks, lr)[0])
    assert np.all(mean - clean > 10 * sem)


# ------------------------------------------------------------------ closed forms vs Monte Carlo
@pytest.mark.parametrize("m", [None, 9])
def test_least_squares_closed_form_on_Q_with_noisy_targets(m):
    """N > m + 1: E R_Q(W^∞) = R_Q(W*_P) + (tr Σ_e,P + n σ_t²)·tr(Σ_y,Q Σ_y,P⁻¹)/(N − m − 1)/tr Σ_Q exactly
    (inverse Wishart); plain Monte Carlo (noise drawn) and Rao–Blackwellised Monte Carlo within 4 SEM each.
    Measured (400 draws): denoising plain +2.1 SEM, Rao–Blackwell −0.3 SEM; m = 9: −0.9 and +0.8 SEM; the supervised
    identity is +54 / +37 SEM below plain Monte Carlo."""
    model = shifted_model(12, seed=6, sigma=0.2, target_sigma=0.3, m=m)
    N = 40
    pP, pQ = model.pop_P, model.pop_Q
    SyP = pP.AB @ pP.AB.T + model.sigma**2 * np.eye(model.m)
    SyQ = pQ.AB @ pQ.AB.T + model.sigma**2 * np.eye(model.m)
    exact = model.floor_P_on_Q + pP.trace_e_target * np.trace(np.linalg.solve(SyP, SyQ)) / (N - model.m - 1) \
        / pQ.trace_x
    assert pP.trace_e_target == pytest.approx(pP.trace_e + 12 * 0.09)
    plain = data_montecarlo(model, [N], ["ols"], runs=400, rng=np.random.default_rng(1))[0]
    rb = data_montecarlo(model, [N], ["ols"], runs=400, rng=np.random.default_rng(2), rao_blackwell=True)[0]
    for c in (plain, rb):
        assert abs(c.mean[0, 0] - exact) <= 4 * c.sem[0, 0], (c.method, c.mean[0, 0], exact, c.sem[0, 0])
    clean = noisy(model).floor_P_on_Q + pP.trace_e * np.trace(np.linalg.solve(SyP, SyQ)) / (N - model.m - 1) \
        / pQ.trace_x
    assert plain.mean[0, 0] - clean > 10 * plain.sem[0, 0]


def test_plain_and_rao_blackwell_monte_carlo_agree_with_noisy_targets():
    """Measured (300 draws each, independent): max |difference| 1.6 combined SEM over 2 N × 5 curves."""
    model = shifted_model(16, seed=7, sigma=0.2, target_sigma=0.25, m=12)
    ests = [Estimator("gd", steps=(1, 10, 100)), Estimator("ridge", lam=(0.5,)), Estimator("gf", steps=(30.0,))]
    plain = data_montecarlo(model, [8, 60], ests, runs=300, rng=np.random.default_rng(3))
    rb = data_montecarlo(model, [8, 60], ests, runs=300, rng=np.random.default_rng(4), rao_blackwell=True)
    for a, b in zip(plain, rb):
        both = np.hypot(a.sem, b.sem)
        assert np.all(np.abs(a.mean - b.mean) <= 4 * both), (a.estimator.name, (a.mean - b.mean) / both)


@pytest.mark.parametrize("m", [None, 32])
def test_equivalent_matches_monte_carlo_with_noisy_targets(m):
    """P ≠ Q, σ_t = 0.2 (n σ_t² = 1.92 ≫ tr Σ_e,P): the deterministic equivalent vs Rao–Blackwellised Monte Carlo
    on the excess R_Q − R*_Q (5% + 3 SEM, as tests/theory/test_datamodel.py); the supervised equivalent is far off.

    Measured (n = 48, 100 draws, k = 1, 30, 10³, 10⁵), error / excess (SEM / excess): denoising N = 16: −2.1% (1.4%),
    −3.8% (1.7%) at k = 10³, 10⁵, |error| ≤ 0.1% below; N = 160: ≤ 1.6% (0.6%). Operator m = 32: N = 16: +0.7% (1.2%),
    −4.6% (1.8%) at k = 10³, 10⁵; N = 160: ≤ 0.4% (0.4%). The supervised equivalent misses 60–91% of the excess
    from k = 10³ on."""
    model = shifted_model(48, seed=8, sigma=0.05, target_sigma=0.2, m=m, decades=3.0)
    ks = np.array([1.0, 30, 1e3, 1e5])
    sp = shift_spectrum(model)
    assert sp.trace_zt == pytest.approx(48 * 0.04) and sp.trace_e_target > 5 * sp.trace_eP
    for N in (16, 160):
        de = data_rmt_curve(model, N, "gd", ks, spectrum=sp)
        c = data_montecarlo(model, [N], [Estimator("gd", steps=tuple(ks))], runs=100,
                            rng=np.random.default_rng(N), rao_blackwell=True)[0]
        excess = c.mean[0] - model.floor_Q
        assert np.all(np.abs(de - c.mean[0]) <= 0.05 * excess + 3 * c.sem[0]), ((de - c.mean[0]) / excess)
        clean = data_rmt_curve(noisy(model), N, "gd", ks)
        late = ks >= 1e3  # there the target noise dominates the variance
        assert np.all(c.mean[0, late] - clean[late] > 0.3 * excess[late])
    # the asymptotic method of data_expected_risk is the same equivalent, and its rows carry σ_t
    c = data_expected_risk(model, [160], [Estimator("gd", steps=tuple(ks))], method="asymptotic")[0]
    np.testing.assert_allclose(c.mean[0], data_rmt_curve(model, 160, "gd", ks), rtol=1e-12)
    assert c.info["target_sigma"] == 0.2


def test_more_target_noise_is_worse_at_fixed_N():
    """E[R_Q | Y] is affine in σ_t² with a positive slope for every k > 0 (same draws of Y), and so is the
    equivalent; the oracle's risk rises towards R_Q(0) = 1 and its k falls."""
    sig = (0.0, 0.05, 0.2, 1.0, 30.0)
    base = shifted_model(16, seed=9, sigma=0.2)
    ests = [Estimator("gd", steps=(1, 10, 100)), Estimator("ols"), Estimator("ridge", lam=(1.0,)),
            Estimator("gd-oracle", kmax=300)]
    out = [data_montecarlo(noisy(base, target_sigma=s), [30], ests, runs=5, rng=np.random.default_rng(8),
                           rao_blackwell=True) for s in sig]
    for i in range(3):
        d = np.stack([o[i].draws for o in out])  # (σ_t, runs, N, P)
        assert np.all(np.diff(d, axis=0) > 0), ests[i].name
    orc = np.stack([o[3].draws[..., 0] for o in out])
    k = np.stack([o[3].k_opt for o in out])
    assert np.all(np.diff(orc, axis=0) >= 0) and np.all(np.diff(orc.mean(axis=(1, 2))) > 0)
    assert np.all(np.diff(k.mean(axis=(1, 2))) <= 0) and np.all(orc[-1] <= 1.0)
    de = [data_rmt_curve(noisy(base, target_sigma=s), 200, "gd", [10.0, 1e4]) for s in sig]
    assert np.all(np.diff(np.stack(de), axis=0) > 0)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1", True, None])
def test_bad_target_sigma_is_one_line_value_error(bad):
    with pytest.raises(ValueError, match="target_sigma") as e:
        DataModel(DataSpectrum(np.ones(4)), 0.1, target_sigma=bad)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="target_sigma") as e:
        setups_mod.run_setups(setups_mod.parse_setups("1"), out="never.csv", target_sigma=bad, progress=False)
    assert "\n" not in str(e.value)


def test_target_sigma_is_keyword_only_and_a_reused_spectrum_must_match():
    with pytest.raises(TypeError):
        DataModel(DataSpectrum(np.ones(4)), 0.1, None, None, 0.1)  # noqa: the 5th field is keyword-only
    model = shifted_model(12, seed=10, sigma=0.1, target_sigma=0.2)
    with pytest.raises(ValueError, match="target_sigma") as e:
        data_rmt_curve(model, 40, "ols", spectrum=shift_spectrum(noisy(model)))
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------ theory setups --target-sigma
def test_setups_cli_with_target_sigma(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(setups_mod.N_GRIDS, 10, (2, 20, 150))  # the runner's code path, in seconds
    args = ["theory", "setups", "--setups", "3", "--runs", "2", "--kmax", "30", "--format", "json", "--quiet"]
    assert cli_main([*args, "--target-sigma", "0.1", "--out", str(tmp_path / "noisy.json")]) == 0
    assert cli_main([*args, "--out", str(tmp_path / "clean.json")]) == 0
    rows = json.loads((tmp_path / "noisy.json").read_text())
    rows0 = json.loads((tmp_path / "clean.json").read_text())
    assert {r["target_sigma"] for r in rows} == {0.1} and {r["target_sigma"] for r in rows0} == {0.0}
    # the same U, C, Z: every fitted estimator is worse, W* and pca are not
    for r, r0 in zip(rows, rows0):
        assert (r["setup"], r["N"], r["estimator"], r["run"]) == (r0["setup"], r0["N"], r0["estimator"], r0["run"])
        if r["estimator"] in ("optimal", "pca"):
            assert r["risk"] == r0["risk"]
        elif r["estimator"] == "ols":
            assert r["risk"] > r0["risk"]
    capsys.readouterr()
    before = sorted(tmp_path.iterdir())
    code = cli_main([*args, "--target-sigma", "-0.1", "--out", str(tmp_path / "bad.json")])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "--target-sigma" in err and "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before  # nothing written, no resume parts
