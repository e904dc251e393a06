"""Image-quality metrics per image, in torch: PSNR, SSIM, NMSE, and the conventions per task.

All metrics take ``pred`` and ``target`` of shape (B, C, H, W), compute in float64 on the inputs'
device (differentiable, so ``1 − ssim`` can serve as a loss) and return one value per image,
shape (B,), float64.

Nothing is clamped or quantised here: a caller that wants the usual "outputs clamped to the valid
range" convention clamps ``pred`` first (:func:`evaluate` does so per :data:`METRIC_CONVENTIONS`).

* PSNR ``10 log10(R² / MSE)``, MSE over all channels and pixels of the image (after the
  optional border crop and luma conversion); +inf when pred equals target.
* SSIM matches ``skimage.metrics.structural_similarity(target, pred, data_range=R)`` with its
  defaults: 7×7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance (factor NP/(NP − 1)),
  mean of the SSIM map over the pixels whose window lies inside the image (skimage's crop of
  (win − 1)/2), and for several channels the mean over channels (``channel_axis``). Optionally
  the Gaussian window of Wang et al. (σ = 1.5, 11 taps, as skimage's ``gaussian_weights=True``).
* NMSE ``‖pred − target‖² / ‖target‖²`` per image (fastMRI's NMSE, per image instead of per
  volume).

Luma (``y_channel=True``, RGB only): with R, G, B the channels divided by ``data_range`` (so in
[0, 1]), ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` — ITU-R BT.601 luma as MATLAB's
``rgb2ycbcr`` (range [16, 235]/255) — then multiplied back by ``data_range``; the metric uses
the same ``data_range``. This equals the common SR practice (Y on the 0–255 scale, data range
255) without its uint8 rounding.
"""

from __future__ import annotations

import copy
import math
import operator
from typing import Any, Union

import torch
import torch.nn.functional as F

__all__ = [
    "METRIC_CONVENTIONS",
    "SSIM_DEFAULTS",
    "conventions",
    "evaluate",
    "nmse",
    "psnr",
    "rgb_to_y",
    "ssim",
]

DataRange = Union[float, torch.Tensor]

SSIM_DEFAULTS: dict[str, Any] = {
    "win_size": 7,
    "gaussian_weights": False,
    "sigma": 1.5,
    "K1": 0.01,
    "K2": 0.03,
    "use_sample_covariance": True,
    "channel_reduction": "mean",
}

# Per task; "crop": "scale" means crop = the task's SR scale (resolved by conventions(task)).
METRIC_CONVENTIONS: dict[str, dict[str, Any]] = {
    "denoise": {
        "metrics": ["psnr", "ssim"],
        "clamp": [0.0, 1.0],  # the paper: outputs clamped to [0, 255] before PSNR/SSIM
        "data_range": 1.0,
        "crop": 0,
        "y_channel": False,  # RGB: PSNR over all channels, SSIM mean over channels
        "ssim": SSIM_DEFAULTS,
        "aggregate": "mean over images",
    },
    "mri": {
        "metrics": ["ssim", "psnr", "nmse"],
        "clamp": None,  # fastMRI evaluates raw outputs
        "data_range": "target_max",  # fastMRI: maxval = max of the target (per volume there, per image here)
        "crop": 0,
        "y_channel": False,
        "ssim": SSIM_DEFAULTS,
        "aggregate": "mean over images (fastMRI averages per volume; group by volume for that)",
    },
    "sr": {
        "metrics": ["psnr", "ssim"],
        "clamp": [0.0, 1.0],
        "data_range": 1.0,
        "crop": "scale",  # border of `scale` pixels removed
        "y_channel": True,  # BT.601 luma of RGB images; single-channel images are used as they are
        "ssim": SSIM_DEFAULTS,
        "aggregate": "mean over images",
    },
}

_BT601 = (65.481, 128.553, 24.966)


# --------------------------------------------------------------------------- validation helpers


def _check_pair(pred: Any, target: Any) -> None:
    for name, t in (("pred", pred), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(t).__name__}")
        if not t.is_floating_point():
            raise ValueError(f"{name} has dtype {t.dtype}; use a real floating tensor (take .abs() of complex images)")
        if t.ndim != 4:
            raise ValueError(f"{name} has shape {tuple(t.shape)}; expected (B, C, H, W) (add batch/channel axes)")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred has shape {tuple(pred.shape)} but target has {tuple(target.shape)}; pass matching images"
        )


def _check_crop(crop: Any, h: int, w: int) -> int:
    if isinstance(crop, bool):
        raise ValueError(f"crop={crop!r} must be a non-negative integer (border pixels removed)")
    try:
        crop = int(operator.index(crop))
    except TypeError:
        raise ValueError(f"crop={crop!r} must be a non-negative integer (border pixels removed)") from None
    if crop < 0:
        raise ValueError(f"crop={crop} must be a non-negative integer (border pixels removed)")
    if 2 * crop >= min(h, w):
        raise ValueError(f"crop={crop} removes the whole {h}x{w} image; use crop < {(min(h, w) + 1) // 2}")
    return crop


def _data_range(data_range: Any, batch: int, device: torch.device) -> torch.Tensor:
    """(B, 1, 1, 1) float64 tensor of positive data ranges."""
    if isinstance(data_range, torch.Tensor):
        r = data_range.detach().to(device=device, dtype=torch.float64)
        if r.ndim == 0:
            r = r.expand(batch)
        if r.ndim != 1 or r.shape[0] != batch:
            raise ValueError(f"data_range has shape {tuple(data_range.shape)}; pass a float or a ({batch},) tensor")
        if not bool(torch.all(torch.isfinite(r) & (r > 0))):
            raise ValueError("data_range contains non-positive or non-finite values; pass positive finite ranges")
        return r.reshape(batch, 1, 1, 1)
    if isinstance(data_range, bool):
        raise ValueError(f"data_range={data_range!r} must be a positive number (e.g. 1.0 for images in [0, 1])")
    try:
        v = float(data_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"data_range={data_range!r} must be a positive number (e.g. 1.0 for images in [0, 1])"
        ) from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"data_range={data_range!r} must be a positive finite number (e.g. 1.0 for images in [0, 1])")
    return torch.full((batch, 1, 1, 1), v, dtype=torch.float64, device=device)


def rgb_to_y(img: torch.Tensor, *, data_range: DataRange = 1.0) -> torch.Tensor:
    """ITU-R BT.601 luma of RGB images on the scale of ``data_range``.

    ``Y = data_range · (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` with R, G, B the channels
    divided by ``data_range``, i.e. MATLAB's ``rgb2ycbcr`` Y (in [16, 235]/255 · data_range for
    inputs in range). No clamping, no rounding.

    Args:
        img: (B, 3, H, W) RGB images with values in [0, data_range].
        data_range: float or (B,) tensor, the full scale of the RGB values.

    Returns:
        (B, 1, H, W) float64 luma.
    """
    if not isinstance(img, torch.Tensor) or img.ndim != 4 or img.shape[1] != 3:
        shape = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
        raise ValueError(f"y_channel needs RGB images of shape (B, 3, H, W), got {shape}; set y_channel=False")
    if not img.is_floating_point():
        raise ValueError(f"img has dtype {img.dtype}; use a real floating tensor")
    r = _data_range(data_range, img.shape[0], img.device)
    return _to_y(img.to(torch.float64), r)


def _to_y(img: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(_BT601, dtype=torch.float64, device=img.device).reshape(1, 3, 1, 1)
    return ((img / r) * w).sum(dim=1, keepdim=True).add(16.0).mul(r / 255.0)


def _prepare(
    pred: torch.Tensor, target: torch.Tensor, data_range: DataRange, crop: int, y_channel: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    _check_pair(pred, target)
    b, c, h, w = pred.shape
    crop = _check_crop(crop, h, w)
    r = _data_range(data_range, b, pred.device)
    p = pred.to(torch.float64)
    t = target.to(device=pred.device, dtype=torch.float64)
    if y_channel:
        if c != 3:
            raise ValueError(f"y_channel=True needs RGB images (C=3), got C={c}; set y_channel=False")
        p, t = _to_y(p, r), _to_y(t, r)
    if crop:
        p, t = p[..., crop:-crop, crop:-crop], t[..., crop:-crop, crop:-crop]
    return p, t, r


# --------------------------------------------------------------------------- metrics


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: DataRange = 1.0,
    crop: int = 0,
    y_channel: bool = False,
) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, ``10 log10(data_range² / MSE)`` in dB.

    Args:
        pred: (B, C, H, W) reconstructions (clamp them first if that is your convention).
        target: (B, C, H, W) ground truth.
        data_range: peak value R: a float, or a (B,) tensor (e.g. the per-image target max).
        crop: border of pixels removed on every side before computing (SR: crop = scale).
        y_channel: compare the BT.601 luma of RGB images (see :func:`rgb_to_y`), not RGB.

    Returns:
        (B,) float64 PSNR; +inf where pred equals target.
    """
    p, t, r = _prepare(pred, target, data_range, crop, y_channel)
    mse = (p - t).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(r.reshape(-1).square() / mse)


def nmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Normalised MSE per image, ``‖pred − target‖² / ‖target‖²`` (fastMRI's NMSE).

    Args:
        pred: (B, C, H, W) reconstructions.
        target: (B, C, H, W) ground truth.

    Returns:
        (B,) float64; +inf (or nan when pred is also zero) for an all-zero target.
    """
    _check_pair(pred, target)
    p = pred.to(torch.float64)
    t = target.to(device=pred.device, dtype=torch.float64)
    return (p - t).square().sum(dim=(1, 2, 3)) / t.square().sum(dim=(1, 2, 3))


def _window(win_size: int, gaussian_weights: bool, sigma: float, device: torch.device) -> torch.Tensor:
    """1-D normalised window: uniform (scipy ``uniform_filter``) or Gaussian (``gaussian_filter``)."""
    if gaussian_weights:
        radius = (win_size - 1) // 2
        x = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
        g = torch.exp(-0.5 * (x / sigma) ** 2)
        return g / g.sum()
    return torch.full((win_size,), 1.0 / win_size, dtype=torch.float64, device=device)


def _filter_valid(img: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of (N, 1, H, W) with the 1-D window, (N, 1, H−k+1, W−k+1)."""
    k = win.numel()
    out = F.conv2d(img, win.reshape(1, 1, k, 1))
    return F.conv2d(out, win.reshape(1, 1, 1, k))


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: DataRange = 1.0,
    crop: int = 0,
    y_channel: bool = False,
    win_size: int | None = None,
    gaussian_weights: bool = False,
    sigma: float = 1.5,
    K1: float = 0.01,
    K2: float = 0.03,
    use_sample_covariance: bool = True,
) -> torch.Tensor:
    """Structural similarity per image, as ``skimage.metrics.structural_similarity``.

    The SSIM map is computed only where the whole window fits in the (cropped) image — exactly
    the pixels skimage keeps after its crop of (win_size − 1)/2, so no padding convention enters
    — and averaged; multi-channel images average the per-channel values (skimage with
    ``channel_axis``). The result is symmetric in pred and target.

    Args:
        pred: (B, C, H, W) reconstructions (clamp them first if that is your convention).
        target: (B, C, H, W) ground truth.
        data_range: R in C1 = (K1 R)², C2 = (K2 R)²: a float or a (B,) tensor.
        crop: border of pixels removed on every side first (SR: crop = scale).
        y_channel: compare the BT.601 luma of RGB images (see :func:`rgb_to_y`).
        win_size: odd window side; default 7 (uniform) or, with ``gaussian_weights``,
            2·int(3.5 σ + 0.5) + 1 (11 for σ = 1.5), as skimage (the only size accepted then).
        gaussian_weights: Gaussian window of standard deviation ``sigma`` (Wang et al. 2004;
            pair with ``use_sample_covariance=False`` to match their paper).
        sigma: Gaussian window standard deviation.
        K1: luminance constant.
        K2: contrast constant.
        use_sample_covariance: scale (co)variances by NP/(NP − 1), NP = win_size².

    Returns:
        (B,) float64 mean SSIM.
    """
    p, t, r = _prepare(pred, target, data_range, crop, y_channel)
    for name, flag in (("gaussian_weights", gaussian_weights), ("use_sample_covariance", use_sample_covariance)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name}={flag!r} must be True or False")
    for name, v in (("sigma", sigma), ("K1", K1), ("K2", K2)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name}={v!r} must be a non-negative finite number")
    if gaussian_weights and sigma <= 0:
        raise ValueError(f"sigma={sigma!r} must be positive for gaussian_weights=True")
    gauss_size = 2 * int(3.5 * sigma + 0.5) + 1  # skimage/scipy: truncate = 3.5 standard deviations
    if win_size is None:
        win_size = gauss_size if gaussian_weights else 7
    if isinstance(win_size, bool) or not isinstance(win_size, int) or win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"win_size={win_size!r} must be a positive odd integer (SSIM window side)")
    if gaussian_weights and win_size != gauss_size:
        raise ValueError(
            f"win_size={win_size} does not match the Gaussian window of sigma={sigma} ({gauss_size} taps); leave win_size=None"
        )
    b, c, h, w = p.shape
    if min(h, w) < win_size:
        raise ValueError(
            f"image of {h}x{w} pixels (after crop) is smaller than win_size={win_size}; use larger images or a smaller odd win_size"
        )
    win = _window(win_size, gaussian_weights, sigma, p.device)
    np_ = win_size**2
    cov_norm = np_ / (np_ - 1) if use_sample_covariance and np_ > 1 else 1.0

    # Filter all five moment images of all channels in one batched call: (5·B·C, 1, H, W).
    stack = torch.stack([p, t, p * p, t * t, p * t]).reshape(5 * b * c, 1, h, w)
    ux, uy, uxx, uyy, uxy = _filter_valid(stack, win).reshape(5, b, c, h - win_size + 1, w - win_size + 1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (K1 * r) ** 2
    c2 = (K2 * r) ** 2
    s_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s_map.mean(dim=(2, 3)).mean(dim=1)


# --------------------------------------------------------------------------- conventions


def conventions(task: Any) -> dict[str, Any]:
    """Metric conventions of a task, JSON-able, to store with every result row.

    Args:
        task: an :class:`empirical.tasks.Task` or a task name (its default fields).

    Returns:
        A copy of ``METRIC_CONVENTIONS[task.name]`` with ``"task"`` added and the SR crop
        resolved to the task's scale.
    """
    if isinstance(task, str):
        from .tasks import make_task

        task = make_task(task)
    name = getattr(task, "name", None)
    if name not in METRIC_CONVENTIONS:
        raise ValueError(f"task={task!r} is not a Task or task name; use one of {sorted(METRIC_CONVENTIONS)}")
    conv = copy.deepcopy(METRIC_CONVENTIONS[name])
    if conv["crop"] == "scale":
        conv["crop"] = int(task.scale)
    return {"task": name, **conv}


def evaluate(pred: torch.Tensor, target: torch.Tensor, task: Any) -> dict[str, torch.Tensor]:
    """All metrics of a task's conventions, per image.

    Applies the convention explicitly: clamps ``pred`` to ``"clamp"`` (when not None), uses
    ``data_range`` (``"target_max"``: per-image max of the target), removes the ``crop`` border
    and converts RGB to luma when ``y_channel`` (single-channel images are used as they are).

    Args:
        pred: (B, C, H, W) network outputs.
        target: (B, C, H, W) ground truth.
        task: a Task, a task name, or a dict from :func:`conventions`.

    Returns:
        ``{metric: (B,) float64 tensor}`` for the task's metrics.
    """
    conv = task if isinstance(task, dict) else conventions(task)
    _check_pair(pred, target)
    if conv.get("clamp") is not None:
        lo, hi = conv["clamp"]
        pred = pred.clamp(lo, hi)
    dr = conv["data_range"]
    if dr == "target_max":
        dr = target.detach().to(torch.float64).amax(dim=(1, 2, 3))
    y = bool(conv["y_channel"]) and pred.shape[1] == 3
    s = conv["ssim"]
    out: dict[str, torch.Tensor] = {}
    for metric in conv["metrics"]:
        if metric == "psnr":
            out[metric] = psnr(pred, target, data_range=dr, crop=conv["crop"], y_channel=y)
        elif metric == "ssim":
            out[metric] = ssim(
                pred,
                target,
                data_range=dr,
                crop=conv["crop"],
                y_channel=y,
                win_size=s["win_size"],
                gaussian_weights=s["gaussian_weights"],
                sigma=s["sigma"],
                K1=s["K1"],
                K2=s["K2"],
                use_sample_covariance=s["use_sample_covariance"],
            )
        elif metric == "nmse":
            out[metric] = nmse(pred, target)
        else:
            raise ValueError(f"metric {metric!r} is unknown; use 'psnr', 'ssim' or 'nmse'")
    return out
