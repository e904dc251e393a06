"""The explorer's model (no browser): URL state in and out, one-line refusals, and the page's numbers
equal to those of the command it shows (run in-process through ``bridge.cli.main``); the photos'
spectrum, the simulation (its numbers, progress and cancel) and the figure downloads."""

from __future__ import annotations

import json
import shlex
import socket
import threading
from dataclasses import replace

import numpy as np
import pytest

from bridge.cli import main
from bridge.explore_curves import (
    command,
    curves,
    photo_spectrum,
    photo_spectrum_file,
    problem,
    slowdown,
)
from bridge.explore_figure import draw_figure
from bridge.explore_sim import check_simulation, sim_estimators, simulate
from bridge.explore_state import (
    DATA_FREE,
    FORMS,
    PHOTO_SIZES,
    ExplorerState,
    StateError,
    parse_query,
    to_query,
)
from tests.helpers import cli_one_line, one_line


def _cli_rows(cmd: str, capsys) -> list[dict]:
    argv = shlex.split(cmd)
    assert argv[0] == "reconscale"
    capsys.readouterr()
    assert main(argv[1:]) == 0
    return json.loads(capsys.readouterr().out)


def _assert_same_numbers(state: ExplorerState, capsys) -> None:
    result = curves(state)
    rows = _cli_rows(result.command, capsys)
    shown = [e for e in state.estimators if e in DATA_FREE]
    assert {p["estimator"] for p in result.points} == set(shown)
    for p in result.points:
        # ridge: one row per λ of the grid; the page shows the best of them
        cli = min(r["risk_mean"] for r in rows if r["estimator"] == p["estimator"] and r["N"] == p["N"])
        assert p["risk"] == pytest.approx(cli, rel=1e-6), p
        assert p["psnr"] == pytest.approx(-10 * np.log10(cli), rel=1e-6)
    if "gd-oracle" in shown:
        for r in rows:
            if r["estimator"] == "gd-oracle":
                assert result.k_opt[r["N"]] == pytest.approx(r["k_opt_mean"])
    floor = [r["floor"] for r in rows]
    assert result.floor == pytest.approx(floor[0], rel=1e-9)


@pytest.mark.parametrize("query", [
    "n=100&d=10&sigma=0.1&points=12",
    "n=64&d=8&task=mri&accel=4&cf=0.08&points=6&Nmax=10000",  # 8 signal-basis draws
    "signal=powerlaw&n=64&alpha=1.5&task=sr&scale=2&sigma_t=0.2&points=6",
    "n=100&d=20&sigma=0.3&est=optimal,ols,pca&Nmin=200&Nmax=5000&points=5",
    "signal=powerlaw&n=256&alpha=1&sigma=0.05&points=8&Npath=30",  # 256 distinct eigenvalues
    "signal=powerlaw&n=100&alpha=0.5&task=mri&accel=2&cf=0.2&sigma=0.2&points=6",
    "n=100&d=5&task=sr&scale=5&sigma=0.02&sigma_t=0.5&points=8&Nmin=2",
    "signal=photos&size=8&sigma=0.05&sigma_t=0.1&points=8",  # `theory curve --signal spectrum --spectrum FILE`
])
def test_page_numbers_equal_the_commands_json(query, capsys):
    _assert_same_numbers(parse_query(query), capsys)


def test_random_matrix_form_equals_the_command(capsys):
    state = parse_query("form=asymptotic&n=100&d=10&sigma=0.2&est=optimal,ols,ridge&Nmin=400&Nmax=3000&points=4&Npath=400")
    _assert_same_numbers(state, capsys)
    assert "--method asymptotic" in curves(state).command


def test_state_round_trips_through_the_url():
    for q in ["", "signal=powerlaw&n=256&alpha=0.5&task=sr&scale=4&sigma=0.05&axis=psnr",
              "task=mri&n=1024&accel=8&cf=0.04&sigma_t=0.1&est=gd-oracle,ols&Nmin=3&Nmax=7000&points=9&Npath=77",
              "signal=photos&size=32&est=pca,gd-val&runs=7&seed=3&nval=40"]:
        s = parse_query(q)
        assert parse_query(to_query(s)) == s
        assert parse_query("?" + to_query(s)) == s
    assert parse_query({"n": ["50"], "d": "5"}) == ExplorerState(n=50, d=5)
    assert parse_query("sigma=0.25", base=ExplorerState(n=50, d=5)) == ExplorerState(n=50, d=5, sigma=0.25)


@pytest.mark.parametrize("query, expected", [
    ("n=100&d=200", "d=200 ≥ n=100: choose 1 ≤ d < n"),
    ("sigma=0&form=asymptotic", "sigma=0 with the random-matrix form: choose sigma > 0 or form=large-n"),
    ("sigma=-0.1", "sigma=-0.1"),
    ("sigma=0", "sigma=0: noise-free data have a zero floor"),
    ("n=abc", "n='abc' is not a whole number"),
    ("sigma=lots", "sigma='lots' is not a number"),
    ("sigma=nan", "not a finite number"),
    ("colour=red", "unknown setting 'colour'"),
    ("task=mri&n=99", "needs a square image"),
    ("task=sr&n=100&scale=3", "must divide the image side 10"),
    ("est=", "est is empty"),
    ("est=magic", "est='magic' is not a choice"),
    ("Nmin=100&Nmax=10", "choose 1 ≤ Nmin < Nmax"),
    ("axis=sideways", "axis='sideways'"),
    ("form=asymptotic&points=16", "points=16 with the random-matrix form (seconds per N): choose points ≤ 8"),
    ("signal=photos&size=12", "size=12: the photos' spectrum is shipped for crops of side 8, 16, 32"),
    ("signal=photos&task=mri", "task=mri with signal=photos: the shipped photo spectra hold eigenvalues only"),
    ("runs=1", "runs=1: choose 2 ≤ runs ≤ 200"),
    ("nval=0", "nval=0: choose 1 ≤ nval"),
])
def test_bad_settings_are_one_line(query, expected):
    with pytest.raises(StateError) as info:
        parse_query(query)
    one_line(info, expected)


def test_data_free_form_refusal_is_one_line():
    """A setting the random-matrix form cannot evaluate is a StateError (a message), not a crash."""
    state = parse_query("form=asymptotic&n=100&d=10&sigma=0.1&est=ols&Nmin=100&Nmax=101&points=4&Npath=400")
    with pytest.raises(StateError) as info:
        curves(state)
    one_line(info, "asymptotic form:")


def test_slowdown_marker_in_words():
    N = np.geomspace(10, 1e6, 41)
    risk = 0.01 + 1.0 / N  # gain per doubling falls below 0.1 dB near N ≈ 2,200
    n_star, text = slowdown(N, risk)
    gain = lambda n: 10 * np.log10((0.01 + 1 / n) / (0.01 + 1 / (2 * n)))  # noqa: E731
    assert gain(n_star) < 0.1 < gain(n_star / 1.6)
    assert text.startswith("beyond N ≈ ") and text.endswith("each doubling gains < 0.1 dB")
    n_star, text = slowdown(N[:10], risk[:10])  # still steep at the end of the range
    assert n_star is None and text.startswith("not identified") and "raise Nmax" in text


def test_sentences_explain_floor_and_learning_error():
    r = curves(parse_query("n=100&d=10&sigma=0.1&sigma_t=0.2&est=optimal,gd-oracle,pca"))
    text = " ".join(r.sentences)
    assert "floor R*" in text and "learning error" in text and "doubling" in text
    assert "W_PCA is not shown" in text and "noisy targets" in text
    assert r.extra and any(row["identified"] for row in r.extra)
    assert r.path["k_opt"] >= 1 and r.path["risk_opt"] >= r.floor
    assert command(r.__class__ and parse_query("")) == curves(parse_query("")).command


def test_explorer_layout_keeps_the_plot_on_bad_input():
    pytest.importorskip("panel", reason="the explore extra is not installed")
    from bridge.explore import Explorer

    ex = Explorer("n=100&d=10&sigma=0.2&points=6")
    before = ex.result.points_json()
    ex.widgets["d"].value = "200"
    assert ex.message == "d=200 ≥ n=100: choose 1 ≤ d < n"
    assert ex.result.points_json() == before and ex.state.d == 10
    ex.widgets["d"].value = "20"
    assert ex.message == "" and ex.state.d == 20 and ex.result.points_json() != before
    ex.widgets["n"].value = "ten"
    assert ex.message == "n='ten' is not a whole number: e.g. n=100"
    ex2 = Explorer("d=oops")  # a bad link: its line, and the default state drawn
    assert ex2.message.startswith("d='oops'") and ex2.state == ExplorerState()
    # a link that parses but that the random-matrix form cannot evaluate (least squares at N ≈ n)
    ex3 = Explorer("form=asymptotic&n=100&d=10&sigma=0.1&est=ols&Nmin=100&Nmax=101&points=4&Npath=400")
    assert ex3.message.startswith("asymptotic form:") and ex3.state == ExplorerState()
    one_line(ex3.message)


def test_explore_command_refuses_a_port_in_use(capsys):
    pytest.importorskip("panel", reason="the explore extra is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        code = main(["explore", "--no-browser", "--port", str(port)])
    cli_one_line(code, capsys.readouterr().err, f"--port {port}", "in use")


def test_latency_benchmark_quick(tmp_path):
    """benchmarks/explore_latency.py --quick runs as a user runs it and reports finite latencies."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "latency.json"
    r = subprocess.run([sys.executable, str(root / "benchmarks" / "explore_latency.py"), "--quick", "--json", str(out)],
                       capture_output=True, text=True, cwd=root, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    for row in res["model"].values():
        assert row["count"] >= 3 and 0 < row["median_ms"] <= row["p90_ms"] <= row["max_ms"]
    assert "model: redraw latency per control change (ms)" in r.stdout


def test_explorer_modules_import_without_panel():
    """bridge.explore loads Panel only when an explorer is built; the model needs numpy alone."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; sys.modules['panel'] = None; sys.modules['bokeh'] = None\n"
            "import bridge, bridge.cli, bridge.explore, bridge.explore_state, bridge.explore_curves\n"
            "import bridge.explore_sim, bridge.explore_figure\n"
            "from bridge.explore import Explorer\n"
            "try:\n    Explorer()\nexcept ImportError as e:\n    print(e)\n"
            "print([m for m in ('torch', 'matplotlib', 'panel', 'bokeh') if sys.modules.get(m)])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["the explorer needs Panel: pip install 'reconscale[explore]'", "[]"]


def test_explorer_displays_in_a_notebook():
    """`from bridge.explore import Explorer; Explorer()` in a Jupyter kernel renders the Panel layout
    (the extension is loaded for the user) and its controls redraw in the kernel."""
    pytest.importorskip("panel", reason="the explore extra is not installed")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from pathlib import Path

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from bridge.explore import Explorer\nex = Explorer('n=64&d=8')\nex"),
                nbformat.v4.new_code_cell("ex.widgets['sigma'].value = '0.3'\nprint(ex.message == '', ex.state.sigma)")]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(__file__).resolve().parents[2])}}).execute()
    shown = [o for o in nb.cells[0].outputs if o["output_type"] == "execute_result"]
    assert shown and "application/vnd.holoviews_exec.v0+json" in shown[0]["data"], nb.cells[0].outputs
    assert not any(o.get("name") == "stderr" and "extension" in o.get("text", "") for o in nb.cells[0].outputs)
    assert nb.cells[1].outputs[0]["text"] == "True 0.3\n"


# ------------------------------------------------------------------ the photos' spectrum
def test_photo_spectra_ship_small_and_load_without_the_network(monkeypatch):
    """The three files are package data next to bridge/, small, and read with numpy alone."""
    def no_network(*args, **kwargs):
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    photo_spectrum.cache_clear()
    total = 0
    for size in PHOTO_SIZES:
        path = photo_spectrum_file(size)
        assert path.parent.name == "data" and path.parent.parent.name == "bridge"
        total += path.stat().st_size
        sp = photo_spectrum(size)
        assert sp.n == size * size and sp.shape == (size, size)
        mu = sp.mu
        assert np.all(mu >= 0) and np.all(np.diff(mu) <= 0)  # descending eigenvalues of E[x xᵀ]
        # mean pixel² of grey photos in [0, 1]; the leading direction (the mean brightness) carries most
        assert 0.05 < mu.sum() / mu.size < 0.5 and mu[0] / mu.sum() > 0.5
    assert total < 2_000_000
    # the command names the very file the page reads
    state = parse_query("signal=photos&size=16")
    result = curves(state)
    assert state.n == 256 and f"--spectrum {photo_spectrum_file(16)}" in result.command
    # and the page draws that spectrum: its floor is the data model's R(W*) of the same eigenvalues
    from theory import DataModel

    assert result.floor == pytest.approx(DataModel(photo_spectrum(16), state.sigma).floor_Q, rel=1e-9)


def test_photos_curve_equals_the_data_spectrum_theory(capsys):
    """The random-matrix form of a photos state is the data-spectrum equivalent (theory.data_asymptotics) run
    by its command; its twin, theory.rmt_curve of the same eigenvalues (another contour, another k search),
    gives the same GD at k_opt; and at large N it meets the large-N law."""
    from theory import expected_risk

    state = parse_query("signal=photos&size=8&sigma=0.1&form=asymptotic&est=optimal,gd-oracle,ridge,ols"
                        "&Nmin=30&Nmax=4000&points=4&Npath=1000")
    _assert_same_numbers(state, capsys)
    got = curves(state)
    gd = {p["N"]: p["risk"] for p in got.points if p["estimator"] == "gd-oracle"}
    Ns = sorted(gd)[::3]  # N = 30 and 4,000 (the twin's k search takes ~1 s per N)
    (twin,) = expected_risk(problem(state), Ns, ["gd-oracle"], method="asymptotic", runs=1,
                            rng=np.random.default_rng(0))
    for j, N in enumerate(Ns):
        assert gd[N] == pytest.approx(twin.mean[j, 0], rel=1e-6)
        assert abs(got.k_opt[N] - twin.k_opt[0, j]) <= 1  # the same integer, or its neighbour on a flat minimum
    assert got.floor == pytest.approx(twin.floor[0, 0], rel=1e-12)
    far = {f: curves(replace(state, form=f, N_min=10**5, N_max=10**6, points=4, N_path=10**5)) for f in FORMS}
    for a, b in zip(far["asymptotic"].points, far["large-n"].points):
        assert a["N"] == b["N"] and a["risk"] == pytest.approx(b["risk"], rel=2e-3)  # learning error ~ n/N


def test_photos_simulation_matches_data_with_the_photos_eigenvectors():
    """Only the eigenvalues are shipped because denoising does not see the basis: Monte Carlo of the page
    (identity basis) against Monte Carlo of x = V diag(√μ) c in a random orthonormal basis V (the data
    model's own sampler), within 4 combined standard errors."""
    from theory.datamodel import DataModel, DataSpectrum, data_expected_risk
    from theory.signals import random_orthonormal

    state = parse_query("signal=photos&size=8&sigma=0.1&est=gd-oracle,ols&Nmin=32&Nmax=400&points=4&runs=40&seed=1")
    page = {(p["estimator"], p["N"]): p for p in simulate(state).points}
    mu = photo_spectrum(8).mu
    rotated = DataSpectrum(mu, V=random_orthonormal(64, 64, rng=np.random.default_rng(5)))
    ests, _ = sim_estimators(state)
    Ns = sorted({N for _, N in page})
    for c in data_expected_risk(DataModel(rotated, 0.1), Ns, ests, method="montecarlo", runs=40,
                                rng=np.random.default_rng(2)):
        for j, N in enumerate(Ns):
            p = page[(c.estimator.name, N)]
            assert abs(p["risk"] - c.mean[j, 0]) < 4 * np.hypot(p["sem"], c.sem[j, 0]), (p, c.mean[j, 0])


def test_spectrum_option_of_theory_curve_refuses_in_one_line(capsys, tmp_path):
    path = photo_spectrum_file(8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, other=np.ones(3))
    for argv, expected in [
        (["--signal", "spectrum", "--n", "64"], "--signal spectrum needs --spectrum FILE.npz"),
        (["--signal", "spectrum", "--spectrum", str(path), "--n", "100"], "holds 64 eigenvalues but --n is 100"),
        (["--signal", "spectrum", "--spectrum", str(path), "--n", "64", "--operator", "mri"], "denoising only"),
        (["--spectrum", str(path), "--n", "64"], "--spectrum is for --signal spectrum"),
        (["--signal", "spectrum", "--spectrum", str(bad), "--n", "3"], "not an .npz file with the eigenvalues P_mu"),
        (["--signal", "spectrum", "--spectrum", str(tmp_path / "none.npz")], "not an .npz file"),
    ]:
        code = main(["theory", "curve", "--method", "large-n", "--estimator", "optimal", "--quiet", *argv])
        cli_one_line(code, capsys.readouterr().err, expected)


# ------------------------------------------------------------------ check with simulation
SIM_QUERY = "n=20&d=4&sigma=0.2&Nmin=5&Nmax=200&points=4&runs=6&seed=3&nval=10&est=optimal,gd-oracle,ridge,ols,pca,gd-val"


def test_simulation_equals_expected_risk_and_its_command(capsys):
    """Point by point with progress, the simulation gives the numbers of one expected_risk call over the
    grid with the same seed, and of the command it prints."""
    from theory import expected_risk

    state = parse_query(SIM_QUERY)
    seen = []
    res = simulate(state, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)] and not res.cancelled and res.done == res.total == 4
    ests, skipped = sim_estimators(state)
    assert not skipped and [e.name for e in ests] == list(state.estimators)
    Ns = sorted({p["N"] for p in res.points})
    ref = expected_risk(problem(state), Ns, ests, method="montecarlo", runs=6, rng=np.random.default_rng(3))
    rows = _cli_rows(res.command, capsys)
    assert "--method montecarlo" in res.command and "--runs 6 --seed 3" in res.command
    for p in res.points:
        c = next(c for c in ref if c.estimator.name == p["estimator"])
        j = Ns.index(p["N"])
        t = int(np.argmin(c.mean[j]))  # ridge: the best λ of the grid
        assert p["simulated"] and p["risk"] == pytest.approx(c.mean[j, t], rel=1e-12)
        assert p["sem"] == pytest.approx(c.sem[j, t], rel=1e-9)
        cli = [r for r in rows if r["estimator"] == p["estimator"] and r["N"] == p["N"]]
        assert p["risk"] == pytest.approx(min(r["risk_mean"] for r in cli), rel=1e-9)


def test_cancel_stops_the_simulation_between_N_points():
    state = parse_query(SIM_QUERY)
    cancel = threading.Event()
    res = simulate(state, cancel=cancel, progress=lambda done, total: cancel.set())
    assert res.cancelled and res.done == 1 and res.total == 4
    assert {p["N"] for p in res.points} == {5} and len(res.points) == 6


def test_simulation_refuses_what_would_take_minutes():
    with pytest.raises(StateError) as info:
        check_simulation(parse_query("n=1024&d=100"))  # N up to 100,000 at n = 1024
    one_line(info, "simulation: about", "(limit 60 s); lower Nmax, points, runs or n")
    with pytest.raises(StateError) as info:
        check_simulation(parse_query("signal=photos&size=8&est=pca"))
    one_line(info, "W_PCA", "subspace signal with denoising only")


def test_explorer_simulates_in_the_background_and_downloads_the_figure():
    pytest.importorskip("panel", reason="the explore extra is not installed")
    from bridge.explore import Explorer

    ex = Explorer(SIM_QUERY)
    before = ex.result.points_json()
    thread = ex.check_with_simulation()
    thread.join(60)
    assert ex.sim is not None and not ex.sim.cancelled and ex.message == ""
    shown = json.loads(ex._points.object.split('data-testid="curves"')[1].split(">", 1)[1].split("</pre>")[0]
                       .replace("&quot;", '"'))
    assert [p for p in shown if not p["simulated"]] == json.loads(before)
    assert [p for p in shown if p["simulated"]] == ex.sim.points
    png, pdf = ex.download("png"), ex.download("pdf")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and pdf.startswith(b"%PDF-")
    # what the file shows: every curve and every simulated square, at its numbers
    lines = {ln.get_gid(): ln for ln in draw_figure(ex.state, ex.result, ex.sim.points).axes[0].get_lines()}
    for name in ex.state.estimators:
        sim = [p for p in ex.sim.points if p["estimator"] == name]
        assert list(lines[f"explore-sim-{name}"].get_ydata()) == [p["risk"] for p in sim]
        if name in DATA_FREE:
            assert list(lines[f"explore-{name}"].get_ydata()) == [p["risk"] for p in ex.result.points
                                                                   if p["estimator"] == name]
    with pytest.raises(ValueError) as info:
        ex.download("svg")
    one_line(info, "fmt='svg': choose one of png, pdf")
    ex.widgets["axis"].value = "psnr"  # the simulation does not depend on the axis: kept
    assert ex.sim is not None
    ex.widgets["sigma"].value = "0.3"  # it depends on σ: dropped
    assert ex.sim is None and ex.message == ""
    thread = ex.check_with_simulation()
    ex.cancel_simulation()
    thread.join(60)
    assert ex.sim is not None and ex.sim.cancelled and ex.sim.done < ex.sim.total
    ex.widgets["n"].value, ex.widgets["d"].value = "1024", "100"
    ex.widgets["Nmax"].value = "100000"
    assert ex.check_with_simulation() is None and ex.message.startswith("simulation: about")
