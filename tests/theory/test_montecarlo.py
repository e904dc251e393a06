"""Monte Carlo drivers: Rao–Blackwell vs plain, the least-squares identity, early-stopping rules."""

import numpy as np
import pytest

from theory import (
    Estimator,
    Problem,
    SubspaceSignal,
    expected_risk,
    gd_loop,
    montecarlo,
    ols_expected_risk,
)
from theory.backend import cupy_available
from theory.montecarlo import draw_rng


def test_rao_blackwell_agrees_with_plain_monte_carlo(seed):
    prob = Problem(SubspaceSignal(30, 4), 0.3)
    ests = [Estimator("gd", steps=(1, 5, 40, 400)), Estimator("ols"), Estimator("ridge", lam=(0.5, 5.0)), Estimator("pca")]
    kw = dict(runs=400, lr="paper")
    plain = montecarlo(prob, [12, 90], ests, rng=np.random.default_rng(seed), **kw)
    rb = montecarlo(prob, [12, 90], ests, rng=np.random.default_rng(seed + 100), rao_blackwell=True, **kw)
    for a, b in zip(plain, rb):
        both = np.sqrt(a.sem**2 + b.sem**2)
        assert np.all(np.abs(a.mean - b.mean) <= 4 * both + 1e-12), a.estimator.name
    # Rao–Blackwellisation reduces the variance of the estimate (GD at k = 40, N = 12)
    assert rb[0].std[0, 2] < plain[0].std[0, 2]


def test_least_squares_identity_within_monte_carlo_error(seed):
    n, N = 20, 60
    prob = Problem(SubspaceSignal(n, 3), 0.5)
    c = montecarlo(prob, [N], [Estimator("ols")], runs=3000, rng=np.random.default_rng(seed))[0]
    pop = prob.population(rng=np.random.default_rng(seed))
    exact = ols_expected_risk(pop, N)
    assert exact == pytest.approx(pop.floor * (N - 1) / (N - n - 1))
    assert abs(c.mean[0, 0] - exact) <= 4 * c.sem[0, 0]
    # and it is distinguishable from the large-N form R*(1 + n/N)
    assert abs(c.mean[0, 0] - pop.floor * (1 + n / N)) > 4 * c.sem[0, 0]
    with pytest.raises(ValueError, match="N > m"):
        ols_expected_risk(pop, n + 1)


def _trace_risk(W, U, sigma):
    """(‖(W − I)U‖_F² + σ²‖W‖_F²)/d for subspace denoising, batched over W's leading axis."""
    n, d = U.shape
    return (np.sum(((W - np.eye(n)) @ U) ** 2, axis=(-2, -1)) + sigma**2 * np.sum(W**2, axis=(-2, -1))) / d


def test_early_stopping_rules_against_a_literal_gd_loop(seed):
    """Each draw is rebuilt from its random stream and GD is run as a literal loop: the oracle's risk and k,
    gd-val's k (argmin of the held-out error along the loop) and gd-argmin's k (argmin of the loop risks
    averaged over draws) must be what the brute force finds."""
    n, d, sigma, kmax, runs = 40, 5, 0.2, 300, 8
    # closed form and loop agree to ~1e-13 relative; neighbouring k differ by ≥ ~1e-8 near the optimum,
    # so a different argmin is accepted only as a tie at 1e-11
    TIE = 1e-11
    prob = Problem(SubspaceSignal(n, d), sigma)
    ests = [Estimator("gd-oracle", kmax=kmax), Estimator("gd-argmin", kmax=kmax),
            Estimator("gd-val", kmax=kmax, n_val=40)]
    Ns = [8, 50, 400]
    o, am, val = montecarlo(prob, Ns, ests, runs=runs, rng=np.random.default_rng(seed))
    base = int(np.random.default_rng(seed).integers(2**62))  # montecarlo's base seed, drawn the same way
    steps = np.arange(kmax + 1)
    loop_risks = np.empty((runs, len(Ns), kmax + 1))
    for j, N in enumerate(Ns):
        for run in range(runs):
            r = draw_rng(base, N, run)
            pop = prob.population(rng=r)
            C, Y = pop.sample_latent(N, rng=r)
            C_val, Y_val = pop.sample_latent(40, rng=r)  # gd-val's held-out set is the next draw of the stream
            U = pop.B
            X, X_val = U @ C, U @ C_val
            W = gd_loop(X, Y, steps, lr=pop.paper_lr(N))  # (kmax+1, n, n)
            risks = _trace_risk(W, U, sigma)
            loop_risks[run, j] = risks
            k = int(o.k_opt[run, j])
            # the oracle: min of the loop's risks, at the loop's argmin (or a tie at rounding level)
            assert o.draws[run, j, 0] == pytest.approx(risks.min(), rel=1e-9)
            assert risks[k] <= risks.min() * (1 + TIE)
            # gd-val: argmin over k of ‖W^k Y_val − X_val‖² along the loop, and the true risk there
            val_err = np.sum((W @ Y_val - X_val) ** 2, axis=(1, 2))
            kv = int(val.k_opt[run, j])
            assert val_err[kv] <= val_err.min() * (1 + TIE)
            assert val.draws[run, j, 0] == pytest.approx(risks[kv], rel=1e-9)
    # gd-argmin: one k per N, the argmin of the mean loop curve
    mean_curve = loop_risks.mean(axis=0)
    for j in range(len(Ns)):
        ka = int(am.k_opt[0, j])
        assert np.all(am.k_opt[:, j] == ka)
        assert mean_curve[j, ka] <= mean_curve[j].min() * (1 + TIE)
        np.testing.assert_allclose(am.draws[:, j, 0], loop_risks[:, j, ka], rtol=1e-9)
    # the rules differ where they should: at N = 8 the per-draw oracle stops at different k across draws
    assert len(np.unique(o.k_opt[:, 0])) > 1


def test_validation_stopping_approaches_the_oracle(seed):
    """gd-val with 40 held-out examples at N = 400: its excess risk is close to the oracle's, far from GD run on.

    Over seeds the ratio of excesses is 1.27 ± 0.09 (30 draws each), so 1.6 is ~4 sd away; a rule that
    picked k badly (validated on the training set, off by a factor in k) lands near k = kmax, ~6× the oracle.
    """
    prob = Problem(SubspaceSignal(40, 5), 0.2)
    o, val, late = montecarlo(prob, [400], [Estimator("gd-oracle", kmax=800), Estimator("gd-val", kmax=800, n_val=40),
                                            Estimator("gd", steps=(800,))], runs=30, rng=np.random.default_rng(seed))
    floor = o.floor.mean()
    ex_o, ex_v, ex_late = (c.mean[0, 0] - floor for c in (o, val, late))
    assert ex_v <= 1.6 * ex_o, ex_v / ex_o
    assert ex_late > 3 * ex_v


def test_draws_do_not_depend_on_the_other_N():
    prob = Problem(SubspaceSignal(20, 3), 0.1)
    a = montecarlo(prob, [10, 50], [Estimator("ols")], runs=5, rng=np.random.default_rng(3))[0]
    b = montecarlo(prob, [50], [Estimator("ols")], runs=5, rng=np.random.default_rng(3))[0]
    np.testing.assert_array_equal(a.draws[:, 1], b.draws[:, 0])


def test_input_validation():
    prob = Problem(SubspaceSignal(20, 3), 0.1)
    rng = np.random.default_rng(0)
    for bad, match in [
        (lambda: montecarlo(prob, [0], [Estimator("ols")], runs=2, rng=rng), "positive integers"),
        (lambda: montecarlo(prob, [5], [Estimator("ols")], runs=0, rng=rng), "runs"),
        (lambda: montecarlo(prob, [5], [Estimator("gd", steps=(3,))], runs=2, rng=rng, lr=100.0), "unstable"),
        (lambda: montecarlo(prob, [5], [Estimator("gd-val", n_val=3)], runs=2, rng=rng, rao_blackwell=True), "gd-val"),
        (lambda: Estimator("gd"), "needs steps"),
        (lambda: Estimator("nope"), "unknown estimator"),
        (lambda: expected_risk(prob, [5], ["ols"], method="magic", rng=rng), "unknown method"),
        (lambda: expected_risk(prob, [5], ["pca"], method="asymptotic", rng=rng), "needs draws"),
    ]:
        with pytest.raises(ValueError, match=match):
            bad()


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_available(), reason="cupy with a CUDA GPU is not available")
def test_cupy_backend_gives_numpy_answers():
    prob = Problem(SubspaceSignal(60, 6), 0.1)
    ests = [Estimator("gd", steps=(1, 10, 100)), Estimator("ols"), Estimator("gd-oracle", kmax=500)]
    a = montecarlo(prob, [30, 200], ests, runs=4, rng=np.random.default_rng(0))
    b = montecarlo(prob, [30, 200], ests, runs=4, rng=np.random.default_rng(0), backend="cupy")
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.draws, y.draws, rtol=1e-8)


@pytest.mark.parametrize("rao_blackwell", [False, True])
def test_cupy_code_path_on_a_strict_stand_in(monkeypatch, rao_blackwell):
    """The backend="cupy" path, run on CPU arrays that behave like cupy's (no implicit host
    conversion, no numpy/device mixing): bit-identical to numpy, host syncs independent of k."""
    import importlib

    from tests.theory import strict_xp

    mc = importlib.import_module("theory.montecarlo")  # the module (theory.montecarlo the name is the function)
    monkeypatch.setattr(mc, "get_xp", lambda backend: strict_xp.xp if backend == "cupy" else np)
    prob = Problem(SubspaceSignal(60, 6), 0.1)
    ests = [Estimator("optimal"), Estimator("pca"), Estimator("ols"), Estimator("ridge", lam=(0.1, 1.0)),
            Estimator("gd", steps=(1, 10, 100)), Estimator("gf", steps=(1.0, 10.0)),
            Estimator("gd-argmin", kmax=500)]
    if not rao_blackwell:
        ests.append(Estimator("gd-val", kmax=500, n_val=20))
    syncs = []
    for kmax in (50, 500):
        ests_k = [*ests, Estimator("gd-oracle", kmax=kmax)]
        a = montecarlo(prob, [10, 60, 200], ests_k, runs=2, rng=np.random.default_rng(0), rao_blackwell=rao_blackwell)
        strict_xp.SYNCS.update(dict.fromkeys(strict_xp.SYNCS, 0))
        b = montecarlo(prob, [10, 60, 200], ests_k, runs=2, rng=np.random.default_rng(0), rao_blackwell=rao_blackwell,
                       backend="cupy")
        syncs.append(sum(strict_xp.SYNCS.values()))
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.draws, y.draws, err_msg=x.estimator.name)
    assert syncs[0] == syncs[1] > 0  # a longer GD path adds no host round trips
