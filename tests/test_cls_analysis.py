"""Similarity, production, lesion sweeps and the CLS loss/score on hand-built inputs."""

import contextlib
import copy
import dataclasses
import math

import pandas as pd
import pytest
import torch
from torch import nn

from hippo_bench.analysis.cls_probe import ItemProbe, item_measures
from hippo_bench.analysis.cls_report import final_measures, retention_table
from hippo_bench.analysis.item_layout import ItemLayout
from hippo_bench.analysis.lesions import lesion_conditions
from hippo_bench.analysis.production import Relation, production
from hippo_bench.analysis.similarity import correlation_matrix, mean_similarity
from hippo_bench.models.base import LayeredModel
from hippo_bench.tasks.cls_common import AutoassociativeBCE, item_recall, pack_targets


# ------------------------------------------------------------- similarity
def test_identical_patterns_correlate_1_and_orthogonal_centred_ones_0():
    p = torch.tensor([[1.0, -1, 1, -1], [1, -1, 1, -1], [1, 1, -1, -1], [2, 2, -2, -2]])
    corr = correlation_matrix(p)
    assert corr[0, 1] == pytest.approx(1.0)
    assert corr[0, 2] == pytest.approx(0.0)
    assert corr[2, 3] == pytest.approx(1.0)  # scale does not matter
    assert mean_similarity(corr, [(0, 1), (2, 3)]) == pytest.approx(1.0)
    assert mean_similarity(corr, [(0, 2), (1, 3)]) == pytest.approx(0.0)


def test_one_hot_patterns_correlate_minus_one_over_n_minus_1_and_silent_ones_are_left_out():
    p = torch.cat([torch.eye(4), torch.zeros(1, 4)])
    corr = correlation_matrix(p)
    assert corr[0, 1] == pytest.approx(-1 / 3)
    assert math.isnan(corr[0, 4]) and math.isnan(corr[4, 4])
    assert mean_similarity(corr, [(0, 1), (0, 4)]) == pytest.approx(-1 / 3)
    assert math.isnan(mean_similarity(corr, [(4, 0)]))


# ------------------------------------------------------------- production
def test_production_reads_target_and_foil_units_through_the_item_permutation():
    unit_of = [2, 0, 1]  # item i lives on unit unit_of[i]
    activity = torch.zeros(3, 3)
    activity[0, 0] = 0.8  # cue item 0 -> unit 0 = item 1 (its target)
    activity[0, 1] = 0.1  # unit 1 = item 2 (its foil)
    score = production(activity, [Relation(0, (1,), (2,))], unit_of)
    assert (score.target, score.foil, score.choice) == pytest.approx((0.8, 0.1, 1.0))
    tie = production(torch.zeros(3, 3), [Relation(0, (1,), (2,))], unit_of)
    assert tie.choice == 0.5


def test_production_of_an_output_identical_to_the_target_pattern_is_1_and_of_an_orthogonal_one_0():
    unit_of = [0, 1, 2, 3]
    activity = torch.eye(4)[[1, 0, 3, 2]]  # each cue produces exactly its partner's pattern
    rels = [Relation(0, (1,), (3,)), Relation(1, (0,), (2,))]
    s = production(activity, rels, unit_of)
    assert (s.target, s.foil, s.choice) == (1.0, 0.0, 1.0)
    s = production(torch.eye(4), rels, unit_of)  # output reproduces the cue itself only
    assert (s.target, s.foil, s.choice) == (0.0, 0.0, 0.5)


# ------------------------------------------------------------- probe rows
LAYOUT = ItemLayout(unit_of=[0, 1, 2, 3], test_items=[[0, 1], [2, 3]],
                    contrasts={"pair": [(0, 1), (2, 3)], "nonpair": [(0, 2), (0, 3), (1, 2), (1, 3)]},
                    relations={"ab": [Relation(0, (1,), (3,)), Relation(2, (3,), (1,))]})


def by_metric(measures, entity=None):
    return {m.metric: m.value for m in measures if entity is None or m.entity in (entity, "output", "")}


def test_item_measures_on_hand_built_activations():
    v1, v2 = torch.tensor([1.0, -1, 1, -1]), torch.tensor([1.0, 1, -1, -1])
    hidden = {"ca1": torch.stack([v1, v1, v2, v2])}
    logits = torch.full((4, 4), -30.0)
    logits[0, 1] = 30.0  # item 0 produces item 1
    logits[2, 2] = 30.0  # item 2 recalls itself, produces nothing
    logits[1, 1] = logits[3, 3] = 30.0
    rows = item_measures(LAYOUT, logits, hidden, {"ca1": "MSP"}, lesion="msp")
    m = by_metric(rows)
    assert m["similarity_pair"] == pytest.approx(1.0) and m["similarity_nonpair"] == pytest.approx(0.0)
    assert m["production_ab"] == pytest.approx(0.5, abs=1e-6)  # 1.0 for item 0, 0.0 for item 2
    assert m["production_ab_foil"] == pytest.approx(0.0, abs=1e-6)
    assert m["production_ab_choice"] == pytest.approx(0.75)  # win for item 0, tie for item 2
    recall = {r.eval_exp: r.value for r in rows if r.metric == "accuracy"}
    assert recall == {0: 0.5, 1: 1.0}  # item 0's most active unit is item 1's
    assert all(r.lesion == "msp" for r in rows)
    assert {r.group for r in rows if r.metric.startswith("similarity_")} == {"MSP"}
    assert not [r for r in item_measures(LAYOUT, logits, hidden, {}) if r.metric == "accuracy"]  # intact: runner's


CONTINUAL_LAYOUT = dataclasses.replace(LAYOUT, per_experience=True)


def test_continual_layouts_are_also_measured_per_test_experience():
    v1, v2, v3 = torch.tensor([1.0, -1, 1, -1]), torch.tensor([1.0, 1, -1, -1]), torch.tensor([-1.0, -1, 1, 1])
    hidden = {"ca1": torch.stack([v1, v1, v2, v3])}  # experience 0's pair identical, experience 1's opposite
    logits = torch.full((4, 4), -30.0)
    logits[0, 1] = 30.0  # item 0 produces its partner, item 2 does not
    rows = item_measures(CONTINUAL_LAYOUT, logits, hidden, {})
    sim = {(r.metric, r.eval_exp): r.value for r in rows if r.metric.startswith("similarity_")}
    assert sim[("similarity_pair", 0)] == pytest.approx(1.0)
    assert sim[("similarity_pair", 1)] == pytest.approx(-1.0)
    assert sim[("similarity_pair", -1)] == pytest.approx(0.0)  # pooled: the mean of both pairs
    assert math.isnan(sim[("similarity_nonpair", 0)])  # no non-pair lies inside one experience of this layout
    assert sim[("similarity_nonpair", -1)] == pytest.approx(0.0)
    prod = {(r.metric, r.eval_exp): r.value for r in rows if r.metric.startswith("production_ab")}
    assert prod[("production_ab_choice", 0)] == 1.0 and prod[("production_ab_choice", 1)] == 0.5
    assert prod[("production_ab_choice", -1)] == 0.75
    assert not [r for r in item_measures(LAYOUT, logits, hidden, {}) if r.eval_exp != -1]  # interleaved: pooled only


def test_item_correlations_are_the_upper_triangle_of_each_layer_and_only_at_the_final_evaluation():
    hidden = {"dg": torch.tensor([[1.0, 0, 0], [0, 1, 0], [1, 1, 0], [2, 0, 0]])}
    rows = item_measures(LAYOUT, torch.zeros(4, 4), hidden, {"dg": "TSP"}, correlations=True)
    corr = [r for r in rows if r.metric == "item_correlation"]
    assert [(r.item_a, r.item_b) for r in corr] == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    values = {(r.item_a, r.item_b): r.value for r in corr}
    assert values[(0, 3)] == pytest.approx(1.0)  # same pattern, other scale
    assert values[(0, 1)] == pytest.approx(-0.5)  # one-hot patterns over 3 units: -1 / (3 - 1)
    assert values[(0, 2)] == pytest.approx(0.5)  # centred (2, -1, -1)/3 and (1, 1, -2)/3: (3/9) / (6/9)
    assert {(r.entity, r.group, r.eval_exp) for r in corr} == {("dg", "TSP", -1)}
    assert not [r for r in item_measures(LAYOUT, torch.zeros(4, 4), hidden, {}) if r.metric == "item_correlation"]

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4))
    probe = ItemProbe(LAYOUT)  # the runner says which evaluation is the final one
    counts = [sum(m.metric == "item_correlation" for m in probe(model, final=final)) for final in (False, False, True)]
    assert counts == [0, 0, 6]


def test_runs_record_item_correlations_once_at_the_end_offline_joint_and_resumed_runs_too(run_cli, tmp_path):
    from conftest import read_runs
    from hippo_bench.progress import NoProgress
    from hippo_bench.resolve import plan_from
    from hippo_bench.runner import execute

    args = ["--benchmark", "cls-pairs", "--bench-n-experiences", "2", "--bench-trials-per-exp", "20"]
    assert run_cli("run", "--strategy", "joint", "--schedule", "offline", *args, "--out", tmp_path / "off")[0] == 0
    assert run_cli("run", "--strategy", "naive", *args, "--out", tmp_path / "on")[0] == 0

    class StopAtSecond(NoProgress):
        def start_experience(self, k, n_samples):
            if k == 1:
                raise KeyboardInterrupt

    plan = plan_from([("test", {"strategy": "meta-hippo", "benchmark": "cls-pairs", "model": "mlp2",
                                "benchmark_params": {"n_experiences": 2, "trials_per_exp": 20},
                                "model_params": {"hidden": [10, 10]}})])
    (_, instance, (spec,)), = plan.specs()
    with pytest.raises(KeyboardInterrupt):
        execute(spec, instance, tmp_path / "resumed", progress=StopAtSecond())
    assert execute(spec, instance, tmp_path / "resumed").status == "ok"  # resumed from experience 1
    for folder in ("off", "on", "resumed"):
        df = read_runs(tmp_path / folder)
        corr = df[df["metric"] == "item_correlation"]
        assert len(corr) > 0 and set(corr["train_exp"]) == {1}, folder  # after the last experience only


def test_retention_table_reads_recall_when_learned_and_at_the_end():
    def row(train_exp, eval_exp, metric, value, run="r1"):
        return dict(run_id=run, status="ok", train_exp=train_exp, eval_exp=eval_exp, metric=metric, value=value,
                    entity="", group="", lesion="")
    rows = [row(-1, 0, "accuracy", 0.0), row(-1, 1, "accuracy", 0.0),
            row(0, 0, "accuracy", 0.8), row(0, 1, "accuracy", 0.1),
            row(1, 0, "accuracy", 0.3), row(1, 1, "accuracy", 0.9),
            row(0, 0, "production_ab_choice", 1.0), row(1, 0, "production_ab_choice", 0.6),
            row(1, 1, "production_ab_choice", 0.7), row(1, -1, "production_ab_choice", 0.65)]
    table = retention_table([pd.DataFrame(rows)], ("ab", "pair", "nonpair"), title="t")
    cells = {col.header: list(col._cells) for col in table.columns}
    assert cells["experience"] == ["0", "1"]
    assert cells["recall: learned"] == ["0.800", "0.900"] and cells["recall: end"] == ["0.300", "0.900"]
    assert cells["A->B choice: learned"] == ["1.000", "0.700"] and cells["A->B choice: end"] == ["0.600", "0.700"]
    pooled = final_measures([pd.DataFrame(rows)])
    assert list(pooled.loc[pooled["metric"] == "production_ab_choice", "mean"]) == [0.65]  # eval_exp -1 only


class TwoPathwayNet(LayeredModel):
    """ec -> dg -> ca1 (the "tsp" pathway) and ec -> ca1 (the "msp" pathway), ca1 -> output."""

    lesions = ("msp", "tsp")
    layer_groups = {"ec": "EC", "dg": "TSP", "ca1": "MSP"}

    def __init__(self, n=4, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.ec, self.dg = nn.Linear(n, 6), nn.Linear(6, 6)
        self.msp, self.tsp = nn.Linear(6, 5, bias=False), nn.Linear(6, 5, bias=False)
        self.out = nn.Linear(5, n)
        self.active = None

    @contextlib.contextmanager
    def lesion(self, name):
        self.active = name
        try:
            yield
        finally:
            self.active = None

    def hidden_activations(self, x):
        ec = torch.relu(self.ec(x))
        dg = torch.relu(self.dg(ec))
        ca1 = torch.relu((0 if self.active == "msp" else self.msp(ec)) + (0 if self.active == "tsp" else self.tsp(dg)))
        return {"ec": ec, "dg": dg, "ca1": ca1}

    def forward(self, x):
        return self.out(self.hidden_activations(x)["ca1"])


def test_lesion_sweep_removes_exactly_the_named_pathway():
    model = TwoPathwayNet()
    assert lesion_conditions(model) == ["", "msp", "tsp"]
    assert lesion_conditions(nn.Sequential(nn.Linear(2, 2))) == [""]
    before = model(torch.eye(4)).detach()
    rows = ItemProbe(LAYOUT)(model)
    assert torch.equal(model(torch.eye(4)).detach(), before) and model.active is None  # restored
    for lesion, weight in (("msp", "msp"), ("tsp", "tsp")):
        cut = copy.deepcopy(model)
        with torch.no_grad():
            getattr(cut, weight).weight.zero_()  # the pathway's contribution removed by hand
        expected = {(m.metric, m.entity): m.value for m in ItemProbe(LAYOUT)(cut) if m.lesion == ""}
        got = {(m.metric, m.entity): m.value for m in rows if m.lesion == lesion and m.metric != "accuracy"}
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, nan_ok=True), key
    intact = {(m.metric, m.entity): m.value for m in rows if m.lesion == ""}
    msp = {(m.metric, m.entity): m.value for m in rows if m.lesion == "msp"}
    assert msp[("similarity_pair", "dg")] == intact[("similarity_pair", "dg")]  # upstream layers untouched
    assert msp[("similarity_pair", "ca1")] != intact[("similarity_pair", "ca1")]
    assert {m.lesion for m in rows if m.metric == "accuracy"} == {"msp", "tsp"}


def test_probe_on_a_plain_model_measures_its_hooked_layers_intact_only():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    model.train()
    rows = ItemProbe(LAYOUT)(model)
    assert model.training  # mode restored
    assert {m.entity for m in rows if m.metric == "similarity_pair"} == {"1", "3"}
    assert {m.lesion for m in rows} == {""}


# ------------------------------------------------------------- loss, score
def test_autoassociative_loss_is_bce_against_the_input_pattern_summed_over_units():
    logits = torch.tensor([[0.5, -1.0, 2.0]])
    y = pack_targets(torch.tensor([2]), torch.tensor([0]), 3)
    target = torch.tensor([0.9, 0.0, 1.0])
    p = torch.sigmoid(logits[0])
    manual = -(target * p.log() + (1 - target) * (1 - p).log()).sum()
    assert AutoassociativeBCE(3, 0.9)(logits, y).item() == pytest.approx(manual.item(), rel=1e-5)


def test_balanced_loss_weights_the_off_units_to_the_pull_of_the_on_units():
    logits = torch.tensor([[0.5, -1.0, 2.0, 0.0, 1.0]])
    y = pack_targets(torch.tensor([2]), torch.tensor([0]), 5)
    target = torch.tensor([0.9, 0.0, 1.0, 0.0, 0.0])
    p = torch.sigmoid(logits[0])
    per_unit = -(target * p.log() + (1 - target) * (1 - p).log())
    weights = torch.tensor([1.0, 2 / 3, 1.0, 2 / 3, 2 / 3])  # 2 units on, 3 off: each off unit weighs 2/3
    expected = (weights * per_unit).sum()
    assert AutoassociativeBCE(5, 0.9, balanced=True)(logits, y).item() == pytest.approx(expected.item(), rel=1e-5)
    assert AutoassociativeBCE(5, 0.9)(logits, y).item() == pytest.approx(per_unit.sum().item(), rel=1e-5)


def test_item_recall_is_1_when_the_shown_items_unit_is_most_active():
    y = pack_targets(torch.tensor([2, 1]), torch.tensor([-1, 0]), 3)
    out = torch.tensor([[0.0, 0.1, 0.9], [0.9, 0.5, 0.0]])  # second trial: the previous item wins
    assert item_recall(out, y, n_units=3).tolist() == [1.0, 0.0]
