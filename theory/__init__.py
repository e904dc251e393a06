"""reconscale.theory — exact risk of linear estimators learned by early-stopped gradient descent.

The paper's model (Klug & Heckel, ICLR 2023) and its generalisations: Gaussian signals (a random
d-dimensional subspace, or any covariance spectrum) seen through a linear operator (denoising,
accelerated MRI, super-resolution) with noise σ. For every estimator — W*, W_PCA, W^∞, ridge,
gradient flow and the whole gradient-descent path W^k — the risk comes from one factorisation of
the training data, and its expectation over training sets from Monte Carlo (plain or
Rao–Blackwellised), the exact least-squares identity, the large-N law, or a random-matrix
deterministic equivalent. ``theory.datamodel`` / ``theory.data_asymptotics``: a signal model
estimated from data (full covariance or stationary power spectrum), trained on P and tested on Q.

numpy/scipy only at import time; sympy (``theory.symbolic``) and cupy (``backend="cupy"``) load
on use. Never imports torch.
"""

from .asymptotics import large_n_curve, ols_expected_risk, rmt_curve, spectrum_support
from .curves import METHODS, argmin_curve, expected_risk, to_records
from .data_asymptotics import DataEquivalent, ShiftSpectrum, argmin_steps, data_rmt_curve, shift_spectrum
from .datamodel import (
    DATA_METHODS,
    DataModel,
    DataSpectrum,
    data_expected_risk,
    data_montecarlo,
    real_fourier_basis,
    second_moment_spectrum,
)
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
from .signals import SpectralSignal, SubspaceSignal, fourier_power, random_orthonormal
from .split import SplitPath, split_columns, split_gd_loop, split_risk_curve, split_training_set

__all__ = [
    "DATA_METHODS",
    "DataEquivalent",
    "DataModel",
    "DataSpectrum",
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
    "SplitPath",
    "SubspaceSignal",
    "SuperResolution",
    "TrainingSpectrum",
    "argmin_curve",
    "argmin_steps",
    "check_lr",
    "conditional_risk_path",
    "data_expected_risk",
    "data_montecarlo",
    "data_rmt_curve",
    "expected_risk",
    "fourier_power",
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
    "real_fourier_basis",
    "second_moment_spectrum",
    "shift_spectrum",
    "ShiftSpectrum",
    "spectrum_support",
    "split_columns",
    "split_gd_loop",
    "split_risk_curve",
    "split_training_set",
    "to_records",
    "validation_error_path",
]
