"""Data-parallel training (empirical.ddp): the sampler's batches do not depend on the number of
processes, 2 gloo processes under torchrun give the 1-process metrics, a run resumes (on another
number of processes too), a finished run is not trained again, and bad input is one line."""

import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from empirical import ddp as ddp_mod  # noqa: E402
from empirical import train as train_mod  # noqa: E402
from empirical.targets import Supervision  # noqa: E402
from empirical.train import epoch_batches  # noqa: E402
from empirical.ledger import Ledger  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")

#: One tiny denoising run: N=32, global batch 8, 60 steps (4 evaluations).
TINY = ["--set", 'data="deadleaves"', "--set", "size=16", "--set", "N=32", "--set", "width=4", "--set", "depth=1",
        "--set", "n_val=6", "--set", "n_test=4", "--set", "batch_size=8", "--set", "min_steps=60",
        "--set", "max_steps=60", "--set", "eval_every=15", "--set", "early_stop_patience=100",
        "--set", "sigma=0.2", "--set", 'device="cpu"', "--set", "lr=3e-3", "--set", "seed=0"]

#: Stated tolerance between P processes and one: the trajectories differ only by the order of
#: floating-point reductions (measured: ~1e-7 dB over 60 steps).
PSNR_TOL_DB, MSE_RTOL = 1e-3, 1e-4


def _torchrun(out, nproc: int, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "empirical.ddp", "quick-denoise", "--out", str(out), "--quiet", *TINY, *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _row(out) -> dict:
    with Ledger(out / "ledger.sqlite") as led:
        (row,) = led.rows()
    return row


def _assert_close(a: dict, b: dict) -> None:
    assert a["status"] == b["status"] == "done"
    assert a["steps"] == b["steps"] and a["best_step"] == b["best_step"]
    for split in ("val", "test"):
        ma, mb = a["metrics"][split], b["metrics"][split]
        assert abs(ma["psnr"] - mb["psnr"]) <= PSNR_TOL_DB, split
        assert ma["mse"] == pytest.approx(mb["mse"], rel=MSE_RTOL), split


@pytest.mark.parametrize("N,B,world", [(32, 8, 2), (37, 8, 2), (50, 12, 3), (64, 16, 4), (9, 8, 8)])
def test_local_batches_of_all_ranks_are_the_single_process_batches(N, B, world, seed):
    for epoch in (0, 1):
        one = epoch_batches(N, batch_size=B, world=1, rank=0, seed=seed, epoch=epoch)
        parts = [epoch_batches(N, batch_size=B, world=world, rank=r, seed=seed, epoch=epoch) for r in range(world)]
        assert one.shape == (N // B, B) and all(p.shape == (N // B, B // world) for p in parts)
        for t in range(N // B):
            assert sorted(torch.cat([p[t] for p in parts]).tolist()) == sorted(one[t].tolist())
        assert len(set(one.flatten().tolist())) == one.numel()  # an epoch never repeats an example
    a, b = (epoch_batches(N, batch_size=B, world=1, rank=0, seed=seed, epoch=e) for e in (0, 1))
    assert not torch.equal(a, b)  # reshuffled every epoch


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    assert ddp_mod.main(["quick-denoise", "--out", str(tmp_path / "p1"), "--quiet", *TINY]) == 0
    p = _torchrun(tmp_path / "p2", 2)
    assert p.returncode == 0, p.stderr[-2000:]
    one, two = _row(tmp_path / "p1"), _row(tmp_path / "p2")
    assert one["run_id"] == two["run_id"] and one["config"] == two["config"]
    _assert_close(one, two)
    assert "×2 (DDP, gloo)" in two["device"] and "×1" in one["device"]
    # rank 0 alone wrote the run directory: one checkpoint, one result file
    run_dir = tmp_path / "p2" / "runs" / two["run_id"]
    assert sorted(f.name for f in run_dir.iterdir()) == ["ckpt.pt", "result.json"]
    assert (tmp_path / "p2" / ".driver.lock").exists()  # rank 0 held the directory like any sweep driver
    assert "×2" in json.loads((run_dir / "result.json").read_text())["row"]["device"]


@pytest.mark.slow
def test_interrupted_run_resumes_on_another_number_of_processes(tmp_path, crash_at_checkpoint):
    ref_dir = tmp_path / "ref"
    assert ddp_mod.main(["quick-denoise", "--out", str(ref_dir), "--quiet", *TINY]) == 0
    crash_at_checkpoint(train_mod, 2)
    out = tmp_path / "b"
    assert ddp_mod.main(["quick-denoise", "--out", str(out), "--quiet", *TINY]) == 130
    assert _row(out)["status"] == "running"
    ck = torch.load(next((out / "runs").glob("*/ckpt.pt")), weights_only=True)
    assert ck["step"] == 30 and not ck["stopped"]
    p = _torchrun(out, 2)  # resumes the 1-process checkpoint on 2 processes
    assert p.returncode == 0, p.stderr[-2000:]
    resumed = _row(out)
    assert [h["step"] for h in resumed["metrics"]["history"]] == [15, 30, 45, 60]
    _assert_close(_row(ref_dir), resumed)


def test_finished_run_is_not_trained_again(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    assert ddp_mod.main(["quick-denoise", "--out", str(out), "--quiet", *TINY]) == 0
    before = _row(out)
    monkeypatch.setattr(ddp_mod, "train", lambda *a, **k: pytest.fail("a finished run was trained again"))
    assert ddp_mod.main(["quick-denoise", "--out", str(out), "--quiet", *TINY]) == 0
    assert "already done" in capsys.readouterr().err
    assert _row(out)["metrics"] == before["metrics"]


@pytest.mark.parametrize("extra,world,msg", [
    (["--set", "N=[16,32]"], 1, "expands to 2 runs"),
    (["--set", "batch_size=6"], 4, "not divisible by the 4 processes"),
    (["--set", "N=4"], 1, "smaller than batch_size"),
    (["--set", "nonsense=1"], 1, "unknown key"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, extra, world, msg):
    monkeypatch.setenv("WORLD_SIZE", str(world))
    monkeypatch.setenv("RANK", "0")
    assert ddp_mod.main(["quick-denoise", "--out", str(tmp_path / "o"), *TINY, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_data_parallel_train_refuses_a_batch_it_cannot_split():
    from empirical.models import build_model
    from empirical.tasks import make_task

    x = torch.rand(4, 1, 8, 8)
    cfg = train_mod.TrainConfig(batch_size=8, device="cpu")
    with pytest.raises(ValueError, match="smaller than batch_size"):
        train_mod.train(build_model("unet", in_chans=1, out_chans=1, width=4, num_pool_layers=1),
                        Supervision.clean(make_task("denoise", sigma=0.1), x), x, cfg,
                        parallel=train_mod.DataParallel())
