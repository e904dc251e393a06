"""Supervised and self-supervised training of one sweep on one N axis: the extra examples needed.

A sweep with a ``target`` axis (``clean`` and ``noisy``, ``noisy-resampled`` or ``split``; see
:mod:`empirical.targets`) trains the same estimators on clean and on self-supervised targets and
scores both against the clean test images. :func:`compare_targets` reads its runs (a ledger or an
exported table; no torch) and returns, per estimator family (``network``: the trained archs, best
width per N by validation MSE; ``linear``: ``arch = "linear-exact"``) and target:

* ``curves`` — rows ``{family, target, N, seeds, mse, mse_sem, psnr, psnr_sem}``: the mean test MSE
  over seeds and 10 log₁₀(1/MSE) per seed, mean ± SEM;
* ``extra`` — for each N of the supervised curve, the N at which the self-supervised curve reaches
  the supervised quality and the factor N_equiv/N, with a bootstrap interval from the fitted laws
  (:func:`bridge.extra.extra_examples`) or "not identified" and why.

Runs without a ``target`` column (ledgers older than the axis) are clean-target runs.
:func:`section_markdown` renders both for a report; ``reconscale selfsup DIR``
(:func:`bridge.cli.selfsup_main`) prints them and draws :func:`bridge.figures.selfsup_figure`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["SUPERVISED", "target_of", "family_of", "compare_targets", "theory_extra", "section_markdown"]

#: The supervised target every self-supervised one is compared with.
SUPERVISED = "clean"


def target_of(row: dict) -> str:
    """A run's training target (``clean`` for rows written before the axis existed)."""
    return row.get("target") or SUPERVISED


def family_of(row: dict) -> str:
    """``linear`` for the closed-form learned linear estimator, ``network`` for trained archs."""
    return "linear" if row.get("arch") == "linear-exact" else "network"


def _best_runs(runs: Sequence[dict]) -> dict[int, list[dict]]:
    """Per N, the runs (seeds) of the width with the least mean validation MSE."""
    by_N: dict[int, dict[Any, list[dict]]] = {}
    for r in runs:
        by_N.setdefault(int(r["N"]), {}).setdefault(r.get("width"), []).append(r)
    return {N: min(g.values(), key=lambda rs: float(np.mean([r["val_mse"] for r in rs])))
            for N, g in sorted(by_N.items())}


def _curve(best: dict[int, list[dict]], family: str, target: str) -> list[dict]:
    rows = []
    for N, rs in best.items():
        mse = np.array([r["test_mse"] for r in rs], float)
        psnr = -10 * np.log10(mse)
        s = mse.size
        rows.append({"family": family, "target": target, "N": N, "seeds": s, "width": rs[0].get("width"),
                     "mse": float(mse.mean()), "mse_sem": float(mse.std(ddof=1) / np.sqrt(s)) if s > 1 else 0.0,
                     "psnr": float(psnr.mean()), "psnr_sem": float(psnr.std(ddof=1) / np.sqrt(s)) if s > 1 else 0.0})
    return rows


def compare_targets(runs: Sequence[dict], *, law: str = "floor", level: float = 0.9, n_boot: int = 200,
                    rng: np.random.Generator) -> dict[str, list[dict]]:
    """Curves per (family, target) and the extra examples of every self-supervised target.

    Args:
        runs: tidy run rows (:func:`bridge.results.load_table` of a sweep); only ``done`` rows are used.
        law: the law fitted to both curves (``floor``: c + a N^α; ``power``).
        level: interval level. n_boot: bootstrap resamples. rng: their randomness.

    Returns:
        ``{"curves": [...], "extra": [...]}`` (see the module doc); extra rows carry ``family``,
        ``target`` and the fields of :func:`bridge.extra.extra_examples`.

    Raises:
        ValueError: no finished runs, or no target other than clean (nothing to compare).
    """
    from .extra import extra_examples  # noqa: PLC0415

    done = [r for r in runs if r.get("status") == "done"]
    if not done:
        raise ValueError("no finished runs; run (or resume) the sweep first")
    targets = sorted({target_of(r) for r in done})
    if targets == [SUPERVISED] or SUPERVISED not in targets:
        raise ValueError(f"the sweep's targets are {targets}: a comparison needs target 'clean' and a self-supervised "
                         "one (e.g. --set 'target=[\"clean\",\"noisy\"]')")
    curves, extra = [], []
    for family in sorted({family_of(r) for r in done}):
        best = {t: _best_runs([r for r in done if family_of(r) == family and target_of(r) == t]) for t in targets}
        for t in targets:
            if best[t]:
                curves += _curve(best[t], family, t)
        sup = [r for rs in best[SUPERVISED].values() for r in rs]
        for t in targets:
            ss = [r for rs in best[t].values() for r in rs]
            if t == SUPERVISED or not sup or not ss:
                continue
            rows = extra_examples([r["N"] for r in sup], [r["test_mse"] for r in sup], [r["N"] for r in ss],
                                  [r["test_mse"] for r in ss], law=law, level=level, n_boot=n_boot, rng=rng)
            extra += [{"family": family, "target": t, **row} for row in rows]
    return {"curves": curves, "extra": extra}


def theory_extra(sup: Sequence[dict], ss: Sequence[dict], *, target: str) -> list[dict]:
    """The extra examples of an exact theory curve pair (rows ``{N, mse}``), family ``theory``."""
    from .extra import theory_extra_examples  # noqa: PLC0415

    rows = theory_extra_examples([r["N"] for r in sup], [r["mse"] for r in sup], [r["N"] for r in ss],
                                 [r["mse"] for r in ss])
    return [{"family": "theory", "target": target, **row} for row in rows]


def _num(v: Any, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}g}"


def section_markdown(curves: Sequence[dict], extra: Sequence[dict]) -> str:
    """Markdown of a comparison: PSNR per N for each (family, target), then the extra-examples table."""
    from .report import markdown_table  # noqa: PLC0415

    cols = sorted({(r["family"], r["target"]) for r in curves})
    by = {(r["family"], r["target"], r["N"]): r for r in curves}
    table = []
    for N in sorted({r["N"] for r in curves}):
        row: dict[str, Any] = {"N": N}
        for f, t in cols:
            r = by.get((f, t, N))
            row[f"{f} {t}"] = "" if r is None else f"{r['psnr']:.2f}" + (f" ± {r['psnr_sem']:.2f}" if r["psnr_sem"]
                                                                        else "")
        table.append(row)
    ex = [{"estimator": r["family"], "target": r["target"], "N (clean)": r["N"],
           "N needed": _num(r.get("N_equiv"), 4), "factor": _num(r.get("factor")),
           "interval": "" if r.get("lo") is None or r.get("hi") is None else f"[{_num(r['lo'])}, {_num(r['hi'])}]",
           "note": "" if r["identified"] else f"not identified: {r['reason']}"} for r in extra]
    return ("Test PSNR (dB) of the mean test MSE, per estimator and training target:\n\n" + markdown_table(table)
            + "\nExtra examples: for each N trained on clean targets, the N at which the self-supervised curve "
              "reaches the same test MSE (fitted laws, bootstrap interval; theory: its exact curve), and the "
              "factor N needed / N.\n\n" + markdown_table(ex))
