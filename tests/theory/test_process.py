"""theory.infra.process: a child dies with its parent, also where the kernel cannot tell it (the watchdog).

Real processes with bounded waits; no torch. A parent starts a child that calls ``die_with_parent``
and sleeps; the parent is SIGKILLed; the child must exit within seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import theory.infra.process as tp

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys, time
import theory.infra.process as tp
if {portable}:
    sys.platform = "darwin"  # no prctl: only the portable watchdog can notice the parent's death
tp.die_with_parent({parent})
print("ready", flush=True)
time.sleep(120)
"""
PARENT = """
import subprocess, sys, os
child = subprocess.Popen([sys.executable, "-c", sys.argv[1].replace("PARENT", str(os.getpid()))],
                         stdout=subprocess.PIPE, text=True)
print(child.pid, child.stdout.readline().strip(), flush=True)
child.wait()
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a reparented zombie is dead, whether or not init has reaped it yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return not Path("/proc").is_dir()


@pytest.mark.parametrize("portable", [False, True], ids=["prctl", "watchdog"])
def test_a_child_dies_with_its_killed_parent(portable):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    child_code = CHILD.format(portable=portable, parent="PARENT")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, child_code], env=env, stdout=subprocess.PIPE, text=True)
    child = None
    try:
        line = parent.stdout.readline().split()
        assert line[1:] == ["ready"], line
        child = int(line[0])
        assert alive(child)
        parent.kill()
        parent.wait(timeout=30)
        end = time.monotonic() + 10
        while alive(child) and time.monotonic() < end:
            time.sleep(0.05)
        assert not alive(child), "the child outlived its parent"
    finally:
        for pid in (parent.pid, child):
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        parent.stdout.close()


def test_a_child_whose_parent_is_already_gone_exits():
    """The parent died before the child could ask to die with it: the child must not linger."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    code = CHILD.format(portable=False, parent=1)  # "my parent is pid 1" is never true for this child
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGTERM and "ready" not in proc.stdout


def test_interrupts_wait_until_the_deferred_block_ends():
    """SIGTERM sent inside the block is held back (the write finishes), then raises as Ctrl-C would."""
    steps = []
    with pytest.raises(tp.Terminated):
        with tp.sigterm_as_interrupt():
            with tp.interrupts_deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # a handler that ran here would raise before the next step
                steps.append("written")
            steps.append("after")  # the held signal is delivered on leaving the block
    assert steps == ["written"]
