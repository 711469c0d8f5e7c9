"""Published targets: the packaged file, the comparison, `leaderboard check`, and the leaderboard column."""

from __future__ import annotations

import numpy as np
import pytest

from hippo_bench.errors import DataError
from hippo_bench.presets import available, load_preset
from hippo_bench.reporting.leaderboard import build_leaderboards
from hippo_bench.reporting.targets import FIELDS, compare, load_targets
from hippo_bench.results import atomic_write_parquet, load_results, make_table, result_path, run_identity
from hippo_bench.strategies import strategies


def write_run(folder, seed, R, *, benchmark="rotated-mnist", strategy="la-maml", preset="lamaml-rotated",
              seen=None):
    identity = run_identity(benchmark=benchmark, benchmark_params={}, benchmark_seed=0, strategy=strategy,
                            strategy_params={}, model="mlp", model_params={}, seed=seed, epochs=1,
                            train_mb_size=10, preset=preset)
    rows = []
    for metric, M in (("accuracy", R), ("train_accuracy", seen)):
        if M is None:
            continue
        for i in range(len(M)):
            for j in range(len(M)):
                rows.append(dict(train_exp=i, eval_exp=j, metric=metric, value=M[i][j], entity="", group="",
                                 lesion=""))
    table = make_table(identity, rows, prov={})
    atomic_write_parquet(table, result_path(folder, table["run_id"].iloc[0]))


def test_packaged_targets_name_presets_and_strategies_that_exist():
    targets = load_targets()
    assert {t.strategy for t in targets} <= set(strategies.names())
    for t in targets:
        preset = load_preset(t.preset)
        assert preset["strategy"] == t.strategy and preset["benchmark"] == t.benchmark
        assert 0 < t.value < 1 and t.tolerance > 0
    assert {"lamaml-rotated", "mer-rotated", "oml-omniglot-200"} <= {t.preset for t in targets}
    assert {p for p in available() if p.startswith(("lamaml-", "mer-"))} <= {t.preset for t in targets}


def test_comparison_uses_the_mean_over_matching_runs(tmp_path):
    write_run(tmp_path, 0, [[0.9, 0.1], [0.8, 0.7]])  # ACC 0.75
    write_run(tmp_path, 1, [[0.9, 0.1], [0.7, 0.7]])  # ACC 0.70
    write_run(tmp_path, 2, [[0.1, 0.1], [0.1, 0.1]], preset="")  # no preset: not compared
    targets = [t for t in load_targets() if t.preset == "lamaml-rotated"]
    (c,) = compare(load_results(tmp_path), targets)
    assert c.n == 2
    assert c.ours == pytest.approx(0.725)
    assert c.difference == pytest.approx(0.725 - 0.7742)
    assert c.within is False  # 0.0492 off, tolerance 0.03
    assert c.std == pytest.approx(np.std([0.75, 0.70], ddof=1))


def test_seen_accuracy_comes_from_the_train_accuracy_probe(tmp_path):
    write_run(tmp_path, 0, [[0.6, 0.0], [0.5, 0.7]], benchmark="omniglot-oml", strategy="oml",
              preset="oml-omniglot-200", seen=[[1.0, 0.0], [0.9, 0.96]])
    targets = [t for t in load_targets() if t.preset == "oml-omniglot-200"]
    by_metric = {c.target.metric: c for c in compare(load_results(tmp_path), targets)}
    assert by_metric["acc"].ours == pytest.approx(0.6)
    assert by_metric["seen_acc"].ours == pytest.approx(0.93)
    assert by_metric["seen_acc"].within is True  # |0.93 - 0.94| <= 0.05


def test_cli_check_prints_ours_target_and_difference(tmp_path, run_cli):
    write_run(tmp_path, 0, [[0.9, 0.1], [0.8, 0.75]])  # ACC 0.775
    code, out, err = run_cli("leaderboard", "check", "--results", tmp_path)
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if "lamaml-rotated" in ln)
    assert "0.7750" in line and "0.7742" in line and "+0.0008" in line and "yes" in line
    assert "no results" in next(ln for ln in out.splitlines() if "mer-rotated" in ln)


def test_bad_targets_file_is_one_clear_error(tmp_path, run_cli):
    bad = tmp_path / "t.csv"
    bad.write_text(",".join(FIELDS) + "\nrotated-mnist,p,la-maml,acc,high,0.03,no,x\n")
    with pytest.raises(DataError, match="line 2"):
        load_targets(bad)
    code, out, err = run_cli("leaderboard", "check", "--results", tmp_path, "--targets", bad)
    assert code == 2 and "line 2" in err and "Traceback" not in err


def test_leaderboard_shows_the_published_value_beside_ours(tmp_path):
    results = tmp_path / "results"
    write_run(results, 0, [[0.9, 0.1], [0.8, 0.7]])
    write_run(results, 0, [[0.9, 0.1], [0.6, 0.7]], strategy="mer", preset="")
    build_leaderboards(results, tmp_path / "boards")
    md, html = tmp_path / "boards" / "rotated-mnist.md", tmp_path / "boards" / "rotated-mnist.html"
    text = md.read_text()
    header = next(ln for ln in text.splitlines() if ln.startswith("|") and "ACC" in ln)
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols[cols.index("ACC ↑") + 1] == "published ACC"
    la = next(ln for ln in text.splitlines() if "| la-maml" in ln)
    mer = next(ln for ln in text.splitlines() if "| mer " in ln)
    assert "0.774 †" in la and "—" in mer.split("|")[cols.index("published ACC") + 1]
    assert "published ACC" in html.read_text()
