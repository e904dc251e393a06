"""The paper's eight theory setups and a resumable runner that tabulates them.

Each (setup, N) block is computed with the same per-draw random streams whatever else is
requested, written atomically to ``<out>.parts/<config hash>/``, and reused on re-run, so an
interrupted run loses at most the block in progress.

``target_sigma`` (σ_t, Noise2Noise-style noisy training targets, see :mod:`theory.problem`) applies to
every setup; rows carry it, and it is part of the resume hash so blocks of different σ_t never mix.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .infra.io import atomic_write, write_table
from .montecarlo import Estimator, montecarlo
from .problem import Problem, check_target_sigma
from .signals import SubspaceSignal

__all__ = ["Setup", "SETUPS", "N_GRIDS", "K_GRID", "setup_rows", "run_setups", "parse_setups"]

_POW2 = [256, 512, 1024, 2048, 4096, 8192, 16384]
N_GRIDS: dict[int, tuple[int, ...]] = {
    10: (1, 2, 4, 8, 10, 12, 14, 16, 18, 22, 24, 30, 36, 44, 64, 100, *_POW2),
    50: (1, 4, 10, 18, 30, 44, 50, 58, 64, 70, 76, 86, 100, 128, *_POW2),
    100: (1, 10, 15, 30, 50, 70, 80, 90, 100, 110, 120, 130, 150, 175, 200, *_POW2),
}

#: k values at which the GD risk curve R(W^k) is tabulated (for the "risk vs k" figure).
K_GRID: tuple[int, ...] = tuple(int(k) for k in np.unique(np.round(np.geomspace(1, 5000, 40))))


@dataclass(frozen=True)
class Setup:
    """One theory setup of the paper: (d, n, σ) and its N grid."""

    id: int
    d: int
    n: int
    sigma: float

    @property
    def N(self) -> tuple[int, ...]:
        return N_GRIDS[self.d]

    def problem(self, *, target_sigma: float = 0.0) -> Problem:
        """The setup's :class:`Problem`; ``target_sigma``: σ_t of the training targets (0: supervised)."""
        return Problem(SubspaceSignal(self.n, self.d), self.sigma, target_sigma=target_sigma)


SETUPS: tuple[Setup, ...] = tuple(
    Setup(i + 1, d, n, s)
    for i, (d, n, s) in enumerate(
        [(10, 100, 0.05), (10, 100, 0.1), (10, 100, 0.2), (10, 1000, 0.05), (10, 1000, 0.1),
         (10, 10000, 0.1), (50, 1000, 0.1), (100, 1000, 0.1)]
    )
)


def parse_setups(text: str) -> list[Setup]:
    """'1,2,5-8' or 'all' → setups; raises ValueError naming the bad item."""
    if text.strip() == "all":
        return list(SETUPS)
    ids: list[int] = []
    for item in text.split(","):
        item = item.strip()
        try:
            if "-" in item:
                lo, hi = (int(v) for v in item.split("-"))
                ids += list(range(lo, hi + 1))
            else:
                ids.append(int(item))
        except ValueError:
            raise ValueError(f"'{text}' is not a list of setup numbers like 1,2,5-8") from None
    if not ids or any(i < 1 or i > len(SETUPS) for i in ids):
        raise ValueError(f"setup numbers must be between 1 and {len(SETUPS)}; got '{text}'")
    return [SETUPS[i - 1] for i in sorted(set(ids))]


def setup_rows(setup: Setup, N: int, *, runs: int, seed: int, kmax: int, method: str, backend: str = "numpy",
               target_sigma: float = 0.0) -> list[dict]:
    """Per-run rows for one (setup, N): optimal, pca, ols, gd-oracle, and gd on :data:`K_GRID`.

    ``target_sigma``: σ_t of the training targets (0: supervised); every row carries it.
    """
    problem = setup.problem(target_sigma=target_sigma)
    ests = [Estimator("optimal"), Estimator("pca"), Estimator("ols"), Estimator("gd-oracle", kmax=kmax),
            Estimator("gd", steps=tuple(k for k in K_GRID if k <= max(kmax, 1)))]
    curves = montecarlo(problem, [N], ests, runs=runs, rng=np.random.default_rng([seed, setup.id]),
                        rao_blackwell=method == "rao-blackwell", backend=backend)
    rows = []
    for c in curves:
        for run in range(c.runs):
            for t, par in enumerate(c.estimator.params):
                rows.append({
                    "setup": setup.id, "n": setup.n, "d": setup.d, "sigma": setup.sigma,
                    "target_sigma": problem.target_sigma, "N": int(N),
                    "estimator": c.estimator.name,
                    "k": int(par) if c.estimator.name == "gd" else (int(c.k_opt[run, 0]) if c.k_opt is not None else None),
                    "run": run, "risk": float(c.draws[run, 0, t]), "floor": float(c.floor[run, 0]),
                    "method": method, "runs": runs, "kmax": kmax, "seed": seed, "lr": "paper",
                })
    return rows


def run_setups(
    setups: Sequence[Setup], *, out: str | Path, runs: int = 5, seed: int = 0, kmax: int = 5000,
    method: str = "montecarlo", fmt: str = "csv", backend: str = "numpy", progress: bool = True,
    on_block: Callable[[Setup, int], None] | None = None, target_sigma: float = 0.0,
) -> Path:
    """Compute every (setup, N) block, resuming finished ones, and write one tidy table to ``out``.

    ``target_sigma``: σ_t ≥ 0 of the training targets for every setup (0: supervised); a bad value is a
    one-line ValueError before anything is computed or written.
    """
    out = Path(out)
    target_sigma = check_target_sigma(target_sigma)
    config = {"runs": runs, "seed": seed, "kmax": kmax, "method": method, "k_grid": list(K_GRID),
              "target_sigma": target_sigma}
    tag = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    parts = out.parent / f"{out.name}.parts" / tag
    blocks = [(s, N) for s in setups for N in s.N]
    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=len(blocks), desc="theory setups", unit="block")
    rows: list[dict] = []
    try:
        for s, N in blocks:
            part = parts / f"s{s.id}_N{N}.json"
            if part.exists():
                block = json.loads(part.read_text())
            else:
                if bar is not None:
                    bar.set_postfix_str(f"setup {s.id} (n={s.n}, d={s.d}, σ={s.sigma}) N={N}")
                block = setup_rows(s, N, runs=runs, seed=seed, kmax=kmax, method=method, backend=backend,
                                   target_sigma=target_sigma)
                atomic_write(part, json.dumps(block))
            rows += block
            if on_block is not None:
                on_block(s, N)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    write_table(rows, out, fmt)
    shutil.rmtree(parts, ignore_errors=True)
    if not any(parts.parent.iterdir()):
        parts.parent.rmdir()
    return out
