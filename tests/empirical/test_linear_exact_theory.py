"""linear-exact and the theory's Monte Carlo are one estimator: the same step rule, the same stopping.

On Gaussian data of a model shared by both sides (Σ_P for training and validation, Σ_Q ≠ Σ_P for the
test risk, as the photo crops' P and Q), ``empirical.linear.learned_estimator`` — the arrays-level core
of every linear-exact run (its step rule on YYᵀ/N, the certified validation search over every k and
k = ∞) — and ``theory.datamodel.data_montecarlo``'s ``gd-val`` (the rule on the population Σ_y, the same
search) give the same mean test risk R_Q within 2 SEM at every N, below, at and above n. The two draw
independent data (their own seeds), so a correct pair fails one N with probability ≈ 5% at a random
seed; the seeds are fixed.
"""

import numpy as np
import pytest

pytest.importorskip("torch")

from empirical.linear import learned_estimator
from theory.datamodel import DataModel, DataSpectrum, data_montecarlo
from theory.estimators import TrainingSpectrum
from theory.montecarlo import Estimator

N_VAL, KMAX, RUNS = 24, 10**5, 250


def _model(n: int = 16, sigma: float = 0.3) -> DataModel:
    rng = np.random.default_rng(0)
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    Vq, _ = np.linalg.qr(V + 0.3 * rng.standard_normal((n, n)))
    return DataModel(DataSpectrum(np.geomspace(4.0, 1e-3, n), V=V), sigma, DataSpectrum(np.geomspace(3.0, 2e-3, n), V=Vq))


def _linear_exact_risks(model: DataModel, N: int, rng: np.random.Generator) -> np.ndarray:
    """R_Q of linear-exact runs on RUNS independent Gaussian training and validation sets of P."""
    out = np.empty(RUNS)
    for i in range(RUNS):
        X, Y = model.sample(N, rng=rng)
        X_val, Y_val = model.sample(N_VAL, rng=rng)
        W, _, _, _ = learned_estimator(TrainingSpectrum.fit(Y, X), N, Y_val, X_val, KMAX)
        out[i] = model.risk(W)
    return out


@pytest.mark.parametrize("N", [6, 16, 48, 256])
def test_linear_exact_is_the_theory_monte_carlo_within_two_sem(N):
    model = _model()
    (c,) = data_montecarlo(model, [N], [Estimator("gd-val", kmax=KMAX, n_val=N_VAL)], runs=RUNS,
                           rng=np.random.default_rng([1, N]))
    lin = _linear_exact_risks(model, N, np.random.default_rng([2, N]))
    sem = np.hypot(c.sem[0, 0], lin.std(ddof=1) / np.sqrt(RUNS))
    assert abs(lin.mean() - c.mean[0, 0]) <= 2 * sem, (lin.mean(), c.mean[0, 0], sem)
    assert np.all(lin >= model.floor_Q)
