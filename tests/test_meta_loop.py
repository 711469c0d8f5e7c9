"""The shared meta-learning loop's configuration and hooks: every variant extends it through them, none patches a
built template (docs/DESIGN.md, "The meta-learning loop")."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from hippo_bench import checkpoint
from hippo_bench.models import models
from hippo_bench.seeding import seed_everything
from hippo_bench.strategies import strategies
from hippo_bench.strategies.base import StrategyContext, silent_evaluator
from hippo_bench.strategies.meta.fast_weights import LowRankPath, MaterialisedPath, PathSetup, build_path
from hippo_bench.strategies.meta.step_sizes import ReluAlpha
from hippo_bench.strategies.meta.template import LoopConfig, MetaParameters, OnlineMetaTemplate, learned_weights
from hippo_bench.strategies.meta_hippo import HippoLoopParams, MetaHippo
from hippo_bench.strategies.meta_hippo_gated import MetaHippoGated
from hippo_bench.strategies.meta_hippo_readout import SeparateReadout
from hippo_bench.tasks import benchmarks

TINY = {"n_classes": 4, "classes_per_exp": 2, "dim": 16, "train_per_class": 10, "test_per_class": 5}
NETS = {"mlp2": {"hidden": [16, 12]}, "dual": {"shared": [16], "large": 20, "small": 8}, "mlp": {"hidden": [16]}}


def built(name, model: str = "mlp2", **config):
    """(strategy, template, ctx) of ``name`` (or a strategy class) on the tiny split-patterns stream, untrained."""
    bench = benchmarks.get("split-patterns")
    instance = bench(bench.Config(**TINY)).build(0)
    seed_everything(0)
    spec = models.get(model)
    net = spec(spec.Config(**NETS[model])).build(instance.input_shape, instance.n_outputs)
    cls = strategies.get(name) if isinstance(name, str) else name
    strategy = cls(cls.Config(**config))
    ctx = StrategyContext(model=net, criterion=instance.criterion(), device=torch.device("cpu"), plugins=[],
                          evaluator=silent_evaluator(), train_mb_size=5, eval_mb_size=64, epochs=1,
                          benchmark=instance, seed=0)
    return strategy, strategy.build(ctx), ctx


def feed(template, n: int = 1, size: int = 5, seed: int = 1) -> None:
    """``n`` incoming batches through the loop, as Avalanche's epoch runs them."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x, y = torch.rand(size, 16, generator=g), torch.randint(0, 4, (size,), generator=g)
        template.mbatch = [x, y, torch.zeros(size, dtype=torch.long)]
        template._inner_updates()
        template._outer_update()


def strategy_plugins(template) -> list:
    """Plugins a strategy module made (the silent evaluator comes from the runner's helpers in strategies.base)."""
    return [p for p in template.plugins if type(p).__module__.startswith("hippo_bench.strategies")
            and type(p).__module__ != "hippo_bench.strategies.base"]


# ------------------------------------------------------------------------------------ meta_parameters
def test_gate_scores_are_meta_parameters_the_loop_clips_and_steps():
    strategy, template, _ = built("meta-hippo-gated", gate_lr=0.5)
    model = template.model
    scores = list(model.gate_scores.values())
    (group,) = template.loop.meta_parameters
    assert len(group.params) == len(scores) and all(a is b for a, b in zip(group.params, scores))
    assert group.lr == 0.5
    assert not any(n.startswith("gate_scores") for n in template.steps.names)  # no fast weights
    assert not any(n.startswith("gate_scores") for n in learned_weights(model, template.loop))  # no weights
    assert strategy_plugins(template) == []  # no plugin steps them
    before = [s.detach().clone() for s in scores]
    feed(template)
    grads = [s.grad for s in scores]
    assert all(g is not None for g in grads) and any(float(g) != 0.0 for g in grads)
    for s, b, g in zip(scores, before, grads):
        assert torch.equal(s.detach(), b - 0.5 * g)  # SGD on the (clipped) meta-gradient


def test_without_the_hook_the_gate_scores_would_be_fast_weights(monkeypatch):
    """The declaration is what keeps them out of the inner loop and the weights' update (and clip)."""
    monkeypatch.setattr(MetaHippoGated, "loop_config", MetaHippo.loop_config)
    _, template, _ = built("meta-hippo-gated", gate_lr=0.5)
    assert template.loop.meta_parameters == ()
    scores = {f"gate_scores.{k}" for k in template.model.gate_scores}
    assert scores <= set(template.steps.names) and scores <= set(learned_weights(template.model, template.loop))


def test_declared_meta_parameters_need_the_async_update_and_glances_at_least_one():
    p = torch.nn.Parameter(torch.zeros(()))
    with pytest.raises(ValueError, match="async"):
        LoopConfig(meta_parameters=(MetaParameters((p,), 0.1),), weight_update="sync")
    with pytest.raises(ValueError, match="glances"):
        LoopConfig(glances=0)


# ------------------------------------------------------------------------------------ after_update
def test_after_update_hooks_see_every_meta_batch():
    seed_everything(0)
    net = models.get("mlp")(models.get("mlp").Config(hidden=[8])).build((16,), 4)
    calls = []
    template = OnlineMetaTemplate(
        model=net, criterion=torch.nn.CrossEntropyLoss(),
        steps=ReluAlpha(dict(net.named_parameters()), 0.1, per_parameter=True, learned=True),
        loop=LoopConfig(path="materialised", glances=2, reshuffle=True, step_lr=0.1,
                        after_update=(lambda x, y, t: calls.append((x, y, t)),)),
        evaluator=silent_evaluator())
    feed(template, n=2)
    assert len(calls) == template.meta_steps == 4  # two batches, two glances each
    assert all(a is b for a, b in zip(calls[-1], template._meta_batch))


def test_separate_readout_is_an_after_update_hook_and_its_rate_a_fixed_one():
    strategy, template, ctx = built("meta-hippo-frozen-readout", readout="separate", readout_lr=0.5, alpha_lr=0.01)
    (hook,) = template.loop.after_update
    assert isinstance(strategy._separate, SeparateReadout) and hook == strategy._separate.after_update
    assert ctx.plugins == [] and strategy_plugins(template) == []
    alpha = template.steps.alpha
    assert float(alpha["weights__h2__out"]) == 0.0 and not alpha["weights__h2__out"].requires_grad
    assert alpha["weights__input__h1"].requires_grad and alpha["weights__h1__h2"].requires_grad
    assert checkpoint.unsupported(template) is None  # nothing outside the loop: the run is resumable
    w0 = template.model.weights["h2__out"].detach().clone()
    feed(template)
    assert not torch.equal(template.model.weights["h2__out"], w0)
    assert set(strategy._separate.last_relative_step) == {"h2__out"}


def test_frozen_readout_declares_no_after_update_hook():
    _, template, _ = built("meta-hippo-frozen-readout", readout="frozen")
    assert template.loop.after_update == ()


# ------------------------------------------------------------------------------------ fixed rates
def test_fixed_rates_are_set_and_never_learned():
    params = {"a": torch.zeros(2, 3), "b": torch.zeros(4)}
    steps = ReluAlpha(params, 0.1, per_parameter=False, learned=True, fixed={"b": 0.25})
    assert float(steps.alpha["a"]) == pytest.approx(0.1) and steps.alpha["a"].requires_grad
    assert float(steps.alpha["b"]) == 0.25 and not steps.alpha["b"].requires_grad
    with pytest.raises(ValueError, match="c"):
        ReluAlpha(params, 0.1, per_parameter=False, learned=True, fixed={"c": 0.0})


def test_transfer_is_meta_hippo_baseline_with_its_values_fixed_through_the_hooks():
    mapping = {"m": {"h1": 0.3, "h2": -0.2}, "lr": {"input->h1": 0.01, "h1->h2": 0.02, "h2->out": 0.05}}
    cls = strategies.get("meta-hippo-transfer")
    assert issubclass(cls, MetaHippo) and cls.Config.condition == "baseline"
    assert "condition" not in {f.name for f in dataclasses.fields(cls.Config)}  # a constant, not a parameter
    _, template, _ = built("meta-hippo-transfer", source=json.dumps(mapping))
    assert template.loop.step_lr == 0.0 and template.loop.inhibition_lr == 0.0
    assert template.model.inhibition.tolist() == pytest.approx([0.3, -0.2])
    alpha = template.steps.alpha
    assert not any(a.requires_grad for a in alpha.values())
    assert float(alpha["weights__h2__out"]) == pytest.approx(0.05)


def test_variants_share_meta_hippo_loop_params_declared_once():
    shared = {f.name for f in dataclasses.fields(HippoLoopParams)}
    for name in ("meta-hippo", "meta-hippo-gated", "meta-hippo-frozen-readout", "meta-hippo-transfer"):
        config = strategies.get(name).Config
        assert issubclass(config, HippoLoopParams), name
        redeclared = {f for klass in config.__mro__ if klass is not HippoLoopParams
                      for f in vars(klass).get("__annotations__", {}) if f in shared}
        assert redeclared <= ({"path"} if name == "meta-hippo-gated" else set()), name  # gated narrows path


# ------------------------------------------------------------------------------------ path_factory
def test_the_path_factory_builds_the_templates_path():
    seed_everything(0)
    net = models.get("mlp2")(models.get("mlp2").Config(hidden=[8])).build((16,), 4)
    seen = []

    def factory(setup: PathSetup):
        seen.append(setup)
        return build_path(dataclasses.replace(setup, choice="materialised"))

    steps = ReluAlpha(dict(net.named_parameters()), 0.1, per_parameter=False, learned=False)
    template = OnlineMetaTemplate(model=net, criterion=torch.nn.CrossEntropyLoss(), steps=steps,
                                 loop=LoopConfig(path_factory=factory), evaluator=silent_evaluator())
    (setup,) = seen
    assert setup.model is net and setup.steps is steps and setup.choice == "auto"
    assert type(template.path) is MaterialisedPath  # what the factory made, not the auto choice (low-rank)


def test_vectorised_seeds_wrap_the_low_rank_path_through_the_factory():
    from hippo_bench.strategies import vectorized

    lockstep = vectorized.Lockstep(1, lambda requests: {})
    vectorized._party.value = (lockstep, 0)
    try:
        _, template, _ = built(vectorized.VectorizedMetaHippo)
        assert isinstance(template.path, vectorized._SeedPath) and isinstance(template.path.real, LowRankPath)
        assert template.path.lockstep is lockstep and template.path.index == 0
        with pytest.raises(RuntimeError, match="low-rank"):
            built(vectorized.VectorizedMetaHippo, per_parameter_lr=True)
    finally:
        vectorized._party.value = None
    _, template, _ = built(vectorized.VectorizedMetaHippo)
    assert type(template.path) is LowRankPath  # outside a party: meta-hippo's own path


# ------------------------------------------------------------------------------------ no patching
@pytest.mark.parametrize("name, model, config", [
    ("meta-hippo", "mlp2", {}), ("meta-hippo-gated", "dual", {}), ("meta-hippo-frozen-readout", "mlp2", {"readout": "separate"}),
    ("meta-hippo-transfer", "mlp2", {}), ("la-maml", "mlp", {}), ("sparse-maml", "mlp", {}), ("mer", "mlp", {})])
def test_no_meta_learner_adds_plugins_to_its_template(name, model, config):
    _, template, ctx = built(name, model, **config)
    assert ctx.plugins == template.plugins[:len(ctx.plugins)] and strategy_plugins(template) == []
    assert all(type(p).__module__.startswith(("avalanche", "hippo_bench.strategies.base")) for p in template.plugins)


def test_mer_takes_only_the_replay_fields_of_a_loop_config():
    from hippo_bench.strategies.mer import MERTemplate

    net = models.get("mlp")(models.get("mlp").Config(hidden=[8])).build((16,), 4)
    with pytest.raises(ValueError, match="replay"):
        MERTemplate(model=net, criterion=torch.nn.CrossEntropyLoss(), lr=0.1, beta=0.1, gamma=1.0, steps=1,
                    loop=LoopConfig(glances=2), evaluator=silent_evaluator())
