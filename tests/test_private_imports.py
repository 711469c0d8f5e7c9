"""No hippo_bench module imports another module's private names: what modules share is public and named so."""

from __future__ import annotations

import ast

from conftest import REPO

SOURCE_FOLDERS = ("benchmark", "strategies", "models")  # the hippo_bench, .strategies and .models packages


def private_imports(folder, root=REPO) -> list[str]:
    """'path:line: from module import _name' for every import of a private name from a hippo_bench module."""
    out = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if not (node.level or (node.module or "").split(".")[0] == "hippo_bench"):
                continue
            private = [a.name for a in node.names
                       if a.name.startswith("_") and not (a.name.startswith("__") and a.name.endswith("__"))]
            if private:
                out.append(f"{path.relative_to(root)}:{node.lineno}: from {'.' * node.level}{node.module or ''} "
                           f"import {', '.join(private)}")
    return out


def test_no_module_imports_a_private_name_of_another():
    found = [line for folder in SOURCE_FOLDERS for line in private_imports(REPO / folder)]
    assert found == [], "make the shared name public instead:\n" + "\n".join(found)


def test_the_scan_finds_a_private_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("from hippo_bench.strategies.meta.step_sizes import _MaskParameters\n"
                                             "from hippo_bench import __version__\nfrom . import _helper\n")
    assert private_imports(tmp_path / "pkg", root=tmp_path) == [
        "pkg/mod.py:1: from hippo_bench.strategies.meta.step_sizes import _MaskParameters",
        "pkg/mod.py:3: from . import _helper"]
