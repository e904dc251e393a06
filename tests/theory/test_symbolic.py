"""Tests for theory.symbolic: sympy reaches the known closed forms, and numeric twins agree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

from theory import symbolic as sym

REPO = Path(__file__).resolve().parents[2]
SEEDS = [0, 1, 2]


# --- independent plain-numpy references ----------------------------------------------------------


def ref_floor(sigma):
    return sigma**2 / (1 + sigma**2)


def ref_least_squares(n, sigma, N):
    return ref_floor(sigma) * (N - 1) / (N - n - 1)


def ref_large_n(n, d, sigma, N, tau, k):
    f_s = 1 - (1 - tau * (1 + sigma**2)) ** k
    f_n = 1 - (1 - tau * sigma**2) ** k
    r = ref_floor(sigma)
    return r + (1 - f_s) ** 2 / (1 + sigma**2) + r * (d * f_s**2 + (n - d) * f_n**2) / N


def paper_tau(n, d, sigma, N):
    eps = np.sqrt(10 * (d + sigma**2 * n) * np.log(n) / N)
    return 1 / ((1 + eps) * (1 + sigma**2))


def haar_basis(n, d, rng, batch=()):
    q, r = np.linalg.qr(rng.standard_normal((*batch, n, d)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def trace_risk(W, U, sigma):
    """(‖(W − I)U‖_F² + σ²‖W‖_F²)/d, batched over leading axes."""
    n, d = U.shape[-2:]
    bias = np.sum(((W - np.eye(n)) @ U) ** 2, axis=(-2, -1))
    return (bias + sigma**2 * np.sum(W**2, axis=(-2, -1))) / d


def rel_err(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b)))


# --- symbolic closed forms -----------------------------------------------------------------------


def test_symbols_have_assumptions():
    s = sym.symbols()
    assert {"n", "d", "sigma", "N", "tau", "k"} <= set(s)
    assert all(s[x].is_positive for x in ("n", "d", "sigma", "N", "tau"))
    assert s["k"].is_nonnegative and s["k"].is_integer


def test_optimal_scale_is_wiener_factor():
    sigma = sym.symbols()["sigma"]
    assert sympy.simplify(sym.optimal_scale().expr - 1 / (1 + sigma**2)) == 0


def test_floor():
    sigma = sym.symbols()["sigma"]
    assert sympy.simplify(sym.floor().expr - sigma**2 / (1 + sigma**2)) == 0


def test_risk_of_scaled_projection_closed_form():
    s = sym.symbols()
    a, sigma = s["a"], s["sigma"]
    assert sympy.expand(sym.risk_of_scaled_projection().expr - ((a - 1) ** 2 + sigma**2 * a**2)) == 0


def test_least_squares_symbolic():
    s = sym.symbols()
    n, sigma, N = s["n"], s["sigma"], s["N"]
    target = sigma**2 / (1 + sigma**2) * (N - 1) / (N - n - 1)
    assert sympy.simplify(sym.least_squares_expected_risk().expr - target) == 0


@pytest.mark.parametrize("n, sigma, N", [(8, 0.5, 30), (100, 0.1, 1000), (3, 2.0, 5), (50, 1.0, 52)])
def test_least_squares_numeric_points(n, sigma, N):
    value = sym.least_squares_expected_risk().numeric()(n, sigma, N)
    assert value == pytest.approx(sigma**2 / (1 + sigma**2) * (N - 1) / (N - n - 1), rel=1e-12)


def test_large_n_limit_symbolic():
    s = sym.symbols()
    n, sigma, N = s["n"], s["sigma"], s["N"]
    assert sympy.simplify(sym.large_n_gd_limit().expr - sigma**2 / (1 + sigma**2) * (1 + n / N)) == 0


def test_large_n_law_symbolic_and_free_symbols():
    der = sym.large_n_gd_risk()
    assert der.expr.free_symbols == set(der.symbols)
    s = sym.symbols()
    n, d, sigma, N, tau, k = der.symbols
    assert sympy.simplify(der.expr.subs(k, 0) - 1) == 0
    # The variance term is the only N-dependence: N·(R − R* − bias) is N-free.
    scaled = sympy.simplify(N * (der.expr - der.expr.subs(N, sympy.oo)))
    assert N not in scaled.free_symbols
    assert s["n"] in scaled.free_symbols


def test_free_symbols_match_signatures():
    for der in sym.all_derivations():
        assert der.expr.free_symbols <= set(der.symbols), der.name


# --- lambdified vs plain numpy -------------------------------------------------------------------


def test_numeric_scalar_forms_vectorised():
    sigma = np.linspace(0.05, 3.0, 41)
    assert rel_err(sym.optimal_scale().numeric()(sigma), 1 / (1 + sigma**2)) < 1e-12
    assert rel_err(sym.floor().numeric()(sigma), ref_floor(sigma)) < 1e-12
    a = np.linspace(-1.0, 2.0, 41)[:, None]
    expected = (a - 1) ** 2 + sigma**2 * a**2
    assert rel_err(sym.risk_of_scaled_projection().numeric()(a, sigma), expected) < 1e-12


def test_numeric_least_squares_vectorised():
    sigma = np.linspace(0.05, 3.0, 17)[:, None]
    N = np.arange(20, 200, 7)[None, :]
    got = sym.least_squares_expected_risk().numeric()(10, sigma, N)
    assert got.shape == (17, N.shape[1])
    assert rel_err(got, ref_least_squares(10, sigma, N)) < 1e-12


def test_numeric_large_n_law_vectorised():
    sigma = np.linspace(0.1, 2.0, 9)[:, None]
    k = np.arange(0, 60, 3)[None, :]
    n, d, N = 64, 8, 5000
    tau = paper_tau(n, d, sigma, N)
    got = sym.large_n_gd_risk().numeric()(n, d, sigma, N, tau, k)
    assert got.shape == (9, k.shape[1])
    assert rel_err(got, ref_large_n(n, d, sigma, N, tau, k)) < 1e-12
    # A step with τ(1 + σ²) > 1 (oscillating signal factor) is handled the same way.
    tau2 = 1.5 / (1 + sigma**2)
    got2 = sym.large_n_gd_risk().numeric()(n, d, sigma, N, tau2, k)
    assert rel_err(got2, ref_large_n(n, d, sigma, N, tau2, k)) < 1e-12


def test_numeric_large_n_limit_vectorised():
    sigma = np.linspace(0.1, 2.0, 9)
    N = np.array([100, 1000, 10**6])[:, None]
    got = sym.large_n_gd_limit().numeric()(32, sigma, N)
    assert rel_err(got, ref_floor(sigma) * (1 + 32 / N)) < 1e-12


# --- brute-force and Monte Carlo twins -----------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_scaled_projection_matches_trace_formula(seed):
    rng = np.random.default_rng(seed)
    risk = sym.risk_of_scaled_projection().numeric()
    for n, d in [(5, 2), (12, 7), (30, 1)]:
        U = haar_basis(n, d, rng)
        for a, sigma in rng.uniform([-1.0, 0.05], [2.0, 3.0], size=(4, 2)):
            W = a * U @ U.T
            assert risk(a, sigma) == pytest.approx(trace_risk(W, U, sigma), rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_optimal_scale_beats_neighbours_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, d = 10, 3
    U = haar_basis(n, d, rng)
    sigma = rng.uniform(0.1, 2.0)
    a_star = sym.optimal_scale().numeric()(sigma)
    best = trace_risk(a_star * U @ U.T, U, sigma)
    assert best == pytest.approx(sym.floor().numeric()(sigma), rel=1e-12)
    for a in a_star + np.array([-0.1, -1e-3, 1e-3, 0.1]):
        assert trace_risk(a * U @ U.T, U, sigma) > best


@pytest.mark.parametrize("seed", SEEDS)
def test_least_squares_monte_carlo(seed):
    n, d, sigma, N, draws = 8, 2, 0.5, 30, 2000
    rng = np.random.default_rng(seed)
    U = haar_basis(n, d, rng, batch=(draws,))
    X = U @ rng.standard_normal((draws, d, N))
    Y = X + sigma * rng.standard_normal((draws, n, N))
    W = X @ np.linalg.pinv(Y)
    risks = trace_risk(W, U, sigma)
    mean, se = risks.mean(), risks.std(ddof=1) / np.sqrt(draws)
    theory = sym.least_squares_expected_risk().numeric()(n, sigma, N)
    assert abs(mean - theory) < 4 * se
    # The check has power: the floor alone and the large-N form both sit far outside.
    assert abs(mean - ref_floor(sigma)) > 4 * se
    assert abs(mean - ref_floor(sigma) * (1 + n / N)) > 4 * se


@pytest.mark.parametrize("seed", [0, 1])
def test_large_n_law_against_gradient_descent(seed):
    """Run actual GD on L(W) = ½‖WY − X‖²; compare the *excess* R − R* with the large-N law.

    At N = 1000·n the floor is 99.9% of the risk from k = 3 on, so a tolerance of O(R*·n/N) on the total
    would exceed the excess itself. On the excess, measured over 4 seeds: k = 1, 10, 100 within 4.2%
    (SEM 1.2-2.8%); k = 3 — the bias/variance crossover, where the law's Ŝ → Σ replacement misses the
    subspace-estimation bias — the law is 13-22% low (SEM ~4%).
    """
    n, d, sigma, N, draws = 20, 4, 0.5, 20000, 40
    tau = paper_tau(n, d, sigma, N)
    ks = [0, 1, 3, 10, 100]
    rng = np.random.default_rng(seed)
    risks = np.empty((draws, len(ks)))
    for i in range(draws):
        U = haar_basis(n, d, rng)
        X = U @ rng.standard_normal((d, N))
        Y = X + sigma * rng.standard_normal((n, N))
        G, B = Y @ Y.T, X @ Y.T
        W = np.zeros((n, n))
        for step in range(max(ks) + 1):
            if step in ks:
                risks[i, ks.index(step)] = trace_risk(W, U, sigma)
            W = W - (tau / N) * (W @ G - B)
    mean, se = risks.mean(0), risks.std(0, ddof=1) / np.sqrt(draws)
    law = sym.large_n_gd_risk().numeric()(n, d, sigma, N, tau, np.array(ks))
    assert mean[0] == pytest.approx(1.0, rel=1e-12) and law[0] == pytest.approx(1.0, rel=1e-12)  # W⁰ = 0
    excess_mc, excess_law = mean - ref_floor(sigma), law - ref_floor(sigma)
    rtol = np.array([0.0, 0.06, 0.35, 0.06, 0.06])
    assert np.all(np.abs(excess_mc - excess_law) <= rtol * excess_law + 4 * se), (excess_mc - excess_law) / excess_law


def test_large_n_law_limits():
    law = sym.large_n_gd_risk().numeric()
    n, d, N = 50, 5, 10**6
    for sigma in (0.1, 0.5, 2.0):
        tau = paper_tau(n, d, sigma, N)
        r_star = ref_floor(sigma)
        converged = law(n, d, sigma, N, tau, 10**5)
        assert converged == pytest.approx(r_star * (1 + n / N), rel=1e-12)
        assert converged == pytest.approx(sym.large_n_gd_limit().numeric()(n, sigma, N), rel=1e-12)
        assert law(n, d, sigma, N, tau, 0) == pytest.approx(1.0, rel=1e-12)


def test_large_n_law_one_over_n_regime():
    """Signal learned (f_s = 1), noise barely touched (f_n ≈ 0): excess ≈ R*·d/N, not R*·n/N."""
    law = sym.large_n_gd_risk().numeric()
    n, d, sigma = 1000, 10, 0.01
    tau = 1 / (1 + sigma**2)  # f_s = 1 after one step, f_n = τσ² ≈ 1e-4
    for N in (10**4, 10**5, 10**6):
        excess = law(n, d, sigma, N, tau, 1) - ref_floor(sigma)
        assert excess == pytest.approx(ref_floor(sigma) * d / N, rel=1e-4)


# --- presentation and import hygiene -------------------------------------------------------------


def test_latex_and_notes():
    derivations = sym.all_derivations()
    assert len({der.name for der in derivations}) == len(derivations) == 6
    notes = sym.teaching_notes()
    for der in derivations:
        assert der.latex and "\\sigma" in der.latex and " = " in der.latex
        assert der.name in notes
        assert der.latex in notes


def test_derivation_is_frozen():
    der = sym.floor()
    with pytest.raises(AttributeError):
        der.name = "other"  # type: ignore[misc]


def test_import_does_not_load_sympy():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    code = "import sys, theory.symbolic; assert 'sympy' not in sys.modules, 'sympy imported eagerly'"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
