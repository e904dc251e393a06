"""The `reconscale theory` contract: record schema, formats, files, bad input, resumable setups."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bridge.cli import main as cli_main
from theory import setups as setups_mod

REQUIRED = {"n", "d", "sigma", "N", "estimator", "k", "risk_mean", "risk_sem", "runs", "method", "floor"}


def run(capsys, *args):
    code = cli_main(["theory", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_curve_json_schema(capsys):
    code, out, err = run(capsys, "curve", "--n", "30", "--d", "3", "--sigma", "0.1", "--N", "8,40", "--estimator",
                         "gd-oracle,ols,pca,optimal,gd,ridge", "--k", "1,10", "--lam", "0.5", "--runs", "4",
                         "--kmax", "200", "--seed", "0", "--format", "json", "--quiet")
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list)
    # one record per (N, estimator, k): 2 N × (4 single + 2 gd k + 1 ridge λ)
    assert len(rows) == 2 * 7
    for r in rows:
        assert REQUIRED <= r.keys()
        assert r["runs"] == 4 and r["method"] == "montecarlo" and r["n"] == 30
        assert r["risk_mean"] >= r["floor"] - 1e-12
    oracle = [r for r in rows if r["estimator"] == "gd-oracle"]
    assert all("k_opt_mean" in r and 0 <= r["k_opt_mean"] <= 200 for r in oracle)
    assert sorted(r["k"] for r in rows if r["estimator"] == "gd") == [1, 1, 10, 10]
    assert abs(rows[-1]["floor"] - 0.01 / 1.01) < 1e-12


def test_curve_csv_and_out_file(capsys, tmp_path):
    out_file = tmp_path / "c.csv"
    code, out, _ = run(capsys, "curve", "--n", "20", "--d", "2", "--N", "10", "--estimator", "ols,optimal",
                       "--runs", "3", "--format", "csv", "--out", str(out_file), "--quiet")
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert len(rows) == 2 and REQUIRED <= rows[0].keys()


@pytest.mark.parametrize("method", ["rao-blackwell", "asymptotic", "large-n"])
def test_curve_methods(capsys, method):
    code, out, _ = run(capsys, "curve", "--n", "50", "--d", "5", "--N", "200", "--estimator", "gd-oracle,ols,optimal",
                       "--method", method, "--runs", "4", "--kmax", "300", "--quiet")
    assert code == 0
    rows = json.loads(out)
    assert {r["method"] for r in rows} == {method}


def test_operators_and_signals_from_cli(capsys):
    for extra in (["--operator", "mri", "--accel", "2", "--center-fraction", "0.25"], ["--operator", "sr", "--scale", "2"],
                  ["--signal", "powerlaw", "--alpha", "1.5"]):
        code, out, err = run(capsys, "curve", "--n", "16", "--d", "3", "--N", "20", "--estimator", "gd-oracle,optimal",
                             "--runs", "3", "--kmax", "100", "--quiet", *extra)
        assert code == 0, err
        rows = json.loads(out)
        assert rows[0]["operator"] in ("denoise", "mri", "sr")


BAD = [
    (["--d", "100", "--n", "100"], "--d"),
    (["--sigma", "-1"], "--sigma"),
    (["--N", "0,5"], "--N"),
    (["--N", "8,,x"], "--N"),
    (["--estimator", "foo"], "--estimator"),
    (["--estimator", "gd"], "--k"),
    (["--estimator", "ridge"], "--lam"),
    (["--lr", "5"], "--lr"),
    (["--lr", "fast"], "--lr"),
    (["--runs", "0"], "--runs"),
    (["--operator", "mri", "--n", "99"], "--shape"),
    (["--operator", "sr", "--scale", "3"], "scale"),
    (["--method", "asymptotic", "--estimator", "pca"], "pca"),
    (["--method", "nope"], "--method"),
]


@pytest.mark.parametrize("args,flag", BAD)
def test_bad_input_one_line_exit_2(capsys, tmp_path, args, flag):
    out_file = tmp_path / "never.json"
    code, out, err = run(capsys, "curve", *args, "--runs", "3", "--quiet", "--out", str(out_file)) if "--runs" not in args \
        else run(capsys, "curve", *args, "--quiet", "--out", str(out_file))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and flag in err and "Traceback" not in err
    assert not out_file.exists() and list(tmp_path.iterdir()) == []


def test_console_script_exit_codes():
    exe = [sys.executable, "-m", "bridge.cli"]
    bad = subprocess.run([*exe, "theory", "curve", "--sigma", "-2"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == "" and len(bad.stderr.strip().splitlines()) == 1
    unknown = subprocess.run([*exe, "frobnicate"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr


def _small_setups(monkeypatch):
    """Shrink the N grids so the runner's logic is tested in seconds (same code path)."""
    monkeypatch.setitem(setups_mod.N_GRIDS, 10, (2, 20, 150))


def test_setups_table_and_resume_after_interrupt(monkeypatch, tmp_path):
    _small_setups(monkeypatch)
    chosen = setups_mod.parse_setups("1-2")
    ref = setups_mod.run_setups(chosen, out=tmp_path / "ref.csv", runs=2, kmax=60, progress=False)
    calls = []

    def interrupt(s, N):
        calls.append((s.id, N))
        if len(calls) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        setups_mod.run_setups(chosen, out=tmp_path / "t.csv", runs=2, kmax=60, progress=False, on_block=interrupt)
    assert not (tmp_path / "t.csv").exists()  # nothing half-written
    parts = list((tmp_path / "t.csv.parts").rglob("*.json"))
    assert len(parts) == 4
    computed = []
    monkeypatch.setattr(setups_mod, "setup_rows", lambda *a, **k: computed.append(a) or _orig(*a, **k))
    setups_mod.run_setups(chosen, out=tmp_path / "t.csv", runs=2, kmax=60, progress=False)
    assert len(computed) == 2  # only the unfinished blocks were computed
    assert (tmp_path / "t.csv").read_text() == ref.read_text()
    assert not (tmp_path / "t.csv.parts").exists()
    rows = list(csv.DictReader(io.StringIO(ref.read_text())))
    assert {r["estimator"] for r in rows} == {"optimal", "pca", "ols", "gd-oracle", "gd"}
    assert {int(r["setup"]) for r in rows} == {1, 2}
    assert len({r["run"] for r in rows}) == 2


_orig = setups_mod.setup_rows


def test_setups_cli(capsys, monkeypatch, tmp_path):
    _small_setups(monkeypatch)
    out_file = tmp_path / "s.json"
    code = cli_main(["theory", "setups", "--setups", "3", "--runs", "2", "--kmax", "30", "--format", "json",
                     "--out", str(out_file), "--quiet"])
    assert code == 0
    rows = json.loads(out_file.read_text())
    assert {r["setup"] for r in rows} == {3} and {r["N"] for r in rows} == {2, 20, 150}
    assert np.isclose(rows[0]["sigma"], 0.2)
    code = cli_main(["theory", "setups", "--setups", "9", "--quiet", "--out", str(tmp_path / "x.csv")])
    _, err = capsys.readouterr()
    assert code == 2 and "--setups" in err and not (tmp_path / "x.csv").exists()


def test_paper_setups_table():
    assert [(s.d, s.n, s.sigma) for s in setups_mod.SETUPS] == [
        (10, 100, 0.05), (10, 100, 0.1), (10, 100, 0.2), (10, 1000, 0.05), (10, 1000, 0.1), (10, 10000, 0.1),
        (50, 1000, 0.1), (100, 1000, 0.1)]
    assert setups_mod.N_GRIDS[10][:3] == (1, 2, 4) and setups_mod.N_GRIDS[100][-1] == 16384
    assert Path(setups_mod.__file__).exists()
