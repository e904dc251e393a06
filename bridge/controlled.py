"""``reconscale controlled`` — networks on the theory's own signal model, next to the theory and its floor.

On the ``subspace`` source (x = U c reshaped to a size×size image, U an n×d Haar-random orthonormal
basis, c ~ N(0, I_d), y = x + N(0, σ²I)) the linear W* = UUᵀ/(1+σ²) is the Bayes estimator (x and
y are jointly Gaussian), so its error is a floor that no estimator, network or not, can beat. This
command puts four curves on one N axis against that floor (config ``subspace-controlled``: n = 16²,
d = 10, σ = 0.1):

* ``theory`` — the expected risk of W^{k_opt}, gradient descent from W = 0 stopped at the oracle
  k ≤ ``kmax`` (the paper's protocol: step η = 1/(N(1+ε)(1+σ²)), U redrawn per draw), by Monte
  Carlo over ``theory_runs`` draws (:func:`theory.expected_risk`, estimator ``gd-oracle``);
* ``linear-exact`` — the learned linear estimator on the sweep's own images, in closed form (one
  fixed noise draw per training image, k chosen on validation: :mod:`empirical.linear`);
* ``linear`` — its torch twin ``LinearNet`` trained like the networks (Adam, fresh noise at every
  step, best checkpoint by validation MSE): a model that can represent W* exactly. Fresh noise is
  noise augmentation — it sees the N clean images with unlimited noise draws, not N fixed pairs — so
  at small N it beats the theory's fixed-pair curve; at large N Adam's fixed-lr jitter keeps it above;
* ``network`` — the U-Net, the best width per N by mean validation MSE over replicates.

Replicates are ``data_seed`` values: each draws its own U, training, validation and test set (the
theory redraws U per run too); every error bar is the standard error of the mean over them (over
the Monte Carlo draws for the theory).

**Units.** The sweep records ``test_mse`` per pixel: the mean over test images of ‖x̂ − x‖²/n
(:func:`empirical.train.evaluate`: squared error averaged over the image's C·H·W = n values, then
over images; unclamped for this source). The theory's risk is normalised by the signal energy,
R(W) = E‖Wy − x‖²/E‖x‖² with E‖x‖² = tr Σ_x = d. Hence

    per-pixel MSE = R · d / n,     floor = σ²/(1+σ²) · d / n     (:func:`risk_to_pixel_mse`),

0.01/1.01 · 10/256 = 3.87·10⁻⁴ here; the noisy input's MSE is σ² = 0.01.

Stages (each resumable: :mod:`bridge.stages`): the two sweeps run as ``reconscale sweep`` child
processes into ``out/sweep`` (the networks and the twin on the config's N grid; ``linear-exact`` on
the wider ``exact_N`` grid) and are read back from the ledger by run id (both validated first,
``reconscale sweep --dry-run``); the theory curve is ``reconscale theory curve`` in a child process
too (one BLAS thread: :func:`bridge.stages.one_blas_thread_children`), its table cached in ``out/theory-<hash>.json``.
Written: ``controlled.json`` (rows {curve, N, mse, mse_sem, excess_over_floor, ratio_to_floor, runs},
the floor, the setup), ``fig_controlled.{png,pdf}`` and ``controlled.md`` (how far each curve stays
above the floor at its largest N).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from theory.infra.io import atomic_write, write_json

from .results import load_table, runs_curve
from .stages import Stages, one_blas_thread_children, set_args, sweep_run_ids
from .text import controlled_markdown, controlled_summary_text

__all__ = ["ControlledConfig", "SMOKE", "CURVES", "risk_to_pixel_mse", "floor_pixel_mse", "run_controlled",
           "controlled_main"]

#: The curves of ``controlled.json``, in drawing order, with their legend labels.
CURVES: dict[str, str] = {"theory": "theory: W^k_opt (oracle-stopped GD)",
                          "linear-exact": "linear-exact (closed form, k by validation)",
                          "linear": "LinearNet twin (Adam, fresh noise)",
                          "network": "U-Net (best width per N)"}


@dataclass(frozen=True)
class ControlledConfig:
    """What ``reconscale controlled`` runs. ``SMOKE`` is the same path on a tiny budget (CI)."""

    config: str = "subspace-controlled"
    overrides: tuple[str, ...] = ()  # `--set key=value` for both sweeps
    exact_N: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)  # linear-exact's grid
    theory_runs: int = 10  # Monte Carlo draws per N
    kmax: int = 5000  # largest k of the oracle (the paper's)
    workers: int = 2  # sweep processes (one torch thread each); 1 runs in the sweep's own process
    seed: int = 0  # the theory's Monte Carlo


SMOKE = ControlledConfig(overrides=("N=[16,64]", "width=4", "min_steps=20", "max_steps=40", "eval_every=20",
                                    "data_seed=[0,1,2]"),
                         exact_N=(16, 64, 1024), theory_runs=4, workers=1)


def risk_to_pixel_mse(risk: Any, *, d: int, n: int) -> Any:
    """The theory's risk R = E‖x̂ − x‖²/E‖x‖² (E‖x‖² = d) as the sweep's per-pixel MSE: R · d / n."""
    return np.asarray(risk, dtype=float) * (d / n)


def floor_pixel_mse(sigma: float, *, d: int, n: int) -> float:
    """The Bayes floor σ²/(1+σ²) (risk of W* = UUᵀ/(1+σ²)) in per-pixel MSE: σ²/(1+σ²) · d / n."""
    return float(risk_to_pixel_mse(sigma**2 / (1.0 + sigma**2), d=d, n=n))


# --------------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------------


def _sweep_args(cfg: ControlledConfig, out: Path, extra: Sequence[str]) -> list[str]:
    sets = set_args([*cfg.overrides, *extra])
    execu = ["--executor", "process", "--workers", str(cfg.workers)] if cfg.workers > 1 else []
    # --retry-failed: a re-run retries failed runs (e.g. one that met a half-edited source tree)
    return ["sweep", cfg.config, "--out", str(out / "sweep"), *sets, *execu, "--threads-per-run", "1", "--retry-failed"]


def _sweeps(cfg: ControlledConfig, st: Stages) -> list[dict]:
    """Run (or resume) both sweeps; their finished rows from the ledger."""

    exact = ['arch="linear-exact"', f"N={list(cfg.exact_N)}"]
    plans = [("networks", _sweep_args(cfg, st.out, [])), ("linear-exact", _sweep_args(cfg, st.out, exact))]
    ids = sweep_run_ids([args for _, args in plans])  # every run validated before any trains
    for what, args in plans:
        st.log(f"sweep ({what}): {' '.join(args[1:])}")
        st.command(f"sweep {what}", args, f"{what} sweep")
    rows = [r for r in load_table(st.out / "sweep") if r["run_id"] in ids]
    bad = [r for r in rows if r["status"] != "done"]
    if bad or len(rows) != len(ids):
        why = bad[0]["reason"] or bad[0]["status"] if bad else "runs missing from the ledger"
        raise ValueError(f"{len(bad) or len(ids) - len(rows)} run(s) did not finish ({why}); re-run to retry them")
    return rows


def _setup(rows: Sequence[dict]) -> dict:
    """n, d, σ and the replicates of the sweep (one problem, or a ``ValueError``)."""
    probs = {(int(r["size"]) ** 2 * int(r["channels"]), int(r["d"]), float(r["sigma"]), r["task"], r["data"])
             for r in rows}
    if len(probs) != 1:
        raise ValueError(f"the sweep mixes {len(probs)} problems (n, d, σ); give one size, d and sigma")
    n, d, sigma, task, data = probs.pop()
    if task != "denoise" or data != "subspace":
        raise ValueError(f"the controlled comparison needs task denoise on data subspace, not {task} on {data}")
    return {"n": n, "d": d, "sigma": sigma, "replicates": sorted({int(r["data_seed"]) for r in rows})}


def _theory(cfg: ControlledConfig, setup: dict, N: list[int], path: Path, st: Stages) -> dict:
    """W^{k_opt} by Monte Carlo (``reconscale theory curve``, a child process, its table cached at
    ``path``), converted to per-pixel MSE."""

    if path.exists():
        st.log(f"reusing {path.name}")
    else:
        st.log(f"theory: W^k_opt by Monte Carlo, {cfg.theory_runs} draws at {len(N)} N")
        st.command("theory", ["theory", "curve", "--n", str(setup["n"]), "--d", str(setup["d"]),
                              "--sigma", repr(setup["sigma"]), "--N", ",".join(str(v) for v in N),
                              "--estimator", "gd-oracle", "--kmax", str(cfg.kmax), "--method", "montecarlo",
                              "--runs", str(cfg.theory_runs), "--seed", str(cfg.seed), "--format", "json",
                              "--out", str(path)])
    rows = sorted(load_table(path), key=lambda r: r["N"])
    px = {"d": setup["d"], "n": setup["n"]}
    return {"N": [int(r["N"]) for r in rows], "mse": risk_to_pixel_mse([r["risk_mean"] for r in rows], **px).tolist(),
            "mse_sem": risk_to_pixel_mse([r["risk_sem"] for r in rows], **px).tolist(), "runs": int(rows[0]["runs"]),
            "k_opt": [float(r["k_opt_mean"]) for r in rows], "floor_risk": float(rows[0]["floor"])}


def _curve(rows: Sequence[dict], curve: str) -> list[dict]:
    """Mean ± standard error of the test MSE over replicates per N (for the network, of the best
    width by mean validation MSE): :func:`bridge.results.runs_curve`, the one runs-to-curve function."""
    out = []
    for r in runs_curve(rows, by=()):
        row = {"curve": curve, "N": int(r["N"]), "mse": r["mse"], "mse_sem": r["mse_sem"], "runs": r["seeds"]}
        if curve == "network":
            row["width"] = int(r["width"])
        out.append(row)
    return out


def _figure(result: dict, path: Path) -> list[Path]:
    from .plotkit import new_figure, save  # noqa: PLC0415

    fig, ax = new_figure(size=(8.5, 4.5))  # room for the legend on the right
    styles = {"theory": dict(color="black", lw=1.5), "linear-exact": dict(color="C0", marker="o", ms=4, lw=1),
              "linear": dict(color="C2", marker="s", ms=4, lw=1), "network": dict(color="C3", marker="^", ms=5, lw=1)}
    for curve, label in CURVES.items():
        pts = [r for r in result["rows"] if r["curve"] == curve]
        if not pts:
            continue
        N, y, e = (np.array([r[k] for r in pts], float) for k in ("N", "mse", "mse_sem"))
        ax.errorbar(N, y, yerr=np.vstack([np.minimum(e, 0.9 * y), e]), capsize=2, elinewidth=0.8, label=label,
                    **styles[curve])
    s = result["setup"]
    ax.axhline(result["floor"], color="black", ls="--", lw=1,
               label=f"Bayes floor σ²/(1+σ²)·d/n = {result['floor']:.3g}")
    ax.axhline(result["input_mse"], color="grey", ls=":", lw=1, label=f"noisy input σ² = {result['input_mse']:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training examples N")
    ax.set_ylabel("test MSE per pixel")
    ax.set_title(f"subspace source: n = {s['n']}, d = {s['d']}, σ = {s['sigma']:g}; "
                 f"{len(s['replicates'])} replicates", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save(fig, path)


def run_controlled(out: str | Path, *, smoke: bool = False, progress: bool = True,
                   cfg: ControlledConfig | None = None) -> dict:
    """Run (or resume) the controlled comparison into ``out``; returns what ``out/controlled.json`` holds.

    Args:
        out: output directory (``sweep/``, ``theory-*.json``, ``controlled.json``, ``controlled.md``,
            ``fig_controlled.{png,pdf}``).
        smoke: the same pipeline on :data:`SMOKE` (tiny networks and step budgets, three N).
        progress: stage messages and the sweeps' progress on stderr.
        cfg: an explicit configuration (overrides ``smoke``).

    Raises:
        ValueError: a sweep did not validate or did not finish (one line; re-running resumes).
    """
    cfg = cfg or (SMOKE if smoke else ControlledConfig())
    t0 = time.perf_counter()
    st = Stages(out, "controlled", progress=progress, rerun="reconscale controlled")
    out = st.out
    with one_blas_thread_children():
        rows = _sweeps(cfg, st)
        t_sweep = time.perf_counter() - t0
        setup = _setup(rows)
        grid = sorted({int(r["N"]) for r in rows})
        key = hashlib.sha256(json.dumps([setup, grid, cfg.theory_runs, cfg.kmax, cfg.seed]).encode()).hexdigest()[:12]
        th = _theory(cfg, setup, grid, out / f"theory-{key}.json", st)
    floor = floor_pixel_mse(setup["sigma"], d=setup["d"], n=setup["n"])
    table = [{"curve": "theory", "N": N, "mse": m, "mse_sem": e, "runs": th["runs"]}
             for N, m, e in zip(th["N"], th["mse"], th["mse_sem"])]
    for curve, arch in (("linear-exact", "linear-exact"), ("linear", "linear"), ("network", "unet")):
        table += _curve([r for r in rows if r["arch"] == arch], curve)
    for r in table:
        r["excess_over_floor"] = r["mse"] - floor
        r["ratio_to_floor"] = r["mse"] / floor
    largest = {}
    for curve in CURVES:
        pts = [r for r in table if r["curve"] == curve]
        if pts:
            largest[curve] = max(pts, key=lambda r: r["N"])
    result = {"config": asdict(cfg), "labels": dict(CURVES), "setup": setup, "floor": floor, "input_mse": setup["sigma"] ** 2,
              "floor_risk": th["floor_risk"], "k_opt": dict(zip(th["N"], th["k_opt"])),
              "conversion": "per-pixel MSE = R·d/n (R = E‖x̂−x‖²/E‖x‖², E‖x‖² = d); floor = σ²/(1+σ²)·d/n",
              "rows": table, "largest_N": largest,
              "warnings": sum(bool(r.get("warning")) for r in rows if r["arch"] != "linear-exact"),
              "sweep_s": t_sweep, "timings_s": st.timings, "wall_s": None, "figures": []}
    result["figures"] = [p.name for p in _figure(result, out / "fig_controlled")]
    result["wall_s"] = time.perf_counter() - t0
    write_json(out / "controlled.json", result)
    atomic_write(out / "controlled.md", controlled_markdown(result))
    return result


def controlled_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale controlled [--out DIR] [--smoke] [--quiet]``."""
    from theory.infra.command import Parser, run_command  # noqa: PLC0415

    p = Parser(prog="reconscale controlled",
               description="Networks trained on the theory's subspace source, where W* is Bayes-optimal, next to "
               "the learned linear estimator (closed form and its trained torch twin), the theory's W^{k_opt} and "
               "the floor σ²/(1+σ²) no estimator beats: controlled.json, controlled.md and fig_controlled.{png,pdf} "
               "in DIR. Re-running resumes.")
    p.add_argument("--out", default="reconscale_controlled", help="output directory (default: reconscale_controlled)")
    p.add_argument("--smoke", action="store_true", help="the same pipeline on a tiny budget (about a minute; for CI)")
    p.add_argument("--quiet", action="store_true")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        result = run_controlled(a.out, smoke=a.smoke, progress=not a.quiet)
        sys.stdout.write(controlled_summary_text(result))
        return 0

    return run_command("reconscale controlled", body, resume_hint="re-run the same command to resume")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(controlled_main())
