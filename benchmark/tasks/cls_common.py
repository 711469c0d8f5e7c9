"""Shared machinery of the synthetic CLS paradigms (Schapiro et al. 2017, C-HORSE).

Each paradigm studies trials over items with one input unit per item (a
fresh item-to-unit permutation per instance, over all items of the whole
stream). A trial shows the current item at 1.0 and the previous one at
``previous_strength`` (0.9); the network must reproduce that pattern on its
output layer, as C-HORSE's ECout reproduces ECin. Avalanche datasets need
integer targets, so a trial's target is packed into one integer (current
unit and previous unit, see :func:`pack_targets`) that the benchmark's own
loss and score unpack.

Two schedules (the ``schedule`` parameter):

- ``continual`` (default): every experience studies a new :class:`ItemSet`
  (new pairs, a new community graph, new triads) and test experience j shows
  experience j's items alone, so R[i, j] for j < i is the retention of
  earlier items and forgetting, BWT and FWT mean what they mean elsewhere.
- ``interleaved``: one item set studied in every block (C-HORSE's
  learning-curve protocol, the suite's design before issue 9); every test
  experience shows all items, so every column of R is the same learning
  curve. It is NOT a forgetting benchmark.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from typing import ClassVar, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hippo_bench.analysis.cls_probe import ItemProbe
from hippo_bench.analysis.item_layout import ItemLayout
from hippo_bench.analysis.production import Relation
from hippo_bench.errors import UserError
from hippo_bench.params import param
from hippo_bench.tasks.base import AUTOASSOCIATIVE, Benchmark, BenchmarkInstance, tensor_stream_benchmark

NO_ITEM = -1
CONTINUAL, INTERLEAVED = "continual", "interleaved"


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

    ``balanced``: the units that should be off on a trial (every unit but the
    current and previous items') share a weight so that their total pull
    equals that of the units that should be on. A continual stream has one
    unit per item of the whole stream, most of them off on every trial;
    unweighted, their pull dominates and learning stalls (measured on the
    chorse network, one 3 x 5 community graph, SGD 0.05: item recall stays at
    1/15 over 1200 trials with 45 further output units, and reaches 0.87
    without them or with this weighting). A trial with no unit off keeps
    plain BCE.
    """

    def __init__(self, n_units: int, previous_strength: float, balanced: bool = False):
        super().__init__()
        self.n_units = n_units
        self.previous_strength = previous_strength
        self.balanced = balanced

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        target = trial_patterns(y, self.n_units, self.previous_strength).to(logits.dtype)
        per_unit = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        if self.balanced:
            on = (target > 0).to(logits.dtype)
            n_on, n_off = on.sum(dim=1, keepdim=True), (1 - on).sum(dim=1, keepdim=True)
            per_unit = per_unit * (on + (1 - on) * n_on / n_off.clamp(min=1))
        return per_unit.sum(dim=1).mean()


def item_recall(output: Tensor, y: Tensor, n_units: int) -> Tensor:
    """Per trial 1.0 when the shown (current) item's own output unit is the most active."""
    current, _ = unpack_targets(y, n_units)
    return (output.argmax(dim=1) == current.to(output.device)).float()


# -------------------------------------------------------------- streams
Trials = tuple[list[int], list[int]]  # current items, previous items (NO_ITEM for none), one entry per trial


@dataclasses.dataclass
class ItemSet:
    """Items studied together and the comparisons made on them.

    In the continual schedule each experience has its own set; item indices
    are global (the stream's items are numbered set after set). Contrasts
    and relations only pair items of the same set (a non-pair, a foil, is
    another item of the same experience). ``structure`` is whatever the
    paradigm needs to generate the set's trials (a graph, the pairs).
    """

    items: list[int]
    contrasts: dict[str, list[tuple[int, int]]]
    relations: dict[str, list[Relation]]
    structure: object = None


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
    cur = units[torch.tensor(list(current), dtype=torch.long)]
    prev = units[torch.tensor(list(previous), dtype=torch.long)]
    y = pack_targets(cur, prev, len(unit_of))
    return trial_patterns(y, len(unit_of), previous_strength), y


def sequence_blocks(sequence: Sequence[int], n_blocks: int) -> list[Trials]:
    """Cut one continuous item sequence into equal blocks; each trial's previous item is its predecessor."""
    previous = [NO_ITEM, *sequence[:-1]]
    per_block = len(sequence) // n_blocks
    return [(list(sequence[b * per_block:(b + 1) * per_block]), previous[b * per_block:(b + 1) * per_block])
            for b in range(n_blocks)]


def item_test_sets(layout: ItemLayout) -> list[tuple[Tensor, Tensor]]:
    """The test set of every experience: each of its items alone at 1.0, no previous item."""
    return [encode_trials(items, [NO_ITEM] * len(items), layout.unit_of, 1.0) for items in layout.test_items]


def merged(sets: Sequence[ItemSet], field: str) -> dict:
    """The contrasts (or relations) of several sets, name by name, in set order."""
    out: dict[str, list] = {}
    for s in sets:
        for name, entries in getattr(s, field).items():
            out.setdefault(name, []).extend(entries)
    return out


def episode_rng(name: str, seed: int, episode: int) -> np.random.Generator:
    """The generator of one episode: streams of different paradigms, seeds and episodes are independent."""
    return np.random.default_rng([zlib.crc32(name.encode()), int(seed), int(episode)])


# ----------------------------------------------------------- benchmark
@dataclasses.dataclass
class ClsConfig:
    """Fields every CLS paradigm has."""

    schedule: Literal["continual", "interleaved"] = param(
        CONTINUAL, "continual: each experience studies new items and is tested on them (a forgetting benchmark); "
                   "interleaved: one item set studied in every experience, all items tested every time (C-HORSE's "
                   "learning curve; every column of R is the same, not a forgetting benchmark)")
    n_experiences: int = param(4, "experiences (continual: item sets; interleaved: blocks)", min=1, max=10000)
    balanced_loss: bool = param(True, "weight the output units that should be off so that their total pull per "
                                      "trial equals that of the units that should be on (without it, the units "
                                      "of the many items not shown dominate and learning stalls)")
    previous_strength: float = param(0.9, "input (and target) strength of the previous item; the current one is 1.0",
                                     min=0.0, max=1.0)
    meta_train_episodes: int = param(8, "further fresh instances in the meta-training split", min=0, max=10000)


@dataclasses.dataclass
class SequenceConfig(ClsConfig):
    """Fields of the paradigms whose trials follow one continuous item sequence per item set."""

    trials_per_exp: int = param(100, "trials per experience", min=2, max=1000000)


class ClsParadigm(Benchmark):
    """A CLS paradigm: subclasses say how large an item set is, build one, and generate its study trials."""

    kind = AUTOASSOCIATIVE
    batch_size: ClassVar[int] = 5
    # (relation, related contrast, unrelated contrast) shown for the paradigm in the suite table
    headline: ClassVar[tuple[str, str, str]] = ("", "", "")

    def set_size(self) -> int:  # pragma: no cover - abstract
        """Items in one item set."""
        raise NotImplementedError

    def item_set(self, first: int) -> ItemSet:  # pragma: no cover - abstract
        """The item set whose items are ``first``, ``first + 1``, ... (``set_size`` of them)."""
        raise NotImplementedError

    def study(self, item_set: ItemSet, n_blocks: int, rng: np.random.Generator) -> list[Trials]:  # pragma: no cover
        """``n_blocks`` consecutive blocks of study trials on one set (one block per continual experience)."""
        raise NotImplementedError

    def protocol(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def schedule_text(self) -> str:
        """The schedule as the protocol line states it."""
        c = self.config
        if c.schedule == CONTINUAL:
            return f"continual: {c.n_experiences} experiences, each with new items, tested on its own items"
        return (f"interleaved: one item set in all {c.n_experiences} experiences, all items tested every time "
                f"(a learning curve, not a forgetting benchmark)")

    def episode(self, rng: np.random.Generator) -> Episode:
        """One instance: the item-to-unit permutation, the study blocks and the test sets."""
        c = self.config
        continual = c.schedule == CONTINUAL
        n_sets = c.n_experiences if continual else 1
        size = self.set_size()
        unit_of = rng.permutation(n_sets * size).tolist()
        sets = [self.item_set(k * size) for k in range(n_sets)]
        if continual:
            blocks = [self.study(s, 1, rng)[0] for s in sets]
            test_items = [list(s.items) for s in sets]
        else:
            blocks = self.study(sets[0], c.n_experiences, rng)
            test_items = [list(sets[0].items) for _ in range(c.n_experiences)]
        layout = ItemLayout(unit_of=unit_of, test_items=test_items, contrasts=merged(sets, "contrasts"),
                            relations=merged(sets, "relations"), per_experience=continual)
        train = [encode_trials(cur, prev, unit_of, c.previous_strength) for cur, prev in blocks]
        return Episode(train=train, test=item_test_sets(layout), layout=layout)

    def report(self, tables) -> list:
        """Tables printed at the end of a run (none when no run completed)."""
        from hippo_bench.analysis.cls_report import ok_rows, paradigm_table, retention_table

        if ok_rows(tables).empty:
            return []
        out = [paradigm_table(tables, title=f"{self.name}: final measures")]
        if self.config.schedule == CONTINUAL:
            out.append(retention_table(tables, self.headline, title=f"{self.name}: retention per experience"))
        return out

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
            criterion_factory=functools.partial(AutoassociativeBCE, n_units, self.config.previous_strength,
                                                self.config.balanced_loss),
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
