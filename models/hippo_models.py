"""Registered meta-hippo networks: mlp2, mlp4, dual and chorse (docs/DESIGN.md)."""

from __future__ import annotations

import dataclasses

from hippo_bench.models import register
from hippo_bench.models.base import ModelSpec
from hippo_bench.models.hippo_net import (HippoNet, chorse_spec, dual_spec, head_sizes, input_size,
                                          mlp_spec)
from hippo_bench.params import param


@dataclasses.dataclass
class InhibitionConfig:
    """Fields every meta-hippo network shares."""

    m_init: float = param(0.01, "initial inhibition multiplier m per hidden layer")
    k_fraction: float = param(0.01, "k of the k-WTA threshold as a fraction of the layer's units", min=0.0, max=1.0)
    k_floor: int = param(2, "smallest k (the seed's reproduction presets use 1: k = int(0.01 n))", min=1)


class HippoModel(ModelSpec):
    """The HippoNet models' base: the seed's reference and a build from a NetSpec (plots know them by it)."""

    references = ("Schapiro lab meta-CLS poster and code (schapirolab/meta-CLS)",)

    def _net(self, spec, input_shape):
        c = self.config
        return HippoNet(spec, input_size(input_shape), m_init=c.m_init, k_fraction=c.k_fraction,
                        k_floor=c.k_floor)


@register("mlp2")
class MLP2(HippoModel):
    description = "meta-hippo single pathway: 2 x 200, L2-normalised inputs, no biases, learned k-WTA"

    @dataclasses.dataclass
    class Config(InhibitionConfig):
        hidden: list[int] = param([200, 200], "hidden layer sizes", min=1)

    def build(self, input_shape, n_outputs, heads=None):
        return self._net(mlp_spec(self.config.hidden, head_sizes(n_outputs, heads)), input_shape)


@register("mlp4")
class MLP4(MLP2):
    description = "meta-hippo single pathway: 4 x 100, L2-normalised inputs, no biases, learned k-WTA"

    @dataclasses.dataclass
    class Config(InhibitionConfig):
        hidden: list[int] = param([100, 100, 100, 100], "hidden layer sizes", min=1)


@register("dual")
class Dual(HippoModel):
    description = "meta-hippo dual pathway: 3 x 200 shared, then 1000-unit (TSP-like) and 200-unit (MSP-like) branches"

    @dataclasses.dataclass
    class Config(InhibitionConfig):
        shared: list[int] = param([200, 200, 200], "shared layer sizes", min=1)
        large: int = param(1000, "units of the large (sparse, fast) branch", min=1)
        small: int = param(200, "units of the small (dense, slow) branch", min=1)

    def build(self, input_shape, n_outputs, heads=None):
        c = self.config
        return self._net(dual_spec(c.shared, c.large, c.small, head_sizes(n_outputs, heads)), input_shape)


@register("chorse")
class CHorse(HippoModel):
    description = "C-HORSE topology: NC -> ECin -> DG -> CA3 -> CA1 (+ ECin -> CA1) -> ECout -> heads"
    references = ("Schapiro et al. 2017, Phil. Trans. R. Soc. B (C-HORSE)",) + HippoModel.references

    @dataclasses.dataclass
    class Config(InhibitionConfig):
        neocortex: list[int] = param([200], "neocortical layer sizes before ECin (empty: input is ECin)", min=1)
        ec: int = param(100, "ECin and ECout units", min=1)
        scale: float = param(1.0, "scales DG 400 : CA3 80 : CA1 100 (C-HORSE ratios)", min=0.01)

    def build(self, input_shape, n_outputs, heads=None):
        c = self.config
        s = c.scale
        return self._net(chorse_spec(c.neocortex, c.ec, round(400 * s), max(1, round(80 * s)),
                                     round(100 * s), head_sizes(n_outputs, heads)), input_shape)

