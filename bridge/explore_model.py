"""The explorer's model: its state, the URL query that holds it, and the points it plots (numpy only).

:mod:`bridge.explore` draws what this module computes; nothing here imports Panel or Bokeh, so the
numbers are testable without a browser and the same in a notebook, the served page and the CLI.

* :class:`ExplorerState` — every setting of the page (signal, task, σ, σ_t, estimators, N range, axis,
  data-free form). :func:`parse_query` builds it from a URL query (``?n=100&d=10&sigma=0.1…``) and
  refuses bad settings with :class:`StateError`, one line naming the setting and the fix;
  :func:`to_query` writes it back, so a link restores the view.
* :func:`curves` — the plotted points from the theory's **data-free** forms (``large-n``: the population
  law, milliseconds; ``asymptotic``: the random-matrix deterministic equivalent, accurate at small N too
  but seconds per redraw), the floor R*, where more data stops helping (each doubling of N gains < 0.1
  dB), the GD path R(W^k) against k at one N with k_opt, the extra-examples factor of noisy targets
  (σ_t > 0), a few sentences, and the equivalent ``reconscale theory curve …`` command whose
  ``--format json`` rows carry the same numbers (for ridge: the smallest risk over its λ grid).

The loop over N and estimators follows :func:`theory.expected_risk` for the data-free methods (same
populations, same argmin over k, same means), but factorises each population once per setting and
caches it, which is what makes a redraw take milliseconds; the tests hold the two to a relative 1e-6.
PSNR here is ``−10 log10 R`` with R the normalised risk E‖Ŵy − x‖²/E‖x‖² (peak² = mean signal power).
"""

from __future__ import annotations

import functools
import json
import math
import shlex
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode

import numpy as np

from theory import (
    Population,
    PopulationSpectrum,
    Problem,
    SpectralSignal,
    SubspaceSignal,
    argmin_curve,
    argmin_steps,
    large_n_curve,
    make_operator,
    rmt_curve,
)
from theory.problem import merge_eigenvalues

from .extra import theory_extra_examples
from .uncertainty import mse_to_psnr

__all__ = [
    "ESTIMATORS",
    "DATA_FREE",
    "LABELS",
    "FORMS",
    "KMAX",
    "RIDGE_LAMBDAS",
    "ExplorerState",
    "StateError",
    "Result",
    "parse_query",
    "to_query",
    "N_grid",
    "command",
    "curves",
    "slowdown",
]

#: estimators the page offers, in legend order (names as ``reconscale theory curve --estimator``).
ESTIMATORS: tuple[str, ...] = ("optimal", "gd-oracle", "ridge", "ols", "pca", "gd-val")
#: those the data-free forms identify; ``pca`` and ``gd-val`` need simulated training sets.
DATA_FREE: tuple[str, ...] = ("optimal", "gd-oracle", "ridge", "ols")
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
SIGNALS: tuple[str, ...] = ("subspace", "powerlaw")
TASKS: tuple[str, ...] = ("denoise", "mri", "sr")
AXES: tuple[str, ...] = ("risk", "psnr")
#: early stopping searches k ≤ KMAX (the paper's and the CLI's default).
KMAX = 5000
#: ridge's λ grid (1 and 3 per decade, printed exactly in the command); "best λ" is the best on it.
RIDGE_LAMBDAS: tuple[float, ...] = tuple(float(f"{m}e{e}") for e in range(-4, 7) for m in (1, 3))
#: signal-basis draws for problems that are not rotation invariant (MRI/SR of a random subspace).
BASIS_RUNS = 8
#: the "more data stops helping" threshold: gain of one doubling of N, in dB.
DOUBLING_DB = 0.1
#: most N points the random-matrix form draws (7–20 s for 6 points at n = 100–1024, GD's k_opt included).
ASYMPTOTIC_POINTS = 8
N_LIMIT = 10_000_000
n_LIMIT = 4096


class StateError(ValueError):
    """A bad setting; the message is the one line the page shows."""


@dataclass(frozen=True)
class ExplorerState:
    """Every setting of the explorer; the URL query holds all of them (keys in ``_KEYS``).

    Attributes:
        signal: ``"subspace"`` (x in a random d-dimensional subspace of R^n) or ``"powerlaw"``
            (covariance eigenvalues j^−α in the pixel basis).
        n, d, alpha: ambient dimension, subspace dimension (subspace), exponent α (powerlaw).
        task: ``"denoise"``, ``"mri"`` (``accel``, ``center_fraction``) or ``"sr"`` (``scale``); MRI and
            SR need a square image, n = h².
        sigma, sigma_t: measurement noise σ and training-target noise σ_t (0: clean targets).
        estimators: names from :data:`ESTIMATORS`.
        N_min, N_max, points: the N grid (``points`` geometric sizes, rounded, duplicates dropped).
        axis: ``"risk"`` (log) or ``"psnr"``. form: one of :data:`FORMS`.
        N_path: the N at which the GD path R(W^k) against k is drawn.
    """

    signal: str = "subspace"
    n: int = 100
    d: int = 10
    alpha: float = 1.0
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

    def __post_init__(self) -> None:
        _check(self)

    @property
    def rotation_invariant(self) -> bool:
        """One population suffices (denoising, or the power law's fixed basis)."""
        return self.task == "denoise" or self.signal == "powerlaw"


# query key -> (field, kind); kinds: int, float, str, list
_KEYS: dict[str, tuple[str, str]] = {
    "signal": ("signal", "str"), "n": ("n", "int"), "d": ("d", "int"), "alpha": ("alpha", "float"),
    "task": ("task", "str"), "accel": ("accel", "float"), "cf": ("center_fraction", "float"),
    "scale": ("scale", "int"), "sigma": ("sigma", "float"), "sigma_t": ("sigma_t", "float"),
    "est": ("estimators", "list"), "Nmin": ("N_min", "int"), "Nmax": ("N_max", "int"),
    "points": ("points", "int"), "axis": ("axis", "str"), "form": ("form", "str"), "Npath": ("N_path", "int"),
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


def _num(v: float) -> str:
    """Shortest text that reads back as exactly ``v``."""
    t = f"{v:g}"
    return t if float(t) == v else repr(float(v))


def to_query(state: ExplorerState) -> str:
    """The whole state as a URL query without the ``?`` (every key, so a link restores the view)."""
    out = {}
    for f in fields(state):
        v = getattr(state, f.name)
        out[_FIELD_KEY[f.name]] = ",".join(v) if isinstance(v, tuple) else (_num(v) if isinstance(v, float) else str(v))
    return urlencode(out, safe=",")


def N_grid(state: ExplorerState) -> np.ndarray:
    """The plotted training-set sizes: ``points`` geometric sizes from N_min to N_max, rounded."""
    return np.unique(np.round(np.geomspace(state.N_min, state.N_max, state.points)).astype(int))


# ---------------------------------------------------------------------------------------- theory
def _problem(state: ExplorerState, sigma_t: float | None = None):
    """The :class:`theory.Problem` of a state (as ``reconscale theory curve`` builds it)."""

    signal = SubspaceSignal(state.n, state.d) if state.signal == "subspace" else SpectralSignal.powerlaw(state.n, state.alpha)
    op = None
    if state.task != "denoise":
        side = math.isqrt(state.n)
        try:
            if state.task == "mri":
                op = make_operator("mri", (side, side), accel=state.accel, center_fraction=state.center_fraction,
                                   mask="equispaced", seed=0)
            else:
                op = make_operator("sr", (side, side), scale=state.scale)
        except ValueError as e:
            raise StateError(f"task={state.task}: {str(e).splitlines()[0]}") from None
    return Problem(signal, state.sigma, op, target_sigma=state.sigma_t if sigma_t is None else sigma_t)


def _basis_key(state: ExplorerState) -> tuple:
    """What the signal bases and the operator depend on (not σ, σ_t, the axis, the N range or the estimators)."""
    return (state.signal, state.n, state.d if state.signal == "subspace" else None,
            state.alpha if state.signal == "powerlaw" else None, state.task,
            (state.accel, state.center_fraction) if state.task == "mri" else None,
            state.scale if state.task == "sr" else None)


@functools.lru_cache(maxsize=16)
def _bases(key: tuple, state: ExplorerState) -> tuple:
    """The signal factors B and the operator matrix A, drawn as :func:`theory.expected_risk` draws them.

    Seed 0: ``base = default_rng(0).integers(2**62)``, population q from ``default_rng([base, q])``
    (:meth:`theory.Problem.population`), one canonical population when the problem is rotation
    invariant. Cached apart from σ, so moving σ refactorises only the spectrum.
    """
    problem = _problem(state, sigma_t=0.0)
    rng = np.random.default_rng(0)
    base = int(rng.integers(2**62))  # as theory.curves draws it, whatever the number of populations
    A = None if problem.is_denoising else problem.operator.matrix()
    if problem.rotation_invariant:
        Bs = (problem.signal.canonical_factor(),)
    else:
        Bs = tuple(problem.signal.factor(rng=np.random.default_rng([base, q])) for q in range(BASIS_RUNS))
    out = []
    for B in Bs:
        AB = B if A is None else A @ B
        out.append((B, AB, np.linalg.svd(AB, full_matrices=False)))
    return tuple(out), A


@functools.lru_cache(maxsize=32)
def _populations(key: tuple, state: ExplorerState) -> tuple:
    """(population, spectrum) pairs at the state's σ with clean targets (σ_t is set per call).

    What :meth:`theory.Population.spectrum` computes, from the SVD AB = U diag(s) Vᵀ cached per basis
    (it does not depend on σ): λ = s² + σ² (and σ² on the m − rank rest), ω_i = Σ_a (UᵀK)_ia² μ_a with
    UᵀK = diag(s/(s² + σ²)) Vᵀ, tr Σ_e = σ² Σ_j μ_j (S⁻¹)_jj with S = (AB)ᵀAB + σ²I = V diag(s² + σ²) Vᵀ
    (plus 1/σ² on the null space of AB). A change of σ then costs no n×n factorisation; the tests hold
    the result to the CLI's (which factorises afresh) to a relative 1e-6.
    """

    sigma = float(state.sigma)
    bases, A = _bases(_basis_key(state), _physics(replace(state, sigma=ExplorerState.sigma)))
    out = []
    for B, AB, (Ua, s, Vt) in bases:
        pop = Population(B, A, sigma)
        mu = pop.mu
        m, p = AB.shape
        vv = Vt**2  # (r0, p): squared right singular vectors
        inrange = vv.sum(axis=0)  # Σ_k V_jk², < 1 where AB has a null space (p > m)
        if sigma > 0:
            trace_e = float(sigma**2 * np.sum(mu * ((vv / (s**2 + sigma**2)[:, None]).sum(axis=0)
                                                    + (1.0 - inrange) / sigma**2)))
        else:  # σ = 0 is refused by _check (a zero floor has no place on log axes); kept for completeness
            rank0 = int(np.sum(s > s[0] * max(AB.shape) * np.finfo(float).eps))
            trace_e = float(np.sum(mu * (1.0 - (Vt[:rank0] ** 2).sum(axis=0))))
        # the cached properties Population would compute with n×n algebra (same formulas, from the SVD)
        pop.__dict__.update(AB=AB, trace_e=max(trace_e, 0.0), trace_y=float(np.sum(AB**2) + sigma**2 * m),
                            lam_max_y=float(s[0] ** 2 + sigma**2))
        rank = int(np.sum(s > s[0] * max(AB.shape) * np.finfo(float).eps))
        sr, Vr = s[:rank], Vt[:rank]
        UK = (sr / (sr**2 + sigma**2))[:, None] * Vr if sigma > 0 else (1.0 / sr)[:, None] * Vr
        omega_i = np.einsum("ia,a,ia->i", UK, mu, UK)
        lam_i = np.concatenate([sr**2 + sigma**2, np.full(m - rank, sigma**2)])
        om_i = np.concatenate([omega_i, np.zeros(m - rank)])
        order = np.argsort(lam_i)[::-1]
        lam, mult, omega = merge_eigenvalues(lam_i[order], om_i[order])
        sp = PopulationSpectrum(lam, mult, omega, pop.trace_x, pop.trace_e, 0.0)
        out.append((pop, sp))
    return tuple(out)



def _physics(state: ExplorerState) -> ExplorerState:
    """The state with every setting the populations do not depend on at its default.

    The caches key on it, so moving the N range, the axis, σ_t or the estimators reuses them.
    """
    d = ExplorerState()
    return ExplorerState(signal=state.signal, n=state.n, d=state.d if state.signal == "subspace" else d.d,
                         alpha=state.alpha if state.signal == "powerlaw" else d.alpha, task=state.task,
                         accel=state.accel if state.task == "mri" else d.accel,
                         center_fraction=state.center_fraction if state.task == "mri" else d.center_fraction,
                         scale=state.scale if state.task == "sr" else d.scale, sigma=state.sigma)


def _population_key(state: ExplorerState) -> tuple:
    return (*_basis_key(state), state.sigma)


#: cached properties of a Population that σ_t does not change (see theory.problem.Population)
_TARGET_FREE = ("AB", "mu", "trace_x", "trace_e", "trace_y", "lam_max_y")


def _with_target(state: ExplorerState, sigma_t: float) -> list:
    """(population, spectrum) pairs with the targets' noise σ_t (only the variance trace changes)."""

    out = []
    for pop, sp in _populations(_population_key(state), _physics(state)):
        if sigma_t:
            noisy = Population(pop.B, pop.A, pop.sigma, target_sigma=sigma_t)
            # W*, traces and λ_max(Σ_y) do not depend on the targets' noise: reuse the clean
            # population's cached values instead of refactorising an n×n matrix per redraw.
            noisy.__dict__.update({k: v for k, v in pop.__dict__.items() if k in _TARGET_FREE})
            pop, sp = noisy, replace(sp, trace_zt=pop.n * sigma_t**2)
        out.append((pop, sp))
    return out


def _fn(form: str):
    return large_n_curve if form == "large-n" else rmt_curve


def _argmin(state: ExplorerState, curve) -> tuple[int, float]:
    """argmin over integers k ≤ KMAX of the expected GD curve.

    Random-matrix form: :func:`theory.argmin_curve` exactly as the CLI runs it. Large-N law: the CLI
    evaluates all 5,001 k; :func:`theory.argmin_steps` evaluates ~400 (nested grids around the
    minimum) and finds the same integer k wherever the curve is unimodal near its minimum (a falling
    bias plus a rising variance; the tests hold page and CLI to 1e-6 on subspace, power-law, MRI and SR
    settings). A curve with two separate dips could give a local minimum here: then the page's GD
    point would differ from the CLI's.
    """

    if state.form == "large-n":
        return argmin_steps(curve, KMAX)
    return argmin_curve(curve, KMAX, dense=False)


def _estimator_curve(state: ExplorerState, name: str, Ns: np.ndarray, pops: list) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean risk over populations at each N (ridge: the best λ of the grid) and gd-oracle's mean k_opt."""
    fn = _fn(state.form)
    risk = np.empty((len(pops), Ns.size, len(RIDGE_LAMBDAS) if name == "ridge" else 1))
    kopt = np.full((len(pops), Ns.size), np.nan)
    for q, (pop, sp) in enumerate(pops):
        for j, N in enumerate(Ns):
            if name == "optimal":
                risk[q, j] = sp.floor
            elif name == "ols":
                risk[q, j] = fn(pop, int(N), "ols", spectrum=sp)
            elif name == "ridge":
                risk[q, j] = fn(pop, int(N), "ridge", RIDGE_LAMBDAS, spectrum=sp)
            else:
                k, r = _argmin(state, functools.partial(fn, pop, int(N), "gd", lr="paper", spectrum=sp))
                risk[q, j], kopt[q, j] = r, k
    mean = risk.mean(axis=0).min(axis=1)  # the CLI's rows are means over populations; best λ of those
    return mean, (kopt.mean(axis=0) if name == "gd-oracle" else None)


@dataclass(frozen=True)
class Result:
    """What the page shows for one state (all plain Python values, JSON-ready).

    Attributes:
        points: plotted points ``{"estimator", "N", "risk", "psnr"}`` (the ``curves`` contract).
        floor: R* (mean over populations). k_opt: gd-oracle's k_opt at each N (if shown).
        slowdown: ``{"estimator", "N", "text"}``; ``N`` is None when not identified (``text`` says why).
        path: ``{"N", "k", "risk", "k_opt", "risk_opt"}`` — the GD path at ``N_path``.
        extra: rows of :func:`bridge.theory_extra_examples` (σ_t > 0), else [].
        sentences: what the settings show, in words. command: the equivalent CLI command.
        not_shown: estimators selected that the data-free forms do not identify, with the reason.
    """

    points: list[dict]
    floor: float
    k_opt: dict[int, float]
    slowdown: dict
    path: dict
    extra: list[dict]
    sentences: list[str]
    command: str
    not_shown: dict[str, str] = field(default_factory=dict)

    def points_json(self) -> str:
        """The ``curves`` contract as JSON text."""
        return json.dumps(self.points)


def slowdown(N: np.ndarray, risk: np.ndarray, *, db: float = DOUBLING_DB) -> tuple[float | None, str]:
    """Where more data stops helping: the grid N beyond which each doubling of N gains < ``db`` dB.

    The gain per doubling on each grid segment is its PSNR rise over log2 of its N ratio; the answer is
    the start of the first segment from which every later one gains less.

    Returns:
        (N or None, the sentence); None when the grid does not show it (with the reason).
    """
    psnr = mse_to_psnr(risk)
    N = np.asarray(N, dtype=float)
    if N.size < 2:
        return None, "not identified: the N grid has one point"
    gain = np.diff(psnr) / np.diff(np.log2(N))
    slow = gain < db
    if slow[-1] == False:  # noqa: E712 (numpy bool)
        return None, (f"not identified in this range: at N = {int(N[-1]):,} each doubling still gains "
                      f"{gain[-1]:.2g} dB ≥ {db:g} dB; raise Nmax")
    i = int(np.flatnonzero(~slow)[-1] + 1) if (~slow).any() else 0
    if i == 0:
        return float(N[0]), f"already at N = {int(N[0]):,} each doubling gains < {db:g} dB; lower Nmin to see the rise"
    return float(N[i]), f"beyond N ≈ {_round2(N[i]):,} each doubling gains < {db:g} dB"


def _round2(x: float) -> int:
    """Two significant figures (the grid point is only as exact as the grid's spacing)."""
    if x < 100:
        return int(round(x))
    p = 10 ** (int(math.floor(math.log10(x))) - 1)
    return int(round(x / p) * p)


def command(state: ExplorerState) -> str:
    """The ``reconscale theory curve …`` command whose ``--format json`` rows give the page's numbers.

    Ridge prints one row per λ of :data:`RIDGE_LAMBDAS`; the page's "best λ" is the smallest risk of those.
    """
    shown = [e for e in state.estimators if e in DATA_FREE]
    a = ["reconscale", "theory", "curve", "--method", state.form, "--signal", state.signal, "--n", str(state.n)]
    if state.signal == "subspace":
        a += ["--d", str(state.d)]
    else:
        a += ["--alpha", _num(state.alpha)]
    a += ["--sigma", _num(state.sigma), "--target-sigma", _num(state.sigma_t), "--operator", state.task]
    if state.task == "mri":
        a += ["--accel", _num(state.accel), "--center-fraction", _num(state.center_fraction)]
    elif state.task == "sr":
        a += ["--scale", str(state.scale)]
    a += ["--N", ",".join(str(int(v)) for v in N_grid(state)), "--estimator", ",".join(shown or ["optimal"]),
          "--kmax", str(KMAX)]
    if "ridge" in shown:
        a += ["--lam", ",".join(_num(v) for v in RIDGE_LAMBDAS)]
    a += ["--runs", str(1 if state.rotation_invariant else BASIS_RUNS), "--seed", "0", "--format", "json", "--quiet"]
    return shlex.join(a)


def _path(state: ExplorerState, pops: list) -> dict:
    """Risk along the GD path at N_path on a geometric k grid, with k_opt (argmin of the expected curve)."""
    fn, N = _fn(state.form), state.N_path
    ks_opt, r_opt = [], []
    for pop, sp in pops:
        k, r = _argmin(state, functools.partial(fn, pop, N, "gd", lr="paper", spectrum=sp))
        ks_opt.append(k)
        r_opt.append(r)
    k_opt = float(np.mean(ks_opt))
    ks = np.unique(np.concatenate([[0], np.round(np.geomspace(1, KMAX, 48)), np.round(ks_opt)])).astype(float)
    risk = np.mean([fn(pop, N, "gd", ks, lr="paper", spectrum=sp) for pop, sp in pops], axis=0)
    return {"N": N, "k": ks.astype(int).tolist(), "risk": risk.tolist(), "k_opt": k_opt,
            "risk_opt": float(np.mean(r_opt))}


def _extra(state: ExplorerState, Ns: np.ndarray, risk_ss: np.ndarray) -> list[dict]:
    """Extra-examples factor of noisy targets: the N at which the σ_t curve matches the clean one."""

    sup, _ = _estimator_curve(state, "gd-oracle", Ns, _with_target(state, 0.0))
    try:
        return theory_extra_examples(Ns, sup, Ns, risk_ss)
    except ValueError as e:  # e.g. a curve that is not decreasing: say so, plot nothing
        return [{"N": float(N), "factor": None, "identified": False, "reason": str(e)} for N in Ns]


def _sentences(state: ExplorerState, floor: float, path: dict, slow: dict, extra: list[dict],
               not_shown: dict[str, str]) -> list[str]:
    r, N = path["risk_opt"], path["N"]
    learn = r - floor
    out = [f"The floor R* = {floor:.3g} ({float(mse_to_psnr(floor)):.1f} dB) is the risk of W*, the best linear estimator "
           "that knows the signal's distribution: no amount of data goes below it."]
    out.append(f"At N = {N:,}, gradient descent stopped at k_opt ≈ {path['k_opt']:.0f} has risk {r:.3g}: a learning "
               f"error of {learn:.3g} on top of the floor ({100 * learn / r:.0f}% of its error). "
               + ("More data can only remove that part." if learn > 0 else "It has learned all it can."))
    out.append(f"Where more data stops helping ({LABELS[slow['estimator']]}): {slow['text']}.")
    if state.signal == "subspace":
        out.append(f"The signal fills d/n = {state.d / state.n:.2g} of the space: the learning error is set by the d "
                   "signal directions, so a larger d needs proportionally more examples, and a larger σ raises "
                   "the floor and flattens the curve sooner.")
    else:
        out.append(f"The power-law spectrum (α = {state.alpha:g}) has no sharp subspace: every extra example "
                   "resolves weaker directions, so the curve bends slowly towards the floor.")
    if state.sigma_t > 0:
        ok = [row for row in extra if row.get("identified")]
        if ok:
            f = ok[-1]
            out.append(f"With noisy targets (σ_t = {state.sigma_t:g}) the floor is unchanged but learning is slower: "
                       f"matching clean training at N = {int(f['N']):,} takes {f['factor']:.2g}× the examples.")
        else:
            out.append(f"With noisy targets (σ_t = {state.sigma_t:g}) the extra-examples factor is not identified "
                       "on this grid: the noisy curve does not reach the clean one's risk in range.")
    out.append("Computed with the large-N (population) law: exact as N → ∞, optimistic where N is not much larger "
               "than n; the random-matrix form is accurate there too but takes seconds per redraw."
               if state.form == "large-n" else
               "Computed with the random-matrix deterministic equivalent (accurate for N comparable to n).")
    for name, why in not_shown.items():
        out.append(f"{LABELS[name]} is not shown: {why}.")
    return out


def curves(state: ExplorerState) -> Result:
    """Everything the page plots and says for ``state`` (cached: a repeated state costs nothing).

    Raises:
        StateError: when the data-free form cannot evaluate this setting (one line, the fix named).
    """
    return _curves(state)


@functools.lru_cache(maxsize=64)
def _curves(state: ExplorerState) -> Result:
    Ns = N_grid(state)
    pops = _with_target(state, state.sigma_t)
    not_shown = {e: "the data-free forms do not identify it (it needs simulated training sets)"
                 for e in state.estimators if e not in DATA_FREE}
    points: list[dict] = []
    best: dict[str, np.ndarray] = {}
    k_opt: dict[int, float] = {}
    try:
        for name in [e for e in state.estimators if e in DATA_FREE]:
            risk, ko = _estimator_curve(state, name, Ns, pops)
            best[name] = risk
            if ko is not None:
                k_opt = {int(N): float(k) for N, k in zip(Ns, ko)}
            points += [{"estimator": name, "N": int(N), "risk": float(r), "psnr": float(mse_to_psnr(r))} for N, r in zip(Ns, risk)]
        path = _path(state, pops)
        floor = float(np.mean([sp.floor for _, sp in pops]))
        slow_name = next((e for e in ("gd-oracle", "ridge", "ols") if e in best), None)
        if slow_name is None:  # only the floor is shown: the learning curve that marker needs is GD's
            slow_name = "gd-oracle"
            best[slow_name], _ = _estimator_curve(state, slow_name, Ns, pops)
        slow_N, slow_text = slowdown(Ns, best[slow_name])
        slow = {"estimator": slow_name, "N": slow_N, "text": slow_text}
        extra = []
        if state.sigma_t > 0:
            ss = best.get("gd-oracle")
            if ss is None:
                ss, _ = _estimator_curve(state, "gd-oracle", Ns, pops)
            extra = _extra(state, Ns, ss)
    except (ValueError, RuntimeError) as e:  # the theory's own one-line refusals (e.g. contour limits)
        raise StateError(f"{state.form} form: {(str(e).splitlines() or ['cannot evaluate'])[0]}") from None
    return Result(points=points, floor=floor, k_opt=k_opt, slowdown=slow, path=path, extra=extra,
                  sentences=_sentences(state, floor, path, slow, extra, not_shown), command=command(state),
                  not_shown=not_shown)
