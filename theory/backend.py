"""The one numpy/cupy switch, and numpy's BLAS on one thread. Nothing else in the project names cupy.

Array code in `theory` takes an array module ``xp`` (numpy or cupy) and calls ``xp.linalg``,
``xp.exp`` ... on it. Random numbers are always drawn from a ``numpy.random.Generator`` and moved
to the device, so a cupy run sees exactly the same draws as a numpy run.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["get_xp", "to_numpy", "cupy_available", "one_blas_thread"]


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


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's OpenBLAS on one thread inside the block (no-op where it cannot be found).

    Used where small dense products or eigendecompositions run on shared cores: the learned
    linear estimator (:mod:`empirical.linear`) and the calibration's theory curves
    (:mod:`bridge.compare`: 0.8 s vs 0.07 s per N on 2 shared cores).

    LAPACK's symmetric eigensolver scales badly over threads and collapses when the cores are
    shared (a sweep's other workers, torch's threads): measured on 2 shared cores, ``eigh`` of a
    1024×1024 matrix took 2.5 s of CPU on 2 OpenBLAS threads and 0.34 s on one. What threadpoolctl
    does, for the one library (located through ``/proc/self/maps``; Linux only).
    """
    lib = _openblas()
    if lib is None:
        yield
        return
    get, set_ = lib
    before = int(get())
    set_(1)
    try:
        yield
    finally:
        set_(before)


@functools.lru_cache(maxsize=1)
def _openblas() -> tuple[Any, Any] | None:
    import ctypes  # noqa: PLC0415

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.rsplit("/", 1)[-1].lower()
                            and line.split()[-1].startswith("/")})
    except OSError:
        return None
    for path in paths:  # numpy's own copy (numpy.libs/…openblas64_…) first, then any other
        if "numpy" not in path and any("numpy" in q for q in paths):
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("scipy_openblas_{}_num_threads64_", "openblas_{}_num_threads64_", "openblas_{}_num_threads"):
            get, set_ = (getattr(lib, suffix.format(w), None) for w in ("get", "set"))
            if get is not None and set_ is not None:
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, set_
    return None
