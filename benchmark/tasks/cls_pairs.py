"""cls-pairs: temporal pair structure (Schapiro, Kustner & Turk-Browne 2012; Schapiro et al. 2017, sim. 1).

Items come in pairs (A B, C D, ...). The first member of a pair is always
followed by its mate (with probability ``p_within``; otherwise by the first
member of another pair), and the second member by the first member of one of
the other pairs, uniformly: half of all transitions stay within a pair. The
C-HORSE training files of the lab's Emergent replication
(github.com/schapirolab/hip-sl, Train_pairs.dat) follow the same rule.
Measures: similarity of pair-mates vs non-pairs per layer, production of the
partner (A -> B, B -> A) against the same-role items of other pairs, and
the C-HORSE comparison table at the end of a run.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from hippo_bench.analysis.item_layout import ItemLayout
from hippo_bench.analysis.production import Relation
from hippo_bench.params import param
from hippo_bench.tasks import register
from hippo_bench.tasks.cls_common import ClsParadigm, Episode, SequenceConfig, invalid, sequence_episode


def pair_sequence(n_pairs: int, length: int, rng: np.random.Generator, p_within: float = 1.0) -> list[int]:
    """A pair-structured item sequence; item 2k is pair k's first member, 2k + 1 its second."""
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


def pairs_layout(n_items: int, unit_of: list[int], n_blocks: int) -> ItemLayout:
    n_pairs = n_items // 2
    firsts = [2 * k for k in range(n_pairs)]
    seconds = [2 * k + 1 for k in range(n_pairs)]
    nonpairs = [(i, j) for i, j in itertools.combinations(range(n_items), 2) if i // 2 != j // 2]
    return ItemLayout(
        unit_of=unit_of,
        test_items=[list(range(n_items)) for _ in range(n_blocks)],
        contrasts={"pair": [(a, a + 1) for a in firsts], "nonpair": nonpairs},
        relations={
            "ab": [Relation(a, (a + 1,), tuple(b for b in seconds if b != a + 1)) for a in firsts],
            "ba": [Relation(b, (b - 1,), tuple(a for a in firsts if a != b - 1)) for b in seconds],
        },
    )


@register("cls-pairs")
class ClsPairs(ClsParadigm):
    description = "C-HORSE pair structure: items in pairs, half the transitions within a pair (no data needed)"
    references = ("Schapiro, Kustner & Turk-Browne 2012", "Schapiro et al. 2017 (C-HORSE), simulation 1")
    headline = ("ab", "pair", "nonpair")

    @dataclasses.dataclass
    class Config(SequenceConfig):
        n_items: int = param(8, "items, in pairs (even)", min=4, max=10000)
        p_within: float = param(1.0, "probability that a pair's first member is followed by its mate", min=0.0, max=1.0)

        def __post_init__(self):
            if self.n_items % 2:
                raise invalid("cls-pairs", f"--bench-n-items must be even (items come in pairs), got {self.n_items}")

    def protocol(self) -> str:
        c = self.config
        return (f"{c.n_items // 2} pairs; {c.n_blocks} experiences of {c.trials_per_block} trials; "
                f"p(mate follows first member) {c.p_within}; previous item at {c.previous_strength}")

    def episode(self, rng: np.random.Generator) -> Episode:
        c = self.config
        unit_of = rng.permutation(c.n_items).tolist()
        seq = pair_sequence(c.n_items // 2, c.n_blocks * c.trials_per_block, rng, c.p_within)
        return sequence_episode(seq, pairs_layout(c.n_items, unit_of, c.n_blocks), c.previous_strength)

    def report(self, tables) -> list:
        from hippo_bench.analysis.chorse_reference import chorse_comparison_table

        finals = super().report(tables)
        return [*finals, chorse_comparison_table(tables)] if finals else []
