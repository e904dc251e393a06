"""Noisy training targets (Noise2Noise-style, issue 12 item 1): t = x + z′, z′ ~ N(0, σ_t² I_n).

Every estimator is fitted to the noisy targets and scored against the clean x. The closed forms take
tr Σ_e + n σ_t² where they integrate the residual out; their twins here: the literal GD loop on drawn
targets, plain vs Rao–Blackwellised Monte Carlo, the data-free forms vs Monte Carlo, and the limits
σ_t = 0 (the supervised numbers, bit for bit), σ_t → ∞ (W → 0 is best) and k = 0 (W = 0).
"""

import json

import numpy as np
import pytest

from bridge.cli import main as cli_main
from theory import (
    Estimator,
    Population,
    Problem,
    SubspaceSignal,
    expected_risk,
    gd_loop,
    gradient_descent,
    montecarlo,
    ols_expected_risk,
    rmt_curve,
)
from theory.montecarlo import draw_rng, target_rng

ESTIMATORS = (
    Estimator("gd-oracle", kmax=300), Estimator("gd-argmin", kmax=300), Estimator("gd-val", kmax=300, n_val=20),
    Estimator("gd", steps=(0, 7, 60)), Estimator("gf", steps=(40.0,)), Estimator("ridge", lam=(2.0,)),
    Estimator("ols"), Estimator("pca"), Estimator("optimal"),
)


def _run(method: str, **problem_kw) -> dict:
    prob = Problem(SubspaceSignal(40, 4), 0.2, **problem_kw)
    ests = [e for e in ESTIMATORS
            if not (method != "montecarlo" and e.name == "gd-val") and not (method in ("asymptotic", "large-n")
                                                                            and e.name == "pca")]
    curves = expected_risk(prob, [15, 120], ests, method=method, runs=3, rng=np.random.default_rng(7))
    return {c.estimator.name: c for c in curves}


# ------------------------------------------------------------------ (a) σ_t = 0 is the supervised case
@pytest.mark.parametrize("method", ["montecarlo", "rao-blackwell", "asymptotic", "large-n"])
def test_zero_target_sigma_reproduces_the_supervised_curves_exactly(method):
    default = _run(method)
    zero = _run(method, target_sigma=0.0)
    for name, c in zero.items():
        assert np.array_equal(c.draws, default[name].draws), name  # same draws, same numbers
        assert (c.k_opt is None) == (default[name].k_opt is None)
        if c.k_opt is not None:
            assert np.array_equal(c.k_opt, default[name].k_opt), name
        assert c.info["target_sigma"] == 0.0


def test_vanishing_target_noise_joins_the_supervised_curve():
    """σ_t = 1e-9 takes the noisy-target code path (T drawn, fitted as X) and lands on the supervised numbers."""
    supervised = _run("montecarlo")
    tiny = _run("montecarlo", target_sigma=1e-9)
    for name, c in tiny.items():
        np.testing.assert_allclose(c.draws, supervised[name].draws, rtol=1e-6, err_msg=name)
    # and a visible σ_t changes every estimator fitted to the targets, but not W*, pca or k = 0
    noisy = _run("montecarlo", target_sigma=0.3)
    for name, c in noisy.items():
        same = name in ("optimal", "pca")
        gold = supervised[name].draws
        if name == "gd":
            np.testing.assert_array_equal(c.draws[..., 0], 1.0)
            c_draws, gold = c.draws[..., 1:], gold[..., 1:]
        else:
            c_draws = c.draws
        assert np.array_equal(c_draws, gold) == same, name
        if not same:
            assert np.all(c_draws > gold), name


# ------------------------------------------------------------------ (b) the literal loop twin
def _loop_oracle(prob: Problem, pop: Population, N: int, kmax: int, C: np.ndarray, Y: np.ndarray,
                 Zt: np.ndarray) -> tuple[float, int]:
    """min over k ≤ kmax of R(W^k), W^k from the literal loop on T = X + σ_t Z′; (risk, first argmin k)."""
    T = pop.B @ C + prob.target_sigma * Zt
    Ws = gd_loop(T, Y, np.arange(kmax + 1), lr=pop.paper_lr(N))
    risks = pop.risk(Ws)
    k = int(np.argmin(risks))
    return float(risks[k]), k


@pytest.mark.parametrize("N", [30, 100, 1024])
def test_noisy_target_oracle_matches_the_literal_loop(N):
    """n = 100, d = 10, σ = σ_t = 0.1: gd-oracle (closed form + certified search) against the literal GD loop.

    Same draws: every draw's oracle risk and k equal the loop's. Independent draws: the means agree within
    4 SEM, and both sit far above the supervised curve (n σ_t² = 1 ≫ tr Σ_e ≈ 0.1), so a missing
    target-noise term could not pass. Measured (runs 30/30, kmax 200; kmax 100 gives the same minima), closed form vs loop twin (supervised):
    N = 30: 0.0662 ± 0.0014 vs 0.0645 ± 0.0010 (+1.0 SEM; 0.0184); N = 100: 0.02234 ± 0.00017 vs
    0.02232 ± 0.00016 (+0.05 SEM; 0.0112); N = 1024: 0.011000 ± 0.000010 vs 0.011008 ± 0.000010 (−0.2 SEM; 0.0100).
    """
    # k_opt ≤ 71 in every draw here (measured with kmax 5000), so kmax 100 gives the same minima as the
    # measured kmax 200 at half the literal loop's cost
    kmax, runs = 100, 30
    prob = Problem(SubspaceSignal(100, 10), 0.1, target_sigma=0.1)
    est = Estimator("gd-oracle", kmax=kmax)
    curve = montecarlo(prob, [N], [est], runs=runs, rng=np.random.default_rng(3))[0]
    # same draws: rebuild montecarlo's streams
    base = int(np.random.default_rng(3).integers(2**62))
    for run in range(2):
        r = draw_rng(base, N, run)
        pop = prob.population(rng=r)
        C, Y = pop.sample_latent(N, rng=r)
        Zt = target_rng(base, N, run).standard_normal((prob.n, N))
        risk, k = _loop_oracle(prob, pop, N, kmax, C, Y, Zt)
        assert curve.draws[run, 0, 0] == pytest.approx(risk, rel=1e-9)
        assert curve.k_opt[run, 0] == k
    # independent draws: a Monte Carlo twin of the whole expectation
    rng = np.random.default_rng(1000 + N)
    twin = []
    for _ in range(runs):
        pop = prob.population(rng=rng)
        C = rng.standard_normal((pop.p, N))
        Y = pop.B @ C + prob.sigma * rng.standard_normal((prob.n, N))
        twin.append(_loop_oracle(prob, pop, N, kmax, C, Y, rng.standard_normal((prob.n, N)))[0])
    twin = np.array(twin)
    t_mean, t_sem = twin.mean(), twin.std(ddof=1) / np.sqrt(runs)
    both = np.hypot(t_sem, curve.sem[0, 0])
    assert abs(curve.mean[0, 0] - t_mean) <= 4 * both, (curve.mean[0, 0], t_mean, both)
    clean = montecarlo(Problem(SubspaceSignal(100, 10), 0.1), [N], [est], runs=runs, rng=np.random.default_rng(3))[0]
    assert t_mean > clean.mean[0, 0] + 4 * np.hypot(t_sem, clean.sem[0, 0])


# ------------------------------------------------------------------ (c) Rao–Blackwell vs plain Monte Carlo
def test_rao_blackwell_agrees_with_plain_monte_carlo_with_noisy_targets():
    prob = Problem(SubspaceSignal(30, 4), 0.3, target_sigma=0.3)
    ests = [Estimator("gd", steps=(1, 5, 40, 400)), Estimator("ols"), Estimator("ridge", lam=(0.5, 5.0)),
            Estimator("gf", steps=(3.0, 300.0))]
    plain = montecarlo(prob, [12, 90], ests, runs=300, rng=np.random.default_rng(4))
    rb = montecarlo(prob, [12, 90], ests, runs=300, rng=np.random.default_rng(104), rao_blackwell=True)
    clean = montecarlo(Problem(SubspaceSignal(30, 4), 0.3), [12, 90], ests, runs=300, rng=np.random.default_rng(104),
                       rao_blackwell=True)
    for a, b, c in zip(plain, rb, clean):
        both = np.sqrt(a.sem**2 + b.sem**2)
        assert np.all(np.abs(a.mean - b.mean) <= 4 * both), (a.estimator.name, a.mean, b.mean, both)
        assert np.all(b.draws > c.draws), a.estimator.name  # same draws of Y: the target noise only adds
    # least squares at N = 90 > n + 1: the exact identity with the shifted trace
    pop = prob.population(rng=np.random.default_rng(0))
    exact = ols_expected_risk(pop, 90)
    assert exact == pytest.approx(pop.floor + (pop.trace_e + 30 * 0.09) / pop.trace_x * 30 / 59, rel=1e-12)
    assert abs(plain[1].mean[1, 0] - exact) <= 4 * plain[1].sem[1, 0]
    assert abs(rb[1].mean[1, 0] - exact) <= 4 * rb[1].sem[1, 0]


def test_noisy_validation_targets_pick_a_sensible_k():
    """gd-val with noisy validation targets: its k is no better than the oracle's and close to it."""
    prob = Problem(SubspaceSignal(50, 5), 0.1, target_sigma=0.2)
    val, orc = montecarlo(prob, [60], [Estimator("gd-val", kmax=300, n_val=200), Estimator("gd-oracle", kmax=300)],
                          runs=20, rng=np.random.default_rng(5))
    assert np.all(val.draws >= orc.draws - 1e-12)
    assert val.mean[0, 0] <= orc.mean[0, 0] + 0.1 * (orc.mean[0, 0] - orc.floor.mean())


# ------------------------------------------------------------------ (d) data-free forms vs Monte Carlo
def assert_excess_close(approx, mc, sem, floor, rtol):
    """|approx − MC| ≤ rtol·(MC − R*) + 3·SEM (as tests/theory/test_asymptotics.py)."""
    approx, mc, sem = np.asarray(approx), np.asarray(mc), np.asarray(sem)
    excess = mc - floor
    assert np.all(excess > 0)
    rel = np.round((approx - mc) / excess, 4)
    assert np.all(np.abs(approx - mc) <= rtol * excess + 3 * sem), f"relative error on the excess {rel}"


@pytest.mark.parametrize("N", [100, 800])
def test_asymptotic_matches_monte_carlo_on_the_excess_with_noisy_targets(N):
    """n = 400, d = 40, σ = σ_t = 0.1: the equivalent (tr Σ_e + n σ_t²) vs plain Monte Carlo on drawn targets.

    k from 1 to 4 k_opt. Measured: |error| ≤ 0.64% of the excess at N = 100 (SEM ≤ 1.4%), ≤ 0.78% at N = 800
    (SEM ≤ 0.8%); the tolerance is tests/theory/test_asymptotics.py's (5% of the excess + 3 SEM).
    """
    prob = Problem(SubspaceSignal(400, 40), 0.1, target_sigma=0.1)
    pop = prob.population(rng=None)
    k_opt = int(expected_risk(prob, [N], [Estimator("gd-oracle", kmax=2000)], method="asymptotic",
                              rng=np.random.default_rng(0))[0].k_opt[0, 0])
    ks = tuple(float(k) for k in np.unique(np.round(np.geomspace(1, 4 * max(k_opt, 1), 6))))
    rmt = rmt_curve(pop, N, "gd", ks)
    mc = montecarlo(prob, [N], [Estimator("gd", steps=ks)], runs=8, rng=np.random.default_rng(6))[0]
    assert_excess_close(rmt, mc.mean[0], mc.sem[0], pop.floor, 0.05)
    # from k ≈ k_opt on, the supervised equivalent is far off: the target-noise term is what makes it agree
    clean = rmt_curve(Problem(SubspaceSignal(400, 40), 0.1).population(rng=None), N, "gd", ks)
    late = np.asarray(ks) >= k_opt
    assert late.sum() >= 2
    assert np.all(mc.mean[0, late] - clean[late] > 0.2 * (mc.mean[0, late] - pop.floor))


def test_large_n_law_takes_the_shifted_trace():
    """Large N: the law's variance term is (tr Σ_e + n σ_t²)·Σ_j n_j φ_j²/N; at k → ∞ it is least squares."""
    prob = Problem(SubspaceSignal(50, 5), 0.2, target_sigma=0.5)
    pop = prob.population(rng=None)
    N = 20000
    law = expected_risk(prob, [N], ["ols"], method="large-n", rng=np.random.default_rng(0))[0].mean[0, 0]
    assert law == pytest.approx(pop.floor + (pop.trace_e + 50 * 0.25) / pop.trace_x * 50 / N, rel=1e-12)
    assert law == pytest.approx(ols_expected_risk(pop, N), rel=5e-3)


# ------------------------------------------------------------------ (e) limits
def test_k_zero_is_w_zero_whatever_the_target_noise():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 30)), rng.standard_normal((20, 30))
    for ts in (0.0, 0.5, 50.0):
        T = X + ts * rng.standard_normal(X.shape)
        assert not np.any(gradient_descent(T, Y, [0], lr=1e-3))
        assert not np.any(gd_loop(T, Y, [0], lr=1e-3))
        prob = Problem(SubspaceSignal(20, 3), 0.2, target_sigma=ts)
        for method in ("montecarlo", "rao-blackwell", "large-n", "asymptotic"):
            c = expected_risk(prob, [10, 60], [Estimator("gd", steps=(0, 3))], method=method, runs=3,
                              rng=np.random.default_rng(1))[0]
            # R(0) = E‖x‖²/tr Σ_x = 1 (plain Monte Carlo: exactly; the others sum R* and the bias, to rounding)
            np.testing.assert_allclose(c.draws[..., 0], 1.0, rtol=0 if method == "montecarlo" else 1e-13,
                                       err_msg=f"{method} {ts}")
            if ts > 0:
                assert np.all(c.draws[..., 1] != 1.0)


def test_more_target_noise_is_monotonically_worse_and_drives_early_stopping_to_w_zero():
    """E[R | Y] is affine in σ_t² with a positive slope for every k > 0 (same draws of Y); the oracle's risk rises
    to R(W = 0) = 1 and its k falls to 0 as σ_t grows."""
    sig = (0.0, 0.1, 0.3, 1.0, 3.0, 100.0)
    ests = [Estimator("gd", steps=(1, 10, 100)), Estimator("ols"), Estimator("ridge", lam=(1.0,)),
            Estimator("gd-oracle", kmax=500)]
    out = [montecarlo(Problem(SubspaceSignal(30, 3), 0.2, target_sigma=s), [20, 200], ests, runs=5,
                      rng=np.random.default_rng(8), rao_blackwell=True) for s in sig]
    for i in range(3):
        d = np.stack([o[i].draws for o in out])  # (σ_t, runs, N, P)
        assert np.all(np.diff(d, axis=0) > 0), ests[i].name
    orc = np.stack([o[3].draws[..., 0] for o in out])
    k = np.stack([o[3].k_opt for o in out])
    assert np.all(np.diff(orc, axis=0) >= 0) and np.all(orc[1:].mean(axis=(1, 2)) > orc[0].mean())
    assert np.all(np.diff(k.mean(axis=(1, 2))) <= 0)
    assert np.all(k[-1] == 0) and np.all(orc[-1] == 1.0)  # σ_t = 100: W = 0 is the best the path offers
    assert np.all(orc[:3] < 1.0)  # σ_t ≤ 0.3: learning still pays
    # the data-free form is monotone too
    rm = [rmt_curve(Problem(SubspaceSignal(30, 3), 0.2, target_sigma=s).population(rng=None), 200, "gd", [10.0])[0]
          for s in sig]
    assert np.all(np.diff(rm) > 0)


# ------------------------------------------------------------------ (f) bad input
@pytest.mark.parametrize("bad", [-1.0, -1e-300, float("nan"), float("inf"), "0.1", True, None, [0.1]])
def test_bad_target_sigma_is_one_line_value_error(bad):
    with pytest.raises(ValueError, match="target_sigma") as e:
        Problem(SubspaceSignal(10, 2), 0.1, target_sigma=bad)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="target_sigma") as e:
        Population(np.eye(10)[:, :2], None, 0.1, target_sigma=bad)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "abc"])
def test_cli_bad_target_sigma_exits_2_with_one_line(capsys, tmp_path, value):
    out_file = tmp_path / "x.json"
    code = cli_main(["theory", "curve", "--target-sigma", value, "--N", "8", "--runs", "2", "--quiet",
                     "--out", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "--target-sigma" in err and "Traceback" not in err
    assert not out_file.exists()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_cli_rows_carry_target_sigma(capsys, fmt):
    args = ["theory", "curve", "--n", "20", "--d", "2", "--N", "8,40", "--estimator", "gd-oracle,ols", "--kmax", "50",
            "--runs", "3", "--quiet", "--format", fmt]
    assert cli_main([*args, "--target-sigma", "0.1"]) == 0
    noisy = capsys.readouterr().out
    assert cli_main(args) == 0
    clean = capsys.readouterr().out
    if fmt == "json":
        rows, rows0 = json.loads(noisy), json.loads(clean)
        assert [r["target_sigma"] for r in rows] == [0.1] * 4 and [r["target_sigma"] for r in rows0] == [0.0] * 4
        assert all(a["risk_mean"] > b["risk_mean"] for a, b in zip(rows, rows0))
    else:
        head = noisy.splitlines()[0].split(",")
        assert "target_sigma" in head
        col = head.index("target_sigma")
        assert {line.split(",")[col] for line in noisy.splitlines()[1:]} == {"0.1"}
