"""The open questions: meta-hippo with a frozen or separate readout, meta-hippo with transferred m and lr, and
the last-layer-lr and transfer experiments on hand-made rows whose answer is known."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from conftest import TINY_BENCH, read_runs
from hippo_bench.errors import UserError
from hippo_bench.experiments.base import FAILS, HOLDS, INCONCLUSIVE
from hippo_bench.experiments.open_questions import LastLayerLr, Transfer
from hippo_bench.models import models
from hippo_bench.seeding import seed_everything
from hippo_bench.strategies import strategies
from hippo_bench.strategies.base import StrategyContext, silent_evaluator
from hippo_bench.strategies.meta_hippo_transfer import resolve_source, values_of_run
from hippo_bench.tasks import benchmarks

TINY = {"n_classes": 4, "classes_per_exp": 2, "dim": 16, "train_per_class": 10, "test_per_class": 5}
LEARNING = {"condition": "both", "alpha_lr": 0.01, "m_lr": 0.05}  # claims.QUICK_BENCH's meta steps
MAPPING = {"m": {"h1": 0.3, "h2": 0.6}, "lr": {"input->h1": 0.01, "h1->h2": 0.02, "h2->out": 0.05}}


def trained(name: str, **config):
    """(strategy, template, ctx) after one pass over the tiny split-patterns stream on mlp2 (16, 16)."""
    bench = benchmarks.get("split-patterns")
    instance = bench(bench.Config(**TINY)).build(0)
    seed_everything(0)
    model = models.get("mlp2")(models.get("mlp2").Config(hidden=[16, 16])).build(instance.input_shape,
                                                                                 instance.n_outputs)
    cls = strategies.get(name)
    strategy = cls(cls.Config(**config))
    ctx = StrategyContext(model=model, criterion=instance.criterion(), device=torch.device("cpu"), plugins=[],
                          evaluator=silent_evaluator(), train_mb_size=5, eval_mb_size=64, epochs=1,
                          benchmark=instance, seed=0)
    template = strategy.build(ctx)
    strategy.initial = {k: w.detach().clone() for k, w in model.weights.items()}
    strategy.initial_alpha = {k: float(a.detach()) for k, a in template.steps.alpha.items()}
    for exp in instance.train_stream:
        template.train(exp)
    return strategy, template, ctx


# ------------------------------------------------------------------------------------------ readout
def test_frozen_readout_keeps_its_weights_while_the_hidden_ones_and_their_rates_learn():
    strategy, template, ctx = trained("meta-hippo-frozen-readout", readout="frozen", **LEARNING)
    w = template.model.weights
    assert torch.equal(w["h2__out"], strategy.initial["h2__out"])  # not one bit moved
    for k in ("input__h1", "h1__h2"):
        assert not torch.equal(w[k], strategy.initial[k])
    alpha = {k: float(a) for k, a in template.steps.alpha.items()}
    assert alpha["weights__h2__out"] == 0.0
    assert alpha["weights__input__h1"] != pytest.approx(0.1) and alpha["weights__h1__h2"] != pytest.approx(0.1)
    rows = strategy.measures(template, ctx)
    readout = [m for m in rows if m.entity == "h2->out"]
    assert [(m.metric, m.value) for m in readout] == [("readout_lr", 0.0)]  # no learned lr reported for it
    assert {m.entity for m in rows if m.metric == "learned_lr"} == {"input->h1", "h1->h2"}


def test_separate_readout_takes_a_plain_sgd_step_on_the_meta_batch():
    strategy, template, ctx = trained("meta-hippo-frozen-readout", readout="separate", readout_lr=0.5, **LEARNING)
    model = template.model
    assert not torch.equal(model.weights["h2__out"], strategy.initial["h2__out"])
    assert float(template.steps.alpha["weights__h2__out"]) == 0.0  # no inner-loop or meta-learned step
    x, y, _ = template._meta_batch
    w0 = model.weights["h2__out"].detach().clone()
    with torch.no_grad():  # by hand: d CE / d W = (softmax - onehot)^T h / N, h the L2-normalised h2
        h = model.run(x)[1]["h2"]
        h = h / h.norm(dim=1, keepdim=True).clamp_min(1e-12)
        p = torch.softmax(h @ w0.t(), dim=1)
        p[torch.arange(len(y)), y] -= 1.0
        expected = w0 - 0.5 * p.t() @ h / len(y)
    strategy._separate.step(x, y)
    assert torch.allclose(model.weights["h2__out"], expected, atol=1e-6)
    rows = {(m.metric, m.entity): m.value for m in strategy.measures(template, ctx)}
    assert rows[("readout_lr", "h2->out")] == 0.5
    assert rows[("relative_step", "h2->out")] == pytest.approx(float((expected - w0).norm() / w0.norm()), rel=1e-4)


# ----------------------------------------------------------------------------------------- transfer
def test_transferred_m_and_lr_stay_at_the_source_values_and_differ_between_sources():
    other = {"m": {"h1": -0.1, "h2": 0.9}, "lr": {"input->h1": 0.2, "h1->h2": 0.0, "h2->out": 0.03}}
    learned = []
    for mapping in (MAPPING, other):
        strategy, template, ctx = trained("meta-hippo-transfer", source=json.dumps(mapping))
        model = template.model
        assert model.inhibition.tolist() == pytest.approx([mapping["m"]["h1"], mapping["m"]["h2"]])
        assert template.steps.values() == pytest.approx(
            {f"weights.{k.replace('->', '__')}": v for k, v in mapping["lr"].items()})
        assert not torch.equal(model.weights["h2__out"], strategy.initial["h2__out"])  # the weights learn
        rows = {(m.metric, m.entity): m.value for m in strategy.measures(template, ctx)}
        assert rows[("inhibition_m", "h2")] == pytest.approx(mapping["m"]["h2"])
        assert rows[("learned_lr", "h2->out")] == pytest.approx(mapping["lr"]["h2->out"])
        learned.append(model.inhibition.tolist())
    assert learned[0] != learned[1]


def source_run(run_cli, folder, *extra):
    code, out, err = run_cli("run", "--strategy", "meta-hippo", *TINY_BENCH, "--alpha-lr", "0.01", "--m-lr", "0.05",
                             "--out", folder, *extra)
    assert code == 0, out + err
    return read_runs(folder)


def test_a_source_run_is_stored_as_its_values_and_they_make_the_run_id(run_cli, tmp_path, monkeypatch):
    from hippo_bench.resolve import plan_from
    from hippo_bench.strategies import meta_hippo_transfer

    runs = source_run(run_cli, tmp_path / "src")
    run_id = runs["run_id"].iloc[0]
    last = runs[(runs["train_exp"] == 1) & (runs["eval_exp"] == -1)]
    m = dict(zip(last.loc[last["metric"] == "inhibition_m", "entity"], last.loc[last["metric"] == "inhibition_m", "value"]))
    assert set(m) == {"h1", "h2"}
    text = resolve_source(str(tmp_path / "src" / f"{run_id}.parquet"))
    values = json.loads(text)
    assert values["from"] == run_id and values["m"] == m and set(values["lr"]) == {"input->h1", "h1->h2", "h2->out"}
    monkeypatch.setattr(meta_hippo_transfer, "RESULTS_FOLDER", tmp_path / "src")
    assert resolve_source(run_id) == text  # a bare run id is looked up in the results folder

    def run_id_for(source):
        plan = plan_from([("test", {"strategy": "meta-hippo-transfer", "source": source, "benchmark": "split-patterns",
                                    "benchmark_params": TINY})])
        (_, _, (spec,)), = list(plan.specs())
        return spec.identity(), spec.run_id

    identity, rid = run_id_for(run_id)
    assert json.loads(identity["strategy_params"] if isinstance(identity["strategy_params"], str)
                      else json.dumps(identity["strategy_params"]))["source"] == text  # the values, not the name
    changed = {**values, "m": {**values["m"], "h1": values["m"]["h1"] + 1e-3}}
    assert run_id_for(json.dumps(changed))[1] != rid
    assert run_id_for(json.dumps(MAPPING))[1] != run_id_for(json.dumps({**MAPPING, "m": {"h1": 0.3, "h2": 0.7}}))[1]


def test_bad_sources_are_one_line_user_errors(run_cli, tmp_path):
    with pytest.raises(UserError, match="neither a JSON mapping, a results file, nor a run id"):
        resolve_source("0123456789abcdef")
    with pytest.raises(UserError, match="not valid JSON"):
        resolve_source("{m: 1")
    with pytest.raises(UserError, match="needs exactly the keys m and lr"):
        resolve_source(json.dumps({"m": {"h1": 0.1}}))
    with pytest.raises(UserError, match="must be >= 0; negative for h1->h2"):
        resolve_source(json.dumps({**MAPPING, "lr": {**MAPPING["lr"], "h1->h2": -0.1}}))
    code, _, _ = run_cli("run", "--strategy", "naive", *TINY_BENCH, "--out", tmp_path / "naive")
    assert code == 0
    naive = read_runs(tmp_path / "naive")
    with pytest.raises(UserError, match=r"has no inhibition_m rows; a source must be a meta-hippo run"):
        values_of_run(naive, "naive run")

    unknown = {**MAPPING, "m": {**MAPPING["m"], "h9": 0.5}}
    missing = {**MAPPING, "lr": {"input->h1": 0.01, "h1->h2": 0.02}}
    for source, message in ((naive["run_id"].iloc[0], "--source: '" + naive["run_id"].iloc[0] + "' is neither"),
                            (str(next((tmp_path / "naive").glob("*.parquet"))), "has no inhibition_m rows"),
                            (json.dumps(unknown), "--source: m names h9, which the network does not have "
                                                  "(its hidden layers: h1, h2)"),
                            (json.dumps(missing), "--source: lr gives no lr for h2->out")):
        out_dir = tmp_path / "bad"
        code, out, err = run_cli("run", "--strategy", "meta-hippo-transfer", "--source", source, *TINY_BENCH,
                                 "--out", out_dir)
        text = (out + err).strip()
        assert code == 2 and message in text, text
        assert "Traceback" not in text and len([line for line in text.splitlines() if "--source" in line]) == 1
        assert not list(out_dir.glob("*.parquet"))


# -------------------------------------------------------------------------------------- experiments
def tidy(run_id, seed, strategy, params, model, measures=None, accuracy=None):
    """Rows of one hand-made run: final {metric: {entity: value}} measures and an accuracy matrix."""
    base = dict(run_id=run_id, status="ok", seed=seed, strategy=strategy, strategy_params=json.dumps(params),
                model=model, benchmark="b", lesion="", group="")
    out = []
    for metric, values in (measures or {}).items():
        for entity, value in values.items():
            for t, v in ((0, -value), (1, value)):  # only the last experience counts
                out.append(dict(base, metric=metric, entity=entity, eval_exp=-1, train_exp=t, value=v))
    for i, row in enumerate(accuracy or []):
        for j, v in enumerate(row):
            out.append(dict(base, metric="accuracy", entity="", eval_exp=j, train_exp=i, value=v))
    return out


def depth_runs(seed, frozen_rises=True):
    active = {"h1": 40.0, "h2": 30.0, "h3": 20.0, "h4": 10.0}
    rising = {"input->h1": 0.01, "h1->h2": 0.02, "h2->h3": 0.03, "h3->h4": 0.04}
    falling = {k: 0.05 - v for k, v in rising.items()}
    rows = tidy(f"m{seed}", seed, "meta-hippo", {"condition": "both"}, "mlp4",
                {"percent_active": active, "learned_lr": {**rising, "h4->out": 0.0}})  # readout slowest: ignored
    rows += tidy(f"f{seed}", seed, "meta-hippo-frozen-readout", {"condition": "both", "readout": "frozen"}, "mlp4",
                 {"percent_active": active, "learned_lr": rising if frozen_rises else falling,
                  "readout_lr": {"h4->out": 0.0}})
    rows += tidy(f"s{seed}", seed, "meta-hippo-frozen-readout", {"condition": "both", "readout": "separate"}, "mlp4",
                 {"percent_active": active, "learned_lr": rising, "readout_lr": {"h4->out": 0.05}})
    return rows


def test_last_layer_lr_verdicts_on_known_hierarchies():
    v = LastLayerLr().analyse(pd.DataFrame([r for s in range(5) for r in depth_runs(s)]))
    assert v.verdict == HOLDS and v.n == 5
    assert set(v.table["readout"]) == {"frozen", "separate", "meta-learned"}
    assert list(v.table["rho_lr"]) == pytest.approx([1.0] * 15)  # meta-hippo's slow readout left out: rho 1, not 0
    assert "mlp4, readout frozen: hidden lr rises with depth in 5/5 seeds" in v.statistic
    flipped = LastLayerLr().analyse(pd.DataFrame([r for s in range(5) for r in depth_runs(s, frozen_rises=False)]))
    assert flipped.verdict == FAILS and "readout frozen: hidden lr rises with depth in 0/5 seeds" in flipped.statistic
    assert LastLayerLr().analyse(pd.DataFrame([r for s in range(3) for r in depth_runs(s)])).verdict == INCONCLUSIVE


def transfer_runs(seed, transfer_acc, fixed_acc, lamaml_acc):
    """2 x 2 accuracy matrices: ACC = mean of the last row, forgetting = R[0][0] - R[1][0]."""
    def matrix(a):
        return [[0.9, 0.1], [2 * a - 0.8, 0.8]]  # ACC a, forgetting 0.9 - (2a - 0.8) = 1.7 - 2a
    return (tidy(f"t{seed}", seed, "meta-hippo-transfer", {"source": "{}"}, "mlp2", accuracy=matrix(transfer_acc))
            + tidy(f"b{seed}", seed, "meta-hippo", {"condition": "baseline"}, "mlp2", accuracy=matrix(fixed_acc))
            + tidy(f"l{seed}", seed, "la-maml", {}, "mlp2", accuracy=matrix(lamaml_acc))
            + tidy(f"src{seed}", seed, "meta-hippo", {"condition": "both"}, "mlp2", accuracy=matrix(0.99)))


def test_transfer_verdicts_on_known_accuracies():
    better = pd.DataFrame([r for s in range(5) for r in transfer_runs(s, 0.6 + 0.01 * s, 0.5, 0.55)])
    v = Transfer().analyse(better)
    assert v.verdict == HOLDS and v.n == 5
    row = v.table[(v.table["role"] == "transfer") & (v.table["seed"] == 2)].iloc[0]
    assert row["acc"] == pytest.approx(0.62) and row["forgetting"] == pytest.approx(1.7 - 1.24)
    assert set(v.table["role"]) == {"transfer", "fixed", "la-maml"}  # the source run is not a competitor
    tests = v.tables["paired-tests"].set_index("what")
    assert tests.loc["ACC transfer > fixed", "p"] == pytest.approx(1 / 32)  # 5 of 5 seeds, exact one-sided
    assert tests.loc["forgetting transfer < la-maml", "k"] == 5
    worse = pd.DataFrame([r for s in range(5) for r in transfer_runs(s, 0.6, 0.5, 0.7)])
    v = Transfer().analyse(worse)
    assert v.verdict == FAILS and "ACC transfer > la-maml in 0/5 seeds" in v.statistic
    few = pd.DataFrame([r for s in range(3) for r in transfer_runs(s, 0.6, 0.5, 0.55)])
    assert Transfer().analyse(few).verdict == INCONCLUSIVE
    no_transfer = better[better["strategy"] != "meta-hippo-transfer"]
    assert Transfer().analyse(no_transfer).verdict == INCONCLUSIVE
    floored = worse.assign(benchmark_params=json.dumps({"n_classes": 2}))  # chance 0.5, floor 0.75; LA 0.85
    assert Transfer().analyse(floored).verdict == FAILS
    floored = worse.assign(benchmark_params=json.dumps({"n_classes": 50}), value=worse["value"] / 40)  # LA 0.02
    v = Transfer().analyse(floored)
    assert v.verdict == INCONCLUSIVE and v.statistic.startswith("every learner is at chance")
    assert v.table["chance"].tolist() == pytest.approx([0.02] * 15)


def test_transfer_followups_carry_each_seeds_source_values():
    measures = {"inhibition_m": {"h1": 0.2, "h2": 0.4}, "learned_lr": {"input->h1": 0.01, "h1->h2": 0.02,
                                                                      "h2->out": 0.03}}
    df = pd.DataFrame([r for s in (0, 1) for r in tidy(f"src{s}", s, "meta-hippo", {"condition": "both"}, "mlp2",
                                                       {k: {e: v + s for e, v in d.items()}
                                                        for k, d in measures.items()})])
    df["benchmark"] = "rotated-mnist"
    configs = Transfer().followup_configs(df, [0, 1, 2], quick=True)
    assert [c["seeds"] for c in configs] == [[0], [1]]  # seed 2 has no source run
    assert [c["strategy"] for c in configs] == ["meta-hippo-transfer"] * 2
    one = json.loads(configs[1]["source"])
    assert one == {"from": "src1", "m": {"h1": 1.2, "h2": 1.4}, "lr": {"input->h1": 1.01, "h1->h2": 1.02,
                                                                    "h2->out": 1.03}}


@pytest.mark.slow
def test_quick_experiments_run_end_to_end(tmp_path):
    v = LastLayerLr()
    from hippo_bench.experiments.base import run_configs

    df = run_configs(v.configs([0, 1], quick=True), tmp_path)
    assert set(df["strategy"]) == {"meta-hippo", "meta-hippo-frozen-readout"}
    assert LastLayerLr().analyse(df).verdict == INCONCLUSIVE  # two seeds
    df = Transfer().run([0, 1], quick=True, out=tmp_path)
    assert set(df["strategy"]) == {"meta-hippo", "meta-hippo-transfer", "la-maml"}
    assert Transfer().analyse(df).n == 2
