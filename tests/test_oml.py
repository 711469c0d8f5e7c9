"""OML: meta-test changes only the head; the meta-trained representation is cached by its configuration."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import hippo_bench.strategies.oml_pretrain as pretrain
from hippo_bench.models.oml_net import OMLNet
from hippo_bench.strategies.base import StrategyContext, silent_evaluator
from hippo_bench.strategies.oml import OML, sweep_head_lr
from hippo_bench.tasks.base import CLASS_INCREMENTAL, BenchmarkInstance, tensor_stream_benchmark
from hippo_bench.tasks.omniglot import MetaTrainSplit

SIDE = 8
TINY = dict(meta_steps=3, traj_classes=2, traj_steps=2, held_per_class=2, rand_batch=3)


def tiny_instance() -> BenchmarkInstance:
    """6 meta-training classes of 6 drawings; a stream of 2 experiences x 2 classes x 3 images."""
    g = torch.Generator().manual_seed(0)
    meta = MetaTrainSplit(torch.rand(36, 1, SIDE, SIDE, generator=g), torch.arange(6).repeat_interleave(6), 6)
    train, test = [], []
    for e in range(2):
        y = torch.tensor([2 * e, 2 * e + 1]).repeat_interleave(3)
        train.append((torch.rand(6, 1, SIDE, SIDE, generator=g), y))
        test.append((torch.rand(6, 1, SIDE, SIDE, generator=g), y))
    return BenchmarkInstance(scenario=tensor_stream_benchmark(train, test), n_outputs=4,
                             input_shape=(1, SIDE, SIDE), kind=CLASS_INCREMENTAL, protocol="tiny",
                             default_batch_size=1, meta_train=meta)


def context(bench: BenchmarkInstance) -> StrategyContext:
    torch.manual_seed(0)
    model = OMLNet(OMLNet.Config(channels=2, strides=[1])).build(bench.input_shape, bench.n_outputs)
    return StrategyContext(model=model, criterion=torch.nn.CrossEntropyLoss(), device=torch.device("cpu"),
                           plugins=[], evaluator=silent_evaluator(), train_mb_size=1, eval_mb_size=64, epochs=1,
                           benchmark=bench, seed=0)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HIPPO_BENCH_CACHE", str(tmp_path))
    calls = []
    original = pretrain.meta_train
    monkeypatch.setattr(pretrain, "meta_train", lambda *a: calls.append(a[-1]) or original(*a))
    return calls


def test_meta_test_changes_only_the_head(cache):
    bench = tiny_instance()
    ctx = context(bench)
    strategy = OML(OML.Config(**TINY, head_lr=0.01))
    strategy.prepare(ctx)
    rep = {k: v.clone() for k, v in ctx.model.representation.state_dict().items()}
    head = {k: v.clone() for k, v in ctx.model.head.state_dict().items()}
    template = strategy.build(ctx)
    for exp in bench.train_stream:
        template.train(exp)
    for k, v in ctx.model.representation.state_dict().items():
        assert torch.equal(v, rep[k]), k
    for k, v in ctx.model.head.state_dict().items():
        assert not torch.equal(v, head[k]), k
    assert ctx.model.head.bias.abs().max() > 0  # the reset head started at zero bias and learned


def test_meta_training_changes_the_representation(cache):
    ctx = context(tiny_instance())
    before = {k: v.clone() for k, v in ctx.model.representation.state_dict().items()}
    OML(OML.Config(**TINY, head_lr=0.01)).prepare(ctx)
    after = ctx.model.representation.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_cache_is_reused_and_invalidated_by_a_config_change(cache):
    bench = tiny_instance()
    first = context(bench)
    OML(OML.Config(**TINY, head_lr=0.01)).prepare(first)
    assert len(cache) == 1
    again = context(bench)  # another run (seed, number of classes): same meta-training settings
    OML(OML.Config(**TINY, head_lr=0.003)).prepare(again)
    assert len(cache) == 1
    for k, v in first.model.representation.state_dict().items():
        assert torch.equal(v, again.model.representation.state_dict()[k])
    changed = context(bench)
    OML(OML.Config(**{**TINY, "meta_lr": 3e-4}, head_lr=0.01)).prepare(changed)
    assert len(cache) == 2 and cache[-1].meta_lr == 3e-4
    assert any(not torch.equal(v, changed.model.representation.state_dict()[k])
               for k, v in first.model.representation.state_dict().items())


def test_cache_is_invalidated_by_other_meta_training_data(cache):
    bench = tiny_instance()
    OML(OML.Config(**TINY, head_lr=0.01)).prepare(context(bench))
    bench.meta_train.x[0, 0, 0, 0] += 0.5
    OML(OML.Config(**TINY, head_lr=0.01)).prepare(context(bench))
    assert len(cache) == 2


def test_meta_loss_after_one_inner_step_by_hand():
    f = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # row 0: trajectory, row 1: meta-batch
    y = torch.tensor([0, 1])
    w = torch.zeros(2, 2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    loss = pretrain.oml_meta_loss(f, y, w, b, n_traj=1, inner_lr=0.5)
    # zero head: softmax (0.5, 0.5); dL/dW = (p - e_0) f_0^T = [[-0.5, 0], [0.5, 0]]; db = (-0.5, 0.5)
    w1 = -0.5 * torch.tensor([[-0.5, 0.0], [0.5, 0.0]])
    b1 = -0.5 * torch.tensor([-0.5, 0.5])
    expected = F.cross_entropy(f[1:] @ w1.t() + b1, y[1:])
    assert float(loss) == pytest.approx(float(expected))
    loss.backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_head_lr_sweep_picks_the_best_studied_accuracy():
    """Orthogonal features per class: a zero rate leaves a zero head at 1/4, a useful rate learns them all."""
    from hippo_bench.models.oml_net import RepresentationAndHead

    x = torch.zeros(12, 1, SIDE, SIDE)
    y = torch.arange(4).repeat_interleave(3)
    for i, c in enumerate(y.tolist()):
        x[i, 0, 2 * c:2 * c + 2] = 1.0
    stream = tensor_stream_benchmark([(x, y)], [(x, y)]).train_stream
    model = RepresentationAndHead(torch.nn.Flatten(), torch.nn.Linear(SIDE * SIDE, 4))
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    assert sweep_head_lr(model, stream, candidates=(0.0, 0.1)) == 0.1
    assert sweep_head_lr(model, stream, candidates=(0.0,)) == 0.0
    assert torch.count_nonzero(model.head.weight) == 0  # the sweep trains copies, not the model's head


def test_oml_is_skipped_without_a_meta_training_split():
    bench = tiny_instance()
    bench.meta_train = None
    assert "meta-training split" in OML(OML.Config()).unsupported_reason(bench)
