"""Brain-likeness score: hand-built rows with known component values give the hand-computed score."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from hippo_bench.reporting import brain_score as bs

CHORSE_ACTIVE = {"ecin": 20.0, "dg": 1.0, "ca3": 6.0, "ca1": 25.0, "ecout": 20.0}  # percent, C-HORSE 2017
DENSE = {layer: 50.0 for layer in CHORSE_ACTIVE}


def rows(active=None, lrs=None, pair=None, nonpair=None, choices=None, corr=None, run_id="r0", seed=0,
         condition="both", last=3) -> pd.DataFrame:
    """One run's tidy rows after its last experience (plus a before-training row that must be ignored)."""
    recs = []

    def add(metric, value, entity="", eval_exp=-1, item_a=-1, item_b=-1, train_exp=last, lesion=""):
        recs.append(dict(run_id=run_id, seed=seed, model="chorse", strategy_params=json.dumps({"condition": condition}),
                         train_exp=train_exp, eval_exp=eval_exp, metric=metric, value=value, entity=entity,
                         lesion=lesion, item_a=item_a, item_b=item_b))

    for layer, v in (active or {}).items():
        add("percent_active", v, layer)
        add("percent_active", 100.0, layer, train_exp=-1)  # before training: not the final value
        add("percent_active", 100.0, layer, lesion="msp")  # lesioned: not the intact value
    for proj, v in (lrs or {}).items():
        add("learned_lr", v, proj)
    for layer, v in (pair or {}).items():
        add("similarity_pair", v, layer)
        add("similarity_pair", -1.0, layer, eval_exp=0)  # one experience's items: not the pooled value
    for layer, v in (nonpair or {}).items():
        add("similarity_nonpair", v, layer)
    for rel, v in (choices or {}).items():
        add(f"production_{rel}_choice", v, "output")
    for layer, values in (corr or {}).items():
        for (a, b), v in values.items():
            add("item_correlation", v, layer, item_a=a, item_b=b)
    add("accuracy", 0.5, "", eval_exp=0)
    return pd.DataFrame(recs)


def component(df, name):
    return next(c for c in bs.components_of_run(df) if c.name == name)


# ------------------------------------------------------------- coding level
def test_coding_level_at_chorse_levels_scores_one():
    c = component(rows(active=CHORSE_ACTIVE), "coding_level")
    assert c.score == pytest.approx(1.0)
    assert c.status == bs.MEASURED


def test_coding_level_half_active_everywhere_scores_the_documented_value():
    # EC 1 - log10(0.5/0.2) = 0.60206, DG 0 (1.7 decades off), CA3 1 - log10(0.5/0.06) = 0.079181,
    # CA1 1 - log10(2) = 0.698970; mean over the four regions
    c = component(rows(active=DENSE), "coding_level")
    assert c.score == pytest.approx((0.602060 + 0.0 + 0.079181 + 0.698970) / 4, abs=1e-6)
    assert c.score == pytest.approx(0.345053, abs=1e-6)


def test_coding_level_regions_count_once_and_go_reference_is_selectable():
    go = {"ecin": 20.0, "dg": 1.0, "ca3": 2.0, "ca1": 10.0, "ecout": 20.0}
    assert component(rows(active=go), "coding_level").score == pytest.approx(
        (1 + 1 + (1 - math.log10(3)) + (1 - math.log10(2.5))) / 4)
    assert bs.coding_level(bs._normalised(rows(active=go)), bs.CODING_LEVEL_HIPSL_GO).score == pytest.approx(1.0)
    # EC is one region: ECin at the reference and ECout 10x too dense average to 0.5 for EC
    one_ec = {**CHORSE_ACTIVE, "ecout": 100.0 * 2.0}
    assert component(rows(active=one_ec), "coding_level").score == pytest.approx((0.5 + 1 + 1 + 1) / 4)


def test_silent_layer_scores_zero():
    c = component(rows(active={**CHORSE_ACTIVE, "dg": 0.0}), "coding_level")
    assert c.score == pytest.approx(0.75)


# ------------------------------------------------------------- lr ratio
TSP = ("ecin->dg", "dg->ca3", "ca3->ca1")


@pytest.mark.parametrize("fast, slow, expected", [
    (0.2, 0.02, 1.0),                     # C-HORSE's 10x
    (0.1, 0.1, 0.0),                      # equal rates
    (2.0, 0.02, 0.0),                     # 100x: a decade too fast
    (0.02 * math.sqrt(10), 0.02, 0.5),    # half a decade short
    (0.01, 0.1, 0.0),                     # monosynaptic faster
    (0.2, 0.0, 0.0),                      # dead monosynaptic pathway: ratio infinite
])
def test_lr_ratio(fast, slow, expected):
    lrs = {p: fast for p in TSP} | {"ecin->ca1": slow, "ca1->ecout": 5.0, "nc1->ecin": 5.0}  # others ignored
    assert component(rows(lrs=lrs), "lr_ratio").score == pytest.approx(expected, abs=1e-9)


def test_lr_ratio_averages_the_trisynaptic_projections():
    lrs = {"ecin->dg": 0.4, "dg->ca3": 0.1, "ca3->ca1": 0.1, "ecin->ca1": 0.02}  # fast mean 0.2
    assert component(rows(lrs=lrs), "lr_ratio").score == pytest.approx(1.0)


def test_lr_ratio_without_learning_is_not_measured():
    c = component(rows(lrs={p: 0.0 for p in (*TSP, "ecin->ca1")}), "lr_ratio")
    assert math.isnan(c.score) and c.status == bs.NOT_MEASURED and "0" in c.reason


# ------------------------------------------------------------- pair RSA
def test_pair_rsa_at_chorse_scores_one_and_no_structure_zero():
    ref = bs.PAIR_SIMILARITY_INITIAL
    at = rows(pair={k.lower(): p for k, (p, n) in ref.items()}, nonpair={k.lower(): n for k, (p, n) in ref.items()})
    assert component(at, "pair_rsa").score == pytest.approx(1.0)
    flat = rows(pair={"dg": 0.4, "ca3": 0.4, "ca1": 0.4}, nonpair={"dg": 0.4, "ca3": 0.4, "ca1": 0.4})
    assert component(flat, "pair_rsa").score == pytest.approx(0.0)


def test_pair_rsa_partial_match():
    # d = DG 0.14 (exact), CA3 0.10 (ref 0), CA1 0.47 (exact): error 0.10 over scale 0.61
    df = rows(pair={"dg": 0.34, "ca3": 0.5, "ca1": 0.77}, nonpair={"dg": 0.2, "ca3": 0.4, "ca1": 0.3})
    assert component(df, "pair_rsa").score == pytest.approx(1 - 0.10 / 0.61)


# ------------------------------------------------------------- cued recall
@pytest.mark.parametrize("choices, expected", [
    ({"ab": 1.0, "ba": 0.8}, 0.8),
    ({"ab": 0.5, "ba": 0.5}, 0.0),
    ({"ab": 0.2}, 0.0),                   # below chance clips to 0
    ({"ab": 1.0, "ac": 0.5}, 1.0),        # inference is not recall: A->C left out
])
def test_cued_recall(choices, expected):
    df = rows(active=CHORSE_ACTIVE, choices=choices)
    assert component(df, "cued_recall").score == pytest.approx(expected)


# ------------------------------------------------------------- pattern separation
PAIRS = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
ECIN = dict(zip(PAIRS, [0.8, 0.6, 0.4, 0.2, 0.0, -0.2]))  # top quartile: 0.8 and 0.6 (mean 0.7)


def corr_rows(dg, ca3, ca1, run_id="r0"):
    """ECin as above; each layer's correlation on the two similar pairs given, 0 elsewhere."""
    layer = lambda two: {p: (two[i] if i < 2 else 0.0) for i, p in enumerate(PAIRS)}  # noqa: E731
    return rows(active=CHORSE_ACTIVE, corr={"ecin": ECIN, "dg": layer(dg), "ca3": layer(ca3), "ca1": layer(ca1)},
                run_id=run_id)


def test_pattern_separation_dg_separating_most():
    # S_DG = (0.7 - 0.35) / 0.7 = 0.5, S_CA3 = 0, S_CA1 = 0.2: DG most separating
    c = component(corr_rows((0.35, 0.35), (0.7, 0.7), (0.56, 0.56)), "pattern_separation")
    assert c.score == pytest.approx(0.5)


def test_pattern_separation_dg_beaten_by_one_layer():
    # S_CA3 = 1 > S_DG = 0.5 > S_CA1 = 0.2: half the ordering credit
    c = component(corr_rows((0.35, 0.35), (0.0, 0.0), (0.56, 0.56)), "pattern_separation")
    assert c.score == pytest.approx(0.5 * (0.5 + 0.5 * 0.5))


def test_pattern_separation_dg_more_similar_than_input_scores_zero():
    c = component(corr_rows((0.9, 0.9), (0.95, 0.95), (0.95, 0.95)), "pattern_separation")
    assert c.score == 0.0 and c.status == bs.MEASURED


def test_pattern_separation_without_correlations_is_not_measured():
    c = component(rows(active=CHORSE_ACTIVE), "pattern_separation")
    assert c.status == bs.NOT_MEASURED and "item_correlation" in c.reason


# ------------------------------------------------------------- the score
def full_run(run_id="r0"):
    ref = bs.PAIR_SIMILARITY_INITIAL
    base = corr_rows((0.35, 0.35), (0.7, 0.7), (0.56, 0.56), run_id=run_id)  # separation 0.5
    more = rows(lrs={**{p: 0.2 for p in TSP}, "ecin->ca1": 0.02},  # lr ratio 1
                pair={k.lower(): p for k, (p, n) in ref.items()},  # RSA 1
                nonpair={k.lower(): n for k, (p, n) in ref.items()},
                choices={"ab": 1.0, "ba": 0.8}, run_id=run_id)  # recall 0.8
    return pd.concat([base, more], ignore_index=True)  # coding level 1 (from corr_rows)


def test_score_is_the_equal_weight_mean_of_the_components():
    df = full_run()
    table = bs.components_table(df)
    assert list(table["component"]) == list(bs.COMPONENTS)
    assert dict(zip(table["component"], table["score"])) == pytest.approx(
        {"coding_level": 1.0, "pattern_separation": 0.5, "cued_recall": 0.8, "pair_rsa": 1.0, "lr_ratio": 1.0})
    assert (table["status"] == bs.MEASURED).all() and table["weight"].sum() == pytest.approx(1.0)
    assert bs.brain_score_of_run(df) == pytest.approx((1 + 0.5 + 0.8 + 1 + 1) / 5)


def test_unmeasured_components_are_reported_and_left_out_of_the_score():
    # a strategy that records neither % active nor learned lr (naive, ewc, ...): three components measured
    df = full_run()
    df = df[~df["metric"].isin(["percent_active", "learned_lr"])]
    table = bs.components_table(df).set_index("component")
    assert table.loc["coding_level", "status"] == bs.NOT_MEASURED
    assert "percent_active" in table.loc["coding_level", "reason"]
    assert table.loc["lr_ratio", "status"] == bs.NOT_MEASURED and "learned_lr" in table.loc["lr_ratio", "reason"]
    assert math.isnan(table.loc["lr_ratio", "score"]) and table.loc["lr_ratio", "weight"] == 0.0
    assert bs.brain_score_of_run(df) == pytest.approx((0.5 + 0.8 + 1.0) / 3)


def test_model_without_hippocampal_layers_has_no_score():
    df = rows(active={"h1": 1.0, "h2": 6.0}, lrs={"h1->h2": 0.2, "input->h1": 0.02}, pair={"h1": 0.3},
              nonpair={"h1": 0.1}, choices={"ab": 1.0})
    assert bs.brain_score_of_run(df) is None
    table = bs.components_table(df)
    assert (table["status"] == bs.NOT_MEASURED).all()
    assert all("DG, CA3 or CA1" in r for r in table["reason"])


def test_empty_rows_have_no_score():
    assert bs.brain_score_of_run(rows()) is None


def test_region_names():
    assert [bs.region_of(e) for e in ("dg", "hippo.CA1", "ecin", "ECout", "ca3", "nc1", "h1", "")] == \
        ["DG", "CA1", "EC", "EC", "CA3", None, None, None]


def test_scores_stay_in_unit_interval_on_random_runs():
    rng = np.random.default_rng(0)
    layers = ["ecin", "dg", "ca3", "ca1", "ecout"]
    for i in range(50):
        corr = {layer: {p: float(rng.uniform(-1, 1)) for p in PAIRS} for layer in layers}
        df = rows(active={layer: float(rng.choice([0.0, rng.uniform(0, 100)])) for layer in layers},
                  lrs={p: float(rng.choice([0.0, rng.exponential(0.1)])) for p in (*TSP, "ecin->ca1")},
                  pair={layer: float(rng.uniform(-1, 1)) for layer in layers},
                  nonpair={layer: float(rng.uniform(-1, 1)) for layer in layers},
                  choices={"ab": float(rng.uniform()), "ba": float(rng.uniform())}, corr=corr, run_id=f"r{i}")
        scores = bs.components_table(df)["score"].dropna()
        assert ((scores >= 0) & (scores <= 1)).all()
        total = bs.brain_score_of_run(df)
        assert total is not None and 0.0 <= total <= 1.0


def test_components_of_run_takes_one_run():
    df = pd.concat([rows(active=CHORSE_ACTIVE, run_id="a"), rows(active=CHORSE_ACTIVE, run_id="b")])
    with pytest.raises(ValueError, match="one run"):
        bs.components_of_run(df)


# ------------------------------------------------------------- the experiment
def experiment_rows(n_seeds: int, swapped: bool = False) -> pd.DataFrame:
    """Per seed: 'both' at C-HORSE's coding levels, 'baseline' at 50% active (swapped: the other way round)."""
    parts = []
    levels = (DENSE, CHORSE_ACTIVE) if swapped else (CHORSE_ACTIVE, DENSE)
    for seed in range(n_seeds):
        for condition, active in zip(("both", "baseline"), levels):
            parts.append(rows(active=active, choices={"ab": 0.9}, run_id=f"{condition}{seed}", seed=seed,
                              condition=condition))
    return pd.concat(parts, ignore_index=True)


def test_experiment_configs():
    from hippo_bench.experiments.brain_score import BrainScore

    full = BrainScore().configs([0, 1, 2], quick=False)
    assert [c["condition"] for c in full] == ["both", "baseline"]
    assert all(c["benchmark"] == "cls-pairs" and c["model"] == "chorse" and c["strategy"] == "meta-hippo"
               and c["seeds"] == [0, 1, 2] for c in full)
    # the seed's dual-task meta steps, as the hippocampus claim uses: the same cls-pairs runs serve both
    assert all(c["m_lr"] == 0.2 and c["alpha_lr"] == 0.002 for c in full)
    quick = BrainScore().configs([0], quick=True)
    assert all(c["benchmark_params"]["n_experiences"] < 4 for c in quick)


def test_experiment_verdict_on_hand_built_runs():
    from hippo_bench.experiments.base import FAILS, HOLDS, INCONCLUSIVE
    from hippo_bench.experiments.brain_score import BrainScore

    v = BrainScore().analyse(experiment_rows(5))
    assert v.verdict == HOLDS and v.n == 5  # 5/5 seeds, one-sided p = 1/32
    # both: coding 1, recall 0.8 -> 0.9; baseline: coding 0.345053, recall 0.8 -> 0.572527
    both = v.table[v.table["condition"] == "both"]
    base = v.table[v.table["condition"] == "baseline"]
    assert both["brain_score"].tolist() == pytest.approx([0.9] * 5)
    assert base["brain_score"].tolist() == pytest.approx([(0.345053 + 0.8) / 2] * 5, abs=1e-6)
    assert (v.table["n_measured"] == 2).all()
    assert "5/5 seeds" in v.statistic and "p = 0.0312" in v.statistic
    layers = v.tables["layers"]
    assert len(layers) == 2 * 5 * (5 + 1)  # per run: five coding-level layers and one cued-recall relation
    dg = layers[(layers["entity"] == "dg") & (layers["condition"] == "both")]
    assert dg["value"].tolist() == pytest.approx([0.01] * 5) and dg["score"].tolist() == pytest.approx([1.0] * 5)
    assert list(v.tables["components"]["component"]) == list(bs.COMPONENTS) and "lr_ratio not measured" in v.statistic
    assert BrainScore().analyse(experiment_rows(4)).verdict == INCONCLUSIVE  # fewer than five seeds
    worse = BrainScore().analyse(experiment_rows(6, swapped=True))
    assert worse.verdict == FAILS and "0/6 seeds" in worse.statistic


@pytest.mark.slow
def test_experiment_quick_runs_end_to_end(tmp_path):
    from hippo_bench.experiments.base import run_configs
    from hippo_bench.experiments.brain_score import BrainScore

    exp = BrainScore()
    v = exp.analyse(run_configs(exp.configs([0], quick=True), tmp_path))
    assert len(v.table) == 2 and set(v.table["condition"]) == {"both", "baseline"}
    assert (v.table["n_measured"] == 5).all()  # meta-hippo on cls-pairs records every component
    assert v.table["brain_score"].between(0, 1).all()


def test_brain_scores_by_run_leave_out_models_without_the_layers():
    df = pd.concat([full_run(run_id="chorse"), rows(active={"h1": 1.0}, run_id="mlp")], ignore_index=True)
    assert bs.brain_scores(df) == pytest.approx({"chorse": (1 + 0.5 + 0.8 + 1 + 1) / 5})


def test_leaderboard_column_ranks_only_scores_on_the_same_components():
    meta = full_run(run_id="meta").assign(strategy="meta-hippo")
    naive = full_run(run_id="naive").assign(strategy="naive")
    naive = naive[~naive["metric"].isin(["percent_active", "learned_lr"])]
    col = bs.leaderboard_column(pd.concat([meta, naive], ignore_index=True))
    assert col.scores == pytest.approx({"meta": 0.86, "naive": (0.5 + 0.8 + 1.0) / 3})
    assert not col.ranked
    assert "meta-hippo: 5 of 5" in col.legend and "naive: 3 of 5 (pattern_separation, cued_recall, pair_rsa)" \
        in col.legend and "not ranked" in col.legend
    same = bs.leaderboard_column(pd.concat([meta, full_run(run_id="m2").assign(strategy="meta-hippo")]))
    assert same.ranked and "not ranked" not in same.legend


def test_experiment_figure_draws_measured_components_and_marks_the_others():
    from hippo_bench.experiments.brain_score import BrainScore

    figs = BrainScore().figures(experiment_rows(3))
    ax = figs["components"].axes[0]
    # measured: brain score, coding level, cued recall -> 3 bars per condition; 3 components not measured
    assert len(ax.patches) == 2 * 3
    assert sum(t.get_text() == "not measured" for t in ax.texts) == 2 * 3
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == pytest.approx(sorted([0.9, 1.0, 0.8, (0.345053 + 0.8) / 2, 0.345053, 0.8]), abs=1e-6)


def test_every_component_has_a_formula_a_source_and_a_weight():
    t = bs.definitions_table()
    assert list(t["component"]) == list(bs.COMPONENTS)
    assert t["weight"].tolist() == pytest.approx([0.2] * 5)
    assert t["formula"].str.len().min() > 20 and t["source"].str.contains("2017").all()
    assert not t["formula"].str.contains("|", regex=False).any()  # they go into markdown tables


# ------------------------------------------------------------- the leaderboard column
def _write_cls_run(folder, strategy, seed, df, model="chorse", benchmark="cls-pairs"):
    from hippo_bench.params import as_dict
    from hippo_bench.results import atomic_write_parquet, make_table, result_path, run_identity
    from hippo_bench.strategies import strategies

    identity = run_identity(benchmark=benchmark, benchmark_params={"n_experiences": 2}, benchmark_seed=0,
                            strategy=strategy, strategy_params=as_dict(strategies.get(strategy).Config()),
                            model=model, model_params={}, seed=seed, epochs=1, train_mb_size=5)
    acc = [dict(train_exp=i, eval_exp=j, metric="accuracy", value=0.5, entity="", group="", lesion="")
           for i in range(2) for j in range(2)]
    probe = df.drop(columns=["run_id", "seed", "model", "strategy_params"]).assign(group="")
    probe["train_exp"] = probe["train_exp"].replace(3, 1)  # the last experience of this two-experience stream
    table = make_table(identity, acc + probe.to_dict("records"), prov={"created_at": "2024-01-01T00:00:00+00:00"})
    atomic_write_parquet(table, result_path(folder, table["run_id"].iloc[0]))


def test_cls_leaderboard_gains_a_brain_score_column(tmp_path):
    from hippo_bench.reporting.leaderboard import build_leaderboards

    folder = tmp_path / "results"
    partial = full_run()
    partial = partial[~partial["metric"].isin(["percent_active", "learned_lr"])]
    for seed in (0, 1):
        _write_cls_run(folder, "meta-hippo", seed, full_run())  # five components: 0.86
        _write_cls_run(folder, "naive", seed, partial)  # three: (0.5 + 0.8 + 1) / 3
        _write_cls_run(folder, "naive", seed, rows(active={"h1": 5.0}), model="mlp", benchmark="cls-inference")
    build_leaderboards(folder, tmp_path / "lb")
    md = (tmp_path / "lb" / "cls-pairs.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("|") and "strategy" in line)
    assert header.rstrip(" |").endswith("brain score ↑")
    cells = {line.split("|")[2].split()[0]: line.rstrip(" |").rsplit("|", 1)[-1].strip()
             for line in md.splitlines() if line.startswith("|") and "chorse" in line}
    assert cells == {"meta-hippo": "0.860 ± 0.000", "naive": "0.767 ± 0.000"}  # not ranked: no bold, no ≈
    assert "naive: 3 of 5 (pattern_separation, cued_recall, pair_rsa)" in md
    assert "brain score" not in (tmp_path / "lb" / "cls-inference.md").read_text()  # no hippocampal layers
