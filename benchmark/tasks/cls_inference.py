"""cls-inference: associative inference over A-B-C triads (Zeithamova & Preston 2010; Schapiro et al. 2017, sim. 3).

Each triad has items A, B, C; its AB and BC pairs are studied and A and C
never appear together. A study trial shows both items of a pair, one at 1.0
and the other at ``previous_strength`` (which one is drawn per trial), in
the format of the sequence paradigms without their between-pair
transitions.

Continual schedule (default): every experience studies ``triads_per_exp``
new triads, first all their AB pairs (``reps`` presentations each, in random
order), then all their BC pairs, and is tested on its triads' items.
Interleaved schedule: one set of triads, every experience presenting each
AB and each BC pair ``reps`` times mixed in random order, all items tested
each time: a learning curve, not a forgetting benchmark.

Test: each item alone. The inference measure is the output activity of C
when its triad's A is shown (against the C items of the experience's other
triads), and the hidden-layer similarity of A and C (against the
experience's other triads' C), pooled and per experience.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hippo_bench.analysis.production import Relation
from hippo_bench.params import param
from hippo_bench.tasks import register
from hippo_bench.tasks.cls_common import CONTINUAL, ClsConfig, ClsParadigm, ItemSet, Trials

ROLES = {"a": 0, "b": 1, "c": 2}


def triad_item(triad: int, role: str) -> int:
    """Item index of role "a", "b" or "c" of a triad (triads are numbered over the whole stream)."""
    return 3 * triad + ROLES[role]


def pair_trials(pairs: list[tuple[int, int]], reps: int, rng: np.random.Generator) -> Trials:
    """Each pair ``reps`` times in random order; per trial a random member is the current item."""
    trials = [p for p in pairs for _ in range(reps)]
    order = rng.permutation(len(trials))
    current, previous = [], []
    for k in order.tolist():
        first, second = trials[k] if rng.random() < 0.5 else trials[k][::-1]
        previous.append(first)
        current.append(second)
    return current, previous


def triad_set(triads: list[int]) -> ItemSet:
    """The triads' items, the A-C contrasts and the pair and inference relations within the set."""

    def relation(cue: str, target: str) -> list[Relation]:
        return [Relation(triad_item(t, cue), (triad_item(t, target),),
                         tuple(triad_item(u, target) for u in triads if u != t)) for t in triads]

    return ItemSet(
        items=[triad_item(t, r) for t in triads for r in "abc"],
        contrasts={"ac": [(triad_item(t, "a"), triad_item(t, "c")) for t in triads],
                   "ac_foil": [(triad_item(t, "a"), triad_item(u, "c")) for t in triads for u in triads if u != t]},
        relations={"ab": relation("a", "b"), "ba": relation("b", "a"), "bc": relation("b", "c"),
                   "cb": relation("c", "b"), "ac": relation("a", "c")},
        structure=triads,
    )


@register("cls-inference")
class ClsInference(ClsParadigm):
    description = ("Associative inference: new A-B-C triads every experience, AB pairs then BC pairs; "
                   "A tested for C (no data needed)")
    acc_meaning = ("item recall on each experience's own items: a trial counts as correct when the shown item's own "
                   "output unit is the most active (autoassociative; chance is 1 / number of units); A->C inference "
                   "is a separate row, not part of ACC")
    references = ("Zeithamova & Preston 2010", "Schapiro et al. 2017 (C-HORSE), simulation 3")
    headline = ("ac", "ac", "ac_foil")

    @dataclasses.dataclass
    class Config(ClsConfig):
        triads_per_exp: int = param(4, "A-B-C triads (3 items each) per item set", min=2, max=10000)
        reps: int = param(30, "presentations of each pair per experience", min=1, max=100000)

    def set_size(self) -> int:
        return 3 * self.config.triads_per_exp

    def item_set(self, first: int) -> ItemSet:
        t0 = first // 3
        return triad_set(list(range(t0, t0 + self.config.triads_per_exp)))

    def study(self, item_set: ItemSet, n_blocks: int, rng: np.random.Generator) -> list[Trials]:
        c = self.config
        ab = [(triad_item(t, "a"), triad_item(t, "b")) for t in item_set.structure]
        bc = [(triad_item(t, "b"), triad_item(t, "c")) for t in item_set.structure]
        blocks = []
        for _ in range(n_blocks):
            if c.schedule == CONTINUAL:  # AB first, then BC
                (ab_cur, ab_prev), (bc_cur, bc_prev) = pair_trials(ab, c.reps, rng), pair_trials(bc, c.reps, rng)
                blocks.append((ab_cur + bc_cur, ab_prev + bc_prev))
            else:
                blocks.append(pair_trials(ab + bc, c.reps, rng))
        return blocks

    def protocol(self) -> str:
        c = self.config
        order = "AB pairs then BC pairs" if c.schedule == CONTINUAL else "AB and BC pairs mixed"
        return (f"{self.schedule_text()}; {c.triads_per_exp} A-B-C triads per item set; {order}, {c.reps} "
                f"presentations each per experience; second item at {c.previous_strength}; test A alone for C")
