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
from rich.table import Table

from hippo_bench.models.hippo_net import HippoNet
from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import Strategy, StrategyContext
from hippo_bench.strategies.meta.step_sizes import ReluAlpha
from hippo_bench.strategies.meta.template import LoopConfig, OnlineMetaTemplate, learned_weights, relative_steps
from hippo_bench.tasks.base import ALL_KINDS, Measure
from hippo_bench.tensor_batches import collate_all

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
        self._probe = None
        self._tests = None
        return OnlineMetaTemplate(
            model=model, criterion=ctx.criterion, steps=steps, loop=loop, train_mb_size=ctx.train_mb_size,
            train_epochs=ctx.epochs, eval_mb_size=ctx.eval_mb_size, device=ctx.device, plugins=ctx.plugins,
            evaluator=ctx.evaluator)

    # -- recording ------------------------------------------------------
    def _test_sets(self, ctx: StrategyContext) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each test experience's (x, y), collated once per run (measures run after every evaluation)."""
        if self._tests is None:
            self._tests = [tuple(t.to(ctx.device) for t in collate_all(exp.dataset)[:2])
                           for exp in ctx.benchmark.test_stream]
        return self._tests

    def _probe_batch(self, ctx: StrategyContext) -> torch.Tensor:
        """A fixed probe of test inputs, the same share from every experience, for % active."""
        if self._probe is None:
            tests = self._test_sets(ctx)
            per_exp = max(1, self.config.probe_size // len(tests))
            self._probe = torch.cat([x[:per_exp] for x, _ in tests])[: self.config.probe_size]
        return self._probe

    def measures(self, template: OnlineMetaTemplate, ctx: StrategyContext) -> list[Measure]:
        model = template.model
        out: list[Measure] = []
        if isinstance(model, HippoNet):
            active = model.fraction_active(self._probe_batch(ctx))
            for i, layer in enumerate(model.hidden_names):
                group = model.layer_groups[layer]
                out.append(Measure("percent_active", 100.0 * active[layer], entity=layer, group=group))
                out.append(Measure("inhibition_m", float(model.inhibition[i].detach()), entity=layer, group=group))
                out.append(Measure("units", float(model.units[layer]), entity=layer, group=group))
                if layer in template.train_activity:
                    out.append(Measure("percent_active_train", 100.0 * template.train_activity[layer],
                                       entity=layer, group=group))
            template.train_activity = {}  # one experience's value is recorded once
        rel = relative_steps(template)
        raw = template.steps.raw_values()
        for name, lr in template.steps.values().items():
            proj, group = _projection_of(model, name)
            out.append(Measure("learned_lr", lr, entity=proj, group=group))
            if name in raw:
                out.append(Measure("alpha_raw", raw[name], entity=proj, group=group))
            if name in rel:
                out.append(Measure("relative_step", rel[name], entity=proj, group=group))
        out += lesion_accuracies(model, ctx, self._test_sets(ctx))
        return out

    def report(self, tables: list[pd.DataFrame]) -> list:
        return [pathway_table(tables)]


def _projection_of(model, param_name: str) -> tuple[str, str]:
    if isinstance(model, HippoNet):
        for p in model.spec.projections:
            if param_name == f"weights.{p.key}":
                return p.name, p.group
    return param_name, ""


def lesion_accuracies(model, ctx: StrategyContext, tests: list[tuple[torch.Tensor, torch.Tensor]]) -> list[Measure]:
    """Per-head accuracy on every test experience, intact and under each lesion.

    Heads follow the benchmark's ``heads`` (target y = category + n_category *
    item for a category/item pair); without heads the single output is
    scored with the benchmark's score as "category".
    """
    lesions = getattr(model, "lesions", ())
    if not lesions:
        return []
    heads = ctx.benchmark.heads or {}
    n_cat = heads.get("category")
    out = []
    was_training = model.training
    model.eval()
    try:
        for j, (x, y) in enumerate(tests):
            for lesion in (None, *lesions):
                with torch.no_grad(), model.lesion(lesion):
                    logits = model(x)
                tag = lesion or ""
                if n_cat and "item" in heads:
                    cat = (logits[:, :n_cat].argmax(1) == y % n_cat).float().mean()
                    item = (logits[:, n_cat:].argmax(1) == y // n_cat).float().mean()
                    out.append(Measure("category_accuracy", float(cat), eval_exp=j, lesion=tag))
                    out.append(Measure("item_accuracy", float(item), eval_exp=j, lesion=tag))
                else:
                    score = ctx.benchmark.score(logits, y).mean()
                    out.append(Measure("category_accuracy", float(score), eval_exp=j, lesion=tag))
    finally:
        model.train(was_training)
    return out


def pathway_table(tables: list[pd.DataFrame]) -> Table:
    """Layers (group, units, % active, m) and projections (group, lr, relative step) after training."""
    df = pd.concat(tables, ignore_index=True)
    df = df[df["status"] == "ok"]
    t = Table(title="meta-hippo: learned sparsity and learning rates (end of stream, mean over seeds)",
              title_justify="left")
    for col in ("kind", "name", "group", "units", "% active", "m", "learned lr", "relative step"):
        t.add_column(col, justify="left" if col in ("kind", "name", "group") else "right")
    if df.empty:
        return t
    last = df[df["train_exp"] == df["train_exp"].max()]
    by = last.groupby(["metric", "entity"], sort=False)["value"].mean()
    first = df[df["train_exp"] == -1].groupby(["metric", "entity"], sort=False)["value"].mean()

    def get(metric, entity, src=by):
        return src.get((metric, entity), float("nan"))

    layers = last[last["metric"] == "percent_active"][["entity", "group"]].drop_duplicates()
    for row in layers.itertuples(index=False):
        t.add_row("layer", row.entity, row.group, f"{get('units', row.entity, first):.0f}",
                  f"{get('percent_active', row.entity):.1f}", f"{get('inhibition_m', row.entity):.3f}", "", "")
    projs = last[last["metric"] == "learned_lr"][["entity", "group"]].drop_duplicates()
    for row in projs.itertuples(index=False):
        t.add_row("projection", row.entity, row.group, "", "", "", f"{get('learned_lr', row.entity):.4g}",
                  f"{get('relative_step', row.entity):.3g}")
    return t
