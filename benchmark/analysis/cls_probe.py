"""The tidy-row probe of the CLS paradigms: recall, production and per-layer similarity, per lesion.

After every evaluation the runner calls ``probe(model, instance)``. The
probe shows each item alone, reads the output (sigmoid of the logits: the
benchmark's loss is binary cross-entropy on logits) and every hidden layer
(``hidden_activations``: named layers of a ``LayeredModel``, hooked
activations otherwise), and repeats this with each of the model's pathways
lesioned. Metric names:

- ``accuracy`` (lesioned conditions only; the runner records the intact one):
  item recall per test experience.
- ``similarity_<contrast>``: mean pattern correlation of the contrast's item
  pairs, entity = layer, group = the model's layer group.
- ``production_<relation>``, ``..._foil``, ``..._choice``: output activity of
  the targets and of the foils when the cue is shown alone, and the
  two-alternative choice rate (entity "output").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hippo_bench.analysis.item_layout import ItemLayout
from hippo_bench.analysis.lesions import INTACT, lesion_conditions, lesioned
from hippo_bench.analysis.production import production
from hippo_bench.analysis.similarity import correlation_matrix, mean_similarity
from hippo_bench.models.base import hidden_activations
from hippo_bench.tasks.base import Measure

OUTPUT_ENTITY = "output"


def item_measures(layout: ItemLayout, logits: Tensor, hidden: dict[str, Tensor], groups: dict[str, str],
                  lesion: str = INTACT) -> list[Measure]:
    """Measures of one condition from the outputs and hidden patterns of every item shown alone."""
    out: list[Measure] = []
    if lesion != INTACT:
        predicted = logits.argmax(dim=1).tolist()
        for j, items in enumerate(layout.test_items):
            recall = sum(predicted[i] == layout.unit_of[i] for i in items) / len(items)
            out.append(Measure("accuracy", recall, eval_exp=j, lesion=lesion))
    for layer, patterns in hidden.items():
        corr = correlation_matrix(patterns)
        for name, pairs in layout.contrasts.items():
            out.append(Measure(f"similarity_{name}", mean_similarity(corr, pairs), entity=layer,
                               group=groups.get(layer, ""), lesion=lesion))
    activity = torch.sigmoid(logits.detach().to(torch.float64))
    for name, relations in layout.relations.items():
        score = production(activity, relations, layout.unit_of)
        for suffix, value in (("", score.target), ("_foil", score.foil), ("_choice", score.choice)):
            out.append(Measure(f"production_{name}{suffix}", value, entity=OUTPUT_ENTITY, lesion=lesion))
    return out


def _forward(model: nn.Module, x: Tensor) -> Tensor:
    from avalanche.models.utils import avalanche_forward

    return avalanche_forward(model, x, torch.zeros(len(x), dtype=torch.long, device=x.device))


class ItemProbe:
    """``probe(model, instance)`` for a paradigm's :class:`ItemLayout`."""

    def __init__(self, layout: ItemLayout):
        self.layout = layout

    def __call__(self, model: nn.Module, instance=None) -> list[Measure]:
        param = next(model.parameters(), None)
        x = self.layout.single_item_inputs().to(param.device if param is not None else "cpu")
        groups = dict(getattr(model, "layer_groups", {}) or {})
        was_training = model.training
        model.eval()
        measures: list[Measure] = []
        try:
            for lesion in lesion_conditions(model):
                with lesioned(model, lesion), torch.no_grad():
                    logits = _forward(model, x)
                    hidden = hidden_activations(model, x)
                measures += item_measures(self.layout, logits, hidden, groups, lesion)
        finally:
            model.train(was_training)
        return measures
