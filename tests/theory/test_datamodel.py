"""Theory of your own data: spectra from examples, train on P / test on Q, Monte Carlo, the
deterministic equivalent, their brute-force twins, limits and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from theory import (
    MRI,
    Estimator,
    Problem,
    SpectralSignal,
    TrainingSpectrum,
    gd_filter,
    gd_loop,
    random_orthonormal,
    rmt_curve,
)
from theory.data_asymptotics import DataEquivalent, argmin_steps, data_rmt_curve, shift_spectrum
from theory.datamodel import (
    DataModel,
    DataSpectrum,
    data_expected_risk,
    data_montecarlo,
    real_fourier_basis,
    second_moment_spectrum,
)
from theory.signals import fourier_power

ROOT = Path(__file__).resolve().parents[2]


def literal_risk_Q(W: np.ndarray, A: np.ndarray | None, SQ: np.ndarray, sigma: float) -> float:
    """R_Q(W) = [tr((WA − I)Σ_Q(WA − I)ᵀ) + σ² tr(WWᵀ)] / tr Σ_Q, written out."""
    n = SQ.shape[0]
    WA = W if A is None else W @ A
    D = WA - np.eye(n)
    return float((np.trace(D @ SQ @ D.T) + sigma**2 * np.trace(W @ W.T)) / np.trace(SQ))


def shifted_model(n: int, *, rng: np.random.Generator, sigma: float = 0.1, commuting: bool = False,
                  A: np.ndarray | None = None, decades: float = 2.0) -> DataModel:
    j = np.arange(1, n + 1.0)
    alpha = decades / np.log10(n)
    V = random_orthonormal(n, n, rng=rng)
    P = DataSpectrum(j**-alpha, V=V, label="P")
    Q = DataSpectrum(0.6 * j ** (-0.8 * alpha), V=V if commuting else random_orthonormal(n, n, rng=rng), label="Q")
    return DataModel(P, sigma, Q, operator=A)


def assert_excess_close(approx, mc, sem, floor, rtol):
    approx, mc, sem = np.asarray(approx), np.asarray(mc), np.asarray(sem)
    excess = mc - floor
    assert np.all(excess > 0)
    ok = np.abs(approx - mc) <= rtol * excess + 3 * sem
    assert np.all(ok), f"relative error on the excess {np.round((approx - mc) / excess, 4)}, SEM/excess {np.round(sem / excess, 4)}"


# ------------------------------------------------------------------ closed form = literal loop, on Q
@pytest.mark.parametrize("operator", ["denoise", "matrix"])
def test_literal_gd_loop_gives_the_closed_form_risk_on_Q(operator, rng):
    n = 10
    A = rng.standard_normal((8, n)) / np.sqrt(n) if operator == "matrix" else None
    model = shifted_model(n, rng=rng, A=A)
    X, Y = model.sample(15, rng=rng)
    lr = 0.9 / np.linalg.eigvalsh(Y @ Y.T)[-1]
    ks = np.array([0, 1, 3, 20, 200])
    W = gd_loop(X, Y, ks, lr=lr)
    spec = TrainingSpectrum.fit(Y, X)
    closed = model.risk_path(spec, gd_filter(spec.lam, ks, lr)[1])
    SQ = model.test.matrix()
    literal = [literal_risk_Q(w, A, SQ, model.sigma) for w in W]
    np.testing.assert_allclose(closed, literal, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.risk(W), literal, rtol=1e-10, atol=1e-12)
    assert closed[0] == pytest.approx(1.0)  # W⁰ = 0 has risk 1 on any Q


def test_rao_blackwell_is_the_conditional_expectation_over_targets(rng):
    """E[R_Q | Y] (closed form) = the average of R_Q over X | Y ~ W*_P Y + E, E ~ N(0, Σ_e,P)."""
    n, N = 6, 9
    model = shifted_model(n, rng=rng, A=rng.standard_normal((5, n)) / 2)
    X, Y = model.sample(N, rng=rng)
    spec = TrainingSpectrum.fit(Y)
    lr = 0.5 / spec.lam[0]
    f = gd_filter(spec.lam, [1, 10, 100], lr)[0]
    cond = model.conditional_risk_path(spec, f)
    pP = model.pop_P
    SP = model.train.matrix()
    Se = SP - pP.W_star @ model.A @ SP
    Le = np.linalg.cholesky(Se + 1e-15 * np.eye(n))
    vals = []
    for _ in range(4000):
        Xc = pP.W_star @ Y + Le @ rng.standard_normal((n, N))
        s = TrainingSpectrum(lam=spec.lam, V=spec.V, XYV=(Xc @ Y.T) @ spec.V)
        vals.append(model.risk_path(s, gd_filter(spec.lam, [1, 10, 100], lr)[1]))
    vals = np.array(vals)
    np.testing.assert_allclose(vals.mean(0), cond, atol=4 * vals.std(0).max() / np.sqrt(len(vals)))


# ------------------------------------------------------------------ floors
def test_floors_and_wiener_filters(rng):
    model = shifted_model(12, rng=rng)
    pP, pQ = model.pop_P, model.pop_Q
    SQ = model.test.matrix()
    assert model.floor_Q == pytest.approx(literal_risk_Q(pQ.W_star, None, SQ, model.sigma), rel=1e-12)
    assert model.floor_P_on_Q == pytest.approx(literal_risk_Q(pP.W_star, None, SQ, model.sigma), rel=1e-12)
    assert model.floor_Q < model.floor_P_on_Q
    # W*_Q is the minimiser on Q: any perturbation costs
    for _ in range(5):
        D = rng.standard_normal(pQ.W_star.shape) * 1e-2
        assert model.risk(pQ.W_star + D) > model.floor_Q
    sp = shift_spectrum(model)
    assert sp.floor_Q == pytest.approx(model.floor_Q, rel=1e-10)
    assert sp.floor_P_on_Q == pytest.approx(model.floor_P_on_Q, rel=1e-10)
    same = DataModel(model.train, model.sigma)
    assert same.floor_P_on_Q == same.floor_Q == pytest.approx(pP.floor)


# ------------------------------------------------------------------ limits
def test_limits_of_the_closed_form_and_the_equivalent():
    rng = np.random.default_rng(5)
    model = shifted_model(24, rng=rng, sigma=0.2)
    for N in (8, 96):
        assert data_rmt_curve(model, N, "gd", [0])[0] == pytest.approx(1.0, abs=1e-10)  # W = 0
    # k → ∞ is least squares (N > m), also k = 10⁷ with a contour that never grows
    de_ols = data_rmt_curve(model, 96, "ols")[0]
    assert data_rmt_curve(model, 96, "gd", [1e7, 1e12]) == pytest.approx([de_ols, de_ols], rel=1e-9)
    assert data_rmt_curve(model, 96, "gf", [1e12])[0] == pytest.approx(de_ols, rel=1e-9)
    assert data_rmt_curve(model, 96, "ridge", [0.0])[0] == pytest.approx(de_ols, rel=1e-8)
    # N → ∞: least squares reaches W*_P, measured on Q
    big = data_rmt_curve(model, 10**8, "ols")[0]
    assert big == pytest.approx(model.floor_P_on_Q, rel=1e-5)
    # σ → 0: the floor on Q vanishes and least squares on N ≥ n examples is exact (W = I)
    zero = DataModel(model.train, 0.0, model.test)
    assert zero.floor_Q == pytest.approx(0.0, abs=1e-12)
    X, Y = zero.sample(30, rng=rng)
    spec = TrainingSpectrum.fit(Y, X)
    assert zero.risk_path(spec, 1.0 / spec.lam[None, :])[0] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="sigma = 0 is not supported"):
        data_rmt_curve(zero, 96, "ols")


def test_equal_P_and_Q_reduce_to_the_existing_model():
    """P = Q: floors, the equivalent (to 1e-9) and Monte Carlo (in distribution) are the existing model's."""
    rng = np.random.default_rng(6)
    n = 60
    mu = np.arange(1, n + 1.0) ** -1.5
    model = DataModel(DataSpectrum(mu), 0.1)
    pop = Problem(SpectralSignal(tuple(mu)), 0.1).population(rng=None)
    assert model.floor_Q == pytest.approx(pop.floor, rel=1e-12)
    ks = np.array([0.0, 1, 10, 100, 1000])
    np.testing.assert_allclose(data_rmt_curve(model, 20, "gd", ks), rmt_curve(pop, 20, "gd", ks), rtol=1e-9)
    np.testing.assert_allclose(data_rmt_curve(model, 240, "ridge", [0.1, 10.0]),
                               rmt_curve(pop, 240, "ridge", [0.1, 10.0]), rtol=1e-9)
    # least squares, exact identity R*(N−1)/(N−m−1) against Rao–Blackwellised Monte Carlo
    c = data_montecarlo(model, [240], ["ols"], runs=60, rng=rng, rao_blackwell=True)[0]
    exact = pop.floor * 239 / (240 - n - 1)
    assert abs(c.mean[0, 0] - exact) <= 4 * c.sem[0, 0] + 1e-12


# ------------------------------------------------------------------ the equivalent against Monte Carlo
@pytest.mark.parametrize("case", ["commuting", "general"])
def test_equivalent_matches_monte_carlo_excess_over_five_decades(case):
    """P ≠ Q, eigenvalues of Σ_P over 5 decades, k from 1 to 10⁷: the excess R_Q − R*_Q within 3%.

    Measured (n = 96, 50 Rao–Blackwellised draws): |error| ≤ 1.2% of the excess (commuting) and
    ≤ 0.5% (general), SEM ≤ 0.6% of it.
    """
    rng = np.random.default_rng(3)
    model = shifted_model(96, rng=rng, sigma=0.01, commuting=case == "commuting", decades=5.0)
    assert model.commuting == (case == "commuting")
    ks = np.array([1.0, 30, 1e3, 1e5, 1e7])
    sp = shift_spectrum(model)
    for N in (48, 256):
        de = data_rmt_curve(model, N, "gd", ks, spectrum=sp)
        c = data_montecarlo(model, [N], [Estimator("gd", steps=tuple(ks))], runs=50,
                            rng=np.random.default_rng(N), rao_blackwell=True)[0]
        assert_excess_close(de, c.mean[0], c.sem[0], model.floor_Q, 0.03)


def test_full_matrix_path_equals_the_diagonal_path_for_denoising():
    """Denoising with P, Q in different bases: the diagonal reduction (only diag V_PᵀΣ_QV_P enters) is
    the general full-H path, to rounding."""
    model = shifted_model(40, rng=np.random.default_rng(8), sigma=0.05, decades=4.0)
    diag, full = shift_spectrum(model), shift_spectrum(model, full_matrix=True)
    assert diag.diagonal and not full.diagonal
    ks = np.array([1.0, 100, 1e4, 1e7])
    for N in (20, 160):
        np.testing.assert_allclose(data_rmt_curve(model, N, "gd", ks, spectrum=full),
                                   data_rmt_curve(model, N, "gd", ks, spectrum=diag), rtol=1e-8)


def test_equivalent_with_an_mri_operator_against_monte_carlo():
    """A general operator (2× MRI mask) with P ≠ Q in different bases: excess within 3%."""
    rng = np.random.default_rng(7)
    op = MRI((8, 8), accel=2, center_fraction=0.1)
    model = shifted_model(64, rng=rng, sigma=0.05, A=None, decades=3.0)
    model = DataModel(model.train, 0.05, model.test, operator=op)
    assert not model.commuting
    ks = np.array([3.0, 100, 1e4])
    de = data_rmt_curve(model, 256, "gd", ks)
    c = data_montecarlo(model, [256], [Estimator("gd", steps=tuple(ks))], runs=50, rng=rng, rao_blackwell=True)[0]
    assert_excess_close(de, c.mean[0], c.sem[0], model.floor_Q, 0.03)


def test_montecarlo_estimators_and_stopping_rules(rng):
    model = shifted_model(16, rng=rng, sigma=0.2)
    ests = [Estimator("gd-oracle", kmax=300), Estimator("gd-argmin", kmax=300), Estimator("gd-val", kmax=300, n_val=20),
            "ols", "optimal", Estimator("ridge", lam=(1.0,)), Estimator("gf", steps=(5.0,))]
    curves = data_expected_risk(model, [8, 64], ests, method="montecarlo", runs=20, rng=rng)
    oracle, argmin, val, ols, opt = (c.draws[..., 0] for c in curves[:5])
    assert np.all(oracle <= argmin + 1e-15) and np.all(oracle <= val + 1e-15)
    assert np.all(opt == model.floor_Q) and np.all(oracle >= model.floor_Q)
    assert curves[0].info["floor_P_on_Q"] == model.floor_P_on_Q
    # the asymptotic method gives the same kinds of curves
    de = data_expected_risk(model, [64], ["gd-argmin", "ols", "optimal"], method="asymptotic")
    assert de[0].mean[0, 0] <= de[1].mean[0, 0] and de[2].mean[0, 0] == pytest.approx(model.floor_Q)
    # plain and Rao–Blackwellised Monte Carlo agree in mean
    plain = data_montecarlo(model, [64], ["ols"], runs=200, rng=np.random.default_rng(1))[0]
    rb = data_montecarlo(model, [64], ["ols"], runs=200, rng=np.random.default_rng(2), rao_blackwell=True)[0]
    assert abs(plain.mean[0, 0] - rb.mean[0, 0]) <= 4 * np.hypot(plain.sem[0, 0], rb.sem[0, 0])


# ------------------------------------------------------------------ spectra from data
def test_real_fourier_basis_diagonalises_circulants():
    h, w = 4, 6
    V = real_fourier_basis((h, w))
    np.testing.assert_allclose(V.T @ V, np.eye(h * w), atol=1e-12)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, h * w))
    power = fourier_power(X, (h, w))
    # circulant = average of the sample second moment over cyclic shifts
    imgs = X.reshape(-1, h, w)
    shifts = np.stack([np.roll(imgs, (a, b), axis=(1, 2)) for a in range(h) for b in range(w)], axis=1).reshape(-1, h * w)
    S = shifts.T @ shifts / shifts.shape[0]
    np.testing.assert_allclose(V.T @ S @ V, np.diag(power), atol=1e-12)


def test_stationary_estimate_equals_full_covariance_for_periodic_stationary_data():
    """(1) exact: for a shift-closed set of crops the full covariance *is* the stationary estimate;
    (2) a Gaussian field on the torus with a known power spectrum: both estimates approach it."""
    h = w = 8
    rng = np.random.default_rng(1)
    ky, kx = np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij")
    S_true = 1.0 / (1.0 + ky**2 + kx**2) ** 1.5  # power per frequency (symmetric in ±k)
    S_true[0, 0] = 20.0  # a DC spike, like an uncentred image model
    n_ex = 20000
    white = np.fft.fft2(rng.standard_normal((n_ex, h, w)), norm="ortho")
    X = np.fft.ifft2(white * np.sqrt(S_true), norm="ortho").real.reshape(n_ex, -1)
    stat = second_moment_spectrum(X, method="stationary", shape=(h, w))
    cov = second_moment_spectrum(X, method="covariance", shape=(h, w))
    np.testing.assert_allclose(stat.mu, S_true.reshape(-1), rtol=0.06)
    true = DataSpectrum(S_true.reshape(-1), basis="fourier", shape=(h, w)).matrix()
    err = lambda M: np.linalg.norm(M - true) / np.linalg.norm(true)  # noqa: E731
    assert err(stat.matrix()) < 0.02 and err(cov.matrix()) < 0.03
    # exact twin: add every cyclic shift of a few crops
    imgs = X[:40].reshape(-1, h, w)
    aug = np.stack([np.roll(imgs, (a, b), axis=(1, 2)) for a in range(h) for b in range(w)], 1).reshape(-1, h * w)
    s1 = second_moment_spectrum(aug, method="stationary", shape=(h, w))
    s2 = second_moment_spectrum(aug, method="covariance")
    np.testing.assert_allclose(np.sort(s1.mu)[::-1], s2.mu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(s1.matrix(), s2.matrix(), atol=1e-10)
    # the stationary model uses the diagonal (commuting) equivalent, the covariance one the general path
    assert DataModel(s1, 0.1).commuting and DataModel(s1, 0.1, stat).commuting
    assert not DataModel(s1, 0.1, s2).commuting
    a = data_rmt_curve(DataModel(s1, 0.1, stat), 1024, "gd", [10.0, 1e4])
    b = data_rmt_curve(DataModel(s2, 0.1, DataSpectrum(stat.mu, basis="fourier", shape=(h, w))), 1024, "gd", [10.0, 1e4])
    assert b == pytest.approx(a, rel=1e-8)  # same P (to rounding) and Q: general path = diagonal path
    # the SpectralSignal bridge
    assert SpectralSignal.from_data(X.T, method="stationary", shape=(h, w)).eigenvalues == pytest.approx(
        tuple(np.sort(stat.mu)[::-1]))


def test_centring_is_an_option():
    rng = np.random.default_rng(2)
    X = 3.0 + rng.standard_normal((200, 16))
    unc = second_moment_spectrum(X)
    cen = second_moment_spectrum(X, centre=True)
    assert unc.mu[0] > 16 * 9 * 0.9 and cen.mu[0] < 3


# ------------------------------------------------------------------ large image spectra
def test_equivalent_on_a_4096_pixel_stationary_image_spectrum():
    """64×64 crops, an image-like 1/|k|³ power spectrum + DC over > 6 decades, P ≠ Q, k to 10⁷: finite,
    monotone in the right places, within the physical range, in seconds (the diagonal path)."""
    h = w = 64
    ky, kx = np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij")
    k2 = ky**2 + kx**2
    P = np.where(k2 > 0, 0.5 / np.maximum(k2, 1) ** 1.5, 0.2 * h * w).reshape(-1)
    Q = np.where(k2 > 0, 0.8 / np.maximum(k2, 1) ** 1.3, 0.25 * h * w).reshape(-1)
    model = DataModel(DataSpectrum(P, basis="fourier", shape=(h, w)), 25 / 255,
                      DataSpectrum(Q, basis="fourier", shape=(h, w)))
    assert P.max() / P.min() > 1e6
    curves = data_expected_risk(model, [16384], [Estimator("gd-argmin", kmax=10**7), "ols", "optimal"],
                                method="asymptotic")
    ks = np.array([0.0, 10, 1e3, 1e5, 1e7])
    r = data_rmt_curve(model, 256, "gd", ks)
    assert r[0] == pytest.approx(1.0) and np.all(np.isfinite(r)) and np.all(r >= model.floor_Q)
    gd, ols, opt = (c.mean[0, 0] for c in curves)
    assert opt == model.floor_Q < gd <= ols + 1e-12 < r.min()  # more data helps; early stopping ≤ least squares


# ------------------------------------------------------------------ bad input
def test_bad_input_is_one_line():
    rng = np.random.default_rng(0)
    cases = [
        (lambda: DataSpectrum(np.array([1.0, -1.0])), "negative, non-finite"),
        (lambda: DataSpectrum(np.array([1.0, np.inf])), "negative, non-finite"),
        (lambda: DataSpectrum(np.array([1.0, np.nan])), "negative, non-finite"),
        (lambda: DataModel(DataSpectrum(np.ones(4)), 0.1, DataSpectrum(np.ones(5))), "same size"),
        (lambda: second_moment_spectrum(rng.standard_normal((10, 16))), "at least n = 16 examples"),
        (lambda: second_moment_spectrum(rng.standard_normal((10, 16)), method="stationary", shape=(3, 5)),
         "does not match n = 16"),
        (lambda: second_moment_spectrum(rng.standard_normal((10, 16)), method="stationary"), "needs shape"),
        (lambda: second_moment_spectrum(rng.standard_normal((10, 16)), method="pca"), "unknown method"),
        (lambda: second_moment_spectrum(np.full((20, 16), np.nan)), "non-finite"),
        (lambda: DataSpectrum(np.ones(16), basis="fourier", shape=(4, 5)), "does not match n = 16"),
        (lambda: DataModel(DataSpectrum(np.ones(4)), -1.0), "sigma"),
        (lambda: DataModel(DataSpectrum(np.ones(16)), 0.1, operator=MRI((3, 3), accel=2, center_fraction=0.3)),
         "operator acts on n=9"),
        (lambda: data_expected_risk(DataModel(DataSpectrum(np.ones(4)), 0.1), [8], [Estimator("gd-val", n_val=5)],
                                    method="asymptotic"), "needs draws"),
        (lambda: data_expected_risk(DataModel(DataSpectrum(np.ones(4)), 0.1), [8], ["pca"], rng=rng), "not defined"),
        (lambda: data_expected_risk(DataModel(DataSpectrum(np.ones(4)), 0.1), [8], ["ols"]), "pass rng"),
        (lambda: data_rmt_curve(DataModel(DataSpectrum(np.arange(1, 17.0)), 0.1), 16, "ols"), "interpolation threshold"),
        (lambda: data_rmt_curve(DataModel(DataSpectrum(np.ones(4)), 0.1), 8, "gd", [1], lr=10.0), "unstable"),
    ]
    for fn, msg in cases:
        with pytest.raises(ValueError, match=msg) as exc:
            fn()
        assert "\n" not in str(exc.value)


def test_equivalent_object_reuses_one_contour_for_every_filter():
    model = shifted_model(32, rng=np.random.default_rng(0), sigma=0.1)
    eq = DataEquivalent(shift_spectrum(model), 128, model.paper_lr(128) * 128)
    r1 = eq.risk("gd", [5.0])
    M = eq.M
    eq.risk("ridge", [1.0, 10.0])
    eq.risk("ols")
    assert eq.M == M and eq.quad_error <= 1e-9
    assert eq.risk("gd", [5.0]) == pytest.approx(r1, rel=1e-14)
    # the argmin over k: nested grids = every integer evaluated
    curve = lambda ks: eq.risk("gd", ks)  # noqa: E731
    k, r = argmin_steps(curve, 2000)
    dense = curve(np.arange(2001.0))
    assert k == int(np.argmin(dense)) and r == pytest.approx(dense.min(), rel=1e-14)


# ------------------------------------------------------------------ benchmark smoke test
def test_data_theory_benchmark_quick(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "data_theory.py"), "--quick", "--json", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["quick"] and len(res["rows"]) == len(res["N"])
    for row in res["rows"]:
        assert row["de_s"] > 0 and np.isfinite(row["rel_err_excess"]) and row["mc_excess"] > 0
    assert "N" in r.stdout and "excess" in r.stdout
