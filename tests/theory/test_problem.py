"""Population quantities: floor, W*, spectral data, the paper's step — against direct formulas."""

import numpy as np
import pytest

from theory import MRI, Problem, SpectralSignal, SubspaceSignal, SuperResolution, random_orthonormal


@pytest.mark.parametrize("sigma", [0.0, 0.05, 0.3, 2.0])
def test_subspace_floor_and_optimal(rng, sigma):
    pop = Problem(SubspaceSignal(15, 4), sigma).population(rng=rng)
    assert pop.floor == pytest.approx(sigma**2 / (1 + sigma**2), abs=1e-15, rel=1e-12)
    U = pop.B
    np.testing.assert_allclose(pop.W_star, U @ U.T / (1 + sigma**2), atol=1e-13)
    # R(W*) from the paper's trace formula equals the floor
    W = pop.W_star
    direct = (np.sum(((W - np.eye(15)) @ U) ** 2) + sigma**2 * np.sum(W**2)) / 4
    assert pop.risk(W) == pytest.approx(direct, abs=1e-14)


def test_risk_matches_paper_trace_formula(rng):
    sigma = 0.4
    pop = Problem(SubspaceSignal(10, 3), sigma).population(rng=rng)
    W = rng.standard_normal((5, 10, 10))
    U = pop.B
    direct = (np.sum(((W - np.eye(10)) @ U) ** 2, axis=(1, 2)) + sigma**2 * np.sum(W**2, axis=(1, 2))) / 3
    np.testing.assert_allclose(pop.risk(W), direct, rtol=1e-12)


def test_risk_monte_carlo_twin(rng):
    """R(W) = E‖Wy − x‖²/E‖x‖² by direct sampling of (x, y)."""
    prob = Problem(SubspaceSignal(8, 2), 0.5, None)
    pop = prob.population(rng=rng)
    W = rng.standard_normal((8, 8)) * 0.3
    X, Y = pop.sample(200_000, rng=rng)
    err = np.sum((W @ Y - X) ** 2, axis=0) / pop.trace_x
    assert abs(err.mean() - pop.risk(W)) < 5 * err.std() / np.sqrt(err.size)


def _block_average_matrix(h, w, s):
    """s×s block averaging written out entry by entry (independent of SuperResolution.matrix)."""
    A = np.zeros(((h // s) * (w // s), h * w))
    for i in range(h):
        for j in range(w):
            A[(i // s) * (w // s) + j // s, i * w + j] = 1.0 / s**2
    return A


def _dense_risk(W, A, B, sigma):
    """R(W) = (‖(WA − I)B‖_F² + σ²‖W‖_F²)/‖B‖_F²: the definition E‖Wy − x‖²/E‖x‖² for x = Bc."""
    return (np.sum((W @ A @ B - B) ** 2) + sigma**2 * np.sum(W**2)) / np.sum(B**2)


@pytest.mark.parametrize("op", ["denoise", "sr", "mri"])
def test_factored_risk_matches_dense(rng, op):
    """risk_factored(L, R) = R(L Rᵀ) for a non-identity A too, against the definition computed densely."""
    operator = {"denoise": None, "sr": SuperResolution((4, 4), scale=2),
                "mri": MRI((4, 4), accel=2, center_fraction=0.25)}[op]
    pop = Problem(SubspaceSignal(16, 3), 0.2, operator).population(rng=rng)
    A = {"denoise": np.eye(16), "sr": _block_average_matrix(4, 4, 2), "mri": pop.A}[op]
    if op == "sr":  # the hand-written A is the library's A (so the check below is about the risk)
        np.testing.assert_array_equal(A, pop.A)
    assert A.shape == (pop.m, 16)
    if op != "denoise":  # a real operator: the test would be vacuous with A = I
        assert A.shape != (16, 16) or not np.allclose(A, np.eye(16))
    L, R = rng.standard_normal((16, 4)), rng.standard_normal((pop.m, 4))
    direct = _dense_risk(L @ R.T, A, pop.B, 0.2)
    assert pop.risk_factored(L, R) == pytest.approx(direct, rel=1e-10)
    # W* = B Kᵀ in factored form, whose risk is the floor
    assert pop.risk_factored(pop.B, pop.K) == pytest.approx(_dense_risk(pop.W_star, A, pop.B, 0.2), rel=1e-10)
    assert _dense_risk(pop.W_star, A, pop.B, 0.2) == pytest.approx(pop.floor, rel=1e-10)


def test_full_sampling_mri_is_denoising(rng):
    """accel = 1: AᵀA = I, so floor, W*-risk and the risk of W = W*_denoise·Aᵀ match denoising."""
    U = random_orthonormal(16, 3, rng=rng)
    from theory.problem import Population

    den = Population(U, None, 0.3)
    op = MRI((4, 4), accel=1, center_fraction=0.25)
    mri = Population(U, op.matrix(), 0.3)
    assert mri.floor == pytest.approx(den.floor, rel=1e-12)
    np.testing.assert_allclose(mri.W_star, den.W_star @ op.matrix().T, atol=1e-12)
    W = rng.standard_normal((16, 16))
    assert mri.risk(W @ op.matrix().T) == pytest.approx(den.risk(W), rel=1e-10)


@pytest.mark.parametrize("operator", [None, MRI((4, 4), accel=2, center_fraction=0.25), SuperResolution((4, 4), scale=2)])
def test_floor_is_posterior_error(rng, operator):
    """Floor = tr(Σ_x − Σ_x Aᵀ Σ_y⁻¹ A Σ_x)/tr Σ_x computed densely; σ → 0 limit."""
    for sigma in (0.5, 1e-3):
        pop = Problem(SubspaceSignal(16, 3), sigma, operator).population(rng=rng)
        A = np.eye(16) if pop.A is None else pop.A
        Sx = pop.B @ pop.B.T
        Sy = A @ Sx @ A.T + sigma**2 * np.eye(A.shape[0])
        post = Sx - Sx @ A.T @ np.linalg.solve(Sy, A @ Sx)
        assert pop.floor == pytest.approx(np.trace(post) / np.trace(Sx), rel=1e-7, abs=1e-12)
        np.testing.assert_allclose(pop.W_star, Sx @ A.T @ np.linalg.inv(Sy), atol=1e-8)
    # σ → 0: with A injective on the subspace the floor vanishes like σ² (and is exactly 0 at σ = 0)
    f = [Problem(SubspaceSignal(16, 3), s, operator).population(rng=np.random.default_rng(7)).floor for s in (1e-2, 1e-3, 0.0)]
    assert f[0] / f[1] == pytest.approx(100.0, rel=1e-2)
    assert f[2] == pytest.approx(0.0, abs=1e-12)


def test_spectrum_reconstructs_traces(rng):
    for op in (None, MRI((6, 6), accel=2, center_fraction=0.2)):
        pop = Problem(SubspaceSignal(36, 5), 0.2, op).population(rng=rng)
        sp = pop.spectrum()
        assert np.sum(sp.mult) == pop.m
        assert np.sum(sp.mult * sp.lam) == pytest.approx(pop.trace_y, rel=1e-10)
        # Σ_j ω_j λ_j = tr(Ω Σ_y) = tr(W* Σ_y W*ᵀ) = tr Σ_x − tr Σ_e
        assert np.sum(sp.omega * sp.lam) == pytest.approx(pop.trace_x - pop.trace_e, rel=1e-10)
    sp = Problem(SubspaceSignal(36, 5), 0.2).population(rng=rng).spectrum()
    # denoising: Σ_y = UUᵀ + σ²I has eigenvalue 1 + σ² (d times) and σ² (n − d times)
    np.testing.assert_allclose(sp.lam, [1.04, 0.04], rtol=1e-12)
    np.testing.assert_array_equal(sp.mult, [5, 31])


def test_paper_step_matches_paper_formula(rng):
    n, d, sigma, N = 100, 10, 0.1, 64
    pop = Problem(SubspaceSignal(n, d), sigma).population(rng=rng)
    eps = np.sqrt(10 * (d + sigma**2 * n) * np.log(n) / N)
    assert pop.paper_lr(N) == pytest.approx(1 / (N * (1 + eps) * (1 + sigma**2)), rel=1e-12)


def test_bad_specs_are_one_line_value_errors():
    for make, match in [
        (lambda: SubspaceSignal(10, 10), "smaller than n"),
        (lambda: SubspaceSignal(10, 0), "positive"),
        (lambda: Problem(SubspaceSignal(10, 2), -0.1), "sigma"),
        (lambda: Problem(SubspaceSignal(10, 2), 0.1, MRI((4, 4))), "n=16"),
        (lambda: SpectralSignal((1.0, -1.0)), "non-negative"),
        (lambda: SpectralSignal.powerlaw(10, -1.0), "alpha"),
    ]:
        with pytest.raises(ValueError, match=match) as e:
            make()
        assert "\n" not in str(e.value)


def test_spectral_signal_from_data_and_powerlaw(rng):
    s = SpectralSignal.powerlaw(6, 2.0)
    np.testing.assert_allclose(s.eigenvalues, [1, 1 / 4, 1 / 9, 1 / 16, 1 / 25, 1 / 36])
    pop = Problem(s, 0.1).population(rng=rng)
    assert pop.trace_x == pytest.approx(sum(s.eigenvalues))
    X = rng.standard_normal((4, 50000)) * np.array([[2.0], [1.0], [0.5], [0.1]])
    est = SpectralSignal.from_data(X)
    np.testing.assert_allclose(est.eigenvalues, [4, 1, 0.25, 0.01], rtol=0.05)
