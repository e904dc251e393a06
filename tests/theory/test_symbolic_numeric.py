"""theory.symbolic's derived closed forms agree with the numeric theory code."""

import numpy as np
import pytest

from theory import Problem, SubspaceSignal, large_n_curve, ols_expected_risk, symbolic


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.5])
def test_floor_and_optimal_scale(rng, sigma):
    pop = Problem(SubspaceSignal(20, 4), sigma).population(rng=rng)
    assert symbolic.floor().numeric()(sigma) == pytest.approx(pop.floor, rel=1e-12)
    a = symbolic.optimal_scale().numeric()(sigma)
    np.testing.assert_allclose(pop.W_star, a * pop.B @ pop.B.T, atol=1e-13)


def test_least_squares_identity(rng):
    pop = Problem(SubspaceSignal(30, 4), 0.2).population(rng=rng)
    fn = symbolic.least_squares_expected_risk().numeric()
    for N in (32, 60, 1000):
        assert fn(30, 0.2, N) == pytest.approx(ols_expected_risk(pop, N), rel=1e-12)


def test_large_n_law(rng):
    n, d, sigma, N = 50, 5, 0.1, 400
    pop = Problem(SubspaceSignal(n, d), sigma).population(rng=rng)
    ks = np.array([0.0, 1, 3, 10, 100, 1000])
    for lr in (pop.paper_lr(N), 0.9 / (N * (1 + sigma**2))):
        numeric = large_n_curve(pop, N, "gd", ks, lr=lr)
        sym = symbolic.large_n_gd_risk().numeric()(n, d, sigma, N, lr * N, ks)
        np.testing.assert_allclose(numeric, sym, rtol=1e-10)
    assert symbolic.large_n_gd_limit().numeric()(n, sigma, N) == pytest.approx(
        large_n_curve(pop, N, "ols")[0], rel=1e-12)


def test_large_n_law_small_sigma_limit(rng):
    """σ → 0: floor → 0 and the converged large-N risk → 0 like σ²."""
    vals = [large_n_curve(Problem(SubspaceSignal(50, 5), s).population(rng=rng), 400, "ols")[0] for s in (1e-2, 1e-3)]
    assert vals[0] / vals[1] == pytest.approx(100.0, rel=1e-3)
