"""The cupy Monte Carlo path at n = 10000 (the paper's largest theory setup) against numpy, same draws.

What is measured
----------------
``theory.montecarlo(...)`` for setup 6 (subspace denoising, d = 10, n = 10000, σ = 0.1) with the
estimators the setups table uses (as ``theory.setups.setup_rows`` builds them): ``optimal``,
``pca``, ``ols``, ``gd-oracle`` (every k ≤ ``--kmax`` = 5000, the paper's step η) and ``gd`` on
``theory.setups.K_GRID``; plain Monte Carlo (the true risk per draw, as the paper computes it).

For each N (default 4096, 8192, 16384: the three largest N of the paper's grid, one below n, one
near n, one above) the same call is run twice, ``backend="numpy"`` and ``backend="cupy"``, each
with a fresh ``numpy.random.default_rng([seed, 6])`` — the generator ``setup_rows`` passes — so
both columns see the SAME draws (theory draws every random number on the host with numpy and
moves it to the device; see ``theory.backend``). Each column's wall time is one timed call per N
(``--runs`` draws each), ``time.perf_counter`` around it; ``montecarlo`` returns numpy arrays,
which already waits for the device, and the device is synchronised once more before the clock
stops. Reported per N and overall (sums): seconds of each column and the ratio numpy / cupy.

Before timing, both backends are warmed up on a small problem (n = 400) that takes all three
factorisation branches of ``TrainingSpectrum.fit`` — eigh of the N×N Gram (2N ≤ n), SVD of Y
(n/2 < N < 2n), eigh of Y Yᵀ (N ≥ 2n) — so cupy's first-call costs (kernel compilation, cuBLAS
and cuSOLVER handles, the memory pool) are not counted; the warm-up time is printed.

Agreement: for every estimator, the max over draws of |R_cupy − R_numpy| / |R_numpy| must be
≤ 1e-6 (the floors too); the largest is printed, and the number of draws whose oracle k differs
(only a tie at rounding level can do that) is reported. The script exits 1 on disagreement only.

Where the time goes (unless ``--no-breakdown``): during the timed calls, three names that
``theory.montecarlo`` calls are wrapped with a clock (and, for cupy, a device synchronisation
at each end — points where the code synchronises anyway, through ``float()`` or ``.get()``):

* *factorisation* — ``TrainingSpectrum.fit`` / ``fit_many`` (eigh / SVD of the training inputs);
* *risk paths* — the filters (``gd_filter``, ``ols_filter``), ``risk_path`` and the oracle's
  search over k (``gd_oracle_search``);
* *draws + rest* — the remainder: drawing U (QR on the host), C and Z (numpy's generator on the
  host, then copied to the device), Y = U C + σ Z, PCA's risk, bookkeeping.

Memory: numpy's peak for the largest N is estimated beforehand from the arrays the code forms
(Y, Z, LAPACK's copy and workspace, U/Vᵀ, the (kmax+1)×rank filter arrays) and printed; the script
refuses with one line (exit 2) if the machine's available memory is below that estimate (the
same check is made for the GPU's free memory).

Target of the issue: cupy ≥ 10× numpy on the same draws at n = 10000 (the overall ratio; PASS/FAIL
is informational, as is the per-N ratio). Without cupy or a CUDA device only the numpy column is
run and ``cupy figure pending: no CUDA device`` is printed (exit 0). ``--quick`` uses n = 2000 and
N = 500, 2000, 4000 (a smoke test, no target applies). Timings on a shared machine are noisy: the
load average before and after is printed.

Run
---
    python benchmarks/montecarlo_gpu.py              # n = 10000; the numpy column takes minutes (N=8192: 161 s on 2 cores)
    python benchmarks/montecarlo_gpu.py --quick      # n = 2000 smoke test (~5 s on 2 idle cores)
    python benchmarks/montecarlo_gpu.py --N 8192 --runs 3 --json mc_gpu.json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from theory import Problem, SubspaceSignal
from theory.backend import cupy_available
from theory.montecarlo import Estimator, montecarlo
from theory.setups import K_GRID, SETUPS

RTOL = 1e-6  # max relative difference allowed between the numpy and cupy risks
TARGET_RATIO = 10.0
SETUP = SETUPS[5]  # setup 6: d=10, n=10000, σ=0.1
FULL_N = (4096, 8192, 16384)
QUICK_N, QUICK_n = (500, 2000, 4000), 2000
WARM_n, WARM_N = 400, (100, 400, 1000)  # one N per factorisation branch (Gram eigh, SVD, YYᵀ eigh)


# ---------------------------------------------------------------------------- helpers
def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _fmt_s(s: float) -> str:
    return f"{s * 1e3:.0f} ms" if s < 1 else (f"{s:.2f} s" if s < 10 else f"{s:.1f} s")


def _blas() -> str:
    try:  # numpy ≥ 2
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


def setup_estimators(kmax: int) -> list[Estimator]:
    """The estimators of ``theory.setups.setup_rows`` (kept in step with it by hand)."""
    return [Estimator("optimal"), Estimator("pca"), Estimator("ols"), Estimator("gd-oracle", kmax=kmax),
            Estimator("gd", steps=tuple(k for k in K_GRID if k <= max(kmax, 1)))]


def branch(m: int, N: int) -> str:
    """Which factorisation ``TrainingSpectrum.fit`` uses for an (m, N) Y (its documented rule)."""
    if N >= 2 * m:
        return f"eigh YYᵀ {m}²"
    if 2 * N <= m:
        return f"eigh YᵀY {N}²"
    return f"SVD {m}×{N}"


def peak_bytes(m: int, p: int, N: int, kmax: int) -> int:
    """Estimated peak memory of one Monte Carlo draw (float64), numpy backend.

    The largest of: sampling (C, Z, Y), the factorisation (Y plus what eigh / LAPACK's gesdd form:
    the Gram matrix, a working copy, U and Vᵀ, a ≈4·r² workspace) and the risk path (Y still
    referenced, V, and ≈4 (kmax+1)×r arrays: f, h and two temporaries of ``gd_filter``).
    """
    r = min(m, N)
    sample = 2 * m * N + p * N
    if N >= 2 * m:
        fit = m * N + 4 * m * m
    elif 2 * N <= m:
        fit = 2 * m * N + 4 * N * N
    else:
        fit = 2 * m * N + m * r + r * N + 4 * r * r
    path = m * N + m * r + 4 * (kmax + 1) * r
    return 8 * max(sample, fit, path)


def host_available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _sync_fn(backend: str) -> Callable[[], None]:
    if backend != "cupy":
        return lambda: None
    import cupy  # noqa: PLC0415 - optional, only with a GPU

    return lambda: cupy.cuda.Device().synchronize()


class _Breakdown:
    """Wraps names in ``theory.montecarlo`` with a clock; ``parts`` accumulates seconds."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self.sync = sync
        self.parts = {"factorisation": 0.0, "risk paths": 0.0}

    def _timed(self, fn: Callable, part: str) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.sync()
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            self.sync()
            self.parts[part] += time.perf_counter() - t
            return out

        return wrapper

    @contextlib.contextmanager
    def installed(self) -> Iterator[bool]:
        mod = importlib.import_module("theory.montecarlo")  # the module (``theory.montecarlo`` is also a function)
        names = ("TrainingSpectrum", "gd_filter", "ols_filter", "_path_risks", "gd_oracle_search")
        if not all(hasattr(mod, n) for n in names):
            yield False  # the module's layout changed: no breakdown, timings unaffected
            return
        saved = {n: getattr(mod, n) for n in names}
        spec_cls = saved["TrainingSpectrum"]
        shim = type("TimedTrainingSpectrum", (), {
            "fit": staticmethod(self._timed(spec_cls.fit, "factorisation")),
            "fit_many": staticmethod(self._timed(spec_cls.fit_many, "factorisation"))})
        try:
            mod.TrainingSpectrum = shim
            for n in ("gd_filter", "ols_filter", "_path_risks", "gd_oracle_search"):
                setattr(mod, n, self._timed(saved[n], "risk paths"))
            yield True
        finally:
            for n, v in saved.items():
                setattr(mod, n, v)


def timed_column(problem: Problem, N: int, ests: list[Estimator], *, runs: int, seed: int, setup_id: int,
                 backend: str, breakdown: bool) -> dict:
    """One timed ``montecarlo`` call; returns seconds, the curves and (optionally) the breakdown."""
    sync = _sync_fn(backend)
    bd = _Breakdown(sync)
    ctx = bd.installed() if breakdown else contextlib.nullcontext(False)
    with ctx as active:
        sync()
        t = time.perf_counter()
        curves = montecarlo(problem, [N], ests, runs=runs, rng=np.random.default_rng([seed, setup_id]),
                            backend=backend)
        sync()  # montecarlo returns numpy arrays (already synchronised); once more for the record
        wall = time.perf_counter() - t
    parts = None
    if active:
        parts = dict(bd.parts)
        parts["draws + rest"] = max(wall - sum(parts.values()), 0.0)
    return {"s": wall, "curves": curves, "parts": parts}


def compare(a: list, b: list) -> dict:
    """Max relative difference of every estimator's risks (and the floors); oracle-k mismatches."""
    worst, per, k_diff = 0.0, {}, 0
    for ca, cb in zip(a, b):
        x, y = ca.draws, cb.draws
        same_nan = bool(np.array_equal(np.isnan(x), np.isnan(y)))
        rel = float(np.nanmax(np.abs(x - y) / np.abs(x))) if same_nan else math.inf
        per[ca.estimator.name] = rel
        worst = max(worst, rel)
        if ca.k_opt is not None:
            k_diff += int(np.sum(ca.k_opt != cb.k_opt))
    fl = float(np.max(np.abs(a[0].floor - b[0].floor) / np.abs(a[0].floor)))
    worst = max(worst, fl)
    return {"max_rel_diff": worst, "per_estimator": per, "floor_rel_diff": fl, "oracle_k_mismatches": k_diff,
            "agree": bool(worst <= RTOL)}


def warm_up(backend: str, kmax: int) -> float:
    t = time.perf_counter()
    montecarlo(Problem(SubspaceSignal(WARM_n, 10), 0.1), list(WARM_N), setup_estimators(kmax), runs=1,
               rng=np.random.default_rng(0), backend=backend)
    _sync_fn(backend)()
    return time.perf_counter() - t


def _cupy_info() -> dict:
    import cupy  # noqa: PLC0415

    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    free, total = dev.mem_info
    return {"cupy": cupy.__version__, "gpu": name, "gpu_free_bytes": int(free), "gpu_total_bytes": int(total),
            "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion()}


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"smoke test: n={QUICK_n}, N={','.join(map(str, QUICK_N))}")
    ap.add_argument("--json", metavar="FILE", default=None, help="also write every number to this JSON file")
    ap.add_argument("--N", default=None, help=f"training-set sizes (default {','.join(map(str, FULL_N))})")
    ap.add_argument("--runs", type=int, default=1, help="draws per N (default 1)")
    ap.add_argument("--kmax", type=int, default=5000, help="largest k of the oracle GD path (default 5000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--numpy-only", action="store_true", help="skip the cupy column even if a GPU is usable")
    ap.add_argument("--no-breakdown", action="store_true", help="do not wrap the library's functions with clocks")
    a = ap.parse_args(argv)
    try:
        Ns = [int(v) for v in (a.N.split(",") if a.N else (QUICK_N if a.quick else FULL_N))]
    except ValueError:
        ap.error(f"--N {a.N!r}: give comma-separated positive integers, e.g. --N 4096,8192")
    if not Ns or min(Ns) < 1 or a.runs < 1 or a.kmax < 0:
        ap.error("--N values and --runs must be ≥ 1, --kmax ≥ 0")

    n, d, sigma = (QUICK_n, SETUP.d, SETUP.sigma) if a.quick else (SETUP.n, SETUP.d, SETUP.sigma)
    problem = Problem(SubspaceSignal(n, d), sigma)
    ests = setup_estimators(a.kmax)
    gpu = cupy_available() and not a.numpy_only
    t_start = time.perf_counter()

    info: dict = {"python": platform.python_version(), "numpy": np.__version__, "blas": _blas(),
                  "nproc": os.cpu_count(), "loadavg_start": _loadavg()}
    if gpu:
        info.update(_cupy_info())
    print(f"machine: nproc={info['nproc']}, python {info['python']}, numpy {info['numpy']} ({info['blas']}), "
          + (f"cupy {info['cupy']} on {info['gpu']} ({info['gpu_total_bytes'] / 2**30:.0f} GiB), " if gpu else "no cupy/GPU, ")
          + f"loadavg {info['loadavg_start']}", flush=True)

    # -- memory, before anything heavy
    need = peak_bytes(n, d, max(Ns), a.kmax)
    avail = host_available_bytes()
    print(f"memory: numpy needs ≈ {need / 2**30:.1f} GiB at n={n}, N={max(Ns)} "
          f"(available {'?' if avail is None else f'{avail / 2**30:.1f} GiB'})", flush=True)
    if avail is not None and need > avail:
        print(f"montecarlo_gpu: error: numpy needs ≈ {need / 2**30:.1f} GiB at N={max(Ns)} but only "
              f"{avail / 2**30:.1f} GiB is available; use smaller --N or --quick", file=sys.stderr)
        return 2
    if gpu and need > info["gpu_free_bytes"]:
        print(f"montecarlo_gpu: error: cupy needs ≈ {need / 2**30:.1f} GiB at N={max(Ns)} but the GPU has "
              f"{info['gpu_free_bytes'] / 2**30:.1f} GiB free; use smaller --N or --numpy-only", file=sys.stderr)
        return 2

    backends = ["numpy", "cupy"] if gpu else ["numpy"]
    print(f"\nsetup {'6 (quick: n reduced)' if a.quick else 6}: subspace denoising n={n}, d={d}, σ={sigma}; "
          f"estimators {', '.join(e.name for e in ests)} (gd on {len(ests[-1].steps)} k), oracle k ≤ {a.kmax}, "
          f"paper step; {a.runs} draw(s) per N; seed {a.seed}", flush=True)
    warm = {b: warm_up(b, a.kmax) for b in backends}
    print("warm-up (n=400, one N per factorisation branch, not timed): "
          + ", ".join(f"{b} {_fmt_s(s)}" for b, s in warm.items()), flush=True)

    rows = []
    for N in Ns:
        row: dict = {"N": N, "factorisation": branch(n, N), "columns": {}}
        cols = {}
        for b in backends:
            c = timed_column(problem, N, ests, runs=a.runs, seed=a.seed, setup_id=SETUP.id, backend=b,
                             breakdown=not a.no_breakdown)
            cols[b] = c
            row["columns"][b] = {"s": c["s"], "parts_s": c["parts"]}
            parts = (" (" + ", ".join(f"{k} {_fmt_s(v)}" for k, v in c["parts"].items()) + ")") if c["parts"] else ""
            print(f"  N={N:>6} [{row['factorisation']}] {b:<5} {_fmt_s(c['s']):>9}{parts}", flush=True)
        if gpu:
            row["ratio"] = cols["numpy"]["s"] / cols["cupy"]["s"]
            row["agreement"] = compare(cols["numpy"]["curves"], cols["cupy"]["curves"])
            ag = row["agreement"]
            print(f"           numpy/cupy {row['ratio']:.1f}x; max rel diff {ag['max_rel_diff']:.1e} "
                  f"({'agree' if ag['agree'] else 'DISAGREE'}), oracle-k mismatches {ag['oracle_k_mismatches']}",
                  flush=True)
        risks = {cv.estimator.name: float(np.mean(cv.draws)) for cv in cols["numpy"]["curves"] if cv.estimator.name != "gd"}
        row["mean_risk_numpy"] = risks
        rows.append(row)

    info["loadavg_end"] = _loadavg()
    total = time.perf_counter() - t_start
    tot = {b: sum(r["columns"][b]["s"] for r in rows) for b in backends}
    overall = tot["numpy"] / tot["cupy"] if gpu else None
    agree = all(r["agreement"]["agree"] for r in rows) if gpu else True
    max_rel = max(r["agreement"]["max_rel_diff"] for r in rows) if gpu else None

    # -- table
    head = ["N", "factorisation", "numpy s", *(["cupy s", "numpy/cupy", "max rel diff"] if gpu else [])]
    table = [[str(r["N"]), r["factorisation"], f"{r['columns']['numpy']['s']:.2f}",
              *([f"{r['columns']['cupy']['s']:.2f}", f"{r['ratio']:.1f}x", f"{r['agreement']['max_rel_diff']:.1e}"]
                if gpu else [])] for r in rows]
    table.append(["all", "", f"{tot['numpy']:.2f}", *([f"{tot['cupy']:.2f}", f"{overall:.1f}x", f"{max_rel:.1e}"] if gpu else [])])
    wid = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    print("\n" + "  ".join(h.rjust(w) for h, w in zip(head, wid)))
    print("  ".join("-" * w for w in wid))
    for t in table:
        print("  ".join(v.rjust(w) for v, w in zip(t, wid)))
    print()
    if gpu:
        status = "PASS" if overall >= TARGET_RATIO else "FAIL"
        if a.quick:
            print(f"numpy/cupy overall {overall:.1f}x at n={n} (quick: no target applies)")
        else:
            print(f"numpy/cupy overall {overall:.1f}x; issue target ≥ {TARGET_RATIO:g}x at n=10000: {status} (informational)")
        print(f"answers: max rel diff {max_rel:.1e} (tolerance {RTOL:g}): {'PASS' if agree else 'FAIL'}")
    else:
        print("cupy figure pending: no CUDA device (numpy column only; run on a CUDA host with cupy for the "
              f"≥ {TARGET_RATIO:g}x target)")
    print(f"loadavg start {info['loadavg_start']} → end {info['loadavg_end']}; total benchmark time {total:.1f} s")

    if a.json:
        out = {"machine": info, "quick": a.quick, "setup": {"id": SETUP.id, "n": n, "d": d, "sigma": sigma},
               "N": Ns, "runs": a.runs, "kmax": a.kmax, "seed": a.seed, "estimators": [e.name for e in ests],
               "gpu": gpu, "cupy_pending": not gpu, "warmup_s": warm, "memory_estimate_bytes": need,
               "memory_available_bytes": avail, "rows": rows, "total_numpy_s": tot["numpy"],
               "total_cupy_s": tot.get("cupy"), "ratio": overall, "target_ratio": TARGET_RATIO,
               "tolerance": RTOL, "max_rel_diff": max_rel, "agree": agree, "total_s": total}
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {a.json}")

    if not agree:
        print("ERROR: the cupy and numpy risks DISAGREE", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
