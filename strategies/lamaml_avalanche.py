"""lamaml-avalanche: Avalanche's La-MAML (``lamaml_v2``), for comparison with la-maml on the same stream.

A thin wrapper. Avalanche's version differs from the paper's code (and from
``la-maml``) in ways worth knowing when the two are compared: it splits each
minibatch into ``n_inner_updates`` chunks instead of stepping one sample at
a time, uses alpha (not relu(alpha)) in the inner loop, fills its replay
buffer only at the end of each experience (no replay during the first), has
no glances, and re-initialises the model with Kaiming normal. Its forward
call passes task labels (``model(x, t)``), so the model is wrapped in a
module that accepts and ignores them.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import Strategy, StrategyContext
from hippo_bench.strategies.la_maml import LAMAML_REF
from hippo_bench.tasks.base import CLASSIFICATION_KINDS


class IgnoresTaskLabels(nn.Module):
    """``forward(x, task_labels)`` for a model that takes only ``x`` (what ``lamaml_v2`` calls)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, task_labels: Tensor | None = None) -> Tensor:
        return self.net(x)


@register("lamaml-avalanche")
class LaMAMLAvalanche(Strategy):
    description = "Avalanche's La-MAML (lamaml_v2: chunked inner loop, buffer filled per experience); see la-maml"
    references = (LAMAML_REF, "Avalanche lamaml_v2")
    scenarios = CLASSIFICATION_KINDS
    default_batch_size = 10

    @dataclasses.dataclass
    class Config:
        n_inner_updates: int = param(5, "inner steps per minibatch (the minibatch is split in this many chunks)",
                                     min=1)
        second_order: bool = param(False, "differentiate through the inner gradients")
        grad_clip_norm: float = param(2.0, "gradient-norm clip (and inner-gradient clamp)", min=0.0)
        learn_lr: bool = param(True, "learn the per-parameter learning rates")
        lr_alpha: float = param(0.3, "SGD step on the learning rates", min=0.0)
        sync_update: bool = param(False, "update the weights by SGD at lr instead of with the learned rates")
        lr: float = param(0.1, "SGD learning rate of the weights in sync mode", min=0.0)
        alpha_init: float = param(0.15, "initial learning rate of every weight", min=0.0)
        buffer_size: int = param(200, "reservoir buffer size", min=1)
        replay_batch: int = param(10, "replayed samples per meta-batch", min=1)

    def build(self, ctx: StrategyContext):
        from avalanche.training.supervised.lamaml_v2 import LaMAML

        c = self.config
        model = IgnoresTaskLabels(ctx.model)
        kw = ctx.sgd_kwargs(torch.optim.SGD(model.parameters(), lr=c.lr))
        kw["model"] = model
        return LaMAML(**kw, n_inner_updates=c.n_inner_updates, second_order=c.second_order,
                      grad_clip_norm=c.grad_clip_norm, learn_lr=c.learn_lr, lr_alpha=c.lr_alpha,
                      sync_update=c.sync_update, alpha_init=c.alpha_init, max_buffer_size=c.buffer_size,
                      buffer_mb_size=c.replay_batch)
