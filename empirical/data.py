"""Image sources for the scaling experiments: deterministic, indexable, with nested and disjoint splits.

Every source is a deterministic collection of images: ``source.image(i)`` returns the same
``(C, size, size)`` float32 array every time it is called with the same ``i`` (and the same source
parameters). Randomness is derived from ``np.random.default_rng([seed, i])`` (plus a tag word where a
second independent stream is needed), never from global state.

Splits are index sets into one source (:class:`Split`). Training sets are *nested*: the training set
of size N is ``split.train(N)``, the first N entries of one fixed pool order, so N₁ < N₂ implies
train(N₁) ⊂ train(N₂). Training, validation and test indices are pairwise disjoint.

Generated sources (``subspace``, ``deadleaves``, ``deadleaves-textured``, ``phantoms``) have an
unbounded-in-practice index space ``[0, 2**32)``; their splits are the disjoint integer ranges
``[0, n_train)``, ``[VAL_OFFSET, VAL_OFFSET + n_val)`` and ``[TEST_OFFSET, TEST_OFFSET + n_test)``.
``photos`` uses the same ranges for its training and validation crops and indexes a fixed list of
held-out test crops from ``TEST_OFFSET``. ``folder:PATH`` indexes files (sorted) and splits a
seeded permutation of them. ``fastmri:PATH`` indexes the slices of its volumes and splits a seeded
permutation of the *volumes* (no volume in two sets; counts are slices).

Sources (see :func:`make_source`):

* ``subspace`` -- the theory's model x = U c as (1, size, size) images (values are not in [0, 1]).
* ``deadleaves`` -- occluding discs with power-law radii (density ∝ r^-3), flat uniform colours.
* ``deadleaves-textured`` -- the same leaves with smooth gradients and 1/f noise textures inside each
  leaf and a random mild Gaussian blur of the whole image.
* ``phantoms`` -- random Shepp-Logan-like ellipse phantoms (greyscale); ``complex_image`` adds a
  smooth random phase for MRI.
* ``photos`` -- real photographs shipped with scikit-image, split at the photo level.
* ``folder:PATH`` -- any directory tree of PNG/JPEG/TIFF files (ImageNet-style class sub-folders).
* ``fastmri:PATH`` -- slices of fastMRI HDF5 volumes (a directory of ``.h5`` files or one file);
  targets are the stored RSS/ESC reconstructions (or computed from k-space), split by volume.

Heavy dependencies (scikit-image, scipy.ndimage) are imported lazily, where they are used.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, ClassVar, NamedTuple

import numpy as np

from theory import random_orthonormal

__all__ = [
    "Split",
    "Source",
    "SubspaceSource",
    "DeadLeavesSource",
    "TexturedDeadLeavesSource",
    "PhantomSource",
    "PhotoSource",
    "FolderSource",
    "FastMRISource",
    "FASTMRI_TARGETS",
    "kspace_target",
    "ifft2c",
    "make_source",
    "SPECS",
    "VAL_OFFSET",
    "TEST_OFFSET",
    "INDEX_LIMIT",
    "IMAGE_EXTENSIONS",
]

#: First index of the validation range of generated sources (and of ``photos``).
VAL_OFFSET: int = 10**9
#: First index of the test range of generated sources (and of ``photos``' fixed test crops).
TEST_OFFSET: int = 2 * 10**9
#: Indices (and seeds) stay below 2**32 so that ``default_rng([seed, i])`` and
#: ``default_rng([seed, i, tag])`` never coincide (NumPy splits larger integers into 32-bit words).
INDEX_LIMIT: int = 2**32
#: The spec strings :func:`make_source` accepts (``folder:`` takes a path after the colon).
SPECS: tuple[str, ...] = ("subspace", "deadleaves", "deadleaves-textured", "phantoms", "photos", "folder:PATH", "fastmri:PATH")
#: File extensions a ``folder:`` source reads (case-insensitive).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma weights


# --------------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------------


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _check_count(name: str, value: Any, *, limit: int | None = None) -> int:
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name}={value!r} must be a non-negative integer")
    if limit is not None and value > limit:
        raise ValueError(f"{name}={value} exceeds the maximum {limit}; request at most {limit}")
    return int(value)


def _check_seed(seed: Any) -> int:
    if not _is_int(seed) or not 0 <= seed < INDEX_LIMIT:
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
        if not _is_int(N) or N < 0:
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


def _range_split(n_train: Any, n_val: Any, n_test: Any, *, n_test_max: int | None = None) -> Split:
    """Disjoint integer ranges [0, n_train), [VAL_OFFSET, ...), [TEST_OFFSET, ...)."""
    n_train = _check_count("n_train", n_train, limit=VAL_OFFSET)
    n_val = _check_count("n_val", n_val, limit=VAL_OFFSET)
    n_test = _check_count("n_test", n_test, limit=VAL_OFFSET if n_test_max is None else n_test_max)
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
        if not _is_int(self.size) or self.size < 1:
            raise ValueError(f"size={self.size!r} must be a positive integer (the image side in pixels)")
        if self.channels not in self.allowed_channels or not _is_int(self.channels):
            allowed = " or ".join(str(c) for c in self.allowed_channels)
            raise ValueError(f"channels={self.channels!r} is not supported by {self.spec!r}; use channels={allowed}")
        _check_seed(self.seed)
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
        if not _is_int(i):
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
        _atomic_save(path, out)
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
        _check_seed(seed)
        return _range_split(n_train, n_val, n_test)

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


def _atomic_save(path: str, arr: np.ndarray) -> None:
    """Write ``arr`` to ``path`` via a temporary file in the same directory and an atomic rename."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, arr)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# --------------------------------------------------------------------------------------------------
# subspace
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SubspaceSource(Source):
    """The theory's signal model as images: x = U c reshaped to (1, size, size).

    n = size², U is an n×d Haar-random orthonormal basis drawn once per source seed from
    ``default_rng([seed, 0])``; image i has c ~ N(0, I_d) from ``default_rng([seed, 1, i])``.
    Values are *not* in [0, 1] (E‖x‖² = d); PSNR conventions do not apply -- use MSE.

    Attributes:
        d: subspace dimension, 1 <= d <= size².
    """

    d: int = 10

    spec: ClassVar[str] = "subspace"
    allowed_channels: ClassVar[tuple[int, ...]] = (1,)
    value_range: ClassVar[tuple[float, float] | None] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.size**2
        if not _is_int(self.d) or not 1 <= self.d <= n:
            raise ValueError(f"d={self.d!r} must be an integer in [1, size**2 = {n}]")

    @cached_property
    def basis(self) -> np.ndarray:
        """(n, d) float64 orthonormal basis U, n = size²."""
        return random_orthonormal(self.size**2, int(self.d), rng=np.random.default_rng([self.seed, 0]))

    def coefficients(self, idx: Any) -> np.ndarray:
        """Latent coefficients.

        Args:
            idx: (B,) indices.

        Returns:
            (B, d) float64 array, row k ~ N(0, I_d) from ``default_rng([seed, 1, idx[k]])``.
        """
        arr = self._check_indices(idx)
        out = np.empty((arr.size, int(self.d)))
        for k, i in enumerate(arr):
            out[k] = np.random.default_rng([self.seed, 1, int(i)]).standard_normal(int(self.d))
        return out

    def _image(self, i: int) -> np.ndarray:
        return self._batch(np.array([i], dtype=np.int64))[0]

    def _batch(self, idx: np.ndarray) -> np.ndarray:
        c = self.coefficients(idx)
        x = c @ self.basis.T
        return x.astype(np.float32).reshape(idx.size, 1, self.size, self.size)

    def parameters(self) -> dict[str, Any]:
        return {"d": int(self.d), "n": int(self.size**2)}

    def notes(self) -> list[str]:
        return [
            "values are not in [0, 1]: x = U c with c ~ N(0, I_d), so E||x||^2 = d; PSNR conventions do not apply, use MSE",
            "U is fixed per source seed (the theory redraws U per run: use one source seed per run)",
        ]


# --------------------------------------------------------------------------------------------------
# dead leaves
# --------------------------------------------------------------------------------------------------


def _sample_power(rng: np.random.Generator, k: int, exponent: float, lo: float, hi: float) -> np.ndarray:
    """(k,) samples of the density ∝ r**exponent on [lo, hi] by inverse CDF."""
    u = rng.random(k)
    a = exponent + 1.0
    if abs(a) < 1e-12:
        return lo * (hi / lo) ** u
    return (lo**a + u * (hi**a - lo**a)) ** (1.0 / a)


def _power_integral(exponent: float, lo: float, hi: float) -> float:
    a = exponent + 1.0
    return math.log(hi / lo) if abs(a) < 1e-12 else (hi**a - lo**a) / a


@dataclass(frozen=True)
class _Leaves:
    """Rendered dead-leaves geometry (pixel units, pixel j has centre j).

    Attributes:
        label: (H, W) int64 index of the visible disc at each pixel.
        cx, cy, r: (K,) centres and radii of all drawn discs, front to back.
        colour: (K, C) uniform colours in [0, 1].
    """

    label: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    r: np.ndarray
    colour: np.ndarray


_MAX_DISCS = 2**24  # safety cap; never reached for rmin >= half a pixel in practice
_TAIL_FRACTION = 0.05  # switch from bounding-box rasterisation to per-pixel tests below this coverage gap
_TAIL_ELEMENTS = 4_000_000  # memory cap of the (discs × remaining pixels) tests


@dataclass(frozen=True, kw_only=True)
class DeadLeavesSource(Source):
    """Classic dead-leaves images: occluding discs with power-law radii and flat uniform colours.

    The model: a Poisson process of discs with radius density ∝ r^-alpha on [rmin, rmax] (units of
    the image side) and uniformly random centres, stacked in random order; the image shows the
    top-most disc at each pixel. Rendering goes front to back and stops once every pixel centre is
    covered -- exact on the pixel grid, since the discs below are hidden. Only discs that can meet
    the image are drawn: a radius from ∝ r^-alpha (1 + 2r)² (a mixture of three power laws) and a
    centre uniform in the square grown by r, which is the restriction of the stationary process to
    the image (so borders have the same statistics as the centre). No anti-aliasing: images are
    exactly piecewise constant. Colours are uniform in [0, 1] (per channel for RGB).

    Vectorised in numpy over discs and pixels: discs are rasterised by their bounding boxes in
    chunks while more than 5% of pixels are uncovered, then the remaining pixels are tested against
    chunks of discs directly. Geometry of image i comes from ``default_rng([seed, i])``.

    Attributes:
        rmin: smallest radius in units of the side (default 2/size, i.e. 2 pixels); >= 0.5/size.
        rmax: largest radius in units of the side (default 0.5).
        alpha: exponent of the radius density (3 gives scale invariance).
    """

    rmin: float | None = None
    rmax: float = 0.5
    alpha: float = 3.0

    spec: ClassVar[str] = "deadleaves"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("rmax", "alpha") + (("rmin",) if self.rmin is not None else ()):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) or not math.isfinite(v):
                raise ValueError(f"{name}={v!r} must be a finite number")
        if self.r_min * self.size < 0.5:
            raise ValueError(f"rmin={self.r_min} is below half a pixel at size {self.size}; use rmin >= {0.5 / self.size:.4g}")
        if not self.r_min < self.rmax:
            raise ValueError(f"rmin={self.r_min} must be smaller than rmax={self.rmax}; lower rmin or raise rmax")

    @property
    def r_min(self) -> float:
        """Effective smallest radius (units of the side)."""
        return 2.0 / self.size if self.rmin is None else float(self.rmin)

    @cached_property
    def _radius_mixture(self) -> tuple[np.ndarray, np.ndarray]:
        """Exponents (3,) and weights (3,) of r^-a (1 + 2r)² = r^-a + 4 r^(1-a) + 4 r^(2-a)."""
        a, lo, hi = float(self.alpha), self.r_min, float(self.rmax)
        ex = np.array([-a, 1.0 - a, 2.0 - a])
        w = np.array([c * _power_integral(e, lo, hi) for c, e in zip((1.0, 4.0, 4.0), ex)])
        return ex, w / w.sum()

    def _discs(self, rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """k discs meeting the image: centres (k,), (k,), radii (k,) in pixels and colours (k, C)."""
        ex, w = self._radius_mixture
        comp = rng.choice(3, size=k, p=w)
        r = np.empty(k)
        for j in range(3):
            m = comp == j
            r[m] = _sample_power(rng, int(m.sum()), float(ex[j]), self.r_min, float(self.rmax))
        u = rng.random((k, 2))
        c = -r[:, None] + u * (1.0 + 2.0 * r[:, None])  # uniform in [-r, 1 + r]²
        colour = rng.random((k, self.channels))
        s = self.size
        return c[:, 0] * s - 0.5, c[:, 1] * s - 0.5, r * s, colour

    def _leaves(self, i: int) -> _Leaves:
        """Render the visible-disc label map of image i (see the class docstring)."""
        rng = np.random.default_rng([self.seed, i])
        H = W = self.size
        P = H * W
        label = np.full(P, -1, dtype=np.int64)
        parts: list[tuple[np.ndarray, ...]] = []
        total, remaining, k = 0, P, 128
        per_disc = 1.0 / k  # running estimate of -log(1 - covered fraction) per disc
        while remaining > _TAIL_FRACTION * P and total < _MAX_DISCS:
            cx, cy, rp, col = self._discs(rng, k)
            parts.append((cx, cy, rp, col))
            x0 = np.clip(np.ceil(cx - rp), 0, W).astype(np.int64)
            x1 = np.clip(np.floor(cx + rp) + 1, 0, W).astype(np.int64)
            y0 = np.clip(np.ceil(cy - rp), 0, H).astype(np.int64)
            y1 = np.clip(np.floor(cy + rp) + 1, 0, H).astype(np.int64)
            w = np.maximum(x1 - x0, 0)
            n = w * np.maximum(y1 - y0, 0)
            disc = np.repeat(np.arange(k), n)
            local = np.arange(disc.size) - np.repeat(np.cumsum(n) - n, n)
            ly, lx = np.divmod(local, w[disc])
            px, py = x0[disc] + lx, y0[disc] + ly
            pix = py * W + px
            keep = ((px - cx[disc]) ** 2 + (py - cy[disc]) ** 2 <= rp[disc] ** 2) & (label[pix] < 0)
            pix, disc = pix[keep], disc[keep]
            hit, first = np.unique(pix, return_index=True)  # stable: first = front-most disc
            label[hit] = total + disc[first]
            covered = hit.size / remaining
            remaining -= hit.size
            total += k
            if covered > 0:
                per_disc = -math.log(max(1.0 - covered, 1e-12)) / k
            target = math.log(max(remaining, 1) / (_TAIL_FRACTION * P)) if remaining > _TAIL_FRACTION * P else 0.0
            k = int(min(max(math.ceil(target / per_disc), 16), 65536))
        todo = np.flatnonzero(label < 0)
        ry, rx = np.divmod(todo, W)
        while todo.size and total < _MAX_DISCS:
            k = int(min(max(math.ceil(1.0 / per_disc), 16), max(_TAIL_ELEMENTS // todo.size, 16)))
            cx, cy, rp, col = self._discs(rng, k)
            parts.append((cx, cy, rp, col))
            cov = (rx[None, :] - cx[:, None]) ** 2 + (ry[None, :] - cy[:, None]) ** 2 <= (rp**2)[:, None]
            hit = cov.any(axis=0)
            label[todo[hit]] = total + cov.argmax(axis=0)[hit]
            total += k
            todo, rx, ry = todo[~hit], rx[~hit], ry[~hit]
        cx, cy, rp, col = (np.concatenate(a) for a in zip(*parts))
        if todo.size:  # safety cap reached: uncovered pixels show a background leaf
            label[todo] = total
            cx, cy, rp = (np.append(a, v) for a, v in ((cx, W / 2), (cy, H / 2), (rp, float(P))))
            col = np.vstack([col, rng.random((1, self.channels))])
        return _Leaves(label=label.reshape(H, W), cx=cx, cy=cy, r=rp, colour=col)

    def _image(self, i: int) -> np.ndarray:
        leaves = self._leaves(i)
        return np.ascontiguousarray(np.moveaxis(leaves.colour[leaves.label], -1, 0), dtype=np.float32)

    def parameters(self) -> dict[str, Any]:
        return {"rmin": self.r_min, "rmax": float(self.rmax), "alpha": float(self.alpha), "radius_units": "image side"}

    def notes(self) -> list[str]:
        return [
            "exact dead-leaves on the pixel grid (front-to-back until covered), no anti-aliasing: piecewise constant",
            f"radius density r^-{float(self.alpha):g} on [{self.r_min:.4g}, {float(self.rmax):g}] x side; colours uniform in [0, 1]",
        ]


def _noise_fields(rng: np.random.Generator, t: int, h: int, w: int) -> np.ndarray:
    """Random-phase textures with a 1/f amplitude spectrum.

    The phases are those of the real FFT of white Gaussian noise (uniform and Hermitian-symmetric,
    so the field is real); the amplitudes are set to exactly 1/|f| (0 at f = 0).

    Returns:
        (t, h, w) float64 fields, each zero-mean with unit standard deviation.
    """
    spec = np.fft.rfft2(rng.standard_normal((t, h, w)), axes=(-2, -1))
    f = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2)
    f[0, 0] = np.inf
    mod = np.abs(spec)
    spec = spec / np.where(mod > 0, mod, 1.0) / f
    field_ = np.fft.irfft2(spec, s=(h, w), axes=(-2, -1))
    field_ -= field_.mean(axis=(-2, -1), keepdims=True)
    sd = field_.std(axis=(-2, -1), keepdims=True)
    return field_ / np.where(sd > 0, sd, 1.0)


@dataclass(frozen=True, kw_only=True)
class TexturedDeadLeavesSource(DeadLeavesSource):
    """Dead leaves with per-leaf texture and a mild random blur (transfers better to photos).

    The leaf geometry and base colours are those of ``deadleaves`` with the same parameters and seed.
    On top, from ``default_rng([seed, i, 1])``:

    * a linear gradient per leaf and channel: random direction, slope such that the value changes
      by up to ``gradient`` over the leaf's radius (large leaves get gentle shading);
    * a noise texture per leaf: each leaf picks one of ``n_textures`` random-phase fields with a
      1/f amplitude spectrum (natural-image-like, zero mean, unit std) and adds it with an amplitude
      uniform in [0, ``texture_amplitude``] (the same for all channels: a luminance texture);
    * values clipped to [0, 1], then a Gaussian blur of the whole image with σ uniform in
      [0, ``blur_max``] pixels (reflecting borders), which keeps values in [0, 1].

    Attributes:
        gradient: largest value change across a leaf's radius.
        texture_amplitude: largest texture amplitude (in units of the texture's std).
        n_textures: number of independent texture fields per image.
        blur_max: largest blur σ in pixels.
    """

    gradient: float = 0.3
    texture_amplitude: float = 0.15
    n_textures: int = 4
    blur_max: float = 1.5

    spec: ClassVar[str] = "deadleaves-textured"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("gradient", "texture_amplitude", "blur_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) or not 0 <= v < math.inf:
                raise ValueError(f"{name}={v!r} must be a finite number >= 0")
        if not _is_int(self.n_textures) or self.n_textures < 1:
            raise ValueError(f"n_textures={self.n_textures!r} must be a positive integer")

    def _image(self, i: int) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        lv = self._leaves(i)
        rng = np.random.default_rng([self.seed, i, 1])
        K, C, H, W = lv.r.size, self.channels, self.size, self.size
        theta = rng.uniform(0.0, 2.0 * np.pi, (K, C))
        slope = float(self.gradient) * rng.random((K, C)) / np.maximum(lv.r, 0.5)[:, None]
        tex = rng.integers(int(self.n_textures), size=K)
        amp = float(self.texture_amplitude) * rng.random(K)
        fields_ = _noise_fields(rng, int(self.n_textures), H, W)
        sigma = float(self.blur_max) * rng.random()
        lab = lv.label
        yy, xx = np.mgrid[0:H, 0:W]
        dx = (xx - lv.cx[lab])[..., None]
        dy = (yy - lv.cy[lab])[..., None]
        val = lv.colour[lab] + slope[lab] * (np.cos(theta[lab]) * dx + np.sin(theta[lab]) * dy)
        val += (amp[lab] * fields_[tex[lab], yy, xx])[..., None]
        img = np.clip(np.moveaxis(val, -1, 0), 0.0, 1.0)
        if sigma > 0:
            img = gaussian_filter(img, sigma=(0.0, sigma, sigma), mode="reflect", truncate=4.0)
        return np.ascontiguousarray(np.clip(img, 0.0, 1.0), dtype=np.float32)

    def parameters(self) -> dict[str, Any]:
        return {
            **super().parameters(),
            "gradient": float(self.gradient),
            "texture_amplitude": float(self.texture_amplitude),
            "n_textures": int(self.n_textures),
            "texture_spectrum": "1/f amplitude, random phase",
            "blur_max": float(self.blur_max),
        }

    def notes(self) -> list[str]:
        return [
            "geometry and base colours as plain deadleaves with the same seed; per leaf: linear gradient and 1/f noise texture",
            f"whole image blurred with Gaussian sigma ~ U[0, {float(self.blur_max):g}] px; values clipped to [0, 1] before blurring",
        ]


# --------------------------------------------------------------------------------------------------
# phantoms
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PhantomSource(Source):
    """Random Shepp-Logan-like ellipse phantoms, greyscale in [0, 1].

    From ``default_rng([seed, i])`` (coordinates [-1, 1]², pixel centres): a head ellipse (semi-axes
    0.62-0.78 by 0.80-0.92, centre within ±0.05, tilt within ±15°) of "skull" intensity U[0.75, 1];
    inside it, the brain (the head shrunk by a skull thickness U[0.03, 0.07]) of intensity
    U[0.2, 0.5]; then ``min_ellipses``..``max_ellipses`` inner ellipses with centres in the brain,
    semi-axes U[0.05, 0.35] × the brain's shorter semi-axis, any rotation, and *additive*
    intensities U[-0.3, 0.5] (as in Shepp-Logan) confined to the brain. The sum is clipped to [0, 1].

    :meth:`complex_image` multiplies the magnitude by exp(iφ) with a smooth random phase φ from
    ``default_rng([seed, i, 1])``: a constant U[-π, π] plus four plane-wave cosines of at most one
    cycle across the field of view with amplitudes U[0, π/4]. :meth:`image` returns the magnitude.

    Attributes:
        phase: whether :meth:`complex_image` carries the random phase (else it is real).
        min_ellipses: smallest number of inner ellipses.
        max_ellipses: largest number of inner ellipses.
    """

    phase: bool = True
    min_ellipses: int = 4
    max_ellipses: int = 10

    spec: ClassVar[str] = "phantoms"
    allowed_channels: ClassVar[tuple[int, ...]] = (1,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.phase, (bool, np.bool_)):
            raise ValueError(f"phase={self.phase!r} must be True or False")
        if not (_is_int(self.min_ellipses) and _is_int(self.max_ellipses) and 0 <= self.min_ellipses <= self.max_ellipses):
            raise ValueError(
                f"min_ellipses={self.min_ellipses!r}, max_ellipses={self.max_ellipses!r} must be integers with 0 <= min <= max"
            )

    @cached_property
    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        t = (np.arange(self.size) + 0.5) / self.size * 2.0 - 1.0
        return t[None, :], t[:, None]  # x (1, W), y (H, 1)

    def _magnitude(self, i: int) -> np.ndarray:
        """(size, size) float64 magnitude in [0, 1]."""
        rng = np.random.default_rng([self.seed, i])
        x, y = self._grid
        hx, hy = rng.uniform(-0.05, 0.05, 2)
        ha, hb = rng.uniform(0.62, 0.78), rng.uniform(0.80, 0.92)
        ht = rng.uniform(-np.pi / 12, np.pi / 12)
        skull, thick, brain = rng.uniform(0.75, 1.0), rng.uniform(0.03, 0.07), rng.uniform(0.2, 0.5)
        ba, bb = ha - thick, hb - thick
        m = int(rng.integers(int(self.min_ellipses), int(self.max_ellipses) + 1))
        rho = 0.75 * np.sqrt(rng.random(m))
        phi = rng.uniform(0.0, 2.0 * np.pi, m)
        ex, ey = rho * ba * np.cos(phi), rho * bb * np.sin(phi)  # in the head's frame
        cx = hx + np.cos(ht) * ex - np.sin(ht) * ey
        cy = hy + np.sin(ht) * ex + np.cos(ht) * ey
        axes = rng.uniform(0.05, 0.35, (m, 2)) * min(ba, bb)
        rot = rng.uniform(0.0, np.pi, m)
        val = rng.uniform(-0.3, 0.5, m)

        def inside(x0, y0, a, b, t):
            dx, dy = x - x0, y - y0
            u = np.cos(t) * dx + np.sin(t) * dy
            v = -np.sin(t) * dx + np.cos(t) * dy
            return (u / a) ** 2 + (v / b) ** 2 <= 1.0

        head = inside(hx, hy, ha, hb, ht)
        interior = inside(hx, hy, ba, bb, ht)
        img = np.where(head, skull, 0.0) + np.where(interior, brain - skull, 0.0)
        if m:
            p = (cx[:, None, None], cy[:, None, None], axes[:, 0, None, None], axes[:, 1, None, None], rot[:, None, None])
            img = img + interior * np.tensordot(val, inside(*p), axes=1)
        return np.clip(img, 0.0, 1.0)

    def _image(self, i: int) -> np.ndarray:
        return self._magnitude(i).astype(np.float32)[None]

    def complex_image(self, i: int) -> np.ndarray:
        """Complex phantom with a smooth random phase (see the class docstring).

        Args:
            i: index.

        Returns:
            (size, size) complex64 array whose modulus is ``image(i)[0]``.
        """
        i = self._check_index(i)
        mag = self._magnitude(i)
        if not self.phase:
            return mag.astype(np.complex64)
        rng = np.random.default_rng([self.seed, i, 1])
        x, y = self._grid
        phi = rng.uniform(-np.pi, np.pi) + np.zeros_like(mag)
        for _ in range(4):
            fx, fy = rng.uniform(-1.0, 1.0, 2)
            phi = phi + rng.uniform(0.0, np.pi / 4) * np.cos(np.pi * (fx * x + fy * y) + rng.uniform(0.0, 2.0 * np.pi))
        return (mag * np.exp(1j * phi)).astype(np.complex64)

    def parameters(self) -> dict[str, Any]:
        return {"phase": bool(self.phase), "min_ellipses": int(self.min_ellipses), "max_ellipses": int(self.max_ellipses)}

    def notes(self) -> list[str]:
        return [
            "Shepp-Logan-like: head ellipse, skull rim, additive inner ellipses clipped to [0, 1]; piecewise constant",
            "image() is the magnitude; complex_image() adds a smooth random phase (low-frequency cosines) when phase=True",
        ]


# --------------------------------------------------------------------------------------------------
# image files (shared by photos and folders)
# --------------------------------------------------------------------------------------------------


def _to_float_chw(a: np.ndarray, channels: int, what: str) -> np.ndarray:
    """Convert an image array (H, W) / (H, W, 1-4) to (channels, H, W) float64 in [0, 1]."""
    if a.ndim == 3 and a.shape[-1] in (1, 2, 3, 4):
        a = a[..., :3] if a.shape[-1] >= 3 else a[..., 0]  # drop alpha
    if a.ndim not in (2, 3):
        raise ValueError(f"{what}: unsupported image shape {a.shape}; expected (H, W) or (H, W, 3|4)")
    if a.dtype == np.bool_:
        f = a.astype(np.float64)
    elif np.issubdtype(a.dtype, np.integer):
        f = a.astype(np.float64) / float(np.iinfo(a.dtype).max)
    else:
        f = np.clip(a.astype(np.float64), 0.0, 1.0)
    if f.ndim == 2:
        f = f[None]
    else:
        f = np.moveaxis(f, -1, 0)
    if channels == 1 and f.shape[0] == 3:
        f = np.tensordot(_LUMA, f, axes=1)[None]
    elif channels == 3 and f.shape[0] == 1:
        f = np.repeat(f, 3, axis=0)
    return f


def _resize_chw(f: np.ndarray, h: int, w: int) -> np.ndarray:
    """(C, H, W) -> (C, h, w) with skimage.transform.resize (anti-aliased when shrinking)."""
    if f.shape[1:] == (h, w):
        return f
    from skimage.transform import resize

    shrink = h < f.shape[1] or w < f.shape[2]
    out = resize(np.moveaxis(f, 0, -1), (h, w), order=1, mode="reflect", anti_aliasing=shrink)
    return np.clip(np.moveaxis(out, -1, 0), 0.0, 1.0)


def _scale_short_side(f: np.ndarray, target: int) -> np.ndarray:
    """Resize (C, H, W) so that its short side equals ``target`` (aspect ratio kept)."""
    h, w = f.shape[1:]
    s = target / min(h, w)
    return _resize_chw(f, max(target, int(round(h * s))), max(target, int(round(w * s))))


def _read_image(path: str, channels: int) -> np.ndarray:
    """Read an image file as (channels, H, W) float64 in [0, 1]; ValueError naming the file if unreadable."""
    import imageio.v3 as iio  # scikit-image's own reader back end

    try:
        with open(path, "rb") as fh:  # read the bytes ourselves: no file handle can leak on failure
            data = fh.read()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reader chatter (e.g. TIFF metadata) is not an error
            a = np.asarray(iio.imread(data, index=0, extension=os.path.splitext(path)[1].lower()))
    except Exception as exc:  # any reader failure means the file is unusable
        why = " ".join(str(exc).split())[:200]
        raise ValueError(f"cannot read image file {path} ({type(exc).__name__}: {why}); fix or remove it, or use split(..., skip_corrupt=True)") from None
    if a.ndim == 4 or a.size == 0:
        raise ValueError(f"image file {path} has shape {a.shape} (multi-frame or empty); use single-frame 2-D images")
    return _to_float_chw(a, channels, path)


# --------------------------------------------------------------------------------------------------
# photos shipped with scikit-image
# --------------------------------------------------------------------------------------------------

#: Held-out test photos (varied: portrait, outdoor scene, still life, natural texture, objects).
PHOTO_TEST: tuple[str, ...] = ("astronaut", "camera", "coffee", "grass", "coins")
#: Training photos (scenes, an animal, textures, astronomy, microscopy, retina).
PHOTO_TRAIN: tuple[str, ...] = (
    "chelsea",
    "rocket",
    "motorcycle_left",
    "brick",
    "gravel",
    "moon",
    "hubble_deep_field",
    "retina",
    "ihc",
    "cell",
)
_PHOTO_FILES: dict[str, str] = {
    "astronaut": "astronaut.png",
    "camera": "camera.png",
    "coffee": "coffee.png",
    "grass": "grass.png",
    "coins": "coins.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
    "motorcycle_left": "motorcycle_left.png",
    "brick": "brick.png",
    "gravel": "gravel.png",
    "moon": "moon.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "retina": "retina.jpg",
    "ihc": "ihc.png",
    "cell": "cell.png",
}
#: skimage.data images left out, with the reason.
PHOTO_EXCLUDED: dict[str, str] = {
    "chessboard_GRAY, chessboard_RGB, logo, phantom, color (colour wheel)": "synthetic graphics, not photographs",
    "horse": "binary silhouette",
    "page, text": "documents/text on flat background, unrepresentative of natural images",
    "clock_motion": "deliberately motion-blurred (a degraded input, not a clean target)",
    "motorcycle_right": "stereo twin of motorcycle_left (near-duplicate content)",
    "microaneurysms, lfw_subset, multipage tifs, gif": "too small (<= 102 px) or not single photographs",
}


@functools.lru_cache(maxsize=64)
def _load_photo(path: str, channels: int, size: int, factor: float) -> np.ndarray:
    """(channels, H', W') read-only float64 photo, short side resized to clip(short, size, factor·size)."""
    f = _read_image(path, channels)
    short = min(f.shape[1:])
    target = max(int(min(max(short, size), math.floor(factor * size))), size)
    f = _scale_short_side(f, target) if target != short else f
    f.setflags(write=False)
    return f


@dataclass(frozen=True, kw_only=True)
class PhotoSource(Source):
    """Crops of real photographs shipped inside scikit-image, split at the photo level.

    Each photo is converted to float [0, 1] (greyscale via ITU-R 601 luma when channels=1; grey
    photos are replicated to three channels when channels=3) and resized once (deterministic
    ``skimage.transform.resize`` with anti-aliasing) so that its short side is
    clip(short side, size, ``short_side_factor``·size): large photos are shrunk, photos smaller
    than ``size`` are enlarged.

    * Training index i in [0, VAL_OFFSET) and validation index in [VAL_OFFSET, TEST_OFFSET): a
      training photo (uniform), a crop position (uniform) and one of the 8 flips/rotations, all from
      ``default_rng([seed, i])``. Validation crops come from the *training photos* (disjoint indices,
      not disjoint content).
    * Test index TEST_OFFSET + j: the j-th fixed crop, independent of the seed: the four corner
      crops (top-left, top-right, bottom-left, bottom-right; duplicates dropped) of each test photo
      in ``PHOTO_TEST`` order -- 20 crops whenever every resized test photo exceeds ``size`` on both
      sides (e.g. size <= 151 with the default factor 2).

    Attributes:
        short_side_factor: the short side after resizing is at most this times ``size`` (>= 1).
    """

    short_side_factor: float = 2.0

    spec: ClassVar[str] = "photos"

    def __post_init__(self) -> None:
        super().__post_init__()
        v = self.short_side_factor
        if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) or not 1.0 <= v < math.inf:
            raise ValueError(f"short_side_factor={v!r} must be a finite number >= 1")

    @staticmethod
    def data_dir() -> str:
        """The directory of scikit-image's bundled data files."""
        import skimage.data

        return os.path.dirname(skimage.data.__file__)

    def photo(self, name: str) -> np.ndarray:
        """A resized photo.

        Args:
            name: one of ``PHOTO_TRAIN + PHOTO_TEST``.

        Returns:
            (C, H', W') float64 array in [0, 1] (shared: do not modify).
        """
        if name not in _PHOTO_FILES:
            raise ValueError(f"unknown photo {name!r}; use one of {', '.join(PHOTO_TRAIN + PHOTO_TEST)}")
        path = os.path.join(self.data_dir(), _PHOTO_FILES[name])
        if not os.path.exists(path):
            raise ValueError(f"photo file {path} is missing from this scikit-image install; reinstall scikit-image")
        return _load_photo(path, int(self.channels), int(self.size), float(self.short_side_factor))

    @cached_property
    def test_crops(self) -> tuple[tuple[str, int, int], ...]:
        """The fixed test crops as (photo, top, left), in index order."""
        out: list[tuple[str, int, int]] = []
        for name in PHOTO_TEST:
            H, W = self.photo(name).shape[1:]
            seen: set[tuple[int, int]] = set()
            for top in (0, H - self.size):
                for left in (0, W - self.size):
                    if (top, left) not in seen:
                        seen.add((top, left))
                        out.append((name, top, left))
        return tuple(out)

    def _index_ok(self, idx: np.ndarray) -> np.ndarray:
        ok = (idx >= 0) & (idx < TEST_OFFSET)
        if not ok.all():  # only test indices need the (loaded) test photos
            ok |= (idx >= TEST_OFFSET) & (idx < TEST_OFFSET + len(self.test_crops))
        return ok

    def _index_space(self) -> str:
        return f"[0, {TEST_OFFSET}) ∪ [{TEST_OFFSET}, {TEST_OFFSET + len(self.test_crops)})"

    def _image(self, i: int) -> np.ndarray:
        s = self.size
        if i >= TEST_OFFSET:
            name, top, left = self.test_crops[i - TEST_OFFSET]
            return np.array(self.photo(name)[:, top : top + s, left : left + s], dtype=np.float32)
        rng = np.random.default_rng([self.seed, i])
        f = self.photo(PHOTO_TRAIN[int(rng.integers(len(PHOTO_TRAIN)))])
        H, W = f.shape[1:]
        top, left = int(rng.integers(H - s + 1)), int(rng.integers(W - s + 1))
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        crop = f[:, top : top + s, left : left + s]
        if flip:
            crop = crop[:, :, ::-1]
        return np.ascontiguousarray(np.rot90(crop, k, axes=(1, 2)), dtype=np.float32)

    def split(self, *, n_train: int, n_val: int, n_test: int, seed: int) -> Split:
        """Training crops [0, n_train), validation crops from VAL_OFFSET, fixed test crops from TEST_OFFSET.

        Args:
            n_train: size of the training pool.
            n_val: number of validation crops (from the training photos).
            n_test: number of fixed test crops, at most ``len(test_crops)``.
            seed: unused (the crops are random given the source seed).

        Returns:
            The :class:`Split`.
        """
        _check_seed(seed)
        n_max = len(self.test_crops)
        if _is_int(n_test) and n_test > n_max:
            raise ValueError(f"n_test={n_test} exceeds the {n_max} fixed test crops of 'photos' at size {self.size}; use n_test <= {n_max}")
        return _range_split(n_train, n_val, n_test, n_test_max=n_max)

    def parameters(self) -> dict[str, Any]:
        return {
            "short_side_factor": float(self.short_side_factor),
            "train_photos": list(PHOTO_TRAIN),
            "test_photos": list(PHOTO_TEST),
            "n_test_crops": len(self.test_crops),
            "excluded": dict(PHOTO_EXCLUDED),
        }

    def notes(self) -> list[str]:
        return [
            "training patches come from few photos and are correlated (overlapping crops of 10 photos)",
            "validation crops come from the training photos (disjoint indices, overlapping content)",
            "test crops: four fixed corner crops of each held-out photo; neighbouring crops may overlap at large size",
            "greyscale via ITU-R 601 luma; grey photos are replicated to 3 channels when channels=3",
        ]


# --------------------------------------------------------------------------------------------------
# folders
# --------------------------------------------------------------------------------------------------


def _list_images(root: str) -> tuple[str, ...]:
    """Sorted relative paths of image files under ``root`` (recursive)."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in filenames:
            if fn.lower().endswith(IMAGE_EXTENSIONS):
                found.append(os.path.relpath(os.path.join(dirpath, fn), root))
    return tuple(sorted(found))


@dataclass(frozen=True, kw_only=True)
class FolderSource(Source):
    """Images from a directory tree (PNG/JPEG/TIFF; class sub-folders are searched recursively).

    Files are listed once at construction, sorted by relative path; image i is file i. A file whose
    short side is below ``size`` is enlarged so that it equals ``size``; then a ``size``×``size`` crop
    is taken: the centre (``crop="center"``, the paper's ImageNet protocol) or a position from
    ``default_rng([seed, i])`` (``crop="random"``, fixed per index). Greyscale via ITU-R 601 luma;
    grey files are replicated for channels=3; alpha is dropped; integer images are scaled by their
    dtype's maximum, float images clipped to [0, 1].

    An unreadable file makes ``image``/``batch`` raise a ValueError naming it; ``split(...,
    skip_corrupt=True)`` reads every file once, leaves the unreadable ones out of the split, warns
    once and records them in ``describe()["skipped"]`` / ``["skipped_files"]``.

    Attributes:
        path: the directory.
        crop: "center" or "random".
    """

    path: str
    crop: str = "center"
    _files: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _skipped: list[str] = field(init=False, repr=False, compare=False, default_factory=list)

    spec: ClassVar[str] = "folder"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.path, (str, os.PathLike)) or not os.fspath(self.path):
            raise ValueError(f"folder path {self.path!r} is empty; use make_source('folder:/path/to/images', ...)")
        if not os.path.isdir(self.path):
            what = "does not exist" if not os.path.exists(self.path) else "is not a directory"
            raise ValueError(f"folder path {os.fspath(self.path)} {what}; pass a directory of images")
        if self.crop not in ("center", "random"):
            raise ValueError(f"crop={self.crop!r} is not supported; use crop='center' or crop='random'")
        files = _list_images(os.fspath(self.path))
        if not files:
            raise ValueError(f"no images (png/jpg/jpeg/tif/tiff) under {os.fspath(self.path)}; check the path")
        object.__setattr__(self, "_files", files)

    @property
    def name(self) -> str:
        return f"folder:{os.fspath(self.path)}"

    @property
    def files(self) -> tuple[str, ...]:
        """Relative paths of the image files, in index order."""
        return self._files

    def __len__(self) -> int:
        return len(self._files)

    def _index_ok(self, idx: np.ndarray) -> np.ndarray:
        return (idx >= 0) & (idx < len(self._files))

    def _index_space(self) -> str:
        return f"[0, {len(self._files)})"

    def _image(self, i: int) -> np.ndarray:
        full = os.path.join(os.fspath(self.path), self._files[i])
        f = _read_image(full, self.channels)
        s = self.size
        if min(f.shape[1:]) < s:
            f = _scale_short_side(f, s)
        H, W = f.shape[1:]
        if self.crop == "center":
            top, left = (H - s) // 2, (W - s) // 2
        else:
            rng = np.random.default_rng([self.seed, i])
            top, left = int(rng.integers(H - s + 1)), int(rng.integers(W - s + 1))
        return np.ascontiguousarray(f[:, top : top + s, left : left + s], dtype=np.float32)

    def scan(self) -> list[str]:
        """Read every file once; return the relative paths of the unreadable ones."""
        bad: list[str] = []
        for rel in self._files:
            try:
                _read_image(os.path.join(os.fspath(self.path), rel), self.channels)
            except ValueError:
                bad.append(rel)
        return bad

    def split(self, *, n_train: int, n_val: int, n_test: int, seed: int, skip_corrupt: bool = False) -> Split:
        """Shuffle the files with ``seed``: test = first n_test, val = next n_val, train pool = next n_train.

        Training sets are nested prefixes of the pool, and the pool order for fixed (seed, n_val,
        n_test) does not depend on n_train.

        Args:
            n_train: size of the training pool.
            n_val: validation-set size.
            n_test: test-set size.
            seed: permutation seed in [0, 2**32).
            skip_corrupt: read every file first and leave unreadable ones out (one warning).

        Returns:
            The :class:`Split`.
        """
        seed = _check_seed(seed)
        n_train, n_val, n_test = (_check_count(k, v) for k, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)))
        available = np.arange(len(self._files), dtype=np.int64)
        if skip_corrupt:
            bad = self.scan()
            self._skipped[:] = bad
            if bad:
                warnings.warn(
                    f"skipped {len(bad)} unreadable image file(s) under {os.fspath(self.path)} (first: {bad[0]}); see describe()['skipped_files']",
                    UserWarning,
                    stacklevel=2,
                )
                bad_set = set(bad)
                available = np.array([k for k, rel in enumerate(self._files) if rel not in bad_set], dtype=np.int64)
        need = n_train + n_val + n_test
        if need > available.size:
            readable = " readable" if skip_corrupt else ""
            raise ValueError(
                f"split needs n_train + n_val + n_test = {n_train} + {n_val} + {n_test} = {need} images but "
                f"{os.fspath(self.path)} has only {available.size}{readable}; lower the counts"
            )
        perm = np.random.default_rng(seed).permutation(available)
        return Split(
            train_pool=perm[n_test + n_val : need],
            val=perm[n_test : n_test + n_val],
            test=perm[:n_test],
        )

    def parameters(self) -> dict[str, Any]:
        return {"path": os.fspath(self.path), "crop": self.crop, "n_files": len(self._files)}

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["skipped"] = len(self._skipped)
        out["skipped_files"] = list(self._skipped)
        return out

    def notes(self) -> list[str]:
        return [
            "image i = file i (sorted relative paths); short sides below size are enlarged, then a size x size crop",
            "cache keys include file names, sizes and modification times, not contents",
        ]

    def _cache_token(self) -> str:
        h = hashlib.sha256()
        for rel in self._files:
            st = os.stat(os.path.join(os.fspath(self.path), rel))
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# fastMRI volumes (HDF5)
# --------------------------------------------------------------------------------------------------

#: Side of the stored fastMRI reconstructions; targets computed from k-space are centre-cropped to it.
FASTMRI_CROP: int = 320
#: ``target=`` values of a ``fastmri:`` source (short aliases "rss"/"esc" are accepted too).
FASTMRI_TARGETS: tuple[str, ...] = ("auto", "reconstruction_rss", "reconstruction_esc", "kspace")
_FASTMRI_RECONS: tuple[str, ...] = ("reconstruction_rss", "reconstruction_esc")


class _Volume(NamedTuple):
    """What a ``fastmri:`` source records about one volume (one ``.h5`` file) at construction."""

    rel: str  # path relative to the source's root (for messages and describe())
    n_slices: int
    target: str  # "reconstruction_rss", "reconstruction_esc" or "kspace" (computed from k-space)
    coils: int  # 0 = single-coil k-space (slices, H, W); >0 = multi-coil; -1 = no k-space dataset
    acquisition: str | None
    attr_max: float | None  # the file's ``max`` attribute when usable for this target


def _list_h5(root: str) -> tuple[str, ...]:
    """Sorted relative paths of ``.h5`` files under ``root`` (recursive)."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in filenames:
            if fn.lower().endswith(".h5"):
                found.append(os.path.relpath(os.path.join(dirpath, fn), root))
    return tuple(sorted(found))


def _attr_str(value: Any) -> str | None:
    """An HDF5 string attribute as ``str`` (h5py returns ``str``, ``bytes`` or a 0-d array)."""
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _attr_max(value: Any) -> float | None:
    """The ``max`` attribute as a positive finite float, or None when absent or unusable."""
    try:
        m = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return None
    return m if math.isfinite(m) and m > 0 else None


def ifft2c(kspace: np.ndarray) -> np.ndarray:
    """Centred unitary 2-D inverse FFT over the last two axes: fftshift(ifft2(ifftshift(k), norm="ortho"))."""
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace, axes=axes), axes=axes, norm="ortho"), axes=axes)


def _centre_crop(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Centre crop of the last two axes to (min(h, H), min(w, W)); top-left at ((H - h) // 2, (W - w) // 2)."""
    H, W = a.shape[-2:]
    h, w = min(h, H), min(w, W)
    top, left = (H - h) // 2, (W - w) // 2
    return a[..., top : top + h, left : left + w]


def kspace_target(kspace: np.ndarray) -> np.ndarray:
    """The fastMRI-style target of one k-space slice, for files without a stored reconstruction.

    Args:
        kspace: (H, W) single-coil or (coils, H, W) multi-coil complex k-space of one slice.

    Returns:
        (min(320, H), min(320, W)) float64: ``|ifft2c(k)|`` (single-coil) or the root-sum-of-squares
        over coils of ``|ifft2c(k)|`` (multi-coil), centre-cropped to 320×320 where larger.
    """
    img = np.abs(ifft2c(np.asarray(kspace)))
    if img.ndim == 3:
        img = np.sqrt(np.sum(img.astype(np.float64) ** 2, axis=0))
    return _centre_crop(img.astype(np.float64), FASTMRI_CROP, FASTMRI_CROP)


@dataclass(frozen=True, kw_only=True)
class FastMRISource(Source):
    """Slices of fastMRI volumes (HDF5 ``.h5`` files), split at the volume level.

    Files: ``path`` is a directory (all ``*.h5`` files below it, recursively, sorted by relative
    path) or one ``.h5`` file. Every file is opened once at construction (read-only) to record its
    slice count, target dataset and ``acquisition`` attribute; afterwards a file is opened only while
    a call reads from it and closed before the call returns, so the source holds no file handles,
    pickles, and works in process pools.

    Indices: slice ``s`` of volume ``v`` (the v-th file in sorted order, after the acquisition
    filter) is index ``offsets[v] + s`` with ``offsets`` the cumulative slice counts; see
    :meth:`locate` and :meth:`volume_of`.

    Targets (``target=``): ``"auto"`` uses ``reconstruction_rss`` when the file has it, else
    ``reconstruction_esc``, else computes the target from ``kspace`` (:func:`kspace_target`: |ifft2c|
    for single-coil, root-sum-of-squares over coils for multi-coil, centre-cropped to 320×320);
    ``"reconstruction_rss"``/``"rss"`` or ``"reconstruction_esc"``/``"esc"`` require that dataset in
    every file; ``"kspace"`` always computes from k-space.

    Image: the target slice divided by the volume's maximum -- the file's ``max`` attribute when
    the target is a stored reconstruction and the attribute is present (fastMRI records the max of
    the file's reconstruction volume; a second stored reconstruction may exceed it slightly, hence the
    clip), else the maximum of the target over the whole volume
    (computed once per file and cached) -- clipped to [0, 1], centre-cropped to a square of side
    min(H, W) and resized to size×size (bilinear, anti-aliased when shrinking; skimage). Shape
    (1, size, size) float32; only channels=1.

    Splits (:meth:`split`) never put one volume in two sets; counts are slices (the paper's N). The
    MRI task seeds one mask per example id; the paper uses one mask per *volume*: pass
    ``volume_of(indices)`` as the mask ids for that protocol.

    Attributes:
        path: directory of ``.h5`` files, or one ``.h5`` file.
        target: one of :data:`FASTMRI_TARGETS` (or "rss"/"esc").
        acquisition: keep only files whose ``acquisition`` attribute equals this (a string such as
            "AXT2", or a tuple of accepted strings); None keeps all files.
    """

    path: str
    target: str = "auto"
    acquisition: str | tuple[str, ...] | None = None
    _root: str = field(init=False, repr=False, compare=False, default="")
    _volumes: tuple[_Volume, ...] = field(init=False, repr=False, compare=False, default=())
    _offsets: np.ndarray = field(init=False, repr=False, compare=False, default=None)  # type: ignore[assignment]
    _found: dict[str, int] = field(init=False, repr=False, compare=False, default_factory=dict)
    _n_scanned: int = field(init=False, repr=False, compare=False, default=0)
    _vmax: dict[int, float] = field(init=False, repr=False, compare=False, default_factory=dict)

    spec: ClassVar[str] = "fastmri"
    allowed_channels: ClassVar[tuple[int, ...]] = (1,)

    # -- construction ------------------------------------------------------------------------------

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.path, (str, os.PathLike)) or not os.fspath(self.path):
            raise ValueError(f"fastmri path {self.path!r} is empty; use make_source('fastmri:/path/to/volumes', ...)")
        path = os.fspath(self.path)
        if not os.path.exists(path):
            raise ValueError(f"fastmri path {path} does not exist; pass a directory of fastMRI .h5 files or one .h5 file")
        aliases = {"rss": "reconstruction_rss", "esc": "reconstruction_esc"}
        target = aliases.get(self.target, self.target) if isinstance(self.target, str) else self.target
        if target not in FASTMRI_TARGETS:
            raise ValueError(f"target={self.target!r} is not supported; use one of: {', '.join(FASTMRI_TARGETS)} (or 'rss', 'esc')")
        object.__setattr__(self, "target", target)
        acq = self.acquisition
        if isinstance(acq, (list, tuple)):
            acq = tuple(acq)
            if not acq or not all(isinstance(a, str) and a for a in acq):
                raise ValueError(f"acquisition={self.acquisition!r} must be a non-empty string (e.g. 'AXT2'), a tuple of them, or None")
            object.__setattr__(self, "acquisition", acq)
        elif acq is not None and not (isinstance(acq, str) and acq):
            raise ValueError(f"acquisition={acq!r} must be a non-empty string (e.g. 'AXT2'), a tuple of them, or None")

        if os.path.isdir(path):
            root, rels = path, _list_h5(path)
            if not rels:
                raise ValueError(f"no .h5 files under {path}; point fastmri: at a directory of fastMRI volumes (e.g. multicoil_train/)")
        else:
            if not path.lower().endswith(".h5"):
                raise ValueError(f"fastmri path {path} is neither a directory nor a .h5 file; pass a directory of fastMRI volumes or one .h5 file")
            root, rels = os.path.dirname(path) or ".", (os.path.basename(path),)
        object.__setattr__(self, "_root", root)

        wanted = None if self.acquisition is None else ({self.acquisition} if isinstance(self.acquisition, str) else set(self.acquisition))
        found: dict[str, int] = {}
        volumes: list[_Volume] = []
        for rel in rels:
            vol = self._scan_file(rel, wanted, found)
            if vol is not None:
                volumes.append(vol)
        if not volumes:
            present = ", ".join(sorted(found)) or "none recorded"
            raise ValueError(
                f"acquisition={self.acquisition!r} leaves no files of the {len(rels)} under {path}; "
                f"acquisitions present: {present}; use one of them or acquisition=None"
            )
        object.__setattr__(self, "_volumes", tuple(volumes))
        offsets = np.concatenate([[0], np.cumsum([v.n_slices for v in volumes])]).astype(np.int64)
        offsets.setflags(write=False)
        object.__setattr__(self, "_offsets", offsets)
        object.__setattr__(self, "_found", found)
        object.__setattr__(self, "_n_scanned", len(rels))

    def _full(self, rel: str) -> str:
        return os.path.join(self._root, rel)

    def _open(self, rel: str):
        """Open one file read-only; a ValueError naming it when h5py cannot."""
        import h5py

        full = self._full(rel)
        try:
            return h5py.File(full, "r")
        except Exception as exc:  # corrupt, truncated, not HDF5, unreadable
            why = " ".join(str(exc).split())[:200]
            raise ValueError(f"cannot open fastMRI file {full} ({type(exc).__name__}: {why}); re-download or remove it") from None

    def _scan_file(self, rel: str, wanted: set[str] | None, found: dict[str, int]) -> _Volume | None:
        """Record one file (None when the acquisition filter drops it); ValueError on a bad layout."""
        full = self._full(rel)
        with self._open(rel) as f:
            try:
                return self._scan_open(f, rel, wanted, found)
            except (OSError, KeyError, RuntimeError, TypeError) as exc:  # damaged inside a readable container
                why = " ".join(str(exc).split())[:200]
                raise ValueError(f"cannot read fastMRI file {full} ({type(exc).__name__}: {why}); re-download or remove it") from None

    def _scan_open(self, f: Any, rel: str, wanted: set[str] | None, found: dict[str, int]) -> _Volume | None:
        import h5py

        full = self._full(rel)
        acquisition = _attr_str(f.attrs.get("acquisition"))
        key = acquisition if acquisition is not None else "(none recorded)"
        found[key] = found.get(key, 0) + 1
        if wanted is not None and acquisition not in wanted:
            return None
        ks = f.get("kspace")
        recons = {name: f.get(name) for name in _FASTMRI_RECONS}
        recons = {k: v for k, v in recons.items() if isinstance(v, h5py.Dataset)}
        if not isinstance(ks, h5py.Dataset):
            ks = None
        if ks is None and not recons:
            raise ValueError(f"{full}: no 'kspace' or 'reconstruction_rss'/'reconstruction_esc' dataset (not a fastMRI file?); remove it or point fastmri: elsewhere")
        coils = -1
        n_slices = None
        if ks is not None:
            if not np.issubdtype(ks.dtype, np.complexfloating) or ks.ndim not in (3, 4):
                raise ValueError(
                    f"{full}: 'kspace' has dtype {ks.dtype} shape {ks.shape}; expected complex (slices, H, W) "
                    f"single-coil or (slices, coils, H, W) multi-coil (not a fastMRI file?)"
                )
            coils = 0 if ks.ndim == 3 else int(ks.shape[1])
            n_slices = int(ks.shape[0])
        for name, ds in recons.items():
            if ds.ndim != 3 or not np.issubdtype(ds.dtype, np.floating):
                raise ValueError(f"{full}: '{name}' has dtype {ds.dtype} shape {ds.shape}; expected real (slices, H, W)")
            if n_slices is not None and int(ds.shape[0]) != n_slices:
                raise ValueError(f"{full}: '{name}' has {ds.shape[0]} slices but 'kspace' has {n_slices}; the file is inconsistent")
        if self.target == "auto":
            target = next((n for n in _FASTMRI_RECONS if n in recons), "kspace")
        else:
            target = self.target
            available = sorted(recons) + (["kspace"] if ks is not None else [])
            if target not in available:
                raise ValueError(
                    f"{full}: target={target!r} but the file has only {', '.join(available)}; "
                    f"use target='auto' (or 'kspace' to compute targets from k-space)"
                )
        if target == "kspace":
            n_slices = int(ks.shape[0])  # type: ignore[union-attr]
            attr_max = None  # the attribute describes the stored reconstruction, not ours
        else:
            n_slices = int(recons[target].shape[0])
            attr_max = _attr_max(f.attrs.get("max"))
        return _Volume(rel, n_slices, target, coils, acquisition, attr_max)

    # -- identity and indices ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"fastmri:{os.fspath(self.path)}"

    @property
    def files(self) -> tuple[str, ...]:
        """Relative paths of the volumes' files, in volume order."""
        return tuple(v.rel for v in self._volumes)

    @property
    def n_volumes(self) -> int:
        return len(self._volumes)

    @property
    def offsets(self) -> np.ndarray:
        """(n_volumes + 1,) int64 cumulative slice counts: volume v holds indices [offsets[v], offsets[v+1])."""
        return self._offsets

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def _index_ok(self, idx: np.ndarray) -> np.ndarray:
        return (idx >= 0) & (idx < len(self))

    def _index_space(self) -> str:
        return f"[0, {len(self)})"

    def volume_of(self, idx: Any) -> np.ndarray:
        """Volume number of each slice index -- the per-volume mask ids of the paper's MRI protocol.

        Args:
            idx: (B,) slice indices.

        Returns:
            (B,) int64 volume numbers in [0, n_volumes) (positions in :attr:`files`).
        """
        arr = self._check_indices(idx)
        return (np.searchsorted(self._offsets, arr, side="right") - 1).astype(np.int64)

    def locate(self, i: int) -> tuple[str, int]:
        """(relative file path, slice number within the volume) of index ``i``."""
        i = self._check_index(i)
        v = int(np.searchsorted(self._offsets, i, side="right") - 1)
        return self._volumes[v].rel, i - int(self._offsets[v])

    # -- reading -----------------------------------------------------------------------------------

    def _read_slice(self, f: Any, vol: _Volume, s: int) -> np.ndarray:
        if vol.target == "kspace":
            return kspace_target(f["kspace"][s])
        return np.asarray(f[vol.target][s], dtype=np.float64)

    def _volume_max(self, f: Any, v: int) -> float:
        """The normalising maximum of volume v (cached per file)."""
        vol = self._volumes[v]
        if vol.attr_max is not None:
            return vol.attr_max
        m = self._vmax.get(v)
        if m is None:
            if vol.target == "kspace":
                m = max((float(self._read_slice(f, vol, s).max()) for s in range(vol.n_slices)), default=0.0)
            else:
                m = float(np.max(f[vol.target][()])) if vol.n_slices else 0.0
            self._vmax[v] = m
        return m

    def _finish(self, img: np.ndarray, vmax: float) -> np.ndarray:
        img = np.clip(img / vmax if vmax > 0 and math.isfinite(vmax) else np.zeros_like(img), 0.0, 1.0)
        m = min(img.shape)
        sq = _centre_crop(img, m, m)[None]
        return np.ascontiguousarray(_resize_chw(sq, self.size, self.size), dtype=np.float32)

    def _read_volume_slices(self, v: int, slices: list[int]) -> list[np.ndarray]:
        vol = self._volumes[v]
        full = self._full(vol.rel)
        with self._open(vol.rel) as f:
            try:
                vmax = self._volume_max(f, v)
                return [self._finish(self._read_slice(f, vol, s), vmax) for s in slices]
            except (KeyError, OSError, IndexError) as exc:
                why = " ".join(str(exc).split())[:200]
                raise ValueError(f"cannot read {vol.target} from fastMRI file {full} ({type(exc).__name__}: {why}); the file changed or is damaged") from None

    def _image(self, i: int) -> np.ndarray:
        v = int(np.searchsorted(self._offsets, i, side="right") - 1)
        return self._read_volume_slices(v, [i - int(self._offsets[v])])[0]

    def _batch(self, idx: np.ndarray) -> np.ndarray:
        """Open each volume once per call (and close it before returning)."""
        out = np.empty((idx.size, *self.shape), dtype=np.float32)
        vols = np.searchsorted(self._offsets, idx, side="right") - 1
        for v in np.unique(vols):
            where = np.flatnonzero(vols == v)
            imgs = self._read_volume_slices(int(v), [int(idx[k] - self._offsets[v]) for k in where])
            for k, img in zip(where, imgs):
                out[k] = img
        return out

    # -- splits and description --------------------------------------------------------------------

    def split(self, *, n_train: int, n_val: int, n_test: int, seed: int) -> Split:
        """Volume-level split; counts are slices.

        The volumes are shuffled with ``seed``. Test takes whole volumes from the front of that order
        until it has at least ``n_test`` slices and keeps the first ``n_test`` of them (the rest of
        its last volume is left unused, never given to another set); validation does the same with
        the following volumes; the training pool is the slices of all remaining volumes, volume by
        volume (slices in order), cut to ``n_train``. So no volume is in two sets, training sets
        ``train(N)`` are nested prefixes of the pool -- whole volumes first, at most the last one
        partial -- and the pool order for fixed (seed, n_val, n_test) does not depend on n_train.

        Args:
            n_train: training-pool size in slices.
            n_val: validation-set size in slices.
            n_test: test-set size in slices.
            seed: volume-permutation seed in [0, 2**32).

        Returns:
            The :class:`Split`.
        """
        seed = _check_seed(seed)
        n_train, n_val, n_test = (_check_count(k, v) for k, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)))
        order = np.random.default_rng(seed).permutation(self.n_volumes)
        counts = np.array([v.n_slices for v in self._volumes], dtype=np.int64)
        total = int(counts.sum())
        pos = 0
        taken: list[np.ndarray] = []
        used: list[str] = []
        for label, n in (("test", n_test), ("val", n_val)):
            got: list[np.ndarray] = []
            have = 0
            while have < n and pos < order.size:
                v = int(order[pos])
                got.append(np.arange(self._offsets[v], self._offsets[v + 1], dtype=np.int64))
                have += int(counts[v])
                pos += 1
            if have < n:
                self._split_error(n_train, n_val, n_test, total, label, n, have, used)
            taken.append(np.concatenate(got)[:n] if got else np.zeros(0, dtype=np.int64))
            used.append(f"{label} took {len(got)} volume(s)")
        rest = [np.arange(self._offsets[v], self._offsets[v + 1], dtype=np.int64) for v in order[pos:]]
        pool = np.concatenate(rest) if rest else np.zeros(0, dtype=np.int64)
        if pool.size < n_train:
            self._split_error(n_train, n_val, n_test, total, "train", n_train, int(pool.size), used)
        return Split(train_pool=pool[:n_train], val=taken[1], test=taken[0])

    def _split_error(self, n_train: int, n_val: int, n_test: int, total: int, label: str, n: int, have: int, used: list[str]) -> None:
        after = f" after {' and '.join(used)}" if used else ""
        raise ValueError(
            f"split needs n_test={n_test}, n_val={n_val}, n_train={n_train} slices from disjoint volumes but "
            f"{os.fspath(self.path)} has {total} slices in {self.n_volumes} volumes: the {label} set needs {n} and only "
            f"{have} remain{after}; lower the counts"
        )

    def _target_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self._volumes:
            tag = v.target if v.target != "kspace" else ("kspace:magnitude" if v.coils == 0 else "kspace:rss")
            out[tag] = out.get(tag, 0) + 1
        return dict(sorted(out.items()))

    def parameters(self) -> dict[str, Any]:
        acq = self.acquisition if self.acquisition is None or isinstance(self.acquisition, str) else list(self.acquisition)
        return {
            "path": os.fspath(self.path),
            "target": self.target,
            "acquisition": acq,
            "n_files": self.n_volumes,
            "n_slices": len(self),
        }

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(
            {
                "files": list(self.files),
                "volumes": self.n_volumes,
                "slices": len(self),
                "slices_per_volume": [int(v.n_slices) for v in self._volumes],
                "targets": self._target_counts(),
                "acquisitions": dict(sorted(self._found.items())),
                "files_scanned": int(self._n_scanned),
                "excluded_by_acquisition": int(self._n_scanned - self.n_volumes),
            }
        )
        return out

    def notes(self) -> list[str]:
        return [
            "index = slice of a volume (files sorted); splits are by volume, counts are slices",
            "targets normalised by the volume max (file attribute 'max' for stored reconstructions), clipped to [0, 1], "
            "centre-cropped to a square and resized (anti-aliased) to size",
            "the paper uses one undersampling mask per volume: use volume_of(indices) as mask ids",
            "cache keys include file names, sizes and modification times, not contents",
        ]

    def _cache_token(self) -> str:
        h = hashlib.sha256()
        for v in self._volumes:
            st = os.stat(self._full(v.rel))
            h.update(f"{v.rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# factory
# --------------------------------------------------------------------------------------------------

_REGISTRY: dict[str, type[Source]] = {
    "subspace": SubspaceSource,
    "deadleaves": DeadLeavesSource,
    "deadleaves-textured": TexturedDeadLeavesSource,
    "phantoms": PhantomSource,
    "photos": PhotoSource,
}
_BASE_FIELDS = {"size", "channels", "seed", "cache_dir"}


def make_source(spec: str, *, size: int, channels: int = 1, seed: int = 0, cache_dir: str | None = None, **kw: Any) -> Source:
    """Build an image source from its spec string.

    Args:
        spec: "subspace", "deadleaves", "deadleaves-textured", "phantoms", "photos",
            "folder:PATH" or "fastmri:PATH".
        size: image side in pixels.
        channels: 1 or 3 (subspace and phantoms: 1 only).
        seed: source seed in [0, 2**32).
        cache_dir: optional directory for :meth:`Source.batch` results.
        **kw: source-specific options (e.g. ``d`` for subspace, ``rmin`` for deadleaves,
            ``phase`` for phantoms, ``crop`` for folders, ``target``/``acquisition`` for fastmri).

    Returns:
        The :class:`Source`.
    """
    if not isinstance(spec, str):
        raise ValueError(f"spec={spec!r} must be a string; use one of: {', '.join(SPECS)}")
    if spec.startswith("folder:"):
        cls: type[Source] = FolderSource
        kw = {**kw, "path": spec[len("folder:") :]}
    elif spec.startswith("fastmri:"):
        cls = FastMRISource
        kw = {**kw, "path": spec[len("fastmri:") :]}
    elif spec in _REGISTRY:
        cls = _REGISTRY[spec]
    else:
        raise ValueError(f"unknown source spec {spec!r}; use one of: {', '.join(SPECS)}")
    allowed = {f.name for f in fields(cls) if f.init} - _BASE_FIELDS
    unknown = sorted(set(kw) - allowed)
    if unknown:
        options = ", ".join(sorted(allowed - {"path"})) or "none"
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for source {spec!r}; allowed: {options}")
    return cls(size=size, channels=channels, seed=seed, cache_dir=cache_dir, **kw)
