"""The architecture experiment (which pathways meta-hippo-gated keeps) on hand-made rows whose answer is known."""

from __future__ import annotations

import json

import pytest
import pandas as pd

from hippo_bench.experiments import EXPERIMENTS
from hippo_bench.experiments.architecture import Architecture, branch_projections
from hippo_bench.experiments.base import FAILS, HOLDS, INCONCLUSIVE

PROJECTIONS = ("input->h1", "h1->large", "h1->small", "large->out", "small->out")


def run_rows(run_id, seed, strategy, gates=None, acc=0.5):
    """One run: final gate (1 open / 0 closed) and score per projection, and a 2 x 2 accuracy matrix of ACC acc."""
    base = dict(run_id=run_id, status="ok", seed=seed, strategy=strategy, strategy_params=json.dumps({}),
                model="dual", benchmark="b", lesion="", group="", config_id=strategy)
    rows = []
    for proj, g in (gates or {}).items():
        for t, (gate, score) in ((0, (1.0, 1.0)), (1, (g, 0.7 if g else -0.3))):  # only the last counts
            rows.append(dict(base, metric="gate", entity=proj, eval_exp=-1, train_exp=t, value=gate))
            rows.append(dict(base, metric="gate_score", entity=proj, eval_exp=-1, train_exp=t, value=score))
    for i, row in enumerate([[0.9, 0.1], [acc, acc]]):
        for j, v in enumerate(row):
            rows.append(dict(base, metric="accuracy", entity="", eval_exp=j, train_exp=i, value=v))
    return rows


def runs(n_seeds, closed_large_in=0):
    rows = []
    for s in range(n_seeds):
        gates = {p: 1.0 for p in PROJECTIONS}
        if s < closed_large_in:
            gates["h1->large"] = 0.0
        rows += run_rows(f"g{s}", s, "meta-hippo-gated", gates, acc=0.6 + 0.01 * s)
        rows += run_rows(f"m{s}", s, "meta-hippo", acc=0.5)
    return pd.DataFrame(rows)


def test_branch_projections_are_those_touching_a_branch():
    assert branch_projections(PROJECTIONS) == ["h1->large", "h1->small", "large->out", "small->out"]


def test_all_branches_kept_holds_with_the_gate_shares_and_paired_acc():
    v = Architecture().analyse(runs(5))
    assert v.verdict == HOLDS and v.n == 5
    t = v.table.set_index("projection")
    assert t.loc["h1->large", "open_share"] == 1.0 and t.loc["h1->large", "mean_score"] == pytest.approx(0.7)
    acc = v.tables["acc"]
    assert list(acc["gated"]) == pytest.approx([0.6, 0.61, 0.62, 0.63, 0.64])
    assert "ACC gated - ungated: median +0.120 over 5 seeds" in v.statistic


def test_a_branch_cut_in_two_of_five_seeds_does_not_hold():
    v = Architecture().analyse(runs(5, closed_large_in=2))  # open in 3/5 = 60% < 80%
    assert v.verdict == FAILS
    assert "h1->large open in 3/5" in v.statistic and "closed in over 20% of seeds: h1->large (3/5)" in v.statistic
    assert Architecture().analyse(runs(5, closed_large_in=1)).verdict == HOLDS  # 4/5 = 80%


def test_fewer_than_five_seeds_or_no_gated_runs_is_inconclusive():
    assert Architecture().analyse(runs(4)).verdict == INCONCLUSIVE
    df = runs(5)
    assert Architecture().analyse(df[df["strategy"] == "meta-hippo"]).verdict == INCONCLUSIVE


def test_registered_with_a_quick_protocol_on_the_dual_net():
    exp = EXPERIMENTS["architecture"]()
    configs = exp.configs([0, 1], quick=True)
    assert [c["strategy"] for c in configs] == ["meta-hippo-gated", "meta-hippo"]
    assert {c["model"] for c in configs} == {"dual"}
    assert exp.configs([0], quick=False)[0]["preset"] == "seed-dual-mnist"


@pytest.mark.slow
def test_quick_architecture_runs_end_to_end(tmp_path):
    exp = Architecture()
    df = exp.run([0, 1], quick=True, out=tmp_path)
    v = exp.analyse(df)
    assert v.verdict == INCONCLUSIVE and v.n == 2
    assert len(v.table) == 7  # the quick dual net's projections: 3 shared, 2 into the branches, 2 out of them
    assert (abs(v.table["mean_score"] - 0.05) > 1e-7).all()  # every score was meta-learned away from gate_init
    assert exp.figures(df)
