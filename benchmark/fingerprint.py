"""The cache key of a result: a hash of the code that can change its numbers, not of that code's bytes.

A run's numbers depend on the runner, its strategy, its benchmark and its
model, on everything those modules import from hippo_bench (followed
statically through the import statements, imports inside functions too),
and on the versions of torch, avalanche and numpy. The key hashes exactly
that, with what cannot change a number taken out first (docs/DESIGN.md,
"Results identity"):

- each source file is hashed as its syntax tree (:func:`normalized_source`),
  so comments and formatting never count, and docstrings, help texts of
  parameters and flags, component descriptions and references, and the
  messages of raised errors are removed before hashing;
- modules that only parse, present or orchestrate (the CLI, parameters and
  their flags, registries, reporting, the results file format, sweeps) are
  listed in :data:`NOT_RESULT_CODE` and left out; anything not listed
  counts, so a new module is covered by default;
- library versions are recorded without build tags (``2.14.1+cu130`` is
  ``2.14.1``); ``constraints.txt`` pins them for ``make``.

The key decides reuse only (:mod:`hippo_bench.currency`). What guards the
numbers themselves is the golden runs (:mod:`hippo_bench.golden`), and what
a published number belongs to is its release.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import re
from pathlib import Path

PACKAGE = "hippo_bench"
ROOT_MODULES = ("hippo_bench.runner",)
# Version of the key's own recipe: bumped when normalisation changes, so old keys never match by accident.
KEY_SCHEME = 2

# Modules (and packages, with everything under them) that do not change the numbers a run records.
NOT_RESULT_CODE = (
    "hippo_bench.cli", "hippo_bench.commands", "hippo_bench.reporting", "hippo_bench.results",
    "hippo_bench.metrics", "hippo_bench.fingerprint", "hippo_bench.resolve", "hippo_bench.presets",
    "hippo_bench.errors", "hippo_bench.data_root", "hippo_bench.data.download", "hippo_bench.verify",
    "hippo_bench.sweep", "hippo_bench.api", "hippo_bench.plotting", "hippo_bench.experiments",
    "hippo_bench.checkpoint", "hippo_bench.__main__", "hippo_bench.params", "hippo_bench.registry",
    "hippo_bench.progress", "hippo_bench.currency", "hippo_bench.release", "hippo_bench.golden",
    "hippo_bench.launch",
)

# Package __init__ modules that hold a registry (or the lazy public API), not computation.
NOT_RESULT_EXACT = frozenset({PACKAGE, "hippo_bench.strategies", "hippo_bench.tasks", "hippo_bench.models"})

# Class attributes that only describe a component to people (hippo-bench list, captions, docs).
PRESENTATION_ATTRIBUTES = frozenset({"description", "references", "acc_meaning"})


def _excluded(module: str) -> bool:
    return module in NOT_RESULT_EXACT or any(module == m or module.startswith(m + ".") for m in NOT_RESULT_CODE)


@functools.lru_cache(maxsize=None)
def source_of(module: str) -> str | None:
    """The source file of a module, or None when it is not a Python source module."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return spec.origin


@functools.lru_cache(maxsize=None)
def _imports(path: str, module: str) -> tuple[str, ...]:
    """hippo_bench modules a source file imports anywhere (absolute and relative imports)."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    is_package = path.endswith("__init__.py")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            found.add(base)
            for alias in node.names:  # "from pkg import submodule"
                found.add(f"{base}.{alias.name}")
    return tuple(sorted(m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")))


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def closure(roots: tuple[str, ...]) -> dict[str, str]:
    """Module name -> source path of ``roots`` and every hippo_bench module they import, transitively.

    Roots are always included (a third-party plugin's own module too);
    imported modules are followed unless they are listed in NOT_RESULT_CODE.
    """
    out: dict[str, str] = {}
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in out:
            continue
        path = source_of(module)
        if path is None or (module not in roots and _excluded(module)):
            continue
        out[module] = path
        for dep in (*_imports(path, module), *_parents(module)):
            if dep not in out and not _excluded(dep):
                todo.append(dep)
    return out


# ------------------------------------------------------------ normalisation
def _is_text(node: ast.AST | None) -> bool:
    return isinstance(node, (ast.Constant, ast.JoinedStr)) and (
        not isinstance(node, ast.Constant) or isinstance(node.value, str))


class _Presentation(ast.NodeTransformer):
    """Removes what only people read: docstrings and other bare strings, help texts, descriptions, error messages."""

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and all(isinstance(s, ast.stmt) for s in stmts):
                kept = [s for s in stmts if not (isinstance(s, ast.Expr) and _is_text(s.value))]
                setattr(node, field, kept or ([ast.Pass()] if field == "body" else []))
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = [s for s in node.body if not _assigns_presentation(s)]
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node.keywords = [k for k in node.keywords if not (k.arg == "help" and _is_text(k.value))]
        if _called_name(node) == "param" and len(node.args) >= 2 and _is_text(node.args[1]):
            node.args = [node.args[0], *node.args[2:]]  # param(default, "help text", ...)
        return self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        if isinstance(node.exc, ast.Call):  # the message of an error: a raised run fails, whatever it says
            node.exc.args, node.exc.keywords = [], []
        return node


def _called_name(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _assigns_presentation(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AnnAssign):
        targets = [stmt.target]
    else:
        return False
    return all(isinstance(t, ast.Name) and t.id in PRESENTATION_ATTRIBUTES for t in targets)


def normalized_source(text: str, filename: str = "<source>") -> str:
    """The parts of a module's source that can change a number, as a canonical dump of its syntax tree."""
    tree = _Presentation().visit(ast.parse(text, filename=filename))
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


@functools.lru_cache(maxsize=None)
def _file_hash(path: str) -> str:
    text = Path(path).read_text(encoding="utf-8")
    return hashlib.sha256(normalized_source(text, path).encode()).hexdigest()[:12]


def release_version(version: str) -> str:
    """A library version without its local build tag (``2.14.1+cu130`` -> ``2.14.1``)."""
    return re.split(r"[+]", str(version), maxsplit=1)[0]


def library_versions() -> dict[str, str]:
    """torch, avalanche and numpy versions, build tags left out (a CPU build and a CUDA build compute alike here)."""
    import numpy
    import torch

    try:
        import avalanche
        av = avalanche.__version__
    except Exception:  # pragma: no cover - avalanche is a dependency
        av = ""
    return {"torch": release_version(torch.__version__), "avalanche": release_version(av),
            "numpy": release_version(numpy.__version__)}


def code_files(*component_modules: str) -> dict[str, str]:
    """Module -> short hash of the normalised source of every file a run of these components depends on."""
    return {m: _file_hash(p) for m, p in sorted(closure(ROOT_MODULES + tuple(component_modules)).items())}


def fingerprint_of(files: dict[str, str], versions: dict[str, str]) -> str:
    text = json.dumps({"files": files, "versions": versions, "scheme": KEY_SCHEME}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def component_modules(strategy_cls: type, benchmark_cls: type, model_cls: type) -> tuple[str, ...]:
    """The modules a run of these components starts from, with any other path a strategy's runs may take."""
    also = tuple(vars(strategy_cls).get("also_made_by", ()))  # its own declaration: subclasses may not share it
    return (strategy_cls.__module__, benchmark_cls.__module__, model_cls.__module__, *also)


def code_identity(strategy_cls: type, benchmark_cls: type, model_cls: type) -> tuple[str, str]:
    """(fingerprint, JSON of module -> normalised-source hash and library versions) of a run's code."""
    files = code_files(*component_modules(strategy_cls, benchmark_cls, model_cls))
    versions = library_versions()
    detail = json.dumps({"files": files, "versions": versions, "scheme": KEY_SCHEME}, sort_keys=True,
                        separators=(",", ":"))
    return fingerprint_of(files, versions), detail


def clear_caches() -> None:
    """Forget file hashes read so far (tests that edit source files call this)."""
    _file_hash.cache_clear()
    _imports.cache_clear()
    source_of.cache_clear()


def changed_files(old_detail: str, new_detail: str) -> list[str]:
    """Modules (and library versions) that differ between two stored code details."""
    try:
        old, new = json.loads(old_detail or "{}"), json.loads(new_detail or "{}")
    except ValueError:
        return ["(unreadable code record)"]
    out = []
    if old.get("scheme", 1) != new.get("scheme", 1):
        out.append(f"key scheme {old.get('scheme', 1)} -> {new.get('scheme', 1)}")
    of, nf = old.get("files", {}), new.get("files", {})
    for m in sorted(set(of) | set(nf)):
        if of.get(m) != nf.get(m):
            out.append(m if m in of and m in nf else f"{m} ({'added' if m in nf else 'removed'})")
    ov, nv = old.get("versions", {}), new.get("versions", {})
    for lib in sorted(set(ov) | set(nv)):
        if ov.get(lib) != nv.get(lib):
            out.append(f"{lib} {ov.get(lib, '?')} -> {nv.get(lib, '?')}")
    return out
