"""joint: the non-continual reference, training on the data of every experience seen so far.

Two schedules (``--schedule``):

- ``cumulative`` (default): after each experience, train on the union of
  all experiences seen so far (Avalanche's ``Cumulative`` template). The
  runner evaluates after every experience as for any strategy, so the full
  accuracy matrix exists and forgetting, BWT, LA and FWT are defined: the
  upper bound a continual learner is compared with on each of them.
- ``offline``: train once on the whole stream (Avalanche's
  ``JointTraining``), evaluated only after it; the accuracy matrix has its
  last row only, so only ACC is defined (``trains_jointly``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import avalanche.training as av

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS

CUMULATIVE, OFFLINE = "cumulative", "offline"


@register("joint")
class Joint(Strategy):
    description = ("Trains on the union of all experiences seen so far (cumulative) or once on the whole stream "
                   "(offline)")
    references = ("Avalanche Cumulative", "Avalanche JointTraining")
    scenarios = ALL_KINDS

    @dataclasses.dataclass
    class Config(SGDConfig):
        schedule: Literal["cumulative", "offline"] = param(
            CUMULATIVE, "cumulative: after each experience, train on all experiences so far (full accuracy matrix); "
                        "offline: train once on the whole stream (final accuracy only)")

    @property
    def trains_jointly(self) -> bool:  # read by the runner on the instance
        return self.config.schedule == OFFLINE

    def build(self, ctx: StrategyContext):
        c = self.config
        template = av.JointTraining if c.schedule == OFFLINE else av.Cumulative
        return template(**ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum)))
