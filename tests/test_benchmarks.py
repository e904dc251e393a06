"""Smoke tests of the benchmark scripts, each in its ``--quick`` mode: each runs as a user runs it
(a subprocess), exits 0, and reports finite numbers in its ``--json`` file that agree with what they
claim (ratios are the ratios of the reported times, counts match a count written out here)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench(script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)


def _finite_pos(v: object) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def test_montecarlo_gpu_quick(tmp_path):
    out = tmp_path / "mc.json"
    r = _bench("montecarlo_gpu.py", "--quick", "--json", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["quick"] and res["setup"]["n"] < 10000
    assert [row["N"] for row in res["rows"]] == res["N"] and len(res["N"]) == 3
    assert res["memory_estimate_bytes"] > 0
    for row in res["rows"]:
        col = row["columns"]["numpy"]
        assert _finite_pos(col["s"])
        assert all(math.isfinite(v) and v >= 0 for v in col["parts_s"].values())
        assert sum(col["parts_s"].values()) <= col["s"] * (1 + 1e-9)
        # risks are ≥ the floor σ²/(1+σ²) and finite
        floor = res["setup"]["sigma"] ** 2 / (1 + res["setup"]["sigma"] ** 2)
        assert all(math.isfinite(v) and v >= floor * (1 - 1e-9) for v in row["mean_risk_numpy"].values())
    assert _finite_pos(res["total_numpy_s"])
    if res["gpu"]:
        assert _finite_pos(res["ratio"]) and math.isfinite(res["max_rel_diff"]) and res["agree"]
    else:
        assert res["ratio"] is None and "cupy figure pending: no CUDA device" in r.stdout


def test_montecarlo_gpu_refuses_what_memory_cannot_hold():
    r = _bench("montecarlo_gpu.py", "--N", "100000000", timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "GiB" in lines[0] and "--N" in lines[0]


@pytest.mark.slow
def test_sweep_packing_quick(tmp_path):
    out = tmp_path / "packing.json"
    r = _bench("sweep_packing.py", "--quick", "--no-ray", "--json", str(out))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(out.read_text())
    cols = {c["name"]: c for c in res["columns"]}
    assert {"sequential", "ray", "process"} <= set(cols) <= {"sequential", "sequential-pinned", "ray", "process"}
    assert res["runs"] == 2 and res["complete"] and res["metrics_ok"]
    ran = [c for c in cols.values() if "skipped" not in c]
    assert {"sequential", "process"} <= {c["name"] for c in ran}
    for c in ran:
        assert c["done"] == c["expected"] == res["runs"] and c["rc"] == 0
        assert _finite_pos(c["wall_s"]) and _finite_pos(c["runs_per_min"]) and _finite_pos(c["ratio"])
        assert math.isclose(c["runs_per_min"], 60 * c["done"] / c["wall_s"])
    assert cols["sequential"]["ratio"] == 1.0
    assert cols["ray"]["skipped"] == "--no-ray" and "skipped: --no-ray" in r.stdout
    if not res["cuda"]:
        # the CPU runs are deterministic at a given thread count: columns that share one (the packed
        # columns, and the pinned sequential one) must have written identical metrics, run by run
        same_threads = [c for c in res["metric_checks"] if c["must_match"]]
        assert same_threads and all(c["identical"] for c in same_threads)


def test_theory_speed_quick(tmp_path):
    """Oracle early stopping (batched closed form + search) vs the strongest literal loop (one loop draw,
    k ≤ 1000), and one setup through the command."""
    out = tmp_path / "speed.json"
    r = _bench("theory_speed.py", "--quick", "--json", str(out), timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(out.read_text())
    gd = res["gd_path"]
    assert res["quick"] and gd["kmax"] == 1000 and len(gd["loops"]) == 1 and gd["draws"] == 4
    assert gd["agree"] and gd["max_rel_diff_risk"] <= gd["tolerance"] == 1e-8
    c = gd["loops"][0]
    assert c["argmin_oracle"] == c["argmin_dense"] == c["argmin_loop"] or c["argmin_tie"]
    assert 0 < c["argmin_loop"] < 1000  # an interior oracle k: the curve really has a minimum
    assert c["max_rel_diff_weights"] <= 1e-8 and c["max_rel_diff_paper_loop"] <= 1e-8
    assert c["rel_diff_oracle_risk"] <= 1e-8 and gd["oracle_vs_dense_agree"] and len(gd["oracle_vs_dense"]) == 4
    # the search evaluates a small fraction of the 1001 k (here ~50)
    assert max(gd["search_evaluations"]) < 200
    # ratios are what they say: strongest loop time / per-draw oracle time (medians), > 1
    assert math.isclose(gd["speedup"], gd["loop_hoisted_s"] / gd["oracle_per_draw_s"]) and gd["speedup"] > 1
    assert math.isclose(gd["oracle_per_draw_s"], gd["oracle_batch_s"] / gd["draws"])
    assert all(_finite_pos(gd[k]) for k in ("oracle_per_draw_s", "oracle_one_draw_s", "dense_closed_form_s",
                                            "loop_hoisted_s", "loop_paper_s", "montecarlo_per_draw_s"))
    st = res["setups"]
    assert st["rc"] == 0 and st["setups"] == "1" and st["runs"] == 2 and st["rows"] > 0 and _finite_pos(st["wall_s"])
    for line in ("strongest literal loop", "SPEED-UP per draw vs the strongest loop", "max rel. diff of risk curves",
                 "search = dense argmin", "theory setups 1"):
        assert line in r.stdout


def test_asymptotic_accuracy_quick(tmp_path):
    """Two points: the random-matrix equivalent within 5% of Monte Carlo's *excess* (plus 3 SEM), least
    squares' Monte Carlo on its exact identity, and the printed table's columns."""
    out = tmp_path / "acc.json"
    r = _bench("asymptotic_accuracy.py", "--quick", "--json", str(out), timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [(x["n"], x["d"], x["sigma"], x["N"]) for x in rows] == [(200, 20, 0.1, 800), (400, 40, 0.1, 200)]
    header = r.stdout.splitlines()[0]
    assert all(col in header for col in ("MC (±SEM)", "RMT", "large-N", "OLS MC / exact / RMT"))
    for x in rows:
        assert x["floor"] == pytest.approx(x["sigma"] ** 2 / (1 + x["sigma"] ** 2), rel=1e-12)
        assert 0 < x["k_star"] < 5000
        assert math.isclose(x["rmt_err"], (x["rmt"] - x["mc"]) / x["mc"])
        assert math.isclose(x["large_n_err"], (x["large_n"] - x["mc"]) / x["mc"])
        assert abs(x["rmt"] - x["mc"]) <= 0.05 * (x["mc"] - x["floor"]) + 3 * x["mc_sem"]
    ols = rows[0]
    n, N, floor = ols["n"], ols["N"], ols["floor"]
    assert math.isclose(ols["ols_exact"], floor * (N - 1) / (N - n - 1))  # R*(N−1)/(N−n−1)
    assert math.isclose(ols["ols_rmt"], floor * N / (N - n), rel_tol=1e-6)  # the equivalent's R*·N/(N − n)
    assert abs(ols["ols_mc"] - ols["ols_exact"]) <= 4 * ols["ols_mc_sem"]
    assert "ols_mc" not in rows[1]  # N < n + 1: no least-squares identity


def _unet_macs(c_io: int, C: int, pools: int, size: int) -> int:
    """Forward multiply-accumulates of the U-Net on one size×size image, layer by layer: a k×k conv costs
    k²·c_in·c_out per output pixel; the 2×2 stride-2 transposed conv 4·c_in·c_out per *input* pixel."""
    ch = [C * 2**level for level in range(pools + 1)]
    res = [size // 2**level for level in range(pools + 1)]
    macs, c_in = 0, c_io
    for level in range(pools + 1):  # down blocks and the bottleneck
        macs += 9 * (c_in * ch[level] + ch[level] ** 2) * res[level] ** 2
        c_in = ch[level]
    for level in range(pools, 0, -1):
        macs += 4 * ch[level] * ch[level - 1] * res[level] ** 2  # transposed conv, input at res[level]
        macs += 9 * (ch[level] * ch[level - 1] + ch[level - 1] ** 2) * res[level - 1] ** 2
    return macs + ch[0] * c_io * size**2  # 1×1 output conv


def test_train_throughput_quick(tmp_path):
    """The smoke mode with its sizes cut further (explicit options win over --quick): two tiny U-Nets,
    both columns timed; parameter and MAC counts against a count written out here."""
    pytest.importorskip("torch")
    out = tmp_path / "tput.json"
    r = _bench("train_throughput.py", "--quick", "--widths", "4,8", "--size", "32", "--batch", "4", "--steps", "2",
               "--warmup", "1", "--pool", "16", "--device", "cpu", "--json", str(out), timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["config"]["quick"] and res["widths"] == [4, 8] and res["gpu_pending"]
    assert "GPU figures pending: no CUDA device" in r.stdout
    # exact counts: width 4 and 8, RGB, 2 pools (29,299 at width 8 is the README's "29k")
    assert [row["params"] for row in res["rows"]] == [7_387, 29_299]
    for row in res["rows"]:
        assert row["size"] == 32 and row["batch"] == 4
        assert row["fwd_macs_per_image"] == _unet_macs(3, row["width"], 2, 32)
        assert row["train_flops_per_image"] == 6 * row["fwd_macs_per_image"]
        cols = row["columns"]
        assert set(cols) == {"fp32", "bf16(cpu)"}
        for col in cols.values():
            assert _finite_pos(col["img_s"]) and len(col["times_s"]) == res["repeats"] == 3
            # images/s = steps · batch / median repeat time
            assert math.isclose(col["img_s"], 2 * 4 / sorted(col["times_s"])[1], rel_tol=1e-9)
        assert math.isclose(row["ratio"], cols["bf16(cpu)"]["img_s"] / cols["fp32"]["img_s"])
