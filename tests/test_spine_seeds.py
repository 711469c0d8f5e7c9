"""Seeds: the same seed repeats a run exactly; another training seed changes training, not the stream."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import torch
from avalanche.core import SupervisedPlugin

from hippo_bench.models import models
from hippo_bench.runner import RunSpec, execute
from hippo_bench.strategies import strategies
from hippo_bench.tasks import benchmarks

TINY = dict(n_classes=4, classes_per_exp=2, dim=16, train_per_class=10, test_per_class=5)


class _SeenData(SupervisedPlugin):
    """Records every training minibatch (inputs and labels) per experience."""

    def __init__(self, log: dict):
        super().__init__()
        self.log = log

    def after_training_iteration(self, strategy, **kwargs):
        exp = strategy.experience.current_experience
        self.log.setdefault(exp, []).append(torch.cat([strategy.mb_x, strategy.mb_y[:, None].float()], 1))


def _spy_class(log: dict):
    naive = strategies.get("naive")

    class Spy(naive):
        def build(self, ctx):
            ctx.plugins.append(_SeenData(log))
            return super().build(ctx)

    Spy.name = "spy"
    return Spy


def _run(seed: int, log: dict | None = None, benchmark_seed: int = 0):
    bench_cls = benchmarks.get("split-patterns")
    config = bench_cls.Config(**TINY)
    instance = bench_cls(config).build(benchmark_seed, None)
    strategy = _spy_class(log if log is not None else {})
    spec = RunSpec(benchmark="split-patterns", benchmark_config=config, strategy=strategy,
                   strategy_config=strategy.Config(), model="mlp", model_config=models.get("mlp").Config(),
                   seed=seed, benchmark_seed=benchmark_seed, train_mb_size=4)
    outcome = execute(spec, instance, None)
    assert outcome.status == "ok", outcome.error
    return outcome.table


def _accuracy_rows(table: pd.DataFrame) -> pd.DataFrame:
    acc = table[table["metric"] == "accuracy"]
    return acc[["train_exp", "eval_exp", "value"]].reset_index(drop=True)


def _as_set(batches: list[torch.Tensor]) -> list[tuple]:
    return sorted(map(tuple, torch.cat(batches).tolist()))


def test_same_seed_gives_identical_rows():
    a, b = _run(3), _run(3)
    pd.testing.assert_frame_equal(_accuracy_rows(a), _accuracy_rows(b))
    assert a["run_id"].iloc[0] == b["run_id"].iloc[0]


def test_training_seed_changes_rows_but_not_the_stream():
    seen0, seen1 = {}, {}
    a, b = _run(0, seen0), _run(1, seen1)
    acc_a, acc_b = _accuracy_rows(a), _accuracy_rows(b)
    assert not acc_a["value"].equals(acc_b["value"])  # different initialisation and order
    assert a["config_id"].iloc[0] == b["config_id"].iloc[0]
    assert a["run_id"].iloc[0] != b["run_id"].iloc[0]
    assert sorted(seen0) == sorted(seen1) == [0, 1]
    for exp in (0, 1):
        # the same samples in each experience, visited in a different order
        assert _as_set(seen0[exp]) == _as_set(seen1[exp])
        assert not torch.equal(torch.cat(seen0[exp]), torch.cat(seen1[exp]))


def _stream_tensors(instance) -> list[torch.Tensor]:
    out = []
    for stream in (instance.train_stream, instance.test_stream):
        for exp in stream:
            out += [torch.stack([exp.dataset[i][0] for i in range(len(exp.dataset))]),
                    torch.tensor([exp.dataset[i][1] for i in range(len(exp.dataset))])]
    return out


def test_stream_depends_on_benchmark_seed_only():
    bench_cls = benchmarks.get("split-patterns")
    config = bench_cls.Config(**TINY)
    torch.manual_seed(1)
    first = _stream_tensors(bench_cls(config).build(0, None))
    torch.manual_seed(2)  # the global RNG state must not matter
    again = _stream_tensors(bench_cls(config).build(0, None))
    other = _stream_tensors(bench_cls(config).build(1, None))
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    assert not all(torch.equal(x, y) for x, y in zip(first, other))


@pytest.mark.parametrize("benchmark_seed", [0, 5])
def test_benchmark_seed_is_part_of_the_configuration(benchmark_seed):
    table = _run(0, benchmark_seed=benchmark_seed)
    assert int(table["benchmark_seed"].iloc[0]) == benchmark_seed
    base = _run(0, benchmark_seed=0)
    assert (table["config_id"].iloc[0] == base["config_id"].iloc[0]) == (benchmark_seed == 0)


def test_runner_does_not_mutate_the_instance():
    """Both seeds of one CLI call share one benchmark instance; training must not alter it."""
    bench_cls = benchmarks.get("split-patterns")
    config = bench_cls.Config(**TINY)
    instance = bench_cls(config).build(0, None)
    before = _stream_tensors(instance)
    strategy = _spy_class({})
    for seed in (0, 1):
        spec = RunSpec(benchmark="split-patterns", benchmark_config=config, strategy=strategy,
                       strategy_config=dataclasses.replace(strategy.Config()), model="mlp",
                       model_config=models.get("mlp").Config(), seed=seed, train_mb_size=4)
        assert execute(spec, instance, None).status == "ok"
    assert all(torch.equal(x, y) for x, y in zip(before, _stream_tensors(instance)))
