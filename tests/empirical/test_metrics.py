"""Tests of empirical.metrics: PSNR/SSIM/NMSE on known cases, against skimage, and conventions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skimage = pytest.importorskip("skimage")
from skimage.color import rgb2ycbcr
from skimage.data import astronaut, camera
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from empirical.metrics import (
    METRIC_CONVENTIONS,
    conventions,
    evaluate,
    nmse,
    psnr,
    rgb_to_y,
    ssim,
)
from empirical.tasks import make_task
from tests.helpers import raises_one_line


def _t(a: np.ndarray) -> torch.Tensor:
    """(H, W) -> (1, 1, H, W); (H, W, 3) -> (1, 3, H, W) float64 tensor."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2:
        return torch.from_numpy(a)[None, None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def _camera_crops(rng: np.random.Generator, n: int = 3, size=(48, 64)) -> list[np.ndarray]:
    img = camera().astype(np.float64) / 255
    out = []
    for _ in range(n):
        i = rng.integers(0, img.shape[0] - size[0])
        j = rng.integers(0, img.shape[1] - size[1])
        out.append(img[i : i + size[0], j : j + size[1]])
    return out


# --------------------------------------------------------------------------- PSNR


@pytest.mark.parametrize("e", [1e-3, 0.01, 0.1, 0.5])
def test_psnr_constant_error(e):
    target = torch.rand(3, 2, 10, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for sign in (1, -1):
        got = psnr(target + sign * e, target)
        assert got.shape == (3,) and got.dtype == torch.float64
        torch.testing.assert_close(got, torch.full((3,), 10 * math.log10(1 / e**2), dtype=torch.float64))
    got = psnr(255 * (target + e), 255 * target, data_range=255.0)
    torch.testing.assert_close(got, torch.full((3,), 10 * math.log10(1 / e**2), dtype=torch.float64))


def test_psnr_per_image_and_identical_is_inf():
    target = torch.zeros(3, 1, 8, 8, dtype=torch.float64)
    pred = target.clone()
    pred[1] += 0.1
    pred[2] += 0.01
    got = psnr(pred, target)
    assert math.isinf(got[0]) and got[0] > 0
    torch.testing.assert_close(got[1:], torch.tensor([20.0, 40.0], dtype=torch.float64))
    # a (B,) data range
    got = psnr(pred[1:], target[1:], data_range=torch.tensor([1.0, 10.0]))
    torch.testing.assert_close(got, torch.tensor([20.0, 60.0], dtype=torch.float64))


def test_psnr_matches_skimage(rng):
    for a in _camera_crops(rng):
        b = a + 0.05 * rng.standard_normal(a.shape)
        ref = peak_signal_noise_ratio(a, b, data_range=1.0)
        assert abs(psnr(_t(b), _t(a)).item() - ref) < 1e-10


def test_psnr_crop():
    target = torch.rand(2, 3, 16, 20, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pred = target.clone()
    pred[..., :2, :] += 0.3  # error only within a 2-pixel border
    pred[..., :, -2:] -= 0.3
    assert torch.isfinite(psnr(pred, target)).all()
    assert torch.isinf(psnr(pred, target, crop=2)).all()
    pred = target + 0.1 * torch.rand(target.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch.testing.assert_close(psnr(pred, target, crop=3), psnr(pred[..., 3:-3, 3:-3], target[..., 3:-3, 3:-3]))


def test_y_channel_conversion_matches_skimage_rgb2ycbcr(rng):
    rgb = rng.random((12, 10, 3))
    y = rgb_to_y(_t(rgb))
    assert y.shape == (1, 1, 12, 10)
    np.testing.assert_allclose(y[0, 0].numpy() * 255, rgb2ycbcr(rgb)[..., 0], atol=1e-10)
    # [16, 235]/255 range for black and white, on any data range
    bw = torch.stack([torch.zeros(3, 2, 2), torch.ones(3, 2, 2)]).double()
    torch.testing.assert_close(rgb_to_y(bw)[:, 0, 0, 0], torch.tensor([16 / 255, 235 / 255], dtype=torch.float64))
    torch.testing.assert_close(rgb_to_y(255 * bw, data_range=255.0), 255 * rgb_to_y(bw))


def test_psnr_y_channel():
    target = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    e = 0.02
    # equal error on R, G, B moves Y by e·(65.481 + 128.553 + 24.966)/255 = e·219/255
    expected = 10 * math.log10(1 / (e * 219 / 255) ** 2)
    torch.testing.assert_close(
        psnr(target + e, target, y_channel=True), torch.full((2,), expected, dtype=torch.float64)
    )
    torch.testing.assert_close(
        psnr(255 * (target + e), 255 * target, y_channel=True, data_range=255.0),
        torch.full((2,), expected, dtype=torch.float64),
    )
    # the SR convention on a natural image: Y of rgb2ycbcr on the 0-255 scale, border crop
    img = astronaut()[100:164, 200:280].astype(np.float64) / 255
    noisy = np.clip(img + 0.03 * np.random.default_rng(0).standard_normal(img.shape), 0, 1)
    ya, yb = rgb2ycbcr(img)[..., 0], rgb2ycbcr(noisy)[..., 0]
    ref = peak_signal_noise_ratio(ya[4:-4, 4:-4], yb[4:-4, 4:-4], data_range=255)
    assert abs(psnr(_t(noisy), _t(img), y_channel=True, crop=4).item() - ref) < 1e-10


# --------------------------------------------------------------------------- SSIM


@pytest.mark.parametrize("shape", [(7, 7), (16, 16), (33, 40), (40, 21)])
def test_ssim_matches_skimage_random(shape, rng):
    a = rng.random(shape)
    b = np.clip(a + 0.2 * rng.standard_normal(shape), 0, 1)
    c = rng.random(shape)
    for x, y in ((a, b), (a, c)):
        ref = structural_similarity(x, y, data_range=1.0)
        assert abs(ssim(_t(y), _t(x)).item() - ref) < 1e-10


def test_ssim_matches_skimage_camera(rng):
    crops = _camera_crops(rng, n=4)
    preds = []
    for k, a in enumerate(crops):
        noisy = a + 0.1 * rng.standard_normal(a.shape)
        blurred = 0.25 * (a + np.roll(a, 1, 0) + np.roll(a, 1, 1) + np.roll(a, (1, 1), (0, 1)))
        preds.append(noisy if k % 2 else blurred)
    target = torch.cat([_t(a) for a in crops])
    pred = torch.cat([_t(p) for p in preds])
    got = ssim(pred, target)
    assert got.shape == (4,)
    for k in range(4):
        assert abs(got[k].item() - structural_similarity(crops[k], preds[k], data_range=1.0)) < 1e-10
    # float32 inputs still agree to 1e-4
    got32 = ssim(pred.float(), target.float())
    for k in range(4):
        assert abs(got32[k].item() - structural_similarity(crops[k], preds[k], data_range=1.0)) < 1e-4


def test_ssim_rgb_data_range_gaussian_and_crop_match_skimage(rng):
    a = rng.random((20, 24, 3))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    ref = structural_similarity(a, b, data_range=1.0, channel_axis=2)
    assert abs(ssim(_t(b), _t(a)).item() - ref) < 1e-10
    ref = structural_similarity(255 * a, 255 * b, data_range=255.0, channel_axis=2)
    assert abs(ssim(_t(255 * b), _t(255 * a), data_range=255.0).item() - ref) < 1e-10
    for cov in (True, False):
        ref = structural_similarity(
            a, b, data_range=1.0, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=cov
        )
        got = ssim(_t(b), _t(a), gaussian_weights=True, use_sample_covariance=cov)
        assert abs(got.item() - ref) < 1e-10
    ref = structural_similarity(a[3:-3, 3:-3], b[3:-3, 3:-3], data_range=1.0, channel_axis=2)
    assert abs(ssim(_t(b), _t(a), crop=3).item() - ref) < 1e-10
    ya, yb = rgb2ycbcr(a)[..., 0], rgb2ycbcr(b)[..., 0]
    ref = structural_similarity(ya[2:-2, 2:-2], yb[2:-2, 2:-2], data_range=255.0)
    assert abs(ssim(_t(b), _t(a), y_channel=True, crop=2).item() - ref) < 1e-10


def test_ssim_identity_symmetry_and_gradient(rng):
    x = torch.from_numpy(rng.random((3, 2, 16, 16)))
    torch.testing.assert_close(ssim(x, x), torch.ones(3, dtype=torch.float64))
    y = (x + 0.1 * torch.from_numpy(rng.standard_normal(x.shape))).requires_grad_(True)
    torch.testing.assert_close(ssim(y, x), ssim(x, y))
    (1 - ssim(y, x)).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


# --------------------------------------------------------------------------- NMSE


def test_nmse():
    target = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 0.1
    torch.testing.assert_close(nmse(target, target), torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(nmse(torch.zeros_like(target), target), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(nmse(2 * target, target), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(nmse(1.1 * target, target), torch.full((3,), 0.01, dtype=torch.float64))
    pred = target + 0.05
    torch.testing.assert_close(nmse(7 * pred, 7 * target), nmse(pred, target))  # scale invariant
    manual = ((pred - target) ** 2).sum((1, 2, 3)) / (target**2).sum((1, 2, 3))
    torch.testing.assert_close(nmse(pred, target), manual)


# --------------------------------------------------------------------------- conventions


def test_conventions_per_task():
    assert set(METRIC_CONVENTIONS) == {"denoise", "mri", "sr"}
    sr = conventions(make_task("sr", scale=4))
    assert sr["task"] == "sr" and sr["crop"] == 4 and sr["y_channel"] is True
    assert conventions("sr")["crop"] == 2
    den = conventions(make_task("denoise"))
    assert den["crop"] == 0 and den["data_range"] == 1.0 and den["clamp"] == [0.0, 1.0] and not den["y_channel"]
    mri = conventions("mri")
    assert mri["data_range"] == "target_max" and "nmse" in mri["metrics"]
    assert den["ssim"]["win_size"] == 7 and den["ssim"]["K1"] == 0.01 and den["ssim"]["K2"] == 0.03
    for name in ("denoise", "mri", "sr"):
        c = conventions(name)
        assert json.loads(json.dumps(c)) == c
    sr["ssim"]["win_size"] = 99  # a copy: the module constant is untouched
    assert METRIC_CONVENTIONS["sr"]["ssim"]["win_size"] == 7
    raises_one_line(lambda: conventions("deblur"), "unknown")
    raises_one_line(lambda: conventions(3), "Task")


def test_evaluate_applies_conventions(rng):
    target = torch.from_numpy(rng.random((2, 3, 16, 16)))
    pred = target + 0.3 * torch.from_numpy(rng.standard_normal(target.shape))  # leaves [0, 1]
    out = evaluate(pred, target, make_task("denoise"))
    assert set(out) == {"psnr", "ssim"}
    torch.testing.assert_close(out["psnr"], psnr(pred.clamp(0, 1), target))
    torch.testing.assert_close(out["ssim"], ssim(pred.clamp(0, 1), target))
    out = evaluate(pred, target, make_task("sr", scale=2))
    torch.testing.assert_close(out["psnr"], psnr(pred.clamp(0, 1), target, crop=2, y_channel=True))
    torch.testing.assert_close(out["ssim"], ssim(pred.clamp(0, 1), target, crop=2, y_channel=True))
    grey = evaluate(pred[:, :1], target[:, :1], "sr")  # greyscale: no luma conversion
    torch.testing.assert_close(grey["psnr"], psnr(pred[:, :1].clamp(0, 1), target[:, :1], crop=2))
    mt, mp = 0.5 * target[:, :1], 0.5 * pred[:, :1]
    out = evaluate(mp, mt, "mri")
    assert set(out) == {"ssim", "psnr", "nmse"}
    maxval = mt.amax(dim=(1, 2, 3))
    torch.testing.assert_close(out["psnr"], psnr(mp, mt, data_range=maxval))  # not clamped
    torch.testing.assert_close(out["ssim"], ssim(mp, mt, data_range=maxval))
    torch.testing.assert_close(out["nmse"], nmse(mp, mt))
    for k in range(2):  # fastMRI: skimage with data_range = target max
        ref = structural_similarity(mt[k, 0].numpy(), mp[k, 0].numpy(), data_range=maxval[k].item())
        assert abs(out["ssim"][k].item() - ref) < 1e-10


def test_metrics_do_not_clamp():
    target = torch.full((1, 1, 8, 8), 0.5, dtype=torch.float64)
    over = target + 0.7  # 1.2, outside [0, 1]
    torch.testing.assert_close(psnr(over, target), torch.tensor([10 * math.log10(1 / 0.49)], dtype=torch.float64))


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9)), "pred has shape"),
        (lambda: psnr(torch.zeros(1, 8, 8), torch.zeros(1, 8, 8)), r"\(B, C, H, W\)"),
        (lambda: psnr(np.zeros((1, 1, 8, 8)), torch.zeros(1, 1, 8, 8)), "torch.Tensor"),
        (lambda: psnr(torch.zeros(1, 1, 8, 8, dtype=torch.int64), torch.zeros(1, 1, 8, 8)), "dtype"),
        (lambda: psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), data_range=0.0), "data_range"),
        (lambda: psnr(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8), data_range=torch.ones(3)), "data_range"),
        (lambda: psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), crop=4), "crop"),
        (lambda: psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), crop=-1), "crop"),
        (lambda: psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), y_channel=True), "RGB"),
        (lambda: ssim(torch.zeros(1, 1, 6, 8), torch.zeros(1, 1, 6, 8)), "win_size"),
        (lambda: ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), win_size=4), "odd"),
        (
            lambda: ssim(torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 16), gaussian_weights=True, win_size=7),
            "Gaussian",
        ),
        (lambda: ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), K1=-1.0), "K1"),
        (lambda: nmse(torch.zeros(1, 1, 8, 8), torch.zeros(2, 1, 8, 8)), "pred has shape"),
        (lambda: rgb_to_y(torch.zeros(1, 1, 8, 8)), "RGB"),
    ],
)
def test_bad_inputs_one_line_value_error(build, match):
    raises_one_line(build, match)
