"""One certified search for every stopping rule (theory.stopping) against its brute-force twin.

The twin is the dense argmin over every k = 0..kmax. For each kind of objective — a validation MSE
(one quadratic in the gains), a sum of quadratic blocks with their own steps (the mean over draws; a
split path's column groups), and the deterministic equivalent's exponential sum (CurvaturePath) — the
search's k ties the dense minimum within its tolerance; curves with several local minima and plateaus
of ties are included, and the limits k = 0 and a large kmax. The data model's Monte Carlo stopping
rules (gd-oracle, gd-argmin, gd-val) are rebuilt draw by draw and scanned densely; the step rule is
written out once more (the paper's η(N)).
"""

import numpy as np
import pytest

from theory.data_asymptotics import DataEquivalent, shift_spectrum
from theory.datamodel import DataModel, DataSpectrum, data_montecarlo
from theory.estimators import (
    TrainingSpectrum,
    gd_filter,
    ols_filter,
    paper_step,
    sample_step,
)
from theory.montecarlo import Estimator, draw_rng
from theory.problem import Problem
from theory.risk import validation_quadratic
from theory.signals import SubspaceSignal
from theory.stopping import (
    ORACLE_TIE_RTOL,
    CurvaturePath,
    PathQuadratic,
    QuadraticPath,
    choose_k,
    dense_steps,
    search_steps,
)

TIE = 20 * ORACLE_TIE_RTOL  # the search's tolerance plus the rounding of two evaluation orders


def _model(n: int = 12, sigma: float = 0.2, seed: int = 0) -> DataModel:
    rng = np.random.default_rng(seed)
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    Vq, _ = np.linalg.qr(V + 0.3 * rng.standard_normal((n, n)))
    return DataModel(DataSpectrum(np.geomspace(4.0, 1e-3, n), V=V), sigma, DataSpectrum(np.geomspace(3.0, 2e-3, n), V=Vq))


def _dense_values(objective, kmax):
    return objective.evaluate(np.arange(kmax + 1, dtype=float))[0]


def _assert_ties_dense(objective, kmax, tol):
    stop = search_steps(objective, kmax)
    dense = _dense_values(objective, kmax)
    assert 0 <= stop.k <= kmax and stop.evaluations <= kmax + 1
    assert dense[stop.k] - dense.min() <= tol, (stop.k, int(np.argmin(dense)), dense[stop.k] - dense.min())
    assert stop.value == pytest.approx(dense[stop.k], rel=1e-12, abs=tol)
    return stop, dense


# ------------------------------------------------------------------------------------------ the step rule
def test_the_step_rule_is_the_papers_formula_on_a_second_moment():
    """paper_step on (N, λ_max, tr, m), and sample_step = the same formula on YYᵀ/N (η·λ_max(YYᵀ) = 1/(1+ε))."""
    pop = Problem(SubspaceSignal(30, 4), 0.2).population(rng=np.random.default_rng(0))
    for N in (3, 30, 300):  # the paper's: 1/(N(1+ε)(1+σ²)), ε = √(10 (d + σ²n) log n / N)
        eps = np.sqrt(10 * (4 + 0.04 * 30) * np.log(30) / N)
        assert pop.paper_lr(N) == pytest.approx(1 / (N * (1 + eps) * 1.04), rel=1e-12)
    Y = np.random.default_rng(1).standard_normal((8, 20)) * np.arange(1, 9)[:, None]
    spec = TrainingSpectrum.fit(Y)
    eps = np.sqrt(10 * np.sum(Y**2) / 20 * np.log(8) / 20)
    lam_max = np.linalg.eigvalsh(Y @ Y.T)[-1]
    assert sample_step(spec, 20) == pytest.approx(1 / ((1 + eps) * lam_max), rel=1e-12)
    assert sample_step(spec, 20) * lam_max < 1
    for bad in ((0, 1.0, 1.0, 4), (5, 0.0, 1.0, 4), (5, 1.0, np.inf, 4)):
        with pytest.raises(ValueError, match="paper_step needs") as e:
            paper_step(*bad)
        assert "\n" not in str(e.value)


# ------------------------------------------------------------------------------------------ quadratics
def test_validation_quadratic_is_the_mse_and_its_search_the_dense_argmin(seed):
    """The held-out MSE of W^k, written as a quadratic in the gains, equals the MSE of the formed W^k at
    every k; the search's k is the dense argmin (N below, at and above m; kmax small and large)."""
    model = _model()
    rng = np.random.default_rng([seed, 3])
    for N in (5, 12, 40):
        X, Y = model.sample(N, rng=rng)
        X_val, Y_val = model.sample(9, rng=rng)
        spec = TrainingSpectrum.fit(Y, X)
        lr = sample_step(spec, N)
        quad = validation_quadratic(spec, Y_val, X_val)
        ks = np.array([0.0, 1, 7, 100, 5000])
        W = spec.weights(gd_filter(spec.lam, ks, lr)[1])
        direct = np.mean((W @ Y_val - X_val) ** 2, axis=(1, 2))
        np.testing.assert_allclose(quad.value_grad(gd_filter(spec.lam, ks, lr)[1])[0], direct, rtol=1e-10)
        for kmax in (0, 3, 3000):
            _assert_ties_dense(QuadraticPath(quad, spec.lam, lr), kmax, TIE * 10)
        k, val, _ = choose_k(quad, spec.lam, lr, 3000)  # k = ∞ compared separately: X Y⁺
        at_inf = np.mean((spec.weights(ols_filter(spec.lam)[1])[0] @ Y_val - X_val) ** 2)
        best = min(_dense_values(QuadraticPath(quad, spec.lam, lr), 3000).min(), at_inf)
        assert val == pytest.approx(best, rel=1e-10) and (np.isinf(k) == (at_inf < best * (1 - 1e-12)))


def test_a_sum_of_blocks_with_their_own_steps_is_searched_as_one_curve():
    """The mean over draws (gd-argmin) and a split path's groups: blocks of different size, variable and step,
    including oscillating modes (ηλ up to 1.9); several local minima."""
    rng = np.random.default_rng(4)
    for _ in range(25):
        quads, lams, lrs = [], [], []
        for _ in range(int(rng.integers(1, 5))):
            r, p, q = (int(v) for v in rng.integers(1, 7, size=3))
            lam = np.sort(10 ** rng.uniform(-3, 0, r))[::-1]
            lams.append(lam)
            lrs.append(float(rng.uniform(0.2, 1.9)) / lam[0])
            quads.append(PathQuadratic(P=rng.standard_normal((r, p)), s=float(rng.uniform(0, 0.5)),
                                       F=rng.standard_normal((q, r)), e=rng.uniform(0, 0.1, r), q=rng.standard_normal(r) * 3,
                                       c=1.0, T=float(rng.uniform(1, 5)), variable=str(rng.choice(["h", "f"]))))
        objective = QuadraticPath(quads, lams, lrs)
        kmax = int(rng.choice([40, 2000]))
        _, dense = _assert_ties_dense(objective, kmax, TIE * 10 * len(quads))
        parts = sum(QuadraticPath(q, lam, lr).evaluate(np.arange(kmax + 1.0))[0] for q, lam, lr in zip(quads, lams, lrs))
        np.testing.assert_allclose(dense, parts, rtol=1e-13)  # the blocks' sum, not anything else
    with pytest.raises(ValueError, match="one eigenvalue array and one step per"):
        QuadraticPath(quads, lams[:1], lrs)


def test_plateau_and_k0_limits():
    """Every k ties (Q = 0, q = 0): the first k, 0. A path that only moves away from the target: k = 0.
    kmax = 10⁹ on a curve that falls to a plateau: a k on it (ties within the tolerance), in a few hundred
    evaluations."""
    flat = PathQuadratic(P=np.zeros((3, 1)), s=0.0, F=np.zeros((2, 3)), e=np.zeros(3), q=np.zeros(3), c=0.5, T=1.0,
                         variable="f")
    assert search_steps(QuadraticPath(flat, np.array([1.0, 0.5, 0.1]), 0.5), 10**6).k == 0
    away = PathQuadratic(P=np.zeros((2, 1)), s=0.0, F=np.ones((1, 2)), e=np.ones(2), q=-np.ones(2), c=1.0, T=1.0,
                         variable="f")
    stop = search_steps(QuadraticPath(away, np.array([1.0, 0.1]), 0.5), 10**6)
    assert (stop.k, stop.value) == (0, 1.0)
    falls = PathQuadratic(P=np.zeros((2, 1)), s=0.0, F=np.ones((1, 2)), e=np.ones(2), q=np.array([5.0, 3.0]), c=1.0,
                          T=1.0, variable="f")
    path = QuadraticPath(falls, np.array([1.0, 1e-3]), 0.9)
    stop = search_steps(path, 10**9)  # R falls monotonically to its limit 1 + 2 − 16 = −13 (f = 1)
    assert stop.value - (-13.0) <= TIE * 16 and stop.evaluations < 600  # the tie chase is budgeted
    # the limit is met to an ulp near (1 − 9e-4)^k ≈ 1e-16, k ≈ 4·10⁴: near the plateau's start, not anywhere on it
    assert 3 * 10**4 < stop.k < 10**5


# ------------------------------------------------------------------------------ the deterministic equivalent
def _oscillating(A: float = 0.3, B: float = 0.5, rho: float = 0.999, theta: float = 0.11, s: float = 0.9995):
    """R(k) = 1 − B + A ρ^k cos(θk) + B s^k: damped oscillation on a slow fall — ~100 local minima for k ≤ 6000,
    the lowest in a trough just before 6000 (a search that trusted its endpoints, zero curvature, stops at 5968)."""
    u = np.array([rho * np.exp(1j * theta), rho * np.exp(-1j * theta), s])
    beta = np.array([A / 2, A / 2, B], dtype=complex)

    def risk(ks):
        return (1 - B + A * rho**ks * np.cos(theta * ks) + B * s**ks)

    return CurvaturePath(risk, u, beta, np.zeros(3, complex), np.zeros((3, 3), complex), rtol=1e-12)


def test_curvature_bound_finds_the_global_minimum_among_many_local_ones():
    path = _oscillating()
    kmax = 6000
    stop, dense = _assert_ties_dense(path, kmax, 1e-12)
    local = np.flatnonzero((dense[1:-1] < dense[:-2]) & (dense[1:-1] <= dense[2:])) + 1
    assert local.size >= 50 and stop.k == int(np.argmin(dense)) < kmax and stop.evaluations < kmax // 10
    assert dense_steps(path, kmax).k == stop.k
    with pytest.raises(ValueError, match="unstable"):
        CurvaturePath(lambda k: k, np.array([1.5 + 0j]), np.ones(1, complex), np.zeros(1, complex),
                      np.zeros((1, 1), complex), rtol=1e-9)


@pytest.mark.parametrize("full_matrix", [False, True])
def test_equivalent_search_is_the_dense_argmin_of_its_curve(full_matrix):
    """gd_stop against every k ≤ 3000 of DataEquivalent.risk (P ≠ Q; the diagonal and the full-H paths);
    the expansion behind the bound is the same function to 1e-12; a large kmax gives the same k."""
    model = _model(n=16, sigma=0.1)
    sp = shift_spectrum(model, full_matrix=full_matrix)
    for N in (6, 64, 512):
        eq = DataEquivalent(sp, N, model.paper_lr(N) * N)
        stop = eq.gd_stop(3000)
        dense = eq.risk("gd", np.arange(3001.0))
        assert dense[stop.k] - dense.min() <= 1e-9 * dense.min() and stop.evaluations < 600
        u, beta, gamma, Gamma, c = eq.gd_expansion()
        ks = np.array([0.0, 1, 10, 300, 3000])
        v = u[None, :] ** ks[:, None]
        expanded = (c + v @ beta + (v * v) @ gamma + np.sum((v @ Gamma) * v, axis=1)).real
        np.testing.assert_allclose(expanded, eq.risk("gd", ks), rtol=1e-12)
        if stop.k < 3000:
            assert abs(eq.gd_stop(10**9).k - stop.k) <= 2


# ------------------------------------------------------------------------------ the data model's Monte Carlo
@pytest.mark.parametrize("rao_blackwell", [False, True])
def test_data_montecarlo_stopping_rules_are_the_dense_argmins_per_draw(rao_blackwell):
    model = _model()
    kmax, runs, n_val = 400, 4, 7
    ests = [Estimator("gd-oracle", kmax=kmax), Estimator("gd-argmin", kmax=kmax)]
    if not rao_blackwell:
        ests.append(Estimator("gd-val", kmax=kmax, n_val=n_val))
    curves = data_montecarlo(model, [6, 30], ests, runs=runs, rng=np.random.default_rng(5), rao_blackwell=rao_blackwell)
    base = int(np.random.default_rng(5).integers(2**62))
    for j, N in enumerate((6, 30)):
        lr = model.paper_lr(N)
        paths = []
        for run in range(runs):
            r = draw_rng(base, N, run)
            X, Y = model.sample(N, rng=r)
            spec = TrainingSpectrum.fit(Y, X)
            f, h = gd_filter(spec.lam, np.arange(kmax + 1), lr)
            path = model.conditional_risk_path(spec, f) if rao_blackwell else model.risk_path(spec, h)
            paths.append(path)
            k = int(curves[0].k_opt[run, j])
            assert path[k] - path.min() <= 1e-13 and curves[0].draws[run, j, 0] == pytest.approx(path[k], rel=1e-12)
            if not rao_blackwell:
                X_val, Y_val = model.sample(n_val, rng=r)
                val = np.mean((spec.weights(h) @ Y_val - X_val) ** 2, axis=(1, 2))
                kv = int(curves[2].k_opt[run, j])
                assert val[kv] - val.min() <= 1e-13 * val.min() and curves[2].draws[run, j, 0] == pytest.approx(path[kv])
        mean = np.mean(paths, axis=0)
        ka = int(curves[1].k_opt[0, j])
        assert mean[ka] - mean.min() <= 1e-13 and np.all(curves[1].k_opt[:, j] == ka)
        np.testing.assert_allclose(curves[1].draws[:, j, 0], [p[ka] for p in paths], rtol=1e-12)
