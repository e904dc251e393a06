"""Screenshots of the explorer for the docs: ``python docs/screenshots.py`` (writes docs/_static/*.png).

Starts ``reconscale explore`` on a free port, opens a few states (URL queries built by
:func:`bridge.explore_model.to_query`, so they are states the explorer accepts) in headless Chromium
through selenium and Debian's chromedriver (as ``tests/browser/test_explorer_browser.py`` does;
nothing downloads a browser), waits until Bokeh has drawn, and saves each page as a palette PNG
(< 300 KB). Needs the ``explore`` extra, ``chromium`` and ``chromium-driver``; run it by hand after
the explorer's look changes and commit the PNGs (the docs build only shows them).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.explore_model import ExplorerState, to_query  # after the path above

OUT = ROOT / "docs" / "_static"
WINDOW = (1400, 1250)  # CSS pixels; the PNG is scaled to WIDTH
WIDTH = 1100
MAX_BYTES = 300_000
DEFAULT = ExplorerState()
SHOTS = {  # file name -> the state shown
    "explorer.png": DEFAULT,
    "explorer-noisy-targets.png": replace(DEFAULT, sigma_t=0.1, axis="psnr"),
    "explorer-mri.png": replace(DEFAULT, n=256, d=20, task="mri", estimators=("optimal", "gd-oracle", "ols")),
}
# Every Bokeh document of the page exists and has no pending work (layout and drawing done).
BOKEH_IDLE = "return !!window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents.every(d => d.is_idle)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_explorer(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "explore", "--no-browser", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the explorer did not answer at {url} within a minute")


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if chromium is None or not Path(driver).exists():
        raise SystemExit("screenshots need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--user-data-dir={profile}", "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.binary_location = chromium
    return webdriver.Chrome(service=Service(driver), options=opts)


def small_png(png: bytes) -> bytes:
    """Scaled to WIDTH and stored with a 256-colour palette: a UI screenshot loses nothing visible."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    img = img.resize((WIDTH, round(img.height * WIDTH / img.width)), Image.LANCZOS)
    buf = io.BytesIO()
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT, help=f"folder for the PNGs (default {OUT.relative_to(ROOT)})")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = start_explorer(port)
    try:
        d = browser(a.out / ".chromium-profile")
        try:
            for name, state in SHOTS.items():
                d.get(f"http://127.0.0.1:{port}/?{to_query(state)}")
                end = time.time() + 60
                while not d.execute_script(BOKEH_IDLE):
                    if time.time() > end:
                        raise SystemExit(f"{name}: the page did not finish drawing within a minute")
                    time.sleep(0.2)
                time.sleep(1.5)  # web fonts and the last canvas paint after Bokeh reports idle
                data = small_png(d.get_screenshot_as_png())
                if len(data) > MAX_BYTES:
                    raise SystemExit(f"{name}: {len(data)} bytes > {MAX_BYTES}; lower WIDTH or WINDOW")
                (a.out / name).write_bytes(data)
                print(f"wrote {a.out / name} ({len(data) // 1000} KB)")
        finally:
            d.quit()
            shutil.rmtree(a.out / ".chromium-profile", ignore_errors=True)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
