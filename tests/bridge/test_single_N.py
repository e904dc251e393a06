"""Sweeps too small for a curve: one N (refused in one line, exit 2, by fit, plot, compare), two N
(every law with as many parameters as distinct N is "not identified", with the reason), and --where
values that match nothing (the message lists the values present). Ledgers are written through
empirical.ledger (no torch, no training)."""

import csv
import io
import json

import numpy as np
import pytest

from bridge.cli import main as cli_main
from empirical.ledger import Ledger, Row
from tests.helpers import cli_one_line

_CONFIG = {"name": "tiny", "task": "denoise", "size": 16, "channels": 1, "arch": "unet", "sigma": 0.1}


def write_sweep(directory, *, Ns, widths=(4, 8), seeds=(0, 1), rng):
    """A sweep directory whose ledger holds done runs: test MSE falling with N and width, lognormal noise."""
    directory.mkdir(parents=True, exist_ok=True)
    with Ledger(directory / "ledger.sqlite") as led:
        for i, (N, w, s) in enumerate((N, w, s) for N in Ns for w in widths for s in seeds):
            mse = (0.002 + 0.01 * N**-0.5 + 0.004 * (w / 4) ** -1.0) * np.exp(0.02 * rng.standard_normal())
            psnr = -10 * np.log10(mse)
            metrics = {"val": {"psnr": psnr, "mse": mse}, "test": {"psnr": psnr, "mse": mse, "ssim": 0.8},
                       "test_input": {"psnr": 20.0, "mse": 0.01}, "conventions": {"data_range": 1.0}}
            led.add("tiny", f"r{i:03d}", {**_CONFIG, "N": N, "width": w, "seed": s})
            led.finish(f"r{i:03d}", Row("done", metrics=metrics, params=100 * w * w, best_step=1, steps=2, wall_s=1.0,
                                        device="cpu"))
    return directory


@pytest.fixture
def one_N(tmp_path, rng):
    return write_sweep(tmp_path / "one", Ns=(8,), rng=rng)


@pytest.fixture(scope="module")
def theory_table(tmp_path_factory):
    from theory.setups import SETUPS, run_setups

    out = tmp_path_factory.mktemp("theory") / "setup2.csv"
    run_setups([SETUPS[1]], out=out, runs=2, kmax=100, progress=False)
    return out


@pytest.mark.parametrize("argv", [
    ["fit", "SWEEP"],
    ["fit", "SWEEP", "--all-widths"],
    ["plot", "SWEEP", "--figure", "empirical", "--out", "OUT/fig"],
    ["compare", "THEORY", "SWEEP", "--out", "OUT"],
])
def test_one_N_is_refused_in_one_line(argv, one_N, theory_table, tmp_path, capsys):
    subst = {"SWEEP": str(one_N), "THEORY": str(theory_table)}
    argv = [subst.get(a, a).replace("OUT", str(tmp_path / "o")) for a in argv]
    cli_one_line(cli_main(argv), capsys.readouterr().err, "need at least 2 distinct N", "only N = 8",
                 "widen the sweep's N", out=tmp_path / "o")


def test_where_that_keeps_one_N_is_refused(tmp_path, rng, capsys):
    sweep = write_sweep(tmp_path / "two", Ns=(8, 64), rng=rng)
    err = cli_one_line(cli_main(["fit", str(sweep), "--where", "N=8"]), capsys.readouterr().err,
                       "need at least 2 distinct N", "only N = 8")
    assert "--where" in err


def test_results_select_keeps_the_N_column_of_one_N(one_N, capsys):
    assert cli_main(["results", str(one_N), "--select"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["N"] == "8" and rows[0]["width"] == "8"


def test_where_matching_nothing_names_the_values_present(tmp_path, rng, capsys):
    sweep = write_sweep(tmp_path / "two", Ns=(8, 64), rng=rng)
    out = tmp_path / "o"
    code = cli_main(["plot", str(sweep), "--where", "width=99", "--figure", "empirical", "--out", str(out / "f")])
    cli_one_line(code, capsys.readouterr().err, "no runs match width=99", "4, 8", out=out)
    code = cli_main(["fit", str(sweep), "--where", "optimizer=adam"])
    cli_one_line(code, capsys.readouterr().err, "no runs match optimizer=adam", "no column 'optimizer'")


def _fit_json(sweep, tmp_path):
    out = tmp_path / "fit.json"
    assert cli_main(["fit", str(sweep), "--boot", "20", "--format", "json", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_as_many_parameters_as_N_is_not_identified(tmp_path, rng, capsys):
    # one seed and one width at 2 N: β N^α passes through both points (zero-width interval, AIC −∞ before)
    res = _fit_json(write_sweep(tmp_path / "two", Ns=(8, 64), widths=(4,), seeds=(0,), rng=rng), tmp_path)
    assert res["laws"] and not any(r["identified"] for r in res["laws"])
    power = next(r for r in res["laws"] if r["law"] == "PowerLaw")
    assert "2 distinct N for the 2 parameters of PowerLaw" in power["reason"] and "at least 3" in power["reason"]
    assert not any(f["identified"] for f in res["findings"])
    assert all(r.get("aic") is None or np.isfinite(r["aic"]) for r in res["laws"])
    # 3 N: β N^α (2 parameters) is identified, the 3-parameter laws are not
    res = _fit_json(write_sweep(tmp_path / "three", Ns=(8, 64, 512), widths=(4,), seeds=(0, 1), rng=rng), tmp_path)
    by = {r["law"]: r for r in res["laws"]}
    assert not by["FloorPowerLaw"]["identified"] and "need at least 4 distinct N" in by["FloorPowerLaw"]["reason"]
    assert not by["SaturatingLaw"]["identified"]
    assert "exponent" in by["PowerLaw"]
    capsys.readouterr()
    assert cli_main(["fit", str(tmp_path / "three"), "--boot", "20"]) == 0
    assert "FloorPowerLaw: not identified: 3 distinct N for the 3 parameters" in capsys.readouterr().out


def test_extra_examples_needs_more_N_than_parameters(rng):
    from bridge.extra import extra_examples

    N = np.repeat([100.0, 1000.0, 1e4], 3)
    y = 0.002 + 0.05 * N**-0.7 * np.exp(0.02 * rng.standard_normal(N.size))
    rows = extra_examples(N, y, N, 1.5 * y, law="floor", n_boot=20, rng=rng)
    assert rows and all(not r["identified"] and "3 distinct N for the 3 parameters" in r["reason"] for r in rows)


def test_six_N_do_not_identify_the_six_parameter_break(tmp_path, rng):
    res = _fit_json(write_sweep(tmp_path / "six", Ns=(8, 16, 32, 64, 128, 256), widths=(4,), rng=rng), tmp_path)
    broken = next(r for r in res["laws"] if r["law"] == "BrokenPowerLaw")
    assert not broken["identified"] and "6 distinct N for the 6 parameters" in broken["reason"]
    assert not res["break"]["identified"] and "need at least 7 distinct N" in res["break"]["reason"]
    assert not any(f["identified"] for f in res["findings"] if f.get("law") == "BrokenPowerLaw")


def test_compare_reports_an_exact_fit_as_not_identified(tmp_path, rng, theory_table, capsys):
    sweep = write_sweep(tmp_path / "three", Ns=(8, 64, 512), rng=rng)
    out = tmp_path / "cmp"
    assert cli_main(["compare", str(theory_table), str(sweep), "--boot", "20", "--out", str(out)]) == 0
    assert "not identified: 3 distinct N for the 3 parameters of FloorPowerLaw" in capsys.readouterr().out
    fits = json.loads((out / "compare.json").read_text())["fits"]
    exp = next(r for r in fits if r["curve"].startswith("experiment"))
    assert exp["fit"] == "not fitted" and not exp["identified"] and "need at least 4 distinct N" in exp["reason"]
