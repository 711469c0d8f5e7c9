"""The meta-hippo network: named layers and projections with learned k-WTA inhibition.

A network is a declarative :class:`NetSpec`: hidden and output layers in
forward order, and bias-free projections between them. Every projection's
source activity is L2-normalised before its weight is applied (as in the
seed's code, ``--normalize_hidden``); a layer sums its incoming projections.
Hidden layers apply the learned inhibition of DESIGN.md section 4::

    a = relu(z - m * sg(theta_k(z)))

with ``theta_k`` the k-th largest pre-activation of the sample, ``sg`` stop
gradient and ``m >= 0`` one scalar per layer (the ``inhibition`` buffer, so
plain SGD strategies do not train it; meta-hippo meta-learns it). ``m = 0``
is a plain ReLU; for Gaussian pre-activations m = 0.5, 0.8, 1.0 leave about
12%, 3%, 1% of units active. Output layers are linear (logits).

The forward pass also runs on *low-rank fast weights*: a projection's fast
weight after first-order inner steps on single samples is
``W - sum_j c_j * delta_j h_j^T`` (each single-sample gradient of a bias-free
linear map is rank one), so ``fast(x) = W x - sum_j c_j (h_j . x) delta_j``
is computed without materialising any weight copy. The meta-learning loop
(``hippo_bench.strategies.meta_learning``) uses this to evaluate the
meta-loss at every inner step in one batched pass.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hippo_bench.models.base import LayeredModel


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    name: str
    units: int
    group: str
    output: bool = False  # output layers are linear logits (no inhibition)


@dataclasses.dataclass(frozen=True)
class ProjectionSpec:
    src: str  # "input" or a layer name
    dst: str
    group: str

    @property
    def name(self) -> str:
        return f"{self.src}->{self.dst}"

    @property
    def key(self) -> str:  # parameter names may not contain "." or ">"
        return f"{self.src}__{self.dst}"


@dataclasses.dataclass(frozen=True)
class NetSpec:
    """Layers in forward order, projections, output layers and named lesions."""

    layers: tuple[LayerSpec, ...]
    projections: tuple[ProjectionSpec, ...]
    outputs: tuple[str, ...]
    lesions: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # name -> projection names

    def __post_init__(self):
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names) or "input" in names:
            raise ValueError("layer names must be unique and not 'input'")
        seen = {"input"}
        for layer in self.layers:
            for p in self.projections:
                if p.dst == layer.name and p.src not in seen:
                    raise ValueError(f"projection {p.name} comes from a later layer (layers must be in forward order)")
            seen.add(layer.name)
        proj_names = {p.name for p in self.projections}
        for lesion, projs in self.lesions.items():
            missing = set(projs) - proj_names
            if missing:
                raise ValueError(f"lesion {lesion!r} names unknown projections {sorted(missing)}")
        for o in self.outputs:
            if o not in names:
                raise ValueError(f"output {o!r} is not a layer")


def k_active(units: int, k_fraction: float, k_floor: int) -> int:
    """k of the k-WTA threshold: int(fraction * units), at least ``k_floor`` (and at most units)."""
    return max(1, min(units, max(k_floor, int(k_fraction * units))))


def inhibit(z: Tensor, m: Tensor, k: int) -> Tensor:
    """relu(z - m * sg(k-th largest z)) along the last dimension."""
    theta = torch.topk(z.detach(), k, dim=-1, sorted=True).values[..., k - 1:k]
    return F.relu(z - m * theta)


@dataclasses.dataclass
class LowRank:
    """First-order fast-weight corrections of one projection.

    ``H`` (B, in) and ``D`` (B, out) are the inputs and output errors of B
    single-sample inner steps; ``C`` (S, B) weighs step j in weight state i
    (learning rate times "step j happened before state i"). State i's
    weight is ``W - sum_j C[i, j] * D[j] H[j]^T``.
    """

    H: Tensor
    D: Tensor
    C: Tensor


class HippoNet(LayeredModel):
    """A :class:`NetSpec` network with learned inhibition; see the module docstring."""

    def __init__(self, spec: NetSpec, input_size: int, *, m_init: float = 0.01, k_fraction: float = 0.01,
                 k_floor: int = 2):
        super().__init__()
        self.spec = spec
        self.input_size = input_size
        sizes = {"input": input_size, **{layer.name: layer.units for layer in spec.layers}}
        self.weights = nn.ParameterDict()
        for p in spec.projections:
            w = torch.empty(sizes[p.dst], sizes[p.src])
            nn.init.kaiming_normal_(w)  # as the seed's code (fan_in, ReLU gain)
            self.weights[p.key] = nn.Parameter(w)
        self.hidden_names = tuple(layer.name for layer in spec.layers if not layer.output)
        self.register_buffer("inhibition", torch.full((len(self.hidden_names),), float(m_init)))
        self.k = {layer.name: k_active(layer.units, k_fraction, k_floor) for layer in spec.layers}
        self.units = {layer.name: layer.units for layer in spec.layers}
        self.layer_groups = {layer.name: layer.group for layer in spec.layers}
        self.projection_groups = {p.name: p.group for p in spec.projections}
        self.lesions = tuple(spec.lesions)
        self._incoming = {layer.name: [p for p in spec.projections if p.dst == layer.name] for layer in spec.layers}
        self._m_index = {name: i for i, name in enumerate(self.hidden_names)}
        self._active_lesion: str | None = None

    # -- LayeredModel interface -----------------------------------------
    @contextlib.contextmanager
    def lesion(self, name: str | None) -> Iterator[None]:
        if name is not None and name not in self.spec.lesions:
            raise ValueError(f"unknown lesion {name!r}; this network has {list(self.spec.lesions)}")
        previous, self._active_lesion = self._active_lesion, name
        try:
            yield
        finally:
            self._active_lesion = previous

    def hidden_activations(self, x: Tensor) -> dict[str, Tensor]:
        acts = self.run(x)[1]
        return {name: acts[name] for name in self.hidden_names}

    def forward(self, x: Tensor, task_labels: Tensor | None = None) -> Tensor:
        return self.run(x)[0]

    # -- the computation ------------------------------------------------
    def projection_names(self) -> list[str]:
        return [p.name for p in self.spec.projections]

    def run(self, x: Tensor, *, weights: dict[str, Tensor] | None = None, inhibition: Tensor | None = None,
            low_rank: dict[str, LowRank] | None = None, keep_pre: bool = False):
        """Forward pass: (logits, activations by layer, pre-activations, projection inputs).

        ``x`` is (N, ...) or (S, N, ...) for S weight states. ``weights`` and
        ``inhibition`` replace the module's own tensors (functional use);
        ``low_rank`` adds first-order fast-weight corrections per projection
        key. ``keep_pre`` returns the pre-activations z (for inner-step
        errors) and each projection's normalised input h.
        """
        w = self.weights if weights is None else weights
        m_all = self.inhibition if inhibition is None else inhibition
        lesioned = set(self.spec.lesions.get(self._active_lesion, ())) if self._active_lesion else set()
        if low_rank is None and x.dim() != 2:
            x = x.flatten(1)  # images (N, C, H, W) -> (N, features)
        acts: dict[str, Tensor] = {"input": x}
        normed: dict[str, Tensor] = {}
        pre: dict[str, Tensor] = {}
        inputs: dict[str, Tensor] = {}
        for layer in self.spec.layers:
            z = None
            for p in self._incoming[layer.name]:
                if p.name in lesioned:
                    continue
                if p.src not in normed:
                    normed[p.src] = F.normalize(acts[p.src], dim=-1)
                h = normed[p.src]
                contrib = h @ w[p.key].t()
                if low_rank is not None and p.key in low_rank:
                    lr_ = low_rank[p.key]
                    # (S, N, B): weight of inner step j for sample n in state i
                    coef = (h @ lr_.H.t()) * lr_.C.unsqueeze(-2)
                    contrib = contrib - coef @ lr_.D
                if keep_pre:
                    inputs[p.key] = h
                z = contrib if z is None else z + contrib
            if z is None:  # every incoming projection lesioned
                lead = acts["input"].shape[:-1]
                z = acts["input"].new_zeros(*lead, layer.units)
            if keep_pre:
                pre[layer.name] = z
            if layer.output:
                acts[layer.name] = z
            else:
                m = m_all[self._m_index[layer.name]]
                acts[layer.name] = inhibit(z, m, self.k[layer.name])
        out = torch.cat([acts[o] for o in self.spec.outputs], dim=-1) if len(self.spec.outputs) > 1 \
            else acts[self.spec.outputs[0]]
        return out, acts, pre, inputs

    def sample_errors(self, x: Tensor, loss_grad, low_rank: dict[str, LowRank] | None = None,
                      input_terms: dict[str, tuple[Tensor, Tensor]] | None = None):
        """One sample's projection inputs h and layer errors dL/dz, by hand (no autograd graph).

        This is the inner step of first-order meta-learning: the gradient of
        projection p is ``outer(errors[p.dst], inputs[p.key])``. ``loss_grad``
        maps the (1, n_out) logits to (loss, dL/dlogits). The weights are the
        module's own plus the ``low_rank`` fast-weight corrections; the
        inhibition threshold is a constant (stop gradient), so the error
        passes a hidden layer through its active units only. ``input_terms``
        may hold, per projection from the input, the normalised sample and
        its product with the slow weight, computed for a whole batch at once.
        """
        with torch.no_grad():
            w = dict(self.weights.items())  # plain dict: ParameterDict lookups are slow in this hot loop
            m_all = self.inhibition
            x = x.reshape(1, -1)
            acts: dict[str, Tensor] = {"input": x}
            normed: dict[str, Tensor] = {}
            norms: dict[str, Tensor] = {}
            active: dict[str, Tensor] = {}
            for layer in self.spec.layers:
                z = None
                for p in self._incoming[layer.name]:
                    if input_terms and p.key in input_terms:
                        h, contrib = input_terms[p.key]
                        normed.setdefault(p.src, h)
                    else:
                        if p.src not in normed:
                            a = acts[p.src]
                            norms[p.src] = torch.linalg.vector_norm(a).clamp_min(1e-12)
                            normed[p.src] = a / norms[p.src]
                        h = normed[p.src]
                        contrib = h @ w[p.key].t()
                    if low_rank is not None and p.key in low_rank:
                        lr_ = low_rank[p.key]
                        contrib = contrib - ((h @ lr_.H.t()) * lr_.C) @ lr_.D
                    z = contrib if z is None else z + contrib
                if layer.output:
                    acts[layer.name] = z
                else:
                    k = self.k[layer.name]
                    theta = torch.topk(z, k, dim=-1).values[..., k - 1:k]
                    a = (z - m_all[self._m_index[layer.name]] * theta).clamp_min_(0)
                    active[layer.name] = a.sign()  # 1.0 where the unit passed the threshold
                    acts[layer.name] = a
            out = torch.cat([acts[o] for o in self.spec.outputs], dim=-1)
            loss, g_out = loss_grad(out)
            grads: dict[str, Tensor] = {}
            start = 0
            for o in self.spec.outputs:
                n = self.units[o]
                grads[o] = g_out[:, start:start + n]
                start += n
            errors: dict[str, Tensor] = {}
            for layer in reversed(self.spec.layers):
                g = grads.get(layer.name)
                if g is None:
                    continue
                delta = g if layer.output else g * active[layer.name]
                errors[layer.name] = delta
                for p in self._incoming[layer.name]:
                    if p.src == "input":
                        continue
                    dh = delta @ w[p.key]
                    if low_rank is not None and p.key in low_rank:
                        lr_ = low_rank[p.key]
                        dh = dh - ((delta @ lr_.D.t()) * lr_.C) @ lr_.H
                    h = normed[p.src]
                    da = (dh - h * (h * dh).sum()) / norms[p.src]
                    grads[p.src] = da if p.src not in grads else grads[p.src] + da
            inputs = {p.key: normed[p.src] for p in self.spec.projections}
        return loss, inputs, errors

    def state_gradients(self, x: Tensor, loss_grad, low_rank: dict[str, LowRank]):
        """Forward a batch through S low-rank weight states and backpropagate by hand.

        ``x`` (N, ...) is shared by the S states of ``low_rank`` (every
        projection's ``C`` is (S, B)); ``loss_grad`` maps the (S, N, n_out)
        logits to (loss, dloss/dlogits). Returns the loss and its gradients
        with respect to each slow weight (key -> (out, in)), each ``C``
        (key -> (S, B)) and the inhibition multipliers m. This is the
        meta-gradient of the first-order loop: the inner-step errors D and
        inputs H are constants.
        """
        with torch.no_grad():
            w = dict(self.weights.items())
            m_all = self.inhibition
            x = x.flatten(1)
            acts: dict[str, Tensor] = {"input": x}
            normed: dict[str, Tensor] = {}
            norms: dict[str, Tensor] = {}
            overlaps: dict[str, Tensor] = {}
            saved: dict[str, tuple[Tensor, Tensor]] = {}
            for layer in self.spec.layers:
                z = None
                for p in self._incoming[layer.name]:
                    if p.src not in normed:
                        a = acts[p.src]
                        norms[p.src] = torch.linalg.vector_norm(a, dim=-1, keepdim=True).clamp_min(1e-12)
                        normed[p.src] = a / norms[p.src]
                    h = normed[p.src]
                    lr_ = low_rank[p.key]
                    overlaps[p.key] = P = h @ lr_.H.t()  # (S|1, N, B)
                    contrib = h @ w[p.key].t() - (P * lr_.C.unsqueeze(-2)) @ lr_.D
                    z = contrib if z is None else z + contrib
                if layer.output:
                    acts[layer.name] = z
                else:
                    k = self.k[layer.name]
                    theta = torch.topk(z, k, dim=-1).values[..., k - 1:k]
                    a = (z - m_all[self._m_index[layer.name]] * theta).clamp_min_(0)
                    saved[layer.name] = (a.sign(), theta)  # 1.0 where the unit passed the threshold
                    acts[layer.name] = a
            out = torch.cat([acts[o] for o in self.spec.outputs], dim=-1)
            loss, g_out = loss_grad(out)
            grads: dict[str, Tensor] = {}
            start = 0
            for o in self.spec.outputs:
                n = self.units[o]
                grads[o] = g_out[..., start:start + n]
                start += n
            d_weights: dict[str, Tensor] = {}
            d_coef: dict[str, Tensor] = {}
            d_m = torch.zeros_like(m_all)
            for layer in reversed(self.spec.layers):
                g = grads.get(layer.name)
                if g is None:
                    continue
                if layer.output:
                    delta = g
                else:
                    active, theta = saved[layer.name]
                    delta = g * active
                    d_m[self._m_index[layer.name]] = -(delta * theta).sum()
                flat_delta = delta.reshape(-1, delta.shape[-1])
                for p in self._incoming[layer.name]:
                    h = normed[p.src]
                    lr_ = low_rank[p.key]
                    if h.dim() == 2:  # the input, shared by every state
                        d_weights[p.key] = delta.sum(0).t() @ h
                    else:
                        d_weights[p.key] = flat_delta.t() @ h.reshape(-1, h.shape[-1])
                    dP = delta @ lr_.D.t()  # (S, N, B): -d loss / d(P * C)
                    d_coef[p.key] = -(dP * overlaps[p.key]).sum(-2)
                    if p.src == "input":
                        continue
                    dh = delta @ w[p.key] - (dP * lr_.C.unsqueeze(-2)) @ lr_.H
                    da = (dh - h * (h * dh).sum(-1, keepdim=True)) / norms[p.src]
                    grads[p.src] = da if p.src not in grads else grads[p.src] + da
        return loss, d_weights, d_coef, d_m

    def fraction_active(self, x: Tensor) -> dict[str, float]:
        """Share of units above zero per hidden layer on a batch."""
        with torch.no_grad():
            acts = self.hidden_activations(x)
        return {name: float((a > 0).float().mean()) for name, a in acts.items()}


# ----------------------------------------------------------------- presets
def _chain(sizes: list[int], prefix: str, group: str, src: str = "input") -> tuple[list[LayerSpec], list[ProjectionSpec], str]:
    layers, projs = [], []
    for i, n in enumerate(sizes):
        name = f"{prefix}{i + 1}"
        layers.append(LayerSpec(name, n, group))
        projs.append(ProjectionSpec(src, name, group))
        src = name
    return layers, projs, src


def mlp_spec(hidden: list[int], heads: dict[str, int]) -> NetSpec:
    """Single pathway: hidden layers h1..hL (each its own group), heads reading the last one."""
    layers, projs, last = [], [], "input"
    for i, n in enumerate(hidden):
        name = f"h{i + 1}"
        layers.append(LayerSpec(name, n, name))
        projs.append(ProjectionSpec(last, name, name))
        last = name
    for head, n in heads.items():
        layers.append(LayerSpec(head, n, "output", output=True))
        projs.append(ProjectionSpec(last, head, "output"))
    return NetSpec(tuple(layers), tuple(projs), tuple(heads))


def dual_spec(shared: list[int], large: int, small: int, heads: dict[str, int]) -> NetSpec:
    """Shared trunk, then a large (sparse, fast: TSP-like) and a small (MSP-like) branch.

    Each branch projects to every head; a head sums its branch inputs (the
    seed's non-merged dual output). Lesion "large" or "small" removes that
    branch's projections to the heads.
    """
    layers, projs, last = _chain(shared, "h", "shared")
    layers += [LayerSpec("large", large, "large"), LayerSpec("small", small, "small")]
    projs += [ProjectionSpec(last, "large", "large"), ProjectionSpec(last, "small", "small")]
    lesions: dict[str, list[str]] = {"large": [], "small": []}
    for head, n in heads.items():
        layers.append(LayerSpec(head, n, "output", output=True))
        for branch in ("large", "small"):
            p = ProjectionSpec(branch, head, branch)
            projs.append(p)
            lesions[branch].append(p.name)
    return NetSpec(tuple(layers), tuple(projs), tuple(heads), {k: tuple(v) for k, v in lesions.items()})


def chorse_spec(nc: list[int], ec: int, dg: int, ca3: int, ca1: int, heads: dict[str, int]) -> NetSpec:
    """C-HORSE topology (Schapiro et al. 2017) as a feed-forward network.

    neocortex -> ECin -> DG -> CA3 -> CA1, ECin -> CA3 (perforant path),
    ECin -> CA1 (monosynaptic), CA1 -> ECout -> heads. Groups: NC, EC,
    TSP (DG, CA3 and the projections ECin->DG, ECin->CA3, DG->CA3,
    CA3->CA1) and MSP (CA1 and ECin->CA1, CA1->ECout). C-HORSE's CA3
    recurrence and the ECout->ECin big loop are not unrolled.
    Lesions: "msp" removes ECin->CA1, "tsp" removes CA3->CA1.
    """
    layers, projs, last = _chain(nc, "nc", "NC")
    layers += [LayerSpec("ecin", ec, "EC"), LayerSpec("dg", dg, "TSP"), LayerSpec("ca3", ca3, "TSP"),
               LayerSpec("ca1", ca1, "MSP"), LayerSpec("ecout", ec, "EC")]
    projs += [ProjectionSpec(last, "ecin", "NC" if nc else "EC"), ProjectionSpec("ecin", "dg", "TSP"),
              ProjectionSpec("ecin", "ca3", "TSP"), ProjectionSpec("dg", "ca3", "TSP"),
              ProjectionSpec("ca3", "ca1", "TSP"), ProjectionSpec("ecin", "ca1", "MSP"),
              ProjectionSpec("ca1", "ecout", "MSP")]
    for head, n in heads.items():
        layers.append(LayerSpec(head, n, "output", output=True))
        projs.append(ProjectionSpec("ecout", head, "output"))
    return NetSpec(tuple(layers), tuple(projs), tuple(heads),
                   {"msp": ("ecin->ca1",), "tsp": ("ca3->ca1",)})


def head_sizes(n_outputs: int, heads: dict[str, int] | None) -> dict[str, int]:
    """The benchmark's heads, or one "out" head of n_outputs units."""
    if heads:
        if sum(heads.values()) != n_outputs:
            raise ValueError(f"heads {heads} do not add up to n_outputs={n_outputs}")
        return dict(heads)
    return {"out": n_outputs}


def input_size(input_shape: tuple[int, ...]) -> int:
    return math.prod(input_shape)
