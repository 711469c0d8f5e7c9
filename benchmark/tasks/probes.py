"""Probes that score the model on fixed tensors after every evaluation (``BenchmarkInstance.probes``).

The accuracy matrix covers the test stream; some protocols also ask how
well the studied images themselves are remembered (OML's "seen" accuracy,
the item head of dual-mnist). :class:`TensorSetAccuracy` records that as one
tidy measure per experience.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from hippo_bench.tasks.base import Measure


class TensorSetAccuracy:
    """Mean ``score(output, y)`` on each experience's ``(x, y)``, recorded as ``metric`` per eval_exp."""

    def __init__(self, metric: str, sets: Sequence[tuple[Tensor, Tensor]],
                 score: Callable[[Tensor, Tensor], Tensor], task_labels: Sequence[int] | None = None,
                 batch_size: int = 1024):
        self.metric = metric
        self.sets = list(sets)
        self.score = score
        self.task_labels = list(task_labels) if task_labels is not None else [0] * len(self.sets)
        self.batch_size = batch_size

    def __call__(self, model: nn.Module, instance=None, *, final: bool = False) -> list[Measure]:
        from avalanche.models.utils import avalanche_forward

        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        was_training = model.training
        model.eval()
        out = []
        try:
            with torch.no_grad():
                for j, ((x, y), t) in enumerate(zip(self.sets, self.task_labels)):
                    correct = 0.0
                    for start in range(0, len(x), self.batch_size):
                        xb = x[start:start + self.batch_size].to(device)
                        tb = torch.full((len(xb),), t, dtype=torch.long, device=device)
                        correct += float(self.score(avalanche_forward(model, xb, tb),
                                                    y[start:start + self.batch_size].to(device)).sum())
                    out.append(Measure(self.metric, correct / max(len(x), 1), eval_exp=j))
        finally:
            model.train(was_training)
        return out
