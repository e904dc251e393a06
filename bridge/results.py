"""Read results without torch: sweep ledgers, exported tables and theory tables.

``bridge`` never imports ``empirical``; it reads what the sweep wrote. A *sweep* is a directory
holding ``ledger.sqlite`` (opened read-only, so a running sweep is never disturbed); a *table* is a
CSV or JSON file written by ``reconscale results`` or ``reconscale theory …``.

* :func:`load_table` — any of those, as a list of flat dicts (CSV cells parsed back to numbers,
  booleans, lists and None).
* :func:`results_table` — ledger rows → the tidy table (config keys, status, params, flattened
  ``val_*``/``test_*``/``test_input_*`` metrics and ``conv_*`` conventions).
* :func:`select_per_N` — the paper's per-N result: the width with the best mean validation score,
  then its test score (mean ± std over seeds, and the max as the released plots).
* :func:`aggregate` — mean, std and count of a column per N (theory per-run rows, or runs).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["load_table", "read_ledger", "results_table", "select_per_N", "aggregate", "filter_rows",
           "HIGHER_IS_BETTER"]

#: Metrics for which larger is better (the others are errors).
HIGHER_IS_BETTER = frozenset({"psnr", "ssim"})

# Columns of the tidy table that are bookkeeping, not sweep axes.
_META = {"run_id", "sweep", "status", "reason", "warning", "params", "best_step", "steps", "wall_s", "device", "width", "seed"}


def read_ledger(path: str | Path) -> list[dict]:
    """Rows of a sweep ledger (``DIR`` or ``DIR/ledger.sqlite``), JSON columns decoded; read-only.

    The ledger's schema has one home, :mod:`empirical.ledger`, which imports no torch.
    """
    from empirical.ledger import Ledger  # noqa: PLC0415

    p = Path(path)
    if p.is_dir():
        p = p / "ledger.sqlite"
    if not p.is_file():
        raise ValueError(f"no ledger at {p}; give a sweep directory (holding ledger.sqlite) or a CSV/JSON table")
    with Ledger.open_readonly(p) as led:
        return led.rows()


def results_table(rows: Iterable[dict]) -> list[dict]:
    """Tidy rows: the run's axes and settings, status, params and flattened val/test metrics."""
    out = []
    for r in rows:
        config = dict(r["config"])
        source = config.pop("source", None) or {}
        flat = {"run_id": r["run_id"], "sweep": r["sweep"], "status": r["status"], "reason": r["reason"],
                "warning": r.get("warning", ""), **config, **{f"source.{k}": v for k, v in sorted(source.items())},
                "params": r["params"], "best_step": r["best_step"], "steps": r["steps"], "wall_s": r["wall_s"],
                "device": r["device"]}
        m = r["metrics"]
        for part in ("val", "val_input", "test", "test_input"):
            for k, v in m.get(part, {}).items():
                flat[f"{part}_{k}"] = v
        for k, v in m.get("conventions", {}).items():
            flat[f"conv_{k}"] = v
        out.append(flat)
    return out


def _cell(text: str) -> Any:
    if text == "":
        return None
    if text in ("True", "False", "true", "false"):
        return text in ("True", "true")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return text


def load_table(path: str | Path) -> list[dict]:
    """A results table: a sweep directory or ``.sqlite`` ledger (→ :func:`results_table`), or a
    ``.csv``/``.json`` file written by ``reconscale results`` / ``reconscale theory``."""
    p = Path(path)
    if p.is_dir() or p.suffix in (".sqlite", ".db"):
        return results_table(read_ledger(p))
    if not p.is_file():
        raise ValueError(f"no such file or directory: {p}; give a sweep directory or a CSV/JSON table")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {p} ({e}); give a CSV/JSON table or a sweep directory") from None
    if p.suffix == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{p} is not valid JSON ({e}); export it again with --format json") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"{p} is not a table (a JSON array of objects); export it with --format json")
        return rows
    if p.suffix == ".csv":
        rows = [{k: _cell(v) for k, v in r.items()} for r in csv.DictReader(text.splitlines())]
        if not rows:
            raise ValueError(f"{p} has no rows; compute or export the table first")
        return rows
    raise ValueError(f"{p}: unknown table format {p.suffix!r}; use .csv, .json or a sweep directory")


def filter_rows(rows: Sequence[dict], **where: Any) -> list[dict]:
    """Rows whose columns equal every ``where`` value (``None`` values are ignored)."""
    cond = {k: v for k, v in where.items() if v is not None}
    return [r for r in rows if all(r.get(k) == v for k, v in cond.items())]


def aggregate(rows: Sequence[dict], *, y: str, x: str = "N") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean of column ``y`` per distinct ``x``.

    Returns:
        (x (j,), mean (j,), std (j,) with ddof=1 (0 for one value), count (j,)) sorted by x.
    """
    groups: dict[float, list[float]] = {}
    for r in rows:
        v = r.get(y)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        groups.setdefault(float(r[x]), []).append(float(v))
    if not groups:
        raise ValueError(f"no values of {y!r} in the table; check the column name (columns: "
                         f"{', '.join(sorted(rows[0])) if rows else 'none'})")
    xs = np.array(sorted(groups))
    vals = [np.asarray(groups[v]) for v in xs]
    mean = np.array([a.mean() for a in vals])
    std = np.array([a.std(ddof=1) if a.size > 1 else 0.0 for a in vals])
    return xs, mean, std, np.array([a.size for a in vals])


def select_per_N(table: Sequence[dict], *, metric: str = "psnr") -> list[dict]:
    """Per N (and any other varying axis except width and seed): the width with the best mean
    validation score, then its test score — mean ± std over seeds and the max (the released plots
    take the max; the min for error metrics)."""
    done = [r for r in table if r.get("status") == "done"]
    if not done:
        raise ValueError("no finished runs in the table; run (or resume) the sweep first")
    if f"val_{metric}" not in done[0] or f"test_{metric}" not in done[0]:
        raise ValueError(f"metric {metric!r} is not in the table; use psnr, ssim, mse or nmse")
    higher = metric in HIGHER_IS_BETTER
    keys = [k for k in done[0] if k not in _META and not k.startswith(("val_", "test_", "conv_"))]
    axes = [k for k in keys if len({json.dumps(r.get(k), sort_keys=True) for r in done}) > 1]
    groups: dict[tuple, dict[Any, list[dict]]] = {}
    for r in done:
        g = tuple(json.dumps(r.get(k), sort_keys=True) for k in axes)
        groups.setdefault(g, {}).setdefault(r["width"], []).append(r)
    out = []
    for g, by_width in groups.items():
        def val_score(rs: list[dict]) -> float:
            return float(np.mean([r[f"val_{metric}"] for r in rs]))

        best_w = (max if higher else min)(by_width, key=lambda w: val_score(by_width[w]))
        rs = by_width[best_w]
        test = np.array([r[f"test_{metric}"] for r in rs], dtype=float)
        row = {k: json.loads(v) for k, v in zip(axes, g)}
        row.update({"width": best_w, "params": rs[0]["params"], "seeds": len(rs),
                    "warned": sum(bool(r.get("warning")) for r in rs),
                    f"test_{metric}_mean": float(test.mean()),
                    f"test_{metric}_std": float(test.std(ddof=1)) if len(rs) > 1 else 0.0,
                    f"test_{metric}_max": float(test.max() if higher else test.min()),
                    f"val_{metric}_mean": val_score(rs)})
        if f"test_input_{metric}" in rs[0]:
            row[f"input_{metric}"] = float(np.mean([r[f"test_input_{metric}"] for r in rs]))
        out.append(row)
    out.sort(key=lambda r: tuple(json.dumps(r.get(k)) for k in axes if k != "N") + (r.get("N", 0),))
    return out
