"""Joint law E(N, P) = floor + A N^-alpha + B P^-beta: recovery, covariance, guidelines, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.joint import JointLaw, gain_table, params_for_width, smallest_width

TRUE = {"floor": 0.002, "A": 0.5, "alpha": 0.6, "B": 3.0, "beta": 0.5}
NOISE = 0.03  # multiplicative log-normal noise sd
NS = np.geomspace(16, 4096, 6)
WIDTHS = np.array([8.0, 16.0, 32.0, 64.0, 128.0])
PS = 1e4 * (WIDTHS / 8) ** 2


def formula(N, P, floor, A, alpha, B, beta):
    return floor + A * np.asarray(N, dtype=float) ** -alpha + B * np.asarray(P, dtype=float) ** -beta


def grid(replicates: int = 2) -> tuple[np.ndarray, np.ndarray]:
    n, p = np.meshgrid(NS, PS)
    return np.tile(n.ravel(), replicates), np.tile(p.ravel(), replicates)


def noisy(E: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return E * np.exp(NOISE * rng.standard_normal(E.size))


class TrueLaw:
    """The true formula behind the protocol of a fitted law (predict(N, *, P))."""

    def __init__(self, **params):
        self.params = params

    def predict(self, N, *, P):
        N, P = np.broadcast_arrays(np.atleast_1d(np.asarray(N, float)), np.atleast_1d(np.asarray(P, float)))
        return formula(N, P, **self.params)


# ---------------------------------------------------------------------- fitting
def test_recovers_known_parameters(rng):
    N, P = grid()
    E = formula(N, P, **TRUE)
    law = JointLaw().fit(N, noisy(E, rng), P=P)
    est = law.params_
    # tolerances about twice the worst error seen over 500 noise draws at this 3% noise level
    assert est["alpha"] == pytest.approx(TRUE["alpha"], rel=0.15)
    assert est["beta"] == pytest.approx(TRUE["beta"], rel=0.15)
    assert est["A"] == pytest.approx(TRUE["A"], rel=0.25)
    # floor and B trade off at large P: check the floor against the smallest error and each term where it is largest
    assert abs(est["floor"] - TRUE["floor"]) < 0.25 * E.min()
    assert est["A"] * NS[0] ** -est["alpha"] == pytest.approx(TRUE["A"] * NS[0] ** -TRUE["alpha"], rel=0.1)
    assert est["B"] * PS[0] ** -est["beta"] == pytest.approx(TRUE["B"] * PS[0] ** -TRUE["beta"], rel=0.1)
    assert np.max(np.abs(np.log(law.predict(N, P=P) / E))) < 2 * NOISE
    assert law.n_points_ == N.size and law.coef_.shape == (5,) and law.cov_.shape == (5, 5)
    assert list(law.params_) == list(JointLaw.param_names)
    np.testing.assert_array_equal(law.coef_, [est[k] for k in JointLaw.param_names])


@pytest.mark.parametrize("loss", ["soft_l1", "linear"])
@pytest.mark.parametrize("floor", [0.0, 0.002])
def test_noiseless_fit_is_exact(loss, floor):
    N, P = grid(replicates=1)
    truth = {**TRUE, "floor": floor}
    E = formula(N, P, **truth)
    law = JointLaw(loss=loss).fit(N, E, P=P)
    for name, value in truth.items():
        # a zero floor sits on its bound, which the solver approaches to a tiny fraction of the error
        assert law.params_[name] == pytest.approx(value, rel=1e-5, abs=1e-5 * E.min()), name


def test_cov_matches_spread_of_refits(rng):
    N, P = grid()
    E = formula(N, P, **TRUE)
    coefs, sds = [], []
    for _ in range(100):
        law = JointLaw().fit(N, noisy(E, rng), P=P)
        coefs.append(law.coef_)
        sds.append(np.sqrt(np.diag(law.cov_)))
    # 100 draws: the sample sd is known to ~7%, so a factor 1.5 is a > 4 sigma band
    ratio = np.std(coefs, axis=0, ddof=1) / np.median(sds, axis=0)
    assert np.all((ratio > 1 / 1.5) & (ratio < 1.5)), dict(zip(JointLaw.param_names, ratio))


def test_sigma_weights(rng):
    N, P = grid()
    y = noisy(formula(N, P, **TRUE), rng)
    plain = JointLaw().fit(N, y, P=P)
    # a constant relative sigma rescales every residual equally: same fit, cov_ no longer scaled by s^2
    const = JointLaw().fit(N, y, P=P, sigma=NOISE * y)
    np.testing.assert_allclose(const.coef_, plain.coef_, rtol=1e-4)
    s2 = plain.rss_ / (N.size - 5)
    np.testing.assert_allclose(const.cov_, plain.cov_ * NOISE**2 / s2, rtol=1e-3, atol=1e-14)
    # a point with a huge sigma is as good as absent, however wrong it is
    y_bad = y.copy()
    y_bad[0] *= 10
    sigma = np.full(N.size, NOISE) * y_bad
    sigma[0] = 1e8
    weighted = JointLaw(loss="linear").fit(N, y_bad, P=P, sigma=sigma)
    dropped = JointLaw(loss="linear").fit(N[1:], y[1:], P=P[1:])
    np.testing.assert_allclose(weighted.coef_, dropped.coef_, rtol=1e-4)


def test_robust_loss_resists_outliers(rng):
    N, P = grid()
    E = formula(N, P, **TRUE)
    y = noisy(E, rng)
    y[rng.choice(N.size, 2, replace=False)] *= 3.0
    robust = JointLaw().fit(N, y, P=P)
    plain = JointLaw(loss="linear").fit(N, y, P=P)
    err_robust = np.max(np.abs(np.log(robust.predict(N, P=P) / E)))
    err_plain = np.max(np.abs(np.log(plain.predict(N, P=P) / E)))
    assert err_robust < 0.2  # worst over 300 draws was 0.10; plain least squares is never below 0.059
    assert err_robust < err_plain
    assert robust.params_["alpha"] == pytest.approx(TRUE["alpha"], rel=0.2)


def test_criteria_residuals_and_protocol(rng):
    N, P = grid()
    y = noisy(formula(N, P, **TRUE), rng)
    law = JointLaw().fit(N, y, P=P)
    m = N.size
    assert law.rss_ == pytest.approx(np.sum(law.residuals(N, y, P=P) ** 2), rel=1e-10)
    assert law.aic_ == pytest.approx(m * np.log(law.rss_ / m) + 2 * 5)
    assert law.bic_ == pytest.approx(m * np.log(law.rss_ / m) + 5 * np.log(m))
    assert law.n_params == 5
    clone = JointLaw(loss="linear").clone()
    assert clone.loss == "linear" and not clone.is_fitted and clone.get_params() == {"loss": "linear"}
    f, a, alpha, b, beta = law.coef_
    assert law.label() == f"{f:.3g} + {a:.3g} N^-{alpha:.2f} + {b:.3g} P^-{beta:.2f}"
    assert repr(law).startswith("JointLaw(loss='soft_l1', y = ") and "N^-" in repr(law) and "P^-" in repr(law)
    assert (law.floor_, law.A_, law.alpha_, law.B_, law.beta_) == tuple(law.coef_)
    assert law.n_range_ == (NS[0], NS[-1]) and law.p_range_ == (PS[0], PS[-1]) and law.is_fitted
    assert repr(JointLaw()) == "JointLaw(loss='soft_l1')"
    # predict broadcasts a scalar against an array
    np.testing.assert_allclose(law.predict(100.0, P=PS), law.predict(np.full(PS.size, 100.0), P=PS))
    # a bootstrap-style refit on a resample goes through the same keyword protocol
    idx = rng.integers(0, m, m)
    refit = law.clone().fit(N[idx], y[idx], P=P[idx])
    assert refit.params_["alpha"] == pytest.approx(TRUE["alpha"], rel=0.3)


# ---------------------------------------------------------------------- guidelines
def test_gain_table_matches_hand_computation():
    truth = TrueLaw(**TRUE)
    N = np.array([16.0, 4096.0, 500.0])
    P = np.array([2.56e6, 1e4, 1e5])
    rows = gain_table(truth, N, P, width=[128, 8, 25])
    for row, n, p, w in zip(rows, N, P, [128, 8, 25]):
        e = TRUE["floor"] + TRUE["A"] * n ** -TRUE["alpha"] + TRUE["B"] * p ** -TRUE["beta"]
        e_data = TRUE["floor"] + TRUE["A"] * (2 * n) ** -TRUE["alpha"] + TRUE["B"] * p ** -TRUE["beta"]
        e_model = TRUE["floor"] + TRUE["A"] * n ** -TRUE["alpha"] + TRUE["B"] * (4 * p) ** -TRUE["beta"]
        assert row["N"] == n and row["P"] == p and row["width"] == w
        assert row["error"] == pytest.approx(e)
        assert row["gain_data"] == pytest.approx(e - e_data)
        assert row["gain_model"] == pytest.approx(e - e_model)
        assert row["rel_gain_data"] == pytest.approx((e - e_data) / e)
        assert row["gain_data_db"] == pytest.approx(10 * np.log10(e / e_data))
        assert row["gain_model_db"] == pytest.approx(10 * np.log10(e / e_model))
        assert row["better"] == ("data" if e_data < e_model else "model")
    # few examples on a wide net: data; many examples on a narrow net: model
    assert [r["better"] for r in rows[:2]] == ["data", "model"]
    # P proportional to width: twice the width is only 2x the parameters, a smaller gain
    linear = gain_table(truth, N, P, width_factor_params=2.0)
    assert all(a["gain_model_db"] < b["gain_model_db"] for a, b in zip(linear, rows))
    assert "width" not in linear[0]


def test_gain_table_on_a_fitted_law_matches_the_truth():
    N, P = grid(replicates=1)
    law = JointLaw().fit(N, formula(N, P, **TRUE), P=P)
    fitted = gain_table(law, NS, PS[2])
    exact = gain_table(TrueLaw(**TRUE), NS, PS[2])
    for a, b in zip(fitted, exact):
        assert a["better"] == b["better"]
        assert a["gain_data_db"] == pytest.approx(b["gain_data_db"], rel=1e-4)
        assert a["gain_model_db"] == pytest.approx(b["gain_model_db"], rel=1e-4)


def test_smallest_width_grows_with_N_under_a_strong_P_term():
    truth = {"floor": 1e-4, "A": 0.5, "alpha": 0.6, "B": 1.0, "beta": 0.5}
    widths = np.array([256.0, 8.0, 16.0, 32.0, 64.0, 128.0])  # unsorted on purpose
    params = 1e4 * (widths / 8) ** 2
    N = np.geomspace(10, 1e6, 9)
    margin = 0.2
    rows = smallest_width(TrueLaw(**truth), N, widths, params, margin_db=margin)
    chosen = [r["width"] for r in rows]
    assert all(a <= b for a, b in zip(chosen, chosen[1:])) and chosen[-1] > chosen[0]
    order = np.sort(widths)
    for row, n in zip(rows, N):
        psnr = -10 * np.log10(formula(n, 1e4 * (order / 8) ** 2, **truth))  # PSNR of each width, by hand
        ok = psnr.max() - psnr <= margin
        assert row["width"] == order[np.argmax(ok)]  # the narrowest width within the margin
        assert row["best_width"] == order[np.argmax(psnr)] == 256.0
        assert row["psnr"] == pytest.approx(psnr[np.argmax(ok)]) and 0 <= row["shortfall_db"] <= margin
    assert all(r["width"] == 256.0 for r in smallest_width(TrueLaw(**truth), N, widths, params, margin_db=0.0))
    assert all(r["width"] == 8.0 for r in smallest_width(TrueLaw(**truth), N, widths, params, margin_db=1e3))


def test_params_for_width_is_exact_for_a_power_law():
    widths = np.array([16.0, 32.0, 64.0, 256.0])
    f = params_for_width(widths[::-1], 3e3 * (widths[::-1] / 16) ** 2)
    query = np.array([[4.0, 16.0], [100.0, 1000.0]])  # below, at, inside and beyond the sweep
    out = f(query)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, 3e3 * (query / 16) ** 2, rtol=1e-12)
    assert isinstance(f(48.0), float) and f(48.0) == pytest.approx(3e3 * 9)
    # a kinked sweep is interpolated segment by segment in log-log
    g = params_for_width([1.0, 10.0, 100.0], [1.0, 100.0, 1000.0])
    assert g(np.sqrt(10.0)) == pytest.approx(10.0) and g(1000.0) == pytest.approx(1e4)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("N", "y", "P", "match"),
    [
        ([16, 32, 64, 128, 256, 512], [0.1, 0.08, 0.06, 0.05, 0.04, 0.03], [1e4] * 6, "2 distinct P"),
        ([16] * 6, [0.1, 0.08, 0.06, 0.05, 0.04, 0.03], [1e4, 2e4, 4e4, 8e4, 1e5, 2e5], "2 distinct N"),
        ([16, 16, 32, 32, 16, 32], [0.1, 0.08, 0.06, 0.05, 0.09, 0.07], [1e4, 4e4] * 3, r"5 distinct \(N, P\)"),
        ([16, 32, 64, 16, 32, 64], [0.1, 0.08, 0.0, 0.05, 0.04, 0.03], [1e4] * 3 + [4e4] * 3, "y must be positive"),
        ([16, 32, -64, 16, 32, 64], [0.1, 0.08, 0.06, 0.05, 0.04, 0.03], [1e4] * 3 + [4e4] * 3, "N must be positive"),
        ([16, 32, 64, 16, 32, 64], [0.1, np.nan, 0.06, 0.05, 0.04, 0.03], [1e4] * 3 + [4e4] * 3, "non-finite"),
        ([16, 32, 64, 16, 32, 64], [0.1, 0.08, 0.06, 0.05, 0.04], [1e4] * 3 + [4e4] * 3, "same length"),
        ([[16, 32, 64], [16, 32, 64]], [0.1, 0.08, 0.06, 0.05, 0.04, 0.03], [1e4] * 3 + [4e4] * 3, "1-D"),
    ],
)
def test_fit_rejects_bad_input(N, y, P, match):
    with pytest.raises(ValueError, match=match) as info:
        JointLaw().fit(N, y, P=P)
    assert "\n" not in str(info.value)


def test_other_misuse_is_reported():
    N, P = grid(replicates=1)
    y = formula(N, P, **TRUE)
    with pytest.raises(ValueError, match="not fitted"):
        JointLaw().predict(N, P=P)
    with pytest.raises(ValueError, match="not fitted"):
        JointLaw().label()
    with pytest.raises(ValueError, match="loss='l2' is not supported"):
        JointLaw(loss="l2")
    with pytest.raises(ValueError, match="sigma must have one entry per point"):
        JointLaw().fit(N, y, P=P, sigma=[0.1, 0.2])
    with pytest.raises(ValueError, match="sigma must be positive"):
        JointLaw().fit(N, y, P=P, sigma=np.zeros(N.size))
    law = JointLaw().fit(N, y, P=P)
    with pytest.raises(ValueError, match="same length"):
        law.predict([16, 32, 64], P=[1e4, 2e4])
    with pytest.raises(ValueError, match="width_factor_params must exceed 1"):
        gain_table(law, NS, PS[0], width_factor_params=1.0)
    with pytest.raises(ValueError, match="margin_db must be >= 0"):
        smallest_width(law, NS, WIDTHS, PS, margin_db=-0.1)
    with pytest.raises(ValueError, match="widths and params must have the same length"):
        smallest_width(law, NS, WIDTHS, PS[:-1])
    with pytest.raises(ValueError, match="at least 2 distinct widths"):
        params_for_width([8.0, 8.0], [1e4, 1e4])
    with pytest.raises(ValueError, match="width must be positive"):
        params_for_width(WIDTHS, PS)(-1.0)


# ---------------------------------------------------------------------- fit quality and refusal
def test_reports_residuals_against_the_seeds_spread(rng):
    N, P = grid(replicates=3)
    good = JointLaw().fit(N, noisy(formula(N, P, **TRUE), rng), P=P)
    q = good.quality()
    assert q["fits"] is True and q["ratio"] < 1.2 and good.fit_verdict_.startswith("fits")
    assert q["seed_std"] == pytest.approx(NOISE, rel=0.3)
    # a sweep the additive law cannot describe: the width's benefit flips sign with N (an interaction)
    E = formula(N, P, **TRUE) * np.exp(0.4 * np.sin(np.log(N)) * np.log(P / P.min()) / np.log(P.max() / P.min()))
    bad = JointLaw().fit(N, noisy(E, rng), P=P)
    assert bad.fits_ is False and bad.fit_ratio_ > 1.5 and bad.fit_verdict_.startswith("does not fit")
    single = JointLaw().fit(*grid(replicates=1)[:1], formula(*grid(replicates=1), **TRUE), P=grid(replicates=1)[1])
    assert single.fits_ is None and "not checked" in single.fit_verdict_


def test_refuses_when_width_never_varies_at_a_fixed_N():
    N = np.repeat(NS, 2)
    P = np.repeat(PS[: NS.size] if PS.size >= NS.size else np.geomspace(1e4, 1e6, NS.size), 2)
    y = formula(N, P, **TRUE)
    with pytest.raises(ValueError, match="single width") as e:
        JointLaw().fit(N, y, P=P)
    assert "\n" not in str(e.value)
