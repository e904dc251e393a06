"""One analysis of a scaling curve, shared by ``reconscale fit``, ``compare`` and ``demo``.

:func:`analyse` fits every law that applies to a curve (per-run points, grouped by seed or run),
with bootstrap intervals, model choice (AIC/BIC, held-out extrapolation error), break detection,
extrapolation to N = 10⁵ and 10⁶ and the N needed to come within a margin of the asymptote.
Quality metrics (PSNR in dB, SSIM) are also analysed on the error scale they come from
(MSE = 10^(−PSNR/10) for a data range of 1; 1 − SSIM), where the power laws live.

Every parameter and derived quantity is a *finding* row ``{quantity, law, value, lo, hi, identified,
reason}`` judged by the one rule of :mod:`bridge.identify`; the floor's interval is boundary-aware
(profile likelihood and a test of floor = 0, :func:`bridge.extrapolation.floor_profile`). The
extrapolation the report uses is the envelope over the laws not rejected by their backtest
(``reported: true``; :func:`bridge.extrapolation.envelope`), and every analysis carries a backtest (fit
without the largest N, predict it). With ``band_grid`` the same envelope, with the same bootstraps,
is also returned on a grid (``band``), which figure 2 draws;
:func:`bridge.text.fit_text` renders an analysis, with "not identified: <reason>" in place of the
numbers of unidentified quantities.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .extrapolation import envelope, floor_profile, n_to_margin_ci
from .identify import N_REACH_FACTOR, PSNR_LIMIT_DB, identify, underdetermined
from .laws import LAWS, law_spec
from .uncertainty import bootstrap, compare_laws, detect_break, mse_to_psnr, psnr_to_mse

__all__ = ["analyse", "EXTRAPOLATE_TO"]

#: N at which fitted laws are extrapolated.
EXTRAPOLATE_TO = (1e5, 1e6)


def _is_quality(metric: str) -> bool:
    m = metric.lower()
    return "psnr" in m or "ssim" in m


def _to_error(metric: str, y: np.ndarray) -> np.ndarray:
    return psnr_to_mse(y) if "psnr" in metric.lower() else 1.0 - y


def _param_kind(law_name: str, param: str) -> str:
    if param == "floor":
        return "floor"
    if param == "asymptote":
        return "asymptote"
    if param.startswith("d") and law_name == "BrokenPowerLaw":
        return "break"
    if param == "exponent" or (param == "f1" and law_name == "BrokenPowerLaw"):
        return "exponent"
    if param == "amplitude":  # a positive scale: an interval over more than a decade pins nothing down
        return "scale"
    return "value"


def _reach(boot: Any, margin: float, level: float) -> float:
    """Upper end of the interval of the N at which ``y∞ − A N^α`` comes within ``margin`` of y∞
    (inf if never)."""
    N = []
    for law in boot.laws:
        A, alpha = float(law.params_["amplitude"]), float(law.params_["exponent"])
        with np.errstate(all="ignore"):
            N.append(1.0 if A <= margin else (margin / A) ** (1.0 / alpha) if alpha < 0 else math.inf)
    # order statistics without interpolation: refits that never come within the margin are +inf
    return float(np.quantile(N, 0.5 * (1 + level), method="higher")) if N else math.inf


def _law_rows(boot: Any, *, scale: str, level: float, y: np.ndarray, metric: str,
              floor_p: dict[str, float] | None = None, n_range: tuple[float, float] | None = None,
              margin: float | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The law's row (parameters with intervals, identified/reason) and one finding per parameter
    (``n_range`` and ``margin``, in the metric's units: the asymptote must be approached within reach
    of the data)."""

    law = boot.law
    name = type(law).__name__
    ci = boot.ci(level)
    row: dict[str, Any] = {"law": name, "scale": scale, "fit": law.label(),
                           "n_points": int(law.n_points_), "aic": float(law.aic_), "bic": float(law.bic_)}
    findings = []
    exp_ci = ci.get("exponent")
    for p in law.param_names:
        v = float(law.params_[p])
        lo, hi = ci[p]
        kind = _param_kind(name, p)
        ctx: dict[str, Any] = {"level": level}
        if kind == "floor":
            ctx["data_min"] = float(np.min(y))  # y: the error scale the floor is fitted on
        if kind == "floor" and name == "FloorPowerLaw" and floor_p is not None:
            ctx["test_p"] = floor_p["p0"]
            # boundary-aware: the union of the bootstrap and profile-likelihood intervals, 0 when the
            # test of floor = 0 does not reject
            lo = 0.0 if floor_p["p0"] >= 1.0 - level else min(lo, floor_p["lo"])
        elif kind == "asymptote":
            upper = PSNR_LIMIT_DB if "psnr" in metric.lower() else (1.0 if "ssim" in metric.lower() else None)
            ctx.update(upper=upper, y_range=(float(y.min()), float(y.max())),
                       at_bound=exp_ci is not None and exp_ci[1] >= -1e-3)
            if n_range is not None and margin is not None and upper is not None:
                # "within 0.1 dB" for PSNR; for SSIM the margin is a fraction of 1 − y∞, as for a floor
                m_abs = margin if "psnr" in metric.lower() else margin * max(upper - v, 1e-12)
                unit = " dB" if "psnr" in metric.lower() else ""
                ctx.update(reach=(_reach(boot, m_abs, level), f"{m_abs:.3g}{unit}"), n_range=n_range)
        elif kind == "break":
            ctx["n_range"] = law.n_range_
        elif kind == "exponent":
            ctx["bounds"] = law_spec(name).boxes.get(p)  # the optimiser's box, if it has one
        row[p] = v
        row[f"{p}_lo"], row[f"{p}_hi"] = float(lo), float(hi)
        f = identify(f"{name}.{p}", v, lo, hi, kind=kind, **ctx)
        f["law"] = name
        findings.append(f)
    if name == "SaturatingLaw":
        asy = findings[0]
        if not asy["identified"]:  # the amplitude of a run-off asymptote runs off with it
            for f in findings[1:]:
                if f["identified"]:
                    f["identified"] = False
                    f["reason"] = "its asymptote is not identified (SaturatingLaw.asymptote, above)"
    if name == "BrokenPowerLaw":
        brk = next(f for f in findings if f["quantity"].endswith(".d1"))
        if not brk["identified"]:  # slopes either side of an unidentified break are not findings either
            for f in findings:
                if f is not brk and f["quantity"].split(".")[1] in ("c0", "c1", "f1"):
                    f["identified"], f["reason"] = False, "the break is not identified: " + brk["reason"]
    bad = [f for f in findings if not f["identified"]]
    row["identified"] = not bad
    row["reason"] = "; ".join(f"{f['quantity'].split('.', 1)[1]}: {f['reason']}" for f in bad)
    return row, findings


def analyse(N: Sequence[float], y: Sequence[float], *, metric: str, groups: Sequence[Any] | None = None,
            draws: Any = None, n_boot: int = 200, level: float = 0.95, window: tuple[float, float] | None = None,
            margin: float | None = None, band_grid: Sequence[float] | None = None,
            rng: np.random.Generator) -> dict[str, Any]:
    """Fit the law family to one curve and summarise it, saying what the data cannot identify.

    Args:
        N: (m,) training-set sizes, one per run (repeats for seeds/runs).
        y: (m,) the metric per run: an error (risk, MSE; positive) or a quality (PSNR dB, SSIM).
        metric: the metric's name (``psnr``/``ssim`` in it means quality).
        groups: (m,) seed or run labels: the bootstrap resamples whole groups when there are several.
        draws: optional (B, m) realisations of y with B ≥ ``n_boot``, in y's units (e.g. every run's
            test PSNR under the b-th shared resample of the test images, :func:`bridge.paired.run_draws`):
            every bootstrap refit b resamples ``draws[b]``, so the intervals include the test sample
            (:func:`bridge.uncertainty.bootstrap`).
        n_boot: bootstrap resamples. level: interval level.
        window: (lo, hi) N window of the paper's pure power law (default: all N).
        margin: "within margin of the asymptote": dB for PSNR, else a fraction of the floor
            (default 0.1 dB or 1%). A quality law's asymptote is identified only if the law comes
            within it by :data:`bridge.identify.N_REACH_FACTOR` × the largest N.
        band_grid: N at which to return the reported extrapolation band as well (``band``; for figures).
        rng: randomness for the bootstraps.

    Returns:
        ``{"laws": rows (one per law: parameters with intervals, AIC/BIC, holdout error, ``identified``,
        ``reason``), "findings": rows ``{quantity, law, value, lo, hi, identified, reason}`` (every
        parameter and derived quantity, see :mod:`bridge.identify`), "floor_test": the likelihood-ratio
        test of floor = 0, "break": dict or None, "extrapolation": rows (one per law and N, and the
        envelope over the laws not rejected by their backtest with ``reported: true``), "backtest":
        rows (fit without the largest N, predict it), "margin": dict, "best": law name, "metric": …}``; with
        ``band_grid`` (and at least 4 distinct N) also ``"band": {N, predict, lo, hi, level, unit, laws}``,
        lists in dB for PSNR, else on the error scale (None where not finite).
    """

    N = np.asarray(N, dtype=float)
    y = np.asarray(y, dtype=float)
    if N.shape != y.shape or N.ndim != 1:
        raise ValueError(f"N and y must be 1-D of equal length; got {N.shape} and {y.shape}")
    g = None if groups is None else np.asarray(groups)
    # Fewer than 3 groups: a bootstrap over whole seeds has 3 distinct resamples at most, and its
    # intervals were measured to exclude the truth; resample the points within each N instead.
    n_groups = 0 if g is None else int(np.unique(g).size)
    if g is not None and n_groups < 3:
        g = None
    quality = _is_quality(metric)
    psnr = quality and "psnr" in metric.lower()
    err = _to_error(metric, y) if quality else y
    err_name = ("mse" if psnr else "1-ssim") if quality else metric
    d_y = None if draws is None else np.asarray(draws, dtype=float)
    if d_y is not None and (d_y.ndim != 2 or d_y.shape[1] != y.size or d_y.shape[0] < n_boot):
        raise ValueError(f"draws has shape {d_y.shape}; need (B, {y.size}) with B ≥ n_boot = {n_boot}: one row of y "
                         "per resample")
    d_err = None if d_y is None else (_to_error(metric, d_y) if quality else d_y)
    kw = {"groups": g, "n_boot": n_boot, "rng": rng}
    m_val = (0.1 if psnr else 0.01) if margin is None else margin
    out: dict[str, Any] = {"metric": metric, "error_metric": err_name, "level": level, "laws": [], "findings": [],
                           "resampling": (f"whole groups ({n_groups} seeds or runs)" if g is not None else
                                          "points within each N" + (f" (only {n_groups} groups)" if n_groups else ""))
                           + (f", each refit on one of {d_y.shape[0]} given draws of y (e.g. resamples of the test "
                              "set)" if d_y is not None else "")}
    n_distinct = np.unique(N).size
    n_range = (float(N.min()), float(N.max()))

    boots: dict[str, Any] = {}
    # The registry's laws: the error laws on the error scale (the BNSL from 6 distinct N), the quality law
    # on the metric itself.
    candidates: list[tuple[str, Any, np.ndarray, Any, str]] = [
        (sp.cls.__name__, sp.make(**({"window": window} if sp.name == "power" else {})),
         *((y, d_y, metric) if sp.fits == "quality" else (err, d_err, err_name)))
        for sp in LAWS.values() if (quality or sp.fits == "error") and (sp.name != "broken" or n_distinct >= 6)]
    for name, proto, yy, dd, scale in candidates:
        why = underdetermined(name, proto.n_params, n_distinct)
        if why:  # as many parameters as N: an exact fit of the means, reported as not identified
            out["laws"].append({"law": name, "scale": scale, "fit": "not fitted", "identified": False, "reason": why})
            continue
        try:
            boots[name] = bootstrap(proto, N, yy, draws=dd, **kw)
        except ValueError as e:  # a law that cannot be fitted to this curve is reported, not fatal
            out["laws"].append({"law": name, "scale": scale, "fit": f"not fitted: {e}", "identified": False,
                                "reason": f"not fitted: {e}"})
            continue
        fp = None
        if name == "FloorPowerLaw" and N.size > 3:
            fp = floor_profile(N, err, boots[name].law, level=level)
            out["floor_test"] = {"F": fp["F0"], "p": fp["p0"], "profile_lo": fp["lo"]}
        row, findings = _law_rows(boots[name], scale=scale, level=level, y=yy, metric=scale, floor_p=fp,
                                  n_range=n_range, margin=m_val)
        if name == "PowerLaw" and window is not None:
            row["window"] = f"{window[0]:g}–{window[1]:g}"
        out["laws"].append(row)
        out["findings"] += findings
    # Model choice on the error scale (same residual space for all): BIC and held-out extrapolation.
    err_laws = [b.law.clone() for k, b in boots.items() if k != "SaturatingLaw"]
    if len(err_laws) > 1:
        ranks = {r["law"]: r for r in compare_laws(err_laws, N, err)}
        for row in out["laws"]:
            if row["law"] in ranks:
                row["holdout_error"] = ranks[row["law"]]["holdout_error"]
        out["best"] = min(ranks, key=lambda k: ranks[k]["bic"])
    # Break detection (the one-break BNSL has 6 parameters: identified from 7 distinct N on).
    out["break"] = None
    why = underdetermined("BrokenPowerLaw", LAWS["broken"].n_params, n_distinct)
    if n_distinct >= 6 and why:  # as many N as the BNSL's parameters: its break is an exact fit, not a finding
        out["break"] = {"identified": False, "reason": why}
    elif n_distinct >= 6:
        try:
            br = detect_break(N, err, groups=g, draws=d_err, n_boot=n_boot, level=level, rng=rng)
        except ValueError as e:
            out["break"] = {"error": str(e), "identified": False, "reason": str(e)}
        else:
            f = identify("break N", br.N_break, br.ci[0], br.ci[1], kind="break", n_range=n_range)
            if f["identified"] and not br.supported:
                f["identified"], f["reason"] = False, "the broken law does not beat c + a N^α and β N^α by BIC"
            out["break"] = {"N_break": br.N_break, "lo": br.ci[0], "hi": br.ci[1], "slope_before": br.slope_before,
                            "slope_after": br.slope_after, "supported": br.supported,
                            "identified": f["identified"], "reason": f["reason"]}
            out["findings"].append({**f, "law": "BrokenPowerLaw"})
    if out["break"] is not None and not out["break"]["identified"]:
        # a broken law whose break is not identified is not a finding, nor any of its parameters
        why = "the break is not identified: " + out["break"]["reason"]
        for f in out["findings"]:
            if f.get("law") == "BrokenPowerLaw" and f["quantity"].startswith("BrokenPowerLaw."):
                f["identified"], f["reason"] = False, why
        for row in out["laws"]:
            if row["law"] == "BrokenPowerLaw" and row.get("fit") != "not fitted":  # else it has its reason
                row["identified"], row["reason"] = False, why
    # Extrapolation: every law's band and the envelope over the laws not rejected by their backtest
    # (the band the report uses: ``reported: true``), on the error scale; PSNR in dB.
    out["extrapolation"], out["backtest"], out["margin"] = [], [], {}
    if n_distinct >= 4:
        _extrapolate(out, N, err, boots, window=window, level=level, psnr=psnr, n_range=n_range, band_grid=band_grid)
    # The N needed to come within a margin of the asymptote, from the floor law on the error scale
    # ("within m dB" is a relative margin 10^(m/10) − 1). It needs an identified floor.
    floor_boot = boots.get("FloorPowerLaw")
    if floor_boot is not None:
        if psnr:
            unit, law_name = "dB", "FloorPowerLaw (MSE)"
            rel_margin = 10 ** (m_val / 10) - 1
        else:
            unit, law_name = "fraction of the floor", "FloorPowerLaw"
            rel_margin = m_val
        est, lo, hi = n_to_margin_ci(floor_boot, rel_margin, relative=True, level=level)
        f = identify("N to margin", est, lo, hi, kind="n_to_reach", n_range=n_range)
        floor_f = next((x for x in out["findings"] if x["quantity"] == "FloorPowerLaw.floor"), None)
        if floor_f is not None and not floor_f["identified"]:
            f["identified"], f["reason"] = False, "the floor is not identified: " + floor_f["reason"]
        out["margin"] = {"law": law_name, "margin": m_val, "unit": unit, "N": est, "lo": lo, "hi": hi,
                         "identified": f["identified"], "reason": f["reason"]}
        out["findings"].append({**f, "law": law_name})
    return out


def _extrapolate(out: dict[str, Any], N: np.ndarray, err: np.ndarray, boots: dict[str, Any], *,
                 window: tuple[float, float] | None, level: float, psnr: bool, n_range: tuple[float, float],
                 band_grid: Sequence[float] | None = None) -> None:
    """Fill ``out["extrapolation"]``, ``out["backtest"]`` and, with ``band_grid``, ``out["band"]`` (see
    :func:`analyse`)."""

    def conv(v: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", over="ignore"):
            return mse_to_psnr(np.maximum(v, 1e-300)) if psnr else np.asarray(v, float)

    use_boots = {k: b for k, b in boots.items() if k in ("FloorPowerLaw", "BrokenPowerLaw")
                 or (k == "PowerLaw" and window is None)}
    grid = np.array([N.max(), *EXTRAPOLATE_TO])
    env = envelope(N, err, grid, level=level, boots=use_boots)
    ctx = {"upper": PSNR_LIMIT_DB} if psnr else {"lower": 0.0}
    suffix = " (MSE → dB)" if psnr else ""

    def rows(name: str, p: np.ndarray, lo: np.ndarray, hi: np.ndarray, reported: bool) -> list[dict[str, Any]]:
        P, L, H = conv(p), conv(lo), conv(hi)
        if psnr:
            L, H = H, L  # a larger MSE is a smaller PSNR
        res = []
        for j, n_ext in enumerate(EXTRAPOLATE_TO, start=1):
            f = identify(f"{name} at N={n_ext:.0e}", P[j], L[j], H[j], kind="value", **ctx)
            worse = L[j] < P[0] if psnr else H[j] > P[0]  # more data cannot be expected to hurt
            if f["identified"] and n_ext > N_REACH_FACTOR * n_range[1]:
                f = {**f, "identified": False, "reason": f"N = {n_ext:.0e} is more than {N_REACH_FACTOR:g}× the largest "
                     f"N trained ({n_range[1]:g}): an extrapolation far past the data"}
            elif f["identified"] and worse:
                f = {**f, "identified": False, "reason": "the band reaches values worse than at the largest N "
                     "trained: it does not pin down a gain"}
            res.append({"law": name + suffix, "N": n_ext, "predict": float(P[j]), "lo": float(L[j]), "hi": float(H[j]),
                        "gain": float(P[j] - P[0]), "gain_lo": float(L[j] - P[0]), "gain_hi": float(H[j] - P[0]),
                        "reported": reported, "identified": f["identified"], "reason": f["reason"]})
        return res

    name = "envelope of " + " | ".join(env.kept)
    if band_grid is not None:  # the same envelope (same laws, same bootstraps) on the figure's grid
        g = np.asarray(band_grid, dtype=float)
        eb = envelope(N, err, g, level=level, boots=use_boots)
        P, L, H = conv(eb.predict), conv(eb.lo), conv(eb.hi)
        if psnr:
            L, H = H, L

        def finite(a: np.ndarray) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in np.asarray(a, dtype=float)]

        out["band"] = {"N": g.tolist(), "predict": finite(P), "lo": finite(L), "hi": finite(H), "level": level,
                       "unit": "dB" if psnr else "error", "laws": list(eb.kept)}
    env_rows = rows(name, env.predict, env.lo, env.hi, True)
    out["extrapolation"] += env_rows
    for r in env_rows:
        out["findings"].append({"quantity": f"extrapolation at N={r['N']:.0e}", "law": r["law"], "value": r["predict"],
                                "lo": r["lo"], "hi": r["hi"], "identified": r["identified"], "reason": r["reason"],
                                "reported": True})
    for k, (p, lo, hi) in env.bands.items():
        for r in rows(k, p, lo, hi, False):
            if k not in env.kept:
                r["identified"] = False
                r["reason"] = f"rejected by its backtest: {env.backtests[k]['reason']}"
            out["extrapolation"].append(r)
    # Backtest: every law, and the envelope itself, fitted without the largest N.
    for k, bt in env.backtests.items():
        out["backtest"].append(_bt_row(bt, psnr, conv, reported=False, kept=k in env.kept))
    train = N < N.max()
    n_held = float(N.max())
    try:
        part = envelope(N[train], err[train], [n_held], level=level)
    except ValueError as e:
        out["backtest"].append({"law": "envelope", "reported": True, "error": math.nan, "inside": False,
                                "reason": str(e)})
        return
    obs = float(np.exp(np.mean(np.log(err[~train]))))
    bt = {"law": "envelope of " + " | ".join(part.kept), "N": n_held, "observed": obs,
          "predict": float(part.predict[0]), "lo": float(part.lo[0]), "hi": float(part.hi[0]),
          "error": math.log(obs) - math.log(float(part.predict[0])), "inside": bool(part.lo[0] <= obs <= part.hi[0]),
          "rejected": False, "reason": ""}
    out["backtest"].append(_bt_row(bt, psnr, conv, reported=True, kept=True))


def _bt_row(bt: dict[str, Any], psnr: bool, conv: Any, *, reported: bool, kept: bool) -> dict[str, Any]:
    row = {"law": bt["law"], "N": bt["N"], "observed": bt["observed"], "predict": bt["predict"], "lo": bt["lo"],
           "hi": bt["hi"], "inside": bt["inside"], "in_envelope": kept, "reported": reported, "reason": bt["reason"]}
    if psnr and math.isfinite(bt["predict"]):
        o, p, lo, hi = (float(conv(np.array([bt[k]]))[0]) for k in ("observed", "predict", "hi", "lo"))
        row.update(observed=o, predict=p, lo=lo, hi=hi, error=o - p, error_unit="dB")
    else:
        row.update(error=bt["error"], error_unit="ln ratio")
    return row
