"""The one numpy/cupy switch. Nothing else in the project names cupy.

Array code in `theory` takes an array module ``xp`` (numpy or cupy) and calls ``xp.linalg``,
``xp.exp`` ... on it. Random numbers are always drawn from a ``numpy.random.Generator`` and moved
to the device, so a cupy run sees exactly the same draws as a numpy run.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["get_xp", "to_numpy", "cupy_available"]


def cupy_available() -> bool:
    """True when cupy imports and sees at least one CUDA device."""
    try:
        import cupy  # noqa: PLC0415 (lazy by design)

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDA driver errors: no usable GPU
        return False


def get_xp(backend: str | None = "numpy") -> ModuleType:
    """Return the array module for ``backend``.

    Args:
        backend: ``"numpy"`` (default), ``"cupy"`` or ``"auto"`` (cupy when a GPU is usable).

    Raises:
        ValueError: unknown backend, or ``"cupy"`` asked for without a usable GPU.
    """
    if backend in (None, "numpy"):
        return np
    if backend == "auto":
        backend = "cupy" if cupy_available() else "numpy"
        return get_xp(backend)
    if backend == "cupy":
        if not cupy_available():
            raise ValueError("backend 'cupy' needs cupy and a CUDA GPU; install reconscale[gpu] or use backend='numpy'")
        import cupy  # noqa: PLC0415

        return cupy
    raise ValueError(f"unknown backend {backend!r}; use 'numpy', 'cupy' or 'auto'")


def to_numpy(a: Any) -> np.ndarray:
    """Copy a numpy or cupy array (or scalar) to a numpy array on the host."""
    if hasattr(a, "get"):
        return a.get()
    return np.asarray(a)
