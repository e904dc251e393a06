"""The sweep under bad input, faults and concurrent use (issue 10's "Broken" list, each reproduced).

Each test here failed on the code before the sweep path was rebuilt: bad values gave a traceback
and a half-written ledger, a corrupt checkpoint stopped the local sweep, two drivers trained every
run twice, a full disk left a temp file and a row stuck at ``running``, written files were mode
0600, a diverged network was ``done`` without a flag.
"""

import errno
import json
import os
import stat
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")

from bridge.cli import main as cli_main  # noqa: E402
from empirical import sweep as sweep_mod  # noqa: E402
from empirical.config import DEFAULTS, RunConfig, expand  # noqa: E402
from empirical.ledger import DriverLock, Ledger, Row, SweepBusy  # noqa: E402
from empirical.plan import plan  # noqa: E402
from empirical.run import run_one  # noqa: E402
from tests.helpers import cli_one_line

#: A tiny quick-denoise: 2 runs of 4 steps on 16×16 crops (seconds).
TINY = ["--set", "N=[4,8]", "--set", "width=4", "--set", "depth=1", "--set", "size=16", "--set", "min_steps=4",
        "--set", "max_steps=4", "--set", "eval_every=2", "--set", "n_val=4", "--set", "n_test=4",
        "--set", "batch_size=4", "--set", 'device="cpu"', "--quiet"]
TINY_CFG = {"name": "tiny", "data": "deadleaves", "size": 16, "N": [4, 8], "width": 4, "depth": 1, "n_val": 4,
            "n_test": 4, "batch_size": 4, "min_steps": 8, "max_steps": 8, "eval_every": 4, "device": "cpu",
            "sigma": 0.2, "lr": 3e-3, "early_stop_patience": 100}


def sweep(out, *extra):
    return cli_main(["sweep", "quick-denoise", "--out", str(out), *TINY, *extra])


def one_line_error(capsys, code, *expected):
    return cli_one_line(code, capsys.readouterr().err, *expected)


# --------------------------------------------------------------------------- validate, then write
@pytest.mark.parametrize(("override", "expected"), [
    ("sigma=-1", "sigma=-1.0"),
    ('arch="foo"', "arch='foo': use unet, swinir or linear"),
    ("lr=nan", "lr=nan"),
    ('data="foo"', "data='foo'"),
    ('optimizer="foo"', "optimizer='foo'"),
    ("min_steps=10", "min_steps=10 exceeds max_steps=4"),
    ("size=3", "size=3"),
    ("N=[4,8.5]", "N=8.5 must be an integer"),
    ("accel=8.0", "accel=8.0 applies only to task mri"),
    ("source.nope=1", "unknown option(s) nope"),
    ('loss="huber"', "loss='huber'"),
    ("plateau_factor=2.0", "plateau_factor=2.0"),
])
def test_bad_value_is_one_line_and_writes_nothing(tmp_path, capsys, override, expected):
    out = tmp_path / "sweep"
    one_line_error(capsys, sweep(out, "--set", override), expected)
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_without_a_gpu_is_one_line(tmp_path, capsys):
    one_line_error(capsys, sweep(tmp_path / "s", "--set", 'device="cuda"'), "device='cuda'", "no CUDA GPU")
    assert not any(tmp_path.iterdir())


def test_bad_paths_are_one_line(tmp_path, capsys):
    cfg_dir = tmp_path / "cfgdir"
    cfg_dir.mkdir()
    one_line_error(capsys, cli_main(["sweep", str(cfg_dir), "--out", str(tmp_path / "o")]), "is a directory")
    afile = tmp_path / "afile"
    afile.write_text("x")
    one_line_error(capsys, sweep(afile), "is a file")
    one_line_error(capsys, sweep(afile / "below"), "is a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "cfgdir"]


def test_a_fixed_config_runs_cleanly_after_a_rejected_one(tmp_path, capsys):
    """Before: the rejected sweep left its rows at running/pending, and they stayed in `results`."""
    out = tmp_path / "s"
    one_line_error(capsys, sweep(out, "--set", "sigma=-1"))
    assert sweep(out) == 0
    with Ledger(out / "ledger.sqlite") as led:
        assert [r["status"] for r in led.rows()] == ["done", "done"]


# --------------------------------------------------------------------------- one driver per directory
def test_a_second_driver_refuses_and_a_dead_ones_lock_is_taken_over(tmp_path, capsys):
    out = tmp_path / "s"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from empirical.ledger import DriverLock; "
                               f"lk = DriverLock({str(out)!r}).acquire(); print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        one_line_error(capsys, sweep(out), "is in use by reconscale sweep", f"pid {holder.pid}")
        assert not (out / "ledger.sqlite").exists()
        with pytest.raises(SweepBusy):
            DriverLock(out).acquire()
    finally:
        holder.kill()  # as kill -9: the kernel drops the lock with the process
        holder.wait()
        holder.stdout.close()
    assert sweep(out) == 0


@pytest.mark.slow
def test_concurrent_drivers_never_train_a_run_twice(tmp_path):
    """Two real drivers started together: one trains, the other refuses; no run is trained twice."""
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "bridge", "sweep", "quick-denoise", "--out", str(out), *TINY]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    codes = sorted(c for c, _ in results)
    assert codes in ([0, 0], [0, 2]), results  # the second either refused, or started after the first ended
    with Ledger(out / "ledger.sqlite") as led:
        rows = led.rows()
    assert [r["status"] for r in rows] == ["done", "done"] and all(r["attempts"] == 1 for r in rows)


# --------------------------------------------------------------------------- storage errors stop cleanly
def test_disk_full_while_checkpointing_stops_cleanly_and_resumes(tmp_path, capsys, monkeypatch):
    import theory.infra.io as io_mod

    out = tmp_path / "s"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io_mod.os, "fsync", full)
    code = sweep(out)
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err, err
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]  # no temp file left behind
    with Ledger(out / "ledger.sqlite") as led:
        assert {r["status"] for r in led.rows()} == {"pending"}  # nothing stuck at running
    monkeypatch.undo()
    assert sweep(out) == 0


def test_ledger_disk_full_is_an_os_error(tmp_path):
    import sqlite3

    with Ledger(tmp_path / "l.sqlite") as led:
        real = led._db

        class Full:
            def execute(self, sql, *a):
                if sql.startswith("UPDATE"):
                    raise sqlite3.OperationalError("database or disk is full")
                return real.execute(sql, *a)

        led.add("s", "r", {})
        led._db = Full()
        with pytest.raises(OSError) as e:
            led.start("r")
        assert e.value.errno == errno.ENOSPC
        led._db = real


# --------------------------------------------------------------------------- files others can read
def test_written_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        summary = sweep_mod.run_sweep({**DEFAULTS, **TINY_CFG, "N": 4}, tmp_path, progress=False)
    finally:
        os.umask(old)
    assert summary.complete
    (run_dir,) = (tmp_path / "runs").iterdir()
    for name in ("ckpt.pt", "result.json"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o644, name


# --------------------------------------------------------------------------- flags on nonsense
def test_a_network_worse_than_its_input_is_flagged(tmp_path, capsys):
    run = RunConfig(**{**DEFAULTS, **TINY_CFG, "N": 8, "lr": 1000.0, "schedule": "constant"})
    row = run_one(plan(run), tmp_path / "r")
    if row.status == "failed":  # diverged to a non-finite loss: flagged as a failure already
        assert "non-finite" in row.reason
        return
    assert row.warning and "worse than the input" in row.warning, row.metrics["val"]
    assert row.metrics["val"]["psnr"] < row.metrics["val_input"]["psnr"]
    good = run_one(plan(RunConfig(**{**DEFAULTS, **TINY_CFG, "N": 8, "min_steps": 120, "max_steps": 120,
                                     "eval_every": 40})), tmp_path / "g")
    assert good.status == "done" and not good.warning


def test_results_show_the_warning(tmp_path, capsys):
    cfg = {**DEFAULTS, **TINY_CFG, "N": 4}

    def diverged(run, run_dir, progress=False):
        return Row("done", warning="best validation psnr 5 dB is worse than the input's 20 dB", metrics={
            "val": {"psnr": 5.0}, "test": {"psnr": 5.0}, "test_input": {"psnr": 20.0}})

    summary = sweep_mod.run_sweep(cfg, tmp_path, progress=False, work=diverged)
    assert summary.warned == 1
    assert cli_main(["results", str(tmp_path), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert "worse than the input" in row["warning"]


# --------------------------------------------------------------------------- the API, not only the CLI
def test_api_validates_before_writing(tmp_path):
    with pytest.raises(ValueError, match="optimizer='sgd'"):
        sweep_mod.run_sweep({**DEFAULTS, **TINY_CFG, "optimizer": "sgd"}, tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()
    runs = expand({**DEFAULTS, **TINY_CFG})
    assert all(isinstance(r, RunConfig) for r in runs) and len({r.id for r in runs}) == 2


def test_wall_time_counts_every_attempt(tmp_path, crash_at_checkpoint):
    from empirical import train as train_mod

    run = RunConfig(**{**DEFAULTS, **TINY_CFG, "N": 8})
    crash_at_checkpoint(train_mod, 1)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_one(plan(run), tmp_path / "r")
    first = torch.load(tmp_path / "r" / "ckpt.pt", weights_only=True)["wall_s"]
    assert 0 < first <= time.perf_counter() - t0
    row = run_one(plan(run), tmp_path / "r")
    assert row.status == "done" and row.wall_s > first
