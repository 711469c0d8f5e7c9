"""Benchmarks: registry and the built-in task streams (one module each)."""

from hippo_bench.registry import Registry
from hippo_bench.tasks.base import Benchmark, BenchmarkInstance, Measure  # noqa: F401

benchmarks: Registry = Registry("benchmark", Benchmark, package="hippo_bench.tasks",
                                entry_point_group="hippo_bench.benchmarks")
register = benchmarks.register

# The synthetic CLS suite: needs no data and exercises what meta-hippo is about.
DEFAULT_BENCHMARK = "cls"
