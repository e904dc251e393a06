"""Read results without torch: sweep ledgers, exported tables and theory tables.

``bridge`` never imports ``empirical``; it reads what the sweep wrote. A *sweep* is a directory
holding ``ledger.sqlite`` (opened read-only, so a running sweep is never disturbed); a *table* is a
CSV or JSON file written by ``reconscale results`` or ``reconscale theory …``.

* :func:`load_table` — any of those, as a list of flat dicts (CSV cells parsed back to numbers,
  booleans, lists and None).
* :func:`results_table` — ledger rows → the tidy table (config keys, status, params, flattened
  ``val_*``/``test_*``/``test_input_*`` metrics and ``conv_*`` conventions).
* :func:`runs_curve` — runs → one curve, the paper's per-N result: the width with the best mean
  validation score, then its test MSE and PSNR (mean and SEM over seeds) and the test score of the
  selection metric (mean ± std, and the max as the released plots); :func:`require_distinct_N`
  refuses a curve of fewer than 2 N.
* :func:`filter_rows` / :func:`where_rows` — rows matching column values (the latter says which
  value matched nothing, and the values present).
* :func:`aggregate` — mean, std and count of a column per N (theory per-run rows, or runs).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .uncertainty import mse_to_psnr

__all__ = ["load_table", "read_ledger", "results_table", "runs_curve", "require_distinct_N", "aggregate",
           "filter_rows", "where_rows", "parse_cell", "HIGHER_IS_BETTER", "CURVE_COLUMNS"]

#: The columns of a curve row of :func:`runs_curve` that every curve shares (the demo's and the
#: self-supervised comparison's curves carry these, with their own name columns).
CURVE_COLUMNS = ("N", "width", "seeds", "mse", "mse_sem", "psnr", "psnr_sem")

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


def parse_cell(text: str) -> Any:
    """A CSV cell (or a ``--where`` value) as a number, boolean, list/dict (JSON), None (empty) or str."""
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
        rows = [{k: parse_cell(v) for k, v in r.items()} for r in csv.DictReader(text.splitlines())]
        if not rows:
            raise ValueError(f"{p} has no rows; compute or export the table first")
        return rows
    raise ValueError(f"{p}: unknown table format {p.suffix!r}; use .csv, .json or a sweep directory")


def filter_rows(rows: Sequence[dict], **where: Any) -> list[dict]:
    """Rows whose columns equal every ``where`` value (``None`` values are ignored)."""
    cond = {k: v for k, v in where.items() if v is not None}
    return [r for r in rows if all(r.get(k) == v for k, v in cond.items())]


def where_rows(rows: Sequence[dict], where: dict[str, Any], *, what: str = "rows") -> list[dict]:
    """Rows whose columns equal every ``where`` value; a one-line ValueError when none do.

    The conditions are applied in order; the message names the first one that leaves nothing, and the
    values of that column in the rows before it (or that the column does not exist).

    Args:
        rows: table rows. where: column → value (``--where KEY=VALUE``). what: the rows' name
            for the message (``"runs"``, ``"rows"``).
    """
    if not rows:
        raise ValueError(f"the table has no {what}; compute or export it first")
    kept = list(rows)
    for k, v in where.items():
        left = [r for r in kept if r.get(k) == v]
        if not left:
            values = {json.dumps(r[k], sort_keys=True): r[k] for r in kept if k in r}
            numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values.values())
            present = [str(x) if not isinstance(x, (list, dict)) else j
                       for j, x in sorted(values.items(), key=lambda kv: kv[1] if numeric else kv[0])]
            if not present:
                cols = sorted({c for r in kept for c in r})
                raise ValueError(f"no {what} match {k}={v}: the table has no column {k!r}; columns: "
                                 f"{', '.join(cols)}")
            plural = k if k.endswith("s") else f"{k}s" if k != "N" else "N"
            raise ValueError(f"no {what} match {k}={v}; the {plural} present are {', '.join(present)}: pick one "
                             "of them or drop that --where")
        kept = left
    return kept


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


def runs_curve(runs: Sequence[dict], *, metric: str = "mse", by: Sequence[str] | None = None) -> list[dict]:
    """Runs → one curve: per N, the width with the best mean validation score and its test scores.

    The one place runs become a curve (the paper's selection): for every N (and every value of the
    axes in ``by``), the runs are grouped by width, the width whose mean ``val_<metric>`` over seeds is
    best (largest for PSNR/SSIM, smallest for errors) is kept, and its seeds give the mean and the
    standard error of the test MSE and of the test PSNR (``10 log₁₀(1/MSE)`` per seed,
    :func:`bridge.uncertainty.mse_to_psnr`), and of ``test_<metric>``.

    Args:
        runs: tidy run rows (:func:`load_table` of a sweep); only ``done`` rows are used.
        metric: the selection metric (``mse``, the default; ``psnr``, ``ssim`` or ``nmse``).
        by: the other axes that split the curve (e.g. ``("arch",)``); ``None``: every config column
            that varies between the runs (except width and seed); ``()``: N alone.

    Returns:
        One row per (axes, N), sorted by the axes then N; every row has the columns ``by``, ``N``,
        ``width``, ``params``, ``seeds`` (runs kept), ``warned`` (of them with a warning),
        ``test_<metric>_mean``, ``test_<metric>_std`` (ddof 1; 0 for one seed), ``test_<metric>_max``
        (the best seed: the max, or the min for errors, as the released plots), ``val_<metric>_mean``,
        ``input_<metric>`` (when the runs score their input), then ``mse``, ``mse_sem``, ``psnr``,
        ``psnr_sem`` (mean and SEM over seeds; SEM 0 for one seed; None without ``test_mse``).

    Raises:
        ValueError: no finished run, or ``metric`` not in the table.
    """

    done = [r for r in runs if r.get("status") == "done"]
    if not done:
        raise ValueError("no finished runs in the table; run (or resume) the sweep first")
    if f"val_{metric}" not in done[0] or f"test_{metric}" not in done[0]:
        raise ValueError(f"metric {metric!r} is not in the table; use psnr, ssim, mse or nmse")
    higher = metric in HIGHER_IS_BETTER
    if by is None:
        keys = [k for k in done[0] if k not in _META and k != "N" and not k.startswith(("val_", "test_", "conv_"))]
        by = [k for k in keys if len({json.dumps(r.get(k), sort_keys=True) for r in done}) > 1]
    axes = [*by, "N"]  # N always: a one-N sweep is still a curve's table, with its N column
    groups: dict[tuple, dict[Any, list[dict]]] = {}
    for r in done:
        g = tuple(json.dumps(r.get(k), sort_keys=True) for k in axes)
        groups.setdefault(g, {}).setdefault(r.get("width"), []).append(r)

    def sem(a: np.ndarray) -> float:
        return float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else 0.0

    out = []
    for g, by_width in groups.items():
        def val_score(rs: list[dict]) -> float:
            return float(np.mean([r[f"val_{metric}"] for r in rs]))

        best_w = (max if higher else min)(by_width, key=lambda w: val_score(by_width[w]))
        rs = by_width[best_w]
        test = np.array([r[f"test_{metric}"] for r in rs], dtype=float)
        row = {k: json.loads(v) for k, v in zip(axes, g)}
        row.update({"width": best_w, "params": rs[0].get("params"), "seeds": len(rs),
                    "warned": sum(bool(r.get("warning")) for r in rs),
                    f"test_{metric}_mean": float(test.mean()),
                    f"test_{metric}_std": float(test.std(ddof=1)) if len(rs) > 1 else 0.0,
                    f"test_{metric}_max": float(test.max() if higher else test.min()),
                    f"val_{metric}_mean": val_score(rs)})
        if f"test_input_{metric}" in rs[0]:
            row[f"input_{metric}"] = float(np.mean([r[f"test_input_{metric}"] for r in rs]))
        mse = [r.get("test_mse") for r in rs]
        if all(v is not None for v in mse):
            m = np.asarray(mse, dtype=float)
            p = mse_to_psnr(m)
            row.update({"mse": float(m.mean()), "mse_sem": sem(m), "psnr": float(p.mean()), "psnr_sem": sem(p)})
        else:
            row.update({"mse": None, "mse_sem": None, "psnr": None, "psnr_sem": None})
        out.append(row)
    out.sort(key=lambda r: tuple(json.dumps(r.get(k), sort_keys=True) for k in by) + (r["N"],))
    return out


def require_distinct_N(N: Iterable[Any], *, what: str) -> np.ndarray:
    """The distinct N of a curve, sorted; a one-line ValueError when there are fewer than 2.

    Args:
        N: the N of a curve's points or runs (repeats allowed).
        what: what needs the curve, for the message (e.g. ``"a fit"``).

    Returns:
        (k,) the distinct N, k ≥ 2.
    """
    distinct = np.unique(np.asarray([float(v) for v in N], dtype=float))
    if distinct.size < 2:
        have = "no N" if distinct.size == 0 else f"only N = {distinct[0]:g}"
        raise ValueError(f"need at least 2 distinct N for {what}; the runs have {have}: widen the sweep's N "
                         "(e.g. --set 'N=[8,64,512]') or drop a --where that keeps one N")
    return distinct
