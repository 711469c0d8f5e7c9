"""agem: Averaged GEM (single projected gradient).

A thin wrapper of Avalanche's ``AGEM``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS


@register("agem")
class AGEM(Strategy):
    description = "Averaged GEM (single projected gradient)"
    references = ('Chaudhry et al. 2019',)
    scenarios = ALL_KINDS

    @dataclasses.dataclass
    class Config(SGDConfig):
        patterns_per_exp: int = param(64, "memory per experience", min=1)
        sample_size: int = param(64, "reference gradient batch", min=1)

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.AGEM(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)), patterns_per_exp=c.patterns_per_exp, sample_size=c.sample_size)
