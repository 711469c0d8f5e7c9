"""replay: Experience replay from a class-balanced-by-experience buffer.

A thin wrapper of Avalanche's ``Replay``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS


@register("replay")
class Replay(Strategy):
    description = "Experience replay from a class-balanced-by-experience buffer"
    references = ('Chaudhry et al. 2019 (tiny episodic memories)',)
    scenarios = ALL_KINDS

    @dataclasses.dataclass
    class Config(SGDConfig):
        mem_size: int = param(200, "replay buffer size", min=1)

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.Replay(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)), mem_size=c.mem_size)
