"""One analysis of a scaling curve, shared by ``reconscale fit``, ``compare`` and ``demo``.

:func:`analyse` fits every law that applies to a curve (per-run points, grouped by seed or run),
with bootstrap intervals, model choice (AIC/BIC, held-out extrapolation error), break detection,
extrapolation to N = 10⁵ and 10⁶ and the N needed to come within a margin of the asymptote.
Quality metrics (PSNR in dB, SSIM) are also analysed on the error scale they come from
(MSE = 10^(−PSNR/10) for a data range of 1; 1 − SSIM), where the power laws live.
:func:`table_text` and :func:`markdown_table` render rows for the terminal and the report.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["analyse", "table_text", "markdown_table", "EXTRAPOLATE_TO"]

#: N at which fitted laws are extrapolated.
EXTRAPOLATE_TO = (1e5, 1e6)


def _is_quality(metric: str) -> bool:
    m = metric.lower()
    return "psnr" in m or "ssim" in m


def _to_error(metric: str, y: np.ndarray) -> np.ndarray:
    from .uncertainty import psnr_to_mse  # noqa: PLC0415

    return psnr_to_mse(y) if "psnr" in metric.lower() else 1.0 - y


def _law_rows(boot: Any, *, scale: str, level: float) -> dict[str, Any]:
    law = boot.law
    ci = boot.ci(level)
    row: dict[str, Any] = {"law": type(law).__name__, "scale": scale, "fit": law.label(),
                           "n_points": int(law.n_points_), "aic": float(law.aic_), "bic": float(law.bic_)}
    for name in law.param_names:
        row[name] = float(law.params_[name])
        row[f"{name}_lo"], row[f"{name}_hi"] = ci[name]
    return row


def analyse(N: Sequence[float], y: Sequence[float], *, metric: str, groups: Sequence[Any] | None = None,
            n_boot: int = 200, level: float = 0.95, window: tuple[float, float] | None = None,
            margin: float | None = None, rng: np.random.Generator) -> dict[str, Any]:
    """Fit the law family to one curve and summarise it.

    Args:
        N: (m,) training-set sizes, one per run (repeats for seeds/runs).
        y: (m,) the metric per run: an error (risk, MSE; positive) or a quality (PSNR dB, SSIM).
        metric: the metric's name (``psnr``/``ssim`` in it means quality).
        groups: (m,) seed or run labels: the bootstrap resamples whole groups when there are several.
        n_boot: bootstrap resamples. level: interval level.
        window: (lo, hi) N window of the paper's pure power law (default: all N).
        margin: "within margin of the asymptote": dB for PSNR, else a fraction of the floor
            (default 0.1 dB or 1%).
        rng: randomness for the bootstraps.

    Returns:
        ``{"laws": rows (one per law, parameters with intervals, AIC/BIC, holdout error),
        "break": dict or None, "extrapolation": rows, "margin": dict, "best": law name, "metric": …}``.
    """
    from .laws import BrokenPowerLaw, FloorPowerLaw, PowerLaw, SaturatingLaw  # noqa: PLC0415
    from .uncertainty import bootstrap, compare_laws, detect_break, extrapolate, n_to_margin_ci  # noqa: PLC0415

    N = np.asarray(N, dtype=float)
    y = np.asarray(y, dtype=float)
    if N.shape != y.shape or N.ndim != 1:
        raise ValueError(f"N and y must be 1-D of equal length; got {N.shape} and {y.shape}")
    g = None if groups is None else np.asarray(groups)
    if g is not None and np.unique(g).size < 2:
        g = None
    quality = _is_quality(metric)
    err = _to_error(metric, y) if quality else y
    err_name = ("mse" if "psnr" in metric.lower() else "1-ssim") if quality else metric
    kw = {"groups": g, "n_boot": n_boot, "rng": rng}
    out: dict[str, Any] = {"metric": metric, "error_metric": err_name, "level": level, "laws": []}
    n_distinct = np.unique(N).size

    boots: dict[str, Any] = {}
    candidates: list[tuple[str, Any, np.ndarray, str]] = [
        ("PowerLaw", PowerLaw(window=window), err, err_name), ("FloorPowerLaw", FloorPowerLaw(), err, err_name)]
    if n_distinct >= 6:
        candidates.append(("BrokenPowerLaw", BrokenPowerLaw(breaks=1), err, err_name))
    if quality:
        candidates.append(("SaturatingLaw", SaturatingLaw(), y, metric))
    for name, proto, yy, scale in candidates:
        if n_distinct < proto.n_params:
            continue
        try:
            boots[name] = bootstrap(proto, N, yy, **kw)
        except ValueError as e:  # a law that cannot be fitted to this curve is reported, not fatal
            out["laws"].append({"law": name, "scale": scale, "fit": f"not fitted: {e}"})
            continue
        row = _law_rows(boots[name], scale=scale, level=level)
        if name == "PowerLaw" and window is not None:
            row["window"] = f"{window[0]:g}–{window[1]:g}"
        out["laws"].append(row)
    # Model choice on the error scale (same residual space for all): BIC and held-out extrapolation.
    err_laws = [b.law.clone() for k, b in boots.items() if k != "SaturatingLaw"]
    if len(err_laws) > 1:
        ranks = {r["law"]: r for r in compare_laws(err_laws, N, err)}
        for row in out["laws"]:
            if row["law"] in ranks:
                row["holdout_error"] = ranks[row["law"]]["holdout_error"]
        out["best"] = min(ranks, key=lambda k: ranks[k]["bic"])
    # Break detection (needs ≥ 6 distinct N for the one-break BNSL's 6 parameters).
    out["break"] = None
    if n_distinct >= 6:
        try:
            br = detect_break(N, err, groups=g, n_boot=n_boot, level=level, rng=rng)
            out["break"] = {"N_break": br.N_break, "lo": br.ci[0], "hi": br.ci[1], "slope_before": br.slope_before,
                            "slope_after": br.slope_after, "supported": br.supported}
        except ValueError as e:
            out["break"] = {"error": str(e)}
    # Extrapolation and the N needed to come within a margin of the asymptote, from the floor law on
    # the error scale (the saturating PSNR form has a near-degenerate direction when the curve has
    # not flattened yet: P∞ → ∞ with α → 0). For PSNR the predictions and gains are in dB,
    # computed refit by refit (paired), and "within m dB" is a relative margin 10^(m/10) − 1.
    floor_boot = boots.get("FloorPowerLaw")
    out["extrapolation"], out["margin"] = [], {}
    if floor_boot is not None:
        psnr = quality and "psnr" in metric.lower()
        if psnr:
            from .uncertainty import mse_to_psnr  # noqa: PLC0415

            grid = np.array([N.max(), *EXTRAPOLATE_TO])
            full = mse_to_psnr(floor_boot.law.predict(grid))
            samples = mse_to_psnr(floor_boot.predict_samples(grid))
            q = [50 * (1 - level), 50 * (1 + level)]
            for j, n_ext in enumerate(EXTRAPOLATE_TO, start=1):
                lo, hi = np.percentile(samples[:, j], q)
                glo, ghi = np.percentile(samples[:, j] - samples[:, 0], q)
                out["extrapolation"].append({"law": "FloorPowerLaw (MSE → dB)", "N": n_ext, "predict": float(full[j]),
                                             "lo": float(lo), "hi": float(hi), "gain": float(full[j] - full[0]),
                                             "gain_lo": float(glo), "gain_hi": float(ghi)})
            m_db = 0.1 if margin is None else margin
            est, lo, hi = n_to_margin_ci(floor_boot, 10 ** (m_db / 10) - 1, relative=True, level=level)
            out["margin"] = {"law": "FloorPowerLaw (MSE)", "margin": m_db, "unit": "dB", "N": est, "lo": lo, "hi": hi}
        else:
            for r in extrapolate(floor_boot, list(EXTRAPOLATE_TO), level=level):
                out["extrapolation"].append({"law": "FloorPowerLaw", **r})
            m = 0.01 if margin is None else margin
            est, lo, hi = n_to_margin_ci(floor_boot, m, relative=True, level=level)
            out["margin"] = {"law": "FloorPowerLaw", "margin": m, "unit": "fraction of the floor", "N": est, "lo": lo,
                             "hi": hi}
    return out


def _fmt(v: Any) -> str:
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
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
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
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"
