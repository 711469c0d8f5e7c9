"""The CLS paradigms end to end through the command line, and their refusals of bad parameters."""

import pytest

from hippo_bench.cli import main
from hippo_bench.models import models
from hippo_bench.results import load_results


def run(tmp_path, *args):
    return main(["run", "--strategy", "naive", "--out", str(tmp_path), *args])


def test_naive_on_cls_pairs_records_per_layer_similarity_and_prints_the_chorse_table(tmp_path, capsys):
    assert run(tmp_path, "--benchmark", "cls-pairs", "--model", "mlp", "--bench-trials-per-block", "20",
               "--bench-n-blocks", "3") == 0
    out = capsys.readouterr().out
    assert "cls-pairs: final measures" in out and "C-HORSE comparison" in out and "initial" in out
    df = load_results(tmp_path)
    assert set(df["status"]) == {"ok"} and set(df["benchmark"]) == {"cls-pairs"}
    acc = df[(df["metric"] == "accuracy") & (df["eval_exp"] >= 0)]
    assert sorted(acc["train_exp"].unique()) == [-1, 0, 1, 2] and sorted(acc["eval_exp"].unique()) == [0, 1, 2]
    sim = df[df["metric"] == "similarity_pair"]
    assert set(sim["entity"]) == {"2", "4"}  # the mlp's two hooked ReLU layers
    assert len(sim) == 2 * 4  # per layer, after every evaluation (before training + 3 experiences)
    assert sim["value"].between(-1, 1).all()
    assert {"similarity_nonpair", "production_ab", "production_ba_choice"} <= set(df["metric"])


def test_the_cls_suite_runs_each_paradigm(tmp_path, capsys):
    assert run(tmp_path, "--benchmark", "cls", "--model", "mlp") == 0
    out = capsys.readouterr().out
    for name in ("cls-pairs", "cls-community", "cls-inference"):
        assert f"{name}: final measures" in out
    df = load_results(tmp_path)
    assert set(df["benchmark"]) == {"cls-pairs", "cls-community", "cls-inference"}
    metrics = set(df["metric"])
    assert {"similarity_within", "similarity_between", "similarity_ac", "production_ac_choice"} <= metrics
    # the side-by-side suite table, from the same rows
    from hippo_bench.results import run_summaries
    from hippo_bench.tasks import benchmarks

    by_member = {name: [group] for name, group in df.groupby("benchmark")}
    (table,) = benchmarks.get("cls")().suite_report(by_member)
    cells = {col.header: list(col._cells) for col in table.columns}
    assert cells["paradigm"] == ["cls-community", "cls-inference", "cls-pairs"]
    assert {"2", "4"} <= set(cells)  # one similarity column per layer
    acc = run_summaries(df).set_index("benchmark")["acc"]
    assert cells["item recall (ACC)"] == [f"{acc[b]:.3f}" for b in cells["paradigm"]]
    last = df[df["benchmark"] == "cls-pairs"]["train_exp"].max()
    rows = df[(df["benchmark"] == "cls-pairs") & (df["train_exp"] == last) & (df["entity"] == "4")].set_index("metric")
    diff = rows.loc["similarity_pair", "value"] - rows.loc["similarity_nonpair", "value"]
    assert cells["4"][2] == f"{diff:.3f}"


@pytest.mark.skipif("chorse" not in models.names(), reason="the chorse model is not registered")
def test_lesioned_rows_for_a_model_with_pathway_lesions(tmp_path):
    assert run(tmp_path, "--benchmark", "cls-inference", "--model", "chorse", "--bench-reps", "2") == 0
    df = load_results(tmp_path)
    assert set(df["lesion"]) == {"", "msp", "tsp"}
    lesioned = df[df["lesion"] == "msp"]
    assert {"accuracy", "similarity_ac", "production_ac"} <= set(lesioned["metric"])
    assert set(df.loc[df["metric"] == "similarity_ac", "group"]) >= {"TSP", "MSP"}


@pytest.mark.parametrize("args, words", [
    (["--benchmark", "cls-pairs", "--bench-n-items", "7"], ["even", "pairs"]),
    (["--benchmark", "cls-community", "--bench-degree", "5"], ["degree 5", "community"]),
    (["--benchmark", "cls-community", "--bench-community-size", "5", "--bench-degree", "3"], ["even"]),
    (["--benchmark", "cls-pairs", "--bench-p-within", "1.5"], ["--bench-p-within", "<= 1"]),
    (["--benchmark", "cls-inference", "--bench-previous-strength", "-0.1"], ["--bench-previous-strength", ">= 0"]),
])
def test_parameters_that_cannot_form_the_paradigm_exit_2(tmp_path, capsys, args, words):
    assert run(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3
    for w in words:
        assert w in err
    assert not list(tmp_path.rglob("*.parquet"))


def test_the_suite_cannot_be_built_directly():
    from hippo_bench.errors import UserError
    from hippo_bench.tasks import benchmarks

    with pytest.raises(UserError, match="suite"):
        benchmarks.get("cls")().build(0)
