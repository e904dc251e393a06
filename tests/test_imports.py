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
    """theory imports nothing of the project's other packages; bridge only the torch-free ledger
    (the one home of its schema)."""
    import re

    banned = {"theory": re.compile(r"^\s*(import|from)\s+(torch|empirical|bridge)\b", re.MULTILINE),
              "bridge": re.compile(r"^\s*(import|from)\s+(torch\b|empirical(?!\.ledger\b))", re.MULTILINE)}
    for pkg, pattern in banned.items():
        for path in (ROOT / pkg).rglob("*.py"):
            assert not pattern.search(path.read_text()), path


def test_the_ledger_and_reading_it_need_no_torch(tmp_path):
    """`import empirical` used to load torch, so bridge re-typed the ledger's schema."""
    r = _run("import sys; sys.modules['torch'] = None\n"
             "from empirical.ledger import Ledger, Row\nfrom empirical.config import expand, DEFAULTS\n"
             "import empirical\nfrom bridge.results import read_ledger\n"
             f"p = {str(tmp_path / 'l.sqlite')!r}\n"
             "with Ledger(p) as led:\n    (r,) = expand({**DEFAULTS, 'N': 4})\n"
             "    led.add(r.name, r.id, r.to_dict()); led.finish(r.id, Row('done', warning='w'))\n"
             "rows = read_ledger(p)\nassert rows[0]['warning'] == 'w' and rows[0]['config']['N'] == 4\nprint('ok')")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


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
