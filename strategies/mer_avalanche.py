"""mer-avalanche: Avalanche's MER (Reptile over reservoir replay); see also mer.

A thin wrapper of Avalanche's ``MER``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS


@register("mer-avalanche")
class MERAvalanche(Strategy):
    description = "Avalanche's MER (Reptile over reservoir replay); see also mer"
    references = ('Riemer et al. 2019', 'Avalanche MER')
    scenarios = ALL_KINDS

    @dataclasses.dataclass
    class Config(SGDConfig):
        mem_size: int = param(200, "replay buffer size", min=1)
        batch_size_mem: int = param(10, "replayed samples per step", min=1)
        n_inner_steps: int = param(5, "inner Reptile steps", min=1)
        beta: float = param(0.1, "within-batch Reptile rate", min=0.0, max=1.0)
        gamma: float = param(0.1, "across-batch Reptile rate", min=0.0, max=1.0)

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.MER(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)), mem_size=c.mem_size, batch_size_mem=c.batch_size_mem, n_inner_steps=c.n_inner_steps, beta=c.beta, gamma=c.gamma)
