"""cls-inference: associative inference over A-B-C triads (Zeithamova & Preston 2010; Schapiro et al. 2017, sim. 3).

Each triad has items A, B, C. The AB pairs are studied in one experience and
the BC pairs in the next, so the B items link the two experiences and A and
C never appear together. A study trial shows both items of a pair, one at
1.0 and the other at ``previous_strength`` (which one is drawn per trial),
in the format of the sequence paradigms without their between-pair
transitions. Test: each item alone; the inference measure is the output
activity of C when its triad's A is shown (against the C items of other
triads), and the hidden-layer similarity of A and C (against other triads' C).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hippo_bench.analysis.item_layout import ItemLayout
from hippo_bench.analysis.production import Relation
from hippo_bench.params import param
from hippo_bench.tasks import register
from hippo_bench.tasks.cls_common import ClsConfig, ClsParadigm, Episode, encode_trials, item_test_sets

ROLES = {"a": 0, "b": 1, "c": 2}


def triad_item(triad: int, role: str) -> int:
    """Item index of role "a", "b" or "c" of a triad."""
    return 3 * triad + ROLES[role]


def pair_trials(pairs: list[tuple[int, int]], reps: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Each pair ``reps`` times in random order; per trial a random member is the current item."""
    trials = [p for p in pairs for _ in range(reps)]
    order = rng.permutation(len(trials))
    current, previous = [], []
    for k in order.tolist():
        first, second = trials[k] if rng.random() < 0.5 else trials[k][::-1]
        previous.append(first)
        current.append(second)
    return current, previous


def inference_layout(n_triads: int, unit_of: list[int]) -> ItemLayout:
    triads = range(n_triads)

    def relation(cue: str, target: str) -> list[Relation]:
        return [Relation(triad_item(t, cue), (triad_item(t, target),),
                         tuple(triad_item(u, target) for u in triads if u != t)) for t in triads]

    return ItemLayout(
        unit_of=unit_of,
        test_items=[[triad_item(t, r) for t in triads for r in "ab"], [triad_item(t, r) for t in triads for r in "bc"]],
        contrasts={"ac": [(triad_item(t, "a"), triad_item(t, "c")) for t in triads],
                   "ac_foil": [(triad_item(t, "a"), triad_item(u, "c")) for t in triads for u in triads if u != t]},
        relations={"ab": relation("a", "b"), "ba": relation("b", "a"), "bc": relation("b", "c"),
                   "cb": relation("c", "b"), "ac": relation("a", "c")},
    )


@register("cls-inference")
class ClsInference(ClsParadigm):
    description = "Associative inference: AB pairs in one experience, BC in the next; A tested for C (no data needed)"
    references = ("Zeithamova & Preston 2010", "Schapiro et al. 2017 (C-HORSE), simulation 3")
    headline = ("ac", "ac", "ac_foil")

    @dataclasses.dataclass
    class Config(ClsConfig):
        n_triads: int = param(6, "A-B-C triads (3 items each)", min=2, max=10000)
        reps: int = param(40, "presentations of each pair within its experience", min=1, max=100000)

    def protocol(self) -> str:
        c = self.config
        return (f"{c.n_triads} A-B-C triads; AB pairs then BC pairs, {c.reps} presentations each; "
                f"second item at {c.previous_strength}; test A alone for C")

    def episode(self, rng: np.random.Generator) -> Episode:
        c = self.config
        unit_of = rng.permutation(3 * c.n_triads).tolist()
        layout = inference_layout(c.n_triads, unit_of)
        train = []
        for first, second in (("a", "b"), ("b", "c")):
            pairs = [(triad_item(t, first), triad_item(t, second)) for t in range(c.n_triads)]
            current, previous = pair_trials(pairs, c.reps, rng)
            train.append(encode_trials(current, previous, unit_of, c.previous_strength))
        return Episode(train=train, test=item_test_sets(layout), layout=layout)
