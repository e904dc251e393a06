"""The paper's figure types as pure drawing functions (matplotlib only; no file reading).

Every drawing function takes a matplotlib ``Axes`` first plus plain numpy arrays or small dicts,
draws on it and returns it, so panels compose freely and work headless or in notebooks. Figures
come from :func:`new_figure`, which builds a bare :class:`matplotlib.figure.Figure` (no pyplot
state, no backend switch) and :func:`save` writes PNG + PDF atomically.

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
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from theory.infra.io import atomic_write

from ._validate import vector
from .uncertainty import mse_to_psnr

__all__ = [
    "ESTIMATOR_STYLES",
    "empirical_vs_N",
    "extra_examples",
    "metric_vs_params",
    "new_figure",
    "overlay",
    "save",
    "theory_risk_vs_N",
    "theory_risk_vs_k",
    "three_curves",
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
_GRID_ALPHA = 0.3
_LEGEND_FONTSIZE = "small"
_DENSE = 200  # points on a dense grid for drawing laws
_MAX_LEGEND_CURVES = 8  # beyond this many N, only a few evenly spaced curves get a legend entry
_N_LABEL = "training examples $N$"


# ----------------------------------------------------------------------------- validation


def _check_ax(ax: Any) -> Axes:
    if not isinstance(ax, Axes):
        raise ValueError(f"ax must be a matplotlib Axes (e.g. from new_figure()); got {type(ax).__name__}")
    return ax


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


def _unpack(name: str, item: Any, *, sizes: tuple[int, ...]) -> tuple:
    """Check that ``item`` is a tuple with one of the allowed lengths."""
    if not isinstance(item, (tuple, list)) or len(item) not in sizes:
        want = " or ".join(str(s) for s in sizes)
        raise ValueError(f"{name} must be a tuple of {want} items; got {type(item).__name__}")
    return tuple(item)


def _xy_err(name: str, item: Any, *, logy: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate an ``(N, y, err-or-None)`` (or ``(N, y)``) tuple; returns it sorted by N."""
    parts = _unpack(name, item, sizes=(2, 3))
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
    lo_hi = _unpack(name, window, sizes=(2,))
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


def _plot(ax: Axes, *args: Any, gid: str, **style: Any) -> Line2D:
    """``ax.plot`` of one line, tagged with ``gid`` so callers and tests can find it."""
    (line,) = ax.plot(*args, **style)
    line.set_gid(gid)
    return line


def _proxy(ax: Axes, label: str, **style: Any) -> None:
    """A data-free line that only adds a legend entry (survives later ``ax.legend()`` calls)."""
    (line,) = ax.plot([], [], label=label, **style)
    line.set_gid("legend-proxy")


def _sequential(n: int, cmap: str = "viridis") -> list:
    """``n`` colours of a sequential colormap in order (the light yellow end is avoided)."""
    return [colormaps[cmap](v) for v in np.linspace(0.0, 0.85, n)] if n > 1 else [colormaps[cmap](0.45)]


def _finish(ax: Axes, *, xlabel: str, ylabel: str, title: str | None = None) -> Axes:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=_GRID_ALPHA)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        # matplotlib lists error-bar containers after all plain artists; restore drawing order instead.
        children = {id(c): i for i, c in enumerate(ax.get_children())}

        def drawn_at(h: Any) -> int:
            first = h.lines[0] if isinstance(h, ErrorbarContainer) else h
            return children.get(id(first), len(children))

        order = sorted(range(len(handles)), key=lambda i: drawn_at(handles[i]))
        ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=_LEGEND_FONTSIZE)
    return ax


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
    ax = _check_ax(ax)
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
        parts = _unpack(f"fits[{i}]", fit, sizes=(2, 3))
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
        _plot(ax, grid, y, color=color, linestyle="--", lw=0.9, label=_fit_text(law), gid="fit")
    return _finish(ax, xlabel=_N_LABEL, ylabel="risk $R$", title=title)


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
    ax = _check_ax(ax)
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
        _plot(ax, kk, r[i], color=colors[rank], lw=1.2, label=label, gid="curve")
        j = int(np.argmin(r[i]))
        _plot(ax, kk[j], r[i, j], linestyle="none", marker="*", markersize=9, color=colors[rank],
                markeredgecolor="black", markeredgewidth=0.5, zorder=3, gid="minimum")
    _proxy(ax, "minimum over $k$", linestyle="none", marker="*", markersize=9, color="white",
           markeredgecolor="black", markeredgewidth=0.5)
    if floor is not None:
        f = vector("floor", [floor], positive=True, why="the log risk axis")[0]
        ax.axhline(f, color="0.4", linestyle="--", lw=1.0, label="error floor").set_gid("floor")
    return _finish(ax, xlabel="gradient-descent steps $k$", ylabel="risk $R(W^k)$")


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
    ax = _check_ax(ax)
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
        parts = _unpack("band", band, sizes=(3,))
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
        _plot(ax, grid, y, color="tab:blue", lw=1.3, linestyle="--", label=_fit_text(fit), gid="fit")
    for i, (name, value) in enumerate((baselines or {}).items()):
        b = vector(f"baselines[{name!r}]", [value])[0]
        ax.axhline(b, color="0.35", lw=1.0, linestyle=_BASELINE_STYLES[i % len(_BASELINE_STYLES)],
                   label=str(name)).set_gid("baseline")
    return _finish(ax, xlabel=_N_LABEL, ylabel=metric)


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
    ax = _check_ax(ax)
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
        _plot(ax, p[sel][order], v[sel][order], color=color, marker="o", markersize=4, lw=1.2,
                label=f"$N={n_val:g}$", gid="curve")
        if law is not None:
            y = _predict("law", law, grid, logy=False, n_fixed=float(n_val), to_metric=to_metric,
                         where=f" at N={n_val:g}")
            _plot(ax, grid, y, color=color, linestyle="--", lw=1.0, gid="law")
    if law is not None:
        _proxy(ax, _fit_text(law, "law"), color="0.3", linestyle="--", lw=1.0)
    return _finish(ax, xlabel="network parameters $P$", ylabel=metric)


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
    ax = _check_ax(ax)
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
            _plot(ax, grid, fy, color=color, linestyle="--", lw=1.0, label=_fit_text(law, f"{name} fit"),
                  gid=f"{name}-fit")
    if calibrated is not None:
        cn, cy, _ = _xy_err("calibrated", _unpack("calibrated", calibrated, sizes=(2,)), logy=True)
        _plot(ax, cn, cy, color="tab:green", lw=2.5, label="calibrated theory", zorder=1, gid="calibrated")
    return _finish(ax, xlabel=_N_LABEL, ylabel=ylabel)


# ----------------------------------------------------------------------------- figure + files


# ----------------------------------------------------------------------------- the three curves


def three_curves(ax: Axes, bx: Axes, theory: Sequence[Mapping[str, Any]], linear: Sequence[Mapping[str, Any]],
                 network: Sequence[Mapping[str, Any]], *, baselines: Mapping[str, float] | None = None,
                 network_label: str = "U-Net (best width)") -> tuple[Axes, Axes]:
    """The core figure on two Axes: theory, learned linear estimator and networks on one N axis.

    Args:
        ax: the PSNR panel: the three curves, the linear floor R_Q(W*_P), the Wiener floor of the
            test images when Σ_Q has full rank (``rank_Q`` ≥ ``n`` in the theory rows), baselines.
        bx: the excess test MSE above the linear floor, log–log; points at or below the floor are
            marked on the bottom edge.
        theory: rows with ``N``, ``mse``, ``psnr`` and, in the first row, ``floor_P_on_Q``,
            ``floor_Q`` (and optionally ``rank_Q``, ``n``). linear, network: rows with ``N``, ``mse``,
            ``psnr`` and optionally ``mse_sem``, ``psnr_sem``; either may be empty.
        baselines: name → PSNR (dB), horizontal lines. network_label: the legend of the network curve.

    Returns:
        ``(ax, bx)``.
    """
    ax, bx = _check_ax(ax), _check_ax(bx)
    if not theory:
        raise ValueError("theory needs at least one row (it carries the linear floor)")
    floor, wiener = float(theory[0]["floor_P_on_Q"]), float(theory[0]["floor_Q"])
    styles = {"theory": dict(color="tab:green", lw=2.0, marker="", label="Gaussian theory (training crops' Σ)"),
              "linear": dict(color="tab:blue", marker="o", ms=4, lw=1.2, label="learned linear (exact, on the crops)"),
              "network": dict(color="tab:red", marker="s", ms=4, lw=1.2, label=network_label)}
    for name, rows in (("theory", theory), ("linear", linear), ("network", network)):
        if not rows:
            continue
        N = np.array([r["N"] for r in rows], float)
        p = np.array([r["psnr"] for r in rows])
        e = np.array([r.get("psnr_sem", 0.0) for r in rows])
        ax.errorbar(N, p, yerr=e if e.any() else None, capsize=2, gid=name, **styles[name])
        ex = np.array([r["mse"] for r in rows]) - floor
        pos = ex > 0
        bx.errorbar(N[pos], ex[pos], yerr=np.array([r.get("mse_sem", 0.0) for r in rows])[pos] if name != "theory"
                    else None, capsize=2, gid=name, **styles[name])
        if (~pos).any():
            bx.plot(N[~pos], np.full((~pos).sum(), np.nan), ls="none")  # keeps the x range
            bx.scatter(N[~pos], np.zeros((~pos).sum()), marker="v", color=styles[name]["color"], clip_on=False,
                       transform=bx.get_xaxis_transform(), zorder=5,
                       label=f"{name}: at or below the linear floor", gid=f"{name}-below")
    ax.axhline(float(mse_to_psnr(floor)), color="tab:green", ls="--", lw=1, label="linear floor R_Q(W*_P)")
    if theory[0].get("rank_Q", np.inf) >= theory[0].get("n", 0):  # else W*_Q projects onto the test crops' span
        ax.axhline(float(mse_to_psnr(wiener)), color="0.2", ls=":", lw=1, label="Wiener floor of the test crops")
    for i, (k, v) in enumerate((baselines or {}).items()):
        ax.axhline(v, color="0.6", lw=0.8, ls=("-.", (0, (1, 2)), (0, (5, 2)))[i % 3], label=k)
    ax.set_xscale("log")
    ax.set_xlabel("training examples N")
    ax.set_ylabel("test PSNR (dB) of the mean MSE")
    ax.legend(fontsize=7)
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel("training examples N")
    bx.set_ylabel("test MSE − linear floor")
    bx.legend(fontsize=7)
    return ax, bx


def new_figure(ncols: int = 1, nrows: int = 1, *, size: tuple[float, float] = (5, 4)) -> tuple[Figure, Any]:
    """A pyplot-free figure with a grid of axes and constrained layout.

    Args:
        ncols: number of panel columns (>= 1).
        nrows: number of panel rows (>= 1).
        size: (width, height) in inches of ONE panel; the figure is ``ncols*width`` by ``nrows*height``.

    Returns:
        ``(fig, axes)``: like ``pyplot.subplots``, ``axes`` is a single Axes for a 1x1 grid, an array of
        shape (ncols,) or (nrows,) for one row or column, else of shape (nrows, ncols).

    Raises:
        ValueError: non-positive counts or sizes.
    """
    for name, val in (("ncols", ncols), ("nrows", nrows)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer; got {val!r}")
    width, height = (float(s) for s in _unpack("size", size, sizes=(2,)))
    if not (width > 0 and height > 0 and np.isfinite(width) and np.isfinite(height)):
        raise ValueError(f"size must be positive (width, height) inches per panel; got {size!r}")
    # A bare Figure (not pyplot.figure) keeps no global state and needs no backend switch: headless-safe.
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(int(nrows), int(ncols), squeeze=True)
    return fig, axes


def save(fig: Figure, path: str | os.PathLike) -> list[Path]:
    """Write ``fig`` as PNG (150 dpi) and PDF side by side, atomically, creating the directory.

    Args:
        fig: the figure.
        path: a stem ("out/fig1") or a file name ending in .png/.pdf ("out/fig1.png"); both files use
            the stem.

    Returns:
        ``[png_path, pdf_path]``.

    Raises:
        ValueError: ``fig`` is not a matplotlib Figure or ``path`` is empty.
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure (e.g. from new_figure()); got {type(fig).__name__}")
    p = Path(path)
    if not p.name:
        raise ValueError(f"path {str(path)!r} has no file name: pass a stem like 'figures/fig1'")
    stem = p.with_suffix("") if p.suffix.lower() in (".png", ".pdf") else p
    written = []
    for fmt, extra in (("png", {"dpi": 150}), ("pdf", {"metadata": {"CreationDate": None}})):
        target = stem.parent / f"{stem.name}.{fmt}"
        atomic_write(target, lambda fh, fmt=fmt, extra=extra: fig.savefig(fh, format=fmt, bbox_inches="tight", **extra))
        written.append(target)
    return written


# ----------------------------------------------------------------------------- extra examples (issue 12)


def extra_examples(ax: Axes, rows: Sequence[Mapping[str, Any]], *, label: str = "self-supervised",
                   color: str = "tab:purple", marker: str = "o") -> Axes:
    """How many times more examples a self-supervised method needs, against the supervised N.

    Draws ``factor = N_equiv / N`` (rows of :func:`bridge.extra.extra_examples` or
    :func:`bridge.extra.theory_extra_examples`) against N on log-log axes, with the interval
    ``[lo, hi]`` as bars, and the reference ``N_equiv = N`` (factor 1) as a dashed line. The factor
    rather than ``N_equiv`` is on the y axis: on an ``N_equiv``-vs-N plot a constant factor of 3 is a
    half-decade offset from the diagonal that the N range (several decades) squeezes flat, and a factor
    that grows or shrinks with N is hard to see; against N it is a flat, rising or falling line, and
    the diagonal becomes the horizontal line at 1 (drawn once per panel, so several curves can share it).

    Not-identified rows are never drawn as values: each is a hollow triangle on the top edge of the
    panel at its N (outside the data scale), with one legend entry "<label>: not identified".

    Args:
        ax: the Axes to draw on.
        rows: dicts with ``N``, ``factor``, ``lo``, ``hi``, ``identified`` (``factor``/``lo``/``hi``
            may be None when not identified).
        label: legend text of the curve. color, marker: its look.

    Returns:
        ``ax``.

    Raises:
        ValueError: ``ax`` is not an Axes, ``rows`` is empty or a row lacks a key.
    """
    ax = _check_ax(ax)
    if not rows:
        raise ValueError("rows is empty: pass the rows of bridge.extra.extra_examples")
    for r in rows:
        missing = [k for k in ("N", "factor", "lo", "hi", "identified") if k not in r]
        if missing:
            raise ValueError(f"a row lacks {', '.join(missing)}: pass the rows of bridge.extra.extra_examples")
    ok = [r for r in rows if r["identified"]]
    bad = [r for r in rows if not r["identified"]]
    ax.set_xscale("log")
    ax.set_yscale("log")
    if ok:
        ok.sort(key=lambda r: r["N"])
        n = np.array([r["N"] for r in ok], float)
        f = np.array([r["factor"] for r in ok], float)
        err = np.vstack([f - np.array([r["lo"] for r in ok], float), np.array([r["hi"] for r in ok], float) - f])
        style = dict(color=color, marker=marker, ms=4, lw=1.2, label=label)
        if np.any(err > 0):
            ax.errorbar(n, f, yerr=np.maximum(err, 0.0), capsize=2, **style).lines[0].set_gid("extra-examples")
        else:  # exact (theory) rows: no bars
            _plot(ax, n, f, gid="extra-examples", **style)
    if bad:
        nb = np.array([r["N"] for r in bad], float)
        ax.plot(nb, np.ones_like(nb), ls="none")  # the x range includes them (the edge markers do not count)
        ax.scatter(nb, np.ones_like(nb), marker="^", facecolors="none", edgecolors=color, clip_on=False,
                   transform=ax.get_xaxis_transform(), zorder=5, label=f"{label}: not identified",
                   gid="extra-examples-not-identified")
    if not any(ln.get_gid() == "extra-examples-reference" for ln in ax.lines):  # once per panel
        ax.axhline(1.0, color="gray", ls="--", lw=1.0, label="$N_{equiv} = N$ (no extra examples)",
                   gid="extra-examples-reference")
    return _finish(ax, xlabel="supervised training examples $N$",
                   ylabel="extra-examples factor $N_{equiv} / N$")
