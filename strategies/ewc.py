"""ewc: Elastic weight consolidation (separate Fisher per experience).

A thin wrapper of Avalanche's ``EWC``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS


@register("ewc")
class EWC(Strategy):
    description = "Elastic weight consolidation (separate Fisher per experience)"
    references = ('Kirkpatrick et al. 2017',)
    scenarios = ALL_KINDS

    @dataclasses.dataclass
    class Config(SGDConfig):
        ewc_lambda: float = param(10.0, "penalty strength", min=0.0)
        mode: Literal["separate", "online"] = param("separate", "Fisher accumulation")
        decay_factor: float = param(0.9, "online-mode decay", min=0.0, max=1.0)

    def build(self, ctx: StrategyContext):
        c = self.config
        return av.EWC(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)), ewc_lambda=c.ewc_lambda, mode=c.mode, decay_factor=c.decay_factor if c.mode == "online" else None)
