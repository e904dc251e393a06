"""Data-free expected risk (large-N law, random-matrix equivalent) against Monte Carlo, and limits."""

import numpy as np
import pytest

from theory import (
    MRI,
    Estimator,
    Problem,
    SubspaceSignal,
    TrainingSpectrum,
    argmin_curve,
    conditional_risk_path,
    expected_risk,
    gd_filter,
    gf_filter,
    large_n_curve,
    ridge_filter,
    rmt_curve,
    spectrum_support,
)
from theory.montecarlo import draw_rng


def conditional_mc(pop, N, kind, values, runs, seed):
    """E_Y of the Rao–Blackwellised risk with the population held fixed: mean and SEM."""
    vals = []
    for run in range(runs):
        _, Y = pop.sample_latent(N, rng=draw_rng(seed, N, run))
        spec = TrainingSpectrum.fit(Y)
        if kind == "gd":
            f = gd_filter(spec.lam, values, pop.paper_lr(N))[0]
        elif kind == "gf":
            f = gf_filter(spec.lam, values, pop.paper_lr(N))[0]
        else:
            f = ridge_filter(spec.lam, values)[0]
        vals.append(conditional_risk_path(pop, spec, f))
    vals = np.array(vals)
    return vals.mean(0), vals.std(0, ddof=1) / np.sqrt(runs)


@pytest.mark.parametrize("sigma", [0.1, 0.3])
@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5, 2, 8, 64])
def test_rmt_within_5_percent_in_proportional_regime(ratio, sigma):
    """The issue's bar: n ≥ 400, d ≥ 40, N/n ∈ [0.1, 0.5] ∪ [2, 64], k from 1 to k_opt."""
    n, d = 400, 40
    N = int(ratio * n)
    pop = Problem(SubspaceSignal(n, d), sigma).population(rng=np.random.default_rng(11))
    k_opt, _ = argmin_curve(lambda ks: rmt_curve(pop, N, "gd", ks), 5000, dense=False)
    ks = np.unique(np.round(np.geomspace(1, max(k_opt, 1), 10)))
    rmt = rmt_curve(pop, N, "gd", ks)
    mc, sem = conditional_mc(pop, N, "gd", ks, runs=12 if ratio < 10 else 6, seed=5)
    assert np.all(np.abs(rmt - mc) <= 0.05 * mc + 3 * sem), np.max(np.abs(rmt - mc) / mc)


def test_rmt_mri_and_ridge_against_monte_carlo():
    """Beyond denoising: a fixed MRI population (random subspace through a 2× mask), GD and ridge."""
    pop = Problem(SubspaceSignal(400, 40), 0.2, MRI((20, 20), accel=2, center_fraction=0.1)).population(
        rng=np.random.default_rng(2))
    N = 1600
    ks = np.array([1.0, 5, 20, 80])
    mc, sem = conditional_mc(pop, N, "gd", ks, runs=6, seed=1)
    np.testing.assert_array_less(np.abs(rmt_curve(pop, N, "gd", ks) - mc), 0.05 * mc + 3 * sem)
    lams = np.array([10.0, 100.0, 1000.0])
    mc, sem = conditional_mc(pop, N, "ridge", lams, runs=6, seed=1)
    np.testing.assert_array_less(np.abs(rmt_curve(pop, N, "ridge", lams) - mc), 0.05 * mc + 3 * sem)


def test_rmt_limits():
    pop = Problem(SubspaceSignal(200, 20), 0.2).population(rng=np.random.default_rng(0))
    R = pop.floor
    for N in (50, 800):
        # k = 0: W = 0 has risk 1
        assert rmt_curve(pop, N, "gd", [0])[0] == pytest.approx(1.0, abs=1e-9)
        assert large_n_curve(pop, N, "gd", [0])[0] == pytest.approx(1.0, abs=1e-12)
    # least squares: the equivalent of the exact identity R*(N−1)/(N−m−1) is R* N/(N − m)
    for N in (400, 800, 3200):
        assert rmt_curve(pop, N, "ols")[0] == pytest.approx(R * N / (N - 200), rel=1e-6)
    # k → ∞ (N > m): GD tends to least squares
    assert rmt_curve(pop, 800, "gd", [2e5])[0] == pytest.approx(rmt_curve(pop, 800, "ols")[0], rel=1e-5)
    # N → ∞: the random-matrix equivalent becomes the large-N law (gap ∝ m/N)
    ks = np.array([1.0, 3, 10, 30])
    gap = [np.max(np.abs(rmt_curve(pop, N, "gd", ks) / large_n_curve(pop, N, "gd", ks) - 1)) for N in (20_000, 2_000_000)]
    assert gap[1] < 1e-3 and gap[0] / gap[1] > 30


def test_rmt_small_sigma_limit():
    """σ → 0: the floor vanishes and the risk is the signal-learning error alone; still matches MC."""
    pop = Problem(SubspaceSignal(400, 40), 0.01).population(rng=np.random.default_rng(4))
    assert pop.floor == pytest.approx(1e-4 / (1 + 1e-4))
    ks = np.array([1.0, 3, 10])
    mc, sem = conditional_mc(pop, 800, "gd", ks, runs=6, seed=2)
    np.testing.assert_array_less(np.abs(rmt_curve(pop, 800, "gd", ks) - mc), 0.05 * mc + 3 * sem)


def test_large_n_law_matches_monte_carlo_at_large_N():
    prob = Problem(SubspaceSignal(100, 10), 0.1)
    pop = prob.population(rng=np.random.default_rng(0))
    N = 25_600
    ks = np.array([1.0, 3, 10, 30, 100])
    mc, sem = conditional_mc(pop, N, "gd", ks, runs=5, seed=3)
    np.testing.assert_array_less(np.abs(large_n_curve(pop, N, "gd", ks) - mc), 0.01 * mc + 3 * sem)
    # its early-stopped excess decays like 1/N: R*·d/N to leading order
    ex = [large_n_curve(pop, n_, "gd", np.arange(0, 200)).min() - pop.floor for n_ in (10_000, 100_000)]
    assert ex[0] / ex[1] == pytest.approx(10.0, rel=0.15)


def test_support_edges_contain_the_empirical_spectrum():
    pop = Problem(SubspaceSignal(300, 30), 0.2).population(rng=np.random.default_rng(1))
    sp = pop.spectrum()
    for N in (60, 1200):
        a, b = spectrum_support(sp, N)
        _, Y = pop.sample_latent(N, rng=np.random.default_rng(2))
        ev = np.linalg.eigvalsh(Y @ Y.T / N)
        ev = ev[ev > 1e-9 * ev.max()]
        assert 0.8 * a < ev.min() and ev.max() < 1.1 * b
        assert abs(ev.min() - a) < 0.25 * a and abs(ev.max() - b) < 0.1 * b


def test_unstable_step_and_hard_edge_are_clear_errors():
    pop = Problem(SubspaceSignal(100, 10), 0.1).population(rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="unstable"):
        rmt_curve(pop, 400, "gd", [10], lr=1.0)
    with pytest.raises(ValueError, match="unstable"):
        large_n_curve(pop, 400, "gd", [10], lr=1.0)


def test_argmin_curve_grid_refinement_finds_the_integer_minimum():
    curve = lambda ks: (np.asarray(ks) - 1234.6) ** 2  # noqa: E731
    assert argmin_curve(curve, 5000, dense=False)[0] == 1235
    assert argmin_curve(curve, 5000, dense=True)[0] == 1235
    assert argmin_curve(curve, 100, dense=False)[0] == 100


def test_expected_risk_methods_agree_at_large_N():
    prob = Problem(SubspaceSignal(100, 10), 0.1)
    ests = ["optimal", "ols", Estimator("gd-oracle", kmax=500)]
    out = {m: expected_risk(prob, [3200], ests, method=m, runs=30, rng=np.random.default_rng(0))
           for m in ("rao-blackwell", "asymptotic", "large-n")}
    for i in range(3):
        ref = out["rao-blackwell"][i].mean[0, 0]
        assert out["asymptotic"][i].mean[0, 0] == pytest.approx(ref, rel=0.01)
        assert out["large-n"][i].mean[0, 0] == pytest.approx(ref, rel=0.02)


def test_gradient_flow_curves():
    """Gradient flow: the random-matrix form against Monte Carlo, and the Monte Carlo driver."""
    prob = Problem(SubspaceSignal(400, 40), 0.1)
    pop = prob.population(rng=np.random.default_rng(3))
    ts = np.array([0.5, 2.0, 8.0, 30.0])
    mc, sem = conditional_mc(pop, 800, "gf", ts, runs=6, seed=4)
    np.testing.assert_array_less(np.abs(rmt_curve(pop, 800, "gf", ts) - mc), 0.05 * mc + 3 * sem)
    small = Problem(SubspaceSignal(30, 3), 0.2)
    c_mc, c_as = (expected_risk(small, [300], [Estimator("gf", steps=(0.0, 3.0, 30.0))], method=m, runs=200,
                                rng=np.random.default_rng(0))[0] for m in ("rao-blackwell", "asymptotic"))
    assert c_mc.mean[0, 0] == pytest.approx(1.0) and c_as.mean[0, 0] == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(c_as.mean[0], c_mc.mean[0], rtol=0.03)
