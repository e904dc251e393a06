"""The ``reconscale`` console script: a lazy dispatcher, and the bridge's own commands.

Each command group lives in its home package and is imported only when used, so
``reconscale theory …`` never loads torch or matplotlib, and the bridge commands (``results``,
``fit``, ``plot``, ``compare``, ``paper-figures``) never load torch. ``demo`` trains networks, so it
needs the ``empirical`` extra. ``python -m bridge …`` is the same as ``reconscale …``.

Every command runs through :func:`theory.infra.command.run_command`: bad input gives one line on stderr
and exit code 2 (nothing is written); a failed write gives one line and exit code 1. Every file is
written with :func:`theory.infra.io.atomic_write`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from theory.infra.command import Parser, UsageError, run_command  # the CLI layer every command shares

from . import figures
from .calibrate import calibrate
from .compare import COMPARE_LAWS, align, compare_fits, empirical_curve, theory_curve
from .extra import LAWS as EXTRA_LAWS
from .extra import compare_targets
from .figures import rule_windows, selfsup_figure, window_fits
from .identify import identify
from .laws import FloorPowerLaw
from .report import analyse
from .paired import image_errors, image_weights, run_draws
from .results import (
    aggregate,
    load_table,
    parse_cell,
    read_ledger,
    require_distinct_N,
    results_table,
    runs_curve,
    where_rows,
)
from .text import finding_text, fit_text, selfsup_markdown, table_text

__all__ = ["main", "COMMANDS", "version"]

# command -> (module, function, one-line help); functions take argv and return the exit code.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "theory": ("theory.cli", "main", "exact and asymptotic risk of linear estimators (curve, setups)"),
    "sweep": ("empirical.cli", "sweep_main", "train networks across N, width, seed… into a resumable ledger"),
    "results": ("bridge.cli", "results_main", "export a sweep's ledger as a tidy table (csv, json, parquet)"),
    "spectrum": ("empirical.spectrum", "spectrum_main", "second moments of a config's training and test images (theory of your data)"),
    "baselines": ("empirical.baselines", "baselines_main", "classical baselines on a sweep config's test sets"),
    "fit": ("bridge.cli", "fit_main", "fit scaling laws (power, floor, broken) with bootstrap intervals"),
    "plot": ("bridge.cli", "plot_main", "draw a figure (theory, risk-vs-k, empirical, params) from a results file"),
    "compare": ("bridge.cli", "compare_main", "theory vs experiment on one N axis; calibrate the linear theory"),
    "paper-figures": ("bridge.cli", "paper_figures_main", "compute the paper's 8 theory setups and draw figure 1"),
    "selfsup": ("bridge.cli", "selfsup_main",
                "supervised vs self-supervised targets in one sweep: the extra examples needed, with intervals"),
    "controlled": ("bridge.controlled", "controlled_main",
                   "networks on the subspace source next to the linear theory and the Bayes floor"),
    "demo": ("bridge.demo", "demo_main", "the one-command demo: theory, a CPU sweep, baselines, fits, figures, report"),
    "explore": ("bridge.explore", "explore_main", "the live explorer of the data-free theory in a browser (extra: explore)"),
}



def _where(items: Sequence[str]) -> dict[str, Any]:
    out = {}
    for it in items:
        if "=" not in it:
            raise UsageError(f"--where {it!r}: expected KEY=VALUE, e.g. --where estimator=gd-oracle")
        k, v = it.split("=", 1)
        out[k.strip()] = parse_cell(v.strip())
    return out


def _load_where(path: str, where: Sequence[str]) -> list[dict]:
    """The table at ``path``, filtered by ``--where`` (one line naming a value that matches nothing)."""

    table = load_table(path)
    return where_rows(table, _where(where), what="runs" if table and "status" in table[0] else "rows")


def _window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--window {text!r}: expected LO,HI, e.g. --window 10,1000") from None
    if not 0 < lo < hi:
        raise UsageError(f"--window {text!r}: need 0 < LO < HI")
    return lo, hi


def _write(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    from theory.infra.io import atomic_write  # noqa: PLC0415

    atomic_write(out, text)


# ----------------------------------------------------------------------------------------- results
def results_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale results DIR [--format csv|json|parquet] [--select]``."""
    p = Parser(prog="reconscale results", description="Export a sweep's ledger as a tidy table (no torch needed).")
    p.add_argument("dir", help="sweep directory (holding ledger.sqlite)")
    p.add_argument("--format", choices=("csv", "json", "parquet"), default="csv")
    p.add_argument("--out", default=None, help="write to this file (required for parquet)")
    p.add_argument("--select", action="store_true",
                   help="per N: the best width by validation and its test metric, mean ± std over seeds and max")
    p.add_argument("--metric", default="psnr", help="metric for --select (psnr, ssim, mse, nmse)")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        from theory.infra.io import atomic_write, write_table  # noqa: PLC0415

        if a.metric not in ("psnr", "ssim", "mse", "nmse"):
            raise UsageError(f"reconscale results: error: --metric {a.metric!r}: use psnr, ssim, mse or nmse")
        if a.format == "parquet" and a.out is None:
            raise UsageError("reconscale results: error: --format parquet needs --out FILE")
        table = results_table(read_ledger(a.dir))
        rows = runs_curve(table, metric=a.metric) if a.select else table
        if a.format == "parquet":
            try:
                import pandas as pd  # noqa: PLC0415
            except ImportError:
                raise UsageError("reconscale results: error: parquet needs pandas and pyarrow "
                                 "(pip install pandas pyarrow); or use --format csv") from None
            frame = pd.DataFrame(rows)
            atomic_write(a.out, lambda fh: frame.to_parquet(fh))
            return 0
        text = write_table(rows, a.out, a.format)
        if a.out is None:
            sys.stdout.write(text)
        return 0

    return run_command("reconscale results", body)


# --------------------------------------------------------------------------------------------- fit
def _curve_points(rows: list[dict], y: str | None, select: bool) -> tuple[Any, Any, Any, str, list[dict]]:
    """(N, y, groups, metric, rows kept) from a theory table or a runs table (best width per N when ``select``)."""

    if not rows:
        raise ValueError("no rows left after --where; relax the filters")
    runs_table = "status" in rows[0]
    if y is None:
        y = "test_psnr" if runs_table else ("risk" if "risk" in rows[0] else "risk_mean")
    if runs_table:
        rows = [r for r in rows if r.get("status") == "done"]
        targets = sorted({r.get("target") or "clean" for r in rows})
        if len(targets) > 1:  # one curve per training target: fitting them together would mix two curves
            raise ValueError(f"the runs have training targets {targets}; fit one with --where target=clean (compare "
                             "them with reconscale selfsup)")
        if select:
            metric = y.split("_", 1)[1] if y.startswith(("test_", "val_")) else "psnr"
            best = {(r["N"], r["width"]) for r in runs_curve(rows, metric=metric)}
            rows = [r for r in rows if (r["N"], r["width"]) in best]
    keep = [r for r in rows if r.get(y) is not None]
    if not keep:
        raise ValueError(f"column {y!r} has no values; columns: {', '.join(sorted(rows[0])) if rows else 'none'}")
    require_distinct_N([r["N"] for r in keep], what="a fit")
    N = np.array([float(r["N"]) for r in keep])
    vals = np.array([float(r[y]) for r in keep])
    gkey = "seed" if runs_table else "run"
    groups = np.array([r.get(gkey, 0) for r in keep])
    return N, vals, groups, y, keep


def _test_sample_draws(table: str, keep: list[dict], col: str, n_boot: int, seed: int) -> Any:
    """``draws`` for :func:`analyse` when every run kept its per-image test values (a sweep directory,
    ``test_mse`` or ``test_psnr``): run i under resample b of the shared test images
    (:func:`bridge.paired.run_draws`); None otherwise (tables, older sweeps, other metrics)."""
    metric = {"test_mse": "mse", "test_psnr": "psnr"}.get(col)
    if metric is None or not (Path(table) / "ledger.sqlite").is_file():
        return None
    values = image_errors(table, metric=metric)
    if not keep or any(r.get("run_id") not in values for r in keep):
        return None
    n = {values[r["run_id"]].size for r in keep}
    if len(n) != 1:  # runs scored on different test sets cannot share a resample
        return None
    weights = image_weights(n.pop(), n_boot, np.random.default_rng([seed, 1]))
    return run_draws(keep, values, weights, log=metric == "mse")


def _check_boot_level(prog: str, boot: int, level: float) -> None:
    """One line and exit 2 for too few bootstrap resamples or a level outside (0, 1)."""
    if boot < 10:
        raise UsageError(f"{prog}: error: --boot {boot}: use at least 10 resamples")
    if not 0 < level < 1:
        raise UsageError(f"{prog}: error: --level {level}: use a number in (0, 1)")


def fit_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale fit TABLE [--y COL] [--where K=V] [--window LO,HI] [--boot B] [--format text|json]``."""
    p = Parser(prog="reconscale fit", description="Fit scaling laws to a results table: the paper's windowed power "
                "law, a power law with a floor, a broken power law (BNSL) and, for PSNR/SSIM, the saturating form; "
                "bootstrap intervals over seeds/runs (and over the test images, for a sweep whose runs kept each test "
                "image's MSE and PSNR), AIC/BIC and held-out error, break N, extrapolation.")
    p.add_argument("table", help="a sweep directory, or a CSV/JSON table from `reconscale results` or `theory`")
    p.add_argument("--y", default=None, help="column to fit (default: test_psnr for sweeps, risk for theory tables)")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="keep rows with this value, e.g. --where estimator=gd-oracle --where setup=2")
    p.add_argument("--all-widths", action="store_true", help="sweeps: fit every run, not the best width per N")
    p.add_argument("--window", default=None, help="N window LO,HI of the pure power law (the paper's method)")
    p.add_argument("--boot", type=int, default=200, help="bootstrap resamples (default 200)")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--out", default=None)

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))

        _check_boot_level("reconscale fit", a.boot, a.level)
        rows = _load_where(a.table, a.where)
        N, y, g, col, keep = _curve_points(rows, a.y, select=not a.all_widths)
        # a sweep whose runs kept each test image's value: the intervals include the test sample too
        draws = _test_sample_draws(a.table, keep, col, a.boot, a.seed)
        res = analyse(N, y, metric=col, groups=g, draws=draws, n_boot=a.boot, level=a.level,
                      window=_window(a.window), rng=np.random.default_rng(a.seed))
        if a.format == "json":
            _write(json.dumps(res, indent=1, default=float) + "\n", a.out)
            return 0
        text = f"{col} vs N: {np.unique(N).size} N values, {N.size} points\n\n"
        text += fit_text(res)
        _write(text, a.out)
        return 0

    return run_command("reconscale fit", body)


# ------------------------------------------------------------------------------------------ selfsup
def selfsup_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale selfsup DIR [--law floor|power] [--boot B] [--level L] [--figure PATH] [--format text|json]``."""

    p = Parser(prog="reconscale selfsup", description="Supervised vs self-supervised training in one sweep (a "
                "`target` axis): both curves per estimator and, for every clean-target N, how many examples the "
                "self-supervised targets need for the same test MSE, with bootstrap intervals.")
    p.add_argument("table", help="a sweep directory (with a target axis), or its table from `reconscale results`")
    p.add_argument("--law", choices=EXTRA_LAWS, default="floor", help="law fitted to both curves")
    p.add_argument("--boot", type=int, default=200, help="bootstrap resamples (default 200)")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", default=None, help="also draw the curves and the extra-examples factor (PNG/PDF stem)")
    p.add_argument("--format", choices=("text", "json"), default="text")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))

        _check_boot_level("reconscale selfsup", a.boot, a.level)
        ledger = Path(a.table).is_dir() or Path(a.table).suffix in (".sqlite", ".db")
        res = compare_targets(load_table(a.table), law=a.law, level=a.level, n_boot=a.boot,
                              rng=np.random.default_rng(a.seed), errors=image_errors(a.table) if ledger else None)
        if a.figure:
            res["figures"] = [str(x) for x in selfsup_figure(res["curves"], res["extra"], a.figure)]
        if a.format == "json":
            sys.stdout.write(json.dumps(res, indent=1, default=float) + "\n")
        else:
            sys.stdout.write(selfsup_markdown(res["curves"], res["extra"]))
            for f in res.get("figures", []):
                sys.stdout.write(f"figure: {f}\n")
        return 0

    return run_command("reconscale selfsup", body)


# -------------------------------------------------------------------------------------------- plot
FIGURES = ("theory", "risk-vs-k", "empirical", "params")


def _theory_setup_curves(rows: list[dict], setup: int) -> tuple[dict, float, Any]:
    sel = [r for r in rows if r.get("setup") == setup]
    if not sel:
        raise ValueError(f"no rows for setup {setup}; the table has setups "
                         f"{sorted({r.get('setup') for r in rows if r.get('setup') is not None})}")
    curves = {}
    for est in ("optimal", "pca", "ols", "gd-oracle"):
        er = [r for r in sel if r["estimator"] == est]
        if er:
            N, mean, std, _ = aggregate(er, y="risk")
            curves[est] = (N, mean, std)
    floor = float(np.mean([r["floor"] for r in sel]))
    return curves, floor, sel


#: ``--windows`` of figure 1's power-law fits: the released notebook's table
#: (:data:`bridge.figures.RELEASED_WINDOWS`, the default) or the rule (:func:`paper_windows`).
WINDOW_CHOICES = ("released", "rule")


def paper_windows(d: int, n: int, N_max: float) -> list[tuple[float, float]]:
    """The rule for W^{k_opt}'s fit windows (``--windows rule``): d ≤ N ≤ n and N ≥ min(4n, N_max/4);
    see :func:`bridge.figures.rule_windows`. ``reconscale fit --window`` refits any other choice."""

    return rule_windows(d, n, N_max)


def _figure_theory(rows: list[dict], setup: int, path: str, *, windows: str = "released",
                   fits: list[dict] | None = None) -> list[Path]:
    """Figure 1 for one setup; ``fits`` from :func:`bridge.figures.window_fits` (computed over
    ``windows`` when None, its notes printed on stderr)."""
    from .plot import theory_risk_vs_k, theory_risk_vs_N  # noqa: PLC0415
    from .plotkit import new_figure, save  # noqa: PLC0415

    curves, floor, sel = _theory_setup_curves(rows, setup)
    n, d, sigma = sel[0]["n"], sel[0]["d"], sel[0]["sigma"]
    if fits is None:
        fits, notes = window_fits(curves, d, n, sigma, windows=windows)
        for note in notes:
            print(f"setup {setup}: {note}", file=sys.stderr)
    drawn = [(f["law"], f["window"], f["estimator"]) for f in fits]
    fig, (ax1, ax2) = new_figure(2, 1, size=(5.2, 4.2))
    theory_risk_vs_N(ax1, curves, floor=floor, fits=drawn, title=f"setup {setup}: n={n}, d={d}, σ={sigma:g}")
    gd = [r for r in sel if r["estimator"] == "gd"]
    if gd:
        ks = np.array(sorted({r["k"] for r in gd}), dtype=float)
        Ns = np.array(sorted({r["N"] for r in gd}), dtype=float)
        R = np.full((Ns.size, ks.size), np.nan)
        acc: dict[tuple, list] = {}
        for r in gd:
            acc.setdefault((r["N"], r["k"]), []).append(r["risk"])
        for i, N in enumerate(Ns):
            for j, k in enumerate(ks):
                R[i, j] = np.mean(acc[(N, k)]) if (N, k) in acc else np.nan
        ok = ~np.isnan(R).any(axis=0)
        theory_risk_vs_k(ax2, ks[ok], R[:, ok], Ns, floor=floor)
    return save(fig, path)


def plot_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale plot TABLE --figure theory|risk-vs-k|empirical|params --out FILE``."""
    p = Parser(prog="reconscale plot", description="Draw one of the paper's figure types from a results file "
                "(PNG and PDF).")
    p.add_argument("table", help="theory setups table (CSV/JSON) or a sweep directory / exported runs table")
    p.add_argument("--figure", choices=FIGURES, required=True,
                   help="theory: R vs N with windowed fits and R vs k (setups table); empirical: metric vs N "
                        "with fit, band and extrapolation; params: metric vs parameter count per N with the joint law")
    p.add_argument("--out", required=True, help="output stem or .png/.pdf file (both formats are written)")
    p.add_argument("--setup", type=int, default=1, help="theory: which setup (1–8)")
    p.add_argument("--metric", default="psnr", help="empirical/params: psnr, ssim, mse or nmse")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--extrapolate-to", type=float, default=None,
                   help="empirical: draw the law-family band up to this N (default 4× the largest N trained)")
    p.add_argument("--boot", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))

        rows = _load_where(a.table, a.where)
        if a.figure in ("theory", "risk-vs-k"):
            if not rows or "estimator" not in rows[0] or "setup" not in rows[0]:
                raise ValueError("figure theory needs a `reconscale theory setups` table")
            paths = _figure_theory(rows, a.setup, a.out)
        else:
            if not rows or "status" not in rows[0]:
                raise ValueError(f"figure {a.figure} needs a sweep directory or an exported runs table")
            rng = np.random.default_rng(a.seed)
            if a.figure == "empirical":
                paths = figures.empirical_figure(rows, a.out, metric=a.metric, extrapolate_to=a.extrapolate_to,
                                                 n_boot=a.boot, rng=rng)
            else:
                paths = figures.params_figure(rows, a.out, metric=a.metric)
        print("\n".join(str(q) for q in paths), file=sys.stderr)
        return 0

    return run_command("reconscale plot", body)


# ----------------------------------------------------------------------------------------- compare
def compare_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale compare THEORY_TABLE SWEEP_DIR [--setup S] [--interpolate] [--calibrate [--model M]] [--out DIR]``."""

    p = Parser(prog="reconscale compare", description="Theory and experiment on one N axis (error relative to "
                "the noisy input): aligned table, the same law fitted to both side by side, optionally the linear "
                "theory calibrated to the experiment, and figure 4.")
    p.add_argument("theory", help="a `reconscale theory setups` or `theory curve` table (CSV/JSON)")
    p.add_argument("sweep", help="a sweep directory or exported runs table")
    p.add_argument("--setup", type=int, default=None, help="which setup of a setups table")
    p.add_argument("--estimator", default="gd-oracle")
    p.add_argument("--interpolate", action="store_true",
                   help="interpolate the theory onto the experiment's N (log-log; never extrapolates)")
    p.add_argument("--calibrate", action="store_true",
                   help="also fit a linear theory to the experiment (n = the images' pixel count), with seed-bootstrap "
                        "intervals; unidentified parameters are reported as such and the calibration is not drawn")
    p.add_argument("--model", choices=("subspace", "power"), default="subspace",
                   help="calibration model: subspace (fits d_eff and σ) or power (a power-law spectrum: exponent and "
                        "scale, with σ = the runs' noise level)")
    p.add_argument("--law", choices=COMPARE_LAWS, default="floor", help="law fitted to both curves (bridge.laws.LAWS)")
    p.add_argument("--boot", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="directory for compare.json and figure 4 (default: print only)")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))

        th = theory_curve(load_table(a.theory), estimator=a.estimator, setup=a.setup)
        runs = load_table(a.sweep)
        emp = empirical_curve(runs, metric="psnr")
        th_al, emp = align(th, emp, interpolate=a.interpolate)
        rng = np.random.default_rng(a.seed)
        aligned = [{"N": float(n), "theory": float(t), "experiment": float(e), "experiment_std": float(s)}
                   for n, t, e, s in zip(emp.N, th_al.y, emp.y, emp.err)]
        fits = compare_fits([th, emp], law=a.law, n_boot=a.boot, rng=rng)
        for row in fits:  # the floor (or asymptote) of each side: a finding only if identified
            if row.get("fit") == "not fitted":
                row["floor_text"] = f"not identified: {row['reason']}"
            elif "floor" in row:
                kind = "asymptote" if row["law"] == "SaturatingLaw" else "floor"
                f = identify("floor", row["floor"], row["floor_lo"], row["floor_hi"], kind=kind)
                row["identified"], row["reason"] = f["identified"], f["reason"]
                row["floor_text"] = finding_text(f)
        text = "relative error (to the noisy input) on one N axis:\n" + table_text(aligned)
        text += "\nsame law, side by side:\n" + table_text(
            fits, ["curve", "fit", "exponent", "exponent_lo", "exponent_hi", "floor_text"])
        cal = cal_row = None
        if a.calibrate:
            done = [r for r in runs if r.get("status") == "done"]
            n = int(done[0]["size"]) ** 2 * int(done[0].get("channels", 1))
            sigma = None
            if a.model == "power":
                sigmas = {r.get("sigma") for r in done}
                if len(sigmas) != 1 or None in sigmas:
                    raise UsageError("reconscale compare: error: --model power needs one noise level in the runs "
                                     f"(found {sorted(map(str, sigmas))}); filter the sweep to one sigma")
                sigma = float(sigmas.pop())
            cal = calibrate(emp, n=n, model=a.model, sigma=sigma, n_boot=max(a.boot, 20), rng=rng, progress=True)
            cal_row = cal.as_dict()
            text += (f"\ncalibrated linear theory ({a.model} model)"
                     + ("" if cal.identified else " (NOT IDENTIFIED: not drawn)") + ":\n")
            for name, f in cal.findings.items():
                shown = (f"{f['value']:.4g} [{f['lo']:.4g}, {f['hi']:.4g}]" if f["identified"]
                         else f"not identified ({f['reason']})")
                text += f"  {name}: {shown}\n"
            if a.model == "power":
                text += f"  sigma: {cal.sigma:.4g} (given: the runs' noise level)\n"
            text += (f"  intervals at {cal.level:g}: {cal.interval_method}\n"
                     f"  RMS log error {cal.rms_log_error:.3g} over {cal.evaluations} theory curves\n")
        sys.stdout.write(text)
        if a.out:
            out = Path(a.out)
            res = {"aligned": aligned, "fits": fits, "calibration": cal_row}
            _write(json.dumps(res, indent=1, default=float) + "\n", str(out / "compare.json"))
            drawn = cal is not None and cal.identified  # an unidentified calibration is not drawn
            figures.overlay_figure(th_al, emp, out / "fig4_theory_vs_experiment",
                                   calibrated=(cal.N, cal.y) if drawn else None)
        return 0

    return run_command("reconscale compare", body)


# ------------------------------------------------------------------------------------ paper-figures
def paper_figures_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale paper-figures [--runs R] [--setups 1-8] [--windows released|rule] [--out DIR]``."""
    p = Parser(prog="reconscale paper-figures", description="Compute the paper's theory setups (resumable) and "
                "draw figure 1 for each: R vs N for W*, W_PCA, W^∞, W^{k_opt} with windowed power-law fits, and "
                "R(W^k) vs k; writes the fits (windowed and with a floor) to fits.csv.")
    p.add_argument("--windows", choices=WINDOW_CHOICES, default="released",
                   help="fit windows of β N^α: released — the released notebook's windows for W^{k_opt} and "
                        "W_PCA (default); rule — W^{k_opt} over d..n and N ≥ min(4n, N_max/4)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--setups", default="1-8", help="e.g. 1-5,7,8 (setup 6 has n = 10000: slow on a CPU)")
    p.add_argument("--kmax", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="paper_figures")
    p.add_argument("--quiet", action="store_true")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        from theory.infra.io import write_table  # noqa: PLC0415
        from theory.setups import parse_setups, run_setups  # noqa: PLC0415

        setups = parse_setups(a.setups)
        if a.runs < 2:
            raise UsageError("reconscale paper-figures: error: --runs must be ≥ 2 (error bars are std over runs)")
        out = Path(a.out)
        table = run_setups(setups, out=out / "theory_setups.csv", runs=a.runs, seed=a.seed, kmax=a.kmax,
                           progress=not a.quiet)
        rows = load_table(table)
        fit_rows = []
        for s in setups:
            curves, floor, _ = _theory_setup_curves(rows, s.id)
            wfits, notes = window_fits(curves, s.d, s.n, s.sigma, windows=a.windows)
            for note in notes:
                print(f"setup {s.id}: {note}", file=sys.stderr)
            paths = _figure_theory(rows, s.id, str(out / f"fig1_setup{s.id}"), fits=wfits)
            for w in wfits:
                f = w["law"]
                fit_rows.append({"setup": s.id, "n": s.n, "d": s.d, "sigma": s.sigma, "estimator": w["estimator"],
                                 "law": "power", "window": w["window_text"], "windows": w["windows"],
                                 "beta": f.amplitude_, "alpha": f.exponent_, "floor": None, "true_floor": floor})
            N, mean, _ = curves["gd-oracle"]
            f = FloorPowerLaw().fit(N, mean)
            fit_rows.append({"setup": s.id, "n": s.n, "d": s.d, "sigma": s.sigma, "estimator": "gd-oracle",
                             "law": "floor", "window": "all", "windows": None, "beta": f.amplitude_,
                             "alpha": f.exponent_, "floor": f.floor_, "true_floor": floor})
            print(f"setup {s.id}: {', '.join(str(q) for q in paths)}", file=sys.stderr)
        write_table(fit_rows, out / "fits.csv", "csv")

        sys.stdout.write(table_text(fit_rows))
        return 0

    return run_command("reconscale paper-figures", body)


# ------------------------------------------------------------------------------------------ dispatch
def version() -> str:
    """The installed reconscale version; the source tree's pyproject.toml when not installed."""
    from importlib.metadata import PackageNotFoundError  # noqa: PLC0415
    from importlib.metadata import version as _dist_version  # noqa: PLC0415

    try:
        return _dist_version("reconscale")
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            m = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE)
        except OSError:
            m = None
        return m.group(1) if m else "unknown"


def _command_name(text: str) -> str:
    if text not in COMMANDS:
        raise argparse.ArgumentTypeError(f"unknown command {text!r}; choose from {', '.join(COMMANDS)}")
    return text


def build_parser() -> Parser:
    """The root parser: a command from :data:`COMMANDS`, the rest of argv passed to it untouched."""
    p = Parser(prog="reconscale", add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter,
               usage="reconscale [--version] [--help] COMMAND ...",
               description="Scaling laws of deep-learning image reconstruction: theory and experiment on one N axis.",
               epilog="commands:\n" + "\n".join(f"  {name:<14} {helptext}"
                                                for name, (_, _, helptext) in COMMANDS.items())
               + "\n\nRun 'reconscale COMMAND --help' for a command's options.")
    p.add_argument("-h", "--help", action="store_true", help="show this message and exit")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("command", nargs="?", type=_command_name, choices=list(COMMANDS), metavar="COMMAND",
                   help="one of the commands below; its own options follow it")
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def _select(argv: list[str], chosen: list) -> int:
    """Parse the root arguments; put the command's function and its argv in ``chosen``."""
    p = build_parser()
    a = p.parse_args(argv)
    if a.help:
        print(p.format_help(), end="")
        return 0
    if a.version:
        print(f"reconscale {version()}")
        return 0
    if a.command is None:  # bare `reconscale`: the usage, as an error
        print(p.format_help(), end="", file=sys.stderr)
        return 2
    module_name, func, _ = COMMANDS[a.command]
    try:
        module = importlib.import_module(module_name)  # lazily: `reconscale theory` never loads torch
    except ImportError as e:
        extra = "empirical" if module_name.startswith("empirical") or a.command == "demo" else "dev"
        raise UsageError(f"reconscale {a.command}: error: {e}; install the extra: pip install 'reconscale[{extra}]'")
    chosen.append((getattr(module, func), a.args))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``reconscale`` and ``python -m bridge``; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen: list = []
    code = run_command("reconscale", lambda: _select(argv, chosen))
    if not chosen:
        return code
    func, args = chosen[0]
    return int(func(args) or 0)  # the command maps its own errors to messages and exit codes


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
