"""One stage runner for the staged commands (``reconscale demo``, ``reconscale controlled``).

A staged command writes every stage's result into its output directory and skips the stage when
the result is already there, so an interrupted command resumes where it stopped. The stages are of
two kinds:

* **child commands** — ``reconscale sweep``, ``spectrum``, ``baselines``, ``theory curve`` — run in a
  child process (:meth:`Stages.command`), so ``bridge`` never imports torch and reads the results
  back from files like any other user. The child dies with this process, however this one dies
  (:func:`theory.infra.process.run_child`): a killed demo leaves no orphan training on, holding the
  sweep's lock against the re-run. The sweeps resume from their own ledgers;
* **computed stages** — a theory curve, fits — cached as JSON (:meth:`Stages.cached`).

Every stage's wall time goes into :attr:`Stages.timings` (seconds, by stage name).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from theory.infra.io import write_json
from theory.infra.process import EXIT_TERMINATED, child_env, run_child

__all__ = ["Stages", "run_step", "sweep_run_ids", "one_blas_thread_children", "set_args"]


def set_args(values: Sequence[str]) -> list[str]:
    """``["a=1", "b=2"]`` → ``["--set", "a=1", "--set", "b=2"]`` (a sweep's config overrides)."""
    return [x for s in values for x in ("--set", s)]


def run_step(args: list[str], what: str, quiet: bool, rerun: str = "the demo") -> None:
    """Run a ``reconscale`` command in a child process (torch stays out of this one).

    Args:
        args: the command's arguments after ``reconscale``.
        what: the step, as messages name it.
        quiet: hide the child's stdout.
        rerun: the command the user re-runs to resume.

    Raises:
        KeyboardInterrupt: the child was interrupted (Ctrl-C or SIGTERM).
        ValueError: the child failed (its own message is above).
    """
    cmd = [sys.executable, "-m", "bridge.cli", *args]
    code = run_child(cmd, stdout=subprocess.DEVNULL if quiet else None, stderr=None)
    if code in (130, EXIT_TERMINATED):  # the child was interrupted: so is the command
        raise KeyboardInterrupt
    if code != 0:
        raise ValueError(f"the {what} step failed (exit {code}; its message is above); fix it and re-run "
                         f"{rerun} to resume")


def sweep_run_ids(arg_lists: Sequence[list[str]]) -> set[str]:
    """The run ids of sweeps (``reconscale sweep … --dry-run``, all at once).

    Every run of every sweep is validated before any trains, and nothing is written.

    Args:
        arg_lists: each sweep's arguments after ``reconscale`` (``["sweep", CONFIG, …]``).

    Raises:
        ValueError: a sweep did not validate (its own one-line message).
    """
    procs = [subprocess.Popen([sys.executable, "-m", "bridge.cli", *args, "--dry-run"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=child_env())  # they die with this process
             for args in arg_lists]
    outputs = [proc.communicate() for proc in procs]  # wait for every child before raising
    ids = set()
    for proc, (stdout, stderr) in zip(procs, outputs):
        if proc.returncode != 0:
            raise ValueError((stderr.strip().splitlines() or [f"sweep --dry-run failed ({proc.returncode})"])[-1])
        ids |= {json.loads(line)["id"] for line in stdout.splitlines() if line.startswith("{")}
    return ids


@contextlib.contextmanager
def one_blas_thread_children() -> Iterator[None]:
    """Child processes started inside start with one BLAS/OpenMP thread.

    Why: on 2 shared cores numpy's two OpenBLAS threads collapse. Measured: 10 Monte Carlo draws of
    the theory at N = 256, 1024, 4096 took 54 s with them and 2.5 s with one. (The sweeps' torch
    threads are set by ``--threads-per-run``.)
    """
    keys = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    before = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "1" for k in keys})
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Stages:
    """The stages of one staged command writing into ``out``.

    Args:
        out: the command's output directory (created by the first stage that writes, so that a
            command refused before its first stage leaves nothing behind).
        name: the command's name in progress messages (``[name] …`` on stderr).
        progress: print stage messages and let the children print theirs.
        rerun: the command the user re-runs to resume, as failure messages name it.

    Attributes:
        timings: wall seconds of every stage run (not of those reused), by stage name.
    """

    def __init__(self, out: str | Path, name: str, *, progress: bool = True, rerun: str) -> None:
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"--out {self.out} is a file; give a directory")
        self.name, self.progress, self.rerun = name, progress, rerun
        self.timings: dict[str, float] = {}

    @property
    def quiet_flag(self) -> list[str]:
        """``["--quiet"]`` for the children when this command is quiet, else ``[]``."""
        return [] if self.progress else ["--quiet"]

    def log(self, msg: str) -> None:
        """One progress line on stderr (nothing when quiet)."""
        if self.progress:
            print(f"[{self.name}] {msg}", file=sys.stderr, flush=True)

    def timed(self, stage: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, its wall time recorded under ``stage``."""
        t0 = time.perf_counter()
        result = fn()
        self.timings[stage] = round(time.perf_counter() - t0, 1)
        return result

    def command(self, stage: str, args: list[str], what: str | None = None, *, has_quiet: bool = True) -> None:
        """Run ``reconscale ARGS`` in a child process (:func:`run_step`) and time it as ``stage``.

        Args:
            stage: the stage's name (timings). args: the command's arguments after ``reconscale``.
            what: the step as messages name it (default ``stage``).
            has_quiet: the command takes ``--quiet`` (passed on when this command is quiet).
        """
        full = [*args, *(self.quiet_flag if has_quiet else [])]
        self.out.mkdir(parents=True, exist_ok=True)
        self.timed(stage, lambda: run_step(full, what or stage, quiet=not self.progress, rerun=self.rerun))

    def cached(self, stage: str, path: str | Path, compute: Callable[[], Any]) -> Any:
        """The JSON at ``path`` when it is there, else ``compute()`` written there atomically (timed)."""
        path = Path(path)
        if path.exists():
            self.log(f"reusing {path.name}")
            return json.loads(path.read_text())
        obj = self.timed(stage, compute)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, obj)
        self.log(f"{path.name}: {self.timings[stage]:.0f} s")
        return obj
