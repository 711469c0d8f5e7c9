"""meta-hippo and the shared online meta-learning loop."""

from __future__ import annotations

import copy
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hippo_bench.models import models
from hippo_bench.strategies.base import silent_evaluator
from hippo_bench.strategies.meta.replay import ReservoirBuffer
from hippo_bench.strategies.meta.step_sizes import ReluAlpha
from hippo_bench.strategies.meta.template import LoopConfig, OnlineMetaTemplate

from conftest import read_runs


def make_template(model, *, alpha=0.3, step_lr=0.0, m_lr=0.0, path="auto", per_parameter=False,
                  grad_clip=2.0, replay_batch=3, criterion=None, **loop):
    steps = ReluAlpha(dict(model.named_parameters()), alpha, per_parameter=per_parameter, learned=step_lr > 0)
    loop = LoopConfig(step_lr=step_lr, inhibition_lr=m_lr, path=path, grad_clip=grad_clip, replay_batch=replay_batch,
                      **loop)
    return OnlineMetaTemplate(model=model, criterion=criterion or torch.nn.CrossEntropyLoss(), steps=steps, loop=loop,
                              evaluator=silent_evaluator())


def feed(tpl, batches):
    for x, y in batches:
        tpl.mbatch = [x, y, torch.zeros(len(y), dtype=torch.long)]
        tpl._inner_updates()
        tpl._outer_update()


def batches(n, size, dim, classes, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(size, dim, generator=g), torch.randint(0, classes, (size,), generator=g)) for _ in range(n)]


def test_first_order_step_matches_hand_computation():
    """Nothing learned, no inhibition: one update equals a first-order La-MAML step done by hand."""
    torch.manual_seed(0)
    net = models.get("mlp2")(models.get("mlp2").Config(hidden=[3], m_init=0.0)).build((4,), 2)
    w0 = {n: p.detach().clone() for n, p in net.named_parameters()}
    x, y = torch.rand(2, 4), torch.tensor([0, 1])
    a = 0.25

    def forward(W1, W2, inp):
        return F.normalize(F.relu(F.normalize(inp, dim=1) @ W1.t()), dim=1) @ W2.t()

    W1, W2 = w0["weights.input__h1"].clone().requires_grad_(), w0["weights.h1__out"].clone().requires_grad_()
    fast = [W1, W2]
    meta = 0.0
    for i in range(2):  # one sample at a time; the inner gradient is a constant
        leaves = [f.detach().requires_grad_() for f in fast]
        g = torch.autograd.grad(F.cross_entropy(forward(*leaves, x[i:i + 1]), y[i:i + 1]), leaves)
        fast = [f - a * gi for f, gi in zip(fast, g)]
        meta = meta + F.cross_entropy(forward(*fast, x), y)  # the meta-batch is the batch (empty buffer)
    (meta / 2).backward()
    expected = {"weights.input__h1": w0["weights.input__h1"] - a * W1.grad,
                "weights.h1__out": w0["weights.h1__out"] - a * W2.grad}

    for path in ("low-rank", "materialised"):
        model = copy.deepcopy(net)
        tpl = make_template(model, alpha=a, grad_clip=0.0, path=path)
        feed(tpl, [(x, y)])
        for n, p in model.named_parameters():
            assert torch.allclose(p, expected[n], atol=1e-6), (path, n)


@pytest.mark.parametrize("name, heads", [("mlp2", None), ("dual", {"category": 3, "item": 2}), ("chorse", None)])
def test_low_rank_path_equals_materialised_path(name, heads):
    torch.manual_seed(0)
    base = models.get(name)().build((10,), 5, heads)
    with torch.no_grad():
        base.inhibition.fill_(0.5)
    results = []
    for path in ("low-rank", "materialised"):
        model = copy.deepcopy(base)
        tpl = make_template(model, step_lr=0.1, m_lr=0.1, path=path)
        feed(tpl, batches(3, 4, 10, 3))
        results.append((model.state_dict(), {k: v.detach().clone() for k, v in tpl.steps.alpha.items()}))
    (sa, aa), (sb, ab) = results
    for k in sa:
        assert torch.allclose(sa[k], sb[k], atol=1e-5), k
    for k in aa:
        assert torch.allclose(aa[k], ab[k], atol=1e-5), k
    assert not torch.allclose(sa["inhibition"], base.inhibition)  # m did move


@pytest.mark.parametrize("name, heads", [("mlp4", None), ("dual", {"category": 3, "item": 2}), ("chorse", None)])
def test_hand_written_meta_gradient_equals_autograd(name, heads):
    """LowRankPath.meta_backward (by hand) against autograd through the same meta-loss."""
    torch.manual_seed(2)
    model = models.get(name)().build((10,), 5, heads)
    with torch.no_grad():
        model.inhibition.fill_(0.6)
    tpl = make_template(model, step_lr=0.1, m_lr=0.1, path="low-rank")
    feed(tpl, batches(2, 4, 10, 3))  # fill the buffer so the meta-batch holds replay too
    x, y = batches(1, 4, 10, 3, seed=9)[0]
    tpl.mbatch = [x, y, torch.zeros(4, dtype=torch.long)]
    tpl._inner_updates()
    params = [*model.weights.values(), model.inhibition, *tpl.steps.alpha.values()]
    for p in params:
        p.grad = None
    auto_loss = tpl.path.meta_loss(*tpl._meta_batch)
    auto = torch.autograd.grad(auto_loss, params)
    for p in params:
        p.grad = None
    hand_loss = tpl.path.meta_backward(*tpl._meta_batch)
    assert float(hand_loss) == pytest.approx(float(auto_loss), rel=1e-5)
    for p, g in zip(params, auto):
        assert torch.allclose(p.grad, g, atol=1e-6, rtol=1e-4)


def test_gradients_reach_m_and_every_alpha():
    torch.manual_seed(1)
    model = models.get("dual")().build((10,), 5, {"category": 3, "item": 2})
    tpl = make_template(model, step_lr=0.1, m_lr=0.1)
    x, y = batches(1, 5, 10, 3)[0]
    tpl.mbatch = [x, y, torch.zeros(5, dtype=torch.long)]
    tpl._inner_updates()
    loss = tpl.path.meta_loss(*tpl._meta_batch)
    loss.backward()
    grads = {k: v.grad for k, v in tpl.steps.alpha.items()}
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads.values())
    assert model.inhibition.grad is not None and torch.isfinite(model.inhibition.grad).all()
    assert (model.inhibition.grad != 0).all()


@pytest.mark.parametrize("condition, learns_m, learns_lr", [("baseline", False, False), ("sparsity", True, False),
                                                            ("lr", False, True), ("both", True, True)])
def test_each_condition_changes_only_what_it_names(condition, learns_m, learns_lr):
    from hippo_bench.strategies import strategies
    from hippo_bench.strategies.base import StrategyContext
    from hippo_bench.tasks.base import BenchmarkInstance

    torch.manual_seed(0)
    cls = strategies.get("meta-hippo")
    strat = cls(cls.Config(condition=condition, alpha_lr=0.05, m_lr=0.5))
    model = models.get("mlp2")().build((10,), 3)
    instance = BenchmarkInstance(scenario=None, n_outputs=3, input_shape=(10,), kind="class-incremental", protocol="")
    ctx = StrategyContext(model=model, criterion=torch.nn.CrossEntropyLoss(), device=torch.device("cpu"),
                          plugins=[], evaluator=silent_evaluator(), train_mb_size=5, eval_mb_size=10, epochs=1,
                          benchmark=instance, seed=0)
    tpl = strat.build(ctx)
    m0 = model.inhibition.detach().clone()
    a0 = {k: v.detach().clone() for k, v in tpl.steps.alpha.items()}
    w0 = {k: v.detach().clone() for k, v in model.named_parameters()}
    feed(tpl, batches(4, 5, 10, 3))
    assert (not torch.equal(m0, model.inhibition)) == learns_m
    assert float(m0.sum()) == (pytest.approx(0.02) if learns_m else 0.0)  # no inhibition unless learned
    moved = [not torch.equal(a0[k], v) for k, v in tpl.steps.alpha.items()]
    assert all(moved) if learns_lr else not any(moved)
    assert all(not torch.equal(w0[k], v) for k, v in model.named_parameters())  # weights always learn


def test_per_parameter_learning_rates_use_the_materialised_path():
    model = models.get("mlp2")(models.get("mlp2").Config(hidden=[6])).build((5,), 3)
    tpl = make_template(model, per_parameter=True, step_lr=0.1)
    assert type(tpl.path).__name__ == "MaterialisedPath"
    feed(tpl, batches(2, 3, 5, 3))
    alpha = tpl.steps.alpha["weights__input__h1"]
    assert alpha.shape == model.weights["input__h1"].shape and alpha.std() > 0  # entries learn separately


def test_reservoir_buffer_keeps_a_uniform_sample():
    counts = torch.zeros(100)
    for seed in range(200):
        buf = ReservoirBuffer(10, seed)
        x = torch.arange(100).float().unsqueeze(1)
        buf.push(x, torch.arange(100), torch.zeros(100, dtype=torch.long))
        assert buf.size == 10 and buf.seen == 100
        counts[buf.y[: buf.size]] += 1
    # each item is kept with probability 10/100: 20 of 200 times on average
    assert counts[:50].mean() == pytest.approx(20, abs=4) and counts[50:].mean() == pytest.approx(20, abs=4)
    assert ReservoirBuffer(5).sample(3) is None


def test_nan_meta_loss_stops_with_clear_error(run_cli, tiny_bench, tmp_path, monkeypatch):
    from hippo_bench.strategies.meta import fast_weights

    monkeypatch.setattr(fast_weights.LowRankPath, "meta_backward",
                        lambda self, x, y, t: torch.tensor(float("nan")))
    code, out, err = run_cli("run", "--strategy", "meta-hippo", "--out", tmp_path, *tiny_bench)
    assert code != 0
    assert "meta-loss is nan at experience 0, meta-step 0" in out + err
    assert not list(tmp_path.glob("*.parquet"))
    assert list((tmp_path / "failed").glob("*.json"))


def test_seeded_run_is_deterministic_and_records_every_layer(run_cli, tiny_bench, tmp_path):
    for out in ("a", "b"):
        code, _, _ = run_cli("run", "--strategy", "meta-hippo", "--model", "dual", "--out", tmp_path / out,
                             *tiny_bench)
        assert code == 0
    a, b = read_runs(tmp_path / "a"), read_runs(tmp_path / "b")
    assert a[["train_exp", "eval_exp", "metric", "entity", "lesion"]].equals(
        b[["train_exp", "eval_exp", "metric", "entity", "lesion"]])
    keep = ~a["metric"].str.contains("time|per_s|rss")
    assert a.loc[keep, "value"].reset_index(drop=True).equals(b.loc[keep, "value"].reset_index(drop=True))
    layers = {"h1", "h2", "h3", "large", "small"}
    projections = {"input->h1", "h1->h2", "h2->h3", "h3->large", "h3->small", "large->out", "small->out"}
    for train_exp in (-1, 0, 1):
        rows = a[a["train_exp"] == train_exp]
        assert set(rows.loc[rows["metric"] == "percent_active", "entity"]) == layers
        assert set(rows.loc[rows["metric"] == "inhibition_m", "entity"]) == layers
        assert set(rows.loc[rows["metric"] == "learned_lr", "entity"]) == projections
        assert set(rows.loc[rows["metric"] == "category_accuracy", "lesion"]) == {"", "large", "small"}
    assert set(a.loc[(a["train_exp"] == 1) & (a["metric"] == "relative_step"), "entity"]) == projections
    groups = dict(zip(a["entity"], a["group"]))
    assert groups["large"] == "large" and groups["h3->small"] == "small"
    pct = a.loc[a["metric"] == "percent_active", "value"]
    assert ((pct >= 0) & (pct <= 100)).all()


def test_conditions_learn_different_parameters(run_cli, tiny_bench, tmp_path):
    finals = {}
    for cond in ("baseline", "sparsity", "lr", "both"):
        code, out, _ = run_cli("run", "--strategy", "meta-hippo", "--condition", cond, "--out", tmp_path,
                               "--alpha-lr", "0.01", *tiny_bench)
        assert code == 0
        assert "learned sparsity and learning rates" in out
        df = read_runs(tmp_path)
        df = df[(df["strategy_params"].str.contains(f'"condition":"{cond}"')) & (df["train_exp"] == 1)]
        m = df.loc[df["metric"] == "inhibition_m", "value"].to_numpy()
        lr = df.loc[df["metric"] == "learned_lr", "value"].to_numpy()
        finals[cond] = (m, lr)
    unchanged = lambda values, init: np.allclose(values, init, rtol=1e-6, atol=0)  # noqa: E731 (float32)
    assert (finals["baseline"][0] == 0).all() and (finals["lr"][0] == 0).all()
    assert not unchanged(finals["sparsity"][0], 0.01) and not unchanged(finals["both"][0], 0.01)
    assert unchanged(finals["baseline"][1], 0.1) and unchanged(finals["sparsity"][1], 0.1)
    assert not unchanged(finals["lr"][1], 0.1) and not unchanged(finals["both"][1], 0.1)
    assert len(finals["both"][0]) == 2 and len(finals["both"][1]) == 3


@pytest.mark.parametrize("floor, expected", [(None, 0.01 - 0.5), (0.0, 0.0)])
def test_inhibition_multiplier_is_unbounded_unless_a_floor_is_set(monkeypatch, floor, expected):
    """A meta-gradient of +1 on m with step 0.5 takes m from 0.01 to -0.49 (seed: no clamp), or to the floor."""
    model = models.get("mlp2")(models.get("mlp2").Config(hidden=[6])).build((5,), 3)
    with torch.no_grad():
        model.inhibition.fill_(0.01)
    tpl = make_template(model, m_lr=0.5, grad_clip=0.0, inhibition_floor=floor)

    def fake_meta_backward(x, y, t):
        for p in model.weights.values():
            p.grad = torch.zeros_like(p)
        model.inhibition.grad = torch.ones_like(model.inhibition)
        return torch.tensor(1.0)

    monkeypatch.setattr(tpl.path, "meta_backward", fake_meta_backward)
    feed(tpl, batches(1, 3, 5, 3))
    assert model.inhibition.tolist() == pytest.approx([expected])


def test_seed_activity_measure_with_zero_steps_is_the_slow_weights_activity_on_the_meta_batch():
    """alpha = 0: every fast weight equals the slow weight, so the seed's measure is fraction_active(meta-batch)."""
    torch.manual_seed(0)
    model = models.get("mlp2")(models.get("mlp2").Config(hidden=[40, 30])).build((12,), 4)
    with torch.no_grad():
        model.inhibition.fill_(0.4)
    tpl = make_template(model, alpha=0.0, replay_batch=0, activity_iteration=0)
    (x, y), = batches(1, 6, 12, 4)
    expected = model.fraction_active(x)
    feed(tpl, [(x, y)])
    assert tpl.train_activity == pytest.approx(expected, abs=1e-6)
    assert 0 < expected["h1"] < 1  # inhibition left some units on and some off


def test_seed_activity_measure_agrees_between_the_low_rank_and_materialised_paths():
    """With learning steps the measure uses the fast weights: both computations of them give the same shares."""
    results = {}
    for path in ("low-rank", "materialised"):
        torch.manual_seed(0)
        model = models.get("mlp2")(models.get("mlp2").Config(hidden=[40, 30])).build((12,), 4)
        with torch.no_grad():
            model.inhibition.fill_(0.3)
        tpl = make_template(model, alpha=2.0, path=path, replay_batch=0, activity_iteration=0)
        (x, y), = batches(1, 6, 12, 4)
        slow = model.fraction_active(x)
        feed(tpl, [(x, y)])
        results[path] = (tpl.train_activity, slow)
    (low, slow), (mat, _) = results["low-rank"], results["materialised"]
    assert low == pytest.approx(mat, abs=1e-6)
    assert low != pytest.approx(slow, abs=1e-3)  # large steps moved the fast weights' activity


def test_raw_alpha_is_recorded_beside_relu_alpha(run_cli, tiny_bench, tmp_path):
    code, _, _ = run_cli("run", "--strategy", "meta-hippo", "--model", "mlp2", "--out", tmp_path, "--alpha-lr", "0.05",
                         *tiny_bench)
    assert code == 0
    df = read_runs(tmp_path)
    lr = df[df["metric"] == "learned_lr"].set_index(["train_exp", "entity"])["value"]
    raw = df[df["metric"] == "alpha_raw"].set_index(["train_exp", "entity"])["value"]
    assert set(lr.index) == set(raw.index)
    assert np.allclose(lr.sort_index(), raw.sort_index().clip(lower=0.0))  # learned lr = relu(raw alpha)
    seed_measure = df[df["metric"] == "percent_active_train"]
    assert set(seed_measure["train_exp"]) == {0, 1}  # measured during training: none before it
    assert set(seed_measure["entity"]) == {"h1", "h2"}
