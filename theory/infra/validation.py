"""One-line ValueErrors for user-facing numbers, shared by theory's specs, its expected-risk curves and
empirical's tasks."""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

__all__ = ["finite_float", "integer", "is_int", "validate_N"]


def finite_float(name: str, value: Any, hint: str) -> float:
    """``float(value)``, or a one-line ValueError naming ``name`` (bools and non-finite values rejected)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} must be a number ({hint})")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number ({hint})") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}={value!r} must be a finite number ({hint})")
    return v


def is_int(value: Any) -> bool:
    """True for a Python or NumPy integer that is not a bool (no floats, however integral)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def integer(name: str, value: Any, hint: str) -> int:
    """``int(value)`` for integral values only (no floats, no bools), or a one-line ValueError."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} must be an integer ({hint})")
    try:
        return int(operator.index(value))
    except TypeError:
        raise ValueError(f"{name}={value!r} must be an integer ({hint})") from None


def validate_N(N: int | Sequence[int]) -> np.ndarray:
    """Training-set sizes as an int array, or a one-line ValueError.

    Args:
        N: a positive integer or a non-empty 1-D sequence of them (integral floats accepted).

    Returns:
        (len(N),) int array.
    """
    arr = np.atleast_1d(np.asarray(N))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) or np.any(arr < 1):
        raise ValueError("N must be a non-empty list of positive integers")
    return arr.astype(int)
