"""What one sweep worker does with one run, whichever executor started it.

Kept free of torch at import time: a spawned worker sets its thread count
(one torch thread, ``OMP_NUM_THREADS=1``) before torch is first imported.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from pathlib import Path
from typing import Any

_instances = None  # per-process cache of benchmark instances (a worker often gets the same stream again)


@dataclasses.dataclass
class Job:
    """Everything a worker needs, picklable: the RunSpec (classes by reference) and where things live."""

    run_id: str
    spec: Any
    data_root: Path | None
    out: Path
    force: bool = False  # run even if a current result exists (a release regenerates runs of an older release)
    logs: Any = None  # hippo_bench.run_logs.LogRequest: the loggers the run gets, or None


@dataclasses.dataclass
class JobResult:
    run_id: str
    status: str  # ok | cached | stale | skipped | failed
    error: str = ""
    seconds: float = 0.0


def one_thread() -> None:
    """One torch (and OpenMP) thread per worker: the small online models run fastest that way."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def run_job(job: Job) -> JobResult:
    """Build the benchmark (cached per process) and run the spec; a raised error is a failed run, recorded."""
    global _instances
    from hippo_bench.launch import run_specs
    from hippo_bench.sweep.grid import InstanceCache
    from hippo_bench.tasks import benchmarks

    start = time.monotonic()
    spec = job.spec
    try:
        if _instances is None:
            _instances = InstanceCache(limit=2)
        instance = _instances.get(benchmarks.get(spec.benchmark), spec.benchmark, spec.benchmark_config,
                                  spec.benchmark_seed, job.data_root)
        (outcome,) = run_specs([spec], [instance], job.out, force=job.force, logs=job.logs)
        return JobResult(job.run_id, outcome.status, outcome.error, time.monotonic() - start)
    except Exception as exc:  # noqa: BLE001 - a user error or a failure building the stream: record it
        error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)[-3:])
        record_failed(job, error)
        return JobResult(job.run_id, "failed", error, time.monotonic() - start)


def run_batch(jobs: list[Job]) -> list[JobResult]:
    """One job alone, or several seeds of one configuration as one batched model (hippo_bench.strategies.vectorized)."""
    if len(jobs) == 1:
        return [run_job(jobs[0])]
    global _instances
    from hippo_bench.launch import run_specs
    from hippo_bench.sweep.grid import InstanceCache
    from hippo_bench.tasks import benchmarks

    start = time.monotonic()
    try:
        if _instances is None:
            _instances = InstanceCache(limit=2)
        instances = [_instances.get(benchmarks.get(j.spec.benchmark), j.spec.benchmark, j.spec.benchmark_config,
                                    j.spec.benchmark_seed, j.data_root) for j in jobs]
        outcomes = run_specs([j.spec for j in jobs], instances, jobs[0].out, vectorize=True,
                             force=any(j.force for j in jobs), logs=jobs[0].logs)
    except Exception as exc:  # noqa: BLE001 - every run of the batch is recorded as failed
        error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)[-3:])
        for job in jobs:
            record_failed(job, error)
        return [JobResult(j.run_id, "failed", error, time.monotonic() - start) for j in jobs]
    seconds = (time.monotonic() - start) / len(jobs)
    return [JobResult(j.run_id, o.status, o.error, seconds) for j, o in zip(jobs, outcomes)]


def record_failed(job: Job, error: str) -> None:
    """Record a run that did not finish (``<out>/failed/<run_id>.json``) with the code it ran under."""
    from hippo_bench.currency import code_key
    from hippo_bench.results import record_failure
    from hippo_bench.runner import wording_of

    try:
        code, wording = code_key(job.spec), wording_of(job.spec)
    except Exception:  # noqa: BLE001 - the record matters more than its provenance
        code, wording = ("", ""), {}
    record_failure(job.out, job.spec.identity(), error, code, wording)


def process_main(conn) -> None:
    """A local worker process: receive batches of jobs on ``conn`` until None, send back their JobResults."""
    from hippo_bench.cli import prepare_environment

    prepare_environment()
    one_thread()
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        try:
            result = run_batch(job)
        except KeyboardInterrupt:
            return
        conn.send(result)
