"""Write the explorer's photos spectra (``bridge/data/photos-{8,16,32}.npz``) and measure what a Fourier
(stationary) spectrum would change.

What it does
------------
1. **Generate** — for each crop side S in 8, 16, 32 it runs the project's own pipeline,

       reconscale spectrum quick-denoise --set size=S --examples E --out TMP.npz

   (Σ_P = XᵀX/E over E training crops of the photos bundled with scikit-image, grey, pixel values in
   [0, 1]; its full eigendecomposition) and keeps only what the explorer's theory needs: the
   eigenvalues ``P_mu`` (n = S²,), float64, with ``shape`` and ``meta`` (the command, the source's
   own description). Denoising with train = test distribution sees Σ only through its eigenvalues
   (the learned W rotates with the basis), so neither the eigenvectors (4 MB at 32×32 in float32)
   nor the test images' Σ_Q are shipped: the three files hold about 12 KB of numbers.
2. **Measure** (``--compare``) — at 16×16 the same pipeline with ``--method stationary`` (the
   periodogram: eigenvalues of Σ_P's projection on circulant matrices, a Fourier basis) against the
   full covariance above: the data-free curves of the explorer (large-N law and random-matrix form,
   GD at k_opt and least squares, σ = 25/255) and the largest change in dB. The shipped files use
   the full covariance at every size, so this approximation is not used; the number says what it
   would cost.

Needs the ``empirical`` extra (torch, scikit-image) for step 1 only; the explorer reads the files with
numpy. Usage::

    python benchmarks/photo_spectra.py [--examples 65536] [--sizes 8,16,32] [--out bridge/data] [--compare]
                                       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (8, 16, 32)
CONFIG = "quick-denoise"


def _spectrum(size: int, examples: int, method: str, out: Path) -> list[str]:
    """Run ``reconscale spectrum`` (as a user runs it) and return its command line."""
    argv = ["spectrum", CONFIG, "--set", f"size={size}", "--examples", str(examples), "--method", method,
            "--out", str(out), "--quiet"]
    r = subprocess.run([sys.executable, "-m", "bridge.cli", *argv], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    if r.returncode != 0:
        raise SystemExit(f"reconscale {' '.join(argv)} failed: {r.stderr.strip()}")
    return ["reconscale", *argv[:-2]]


def _compact(raw: Path, target: Path, command: list[str]) -> dict:
    """Keep P_mu, shape and a meta record of where they came from; write atomically."""
    from theory.infra.io import atomic_write

    with np.load(raw, allow_pickle=False) as z:
        mu, shape, meta = np.asarray(z["P_mu"], dtype=np.float64), np.asarray(z["shape"]), json.loads(str(z["meta"]))
    record = {"command": " ".join(command), "P": meta["P"], "examples": meta["examples"], "method": meta["method"],
              "n": int(mu.size), "config": meta["config"]["name"], "data": meta["config"]["data"],
              "pixel_range": "[0, 1] (grey, ITU-R 601 luma)", "note": "eigenvalues of the uncentred second moment "
              "E[x xᵀ] of the training crops, descending; the explorer's signal=photos"}
    atomic_write(target, lambda fh: np.savez(fh, P_mu=mu, shape=shape, meta=json.dumps(record, default=str)))
    return {"file": str(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target), "n": int(mu.size),
            "bytes": target.stat().st_size, "trace_per_pixel": float(mu.sum() / mu.size)}


def _curves(mu: np.ndarray, form: str) -> dict[str, np.ndarray]:
    """The explorer's data-free gd-oracle and ols curves for eigenvalues ``mu`` (denoising, σ = 25/255).

    The random-matrix form is evaluated point by point: its Stieltjes solver fails on these spectra at
    some N between n/4 and 4n (``theory.asymptotics.solve_stieltjes``); those points are NaN here.
    """
    from bridge.explore_curves import KMAX
    from theory import Estimator, Problem, expected_risk
    from theory.datamodel import DataSpectrum

    Ns = [16, 4096, 16384] if form == "asymptotic" else list(np.geomspace(10, 1e5, 16).round().astype(int))
    prob = Problem(DataSpectrum(mu).signal(), 25 / 255)
    out: dict[str, list] = {"gd-oracle": [], "ols": []}
    for N in Ns:
        for est, values in out.items():
            try:
                (c,) = expected_risk(prob, [N], [Estimator(est, kmax=KMAX)], method=form, runs=1,
                                     rng=np.random.default_rng(0))
                values.append(float(c.mean[0, 0]))
            except ValueError:
                values.append(np.nan)
    return {"N": np.asarray(Ns), **{k: np.asarray(v) for k, v in out.items()}}


def _compare(examples: int, tmp: Path, cov16: Path) -> dict:
    raw = tmp / "stationary16.npz"
    _spectrum(16, examples, "stationary", raw)
    with np.load(raw) as z:
        mu_st = np.asarray(z["P_mu"])
    with np.load(cov16) as z:
        mu_cov = np.asarray(z["P_mu"])
    res: dict = {"trace_rel_diff": float(abs(mu_st.sum() - mu_cov.sum()) / mu_cov.sum())}
    for form in ("large-n", "asymptotic"):
        a, b = _curves(mu_cov, form), _curves(mu_st, form)
        for est in ("gd-oracle", "ols"):
            keep = np.isfinite(a[est]) & np.isfinite(b[est])
            if not keep.any():
                res[f"{form} {est}"] = {"not identified": "the random-matrix form failed at every N"}
                continue
            db = 10 * np.log10(b[est][keep] / a[est][keep])  # PSNR(full) − PSNR(Fourier)
            i = int(np.argmax(np.abs(db)))
            res[f"{form} {est}"] = {"max_abs_dB": float(abs(db[i])), "at_N": int(a["N"][keep][i]),
                                    "max_rel_risk": float(np.max(np.abs(b[est][keep] / a[est][keep] - 1))),
                                    "N": a["N"][keep].tolist(), "dB": db.tolist()}
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=65536, help="training crops per spectrum (default 65536)")
    p.add_argument("--out", default=str(ROOT / "bridge" / "data"), help="directory of the shipped files")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)), help="crop sides to write (default 8,16,32)")
    p.add_argument("--compare", action="store_true", help="also measure the Fourier approximation at 16×16")
    p.add_argument("--json", default=None, help="write the numbers to this file")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {"examples": a.examples, "files": []}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sizes = [int(v) for v in a.sizes.split(",")]
        if a.compare and 16 not in sizes:
            p.error("--compare needs the 16×16 covariance: include 16 in --sizes")
        for size in sizes:
            raw = tmp / f"covariance{size}.npz"
            cmd = _spectrum(size, a.examples, "covariance", raw)
            res["files"].append(_compact(raw, out / f"photos-{size}.npz", cmd))
            print(f"photos-{size}.npz: n = {size * size}, {res['files'][-1]['bytes']:,} bytes", flush=True)
        if a.compare:
            res["fourier_vs_full_16"] = cmp = _compare(a.examples, tmp, tmp / "covariance16.npz")
            print(f"16×16, Fourier (stationary) spectrum against the full covariance "
                  f"(tr differs by {cmp['trace_rel_diff']:.1e}):")
            for k, v in cmp.items():
                if isinstance(v, dict) and "max_abs_dB" in v:
                    print(f"  {k:<22} max |ΔPSNR| {v['max_abs_dB']:.3f} dB at N = {v['at_N']:,} "
                          f"(risk {100 * v['max_rel_risk']:.1f}%)")
    res["seconds"] = time.perf_counter() - t0
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
