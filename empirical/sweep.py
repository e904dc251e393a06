"""The sweep driver: validate every run, lock the directory, register runs, execute, record.

The sweep path reads top to bottom, one module per step::

    empirical.config     TOML + --set → [RunConfig]        (keys, types, axes, run identity)
    empirical.plan       RunConfig → RunPlan                (task, TrainConfig, sources, model: validation)
    empirical.sweep      this driver                        (lock, ledger, resume, progress)
    empirical.executors  where runs execute                 (local, process, Ray, SLURM; one error policy)
    empirical.run        one run → Row                      (data, model, train, test metrics, result.json)
    empirical.ledger     Row → SQLite                       (the only writer of results)

:func:`run_sweep` validates every run before anything touches the disk, then takes the directory's
:class:`~empirical.ledger.DriverLock` (a second driver on the same directory refuses, naming the
first), registers every run as pending, skips finished ones, adopts finished ``result.json`` rows a
dead driver did not record, resumes interrupted runs from their checkpoints, and retries failed runs
on request. A run that fails becomes a ``failed`` row and the sweep goes on; a storage error (disk
full, read-only) stops it with every unfinished run back at ``pending``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .config import RunConfig, expand
from .ledger import DriverLock, Ledger, Row

if TYPE_CHECKING:
    from .executors import ExecutorConfig

__all__ = ["run_sweep", "SweepSummary", "check_out_dir"]


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep left in its ledger.

    Attributes:
        ledger: the ledger's path.
        runs: runs in this config; done / failed: how many of them ended so (this call or before);
        warned: done runs with a warning (worse than their input).
    """

    ledger: Path
    runs: int
    done: int
    failed: int
    warned: int

    @property
    def complete(self) -> bool:
        """Every run of the config is done."""
        return self.done == self.runs

    def line(self) -> str:
        extra = f", {self.warned} with a warning" if self.warned else ""
        return f"{self.done}/{self.runs} runs done, {self.failed} failed{extra}; ledger: {self.ledger}"


def check_out_dir(out: str | Path) -> Path:
    """The sweep directory, checked before anything is written.

    Raises:
        ValueError: it is a file, or lies under a file, or under a directory this process cannot write.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a directory (it will hold ledger.sqlite and runs/)")
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"--out {out}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: {probe} is not writable; choose another directory")
    return out


def run_sweep(runs: Sequence[RunConfig] | dict, out: str | Path, *, executor: str | ExecutorConfig = "local",
              workers: int | None = None, retry_failed: bool = False, progress: bool = True,
              work: Any = None) -> SweepSummary:
    """Run every run into ``out/ledger.sqlite``; resumable.

    Args:
        runs: the runs (:func:`empirical.config.expand`), or a config dict to expand.
        out: the sweep directory (ledger, ``runs/<run id>/``, and ``submitit/`` for SLURM).
        executor: "local", "process", "ray" or "slurm", or an
            :class:`~empirical.executors.ExecutorConfig` with per-run resources and cluster options.
        workers: with a kind name: processes (process) or runs in flight (ray).
        retry_failed: run failed runs again (by default they stay failed).
        progress: progress bars.
        work: the function that trains one run (default :func:`empirical.run.run_one`); a
            module-level function for the process, Ray and SLURM executors.

    Returns:
        A :class:`SweepSummary` (its ``complete`` says whether every run is done).

    Raises:
        ValueError: an invalid run or executor setting, a bad ``out``, or another driver on ``out``
            (:class:`~empirical.ledger.SweepBusy`): nothing was written.
        ImportError: the executor needs a package that is not installed: nothing was written.
        OSError: a storage error while running: the sweep stopped, unfinished runs are pending.
    """
    from .executors import ExecutorConfig, execute, require  # noqa: PLC0415
    from .plan import validate  # noqa: PLC0415

    # ---- validate everything, then write
    if isinstance(runs, dict):
        runs = expand(runs)
    runs = list(runs)
    if isinstance(executor, ExecutorConfig):
        if workers is not None:
            raise ValueError("pass workers inside the ExecutorConfig, not next to it")
        ecfg = executor
    else:
        ecfg = ExecutorConfig(kind=executor, workers=workers)
    require(ecfg.kind)
    validate(runs)
    out = check_out_dir(out)
    if work is None:
        from .run import run_one as work  # noqa: PLC0415
    if ecfg.kind == "slurm" and ecfg.folder is None:
        ecfg = replace(ecfg, folder=str(out / "submitit"))

    with DriverLock(out), Ledger(out / "ledger.sqlite") as ledger:
        pending = _register(ledger, runs, out, retry_failed=retry_failed)
        bar = None
        if progress:
            from tqdm.auto import tqdm  # noqa: PLC0415

            name = runs[0].name if runs else "sweep"
            bar = tqdm(total=len(runs), initial=len(runs) - len(pending), desc=f"sweep {name}", unit="run")

        def on_result(rid: str, row: Row) -> None:
            ledger.finish(rid, row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"last: {row.status}")

        try:
            execute(pending, work, ecfg, on_start=ledger.start, on_result=on_result,
                    progress=progress and ecfg.kind == "local")
        except BaseException:
            ledger.requeue_running()  # interrupted or out of storage: nothing stays "running"
            raise
        finally:
            if bar is not None:
                bar.close()
        return _summary(ledger, runs)


def _register(ledger: Ledger, runs: Sequence[RunConfig], out: Path, *, retry_failed: bool) -> list:
    """Add every run as pending; return those still to train (adopting finished ``result.json`` rows)."""
    from .run import finished_result  # noqa: PLC0415

    pending = []
    for run in runs:
        rid = run.id
        ledger.add(run.name, rid, run.to_dict())
        status = ledger.get(rid)["status"]
        if status == "done" or (status == "failed" and not retry_failed):
            continue
        saved = finished_result(run, out / "runs" / rid)
        if saved is not None:
            ledger.finish(rid, saved)
            continue
        pending.append((rid, run, out / "runs" / rid))
    return pending


def _summary(ledger: Ledger, runs: Sequence[RunConfig]) -> SweepSummary:
    by_id = {r["run_id"]: r for r in ledger.rows()}
    mine = [by_id[r.id] for r in runs if r.id in by_id]
    return SweepSummary(ledger=ledger.path, runs=len(runs), done=sum(r["status"] == "done" for r in mine),
                        failed=sum(r["status"] == "failed" for r in mine),
                        warned=sum(bool(r["status"] == "done" and r["warning"]) for r in mine))
