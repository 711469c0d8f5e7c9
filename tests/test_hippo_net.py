"""HippoNet: the learned k-WTA inhibition, the presets' structure, lesions, hand-made errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hippo_bench.models import models
from hippo_bench.models.hippo_net import (HippoNet, LayerSpec, LowRank, NetSpec, ProjectionSpec, inhibit,
                                          k_active, mlp_spec)


def test_inhibition_active_set_on_hand_made_vectors():
    z = torch.tensor([[5.0, 1.0, 3.0, 4.0, 2.0]])
    # k = 2: theta = 4 (the 2nd largest). m = 1 keeps only units strictly above 4.
    out = inhibit(z, torch.tensor(1.0), 2)
    assert out.tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]
    # m = 0.5: threshold 2 -> units 5, 3, 4 stay, shifted down by 2
    out = inhibit(z, torch.tensor(0.5), 2)
    assert out.tolist() == [[3.0, 0.0, 1.0, 2.0, 0.0]]
    # k = 3 and m = 1: theta = 3 -> 5 and 4 stay
    assert (inhibit(z, torch.tensor(1.0), 3) > 0).tolist() == [[True, False, False, True, False]]


def test_inhibition_ties_and_m_zero_is_relu():
    z = torch.tensor([[2.0, 2.0, 2.0, -1.0]])
    # a three-way tie at the top: the 2nd largest is 2, so with m = 1 nothing is strictly above it
    assert inhibit(z, torch.tensor(1.0), 2).tolist() == [[0.0, 0.0, 0.0, 0.0]]
    # with m = 0.5 every tied unit passes equally
    assert inhibit(z, torch.tensor(0.5), 2).tolist() == [[1.0, 1.0, 1.0, 0.0]]
    x = torch.randn(7, 50)
    assert torch.equal(inhibit(x, torch.tensor(0.0), 3), F.relu(x))


def test_inhibition_per_sample_threshold():
    z = torch.tensor([[1.0, 2.0, 3.0], [30.0, 20.0, 10.0]])
    out = inhibit(z, torch.tensor(1.0), 2)  # thresholds 2 and 20, per row
    assert out.tolist() == [[0.0, 0.0, 1.0], [10.0, 0.0, 0.0]]


@pytest.mark.parametrize("m, expected, tol", [(0.0, 0.50, 0.02), (0.5, 0.12, 0.02), (0.8, 0.03, 0.01),
                                              (1.0, 0.009, 0.003)])
def test_gaussian_sparsity_matches_design(m, expected, tol):
    """docs/DESIGN.md: for Gaussian pre-activations and k = 1%, m = 0, .5, .8, 1 give ~50, 12, 3, 1% active."""
    z = torch.randn(400, 1000, generator=torch.Generator().manual_seed(0))
    active = (inhibit(z, torch.tensor(m), k_active(1000, 0.01, 1)) > 0).float().mean().item()
    assert abs(active - expected) < tol


def test_k_rule():
    assert k_active(200, 0.01, 1) == 2 and k_active(100, 0.01, 1) == 1  # the seed's int(0.01 n)
    assert k_active(100, 0.01, 2) == 2 and k_active(80, 0.01, 2) == 2  # floor elsewhere
    assert k_active(3, 0.01, 5) == 3  # never more than the layer


def test_presets_structure():
    mlp2 = models.get("mlp2")().build((784,), 10)
    assert [mlp2.units[n] for n in mlp2.hidden_names] == [200, 200]
    assert mlp2.k == {"h1": 2, "h2": 2, "out": 2}  # floor 2 by default
    mlp4 = models.get("mlp4")(models.get("mlp4").Config(k_floor=1)).build((784,), 10)
    assert [mlp4.units[n] for n in mlp4.hidden_names] == [100] * 4 and mlp4.k["h1"] == 1
    assert not any("bias" in n for n, _ in mlp4.named_parameters())
    dual = models.get("dual")().build((784,), 30, {"category": 10, "item": 20})
    assert dual.units["large"] == 1000 and dual.units["small"] == 200
    assert dual(torch.rand(2, 784)).shape == (2, 30)
    chorse = models.get("chorse")().build((8,), 8)
    assert {n: chorse.units[n] for n in ("dg", "ca3", "ca1")} == {"dg": 400, "ca3": 80, "ca1": 100}
    assert chorse.layer_groups["dg"] == "TSP" and chorse.layer_groups["ca3"] == "TSP"
    assert chorse.layer_groups["ca1"] == "MSP"
    assert chorse.projection_groups["ecin->ca1"] == "MSP" and chorse.projection_groups["ca3->ca1"] == "TSP"
    assert float(chorse.inhibition[0]) == pytest.approx(0.01)  # initial m


def test_layer_inputs_are_l2_normalised():
    net = models.get("mlp2")(models.get("mlp2").Config(m_init=0.0)).build((5,), 3)
    x = torch.rand(4, 5)
    w = dict(net.named_parameters())
    h1 = F.relu(F.normalize(x, dim=1) @ w["weights.input__h1"].t())
    h2 = F.relu(F.normalize(h1, dim=1) @ w["weights.h1__h2"].t())
    out = F.normalize(h2, dim=1) @ w["weights.h2__out"].t()
    assert torch.allclose(net(x), out, atol=1e-6)
    assert torch.allclose(net(10 * x), out, atol=1e-5)  # scale-free input


def test_dual_lesion_changes_output_only_through_that_branch():
    net = models.get("dual")().build((12,), 7, {"category": 4, "item": 3})
    x = torch.rand(5, 12)
    w = dict(net.named_parameters())
    acts = net.hidden_activations(x)
    large = F.normalize(acts["large"], dim=1)
    small = F.normalize(acts["small"], dim=1)
    via_large = torch.cat([large @ w["weights.large__category"].t(), large @ w["weights.large__item"].t()], 1)
    via_small = torch.cat([small @ w["weights.small__category"].t(), small @ w["weights.small__item"].t()], 1)
    with torch.no_grad():
        intact = net(x)
        with net.lesion("large"):
            no_large = net(x)
        with net.lesion("small"):
            no_small = net(x)
    assert torch.allclose(intact, via_large + via_small, atol=1e-5)
    assert torch.allclose(no_large, via_small, atol=1e-5)
    assert torch.allclose(no_small, via_large, atol=1e-5)
    assert torch.allclose(net(x), intact)  # the lesion ends with its block


def test_chorse_lesions_remove_named_projection():
    net = models.get("chorse")(models.get("chorse").Config(neocortex=[], m_init=0.0)).build((8,), 8)
    x = torch.rand(3, 8)
    w = dict(net.named_parameters())
    acts = net.hidden_activations(x)
    from_ecin = F.normalize(acts["ecin"], dim=1) @ w["weights.ecin__ca1"].t()
    from_ca3 = F.normalize(acts["ca3"], dim=1) @ w["weights.ca3__ca1"].t()
    assert torch.allclose(acts["ca1"], F.relu(from_ecin + from_ca3), atol=1e-5)
    with net.lesion("msp"):
        assert torch.allclose(net.hidden_activations(x)["ca1"], F.relu(from_ca3), atol=1e-5)
    with net.lesion("tsp"):
        assert torch.allclose(net.hidden_activations(x)["ca1"], F.relu(from_ecin), atol=1e-5)
    with pytest.raises(ValueError, match="unknown lesion"):
        with net.lesion("nope"):
            pass


def test_sample_errors_match_autograd():
    """The hand-written single-sample backward equals autograd's weight gradient (rank one)."""
    torch.manual_seed(3)
    net = models.get("chorse")(models.get("chorse").Config(neocortex=[6], ec=5, scale=0.05)).build((9,), 4)
    with torch.no_grad():
        net.inhibition.fill_(0.4)
    x, y = torch.rand(1, 9), torch.tensor([2])

    def loss_grad(out):
        with torch.enable_grad():  # sample_errors runs without a graph
            leaf = out.detach().requires_grad_()
            loss = F.cross_entropy(leaf, y)
            return loss.detach(), torch.autograd.grad(loss, leaf)[0]

    loss, inputs, errors = net.sample_errors(x, loss_grad)
    auto = torch.autograd.grad(F.cross_entropy(net(x), y), list(net.weights.values()))
    for (key, _), g in zip(net.weights.items(), auto):
        dst = key.split("__")[1]
        assert torch.allclose(torch.outer(errors[dst][0], inputs[key][0]), g, atol=1e-6), key
    assert loss == pytest.approx(float(F.cross_entropy(net(x), y)), rel=1e-6)


def test_state_gradients_under_a_lesion_match_autograd():
    """The hand-written backward through S low-rank states leaves out what the forward left out."""
    torch.manual_seed(4)
    net = models.get("dual")(models.get("dual").Config(shared=[8], large=12, small=6, k_fraction=0.2)).build(
        (9,), 5, {"category": 3, "item": 2})
    with torch.no_grad():
        net.inhibition.copy_(torch.tensor([0.3, 0.5, 0.2]))
    S, N = 3, 4
    x, y = torch.rand(N, 9), torch.randint(0, 5, (N,))
    sizes = {"input": 9, **net.units}
    low_rank = {p.key: LowRank(F.normalize(torch.rand(S, sizes[p.src]), dim=1), torch.randn(S, sizes[p.dst]),
                               0.1 * torch.rand(1, 1) * torch.tril(torch.ones(S, S)))
                for p in net.spec.projections}

    def loss_grad(out):
        with torch.enable_grad():
            leaf = out.detach().requires_grad_()
            loss = F.cross_entropy(leaf.reshape(S * N, -1), y.repeat(S))
            return loss.detach(), torch.autograd.grad(loss, leaf)[0]

    with net.lesion("large"):
        loss, d_w, d_c, d_m = net.state_gradients(x, loss_grad, low_rank)
        weights = {k: w.detach().clone().requires_grad_() for k, w in net.weights.items()}
        m = net.inhibition.clone().requires_grad_()
        cs = {k: LowRank(lr.H, lr.D, lr.C.clone().requires_grad_()) for k, lr in low_rank.items()}
        out = net.run(x, weights=weights, inhibition=m, low_rank=cs)[0]
        auto = F.cross_entropy(out.reshape(S * N, -1), y.repeat(S))
    auto.backward()
    assert float(loss) == pytest.approx(float(auto), rel=1e-6)
    # the large branch and what feeds it get no gradient, by hand as by autograd
    assert set(d_w) == set(d_c) == {k for k, w in weights.items() if w.grad is not None}
    assert set(d_w) == set(net.weights) - {"large__category", "large__item", "h1__large"}
    for k in d_w:
        assert torch.allclose(d_w[k], weights[k].grad, atol=1e-6), k
        assert torch.allclose(d_c[k], cs[k].C.grad, atol=1e-6), k
    assert torch.allclose(d_m, m.grad, atol=1e-6)


def test_structure_accessors():
    net = models.get("chorse")().build((8,), 8)
    assert [p.name for p in net.incoming("ca1")] == ["ca3->ca1", "ecin->ca1"]
    assert net.incoming("nc1")[0].src == "input"
    assert [net.inhibition_index(n) for n in net.hidden_names] == list(range(len(net.hidden_names)))


def test_spec_validation():
    with pytest.raises(ValueError, match="forward order"):
        NetSpec((LayerSpec("a", 2, "g"), LayerSpec("b", 2, "g", output=True)),
                (ProjectionSpec("b", "a", "g"), ProjectionSpec("input", "b", "g")), ("b",))
    with pytest.raises(ValueError, match="unknown projections"):
        NetSpec(mlp_spec([3], {"out": 2}).layers, mlp_spec([3], {"out": 2}).projections, ("out",),
                {"x": ("h1->nowhere",)})
    assert isinstance(models.get("mlp2")().build((3,), 2), HippoNet)
