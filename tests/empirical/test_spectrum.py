"""`reconscale spectrum`: the second moments of a config's own training and test images."""

import numpy as np
import pytest

pytest.importorskip("torch")

from bridge.cli import main as cli_main  # noqa: E402
from bridge.datatheory import load_data_model  # noqa: E402
from empirical.config import expand, load_config  # noqa: E402
from empirical.plan import plan  # noqa: E402

SETS = ["--set", "size=8", "--set", "n_test=4", "--set", "n_val=6"]


def test_spectrum_file_holds_the_second_moments_of_the_sweeps_own_images(tmp_path):
    out = tmp_path / "s.npz"
    assert cli_main(["spectrum", "quick-denoise", *SETS, "--examples", "300", "--out", str(out), "--quiet"]) == 0
    model, meta = load_data_model(out)
    run = expand(load_config("quick-denoise", ["size=8", "n_test=4", "n_val=6"]))[0]
    p = plan(run)
    # P: the first 300 crops of the nested training pool (the sweep's training sets are prefixes of it)
    X = p.source.batch(np.arange(300)).reshape(300, -1).astype(np.float64)
    assert np.allclose(model.train.matrix(), X.T @ X / 300, atol=1e-10)
    # Q: the very test crops every run is scored on
    test_idx = p.source.split(n_train=0, n_val=6, n_test=4, seed=run.data_seed).test
    Xq = p.test_source.batch(test_idx).reshape(4, -1).astype(np.float64)
    assert np.allclose(model.test.matrix(), Xq.T @ Xq / 4, atol=1e-10)
    with np.load(out) as z:  # and the crops themselves, in the runs' test order (float32 pixels)
        np.testing.assert_array_equal(z["Q_X"], Xq.astype(np.float32))
    assert model.sigma == pytest.approx(25 / 255) and meta["examples"] == 300 and meta["n"] == 64
    # the stationary projection keeps the per-frequency power (its trace is the same E‖x‖²)
    st = tmp_path / "st.npz"
    assert cli_main(["spectrum", "quick-denoise", *SETS, "--examples", "300", "--method", "stationary",
                     "--out", str(st), "--quiet"]) == 0
    ms, _ = load_data_model(st)
    assert ms.train.basis == "fourier" and ms.train.trace == pytest.approx(model.train.trace, rel=1e-9)


@pytest.mark.parametrize("args, text", [
    (["--examples", "10"], "rank-deficient"),
    (["--set", "task=mri"], "task='mri'"),
    (["--set", "size=[8,16]"], "different size"),
    (["--set", "sigma=-1"], "sigma"),
    (["--out-name", "x"], "unrecognized"),
])
def test_spectrum_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, text):
    out = tmp_path / "d" / "s.npz"
    argv = ["spectrum", "quick-denoise", *SETS, "--out", str(out), "--quiet", *args]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err, err
    assert not (tmp_path / "d").exists()


def test_spectrum_out_must_be_npz(tmp_path, capsys):
    assert cli_main(["spectrum", "quick-denoise", *SETS, "--out", str(tmp_path / "s.txt"), "--quiet"]) == 2
    assert ".npz" in capsys.readouterr().err
