"""La-MAML, sparse-MAML and MER updates on tiny problems computed by hand.

The model in most tests is one bias-free 2x2 linear map with cross-entropy:
for logits z = W x the gradient is (softmax(z) - e_y) x^T, written out here
without autograd, so each expected update is a closed-form computation.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from hippo_bench.strategies.base import StrategyContext, silent_evaluator
from hippo_bench.strategies.la_maml import LaMAML
from hippo_bench.strategies.lamaml_avalanche import IgnoresTaskLabels
from hippo_bench.strategies.mer import MER, SequentialSGD, reptile_
from hippo_bench.strategies.mer_avalanche import MERAvalanche
from hippo_bench.strategies.meta.initialisation import init_weights
from hippo_bench.strategies.meta.step_sizes import BinaryMask, ReluThrough
from hippo_bench.strategies.sparse_maml import SparseMAML
from hippo_bench.tasks.base import DOMAIN_INCREMENTAL, BenchmarkInstance, tensor_stream_benchmark

W0 = torch.tensor([[0.2, -0.1], [0.0, 0.3]])


def ce_grad(W: torch.Tensor, x: torch.Tensor, y: int) -> torch.Tensor:
    """d CE(W x, y) / d W by hand."""
    z = W @ x
    p = torch.exp(z - z.max())
    p = p / p.sum()
    p[y] -= 1.0
    return torch.outer(p, x)


def linear_model() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(2, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(W0)
    return model


def instance(xs: torch.Tensor, ys: torch.Tensor, experiences: int = 1) -> BenchmarkInstance:
    chunks = list(zip(xs.chunk(experiences), ys.chunk(experiences)))
    return BenchmarkInstance(scenario=tensor_stream_benchmark(chunks, chunks), n_outputs=2, input_shape=(2,),
                             kind=DOMAIN_INCREMENTAL, protocol="hand-made")


def context(model: nn.Module, bench: BenchmarkInstance, batch: int) -> StrategyContext:
    return StrategyContext(model=model, criterion=nn.CrossEntropyLoss(), device=torch.device("cpu"), plugins=[],
                           evaluator=silent_evaluator(), train_mb_size=batch, eval_mb_size=64, epochs=1,
                           benchmark=bench, seed=0)


X1 = torch.tensor([[1.0, 2.0]])
Y1 = torch.tensor([1])


# ------------------------------------------------------------------ La-MAML
def lamaml_after_one_sample(**params):
    model = linear_model()
    strategy = LaMAML(LaMAML.Config(glances=1, buffer_size=0, replay_batch=0, grad_clip=0.0, init="default",
                                    **params))
    bench = instance(X1, Y1)
    template = strategy.build(context(model, bench, 1))
    alpha_before = template.steps.alpha["0__weight"].detach().clone()
    template.train(bench.train_stream[0])
    return model[0].weight.detach(), template.steps.alpha["0__weight"].detach(), alpha_before


def test_lamaml_inner_step_uses_relu_alpha_and_the_async_update_the_new_rates():
    alpha = torch.tensor([[0.5, -0.2], [0.1, 0.3]])  # one negative entry: relu makes its step 0
    x, y, a_lr = X1[0], 1, 0.7
    g0 = ce_grad(W0, x, y)
    fast = W0 - torch.relu(alpha) * g0  # the inner step
    g1 = ce_grad(fast, x, y)  # first-order meta-gradient of L(fast) w.r.t. W
    d_alpha = -g1 * g0 * (alpha > 0)  # d L(W - relu(a) g0) / d a
    new_alpha = alpha - a_lr * d_alpha
    expected_w = W0 - torch.relu(new_alpha) * g1

    model = linear_model()
    strategy = LaMAML(LaMAML.Config(glances=1, buffer_size=0, replay_batch=0, grad_clip=0.0, init="default",
                                    alpha_lr=a_lr))
    bench = instance(X1, Y1)
    template = strategy.build(context(model, bench, 1))
    with torch.no_grad():
        template.steps.alpha["0__weight"].copy_(alpha)
    template.train(bench.train_stream[0])
    assert torch.allclose(template.steps.alpha["0__weight"].detach(), new_alpha, atol=1e-6)
    assert torch.allclose(model[0].weight.detach(), expected_w, atol=1e-6)
    # the masked (negative-alpha) entry moved only through the meta-update, by relu(new alpha) = 0
    assert model[0].weight[0, 1] == W0[0, 1]


def test_sync_and_cmaml_update_weights_by_sgd_and_cmaml_keeps_its_rates():
    x, y = X1[0], 1
    g1 = ce_grad(W0 - 0.15 * ce_grad(W0, x, y), x, y)
    w_sync, a_sync, a0 = lamaml_after_one_sample(variant="sync", weight_lr=0.05)
    assert torch.allclose(w_sync, W0 - 0.05 * g1, atol=1e-6)
    assert not torch.allclose(a_sync, a0)
    w_c, a_c, a0 = lamaml_after_one_sample(variant="c-maml", weight_lr=0.05)
    assert torch.allclose(w_c, W0 - 0.05 * g1, atol=1e-6)
    assert torch.equal(a_c, a0)


def test_glances_revisit_a_batch_but_store_it_once():
    xs = torch.randn(6, 2)
    ys = torch.tensor([0, 1, 0, 1, 1, 0])
    bench = instance(xs, ys)
    template = LaMAML(LaMAML.Config(glances=3, buffer_size=50, replay_batch=2)).build(
        context(linear_model(), bench, 3))
    template.train(bench.train_stream[0])
    assert template.replay.seen == 6  # two batches of three, each pushed on its first glance only
    assert template.meta_steps == 6  # two batches x three glances


def test_second_order_meta_gradient_includes_the_hessian_term():
    """One inner step on a 1-d quadratic by hand: L(w) = (w - c)^2 / 2, fast = w - a L'(w)."""
    from hippo_bench.strategies.meta.fast_weights import SecondOrderPath

    class Scalar(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor([2.0]))

        def forward(self, x):
            return self.w * x

    model = Scalar()
    steps = BinaryMask({"w": model.w}, step_size=0.25, init="constant")  # m = 0 -> mask 0.5: step 0.125
    with torch.no_grad():
        steps.m["w"].fill_(1.0)  # mask 1: step 0.25
    mse = lambda out, target: 0.5 * ((out - target) ** 2).sum()  # noqa: E731
    path = SecondOrderPath(model, mse, steps, lambda: {})
    path.reset()
    one, c = torch.tensor([1.0]), torch.tensor([0.5])
    path.inner_loop(one, c, torch.zeros(1))
    path.meta_backward(one, c, torch.zeros(1))
    # fast = w - a (w - c) = (1 - a) w + a c; dL(fast)/dw = (fast - c)(1 - a)
    a, w = 0.25, 2.0
    fast = w - a * (w - 0.5)
    assert model.w.grad.item() == pytest.approx((fast - 0.5) * (1 - a))  # first order would give fast - c


# -------------------------------------------------------------- sparse-MAML
def test_binary_mask_zeroes_exactly_the_masked_gradient_entries():
    w = torch.zeros(2, 3)
    mask = BinaryMask({"w": w}, step_size=0.1)
    m = torch.tensor([[-1.0, 2.0, 0.3], [0.5, -0.3, -2.0]])
    with torch.no_grad():
        mask.m["w"].copy_(m)
    grad = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    update = mask.step("w") * grad
    expected = torch.tensor([[0.0, 0.2, 0.3], [0.4, 0.0, 0.0]])
    assert torch.allclose(update, expected)
    assert mask.masked_fraction() == {"w": pytest.approx(0.5)}


def test_mask_parameters_get_gradients_through_the_straight_through_estimator():
    mask = BinaryMask({"w": torch.zeros(2, 2)}, step_size=0.1)
    with torch.no_grad():
        mask.m["w"].copy_(torch.tensor([[-1.0, 2.0], [0.5, -0.3]]))
    upstream = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    (mask.step("w") * upstream).sum().backward()
    # d/dm [0.1 * 0.5 (sign(m) + 1)] with sign' := 1 is 0.05, for masked entries too
    assert torch.allclose(mask.m["w"].grad, 0.05 * upstream)

    relu = ReluThrough({"w": torch.zeros(2)}, init_step=0.1)
    with torch.no_grad():
        relu.m["w"].copy_(torch.tensor([-0.2, 0.3]))
    assert torch.allclose(relu.step("w"), torch.tensor([0.0, 0.3]))
    (relu.step("w") * torch.tensor([2.0, 5.0])).sum().backward()
    assert torch.allclose(relu.m["w"].grad, torch.tensor([2.0, 5.0]))  # through the relu, even where m < 0


def test_sparse_maml_leaves_masked_weights_untouched_and_records_the_fraction():
    xs, ys = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    bench = instance(xs, ys)
    model = linear_model()
    strategy = SparseMAML(SparseMAML.Config(glances=2, buffer_size=10, replay_batch=2, init="default",
                                            mask_lr=0.0))  # masks fixed: their pattern decides
    template = strategy.build(context(model, bench, 4))
    with torch.no_grad():
        template.steps.m["0__weight"].copy_(torch.tensor([[-1.0, 1.0], [1.0, -1.0]]))
    template.train(bench.train_stream[0])
    w = model[0].weight.detach()
    assert w[0, 0] == W0[0, 0] and w[1, 1] == W0[1, 1]
    assert w[0, 1] != W0[0, 1] and w[1, 0] != W0[1, 0]
    rows = strategy.measures(template, None)
    assert [(r.metric, r.entity, r.group, r.value) for r in rows] == [("masked_fraction", "0.weight", "0", 0.5)]


# --------------------------------------------------------------------- MER
def test_reptile_interpolates_towards_the_new_weights():
    p = [torch.tensor([1.0, 3.0])]
    reptile_(p, [torch.tensor([0.0, 1.0])], 0.25)
    assert torch.allclose(p[0], torch.tensor([0.25, 1.5]))


def test_mer_one_sample_by_hand():
    """steps=1, no buffer: one SGD step, then Reptile within (beta) and across (gamma) batches."""
    lr, beta, gamma = 0.5, 0.4, 0.5
    x, y = X1[0], 1
    after_sgd = W0 - lr * ce_grad(W0, x, y)
    within = W0 + beta * (after_sgd - W0)
    expected = W0 + gamma * (within - W0)

    model = linear_model()
    bench = instance(X1, Y1)
    template = MER(MER.Config(lr=lr, beta=beta, gamma=gamma, steps=1, buffer_size=0, init="default")).build(
        context(model, bench, 1))
    template.train(bench.train_stream[0])
    assert torch.allclose(model[0].weight.detach(), expected, atol=1e-6)


def test_mer_replays_after_the_first_sample_and_fills_its_reservoir():
    xs, ys = torch.randn(5, 2), torch.tensor([0, 1, 0, 1, 0])
    bench = instance(xs, ys)
    template = MER(MER.Config(buffer_size=3, replay_batch=2, steps=2)).build(context(linear_model(), bench, 5))
    calls = []
    step = template._sgd_step
    template._sgd_step = lambda *a: calls.append(1) or step(*a)
    template.train(bench.train_stream[0])
    # sample 1: 2 steps x 1 SGD step (empty buffer); samples 2..5: 2 steps x (1 + 2 replayed)
    assert len(calls) == 2 * 1 + 4 * 2 * 3
    assert template.replay.size == 3 and template.replay.seen == 5


def test_closed_form_sgd_step_matches_autograd():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    twin = copy.deepcopy(net)
    x, y = torch.randn(2, 2, 3), torch.tensor([2, 0])
    fast = SequentialSGD.of(net, nn.CrossEntropyLoss())
    assert fast is not None
    loss = fast.step(x, y, 0.3)
    ref = nn.CrossEntropyLoss()(twin(x), y)
    grads = torch.autograd.grad(ref, list(twin.parameters()))
    for p, q, g in zip(net.parameters(), twin.parameters(), grads):
        assert torch.allclose(p, q - 0.3 * g, atol=1e-6)
    assert float(loss) == pytest.approx(float(ref))
    assert SequentialSGD.of(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), nn.CrossEntropyLoss()) is None


def test_mer_matches_avalanche_mer_on_the_same_stream_without_replay():
    """One sample per minibatch, no buffer, one experience: Algorithm 1 and Avalanche's MER coincide."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    xs, ys = torch.randn(6, 2), torch.tensor([0, 1, 1, 0, 1, 0])
    bench = instance(xs, ys)
    ours, theirs = copy.deepcopy(net), copy.deepcopy(net)
    MER(MER.Config(lr=0.2, beta=0.5, gamma=0.7, steps=2, buffer_size=0, init="default")).build(
        context(ours, bench, 1)).train(bench.train_stream[0], shuffle=False)
    MERAvalanche(MERAvalanche.Config(lr=0.2, beta=0.5, gamma=0.7, n_inner_steps=2)).build(
        context(theirs, bench, 1)).train(bench.train_stream[0], shuffle=False)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    assert not torch.allclose(ours[0].weight, net[0].weight)


# ------------------------------------------------------------------ helpers
def test_initialisations_follow_the_papers_code():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 200))
    init_weights(net, "kaiming-normal")
    assert net[0].weight.std().item() == pytest.approx((2 / 400) ** 0.5, rel=0.05)
    assert torch.count_nonzero(net[0].bias) == 0
    init_weights(net, "xavier-uniform")
    bound = (6 / (300 + 200)) ** 0.5
    assert net[2].weight.abs().max().item() <= bound
    assert net[2].weight.abs().max().item() > 0.95 * bound


def test_avalanche_lamaml_wrapper_ignores_task_labels():
    net = nn.Linear(2, 2)
    wrapped = IgnoresTaskLabels(net)
    x = torch.randn(3, 2)
    assert torch.equal(wrapped(x, torch.zeros(3, dtype=torch.long)), net(x))
