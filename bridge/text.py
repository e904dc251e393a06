"""Every text ``bridge`` prints or writes: one renderer for tables, findings and reports.

* **cells and tables** — :func:`fmt_value` (numbers to 4 significant digits, ∞, –), :func:`table_text`
  (aligned plain text, for the terminal) and :func:`markdown_table` (for ``report.md``);
* **findings** — :func:`finding_text`: a row ``{value, lo, hi, identified, reason}`` of
  :func:`bridge.identify.identify` as ``"v [lo, hi]"``, or ``"not identified: <reason>"`` so that an
  unidentified quantity is never printed as a number; :func:`shared_reasons` states a reason that
  many rows share once;
* **reports** — :func:`fit_text` (``reconscale fit``: the analysis of :func:`bridge.report.analyse`),
  :func:`demo_markdown` / :func:`demo_summary_text` (``reconscale demo``: ``report.md`` and the
  closing summary), :func:`controlled_markdown` / :func:`controlled_summary_text` (``reconscale
  controlled``) and :func:`selfsup_markdown` (clean against noisy training targets: ``reconscale
  selfsup`` and the demo's self-supervised section).

Everything here takes plain rows and dicts (what the commands write to JSON) and returns a string;
nothing computes a number that is not in its input.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["fmt_value", "table_text", "markdown_table", "finding_text", "shared_reasons", "fit_text",
           "demo_markdown", "demo_summary_text", "controlled_markdown", "controlled_summary_text",
           "selfsup_markdown"]


# ------------------------------------------------------------------------------------ cells, tables
def fmt_value(v: Any) -> str:
    """One table cell: integers as they are, floats to 4 significant digits (scientific outside
    [1e-3, 1e5)), NaN as –, ±∞ as ∞ / −∞, anything else as ``str``."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "–"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        a = abs(v)
        return f"{v:.4g}" if 1e-3 <= a < 1e5 or v == 0 else f"{v:.3e}"
    return str(v)


def table_text(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Rows as an aligned plain-text table (numbers to 4 significant digits)."""
    if not rows:
        return "(no rows)\n"
    cols = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
    cells = [[fmt_value(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines) + "\n"


def markdown_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Rows as a GitHub-flavoured markdown table."""
    if not rows:
        return "_no rows_\n"
    cols = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(fmt_value(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ findings
def finding_text(row: dict[str, Any], digits: int = 3) -> str:
    """A finding as text.

    Args:
        row: ``{value, lo, hi, identified, reason}`` (:func:`bridge.identify.identify`).
        digits: significant digits.

    Returns:
        ``"not identified: <reason>"`` when not identified; else ``"v [lo, hi]"``, or ``"v"`` when the
        row has no interval (``lo``/``hi`` missing or equal to ``v``).
    """
    if not row.get("identified"):
        return f"not identified: {row.get('reason') or 'no reason given'}"
    v, lo, hi, d = row.get("value"), row.get("lo"), row.get("hi"), digits
    if v is None:
        return "—"
    if lo is None or hi is None or (abs(lo - v) < 1e-12 and abs(hi - v) < 1e-12):
        return f"{v:.{d}g}"
    return f"{v:.{d}g} [{lo:.{d}g}, {hi:.{d}g}]"


def shared_reasons(rows: Sequence[dict], *, key: str = "reason", min_share: int = 3) -> tuple[list[str], list[str]]:
    """Reasons of unidentified rows, each stated once: a reason shared by ``min_share`` rows or more
    becomes a numbered note, and those rows point to it.

    Args:
        rows: rows with ``identified`` and ``key``.
        key: the field holding the reason.
        min_share: how many rows must share a reason before it becomes a note.

    Returns:
        ``(cells, notes)``: per row, ``""`` when identified, ``"not identified: <reason>"`` for a
        reason of its own, ``"not identified (note i)"`` for a shared one (i from 1); and the shared
        reasons, note i at index i − 1.
    """
    counts: dict[str, int] = {}
    for r in rows:
        if not r.get("identified"):
            counts[r.get(key) or ""] = counts.get(r.get(key) or "", 0) + 1
    notes = [why for why, c in counts.items() if c >= min_share]
    cells = []
    for r in rows:
        why = r.get(key) or ""
        if r.get("identified"):
            cells.append("")
        elif why in notes:
            cells.append(f"not identified (note {notes.index(why) + 1})")
        else:
            cells.append(f"not identified: {why or 'no reason given'}")
    return cells, notes


# ---------------------------------------------------------------------------------- reconscale fit
def fit_text(res: dict[str, Any]) -> str:
    """The plain-text report of :func:`analyse`: laws, parameters (``not identified: <reason>`` in place
    of numbers for those the data cannot pin down), break, the reported extrapolation band, backtest and
    margin."""

    lvl = int(round(100 * res["level"]))
    shown = [{**r, "fit": r.get("fit") if r.get("identified", True) else "(not identified: see below)"}
             for r in res["laws"]]
    text = table_text(shown, ["law", "scale", "fit", "aic", "bic", "holdout_error", "identified"])
    if res.get("resampling"):
        text += f"intervals: {lvl}%, bootstrap over {res['resampling']}\n"
    by_law: dict[str, list[dict]] = {}
    for f in res.get("findings", []):
        if "." in f["quantity"] and f["quantity"].split(".", 1)[0] == f.get("law"):
            by_law.setdefault(f["law"], []).append(f)
    for law, fs in by_law.items():
        text += f"\n{law} ({lvl}% intervals):\n"
        text += "".join(f"  {f['quantity'].split('.', 1)[1]}: {finding_text(f, 4)}\n" for f in fs)
    for r in res["laws"]:  # a law without findings (not fitted): its reason
        if not r.get("identified", True) and r["law"] not in by_law:
            text += f"\n{r['law']}: not identified: {r.get('reason') or 'no reason given'}\n"
    br = res.get("break")
    if br:
        if "N_break" in br:
            body = (f"N = {br['N_break']:.4g} [{br['lo']:.4g}, {br['hi']:.4g}], slope {br['slope_before']:.3g} → "
                    f"{br['slope_after']:.3g}" if br["identified"] else f"not identified: {br['reason']}")
        else:
            body = f"not identified: {br.get('reason')}"
        text += f"\nbreak: {body}\n"
    ft = res.get("floor_test")
    if ft:
        text += f"test of floor = 0 (likelihood ratio, boundary-corrected): F = {ft['F']:.3g}, p = {ft['p']:.3g}\n"
    rep = [r for r in res.get("extrapolation", []) if r.get("reported")]
    if rep:
        text += f"\nextrapolation ({lvl}% band over the laws not rejected by their backtest; {rep[0]['law']}):\n"
        for r in rep:
            text += f"  N = {r['N']:.0e}: " + finding_text({**r, "value": r["predict"]}, 4) + "\n"
    bts = res.get("backtest", [])
    if bts:
        text += "\nbacktest (fit without the largest N, predict it):\n"
        text += table_text([{k: r.get(k) for k in ("law", "N", "observed", "predict", "lo", "hi", "error",
                                                     "error_unit", "inside", "reported")} for r in bts])
    m = res.get("margin")
    if m:
        text += f"\nN to within {m['margin']:g} {m['unit']} of the asymptote: " + finding_text(
            {**m, "value": m["N"]}) + "\n"
    return text


# --------------------------------------------------------------------------------- reconscale demo
def _said(findings: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """The identified findings and the others, each in their order."""
    return [f for f in findings if f["identified"]], [f for f in findings if not f["identified"]]


def _point(r: dict) -> str:
    """A curve point: PSNR with its interval, or ± its SEM, or alone."""
    if r.get("psnr_lo") is not None:
        return f"{r['psnr']:.2f} [{r['psnr_lo']:.2f}, {r['psnr_hi']:.2f}]"
    return f"{r['psnr']:.2f}" + (f" ± {r['psnr_sem']:.2f}" if r.get("psnr_sem") else "")


def demo_markdown(s: dict) -> str:
    """The markdown report of a demo summary: what was found, and what the data cannot tell."""

    c = s["config"]
    said, unsaid = _said(s["findings"])
    by_curve: dict[str, dict[int, dict]] = {}
    for r in s["curves"]:
        by_curve.setdefault(r["curve"], {})[r["N"]] = r
    table = []
    for N in sorted({r["N"] for r in s["curves"]}):
        row: dict[str, Any] = {"N": N}
        for name in ("theory", "linear", "network"):
            r = by_curve.get(name, {}).get(N)
            row[name] = "" if r is None else _point(r)
        table.append(row)
    level = s.get("level", 0.9)
    measured = [r for r in s["curves"] if r["curve"] != "theory" and r.get("psnr_lo") is not None]
    intervals = (f"[lo, hi]: the {level:.0%} interval of a paired bootstrap over the {measured[0]['test_images']} "
                 f"test crops and the seeds {c['seeds']} (one resample of the crops shared by every curve, so "
                 "differences between curves are paired; the test noise is averaged out: exactly for the linear "
                 "estimator, over the noise draws of `test_draws` for the networks). "
                 + ("The theory's interval is over the test crops alone (a prediction has no seeds)"
                    if any(r["curve"] == "theory" and r.get("psnr_lo") is not None for r in s["curves"]) else
                    "The theory is a prediction from the crops' second moments and carries no interval")
                 + (". The network fits' intervals include the test crops too: refit b takes resample b of the same "
                    "crops, with the seeds resampled within each N" if "draws" in (s.get("fits") or {}).get(
                        "resampling", "") else "")
                 if measured else
                 "± the SEM over seeds")
    lines = ["# reconscale demo: the linear theory of the photos, the learned linear estimator and U-Nets, on one "
             "N axis", "",
             f"Training crops of the 10 training photos, σ = 25/255, tested on crops of the 5 held-out "
             f"photos ({', '.join(c['data'])}). Theory: Gaussian model with the training crops' second moments "
             f"({s['spectrum']['examples']} crops), nothing fitted. One PSNR convention throughout: 10 log₁₀(1/MSE) "
             f"of the mean test MSE over seeds and test crops; network = best of widths {c['widths']} by validation "
             f"MSE. {intervals}.", "",
             "## Test PSNR (dB) per N", "", markdown_table(table),
             "Baselines on the same crops and noise: " + ", ".join(f"{k} {v:.2f} dB" for k, v in s["baselines"].items())
             + ".", "", "## Findings", ""]
    lines += [f"- {f['quantity']}: **{finding_text(f, 4)}**" + (f" — {f['reason']}" if f["reason"] else "") for f in said]
    lines += ["", "## Not identified by these data", ""]
    cells, notes = shared_reasons(unsaid)  # a reason shared by several rows, stated once
    lines += [f"- {f['quantity']}: {f['reason'] if f['reason'] not in notes else cell.removeprefix('not identified ')}"
              for f, cell in zip(unsaid, cells)] or ["- (nothing)"]
    for i, why in enumerate(notes, start=1):
        lines += ["", f"Note {i}: {why}"]
    lines += ["", "## Theory − learned linear, per N (dB)", "",
              markdown_table([{k: (round(v, 3) if isinstance(v, float) else v) for k, v in g.items()}
                              for g in s["gaps"]]),
              "## Figures", "",
              "`fig_three_curves`: the three curves in PSNR of the mean MSE, and the excess MSE above the linear "
              "floor; `fig2_network_psnr_vs_N`: every network run (the PSNR of its mean test MSE), the best width "
              "per N and the law-family envelope the fits report.", ""]
    lines += [f"- `{p}`" for p in s["figures"] if p.endswith(".png")]
    if s.get("selfsup"):
        lines += ["", "## Training without clean targets (noisy targets, Noise2Noise)", "",
                  "Every arm trains on one fixed noisy image per example; the noisy arm's target is a second fixed "
                  "noisy image of it at the same σ (theory: σ_t = σ). `fig_selfsup`: the curves per target, and for "
                  "each N with clean targets how many times more noisy-target examples reach the same test MSE.", "",
                  selfsup_markdown(s["selfsup"]["curves"], s["selfsup"]["extra"])]
    lines += ["", "Stage times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in s["timings_s"].items())
              + f"; wall {s['wall_s']:.0f} s.", ""]
    return "\n".join(lines)


def demo_summary_text(s: dict) -> str:
    """The short text printed at the end of the demo: the curves, then only identified findings."""

    by: dict[int, dict[str, str]] = {}
    for r in s["curves"]:
        by.setdefault(r["N"], {"N": r["N"]})[r["curve"]] = f"{r['psnr']:.2f}"
    text = table_text([by[N] for N in sorted(by)], ["N", "theory", "linear", "network"])
    text += "baselines (dB): " + ", ".join(f"{k} {v:.2f}" for k, v in s["baselines"].items()) + "\n"
    said, unsaid = _said(s["findings"])
    for f in said:
        if not f["quantity"].startswith("network fit:"):
            text += f"{f['quantity']}: {finding_text(f, 4)}\n"
    for f in unsaid:
        if not f["quantity"].startswith("network fit:"):
            text += f"{f['quantity']}: not identified ({f['reason']})\n"
    n_fit = sum(f["quantity"].startswith("network fit:") for f in unsaid)
    if n_fit:
        text += f"{n_fit} fitted quantities of the network curve are not identified at these N (see report.md)\n"
    text += f"report: report.md, figures: {len(s['figures'])} files, wall {s['wall_s']:.0f} s\n"
    return text


# --------------------------------------------------------------------------- reconscale controlled
def controlled_markdown(result: dict) -> str:
    """How far each curve stays above the floor at its largest N, in plain words."""
    s = result["setup"]
    lines = [f"# Controlled comparison: the subspace source (n = {s['n']}, d = {s['d']}, σ = {s['sigma']:g})", "",
             f"W* = UUᵀ/(1+σ²) is Bayes-optimal here, so no estimator beats the floor σ²/(1+σ²)·d/n = "
             f"{result['floor']:.3g} test MSE per pixel (the noisy input: {result['input_mse']:.3g}). At the largest "
             f"N of each curve (mean ± standard error over {len(s['replicates'])} replicates; theory: "
             f"{result['largest_N']['theory']['runs']} Monte Carlo draws):", ""]
    for curve, r in result["largest_N"].items():
        lines.append(f"- **{result['labels'][curve]}**: {r['mse']:.3g} ± {r['mse_sem']:.2g} at N = {r['N']}, "
                     f"{r['ratio_to_floor']:.2f}× the floor ({r['excess_over_floor']:.2g} above it).")
    return "\n".join(lines) + "\n"


def controlled_summary_text(result: dict) -> str:
    """The table printed at the end: MSE per N per curve and its ratio to the floor."""

    Ns = sorted({r["N"] for r in result["rows"]})
    by = {(r["curve"], r["N"]): r for r in result["rows"]}
    rows = [{"N": N, **{c: (f"{by[c, N]['mse']:.3g} ({by[c, N]['ratio_to_floor']:.2f}×)" if (c, N) in by else "")
                        for c in result["labels"]}} for N in Ns]
    return (table_text(rows) + f"floor {result['floor']:.3g} per pixel; (×) = ratio to the floor; "
            f"wall {result['wall_s']:.0f} s; report: controlled.md\n")


# ------------------------------------------------------------------------------ noisy training targets
def _num(v: Any, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}g}"


def selfsup_markdown(curves: Sequence[dict], extra: Sequence[dict]) -> str:
    """Markdown of a comparison of training targets.

    Args:
        curves: rows ``{family, target, N, psnr, psnr_sem}``, with ``psnr_lo``/``psnr_hi`` where measured
            with per-image errors (:func:`bridge.extra.compare_targets`).
        extra: extra-examples rows ``{family, target, N, N_equiv, factor, lo, hi, identified, reason}``.

    Returns:
        PSNR per N for each (family, target), then the extra-examples table; a reason shared by
        several rows is stated once, below the table (:func:`shared_reasons`).
    """
    cols = sorted({(r["family"], r["target"]) for r in curves})
    by = {(r["family"], r["target"], r["N"]): r for r in curves}
    table = []
    for N in sorted({r["N"] for r in curves}):
        row: dict[str, Any] = {"N": N}
        for f, t in cols:
            r = by.get((f, t, N))
            row[f"{f} {t}"] = ("" if r is None else f"{r['psnr']:.2f} [{r['psnr_lo']:.2f}, {r['psnr_hi']:.2f}]"
                               if r.get("psnr_lo") is not None else
                               f"{r['psnr']:.2f}" + (f" ± {r['psnr_sem']:.2f}" if r["psnr_sem"] else ""))
        table.append(row)
    banded = any(r.get("psnr_lo") is not None for r in curves)
    notes_cells, notes = shared_reasons(extra)
    ex = [{"estimator": r["family"], "target": r["target"], "N (clean)": int(r["N"]),
           "N needed": _num(r.get("N_equiv"), 4), "factor": _num(r.get("factor")),
           "interval": "" if r.get("lo") is None or r.get("hi") is None else f"[{_num(r['lo'])}, {_num(r['hi'])}]",
           "from": r.get("method") or ("exact curve" if r["family"] == "theory" else ""),
           "note": cell} for r, cell in zip(extra, notes_cells)]
    text = ("Test PSNR (dB) of the mean test MSE, per estimator and training target ("
            + ("[lo, hi]: interval over test images and seeds" if banded else "± the SEM over seeds")
            + "; the theory: exact):\n\n" + markdown_table(table)
            + "\nExtra examples: for each N trained on clean targets, the N at which the self-supervised curve "
              "reaches the same test MSE, and the factor N needed / N. From: `measured` — read off the measured "
              "curves by monotone interpolation in log N (interval: bootstrap over test images and seeds); `law` — "
              "fitted laws, only where the match lies past the measured range (bootstrap interval); the theory: its "
              "exact curve.\n\n" + markdown_table(ex))
    return text + "".join(f"\n(note {i}) {why}\n" for i, why in enumerate(notes, 1))
