"""Published targets: the packaged file, matching on the full configuration, tolerance rules, `leaderboard check`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hippo_bench.errors import DataError
from hippo_bench.presets import available, load_preset
from hippo_bench.reporting.leaderboard import build_leaderboards
from hippo_bench.reporting.targets import FIELDS, Target, compare, load_targets, welch_half_width
from hippo_bench.results import atomic_write_parquet, load_results, make_table, result_path, run_identity
from hippo_bench.strategies import strategies


def target(preset: str, metric: str = "acc", label: str = "") -> Target:
    return next(t for t in load_targets() if t.preset == preset and t.metric == metric and t.label == label)


def write_run(folder, seed, R, config, *, seen=None, before=None, **changes):
    """A run with the target's resolved configuration (``changes`` alter identity fields)."""
    ident = dict(config)
    ident.update(changes)
    identity = run_identity(benchmark=ident["benchmark"], benchmark_params=json.loads(ident["benchmark_params"]),
                            benchmark_seed=0, strategy=ident["strategy"],
                            strategy_params=json.loads(ident["strategy_params"]), model=ident["model"],
                            model_params=json.loads(ident["model_params"]), seed=seed, epochs=ident["epochs"],
                            train_mb_size=ident["train_mb_size"], preset=ident["preset"])
    rows = []
    for metric, M in (("accuracy", R), ("train_accuracy", seen)):
        if M is None:
            continue
        for i in range(len(M)):
            for j in range(len(M)):
                rows.append(dict(train_exp=i, eval_exp=j, metric=metric, value=M[i][j], entity="", group="",
                                 lesion=""))
        if before is not None:
            rows += [dict(train_exp=-1, eval_exp=j, metric=metric, value=before, entity="", group="", lesion="")
                     for j in range(len(M))]
    table = make_table(identity, rows, prov={"code_fingerprint": current_code(ident)})
    atomic_write_parquet(table, result_path(folder, table["run_id"].iloc[0]))


def current_code(ident: dict) -> str:
    """The fingerprint of the code a run of this configuration would have now (not stale)."""
    from hippo_bench.fingerprint import code_identity
    from hippo_bench.models import models
    from hippo_bench.tasks import benchmarks

    return code_identity(strategies.get(ident["strategy"]), benchmarks.get(ident["benchmark"]),
                         models.get(ident["model"]))[0]


def test_matches_made_by_an_older_release_fail_the_check_and_other_code_keys_do_not(tmp_path, run_cli):
    import pandas as pd

    config = target("lamaml-rotated").configuration()
    write_run(tmp_path, 0, [[0.9, 0.1], [0.8, 0.75]], config)
    (path,) = tmp_path.glob("*.parquet")
    table = pd.read_parquet(path)
    table["code_fingerprint"] = "0000000000000000"  # a reuse key of other code: says nothing about the release
    table.to_parquet(path, index=False)
    (c,) = compare(load_results(tmp_path), [target("lamaml-rotated")])
    assert c.status == "met" and not c.older_release
    table["hippo_bench_version"] = "0.0.1"  # made by a release older than the code
    table.to_parquet(path, index=False)
    (c,) = compare(load_results(tmp_path), [target("lamaml-rotated")])
    assert c.status == "met" and c.older_release
    code, out, _ = run_cli("leaderboard", "check", "--results", tmp_path, "--allow-missing")
    assert code == 1
    assert "1 of 1 runs" in out and "release 0.0.1, older than this code" in out


def test_packaged_targets_name_presets_and_strategies_that_exist_and_resolve():
    targets = load_targets()
    assert {t.strategy for t in targets} <= set(strategies.names())
    for t in targets:
        preset = load_preset(t.preset)
        assert preset["strategy"] == t.strategy and preset["benchmark"] == t.benchmark
        assert 0 < t.value < 1
        config = t.configuration()
        assert config["strategy"] == t.strategy and config["preset"] == t.preset
    assert {p for p in available() if p.startswith(("lamaml-", "mer-"))} <= {t.preset for t in targets}
    labels = {t.source_label for t in targets}
    assert {"paper (unchecked)", "re-run of the original code (2 seeds)", "re-run of the original code (1 seed)"} <= labels


def test_runs_match_on_the_full_configuration_not_the_preset_label(tmp_path):
    t = target("lamaml-rotated")
    config = t.configuration()
    write_run(tmp_path, 0, [[0.9, 0.1], [0.8, 0.7]], config)  # ACC 0.75
    write_run(tmp_path, 1, [[0.9, 0.1], [0.7, 0.7]], config)  # ACC 0.70
    params = json.loads(config["strategy_params"])
    other = json.dumps({**params, "alpha_init": params["alpha_init"] * 2}, sort_keys=True, separators=(",", ":"))
    write_run(tmp_path, 2, [[0.1, 0.1], [0.1, 0.1]], config, strategy_params=other)  # preset label kept, flag changed
    write_run(tmp_path, 3, [[0.1, 0.1], [0.1, 0.1]], config, epochs=2)
    write_run(tmp_path, 4, [[0.1, 0.1], [0.1, 0.1]], config, preset="")  # same settings without the preset
    (c,) = compare(load_results(tmp_path), [t])
    assert c.n == 2 and c.ours == pytest.approx(0.725)
    assert c.difference == pytest.approx(0.725 - 0.7742)
    assert c.status == "missed"  # 0.0492 off, absolute tolerance 0.03
    assert c.std == pytest.approx(np.std([0.75, 0.70], ddof=1))


def test_a_network_that_learned_nothing_never_meets_a_target(tmp_path):
    """The seed table's baseline 1e-4 cell (0.107) is met by chance-level accuracy: reported as not learned."""
    t = target("seed-rotated-mnist", label="condition=baseline;alpha_init=0.0001")
    for seed in range(3):
        write_run(tmp_path, seed, [[0.10, 0.10], [0.11, 0.10]], t.configuration(), before=0.095)
    (c,) = compare(load_results(tmp_path), [t])
    assert abs(c.difference) < 0.01  # numerically close to the reference (0.105 vs 0.107)...
    assert c.status == "not learned"  # ...but 0.105 is within the margin of its own 0.095 before training


def test_interval_rule_uses_the_reference_seeds(tmp_path):
    t = target("seed-rotated-mnist", label="condition=both;alpha_init=0.001")  # refs 0.543, 0.559
    assert t.rule == "interval95" and t.ref_values == (0.543, 0.559)
    ours = (0.50, 0.52, 0.51)
    for seed, acc in enumerate(ours):
        write_run(tmp_path, seed, [[acc]], t.configuration(), before=0.1)
    (c,) = compare(load_results(tmp_path), [t])
    # Welch by hand: var_o = 1e-4 (n 3), var_r = 1.28e-4 (n 2); se = sqrt(1e-4/3 + 1.28e-4/2) = 0.009866
    a, b = 1e-4 / 3, 1.28e-4 / 2
    df = (a + b) ** 2 / (a * a / 2 + b * b / 1)
    from scipy import stats
    assert c.half_width == pytest.approx(stats.t.ppf(0.975, df) * math.sqrt(a + b), rel=1e-6)
    assert welch_half_width(ours, t.ref_values) == pytest.approx(c.half_width)
    assert c.status == ("met" if abs(0.51 - 0.551) <= c.half_width else "missed")


def test_seen_accuracy_comes_from_the_train_accuracy_probe(tmp_path):
    t_acc, t_seen = target("oml-omniglot-200"), target("oml-omniglot-200", "seen_acc")
    write_run(tmp_path, 0, [[0.6, 0.0], [0.55, 0.65]], t_acc.configuration(), seen=[[1.0, 0.0], [0.88, 0.9]])
    by_metric = {c.target.metric: c for c in compare(load_results(tmp_path), [t_acc, t_seen])}
    assert by_metric["acc"].ours == pytest.approx(0.6)
    assert by_metric["seen_acc"].ours == pytest.approx(0.89)
    assert by_metric["seen_acc"].status == "met"  # |0.89 - 0.89| <= 0.05


def test_check_fails_on_a_missed_target_and_on_missing_runs(tmp_path, run_cli):
    write_run(tmp_path, 0, [[0.9, 0.1], [0.8, 0.75]], target("lamaml-rotated").configuration())  # ACC 0.775
    code, out, err = run_cli("leaderboard", "check", "--results", tmp_path)
    assert code == 1, err  # every other target has no runs
    line = next(ln for ln in out.splitlines() if "lamaml-rotated" in ln)
    assert "0.7750" in line and "0.7742" in line and "+0.0008" in line and "met" in line
    assert "no runs: mer on rotated-mnist" in out
    from hippo_bench.reporting.targets import default_targets_path

    bad = tmp_path / "one.csv"
    text = default_targets_path().read_text().splitlines()
    bad.write_text("\n".join([text[0]] + [ln for ln in text[1:] if ln.startswith("rotated-mnist,lamaml-rotated")]))
    code, out, _ = run_cli("leaderboard", "check", "--results", tmp_path, "--targets", bad)
    assert code == 0 and "1 met" in out
    write_run(tmp_path, 1, [[0.5, 0.1], [0.4, 0.5]], target("lamaml-rotated").configuration())  # ACC 0.45
    code, out, _ = run_cli("leaderboard", "check", "--results", tmp_path, "--targets", bad, "--allow-missing")
    assert code == 1 and "missed: la-maml on rotated-mnist" in out


def test_bad_targets_file_is_one_clear_error(tmp_path, run_cli):
    bad = tmp_path / "t.csv"
    bad.write_text(",".join(FIELDS) + "\nrotated-mnist,p,la-maml,acc,high,absolute,0.03,paper-unchecked,,x,\n")
    with pytest.raises(DataError, match="line 2"):
        load_targets(bad)
    code, out, err = run_cli("leaderboard", "check", "--results", tmp_path, "--targets", bad)
    assert code == 2 and "line 2" in err and "Traceback" not in err
    bad.write_text(",".join(FIELDS) + "\nrotated-mnist,p,la-maml,acc,0.5,interval95,,original-code,0.5,x,\n")
    with pytest.raises(DataError, match="interval95 needs two or more ref_values"):
        load_targets(bad)
    bad.write_text(",".join(FIELDS) + "\nrotated-mnist,p,la-maml,acc,0.5,absolute,0.03,paper-unchecked,,x,alpha\n")
    with pytest.raises(DataError, match="params must be key=value"):
        load_targets(bad)


def test_leaderboard_shows_the_reference_with_its_source(tmp_path):
    results = tmp_path / "results"
    config = target("lamaml-rotated").configuration()
    write_run(results, 0, [[0.9, 0.1], [0.8, 0.7]], config)
    write_run(results, 0, [[0.9, 0.1], [0.6, 0.7]], config, strategy="mer", preset="")
    build_leaderboards(results, tmp_path / "boards")
    md, html = tmp_path / "boards" / "rotated-mnist.md", tmp_path / "boards" / "rotated-mnist.html"
    text = md.read_text()
    header = next(ln for ln in text.splitlines() if ln.startswith("|") and "ACC" in ln)
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols[cols.index("ACC ↑") + 1] == "reference ACC"
    la = next(ln for ln in text.splitlines() if "| la-maml" in ln)
    mer = next(ln for ln in text.splitlines() if "| mer " in ln)
    assert "0.774 (paper (unchecked))" in la and "—" in mer.split("|")[cols.index("reference ACC") + 1]
    assert "reference ACC" in html.read_text()
