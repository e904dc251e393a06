"""Empirical engine: training improves on the input, resume equals an uninterrupted run, the
ledger, results export and the CLI's error handling."""

import json
import sqlite3

import pytest

torch = pytest.importorskip("torch")

from bridge.cli import main as cli_main  # noqa: E402
from empirical import config as config_mod  # noqa: E402
from empirical import sweep as sweep_mod  # noqa: E402
from empirical.config import DEFAULTS, RunConfig, expand, load_config, parse_override  # noqa: E402
from empirical.ledger import Ledger, Row  # noqa: E402
from empirical.plan import plan  # noqa: E402
from empirical.run import run_one  # noqa: E402
from empirical.targets import Supervision  # noqa: E402
from empirical.train import CheckpointError, TrainConfig, budget_steps, train  # noqa: E402
from tests.helpers import cli_one_line

TINY = {"name": "tiny", "data": "deadleaves", "size": 16, "N": [4, 12], "width": 4, "depth": 1, "n_val": 6,
        "n_test": 4, "batch_size": 4, "epochs": 5.0, "min_steps": 30, "max_steps": 60, "eval_every": 15,
        "early_stop_patience": 100, "sigma": 0.2, "device": "cpu", "lr": 3e-3}


def tiny_cfg(**kw):
    return {**DEFAULTS, **TINY, **kw}


def one_run(**kw) -> RunConfig:
    return RunConfig(**{**tiny_cfg(), "N": 12, **kw})


def test_tiny_training_improves_on_the_input(tmp_path):
    row = run_one(plan(one_run(max_steps=120, min_steps=120)), tmp_path / "r")
    assert row.status == "done", row.reason
    m = row.metrics
    assert m["test"]["psnr"] > m["test_input"]["psnr"] + 1.0
    assert m["val"]["psnr"] > m["val_input"]["psnr"] and not row.warning
    assert len(m["history"]) >= 2 and row.params > 0


def test_budget_rule_grows_with_N_and_is_capped():
    cfg = TrainConfig(batch_size=8, epochs=10, min_steps=100, max_steps=1000)
    assert [budget_steps(N, cfg) for N in (8, 200, 10_000)] == [100, 250, 1000]


def test_resume_after_crash_equals_uninterrupted(tmp_path, monkeypatch):
    cfg = tiny_cfg()
    ref = sweep_mod.run_sweep(cfg, tmp_path / "ref", progress=False)
    # crash: the second run dies mid-training, right after its first checkpoint
    from empirical import train as train_mod

    calls = {"n": 0}
    orig_save = train_mod.save_checkpoint

    def crashing_save(obj, path):
        orig_save(obj, path)
        calls["n"] += 1
        if calls["n"] == 3:  # two evaluations per run: the 3rd save is the second run's first
            raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "save_checkpoint", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        sweep_mod.run_sweep(cfg, tmp_path / "b", progress=False)
    with Ledger(tmp_path / "b" / "ledger.sqlite") as led:  # the interrupted run is back at pending
        assert sorted(r["status"] for r in led.rows()) == ["done", "pending"]
    monkeypatch.setattr(train_mod, "save_checkpoint", orig_save)
    sweep_mod.run_sweep(cfg, tmp_path / "b", progress=False)
    with Ledger(ref.ledger) as a, Ledger(tmp_path / "b" / "ledger.sqlite") as b:
        ra, rb = a.rows(), b.rows()
    assert [r["status"] for r in rb] == ["done", "done"]
    for x, y in zip(ra, rb):
        assert x["run_id"] == y["run_id"] and x["config"] == y["config"]
        assert x["metrics"]["test"] == y["metrics"]["test"]  # bit-identical on CPU
        assert x["metrics"]["val"] == y["metrics"]["val"]
    # wall time counts both attempts: the resumed run's is at least its first attempt's
    resumed = next(r for r in rb if r["attempts"] == 2)
    ck = torch.load(tmp_path / "b" / "runs" / resumed["run_id"] / "ckpt.pt", weights_only=True)
    assert resumed["wall_s"] >= ck["wall_s"] > 0


def test_rerun_skips_done_runs(tmp_path, monkeypatch):
    cfg = tiny_cfg(N=[4])
    sweep_mod.run_sweep(cfg, tmp_path, progress=False)
    summary = sweep_mod.run_sweep(cfg, tmp_path, progress=False,
                                  work=lambda *a, **k: pytest.fail("a finished run was trained again"))
    assert summary.complete and summary.done == 1


def test_nan_loss_marks_the_run_failed():
    from empirical.models import build_model
    from empirical.tasks import make_task

    x = torch.rand(4, 1, 8, 8)
    x[0, 0, 0, 0] = float("nan")
    res = train(build_model("unet", in_chans=1, out_chans=1, width=4, num_pool_layers=1),
                Supervision.clean(make_task("denoise", sigma=0.1), x), torch.rand(2, 1, 8, 8),
                TrainConfig(max_steps=20, min_steps=20, eval_every=5, device="cpu", batch_size=4))
    assert res.status == "failed" and "non-finite" in res.reason


def test_failed_run_is_recorded_and_retried_on_request(tmp_path, monkeypatch):
    cfg = tiny_cfg(N=[4])
    seen = []

    def failing(run, *a, **k):
        seen.append(run)
        return Row.failed("non-finite training loss (nan) at step 5")

    summary = sweep_mod.run_sweep(cfg, tmp_path, progress=False, work=failing)
    with Ledger(tmp_path / "ledger.sqlite") as led:
        (row,) = led.rows()
    assert row["status"] == "failed" and "non-finite" in row["reason"] and len(seen) == 1
    assert not summary.complete and summary.failed == 1
    sweep_mod.run_sweep(cfg, tmp_path, progress=False, work=failing)  # no retry by default
    assert len(seen) == 1
    sweep_mod.run_sweep(cfg, tmp_path, progress=False, retry_failed=True, work=failing)
    assert len(seen) == 2


def test_corrupt_or_foreign_checkpoint_is_a_clear_error(tmp_path):
    from empirical.models import build_model
    from empirical.tasks import make_task

    task = make_task("denoise", sigma=0.1)
    x = torch.rand(4, 1, 8, 8)
    cfg = TrainConfig(max_steps=20, min_steps=20, eval_every=10, device="cpu", batch_size=2)
    ck = tmp_path / "ckpt.pt"
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        train(build_model("unet", in_chans=1, out_chans=1, width=4, num_pool_layers=1), Supervision.clean(task, x), x,
              cfg, checkpoint=ck)
    torch.save({"format": "something-else"}, ck)
    with pytest.raises(CheckpointError, match="not a reconscale checkpoint"):
        train(build_model("unet", in_chans=1, out_chans=1, width=4, num_pool_layers=1), Supervision.clean(task, x), x,
              cfg, checkpoint=ck)


def test_config_axes_and_errors():
    runs = expand(tiny_cfg(width=[4, 8], seed=[0, 1]))
    assert len(runs) == 2 * 2 * 2 and [r.N for r in runs[:2]] == [4, 12]
    for bad, match in [({"N": []}, "empty"), ({"N": [0]}, "N=0"), ({"task": "deblur"}, "task"),
                       ({"N": [4, 8.5]}, "N=8.5 must be an integer"), ({"lr": "fast"}, "lr='fast' must be a number"),
                       ({"accel": [4.0, 8.0]}, "applies only to task mri")]:
        with pytest.raises(ValueError, match=match):
            expand(tiny_cfg(**bad))
    with pytest.raises(ValueError, match="unknown key"):
        load_config("quick-denoise", ["colour=1"])
    with pytest.raises(ValueError, match="shipped config"):
        load_config("no-such-config")
    assert parse_override("N=[1,2]") == ("N", [1, 2])
    assert parse_override("data=photos") == ("data", "photos")
    assert load_config("quick-denoise", ["source.short_side_factor=2.0"])["source"] == {"short_side_factor": 2.0}


def test_keys_that_do_not_apply_are_merged_not_trained_twice():
    """depth is a U-Net setting: a SwinIR in a depth sweep is one run, not one per depth."""
    runs = expand(tiny_cfg(arch=["unet", "swinir"], depth=[1, 2], width=16, N=4))
    assert sorted((r.arch, r.depth) for r in runs) == [("swinir", 2), ("unet", 1), ("unet", 2)]
    assert len({r.id for r in runs}) == 3


def test_run_id_ignores_labels_and_scheduling_but_not_results():
    base = one_run()
    assert RunConfig(**{**base.to_dict(), "name": "renamed", "device": "cuda", "eval_batch": 7}).id == base.id
    for key, value in [("sigma", 0.1), ("N", 13), ("lr", 1e-4), ("seed", 1), ("source", {"rmin": 1.0})]:
        assert RunConfig(**{**base.to_dict(), key: value}).id != base.id, key
    assert set(config_mod.NOT_IN_IDENTITY) <= set(DEFAULTS)


def test_shipped_configs_parse():
    for name in config_mod.shipped_configs():
        runs = expand(load_config(name))
        assert runs and all(isinstance(r, RunConfig) for r in runs), name


def test_results_export_and_selection(tmp_path, capsys):
    sweep_mod.run_sweep(tiny_cfg(width=[4, 6], N=[4]), tmp_path, progress=False)
    assert cli_main(["results", str(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and {"test_psnr", "val_psnr", "val_input_psnr", "warning", "params", "N", "width",
                               "conv_data_range"} <= rows[0].keys()
    assert cli_main(["results", str(tmp_path), "--select", "--format", "json"]) == 0
    (sel,) = json.loads(capsys.readouterr().out)
    best = max(rows, key=lambda r: r["val_psnr"])
    assert sel["width"] == best["width"] and sel["test_psnr_mean"] == pytest.approx(best["test_psnr"])


def test_cli_bad_inputs(tmp_path, capsys):
    for argv, match in [(["sweep", "no-such"], "shipped config"), (["sweep", "quick-denoise", "--set", "N"], "key=value"),
                        (["sweep", "quick-denoise", "--set", "bogus=1"], "unknown key"),
                        (["results", str(tmp_path)], "no ledger")]:
        cli_one_line(cli_main(argv), capsys.readouterr().err, match)
    assert not any(tmp_path.iterdir())
    # a corrupt ledger: tests/bridge/test_bridge.py (load_table and `reconscale results`)


def test_ledger_uses_parameters_not_string_sql(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        led.add("s'; DROP TABLE runs; --", "r1", {"x": "'); DELETE FROM runs; --"})
        assert led.get("r1")["sweep"].startswith("s'; DROP")
    assert sqlite3.connect(tmp_path / "l.sqlite").execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_multicoil_mri_run_and_baselines(tmp_path):
    from empirical.baselines import evaluate_baselines

    run = RunConfig(**{**DEFAULTS, "task": "mri", "coils": 4, "data": "phantoms", "size": 24, "N": 8, "n_val": 4,
                       "n_test": 4, "width": 4, "depth": 1, "min_steps": 20, "max_steps": 20, "eval_every": 10,
                       "device": "cpu", "sigma": 0.01})
    assert plan(run).task.coils == 4
    row = run_one(plan(run), tmp_path / "r")
    assert row.status == "done", row.reason
    single = run_one(plan(RunConfig(**{**run.to_dict(), "coils": 1})), tmp_path / "s")
    assert row.metrics["test_input"]["psnr"] != single.metrics["test_input"]["psnr"]  # RSS input differs
    base = evaluate_baselines(run, names=["zero-filled", "tv-cs"])
    assert base["zero-filled"]["psnr"] == pytest.approx(row.metrics["test_input"]["psnr"], rel=1e-9)
    assert "single-coil only" in base["tv-cs"]["skipped"]


def test_ssim_loss_is_one_minus_skimage_ssim_and_differentiable(rng):
    from skimage.metrics import structural_similarity

    from empirical.targets import loss_fn

    target = torch.from_numpy(rng.uniform(0.1, 0.9, (2, 1, 20, 21)))
    out = (target + 0.1 * torch.from_numpy(rng.standard_normal(target.shape))).requires_grad_(True)
    loss = loss_fn(out, target, "ssim")
    ref = [structural_similarity(t[0].numpy(), o[0].detach().numpy(), data_range=float(t.max()))
           for t, o in zip(target, out)]
    assert float(loss.detach()) == pytest.approx(1 - sum(ref) / 2, rel=1e-5)
    loss.backward()
    assert out.grad is not None and torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    assert float(loss_fn(target, target, "ssim")) == pytest.approx(0.0, abs=1e-6)
    l1 = loss_fn(out, target, "l1").detach()
    assert float(l1) == pytest.approx(float((out - target).abs().mean().detach()), rel=1e-6)


def test_paper_mri_protocol_ssim_loss_with_rmsprop_trains(tmp_path):
    run = RunConfig(**{**DEFAULTS, "task": "mri", "data": "phantoms", "size": 24, "N": 8, "n_val": 4, "n_test": 4,
                       "width": 4, "depth": 1, "min_steps": 60, "max_steps": 60, "eval_every": 20, "device": "cpu",
                       "sigma": 0.0, "loss": "ssim", "optimizer": "rmsprop", "lr": 1e-3, "early_stop_patience": 100})
    row = run_one(plan(run), tmp_path / "r")
    assert row.status == "done", row.reason
    m = row.metrics
    assert m["test"]["ssim"] > m["test_input"]["ssim"]
    assert row.best_step in {h["step"] for h in m["history"]}
    best = max(m["history"], key=lambda h: h["val_ssim"])  # selection by SSIM for the SSIM loss
    assert best["step"] == row.best_step
    with pytest.raises(ValueError, match="loss='huber'"):
        TrainConfig(loss="huber")
    with pytest.raises(ValueError, match="rmsprop"):
        TrainConfig(optimizer="sgd")


def test_run_config_defaults_are_the_task_and_training_defaults():
    """RunConfig mirrors Task and TrainConfig flat (the TOML is flat, and config.py needs no torch);
    their defaults must not drift apart."""
    from dataclasses import fields

    from empirical.tasks import Task

    for cls in (Task, TrainConfig):
        for f in fields(cls):
            if f.name in DEFAULTS and f.name != "name":
                assert DEFAULTS[f.name] == f.default, (cls.__name__, f.name)
