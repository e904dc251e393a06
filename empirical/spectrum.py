"""``reconscale spectrum``: the second moments of a sweep's own images, for the theory of your data.

The parameter-free theory of :mod:`theory.datamodel` needs two second-moment matrices of clean
crops, both uncentred (E[x xᵀ], what the risk of a linear estimator depends on):

* **P, the training distribution**: Σ_P = XᵀX / N_ex over ``examples`` training crops of the
  config's source, drawn exactly as the sweep draws its training sets (indices 0 … N_ex − 1 of the
  source's nested training pool: the sweep's training sets are among them);
* **Q, the test set**: Σ_Q = XᵀX / n_test over the sweep's own test images (the crops every run,
  network or ``linear-exact``, is scored on). Its rank is at most n_test: the theory then predicts
  the expected MSE on exactly those images, averaged over the noise.

``method="covariance"`` (default) keeps Σ_P's full eigendecomposition; ``"stationary"`` keeps its
projection on periodic-stationary covariances (the averaged power spectrum, Fourier basis), cheaper
and smoother for large crops. Σ_Q is always the exact second moment of the test images.

The result is one ``.npz`` (written atomically) that :func:`bridge.datatheory.load_data_model`
reads without torch::

    P_mu (n,), P_V (n, n) or absent (stationary), Q_mu (n,), Q_V (n, n), Q_X (n_test, n) float32 (the
    test images themselves, in the sweep's test order: a bootstrap over them resamples Σ_Q with the
    runs' per-image errors, :func:`bridge.datatheory.floor_draws`), sigma (), shape (2,), meta (JSON
    text: the run's config, examples, method, what P and Q are).

Only denoising is supported (the operator is the identity); other tasks are refused in one line.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from theory.infra.command import Parser, UsageError, run_command

if TYPE_CHECKING:
    from .config import RunConfig

__all__ = ["data_spectra", "spectrum_main", "DATA_KEYS"]

#: The keys that decide which images a sweep trains and tests on: one spectrum file per setting.
DATA_KEYS = ("task", "sigma", "data", "test_data", "size", "channels", "data_seed", "d", "source", "n_test")

_CHUNK = 4096  # training crops per block: memory O(chunk·n + n²) whatever ``examples`` is


def _one_setting(runs: Sequence[RunConfig]) -> RunConfig:
    """The runs' common data setting (every key of :data:`DATA_KEYS` must be the same)."""
    for key in DATA_KEYS:
        values = sorted({repr(getattr(r, key)) for r in runs})
        if len(values) > 1:
            raise ValueError(f"the config's runs use different {key} ({', '.join(values)}): one spectrum file "
                             f"describes one data setting; pick one with --set {key}=…")
    run = runs[0]
    if run.task != "denoise":
        raise ValueError(f"task={run.task!r}: reconscale spectrum supports task='denoise' (identity operator) only")
    return run


def data_spectra(run: RunConfig, *, examples: int = 65536, method: str = "covariance",
                 progress: bool = False) -> dict[str, Any]:
    """The P and Q second moments of one run's data setting (see the module doc).

    Args:
        run: a run of the sweep (only its data keys matter).
        examples: training crops N_ex for Σ_P (≥ n for ``covariance``).
        method: ``"covariance"`` or ``"stationary"``.
        progress: a tqdm bar over blocks of training crops.

    Returns:
        The arrays of the ``.npz`` file (``P_mu``, ``P_V`` unless stationary, ``Q_mu``, ``Q_V``,
        ``sigma``, ``shape``, ``meta``).
    """
    from theory.datamodel import SPECTRUM_METHODS  # noqa: PLC0415
    from theory.signals import fourier_power  # noqa: PLC0415

    from .plan import plan  # noqa: PLC0415

    if method not in SPECTRUM_METHODS:
        raise ValueError(f"method={method!r}: use one of {', '.join(SPECTRUM_METHODS)}")
    p = plan(run)
    s = run.size
    n = run.channels * s * s
    if not isinstance(examples, int) or isinstance(examples, bool) or examples < 1:
        raise ValueError(f"examples={examples!r} must be a positive integer")
    if method == "covariance" and examples < n:
        raise ValueError(f"examples={examples} < n = {n} pixels: the covariance would be rank-deficient; "
                         f"use at least {n} examples or method 'stationary'")
    if run.test_data:
        test_idx = p.test_source.split(n_train=0, n_val=0, n_test=run.n_test, seed=run.data_seed).test
    else:
        test_idx = p.source.split(n_train=0, n_val=run.n_val, n_test=run.n_test, seed=run.data_seed).test
    pool = p.source.split(n_train=examples, n_val=0, n_test=0, seed=run.data_seed).train(examples)

    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=examples, desc="training crops", unit="crop", leave=False)
    acc = np.zeros((n, n)) if method == "covariance" else np.zeros(n)
    try:
        for start in range(0, examples, _CHUNK):
            X = np.asarray(p.source.batch(pool[start:start + _CHUNK]), dtype=np.float64).reshape(-1, n)
            acc += X.T @ X if method == "covariance" else fourier_power(X, (s, s)) * X.shape[0]
            if bar is not None:
                bar.update(X.shape[0])
    finally:
        if bar is not None:
            bar.close()
    acc /= examples
    out: dict[str, Any] = {}
    if method == "covariance":
        mu, V = np.linalg.eigh((acc + acc.T) / 2)
        out["P_mu"], out["P_V"] = np.clip(mu[::-1], 0, None), np.ascontiguousarray(V[:, ::-1])
    else:
        out["P_mu"] = acc
    Xq = np.asarray(p.test_source.batch(test_idx), dtype=np.float64).reshape(len(test_idx), n)
    mu_q, V_q = np.linalg.eigh(Xq.T @ Xq / len(test_idx))
    out["Q_mu"], out["Q_V"] = np.clip(mu_q[::-1], 0, None), np.ascontiguousarray(V_q[:, ::-1])
    out["Q_X"] = Xq.astype(np.float32)
    out["sigma"] = np.float64(run.sigma)
    out["shape"] = np.array([s, s])
    out["meta"] = json.dumps({
        "config": run.to_dict(), "examples": examples, "method": method, "n": n,
        "P": f"{method} of {examples} training crops of {run.data!r} (indices 0…{examples - 1} of the training pool)",
        "Q": f"the sweep's {len(test_idx)} test images of {run.test_data or run.data!r} (exact second moment)",
    }, default=str)
    return out


def spectrum_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale spectrum CONFIG --out FILE.npz [--set key=value …] [--examples E] [--method M]``."""
    from .cli import config_arguments, load_runs  # noqa: PLC0415

    p = Parser(prog="reconscale spectrum", description="The second moments of a sweep config's training "
               "images (P) and test images (Q) as an .npz file: the input of the theory of your own data "
               "(bridge.datatheory).")
    config_arguments(p, config_help="a TOML file or a shipped config name (e.g. quick-denoise)",
                     out_help="the .npz file to write", out_required=True)
    p.add_argument("--examples", type=int, default=65536, help="training crops for Σ_P (default 65536)")
    p.add_argument("--method", choices=("covariance", "stationary"), default="covariance",
                   help="Σ_P as a full covariance (default) or its stationary projection (power spectrum)")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        if not a.out.endswith(".npz"):
            raise UsageError(f"reconscale spectrum: error: --out {a.out}: the file name must end in .npz")
        if a.examples < 1:
            raise UsageError(f"reconscale spectrum: error: --examples {a.examples}: use a positive number of crops")
        try:
            run = _one_setting(load_runs(a))
            from .plan import plan  # noqa: PLC0415

            plan(run)  # every value checked before anything is computed or written
            n = run.channels * run.size**2
            if a.method == "covariance" and a.examples < n:
                raise ValueError(f"--examples {a.examples} < n = {n} pixels: the covariance would be "
                                 f"rank-deficient; use --examples ≥ {n} or --method stationary")
        except ValueError as e:
            raise UsageError(f"reconscale spectrum: error: {e}") from None
        arrays = data_spectra(run, examples=a.examples, method=a.method, progress=not a.quiet)
        from theory.infra.io import atomic_write  # noqa: PLC0415

        atomic_write(a.out, lambda fh: np.savez(fh, **arrays))
        if not a.quiet:
            print(f"reconscale spectrum: wrote {a.out} (n = {arrays['Q_mu'].size}, {a.examples} training crops, "
                  f"{a.method})", file=sys.stderr)
        return 0

    return run_command("reconscale spectrum", body)
