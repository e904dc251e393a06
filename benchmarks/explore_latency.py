"""Redraw latency of ``reconscale explore``: how long one control change takes, as a distribution.

What is measured
----------------
1. **model** — :func:`bridge.explore_curves.curves` for a walk of single-control changes (σ, d, α or the
   photos' crop size, σ_t, N range, estimators, axis) at n = 100, 256 and 1024, subspace and power-law
   signals, denoising, MRI and SR, and the photos' spectrum (denoising) at 8×8, 16×16 and 32×32
   (n = 64, 256, 1024), with the model's caches as the page has them (a change of σ or the signal
   refactorises the populations; a change of the N range or the axis does not). The large-N form,
   which the page uses by default.
2. **page (server side)** — the same walk through :class:`bridge.explore.Explorer` (Panel, no browser):
   the model plus building the Bokeh figures and page text (``Explorer.redraw_seconds``).
3. **startup** — from starting ``python -m bridge.cli explore --no-browser`` to the first HTTP 200.
4. **browser round trip** (``--browser``, needs chromium + chromedriver + selenium) — from pressing
   Enter in the σ box of headless Chromium to the new ``curves`` JSON in the page.

Target of the issue: median redraw ≤ 300 ms at n ≤ 1024, startup ≤ 5 s. Numbers depend on the
machine and its load; run it on an idle one (``OMP_NUM_THREADS=1`` is what the page's server uses
unless you set otherwise).

Usage: ``python benchmarks/explore_latency.py [--quick] [--browser] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.explore_curves import _bases, _curves, _populations, curves  # noqa: E402
from bridge.explore_state import PHOTO_SIZES, ExplorerState, parse_query, to_query  # noqa: E402


def _walk(n: int, signal: str, task: str, quick: bool) -> list[ExplorerState]:
    """Single-control changes from a starting state (each differs from the one before in one setting)."""
    size = math.isqrt(n)
    s = ExplorerState(n=n, d=max(1, n // 10), signal=signal, task=task, points=16, size=size)
    steps = [{"sigma": 0.2}, {"sigma": 0.05}, {"N_max": 30000}, {"axis": "psnr"}, {"sigma_t": 0.1},
             {"estimators": ("optimal", "gd-oracle", "ols")}, {"N_min": 30}, {"sigma": 0.15}]
    if signal == "powerlaw":
        steps += [{"alpha": 1.5}, {"alpha": 0.7}]
    elif signal == "photos":  # another crop size (a new spectrum: its SVD once), then back (cached)
        steps += [{"size": 8 if size != 8 else 16}, {"size": size}]
    else:
        steps += [{"d": max(1, n // 5)}, {"d": max(1, n // 20)}]
    if quick:
        steps = steps[:3]
    out = [s]
    for st in steps:
        s = replace(s, **st)
        out.append(s)
    return out


def _settings(quick: bool) -> list[tuple[int, str, str]]:
    if quick:
        return [(100, "subspace", "denoise"), (64, "subspace", "mri"), (256, "photos", "denoise")]
    return ([(n, sig, task) for n in (100, 256, 1024) for sig in ("subspace", "powerlaw")
             for task in ("denoise", "mri", "sr")] + [(h * h, "photos", "denoise") for h in PHOTO_SIZES])


def _summary(xs: list[float]) -> dict:
    xs = sorted(xs)
    q = lambda p: xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]  # noqa: E731
    return {"count": len(xs), "median_ms": 1e3 * statistics.median(xs), "p90_ms": 1e3 * q(0.9), "max_ms": 1e3 * xs[-1]}


def _model(quick: bool) -> dict:
    rows = {}
    for n, sig, task in _settings(quick):
        for cache in (_curves, _populations, _bases):
            cache.cache_clear()
        times = []
        for s in _walk(n, sig, task, quick)[1:] if not quick else _walk(n, sig, task, quick):
            t = time.perf_counter()
            curves(s)
            times.append(time.perf_counter() - t)
        rows[f"n={n} {sig} {task}"] = _summary(times)
    return rows


def _page(quick: bool) -> dict:
    try:
        from bridge.explore import Explorer
    except ImportError:
        return {"skipped": "panel not installed (pip install 'reconscale[explore]')"}
    rows = {}
    for n, sig, task in _settings(quick):
        for cache in (_curves, _populations, _bases):
            cache.cache_clear()
        walk = _walk(n, sig, task, quick)
        ex = Explorer(to_query(walk[0]))
        ex.redraw_seconds.clear()
        for s in walk[1:]:
            ex.set_query(to_query(s))
        rows[f"n={n} {sig} {task}"] = _summary(ex.redraw_seconds) if ex.redraw_seconds else {"error": ex.message}
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server() -> tuple[subprocess.Popen, str, float]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "explore", "--no-browser", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t0 > 60:
                raise RuntimeError("the explorer did not start") from None
            time.sleep(0.05)
    return proc, url, time.perf_counter() - t0


def _browser(url: str, quick: bool) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys

    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from test_explorer_browser import DEEP_INPUT, DEEP_TEXT  # the page contract's own selectors

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        rows = {}
        for n in (100, 1024):
            d.get(url + "?" + to_query(parse_query(f"n={n}&d={n // 10}")))
            text = lambda: (d.execute_script(DEEP_TEXT, '[data-testid="curves"]') or [None])[0]  # noqa: E731
            while not text():
                time.sleep(0.02)
            times = []
            for sigma in ([0.2, 0.3] if quick else [0.2, 0.3, 0.05, 0.15, 0.25, 0.12, 0.08, 0.4]):
                before = text()
                box = d.execute_script(DEEP_INPUT, "σ (noise)")
                old = box.get_attribute("value") or ""  # backspaces, not clear(): that would commit ""
                t = time.perf_counter()
                box.send_keys(Keys.END + Keys.BACKSPACE * len(old) + f"{sigma}" + Keys.ENTER)
                while text() == before:
                    time.sleep(0.005)
                times.append(time.perf_counter() - t)
            rows[f"n={n} subspace denoise, σ changed"] = _summary(times)
        return rows
    finally:
        d.quit()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few states only (smoke test)")
    p.add_argument("--browser", action="store_true", help="also the browser round trip (headless Chromium)")
    p.add_argument("--json", default=None, help="write the numbers to this file")
    a = p.parse_args(argv)
    res: dict = {"quick": a.quick, "threads": os.environ.get("OMP_NUM_THREADS", "unset")}
    res["model"] = _model(a.quick)
    res["page"] = _page(a.quick)
    if not a.quick or a.browser:
        proc, url, started = _start_server()
        res["startup_s"] = started
        try:
            res["browser"] = _browser(url, a.quick) if a.browser else None
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
    for part in ("model", "page", "browser"):
        if not res.get(part):
            continue
        print(f"{part}: redraw latency per control change (ms)")
        for k, v in res[part].items():
            line = "  ".join(f"{key} {val:.0f}" if isinstance(val, float) else f"{key} {val}" for key, val in v.items())
            print(f"  {k:<28} {line}")
    if "startup_s" in res:
        print(f"startup: {res['startup_s']:.2f} s to the first HTTP 200")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
