"""si: Synaptic intelligence (Zenke, Poole & Ganguli 2017), our own plugin on Avalanche's Naive.

Why not Avalanche's ``SynapticIntelligence``: in Avalanche 0.6 it never acts
on CPU. Its ``extract_weights`` stores ``param.detach().cpu().flatten()``,
which on CPU is a view of the live weights, so the "old" weights, the "new"
weights and the anchor all move with the model: every step's update
new - old is 0, the path integral and hence the importance are exactly 0, and
the penalty (w - anchor)^2 is 0 as well (measured: importance max 0 and
penalty 0 over every iteration of a split-patterns and a cls-pairs run; si
then equals naive in every cell, as on the published CLS boards; the same
symptom is reported in ContinualAI/continual-learning-baselines issue 74).
It also clamps the importance at 0.001 per parameter (``update_ewc_data(...,
clip_to=0.001, ..., c=1)``), which Zenke et al. do not do; with
``si_lambda`` 1 that alone would cap the penalty at 0.0005 |dW|^2.

The method, as in Zenke et al. 2017 (eqs. 3-5):

- during experience mu, every optimiser step adds ``-g * (theta_new -
  theta_old)`` to each parameter's path integral omega, g being the gradient
  of the task loss (the regularised gradient minus the penalty's own
  gradient, which is known in closed form, so no second backward pass);
- at the end of the experience the importance grows by
  ``omega / (Delta^2 + xi)``, Delta the parameter's total change over the
  experience and xi a damping term (``eps``), and the anchor becomes the
  current weights;
- training adds ``si_lambda * sum(Omega * (theta - anchor)^2)`` to the loss
  (the paper's c; no factor 1/2).

Choices beyond the paper, each a Config field: negative importances (a
parameter whose movement raised the loss) are set to 0, so the penalty
stays a pull towards the anchor; ``clip_to`` optionally caps the importance
(off by default, as in the paper); ``stable_cap`` (on by default) caps it
at 1 / (2 lr si_lambda). Zenke et al. trained with Adam, whose steps are
bounded; with plain SGD the penalty's own step, lr * 2 si_lambda * Omega
* (theta - anchor), overshoots the anchor when lr * 2 si_lambda * Omega > 1
and diverges beyond 2 (measured without the cap: si_lambda 100 gives NaN on
split-patterns, and si_lambda 10 and 100 end at chance on a small
cls-pairs stream). At the cap the penalty pulls a weight exactly back to
its anchor in one step. Defaults: ``si_lambda`` 1 and ``eps``
1e-3 are the paper's split-MNIST values (c = 1, xi = 1e-3; as recalled from
the paper, not re-checked here).
"""

from __future__ import annotations

import dataclasses
import math

import avalanche.training as av
import torch
from avalanche.training.plugins import SupervisedPlugin

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import SGDConfig, Strategy, StrategyContext, sgd
from hippo_bench.tasks.base import ALL_KINDS


class SynapticIntelligence(SupervisedPlugin):
    """Path-integral importance and the quadratic penalty towards the last experience's weights.

    Every tensor held here is a copy (``clone``), never a view of the
    model's parameters.
    """

    def __init__(self, si_lambda: float, eps: float, clip_to: float | None = None, stable_cap: bool = True):
        super().__init__()
        self.si_lambda = float(si_lambda)
        self.eps = float(eps)
        self.clip_to = clip_to
        self.stable_cap = stable_cap
        self.importance: dict[str, torch.Tensor] = {}   # Omega, summed over finished experiences
        self.anchor: dict[str, torch.Tensor] = {}       # weights at the end of the last experience
        self.path: dict[str, torch.Tensor] = {}         # omega of the current experience
        self.start: dict[str, torch.Tensor] = {}        # weights at the start of the current experience
        self._before_step: dict[str, torch.Tensor] = {}
        self._task_grad: dict[str, torch.Tensor] = {}

    @staticmethod
    def _params(model) -> dict[str, torch.nn.Parameter]:
        return {n: p for n, p in model.named_parameters() if p.requires_grad}

    def before_training_exp(self, strategy, **kwargs):
        for name, p in self._params(strategy.model).items():
            self.start[name] = p.detach().clone()
            self.path[name] = torch.zeros_like(p, memory_format=torch.contiguous_format).detach()

    def penalty(self, model) -> torch.Tensor | None:
        """``si_lambda * sum(Omega * (theta - anchor)^2)``; None before any experience ended."""
        if not self.importance:
            return None
        total = None
        for name, p in self._params(model).items():
            if name not in self.importance:
                continue
            term = (self.importance[name] * (p - self.anchor[name]) ** 2).sum()
            total = term if total is None else total + term
        return None if total is None else self.si_lambda * total

    def before_backward(self, strategy, **kwargs):
        extra = self.penalty(strategy.model)
        if extra is not None:
            strategy.loss = strategy.loss + extra

    @torch.no_grad()
    def before_update(self, strategy, **kwargs):
        for name, p in self._params(strategy.model).items():
            self._before_step[name] = p.detach().clone()
            g = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
            if name in self.importance:  # remove the penalty's own gradient: the task loss's gradient remains
                g -= 2.0 * self.si_lambda * self.importance[name] * (p.detach() - self.anchor[name])
            self._task_grad[name] = g

    @torch.no_grad()
    def after_update(self, strategy, **kwargs):
        for name, p in self._params(strategy.model).items():
            if name in self._before_step:
                self.path[name] -= self._task_grad[name] * (p.detach() - self._before_step[name])
        self._before_step.clear()
        self._task_grad.clear()

    def cap(self, optimizer) -> float:
        """The largest importance kept: ``clip_to`` and, with ``stable_cap``, 1 / (2 lr si_lambda)."""
        cap = self.clip_to if self.clip_to is not None else math.inf
        lr = max((g.get("lr", 0.0) for g in optimizer.param_groups), default=0.0) if optimizer is not None else 0.0
        if self.stable_cap and lr > 0 and self.si_lambda > 0:
            cap = min(cap, 1.0 / (2.0 * lr * self.si_lambda))
        return cap

    @torch.no_grad()
    def after_training_exp(self, strategy, **kwargs):
        cap = self.cap(getattr(strategy, "optimizer", None))
        for name, p in self._params(strategy.model).items():
            delta = p.detach() - self.start[name]
            gained = self.path[name] / (delta ** 2 + self.eps)
            total = self.importance.get(name, torch.zeros_like(gained)) + gained
            self.importance[name] = total.clamp(min=0.0, max=cap)
            self.anchor[name] = p.detach().clone()


@register("si")
class SI(Strategy):
    description = "Synaptic intelligence (path-integral importance)"
    references = ("Zenke, Poole & Ganguli 2017",)
    scenarios = ALL_KINDS

    @dataclasses.dataclass
    class Config(SGDConfig):
        si_lambda: float = param(1.0, "penalty strength c (Zenke et al.: 1 on split MNIST)", min=0.0)
        eps: float = param(1e-3, "damping xi of the importance denominator (Zenke et al.: 1e-3 on split MNIST)",
                           min=1e-12)
        clip_to: float | None = param(None, "cap on each parameter's importance (none: uncapped, as in the paper; "
                                            "Avalanche's plugin uses 0.001)", min=0.0)
        stable_cap: bool = param(True, "also cap each importance at 1 / (2 lr si_lambda), so that the penalty's own "
                                       "SGD step never overshoots the anchor (plain SGD diverges beyond twice that)")

    def build(self, ctx: StrategyContext):
        c = self.config
        plugin = SynapticIntelligence(c.si_lambda, c.eps, c.clip_to, c.stable_cap)
        kwargs = ctx.sgd_kwargs(sgd(ctx.model, c.lr, c.momentum))
        kwargs["plugins"] = [*kwargs["plugins"], plugin]
        return av.Naive(**kwargs)

    def plugin(self, template) -> SynapticIntelligence | None:
        """The SI plugin of a template built by this strategy (for inspection and tests)."""
        return next((p for p in template.plugins if isinstance(p, SynapticIntelligence)), None)
