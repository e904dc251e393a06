"""Bad input to the data model (issue 11): spectra with negative or non-finite values, non-finite
bases, P and Q of different n, operators of the wrong shape, non-finite examples
(:mod:`theory.datamodel`); each is one ``ValueError`` line naming the problem and the fix."""

import numpy as np
import pytest

from tests.helpers import one_line
from theory.datamodel import DataModel, DataSpectrum, second_moment_spectrum
from theory.operators import MRI
# --------------------------------------------------------------------------------------------------
# theory: spectra, bases, P/Q sizes, operators, examples
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mu", "expected"), [
    ([1.0, -0.5, 2.0], "1 negative (smallest mu[1] = -0.5)"),
    ([1.0, np.nan, 2.0], "1 non-finite (mu[1] = nan)"),
    ([1.0, np.inf, -np.inf], "2 non-finite (mu[1] = inf)"),
    ([0.0, 0.0], "all zero"),
    ([1.0 + 1j, 2.0], "complex"),
    (["a", "b"], "must be an array of real numbers"),
    ([[1.0, 2.0]], "1-D array"),
])
def test_spectrum_with_bad_values_is_one_line(mu, expected):
    with pytest.raises(ValueError) as e:
        DataSpectrum(np.array(mu) if not isinstance(mu[0], str) else mu)
    one_line(e, expected, "give finite μ ≥ 0" if "zero" in expected or "finite" in expected or "negative" in expected
             else "")


@pytest.mark.parametrize(("V", "expected"), [
    (np.where(np.eye(3) > 0, np.nan, 0.0), "basis V has 3 non-finite entries; give a finite orthonormal"),
    (np.where(np.eye(3) > 0, np.inf, 0.0), "basis V has 3 non-finite entries"),
    (np.eye(2), "basis V has shape (2, 2); expected (3, 3)"),
    (np.eye(3) + 0j, "basis V is complex"),
])
def test_spectrum_with_a_bad_basis_is_one_line(V, expected):
    with pytest.raises(ValueError) as e:
        DataSpectrum(np.ones(3), V=V)
    one_line(e, expected)


def test_P_and_Q_of_different_n_is_one_line():
    with pytest.raises(ValueError) as e:
        DataModel(DataSpectrum(np.ones(4)), 0.1, DataSpectrum(np.ones(9)))
    one_line(e, "P has n = 4 and Q has n = 9", "same size")


@pytest.mark.parametrize(("operator", "expected"), [
    (np.ones((3, 5)), "operator matrix has shape (3, 5); expected finite (m, 4)"),
    (np.ones(4), "operator matrix has shape (4,)"),
    (np.ones((0, 4)), "with m ≥ 1"),
    (np.where(np.eye(4) > 0, np.nan, 0.0), "it has 4 non-finite entries"),
    ("mri", "operator='mri' is not an operator"),
    (2.0, "operator=2.0 is not an operator"),
    (MRI((3, 3), accel=2, center_fraction=0.3), "operator acts on n=9 values but the signal has n=4"),
])
def test_operator_of_the_wrong_shape_is_one_line(operator, expected):
    with pytest.raises(ValueError) as e:
        DataModel(DataSpectrum(np.ones(4)), 0.1, operator=operator)
    one_line(e, expected)


@pytest.mark.parametrize("sigma", [-1.0, np.nan, np.inf, "0.1", None, True, [0.1]])
def test_bad_sigma_is_one_line(sigma):
    with pytest.raises(ValueError) as e:
        DataModel(DataSpectrum(np.ones(4)), sigma)
    one_line(e, "must be a finite number ≥ 0")


def test_good_model_is_accepted():
    m = DataModel(DataSpectrum(np.arange(1.0, 5.0)), np.float64(0.1), operator=np.eye(4)[:2])
    assert (m.n, m.m) == (4, 2) and 0 < m.floor_Q < 1


@pytest.mark.parametrize(("X", "expected"), [
    (np.where(np.arange(40).reshape(20, 2) == 7, np.inf, 1.0), "X has non-finite values (1 in 1 example(s), first row 3)"),
    (np.full((20, 4), np.nan), "X has non-finite values (80 in 20 example(s), first row 0)"),
    (np.ones((20, 4)) + 1j, "X is complex"),
    ([["a", "b"]] * 3, "X must be an array of real numbers"),
])
def test_examples_with_non_finite_values_are_one_line(X, expected):
    with pytest.raises(ValueError) as e:
        second_moment_spectrum(X)
    one_line(e, expected)
    with pytest.raises(ValueError):
        second_moment_spectrum(X, method="stationary", shape=(2, 2) if np.shape(X)[-1] == 4 else (1, 2))
