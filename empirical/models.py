"""Reconstruction networks whose size is scaled in the experiments.

Three families, all mapping an image batch of shape (B, C_in, H, W) to (B, C_out, H, W):

* :class:`UNet` — the fastMRI-style U-Net used by Klug & Heckel (width = first-layer channels).
* :class:`SwinIRLite` — a compact SwinIR-style windowed transformer (width = embedding dim).
* :class:`LinearNet` — a bias-free linear map on flattened images, initialised at W = 0, the
  network that the exact linear theory describes.

:func:`build_model` picks one by name and width; :func:`param_count` counts trainable parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ARCHS", "LinearNet", "SwinIRLite", "UNet", "build_model", "param_count"]

ARCHS = ("unet", "swinir", "linear")


def _check_residual(residual: bool, in_chans: int, out_chans: int) -> None:
    if residual and in_chans != out_chans:
        raise ValueError(f"residual=True needs in_chans == out_chans, got {in_chans} and {out_chans}")


def _pad_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pad ``x`` (B, C, h, w) at the bottom/right to (B, C, height, width), h <= height, w <= width.

    Reflect padding avoids an artificial zero border; replicate is the fallback when the pad is
    too large for reflection (reflect needs pad < size).
    """
    dh, dw = height - x.shape[-2], width - x.shape[-1]
    if dh == 0 and dw == 0:
        return x
    mode = "reflect" if dh < x.shape[-2] and dw < x.shape[-1] else "replicate"
    return F.pad(x, [0, dw, 0, dh], mode=mode)


# --------------------------------------------------------------------------------------- U-Net


class ConvBlock(nn.Module):
    """Two (3×3 conv → InstanceNorm → LeakyReLU(0.2) → Dropout2d) layers.

    Shapes: (B, in_chans, H, W) → (B, out_chans, H, W).
    """

    def __init__(self, in_chans: int, out_chans: int, drop_prob: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in in (in_chans, out_chans):
            layers += [
                # No bias: the following InstanceNorm subtracts the per-channel mean anyway.
                nn.Conv2d(c_in, out_chans, kernel_size=3, padding=1, bias=False),
                nn.InstanceNorm2d(out_chans),
                nn.LeakyReLU(negative_slope=0.2, inplace=True),
                nn.Dropout2d(drop_prob),
            ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, H, W) → (B, out_chans, H, W)."""
        return self.layers(x)


class TransposeConvBlock(nn.Module):
    """2×2 stride-2 transposed conv → InstanceNorm → LeakyReLU(0.2).

    Shapes: (B, in_chans, H, W) → (B, out_chans, 2H, 2W).
    """

    def __init__(self, in_chans: int, out_chans: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(in_chans, out_chans, kernel_size=2, stride=2, bias=False),
            nn.InstanceNorm2d(out_chans),
            nn.LeakyReLU(negative_slope=0.2, inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, H, W) → (B, out_chans, 2H, 2W)."""
        return self.layers(x)


class UNet(nn.Module):
    """fastMRI-style U-Net (Ronneberger et al. 2015; Zbontar et al. 2018).

    Channels are ``chans · 2^level`` on the way down, the bottleneck has ``chans · 2^L`` channels
    (L = ``num_pool_layers``), and a 1×1 conv maps the last block to ``out_chans``. Any H×W works:
    pooling floors odd sizes and the upsampled tensor is padded back to its skip's size.

    With 2 pooling levels and RGB in/out this has 116,707 parameters at ``chans=16`` and
    46,499,203 at ``chans=320``, the paper's 0.12M and 46.5M (4 levels, 1 channel: 1.94M at 16,
    496M at 256, the paper's MRI range).

    Args:
        in_chans: Input channels C_in.
        out_chans: Output channels C_out.
        chans: Channels of the first block (the "width").
        num_pool_layers: Number of 2×2 average-pooling (and upsampling) levels.
        drop_prob: Dropout2d probability inside the conv blocks.
        residual: If True, return ``x - net(x)`` (the paper's denoising setup, the net predicts
            the noise); needs ``in_chans == out_chans``.

    Shapes: (B, C_in, H, W) → (B, C_out, H, W).
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        chans: int = 32,
        num_pool_layers: int = 2,
        drop_prob: float = 0.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        _check_residual(residual, in_chans, out_chans)
        if num_pool_layers < 0:
            raise ValueError(f"num_pool_layers must be >= 0, got {num_pool_layers}")
        self.in_chans, self.out_chans, self.chans = in_chans, out_chans, chans
        self.num_pool_layers, self.drop_prob, self.residual = num_pool_layers, drop_prob, residual

        self.down = nn.ModuleList()
        c_in, c = in_chans, chans
        for _ in range(num_pool_layers):
            self.down.append(ConvBlock(c_in, c, drop_prob))
            c_in, c = c, 2 * c
        self.bottleneck = ConvBlock(c_in, c, drop_prob)

        self.up_transpose = nn.ModuleList()
        self.up = nn.ModuleList()
        for _ in range(num_pool_layers):
            self.up_transpose.append(TransposeConvBlock(c, c // 2))
            self.up.append(ConvBlock(c, c // 2, drop_prob))  # input: upsampled ⊕ skip = c channels
            c //= 2
        self.out_conv = nn.Conv2d(c, out_chans, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) → (B, C_out, H, W)."""
        skips = []
        out = x
        for block in self.down:
            out = block(out)
            skips.append(out)
            out = F.avg_pool2d(out, kernel_size=2, stride=2)
        out = self.bottleneck(out)
        for transpose, block in zip(self.up_transpose, self.up):
            skip = skips.pop()
            out = _pad_to(transpose(out), skip.shape[-2], skip.shape[-1])  # odd sizes lose a row/col
            out = block(torch.cat([out, skip], dim=1))
        out = self.out_conv(out)
        return x - out if self.residual else out


# ------------------------------------------------------------------------------------- SwinIR


def _window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) → (B·nW, ws·ws, C) with nW = (H/ws)·(W/ws); H, W multiples of ws."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def _window_merge(windows: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`_window_partition`: (B·nW, ws·ws, C) → (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(-1, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def _shift_mask(h: int, w: int, ws: int, shift: int, device: torch.device) -> torch.Tensor:
    """Additive attention mask for cyclically shifted windows, shape (nW, ws·ws, ws·ws).

    After the roll, a window can hold pixels from up to four regions that are not neighbours in
    the image; tokens may attend only within their own region (0), never across (-inf). Every
    token sees itself, so no softmax row is all -inf.
    """
    labels = torch.zeros(1, h, w, 1, device=device)
    bands = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    label = 0
    for hs in bands:
        for wsl in bands:
            labels[:, hs, wsl, :] = label
            label += 1
    win = _window_partition(labels, ws).squeeze(-1)  # (nW, ws·ws)
    same = win[:, :, None] == win[:, None, :]
    return torch.zeros(same.shape, device=device).masked_fill(~same, float("-inf"))


class WindowAttention(nn.Module):
    """Multi-head self-attention inside ws×ws windows with a learned relative position bias.

    Shapes: (B·nW, N, C) → (B·nW, N, C) with N = ws²; optional mask (nW, N, N).
    """

    def __init__(self, dim: int, window_size: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide the embedding dim {dim}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        ws = window_size
        # One bias per head and per relative offset (dy, dx) ∈ [-(ws-1), ws-1]².
        self.rel_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.rel_bias_table, std=0.02)
        grid = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
        coords = torch.stack(grid).flatten(1)  # (2, N)
        rel = coords[:, :, None] - coords[:, None, :] + (ws - 1)  # (2, N, N), entries in [0, 2ws-2]
        self.register_buffer("rel_index", rel[0] * (2 * ws - 1) + rel[1], persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B·nW, N, C), mask (nW, N, N) or None → (B·nW, N, C)."""
        bw, n, c = x.shape
        qkv = self.qkv(x).view(bw, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B·nW, heads, N, d)
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B·nW, heads, N, N)
        attn = attn + self.rel_bias_table[self.rel_index].permute(2, 0, 1)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bw // nw, nw, self.num_heads, n, n) + mask[None, :, None]
            attn = attn.view(bw, self.num_heads, n, n)
        out = attn.softmax(dim=-1) @ v  # (B·nW, heads, N, d)
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    """Pre-norm Swin transformer block: (shifted) window attention and an MLP, both residual.

    Shapes: (B, H, W, C) → (B, H, W, C); H, W multiples of ``window_size``.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int, shift: int, mlp_ratio: float) -> None:
        super().__init__()
        self.window_size, self.shift = window_size, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """(B, H, W, C), shift mask (nW, N, N) → (B, H, W, C); the mask is used only if shifting."""
        _, h, w, _ = x.shape
        ws, s = self.window_size, self.shift
        y = self.norm1(x)
        if s:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        y = _window_merge(self.attn(_window_partition(y, ws), mask if s else None), ws, h, w)
        if s:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class ResidualSwinGroup(nn.Module):
    """``depth`` Swin blocks (alternating plain/shifted windows) → 3×3 conv, plus a skip.

    Shapes: (B, C, H, W) → (B, C, H, W); H, W multiples of ``window_size``.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float) -> None:
        super().__init__()
        shift = window_size // 2
        self.blocks = nn.ModuleList(
            SwinBlock(dim, num_heads, window_size, shift if i % 2 else 0, mlp_ratio) for i in range(depth)
        )
        self.conv = nn.Conv2d(dim, dim, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """(B, C, H, W), shift mask (nW, N, N) → (B, C, H, W)."""
        y = x.permute(0, 2, 3, 1)  # tokens channel-last for LayerNorm/Linear
        for block in self.blocks:
            y = block(y, mask)
        return x + self.conv(y.permute(0, 3, 1, 2))


class SwinIRLite(nn.Module):
    """Compact SwinIR-style restorer (Liang et al. 2021) for width/depth scaling studies.

    3×3 conv (shallow features) → residual Swin groups → LayerNorm → 3×3 conv, plus the shallow
    features → 3×3 conv to ``out_chans``. The input is reflect-padded to a multiple of
    ``window_size`` and the output cropped back, so any H×W works.

    Args:
        in_chans: Input channels C_in.
        out_chans: Output channels C_out.
        embed_dim: Feature channels (the "width"); ``num_heads`` must divide it.
        depths: Number of Swin blocks in each residual group (one group per entry).
        num_heads: Attention heads in every block.
        window_size: Side of the square attention windows; shifted blocks roll by half of it.
        mlp_ratio: MLP hidden width as a multiple of ``embed_dim``.
        residual: If True, return ``x - net(x)``; needs ``in_chans == out_chans``.

    Shapes: (B, C_in, H, W) → (B, C_out, H, W).
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        embed_dim: int = 32,
        depths: tuple[int, ...] = (2, 2),
        num_heads: int = 4,
        window_size: int = 8,
        mlp_ratio: float = 2.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        _check_residual(residual, in_chans, out_chans)
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {window_size}")
        self.in_chans, self.out_chans, self.embed_dim = in_chans, out_chans, embed_dim
        self.window_size, self.residual = window_size, residual
        self.shift = window_size // 2
        self.conv_first = nn.Conv2d(in_chans, embed_dim, kernel_size=3, padding=1)
        self.groups = nn.ModuleList(
            ResidualSwinGroup(embed_dim, d, num_heads, window_size, mlp_ratio) for d in depths
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_body = nn.Conv2d(embed_dim, embed_dim, kernel_size=3, padding=1)
        self.out_conv = nn.Conv2d(embed_dim, out_chans, kernel_size=3, padding=1)
        self.apply(self._init_linear)

    @staticmethod
    def _init_linear(m: nn.Module) -> None:
        # Transformer convention (as in Swin/SwinIR): small truncated-normal weights, zero bias.
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) → (B, C_out, H, W)."""
        h, w = x.shape[-2:]
        ws = self.window_size
        xp = _pad_to(x, math.ceil(h / ws) * ws, math.ceil(w / ws) * ws)
        hp, wp = xp.shape[-2:]
        # The mask depends only on the padded size; build it once for all shifted blocks.
        mask = _shift_mask(hp, wp, ws, self.shift, x.device).to(x.dtype) if self.shift else None
        shallow = self.conv_first(xp)
        deep = shallow
        for group in self.groups:
            deep = group(deep, mask)
        deep = self.norm(deep.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        out = self.out_conv(self.conv_body(deep) + shallow)[..., :h, :w]
        return x - out if self.residual else out


# ------------------------------------------------------------------------------------- linear


class LinearNet(nn.Module):
    """Bias-free linear reconstruction x̂ = W y on flattened images, starting from W = 0.

    The weight ``W`` has shape (n_out, n_in) with n = C·H·W, the same role as the theory's W
    (which maps a measurement y to x̂ = W y); zero init is the theory's W⁰ = 0.

    Args:
        in_shape: (C_in, H_in, W_in) of one input.
        out_shape: (C_out, H_out, W_out) of one output; defaults to ``in_shape``.

    Shapes: ``(B, *in_shape)`` → ``(B, *out_shape)``.
    """

    def __init__(
        self, in_shape: tuple[int, int, int], out_shape: tuple[int, int, int] | None = None
    ) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.out_shape = tuple(out_shape) if out_shape is not None else self.in_shape
        self.weight = nn.Parameter(torch.zeros(math.prod(self.out_shape), math.prod(self.in_shape)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *in_shape)`` → ``(B, *out_shape)``."""
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"expected input of shape (B, *{self.in_shape}), got {tuple(x.shape)}")
        return (x.flatten(1) @ self.weight.T).view(x.shape[0], *self.out_shape)


# ------------------------------------------------------------------------------------ factory


def build_model(
    arch: str,
    *,
    in_chans: int,
    out_chans: int,
    width: int,
    image_shape: tuple[int, int] | None = None,
    residual: bool = False,
    **kw,
) -> nn.Module:
    """Build a reconstruction network by name and width.

    Args:
        arch: One of ``"unet"``, ``"swinir"``, ``"linear"``.
        in_chans: Input channels.
        out_chans: Output channels.
        width: UNet ``chans`` / SwinIR ``embed_dim``; ignored for ``"linear"``.
        image_shape: (H, W); required for ``"linear"`` (input and output share it).
        residual: ``x - net(x)`` output (unet, swinir only; needs in_chans == out_chans).
        **kw: Forwarded to the constructor (e.g. ``num_pool_layers``, ``depths``, ``window_size``).
            SwinIR's ``num_heads`` defaults to ``max(1, width // 16)``.

    Returns:
        The module, mapping (B, in_chans, H, W) → (B, out_chans, H, W).
    """
    if arch == "unet":
        return UNet(in_chans, out_chans, chans=width, residual=residual, **kw)
    if arch == "swinir":
        kw.setdefault("num_heads", max(1, width // 16))
        if width % kw["num_heads"]:
            raise ValueError(f"num_heads={kw['num_heads']} must divide width={width}")
        return SwinIRLite(in_chans, out_chans, embed_dim=width, residual=residual, **kw)
    if arch == "linear":
        if image_shape is None:
            raise ValueError("arch='linear' needs image_shape=(H, W)")
        if residual:
            raise ValueError("arch='linear' has no residual form (x - Wx is again linear)")
        if kw:
            raise TypeError(f"unexpected arguments for arch='linear': {sorted(kw)}")
        h, w = image_shape
        return LinearNet((in_chans, h, w), (out_chans, h, w))
    raise ValueError(f"unknown arch {arch!r}; valid: {', '.join(ARCHS)}")


def param_count(model: nn.Module) -> int:
    """Number of trainable (``requires_grad``) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
