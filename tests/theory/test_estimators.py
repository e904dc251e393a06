"""Closed-form estimators against their brute-force twins (literal GD loop, pinv, normal equations)."""

import numpy as np
import pytest

from theory import (
    MRI,
    Problem,
    SpectralSignal,
    SubspaceSignal,
    TrainingSpectrum,
    check_lr,
    gd_filter,
    gd_loop,
    gf_filter,
    gradient_descent,
    gradient_flow,
    least_squares,
    pca,
    ridge,
)


def _data(rng, n=12, d=3, sigma=0.3, N=8, operator=None, signal=None):
    prob = Problem(signal or SubspaceSignal(n, d), sigma, operator)
    pop = prob.population(rng=rng)
    X, Y = pop.sample(N, rng=rng)
    return pop, X, Y


@pytest.mark.parametrize("N", [4, 12, 13, 40])  # N < n, N = n, N = n+1, N > 2n
def test_gd_path_matches_literal_loop(rng, N):
    pop, X, Y = _data(rng, N=N)
    lr = pop.paper_lr(N)
    steps = np.array([0, 1, 2, 3, 10, 57, 400, 2000])
    loop = gd_loop(X, Y, steps, lr=lr)
    closed = gradient_descent(X, Y, steps, lr=lr)
    scale = np.abs(loop[1:]).max()
    assert np.max(np.abs(closed - loop)) <= 1e-10 * scale
    # risks agree to 1e-8 relative (the bar) at every k
    np.testing.assert_allclose(pop.risk(closed), pop.risk(loop), rtol=1e-8)


def test_gd_path_with_large_step_alternating_regime(rng):
    """η with 1 < ηλ_max < 2 (oscillating but stable) still matches the loop."""
    pop, X, Y = _data(rng, N=30)
    lam_max = np.linalg.eigvalsh(Y @ Y.T)[-1]
    lr = 1.9 / lam_max
    steps = np.arange(0, 60, 7)
    np.testing.assert_allclose(gradient_descent(X, Y, steps, lr=lr), gd_loop(X, Y, steps, lr=lr), atol=1e-10, rtol=1e-8)


def test_gd_path_mri_operator(rng):
    pop, X, Y = _data(rng, n=16, d=3, N=9, operator=MRI((4, 4), accel=2, center_fraction=0.25))
    lr = pop.paper_lr(9)
    steps = [0, 5, 50]
    np.testing.assert_allclose(gradient_descent(X, Y, steps, lr=lr), gd_loop(X, Y, steps, lr=lr), atol=1e-11)


def test_k0_is_zero_with_risk_one(rng):
    pop, X, Y = _data(rng)
    W = gradient_descent(X, Y, [0], lr=pop.paper_lr(8))[0]
    assert np.all(W == 0)
    assert pop.risk(W) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("N", [5, 30])  # below and above n: the limit is X Y⁺ either way
def test_k_to_infinity_is_min_norm_least_squares(rng, N):
    pop, X, Y = _data(rng, N=N)
    lam_max = np.linalg.eigvalsh(Y @ Y.T)[-1]
    lr = 1.0 / lam_max
    W_inf = X @ np.linalg.pinv(Y)
    W_big = gradient_descent(X, Y, [1e9], lr=lr)[0]
    assert np.all(np.isfinite(W_big))
    np.testing.assert_allclose(W_big, W_inf, atol=1e-8 * np.abs(W_inf).max())
    np.testing.assert_allclose(gradient_descent(X, Y, None, lr=lr), W_inf, atol=1e-10 * np.abs(W_inf).max())
    np.testing.assert_allclose(least_squares(X, Y), W_inf, atol=1e-10 * np.abs(W_inf).max())


def test_filter_is_finite_for_huge_k_and_tiny_eigenvalues():
    lam = np.array([1.0, 1e-12, 1e-300, 0.0])
    f, h = gd_filter(lam, [0, 1, 10, 1e6, 1e9], lr=0.5)
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(h))
    assert f[0].tolist() == [0.0] * 4 and np.all(h[0] == 0)
    # small-λ limit: h → η k exactly (no 0/0), and f → ηλk
    np.testing.assert_allclose(h[1:, 2:], 0.5 * np.array([1, 10, 1e6, 1e9])[:, None] * np.ones((1, 2)), rtol=1e-12)
    np.testing.assert_allclose(h[1:, 1], 0.5 * np.array([1, 10, 1e6, 1e9]) * (1 - 0.5e-12 * (np.array([1, 10, 1e6, 1e9]) - 1) / 2), rtol=1e-6)
    assert f[-1, 0] == 1.0


def test_gradient_flow_is_small_step_limit_of_gd(rng):
    pop, X, Y = _data(rng, N=20)
    lam_max = np.linalg.eigvalsh(Y @ Y.T)[-1]
    t = 3.0 / lam_max  # continuous time
    W_gf = gradient_flow(X, Y, [1.0], lr=t)[0]
    errs = []
    for m in (100, 1000, 10000):  # GD with η = t/m for m steps → W(t), error O(1/m)
        errs.append(np.abs(gradient_descent(X, Y, [m], lr=t / m)[0] - W_gf).max())
    # first order in 1/m: each 10× more steps cuts the error 10× (observed 10.0 ± 0.05 over seeds)
    assert errs[0] / errs[1] == pytest.approx(10.0, rel=0.1) and errs[1] / errs[2] == pytest.approx(10.0, rel=0.1)
    assert errs[2] < 1e-3 * np.abs(W_gf).max()
    f, _ = gf_filter(np.array([0.0, 1.0]), [0.0, 1e12], lr=1.0)
    assert np.all(np.isfinite(f)) and f[1, 1] == 1.0 and f[1, 0] == 0.0


def test_ridge_matches_normal_equations(rng):
    pop, X, Y = _data(rng, N=9)
    lam = 0.7
    direct = X @ Y.T @ np.linalg.inv(Y @ Y.T + lam * np.eye(Y.shape[0]))
    np.testing.assert_allclose(ridge(X, Y, lam), direct, rtol=1e-10, atol=1e-12)


def test_pca_projects_on_top_subspace(rng):
    pop, X, Y = _data(rng, N=200, sigma=0.05)
    W = pca(Y, 3, 0.05)
    assert np.allclose(W, W.T) and np.linalg.matrix_rank(W) == 3
    # at large N and small σ it approaches W*
    assert np.abs(W - pop.W_star).max() < 0.05


def test_unstable_lr_is_a_clear_error(rng):
    """Clearly outside (2.5/λ_max) raises, clearly inside (1.99/λ_max) runs and converges with the loop."""
    pop, X, Y = _data(rng)
    lam_max = np.linalg.eigvalsh(Y @ Y.T)[-1]
    for fn in (gradient_descent, gd_loop):
        with pytest.raises(ValueError, match="unstable") as e:
            fn(X, Y, [10], lr=2.5 / lam_max)
        assert "\n" not in str(e.value)
    inside = 1.99 / lam_max  # oscillating (ηλ_max > 1) but stable
    np.testing.assert_allclose(gradient_descent(X, Y, [0, 7, 40], lr=inside), gd_loop(X, Y, [0, 7, 40], lr=inside),
                               atol=1e-10, rtol=1e-8)
    with pytest.raises(ValueError, match="positive"):
        check_lr(-1.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        check_lr(float("nan"), 1.0)


def test_stability_boundary_is_defined_by_the_tolerance(rng):
    """η·λ_max ≥ 2(1 − rtol) raises, below it does not: exactly 2/λ_max raises whichever route computed λ_max."""
    from theory.estimators import LR_STABILITY_RTOL, lr_is_unstable

    tol = LR_STABILITY_RTOL
    assert 1e-14 < tol < 1e-6  # far above rounding of λ_max, far below any step anyone would choose
    for lam in (1e-3, 1.0, 7.3, 1e6):
        for below, above in ((2 * (1 - 2 * tol), 2 * (1 - tol / 2)), (1.99, 2.0), (1.0, 2.5)):
            check_lr(below / lam, lam)  # inside
            assert not lr_is_unstable(below / lam, lam)
            with pytest.raises(ValueError, match="unstable"):
                check_lr(above / lam, lam)
        # the exact boundary, perturbed by rounding either way, is refused
        for eps in (-4e-16, 0.0, 4e-16):
            with pytest.raises(ValueError, match="unstable"):
                check_lr(2 * (1 + eps) / lam, lam)
    # η = 2/λ_max with λ_max from eigvalsh, from the SVD and from the library's own factorisation: the
    # fitted spectrum sees a slightly different λ_max, yet every route raises in both GD implementations
    pop, X, Y = _data(rng)
    routes = [np.linalg.eigvalsh(Y @ Y.T)[-1], np.linalg.svd(Y, compute_uv=False)[0] ** 2,
              float(TrainingSpectrum.fit(Y).lam[0])]
    assert np.ptp(routes) <= 1e-12 * routes[0]
    for lam_max in routes:
        for fn in (gradient_descent, gd_loop):
            with pytest.raises(ValueError, match="unstable"):
                fn(X, Y, [10], lr=2.0 / lam_max)


@pytest.mark.parametrize("N", [3, 5, 9, 30])  # YᵀY-eigh, YᵀY-eigh, SVD, YYᵀ-eigh for m = 12
def test_spectrum_fit_paths_agree(rng, N):
    """Every factorisation route gives the SVD's estimator and an orthonormal V."""
    pop, X, Y = _data(rng, N=N)
    spec = TrainingSpectrum.fit(Y, X)
    Vs, s, _ = np.linalg.svd(Y, full_matrices=False)
    np.testing.assert_allclose(spec.lam, s[: spec.rank] ** 2, rtol=1e-10)
    np.testing.assert_allclose(spec.V.T @ spec.V, np.eye(spec.rank), atol=1e-10)
    h = 1.0 / (s**2 + 0.3)
    W_svd = X @ Y.T @ Vs @ np.diag(h) @ Vs.T
    h_e = 1.0 / (spec.lam + 0.3)
    np.testing.assert_allclose(spec.weights(h_e[None])[0], W_svd, rtol=1e-9, atol=1e-12)


def test_spectral_signal_gd_matches_loop(rng):
    sig = SpectralSignal.powerlaw(10, 1.0, basis="random")
    pop, X, Y = _data(rng, signal=sig, N=15)
    lr = pop.paper_lr(15)
    np.testing.assert_allclose(gradient_descent(X, Y, [3, 30], lr=lr), gd_loop(X, Y, [3, 30], lr=lr), atol=1e-11)
