"""One entry point for expected-risk curves, whatever the method.

``expected_risk(problem, N, estimators, method=...)`` returns :class:`RiskCurve` objects for

* ``"montecarlo"``     draws of (U, C, Z), true risk per draw (the paper's protocol);
* ``"rao-blackwell"``  draws of (U, Y) only, the targets' noise integrated out exactly;
* ``"asymptotic"``     the random-matrix deterministic equivalent (no draws);
* ``"large-n"``        the population (large-N) law (no draws).

For the two data-free methods early stopping (gd-oracle, gd-argmin) is the argmin of the expected
curve over k ≤ kmax; pca and gd-val need draws. When the population is not rotation invariant
(e.g. MRI with a random subspace) they average over ``runs`` draws of the signal basis.

Noisy training targets (``Problem(..., target_sigma=σ_t)``, t = x + z′): every method supports them —
plain Monte Carlo draws z′, the other three carry tr Σ_e + n σ_t² in their variance terms (exact for
Rao–Blackwell, and the data-free derivations hold unchanged with that trace); the risk is against the
clean x and rows carry ``target_sigma``. Signal models estimated from data (:mod:`theory.datamodel`,
:mod:`theory.data_asymptotics`) take it as ``DataModel(..., target_sigma=σ_t)``.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from .asymptotics import check_rmt_sigma, large_n_curve, rmt_curve
from .montecarlo import Estimator, RiskCurve, montecarlo
from .problem import Problem
from .infra.validation import validate_N

__all__ = ["METHODS", "expected_risk", "to_records", "argmin_curve"]

METHODS = ("montecarlo", "rao-blackwell", "asymptotic", "large-n")


def argmin_curve(curve, kmax: int, *, dense: bool) -> tuple[int, float]:
    """argmin over integers 0 ≤ k ≤ kmax of a smooth expected curve ``curve(ks) -> risks``.

    ``dense=True`` evaluates every k; otherwise a geometric grid, then every integer between the
    grid neighbours of its minimum.
    """
    if dense or kmax <= 256:
        ks = np.arange(kmax + 1, dtype=float)
        r = curve(ks)
        i = int(np.argmin(r))
        return int(ks[i]), float(r[i])
    ks = np.unique(np.concatenate([np.arange(65), np.round(np.geomspace(64, kmax, 240))])).astype(float)
    r = curve(ks)
    i = int(np.argmin(r))
    lo, hi = ks[max(i - 1, 0)], ks[min(i + 1, ks.size - 1)]
    fine = np.arange(lo, hi + 1, dtype=float)
    rf = curve(fine)
    j = int(np.argmin(rf))
    return int(fine[j]), float(rf[j])


def _analytic(problem: Problem, Ns: np.ndarray, estimators: Sequence[Estimator], *, method: str,
              runs: int, rng: np.random.Generator, lr: float | str, progress: bool) -> list[RiskCurve]:
    if method == "asymptotic":
        check_rmt_sigma(problem.sigma)  # before any work or progress bar: one clear line
    bad = [e.name for e in estimators if e.name in ("pca", "gd-val")]
    if bad:
        raise ValueError(f"estimator {bad[0]!r} needs draws; use --method montecarlo or rao-blackwell")
    n_pop = 1 if problem.rotation_invariant else runs
    fn = rmt_curve if method == "asymptotic" else large_n_curve
    draws = [np.empty((n_pop, Ns.size, e.params.size)) for e in estimators]
    kopt = [np.full((n_pop, Ns.size), np.nan) for _ in estimators]
    floors = np.empty((n_pop, Ns.size))
    base = int(rng.integers(2**62))
    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=n_pop * Ns.size, desc=method, unit="point", leave=False)
    try:
        for q in range(n_pop):
            # Rotation invariant: one canonical population has the spectral data of every draw.
            pop = problem.population(rng=None if n_pop == 1 else np.random.default_rng([base, q]))
            sp = pop.spectrum()
            for j, N in enumerate(Ns):
                floors[q, j] = sp.floor
                for i, e in enumerate(estimators):
                    if e.name == "optimal":
                        draws[i][q, j] = sp.floor
                    elif e.name == "ols":
                        draws[i][q, j] = fn(pop, int(N), "ols", spectrum=sp)
                    elif e.name == "ridge":
                        draws[i][q, j] = fn(pop, int(N), "ridge", e.lam, spectrum=sp)
                    elif e.name in ("gd", "gf"):
                        draws[i][q, j] = fn(pop, int(N), e.name, e.steps, lr=lr, spectrum=sp)
                    else:  # gd-oracle / gd-argmin: argmin of the expected curve
                        curve = functools.partial(fn, pop, int(N), "gd", lr=lr, spectrum=sp)
                        k, r = argmin_curve(curve, e.kmax, dense=method == "large-n")
                        draws[i][q, j], kopt[i][q, j] = r, k
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [
        RiskCurve(e, Ns, draws[i], floors, kopt[i] if e.name in ("gd-oracle", "gd-argmin") else None,
                  method=method, info={"lr": lr, "target_sigma": problem.target_sigma})
        for i, e in enumerate(estimators)
    ]


def expected_risk(
    problem: Problem,
    N: Sequence[int],
    estimators: Sequence[Estimator | str],
    *,
    method: str = "montecarlo",
    runs: int = 200,
    rng: np.random.Generator,
    lr: float | str = "paper",
    backend: str = "numpy",
    progress: bool = False,
) -> list[RiskCurve]:
    """Expected risk E R(Ŵ) of each estimator at each training-set size N.

    Args:
        problem: the inverse problem. N: training-set sizes.
        estimators: :class:`Estimator` objects or bare names (``"ols"``, ``"gd-oracle"`` …).
        method: one of :data:`METHODS`. runs: draws per N (Monte Carlo) or signal-basis draws
            (data-free methods on non-rotation-invariant problems).
        rng: randomness. lr: ``"paper"`` or a step η. backend: array backend for Monte Carlo.
        progress: tqdm bar on stderr.

    Returns:
        One :class:`RiskCurve` per estimator.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    ests = [Estimator(e) if isinstance(e, str) else e for e in estimators]
    Ns = validate_N(N)
    if int(runs) != runs or runs < 1:
        raise ValueError(f"runs={runs} must be a positive integer")
    if method in ("montecarlo", "rao-blackwell"):
        return montecarlo(problem, Ns, ests, runs=runs, rng=rng, lr=lr, rao_blackwell=method == "rao-blackwell",
                          backend=backend, progress=progress)
    return _analytic(problem, Ns, ests, method=method, runs=runs, rng=rng, lr=lr, progress=progress)


def to_records(curves: Sequence[RiskCurve], problem: Problem) -> list[dict]:
    """Tidy rows, one per (N, estimator, k or λ), with the problem's full description."""
    desc = problem.describe()
    rows = []
    for c in curves:
        e = c.estimator
        mean, sem, std = c.mean, c.sem, c.std
        for j, N in enumerate(c.N):
            for t, par in enumerate(e.params):
                row = {
                    **desc,
                    "N": int(N),
                    "estimator": e.name,
                    "k": int(par) if e.name == "gd" else (float(par) if e.name == "gf" else None),
                    "lam": float(par) if e.name == "ridge" else None,
                    "risk_mean": float(mean[j, t]),
                    "risk_sem": float(sem[j, t]),
                    "risk_std": float(std[j, t]),
                    "runs": int(c.runs),
                    "method": c.method,
                    "floor": float(c.floor[:, j].mean()),
                    "lr": c.info.get("lr"),
                }
                if c.k_opt is not None:
                    row["k_opt_mean"] = float(np.mean(c.k_opt[:, j]))
                    row["k_opt_std"] = float(np.std(c.k_opt[:, j], ddof=1)) if c.runs > 1 else 0.0
                    row["kmax"] = e.kmax
                rows.append(row)
    return rows
