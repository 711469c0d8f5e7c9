"""G HippoNets of one spec as one batched network: the first-order meta-step of G seeds at once.

The meta-hippo loop on the seed's protocols is bound by per-operation
overhead: its largest product is 10 x 784 by 784 x 200. Stacking the weights
of G networks with the same :class:`~hippo_bench.models.hippo_net.NetSpec`
along a leading dimension turns G small products into one batched product,
so G seeds cost little more than one. The computation is the one of
:class:`~hippo_bench.strategies.meta_learning.LowRankPath` and
:meth:`HippoNet._forward` / :meth:`HippoNet._backward`, with a leading seed
dimension G everywhere:

- the inner loop takes B single-sample steps per seed on explicit fast
  weights (G, out, in), recording every step's input h and error delta;
- the meta-loss evaluates the meta-batch (G, N, ...) under every one of the
  B weight states ``W - sum_j C[s, j] * delta_j h_j^T`` (C = step x "j <= s")
  without materialising them, and backpropagates by hand into the slow
  weights, the inhibition multipliers m and the step-size coefficients C.

Only plain cross-entropy is supported (its gradient in closed form), as in
the single-seed path's fast case.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from hippo_bench.models.hippo_net import HippoNet, kth_largest


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


class NetStack:
    """The batched forward and hand-written backward of G networks sharing ``net``'s spec."""

    def __init__(self, net: HippoNet):
        self.net = net
        self.spec = net.spec

    # -- forward --------------------------------------------------------
    def forward(self, x: Tensor, weights: dict[str, Tensor], m: Tensor, C: dict[str, Tensor] | None = None,
                H: dict[str, Tensor] | None = None, D: dict[str, Tensor] | None = None) -> dict:
        """Forward x (G, N, in) through weights (G, out, in) and, with C (G, S, B), S low-rank states.

        Returns the trace the backward needs: activations, normalised inputs
        and their norms, overlaps h . h_j, active masks and thresholds.
        """
        net = self.net
        G = x.shape[0]
        tr: dict = dict(acts={"input": x}, normed={}, norms={}, overlaps={}, active={}, theta={})
        for layer in self.spec.layers:
            z = None
            for p in net._incoming[layer.name]:
                if p.src not in tr["normed"]:
                    a = tr["acts"][p.src]
                    norm = torch.linalg.vector_norm(a, dim=-1, keepdim=True).clamp_min(1e-12)
                    tr["norms"][p.src], tr["normed"][p.src] = norm, a / norm
                h = tr["normed"][p.src]
                contrib = _bmm(h, weights[p.key].mT)
                if C is not None:
                    overlap = _bmm(h, H[p.key].mT)  # (G, [S,] N, B)
                    tr["overlaps"][p.key] = overlap
                    if overlap.dim() == 3:  # the input: shared by every weight state
                        overlap = overlap.unsqueeze(1)
                        contrib = contrib.unsqueeze(1)
                    contrib = contrib - _bmm(overlap * C[p.key].unsqueeze(-2), D[p.key])
                z = contrib if z is None else z + contrib
            if layer.output:
                tr["acts"][layer.name] = z
                continue
            theta = kth_largest(z, net.k[layer.name])
            i = net._m_index[layer.name]
            u = z - m[:, i].reshape(G, *([1] * (z.dim() - 1))) * theta
            a = u.clamp_min_(0)
            tr["acts"][layer.name] = a
            tr["active"][layer.name], tr["theta"][layer.name] = a.sign(), theta
        outs = [tr["acts"][o] for o in self.spec.outputs]
        tr["out"] = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]
        return tr

    # -- backward -------------------------------------------------------
    def backward(self, tr: dict, g_out: Tensor, weights: dict[str, Tensor], param_grads: bool,
                 C: dict[str, Tensor] | None = None, H: dict[str, Tensor] | None = None,
                 D: dict[str, Tensor] | None = None):
        """dL/dz of every layer and, with ``param_grads``, dL/dW (G, out, in), dL/dC (G, S, B), dL/dm (G, L)."""
        net = self.net
        G = g_out.shape[0]
        grads: dict[str, Tensor] = {}
        start = 0
        for o in self.spec.outputs:
            grads[o] = g_out[..., start:start + net.units[o]]
            start += net.units[o]
        errors: dict[str, Tensor] = {}
        d_w: dict[str, Tensor] = {}
        d_c: dict[str, Tensor] = {}
        d_m = g_out.new_zeros(G, len(net.hidden_names)) if param_grads else None
        for layer in reversed(self.spec.layers):
            g = grads.get(layer.name)
            if g is None:
                continue
            delta = g if layer.output else g * tr["active"][layer.name]
            errors[layer.name] = delta
            if param_grads and not layer.output:
                prod = delta * tr["theta"][layer.name]
                # one full sum per seed: the same reduction order as the single-seed path's (bit for bit)
                d_m[:, net._m_index[layer.name]] = torch.stack([-prod[g].sum() for g in range(G)])
            for p in net._incoming[layer.name]:
                h = tr["normed"][p.src]
                needs_input_grad = p.src != "input"
                low_rank = C is not None
                d_prod = _bmm(delta, D[p.key].mT) if low_rank else None  # (G, S, N, B)
                if param_grads:
                    if h.dim() < delta.dim():  # the input, shared by every weight state
                        d_w[p.key] = _bmm(delta.sum(1).mT, h)
                    else:
                        d_w[p.key] = _bmm(delta.reshape(G, -1, delta.shape[-1]).mT, h.reshape(G, -1, h.shape[-1]))
                    if low_rank:
                        overlap = tr["overlaps"][p.key]
                        if overlap.dim() < d_prod.dim():
                            overlap = overlap.unsqueeze(1)
                        d_c[p.key] = -(d_prod * overlap).sum(-2)
                if not needs_input_grad:
                    continue
                dh = _bmm(delta, weights[p.key])
                if low_rank:
                    dh = dh - _bmm(d_prod * C[p.key].unsqueeze(-2), H[p.key])
                da = (dh - h * (h * dh).sum(-1, keepdim=True)) / tr["norms"][p.src]
                grads[p.src] = da if p.src not in grads else grads[p.src] + da
        return errors, d_w, d_c, d_m

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
        for i in range(B):
            tr = self.forward(x[:, i:i + 1], fast, m)
            _, g_out = cross_entropy_and_grad(tr["out"], y[:, i:i + 1])
            errors, _, _, _ = self.backward(tr, g_out, fast, param_grads=False)
            for k in keys:
                h, d = tr["normed"][src[k]], errors[dst[k]]  # (G, 1, in), (G, 1, out)
                H[k][:, i] = h[:, 0]
                D[k][:, i] = d[:, 0]
                if i + 1 < B:  # seed by seed: addr_ may call BLAS ger, whose rounding no batched op matches
                    for g in range(G):
                        fast[k][g].addr_(d[g, 0], h[g, 0], alpha=alphas[k][g])
        mask = torch.tril(x.new_ones(B, B))
        C = {k: steps[k].reshape(G, 1, 1) * mask for k in keys}
        tr = self.forward(mx, weights, m, C, H, D)
        loss, g_out = cross_entropy_and_grad(tr["out"], my)
        _, d_w, d_c, d_m = self.backward(tr, g_out, weights, param_grads=True, C=C, H=H, D=D)
        d_c = {k: torch.stack([(d_c[k][g] * mask).sum() for g in range(G)]) for k in keys}
        return StackedMetaStep(loss, d_w, d_c, d_m, H, D)
