"""One input check for the bridge's array arguments (fits and figures alike)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["vector"]


def vector(name: str, x: Any, *, positive: bool = False, why: str = "a log scale") -> np.ndarray:
    """``x`` as a non-empty, finite, 1-D float array of shape (m,) (a scalar becomes (1,)).

    Raises a one-line ValueError naming ``name`` and the fix; with ``positive``, values must be
    > 0 (``why`` says what needs them positive, e.g. "the log N axis").
    """
    try:
        a = np.atleast_1d(np.asarray(x, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric; got {type(x).__name__}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {a.shape}: pass one value per point")
    if a.size == 0:
        raise ValueError(f"{name} is empty: pass at least one point")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} non-finite values (NaN or inf): drop or fix those points")
    if positive and np.any(a <= 0):
        raise ValueError(f"{name} must be positive; got non-positive values (min {a.min():g}), which {why} cannot "
                         "take: drop them")
    return a
