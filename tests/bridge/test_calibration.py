"""bridge.calibrate: the two linear-theory models (subspace: d_eff, σ; power-law spectrum: exponent, scale with σ
known) fitted to synthetic curves drawn from the theory itself plus seed noise — recovery, bootstrap coverage
over repeated draws, identification, the engine against theory's own equivalent, and input validation."""

import re

import numpy as np
import pytest

from bridge.calibrate import (
    calibrate,
    power_relative_curve,
    power_spectrum,
    relative_curve,
    subspace_spectrum,
    theory_relative_curve,
)
from bridge.compare import Curve

N_SMALL = 64  # a small ambient dimension keeps every theory curve well under a second
KMAX = 500


def _subspace_curve(N, d, sigma, n=N_SMALL):
    return relative_curve(*subspace_spectrum(n, d, sigma), n, sigma, N, KMAX)


def _noisy(N, y, *, seeds, noise, rng):
    """The curve ``y`` measured with ``seeds`` seeds: per-seed log-normal noise, as a relative-input Curve."""
    N = np.asarray(N, float)
    pts = y[:, None] * np.exp(noise * rng.standard_normal((N.size, seeds)))
    points = (np.repeat(N, seeds), pts.ravel(), np.tile(np.arange(seeds), N.size))
    return Curve(N, pts.mean(1), pts.std(1, ddof=1), "relative-input", "synthetic", points)


def _covers(cal, truth):
    return {k: cal.intervals[k][0] <= v <= cal.intervals[k][1] for k, v in truth.items()}


# ------------------------------------------------------------------------------ the theory engine
def test_subspace_engine_matches_theory_relative_curve():
    """The calibration's engine (a ShiftSpectrum built here) against theory.expected_risk's own equivalent,
    N = n included (where the engine switches to theory's linear contour)."""
    N = [2, 32, N_SMALL, 256]
    for d, sigma in ((6, 0.5), (20, 0.2)):
        ours = _subspace_curve(N, d, sigma)
        ref = theory_relative_curve(N, n=N_SMALL, d=d, sigma=sigma, kmax=KMAX)
        np.testing.assert_allclose(ours, ref, rtol=1e-4)


def test_power_engine_matches_theory_spectral_signal():
    """The power-law spectrum (log-binned eigenvalues) against theory's equivalent of the SpectralSignal."""
    from theory import Estimator, Problem, SpectralSignal, expected_risk

    n, exponent, scale, sigma = 32, 1.2, 3.0, 0.5
    N = [4, 16, 64]
    mu = scale * np.arange(1, n + 1, dtype=float) ** -exponent
    (c,) = expected_risk(Problem(SpectralSignal(tuple(mu)), sigma), N, [Estimator("gd-oracle", kmax=KMAX)],
                         method="asymptotic", rng=np.random.default_rng(0))
    ref = c.mean[:, 0] * mu.sum() / (sigma**2 * n)
    np.testing.assert_allclose(power_relative_curve(N, n=n, exponent=exponent, scale=scale, sigma=sigma, kmax=KMAX),
                               ref, rtol=2e-3)
    # and the binning itself: grouped against every eigenvalue on its own
    unbinned = relative_curve(*power_spectrum(n, exponent, scale, sigma, bin_width=0), n, sigma, N, KMAX)
    np.testing.assert_allclose(power_relative_curve(N, n=n, exponent=exponent, scale=scale, sigma=sigma, kmax=KMAX),
                               unbinned, rtol=2e-3)


# ------------------------------------------------------------------------------ recovery
def test_subspace_calibration_recovers_d_and_sigma(rng):
    N = np.array([2, 4, 8, 16, 32, 128])
    d, sigma = 6, 0.5
    cal = calibrate(_noisy(N, _subspace_curve(N, d, sigma), seeds=5, noise=0.03, rng=rng), n=N_SMALL, kmax=KMAX,
                    n_boot=100, rng=rng)
    assert cal.model == "subspace" and cal.identified and cal.reason == ""
    assert cal.params["d_eff"] == pytest.approx(d, rel=0.1) and cal.d_eff in (d - 1, d, d + 1)
    assert cal.sigma == pytest.approx(sigma, rel=0.1)
    lo, hi = cal.d_ci
    assert lo <= cal.params["d_eff"] <= hi and cal.sigma_ci[0] <= cal.sigma <= cal.sigma_ci[1]
    assert cal.rms_log_error < 0.05 and "seed bootstrap (5 seeds" in cal.interval_method
    row = cal.as_dict()
    assert row["identified"] is True and row["d_eff_identified"] and row["sigma_identified"]
    assert {"d_lo", "d_hi", "sigma_lo", "sigma_hi", "floor", "evaluations"} <= set(row)
    assert cal.floor == pytest.approx(cal.d_eff / (N_SMALL * (1 + cal.sigma**2)))


def test_power_calibration_recovers_exponent_and_scale(rng):
    N = np.array([2, 4, 8, 16, 32, 128])
    exponent, scale, sigma = 1.5, 4.0, 0.5
    y = power_relative_curve(N, n=N_SMALL, exponent=exponent, scale=scale, sigma=sigma, kmax=KMAX)
    cal = calibrate(_noisy(N, y, seeds=5, noise=0.03, rng=rng), n=N_SMALL, model="power", sigma=sigma, kmax=KMAX,
                    n_boot=100, rng=rng)
    assert cal.model == "power" and cal.identified, cal.reason
    assert cal.exponent == pytest.approx(exponent, abs=0.15)
    assert cal.scale == pytest.approx(scale, rel=0.25)
    assert cal.sigma == sigma and cal.sigma_ci == (sigma, sigma)
    np.testing.assert_allclose(cal.predict(N), cal.y, rtol=1e-9)
    row = cal.as_dict()
    assert row["model"] == "power" and row["exponent_identified"] and row["scale_identified"]
    with pytest.raises(ValueError, match="subspace model"):
        _ = cal.d_eff


# ------------------------------------------------------------------------------ coverage
@pytest.mark.slow
def test_bootstrap_intervals_cover_the_truth_at_about_their_level():
    """Repeated synthetic experiments (fresh seed noise each time): the intervals at level 0.9 contain the
    generating parameters in at least 70% of draws per parameter (nominal 90%; 12 draws — a loose check that
    fails when the intervals are too narrow, e.g. bootstrap spread alone under misspecified noise)."""
    rng = np.random.default_rng(2024)
    N = np.array([2, 8, 32, 128])
    d, sigma = 6, 0.5
    y = _subspace_curve(N, d, sigma)
    hits = {"d_eff": 0, "sigma": 0}
    draws = 12
    for _ in range(draws):
        cal = calibrate(_noisy(N, y, seeds=6, noise=0.04, rng=rng), n=N_SMALL, kmax=KMAX, level=0.9, n_boot=100,
                        rng=rng)
        for k, ok in _covers(cal, {"d_eff": d, "sigma": sigma}).items():
            hits[k] += ok
    assert min(hits.values()) >= 0.7 * draws, hits
    # and they are not vacuous: a decade would satisfy any truth
    assert cal.intervals["d_eff"][1] / cal.intervals["d_eff"][0] < 2


# ------------------------------------------------------------------------------ identification
def test_a_flat_curve_is_not_identified(rng):
    """Only N ≫ n: the curve sits on its floor d/(n(1+σ²)), which fixes one combination of d and σ."""
    N = np.array([1024, 2048, 4096, 8192])
    cal = calibrate(_noisy(N, _subspace_curve(N, 6, 0.5), seeds=5, noise=0.03, rng=rng), n=N_SMALL, kmax=KMAX,
                    n_boot=50, rng=rng)
    assert not cal.identified and cal.reason
    bad = [k for k, f in cal.findings.items() if not f["identified"]]
    assert bad and all(cal.as_dict()[f"{k}_reason"] for k in bad)
    assert all(k in cal.reason for k in bad)


def test_a_constant_curve_is_not_identified_by_the_power_model(rng):
    N = np.array([4, 8, 16, 32])
    cal = calibrate(_noisy(N, np.full(4, 0.3), seeds=5, noise=0.03, rng=rng), n=N_SMALL, model="power", sigma=0.5,
                    kmax=KMAX, n_boot=20, rng=rng)
    assert not cal.identified and not cal.as_dict()["identified"]


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "linear"}, "model 'linear'"),
        ({"model": "power"}, "pass sigma > 0"),
        ({"model": "power", "sigma": -1.0}, "pass sigma > 0"),
        ({"sigma": 0.1}, "only with model='power'"),
        ({"n_boot": 5}, "n_boot=5"),
        ({"level": 1.5}, "level=1.5"),
        ({"n": 1}, "n=1"),
        ({"max_evals": 1}, "max_evals=1"),
    ],
)
def test_bad_options_raise_one_line(kwargs, match):
    N = np.array([2.0, 4.0, 8.0])
    c = Curve(N, np.array([0.5, 0.4, 0.3]), np.zeros(3), "relative-input", "x")
    opts = {"n": N_SMALL, **kwargs}
    with pytest.raises(ValueError, match=match) as e:
        calibrate(c, **opts)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "curve, match",
    [
        (Curve(np.array([2.0, 4, 8]), np.array([0.5, 0.4, 0.3]), np.zeros(3), "risk", "x"), "relative-input"),
        (Curve(np.array([2.0, 4]), np.array([0.5, 0.4]), np.zeros(2), "relative-input", "x"), "at least 3"),
        (Curve(np.array([2.0, 4, 8]), np.array([0.5, 0.0, 0.3]), np.zeros(3), "relative-input", "x"), "positive"),
        (Curve(np.array([2.5, 4, 8]), np.array([0.5, 0.4, 0.3]), np.zeros(3), "relative-input", "x"), "integers"),
    ],
)
def test_bad_curves_raise_one_line(curve, match):
    with pytest.raises(ValueError, match=match) as e:
        calibrate(curve, n=N_SMALL)
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------------------ the command
def _ledger(path, rel, N, *, seeds, rng, sigma=0.5):
    """A sweep ledger (plain sqlite3, the sweep's schema) whose best width has relative error ``rel`` per N."""
    import json
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, sweep TEXT, config TEXT, status TEXT, reason TEXT, "
               "metrics TEXT, params INTEGER, best_step INTEGER, steps INTEGER, wall_s REAL, device TEXT, "
               "versions TEXT, attempts INTEGER, updated REAL)")
    m_in, i = 0.01, 0
    for v, r in zip(N, rel):
        for w, worse in ((4, 1.5), (8, 1.0)):
            for s in range(seeds):
                mse = m_in * r * worse * np.exp(0.03 * rng.standard_normal())
                psnr = -10 * np.log10(mse)
                metrics = {"val": {"psnr": psnr, "mse": mse}, "test": {"psnr": psnr, "mse": mse, "ssim": 0.8},
                           "test_input": {"psnr": 20.0, "mse": m_in}, "conventions": {"data_range": 1.0}}
                cfg = {"name": "syn", "task": "denoise", "size": 8, "channels": 1, "arch": "unet", "sigma": sigma,
                       "N": int(v), "width": w, "seed": s}
                db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           (f"r{i:03d}", "syn", json.dumps(cfg), "done", "", json.dumps(metrics), 100 * w, 10, 20,
                            1.0, "cpu", "{}", 1, 0.0))
                i += 1
    db.commit()
    db.close()


def _theory_table(path, N):
    import json

    rows = [{"estimator": "gd-oracle", "n": N_SMALL, "d": 6, "sigma": 0.5, "operator": "denoise", "N": int(v),
             "risk_mean": 0.2 + 1.0 / v, "risk_std": 0.0} for v in N]
    path.write_text(json.dumps(rows))


@pytest.mark.parametrize("flat", [False, True])
def test_compare_command_never_prints_or_draws_an_unidentified_calibration(tmp_path, capsys, monkeypatch, flat):
    import json

    from bridge import figures
    from bridge.cli import main as cli_main

    rng = np.random.default_rng(3)
    N = np.array([2, 4, 8, 16, 32, 128]) if not flat else np.array([4, 8, 16, 32])
    rel = np.full(N.size, 0.3) if flat else _subspace_curve(N, 6, 0.5)
    (tmp_path / "sweep").mkdir()
    _ledger(tmp_path / "sweep" / "ledger.sqlite", rel, N, seeds=4, rng=rng)
    _theory_table(tmp_path / "theory.json", N)
    drawn = {}

    def spy(theory, empirical, path, *, calibrated=None):
        drawn["calibrated"] = calibrated
        return []

    monkeypatch.setattr(figures, "overlay_figure", spy)
    args = ["compare", str(tmp_path / "theory.json"), str(tmp_path / "sweep"), "--calibrate", "--boot", "20",
            "--out", str(tmp_path / "cmp")]
    assert cli_main(args + (["--model", "power"] if flat else [])) == 0
    text = capsys.readouterr().out
    cal = json.loads((tmp_path / "cmp" / "compare.json").read_text())["calibration"]
    section = text.split("calibrated linear theory", 1)[1]
    if flat:
        assert cal["identified"] is False and "NOT IDENTIFIED" in text and drawn["calibrated"] is None
        for name in ("exponent", "scale"):
            line = next(li for li in section.splitlines() if li.strip().startswith(f"{name}:"))
            if not cal[f"{name}_identified"]:
                assert f"not identified ({cal[f'{name}_reason']})" in line
                assert line.split(":", 1)[1].strip().startswith("not identified (")  # never the estimate
    else:
        assert cal["identified"] is True and "NOT IDENTIFIED" not in text and drawn["calibrated"] is not None
        assert "not identified" not in section and re.search(r"d_eff: [0-9.]+ \[[0-9.]+, [0-9.]+\]", section)
        assert abs(cal["d_eff"] - 6) <= 1
