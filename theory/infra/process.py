"""Process lifetime, shared by every command: children die with their parent, SIGTERM is Ctrl-C.

A sweep driver starts pool workers, the demo starts a child ``reconscale sweep``; each of them
holds hundreds of MB and, for a driver, the sweep directory's lock. If the parent is killed
(``kill -9``, an out-of-memory kill, a closed terminal), such a child must not live on as an
orphan: it would keep training and make the re-run refuse the directory. So:

* :func:`die_with_parent` — called *in the child* (a pool's ``initializer``, or at the start of
  a command launched with :func:`child_env`): on Linux the kernel sends it ``SIGTERM`` when its
  parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere, a daemon thread also polls
  ``os.getppid()`` and sends the same signal when the parent changes (portable fallback).
* :func:`child_env` / :func:`adopt_parent` — a parent passes its pid to a child command in the
  environment; :func:`theory.infra.command.run_command` calls :func:`adopt_parent` first, so every
  ``reconscale`` command started by :func:`run_child` dies with its parent.
* :func:`sigterm_as_interrupt` — while active, ``SIGTERM`` raises :class:`Terminated` (a
  ``KeyboardInterrupt``) in the main thread, so every cleanup written for Ctrl-C (rows back to
  ``pending``, temporary files removed) runs for ``kill`` and for a dying parent too.

Also :func:`memory_bytes`, the memory this machine can give one process (for estimates that
refuse a run before it allocates). No torch, no project imports.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

__all__ = ["Terminated", "sigterm_as_interrupt", "interrupts_deferred", "die_with_parent", "child_env", "adopt_parent", "run_child",
           "memory_bytes", "PARENT_ENV", "EXIT_TERMINATED"]

#: The environment variable through which :func:`child_env` hands a child its parent's pid.
PARENT_ENV = "RECONSCALE_PARENT_PID"
#: Exit code of a command stopped by SIGTERM (128 + 15, the shell's convention).
EXIT_TERMINATED = 128 + signal.SIGTERM
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_POLL_S = 0.5  # how often the watchdog looks at the parent pid
_GRACE_S = 60.0  # after signalling itself, how long the child may clean up before it exits regardless
_watchdog_started = False


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (``kill``, a scheduler, a dying parent): handled exactly like Ctrl-C."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While active (main thread only), SIGTERM raises :class:`Terminated`; the old handler is restored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the block runs; the first one to arrive is raised right after.

    For writes that an interrupt must not cut in half from the inside: torch's checkpoint writer turns a
    ``KeyboardInterrupt`` raised in its write callback into a ``RuntimeError``, so Ctrl-C or a dying
    parent at that instant would fail the run instead of stopping it (to be resumed). The signals are
    caught by a recording handler (not masked: a signal sent to the process may land on any of its
    threads) and re-sent to the process on exit, where the handlers in force before take them. Outside
    the main thread, where no handler can be set, the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        held.append(signum)

    old = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if held:
            signal.raise_signal(held[0])


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this process receive SIGTERM when its parent dies; call it in the child.

    Args:
        parent_pid: the parent's pid as the parent saw it (``os.getpid()`` there); default: the
            current ``os.getppid()``. If the parent is already gone (our parent pid differs), the
            signal is sent at once.
    """
    global _watchdog_started
    parent = os.getppid() if parent_pid is None else int(parent_pid)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl in this libc: the watchdog below still works
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect: no signal would ever come
        _die()
        return
    if not _watchdog_started:  # portable fallback (macOS, BSD) and a second line of defence on Linux
        _watchdog_started = True
        threading.Thread(target=_watch, args=(parent,), name="die-with-parent", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_POLL_S)
    _die()


def _die() -> None:
    """SIGTERM to this process (its cleanup runs), then a hard exit if that cleanup hangs."""
    os.kill(os.getpid(), signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread():
        time.sleep(_GRACE_S)
        os._exit(EXIT_TERMINATED)


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child command that must die with this process (see :func:`adopt_parent`)."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def adopt_parent() -> None:
    """If this process was started with :func:`child_env`, die with that parent.

    The variable is removed from the environment, so this process's own children do not inherit a
    pid that is not their parent's.
    """
    text = os.environ.pop(PARENT_ENV, None)
    if text and text.strip().isdigit():
        die_with_parent(int(text))


def run_child(cmd: Sequence[str], **kwargs: Any) -> int:
    """Run ``cmd`` (a ``reconscale`` command) as a child that dies with this process; its exit code.

    If this process is interrupted while waiting (Ctrl-C, SIGTERM), the child is asked to stop
    (SIGTERM; after a Ctrl-C from a terminal it got SIGINT itself, so it first gets a few seconds
    to finish its own cleanup) and is waited for, so it leaves its sweep resumable; then the
    interruption propagates. ``kwargs`` go to :class:`subprocess.Popen`.
    """
    kwargs["env"] = child_env(kwargs.get("env"))
    with subprocess.Popen(list(cmd), **kwargs) as proc:
        try:
            return proc.wait()
        except BaseException as e:
            if not isinstance(e, Terminated):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=_GRACE_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            raise


def memory_bytes() -> int | None:
    """The memory one process here can use: physical memory, or less under a cgroup limit (None if unknown)."""
    total = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            limit = int(Path(limit_file).read_text().strip())  # "max" (no limit) is a ValueError
            if 0 < limit < (total or limit + 1):
                total = limit
    return total if total and total > 0 else None
