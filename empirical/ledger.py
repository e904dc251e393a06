"""The sweep's results store: one SQLite file, one row per run, transactional writes.

Statuses: ``pending`` → ``running`` → ``done`` | ``failed`` (with a reason). Rows carry the run's
full config (JSON), metrics (val and test), parameter count, best step, steps, wall time, device
and library versions. Only the sweep driver writes; SQL is parameterised; every write is one
transaction, so killing the process at any moment loses nothing that had finished.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

__all__ = ["Ledger", "run_id"]

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
    updated    REAL NOT NULL
);
"""


def run_id(config: dict) -> str:
    """Stable identity of a run: a hash of its canonical JSON config."""
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


class Ledger:
    """SQLite ledger at ``path`` (created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._tx():
                self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{self.path} is not a reconscale ledger ({e}); point --out at another directory") from None

    def _tx(self):
        db = self._db

        class _T:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, et, ev, tb):
                db.execute("ROLLBACK" if et else "COMMIT")
                return False

        return _T()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ writes
    def add(self, sweep: str, config: dict) -> str:
        """Register a run as pending (no-op if it exists); returns its id."""
        rid = run_id(config)
        with self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO runs (run_id, sweep, config, status, updated) VALUES (?, ?, ?, 'pending', ?)",
                (rid, sweep, json.dumps(config, sort_keys=True), time.time()),
            )
        return rid

    def start(self, rid: str) -> None:
        with self._tx():
            self._db.execute("UPDATE runs SET status='running', attempts=attempts+1, updated=? WHERE run_id=?",
                             (time.time(), rid))

    def finish(self, rid: str, row: dict) -> None:
        """Record a finished run: ``row`` has status, reason, metrics, params, best_step, steps, wall_s, device, versions."""
        with self._tx():
            self._db.execute(
                "UPDATE runs SET status=?, reason=?, metrics=?, params=?, best_step=?, steps=?, wall_s=?, device=?, "
                "versions=?, updated=? WHERE run_id=?",
                (row["status"], row.get("reason", ""), json.dumps(row.get("metrics", {}), sort_keys=True),
                 row.get("params"), row.get("best_step"), row.get("steps"), row.get("wall_s"), row.get("device"),
                 json.dumps(row.get("versions", {}), sort_keys=True), time.time(), rid),
            )

    # ------------------------------------------------------------------ reads
    def get(self, rid: str) -> dict | None:
        cur = self._db.execute("SELECT * FROM runs WHERE run_id=?", (rid,))
        r = cur.fetchone()
        return None if r is None else self._row(cur, r)

    def rows(self, status: str | None = None) -> list[dict]:
        if status is None:
            cur = self._db.execute("SELECT * FROM runs ORDER BY run_id")
        else:
            cur = self._db.execute("SELECT * FROM runs WHERE status=? ORDER BY run_id", (status,))
        return [self._row(cur, r) for r in cur.fetchall()]

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows())

    @staticmethod
    def _row(cur: sqlite3.Cursor, r: tuple) -> dict:
        d = dict(zip([c[0] for c in cur.description], r))
        for k in ("config", "metrics", "versions"):
            d[k] = json.loads(d[k])
        return d
