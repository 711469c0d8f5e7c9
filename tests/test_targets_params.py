"""Targets that fix strategy parameters (sweep cells such as the seed's alpha_init x condition table)."""

from __future__ import annotations

import pytest

from hippo_bench.errors import DataError
from hippo_bench.reporting.targets import FIELDS, compare, load_targets, published_for
from hippo_bench.results import atomic_write_parquet, load_results, make_table, result_path, run_identity


def write_run(folder, seed, acc, params):
    identity = run_identity(benchmark="rotated-mnist", benchmark_params={}, benchmark_seed=0, strategy="meta-hippo",
                            strategy_params=params, model="mlp2", model_params={}, seed=seed, epochs=1,
                            train_mb_size=5, preset="seed-rotated-mnist")
    rows = [dict(train_exp=0, eval_exp=0, metric="accuracy", value=acc, entity="", group="", lesion="")]
    table = make_table(identity, rows, prov={})
    atomic_write_parquet(table, result_path(folder, table["run_id"].iloc[0]))


def test_seed_table_cells_match_only_their_parameters(tmp_path):
    write_run(tmp_path, 0, 0.50, {"condition": "both", "alpha_init": 0.001})
    write_run(tmp_path, 1, 0.60, {"condition": "both", "alpha_init": 0.001})
    write_run(tmp_path, 0, 0.11, {"condition": "baseline", "alpha_init": 0.001})
    write_run(tmp_path, 0, 0.99, {"condition": "both", "alpha_init": 0.01})
    targets = [t for t in load_targets() if t.preset == "seed-rotated-mnist"]
    assert len(targets) == 8  # 2 conditions x 4 alpha_init
    by_label = {t.label: c for t, c in zip(targets, compare(load_results(tmp_path), targets))}
    both = by_label["condition=both;alpha_init=0.001"]
    assert both.n == 2 and both.ours == pytest.approx(0.55)
    assert both.within is True  # the seed's 0.543 / 0.559 average to 0.551
    base = by_label["condition=baseline;alpha_init=0.001"]
    assert base.n == 1 and base.ours == pytest.approx(0.11) and base.within is True  # 0.1325 - 0.11 < 0.03
    assert by_label["condition=both;alpha_init=0.01"].within is False  # 0.99 vs 0.55
    assert by_label["condition=baseline;alpha_init=0.1"].n == 0
    hit = published_for(targets, "rotated-mnist", "meta-hippo", "seed-rotated-mnist", "acc",
                        {"condition": "both", "alpha_init": 1e-4, "m_lr": 0.02})
    assert hit is not None and hit.value == pytest.approx(0.55)
    assert published_for(targets, "rotated-mnist", "meta-hippo", "seed-rotated-mnist", "acc",
                         {"condition": "lr", "alpha_init": 1e-4}) is None


def test_malformed_params_are_refused(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text(",".join(FIELDS) + "\nrotated-mnist,p,la-maml,acc,0.5,0.03,no,x,alpha_init\n")
    with pytest.raises(DataError, match="line 2: params must be key=value"):
        load_targets(bad)
