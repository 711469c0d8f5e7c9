"""meta-hippo-frozen-readout: meta-hippo whose readout is not meta-learned (the poster's "last-layer lr" question).

Is the fast last projection of meta-hippo a consequence of the output loss?
This strategy takes the readout (every projection into an output layer) out
of the meta-learned-lr loop and asks whether the hidden projections' learned
rates still rise with depth. ``readout``:

- ``frozen``: the readout keeps its initial weights for the whole stream;
- ``separate``: the readout is a separate learner, trained by plain SGD at a
  fixed rate ``readout_lr`` after every meta-update, on the same meta-batch
  (incoming batch + replay), with the slow weights of the hidden layers just
  updated (their activity detached: the readout's SGD step reaches no other
  weight).

Everything else is meta-hippo (``condition``, m, the hidden projections'
relu(alpha), the loop), extended through meta-hippo's build hooks
(docs/DESIGN.md, "The meta-learning loop"): the readout's rate is a fixed
rate of 0 (``fixed_rates``: alpha = 0 and never meta-learned). relu(0) = 0
makes the readout's inner step zero (its fast weight is its slow weight)
and its asynchronous update ``W -= relu(alpha) dmeta/dW`` zero. Its
meta-gradient is still computed and, as in meta-hippo, still counts in the
joint norm clip of the weight gradients (2.0): only the readout's learning
is changed. The separate learner is one of the loop's ``after_update``
hooks (``loop_config``): it is called with the meta-batch after every
meta-update.

Recorded as meta-hippo, except that the readout has no learned rate: its
``learned_lr``/``alpha_raw``/``relative_step`` rows are replaced by
``readout_lr`` (0 when frozen, ``readout_lr`` when separate) and, when
separate, ``relative_step`` of its own last SGD step.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor

from hippo_bench.errors import UserError
from hippo_bench.models.hippo_net import HippoNet
from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import StrategyContext
from hippo_bench.strategies.meta_hippo import MetaHippo
from hippo_bench.strategies.meta.template import LoopConfig, OnlineMetaTemplate
from hippo_bench.tasks.base import Measure

READOUT_METRICS = ("learned_lr", "alpha_raw", "relative_step")


def readout_projections(model: HippoNet) -> list[tuple[str, str, str]]:
    """(parameter name, projection name, group) of every projection into an output layer."""
    outputs = {layer.name for layer in model.spec.layers if layer.output}
    return [(f"weights.{p.key}", p.name, p.group) for p in model.spec.projections if p.dst in outputs]


class SeparateReadout:
    """Plain SGD at a fixed rate on the readout weights, once per meta-update, on the template's meta-batch."""

    def __init__(self, model: HippoNet, criterion, lr: float):
        self.model, self.criterion, self.lr = model, criterion, lr
        self.keys = [name.removeprefix("weights.") for name, _, _ in readout_projections(model)]
        self.last_relative_step: dict[str, float] = {}

    def step(self, x: Tensor, y: Tensor) -> None:
        """One SGD step on the readout's cross-entropy; the hidden layers are constants here."""
        with torch.enable_grad():
            weights = {k: (w.detach().requires_grad_() if k in self.keys else w.detach())
                       for k, w in self.model.weights.items()}
            out = self.model.run(x, weights=weights)[0]
            grads = torch.autograd.grad(self.criterion(out, y), [weights[k] for k in self.keys])
        with torch.no_grad():
            for k, g in zip(self.keys, grads):
                w = self.model.weights[k]
                norm = float(w.norm())
                self.last_relative_step[k] = float((self.lr * g).norm()) / norm if norm > 0 else float("nan")
                w.sub_(self.lr * g)

    def after_update(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        """The loop's hook: (x, y, t) is the batch + replay of the meta-update that just ran."""
        self.step(x, y)


@register("meta-hippo-frozen-readout")
class MetaHippoFrozenReadout(MetaHippo):
    description = ("meta-hippo with the readout out of the meta-learned-lr loop: frozen at init, or trained by "
                   "plain SGD at a fixed rate (the poster's last-layer-lr question)")
    references = MetaHippo.references

    @dataclasses.dataclass
    class Config(MetaHippo.Config):
        readout: Literal["frozen", "separate"] = param(
            "frozen", "the readout's weights: fixed at init, or trained by a separate plain-SGD learner")
        readout_lr: float = param(0.05, "SGD rate of the separate readout learner (ignored when frozen)", min=0.0)

    def network(self, ctx: StrategyContext):
        if not isinstance(ctx.model, HippoNet):
            raise UserError(f"--model: {self.name} needs a meta-hippo network (mlp2, mlp4, dual or chorse), "
                            f"not a {type(ctx.model).__name__}")
        model = super().network(ctx)
        self._readout = readout_projections(model)
        return model

    def fixed_rates(self, model) -> dict[str, float]:
        return {name: 0.0 for name, _, _ in readout_projections(model)}

    def loop_config(self, ctx: StrategyContext, model) -> LoopConfig:
        loop = super().loop_config(ctx, model)
        self._separate = None
        if self.config.readout == "frozen":
            return loop
        self._separate = SeparateReadout(model, ctx.criterion, self.config.readout_lr)
        return dataclasses.replace(loop, after_update=(*loop.after_update, self._separate.after_update))

    @property
    def readout_rate(self) -> float:
        return self.config.readout_lr if self.config.readout == "separate" else 0.0

    def measures(self, template: OnlineMetaTemplate, ctx: StrategyContext) -> list[Measure]:
        readout = {proj for _, proj, _ in self._readout}
        out = [m for m in super().measures(template, ctx)
               if not (m.metric in READOUT_METRICS and m.entity in readout)]
        for name, proj, group in self._readout:
            out.append(Measure("readout_lr", self.readout_rate, entity=proj, group=group))
            if self._separate is not None:
                rel = self._separate.last_relative_step.get(name.removeprefix("weights."))
                if rel is not None:
                    out.append(Measure("relative_step", rel, entity=proj, group=group))
        return out
