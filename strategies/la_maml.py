"""la-maml: Look-ahead MAML, per-parameter learned learning rates (Gupta, Yadav & Paull 2020).

Algorithm 1 of the paper as the official code runs it on MNIST
(montrealrobotics/La-MAML ``model/lamaml.py``, ``run_experiments.sh``), on
the shared online loop of :mod:`hippo_bench.strategies.meta.template`:

- every parameter entry has its own learning rate alpha (``alpha_init``);
  the inner loop takes one sample at a time, ``fast -= relu(alpha) * grad``,
  first order unless ``second_order``;
- the meta-loss is the mean over inner steps of the fast weights' loss on
  the incoming batch plus ``replay_batch`` samples of a reservoir buffer;
- gradients are clipped (norm ``grad_clip``, weights and alphas separately),
  alpha takes an SGD step (``alpha_lr``, the code's ``--opt_lr``), then the
  weights are updated with the *new* relu(alpha) (asynchronous update);
- each incoming batch is revisited ``glances`` times, reshuffled.

Variants (the ``variant`` field): ``la-maml``; ``sync`` (Sync-La-MAML:
alphas still learned, weights updated by SGD at ``weight_lr``, the code's
``--opt_wt``); ``c-maml`` (alphas fixed at ``alpha_init``, weights updated
by SGD at ``weight_lr``).

Deviations from the official code, all small: replayed samples are drawn
without replacement (the code may repeat one); its inner-step gradient clamp
is a no-op there (the clamped tensor is discarded) and is not reproduced.
The code's ``--use_old_task_memory`` has no effect (its old-task buffer is
the same list object as the live one), so the replay buffer here is the
live reservoir, as there.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import Strategy, StrategyContext
from hippo_bench.strategies.meta.initialisation import InitScheme, init_weights
from hippo_bench.strategies.meta.step_sizes import ReluAlpha, StepSizes
from hippo_bench.strategies.meta.template import LoopConfig, OnlineMetaTemplate
from hippo_bench.tasks.base import CLASSIFICATION_KINDS, Measure

LAMAML_REF = "Gupta, Yadav & Paull 2020 (La-MAML; montrealrobotics/La-MAML)"


@dataclasses.dataclass
class LookaheadConfig:
    """The loop settings La-MAML and sparse-MAML share (defaults: La-MAML's rotated-MNIST script)."""

    weight_lr: float = param(0.1, "SGD learning rate of the weights in sync mode (the code's --opt_wt)", min=0.0)
    glances: int = param(5, "meta-updates per incoming batch (the code's --glances)", min=1, max=100)
    buffer_size: int = param(200, "reservoir replay buffer size (the code's --memories)", min=0)
    replay_batch: int = param(10, "replayed samples added to each meta-batch", min=0)
    grad_clip: float = param(2.0, "gradient-norm clip per parameter group (0: off)", min=0.0)
    second_order: bool = param(False, "differentiate through the inner gradients (the code's --second_order)")
    init: InitScheme = param("kaiming-normal", "weight initialisation (La-MAML's Learner: kaiming-normal)")


class LookaheadStrategy(Strategy):
    """Shared build for the strategies that run the loop with La-MAML's glances and replay on any model."""

    scenarios = CLASSIFICATION_KINDS
    default_batch_size = 10

    def step_sizes(self, ctx: StrategyContext, params: dict) -> tuple[StepSizes, float]:  # pragma: no cover
        """The inner step sizes and the SGD step of their meta-parameters."""
        raise NotImplementedError

    def weight_update(self) -> str:  # pragma: no cover
        """"async" (weights step with the new learned rates) or "sync" (SGD at weight_lr)."""
        raise NotImplementedError

    def build(self, ctx: StrategyContext) -> OnlineMetaTemplate:
        c = self.config
        init_weights(ctx.model, c.init)
        params = {n: p for n, p in ctx.model.named_parameters() if p.requires_grad}
        steps, step_lr = self.step_sizes(ctx, params)
        loop = LoopConfig(
            replay_size=c.buffer_size, replay_batch=c.replay_batch, seed=ctx.seed, path="materialised",
            second_order=c.second_order, grad_clip=c.grad_clip, step_lr=step_lr,
            weight_update=self.weight_update(), sync_lr=c.weight_lr, glances=c.glances, reshuffle=True)
        return OnlineMetaTemplate(
            model=ctx.model, criterion=ctx.criterion, steps=steps, loop=loop,
            train_mb_size=ctx.train_mb_size, train_epochs=ctx.epochs, eval_mb_size=ctx.eval_mb_size,
            device=ctx.device, plugins=ctx.plugins, evaluator=ctx.evaluator)


@register("la-maml")
class LaMAML(LookaheadStrategy):
    description = "La-MAML: learned per-parameter learning rates, look-ahead meta-loss over replay (or Sync/C-MAML)"
    references = (LAMAML_REF,)

    @dataclasses.dataclass
    class Config(LookaheadConfig):
        variant: Literal["la-maml", "sync", "c-maml"] = param(
            "la-maml", "la-maml (learned rates, async update), sync (learned rates, SGD update), "
            "c-maml (fixed rates, SGD update)")
        alpha_init: float = param(0.15, "initial learning rate alpha of every weight", min=0.0)
        alpha_lr: float = param(0.3, "SGD step on the alphas (the code's --opt_lr)", min=0.0)

    def weight_update(self) -> str:
        return "async" if self.config.variant == "la-maml" else "sync"

    def step_sizes(self, ctx, params):
        c = self.config
        learned = c.variant != "c-maml"
        steps = ReluAlpha(params, c.alpha_init, per_parameter=True, learned=learned)
        return steps, c.alpha_lr if learned else 0.0

    def measures(self, template, ctx) -> list[Measure]:
        """Mean relu(alpha) per parameter tensor after every experience."""
        return [Measure("learned_lr", v, entity=name) for name, v in template.steps.values().items()]
