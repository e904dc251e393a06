"""The explorer's Bokeh figures (risk against N, the GD path, the noisy-targets factor), built once and
updated in place; :mod:`bridge.explore` lays them out. Bokeh is imported when they are built.
"""

from __future__ import annotations

from .explore_curves import Result
from .explore_figure import COLORS, psnr_sem
from .explore_state import DATA_FREE, ESTIMATORS, LABELS, ExplorerState
from .uncertainty import mse_to_psnr

__all__ = ["Views"]


class Views:
    """The three Bokeh figures, built once (again only when the axis changes) and updated in place.

    Updating data sources and annotations sends a small patch to the browser; building new figures
    would re-send and re-lay-out the whole plot on every change (several times slower).
    """

    def __init__(self, axis: str) -> None:
        # bokeh loads with the first explorer, not with the module
        from bokeh.models import (
            ColumnDataSource,
            HoverTool,
            Label,
            Legend,
            LegendItem,
            Span,
        )
        from bokeh.plotting import figure

        self.axis = axis
        psnr = axis == "psnr"
        self.y = y = "psnr" if psnr else "risk"
        tools = "pan,wheel_zoom,box_zoom,reset,save"
        f = figure(x_axis_type="log", y_axis_type="linear" if psnr else "log", height=360,
                   sizing_mode="stretch_width", tools=tools, x_axis_label="training examples N",
                   y_axis_label="PSNR −10 log10 R (dB)" if psnr else "risk R = E‖Ŵy − x‖² / E‖x‖²",
                   title="expected risk against N")
        self.src, self.items = {}, {}
        for name in DATA_FREE:
            src = ColumnDataSource({"N": [], "risk": [], "psnr": []})
            dash = "dashed" if name == "optimal" else "solid"
            line = f.line("N", y, source=src, color=COLORS[name], line_width=2, line_dash=dash)
            dots = f.scatter("N", y, source=src, color=COLORS[name], size=5)
            self.src[name] = src
            self.items[name] = LegendItem(label=LABELS[name], renderers=[line, dots])
        self.sim_src, self.sim_items = {}, {}
        for name in ESTIMATORS:  # "check with simulation": squares with ±1 SEM bars, hidden until it ran
            src = ColumnDataSource({"N": [], "risk": [], "psnr": [], "sem": [], "lo": [], "hi": []})
            bars = f.segment("N", "lo", "N", "hi", source=src, color=COLORS[name], line_width=1.5, visible=False)
            marks = f.scatter("N", y, source=src, marker="square", size=8, line_color=COLORS[name],
                              fill_color="white", line_width=2, visible=False)
            self.sim_src[name] = src
            self.sim_items[name] = LegendItem(label=f"{LABELS[name]} (simulated)", renderers=[bars, marks])
        self.legend = Legend(items=[], location="top_right", click_policy="hide")
        f.add_layout(self.legend)
        self.floor = Span(location=1.0, dimension="width", line_color="#444444", line_dash="dotted")
        self.floor_label = Label(x=1, y=1.0, text="", text_font_size="11px", y_offset=4, text_color="#444444")
        self.slow = Span(location=1.0, dimension="height", line_color="#7f7f7f", line_dash="dashed")
        for a in (self.floor, self.floor_label, self.slow):
            f.add_layout(a)
        f.add_tools(HoverTool(tooltips=[("N", "@N"), ("risk", "@risk{0.0000e}"), ("PSNR", "@psnr{0.00} dB")]))
        self.risk_fig = f

        g = figure(x_axis_type="log", y_axis_type="log", height=260, sizing_mode="stretch_width", tools=tools,
                   x_axis_label="gradient-descent step k", y_axis_label="risk R(W^k)", title="the GD path")
        self.path_src = ColumnDataSource({"k": [], "risk": []})
        self.kopt_src = ColumnDataSource({"k": [], "risk": []})
        g.line("k", "risk", source=self.path_src, color=COLORS["gd-oracle"], line_width=2)
        g.scatter("k", "risk", source=self.kopt_src, size=9, color=COLORS["gd-oracle"], legend_label="k_opt")
        self.kopt = Span(location=1.0, dimension="height", line_color=COLORS["gd-oracle"], line_dash="dashed")
        self.path_floor = Span(location=1.0, dimension="width", line_color="#444444", line_dash="dotted")
        g.add_layout(self.kopt)
        g.add_layout(self.path_floor)
        self.path_fig = g

        h = figure(x_axis_type="log", height=220, sizing_mode="stretch_width", tools=tools,
                   x_axis_label="clean-target N", y_axis_label="extra-examples factor", title="noisy targets")
        self.extra_src = ColumnDataSource({"N": [], "factor": []})
        h.line("N", "factor", source=self.extra_src, color="#ff7f0e", line_width=2)
        h.scatter("N", "factor", source=self.extra_src, color="#ff7f0e", size=5)
        self.extra_fig = h

    def update(self, state: ExplorerState, result: Result, simulated: list[dict]) -> None:
        """Show ``result`` and the simulated points: new data in the sources, annotations moved, legend to
        the estimators shown."""
        shown = [e for e in state.estimators if e in DATA_FREE]
        for name, src in self.src.items():
            pts = [p for p in result.points if p["estimator"] == name]
            src.data = {"N": [p["N"] for p in pts], "risk": [p["risk"] for p in pts], "psnr": [p["psnr"] for p in pts]}
            for r in self.items[name].renderers:
                r.visible = name in shown
        sim_shown = []
        for name, src in self.sim_src.items():
            pts = [p for p in simulated if p["estimator"] == name]
            y = [p[self.y] for p in pts]
            if self.axis == "psnr":
                err = [psnr_sem(p["risk"], p["sem"]) for p in pts]
                lo = [v - e for v, e in zip(y, err)]
            else:  # a bar reaching 0 has no place on the log axis: stop it a decade below the mean
                err = [p["sem"] for p in pts]
                lo = [max(v - e, v / 10) for v, e in zip(y, err)]
            src.data = {"N": [p["N"] for p in pts], "risk": [p["risk"] for p in pts], "psnr": [p["psnr"] for p in pts],
                        "sem": [p["sem"] for p in pts], "lo": lo, "hi": [v + e for v, e in zip(y, err)]}
            for r in self.sim_items[name].renderers:
                r.visible = bool(pts)
            if pts:
                sim_shown.append(name)
        self.legend.items = [self.items[name] for name in shown] + [self.sim_items[name] for name in sim_shown]
        floor_y = float(mse_to_psnr(result.floor)) if self.axis == "psnr" else result.floor
        self.floor.location = floor_y
        self.floor_label.update(x=state.N_min, y=floor_y, text=f"floor R* = {result.floor:.3g}")
        slow_N = result.slowdown["N"]
        self.slow.visible = slow_N is not None
        if slow_N is not None:
            self.slow.location = slow_N
        # said in the title: a label inside the frame would collide with the curves or the floor
        self.risk_fig.title.text = f"expected risk against N — {LABELS[result.slowdown['estimator']]}: {result.slowdown['text']}"

        path = result.path
        keep = [i for i, k in enumerate(path["k"]) if k > 0]  # k = 0 has no place on a log axis
        self.path_src.data = {"k": [path["k"][i] for i in keep], "risk": [path["risk"][i] for i in keep]}
        k_opt = max(path["k_opt"], 1.0)
        self.kopt_src.data = {"k": [k_opt], "risk": [path["risk_opt"]]}
        self.kopt.location = k_opt
        self.path_floor.location = result.floor
        self.path_fig.title.text = f"the GD path at N = {path['N']:,}: early stopping at k_opt ≈ {path['k_opt']:.0f}"

        ok = [r for r in result.extra if r.get("identified")]
        self.extra_src.data = {"N": [r["N"] for r in ok], "factor": [r["factor"] for r in ok]}
        self.extra_fig.title.text = (f"noisy targets (σ_t = {state.sigma_t:g}): examples needed to match clean "
                                     "training" + ("" if ok else " — not identified on this grid"))
