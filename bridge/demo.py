"""``reconscale demo`` — the README's main job: theory and experiment on one N axis, on a CPU.

1. a small denoising sweep (``quick-denoise``'s photo patches, σ = 25/255; 3 U-Net widths, 6 values
   of N, 2 seeds; 20 epochs per N, capped at 1000 steps) evaluated on the held-out real photographs — run as the ``reconscale sweep``
   command in a child process, so ``bridge`` never imports torch and reads the results from the
   ledger like any other user;
2. the classical baselines on the same test crops and noise (``reconscale baselines``);
3. fits of the best-width PSNR curve (saturating law with a bootstrap band over seeds, floor and
   broken power laws on the MSE scale, break N, extrapolation to N = 10⁵ and 10⁶), and the joint
   law in N and parameter count with the data-vs-width guideline;
4. the linear theory calibrated to the experiment (d_eff and σ of the subspace model with n = the
   crops' pixel count), its curve on an extended N grid, and both fitted with the same law;
5. figures 2–4 (PNG + PDF) and ``report.md`` in DIR, a summary table on stdout.

Every stage writes its result into DIR atomically and is skipped when it is already there (the
sweep resumes from its ledger), so an interrupted demo resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["DemoConfig", "SMOKE", "run_demo", "demo_main"]


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs. ``SMOKE`` is the same path on a tiny grid (CI)."""

    config: str = "quick-denoise"
    N: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    widths: tuple[int, ...] = (4, 8, 16)
    seeds: tuple[int, ...] = (0, 1)
    overrides: tuple[str, ...] = ("epochs=20",)  # extra `--set key=value` for the sweep and the baselines
    n_boot: int = 100
    calibration_evals: int = 20
    theory_N: tuple[int, ...] = (1024, 4096, 16384)  # extra N for the calibrated theory curve
    seed: int = 0

    def sweep_sets(self) -> list[str]:
        return [f"N={list(self.N)}", f"width={list(self.widths)}", f"seed={list(self.seeds)}", *self.overrides]


SMOKE = DemoConfig(N=(4, 8, 16, 32), widths=(4, 6), seeds=(0, 1), n_boot=30, calibration_evals=8, theory_N=(128,),
                   overrides=("size=16", "n_val=6", "n_test=4", "depth=1", "min_steps=20", "max_steps=40",
                              "eval_every=20", "batch_size=4"))


def _atomic_json(path: Path, obj: Any) -> None:
    from theory.io import atomic_write  # noqa: PLC0415

    atomic_write(path, json.dumps(obj, indent=1, default=float) + "\n")


def _command(args: list[str], what: str, quiet: bool) -> None:
    """Run a ``reconscale`` command in a child process (torch stays out of this one)."""
    cmd = [sys.executable, "-m", "bridge.cli", *args]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL if quiet else None, stderr=None)
    if proc.returncode == 130:
        raise KeyboardInterrupt
    if proc.returncode != 0:
        raise ValueError(f"the {what} step failed (exit {proc.returncode}; its message is above); fix it and re-run "
                         "the demo to resume")


def _stage(path: Path, compute: Any, log: Any) -> Any:
    if path.exists():
        log(f"reusing {path.name}")
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    obj = compute()
    _atomic_json(path, obj)
    log(f"{path.name}: {time.perf_counter() - t0:.0f} s")
    return obj


def run_demo(out: str | Path, cfg: DemoConfig = DemoConfig(), *, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the demo into ``out``; returns the summary (also in ``out/summary.json``)."""
    from .compare import Curve, calibrate, compare_fits, empirical_curve, theory_relative_curve  # noqa: PLC0415
    from .figures import empirical_figure, fit_joint, overlay_figure, params_figure  # noqa: PLC0415
    from .joint import gain_table, smallest_width  # noqa: PLC0415
    from .report import analyse  # noqa: PLC0415
    from .results import load_table, select_per_N  # noqa: PLC0415

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        if progress:
            print(f"[demo] {msg}", file=sys.stderr, flush=True)

    quiet = [] if progress else ["--quiet"]
    sets = [x for s in cfg.sweep_sets() for x in ("--set", s)]
    # 1. the sweep (resumable through its ledger)
    log(f"sweep: {cfg.config}, N={list(cfg.N)}, widths={list(cfg.widths)}, seeds={list(cfg.seeds)}")
    _command(["sweep", cfg.config, "--out", str(out / "sweep"), *sets, *quiet], "sweep", quiet=not progress)
    runs = load_table(out / "sweep")
    failed = [r for r in runs if r["status"] != "done"]
    if failed:
        raise ValueError(f"{len(failed)} run(s) did not finish ({failed[0]['reason'] or failed[0]['status']}); "
                         "re-run the demo to retry them")
    # 2. baselines on the same test crops
    base_sets = [x for s in [*cfg.overrides, f"N={cfg.N[0]}", f"width={cfg.widths[0]}", f"seed={cfg.seeds[0]}"]
                 for x in ("--set", s)]
    bpath = out / "baselines.json"
    if not bpath.exists():
        log("classical baselines (tuned on validation)")
        _command(["baselines", cfg.config, *base_sets, "--format", "json", "--out", str(bpath)], "baselines",
                 quiet=not progress)
    baselines = {r["baseline"]: r["psnr"] for r in json.loads(bpath.read_text()) if r.get("psnr") is not None}
    rng = np.random.default_rng(cfg.seed)
    # 3. fits of the experiment
    psnr = empirical_curve(runs, metric="psnr", scale="psnr", label="U-Net (best width per N)")
    rel = empirical_curve(runs, metric="psnr", scale="relative-input", label="U-Net (best width per N)")
    key = hashlib.sha256(json.dumps([psnr.points[0].tolist(), psnr.points[1].tolist(), asdict(cfg)],
                                    default=str).encode()).hexdigest()[:12]
    fits = _stage(out / f"fits-{key}.json", lambda: analyse(*psnr.points[:2], metric="test_psnr",
                                                            groups=psnr.points[2], n_boot=cfg.n_boot, rng=rng), log)
    joint = fit_joint(runs, metric="psnr")[0]
    P_of_w = {r["width"]: r["params"] for r in runs}
    widths = sorted(P_of_w)
    best_w = {b["N"]: b["width"] for b in select_per_N(runs, metric="psnr")}  # the paper's per-N choice
    gains = gain_table(joint, list(best_w), [P_of_w[w] for w in best_w.values()], width=list(best_w.values()))
    small = smallest_width(joint, sorted(best_w), widths, [P_of_w[w] for w in widths], margin_db=0.1)
    # 4. the calibrated linear theory
    n_pix = int(runs[0]["size"]) ** 2 * int(runs[0].get("channels", 1))

    def _calibrate() -> dict:
        cal = calibrate(rel, n=n_pix, max_evals=cfg.calibration_evals, progress=progress)
        grid = sorted(set(int(v) for v in rel.N) | set(cfg.theory_N))
        y = theory_relative_curve(grid, n=n_pix, d=cal.d_eff, sigma=cal.sigma, kmax=cal.kmax)
        return {**cal.as_dict(), "N": [float(v) for v in cal.N], "y": [float(v) for v in cal.y],
                "curve_N": grid, "curve_y": [float(v) for v in y]}

    cal = _stage(out / f"calibration-{key}.json", _calibrate, log)
    th = Curve(np.array(cal["curve_N"], float), np.array(cal["curve_y"]), np.zeros(len(cal["curve_N"])),
               "relative-input", f"linear theory (n={n_pix}, d_eff={cal['d_eff']}, σ={cal['sigma']:.3g})")
    side = compare_fits([th, rel], law="floor", n_boot=cfg.n_boot, rng=rng)
    # 5. figures and report
    figs = out / "figures"
    paths = empirical_figure(runs, figs / "fig2_psnr_vs_N", metric="psnr", baselines=baselines, n_boot=cfg.n_boot,
                             rng=rng)
    paths += params_figure(runs, figs / "fig3_psnr_vs_params", metric="psnr", law=joint)

    paths += overlay_figure(th, rel, figs / "fig4_theory_vs_experiment", calibrated=(th.N, th.y))
    summary = {"config": asdict(cfg), "wall_s": None,
               "per_N": [{"N": float(n), "psnr_mean": float(m), "psnr_std": float(s),
                          "relative_error": float(r)} for n, m, s, r in zip(psnr.N, psnr.y, psnr.err, rel.y)],
               "baselines": baselines, "fits": fits, "joint": {**joint.params_, "label": joint.label()},
               "gains": gains, "smallest_width": small, "calibration": {k: v for k, v in cal.items()
                                                                        if not k.startswith(("curve_", "N", "y"))},
               "theory_vs_experiment": side, "figures": [str(p.relative_to(out)) for p in paths]}
    summary["wall_s"] = time.perf_counter() - t_start
    _atomic_json(out / "summary.json", summary)
    from theory.io import atomic_write  # noqa: PLC0415

    atomic_write(out / "report.md", render_report(summary))
    return summary


def _fmt_ci(v: float, lo: float, hi: float, digits: int = 3) -> str:
    return f"{v:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"


def render_report(s: dict) -> str:
    """The markdown report of a demo summary."""
    from .report import markdown_table  # noqa: PLC0415

    f = s["fits"]
    lvl = int(round(100 * f["level"]))
    lines = ["# reconscale demo: scaling of a denoising U-Net with N, and the linear theory", "",
             f"Sweep `{s['config']['config']}` (photo patches → held-out photographs, σ = 25/255), N = "
             f"{', '.join(str(n) for n in s['config']['N'])}, widths {s['config']['widths']}, seeds "
             f"{s['config']['seeds']}. Intervals are {lvl}% bootstrap intervals over seeds.", "",
             "## Test PSNR per N (best width by validation)", "",
             markdown_table(s["per_N"]), "Baselines on the same crops and noise: " + ", ".join(
                 f"{k} {v:.2f} dB" for k, v in s["baselines"].items()) + ".", "", "## Fitted laws", "",
             markdown_table(f["laws"], ["law", "scale", "fit", "aic", "bic", "holdout_error"])]
    for row in f["laws"]:
        params = [k for k in row if f"{k}_lo" in row]
        if params:
            lines.append(f"- **{row['law']}** ({row['scale']}): " + "; ".join(
                f"{k} = {_fmt_ci(row[k], row[f'{k}_lo'], row[f'{k}_hi'])}" for k in params))
    lines.append("")
    br = f.get("break")
    if br and "N_break" in br:
        lines.append(f"**Break** (one-break BNSL on MSE): N = {_fmt_ci(br['N_break'], br['lo'], br['hi'])}, slope "
                     f"{br['slope_before']:.2f} → {br['slope_after']:.2f}; supported by BIC and interval: "
                     f"{br['supported']}.")
    elif br:
        lines.append(f"**Break**: not determined ({br.get('error')}).")
    else:
        lines.append("**Break**: needs at least 6 values of N.")
    flo = next((r for r in f["laws"] if r["law"] == "FloorPowerLaw" and "floor" in r), None)
    if flo and flo["floor_lo"] <= 1e-6 * flo["amplitude"]:
        lines.append("- The floor is not identified at these N (its interval reaches 0): the extrapolations below are "
                     "those of a pure power law, an upper bound if the curve flattens later.")
    for r in f["extrapolation"]:
        lines.append(f"- N = {r['N']:.0e}: {r['law']} predicts {_fmt_ci(r['predict'], r['lo'], r['hi'], 4)}, a gain of "
                     f"{_fmt_ci(r['gain'], r['gain_lo'], r['gain_hi'])} over the largest N trained.")
    m = f.get("margin")
    if m:
        lines.append(f"- N to come within {m['margin']:g} {m['unit']} of the asymptote: "
                     f"{_fmt_ci(m['N'], m['lo'], m['hi'])}.")
    j = s["joint"]
    lines += ["", "## Data or model?", "", f"Joint law on MSE: {j['label']}.", "",
              markdown_table(s["gains"], ["N", "width", "P", "gain_data_db", "gain_model_db", "better"]),
              "Smallest width within 0.1 dB of the best predicted:", "",
              markdown_table(s["smallest_width"], ["N", "width", "psnr", "best_width", "shortfall_db"]),
              "## The linear theory, calibrated", ""]
    c = s["calibration"]
    lines.append(f"Subspace model with n = {c['n']} (pixels): d_eff = {_fmt_ci(c['d_eff'], c['d_lo'], c['d_hi'])}, "
                 f"σ = {_fmt_ci(c['sigma'], c['sigma_lo'], c['sigma_hi'])} ({int(100 * c['level'])}% Gauss–Newton "
                 f"intervals), relative floor d/(n(1+σ²)) = {c['floor']:.3g}, RMS log error "
                 f"{c['rms_log_error']:.3f} over {c['evaluations']} theory curves.")
    lines += ["", "Same law (a N^α + c) fitted to the calibrated theory and the experiment (error relative to the "
              "noisy input):", "",
              markdown_table(s["theory_vs_experiment"], ["curve", "fit", "exponent", "exponent_lo", "exponent_hi",
                                                          "floor", "floor_lo", "floor_hi"]),
              "## Figures", ""] + [f"- `{p}`" for p in s["figures"] if p.endswith(".png")]
    lines += ["", f"Wall time: {s['wall_s']:.0f} s.", ""]
    return "\n".join(lines)


def summary_text(s: dict) -> str:
    """The short table printed at the end of the demo."""
    from .report import table_text  # noqa: PLC0415

    f = s["fits"]
    rows = [{"N": r["N"], "PSNR": f"{r['psnr_mean']:.2f} ± {r['psnr_std']:.2f}", "rel. error": r["relative_error"]}
            for r in s["per_N"]]
    text = table_text(rows)
    text += "baselines: " + ", ".join(f"{k} {v:.2f}" for k, v in s["baselines"].items()) + "\n"
    sat = next((r for r in f["laws"] if r["law"] == "SaturatingLaw" and "asymptote" in r), None)
    if sat:
        ident = sat["asymptote_hi"] - sat["asymptote_lo"] < 3.0 and sat["asymptote_hi"] < sat["asymptote"] + 1e-9 + 3
        text += f"PSNR law: {sat['fit']}" + (f"  (asymptote {_fmt_ci(sat['asymptote'], sat['asymptote_lo'], sat['asymptote_hi'], 4)} dB)\n"
                                            if ident else "  (asymptote not identified at these N)\n")
    flo = next((r for r in f["laws"] if r["law"] == "FloorPowerLaw" and "floor" in r), None)
    if flo:
        with np.errstate(divide="ignore"):
            p_inf = [float(-10 * np.log10(flo[k])) for k in ("floor", "floor_hi", "floor_lo")]
        text += f"MSE law: {flo['fit']}  (PSNR asymptote {_fmt_ci(*p_inf, 4)} dB)\n"
    if flo and flo["floor_lo"] <= 1e-6 * flo["amplitude"]:
        text += "floor not identified at these N (its interval reaches 0): the gains below are a pure power law's\n"
    for r in f["extrapolation"]:
        text += f"gain at N={r['N']:.0e}: {_fmt_ci(r['gain'], r['gain_lo'], r['gain_hi'])} dB\n"
    br = f.get("break")
    if br and "N_break" in br:
        text += f"break N: {_fmt_ci(br['N_break'], br['lo'], br['hi'])} (supported: {br['supported']})\n"
    c = s["calibration"]
    text += (f"calibrated theory: d_eff={c['d_eff']} [{c['d_lo']:.3g}, {c['d_hi']:.3g}], σ={c['sigma']:.3g} "
             f"[{c['sigma_lo']:.3g}, {c['sigma_hi']:.3g}]\n")
    text += f"report: report.md, figures: {len(s['figures'])} files, wall {s['wall_s']:.0f} s\n"
    return text


def demo_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale demo [--out DIR] [--smoke]``."""
    from theory.command import Parser, UsageError, run_command  # noqa: PLC0415

    p = Parser(prog="reconscale demo", description="Theory curves, a small CPU denoising sweep on real photographs "
                "next to classical baselines, fitted laws with intervals, the calibrated linear theory, figures 2–4 "
                "and a markdown report in DIR. Re-running resumes.")
    p.add_argument("--out", default="reconscale_demo", help="output directory (default: reconscale_demo)")
    p.add_argument("--smoke", action="store_true", help="the same pipeline on a tiny grid (seconds; for CI)")
    p.add_argument("--boot", type=int, default=None, help="bootstrap resamples (default 100)")
    p.add_argument("--quiet", action="store_true")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        cfg = SMOKE if a.smoke else DemoConfig()
        if a.boot is not None:
            if a.boot < 10:
                raise UsageError(f"reconscale demo: error: --boot {a.boot}: use at least 10 resamples")
            cfg = DemoConfig(**{**asdict(cfg), "n_boot": a.boot})
        s = run_demo(a.out, cfg, progress=not a.quiet)
        sys.stdout.write(summary_text(s))
        return 0

    return run_command("reconscale demo", body, resume_hint="re-run the same command to resume")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(demo_main())
