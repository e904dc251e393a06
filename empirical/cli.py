"""``reconscale sweep`` and ``reconscale results`` — the empirical half of the command line.

Bad input gives one line on stderr and exit code 2; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["sweep_main", "results_main"]


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise UsageError(f"{self.prog}: error: {message}")


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


def results_main(argv: Sequence[str] | None = None) -> int:
    """``reconscale results DIR [--format csv|json|parquet] [--select]``."""
    p = _Parser(prog="reconscale results", description="Export a sweep's ledger as a tidy table.")
    p.add_argument("dir", help="sweep directory (holding ledger.sqlite)")
    p.add_argument("--format", choices=("csv", "json", "parquet"), default="csv")
    p.add_argument("--out", default=None, help="write to this file (required for parquet)")
    p.add_argument("--select", action="store_true",
                   help="per N: the best width by validation and its test metric, mean ± std over seeds and max")
    p.add_argument("--metric", default="psnr", help="metric for --select (psnr, ssim, mse, nmse)")
    try:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
        from theory.setups import write_table  # noqa: PLC0415

        from .ledger import Ledger  # noqa: PLC0415
        from .sweep import results_table, select_per_N  # noqa: PLC0415

        path = Path(a.dir) / "ledger.sqlite"
        if not path.exists():
            raise UsageError(f"reconscale results: error: no ledger at {path}; give the directory of a sweep")
        with Ledger(path) as led:
            table = results_table(led.rows())
        if a.metric not in ("psnr", "ssim", "mse", "nmse"):
            raise UsageError(f"reconscale results: error: --metric {a.metric!r}: use psnr, ssim, mse or nmse")
        rows = select_per_N(table, metric=a.metric) if a.select else table
        if a.format == "parquet":
            if a.out is None:
                raise UsageError("reconscale results: error: --format parquet needs --out FILE")
            try:
                import pandas as pd  # noqa: PLC0415

                pd.DataFrame(rows).to_parquet(a.out)
            except ImportError:
                raise UsageError("reconscale results: error: parquet needs pandas and pyarrow "
                                 "(pip install pandas pyarrow); or use --format csv") from None
            return 0
        text = write_table(rows, a.out, a.format)
        if a.out is None:
            sys.stdout.write(text)
        return 0
    except UsageError as e:
        return _fail(str(e))
    except ValueError as e:
        return _fail(f"reconscale results: error: {e}")
