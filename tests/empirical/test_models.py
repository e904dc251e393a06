"""Tests for empirical.models: shapes on odd sizes, residual form, linear net, factory, sizes."""

import pytest

torch = pytest.importorskip("torch")

from empirical.models import (
    LinearNet,
    SwinIRLite,
    UNet,
    _shift_mask,
    build_model,
    param_count,
)

SHAPES = [(1, 1, 17, 23), (2, 3, 32, 32), (1, 2, 40, 33)]


@pytest.fixture
def torch_seed(seed):
    """Seed torch's global RNG for one test only; the previous RNG state is restored afterwards."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield seed


def _small(arch: str, in_chans: int, out_chans: int, **kw) -> torch.nn.Module:
    if arch == "unet":
        return build_model("unet", in_chans=in_chans, out_chans=out_chans, width=8, **kw)
    return build_model("swinir", in_chans=in_chans, out_chans=out_chans, width=16, depths=(2,), **kw)


# ------------------------------------------------------------------------------------ shapes


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pools", [1, 2, 3])
def test_unet_shape_odd_even(torch_seed, shape, pools):
    x = torch.randn(shape)
    for out_chans in (shape[1], 1):
        y = UNet(shape[1], out_chans, chans=4, num_pool_layers=pools)(x)
        assert y.shape == (shape[0], out_chans, *shape[2:])
        assert torch.isfinite(y).all()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ws", [4, 8])
def test_swinir_shape_odd_even(torch_seed, shape, ws):
    x = torch.randn(shape)
    for out_chans in (shape[1], 1):
        net = SwinIRLite(shape[1], out_chans, embed_dim=8, depths=(2,), num_heads=2, window_size=ws)
        y = net(x)
        assert y.shape == (shape[0], out_chans, *shape[2:])
        assert torch.isfinite(y).all()


def test_swinir_tiny_image_smaller_than_window(torch_seed):
    # Padding 3 -> 8 is too large to reflect; the replicate fallback must still give the right shape.
    x = torch.randn(1, 1, 3, 5)
    assert SwinIRLite(1, 1, embed_dim=8, depths=(2,), num_heads=2, window_size=8)(x).shape == x.shape


def test_channel_change_2_to_1(torch_seed):
    x = torch.randn(1, 2, 40, 33)
    for arch in ("unet", "swinir"):
        assert _small(arch, 2, 1)(x).shape == (1, 1, 40, 33)
    lin = build_model("linear", in_chans=2, out_chans=1, width=0, image_shape=(40, 33))
    assert lin(x).shape == (1, 1, 40, 33)


# ---------------------------------------------------------------------------------- residual


@pytest.mark.parametrize("arch", ["unet", "swinir"])
def test_residual_zero_last_conv_is_identity(torch_seed, arch):
    net = _small(arch, 3, 3, residual=True)
    with torch.no_grad():
        net.out_conv.weight.zero_()
        net.out_conv.bias.zero_()
    x = torch.randn(2, 3, 17, 23)
    assert torch.equal(net(x), x)


@pytest.mark.parametrize("arch", ["unet", "swinir"])
def test_residual_is_input_minus_plain_net(torch_seed, arch):
    res = _small(arch, 1, 1, residual=True)
    plain = _small(arch, 1, 1)
    plain.load_state_dict(res.state_dict())
    x = torch.randn(1, 1, 17, 23)
    torch.testing.assert_close(res(x), x - plain(x))


@pytest.mark.parametrize("cls", [UNet, SwinIRLite])
def test_residual_needs_equal_channels(cls):
    with pytest.raises(ValueError, match="in_chans == out_chans"):
        cls(2, 1, residual=True)


# ------------------------------------------------------------------------------------ linear


def test_linear_starts_at_zero(torch_seed):
    net = LinearNet((2, 5, 7))
    assert net.weight.shape == (70, 70)
    assert isinstance(net.weight, torch.nn.Parameter)
    assert not net.weight.any()
    x = torch.randn(3, 2, 5, 7)
    assert torch.equal(net(x), torch.zeros_like(x))


def test_linear_matches_explicit_matmul(torch_seed):
    net = LinearNet((2, 5, 7), (1, 4, 6)).double()
    torch.nn.init.normal_(net.weight)
    assert net.weight.shape == (24, 70) and net.weight.dtype == torch.float64
    x = torch.randn(3, 2, 5, 7, dtype=torch.float64)
    expected = torch.stack([net.weight @ xi.reshape(-1) for xi in x]).reshape(3, 1, 4, 6)
    torch.testing.assert_close(net(x), expected)


def test_linear_rejects_wrong_input_shape():
    with pytest.raises(ValueError, match="expected input"):
        LinearNet((1, 4, 4))(torch.zeros(1, 1, 4, 5))


# ----------------------------------------------------------------------------------- factory


def test_build_model_dispatch():
    assert isinstance(build_model("unet", in_chans=1, out_chans=1, width=8, num_pool_layers=3), UNet)
    swin = build_model("swinir", in_chans=1, out_chans=1, width=32, window_size=4, depths=(1, 1, 1))
    assert isinstance(swin, SwinIRLite) and len(swin.groups) == 3 and swin.window_size == 4
    assert swin.groups[0].blocks[0].attn.num_heads == 2  # default max(1, 32 // 16)
    lin = build_model("linear", in_chans=3, out_chans=3, width=1, image_shape=(4, 6))
    assert isinstance(lin, LinearNet) and lin.weight.shape == (72, 72)


def test_build_model_errors():
    with pytest.raises(ValueError, match="unknown arch 'resnet'; valid: unet, swinir, linear"):
        build_model("resnet", in_chans=1, out_chans=1, width=8)
    with pytest.raises(ValueError, match="image_shape"):
        build_model("linear", in_chans=1, out_chans=1, width=8)
    with pytest.raises(ValueError, match="must divide"):
        build_model("swinir", in_chans=1, out_chans=1, width=20, num_heads=3)


def _unet_layers(in_chans: int, out_chans: int, C: int, pools: int) -> list[tuple[int, int, int, bool]]:
    """The fastMRI U-Net written out from its description, as (kernel side, c_in, c_out, has bias) per layer.

    Down: ConvBlock(c_in, C·2^l) for l < L, each two bias-free 3×3 convs (InstanceNorm without affine
    parameters follows, so it adds none); bottleneck ConvBlock(C·2^(L−1), C·2^L); up: a bias-free 2×2
    transposed conv C·2^l → C·2^(l−1), then ConvBlock(C·2^l, C·2^(l−1)) on upsampled ⊕ skip; a 1×1 conv
    with bias to out_chans.
    """
    ch = [C * 2**level for level in range(pools + 1)]
    layers, c_in = [], in_chans
    for level in range(pools + 1):  # the last one is the bottleneck
        layers += [(3, c_in, ch[level], False), (3, ch[level], ch[level], False)]
        c_in = ch[level]
    for level in range(pools, 0, -1):
        layers += [(2, ch[level], ch[level - 1], False), (3, ch[level], ch[level - 1], False),
                   (3, ch[level - 1], ch[level - 1], False)]
    return layers + [(1, ch[0], out_chans, True)]


def _count(layers) -> int:
    return sum(k * k * c_in * c_out + (c_out if bias else 0) for k, c_in, c_out, bias in layers)


def test_unet_param_count_is_the_papers_exactly():
    """Paper (denoising U-Net, 2 pools, RGB): 0.12M parameters at width 16, 46.5M at 320 — exact integers
    from the layer list, and the built model (on the meta device: no memory for 46.5M weights) has them."""
    # width 16 written out layer by layer: 3→16, 16→16 | 16→32, 32→32 | 32→64, 64→64 | up 64→32 (2×2),
    # 64→32, 32→32 | up 32→16 (2×2), 32→16, 16→16 | 1×1 16→3 + 3 biases
    by_hand_16 = (9 * 3 * 16 + 9 * 16 * 16 + 9 * 16 * 32 + 9 * 32 * 32 + 9 * 32 * 64 + 9 * 64 * 64
                  + 4 * 64 * 32 + 9 * 64 * 32 + 9 * 32 * 32 + 4 * 32 * 16 + 9 * 32 * 16 + 9 * 16 * 16 + 16 * 3 + 3)
    assert by_hand_16 == _count(_unet_layers(3, 3, 16, 2)) == 116_707
    assert _count(_unet_layers(3, 3, 320, 2)) == 46_499_203
    assert round(116_707 / 1e6, 2) == 0.12 and round(46_499_203 / 1e6, 1) == 46.5  # the paper's figures
    for width, expected in ((16, 116_707), (320, 46_499_203)):
        with torch.device("meta"):
            net = build_model("unet", in_chans=3, out_chans=3, width=width, residual=True)
        assert param_count(net) == expected, width
        # the same layer list, conv by conv, in the model's order
        convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
        got = [(m.kernel_size[0], m.in_channels, m.out_channels, m.bias is not None) for m in convs]
        assert sorted(got) == sorted(_unet_layers(3, 3, width, 2))
    # the MRI range (4 pools, 1 channel): 1.94M at 16 and 496M at 256, as the docstring says
    with torch.device("meta"):
        net = build_model("unet", in_chans=1, out_chans=1, width=256, num_pool_layers=4)
    assert param_count(net) == _count(_unet_layers(1, 1, 256, 4)) == 496_372_225
    assert _count(_unet_layers(1, 1, 16, 4)) == 1_939_105


def test_swinir_param_count_grows_with_width():
    s16 = param_count(build_model("swinir", in_chans=3, out_chans=3, width=16))
    s32 = param_count(build_model("swinir", in_chans=3, out_chans=3, width=32))
    assert 3.0 < s32 / s16 < 4.1  # attention/MLP weights grow as width², embeddings and biases as width


def test_param_count_only_trainable():
    net = UNet(1, 1, chans=4)
    total = param_count(net)
    net.out_conv.requires_grad_(False)
    assert param_count(net) == total - net.out_conv.weight.numel() - net.out_conv.bias.numel()


# ------------------------------------------------------------------------------- gradients etc.


@pytest.mark.parametrize("arch", ["unet", "swinir", "linear"])
def test_gradients_finite_everywhere(torch_seed, arch):
    x = torch.randn(2, 1, 17, 23)
    if arch == "linear":
        net = build_model("linear", in_chans=1, out_chans=1, width=0, image_shape=(17, 23))
    else:
        net = _small(arch, 1, 1, residual=True)
    ((net(x) - torch.randn_like(x)) ** 2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in net.parameters())


@pytest.mark.parametrize("arch", ["unet", "swinir"])
def test_double_precision(torch_seed, arch):
    net = _small(arch, 1, 1).double()
    x = torch.randn(1, 1, 17, 23, dtype=torch.float64)
    assert net(x).dtype == torch.float64


@pytest.mark.parametrize("arch", ["unet", "swinir"])
def test_construction_deterministic_under_local_seed(arch):
    def build(seed: int):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return _small(arch, 1, 1)

    a, b, c = build(7), build(7), build(8)
    x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))  # not the global RNG
    for (_, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), c(x))


# ------------------------------------------------------------------------------ Swin internals


@pytest.mark.parametrize("h,w,ws", [(8, 8, 4), (16, 8, 8), (12, 20, 4)])
def test_shift_mask_separates_wrapped_regions(h, w, ws):
    """Two tokens of a shifted window may attend iff both or neither wrapped around, per axis."""
    s = ws // 2
    mask = _shift_mask(h, w, ws, s, torch.device("cpu"))
    nw_w = w // ws
    for k in range(mask.shape[0]):
        r0, c0 = (k // nw_w) * ws, (k % nw_w) * ws
        # Rolled position (i, j) holds original ((i + s) mod h, (j + s) mod w); it wrapped iff i + s >= h.
        wrap = [((r0 + t // ws) + s >= h, (c0 + t % ws) + s >= w) for t in range(ws * ws)]
        allowed = torch.tensor([[a == b for b in wrap] for a in wrap])
        assert torch.equal(mask[k] == 0, allowed)
        assert torch.isneginf(mask[k][~allowed]).all()


def test_shifted_attention_does_not_leak_across_wraparound(torch_seed):
    # 8×8 image, 4×4 windows, shift 2: original (7, 7) and (0, 0) share a rolled window but are
    # far apart in the image, so changing one must not change the other; (6, 6) is a true neighbour.
    net = SwinIRLite(1, 1, embed_dim=8, depths=(2,), num_heads=2, window_size=4)
    block = net.groups[0].blocks[1]
    assert block.shift == 2
    mask = _shift_mask(8, 8, 4, 2, torch.device("cpu"))
    x = torch.randn(1, 8, 8, 8)
    x2 = x.clone()
    x2[0, 7, 7] += torch.randn(8)  # not a constant: LayerNorm would remove a constant shift
    y, y2 = block(x, mask), block(x2, mask)
    assert torch.equal(y[0, 0, 0], y2[0, 0, 0])
    assert not torch.equal(y[0, 6, 6], y2[0, 6, 6])


def test_relative_position_index_range():
    net = SwinIRLite(1, 1, embed_dim=8, depths=(1,), num_heads=2, window_size=4)
    attn = net.groups[0].blocks[0].attn
    idx = attn.rel_index
    assert idx.shape == (16, 16)
    assert idx.min() == 0 and idx.max() == (2 * 4 - 1) ** 2 - 1
    assert (idx.diagonal() == (4 - 1) * (2 * 4 - 1) + (4 - 1)).all()  # zero offset
    assert len(idx.unique()) == 49  # every offset is used, so every table row gets a gradient
