"""The reservoir replay buffer of the La-MAML family and MER."""

from __future__ import annotations

import random

import torch
from torch import Tensor


class ReservoirBuffer:
    """Reservoir sampling over every sample seen (Vitter's algorithm R), as in La-MAML/MER."""

    def __init__(self, capacity: int, seed: int = 0):
        self.capacity = capacity
        self.rng = random.Random(seed)
        self.seen = 0
        self.x: Tensor | None = None
        self.y: Tensor | None = None
        self.t: Tensor | None = None
        self.size = 0

    def push(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        """Offer a batch of samples, one at a time, to the reservoir."""
        if self.capacity == 0:
            return
        if self.x is None:
            self.x = x.new_empty((self.capacity, *x.shape[1:]))
            self.y = y.new_empty((self.capacity, *y.shape[1:]))
            self.t = t.new_empty((self.capacity,))
        slots: dict[int, int] = {}  # buffer slot -> sample index (a later sample wins a shared slot)
        for i in range(x.shape[0]):
            if self.size < self.capacity:
                slots[self.size] = i
                self.size += 1
            else:
                slot = self.rng.randint(0, self.seen)  # inclusive: keeps with prob capacity/(seen+1)
                if slot < self.capacity:
                    slots[slot] = i
            self.seen += 1
        if slots:
            where = torch.tensor(list(slots.keys()))
            which = torch.tensor(list(slots.values()))
            self.x[where], self.y[where], self.t[where] = x[which], y[which], t[which]

    def sample(self, n: int) -> tuple[Tensor, Tensor, Tensor] | None:
        if self.size == 0 or n <= 0:
            return None
        idx = torch.tensor(self.rng.sample(range(self.size), min(n, self.size)))
        return self.x[idx], self.y[idx], self.t[idx]
