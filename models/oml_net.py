"""OML's network: a convolutional representation and a linear prediction head.

Javed & White 2019 (khurramjaved96/mrcl ``model/modelfactory.py``, the
updated 2020 version): six 3x3 convolutions of 256 channels, no padding,
strides 2, 1, 2, 1, 2, 2, each followed by a ReLU, on 84x84 Omniglot
images, then one linear layer, the only part updated online at meta-test.
The defaults here are sized for 28x28 images on a CPU (four convolutions of
64 channels, strides 2, 1, 2, 1: 3x3x64 = 576 features); OML's own network
is ``--model-channels 256 --model-strides 2 1 2 1 2 2`` with
``--bench-image-size 84``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from hippo_bench.errors import UserError
from hippo_bench.models import register
from hippo_bench.models.base import ModelSpec
from hippo_bench.params import param

OML_REF = "Javed & White 2019 (OML; khurramjaved96/mrcl)"


class RepresentationAndHead(nn.Module):
    """``head(representation(x))``; the strategy decides which part learns when."""

    def __init__(self, representation: nn.Module, head: nn.Linear):
        super().__init__()
        self.representation = representation
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.representation(x))


@register("oml-net")
class OMLNet(ModelSpec):
    description = "OML's conv representation (3x3 convolutions, no padding, ReLU) and linear head"
    references = (OML_REF,)

    @dataclasses.dataclass
    class Config:
        channels: int = param(64, "channels of every convolution (OML: 256)", min=1, max=1024)
        strides: list[int] = param([2, 1, 2, 1], "one 3x3 convolution per stride (OML on 84x84: 2 1 2 1 2 2)",
                                   min=1, max=4)

    def build(self, input_shape, n_outputs, heads=None):
        if len(input_shape) != 3:
            raise UserError(f"oml-net needs image inputs (channels, height, width), got shape {tuple(input_shape)}")
        c = self.config
        in_ch, h, w = input_shape
        layers: list[nn.Module] = []
        for stride in c.strides:
            layers += [nn.Conv2d(in_ch, c.channels, kernel_size=3, stride=stride), nn.ReLU()]
            in_ch = c.channels
            h, w = (h - 3) // stride + 1, (w - 3) // stride + 1
            if h < 1 or w < 1:
                raise UserError(f"--model-strides {' '.join(map(str, c.strides))}: the image "
                                f"({input_shape[1]}x{input_shape[2]}) shrinks to nothing; use fewer or smaller strides")
        layers.append(nn.Flatten())
        representation = nn.Sequential(*layers)
        return RepresentationAndHead(representation, nn.Linear(c.channels * h * w, n_outputs))


def feature_size(model: RepresentationAndHead) -> int:
    return model.head.in_features


def reset_head(head: nn.Linear, rows: Tensor | None = None) -> None:
    """OML's head reset: Kaiming-normal weights (all rows, or ``rows``), zero bias for a full reset."""
    with torch.no_grad():
        if rows is None:
            nn.init.kaiming_normal_(head.weight)
            head.bias.zero_()
        else:
            for r in rows.tolist():
                nn.init.kaiming_normal_(head.weight[r:r + 1])
