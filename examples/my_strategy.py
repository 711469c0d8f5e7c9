"""A new strategy in one file: fine-tuning with an L2 penalty, registered as ``l2-naive``.

Importing the module registers it. Dropped into ``strategies/`` it is a
built-in; in a package of its own it comes in through the entry-point group
``hippo_bench.strategies``; here it is imported by ``strategy_on_a_board.py``.
"""

from __future__ import annotations

import dataclasses

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import Strategy, sgd


@register("l2-naive")
class L2Naive(Strategy):
    description = "Fine-tuning with weight decay (example)"
    references = ("Krogh & Hertz 1991",)

    @dataclasses.dataclass
    class Config:
        lr: float = param(0.05, "SGD learning rate", min=0.0)
        weight_decay: float = param(1e-3, "L2 penalty", min=0.0)

    def build(self, ctx):
        c = self.config
        return av.Naive(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, weight_decay=c.weight_decay)))
