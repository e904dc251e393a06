"""The documentation site: its one command in the README (and CI's use of it), the two things
``docs/conf.py`` adds to Sphinx (the command-line reference taken from the parsers, the reading of
plain-text docstrings), and what the one build wrote.

The build (about 25 s of CPU) runs once, in ``.ci/run``, before the tests, with warnings as errors;
the tests check its pages there (in CI a missing build is a failure; locally they check a build that
is there, and skip with the README's docs command otherwise).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _docs_module(name: str):
    """A module of ``docs/`` (not a package), imported from its path."""
    spec = importlib.util.spec_from_file_location(f"reconscale_docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _docs_command() -> str:
    """The README's docs command as CI extracts it (the ``awk`` line of ``.ci/run``, run as written)."""
    ci = (ROOT / ".ci" / "run").read_text()
    found = re.search(r"^docs_cmd=\$\((awk .*)\)$", ci, re.MULTILINE)
    assert found, ".ci/run no longer extracts the README's docs command"
    out = subprocess.run(["bash", "-c", found.group(1)], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_the_readme_gives_one_docs_command_that_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- docs-command -->\n```bash\n(.*)\n```\n", readme)
    assert block, "README: a one-line ```bash block must follow <!-- docs-command --> directly"
    assert _docs_command() == block.group(1)
    words = shlex.split(block.group(1).split("&&")[-1])
    assert words[:3] == ["python", "-m", "sphinx"] and "-W" in words, words  # warnings are errors
    assert 'pip install -e ".[docs]"' in block.group(1)
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'eval "$docs_cmd"' in ci and ci.index('eval "$docs_cmd"') < ci.index('eval "$cmd"')  # built before


# ------------------------------------------------------------------------------ docstrings as text
def test_bars_are_absolute_values_outside_literals():
    rules = _docs_module("docstring_rules")
    lines = ["the smallest |z| is kept", "``|x|`` and :math:`|x|` stay", r"an escaped \| stays",
             "Example::", "", "    a | b", "back to |text|"]
    assert rules.escape_bars(lines) == [r"the smallest \|z\| is kept", "``|x|`` and :math:`|x|` stay",
                                        r"an escaped \| stays", "Example::", "", "    a | b", r"back to \|text\|"]


def test_a_ragged_block_under_a_label_is_shown_as_written():
    rules = _docs_module("docstring_rules")
    ragged = ["Estimators:", "    ols        W^∞ = X Y⁺", "    gd-oracle  per draw min over k, found by the",
              "               certified search", "", "After."]
    assert rules.ragged_blocks_as_literal(ragged) == ["Estimators::", "", *ragged[1:]]
    even = ["Term:", "    one line", "    and another"]  # a valid definition list
    bullet = ["* item:", "    one", "      two"]
    assert rules.ragged_blocks_as_literal(even) == even
    assert rules.ragged_blocks_as_literal(bullet) == bullet
    # a bar inside the new literal block stays as written
    assert rules.plain_text_rules(["Table:", "    a | b", "      c"]) == ["Table::", "", "    a | b", "      c"]


# --------------------------------------------------------------------------- CLI reference pages
def test_a_commands_parser_is_taken_before_its_body_runs(tmp_path):
    conf = _docs_module("conf")
    from theory.infra.command import Parser, run_command

    written = tmp_path / "ran"

    def main(argv):
        p = Parser(prog="reconscale toy", description="A toy command.")
        p.add_argument("--flag", help="a flag")

        def body() -> int:
            p.parse_args(argv)
            written.write_text("the body ran")
            return 0

        return run_command("reconscale toy", body)

    original = Parser.parse_args
    parser = conf.command_parser(main)
    assert parser.prog == "reconscale toy" and not written.exists()
    assert Parser.parse_args is original and main([]) == 0 and written.exists()  # parsing works again
    assert "--flag" in conf.help_block(parser, "Toy.") and "A toy command." in conf.help_block(parser, "")

    with pytest.raises(RuntimeError, match="without parsing"):
        conf.command_parser(lambda argv: 0)


def test_the_cli_reference_covers_every_command():
    conf = _docs_module("conf")
    from bridge.cli import COMMANDS

    page = conf.cli_page()
    titles = re.findall(r"^## `(.+)`$", page, re.MULTILINE)
    assert titles[0] == "reconscale"
    assert {f"reconscale {name}" for name in COMMANDS} | {"reconscale theory curve", "reconscale theory setups"} \
        <= set(titles)
    curve = page.split("## `reconscale theory curve`")[1].split("\n## ")[0]
    assert "--target-sigma" in curve and "--estimator" in curve  # the options themselves, from the parser


# ------------------------------------------------------------------------------------- the build
def test_the_built_site_has_every_page():
    """The one build of the README's docs command (``.ci/run`` runs it, warnings as errors, before the
    tests): every module's API page, every notebook, the CLI reference, the explorer's screenshots.
    Locally it checks a build that is there and skips otherwise; in CI a missing build is a failure."""
    words = shlex.split(_docs_command().split("&&")[-1])
    out = ROOT / words[-1]
    if not (out / "index.html").exists():
        if IN_CI:
            pytest.fail(f"no docs build at {out}: .ci/run builds the site with the README's docs command first")
        pytest.skip(f"no docs build at {out}: run the README's docs command (CI builds it before the tests)")
    conf = _docs_module("conf")
    modules = [m for p in conf.PACKAGES for m in conf.module_names(p)]
    assert modules and all((out / "_generated" / "api" / f"{m}.html").exists() for m in modules)
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks == sorted(p.stem for p in (out / "_generated" / "notebooks").glob("*.html"))
    assert "reconscale sweep" in (out / "cli.html").read_text()
    assert "explorer.png" in (out / "explorer.html").read_text() and (out / "_static" / "explorer.png").exists()
