"""Golden runs: every code path that makes numbers, rerun and compared; and what the code key ignores."""

from __future__ import annotations

import ast
import re

import pytest

from conftest import REPO
from hippo_bench.fingerprint import closure, normalized_source
from hippo_bench.golden import check, data_missing, load_set, moved_cells

GOLDEN = REPO / "tests" / "golden"
ENTRIES = load_set(GOLDEN)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_golden_run_reproduces_its_committed_rows(entry):
    why = data_missing(entry)
    if why:
        pytest.skip(f"golden run {entry.name} {why}")
    result = check(entry, GOLDEN)
    assert result.status == "same", (
        f"golden run {entry.name}: {result.status} {result.detail}\n" + "\n".join(result.moved)
        + "\nIf the change of numbers is meant: `hippo-bench golden --rewrite` and a CHANGELOG.md line saying why.")


def test_a_learning_rule_change_of_one_in_a_thousand_fails_the_golden_run(monkeypatch):
    """The golden runs catch a change of numbers however small: every step size 0.1% larger."""
    from hippo_bench.strategies.meta import step_sizes

    original = step_sizes.ReluAlpha.step
    monkeypatch.setattr(step_sizes.ReluAlpha, "step", lambda self, name: original(self, name) * 1.001)
    entry = next(e for e in ENTRIES if e.name == "meta-hippo-mlp2")
    result = check(entry, GOLDEN)
    assert result.status == "moved"
    assert any(re.search(r"seed 0: (learned_lr|percent_active|inhibition_m|accuracy)", m) for m in result.moved)
    assert all(" -> " in m or "more cells" in m or "only in" in m for m in result.moved)


def test_moved_cells_name_the_cell_and_both_values():
    import pandas as pd

    rows = [dict(train_exp=0, eval_exp=j, metric="accuracy", value=0.5, entity="", group="", lesion="", item_a=-1,
                 item_b=-1) for j in range(2)]
    old = pd.DataFrame(rows)
    new = old.copy()
    new.loc[1, "value"] = 0.5 + 2e-5  # beyond 1e-6 + 1e-5 * 0.5
    assert moved_cells(old, old) == []
    (cell,) = moved_cells(old, new)
    assert cell.startswith("accuracy [train_exp=0, eval_exp=1]") and "0.5 -> 0.50002" in cell
    new.loc[1, "value"] = 0.5 + 1e-6  # float noise
    assert moved_cells(old, new) == []


def _core_modules() -> dict[str, str]:
    from hippo_bench.strategies import strategies
    from hippo_bench.models import models
    from hippo_bench.tasks import benchmarks

    roots = tuple(cls.__module__ for reg in (strategies, benchmarks, models) for cls in (reg.get(n) for n in reg.names()))
    return closure(("hippo_bench.runner", *roots))


def _reworded(text: str) -> str:
    """The same module with every docstring reworded, comments added and the layout changed."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    edits = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            doc = body[0].value
            edits.append((doc.lineno - 1, doc.col_offset))
    for line, col in sorted(edits, reverse=True):  # insert words just inside the opening quotes
        src = lines[line]
        quote = re.match(r"[rRuU]?('''|\"\"\"|'|\")", src[col:])
        at = col + quote.end()
        lines[line] = src[:at] + "Reworded: " + src[at:]
    out = "".join(lines)
    out = out.replace("\n\n\n", "\n\n\n\n")  # layout
    return "# a comment the key must ignore\n" + out + "\n# another comment\n"


def test_a_docstring_or_comment_edit_in_any_core_module_changes_no_code_key():
    modules = _core_modules()
    assert {"hippo_bench.runner", "hippo_bench.strategies.meta.template", "hippo_bench.models.hippo_net"} <= set(modules)
    for module, path in modules.items():
        text = open(path, encoding="utf-8").read()
        edited = _reworded(text)
        assert edited != text and ('"""' not in text or "Reworded: " in edited)
        assert normalized_source(edited) == normalized_source(text), module


def test_a_code_edit_changes_the_code_key():
    path = closure(("hippo_bench.strategies.meta.gradients",))["hippo_bench.strategies.meta.gradients"]
    text = open(path, encoding="utf-8").read()
    assert "max_norm / (total + 1e-6)" in text
    assert normalized_source(text.replace("max_norm / (total + 1e-6)", "max_norm / (total + 1e-7)")) \
        != normalized_source(text)
