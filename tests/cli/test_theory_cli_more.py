"""`reconscale theory`: --kmax 0 refused, and write errors that name the user's path (never a temp file)."""

import errno
import os

import pytest

from bridge.cli import main as cli_main
from tests.helpers import cli_one_line
from theory.infra import io as theory_io
from theory.infra.io import atomic_write

CURVE = ["theory", "curve", "--n", "20", "--d", "4", "--sigma", "0.1", "--N", "10,20", "--runs", "2", "--quiet"]


@pytest.mark.parametrize("argv", [[*CURVE, "--estimator", "gd-oracle", "--kmax", "0"],
                                  ["theory", "setups", "--setups", "2", "--runs", "2", "--kmax", "0", "--quiet"]])
def test_kmax_zero_is_refused(argv, tmp_path, capsys):
    out = tmp_path / "o"
    code = cli_main([*argv, "--out", str(out / "t.csv")])
    cli_one_line(code, capsys.readouterr().err, "--kmax 0", "≥ 1", out=out)


@pytest.mark.parametrize("sub", ["curve", "setups"])
def test_out_a_directory_names_it_not_a_temp_file(sub, tmp_path, capsys):
    d = tmp_path / "results"
    d.mkdir()
    argv = [*CURVE, "--estimator", "ols"] if sub == "curve" else ["theory", "setups", "--setups", "2", "--runs",
                                                                  "2", "--kmax", "50", "--quiet"]
    err = cli_one_line(cli_main([*argv, "--out", str(d)]), capsys.readouterr().err, str(d), "directory")
    assert ".tmp" not in err
    assert not os.listdir(d)


def test_atomic_write_errors_name_the_target(tmp_path, monkeypatch):
    d = tmp_path / "adir"
    d.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        atomic_write(d, "x")
    assert info.value.filename == str(d)

    def replace(src, dst):  # a rename that fails, as on a full or read-only filesystem
        raise OSError(errno.EACCES, "Permission denied", str(src), str(dst))

    monkeypatch.setattr(theory_io.os, "replace", replace)
    target = tmp_path / "t.csv"
    with pytest.raises(PermissionError) as info:
        atomic_write(target, "x")
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]  # no temp file left behind
