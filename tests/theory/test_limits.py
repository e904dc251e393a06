"""Limits of the theory: σ → 0 (GD path, Monte Carlo, random-matrix form) and ridge λ → 0 / λ → ∞.

Each limit is checked against something computed independently of the code under test (the literal GD
loop, the pseudo-inverse, exact per-draw identities at σ = 0) and, where the approach is smooth, at its
rate (differences shrink like σ, σ², λ or 1/λ), so that a constant offset cannot pass as convergence.
"""

import numpy as np
import pytest

from theory import (
    MRI,
    Estimator,
    Problem,
    SubspaceSignal,
    TrainingSpectrum,
    gd_loop,
    gradient_descent,
    large_n_curve,
    montecarlo,
    ols_filter,
    ridge,
    ridge_filter,
    risk_path,
    rmt_curve,
)
from theory.problem import Population


def _subspace_draw(rng, n=12, d=3, N=8):
    """U (n, d) orthonormal, codes C (d, N) and unit noise Z (n, N): y = UC + σZ for any σ."""
    U = np.linalg.qr(rng.standard_normal((n, d)))[0]
    return U, rng.standard_normal((d, N)), rng.standard_normal((n, N))


def _bias_risk(W, U):
    """R(W) at σ = 0 for subspace denoising: ‖(W − I)U‖_F²/d (batched over W's leading axis)."""
    n, d = U.shape
    return np.sum(((W - np.eye(n)) @ U) ** 2, axis=(-2, -1)) / d


# ------------------------------------------------------------------------------------------ σ → 0
@pytest.mark.parametrize("N", [2, 8])  # below and above d = 3
def test_gd_path_at_sigma_zero_and_its_approach(rng, N):
    """σ = 0: Y = X has rank min(N, d) < n; the closed form (zero eigenvalues dropped) is the literal loop,
    and W^k(σ) → W^k(0) linearly in σ (same draw, same step)."""
    U, C, Z = _subspace_draw(rng, N=N)
    X = U @ C
    steps = np.array([0, 1, 5, 50, 5000])
    lr = 0.5 / np.linalg.eigvalsh(X @ X.T)[-1]
    W0 = gradient_descent(X, X, steps, lr=lr)
    loop = gd_loop(X, X, steps, lr=lr)
    np.testing.assert_allclose(W0, loop, atol=1e-12 * np.abs(loop).max())
    pop0 = Population(U, None, 0.0)
    assert pop0.floor == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(pop0.risk(W0), _bias_risk(loop, U), rtol=1e-10, atol=1e-14)
    # k → ∞ at σ = 0: X X⁺ projects on the span of the N examples, of dimension min(N, d): risk (d − N)⁺/d
    assert _bias_risk(loop[-1], U) == pytest.approx(max(3 - N, 0) / 3, abs=1e-9)
    # σ → 0: the change of W^k is first order in σ (a 10× smaller σ, a 10× smaller change) once σ is small
    # enough that k = 5000 steps do not learn the σ-sized noise directions (σ ≲ 1e-5 here)
    diffs = [np.abs(gradient_descent(X, X + s * Z, steps, lr=lr) - W0).max() for s in (1e-5, 1e-6, 1e-7)]
    assert diffs[0] / diffs[1] == pytest.approx(10.0, rel=0.1) and diffs[1] / diffs[2] == pytest.approx(10.0, rel=0.1)
    # … and so is the change of its risk, R_σ(W^k(σ)) → R_0(W^k(0))
    dr = [np.abs(Population(U, None, s).risk(gradient_descent(X, X + s * Z, steps[1:], lr=lr))
                 - pop0.risk(W0[1:])).max() for s in (1e-5, 1e-6)]
    assert dr[1] < 0.2 * dr[0] and dr[1] < 1e-3


@pytest.mark.parametrize("rao_blackwell", [False, True])
def test_monte_carlo_at_sigma_zero_is_exact_per_draw(rao_blackwell):
    """σ = 0: every draw of least squares has risk (d − N)⁺/d exactly (X Y⁺ projects on the span of the N
    clean examples), W* has risk 0, and GD run long converges to the same; σ = 10⁻⁶ is within 10⁻⁵.

    (k = 10⁹: at N = d the smallest eigenvalue of YYᵀ can be ~10⁻³, which needs k ≫ 1/(ηλ_min) steps.)
    """
    d = 5
    ests = [Estimator("optimal"), Estimator("ols"), Estimator("gd", steps=(0, 10**9)), Estimator("ridge", lam=(1e-12,))]
    Ns = [2, 5, 20]
    out = {s: montecarlo(Problem(SubspaceSignal(12, d), s), Ns, ests, runs=6, rng=np.random.default_rng(0),
                         lr=0.5 / 40, rao_blackwell=rao_blackwell)  # η·λ_max(YYᵀ) < 2 for N ≤ 20
           for s in (0.0, 1e-6)}
    opt, ols, gd, rdg = out[0.0]
    exact = np.maximum(d - np.array(Ns), 0) / d
    np.testing.assert_allclose(opt.draws, 0.0, atol=1e-12)
    np.testing.assert_allclose(opt.floor, 0.0, atol=1e-12)
    np.testing.assert_allclose(ols.draws[:, :, 0], np.broadcast_to(exact, (6, 3)), atol=1e-9)
    np.testing.assert_allclose(gd.draws[:, :, 0], 1.0, rtol=1e-12)  # W⁰ = 0
    np.testing.assert_allclose(gd.draws[:, :, 1], ols.draws[:, :, 0], atol=1e-9)  # k → ∞ is least squares
    np.testing.assert_allclose(rdg.draws[:, :, 0], ols.draws[:, :, 0], atol=1e-9)  # λ → 0 is least squares
    # σ = 10⁻⁶ (GD at k = 10⁹ excepted: its σ-sized noise directions are half learned, h ≈ ηk = 10⁷)
    for a, b in zip(out[0.0], out[1e-6]):
        keep = slice(0, 1) if a.estimator.name == "gd" else slice(None)
        np.testing.assert_allclose(b.draws[..., keep], a.draws[..., keep], atol=1e-5, err_msg=a.estimator.name)


def test_random_matrix_form_as_sigma_goes_to_zero():
    """The deterministic equivalent at σ = 10⁻², 10⁻³, 10⁻⁴ converges (differences shrink like σ²) to the
    σ = 0 risk measured by Monte Carlo (where the floor is 0, so the risk is all excess)."""
    n, d, N = 200, 20, 400
    ks = np.array([1.0, 2, 3, 5])
    curves = [rmt_curve(Problem(SubspaceSignal(n, d), s).population(rng=None), N, "gd", ks) for s in (1e-2, 1e-3, 1e-4)]
    step = [np.abs(curves[1] - curves[0]), np.abs(curves[2] - curves[1])]
    np.testing.assert_allclose(step[0] / step[1], 100.0, rtol=0.1)
    mc = montecarlo(Problem(SubspaceSignal(n, d), 0.0), [N], [Estimator("gd", steps=tuple(ks))], runs=40,
                    rng=np.random.default_rng(0), rao_blackwell=True)[0]
    np.testing.assert_allclose(mc.floor, 0.0, atol=1e-12)
    # measured: within 0.8% of the σ = 0 risk (SEM 0.3-1.3%)
    gap = np.abs(curves[2] - mc.mean[0])
    assert np.all(gap <= 0.05 * mc.mean[0] + 3 * mc.sem[0]), gap / mc.mean[0]


# ------------------------------------------------------------------------------------- ridge λ → 0
@pytest.mark.parametrize("N", [5, 30])  # below and above m = 12: the limit is the min-norm X Y⁺ either way
def test_ridge_lambda_to_zero_is_least_squares(rng, N):
    U, C, Z = _subspace_draw(rng, N=N)
    X, Y = U @ C, U @ C + 0.3 * Z
    W_pinv = X @ np.linalg.pinv(Y)
    scale = np.abs(W_pinv).max()
    diffs = [np.abs(ridge(X, Y, lam) - W_pinv).max() for lam in (1e-4, 1e-6, 1e-8)]
    assert diffs[2] < 1e-6 * scale
    np.testing.assert_allclose(diffs[0] / diffs[1], 100.0, rtol=0.1)  # W_λ = W⁺ + O(λ)
    # the filters: ridge at λ = 0 is exactly the least-squares filter, and the risk paths agree
    spec = TrainingSpectrum.fit(Y, X)
    np.testing.assert_array_equal(ridge_filter(spec.lam, [0.0])[1], ols_filter(spec.lam)[1])
    pop = Population(U, None, 0.3)
    r_ls = risk_path(pop, spec, ols_filter(spec.lam)[1])[0]
    assert r_ls == pytest.approx(pop.risk(W_pinv), rel=1e-9)
    assert risk_path(pop, spec, ridge_filter(spec.lam, [1e-9])[1])[0] == pytest.approx(r_ls, rel=1e-6)


def test_ridge_lambda_to_zero_in_the_expected_risk():
    """Data-free forms: ridge → least squares as λ → 0 (N > m), the gap shrinking ∝ λ."""
    pop = Problem(SubspaceSignal(100, 10), 0.1).population(rng=None)
    N = 400
    for curve in (rmt_curve, large_n_curve):
        ls = curve(pop, N, "ols")[0]
        gaps = np.abs(curve(pop, N, "ridge", [1e-3, 1e-4]) - ls)
        assert gaps[1] < 1e-4 * ls
        np.testing.assert_allclose(gaps[0] / gaps[1], 10.0, rtol=0.05)


# ------------------------------------------------------------------------------------ ridge λ → ∞
@pytest.mark.parametrize("op", ["denoise", "mri"])
def test_ridge_lambda_to_infinity_is_zero_with_risk_one(rng, op):
    """λ·W_λ → X Yᵀ, so W_λ → 0 and its risk → R(0) = 1, both at rate 1/λ."""
    operator = None if op == "denoise" else MRI((4, 4), accel=2, center_fraction=0.25)
    pop = Problem(SubspaceSignal(16, 3), 0.3, operator).population(rng=rng)
    X, Y = pop.sample(20, rng=rng)
    assert pop.risk(np.zeros((16, pop.m))) == pytest.approx(1.0, rel=1e-12)
    XYt = X @ Y.T
    rel = [np.abs(lam * ridge(X, Y, lam) - XYt).max() / np.abs(XYt).max() for lam in (1e6, 1e7)]
    np.testing.assert_allclose(rel[0] / rel[1], 10.0, rtol=0.05)  # λW_λ = XYᵀ(I + YYᵀ/λ)⁻¹ = XYᵀ + O(1/λ)
    gaps = [abs(pop.risk(ridge(X, Y, lam)) - 1.0) for lam in (1e6, 1e7, 1e8)]
    np.testing.assert_allclose([gaps[0] / gaps[1], gaps[1] / gaps[2]], 10.0, rtol=0.05)
    assert gaps[2] < 1e-5


def test_ridge_lambda_to_infinity_in_the_expected_risk():
    """Monte Carlo, the random-matrix form and the large-N law all reach risk 1 as λ → ∞ (rate 1/λ)."""
    prob = Problem(SubspaceSignal(30, 3), 0.2)
    lams = (1e5, 1e6)
    mc = montecarlo(prob, [50], [Estimator("ridge", lam=lams)], runs=4, rng=np.random.default_rng(0))[0]
    pop = prob.population(rng=None)
    for name, risks in (("montecarlo", mc.draws[:, 0, :]), ("asymptotic", rmt_curve(pop, 50, "ridge", lams)[None]),
                        ("large-n", large_n_curve(pop, 50, "ridge", lams)[None])):
        gaps = 1.0 - risks
        assert np.all(gaps > 0) and np.all(gaps[:, 1] < 1e-3), name  # below 1 (a little is learned), → 1
        np.testing.assert_allclose(gaps[:, 0] / gaps[:, 1], 10.0, rtol=0.05, err_msg=name)
