"""bridge.extra (from a sweep): a sweep's clean and self-supervised curves, the extra examples, `reconscale selfsup`."""

import json

import numpy as np
import pytest

from bridge.cli import main as cli_main
from bridge.extra import compare_targets, target_of, theory_extra
from bridge.text import selfsup_markdown

NS = (16, 32, 64, 128, 256, 512, 1024)
FACTOR = 3.0  # the self-supervised law is the supervised one at N / FACTOR


def _law(N):
    return 0.002 + 0.05 * N ** -0.7


def _runs(*, rng, target_key=True, targets=("clean", "noisy"), seeds=4):
    """Synthetic tidy rows: two widths (8 is better on validation and test), lognormal noise per run."""
    rows = []
    for t in targets:
        for N in NS:
            for width, worse in ((8, 1.0), (4, 1.3)):
                for seed in range(seeds):
                    true = _law(N / (FACTOR if t == "noisy" else 1.0)) * worse
                    r = {"status": "done", "arch": "unet", "N": N, "width": width, "seed": seed,
                         "val_mse": true * np.exp(0.03 * rng.standard_normal()),
                         "test_mse": true * np.exp(0.03 * rng.standard_normal())}
                    if target_key:
                        r["target"] = t
                    rows.append(r)
    return rows


def test_compare_targets_recovers_a_known_factor():
    res = compare_targets(_runs(rng=np.random.default_rng(0)), n_boot=100, rng=np.random.default_rng(1))
    assert {(r["family"], r["target"]) for r in res["curves"]} == {("network", "clean"), ("network", "noisy")}
    assert all(r["width"] == 8 and r["seeds"] == 4 for r in res["curves"])  # the best width per N, every seed
    ok = [r for r in res["extra"] if r["identified"]]
    assert len(ok) >= 4
    # the rows of one dataset share its two fits, so their intervals miss together: their coverage rate is
    # tested over many datasets in test_extra_examples; here the plumbing must recover the factor
    assert all(r["lo"] <= r["factor"] <= r["hi"] for r in ok)
    # well above the floor the factor is pinned down; near it (q − c small) the interval widens
    assert all(abs(np.log(r["factor"] / FACTOR)) < np.log(1.25) for r in ok if r["N"] <= 256)
    width = [np.log(r["hi"] / r["lo"]) for r in ok]
    assert width[-1] == max(width) and width[-1] > 3 * width[0]
    for r in res["extra"]:
        assert r["identified"] or (r["factor"] is None and r["reason"])
    text = selfsup_markdown(res["curves"], res["extra"])
    assert "network noisy" in text and "N needed" in text


def test_rows_without_a_target_are_clean_and_a_sweep_without_self_supervision_is_refused():
    rows = _runs(rng=np.random.default_rng(2), target_key=False, targets=("clean",))
    assert {target_of(r) for r in rows} == {"clean"}
    with pytest.raises(ValueError, match="needs target 'clean' and a self-supervised one"):
        compare_targets(rows, n_boot=10, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="no finished runs"):
        compare_targets([{**r, "status": "failed"} for r in rows], n_boot=10, rng=np.random.default_rng(0))


def test_theory_extra_of_a_shifted_law_is_its_shift():
    N = np.geomspace(8, 4096, 30)
    sup = [{"N": n, "mse": 0.3 * n ** -0.5} for n in N]
    ss = [{"N": n, "mse": 0.3 * (n / 4.0) ** -0.5} for n in np.geomspace(8, 4096 * 8, 40)]
    rows = theory_extra(sup, ss, target="noisy")
    assert all(r["family"] == "theory" and r["target"] == "noisy" for r in rows)
    inner = [r for r in rows if r["N"] >= 32]  # below 32 the self-supervised grid starts too late
    assert inner and all(r["identified"] and abs(r["factor"] - 4.0) < 1e-6 for r in inner)


def test_selfsup_cli(tmp_path, capsys):
    table = tmp_path / "runs.json"
    table.write_text(json.dumps(_runs(rng=np.random.default_rng(3))))
    assert cli_main(["selfsup", str(table), "--boot", "30", "--figure", str(tmp_path / "fig")]) == 0
    out = capsys.readouterr().out
    assert "| network | noisy |" in out and (tmp_path / "fig.png").stat().st_size > 1000
    assert cli_main(["selfsup", str(table), "--boot", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--boot" in err
    assert cli_main(["selfsup", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_fit_refuses_to_pool_training_targets(tmp_path, capsys):
    table = tmp_path / "runs.json"
    rows = _runs(rng=np.random.default_rng(4))
    table.write_text(json.dumps([{**r, "test_psnr": -10 * np.log10(r["test_mse"]), "val_psnr": -10 * np.log10(r["val_mse"]), "params": 1} for r in rows]))
    assert cli_main(["fit", str(table), "--boot", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--where target=clean" in err
    assert cli_main(["fit", str(table), "--boot", "10", "--where", "target=noisy"]) == 0


def test_a_magnitude_input_split_arm_is_labelled_as_such():
    """theory.split describes the [Re, Im] input: a linear-exact split run on the magnitude says so."""
    from bridge.extra import family_of

    base = {"arch": "linear-exact", "target": "split"}
    assert family_of({**base, "complex_input": False}) == "linear (magnitude input)"
    assert family_of({**base, "complex_input": True}) == "linear"
    assert family_of({"arch": "linear-exact", "target": "noisy", "complex_input": False}) == "linear"
    assert family_of({"arch": "unet", "target": "split", "complex_input": False}) == "network"
