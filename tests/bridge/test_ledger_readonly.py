"""Reading a ledger changes nothing, and says what a dead driver's ``running`` rows are (issue 19 §6).

No torch: a ledger is written here with :class:`empirical.ledger.Ledger` directly.
"""

from __future__ import annotations

import os
import stat

import pytest

from bridge.cli import main as cli_main
from bridge.results import read_ledger
from empirical.ledger import INTERRUPTED, DriverLock, Ledger, Row


def make_ledger(directory, statuses=("done", "running", "pending")):
    """A ledger with one row per status, closed again (as a finished or killed driver leaves it)."""
    with Ledger(directory / "ledger.sqlite") as led:
        for i, status in enumerate(statuses):
            rid = f"run{i}"
            led.add("s", rid, {"N": i + 1})
            if status != "pending":
                led.start(rid)
            if status == "done":
                led.finish(rid, Row(status="done", metrics={"test": {"psnr": 20.0}}))
    return directory


def test_reading_a_ledger_creates_no_files(tmp_path, capsys):
    d = make_ledger(tmp_path)
    before = sorted(os.listdir(d))
    assert not any(n.endswith(("-wal", "-shm")) for n in before)
    assert len(read_ledger(d)) == 3
    assert cli_main(["results", str(d), "--format", "csv"]) == 0
    capsys.readouterr()
    assert sorted(os.listdir(d)) == before


def test_a_killed_drivers_write_ahead_log_is_still_read(tmp_path):
    """A driver killed mid-sweep leaves committed rows in ``-wal``: the read-only path must see them."""
    import sqlite3  # noqa: PLC0415

    d = make_ledger(tmp_path, ("pending",))
    held = sqlite3.connect(d / "ledger.sqlite")  # keeps the log from being folded back on close
    held.execute("SELECT 1 FROM runs").fetchall()
    with Ledger(d / "ledger.sqlite") as led:
        led.start("run0")
        led.finish("run0", Row(status="done"))
    try:
        assert (d / "ledger.sqlite-wal").stat().st_size > 0
        assert [r["status"] for r in read_ledger(d)] == ["done"]
    finally:
        held.close()


def test_running_rows_without_a_driver_read_as_interrupted(tmp_path):
    d = make_ledger(tmp_path)
    rows = {r["run_id"]: r for r in read_ledger(d)}
    assert rows["run1"]["status"] == "pending" and rows["run1"]["reason"] == INTERRUPTED
    assert rows["run0"]["status"] == "done" and rows["run2"]["status"] == "pending"
    with Ledger.open_readonly(d / "ledger.sqlite") as led:
        assert led.counts() == {"pending": 2, "running": 0, "done": 1, "failed": 0}
    with Ledger(d / "ledger.sqlite") as led:  # nothing was written: the row itself is unchanged
        assert led.get("run1")["status"] == "running"
    with DriverLock(d):  # a live driver: its running rows are running
        assert {r["run_id"]: r["status"] for r in read_ledger(d)}["run1"] == "running"
        assert DriverLock.holder(d).startswith("reconscale sweep (pid")
    assert DriverLock.holder(d) is None


@pytest.fixture
def umask_002():
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


def test_the_ledger_respects_the_umask(tmp_path, umask_002):
    make_ledger(tmp_path)
    assert stat.S_IMODE((tmp_path / "ledger.sqlite").stat().st_mode) == 0o664
