"""`reconscale demo` end to end in its smoke mode (same code path as the full demo, tiny grid),
and its resume: a second run reuses every finished stage."""

import json
import sqlite3

import pytest

pytest.importorskip("torch")

from bridge.cli import main as cli_main  # noqa: E402


@pytest.mark.slow
def test_demo_smoke_runs_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli_main(["demo", "--smoke", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "baselines:" in printed and "calibrated theory" in printed and "report: report.md" in printed
    s = json.loads((out / "summary.json").read_text())
    assert [r["N"] for r in s["per_N"]] == [4, 8, 16, 32]
    assert {"input", "wavelet", "tv"} <= set(s["baselines"])
    assert {r["law"] for r in s["fits"]["laws"]} >= {"PowerLaw", "FloorPowerLaw", "SaturatingLaw"}
    assert s["calibration"]["d_lo"] <= s["calibration"]["d_eff"] <= s["calibration"]["d_hi"]
    assert len(s["gains"]) == 4 and {g["better"] for g in s["gains"]} <= {"data", "model", "tie"}
    for stem in ("fig2_psnr_vs_N", "fig3_psnr_vs_params", "fig4_theory_vs_experiment"):
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "## Fitted laws" in report and "calibrated" in report and "d_eff" in report
    stages = sorted(p.name for p in out.glob("*.json"))
    mtimes = {p: (out / p).stat().st_mtime_ns for p in stages}

    # Re-running resumes: no run is trained again, the cached stages are reused unchanged.
    assert cli_main(["demo", "--smoke", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    db = sqlite3.connect(out / "sweep" / "ledger.sqlite")
    assert db.execute("SELECT MAX(attempts), COUNT(*) FROM runs").fetchone() == (1, 16)
    db.close()
    for p in stages:
        if p != "summary.json":
            assert (out / p).stat().st_mtime_ns == mtimes[p], p
    assert json.loads((out / "summary.json").read_text())["fits"] == s["fits"]


def test_demo_bad_input_is_one_line(capsys, tmp_path):
    assert cli_main(["demo", "--boot", "2", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--boot" in err
    assert not (tmp_path / "d").exists()
