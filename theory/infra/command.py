"""The one command-line layer every ``reconscale`` command is built on.

A command is a function ``main(argv) -> exit code`` whose body runs inside :func:`run_command`:

* bad input — an argparse error, a :class:`UsageError` raised by a flag check, or a ``ValueError``
  from the library — prints **one line** on stderr (``reconscale CMD: error: …``) and returns 2;
* an ``OSError`` while writing (disk full, read-only directory, permission denied) prints one line
  naming the path and returns 1 (every write is atomic, so nothing half-written stays behind);
* Ctrl-C prints how to resume and returns 130; SIGTERM (``kill``, a scheduler, a dying parent) is
  handled the same way (:class:`theory.infra.process.Terminated` is a ``KeyboardInterrupt``: every cleanup
  runs) and returns 143;
* a command started by :func:`theory.infra.process.run_child` dies with the process that started it.

Checks run before anything is written, so an exit code of 2 means nothing changed on disk.
"""

from __future__ import annotations

import argparse
import errno
import sys
from typing import Any, Callable

from .process import EXIT_TERMINATED, Terminated, adopt_parent, sigterm_as_interrupt

__all__ = ["UsageError", "Parser", "run_command", "fail", "os_error_line"]


class UsageError(Exception):
    """Bad command-line input; the message is the one line the user sees."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one-line :class:`UsageError` s, not a usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message}")


def fail(prog: str, msg: str, code: int = 2) -> int:
    """Print the first line of ``msg`` (prefixed with ``prog: error:`` unless it already names it)."""
    line = (msg.strip().splitlines() or [""])[0]
    if not line.startswith("reconscale"):
        line = f"{prog}: error: {line}"
    print(line, file=sys.stderr)
    return code


def os_error_line(e: OSError) -> str:
    """One line for a failed write: what went wrong, where, and what to do."""
    where = f" ({e.filename})" if getattr(e, "filename", None) else ""
    hint = {errno.ENOSPC: "free some space and re-run; finished work is kept",
            errno.EDQUOT: "free some space and re-run; finished work is kept",
            errno.EROFS: "the filesystem is read-only; choose another --out",
            errno.EACCES: "no permission; choose another --out",
            errno.EPERM: "no permission; choose another --out"}.get(e.errno, "re-run when the path is writable")
    return f"cannot write{where}: {e.strerror or e}; {hint}"


def run_command(prog: str, body: Callable[[], Any], *, resume_hint: str = "re-run to resume") -> int:
    """Run a command body and map every anticipated failure to one line and an exit code.

    Args:
        prog: the command as typed (``"reconscale sweep"``), the prefix of every message.
        body: does the work; returns the exit code (None means 0).
        resume_hint: said after an interruption.

    Returns:
        body's code; 2 for bad input; 1 for a failed write; 130 for Ctrl-C; 143 for SIGTERM.
    """
    try:
        with sigterm_as_interrupt():
            adopt_parent()  # inside: a parent that is already gone terminates us like a SIGTERM
            return int(body() or 0)
    except UsageError as e:
        return fail(prog, str(e))
    except ValueError as e:  # the library's own checks, the one error type of the API
        return fail(prog, str(e))
    except OSError as e:
        return fail(prog, os_error_line(e), 1)
    except Terminated:
        print(f"{prog}: terminated (SIGTERM); {resume_hint}", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; {resume_hint}", file=sys.stderr)
        return 130
