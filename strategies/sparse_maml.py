"""sparse-maml: learned binary gradient masks in the online La-MAML loop (von Oswald et al. 2021).

"Learning where to learn" meta-learns, for every weight, a parameter m
under a step function: the inner loop updates
``fast -= step_size * mask * grad`` with ``mask = 0.5 (sign(m) + 1)``, and
m is trained on the meta-loss through a straight-through estimator
(Johswald/learning_where_to_learn ``models.py``: ``BinaryLayer``,
``GradientMask``; ``train.py``). The paper's continual-learning variant
(sparse-La-MAML / sparse-C-MAML) runs these masks inside La-MAML's online
loop; here that is the shared loop with La-MAML's glances and replay
(:mod:`hippo_bench.strategies.la_maml`):

- ``weight_update=async`` (sparse-La-MAML): weights step by the new
  ``step_size * mask`` times their meta-gradient, so masked weights stay put;
- ``weight_update=sync`` (sparse-C-MAML): weights step by SGD at ``weight_lr``.

The masks take plain SGD steps (``mask_lr``), as the shared loop's step
sizes do; the official few-shot code uses Adam (rate 0.0075-0.01), which
normalises the gradient. On the MNIST MLP the straight-through gradients
are about 1e-5 (first layer) to 1e-3 (output layer) per entry, so the
default SGD step is 10: an entry near the threshold can flip within a task.

``mask=relu`` is sparse-ReLU-MAML: a per-weight learning rate relu(m),
initialised at ``step_size``, with straight-through gradients
(``ReluStraightThrough``).

Recorded after every experience: the fraction of masked (never-updated)
entries per parameter tensor, ``masked_fraction``, grouped by layer: the
same "where to learn" question the meta-hippo poster asks per projection.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.la_maml import LAMAML_REF, LookaheadConfig, LookaheadStrategy
from hippo_bench.strategies.meta.step_sizes import BinaryMask, ReluThrough
from hippo_bench.tasks.base import Measure


@register("sparse-maml")
class SparseMAML(LookaheadStrategy):
    description = "sparse-MAML: learned binary gradient masks (straight-through) in the online La-MAML loop"
    references = ("von Oswald et al. 2021 (sparse-MAML; Johswald/learning_where_to_learn)", LAMAML_REF)

    @dataclasses.dataclass
    class Config(LookaheadConfig):
        mask: Literal["binary", "relu"] = param(
            "binary", "binary: step_size * 0.5 (sign(m) + 1) (sparse-MAML); relu: relu(m) (sparse-ReLU-MAML)")
        step_size: float = param(0.1, "inner learning rate of unmasked weights; relu: initial relu(m)", min=0.0)
        mask_lr: float = param(10.0, "SGD step on the mask parameters m (large: the straight-through "
                               "gradients are 1e-5 to 1e-3 per entry)", min=0.0)
        mask_init: Literal["uniform", "kaiming"] = param(
            "uniform", "binary masks: m ~ U(-0.5, 0.5) or Kaiming-uniform, then centred on init_shift")
        init_shift: float = param(0.0, "mean of the initial m (0: about half the gradients masked)")
        weight_update: Literal["async", "sync"] = param(
            "async", "async: weights step by the new step_size * mask (sparse-La-MAML); sync: SGD at "
            "weight_lr (sparse-C-MAML)")

    def weight_update(self) -> str:
        return self.config.weight_update

    def step_sizes(self, ctx, params):
        c = self.config
        if c.mask == "relu":
            return ReluThrough(params, c.step_size), c.mask_lr
        return BinaryMask(params, c.step_size, init=c.mask_init, shift=c.init_shift), c.mask_lr

    def measures(self, template, ctx) -> list[Measure]:
        """Fraction of masked entries per parameter tensor, grouped by its layer (module path)."""
        out = []
        for name, frac in template.steps.masked_fraction().items():
            layer = name.rsplit(".", 1)[0]
            out.append(Measure("masked_fraction", frac, entity=name, group=layer))
        return out
