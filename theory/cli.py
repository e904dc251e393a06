"""``reconscale theory curve|setups`` — the theory half of the command line.

Bad input never produces a traceback: one line on stderr naming the flag, exit code 2, nothing on
stdout and nothing written to disk.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from .curves import METHODS, expected_risk, to_records
from .datamodel import DataModel, DataSpectrum, data_expected_risk
from .infra.command import Parser, UsageError, run_command
from .infra.io import write_table
from .montecarlo import ESTIMATOR_NAMES, Estimator
from .operators import make_operator
from .problem import Problem, check_target_sigma
from .setups import parse_setups, run_setups
from .signals import SpectralSignal, SubspaceSignal

__all__ = ["main", "build_parser"]


def _int_list(flag: str):
    def parse(text: str) -> list[int]:
        try:
            vals = [int(v) for v in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a comma list of integers (e.g. 8,100,1024)") from None
        return vals

    parse.__name__ = flag
    return parse


def _float_list(text: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma list of numbers (e.g. 0.1,1)") from None
    if not all(math.isfinite(v) for v in vals):
        raise argparse.ArgumentTypeError(f"'{text}' contains a non-finite number")
    return vals


def _lr(text: str) -> float | str:
    if text == "paper":
        return text
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is neither 'paper' nor a number") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive number")
    return v


def _shape(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an image shape like 10x10") from None
    return h, w


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="reconscale theory", description="Risk of linear estimators learned from N examples.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    c = sub.add_parser("curve", help="expected risk vs N for chosen estimators",
                       description="Expected risk E R(Ŵ) on an N grid; JSON or CSV records on stdout.")
    c.add_argument("--n", type=int, default=100, help="ambient dimension n (default 100)")
    c.add_argument("--d", type=int, default=10, help="subspace dimension d < n (default 10)")
    c.add_argument("--sigma", type=float, default=0.1, help="noise level σ ≥ 0 (default 0.1)")
    c.add_argument("--target-sigma", type=float, default=0.0,
                   help="noise σ_t ≥ 0 of the training targets t = x + z′ (Noise2Noise-style; default 0: clean)")
    c.add_argument("--N", type=_int_list("N"), default=[8, 100, 1024], help="training-set sizes, comma list")
    c.add_argument("--estimator", default="gd-oracle,ols,pca,optimal",
                   help=f"comma list of {', '.join(ESTIMATOR_NAMES)}")
    c.add_argument("--k", type=_int_list("k"), default=None, help="GD steps for gd (times in steps of η for gf), comma list")
    c.add_argument("--kmax", type=int, default=5000, help="largest k for gd-oracle/gd-argmin/gd-val (default 5000)")
    c.add_argument("--lam", type=_float_list, default=None, help="ridge strengths for estimator ridge, comma list")
    c.add_argument("--nval", type=int, default=0, help="held-out examples for estimator gd-val")
    c.add_argument("--method", choices=METHODS, default="montecarlo")
    c.add_argument("--lr", type=_lr, default="paper", help="'paper' or a step η on ½‖WY−X‖² (default paper)")
    c.add_argument("--operator", choices=("denoise", "mri", "sr"), default="denoise")
    c.add_argument("--shape", type=_shape, default=None, help="image shape HxW for mri/sr (default square √n×√n)")
    c.add_argument("--accel", type=float, default=4.0, help="MRI acceleration (default 4)")
    c.add_argument("--center-fraction", type=float, default=0.08, help="MRI fully sampled centre fraction (default 0.08)")
    c.add_argument("--mask", choices=("equispaced", "random"), default="equispaced", help="MRI mask type")
    c.add_argument("--mask-seed", type=int, default=0, help="MRI mask seed (default 0)")
    c.add_argument("--scale", type=int, default=2, help="super-resolution factor s (default 2)")
    c.add_argument("--signal", choices=("subspace", "powerlaw", "spectrum"), default="subspace",
                   help="subspace (n, d), powerlaw (α) or spectrum (the eigenvalues in --spectrum; denoising)")
    c.add_argument("--spectrum", default=None,
                   help="for --signal spectrum: an .npz with the eigenvalues P_mu, e.g. from `reconscale spectrum`")
    c.add_argument("--alpha", type=float, default=1.0, help="power-law exponent α for --signal powerlaw")
    c.add_argument("--basis", choices=("identity", "random"), default="identity", help="power-law signal basis")
    c.add_argument("--runs", type=int, default=200, help="Monte Carlo draws per N (default 200)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--backend", choices=("numpy", "cupy", "auto"), default="numpy")
    c.add_argument("--format", choices=("json", "csv"), default="json")
    c.add_argument("--out", default=None, help="write to this file instead of stdout")
    c.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("setups", help="the paper's 8 theory setups into one tidy table",
                       description="Compute the paper's theory setups (per-run rows) into one table file; resumable.")
    s.add_argument("--setups", default="all", help="which setups, e.g. 1-5,7 (default all 8)")
    s.add_argument("--runs", type=int, default=5, help="runs per point (default 5, as the paper)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--kmax", type=int, default=5000, help="oracle early stopping searches k ≤ kmax")
    s.add_argument("--method", choices=("montecarlo", "rao-blackwell"), default="montecarlo")
    s.add_argument("--target-sigma", type=float, default=0.0,
                   help="noise σ_t ≥ 0 of the training targets, every setup (Noise2Noise-style; default 0: clean)")
    s.add_argument("--backend", choices=("numpy", "cupy", "auto"), default="numpy")
    s.add_argument("--format", choices=("csv", "json"), default="csv")
    s.add_argument("--out", default="theory_setups.csv", help="table file (default theory_setups.csv)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _target_sigma(value: float) -> float:
    """--target-sigma by the library's rule (:func:`theory.problem.check_target_sigma`), as a usage error."""
    try:
        return check_target_sigma(value)
    except ValueError:
        raise UsageError(f"--target-sigma {value} must be a finite number ≥ 0 (0: clean targets)") from None


def _data_spectrum(a: argparse.Namespace) -> DataSpectrum:
    """--signal spectrum: the eigenvalues ``P_mu`` of an .npz file (denoising only: the basis drops out)."""
    if a.spectrum is None:
        raise UsageError("--signal spectrum needs --spectrum FILE.npz holding the eigenvalues P_mu "
                         "(e.g. from `reconscale spectrum`)")
    if a.operator != "denoise":
        # with train = test distribution denoising sees only the eigenvalues; an operator sees the eigenvectors
        raise UsageError(f"--signal spectrum with --operator {a.operator}: the eigenvalues fix the risk of "
                         "denoising only; use --operator denoise")
    try:
        with np.load(a.spectrum, allow_pickle=False) as z:
            mu = np.asarray(z["P_mu"], dtype=float)
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"--spectrum {a.spectrum}: not an .npz file with the eigenvalues P_mu "
                         f"({type(e).__name__}); write one with `reconscale spectrum`") from None
    if mu.size != a.n:
        raise UsageError(f"--spectrum {a.spectrum} holds {mu.size} eigenvalues but --n is {a.n}: pass --n {mu.size}")
    try:
        return DataSpectrum(mu, label=f"spectrum({Path(a.spectrum).name})")
    except ValueError as e:
        raise UsageError(f"--spectrum {a.spectrum}: {e}") from None


def _problem(a: argparse.Namespace):
    if a.n < 2:
        raise UsageError(f"--n {a.n} must be an integer ≥ 2")
    if a.signal == "subspace" and not 1 <= a.d < a.n:
        raise UsageError(f"--d {a.d} must satisfy 1 ≤ d < n = {a.n}")
    if not (math.isfinite(a.sigma) and a.sigma >= 0):
        raise UsageError(f"--sigma {a.sigma} must be a finite number ≥ 0")
    target_sigma = _target_sigma(a.target_sigma)
    if a.spectrum is not None and a.signal != "spectrum":
        raise UsageError(f"--spectrum is for --signal spectrum, not --signal {a.signal}: add --signal spectrum")
    if a.signal == "powerlaw" and not (math.isfinite(a.alpha) and a.alpha >= 0):
        raise UsageError(f"--alpha {a.alpha} must be a finite number ≥ 0")
    if a.signal == "spectrum":
        signal = _data_spectrum(a).signal()
    elif a.signal == "subspace":
        signal = SubspaceSignal(a.n, a.d)
    else:
        signal = SpectralSignal.powerlaw(a.n, a.alpha, basis=a.basis)
    if a.operator == "denoise":
        op = None
    else:
        shape = a.shape
        if shape is None:
            r = math.isqrt(a.n)
            if r * r != a.n:
                raise UsageError(f"--operator {a.operator} needs an image: --n {a.n} is not a square; give --shape HxW")
            shape = (r, r)
        if shape[0] * shape[1] != a.n:
            raise UsageError(f"--shape {shape[0]}x{shape[1]} has {shape[0] * shape[1]} pixels but --n is {a.n}")
        try:
            if a.operator == "mri":
                op = make_operator("mri", shape, accel=a.accel, center_fraction=a.center_fraction, mask=a.mask, seed=a.mask_seed)
            else:
                op = make_operator("sr", shape, scale=a.scale)
        except ValueError as e:
            raise UsageError(f"--operator {a.operator}: {e}") from None
    return Problem(signal, a.sigma, op, target_sigma=target_sigma)


def _estimators(a: argparse.Namespace):
    names = [t.strip() for t in a.estimator.split(",")]
    out = []
    for name in names:
        if name not in ESTIMATOR_NAMES:
            raise UsageError(f"--estimator: unknown estimator {name!r}; choose from {', '.join(ESTIMATOR_NAMES)}")
        if name in ("gd", "gf") and not a.k:
            raise UsageError(f"--estimator {name} needs --k, e.g. --k 10,100,1000")
        if name == "ridge" and not a.lam:
            raise UsageError("--estimator ridge needs --lam, e.g. --lam 0.1,1")
        if name == "gd-val" and a.nval < 1:
            raise UsageError("--estimator gd-val needs --nval ≥ 1 held-out examples")
        out.append(Estimator(name, steps=tuple(a.k or ()) if name in ("gd", "gf") else (),
                             lam=tuple(a.lam or ()) if name == "ridge" else (), kmax=a.kmax, n_val=a.nval))
    return out


def _check_common(a: argparse.Namespace) -> None:
    """The options both subcommands share, checked in one place: --kmax, --runs and --out."""
    if a.kmax < 1:
        raise UsageError(f"--kmax {a.kmax}: the largest gradient-descent step searched must be ≥ 1 "
                         "(e.g. --kmax 5000)")
    if a.runs < 1:
        raise UsageError(f"--runs {a.runs} must be ≥ 1")
    if a.out is not None and Path(a.out).is_dir():
        raise UsageError(f"--out {a.out} is a directory; give a file path, e.g. --out {Path(a.out) / 'theory.csv'}")


def _curve(a: argparse.Namespace) -> int:
    if any(v < 1 for v in a.N):
        raise UsageError(f"--N {','.join(map(str, a.N))}: every N must be a positive integer")
    if a.k is not None and any(v < 0 for v in a.k):
        raise UsageError("--k: steps must be non-negative integers")
    if a.lam is not None and any(v < 0 for v in a.lam):
        raise UsageError("--lam: ridge strengths must be ≥ 0")
    _check_common(a)
    if a.runs < 2 and a.method in ("montecarlo", "rao-blackwell"):
        raise UsageError("--runs must be ≥ 2 for a Monte Carlo standard error")
    problem = _problem(a)
    ests = _estimators(a)
    try:
        if a.signal == "spectrum" and a.method == "asymptotic":
            # the data-spectrum equivalent (theory.data_asymptotics): one log-plane contour per N serves every
            # filter and step count on image spectra (the one `theory curve` and the explorer show for a file)
            model = DataModel(_data_spectrum(a), a.sigma, target_sigma=problem.target_sigma)
            curves = data_expected_risk(model, a.N, ests, method="asymptotic", lr=a.lr)
        else:
            curves = expected_risk(problem, a.N, ests, method=a.method, runs=a.runs,
                                   rng=np.random.default_rng(a.seed), lr=a.lr, backend=a.backend,
                                   progress=not a.quiet)
    except ValueError as e:
        msg = str(e)
        if "learning rate" in msg or msg.startswith("lr="):
            msg = f"--lr: {msg}"
        raise UsageError(f"reconscale theory curve: error: {msg}") from None
    text = write_table(to_records(curves, problem), a.out, a.format)
    if a.out is None:
        sys.stdout.write(text)
    return 0


def _setups(a: argparse.Namespace) -> int:
    try:
        chosen = parse_setups(a.setups)
    except ValueError as e:
        raise UsageError(f"--setups: {e}") from None
    _check_common(a)
    target_sigma = _target_sigma(a.target_sigma)
    path = run_setups(chosen, out=a.out, runs=a.runs, seed=a.seed, kmax=a.kmax, method=a.method, fmt=a.format,
                      backend=a.backend, progress=not a.quiet, target_sigma=target_sigma)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``reconscale theory …``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Messages name the subcommand when there is one ("reconscale theory curve: error: …").
    prog = f"reconscale theory {argv[0]}" if argv and argv[0] in ("curve", "setups") else "reconscale theory"

    def body() -> int:
        args = build_parser().parse_args(argv)
        return _curve(args) if args.command == "curve" else _setups(args)

    return run_command(prog, body, resume_hint="finished blocks are kept; re-run to resume")
