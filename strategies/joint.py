"""joint: Trains once on the union of all experiences (offline upper bound).

A thin wrapper of Avalanche's ``JointTraining``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS


@register("joint")
class Joint(Strategy):
    description = "Trains once on the union of all experiences (offline upper bound)"
    references = ('Avalanche JointTraining',)
    scenarios = ALL_KINDS
    trains_jointly = True

    @dataclasses.dataclass
    class Config(SGDConfig):
        pass

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.JointTraining(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)))
