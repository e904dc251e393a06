"""Risk paths (every k at once) against the risk of explicitly formed estimators and Monte Carlo."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import (
    MRI,
    Problem,
    SpectralSignal,
    SubspaceSignal,
    SuperResolution,
    TrainingSpectrum,
    conditional_risk_path,
    gd_filter,
    hadamard_quadform,
    ols_filter,
    ridge_filter,
    risk_path,
    validation_error_path,
)

PROBLEMS = {
    "denoise": lambda: Problem(SubspaceSignal(16, 3), 0.3),
    "mri": lambda: Problem(SubspaceSignal(16, 3), 0.2, MRI((4, 4), accel=2, center_fraction=0.25)),
    "sr": lambda: Problem(SubspaceSignal(16, 3), 0.2, SuperResolution((4, 4), scale=2)),
    "powerlaw": lambda: Problem(SpectralSignal.powerlaw(16, 1.0, basis="random"), 0.2),
}


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("N", [5, 40])
def test_risk_path_equals_risk_of_formed_estimators(rng, name, N):
    pop = PROBLEMS[name]().population(rng=rng)
    C, Y = pop.sample_latent(N, rng=rng)
    X = pop.B @ C
    steps = np.array([0, 1, 4, 30, 300, 10**6])
    lr = pop.paper_lr(N)
    for spec in (TrainingSpectrum.fit(Y, C=C), TrainingSpectrum.fit(Y, X)):
        for _, h in (gd_filter(spec.lam, steps, lr), ols_filter(spec.lam), ridge_filter(spec.lam, [0.1, 10.0])):
            W = spec.weights(h, B=pop.B)
            np.testing.assert_allclose(risk_path(pop, spec, h), pop.risk(W), rtol=1e-9)


@pytest.mark.parametrize("name", ["denoise", "mri", "powerlaw"])
def test_conditional_risk_is_mean_over_targets(rng, name):
    """Rao–Blackwell twin: E[R | Y] equals the average of R over X | Y ~ N(W*Y, Σ_e) draws."""
    pop = PROBLEMS[name]().population(rng=rng)
    N = 10
    _, Y = pop.sample_latent(N, rng=rng)
    spec = TrainingSpectrum.fit(Y)
    steps = np.array([0, 2, 20, 200])
    f, h = gd_filter(spec.lam, steps, pop.paper_lr(N))
    exact = conditional_risk_path(pop, spec, f)
    A = np.eye(pop.n) if pop.A is None else pop.A
    Sx = pop.B @ pop.B.T
    Se = Sx - pop.W_star @ A @ Sx
    L = np.linalg.cholesky(Se + 1e-12 * np.eye(pop.n))
    vals = []
    for _ in range(3000):
        X = pop.W_star @ Y + L @ rng.standard_normal((pop.n, N))
        vals.append(risk_path(pop, TrainingSpectrum.fit(Y, X), h))
    vals = np.array(vals)
    sem = vals.std(0) / np.sqrt(len(vals))
    assert exact[0] == pytest.approx(1.0)
    assert np.all(np.abs(vals.mean(0) - exact) <= 4 * sem + 1e-12)


def test_quadform_dense_and_low_rank_agree(rng):
    r, p, q = 50, 3, 4  # p·q = 12 < r: low rank
    G, P, F = rng.standard_normal((7, r)), rng.standard_normal((r, p)), rng.standard_normal((q, r))
    K = (P @ P.T + 0.3 * np.eye(r)) * (F.T @ F)
    brute = np.einsum("ki,ij,kj->k", G, K, G)
    np.testing.assert_allclose(hadamard_quadform(G, P, 0.3, F), brute, rtol=1e-12)
    P2 = rng.standard_normal((r, 20))  # p·q = 80 > r: dense path
    K2 = (P2 @ P2.T + 0.3 * np.eye(r)) * (F.T @ F)
    np.testing.assert_allclose(hadamard_quadform(G, P2, 0.3, F), np.einsum("ki,ij,kj->k", G, K2, G), rtol=1e-12)


def test_validation_error_path_matches_direct(rng):
    pop = PROBLEMS["denoise"]().population(rng=rng)
    C, Y = pop.sample_latent(12, rng=rng)
    Cv, Yv = pop.sample_latent(7, rng=rng)
    spec = TrainingSpectrum.fit(Y, C=C)
    _, h = gd_filter(spec.lam, [0, 3, 50], pop.paper_lr(12))
    W = spec.weights(h, B=pop.B)
    Xv = pop.B @ Cv
    direct = np.sum((W @ Yv - Xv) ** 2, axis=(1, 2)) - np.sum(Xv**2)
    np.testing.assert_allclose(validation_error_path(pop, spec, h, Cv, Yv), direct, rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e3), sigma=st.floats(0.0, 3.0),
       op=st.sampled_from(["denoise", "mri", "sr"]))
def test_any_W_has_risk_at_least_the_floor(seed, scale, sigma, op):
    r = np.random.default_rng(seed)
    operator = {"denoise": None, "mri": MRI((4, 4), accel=2, center_fraction=0.25), "sr": SuperResolution((4, 4), scale=2)}[op]
    pop = Problem(SubspaceSignal(16, 3), sigma, operator).population(rng=r)
    W = r.standard_normal((16, pop.m)) * scale
    W2 = pop.W_star + 1e-6 * r.standard_normal(W.shape)  # near the optimum too
    assert pop.risk(W) >= pop.floor
    assert pop.risk(W2) >= pop.floor
    assert pop.risk(pop.W_star) == pytest.approx(pop.floor, abs=1e-15)
