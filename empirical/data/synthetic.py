"""Generated sources: the theory's subspace model, dead leaves (plain and textured), ellipse phantoms.

Their index space is ``[0, 2**32)``; splits are the disjoint ranges of :meth:`Source.split`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from theory import random_orthonormal
from theory.infra.validation import is_int

from .base import Source

__all__ = ["SubspaceSource", "DeadLeavesSource", "TexturedDeadLeavesSource", "PhantomSource"]


# --------------------------------------------------------------------------------------------------
# subspace
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SubspaceSource(Source):
    """The theory's signal model as images: x = U c reshaped to (1, size, size).

    n = size², U is an n×d Haar-random orthonormal basis drawn once per source seed from
    ``default_rng([seed, 0])``; image i has c ~ N(0, I_d) from ``default_rng([seed, 1, i])``.
    Values are *not* in [0, 1] (E‖x‖² = d); PSNR conventions do not apply -- use MSE.

    Attributes:
        d: subspace dimension, 1 <= d <= size².
    """

    d: int = 10

    spec: ClassVar[str] = "subspace"
    allowed_channels: ClassVar[tuple[int, ...]] = (1,)
    value_range: ClassVar[tuple[float, float] | None] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.size**2
        if not is_int(self.d) or not 1 <= self.d <= n:
            raise ValueError(f"d={self.d!r} must be an integer in [1, size**2 = {n}]")

    @cached_property
    def basis(self) -> np.ndarray:
        """(n, d) float64 orthonormal basis U, n = size²."""
        return random_orthonormal(self.size**2, int(self.d), rng=np.random.default_rng([self.seed, 0]))

    def coefficients(self, idx: Any) -> np.ndarray:
        """Latent coefficients.

        Args:
            idx: (B,) indices.

        Returns:
            (B, d) float64 array, row k ~ N(0, I_d) from ``default_rng([seed, 1, idx[k]])``.
        """
        arr = self._check_indices(idx)
        out = np.empty((arr.size, int(self.d)))
        for k, i in enumerate(arr):
            out[k] = np.random.default_rng([self.seed, 1, int(i)]).standard_normal(int(self.d))
        return out

    def _image(self, i: int) -> np.ndarray:
        return self._batch(np.array([i], dtype=np.int64))[0]

    def _batch(self, idx: np.ndarray) -> np.ndarray:
        c = self.coefficients(idx)
        x = c @ self.basis.T
        return x.astype(np.float32).reshape(idx.size, 1, self.size, self.size)

    def parameters(self) -> dict[str, Any]:
        return {"d": int(self.d), "n": int(self.size**2)}

    def notes(self) -> list[str]:
        return [
            "values are not in [0, 1]: x = U c with c ~ N(0, I_d), so E||x||^2 = d; PSNR conventions do not apply, use MSE",
            "U is fixed per source seed (the theory redraws U per run: use one source seed per run)",
        ]


# --------------------------------------------------------------------------------------------------
# dead leaves
# --------------------------------------------------------------------------------------------------


def _sample_power(rng: np.random.Generator, k: int, exponent: float, lo: float, hi: float) -> np.ndarray:
    """(k,) samples of the density ∝ r**exponent on [lo, hi] by inverse CDF."""
    u = rng.random(k)
    a = exponent + 1.0
    if abs(a) < 1e-12:
        return lo * (hi / lo) ** u
    return (lo**a + u * (hi**a - lo**a)) ** (1.0 / a)


def _power_integral(exponent: float, lo: float, hi: float) -> float:
    a = exponent + 1.0
    return math.log(hi / lo) if abs(a) < 1e-12 else (hi**a - lo**a) / a


@dataclass(frozen=True)
class _Leaves:
    """Rendered dead-leaves geometry (pixel units, pixel j has centre j).

    Attributes:
        label: (H, W) int64 index of the visible disc at each pixel.
        cx, cy, r: (K,) centres and radii of all drawn discs, front to back.
        colour: (K, C) uniform colours in [0, 1].
    """

    label: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    r: np.ndarray
    colour: np.ndarray


_MAX_DISCS = 2**24  # safety cap; never reached for rmin >= half a pixel in practice
_TAIL_FRACTION = 0.05  # switch from bounding-box rasterisation to per-pixel tests below this coverage gap
_TAIL_ELEMENTS = 4_000_000  # memory cap of the (discs × remaining pixels) tests


@dataclass(frozen=True, kw_only=True)
class DeadLeavesSource(Source):
    """Classic dead-leaves images: occluding discs with power-law radii and flat uniform colours.

    The model: a Poisson process of discs with radius density ∝ r^-alpha on [rmin, rmax] (units of
    the image side) and uniformly random centres, stacked in random order; the image shows the
    top-most disc at each pixel. Rendering goes front to back and stops once every pixel centre is
    covered -- exact on the pixel grid, since the discs below are hidden. Only discs that can meet
    the image are drawn: a radius from ∝ r^-alpha (1 + 2r)² (a mixture of three power laws) and a
    centre uniform in the square grown by r, which is the restriction of the stationary process to
    the image (so borders have the same statistics as the centre). No anti-aliasing: images are
    exactly piecewise constant. Colours are uniform in [0, 1] (per channel for RGB).

    Vectorised in numpy over discs and pixels: discs are rasterised by their bounding boxes in
    chunks while more than 5% of pixels are uncovered, then the remaining pixels are tested against
    chunks of discs directly. Geometry of image i comes from ``default_rng([seed, i])``.

    Attributes:
        rmin: smallest radius in units of the side (default 2/size, i.e. 2 pixels); >= 0.5/size.
        rmax: largest radius in units of the side (default 0.5).
        alpha: exponent of the radius density (3 gives scale invariance).
    """

    rmin: float | None = None
    rmax: float = 0.5
    alpha: float = 3.0

    spec: ClassVar[str] = "deadleaves"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("rmax", "alpha") + (("rmin",) if self.rmin is not None else ()):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) or not math.isfinite(v):
                raise ValueError(f"{name}={v!r} must be a finite number")
        if self.r_min * self.size < 0.5:
            raise ValueError(f"rmin={self.r_min} is below half a pixel at size {self.size}; use rmin >= {0.5 / self.size:.4g}")
        if not self.r_min < self.rmax:
            raise ValueError(f"rmin={self.r_min} must be smaller than rmax={self.rmax}; lower rmin or raise rmax")

    @property
    def r_min(self) -> float:
        """Effective smallest radius (units of the side)."""
        return 2.0 / self.size if self.rmin is None else float(self.rmin)

    @cached_property
    def _radius_mixture(self) -> tuple[np.ndarray, np.ndarray]:
        """Exponents (3,) and weights (3,) of r^-a (1 + 2r)² = r^-a + 4 r^(1-a) + 4 r^(2-a)."""
        a, lo, hi = float(self.alpha), self.r_min, float(self.rmax)
        ex = np.array([-a, 1.0 - a, 2.0 - a])
        w = np.array([c * _power_integral(e, lo, hi) for c, e in zip((1.0, 4.0, 4.0), ex)])
        return ex, w / w.sum()

    def _discs(self, rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """k discs meeting the image: centres (k,), (k,), radii (k,) in pixels and colours (k, C)."""
        ex, w = self._radius_mixture
        comp = rng.choice(3, size=k, p=w)
        r = np.empty(k)
        for j in range(3):
            m = comp == j
            r[m] = _sample_power(rng, int(m.sum()), float(ex[j]), self.r_min, float(self.rmax))
        u = rng.random((k, 2))
        c = -r[:, None] + u * (1.0 + 2.0 * r[:, None])  # uniform in [-r, 1 + r]²
        colour = rng.random((k, self.channels))
        s = self.size
        return c[:, 0] * s - 0.5, c[:, 1] * s - 0.5, r * s, colour

    def _leaves(self, i: int) -> _Leaves:
        """Render the visible-disc label map of image i (see the class docstring)."""
        rng = np.random.default_rng([self.seed, i])
        H = W = self.size
        P = H * W
        label = np.full(P, -1, dtype=np.int64)
        parts: list[tuple[np.ndarray, ...]] = []
        total, remaining, k = 0, P, 128
        per_disc = 1.0 / k  # running estimate of -log(1 - covered fraction) per disc
        while remaining > _TAIL_FRACTION * P and total < _MAX_DISCS:
            cx, cy, rp, col = self._discs(rng, k)
            parts.append((cx, cy, rp, col))
            x0 = np.clip(np.ceil(cx - rp), 0, W).astype(np.int64)
            x1 = np.clip(np.floor(cx + rp) + 1, 0, W).astype(np.int64)
            y0 = np.clip(np.ceil(cy - rp), 0, H).astype(np.int64)
            y1 = np.clip(np.floor(cy + rp) + 1, 0, H).astype(np.int64)
            w = np.maximum(x1 - x0, 0)
            n = w * np.maximum(y1 - y0, 0)
            disc = np.repeat(np.arange(k), n)
            local = np.arange(disc.size) - np.repeat(np.cumsum(n) - n, n)
            ly, lx = np.divmod(local, w[disc])
            px, py = x0[disc] + lx, y0[disc] + ly
            pix = py * W + px
            keep = ((px - cx[disc]) ** 2 + (py - cy[disc]) ** 2 <= rp[disc] ** 2) & (label[pix] < 0)
            pix, disc = pix[keep], disc[keep]
            hit, first = np.unique(pix, return_index=True)  # stable: first = front-most disc
            label[hit] = total + disc[first]
            covered = hit.size / remaining
            remaining -= hit.size
            total += k
            if covered > 0:
                per_disc = -math.log(max(1.0 - covered, 1e-12)) / k
            target = math.log(max(remaining, 1) / (_TAIL_FRACTION * P)) if remaining > _TAIL_FRACTION * P else 0.0
            k = int(min(max(math.ceil(target / per_disc), 16), 65536))
        todo = np.flatnonzero(label < 0)
        ry, rx = np.divmod(todo, W)
        while todo.size and total < _MAX_DISCS:
            k = int(min(max(math.ceil(1.0 / per_disc), 16), max(_TAIL_ELEMENTS // todo.size, 16)))
            cx, cy, rp, col = self._discs(rng, k)
            parts.append((cx, cy, rp, col))
            cov = (rx[None, :] - cx[:, None]) ** 2 + (ry[None, :] - cy[:, None]) ** 2 <= (rp**2)[:, None]
            hit = cov.any(axis=0)
            label[todo[hit]] = total + cov.argmax(axis=0)[hit]
            total += k
            todo, rx, ry = todo[~hit], rx[~hit], ry[~hit]
        cx, cy, rp, col = (np.concatenate(a) for a in zip(*parts))
        if todo.size:  # safety cap reached: uncovered pixels show a background leaf
            label[todo] = total
            cx, cy, rp = (np.append(a, v) for a, v in ((cx, W / 2), (cy, H / 2), (rp, float(P))))
            col = np.vstack([col, rng.random((1, self.channels))])
        return _Leaves(label=label.reshape(H, W), cx=cx, cy=cy, r=rp, colour=col)

    def _image(self, i: int) -> np.ndarray:
        leaves = self._leaves(i)
        return np.ascontiguousarray(np.moveaxis(leaves.colour[leaves.label], -1, 0), dtype=np.float32)

    def parameters(self) -> dict[str, Any]:
        return {"rmin": self.r_min, "rmax": float(self.rmax), "alpha": float(self.alpha), "radius_units": "image side"}

    def notes(self) -> list[str]:
        return [
            "exact dead-leaves on the pixel grid (front-to-back until covered), no anti-aliasing: piecewise constant",
            f"radius density r^-{float(self.alpha):g} on [{self.r_min:.4g}, {float(self.rmax):g}] x side; colours uniform in [0, 1]",
        ]


def _noise_fields(rng: np.random.Generator, t: int, h: int, w: int) -> np.ndarray:
    """Random-phase textures with a 1/f amplitude spectrum.

    The phases are those of the real FFT of white Gaussian noise (uniform and Hermitian-symmetric,
    so the field is real); the amplitudes are set to exactly 1/|f| (0 at f = 0).

    Returns:
        (t, h, w) float64 fields, each zero-mean with unit standard deviation.
    """
    spec = np.fft.rfft2(rng.standard_normal((t, h, w)), axes=(-2, -1))
    f = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2)
    f[0, 0] = np.inf
    mod = np.abs(spec)
    spec = spec / np.where(mod > 0, mod, 1.0) / f
    field_ = np.fft.irfft2(spec, s=(h, w), axes=(-2, -1))
    field_ -= field_.mean(axis=(-2, -1), keepdims=True)
    sd = field_.std(axis=(-2, -1), keepdims=True)
    return field_ / np.where(sd > 0, sd, 1.0)


@dataclass(frozen=True, kw_only=True)
class TexturedDeadLeavesSource(DeadLeavesSource):
    """Dead leaves with per-leaf texture and a mild random blur (transfers better to photos).

    The leaf geometry and base colours are those of ``deadleaves`` with the same parameters and seed.
    On top, from ``default_rng([seed, i, 1])``:

    * a linear gradient per leaf and channel: random direction, slope such that the value changes
      by up to ``gradient`` over the leaf's radius (large leaves get gentle shading);
    * a noise texture per leaf: each leaf picks one of ``n_textures`` random-phase fields with a
      1/f amplitude spectrum (natural-image-like, zero mean, unit std) and adds it with an amplitude
      uniform in [0, ``texture_amplitude``] (the same for all channels: a luminance texture);
    * values clipped to [0, 1], then a Gaussian blur of the whole image with σ uniform in
      [0, ``blur_max``] pixels (reflecting borders), which keeps values in [0, 1].

    Attributes:
        gradient: largest value change across a leaf's radius.
        texture_amplitude: largest texture amplitude (in units of the texture's std).
        n_textures: number of independent texture fields per image.
        blur_max: largest blur σ in pixels.
    """

    gradient: float = 0.3
    texture_amplitude: float = 0.15
    n_textures: int = 4
    blur_max: float = 1.5

    spec: ClassVar[str] = "deadleaves-textured"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("gradient", "texture_amplitude", "blur_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) or not 0 <= v < math.inf:
                raise ValueError(f"{name}={v!r} must be a finite number >= 0")
        if not is_int(self.n_textures) or self.n_textures < 1:
            raise ValueError(f"n_textures={self.n_textures!r} must be a positive integer")

    def _image(self, i: int) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        lv = self._leaves(i)
        rng = np.random.default_rng([self.seed, i, 1])
        K, C, H, W = lv.r.size, self.channels, self.size, self.size
        theta = rng.uniform(0.0, 2.0 * np.pi, (K, C))
        slope = float(self.gradient) * rng.random((K, C)) / np.maximum(lv.r, 0.5)[:, None]
        tex = rng.integers(int(self.n_textures), size=K)
        amp = float(self.texture_amplitude) * rng.random(K)
        fields_ = _noise_fields(rng, int(self.n_textures), H, W)
        sigma = float(self.blur_max) * rng.random()
        lab = lv.label
        yy, xx = np.mgrid[0:H, 0:W]
        dx = (xx - lv.cx[lab])[..., None]
        dy = (yy - lv.cy[lab])[..., None]
        val = lv.colour[lab] + slope[lab] * (np.cos(theta[lab]) * dx + np.sin(theta[lab]) * dy)
        val += (amp[lab] * fields_[tex[lab], yy, xx])[..., None]
        img = np.clip(np.moveaxis(val, -1, 0), 0.0, 1.0)
        if sigma > 0:
            img = gaussian_filter(img, sigma=(0.0, sigma, sigma), mode="reflect", truncate=4.0)
        return np.ascontiguousarray(np.clip(img, 0.0, 1.0), dtype=np.float32)

    def parameters(self) -> dict[str, Any]:
        return {
            **super().parameters(),
            "gradient": float(self.gradient),
            "texture_amplitude": float(self.texture_amplitude),
            "n_textures": int(self.n_textures),
            "texture_spectrum": "1/f amplitude, random phase",
            "blur_max": float(self.blur_max),
        }

    def notes(self) -> list[str]:
        return [
            "geometry and base colours as plain deadleaves with the same seed; per leaf: linear gradient and 1/f noise texture",
            f"whole image blurred with Gaussian sigma ~ U[0, {float(self.blur_max):g}] px; values clipped to [0, 1] before blurring",
        ]


# --------------------------------------------------------------------------------------------------
# phantoms
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PhantomSource(Source):
    """Random Shepp-Logan-like ellipse phantoms, greyscale in [0, 1].

    From ``default_rng([seed, i])`` (coordinates [-1, 1]², pixel centres): a head ellipse (semi-axes
    0.62-0.78 by 0.80-0.92, centre within ±0.05, tilt within ±15°) of "skull" intensity U[0.75, 1];
    inside it, the brain (the head shrunk by a skull thickness U[0.03, 0.07]) of intensity
    U[0.2, 0.5]; then ``min_ellipses``..``max_ellipses`` inner ellipses with centres in the brain,
    semi-axes U[0.05, 0.35] × the brain's shorter semi-axis, any rotation, and *additive*
    intensities U[-0.3, 0.5] (as in Shepp-Logan) confined to the brain. The sum is clipped to [0, 1].

    :meth:`complex_image` multiplies the magnitude by exp(iφ) with a smooth random phase φ from
    ``default_rng([seed, i, 1])``: a constant U[-π, π] plus four plane-wave cosines of at most one
    cycle across the field of view with amplitudes U[0, π/4]. :meth:`image` returns the magnitude.

    Attributes:
        phase: whether :meth:`complex_image` carries the random phase (else it is real).
        min_ellipses: smallest number of inner ellipses.
        max_ellipses: largest number of inner ellipses.
    """

    phase: bool = True
    min_ellipses: int = 4
    max_ellipses: int = 10

    spec: ClassVar[str] = "phantoms"
    allowed_channels: ClassVar[tuple[int, ...]] = (1,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.phase, (bool, np.bool_)):
            raise ValueError(f"phase={self.phase!r} must be True or False")
        if not (is_int(self.min_ellipses) and is_int(self.max_ellipses) and 0 <= self.min_ellipses <= self.max_ellipses):
            raise ValueError(
                f"min_ellipses={self.min_ellipses!r}, max_ellipses={self.max_ellipses!r} must be integers with 0 <= min <= max"
            )

    @cached_property
    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        t = (np.arange(self.size) + 0.5) / self.size * 2.0 - 1.0
        return t[None, :], t[:, None]  # x (1, W), y (H, 1)

    def _magnitude(self, i: int) -> np.ndarray:
        """(size, size) float64 magnitude in [0, 1]."""
        rng = np.random.default_rng([self.seed, i])
        x, y = self._grid
        hx, hy = rng.uniform(-0.05, 0.05, 2)
        ha, hb = rng.uniform(0.62, 0.78), rng.uniform(0.80, 0.92)
        ht = rng.uniform(-np.pi / 12, np.pi / 12)
        skull, thick, brain = rng.uniform(0.75, 1.0), rng.uniform(0.03, 0.07), rng.uniform(0.2, 0.5)
        ba, bb = ha - thick, hb - thick
        m = int(rng.integers(int(self.min_ellipses), int(self.max_ellipses) + 1))
        rho = 0.75 * np.sqrt(rng.random(m))
        phi = rng.uniform(0.0, 2.0 * np.pi, m)
        ex, ey = rho * ba * np.cos(phi), rho * bb * np.sin(phi)  # in the head's frame
        cx = hx + np.cos(ht) * ex - np.sin(ht) * ey
        cy = hy + np.sin(ht) * ex + np.cos(ht) * ey
        axes = rng.uniform(0.05, 0.35, (m, 2)) * min(ba, bb)
        rot = rng.uniform(0.0, np.pi, m)
        val = rng.uniform(-0.3, 0.5, m)

        def inside(x0, y0, a, b, t):
            dx, dy = x - x0, y - y0
            u = np.cos(t) * dx + np.sin(t) * dy
            v = -np.sin(t) * dx + np.cos(t) * dy
            return (u / a) ** 2 + (v / b) ** 2 <= 1.0

        head = inside(hx, hy, ha, hb, ht)
        interior = inside(hx, hy, ba, bb, ht)
        img = np.where(head, skull, 0.0) + np.where(interior, brain - skull, 0.0)
        if m:
            p = (cx[:, None, None], cy[:, None, None], axes[:, 0, None, None], axes[:, 1, None, None], rot[:, None, None])
            img = img + interior * np.tensordot(val, inside(*p), axes=1)
        return np.clip(img, 0.0, 1.0)

    def _image(self, i: int) -> np.ndarray:
        return self._magnitude(i).astype(np.float32)[None]

    def complex_image(self, i: int) -> np.ndarray:
        """Complex phantom with a smooth random phase (see the class docstring).

        Args:
            i: index.

        Returns:
            (size, size) complex64 array whose modulus is ``image(i)[0]``.
        """
        i = self._check_index(i)
        mag = self._magnitude(i)
        if not self.phase:
            return mag.astype(np.complex64)
        rng = np.random.default_rng([self.seed, i, 1])
        x, y = self._grid
        phi = rng.uniform(-np.pi, np.pi) + np.zeros_like(mag)
        for _ in range(4):
            fx, fy = rng.uniform(-1.0, 1.0, 2)
            phi = phi + rng.uniform(0.0, np.pi / 4) * np.cos(np.pi * (fx * x + fy * y) + rng.uniform(0.0, 2.0 * np.pi))
        return (mag * np.exp(1j * phi)).astype(np.complex64)

    def parameters(self) -> dict[str, Any]:
        return {"phase": bool(self.phase), "min_ellipses": int(self.min_ellipses), "max_ellipses": int(self.max_ellipses)}

    def notes(self) -> list[str]:
        return [
            "Shepp-Logan-like: head ellipse, skull rim, additive inner ellipses clipped to [0, 1]; piecewise constant",
            "image() is the magnitude; complex_image() adds a smooth random phase (low-frequency cosines) when phase=True",
        ]
