"""Production: how strongly the output layer reproduces an associated item when a cue is shown alone.

Schapiro et al. (2017) read the partner of a pair (or C of an A-B-C triad)
off the output layer when one item is presented by itself, against foils
that play the same role for other cues. A relation names one cue, the
items it should evoke (targets) and the items it should not (foils).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

from torch import Tensor


@dataclasses.dataclass(frozen=True)
class Relation:
    """Cue item -> target items, judged against foil items (all item indices)."""

    cue: int
    targets: tuple[int, ...]
    foils: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class ProductionScore:
    """Mean output activity of targets and of foils, and the two-alternative choice rate.

    ``choice`` is the fraction of (target, foil) comparisons the target wins
    (ties count one half): 0.5 is chance, 1.0 always the target.
    """

    target: float
    foil: float
    choice: float


def production(activity: Tensor, relations: Sequence[Relation], unit_of: Sequence[int]) -> ProductionScore:
    """Score relations on output activity; row ``cue`` of ``activity`` is the output to that cue alone."""
    if not relations:
        return ProductionScore(math.nan, math.nan, math.nan)
    targets, foils, choices = [], [], []
    for rel in relations:
        row = activity[rel.cue]
        t = [float(row[unit_of[i]]) for i in rel.targets]
        f = [float(row[unit_of[i]]) for i in rel.foils]
        targets.append(sum(t) / len(t))
        foils.append(sum(f) / len(f) if f else math.nan)
        if f:
            wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in t for b in f)
            choices.append(wins / (len(t) * len(f)))
    mean = lambda xs: sum(xs) / len(xs) if xs else math.nan  # noqa: E731
    return ProductionScore(mean(targets), mean(foils), mean(choices))
