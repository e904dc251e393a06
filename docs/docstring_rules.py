"""How the docs build reads the project's docstrings where their plain-text habits are not reST.

The docstrings are written to be read in a terminal: ``|z|`` is an absolute value, and an aligned
two-column block under a ``Label:`` line wraps its second column with a deeper indent. reST reads
the first as a substitution reference and the second as an error (unexpected indentation). Rather
than rewriting docstrings for the renderer, :func:`plain_text_rules` (run on every docstring after
napoleon, through autodoc's ``autodoc-process-docstring`` event) states those two habits once:

* a ``|`` outside inline literals and roles is escaped (``\\|``), so it renders as written;
* an indented block with ragged indentation directly under a line ending in ``:`` is shown as a
  literal block, exactly as laid out in the source. A block with even indentation is valid reST (a
  definition list) and is left alone, as is everything inside an existing literal block.

Pure Python (no Sphinx): ``tests/test_docs.py`` checks both rules on their own.
"""

from __future__ import annotations

import re

__all__ = ["escape_bars", "plain_text_rules", "ragged_blocks_as_literal"]

# Inline literals and interpreted text (roles such as :func:`x`, :math:`|x|`): never touched.
_INLINE = re.compile(r"(``.+?``|`[^`]*`)")
_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _literal_lines(lines: list[str]) -> set[int]:
    """Indices of the lines inside literal blocks and directives (after a line ending in ``::``)."""
    inside: set[int] = set()
    i = 0
    while i < len(lines):
        if lines[i].rstrip().endswith("::"):
            base, j = _indent(lines[i]), i + 1
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
                inside.add(j)
                j += 1
            i = j
        else:
            i += 1
    return inside


def escape_bars(lines: list[str]) -> list[str]:
    """``|z|`` → ``\\|z\\|`` outside inline literals, roles and literal blocks (absolute values, not
    substitutions)."""
    skip = _literal_lines(lines)
    out = []
    for i, line in enumerate(lines):
        if i in skip or "|" not in line:
            out.append(line)
            continue
        parts = _INLINE.split(line)  # odd entries are the literals and roles
        out.append("".join(p if k % 2 else _UNESCAPED_BAR.sub(r"\\|", p) for k, p in enumerate(parts)))
    return out


def ragged_blocks_as_literal(lines: list[str]) -> list[str]:
    """A ``Label:`` line followed at once by an indented block whose indentation varies becomes
    ``Label::``, a blank line and the block: a literal block, shown as laid out."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        text = line.strip()
        label = (text.endswith(":") and not text.endswith("::")
                 and not text.startswith((":", "..", ">>>", "* ", "- ", "+ ")) and not re.match(r"\d+\. ", text))
        block_end = i + 1
        while block_end < len(lines) and lines[block_end].strip() and _indent(lines[block_end]) > _indent(line):
            block_end += 1
        block = lines[i + 1:block_end]
        if label and len(block) > 1 and len({_indent(b) for b in block}) > 1:
            out += [line.rstrip() + ":", "", *block]
            i = block_end
            continue
        out.append(line)
        i += 1
    return out


def plain_text_rules(lines: list[str]) -> list[str]:
    """Both rules, literal blocks first (so that their bars stay as written)."""
    return escape_bars(ragged_blocks_as_literal(lines))
