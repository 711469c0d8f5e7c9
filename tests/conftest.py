"""Shared test set-up: a safe environment, a tiny benchmark, and registry helpers.

The suite must run on a machine whose home folder is read-only and that has
no network; ``prepare_environment`` (the CLI's own guard) redirects the files
Avalanche writes on import before any test imports it.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from hippo_bench.cli import prepare_environment

prepare_environment()

# Data fixtures (tiny IDX and Omniglot files the tests write), shared by the data and image-benchmark tests.
from data_files import cache, tiny_mnist, tiny_omniglot  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[1]

# split-patterns (named: the default benchmark is the cls suite) cut down to two experiences of two classes: a run takes well under a second.
TINY_BENCH = ["--benchmark", "split-patterns", "--bench-n-classes", "4", "--bench-classes-per-exp", "2", "--bench-dim", "16",
              "--bench-train-per-class", "10", "--bench-test-per-class", "5"]


@pytest.fixture
def tiny_bench() -> list[str]:
    return list(TINY_BENCH)


@pytest.fixture
def run_cli(capsys):
    """Call ``hippo-bench`` in-process; returns (exit code, stdout, stderr)."""
    from hippo_bench.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def read_runs(folder: Path) -> pd.DataFrame:
    """Every results file in a folder, concatenated."""
    files = sorted(Path(folder).glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()


def tracked(pattern: str) -> list[str]:
    """Files committed in git matching ``pattern``; skips the test outside a git checkout, where committed files
    cannot be told from local ones."""
    try:
        out = subprocess.run(["git", "ls-files", "--", pattern], cwd=REPO, capture_output=True, text=True,
                             timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: committed files cannot be told from local ones")
    return out.stdout.split()


def failure_records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(folder) / "failed").glob("*.json"))]


@pytest.fixture
def fresh_strategy_registry(monkeypatch):
    """The global strategy registry, restored after the test (plugins reloadable).

    Returns a function that installs fake entry points for the
    ``hippo_bench.strategies`` group: ``install({"name": "module:Class"})``.
    """
    import hippo_bench.registry as registry_mod
    from hippo_bench.strategies import strategies

    strategies.names()  # built-ins loaded before the snapshot
    monkeypatch.setattr(strategies, "_classes", dict(strategies._classes))
    monkeypatch.setattr(strategies, "_origin", dict(strategies._origin))
    monkeypatch.setattr(strategies, "broken", dict(strategies.broken))

    def install(entries: dict[str, str]) -> None:
        points = [importlib.metadata.EntryPoint(name=n, value=v, group="hippo_bench.strategies")
                  for n, v in entries.items()]
        original = registry_mod._entry_points
        monkeypatch.setattr(registry_mod, "_entry_points",
                            lambda group: points if group == "hippo_bench.strategies" else original(group))
        monkeypatch.setattr(strategies, "_plugins_loaded", False)

    return install
