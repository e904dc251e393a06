"""Sphinx configuration of the reconscale documentation (build: see the README's docs command).

Sphinx rather than mkdocs: autodoc + napoleon read the Google-style docstrings and their RST roles
(``:func:``) as they are, and myst-nb renders Markdown pages and the stored notebooks.

Three parts of the site are generated at every build into ``docs/_generated/`` (not committed), so
that nothing written by hand can drift from the code:

* ``api/<module>.rst``: one ``automodule`` page per module of ``theory``, ``empirical`` and ``bridge``,
  found by walking the packages (a new module appears without an edit here);
* ``cli/commands.md``: every command's ``--help``, taken from the parser objects themselves;
* ``notebooks/*.ipynb``: copies of ``notebooks/*.ipynb``, rendered with their stored outputs (never
  executed here: the tests execute them).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS)]  # the packages as checked out (installed or not); docs/'s helpers

# after the path above: docs/ is not a package
from docstring_rules import plain_text_rules

GENERATED = DOCS / "_generated"
PACKAGES = ("theory", "empirical", "bridge")
# Entry points beside `reconscale COMMAND` (they have their own parser): (as typed, module, function).
EXTRA_ENTRY_POINTS = (("torchrun … -m empirical.ddp", "empirical.ddp", "main"),)
HELP_COLUMNS = "100"  # argparse wraps --help to $COLUMNS; fixed so that the pages do not depend on a terminal

project = "reconscale"
author = "reconscale contributors"
copyright = "reconscale contributors"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["_build", "_generated/cli", "**.ipynb_checkpoints"]
html_theme = "furo"
html_title = "reconscale"
html_static_path = ["_static"]

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3  # `page.md#a-heading` links between pages
nb_execution_mode = "off"  # show the outputs stored in the notebooks; the test suite executes them
# A notebook that shows the explorer stores Panel/HoloViews comm messages (application/vnd.holoviews_*)
# beside the HTML and JavaScript that the page renders; only a live kernel could use them.
suppress_warnings = ["mystnb.unknown_mime_type"]

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True  # `rng=np.random.default_rng(0)`, not its repr with a memory address
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# The docstrings' "Returns: name: description" names what is returned; as an rtype napoleon would link
# the name as if it were a type (to whichever attribute shares it).
napoleon_use_rtype = False


# --------------------------------------------------------------------------------------- API pages
def module_names(package: str) -> list[str]:
    """``package`` and every public module under it (a ``_private`` or ``__main__`` module is skipped)."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def api_page(module: str) -> str:
    """One module's page, in reStructuredText (autodoc emits RST, which a MyST page shows as text).

    A module documents its members (its ``__all__`` where it has one). A package documents only its
    docstring and links each name it re-exports to the module that defines it: documenting them
    again would describe every object twice (and ``bridge.calibrate``, a function and a module,
    would collide).
    """
    title = f"``{module}``\n{'=' * (len(module) + 4)}\n\n"
    mod = importlib.import_module(module)
    if not hasattr(mod, "__path__"):
        return f"{title}.. automodule:: {module}\n"
    exported = []
    for name in getattr(mod, "__all__", ()):
        home = getattr(getattr(mod, name), "__module__", None) or module
        exported.append(f"* :py:obj:`{name} <{home}.{name}>` (``{home}``)" if home != module else f"* ``{name}``")
    listing = "Re-exported here:\n\n" + "\n".join(exported) + "\n" if exported else ""
    return f"{title}.. automodule:: {module}\n   :no-members:\n\n{listing}"


# ---------------------------------------------------------------------------------------- CLI pages
class _Captured(BaseException):
    """Raised from ``Parser.parse_args`` to hand a command's parser out before the command runs.

    A ``BaseException`` so that the commands' own error handling (``run_command`` catches
    ``Exception`` subclasses and interrupts) lets it through untouched.
    """

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


def command_parser(main: Callable[[list[str]], Any]) -> argparse.ArgumentParser:
    """The parser a command's ``main`` builds, taken at its ``parse_args`` call: nothing else runs.

    Every command parses through :class:`theory.infra.command.Parser` before doing any work, so the
    parsers themselves are the source of truth and no command needs a parser-returning function.
    """
    from theory.infra.command import Parser

    original = Parser.parse_args

    def capture(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        raise _Captured(self)

    Parser.parse_args = capture  # type: ignore[method-assign]
    try:
        main([])
    except _Captured as c:
        return c.parser
    finally:
        Parser.parse_args = original  # type: ignore[method-assign]
    raise RuntimeError(f"{main.__module__}.{main.__name__} returned without parsing its arguments")


def with_subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and, depth first, the parsers of its subcommands (``reconscale theory curve``…)."""
    out = [parser]
    for action in parser._actions:  # argparse has no public accessor for its actions
        if isinstance(action.choices, dict):  # only a subparsers action maps names to parsers
            for sub in action.choices.values():
                out += with_subcommands(sub)
    return out


def help_block(parser: argparse.ArgumentParser, summary: str) -> str:
    """A section of the command-line page: the command, ``summary``, and its ``--help`` as printed."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        text = parser.format_help().rstrip()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return f"## `{parser.prog}`\n\n{summary}\n\n```text\n{text}\n```\n"


def cli_page() -> str:
    """Every ``reconscale`` command's help, in the order of :data:`bridge.cli.COMMANDS`."""
    from bridge.cli import COMMANDS, build_parser

    blocks = [help_block(build_parser(), "The console script; `python -m bridge` is the same.")]
    entries = [(module, func, summary[:1].upper() + summary[1:] + ".") for module, func, summary in COMMANDS.values()]
    entries += [(module, func, f"`{typed}`: one large run, data-parallel.") for typed, module, func in EXTRA_ENTRY_POINTS]
    for module, func, summary in entries:
        command, *subcommands = with_subcommands(command_parser(getattr(importlib.import_module(module), func)))
        blocks.append(help_block(command, summary))
        blocks += [help_block(p, p.description or "") for p in subcommands]
    return "\n".join(blocks)


# ----------------------------------------------------------------------------------------- the hook
def sync_dir(directory: Path, files: dict[str, str | bytes]) -> None:
    """Make ``directory`` hold exactly ``files`` (a module or notebook that is gone leaves no page).

    Unchanged files are not rewritten: they keep their timestamps, so an incremental build rereads
    only what changed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in {p.name for p in directory.iterdir()} - set(files):
        (directory / stale).unlink()
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        path = directory / name
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


def generate(app: Any) -> None:
    sync_dir(GENERATED / "api", {f"{m}.rst": api_page(m) for p in PACKAGES for m in module_names(p)})
    sync_dir(GENERATED / "cli", {"commands.md": cli_page()})
    sync_dir(GENERATED / "notebooks", {nb.name: nb.read_bytes() for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))})


def process_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lines[:] = plain_text_rules(lines)  # connected after napoleon, so it sees napoleon's reST


def setup(app: Any) -> None:
    app.connect("builder-inited", generate)
    app.connect("autodoc-process-docstring", process_docstring)
