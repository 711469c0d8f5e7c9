"""Plain multilayer perceptron, the baselines' network (La-MAML/MER use 784-100-100-10)."""

from __future__ import annotations

import dataclasses
import math

from torch import nn

from hippo_bench.models import register
from hippo_bench.models.base import ModelSpec
from hippo_bench.params import param


@register("mlp")
class MLP(ModelSpec):
    description = "ReLU MLP with biases (default 2 x 100, as in La-MAML and MER)"
    references = ("Lopez-Paz & Ranzato 2017 (GEM)", "Riemer et al. 2019 (MER)", "Gupta et al. 2020 (La-MAML)")

    @dataclasses.dataclass
    class Config:
        hidden: list[int] = param([100, 100], "hidden layer sizes", min=1)

    def build(self, input_shape, n_outputs, heads=None):
        sizes = [math.prod(input_shape), *self.config.hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], n_outputs))
        return nn.Sequential(*layers)
