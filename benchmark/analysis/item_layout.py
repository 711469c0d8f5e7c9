"""What the CLS probes need to know about a paradigm's items."""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from hippo_bench.analysis.production import Relation


@dataclasses.dataclass
class ItemLayout:
    """Items, their input units and the comparisons a paradigm is judged on.

    ``unit_of[i]`` is item i's input (and output) unit, a per-instance
    permutation. ``test_items[j]`` are the items tested alone after each
    experience as test experience j. ``contrasts`` name lists of item pairs
    whose hidden patterns are compared (for example "pair" and "nonpair");
    ``relations`` name the cue -> target associations read off the output.
    ``per_experience``: the test experiences hold different items (a
    continual stream), so every measure is also taken over each test
    experience's items alone (for retention of the structure, not only of
    the items).
    """

    unit_of: list[int]
    test_items: list[list[int]]
    contrasts: dict[str, list[tuple[int, int]]]
    relations: dict[str, list[Relation]]
    per_experience: bool = False

    @property
    def n_items(self) -> int:
        return len(self.unit_of)

    def single_item_inputs(self) -> Tensor:
        """One row per item: that item's unit at 1.0, everything else 0 (the test probe)."""
        x = torch.zeros(self.n_items, self.n_items)
        x[torch.arange(self.n_items), torch.tensor(self.unit_of)] = 1.0
        return x
