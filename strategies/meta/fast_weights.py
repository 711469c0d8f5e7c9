"""Steps 2-3 of the loop (inner loop, meta-loss and its gradient), three ways.

The loop (:mod:`.template`) asks a path to ``reset``, run the first-order
inner loop on the incoming batch (``inner_loop``), then put the meta-loss's
gradient into ``.grad`` of the weights, the inhibition and the step sizes
(``meta_backward``); ``state_activity`` is the seed's sparsity measure.

- :class:`LowRankPath` for :class:`~hippo_bench.models.hippo_net.HippoNet`
  with one step size per projection: a single-sample gradient of a bias-free
  linear map is rank one (delta h^T), so the inner loop only records each
  step's (h, delta) per projection (updating its working fast weights with
  in-place rank-one updates), and every fast weight is the slow weight minus
  a sum of rank-one terms: all B meta-losses are then one batched pass with
  a hand-written backward and no weight copies (the "closed-form structure"
  of the first-order loop);
- :class:`MaterialisedPath` for any model via ``torch.func.functional_call``:
  fast weights are built explicitly (per-parameter step sizes, biases,
  arbitrary modules);
- :class:`SecondOrderPath`: the materialised path with the inner gradients
  kept in the graph (La-MAML's ``--second_order``).

:func:`build_path` picks one from the loop's settings; a strategy that needs
another path declares a ``path_factory`` in its
:class:`~hippo_bench.strategies.meta.template.LoopConfig`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Literal, Protocol

import torch
from torch import Tensor, nn
from torch.func import functional_call

from hippo_bench.strategies.meta.gradients import loss_and_grad, state_loss_and_grad
from hippo_bench.strategies.meta.step_sizes import StepSizes

PathChoice = Literal["auto", "low-rank", "materialised"]


class FastWeightPath(Protocol):
    """What the loop calls on a path, once per meta-update."""

    def reset(self) -> None: ...

    def inner_loop(self, x: Tensor, y: Tensor, t: Tensor) -> None: ...

    def meta_backward(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor: ...

    def state_activity(self, x: Tensor) -> dict[str, float]: ...


@dataclasses.dataclass(frozen=True)
class PathSetup:
    """What a path is built from: the template's model, criterion and step sizes, and the loop's choice."""

    model: nn.Module
    criterion: Callable
    steps: StepSizes
    extra: Callable[[], dict[str, Tensor]]  # tensors besides the fast weights that the forward must see
    choice: PathChoice = "auto"
    second_order: bool = False


def build_path(setup: PathSetup) -> FastWeightPath:
    """The path the settings ask for: second order, else low-rank where it applies (``auto``), else materialised."""
    args = (setup.model, setup.criterion, setup.steps, setup.extra)
    if setup.second_order:
        return SecondOrderPath(*args)
    if setup.choice in ("auto", "low-rank"):
        try:
            return LowRankPath(*args)
        except TypeError:
            if setup.choice == "low-rank":
                raise
    return MaterialisedPath(*args)


def functional_forward(model: nn.Module, tensors: dict[str, Tensor], x: Tensor, t: Tensor) -> Tensor:
    """``model`` on ``x`` (and task labels ``t`` for a multi-task module) with ``tensors`` in place of its own."""
    from avalanche.models import MultiTaskModule

    args = (x, t) if isinstance(model, MultiTaskModule) else (x,)
    return functional_call(model, tensors, args, strict=False)


# ------------------------------------------------------------ materialised
class MaterialisedPath:
    """Fast weights built explicitly; works for any model through functional_call."""

    def __init__(self, model: nn.Module, criterion: Callable, steps: StepSizes, extra: Callable[[], dict]):
        self.model, self.criterion, self.steps, self.extra = model, criterion, steps, extra
        self.names = steps.names
        self.grads: list[dict[str, Tensor]] = []

    def reset(self) -> None:
        self.grads = []

    def _fast(self, upto: int, graph: bool) -> dict[str, Tensor]:
        params = dict(self.model.named_parameters())
        out = {}
        for n in self.names:
            g = sum(gr[n] for gr in self.grads[:upto]) if upto else None
            if g is None:
                out[n] = params[n] if graph else params[n].detach()
            else:
                step = self.steps.step(n)
                out[n] = params[n] - step * g if graph else (params[n] - step * g).detach()
        return out

    def inner_step(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        with torch.no_grad():
            fast = self._fast(len(self.grads), graph=False)
        leaves = {n: w.requires_grad_() for n, w in fast.items()}
        extra = {k: v.detach() for k, v in self.extra().items()}
        loss = self.criterion(functional_forward(self.model, {**leaves, **extra}, x, t), y)
        g = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
        self.grads.append({n: (gi if gi is not None else torch.zeros_like(leaves[n])) for n, gi in zip(leaves, g)})
        return loss.detach()

    def inner_loop(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        for i in range(x.shape[0]):
            self.inner_step(x[i:i + 1], y[i:i + 1], t[i:i + 1])

    def meta_loss(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        extra = self.extra()
        total = 0.0
        for i in range(1, len(self.grads) + 1):
            total = total + self.criterion(functional_forward(self.model, {**self._fast(i, graph=True), **extra}, x, t),
                                           y)
        return total / len(self.grads)

    def meta_backward(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        loss = self.meta_loss(x, y, t)
        if torch.isfinite(loss):
            loss.backward()
        return loss.detach()

    def state_activity(self, x: Tensor) -> dict[str, float]:
        """Share of active units per hidden layer on ``x``, with the fast weights after each inner step, averaged."""
        if not hasattr(self.model, "hidden_names"):
            return {}
        prefix = "weights."
        totals: dict[str, float] = {}
        with torch.no_grad():
            for i in range(1, len(self.grads) + 1):
                fast = {n[len(prefix):]: w for n, w in self._fast(i, graph=False).items() if n.startswith(prefix)}
                acts = self.model.run(x, weights={**dict(self.model.weights.items()), **fast})[1]
                for name in self.model.hidden_names:
                    totals[name] = totals.get(name, 0.0) + float((acts[name] > 0).float().mean())
        return {name: v / max(len(self.grads), 1) for name, v in totals.items()}


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
        loss = self.criterion(functional_forward(self.model, {**fast, **self.extra()}, x, t), y)
        grads = torch.autograd.grad(loss, list(fast.values()), create_graph=True, allow_unused=True)
        self.states.append({n: w if g is None else w - self.steps.step(n) * g
                            for (n, w), g in zip(fast.items(), grads)})
        return loss.detach()

    def meta_loss(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        extra = self.extra()
        total = sum(self.criterion(functional_forward(self.model, {**state, **extra}, x, t), y)
                    for state in self.states)
        return total / len(self.states)


# ------------------------------------------------------------ low rank
class LowRankPath:
    """All meta-losses in one batched pass from rank-one inner gradients (HippoNet only)."""

    def __init__(self, model, criterion: Callable, steps: StepSizes, extra: Callable[[], dict]):
        from hippo_bench.models.hippo_net import HippoNet

        if not isinstance(model, HippoNet) or not steps.scalar:
            raise TypeError("the low-rank path needs a HippoNet and one step size per projection")
        self.model, self.criterion, self.steps, self.extra = model, criterion, steps, extra
        self.keys = [p.key for p in model.spec.projections]
        self.dst = {p.key: p.dst for p in model.spec.projections}
        self.param_name = {p.key: f"weights.{p.key}" for p in model.spec.projections}
        self.H: dict[str, Tensor] = {}  # (rows, in) inputs of the inner steps so far, per projection
        self.D: dict[str, Tensor] = {}  # (rows, out) their errors
        self.n = 0
        self._mask: Tensor | None = None

    def reset(self) -> None:
        self.n = 0

    def _low_rank(self, coef: Callable[[str], Tensor]):
        from hippo_bench.models.hippo_net import LowRank

        n = self.n
        return {k: LowRank(self.H[k][:n], self.D[k][:n], coef(k)) for k in self.keys}

    def _store(self, inputs: dict[str, Tensor], errors: dict[str, Tensor]) -> None:
        """Row n of each projection's H and D (buffers grow when a batch is larger than before)."""
        n = self.n
        for k in self.keys:
            h, d = inputs[k].reshape(-1), errors[self.dst[k]].reshape(-1)
            if k not in self.H or self.H[k].shape[0] <= n:
                rows = max(2 * n, 8)
                H, D = h.new_zeros(rows, h.numel()), d.new_zeros(rows, d.numel())
                if k in self.H:
                    H[:n], D[:n] = self.H[k][:n], self.D[k][:n]
                self.H[k], self.D[k] = H, D
            self.H[k][n] = h
            self.D[k][n] = d
        self.n = n + 1

    def inner_loop(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        """The first-order inner steps on the samples of ``x``, one at a time.

        The fast weights are kept explicitly during the loop: after each
        step every projection takes its rank-one update in place
        (``W_fast -= c * delta h^T``), which costs less than re-applying all
        earlier steps' corrections to every single-sample pass.
        """
        B = x.shape[0]
        with torch.no_grad():
            steps = {k: float(self.steps.step(self.param_name[k])) for k in self.keys}
            fast = {k: w.detach().clone() for k, w in self.model.weights.items()}
        for i in range(B):
            loss_grad = functools.partial(loss_and_grad, self.criterion, y[i:i + 1])
            loss, inputs, errors = self.model.sample_errors(x[i:i + 1], loss_grad, fast)
            self._store(inputs, errors)
            if i + 1 < B:
                with torch.no_grad():
                    for k in self.keys:
                        fast[k].addr_(errors[self.dst[k]].reshape(-1), inputs[k].reshape(-1), alpha=-steps[k])

    def _tril(self, B: int, like: Tensor) -> Tensor:
        if self._mask is None or self._mask.shape[0] != B:
            self._mask = torch.tril(torch.ones(B, B, dtype=like.dtype, device=like.device))
        return self._mask

    def meta_backward(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        """Meta-loss over all B inner steps at once; gradients by hand into ``.grad``."""
        B = self.n
        mask = self._tril(B, x)  # state i has the steps j <= i
        with torch.no_grad():
            steps = {k: self.steps.step(self.param_name[k]) for k in self.keys}
            low_rank = self._low_rank(lambda k: steps[k] * mask)
        loss, d_w, d_c, d_m = self.model.state_gradients(
            x, functools.partial(state_loss_and_grad, self.criterion, y), low_rank)
        for k, p in self.model.weights.items():
            p.grad = d_w[k]
        if self.model.inhibition.requires_grad:
            self.model.inhibition.grad = d_m
        if self.steps.learned:  # chain rule into the step-size parameters (relu(alpha), masks, ...)
            self.steps.backward({self.param_name[k]: (d_c[k] * mask).sum() for k in self.keys})
        return loss

    def state_activity(self, x: Tensor) -> dict[str, float]:
        """Share of active units per hidden layer on ``x``, with the fast weights after each inner step, averaged."""
        mask = self._tril(self.n, x)
        with torch.no_grad():
            steps = {k: self.steps.step(self.param_name[k]) for k in self.keys}
            acts = self.model.run(x.flatten(1), low_rank=self._low_rank(lambda k: steps[k] * mask))[1]
        return {name: float((acts[name] > 0).float().mean()) for name in self.model.hidden_names}

    def meta_loss(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        """The same meta-loss with autograd (kept as the reference the hand-written pass is tested against)."""
        B = self.n
        mask = self._tril(B, x)
        low_rank = self._low_rank(lambda k: self.steps.step(self.param_name[k]) * mask)
        extra = self.extra()
        out = self.model.run(x.flatten(1), inhibition=extra.get("inhibition"), low_rank=low_rank)[0]
        S, N = out.shape[0], out.shape[1]
        return self.criterion(out.reshape(S * N, -1), y.repeat(S))
