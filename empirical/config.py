"""Sweep configs: a flat TOML file → typed, de-duplicated :class:`RunConfig` records.

The first step of the sweep path (config → runs → executor → one run → ledger)::

    config.load_config(path, overrides)   # TOML + --set → dict of every key
    config.expand(cfg)                    # list-valued keys are axes → [RunConfig, ...]
    plan.validate(runs)                   # build every task, source, model, TrainConfig (torch)
    sweep.run_sweep(...)                  # lock the directory, open the ledger, execute

Any key may be a list, which makes it a sweep axis (N, width, seed, arch, sigma, size, accel,
scale, …). Options of the data source go in a ``[source]`` table at the end of the file (or
``--set source.KEY=VALUE``), e.g. a fastMRI acquisition filter. This module needs no torch.

A run's identity (:attr:`RunConfig.id`, the ledger key and run directory name) hashes only what
changes its result: every key except :data:`NOT_IN_IDENTITY` (the sweep's ``name`` is a label; the
``device`` a run used is recorded in its row; ``eval_batch``, ``compile`` and ``channels_last``
change how a computation is scheduled, not what it computes). Keys that do not apply to a run (the
MRI keys of a denoising run, ``depth`` of a SwinIR) are reset to their defaults before hashing, so
``depth = [2, 4]`` with ``arch = ["unet", "swinir"]`` trains the SwinIR once, not twice.

``target`` is what runs train on (:mod:`empirical.targets`): ``clean`` (default), ``noisy`` and
``noisy-resampled`` (denoising: a second noisy image, fixed per example or redrawn every step) or
``split`` (MRI: SSDU-style, input from Λ, loss on Γ of the measured columns; ``split_fraction``,
``split_center``); ``train_noise = "fixed"`` trains networks on one noise draw per example instead of
fresh noise every step. Validation and test always score against the clean image.

``arch = "linear-exact"`` is the learned linear estimator in closed form (:mod:`empirical.linear`): it
has no network and no optimiser, so every model and training key (:data:`LINEAR_EXACT_IGNORES`:
width, depth, lr, epochs, …) is reset to its default for its runs whether the key is an axis or not.
It can thus be added to any sweep config (``--set 'arch=["unet","linear-exact"]'``): it gives one
run per (N, seed, data and task settings), shared by every sweep that differs only in how its
networks train. Its own key is ``linear_kmax``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RunConfig", "DEFAULTS", "NOT_IN_IDENTITY", "OMITTED_AT_DEFAULT", "APPLIES_WHEN", "ARCHS", "LINEAR_EXACT_IGNORES", "CONFIG_DIR", "MAX_TEST_DRAWS",
           "load_config", "expand", "parse_override", "shipped_configs"]

CONFIG_DIR = Path(__file__).with_name("configs")
#: Values of ``arch``: torch networks trained by :func:`empirical.train.train`, and ``linear-exact``,
#: the learned linear estimator computed in closed form (:mod:`empirical.linear`).
ARCHS: tuple[str, ...] = ("unet", "swinir", "linear", "linear-exact")


@dataclass(frozen=True)
class RunConfig:
    """One run of a sweep: every setting, flat, as in the TOML file (see the shipped configs)."""

    name: str = "sweep"
    # task (empirical.tasks.Task): σ on the [0, 1] image scale; MRI and SR settings
    task: str = "denoise"
    sigma: float = 25 / 255
    accel: float = 4.0
    center_fraction: float = 0.08
    mask: str = "equispaced"
    complex_input: bool = False
    coils: int = 1
    scale: int = 2
    sr_kernel: str = "block"
    # data (empirical.data): training/validation source, optional separate test source
    data: str = "deadleaves-textured"
    test_data: str = ""
    size: int = 64
    channels: int = 1
    d: int = 10  # subspace source only
    n_val: int = 32
    n_test: int = 16
    test_draws: int = 1  # fixed noise draws per test image; test metrics average over them (empirical.seeds)
    data_seed: int = 0
    source: dict = field(default_factory=dict)  # options of the `data` source (make_source keywords)
    # training targets (empirical.targets): clean, noisy (Noise2Noise), noisy-resampled, split (MRI, SSDU)
    target: str = "clean"
    split_fraction: float = 0.6  # split only: share of the measured non-centre columns in the input Λ
    split_center: str = "both"  # split only: the fully sampled centre in "both" Λ and Γ, or in "lambda" only
    train_noise: str = "fresh"  # trained archs: "fresh" input noise every step, or "fixed" (one draw per example)
    # model (empirical.models)
    N: int = 100
    arch: str = "unet"
    width: int = 16
    depth: int = 2  # U-Net pooling layers
    residual: bool = True
    linear_kmax: float = 1e7  # linear-exact only: the largest finite GD step count k searched (and k = ∞)
    # training (empirical.train.TrainConfig)
    optimizer: str = "adam"
    loss: str = "mse"
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 8
    epochs: float = 50.0
    min_steps: int = 300
    max_steps: int = 3000
    schedule: str = "plateau"
    plateau_factor: float = 0.5
    plateau_patience: int = 3
    min_lr: float = 1e-5
    early_stop_patience: int = 8
    eval_every: int = 100
    eval_batch: int = 32
    device: str = "auto"
    bf16: bool = True
    channels_last: bool = True
    compile: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):  # types first: every later check may rely on them
            v, kind = getattr(self, f.name), type(_DEFAULT_VALUES[f.name])
            if kind is float and isinstance(v, int) and not isinstance(v, bool):
                object.__setattr__(self, f.name, float(v))  # TOML `sigma = 0` is an int
            elif not _is_kind(v, kind):
                raise ValueError(f"{f.name}={v!r} must be {_KIND_WORDS[kind]}")
        for key in ("N", "size", "channels", "d", "n_val", "width", "depth", "coils", "scale"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}={getattr(self, key)} must be a positive integer")
        if not 1 <= self.test_draws <= MAX_TEST_DRAWS:
            raise ValueError(f"test_draws={self.test_draws} must be an integer from 1 to {MAX_TEST_DRAWS} (fixed noise "
                             "draws per test image)")
        if self.n_test < 1:  # every run is scored on its test images (test metrics are means over them)
            raise ValueError(f"n_test={self.n_test} must be a positive integer: every run reports its mean test "
                             "metrics; use n_test ≥ 1")
        if self.data_seed < 0 or self.seed < 0:
            raise ValueError("data_seed and seed must be integers ≥ 0")
        for key in ("sigma", "accel", "center_fraction", "split_fraction", "lr", "weight_decay", "epochs", "plateau_factor", "min_lr"):
            if not math.isfinite(getattr(self, key)):
                raise ValueError(f"{key}={getattr(self, key)} must be a finite number")
        if self.task not in ("denoise", "mri", "sr"):
            raise ValueError(f"task={self.task!r}: use denoise, mri or sr")
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r}: use unet, swinir or linear (trained networks), or linear-exact "
                             "(the learned linear estimator in closed form)")
        if not (math.isfinite(self.linear_kmax) and self.linear_kmax >= 1):
            raise ValueError(f"linear_kmax={self.linear_kmax} must be a finite number ≥ 1 (the largest GD step "
                             "count of arch linear-exact)")
        if not all(isinstance(k, str) for k in self.source):
            raise ValueError("[source] keys must be option names (strings)")

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict[str, Any]:
        """Every setting as a JSON-ready dict (what the ledger's ``config`` column holds)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """The inverse of :meth:`to_dict`; unknown keys are a ``ValueError`` naming them."""
        unknown = sorted(set(d) - set(_DEFAULT_VALUES))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; the keys are listed in empirical.config.RunConfig")
        return cls(**d)

    def identity(self) -> dict[str, Any]:
        """The settings that determine the result (all but :data:`NOT_IN_IDENTITY`, and the keys of
        :data:`OMITTED_AT_DEFAULT` while at their defaults, so runs of older sweeps keep their ids)."""
        return {k: v for k, v in self.to_dict().items()
                if k not in NOT_IN_IDENTITY and not (k in OMITTED_AT_DEFAULT and v == _DEFAULT_VALUES[k])}

    @property
    def id(self) -> str:
        """Stable run id: a hash of :meth:`identity` (the ledger key and the run directory's name)."""
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def axes_text(self, axes: Iterable[str]) -> str:
        """``N=16, width=8`` for the given keys: how an error names the run it is about."""
        return ", ".join(f"{k}={getattr(self, k)!r}" for k in axes)


_DEFAULT_VALUES: dict[str, Any] = {f.name: (f.default_factory() if callable(f.default_factory) else f.default)
                                   for f in fields(RunConfig)}
#: Every key a sweep config may set, with its default (lists make axes).
DEFAULTS: dict[str, Any] = dict(_DEFAULT_VALUES)
#: Keys left out of a run's identity: they do not change what the run computes (see the module doc).
NOT_IN_IDENTITY: tuple[str, ...] = ("name", "device", "eval_batch", "compile", "channels_last")
#: Keys added after sweeps were first written: left out of a run's identity while at their default,
#: so a clean-target run keeps the id (ledger key, run directory) it had before they existed.
OMITTED_AT_DEFAULT: tuple[str, ...] = ("target", "split_fraction", "split_center", "train_noise", "test_draws")
#: Most fixed noise draws per test image (each draw's seed: :data:`empirical.seeds.TEST_DRAW_STRIDE`).
MAX_TEST_DRAWS = 64
# Model and optimisation keys that only a trained network uses (not arch linear-exact).
_TRAINING_KEYS = ("train_noise", "residual", "optimizer", "loss", "lr", "weight_decay", "batch_size", "epochs", "min_steps",
                  "max_steps", "schedule", "min_lr", "early_stop_patience", "eval_every", "bf16")
#: Keys that apply only to some runs; elsewhere they must keep their default.
APPLIES_WHEN: dict[str, tuple[str, Callable[[RunConfig], bool]]] = {
    **{k: ("task mri", lambda r: r.task == "mri") for k in ("accel", "center_fraction", "mask", "complex_input",
                                                           "coils")},
    **{k: ("task sr", lambda r: r.task == "sr") for k in ("scale", "sr_kernel")},
    "depth": ("arch unet", lambda r: r.arch == "unet"),
    "width": ("arch unet or swinir", lambda r: r.arch in ("unet", "swinir")),
    "d": ("data subspace", lambda r: "subspace" in (r.data, r.test_data)),
    **{k: ("a trained arch (unet, swinir, linear)", lambda r: r.arch != "linear-exact") for k in _TRAINING_KEYS},
    "plateau_factor": ("schedule plateau", lambda r: r.schedule == "plateau" and r.arch != "linear-exact"),
    "plateau_patience": ("schedule plateau", lambda r: r.schedule == "plateau" and r.arch != "linear-exact"),
    "linear_kmax": ("arch linear-exact", lambda r: r.arch == "linear-exact"),
    **{k: ("target split", lambda r: r.target == "split") for k in ("split_fraction", "split_center")},
}
#: Keys that ``arch = "linear-exact"`` runs ignore: :func:`expand` resets them to their defaults in
#: those runs (axes and single values alike), so a network sweep's config runs them unchanged.
LINEAR_EXACT_IGNORES: tuple[str, ...] = ("width", "depth", *_TRAINING_KEYS, "plateau_factor", "plateau_patience")
_KIND_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
               dict: "a table of options"}


def _is_kind(v: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, kind)


def shipped_configs() -> list[str]:
    """Names of the configs that ship with reconscale (``quick-denoise``, …)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; the value is TOML (``N=[10,100]``, ``sigma=0.1``,
    ``data="photos"``) or a bare string."""
    if "=" not in text:
        raise ValueError(f"--set {text!r}: expected key=value, e.g. --set N=[16,64]")
    key, raw = (s.strip() for s in text.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def load_config(source: str | Path, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Read a sweep config and apply ``--set`` overrides.

    Args:
        source: a TOML file, or the name of a shipped config (:func:`shipped_configs`).
        overrides: ``key=value`` strings; ``source.KEY=VALUE`` sets a data-source option.

    Returns:
        Every key of :class:`RunConfig` (defaults filled in); list values are axes.

    Raises:
        ValueError: a missing or unreadable file, invalid TOML, an unknown key.
    """
    path = Path(source)
    if not path.exists():
        shipped = CONFIG_DIR / f"{source}.toml"
        if not shipped.exists():
            raise ValueError(f"config {str(source)!r} is neither a file nor a shipped config "
                             f"({', '.join(shipped_configs())})")
        path = shipped
    if not path.is_file():
        raise ValueError(f"config {str(path)!r} is a directory; give a TOML file or a shipped config name")
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    except OSError as e:
        raise ValueError(f"config {str(path)!r} cannot be read ({e.strerror})") from None
    cfg["source"] = dict(cfg.get("source", {})) if isinstance(cfg.get("source", {}), dict) else cfg["source"]
    for item in overrides:
        k, v = parse_override(item)
        if k.startswith("source."):
            if not isinstance(cfg["source"], dict):
                raise ValueError("source must be a table of data-source options")
            cfg["source"][k[len("source."):]] = v
        else:
            cfg[k] = v
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{path.name}: unknown key(s) {', '.join(unknown)}; the keys are listed in "
                         "empirical.config.RunConfig")
    return {**DEFAULTS, **cfg}


def expand(cfg: dict[str, Any]) -> list[RunConfig]:
    """All runs of a config: the product of its list-valued keys (N varies fastest), de-duplicated.

    A key that does not apply to a run (:data:`APPLIES_WHEN`) is reset to its default for that run
    when it is an axis that applies to other runs; a key that applies to no run but is set away
    from its default is an error, since the sweep would silently ignore it. Runs of arch
    ``linear-exact`` first get every key of :data:`LINEAR_EXACT_IGNORES` reset, so the training
    settings of a network sweep never multiply them nor make them an error.

    Raises:
        ValueError: one line naming the key and value (an empty axis, a bad type or value, a key
            that applies to no run).
    """
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; the keys are listed in empirical.config.RunConfig")
    axes = sorted((k for k, v in cfg.items() if isinstance(v, list)), key=lambda k: (k == "N", k))
    for k in axes:
        if not cfg[k]:
            raise ValueError(f"sweep axis {k!r} is an empty list; give at least one value")
    runs: list[RunConfig] = []
    for combo in itertools.product(*(cfg[k] for k in axes)):
        values = {**cfg, **dict(zip(axes, combo))}
        try:
            run = RunConfig(**values)
        except ValueError as e:
            raise ValueError(_with_axes(str(e), values, axes)) from None
        if run.arch == "linear-exact":  # no network, no optimiser: the config's training keys are not its
            run = replace(run, **{k: DEFAULTS[k] for k in LINEAR_EXACT_IGNORES})
        runs.append(run)
    for key, (where, applies) in APPLIES_WHEN.items():
        if not any(applies(r) for r in runs) and any(getattr(r, key) != DEFAULTS[key] for r in runs):
            shown = cfg[key]
            raise ValueError(f"{key}={shown!r} applies only to {where}, which no run of this sweep has; drop it")
    seen: dict[str, RunConfig] = {}
    for run in runs:
        reset = {k: DEFAULTS[k] for k, (_, applies) in APPLIES_WHEN.items()
                 if k in axes and not applies(run) and getattr(run, k) != DEFAULTS[k]}
        run = replace(run, **reset) if reset else run
        seen.setdefault(run.id, run)
    return list(seen.values())


def _with_axes(msg: str, values: dict[str, Any], axes: list[str]) -> str:
    """Prefix a run's error with its axis values when the config has axes (which run is wrong)."""
    shown = [k for k in axes if k not in msg.split("=", 1)[0]]
    return f"run {', '.join(f'{k}={values[k]!r}' for k in shown)}: {msg}" if shown else msg
