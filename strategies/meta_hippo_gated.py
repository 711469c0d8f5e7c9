"""meta-hippo-gated: meta-hippo that also learns, per projection, a gate able to switch a pathway off.

The poster's "architecture learning" question: given the freedom to cut
projections, which pathways does the meta-learner keep? Each projection p
gets a binary gate g_p in {0, 1} multiplying its weights, parametrised as
sparse-MAML parametrises its masks (von Oswald et al. 2021;
Johswald/learning_where_to_learn): g_p = (sign(s_p) + 1) / 2 on a learned
score s_p, with the straight-through estimator for the gradient (sign's
derivative taken as one, :mod:`~hippo_bench.strategies.meta.step_sizes`). A gate
is a relaxed binary choice: the forward pass sees the pathway fully on or
fully off, the score keeps moving and may switch it back on.

The scores are meta-parameters like m and alpha: the meta-loss (the loss on
the meta-batch of every fast-weight state) is differentiated with respect
to them, their gradient is clipped to ``grad_clip`` and they take a plain
SGD step of ``gate_lr`` after every meta-update. They are not fast weights
(no inner-loop step). Scores start at ``gate_init``: every pathway on, but
near the boundary (sparse-MAML's masks start around zero), so that a
persistent meta-gradient can close a pathway within one stream.

How it extends meta-hippo's loop, through the hooks of its build
(docs/DESIGN.md, "The meta-learning loop"): ``network`` gives the network
its gates (its class becomes :class:`GatedHippoNet`, which multiplies every
projection's weights by its gate in ``run``, the one forward all passes
use); ``loop_config`` declares the scores as meta-parameters of the loop
(:class:`~hippo_bench.strategies.meta.template.MetaParameters`: no fast
weights, no weights; clipped and stepped after each meta-update); the
meta-gradient is taken with autograd (``path = materialised``; the
hand-written low-rank path knows no gates). Nothing else differs from
meta-hippo. Recorded per projection after every evaluation: ``gate``
(0 or 1) and ``gate_score``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor, nn

from hippo_bench.errors import UserError
from hippo_bench.models.hippo_net import HippoNet
from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import StrategyContext
from hippo_bench.strategies.meta.step_sizes import StraightThrough
from hippo_bench.strategies.meta.template import LoopConfig, MetaParameters, OnlineMetaTemplate
from hippo_bench.strategies.meta_hippo import MetaHippo
from hippo_bench.tasks.base import Measure


def binary_gate(score: Tensor) -> Tensor:
    """(sign(score) + 1) / 2 with a straight-through gradient (a zero score gives a half gate)."""
    return 0.5 * (StraightThrough.apply(score, torch.sign) + 1.0)


class GatedHippoNet(HippoNet):
    """A HippoNet whose projections are multiplied by learned binary gates (``gate_scores``)."""

    gate_scores: nn.ParameterDict

    @classmethod
    def give_gates(cls, net: HippoNet, init: float) -> "GatedHippoNet":
        """Turn ``net`` (built by the runner) into a gated net in place; every score starts at ``init``."""
        if type(net) is not HippoNet:
            raise TypeError(f"gates need a plain HippoNet, got {type(net).__name__}")
        net.__class__ = cls
        net.gate_scores = nn.ParameterDict({
            k: nn.Parameter(torch.tensor(float(init), device=w.device)) for k, w in net.weights.items()})
        return net

    def gates(self) -> dict[str, Tensor]:
        return {k: binary_gate(s) for k, s in self.gate_scores.items()}

    def run(self, x: Tensor, *, weights: dict[str, Tensor] | None = None, inhibition: Tensor | None = None,
            low_rank=None):
        if low_rank is not None:
            raise ValueError("a gated network has no low-rank path; use path=materialised")
        w = dict(self.weights.items()) if weights is None else weights
        gates = self.gates()
        return super().run(x, weights={k: gates[k] * v for k, v in w.items()}, inhibition=inhibition)


@register("meta-hippo-gated")
class MetaHippoGated(MetaHippo):
    description = ("meta-hippo that also meta-learns a binary gate per projection (sparse-MAML's straight-through "
                   "masks): which pathways does it keep?")
    references = MetaHippo.references + ("von Oswald et al. 2021 (sparse-MAML; Johswald/learning_where_to_learn)",)

    @dataclasses.dataclass
    class Config(MetaHippo.Config):
        path: Literal["materialised"] = param(
            "materialised", "meta-gradient computation (gates need autograd: materialised only)")
        gate_lr: float = param(0.02, "meta step size of the gate scores", min=0.0)
        gate_init: float = param(0.05, "initial gate score (> 0: pathway on; near 0, as sparse-MAML's masks start, "
                                 "so the meta-gradient can close it)")

    def network(self, ctx: StrategyContext) -> GatedHippoNet:
        if type(ctx.model) is not HippoNet:
            raise UserError(f"--model: {self.name} needs a meta-hippo network (mlp2, mlp4, dual or chorse), "
                            f"not a {type(ctx.model).__name__}")
        return GatedHippoNet.give_gates(super().network(ctx), self.config.gate_init)

    def loop_config(self, ctx: StrategyContext, model: GatedHippoNet) -> LoopConfig:
        loop = super().loop_config(ctx, model)
        gates = MetaParameters(tuple(model.gate_scores.values()), self.config.gate_lr)
        return dataclasses.replace(loop, meta_parameters=(*loop.meta_parameters, gates))

    def measures(self, template: OnlineMetaTemplate, ctx: StrategyContext) -> list[Measure]:
        out = super().measures(template, ctx)
        model = template.model
        gates = model.gates()
        for p in model.spec.projections:
            out.append(Measure("gate", float(gates[p.key].detach()), entity=p.name, group=p.group))
            out.append(Measure("gate_score", float(model.gate_scores[p.key].detach()), entity=p.name, group=p.group))
        return out
