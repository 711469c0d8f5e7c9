"""naive: Fine-tuning with SGD, no protection against forgetting (lower bound).

A thin wrapper of Avalanche's ``Naive``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS


@register("naive")
class Naive(Strategy):
    description = "Fine-tuning with SGD, no protection against forgetting (lower bound)"
    references = ('Avalanche Naive',)
    scenarios = ALL_KINDS

    @dataclasses.dataclass
    class Config(SGDConfig):
        pass

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.Naive(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)))
