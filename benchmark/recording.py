"""The runner-owned Avalanche plugin: accuracy per test experience and progress ticks."""

from __future__ import annotations

from typing import Callable

import torch
from avalanche.core import BasePlugin


class Recorder(BasePlugin):
    """Accumulates ``score(output, target)`` per evaluated experience.

    It only listens to callbacks every Avalanche template fires (experience
    and iteration boundaries), so it works with the meta-learning template
    too, which fires no forward/backward callbacks.
    """

    def __init__(self, score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 on_train_samples: Callable[[int], None] | None = None):
        super().__init__()
        self.score = score
        self.on_train_samples = on_train_samples
        self.accuracy: dict[int, float] = {}
        self._correct = 0.0
        self._count = 0

    def reset(self) -> None:
        self.accuracy = {}

    def before_eval_exp(self, strategy, **kwargs):
        self._correct, self._count = 0.0, 0

    def after_eval_iteration(self, strategy, **kwargs):
        with torch.no_grad():
            s = self.score(strategy.mb_output, strategy.mb_y)
        self._correct += float(s.sum())
        self._count += int(s.numel())

    def after_eval_exp(self, strategy, **kwargs):
        exp_id = strategy.experience.current_experience
        self.accuracy[exp_id] = self._correct / max(self._count, 1)

    def after_training_iteration(self, strategy, **kwargs):
        if self.on_train_samples is not None:
            self.on_train_samples(len(strategy.mb_y))
