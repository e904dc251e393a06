"""The explorer's model (no browser): URL state in and out, one-line refusals, and the page's numbers
equal to those of the command it shows (run in-process through ``bridge.cli.main``)."""

from __future__ import annotations

import json
import shlex
import socket

import numpy as np
import pytest

from bridge.cli import main
from bridge.explore_curves import command, curves, slowdown
from bridge.explore_state import (
    DATA_FREE,
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
])
def test_page_numbers_equal_the_commands_json(query, capsys):
    _assert_same_numbers(parse_query(query), capsys)


def test_random_matrix_form_equals_the_command(capsys):
    state = parse_query("form=asymptotic&n=100&d=10&sigma=0.2&est=optimal,ols,ridge&Nmin=400&Nmax=3000&points=4&Npath=400")
    _assert_same_numbers(state, capsys)
    assert "--method asymptotic" in curves(state).command


def test_state_round_trips_through_the_url():
    for q in ["", "signal=powerlaw&n=256&alpha=0.5&task=sr&scale=4&sigma=0.05&axis=psnr",
              "task=mri&n=1024&accel=8&cf=0.04&sigma_t=0.1&est=gd-oracle,ols&Nmin=3&Nmax=7000&points=9&Npath=77"]:
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
