"""Image files: reading and resizing, the ``photos`` shipped with scikit-image, and ``folder:PATH``.

Sizes: ``photos`` resizes every photo so that its short side is at least ``size`` (by design: it
never refuses a size). A folder refuses a file whose short side is below ``size`` (a one-line
ValueError naming the file, its size and the fix) unless its ``enlarge=True`` option is set; a sweep
checks the headers of the first images it will use before anything is written
(:meth:`FolderSource.check_sizes`), and a run that later meets a smaller file fails with that line.
Heavy dependencies (scikit-image, imageio, PIL) are imported lazily.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from theory.infra.validation import is_int

from .base import TEST_OFFSET, Source, Split, check_count, check_seed, range_split

__all__ = ["PhotoSource", "FolderSource", "TEST_CROPS", "GRID_ORDER_SEED", "PHOTO_TEST", "PHOTO_TRAIN", "PHOTO_EXCLUDED", "IMAGE_EXTENSIONS", "resize_chw"]

#: The fixed test crops ``photos`` offers (:class:`PhotoSource`).
TEST_CROPS: tuple[str, ...] = ("corners", "grid")
#: Seeds the one fixed order of the ``grid`` test crops (independent of every run's seed).
GRID_ORDER_SEED = 20_230_501

#: File extensions a ``folder:`` source reads (case-insensitive).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma weights


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


def resize_chw(f: np.ndarray, h: int, w: int) -> np.ndarray:
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
    return resize_chw(f, max(target, int(round(h * s))), max(target, int(round(w * s))))


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
        raise ValueError(f"cannot read image file {path} ({type(exc).__name__}: {why}); fix or remove it, or set the source option skip_corrupt=True so that split() leaves it out") from None
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
    * Test index TEST_OFFSET + j: the j-th fixed crop, independent of the seed (``test_crops``):

      - ``"corners"`` (default): the four corner crops (top-left, top-right, bottom-left,
        bottom-right; duplicates dropped) of each test photo in ``PHOTO_TEST`` order -- 20 crops
        whenever every resized test photo exceeds ``size`` on both sides (e.g. size <= 151 with the
        default factor 2);
      - ``"grid"``: every non-overlapping ``size``×``size`` crop of every test photo (a grid from the
        top-left corner), in one fixed shuffled order (:data:`GRID_ORDER_SEED`), so that the first
        ``n_test`` crops spread over all five photos. With ``short_side_factor = 32`` (the photos at
        about their native 512 px) that is thousands of 16×16 crops: enough for Σ_Q of the test
        distribution to have full rank.

    Attributes:
        short_side_factor: the short side after resizing is at most this times ``size`` (>= 1).
        test_crops: ``"corners"`` or ``"grid"`` (above).
    """

    short_side_factor: float = 2.0
    test_crops: str = "corners"

    spec: ClassVar[str] = "photos"

    def __post_init__(self) -> None:
        super().__post_init__()
        v = self.short_side_factor
        if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) or not 1.0 <= v < math.inf:
            raise ValueError(f"short_side_factor={v!r} must be a finite number >= 1")
        if self.test_crops not in TEST_CROPS:
            raise ValueError(f"test_crops={self.test_crops!r}: use one of {', '.join(TEST_CROPS)}")

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
    def test_positions(self) -> tuple[tuple[str, int, int], ...]:
        """The fixed test crops as (photo, top, left), in index order (``test_crops`` says which)."""
        out: list[tuple[str, int, int]] = []
        s = self.size
        for name in PHOTO_TEST:
            H, W = self.photo(name).shape[1:]
            if self.test_crops == "grid":
                out += [(name, top, left) for top in range(0, H - s + 1, s) for left in range(0, W - s + 1, s)]
                continue
            seen: set[tuple[int, int]] = set()
            for top in (0, H - s):
                for left in (0, W - s):
                    if (top, left) not in seen:
                        seen.add((top, left))
                        out.append((name, top, left))
        if self.test_crops == "grid":  # any first n_test crops spread over every photo
            order = np.random.default_rng(GRID_ORDER_SEED).permutation(len(out))
            out = [out[i] for i in order]
        return tuple(out)

    def _index_ok(self, idx: np.ndarray) -> np.ndarray:
        ok = (idx >= 0) & (idx < TEST_OFFSET)
        if not ok.all():  # only test indices need the (loaded) test photos
            ok |= (idx >= TEST_OFFSET) & (idx < TEST_OFFSET + len(self.test_positions))
        return ok

    def _index_space(self) -> str:
        return f"[0, {TEST_OFFSET}) ∪ [{TEST_OFFSET}, {TEST_OFFSET + len(self.test_positions)})"

    def _image(self, i: int) -> np.ndarray:
        s = self.size
        if i >= TEST_OFFSET:
            name, top, left = self.test_positions[i - TEST_OFFSET]
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
            n_test: number of fixed test crops, at most ``len(test_positions)``.
            seed: unused (the crops are random given the source seed).

        Returns:
            The :class:`Split`.
        """
        check_seed(seed)
        n_max = len(self.test_positions)
        if is_int(n_test) and n_test > n_max:
            more = ("" if self.test_crops == "grid" else
                    ", or every non-overlapping crop of the test photos with --set source.test_crops=grid")
            raise ValueError(f"n_test={n_test} exceeds the {n_max} fixed test crops ({self.test_crops}) of 'photos' at "
                             f"size {self.size}; use n_test <= {n_max}{more}")
        return range_split(n_train, n_val, n_test, n_test_max=n_max)

    def parameters(self) -> dict[str, Any]:
        return {
            "short_side_factor": float(self.short_side_factor),
            "train_photos": list(PHOTO_TRAIN),
            "test_photos": list(PHOTO_TEST),
            "test_crops": self.test_crops,
            "n_test_crops": len(self.test_positions),
            "excluded": dict(PHOTO_EXCLUDED),
        }

    def notes(self) -> list[str]:
        return [
            "training patches come from few photos and are correlated (overlapping crops of 10 photos)",
            "validation crops come from the training photos (disjoint indices, overlapping content)",
            ("test crops: every non-overlapping crop of the held-out photos, in a fixed shuffled order"
             if self.test_crops == "grid" else
             "test crops: four fixed corner crops of each held-out photo; neighbouring crops may overlap at large size"),
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
    short side is below ``size`` is refused (a one-line ValueError naming it: lower ``size``), or,
    with ``enlarge=True``, enlarged so that its short side equals ``size``; then a ``size``×``size`` crop
    is taken: the centre (``crop="center"``, the paper's ImageNet protocol) or a position from
    ``default_rng([seed, i])`` (``crop="random"``, fixed per index). Greyscale via ITU-R 601 luma;
    grey files are replicated for channels=3; alpha is dropped; integer images are scaled by their
    dtype's maximum, float images clipped to [0, 1].

    An unreadable file makes ``image``/``batch`` raise a ValueError naming it; with
    ``skip_corrupt=True`` (a source option, or ``split(..., skip_corrupt=True)`` for one split)
    :meth:`split` reads every file once, leaves the unreadable ones out of the split, warns once and
    records them in ``describe()["skipped"]`` / ``["skipped_files"]``.

    Attributes:
        path: the directory.
        crop: "center" or "random".
        skip_corrupt: whether :meth:`split` leaves unreadable files out (default False: an
            unreadable file raises when read).
        enlarge: whether a file whose short side is below ``size`` is enlarged to it (default
            False: reading it raises, naming the file and its size). ImageNet-style resize-then-crop
            pipelines on folders with a few small images set it.
    """

    path: str
    crop: str = "center"
    skip_corrupt: bool = False
    enlarge: bool = False
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
        if not isinstance(self.skip_corrupt, (bool, np.bool_)):
            raise ValueError(f"skip_corrupt={self.skip_corrupt!r} must be True or False")
        if not isinstance(self.enlarge, (bool, np.bool_)):
            raise ValueError(f"enlarge={self.enlarge!r} must be True or False")
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
            if not self.enlarge:
                h, w = f.shape[1:]
                raise ValueError(f"image file {full} is {w}×{h} px, smaller than size={s}; {self._size_fix(min(h, w))}")
            f = _scale_short_side(f, s)
        H, W = f.shape[1:]
        if self.crop == "center":
            top, left = (H - s) // 2, (W - s) // 2
        else:
            rng = np.random.default_rng([self.seed, i])
            top, left = int(rng.integers(H - s + 1)), int(rng.integers(W - s + 1))
        return np.ascontiguousarray(f[:, top : top + s, left : left + s], dtype=np.float32)

    def _size_fix(self, short: int) -> str:
        return (f"lower size to at most {short}, or set the source option enlarge=True "
                "(a sweep's [source] enlarge = true) to enlarge smaller images")

    def image_size(self, i: int) -> tuple[int, int] | None:
        """(width, height) of file ``i`` from its header only (PIL); None when PIL cannot read it."""
        from PIL import Image  # noqa: PLC0415  (a dependency of imageio and scikit-image)

        full = os.path.join(os.fspath(self.path), self._files[self._check_index(i)])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. DecompressionBombWarning: only the header is read
                with Image.open(full) as im:
                    w, h = im.size
        except Exception:  # unreadable: reported when read (or left out with skip_corrupt)
            return None
        return int(w), int(h)

    def check_sizes(self, idx: Any, *, limit: int = 256) -> None:
        """Refuse a ``size`` larger than the images, reading only the headers of the first ``limit`` of ``idx``.

        Cheap (no pixels are decoded), so a sweep runs it on the images it will use first (test,
        validation, then the training pool) before anything is written; a smaller image beyond
        the first ``limit`` fails the run that reads it (same message). Nothing to check with
        ``enlarge=True``.

        Raises:
            ValueError: one line naming the smallest checked image, its size and the fix.
        """
        if self.enlarge:
            return
        arr = self._check_indices(idx)[: max(int(limit), 0)]
        smallest: tuple[int, int, int, int] | None = None  # (short side, index, width, height)
        for i in arr:
            wh = self.image_size(int(i))
            if wh is not None and min(wh) < self.size and (smallest is None or min(wh) < smallest[0]):
                smallest = (min(wh), int(i), *wh)
        if smallest is not None:
            short, i, w, h = smallest
            raise ValueError(
                f"size={self.size} is larger than images of folder {os.fspath(self.path)}: the smallest of the "
                f"{arr.size} checked is {w}×{h} px ({self._files[i]}); {self._size_fix(short)}"
            )

    def scan(self) -> list[str]:
        """Read every file once; return the relative paths of the unreadable ones."""
        bad: list[str] = []
        for rel in self._files:
            try:
                _read_image(os.path.join(os.fspath(self.path), rel), self.channels)
            except ValueError:
                bad.append(rel)
        return bad

    def split(self, *, n_train: int, n_val: int, n_test: int, seed: int, skip_corrupt: bool | None = None) -> Split:
        """Shuffle the files with ``seed``: test = first n_test, val = next n_val, train pool = next n_train.

        Training sets are nested prefixes of the pool, and the pool order for fixed (seed, n_val,
        n_test) does not depend on n_train.

        Args:
            n_train: size of the training pool.
            n_val: validation-set size.
            n_test: test-set size.
            seed: permutation seed in [0, 2**32).
            skip_corrupt: read every file first and leave unreadable ones out (one warning);
                None (default) uses the source's ``skip_corrupt`` field.

        Returns:
            The :class:`Split`.
        """
        seed = check_seed(seed)
        skip_corrupt = bool(self.skip_corrupt if skip_corrupt is None else skip_corrupt)
        n_train, n_val, n_test = (check_count(k, v) for k, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)))
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

    def train_capacity(self, *, n_val: int, n_test: int, seed: int = 0) -> int:
        """The largest n_train a split with these n_val, n_test accepts; ValueError when they alone do not fit.

        Unreadable files count as skipped only after a :meth:`split` with ``skip_corrupt`` (no second scan).
        """
        left = len(self._files) - (len(self._skipped) if self.skip_corrupt else 0) - int(n_val) - int(n_test)
        if left < 0:
            raise ValueError(f"n_val + n_test = {int(n_val) + int(n_test)} exceeds the {len(self._files)} files")
        return left

    def parameters(self) -> dict[str, Any]:
        out = {"path": os.fspath(self.path), "crop": self.crop, "n_files": len(self._files)}
        if self.enlarge:  # recorded only when set: default caches and descriptions are unchanged
            out["enlarge"] = True
        return out

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["skip_corrupt"] = bool(self.skip_corrupt)
        out["skipped"] = len(self._skipped)
        out["skipped_files"] = list(self._skipped)
        return out

    def notes(self) -> list[str]:
        return [
            "image i = file i (sorted relative paths); a size x size crop of each file; files with a short side "
            + ("below size are enlarged first" if self.enlarge else "below size are refused (enlarge=False)"),
            "cache keys include file names, sizes and modification times, not contents",
        ]

    def _cache_token(self) -> str:
        h = hashlib.sha256()
        for rel in self._files:
            st = os.stat(os.path.join(os.fspath(self.path), rel))
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()
