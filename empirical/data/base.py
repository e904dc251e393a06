"""The base of every image source: :class:`Split`, the :class:`Source` ABC, index checks, the batch cache.

A source is a frozen dataclass: its fields are its options (what :func:`empirical.data.make_source`
accepts as keyword options). :meth:`Source.batch` caches its results as ``.npy`` files under
``cache_dir`` when set, written with :func:`theory.infra.io.atomic_write` (readable by others under the
usual umask). The index ranges of generated sources are :data:`VAL_OFFSET` and :data:`TEST_OFFSET`.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from theory.infra.io import atomic_write
from theory.infra.validation import is_int

__all__ = ["Split", "Source", "VAL_OFFSET", "TEST_OFFSET", "INDEX_LIMIT", "check_count", "check_seed", "range_split"]

#: First index of the validation range of generated sources (and of ``photos``).
VAL_OFFSET: int = 10**9
#: First index of the test range of generated sources (and of ``photos``' fixed test crops).
TEST_OFFSET: int = 2 * 10**9
#: Indices (and seeds) stay below 2**32 so that ``default_rng([seed, i])`` and
#: ``default_rng([seed, i, tag])`` never coincide (NumPy splits larger integers into 32-bit words).
INDEX_LIMIT: int = 2**32




# --------------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------------


def check_count(name: str, value: Any, *, limit: int | None = None) -> int:
    """``value`` as a non-negative int (at most ``limit``), or a one-line ValueError naming ``name``."""
    if not is_int(value) or value < 0:
        raise ValueError(f"{name}={value!r} must be a non-negative integer")
    if limit is not None and value > limit:
        raise ValueError(f"{name}={value} exceeds the maximum {limit}; request at most {limit}")
    return int(value)


def check_seed(seed: Any) -> int:
    """``seed`` as an int in [0, :data:`INDEX_LIMIT`), or a one-line ValueError."""
    if not is_int(seed) or not 0 <= seed < INDEX_LIMIT:
        raise ValueError(f"seed={seed!r} must be an integer in [0, 2**32); pass e.g. seed=0")
    return int(seed)


# --------------------------------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------------------------------


def _frozen_indices(name: str, a: Any) -> np.ndarray:
    arr = np.asarray(a)
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"Split.{name} must be a 1-D integer array, got shape {arr.shape} dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"Split.{name} contains negative indices; indices must be >= 0")
    if np.unique(arr).size != arr.size:
        raise ValueError(f"Split.{name} contains repeated indices; each image may appear once")
    out = arr.astype(np.int64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Split:
    """Index sets into one source: nested training prefixes, disjoint validation and test sets.

    Attributes:
        train_pool: (N_max,) int64 indices in a fixed order; the training set of size N is its first N.
        val: (n_val,) int64 validation indices.
        test: (n_test,) int64 test indices.

    The arrays are read-only; the three sets are pairwise disjoint (checked on construction).
    """

    train_pool: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for name in ("train_pool", "val", "test"):
            object.__setattr__(self, name, _frozen_indices(name, getattr(self, name)))
        for (na, a), (nb, b) in (
            (("train_pool", self.train_pool), ("val", self.val)),
            (("train_pool", self.train_pool), ("test", self.test)),
            (("val", self.val), ("test", self.test)),
        ):
            common = np.intersect1d(a, b)
            if common.size:
                raise ValueError(f"Split.{na} and Split.{nb} share {common.size} indices (e.g. {common[0]}); they must be disjoint")

    def train(self, N: int) -> np.ndarray:
        """The training set of size N: the first N indices of the pool.

        Args:
            N: training-set size, 0 <= N <= len(train_pool).

        Returns:
            (N,) int64 read-only view of ``train_pool``.
        """
        if not is_int(N) or N < 0:
            raise ValueError(f"N={N!r} must be a non-negative integer")
        if N > self.train_pool.size:
            raise ValueError(
                f"N={N} exceeds the training pool of {self.train_pool.size} images; call split() with n_train >= {N}"
            )
        return self.train_pool[: int(N)]

    @property
    def sizes(self) -> dict[str, int]:
        """Sizes of the pool, validation and test sets."""
        return {"train_pool": int(self.train_pool.size), "val": int(self.val.size), "test": int(self.test.size)}


def range_split(n_train: Any, n_val: Any, n_test: Any, *, n_test_max: int | None = None) -> Split:
    """The split of a generated source: disjoint ranges [0, n_train), [VAL_OFFSET, …), [TEST_OFFSET, …).

    Args:
        n_train, n_val, n_test: set sizes (non-negative ints, at most VAL_OFFSET).
        n_test_max: a smaller bound on ``n_test`` (a source with a fixed test set).

    Returns:
        :class:`Split` with (n_train,), (n_val,) and (n_test,) index arrays.
    """
    n_train = check_count("n_train", n_train, limit=VAL_OFFSET)
    n_val = check_count("n_val", n_val, limit=VAL_OFFSET)
    n_test = check_count("n_test", n_test, limit=VAL_OFFSET if n_test_max is None else n_test_max)
    return Split(
        train_pool=np.arange(n_train, dtype=np.int64),
        val=VAL_OFFSET + np.arange(n_val, dtype=np.int64),
        test=TEST_OFFSET + np.arange(n_test, dtype=np.int64),
    )


# --------------------------------------------------------------------------------------------------
# the base class
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Source(ABC):
    """A deterministic, indexable collection of (C, size, size) float32 images.

    Attributes:
        size: image side in pixels (H = W = size).
        channels: 1 (greyscale) or 3 (RGB); some sources allow only 1.
        seed: source seed in [0, 2**32); image i depends only on (parameters, seed, i).
        cache_dir: when set, :meth:`batch` stores its results there as ``.npy`` files keyed by
            (spec, size, channels, seed, parameters, indices) and reuses them.
    """

    size: int
    channels: int = 1
    seed: int = 0
    cache_dir: str | None = None

    spec: ClassVar[str] = ""
    allowed_channels: ClassVar[tuple[int, ...]] = (1, 3)
    value_range: ClassVar[tuple[float, float] | None] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if not is_int(self.size) or self.size < 1:
            raise ValueError(f"size={self.size!r} must be a positive integer (the image side in pixels)")
        if self.channels not in self.allowed_channels or not is_int(self.channels):
            allowed = " or ".join(str(c) for c in self.allowed_channels)
            raise ValueError(f"channels={self.channels!r} is not supported by {self.spec!r}; use channels={allowed}")
        check_seed(self.seed)
        if self.cache_dir is not None and not isinstance(self.cache_dir, (str, os.PathLike)):
            raise ValueError(f"cache_dir={self.cache_dir!r} must be a path or None")

    # -- identity ----------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The spec string that makes this source."""
        return self.spec

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, size, size), the shape of one image."""
        return (self.channels, self.size, self.size)

    # -- indices -----------------------------------------------------------------------------------

    def _index_ok(self, idx: np.ndarray) -> np.ndarray:
        """(B,) bool: which indices of (B,) int64 ``idx`` belong to the index space."""
        return (idx >= 0) & (idx < INDEX_LIMIT)

    def _index_space(self) -> str:
        return "[0, 2**32)"

    def _check_indices(self, idx: Any) -> np.ndarray:
        arr = np.asarray(idx)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"indices must be a 1-D integer array, got shape {arr.shape} dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        ok = self._index_ok(arr)
        if not ok.all():
            bad = int(arr[~ok][0])
            raise ValueError(f"index {bad} is outside the index space {self._index_space()} of {self.name!r}; use indices from split()")
        return arr

    def _check_index(self, i: Any) -> int:
        if not is_int(i):
            raise ValueError(f"index {i!r} must be an integer")
        return int(self._check_indices(np.array([i], dtype=np.int64))[0])

    # -- images ------------------------------------------------------------------------------------

    def image(self, i: int) -> np.ndarray:
        """Image ``i``.

        Args:
            i: index in the source's index space (see :meth:`split`).

        Returns:
            (C, size, size) float32 array, a fresh copy.
        """
        return self._image(self._check_index(i))

    def batch(self, idx: Any) -> np.ndarray:
        """Images ``idx`` stacked.

        Args:
            idx: (B,) integer indices.

        Returns:
            (B, C, size, size) float32 array; ``batch(idx)[k]`` equals ``image(idx[k])``.
        """
        arr = self._check_indices(idx)
        if self.cache_dir is None or arr.size == 0:
            return self._batch(arr)
        path = self._cache_path(arr)
        if os.path.exists(path):
            return np.load(path)
        out = self._batch(arr)
        atomic_write(path, lambda fh: np.save(fh, out))
        return out

    @abstractmethod
    def _image(self, i: int) -> np.ndarray:
        """(C, size, size) float32 image of a validated index."""

    def _batch(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((idx.size, *self.shape), dtype=np.float32)
        for k, i in enumerate(idx):
            out[k] = self._image(int(i))
        return out

    # -- splits and description --------------------------------------------------------------------

    def split(self, *, n_train: int, n_val: int, n_test: int, seed: int) -> Split:
        """Disjoint index ranges: train [0, n_train), val from VAL_OFFSET, test from TEST_OFFSET.

        The images of a generated source are already random (given the source seed), so the ranges
        do not depend on ``seed`` (accepted for a uniform interface); training sets are nested.

        Args:
            n_train: size of the training pool (the largest N).
            n_val: validation-set size.
            n_test: test-set size.
            seed: unused by generated sources.

        Returns:
            The :class:`Split`.
        """
        check_seed(seed)
        return range_split(n_train, n_val, n_test)

    def parameters(self) -> dict[str, Any]:
        """Source-specific parameters (JSON-able)."""
        return {}

    def notes(self) -> list[str]:
        """Caveats worth recording next to results."""
        return []

    def describe(self) -> dict[str, Any]:
        """JSON-able description: name, size, channels, seed, value range, parameters and notes."""
        return {
            "name": self.name,
            "size": int(self.size),
            "channels": int(self.channels),
            "seed": int(self.seed),
            "value_range": None if self.value_range is None else [float(v) for v in self.value_range],
            "parameters": self.parameters(),
            "notes": self.notes(),
        }

    # -- cache -------------------------------------------------------------------------------------

    def _cache_token(self) -> str:
        """Extra cache-key material (a folder's file fingerprint)."""
        return ""

    def _cache_path(self, idx: np.ndarray) -> str:
        key = json.dumps(
            [self.name, int(self.size), int(self.channels), int(self.seed), self.parameters(), self._cache_token()],
            sort_keys=True,
        )
        h = hashlib.sha256(key.encode())
        h.update(np.ascontiguousarray(idx, dtype="<i8").tobytes())
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.name.split(":")[0])
        return os.path.join(
            os.fspath(self.cache_dir), f"{stem}-s{self.size}-c{self.channels}-seed{self.seed}-{h.hexdigest()[:24]}.npy"
        )
