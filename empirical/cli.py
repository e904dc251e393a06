"""``reconscale sweep`` — the empirical half of the command line (``reconscale results`` reads the
ledger without torch and lives in :mod:`bridge.cli`).

Bad input gives one line on stderr and exit code 2; nothing is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from theory.cli import UsageError, _Parser  # one-line usage errors, shared by every command

__all__ = ["sweep_main"]




def _fail(msg: str) -> int:
    print(msg.splitlines()[0], file=sys.stderr)
    return 2


def sweep_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale sweep CONFIG [--out DIR] [--set key=value ...]``."""
    p = _Parser(prog="reconscale sweep", description="Train every (N, width, seed, …) combination of a sweep "
                "config into a resumable SQLite ledger.")
    p.add_argument("config", help="a TOML file or a shipped config name (quick-denoise, quick-mri, quick-sr, …)")
    p.add_argument("--out", default=None, help="sweep directory (default: sweeps/<name>)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (TOML value), e.g. --set N=[16,64] --set sigma=0.1")
    p.add_argument("--executor", choices=("local", "process"), default="local")
    p.add_argument("--workers", type=int, default=2, help="processes for --executor process")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    p.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    p.add_argument("--quiet", action="store_true")
    try:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        from .sweep import expand, load_config, run_sweep  # noqa: PLC0415

        try:
            cfg = load_config(a.config, a.set)
            runs = expand(cfg)
        except ValueError as e:
            raise UsageError(f"reconscale sweep: error: {e}") from None
        if a.workers < 1:
            raise UsageError(f"reconscale sweep: error: --workers {a.workers} must be ≥ 1")
        if a.dry_run:
            for r in runs:
                print(json.dumps({k: r[k] for k in ("task", "data", "N", "arch", "width", "seed")}))
            return 0
        out = Path(a.out) if a.out else Path("sweeps") / cfg["name"]
        path = run_sweep(cfg, out, executor=a.executor, workers=a.workers, retry_failed=a.retry_failed,
                         progress=not a.quiet)
        print(f"ledger: {path}", file=sys.stderr)
        return 0
    except UsageError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        print("reconscale sweep: interrupted; finished runs are in the ledger, re-run to resume", file=sys.stderr)
        return 130
