"""Shared machinery of the synthetic CLS paradigms (Schapiro et al. 2017, C-HORSE).

Each paradigm is a stream of trials over a few items with one input unit
per item (a fresh item-to-unit permutation per instance). A trial shows
the current item at 1.0 and the previous one at ``previous_strength``
(0.9); the network must reproduce that pattern on its output layer, as
C-HORSE's ECout reproduces ECin. Avalanche datasets need integer targets,
so a trial's target is packed into one integer (current unit and previous
unit, see :func:`pack_targets`) that the benchmark's own loss and score
unpack. Experiences are consecutive blocks of trials; test experience j
shows each item studied in block j alone.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from typing import ClassVar, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hippo_bench.analysis.cls_probe import ItemProbe
from hippo_bench.analysis.item_layout import ItemLayout
from hippo_bench.errors import UserError
from hippo_bench.params import param
from hippo_bench.tasks.base import AUTOASSOCIATIVE, Benchmark, BenchmarkInstance, tensor_stream_benchmark

NO_ITEM = -1


# ------------------------------------------------------------- targets
def pack_targets(current_units: Tensor, previous_units: Tensor, n_units: int) -> Tensor:
    """One integer per trial: ``current * (n_units + 1) + previous + 1`` (previous -1 = none)."""
    return current_units.long() * (n_units + 1) + previous_units.long() + 1


def unpack_targets(y: Tensor, n_units: int) -> tuple[Tensor, Tensor]:
    """(current unit, previous unit or -1) of packed targets."""
    return torch.div(y, n_units + 1, rounding_mode="floor"), y % (n_units + 1) - 1


def trial_patterns(y: Tensor, n_units: int, previous_strength: float) -> Tensor:
    """The input (= target) pattern of packed trials: current 1.0, previous ``previous_strength``."""
    current, previous = unpack_targets(y, n_units)
    rows = torch.arange(len(y), device=y.device)
    x = torch.zeros(len(y), n_units, device=y.device)
    has_previous = previous >= 0
    x[rows[has_previous], previous[has_previous]] = previous_strength
    x[rows, current] = 1.0
    return x


class AutoassociativeBCE(nn.Module):
    """Binary cross-entropy of the output logits against the trial's own input pattern.

    Summed over output units (each unit is its own binary target, as each
    ECout unit is in C-HORSE, so the pull on an item's unit does not shrink
    as items are added) and averaged over trials.
    """

    def __init__(self, n_units: int, previous_strength: float):
        super().__init__()
        self.n_units = n_units
        self.previous_strength = previous_strength

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        target = trial_patterns(y, self.n_units, self.previous_strength).to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(dim=1).mean()


def item_recall(output: Tensor, y: Tensor, n_units: int) -> Tensor:
    """Per trial 1.0 when the shown (current) item's own output unit is the most active."""
    current, _ = unpack_targets(y, n_units)
    return (output.argmax(dim=1) == current.to(output.device)).float()


# -------------------------------------------------------------- streams
@dataclasses.dataclass
class Episode:
    """One instance's tensors: training blocks and test blocks as (x, y) pairs, and its layout."""

    train: list[tuple[Tensor, Tensor]]
    test: list[tuple[Tensor, Tensor]]
    layout: ItemLayout


def encode_trials(current: Sequence[int], previous: Sequence[int], unit_of: Sequence[int],
                  previous_strength: float) -> tuple[Tensor, Tensor]:
    """(x, y) of trials given as current and previous items (``NO_ITEM`` for none)."""
    units = torch.tensor(list(unit_of) + [NO_ITEM])  # index NO_ITEM (-1) maps to -1
    cur = units[torch.tensor(list(current))]
    prev = units[torch.tensor(list(previous))]
    y = pack_targets(cur, prev, len(unit_of))
    return trial_patterns(y, len(unit_of), previous_strength), y


def sequence_blocks(sequence: Sequence[int], n_blocks: int, unit_of: Sequence[int],
                    previous_strength: float) -> list[tuple[Tensor, Tensor]]:
    """Cut one continuous item sequence into equal blocks; each trial's previous item is its predecessor."""
    previous = [NO_ITEM, *sequence[:-1]]
    per_block = len(sequence) // n_blocks
    blocks = []
    for b in range(n_blocks):
        sl = slice(b * per_block, (b + 1) * per_block)
        blocks.append(encode_trials(sequence[sl], previous[sl], unit_of, previous_strength))
    return blocks


def item_test_sets(layout: ItemLayout) -> list[tuple[Tensor, Tensor]]:
    """The test set of every experience: each of its items alone at 1.0, no previous item."""
    return [encode_trials(items, [NO_ITEM] * len(items), layout.unit_of, 1.0) for items in layout.test_items]


def sequence_episode(sequence: Sequence[int], layout: ItemLayout, previous_strength: float) -> Episode:
    """The episode of one continuous item sequence cut into a block per test experience."""
    train = sequence_blocks(sequence, len(layout.test_items), layout.unit_of, previous_strength)
    return Episode(train=train, test=item_test_sets(layout), layout=layout)


def episode_rng(name: str, seed: int, episode: int) -> np.random.Generator:
    """The generator of one episode: streams of different paradigms, seeds and episodes are independent."""
    return np.random.default_rng([zlib.crc32(name.encode()), int(seed), int(episode)])


# ----------------------------------------------------------- benchmark
@dataclasses.dataclass
class ClsConfig:
    """Fields every CLS paradigm has."""

    previous_strength: float = param(0.9, "input (and target) strength of the previous item; the current one is 1.0",
                                     min=0.0, max=1.0)
    meta_train_episodes: int = param(8, "further fresh instances in the meta-training split", min=0, max=10000)


@dataclasses.dataclass
class SequenceConfig(ClsConfig):
    """Fields of the paradigms whose trials follow one continuous item sequence."""

    n_blocks: int = param(4, "experiences (consecutive blocks of the trial sequence)", min=1, max=10000)
    trials_per_block: int = param(100, "trials per experience", min=2, max=1000000)


class ClsParadigm(Benchmark):
    """A CLS paradigm: subclasses generate one :class:`Episode` from a generator."""

    kind = AUTOASSOCIATIVE
    batch_size: ClassVar[int] = 5
    # (relation, related contrast, unrelated contrast) shown for the paradigm in the suite table
    headline: ClassVar[tuple[str, str, str]] = ("", "", "")

    def episode(self, rng: np.random.Generator) -> Episode:  # pragma: no cover - abstract
        raise NotImplementedError

    def protocol(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def report(self, tables) -> list:
        """Tables printed at the end of a run (none when no run completed)."""
        from hippo_bench.analysis.cls_report import ok_rows, paradigm_table

        if ok_rows(tables).empty:
            return []
        return [paradigm_table(tables, title=f"{self.name}: final measures")]

    def build(self, seed: int, data_root=None) -> BenchmarkInstance:
        from hippo_bench.models import models

        main = self.episode(episode_rng(self.name, seed, 0))
        meta = [self.episode(episode_rng(self.name, seed, k)) for k in range(1, self.config.meta_train_episodes + 1)]
        n_units = main.layout.n_items
        return BenchmarkInstance(
            scenario=tensor_stream_benchmark(main.train, main.test),
            n_outputs=n_units,
            input_shape=(n_units,),
            kind=AUTOASSOCIATIVE,
            protocol=self.protocol(),
            criterion_factory=functools.partial(AutoassociativeBCE, n_units, self.config.previous_strength),
            score=functools.partial(item_recall, n_units=n_units),
            default_batch_size=self.batch_size,
            default_model="chorse" if "chorse" in models.names() else "mlp",
            meta_train=meta,
            probes=(ItemProbe(main.layout),),
            extra={"layout": main.layout, "report": self.report},
        )


def invalid(benchmark: str, message: str) -> UserError:
    """The one-line error for parameters that cannot form the paradigm."""
    return UserError(f"{benchmark}: {message}")
