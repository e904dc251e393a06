"""The deterministic equivalent of a data spectrum against Monte Carlo, on the excess risk, and its speed.

Setting: an image-like second-moment model on h×w crops (n = h·w): a DC spike (uncentred pixels,
mean ≈ 0.45) and a 1/|k|³ power spectrum, eigenvalues over > 5 decades; denoising at σ = 25/255.
Training distribution P and test distribution Q differ:

* ``stationary``: Q has a flatter spectrum than P, both periodic stationary (shared Fourier basis,
  the diagonal path of the equivalent);
* ``general``: P is the full covariance estimated from 4n synthetic crops of that field (distinct
  eigenvalues in its own eigenbasis, as from real data), Q the true field seen through a smooth
  vignetting window (Σ_Q = D Σ D, not stationary): P and Q do not commute.

For each N, k̂ = argmin over k ≤ kmax of the equivalent's expected curve E R_Q(W^k) (``gd-argmin``);
Monte Carlo (Rao–Blackwellised: Y drawn from P, X integrated out) evaluates GD at the same k̂.
The table reports both, the excess R − R*_Q, and the equivalent's error relative to the Monte Carlo
excess. Times: the equivalent's whole curve (argmin over k included), and Monte Carlo.

    python benchmarks/data_theory.py [--case stationary|general|both] [--runs 10] [--quick] [--json FILE]

``--quick`` (smoke test, seconds): 8×8 crops, 3 values of N, 10 draws. Monte Carlo draws default to
100 for N ≤ 512 and 10 above (the per-draw spread of the excess falls with N).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from theory.data_asymptotics import data_equivalent_curves, shift_spectrum
from theory.datamodel import DataModel, DataSpectrum, data_montecarlo, second_moment_spectrum
from theory.montecarlo import Estimator

SIGMA = 25 / 255
N_FULL = [64, 128, 256, 512, 2048, 4096, 8192, 16384]  # skips the interpolation threshold N = n = 1024
N_QUICK = [16, 32, 256]
KMAX = 10**6


def image_spectrum(h: int, w: int, *, exponent: float, scale: float, mean: float) -> np.ndarray:
    """Per-frequency power (fft2 order): DC = n·mean², else scale/|k|^exponent (k in cycles per crop)."""
    ky, kx = np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij")
    k2 = ky**2 + kx**2
    return np.where(k2 > 0, scale / np.maximum(k2, 1.0) ** (exponent / 2), h * w * mean**2).reshape(-1)


def make_model(case: str, h: int, w: int) -> DataModel:
    """P and Q of a case (see the module doc)."""
    P_true = image_spectrum(h, w, exponent=3.0, scale=0.5, mean=0.45)
    if case == "stationary":
        P = DataSpectrum(P_true, basis="fourier", shape=(h, w), label="P: 1/|k|^3")
        Q = DataSpectrum(image_spectrum(h, w, exponent=2.6, scale=0.3, mean=0.5), basis="fourier", shape=(h, w),
                         label="Q: 1/|k|^2.6")
        return DataModel(P, SIGMA, Q)
    # general: P is the full covariance of 4n synthetic crops (distinct eigenvalues, its own eigenbasis,
    # as from real data); Q is the true field seen through a smooth vignetting window (not stationary)
    rng = np.random.default_rng(0)
    n_ex = 4 * h * w
    white = np.fft.fft2(rng.standard_normal((n_ex, h, w)), norm="ortho")
    X = np.fft.ifft2(white * np.sqrt(P_true.reshape(h, w)), norm="ortho").real.reshape(n_ex, -1)
    P = second_moment_spectrum(X, method="covariance", shape=(h, w), label="P: covariance of 4n crops")
    y, x = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    g = (1.0 - 0.35 * (x**2 + y**2)).reshape(-1)
    SQ = g[:, None] * DataSpectrum(P_true, basis="fourier", shape=(h, w)).matrix() * g[None, :]
    mu, V = np.linalg.eigh(SQ)
    Q = DataSpectrum(np.clip(mu[::-1], 0, None), V=np.ascontiguousarray(V[:, ::-1]), label="Q: vignetted field")
    return DataModel(P, SIGMA, Q)


def run_case(case: str, h: int, w: int, Ns: list[int], runs: int | None) -> dict:
    model = make_model(case, h, w)
    t = time.perf_counter()
    sp = shift_spectrum(model)
    t_sp = time.perf_counter() - t
    rows = []
    de_total = t_sp
    for N in Ns:
        t = time.perf_counter()
        gd = data_equivalent_curves(model, [N], [Estimator("gd-argmin", kmax=KMAX)], spectrum=sp)[0]
        de_s = time.perf_counter() - t
        de_total += de_s
        k = int(gd.k_opt[0, 0])
        de = float(gd.mean[0, 0])
        n_runs = runs or (100 if N <= 512 else 10)
        t = time.perf_counter()
        mc = data_montecarlo(model, [N], [Estimator("gd", steps=(k,))], runs=n_runs, rng=np.random.default_rng(N),
                             rao_blackwell=True)[0]
        mc_s = time.perf_counter() - t
        m, s = float(mc.mean[0, 0]), float(mc.sem[0, 0])
        ex = m - model.floor_Q
        rows.append({"N": N, "k_hat": k, "de": de, "mc": m, "mc_sem": s, "mc_excess": ex, "runs": n_runs,
                     "rel_err_excess": (de - m) / ex, "sem_over_excess": s / ex, "de_s": de_s, "mc_s": mc_s})
        print(f"  ({case}) N = {N}: k̂ = {k}, error on the excess {100 * (de - m) / ex:+.2f}% "
              f"(SEM {100 * s / ex:.2f}%, {n_runs} draws), equivalent {de_s:.2f} s, Monte Carlo {mc_s:.1f} s", flush=True)
    return {"case": case, "n": h * w, "shape": [h, w], "sigma": SIGMA, "floor_Q": model.floor_Q,
            "floor_P_on_Q": model.floor_P_on_Q, "eig_decades": float(np.log10(model.train.mu.max() / model.train.mu.min())),
            "distinct_eigenvalues": int(sp.lam.size), "spectrum_s": t_sp, "de_total_s": de_total, "rows": rows}


def print_case(res: dict) -> None:
    print(f"\n[{res['case']}] n = {res['n']} ({res['shape'][0]}×{res['shape'][1]}), σ = {res['sigma']:.4f}, "
          f"Σ_P over {res['eig_decades']:.1f} decades, {res['distinct_eigenvalues']} distinct eigenvalues of Σ_y,P; "
          f"R*_Q = {res['floor_Q']:.5f}, R_Q(W*_P) = {res['floor_P_on_Q']:.5f}")
    print(f"{'N':>6} {'k̂':>8} {'equivalent':>11} {'monte carlo':>20} {'excess':>9} {'err/excess':>10} "
          f"{'sem/excess':>10} {'DE s':>6} {'MC s':>6}")
    for r in res["rows"]:
        print(f"{r['N']:>6} {r['k_hat']:>8} {r['de']:>11.6f} {r['mc']:>11.6f} ± {r['mc_sem']:.6f} {r['mc_excess']:>9.2e} "
              f"{100 * r['rel_err_excess']:>9.2f}% {100 * r['sem_over_excess']:>9.2f}% {r['de_s']:>6.2f} {r['mc_s']:>6.1f}")
    worst = max(abs(r["rel_err_excess"]) for r in res["rows"])
    print(f"equivalent curve ({len(res['rows'])} values of N, spectrum {res['spectrum_s']:.1f} s included): {res['de_total_s']:.1f} s; "
          f"worst |error| on the excess {100 * worst:.2f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=["stationary", "general", "both"], default="both")
    ap.add_argument("--runs", type=int, default=None,
                    help="Monte Carlo draws per N (default 100 for N ≤ 512, 10 above: the per-draw spread falls with N)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    h = w = 8 if a.quick else 32
    Ns = N_QUICK if a.quick else N_FULL
    runs = a.runs or (10 if a.quick else None)
    cases = ["stationary", "general"] if a.case == "both" else [a.case]
    out = {"quick": a.quick, "N": Ns, "runs": runs, "kmax": KMAX, "cases": []}
    for c in cases:
        res = run_case(c, h, w, Ns, runs)
        print_case(res)
        out["cases"].append(res)
    out["rows"] = out["cases"][0]["rows"]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
