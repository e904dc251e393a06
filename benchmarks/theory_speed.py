"""Speed of the theory code, measured side by side in one run.

What is measured
----------------
1. **Oracle early stopping, per draw: closed form vs the strongest literal GD loop** (subspace
   denoising, n=100, d=10, σ=0.1, N=100, oracle over every integer k = 0..5000, the paper's step
   η = ``pop.paper_lr(N)``). HEADLINE: the per-draw speed-up of the closed form over the strongest
   literal loop. Target of the issue: ≥ 100×.

   * *strongest literal loop* (the headline's baseline) — YYᵀ and XYᵀ formed once, then a Python
     loop over k that evaluates only the test risk ``pop.risk(W)`` and steps
     ``W ← W − η (W·YYᵀ − XYᵀ)``; then the argmin over k. Timed once per draw on 3 draws (seeds);
   * *oracle, closed form* — exactly what ``montecarlo`` runs for ``gd-oracle``: one batched
     factorisation of all draws (``TrainingSpectrum.fit_many``, one stacked SVD), then per draw the
     risk as a convex quadratic in the filter gains (``risk_quadratic``), the certified branch-and-
     bound search ``gd_oracle_search`` (a geometric grid, then bisection of every k-interval whose
     tangent-plane lower bound could beat the best risk found: the exact integer argmin, evaluating
     ~50 of the 5001 k) and the risk at the chosen k through ``risk_path``. Timed on a batch of 16
     draws (median of repeats) and reported per draw; the same for one draw alone is printed beside;
   * for reference: ``montecarlo(…, gd-oracle)`` per draw (drawing the data included), the dense
     closed form (``fit`` + ``gd_filter`` for all 5001 k + ``risk_path``, then the argmin: the
     search's brute-force twin) and the paper notebook's literal loop (the gradient as written,
     W·Y·Yᵀ − X·Yᵀ, plus the training loss every step; one draw; ``--no-paper-loop`` skips it).

   Drawing the data is not timed (except in the montecarlo line); populations' cached quantities
   (W*, AB, …) are warmed up beforehand. Checks: on every loop draw the dense closed-form risk curve
   equals the loop's (max relative difference ≤ 1e-8), W^k at a few k equals ``theory.gd_loop``'s,
   and the dense argmin and the searched k equal the loop's argmin (a different k is accepted only
   as a tie, risks equal to 1e-13·max(1, R), and flagged); on all 16 draws the searched k equals
   the dense argmin (or ties) and its risk matches to 1e-8.

   Measured 2026-11-30 (2 shared cores, load average 7.4–8.6, ``OPENBLAS_NUM_THREADS=1``):
   strongest loop 1.55 s per draw (median of 1.21 / 1.55 / 1.79 s), oracle 6.1 ms per draw (fit_many
   2.4 ms, quadratic 0.1 ms, search 1.35 ms, 54 of 5001 k evaluated) → 254×; one draw alone 8.0 ms
   (195×); dense closed form 54 ms (29×); the paper's loop 3.39 s (554×). Other runs on the same
   contended machine: 147× (load 5.7–7.5) and, with the default multi-threaded BLAS, 146× (every
   time ~40× longer). See the run's own table for yours.

2. **Wall time of** ``reconscale theory setups --setups 1-5,7,8 --runs 5`` (the 7 setups with
   n ≤ 1000, full N grids, oracle k ≤ 5000), run as a subprocess into a fresh temporary
   directory and timed with ``time.perf_counter``; the number of CSV rows is reported. A
   per-setup / per-block breakdown is read, at no extra cost, from the modification times of the
   resumable runner's block files (``<out>.parts/<hash>/s<id>_N<N>.json``) while the command
   runs (skipped silently if that layout changes). Target: ≤ 120 s on a 2-core machine.
   With ``--quick`` only setup 1 is run, with 2 runs (a smoke test; no target applies).

``--quick`` (a smoke test, ~10 s on 2 cores): part 1 with 4 batched draws, the loops on one draw
(``--seeds`` overrides) and k ≤ 1000, part 2 as above with ``--kmax 1000``; the agreement checks are
the same, no timing target applies.

PASS/FAIL against the targets is informational: the script exits 0 whatever the timings, and
exits 1 only if the closed form and the loop DISAGREE (or the setups command itself fails).

Timings on a shared machine are noisy; the load average before and after is printed so that a
contended run can be recognised. On an oversubscribed machine a multi-threaded BLAS makes the small
(100×100) products of both sides erratic; ``OPENBLAS_NUM_THREADS=1`` gives steadier ratios.

Run
---
    python benchmarks/theory_speed.py            # full (a few minutes: the paper loop and part 2)
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
from theory.risk import risk_quadratic
from theory.stopping import gd_oracle_search

RTOL_CURVE = 1e-8  # max relative difference allowed between the two risk curves
TIE_ATOL = 1e-13  # different argmins are the same answer only if their risks tie this closely (× max(1, R))
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
    """Dense closed form: one factorisation → the risk of W^k for every k in ``ks``; returns (risks, argmin, spec, h)."""
    spec = TrainingSpectrum.fit(Y, C=C)
    _, h = gd_filter(spec.lam, ks, lr)
    risks = risk_path(pop, spec, h)
    return risks, int(np.argmin(risks)), spec, h


def oracle_batch(pops, Cs, Ys, lrs, kmax: int) -> list[tuple[int, float]]:
    """What ``montecarlo`` runs for gd-oracle on a batch of draws: one batched factorisation
    (``TrainingSpectrum.fit_many``), then per draw the risk as a quadratic, the oracle search and the
    risk at the chosen k (through ``risk_path``, as every estimator's risk is reported)."""
    out = []
    for pop, spec, lr in zip(pops, TrainingSpectrum.fit_many(Ys, Cs=Cs), lrs):
        k = gd_oracle_search(risk_quadratic(pop, spec), spec.lam, lr, kmax)[0]
        out.append((k, float(risk_path(pop, spec, gd_filter(spec.lam, [k], lr)[1])[0])))
    return out


def literal_loop(pop, X, Y, lr: float, kmax: int, keep: tuple[int, ...] = (), *, mode: str = "paper"):
    """The literal GD loop: risk of W^k at every k, W^{k+1} = W^k − η(W^k YYᵀ − XYᵀ).

    ``mode="hoisted"`` (the headline baseline) forms YYᵀ and XYᵀ once and evaluates only the risk
    per step: the strongest literal loop. ``mode="paper"`` does per step what the paper's theory
    notebook does per iteration: the gradient as written, W·Y·Yᵀ − X·Yᵀ, the training loss
    ‖W Y − X‖² and the test risk.
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
        losses = np.empty(kmax + 1)  # the notebook logs the training loss every iteration
        for k in range(kmax + 1):
            risks[k] = pop.risk(W)
            losses[k] = np.sum((W @ Y - X) ** 2)
            if k in keep:
                kept[k] = W
            W = W - lr * (W @ Y @ Y.T - X @ Y.T)
    return risks, int(np.argmin(risks)), kept


def _draw(seed: int, prob, N: int):
    rng = np.random.default_rng(seed)
    pop = prob.population(rng=rng)
    C, Y = pop.sample_latent(N, rng=rng)
    pop.risk(np.zeros((prob.n, Y.shape[0])))  # warm the population's cached W*, AB, floor, …
    return pop, C, Y, pop.paper_lr(N)


def _median_time(fn, repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up, not counted
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def _tied(risks: np.ndarray, k: int, k_ref: int) -> bool:
    """A different argmin counts as the same answer only if the risks tie at rounding level."""
    return k == k_ref or abs(risks[k] - risks[k_ref]) <= TIE_ATOL * max(1.0, abs(risks[k_ref]))


def gd_case(seeds: list[int], loop_seeds: list[int], paper_seeds: list[int], *, n: int, d: int, sigma: float, N: int,
            kmax: int, repeats: int) -> dict:
    """Per-draw times of the oracle (batched, production path), the oracle on one draw, the dense closed
    form and the two literal loops, on the same draws; plus every agreement check."""
    prob = Problem(SubspaceSignal(n, d), sigma)
    draws = {s: _draw(s, prob, N) for s in seeds}
    pops, Cs, Ys, lrs = (list(t) for t in zip(*(draws[s] for s in seeds)))
    ks = np.arange(kmax + 1)
    D = len(seeds)

    # --- closed forms (medians of `repeats`; the batch covers all D draws, reported per draw)
    batch_s, batch_all = _median_time(lambda: oracle_batch(pops, Cs, Ys, lrs, kmax), repeats)
    oracle = oracle_batch(pops, Cs, Ys, lrs, kmax)
    p0, C0, Y0, lr0 = draws[seeds[0]]
    one_s, _ = _median_time(lambda: oracle_batch([p0], [C0], [Y0], [lr0], kmax), repeats)
    dense_s, _ = _median_time(lambda: closed_form(p0, C0, Y0, lr0, ks), max(3, repeats // 3))
    # components of the batched oracle, per draw
    t0 = time.perf_counter()
    specs = TrainingSpectrum.fit_many(Ys, Cs=Cs)
    t1 = time.perf_counter()
    quads = [risk_quadratic(p, sp) for p, sp in zip(pops, specs)]
    t2 = time.perf_counter()
    searched = [gd_oracle_search(q, sp.lam, lr, kmax) for q, sp, lr in zip(quads, specs, lrs)]
    t3 = time.perf_counter()
    parts = {"fit_many": (t1 - t0) / D, "quadratic": (t2 - t1) / D, "search": (t3 - t2) / D}
    n_evals = [e for _, _, e in searched]

    # --- the production path itself (montecarlo, drawing the data included), per draw
    from theory.montecarlo import Estimator, montecarlo  # noqa: PLC0415

    t = time.perf_counter()
    montecarlo(prob, [N], [Estimator("gd-oracle", kmax=kmax)], runs=D, rng=np.random.default_rng(0))
    mc_s = (time.perf_counter() - t) / D

    # --- fast oracle vs the dense argmin on every draw
    dense_checks = []
    for s, (k, r) in zip(seeds, oracle):
        pop, C, Y, lr = draws[s]
        risks, kd, _, _ = closed_form(pop, C, Y, lr, ks)
        dense_checks.append({"seed": s, "k_oracle": k, "k_dense": kd, "tie": k != kd and _tied(risks, k, kd),
                             "rel_diff_risk": abs(r - risks[kd]) / abs(risks[kd])})
    dense_ok = all((c["k_oracle"] == c["k_dense"] or c["tie"]) and c["rel_diff_risk"] <= RTOL_CURVE for c in dense_checks)

    # --- literal loops on a few draws (slow: timed once each)
    loops = []
    for s in loop_seeds:
        pop, C, Y, lr = draws[s]
        X = pop.B @ C
        t = time.perf_counter()
        r_h, k_h, kept = literal_loop(pop, X, Y, lr, kmax, keep=CHECK_STEPS, mode="hoisted")
        hoisted_s = time.perf_counter() - t
        entry = {"seed": s, "loop_hoisted_s": hoisted_s, "argmin_loop": k_h, "risk_at_argmin": float(r_h[k_h])}
        if s in paper_seeds:
            t = time.perf_counter()
            r_p, _, _ = literal_loop(pop, X, Y, lr, kmax, mode="paper")
            entry["loop_paper_s"] = time.perf_counter() - t
            entry["max_rel_diff_paper_loop"] = float(np.max(np.abs(r_p - r_h) / np.abs(r_h)))
        r_cf, k_cf, spec, h = closed_form(pop, C, Y, lr, ks)
        k_or, risk_or = oracle[seeds.index(s)]
        steps = [k for k in CHECK_STEPS if k <= kmax]
        W_cf = spec.weights(h[steps], B=pop.B)
        W_gl = gd_loop(X, Y, steps, lr=lr)
        W_me = np.stack([kept[k] for k in steps])
        scale = np.maximum(np.linalg.norm(W_gl, axis=(1, 2)), np.finfo(float).tiny)
        entry.update({
            "max_rel_diff_risk": float(np.max(np.abs(r_cf - r_h) / np.abs(r_h))),
            "max_rel_diff_weights": float(max(np.max(np.linalg.norm(W_cf - W_gl, axis=(1, 2)) / scale),
                                              np.max(np.linalg.norm(W_me - W_gl, axis=(1, 2)) / scale))),
            "argmin_dense": k_cf, "argmin_oracle": k_or,
            "argmin_tie": bool((k_cf != k_h and _tied(r_h, k_cf, k_h)) or (k_or != k_h and _tied(r_h, k_or, k_h))),
            "rel_diff_oracle_risk": abs(risk_or - r_h[k_h]) / abs(r_h[k_h]),
        })
        entry["agree"] = bool(entry["max_rel_diff_risk"] <= RTOL_CURVE and entry["max_rel_diff_weights"] <= RTOL_CURVE
                              and _tied(r_h, k_cf, k_h) and _tied(r_h, k_or, k_h)
                              and entry["rel_diff_oracle_risk"] <= RTOL_CURVE
                              and entry.get("max_rel_diff_paper_loop", 0.0) <= RTOL_CURVE)
        loops.append(entry)

    hoisted = statistics.median([e["loop_hoisted_s"] for e in loops])
    paper = [e["loop_paper_s"] for e in loops if "loop_paper_s" in e]
    paper_s = statistics.median(paper) if paper else None
    per_draw = batch_s / D
    return {
        "draws": D, "seeds": seeds, "loop_seeds": loop_seeds, "paper_loop_seeds": paper_seeds,
        "oracle_per_draw_s": per_draw, "oracle_batch_s": batch_s, "oracle_batch_all_s": batch_all,
        "oracle_parts_per_draw_s": parts, "oracle_one_draw_s": one_s, "montecarlo_per_draw_s": mc_s,
        "dense_closed_form_s": dense_s, "search_evaluations": n_evals,
        "loop_hoisted_s": hoisted, "loop_paper_s": paper_s,
        "speedup": hoisted / per_draw, "speedup_one_draw": hoisted / one_s, "speedup_dense": hoisted / dense_s,
        "speedup_vs_paper_loop": (paper_s / per_draw) if paper_s else None,
        "oracle_vs_dense": dense_checks, "oracle_vs_dense_agree": bool(dense_ok), "loops": loops,
        "max_rel_diff_risk": max(e["max_rel_diff_risk"] for e in loops),
        "agree": bool(dense_ok and all(e["agree"] for e in loops)),
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
    ap.add_argument("--seeds", default=None, help="draws run through the literal loops in part 1 (default 0,1,2; 0 with --quick)")
    ap.add_argument("--no-setups", action="store_true", help="skip part 2 (the setups command)")
    ap.add_argument("--no-paper-loop", action="store_true", help="skip the (slow, secondary) paper-notebook loop")
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
    batch = list(range(4 if a.quick else 16))
    batch += [s for s in seeds if s not in batch]
    D = len(batch)
    print(f"\n[1] oracle early stopping, n={n}, d={d}, σ={sigma}, N={N}, k=0..{kmax}, paper step: closed form "
          f"({D} draws batched) vs the literal GD loop", flush=True)
    loop_seeds = seeds
    paper_seeds = [] if a.no_paper_loop else seeds[:1]
    g = gd_case(batch, loop_seeds, paper_seeds, n=n, d=d, sigma=sigma, N=N,
                kmax=kmax, repeats=3 if a.quick else 9)
    p = g["oracle_parts_per_draw_s"]
    print(f"  oracle per draw {_fmt_time(g['oracle_per_draw_s'])} (fit_many {_fmt_time(p['fit_many'])}, quadratic "
          f"{_fmt_time(p['quadratic'])}, search {_fmt_time(p['search'])}; evaluated k per draw: median "
          f"{statistics.median(g['search_evaluations']):.0f}, max {max(g['search_evaluations'])} of {kmax + 1}); "
          f"one draw alone {_fmt_time(g['oracle_one_draw_s'])}; montecarlo() per draw incl. drawing "
          f"{_fmt_time(g['montecarlo_per_draw_s'])}; dense closed form {_fmt_time(g['dense_closed_form_s'])}", flush=True)
    for e in g["loops"]:
        extra = f"; paper loop {_fmt_time(e['loop_paper_s'])}" if "loop_paper_s" in e else ""
        print(f"  seed {e['seed']}: hoisted loop {_fmt_time(e['loop_hoisted_s'])}{extra}; argmin k: loop {e['argmin_loop']}, "
              f"dense {e['argmin_dense']}, oracle {e['argmin_oracle']}{' (tie)' if e['argmin_tie'] else ''}; "
              f"max rel diff risk {e['max_rel_diff_risk']:.1e}, W^k {e['max_rel_diff_weights']:.1e}, oracle risk "
              f"{e['rel_diff_oracle_risk']:.1e}; {'agree' if e['agree'] else 'DISAGREE'}", flush=True)
    same_dense = sum(c["k_oracle"] == c["k_dense"] for c in g["oracle_vs_dense"])
    ties_dense = sum(c["tie"] for c in g["oracle_vs_dense"])
    print(f"  oracle search vs dense argmin on all {D} draws: {same_dense} same k, {ties_dense} ties; "
          f"{'agree' if g['oracle_vs_dense_agree'] else 'DISAGREE'}", flush=True)
    speedup = g["speedup"]
    agree = g["agree"]

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
             row("strongest literal loop (YYᵀ, XYᵀ hoisted)", _fmt_time(g["loop_hoisted_s"])),
             row(f"oracle per draw ({D} draws batched)", _fmt_time(g["oracle_per_draw_s"])),
             row("SPEED-UP per draw vs the strongest loop", f"{speedup:.0f}x",
                 "(quick)" if a.quick else f"≥{TARGET_SPEEDUP:.0f}x",
                 "info" if a.quick else ("PASS" if speedup >= TARGET_SPEEDUP else "FAIL")),  # target is for k ≤ 5000
             row("  fit_many / quadratic / search per draw", " / ".join(
                 f"{g['oracle_parts_per_draw_s'][k] * 1e3:.2f}" for k in ("fit_many", "quadratic", "search")) + " ms"),
             row("oracle, one draw alone", _fmt_time(g["oracle_one_draw_s"]), "", f"{g['speedup_one_draw']:.0f}x"),
             row("montecarlo() gd-oracle per draw (+drawing)", _fmt_time(g["montecarlo_per_draw_s"])),
             row(f"dense closed form (all {kmax + 1} k)", _fmt_time(g["dense_closed_form_s"]), "",
                 f"{g['speedup_dense']:.0f}x")]
    if g["loop_paper_s"] is not None:
        lines.append(row("literal loop as in the paper's notebook", _fmt_time(g["loop_paper_s"]), "",
                         f"{g['speedup_vs_paper_loop']:.0f}x"))
    lines += [row("max rel. diff of risk curves", f"{g['max_rel_diff_risk']:.0e}", "≤1e-8",
                  "PASS" if g["max_rel_diff_risk"] <= RTOL_CURVE else "FAIL"),
              row(f"same oracle k (loop, {len(g['loops'])} draws)", ",".join(str(e["argmin_loop"]) for e in g["loops"]),
                  "equal", "PASS" if all(e["agree"] for e in g["loops"]) else "FAIL"),
              row(f"search = dense argmin ({D} draws)", f"{same_dense}+{ties_dense} tie", "equal",
                  "PASS" if g["oracle_vs_dense_agree"] else "FAIL")]
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
            "n": n, "d": d, "sigma": sigma, "N": N, "kmax": kmax, "target_speedup": TARGET_SPEEDUP,
            "tolerance": RTOL_CURVE, **g},
            "setups": st, "target_setups_s": TARGET_SETUPS_S, "total_s": total}
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {a.json}")

    if not agree:
        print("ERROR: the oracle / closed-form GD path and the literal loop DISAGREE", file=sys.stderr)
        return 1
    if st is not None and st["rc"] != 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
