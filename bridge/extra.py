"""How many more examples a self-supervised method needs to match supervised training.

Klug, Atik & Heckel (NeurIPS 2023) show that training without clean targets reaches the supervised
estimator's quality but needs more examples. With both curves on one N axis, the question is: for each
supervised N, at which N does the self-supervised method reach the same quality, and how many times
more examples is that?

**From a sweep.** A sweep with a ``target`` axis (``clean`` and ``noisy``, ``noisy-resampled`` or
``split``; see :mod:`empirical.targets`) trains the same estimators on clean and on self-supervised
targets and scores both against the clean test images. :func:`compare_targets` reads its runs (a
ledger or an exported table; no torch) and returns, per estimator family (:func:`family_of`:
``network``, the trained archs; ``linear``, ``arch = "linear-exact"``) and target (:func:`target_of`;
runs without a ``target`` column, older than the axis, are clean-target runs):

* ``curves`` — rows ``{family, target, N, seeds, width, mse, mse_sem, psnr, psnr_sem}`` of
  :func:`bridge.results.runs_curve` (best width per N by validation MSE; the mean test MSE over seeds
  and 10 log₁₀(1/MSE) per seed, mean ± SEM);
* ``extra`` — for each N of the supervised curve, the N at which the self-supervised curve reaches
  the supervised quality and the factor N_equiv/N, with a bootstrap interval from the fitted laws
  (:func:`extra_examples`) or "not identified" and why.

:func:`theory_extra` does the same for a pair of exact theory curves, :func:`bridge.text.selfsup_markdown` renders
both for a report; ``reconscale selfsup DIR`` (:func:`bridge.cli.selfsup_main`) prints them and draws
:func:`bridge.figures.selfsup_figure`.

**The method.**

:func:`extra_examples` answers it from per-run experiment points (N, MSE; repeated N for seeds):

* ``q(N)`` — the supervised quality at N — is the **supervised fitted law's prediction** at N, not the
  mean of the runs at N: the law pools the seed noise of every N (the mean of 2–5 seeds at one N is
  noisier), it is defined at any N (``at``) and it makes both sides of the comparison the same kind of
  object (a law), so that two identical curves give exactly factor 1. Its cost, a biased ``q`` when the
  law does not describe the curve, is guarded by a lack-of-fit test on both curves.
* ``N_equiv`` solves ``f_ss(N_equiv) = q`` for the fitted self-supervised law in closed form:
  ``((q − c)/a)^(1/α)`` for ``c + a N^α`` (never, when ``q ≤ c``) and ``(q/β)^(1/α)`` for ``β N^α``.
  ``factor = N_equiv / N``.
* Interval: each curve is bootstrapped with :func:`bridge.uncertainty.bootstrap` (runs resampled within
  each N; a residual bootstrap when there is one run per N), independently, since the two curves come
  from independent runs; refit b of the supervised law gives ``q_b``, refit b of the self-supervised
  law inverts it, so the percentile interval of ``factor_b`` carries the uncertainty of ``q`` *and* of
  the self-supervised law. Refits that never reach ``q_b`` count as ``+inf``, so order statistics are
  taken without interpolation. Resampling n runs per N has ``√((n−1)/n)`` of the true spread (90%
  intervals from 4 seeds covered ~84%), so the runs' within-N log deviations are first inflated by
  ``√(n/(n−1))`` (:func:`bridge.uncertainty.inflate_replicates`); the estimates themselves come from fits to the data as given.

A row is *not identified* (``N_equiv``, ``factor``, ``lo``, ``hi`` are None and ``reason`` says why) when
either curve has no more distinct N than the law has parameters (:func:`bridge.identify.underdetermined`:
``c + a N^α`` needs 4, ``β N^α`` 3); N is more than
:data:`bridge.identify.N_REACH_FACTOR` × the largest supervised N (``q`` itself extrapolated); a law does not fit its curve (lack-of-fit
F test against the within-N scatter, p < :data:`LACK_OF_FIT_P`); the self-supervised exponent's interval
reaches the optimiser's bound (its refits' N_equiv are artefacts of the box); the estimate says the
self-supervised law never reaches ``q`` (``q`` at or below its floor); the interval is unbounded (more
than ``(1 − level)/2`` of the refits never reach ``q``); or ``N_equiv``'s interval ends more than
:data:`bridge.identify.N_REACH_FACTOR` × beyond the self-supervised N trained (the ``n_to_reach`` rule of
:func:`bridge.identify.identify`), or that factor below the smallest.

:func:`theory_extra_examples` does the same for exact (noise-free) theory curves by monotone log-log
interpolation of the self-supervised curve on its grid, and never extrapolates past that grid.

**Measured curves first.** Where the runs kept each test image's MSE (``test_per_image``; pass
``errors`` to :func:`compare_targets`), no law is needed inside the data: :func:`measured_extra_examples`
reads the factor off the measured curves by the same monotone interpolation, with a paired bootstrap
over test images and seeds (:mod:`bridge.paired`). A dense, low-noise curve then gets its factor even
where a parametric law fails its lack-of-fit test; the law answers only the N whose match lies past
the measured range (an extrapolation), and each row says which (``method``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.interpolate import PchipInterpolator

from ._validate import vector
from .identify import N_REACH_FACTOR, identify, underdetermined
from .laws import Law, law_spec
from .paired import curve_bands, image_weights, point_draws
from .results import CURVE_COLUMNS, runs_curve
from .uncertainty import bootstrap, inflate_replicates

__all__ = ["extra_examples", "measured_extra_examples", "theory_extra_examples", "LAWS", "LACK_OF_FIT_P", "SUPERVISED",
           "target_of", "family_of", "compare_targets", "theory_extra"]

#: the laws of :data:`bridge.laws.LAWS` this module inverts in closed form: ``"floor"``: ``c + a N^α``
#: (``α < 0, c ≥ 0``), ``"power"``: ``β N^α``.
LAWS = ("floor", "power")
#: a law whose lack-of-fit test rejects at this p-value does not describe its curve.
LACK_OF_FIT_P = 1e-3

_KEYS = ("N", "quality", "N_equiv", "factor", "lo", "hi", "identified", "reason")


def _row(n: float, q: float | None, reason: str, N_equiv: float | None = None, factor: float | None = None,
         lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    """One result row; a not-identified row carries no numbers but N and the quality."""
    if reason:
        N_equiv = factor = lo = hi = None
    return {"N": float(n), "quality": None if q is None else float(q), "N_equiv": N_equiv, "factor": factor,
            "lo": lo, "hi": hi, "identified": not reason, "reason": reason}


def _curve(name: str, N: ArrayLike, y: ArrayLike) -> tuple[NDArray, NDArray]:
    n = vector(f"{name} N", N, positive=True, why="a training-set size")
    v = vector(f"{name} mse", y, positive=True, why="an error on a log scale")
    if n.size != v.size:
        raise ValueError(f"{name}: N has {n.size} values but mse has {v.size}: pass one mse per run")
    return n, v


def _inverse(law: str, coef: NDArray, q: NDArray) -> NDArray:
    """N where each law reaches quality q: coef (B, p) reported parameters, q (B, k) -> (B, k); inf = never."""
    if law == "floor":
        c, a, alpha = coef[:, :1], coef[:, 1:2], coef[:, 2:3]
    else:  # PowerLaw: coef = (log10 β, α)
        c, a, alpha = np.zeros_like(coef[:, :1]), 10.0 ** coef[:, :1], coef[:, 1:2]
    gap = q - c
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = np.exp(np.log(np.where(gap > 0, gap, 1.0) / a) / alpha)
    return np.where((gap > 0) & (alpha < 0) & ~np.isnan(out), out, np.inf)


def _lack_of_fit(fitted: Law, N: NDArray, y: NDArray) -> float:
    """p-value of the lack-of-fit F test (log residuals vs. pure within-N error); NaN without replicates."""
    from scipy.stats import f as f_dist  # noqa: PLC0415

    r = fitted.residuals(N, y)
    levels, inv = np.unique(N, return_inverse=True)
    k, m, p = levels.size, N.size, fitted.n_params
    means = np.bincount(inv, weights=r) / np.bincount(inv)
    ss_pure = float(np.sum((r - means[inv]) ** 2))
    if m <= k or k <= p or not ss_pure > 0:
        return math.nan
    F = ((float(r @ r) - ss_pure) / (k - p)) / (ss_pure / (m - k))
    return float(f_dist.sf(F, k - p, m - k))


def extra_examples(N_sup: ArrayLike, y_sup: ArrayLike, N_ss: ArrayLike, y_ss: ArrayLike, *, law: str = "floor",
                   level: float = 0.9, n_boot: int = 200, rng: np.random.Generator,
                   at: ArrayLike | None = None) -> list[dict[str, Any]]:
    """For each supervised N, the N at which the self-supervised method reaches the same quality.

    See the module docstring for the method and the rules that make a row "not identified".

    Args:
        N_sup: (m,) supervised training-set sizes, one per run (repeat N for seeds).
        y_sup: (m,) supervised test MSE per run (positive; lower is better).
        N_ss: (m',) self-supervised training-set sizes, one per run.
        y_ss: (m',) self-supervised test MSE per run.
        law: ``"floor"`` (``c + a N^α``, default) or ``"power"`` (``β N^α``), fitted to both curves.
        level: interval level in (0, 1).
        n_boot: bootstrap resamples per curve (2..1000).
        rng: the only source of randomness.
        at: optional (k,) supervised N to evaluate at; default the distinct ``N_sup``.

    Returns:
        k rows, ascending in N: ``{"N", "quality", "N_equiv", "factor", "lo", "hi", "identified",
        "reason"}`` — ``quality`` the supervised law's MSE at N, ``N_equiv`` and ``factor = N_equiv/N``
        with the percentile interval ``[lo, hi]`` of the factor; all four None when not identified.

    Raises:
        ValueError: mismatched lengths, non-positive or non-finite N or MSE, unknown ``law``, ``level``
            outside (0, 1), ``rng`` not a numpy Generator.
    """
    Ns, ys = _curve("supervised", N_sup, y_sup)
    Nq, yq = _curve("self-supervised", N_ss, y_ss)
    spec = law_spec(law, among=LAWS)
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.9; got {level!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator (np.random.default_rng(seed)); got {type(rng).__name__}")
    grid = np.unique(Ns) if at is None else np.sort(vector("at", at, positive=True, why="a training-set size"))

    def none(reason: str, q: NDArray | None = None) -> list[dict[str, Any]]:
        return [_row(n, None if q is None else q[j], reason) for j, n in enumerate(grid)]

    for name, n in (("supervised", Ns), ("self-supervised", Nq)):
        why = underdetermined(spec.cls.__name__, spec.n_params, np.unique(n).size)
        if why:
            return none(f"the {name} curve has {why}")
    try:
        fit_s, fit_q = spec.make().fit(Ns, ys), spec.make().fit(Nq, yq)
        boot_s = bootstrap(spec.make(), Ns, inflate_replicates(Ns, ys), n_boot=n_boot, rng=rng)
        boot_q = bootstrap(spec.make(), Nq, inflate_replicates(Nq, yq), n_boot=n_boot, rng=rng)
    except (ValueError, np.linalg.LinAlgError) as e:
        return none(f"the laws could not be fitted: {e}")
    q = fit_s.predict(grid)

    # reasons that concern a whole curve
    for name, fitted, n, y in (("supervised", fit_s, Ns, ys), ("self-supervised", fit_q, Nq, yq)):
        p = _lack_of_fit(fitted, n, y)
        if p < LACK_OF_FIT_P:
            return none(f"the {name} law {fitted.label()} does not fit its curve (lack-of-fit test p = {p:.2g} < "
                        f"{LACK_OF_FIT_P:g}): try the other law, or compare the curves where they were measured", q)
    if "exponent" in spec.boxes:  # an exponent the optimiser bounds: its interval must not reach the box
        lo, hi = boot_q.ci(level)["exponent"]
        f = identify("self-supervised exponent", fit_q.exponent_, lo, hi, kind="exponent",
                     bounds=spec.boxes["exponent"])
        if not f["identified"]:
            return none(f"the self-supervised law's exponent is not pinned down: {f['reason']}", q)

    B = min(len(boot_s.laws), len(boot_q.laws))
    q_b = boot_s.predict_samples(grid)[:B]  # (B, k): the supervised quality in each refit
    n_b = _inverse(law, boot_q.samples[:B], q_b)  # (B, k): where the paired self-supervised refit reaches it
    n_hat = _inverse(law, fit_q.coef_[None, :], q[None, :])[0]
    lo_n = np.quantile(n_b, (1.0 - level) / 2.0, axis=0, method="lower")
    hi_n = np.quantile(n_b, (1.0 + level) / 2.0, axis=0, method="higher")
    n_range = (float(Nq.min()), float(Nq.max()))

    rows = []
    for j, n in enumerate(grid):
        reason = ""
        if n > N_REACH_FACTOR * Ns.max():
            reason = (f"N = {n:.3g} is more than {N_REACH_FACTOR:g}× the largest supervised N ({Ns.max():.3g}): "
                      "its quality is an extrapolation")
        elif not math.isfinite(n_hat[j]):
            reason = (f"the self-supervised law {fit_q.label()} never reaches the supervised quality "
                      f"{q[j]:.3g} (at or below its floor)")
        elif not math.isfinite(hi_n[j]):
            never = int(np.sum(~np.isfinite(n_b[:, j])))
            reason = (f"the interval is unbounded: {never} of {B} bootstrap refits never reach the supervised "
                      f"quality {q[j]:.3g}")
        else:
            reason = identify("N_equiv", n_hat[j], lo_n[j], hi_n[j], kind="n_to_reach", n_range=n_range)["reason"]
            if not reason and lo_n[j] < n_range[0] / N_REACH_FACTOR:
                reason = (f"the interval's lower end N = {lo_n[j]:.3g} is more than {N_REACH_FACTOR:g}× below the "
                          f"smallest self-supervised N ({n_range[0]:.3g}): an extrapolation below the data")
        rows.append(_row(n, q[j], reason, float(n_hat[j]), float(n_hat[j] / n), float(lo_n[j] / n),
                         float(hi_n[j] / n)))
    return rows


def theory_extra_examples(N: ArrayLike, risk_sup: ArrayLike, N_grid: ArrayLike,
                          risk_ss: ArrayLike) -> list[dict[str, Any]]:
    """Exact extra-examples factor of two noise-free theory curves.

    For each supervised point ``(N_i, risk_sup_i)`` the self-supervised curve is inverted by
    piecewise-linear interpolation of ``ln N`` against ``ln risk`` between the grid points that bracket
    ``q = risk_sup_i`` (exact for a power law between grid points). The first N where the curve reaches q
    is taken (the curve is non-increasing, so ties only occur on a flat stretch).

    Args:
        N: (k,) supervised training-set sizes.
        risk_sup: (k,) the supervised risk at N (positive).
        N_grid: (g,) strictly increasing sizes of the self-supervised curve, g ≥ 2.
        risk_ss: (g,) its risk, positive and non-increasing in N.

    Returns:
        k rows like :func:`extra_examples` (``lo = hi = factor``: exact); not identified when q lies
        outside ``[risk_ss[-1], risk_ss[0]]`` (the answer would be an extrapolation past the grid).

    Raises:
        ValueError: mismatched lengths, non-positive values, a grid that is not increasing, a curve that
            increases.
    """
    n, r = _curve("supervised", N, risk_sup)
    g, s = _curve("self-supervised", N_grid, risk_ss)
    if g.size < 2 or np.any(np.diff(g) <= 0):
        raise ValueError("N_grid must hold at least 2 strictly increasing sizes: sort the curve by N")
    if np.any(np.diff(s) > 0):
        raise ValueError("risk_ss must be non-increasing in N for the inverse to be unique: pass a decreasing "
                         "risk (e.g. with optimal early stopping)")
    lg, ls = np.log(g), np.log(s)
    rows = []
    for ni, qi in zip(n, r):
        if qi > s[0]:
            reason = (f"the self-supervised curve is already below q = {qi:.3g} at its smallest N ({g[0]:.3g}): "
                      "the crossing lies before the grid")
        elif qi < s[-1]:
            reason = (f"the self-supervised curve does not reach q = {qi:.3g} by its largest N ({g[-1]:.3g}, "
                      f"risk {s[-1]:.3g})")
        else:
            reason = ""
        if reason:
            rows.append(_row(ni, qi, reason))
            continue
        j = int(np.argmax(s <= qi))  # first grid point at or below q
        if j == 0:
            ln_star = lg[0]
        else:
            t = (math.log(qi) - ls[j - 1]) / (ls[j] - ls[j - 1])
            ln_star = lg[j - 1] + t * (lg[j] - lg[j - 1])
        star = math.exp(ln_star)
        rows.append(_row(ni, qi, "", star, star / ni, star / ni, star / ni))
    return rows


def _invert(N_grid: NDArray, curve: NDArray, q: float) -> float | None:
    """The first N where a measured curve (made non-increasing) reaches q, by linear interpolation of
    ln N against ln MSE between its points; None outside the measured range."""
    c = np.minimum.accumulate(curve)  # a measured curve wiggles: its running best is monotone
    if q > c[0] or q < c[-1]:
        return None
    j = int(np.argmax(c <= q))
    if j == 0:
        return float(N_grid[0])
    if c[j] == c[j - 1]:
        return float(N_grid[j])
    t = (math.log(q) - math.log(c[j - 1])) / (math.log(c[j]) - math.log(c[j - 1]))
    return float(math.exp(math.log(N_grid[j - 1]) + t * (math.log(N_grid[j]) - math.log(N_grid[j - 1]))))


def _interpolation_spread(N_grid: NDArray, curve: NDArray, q: float, star: float) -> float:
    """How much the inverse moves when the straight segments of :func:`_invert` become a monotone cubic
    (PCHIP) through the same points, as |Δ ln N|: the interpolation's own uncertainty."""
    c = np.minimum.accumulate(curve)
    keep = np.r_[True, np.diff(c) < 0]  # strictly decreasing points: x of the inverse must increase
    if keep.sum() < 3:
        return 0.0
    x, y = np.log(c[keep])[::-1], np.log(N_grid[keep])[::-1]
    return float(abs(PchipInterpolator(x, y)(math.log(q)) - math.log(star)))


def measured_extra_examples(sup: Sequence[Sequence[NDArray]], N_sup: ArrayLike, ss: Sequence[Sequence[NDArray]],
                            N_ss: ArrayLike, weights: NDArray, *, level: float = 0.9,
                            rng: np.random.Generator) -> list[dict[str, Any]]:
    """The extra-examples factor read off two densely measured curves, with no law.

    For each supervised N the quality q is the supervised curve's own test MSE there (mean over seeds
    and test images); the self-supervised curve, made non-increasing (its running minimum), is
    inverted by monotone interpolation of ln N against ln MSE (as :func:`theory_extra_examples`). The
    interval repeats this on paired bootstrap draws of both curves (:func:`bridge.paired.point_draws`:
    the same test-image resample for every point of both curves, seeds resampled per point), widened
    on both sides by the interpolation's own uncertainty: how far a monotone cubic through the same
    points moves the answer (:func:`_interpolation_spread`; straight segments in log-log are exact only
    for a power law between two points).

    Args:
        sup, ss: per N (ascending), the per-image test MSE of each seed's run: ``sup[j][s]`` is (n,).
        N_sup, N_ss: the curves' N. weights: (B, n) shared image weights (:func:`bridge.paired.image_weights`).
        level: interval level. rng: resamples seeds.

    Returns:
        Rows like :func:`extra_examples`; not identified where q lies outside the measured
        self-supervised range (that needs an extrapolation: a law), or where more than (1 − level)/2
        of the draws do.
    """
    Ns, Nq = np.asarray(N_sup, float), np.asarray(N_ss, float)
    est_s = np.array([np.mean([e.mean() for e in runs]) for runs in sup])
    est_q = np.array([np.mean([e.mean() for e in runs]) for runs in ss])
    draw_s = np.array([point_draws(runs, weights, rng) for runs in sup])  # (k, B)
    draw_q = np.array([point_draws(runs, weights, rng) for runs in ss])  # (g, B)
    tail = (1 - level) / 2
    rows = []
    for j, n in enumerate(Ns):
        star = _invert(Nq, est_q, float(est_s[j]))
        if star is None:
            rows.append(_row(n, float(est_s[j]), f"the measured self-supervised curve ({Nq[0]:g} ≤ N ≤ {Nq[-1]:g}) "
                             f"does not reach the supervised MSE at N = {n:g} within its range: that needs an "
                             "extrapolation"))
            continue
        boot = np.array([_invert(Nq, draw_q[:, b], float(draw_s[j, b])) or np.nan for b in range(weights.shape[0])])
        if np.mean(np.isnan(boot)) > tail:
            rows.append(_row(n, float(est_s[j]), f"in {np.mean(np.isnan(boot)):.0%} of the bootstrap draws the "
                             "self-supervised curve does not reach the supervised MSE within its measured range"))
            continue
        b = np.sort(np.where(np.isnan(boot), np.inf, boot))  # a draw that never reaches q: beyond the data
        lo, hi = b[int(np.floor(tail * (b.size - 1)))], b[int(np.ceil((1 - tail) * (b.size - 1)))]
        widen = math.exp(_interpolation_spread(Nq, est_q, float(est_s[j]), star))
        rows.append(_row(n, float(est_s[j]), "", star, star / n, float(min(lo, star) / widen / n),
                         float(max(hi, star) * widen / n)))
    return rows


# ------------------------------------------------------------------------------ from a sweep's runs
#: The supervised target every self-supervised one is compared with.
SUPERVISED = "clean"


def target_of(row: dict) -> str:
    """A run's training target (``clean`` for rows written before the axis existed)."""
    return row.get("target") or SUPERVISED


def family_of(row: dict) -> str:
    """``linear`` for the closed-form learned linear estimator, ``network`` for trained archs.

    A linear-exact split run on the magnitude input is ``linear (magnitude input)``, so that tables and
    figures never pass it off as what :mod:`theory.split` describes (the 2-channel [Re, Im] input).
    """
    if row.get("arch") != "linear-exact":
        return "network"
    if row.get("target") == "split" and row.get("complex_input") is False:
        return "linear (magnitude input)"
    return "linear"


#: what :func:`bridge.paired.curve_bands` adds to a curve point (the mean's PSNR and both intervals)
_BAND_COLUMNS = ("mse", "psnr", "mse_lo", "mse_hi", "psnr_lo", "psnr_hi", "test_images")


def compare_targets(runs: Sequence[dict], *, law: str = "floor", level: float = 0.9, n_boot: int = 200,
                    rng: np.random.Generator, errors: dict[str, NDArray] | None = None,
                    n_boot_test: int = 1000) -> dict[str, list[dict]]:
    """Curves per (family, target) and the extra examples of every self-supervised target.

    Args:
        runs: tidy run rows (:func:`bridge.results.load_table` of a sweep); only ``done`` rows are used.
        law: the law fitted to both curves (``floor``: c + a N^α; ``power``).
        level: interval level. n_boot: bootstrap resamples of the laws. rng: all randomness.
        errors: the runs' per-image test MSE (:func:`bridge.paired.image_errors`). With them, the factor
            is read off the measured curves wherever they reach each other
            (:func:`measured_extra_examples`, ``method = "measured"``) and the law answers only the N
            that need an extrapolation (``method = "law"``); every curve point then has the PSNR of
            its mean MSE with ``psnr_lo``/``psnr_hi`` (and ``mse_lo``/``mse_hi``), the ``level``
            interval over test images and seeds (:func:`bridge.paired.curve_bands`).
        n_boot_test: resamples of the test images (with ``errors``).

    Returns:
        ``{"curves": [...], "extra": [...]}`` (see the module doc); extra rows carry ``family``,
        ``target``, ``method`` and the fields of :func:`extra_examples`.

    Raises:
        ValueError: no finished runs, or no target other than clean (nothing to compare).
    """
    done = [r for r in runs if r.get("status") == "done"]
    if not done:
        raise ValueError("no finished runs; run (or resume) the sweep first")
    targets = sorted({target_of(r) for r in done})
    if targets == [SUPERVISED] or SUPERVISED not in targets:
        raise ValueError(f"the sweep's targets are {targets}: a comparison needs target 'clean' and a self-supervised "
                         "one (e.g. --set 'target=[\"clean\",\"noisy\"]')")
    weights = None
    if errors:
        ids = [r["run_id"] for r in done if r["run_id"] in errors]
        weights = image_weights(len(errors[ids[0]]), n_boot_test, rng) if ids else None
    curves, extra = [], []
    for family in sorted({family_of(r) for r in done}):
        best: dict[str, list[dict]] = {}  # target -> the runs of the best width per N
        for t in targets:
            rs = [r for r in done if family_of(r) == family and target_of(r) == t]
            if not rs:
                best[t] = []
                continue
            curve = runs_curve(rs, metric="mse", by=())
            bands = {}
            if weights is not None and all(r["run_id"] in errors for r in rs):
                # every point's 90% interval over test images and seeds, in the PSNR of the mean MSE
                # (the demo's one convention); the same image resamples as the factors below
                bands = {c["N"]: c for c in curve_bands(curve, rs, errors, weights, level=level, rng=rng)[0]}
            curves += [{"family": family, "target": t, **{k: c[k] for k in CURVE_COLUMNS},
                        **{k: v for k, v in bands.get(c["N"], {}).items() if k in _BAND_COLUMNS}} for c in curve]
            kept = {(c["N"], c["width"]) for c in curve}
            best[t] = [r for r in rs if (r["N"], r.get("width")) in kept]
        sup = best[SUPERVISED]
        for t in targets:
            ss = best[t]
            if t == SUPERVISED or not sup or not ss:
                continue
            rows = [{**row, "method": "law"} for row in extra_examples(
                [r["N"] for r in sup], [r["test_mse"] for r in sup], [r["N"] for r in ss],
                [r["test_mse"] for r in ss], law=law, level=level, n_boot=n_boot, rng=rng)]
            if weights is not None and all(r["run_id"] in errors for r in [*sup, *ss]):
                rows = _measured_first(sup, ss, errors, weights, rows, level=level, rng=rng)
            extra += [{"family": family, "target": t, **row} for row in rows]
    return {"curves": curves, "extra": extra}


def _measured_first(sup: Sequence[dict], ss: Sequence[dict], errors: dict, weights: NDArray, law_rows: list[dict],
                    *, level: float, rng: np.random.Generator) -> list[dict]:
    """Per supervised N, the measured factor where the measured curves answer it, else the law's row."""
    def by_N(rs: Sequence[dict]) -> tuple[list[float], list[list[NDArray]]]:
        Ns = sorted({r["N"] for r in rs})
        return Ns, [[errors[r["run_id"]] for r in rs if r["N"] == n] for n in Ns]

    (Ns, es), (Nq, eq) = by_N(sup), by_N(ss)
    measured = measured_extra_examples(es, Ns, eq, Nq, weights, level=level, rng=rng)
    out = []
    for m, lr in zip(measured, law_rows):
        if m["identified"]:
            out.append({**m, "method": "measured"})
        elif lr["identified"]:
            out.append(lr)
        else:
            out.append({**lr, "reason": f"{m['reason']}; the fitted law: {lr['reason']}"})
    return out


def theory_extra(sup: Sequence[dict], ss: Sequence[dict], *, target: str) -> list[dict]:
    """The extra examples of an exact theory curve pair (rows ``{N, mse}``), family ``theory``."""
    rows = theory_extra_examples([r["N"] for r in sup], [r["mse"] for r in sup], [r["N"] for r in ss],
                                 [r["mse"] for r in ss])
    return [{"family": "theory", "target": target, **row} for row in rows]
