"""One run: benchmark x strategy x model x seed, evaluated after every experience.

Order matters (docs/DESIGN.md section 2): the benchmark is built first (Avalanche's
builders touch the global RNG), then every RNG is seeded with the training
seed, then model and strategy are built. The runner owns the model, the
device, the batch sizes and its plugins, and passes the strategy a fresh
plugin list.
"""

from __future__ import annotations

import contextlib
import dataclasses
import resource
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hippo_bench import checkpoint
from hippo_bench.currency import code_key
from hippo_bench.tensor_batches import cache_eval_batches
from hippo_bench.errors import MetaLossError, UserError
from hippo_bench.evaluation import StreamEvaluation
from hippo_bench.params import as_dict
from hippo_bench.progress import NoProgress, Progress
from hippo_bench.recording import Recorder
from hippo_bench.results import (atomic_write_parquet, failure_path, make_table, record_failure,
                                 result_path, run_id_of, run_identity)
from hippo_bench.seeding import seed_everything
from hippo_bench.strategies.base import Strategy, StrategyContext, silent_evaluator
from hippo_bench.tasks.base import BenchmarkInstance, Measure


@dataclasses.dataclass
class RunSpec:
    """A fully resolved run request."""

    benchmark: str
    benchmark_config: Any
    strategy: type[Strategy]
    strategy_config: Any
    model: str
    model_config: Any
    seed: int
    benchmark_seed: int = 0
    epochs: int = 1
    train_mb_size: int = 10
    eval_mb_size: int = 512
    preset: str = ""
    device: str = "cpu"
    threads: int = 1  # torch intra-op threads; the small online models run fastest on one

    def identity(self) -> dict:
        return run_identity(
            benchmark=self.benchmark, benchmark_params=as_dict(self.benchmark_config),
            benchmark_seed=self.benchmark_seed, strategy=self.strategy.name,
            strategy_params=as_dict(self.strategy_config), model=self.model,
            model_params=as_dict(self.model_config), seed=self.seed, epochs=self.epochs,
            train_mb_size=self.train_mb_size, preset=self.preset)

    @property
    def run_id(self) -> str:
        return run_id_of(self.identity())


@dataclasses.dataclass
class RunOutcome:
    spec: RunSpec
    status: str  # ok | cached | stale | skipped | failed
    table: pd.DataFrame | None = None
    path: Path | None = None
    error: str = ""


@contextlib.contextmanager
def quiet_warnings():
    """Silence library warnings for a block.

    Avalanche's deprecation decorator resets the warning filters each time
    it fires, so a filter alone is not enough: the display hook is replaced
    too (``catch_warnings`` restores both).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.showwarning = lambda *args, **kwargs: None
        yield


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _measure_rows(measures: list[Measure], train_exp: int) -> list[dict]:
    return [dict(train_exp=train_exp, eval_exp=m.eval_exp, metric=m.metric, value=float(m.value),
                 entity=m.entity, group=m.group, lesion=m.lesion, item_a=m.item_a, item_b=m.item_b)
            for m in measures]


def build_instance(bench_cls: type, bench_config: Any, benchmark_seed: int, data_root: Path | None) -> BenchmarkInstance:
    """The benchmark's stream for ``benchmark_seed`` (built before any training seed is set)."""
    return bench_cls(bench_config).build(benchmark_seed, data_root)


def execute(spec: RunSpec, instance: BenchmarkInstance, out_dir: Path | None, *, progress: Progress | None = None,
            checkpoints: bool = True, logs=None) -> RunOutcome:
    """Run one configuration (resuming its checkpoint, if any) and write its tidy table atomically.

    Whether a run is needed at all is decided before, by the one entry point
    (:func:`hippo_bench.launch.run_specs`, with the rule of
    :mod:`hippo_bench.currency`). A user error (bad parameters) propagates.
    Any other exception makes the run ``failed``: recorded as JSON under
    ``<out>/failed/``, no parquet. ``logs`` (a :class:`~hippo_bench.run_logs.LogRequest`)
    also sends what the run records to Avalanche loggers.
    """
    progress = progress or NoProgress()
    identity = spec.identity()
    run_id = run_id_of(identity)
    path = result_path(out_dir, run_id) if out_dir is not None else None
    code = code_key(spec)

    strategy = spec.strategy(spec.strategy_config)
    reason = strategy.unsupported_reason(instance)
    if reason:
        table = make_table(identity, [], status="skipped", note=reason, code=code, prov=wording_of(spec))
        if path is not None:
            atomic_write_parquet(table, path)
        return RunOutcome(spec, "skipped", table, path, reason)

    try:
        saver = _Checkpoints(out_dir, run_id, code[0]) if checkpoints and out_dir is not None else None
        rows = _train_and_evaluate(spec, strategy, instance, progress, saver, logs)
    except UserError:
        raise
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the run fails; other seeds go on
        return _failed(spec, identity, out_dir, exc, code=code)
    finally:
        progress.end_run()

    table = make_table(identity, rows, code=code, prov=wording_of(spec))
    if path is not None:
        try:
            atomic_write_parquet(table, path)
        except Exception as exc:  # e.g. a full disk: no file is left, the run counts as failed
            return _failed(spec, identity, out_dir, exc, what="writing results: ", code=code)
        stale = failure_path(out_dir, run_id)
        if stale.exists():  # an earlier attempt failed; this one replaces it
            stale.unlink()
        checkpoint.clear(out_dir, run_id)
    return RunOutcome(spec, "ok", table, path)


def wording_of(spec: RunSpec) -> dict[str, str]:
    """How the code at hand describes the run's protocol (hippo_bench.results.WORDING_COLUMNS)."""
    from hippo_bench.results import canonical_json
    from hippo_bench.tasks import benchmarks

    bench = benchmarks.get(spec.benchmark)
    return {"benchmark_description": bench.description, "acc_meaning": bench.acc_meaning,
            "strategy_defaults": canonical_json(as_dict(spec.strategy.Config()))}


def _failed(spec: RunSpec, identity: dict, out_dir: Path | None, exc: Exception, what: str = "",
            code: tuple[str, str] = ("", "")) -> RunOutcome:
    """Record a failed run as JSON under ``<out>/failed/`` (never as a parquet)."""
    err = f"{what}{type(exc).__name__}: {exc}"
    if not isinstance(exc, MetaLossError):
        err += "\n" + "".join(traceback.format_exception(exc)[-3:])
    if out_dir is not None:
        record_failure(out_dir, identity, err, code, wording_of(spec))
    return RunOutcome(spec, "failed", None, None, err)


@dataclasses.dataclass
class _Checkpoints:
    """Where and for which code a run saves its state after each experience (hippo_bench.checkpoint)."""

    out_dir: Path
    run_id: str
    fingerprint: str

    def load(self) -> dict | None:
        return checkpoint.load(self.out_dir, self.run_id, self.fingerprint)

    def save(self, template, progress: dict) -> None:
        checkpoint.save(self.out_dir, self.run_id, self.fingerprint, template, progress)


def _train_and_evaluate(spec: RunSpec, strategy: Strategy, instance: BenchmarkInstance,
                        progress: Progress, saver: _Checkpoints | None = None, logs=None) -> list[dict]:
    from hippo_bench.models import models

    torch.set_num_threads(spec.threads)
    seed_everything(spec.seed)
    device = torch.device(spec.device)
    model = models.get(spec.model)(spec.model_config).build(instance.input_shape, instance.n_outputs,
                                                          heads=instance.heads or None)
    recorder = Recorder(instance.score, on_train_samples=progress.advance)
    log = None
    if logs is not None:
        from hippo_bench.run_logs import RunLog

        log = RunLog(logs, spec.run_id, f"{spec.strategy.name} {spec.benchmark} seed {spec.seed}")
    ctx = StrategyContext(
        model=model, criterion=instance.criterion(), device=device, plugins=[recorder],
        evaluator=log.evaluator() if log is not None else silent_evaluator(), train_mb_size=spec.train_mb_size,
        eval_mb_size=spec.eval_mb_size, epochs=spec.epochs, benchmark=instance, seed=spec.seed)
    with quiet_warnings():
        strategy.prepare(ctx)  # e.g. OML's meta-training phase on instance.meta_train
        template = strategy.build(ctx)
    cache_eval_batches(template)  # for a template that evaluates itself
    evaluation = StreamEvaluation(template, strategy, instance, instance.score, recorder)

    rows: list[dict] = []
    T = instance.n_experiences

    def evaluate(train_exp: int) -> None:
        with quiet_warnings():
            accuracy = evaluation.accuracy()
        for j, a in sorted(accuracy.items()):
            rows.append(dict(train_exp=train_exp, eval_exp=j, metric="accuracy", value=a,
                             entity="", group="", lesion=""))
        extra: list[Measure] = []
        for probe in instance.probes:
            extra += probe(template.model, instance, final=train_exp == T - 1)
        extra += strategy.measures(template, ctx)
        rows.extend(_measure_rows(extra, train_exp))
        if log is not None:
            log.rows(rows)

    label = f"{spec.strategy.name} · {spec.benchmark} · seed {spec.seed}"
    progress.start_run(label, T)
    if saver is not None and checkpoint.unsupported(template, strategy.trains_jointly):
        saver = None
    saved = saver.load() if saver is not None else None
    t_start = time.perf_counter()
    if saved is None:
        evaluate(-1)
        start, before, train_time, train_cpu, n_samples = 0, 0.0, 0.0, 0.0, 0
    else:  # resume after the last complete experience
        done = checkpoint.restore(template, saved)
        rows[:] = done["rows"]
        if log is not None:
            log.skip(rows)  # the interrupted attempt logged them
        start, before = done["next_experience"], done["wall_time_s"]
        train_time, train_cpu, n_samples = done["train_time_s"], done["train_cpu_time_s"], done["train_samples"]
    # A protocol that fixes the order of samples within an experience (OML's) says so.
    train_kwargs = {"shuffle": False} if instance.extra.get("train_shuffle") is False else {}
    experiences = [instance.train_stream] if strategy.trains_jointly else list(instance.train_stream)
    for k, exp in enumerate(experiences):
        if k < start:
            continue
        n = (sum(len(e.dataset) for e in exp) if strategy.trains_jointly else len(exp.dataset)) * spec.epochs
        train_exp = T - 1 if strategy.trains_jointly else k
        progress.start_experience(train_exp, n)
        t0, c0 = time.perf_counter(), time.process_time()
        with quiet_warnings():
            template.train(exp, **train_kwargs)
        dt = time.perf_counter() - t0
        train_time += dt
        train_cpu += time.process_time() - c0
        n_samples += n
        rows.append(dict(train_exp=train_exp, eval_exp=-1, metric="train_time_s", value=dt,
                         entity="", group="", lesion=""))
        evaluate(train_exp)
        if saver is not None and k + 1 < len(experiences):
            saver.save(template, dict(rows=rows, next_experience=k + 1, train_time_s=train_time,
                                      train_cpu_time_s=train_cpu, train_samples=n_samples,
                                      wall_time_s=before + time.perf_counter() - t_start))
    wall = before + time.perf_counter() - t_start
    last = T - 1
    for metric, value in (("wall_time_s", wall), ("train_time_s_total", train_time),
                          ("train_cpu_time_s", train_cpu),
                          ("train_samples", float(n_samples)),
                          ("train_samples_per_s", n_samples / train_time if train_time > 0 else float("nan")),
                          ("run_samples_per_s", n_samples / wall if wall > 0 else float("nan")),
                          ("peak_rss_mb", peak_rss_mb())):
        rows.append(dict(train_exp=last, eval_exp=-1, metric=metric, value=value, entity="", group="", lesion=""))
    if log is not None:
        log.rows(rows)
        log.close()
    return rows
