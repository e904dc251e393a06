"""The paper's figure types as pure drawing functions (matplotlib only; no file reading).

Every drawing function takes a matplotlib ``Axes`` first plus plain numpy arrays or small dicts,
draws on it and returns it, so panels compose freely and work headless or in notebooks. Figures
come from :func:`bridge.plotkit.new_figure`, which builds a bare :class:`matplotlib.figure.Figure`
(no pyplot state, no backend switch) and :func:`bridge.plotkit.save` writes PNG + PDF atomically.

What is drawn (Klug & Heckel, ICLR 2023):

* Figure 1 left, :func:`theory_risk_vs_N`: the risk :math:`R(W) = \\mathbb{E}\\|W y - x\\|^2 / \\mathbb{E}\\|x\\|^2`
  of the linear estimators :math:`W^*`, :math:`W_{PCA}`, :math:`W^\\infty = X Y^+` and early-stopped gradient
  descent :math:`W^{k_{opt}}` against the number of training examples :math:`N` (log-log), the error floor
  :math:`R(W^*) = \\sigma^2 / (1 + \\sigma^2)` as a dashed line, and power laws :math:`R \\approx \\beta N^\\alpha`
  fitted over hand-chosen windows :math:`[N_{lo}, N_{hi}]`. A power law is a straight line on log-log
  axes: :math:`\\log R = \\log \\beta + \\alpha \\log N`.
* Figure 1 right, :func:`theory_risk_vs_k`: :math:`R(W^k)` against the number of GD steps :math:`k` for
  several :math:`N`; the minimum :math:`k_{opt}(N) = \\arg\\min_k R(W^k)` is marked on each curve.
* Figure 2, :func:`empirical_vs_N`: a reconstruction metric (PSNR or SSIM) of trained networks against
  :math:`N`, each run a dot coloured by network width, the best-width envelope
  :math:`\\max_{\\mathrm{width}} \\overline{\\mathrm{metric}}(N, \\mathrm{width})` with its spread, a fitted law
  extrapolated past the largest observed :math:`N` (shaded region) with its uncertainty band.
* Figure 3, :func:`metric_vs_params`: the metric against the parameter count :math:`P` per :math:`N`, with
  a joint law :math:`f(N, P)` mapped to the metric, e.g. PSNR :math:`= -10 \\log_{10} \\mathrm{MSE}`.
* Figure 4, :func:`overlay`: theory and experiment on one :math:`N` axis, with their fits and a
  calibrated theory curve.

A fitted law is duck-typed: anything with ``predict(N)`` (``predict(N, P=...)`` for a joint law)
returning an array shaped like ``N``, and optionally ``label()`` returning a short string such as
``"0.31 N^-0.52"`` that goes into the legend. Uncertainty bands are passed in as arrays.

On log-y axes an error bar ``mean - err`` that would reach zero or below cannot be drawn; its lower
end is truncated one decade below the mean (``mean / 10``) and the upper end is kept as given.

The stages' own panels (the demo's three curves, selfsup's extra examples) are in
:mod:`bridge.plot_stages`; what both modules draw with (a checked Axes, tagged lines, the legend) is
in :mod:`bridge.plotkit`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ._validate import vector
from .plotkit import check_ax, check_tuple, finish_axes, plot_line

__all__ = [
    "ESTIMATOR_STYLES",
    "empirical_vs_N",
    "metric_vs_params",
    "overlay",
    "theory_risk_vs_N",
    "theory_risk_vs_k",
]

# Conventional estimator names -> fixed look, so every figure of the project agrees.
ESTIMATOR_STYLES: dict[str, dict[str, Any]] = {
    "optimal": {"label": r"$W^*$", "color": "black", "marker": None, "linestyle": "-"},
    "pca": {"label": r"$W_{PCA}$", "color": "tab:blue", "marker": "o", "linestyle": "-"},
    "ols": {"label": r"$W^\infty$", "color": "tab:red", "marker": "s", "linestyle": "-"},
    "gd-oracle": {"label": r"$W^{k_{opt}}$", "color": "tab:green", "marker": "^", "linestyle": "-"},
}
# Unknown estimator names cycle through colours/markers not used above.
_EXTRA_COLORS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray", "tab:orange")
_EXTRA_MARKERS = ("D", "v", "P", "X", "<", ">", "h")
_BASELINE_STYLES = (":", "-.", (0, (5, 2, 1, 2)), "--", (0, (1, 3)))
_DENSE = 200  # points on a dense grid for drawing laws
_MAX_LEGEND_CURVES = 8  # beyond this many N, only a few evenly spaced curves get a legend entry
_N_LABEL = "training examples $N$"


# ----------------------------------------------------------------------------- validation


def _same_len(names: Sequence[str], *arrays: np.ndarray) -> None:
    sizes = [a.size for a in arrays]
    if len(set(sizes)) > 1:
        shown = ", ".join(f"{n} {s}" for n, s in zip(names, sizes))
        raise ValueError(f"length mismatch ({shown}): pass arrays of equal length")


def _err(name: str, err: Any, size: int) -> np.ndarray | None:
    if err is None:
        return None
    e = vector(name, err)
    if e.size != size:
        raise ValueError(f"{name} has length {e.size} but the data have {size}: pass one error per point")
    if np.any(e < 0):
        raise ValueError(f"{name} has negative entries: pass error-bar half-widths (>= 0)")
    return e


def _xy_err(name: str, item: Any, *, logy: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate an ``(N, y, err-or-None)`` (or ``(N, y)``) tuple; returns it sorted by N."""
    parts = check_tuple(name, item, sizes=(2, 3))
    n = vector(f"{name} N", parts[0], positive=True, why="the log N axis")
    y = vector(f"{name} values", parts[1], positive=logy, why="the log y axis")
    _same_len((f"{name} N", f"{name} values"), n, y)
    e = _err(f"{name} err", parts[2] if len(parts) == 3 else None, n.size)
    order = np.argsort(n, kind="stable")
    return n[order], y[order], None if e is None else e[order]


def _law_label(law: Any) -> str | None:
    label = getattr(law, "label", None)
    return str(label()) if callable(label) else None


def _check_law(name: str, law: Any) -> None:
    if not callable(getattr(law, "predict", None)):
        raise ValueError(f"{name} must have a predict(N) method; got {type(law).__name__}")


def _predict(
    name: str, law: Any, grid: np.ndarray, *, logy: bool, n_fixed: float | None = None,
    to_metric: Callable[[np.ndarray], np.ndarray] | None = None, where: str = "",
) -> np.ndarray:
    """``law.predict(grid)``, or ``law.predict(N, P=grid)`` at fixed ``n_fixed`` for a joint law,
    optionally mapped by ``to_metric``, checked to be drawable."""
    if n_fixed is None:
        y = np.asarray(law.predict(grid), dtype=float)
    else:  # N as an array shaped like P, so laws that do not broadcast scalars still work
        y = np.asarray(law.predict(np.full(grid.shape, n_fixed), P=grid), dtype=float)
    if to_metric is not None:
        y = np.asarray(to_metric(y), dtype=float)
    if y.shape != grid.shape:
        raise ValueError(f"{name} prediction has shape {y.shape}, expected {grid.shape}: predict must broadcast")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} prediction is not finite{where}: check the law (and to_metric) on this range")
    if logy and np.any(y <= 0):
        raise ValueError(f"{name} prediction is non-positive{where}, which a log y axis cannot show: narrow the range")
    return y


def _window(name: str, window: Any) -> tuple[float, float]:
    lo_hi = check_tuple(name, window, sizes=(2,))
    lo, hi = (float(v) for v in lo_hi)
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"{name} must satisfy 0 < N_lo < N_hi; got ({lo:g}, {hi:g})")
    return lo, hi


def _dense(lo: float, hi: float) -> np.ndarray:
    return np.geomspace(lo, hi, _DENSE) if hi > lo else np.array([lo])


# ----------------------------------------------------------------------------- drawing helpers


def _errorbar(
    ax: Axes, x: np.ndarray, y: np.ndarray, err: np.ndarray | None, *, logy: bool, gid: str, **style: Any
) -> Line2D:
    """Plot ``y`` against ``x`` with optional symmetric bars; returns the data line (tagged ``gid``)."""
    if err is None:
        (line,) = ax.plot(x, y, **style)
    else:
        lower = np.minimum(err, y - y / 10) if logy else err  # see module docstring: truncate at mean/10
        cont = ax.errorbar(x, y, yerr=np.vstack([lower, err]), capsize=2, elinewidth=0.8, **style)
        line = cont.lines[0]
    line.set_gid(gid)
    return line


def _proxy(ax: Axes, label: str, **style: Any) -> None:
    """A data-free line that only adds a legend entry (survives later ``ax.legend()`` calls)."""
    (line,) = ax.plot([], [], label=label, **style)
    line.set_gid("legend-proxy")


def _sequential(n: int, cmap: str = "viridis") -> list:
    """``n`` colours of a sequential colormap in order (the light yellow end is avoided)."""
    return [colormaps[cmap](v) for v in np.linspace(0.0, 0.85, n)] if n > 1 else [colormaps[cmap](0.45)]


def _fit_text(law: Any, prefix: str = "fit") -> str:
    label = _law_label(law)
    return f"{prefix}: {label}" if label else prefix


# ----------------------------------------------------------------------------- figure 1


def theory_risk_vs_N(
    ax: Axes,
    curves: Mapping[str, tuple],
    *,
    floor: float | None = None,
    fits: Sequence[tuple] | None = None,
    title: str | None = None,
) -> Axes:
    """Figure 1 (left): log-log risk R against N for several linear estimators.

    Args:
        ax: Axes to draw on.
        curves: estimator name -> ``(N, mean, err)`` with ``N`` and ``mean`` of shape (m,) and ``err``
            of shape (m,) or None; bars are ``mean ± err``. The names "optimal" (drawn as a line without
            markers, labelled $W^*$), "pca" ($W_{PCA}$), "ols" ($W^\\infty$) and "gd-oracle" ($W^{k_{opt}}$)
            get fixed colours, markers and labels; any other name is drawn and labelled as given.
        floor: error floor, drawn as a dashed horizontal line.
        fits: ``(law, (N_lo, N_hi))`` pairs; each ``law.predict`` is drawn as a thin dashed line over its
            window with ``law.label()`` in the legend. A third item, an estimator name from ``curves``,
            draws the fit in that estimator's colour.
        title: optional axes title.

    Returns:
        ``ax``.

    Raises:
        ValueError: empty ``curves``, mismatched lengths, non-positive N/risk, bad windows or laws.
    """
    ax = check_ax(ax)
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty dict name -> (N, mean, err): pass at least one estimator")
    ax.set_xscale("log")
    ax.set_yscale("log")
    colors: dict[str, Any] = {}
    extra = 0
    for name, item in curves.items():
        n, y, e = _xy_err(f"curves[{name!r}]", item, logy=True)
        style = ESTIMATOR_STYLES.get(name)
        if style is None:
            style = {"label": str(name), "color": _EXTRA_COLORS[extra % len(_EXTRA_COLORS)],
                     "marker": _EXTRA_MARKERS[extra % len(_EXTRA_MARKERS)], "linestyle": "-"}
            extra += 1
        colors[name] = style["color"]
        if name == "optimal" and n.size == 1:  # a flat line needs no N range
            ax.axhline(y[0], color=style["color"], lw=1.5, label=style["label"], gid="curve")
            continue
        _errorbar(ax, n, y, e, logy=True, gid="curve", label=style["label"], color=style["color"],
                  marker=style["marker"], linestyle=style["linestyle"], markersize=4,
                  lw=1.5 if name == "optimal" else 1.0)
    if floor is not None:
        f = vector("floor", [floor], positive=True, why="the log risk axis")[0]
        ax.axhline(f, color="0.4", linestyle="--", lw=1.0, label="error floor").set_gid("floor")
    for i, fit in enumerate(fits or ()):
        parts = check_tuple(f"fits[{i}]", fit, sizes=(2, 3))
        law, window = parts[0], parts[1]
        _check_law(f"fits[{i}] law", law)
        lo, hi = _window(f"fits[{i}] window", window)
        grid = _dense(lo, hi)
        y = _predict(f"fits[{i}]", law, grid, logy=True, where=f" on [{lo:g}, {hi:g}]")
        color = "0.2"
        if len(parts) == 3:
            if parts[2] not in colors:
                raise ValueError(f"fits[{i}] names curve {parts[2]!r}, not in curves: use one of {list(colors)}")
            color = colors[parts[2]]
        plot_line(ax, grid, y, color=color, linestyle="--", lw=0.9, label=_fit_text(law), gid="fit")
    return finish_axes(ax, xlabel=_N_LABEL, ylabel="risk $R$", title=title)


# ----------------------------------------------------------------------------- figure 1 right


def theory_risk_vs_k(
    ax: Axes, k: Any, risk: Any, N: Any, *, floor: float | None = None
) -> Axes:
    """Figure 1 (right): log-log R(W^k) against GD steps k, one curve per N, minima marked.

    Curves are coloured along a sequential colormap in increasing N (whatever order ``N`` is in). With
    more than eight N only about six evenly spaced curves get a legend entry (no colorbar). Each
    curve's minimum over k (the oracle early-stopping point) is marked with a star.

    Args:
        ax: Axes to draw on.
        k: step counts, shape (K,), positive (log axis; drop k = 0).
        risk: risks, shape (len(N), K), positive.
        N: training-set sizes, shape (n,).
        floor: error floor, drawn as a dashed horizontal line.

    Returns:
        ``ax``.

    Raises:
        ValueError: shape mismatch, empty or non-positive inputs.
    """
    ax = check_ax(ax)
    kk = vector("k", k, positive=True, why="the log k axis")
    nn = vector("N", N, positive=True, why="a training-set size")
    r = np.asarray(risk, dtype=float)
    if r.shape != (nn.size, kk.size):
        raise ValueError(f"risk has shape {r.shape}, expected (len(N), len(k)) = {(nn.size, kk.size)}")
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ValueError("risk must be finite and positive for the log axis: drop diverged or zero entries")
    ax.set_xscale("log")
    ax.set_yscale("log")
    order = np.argsort(nn, kind="stable")
    colors = _sequential(nn.size)
    if nn.size > _MAX_LEGEND_CURVES:
        labelled = set(np.unique(np.round(np.linspace(0, nn.size - 1, 6)).astype(int)).tolist())
    else:
        labelled = set(range(nn.size))
    for rank, i in enumerate(order):
        label = f"$N={nn[i]:g}$" if rank in labelled else "_nolegend_"
        plot_line(ax, kk, r[i], color=colors[rank], lw=1.2, label=label, gid="curve")
        j = int(np.argmin(r[i]))
        plot_line(ax, kk[j], r[i, j], linestyle="none", marker="*", markersize=9, color=colors[rank],
                    markeredgecolor="black", markeredgewidth=0.5, zorder=3, gid="minimum")
    _proxy(ax, "minimum over $k$", linestyle="none", marker="*", markersize=9, color="white",
           markeredgecolor="black", markeredgewidth=0.5)
    if floor is not None:
        f = vector("floor", [floor], positive=True, why="the log risk axis")[0]
        ax.axhline(f, color="0.4", linestyle="--", lw=1.0, label="error floor").set_gid("floor")
    return finish_axes(ax, xlabel="gradient-descent steps $k$", ylabel="risk $R(W^k)$")


# ----------------------------------------------------------------------------- figure 2


def empirical_vs_N(
    ax: Axes,
    runs: Mapping[str, Any],
    *,
    envelope: tuple | None = None,
    fit: Any = None,
    band: tuple | None = None,
    extrapolate_to: float | None = None,
    baselines: Mapping[str, float] | None = None,
    metric: str = "PSNR (dB)",
) -> Axes:
    """Figure 2: a metric of trained networks against N (log x), with envelope, fit and extrapolation.

    Args:
        ax: Axes to draw on.
        runs: dict with arrays "N" (m,), "value" (m,) and optionally "width" (m,); every run is a small
            dot, coloured by width with one legend entry per distinct width.
        envelope: ``(N, mean, std)`` of shape (j,) each, ``std`` may be None: the best-width metric per
            N, drawn as a black line with error bars ``mean ± std``.
        fit: a law whose ``predict(N)`` returns the metric, drawn on a dense log grid from the smallest
            run N to ``max(largest run N, extrapolate_to)``.
        band: ``(N_grid, lo, hi)`` of shape (g,) each with ``lo <= hi``, drawn with ``fill_between``.
        extrapolate_to: N up to which the fit is drawn; if beyond the largest run N, the region past it
            is shaded and labelled "extrapolation".
        baselines: name -> metric value, drawn as labelled horizontal lines (e.g. "BM3D").
        metric: y-axis label.

    Returns:
        ``ax``.

    Raises:
        ValueError: missing keys, mismatched lengths, non-positive N, ``lo > hi``, bad law.
    """
    ax = check_ax(ax)
    if not isinstance(runs, Mapping) or "N" not in runs or "value" not in runs:
        raise ValueError("runs must be a dict with arrays 'N' and 'value' (and optionally 'width')")
    n = vector("runs['N']", runs["N"], positive=True, why="the log N axis")
    v = vector("runs['value']", runs["value"])
    _same_len(("runs['N']", "runs['value']"), n, v)
    ax.set_xscale("log")
    if runs.get("width") is not None:
        w = vector("runs['width']", runs["width"])
        _same_len(("runs['N']", "runs['width']"), n, w)
        widths = np.unique(w)
        for width, color in zip(widths, _sequential(widths.size, "plasma")):
            sel = w == width
            ax.scatter(n[sel], v[sel], s=12, color=color, alpha=0.7, linewidths=0,
                       label=f"width {width:g}").set_gid("runs")
    else:
        ax.scatter(n, v, s=12, color="0.5", alpha=0.7, linewidths=0, label="runs").set_gid("runs")
    if envelope is not None:
        en, ev, es = _xy_err("envelope", envelope, logy=False)
        label = "best width (mean ± std)" if es is not None else "best width"
        _errorbar(ax, en, ev, es, logy=False, gid="envelope", color="black", marker="o", markersize=4,
                  lw=1.3, label=label, zorder=3)
    hi = float(n.max())
    if extrapolate_to is not None:
        ext = vector("extrapolate_to", [extrapolate_to], positive=True, why="the log N axis")[0]
        if ext <= n.min():
            raise ValueError(f"extrapolate_to={ext:g} is not above the smallest run N={n.min():g}: pass a larger N")
        if ext > hi:
            ax.axvspan(hi, ext, color="0.85", alpha=0.5, lw=0, label="extrapolation", zorder=0).set_gid(
                "extrapolation")
            hi = ext
    if band is not None:
        parts = check_tuple("band", band, sizes=(3,))
        bn = vector("band N_grid", parts[0], positive=True, why="the log N axis")
        blo, bhi = vector("band lo", parts[1]), vector("band hi", parts[2])
        _same_len(("band N_grid", "band lo", "band hi"), bn, blo, bhi)
        if np.any(blo > bhi):
            raise ValueError("band has lo > hi somewhere: pass (N_grid, lower, upper) in that order")
        order = np.argsort(bn, kind="stable")
        ax.fill_between(bn[order], blo[order], bhi[order], color="tab:blue", alpha=0.2, lw=0,
                        label="fit band").set_gid("band")
    if fit is not None:
        _check_law("fit", fit)
        grid = _dense(float(n.min()), hi)
        y = _predict("fit", fit, grid, logy=False, where=f" on [{n.min():g}, {hi:g}]")
        plot_line(ax, grid, y, color="tab:blue", lw=1.3, linestyle="--", label=_fit_text(fit), gid="fit")
    for i, (name, value) in enumerate((baselines or {}).items()):
        b = vector(f"baselines[{name!r}]", [value])[0]
        ax.axhline(b, color="0.35", lw=1.0, linestyle=_BASELINE_STYLES[i % len(_BASELINE_STYLES)],
                   label=str(name)).set_gid("baseline")
    return finish_axes(ax, xlabel=_N_LABEL, ylabel=metric)


# ----------------------------------------------------------------------------- figure 3


def metric_vs_params(
    ax: Axes,
    params: Any,
    value: Any,
    N: Any,
    *,
    law: Any = None,
    metric: str = "PSNR (dB)",
    to_metric: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Axes:
    """Figure 3: the metric against parameter count P (log x), one curve per distinct N.

    Args:
        ax: Axes to draw on.
        params: parameter counts P, shape (m,), positive.
        value: metric values, shape (m,).
        N: training-set size of each point, shape (m,); curves are coloured by increasing N.
        law: joint law with ``predict(N, P=P)``; drawn per N on a dense P grid (over the range of
            ``params``) as a dashed line in that N's colour. ``N`` is passed as an array shaped like P.
        metric: y-axis label.
        to_metric: maps the law's prediction (shape (g,)) to the plotted metric, e.g. MSE -> PSNR;
            identity if None.

    Returns:
        ``ax``.

    Raises:
        ValueError: mismatched lengths, non-positive P or N, a prediction that is not finite.
    """
    ax = check_ax(ax)
    p = vector("params", params, positive=True, why="the log P axis")
    v = vector("value", value)
    nn = vector("N", N, positive=True, why="a training-set size")
    _same_len(("params", "value", "N"), p, v, nn)
    if law is not None:
        _check_law("law", law)
    if to_metric is not None and not callable(to_metric):
        raise ValueError(f"to_metric must be a callable array -> array; got {type(to_metric).__name__}")
    ax.set_xscale("log")
    distinct = np.unique(nn)
    grid = _dense(float(p.min()), float(p.max()))
    for n_val, color in zip(distinct, _sequential(distinct.size)):
        sel = nn == n_val
        order = np.argsort(p[sel], kind="stable")
        plot_line(ax, p[sel][order], v[sel][order], color=color, marker="o", markersize=4, lw=1.2,
                    label=f"$N={n_val:g}$", gid="curve")
        if law is not None:
            y = _predict("law", law, grid, logy=False, n_fixed=float(n_val), to_metric=to_metric,
                         where=f" at N={n_val:g}")
            plot_line(ax, grid, y, color=color, linestyle="--", lw=1.0, gid="law")
    if law is not None:
        _proxy(ax, _fit_text(law, "law"), color="0.3", linestyle="--", lw=1.0)
    return finish_axes(ax, xlabel="network parameters $P$", ylabel=metric)


# ----------------------------------------------------------------------------- figure 4


def overlay(
    ax: Axes,
    theory: tuple,
    empirical: tuple,
    *,
    theory_fit: Any = None,
    empirical_fit: Any = None,
    calibrated: tuple | None = None,
    ylabel: str = "relative error",
) -> Axes:
    """Figure 4: theory and experiment against N on one log-log axes.

    Args:
        ax: Axes to draw on.
        theory: ``(N, y, err)``, shape (m,) each, ``err`` may be None.
        empirical: ``(N, y, err)``, shape (j,) each, ``err`` may be None.
        theory_fit: law drawn (dashed, theory colour) over the theory N range.
        empirical_fit: law drawn (dashed, experiment colour) over the empirical N range.
        calibrated: ``(N, y)``, shape (c,) each: the calibrated theory curve, a thick solid line.
        ylabel: y-axis label.

    Returns:
        ``ax``.

    Raises:
        ValueError: mismatched lengths, non-positive values, bad laws.
    """
    ax = check_ax(ax)
    ax.set_xscale("log")
    ax.set_yscale("log")
    series = (("theory", theory, theory_fit, "tab:blue", "o"),
              ("experiment", empirical, empirical_fit, "tab:orange", "s"))
    checked = [(name, _xy_err(name, data, logy=True), law, color, marker)
               for name, data, law, color, marker in series]
    for name, (n, y, e), law, color, marker in checked:
        _errorbar(ax, n, y, e, logy=True, gid=name, color=color, marker=marker, markersize=4,
                  linestyle="none", label=name)
        if law is not None:
            _check_law(f"{name} fit", law)
            grid = _dense(float(n.min()), float(n.max()))
            fy = _predict(f"{name} fit", law, grid, logy=True, where=f" on [{n.min():g}, {n.max():g}]")
            plot_line(ax, grid, fy, color=color, linestyle="--", lw=1.0, label=_fit_text(law, f"{name} fit"),
                      gid=f"{name}-fit")
    if calibrated is not None:
        cn, cy, _ = _xy_err("calibrated", check_tuple("calibrated", calibrated, sizes=(2,)), logy=True)
        plot_line(ax, cn, cy, color="tab:green", lw=2.5, label="calibrated theory", zorder=1, gid="calibrated")
    return finish_axes(ax, xlabel=_N_LABEL, ylabel=ylabel)
