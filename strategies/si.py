"""si: Synaptic intelligence (path-integral importance).

A thin wrapper of Avalanche's ``SynapticIntelligence``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS


@register("si")
class SI(Strategy):
    description = "Synaptic intelligence (path-integral importance)"
    references = ('Zenke et al. 2017',)
    scenarios = ALL_KINDS

    @dataclasses.dataclass
    class Config(SGDConfig):
        si_lambda: float = param(1.0, "penalty strength", min=0.0)
        eps: float = param(1e-7, "damping", min=0.0)

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.SynapticIntelligence(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)), si_lambda=c.si_lambda, eps=c.eps)
