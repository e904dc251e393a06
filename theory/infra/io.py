"""Files the project writes: one atomic write, and the table format every command shares.

Every file reconscale writes (tables, figures, reports, checkpoints, results, data caches) goes
through :func:`atomic_write`: the bytes land in a temporary file next to the target, which is then
renamed over it, so a reader (or a re-run after a crash) sees the old file or the new one, never
half of one. The file gets the permissions an ordinary ``open(path, "w")`` would give (0666 less
the umask), not the 0600 of ``tempfile.mkstemp``, so results stay readable on a shared machine. A
failed write (disk full, read-only directory, a writer that raises) removes its temporary file.
"""

from __future__ import annotations

import errno
import json
import os
import uuid
from pathlib import Path
from typing import IO, Any, Callable, Sequence

__all__ = ["atomic_write", "write_json", "write_table", "serialize_rows"]


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, data: bytes | str | Callable[[IO[bytes]], Any], *,
                 mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path.

    Args:
        path: the target file; its directory is created if missing.
        data: the bytes, a str (written as UTF-8), or a function that writes to a binary file
            object (``lambda fh: torch.save(obj, fh)``, ``lambda fh: fig.savefig(fh, format="png")``).
        mode: permission bits before the umask (default 0o666, as ``open`` uses).

    Raises:
        OSError: the directory cannot be created or written (disk full, read-only, permissions);
            no temporary file is left behind.
    """
    target = Path(path)
    try:
        return _atomic_write(target, data, mode)
    except OSError as e:  # name the user's path, never the temporary file
        if e.errno is None or Path(str(e.filename)) == target:
            raise
        raise type(e)(e.errno, e.strerror, str(target)) from None


def _atomic_write(target: Path, data: bytes | str | Callable[[IO[bytes]], Any], mode: int | None) -> Path:
    """:func:`atomic_write` itself; its OSErrors may name the temporary file."""
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory; give a file path", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique name in the same directory: os.replace is then an atomic rename on every platform.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, (0o666 if mode is None else mode) & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (numpy scalars as floats) with a final newline."""
    return atomic_write(path, json.dumps(obj, indent=1, default=float) + "\n")


def serialize_rows(rows: Sequence[dict], fmt: str) -> str:
    """Rows as JSON (one array of records) or CSV (columns in first-seen order; None is empty)."""
    if fmt == "json":
        return json.dumps(list(rows), indent=None, allow_nan=True) + "\n"
    if fmt == "csv":
        import csv  # noqa: PLC0415
        import io  # noqa: PLC0415

        keys: list[str] = []
        for r in rows:
            keys += [k for k in r if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
        return buf.getvalue()
    raise ValueError(f"format {fmt!r}: use json or csv")


def write_table(rows: Sequence[dict], path: str | os.PathLike | None, fmt: str) -> str:
    """Serialise rows (:func:`serialize_rows`); write them atomically to ``path`` if given. Returns the text."""
    text = serialize_rows(rows, fmt)
    if path is not None:
        atomic_write(path, text)
    return text
