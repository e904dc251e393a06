"""Tests for bridge.plot: each figure function draws what it promises, validates its input, and
bridge.plotkit's save() writes PNG + PDF atomically. Artists are found through the gids they are tagged with."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from bridge import plot, plotkit


class FakeLaw:
    """beta * N^alpha, times (1 + c / P) for a joint law evaluated with P."""

    def __init__(self, beta: float = 2.0, alpha: float = -0.5, c: float = 0.0) -> None:
        self.beta, self.alpha, self.c = beta, alpha, c

    def predict(self, N, P=None):
        y = self.beta * np.asarray(N, dtype=float) ** self.alpha
        return y if P is None else y * (1.0 + self.c / np.asarray(P, dtype=float))

    def label(self) -> str:
        return f"{self.beta:.2f} N^{self.alpha:.2f}"


class BareLaw:
    """A law with predict only (no label)."""

    def predict(self, N):
        return 3.0 / np.asarray(N, dtype=float)


@pytest.fixture
def ax() -> Axes:
    _, a = plotkit.new_figure()
    return a


def by_gid(ax: Axes, gid: str) -> list:
    return [a for a in (*ax.lines, *ax.collections, *ax.patches) if a.get_gid() == gid]


def legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def luminance(color) -> float:
    r, g, b, _ = to_rgba(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# ----------------------------------------------------------------------------- figure 1 left


def _theory_curves(rng: np.random.Generator, m: int = 9) -> tuple[np.ndarray, dict]:
    n = np.geomspace(10, 1e4, m)
    floor = 0.05
    curves = {
        "optimal": (n, np.full(m, floor), None),
        "pca": (n, floor + 2.0 / n * rng.uniform(0.8, 1.2, m), 0.1 / n),
        "ols": (n, floor + 5.0 / n * rng.uniform(0.8, 1.2, m), rng.uniform(0.0, 0.5, m)),  # some bars cross 0
        "gd-oracle": (n, floor + 1.0 / n, None),
        "my estimator": (n, floor + 3.0 / n, None),
    }
    return n, curves


def test_theory_risk_vs_N_draws_curves_floor_and_fits(ax, rng):
    n, curves = _theory_curves(rng)
    law, bare = FakeLaw(2.0, -1.0), BareLaw()
    out = plot.theory_risk_vs_N(ax, curves, floor=0.05, fits=[(law, (20, 1000), "pca"), (bare, (100, 5000))],
                                title="setup A")
    assert out is ax
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_title() == "setup A"
    assert len(by_gid(ax, "curve")) == len(curves)
    texts = legend_texts(ax)
    for label in (r"$W^*$", r"$W_{PCA}$", r"$W^\infty$", r"$W^{k_{opt}}$", "my estimator", "error floor"):
        assert label in texts
    assert any(law.label() in t for t in texts)
    assert "fit" in texts  # a law without label() still gets an entry
    (floor_line,) = by_gid(ax, "floor")
    assert np.allclose(floor_line.get_ydata(), 0.05)
    fit_lines = by_gid(ax, "fit")
    assert len(fit_lines) == 2
    x = np.asarray(fit_lines[0].get_xdata())
    assert x.min() == pytest.approx(20) and x.max() == pytest.approx(1000)
    assert np.allclose(fit_lines[0].get_ydata(), law.predict(x))
    assert fit_lines[0].get_linestyle() == "--"
    # a fit that names a curve takes that curve's colour
    pca_line = [c for c in ax.containers if c.get_label() == r"$W_{PCA}$"][0].lines[0]  # bars carry the label
    assert pca_line.get_gid() == "curve"
    assert to_rgba(fit_lines[0].get_color()) == to_rgba(pca_line.get_color())
    # only the two curves with err get error bars
    assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == 2


def test_theory_risk_vs_N_error_bars_stay_positive_on_log_axis(ax, rng):
    n = np.geomspace(10, 1000, 6)
    mean = rng.uniform(0.1, 1.0, n.size)
    err = mean * rng.uniform(0.2, 2.0, n.size)  # some exceed the mean
    plot.theory_risk_vs_N(ax, {"pca": (n, mean, err)})
    (cont,) = ax.containers
    segs = np.array(cont.lines[2][0].get_segments())  # (m, 2 ends, xy)
    bottoms, tops = segs[:, :, 1].min(axis=1), segs[:, :, 1].max(axis=1)
    assert np.all(bottoms > 0)
    assert np.allclose(bottoms, np.maximum(mean - err, mean / 10))  # truncated a decade below the mean
    assert np.allclose(tops, mean + err)


def test_theory_risk_vs_N_single_point_optimal_is_horizontal_and_names_get_distinct_colours(ax):
    n = np.array([10.0, 100.0, 1000.0])
    curves = {"optimal": ([50.0], [0.05], None), "a": (n, 1 / n, None), "b": (n, 2 / n, None)}
    plot.theory_risk_vs_N(ax, curves)
    lines = {ln.get_label(): ln for ln in by_gid(ax, "curve")}
    assert np.allclose(lines[r"$W^*$"].get_ydata(), 0.05)
    assert np.ptp(lines[r"$W^*$"].get_xdata()) > 0  # spans the axes, not one point
    assert to_rgba(lines["a"].get_color()) != to_rgba(lines["b"].get_color())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"curves": {}}, "non-empty"),
        ({"curves": {"pca": ([1, 2, 3], [1, 2], None)}}, "length mismatch"),
        ({"curves": {"pca": ([1, 2], [1, 0], None)}}, "non-positive"),
        ({"curves": {"pca": ([0, 2], [1, 1], None)}}, "non-positive"),
        ({"curves": {"pca": ([], [], None)}}, "empty"),
        ({"curves": {"pca": ([1, 2], [1, np.nan], None)}}, "non-finite"),
        ({"curves": {"pca": ([1, 2], [1, 1], [0.1, -0.1])}}, "negative"),
        ({"curves": {"pca": ([1, 2], [1, 1], [0.1])}}, "err has length"),
        ({"curves": {"pca": [[1, 2]]}}, "tuple of 2 or 3"),
        ({"curves": {"pca": ([1, 2], [1, 1])}, "floor": 0.0}, "floor"),
        ({"curves": {"pca": ([1, 2], [1, 1])}, "fits": [(FakeLaw(), (100, 10))]}, "N_lo < N_hi"),
        ({"curves": {"pca": ([1, 2], [1, 1])}, "fits": [("not a law", (1, 10))]}, "predict"),
        ({"curves": {"pca": ([1, 2], [1, 1])}, "fits": [(FakeLaw(), (1, 10), "ols")]}, "not in curves"),
        ({"curves": {"pca": ([1, 2], [1, 1])}, "fits": [(FakeLaw(beta=-1.0), (1, 10))]}, "non-positive"),
    ],
)
def test_theory_risk_vs_N_rejects_bad_input(ax, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot.theory_risk_vs_N(ax, **kwargs)


def test_drawing_functions_reject_non_axes():
    with pytest.raises(ValueError, match="Axes"):
        plot.theory_risk_vs_N("not an axes", {"pca": ([1, 2], [1, 1])})


# ----------------------------------------------------------------------------- figure 1 right


def _gd_risk(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    # U-shaped in k with a minimum that moves right with N
    return np.array([0.05 + 0.5 / (1 + k / ni) + 1e-3 * k / ni for ni in n])


def test_theory_risk_vs_k_colours_by_N_and_marks_minima(ax, rng):
    k = np.geomspace(1, 1e5, 40)
    n = rng.permutation(np.array([10.0, 30.0, 100.0, 300.0, 1000.0]))  # unsorted on purpose
    risk = _gd_risk(k, n) * rng.uniform(0.95, 1.05, (n.size, k.size))
    out = plot.theory_risk_vs_k(ax, k, risk, n, floor=0.05)
    assert out is ax
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    curves, minima = by_gid(ax, "curve"), by_gid(ax, "minimum")
    assert len(curves) == len(minima) == n.size
    # each drawn curve is one of the rows; its star sits at that row's argmin
    for line, star in zip(curves, minima):
        i = [r for r in range(n.size) if np.array_equal(line.get_ydata(), risk[r])][0]
        j = int(np.argmin(risk[i]))
        assert star.get_xdata()[0] == k[j] and star.get_ydata()[0] == risk[i, j]
        assert to_rgba(star.get_color()) == to_rgba(line.get_color())
        assert line.get_label() == f"$N={n[i]:g}$"
    # drawn in increasing N along a sequential (monotone-lightness) colormap
    drawn_n = [float(line.get_label().strip("$").split("=")[1]) for line in curves]
    assert drawn_n == sorted(n.tolist())
    assert np.all(np.diff([luminance(line.get_color()) for line in curves]) > 0)
    texts = legend_texts(ax)
    assert "error floor" in texts and any("minimum" in t for t in texts)
    assert ax.get_legend() is not None and not any(im for im in ax.images)  # no colorbar image


def test_theory_risk_vs_k_many_N_labels_only_a_few(ax):
    k = np.geomspace(1, 1e4, 20)
    n = np.geomspace(10, 1e4, 20)
    plot.theory_risk_vs_k(ax, k, _gd_risk(k, n), n)
    labelled = [t for t in legend_texts(ax) if t.startswith("$N=")]
    assert 2 <= len(labelled) <= 8
    assert labelled[0] == f"$N={n[0]:g}$" and labelled[-1] == f"$N={n[-1]:g}$"
    assert len(by_gid(ax, "curve")) == 20


@pytest.mark.parametrize(
    "k, risk, n, match",
    [
        ([1, 2, 3], np.ones((2, 2)), [10, 20], "shape"),
        ([0, 1, 2], np.ones((2, 3)), [10, 20], "non-positive"),
        ([1, 2, 3], -np.ones((2, 3)), [10, 20], "positive"),
        ([1, 2, 3], np.full((2, 3), np.inf), [10, 20], "finite"),
        ([1, 2, 3], np.ones((0, 3)), [], "empty"),
    ],
)
def test_theory_risk_vs_k_rejects_bad_input(ax, k, risk, n, match):
    with pytest.raises(ValueError, match=match):
        plot.theory_risk_vs_k(ax, k, risk, n)


# ----------------------------------------------------------------------------- figure 2


def _runs(rng: np.random.Generator) -> dict:
    n = np.repeat(np.geomspace(100, 3000, 6), 3)
    width = np.tile([16.0, 32.0, 64.0], 6)
    value = 30 + 2 * np.log10(n) + np.log2(width) / 4 + rng.normal(0, 0.3, n.size)
    order = rng.permutation(n.size)
    return {"N": n[order], "value": value[order], "width": width[order]}


class PsnrLaw:
    def predict(self, N):
        return 31.0 + 2.0 * np.log10(np.asarray(N, dtype=float))

    def label(self) -> str:
        return "31 + 2 log10 N"


def test_empirical_vs_N_full_figure_with_extrapolation(ax, rng):
    runs = _runs(rng)
    un = np.unique(runs["N"])
    grid = np.geomspace(100, 1e5, 30)
    law = PsnrLaw()
    out = plot.empirical_vs_N(
        ax, runs, envelope=(un, 31 + 2 * np.log10(un), np.full(un.size, 0.2)), fit=law,
        band=(grid, law.predict(grid) - 0.5, law.predict(grid) + 0.5), extrapolate_to=1e5,
        baselines={"BM3D": 33.0, "noisy input": 28.0}, metric="SSIM",
    )
    assert out is ax
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert ax.get_ylabel() == "SSIM"
    dots = by_gid(ax, "runs")
    assert len(dots) == 3  # one scatter per distinct width
    assert sum(len(d.get_offsets()) for d in dots) == runs["N"].size
    texts = legend_texts(ax)
    assert [t for t in texts if t.startswith("width")] == ["width 16", "width 32", "width 64"]
    for label in ("extrapolation", "fit band", "BM3D", "noisy input", f"fit: {law.label()}"):
        assert label in texts
    assert len(by_gid(ax, "extrapolation")) == 1
    assert len(by_gid(ax, "band")) == 1
    (fit_line,) = by_gid(ax, "fit")
    x = np.asarray(fit_line.get_xdata())
    assert x.min() == pytest.approx(runs["N"].min()) and x.max() == pytest.approx(1e5)
    assert np.allclose(fit_line.get_ydata(), law.predict(x))
    assert sorted(float(b.get_ydata()[0]) for b in by_gid(ax, "baseline")) == [28.0, 33.0]
    (env,) = by_gid(ax, "envelope")
    assert np.allclose(env.get_xdata(), un)


@pytest.mark.parametrize("extrapolate_to", [None, 1000.0, 3000.0])
def test_empirical_vs_N_no_extrapolation_span_unless_beyond_data(ax, rng, extrapolate_to):
    runs = _runs(rng)
    plot.empirical_vs_N(ax, runs, fit=PsnrLaw(), extrapolate_to=extrapolate_to)
    assert by_gid(ax, "extrapolation") == []
    assert "extrapolation" not in legend_texts(ax)
    (fit_line,) = by_gid(ax, "fit")
    assert np.max(fit_line.get_xdata()) == pytest.approx(runs["N"].max())


def test_empirical_vs_N_without_width_draws_one_grey_cloud(ax, rng):
    runs = _runs(rng)
    del runs["width"]
    plot.empirical_vs_N(ax, runs)
    assert len(by_gid(ax, "runs")) == 1
    assert legend_texts(ax) == ["runs"]
    assert by_gid(ax, "fit") == [] and by_gid(ax, "band") == []


@pytest.mark.parametrize(
    "runs, kwargs, match",
    [
        ({"N": [1, 2]}, {}, "'value'"),
        ({"N": [1, 2], "value": [1.0]}, {}, "length mismatch"),
        ({"N": [1, 2], "value": [1.0, 2.0], "width": [8]}, {}, "length mismatch"),
        ({"N": [0, 2], "value": [1.0, 2.0]}, {}, "non-positive"),
        ({"N": [1, 2], "value": [1.0, 2.0]}, {"band": ([1, 2], [2, 2], [1, 3])}, "lo > hi"),
        ({"N": [1, 2], "value": [1.0, 2.0]}, {"band": ([1, 2], [2, 2])}, "tuple of 3"),
        ({"N": [1, 2], "value": [1.0, 2.0]}, {"extrapolate_to": 0.5}, "extrapolate_to"),
        ({"N": [1, 2], "value": [1.0, 2.0]}, {"extrapolate_to": -1}, "non-positive"),
        ({"N": [1, 2], "value": [1.0, 2.0]}, {"envelope": ([1, 2], [1.0], None)}, "length mismatch"),
        ({"N": [1, 2], "value": [1.0, 2.0]}, {"baselines": {"BM3D": np.nan}}, "non-finite"),
        ({"N": [1, 2], "value": [1.0, 2.0]}, {"fit": object()}, "predict"),
    ],
)
def test_empirical_vs_N_rejects_bad_input(ax, runs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot.empirical_vs_N(ax, runs, **kwargs)


# ----------------------------------------------------------------------------- figure 3


def test_metric_vs_params_one_curve_per_N_with_law(ax, rng):
    p = np.tile(np.geomspace(1e4, 1e7, 4), 3)
    n = np.repeat([100.0, 1000.0, 10000.0], 4)
    value = 30 + np.log10(n) + np.log10(p) / 3 + rng.normal(0, 0.1, p.size)
    order = rng.permutation(p.size)
    law = FakeLaw(beta=0.01, alpha=-0.3, c=1e5)

    def to_metric(mse):
        return -10.0 * np.log10(mse)

    out = plot.metric_vs_params(ax, p[order], value[order], n[order], law=law, to_metric=to_metric, metric="PSNR")
    assert out is ax
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "PSNR"
    curves, laws = by_gid(ax, "curve"), by_gid(ax, "law")
    assert len(curves) == len(laws) == 3
    assert [c.get_label() for c in curves] == ["$N=100$", "$N=1000$", "$N=10000$"]
    for curve, law_line, n_val in zip(curves, laws, (100.0, 1000.0, 10000.0)):
        assert np.all(np.diff(curve.get_xdata()) > 0)  # sorted by P
        assert np.allclose(curve.get_ydata(), value[n == n_val])  # value was generated in increasing P
        assert to_rgba(law_line.get_color()) == to_rgba(curve.get_color())
        assert law_line.get_linestyle() == "--"
        grid = np.asarray(law_line.get_xdata())
        assert grid.min() == pytest.approx(p.min()) and grid.max() == pytest.approx(p.max())
        assert np.allclose(law_line.get_ydata(), to_metric(law.predict(np.full(grid.shape, n_val), P=grid)))
    assert f"law: {law.label()}" in legend_texts(ax)
    assert np.all(np.diff([luminance(c.get_color()) for c in curves]) > 0)


def test_metric_vs_params_identity_metric_and_no_law(ax):
    p = np.array([1e3, 1e4, 1e5, 1e3, 1e4, 1e5])
    n = np.array([10.0, 10.0, 10.0, 20.0, 20.0, 20.0])
    law = FakeLaw(c=10.0)
    plot.metric_vs_params(ax, p, np.arange(6.0), n, law=law)
    for law_line, n_val in zip(by_gid(ax, "law"), (10.0, 20.0)):
        grid = np.asarray(law_line.get_xdata())
        assert np.allclose(law_line.get_ydata(), law.predict(np.full(grid.shape, n_val), P=grid))
    _, ax2 = plotkit.new_figure()
    plot.metric_vs_params(ax2, p, np.arange(6.0), n)
    assert by_gid(ax2, "law") == [] and len(by_gid(ax2, "curve")) == 2


@pytest.mark.parametrize(
    "p, v, n, kwargs, match",
    [
        ([1, 2], [1, 2, 3], [1, 1, 1], {}, "length mismatch"),
        ([0, 2], [1, 2], [1, 1], {}, "non-positive"),
        ([1, 2], [1, 2], [0, 1], {}, "non-positive"),
        ([1, 2], [1, 2], [1, 1], {"law": FakeLaw(), "to_metric": lambda y: y[:1]}, "shape"),
        ([1, 2], [1, 2], [1, 1], {"law": FakeLaw(), "to_metric": "psnr"}, "callable"),
        ([1, 2], [1, 2], [1, 1], {"law": FakeLaw(beta=np.inf)}, "not finite"),
        ([1, 2], [1, 2], [1, 1], {"law": 3.0}, "predict"),
    ],
)
def test_metric_vs_params_rejects_bad_input(ax, p, v, n, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot.metric_vs_params(ax, p, v, n, **kwargs)


# ----------------------------------------------------------------------------- figure 4


def test_overlay_draws_both_series_fits_and_calibration(ax, rng):
    n_th = np.geomspace(10, 1e4, 10)
    n_ex = np.geomspace(100, 3000, 5)
    th_fit, ex_fit = FakeLaw(2.0, -1.0), FakeLaw(3.0, -0.8)
    out = plot.overlay(
        ax, (n_th, 0.05 + 2 / n_th, None), (n_ex, 0.07 + 3 / n_ex, rng.uniform(0.001, 0.01, 5)),
        theory_fit=th_fit, empirical_fit=ex_fit, calibrated=(n_th, 0.06 + 2.5 / n_th), ylabel="NMSE",
    )
    assert out is ax
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and ax.get_ylabel() == "NMSE"
    texts = legend_texts(ax)
    for label in ("theory", "experiment", "calibrated theory", f"theory fit: {th_fit.label()}",
                  f"experiment fit: {ex_fit.label()}"):
        assert label in texts
    for gid, n_range in (("theory-fit", n_th), ("experiment-fit", n_ex)):
        (line,) = by_gid(ax, gid)
        x = np.asarray(line.get_xdata())
        assert x.min() == pytest.approx(n_range.min()) and x.max() == pytest.approx(n_range.max())
    (cal,) = by_gid(ax, "calibrated")
    assert cal.get_linestyle() == "-" and cal.get_linewidth() > by_gid(ax, "theory-fit")[0].get_linewidth()
    assert len(ax.containers) == 1  # only the empirical series has error bars


def test_overlay_minimal_has_two_entries(ax):
    n = np.array([10.0, 100.0])
    plot.overlay(ax, (n, [0.5, 0.1], None), (n, [0.6, 0.2], None))
    assert legend_texts(ax) == ["theory", "experiment"]


@pytest.mark.parametrize(
    "theory, empirical, kwargs, match",
    [
        (([1, 2], [0.1, 0.0], None), ([1, 2], [1, 1], None), {}, "non-positive"),
        (([1, 2], [0.1, 0.2], None), ([1, 2, 3], [1, 1], None), {}, "length mismatch"),
        (([1, 2], [0.1, 0.2], None), ([1, 2], [1, 1], None), {"calibrated": ([1, 2], [1.0])}, "length mismatch"),
        (([1, 2], [0.1, 0.2], None), ([1, 2], [1, 1], None), {"calibrated": ([1, 2], [1, 1], None)}, "tuple of 2"),
        ((np.ones(2),), ([1, 2], [1, 1], None), {}, "tuple of 2 or 3"),
        (([1, 2], [0.1, 0.2], None), ([1, 2], [1, 1], None), {"theory_fit": FakeLaw(beta=-1.0)}, "non-positive"),
    ],
)
def test_overlay_rejects_bad_input(ax, theory, empirical, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot.overlay(ax, theory, empirical, **kwargs)


# ----------------------------------------------------------------------------- figure + files


def test_new_figure_shapes_and_sizes():
    fig, ax = plotkit.new_figure()
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    assert tuple(fig.get_size_inches()) == pytest.approx((5, 4))
    fig, axes = plotkit.new_figure(3, 2, size=(2, 1.5))
    assert axes.shape == (2, 3) and all(isinstance(a, Axes) for a in axes.flat)
    assert tuple(fig.get_size_inches()) == pytest.approx((6, 3))
    _, row = plotkit.new_figure(2)
    assert row.shape == (2,)


@pytest.mark.parametrize("kwargs", [{"ncols": 0}, {"nrows": -1}, {"ncols": 1.5}, {"size": (0, 4)}, {"size": (5,)}])
def test_new_figure_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        plotkit.new_figure(**kwargs)


def test_new_figure_needs_no_pyplot():
    code = ("import sys; from bridge import plot, plotkit; fig, ax = plotkit.new_figure(); "
            "plot.theory_risk_vs_N(ax, {'pca': ([1, 2], [1, 0.5])}); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)


def _small_figure() -> Figure:
    fig, ax = plotkit.new_figure(size=(2, 1.5))
    plot.overlay(ax, ([1, 10], [1, 0.1], None), ([1, 10], [1.2, 0.2], [0.1, 0.05]))
    return fig


@pytest.mark.parametrize("name", ["fig1", "fig1.png", "fig1.PDF"])
def test_save_writes_png_and_pdf_atomically(tmp_path, name):
    out_dir = tmp_path / "figures" / "nested"
    written = plotkit.save(_small_figure(), out_dir / name)
    assert written == [out_dir / "fig1.png", out_dir / "fig1.pdf"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written[1].read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in out_dir.iterdir()) == ["fig1.pdf", "fig1.png"]  # no temp files left
    # overwriting works too
    again = plotkit.save(_small_figure(), str(out_dir / "fig1"))
    assert again == written and all(p.stat().st_size > 0 for p in again)
    assert sorted(p.name for p in out_dir.iterdir()) == ["fig1.pdf", "fig1.png"]


def test_save_failure_leaves_no_temp_file(tmp_path):
    fig = _small_figure()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    fig.savefig = broken
    with pytest.raises(RuntimeError, match="disk full"):
        plotkit.save(fig, tmp_path / "fig")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_save_gives_the_permissions_open_would(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        written = plotkit.save(_small_figure(), tmp_path / "fig")
    finally:
        os.umask(old)
    assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in written] == [oct(mode)] * 2


def test_save_rejects_non_figure(tmp_path):
    with pytest.raises(ValueError, match="Figure"):
        plotkit.save("figure", tmp_path / "fig")
