"""The ``reconscale`` console script: a lazy dispatcher to each package's commands.

Each command group lives in its home package and is imported only when used, so
``reconscale theory …`` never loads torch or matplotlib.
"""

from __future__ import annotations

import importlib
import sys

# command -> (module, function, one-line help); functions take argv and return the exit code.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "theory": ("theory.cli", "main", "exact and asymptotic risk of linear estimators (curve, setups)"),
    "sweep": ("empirical.cli", "sweep_main", "train networks across N, width, seed… into a resumable ledger"),
    "results": ("empirical.cli", "results_main", "export a sweep's ledger as a tidy table (csv, json, parquet)"),
    "baselines": ("empirical.baselines", "baselines_main", "classical baselines on a sweep config's test sets"),
}


def _usage() -> str:
    lines = ["usage: reconscale COMMAND ...", "", "commands:"]
    lines += [f"  {name:<10} {helptext}" for name, (_, _, helptext) in COMMANDS.items()]
    lines += ["", "Run 'reconscale COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    group = argv[0]
    if group not in COMMANDS:
        print(f"reconscale: error: unknown command {group!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module_name, func, _ = COMMANDS[group]
    return int(getattr(importlib.import_module(module_name), func)(argv[1:]) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
