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

Package layout: :mod:`.base` (:class:`Split`, :class:`Source`, index checks, the ``.npy`` batch
cache), :mod:`.synthetic` (subspace, dead leaves, textured dead leaves, phantoms), :mod:`.images`
(image files, ``photos``, ``folder:PATH``), :mod:`.fastmri` (``fastmri:PATH``); this module holds the
registry: :func:`make_source` and :func:`source_options`.

Options: a source's dataclass fields other than ``size``, ``channels``, ``seed``, ``cache_dir`` (and
the ``path`` of the spec) are its options, passed to :func:`make_source` as keywords (a sweep's
``[source]`` table); :func:`source_options` lists them with their defaults.

Sizes: generated sources draw images of any ``size``; ``photos`` enlarges photos whose short side
is below ``size`` (by design, then crops). ``folder:`` refuses a file whose short side is below
``size`` (one line naming it and the fix) unless its option ``enlarge=True`` is set; a sweep checks
the headers of the first images it uses before writing anything (:meth:`FolderSource.check_sizes`).
``fastmri:`` shrinks each square slice to ``size`` and refuses, at construction, a ``size`` larger
than its smallest slice.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from .base import INDEX_LIMIT, TEST_OFFSET, VAL_OFFSET, Source, Split
from .fastmri import FASTMRI_CROP, FASTMRI_TARGETS, FastMRISource, ifft2c, kspace_target
from .images import IMAGE_EXTENSIONS, PHOTO_EXCLUDED, PHOTO_TEST, PHOTO_TRAIN, FolderSource, PhotoSource
from .synthetic import DeadLeavesSource, PhantomSource, SubspaceSource, TexturedDeadLeavesSource

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
    "FASTMRI_CROP",
    "kspace_target",
    "ifft2c",
    "make_source",
    "source_options",
    "SPECS",
    "VAL_OFFSET",
    "TEST_OFFSET",
    "INDEX_LIMIT",
    "IMAGE_EXTENSIONS",
    "PHOTO_TEST",
    "PHOTO_TRAIN",
    "PHOTO_EXCLUDED",
]

#: The spec strings :func:`make_source` accepts (``folder:`` takes a path after the colon).
SPECS: tuple[str, ...] = ("subspace", "deadleaves", "deadleaves-textured", "phantoms", "photos", "folder:PATH", "fastmri:PATH")

_REGISTRY: dict[str, type[Source]] = {
    "subspace": SubspaceSource,
    "deadleaves": DeadLeavesSource,
    "deadleaves-textured": TexturedDeadLeavesSource,
    "phantoms": PhantomSource,
    "photos": PhotoSource,
}
#: Spec prefixes followed by a path (the ``path`` field of the source).
_PATH_SPECS: dict[str, type[Source]] = {"folder:": FolderSource, "fastmri:": FastMRISource}
#: Fields every source has; :func:`make_source` takes them as its own arguments, they are not options.
_BASE_FIELDS = {"size", "channels", "seed", "cache_dir"}


def _resolve(spec: Any) -> tuple[type[Source], dict[str, Any]]:
    """The source class of a spec string, and the fields the spec itself sets (``path``)."""
    if not isinstance(spec, str):
        raise ValueError(f"spec={spec!r} must be a string; use one of: {', '.join(SPECS)}")
    for prefix, cls in _PATH_SPECS.items():
        if spec.startswith(prefix):
            return cls, {"path": spec[len(prefix) :]}
    if spec in _REGISTRY:
        return _REGISTRY[spec], {}
    raise ValueError(f"unknown source spec {spec!r}; use one of: {', '.join(SPECS)}")


def source_options(spec: str) -> dict[str, Any]:
    """The options a user may set for a source, with their defaults.

    Args:
        spec: a spec string of :data:`SPECS` (``"folder:PATH"``/``"fastmri:PATH"`` with any path;
            the path is not touched).

    Returns:
        {option name: default}, in field order; excludes size, channels, seed, cache_dir and path.

    Raises:
        ValueError: unknown spec.
    """
    cls, _ = _resolve(spec)
    out: dict[str, Any] = {}
    for f in fields(cls):
        if f.init and f.name not in _BASE_FIELDS and f.name != "path":
            out[f.name] = f.default_factory() if f.default is MISSING and f.default_factory is not MISSING else f.default
    return out


def make_source(spec: str, *, size: int, channels: int = 1, seed: int = 0, cache_dir: str | None = None, **kw: Any) -> Source:
    """Build an image source from its spec string.

    Args:
        spec: "subspace", "deadleaves", "deadleaves-textured", "phantoms", "photos",
            "folder:PATH" or "fastmri:PATH".
        size: image side in pixels.
        channels: 1 or 3 (subspace and phantoms: 1 only).
        seed: source seed in [0, 2**32).
        cache_dir: optional directory for :meth:`Source.batch` results.
        **kw: source-specific options (:func:`source_options`; e.g. ``d`` for subspace, ``rmin``
            for deadleaves, ``phase`` for phantoms, ``crop``/``skip_corrupt``/``enlarge`` for folders,
            ``target``/``acquisition`` for fastmri).

    Returns:
        The :class:`Source`.

    Raises:
        ValueError: unknown spec, unknown option (naming the allowed ones), or a bad value.
    """
    cls, from_spec = _resolve(spec)
    allowed = {f.name for f in fields(cls) if f.init} - _BASE_FIELDS
    unknown = sorted(set(kw) - allowed)
    if unknown:
        options = ", ".join(sorted(source_options(spec))) or "none"
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for source {spec!r}; allowed: {options}")
    return cls(size=size, channels=channels, seed=seed, cache_dir=cache_dir, **{**kw, **from_spec})
