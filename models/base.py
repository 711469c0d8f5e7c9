"""The model contract: a registered builder with a Config."""

from __future__ import annotations

from torch import nn

from hippo_bench.registry import Component


class ModelSpec(Component):
    """A registered network: ``build(input_shape, n_outputs) -> nn.Module``.

    Models take ``forward(x)``; models that use task labels take
    ``forward(x, task_labels)`` (Avalanche's ``MultiTaskModule``).
    """

    def build(self, input_shape: tuple[int, ...], n_outputs: int, heads: dict[str, int] | None = None) -> nn.Module:  # pragma: no cover
        raise NotImplementedError


class LayeredModel(nn.Module):
    """Interface of networks whose layers and pathways analyses can name.

    ``hidden_activations(x)`` returns post-activation hidden layers by name
    (in forward order); ``layer_groups`` maps layer names to groups (for
    example NC, TSP, MSP); ``lesions`` names the pathways ``forward`` can
    remove; ``lesion(name)`` is a context manager that removes one during
    its block (``None`` means intact). Models without this interface are
    analysed through forward hooks on their activation modules
    (:func:`hidden_activations`).
    """

    layer_groups: dict[str, str] = {}
    lesions: tuple[str, ...] = ()

    def hidden_activations(self, x):  # pragma: no cover - interface
        raise NotImplementedError

    def lesion(self, name: str | None):  # pragma: no cover - interface
        raise NotImplementedError


def hidden_activations(model: nn.Module, x) -> dict:
    """Hidden-layer activations by name for any model.

    Uses ``model.hidden_activations`` when the model is a LayeredModel;
    otherwise hooks every ReLU-like activation module and names each by its
    module path.
    """
    import torch

    if isinstance(model, LayeredModel):
        with torch.no_grad():
            return model.hidden_activations(x)
    acts: dict = {}
    handles = []
    kinds = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.LeakyReLU, nn.ELU)
    for name, mod in model.named_modules():
        if isinstance(mod, kinds):
            handles.append(mod.register_forward_hook(
                lambda m, i, o, name=name: acts.__setitem__(name, o.detach().flatten(1))))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return acts
