"""Monte Carlo drivers: Rao–Blackwell vs plain, the least-squares identity, early-stopping rules."""

import numpy as np
import pytest

from theory import (
    Estimator,
    Problem,
    SubspaceSignal,
    expected_risk,
    montecarlo,
    ols_expected_risk,
)
from theory._xp import cupy_available


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


def test_early_stopping_rules_are_ordered(seed):
    prob = Problem(SubspaceSignal(40, 5), 0.2)
    ests = [Estimator("gd-oracle", kmax=800), Estimator("gd-argmin", kmax=800), Estimator("gd-val", kmax=800, n_val=40),
            Estimator("gd", steps=tuple(range(0, 801, 50)))]
    o, am, val, gd = montecarlo(prob, [8, 50, 400], ests, runs=30, rng=np.random.default_rng(seed))
    # the per-draw oracle is below every fixed k of the same draw, and below the other two rules
    assert np.all(o.draws[:, :, 0][..., None] <= gd.draws + 1e-15)
    assert np.all(o.draws[:, :, 0] <= am.draws[:, :, 0] + 1e-15)
    assert np.all(o.draws[:, :, 0] <= val.draws[:, :, 0] + 1e-15)
    assert np.all((0 <= val.k_opt) & (val.k_opt <= 800))
    assert np.all(am.k_opt == am.k_opt[0])  # one k for all draws
    # a validation set of 40 gets within 20% of the oracle's excess risk at N = 400
    floor = o.floor.mean()
    assert (val.mean[2, 0] - floor) <= 1.2 * (o.mean[2, 0] - floor) + 3 * val.sem[2, 0]


def test_draws_do_not_depend_on_the_other_N():
    prob = Problem(SubspaceSignal(20, 3), 0.1)
    a = montecarlo(prob, [10, 50], ["ols"] and [Estimator("ols")], runs=5, rng=np.random.default_rng(3))[0]
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

    import strict_xp

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
