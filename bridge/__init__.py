"""reconscale.bridge — scaling laws for theory and experiment on one N axis (numpy/scipy/matplotlib).

Fitted laws (:mod:`bridge.laws`), their uncertainty and model choice (:mod:`bridge.uncertainty`), their
extrapolation and margins (:mod:`bridge.extrapolation`), the joint law in
data and model size (:mod:`bridge.joint`), torch-free reading of sweep results
(:mod:`bridge.results`), theory-vs-experiment alignment (:mod:`bridge.compare`) and calibration (:mod:`bridge.calibrate`), and
the linear theory of a sweep's own images (:mod:`bridge.datatheory`), and supervised vs
self-supervised training with the extra examples it costs (:mod:`bridge.extra`).
Figures live in :mod:`bridge.plot` (pure drawing functions) and :mod:`bridge.figures` (from
tables); neither is imported here, so ``import bridge`` never loads matplotlib. ``bridge`` never
imports torch or ``empirical``: it reads what a sweep wrote.
"""

from .calibrate import CALIBRATION_MODELS, Calibration, calibrate, power_relative_curve
from .compare import Curve, align, compare_fits, empirical_curve, theory_curve
from .datatheory import data_theory_curve, load_data_model
from .extra import compare_targets, extra_examples, theory_extra_examples
from .extrapolation import extrapolate, n_to_margin, n_to_margin_ci
from .joint import JointLaw, gain_table, params_for_width, smallest_width
from .laws import BrokenPowerLaw, FloorPowerLaw, Law, PowerLaw, SaturatingLaw
from .results import aggregate, load_table, read_ledger, results_table, runs_curve
from .uncertainty import Bootstrap, BreakResult, bootstrap, compare_laws, detect_break, mse_to_psnr, psnr_to_mse

__all__ = [
    "CALIBRATION_MODELS",
    "Bootstrap",
    "BreakResult",
    "BrokenPowerLaw",
    "Calibration",
    "Curve",
    "FloorPowerLaw",
    "JointLaw",
    "Law",
    "PowerLaw",
    "SaturatingLaw",
    "aggregate",
    "align",
    "bootstrap",
    "calibrate",
    "compare_fits",
    "compare_targets",
    "compare_laws",
    "data_theory_curve",
    "detect_break",
    "extra_examples",
    "empirical_curve",
    "extrapolate",
    "gain_table",
    "load_data_model",
    "load_table",
    "mse_to_psnr",
    "n_to_margin",
    "n_to_margin_ci",
    "params_for_width",
    "power_relative_curve",
    "psnr_to_mse",
    "read_ledger",
    "results_table",
    "runs_curve",
    "smallest_width",
    "theory_curve",
    "theory_extra_examples",
]
