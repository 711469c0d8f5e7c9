"""G HippoNets of one spec as one batched network: the first-order meta-step of G seeds at once.

The meta-hippo loop on the seed's protocols is bound by per-operation
overhead: its largest product is 10 x 784 by 784 x 200. Stacking the weights
of G networks with the same :class:`~hippo_bench.models.hippo_net.NetSpec`
along a leading dimension turns G small products into one batched product,
so G seeds cost little more than one. The passes are the lone network's
(:mod:`hippo_bench.models.hippo_net_functional`) with one leading seed
dimension and the products of :data:`PER_SEED`; this module adds only what
batching seeds needs:

- :func:`_bmm`, a batched product used only where it rounds as G lone
  products do (one rounding difference grows, through the k-WTA's
  gradient, into a different run), and per-seed totals;
- the inner loop (:meth:`NetStack.meta_step`): B single-sample steps per
  seed on explicit fast weights (G, out, in), recording every step's input
  h and error delta, then the meta-loss under the B low-rank weight states
  and its gradients, as :class:`~hippo_bench.strategies.meta.fast_weights.LowRankPath`
  takes them for one seed (docs/DESIGN.md, "The meta-learning loop").

Only plain cross-entropy is supported (its gradient in closed form), as in
the single-seed path's fast case.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from hippo_bench.models.hippo_net import HippoNet, LowRank
from hippo_bench.models.hippo_net_functional import Products, backward, forward


@dataclasses.dataclass
class StackedMetaStep:
    """What one batched meta-step returns, per projection key and per seed (leading dimension G)."""

    loss: Tensor  # (G,) meta-loss
    d_w: dict[str, Tensor]  # (G, out, in)
    d_c: dict[str, Tensor]  # (G,) d meta-loss / d step, summed over the "j <= s" mask
    d_m: Tensor  # (G, hidden layers)
    H: dict[str, Tensor]  # (G, B, in) inner-step inputs
    D: dict[str, Tensor]  # (G, B, out) inner-step errors


def cross_entropy_and_grad(out: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Per-seed mean cross-entropy of logits (G, ..., N, C) against y (G, N), and its gradient."""
    G, C = out.shape[0], out.shape[-1]
    flat = out.reshape(G, -1, C)
    n = flat.shape[1]
    target = y.reshape(G, 1, -1).expand(G, n // y.shape[-1], y.shape[-1]).reshape(G, n, 1)
    logp = torch.log_softmax(flat, dim=-1)
    grad = logp.exp().scatter_add_(-1, target, flat.new_full((G, n, 1), -1.0)).div_(n)
    loss = -logp.gather(-1, target).mean(dim=(1, 2))
    return loss, grad.reshape(out.shape)


_EXACT: dict[tuple, bool] = {}  # operand layouts -> whether torch.bmm rounds as G lone torch.mm calls do


def _lone_like(t: Tensor, offset: int) -> Tensor:
    """A copy of one seed's operand laid out as the lone path lays it out.

    Same strides, ``offset`` elements from a fresh (64-byte aligned)
    allocation: the BLAS picks its kernel, and so its summation order, from
    shapes, strides and alignment, never from the values.
    """
    extent = offset + 1 + sum((n - 1) * st for n, st in zip(t.shape, t.stride()))
    out = torch.empty(extent, dtype=t.dtype).as_strided(t.shape, t.stride(), offset)
    return out.copy_(t)


def _seeds(t: Tensor) -> list[Tensor]:
    """Each seed's slice of a batched operand, as the lone path would hold it."""
    base = t.storage_offset()
    return [_lone_like(x, base) for x in t.unbind(0)]


def _bmm_is_exact(a: Tensor, b: Tensor) -> bool:
    """Whether ``torch.bmm`` gives, bit for bit, each seed's lone ``torch.mm`` for operands laid out as these.

    On an AVX2 MKL, for instance, most products narrower than about 70
    columns take another kernel batched than alone. The answer depends on
    the layout only, so it is measured once per layout, on random operands.
    """
    if a.untyped_storage().data_ptr() % 64 or b.untyped_storage().data_ptr() % 64:
        return False
    key = tuple((tuple(t.shape), t.stride(), t.storage_offset() % 16) for t in (a, b))
    if key not in _EXACT:
        gen = torch.Generator().manual_seed(0)
        exact = True
        for _ in range(2):
            x, y = (_lone_like(torch.empty_strided(t.shape, t.stride()).normal_(generator=gen),
                               t.storage_offset() % 16) for t in (a, b))
            batched = torch.bmm(x, y)
            exact &= all(torch.equal(r, torch.mm(u, v)) for r, u, v in zip(batched, _seeds(x), _seeds(y)))
        _EXACT[key] = exact
    return _EXACT[key]


def _bmm(a: Tensor, b: Tensor) -> Tensor:
    """(G, ..., k) @ (G, k, m) -> (G, ..., m), bit for bit what G lone ``torch.mm`` calls give.

    One rounding difference grows, through the k-WTA's gradient, into a
    different run, so a product is batched only where that is exact
    (:func:`_bmm_is_exact`); elsewhere it is taken seed by seed, each
    operand laid out as the lone path lays it out (:func:`_lone_like`).
    """
    G = a.shape[0]
    a3 = a.reshape(G, -1, a.shape[-1])
    if _bmm_is_exact(a3, b):
        out = torch.bmm(a3, b)
    else:
        out = torch.stack([torch.mm(x, y) for x, y in zip(_seeds(a3), _seeds(b))])
    return out.reshape(*a.shape[:-1], b.shape[-1])


class SeedProducts(Products):
    """G seeds stacked along a leading dimension: :func:`_bmm` products and one total per seed."""

    lead = 1
    mm = staticmethod(_bmm)

    @staticmethod
    def total(x: Tensor) -> Tensor:
        # one full sum per seed: the reduction order of the lone path's (bit for bit)
        return torch.stack([x[g].sum() for g in range(x.shape[0])])


PER_SEED = SeedProducts()


class NetStack:
    """The first-order meta-step of G networks sharing ``net``'s spec, through the passes of hippo_net_functional."""

    def __init__(self, net: HippoNet):
        self.net = net
        self.spec = net.spec

    # -- the meta-step ----------------------------------------------------
    @torch.no_grad()
    def meta_step(self, weights: dict[str, Tensor], m: Tensor, steps: dict[str, Tensor], x: Tensor, y: Tensor,
                  mx: Tensor, my: Tensor) -> StackedMetaStep:
        """Inner loop on x (G, B, in) / y (G, B), then the meta-loss on mx (G, N, in) / my (G, N) and its gradients.

        ``steps`` holds each projection's inner step size per seed (G,).
        """
        G, B = x.shape[0], x.shape[1]
        keys = [p.key for p in self.spec.projections]
        dst = {p.key: p.dst for p in self.spec.projections}
        src = {p.key: p.src for p in self.spec.projections}
        fast = {k: weights[k].clone() for k in keys}
        H = {k: x.new_empty(G, B, weights[k].shape[2]) for k in keys}
        D = {k: x.new_empty(G, B, weights[k].shape[1]) for k in keys}
        alphas = {k: [-float(v) for v in steps[k]] for k in keys}
        net = self.net
        for i in range(B):
            tr = forward(net, x[:, i:i + 1], fast, m, products=PER_SEED, trace=True)
            _, g_out = cross_entropy_and_grad(tr.out, y[:, i:i + 1])
            errors, _, _, _ = backward(net, tr, g_out, fast, products=PER_SEED)
            for k in keys:
                h, d = tr.normed[src[k]], errors[dst[k]]  # (G, 1, in), (G, 1, out)
                H[k][:, i] = h[:, 0]
                D[k][:, i] = d[:, 0]
                if i + 1 < B:  # seed by seed: addr_ may call BLAS ger, whose rounding no batched op matches
                    for g in range(G):
                        fast[k][g].addr_(d[g, 0], h[g, 0], alpha=alphas[k][g])
        mask = torch.tril(x.new_ones(B, B))
        low_rank = {k: LowRank(H[k], D[k], steps[k].reshape(G, 1, 1) * mask) for k in keys}  # C: (G, B, B)
        tr = forward(net, mx, weights, m, low_rank, products=PER_SEED, trace=True)
        loss, g_out = cross_entropy_and_grad(tr.out, my)
        _, d_w, d_c, d_m = backward(net, tr, g_out, weights, low_rank, products=PER_SEED, param_grads=True)
        d_c = {k: torch.stack([(d_c[k][g] * mask).sum() for g in range(G)]) for k in keys}
        return StackedMetaStep(loss, d_w, d_c, d_m, H, D)
