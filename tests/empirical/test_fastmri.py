"""Tests of the ``fastmri:PATH`` source on small fake volumes written in the fastMRI HDF5 layout."""

from __future__ import annotations

import json
import pickle

import h5py
import numpy as np
import pytest

from empirical.data import FastMRISource, Split, ifft2c, kspace_target, make_source, source_options

COILS = 4


def _kspace(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _recon(rng: np.random.Generator, slices: int, side: int = 32) -> np.ndarray:
    return (rng.random((slices, side, side)) * 5.0 + 0.1).astype(np.float32)


def _write(path, *, kspace=None, datasets=None, attrs=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        if kspace is not None:
            f.create_dataset("kspace", data=kspace)
        for name, data in (datasets or {}).items():
            f.create_dataset(name, data=data)
        for k, v in (attrs or {}).items():
            f.attrs[k] = v


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    """Five fake volumes (14 slices). Returns (root, {name: arrays and attributes})."""
    root = tmp_path_factory.mktemp("fastmri")
    rng = np.random.default_rng(1234)
    info = {}
    # multi-coil with RSS reconstruction; attribute max deliberately twice the data max
    ka, ra = _kspace(rng, (3, COILS, 40, 48)), _recon(rng, 3)
    info["vol_a"] = dict(kspace=ka, rss=ra, max=2.0 * float(ra.max()))
    _write(root / "vol_a.h5", kspace=ka, datasets={"reconstruction_rss": ra}, attrs={"acquisition": "AXT2", "max": 2.0 * float(ra.max()), "norm": 1.0, "patient_id": "p-a"})
    # single-coil with ESC reconstruction
    kb, eb = _kspace(rng, (2, 64, 64)), _recon(rng, 2)
    info["vol_b"] = dict(kspace=kb, esc=eb, max=float(eb.max()))
    _write(root / "vol_b.h5", kspace=kb, datasets={"reconstruction_esc": eb}, attrs={"acquisition": "CORPD_FBK", "max": float(eb.max())})
    # multi-coil test-set style: no reconstruction, no max (sorts first: "sub/...")
    kc = _kspace(rng, (4, COILS, 40, 48))
    info["vol_c"] = dict(kspace=kc)
    _write(root / "sub" / "vol_c.h5", kspace=kc, attrs={"acquisition": "AXT2"})
    # single-coil with both reconstructions, no max attribute
    kd, ed, rd = _kspace(rng, (2, 64, 64)), _recon(rng, 2), _recon(rng, 2)
    info["vol_d"] = dict(kspace=kd, esc=ed, rss=rd)
    _write(root / "vol_d.h5", kspace=kd, datasets={"reconstruction_esc": ed, "reconstruction_rss": rd}, attrs={"acquisition": "AXT1"})
    # multi-coil with a 320x320 reconstruction (resized to size)
    ke, re_ = _kspace(rng, (3, COILS, 40, 48)), _recon(rng, 3, side=320)
    info["vol_e"] = dict(kspace=ke, rss=re_, max=float(re_.max()))
    _write(root / "vol_e.h5", kspace=ke, datasets={"reconstruction_rss": re_}, attrs={"acquisition": "AXT2", "max": float(re_.max())})
    (root / "notes.txt").write_text("not a volume")
    return root, info


ORDER = ["sub/vol_c.h5", "vol_a.h5", "vol_b.h5", "vol_d.h5", "vol_e.h5"]
SLICES = [4, 3, 2, 2, 3]


def _reference_target(k: np.ndarray) -> np.ndarray:
    """Independent reference: centred unitary inverse FFT, magnitude / RSS over coils, crop to <= 320."""
    shifted = np.fft.ifftshift(k, axes=(-2, -1))
    img = np.fft.fftshift(np.fft.ifft2(shifted, norm="ortho"), axes=(-2, -1))
    mag = np.abs(img).astype(np.float64)
    if mag.ndim == 3:
        mag = np.sqrt((mag**2).sum(axis=0))
    H, W = mag.shape
    h, w = min(320, H), min(320, W)
    return mag[(H - h) // 2 : (H - h) // 2 + h, (W - w) // 2 : (W - w) // 2 + w]


def _square(a: np.ndarray) -> np.ndarray:
    m = min(a.shape)
    t, l = (a.shape[0] - m) // 2, (a.shape[1] - m) // 2
    return a[t : t + m, l : l + m]


# --------------------------------------------------------------------------------------------------
# index, images, normalisation, targets
# --------------------------------------------------------------------------------------------------


def test_index_mapping_shapes_and_range(volumes):
    root, _ = volumes
    s = FastMRISource(path=str(root), size=16)
    assert s.files == tuple(ORDER) and len(s) == sum(SLICES) and s.n_volumes == 5
    np.testing.assert_array_equal(s.offsets, np.concatenate([[0], np.cumsum(SLICES)]))
    assert s.locate(0) == ("sub/vol_c.h5", 0) and s.locate(4) == ("vol_a.h5", 0) and s.locate(13) == ("vol_e.h5", 2)
    np.testing.assert_array_equal(s.volume_of(np.arange(len(s))), np.repeat(np.arange(5), SLICES))
    idx = np.array([13, 0, 5, 9, 4, 7])
    b = s.batch(idx)
    assert b.shape == (6, 1, 16, 16) and b.dtype == np.float32
    assert b.min() >= 0.0 and b.max() <= 1.0 and b.max() > 0.1
    for k, i in enumerate(idx):
        np.testing.assert_array_equal(b[k], s.image(int(i)))
    with pytest.raises(ValueError, match=r"outside the index space \[0, 14\)"):
        s.image(14)


def test_normalised_by_volume_max(volumes):
    root, info = volumes
    s = FastMRISource(path=str(root), size=32)  # stored 32x32 reconstructions need no resize
    a = info["vol_a"]
    for sl in range(3):  # attribute max (twice the data max): values up to 0.5
        np.testing.assert_allclose(s.image(4 + sl)[0], a["rss"][sl] / a["max"], rtol=1e-6)
    assert abs(s.batch(np.arange(4, 7)).max() - 0.5) < 1e-6
    d = info["vol_d"]  # no attribute: the volume's own max, so the volume's brightest pixel is 1
    vol_d = s.batch(np.arange(9, 11))
    np.testing.assert_allclose(vol_d[:, 0], d["rss"] / d["rss"].max(), rtol=1e-6)
    assert vol_d.max() == pytest.approx(1.0)
    e = info["vol_e"]  # 320x320 reconstruction: anti-aliased resize of the normalised image
    from skimage.transform import resize

    want = resize(e["rss"][1] / e["max"], (32, 32), order=1, mode="reflect", anti_aliasing=True)
    np.testing.assert_allclose(s.image(12)[0], want, atol=1e-5)


def test_target_preference(volumes):
    root, info = volumes
    d, b = info["vol_d"], info["vol_b"]
    auto = FastMRISource(path=str(root / "vol_d.h5"), size=32)
    esc = FastMRISource(path=str(root / "vol_d.h5"), size=32, target="esc")
    rss = FastMRISource(path=str(root / "vol_d.h5"), size=32, target="reconstruction_rss")
    assert auto.target == "auto" and esc.target == "reconstruction_esc"
    np.testing.assert_allclose(auto.image(1)[0], d["rss"][1] / d["rss"].max(), rtol=1e-6)
    np.testing.assert_array_equal(rss.image(1), auto.image(1))
    np.testing.assert_allclose(esc.image(1)[0], d["esc"][1] / d["esc"].max(), rtol=1e-6)
    only_esc = FastMRISource(path=str(root / "vol_b.h5"), size=32)  # auto falls back to esc
    np.testing.assert_allclose(only_esc.image(0)[0], b["esc"][0] / b["max"], rtol=1e-6)
    assert only_esc.describe()["targets"] == {"reconstruction_esc": 1}
    with pytest.raises(ValueError, match=r"vol_b\.h5: target='reconstruction_rss' but the file has only reconstruction_esc, kspace"):
        FastMRISource(path=str(root / "vol_b.h5"), size=32, target="rss")
    with pytest.raises(ValueError, match="target='magnitude' is not supported"):
        FastMRISource(path=str(root), size=32, target="magnitude")


def test_target_computed_from_kspace(volumes):
    root, info = volumes
    # multi-coil without reconstruction: RSS of |ifft2c|, normalised by the volume max, square crop 40x40
    c = FastMRISource(path=str(root / "sub" / "vol_c.h5"), size=40)
    ref = np.stack([_reference_target(k) for k in info["vol_c"]["kspace"]])
    assert ref.shape == (4, 40, 48)
    ref = ref / ref.max()
    np.testing.assert_allclose(c.batch(np.arange(4))[:, 0], np.stack([_square(r) for r in ref]), atol=1e-6)
    assert c.describe()["targets"] == {"kspace:rss": 1}
    # single-coil forced to k-space: |ifft2c| (the 'max' attribute describes the stored reconstruction, not this)
    b = FastMRISource(path=str(root / "vol_b.h5"), size=64, target="kspace")
    ref = np.stack([_reference_target(k) for k in info["vol_b"]["kspace"]])
    np.testing.assert_allclose(b.batch(np.arange(2))[:, 0], ref / ref.max(), atol=1e-6)
    assert b.describe()["targets"] == {"kspace:magnitude": 1}


def test_channels_must_be_one(volumes):
    root, _ = volumes
    with pytest.raises(ValueError, match="channels=3 is not supported by 'fastmri'; use channels=1"):
        FastMRISource(path=str(root), size=16, channels=3)


# --------------------------------------------------------------------------------------------------
# splits and filters
# --------------------------------------------------------------------------------------------------


def test_volume_level_splits(volumes, seed):
    root, _ = volumes
    s = FastMRISource(path=str(root), size=16)
    sp = s.split(n_train=5, n_val=2, n_test=3, seed=seed)
    assert isinstance(sp, Split) and sp.sizes == {"train_pool": 5, "val": 2, "test": 3}
    vt, vv, vp = (set(s.volume_of(a).tolist()) for a in (sp.test, sp.val, sp.train_pool))
    assert not (vt & vv) and not (vt & vp) and not (vv & vp)
    # the pool is volume by volume, slices in order: each volume is one contiguous run
    full = s.split(n_train=0, n_val=2, n_test=3, seed=seed)
    vols = s.volume_of(sp.train_pool)
    assert np.count_nonzero(np.diff(vols)) == len(set(vols.tolist())) - 1
    # nested prefixes; the pool order does not depend on n_train (5 slices are always left here)
    smaller = s.split(n_train=3, n_val=2, n_test=3, seed=seed)
    np.testing.assert_array_equal(smaller.train_pool, sp.train(3))
    np.testing.assert_array_equal(sp.test, full.test)
    np.testing.assert_array_equal(sp.val, full.val)
    assert set(sp.train(2).tolist()) <= set(sp.train(5).tolist())
    # same seed, same split; a different seed gives another volume order
    np.testing.assert_array_equal(s.split(n_train=5, n_val=2, n_test=3, seed=seed).train_pool, sp.train_pool)
    orders = {tuple(s.volume_of(s.split(n_train=0, n_val=0, n_test=len(s), seed=k).test)) for k in range(6)}
    assert len(orders) > 1


def test_split_asking_too_much_names_the_counts(volumes):
    root, _ = volumes
    s = FastMRISource(path=str(root), size=16)
    with pytest.raises(ValueError, match=r"n_test=3, n_val=2, n_train=14 slices .* has 14 slices in 5 volumes: the train set needs 14"):
        s.split(n_train=14, n_val=2, n_test=3, seed=0)
    with pytest.raises(ValueError, match=r"the test set needs 15 and only 14 remain; lower the counts"):
        s.split(n_train=0, n_val=0, n_test=15, seed=0)
    with pytest.raises(ValueError, match="n_val=-1"):
        s.split(n_train=0, n_val=-1, n_test=0, seed=0)


def test_acquisition_filter(volumes):
    root, _ = volumes
    s = FastMRISource(path=str(root), size=16, acquisition="AXT2")
    assert s.files == ("sub/vol_c.h5", "vol_a.h5", "vol_e.h5") and len(s) == 10
    d = s.describe()
    assert d["acquisitions"] == {"AXT1": 1, "AXT2": 3, "CORPD_FBK": 1} and d["excluded_by_acquisition"] == 2
    two = FastMRISource(path=str(root), size=16, acquisition=("AXT1", "CORPD_FBK"))
    assert two.files == ("vol_b.h5", "vol_d.h5")
    with pytest.raises(ValueError, match=r"acquisition='FLAIR' leaves no files .*acquisitions present: AXT1, AXT2, CORPD_FBK"):
        FastMRISource(path=str(root), size=16, acquisition="FLAIR")
    with pytest.raises(ValueError, match="acquisition=3 must be"):
        FastMRISource(path=str(root), size=16, acquisition=3)


# --------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------


def test_path_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    for path, match in (
        (tmp_path / "nope", r"nope does not exist; pass a directory of fastMRI \.h5 files"),
        (tmp_path / "empty", r"no \.h5 files under .*empty"),
        (tmp_path / "empty" / "readme.txt", r"readme\.txt is neither a directory nor a \.h5 file"),
    ):
        with pytest.raises(ValueError, match=match) as err:
            FastMRISource(path=str(path), size=16)
        assert "\n" not in str(err.value)
        with pytest.raises(ValueError, match=match):
            make_source(f"fastmri:{path}", size=16)
    with pytest.raises(ValueError, match="empty"):
        make_source("fastmri:", size=16)


def test_corrupt_and_truncated_files_are_named(tmp_path, volumes):
    root, _ = volumes
    (tmp_path / "x.h5").write_bytes(b"this is not an HDF5 file\n" * 20)
    with pytest.raises(ValueError, match=r"cannot open fastMRI file .*x\.h5 \(OSError"):
        FastMRISource(path=str(tmp_path), size=16)
    data = (root / "vol_b.h5").read_bytes()
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "trunc.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"fastMRI file .*trunc\.h5"):
        FastMRISource(path=str(cut), size=16)


def test_wrong_layouts_are_named(tmp_path):
    _write(tmp_path / "a" / "other.h5", datasets={"image": np.zeros((2, 8, 8), np.float32)})
    with pytest.raises(ValueError, match=r"other\.h5: no 'kspace' or 'reconstruction_rss'/'reconstruction_esc' dataset \(not a fastMRI file\?\)"):
        FastMRISource(path=str(tmp_path / "a"), size=16)
    _write(tmp_path / "b" / "real.h5", kspace=np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match=r"real\.h5: 'kspace' has dtype float32 shape \(8, 8\)"):
        FastMRISource(path=str(tmp_path / "b"), size=16)
    _write(tmp_path / "c" / "flat.h5", kspace=np.zeros((8, 8), np.complex64))
    with pytest.raises(ValueError, match=r"flat\.h5: 'kspace' has dtype complex64 shape \(8, 8\)"):
        FastMRISource(path=str(tmp_path / "c"), size=16)
    _write(tmp_path / "d" / "mismatch.h5", kspace=np.zeros((3, 8, 8), np.complex64), datasets={"reconstruction_esc": np.zeros((2, 8, 8), np.float32)})
    with pytest.raises(ValueError, match=r"mismatch\.h5: 'reconstruction_esc' has 2 slices but 'kspace' has 3"):
        FastMRISource(path=str(tmp_path / "d"), size=16)


# --------------------------------------------------------------------------------------------------
# pickling, factory, description, no open handles
# --------------------------------------------------------------------------------------------------


def test_pickles_and_holds_no_open_files(volumes):
    root, _ = volumes
    s = FastMRISource(path=str(root), size=16, acquisition="AXT2")
    first = s.batch(np.arange(len(s)))  # fills the per-volume max cache
    t = pickle.loads(pickle.dumps(s))
    assert t == s and t.files == s.files
    np.testing.assert_array_equal(t.batch(np.arange(len(t))), first)
    for rel in s.files:  # HDF5 refuses a write-mode open of a file this process still has open read-only
        with h5py.File(root / rel, "r+"):
            pass


def test_make_source_and_describe(volumes, tmp_path):
    root, _ = volumes
    s = make_source("fastmri:" + str(root), size=32, cache_dir=str(tmp_path / "cache"))
    assert isinstance(s, FastMRISource) and s.name == f"fastmri:{root}" and s.shape == (1, 32, 32)
    d = s.describe()
    json.dumps(d)
    assert d["files"] == ORDER and d["volumes"] == 5 and d["slices"] == 14
    assert d["targets"] == {"kspace:rss": 1, "reconstruction_esc": 1, "reconstruction_rss": 3}
    assert d["value_range"] == [0.0, 1.0] and d["parameters"]["target"] == "auto"
    idx = np.array([0, 6, 12])
    np.testing.assert_array_equal(s.batch(idx), s.batch(idx))  # second call from the cache
    assert len(list((tmp_path / "cache").iterdir())) == 1
    with pytest.raises(ValueError, match=r"unknown option\(s\) crop for source 'fastmri:.*allowed: acquisition, target$"):
        make_source("fastmri:" + str(root), size=32, crop="center")


def test_target_and_acquisition_are_source_options(volumes):
    root, _ = volumes
    spec = "fastmri:" + str(root)
    assert source_options(spec) == {"target": "auto", "acquisition": None}
    s = make_source(spec, size=16, target="esc", acquisition="CORPD_FBK")
    assert s.files == ("vol_b.h5",) and s.describe()["targets"] == {"reconstruction_esc": 1}
    assert make_source(spec, size=16, **source_options(spec)) == make_source(spec, size=16)


def test_kspace_target_uses_the_project_centred_fft():
    from theory.operators import ifft2c as theory_ifft2c

    assert ifft2c is theory_ifft2c  # one centred FFT, re-exported for old importers
    k = _kspace(np.random.default_rng(0), (COILS, 12, 10))
    np.testing.assert_allclose(kspace_target(k), _reference_target(k), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(kspace_target(k[0]), _reference_target(k[0]), rtol=1e-6, atol=1e-7)


def test_mri_sweep_on_fastmri_files_uses_one_mask_per_volume(volumes, tmp_path, monkeypatch):
    """End to end: a tiny MRI sweep on fake fastMRI files; masks are seeded by volume, not slice."""
    from empirical import run as run_mod
    from empirical.config import DEFAULTS, RunConfig
    from empirical.plan import plan

    root, _ = volumes
    seen = {}
    orig = run_mod.train

    def spy(model, sup, *a, **k):
        seen.update(k, train_ids=sup.mask_ids)  # the MRI mask ids of the training examples
        return orig(model, sup, *a, **k)

    monkeypatch.setattr(run_mod, "train", spy)
    run = {**DEFAULTS, "task": "mri", "sigma": 0.01, "data": f"fastmri:{root}", "size": 16, "N": 4,
           "n_val": 2, "n_test": 2, "width": 4, "depth": 1, "batch_size": 2, "min_steps": 10, "max_steps": 10,
           "eval_every": 5, "device": "cpu"}
    row = run_mod.run_one(plan(RunConfig(**run)), tmp_path / "r")
    assert row.status == "done", row.reason
    assert {"ssim", "psnr", "nmse"} <= row.metrics["test"].keys()
    src = make_source(f"fastmri:{root}", size=16)
    split = src.split(n_train=4, n_val=2, n_test=2, seed=0)
    assert seen["train_ids"].tolist() == src.volume_of(split.train(4)).tolist()  # volume ids, not slice indices
    assert seen["val_mask_ids"].tolist() == src.volume_of(split.val).tolist()
    assert seen["val_ids"].tolist() == split.val.tolist()  # noise stays per slice
