"""Figure 1's fit windows: the released notebook's table (the default) and the rule (``--windows rule``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bridge.cli import main as cli_main
from bridge.figures import RELEASED_WINDOWS, released_windows, rule_windows, window_fits
from bridge.results import load_table
from theory.setups import N_GRIDS, SETUPS

PAPER = Path(__file__).resolve().parents[2].parent / "shared" / "paper.md"


def _paper_windows() -> dict[tuple[int, int, float], dict[str, tuple[float, float]]]:
    text = PAPER.read_text()
    start = text.index("Fit windows of the released notebook")
    section = text[start:text.index("\n## ", start)]
    pat = re.compile(r"\((\d+),(\d+),(\d*\.\d+)\)\s*\[(\d+),(\d+)\]\s*/\s*\[(\d+),(\d+)\]")
    return {(int(d), int(n), float(s)): {"gd-oracle": (float(a), float(b)), "pca": (float(c), float(e))}
            for d, n, s, a, b, c, e in pat.findall(section)}


@pytest.mark.skipif(not PAPER.exists(), reason=f"{PAPER} is not beside the clone (../shared/paper.md)")
def test_released_table_matches_paper_md():
    assert _paper_windows() == RELEASED_WINDOWS


def test_every_paper_setup_has_released_windows():
    for s in SETUPS:
        assert released_windows(s.d, s.n, s.sigma) is not None, s
    assert released_windows(10, 100, 0.3) is None


def _synthetic(d: int = 10, alpha: float = -1.7, beta: float = 3.0) -> dict[str, tuple]:
    N = np.array(N_GRIDS[d], float)
    y = beta * N**alpha
    return {"gd-oracle": (N, y, None), "pca": (N, 2 * y, None)}


def test_released_window_fit_recovers_the_exponent():
    fits, notes = window_fits(_synthetic(), 10, 100, 0.2)
    assert notes == []
    by = {f["estimator"]: f for f in fits}
    assert set(by) == {"gd-oracle", "pca"} and all(f["windows"] == "released" for f in fits)
    assert by["gd-oracle"]["window"] == (8.0, 24.0) and by["gd-oracle"]["window_text"] == "8-24"
    assert by["gd-oracle"]["law"].exponent_ == pytest.approx(-1.7, abs=1e-9)
    assert by["gd-oracle"]["law"].amplitude_ == pytest.approx(3.0, rel=1e-9)
    assert by["pca"]["law"].exponent_ == pytest.approx(-1.7, abs=1e-9)
    assert by["pca"]["law"].amplitude_ == pytest.approx(6.0, rel=1e-9)


def test_off_grid_window_end_uses_the_grid_points_inside_and_says_so():
    fits, _ = window_fits(_synthetic(), 10, 1000, 0.1)
    by = {f["estimator"]: f for f in fits}
    assert by["gd-oracle"]["window_text"] == "18-80 (grid points 18..64)"
    assert by["pca"]["window_text"] == "80-256 (grid points 100..256)"
    assert by["gd-oracle"]["law"].exponent_ == pytest.approx(-1.7, abs=1e-9)


def test_rule_and_fallback_for_a_setup_not_in_the_table():
    curves = _synthetic()
    rule, notes = window_fits(curves, 10, 100, 0.2, windows="rule")
    assert notes == [] and [f["window"] for f in rule] == rule_windows(10, 100, 16384.0)
    assert {f["estimator"] for f in rule} == {"gd-oracle"}
    own, notes = window_fits(curves, 10, 100, 0.3)  # a user's own σ: the rule, with a note
    assert [f["window"] for f in own] == [f["window"] for f in rule]
    assert own[0]["windows"].startswith("rule") and len(notes) == 1 and "not a setup" in notes[0]
    with pytest.raises(ValueError, match="windows must be"):
        window_fits(curves, 10, 100, 0.2, windows="bogus")


def test_paper_figures_windows_option(tmp_path, capsys, monkeypatch):
    # A shorter d = 10 grid (same code path) keeps this in seconds; it holds both released windows.
    monkeypatch.setitem(N_GRIDS, 10, (4, 8, 10, 16, 24, 44, 100, 512, 1024))
    common = ["paper-figures", "--setups", "2", "--runs", "2", "--kmax", "100", "--quiet"]
    assert cli_main([*common, "--out", str(tmp_path / "rel")]) == 0
    fits = load_table(tmp_path / "rel" / "fits.csv")
    power = {(r["estimator"], r["window"]) for r in fits if r["law"] == "power"}
    assert power == {("gd-oracle", "8-24"), ("pca", "10-44")}
    assert all(r["alpha"] < 0 for r in fits if r["law"] == "power")
    assert (tmp_path / "rel" / "fig1_setup2.png").exists()
    assert cli_main([*common, "--windows", "rule", "--out", str(tmp_path / "rule")]) == 0
    fits = load_table(tmp_path / "rule" / "fits.csv")
    power = {(r["estimator"], r["window"]) for r in fits if r["law"] == "power"}
    assert power == {("gd-oracle", "10-100"), ("gd-oracle", "256-1024 (grid points 512..1024)")}
    capsys.readouterr()
    assert cli_main([*common, "--windows", "bogus", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--windows" in err, err
    assert not (tmp_path / "bad").exists()
