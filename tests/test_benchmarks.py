"""Smoke tests of the benchmark scripts that have a ``--quick`` mode: each runs as a user runs it
(a subprocess), exits 0, and reports finite numbers in its ``--json`` file."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

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


def test_sweep_packing_quick(tmp_path):
    out = tmp_path / "packing.json"
    r = _bench("sweep_packing.py", "--quick", "--json", str(out))
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
    if "skipped" in cols["ray"]:
        assert cols["ray"]["skipped"] and "skipped:" in r.stdout
    if not res["cuda"]:
        # the CPU runs are deterministic at a given thread count: columns that share one (the packed
        # columns, and the pinned sequential one) must have written identical metrics, run by run
        same_threads = [c for c in res["metric_checks"] if c["must_match"]]
        assert same_threads and all(c["identical"] for c in same_threads)
