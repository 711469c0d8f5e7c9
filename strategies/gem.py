"""gem: Gradient episodic memory (QP projection, quadprog).

A thin wrapper of Avalanche's ``GEM``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS


@register("gem")
class GEM(Strategy):
    description = "Gradient episodic memory (QP projection, quadprog)"
    references = ('Lopez-Paz & Ranzato 2017',)
    scenarios = ALL_KINDS

    @dataclasses.dataclass
    class Config(SGDConfig):
        patterns_per_exp: int = param(64, "memory per experience", min=1)
        memory_strength: float = param(0.5, "QP margin", min=0.0)

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.GEM(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)), patterns_per_exp=c.patterns_per_exp, memory_strength=c.memory_strength)
