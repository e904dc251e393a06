"""Import boundaries of the design card: theory and bridge never load torch; heavy imports stay lazy.

From the sources (``ast``, nothing imported), for theory, empirical and bridge: no import cycle inside
a package (function-level imports count), no private name (``_x``) imported from, or used on, another
module of the project, no private module used from outside its package, and function-level imports
only where they keep a heavy dependency lazy (:data:`HEAVY`). Violations owned by parallel branches
are listed in :data:`KNOWN_ELSEWHERE`.
"""

import ast
import functools
import subprocess
import sys
from dataclasses import dataclass
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
                                    "bridge.uncertainty", "bridge.extrapolation", "bridge.joint", "bridge.results",
                                    "bridge.compare", "bridge.report", "bridge.figures", "bridge.demo", "bridge.lawfit",
                                    "bridge.explore_state", "bridge.explore_curves", "empirical.classical"])
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


# ------------------------------------------------------------------ the import graph, from the sources
# Parsed with ``ast`` (nothing is imported), so every import counts — those inside functions too.
# Module names: ``pkg/a/b.py`` → ``pkg.a.b``, ``pkg/a/__init__.py`` → ``pkg.a``.

PACKAGES = ("theory", "empirical", "bridge")

# Third-party (and platform-only) modules a function may import lazily: heavy or optional at import
# time, so `import theory` / `import bridge` / `reconscale --help` do not pay for them. Everything
# else — numpy, and every light module of this project — belongs at the top of the file. A project
# module counts as heavy when it loads one of these at import time (directly or through other
# project modules), so a lazy import of it keeps that dependency lazy too.
HEAVY = frozenset({
    "torch", "torchvision", "ray", "submitit", "cupy",  # the accelerator / cluster stack (optional extras)
    "matplotlib", "sympy", "scipy", "tqdm",  # plotting, symbolic algebra, ~0.5 s of scipy, progress bars
    "h5py", "skimage", "pywt", "bm3d", "nbformat", "nbclient", "PIL",  # optional data / baseline / notebook deps
})
# Core, light third-party modules: imported at the top, never inside a function.
LIGHT = frozenset({"numpy"})
# (importer package, imported package) kept lazy on purpose: bridge reads empirical's torch-free
# ledger only when it reads one, so `reconscale theory …` never loads empirical
# (tests/cli/test_cli.py::test_theory_command_never_loads_torch_or_matplotlib).
LAZY_ACROSS = frozenset({("bridge", "empirical")})

# Known violations still to be removed, each with its reason; (importer, imported) where imported is a
# module (cycle edges, lazy project imports) or ``module.name`` (a private name). An entry that no
# longer occurs fails test_import_allowlist_is_not_stale. Nothing of theory belongs here.
KNOWN_ELSEWHERE: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Use:
    """One import (or ``module._name`` attribute use) found in a module's source."""

    module: str  # the importing module
    target: str  # the imported module, or "module.name" for an imported name
    line: int
    lazy: bool  # inside a function (or class body) rather than at module level
    private: str | None = None  # the private name ("_x") imported or used, if any

    def __str__(self) -> str:
        return f"{self.module}:{self.line} -> {self.target}{' (in a function)' if self.lazy else ''}"


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """{dotted module name: source path} of every module of the project's packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _lazy_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside a function (at any depth)."""
    inner = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inner.update(id(n) for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return inner


def module_uses(modules: dict[str, Path] | None = None) -> list[Use]:
    """Every import in the project's modules (top-level and lazy), and every ``mod._x`` use of an
    imported project module's private attribute."""
    modules = project_modules() if modules is None else modules
    uses = []
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        lazy = _lazy_nodes(tree)
        aliases: dict[str, str] = {}  # local name → project module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    uses.append(Use(mod, a.name, node.lineno, id(node) in lazy,
                                    a.name.rsplit(".", 1)[-1] if _is_private(a.name.rsplit(".", 1)[-1]) else None))
                    if a.name in modules:
                        aliases[a.asname or a.name] = a.name
            elif isinstance(node, ast.ImportFrom):
                src = _resolve(mod, is_pkg, node)
                for a in node.names:
                    sub = f"{src}.{a.name}"
                    target = sub if sub in modules else src
                    private = a.name if _is_private(a.name) else None
                    if target == sub:  # a submodule: bound to the alias, private only across packages
                        aliases[a.asname or a.name] = sub
                        if private and sub.split(".")[0] == mod.split(".")[0]:
                            private = None
                    uses.append(Use(mod, target if target == sub else f"{src}.{a.name}", node.lineno,
                                    id(node) in lazy, private))
        for node in ast.walk(tree):  # `alias._x` where alias is an imported project module
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                chain, v = [], node.value
                while isinstance(v, ast.Attribute):
                    chain.append(v.attr)
                    v = v.value
                if isinstance(v, ast.Name) and v.id in aliases:
                    owner = ".".join([aliases[v.id], *reversed(chain)])
                    if owner in modules and owner != mod:
                        uses.append(Use(mod, f"{owner}.{node.attr}", node.lineno, False, node.attr))
    return uses


def _target_module(target: str, modules: dict[str, Path]) -> str | None:
    """The project module a use points at (``a.b.name`` → ``a.b``), or None outside the project."""
    if target in modules:
        return target
    head = target.rsplit(".", 1)[0]
    return head if head in modules else None


def import_graph(uses: list[Use], modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the modules of its own package it imports (anywhere in the file)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for u in uses:
        dst = _target_module(u.target, modules)
        if (dst and dst != u.module and dst.split(".")[0] == u.module.split(".")[0]
                and (u.module, dst) not in KNOWN_ELSEWHERE):
            graph[u.module].add(dst)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(out)


def _loads(importer: str, dst: str) -> list[str]:
    """What importing project module ``dst`` from ``importer`` may execute: ``dst`` and those of its
    parent packages that are not ``importer``'s own (those are loaded already)."""
    parts = dst.split(".")
    mine = importer.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1) if parts[:i] != mine[:i]]


def eager_imports(uses: list[Use], modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the project modules importing it runs first, transitively (top-level imports only;
    parent packages included: ``import theory.infra.io`` runs ``theory/__init__`` first)."""
    eager: dict[str, set[str]] = {m: set() for m in modules}
    for u in uses:
        dst = _target_module(u.target, modules)
        if not u.lazy and dst and dst != u.module:
            eager[u.module].update(_loads(u.module, dst))
    changed = True
    while changed:
        changed = False
        for deps in eager.values():
            more = set().union(*(eager[d] for d in deps)) - deps
            if more:
                deps |= more
                changed = True
    return eager


def heavy_modules(uses: list[Use], modules: dict[str, Path]) -> set[str]:
    """Project modules that load a HEAVY dependency at import time, directly or through others."""
    eager: dict[str, set[str]] = {m: set() for m in modules}
    heavy = set()
    for u in uses:
        if u.lazy:
            continue
        if u.target.split(".")[0] in HEAVY:
            heavy.add(u.module)
        dst = _target_module(u.target, modules)
        if dst and dst != u.module:
            eager[u.module].update(_loads(u.module, dst))
    changed = True
    while changed:
        changed = False
        for m, deps in eager.items():
            if m not in heavy and deps & heavy:
                heavy.add(m)
                changed = True
    return heavy


def _private_module_outside(importer: str, dst: str) -> bool:
    """``dst`` sits in (or is) a private module or package that does not contain ``importer``."""
    parts = dst.split(".")
    for i, p in enumerate(parts):
        if _is_private(p) and importer.split(".")[:i] != parts[:i]:
            return True
    return False


def private_borrowing(uses: list[Use], modules: dict[str, Path]) -> list[Use]:
    """Imports of another project module's private name, ``mod._x`` uses of one, and imports of a
    private module (``pkg._helpers``) from outside its package."""
    out = []
    for u in uses:
        dst = _target_module(u.target, modules)
        if dst is None or (u.module, u.target) in KNOWN_ELSEWHERE:
            continue
        if u.private or _private_module_outside(u.module, dst):
            out.append(u)
    return out


def needless_lazy_imports(uses: list[Use], modules: dict[str, Path]) -> list[Use]:
    """Function-level imports of a light project module, of one that the importer's own packages
    load anyway (their ``__init__`` imports it), or of a LIGHT third-party module."""
    heavy = heavy_modules(uses, modules)
    eager = eager_imports(uses, modules)
    out = []
    for u in uses:
        if not u.lazy:
            continue
        dst = _target_module(u.target, modules)
        if (u.module, dst or u.target) in KNOWN_ELSEWHERE:
            continue
        if dst is not None:
            parts = u.module.split(".")
            parents = [".".join(parts[:i]) for i in range(1, len(parts))]
            loaded_anyway = any(dst == p or dst in eager[p] for p in parents if p in eager)
            keeps_lazy = bool(heavy.intersection(_loads(u.module, dst))) and not loaded_anyway
            if not keeps_lazy and (parts[0], dst.split(".")[0]) not in LAZY_ACROSS:
                out.append(u)
        elif u.target.split(".")[0] in LIGHT:
            out.append(u)
    return out


def _defined_names(tree: ast.AST) -> set[str]:
    """Every name a module defines or assigns: functions, classes, variables, attributes it stores."""
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
            out.add(n.attr)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif (isinstance(n, ast.Call) and len(n.args) > 1 and isinstance(n.args[1], ast.Constant)
              and (getattr(n.func, "id", None) == "setattr" or getattr(n.func, "attr", None) == "__setattr__")):
            out.add(n.args[1].value)  # object.__setattr__(self, "_x", …) in frozen dataclasses
    return out


def private_attribute_uses(modules: dict[str, Path] | None = None) -> list[Use]:
    """``obj._x`` (obj not ``self``/``cls``) where ``_x`` is defined by another project module and not by
    this one: a private method or attribute of another module's class, reached from outside. A
    heuristic (no types): an attribute defined in both modules is not reported."""
    modules = project_modules() if modules is None else modules
    trees = {m: ast.parse(p.read_text(), filename=str(p)) for m, p in modules.items()}
    defined = {m: _defined_names(t) for m, t in trees.items()}
    owners: dict[str, list[str]] = {}
    for m, names in defined.items():
        for name in names:
            owners.setdefault(name, []).append(m)
    out = []
    for m, tree in trees.items():
        for n in ast.walk(tree):
            if (isinstance(n, ast.Attribute) and _is_private(n.attr) and n.attr not in defined[m] and n.attr in owners
                    and not (isinstance(n.value, ast.Name) and n.value.id in ("self", "cls"))):
                out.append(Use(m, f"{sorted(owners[n.attr])[0]}.{n.attr}", n.lineno, False, n.attr))
    return out


@functools.lru_cache(maxsize=1)
def _project() -> tuple[dict[str, Path], list[Use]]:
    """The project's modules and their uses, parsed once per test session."""
    modules = project_modules()
    return modules, module_uses(modules)


def _report(what: str, items: list) -> str:
    return f"{len(items)} {what}:\n" + "\n".join(f"  {i}" for i in items)


def test_no_import_cycles_inside_a_package():
    """A circle closed by a function-level import is still a circle (it only moves the failure)."""
    modules, uses = _project()
    cycles = import_cycles(import_graph(uses, modules))
    assert not cycles, _report("import cycles (function-level imports included)", [" ↔ ".join(c) for c in cycles])


def test_no_private_names_across_modules():
    modules, uses = _project()
    bad = private_borrowing(uses, modules)
    assert not bad, _report("uses of another module's private name: make it public, or move it to its one home", bad)


def test_no_private_attributes_of_other_modules_objects():
    bad = [u for u in private_attribute_uses(_project()[0]) if (u.module, u.target) not in KNOWN_ELSEWHERE]
    assert not bad, _report("uses of a private attribute another module defines: make it public", bad)


def test_function_level_imports_only_keep_heavy_dependencies_lazy():
    modules, uses = _project()
    bad = needless_lazy_imports(uses, modules)
    assert not bad, _report("function-level imports of light modules: import them at the top", bad)


def test_import_allowlist_is_not_stale():
    """Every KNOWN_ELSEWHERE entry still occurs: remove the ones fixed, none of theory."""
    modules, uses = _project()
    seen = set()
    for u in uses + private_attribute_uses(modules):
        dst = _target_module(u.target, modules)
        seen.update({(u.module, u.target), (u.module, dst)})
    assert not {m for m, _ in KNOWN_ELSEWHERE if m.split(".")[0] == "theory"}
    assert not KNOWN_ELSEWHERE - seen, sorted(KNOWN_ELSEWHERE - seen)


def test_the_checks_catch_an_injected_cycle_private_import_and_lazy_import(tmp_path):
    """The checker itself, on a small fake ``theory``: a circle closed inside a function, a private
    name imported from a sibling, ``mod._x`` on an imported module, a private module used from
    another package, a needless lazy import and an allowed one (sympy)."""
    files = {
        "theory/__init__.py": "from .a import f\n",
        "theory/a.py": "from .b import _helper\n\ndef f():\n    return _helper()\n",
        "theory/b.py": "def _helper():\n    from .a import f  # closes the circle\n    import sympy\n    return f, sympy\n",
        "theory/c.py": "from . import b\nimport numpy as np\n\ndef g():\n    from .d import h\n    return b._helper(), h, np\n",
        "theory/d.py": "class D:\n    def _hidden(self):\n        return 1\n\ndef h():\n    return D()._hidden()\n",
        "theory/e.py": "from .d import h\n\ndef k(obj):\n    return obj._hidden(), h\n",
        "theory/_priv.py": "X = 1\n",
        "empirical/__init__.py": "",
        "empirical/e.py": "from theory._priv import X\nfrom theory.d import h\n",
        "bridge/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    modules = project_modules(tmp_path)
    uses = module_uses(modules)
    assert import_cycles(import_graph(uses, modules)) == [["theory.a", "theory.b"]]
    assert sorted(u.target for u in private_borrowing(uses, modules)) == [
        "theory._priv.X", "theory.b._helper", "theory.b._helper"]  # import, c's b._helper(), empirical → _priv
    assert sorted(f"{u.module}->{u.target}" for u in needless_lazy_imports(uses, modules)) == [
        "theory.b->theory.a.f", "theory.c->theory.d.h"]  # sympy stays lazy
    assert sorted((u.module, u.target) for u in private_attribute_uses(modules)) == [
        ("theory.c", "theory.b._helper"), ("theory.e", "theory.d._hidden")]
