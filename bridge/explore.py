"""``reconscale explore``: the live explorer, in the browser and in a notebook (Panel on Bokeh).

The numbers come from :mod:`bridge.explore_curves` for a :mod:`bridge.explore_state` state (numpy
only); this module only lays them out.
Panel is imported when an explorer is built, never at import time, so ``bridge`` and this module
import without the ``explore`` extra.

Page contract (tests, and users who want the numbers): ``data-testid="curves"`` holds the plotted
points as JSON (estimator, N, risk, psnr, simulated; simulated points add sem and runs),
``data-testid="command"`` the equivalent ``reconscale theory curve …`` command (``sim-command``: that
of the simulation), ``data-testid="message"`` nothing or one line about a bad setting. A bad setting
keeps the previous plot; the URL query always holds the state last drawn.

"Check with simulation" runs :func:`bridge.explore_sim.simulate` in a background thread: each finished
N point moves the progress bar, Cancel stops it before the next point, and its points are drawn over
the curves (squares, ±1 SEM). Changing a setting the simulation depends on cancels it and drops its
points; the data-free redraws never wait for it. The figure downloads as PNG or PDF
(:func:`bridge.explore_figure.figure_bytes`).

Why Panel: it is HoloViz's maintained toolkit for interactive scientific apps in Python, it draws
with Bokeh (whose toolbar saves the figure as PNG), and the same object renders in Jupyter and
behind ``panel serve``; no web framework or JavaScript of our own.
"""

from __future__ import annotations

import errno
import functools
import html
import io
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from .explore_curves import curves
from .explore_figure import figure_bytes
from .explore_sim import SimResult, check_simulation, simulate
from .explore_state import (
    ESTIMATORS,
    LABELS,
    PHOTO_SIZES,
    ExplorerState,
    N_grid,
    StateError,
    parse_query,
    to_query,
)
from .explore_views import Views

__all__ = ["Explorer", "explore_main", "port_in_use", "serve"]


def _panel():
    """Panel, or a one-line ImportError naming the extra."""
    try:
        import panel as pn
    except ImportError:
        raise ImportError("the explorer needs Panel: pip install 'reconscale[explore]'") from None
    return pn


_NOTEBOOK_READY: list[bool] = []


def _notebook_extension(pn: Any) -> None:
    """In a Jupyter kernel, load Panel's notebook extension once, so ``Explorer()`` alone displays."""
    if _NOTEBOOK_READY or "ipykernel" not in sys.modules or pn.state.curdoc is not None:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        pn.extension()
        _NOTEBOOK_READY.append(True)


def _one_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


class Explorer:
    """The explorer as a Panel layout: ``Explorer()`` in a notebook cell shows it.

    Args:
        query: the initial state as a URL query (``"n=100&d=10&sigma=0.1"``) or mapping; a bad one
            shows its one-line message and the default state.
        sync_url: keep the browser's URL query equal to the state drawn (served pages).

    Attributes:
        state: the state last drawn. result: its :class:`bridge.explore_curves.Result`.
        sim: the :class:`bridge.explore_sim.SimResult` drawn over it, or None.
        message: the current one-line message ("" when the settings are good).
        layout: the Panel layout. redraw_seconds: the duration of each redraw, in order.
    """

    def __init__(self, query: str | Mapping[str, Any] | None = None, *, sync_url: bool = False) -> None:
        pn = _panel()
        _notebook_extension(pn)
        self._pn = pn
        self._sync_url = sync_url
        # served: the session's document, whose next-tick callbacks are how a thread may touch the page
        self._doc = pn.state.curdoc
        if self._doc is not None and self._doc.session_context is not None:
            self._doc.on_session_destroyed(self._on_session_destroyed)
        self.redraw_seconds: list[float] = []
        self.message = ""
        self.sim: SimResult | None = None
        self._sim_run: tuple[threading.Event, ExplorerState] | None = None  # (cancel flag, its key) while running
        self._syncing = False
        try:
            self.state = parse_query(query or "")
        except StateError as e:
            self.state, self.message = ExplorerState(), str(e)
        s = self.state
        W = pn.widgets
        text = {  # free text, so a typo reaches the same parser (and message) as a bad URL
            "n": W.TextInput(label="n (pixels)", value=str(s.n), width=90),
            "d": W.TextInput(label="d (subspace)", value=str(s.d), width=90),
            "alpha": W.TextInput(label="α (power law)", value=f"{s.alpha:g}", width=90),
            "accel": W.TextInput(label="MRI acceleration", value=f"{s.accel:g}", width=90),
            "cf": W.TextInput(label="centre fraction", value=f"{s.center_fraction:g}", width=90),
            "scale": W.TextInput(label="SR factor", value=str(s.scale), width=90),
            "sigma": W.TextInput(label="σ (noise)", value=f"{s.sigma:g}", width=90),
            "sigma_t": W.TextInput(label="σ_t (target noise)", value=f"{s.sigma_t:g}", width=90),
            "Nmin": W.TextInput(label="N from", value=str(s.N_min), width=90),
            "Nmax": W.TextInput(label="N to", value=str(s.N_max), width=90),
            "points": W.TextInput(label="N points", value=str(s.points), width=90),
            "Npath": W.TextInput(label="N of the GD path", value=str(s.N_path), width=90),
            "runs": W.TextInput(label="draws per N", value=str(s.runs), width=90),
            "seed": W.TextInput(label="seed", value=str(s.seed), width=90),
            "nval": W.TextInput(label="held out (gd-val)", value=str(s.nval), width=90),
        }
        choose = {
            "signal": W.Select(label="signal", value=s.signal, width=190,
                               options={"subspace (n, d)": "subspace", "power law j^-α": "powerlaw",
                                        "photos' crops (spectrum)": "photos"}),
            "size": W.Select(label="photo crop", options={f"{h}×{h}": str(h) for h in PHOTO_SIZES},
                             value=str(s.size), width=90),
            "task": W.Select(label="task", options={"denoising": "denoise", "MRI": "mri", "super-resolution": "sr"},
                             value=s.task, width=190),
            "form": W.Select(label="data-free form", value=s.form, width=190,
                             options={"large-N law (ms)": "large-n", "random-matrix (s, small N)": "asymptotic"}),
            "axis": W.RadioButtonGroup(label="axis", options={"risk": "risk", "PSNR": "psnr"}, value=s.axis),
            "est": W.CheckBoxGroup(label="estimators", options={LABELS[e]: e for e in ESTIMATORS},
                                   value=list(s.estimators)),
        }
        self.widgets: dict[str, Any] = {**text, **choose}
        for w in self.widgets.values():
            w.param.watch(self._on_change, "value")
        self.buttons = {
            "simulate": W.Button(label="check with simulation", color="primary", width=170),
            "cancel": W.Button(label="cancel", width=80, disabled=True),
            "png": W.FileDownload(callback=functools.partial(self._download, "png"), filename="explorer.png",
                                  label="download PNG", color="light", width=130),
            "pdf": W.FileDownload(callback=functools.partial(self._download, "pdf"), filename="explorer.pdf",
                                  label="download PDF", color="light", width=130),
        }
        self.buttons["simulate"].on_click(lambda _event: self.check_with_simulation())
        self.buttons["cancel"].on_click(lambda _event: self.cancel_simulation())
        self._progress = pn.indicators.Progress(value=0, max=1, width=260, visible=False, bar_color="primary")
        html_pane = pn.pane.HTML
        self._message = html_pane("", sizing_mode="stretch_width", margin=(0, 10))
        self._sim_status = html_pane('<div data-testid="sim-status"></div>', sizing_mode="stretch_width")
        self._sim_command = html_pane("", sizing_mode="stretch_width")
        self._risk = pn.pane.Bokeh(sizing_mode="stretch_width")
        self._path = pn.pane.Bokeh(sizing_mode="stretch_width")
        self._extra = pn.pane.Bokeh(sizing_mode="stretch_width", visible=False)
        self._sentences = html_pane("", sizing_mode="stretch_width")
        self._command = html_pane("", sizing_mode="stretch_width")
        self._points = html_pane("", sizing_mode="stretch_width")
        self._views: Views | None = None
        w, b = self.widgets, self.buttons
        controls = pn.Column(
            "### Settings", w["signal"], pn.Row(w["n"], w["d"], w["alpha"]), w["size"], w["task"],
            pn.Row(w["accel"], w["cf"], w["scale"]), pn.Row(w["sigma"], w["sigma_t"]),
            "**Estimators**", w["est"],
            pn.pane.HTML("<small>W_PCA and validation-stopped GD need simulated training sets: only "
                         "<i>check with simulation</i> draws them, not the fast redraw.</small>"),
            pn.Row(w["Nmin"], w["Nmax"], w["points"]), w["axis"], w["form"], w["Npath"],
            "**Simulation** (Monte Carlo)", pn.Row(w["runs"], w["seed"], w["nval"]),
            pn.Row(b["simulate"], b["cancel"]), self._progress, self._sim_status,
            width=320,
        )
        main = pn.Column("## How the risk falls with N", self._message, self._risk, pn.Row(b["png"], b["pdf"]),
                         self._sentences, self._path, self._extra, "**The same numbers from the command line**",
                         self._command, self._sim_command, self._points, sizing_mode="stretch_width")
        self.layout = pn.Row(controls, main, sizing_mode="stretch_width")
        try:
            self._draw(self.state)
        except Exception as e:  # noqa: BLE001 — a link the theory cannot evaluate: its line, and the defaults
            self.message = str(e) if isinstance(e, StateError) else f"could not draw: {type(e).__name__}: {_one_line(e)}"
            self.state = ExplorerState()
            self._draw(self.state)
        self._show_message(self.message)

    # ------------------------------------------------------------------ Panel/Jupyter protocol
    def __panel__(self):
        return self.layout

    def _repr_mimebundle_(self, include=None, exclude=None):  # notebooks: display as the layout
        return self.layout._repr_mimebundle_(include, exclude)

    def servable(self, title: str = "reconscale explorer"):
        """Mark the layout servable (``panel serve``)."""
        return self.layout.servable(title=title)

    # ------------------------------------------------------------------ events
    def _query(self) -> dict[str, str]:
        q = {k: w.value for k, w in self.widgets.items() if k not in ("est",)}
        q["est"] = ",".join(e for e in ESTIMATORS if e in self.widgets["est"].value)
        return {k: str(v) for k, v in q.items()}

    def _on_change(self, *_: Any) -> None:
        """A control moved: redraw from all controls, or say what is wrong and keep the plot."""
        if self._syncing:
            return
        try:
            state = parse_query(self._query())
            if state != self.state or self.message:  # e.g. the n box following a photo size: nothing new
                self._draw(state)
        except StateError as e:
            self._show_message(str(e))
            return
        except Exception as e:  # noqa: BLE001 — never a traceback in the page or the server log
            self._show_message(f"could not redraw: {type(e).__name__}: {_one_line(e)}")
            return
        self._show_message("")

    def _show_message(self, text: str) -> None:
        self.message = text
        self._message.object = (f'<div data-testid="message" role="status" style="color:#b00020;font-weight:600">'
                                f"{html.escape(text)}</div>")

    def set_query(self, query: str | Mapping[str, Any]) -> None:
        """Apply a URL query to the controls (the redraw follows, or a message)."""
        try:
            state = parse_query(query, base=self.state)
        except StateError as e:
            self._show_message(str(e))
            return
        with self._pn.io.hold():
            for k, v in _control_values(state).items():
                self.widgets[k].param.update(value=v)

    # ------------------------------------------------------------------ simulation
    def check_with_simulation(self) -> threading.Thread | None:
        """Start the Monte Carlo of the state drawn in a background thread (one at a time).

        Returns:
            The thread (``join`` it to wait), or None when the settings are refused (the message says why).
        """
        self.cancel_simulation()
        state = self.state
        try:
            check_simulation(state)
        except StateError as e:
            self._show_message(str(e))
            return None
        self._show_message("")
        cancel, total = threading.Event(), int(N_grid(state).size)
        self._sim_run = (cancel, _sim_key(state))
        self._progress.param.update(value=0, max=total, visible=True)
        self.buttons["simulate"].disabled, self.buttons["cancel"].disabled = True, False
        self._set_sim_status(f"simulating: 0 of {total} N points ({state.runs} draws each)…")

        def work() -> None:
            try:
                res: SimResult | StateError = simulate(
                    state, cancel=cancel, progress=lambda done, n: self._schedule(
                        functools.partial(self._sim_progress, cancel, done, n)))
            except StateError as e:
                res = e
            except Exception as e:  # noqa: BLE001 — one line in the page, never a traceback
                res = StateError(f"simulation failed: {type(e).__name__}: {_one_line(e)}")
            self._schedule(functools.partial(self._sim_done, cancel, state, res))

        thread = threading.Thread(target=work, name="reconscale-explore-simulation", daemon=True)
        thread.start()
        return thread

    def cancel_simulation(self) -> None:
        """Stop a running simulation before its next N point (its finished points are kept and drawn)."""
        if self._sim_run is not None:
            self._sim_run[0].set()
            self._set_sim_status("cancelling after the current N point…")

    def _schedule(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` where it may touch the page: the session's next tick when served, else here."""
        doc = self._doc
        if doc is None:
            fn()
        elif doc.session_context is not None:
            try:
                doc.add_next_tick_callback(fn)  # the one Document method that is safe from another thread
            except Exception:  # noqa: BLE001 — the browser went away meanwhile: nothing left to update
                return

    def _on_session_destroyed(self, _context: Any) -> None:
        """The browser tab closed: stop a running simulation; nothing is drawn any more."""
        if self._sim_run is not None:
            self._sim_run[0].set()
        self._sim_run = None

    def _sim_progress(self, cancel: threading.Event, done: int, total: int) -> None:
        if self._sim_run is None or self._sim_run[0] is not cancel:
            return  # a run that was replaced or cancelled
        self._progress.value = done
        if not cancel.is_set():
            self._set_sim_status(f"simulating: {done} of {total} N points…")

    def _sim_done(self, cancel: threading.Event, state: ExplorerState, res: SimResult | StateError) -> None:
        if self._sim_run is None or self._sim_run[0] is not cancel:
            return
        self._sim_run = None
        self._progress.visible = False
        self.buttons["simulate"].disabled, self.buttons["cancel"].disabled = False, True
        if isinstance(res, StateError):
            self._set_sim_status("")
            self._show_message(str(res))
            return
        if _sim_key(state) != _sim_key(self.state):  # the settings moved on while it ran
            self._set_sim_status("simulation dropped: the settings changed while it ran")
            return
        self.sim = res
        self._set_sim_status(_sim_text(state, res), res.command)
        self._views.update(self.state, self.result, res.points)
        self._write_points()

    def _set_sim_status(self, text: str, command: str | None = None) -> None:
        """The status line by the button; with ``command``, the simulation's command under the page's own."""
        self._sim_status.object = f'<div data-testid="sim-status"><small>{html.escape(text)}</small></div>'
        self._sim_command.object = ("" if command is None else
                                    "<small>the simulated squares:</small>"
                                    '<pre data-testid="sim-command" style="white-space:pre-wrap;font-size:12px">'
                                    f"{html.escape(command)}</pre>")

    # ------------------------------------------------------------------ downloads
    def download(self, fmt: str = "png") -> bytes:
        """The main figure as it is drawn (with the simulated points), as PNG or PDF bytes."""
        return figure_bytes(self.state, self.result, self.sim.points if self.sim else None, fmt=fmt)

    def _download(self, fmt: str) -> io.BytesIO:
        return io.BytesIO(self.download(fmt))

    # ------------------------------------------------------------------ drawing
    def _draw(self, state: ExplorerState) -> None:
        t0 = time.perf_counter()
        result = curves(state)  # raises StateError before anything on the page changes
        pn = self._pn
        if _sim_key(state) != _sim_key(self.state):  # the simulation no longer describes the page
            if self._sim_run is not None:
                self._sim_run[0].set()
                self._sim_run = None
                self._progress.visible = False
                self.buttons["simulate"].disabled, self.buttons["cancel"].disabled = False, True
                self._set_sim_status("simulation cancelled: the settings changed")
            elif self.sim is not None:
                self._set_sim_status("")
            self.sim = None
        with pn.io.hold():
            if self._views is None or self._views.axis != state.axis:  # a log or a linear y axis
                self._views = Views(state.axis)
                self._risk.object = self._views.risk_fig
                self._path.object = self._views.path_fig
            self._views.update(state, result, self.sim.points if self.sim else [])
            # the factor figure only while σ_t > 0: an empty log axis makes Bokeh warn in the console
            want = self._views.extra_fig if state.sigma_t > 0 else None
            if self._extra.object is not want:
                self._extra.object = want
            self._extra.visible = want is not None
            self._sentences.object = ('<div data-testid="sentences">'
                                      + "".join(f"<p>{html.escape(s)}</p>" for s in result.sentences) + "</div>")
            self._command.object = (f'<pre data-testid="command" style="white-space:pre-wrap;font-size:12px">'
                                    f"{html.escape(result.command)}</pre>")
            self.state, self.result = state, result
            self._write_points()
        if state.signal == "photos" and self.widgets["n"].value != str(state.n):
            self._syncing = True  # the spectrum fixes n: show it, without a redraw of its own
            try:
                self.widgets["n"].value = str(state.n)
            finally:
                self._syncing = False
        if self._sync_url and pn.state.location is not None:
            pn.state.location.search = "?" + to_query(state)
        self.redraw_seconds.append(time.perf_counter() - t0)

    def _write_points(self) -> None:
        """The ``curves`` contract: the data-free points, then the simulated ones."""
        points = self.result.points + (self.sim.points if self.sim else [])
        self._points.object = ("<details><summary>plotted points (JSON)</summary>"
                               f'<pre data-testid="curves" style="white-space:pre-wrap;font-size:11px">'
                               f"{html.escape(json.dumps(points))}</pre>"
                               f'<pre data-testid="path" style="white-space:pre-wrap;font-size:11px">'
                               f"{html.escape(json.dumps(self.result.path))}</pre></details>")


def _control_values(state: ExplorerState) -> dict[str, Any]:
    """Each control's value for ``state`` (text boxes hold text)."""
    return {"n": str(state.n), "d": str(state.d), "alpha": f"{state.alpha:g}", "size": str(state.size),
            "accel": f"{state.accel:g}", "cf": f"{state.center_fraction:g}", "scale": str(state.scale),
            "sigma": f"{state.sigma:g}", "sigma_t": f"{state.sigma_t:g}", "Nmin": str(state.N_min),
            "Nmax": str(state.N_max), "points": str(state.points), "Npath": str(state.N_path),
            "runs": str(state.runs), "seed": str(state.seed), "nval": str(state.nval), "signal": state.signal,
            "task": state.task, "form": state.form, "axis": state.axis, "est": list(state.estimators)}


def _sim_key(state: ExplorerState) -> ExplorerState:
    """The state without the settings a simulation does not depend on (axis, form, the GD path's N)."""
    d = ExplorerState()
    return replace(state, axis=d.axis, form=d.form, N_path=d.N_path)


def _sim_text(state: ExplorerState, res: SimResult) -> str:
    """What the simulated squares are, in words."""
    shown = sorted({p["estimator"] for p in res.points}, key=ESTIMATORS.index)
    if not res.points:
        text = "cancelled before the first N point finished: nothing simulated."
    else:
        head = (f"cancelled: {res.done} of {res.total} N points simulated" if res.cancelled
                else f"simulated all {res.total} N points")
        text = (f"{head} in {res.seconds:.1f} s (Monte Carlo, {state.runs} draws per N, seed {state.seed}; "
                f"squares: mean ± 1 SEM) for {', '.join(LABELS[e] for e in shown)}.")
    if "gd-oracle" in shown:
        text += (" Simulated GD at k_opt stops each training set at its own best k (an oracle per draw): a little "
                 "below one k for the expected risk (the random-matrix curve); the large-N law is optimistic "
                 "where N is not ≫ n.")
    for name, why in res.not_simulated.items():
        text += f" {LABELS[name]} is not simulated: {why}."
    return text


# ---------------------------------------------------------------------------------------- serving
def port_in_use(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be bound (another server listens there)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve(host: str = "127.0.0.1", port: int = 5006, open_browser: bool = True) -> int:
    """Serve the explorer until Ctrl-C or SIGTERM; print ``explorer: http://HOST:PORT/`` first.

    Args:
        host: the address to bind (127.0.0.1 unless another is asked for). port: 0 picks a free one.
        open_browser: open the page in the default browser.

    Returns:
        0 after a clean stop (one line, ``explorer: stopped``).

    Raises:
        OSError: the port is in use (the CLI turns it into one line and exit code 2).
    """
    pn = _panel()
    import logging

    if port == 0:
        port = _free_port(host)
    if port_in_use(host, port):
        raise OSError(f"port {port} on {host} is in use: choose another --port")
    # Bokeh logs each refused websocket origin and session at INFO/WARNING; the page says what matters.
    logging.getLogger("bokeh").setLevel(logging.ERROR)
    logging.getLogger("tornado.access").setLevel(logging.ERROR)

    def app():
        return Explorer(pn.state.location.search if pn.state.location is not None else "", sync_url=True).layout

    origins = sorted({f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"})
    server = pn.serve(app, port=port, address=host, websocket_origin=origins, show=False, start=False,
                      title="reconscale explorer", verbose=False)
    url = f"http://{host}:{port}/"
    loop = server.io_loop
    stopped: list[str] = []

    def shutdown() -> None:
        if not stopped:
            stopped.append("x")
            print("explorer: stopped", flush=True)
            server.stop()
            loop.stop()

    def on_signal(signum: int, _frame: Any) -> None:
        loop.asyncio_loop.call_soon_threadsafe(shutdown)  # safe from a signal handler, unlike stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    print(f"explorer: {url}", flush=True)
    if open_browser:
        import webbrowser

        loop.add_callback(lambda: webbrowser.open(url))
    loop.start()
    return 0


def explore_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale explore [--host H] [--port P] [--no-browser]``; returns the exit code."""
    from theory.infra.command import Parser, UsageError, run_command

    argv = list(sys.argv[1:] if argv is None else argv)
    prog = "reconscale explore"

    def body() -> int:
        p = Parser(prog=prog, description="The live explorer of the data-free theory, in the browser.")
        p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
        p.add_argument("--port", type=int, default=5006, help="port (default 5006; 0: any free port)")
        p.add_argument("--no-browser", action="store_true", help="do not open a browser")
        a = p.parse_args(argv)
        if not 0 <= a.port <= 65535:
            raise UsageError(f"--port {a.port}: choose 0 ≤ port ≤ 65535")
        try:
            _panel()
        except ImportError as e:
            raise UsageError(str(e)) from None
        if a.port and port_in_use(a.host, a.port):
            raise UsageError(f"--port {a.port}: the port is in use on {a.host}; choose another --port (0: any free)")
        try:
            return serve(a.host, a.port, not a.no_browser)
        except OSError as e:  # lost a race for the port between the check and the bind
            if e.errno == errno.EADDRINUSE or "in use" in str(e):
                raise UsageError(f"--port {a.port}: the port is in use on {a.host}; choose another --port") from None
            raise

    return run_command(prog, body, resume_hint="the explorer stopped")
