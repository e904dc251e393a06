"""Import boundaries of the design card: theory and bridge never load torch; heavy imports stay lazy."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_theory_imports_without_torch():
    # make `import torch` fail outright, as on a machine without it
    r = _run("import sys; sys.modules['torch'] = None\nimport theory, theory.cli, bridge.cli, bridge.demo, bridge.plot\n"
             "from bridge.cli import main\nassert main(['fit', 'missing.csv']) == 2\nprint('ok')")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


@pytest.mark.parametrize("module", ["theory", "bridge", "bridge.cli", "theory.cli", "theory.symbolic", "bridge.laws",
                                    "bridge.uncertainty", "bridge.joint", "bridge.results", "bridge.compare",
                                    "bridge.report", "bridge.figures", "bridge.demo"])
def test_heavy_imports_are_lazy(module):
    r = _run(f"import sys, {module}\nheavy = [m for m in ('torch', 'cupy', 'sympy', 'matplotlib', 'ray') if m in sys.modules]\nprint(heavy)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_no_torch_in_theory_or_bridge_sources():
    import re

    banned = re.compile(r"^\s*(import|from)\s+(torch|empirical)\b", re.MULTILINE)
    for pkg in ("theory", "bridge"):
        for path in (ROOT / pkg).rglob("*.py"):
            assert not banned.search(path.read_text()), path


def test_public_api_is_explicit():
    import empirical
    import theory

    import bridge

    for pkg in (theory, empirical, bridge):
        assert all(hasattr(pkg, name) for name in pkg.__all__)
        assert len(set(pkg.__all__)) == len(pkg.__all__)


def test_empirical_never_loads_plotting_or_ray():
    r = _run("import sys, empirical, empirical.cli\nprint([m for m in ('matplotlib', 'ray', 'cupy') if m in sys.modules])")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
