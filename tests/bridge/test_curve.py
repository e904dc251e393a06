"""bridge.results.runs_curve, the one function that turns runs into a curve (best width per N by
validation, mean and SEM of the test MSE and PSNR), and mse_to_psnr as the one PSNR formula."""

import re
from pathlib import Path

import numpy as np
import pytest

import bridge
from bridge.extra import compare_targets
from bridge.results import CURVE_COLUMNS, require_distinct_N, runs_curve
from bridge.uncertainty import mse_to_psnr
from tests.helpers import raises_one_line


def _run(N, width, seed, val, test, **extra):
    return {"status": "done", "N": N, "width": width, "seed": seed, "val_mse": val, "test_mse": test,
            "val_psnr": float(mse_to_psnr(val)), "test_psnr": float(mse_to_psnr(test)), **extra}


def test_best_width_by_validation_and_seed_statistics():
    runs = [_run(16, 4, s, 0.02, 0.021 + 0.001 * s) for s in (0, 1)] + [_run(16, 8, s, 0.03, 0.001) for s in (0, 1)]
    runs += [_run(64, 8, 0, 0.01, 0.01), {"status": "failed", "N": 64, "width": 4, "seed": 0}]
    rows = runs_curve(runs)
    assert [(r["N"], r["width"], r["seeds"]) for r in rows] == [(16, 4, 2), (64, 8, 1)]
    p = mse_to_psnr([0.021, 0.022])
    assert rows[0]["mse"] == pytest.approx(0.0215) and rows[0]["psnr"] == pytest.approx(p.mean())
    assert rows[0]["psnr_sem"] == pytest.approx(p.std(ddof=1) / np.sqrt(2))
    assert rows[1]["mse_sem"] == rows[1]["psnr_sem"] == 0.0
    assert all(set(CURVE_COLUMNS) <= r.keys() for r in rows)


def test_selection_metric_and_axes():
    # by validation PSNR the mean of per-seed PSNR decides; it can differ from the mean MSE's choice
    runs = [_run(8, 4, 0, 0.010, 0.011), _run(8, 4, 1, 0.030, 0.031), _run(8, 8, 0, 0.019, 0.02),
            _run(8, 8, 1, 0.019, 0.02)]
    assert runs_curve(runs)[0]["width"] == 8  # mean val MSE 0.019 < 0.020
    assert runs_curve(runs, metric="psnr")[0]["width"] == 4  # mean val PSNR 17.5 > 17.2
    two = [{**r, "arch": a} for a in ("unet", "dncnn") for r in runs]
    assert [(r["arch"], r["N"]) for r in runs_curve(two)] == [("dncnn", 8), ("unet", 8)]
    assert len(runs_curve(two, by=())) == 1


def test_one_N_has_its_N_column_and_curves_need_two():
    rows = runs_curve([_run(8, 4, 0, 0.01, 0.01, sigma=0.1)])
    assert rows[0]["N"] == 8
    raises_one_line(lambda: require_distinct_N([8, 8], what="a fit"), "need at least 2 distinct N for a fit")
    assert list(require_distinct_N([64, 8, 8], what="a fit")) == [8, 64]
    raises_one_line(lambda: runs_curve([{"status": "failed"}]), "no finished runs")
    raises_one_line(lambda: runs_curve([_run(8, 4, 0, 0.01, 0.01)], metric="ssim"), "metric 'ssim'")


def test_self_supervised_curves_are_runs_curves():
    runs = [_run(N, w, s, 0.01 * N**-0.3 * w**-0.1, 0.01 * N**-0.3 * (1 + 0.01 * s), target=t)
            for t in ("clean", "noisy") for N in (16, 64, 256, 1024) for w in (4, 8) for s in (0, 1)]
    res = compare_targets(runs, n_boot=10, rng=np.random.default_rng(0))
    for t in ("clean", "noisy"):
        want = runs_curve([r for r in runs if r["target"] == t], by=())
        got = [r for r in res["curves"] if r["target"] == t]
        assert got == [{"family": "network", "target": t, **{k: w[k] for k in CURVE_COLUMNS}} for w in want]


def test_one_psnr_formula_in_bridge():
    """PSNR from an MSE is written once (bridge.uncertainty.mse_to_psnr); no inline -10 log10(mse)."""
    inline = re.compile(r"-\s*10(\.0)?\s*\*\s*(np|math)\.log10")
    root = Path(bridge.__file__).parent
    offenders = [f"{p.name}:{i}" for p in sorted(root.glob("*.py"))
                 for i, line in enumerate(p.read_text().splitlines(), 1) if inline.search(line)]
    assert not offenders, offenders


def test_selfsup_is_merged_into_extra():
    import importlib

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("bridge.selfsup")
    assert bridge.compare_targets is compare_targets
