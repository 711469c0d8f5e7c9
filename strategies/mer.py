"""mer: Meta-Experience Replay, Algorithm 1 of Riemer et al. 2019 (Reptile over reservoir replay).

For every incoming sample (x, y), as mattriemer/MER ``model/meralg1.py`` runs it:

1. remember the weights: ``W_a``;
2. ``steps`` times (the code's ``--batches_per_example``): remember
   ``W_b``; build a batch of the current sample followed by ``replay_batch``
   samples drawn uniformly (with replacement) from the reservoir; take one
   plain SGD step (``lr``) per sample of the batch, one at a time; then
   Reptile within the batch: ``W = W_b + beta (W - W_b)``;
3. Reptile across batches: ``W = W_a + gamma (W - W_a)``;
4. offer the sample to the reservoir (size ``buffer_size``).

The minibatch size only decides how many samples arrive together; each is
processed as above in turn, so results do not depend on it. Unlike
Avalanche's ``MER`` (registered as ``mer-avalanche``), which takes one
Reptile batch per minibatch and fills its buffer only at the end of each
experience, replay here starts with the second sample of the stream. With
one sample per minibatch, no buffer and one experience the two coincide
exactly (a test checks this).

The network is initialised as GEM's ``common.py`` (Xavier uniform, zero
biases) that MER reuses (``init``).
"""

from __future__ import annotations

import dataclasses
import random

import torch
from avalanche.models.utils import avalanche_forward
from torch import Tensor, nn

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import Strategy, StrategyContext
from hippo_bench.strategies.meta.gradients import loss_and_grad
from hippo_bench.strategies.meta.initialisation import InitScheme, init_weights
from hippo_bench.strategies.meta.replay import ReservoirBuffer
from hippo_bench.strategies.meta.template import LoopConfig, OnlineTemplate
from hippo_bench.tasks.base import ALL_KINDS


class SequentialSGD:
    """One SGD step in closed form for ``nn.Sequential`` of Flatten, Linear and ReLU layers.

    MER's inner loop is a long chain of single-sample SGD steps on a small
    MLP; for that network autograd's bookkeeping costs several times the
    arithmetic, so the gradient is written out (backpropagation through
    linear and rectified layers; the loss gradient from
    :func:`~hippo_bench.strategies.meta.gradients.loss_and_grad`). :meth:`of` returns None for any other network, which
    then takes the autograd path; a test checks the two agree.
    """

    def __init__(self, layers: list[nn.Module], criterion):
        self.layers, self.criterion = layers, criterion

    @classmethod
    def of(cls, model: nn.Module, criterion) -> "SequentialSGD | None":
        if not isinstance(model, nn.Sequential):
            return None
        layers = list(model)
        for layer in layers:
            if isinstance(layer, nn.Flatten) and (layer.start_dim, layer.end_dim) != (1, -1):
                return None
            if not isinstance(layer, (nn.Flatten, nn.Linear, nn.ReLU)):
                return None
        if not any(isinstance(layer, nn.Linear) for layer in layers) or \
                not all(p.requires_grad for p in model.parameters()):
            return None
        return cls(layers, criterion)

    def step(self, x: Tensor, y: Tensor, lr: float) -> Tensor:
        """Update the weights in place by ``-lr * grad`` of the loss on (x, y); return the loss."""
        with torch.no_grad():
            h = x
            tape = []  # (layer, its input) in forward order
            for layer in self.layers:
                tape.append((layer, h))
                if isinstance(layer, nn.Flatten):
                    h = h.flatten(1)
                elif isinstance(layer, nn.Linear):
                    h = torch.nn.functional.linear(h, layer.weight, layer.bias)
                else:
                    h = h.clamp_min(0.0)
            loss, d = loss_and_grad(self.criterion, y, h)
            for layer, inp in reversed(tape):
                if isinstance(layer, nn.Linear):
                    d_in = d @ layer.weight  # with the weights before this step
                    layer.weight.sub_(lr * (d.t() @ inp))
                    if layer.bias is not None:
                        layer.bias.sub_(lr * d.sum(0))
                    d = d_in
                elif isinstance(layer, nn.ReLU):
                    d = d * (inp > 0)
            return loss


def reptile_(params: list[Tensor], start: list[Tensor], rate: float) -> None:
    """In place: every ``p = start + rate (p - start)`` (Reptile's interpolation towards the new weights)."""
    with torch.no_grad():
        for p, s in zip(params, start):
            p.copy_(torch.lerp(s, p, rate))


class MERTemplate(OnlineTemplate):
    """Avalanche meta-learning template running MER Algorithm 1, one sample at a time.

    Of the shared :class:`~hippo_bench.strategies.meta.template.LoopConfig`
    only the replay fields apply (MER's loop is its own: Reptile, no
    meta-gradient); any other setting is refused.
    """

    def __init__(self, *, model: nn.Module, criterion, lr: float, beta: float, gamma: float, steps: int,
                 loop: LoopConfig, **base):
        if loop != LoopConfig(replay_size=loop.replay_size, replay_batch=loop.replay_batch, seed=loop.seed):
            raise ValueError("MER's template takes only the replay fields of a LoopConfig")
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        super().__init__(model=model, optimizer=optimizer, criterion=criterion, **base)
        self.lr, self.beta, self.gamma, self.steps = lr, beta, gamma, steps
        self.replay = ReservoirBuffer(loop.replay_size, loop.seed)
        self.replay_batch = loop.replay_batch
        self._draw = random.Random(loop.seed + 1)
        self._fast = SequentialSGD.of(model, self._criterion)

    def _replayed(self) -> tuple[Tensor, Tensor, Tensor] | None:
        """``replay_batch`` uniform draws with replacement from the reservoir (as MER's getBatch)."""
        buf = self.replay
        if buf.size == 0 or self.replay_batch == 0:
            return None
        idx = torch.tensor([self._draw.randrange(buf.size) for _ in range(self.replay_batch)])
        return buf.x[idx], buf.y[idx], buf.t[idx]

    def _sgd_step(self, params: list[Tensor], x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        if self._fast is not None:
            return self._fast.step(x, y, self.lr)
        loss = self._criterion(avalanche_forward(self.model, x, t), y)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(self.lr * g)
        return loss.detach()

    def _inner_updates(self, **kwargs):
        params = [p for p in self.model.parameters() if p.requires_grad]
        x, y, t = self.mb_x, self.mb_y, self.mb_task_id
        total = 0.0
        for i in range(x.shape[0]):
            xi, yi, ti = x[i:i + 1], y[i:i + 1], t[i:i + 1]
            before_all = [p.detach().clone() for p in params]
            for _ in range(self.steps):
                before = [p.detach().clone() for p in params]
                total = total + self._sgd_step(params, xi, yi, ti)
                replay = self._replayed()
                if replay is not None:
                    rx, ry, rt = replay
                    for j in range(rx.shape[0]):
                        self._sgd_step(params, rx[j:j + 1], ry[j:j + 1], rt[j:j + 1])
                reptile_(params, before, self.beta)
            reptile_(params, before_all, self.gamma)
            self.replay.push(xi, yi, ti)
        self.loss = total / max(1, x.shape[0] * self.steps)

    def _outer_update(self, **kwargs):
        """Nothing left to do: both Reptile updates happen per sample in ``_inner_updates``."""


@register("mer")
class MER(Strategy):
    description = "MER Algorithm 1: Reptile within and across batches of one sample plus reservoir replay"
    references = ("Riemer et al. 2019 (MER; mattriemer/MER)",)
    scenarios = ALL_KINDS
    default_batch_size = 10

    @dataclasses.dataclass
    class Config:
        lr: float = param(0.1, "SGD learning rate of every inner step (the code's --lr)", min=0.0)
        beta: float = param(0.01, "within-batch Reptile rate", min=0.0, max=1.0)
        gamma: float = param(1.0, "across-batch Reptile rate (1: no across-batch interpolation)", min=0.0, max=1.0)
        steps: int = param(5, "Reptile batches per incoming sample (the code's --batches_per_example)", min=1)
        buffer_size: int = param(200, "reservoir replay buffer size (the code's --memories)", min=0)
        replay_batch: int = param(10, "replayed samples per batch (the code's --replay_batch_size)", min=0)
        init: InitScheme = param("xavier-uniform", "weight initialisation (GEM/MER: xavier-uniform)")

    def build(self, ctx: StrategyContext) -> MERTemplate:
        c = self.config
        init_weights(ctx.model, c.init)
        return MERTemplate(model=ctx.model, criterion=ctx.criterion, lr=c.lr, beta=c.beta, gamma=c.gamma,
                           steps=c.steps, loop=LoopConfig(replay_size=c.buffer_size, replay_batch=c.replay_batch,
                                                          seed=ctx.seed),
                           train_mb_size=ctx.train_mb_size, train_epochs=ctx.epochs,
                           eval_mb_size=ctx.eval_mb_size, device=ctx.device, plugins=ctx.plugins,
                           evaluator=ctx.evaluator)
