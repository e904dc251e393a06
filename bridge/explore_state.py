"""The explorer's state: every setting of the page, the URL query that holds it, and its N grid (numpy only).

:mod:`bridge.explore_curves` computes what a state shows and :mod:`bridge.explore` draws it; nothing
here imports Panel or Bokeh, so a state is testable without a browser and the same in a notebook,
the served page and the CLI.

* :class:`ExplorerState` — every setting of the page (signal, task, σ, σ_t, estimators, N range, axis,
  data-free form, the simulation's draws and seed). :func:`parse_query` builds it from a URL query (``?n=100&d=10&sigma=0.1…``) and
  refuses bad settings with :class:`StateError`, one line naming the setting and the fix;
  :func:`to_query` writes it back, so a link restores the view.
* :func:`N_grid` — the plotted training-set sizes of a state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np

__all__ = [
    "DATA_FREE",
    "ESTIMATORS",
    "FORMS",
    "LABELS",
    "PHOTO_SIZES",
    "SIMULATED",
    "ExplorerState",
    "N_grid",
    "StateError",
    "exact_text",
    "parse_query",
    "to_query",
]

#: estimators the page offers, in legend order (names as ``reconscale theory curve --estimator``).
ESTIMATORS: tuple[str, ...] = ("optimal", "gd-oracle", "ridge", "ols", "pca", "gd-val")
#: those the data-free forms identify; ``pca`` and ``gd-val`` need simulated training sets.
DATA_FREE: tuple[str, ...] = ("optimal", "gd-oracle", "ridge", "ols")
#: those only "check with simulation" shows (Monte Carlo over training sets).
SIMULATED: tuple[str, ...] = tuple(e for e in ESTIMATORS if e not in DATA_FREE)
LABELS: dict[str, str] = {
    "optimal": "W* (the floor)",
    "gd-oracle": "GD at k_opt",
    "ridge": "ridge, best λ",
    "ols": "least squares W^∞",
    "pca": "W_PCA",
    "gd-val": "GD, validation-stopped",
}
#: data-free forms: the population (large-N) law, and the random-matrix deterministic equivalent.
FORMS: tuple[str, ...] = ("large-n", "asymptotic")
SIGNALS: tuple[str, ...] = ("subspace", "powerlaw", "photos")
#: crop sides h of the bundled photos' spectra (n = h²), shipped in ``bridge/data``.
PHOTO_SIZES: tuple[int, ...] = (8, 16, 32)
TASKS: tuple[str, ...] = ("denoise", "mri", "sr")
AXES: tuple[str, ...] = ("risk", "psnr")
#: most N points the random-matrix form draws (7–20 s for 6 points at n = 100–1024, GD's k_opt included).
ASYMPTOTIC_POINTS = 8
N_LIMIT = 10_000_000
n_LIMIT = 4096
#: Monte Carlo draws per N of "check with simulation" (the bound on its cost is in bridge.explore_sim).
RUNS_RANGE = (2, 200)
#: held-out examples of validation-stopped GD (gd-val) in the simulation.
NVAL_RANGE = (1, 10_000)


class StateError(ValueError):
    """A bad setting; the message is the one line the page shows."""


@dataclass(frozen=True)
class ExplorerState:
    """Every setting of the explorer; the URL query holds all of them (keys in ``_KEYS``).

    Attributes:
        signal: ``"subspace"`` (x in a random d-dimensional subspace of R^n), ``"powerlaw"``
            (covariance eigenvalues j^−α in the pixel basis) or ``"photos"`` (the second-moment
            eigenvalues of ``size``×``size`` crops of the bundled photos, pixel values in [0, 1]).
        n, d, alpha, size: ambient dimension, subspace dimension (subspace), exponent α (powerlaw),
            crop side (photos; n is then size², whatever was given).
        task: ``"denoise"``, ``"mri"`` (``accel``, ``center_fraction``) or ``"sr"`` (``scale``); MRI and
            SR need a square image, n = h².
        sigma, sigma_t: measurement noise σ and training-target noise σ_t (0: clean targets).
        estimators: names from :data:`ESTIMATORS`.
        N_min, N_max, points: the N grid (``points`` geometric sizes, rounded, duplicates dropped).
        axis: ``"risk"`` (log) or ``"psnr"``. form: one of :data:`FORMS`.
        N_path: the N at which the GD path R(W^k) against k is drawn.
        runs, seed, nval: the simulation's draws per N, its seed, and gd-val's held-out examples.
    """

    signal: str = "subspace"
    n: int = 100
    d: int = 10
    alpha: float = 1.0
    size: int = 16
    task: str = "denoise"
    accel: float = 4.0
    center_fraction: float = 0.08
    scale: int = 2
    sigma: float = 0.1
    sigma_t: float = 0.0
    estimators: tuple[str, ...] = ("optimal", "gd-oracle", "ridge", "ols")
    N_min: int = 10
    N_max: int = 100_000
    points: int = 16
    axis: str = "risk"
    form: str = "large-n"
    N_path: int = 1000
    runs: int = 10
    seed: int = 0
    nval: int = 20

    def __post_init__(self) -> None:
        if self.signal == "photos" and self.size in PHOTO_SIZES:
            object.__setattr__(self, "n", self.size**2)  # the spectrum fixes n; the n box does not apply
        _check(self)

    @property
    def rotation_invariant(self) -> bool:
        """One population suffices (denoising, or a spectrum in a fixed basis)."""
        return self.task == "denoise" or self.signal in ("powerlaw", "photos")


# query key -> (field, kind); kinds: int, float, str, list
_KEYS: dict[str, tuple[str, str]] = {
    "signal": ("signal", "str"), "n": ("n", "int"), "d": ("d", "int"), "alpha": ("alpha", "float"),
    "size": ("size", "int"),
    "task": ("task", "str"), "accel": ("accel", "float"), "cf": ("center_fraction", "float"),
    "scale": ("scale", "int"), "sigma": ("sigma", "float"), "sigma_t": ("sigma_t", "float"),
    "est": ("estimators", "list"), "Nmin": ("N_min", "int"), "Nmax": ("N_max", "int"),
    "points": ("points", "int"), "axis": ("axis", "str"), "form": ("form", "str"), "Npath": ("N_path", "int"),
    "runs": ("runs", "int"), "seed": ("seed", "int"), "nval": ("nval", "int"),
}
_FIELD_KEY = {f: k for k, (f, _) in _KEYS.items()}


def _check(s: ExplorerState) -> None:
    """Refuse a bad combination in one line that names the setting and the fix."""
    def choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            raise StateError(f"{key}={value!r} is not a choice: use one of {', '.join(allowed)}")

    choice("signal", s.signal, SIGNALS)
    choice("task", s.task, TASKS)
    choice("axis", s.axis, AXES)
    choice("form", s.form, FORMS)
    for v in s.estimators:
        choice("est", v, ESTIMATORS)
    if not s.estimators:
        raise StateError("est is empty: show at least one estimator, e.g. est=optimal,gd-oracle")
    if not 2 <= s.n <= n_LIMIT:
        raise StateError(f"n={s.n} is out of range: choose 2 ≤ n ≤ {n_LIMIT}")
    if s.signal == "subspace" and not 1 <= s.d < s.n:
        raise StateError(f"d={s.d} ≥ n={s.n}: choose 1 ≤ d < n" if s.d >= s.n else f"d={s.d}: choose 1 ≤ d < n")
    if s.signal == "powerlaw" and not (math.isfinite(s.alpha) and 0 <= s.alpha <= 10):
        raise StateError(f"alpha={s.alpha:g} is out of range: choose 0 ≤ alpha ≤ 10")
    if s.signal == "photos":
        if s.size not in PHOTO_SIZES:
            raise StateError(f"size={s.size}: the photos' spectrum is shipped for crops of side "
                             f"{', '.join(map(str, PHOTO_SIZES))}; choose one of them")
        if s.task != "denoise":
            # only the eigenvalues are shipped: they fix every denoising risk here (train = test
            # distribution, so the basis drops out), not that of an operator, which sees the eigenvectors
            raise StateError(f"task={s.task} with signal=photos: the shipped photo spectra hold eigenvalues only, "
                             "which fix denoising but not MRI or SR; choose task=denoise")
    if not (math.isfinite(s.sigma) and s.sigma >= 0):
        raise StateError(f"sigma={s.sigma:g}: choose a finite noise level σ ≥ 0")
    if s.form == "asymptotic" and not s.sigma > 0:
        raise StateError(f"sigma={s.sigma:g} with the random-matrix form: choose sigma > 0 or form=large-n")
    if not s.sigma > 0:  # the floor would be 0: no PSNR, no place on the log risk axis
        raise StateError(f"sigma={s.sigma:g}: noise-free data have a zero floor, which log axes cannot show; "
                         "choose sigma > 0")
    if not (math.isfinite(s.sigma_t) and s.sigma_t >= 0):
        raise StateError(f"sigma_t={s.sigma_t:g}: choose a finite target noise σ_t ≥ 0 (0: clean targets)")
    if not 1 <= s.N_min < s.N_max <= N_LIMIT:
        raise StateError(f"Nmin={s.N_min}, Nmax={s.N_max}: choose 1 ≤ Nmin < Nmax ≤ {N_LIMIT:,}")
    if not 4 <= s.points <= 64:
        raise StateError(f"points={s.points}: choose 4 ≤ points ≤ 64")
    if s.form == "asymptotic" and s.points > ASYMPTOTIC_POINTS:
        # seconds per N (GD's k_opt search on a contour): bound how long one redraw holds the page
        raise StateError(f"points={s.points} with the random-matrix form (seconds per N): choose points ≤ "
                         f"{ASYMPTOTIC_POINTS} or form=large-n")
    if not 1 <= s.N_path <= N_LIMIT:
        raise StateError(f"Npath={s.N_path}: choose 1 ≤ Npath ≤ {N_LIMIT:,}")
    if not RUNS_RANGE[0] <= s.runs <= RUNS_RANGE[1]:
        raise StateError(f"runs={s.runs}: choose {RUNS_RANGE[0]} ≤ runs ≤ {RUNS_RANGE[1]} simulation draws per N")
    if not 0 <= s.seed < 2**32:
        raise StateError(f"seed={s.seed}: choose a whole number 0 ≤ seed < 2³²")
    if not NVAL_RANGE[0] <= s.nval <= NVAL_RANGE[1]:
        raise StateError(f"nval={s.nval}: choose {NVAL_RANGE[0]} ≤ nval ≤ {NVAL_RANGE[1]:,} held-out examples for gd-val")
    if s.task != "denoise":
        side = math.isqrt(s.n)
        if side * side != s.n:
            raise StateError(f"task={s.task} needs a square image: n={s.n} is not h², choose e.g. n=100 or n=1024")
        if s.task == "mri" and not (math.isfinite(s.accel) and s.accel >= 1):
            raise StateError(f"accel={s.accel:g}: choose an MRI acceleration ≥ 1")
        if s.task == "mri" and not (math.isfinite(s.center_fraction) and 0 < s.center_fraction <= 1):
            raise StateError(f"cf={s.center_fraction:g}: choose a centre fraction in (0, 1]")
        if s.task == "sr" and not (s.scale >= 1 and side % s.scale == 0):
            raise StateError(f"scale={s.scale}: the factor must divide the image side {side}")


def _parse_value(key: str, kind: str, text: str) -> Any:
    text = text.strip()
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            try:
                v = float(text)
            except ValueError:
                v = math.nan
            if math.isfinite(v) and v == int(v):
                return int(v)
            raise StateError(f"{key}={text!r} is not a whole number: e.g. {key}=100") from None
    if kind == "float":
        try:
            v = float(text)
        except ValueError:
            raise StateError(f"{key}={text!r} is not a number: e.g. {key}=0.1") from None
        if not math.isfinite(v):
            raise StateError(f"{key}={text!r} is not a finite number: e.g. {key}=0.1")
        return v
    if kind == "list":
        return tuple(t.strip() for t in text.split(",") if t.strip())
    return text


def parse_query(query: str | Mapping[str, Any], base: ExplorerState | None = None) -> ExplorerState:
    """The state a URL query asks for; keys it omits keep ``base`` (default: the defaults).

    Args:
        query: ``"?n=100&d=10"`` (leading ``?`` optional) or a mapping of key to text (a list value,
            as ``parse_qs`` gives, uses its last item).
        base: the state to start from.

    Raises:
        StateError: an unknown key, a non-numeric value or a bad combination; one line.
    """
    items = parse_qsl(query.lstrip("?"), keep_blank_values=True) if isinstance(query, str) else list(query.items())
    values: dict[str, Any] = {}
    for key, raw in items:
        if isinstance(raw, (list, tuple)) and key != "est":
            raw = raw[-1] if raw else ""
        if key not in _KEYS:
            raise StateError(f"unknown setting {key!r}: the URL keys are {', '.join(_KEYS)}")
        name, kind = _KEYS[key]
        text = ",".join(map(str, raw)) if isinstance(raw, (list, tuple)) else str(raw)
        values[name] = _parse_value(key, kind, text)
    return replace(base or ExplorerState(), **values)


def exact_text(v: float) -> str:
    """Shortest text that reads back as exactly ``v`` (for URL queries and the equivalent command).

    Args:
        v: a finite float.

    Returns:
        ``f"{v:g}"`` when that reads back as ``v``, else ``repr(v)``.
    """
    t = f"{v:g}"
    return t if float(t) == v else repr(float(v))


def to_query(state: ExplorerState) -> str:
    """The whole state as a URL query without the ``?`` (every key, so a link restores the view)."""
    out = {}
    for f in fields(state):
        v = getattr(state, f.name)
        out[_FIELD_KEY[f.name]] = ",".join(v) if isinstance(v, tuple) else (exact_text(v) if isinstance(v, float) else str(v))
    return urlencode(out, safe=",")


def N_grid(state: ExplorerState) -> np.ndarray:
    """The plotted training-set sizes: ``points`` geometric sizes from N_min to N_max, rounded."""
    return np.unique(np.round(np.geomspace(state.N_min, state.N_max, state.points)).astype(int))
