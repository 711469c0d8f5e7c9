"""Loss gradients in closed form and the loop's per-group norm clip, shared by the fast-weight paths and MER."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn


def loss_and_grad(criterion: Callable, y: Tensor, out: Tensor) -> tuple[Tensor, Tensor]:
    """Loss and its gradient w.r.t. the logits; closed form for plain cross-entropy."""
    if type(criterion) is nn.CrossEntropyLoss and criterion.weight is None and criterion.reduction == "mean" \
            and criterion.label_smoothing == 0.0 and out.dim() == 2:
        n = out.shape[0]
        logp = torch.log_softmax(out, dim=1)
        target = y.unsqueeze(1)
        grad = logp.exp().scatter_add_(1, target, out.new_full((n, 1), -1.0))
        return -logp.gather(1, target).mean(), grad.div_(n)
    with torch.enable_grad():
        leaf = out.detach().requires_grad_()
        loss = criterion(leaf, y)
        return loss.detach(), torch.autograd.grad(loss, leaf)[0]


def state_loss_and_grad(criterion: Callable, y: Tensor, out: Tensor) -> tuple[Tensor, Tensor]:
    """Mean over S weight states of the criterion on (S, N, C) logits, and its gradient."""
    S, N = out.shape[0], out.shape[1]
    loss, grad = loss_and_grad(criterion, y.repeat(S), out.reshape(S * N, -1))
    return loss, grad.reshape(out.shape)


def clip_group_(params: list[Tensor], max_norm: float) -> None:
    """Scale the gradients of ``params`` to a total norm of at most ``max_norm`` (0: no clipping)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads or max_norm <= 0:
        return
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp(max=1.0))
