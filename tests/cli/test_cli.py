"""The `reconscale theory` contract: record schema, formats, files, bad input, resumable setups."""

import csv
import errno
import importlib.metadata
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bridge.cli import COMMANDS
from bridge.cli import main as cli_main
from theory import setups as setups_mod

ROOT = Path(__file__).resolve().parents[2]

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


def _api_records(signal, op):
    """What the library gives for the curve the CLI test below asks for (same seed, grid, estimators)."""
    from theory.curves import expected_risk, to_records
    from theory.montecarlo import Estimator
    from theory.problem import Problem

    problem = Problem(signal, 0.1, op)
    curves = expected_risk(problem, [20], [Estimator("gd-oracle", kmax=100), Estimator("optimal")], runs=3,
                           rng=np.random.default_rng(0))
    return json.loads(json.dumps(to_records(curves, problem)))


def test_operators_and_signals_from_cli(capsys):
    from theory.operators import make_operator
    from theory.signals import SpectralSignal, SubspaceSignal

    cases = [
        ([], SubspaceSignal(16, 3), None),
        (["--operator", "mri", "--accel", "2", "--center-fraction", "0.25"], SubspaceSignal(16, 3),
         make_operator("mri", (4, 4), accel=2, center_fraction=0.25, mask="equispaced", seed=0)),
        (["--operator", "sr", "--scale", "2"], SubspaceSignal(16, 3), make_operator("sr", (4, 4), scale=2)),
        (["--signal", "powerlaw", "--alpha", "1.5"], SpectralSignal.powerlaw(16, 1.5, basis="identity"), None),
    ]
    risks = []
    for extra, signal, op in cases:
        code, out, err = run(capsys, "curve", "--n", "16", "--d", "3", "--N", "20", "--estimator", "gd-oracle,optimal",
                             "--runs", "3", "--kmax", "100", "--quiet", *extra)
        assert code == 0, err
        rows = json.loads(out)
        # the flags reach the problem: the records are the library's for that operator/signal, exactly
        assert rows == _api_records(signal, op), extra
        risks.append(tuple(r["risk_mean"] for r in rows))
    assert len(set(risks)) == len(cases)  # mri, sr and the power law each change the curve


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
    # exactly the library's table for the same arguments, and no resume parts left next to it
    api = setups_mod.run_setups(setups_mod.parse_setups("3"), out=tmp_path / "api.json", runs=2, kmax=30, fmt="json",
                                progress=False)
    assert out_file.read_text() == api.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.json", "s.json"]
    code = cli_main(["theory", "setups", "--setups", "9", "--quiet", "--out", str(tmp_path / "x.csv")])
    _, err = capsys.readouterr()
    assert code == 2 and "--setups" in err and not (tmp_path / "x.csv").exists()


def test_paper_setups_table():
    assert [(s.d, s.n, s.sigma) for s in setups_mod.SETUPS] == [
        (10, 100, 0.05), (10, 100, 0.1), (10, 100, 0.2), (10, 1000, 0.05), (10, 1000, 0.1), (10, 10000, 0.1),
        (50, 1000, 0.1), (100, 1000, 0.1)]
    assert setups_mod.N_GRIDS[10][:3] == (1, 2, 4) and setups_mod.N_GRIDS[100][-1] == 16384
    assert all(s.N == setups_mod.N_GRIDS[s.d] for s in setups_mod.SETUPS)


# ------------------------------------------------------------------------------ the root command
def test_version(capsys):
    assert cli_main(["--version"]) == 0
    out, err = capsys.readouterr()
    assert out == f"reconscale {importlib.metadata.version('reconscale')}\n" and err == ""


def test_version_falls_back_to_pyproject(monkeypatch):
    from bridge import cli

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    import re

    expected = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    assert cli.version() == expected


def test_python_m_bridge_is_the_console_script():
    exe = [sys.executable, "-m", "bridge"]
    v = subprocess.run([*exe, "--version"], capture_output=True, text=True, cwd=ROOT)
    assert v.returncode == 0 and v.stdout == f"reconscale {importlib.metadata.version('reconscale')}\n"
    bad = subprocess.run([*exe, "theory", "curve", "--sigma", "-2"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1 and "--sigma" in bad.stderr
    bare = subprocess.run(exe, capture_output=True, text=True, cwd=ROOT)
    assert bare.returncode == 2 and bare.stderr.startswith("usage: reconscale")


def test_root_usage_help_and_unknown_command(capsys):
    assert cli_main([]) == 2  # bare `reconscale`: the usage, as an error
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: reconscale") and all(f"  {name} " in err for name in COMMANDS)
    assert cli_main(["--help"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("usage: reconscale") and all(f"  {name} " in out for name in COMMANDS)
    assert "--version" in out
    assert cli_main(["frobnicate", "--n", "3"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "unknown command 'frobnicate'" in err and "theory" in err


def test_command_flags_pass_through_untouched(capsys):
    """Everything after the command is the command's, even flags the root parser also has."""
    try:
        code = cli_main(["theory", "curve", "--help"])
    except SystemExit as e:  # argparse's --help action exits
        code = e.code
    assert code == 0
    assert capsys.readouterr().out.startswith("usage: reconscale theory curve")
    assert cli_main(["theory", "curve", "--version"]) == 2  # not the root's --version
    assert "unrecognized arguments: --version" in capsys.readouterr().err


def test_theory_command_never_loads_torch_or_matplotlib():
    code = ("import sys\nfrom bridge.cli import main\n"
            "assert main(['theory', 'curve', '--n', '9', '--d', '2', '--N', '5', '--estimator', 'ols', '--runs', '2', "
            "'--quiet']) == 0\nprint([m for m in ('torch', 'matplotlib', 'empirical') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


# ---------------------------------------------------------------------------------------- files
@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _power_table(tmp_path) -> Path:
    """A small theory-style table (N, run, risk) that `reconscale fit` accepts."""
    rng = np.random.default_rng(0)
    rows = [{"N": N, "run": r, "risk": 0.01 + N ** -0.5 * np.exp(0.02 * rng.standard_normal())}
            for N in (4, 8, 16, 32, 64, 128, 256, 512) for r in range(2)]
    path = tmp_path / "table.json"
    path.write_text(json.dumps(rows))
    return path


def test_written_files_respect_the_umask(capsys, monkeypatch, tmp_path, umask_022):
    """Tables, text and figures get 0666 less the umask, as `open` gives (not mkstemp's 0600)."""
    _small_setups(monkeypatch)
    table = _power_table(tmp_path)
    out = tmp_path / "out"
    assert run(capsys, "curve", "--n", "20", "--d", "2", "--N", "10", "--estimator", "ols", "--runs", "2", "--quiet",
               "--out", str(out / "curve.json"))[0] == 0
    assert cli_main(["theory", "setups", "--setups", "3", "--runs", "2", "--kmax", "30", "--quiet",
                     "--out", str(out / "setups.csv")]) == 0
    assert cli_main(["fit", str(table), "--boot", "10", "--format", "json", "--out", str(out / "fit.json")]) == 0
    assert cli_main(["plot", str(out / "setups.csv"), "--figure", "theory", "--setup", "3",
                     "--out", str(out / "fig")]) == 0
    capsys.readouterr()
    written = sorted(p.name for p in out.iterdir())
    assert written == ["curve.json", "fig.pdf", "fig.png", "fit.json", "setups.csv"]  # and no temp files
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in out.iterdir()} == {n: "0o644" for n in written}


@pytest.mark.parametrize("cmd", ["curve", "setups", "fit", "plot"])
def test_unwritable_out_one_line_exit_1(cmd, capsys, monkeypatch, tmp_path):
    """--out under a regular file (ENOTDIR; permissions cannot be used: tests may run as root)."""
    _small_setups(monkeypatch)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    target = blocker / "sub" / "x.json"
    table = tmp_path / "t.csv"
    if cmd == "curve":
        argv = ["theory", "curve", "--n", "20", "--d", "2", "--N", "10", "--estimator", "ols", "--runs", "2", "--quiet",
                "--out", str(target)]
    elif cmd == "setups":
        argv = ["theory", "setups", "--setups", "3", "--runs", "2", "--kmax", "30", "--quiet", "--out", str(target)]
    elif cmd == "fit":
        table = _power_table(tmp_path)
        argv = ["fit", str(table), "--boot", "10", "--format", "json", "--out", str(target)]
    else:  # ≥ 2 grid points inside each released fit window, so figure 1 prints no skip notes
        monkeypatch.setitem(setups_mod.N_GRIDS, 10, (2, 10, 20, 24, 150))
        setups_mod.run_setups(setups_mod.parse_setups("3"), out=table, runs=2, kmax=30, progress=False)
        argv = ["plot", str(table), "--figure", "theory", "--setup", "3", "--out", str(blocker / "sub" / "fig")]
    before = sorted(tmp_path.iterdir())
    code = cli_main(argv)
    out, err = capsys.readouterr()
    assert code == 1, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("reconscale ") and "cannot write" in err and str(blocker) in err
    assert sorted(tmp_path.iterdir()) == before and blocker.read_text() == ""


def test_disk_full_mid_write_keeps_the_old_file_and_no_temp(capsys, monkeypatch, tmp_path):
    out_file = tmp_path / "c.json"
    out_file.write_text("old\n")
    real_replace = os.replace

    def disk_full(src, dst, *args, **kwargs):
        if Path(dst) == out_file:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", disk_full)
    code, out, err = run(capsys, "curve", "--n", "20", "--d", "2", "--N", "10", "--estimator", "ols", "--runs", "2",
                         "--quiet", "--out", str(out_file))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err and "free some space" in err and str(out_file) in err
    assert out_file.read_text() == "old\n" and list(tmp_path.iterdir()) == [out_file]
