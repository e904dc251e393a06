"""One-line ValueErrors for user-facing numbers, shared by theory's specs and empirical's tasks."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

__all__ = ["finite_float", "integer"]


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


def integer(name: str, value: Any, hint: str) -> int:
    """``int(value)`` for integral values only (no floats, no bools), or a one-line ValueError."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} must be an integer ({hint})")
    try:
        return int(operator.index(value))
    except TypeError:
        raise ValueError(f"{name}={value!r} must be an integer ({hint})") from None
