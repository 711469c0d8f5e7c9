"""Minibatches sliced from a dataset collated once.

Avalanche's loaders fetch and collate every sample through its dataset
wrappers (about 20 us a sample). That dominates when a run evaluates 20 test
sets after each of 20 experiences, and when an online learner takes five
samples per update. The data here are fixed tensors, so the runner collates
each test set once (after the template's eval adaptation) and the online
meta-learning template collates each experience once, then both slice.
"""

from __future__ import annotations

import torch
from torch.utils.data import default_collate


def collate_all(dataset) -> list[torch.Tensor]:
    """Every sample of ``dataset`` stacked: [x, y, task label, ...]."""
    return list(default_collate([dataset[i] for i in range(len(dataset))]))


class TensorBatches:
    """An iterable of minibatches [x, y, t, ...]; reshuffled on every pass when ``shuffle``.

    Shuffling draws from the global torch RNG, as a DataLoader's sampler does,
    so seeded runs stay reproducible.
    """

    def __init__(self, tensors: list[torch.Tensor], batch_size: int, shuffle: bool = False):
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.n = len(tensors[0])

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.n)
            for idx in order.split(self.batch_size):
                yield [t[idx] for t in self.tensors]
        else:
            for i in range(0, self.n, self.batch_size):
                yield [t[i:i + self.batch_size] for t in self.tensors]

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size


def cache_eval_batches(template) -> None:
    """Make ``template.eval`` reuse the collated test set of each experience."""
    cache: dict = {}

    def make_eval_dataloader(**kwargs):
        exp = template.experience
        key = (getattr(getattr(exp, "origin_stream", None), "name", ""), exp.current_experience)
        if key not in cache:
            cache[key] = collate_all(template.adapted_dataset)
        template.dataloader = TensorBatches(cache[key], template.eval_mb_size)

    template.make_eval_dataloader = make_eval_dataloader
