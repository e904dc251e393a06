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


def _dense_A(pop):
    return np.eye(pop.n) if pop.A is None else pop.A


def _definition_risk(W, A, B, sigma):
    """R(W) = E‖Wy − x‖²/E‖x‖² for x = Bc, y = Ax + σz, c, z standard: the definition expanded,
    (‖(WA − I)B‖_F² + σ²‖W‖_F²)/‖B‖_F² — not the library's R* + excess form."""
    return (np.sum((W @ A @ B - B) ** 2, axis=(-2, -1)) + sigma**2 * np.sum(W**2, axis=(-2, -1))) / np.sum(B**2)


def _ridge_least_squares_optimum(A, B, sigma):
    """argmin_W R(W) as the min-norm least-squares solution of W [AB, σI] = [B, 0] (lstsq), independent of
    the library's push-through inverse; well defined at σ = 0 (then W = B (AB)⁺)."""
    m = A.shape[0]
    M = np.concatenate([A @ B, sigma * np.eye(m)], axis=1)  # (m, p + m)
    T = np.concatenate([B, np.zeros((B.shape[0], m))], axis=1)  # (n, p + m)
    return np.linalg.lstsq(M.T, T.T, rcond=None)[0].T


OPERATORS = {"denoise": None, "mri": MRI((4, 4), accel=2, center_fraction=0.25), "sr": SuperResolution((4, 4), scale=2)}


@settings(max_examples=60, deadline=None)
# σ in (0, 1e-3) is left out: there the least-squares reference itself is ill-conditioned (its
# singular values ~σ fall below lstsq's cut-off), so it would test numpy, not the library.
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e3),
       sigma=st.one_of(st.just(0.0), st.floats(1e-3, 3.0)),
       op=st.sampled_from(["denoise", "mri", "sr"]))
def test_risk_and_floor_match_the_definition(seed, scale, sigma, op):
    """R(W) and R* against the definition and an independent minimiser; R(W) ≥ R* on the *definition*.

    (The library's risk is R* + a squared norm, so "risk ≥ floor" holds there by construction and is not
    tested on it; the inequality is checked on the independently computed risk instead.)
    """
    r = np.random.default_rng(seed)
    pop = Problem(SubspaceSignal(16, 3), sigma, OPERATORS[op]).population(rng=r)
    A, B = _dense_A(pop), pop.B
    W = r.standard_normal((16, pop.m)) * scale
    direct = _definition_risk(W, A, B, sigma)
    assert pop.risk(W) == pytest.approx(direct, rel=1e-9)
    W_opt = _ridge_least_squares_optimum(A, B, sigma)
    floor = _definition_risk(W_opt, A, B, sigma)
    assert pop.floor == pytest.approx(floor, rel=1e-8, abs=1e-13)
    np.testing.assert_allclose(pop.W_star, W_opt, atol=1e-8 * max(1.0, np.abs(W_opt).max()))
    assert direct >= floor * (1 - 1e-12)
    # near the optimum the definition's risk rises quadratically: a small step never goes below R*
    D = r.standard_normal(W.shape)
    D /= np.linalg.norm(D)
    for t in (1e-3, 1e-2):
        near = _definition_risk(W_opt + t * D, A, B, sigma)
        assert near >= floor - 1e-14
        # abs: both sides are O(1) terms cancelling to ~t² (R* = 0 at σ = 0), so ~1e-14 of rounding remains
        assert pop.risk(W_opt + t * D) == pytest.approx(near, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("op", ["denoise", "mri", "sr"])
def test_risk_monte_carlo_of_the_definition(op):
    """R(W) = E‖Wy − x‖²/E‖x‖² by sampling (x, y) directly (not through Population.sample)."""
    r = np.random.default_rng(17)
    pop = Problem(SubspaceSignal(16, 3), 0.3, OPERATORS[op]).population(rng=r)
    A = _dense_A(pop)
    W = 0.3 * r.standard_normal((16, pop.m)) + pop.W_star
    X = pop.B @ r.standard_normal((3, 100_000))
    Y = A @ X + 0.3 * r.standard_normal((pop.m, X.shape[1]))
    err = np.sum((W @ Y - X) ** 2, axis=0)
    ratio = err.mean() / np.sum(X**2, axis=0).mean()
    # ratio of means, delta-method SEM without the (positive) covariance term: a slight overestimate
    sem = ratio * np.sqrt(err.var() / err.mean() ** 2 + np.sum(X**2, axis=0).var() / np.sum(X**2, axis=0).mean() ** 2)
    sem /= np.sqrt(X.shape[1])
    assert abs(ratio - pop.risk(W)) <= 4 * sem
    # and the check has power: the risk without the noise term sits far outside
    no_noise = np.sum((W @ A @ pop.B - pop.B) ** 2) / pop.trace_x
    assert abs(ratio - no_noise) > 10 * sem
