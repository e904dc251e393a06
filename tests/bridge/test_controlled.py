"""`reconscale controlled`: the theory's risk in the sweep's units, the smoke pipeline end to end
(linear-exact on the theory's W^k_opt curve, every curve above the Bayes floor), bad input."""

import json
import sqlite3

import numpy as np
import pytest

from bridge.controlled import (CURVES, ControlledConfig, controlled_main, floor_pixel_mse, risk_to_pixel_mse,
                               run_controlled)


def test_floor_in_pixel_units_is_the_theory_floor_times_d_over_n():
    from theory import Problem, SubspaceSignal

    pop = Problem(SubspaceSignal(256, 10), 0.1).population(rng=None)
    assert pop.floor == pytest.approx(0.01 / 1.01, rel=1e-12)  # R* = σ²/(1+σ²), normalised by E‖x‖² = d
    assert floor_pixel_mse(0.1, d=10, n=256) == pytest.approx(pop.floor * 10 / 256, rel=1e-12)
    assert risk_to_pixel_mse([1.0, 0.5], d=10, n=256).tolist() == pytest.approx([10 / 256, 5 / 256])


def test_floor_is_the_test_mse_of_exact_Wstar_on_the_sweeps_own_test_sets():
    """W* = UUᵀ/(1+σ²) of each replicate's own U, scored by the path that writes the rows' test_mse
    (same images, ids, fixed noise, evaluate): its mean equals the converted floor within sampling
    error. Per image ‖W*y − x‖² = σ²/(1+σ²)·χ²_d, so the relative sd of one image is √(2/d)."""
    pytest.importorskip("torch")
    from empirical.config import expand, load_config
    from empirical.linear import as_module
    from empirical.plan import load_data, plan
    from empirical.seeds import TEST_NOISE_SEED
    from empirical.train import evaluate

    runs = expand(load_config("subspace-controlled", ['arch="linear-exact"', "N=[16]"]))
    assert sorted(r.data_seed for r in runs) == [0, 1, 2]
    got, inputs = [], []
    for run in runs:
        p = plan(run)
        data = load_data(p, with_train=False)
        U = p.source.basis
        W = U @ U.T / (1.0 + run.sigma**2)
        shape = (1, run.size, run.size)
        kw = {"seed": run.seed + TEST_NOISE_SEED, "ids": data.test_ids, "clamp": False}
        got.append(evaluate(as_module(W, shape, shape), p.task, data.test_x, **kw)["mse"])
        inputs.append(evaluate(as_module(np.eye(run.size**2), shape, shape), p.task, data.test_x, **kw)["mse"])
    floor = floor_pixel_mse(run.sigma, d=run.d, n=run.size**2)
    sd = floor * np.sqrt(2.0 / run.d) / np.sqrt(len(runs) * run.n_test)
    assert abs(np.mean(got) - floor) < 4 * sd, (np.mean(got), floor, sd)
    # the input's own MSE is σ² per pixel (relative sd √(2/(n·n_test)) ≈ 0.2% per replicate)
    assert np.mean(inputs) == pytest.approx(run.sigma**2, rel=0.01)


def test_network_curve_takes_the_best_width_by_validation_not_by_test():
    """The controlled curves come from the one runs-to-curve function; its replicates are data seeds."""
    from bridge.results import runs_curve

    rows = [{"status": "done", "N": 16, "width": w, "data_seed": s, "val_mse": v, "test_mse": t + s}
            for w, v, t in ((8, 1.0, 5.0), (16, 2.0, 0.1)) for s in (0, 1)]
    (r,) = runs_curve(rows, by=())
    assert r["width"] == 8 and r["mse"] == 5.5 and r["mse_sem"] == 0.5 and r["seeds"] == 2


@pytest.mark.slow
def test_controlled_smoke_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "c"
    assert controlled_main(["--smoke", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "floor 0.000387 per pixel" in printed
    r = json.loads((out / "controlled.json").read_text())
    floor = floor_pixel_mse(0.1, d=10, n=256)
    assert r["floor_risk"] * 10 / 256 == pytest.approx(floor, rel=1e-9)  # the theory's own R*, converted
    assert r["floor"] == pytest.approx(floor) and r["setup"] == {"n": 256, "d": 10, "sigma": 0.1,
                                                                  "replicates": [0, 1, 2]}
    by = {(row["curve"], row["N"]): row for row in r["rows"]}
    assert sorted(N for c, N in by if c == "theory") == sorted(N for c, N in by if c == "linear-exact") == [16, 64, 1024]
    assert sorted(N for c, N in by if c == "network") == sorted(N for c, N in by if c == "linear") == [16, 64]
    for row in r["rows"]:
        assert row["ratio_to_floor"] == pytest.approx(row["mse"] / floor)
        assert row["excess_over_floor"] == pytest.approx(row["mse"] - floor)
        assert row["runs"] == (4 if row["curve"] == "theory" else 3) and row["mse_sem"] >= 0
        assert row["ratio_to_floor"] > 0.97, row  # nothing beats the Bayes floor beyond sampling error
    # the closed-form learned linear estimator sits on the theory's W^k_opt curve (validation vs oracle stopping)
    for N in (64, 1024):
        assert by["linear-exact", N]["mse"] == pytest.approx(by["theory", N]["mse"], rel=0.1)
    assert by["linear-exact", 1024]["ratio_to_floor"] < 1.05
    md = (out / "controlled.md").read_text()
    for curve, row in r["largest_N"].items():
        assert f"{CURVES[curve]}**: {row['mse']:.3g}" in md and f"{row['ratio_to_floor']:.2f}× the floor" in md
    for ext in ("png", "pdf"):
        assert (out / f"fig_controlled.{ext}").stat().st_size > 1000
    theory_files = list(out.glob("theory-*.json"))
    assert len(theory_files) == 1
    mtime = theory_files[0].stat().st_mtime_ns

    # Re-running resumes: nothing is trained or computed again, the same rows come back.
    again = run_controlled(out, smoke=True, progress=False)
    assert again["rows"] == r["rows"] and theory_files[0].stat().st_mtime_ns == mtime
    db = sqlite3.connect(out / "sweep" / "ledger.sqlite")
    assert db.execute("SELECT MAX(attempts), COUNT(*) FROM runs").fetchone() == (1, 3 * (2 * 2 + 3))
    db.close()


def test_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path):
    assert controlled_main(["--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("reconscale controlled: error:") and "--bogus" in err
    f = tmp_path / "a-file"
    f.write_text("x")
    assert controlled_main(["--out", str(f), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err
    assert f.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_an_invalid_sweep_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "c"
    with pytest.raises(ValueError, match=r"^reconscale sweep: error: .*n_test"):
        run_controlled(out, cfg=ControlledConfig(overrides=("n_test=-1",)), progress=False)
    assert not out.exists()
