"""Tests of theory.operators: adjointness, dense matrices, spectra, masks, specs and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from theory.operators import (
    MRI,
    OPERATOR_NAMES,
    Denoise,
    SuperResolution,
    make_operator,
    operator_from_dict,
)

SEEDS = [0, 1, 7]
ODD_EVEN_SHAPES = [(7, 9), (8, 8), (5, 6), (6, 5), (1, 4), (9, 1)]


def _operators() -> list:
    ops: list = []
    for shape in ODD_EVEN_SHAPES:
        ops.append(Denoise(shape))
        for mask in ("equispaced", "random"):
            for accel in (1.0, 2.0, 3.0):
                ops.append(MRI(shape, accel=accel, center_fraction=0.25, mask=mask, seed=3))
    ops += [Denoise(11), Denoise((2, 3, 4))]
    for mask in ("equispaced", "random"):
        ops += [MRI((8, 16), accel=4, center_fraction=0.08, mask=mask, seed=s) for s in (0, 5)]
    ops += [SuperResolution(s, k) for s, k in [((8, 8), 2), ((6, 9), 3), ((5, 10), 5), ((4, 6), 1), ((12, 8), 4)]]
    return ops


OPS = _operators()
OP_IDS = [repr(op) for op in OPS]


def _dot_test_error(forward, adjoint, n: int, m: int, rng: np.random.Generator) -> float:
    """|<A x, y> - <x, Aᵀ y>| relative to ‖A x‖‖y‖ (the scale of rounding in either side)."""
    x = rng.standard_normal(n)
    y = rng.standard_normal(m)
    ax = forward(x)
    lhs = float(ax @ y)
    rhs = float(x @ adjoint(y))
    scale = max(np.linalg.norm(ax) * np.linalg.norm(y), np.linalg.norm(x) * np.linalg.norm(adjoint(y)), 1e-300)
    return abs(lhs - rhs) / scale


# --------------------------------------------------------------------------- adjoint / matrix / spectrum


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_adjoint_dot_test(op, seed):
    rng = np.random.default_rng(seed)
    assert _dot_test_error(op.forward, op.adjoint, op.n, op.m, rng) < 1e-12


def test_dot_test_detects_a_wrong_adjoint():
    # The check above must be able to fail: flip the sign of the imaginary block of an MRI adjoint.
    op = MRI((7, 9), accel=2, mask="random", seed=1)
    hs = op.m // 2

    def wrong_adjoint(y):
        y = y.copy()
        y[hs:] *= -1
        return op.adjoint(y)

    assert _dot_test_error(op.forward, wrong_adjoint, op.n, op.m, np.random.default_rng(0)) > 1e-3


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_matrix_matches_forward_and_adjoint(op, seed):
    rng = np.random.default_rng(seed)
    M = op.matrix()
    assert M.shape == (op.m, op.n) and M.dtype == np.float64
    x = rng.standard_normal((4, op.n))
    y = rng.standard_normal((4, op.m))
    np.testing.assert_allclose(x @ M.T, op.forward(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(y @ M, op.adjoint(y), rtol=0, atol=1e-12)


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_singular_values_match_svd(op):
    expected = np.linalg.svd(op.matrix(), compute_uv=False)
    k = min(op.m, op.n)
    expected = np.pad(expected, (0, k - expected.size))
    got = op.singular_values()
    assert got.shape == (k,)
    assert np.all(np.diff(got) <= 0), "singular values must be sorted descending"
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- MRI


@pytest.mark.parametrize("mask", ["equispaced", "random"])
@pytest.mark.parametrize("shape", [(7, 9), (8, 8), (5, 6), (6, 7), (4, 1)])
def test_mri_full_sampling_is_isometry(shape, mask):
    op = MRI(shape, accel=1, center_fraction=0.1, mask=mask, seed=2)
    assert op.mask_columns().all()
    assert op.m == 2 * op.n
    M = op.matrix()
    np.testing.assert_allclose(M.T @ M, np.eye(op.n), rtol=0, atol=1e-12)
    np.testing.assert_allclose(op.singular_values(), np.ones(op.n), rtol=0, atol=0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(7, 9), (8, 8), (6, 16)])
def test_mri_zero_filled_inverts_full_sampling(shape, seed):
    rng = np.random.default_rng(seed)
    op = MRI(shape, accel=1)
    x = rng.standard_normal((2, op.n))
    img = op.zero_filled(op.forward(x))
    assert img.shape == (2, *shape) and np.iscomplexobj(img)
    np.testing.assert_allclose(img.real.reshape(2, -1), x, atol=1e-12)
    np.testing.assert_allclose(img.imag, 0, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_mri_zero_filled_real_part_is_adjoint(seed):
    rng = np.random.default_rng(seed)
    op = MRI((9, 10), accel=3, mask="random", seed=seed)
    y = rng.standard_normal((3, op.m))
    np.testing.assert_allclose(op.zero_filled(y).real.reshape(3, -1), op.adjoint(y), atol=1e-13)
    # Undersampled real measurements leave an imaginary part: the real part is a genuine projection.
    assert np.abs(op.zero_filled(y).imag).max() > 1e-3


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(7, 9), (8, 8), (5, 6)])
def test_mri_forward_layout(shape, seed):
    # Spec: k = fftshift(fft2(ifftshift(x), ortho))[:, mask], C-order flattened, [real, imag].
    rng = np.random.default_rng(seed)
    op = MRI(shape, accel=2, center_fraction=0.2, mask="random", seed=seed)
    img = rng.standard_normal(shape)
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img), norm="ortho"))[:, op.mask_columns()]
    np.testing.assert_allclose(op.forward(img.ravel()), np.concatenate([k.real.ravel(), k.imag.ravel()]), atol=1e-13)


@pytest.mark.parametrize("shape", [(7, 9), (8, 8), (5, 6)])
def test_mri_dc_at_centre(shape):
    h, w = shape
    op = MRI(shape, accel=1)
    k = op.forward(np.ones(op.n))
    re = k[: op.m // 2].reshape(h, w)
    expected = np.zeros(shape)
    expected[h // 2, w // 2] = np.sqrt(op.n)
    np.testing.assert_allclose(re, expected, atol=1e-12)
    np.testing.assert_allclose(k[op.m // 2 :], 0, atol=1e-12)


@pytest.mark.parametrize(
    "shape,accel,mask,seed",
    [((8, 8), 2, "random", s) for s in range(4)]
    + [((7, 9), 3, "random", s) for s in range(4)]
    + [((6, 16), 4, "equispaced", s) for s in range(4)]
    + [((5, 12), 3, "equispaced", s) for s in range(4)],
)
def test_mri_gram_eigenvalues_are_one_half_zero(shape, accel, mask, seed):
    op = MRI(shape, accel=accel, center_fraction=0.1, mask=mask, seed=seed)
    M = op.matrix()
    eig = np.sort(np.linalg.eigvalsh(M.T @ M))[::-1]
    levels = np.array([1.0, 0.5, 0.0])
    nearest = levels[np.argmin(np.abs(eig[:, None] - levels[None, :]), axis=1)]
    np.testing.assert_allclose(eig, nearest, atol=1e-10)
    # Counts predicted from the mask and the conjugate pairing of centred indices.
    h, w = shape
    cols = op.mask_columns()
    partner = (2 * (w // 2) - np.arange(w)) % w
    per_col = (cols.astype(int) + cols[partner].astype(int)) / 2
    for level in levels:
        assert np.sum(nearest == level) == h * np.sum(per_col == level)
    np.testing.assert_allclose(op.singular_values() ** 2, eig[: min(op.m, op.n)], atol=1e-10)


def test_mri_half_level_actually_occurs():
    # Guard against the test above being vacuous: some tested masks sample one side of a pair only.
    op = MRI((6, 16), accel=4, center_fraction=0.1, mask="equispaced", seed=0)
    assert np.any(np.isclose(op.singular_values(), np.sqrt(0.5)))


@pytest.mark.parametrize("mask", ["equispaced", "random"])
@pytest.mark.parametrize("w", [5, 8, 9, 16, 64, 127, 128])
@pytest.mark.parametrize("cf", [0.04, 0.08, 0.3])
def test_mri_centre_block(w, cf, mask):
    op = MRI((4, w), accel=4, center_fraction=cf, mask=mask, seed=1)
    num_low = max(1, round(w * cf))
    assert op.num_low == num_low
    pad = (w - num_low + 1) // 2
    cols = op.mask_columns()
    assert cols.shape == (w,) and cols.dtype == bool
    assert cols[pad : pad + num_low].all()
    assert pad <= w // 2 < pad + num_low
    # Centred: the block's midpoint is within half a column of w//2.
    assert abs((pad + pad + num_low - 1) / 2 - w // 2) <= 0.5


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("cf", [0.08, 0.04])
@pytest.mark.parametrize("accel", [4, 8])
@pytest.mark.parametrize("w", [64, 128])
def test_mri_equispaced_count(w, accel, cf, seed):
    op = MRI((2, w), accel=accel, center_fraction=cf, mask="equispaced", seed=seed)
    # Integer spacing cannot hit w/accel exactly (worst case w=128, R=4, cf=0.04: 29 vs 32).
    assert abs(op.num_sampled - w / accel) <= 3
    cols = op.mask_columns()
    outside = np.flatnonzero(cols & ~_centre(w, op.num_low))
    if outside.size > 1:
        assert np.unique(np.diff(outside)).size <= 2  # one spacing, possibly interrupted by the centre


def _centre(w: int, num_low: int) -> np.ndarray:
    c = np.zeros(w, dtype=bool)
    pad = (w - num_low + 1) // 2
    c[pad : pad + num_low] = True
    return c


@pytest.mark.parametrize("accel", [2, 4, 8])
@pytest.mark.parametrize("w", [64, 128])
def test_mri_random_mean_fraction(w, accel):
    counts = [MRI((2, w), accel=accel, mask="random", seed=s).num_sampled for s in range(400)]
    # E[count] = w/accel; the sd of the mean over 400 seeds is < 0.25 columns here.
    assert abs(np.mean(counts) - w / accel) < 1.0


@pytest.mark.parametrize("mask", ["equispaced", "random"])
def test_mri_mask_reproducible(mask):
    a = MRI((8, 64), accel=4, mask=mask, seed=11)
    b = MRI((8, 64), accel=4, mask=mask, seed=11)
    np.testing.assert_array_equal(a.mask_columns(), b.mask_columns())
    # The returned mask is a copy: mutating it must not change the operator.
    m = a.mask_columns()
    m[:] = False
    np.testing.assert_array_equal(a.mask_columns(), b.mask_columns())


def test_mri_random_masks_differ_across_seeds():
    masks = {MRI((4, 64), accel=4, mask="random", seed=s).mask_columns().tobytes() for s in range(10)}
    assert len(masks) == 10


def test_mri_equispaced_offset_depends_on_seed():
    masks = {MRI((4, 64), accel=8, mask="equispaced", seed=s).mask_columns().tobytes() for s in range(20)}
    assert len(masks) > 1


def test_mri_centre_only_when_centre_reaches_target():
    op = MRI((4, 32), accel=8, center_fraction=0.5, mask="equispaced")
    np.testing.assert_array_equal(op.mask_columns(), _centre(32, 16))


# --------------------------------------------------------------------------- SR and denoise


@pytest.mark.parametrize("shape,scale", [((8, 8), 2), ((6, 9), 3), ((12, 8), 4), ((5, 5), 1)])
def test_sr_aat_is_scaled_identity(shape, scale):
    op = SuperResolution(shape, scale)
    M = op.matrix()
    np.testing.assert_allclose(M @ M.T, np.eye(op.m) / scale**2, rtol=0, atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_sr_block_mean_and_upsample(seed):
    rng = np.random.default_rng(seed)
    op = SuperResolution((6, 9), 3)
    img = rng.standard_normal((6, 9))
    expected = img.reshape(2, 3, 3, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(op.forward(img.ravel()), expected.ravel(), atol=1e-14)
    low = rng.standard_normal(op.m)
    up = op.upsample(low)
    np.testing.assert_allclose(up, np.kron(low.reshape(2, 3), np.ones((3, 3))).ravel(), atol=0)
    np.testing.assert_allclose(up, 9 * op.adjoint(low), atol=1e-14)
    np.testing.assert_allclose(op.forward(up), low, atol=1e-14)


@pytest.mark.parametrize("shape,scale", [((10, 10), 4), ((8, 6), 4), ((7, 8), 2)])
def test_sr_not_divisible(shape, scale):
    with pytest.raises(ValueError, match=r"not divisible by scale") as e:
        SuperResolution(shape, scale)
    assert "\n" not in str(e.value)


def test_sr_not_divisible_message():
    with pytest.raises(ValueError) as e:
        SuperResolution((10, 10), 4)
    assert str(e.value) == "shape (10, 10) is not divisible by scale=4; use a shape that is a multiple of the scale"


@pytest.mark.parametrize("seed", SEEDS)
def test_denoise_returns_float64_copies(seed):
    rng = np.random.default_rng(seed)
    op = Denoise((3, 4))
    x = rng.standard_normal(12).astype(np.float32)
    y = op.forward(x)
    assert y.dtype == np.float64 and not np.shares_memory(x, y)
    x64 = x.astype(np.float64)
    assert not np.shares_memory(op.forward(x64), x64)
    assert not np.shares_memory(op.adjoint(x64), x64)
    np.testing.assert_array_equal(y, x64)
    assert op.n == op.m == 12


# --------------------------------------------------------------------------- batches and dtypes


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "op",
    [Denoise((4, 5)), MRI((7, 9), accel=2, mask="random", seed=2), MRI((8, 8)), SuperResolution((6, 8), 2)],
    ids=repr,
)
def test_batch_shapes(op, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 2, op.n))
    y = op.forward(x)
    assert y.shape == (3, 2, op.m) and y.dtype == np.float64
    np.testing.assert_allclose(y[1, 0], op.forward(x[1, 0]), atol=1e-13)
    z = rng.standard_normal((3, 2, op.m))
    xt = op.adjoint(z)
    assert xt.shape == (3, 2, op.n) and xt.dtype == np.float64
    np.testing.assert_allclose(xt[2, 1], op.adjoint(z[2, 1]), atol=1e-13)


@pytest.mark.parametrize("op", [Denoise(6), MRI((4, 6)), SuperResolution((4, 6), 2)], ids=repr)
def test_integer_input_and_bad_sizes(op):
    np.testing.assert_allclose(op.forward(np.arange(op.n)), op.forward(np.arange(op.n, dtype=float)))
    with pytest.raises(ValueError, match=r"x has shape"):
        op.forward(np.zeros(op.n + 1))
    with pytest.raises(ValueError, match=r"y has shape"):
        op.adjoint(np.zeros((2, op.m + 1)))
    with pytest.raises(ValueError, match=r"complex"):
        op.forward(np.zeros(op.n, dtype=complex))


# --------------------------------------------------------------------------- specs


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_describe_round_trip(op):
    d = op.describe()
    assert d["operator"] in OPERATOR_NAMES
    d_json = json.loads(json.dumps(d))
    assert d_json == d
    back = operator_from_dict(d_json)
    assert back == op and type(back) is type(op)
    assert back.describe() == d
    if isinstance(op, MRI):
        np.testing.assert_array_equal(back.mask_columns(), op.mask_columns())


def test_describe_contains_all_fields():
    assert MRI((8, 10), accel=3, center_fraction=0.2, mask="random", seed=4).describe() == {
        "operator": "mri",
        "shape": [8, 10],
        "accel": 3.0,
        "center_fraction": 0.2,
        "mask": "random",
        "seed": 4,
    }
    assert SuperResolution((8, 10), 2).describe() == {"operator": "sr", "shape": [8, 10], "scale": 2}
    assert Denoise((3, 4)).describe() == {"operator": "denoise", "shape": [3, 4]}


def test_shape_normalised():
    assert MRI([8, np.int64(6)]).shape == (8, 6)
    assert MRI([8, 6]) == MRI((8, 6))
    assert isinstance(SuperResolution([4, 4]).shape[0], int)
    assert Denoise(5).shape == (5,)


def test_make_operator():
    assert make_operator("mri", (8, 8), accel=2) == MRI((8, 8), accel=2)
    assert make_operator("sr", [6, 6], scale=3) == SuperResolution((6, 6), 3)
    assert make_operator("denoise", (2, 3)) == Denoise((2, 3))


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: make_operator("ct", (8, 8)), r"operator='ct'.*'denoise', 'mri', 'sr'"),
        (lambda: make_operator("mri", (8, 8), acel=2), r"acel"),
        (lambda: operator_from_dict({"operator": "blur", "shape": [4]}), r"operator='blur'"),
        (lambda: operator_from_dict({"shape": [4]}), r"'operator'"),
        (lambda: operator_from_dict({"operator": "sr"}), r"shape"),
        (lambda: operator_from_dict({"operator": "sr", "shape": [4, 4], "zoom": 2}), r"zoom"),
        (lambda: MRI((8, 8), accel=0.5), r"^accel=0\.5 must be >= 1 \(acceleration factor\)$"),
        (lambda: MRI((8, 8), accel=float("nan")), r"accel=nan"),
        (lambda: MRI((8, 8), accel="fast"), r"accel='fast'"),
        (lambda: MRI((8, 8), center_fraction=0), r"center_fraction=0 .*\(0, 1\]"),
        (lambda: MRI((8, 8), center_fraction=1.5), r"center_fraction=1\.5"),
        (lambda: MRI((8, 8), mask="poisson"), r"mask='poisson'.*'equispaced' or 'random'"),
        (lambda: MRI((8, 8), seed=-1), r"seed=-1"),
        (lambda: MRI((8, 8), seed=1.5), r"seed=1\.5"),
        (lambda: MRI((8, 8, 2)), r"shape=\(8, 8, 2\) must be 2-D"),
        (lambda: MRI((8,)), r"shape=\(8,\) must be 2-D"),
        (lambda: MRI((8, 0)), r"shape=\(8, 0\).*positive integers"),
        (lambda: MRI((8, 6.5)), r"shape=\(8, 6\.5\).*positive integers"),
        (lambda: SuperResolution((8, 8), 0), r"scale=0"),
        (lambda: SuperResolution((8, 8), 2.0), r"scale=2\.0"),
        (lambda: SuperResolution((8, 8, 8), 2), r"shape=\(8, 8, 8\) must be 2-D"),
        (lambda: Denoise((3, -1)), r"shape=\(3, -1\)"),
        (lambda: Denoise(()), r"shape=\(\)"),
        (lambda: Denoise("abc"), r"shape='abc'"),
    ],
)
def test_bad_inputs_one_line_value_error(build, match):
    with pytest.raises(ValueError, match=match) as e:
        build()
    assert "\n" not in str(e.value)


def test_operators_are_frozen_and_hashable():
    op = MRI((8, 8))
    with pytest.raises(AttributeError):
        op.accel = 2.0  # type: ignore[misc]
    op.mask_columns()  # populates the cache; equality and hashing must ignore it
    assert hash(op) == hash(MRI((8, 8))) and op == MRI((8, 8))
