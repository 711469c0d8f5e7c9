"""meta-hippo: online meta-learning of per-layer sparsity and per-projection learning rates.

The seed poster's model (schapirolab/meta-CLS, ``model/lamaml.py`` with
``--learn_inhibition_multiplier --learn_lr --learn_layer_lr``): a La-MAML
style online meta-learner on a HippoNet (``mlp2``, ``mlp4``, ``dual``,
``chorse``) that meta-learns, per hidden layer, the inhibition multiplier m of
its k-WTA threshold and, per projection, a learning rate relu(alpha). The
loop is the shared one of :mod:`hippo_bench.strategies.meta.template`; the
variants (gated, frozen readout, transfer, vectorised seeds) extend it
through the hooks of :meth:`MetaHippo.build` (``network``, ``fixed_rates``,
``loop_config``), never by changing a built template (docs/DESIGN.md, "The
meta-learning loop").

Conditions (what is learned): ``baseline`` nothing, ``sparsity`` m only,
``lr`` alpha only, ``both``. As in the seed's code, a condition that does
not learn sparsity has no inhibition at all (m fixed at 0: a plain ReLU),
and one that does starts from the model's ``m_init`` (0.01).

The inhibition multiplier m is unbounded, as in the seed's code: m > 0
subtracts a share of the k-th largest pre-activation (sparser than a ReLU),
m = 0 is a plain ReLU, and m < 0 *adds* a share of it, letting units with
negative pre-activations through (denser than a ReLU). ``--clamp-m`` keeps
m >= 0 instead.

Recorded after every evaluation: % active per hidden layer on a fixed probe
batch of test data with the slow weights (``percent_active``) and, as the
seed measures it, on the meta-batch with the fast weights after each inner
step of the 10th update of the experience (``percent_active_train``); m per
layer; the learned rate relu(alpha) (``learned_lr``) and the raw alpha
(``alpha_raw``: how far below zero a dead projection went) per projection;
the relative step lr |dW| / |W| of the last update per projection; and, for
models with lesions (dual: large/small branch; chorse: msp/tsp), the
accuracy of every head with each lesion.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import pandas as pd
import torch

from hippo_bench.analysis import learned_pattern
from hippo_bench.models.hippo_net import HippoNet
from hippo_bench.params import param
from hippo_bench.reporting.run_report import pathway_table
from hippo_bench.strategies import register
from hippo_bench.strategies.base import Strategy, StrategyContext
from hippo_bench.strategies.meta.step_sizes import ReluAlpha
from hippo_bench.strategies.meta.template import LoopConfig, OnlineMetaTemplate, learned_weights
from hippo_bench.tasks.base import ALL_KINDS, Measure

HIPPO_MODELS = ("mlp2", "mlp4", "dual", "chorse")


@dataclasses.dataclass
class HippoLoopParams:
    """The loop parameters every meta-hippo learner has (meta-hippo, its variants, meta-hippo-transfer)."""

    buffer_size: int = param(200, "reservoir replay buffer size", min=0)
    replay_batch: int = param(5, "replayed samples added to each meta-batch", min=0)
    grad_clip: float = param(2.0, "gradient-norm clip per parameter group (0: off)", min=0.0)
    path: Literal["auto", "low-rank", "materialised"] = param(
        "auto", "meta-gradient computation (auto: low-rank on HippoNets with per-projection alpha)")
    probe_size: int = param(256, "test samples used to measure % active", min=1)
    activity_iteration: int = param(9, "update of each experience at which % active is also measured the "
                                    "seed's way (meta-batch, fast weights); the seed uses its 10th (9)", min=0)


@register("meta-hippo")
class MetaHippo(Strategy):
    description = "Meta-learned per-layer sparsity (k-WTA inhibition) and per-projection learning rates"
    references = ("Schapiro lab meta-CLS poster (schapirolab/meta-CLS)", "Gupta et al. 2020 (La-MAML)")
    scenarios = ALL_KINDS
    models = HIPPO_MODELS
    default_batch_size = 5
    # Its seeds may also be trained batched (--vectorize-seeds): that path's code is part of every run's key.
    also_made_by = ("hippo_bench.strategies.vectorized",)

    @dataclasses.dataclass
    class Config(HippoLoopParams):
        condition: Literal["baseline", "sparsity", "lr", "both"] = param(
            "both", "what is meta-learned: nothing, m only, alpha only, or both")
        alpha_init: float = param(0.1, "initial learning rate alpha of every projection", min=0.0)
        alpha_lr: float = param(2e-4, "meta step size for alpha (the seed's --opt_lr)", min=0.0)
        m_lr: float = param(0.02, "meta step size for m (the seed's --multiplier_lr)", min=0.0)
        per_parameter_lr: bool = param(False, "one alpha per weight (La-MAML) instead of per projection")
        clamp_m: bool = param(False, "keep the inhibition multiplier m >= 0 after each meta-step (the seed's code "
                              "does not)")

    @property
    def learns_sparsity(self) -> bool:
        return self.config.condition in ("sparsity", "both")

    @property
    def learns_lr(self) -> bool:
        return self.config.condition in ("lr", "both")

    # -- hooks of build, in the order it calls them ---------------------
    def network(self, ctx: StrategyContext):
        """The network the loop trains (variants check or extend it): m fixed at 0 when sparsity is not learned."""
        model = ctx.model
        if isinstance(model, HippoNet) and not self.learns_sparsity:
            with torch.no_grad():
                model.inhibition.zero_()  # the seed's conditions without inhibition: plain ReLU
        return model

    def loop_config(self, ctx: StrategyContext, model) -> LoopConfig:
        """The loop's settings and hooks; variants extend it (``dataclasses.replace`` on super's)."""
        c = self.config
        learns_m = self.learns_sparsity and isinstance(model, HippoNet)
        return LoopConfig(
            replay_size=c.buffer_size, replay_batch=c.replay_batch, seed=ctx.seed, path=c.path,
            grad_clip=c.grad_clip, step_lr=c.alpha_lr if self.learns_lr else 0.0,
            inhibition_lr=c.m_lr if learns_m else 0.0, inhibition_floor=0.0 if learns_m and c.clamp_m else None,
            activity_iteration=c.activity_iteration)

    def fixed_rates(self, model) -> dict[str, float]:
        """Parameter name -> a step size relu(alpha) = alpha >= 0 that is set, not learned (default: none)."""
        return {}

    def build(self, ctx: StrategyContext) -> OnlineMetaTemplate:
        c = self.config
        model = self.network(ctx)
        loop = self.loop_config(ctx, model)
        params = learned_weights(model, loop)
        steps = ReluAlpha(params, c.alpha_init, per_parameter=c.per_parameter_lr, learned=self.learns_lr,
                          fixed=self.fixed_rates(model))
        return OnlineMetaTemplate(
            model=model, criterion=ctx.criterion, steps=steps, loop=loop, train_mb_size=ctx.train_mb_size,
            train_epochs=ctx.epochs, eval_mb_size=ctx.eval_mb_size, device=ctx.device, plugins=ctx.plugins,
            evaluator=ctx.evaluator)

    # -- recording ------------------------------------------------------
    def measures(self, template: OnlineMetaTemplate, ctx: StrategyContext) -> list[Measure]:
        """The learned pattern (:mod:`hippo_bench.analysis.learned_pattern`) on a fixed probe of test inputs."""
        tests, probe = self._pattern_inputs(ctx)
        out = learned_pattern.measure(template, probe, train_activity=template.train_activity)
        template.train_activity = {}  # one experience's value is recorded once
        return out + learned_pattern.lesion_accuracies(template.model, ctx.benchmark, tests)

    def _pattern_inputs(self, ctx: StrategyContext) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
        """The test sets and the probe batch of this run's benchmark, collated once (measures run after every
        evaluation)."""
        cached = getattr(self, "_pattern_cache", None)
        if cached is None or cached[0] is not ctx.benchmark or cached[1] != ctx.device:
            tests = learned_pattern.collated_tests(ctx.benchmark, ctx.device)
            cached = (ctx.benchmark, ctx.device, tests, learned_pattern.probe_batch(tests, self.config.probe_size))
            self._pattern_cache = cached
        return cached[2], cached[3]

    def report(self, tables: list[pd.DataFrame]) -> list:
        return [pathway_table(tables)]
