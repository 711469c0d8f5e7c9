"""hippo-bench: continual-learning benchmarks for meta-learned hippocampal models.

The top-level folders install as one namespace: ``benchmark/`` is
``hippo_bench`` (CLI, runner, tasks, metrics, results, reporting),
``strategies/`` is ``hippo_bench.strategies`` and ``models/`` is
``hippo_bench.models``.

The Python API (:mod:`hippo_bench.api`) is exported here and imported on
first use, so ``import hippo_bench`` stays light (no torch or Avalanche)::

    from hippo_bench import MetaHippo, LaMAML, SparseMAML, OML, MER, make_model, run, strategy
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _version
from typing import TYPE_CHECKING, Any

try:
    __version__ = _version("hippo-bench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

# Names of the Python API, loaded from hippo_bench.api when first asked for.
_API = ("AvalancheStrategy", "MetaHippo", "LaMAML", "SparseMAML", "OML", "MER", "make_model", "run", "strategy")
__all__ = ["__version__", *_API]

if TYPE_CHECKING:  # static type checkers see the real names
    from hippo_bench.api import (MER, OML, AvalancheStrategy, LaMAML, MetaHippo, SparseMAML,  # noqa: F401
                                 make_model, run, strategy)


def __getattr__(name: str) -> Any:
    if name in _API:
        from hippo_bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'hippo_bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
