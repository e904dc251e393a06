"""Accuracy of the data-free expected-risk forms against Rao–Blackwellised Monte Carlo.

For each (n, d, σ, N) the early-stopping step k* is the argmin of the random-matrix (RMT) curve;
the table compares E R(W^{k*}) from Monte Carlo (mean ± SEM over draws of Y, population fixed),
the RMT deterministic equivalent and the large-N law, plus least squares where N > n + 1 (exact
identity R*(N−1)/(N−n−1)). Relative errors are (form − MC)/MC.

``--quick`` (a smoke test, ~5 s): two points, (200, 20, 0.1, 800) with least squares and
(400, 40, 0.1, 200), 6 draws each unless ``--runs`` is given.

    python benchmarks/asymptotic_accuracy.py [--runs 20] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from theory import (Problem, SubspaceSignal, TrainingSpectrum, argmin_curve, conditional_risk_path, gd_filter,
                    large_n_curve, ols_expected_risk, rmt_curve)
from theory.montecarlo import draw_rng

POINTS = [  # (n, d, sigma, N)
    (400, 40, 0.1, 40), (400, 40, 0.1, 200), (400, 40, 0.1, 800), (400, 40, 0.1, 6400),
    (400, 40, 0.3, 100), (400, 40, 0.3, 3200),
    (1000, 100, 0.1, 256), (1000, 100, 0.1, 4096),
    (100, 10, 0.05, 10), (100, 10, 0.05, 30), (100, 10, 0.05, 256), (100, 10, 0.05, 4096),
    (100, 10, 0.1, 30), (100, 10, 0.1, 1024),
    (1000, 10, 0.1, 100), (1000, 10, 0.1, 4096), (1000, 50, 0.1, 100), (1000, 50, 0.1, 4096),
]
# smoke test: one point above n + 1 (so least squares and its exact identity are exercised), one below n
QUICK = [(200, 20, 0.1, 800), (400, 40, 0.1, 200)]


def measure(n: int, d: int, sigma: float, N: int, runs: int) -> dict:
    pop = Problem(SubspaceSignal(n, d), sigma).population(rng=np.random.default_rng(1))
    t = time.perf_counter()
    k, rmt = argmin_curve(lambda ks: rmt_curve(pop, N, "gd", ks), 5000, dense=False)
    t_rmt = time.perf_counter() - t
    ln = float(large_n_curve(pop, N, "gd", [k])[0])
    vals, ols = [], []
    for run in range(runs):
        _, Y = pop.sample_latent(N, rng=draw_rng(7, N, run))
        spec = TrainingSpectrum.fit(Y)
        f = gd_filter(spec.lam, [k], pop.paper_lr(N))[0]
        vals.append(float(conditional_risk_path(pop, spec, f)[0]))
        if N > n + 1:
            ols.append(float(conditional_risk_path(pop, spec, np.ones((1, spec.rank)))[0]))
    mc, sem = float(np.mean(vals)), float(np.std(vals, ddof=1) / np.sqrt(runs))
    row = {"n": n, "d": d, "sigma": sigma, "N": N, "k_star": k, "mc": mc, "mc_sem": sem, "rmt": rmt, "large_n": ln,
           "rmt_err": (rmt - mc) / mc, "large_n_err": (ln - mc) / mc, "floor": pop.floor, "rmt_seconds": t_rmt}
    if ols:
        row |= {"ols_mc": float(np.mean(ols)), "ols_mc_sem": float(np.std(ols, ddof=1) / np.sqrt(runs)),
                "ols_exact": ols_expected_risk(pop, N), "ols_rmt": float(rmt_curve(pop, N, "ols")[0])}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=None, help="Monte Carlo draws per point (default 20; 6 with --quick)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 points, 6 draws")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    runs = a.runs if a.runs is not None else (6 if a.quick else 20)
    if runs < 2:
        ap.error("--runs must be ≥ 2 (a standard error needs two draws)")
    rows = [measure(*p, runs=runs) for p in (QUICK if a.quick else POINTS)]
    print(f"{'n':>5} {'d':>4} {'σ':>5} {'N':>6} {'k*':>5} {'MC (±SEM)':>20} {'RMT':>9} {'err':>7} {'large-N':>9} {'err':>7}  OLS MC / exact / RMT")
    for r in rows:
        ols = f"  {r['ols_mc']:.5f} / {r['ols_exact']:.5f} / {r['ols_rmt']:.5f}" if "ols_mc" in r else ""
        print(f"{r['n']:>5} {r['d']:>4} {r['sigma']:>5} {r['N']:>6} {r['k_star']:>5} {r['mc']:>11.5f} ±{r['mc_sem']:.5f} "
              f"{r['rmt']:>9.5f} {100 * r['rmt_err']:>6.1f}% {r['large_n']:>9.5f} {100 * r['large_n_err']:>6.1f}%{ols}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
