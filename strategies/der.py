"""der: Dark experience replay++ (logit and label replay).

A thin wrapper of Avalanche's ``DER``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd


@register("der")
class DER(Strategy):
    description = "Dark experience replay++ (logit and label replay)"
    references = ('Buzzega et al. 2020',)

    @dataclasses.dataclass
    class Config(SGDConfig):
        mem_size: int = param(200, "replay buffer size", min=1)
        batch_size_mem: int = param(10, "replayed samples per step", min=1)
        alpha: float = param(0.1, "logit-matching weight", min=0.0)
        beta: float = param(0.5, "label-replay weight", min=0.0)

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.DER(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)), mem_size=c.mem_size, batch_size_mem=c.batch_size_mem, alpha=c.alpha, beta=c.beta)
