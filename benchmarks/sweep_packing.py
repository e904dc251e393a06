"""Sweep throughput: several small runs at once on one device vs the same runs one after another.

What is measured
----------------
One small sweep — the shipped ``quick-denoise`` config (U-Net, 40×40 grey photo patches,
σ = 25/255) with ``width=8`` and a grid of N × seeds (CUDA default: N = 16, 32, 64, 128 × seeds
0–3 = 16 runs; CPU default: seeds 0–1 = 8 runs), every run a FIXED number of steps
(``min_steps = max_steps = --steps``, patience settings too large to stop early) so that every
column does the same work — is run three or four times, each into a fresh temporary directory,
by a subprocess ``python -m bridge.cli sweep quick-denoise --out DIR --set ... --quiet``, i.e. exactly
what a user types:

* *sequential* — ``--executor local``: one run after another in one process, torch's default
  thread count (all cores on the CPU): what a user gets by default;
* *sequential-pinned* — the same with ``--threads-per-run T``, the packed columns' thread count
  (run when T differs from torch's default; ``--no-pinned`` skips it). It separates the gain of
  packing from the gain of fewer threads per run (on a small or busy CPU, torch's threads can
  slow a small model down), and gives an exact metrics check against the packed columns;
* *ray* — ``--executor ray --workers K``, with ``--gpus-per-run 1/K`` on CUDA (Ray packs K runs on
  the GPU) or ``--cpus-per-run 1`` on the CPU; Ray's local instance is started and stopped by the
  command, and that start-up is part of the wall time;
* *process* — ``--executor process --workers K``: K spawned worker processes (each also
  initialises torch / CUDA; counted).

The packed columns pin ``--threads-per-run T`` (T = usable cores // K, at least 1) so that K runs
do not oversubscribe the cores. K defaults to 4 on CUDA and to the number of usable cores on
the CPU (``--packs``). Reported for each column: wall time (``time.perf_counter`` around the
subprocess, interpreter start-up included), runs/min, the ratio of its runs/min to the
sequential column's (and to the pinned one's), and the mean in-run training wall time from the
ledger.

Checks (read from each ledger with ``bridge.results.read_ledger``): every run of the sweep
(counted with ``--dry-run``) is in the ledger with status ``done``. On the CPU the validation
and test metrics of columns with the same thread count (the packed ones and the pinned sequential
one) must be identical, run by run (training is deterministic there); between different thread
counts (torch splits reductions per thread) the largest relative difference is printed for
information. On CUDA the metrics are compared for information only (cuDNN is not
bit-deterministic). The script exits 1 if a column's command fails, a ledger misses a finished
run, or metrics that must be identical differ; the timings never fail it.

The ray column is skipped, with a printed reason, if ray is not importable or the CLI refuses
``--executor ray`` (a usage error, exit 2: a checkout without that executor). Target of the
issue: the packed small-model sweep ≥ 3× the sequential sweep's throughput on one GPU (best
packed column against the plain sequential one; PASS/FAIL is informational). On a CPU-only
machine the GPU figure is pending and the CPU ratio is informational (few cores). ``--quick`` (a
smoke test of the plumbing, no figure): N = 8, 16 × seed 0 (2 runs), 20 steps, and every column
at T threads (no pinned column). Timings on a shared machine are noisy: the load average before
and after is printed.

Run
---
    python benchmarks/sweep_packing.py                 # CUDA: a few minutes; CPU (2 cores): ~1.5 min idle
    python benchmarks/sweep_packing.py --quick         # smoke test (~25-40 s on 2 CPU cores)
    python benchmarks/sweep_packing.py --packs 8 --steps 1000 --json packing.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from bridge.results import read_ledger  # torch-free

TARGET_RATIO = 3.0
CONFIG = "quick-denoise"
METRIC_PARTS = ("val", "test")


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _cli(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge.cli", "sweep", *args], capture_output=True, text=True,
                          cwd=ROOT, env=_env(), timeout=timeout)


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def ray_skip_reason() -> str | None:
    """Why the ray column cannot run here, known before running it (None if it may run)."""
    if importlib.util.find_spec("ray") is None:
        return "ray is not importable (pip install 'reconscale[distributed]')"
    return None


def refused(r: dict) -> bool:
    """True when the CLI rejected the executor's flags (usage error, exit 2) instead of running."""
    text = r["stderr_tail"]
    return r["rc"] == 2 and any(s in text for s in ("invalid choice", "unrecognized arguments", "needs ray",
                                                     "applies to --executor"))


def settings(a: argparse.Namespace, cuda: bool) -> dict:
    """The sweep's --set overrides and the run count, from the options (CPU/CUDA/quick defaults)."""
    if a.quick:
        N, seeds, steps = [8, 16], [0], 20
    else:
        N, seeds, steps = [16, 32, 64, 128], ([0, 1, 2, 3] if cuda else [0, 1]), (500 if cuda else 200)
    N = [int(v) for v in a.N.split(",")] if a.N else N
    seeds = list(range(a.seeds)) if a.seeds else seeds
    steps = a.steps or steps
    sets = {"width": "8", "N": json.dumps(N), "seed": json.dumps(seeds), "min_steps": str(steps),
            "max_steps": str(steps), "eval_every": str(max(1, steps // 4)), "plateau_patience": "1000",
            "early_stop_patience": "1000", "device": '"cuda"' if cuda else '"cpu"'}
    if a.quick:
        sets |= {"n_val": "8", "n_test": "4"}
    return {"N": N, "seeds": seeds, "steps": steps, "sets": sets}


def run_column(name: str, executor_args: list[str], set_args: list[str], *, expected: int, timeout: float) -> dict:
    """One sweep into a fresh temporary directory; wall time and the ledger's rows."""
    with tempfile.TemporaryDirectory(prefix=f"sweep_packing_{name}_") as tmp:
        out = Path(tmp) / "sweep"
        args = [CONFIG, "--out", str(out), *set_args, *executor_args, "--quiet"]
        t = time.perf_counter()
        try:
            proc = _cli(*args, timeout=timeout)
            rc, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired:
            rc, err = None, f"timed out after {timeout:.0f} s"
        wall = time.perf_counter() - t
        rows = read_ledger(out) if (out / "ledger.sqlite").exists() else []
    done = [r for r in rows if r["status"] == "done"]
    res = {"name": name, "cmd": "reconscale sweep " + " ".join(a if " " not in a else repr(a) for a in args),
           "executor_args": executor_args, "rc": rc, "wall_s": wall, "runs": len(rows), "done": len(done),
           "expected": expected, "stderr_tail": _last_line(err)[-300:],
           "failed_reasons": sorted({r["reason"] for r in rows if r["status"] == "failed"})[:3],
           "mean_run_wall_s": (sum(r["wall_s"] for r in done) / len(done)) if done else None,
           "devices": sorted({str(r["device"]) for r in done})}
    res["runs_per_min"] = 60.0 * len(done) / wall if done else 0.0
    res["complete"] = rc == 0 and len(done) == expected
    res["metrics"] = {r["run_id"]: {p: r["metrics"].get(p, {}) for p in METRIC_PARTS} for r in done}
    return res


def metric_diff(a: dict, b: dict) -> tuple[float, bool]:
    """(max relative difference, identical) of the val/test metrics of runs present in both ledgers."""
    worst, same = 0.0, set(a) == set(b)
    for rid in set(a) & set(b):
        for part in METRIC_PARTS:
            ma, mb = a[rid][part], b[rid][part]
            same &= set(ma) == set(mb)
            for k in set(ma) & set(mb):
                x, y = float(ma[k]), float(mb[k])
                if x != y:
                    same = False
                    worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-300))
    return worst, same


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 runs of 20 steps")
    ap.add_argument("--json", metavar="FILE", default=None, help="also write every number to this JSON file")
    ap.add_argument("--packs", type=int, default=None, help="runs at once, K (default: 4 on CUDA, usable cores on CPU)")
    ap.add_argument("--N", default=None, help="training-set sizes, comma-separated (default 16,32,64,128)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per N (default 4 on CUDA, 2 on CPU)")
    ap.add_argument("--steps", type=int, default=None, help="training steps per run (default 500 CUDA, 200 CPU)")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--no-pinned", action="store_true",
                    help="skip the sequential column at the packed columns' thread count")
    ap.add_argument("--timeout", type=float, default=1800.0, help="kill a column's command after this many s")
    ap.add_argument("--no-ray", action="store_true",
                    help="skip the Ray column (its start-up dominates a smoke test; the ledgers of every executor "
                         "are compared in tests/empirical/test_executors.py)")
    a = ap.parse_args(argv)
    if a.packs is not None and a.packs < 1:
        ap.error("--packs must be ≥ 1")

    import torch  # noqa: PLC0415 - only to know whether there is a GPU (the runs are subprocesses)

    cuda = torch.cuda.is_available() if a.device == "auto" else a.device == "cuda"
    if cuda and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here")
    cpus = _usable_cpus()
    K = a.packs or (4 if cuda else cpus)
    T = max(1, cpus // K)
    cfg = settings(a, cuda)
    set_args = [x for k, v in cfg["sets"].items() for x in ("--set", f"{k}={v}")]
    t_start = time.perf_counter()
    info = {"python": platform.python_version(), "torch": torch.__version__, "nproc": os.cpu_count(),
            "cpus_usable": cpus, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "loadavg_start": _loadavg()}
    print(f"machine: {info['device']}, usable cpus {cpus}, python {info['python']}, torch {info['torch']}, "
          f"loadavg {info['loadavg_start']}", flush=True)

    dry = _cli(CONFIG, *set_args, "--dry-run")
    if dry.returncode != 0:
        print(f"sweep_packing: error: the sweep's --dry-run failed: {_last_line(dry.stderr)}", file=sys.stderr)
        return 1
    expected = len([ln for ln in dry.stdout.splitlines() if ln.strip()])
    print(f"sweep: {CONFIG}, width 8, N {cfg['N']} × seeds {cfg['seeds']} = {expected} runs of {cfg['steps']} steps "
          f"on {'cuda' if cuda else 'cpu'}; packed columns run K={K} at once with {T} torch thread(s) each", flush=True)

    ray_args = ["--executor", "ray", "--workers", str(K), "--threads-per-run", str(T)]
    ray_args += ["--gpus-per-run", f"{1 / K:.6g}"] if cuda else ["--cpus-per-run", "1"]
    threads_default = torch.get_num_threads()  # what a run of the plain sequential column uses
    if a.quick:  # a smoke test: one thread count for all (torch's default threads on a busy CPU can take minutes)
        columns = [("sequential", ["--executor", "local", "--threads-per-run", str(T)], T)]
    else:
        columns = [("sequential", ["--executor", "local"], threads_default)]
    if T != threads_default and not (a.no_pinned or a.quick):
        columns.append(("sequential-pinned", ["--executor", "local", "--threads-per-run", str(T)], T))
    columns += [("ray", ray_args, T),
                ("process", ["--executor", "process", "--workers", str(K), "--threads-per-run", str(T)], T)]
    skip = "--no-ray" if a.no_ray else ray_skip_reason()
    results: list[dict] = []
    for name, ex_args, threads in columns:
        if name == "ray" and skip:
            print(f"  {name:<17} skipped: {skip}", flush=True)
            results.append({"name": name, "skipped": skip})
            continue
        r = run_column(name, ex_args, set_args, expected=expected, timeout=a.timeout)
        if name == "ray" and refused(r):  # this checkout's CLI does not take --executor ray (yet)
            print(f"  {name:<17} skipped: the CLI refused it: {r['stderr_tail']}", flush=True)
            results.append({"name": name, "skipped": f"the CLI refused it: {r['stderr_tail']}"})
            continue
        r["threads_per_run"] = threads
        results.append(r)
        state = "ok" if r["complete"] else f"INCOMPLETE (rc={r['rc']}: {r['stderr_tail'] or r['failed_reasons']})"
        print(f"  {name:<17} {r['wall_s']:7.1f} s  {r['runs_per_min']:6.1f} runs/min  {r['done']}/{expected} done  "
              f"{state}   [{' '.join(ex_args)}]", flush=True)

    ran = [r for r in results if "skipped" not in r]
    base = {c["name"]: c for c in ran if c["name"].startswith("sequential")}
    for r in ran:
        for key, ref in (("ratio", "sequential"), ("ratio_vs_pinned", "sequential-pinned")):
            b = base.get(ref)
            r[key] = r["runs_per_min"] / b["runs_per_min"] if b and b["runs_per_min"] else None

    # -- metrics agreement (by run id); on the CPU equal thread counts must give identical metrics
    checks, ok_metrics = [], True
    for i, r in enumerate(ran):
        for s in ran[i + 1:]:
            if not (r["complete"] and s["complete"]):
                continue
            rel, same = metric_diff(r["metrics"], s["metrics"])
            must = not cuda and r["threads_per_run"] == s["threads_per_run"]
            checks.append({"a": r["name"], "b": s["name"], "max_rel_diff": rel, "identical": same, "must_match": must,
                           "threads": [r["threads_per_run"], s["threads_per_run"]]})
            ok_metrics &= same or not must
    complete = all(r["complete"] for r in ran)

    info["loadavg_end"] = _loadavg()
    total = time.perf_counter() - t_start
    pinned = "sequential-pinned" in base
    head = ["column", "threads", "wall s", "runs/min", "ratio", *(["vs pinned"] if pinned else []), "done",
            "mean run s", "command"]
    table = [[r["name"], str(r["threads_per_run"]), f"{r['wall_s']:.1f}", f"{r['runs_per_min']:.1f}",
              f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-",
              *([f"{r['ratio_vs_pinned']:.2f}x" if r["ratio_vs_pinned"] is not None else "-"] if pinned else []),
              f"{r['done']}/{expected}", f"{r['mean_run_wall_s']:.2f}" if r["mean_run_wall_s"] is not None else "-",
              " ".join(r["executor_args"])] for r in ran]
    table += [[r["name"], "", "skipped", *[""] * (len(head) - 4), r["skipped"]] for r in results if "skipped" in r]
    wid = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(head, wid)))
    print("  ".join("-" * w for w in wid))
    for t in table:
        print("  ".join(v.ljust(w) for v, w in zip(t, wid)))
    print(f"\nratio = runs/min of the column / runs/min of the sequential sweep ({columns[0][2]} torch thread(s))"
          + ("; vs pinned = the same against the sequential sweep at the packed columns' thread count"
             if pinned else "") + ". Wall times include interpreter, torch (and Ray) start-up.")
    for c in checks:
        verdict = "identical" if c["identical"] else (
            "DIFFER" if c["must_match"] else f"differ (max rel {c['max_rel_diff']:.1e}; "
            + ("cuDNN is not bit-deterministic" if cuda else "thread counts differ: {} vs {}".format(*c["threads"]))
            + ")")
        print(f"metrics {c['a']} vs {c['b']}: {verdict}")
    packed = [r["ratio"] for r in ran if not r["name"].startswith("sequential") and r["complete"] and r["ratio"]]
    best = max(packed) if packed else None
    if cuda:
        if best is None:
            print("no packed column finished: no figure against the target")
        else:
            print(f"best packed / sequential: {best:.2f}x; issue target ≥ {TARGET_RATIO:g}x on one GPU: "
                  f"{'PASS' if best >= TARGET_RATIO else 'FAIL'} (informational)")
    else:
        print(f"GPU figure pending: no CUDA device (the CPU ratio{f' {best:.2f}x' if best else ''} is informational: "
              f"{cpus} usable cores); run this on a CUDA machine for the ≥ {TARGET_RATIO:g}x target")
    print(f"loadavg start {info['loadavg_start']} → end {info['loadavg_end']}; total benchmark time {total:.1f} s")

    if a.json:
        for r in ran:
            r.pop("metrics", None)
        out = {"machine": info, "quick": a.quick, "cuda": cuda, "gpu_pending": not cuda, "config": CONFIG,
               "sets": cfg["sets"], "runs": expected, "packs": K, "threads_per_run": T,
               "threads_sequential": columns[0][2], "columns": results, "metric_checks": checks,
               "best_ratio": best, "target_ratio": TARGET_RATIO, "complete": complete,
               "metrics_ok": ok_metrics, "total_s": total}
        Path(a.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
        print(f"wrote {a.json}")

    if not complete:
        print("ERROR: a sweep did not finish every run", file=sys.stderr)
        return 1
    if not ok_metrics:
        print("ERROR: packed and sequential sweeps gave DIFFERENT metrics", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
