"""Speed of the theory code, measured side by side in one run.

What is measured
----------------
1. **Closed-form GD path vs the literal GD loop** (subspace denoising, n=100, d=10, σ=0.1,
   N=100, every k = 0..5000, the paper's step η = ``pop.paper_lr(N)``).

   * *literal loop* — what the paper's notebook does per iteration: a Python loop over k that
     evaluates the test risk ``pop.risk(W)`` and the training loss ‖WY − X‖² of the current iterate
     and takes one step ``W ← W − η (W·Y·Yᵀ − X·Yᵀ)`` with the gradient as written; then the argmin
     over k (oracle early stopping). This is the issue's baseline. A second loop forms YYᵀ and XYᵀ
     once and evaluates only the risk — the fastest honest loop — and is reported beside it;
   * *closed form* — ``TrainingSpectrum.fit`` (one factorisation), ``gd_filter`` for all 5001 k
     at once and ``risk_path`` (the risk of every W^k without forming any W^k), then the argmin.

   Both use the same draws (U, C, Z → X, Y) and a population whose cached quantities (W*, AB, …)
   are warmed up beforehand; drawing the data is not timed. The closed form is timed as the median
   of several repeats, the loop once per seed (twice for the first seed in full mode). Three seeds
   are run; for every seed the two risk curves must agree (max relative difference ≤ 1e-8) and
   give the same oracle k (a tie at rounding level, equal risks to 1e-12, is accepted and flagged).
   The closed-form weights W^k at a few k are also cross-checked against ``theory.gd_loop``.
   Target of the issue: speed-up ≥ 100×.

2. **Wall time of** ``reconscale theory setups --setups 1-5,7,8 --runs 5`` (the 7 setups with
   n ≤ 1000, full N grids, oracle k ≤ 5000), run as a subprocess into a fresh temporary
   directory and timed with ``time.perf_counter``; the number of CSV rows is reported. A
   per-setup / per-block breakdown is read, at no extra cost, from the modification times of the
   resumable runner's block files (``<out>.parts/<hash>/s<id>_N<N>.json``) while the command
   runs (skipped silently if that layout changes). Target: ≤ 120 s on a 2-core machine.
   With ``--quick`` only setup 1 is run, with 2 runs (a smoke test; no target applies).

``--quick`` (a smoke test, ~10 s on 2 cores): part 1 with one seed (``--seeds`` overrides) and k ≤ 1000,
part 2 as above with ``--kmax 1000``; the agreement checks are the same, no timing target applies.

PASS/FAIL against the targets is informational: the script exits 0 whatever the timings, and
exits 1 only if the closed form and the loop DISAGREE (or the setups command itself fails).

Timings on a shared machine are noisy; the load average before and after is printed so that a
contended run can be recognised.

Run
---
    python benchmarks/theory_speed.py            # full (a few minutes: dominated by part 2)
    python benchmarks/theory_speed.py --quick    # smoke test (~10 s)
    python benchmarks/theory_speed.py --json speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from theory import Problem, SubspaceSignal, TrainingSpectrum, gd_filter, gd_loop, risk_path

RTOL_CURVE = 1e-8  # max relative difference allowed between the two risk curves
TIE_RTOL = 1e-12  # different argmins count as the same answer only if their risks tie this closely
TARGET_SPEEDUP = 100.0
TARGET_SETUPS_S = 120.0
CHECK_STEPS = (0, 1, 10, 100, 1000, 5000)  # k at which W^k is cross-checked against gd_loop


# ---------------------------------------------------------------------------- helpers
def _fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict:
    info: dict = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
    }
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:  # numpy ≥ 2
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - purely informational
        info["blas"] = "unknown"
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415

        info["blas_threads"] = {p.get("internal_api", "?"): p.get("num_threads") for p in threadpool_info()}
    except ImportError:
        env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ}
        info["blas_threads"] = env or "default (threadpoolctl not installed)"
    return info


# ---------------------------------------------------------------------------- part 1
def closed_form(pop, C, Y, lr: float, ks: np.ndarray):
    """One factorisation → the risk of W^k for every k in ``ks``; returns (risks, argmin, spec, h)."""
    spec = TrainingSpectrum.fit(Y, C=C)
    _, h = gd_filter(spec.lam, ks, lr)
    risks = risk_path(pop, spec, h)
    return risks, int(np.argmin(risks)), spec, h


def literal_loop(pop, X, Y, lr: float, kmax: int, keep: tuple[int, ...] = (), *, mode: str = "paper"):
    """The literal GD loop: risk of W^k at every k, W^{k+1} = W^k − η(W^k YYᵀ − XYᵀ).

    ``mode="paper"`` does per step what the paper's theory notebook does per iteration: the
    gradient as written, W·Y·Yᵀ − X·Yᵀ, the training loss ‖W Y − X‖² and the test risk (the issue's
    baseline). ``mode="hoisted"`` forms YYᵀ and XYᵀ once and evaluates only the risk: the fastest
    honest loop, reported as a second, stronger baseline.
    """
    W = np.zeros((X.shape[0], Y.shape[0]))
    risks = np.empty(kmax + 1)
    kept = {}
    if mode == "hoisted":
        G, XYt = Y @ Y.T, X @ Y.T
        for k in range(kmax + 1):
            risks[k] = pop.risk(W)
            if k in keep:
                kept[k] = W
            W = W - lr * (W @ G - XYt)
    else:
        for k in range(kmax + 1):
            risks[k] = pop.risk(W)
            train_loss = float(np.sum((W @ Y - X) ** 2))  # the notebook logs it every iteration
            if k in keep:
                kept[k] = W
            W = W - lr * (W @ Y @ Y.T - X @ Y.T)
        del train_loss
    return risks, int(np.argmin(risks)), kept


def gd_case(seed: int, *, n: int, d: int, sigma: float, N: int, kmax: int, repeats: int, loop_repeats: int) -> dict:
    prob = Problem(SubspaceSignal(n, d), sigma)
    rng = np.random.default_rng(seed)
    pop = prob.population(rng=rng)
    C, Y = pop.sample_latent(N, rng=rng)
    X = pop.B @ C
    lr = pop.paper_lr(N)
    ks = np.arange(kmax + 1)
    pop.risk(np.zeros((n, Y.shape[0])))  # warm the population's cached W*, AB, floor, …

    cf_times = []
    for _ in range(repeats + 1):  # first call is a warm-up, not counted
        t = time.perf_counter()
        r_cf, k_cf, spec, h = closed_form(pop, C, Y, lr, ks)
        cf_times.append(time.perf_counter() - t)
    cf_times = cf_times[1:]

    # component breakdown of the closed form (separate pass, medians)
    parts = {"fit": [], "gd_filter": [], "risk_path": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        sp = TrainingSpectrum.fit(Y, C=C)
        t1 = time.perf_counter()
        _, hh = gd_filter(sp.lam, ks, lr)
        t2 = time.perf_counter()
        risk_path(pop, sp, hh)
        t3 = time.perf_counter()
        parts["fit"].append(t1 - t0)
        parts["gd_filter"].append(t2 - t1)
        parts["risk_path"].append(t3 - t2)

    loop_times = []
    for _ in range(loop_repeats):
        t = time.perf_counter()
        r_loop, k_loop, kept = literal_loop(pop, X, Y, lr, kmax, keep=CHECK_STEPS, mode="paper")
        loop_times.append(time.perf_counter() - t)

    t = time.perf_counter()
    r_hoist, _, _ = literal_loop(pop, X, Y, lr, kmax, mode="hoisted")
    naive_s = time.perf_counter() - t  # the hoisted (stronger) baseline
    naive_rel = float(np.max(np.abs(r_hoist - r_loop) / np.abs(r_loop)))

    rel = float(np.max(np.abs(r_cf - r_loop) / np.abs(r_loop)))
    tie = k_cf != k_loop and abs(r_loop[k_cf] - r_loop[k_loop]) <= TIE_RTOL * abs(r_loop[k_loop])
    # weights: closed form vs theory.gd_loop vs this loop, at a few k
    steps = [k for k in CHECK_STEPS if k <= kmax]
    W_cf = spec.weights(h[steps], B=pop.B)
    W_gl = gd_loop(X, Y, steps, lr=lr)
    W_me = np.stack([kept[k] for k in steps])
    scale = np.maximum(np.linalg.norm(W_gl, axis=(1, 2)), np.finfo(float).tiny)
    w_rel = float(max(np.max(np.linalg.norm(W_cf - W_gl, axis=(1, 2)) / scale),
                      np.max(np.linalg.norm(W_me - W_gl, axis=(1, 2)) / scale)))
    agree = rel <= RTOL_CURVE and (k_cf == k_loop or tie) and w_rel <= RTOL_CURVE and naive_rel <= RTOL_CURVE
    cf_med = statistics.median(cf_times)
    loop_med = statistics.median(loop_times)
    return {
        "seed": seed, "lr": lr, "rank": spec.rank,
        "closed_form_s": cf_med, "closed_form_all_s": cf_times,
        "closed_form_parts_s": {k: statistics.median(v) for k, v in parts.items()},
        "loop_s": loop_med, "loop_all_s": loop_times, "speedup": loop_med / cf_med, "loop_hoisted_s": naive_s, "speedup_vs_hoisted": naive_s / cf_med,
        "max_rel_diff_hoisted_loop": naive_rel,
        "max_rel_diff_risk": rel, "max_rel_diff_weights": w_rel,
        "argmin_closed_form": k_cf, "argmin_loop": k_loop, "argmin_tie": bool(tie),
        "risk_at_argmin": float(r_loop[k_loop]), "agree": bool(agree),
    }


# ---------------------------------------------------------------------------- part 2
class _BlockWatcher(threading.Thread):
    """Records the mtime of each finished (setup, N) block file of the resumable runner."""

    pat = re.compile(r"^s(\d+)_N(\d+)\.json$")

    def __init__(self, parts_root: Path, period: float = 0.1):
        super().__init__(daemon=True)
        self.root, self.period = parts_root, period
        self.seen: dict[tuple[int, int], float] = {}
        self.stop = threading.Event()

    def _scan(self) -> None:
        try:
            for dirpath, _, files in os.walk(self.root):
                for f in files:
                    m = self.pat.match(f)
                    if m and (key := (int(m[1]), int(m[2]))) not in self.seen:
                        try:
                            self.seen[key] = os.stat(os.path.join(dirpath, f)).st_mtime
                        except FileNotFoundError:
                            pass
        except FileNotFoundError:
            pass

    def run(self) -> None:
        while not self.stop.wait(self.period):
            self._scan()


def _reconscale_cmd() -> list[str]:
    here = Path(sys.executable).parent / "reconscale"
    if here.exists():
        return [str(here)]
    found = shutil.which("reconscale")
    return [found] if found else [sys.executable, "-m", "bridge.cli"]


def setups_case(setups: str, *, runs: int, kmax: int, timeout: float) -> dict:
    from theory.setups import N_GRIDS, parse_setups  # noqa: PLC0415

    chosen = parse_setups(setups)
    order = [(s.id, N) for s in chosen for N in N_GRIDS[s.d]]
    with tempfile.TemporaryDirectory(prefix="theory_speed_") as tmp:
        out = Path(tmp) / "setups.csv"
        cmd = [*_reconscale_cmd(), "theory", "setups", "--setups", setups, "--runs", str(runs),
               "--kmax", str(kmax), "--out", str(out), "--quiet"]
        watcher = _BlockWatcher(Path(tmp) / "setups.csv.parts")
        wall_start = time.time()
        watcher.start()
        t = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            rc, err = proc.returncode, proc.stderr.strip()
        except subprocess.TimeoutExpired:
            rc, err = None, f"timed out after {timeout:.0f} s"
        wall = time.perf_counter() - t
        wall_end = time.time()
        watcher.stop.set()
        watcher.join()
        rows = None
        if rc == 0 and out.exists():
            with out.open() as fh:
                rows = sum(1 for _ in fh) - 1
    peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    # breakdown from block mtimes (blocks run sequentially in `order`)
    blocks, per_setup = [], {}
    if rc == 0 and watcher.seen:
        prev = wall_start
        for key in order:
            done = watcher.seen.get(key)
            if done is None:  # missed (e.g. deleted before the poll) — lump into the next one
                continue
            blocks.append({"setup": key[0], "N": key[1], "s": done - prev})
            per_setup[key[0]] = per_setup.get(key[0], 0.0) + (done - prev)
            prev = done
        missed = [f"s{k[0]} N={k[1]}" for k in order if k not in watcher.seen]
        # final table write + exit, plus any block the poll missed (blocks are lumped into the next seen one)
        per_setup["write+exit" + (f" (+ missed {', '.join(missed[-3:])})" if missed else "")] = wall_end - prev
    return {
        "cmd": " ".join(cmd), "setups": setups, "runs": runs, "kmax": kmax, "rc": rc, "stderr_tail": err[-500:],
        "wall_s": wall, "rows": rows, "peak_rss_mb_children": peak_rss_mb,
        "per_setup_s": {str(k): v for k, v in per_setup.items()}, "blocks": blocks,
        "blocks_seen": len(watcher.seen), "blocks_total": len(order),
    }


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke test: one seed, k ≤ 1000, fewer repeats, setup 1 only")
    ap.add_argument("--json", metavar="FILE", default=None, help="also write every number to this JSON file")
    ap.add_argument("--seeds", default=None, help="seeds for part 1 (default 0,1,2; 0 with --quick)")
    ap.add_argument("--no-setups", action="store_true", help="skip part 2 (the setups command)")
    ap.add_argument("--setups-timeout", type=float, default=1800.0, help="kill the setups command after this many s")
    a = ap.parse_args(argv)
    seeds = [int(s) for s in (a.seeds or ("0" if a.quick else "0,1,2")).split(",")]
    n, d, sigma, N, kmax = 100, 10, 0.1, 100, 1000 if a.quick else 5000
    t_start = time.perf_counter()

    info = machine_info()
    info["loadavg_start"] = _loadavg()
    print(f"machine: nproc={info['nproc']} (usable {info.get('cpus_usable', '?')}), python {info['python']}, "
          f"numpy {info['numpy']}, BLAS {info['blas']}, BLAS threads {info['blas_threads']}, "
          f"loadavg {info['loadavg_start']}", flush=True)

    # -- part 1
    print(f"\n[1] closed-form GD path vs literal loop: n={n}, d={d}, σ={sigma}, N={N}, k=0..{kmax}, paper step", flush=True)
    cases = []
    for seed in seeds:
        c = gd_case(seed, n=n, d=d, sigma=sigma, N=N, kmax=kmax, repeats=3 if a.quick else 15,
                    loop_repeats=1)
        cases.append(c)
        p = c["closed_form_parts_s"]
        print(f"  seed {seed}: closed form {_fmt_time(c['closed_form_s'])} "
              f"(fit {_fmt_time(p['fit'])}, gd_filter {_fmt_time(p['gd_filter'])}, risk_path {_fmt_time(p['risk_path'])}); "
              f"paper loop {_fmt_time(c['loop_s'])} ({c['speedup']:.0f}x); precomputed loop {_fmt_time(c['loop_hoisted_s'])} ({c['speedup_vs_hoisted']:.0f}x); "
              f"argmin k: closed form {c['argmin_closed_form']}, loop {c['argmin_loop']}"
              f"{' (tie)' if c['argmin_tie'] else ''}; max rel diff risk {c['max_rel_diff_risk']:.1e}, "
              f"W^k {c['max_rel_diff_weights']:.1e}; {'agree' if c['agree'] else 'DISAGREE'}", flush=True)
    cf = statistics.median([c["closed_form_s"] for c in cases])
    lp = statistics.median([c["loop_s"] for c in cases])
    speedup = lp / cf
    hl = statistics.median([c["loop_hoisted_s"] for c in cases])
    max_rel = max(c["max_rel_diff_risk"] for c in cases)
    agree = all(c["agree"] for c in cases)
    argmins_same = all(c["argmin_closed_form"] == c["argmin_loop"] or c["argmin_tie"] for c in cases)

    # -- part 2
    st = None
    if not a.no_setups:
        which, runs = ("1", 2) if a.quick else ("1-5,7,8", 5)
        print(f"\n[2] reconscale theory setups --setups {which} --runs {runs} (full N grids, kmax {kmax}) ...", flush=True)
        st = setups_case(which, runs=runs, kmax=kmax, timeout=a.setups_timeout)
        if st["rc"] != 0:
            print(f"  setups command FAILED (rc={st['rc']}): {st['stderr_tail']}", flush=True)
        else:
            print(f"  wall {st['wall_s']:.1f} s, {st['rows']} CSV rows, peak child RSS {st['peak_rss_mb_children']:.0f} MB",
                  flush=True)
            if st["per_setup_s"]:
                print("  per setup (from block-file mtimes; the first includes interpreter start-up): " + ", ".join(
                    f"{k if k.startswith('write') else 'setup ' + k} {v:.1f} s" for k, v in st["per_setup_s"].items()))
                slow = sorted(st["blocks"], key=lambda b: -b["s"])[:6]
                print(f"  slowest blocks ({runs} runs each): " + ", ".join(f"s{b['setup']} N={b['N']} {b['s']:.1f} s" for b in slow))

    info["loadavg_end"] = _loadavg()
    total = time.perf_counter() - t_start

    # -- table
    def row(name: str, value: str, target: str = "", status: str = "") -> str:
        return f"{name:<44}{value:>12}   {target:<9}{status}"

    lines = [row("measure", "value", "target", "status"),
             row(f"closed-form GD path (n={n},N={N},k≤{kmax})", _fmt_time(cf)),
             row("  of which fit / gd_filter / risk_path", " / ".join(
                 f"{statistics.median([c['closed_form_parts_s'][k] for c in cases]) * 1e3:.1f}"
                 for k in ("fit", "gd_filter", "risk_path")) + " ms"),
             row("literal GD loop as in the paper's notebook", _fmt_time(lp)),
             row("speed-up vs the paper's loop", f"{speedup:.0f}x", "(quick)" if a.quick else f"≥{TARGET_SPEEDUP:.0f}x",
                 "info" if a.quick else ("PASS" if speedup >= TARGET_SPEEDUP else "FAIL")),  # target is for k ≤ 5000
             row("loop with YYᵀ, XYᵀ precomputed (stronger)", _fmt_time(hl)),
             row("speed-up vs the precomputed loop", f"{hl / cf:.0f}x", "", "info"),
             row("max rel. diff of risk curves", f"{max_rel:.0e}", "≤1e-8", "PASS" if max_rel <= RTOL_CURVE else "FAIL"),
             row(f"same oracle k ({len(cases)} seeds)",
                 ",".join(str(c["argmin_loop"]) for c in cases), "equal", "PASS" if argmins_same else "FAIL")]
    if st is not None:
        label = f"theory setups {st['setups']} ({st['runs']} runs)"
        if st["rc"] != 0:
            lines.append(row(label, "error", f"≤{TARGET_SETUPS_S:.0f} s", "FAIL"))
        elif a.quick:
            lines.append(row(label, f"{st['wall_s']:.1f} s", "(quick)", "info"))
        else:
            lines.append(row(label, f"{st['wall_s']:.1f} s", f"≤{TARGET_SETUPS_S:.0f} s",
                             "PASS" if st["wall_s"] <= TARGET_SETUPS_S else "FAIL"))
        if st["rows"] is not None:
            lines.append(row("  rows in the CSV", str(st["rows"])))
    print("\n" + "\n".join(lines))
    print(f"\nloadavg start {info['loadavg_start']} → end {info['loadavg_end']}; total benchmark time {total:.1f} s")

    if a.json:
        result = {"machine": info, "quick": a.quick, "gd_path": {
            "n": n, "d": d, "sigma": sigma, "N": N, "kmax": kmax, "closed_form_s": cf, "loop_s": lp,
            "speedup": speedup, "target_speedup": TARGET_SPEEDUP, "max_rel_diff_risk": max_rel,
            "tolerance": RTOL_CURVE, "agree": agree, "seeds": cases},
            "setups": st, "target_setups_s": TARGET_SETUPS_S, "total_s": total}
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {a.json}")

    if not agree:
        print("ERROR: the closed-form GD path and the literal loop DISAGREE", file=sys.stderr)
        return 1
    if st is not None and st["rc"] != 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
