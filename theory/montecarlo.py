"""Expected risk over training sets, E_{U,C,Z} R(Ŵ), by Monte Carlo — plain or Rao–Blackwellised.

One factorisation per draw serves every estimator and every k; the draws at one N are factorised
together (``TrainingSpectrum.fit_many``, one stacked eigh/SVD per batch of draws). Draw (N, run)
uses its own random stream derived from ``rng`` and (N, run), so a curve at N = 100 is the same
whether or not other N are requested alongside.

Estimators (:class:`Estimator`):
    optimal    W* (the floor R*; deterministic given U)
    pca        Û Ûᵀ/(1+σ²), Û the top-d left singular vectors of Y (subspace denoising)
    ols        W^∞ = X Y⁺
    ridge      W_λ for each λ in ``lam``
    gd         W^k for each k in ``steps``
    gf         gradient flow W(t) for each t in ``steps`` (time in units of the step η)
    gd-oracle  per draw min over k ≤ kmax of R(W^k) (the paper's early stopping), found by the
               certified search :func:`theory.stopping.gd_oracle_search` (exact integer argmin, ~50
               evaluations for kmax = 5000; its brute-force twin is the dense argmin of risk_path)
    gd-argmin  W^{k̂} with k̂ = argmin over every k ≤ kmax of the *expected* curve (same k for all
               draws; the mean of the dense paths, which is exact and holds runs × (kmax + 1) numbers)
    gd-val     per draw k̂ = argmin over every k ≤ kmax of the MSE on ``n_val`` extra held-out
               examples (practical rule), by the same certified search on the MSE's quadratic
               (:func:`theory.risk.validation_quadratic`)

With ``rao_blackwell=True`` every estimator's risk is E[R | Y] (X integrated out); gd-oracle
then minimises the conditional curve per draw of Y, a slightly pessimistic version of the
paper's oracle, and gd-val is refused (its choice depends on X).

Noisy targets (``problem.target_sigma`` = σ_t > 0, Noise2Noise-style): plain Monte Carlo draws
T = X + σ_t Z′ with Z′ from the draw's own target stream (:func:`target_rng`, so C, Y, U and the
validation inputs are the very draws of the clean-target run) and fits every estimator to T; the
risk is measured against the clean x. gd-val's validation targets are noisy too (T_val = X_val +
σ_t Z′_val: all a Noise2Noise user has; their noise is independent of W, so the held-out error is the
clean one plus a constant in expectation). Rao–Blackwellised: Z′ integrates out exactly with the
residual (tr Σ_e → tr Σ_e + n σ_t²). W* / R* (optimal) and pca do not use the targets. σ_t = 0 draws
nothing extra: the supervised numbers, bit for bit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .backend import get_xp, to_numpy
from .estimators import TrainingSpectrum, check_lr, gd_filter, gf_filter, ols_filter, ridge_filter
from .problem import Population, Problem
from .risk import conditional_risk_path, conditional_risk_quadratic, risk_path, risk_quadratic, validation_quadratic
from .stopping import QuadraticPath, gd_oracle_search, search_steps
from .infra.validation import validate_N

__all__ = ["Estimator", "RiskCurve", "ESTIMATOR_NAMES", "montecarlo", "draw_rng", "target_rng", "noisy_targets"]

ESTIMATOR_NAMES = ("optimal", "pca", "ols", "ridge", "gd", "gf", "gd-oracle", "gd-argmin", "gd-val")
_PATH = ("gd-oracle", "gd-argmin")


@dataclass(frozen=True)
class Estimator:
    """Which estimator, with its parameters.

    Args:
        name: one of :data:`ESTIMATOR_NAMES`.
        steps: GD step counts for ``gd``; times t (in steps of η) for ``gf``.
        lam: ridge strengths for ``ridge``.
        kmax: largest k searched by gd-oracle / gd-argmin / gd-val.
        n_val: held-out examples for ``gd-val``.
    """

    name: str
    steps: tuple[float, ...] = ()
    lam: tuple[float, ...] = ()
    kmax: int = 5000
    n_val: int = 0

    def __post_init__(self) -> None:
        if self.name not in ESTIMATOR_NAMES:
            raise ValueError(f"unknown estimator {self.name!r}; choose from {', '.join(ESTIMATOR_NAMES)}")
        object.__setattr__(self, "steps", tuple(float(k) for k in self.steps))
        object.__setattr__(self, "lam", tuple(float(v) for v in self.lam))
        if self.name in ("gd", "gf") and not self.steps:
            raise ValueError(f"estimator '{self.name}' needs steps (--k), e.g. --k 10,100,1000")
        if any(k < 0 or not np.isfinite(k) for k in self.steps) or (self.name == "gd" and any(k != int(k) for k in self.steps)):
            raise ValueError("steps (--k) must be non-negative integers (non-negative times for gf)")
        if self.name == "ridge" and not self.lam:
            raise ValueError("estimator 'ridge' needs lam (--lam), e.g. --lam 0.1,1")
        if any(v < 0 or not np.isfinite(v) for v in self.lam):
            raise ValueError("ridge strengths (--lam) must be finite and ≥ 0")
        if int(self.kmax) != self.kmax or self.kmax < 0:
            raise ValueError(f"kmax={self.kmax} must be a non-negative integer")
        if self.name == "gd-val" and self.n_val < 1:
            raise ValueError("estimator 'gd-val' needs n_val ≥ 1 held-out examples (--nval)")

    @property
    def params(self) -> np.ndarray:
        """The values this estimator's curve is indexed by (k, λ, or a single NaN)."""
        if self.name in ("gd", "gf"):
            return np.array(self.steps)
        if self.name == "ridge":
            return np.array(self.lam)
        return np.array([np.nan])


@dataclass(frozen=True)
class RiskCurve:
    """Risks of one estimator on an N grid.

    Attributes:
        estimator: the :class:`Estimator`.
        N: (nN,) training-set sizes.
        draws: (runs, nN, P) risk of every draw (P = len(estimator.params)).
        floor: (runs, nN) R* of each draw's population.
        k_opt: (runs, nN) chosen k for the early-stopping estimators, else None.
        method: how the risks were computed.
    """

    estimator: Estimator
    N: np.ndarray
    draws: np.ndarray
    floor: np.ndarray
    k_opt: np.ndarray | None = None
    method: str = "montecarlo"
    info: dict = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return self.draws.shape[0]

    @property
    def mean(self) -> np.ndarray:
        """(nN, P) mean risk over draws."""
        return self.draws.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        """(nN, P) standard deviation over draws (the paper's error bars)."""
        return self.draws.std(axis=0, ddof=1) if self.runs > 1 else np.zeros(self.draws.shape[1:])

    @property
    def sem(self) -> np.ndarray:
        """(nN, P) standard error of the mean."""
        return self.std / np.sqrt(self.runs)


def draw_rng(base: int, N: int, run: int) -> np.random.Generator:
    """The random stream of draw ``run`` at training-set size ``N``."""
    return np.random.default_rng([base, int(N), int(run)])


def target_rng(base: int, N: int, run: int) -> np.random.Generator:
    """The stream of the targets' noise Z′ (then Z′_val) of draw ``run`` at size ``N`` (σ_t > 0 only)."""
    return np.random.default_rng([base, int(N), int(run), 1])


def noisy_targets(X: Any, target_sigma: float, rt: np.random.Generator, *, xp: Any = np) -> Any:
    """T = X + σ_t Z′: the targets an estimator is fitted to, Z′ drawn from the target stream ``rt``.

    Args:
        X: (n, N) clean signals (an array of ``xp``). target_sigma: σ_t. rt: :func:`target_rng` of the draw.
        xp: array module of X.

    Returns:
        (n, N) noisy targets (a new array; X is not modified).
    """
    return X + target_sigma * xp.asarray(rt.standard_normal(X.shape))


def _lr_for(lr: float | str, pop: Population, N: int) -> float:
    return pop.paper_lr(N) if lr == "paper" else float(lr)


def _path_risks(pop: Population, spec: TrainingSpectrum, f: Any, h: Any, *, rao_blackwell: bool, xp: Any) -> np.ndarray:
    """Risks along a filter path: E[R | Y] from f (Rao–Blackwell) or the true R from the gains h."""
    if rao_blackwell:
        return to_numpy(conditional_risk_path(pop, spec, f, xp=xp))
    return to_numpy(risk_path(pop, spec, h, xp=xp))


_BATCH_ELEMS = 20_000_000  # array elements held at once by one batch of draws (factorisation + population)


def _batch_size(problem: Problem, N: int, runs: int) -> int:
    """Draws factorised together: all of them unless their Gram matrices and populations get large."""
    m, n = problem.m, problem.n
    per_draw = max(m * m, m * min(N, 2 * m)) + 2 * n * m + m * N + (n * N if problem.target_sigma > 0 else 0)
    return max(1, min(runs, _BATCH_ELEMS // max(per_draw, 1)))


def _one_draw(problem: Problem, estimators: Sequence[Estimator], pop: Population, spec: TrainingSpectrum,
              r: np.random.Generator, run: int, j: int, n_train: int, *, lr: float | str, rao_blackwell: bool,
              xp: Any, path_k: np.ndarray | None, needs_gd: bool, draws: dict, kopt: dict, floors: np.ndarray,
              paths: np.ndarray | None, rt: np.random.Generator | None = None) -> None:
    """Every estimator's risk for one factorised draw, written into ``draws[i][run, j]`` (and k into kopt)."""
    floors[run, j] = pop.floor
    eta = _lr_for(lr, pop, n_train)
    if needs_gd and spec.rank:
        check_lr(eta, float(spec.lam[0]))
    path = functools.partial(_path_risks, pop, spec, rao_blackwell=rao_blackwell, xp=xp)
    if paths is not None:
        paths[run, j] = path(*gd_filter(spec.lam, path_k, eta, xp=xp))
    quad = None
    for i, est in enumerate(estimators):
        if est.name == "optimal":
            val = [pop.floor]
        elif est.name == "pca":
            Ud = to_numpy(spec.V[:, : problem.d])
            val = [pop.risk_factored(Ud / (1.0 + problem.sigma**2), Ud)]
        elif est.name == "ols":
            val = path(*ols_filter(spec.lam, xp=xp))
        elif est.name == "ridge":
            val = path(*ridge_filter(spec.lam, est.lam, xp=xp))
        elif est.name == "gd":
            val = path(*gd_filter(spec.lam, est.steps, eta, xp=xp))
        elif est.name == "gf":
            val = path(*gf_filter(spec.lam, est.steps, eta, xp=xp))
        elif est.name == "gd-oracle":
            if quad is None:
                quad = (conditional_risk_quadratic if rao_blackwell else risk_quadratic)(pop, spec, xp=xp)
            k = gd_oracle_search(quad, spec.lam, eta, est.kmax)[0]
            val, kopt[i][run, j] = path(*gd_filter(spec.lam, [k], eta, xp=xp)), k
        elif est.name == "gd-val":
            C_val, Y_val = pop.sample_latent(est.n_val, rng=r)
            T_val = None
            if rt is not None:  # noisy validation targets, from the draw's target stream
                T_val = noisy_targets(xp.asarray(pop.B) @ C_val, problem.target_sigma, rt, xp=xp)
            X_val = T_val if T_val is not None else xp.asarray(pop.B) @ C_val
            quad_val = validation_quadratic(spec, Y_val, X_val, B=xp.asarray(pop.B))
            k = search_steps(QuadraticPath(quad_val, spec.lam, eta), est.kmax).k  # every k ≤ kmax, certified
            val, kopt[i][run, j] = path(*gd_filter(spec.lam, [k], eta, xp=xp)), k
        else:  # gd-argmin: filled in after all draws
            val = [np.nan]
        draws[i][run, j] = np.asarray(to_numpy(val), dtype=float)


def montecarlo(
    problem: Problem,
    N: Sequence[int],
    estimators: Sequence[Estimator],
    *,
    runs: int,
    rng: np.random.Generator,
    lr: float | str = "paper",
    rao_blackwell: bool = False,
    backend: str = "numpy",
    progress: bool = False,
) -> list[RiskCurve]:
    """Monte Carlo estimate of the expected risk of each estimator at each N.

    Args:
        problem: the inverse problem. N: training-set sizes. estimators: what to evaluate.
        runs: draws per N (U, C, Z redrawn each time, as in the paper).
        rng: source of the base seed. lr: ``"paper"`` or a fixed step η.
        rao_blackwell: integrate the targets' noise out exactly (only Y is drawn).
        backend: ``"numpy"``, ``"cupy"`` or ``"auto"`` for the heavy linear algebra.
        progress: show a tqdm bar on stderr.

    Returns:
        One :class:`RiskCurve` per estimator, in the given order.
    """
    Ns = validate_N(N)
    if int(runs) != runs or runs < 1:
        raise ValueError(f"runs={runs} must be a positive integer")
    if lr != "paper" and not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} must be 'paper' or a positive number")
    names = [e.name for e in estimators]
    if not estimators:
        raise ValueError("give at least one estimator")
    if "pca" in names and not (problem.is_denoising and problem.signal.__class__.__name__ == "SubspaceSignal"):
        raise ValueError("estimator 'pca' is defined for operator=denoise with signal=subspace only")
    if rao_blackwell and "gd-val" in names:
        raise ValueError("estimator 'gd-val' needs method=montecarlo (its choice of k depends on X)")
    xp = get_xp(backend)
    noisy = problem.target_sigma > 0 and not rao_blackwell  # plain Monte Carlo draws the targets' noise
    base = int(rng.integers(2**62))
    kmax = max([e.kmax for e in estimators if e.name in (*_PATH, "gd-val")] or [0])
    # the full risk path over every k is needed only for gd-argmin (the mean curve over draws);
    # gd-oracle searches each draw's path (gd_oracle_search), gd-val evaluates the risk at its own k
    path_k = np.arange(kmax + 1) if "gd-argmin" in names else None
    needs_gd = any(e.name in ("gd", *_PATH, "gd-val") for e in estimators)

    draws = {i: np.empty((runs, Ns.size, e.params.size)) for i, e in enumerate(estimators)}
    kopt = {i: np.full((runs, Ns.size), np.nan) for i, e in enumerate(estimators) if e.name in (*_PATH, "gd-val")}
    floors = np.empty((runs, Ns.size))
    paths = np.empty((runs, Ns.size, kmax + 1)) if "gd-argmin" in names else None

    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=Ns.size * runs, desc="monte carlo", unit="draw", leave=False)
    try:
        for j, n_train in enumerate(Ns):
            batch = _batch_size(problem, int(n_train), runs)
            for first in range(0, runs, batch):
                chunk = range(first, min(first + batch, runs))
                # draw every run of the chunk from its own stream, then factor them in one batched call
                rs = [draw_rng(base, n_train, run) for run in chunk]
                rts = [target_rng(base, n_train, run) if noisy else None for run in chunk]
                pops, Cs, Ys, Ts = [], [], [], []
                for r, rt in zip(rs, rts):
                    pop = problem.population(rng=r)
                    pop.xp = xp
                    C, Y = pop.sample_latent(n_train, rng=r)
                    pops.append(pop), Cs.append(C), Ys.append(Y)
                    if rt is not None:  # T = X + σ_t Z′ (n, N): the targets the estimators are fitted to
                        Ts.append(noisy_targets(xp.asarray(pop.B) @ C, problem.target_sigma, rt, xp=xp))
                if noisy:
                    specs = TrainingSpectrum.fit_many(Ys, Ts, xp=xp)
                else:
                    specs = TrainingSpectrum.fit_many(Ys, Cs=None if rao_blackwell else Cs, xp=xp)
                del Ys, Ts
                for run, r, rt, pop, spec in zip(chunk, rs, rts, pops, specs):
                    _one_draw(problem, estimators, pop, spec, r, run, j, n_train, lr=lr, rao_blackwell=rao_blackwell,
                              xp=xp, path_k=path_k, needs_gd=needs_gd, draws=draws, kopt=kopt, floors=floors,
                              paths=paths, rt=rt)
                    if bar is not None:
                        bar.update(1)
                del pops, Cs, specs
    finally:
        if bar is not None:
            bar.close()

    for i, est in enumerate(estimators):
        if est.name == "gd-argmin":
            k = np.argmin(paths[:, :, : est.kmax + 1].mean(axis=0), axis=1)  # (nN,)
            draws[i][:, :, 0] = paths[:, np.arange(Ns.size), k]
            kopt[i][:] = k[None, :]
    method = "rao-blackwell" if rao_blackwell else "montecarlo"
    return [
        RiskCurve(est, Ns, draws[i], floors, kopt.get(i), method=method,
                  info={"lr": lr, "target_sigma": problem.target_sigma})
        for i, est in enumerate(estimators)
    ]
