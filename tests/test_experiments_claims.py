"""Claims 1, 4, 6 and 7: each statistic on hand-built rows whose answer is known, the figures, the report.

The rows are built the way the runner records them (metric, entity, group,
lesion, eval_exp, train_exp), with a decoy earlier experience that must not
count.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from hippo_bench.experiments import EXPERIMENTS
from hippo_bench.experiments.base import FAILS, HOLDS, INCONCLUSIVE, Verdict, write_report
from hippo_bench.experiments.robustness import holm

LAST = 3


def row(run: str, seed: int, metric: str, value: float, *, entity: str = "", group: str = "", lesion: str = "",
        eval_exp: int = -1, train_exp: int = LAST, **ident) -> dict:
    return dict(run_id=run, config_id="c", status="ok", seed=seed, metric=metric, value=value, entity=entity,
                group=group, lesion=lesion, eval_exp=eval_exp, train_exp=train_exp,
                **{"benchmark": "b", "model": "m", "strategy": "meta-hippo", "strategy_params": "{}",
                   "benchmark_params": "{}", "model_params": "{}", "epochs": 1, **ident})


# --- claim 1: robustness ----------------------------------------------------------------------------------------------

def robustness_rows(acc: dict[tuple[str, float, int], float], active: float = 40.0) -> list[dict]:
    """Two test experiences per run, both at ``acc``; an earlier experience at 0 (must not count)."""
    out = []
    for (condition, alpha, seed), a in acc.items():
        run = f"{condition}-{alpha}-{seed}"
        ident = dict(strategy_params=json.dumps({"condition": condition, "alpha_init": alpha}), model="mlp2")
        for j in (0, 1):
            out.append(row(run, seed, "accuracy", a, eval_exp=j, **ident))
            out.append(row(run, seed, "accuracy", 0.0, eval_exp=j, train_exp=LAST - 1, **ident))
        layer_active = active if condition == "both" else 50.0
        out.append(row(run, seed, "percent_active", layer_active, entity="h1", **ident))
        out.append(row(run, seed, "percent_active", layer_active, entity="h2", **ident))
    return out


ALPHAS = (0.001, 0.01, 0.1)


def test_robustness_spread_is_max_minus_min_of_cell_means_and_holds_when_both_is_flat():
    # both: 0.6 everywhere (zero spread); baseline: 0.2 / 0.4 / 0.6 + a seed offset, so its spread is 0.4
    acc = {}
    for seed in range(6):
        for k, alpha in enumerate(ALPHAS):
            acc[("both", alpha, seed)] = 0.6
            acc[("baseline", alpha, seed)] = 0.2 + 0.2 * k + 0.01 * seed
    v = EXPERIMENTS["robustness"]().analyse(pd.DataFrame(robustness_rows(acc, active=20.0)))
    assert v.verdict == HOLDS and v.n == 6
    assert "baseline 0.400 (0.225 -> 0.625)" in v.statistic and "both 0.000 (0.600 -> 0.600)" in v.statistic
    # per-seed spread: both 0 vs baseline 0.4 in all 6 seeds: one-sided exact Wilcoxon p = 1/2^6
    assert "in 6/6 seeds" in v.statistic and "p = 0.0156" in v.statistic
    cells = v.tables["cells"].set_index("alpha_init")
    assert cells.loc[0.1, "acc_baseline"] == pytest.approx(0.625)
    assert cells.loc[0.1, "diff"] == pytest.approx(-0.025)
    # equal ACC needs |diff| < 0.02; the closest cell differs by 0.025: the text says there is none
    assert "no cell with equal ACC" in v.statistic
    # the paired t-test per cell: differences 0.4 - 0.01 seed at alpha 0.001 are all positive
    assert cells.loc[0.001, "t"] > 0 and cells.loc[0.001, "p"] < 1e-6


def test_robustness_equal_acc_cells_compare_percent_active():
    acc = {(c, a, s): 0.5 + 0.001 * s for c in ("both", "baseline") for a in ALPHAS for s in range(5)}
    v = EXPERIMENTS["robustness"]().analyse(pd.DataFrame(robustness_rows(acc, active=12.5)))
    assert "at equal ACC (|diff| < 0.02, 3 cells) % active both 12.5 vs baseline 50.0" in v.statistic
    assert v.verdict == FAILS  # equal spreads: both is not more robust


def test_robustness_fails_when_both_is_the_sensitive_one_and_is_inconclusive_below_five_seeds():
    acc = {}
    for seed in range(6):
        for k, alpha in enumerate(ALPHAS):
            acc[("baseline", alpha, seed)] = 0.6
            acc[("both", alpha, seed)] = 0.2 + 0.2 * k
    assert EXPERIMENTS["robustness"]().analyse(pd.DataFrame(robustness_rows(acc))).verdict == FAILS
    few = {k: v for k, v in acc.items() if k[2] < 3}
    assert EXPERIMENTS["robustness"]().analyse(pd.DataFrame(robustness_rows(few))).verdict == INCONCLUSIVE


def test_robustness_uniformly_poor_both_does_not_count_as_robust():
    # both is flat but everywhere below baseline's worst cell: smaller spread, yet the claim does not hold
    acc = {}
    for seed in range(6):
        for k, alpha in enumerate(ALPHAS):
            acc[("both", alpha, seed)] = 0.1
            acc[("baseline", alpha, seed)] = 0.4 + 0.1 * k
    v = EXPERIMENTS["robustness"]().analyse(pd.DataFrame(robustness_rows(acc)))
    assert "in 6/6 seeds" in v.statistic and v.verdict == FAILS


def test_holm_adjustment_by_hand():
    # sorted p 0.01, 0.02, 0.04 with m = 3: 0.03, max(0.03, 0.04) = 0.04, max(0.04, 0.04) = 0.04; NaN left out
    assert list(holm([0.04, 0.01, math.nan, 0.02])[[0, 1, 3]]) == pytest.approx([0.04, 0.03, 0.04])
    assert math.isnan(holm([0.04, 0.01, math.nan, 0.02])[2])


# --- claim 4: hippocampus ---------------------------------------------------------------------------------------------

CHORSE_GROUPS = {"nc1": "NC", "ecin": "EC", "dg": "TSP", "ca3": "TSP", "ca1": "MSP", "ecout": "EC"}


def chorse_run(seed: int, active: dict[str, float], lr_hip: float = 0.3, lr_ctx: float = 0.1) -> list[dict]:
    run = f"chorse-{seed}"
    out = []
    for layer, value in active.items():
        out.append(row(run, seed, "percent_active", value, entity=layer, group=CHORSE_GROUPS[layer], model="chorse"))
        out.append(row(run, seed, "percent_active", 99.0, entity=layer, train_exp=LAST - 1, model="chorse"))
    for proj in ("ecin->dg", "ecin->ca3", "dg->ca3", "ca3->ca1", "ecin->ca1"):
        out.append(row(run, seed, "learned_lr", lr_hip, entity=proj, model="chorse"))
    for proj in ("input->nc1", "nc1->ecin", "ca1->ecout"):
        out.append(row(run, seed, "learned_lr", lr_ctx, entity=proj, model="chorse"))
    out.append(row(run, seed, "learned_lr", 5.0, entity="ecout->out", group="output", model="chorse"))  # left out
    return out


BRAIN_LIKE = {"nc1": 40.0, "ecin": 30.0, "dg": 1.0, "ca3": 6.0, "ca1": 25.0, "ecout": 30.0}


def test_hippocampus_holds_for_a_sparser_faster_ordered_hippocampus():
    df = pd.DataFrame([r for s in range(6) for r in chorse_run(s, {**BRAIN_LIKE, "dg": 1.0 + 0.1 * s})])
    v = EXPERIMENTS["hippocampus"]().analyse(df)
    assert v.verdict == HOLDS and v.n == 6
    t = v.table.set_index("seed")
    # hippocampal mean (1 + 6 + 25) / 3 = 10.67 at seed 0, cortical (40 + 30 + 30) / 3 = 33.33
    assert t.loc[0, "active_hippocampal"] == pytest.approx(32 / 3)
    assert t.loc[0, "active_cortical"] == pytest.approx(100 / 3)
    assert t.loc[0, "lr_hippocampal"] == pytest.approx(0.3) and t.loc[0, "lr_cortical"] == pytest.approx(0.1)
    assert t["ordered"].all()
    ref = v.tables["chorse-reference"].set_index("layer")
    assert ref.loc["CA3", "measured_mean"] == pytest.approx(6.0) and ref.loc["CA1", "chorse"] == 25.0
    assert "DG < CA3 < CA1 in % active in 6/6 seeds (median +23.8, Page's L trend test" in v.statistic


def test_hippocampus_reversed_order_does_not_hold():
    reversed_order = {**BRAIN_LIKE, "dg": 25.0, "ca1": 1.0}
    df = pd.DataFrame([r for s in range(6) for r in chorse_run(s, reversed_order)])
    v = EXPERIMENTS["hippocampus"]().analyse(df)
    assert v.verdict == FAILS and "in 0/6 seeds" in v.statistic
    slow = pd.DataFrame([r for s in range(6) for r in chorse_run(s, BRAIN_LIKE, lr_hip=0.05, lr_ctx=0.1)])
    assert EXPERIMENTS["hippocampus"]().analyse(slow).verdict == FAILS  # sparser and ordered, but slower


# --- claim 6: lesions -------------------------------------------------------------------------------------------------

SEED_PARAMS = json.dumps({"n_tasks": 20, "samples_per_task": 100})
ITEM_PARAMS = json.dumps({"n_tasks": 20, "samples_per_task": 10})


def dual_run(run: str, seed: int, params: str, epochs: int, acc: dict[tuple[str, str], float]) -> list[dict]:
    """acc[(memory, lesion)] on two test experiences; intact item rows twice (the runner records them twice)."""
    out = []
    for (memory, lesion), a in acc.items():
        for j in (0, 1):
            for _ in range(2 if (memory, lesion) == ("item", "") else 1):
                out.append(row(run, seed, f"{memory}_accuracy", a, lesion=lesion, eval_exp=j, model="dual",
                               benchmark="dual-mnist", benchmark_params=params, epochs=epochs))
            out.append(row(run, seed, f"{memory}_accuracy", 1.0, lesion=lesion, eval_exp=j, train_exp=0,
                           model="dual", benchmark="dual-mnist", benchmark_params=params, epochs=epochs))
    return out


DISSOCIATED = {("item", ""): 0.505, ("item", "large"): 0.105, ("item", "small"): 0.455,
               ("category", ""): 0.9, ("category", "large"): 0.85, ("category", "small"): 0.3}
FLOOR_ACC = {("item", ""): 0.0006, ("item", "large"): 0.0005, ("item", "small"): 0.0005,
             ("category", ""): 0.6, ("category", "large"): 0.6, ("category", "small"): 0.59}


def test_lesions_double_dissociation_on_the_item_protocol_with_the_seed_protocol_beside():
    rows = []
    for s in range(6):
        rows += dual_run(f"item-{s}", s, ITEM_PARAMS, 5, DISSOCIATED)
        rows += dual_run(f"seed-{s}", s, SEED_PARAMS, 1, FLOOR_ACC)
    v = EXPERIMENTS["lesions"]().analyse(pd.DataFrame(rows))
    assert v.verdict == HOLDS and v.n == 6
    t = v.table.set_index("run_id")
    # item: chance 1/200; (0.505 - 0.105) / (0.505 - 0.005) = 0.8 of above-chance item memory lost without large
    assert t.loc["item-0", "item_loss_large"] == pytest.approx(0.8)
    # category: chance 0.1; (0.9 - 0.3) / 0.8 = 0.75 lost without small, (0.9 - 0.85) / 0.8 = 0.0625 without large
    assert t.loc["item-0", "category_loss_small"] == pytest.approx(0.75)
    assert t.loc["item-0", "category_loss_large"] == pytest.approx(0.0625)
    assert t.loc["item-0", "protocol"] == "200 items x 5" and t.loc["seed-0", "protocol"] == "seed"
    assert "200 items x 5 (judged): intact item accuracy 0.505" in v.statistic
    assert "seed (reported): intact item accuracy 0.001" in v.statistic


def test_lesions_no_dissociation_and_item_memory_at_floor():
    swapped = {("item", ""): 0.505, ("item", "large"): 0.455, ("item", "small"): 0.105,
               ("category", ""): 0.9, ("category", "large"): 0.3, ("category", "small"): 0.85}
    rows = [r for s in range(6) for r in dual_run(f"i{s}", s, ITEM_PARAMS, 5, swapped)]
    assert EXPERIMENTS["lesions"]().analyse(pd.DataFrame(rows)).verdict == FAILS
    # a dissociation in the numbers but with item memory below the floor: does not hold
    low = {**DISSOCIATED, ("item", ""): 0.05, ("item", "large"): 0.006, ("item", "small"): 0.045}
    rows = [r for s in range(6) for r in dual_run(f"i{s}", s, ITEM_PARAMS, 5, low)]
    v = EXPERIMENTS["lesions"]().analyse(pd.DataFrame(rows))
    assert v.verdict == FAILS and "below the floor" in v.statistic


# --- claim 7: C-HORSE signatures --------------------------------------------------------------------------------------

def signature_runs(seed: int, pair: float, community: float, choice: float, msp_keeps: bool = False) -> list[dict]:
    """cls-pairs, cls-community and cls-inference runs with the given intact CA1 contrasts and A->C choice rate;
    the MSP lesion removes them (unless ``msp_keeps``), the TSP lesion halves them."""
    out = []
    kept = {"": 1.0, "msp": 1.0 if msp_keeps else 0.0, "tsp": 0.5}
    for lesion, f in kept.items():
        def add(bench, metric, value, entity):
            out.append(row(f"{bench}-{seed}", seed, metric, value, entity=entity, lesion=lesion, benchmark=bench,
                           model="chorse"))
            out.append(row(f"{bench}-{seed}", seed, metric, 9.0, entity=entity, lesion=lesion, benchmark=bench,
                           model="chorse", train_exp=LAST - 1))
        for layer, contrast in (("dg", 0.05), ("ca3", 0.0), ("ca1", pair * f)):
            add("cls-pairs", "similarity_pair", 0.2 + contrast, layer)
            add("cls-pairs", "similarity_nonpair", 0.2, layer)
        add("cls-community", "similarity_within", 0.3 + community * f, "ca1")
        add("cls-community", "similarity_between", 0.3, "ca1")
        add("cls-inference", "production_ac_choice", 0.5 + (choice - 0.5) * f, "output")
    return out


def test_chorse_signatures_hold_and_are_lost_under_the_msp_lesion():
    df = pd.DataFrame([r for s in range(6) for r in signature_runs(s, 0.3 + 0.01 * s, 0.2, 0.8)])
    v = EXPERIMENTS["chorse-signatures"]().analyse(df)
    assert v.verdict == HOLDS and v.n == 6
    t = v.table
    intact = t[(t["benchmark"] == "cls-pairs") & (t["lesion"] == "intact")].set_index("seed")
    assert intact.loc[0, "pairs"] == pytest.approx(0.3) and intact.loc[0, "pairs_ca1_minus_dg"] == pytest.approx(0.25)
    inference = t[(t["benchmark"] == "cls-inference")].set_index(["seed", "lesion"])
    assert inference.loc[(0, "intact"), "inference"] == pytest.approx(0.3)
    assert inference.loc[(0, "tsp"), "inference"] == pytest.approx(0.15)
    assert inference.loc[(0, "msp"), "inference"] == pytest.approx(0.0)
    assert "pairs reduced by the MSP lesion in 6/6 seeds" in v.statistic


def test_chorse_signatures_fail_without_structure_or_when_the_lesion_spares_it():
    flat = pd.DataFrame([r for s in range(6) for r in signature_runs(s, 0.0, 0.2, 0.8)])
    assert EXPERIMENTS["chorse-signatures"]().analyse(flat).verdict == FAILS
    spared = pd.DataFrame([r for s in range(6) for r in signature_runs(s, 0.3, 0.2, 0.8, msp_keeps=True)])
    v = EXPERIMENTS["chorse-signatures"]().analyse(spared)
    assert v.verdict == FAILS and "reduced by the MSP lesion in 0/6 seeds" in v.statistic


# --- figures and the report -------------------------------------------------------------------------------------------

def test_report_embeds_figures_and_writes_every_table(tmp_path):
    from hippo_bench.plotting.style import new_figure

    fig = new_figure(2, 2)
    fig.add_subplot().plot([0, 1], [0, 1])
    v = Verdict("x", "a claim", HOLDS, "stat", 5, pd.DataFrame({"seed": [0]}),
                tables={"per-cell": pd.DataFrame({"a": [1]})})
    paths = write_report(v, tmp_path / "x", "hippo-bench experiment x", {"curve": fig})
    names = sorted(p.name for p in paths)
    assert names == ["curve.png", "curve.svg", "data.csv", "index.md", "per-cell.csv"]
    md = (tmp_path / "x" / "index.md").read_text()
    assert "![curve](curve.png)" in md and "Per cell ([per-cell.csv](per-cell.csv))" in md
    assert (tmp_path / "x" / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_claim_figures_draw_from_hand_built_rows():
    from hippo_bench.experiments.base import draw_figures

    acc = {(c, a, s): 0.5 for c in ("both", "baseline") for a in ALPHAS for s in range(2)}
    figs = draw_figures(EXPERIMENTS["robustness"](), pd.DataFrame(robustness_rows(acc)))
    assert list(figs) == ["accuracy-vs-alpha"]
    ax = figs["accuracy-vs-alpha"].axes[0]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_legend().get_texts()] == ["baseline", "both"]
    rows = []
    for s in range(2):
        rows += dual_run(f"item-{s}", s, ITEM_PARAMS, 5, DISSOCIATED)
    figs = draw_figures(EXPERIMENTS["lesions"](), pd.DataFrame(rows))
    assert list(figs) == ["lesions"]
    sig = pd.DataFrame([r for s in range(2) for r in signature_runs(s, 0.3, 0.2, 0.8)])
    assert list(draw_figures(EXPERIMENTS["chorse-signatures"](), sig)) == ["signatures"]
    assert draw_figures(EXPERIMENTS["robustness"](), pd.DataFrame()) == {}


def test_robustness_quick_runs_its_grid_end_to_end(run_cli, tmp_path):
    code, _, err = run_cli("experiment", "robustness", "--quick", "--seeds", "1", "--results", tmp_path / "r",
                           "--out", tmp_path / "reports")
    assert code == 0, err
    cells = pd.read_csv(tmp_path / "reports" / "robustness" / "cells.csv")
    assert list(cells["alpha_init"]) == [0.001, 0.01, 0.1] and list(cells["n_pairs"]) == [1, 1, 1]
    runs = pd.read_csv(tmp_path / "reports" / "robustness" / "data.csv")
    assert sorted(set(runs["condition"])) == ["baseline", "both"] and len(runs) == 6
    assert "![accuracy-vs-alpha](accuracy-vs-alpha.png)" in (tmp_path / "reports" / "robustness" / "index.md").read_text()


def test_lesions_quick_judges_the_protocol_with_more_glances(run_cli, tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setenv("HIPPO_BENCH_DATA", str(tiny_mnist[0]))
    code, _, err = run_cli("experiment", "lesions", "--quick", "--seeds", "1", "--results", tmp_path / "r",
                           "--out", tmp_path / "reports")
    assert code == 0, err
    md = (tmp_path / "reports" / "lesions" / "index.md").read_text()
    assert "10 items x 1 (reported)" in md and "10 items x 3 (judged)" in md and "![lesions](lesions.png)" in md
    runs = pd.read_csv(tmp_path / "reports" / "lesions" / "data.csv")
    assert sorted(runs["epochs"]) == [1, 3] and set(runs["items"]) == {10}
