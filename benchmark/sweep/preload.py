"""Imported once by the local executor's fork server, so that each worker starts in milliseconds.

Importing torch and Avalanche takes seconds (tens on a loaded laptop); workers
forked from a server that already holds them skip that. One thread is set
before torch is imported, and the home-folder guard before Avalanche is.
"""

from hippo_bench.cli import prepare_environment
from hippo_bench.sweep.worker import one_thread

prepare_environment()
one_thread()

import hippo_bench.runner  # noqa: E402,F401  (torch, Avalanche, the registries' modules)
from hippo_bench.strategies import strategies  # noqa: E402
from hippo_bench.tasks import benchmarks  # noqa: E402

strategies.names()
benchmarks.names()
