"""Every noise-seed offset of a run, in one table.

A run with seed ``s`` draws all of its fixed randomness from CPU generators seeded by
``(s + offset, id)`` (:func:`empirical.tasks.example_generator`), so a draw depends on neither the
batch, the batch order, the device nor N. Each stream has its own offset, so no two streams ever
share a draw. The values are part of every ledger: changing one changes the results.

=====================  ========  ==========================================================  ==========
name                   offset    seeds                                                       id
=====================  ========  ==========================================================  ==========
VAL_NOISE_SEED         10 000    the fixed input noise (and MRI mask) of each validation      image id
                                 image
TEST_NOISE_SEED        20 000    the fixed input noise of each test image; its draw j of      image id
                                 ``test_draws`` adds j times ``TEST_DRAW_STRIDE`` (100 000)
TRAIN_NOISE_SEED       30 000    one fixed input-noise draw per training example             image id
                                 (``train_noise = "fixed"``, ``arch = "linear-exact"``, and
                                 the one measurement of a fixed ``split`` example)
TARGET_NOISE_SEED      40 000    the one fixed second noisy image of ``target = "noisy"``    image id
SPLIT_SEED             50 000    the fixed Λ/Γ column split of ``target = "split"``           mask id
=====================  ========  ==========================================================  ==========

Two streams are not offsets: the sweep's training loop draws batches and fresh noise from one
generator seeded by ``s`` itself (a stream, not per example), and data-parallel training draws the
fresh noise of example i in epoch e from ``(epoch_noise_seed(s, e), i)`` (:func:`epoch_noise_seed`,
≥ 2³², so never equal to ``s`` plus an offset above).
"""

from __future__ import annotations

__all__ = ["VAL_NOISE_SEED", "TEST_NOISE_SEED", "TEST_DRAW_STRIDE", "TRAIN_NOISE_SEED", "TARGET_NOISE_SEED", "SPLIT_SEED",
           "epoch_noise_seed"]

VAL_NOISE_SEED: int = 10_000
TEST_NOISE_SEED: int = 20_000
#: Draw j of the test noise is seeded by ``seed + TEST_NOISE_SEED + j·TEST_DRAW_STRIDE`` (above every
#: offset, so no draw meets another stream of the same run; at most 64 draws stay below 2³²).
TEST_DRAW_STRIDE: int = 100_000
TRAIN_NOISE_SEED: int = 30_000
TARGET_NOISE_SEED: int = 40_000
SPLIT_SEED: int = 50_000


def epoch_noise_seed(seed: int, epoch: int) -> int:
    """The seed of data-parallel epoch ``epoch``'s fresh training noise (example i: ``(this, i)``).

    ``((seed + 1) << 32) + epoch`` ≥ 2³² for seed ≥ 0, so it never equals a run seed plus one of
    the offsets of this module.
    """
    return ((int(seed) + 1) << 32) + int(epoch)
