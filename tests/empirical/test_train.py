"""Training-loop details: precomputed MRI masks equal id-seeded ones, an early-stopped run stays
stopped when resumed, and (on a GPU) the resident-data path does no per-step host sync."""

import warnings

import pytest

torch = pytest.importorskip("torch")

from empirical import train as train_mod  # noqa: E402
from empirical.models import build_model  # noqa: E402
from empirical.tasks import make_task  # noqa: E402
from empirical.targets import Supervision  # noqa: E402
from empirical.train import CheckpointError, TrainConfig, train  # noqa: E402

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _net(seed: int, in_chans: int = 1):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model("unet", in_chans=in_chans, out_chans=1, width=4, num_pool_layers=1)


@pytest.mark.parametrize("coils", [1, 3])
def test_column_masks_equal_the_id_seeded_masks(seed, coils):
    task = make_task("mri", sigma=0.05, accel=4.0, coils=coils)
    g = torch.Generator().manual_seed(seed)
    x, ids = torch.rand(5, 1, 16, 16, generator=g), torch.randint(0, 1000, (5,), generator=g)
    by_ids, _ = task.corrupt(x, generator=torch.Generator().manual_seed(seed), example_ids=ids)
    table = task.column_masks((16, 16), ids)
    by_masks, _ = task.corrupt(x, generator=torch.Generator().manual_seed(seed), column_masks=table)
    assert torch.equal(by_ids, by_masks)
    other, _ = task.corrupt(x, generator=torch.Generator().manual_seed(seed), column_masks=table.roll(1, dims=0))
    assert not torch.equal(other, by_ids)  # the masks are really used


def test_column_masks_bad_input_is_one_line():
    x = torch.rand(2, 1, 16, 16)
    mri = make_task("mri", sigma=0.05)
    good = mri.column_masks((16, 16), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="mri' only"):
        make_task("denoise", sigma=0.1).corrupt(x, generator=torch.Generator(), column_masks=good)
    with pytest.raises(ValueError, match="replaces example_ids"):
        mri.corrupt(x, generator=torch.Generator(), column_masks=good, example_ids=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"must be a \(2, 16\) bool tensor"):
        mri.corrupt(x, generator=torch.Generator(), column_masks=good[:, :8])
    with pytest.raises(ValueError, match="bool tensor"):
        mri.corrupt(x, generator=torch.Generator(), column_masks=good.float())


def test_early_stopped_run_stays_stopped_on_resume(tmp_path, seed, monkeypatch):
    task = make_task("denoise", sigma=0.2)
    g = torch.Generator().manual_seed(seed)
    x, val = torch.rand(8, 1, 8, 8, generator=g), torch.rand(4, 1, 8, 8, generator=g)
    # lr far too large: validation never improves after the first evaluation, so the run stops early
    cfg = TrainConfig(lr=5.0, schedule="constant", max_steps=400, min_steps=400, eval_every=5,
                      early_stop_patience=2, device="cpu", batch_size=4, seed=seed)
    ck = tmp_path / "ckpt.pt"
    first = train(_net(seed), Supervision.clean(task, x), val, cfg, checkpoint=ck)
    assert first.status == "done" and first.steps < 400  # it did stop early
    monkeypatch.setattr(train_mod, "optimizer_step", lambda *a, **k: pytest.fail("a stopped run was trained further"))
    again = train(_net(seed), Supervision.clean(task, x), val, cfg, checkpoint=ck)
    assert (again.steps, again.best_step, again.history) == (first.steps, first.best_step, first.history)
    assert all(torch.equal(again.best_state[k], v) for k, v in first.best_state.items())


def test_checkpoint_of_the_previous_format_is_a_clear_error(tmp_path):
    task = make_task("denoise", sigma=0.1)
    x = torch.rand(4, 1, 8, 8)
    cfg = TrainConfig(max_steps=10, min_steps=10, eval_every=5, device="cpu", batch_size=2)
    ck = tmp_path / "ckpt.pt"
    train(_net(0), Supervision.clean(task, x), x, cfg, checkpoint=ck)
    old = torch.load(ck, weights_only=True)
    old["format"] = "reconscale-ckpt-1"
    torch.save(old, ck)
    with pytest.raises(CheckpointError, match="delete it to restart"):
        train(_net(0), Supervision.clean(task, x), x, cfg, checkpoint=ck)


# --------------------------------------------------------------------------- GPU (skipped without CUDA)


def _sync_warnings(task, steps: int, *, n: int = 64) -> int:
    """Host syncs reported by CUDA's sync debug mode over a run with a single, final evaluation."""
    g = torch.Generator().manual_seed(0)
    x, val = torch.rand(n, 1, 16, 16, generator=g), torch.rand(4, 1, 16, 16, generator=g)
    cfg = TrainConfig(max_steps=steps, min_steps=steps, eval_every=steps, device="cuda", batch_size=8)
    model = _net(0).cuda()
    train(model, Supervision.clean(task, x, mask_ids=torch.arange(n)), val, cfg)  # warm-up: cuDNN autotuning, allocator
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            res = train(_net(0).cuda(), Supervision.clean(task, x, mask_ids=torch.arange(n)), val, cfg)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert res.status == "done" and res.device.startswith("cuda")
    return sum("synchroniz" in str(w.message) for w in seen)


@cuda
@pytest.mark.gpu
@pytest.mark.parametrize("name", ["denoise", "mri", "sr"])
def test_resident_training_does_no_per_step_host_sync(name):
    task = make_task(name, sigma=0.05)
    # the syncs of setup and of the one evaluation do not grow with the number of steps
    assert _sync_warnings(task, 40) == _sync_warnings(task, 10)


@cuda
@pytest.mark.gpu
def test_cuda_run_resumes_bit_identically(tmp_path, crash_at_checkpoint):
    task = make_task("denoise", sigma=0.1)
    g = torch.Generator().manual_seed(1)
    x, val = torch.rand(16, 1, 16, 16, generator=g), torch.rand(4, 1, 16, 16, generator=g)
    cfg = TrainConfig(max_steps=40, min_steps=40, eval_every=10, device="cuda", batch_size=4, bf16=False,
                      early_stop_patience=100)
    ref = train(_net(0), Supervision.clean(task, x), val, cfg)
    crash_at_checkpoint(train_mod, 2)
    with pytest.raises(KeyboardInterrupt):
        train(_net(0), Supervision.clean(task, x), val, cfg, checkpoint=tmp_path / "c.pt")
    res = train(_net(0), Supervision.clean(task, x), val, cfg, checkpoint=tmp_path / "c.pt")
    assert [h["val_psnr"] for h in res.history] == pytest.approx([h["val_psnr"] for h in ref.history], abs=1e-4)
