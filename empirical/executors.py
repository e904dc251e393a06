"""Where a sweep's runs execute: in the driver, in local processes, as Ray tasks, or as SLURM jobs.

The third step of the sweep path (config → runs → executor → one run → ledger). :func:`execute`
takes the pending runs, the function that trains one run (:func:`empirical.run.run_one`, passed in:
this module imports nothing of the sweep) and one :class:`ExecutorConfig`, and dispatches to one
small function per kind. Whatever the kind, workers only compute: each run trains in its own run
directory (``ckpt.pt``, ``result.json``) and returns its :class:`~empirical.ledger.Row`, and the
driver alone writes the ledger through the ``on_start``/``on_result`` callbacks. A worker or driver
that dies therefore loses no finished run: the row is in the ledger, or in ``result.json`` where
the next :func:`empirical.sweep.run_sweep` picks it up, and unfinished runs resume from their
checkpoints.

One error policy for every kind (:func:`guarded`): a run that raises becomes a ``failed`` row with
its reason, and the sweep goes on — except for storage errors (disk full, read-only filesystem,
no permission: :func:`is_storage_error`), which no later run could escape either, so they
propagate and the driver stops the sweep cleanly. A Ray task whose worker process dies is retried
by Ray (up to 3 times, resuming from the run's checkpoint); SLURM jobs that time out or are
preempted are requeued by submitit and resume from their checkpoints too.

``ray`` and ``submitit`` are optional (``pip install 'reconscale[distributed]'``) and imported only
inside the functions that use them.

CPU results depend on torch's intra-op thread count (reductions are split per thread), so
``threads_per_run`` pins it: Ray and SLURM runs default to ``ceil(cpus_per_run)`` threads, and a
local sweep with the same ``threads_per_run`` reproduces their ledgers bit for bit.
"""

from __future__ import annotations

import errno
import math
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from theory.infra.process import die_with_parent
from theory.infra.validation import is_int

from .ledger import Row

if TYPE_CHECKING:
    from .plan import RunPlan

__all__ = ["ExecutorConfig", "KINDS", "APPLIES", "RunJob", "execute", "guarded", "is_storage_error",
           "missing_dependency", "require"]

KINDS = ("local", "process", "ray", "slurm")

#: Which executor kinds each option applies to (options not listed apply to every kind).
APPLIES: dict[str, tuple[str, ...]] = {
    "workers": ("process", "ray"),
    "address": ("ray",),
    "cpus_per_run": ("ray", "slurm"),
    "gpus_per_run": ("ray", "slurm"),
    "timeout_min": ("slurm",),
    "partition": ("slurm",),
    "array_parallelism": ("slurm",),
    "cluster": ("slurm",),
    "folder": ("slurm",),
    "slurm_params": ("slurm",),
}

_EXTRA = "pip install 'reconscale[distributed]'"
_MODULE = {"ray": "ray", "slurm": "submitit"}
_RAY_MAX_RETRIES = 3  # re-runs of a task whose worker process died (not of a task that raised)

Pending = list[tuple[str, "RunPlan", Path]]  # (run id, run plan, run directory)
Work = Callable[..., "Row"]  # work(plan, run_dir, progress=False) -> Row: empirical.run.run_one
OnStart = Callable[[str], None]
OnResult = Callable[[str, "Row"], None]
#: errno values that stop a sweep: every later run would hit them too.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


@dataclass(frozen=True)
class ExecutorConfig:
    """How :func:`empirical.sweep.run_sweep` executes its runs.

    Attributes:
        kind: "local" (in the driver), "process" (a local process pool), "ray" (Ray tasks on a
            local or existing cluster) or "slurm" (submitit jobs).
        workers: process: pool size (default 2); ray: runs in flight at once, and the size of the
            local Ray instance this starts (``ceil(workers · cpus_per_run)`` CPUs; default: all
            the machine's CPUs, and no cap on an existing cluster).
        address: ray only: an existing cluster ("auto", "host:port" or "ray://host:10001"); None
            uses ``RAY_ADDRESS``, the instance already initialised in this process, or starts a
            local one. On a cluster, reconscale must be installed on every node, and the sweep
            directory should be on a filesystem the nodes share (checkpoints, ``result.json``).
        cpus_per_run: ray/slurm: CPUs requested per run (ray allows fractions; slurm needs an integer).
        gpus_per_run: ray/slurm: GPUs per run; Ray accepts fractions below 1 (0.25 packs four runs
            on a GPU), above 1 it must be an integer; slurm needs an integer.
        threads_per_run: torch intra-op threads inside each run; None keeps torch's default for
            local/process and uses ``ceil(cpus_per_run)`` for ray/slurm.
        timeout_min: slurm: the job's time limit; a job that reaches it is requeued and resumes
            from its checkpoint.
        partition: slurm: the partition (None: the cluster's default).
        array_parallelism: slurm: runs in flight at once (cluster "slurm": the job array's ``%``
            limit, default unlimited; cluster "local": default ``cpu_count // cpus_per_run``).
        cluster: slurm: "slurm" submits to the SLURM scheduler; "local" runs the same jobs as
            local processes through submitit's ``LocalExecutor`` (one machine, tests).
        folder: slurm: submitit's folder for job pickles and logs (default ``<out>/submitit``).
        slurm_params: slurm: further ``AutoExecutor.update_parameters`` keywords, e.g.
            ``{"mem_gb": 16, "slurm_account": "lab", "slurm_qos": "normal"}``.
    """

    kind: str = "local"
    workers: int | None = None
    address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    threads_per_run: int | None = None
    timeout_min: int = 60
    partition: str | None = None
    array_parallelism: int | None = None
    cluster: str = "slurm"
    folder: str | Path | None = None
    slurm_params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"executor kind={self.kind!r}: use one of {', '.join(KINDS)}")
        defaults = {f.name: (f.default_factory() if callable(f.default_factory) else f.default) for f in fields(self)}
        for name, kinds in APPLIES.items():
            if getattr(self, name) != defaults[name] and self.kind not in kinds:
                raise ValueError(f"{name} applies to the {'/'.join(kinds)} executor(s), not {self.kind!r}; drop it")
        for name in ("workers", "threads_per_run", "array_parallelism"):
            v = getattr(self, name)
            if v is not None and (not is_int(v) or v < 1):
                raise ValueError(f"{name}={v!r} must be a positive integer")
        if not (_is_num(self.cpus_per_run) and math.isfinite(self.cpus_per_run) and self.cpus_per_run > 0):
            raise ValueError(f"cpus_per_run={self.cpus_per_run!r} must be a positive number")
        if not (_is_num(self.gpus_per_run) and math.isfinite(self.gpus_per_run) and self.gpus_per_run >= 0):
            raise ValueError(f"gpus_per_run={self.gpus_per_run!r} must be a number ≥ 0")
        if self.gpus_per_run > 1 and self.gpus_per_run != int(self.gpus_per_run):
            raise ValueError(f"gpus_per_run={self.gpus_per_run}: above 1 it must be a whole number of GPUs")
        if self.kind == "slurm":
            for name in ("cpus_per_run", "gpus_per_run"):
                v = getattr(self, name)
                if v != int(v):
                    raise ValueError(f"{name}={v}: SLURM allocates whole CPUs and GPUs; use an integer")
            if not is_int(self.timeout_min) or self.timeout_min < 1:
                raise ValueError(f"timeout_min={self.timeout_min!r} must be a positive integer (minutes)")
        if self.cluster not in ("slurm", "local"):
            raise ValueError(f"cluster={self.cluster!r}: use 'slurm' (the scheduler) or 'local' (submitit's LocalExecutor)")
        if self.address is not None and (not isinstance(self.address, str) or not self.address.strip()):
            raise ValueError(f"address={self.address!r} must be a Ray address such as 'auto' or 'ray://host:10001'")
        if not isinstance(self.slurm_params, dict) or not all(isinstance(k, str) for k in self.slurm_params):
            raise ValueError("slurm_params must be a dict of AutoExecutor.update_parameters keywords")

    def threads(self) -> int | None:
        """torch threads per run: ``threads_per_run``, else ``ceil(cpus_per_run)`` for ray/slurm, else None."""
        if self.threads_per_run is not None:
            return self.threads_per_run
        return max(1, math.ceil(self.cpus_per_run)) if self.kind in ("ray", "slurm") else None


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def missing_dependency(kind: str) -> str | None:
    """The optional module that executor ``kind`` needs and this environment lacks (None if all is there)."""
    module = _MODULE.get(kind)
    if module is None:
        return None
    try:
        __import__(module)
    except ImportError:
        return module
    return None


def require(kind: str) -> None:
    """Raise a one-line ImportError if executor ``kind`` needs a package that is not installed."""
    module = missing_dependency(kind)
    if module is not None:
        raise ImportError(f"executor {kind!r} needs {module}; install it with {_EXTRA}")


# --------------------------------------------------------------------------- one run, one policy
def is_storage_error(exc: BaseException) -> bool:
    """A failure of the storage itself (disk full, quota, read-only): the sweep must stop."""
    cause = getattr(exc, "cause", None)  # ray.exceptions.RayTaskError wraps the task's exception
    exc = cause if isinstance(cause, BaseException) else exc
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def guarded(work: Work, run: RunPlan, run_dir: str | Path, threads: int | None, progress: bool = False) -> Row:
    """``work(run, run_dir)`` with ``threads`` torch threads (restored afterwards); an exception
    becomes a ``failed`` row, except a storage error, which propagates."""
    import torch  # noqa: PLC0415

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return work(run, Path(run_dir), progress=progress)
    except Exception as e:
        if is_storage_error(e):
            raise
        return Row.failed(_reason(e))
    finally:
        torch.set_num_threads(before)


class RunJob:
    """The submitit job of one run, requeued with its state on timeout or preemption.

    It follows submitit's ``helpers.Checkpointable`` protocol (submitit calls ``checkpoint`` when
    the job is signalled, because the callable has that method) without subclassing it, so that
    importing this module does not import submitit. Training resumes from ``run_dir/ckpt.pt``, so
    the requeued job continues from the last evaluation, and gives the same row as an
    uninterrupted run.
    """

    def __init__(self, work: Work) -> None:
        self.work = work

    def __call__(self, run: RunPlan, run_dir: str | Path, threads: int | None) -> Row:
        return guarded(self.work, run, run_dir, threads)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """A ``submitit.helpers.DelayedSubmission`` that runs this job again with the same arguments."""
        from submitit.helpers import DelayedSubmission  # noqa: PLC0415

        return DelayedSubmission(self, *args, **kwargs)


def _failed(exc: BaseException) -> Row:
    """The row of a run whose worker died or whose job could not deliver a row."""

    return Row.failed(_reason(exc))


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)  # ray.exceptions.RayTaskError wraps the task's exception
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc)
    if "----------------------" in text:  # submitit's FailedJobError: the trace sits between rulers
        trace = text.split("----------------------")[1]
        last = [ln.strip() for ln in trace.splitlines() if ln.strip()]
        return last[-1] if last else type(exc).__name__
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


# --------------------------------------------------------------------------- dispatch
def execute(pending: Pending, work: Work, cfg: ExecutorConfig, *, on_start: OnStart, on_result: OnResult,
            progress: bool = False) -> None:
    """Run ``pending`` (run id, run plan, run dir) triples with ``work``; report each to the callbacks.

    Args:
        pending: the runs to train.
        work: trains one run: ``work(plan, run_dir, progress=False) -> Row``; a module-level
            function (it is pickled to processes, Ray workers and SLURM jobs).
        cfg: the executor and its resources.
        on_start: called with the run id when a run is handed to a worker.
        on_result: called with (run id, row) as soon as a run finishes.
        progress: per-run training bars (local executor only).

    Raises:
        OSError: a storage error in any run (see :func:`is_storage_error`); runs still in flight
            are abandoned (their checkpoints let them resume).
    """
    if not pending:
        return
    {"local": _local, "process": _process, "ray": _ray, "slurm": _slurm}[cfg.kind](
        pending, work, cfg, on_start=on_start, on_result=on_result, progress=progress)


def _local(pending: Pending, work: Work, cfg: ExecutorConfig, *, on_start: OnStart, on_result: OnResult,
           progress: bool) -> None:
    threads = cfg.threads()
    for rid, run, rdir in pending:
        on_start(rid)
        on_result(rid, guarded(work, run, rdir, threads, progress))


def _process(pending: Pending, work: Work, cfg: ExecutorConfig, *, on_start: OnStart, on_result: OnResult,
             progress: bool) -> None:
    import multiprocessing as mp  # noqa: PLC0415
    from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: PLC0415
    from concurrent.futures.process import BrokenProcessPool  # noqa: PLC0415

    threads = cfg.threads()
    before = set(mp.active_children())
    # Workers die with this driver (kill -9 included), else they would train on as orphans.
    with ProcessPoolExecutor(max_workers=cfg.workers or 2, mp_context=mp.get_context("spawn"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        futs = {}
        try:
            for rid, run, rdir in pending:
                on_start(rid)
                futs[pool.submit(guarded, work, run, rdir, threads)] = rid
            for fut in as_completed(futs):
                try:
                    row = fut.result()
                except BrokenProcessPool as e:  # a worker process died (killed, out of memory)
                    row = _failed(e)
                on_result(futs[fut], row)
        except BaseException:
            for f in futs:
                f.cancel()
            # Stop the runs in flight now (they resume from their checkpoints) instead of waiting
            # for them to finish when the pool shuts down: Ctrl-C and SIGTERM end the sweep at once.
            for proc in set(mp.active_children()) - before:
                proc.terminate()
            raise


def _ray(pending: Pending, work: Work, cfg: ExecutorConfig, *, on_start: OnStart, on_result: OnResult,
         progress: bool) -> None:
    """Ray tasks; a local instance is started (and stopped) only when none is initialised."""
    import logging  # noqa: PLC0415

    import ray  # noqa: PLC0415

    started = not ray.is_initialized()
    if started:
        address = cfg.address or os.environ.get("RAY_ADDRESS")  # ray.init itself would also honour RAY_ADDRESS
        if address is None:  # a quiet local instance whose workers import this checkout
            root = str(Path(__file__).resolve().parents[1])
            path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
            ray.init(num_cpus=math.ceil(cfg.workers * cfg.cpus_per_run) if cfg.workers else None,
                     include_dashboard=False, logging_level=logging.ERROR,
                     runtime_env={"env_vars": {"PYTHONPATH": path}})
        else:  # an existing cluster: reconscale must be installed on its nodes
            ray.init(address=address, logging_level=logging.ERROR)
    try:
        task = ray.remote(num_cpus=cfg.cpus_per_run, num_gpus=cfg.gpus_per_run, max_retries=_RAY_MAX_RETRIES)(guarded)
        threads, cap = cfg.threads(), cfg.workers or len(pending)
        queue, active = list(pending), {}
        while queue or active:
            while queue and len(active) < cap:
                rid, run, rdir = queue.pop(0)
                on_start(rid)
                active[task.remote(work, run, str(rdir), threads)] = rid
            (ref,), _ = ray.wait(list(active), num_returns=1)
            rid = active.pop(ref)
            try:
                row = ray.get(ref)
            except Exception as e:  # a storage error, or the worker died more than max_retries times
                if is_storage_error(e):
                    raise
                row = _failed(e)
            on_result(rid, row)
    finally:
        if started:
            ray.shutdown()


def _slurm(pending: Pending, work: Work, cfg: ExecutorConfig, *, on_start: OnStart, on_result: OnResult,
           progress: bool) -> None:
    """submitit jobs: one job array on SLURM; throttled local processes for cluster "local"."""
    import submitit  # noqa: PLC0415

    if cfg.folder is None:
        raise ValueError("the slurm executor needs a folder for submitit's files (run_sweep sets <out>/submitit)")
    ex = submitit.AutoExecutor(folder=cfg.folder, cluster=cfg.cluster)
    params: dict[str, Any] = {"name": "reconscale", "timeout_min": cfg.timeout_min,
                              "cpus_per_task": int(cfg.cpus_per_run), "gpus_per_node": int(cfg.gpus_per_run)}
    if cfg.partition is not None:
        params["slurm_partition"] = cfg.partition
    if cfg.array_parallelism is not None:
        params["slurm_array_parallelism"] = cfg.array_parallelism
    ex.update_parameters(**{**params, **cfg.slurm_params})
    job_fn, threads = RunJob(work), cfg.threads()
    queue, active = list(pending), []
    if cfg.cluster == "slurm":  # one array; SLURM throttles it (array_parallelism) and requeues it
        jobs = ex.map_array(job_fn, [r for _, r, _ in queue], [str(d) for _, _, d in queue], [threads] * len(queue))
        for (rid, _, _), job in zip(queue, jobs):
            on_start(rid)
            active.append((job, rid))
        queue, cap, poll = [], len(jobs), 10.0
    else:  # LocalExecutor starts every job at once: keep at most `cap` in flight
        cap, poll = cfg.array_parallelism or max(1, (os.cpu_count() or 1) // int(cfg.cpus_per_run)), 0.25
    while queue or active:
        while queue and len(active) < cap:
            rid, run, rdir = queue.pop(0)
            on_start(rid)
            active.append((ex.submit(job_fn, run, str(rdir), threads), rid))
        finished = [(job, rid) for job, rid in active if job.done()]
        for job, rid in finished:
            active.remove((job, rid))
            try:
                row = job.result()
            except Exception as e:  # the job was cancelled, ran out of requeues, or hit a storage error
                row = _failed(e)
            on_result(rid, row)
        if not finished:
            time.sleep(poll)
