"""The explorer's "check with simulation": Monte Carlo of the current state over simulated training sets
(numpy only; :mod:`bridge.explore` runs it in a background thread with a progress bar and a Cancel button).

* :func:`simulate` — :func:`theory.expected_risk` with ``method="montecarlo"`` for every estimator the
  state selects (``pca`` and ``gd-val`` too, which the data-free forms do not identify), one N point at a
  time so that a progress callback sees each point and a cancel flag stops the run between points.
  Each point is computed exactly as ``reconscale theory curve --method montecarlo --runs R --seed S``
  computes it (draw (N, run) has its own random stream from the seed, so a per-N call gives the numbers
  of one call over the whole grid); :func:`sim_command` prints that command.
* :func:`check_simulation` — refuses, in one line, settings whose estimated cost (:func:`sim_seconds`)
  is over :data:`SIM_SECONDS` seconds, naming what to lower.

The simulated points are ``{"estimator", "N", "risk", "psnr", "sem", "runs", "simulated": True}``, risk
the mean over draws and sem its standard error (ridge: at the λ of the grid with the smallest mean, as
the page's "best λ").
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from theory import Estimator, expected_risk

from .explore_curves import KMAX, RIDGE_LAMBDAS, estimator, problem, signal_args
from .explore_state import LABELS, ExplorerState, N_grid, StateError, exact_text
from .uncertainty import mse_to_psnr

__all__ = ["SIM_SECONDS", "SimResult", "check_simulation", "sim_command", "sim_estimators", "sim_seconds", "simulate"]

#: the longest simulation the page starts (estimated seconds, see :func:`sim_seconds`).
SIM_SECONDS = 60.0
# Seconds per unit of each cost term of sim_seconds, fitted (non-negative least squares on relative
# error) to 15 timed simulations on the project's shared 2-core CPU under load, one BLAS thread:
# subspace, power-law, photos and MRI states at n = 64–1024, N up to 10⁵; the fit is within 30% of
# every measured time (a faster machine only makes the estimate pessimistic).
_COST = {"gram": 3e-10, "cubic": 3e-10, "sample": 1.4e-8, "estimators": 1.4e-10, "population": 3e-9, "draw": 2.5e-3}


def sim_estimators(state: ExplorerState) -> tuple[list[Estimator], dict[str, str]]:
    """The Monte Carlo estimators of the state's selection, and those it cannot simulate (with why).

    ``pca`` (W_PCA = ÛÛᵀ/(1+σ²), Û the top-d left singular vectors of Y) needs the subspace dimension d
    and the identity operator; ``gd-val`` holds out ``state.nval`` examples and stops where their error
    is smallest.
    """
    out, skipped = [], {}
    for name in state.estimators:
        if name == "pca" and not (state.signal == "subspace" and state.task == "denoise"):
            skipped[name] = "it is defined for the subspace signal with denoising only"
            continue
        out.append(estimator(name, state.nval))
    return out, skipped


def sim_command(state: ExplorerState) -> str:
    """The ``reconscale theory curve --method montecarlo …`` command whose JSON rows are the simulated points."""
    ests, _ = sim_estimators(state)
    names = [e.name for e in ests] or ["optimal"]
    a = ["reconscale", "theory", "curve", "--method", "montecarlo", *signal_args(state),
         "--sigma", exact_text(state.sigma), "--target-sigma", exact_text(state.sigma_t), "--operator", state.task]
    if state.task == "mri":
        a += ["--accel", exact_text(state.accel), "--center-fraction", exact_text(state.center_fraction)]
    elif state.task == "sr":
        a += ["--scale", str(state.scale)]
    a += ["--N", ",".join(str(int(v)) for v in N_grid(state)), "--estimator", ",".join(names), "--kmax", str(KMAX)]
    if "ridge" in names:
        a += ["--lam", ",".join(exact_text(v) for v in RIDGE_LAMBDAS)]
    if "gd-val" in names:
        a += ["--nval", str(state.nval)]
    a += ["--runs", str(state.runs), "--seed", str(state.seed), "--format", "json", "--quiet"]
    return shlex.join(a)


def sim_seconds(state: ExplorerState) -> float:
    """Estimated seconds of :func:`simulate` from counts of its dominant operations (see ``_COST``).

    Per draw and N, with r = min(m, N) training directions: the Gram matrix of Y (m²N away from N ≈ m),
    the eigendecomposition or SVD (r³, and mN² near N ≈ m), drawing the signals and noise (nN), the
    population (n³ for a spectrum or an operator, nd² for the subspace alone), and the estimators' risks
    (GD's k search n r², ridge's grid and least squares n r per λ; validation-stopped GD all KMAX + 1
    steps, (KMAX + 1) r²), plus a fixed cost per draw.
    """
    m = n = state.n
    names = [e.name for e in sim_estimators(state)[0]]
    pop = n**3 if (state.signal != "subspace" or state.task != "denoise") else n * state.d**2
    total = 0.0
    for N in N_grid(state).astype(float):
        r = min(m, N)
        gram = m * m * N if N >= 2 * m else (N * N * m if 2 * N <= m else 0.0)
        cubic = r**3 + (m * N * N if m / 2 < N < 2 * m else 0.0)
        est = sum(n * r * r if e == "gd-oracle" else len(RIDGE_LAMBDAS) * n * r if e == "ridge"
                  else (KMAX + 1) * r * r if e == "gd-val" else n * r if e in ("ols", "pca") else 0.0 for e in names)
        total += state.runs * (_COST["gram"] * gram + _COST["cubic"] * cubic + _COST["sample"] * n * N
                               + _COST["estimators"] * est + _COST["population"] * pop + _COST["draw"])
    return total


def check_simulation(state: ExplorerState) -> None:
    """Refuse a simulation that would take minutes (one line naming the fix).

    Raises:
        StateError: the estimated time is over :data:`SIM_SECONDS`, or nothing selected can be simulated.
    """
    ests, skipped = sim_estimators(state)
    if not ests:
        why = "; ".join(f"{LABELS[name]}: {reason}" for name, reason in skipped.items())
        raise StateError(f"simulation: {why}; select another estimator")
    t = sim_seconds(state)
    if t > SIM_SECONDS:
        N_max = int(N_grid(state)[-1])
        raise StateError(f"simulation: about {t:.0f} s for {state.runs} draws × {len(N_grid(state))} N up to "
                         f"N = {N_max:,} at n = {state.n} (limit {SIM_SECONDS:.0f} s); lower Nmax, points, runs or "
                         + ("the crop size" if state.signal == "photos" else "n"))


@dataclass(frozen=True)
class SimResult:
    """The simulated points of one state.

    Attributes:
        points: ``{"estimator", "N", "risk", "psnr", "sem", "runs", "simulated": True}`` per (estimator, N)
            finished (all N, or those before a cancel).
        command: :func:`sim_command`. done, total: N points finished and asked for.
        cancelled: stopped by the cancel flag before the last N. seconds: wall time.
        not_simulated: selected estimators the simulation cannot give, with the reason.
    """

    points: list[dict]
    command: str
    done: int
    total: int
    cancelled: bool
    seconds: float
    not_simulated: dict[str, str] = field(default_factory=dict)


def simulate(state: ExplorerState, *, progress: Callable[[int, int], None] | None = None,
             cancel: threading.Event | None = None) -> SimResult:
    """Monte Carlo of every selected estimator on the state's N grid, one N at a time.

    Args:
        state: the page's settings (``runs`` draws per N, ``seed``, ``nval`` for gd-val).
        progress: called as ``progress(done, total)`` after each N point (from this thread).
        cancel: when set, the run stops before the next N point and returns what it has.

    Returns:
        :class:`SimResult` (``cancelled`` when stopped early).

    Raises:
        StateError: :func:`check_simulation` refuses the settings, or the theory refuses them (one line).
    """
    check_simulation(state)
    t0 = time.perf_counter()
    ests, skipped = sim_estimators(state)
    prob = problem(state)
    Ns = N_grid(state)
    points: list[dict] = []
    done = 0
    for N in Ns:
        if cancel is not None and cancel.is_set():
            break
        try:
            # a fresh generator per call: draw (N, run) depends on (seed, N, run) only, so this is the
            # CLI's single call over the grid, point by point
            curves = expected_risk(prob, [int(N)], ests, method="montecarlo", runs=state.runs,
                                   rng=np.random.default_rng(state.seed), lr="paper")
        except ValueError as e:
            raise StateError(f"simulation: {(str(e).splitlines() or ['cannot simulate'])[0]}") from None
        for c in curves:
            mean, sem = c.mean[0], c.sem[0]
            t = int(np.argmin(mean))  # ridge: the λ with the smallest mean risk; one value otherwise
            points.append({"estimator": c.estimator.name, "N": int(N), "risk": float(mean[t]),
                           "psnr": float(mse_to_psnr(mean[t])), "sem": float(sem[t]), "runs": state.runs,
                           "simulated": True})
        done += 1
        if progress is not None:
            progress(done, Ns.size)
    return SimResult(points=points, command=sim_command(state), done=done, total=int(Ns.size),
                     cancelled=done < Ns.size, seconds=time.perf_counter() - t0, not_simulated=skipped)
