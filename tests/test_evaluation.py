"""The runner's batched evaluation gives Avalanche's template.eval accuracies bit for bit, and falls back when it cannot."""

from __future__ import annotations

import pytest
import torch

from hippo_bench.evaluation import StreamEvaluation
from hippo_bench.recording import Recorder


def _trained(strategy: str, benchmark: str, model: str, **params):
    from hippo_bench.resolve import plan_from
    from hippo_bench.strategies.base import StrategyContext, silent_evaluator

    bench = {"split-patterns": {"n_classes": 4, "classes_per_exp": 2, "dim": 16, "train_per_class": 10,
                                "test_per_class": 7},
             "cls-pairs": {"n_experiences": 2, "trials_per_exp": 30}}[benchmark]
    plan = plan_from([("test", {"strategy": strategy, "benchmark": benchmark, "model": model, **params,
                                "benchmark_params": bench, "eval_batch_size": 3})])
    (_, instance, (spec,)), = plan.specs()
    torch.manual_seed(0)
    from hippo_bench.models import models

    net = models.get(spec.model)(spec.model_config).build(instance.input_shape, instance.n_outputs)
    recorder = Recorder(instance.score)
    strat = spec.strategy(spec.strategy_config)
    ctx = StrategyContext(model=net, criterion=instance.criterion(), device=torch.device("cpu"), plugins=[recorder],
                          evaluator=silent_evaluator(), train_mb_size=spec.train_mb_size, eval_mb_size=3, epochs=1,
                          benchmark=instance, seed=0)
    template = strat.build(ctx)
    template.train(instance.train_stream[0])
    return strat, template, instance, recorder


@pytest.mark.parametrize("strategy, benchmark, model", [("meta-hippo", "split-patterns", "mlp2"),
                                                        ("naive", "split-patterns", "mlp"),
                                                        ("der", "split-patterns", "mlp"),
                                                        ("meta-hippo", "cls-pairs", "chorse")])
def test_batched_evaluation_equals_template_eval_bit_for_bit(strategy, benchmark, model):
    strat, template, instance, recorder = _trained(strategy, benchmark, model)
    evaluation = StreamEvaluation(template, strat, instance, instance.score, recorder)
    assert evaluation.fast
    iterations = template.clock.total_iterations
    fast = evaluation.accuracy()
    batches = template.clock.total_iterations - iterations
    assert batches == sum(-(-len(t[0]) // 3) for t in instance.test_tensors())  # minibatches of 3, as Avalanche
    recorder.reset()
    template.eval(instance.test_stream)
    assert template.clock.total_iterations - iterations == 2 * batches
    assert fast == recorder.accuracy and len(fast) == instance.n_experiences
    assert template.model.training  # the model is back in training mode


def test_a_strategy_that_evaluates_itself_gets_template_eval(monkeypatch):
    strat, template, instance, recorder = _trained("naive", "split-patterns", "mlp")
    monkeypatch.setattr(type(strat), "own_evaluation", True)
    evaluation = StreamEvaluation(template, strat, instance, instance.score, recorder)
    assert not evaluation.fast
    calls = []
    original = template.eval
    monkeypatch.setattr(template, "eval", lambda stream: calls.append(1) or original(stream))
    assert evaluation.accuracy() == recorder.accuracy and calls == [1]
