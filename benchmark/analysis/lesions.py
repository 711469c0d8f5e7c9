"""Lesion sweeps: every measure intact and with each of a model's pathways removed.

Models implementing ``LayeredModel`` name their removable pathways in
``lesions`` (for the C-HORSE network "msp", ECin -> CA1, and "tsp",
CA3 -> CA1) and remove one inside ``with model.lesion(name):``. Other models
are only measured intact.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn

from hippo_bench.models.base import LayeredModel

INTACT = ""


def lesion_conditions(model: nn.Module) -> list[str]:
    """The intact condition ("") followed by each lesion the model offers."""
    names = tuple(getattr(model, "lesions", ())) if isinstance(model, LayeredModel) else ()
    return [INTACT, *names]


@contextlib.contextmanager
def lesioned(model: nn.Module, name: str) -> Iterator[None]:
    """Run the block with pathway ``name`` removed ("" leaves the model intact)."""
    if name == INTACT:
        yield
        return
    with model.lesion(name):
        yield
