"""lwf: Learning without forgetting (distillation on previous model's logits).

A thin wrapper of Avalanche's ``LwF``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd


@register("lwf")
class LwF(Strategy):
    description = "Learning without forgetting (distillation on previous model's logits)"
    references = ('Li & Hoiem 2017',)

    @dataclasses.dataclass
    class Config(SGDConfig):
        alpha: float = param(1.0, "distillation weight", min=0.0)
        temperature: float = param(2.0, "softmax temperature", min=1e-6)

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.LwF(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)), alpha=c.alpha, temperature=c.temperature)
