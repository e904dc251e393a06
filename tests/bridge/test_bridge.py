"""bridge: results reading without torch, theory-vs-experiment alignment, calibration of the linear
theory against a Monte Carlo twin, and every CLI command on small inputs (demo in its smoke mode)."""

import json
import sqlite3

import numpy as np
import pytest

from bridge.cli import main as cli_main
from bridge.calibrate import calibrate
from bridge.compare import Curve, align, compare_fits, empirical_curve, theory_curve
from bridge.results import aggregate, load_table, read_ledger, runs_curve

# -------------------------------------------------------------------------------- fixtures

_CONFIG_KEYS = {"name": "tiny", "task": "denoise", "size": 16, "channels": 1, "arch": "unet", "sigma": 0.1}


def _fake_ledger(path, rng, *, Ns=(8, 16, 64, 256), widths=(4, 8), seeds=(0, 1), images=None):
    """A ledger in the sweep's schema, written with plain sqlite3 (no torch): PSNR rising with N and width.
    With ``images`` (n,), every run keeps each test image's MSE (∝ images, one test set for all runs)
    and PSNR, as sweeps do (``test_per_image``); its test MSE and PSNR are their means."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, sweep TEXT, config TEXT, status TEXT, reason TEXT, "
               "metrics TEXT, params INTEGER, best_step INTEGER, steps INTEGER, wall_s REAL, device TEXT, "
               "versions TEXT, attempts INTEGER, updated REAL)")
    i = 0
    for N in Ns:
        for w in widths:
            for s in seeds:
                mse = 0.002 + 0.01 * N**-0.5 + 0.004 * (w / 4) ** -1.0
                mse *= np.exp(0.02 * rng.standard_normal())
                m_in = 0.01
                metrics = {"val": {"psnr": -10 * np.log10(mse) + 0.01 * rng.standard_normal(), "mse": mse},
                           "test": {"psnr": -10 * np.log10(mse), "mse": mse, "ssim": 0.8},
                           "test_input": {"psnr": 20.0, "mse": m_in}, "conventions": {"data_range": 1.0}}
                if images is not None:
                    per = mse * images / images.mean()
                    metrics["test_per_image"] = {"mse": per.tolist(), "psnr": (-10 * np.log10(per)).tolist()}
                    metrics["test"].update(mse=float(per.mean()), psnr=float(np.mean(-10 * np.log10(per))))
                cfg = {**_CONFIG_KEYS, "N": N, "width": w, "seed": s}
                db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           (f"r{i:03d}", "tiny", json.dumps(cfg), "done", "", json.dumps(metrics), 100 * w * w, 10,
                            20, 1.0, "cpu", "{}", 1, 0.0))
                i += 1
    db.commit()
    db.close()


@pytest.fixture
def sweep_dir(tmp_path):
    """A fake sweep for the commands' plumbing: one fixed draw (what is statistical is tested on the
    functions themselves, over the seed fixture's seeds)."""
    d = tmp_path / "sweep"
    d.mkdir()
    _fake_ledger(d / "ledger.sqlite", np.random.default_rng(0))
    return d


@pytest.fixture(scope="module")
def theory_table(tmp_path_factory):
    from theory.setups import SETUPS, run_setups

    out = tmp_path_factory.mktemp("theory") / "setup2.csv"
    run_setups([SETUPS[1]], out=out, runs=3, kmax=400, progress=False)
    return out


# -------------------------------------------------------------------------------- results
def test_ledger_reading_matches_the_written_runs(sweep_dir):
    raw = read_ledger(sweep_dir)
    table = load_table(sweep_dir)
    assert len(raw) == len(table) == 16
    assert {"N", "width", "seed", "test_psnr", "test_input_mse", "params", "conv_data_range"} <= table[0].keys()
    sel = runs_curve(table, metric="psnr")
    assert [r["N"] for r in sel] == [8, 16, 64, 256]
    for r in sel:  # the best width by validation, its seeds' mean test score
        runs = [t for t in table if t["N"] == r["N"]]
        by_w = {w: np.mean([t["val_psnr"] for t in runs if t["width"] == w]) for w in (4, 8)}
        assert r["width"] == max(by_w, key=by_w.get)
        assert r["test_psnr_mean"] == pytest.approx(np.mean([t["test_psnr"] for t in runs if t["width"] == r["width"]]))


def test_tables_round_trip_and_bad_files(tmp_path, sweep_dir, capsys):
    assert cli_main(["results", str(sweep_dir), "--format", "csv", "--out", str(tmp_path / "t.csv")]) == 0
    assert cli_main(["results", str(sweep_dir), "--format", "json", "--out", str(tmp_path / "t.json")]) == 0
    a, b = load_table(tmp_path / "t.csv"), load_table(tmp_path / "t.json")
    assert [r["test_psnr"] for r in a] == pytest.approx([r["test_psnr"] for r in b], rel=1e-12)
    x, mean, std, count = aggregate(a, y="test_psnr")
    assert list(x) == [8, 16, 64, 256] and list(count) == [4, 4, 4, 4] and np.all(std > 0)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "x.txt").write_text("a")
    for path, match in [(tmp_path / "bad.json", "not valid JSON"), (tmp_path / "x.txt", "unknown table format"),
                        (tmp_path / "missing", "no such file")]:
        with pytest.raises(ValueError, match=match):
            load_table(path)
    garbage = tmp_path / "g"
    garbage.mkdir()
    (garbage / "ledger.sqlite").write_text("garbage" * 50)
    assert cli_main(["results", str(garbage)]) == 2
    assert "not a reconscale ledger" in capsys.readouterr().err


# -------------------------------------------------------------------------------- compare
def test_theory_curve_relative_scale(theory_table):
    rows = load_table(theory_table)
    risk = theory_curve(rows, estimator="optimal", scale="risk")
    rel = theory_curve(rows, estimator="optimal")
    n, d, s = 100, 10, 0.1
    assert np.allclose(risk.y, s**2 / (1 + s**2))  # the floor σ²/(1+σ²)
    assert np.allclose(rel.y, d / (n * (1 + s**2)))  # R*/R(I) = d/(n(1+σ²))
    with pytest.raises(ValueError, match="no rows for estimator"):
        theory_curve(rows, estimator="nope")
    with pytest.raises(ValueError, match="no PSNR"):
        theory_curve(rows, scale="psnr")


def test_align_refuses_mismatched_grids_unless_asked(theory_table, sweep_dir):
    th = theory_curve(load_table(theory_table))
    emp = empirical_curve(load_table(sweep_dir))
    t2, e2 = align(th, emp)  # 8, 16, 64, 256 are on the d = 10 grid
    assert list(t2.N) == list(e2.N)
    shifted = Curve(emp.N + 1, emp.y, emp.err, emp.scale, "x")
    with pytest.raises(ValueError, match="interpolate=True"):
        align(th, shifted)
    ti, _ = align(th, shifted, interpolate=True)
    lo = np.interp(np.log(shifted.N), np.log(th.N), np.log(th.y))
    assert np.allclose(np.log(ti.y), lo)
    far = Curve(np.array([1e6, 2e6, 4e6]), np.ones(3), np.zeros(3), "relative-input", "far")
    with pytest.raises(ValueError, match="never extrapolates"):
        align(th, far, interpolate=True)
    with pytest.raises(ValueError, match="scales differ"):
        align(th, empirical_curve(load_table(sweep_dir), scale="psnr"))


def test_compare_fits_side_by_side(theory_table, sweep_dir, rng):
    th = theory_curve(load_table(theory_table))
    emp = empirical_curve(load_table(sweep_dir))
    rows = compare_fits([th, emp], law="floor", n_boot=30, rng=rng)
    assert [r["law"] for r in rows] == ["FloorPowerLaw", "FloorPowerLaw"]
    for r in rows:
        assert r["exponent"] < 0 and r["exponent_lo"] <= r["exponent"] <= r["exponent_hi"]
    # The theory's fitted floor approaches its true relative floor d/(n(1+σ²)) from above.
    assert rows[0]["floor"] == pytest.approx(10 / (100 * 1.01), rel=0.5)


@pytest.mark.slow
def test_calibration_recovers_the_monte_carlo_twin():
    """Calibrate on a curve from *Monte Carlo* of the linear estimator (not from the formula the
    calibration evaluates) and recover the model that generated it."""
    from theory import Estimator, Problem, SubspaceSignal, expected_risk

    n, d, sigma = 100, 10, 0.5
    Ns = [16, 32, 64, 128, 256]
    (c,) = expected_risk(Problem(SubspaceSignal(n, d), sigma), Ns, [Estimator("gd-oracle", kmax=2000)],
                         method="rao-blackwell", runs=30, rng=np.random.default_rng(5))
    rel = c.mean[:, 0] * d / (sigma**2 * n)
    curve = Curve(np.array(Ns, float), rel, np.zeros(len(Ns)), "relative-input", "mc")
    cal = calibrate(curve, n=n, kmax=2000, max_evals=40)
    assert abs(cal.d_eff - d) <= 2
    # σ is the weaker direction (it moves the floor and the start of the curve a little): 25%, and
    # the reported interval covers the truth.
    assert cal.sigma == pytest.approx(sigma, rel=0.25)
    assert cal.sigma_ci[0] <= sigma <= cal.sigma_ci[1] and cal.d_ci[0] <= d <= cal.d_ci[1]
    assert cal.rms_log_error < 0.05
    assert cal.floor == pytest.approx(d / (n * (1 + sigma**2)), rel=0.25)
    with pytest.raises(ValueError, match="relative-input"):
        calibrate(Curve(curve.N, curve.y, curve.err, "risk", "x"), n=n)
    with pytest.raises(ValueError, match="at least 3"):
        calibrate(curve.at(curve.N[:2]), n=n)


# -------------------------------------------------------------------------------- CLI
def test_fit_command_on_sweep_and_theory(theory_table, sweep_dir, tmp_path, capsys):
    assert cli_main(["fit", str(sweep_dir), "--boot", "20", "--format", "json", "--out", str(tmp_path / "f.json")]) == 0
    res = json.loads((tmp_path / "f.json").read_text())
    laws = {r["law"] for r in res["laws"]}
    assert {"PowerLaw", "FloorPowerLaw", "SaturatingLaw"} <= laws and res["margin"]["unit"] == "dB"
    assert cli_main(["fit", str(theory_table), "--where", "estimator=gd-oracle", "--window", "10,100", "--boot", "20"]) == 0
    out = capsys.readouterr().out
    assert "PowerLaw" in out and "BrokenPowerLaw" in out and "break:" in out
    assert "intervals: 95%, bootstrap over" in out


@pytest.mark.parametrize("y", ["test_psnr", "test_mse"])
def test_fit_on_a_sweep_with_per_image_values_includes_the_test_sample(tmp_path, y):
    """The same runs with and without each test image's values: with them, every refit takes one resample
    of the shared test images (which moves every point at once), so the amplitude's interval widens
    from the seeds' spread to the test sample's; the estimates themselves do not change."""
    images = np.exp(0.8 * np.random.default_rng(3).standard_normal(40))  # 40 test images, very unequal
    res = {}
    for kind in ("with", "without"):
        d = tmp_path / kind
        d.mkdir()
        _fake_ledger(d / "ledger.sqlite", np.random.default_rng(0), Ns=(8, 16, 32, 64, 128, 256),
                     images=images if kind == "with" else None)
        if kind == "without":  # the same runs and test metrics, without the per-image lists
            _fake_ledger_copy_tests(tmp_path / "with" / "ledger.sqlite", d / "ledger.sqlite")
        out = tmp_path / f"{kind}.json"
        assert cli_main(["fit", str(d), "--y", y, "--boot", "60", "--format", "json", "--out", str(out)]) == 0
        res[kind] = json.loads(out.read_text())
    assert "given draws of y" in res["with"]["resampling"] and "draws" not in res["without"]["resampling"]
    amp = {k: next(f for f in r["findings"] if f["quantity"] == "PowerLaw.log10_amplitude") for k, r in res.items()}
    assert amp["with"]["value"] == pytest.approx(amp["without"]["value"], rel=1e-9)
    assert amp["with"]["hi"] - amp["with"]["lo"] > 3 * (amp["without"]["hi"] - amp["without"]["lo"])


def _fake_ledger_copy_tests(src, dst):
    """Give ``dst``'s runs the test metrics of ``src``'s (same run ids), without ``test_per_image``."""
    with sqlite3.connect(src) as a:
        tests = dict(a.execute("SELECT run_id, json_extract(metrics, '$.test') FROM runs").fetchall())
    a.close()
    with sqlite3.connect(dst) as b:
        for rid, t in tests.items():
            b.execute("UPDATE runs SET metrics = json_set(metrics, '$.test', json(?)) WHERE run_id = ?", (t, rid))
    b.close()


@pytest.mark.parametrize("argv,match", [
    (["fit", "MISSING"], "no such file"),
    (["fit", "SWEEP", "--y", "nope"], "column 'nope'"),
    (["fit", "SWEEP", "--window", "5"], "LO,HI"),
    (["fit", "SWEEP", "--where", "N"], "KEY=VALUE"),
    (["fit", "SWEEP", "--boot", "3"], "at least 10"),
    (["plot", "SWEEP", "--figure", "theory", "--out", "OUT/x"], "theory setups"),
    (["compare", "THEORY", "SWEEP", "--estimator", "bogus"], "no rows for estimator"),
])
def test_bad_inputs_one_line_exit_2_nothing_written(argv, match, theory_table, sweep_dir, tmp_path, capsys):
    subst = {"SWEEP": str(sweep_dir), "THEORY": str(theory_table), "MISSING": str(tmp_path / "missing.csv")}
    argv = [subst.get(a, a).replace("OUT", str(tmp_path / "o")) for a in argv]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err, err
    assert not (tmp_path / "o").exists()


def test_plot_and_compare_commands(theory_table, sweep_dir, tmp_path, capsys):
    for fig in ("empirical", "params"):
        assert cli_main(["plot", str(sweep_dir), "--figure", fig, "--out", str(tmp_path / fig), "--boot", "20"]) == 0
        assert (tmp_path / f"{fig}.png").stat().st_size > 1000 and (tmp_path / f"{fig}.pdf").exists()
    assert cli_main(["plot", str(theory_table), "--figure", "theory", "--setup", "2", "--out", str(tmp_path / "f1")]) == 0
    assert (tmp_path / "f1.png").exists()
    assert cli_main(["compare", str(theory_table), str(sweep_dir), "--boot", "20", "--out", str(tmp_path / "cmp")]) == 0
    text = capsys.readouterr().out
    assert "same law, side by side" in text
    res = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [r["N"] for r in res["aligned"]] == [8, 16, 64, 256]
    assert (tmp_path / "cmp" / "fig4_theory_vs_experiment.png").exists()


def test_paper_figures_command(tmp_path, capsys):
    assert cli_main(["paper-figures", "--setups", "2", "--runs", "2", "--kmax", "300", "--out", str(tmp_path),
                     "--quiet"]) == 0
    fits = load_table(tmp_path / "fits.csv")
    assert {r["law"] for r in fits} == {"power", "floor"}
    # the released notebook's windows by default: W^{k_opt} over [8, 24], W_PCA over [10, 44]
    steep = next(r for r in fits if r["law"] == "power" and r["window"] == "8-24" and r["estimator"] == "gd-oracle")
    pca = next(r for r in fits if r["law"] == "power" and r["window"] == "10-44" and r["estimator"] == "pca")
    assert steep["alpha"] < pca["alpha"] < 0  # the early-stopped estimator's law is the steeper one
    floor = next(r for r in fits if r["law"] == "floor")
    assert floor["floor"] == pytest.approx(floor["true_floor"], rel=0.5)
    assert (tmp_path / "fig1_setup2.png").exists() and (tmp_path / "fig1_setup2.pdf").exists()
    assert cli_main(["paper-figures", "--runs", "1", "--out", str(tmp_path / "x")]) == 2
