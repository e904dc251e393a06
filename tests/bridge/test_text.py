"""bridge.text: the one renderer of tables, findings and reports."""

import ast
from pathlib import Path

from bridge.text import finding_text, fmt_value, markdown_table, selfsup_markdown, shared_reasons, table_text

BRIDGE = Path(__file__).resolve().parents[2] / "bridge"


def test_finding_text_never_prints_an_unidentified_number():
    row = {"value": 3.0, "lo": 1.0, "hi": 9.0, "identified": False, "reason": "interval reaches 0"}
    assert finding_text(row) == "not identified: interval reaches 0"
    assert finding_text({**row, "identified": True}) == "3 [1, 9]"
    assert finding_text({**row, "identified": True, "lo": 3.0, "hi": 3.0}) == "3"  # no interval: no brackets
    assert finding_text({**row, "identified": True, "lo": None}, digits=2) == "3"
    assert finding_text({"identified": False}) == "not identified: no reason given"


def test_cells_and_tables():
    assert [fmt_value(v) for v in (2, 0.5, 1e-5, float("inf"), float("nan"), None)] == \
        ["2", "0.5", "1.000e-05", "∞", "–", "None"]
    rows = [{"N": 8, "psnr": 20.123456}, {"N": 16, "note": "x"}]
    text = table_text(rows).splitlines()
    assert text[0].split() == ["N", "psnr", "note"] and text[1].split() == ["8", "20.12", "None"]
    assert len({len(line.rstrip()) <= len(text[0]) + 10 for line in text}) == 1
    md = markdown_table(rows).splitlines()
    assert md[0] == "| N | psnr | note |" and md[1] == "|---|---|---|" and md[2] == "| 8 | 20.12 | None |"
    assert table_text([]) == "(no rows)\n" and markdown_table([]) == "_no rows_\n"


def test_a_reason_shared_by_many_rows_is_stated_once():
    why, own = "lack of fit (p = 0.001): the law does not describe this curve", "ahead at the smallest N"
    rows = [{"identified": False, "reason": why} for _ in range(5)] + [
        {"identified": True, "reason": ""}, {"identified": False, "reason": own}]
    cells, notes = shared_reasons(rows)
    assert notes == [why]
    assert cells == ["not identified (note 1)"] * 5 + ["", f"not identified: {own}"]
    assert shared_reasons(rows[:2]) == ([f"not identified: {why}"] * 2, [])  # two rows: said in place
    extra = [{"family": "linear-exact", "target": "noisy", "N": N, "N_equiv": None, "factor": None, "lo": None,
              "hi": None, **r} for N, r in zip(range(16, 16 + 7), rows)]
    curves = [{"family": "linear-exact", "target": t, "N": 16, "psnr": 25.0, "psnr_sem": 0.1} for t in ("clean",
                                                                                                      "noisy")]
    md = selfsup_markdown(curves, extra)
    assert md.count(why) == 1 and md.count(own) == 1 and md.count("(note 1)") == 6


def test_text_is_rendered_in_one_module():
    """No other bridge module defines a table or markdown renderer (one text renderer: issue 19)."""
    names = {"table_text", "markdown_table", "finding_text", "fit_text", "render_report", "render_markdown",
             "summary_text", "section_markdown"}
    for path in BRIDGE.glob("*.py"):
        if path.name == "text.py":
            continue
        defs = {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}
        assert not defs & names, f"{path.name} defines {sorted(defs & names)}: render text in bridge/text.py"
