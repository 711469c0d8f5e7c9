"""The weight initialisations the papers' code uses for its MLP (La-MAML: Kaiming normal; GEM and MER: Xavier uniform)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

InitScheme = Literal["kaiming-normal", "xavier-uniform", "default"]


def init_weights(model: nn.Module, scheme: InitScheme) -> None:
    """Re-initialise every Linear and Conv2d weight (biases to zero) as the papers' code does.

    ``kaiming-normal``: La-MAML's ``Learner`` and OML (``kaiming_normal_``,
    fan-in, gain sqrt 2); ``xavier-uniform``: GEM's ``common.py`` used by MER
    (uniform with bound sqrt(6 / (fan_in + fan_out))); ``default``: leave
    PyTorch's initialisation alone.
    """
    if scheme == "default":
        return
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, (nn.Linear, nn.Conv2d)):
                continue
            if scheme == "kaiming-normal":
                nn.init.kaiming_normal_(module.weight)
            elif scheme == "xavier-uniform":
                nn.init.xavier_uniform_(module.weight)
            else:  # pragma: no cover - guarded by the Config's Literal
                raise ValueError(f"unknown initialisation {scheme!r}")
            if module.bias is not None:
                module.bias.zero_()
