"""``reconscale demo`` — theory and experiment on one N axis, on a CPU, in under ten minutes.

The setting is ``quick-denoise``'s: grey crops of the 10 training photographs at about their native
512 px (``source.short_side_factor = 32``), σ = 25/255, at 16×16 pixels (n = 256, so that the linear
curves reach their floor). The test set is 2 048 of the 4 429 non-overlapping 16×16 crops of the 5
held-out photographs (``source.test_crops = "grid"``), each under 4 fixed noise draws
(``test_draws``; the learned linear estimator's test MSE is the exact expectation over the noise).
Three curves on one N axis:

1. **theory** — the Gaussian model with the training crops' second moments (``reconscale
   spectrum``: Σ_P from 65 536 training crops, Σ_Q the test crops' own), early-stopped GD with k
   chosen by the training distribution's risk (:mod:`bridge.datatheory`). Nothing is fitted;
2. **linear** — the learned linear estimator on the real crops, ``arch = "linear-exact"`` (closed
   form, k chosen on the validation crops), N from 16 to 65 536;
3. **network** — U-Nets of widths 4, 8 and 12 (the best width per N by validation MSE), N from 16
   to 4 096;

next to the classical baselines on the same test crops and noise (``reconscale baselines``) and two
floors: the **linear floor** R_Q(W*_P) (what any number of training crops gives a linear map) and the
**Wiener floor** of the test crops themselves, R_Q(W*_Q) (identified: Σ_Q has full rank).

One PSNR convention: 10 log₁₀(1/MSE) of the mean test MSE over seeds and test crops (the theory
predicts MSE; a mean of per-image PSNRs is another number, infinite on a crop a method gets exactly
right). Every measured point and every finding built on them carries a 90% interval of a paired
bootstrap over the test crops and the seeds (:mod:`bridge.paired`): one resample of the crops is
shared by every curve, so differences between curves (the crossings, the gain per doubling, the width
that stops helping) are paired. The sweeps and the spectrum run as ``reconscale`` commands in child
processes (:mod:`bridge.stages`), so ``bridge`` never imports torch and reads the results from the
ledgers like any other user.

Every stage writes its result into DIR atomically and is skipped when it is already there (the
sweeps resume from their ledgers), so an interrupted demo resumes where it stopped. Outputs:
``summary.json`` (``curves``: rows ``{curve, N, psnr, psnr_lo, psnr_hi, psnr_sem, mse, mse_lo, mse_hi,
mse_sem, seeds, test_images}``; ``findings``: rows ``{quantity, value, lo, hi, identified, reason}``),
``report.md`` and ``figures/``.
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

from theory.datamodel import DataModel
from theory.infra.io import atomic_write, write_json

from .datatheory import data_theory_curve, floor_draws, load_data_model, theory_draws
from .extra import SUPERVISED, compare_targets, target_of, theory_extra
from .paired import curve_bands, difference_interval, image_errors, image_weights, point_draws, run_draws
from .figures import empirical_figure, selfsup_figure, three_curve_figure
from .report import analyse
from .results import CURVE_COLUMNS, load_table, parse_cell, runs_curve
from .stages import Stages, set_args
from .text import demo_markdown, demo_summary_text
from .uncertainty import mse_to_psnr

__all__ = ["DemoConfig", "SMOKE", "SELF_SUPERVISED_WIDTHS", "MIN_GAIN_DB", "run_demo", "demo_main", "own_runs", "crossing", "demo_findings",
           "paired_findings", "width_saturation"]


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs. ``SMOKE`` is the same path on a tiny grid (CI).

    Attributes:
        config: the sweep config every stage starts from.
        data: ``--set`` values shared by every stage (crop size, test crops).
        N_linear: N of the linear-exact runs and of the theory curve.
        N_network: N of the networks (a subset of ``N_linear``).
        widths, seeds: the networks' widths; seeds of both sweeps.
        training: ``--set`` values of the network sweep only.
        baselines: the classical baselines shown (``reconscale baselines --names``).
        examples: training crops of Σ_P. workers: network runs in parallel (one thread each).
        n_boot: bootstrap resamples of the network fits (refit b on resample b of the test crops, so
            at most ``n_boot_test``). n_boot_test: resamples of the paired bootstrap over test images
            and seeds (:mod:`bridge.paired`). level: the level of every interval.
        seed: the randomness of both bootstraps.
        targets: training targets of both sweeps; with a self-supervised one (``noisy``) both
            sweeps get a ``target`` axis, the networks train on one fixed noisy image per example
            (``train_noise = "fixed"``, as the linear estimator and the theory), and the report
            gains the self-supervised section (``reconscale demo --self-supervised``).
    """

    config: str = "quick-denoise"
    # 256 validation crops: on the default 24, linear-exact's k was chosen badly enough to stay 0.4 dB
    # under the linear floor at N = 65 536 (measured; 0.0 dB with 256). The photos near their native
    # 512 px (short_side_factor 32), tested on 2 048 of their 4 429 non-overlapping 16×16 crops, each
    # under 4 noise draws (linear-exact: the exact noise expectation): Σ_Q has full rank, so the
    # Wiener floor of the test distribution is identified, and every interval includes the test sample
    data: tuple[str, ...] = ("size=16", "n_test=2048", "n_val=256", "source.short_side_factor=32",
                             "source.test_crops=grid", "test_draws=4")
    N_linear: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384, 65536)
    N_network: tuple[int, ...] = (16, 64, 256, 1024, 4096)
    widths: tuple[int, ...] = (4, 8, 12)
    seeds: tuple[int, ...] = (0, 1)
    # 2400 steps: with 1200 every run at N ≥ 1024 still improved at its last step (measured)
    training: tuple[str, ...] = ("batch_size=16", "epochs=40", "min_steps=200", "max_steps=2400", "eval_every=100")
    # BM3D on thousands of crops × 4 draws takes many minutes on a CPU: the demo's baselines are these
    baselines: tuple[str, ...] = ("input", "wavelet", "tv")
    examples: int = 65536
    workers: int = 2
    n_boot: int = 100
    n_boot_test: int = 1000
    level: float = 0.9
    seed: int = 0
    targets: tuple[str, ...] = ("clean",)

    def __post_init__(self) -> None:
        if not set(self.N_network) <= set(self.N_linear):
            raise ValueError("N_network must be a subset of N_linear (the networks are compared at equal N)")
        if self.targets[:1] != ("clean",) or not set(self.targets) <= {"clean", "noisy"}:
            raise ValueError(f"targets={self.targets}: use ('clean',) or ('clean', 'noisy')")
        if not 10 <= self.n_boot <= self.n_boot_test:
            raise ValueError(f"n_boot={self.n_boot}: use between 10 and n_boot_test = {self.n_boot_test} (each refit "
                             "of the network fits takes one resample of the test crops)")

    @property
    def self_supervised(self) -> bool:
        """Whether the demo compares clean with noisy training targets."""
        return len(self.targets) > 1


#: ``--self-supervised`` trains these widths only: its two targets double the network runs, and width 12
#: gained +0.02 dB over width 8 at N = 4 096 in the supervised demo (below :data:`MIN_GAIN_DB`), so dropping
#: it keeps the run under the 600 s budget (with 4, 8 and 12: 8 min 35 s, measured)
SELF_SUPERVISED_WIDTHS = (4, 8)

SMOKE = DemoConfig(data=("size=8", "n_test=4", "n_val=6", "test_draws=2"), N_linear=(8, 16, 32, 128, 512),
                   N_network=(8, 16, 32), widths=(4, 6), seeds=(0, 1), examples=1024, n_boot=30, n_boot_test=200,
                   workers=1,
                   training=("depth=1", "batch_size=4", "min_steps=20", "max_steps=40", "eval_every=20"))


def own_runs(rows: Sequence[dict], sets: Sequence[str]) -> list[dict]:
    """The rows of a sweep table that a sweep with these ``--set`` values trains.

    Args:
        rows: tidy run rows (:func:`bridge.results.load_table`). sets: ``key=value`` strings; a list
            value is an axis (the row's value must be one of it), ``source.KEY`` a data-source option.

    Returns:
        The rows whose every such column matches, in their order.
    """
    want = {k: parse_cell(v) for k, v in (item.split("=", 1) for item in sets)}
    return [r for r in rows
            if all(r.get(k) in (v if isinstance(v, list) else [v]) for k, v in want.items())]


# ----------------------------------------------------------------------------------- the curves
def crossing(a: Sequence[dict], b: Sequence[dict], *, what: str, z: float = 2.0,
             intervals: dict[Any, tuple[float, float]] | None = None) -> dict:
    """Where curve ``a`` overtakes curve ``b`` in PSNR (rows ``{N, psnr, psnr_sem}``, e.g. of
    :func:`bridge.results.runs_curve`, compared at common N).

    ``a`` is *ahead* at N when the interval of psnr_a − psnr_b lies above 0: the paired interval
    ``intervals[N]`` when given (:func:`bridge.paired.difference_interval`, test images and seeds),
    else psnr_a − psnr_b > z·√(sem_a² + sem_b²) (seeds only).
    The crossing is identified when a is behind (or tied) at one N and ahead at every larger common N:
    its value interpolates the difference linearly in log N between the last N not ahead and the
    first ahead, ``lo``/``hi`` are those two N. Otherwise it is not identified, with the reason
    (ahead already at the smallest N; never ahead; ahead then behind again).

    Returns:
        A finding ``{quantity, value, lo, hi, identified, reason}``.
    """
    bN = {r["N"]: r for r in b}
    common = [r for r in a if r["N"] in bN]
    out = {"quantity": what, "value": None, "lo": None, "hi": None, "identified": False}
    if len(common) < 2:
        return {**out, "reason": "fewer than 2 common N"}
    Ns = np.array([r["N"] for r in common], float)
    diff = np.array([r["psnr"] - bN[r["N"]]["psnr"] for r in common])
    if intervals is not None:
        ahead = np.array([intervals[r["N"]][0] > 0 for r in common])
        margin = "its paired interval (test images and seeds)"
    else:
        se = np.array([np.hypot(r["psnr_sem"], bN[r["N"]]["psnr_sem"]) for r in common])
        ahead = diff > z * se
        margin = f"{z:g} SEM"
    if ahead.all():
        return {**out, "hi": float(Ns[0]), "reason": f"ahead already at the smallest common N = {Ns[0]:g} "
                f"(by {diff[0]:.2f} dB): the crossing lies below the data"}
    if not ahead[-1]:
        return {**out, "lo": float(Ns[-1]), "reason": f"not ahead at any N up to {Ns[-1]:g} beyond {margin} "
                f"(difference there {diff[-1]:+.2f} dB)" if not ahead.any() else
                f"ahead at some N but not at the largest, {Ns[-1]:g} ({diff[-1]:+.2f} dB): no single crossing"}
    j = int(np.flatnonzero(~ahead)[-1])  # the last N not ahead; every larger N is ahead
    x0, x1, d0, d1 = np.log(Ns[j]), np.log(Ns[j + 1]), diff[j], diff[j + 1]
    t = float(np.clip(-d0 / (d1 - d0), 0, 1)) if d1 != d0 else 0.5
    return {**out, "value": float(np.exp(x0 + t * (x1 - x0))), "lo": float(Ns[j]), "hi": float(Ns[j + 1]),
            "identified": True, "reason": f"behind or tied at N = {Ns[j]:g} ({d0:+.2f} dB), ahead from N = "
            f"{Ns[j + 1]:g} ({d1:+.2f} dB); value interpolated in log N"}


def _psnr(mse: float) -> float:
    return float(mse_to_psnr(mse))


def _below(r: dict, level_db: float) -> tuple[str, float | None, float | None]:
    """How far a curve point lies below ``level_db`` (dB): the reason, and the interval's ends."""
    if r.get("psnr_lo") is not None:
        return (f"90% interval over {r.get('test_images')} test images and {r['seeds']} seeds",
                level_db - r["psnr_hi"], level_db - r["psnr_lo"])
    return f"± {r['psnr_sem']:.2f} dB (SEM over {r['seeds']} seeds)", None, None


def demo_findings(theory: Sequence[dict], linear: Sequence[dict], network: Sequence[dict], fits: dict | None,
                  *, gap_from: int = 64, paired: dict | None = None) -> tuple[list[dict], list[dict]]:
    """What the three curves show, as findings, and the theory-vs-linear gaps per N.

    Args:
        theory, linear, network: the curves' rows (``N``, ``psnr``, ``psnr_sem``, ``seeds``; with
            ``psnr_lo``/``psnr_hi``, intervals over test images and seeds, where measured).
        fits: :func:`bridge.report.analyse` of the network curve, or None.
        gap_from: the smallest N of the largest theory − linear gap.
        paired: from :func:`paired_findings`: ``"network-linear"`` and ``"network-floor"`` (N →
            paired interval of the PSNR difference, for the crossings) and ``"network"`` (the
            network's own findings). Without it, crossings compare at 2 SEM over seeds.

    Returns:
        ``(findings, gaps)``: findings ``{quantity, value, lo, hi, identified, reason}``; gaps
        ``{N, theory_psnr, linear_psnr, gap_db}`` (theory − linear) at every N of both curves.
    """
    th = {r["N"]: r for r in theory}
    floor_PQ, floor_Q = theory[0]["floor_P_on_Q"], theory[0]["floor_Q"]
    paired = paired or {}
    tl = paired.get("theory-linear", {})
    gaps = [{"N": r["N"], "theory_psnr": th[r["N"]]["psnr"], "linear_psnr": r["psnr"],
             "gap_db": th[r["N"]]["psnr"] - r["psnr"],
             **({"gap_lo": tl[r["N"]][0], "gap_hi": tl[r["N"]][1]} if r["N"] in tl else
                {"gap_lo": th[r["N"]]["psnr"] - r["psnr_hi"], "gap_hi": th[r["N"]]["psnr"] - r["psnr_lo"]}
                if r.get("psnr_lo") is not None else {})} for r in linear if r["N"] in th]

    def row(q: str, v: float | None, reason: str, lo: float | None = None, hi: float | None = None,
            ok: bool = True) -> dict:
        return {"quantity": q, "value": v, "lo": v if lo is None else lo, "hi": v if hi is None else hi,
                "identified": ok, "reason": reason}

    over_crops = " (90% interval over the test crops)"
    out = [row("linear floor: PSNR of W*_P on the test crops (dB)", _psnr(floor_PQ),
               "the N → ∞ limit of the learned linear estimator, from the training crops' second moments"
               + (over_crops if "floor" in paired else ""), *paired.get("floor", (None, None))),
           row("Wiener floor of the test crops: PSNR of W*_Q (dB)", _psnr(floor_Q),
               "the best linear map for the test crops themselves (knows Q: no estimator learned on P attains it)"
               + ("; [lo, hi]: from the 2-fold cross-validated floor (W*_Q of half the crops scored on the other "
                  "half) to this in-sample one: the test distribution's floor lies between"
                  if "wiener" in paired else ""), *paired.get("wiener", (None, None)))]
    rank_Q, n_pix = theory[0].get("rank_Q"), theory[0].get("n")
    if rank_Q is not None and n_pix is not None and rank_Q < n_pix:
        out[1].update(value=None, lo=None, hi=None, identified=False,
                      reason=f"Σ_Q of the test crops has rank {rank_Q} < n = {n_pix}: W*_Q projects onto their span "
                      "(it would need more test crops than pixels)")
    far = [g for g in gaps if g["N"] >= gap_from]
    if far:
        d = np.array([g["gap_db"] for g in far])
        i = int(np.argmax(np.abs(d)))
        g = far[i]
        span = f"at N = {g['N']:g} (gaps over N ≥ {gap_from} from {d.min():+.3f} to {d.max():+.3f} dB, per N in 'gaps')"
        if g.get("gap_lo") is not None:
            whose = ("paired: test crops (both curves) and seeds" if tl else
                     "the learned linear curve's (test crops and seeds)")
            out.append(row(f"theory − linear PSNR, largest |gap| over N ≥ {gap_from} (dB)", float(d[i]),
                           f"{span}; the interval is {whose}", lo=g["gap_lo"], hi=g["gap_hi"]))
        else:
            out.append(row(f"theory − linear PSNR, largest |gap| over N ≥ {gap_from} (dB)", float(d[i]), span))
    big = linear[-1]
    why, lo, hi = _below(big, _psnr(floor_PQ))
    if big["N"] in paired.get("floor-linear", {}):
        (lo, hi), why = paired["floor-linear"][big["N"]], why + ", paired with the floor's"
    out.append(row(f"linear at its largest N = {big['N']:g}: dB below the linear floor", _psnr(floor_PQ) - big["psnr"],
                   why, lo, hi))
    tb = th.get(big["N"])
    if tb is not None:
        ft = paired.get("floor-theory", {}).get(big["N"])
        out.append(row(f"theory at N = {big['N']:g}: dB below the linear floor", _psnr(floor_PQ) - tb["psnr"],
                       "the Gaussian model's own approach to its floor"
                       + ("; 90% interval over the test crops, paired with the floor's" if ft else ""),
                       *(ft or (None, None))))
    out.append(crossing(network, linear, what="N where the network overtakes the learned linear estimator",
                        intervals=paired.get("network-linear")))
    floor_curve = [{"N": r["N"], "psnr": _psnr(floor_PQ), "psnr_sem": 0.0} for r in network]
    out.append(crossing(network, floor_curve, what="N where the network beats the linear floor (every linear map "
                        "learned from the training distribution)", intervals=paired.get("network-floor")))
    if network:
        nb = network[-1]
        why, lo, hi = _below(nb, _psnr(floor_PQ))
        lo, hi = (None if hi is None else -hi), (None if lo is None else -lo)
        if nb["N"] in paired.get("network-floor", {}):
            (lo, hi), why = paired["network-floor"][nb["N"]], why + ", paired with the floor's"
        out.append(row(f"network at its largest N = {nb['N']:g} vs the linear floor (dB)", nb["psnr"] - _psnr(floor_PQ),
                       why + "; positive: better than any linear map", lo, hi))
    out += paired.get("network", [])
    for f in (fits or {}).get("findings", []):
        out.append({"quantity": f"network fit: {f['quantity']}", "value": f.get("value"), "lo": f.get("lo"),
                    "hi": f.get("hi"), "identified": bool(f.get("identified")), "reason": f.get("reason", "")})
    return out, gaps


#: A wider network *helps* when the lower end of its paired interval of the PSNR gain exceeds this (dB):
#: the explorer's "each doubling gains < 0.1 dB" (a statistically clear 0.02 dB is no reason to double).
MIN_GAIN_DB = 0.1


def width_saturation(N: int, runs: Sequence[dict], errors: dict, weights: np.ndarray, *, level: float,
                     rng: np.random.Generator, min_gain_db: float = MIN_GAIN_DB) -> dict:
    """The width beyond which more parameters stop helping the network at ``N``, as a finding.

    Per width, the test PSNR of the mean MSE over its seeds, with draws over the shared test-image
    resamples (:func:`bridge.paired.point_draws`). A width is *beaten* when some larger width's paired
    interval of the difference lies above 0. The value is the smallest width no larger width beats
    (``lo``/``hi``: the width below it and it). *Beats* means: the lower end of the paired interval of
    the PSNR gain exceeds ``min_gain_db``. Not identified when that is the largest width trained
    (still improving: the saturation lies beyond the data) or the smallest (no width helps: it lies at
    or below the data).
    """
    done = [r for r in runs if r.get("status") == "done" and r["N"] == N]
    widths = sorted({r["width"] for r in done})
    what = f"network width beyond which more parameters stop helping at N = {N:g}"
    out = {"quantity": what, "value": None, "lo": None, "hi": None, "identified": False}
    if len(widths) < 2:
        return {**out, "reason": f"one width trained at N = {N:g}"}
    draws = {w: mse_to_psnr(point_draws([errors[r["run_id"]] for r in done if r["width"] == w], weights, rng))
             for w in widths}
    psnr = {w: float(mse_to_psnr(np.mean([errors[r["run_id"]].mean() for r in done if r["width"] == w])))
            for w in widths}
    beaten = {w: [v for v in widths if v > w and difference_interval(draws[v], draws[w], level=level)[0] > min_gain_db]
              for w in widths}
    best = next(w for w in widths if not beaten[w])
    table = ", ".join(f"{w}: {psnr[w]:.2f} dB" for w in widths)
    if best == widths[-1]:
        lo, hi = difference_interval(draws[widths[-1]], draws[widths[-2]], level=level)
        return {**out, "lo": float(widths[-1]), "reason": f"width {widths[-1]} still beats {widths[-2]} by "
                f"{psnr[widths[-1]] - psnr[widths[-2]]:+.2f} dB [{lo:+.2f}, {hi:+.2f}]: the saturation lies beyond the "
                f"widths trained ({table})"}
    if best == widths[0]:
        return {**out, "hi": float(widths[0]), "reason": f"no wider network beats width {widths[0]} by more than "
                f"{min_gain_db:g} dB ({table}): more parameters stop helping at or below the smallest width trained"}
    below = widths[widths.index(best) - 1]
    return {**out, "value": float(best), "lo": float(below), "hi": float(best), "identified": True,
            "reason": f"width {best} beats {below}, and no wider network beats it by more than {min_gain_db:g} dB "
            f"({table}; {level:.0%} paired intervals over test images and seeds)"}


def paired_findings(network: Sequence[dict], lin_draws: dict, net_draws: dict, runs: Sequence[dict], errors: dict,
                    weights: np.ndarray, *, floor_db: float, level: float, rng: np.random.Generator,
                    floors: dict | None = None, theory: dict | None = None) -> dict:
    """What the paired draws say (``paired`` of :func:`demo_findings`).

    Args:
        network: the network curve's rows (with intervals). lin_draws, net_draws: N → PSNR draws of
            :func:`bridge.paired.curve_bands` under the same image weights. runs: the network runs.
        errors, weights: per-image test errors and the shared image resamples. floor_db: the linear
            floor in dB. level: interval level. rng: resamples seeds. floors: the floors' per-pixel
            MSE under the same resamples (:func:`bridge.datatheory.floor_draws`), or None (the
            linear floor then counts as exact). theory: N → the theory's per-pixel MSE under the
            same resamples (:func:`bridge.datatheory.theory_draws`), or None.

    Returns:
        ``{"network-linear", "network-floor", "floor-linear"}``: N → interval of the PSNR difference;
        ``"floor"``: the linear floor's PSNR interval, ``"wiener"``: the Wiener floor's bracket (with
        ``floors``, :func:`bridge.datatheory.floor_draws`); ``"network"``: the
        network's gain per doubling of N at its largest N and its width saturation there.
    """
    q = 50 * (1 - level), 50 * (1 + level)
    B = weights.shape[0]
    floor_b = mse_to_psnr(floors["floor_P_on_Q"]) if floors else np.full(B, floor_db)
    out: dict[str, Any] = {
        "network-linear": {N: difference_interval(d, lin_draws[N], level=level) for N, d in net_draws.items()
                           if N in lin_draws},
        "network-floor": {N: difference_interval(d, floor_b, level=level) for N, d in net_draws.items()},
        "floor-linear": {N: difference_interval(floor_b, d, level=level) for N, d in lin_draws.items()},
        "network": []}
    th_b = {N: mse_to_psnr(d) for N, d in (theory or {}).items()}
    out["theory"] = {N: tuple(float(v) for v in np.percentile(d, q)) for N, d in th_b.items()}
    out["theory-linear"] = {N: difference_interval(d, lin_draws[N], level=level) for N, d in th_b.items()
                            if N in lin_draws}
    out["floor-theory"] = {N: difference_interval(floor_b, d, level=level) for N, d in th_b.items()}
    if floors:
        out["floor"] = tuple(float(v) for v in np.percentile(floor_b, q))
        inside, crossed = floors["floor_Q_bracket"]
        out["wiener"] = (float(mse_to_psnr(crossed)), float(mse_to_psnr(inside)))
    if len(network) >= 2:
        a, b = network[-2], network[-1]
        doublings = float(np.log2(b["N"] / a["N"]))
        lo, hi = difference_interval(net_draws[b["N"]], net_draws[a["N"]], level=level)
        kept = [r for r in runs if r["N"] in (a["N"], b["N"]) and r["width"] == {a["N"]: a["width"],
                                                                                  b["N"]: b["width"]}[r["N"]]]
        capped = [r for r in kept if r.get("best_step") is not None and r["best_step"] == r.get("steps")]
        budget = (f"; {len(capped)} of its {len(kept)} runs kept their last step (still improving when the step "
                  "budget ran out), so this slow-down may be partly the budget's" if capped else
                  "; every run stopped improving before its step budget ended")
        out["network"].append({"quantity": f"network gain per doubling of N at its largest N ({a['N']:g} → {b['N']:g}, "
                                           "dB)", "value": (b["psnr"] - a["psnr"]) / doublings, "lo": lo / doublings,
                               "hi": hi / doublings, "identified": True,
                               "reason": f"{level:.0%} interval over test images (paired) and seeds" + budget})
        out["network"].append(width_saturation(b["N"], runs, errors, weights, level=level, rng=rng))
    return out


def _selfsup(model: Any, theory: Sequence[dict], runs: Sequence[dict], cfg: DemoConfig, errors: dict) -> dict:
    """The self-supervised comparison: theory (σ_t = σ against σ_t = 0), linear and network curves
    per target, and the extra examples needed (:mod:`bridge.extra`)."""

    noisy_model = DataModel(model.train, model.sigma, model.test, None, target_sigma=model.sigma)
    # the noisy-target theory continues to 16× the largest N, so that it can say how many examples it needs
    # to match the clean curve there (it never extrapolates), on 8 points per doubling: inverting it on the
    # clean curve's own N (up to 4× apart) left the factor non-monotone (7.95 at N = 4096, 7.43 at 16 384)
    top = 16 * max(cfg.N_linear)
    grid = sorted({*cfg.N_linear, *np.unique(np.round(np.geomspace(min(cfg.N_linear), top, 1 + 8 * int(np.log2(
        top / min(cfg.N_linear)))))).astype(int).tolist()})
    theory_noisy = data_theory_curve(noisy_model, grid, kmax=float(runs[0]["linear_kmax"]))
    res = compare_targets(runs, n_boot=cfg.n_boot, rng=np.random.default_rng(cfg.seed), errors=errors,
                          n_boot_test=cfg.n_boot_test)
    curves = [{"family": "theory", "target": t, "N": r["N"], "seeds": 0, "mse": r["mse"], "mse_sem": 0.0,
               "psnr": r["psnr"], "psnr_sem": 0.0} for t, rows in (("clean", theory), ("noisy", theory_noisy))
              for r in rows if r["N"] in cfg.N_linear]  # the table's N: the dense grid is for the inversion only
    return {"curves": curves + res["curves"], "extra": theory_extra(theory, theory_noisy, target="noisy")
            + res["extra"], "theory_noisy": theory_noisy}


# ----------------------------------------------------------------------------------- the demo
def run_demo(out: str | Path, cfg: DemoConfig = DemoConfig(), *, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the demo into ``out``; returns the summary (also in ``out/summary.json``)."""

    t_start = time.perf_counter()
    st = Stages(out, "demo", progress=progress, rerun="the demo")
    out = st.out
    seeds = f"seed={list(cfg.seeds)}"
    # self-supervised: a target axis in both sweeps; every arm trains on one fixed noisy image per example
    axis = [f"target={json.dumps(list(cfg.targets))}"] if cfg.self_supervised else []  # TOML and JSON alike
    fixed = ["train_noise=fixed" if cfg.self_supervised else "train_noise=fresh"]
    # 1. the second moments of the training and test crops (the theory's only input)
    spec = out / "spectrum.npz"
    if not spec.exists():
        st.log(f"spectrum: Σ_P from {cfg.examples} training crops, Σ_Q from the test crops")
        st.command("spectrum", ["spectrum", cfg.config, *set_args(cfg.data), "--examples", str(cfg.examples),
                                "--out", str(spec)])
    # 2. the learned linear estimator, exact, and 3. the networks (resumable ledgers); only the runs
    # with the demo's own settings are read back: a directory used with others (the self-supervised
    # mode, another step budget) keeps those runs apart
    # single-threaded workers: small convolutions do not scale over threads, runs do (one worker: the
    # runs train in the sweep's own process, without a pool to start)
    pool = ["--executor", "process", "--workers", str(cfg.workers)] if cfg.workers > 1 else []
    sets = {"linear": [*cfg.data, "arch=linear-exact", f"N={list(cfg.N_linear)}", seeds, *axis],
            "network": [*cfg.data, f"N={list(cfg.N_network)}", f"width={list(cfg.widths)}", seeds, *cfg.training,
                        *axis, *fixed]}
    st.log(f"linear-exact: N={list(cfg.N_linear)}, seeds={list(cfg.seeds)}")
    st.command("linear", ["sweep", cfg.config, "--out", str(out / "linear"), *set_args(sets["linear"])], "linear sweep")
    st.log(f"networks: N={list(cfg.N_network)}, widths={list(cfg.widths)}, seeds={list(cfg.seeds)}")
    st.command("network", ["sweep", cfg.config, "--out", str(out / "network"), *pool, "--threads-per-run", "1",
                           *set_args(sets["network"])], "network sweep")
    tables = {name: own_runs(load_table(out / name), sets[name]) for name in sets}
    for name, rows in tables.items():
        bad = [r for r in rows if r["status"] != "done"]
        if bad:
            raise ValueError(f"{len(bad)} {name} run(s) did not finish ({bad[0]['reason'] or bad[0]['status']}); "
                             "re-run the demo to retry them")
    # 4. classical baselines on the same test crops and noise
    bpath = out / "baselines.json"
    if not bpath.exists():
        st.log("classical baselines (tuned on validation)")
        st.command("baselines", ["baselines", cfg.config, *set_args(cfg.data),
                                 *set_args([f"N={cfg.N_network[0]}", f"seed={cfg.seeds[0]}"]),
                                 "--names", ",".join(cfg.baselines), "--format", "json", "--out", str(bpath)],
                   has_quiet=False)
    brows = [r for r in json.loads(bpath.read_text()) if r.get("mse")]
    baselines = {r["baseline"]: _psnr(r["mse"]) for r in brows}  # PSNR of the mean MSE: the report's one convention
    # 5. the theory curve (no parameter fitted) and the fits of the network curve
    key = hashlib.sha256(json.dumps([asdict(cfg), spec.stat().st_mtime_ns]).encode()).hexdigest()[:12]
    model, meta = load_data_model(spec)
    theory = st.cached("theory", out / f"theory-{key}.json", lambda: data_theory_curve(
        model, list(cfg.N_linear), kmax=float(tables["linear"][0]["linear_kmax"])))

    clean = {name: [r for r in rows if target_of(r) == SUPERVISED] for name, rows in tables.items()}
    # every curve point: the PSNR of the mean MSE over seeds and test images, with a 90% interval over
    # both; one resample of the test images shared by every curve, so differences are paired
    errors = {**image_errors(out / "linear"), **image_errors(out / "network")}
    rng_t = np.random.default_rng([cfg.seed, 1])
    weights = image_weights(len(next(iter(errors.values()))), cfg.n_boot_test, rng_t)
    (linear, lin_draws), (network, net_draws) = (
        curve_bands([{"curve": name, **{k: c[k] for k in CURVE_COLUMNS}} for c in runs_curve(clean[name], by=())],
                    clean[name], errors, weights, level=cfg.level, rng=rng_t) for name in ("linear", "network"))
    done_net = [r for r in clean["network"] if r["status"] == "done"]
    best_w = {r["N"]: r["width"] for r in network}
    pts = [r for r in done_net if r["width"] == best_w[r["N"]]]
    # the law fits too: refit b resamples the seeds of resample b of the test crops (the curves' own)
    fits = st.cached("fits", out / f"fits-{key}.json", lambda: analyse(
        [r["N"] for r in pts], mse_to_psnr([r["test_mse"] for r in pts]), metric="test_psnr",
        groups=[r["seed"] for r in pts], draws=mse_to_psnr(run_draws(pts, errors, weights[:cfg.n_boot])),
        n_boot=cfg.n_boot, level=cfg.level, rng=np.random.default_rng(cfg.seed),
        band_grid=np.geomspace(min(cfg.N_network), 4 * max(cfg.N_network), 200)))  # figure 2 draws this band
    with np.load(spec, allow_pickle=False) as z:  # the test crops (spectrum files before Q_X: the floors are exact)
        crops = z["Q_X"] if "Q_X" in z.files and len(z["Q_X"]) == weights.shape[1] else None
    floors = floor_draws(model, crops, weights) if crops is not None else None
    th_draws = st.timed("theory intervals", lambda: theory_draws(model, theory, crops, weights, rng=np.random.default_rng(
        [cfg.seed, 2]))) if crops is not None else None
    paired = paired_findings(network, lin_draws, net_draws, done_net, errors, weights,
                             floor_db=_psnr(theory[0]["floor_P_on_Q"]), level=cfg.level, rng=rng_t, floors=floors,
                             theory=th_draws)
    q = 50 * (1 - cfg.level), 50 * (1 + cfg.level)
    theory = [{**r, "mse_lo": float(np.percentile(th_draws[r["N"]], q[0])),
               "mse_hi": float(np.percentile(th_draws[r["N"]], q[1])),
               "psnr_lo": paired["theory"][r["N"]][0], "psnr_hi": paired["theory"][r["N"]][1]}
              if th_draws and r["N"] in th_draws else r for r in theory]
    findings, gaps = demo_findings(theory, linear, network, fits, paired=paired)
    # 6. figures and the report
    figs = out / "figures"
    paths = three_curve_figure(theory, linear, network, figs / "fig_three_curves", baselines=baselines)
    selfsup = None
    if cfg.self_supervised:  # 7. noisy targets: theory with σ_t = σ, both sweeps' target axes, extra examples
        selfsup = st.cached("selfsup", out / f"selfsup-{key}.json", lambda: _selfsup(
            model, theory, [*tables["linear"], *tables["network"]], cfg, errors))

        paths += selfsup_figure(selfsup["curves"], selfsup["extra"], figs / "fig_selfsup")
    # every run in the report's one convention too: the PSNR of its mean test MSE (the ledger's
    # test_psnr is a mean of per-image PSNRs, infinite on a test crop a method gets exactly right)
    paths += empirical_figure([{**r, "test_psnr": _psnr(r["test_mse"])} for r in done_net],
                              figs / "fig2_network_psnr_vs_N", metric="psnr", baselines=baselines,
                              band=fits.get("band"), n_boot=cfg.n_boot, level=cfg.level,
                              rng=np.random.default_rng(cfg.seed))
    cols = ("curve", "N", "psnr", "psnr_lo", "psnr_hi", "psnr_sem", "mse", "mse_lo", "mse_hi", "mse_sem")
    curves = [{k: r.get(k) for k in cols} | {"seeds": r.get("seeds", 0), "test_images": r.get("test_images")}
              for r in [*({**t, "curve": "theory", "psnr_sem": 0.0, "seeds": 0} for t in theory), *linear, *network]]
    summary = {"config": asdict(cfg), "spectrum": meta, "curves": curves, "level": cfg.level, "findings": findings, "gaps": gaps,
               "network_widths": {str(r["N"]): r["width"] for r in network}, "baselines": baselines,
               "theory": theory, "fits": fits, "figures": [str(p.relative_to(out)) for p in paths],
               "timings_s": st.timings, "wall_s": None, "selfsup": selfsup}
    summary["wall_s"] = time.perf_counter() - t_start
    write_json(out / "summary.json", summary)
    atomic_write(out / "report.md", demo_markdown(summary))
    return summary


def demo_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale demo [--out DIR] [--smoke] [--boot B] [--quiet]``."""
    from theory.infra.command import Parser, UsageError, run_command  # noqa: PLC0415

    p = Parser(prog="reconscale demo", description="The linear theory of the photos' own crops, the learned "
                "linear estimator and small U-Nets on one N axis, with classical baselines and the linear and "
                "Wiener floors: figures, summary.json and report.md in DIR. Re-running resumes.")
    p.add_argument("--out", default="reconscale_demo", help="output directory (default: reconscale_demo)")
    p.add_argument("--smoke", action="store_true", help="the same pipeline on a tiny grid (seconds; for CI)")
    p.add_argument("--boot", type=int, default=None, help="bootstrap resamples of the network fits (default 100)")
    p.add_argument("--self-supervised", action="store_true",
                   help="also train on noisy targets (a second noisy image per example) and report the extra "
                        "examples they need")
    p.add_argument("--quiet", action="store_true")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        cfg = SMOKE if a.smoke else DemoConfig()
        if a.self_supervised:
            cfg = DemoConfig(**{**asdict(cfg), "targets": ("clean", "noisy"),
                                **({} if a.smoke else {"widths": SELF_SUPERVISED_WIDTHS})})
        if a.boot is not None:
            if not 10 <= a.boot <= cfg.n_boot_test:
                raise UsageError(f"reconscale demo: error: --boot {a.boot}: use between 10 and {cfg.n_boot_test} "
                                 "resamples (one resample of the test crops each)")
            cfg = DemoConfig(**{**asdict(cfg), "n_boot": a.boot})
        s = run_demo(a.out, cfg, progress=not a.quiet)
        sys.stdout.write(demo_summary_text(s))
        return 0

    return run_command("reconscale demo", body, resume_hint="re-run the same command to resume")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(demo_main())
