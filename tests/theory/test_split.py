"""Split-measurement (SSDU-style) GD path: closed form vs the literal loop, limits, risk, bad input."""

import numpy as np
import pytest

from theory import MRI, Problem, SplitPath, SubspaceSignal, gradient_descent, split_columns, split_gd_loop
from theory import split_risk_curve, split_training_set
from theory.operators import fft2c, ifft2c


def _random_split_data(h, w, N, m, *, overlap, seed):
    """Generic real inputs Y, complex targets and per-example loss columns over a mask missing column 1."""
    rng = np.random.default_rng(seed)
    measured = np.ones(w, dtype=bool)
    measured[1] = False
    centre = np.zeros(w, dtype=bool)
    centre[w // 2] = True
    gamma = np.array([split_columns(measured, center="both" if overlap else "lambda", center_columns=centre,
                                    rng=rng)[1] for _ in range(N)])
    Y = rng.standard_normal((m, N))
    T = rng.standard_normal((N, h, w)) + 1j * rng.standard_normal((N, h, w))
    return Y, T, gamma


def _rel(a, b):
    return np.linalg.norm(a - b, axis=(-2, -1)) / np.linalg.norm(b, axis=(-2, -1))


CASES = [(h, w, N, m, ov) for (h, w) in [(4, 6), (5, 7), (6, 5)] for (N, m) in [(5, 20), (40, 12), (12, 12)]
         for ov in (True, False)]


@pytest.mark.parametrize("h,w,N,m,overlap", CASES)
def test_path_equals_literal_loop(h, w, N, m, overlap):
    Y, T, gamma = _random_split_data(h, w, N, m, overlap=overlap, seed=h * 100 + w * 10 + N + overlap)
    path = SplitPath.fit(Y, T, gamma, shape=(h, w))
    steps = np.array([1, 2, 7, 30, 120])
    loop = split_gd_loop(Y, T, gamma, shape=(h, w), steps=steps, lr=path.lr_)
    assert np.max(_rel(path.weights(steps), loop)) < 1e-8
    # predict = W^k Yv without forming W^k
    Yv = np.random.default_rng(1).standard_normal((m, 3))
    np.testing.assert_allclose(path.predict(Yv, steps), path.weights(steps) @ Yv, atol=1e-10)


def test_literal_loop_equals_explicit_real_operators():
    """The loop's masked-FFT gradient is Σ G_iᵀ(G_i W y_i − t_i) y_iᵀ with G_i as explicit dense matrices."""
    h, w, N, m = 4, 5, 6, 7
    Y, T, gamma = _random_split_data(h, w, N, m, overlap=True, seed=3)
    Fd = fft2c(np.eye(h * w).reshape(-1, h, w)).reshape(h * w, h, w)  # Fd[j] = F e_j
    G, t = [], []
    for i in range(N):
        cols = Fd[:, :, gamma[i]].reshape(h * w, -1).T  # (h·|Γ|, n) complex rows of P_Γ F
        G.append(np.concatenate([cols.real, cols.imag]))
        t.append(np.concatenate([T[i][:, gamma[i]].ravel().real, T[i][:, gamma[i]].ravel().imag]))
    lr, W = 0.02, np.zeros((h * w, m))
    for _ in range(5):
        W = W - lr * sum(np.outer(G[i].T @ (G[i] @ W @ Y[:, i] - t[i]), Y[:, i]) for i in range(N))
    np.testing.assert_allclose(split_gd_loop(Y, T, gamma, shape=(h, w), steps=np.array([5]), lr=lr)[0], W, atol=1e-12)


def test_weights_real_zero_at_start_and_least_squares_limit():
    h, w, N, m = 5, 6, 40, 10
    Y, T, gamma = _random_split_data(h, w, N, m, overlap=True, seed=5)
    path = SplitPath.fit(Y, T, gamma, shape=(h, w))
    Wt = path._wtilde(np.array([3.0, np.inf]))
    imag = np.abs(ifft2c(np.moveaxis(Wt, -1, 1)).imag).max()
    assert imag < 1e-12 * np.abs(Wt).max()
    assert not np.any(path.weights(0))
    W_inf = path.weights(np.inf)
    assert path.weights(np.array([np.inf])).shape == (1, h * w, m)
    assert _rel(path.weights(1e9), W_inf) < 1e-6
    # W^∞ is a stationary point of the split loss: its gradient (by the loop's masked FFT) vanishes
    resid = np.where(gamma[:, None, :], fft2c((W_inf @ Y).T.reshape(N, h, w)) - T, 0)
    grad = ifft2c(resid).real.reshape(N, -1).T @ Y.T
    b = ifft2c(np.where(gamma[:, None, :], T, 0)).real.reshape(N, -1).T @ Y.T
    assert np.linalg.norm(grad) < 1e-9 * np.linalg.norm(b)


@pytest.mark.parametrize("N", [10, 60])
def test_full_loss_and_full_sampling_is_supervised_gd(N):
    """Γ_i = every column, accel = 1, clean k-space targets: the split loss is ½‖WY − X‖²."""
    h, w = 4, 5
    problem = Problem(SubspaceSignal(h * w, 3), 0.3, MRI((h, w), accel=1))
    pop = problem.population(rng=np.random.default_rng(0))
    X, Y = pop.sample(N, rng=np.random.default_rng(1))
    path = SplitPath.fit(Y, fft2c(X.T.reshape(N, h, w)), np.ones((N, w), dtype=bool), shape=(h, w))
    steps = np.array([1, 5, 50, 400])
    assert np.max(_rel(path.weights(steps), gradient_descent(X, Y, steps, lr=path.lr_))) < 1e-8
    assert _rel(path.weights(np.inf), gradient_descent(X, Y, None, lr=path.lr_)) < 1e-8


def _mri_problem(sigma=0.1):
    return Problem(SubspaceSignal(48, 4), sigma, MRI((6, 8), accel=2, center_fraction=0.25))


def test_exact_risk_matches_test_draws():
    problem = _mri_problem()
    rng = np.random.default_rng(7)
    pop = problem.population(rng=rng)
    path = SplitPath.fit(*split_training_set(problem, pop, 30, rng=rng), shape=(6, 8))
    W = path.weights(20)
    X, Y = pop.sample(20_000, rng=rng)  # the test input is the full measured y
    err = np.sum((W @ Y - X) ** 2, axis=0) / pop.trace_x
    sem = err.std(ddof=1) / np.sqrt(err.size)
    assert abs(err.mean() - pop.risk(W)) < 4 * sem


def test_training_set_layout():
    problem = _mri_problem(sigma=0.0)
    rng = np.random.default_rng(2)
    pop = problem.population(rng=rng)
    op = problem.operator
    Y_lam, T, gamma = split_training_set(problem, pop, 5, center="lambda", rng=rng)
    assert Y_lam.shape == (op.m, 5) and T.shape == (5, 6, 8) and gamma.shape == (5, 8)
    assert not np.any(gamma & ~op.mask_columns()) and not np.any(gamma & op.center_columns())
    # σ = 0: the input's k-space is the target's exactly on Λ = M \ Γ and zero elsewhere
    K_in = fft2c(op.zero_filled(Y_lam.T))
    lam = op.mask_columns() & ~gamma
    np.testing.assert_allclose(np.where(lam[:, None, :], T, 0), K_in, atol=1e-12)


def test_risk_curve_above_floor_below_zero_estimator():
    problem = _mri_problem()
    rows = split_risk_curve(problem, [4, 512], [0, 3, 10, 30, 100, np.inf], draws=3, rng=np.random.default_rng(0))
    est = {(r["N"], r["estimator"], r["k"]): r for r in rows}
    assert all(r["method"] == "montecarlo-split" and r["target"] == "split" for r in rows)
    np.testing.assert_allclose(est[(4, "gd", 0)]["risk_mean"], 1.0, atol=1e-12)  # W = 0 has R = 1
    for N in (4, 512):
        oracle = est[(N, "gd-oracle", None)]
        assert oracle["risk_mean"] >= oracle["floor"]
        assert oracle["risk_mean"] <= min(r["risk_mean"] for r in rows if r["N"] == N and r["estimator"] == "gd")
    assert est[(512, "gd-oracle", None)]["risk_mean"] < 0.8
    assert est[(512, "gd-oracle", None)]["risk_mean"] < est[(4, "gd-oracle", None)]["risk_mean"]


def test_unsupervised_frequencies_bound_the_risk():
    """Columns never in any Γ_i (nor their partners) get W̃ rows 0: R(W^k) ≥ their share of the energy."""
    problem = _mri_problem()
    rng = np.random.default_rng(4)
    pop = problem.population(rng=rng)
    path = SplitPath.fit(*split_training_set(problem, pop, 200, rng=rng), shape=(6, 8))
    meas = problem.operator.mask_columns()
    never = ~(meas | meas[(2 * 4 - np.arange(8)) % 8])
    assert never.any()
    FB = fft2c(pop.B.T.reshape(-1, 6, 8))  # (p, h, w): the DFT of the signal factor's columns
    bound = np.sum(np.abs(FB[:, :, never]) ** 2) / pop.trace_x
    risks = pop.risk(path.weights(np.array([5, 50, np.inf])))
    assert np.all(risks >= bound - 1e-12) and bound > 0.05


def test_bad_input():
    rng = np.random.default_rng(0)
    meas = np.array([True, True, False, True, True, True])
    with pytest.raises(ValueError, match="fraction"):
        split_columns(meas, fraction=1.0, rng=rng)
    with pytest.raises(ValueError, match="fraction"):
        split_columns(meas, fraction=0.0, rng=rng)
    with pytest.raises(ValueError, match="Γ .*empty"):
        split_columns(np.eye(6, dtype=bool)[3] | np.eye(6, dtype=bool)[1], fraction=0.9, center="lambda",
                      center_columns=[3], rng=rng)
    with pytest.raises(ValueError, match="Λ .*empty"):
        split_columns(np.eye(6, dtype=bool)[1], fraction=0.1, rng=rng)
    with pytest.raises(ValueError, match="center"):
        split_columns(meas, center="gamma", rng=rng)
    with pytest.raises(ValueError, match="measured"):
        split_columns(meas, center_columns=[2], rng=rng)
    Y, T, gamma = _random_split_data(4, 5, 6, 7, overlap=True, seed=0)
    with pytest.raises(ValueError, match="targets have shape"):
        SplitPath.fit(Y, T[:, :, :4], gamma, shape=(4, 5))
    with pytest.raises(ValueError, match="gamma has shape"):
        SplitPath.fit(Y, T, gamma[:-1], shape=(4, 5))
    with pytest.raises(ValueError, match="no loss columns"):
        SplitPath.fit(Y, T, np.zeros_like(gamma), shape=(4, 5))
    with pytest.raises(ValueError, match="shape"):
        SplitPath.fit(Y, T, gamma, shape=(20,))
    with pytest.raises(ValueError, match="unstable"):
        SplitPath.fit(Y, T, gamma, shape=(4, 5), lr=10.0)
    with pytest.raises(ValueError, match="Yv"):
        SplitPath.fit(Y, T, gamma, shape=(4, 5)).predict(Y[:-1], 3)
    with pytest.raises(ValueError, match="MRI"):
        split_risk_curve(Problem(SubspaceSignal(16, 2), 0.1), [4], [1], draws=1, rng=rng)


# ------------------------------------------------------------------------------- the three floors, rounding
def test_mask_floor_is_the_energy_of_the_unmeasured_frequencies():
    """8×8 at accel 2: the split estimator's floor is ≈ 0.38 of the energy, R* ≈ 0.02 (direct DFT of B)."""
    from theory.split import mask_floor

    problem = Problem(SubspaceSignal(64, 8), 0.1, MRI((8, 8), accel=2, center_fraction=0.25))
    pop = problem.population(rng=np.random.default_rng(2))
    op = problem.operator
    FB = np.stack([fft2c(b.reshape(8, 8)) for b in pop.B.T])  # (p, h, w), one column of B at a time
    for center in ("both", "lambda"):
        can = op.mask_columns() & ~(op.center_columns() if center == "lambda" else np.zeros(8, dtype=bool))
        never = [c for c in range(8) if not can[c] and not can[(8 - c) % 8]]  # partner of c: (2·(8//2) − c) mod 8
        direct = sum(np.sum(np.abs(FB[:, :, c]) ** 2) for c in never) / np.sum(pop.B**2)
        np.testing.assert_allclose(mask_floor(problem, pop, center=center), direct, rtol=1e-12)
    assert 0.3 < mask_floor(problem, pop) < 0.45 and pop.floor < 0.05
    assert mask_floor(problem, pop, center="lambda") > mask_floor(problem, pop)


def test_realised_floor_bounds_the_path_and_matches_a_brute_force_minimum():
    from theory.split import mask_floor, realised_floor

    problem = _mri_problem()
    rng = np.random.default_rng(4)
    pop = problem.population(rng=rng)
    for N in (5, 30):  # below every GD step's risk, least squares included, and above the mask floor
        Y_lam, T, gamma = split_training_set(problem, pop, N, rng=rng)
        path = SplitPath.fit(Y_lam, T, gamma, shape=(6, 8))
        risks = pop.risk(path.weights(np.array([1, 3, 10, 30, 100, 1000, 10_000, np.inf])))
        rf = realised_floor(pop, Y_lam, gamma, shape=(6, 8))
        assert mask_floor(problem, pop) - 1e-12 <= rf <= risks.min() + 1e-12, (rf, risks.min())
    # brute force: the real W whose rows of F W lie in each frequency's span, as a real linear space spanned
    # by Re/Im of f_ω qᵀ (f_ω = F^H e_ω, q an orthonormal basis of the span), and the least squares of
    # ‖(W − W*) L‖_F (Σ_y = L Lᵀ) over it; R = R* + that minimum / tr Σ_x
    Y_lam, T, gamma = split_training_set(problem, pop, 6, rng=rng)
    m, (h, w) = pop.m, (6, 8)
    g = gamma.astype(float)
    s = 0.5 * (g + g[:, (2 * (w // 2) - np.arange(w)) % w])
    basis = []
    for r in range(h):
        for c in range(w):
            idx = s[:, c] > 0
            if not idx.any():
                continue
            e = np.zeros((h, w))
            e[r, c] = 1.0
            f = ifft2c(e).ravel()  # F^H e_ω: (n,) complex
            U, sv, _ = np.linalg.svd(Y_lam[:, idx], full_matrices=False)
            for q in U[:, sv > 1e-10 * sv[0]].T:
                basis += [np.outer(f, q).real, np.outer(f, q).imag]
    Sy = pop.AB @ pop.AB.T + pop.sigma**2 * np.eye(m)
    L = np.linalg.cholesky(Sy)
    M = np.stack([(E @ L).ravel() for E in basis], axis=1)
    target = (pop.W_star @ L).ravel()
    theta, *_ = np.linalg.lstsq(M, target, rcond=None)
    best = pop.floor + np.sum((M @ theta - target) ** 2) / pop.trace_x
    np.testing.assert_allclose(realised_floor(pop, Y_lam, gamma, shape=(h, w)), best, rtol=1e-8)


def test_risk_curve_reports_the_three_floors():
    rows = split_risk_curve(_mri_problem(), [8], [3, 30], draws=2, rng=np.random.default_rng(0))
    oracle = next(r for r in rows if r["estimator"] == "gd-oracle")
    assert oracle["floor"] < oracle["mask_floor"] <= oracle["realised_floor"] <= oracle["risk_mean"]


def test_split_columns_rounds_half_up():
    """5 outer columns at fraction ½: 2.5 → 3 in Λ (Python's round would give 2)."""
    meas = np.ones(6, dtype=bool)
    lam, gamma = split_columns(meas, fraction=0.5, center_columns=[3], rng=np.random.default_rng(0))
    assert lam.sum() - 1 == 3 and (gamma & ~lam).sum() == 2
