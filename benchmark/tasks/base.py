"""The benchmark contract: a registered builder and the instance it returns."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import torch
from torch import Tensor, nn

from hippo_bench.registry import Component

# Scenario kinds a benchmark can be and a strategy can support.
CLASS_INCREMENTAL = "class-incremental"
DOMAIN_INCREMENTAL = "domain-incremental"
TASK_INCREMENTAL = "task-incremental"
AUTOASSOCIATIVE = "autoassociative"
CLASSIFICATION_KINDS = frozenset({CLASS_INCREMENTAL, DOMAIN_INCREMENTAL, TASK_INCREMENTAL})
ALL_KINDS = CLASSIFICATION_KINDS | {AUTOASSOCIATIVE}


def argmax_correct(output: Tensor, target: Tensor) -> Tensor:
    """Per-sample 1.0/0.0: the largest logit is the target class."""
    return (output.argmax(dim=1) == target).float()


@dataclasses.dataclass
class Measure:
    """One extra tidy measurement a benchmark or strategy produces after an evaluation."""

    metric: str
    value: float
    eval_exp: int = -1
    entity: str = ""
    group: str = ""
    lesion: str = ""
    item_a: int = -1  # the two items of an item-by-item measure (pattern correlations), -1 otherwise
    item_b: int = -1


@dataclasses.dataclass
class BenchmarkInstance:
    """What ``Benchmark.build`` returns; the runner needs nothing else.

    ``scenario`` is an Avalanche benchmark with ``train_stream`` and
    ``test_stream``. ``score(output, target)`` gives per-sample 0/1 for the
    accuracy matrix (item recall on autoassociative tasks). ``probes`` are
    called as ``probe(model, instance, final=...) -> list[Measure]`` after
    every evaluation, for measures beyond accuracy; ``final`` is true after
    the last experience (a resumed or jointly trained run included). ``meta_train`` is a disjoint
    split for strategies that meta-train before the stream (OML).
    """

    scenario: Any
    n_outputs: int
    input_shape: tuple[int, ...]
    kind: str
    protocol: str
    criterion_factory: Callable[[], nn.Module] = nn.CrossEntropyLoss
    score: Callable[[Tensor, Tensor], Tensor] = argmax_correct
    default_batch_size: int = 10
    default_model: str = "mlp"
    meta_train: Any = None
    probes: Sequence[Callable[[nn.Module, "BenchmarkInstance"], list[Measure]]] = ()
    heads: dict[str, int] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    _test_tensors: list | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def test_tensors(self) -> list[list[Tensor]]:
        """Each test experience's samples as stacked tensors [x, y, task label, ...], in its evaluation view.

        Collated once per instance (a sweep worker reuses an instance across
        runs): every evaluation of every run then slices the same tensors.
        """
        if self._test_tensors is None:
            from hippo_bench.tensor_batches import collate_all

            self._test_tensors = [collate_all(exp.dataset.eval()) for exp in self.test_stream]
        return self._test_tensors

    @property
    def train_stream(self):
        return self.scenario.train_stream

    @property
    def test_stream(self):
        return self.scenario.test_stream

    @property
    def n_experiences(self) -> int:
        return len(self.scenario.train_stream)

    def criterion(self) -> nn.Module:
        return self.criterion_factory()


class Benchmark(Component):
    """A registered benchmark: a ``Config`` of protocol parameters and ``build``."""

    kind: ClassVar[str] = CLASS_INCREMENTAL
    # What ACC measures here, for captions: a CLS recall score and an MNIST accuracy are not the same number.
    acc_meaning: ClassVar[str] = ""
    needs_data: ClassVar[bool] = False
    # A suite names member benchmarks that `run` goes through in turn (built with their defaults).
    members: ClassVar[tuple[str, ...]] = ()

    def build(self, seed: int, data_root: Path | None) -> BenchmarkInstance:  # pragma: no cover
        raise NotImplementedError

    def suite_report(self, tables_by_member: dict[str, list]) -> list:
        """A suite's side-by-side renderables after all members ran (default: none)."""
        return []


def tensor_stream_benchmark(train: Sequence[tuple[Tensor, Tensor]], test: Sequence[tuple[Tensor, Tensor]],
                            task_labels: Sequence[int] | None = None):
    """An Avalanche benchmark with one experience per (x, y) pair of tensors.

    Every sample carries a task label (0 unless ``task_labels`` says
    otherwise), so strategies that read task labels (MER, La-MAML) work on
    class-incremental streams too.
    """
    from avalanche.benchmarks import dataset_benchmark
    from avalanche.benchmarks.utils.classification_dataset import (
        _make_taskaware_tensor_classification_dataset as make_dataset,
    )

    if len(train) != len(test):
        raise ValueError("train and test need the same number of experiences")
    task_labels = list(task_labels) if task_labels is not None else [0] * len(train)

    def wrap(x: Tensor, y: Tensor, t: int):
        return make_dataset(x, y.long(), task_labels=int(t), targets=y.long().tolist())

    train_sets = [wrap(x, y, t) for (x, y), t in zip(train, task_labels)]
    test_sets = [wrap(x, y, t) for (x, y), t in zip(test, task_labels)]
    state = torch.random.get_rng_state()
    try:
        return dataset_benchmark(train_sets, test_sets)
    finally:
        torch.random.set_rng_state(state)
