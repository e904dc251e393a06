"""Bad input (issue 11): one-line errors naming the problem and the fix, nothing written.

* a finite source (a folder, fastMRI volumes) with fewer images than N and its validation/test sets;
* a ``size`` larger than a folder's images (refused unless ``enlarge=True``) or than fastMRI slices.

Sweep cases go through the API (:func:`empirical.plan.validate`, ValueError) and the CLI
(``reconscale sweep``: exit 2, one line on stderr, ``--out`` not created).
"""

import numpy as np
import pytest

from tests.helpers import cli_one_line, one_line

# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def write_pngs(root, shapes):
    """PNG files 000.png, 001.png, … of the given (H, W) shapes (random grey values)."""
    import imageio.v3 as iio

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k, shape in enumerate(shapes):
        iio.imwrite(root / f"{k:03d}.png", (rng.random(shape) * 255).astype(np.uint8))
    return root


#: A tiny denoising sweep (validation only in most tests: no run trains).
TINY = {"name": "bad", "task": "denoise", "sigma": 0.1, "size": 16, "N": [4, 8], "n_val": 2, "n_test": 2,
        "arch": "unet", "width": 4, "depth": 1, "batch_size": 2, "min_steps": 2, "max_steps": 2, "eval_every": 1,
        "device": "cpu"}


def runs(**over):
    from empirical.config import expand

    return expand({**_defaults(), **TINY, **over})


def _defaults():
    from empirical.config import DEFAULTS

    return dict(DEFAULTS)


def cli_error(tmp_path, capsys, data, *sets):
    """``reconscale sweep`` on TINY with ``data`` and ``--set`` overrides: (exit code, stderr, --out)."""
    pytest.importorskip("torch")
    from bridge.cli import main

    cfg = tmp_path / "bad.toml"
    cfg.write_text("\n".join(f"{k} = {_toml(v)}" for k, v in {**TINY, "data": data}.items()) + "\n")
    out = tmp_path / "out"
    code = main(["sweep", str(cfg), "--out", str(out), "--quiet", *[a for s in sets for a in ("--set", s)]])
    err = capsys.readouterr().err
    return code, err, out


def _toml(v):
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return repr(v)


# --------------------------------------------------------------------------------------------------
# a folder with fewer images than N (+ n_val + n_test)
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def twelve(tmp_path):
    return write_pngs(tmp_path / "twelve", [(24, 28)] * 12)


def test_folder_with_fewer_images_than_N_names_N_and_the_largest_that_fits(twelve):
    from empirical.plan import validate

    with pytest.raises(ValueError) as e:
        validate(runs(data=f"folder:{twelve}", N=[4, 16]))
    one_line(e, "N=16 needs 16 training images", f"folder:{twelve} has 8 left after 2 validation and 2 test",
             "(12 in all)", "lower N to at most 8 or add images")
    validate(runs(data=f"folder:{twelve}", N=[4, 8]))  # exactly what fits: accepted


def test_folder_whose_validation_and_test_sets_do_not_fit_names_the_counts(twelve):
    from empirical.plan import validate

    with pytest.raises(ValueError) as e:
        validate(runs(data=f"folder:{twelve}", N=4, n_val=11))
    one_line(e, "n_val=11, n_test=2", "= 17 images but", "has only 12; lower the counts")


def test_folder_with_fewer_images_than_N_cli_exit_2_and_nothing_written(twelve, tmp_path, capsys):
    code, err, out = cli_error(tmp_path, capsys, f"folder:{twelve}", "N=[4,16]")
    cli_one_line(code, err, "N=16 needs 16 training images", "lower N to at most 8", out=out)


# --------------------------------------------------------------------------------------------------
# a size larger than the images
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def small(tmp_path):
    return write_pngs(tmp_path / "small", [(20, 24)] * 5 + [(18, 30)] + [(20, 24)] * 6)


def test_folder_image_smaller_than_size_is_refused_when_read(small):
    from empirical.data import make_source

    s = make_source(f"folder:{small}", size=22)
    with pytest.raises(ValueError) as e:
        s.image(0)
    one_line(e, "000.png is 24×20 px, smaller than size=22", "lower size to at most 20", "enlarge=True")
    assert make_source(f"folder:{small}", size=20).image(0).shape == (1, 20, 20)  # equal sides are fine


def test_folder_enlarge_option_keeps_enlarging(small):
    from empirical.data import make_source, source_options

    assert source_options(f"folder:{small}")["enlarge"] is False
    s = make_source(f"folder:{small}", size=32, enlarge=True)
    x = s.batch(np.arange(3))
    assert x.shape == (3, 1, 32, 32) and 0 <= x.min() and x.max() <= 1
    assert s.describe()["parameters"]["enlarge"] is True
    with pytest.raises(ValueError) as e:
        make_source(f"folder:{small}", size=16, enlarge="yes")
    one_line(e, "enlarge='yes' must be True or False")


def test_folder_check_sizes_reads_headers_of_the_first_images_only(small):
    from empirical.data import make_source

    s = make_source(f"folder:{small}", size=19)
    assert s.image_size(5) == (30, 18) and s.image_size(0) == (24, 20)
    s.check_sizes(np.array([0, 1, 5]), limit=2)  # file 5 (18 px) is beyond the first two: not read
    with pytest.raises(ValueError) as e:
        s.check_sizes(np.array([0, 1, 5]), limit=3)
    one_line(e, "size=19 is larger than images of folder", "the smallest of the 3 checked is 30×18 px (005.png)",
             "lower size to at most 18")
    make_source(f"folder:{small}", size=64, enlarge=True).check_sizes(np.arange(12))  # nothing to check


def test_folder_smaller_than_size_fails_validation(small):
    from empirical.plan import validate

    with pytest.raises(ValueError) as e:
        validate(runs(data=f"folder:{small}", size=32, N=4))
    one_line(e, "size=32 is larger than images of folder", "is 30×18 px (005.png)", "lower size to at most 18",
             "[source] enlarge = true")
    validate(runs(data=f"folder:{small}", size=32, N=4, source={"enlarge": True}))  # the documented option
    validate(runs(data=f"folder:{small}", size=16, N=4))


def test_folder_smaller_than_size_cli_exit_2_and_nothing_written(small, tmp_path, capsys):
    code, err, out = cli_error(tmp_path, capsys, f"folder:{small}", "size=32", "N=4")
    cli_one_line(code, err, "size=32 is larger than images of folder", "lower size to at most 18", out=out)


def test_test_data_folder_smaller_than_size_fails_validation(small, twelve):
    from empirical.plan import validate

    with pytest.raises(ValueError) as e:
        validate(runs(data=f"folder:{twelve}", test_data=f"folder:{small}", size=22, N=4))
    one_line(e, f"size=22 is larger than images of folder {small}", "the smallest of the 2 checked",
             "lower size to at most")
    validate(runs(data=f"folder:{twelve}", test_data=f"folder:{small}", size=18, N=4))


def test_a_small_image_beyond_the_checked_ones_fails_its_run_and_the_sweep_goes_on(tmp_path, monkeypatch):
    """Validation reads only the first headers; a smaller file met later is a failed row with its reason."""
    pytest.importorskip("torch")
    from empirical.data import FolderSource, make_source
    from empirical.sweep import run_sweep

    root = write_pngs(tmp_path / "late", [(20, 20)] * 10)
    pool = make_source(f"folder:{root}", size=16).split(n_train=6, n_val=2, n_test=2, seed=0).train_pool
    write_pngs(tmp_path / "tiny", [(8, 12)])
    (tmp_path / "tiny" / "000.png").replace(root / f"{int(pool[4]):03d}.png")  # only N=6 trains on it
    monkeypatch.setattr(FolderSource, "check_sizes", lambda self, idx, limit=256: None)  # "not among the checked"
    summary = run_sweep(runs(data=f"folder:{root}", N=[2, 6]), tmp_path / "out", progress=False)
    assert (summary.runs, summary.done, summary.failed) == (2, 1, 1)
    from empirical.ledger import Ledger

    with Ledger(tmp_path / "out" / "ledger.sqlite") as ledger:
        status = {r["config"]["N"]: (r["status"], r["reason"]) for r in ledger.rows()}
    assert status[2] == ("done", "")
    assert status[6][0] == "failed", status
    reason = status[6][1]
    assert f"{int(pool[4]):03d}.png is 12×8 px, smaller than size=16" in reason and "lower size to at most 8" in reason
    assert "\n" not in reason


def test_photos_still_resize_by_design():
    from empirical.data import make_source

    x = make_source("photos", size=16).image(0)  # photos are resized to the size (never refused)
    assert x.shape == (1, 16, 16)


# --------------------------------------------------------------------------------------------------
# fastMRI volumes: too few slices, a size larger than the slices
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def volumes(tmp_path):
    h5py = pytest.importorskip("h5py")
    root = tmp_path / "fastmri"
    root.mkdir()
    rng = np.random.default_rng(0)
    for k, (slices, side) in enumerate([(3, 24), (3, 24), (2, 20), (3, 24)]):
        with h5py.File(root / f"vol{k}.h5", "w") as f:
            f.create_dataset("reconstruction_rss", data=rng.random((slices, side, side)).astype(np.float32) + 0.1)
            f.attrs["acquisition"] = "AXT2"
    return root


def test_fastmri_size_larger_than_the_slices_is_refused(volumes):
    from empirical.data import make_source

    with pytest.raises(ValueError) as e:
        make_source(f"fastmri:{volumes}", size=32)
    one_line(e, "size=32 is larger than the slices", "the smallest are 20×20", "vol2.h5", "lower size to at most 20")
    assert make_source(f"fastmri:{volumes}", size=20).image(0).shape == (1, 20, 20)


def test_fastmri_size_larger_than_the_slices_fails_validation_and_the_cli(volumes, tmp_path, capsys):
    from empirical.plan import validate

    with pytest.raises(ValueError) as e:
        validate(runs(data=f"fastmri:{volumes}", size=32, N=2))
    one_line(e, "size=32 is larger than the slices", "lower size to at most 20")
    code, err, out = cli_error(tmp_path, capsys, f"fastmri:{volumes}", "size=32", "N=2")
    cli_one_line(code, err, "size=32 is larger than the slices", "lower size to at most 20", out=out)


def test_fastmri_with_fewer_slices_than_N_names_N_and_the_largest_that_fits(volumes, tmp_path, capsys):
    from empirical.data import make_source
    from empirical.plan import validate

    src = make_source(f"fastmri:{volumes}", size=16)
    cap = src.train_capacity(n_val=2, n_test=2, seed=0)
    src.split(n_train=cap, n_val=2, n_test=2, seed=0)  # the largest N that fits does
    with pytest.raises(ValueError):
        src.split(n_train=cap + 1, n_val=2, n_test=2, seed=0)
    with pytest.raises(ValueError) as e:
        validate(runs(data=f"fastmri:{volumes}", N=[2, 50]))
    one_line(e, "N=50 needs 50 training slices", "after 2 validation and 2 test", "(11 in all, whole volumes each)",
             f"lower N to at most {cap} or add slices")
    code, err, out = cli_error(tmp_path, capsys, f"fastmri:{volumes}", "N=[2,50]")
    cli_one_line(code, err, "N=50 needs 50 training slices", out=out)
