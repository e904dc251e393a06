"""Shared fixtures: explicit seeds (tests must pass for any of them, not a lucky one)."""

import numpy as np
import pytest

SEEDS = (0, 1, 2)


@pytest.fixture(params=SEEDS)
def seed(request) -> int:
    return request.param


@pytest.fixture
def rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)
