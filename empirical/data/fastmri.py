"""``fastmri:PATH``: slices of fastMRI HDF5 volumes, split by volume.

Targets are the stored RSS/ESC reconstructions, or computed from k-space with the project's one
centred FFT, :func:`theory.operators.ifft2c`. h5py is imported lazily.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from theory.operators import ifft2c

from .base import Source, Split, check_count, check_seed
from .images import resize_chw

__all__ = ["FastMRISource", "FASTMRI_TARGETS", "FASTMRI_CROP", "kspace_target"]


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
    side: int  # side of the square the slices are centre-cropped to before resizing to ``size``


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
    img = np.abs(ifft2c(np.asarray(kspace), xp=np))
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
    (1, size, size) float32; only channels=1. A ``size`` larger than the smallest such square of the
    kept volumes is refused at construction (one line naming the file; the shapes are read from the
    HDF5 headers, no pixels): slices are shrunk, never enlarged.

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
        small = min(volumes, key=lambda v: v.side)
        if self.size > small.side:
            raise ValueError(
                f"size={self.size} is larger than the slices of fastmri:{path}: the smallest are {small.side}×{small.side} "
                f"after the square crop ({small.rel}, target {small.target}); lower size to at most {small.side} "
                "(slices are resized down to size, never enlarged)"
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
            side = min(FASTMRI_CROP, *ks.shape[-2:])  # type: ignore[union-attr]  (kspace_target's crop)
        else:
            n_slices = int(recons[target].shape[0])
            attr_max = _attr_max(f.attrs.get("max"))
            side = min(recons[target].shape[-2:])
        return _Volume(rel, n_slices, target, coils, acquisition, attr_max, int(side))

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
        return np.ascontiguousarray(resize_chw(sq, self.size, self.size), dtype=np.float32)

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
        seed = check_seed(seed)
        n_train, n_val, n_test = (check_count(k, v) for k, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)))
        test, val, pool, total, used = self._test_val_pool(n_train, n_val, n_test, seed)
        if pool.size < n_train:
            self._split_error(n_train, n_val, n_test, total, "train", n_train, int(pool.size), used)
        return Split(train_pool=pool[:n_train], val=val, test=test)

    def _test_val_pool(self, n_train: int, n_val: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, list[str]]:
        """(test, val, the whole training pool, total slices, what test/val took) of :meth:`split`."""
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
        return taken[0], taken[1], pool, total, used

    def train_capacity(self, *, n_val: int, n_test: int, seed: int = 0) -> int:
        """The largest n_train a split with these n_val, n_test and seed accepts (slices)."""
        return int(self._test_val_pool(0, int(n_val), int(n_test), check_seed(seed))[2].size)

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
