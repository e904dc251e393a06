"""Tests of empirical.operators (torch operators against the theory specs) and empirical.tasks (Task.corrupt)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F

import empirical.tasks as tasks_module
from empirical.operators import TorchOperator, coil_sensitivities, fft2c, ifft2c
from empirical.tasks import TASK_NAMES, Task, example_generator, make_task
from theory import MRI, Denoise, SuperResolution
from tests.helpers import raises_one_line

SHAPES = [(7, 9), (8, 8), (9, 7), (8, 16)]


def _specs() -> list:
    specs: list = [Denoise(s) for s in SHAPES]
    for shape in SHAPES:
        for mask in ("equispaced", "random"):
            for accel in (1.0, 2.0, 4.0):
                for seed in (0, 3):
                    specs.append(MRI(shape, accel=accel, center_fraction=0.25, mask=mask, seed=seed))
    specs += [SuperResolution(s, k) for s, k in [((8, 8), 2), ((6, 9), 3), ((12, 8), 4), ((4, 6), 1)]]
    return specs


SPECS = _specs()
SPEC_IDS = [repr(s) for s in SPECS]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(b: int, c: int, h: int, w: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return torch.rand((b, c, h, w), generator=_gen(seed), dtype=dtype)


# --------------------------------------------------------------------------- TorchOperator vs theory


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_torch_operator_matches_theory(spec, rng):
    op = TorchOperator.from_spec(spec)
    assert (op.n, op.m) == (spec.n, spec.m)
    x = rng.standard_normal((3, spec.n))
    y = rng.standard_normal((3, spec.m))
    fx = op.forward(torch.from_numpy(x))
    aty = op.adjoint(torch.from_numpy(y))
    assert fx.dtype == aty.dtype == torch.float64
    assert fx.shape == (3, spec.m) and aty.shape == (3, spec.n)
    np.testing.assert_allclose(fx.numpy(), spec.forward(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(aty.numpy(), spec.adjoint(y), rtol=0, atol=1e-12)
    # unbatched vectors and extra batch axes work too
    np.testing.assert_allclose(op.forward(torch.from_numpy(x[0])).numpy(), spec.forward(x[0]), atol=1e-12)
    np.testing.assert_allclose(
        op.adjoint(torch.from_numpy(y.reshape(3, 1, -1))).numpy(), spec.adjoint(y).reshape(3, 1, -1), atol=1e-12
    )


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_torch_adjoint_identity(spec, rng):
    op = TorchOperator.from_spec(spec)
    x = torch.from_numpy(rng.standard_normal((4, spec.n)))
    y = torch.from_numpy(rng.standard_normal((4, spec.m)))
    lhs = (op.forward(x) * y).sum(-1)
    rhs = (x * op.adjoint(y)).sum(-1)
    scale = op.forward(x).norm(dim=-1) * y.norm(dim=-1)
    assert torch.all((lhs - rhs).abs() <= 1e-12 * scale.clamp_min(1.0))


@pytest.mark.parametrize("spec", [s for s in SPECS if isinstance(s, MRI)][:12])
def test_autograd_of_forward_is_the_adjoint(spec, rng):
    op = TorchOperator.from_spec(spec)
    x = torch.from_numpy(rng.standard_normal(spec.n)).requires_grad_(True)
    y = torch.from_numpy(rng.standard_normal(spec.m))
    (op.forward(x) * y).sum().backward()
    torch.testing.assert_close(x.grad, op.adjoint(y), rtol=0, atol=1e-12)


def test_mri_zero_filled_and_sr_upsample_match_theory(rng):
    for mask in ("equispaced", "random"):
        spec = MRI((7, 9), accel=2, mask=mask, seed=5)
        y = rng.standard_normal((2, spec.m))
        got = TorchOperator.from_spec(spec).zero_filled(torch.from_numpy(y))
        np.testing.assert_allclose(got.numpy(), spec.zero_filled(y), atol=1e-12)
    sr = SuperResolution((6, 9), 3)
    y = rng.standard_normal((2, sr.m))
    np.testing.assert_allclose(
        TorchOperator.from_spec(sr).upsample(torch.from_numpy(y)).numpy(), sr.upsample(y), atol=0
    )


def test_from_describe_dict_and_json_round_trip(rng):
    spec = MRI((8, 8), accel=4, mask="random", seed=11)
    op = TorchOperator.from_spec(json.loads(json.dumps(spec.describe())))
    assert op.spec == spec
    assert torch.equal(op._columns, torch.from_numpy(np.flatnonzero(spec.mask_columns())))
    x = rng.standard_normal((2, spec.n))
    np.testing.assert_allclose(op.forward(torch.from_numpy(x)).numpy(), spec.forward(x), atol=1e-12)


def test_float32_operator_close_to_theory(rng):
    spec = MRI((8, 16), accel=4, mask="equispaced", seed=2)
    op = TorchOperator.from_spec(spec, dtype=torch.float32)
    x = rng.standard_normal((2, spec.n))
    out = op.forward(torch.from_numpy(x).float())
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), spec.forward(x), atol=1e-5)


def test_fft2c_is_unitary_and_centred(rng):
    img = torch.from_numpy(rng.standard_normal((2, 7, 8)))
    k = fft2c(img)
    torch.testing.assert_close(k.abs().square().sum((-2, -1)), img.square().sum((-2, -1)))
    torch.testing.assert_close(ifft2c(k).real, img)
    const = torch.ones(7, 8, dtype=torch.float64)
    kc = fft2c(const)
    assert kc.abs().argmax() == 3 * 8 + 4  # DC at (h//2, w//2)


def test_torch_operator_bad_inputs():
    op = TorchOperator.from_spec(MRI((8, 8)))
    raises_one_line(lambda: TorchOperator.from_spec("mri"), "theory operator")
    raises_one_line(lambda: TorchOperator.from_spec(Denoise((4, 4)), dtype=torch.float16), "dtype")
    raises_one_line(lambda: op.forward(torch.zeros(3, 63, dtype=torch.float64)), "x has shape")
    raises_one_line(lambda: op.forward(torch.zeros(3, 64, dtype=torch.float32)), "dtype")
    raises_one_line(lambda: op.adjoint(torch.zeros(3, 5, dtype=torch.float64)), "y has shape")
    raises_one_line(lambda: op.forward(torch.zeros(64, dtype=torch.complex128)), "complex")
    raises_one_line(lambda: op.forward(np.zeros(64)), "torch.Tensor")
    raises_one_line(lambda: op.upsample(torch.zeros(op.m, dtype=torch.float64)), "super-resolution")
    raises_one_line(
        lambda: TorchOperator.from_spec(Denoise((4, 4))).zero_filled(torch.zeros(16, dtype=torch.float64)), "MRI"
    )


# --------------------------------------------------------------------------- Task: construction


def test_make_task_describe_round_trip():
    for task in [
        make_task("denoise", sigma=0.1),
        make_task("mri", accel=8, center_fraction=0.04, mask="random", complex_input=True),
        make_task("sr", scale=4, sr_kernel="bicubic", sigma=0.0),
    ]:
        d = json.loads(json.dumps(task.describe()))
        assert make_task(**d) == task
        assert d["name"] == task.name
    assert make_task("denoise").describe() == {"name": "denoise", "sigma": 25 / 255}
    assert set(make_task("mri").describe()) == {"name", "sigma", "accel", "center_fraction", "mask", "complex_input"}
    assert set(make_task("sr").describe()) == {"name", "sigma", "scale", "sr_kernel"}
    assert TASK_NAMES == ("denoise", "mri", "sr")


def test_make_task_accepts_a_flat_row_with_default_foreign_fields():
    row = {
        "sigma": 0.1,
        "accel": 4.0,
        "center_fraction": 0.08,
        "mask": "equispaced",
        "complex_input": False,
        "scale": 2,
        "sr_kernel": "block",
    }
    for name in TASK_NAMES:
        task = make_task(name, **row)
        assert task == make_task(name, **{k: row[k] for k in task.describe() if k != "name"})


def test_task_is_frozen_and_normalised():
    t = Task("mri", accel=4, sigma=np.float32(0.5))
    assert isinstance(t.accel, float) and isinstance(t.sigma, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.sigma = 0.0  # type: ignore[misc]


def test_channels():
    assert make_task("denoise").in_channels(3) == 3 and make_task("denoise").out_channels(3) == 3
    assert make_task("sr").in_channels(1) == 1 and make_task("sr").out_channels(3) == 3
    assert make_task("mri").in_channels(1) == 1 and make_task("mri").out_channels(1) == 1
    assert make_task("mri", complex_input=True).in_channels(1) == 2


def test_operator_spec():
    assert make_task("denoise").operator_spec((8, 8)) == Denoise((8, 8))
    assert make_task("sr", scale=4).operator_spec((8, 12)) == SuperResolution((8, 12), 4)
    t = make_task("mri", accel=8, mask="random")
    assert t.operator_spec((8, 16)) == MRI((8, 16), accel=8, mask="random", seed=0)
    assert t.operator_spec((8, 16), example_id=42).seed == 42
    raises_one_line(lambda: make_task("sr", sr_kernel="bicubic").operator_spec((8, 8)), "no theory operator")
    raises_one_line(lambda: t.operator_spec((8, 16), example_id=-1), "non-negative")


# --------------------------------------------------------------------------- Task.corrupt


@pytest.mark.parametrize(
    "task, c, in_c",
    [
        (make_task("denoise"), 3, 3),
        (make_task("denoise"), 1, 1),
        (make_task("mri"), 1, 1),
        (make_task("mri", complex_input=True, mask="random"), 1, 2),
        (make_task("sr", scale=2), 3, 3),
        (make_task("sr", scale=4, sr_kernel="bicubic"), 3, 3),
        (make_task("sr", scale=4, sr_kernel="bicubic"), 1, 1),
    ],
    ids=repr,
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_corrupt_shapes_and_channels(task, c, in_c, dtype):
    x = _images(2, c, 16, 24, dtype=dtype)
    inp, target = task.corrupt(x, generator=_gen(0))
    assert inp.shape == (2, in_c, 16, 24) and in_c == task.in_channels(c)
    assert target.shape == (2, task.out_channels(c), 16, 24)
    assert target is x
    assert inp.dtype == dtype and inp.device == x.device
    assert torch.isfinite(inp).all()


def test_denoise_noise_statistics():
    sigma = 25 / 255
    x = _images(4, 3, 64, 64)
    inp, _ = make_task("denoise", sigma=sigma).corrupt(x, generator=_gen(1))
    noise = inp - x
    assert abs(noise.std().item() / sigma - 1) < 0.02
    assert abs(noise.mean().item()) < 4 * sigma / noise.numel() ** 0.5


def test_noise_scales_with_sigma_from_the_same_draw():
    x = _images(2, 1, 16, 16)
    for name in TASK_NAMES:
        kw = {"complex_input": True} if name == "mri" else {}  # |z| is not linear in the noise
        a, _ = make_task(name, sigma=0.1, **kw).corrupt(x, generator=_gen(3))
        b, _ = make_task(name, sigma=0.3, **kw).corrupt(x, generator=_gen(3))
        c0, _ = make_task(name, sigma=0.0, **kw).corrupt(x, generator=_gen(3))
        torch.testing.assert_close(b - c0, 3 * (a - c0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(7, 9), (8, 8)])
@pytest.mark.parametrize("mask", ["equispaced", "random"])
def test_mri_full_sampling_is_lossless(shape, mask):
    x = _images(3, 1, *shape)
    inp, _ = make_task("mri", sigma=0.0, accel=1, mask=mask).corrupt(x, generator=_gen(0))
    torch.testing.assert_close(inp, x, rtol=0, atol=1e-12)
    inp_c, _ = make_task("mri", sigma=0.0, accel=1, mask=mask, complex_input=True).corrupt(x, generator=_gen(0))
    torch.testing.assert_close(inp_c[:, :1], x, rtol=0, atol=1e-12)
    torch.testing.assert_close(inp_c[:, 1:], torch.zeros_like(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(7, 9), (8, 8), (16, 20)])
@pytest.mark.parametrize("mask", ["equispaced", "random"])
def test_mri_zero_filled_input_matches_theory(shape, mask):
    task = make_task("mri", sigma=0.0, accel=2, center_fraction=0.2, mask=mask, complex_input=True)
    x = _images(3, 1, *shape)
    ids = torch.tensor([0, 5, 17])
    inp, _ = task.corrupt(x, generator=_gen(0), example_ids=ids)
    mag, _ = make_task("mri", sigma=0.0, accel=2, center_fraction=0.2, mask=mask).corrupt(
        x, generator=_gen(0), example_ids=ids
    )
    for b, i in enumerate(ids.tolist()):
        spec = task.operator_spec(shape, example_id=i)
        xf = x[b, 0].numpy().reshape(-1)
        z = spec.zero_filled(spec.forward(xf))
        np.testing.assert_allclose(inp[b, 0].numpy(), z.real, atol=1e-12)
        np.testing.assert_allclose(inp[b, 1].numpy(), z.imag, atol=1e-12)
        np.testing.assert_allclose(mag[b, 0].numpy(), np.abs(z), atol=1e-12)
        # the real part is the theory's adjoint of the measurements
        np.testing.assert_allclose(inp[b, 0].numpy().reshape(-1), spec.adjoint(spec.forward(xf)), atol=1e-12)
    # without ids every example uses the spec's seed-0 mask
    inp0, _ = task.corrupt(x, generator=_gen(0))
    spec0 = task.operator_spec(shape)
    for b in range(3):
        z = spec0.zero_filled(spec0.forward(x[b, 0].numpy().reshape(-1)))
        np.testing.assert_allclose(inp0[b, 0].numpy(), z.real, atol=1e-12)


def test_mri_noise_only_on_sampled_columns_with_sigma_per_component():
    sigma = 0.2
    task = make_task("mri", sigma=sigma, accel=4, mask="random", complex_input=True)
    x = torch.zeros(8, 1, 32, 32, dtype=torch.float64)
    ids = torch.arange(8)
    inp, _ = task.corrupt(x, generator=_gen(4), example_ids=ids)
    k = fft2c(torch.complex(inp[:, 0], inp[:, 1]))  # (B, h, w)
    masks = task.column_masks((32, 32), ids)
    sampled = masks[:, None, :].expand_as(k)
    assert k[~sampled].abs().max() < 1e-12
    vals = k[sampled]
    for part in (vals.real, vals.imag):
        assert abs(part.std().item() / sigma - 1) < 0.05


def test_per_example_masks_differ_and_are_reproducible():
    for mask in ("equispaced", "random"):
        task = make_task("mri", mask=mask, accel=4)
        ids = torch.arange(16)
        m1 = task.column_masks((16, 32), ids)
        m2 = task.column_masks((16, 32), ids.flip(0)).flip(0)
        assert m1.dtype == torch.bool and m1.shape == (16, 32)
        assert torch.equal(m1, m2)
        assert len({tuple(r.tolist()) for r in m1}) > 1
        for i in ids.tolist():
            assert np.array_equal(m1[i].numpy(), task.operator_spec((16, 32), example_id=i).mask_columns())
        assert torch.equal(task.column_masks((16, 32), batch_size=3), m1[:1].expand(3, -1))
    rnd = make_task("mri", mask="random")
    assert not torch.equal(*rnd.column_masks((16, 32), torch.tensor([0, 1])))
    ro = np.arange(16)
    ro.setflags(write=False)  # read-only numpy ids are accepted without a warning
    assert torch.equal(make_task("mri").column_masks((16, 32), ro), make_task("mri").column_masks((16, 32), ids))
    # same image, different ids -> different input; same id -> same input (sigma = 0)
    task = make_task("mri", sigma=0.0, mask="random")
    x = _images(1, 1, 16, 32).expand(3, 1, 16, 32)
    inp, _ = task.corrupt(x, generator=_gen(0), example_ids=torch.tensor([0, 1, 0]))
    assert torch.equal(inp[0], inp[2]) and not torch.allclose(inp[0], inp[1])


@pytest.mark.parametrize("shape, scale", [((8, 8), 2), ((12, 9), 3), ((16, 16), 4)])
def test_sr_block_input_is_replicated_block_mean(shape, scale):
    task = make_task("sr", sigma=0.0, scale=scale)
    x = _images(2, 3, *shape)
    inp, _ = task.corrupt(x, generator=_gen(0))
    expected = F.interpolate(F.avg_pool2d(x, scale), scale_factor=scale, mode="nearest")
    torch.testing.assert_close(inp, expected, rtol=0, atol=1e-12)
    spec = task.operator_spec(shape)
    for b in range(2):
        for c in range(3):
            xf = x[b, c].numpy().reshape(-1)
            np.testing.assert_allclose(inp[b, c].numpy().reshape(-1), spec.upsample(spec.forward(xf)), atol=1e-12)


def test_sr_block_noise_is_per_low_res_pixel():
    sigma = 0.1
    x = _images(4, 3, 32, 32)
    clean, _ = make_task("sr", sigma=0.0).corrupt(x, generator=_gen(0))
    noisy, _ = make_task("sr", sigma=sigma).corrupt(x, generator=_gen(0))
    d = noisy - clean
    low = d[..., ::2, ::2]
    torch.testing.assert_close(d, low.repeat_interleave(2, 2).repeat_interleave(2, 3), rtol=0, atol=0)
    assert abs(low.std().item() / sigma - 1) < 0.05


def test_sr_bicubic():
    x = _images(2, 3, 16, 16)
    inp, _ = make_task("sr", sigma=0.0, sr_kernel="bicubic").corrupt(x, generator=_gen(0))
    low = F.interpolate(x, size=(8, 8), mode="bicubic", antialias=True, align_corners=False)
    torch.testing.assert_close(
        inp, F.interpolate(low, size=(16, 16), mode="bicubic", antialias=True), rtol=0, atol=1e-12
    )
    const = torch.full((1, 1, 16, 16), 0.3, dtype=torch.float64)
    out, _ = make_task("sr", sigma=0.0, sr_kernel="bicubic", scale=4).corrupt(const, generator=_gen(0))
    torch.testing.assert_close(out, const, rtol=0, atol=1e-12)
    assert not torch.allclose(inp, make_task("sr", sigma=0.0).corrupt(x, generator=_gen(0))[0])


@pytest.mark.parametrize(
    "task",
    [make_task("denoise"), make_task("mri", mask="random"), make_task("sr"), make_task("sr", sr_kernel="bicubic")],
    ids=repr,
)
def test_generator_reproducibility(task):
    c = 1 if task.name == "mri" else 3
    x = _images(2, c, 16, 16)
    ids = torch.tensor([3, 4]) if task.name == "mri" else None
    a, _ = task.corrupt(x, generator=_gen(7), example_ids=ids)
    b, _ = task.corrupt(x, generator=_gen(7), example_ids=ids)
    other, _ = task.corrupt(x, generator=_gen(8), example_ids=ids)
    assert torch.equal(a, b)
    assert not torch.allclose(a, other)
    # a running generator resamples the noise every call
    g = _gen(7)
    first, _ = task.corrupt(x, generator=g)
    second, _ = task.corrupt(x, generator=g)
    assert not torch.allclose(first, second)


def test_corrupt_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    for name in TASK_NAMES:
        make_task(name).corrupt(_images(2, 1, 8, 8), generator=_gen(0))
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("name", TASK_NAMES)
def test_corrupt_fixed_is_independent_of_batching(name):
    task = make_task(name)
    x = _images(5, 1, 16, 16)
    nids = torch.tensor([10, 11, 12, 13, 14])
    full, target = task.corrupt_fixed(x, seed=3, noise_ids=nids, example_ids=nids)
    assert target is x and full.shape == (5, task.in_channels(1), 16, 16)
    perm = torch.tensor([4, 2, 0, 3, 1])
    shuffled, _ = task.corrupt_fixed(x[perm], seed=3, noise_ids=nids[perm], example_ids=nids[perm])
    assert torch.equal(shuffled, full[perm])
    single, _ = task.corrupt_fixed(x[2:3], seed=3, noise_ids=nids[2:3], example_ids=nids[2:3])
    assert torch.equal(single, full[2:3])
    again, _ = task.corrupt_fixed(x, seed=3, noise_ids=nids, example_ids=nids)
    assert torch.equal(again, full)
    other_seed, _ = task.corrupt_fixed(x, seed=4, noise_ids=nids, example_ids=nids)
    assert not torch.allclose(other_seed, full)
    # the same image under two noise ids gets two different noise draws
    same = x[:1].expand(2, 1, 16, 16)
    two, _ = task.corrupt_fixed(same, seed=3, noise_ids=torch.tensor([0, 1]))
    assert not torch.allclose(two[0], two[1])
    # each image is corrupt() of it under its own example_generator (denoise takes a batched shortcut)
    for i, nid in enumerate(nids.tolist()):
        one, _ = task.corrupt(x[i:i + 1], generator=example_generator(3, nid), example_ids=nids[i:i + 1])
        assert torch.equal(one, full[i:i + 1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kw", [*({"name": n} for n in TASK_NAMES), {"name": "mri", "coils": 4}])
def test_cpu_generator_gives_the_same_noise_on_cuda(kw):
    task = make_task(sigma=0.1, **kw)
    x = _images(2, 1, 16, 16)
    cpu, _ = task.corrupt(x, generator=_gen(0))
    gpu, _ = task.corrupt(x.cuda(), generator=_gen(0))
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Task("deblur"), "unknown"),
        (lambda: make_task("deblur"), "unknown"),
        (lambda: make_task("denoise", accel=8), "applies to task 'mri' only"),
        (lambda: make_task("denoise", acceleration=8), "unknown field"),
        (lambda: Task("denoise", accel=8), "applies to task 'mri' only"),
        (lambda: Task("mri", scale=3), "applies to task 'sr' only"),
        (lambda: make_task("denoise", sigma=-0.1), "sigma"),
        (lambda: make_task("denoise", sigma=float("nan")), "sigma"),
        (lambda: make_task("mri", accel=0.5), "accel"),
        (lambda: make_task("mri", center_fraction=0.0), "center_fraction"),
        (lambda: make_task("mri", mask="radial"), "mask"),
        (lambda: make_task("mri", complex_input="yes"), "complex_input"),
        (lambda: make_task("sr", scale=0), "scale"),
        (lambda: make_task("sr", scale=2.5), "scale"),
        (lambda: make_task("sr", sr_kernel="lanczos"), "sr_kernel"),
        (lambda: make_task("mri").in_channels(3), "single-channel"),
        (lambda: make_task("denoise").in_channels(0), "image_channels"),
        (lambda: make_task("mri").corrupt(_images(2, 3, 8, 8), generator=_gen(0)), "single-channel"),
        (lambda: make_task("sr", scale=3).corrupt(_images(1, 3, 8, 9), generator=_gen(0)), "not divisible"),
        (
            lambda: make_task("sr", scale=3, sr_kernel="bicubic").corrupt(_images(1, 3, 9, 8), generator=_gen(0)),
            "not divisible",
        ),
        (lambda: make_task("denoise").corrupt(_images(1, 1, 8, 8)[0], generator=_gen(0)), r"\(B, C, H, W\)"),
        (lambda: make_task("denoise").corrupt(torch.zeros(1, 1, 8, 8, dtype=torch.int64), generator=_gen(0)), "dtype"),
        (lambda: make_task("denoise").corrupt(_images(1, 1, 8, 8), generator=0), "torch.Generator"),
        (
            lambda: make_task("mri").corrupt(_images(2, 1, 8, 8), generator=_gen(0), example_ids=torch.tensor([1])),
            "example_ids has shape",
        ),
        (
            lambda: make_task("mri").corrupt(_images(2, 1, 8, 8), generator=_gen(0), example_ids=torch.tensor([1, -1])),
            "negative",
        ),
        (
            lambda: make_task("mri").corrupt(
                _images(2, 1, 8, 8), generator=_gen(0), example_ids=torch.tensor([0.0, 1.0])
            ),
            "integer",
        ),
        (lambda: make_task("denoise").corrupt_fixed(_images(2, 1, 8, 8), seed=-1, noise_ids=[0, 1]), "seed"),
        (lambda: make_task("denoise").corrupt_fixed(_images(2, 1, 8, 8), seed=0, noise_ids=[0]), "noise_ids"),
        (lambda: make_task("denoise").column_masks((8, 8)), "mri"),
    ],
)
def test_bad_inputs_one_line_value_error(build, match):
    raises_one_line(build, match)


# --------------------------------------------------------------------------- simulated multi-coil MRI

def _spy_kspace(monkeypatch) -> list:
    """Record the k-space handed to ifft2c inside Task.corrupt (the per-coil measurements)."""
    seen: list = []
    real_ifft2c = tasks_module.ifft2c

    def spy(ksp):
        seen.append(ksp.clone())
        return real_ifft2c(ksp)

    monkeypatch.setattr(tasks_module, "ifft2c", spy)
    return seen


@pytest.mark.parametrize("coils", [2, 4, 8])
@pytest.mark.parametrize("shape", [(16, 16), (9, 14)])
def test_coil_maps_are_normalised_smooth_and_deterministic(coils, shape):
    maps = coil_sensitivities(coils, shape)
    assert maps.shape == (coils, *shape) and maps.dtype == torch.complex128
    torch.testing.assert_close(maps.abs().square().sum(0), torch.ones(shape, dtype=torch.float64), rtol=0, atol=1e-12)
    assert torch.equal(coil_sensitivities(coils, shape), maps)  # deterministic
    maps[0] = 0  # a copy: the cache is untouched
    again = coil_sensitivities(coils, shape)
    torch.testing.assert_close(again.abs().square().sum(0), torch.ones(shape, dtype=torch.float64), rtol=0, atol=1e-12)
    # the coils see different parts of the image, smoothly (small neighbour differences)
    assert all(not torch.allclose(again[0].abs(), again[c].abs()) for c in range(1, coils))
    assert (again[..., 1:] - again[..., :-1]).abs().max() < 0.5
    assert (again[..., 1:, :] - again[..., :-1, :]).abs().max() < 0.5
    m32 = coil_sensitivities(coils, shape, dtype=torch.complex64)
    assert m32.dtype == torch.complex64
    torch.testing.assert_close(m32, again.to(torch.complex64))


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize("mask", ["equispaced", "random"])
def test_multicoil_full_sampling_rss_is_the_image(dtype, atol, mask):
    x = _images(3, 1, 12, 10, dtype=dtype)
    for coils in (2, 5):
        task = make_task("mri", sigma=0.0, accel=1, mask=mask, coils=coils)
        inp, target = task.corrupt(x, generator=_gen(0), example_ids=torch.tensor([0, 1, 2]))
        assert inp.shape == (3, 1, 12, 10) and inp.dtype == dtype and target is x
        torch.testing.assert_close(inp, x, rtol=0, atol=atol)


def test_multicoil_measurements_are_masked_coil_kspace(monkeypatch):
    task = make_task("mri", sigma=0.0, accel=4, center_fraction=0.2, mask="random", coils=4)
    x = _images(3, 1, 16, 16)
    ids = torch.tensor([2, 7, 9])
    seen = _spy_kspace(monkeypatch)
    inp, _ = task.corrupt(x, generator=_gen(0), example_ids=ids)
    (k,) = seen
    assert k.shape == (3, 4, 16, 16)
    maps = coil_sensitivities(4, (16, 16))
    masks = task.column_masks((16, 16), ids)
    expected = fft2c(maps * x) * masks[:, None, None, :]
    torch.testing.assert_close(k, expected, rtol=0, atol=1e-12)
    rss = ifft2c(expected).abs().square().sum(1, keepdim=True).sqrt()
    torch.testing.assert_close(inp, rss, rtol=0, atol=1e-12)


def test_multicoil_noise_only_on_sampled_entries_per_coil_and_masks_shared(monkeypatch):
    sigma, coils = 0.2, 4
    task = make_task("mri", sigma=sigma, accel=4, mask="random", coils=coils)
    x = torch.zeros(8, 1, 32, 32, dtype=torch.float64)
    ids = torch.arange(8)
    seen = _spy_kspace(monkeypatch)
    task.corrupt(x, generator=_gen(4), example_ids=ids)
    (k,) = seen  # pure noise, (B, coils, h, w)
    masks = task.column_masks((32, 32), ids)
    assert len({tuple(r.tolist()) for r in masks}) > 1  # per-example masks differ ...
    for c in range(coils):  # ... and every coil of an example uses that example's mask
        sampled_cols = (k[:, c].abs() > 0).all(dim=1)  # (B, w): every row nonzero on sampled columns
        assert torch.equal(sampled_cols, masks)
        sampled = masks[:, None, :].expand(8, 32, 32)
        assert k[:, c][~sampled].abs().max() == 0
        vals = k[:, c][sampled]
        for part in (vals.real, vals.imag):
            assert abs(part.std().item() / sigma - 1) < 0.06
    # independent noise across coils
    sampled = masks[:, None, :].expand(8, 32, 32)
    a, b = k[:, 0][sampled], k[:, 1][sampled]
    assert abs(torch.corrcoef(torch.stack([a.real, b.real]))[0, 1].item()) < 0.05


def test_multicoil_noise_scales_with_sigma_from_the_same_draw(monkeypatch):
    x = _images(2, 1, 16, 16)
    seen = _spy_kspace(monkeypatch)
    for sigma in (0.1, 0.3, 0.0):
        make_task("mri", sigma=sigma, coils=3).corrupt(x, generator=_gen(3))
    k1, k3, k0 = seen
    torch.testing.assert_close(k3 - k0, 3 * (k1 - k0), rtol=0, atol=1e-12)


def test_coils_1_is_the_single_coil_task():
    x = _images(3, 1, 16, 16)
    ids = torch.tensor([0, 4, 8])
    for kw in ({}, {"mask": "random", "accel": 8.0}, {"complex_input": True}):
        single, explicit = make_task("mri", **kw), make_task("mri", coils=1, **kw)
        assert explicit == single and explicit.describe() == single.describe() and "coils" not in single.describe()
        a, _ = single.corrupt(x, generator=_gen(5), example_ids=ids)
        b, _ = explicit.corrupt(x, generator=_gen(5), example_ids=ids)
        assert torch.equal(a, b)
        fa, _ = single.corrupt_fixed(x, seed=1, noise_ids=ids, example_ids=ids)
        fb, _ = explicit.corrupt_fixed(x, seed=1, noise_ids=ids, example_ids=ids)
        assert torch.equal(fa, fb)


def test_multicoil_rss_differs_from_single_coil_when_undersampled():
    x = _images(2, 1, 16, 16)
    single, _ = make_task("mri", sigma=0.0, accel=4).corrupt(x, generator=_gen(0))
    multi, _ = make_task("mri", sigma=0.0, accel=4, coils=4).corrupt(x, generator=_gen(0))
    assert multi.shape == single.shape == (2, 1, 16, 16)
    assert (multi - single).abs().max() > 1e-3
    # the single-coil magnitude zero-filled image is the RSS with one uniform coil, not these coils
    assert (multi - x).abs().mean() > 1e-3


def test_multicoil_task_fields_describe_and_reproducibility():
    task = make_task("mri", coils=np.int64(8), accel=4, sigma=0.05)
    assert task.coils == 8 and type(task.coils) is int
    d = json.loads(json.dumps(task.describe()))
    assert d["coils"] == 8 and make_task(**d) == task
    assert task.in_channels(1) == 1 and task.out_channels(1) == 1
    row = {"sigma": 0.1, "accel": 4.0, "center_fraction": 0.08, "mask": "equispaced", "complex_input": False,
           "coils": 1, "scale": 2, "sr_kernel": "block"}
    for name in TASK_NAMES:  # a flat row with the default coils builds every task
        assert make_task(name, **row).name == name
    x = _images(2, 1, 16, 16, dtype=torch.float32)
    state = torch.random.get_rng_state()
    a, _ = task.corrupt(x, generator=_gen(7), example_ids=torch.tensor([1, 2]))
    b, _ = task.corrupt(x, generator=_gen(7), example_ids=torch.tensor([1, 2]))
    c, _ = task.corrupt(x, generator=_gen(8), example_ids=torch.tensor([1, 2]))
    assert torch.equal(state, torch.random.get_rng_state())
    assert a.dtype == torch.float32 and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert torch.equal(task.column_masks((16, 16), torch.tensor([3])), make_task("mri").column_masks((16, 16), [3]))


def test_multicoil_corrupt_fixed_is_independent_of_batching():
    task = make_task("mri", coils=4, mask="random")
    x = _images(4, 1, 16, 16)
    nids = torch.tensor([10, 11, 12, 13])
    full, target = task.corrupt_fixed(x, seed=3, noise_ids=nids, example_ids=nids)
    assert target is x and full.shape == (4, 1, 16, 16)
    perm = torch.tensor([3, 1, 0, 2])
    shuffled, _ = task.corrupt_fixed(x[perm], seed=3, noise_ids=nids[perm], example_ids=nids[perm])
    assert torch.equal(shuffled, full[perm])
    single, _ = task.corrupt_fixed(x[1:2], seed=3, noise_ids=nids[1:2], example_ids=nids[1:2])
    assert torch.equal(single, full[1:2])
    assert not torch.allclose(task.corrupt_fixed(x, seed=4, noise_ids=nids, example_ids=nids)[0], full)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: make_task("mri", coils=0), "coils=0 must be a positive integer"),
        (lambda: make_task("mri", coils=-2), "coils=-2 must be a positive integer"),
        (lambda: make_task("mri", coils=2.5), "coils=2.5 must be an integer"),
        (lambda: make_task("mri", coils=4.0), "coils=4.0 must be an integer"),
        (lambda: make_task("mri", coils=True), "coils=True must be an integer"),
        (lambda: make_task("mri", coils="8"), "must be an integer"),
        (lambda: make_task("denoise", coils=8), "coils=8 applies to task 'mri' only"),
        (lambda: make_task("sr", coils=2), "coils=2 applies to task 'mri' only"),
        (lambda: Task("denoise", coils=0), "coils=0 must be a positive integer"),
        (lambda: make_task("mri", coils=4, complex_input=True), "complex_input=True is single-coil only"),
        (lambda: make_task("mri", coils=4).operator_spec((8, 8)), "no theory operator"),
        (lambda: make_task("mri", coils=4).corrupt(_images(1, 2, 8, 8), generator=_gen(0)), "single-channel"),
        (lambda: coil_sensitivities(0, (8, 8)), "coils=0"),
        (lambda: coil_sensitivities(2, (8,)), "shape"),
        (lambda: coil_sensitivities(2, (8, 8), dtype=torch.float32), "dtype"),
    ],
)
def test_multicoil_bad_inputs_one_line_value_error(build, match):
    raises_one_line(build, match)
