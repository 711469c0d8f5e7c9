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
- ``item_correlation`` (final evaluation only): the pattern correlation of
  every two items (``item_a`` < ``item_b``, item indices) per hidden layer,
  the matrix the figures draw.

Similarity and production are recorded pooled over all items
(``eval_exp`` -1) and, on continual streams (``layout.per_experience``),
over each test experience's items alone (``eval_exp`` j), so a plot can
show how well the structure of experience j is retained.

Which evaluation is the final one, the runner says (``final=``): the one
after the last experience, whether the run trained experience by experience,
once on the whole stream (joint, offline) or was resumed from a checkpoint.
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


def experience_scopes(layout: ItemLayout) -> list[tuple[int, set[int] | None]]:
    """(eval_exp, items) to measure over: all items (-1, None), then each test experience on a continual stream."""
    scopes: list[tuple[int, set[int] | None]] = [(-1, None)]
    if layout.per_experience:
        scopes += [(j, set(items)) for j, items in enumerate(layout.test_items)]
    return scopes


def item_measures(layout: ItemLayout, logits: Tensor, hidden: dict[str, Tensor], groups: dict[str, str],
                  lesion: str = INTACT, *, correlations: bool = False) -> list[Measure]:
    """Measures of one condition from the outputs and hidden patterns of every item shown alone."""
    out: list[Measure] = []
    if lesion != INTACT:
        predicted = logits.argmax(dim=1).tolist()
        for j, items in enumerate(layout.test_items):
            recall = sum(predicted[i] == layout.unit_of[i] for i in items) / len(items)
            out.append(Measure("accuracy", recall, eval_exp=j, lesion=lesion))
    scopes = experience_scopes(layout)
    for layer, patterns in hidden.items():
        corr = correlation_matrix(patterns)
        group = groups.get(layer, "")
        for eval_exp, items in scopes:
            for name, pairs in layout.contrasts.items():
                chosen = pairs if items is None else [(a, b) for a, b in pairs if a in items and b in items]
                out.append(Measure(f"similarity_{name}", mean_similarity(corr, chosen), eval_exp=eval_exp,
                                   entity=layer, group=group, lesion=lesion))
        if correlations:
            rows, cols = torch.triu_indices(layout.n_items, layout.n_items, offset=1).tolist()
            values = corr[rows, cols].tolist()
            out += [Measure("item_correlation", v, entity=layer, group=group, lesion=lesion, item_a=a, item_b=b)
                    for a, b, v in zip(rows, cols, values)]
    activity = torch.sigmoid(logits.detach().to(torch.float64))
    for eval_exp, items in scopes:
        for name, relations in layout.relations.items():
            chosen = relations if items is None else [r for r in relations if r.cue in items]
            score = production(activity, chosen, layout.unit_of)
            for suffix, value in (("", score.target), ("_foil", score.foil), ("_choice", score.choice)):
                out.append(Measure(f"production_{name}{suffix}", value, eval_exp=eval_exp, entity=OUTPUT_ENTITY,
                                   lesion=lesion))
    return out


def _forward(model: nn.Module, x: Tensor) -> Tensor:
    from avalanche.models.utils import avalanche_forward

    return avalanche_forward(model, x, torch.zeros(len(x), dtype=torch.long, device=x.device))


class ItemProbe:
    """``probe(model, instance)`` for a paradigm's :class:`ItemLayout`."""

    def __init__(self, layout: ItemLayout):
        self.layout = layout

    def __call__(self, model: nn.Module, instance=None, *, final: bool = False) -> list[Measure]:
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
                measures += item_measures(self.layout, logits, hidden, groups, lesion, correlations=final)
        finally:
            model.train(was_training)
        return measures
