"""One rule for whether a fitted quantity is a finding: :func:`identify`.

A quantity estimated from a scaling curve (an asymptote, a floor, a break, an exponent, the N needed to
come within a margin of the asymptote, an extrapolated value) is reported with an interval
``[lo, hi]``. It is *identified* — printed as a number — only when

1. the estimate and both ends of its interval are finite (the interval is bounded), and
2. the interval lies inside the quantity's physical range:

   ============  =====================================================================================
   floor         ``lo ≥`` :data:`FLOOR_DECADES` ``× value``: an interval that reaches 0 (or runs more
                 than a decade below the estimate, on the log scale floors are fitted on) means the
                 data are consistent with no floor; also not identified when the boundary-corrected
                 likelihood-ratio test of floor = 0 (``test_p``) does not reject at the level.
   asymptote     the interval's upper end is neither at the optimiser's bound (``at_bound``: e.g.
                 the exponent of ``y∞ − A N^α`` pinned at α → 0, where y∞ runs off) nor past the
                 metric's meaningful range (``upper``: :data:`PSNR_LIMIT_DB` for PSNR, 1 for SSIM),
                 nor more than :data:`ASYMPTOTE_SPANS` observed ranges beyond the data (``y_range``),
                 and the law comes within a margin of it (``reach``: the upper end of the interval
                 of that N, and the margin) by :data:`N_REACH_FACTOR` ``× N_max`` (``n_range``): a
                 curve still rising as a slow power law at the largest N has an asymptote far past
                 the data, however narrow its interval.
   break         inside ``[N_min, N_max]`` of the data (``n_range``).
   exponent      not at the optimiser's bounds (``bounds``).
   scale         (a positive scale such as a calibrated d_eff or σ) ``hi/lo ≤`` :data:`SCALE_RATIO` and
                 strictly inside the parameter's ``bounds``.
   n_to_reach    ``hi ≤ min(`` :data:`N_REACH_MAX` ``, ``:data:`N_REACH_FACTOR` ``× N_max)``: beyond
                 that it is an extrapolation far past the data.
   value         (an extrapolated prediction) a finite band; ``lower``/``upper`` limits when given.
   ============  =====================================================================================

Before any interval, a law is judged by its curve's size: :func:`underdetermined` says why a law with
as many parameters as the curve has distinct N (or more) identifies nothing — it passes through the
mean at every N, so its residuals are the scatter within N alone (zero for one point per N: AIC −∞,
zero-width intervals) and nothing is left to test it.

:func:`identify` returns the row ``{quantity, value, lo, hi, identified, reason}`` (``reason`` is ""
when identified); :func:`bridge.text.finding_text` renders it as ``"v [lo, hi]"`` or ``"not identified: <reason>"``
so that an unidentified quantity is never printed as a number.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["identify", "underdetermined", "PSNR_LIMIT_DB", "FLOOR_DECADES", "N_REACH_MAX", "N_REACH_FACTOR", "ASYMPTOTE_SPANS", "SCALE_RATIO",
           "KINDS"]

#: PSNR (dB) above which an asymptote is outside any meaningful range of an image metric.
PSNR_LIMIT_DB = 100.0
#: an "N to reach" beyond this is not a finding.
N_REACH_MAX = 1e9
#: nor beyond this multiple of the largest N trained.
N_REACH_FACTOR = 100.0
#: an asymptote whose interval ends more than this many observed ranges (max y − min y) beyond the
#: data is an extrapolation far past them.
ASYMPTOTE_SPANS = 5.0

#: a floor whose interval's lower end is below this fraction of the estimate spans more than a decade
#: towards 0 on the log scale it is fitted on: it is treated as reaching 0.
FLOOR_DECADES = 0.1

#: a floor whose whole interval lies below this fraction of the smallest observed error is no floor:
#: the fit has pushed it to its lower bound (e.g. 1e-20 under errors of 1e-3).
FLOOR_NEGLIGIBLE = 1e-3

#: a positive scale parameter (a calibrated d_eff or σ) is identified only if its interval spans at most
#: this ratio hi/lo (one decade).
SCALE_RATIO = 10.0

KINDS = ("floor", "asymptote", "break", "exponent", "n_to_reach", "scale", "value")


def _g(x: float) -> str:
    return f"{x:.3g}"


def identify(quantity: str, value: float, lo: float, hi: float, *, kind: str, **ctx: Any) -> dict[str, Any]:
    """Whether ``value`` with interval ``[lo, hi]`` is identified (see the module docstring).

    Args:
        quantity: the row's name (e.g. ``"FloorPowerLaw.floor"``).
        value, lo, hi: estimate and interval.
        kind: one of :data:`KINDS`.
        **ctx: the context the kind needs: ``n_range=(N_min, N_max)`` (break, n_to_reach, asymptote),
            ``upper``/``lower`` physical limits (asymptote, value), ``y_range=(min y, max y)``,
            ``at_bound`` and ``reach=(N, margin text)`` (asymptote), ``bounds=(lo, hi)`` (exponent),
            ``test_p`` and ``level`` (floor: p-value of the likelihood-ratio test of floor = 0).

    Returns:
        ``{"quantity", "value", "lo", "hi", "identified", "reason"}``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    value, lo, hi = float(value), float(lo), float(hi)
    reason = _reason(kind, value, lo, hi, ctx)
    return {"quantity": quantity, "value": value, "lo": lo, "hi": hi, "identified": not reason, "reason": reason}


def _at_bound(lo: float, hi: float, bounds: Any, *, tol_frac: float, what: str) -> str:
    """Why an interval that reaches a search bound (within ``tol_frac`` of the box) pins nothing down; "" if not."""
    if bounds is None:
        return ""
    b_lo, b_hi = (float(v) for v in bounds)
    tol = tol_frac * max(1.0, abs(b_hi - b_lo))
    if lo <= b_lo + tol or hi >= b_hi - tol:
        return f"the interval [{_g(lo)}, {_g(hi)}] reaches {what} [{_g(b_lo)}, {_g(b_hi)}]"
    return ""


def _reason(kind: str, value: float, lo: float, hi: float, ctx: dict[str, Any]) -> str:
    if not all(math.isfinite(v) for v in (value, lo, hi)):
        return "the estimate or its interval is unbounded (not finite)"
    if lo > hi:
        lo, hi = hi, lo
    if kind == "floor":
        p = ctx.get("test_p")
        if lo <= 0.0 or value <= 0.0:
            return "interval reaches 0: the data are consistent with no floor"
        if lo < FLOOR_DECADES * value:
            return ("interval reaches 0: the data are consistent with no floor (its lower end is more than a decade "
                    "below the estimate)")
        if p is not None and p >= 1.0 - float(ctx.get("level", 0.95)):
            return (f"interval reaches 0: the data are consistent with no floor (test of floor = 0: p = {p:.2g})")
        data_min = ctx.get("data_min")
        if data_min is not None and hi < FLOOR_NEGLIGIBLE * float(data_min):
            return (f"the floor is negligible against the data (its interval ends at {_g(hi)}, below "
                    f"{FLOOR_NEGLIGIBLE:g}× the smallest error {_g(float(data_min))}): no floor is seen")
        return ""
    if kind == "asymptote":
        if ctx.get("at_bound"):
            return "the interval runs off to the optimiser's bound (the curve has not flattened at these N)"
        upper = ctx.get("upper")
        if upper is not None and hi > upper:
            return f"the interval's upper end {_g(hi)} is past the metric's meaningful range (≤ {_g(upper)})"
        y_range = ctx.get("y_range")
        if y_range is not None:
            ymin, ymax = (float(v) for v in y_range)
            span = max(ymax - ymin, 1e-12)
            if hi > ymax + ASYMPTOTE_SPANS * span:
                return (f"the interval's upper end {_g(hi)} lies more than {ASYMPTOTE_SPANS:g}× the observed range "
                        f"above the data (max {_g(ymax)}): an extrapolation far past them")
        reach, n_range = ctx.get("reach"), ctx.get("n_range")
        if reach is not None and n_range is not None:
            n_reach, margin = reach
            cap = N_REACH_FACTOR * float(n_range[1])
            if not float(n_reach) <= cap:
                where = "never" if not math.isfinite(float(n_reach)) else f"only at N = {_g(float(n_reach))}"
                return (f"the law comes within {margin} of it {where} (upper end of its interval), beyond "
                        f"{N_REACH_FACTOR:g}× the largest N trained ({float(n_range[1]):g}): the fitted law "
                        "still rises there, so its asymptote is an extrapolation far past the data")
        return ""
    if kind == "break":
        n_min, n_max = (float(v) for v in ctx["n_range"])
        if lo < n_min or hi > n_max:
            return f"the break's interval [{_g(lo)}, {_g(hi)}] leaves the N trained [{_g(n_min)}, {_g(n_max)}]"
        return ""
    if kind == "exponent":
        # an optimiser's bound: within 0.1% of the box counts as reaching it
        return _at_bound(lo, hi, ctx.get("bounds"), tol_frac=1e-3, what="the optimiser's bound")
    if kind == "scale":
        at = _at_bound(lo, hi, ctx.get("bounds"), tol_frac=0.0, what="the parameter's bound")
        if at:
            return at
        if lo <= 0 or hi / lo > SCALE_RATIO:
            return f"the interval [{_g(lo)}, {_g(hi)}] spans more than a factor {SCALE_RATIO:g}"
        return ""
    if kind == "n_to_reach":
        n_max = float(ctx["n_range"][1]) if ctx.get("n_range") is not None else math.inf
        cap = min(N_REACH_MAX, N_REACH_FACTOR * n_max)
        if hi > cap:
            return (f"the interval's upper end N = {_g(hi)} is beyond {_g(cap)} "
                    f"(min of {N_REACH_MAX:.0e} and {N_REACH_FACTOR:g}× the largest N trained): "
                    "an extrapolation far past the data")
        return ""
    # value
    upper, lower = ctx.get("upper"), ctx.get("lower")
    if upper is not None and hi > upper:
        return f"the band's upper end {_g(hi)} is past the metric's meaningful range (≤ {_g(upper)})"
    if lower is not None and lo < lower:
        return f"the band's lower end {_g(lo)} is below the metric's range (≥ {_g(lower)})"
    return ""


def underdetermined(law: str, n_params: int, n_distinct: int) -> str:
    """Why a law with ``n_params`` parameters is not identified by a curve of ``n_distinct`` N; "" if it can be.

    Args:
        law: the law's name, for the message (e.g. ``"FloorPowerLaw"``).
        n_params: its number of free parameters p.
        n_distinct: the number of distinct N of the curve k.

    Returns:
        "" when k > p, else the reason (one line, with the fix).
    """
    if int(n_distinct) > int(n_params):
        return ""
    return (f"{int(n_distinct)} distinct N for the {int(n_params)} parameters of {law}: the law passes through every "
            f"N's mean, so nothing is left to test it or pin it down; need at least {int(n_params) + 1} distinct N "
            "(widen the sweep's N)")
