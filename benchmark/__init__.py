"""hippo-bench: continual-learning benchmarks for meta-learned hippocampal models.

The top-level folders install as one namespace: ``benchmark/`` is
``hippo_bench`` (CLI, runner, tasks, metrics, results, reporting),
``strategies/`` is ``hippo_bench.strategies`` and ``models/`` is
``hippo_bench.models``.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("hippo-bench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
