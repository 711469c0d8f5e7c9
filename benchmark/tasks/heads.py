"""Several classification heads on one output vector, with one integer target for all of them.

A benchmark with heads (for example dual-mnist's ``{"category": 10, "item": N}``)
declares them in ``BenchmarkInstance.heads``; the model's output is the
concatenation of the heads' logits in that order, and the target encodes
every head's label in mixed radix, first head fastest:
``y = category + 10 * item``. Avalanche then carries one integer target per
sample, and this module's criterion and scores decode it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class HeadCodec:
    """Encodes per-head labels into one target and splits outputs and targets per head."""

    def __init__(self, heads: dict[str, int]):
        if not heads or any(int(n) < 1 for n in heads.values()):
            raise ValueError(f"heads need at least one head of size >= 1, got {heads}")
        self.heads = {name: int(n) for name, n in heads.items()}
        sizes = list(self.heads.values())
        self.radix = {name: math.prod(sizes[:i]) for i, name in enumerate(self.heads)}
        self.offset = {name: sum(sizes[:i]) for i, name in enumerate(self.heads)}

    @property
    def n_outputs(self) -> int:
        return sum(self.heads.values())

    def encode(self, **labels: Tensor) -> Tensor:
        if set(labels) != set(self.heads):
            raise ValueError(f"labels for heads {sorted(self.heads)} expected, got {sorted(labels)}")
        y = torch.zeros_like(torch.as_tensor(next(iter(labels.values()))), dtype=torch.long)
        for name, size in self.heads.items():
            label = torch.as_tensor(labels[name]).long()
            if (label < 0).any() or (label >= size).any():
                raise ValueError(f"{name} labels must lie in [0, {size})")
            y = y + label * self.radix[name]
        return y

    def decode(self, y: Tensor) -> dict[str, Tensor]:
        return {name: torch.div(y, self.radix[name], rounding_mode="floor") % size
                for name, size in self.heads.items()}

    def logits(self, output: Tensor, name: str) -> Tensor:
        start = self.offset[name]
        return output[:, start:start + self.heads[name]]


class MultiHeadCrossEntropy(nn.Module):
    """Sum over heads of the cross-entropy of each head's logits with its decoded label."""

    def __init__(self, heads: dict[str, int]):
        super().__init__()
        self.codec = HeadCodec(heads)

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        labels = self.codec.decode(target)
        return sum(F.cross_entropy(self.codec.logits(output, name), labels[name]) for name in self.codec.heads)


class HeadScore:
    """Per-sample 1.0/0.0: the head's largest logit is that head's label (a ``BenchmarkInstance.score``)."""

    def __init__(self, heads: dict[str, int], head: str):
        self.codec = HeadCodec(heads)
        if head not in self.codec.heads:
            raise ValueError(f"unknown head {head!r}; heads: {sorted(self.codec.heads)}")
        self.head = head

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        label = self.codec.decode(target)[self.head]
        return (self.codec.logits(output, self.head).argmax(dim=1) == label).float()
