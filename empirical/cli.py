"""``reconscale sweep`` — the empirical half of the command line (``reconscale results`` reads the
ledger without torch and lives in :mod:`bridge.cli`).

Every value is checked before anything is written (:func:`empirical.sweep.run_sweep` validates the
runs, the executor flags and ``--out`` first): bad input gives one line on stderr and exit code 2.
Exit code 0 means every run of the config is done; 1 that some failed (their reasons are in the
ledger: ``reconscale results DIR``) or that the sweep stopped on a storage error; 130 (Ctrl-C) and 143
(SIGTERM) that it was stopped, every unfinished run back at ``pending`` (re-run to resume). A sweep
started by another reconscale command (the demo) dies with it (:mod:`theory.infra.process`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from theory.infra.command import Parser, UsageError, run_command

from .config import expand, load_config, parse_override

if TYPE_CHECKING:
    from .config import RunConfig
    from .executors import ExecutorConfig

__all__ = ["sweep_main", "config_arguments", "load_runs"]

# executor flags → ExecutorConfig fields (which executors each applies to: empirical.executors.APPLIES)
_EXECUTOR_FLAGS = {"workers": "--workers", "address": "--address", "cpus_per_run": "--cpus-per-run",
                   "gpus_per_run": "--gpus-per-run", "threads_per_run": "--threads-per-run",
                   "timeout_min": "--timeout-min", "partition": "--partition",
                   "array_parallelism": "--array-parallelism", "cluster": "--slurm-cluster",
                   "slurm_params": "--slurm-param"}


def config_arguments(p: argparse.ArgumentParser, *, config_help: str, out_help: str, out_required: bool = False) -> None:
    """The arguments every config-driven command shares: CONFIG, ``--out``, ``--set``, ``--quiet``."""
    p.add_argument("config", help=config_help)
    p.add_argument("--out", required=out_required, default=None, help=out_help)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (TOML value), e.g. --set N=[16,64] --set sigma=0.1; "
                   "data-source options as --set source.KEY=VALUE")
    p.add_argument("--quiet", action="store_true")


def load_runs(a: argparse.Namespace) -> list[RunConfig]:
    """The parsed arguments' runs, typed and de-duplicated; any problem is a ``ValueError`` (one line)."""

    return expand(load_config(a.config, a.set))


def sweep_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale sweep CONFIG [--out DIR] [--set key=value ...]``."""
    p = Parser(prog="reconscale sweep", description="Train every (N, width, seed, …) combination of a sweep "
               "config into a resumable SQLite ledger.")
    config_arguments(p, config_help="a TOML file or a shipped config name (quick-denoise, quick-mri, quick-sr, …)",
                     out_help="sweep directory (default: sweeps/<name>)")
    p.add_argument("--executor", choices=("local", "process", "ray", "slurm"), default="local",
                   help="where runs train: in this process, a local process pool, Ray tasks, or SLURM jobs (submitit)")
    p.add_argument("--workers", type=int, default=None,
                   help="process: pool size (default 2); ray: runs in flight, and the local Ray instance's size")
    e = p.add_argument_group("ray and slurm")
    e.add_argument("--address", default=None, help="ray: an existing cluster ('auto', 'ray://host:10001'); "
                   "default: start a local instance")
    e.add_argument("--cpus-per-run", type=float, default=None, help="CPUs per run (ray: fractions allowed; default 1)")
    e.add_argument("--gpus-per-run", type=float, default=None,
                   help="GPUs per run (ray: 0.25 packs four runs on a GPU; slurm: an integer; default 0)")
    e.add_argument("--threads-per-run", type=int, default=None,
                   help="torch threads per run (default: ceil(cpus per run) for ray/slurm, torch's default otherwise)")
    g = p.add_argument_group("slurm (submitit)")
    g.add_argument("--timeout-min", type=int, default=None,
                   help="time limit per job in minutes (default 60); a timed-out job is requeued and resumes")
    g.add_argument("--partition", default=None, help="SLURM partition (default: the cluster's)")
    g.add_argument("--array-parallelism", type=int, default=None, help="runs in flight at once (the job array's %%)")
    g.add_argument("--slurm-cluster", dest="cluster", choices=("slurm", "local"), default=None,
                   help="slurm: submit to the scheduler (default); local: run the jobs as local processes")
    g.add_argument("--slurm-param", dest="slurm_params", action="append", default=None, metavar="KEY=VALUE",
                   help="extra submitit parameter (TOML value), e.g. --slurm-param mem_gb=16 "
                   "--slurm-param slurm_account=lab")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    p.add_argument("--dry-run", action="store_true", help="validate and list the runs, write nothing")

    def body() -> int:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        runs = load_runs(a)
        ecfg = _executor_config(a)
        if a.dry_run:
            from .plan import validate  # noqa: PLC0415

            validate(runs)
            for r in runs:
                print(json.dumps({"id": r.id, **{k: getattr(r, k) for k in ("task", "data", "N", "arch", "width",
                                                                             "seed")}}))
            return 0
        from .sweep import run_sweep  # noqa: PLC0415

        out = Path(a.out) if a.out else Path("sweeps") / runs[0].name
        summary = run_sweep(runs, out, executor=ecfg, retry_failed=a.retry_failed, progress=not a.quiet)
        print(f"reconscale sweep: {summary.line()}", file=sys.stderr)
        return 0 if summary.complete else 1

    return run_command("reconscale sweep", body,
                       resume_hint="finished runs are in the ledger; re-run the same command to resume")


def _executor_config(a: argparse.Namespace) -> ExecutorConfig:
    """The executor flags as an ExecutorConfig; inapplicable flags, bad values and a missing optional
    dependency are usage errors, raised before anything is written."""
    from .executors import APPLIES, ExecutorConfig, missing_dependency  # noqa: PLC0415

    given = {name: getattr(a, name) for name in _EXECUTOR_FLAGS if getattr(a, name) is not None}
    for name in given:
        kinds = APPLIES.get(name, ())
        if kinds and a.executor not in kinds:
            raise UsageError(f"{_EXECUTOR_FLAGS[name]} applies to --executor "
                             f"{' or '.join(kinds)}, not {a.executor}")
    if "slurm_params" in given:
        try:
            given["slurm_params"] = dict(parse_override(item) for item in given["slurm_params"])
        except ValueError as e:
            raise UsageError(str(e).replace("--set", "--slurm-param")) from None
    try:
        ecfg = ExecutorConfig(kind=a.executor, **given)
    except ValueError as e:
        msg, name = str(e), str(e).split("=", 1)[0]
        if name in _EXECUTOR_FLAGS:  # name the flag the user typed, not the field
            msg = f"{_EXECUTOR_FLAGS[name]} {msg[len(name) + 1:]}"
        raise UsageError(msg) from None
    module = missing_dependency(a.executor)
    if module is not None:
        raise UsageError(f"--executor {a.executor} needs {module}; "
                         "install it with pip install 'reconscale[distributed]'")
    return ecfg
