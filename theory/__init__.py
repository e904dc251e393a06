"""reconscale.theory — exact risk of linear estimators learned by early-stopped gradient descent.

The paper's model (Klug & Heckel, ICLR 2023) and its generalisations: Gaussian signals (a random
d-dimensional subspace, or any covariance spectrum) seen through a linear operator (denoising,
accelerated MRI, super-resolution) with noise σ. For every estimator — W*, W_PCA, W^∞, ridge,
gradient flow and the whole gradient-descent path W^k — the risk comes from one factorisation of
the training data, and its expectation over training sets from Monte Carlo (plain or
Rao–Blackwellised), the exact least-squares identity, the large-N law, or a random-matrix
deterministic equivalent.

numpy/scipy only at import time; sympy (``theory.symbolic``) and cupy (``backend="cupy"``) load
on use. Never imports torch.
"""

from .asymptotics import large_n_curve, ols_expected_risk, rmt_curve, spectrum_support
from .curves import METHODS, argmin_curve, expected_risk, to_records
from .estimators import (
    TrainingSpectrum,
    check_lr,
    gd_filter,
    gd_loop,
    gf_filter,
    gradient_descent,
    gradient_flow,
    least_squares,
    ols_filter,
    optimal,
    pca,
    ridge,
    ridge_filter,
)
from .montecarlo import ESTIMATOR_NAMES, Estimator, RiskCurve, montecarlo
from .operators import MRI, Denoise, SuperResolution, make_operator, operator_from_dict
from .problem import Population, PopulationSpectrum, Problem
from .risk import conditional_risk_path, hadamard_quadform, risk_path, validation_error_path
from .signals import SpectralSignal, SubspaceSignal, random_orthonormal

__all__ = [
    "Denoise",
    "ESTIMATOR_NAMES",
    "Estimator",
    "METHODS",
    "MRI",
    "Population",
    "PopulationSpectrum",
    "Problem",
    "RiskCurve",
    "SpectralSignal",
    "SubspaceSignal",
    "SuperResolution",
    "TrainingSpectrum",
    "argmin_curve",
    "check_lr",
    "conditional_risk_path",
    "expected_risk",
    "gd_filter",
    "gd_loop",
    "gf_filter",
    "gradient_descent",
    "gradient_flow",
    "hadamard_quadform",
    "large_n_curve",
    "least_squares",
    "make_operator",
    "montecarlo",
    "ols_expected_risk",
    "ols_filter",
    "operator_from_dict",
    "optimal",
    "pca",
    "ridge",
    "ridge_filter",
    "risk_path",
    "rmt_curve",
    "random_orthonormal",
    "spectrum_support",
    "to_records",
    "validation_error_path",
]
