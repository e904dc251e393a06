"""Issue 19 §6 "Reliability": each failure of the sweep machinery reproduced, then fixed.

Bad sizes are refused in validation (n_test=0, images that cannot fit in memory, a dry run of a
huge N), SIGTERM is Ctrl-C, and no child outlives its parent: pool workers of a killed driver, the
child sweep of a killed demo. The kill tests run real processes with bounded waits.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from bridge.cli import main as cli_main  # noqa: E402
from empirical.config import RunConfig  # noqa: E402
from empirical.ledger import DriverLock, Ledger  # noqa: E402
from empirical.plan import validate  # noqa: E402
from empirical.sweep import run_sweep  # noqa: E402
from tests.helpers import cli_one_line, raises_one_line  # noqa: E402

plan_mod = importlib.import_module("empirical.plan")  # the package exports a function of that name
ROOT = Path(__file__).resolve().parents[2]
#: A tiny quick-denoise: 2 runs of 4 steps on 16×16 crops (seconds).
TINY = ["--set", "N=[4,8]", "--set", "width=4", "--set", "depth=1", "--set", "size=16", "--set", "min_steps=4",
        "--set", "max_steps=4", "--set", "eval_every=2", "--set", "n_val=4", "--set", "n_test=4",
        "--set", "batch_size=4", "--set", 'device="cpu"', "--quiet"]
#: One run that trains for far longer than any test waits (it is always killed), checkpointing often.
ENDLESS = ["--set", "N=[4]", *TINY[2:], "--set", "min_steps=1000000", "--set", "max_steps=1000000",
           "--set", "early_stop_patience=1000000"]
TINY_CFG = {"name": "tiny", "data": "deadleaves", "size": 16, "N": [4, 8], "width": 4, "depth": 1, "n_val": 4,
            "n_test": 4, "batch_size": 4, "min_steps": 4, "max_steps": 4, "eval_every": 2, "device": "cpu"}
WAIT_S = 90.0  # the longest any test waits for a process to reach a state (a loaded machine imports torch slowly)


def sweep(out, *extra):
    return cli_main(["sweep", "quick-denoise", "--out", str(out), *TINY, *extra])


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
            "OMP_NUM_THREADS": "1"}


def wait_for(condition, what: str, timeout: float = WAIT_S) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie may wait a while for init to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return not Path("/proc").is_dir()


def children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def statuses(out: Path) -> list[str]:
    with Ledger(out / "ledger.sqlite") as led:  # the writer's view: no read-only reinterpretation
        return [r["status"] for r in led.rows()]


def running(out: Path) -> bool:
    """A live driver has a run in training (read-only: the poll must not create or lock the ledger)."""
    if not (out / "ledger.sqlite").is_file() or not any((out / "runs").glob("*/ckpt.pt")):
        return False
    try:
        with Ledger.open_readonly(out / "ledger.sqlite") as led:
            return "running" in [r["status"] for r in led.rows()]
    except (OSError, ValueError):
        return False


def kill_all(pids) -> None:
    for pid in pids:  # only processes this test started (directly or through the code under test)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------- 1-3: refused in validation
def test_n_test_zero_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "s"
    cli_one_line(sweep(out, "--set", "n_test=0"), capsys.readouterr().err, "n_test=0", "n_test ≥ 1", out=out)
    raises_one_line(lambda: RunConfig(n_test=0), "n_test=0 must be a positive integer")


def test_images_that_cannot_fit_in_memory_are_refused_with_an_estimate(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plan_mod, "memory_bytes", lambda: 2**20)  # a 1 MiB machine
    out = tmp_path / "s"
    # the first run already: 4 + 4 + 4 images of 256² pixels, 3 MiB
    err = cli_one_line(sweep(out, "--set", "size=256"), capsys.readouterr().err, "size=256", "N=4", "3.0 MiB",
                       "1.0 MiB", "smaller size", out=out)
    assert "(N + n_val + n_test)" in err
    assert sweep(out, "--set", "size=128") == 0  # 8 + 4 + 4 images of 128²: 1 MiB, which fits


def test_a_huge_size_is_refused_in_validation(tmp_path, capsys, monkeypatch):
    """size=100000 used to reach a 74.5 GiB allocation in the run (on a machine of 16 GiB, say)."""
    monkeypatch.setattr(plan_mod, "memory_bytes", lambda: 16 * 2**30)
    out = tmp_path / "s"
    cli_one_line(sweep(out, "--set", "size=100000"), capsys.readouterr().err, "size=100000", "447.0 GiB of memory",
                 "16.0 GiB", "smaller size", out=out)


def test_a_dry_run_of_a_huge_N_allocates_nothing(tmp_path, capsys, monkeypatch):
    """N=1e9 --dry-run used to build its index arrays (24 GB) before failing."""
    t0 = time.perf_counter()
    cli_one_line(sweep(tmp_path / "s", "--set", "N=[1000000000]", "--set", "size=64", "--dry-run"),
                 capsys.readouterr().err, "N=1000000000", "14.9 TiB of memory", out=tmp_path / "s")
    assert time.perf_counter() - t0 < 30
    raises_one_line(lambda: validate([RunConfig(N=10**9, size=64, data="deadleaves")]), r"N=1000000000 .* memory")
    # and the estimate is what refuses (not a later failure): a small machine refuses a small N
    monkeypatch.setattr(plan_mod, "memory_bytes", lambda: 2**20)
    cli_one_line(sweep(tmp_path / "s", "--set", "N=[100000]", "--dry-run"), capsys.readouterr().err,
                 "N=100000", "MiB of memory")


# --------------------------------------------------------------------------- 4: SIGTERM is Ctrl-C
@pytest.mark.parametrize("executor", ["local", "process"])
def test_sigterm_requeues_running_rows_and_says_one_line(tmp_path, executor):
    """With a process pool, the driver stops its workers rather than waiting for their runs to end."""
    out = tmp_path / "s"
    extra = ["--executor", "process", "--workers", "1"] if executor == "process" else []
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "sweep", "quick-denoise", "--out", str(out), *ENDLESS,
                             *extra], env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        wait_for(lambda: running(out) or proc.poll() is not None, "the sweep to train")
        workers = children(proc.pid) if Path("/proc/self/stat").exists() else []
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)  # the endless run is not waited for
        wait_for(lambda: not any(alive(w) for w in workers), "the workers to exit", timeout=10)
    finally:
        kill_all([proc.pid, *workers])
    cli_one_line(proc.returncode, err, "terminated", "re-run", exit_code=143)
    assert statuses(out) == ["pending"]
    assert DriverLock.holder(out) is None


# --------------------------------------------------------------------------- 5: workers die with their driver
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the pool's workers through /proc")
def kill_and_watch_children(parent: subprocess.Popen, out: Path, what: str, *, timeout: float) -> None:
    """Once ``parent`` trains into ``out``, SIGKILL it and wait (bounded) until its children are gone too."""
    kids: list[int] = []
    try:
        wait_for(lambda: running(out) or parent.poll() is not None, f"the {what} to train")
        kids = children(parent.pid)
        assert kids, f"no {what} process was started"
        parent.kill()
        parent.wait(timeout=WAIT_S)
        wait_for(lambda: not any(alive(k) for k in kids), f"the orphaned {what} to exit", timeout=timeout)
    finally:
        kill_all([parent.pid, *kids])


def test_process_pool_workers_die_with_a_killed_driver(tmp_path):
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "sweep", "quick-denoise", "--out", str(out), *ENDLESS,
                             "--executor", "process", "--workers", "1"], env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    kill_and_watch_children(proc, out, "pool worker", timeout=15)
    assert DriverLock.holder(out) is None


# --------------------------------------------------------------------------- 6: a demo's child dies with the demo
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the child through /proc")
def test_the_child_sweep_of_a_killed_demo_stops_and_frees_its_directory(tmp_path):
    """bridge.stages.run_step is how the demo (and reconscale controlled) start their child sweeps."""
    out = tmp_path / "s"
    script = ("import sys; from bridge.stages import run_step; "
              f"run_step({json.dumps(['sweep', 'quick-denoise', '--out', str(out), *ENDLESS])}, 'network', quiet=True)")
    demo = subprocess.Popen([sys.executable, "-c", script], env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    kill_and_watch_children(demo, out, "child sweep", timeout=30)
    assert DriverLock.holder(out) is None  # the re-run is not refused
    assert statuses(out) == ["pending"]  # it stopped as on Ctrl-C: its run resumes on the re-run


# --------------------------------------------------------------------------- the corrupt-ledger hint is true
def test_a_ledger_moved_aside_is_rebuilt_from_result_json_without_retraining(tmp_path):
    out = tmp_path / "s"
    assert run_sweep(TINY_CFG, out, progress=False).complete
    with Ledger(out / "ledger.sqlite") as led:
        before = {r["run_id"]: r["metrics"] for r in led.rows()}
    (out / "ledger.sqlite").write_bytes(b"garbage" * 100)
    msg = raises_one_line(lambda: run_sweep(TINY_CFG, out, progress=False), "not a reconscale ledger")
    assert "move it aside" in msg and "result.json" in msg
    (out / "ledger.sqlite").rename(out / "ledger.sqlite.bad")
    summary = run_sweep(TINY_CFG, out, progress=False, work=must_not_train)
    assert summary.complete and summary.runs == 2
    with Ledger(out / "ledger.sqlite") as led:
        assert {r["run_id"]: r["metrics"] for r in led.rows()} == before


def must_not_train(run, run_dir, progress=False):
    raise AssertionError(f"run {run.id} was trained again")
