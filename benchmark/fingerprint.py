"""The fingerprint of the code that made a result, so a result is never reused after that code changed.

A run's numbers depend on the runner, its strategy, its benchmark and its
model, and on everything those modules import from hippo_bench (followed
statically through the import statements, including imports inside
functions), plus the versions of torch, avalanche and numpy. The
fingerprint hashes exactly that: changing meta-hippo's loop makes the
meta-hippo results stale but not the EWC ones; changing a leaderboard
renderer makes none stale.

Modules that only read, present or orchestrate results (the CLI commands,
reporting, the results file format, sweep scheduling) are listed in
:data:`NOT_RESULT_CODE` and left out; anything not listed counts, so a new
module is covered by default.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
from pathlib import Path

PACKAGE = "hippo_bench"
ROOT_MODULES = ("hippo_bench.runner",)

# Modules (and packages, with everything under them) that do not change the numbers a run records.
NOT_RESULT_CODE = (
    "hippo_bench.cli", "hippo_bench.commands", "hippo_bench.reporting", "hippo_bench.results",
    "hippo_bench.metrics", "hippo_bench.fingerprint", "hippo_bench.resolve", "hippo_bench.presets",
    "hippo_bench.errors", "hippo_bench.data_root", "hippo_bench.data.download", "hippo_bench.verify",
    "hippo_bench.sweep", "hippo_bench.api", "hippo_bench.plotting", "hippo_bench.experiments",
    "hippo_bench.checkpoint", "hippo_bench.__main__",
)


# The top-level package itself: its __init__ holds the version and the lazy public API only.
NOT_RESULT_EXACT = frozenset({PACKAGE})


def _excluded(module: str) -> bool:
    return module in NOT_RESULT_EXACT or any(module == m or module.startswith(m + ".") for m in NOT_RESULT_CODE)


@functools.lru_cache(maxsize=None)
def _origin(module: str) -> str | None:
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
        path = _origin(module)
        if path is None or (module not in roots and _excluded(module)):
            continue
        out[module] = path
        for dep in (*_imports(path, module), *_parents(module)):
            if dep not in out and not _excluded(dep):
                todo.append(dep)
    return out


@functools.lru_cache(maxsize=None)
def _file_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def library_versions() -> dict[str, str]:
    import numpy
    import torch

    try:
        import avalanche
        av = avalanche.__version__
    except Exception:  # pragma: no cover - avalanche is a dependency
        av = ""
    return {"torch": torch.__version__, "avalanche": av, "numpy": numpy.__version__}


def code_files(*component_modules: str) -> dict[str, str]:
    """Module -> short content hash of every source file a run of these components depends on."""
    return {m: _file_hash(p) for m, p in sorted(closure(ROOT_MODULES + tuple(component_modules)).items())}


def fingerprint_of(files: dict[str, str], versions: dict[str, str]) -> str:
    text = json.dumps({"files": files, "versions": versions}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_identity(strategy_cls: type, benchmark_cls: type, model_cls: type) -> tuple[str, str]:
    """(fingerprint, JSON of module -> file hash and library versions) of a run's code."""
    files = code_files(strategy_cls.__module__, benchmark_cls.__module__, model_cls.__module__)
    versions = library_versions()
    detail = json.dumps({"files": files, "versions": versions}, sort_keys=True, separators=(",", ":"))
    return fingerprint_of(files, versions), detail


def clear_caches() -> None:
    """Forget file hashes read so far (tests that edit source files call this)."""
    _file_hash.cache_clear()
    _imports.cache_clear()
    _origin.cache_clear()


def changed_files(old_detail: str, new_detail: str) -> list[str]:
    """Modules (and library versions) that differ between two stored code details."""
    try:
        old, new = json.loads(old_detail or "{}"), json.loads(new_detail or "{}")
    except ValueError:
        return ["(unreadable code record)"]
    out = []
    of, nf = old.get("files", {}), new.get("files", {})
    for m in sorted(set(of) | set(nf)):
        if of.get(m) != nf.get(m):
            out.append(m if m in of and m in nf else f"{m} ({'added' if m in nf else 'removed'})")
    ov, nv = old.get("versions", {}), new.get("versions", {})
    for lib in sorted(set(ov) | set(nv)):
        if ov.get(lib) != nv.get(lib):
            out.append(f"{lib} {ov.get(lib, '?')} -> {nv.get(lib, '?')}")
    return out
