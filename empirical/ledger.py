"""The sweep's results store: one SQLite file, one row per run, transactional writes. No torch.

The last step of the sweep path (config → runs → executor → one run → ledger). Statuses:
``pending`` → ``running`` → ``done`` | ``failed`` (with a ``reason``). A ``done`` row may carry a
``warning`` (e.g. the network ended worse than its own input). Rows carry the run's full config
(JSON), metrics (val, test and the input's own), parameter count, best step, steps, wall time of
every attempt, device and library versions. SQL is parameterised; every write is one transaction,
so killing the process at any moment loses nothing that had finished.

Only one driver writes a sweep directory at a time: :class:`DriverLock` (an advisory ``flock`` on
``DIR/.driver.lock``, released by the kernel when its process dies, however it dies) makes a second
``reconscale sweep`` on the same directory refuse with a line naming the running one. ``bridge``
reads ledgers through :meth:`Ledger.open_readonly`, which writes nothing beside the file and reads a
``running`` row of a directory no driver holds as the interrupted, ``pending`` run it is. The file
gets the umask's permissions, like every other file of a sweep.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

__all__ = ["Ledger", "Row", "DriverLock", "SweepBusy", "STATUSES", "INTERRUPTED"]

STATUSES = ("pending", "running", "done", "failed")
#: The reason a read-only ledger gives a ``running`` row that no driver is running.
INTERRUPTED = "interrupted (no driver holds the sweep directory); re-run the sweep to resume it"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id     TEXT PRIMARY KEY,
    sweep      TEXT NOT NULL,
    config     TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    reason     TEXT NOT NULL DEFAULT '',
    metrics    TEXT NOT NULL DEFAULT '{}',
    params     INTEGER,
    best_step  INTEGER,
    steps      INTEGER,
    wall_s     REAL,
    device     TEXT,
    versions   TEXT NOT NULL DEFAULT '{}',
    attempts   INTEGER NOT NULL DEFAULT 0,
    updated    REAL NOT NULL,
    warning    TEXT NOT NULL DEFAULT ''
);
"""
_JSON_COLUMNS = ("config", "metrics", "versions")


@dataclass
class Row:
    """What one run produced: the record an executor hands back and the ledger stores.

    Attributes:
        status: "done" or "failed".
        reason: why it failed (one line), else "".
        warning: a done run whose result is suspect, in words (e.g. worse than its input), else "".
        metrics: {"val", "val_input", "test", "test_input", "history", "conventions"} for done runs.
        params: trainable parameters; best_step / steps: the selected and the last step.
        wall_s: training time summed over every attempt (a resumed run counts all of them).
        device: where it trained; versions: python/torch/numpy versions.
    """

    status: str
    reason: str = ""
    warning: str = ""
    metrics: dict = field(default_factory=dict)
    params: int | None = None
    best_step: int | None = None
    steps: int | None = None
    wall_s: float | None = None
    device: str | None = None
    versions: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Row":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @classmethod
    def failed(cls, reason: str) -> "Row":
        return cls(status="failed", reason=" ".join(reason.split()) or "failed")


class SweepBusy(ValueError):
    """Another driver holds the sweep directory."""


class DriverLock:
    """An exclusive, non-blocking lock on a sweep directory, held for the life of a driver.

    ``flock`` is released by the kernel when the holding process exits or is killed, so a crashed
    driver never leaves a stale lock. (On network filesystems without ``flock`` support, run one
    driver per directory by hand.)
    """

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / ".driver.lock"
        self._fh: Any = None

    def acquire(self) -> "DriverLock":
        import fcntl  # noqa: PLC0415  (POSIX only, like SLURM and most Ray clusters)

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115  (held open for the lock's lifetime)
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                fh.close()
                raise
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise SweepBusy(f"{self.path.parent} is in use by {holder}; wait for it to finish, or use another "
                            "--out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"reconscale sweep (pid {os.getpid()} on {socket.gethostname()}, since "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')})")
        fh.flush()
        self._fh = fh
        return self

    @staticmethod
    def holder(directory: str | Path) -> str | None:
        """Who holds ``directory``'s lock (the line the driver wrote), or None if no driver is alive.

        Read-only: the lock file is opened for reading (never created), and a shared ``flock`` is
        tried and dropped at once, so a driver starting at the same moment is not disturbed.
        """
        import fcntl  # noqa: PLC0415  (POSIX only, like DriverLock.acquire)

        try:
            fh = open(Path(directory) / ".driver.lock")  # noqa: SIM115
        except OSError:  # no lock file: no driver ever ran here (or it cannot be read: assume none)
            return None
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                return fh.read().strip() or "another process"
            fcntl.flock(fh, fcntl.LOCK_UN)
            return None

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the descriptor drops the flock
            self._fh = None

    def __enter__(self) -> "DriverLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _storage_error(e: sqlite3.Error, path: Path) -> OSError | None:
    """SQLite's disk-full / read-only errors as the OSError they are (one line at the CLI)."""
    text = str(e).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return OSError(errno.ENOSPC, "No space left on device", str(path))
    if "readonly" in text or "read-only" in text:
        return OSError(errno.EROFS, "Read-only file system", str(path))
    if "unable to open" in text:
        return OSError(errno.EACCES, "cannot open the ledger", str(path))
    return None


class Ledger:
    """SQLite ledger at ``path`` (created if missing, unless ``readonly``).

    Raises:
        ValueError: the file is not a reconscale ledger.
        OSError: it cannot be created or written (disk full, read-only, permissions).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.driver: str | None = None  # read-only: the driver holding the directory, if one is alive
        try:
            if readonly:
                if not self.path.is_file():
                    raise ValueError(f"{self.path}: no ledger there (run reconscale sweep first)")
                self.driver = DriverLock.holder(self.path.parent)
                self._db = sqlite3.connect(self._readonly_uri(), uri=True, timeout=30.0, isolation_level=None)
                self._db.execute("SELECT run_id, status FROM runs LIMIT 1")
                self._has_warning = "warning" in self._columns()
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # SQLite creates its files 0644 whatever the umask; create the ledger as open() would
            # (0666 less the umask, like every other file of the sweep); -wal/-shm copy its mode.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o666))
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._tx():
                self._db.execute(_SCHEMA)
                if "warning" not in self._columns():  # ledgers written before the column existed
                    self._db.execute("ALTER TABLE runs ADD COLUMN warning TEXT NOT NULL DEFAULT ''")
            self._has_warning = True
        except sqlite3.DatabaseError as e:
            err = _storage_error(e, self.path)
            if err is not None:
                raise err from None
            raise ValueError(f"{self.path} is not a reconscale ledger ({e}); move it aside (e.g. to "
                             f"{self.path.name}.bad) and re-run the sweep: every done run is recovered from its "
                             "runs/<id>/result.json, the others resume from their checkpoints") from None

    @classmethod
    def open_readonly(cls, path: str | Path) -> "Ledger":
        """Open for reading only (what ``bridge`` does): never creates, migrates or locks anything.

        Nothing is written beside the ledger either: with no driver alive and no write-ahead log
        left over, the file is opened ``immutable`` (SQLite would otherwise create ``-shm`` and
        ``-wal`` files it cannot remove). ``running`` rows of a directory that no driver holds
        (:meth:`DriverLock.holder`) are read as ``pending`` with the reason "interrupted": that is
        what they are, and what the next ``reconscale sweep`` makes of them (it resumes them).
        """
        return cls(path, readonly=True)

    def _readonly_uri(self) -> str:
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        wal = self.path.with_name(self.path.name + "-wal")
        # immutable skips locking and the write-ahead log: only safe when no driver writes and no
        # log holds committed rows that a killed driver did not fold back into the file
        if self.driver is None and not (wal.exists() and wal.stat().st_size > 0):
            uri += "&immutable=1"
        return uri

    def _columns(self) -> set[str]:
        return {r[1] for r in self._db.execute("PRAGMA table_info(runs)").fetchall()}

    def _tx(self) -> Any:
        db, path = self._db, self.path

        class _T:
            def __enter__(self_inner) -> None:
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, et: Any, ev: Any, tb: Any) -> bool:
                try:
                    db.execute("ROLLBACK" if et else "COMMIT")
                except sqlite3.OperationalError as e:
                    err = _storage_error(e, path)
                    if err is not None:
                        raise err from None
                    raise
                if isinstance(ev, sqlite3.OperationalError):
                    err = _storage_error(ev, path)
                    if err is not None:
                        raise err from None
                return False

        return _T()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ writes
    def add(self, sweep: str, rid: str, config: dict) -> None:
        """Register run ``rid`` as pending (a no-op if it exists)."""
        with self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO runs (run_id, sweep, config, status, updated) VALUES (?, ?, ?, 'pending', ?)",
                (rid, sweep, json.dumps(config, sort_keys=True), time.time()),
            )

    def start(self, rid: str) -> None:
        with self._tx():
            self._db.execute("UPDATE runs SET status='running', attempts=attempts+1, updated=? WHERE run_id=?",
                             (time.time(), rid))

    def requeue_running(self) -> int:
        """Put every ``running`` row back to ``pending`` (a driver that stops early); returns how many."""
        with self._tx():
            cur = self._db.execute("UPDATE runs SET status='pending', updated=? WHERE status='running'", (time.time(),))
        return cur.rowcount

    def finish(self, rid: str, row: Row) -> None:
        """Record a finished (done or failed) run."""
        with self._tx():
            self._db.execute(
                "UPDATE runs SET status=?, reason=?, warning=?, metrics=?, params=?, best_step=?, steps=?, wall_s=?, "
                "device=?, versions=?, updated=? WHERE run_id=?",
                (row.status, row.reason, row.warning, json.dumps(row.metrics, sort_keys=True), row.params,
                 row.best_step, row.steps, row.wall_s, row.device, json.dumps(row.versions, sort_keys=True),
                 time.time(), rid),
            )

    # ------------------------------------------------------------------ reads
    def get(self, rid: str) -> dict | None:
        cur = self._db.execute("SELECT * FROM runs WHERE run_id=?", (rid,))
        r = cur.fetchone()
        return None if r is None else self._row(cur, r)

    def rows(self, status: str | None = None) -> list[dict]:
        """Every row as a dict (JSON columns decoded), ordered by run id; optionally one status."""
        if status is None:
            cur = self._db.execute("SELECT * FROM runs ORDER BY run_id")
        else:
            cur = self._db.execute("SELECT * FROM runs ORDER BY run_id")
            return [d for d in (self._row(cur, r) for r in cur.fetchall()) if d["status"] == status]
        return [self._row(cur, r) for r in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        """Runs per status (as :meth:`rows` reads them)."""
        got = dict(self._db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
        if self.readonly and self.driver is None:  # no driver: running rows are interrupted, i.e. pending
            got["pending"] = got.get("pending", 0) + got.pop("running", 0)
        return {s: int(got.get(s, 0)) for s in STATUSES}

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows())

    def _row(self, cur: sqlite3.Cursor, r: tuple) -> dict:
        d = dict(zip([c[0] for c in cur.description], r))
        for k in _JSON_COLUMNS:
            d[k] = json.loads(d[k])
        d.setdefault("warning", "")
        if d["status"] == "running" and self.readonly and self.driver is None:
            d["status"], d["reason"] = "pending", INTERRUPTED
        return d
