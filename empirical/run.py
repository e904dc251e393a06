"""One run: plan → images → supervision → :func:`empirical.train.train` → a ledger :class:`Row`.

The fourth step of the sweep path (config → plans → executor → one run → ledger).
:func:`run_one` is what every executor calls in its worker, with the :class:`~empirical.plan.RunPlan`
the sweep built and validated (a run is planned once). It never raises for a training failure (a
non-finite loss is a ``failed`` row), and a corrupt checkpoint is moved aside and reported as a
``failed`` row: a re-run with ``--retry-failed`` trains that run from scratch. Storage errors (disk
full, read-only) do raise: the driver stops the sweep cleanly on them.

Runs of ``arch = "linear-exact"`` are no training: :func:`run_one` hands them to
:func:`empirical.linear.run_linear_exact` (the learned linear estimator in closed form, scored by the
same :func:`~empirical.train.evaluate` path and written as the same kind of row).

Every finished row is also written, with the run's identity, to ``RUN_DIR/result.json``
(:mod:`empirical.rows`), so a finished run survives a driver that dies before recording it.
"""

from __future__ import annotations

import time
from pathlib import Path

from .ledger import Row
from .linear import run_linear_exact
from .plan import RunData, RunPlan, load_data
from .rows import finish_row, write_result
from .targets import Supervision
from .train import CheckpointError, train

__all__ = ["run_one", "supervision"]


def supervision(p: RunPlan, data: RunData) -> Supervision:
    """The run's training set under its target (:class:`~empirical.targets.Supervision`, on the host).

    Raises:
        ValueError: fixed training pairs too large, or a split leaving Λ or Γ empty.
    """
    return Supervision.build(p.task, p.target, data.train_x, seed=p.config.seed, ids=data.train_ids,
                             mask_ids=data.train_mask_ids)


def run_one(p: RunPlan, run_dir: str | Path, *, progress: bool = False) -> Row:
    """Train and evaluate one run in ``run_dir`` (checkpoint, ``result.json``); returns its row.

    Args:
        p: the run's plan (built and validated by :func:`empirical.plan.validate`).
        run_dir: the run's directory; ``ckpt.pt`` there is resumed from.
        progress: a tqdm bar over training steps.

    Raises:
        OSError: the run directory cannot be written (disk full, read-only): the sweep must stop.
    """
    run, run_dir = p.config, Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = load_data(p)
    if run.arch == "linear-exact":  # closed form, no torch training (writes result.json itself)
        return run_linear_exact(p, data, run_dir)
    model = p.model.build(run.seed)
    ckpt = run_dir / "ckpt.pt"
    try:
        sup = supervision(p, data)
    except ValueError as e:  # e.g. an example whose split leaves Λ or Γ empty: this run fails, the sweep goes on
        row = Row.failed(str(e))
        write_result(run_dir, run, row)
        return row
    try:
        res = train(model, sup, data.val_x, p.train, val_ids=data.val_ids, val_mask_ids=data.val_mask_ids,
                    checkpoint=ckpt, run_config=run.identity(), progress=progress)
    except CheckpointError as e:
        aside = ckpt.with_name(f"ckpt.pt.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        ckpt.replace(aside)
        row = Row.failed(f"CheckpointError: {str(e).split(';')[0]}; moved to {aside.name}; "
                         "re-run with --retry-failed to train from scratch")
        write_result(run_dir, run, row)
        return row
    row = finish_row(p, data, model, res)
    write_result(run_dir, run, row)
    return row
