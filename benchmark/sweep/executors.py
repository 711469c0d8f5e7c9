"""Where a sweep's runs execute: a local pool of worker processes, or Ray tasks.

Every run writes its own results file atomically (hippo_bench.runner), so
an executor only hands out jobs and collects outcomes. A worker that dies
(SIGKILL, out of memory) takes no results file with it: its run is recorded
under ``<results>/failed/`` with the reason and the next sweep retries it.
"""

from __future__ import annotations

import collections
import dataclasses
import signal
from typing import Any, Callable, Sequence

from hippo_bench.errors import UserError
from hippo_bench.sweep.worker import Job, JobResult, record_failed

RAY_INSTALL = "pip install -e '.[ray]'"

Started = Callable[[Job], None]
Finished = Callable[[Job, JobResult], None]
Batch = list  # Jobs run together by one worker: one job, or seeds of one configuration (vectorised)


def death_reason(exitcode: int | None) -> str:
    """Why a worker process ended without reporting its run."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory, or killed)" if name == "SIGKILL" else ""
        return f"worker process died: killed by {name}{hint}"
    return f"worker process died: exit code {exitcode}"


@dataclasses.dataclass(eq=False)
class _Worker:
    process: Any
    conn: Any
    job: Batch | None = None


def run_local(batches: Sequence[Batch], workers: int, started: Started, finished: Finished) -> list[JobResult]:
    """Run each batch of jobs on one of ``workers`` processes (one torch thread each), one batch at a time.

    A process that dies mid-run is replaced; its runs are recorded as failed.
    """
    import multiprocessing as mp
    from multiprocessing.connection import wait

    from hippo_bench.sweep.worker import process_main

    ctx = _context(mp)
    pending = collections.deque(batches)
    results: list[JobResult] = []
    pool: list[_Worker] = []

    def spawn() -> _Worker:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=process_main, args=(child,), daemon=True, name="hippo-bench-sweep-worker")
        proc.start()
        child.close()
        worker = _Worker(proc, parent)
        pool.append(worker)
        return worker

    def assign(worker: _Worker) -> None:
        if pending:
            worker.job = pending.popleft()
            worker.conn.send(worker.job)
            for job in worker.job:
                started(job)
        else:
            worker.job = None
            _stop(worker)

    def report(job: Job, result: JobResult) -> None:
        results.append(result)
        finished(job, result)

    try:
        for _ in range(min(workers, len(pending))):
            assign(spawn())
        while any(w.job is not None for w in pool):
            busy = [w for w in pool if w.job is not None]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                batch = worker.job
                answer = None
                if worker.conn.poll():
                    try:
                        answer = worker.conn.recv()
                    except (EOFError, OSError):
                        answer = None
                if answer is None:  # the process ended without an answer: it died
                    worker.process.join(5)
                    reason = death_reason(worker.process.exitcode)
                    worker.job = None
                    _stop(worker)
                    pool.remove(worker)
                    for job in batch:
                        record_failed(job, reason)
                        report(job, JobResult(job.run_id, "failed", reason))
                    if pending:
                        assign(spawn())
                else:
                    for job, result in zip(batch, answer):
                        report(job, result)
                    assign(worker)
    finally:
        for worker in pool:
            _stop(worker, kill=worker.job is not None)
    return results


def _context(mp):
    """A fork server that has imported torch and Avalanche once (spawn where there is none).

    Each worker is a fresh process either way (forked from the server, which
    has run no torch operation), so one that dies is seen and replaced.
    """
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["hippo_bench.sweep.preload"])
        return ctx
    return mp.get_context("spawn")


def _stop(worker: _Worker, kill: bool = False) -> None:
    """Ask a worker to exit (or terminate it when it is mid-run, e.g. on Ctrl-C) and reap it."""
    proc = worker.process
    if proc.is_alive() and not kill:
        try:
            worker.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        proc.join(10)
    if proc.is_alive():
        proc.terminate()
        proc.join(5)
    worker.conn.close()


def _ray_task(batch: Batch) -> list[JobResult]:
    from hippo_bench.cli import prepare_environment
    from hippo_bench.sweep.worker import one_thread, run_batch

    prepare_environment()
    one_thread()
    return run_batch(batch)


def ray_module():
    """Ray, or a user error (exit 2) saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs Ray, an optional extra: {RAY_INSTALL}") from None
    return ray


def run_ray(batches: Sequence[Batch], workers: int | None, address: str | None, started: Started,
            finished: Finished) -> list[JobResult]:
    """Run each batch of jobs as a Ray task (one CPU each) on the cluster at ``address``, or on a local Ray.

    At most ``workers`` tasks are in flight (default: the cluster's CPUs), so
    the progress display knows what runs. A task whose worker dies is
    recorded as failed (Ray's retries are off: the next sweep retries it).
    """
    ray = ray_module()
    import os

    init_kwargs: dict[str, Any] = dict(ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
    if address:
        init_kwargs["address"] = address
    else:
        init_kwargs["num_cpus"] = workers or os.cpu_count() or 1
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for key in ("HIPPO_BENCH_DATA", "HIPPO_BENCH_CACHE"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    init_kwargs["runtime_env"] = {"env_vars": env}
    started_here = not ray.is_initialized()
    ray.init(**init_kwargs)
    try:
        limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
        pending = collections.deque(batches)
        in_flight: dict[Any, Batch] = {}
        results: list[JobResult] = []
        while pending or in_flight:
            while pending and len(in_flight) < limit:
                batch = pending.popleft()
                in_flight[task.remote(batch)] = batch
                for job in batch:
                    started(job)
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                batch = in_flight.pop(ref)
                try:
                    answers = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - the worker died or the task could not run
                    first = " ".join(str(exc).split())[:300]
                    reason = f"Ray task failed: {type(exc).__name__}: {first}"
                    answers = []
                    for job in batch:
                        record_failed(job, reason)
                        answers.append(JobResult(job.run_id, "failed", reason))
                for job, result in zip(batch, answers):
                    results.append(result)
                    finished(job, result)
        return results
    finally:
        if started_here:
            ray.shutdown()
