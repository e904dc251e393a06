"""bridge.laws: parameter recovery, covariance calibration, options and input validation."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bridge.laws import BrokenPowerLaw, FloorPowerLaw, Law, PowerLaw, SaturatingLaw

GRID = np.geomspace(8, 16384, 12)
N3 = np.repeat(GRID, 3)  # three replicates (seeds) per N
REL = 0.03  # multiplicative log-normal noise level of the log-space laws
DB = 0.05  # additive dB noise of SaturatingLaw


def floor_curve(N, c=0.01, a=2.0, alpha=-0.6):
    return c + a * N**alpha


def sat_curve(N, y_inf=32.0, A=9.0, alpha=-0.4):
    return y_inf - A * N**alpha


def bnsl_curve(N, c, b, c0, *triples):
    out = b * N ** (-c0)
    for ci, di, fi in zip(triples[0::3], triples[1::3], triples[2::3]):
        out = out * (1 + (N / di) ** (1 / fi)) ** (-ci * fi)
    return c + out


def expected_cov(space_fn, truth, N, noise):
    """Linearised covariance noise² (JᵀJ)⁻¹ at the truth, J by central differences of the formula.

    Independent of the code under test: only the model formula and the noise level enter.
    """
    truth = np.asarray(truth, dtype=float)
    J = np.empty((N.size, truth.size))
    for j in range(truth.size):
        h = 1e-6 * max(abs(truth[j]), 1e-3)
        up, dn = truth.copy(), truth.copy()
        up[j] += h
        dn[j] -= h
        J[:, j] = (space_fn(N, *up) - space_fn(N, *dn)) / (2 * h)
    return noise**2 * np.linalg.inv(J.T @ J)


def expected_se(space_fn, truth, N, noise):
    """Linearised standard errors of the truth's parameters (see expected_cov)."""
    return np.sqrt(np.diag(expected_cov(space_fn, truth, N, noise)))


# ---------------------------------------------------------------------------------------- PowerLaw
def test_powerlaw_noiseless_is_exact():
    y = 0.31 * GRID**-0.52
    law = PowerLaw().fit(GRID, y)
    assert law.amplitude_ == pytest.approx(0.31, rel=1e-12)
    assert law.exponent_ == pytest.approx(-0.52, rel=1e-12)
    assert law.coef_[0] == pytest.approx(np.log10(0.31), rel=1e-12)
    np.testing.assert_allclose(law.predict(GRID), y, rtol=1e-12)
    assert law.rss_ < 1e-24


def test_powerlaw_window_selects_points():
    # steep power law up to 256, then flat: only the window sees the pure law
    y = np.where(GRID <= 256, 0.5 * GRID**-0.8, 0.5 * 256.0**-0.8)
    law = PowerLaw(window=(8, 256)).fit(GRID, y)
    assert law.n_points_ == int(np.sum(GRID <= 256))
    assert law.exponent_ == pytest.approx(-0.8, rel=1e-12)
    assert law.amplitude_ == pytest.approx(0.5, rel=1e-12)
    full = PowerLaw().fit(GRID, y)
    assert full.exponent_ > -0.6  # the flat part pulls an unwindowed fit away
    edges = PowerLaw(window=(GRID[2], GRID[2])).clone()
    with pytest.raises(ValueError, match=r"at least 2 distinct N.*inside window"):
        edges.fit(GRID, y)


def test_powerlaw_recovers_noisy(rng):
    alpha, beta = -0.45, 3.0
    y = beta * N3**alpha * np.exp(REL * rng.standard_normal(N3.size))
    law = PowerLaw().fit(N3, y)
    x = np.log(N3)
    se_alpha = REL / np.sqrt(np.sum((x - x.mean()) ** 2))
    assert abs(law.exponent_ - alpha) < 5 * se_alpha
    # cov_ is for (log10 β, α): its α entry matches the textbook standard error
    assert np.sqrt(law.cov_[1, 1]) == pytest.approx(se_alpha, rel=0.4)
    # rss_ and residuals are in natural-log units
    r = law.residuals(N3, y)
    np.testing.assert_allclose(r, np.log(y) - np.log(law.predict(N3)), atol=1e-12)
    assert law.rss_ == pytest.approx(float(r @ r), rel=1e-10)
    m, p = N3.size, 2
    assert law.aic_ == pytest.approx(m * np.log(law.rss_ / m) + 2 * p)
    assert law.bic_ == pytest.approx(m * np.log(law.rss_ / m) + p * np.log(m))


# ---------------------------------------------------------------------------- nonlinear recovery
def test_floor_powerlaw_recovers(rng):
    truth = (0.01, 2.0, -0.6)
    y = floor_curve(N3, *truth) * np.exp(REL * rng.standard_normal(N3.size))
    law = FloorPowerLaw().fit(N3, y)
    se = expected_se(lambda N, c, a, al: np.log(floor_curve(N, c, a, al)), truth, N3, REL)
    assert np.all(np.abs(law.coef_ - truth) < 5 * se), (law.coef_, se)
    assert (law.floor_, law.amplitude_, law.exponent_) == tuple(law.coef_)
    assert law.params_ == dict(zip(law.param_names, law.coef_))


def test_saturating_law_recovers(rng):
    truth = (32.0, 9.0, -0.4)
    y = sat_curve(N3, *truth) + DB * rng.standard_normal(N3.size)
    law = SaturatingLaw().fit(N3, y)
    se = expected_se(sat_curve, truth, N3, DB)
    assert np.all(np.abs(law.coef_ - truth) < 5 * se), (law.coef_, se)
    assert law.asymptote_ == law.coef_[0]
    assert law.space == "linear"
    np.testing.assert_allclose(law.residuals(N3, y), y - law.predict(N3), atol=1e-12)


def test_broken_powerlaw_recovers_break_and_slopes(rng):
    # slope -0.8 before a break at N = 300, -0.2 after it, no floor
    truth = (0.0, 2.0, 0.8, -0.6, 300.0, 0.3)
    y = bnsl_curve(N3, *truth) * np.exp(REL * rng.standard_normal(N3.size))
    law = BrokenPowerLaw().fit(N3, y)
    assert 300 / 1.5 < law.breaks_[0] < 300 * 1.5
    # the final slope trades off against the floor: its linearised SE (≈ 0.08) is much larger than
    # the initial slope's (≈ 0.03)
    cov = expected_cov(lambda N, *p: np.log(bnsl_curve(N, *p)), truth, N3, REL)
    G = np.array([[0, 0, 1, 0, 0, 0], [0, 0, 1, 1, 0, 0]], dtype=float)  # slopes = −G @ coef
    slope_se = np.sqrt(np.diag(G @ cov @ G.T))
    assert np.all(np.abs(law.exponents_ - np.array([-0.8, -0.2])) < 5 * slope_se), (law.exponents_, slope_se)
    assert law.exponent_ == law.exponents_[0]
    assert law.param_names == ("floor", "amplitude", "c0", "c1", "d1", "f1")
    assert law.n_params == 6 and law.cov_.shape == (6, 6)
    assert np.all(np.isfinite(law.cov_))


def test_broken_powerlaw_two_breaks(rng):
    # flat-ish, then steep between 60 and 2000, then flatter again
    truth = (0.0, 1.0, 0.2, 0.8, 60.0, 0.2, -0.7, 2000.0, 0.2)
    N = np.repeat(np.geomspace(4, 65536, 15), 3)
    y = bnsl_curve(N, *truth) * np.exp(0.02 * rng.standard_normal(N.size))
    law = BrokenPowerLaw(breaks=2).fit(N, y)
    assert law.breaks_[0] < law.breaks_[1]
    assert 60 / 2 < law.breaks_[0] < 60 * 2 and 2000 / 2 < law.breaks_[1] < 2000 * 2
    s = law.exponents_
    assert s[1] < s[0] - 0.3 and s[1] < s[2] - 0.3, s
    # reported order follows the sorted breaks
    assert law.params_["d1"] == law.breaks_[0] and law.params_["d2"] == law.breaks_[1]


def test_floor_cov_matches_refit_spread(rng):
    truth = (0.01, 2.0, -0.6)
    f = floor_curve(N3, *truth)
    laws = [FloorPowerLaw().fit(N3, f * np.exp(REL * rng.standard_normal(N3.size))) for _ in range(100)]
    spread = np.std([law.coef_ for law in laws], axis=0, ddof=1)
    reported = np.sqrt(np.mean([np.diag(law.cov_) for law in laws], axis=0))
    ratio = spread / reported
    # 100 draws estimate a std to ~7%
    assert np.all((1 / 1.5 < ratio) & (ratio < 1.5)), ratio
    # and a single fit's cov_ is of the right order
    assert np.all(np.abs(np.log(np.sqrt(np.diag(laws[0].cov_)) / spread)) < np.log(2.0))


def test_sigma_weights_and_unscaled_cov(rng):
    truth = (0.01, 2.0, -0.6)
    y = floor_curve(N3, *truth) * np.exp(REL * rng.standard_normal(N3.size))
    y_bad = y.copy()
    y_bad[5] *= 3.0  # a corrupted point, flagged by a huge standard error
    sigma = REL * y
    sigma_bad = sigma.copy()
    sigma_bad[5] = 1e3 * y[5]
    a = FloorPowerLaw(loss="linear").fit(N3, y, sigma=sigma)
    keep = np.arange(N3.size) != 5
    dropped = FloorPowerLaw(loss="linear").fit(N3[keep], y[keep], sigma=sigma[keep])
    b = FloorPowerLaw(loss="linear").fit(N3, y_bad, sigma=sigma_bad)
    se = np.sqrt(np.diag(a.cov_))
    # a weight of (0.03/1000)² makes the point irrelevant: as if it were dropped
    assert np.all(np.abs(b.coef_ - dropped.coef_) < 0.02 * se)
    # with the true sigma, the unscaled (JᵀJ)⁻¹ agrees with the s²-scaled unweighted one
    c = FloorPowerLaw(loss="linear").fit(N3, y)
    np.testing.assert_allclose(np.sqrt(np.diag(a.cov_)), np.sqrt(np.diag(c.cov_)), rtol=0.5)
    # PowerLaw: sigma of a log-space law is converted with the delta method (σ/y), so weights
    # proportional to y give the same estimate as no weights
    p0, p1 = PowerLaw().fit(N3, y), PowerLaw().fit(N3, y, sigma=0.1 * y)
    np.testing.assert_allclose(p0.coef_, p1.coef_, rtol=1e-10)


def test_robust_loss_resists_an_outlier(rng):
    truth = (0.01, 2.0, -0.6)
    y = floor_curve(N3, *truth) * np.exp(REL * rng.standard_normal(N3.size))
    y[-4] *= 5.0  # one gross outlier at large N
    robust = FloorPowerLaw().fit(N3, y)
    plain = FloorPowerLaw(loss="linear").fit(N3, y)
    se = expected_se(lambda N, c, a, al: np.log(floor_curve(N, c, a, al)), truth, N3, REL)
    assert abs(robust.floor_ - truth[0]) < abs(plain.floor_ - truth[0])
    assert abs(robust.exponent_ - truth[2]) < 5 * se[2]


def test_fit_is_deterministic_and_clone_keeps_options(rng):
    y = floor_curve(N3) * np.exp(REL * rng.standard_normal(N3.size))
    a, b = FloorPowerLaw().fit(N3, y), FloorPowerLaw().fit(N3, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    for law in (PowerLaw(window=(8, 100)), FloorPowerLaw(loss="linear"), BrokenPowerLaw(breaks=2, loss="linear")):
        c = law.clone()
        assert type(c) is type(law) and c.get_params() == law.get_params() and not c.is_fitted
    fitted = a.clone()
    assert not fitted.is_fitted and a.is_fitted


def test_repr_and_label():
    y = floor_curve(N3)
    law = FloorPowerLaw().fit(N3, y)
    assert re.fullmatch(r"\S+ \+ \S+ N\^-0\.6", law.label()), law.label()
    assert "y = " in repr(law) and "N^" in repr(law)
    assert repr(FloorPowerLaw()) == "FloorPowerLaw(loss='soft_l1')"
    p = PowerLaw().fit(GRID, 0.31 * GRID**-0.52)
    assert p.label() == "0.31 N^-0.52"
    s = SaturatingLaw().fit(N3, sat_curve(N3))
    assert re.fullmatch(r"32 - 9 N\^-0\.4", s.label()), s.label()


# ----------------------------------------------------------------------------------- bad inputs
LAWS = [PowerLaw, FloorPowerLaw, SaturatingLaw, BrokenPowerLaw]


@pytest.mark.parametrize("cls", LAWS)
def test_too_few_distinct_N(cls):
    law: Law = cls()
    N = np.repeat(GRID[: law.n_params - 1], 3)
    with pytest.raises(ValueError, match=rf"at least {law.n_params} distinct N.*got {law.n_params - 1}"):
        law.fit(N, 1.0 + N**-0.5)


@pytest.mark.parametrize("cls", LAWS)
def test_bad_inputs(cls):
    law: Law = cls()
    y = floor_curve(GRID)
    with pytest.raises(ValueError, match="not fitted"):
        law.predict(GRID)
    with pytest.raises(ValueError, match="N must be positive"):
        law.fit(np.r_[0.0, GRID[1:]], y)
    with pytest.raises(ValueError, match=r"non-finite.*NaN"):
        law.fit(GRID, np.r_[np.nan, y[1:]])
    with pytest.raises(ValueError, match=r"N contains .* non-finite"):
        law.fit(np.r_[np.inf, GRID[1:]], y)
    with pytest.raises(ValueError, match=r"y has shape \(11,\) but N has shape \(12,\)"):
        law.fit(GRID, y[1:])
    with pytest.raises(ValueError, match="1-D"):
        law.fit(GRID.reshape(3, 4), y.reshape(3, 4))
    with pytest.raises(ValueError, match="sigma must be finite and positive"):
        law.fit(GRID, y, sigma=-np.ones_like(y))
    with pytest.raises(ValueError, match="sigma has shape"):
        law.fit(GRID, y, sigma=np.ones(3))
    if law.space == "log":
        with pytest.raises(ValueError, match="y must be positive"):
            law.fit(GRID, np.r_[-1.0, y[1:]])
    else:  # dB values may be negative
        law.fit(GRID, sat_curve(GRID) - 40.0)


def test_bad_options():
    with pytest.raises(ValueError, match="loss must be"):
        FloorPowerLaw(loss="huber")
    with pytest.raises(ValueError, match="breaks must be 1 or 2"):
        BrokenPowerLaw(breaks=3)
    with pytest.raises(ValueError, match="window must be"):
        PowerLaw(window=(100, 10))
