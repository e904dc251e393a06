"""Oracle early stopping without evaluating every k (``gd_oracle_search``) against the dense argmin.

The brute-force twin is ``argmin`` of :func:`risk_path` / :func:`conditional_risk_path` over every
k = 0..kmax. The search is exact up to a tie tolerance (ORACLE_TIE_RTOL = 1e-15 × the size of the
risk's terms, a few ulps: the risk is 1 + (…)/tr Σ_x, so its rounding is absolute however small the
risk): a k different from the dense argmin is accepted only when its dense risk ties the dense minimum
within 20 × that (the search's tolerance plus two evaluation orders' rounding).
"""

import numpy as np
import pytest

from theory import MRI, Problem, SpectralSignal, SubspaceSignal, TrainingSpectrum, gd_filter
from theory.montecarlo import Estimator, draw_rng, montecarlo
from theory.risk import conditional_risk_path, conditional_risk_quadratic, risk_path, risk_quadratic
from theory.stopping import ORACLE_TIE_RTOL, PathQuadratic, gd_oracle_search

TIE = 20 * ORACLE_TIE_RTOL  # search tolerance plus the rounding of two different evaluation orders


def _dense(pop, spec, lr, kmax, *, conditional):
    f, h = gd_filter(spec.lam, np.arange(kmax + 1), lr)
    return conditional_risk_path(pop, spec, f) if conditional else risk_path(pop, spec, h)


def _check(quad, lam, lr, kmax, dense):
    """The search's k ties the dense minimum, and its risk is the dense risk there."""
    k, val, n_eval = gd_oracle_search(quad, lam, lr, kmax)
    kd = int(np.argmin(dense))
    mag = quad.value_grad(gd_filter(lam, [k], lr)[1 if quad.variable == "h" else 0])[2][0]
    assert 0 <= k <= kmax and 1 <= n_eval <= kmax + 1
    assert dense[k] - dense[kd] <= TIE * mag, (k, kd, dense[k] - dense[kd])
    assert abs(val - dense[k]) <= TIE * mag
    return k == kd, n_eval


def _random_case(rng):
    n = int(rng.integers(4, 40))
    kind = rng.integers(3)
    if kind == 0:
        prob = Problem(SubspaceSignal(n, int(rng.integers(1, n))), float(10 ** rng.uniform(-6, 0.5)))
    elif kind == 1:
        prob = Problem(SpectralSignal.powerlaw(n, float(rng.uniform(0.3, 2.0)), basis="random"),
                       float(10 ** rng.uniform(-4, 0)))
    else:
        prob = Problem(SubspaceSignal(16, int(rng.integers(1, 8))), float(10 ** rng.uniform(-4, 0)),
                       MRI((4, 4), accel=2, center_fraction=0.25))
    pop = prob.population(rng=rng)
    N = int(rng.integers(1, 3 * prob.m + 2))
    C, Y = pop.sample_latent(N, rng=rng)
    return pop, N, C, Y


@pytest.mark.parametrize("conditional", [False, True])
def test_search_matches_dense_argmin_on_random_problems(seed, conditional):
    """60 random problems per seed (denoising, power-law signals, MRI; σ from 1e-6 to 3; N below,
    at and above m; the paper's step, smaller ones and oscillating ones with ηλ_max up to 1.9)."""
    rng = np.random.default_rng([seed, 11, int(conditional)])
    exact, evals = 0, []
    for _ in range(60):
        pop, N, C, Y = _random_case(rng)
        spec = TrainingSpectrum.fit(Y, C=None if conditional else C)
        lr = pop.paper_lr(N) * float(rng.choice([1.0, 0.1, 3.0]))
        lr = min(lr, float(rng.uniform(1.0, 1.9)) / float(spec.lam[0]))
        kmax = int(rng.choice([0, 1, 7, 300, 3000]))
        quad = (conditional_risk_quadratic if conditional else risk_quadratic)(pop, spec)
        same, n_eval = _check(quad, spec.lam, lr, kmax, _dense(pop, spec, lr, kmax, conditional=conditional))
        exact += same
        if kmax == 3000:
            evals.append(n_eval)
    assert exact >= 50  # ties at rounding level are rare (mostly σ ≤ 1e-3, where the curve is flat to 1e-15)
    assert evals and max(evals) <= 600  # it does not degenerate into the dense scan


def test_paper_setting_evaluates_a_few_k(seed):
    """n = 100, d = 10, σ = 0.1, N = 100, k ≤ 5000 (the benchmark's case): the same k with < 2% of the evaluations."""
    pop = Problem(SubspaceSignal(100, 10), 0.1).population(rng=np.random.default_rng(seed))
    C, Y = pop.sample_latent(100, rng=np.random.default_rng(seed + 10))
    spec = TrainingSpectrum.fit(Y, C=C)
    lr = pop.paper_lr(100)
    dense = _dense(pop, spec, lr, 5000, conditional=False)
    same, n_eval = _check(risk_quadratic(pop, spec), spec.lam, lr, 5000, dense)
    assert same and 0 < int(np.argmin(dense)) < 5000 and n_eval <= 100


def test_edge_cases_k0_kmax_and_small_sigma():
    rng = np.random.default_rng(5)
    pop = Problem(SubspaceSignal(30, 3), 1e-7).population(rng=rng)
    C, Y = pop.sample_latent(60, rng=rng)
    spec = TrainingSpectrum.fit(Y, C=C)
    lr = pop.paper_lr(60)
    quad = risk_quadratic(pop, spec)
    # kmax = 0: nothing to search
    assert gd_oracle_search(quad, spec.lam, lr, 0)[0] == 0
    # σ → 0, few steps: the risk is still falling at kmax, so the optimum is the last k
    dense = _dense(pop, spec, lr, 12, conditional=False)
    assert np.all(np.diff(dense) < -1e-9)  # clearly falling, far above the tie tolerance
    assert _check(quad, spec.lam, lr, 12, dense)[0] and gd_oracle_search(quad, spec.lam, lr, 12)[0] == 12
    # σ → 0, many steps: the curve flattens to the floor at rounding level; any tie is accepted
    _check(quad, spec.lam, lr, 5000, _dense(pop, spec, lr, 5000, conditional=False))
    # k = 0 optimal: a path that only moves away from the target (q ≤ 0 and h increasing)
    P, F = rng.standard_normal((8, 3)), rng.standard_normal((4, 8))
    lam = np.sort(rng.uniform(0.1, 2.0, 8))[::-1]
    q0 = PathQuadratic(P=P, s=0.1, F=F, e=np.zeros(8), q=-np.abs(rng.standard_normal(8)), c=1.0, T=3.0, variable="h")
    assert gd_oracle_search(q0, lam, 0.4, 1000)[:2] == (0, 1.0)


def _quad_curve(quad, lam, lr, kmax):
    g = gd_filter(lam, np.arange(kmax + 1), lr)[1 if quad.variable == "h" else 0]
    return quad.value_grad(g)[0]


def test_flat_curve_ties_return_the_first_k():
    """Q = 0, q = 0: every k ties, and like argmin the search returns k = 0; its value is c exactly."""
    quad = PathQuadratic(P=np.zeros((5, 2)), s=0.0, F=np.zeros((3, 5)), e=np.zeros(5), q=np.zeros(5), c=0.25,
                         T=1.0, variable="f")
    lam = np.linspace(1.0, 0.1, 5)
    assert gd_oracle_search(quad, lam, 0.5, 2000) == (0, 0.25, gd_oracle_search(quad, lam, 0.5, 2000)[2])


def test_several_local_minima_are_searched_globally():
    """A fast mode overshoots its target (a local minimum at small k) and a slow mode pays off much later
    (the global minimum at large k): the dense curve has two local minima, the search finds the global one,
    and a unimodal search started from the first would not."""
    lam = np.array([1.0, 1e-3])
    # R = 1 + Σ_i e_i h_i² − 2 q_i h_i (Q = diag(e)). Mode 0 (ηλ = 0.7) is best at h = 0.75, passed at k = 2:
    # a local minimum at k = 1. Mode 1 (ηλ = 7e-4) is best at h = 700 (k ≈ 1700) and gains ~10 ≫ mode 0's 0.06.
    e = np.array([1.0, 2e-5])
    quad = PathQuadratic(P=np.zeros((2, 1)), s=0.0, F=np.ones((1, 2)), e=e, q=e * np.array([0.75, 700.0]), c=1.0,
                         T=1.0, variable="h")
    kmax = 4000
    curve = _quad_curve(quad, lam, 0.7, kmax)
    local = np.flatnonzero((curve[1:-1] < curve[:-2]) & (curve[1:-1] <= curve[2:])) + 1
    assert local.size >= 2 and curve[local[0]] > curve.min()
    k, val, n_eval = gd_oracle_search(quad, lam, 0.7, kmax)
    assert k == int(np.argmin(curve)) and val == pytest.approx(curve.min(), abs=1e-15) and n_eval < kmax // 10


def test_random_quadratics_with_oscillating_modes(seed):
    """Synthetic convex quadratics, including modes with ηλ in (1, 2) (the filter oscillates around 1)."""
    rng = np.random.default_rng([seed, 7])
    for _ in range(40):
        r, p, q = (int(v) for v in rng.integers(1, 9, size=3))
        lam = np.sort(10 ** rng.uniform(-3, 0, r))[::-1]
        lr = float(rng.uniform(0.2, 1.95)) / lam[0]
        quad = PathQuadratic(P=rng.standard_normal((r, p)), s=float(rng.uniform(0, 0.5)), F=rng.standard_normal((q, r)),
                             e=rng.uniform(0, 0.1, r) * rng.integers(2), q=rng.standard_normal(r) * 3,
                             c=float(rng.uniform(0.5, 2)), T=float(rng.uniform(1, 5)),
                             variable=str(rng.choice(["h", "f"])))
        kmax = int(rng.choice([5, 200, 2000]))
        curve = _quad_curve(quad, lam, lr, kmax)
        k, val, _ = gd_oracle_search(quad, lam, lr, kmax)
        mag = quad.value_grad(gd_filter(lam, [k], lr)[1 if quad.variable == "h" else 0])[2][0]
        assert curve[k] - curve.min() <= TIE * mag, (k, int(np.argmin(curve)))
        assert abs(val - curve[k]) <= TIE * mag


def test_fit_many_is_fit_per_draw():
    """The batched factorisation gives every draw exactly what fit gives it, in all three regimes."""
    rng = np.random.default_rng(0)
    pop = Problem(SubspaceSignal(20, 4), 0.3).population(rng=rng)
    for N in (6, 20, 50):
        draws = [pop.sample_latent(N, rng=rng) for _ in range(3)]
        many = TrainingSpectrum.fit_many([Y for _, Y in draws], Cs=[C for C, _ in draws])
        for (C, Y), sp in zip(draws, many):
            one = TrainingSpectrum.fit(Y, C=C)
            assert sp.rank == one.rank
            for a in ("lam", "V", "H"):
                np.testing.assert_array_equal(getattr(sp, a), getattr(one, a))
    with pytest.raises(ValueError, match="one shape"):
        TrainingSpectrum.fit_many([np.ones((3, 4)), np.ones((3, 5))])
    assert TrainingSpectrum.fit_many([]) == []


@pytest.mark.parametrize("rao_blackwell", [False, True])
def test_montecarlo_oracle_is_the_dense_argmin_per_draw(seed, rao_blackwell):
    """The production gd-oracle (batched fits, the search) against each draw rebuilt and scanned densely."""
    prob = Problem(SubspaceSignal(30, 4), 0.2)
    Ns, runs, kmax = [10, 30, 90], 4, 1500
    (o,) = montecarlo(prob, Ns, [Estimator("gd-oracle", kmax=kmax)], runs=runs, rng=np.random.default_rng(seed),
                      rao_blackwell=rao_blackwell)
    base = int(np.random.default_rng(seed).integers(2**62))
    for j, N in enumerate(Ns):
        for run in range(runs):
            r = draw_rng(base, N, run)
            pop = prob.population(rng=r)
            C, Y = pop.sample_latent(N, rng=r)
            spec = TrainingSpectrum.fit(Y, C=None if rao_blackwell else C)
            dense = _dense(pop, spec, pop.paper_lr(N), kmax, conditional=rao_blackwell)
            k = int(o.k_opt[run, j])
            assert dense[k] - dense.min() <= 1e-13
            assert o.draws[run, j, 0] == pytest.approx(dense[k], rel=1e-12, abs=1e-15)


def test_oscillating_mode_with_its_optimum_between_even_grid_points():
    """ηλ = 1.999: f(k) = 1 − (−0.999)^k is < 1 at every even k and > 1 at every odd k; the target f = 1.5 is
    met only near the odd k ≈ 693, so interval bounds built from the endpoints alone (both even, or one of
    each parity) would prune it — the box must cover the whole oscillation."""
    quad = PathQuadratic(P=np.zeros((1, 1)), s=0.0, F=np.ones((1, 1)), e=np.ones(1), q=np.array([1.5]), c=2.25,
                         T=1.0, variable="f")  # R = (f − 1.5)²
    lam = np.array([1.0])
    for kmax in (2000, 5000):
        curve = _quad_curve(quad, lam, 1.999, kmax)
        k, val, _ = gd_oracle_search(quad, lam, 1.999, kmax)
        assert k == int(np.argmin(curve)) and k % 2 == 1 and abs(k - 693) <= 2 and val == pytest.approx(0, abs=1e-6)


def test_unstable_step_is_refused_and_non_finite_risks_fall_back_to_every_k():
    quad = PathQuadratic(P=np.zeros((1, 1)), s=0.0, F=np.ones((1, 1)), e=np.ones(1), q=np.array([1.0]), c=1.0,
                         T=1.0, variable="h")
    with pytest.raises(ValueError, match="unstable"):
        gd_oracle_search(quad, np.array([1.0]), 2.0, 100)
    with pytest.raises(ValueError, match="kmax"):
        gd_oracle_search(quad, np.array([1.0]), 0.5, -1)
    bad = PathQuadratic(P=np.zeros((1, 1)), s=0.0, F=np.ones((1, 1)), e=np.ones(1), q=np.array([np.nan]), c=1.0,
                        T=1.0, variable="h")
    k, val, n_eval = gd_oracle_search(bad, np.array([1.0]), 0.5, 300)
    assert k == 0 and np.isnan(val) and n_eval == 301  # the dense fallback looked at every k


def test_plateau_returns_its_first_k_like_argmin():
    """Once every filter has converged in floating point (f = 1 exactly) the curve is a plateau of equal
    values; like the dense argmin the search returns the plateau's first k, not just any k on it."""
    quad = PathQuadratic(P=np.zeros((2, 1)), s=0.0, F=np.ones((1, 2)), e=np.ones(2), q=np.array([5.0, 3.0]),
                         c=1.0, T=1.0, variable="f")  # R decreases towards f = 1, never turns up
    lam = np.array([1.0, 0.5])
    for lr, kmax in ((0.9, 5000), (1.2, 5000), (0.5, 3000)):
        curve = _quad_curve(quad, lam, lr, kmax)
        kd = int(np.argmin(curve))
        assert 0 < kd < kmax // 2 and np.all(curve[kd:] == curve[kd])  # really a plateau, reached early
        k, val, n_eval = gd_oracle_search(quad, lam, lr, kmax)
        assert (k, val) == (kd, curve[kd]) and n_eval < 150
