"""meta-hippo-gated: binary projection gates with a straight-through meta-gradient."""

from __future__ import annotations

import pytest
import torch

from hippo_bench.errors import UserError
from hippo_bench.models import models
from hippo_bench.models.hippo_net import HippoNet, dual_spec
from hippo_bench.runner import RunSpec, execute
from hippo_bench.strategies import strategies
from hippo_bench.strategies.meta_hippo_gated import GatedHippoNet, binary_gate
from hippo_bench.tasks import benchmarks

TINY = dict(n_classes=4, classes_per_exp=2, dim=16, train_per_class=10, test_per_class=5)


def test_binary_gate_values_and_straight_through_gradient():
    s = torch.tensor([2.0, -0.5, 0.0], requires_grad=True)
    g = binary_gate(s)
    assert g.tolist() == [1.0, 0.0, 0.5]
    g.sum().backward()
    assert s.grad.tolist() == [0.5, 0.5, 0.5]  # d/ds (sign(s) + 1) / 2 with sign' taken as 1


def _dual_net(seed=0):
    torch.manual_seed(seed)
    return HippoNet(dual_spec([8], 12, 6, {"out": 3}), 5)


def test_a_closed_gate_is_the_pathway_cut():
    net = _dual_net()
    x = torch.randn(7, 5)
    large = [p.key for p in net.spec.projections if "large" in p.name]
    assert large, [p.name for p in net.spec.projections]
    # Reference: the same net with the large branch's weights zeroed.
    ref = _dual_net()
    with torch.no_grad():
        for k in large:
            ref.weights[k].zero_()
    expected = ref(x)
    gated = GatedHippoNet.give_gates(net, 1.0)
    open_out = gated(x)
    with torch.no_grad():
        for k in large:
            gated.gate_scores[k].fill_(-1.0)
    torch.testing.assert_close(gated(x), expected)
    assert not torch.allclose(open_out, expected)


def test_score_gradient_is_half_the_weight_gradient_inner_product():
    net = GatedHippoNet.give_gates(_dual_net(1), 1.0)
    x, y = torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    loss = torch.nn.functional.cross_entropy(net(x), y)
    weights = dict(net.weights.items())
    keys = list(weights)
    grads = torch.autograd.grad(loss, [weights[k] for k in keys] + [net.gate_scores[k] for k in keys])
    for i, k in enumerate(keys):
        gw, gs = grads[i], grads[len(keys) + i]
        # L depends on g * W: dL/ds = 0.5 * <W, dL/d(gW)>, and dL/d(gW) = dL/dW when g = 1
        torch.testing.assert_close(gs, 0.5 * (weights[k] * gw).sum())


def _run(strategy_name, out, **overrides):
    bench_cls = benchmarks.get("split-patterns")
    config = bench_cls.Config(**TINY)
    instance = bench_cls(config).build(0, None)
    strategy = strategies.get(strategy_name)
    spec = RunSpec(benchmark="split-patterns", benchmark_config=config, strategy=strategy,
                   strategy_config=strategy.Config(buffer_size=8, **overrides), model="mlp2",
                   model_config=models.get("mlp2").Config(hidden=[12, 10]), seed=1, train_mb_size=4)
    outcome = execute(spec, instance, out)
    assert outcome.status == "ok", outcome.error
    return outcome.table


def test_frozen_open_gates_reproduce_meta_hippo(tmp_path):
    gated = _run("meta-hippo-gated", tmp_path, gate_lr=0.0)
    plain = _run("meta-hippo", tmp_path, path="materialised")
    acc = lambda t: t[t["metric"] == "accuracy"]["value"].to_numpy()  # noqa: E731
    assert (acc(gated) == acc(plain)).all()
    scores = gated[gated["metric"] == "gate_score"]
    assert set(scores["entity"]) == {"input->h1", "h1->h2", "h2->out"}
    assert scores["value"].tolist() == pytest.approx([0.05] * len(scores))  # gate_lr 0: scores stay at gate_init


def test_gate_scores_are_meta_learned(tmp_path):
    table = _run("meta-hippo-gated", tmp_path, gate_lr=0.5)
    last = table[(table["metric"] == "gate_score") & (table["train_exp"] == table["train_exp"].max())]
    assert len(last) == 3 and (abs(last["value"] - 0.05) > 1e-6).all()
    gates = table[table["metric"] == "gate"]["value"]
    assert set(gates.unique()) <= {0.0, 0.5, 1.0}


def test_needs_a_meta_hippo_network(tmp_path):
    bench_cls = benchmarks.get("split-patterns")
    config = bench_cls.Config(**TINY)
    instance = bench_cls(config).build(0, None)
    strategy = strategies.get("meta-hippo-gated")
    spec = RunSpec(benchmark="split-patterns", benchmark_config=config, strategy=strategy,
                   strategy_config=strategy.Config(), model="mlp", model_config=models.get("mlp").Config(),
                   seed=0, train_mb_size=4)
    with pytest.raises(UserError, match="meta-hippo network"):
        execute(spec, instance, None)
