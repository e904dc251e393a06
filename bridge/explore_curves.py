"""The explorer's numbers: what the page plots and says for one :class:`~bridge.explore_state.ExplorerState`
(numpy only; :mod:`bridge.explore` draws them, :mod:`bridge.explore_state` holds the settings).

* :func:`curves` — the plotted points from the theory's **data-free** forms (``large-n``: the population
  law, milliseconds; ``asymptotic``: the random-matrix deterministic equivalent, accurate at small N too
  but seconds per redraw), the floor R*, where more data stops helping (:func:`slowdown`: each doubling
  of N gains < 0.1 dB), the GD path R(W^k) against k at one N with k_opt, the extra-examples factor of
  noisy targets (σ_t > 0), a few sentences, and the equivalent ``reconscale theory curve …`` command
  (:func:`command`) whose ``--format json`` rows carry the same numbers (for ridge: the smallest risk
  over its λ grid).
* :func:`photo_spectrum` — the bundled photos' crop spectrum (``bridge/data/photos-S.npz``, written by
  ``benchmarks/photo_spectra.py`` from ``reconscale spectrum``) as a :class:`theory.datamodel.DataSpectrum`.
  Denoising with train = test distribution depends on Σ only through its eigenvalues (the learned W
  rotates with the basis), so only they are shipped; the command passes the file to ``theory curve
  --signal spectrum --spectrum FILE``. The random-matrix form of a photos state is the data-spectrum
  equivalent (:func:`theory.data_asymptotics.data_equivalent_curves`, as ``theory curve`` computes it for
  a spectrum file); :func:`theory.rmt_curve` of the same eigenvalues is its twin in the tests.

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
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from theory import (
    DataModel,
    Estimator,
    Population,
    PopulationSpectrum,
    Problem,
    ShiftSpectrum,
    SpectralSignal,
    SubspaceSignal,
    argmin_curve,
    argmin_steps,
    data_rmt_curve,
    large_n_curve,
    make_operator,
    rmt_curve,
    shift_spectrum,
)
from theory.data_asymptotics import data_equivalent_curves
from theory.datamodel import DataSpectrum
from theory.problem import merge_eigenvalues

from .explore_state import (
    DATA_FREE,
    LABELS,
    ExplorerState,
    N_grid,
    StateError,
    exact_text,
)
from .extra import theory_extra_examples
from .uncertainty import mse_to_psnr

__all__ = ["KMAX", "RIDGE_LAMBDAS", "Result", "command", "curves", "estimator", "photo_spectrum",
           "photo_spectrum_file", "problem", "signal_args", "slowdown"]

#: early stopping searches k ≤ KMAX (the paper's and the CLI's default).
KMAX = 5000
#: ridge's λ grid (1 and 3 per decade, printed exactly in the command); "best λ" is the best on it.
RIDGE_LAMBDAS: tuple[float, ...] = tuple(float(f"{m}e{e}") for e in range(-4, 7) for m in (1, 3))
#: signal-basis draws for problems that are not rotation invariant (MRI/SR of a random subspace).
BASIS_RUNS = 8
#: the "more data stops helping" threshold: gain of one doubling of N, in dB.
DOUBLING_DB = 0.1


# ---------------------------------------------------------------------------------------- theory
def photo_spectrum_file(size: int) -> Path:
    """The shipped spectrum of the photos' ``size``×``size`` crops (package data of ``bridge``)."""
    return Path(__file__).resolve().parent / "data" / f"photos-{int(size)}.npz"


@functools.lru_cache(maxsize=8)
def photo_spectrum(size: int) -> DataSpectrum:
    """The second-moment eigenvalues μ (n = size²,) of the bundled photos' crops, pixel values in [0, 1].

    Raises:
        StateError: the file is missing or unreadable (one line: how to get it back).
    """
    path = photo_spectrum_file(size)
    try:
        with np.load(path, allow_pickle=False) as z:
            mu, shape = np.asarray(z["P_mu"], dtype=float), tuple(int(v) for v in z["shape"])
    except (OSError, KeyError, ValueError) as e:
        raise StateError(f"signal=photos: cannot read {path} ({type(e).__name__}); reinstall reconscale or "
                         "regenerate it with `python benchmarks/photo_spectra.py`") from None
    return DataSpectrum(mu, shape=shape, label=f"photos {size}x{size}")


def estimator(name: str, nval: int = 0) -> Estimator:
    """The :class:`theory.Estimator` of a page name, as ``theory curve`` builds it from :func:`command`'s flags."""
    return Estimator(name, lam=RIDGE_LAMBDAS if name == "ridge" else (), kmax=KMAX,
                     n_val=nval if name == "gd-val" else 0)


@functools.lru_cache(maxsize=16)
def _data_model(size: int, sigma: float, sigma_t: float) -> tuple[DataModel, ShiftSpectrum]:
    """The photos' :class:`theory.DataModel` (train = test distribution) and its equivalent's spectrum."""
    model = DataModel(photo_spectrum(size), sigma, target_sigma=sigma_t)
    return model, shift_spectrum(model)


def _data_route(state: ExplorerState) -> bool:
    """Photos with the random-matrix form: computed by the data-spectrum equivalent (see the module doc)."""
    return state.signal == "photos" and state.form == "asymptotic"


def _signal(state: ExplorerState):
    if state.signal == "subspace":
        return SubspaceSignal(state.n, state.d)
    if state.signal == "powerlaw":
        return SpectralSignal.powerlaw(state.n, state.alpha)
    return photo_spectrum(state.size).signal()  # what `theory curve --signal spectrum` builds from the file


def problem(state: ExplorerState, sigma_t: float | None = None) -> Problem:
    """The :class:`theory.Problem` of a state, as ``reconscale theory curve`` builds it from :func:`command`.

    Args:
        state: the page's settings. sigma_t: the targets' noise (default: the state's).
    """

    signal = _signal(state)
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
            state.alpha if state.signal == "powerlaw" else None, state.size if state.signal == "photos" else None,
            state.task,
            (state.accel, state.center_fraction) if state.task == "mri" else None,
            state.scale if state.task == "sr" else None)


@functools.lru_cache(maxsize=16)
def _bases(key: tuple, state: ExplorerState) -> tuple:
    """The signal factors B and the operator matrix A, drawn as :func:`theory.expected_risk` draws them.

    Seed 0: ``base = default_rng(0).integers(2**62)``, population q from ``default_rng([base, q])``
    (:meth:`theory.Problem.population`), one canonical population when the problem is rotation
    invariant. Cached apart from σ, so moving σ refactorises only the spectrum.
    """
    prob = problem(state, sigma_t=0.0)
    rng = np.random.default_rng(0)
    base = int(rng.integers(2**62))  # as theory.curves draws it, whatever the number of populations
    A = None if prob.is_denoising else prob.operator.matrix()
    if prob.rotation_invariant:
        Bs = (prob.signal.canonical_factor(),)
    else:
        Bs = tuple(prob.signal.factor(rng=np.random.default_rng([base, q])) for q in range(BASIS_RUNS))
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
        m = AB.shape[0]
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
                         alpha=state.alpha if state.signal == "powerlaw" else d.alpha,
                         size=state.size if state.signal == "photos" else d.size, task=state.task,
                         accel=state.accel if state.task == "mri" else d.accel,
                         center_fraction=state.center_fraction if state.task == "mri" else d.center_fraction,
                         scale=state.scale if state.task == "sr" else d.scale, sigma=state.sigma)


def _population_key(state: ExplorerState) -> tuple:
    return (*_basis_key(state), state.sigma)


#: cached properties of a Population that σ_t does not change (see theory.problem.Population)
_TARGET_FREE = ("AB", "mu", "trace_x", "trace_e", "trace_y", "lam_max_y")


def _with_target(state: ExplorerState, sigma_t: float) -> list:
    """(population, spectrum) pairs with the targets' noise σ_t (only the variance trace changes); for the
    data-spectrum route one (:class:`theory.DataModel`, :class:`theory.ShiftSpectrum`) pair."""

    if _data_route(state):
        return [_data_model(state.size, state.sigma, float(sigma_t))]
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
        if isinstance(pop, DataModel):  # the data-spectrum equivalent, as `theory curve` runs it
            (c,) = data_equivalent_curves(pop, Ns, [estimator(name)], spectrum=sp)
            risk[q], kopt[q] = c.mean, (c.k_opt[0] if c.k_opt is not None else np.nan)
            continue
        for j, N in enumerate(Ns):
            try:
                if name == "optimal":
                    risk[q, j] = sp.floor
                elif name == "ols":
                    risk[q, j] = fn(pop, int(N), "ols", spectrum=sp)
                elif name == "ridge":
                    risk[q, j] = fn(pop, int(N), "ridge", RIDGE_LAMBDAS, spectrum=sp)
                else:
                    k, r = _argmin(state, functools.partial(fn, pop, int(N), "gd", lr="paper", spectrum=sp))
                    risk[q, j], kopt[q, j] = r, k
            except ValueError as e:  # say where: the random-matrix form can fail at some N only
                raise ValueError(f"{LABELS[name]} at N = {int(N):,}: {(str(e).splitlines() or ['failed'])[0]}") from None
    mean = risk.mean(axis=0).min(axis=1)  # the CLI's rows are means over populations; best λ of those
    return mean, (kopt.mean(axis=0) if name == "gd-oracle" else None)


@dataclass(frozen=True)
class Result:
    """What the page shows for one state (all plain Python values, JSON-ready).

    Attributes:
        points: plotted points ``{"estimator", "N", "risk", "psnr", "simulated": False}`` (the ``curves``
            contract; "check with simulation" adds its own, ``"simulated": True``).
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
    if slow[-1] == False:
        return None, (f"not identified in this range: at N = {int(N[-1]):,} each doubling still gains "
                      f"{gain[-1]:.2g} dB ≥ {db:g} dB; raise Nmax")
    i = int(np.flatnonzero(~slow)[-1] + 1) if (~slow).any() else 0
    if i == 0:
        return float(N[0]), f"already at N = {int(N[0]):,} each doubling gains < {db:g} dB; lower Nmin to see the rise"
    return float(N[i]), f"beyond N ≈ {_round2(N[i]):,} each doubling gains < {db:g} dB"


def _round2(x: float) -> int:
    """Two significant figures (the grid point is only as exact as the grid's spacing)."""
    if x < 100:
        return round(x)
    p = 10 ** (math.floor(math.log10(x)) - 1)
    return int(round(x / p) * p)


def signal_args(state: ExplorerState) -> list[str]:
    """The signal's options of ``reconscale theory curve`` (``--signal …``, ``--n``, and d, α or the file)."""
    if state.signal == "photos":
        return ["--signal", "spectrum", "--spectrum", str(photo_spectrum_file(state.size)), "--n", str(state.n)]
    a = ["--signal", state.signal, "--n", str(state.n)]
    return a + (["--d", str(state.d)] if state.signal == "subspace" else ["--alpha", exact_text(state.alpha)])


def command(state: ExplorerState) -> str:
    """The ``reconscale theory curve …`` command whose ``--format json`` rows give the page's numbers.

    Ridge prints one row per λ of :data:`RIDGE_LAMBDAS`; the page's "best λ" is the smallest risk of those.
    """
    shown = [e for e in state.estimators if e in DATA_FREE]
    a = ["reconscale", "theory", "curve", "--method", state.form, *signal_args(state)]
    a += ["--sigma", exact_text(state.sigma), "--target-sigma", exact_text(state.sigma_t), "--operator", state.task]
    if state.task == "mri":
        a += ["--accel", exact_text(state.accel), "--center-fraction", exact_text(state.center_fraction)]
    elif state.task == "sr":
        a += ["--scale", str(state.scale)]
    a += ["--N", ",".join(str(int(v)) for v in N_grid(state)), "--estimator", ",".join(shown or ["optimal"]),
          "--kmax", str(KMAX)]
    if "ridge" in shown:
        a += ["--lam", ",".join(exact_text(v) for v in RIDGE_LAMBDAS)]
    a += ["--runs", str(1 if state.rotation_invariant else BASIS_RUNS), "--seed", "0", "--format", "json", "--quiet"]
    return shlex.join(a)


def _path(state: ExplorerState, pops: list) -> dict:
    """Risk along the GD path at N_path on a geometric k grid, with k_opt (argmin of the expected curve)."""
    fn, N = _fn(state.form), state.N_path
    ks_opt, r_opt = [], []
    for pop, sp in pops:
        if isinstance(pop, DataModel):
            (c,) = data_equivalent_curves(pop, [N], [estimator("gd-oracle")], spectrum=sp)
            k, r = int(c.k_opt[0, 0]), float(c.mean[0, 0])
        else:
            k, r = _argmin(state, functools.partial(fn, pop, N, "gd", lr="paper", spectrum=sp))
        ks_opt.append(k)
        r_opt.append(r)
    k_opt = float(np.mean(ks_opt))
    ks = np.unique(np.concatenate([[0], np.round(np.geomspace(1, KMAX, 48)), np.round(ks_opt)])).astype(float)
    risk = np.mean([(data_rmt_curve if isinstance(pop, DataModel) else fn)(pop, N, "gd", ks, lr="paper", spectrum=sp)
                    for pop, sp in pops], axis=0)
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
    out = [(f"The floor R* = {floor:.3g} ({float(mse_to_psnr(floor)):.1f} dB) is the risk of W*, the best linear "
            "estimator that knows the signal's distribution: no amount of data goes below it.")]
    out.append(f"At N = {N:,}, gradient descent stopped at k_opt ≈ {path['k_opt']:.0f} has risk {r:.3g}: a learning "
               f"error of {learn:.3g} on top of the floor ({100 * learn / r:.0f}% of its error). "
               + ("More data can only remove that part." if learn > 0 else "It has learned all it can."))
    out.append(f"Where more data stops helping ({LABELS[slow['estimator']]}): {slow['text']}.")
    if state.signal == "subspace":
        out.append(f"The signal fills d/n = {state.d / state.n:.2g} of the space: the learning error is set by the d "
                   "signal directions, so a larger d needs proportionally more examples, and a larger σ raises "
                   "the floor and flattens the curve sooner.")
    elif state.signal == "powerlaw":
        out.append(f"The power-law spectrum (α = {state.alpha:g}) has no sharp subspace: every extra example "
                   "resolves weaker directions, so the curve bends slowly towards the floor.")
    else:
        mu = photo_spectrum(state.size).mu
        above = int(np.sum(mu > state.sigma**2))
        out.append(f"The photos' {state.size}×{state.size} crops (pixel values in [0, 1], σ in the same units) "
                   f"have {above} of {mu.size} directions with more signal than noise (μ > σ²): the learning "
                   "error is set by those, and the weaker ones fill in slowly, like a power law.")
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
    not_shown = {e: "the data-free forms do not identify it (it needs simulated training sets): "
                    "press \"check with simulation\"" for e in state.estimators if e not in DATA_FREE}
    points: list[dict] = []
    best: dict[str, np.ndarray] = {}
    k_opt: dict[int, float] = {}
    try:
        for name in [e for e in state.estimators if e in DATA_FREE]:
            risk, ko = _estimator_curve(state, name, Ns, pops)
            best[name] = risk
            if ko is not None:
                k_opt = {int(N): float(k) for N, k in zip(Ns, ko)}
            points += [{"estimator": name, "N": int(N), "risk": float(r), "psnr": float(mse_to_psnr(r)),
                        "simulated": False} for N, r in zip(Ns, risk)]
        path = _path(state, pops)
        floor = float(np.mean([sp.floor_Q if isinstance(sp, ShiftSpectrum) else sp.floor for _, sp in pops]))
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
