"""One training loop (empirical.train.train) for sweeps and data-parallel runs: every training target
works under DDP, and a run on 2 gloo processes gives the 1-process row; per-example draws do not
depend on how a batch is split over processes; the sweep hands its validated plans to the workers,
and plans pickle."""

import json
import os
import pickle
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from empirical import ddp as ddp_mod  # noqa: E402
from empirical import sweep as sweep_mod  # noqa: E402
from empirical.config import DEFAULTS, RunConfig, expand  # noqa: E402
from empirical.ledger import Ledger, Row  # noqa: E402
from empirical.plan import RunPlan, plan, validate  # noqa: E402
from empirical.seeds import epoch_noise_seed  # noqa: E402
from empirical.targets import Supervision, Target  # noqa: E402
from empirical.tasks import make_task  # noqa: E402

gloo = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                          reason="torch.distributed with gloo is not available")

#: Tiny runs: N=16, global batch 4, 24 steps (2 evaluations).
COMMON = ["--set", "N=16", "--set", "width=4", "--set", "depth=1", "--set", "n_val=4", "--set", "n_test=4",
          "--set", "batch_size=4", "--set", "min_steps=24", "--set", "max_steps=24", "--set", "eval_every=12",
          "--set", "early_stop_patience=100", "--set", 'device="cpu"', "--set", "lr=3e-3", "--set", "seed=1"]
TARGETS = {
    "noisy": ["--set", 'data="deadleaves"', "--set", "size=16", "--set", "sigma=0.2", "--set", 'target="noisy"'],
    "split": ["--set", 'task="mri"', "--set", 'data="phantoms"', "--set", "size=16", "--set", "sigma=0.01",
              "--set", 'target="split"'],
}
#: Stated tolerance between 2 processes and one (float reduction order only), as tests/empirical/test_ddp.py.
PSNR_TOL_DB, MSE_RTOL = 1e-3, 1e-4


def _row(out) -> dict:
    with Ledger(out / "ledger.sqlite") as led:
        (row,) = led.rows()
    return row


@pytest.mark.slow
@gloo
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_self_supervised_targets_on_two_gloo_processes_match_one_process(tmp_path, target):
    args = ["quick-denoise", "--quiet", *COMMON, *TARGETS[target]]
    assert ddp_mod.main([*args, "--out", str(tmp_path / "p1")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "empirical.ddp",
           *args, "--out", str(tmp_path / "p2")]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    one, two = _row(tmp_path / "p1"), _row(tmp_path / "p2")
    assert one["config"]["target"] == two["config"]["target"] == target and one["run_id"] == two["run_id"]
    assert one["status"] == two["status"] == "done", (one["reason"], two["reason"])
    assert "×2 (DDP, gloo)" in two["device"]
    assert one["steps"] == two["steps"] == 24 and one["best_step"] == two["best_step"]
    for split in ("val", "test"):
        ma, mb = one["metrics"][split], two["metrics"][split]
        assert abs(ma["psnr"] - mb["psnr"]) <= PSNR_TOL_DB, split
        assert ma["mse"] == pytest.approx(mb["mse"], rel=MSE_RTOL), split
    assert [h["train_loss"] for h in one["metrics"]["history"]] == pytest.approx(
        [h["train_loss"] for h in two["metrics"]["history"]], rel=1e-4)
    assert one["metrics"]["conventions"]["target"].startswith({"noisy": "a second noisy image",
                                                               "split": "SSDU split"}[target])


@pytest.mark.parametrize("task_name,target", [("denoise", Target()), ("denoise", Target("noisy")),
                                              ("denoise", Target("noisy-resampled")),
                                              ("denoise", Target(train_noise="fixed")), ("mri", Target()),
                                              ("mri", Target("split")), ("mri", Target("split", train_noise="fixed"))])
def test_per_example_draws_do_not_depend_on_the_batch_split(task_name, target):
    """What makes a DDP step P-invariant: with a seed, each example's draws are its own."""
    task = make_task(task_name, sigma=0.1)
    x = torch.rand(10, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    sup = Supervision.build(task, target, x, seed=3).to(torch.device("cpu"))
    idx, seed = torch.tensor([7, 2, 9, 0, 4, 5]), epoch_noise_seed(3, 1)
    whole_in, whole_t = sup.batch(idx, seed)
    parts = [sup.batch(idx[a:b], seed) for a, b in ((0, 1), (1, 4), (4, 6))]
    assert torch.equal(whole_in, torch.cat([p[0] for p in parts]))
    if isinstance(whole_t, tuple):
        for j, t in enumerate(whole_t):
            assert torch.equal(t, torch.cat([p[1][j] for p in parts]))
    else:
        assert torch.equal(whole_t, torch.cat([p[1] for p in parts]))
    other_in, _ = sup.batch(idx, epoch_noise_seed(3, 2))  # another epoch: new fresh draws (unless fixed)
    assert torch.equal(other_in, whole_in) == (target.train_noise == "fixed")


def test_the_sweep_hands_its_validated_plans_to_the_worker(tmp_path, monkeypatch):
    cfg = {**DEFAULTS, "data": "deadleaves", "size": 16, "N": [4, 8], "width": 4, "depth": 1, "n_val": 2,
           "n_test": 2, "device": "cpu"}
    import empirical.plan as plan_mod

    monkeypatch.setattr(plan_mod, "plan", lambda run, _orig=plan_mod.plan: seen_plan.append(run) or _orig(run))
    seen_plan, got = [], []

    def work(p, run_dir, progress=False):
        got.append(p)
        return Row.failed("not trained in this test")

    sweep_mod.run_sweep(cfg, tmp_path, progress=False, work=work)
    assert all(isinstance(p, RunPlan) for p in got) and len(got) == 2
    assert len(seen_plan) == 2  # planned once, by validate; the worker did not plan again
    assert sorted(p.config.N for p in got) == [4, 8]


@pytest.mark.parametrize("over", [{}, {"task": "mri", "data": "phantoms", "target": "split"},
                                  {"data": "subspace", "d": 4}, {"arch": "linear-exact", "size": 8}])
def test_plans_pickle_cheaply(over):
    (p,) = validate(expand({**DEFAULTS, "data": "deadleaves", "size": 16, "N": 8, "n_val": 2, "n_test": 2,
                            "device": "cpu", **over}))
    blob = pickle.dumps(p)
    assert len(blob) < 64 << 10, len(blob)  # settings, not images
    back = pickle.loads(blob)
    assert back.config == p.config and back.task == p.task and back.model == p.model
    assert json.dumps(back.config.identity()) == json.dumps(p.config.identity())
    assert isinstance(plan(RunConfig(**p.config.to_dict())), RunPlan)
