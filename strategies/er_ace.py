"""er-ace: Experience replay with asymmetric cross-entropy.

A thin wrapper of Avalanche's ``ER_ACE``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd


@register("er-ace")
class ERACE(Strategy):
    description = "Experience replay with asymmetric cross-entropy"
    references = ('Caccia et al. 2022',)

    @dataclasses.dataclass
    class Config(SGDConfig):
        mem_size: int = param(200, "replay buffer size", min=1)
        batch_size_mem: int = param(10, "replayed samples per step", min=1)

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.ER_ACE(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)), mem_size=c.mem_size, batch_size_mem=c.batch_size_mem)
