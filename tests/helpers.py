"""Assertions shared by every test folder: bad input is one line naming the problem (and its fix).

``raises_one_line`` for the API (a ``ValueError`` whose message is one line), ``one_line`` for a
message already caught, and ``cli_one_line`` for a command's stderr (exit code, one line, no
traceback, and optionally nothing written under ``out``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

__all__ = ["one_line", "raises_one_line", "cli_one_line"]


def one_line(error: Any, *expected: str) -> str:
    """The message of ``error`` (an exception, a ``pytest.raises`` result or a string), checked to be
    one non-empty line without a traceback that contains every string in ``expected``."""
    if hasattr(error, "value") and isinstance(error.value, BaseException):  # pytest.ExceptionInfo
        error = error.value
    text = str(error)
    assert text and "\n" not in text and "Traceback" not in text, text
    for e in expected:
        assert e in text, text
    return text


def raises_one_line(fn: Callable[[], Any], match: str, *, exc: type[BaseException] = ValueError) -> str:
    """Call ``fn``, which must raise ``exc`` with a one-line message matching the regex ``match``."""
    with pytest.raises(exc, match=match) as info:
        fn()
    return one_line(info)


def cli_one_line(code: int, err: str, *expected: str, out: str | Path | None = None, exit_code: int = 2) -> str:
    """A command's refusal: exit ``exit_code``, one line on stderr containing each of ``expected``, no
    traceback; with ``out``, that path was not created (or is an empty directory)."""
    assert code == exit_code, err
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    for e in expected:
        assert e in err, err
    if out is not None:
        out = Path(out)
        assert not out.exists() or (out.is_dir() and not any(out.iterdir())), sorted(out.iterdir())
    return err
