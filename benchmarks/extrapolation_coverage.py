"""Coverage of the reported extrapolation band at 100× the largest N, on synthetic curves with known laws.

Each dataset: ``seeds`` seeds × 7 N (16 … 1024, factor 2) of a known noiseless law times lognormal noise
(``noise`` = 2% by default), per-point seed labels. The band is what ``reconscale fit`` reports: the
law-family envelope of :func:`bridge.extrapolation.envelope` with the seed (cluster) bootstrap of
``β N^α`` and ``c + a N^α`` (``analyse`` passes both; ``--method old``: without the profile members).
A band counts only when it is reported as a number (``identified`` as in ``bridge.report``: finite and
not worse than the centre at the largest N); the rest are "not identified" and their rate is printed.

Families (parameters drawn per dataset from ``rng``):

* ``power`` — ``β N^α``, α ∈ [−0.8, −0.3];
* ``floor`` — ``c + a N^α`` with the floor 0.3–1× the gap ``a N_max^α`` at the largest N;
* ``strong-floor`` — the same with the floor 2–6× the gap at the largest N;
* ``break-floor-slow`` — one-break BNSL ``c + b N^(−c0) (1 + (N/d)^(1/f))^(−c1 f)`` whose slope flattens
  (−c0 → −(c0 + c1), c1 < 0) at a break d ∈ [64, 256] inside the data, with a floor 0.5–2× the gap at the
  largest N;
* ``break-floor-steep`` — the same with a slope that steepens (c1 > 0);
* ``break`` — the steepening BNSL without a floor (far out it keeps steepening past what 7 N show: the
  report says "not identified" for all of them, before and after the fix).

For every miss the script prints why: the kept laws, each law's band relative to the truth, the floor
estimate against the true floor, and the backtest z of every law.

    python benchmarks/extrapolation_coverage.py [--reps 20] [--boot 100] [--method new|old] [--seeds 3] [--family F]
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any, Callable

import numpy as np

from bridge.extrapolation import envelope
from bridge.laws import FloorPowerLaw, PowerLaw
from bridge.uncertainty import bootstrap

N_GRID = 2.0 ** np.arange(4, 11)  # 16 … 1024
FACTOR = 100.0
FAMILIES = ("power", "floor", "strong-floor", "break-floor-slow", "break-floor-steep", "break")


def bnsl(N: np.ndarray, c: float, b: float, c0: float, c1: float, d: float, f: float) -> np.ndarray:
    """``c + b N^(−c0) (1 + (N/d)^(1/f))^(−c1 f)``."""
    ln = np.log(N)
    return c + np.exp(math.log(b) - c0 * ln - c1 * f * np.logaddexp(0.0, (ln - math.log(d)) / f))


def draw_law(family: str, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """A noiseless risk curve of ``family`` with parameters drawn from ``rng``."""
    nmax = N_GRID.max()
    if family == "power":
        beta, alpha = rng.uniform(0.5, 2.0), rng.uniform(-0.8, -0.3)
        return lambda N: beta * N**alpha
    if family in ("floor", "strong-floor"):
        a, alpha = rng.uniform(0.5, 2.0), rng.uniform(-1.0, -0.4)
        ratio = rng.uniform(0.3, 1.0) if family == "floor" else rng.uniform(2.0, 6.0)
        c = ratio * a * nmax**alpha
        return lambda N: c + a * N**alpha
    c0 = rng.uniform(0.2, 0.5)
    if family == "break-floor-slow":  # the slope flattens from −c0 to −(c0 + c1), c1 < 0
        c0 = rng.uniform(0.6, 1.0)
        c1 = -rng.uniform(0.3, 0.5) * c0
    else:  # steepens
        c1 = rng.uniform(0.3, 0.7)
    d = math.exp(rng.uniform(math.log(64.0), math.log(256.0)))
    f = rng.uniform(0.3, 1.0)
    b = rng.uniform(0.5, 2.0)
    gap = float(bnsl(np.array([nmax]), 0.0, b, c0, c1, d, f)[0])
    c = rng.uniform(0.5, 2.0) * gap if family.startswith("break-floor") else 0.0
    return lambda N: bnsl(np.asarray(N, float), c, b, c0, c1, d, f)


def draw_data(law: Callable, seeds: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(N, y, groups), each (seeds·7,): lognormal noise of relative size ``noise`` per point."""
    N = np.tile(N_GRID, seeds)
    g = np.repeat(np.arange(seeds), N_GRID.size)
    y = law(N) * np.exp(noise * rng.standard_normal(N.size))
    return N, y, g


def reported_band(N: np.ndarray, y: np.ndarray, g: np.ndarray, n_new: float, *, n_boot: int, level: float,
                  profile: bool, rng: np.random.Generator) -> dict[str, Any]:
    """The band ``reconscale fit`` reports at ``n_new`` and whether it is reported as a number.

    The envelope with the seed bootstraps ``analyse`` passes (``profile=False``: the method before the
    fix). Identified as in ``bridge.report``: a finite band whose upper end is not worse than the
    envelope's centre at the largest N (``n_new`` is at most 100× the largest N here).
    """
    boots = {"PowerLaw": bootstrap(PowerLaw(), N, y, groups=g, n_boot=n_boot, rng=rng),
             "FloorPowerLaw": bootstrap(FloorPowerLaw(), N, y, groups=g, n_boot=n_boot, rng=rng)}
    env = envelope(N, y, [N.max(), n_new], level=level, boots=boots, profile=profile)
    lo, hi = float(env.lo[1]), float(env.hi[1])
    reason = ""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        reason = "unbounded band"
    elif hi > env.predict[0]:
        reason = f"band reaches values worse than at the largest N (hi {hi:.3g} > {env.predict[0]:.3g})"
    return {"env": env, "lo": lo, "hi": hi, "identified": not reason, "reason": reason}


def why_missed(env: Any, truth: float, true_floor: float) -> str:
    """One line: kept laws, each law's band / truth, the floor fit and the backtest z's."""
    parts = []
    for k, (p, lo, hi) in env.bands.items():
        tag = "kept" if k in env.kept else "rejected"
        z = env.backtests[k]["z"] if k in env.backtests else math.nan
        parts.append(f"{k} [{lo[-1] / truth:.2f}, {hi[-1] / truth:.2f}]×truth z={z:+.1f} {tag}")
    fl = env.laws.get("FloorPowerLaw")
    flo = f"floor fit {fl.floor_ / true_floor:.2f}× true" if fl is not None and true_floor > 0 else ""
    if "FloorPowerLaw" not in env.kept:
        cause = "the backtest rejected c + a N^α"
    elif not env.bands["FloorPowerLaw"][1][-1] <= truth <= env.bands["FloorPowerLaw"][2][-1]:
        cause = "c + a N^α over all N is biased (" + (flo or "no true floor") + ")"
    else:
        cause = "?"
    return f"[{cause}] " + "; ".join(parts) + (f"; {flo}" if flo else "")


def run(reps: int, n_boot: int, seeds: int, noise: float, method: str, level: float, seed: int,
        verbose: bool, families: tuple[str, ...] = FAMILIES) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed)
    n_new = FACTOR * N_GRID.max()
    out = {}
    for fam in families:
        hits = ident = 0
        widths = []
        misses = []
        for r in range(reps):
            law = draw_law(fam, rng)
            N, y, g = draw_data(law, seeds, noise, rng)
            truth = float(law(np.array([n_new]))[0])
            true_floor = float(law(np.array([1e300]))[0])
            res = reported_band(N, y, g, n_new, n_boot=n_boot, level=level, profile=method == "new", rng=rng)
            if not res["identified"]:
                if verbose:
                    print(f"  {fam} #{r}: not identified: {res['reason']}")
                continue
            ident += 1
            widths.append(res["hi"] / res["lo"])
            if res["lo"] <= truth <= res["hi"]:
                hits += 1
            else:
                side = "below" if res["hi"] < truth else "above"
                misses.append(f"  {fam} #{r}: band {side} truth; {why_missed(res['env'], truth, true_floor)}")
        cov = hits / ident if ident else math.nan
        out[fam] = {"coverage": cov, "identified": ident / reps, "width": float(np.median(widths)) if widths else math.nan}
        print(f"{fam:13s} coverage {hits}/{ident} = {cov:.2f}   not identified {reps - ident}/{reps}   "
              f"median width hi/lo {out[fam]['width']:.2f}", flush=True)
        if verbose:
            for line in misses:
                print(line)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--boot", type=int, default=100)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--noise", type=float, default=0.02)
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--method", choices=("new", "old"), default="new")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--family", action="append", choices=FAMILIES, default=None)
    a = p.parse_args()
    t = time.perf_counter()
    run(a.reps, a.boot, a.seeds, a.noise, a.method, a.level, a.seed, not a.quiet, tuple(a.family or FAMILIES))
    print(f"({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
