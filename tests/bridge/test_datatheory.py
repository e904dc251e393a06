"""The theory of a sweep's own images (bridge.datatheory, empirical.spectrum) and the demo's analysis.

The theory curve is checked against its brute-force twin (Rao–Blackwellised Monte Carlo at the k it
chose) on the excess risk above the linear floor, through the interpolation threshold (where it
falls back to Monte Carlo itself), and against its limits (N → ∞: the linear floor; oracle ≤
validation stopping). The demo's analysis (runs_curve, crossing, findings) runs on hand-made rows.
"""

import json

import numpy as np
import pytest

from bridge.datatheory import data_theory_curve, load_data_model
from bridge.demo import crossing, demo_findings
from bridge.results import runs_curve
from theory.datamodel import DataModel, DataSpectrum, data_montecarlo
from theory.montecarlo import Estimator


def _model(n: int = 36, sigma: float = 0.3, seed: int = 0) -> DataModel:
    """P: a decaying random covariance; Q: another one (not commuting with P), as images' P and Q."""
    rng = np.random.default_rng(seed)
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    P = DataSpectrum(np.geomspace(4.0, 1e-3, n), V=V, label="P")
    Vq, _ = np.linalg.qr(V + 0.3 * rng.standard_normal((n, n)))
    Q = DataSpectrum(np.geomspace(3.0, 2e-3, n), V=Vq, label="Q")
    return DataModel(P, sigma, Q)


def _write(path, model: DataModel, **extra) -> None:
    arrays = {"P_mu": model.train.mu, "P_V": model.train.V, "Q_mu": model.test.mu, "Q_V": model.test.V,
              "sigma": np.float64(model.sigma), "shape": np.array([6, 6]),
              "meta": json.dumps({"P": "p", "Q": "q", "examples": 1})}
    arrays.update(extra)
    np.savez(path, **arrays)


def test_spectrum_file_round_trip_and_bad_files(tmp_path):
    m = _model()
    _write(tmp_path / "s.npz", m)
    m2, meta = load_data_model(tmp_path / "s.npz")
    assert np.allclose(m2.train.matrix(), m.train.matrix()) and np.allclose(m2.test.matrix(), m.test.matrix())
    assert m2.sigma == m.sigma and meta["P"] == "p"
    for bad, text in ((tmp_path / "missing.npz", "no such spectrum file"), (tmp_path / "s.txt", "not a readable")):
        if bad.suffix == ".txt":
            bad.write_text("hello")
        with pytest.raises(ValueError, match=text) as e:
            load_data_model(bad)
        assert "\n" not in str(e.value)
    np.savez(tmp_path / "other.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="missing P_mu"):
        load_data_model(tmp_path / "other.npz")
    _write(tmp_path / "neg.npz", m, P_mu=-m.train.mu)
    with pytest.raises(ValueError, match="negative"):
        load_data_model(tmp_path / "neg.npz")


def test_theory_curve_matches_monte_carlo_on_the_excess_through_the_threshold():
    """Excess above the linear floor, at the k the curve chose: within 4% of Rao–Blackwell Monte
    Carlo (400 draws) away from the threshold; at N = n the curve is Monte Carlo itself."""
    m = _model()
    Ns = [12, 36, 144, 576]
    rows = data_theory_curve(m, Ns, kmax=1e6, draws=30, rng=np.random.default_rng(1))
    assert [r["method"] for r in rows] == ["asymptotic", "rao-blackwell (30 draws)", "asymptotic", "asymptotic"]
    to_mse = m.test.trace / m.n
    for r in rows:
        ests = [Estimator("gd", steps=(r["k"],))] if r["k"] >= 0 else [Estimator("ols")]
        (c,) = data_montecarlo(m, [r["N"]], ests, runs=400, rng=np.random.default_rng(2), rao_blackwell=True)
        mc = c.draws[:, 0, 0]
        excess_th = r["mse"] - r["floor_P_on_Q"]
        excess_mc = (mc.mean() * to_mse) - r["floor_P_on_Q"]
        se = mc.std(ddof=1) / np.sqrt(mc.size) * to_mse
        assert excess_mc > 0 and excess_th > 0
        tol = 0.04 * excess_mc + 3 * se + (3 * r["mse_sem"] if r["method"] != "asymptotic" else 0)
        assert abs(excess_th - excess_mc) <= tol, (r["N"], excess_th, excess_mc, se)


def test_theory_curve_is_an_independent_monte_carlo_of_its_own_model_within_two_hundredths_of_a_dB():
    """σ = 0.1, where R_Q still falls where R_P is flat (a k grid 1.33× apart moves this curve by +0.02,
    −0.11 and +0.06 dB at N = 64, 256, 1024). The twin: Rao–Blackwellised draws of Y from the model, k =
    the argmin over every integer k of their mean E[R_P | Y], then their mean E[R_Q | Y] at that k.
    Measured: −0.003, +0.001, +0.001 dB (SEM 0.006, 0.003, 0.001 dB with 200 draws)."""
    m = _model(sigma=0.1)
    model_P = DataModel(m.train, m.sigma)
    to_mse = m.test.trace / m.n
    Ns, kmax, runs = [64, 256, 1024], 10**6, 200
    rows = data_theory_curve(m, Ns, kmax=kmax)
    assert [r["method"] for r in rows] == ["asymptotic"] * 3
    for r in rows:
        seed = np.random.default_rng(r["N"])
        (choose,) = data_montecarlo(model_P, [r["N"]], [Estimator("gd-argmin", kmax=kmax)], runs=runs,
                                    rng=np.random.default_rng(r["N"]), rao_blackwell=True)
        k = int(choose.k_opt[0, 0])
        (c,) = data_montecarlo(m, [r["N"]], [Estimator("gd", steps=(k,))], runs=runs, rng=seed, rao_blackwell=True)
        mc = c.draws[:, 0, 0] * to_mse
        psnr_mc, sem_db = -10 * np.log10(mc.mean()), 10 / np.log(10) * mc.std(ddof=1) / np.sqrt(runs) / mc.mean()
        assert abs(r["psnr"] - psnr_mc) <= 0.02, (r["N"], r["k"], k, r["psnr"], psnr_mc, sem_db)
        assert abs(r["k"] - k) <= 0.05 * k  # the same stopping time, up to the draws' noise


def test_theory_curve_limits_oracle_below_validation_and_the_floor_at_large_N():
    m = _model()
    Ns = [8, 64, 4096, 10**6]
    val = data_theory_curve(m, Ns, kmax=1e7)
    orc = data_theory_curve(m, Ns, kmax=1e7, stopping="oracle")
    for v, o in zip(val, orc):
        assert o["mse"] <= v["mse"] * (1 + 1e-12)
        assert v["floor_Q"] <= v["floor_P_on_Q"] <= v["mse"] * (1 + 1e-9)
    excess = [v["mse"] - v["floor_P_on_Q"] for v in val]
    assert excess[-1] < 1e-3 * excess[0] and all(np.diff(excess) < 0)
    # Q = P: validation and oracle stopping coincide
    same = DataModel(m.train, m.sigma)
    a, b = data_theory_curve(same, [64], kmax=1e7), data_theory_curve(same, [64], kmax=1e7, stopping="oracle")
    assert a[0]["k"] == b[0]["k"] and a[0]["floor_Q"] == pytest.approx(a[0]["floor_P_on_Q"])
    with pytest.raises(ValueError, match="stopping"):
        data_theory_curve(m, [8], stopping="best")


# ------------------------------------------------------------------------------------ demo analysis
def _runs(N, width, seed, val, test):
    return {"status": "done", "N": N, "width": width, "seed": seed, "val_mse": val, "test_mse": test}


def test_runs_curve_picks_the_width_by_validation_and_averages_seeds():
    runs = [_runs(16, 4, s, 0.02, 0.021 + s * 0.001) for s in (0, 1)] + \
           [_runs(16, 8, s, 0.03, 0.001) for s in (0, 1)] + [_runs(64, 8, 0, 0.01, 0.01)] + \
           [{"status": "failed", "N": 64, "width": 4, "seed": 0}]
    rows = runs_curve(runs, by=())
    assert [r["N"] for r in rows] == [16, 64]
    r = rows[0]
    assert r["width"] == 4 and r["seeds"] == 2  # by validation, although width 8 tests better
    assert r["mse"] == pytest.approx(0.0215)
    assert r["psnr"] == pytest.approx(np.mean(-10 * np.log10([0.021, 0.022])))
    assert r["psnr_sem"] == pytest.approx(np.std(-10 * np.log10([0.021, 0.022]), ddof=1) / np.sqrt(2))
    assert rows[1]["seeds"] == 1 and rows[1]["psnr_sem"] == 0.0


def _curve(N, psnr, sem=0.05):
    return [{"N": n, "psnr": p, "psnr_sem": sem} for n, p in zip(N, psnr)]


def test_crossing_identified_only_when_the_data_bracket_it():
    lin = _curve([16, 64, 256, 1024], [20, 21, 22, 22.5])
    f = crossing(_curve([16, 64, 256, 1024], [19, 20.9, 23, 24]), lin, what="x")
    assert f["identified"] and f["lo"] == 64 and f["hi"] == 256 and 64 < f["value"] < 256
    # the interpolation puts a zero difference halfway between equal and opposite differences
    g = crossing(_curve([16, 64], [19, 21]), _curve([16, 64], [20, 20]), what="x")
    assert g["value"] == pytest.approx(32.0)
    ahead = crossing(_curve([16, 64], [25, 26]), lin, what="x")
    assert not ahead["identified"] and ahead["value"] is None and "below the data" in ahead["reason"]
    never = crossing(_curve([16, 64, 256], [19, 20, 21]), lin, what="x")
    assert not never["identified"] and "not ahead" in never["reason"]
    noisy = crossing(_curve([16, 64, 256], [19, 21.02, 23.5], sem=0.5), lin, what="x")
    assert noisy["identified"] and noisy["lo"] == 64  # within 2 SEM at 64: not yet ahead
    back = crossing(_curve([16, 64, 256], [19, 22, 21]), lin, what="x")
    assert not back["identified"] and "no single crossing" in back["reason"]


def test_demo_findings_report_floors_gaps_and_crossings():
    floor, wiener = 0.004, 0.001
    theory = [{"N": n, "psnr": -10 * np.log10(m), "mse": m, "floor_P_on_Q": floor, "floor_Q": wiener}
              for n, m in ((16, 0.02), (64, 0.01), (256, 0.005))]
    linear = [{**r, "psnr": r["psnr"] - 0.3, "psnr_sem": 0.02, "seeds": 2} for r in theory]
    network = [{"N": 16, "psnr": 16.0, "psnr_sem": 0.05, "seeds": 2}, {"N": 64, "psnr": 25.0, "psnr_sem": 0.05,
                                                                        "seeds": 2}]
    fits = {"findings": [{"quantity": "SaturatingLaw.asymptote", "value": 105.0, "lo": 90.0, "hi": None,
                          "identified": False, "reason": "upper end runs off"}]}
    findings, gaps = demo_findings(theory, linear, network, fits)
    by = {f["quantity"]: f for f in findings}
    assert [g["gap_db"] for g in gaps] == pytest.approx([0.3, 0.3, 0.3])
    assert by["linear floor: PSNR of W*_P on the test crops (dB)"]["value"] == pytest.approx(-10 * np.log10(floor))
    over = by["N where the network overtakes the learned linear estimator"]
    assert over["identified"] and over["lo"] == 16 and over["hi"] == 64
    beat = by["N where the network beats the linear floor (every linear map learned from the training distribution)"]
    assert beat["identified"] and beat["hi"] == 64  # 25 dB > 10 log10(1/0.004) = 23.98 dB
    fit = by["network fit: SaturatingLaw.asymptote"]
    assert not fit["identified"] and fit["reason"] == "upper end runs off"
    for f in findings:
        assert set(f) == {"quantity", "value", "lo", "hi", "identified", "reason"}


def test_wiener_floor_of_too_few_test_crops_is_not_a_finding():
    theory = [{"N": n, "psnr": -10 * np.log10(m), "mse": m, "floor_P_on_Q": 0.004, "floor_Q": 0.0007,
               "rank_Q": 20, "n": 256} for n, m in ((16, 0.02), (64, 0.01))]
    linear = [{**r, "psnr_sem": 0.02, "seeds": 2} for r in theory]
    findings, _ = demo_findings(theory, linear, [], None)
    w = next(f for f in findings if f["quantity"].startswith("Wiener floor"))
    assert not w["identified"] and w["value"] is None and "rank 20 < n = 256" in w["reason"]


def test_the_demo_reads_back_only_its_own_runs():
    """A demo directory can hold runs of another mode or budget: only the settings asked for come back."""
    from bridge.demo import own_runs

    rows = [{"N": N, "width": w, "max_steps": m, "target": t, "source.test_crops": "grid"}
            for N in (16, 64) for w in (4, 8) for m in (1200, 2400) for t in ("clean", "noisy")]
    got = own_runs(rows, ["N=[16, 64]", "width=[4]", "max_steps=2400", 'target=["clean"]', "source.test_crops=grid"])
    assert [(r["N"], r["width"], r["max_steps"], r["target"]) for r in got] == [(16, 4, 2400, "clean"),
                                                                                (64, 4, 2400, "clean")]
    assert own_runs(rows, ["source.test_crops=corners"]) == []


def test_the_floors_resampled_over_test_crops_are_the_theory_floors_at_the_crops_themselves():
    """floor_draws with every crop weighted once equals the theory's linear floor of Σ_Q = XᵀX/m (its
    brute-force twin: W*_P built here); its resamples spread around it; the Wiener floor is bracketed
    by its in-sample value (the theory's, and W*_Q built by hand) and a cross-validated one above it."""
    from bridge.datatheory import floor_draws
    from bridge.paired import image_weights

    rng = np.random.default_rng(5)
    m = _model()
    X = rng.standard_normal((80, 36)) @ np.diag(np.geomspace(1.5, 0.05, 36))
    mu, V = np.linalg.eigh(X.T @ X / 80)
    model = DataModel(m.train, m.sigma, DataSpectrum(np.clip(mu[::-1], 0, None), V=V[:, ::-1], label="Q"))
    row = data_theory_curve(model, [64])[0]
    S, s2, eye = X.T @ X / 80, m.sigma**2, np.eye(36)  # by hand: R(W) = tr((W − I)Σ(W − I)ᵀ) + σ² ‖W‖², per pixel
    Wp = m.train.matrix() @ np.linalg.inv(m.train.matrix() + s2 * eye)
    f = floor_draws(model, X, np.full((1, 80), 1 / 80))
    assert f["floor_P_on_Q"][0] == pytest.approx(row["floor_P_on_Q"], rel=1e-9)
    assert f["floor_P_on_Q"][0] == pytest.approx((np.trace((Wp - eye) @ S @ (Wp - eye).T) + s2 * np.sum(Wp**2)) / 36,
                                                 rel=1e-9)
    inside, crossed = f["floor_Q_bracket"]
    Wq = S @ np.linalg.inv(S + s2 * eye)
    assert inside == pytest.approx(row["floor_Q"], rel=1e-9)
    assert inside == pytest.approx((np.trace((Wq - eye) @ S @ (Wq - eye).T) + s2 * np.sum(Wq**2)) / 36, rel=1e-9)
    assert crossed > inside  # out of sample is worse than in sample
    boot = floor_draws(model, X, image_weights(80, 400, rng))
    lo, hi = np.percentile(boot["floor_P_on_Q"], [5, 95])
    assert boot["floor_P_on_Q"].shape == (400,) and lo < row["floor_P_on_Q"] < hi
    stationary = DataModel(DataSpectrum(m.train.mu, basis="fourier", shape=(6, 6)), m.sigma, model.test)
    assert floor_draws(stationary, X, np.full((1, 80), 1 / 80)) == {}


def test_the_theory_points_move_with_the_test_crops_as_their_brute_force_twin_says():
    """theory_draws: with every crop once the point is the row's own; under a resample it moves by the
    expected per-crop contribution — checked against the literal Monte Carlo of R_Q at the reweighted
    Σ_Q with the same training draws (linear in Σ_Q, so equal up to the mean's Monte Carlo error)."""
    from bridge.datatheory import theory_draws
    from bridge.paired import image_weights

    rng = np.random.default_rng(7)
    m = _model()
    X = rng.standard_normal((60, 36)) @ np.diag(np.geomspace(1.5, 0.05, 36))
    mu, V = np.linalg.eigh(X.T @ X / 60)
    model = DataModel(m.train, m.sigma, DataSpectrum(np.clip(mu[::-1], 0, None), V=V[:, ::-1], label="Q"))
    rows = data_theory_curve(model, [64, 512])
    w = np.vstack([np.full(60, 1 / 60), image_weights(60, 50, rng)])
    d = theory_draws(model, rows, X, w, draws=40, rng=np.random.default_rng(1))
    for r in rows:
        assert d[r["N"]][0] == pytest.approx(r["mse"], rel=1e-12)  # no resample: the row itself
        spread = np.std(d[r["N"]][1:])
        assert 0 < spread < 0.2 * r["mse"]
    # the twin: the same 40 training draws by hand, R_Q at the resampled Σ_Q by its trace formula
    from theory.estimators import TrainingSpectrum, gd_filter

    g, root, s2, eye = np.random.default_rng(1), m.train.V * np.sqrt(m.train.mu), m.sigma**2, np.eye(36)
    r = rows[0]
    Ws = []
    for _ in range(40):
        Xt = root @ g.standard_normal((36, r["N"]))
        spec = TrainingSpectrum.fit(Xt + m.sigma * g.standard_normal((36, r["N"])), Xt)
        Ws.append(spec.weights(gd_filter(spec.lam, [r["k"]], model.paper_lr(r["N"]))[1])[0])

    def mc(weights):
        S = (X * weights[:, None]).T @ X
        return np.mean([(np.trace((W - eye) @ S @ (W - eye).T) + s2 * np.sum(W**2)) / 36 for W in Ws])

    for b in (1, 2, 3):
        assert d[r["N"]][b] - r["mse"] == pytest.approx(mc(w[b]) - mc(w[0]), rel=1e-9, abs=1e-15)
    uniform = np.full((1, 60), 1 / 60)
    assert theory_draws(DataModel(DataSpectrum(m.train.mu, basis="fourier", shape=(6, 6)), m.sigma, model.test),
                        rows, X, uniform, rng=rng) == {}
