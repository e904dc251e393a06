"""Sweep executors: Ray and submitit sweeps give ledgers identical to the local executor's on CPU,
a dead driver loses no finished run, a run that raises becomes a failed row, a requeued SLURM job
resumes from its checkpoint, and the CLI rejects missing dependencies and bad executor flags."""

import json
import sys

import pytest

torch = pytest.importorskip("torch")

from bridge.cli import main as cli_main  # noqa: E402
from empirical import executors as ex_mod  # noqa: E402
from empirical import sweep as sweep_mod  # noqa: E402
from empirical.config import DEFAULTS, expand, load_config  # noqa: E402
from empirical.executors import ExecutorConfig, RunJob  # noqa: E402
from empirical.ledger import Ledger, Row  # noqa: E402
from empirical.plan import plan  # noqa: E402
from empirical.rows import finished_result  # noqa: E402
from empirical.run import run_one  # noqa: E402

TINY = {"name": "tiny", "data": "deadleaves", "size": 16, "N": [4, 12], "width": 4, "depth": 1, "n_val": 6,
        "n_test": 4, "batch_size": 4, "epochs": 5.0, "min_steps": 30, "max_steps": 60, "eval_every": 15,
        "early_stop_patience": 100, "sigma": 0.2, "device": "cpu", "lr": 3e-3}
TIMING = ("wall_s", "updated", "attempts")  # everything else must match exactly
THREADS = 1  # what Ray and SLURM runs default to with cpus_per_run=1; the reference uses the same


def tiny_cfg(**kw):
    return {**DEFAULTS, **TINY, **kw}


def ledger_rows(path):
    with Ledger(path) as led:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in led.rows()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny sweep through the local executor, with the thread count the distributed runs use."""
    out = tmp_path_factory.mktemp("reference")
    path = sweep_mod.run_sweep(tiny_cfg(), out, executor=ExecutorConfig(threads_per_run=THREADS), progress=False).ledger
    rows = ledger_rows(path)
    assert [r["status"] for r in rows] == ["done", "done"]
    return rows


def assert_same_ledger(path, reference):
    rows = ledger_rows(path)
    assert [r["status"] for r in rows] == ["done"] * len(reference), [r["reason"] for r in rows]
    assert rows == reference  # ids, configs, params, steps, best step, val/test/input metrics, history: exact


def _ray():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'reconscale[distributed]')")
    return ray


@pytest.fixture(scope="module")
def _ray_teardown():
    """Stops the module's shared Ray instance (if one was started) after the module's last test."""
    yield
    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        sys.modules["ray"].shutdown()


@pytest.fixture
def ray_running(_ray_teardown):
    """A local Ray instance started by the caller, as a user with a running cluster has one, shared by this
    module's tests (a start costs several seconds); the executor must use it and leave it running."""
    from pathlib import Path

    ray = _ray()
    if not ray.is_initialized():
        root = str(Path(ex_mod.__file__).resolve().parents[1])  # workers import this checkout
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR",
                 runtime_env={"env_vars": {"PYTHONPATH": root}})
    return ray


def _submitit():
    return pytest.importorskip("submitit", reason="submitit is not installed (pip install 'reconscale[distributed]')")


# --------------------------------------------------------------------------- identical ledgers
def test_ray_sweep_equals_local(tmp_path, reference):
    """With no instance running, the executor starts one for the sweep and stops it again."""
    ray = _ray()
    if ray.is_initialized():  # the shared instance of an earlier test in this worker
        ray.shutdown()
    path = sweep_mod.run_sweep(tiny_cfg(), tmp_path, executor=ExecutorConfig(kind="ray", workers=2), progress=False)
    assert_same_ledger(path.ledger, reference)
    assert not ray.is_initialized()  # the instance the executor started is stopped again


#: a target axis (noisy targets, fixed training noise) × the closed-form linear estimator: 4 runs
SELFSUP = {"N": [4], "target": ["clean", "noisy"], "train_noise": "fixed", "arch": ["unet", "linear-exact"], "size": 8}


@pytest.fixture(scope="module")
def selfsup_reference(tmp_path_factory):
    """The self-supervised sweep through the local executor (shared by the executors compared with it)."""
    out = tmp_path_factory.mktemp("selfsup_reference")
    rows = ledger_rows(sweep_mod.run_sweep(tiny_cfg(**SELFSUP), out, executor=ExecutorConfig(threads_per_run=THREADS),
                                           progress=False).ledger)
    assert len(rows) == 4 and {r["config"]["target"] for r in rows} == {"clean", "noisy"}
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["process", "ray", "slurm"])
def test_self_supervised_targets_run_on_every_executor(tmp_path, kind, request, selfsup_reference):
    """A target axis (noisy targets, fixed training noise, and the closed-form linear estimator) gives the
    local executor's ledger on the process pool, Ray and submitit alike."""
    if kind == "ray":
        request.getfixturevalue("ray_running")
    if kind == "slurm":
        _submitit()
    ecfg = {"process": ExecutorConfig(kind="process", workers=2, threads_per_run=THREADS),
            "ray": ExecutorConfig(kind="ray", workers=2),
            "slurm": ExecutorConfig(kind="slurm", cluster="local")}[kind]
    ledger = sweep_mod.run_sweep(tiny_cfg(**SELFSUP), tmp_path / kind, executor=ecfg, progress=False).ledger
    assert_same_ledger(ledger, selfsup_reference)  # (the plain clean-target sweep is a special case of this one)
    if kind == "slurm":  # one submitit job per run, its files under the sweep directory
        assert len(sorted((tmp_path / kind / "submitit").glob("*_log.out"))) == len(selfsup_reference)
        assert sorted(p.name for p in (tmp_path / kind).iterdir()) == [".driver.lock", "ledger.sqlite", "runs",
                                                                      "submitit"]


def test_threads_per_run_is_applied_and_restored(tmp_path):
    seen = []

    def work(run, d, progress=False):
        seen.append(torch.get_num_threads())
        return Row("done")

    before = torch.get_num_threads()
    target = 1 if before > 1 else 2
    ex_mod.guarded(work, None, tmp_path, target)
    ex_mod.guarded(work, None, tmp_path, None)
    assert seen == [target, before] and torch.get_num_threads() == before
    assert ExecutorConfig(kind="ray", cpus_per_run=2.5).threads() == 3
    assert ExecutorConfig(kind="slurm", threads_per_run=4).threads() == 4
    assert ExecutorConfig(kind="local").threads() is None


# --------------------------------------------------------------------------- a dead driver loses nothing
def _driver_died_after_first_run(out, cfg):
    """The state a driver killed at the worst moment leaves: run 0 finished in its worker (ckpt and
    result.json written) but the ledger still says running; run 1 pending."""
    runs = expand(cfg)
    rids = [r.id for r in runs]
    with Ledger(out / "ledger.sqlite") as led:
        for r in runs:
            led.add(r.name, r.id, r.to_dict())
        led.start(rids[0])
    ex_mod.guarded(run_one, plan(runs[0]), out / "runs" / rids[0], THREADS)
    with Ledger(out / "ledger.sqlite") as led:
        assert [led.get(r)["status"] for r in rids] == ["running", "pending"]
    return runs, rids


@pytest.mark.parametrize("kind", ["local", "process", "ray", "slurm"])
def test_killed_driver_resumes_without_retraining(tmp_path, reference, monkeypatch, kind, request):
    if kind == "ray":
        request.getfixturevalue("ray_running")
    if kind == "slurm":
        _submitit()
    cfg = tiny_cfg()
    runs, rids = _driver_died_after_first_run(tmp_path, cfg)
    done = tmp_path / "runs" / rids[0]
    stamps = {p.name: p.stat().st_mtime_ns for p in done.iterdir()}
    work = run_one
    if kind == "local":  # in-process we can also forbid the call itself
        def work(p, *a, **k):
            assert p.config.id != rids[0], "a finished run was trained again"
            return run_one(p, *a, **k)

    extra = {"workers": 2} if kind in ("process", "ray") else {"cluster": "local"} if kind == "slurm" else {}
    ecfg = ExecutorConfig(kind=kind, threads_per_run=THREADS, **extra)
    assert_same_ledger(sweep_mod.run_sweep(cfg, tmp_path, executor=ecfg, progress=False, work=work).ledger, reference)
    assert {p.name: p.stat().st_mtime_ns for p in done.iterdir()} == stamps  # no worker touched the finished run


def test_only_a_matching_finished_result_is_adopted(tmp_path, reference, monkeypatch):
    cfg = tiny_cfg()
    runs, rids = _driver_died_after_first_run(tmp_path, cfg)
    other = tmp_path / "runs" / rids[1]
    other.mkdir(parents=True)
    saved = json.loads((tmp_path / "runs" / rids[0] / "result.json").read_text())
    (other / "result.json").write_text(json.dumps(saved))  # a done result, but of another config
    trained = []
    sweep_mod.run_sweep(cfg, tmp_path, executor=ExecutorConfig(threads_per_run=THREADS), progress=False,
                        work=lambda p, *a, **k: trained.append(p.config.id) or run_one(p, *a, **k))
    assert trained == [rids[1]]
    assert_same_ledger(tmp_path / "ledger.sqlite", reference)
    (other / "result.json").write_text('{"config": ')  # truncated: ignored, the run trains (not crashes)
    assert finished_result(runs[1], other) is None


# --------------------------------------------------------------------------- failures become rows
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "process", "ray", "slurm"])
def test_a_run_that_raises_becomes_a_failed_row(tmp_path, reference, kind, request):
    ray = request.getfixturevalue("ray_running") if kind == "ray" else None
    if kind == "slurm":
        _submitit()
    cfg = tiny_cfg()
    runs = expand(cfg)
    bad = tmp_path / "runs" / runs[1].id
    bad.mkdir(parents=True)
    (bad / "ckpt.pt").write_bytes(b"not a checkpoint")  # train() raises CheckpointError inside the worker
    ecfg = {"ray": ExecutorConfig(kind="ray", workers=2), "slurm": ExecutorConfig(kind="slurm", cluster="local"),
            "local": ExecutorConfig(threads_per_run=THREADS),
            "process": ExecutorConfig(kind="process", workers=2, threads_per_run=THREADS)}[kind]
    summary = sweep_mod.run_sweep(cfg, tmp_path, executor=ecfg, progress=False)
    if kind == "ray":  # an instance the caller started: the executor used it and left it running
        assert ray.is_initialized()
    rows = ledger_rows(summary.ledger)
    by_id = {r["run_id"]: r for r in rows}
    failed = by_id[runs[1].id]
    assert failed["status"] == "failed" and not summary.complete and summary.failed == 1
    assert "CheckpointError" in failed["reason"] and "unreadable" in failed["reason"], failed["reason"]
    assert "\n" not in failed["reason"]
    # the corrupt file was moved aside (named in the reason), so a retry trains from scratch
    (aside,) = bad.glob("ckpt.pt.bad-*")
    assert aside.name in failed["reason"] and aside.read_bytes() == b"not a checkpoint"
    assert by_id[runs[0].id] == next(r for r in reference if r["run_id"] == runs[0].id)
    if kind in ("local", "process"):
        again = sweep_mod.run_sweep(cfg, tmp_path, executor=ecfg, progress=False, retry_failed=True)
        assert again.complete
        assert_same_ledger(again.ledger, reference)


# --------------------------------------------------------------------------- SLURM requeue
def test_requeued_job_resumes_from_its_checkpoint(tmp_path, reference, monkeypatch):
    submitit = _submitit()
    from empirical import train as train_mod

    run = expand(tiny_cfg())[1]
    rdir = tmp_path / "runs" / run.id
    orig_save = train_mod.save_checkpoint

    def preempted_after_first_checkpoint(obj, path):
        orig_save(obj, path)
        raise KeyboardInterrupt  # the job is stopped right after its first checkpoint

    monkeypatch.setattr(train_mod, "save_checkpoint", preempted_after_first_checkpoint)
    p = plan(run)
    submission = submitit.helpers.DelayedSubmission(RunJob(run_one), p, str(rdir), THREADS)
    with pytest.raises(KeyboardInterrupt):
        submission.result()
    assert (rdir / "ckpt.pt").exists() and not (rdir / "result.json").exists()
    monkeypatch.setattr(train_mod, "save_checkpoint", orig_save)
    # what submitit does on timeout/preemption: ask the callable for its checkpoint, dump it, requeue
    requeued = submission._checkpoint_function()
    assert isinstance(requeued, submitit.helpers.DelayedSubmission)
    assert isinstance(requeued.function, RunJob) and requeued.args == (p, str(rdir), THREADS)
    requeued.dump(tmp_path / "submitted.pkl")
    row = submitit.helpers.DelayedSubmission.load(tmp_path / "submitted.pkl").result()
    ref = next(r for r in reference if r["run_id"] == run.id)
    assert row.status == "done"
    assert (row.metrics, row.best_step, row.steps) == (ref["metrics"], ref["best_step"], ref["steps"])


# --------------------------------------------------------------------------- configuration and CLI
def test_executor_config_errors():
    for kw, match in [({"kind": "mpi"}, "kind"), ({"kind": "local", "address": "auto"}, "address applies"),
                      ({"kind": "process", "cpus_per_run": 2}, "cpus_per_run applies"),
                      ({"kind": "ray", "partition": "gpu"}, "partition applies"),
                      ({"kind": "ray", "cpus_per_run": 0}, "cpus_per_run"),
                      ({"kind": "ray", "gpus_per_run": -0.5}, "gpus_per_run"),
                      ({"kind": "ray", "gpus_per_run": 1.5}, "whole number"),
                      ({"kind": "slurm", "gpus_per_run": 0.5}, "whole CPUs and GPUs"),
                      ({"kind": "ray", "workers": 0}, "workers"), ({"kind": "local", "threads_per_run": 0}, "threads"),
                      ({"kind": "slurm", "timeout_min": 0}, "timeout_min"),
                      ({"kind": "slurm", "cluster": "pbs"}, "cluster")]:
        with pytest.raises(ValueError, match=match) as e:
            ExecutorConfig(**kw)
        assert "\n" not in str(e.value)
    ExecutorConfig(kind="ray", gpus_per_run=0.25, cpus_per_run=0.5)  # fractional GPUs pack runs on a GPU
    with pytest.raises(ValueError, match="workers inside"):
        sweep_mod.run_sweep(tiny_cfg(), "unused", executor=ExecutorConfig(), workers=2)


@pytest.mark.parametrize(("kind", "module"), [("ray", "ray"), ("slurm", "submitit")])
def test_missing_dependency_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch, kind, module):
    monkeypatch.setitem(sys.modules, module, None)  # `import ray` now fails, as without the extra
    out = tmp_path / "sweep"
    assert cli_main(["sweep", "quick-denoise", "--out", str(out), "--executor", kind, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--executor {kind} needs {module}" in err and "reconscale[distributed]" in err
    with pytest.raises(ImportError, match=f"needs {module}"):
        sweep_mod.run_sweep(tiny_cfg(), out, executor=kind, progress=False)
    assert not out.exists()


def test_cli_executor_flag_errors(tmp_path, capsys):
    out = tmp_path / "sweep"
    for flags, match in [(["--workers", "2"], "--workers applies to --executor process or ray, not local"),
                         (["--executor", "ray", "--partition", "gpu"], "--partition applies to --executor slurm"),
                         (["--executor", "slurm", "--address", "auto"], "--address applies to --executor ray"),
                         (["--executor", "process", "--gpus-per-run", "1"], "--gpus-per-run applies"),
                         (["--executor", "ray", "--cpus-per-run", "0"], "--cpus-per-run 0.0 must be"),
                         (["--executor", "ray", "--gpus-per-run", "2.5"], "--gpus-per-run 2.5: above 1"),
                         (["--executor", "ray", "--workers", "0"], "--workers 0 must be"),
                         (["--executor", "slurm", "--cpus-per-run", "1.5"], "whole CPUs"),
                         (["--executor", "slurm", "--timeout-min", "0"], "--timeout-min 0 must be"),
                         (["--executor", "slurm", "--slurm-param", "mem_gb"], "--slurm-param 'mem_gb': expected"),
                         (["--executor", "slurm", "--slurm-cluster", "pbs"], "invalid choice"),
                         (["--executor", "ray", "--threads-per-run", "two"], "invalid int value"),
                         (["--executor", "mpi"], "invalid choice")]:
        assert cli_main(["sweep", "quick-denoise", "--out", str(out), *flags]) == 2, flags
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err, (flags, err)
    assert not any(tmp_path.iterdir())


def test_cli_dry_run_accepts_executor_flags(tmp_path, capsys):
    _submitit()
    argv = ["sweep", "quick-denoise", "--out", str(tmp_path / "s"), "--executor", "slurm", "--partition", "gpu",
            "--timeout-min", "30", "--slurm-param", "mem_gb=8", "--array-parallelism", "4", "--dry-run"]
    assert cli_main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(expand(load_config("quick-denoise")))
    assert not any(tmp_path.iterdir())
