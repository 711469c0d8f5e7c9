"""The meta-hippo network: named layers and projections with learned k-WTA inhibition.

A network is a declarative :class:`NetSpec`: hidden and output layers in
forward order, and bias-free projections between them. Every projection's
source activity is L2-normalised before its weight is applied (as in the
seed's code, ``--normalize_hidden``); a layer sums its incoming projections.
Hidden layers apply the learned inhibition of docs/DESIGN.md::

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
(``hippo_bench.strategies.meta.fast_weights``) uses this to evaluate the
meta-loss at every inner step in one batched pass. The passes themselves,
forward and hand-written backward, are
:mod:`hippo_bench.models.hippo_net_functional`, shared with the seed-batched
path (:mod:`hippo_bench.models.hippo_net_stack`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hippo_bench.models import hippo_net_functional as fn
from hippo_bench.models.base import LayeredModel
from hippo_bench.models.hippo_net_functional import kth_largest


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
    name: str = dataclasses.field(init=False, compare=False)  # "src->dst"
    key: str = dataclasses.field(init=False, compare=False)  # "src__dst" (parameter names allow no "." or ">")

    def __post_init__(self):
        object.__setattr__(self, "name", f"{self.src}->{self.dst}")
        object.__setattr__(self, "key", f"{self.src}__{self.dst}")


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
    return F.relu(z - m * kth_largest(z, k))


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
        self._incoming = {layer.name: tuple(p for p in spec.projections if p.dst == layer.name)
                          for layer in spec.layers}
        self._m_index = {name: i for i, name in enumerate(self.hidden_names)}
        self._active_lesion: str | None = None

    # -- structure (read-only: what the functional passes read) -------
    def incoming(self, layer: str) -> tuple[ProjectionSpec, ...]:
        """The projections into ``layer``, in the spec's order (its pre-activation is their sum)."""
        return self._incoming[layer]

    def inhibition_index(self, layer: str) -> int:
        """Which entry of ``inhibition`` is the multiplier m of hidden layer ``layer``."""
        return self._m_index[layer]

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
            low_rank: dict[str, LowRank] | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Forward pass (autograd-friendly): (logits, activations by layer).

        ``x`` is (N, ...); with ``low_rank`` corrections whose ``C`` has S
        rows the result is (S, N, ...) for S weight states. ``weights`` and
        ``inhibition`` replace the module's own tensors (functional use).
        """
        if x.dim() != 2:
            x = x.flatten(1)  # images (N, C, H, W) -> (N, features)
        tr = fn.forward(self, x, self.weights if weights is None else weights,
                        self.inhibition if inhibition is None else inhibition, low_rank, lesioned=self._lesioned())
        return tr.out, tr.acts

    def _lesioned(self) -> frozenset[str]:
        return frozenset(self.spec.lesions.get(self._active_lesion, ())) if self._active_lesion else frozenset()

    def sample_errors(self, x: Tensor, loss_grad, weights: dict[str, Tensor] | None = None):
        """One sample's projection inputs h and layer errors dL/dz, by hand (no autograd graph).

        This is the inner step of first-order meta-learning: the gradient of
        projection p is ``outer(errors[p.dst], inputs[p.key])``. ``loss_grad``
        maps the (1, n_out) logits to (loss, dL/dlogits). ``weights`` (by
        projection key) replace the module's own, e.g. the current fast weights.
        """
        with torch.no_grad():
            if weights is None:
                weights = dict(self.weights.items())  # plain dict: ParameterDict lookups are slow here
            tr = fn.forward(self, x.reshape(1, -1), weights, self.inhibition, lesioned=self._lesioned(), trace=True)
            loss, g_out = loss_grad(tr.out)
            errors, _, _, _ = fn.backward(self, tr, g_out, weights)
            inputs = {p.key: tr.normed[p.src] for p in self.spec.projections}
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
            weights = dict(self.weights.items())
            tr = fn.forward(self, x.flatten(1), weights, self.inhibition, low_rank, lesioned=self._lesioned(),
                            trace=True)
            loss, g_out = loss_grad(tr.out)
            _, d_w, d_c, d_m = fn.backward(self, tr, g_out, weights, low_rank, param_grads=True)
        return loss, d_w, d_c, d_m

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
