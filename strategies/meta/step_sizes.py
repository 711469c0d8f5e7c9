"""How an inner-loop step size is parametrised: a :class:`StepSizes` object per strategy.

- :class:`ReluAlpha`: relu(alpha), one learned scalar per parameter tensor
  (meta-hippo's per-projection rates) or per entry (La-MAML); rates may be
  fixed per tensor (meta-hippo-frozen-readout's readout, meta-hippo-transfer);
- :class:`BinaryMask` and :class:`ReluThrough`: sparse-MAML's step sizes
  (von Oswald et al. 2021, Johswald/learning_where_to_learn ``models.py``):
  a binary gradient mask 0.5 (sign(m) + 1) and a rectified learning rate
  relu(m), both with straight-through gradients to m (:class:`StraightThrough`,
  which meta-hippo-gated's gates use too).

A step is looked up by the parameter's name in the model; the meta-parameters
of a step live under :func:`param_key` of that name.
"""

from __future__ import annotations

from typing import Callable, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def param_key(name: str) -> str:
    """The key of a model parameter's step-size meta-parameter (module dicts take no dots)."""
    return name.replace(".", "__")


class StepSizes(nn.Module):
    """Inner-loop step size per fast parameter; ``step(name)`` broadcasts to it."""

    learned: bool = False

    def step(self, name: str) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def scalar(self) -> bool:
        """True when every step is one number per parameter tensor (enables the low-rank path)."""
        return False

    def backward(self, grads: dict[str, Tensor]) -> None:
        """Accumulate d(meta-loss)/d(step) of each named step into the step parameters' ``.grad``."""
        names = [n for n in grads]
        with torch.enable_grad():
            steps = [self.step(n) for n in names]
        used = [(s, grads[n]) for s, n in zip(steps, names) if s.requires_grad]
        if used:
            torch.autograd.backward([s for s, _ in used], [g for _, g in used])

    def values(self) -> dict[str, float]:
        """Mean effective step per parameter tensor (for recording)."""
        with torch.no_grad():
            return {name: float(self.step(name).mean()) for name in self.names}

    def raw_values(self) -> dict[str, float]:
        """Mean raw parameter behind each step (before any relu), where the parametrisation has one."""
        return {}


class ReluAlpha(StepSizes):
    """relu(alpha): one learned scalar per parameter tensor (per projection) or per entry (La-MAML).

    ``fixed`` maps parameter names to a rate that is never learned (its alpha
    starts there and takes no meta-gradient); every other alpha starts at
    ``init`` and is learned when ``learned`` is set.
    """

    def __init__(self, params: dict[str, Tensor], init: float, per_parameter: bool, learned: bool,
                 use_relu: bool = True, fixed: Mapping[str, float] | None = None):
        super().__init__()
        fixed = dict(fixed or {})
        unknown = sorted(set(fixed) - set(params))
        if unknown:
            raise ValueError(f"fixed rates for parameters the model does not learn: {', '.join(unknown)}")
        self.names = list(params)
        self.per_parameter = per_parameter
        self.learned = learned
        self.use_relu = use_relu
        self.alpha = nn.ParameterDict({
            param_key(n): nn.Parameter(torch.full(p.shape if per_parameter else (), float(fixed.get(n, init))),
                                       requires_grad=learned and n not in fixed)
            for n, p in params.items()})

    @property
    def scalar(self) -> bool:
        return not self.per_parameter

    def step(self, name: str) -> Tensor:
        a = self.alpha[param_key(name)]
        return F.relu(a) if self.use_relu else a

    def raw_values(self) -> dict[str, float]:
        """Mean alpha per parameter tensor: below zero, relu(alpha) = 0 and the projection no longer learns."""
        with torch.no_grad():
            return {name: float(self.alpha[param_key(name)].mean()) for name in self.names}

    def backward(self, grads: dict[str, Tensor]) -> None:
        """relu'(alpha) in closed form: the hot path of the low-rank loop skips autograd here."""
        with torch.no_grad():
            for name, g in grads.items():
                a = self.alpha[param_key(name)]
                if not a.requires_grad:
                    continue
                d = g * (a > 0) if self.use_relu else g
                a.grad = d.to(a.dtype) if a.grad is None else a.grad + d


# ------------------------------------------------------------ sparse-MAML
class StraightThrough(torch.autograd.Function):
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
            self.m[param_key(name)] = nn.Parameter(m)

    def raw(self, name: str) -> Tensor:
        return self.m[param_key(name)]


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
        return 0.5 * (StraightThrough.apply(self.raw(name), torch.sign) + 1.0)

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
        return StraightThrough.apply(self.raw(name), torch.relu)

    def masked_fraction(self) -> dict[str, float]:
        """Fraction of entries with a zero learning rate (m <= 0) per parameter tensor."""
        with torch.no_grad():
            return {n: float((self.raw(n) <= 0).float().mean()) for n in self.names}
