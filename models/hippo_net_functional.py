"""The HippoNet forward pass and its hand-written backward, written once for one network or G stacked ones.

:class:`~hippo_bench.models.hippo_net.HippoNet` (one network) and
:mod:`hippo_bench.models.hippo_net_stack` (G seeds batched) both run
:func:`forward` and :func:`backward`, so the meta-gradient of the
first-order loop (docs/DESIGN.md, "The meta-learning loop") exists once.
They differ only in a :class:`Products` policy: how a product and a
per-network total are taken, and how many leading seed dimensions (0 or 1)
every tensor carries. Elementwise operations do not depend on it; products
and reductions do, because their rounding follows the layout the BLAS is
handed, and G batched networks must round as G lone ones do, bit for bit.

Shapes, with ``*G`` the leading seed dimensions (none for one network):
input ``(*G, N, in)``; weights ``(*G, out, in)``; m ``(*G, hidden layers)``;
low-rank terms per projection key, a
:class:`~hippo_bench.models.hippo_net.LowRank` with H ``(*G, B, in)``, D
``(*G, B, out)`` and C ``(*G, S, B)``. A layer fed by a low-rank
projection is ``(*G, S, N, units)``, one row block per weight state
``W - sum_j C[s, j] D_j H_j^T``; the input has no state dimension and is
shared by the S states.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:  # annotations only: hippo_net imports this module
    from hippo_bench.models.hippo_net import HippoNet, LowRank


def kth_largest(z: Tensor, k: int) -> Tensor:
    """The k-th largest value along the last dimension, as a constant (stop gradient), keepdim."""
    return torch.topk(z.detach(), k, dim=-1).values[..., k - 1:k]


class Products:
    """One network: plain ``torch.matmul`` and full sums, no leading seed dimension.

    ``mm(a, b)`` multiplies activations ``(*G, ..., k)`` by one matrix per
    network ``(*G, k, m)``; ``total(x)`` sums each network's share of
    ``x`` to one number, ``(*G,)``.
    """

    lead = 0  # leading seed dimensions
    mm = staticmethod(torch.matmul)  # a 3-D by 2-D operand folds into one mm, as the lone path has always done
    total = staticmethod(torch.sum)


LONE = Products()


@dataclasses.dataclass
class Trace:
    """What a forward pass keeps for the hand-written backward."""

    acts: dict[str, Tensor]
    out: Tensor | None = None
    lesioned: frozenset[str] = frozenset()  # projections the forward left out (the backward leaves them out too)
    normed: dict[str, Tensor] = dataclasses.field(default_factory=dict)  # L2-normalised layer outputs
    norms: dict[str, Tensor] = dataclasses.field(default_factory=dict)
    overlaps: dict[str, Tensor] = dataclasses.field(default_factory=dict)  # h H^T per low-rank projection
    active: dict[str, Tensor] = dataclasses.field(default_factory=dict)
    theta: dict[str, Tensor] = dataclasses.field(default_factory=dict)


def forward(net: HippoNet, x: Tensor, weights: Mapping[str, Tensor], m: Tensor,
            low_rank: Mapping[str, LowRank] | None = None, *, products: Products = LONE,
            lesioned: frozenset[str] = frozenset(), trace: bool = False) -> Trace:
    """Forward ``x`` through ``net``'s layers with these weights and multipliers m (autograd-friendly).

    ``low_rank`` (by projection key) evaluates S weight states at once;
    ``lesioned`` names projections to leave out; ``trace`` keeps what
    :func:`backward` needs (and, without autograd, rectifies in place).
    """
    lead = products.lead
    in_place = trace and not torch.is_grad_enabled()
    tr = Trace(acts={"input": x}, lesioned=lesioned)
    for layer in net.spec.layers:
        z = None
        for p in net.incoming(layer.name):
            if p.name in lesioned:
                continue
            if p.src not in tr.normed:
                a = tr.acts[p.src]
                norm = torch.linalg.vector_norm(a, dim=-1, keepdim=True).clamp_min(1e-12)
                tr.norms[p.src], tr.normed[p.src] = norm, a / norm
            h = tr.normed[p.src]
            contrib = products.mm(h, weights[p.key].mT)
            lr_ = low_rank.get(p.key) if low_rank else None
            if lr_ is not None:
                overlap = products.mm(h, lr_.H.mT)  # (*G, [S,] N, B): h . h_j of each inner step j
                if h.dim() == lead + 2:  # no state dimension (the input): shared by every weight state
                    overlap, contrib = overlap.unsqueeze(lead), contrib.unsqueeze(lead)
                if trace:
                    tr.overlaps[p.key] = overlap
                contrib = contrib - products.mm(overlap * lr_.C.unsqueeze(-2), lr_.D)
            z = contrib if z is None else z + contrib
        if z is None:  # every incoming projection lesioned
            z = x.new_zeros(*x.shape[:-1], layer.units)
        if layer.output:
            tr.acts[layer.name] = z
            continue
        theta = kth_largest(z, net.k[layer.name])
        m_layer = m[..., net.inhibition_index(layer.name)]
        if lead:  # one multiplier per network, against (*G, [S,] N, 1)
            m_layer = m_layer.reshape(*m_layer.shape, *[1] * (z.dim() - lead))
        u = z - m_layer * theta
        a = u.clamp_min_(0) if in_place else F.relu(u)
        tr.acts[layer.name] = a
        if trace:
            tr.active[layer.name], tr.theta[layer.name] = a.sign(), theta  # sign: 1.0 where active
    outs = [tr.acts[o] for o in net.spec.outputs]
    tr.out = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]
    return tr


def backward(net: HippoNet, tr: Trace, g_out: Tensor, weights: Mapping[str, Tensor],
             low_rank: Mapping[str, LowRank] | None = None, *, products: Products = LONE,
             param_grads: bool = False):
    """Backpropagate dL/dlogits by hand through a traced :func:`forward` (no autograd graph).

    Returns the error dL/dz of every layer and, with ``param_grads``, the
    gradients of each slow weight ``(*G, out, in)``, of each low-rank C
    ``(*G, S, B)`` and of the multipliers m ``(*G, hidden layers)``. The
    threshold theta is a constant (stop gradient): dz = da on active units,
    and dm = -sum(dz * theta).
    """
    lead = products.lead
    grads: dict[str, Tensor] = {}
    start = 0
    for o in net.spec.outputs:
        grads[o] = g_out[..., start:start + net.units[o]]
        start += net.units[o]
    errors: dict[str, Tensor] = {}
    d_w: dict[str, Tensor] = {}
    d_c: dict[str, Tensor] = {}
    d_m = g_out.new_zeros(*g_out.shape[:lead], len(net.hidden_names)) if param_grads else None
    for layer in reversed(net.spec.layers):
        g = grads.get(layer.name)
        if g is None:
            continue
        delta = g if layer.output else g * tr.active[layer.name]
        errors[layer.name] = delta
        if param_grads and not layer.output:
            d_m[..., net.inhibition_index(layer.name)] = -products.total(delta * tr.theta[layer.name])
        for p in net.incoming(layer.name):
            if p.name in tr.lesioned:
                continue
            h = tr.normed[p.src]
            lr_ = low_rank.get(p.key) if low_rank else None
            needs_input_grad = p.src != "input"
            d_prod = None
            if lr_ is not None and (param_grads or needs_input_grad):
                d_prod = products.mm(delta, lr_.D.mT)  # (*G, S, N, B)
            if param_grads:
                if h.dim() < delta.dim():  # the input, shared by every weight state
                    d_w[p.key] = products.mm(delta.sum(lead).mT, h)
                else:
                    seeds = delta.shape[:lead]
                    d_w[p.key] = products.mm(delta.reshape(*seeds, -1, delta.shape[-1]).mT,
                                             h.reshape(*seeds, -1, h.shape[-1]))
                if lr_ is not None:
                    d_c[p.key] = -(d_prod * tr.overlaps[p.key]).sum(-2)
            if not needs_input_grad:
                continue
            dh = products.mm(delta, weights[p.key])
            if lr_ is not None:
                dh = dh - products.mm(d_prod * lr_.C.unsqueeze(-2), lr_.H)
            da = (dh - h * (h * dh).sum(-1, keepdim=True)) / tr.norms[p.src]
            grads[p.src] = da if p.src not in grads else grads[p.src] + da
    return errors, d_w, d_c, d_m
