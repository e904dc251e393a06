"""Shared fixtures: explicit seeds (tests must pass for any of them, not a lucky one).

Under pytest-xdist (the README's test command runs ``-n auto``) every worker computes with one
thread: on the 2-core CI machine two workers with two BLAS/torch threads each fight over the cores,
and small convolutions then run ~10× slower. Set before numpy or torch is first imported; the
variables reach the subprocesses that tests start, too. Tests that pin threads themselves
(``threads_per_run``) still do.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests draw the same examples on every run: a CI run that fails by chance blocks every
# landing. (Run `pytest --hypothesis-profile=explore` to search new examples locally.)
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile("ci")

SEEDS = (0, 1, 2)


@pytest.fixture(params=SEEDS)
def seed(request) -> int:
    return request.param


@pytest.fixture
def rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


def pytest_collection_modifyitems(config, items) -> None:
    """Under xdist, every worker starts with its share of the ``slow`` tests.

    Why: ``--dist worksteal`` first hands worker i the i-th contiguous block of the collection, then
    balances by stealing pending tests from the end of a queue. A minute-long test collected late
    would start in the last minute and be the suite's tail; put first in a block, it overlaps with
    everything else. Blocks stay contiguous (module fixtures are built once per worker), and the
    block sizes are the scheduler's own (``len(pending) // workers_remaining``).
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    slow = [it for it in items if it.get_closest_marker("slow")]
    if workers < 2 or not slow:
        return
    rest = [it for it in items if not it.get_closest_marker("slow")]
    blocks, left = [], len(items)
    for i in range(workers):
        size = left // (workers - i)
        left -= size
        mine = slow[i::workers]
        take = max(size - len(mine), 0)
        blocks += mine + rest[:take]
        rest = rest[take:]
    items[:] = blocks + rest


@pytest.fixture
def crash_at_checkpoint(monkeypatch):
    """``arm(module, n)``: the n-th checkpoint ``module`` writes is written, then the run "dies"
    (KeyboardInterrupt), as a killed process would right after saving; later saves are normal."""

    def arm(module, n: int) -> None:
        orig, calls = module.save_checkpoint, {"n": 0}

        def save(obj, path):
            orig(obj, path)
            calls["n"] += 1
            if calls["n"] == n:
                raise KeyboardInterrupt

        monkeypatch.setattr(module, "save_checkpoint", save)

    return arm
