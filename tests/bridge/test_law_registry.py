"""bridge.laws.LAWS: one registry of the laws, the one place fit, compare and selfsup pick them from."""

import numpy as np
import pytest

from bridge import compare, extra, laws, report
from bridge.laws import LAWS, EXPONENT_BOX, law_spec
from tests.helpers import raises_one_line


def test_registry_entries_build_their_laws():
    assert list(LAWS) == ["power", "floor", "broken", "saturating"]
    for name, spec in LAWS.items():
        law = spec.make()
        assert isinstance(law, spec.cls) and spec.n_params == law.n_params and spec.fits in ("error", "quality")
        assert law_spec(name) is spec and law_spec(spec.cls.__name__) is spec
    assert LAWS["broken"].make().breaks == 1 and LAWS["power"].make(window=(2, 8)).window == (2, 8)
    raises_one_line(lambda: law_spec("broken", among=extra.LAWS), "law must be one of floor, power; got 'broken'")


def test_the_optimiser_box_is_the_one_identification_uses():
    """The exponent's box bounds the fit and is what an interval must not reach (one source)."""
    N = np.geomspace(10, 1e4, 8)
    f = LAWS["floor"].make().fit(N, 0.01 + N**-12.0 + 1e-3 * N**-0.01)
    assert EXPONENT_BOX[0] <= f.exponent_ <= EXPONENT_BOX[1]
    assert LAWS["floor"].boxes["exponent"] == LAWS["saturating"].boxes["exponent"] == EXPONENT_BOX
    assert not hasattr(report, "_EXP_BOUNDS")  # no second copy


def test_commands_take_their_laws_from_the_registry():
    assert set(compare.COMPARE_LAWS) <= set(LAWS) and set(extra.LAWS) <= set(LAWS)
    with pytest.raises(ValueError, match="law must be one of floor, power, broken"):
        compare.compare_fits([], law="saturating", rng=np.random.default_rng(0))
    N = np.repeat(np.geomspace(16, 4096, 5), 2)
    psnr = 30.0 - 20.0 * N**-0.5 + np.tile([0.0, 0.05], 5)  # dB, rising to an asymptote
    res = report.analyse(N, psnr, metric="test_psnr", n_boot=10, rng=np.random.default_rng(0))
    assert [r["law"] for r in res["laws"]] == [s.cls.__name__ for s in LAWS.values() if s.name != "broken"]
    assert laws.law_spec("SaturatingLaw").fits == "quality"
