"""cls-pairs: temporal pair structure (Schapiro, Kustner & Turk-Browne 2012; Schapiro et al. 2017, sim. 1).

Items come in pairs (A B, C D, ...). The first member of a pair is always
followed by its mate (with probability ``p_within``; otherwise by the first
member of another pair), and the second member by the first member of one of
the other pairs, uniformly: half of all transitions stay within a pair. The
C-HORSE training files of the lab's Emergent replication
(github.com/schapirolab/hip-sl, Train_pairs.dat) follow the same rule.

Continual schedule (default): every experience studies ``items_per_exp``
new items (4 new pairs) in one sequence of ``trials_per_exp`` trials, the
transitions staying among that experience's pairs, and is tested on them.
Interleaved schedule: one set of ``items_per_exp`` items studied in every
experience (one continuous sequence cut into blocks, all items tested each
time): C-HORSE's learning-curve protocol, not a forgetting benchmark.

Measures: similarity of pair-mates vs non-pairs per layer (non-pairs: items
of different pairs studied in the same experience), production of the
partner (A -> B, B -> A) against the same-role items of the experience's
other pairs, pooled and per experience, and the C-HORSE comparison table at
the end of a run.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from hippo_bench.analysis.production import Relation
from hippo_bench.params import param
from hippo_bench.tasks import register
from hippo_bench.tasks.cls_common import ClsParadigm, ItemSet, SequenceConfig, Trials, invalid, sequence_blocks


def pair_sequence(n_pairs: int, length: int, rng: np.random.Generator, p_within: float = 1.0) -> list[int]:
    """A pair-structured sequence of local items; item 2k is pair k's first member, 2k + 1 its second."""
    def other_first(pair: int) -> int:
        others = [k for k in range(n_pairs) if k != pair]
        return 2 * others[rng.integers(len(others))]

    seq = [2 * int(rng.integers(n_pairs))]
    while len(seq) < length:
        cur = seq[-1]
        pair = cur // 2
        if cur % 2 == 0 and rng.random() < p_within:
            seq.append(cur + 1)
        else:
            seq.append(other_first(pair))
    return seq


def pair_set(first: int, n_items: int) -> ItemSet:
    """Items ``first .. first + n_items - 1`` in pairs (first + 2k, first + 2k + 1)."""
    items = list(range(first, first + n_items))
    firsts, seconds = items[0::2], items[1::2]
    return ItemSet(
        items=items,
        contrasts={"pair": [(a, a + 1) for a in firsts],
                   "nonpair": [(i, j) for i, j in itertools.combinations(items, 2)
                               if (i - first) // 2 != (j - first) // 2]},
        relations={
            "ab": [Relation(a, (a + 1,), tuple(b for b in seconds if b != a + 1)) for a in firsts],
            "ba": [Relation(b, (b - 1,), tuple(a for a in firsts if a != b - 1)) for b in seconds],
        },
    )


@register("cls-pairs")
class ClsPairs(ClsParadigm):
    description = ("C-HORSE pair structure: new pairs every experience, half the transitions within a pair "
                   "(no data needed)")
    acc_meaning = ("item recall on each experience's own items: a trial counts as correct when the shown item's own "
                   "output unit is the most active (autoassociative; chance is 1 / number of units); pair and "
                   "non-pair similarity are separate rows, not part of ACC")
    references = ("Schapiro, Kustner & Turk-Browne 2012", "Schapiro et al. 2017 (C-HORSE), simulation 1")
    headline = ("ab", "pair", "nonpair")

    @dataclasses.dataclass
    class Config(SequenceConfig):
        items_per_exp: int = param(8, "items per item set, in pairs (even; continual: new items every experience)",
                                   min=4, max=10000)
        p_within: float = param(1.0, "probability that a pair's first member is followed by its mate", min=0.0, max=1.0)
        trials_per_exp: int = param(400, "trials per experience", min=2, max=1000000)

        def __post_init__(self):
            if self.items_per_exp % 2:
                raise invalid("cls-pairs", f"--bench-items-per-exp must be even (items come in pairs), "
                                           f"got {self.items_per_exp}")

    def set_size(self) -> int:
        return self.config.items_per_exp

    def item_set(self, first: int) -> ItemSet:
        return pair_set(first, self.config.items_per_exp)

    def study(self, item_set: ItemSet, n_blocks: int, rng: np.random.Generator) -> list[Trials]:
        c = self.config
        first = item_set.items[0]
        seq = pair_sequence(len(item_set.items) // 2, n_blocks * c.trials_per_exp, rng, c.p_within)
        return sequence_blocks([first + i for i in seq], n_blocks)

    def protocol(self) -> str:
        c = self.config
        return (f"{self.schedule_text()}; {c.items_per_exp // 2} pairs per item set, {c.trials_per_exp} trials per "
                f"experience; p(mate follows first member) {c.p_within}; previous item at {c.previous_strength}")

    def report(self, tables) -> list:
        from hippo_bench.analysis.chorse_reference import chorse_comparison_table

        finals = super().report(tables)
        return [*finals, chorse_comparison_table(tables)] if finals else []
