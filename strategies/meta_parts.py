"""Parts the La-MAML family adds to the shared online meta-learning loop.

:mod:`hippo_bench.strategies.meta_learning` runs one inner loop and one
meta-update per incoming batch. The baselines built on it need a few more
pieces, kept here so the loop itself stays written once:

- :class:`GlancingMetaTemplate`: La-MAML's "glances" (each incoming batch is
  revisited several times, reshuffled each time, and enters the replay
  buffer only on the first visit; montrealrobotics/La-MAML ``model/lamaml.py``)
  and an optional second-order meta-gradient (:class:`SecondOrderPath`).
- :class:`BinaryMask` and :class:`ReluThrough`: sparse-MAML's step sizes
  (von Oswald et al. 2021, Johswald/learning_where_to_learn ``models.py``):
  a binary gradient mask 0.5 (sign(m) + 1) and a rectified learning rate
  relu(m), both with straight-through gradients to m.
- :func:`init_weights`: the initialisations the papers' code uses for its
  MLP (La-MAML: Kaiming normal; GEM and MER: Xavier uniform), biases zero.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from torch import Tensor, nn

from hippo_bench.strategies.meta_learning import (MaterialisedPath, OnlineMetaTemplate, ReservoirBuffer, StepSizes,
                                                  _call, _key)

InitScheme = Literal["kaiming-normal", "xavier-uniform", "default"]


# ------------------------------------------------------------ initialisation
def init_weights(model: nn.Module, scheme: InitScheme) -> None:
    """Re-initialise every Linear and Conv2d weight (biases to zero) as the papers' code does.

    ``kaiming-normal``: La-MAML's ``Learner`` and OML (``kaiming_normal_``,
    fan-in, gain sqrt 2); ``xavier-uniform``: GEM's ``common.py`` used by MER
    (uniform with bound sqrt(6 / (fan_in + fan_out))); ``default``: leave
    PyTorch's initialisation alone.
    """
    if scheme == "default":
        return
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, (nn.Linear, nn.Conv2d)):
                continue
            if scheme == "kaiming-normal":
                nn.init.kaiming_normal_(module.weight)
            elif scheme == "xavier-uniform":
                nn.init.xavier_uniform_(module.weight)
            else:  # pragma: no cover - guarded by the Config's Literal
                raise ValueError(f"unknown initialisation {scheme!r}")
            if module.bias is not None:
                module.bias.zero_()


# --------------------------------------------------------------- step sizes
class _StraightThrough(torch.autograd.Function):
    """``f(x)`` forward, identity backward: the straight-through estimator (sparse-MAML's
    ``BinaryLayer`` with f = sign, ``ReluStraightThrough`` with f = relu)."""

    @staticmethod
    def forward(ctx, x: Tensor, f: Callable[[Tensor], Tensor]) -> Tensor:
        return f(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad, None


class _MaskParameters(StepSizes):
    """One meta-parameter m per weight entry, initialised as sparse-MAML's ``GradientMask``."""

    learned = True

    def __init__(self, params: dict[str, Tensor], init: Literal["uniform", "kaiming", "constant"],
                 constant: float = 0.0, shift: float = 0.0):
        super().__init__()
        self.names = list(params)
        self.m = nn.ParameterDict()
        for name, p in params.items():
            m = torch.empty(p.shape)
            if init == "constant":
                m.fill_(constant)
            else:
                if init == "kaiming" and m.dim() > 1:
                    nn.init.kaiming_uniform_(m)
                else:
                    m.uniform_(-0.5, 0.5)
                m.add_(shift - m.mean())  # the mean sets the initial sparsity explicitly
            self.m[_key(name)] = nn.Parameter(m)

    def raw(self, name: str) -> Tensor:
        return self.m[_key(name)]


class BinaryMask(_MaskParameters):
    """sparse-MAML: step = step_size * mask, mask = 0.5 (sign(m) + 1) in {0, 1}.

    The gradient reaches m through the straight-through estimator:
    d step / d m = step_size / 2 (sign's derivative taken as one). As in the
    official code an entry with m exactly 0 gets a half step.
    """

    def __init__(self, params: dict[str, Tensor], step_size: float,
                 init: Literal["uniform", "kaiming", "constant"] = "uniform", shift: float = 0.0):
        super().__init__(params, init, shift=shift)
        self.step_size = float(step_size)

    def mask(self, name: str) -> Tensor:
        return 0.5 * (_StraightThrough.apply(self.raw(name), torch.sign) + 1.0)

    def step(self, name: str) -> Tensor:
        return self.step_size * self.mask(name)

    def masked_fraction(self) -> dict[str, float]:
        """Fraction of entries whose gradient is masked (mask 0) per parameter tensor."""
        with torch.no_grad():
            return {n: float((self.raw(n) < 0).float().mean()) for n in self.names}


class ReluThrough(_MaskParameters):
    """sparse-ReLU-MAML: step = relu(m) per entry, gradient to m straight through the relu."""

    def __init__(self, params: dict[str, Tensor], init_step: float):
        super().__init__(params, "constant", constant=init_step)

    def step(self, name: str) -> Tensor:
        return _StraightThrough.apply(self.raw(name), torch.relu)

    def masked_fraction(self) -> dict[str, float]:
        """Fraction of entries with a zero learning rate (m <= 0) per parameter tensor."""
        with torch.no_grad():
            return {n: float((self.raw(n) <= 0).float().mean()) for n in self.names}


# ------------------------------------------------------------- second order
class SecondOrderPath(MaterialisedPath):
    """Fast weights kept in the autograd graph: the meta-gradient includes the inner Hessian terms.

    A :class:`MaterialisedPath` whose inner step keeps the graph:
    ``fast_{j+1} = fast_j - step * grad L(fast_j; x_j)`` taken with
    ``create_graph``; meta-loss = mean over j of L(fast_{j+1}; meta-batch).
    The inner loop and the backward pass are the parent's, over these steps.
    """

    def reset(self) -> None:
        self.states: list[dict[str, Tensor]] = []

    def inner_step(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        if self.states:
            fast = self.states[-1]
        else:
            params = dict(self.model.named_parameters())
            fast = {n: params[n] for n in self.names}
        loss = self.criterion(_call(self.model, {**fast, **self.extra()}, x, t), y)
        grads = torch.autograd.grad(loss, list(fast.values()), create_graph=True, allow_unused=True)
        self.states.append({n: w if g is None else w - self.steps.step(n) * g
                            for (n, w), g in zip(fast.items(), grads)})
        return loss.detach()

    def meta_loss(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        extra = self.extra()
        total = sum(self.criterion(_call(self.model, {**state, **extra}, x, t), y) for state in self.states)
        return total / len(self.states)


# ---------------------------------------------------------------- template
class PausableReservoir(ReservoirBuffer):
    """A reservoir that ignores pushes while ``paused`` (La-MAML stores a batch on its first glance only)."""

    paused = False

    def push(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        if not self.paused:
            super().push(x, y, t)


class GlancingMetaTemplate(OnlineMetaTemplate):
    """The shared loop with La-MAML's glances and an optional second-order meta-gradient.

    Every incoming batch gets ``glances`` meta-updates; before each the
    batch is reshuffled and a fresh replay sample drawn, and only the first
    one offers the batch to the reservoir (``push_to_mem`` is skipped when
    ``pass_itr > 0`` in La-MAML's code).
    """

    def __init__(self, *, glances: int = 1, second_order: bool = False, replay_size: int = 200, seed: int = 0,
                 **kwargs):
        if glances < 1:
            raise ValueError("glances must be >= 1")
        self.glances = glances
        self.second_order = second_order
        super().__init__(replay_size=replay_size, seed=seed, **kwargs)
        self.replay = PausableReservoir(replay_size, seed)

    def _make_path(self, choice: str):
        if self.second_order:
            return SecondOrderPath(self.model, self._criterion, self.steps, self._extra)
        return super()._make_path(choice)

    def _inner_updates(self, **kwargs):
        order = torch.randperm(self.mb_x.shape[0], device=self.mb_x.device)
        self.mbatch = [v[order] if torch.is_tensor(v) and v.dim() > 0 else v for v in self.mbatch]
        super()._inner_updates(**kwargs)

    def _outer_update(self, **kwargs):
        super()._outer_update(**kwargs)
        if self.glances == 1:
            return
        self.replay.paused = True
        try:
            for _ in range(1, self.glances):
                self._inner_updates(**kwargs)
                super()._outer_update(**kwargs)
        finally:
            self.replay.paused = False

