"""Tests of empirical.data: deterministic sources, nested/disjoint splits, statistics, errors, cache."""

from __future__ import annotations

import json
import os
import pickle
import time

import numpy as np
import pytest

from empirical.data import (
    INDEX_LIMIT,
    PHOTO_TEST,
    PHOTO_TRAIN,
    SPECS,
    TEST_OFFSET,
    VAL_OFFSET,
    DeadLeavesSource,
    Split,
    make_source,
    source_options,
)

GENERATED = ["subspace", "deadleaves", "deadleaves-textured", "phantoms", "photos"]
SIZE = 32


def _source(spec: str, seed: int = 0, **kw):
    return make_source(spec, size=SIZE, seed=seed, **kw)


# --------------------------------------------------------------------------------------------------
# determinism, ranges, batch
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", GENERATED)
def test_same_seed_and_index_give_the_same_image(spec, seed):
    a, b = _source(spec, seed), _source(spec, seed)
    for i in (0, 7, VAL_OFFSET + 3):
        x = a.image(i)
        assert x.dtype == np.float32 and x.shape == (1, SIZE, SIZE)
        np.testing.assert_array_equal(x, b.image(i))
        np.testing.assert_array_equal(x, a.image(i))
    assert not np.array_equal(a.image(0), a.image(1))


@pytest.mark.parametrize("spec", GENERATED)
def test_different_seeds_differ(spec):
    assert not np.array_equal(_source(spec, 0).image(3), _source(spec, 1).image(3))


@pytest.mark.parametrize(
    "spec, channels",
    [(s, c) for s in ("deadleaves", "deadleaves-textured", "photos") for c in (1, 3)] + [("phantoms", 1)],
)
def test_values_in_unit_interval_and_batch_matches_image(spec, channels):
    s = make_source(spec, size=SIZE, channels=channels, seed=2)
    idx = np.array([0, 5, 11, VAL_OFFSET, TEST_OFFSET + 1])
    b = s.batch(idx)
    assert b.dtype == np.float32 and b.shape == (idx.size, channels, SIZE, SIZE)
    assert b.min() >= 0.0 and b.max() <= 1.0
    for k, i in enumerate(idx):
        np.testing.assert_array_equal(b[k], s.image(int(i)))
    assert s.batch([]).shape == (0, channels, SIZE, SIZE)


@pytest.mark.parametrize("spec", GENERATED)
def test_sources_pickle(spec):
    s = _source(spec, 1)
    s.image(0)  # fill lazy caches first
    t = pickle.loads(pickle.dumps(s))
    assert t == s
    np.testing.assert_array_equal(t.image(4), s.image(4))


def test_rgb_channels_are_not_copies_for_colour_sources():
    x = make_source("deadleaves", size=SIZE, channels=3).image(0)
    assert not np.array_equal(x[0], x[1])


@pytest.mark.parametrize("spec", ["subspace", "phantoms"])
def test_greyscale_only_sources_reject_rgb(spec):
    with pytest.raises(ValueError, match="channels=1"):
        make_source(spec, size=SIZE, channels=3)


@pytest.mark.parametrize("bad", [-1, INDEX_LIMIT, 1.5, "3"])
def test_bad_index_is_rejected(bad):
    with pytest.raises(ValueError, match="index"):
        _source("deadleaves").image(bad)


# --------------------------------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------------------------------


def _assert_nested_and_disjoint(small: Split, large: Split) -> None:
    for N in (0, 1, 3, small.train_pool.size):
        np.testing.assert_array_equal(small.train(N), large.train(N))
        np.testing.assert_array_equal(large.train(N), large.train_pool[:N])
    for sp in (small, large):
        sets = [set(sp.train_pool.tolist()), set(sp.val.tolist()), set(sp.test.tolist())]
        assert not sets[0] & sets[1] and not sets[0] & sets[2] and not sets[1] & sets[2]


@pytest.mark.parametrize("spec", GENERATED)
def test_splits_are_nested_and_disjoint(spec, seed):
    s = _source(spec, seed)
    small = s.split(n_train=5, n_val=3, n_test=4, seed=seed)
    large = s.split(n_train=50, n_val=3, n_test=4, seed=seed)
    _assert_nested_and_disjoint(small, large)
    assert small.sizes == {"train_pool": 5, "val": 3, "test": 4}
    with pytest.raises(ValueError, match=r"N=6 exceeds the training pool of 5"):
        small.train(6)


def test_split_rejects_overlap_and_writes():
    with pytest.raises(ValueError, match="disjoint"):
        Split(train_pool=np.arange(5), val=np.array([4, 10]), test=np.array([20]))
    sp = Split(train_pool=np.arange(5), val=np.array([10]), test=np.array([20]))
    with pytest.raises(ValueError):
        sp.train_pool[0] = 3  # read-only
    with pytest.raises(ValueError, match="non-negative"):
        sp.train(-1)


def test_split_rejects_bad_counts():
    s = _source("deadleaves")
    with pytest.raises(ValueError, match="n_val"):
        s.split(n_train=3, n_val=-1, n_test=0, seed=0)
    with pytest.raises(ValueError, match="n_train"):
        s.split(n_train=VAL_OFFSET + 1, n_val=0, n_test=0, seed=0)


# --------------------------------------------------------------------------------------------------
# subspace
# --------------------------------------------------------------------------------------------------


def test_subspace_images_lie_in_span_of_U(seed):
    s = make_source("subspace", size=SIZE, seed=seed, d=7)
    U = s.basis
    assert U.shape == (SIZE * SIZE, 7)
    np.testing.assert_allclose(U.T @ U, np.eye(7), atol=1e-12)
    X = s.batch(np.arange(20)).reshape(20, -1).astype(np.float64)
    resid = X - (X @ U) @ U.T
    assert np.linalg.norm(resid, axis=1).max() < 1e-6 * max(1.0, np.linalg.norm(X, axis=1).max())
    assert s.describe()["value_range"] is None


def test_subspace_covariance_is_UUt(seed):
    d, M = 5, 20_000
    s = make_source("subspace", size=8, seed=seed, d=d)
    X = s.batch(np.arange(M)).reshape(M, -1).astype(np.float64)
    cov = X.T @ X / M
    UUt = s.basis @ s.basis.T
    rel = np.linalg.norm(cov - UUt) / np.linalg.norm(UUt)
    assert rel < 0.06  # typical sqrt((d + 1) / M) ≈ 0.017
    assert abs(np.mean(np.sum(X**2, axis=1)) - d) < 0.15  # E||x||² = d


def test_subspace_rejects_bad_d():
    with pytest.raises(ValueError, match="d="):
        make_source("subspace", size=4, d=17)


# --------------------------------------------------------------------------------------------------
# dead leaves
# --------------------------------------------------------------------------------------------------


def test_plain_deadleaves_is_piecewise_constant_textured_is_not():
    plain = make_source("deadleaves", size=64).batch(np.arange(20))
    textured = make_source("deadleaves-textured", size=64).batch(np.arange(20))
    assert np.mean(np.diff(plain, axis=-1) == 0) > 0.7
    assert np.mean(np.diff(textured, axis=-1) == 0) < 0.2
    # many distinct flat leaves per image
    assert all(np.unique(x).size > 30 for x in plain)


def test_textured_shares_geometry_with_plain():
    plain = make_source("deadleaves", size=SIZE, seed=4)
    textured = make_source("deadleaves-textured", size=SIZE, seed=4, gradient=0.0, texture_amplitude=0.0, blur_max=0.0)
    np.testing.assert_allclose(textured.image(9), plain.image(9), atol=1e-6)


def test_deadleaves_radius_density_is_the_restricted_power_law():
    s = DeadLeavesSource(size=64)
    rng = np.random.default_rng(0)
    r = np.concatenate([s._discs(rng, 5000)[2] for _ in range(4)]) / s.size
    lo, hi = s.r_min, s.rmax
    assert r.min() >= lo * (1 - 1e-12) and r.max() <= hi * (1 + 1e-12)
    grid = np.geomspace(lo, hi, 4001)
    dens = grid**-3.0 * (1 + 2 * grid) ** 2
    cdf = np.concatenate([[0.0], np.cumsum(np.diff(grid) * (dens[1:] + dens[:-1]) / 2)])
    cdf /= cdf[-1]
    emp = np.searchsorted(np.sort(r), grid) / r.size
    assert np.max(np.abs(emp - cdf)) < 0.02  # Kolmogorov-Smirnov distance, n = 20000


def test_deadleaves_is_stationary_up_to_the_border():
    """P(two pixels d apart show the same leaf) is the same at the corner as in the middle."""
    s = make_source("deadleaves", size=24)
    M = 1500
    labels = np.stack([s._leaves(i).label for i in range(M)])
    for d in (1, 3, 6):
        corner = np.mean(labels[:, 0, 0] == labels[:, 0, d])
        middle = np.mean(labels[:, 10, 9] == labels[:, 10, 9 + d])
        assert abs(corner - middle) < 0.06, (d, corner, middle)


def test_deadleaves_speed():
    s = make_source("deadleaves", size=64)
    t = time.perf_counter()
    s.batch(np.arange(200))
    assert time.perf_counter() - t < 5.0


def test_deadleaves_rejects_bad_radii():
    with pytest.raises(ValueError, match="half a pixel"):
        make_source("deadleaves", size=64, rmin=0.001)
    with pytest.raises(ValueError, match="smaller than rmax"):
        make_source("deadleaves", size=64, rmin=0.3, rmax=0.2)


# --------------------------------------------------------------------------------------------------
# phantoms
# --------------------------------------------------------------------------------------------------


def test_phantoms_range_contrast_and_complex_image(seed):
    s = make_source("phantoms", size=64, seed=seed)
    for i in range(5):
        x = s.image(i)
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.std() > 0.05
        z = s.complex_image(i)
        assert z.dtype == np.complex64 and z.shape == (64, 64)
        np.testing.assert_allclose(np.abs(z), x[0], atol=1e-6)
        inside = x[0] > 0.05
        phase = np.angle(z)[inside]
        assert np.ptp(np.exp(1j * phase).real) > 0.01  # a phase, not a constant
        # smooth: neighbouring phases (inside the object) differ little
        dz = z[:, 1:] * np.conj(z[:, :-1])
        both = inside[:, 1:] & inside[:, :-1]
        assert np.max(np.abs(np.angle(dz[both]))) < 0.3


def test_phantoms_without_phase_are_real():
    z = make_source("phantoms", size=SIZE, phase=False).complex_image(2)
    assert np.all(z.imag == 0) and np.all(z.real >= 0)


# --------------------------------------------------------------------------------------------------
# photos
# --------------------------------------------------------------------------------------------------


def test_photos_split_at_photo_level():
    s = _source("photos")
    p = s.describe()["parameters"]
    assert set(p["train_photos"]) == set(PHOTO_TRAIN) and set(p["test_photos"]) == set(PHOTO_TEST)
    assert not set(PHOTO_TRAIN) & set(PHOTO_TEST)
    assert p["n_test_crops"] == 4 * len(PHOTO_TEST)
    assert any("correlated" in n for n in s.describe()["notes"])
    # every test crop is a region of a test photo, and test crops do not depend on the seed
    for j, (name, top, left) in enumerate(s.test_positions):
        assert name in PHOTO_TEST
        crop = s.photo(name)[:, top : top + SIZE, left : left + SIZE].astype(np.float32)
        np.testing.assert_array_equal(s.image(TEST_OFFSET + j), crop)
    other = _source("photos", seed=5)
    test = s.split(n_train=3, n_val=2, n_test=20, seed=0).test
    np.testing.assert_array_equal(s.batch(test), other.batch(test))
    assert not np.array_equal(s.image(0), other.image(0))


def test_photos_too_many_test_crops():
    with pytest.raises(ValueError, match="n_test=21 exceeds the 20"):
        _source("photos").split(n_train=3, n_val=2, n_test=21, seed=0)


def test_photos_grid_test_crops_tile_every_test_photo_once():
    """``test_crops = "grid"``: every non-overlapping crop of every test photo exactly once (their pixels
    are the photo's, tiling its top-left part), in one fixed order in which any prefix mixes the photos."""
    s = make_source("photos", size=16, channels=1, short_side_factor=8, test_crops="grid")
    pos = s.test_positions
    assert len(set(pos)) == len(pos)
    for name in PHOTO_TEST:
        H, W = s.photo(name).shape[1:]
        mine = {(t, l) for n, t, l in pos if n == name}
        assert mine == {(t, l) for t in range(0, H - 15, 16) for l in range(0, W - 15, 16)}
    assert len(pos) == sum((s.photo(n).shape[1] // 16) * (s.photo(n).shape[2] // 16) for n in PHOTO_TEST) > 300
    assert {n for n, _, _ in pos[:40]} == set(PHOTO_TEST)  # a prefix is not one photo
    j = 123
    name, top, left = pos[j]
    np.testing.assert_array_equal(s.image(TEST_OFFSET + j), s.photo(name)[:, top:top + 16, left:left + 16].astype(np.float32))
    again = make_source("photos", size=16, channels=1, seed=9, short_side_factor=8, test_crops="grid")
    assert again.test_positions == pos  # independent of the seed
    with pytest.raises(ValueError, match=f"n_test={len(pos) + 1} exceeds the {len(pos)} fixed test crops .grid."):
        s.split(n_train=3, n_val=2, n_test=len(pos) + 1, seed=0)
    with pytest.raises(ValueError, match="source.test_crops=grid"):
        _source("photos").split(n_train=3, n_val=2, n_test=21, seed=0)
    with pytest.raises(ValueError, match="test_crops='all': use one of corners, grid"):
        make_source("photos", size=16, test_crops="all")


@pytest.mark.parametrize("channels", [1, 3])
def test_photos_shapes(channels):
    s = make_source("photos", size=48, channels=channels)
    assert s.batch(np.array([0, VAL_OFFSET, TEST_OFFSET])).shape == (3, channels, 48, 48)


def test_photos_greyscale_is_luma_of_rgb():
    g, c = _source("photos", channels=1), _source("photos", channels=3)
    i = TEST_OFFSET  # astronaut (a colour photo), identical crop for both
    luma = np.tensordot(np.array([0.299, 0.587, 0.114]), c.image(i), axes=1)
    np.testing.assert_allclose(g.image(i)[0], luma, atol=0.02)  # resize and luma commute up to clipping


# --------------------------------------------------------------------------------------------------
# folders
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def image_tree(tmp_path):
    from skimage import io

    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for cls, n, ext in (("class_a", 4, "png"), ("class_b", 3, "jpg"), ("class_c", 2, "tif")):
        (root / cls).mkdir(parents=True)
        for k in range(n):
            shape = (40, 50, 3) if k % 2 else (45, 38)
            io.imsave(root / cls / f"img{k}.{ext}", (rng.random(shape) * 255).astype(np.uint8), check_contrast=False)
    io.imsave(root / "class_a" / "small.png", (rng.random((10, 12, 3)) * 255).astype(np.uint8), check_contrast=False)
    (root / "class_b" / "broken.png").write_bytes(b"\x89PNG not really an image")
    (root / "class_b" / "notes.txt").write_text("not an image")
    return root


def test_folder_lists_sorted_images_recursively(image_tree):
    s = make_source(f"folder:{image_tree}", size=32, channels=3, enlarge=True)  # small.png is 12x10
    assert len(s) == 11
    assert list(s.files) == sorted(s.files)
    assert os.path.join("class_b", "broken.png") in s.files
    assert not any(f.endswith(".txt") for f in s.files)
    good = [k for k, f in enumerate(s.files) if "broken" not in f]
    b = s.batch(np.array(good))
    assert b.shape == (10, 3, 32, 32) and b.dtype == np.float32 and 0 <= b.min() and b.max() <= 1
    grey = make_source(f"folder:{image_tree}", size=32, channels=1, enlarge=True)
    assert grey.image(good[0]).shape == (1, 32, 32)
    small = s.files.index(os.path.join("class_a", "small.png"))
    assert s.image(small).shape == (3, 32, 32)  # enlarged to the size (enlarge=True)


def test_folder_center_and_random_crops(image_tree):
    centre = make_source(f"folder:{image_tree}", size=16)
    rnd = make_source(f"folder:{image_tree}", size=16, crop="random", seed=3)
    np.testing.assert_array_equal(rnd.image(0), rnd.image(0))
    assert not np.array_equal(centre.image(0), rnd.image(0))


def test_folder_split_nested_disjoint_and_counts(image_tree):
    s = make_source(f"folder:{image_tree}", size=16)
    small = s.split(n_train=3, n_val=2, n_test=2, seed=1)
    large = s.split(n_train=7, n_val=2, n_test=2, seed=1)
    _assert_nested_and_disjoint(small, large)
    np.testing.assert_array_equal(small.test, large.test)
    with pytest.raises(ValueError, match=r"= 12 images but .* has only 11"):
        s.split(n_train=8, n_val=2, n_test=2, seed=1)
    other = s.split(n_train=7, n_val=2, n_test=2, seed=2)
    assert not np.array_equal(other.train_pool, large.train_pool)
    assert sorted(np.concatenate([other.train_pool, other.val, other.test])) == list(range(11))


def test_folder_errors(image_tree, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        make_source(f"folder:{tmp_path / 'nope'}", size=16)
    with pytest.raises(ValueError, match="not a directory"):
        make_source(f"folder:{image_tree / 'class_b' / 'notes.txt'}", size=16)
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "a.txt").write_text("x")
    with pytest.raises(ValueError, match=r"no images \(png/jpg/jpeg/tif/tiff\) under"):
        make_source(f"folder:{empty}", size=16)
    with pytest.raises(ValueError, match="crop="):
        make_source(f"folder:{image_tree}", size=16, crop="middle")
    s = make_source(f"folder:{image_tree}", size=16, enlarge=True)  # only the broken file is refused
    bad = s.files.index(os.path.join("class_b", "broken.png"))
    with pytest.raises(ValueError, match="broken.png") as err:
        s.image(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="broken.png"):
        s.batch(np.arange(len(s)))
    with pytest.raises(ValueError, match="index 11"):
        s.image(11)


@pytest.mark.parametrize("where", ["nope", "class_b/notes.txt"])
def test_folder_path_errors_are_one_line(image_tree, tmp_path, where):
    path = tmp_path / "nope" if where == "nope" else image_tree / where
    with pytest.raises(ValueError, match="does not exist|is not a directory") as err:
        make_source(f"folder:{path}", size=16)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_split_asking_for_more_images_than_the_folder_has_is_one_line(tmp_path):
    from skimage import io

    root = tmp_path / "five"
    root.mkdir()
    for k in range(5):
        io.imsave(root / f"{k}.png", np.full((20, 20), 40 * k, np.uint8), check_contrast=False)
    s = make_source(f"folder:{root}", size=16)
    with pytest.raises(ValueError, match=r"= 10 images but .*five has only 5; lower the counts") as err:
        s.split(n_train=10, n_val=0, n_test=0, seed=0)
    assert "\n" not in str(err.value)
    sp = s.split(n_train=3, n_val=1, n_test=1, seed=0)
    with pytest.raises(ValueError, match=r"N=4 exceeds the training pool of 3 images") as err:
        sp.train(4)
    assert "\n" not in str(err.value)


def test_folder_with_enlarge_and_photos_enlarge_images_smaller_than_size(image_tree):
    # with enlarge=True a size above every file's short side (38..45 px) is not an error: files are
    # enlarged, then cropped (without it they are refused: tests/empirical/test_bad_input.py)
    s = make_source(f"folder:{image_tree}", size=64, channels=3, enlarge=True)
    good = [k for k, f in enumerate(s.files) if "broken" not in f]
    b = s.batch(np.array(good[:3]))
    assert b.shape == (3, 3, 64, 64) and 0 <= b.min() and b.max() <= 1
    # photos are at most 512 px on the short side: larger sizes enlarge them too
    p = make_source("photos", size=600)
    x = p.image(0)
    assert x.shape == (1, 600, 600) and 0 <= x.min() and x.max() <= 1


def test_folder_skip_corrupt_warns_once_and_counts(image_tree):
    s = make_source(f"folder:{image_tree}", size=16, enlarge=True)  # small.png (12x10) is read too
    assert s.describe()["skipped"] == 0
    with pytest.warns(UserWarning, match="skipped 1 unreadable") as record:
        sp = s.split(n_train=6, n_val=2, n_test=2, seed=0, skip_corrupt=True)
    assert len(record) == 1
    bad = s.files.index(os.path.join("class_b", "broken.png"))
    assert bad not in np.concatenate([sp.train_pool, sp.val, sp.test])
    assert s.batch(np.concatenate([sp.train_pool, sp.val, sp.test])).shape == (10, 1, 16, 16)
    d = s.describe()
    assert d["skipped"] == 1 and d["skipped_files"] == [os.path.join("class_b", "broken.png")]
    json.dumps(d)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="only 10 readable"):
        s.split(n_train=7, n_val=2, n_test=2, seed=0, skip_corrupt=True)


def test_folder_skip_corrupt_is_a_source_option(image_tree):
    s = make_source(f"folder:{image_tree}", size=16, skip_corrupt=True)
    assert s.skip_corrupt is True and s.describe()["skip_corrupt"] is True
    with pytest.warns(UserWarning, match="skipped 1 unreadable") as record:
        sp = s.split(n_train=6, n_val=2, n_test=2, seed=0)
    assert len(record) == 1
    bad = s.files.index(os.path.join("class_b", "broken.png"))
    assert bad not in np.concatenate([sp.train_pool, sp.val, sp.test])
    # the split() argument still overrides the field for one call (no scan, so no warning)
    every = s.split(n_train=7, n_val=2, n_test=2, seed=0, skip_corrupt=False)
    assert bad in np.concatenate([every.train_pool, every.val, every.test])
    plain = make_source(f"folder:{image_tree}", size=16)
    assert plain.skip_corrupt is False and plain.describe()["skip_corrupt"] is False
    np.testing.assert_array_equal(plain.split(n_train=7, n_val=2, n_test=2, seed=0).train_pool, every.train_pool)
    with pytest.raises(ValueError, match="skip_corrupt='yes' must be True or False"):
        make_source(f"folder:{image_tree}", size=16, skip_corrupt="yes")


# --------------------------------------------------------------------------------------------------
# factory, describe, cache
# --------------------------------------------------------------------------------------------------


def test_make_source_bad_spec_and_options():
    with pytest.raises(ValueError, match=r"unknown source spec 'imagenet'; use one of: subspace, deadleaves"):
        make_source("imagenet", size=16)
    with pytest.raises(ValueError, match=r"unknown option\(s\) sigma .* allowed: .*rmax"):
        make_source("deadleaves", size=16, sigma=3)
    with pytest.raises(ValueError, match="size="):
        make_source("deadleaves", size=0)
    with pytest.raises(ValueError, match="seed="):
        make_source("deadleaves", size=16, seed=-1)
    with pytest.raises(ValueError, match="empty"):
        make_source("folder:", size=16)


def test_source_options_lists_every_option_with_its_default():
    assert source_options("subspace") == {"d": 10}
    assert source_options("deadleaves") == {"rmin": None, "rmax": 0.5, "alpha": 3.0}
    assert source_options("deadleaves-textured") == {
        "rmin": None, "rmax": 0.5, "alpha": 3.0, "gradient": 0.3, "texture_amplitude": 0.15, "n_textures": 4, "blur_max": 1.5,
    }
    assert source_options("phantoms") == {"phase": True, "min_ellipses": 4, "max_ellipses": 10}
    assert source_options("photos") == {"short_side_factor": 2.0, "test_crops": "corners"}
    assert source_options("folder:PATH") == source_options("folder:/any/where") == {"crop": "center", "skip_corrupt": False, "enlarge": False}
    assert source_options("fastmri:PATH") == {"target": "auto", "acquisition": None}
    for spec in SPECS:
        assert not {"size", "channels", "seed", "cache_dir", "path"} & set(source_options(spec))
    with pytest.raises(ValueError, match=r"unknown source spec 'imagenet'; use one of: subspace") as err:
        source_options("imagenet")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("spec", GENERATED)
def test_every_listed_option_is_accepted_at_its_default(spec):
    opts = source_options(spec)
    assert make_source(spec, size=SIZE, **opts) == make_source(spec, size=SIZE)
    with pytest.raises(ValueError, match=r"unknown option\(s\) bogus") as err:
        make_source(spec, size=SIZE, bogus=1)
    msg = str(err.value)
    assert "\n" not in msg and msg.endswith("allowed: " + (", ".join(sorted(opts)) or "none"))


def test_folder_options_are_accepted_at_their_default(image_tree):
    spec = f"folder:{image_tree}"
    assert make_source(spec, size=16, **source_options(spec)) == make_source(spec, size=16)


@pytest.mark.parametrize("spec", GENERATED)
def test_describe_is_json(spec):
    d = _source(spec).describe()
    assert json.loads(json.dumps(d)) == d
    assert d["name"] == spec and d["size"] == SIZE and d["channels"] == 1 and isinstance(d["notes"], list)


def test_batch_cache_roundtrip(tmp_path):
    cached = make_source("deadleaves-textured", size=SIZE, seed=3, cache_dir=str(tmp_path / "cache"))
    plain = make_source("deadleaves-textured", size=SIZE, seed=3)
    idx = np.array([4, 1, 9])
    a = cached.batch(idx)
    files = os.listdir(tmp_path / "cache")
    assert len(files) == 1 and files[0].endswith(".npy")
    np.testing.assert_array_equal(a, plain.batch(idx))
    np.testing.assert_array_equal(cached.batch(idx), a)  # served from the file
    cached.batch(idx[::-1])
    other = make_source("deadleaves-textured", size=SIZE, seed=4, cache_dir=str(tmp_path / "cache"))
    assert not np.array_equal(other.batch(idx), a)
    assert len(os.listdir(tmp_path / "cache")) == 3 and not any(f.endswith(".tmp") for f in os.listdir(tmp_path / "cache"))


def test_cache_files_are_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        cache = tmp_path / "cache"
        make_source("deadleaves", size=16, cache_dir=str(cache)).batch(np.arange(3))
    finally:
        os.umask(old)
    (f,) = os.listdir(cache)
    assert f.endswith(".npy") and (os.stat(cache / f).st_mode & 0o777) == 0o644
