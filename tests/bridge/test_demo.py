"""`reconscale demo` end to end in its smoke mode (same code path as the full demo, tiny grid),
its interface (summary.json's curves and findings), and its resume: a second run reuses every
finished stage."""

import json
import sqlite3

import pytest

pytest.importorskip("torch")

from bridge.cli import main as cli_main  # noqa: E402
from bridge.demo import SMOKE  # noqa: E402


@pytest.mark.slow
def test_demo_smoke_runs_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli_main(["demo", "--smoke", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "baselines (dB):" in printed and "linear floor" in printed and "report: report.md" in printed
    s = json.loads((out / "summary.json").read_text())
    # the interface others script against
    assert {"theory", "linear", "network"} == {r["curve"] for r in s["curves"]}
    for r in s["curves"]:
        assert {"curve", "N", "psnr", "psnr_sem", "mse"} <= set(r) and r["mse"] > 0
    assert sorted(r["N"] for r in s["curves"] if r["curve"] == "linear") == list(SMOKE.N_linear)
    assert sorted(r["N"] for r in s["curves"] if r["curve"] == "network") == list(SMOKE.N_network)
    for f in s["findings"]:
        assert set(f) == {"quantity", "value", "lo", "hi", "identified", "reason"}
        if not f["identified"]:
            assert f["reason"]  # an unidentified quantity always says why
    # nothing unidentified is printed as a number
    for f in s["findings"]:
        if not f["identified"] and not f["quantity"].startswith("network fit:"):
            assert f"{f['quantity']}: not identified" in printed
    assert {"input", "wavelet", "tv"} <= set(s["baselines"])  # bm3d is skipped at 8×8 (its block size)
    th = [r for r in s["theory"]]
    assert all(t["floor_P_on_Q"] <= t["mse"] * (1 + 1e-9) for t in th)
    for stem in ("fig_three_curves", "fig2_network_psnr_vs_N"):
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "## Findings" in report and "## Not identified by these data" in report
    # the law fits' intervals include the test crops: refit b on resample b of them
    assert "given draws of y" in s["fits"]["resampling"] and "fits' intervals include the test crops" in report
    stages = sorted(p.name for p in out.glob("*.json")) + ["spectrum.npz"]
    mtimes = {p: (out / p).stat().st_mtime_ns for p in stages}

    # Re-running resumes: no run is trained again, the cached stages are reused unchanged.
    assert cli_main(["demo", "--smoke", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    for sweep, count in (("linear", len(SMOKE.N_linear) * 2), ("network", len(SMOKE.N_network) * 2 * 2)):
        db = sqlite3.connect(out / sweep / "ledger.sqlite")
        assert db.execute("SELECT MAX(attempts), COUNT(*) FROM runs").fetchone() == (1, count)
        db.close()
    for p in stages:
        if p != "summary.json":
            assert (out / p).stat().st_mtime_ns == mtimes[p], p
    assert json.loads((out / "summary.json").read_text())["curves"] == s["curves"]

    # The self-supervised mode in the same directory: noisy targets join both sweeps; the clean networks
    # of the other training-noise protocol are kept apart; the report gains its section.
    assert cli_main(["demo", "--smoke", "--self-supervised", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    ss = json.loads((out / "summary.json").read_text())["selfsup"]
    assert {(r["family"], r["target"]) for r in ss["curves"]} == {(f, t) for f in ("theory", "linear", "network")
                                                                  for t in ("clean", "noisy")}
    net_clean = [r for r in ss["curves"] if r["family"] == "network" and r["target"] == "clean"]
    assert all(r["seeds"] == len(SMOKE.seeds) for r in net_clean)  # not mixed with the fresh-noise runs
    th = {(r["target"], r["N"]): r["mse"] for r in ss["curves"] if r["family"] == "theory"}
    assert all(th[("noisy", N)] > th[("clean", N)] for (t, N) in th if t == "clean")  # noisy targets cost
    for r in ss["extra"]:
        assert {"family", "target", "N", "factor", "lo", "hi", "identified", "reason"} <= set(r)
        assert r["identified"] == (r["factor"] is not None) and (r["identified"] or r["reason"])
        if r["identified"]:
            assert r["lo"] <= r["factor"] <= r["hi"]
    assert any(r["identified"] and r["factor"] > 1 for r in ss["extra"] if r["family"] == "theory")
    assert "## Training without clean targets" in (out / "report.md").read_text()
    assert (out / "figures" / "fig_selfsup.png").stat().st_size > 1000


def test_demo_bad_input_is_one_line(capsys, tmp_path):
    assert cli_main(["demo", "--boot", "2", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--boot" in err
    assert not (tmp_path / "d").exists()
    assert cli_main(["demo", "--boot", "5000", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--boot 5000" in err and "1000" in err
    assert not (tmp_path / "d").exists()
