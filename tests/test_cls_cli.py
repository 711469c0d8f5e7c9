"""The CLS paradigms end to end through the command line, and their refusals of bad parameters."""

import numpy as np
import pytest

from hippo_bench.cli import main
from hippo_bench.models import models
from hippo_bench.results import accuracy_matrix, load_results, run_summaries


def run(tmp_path, *args, strategy="naive"):
    return main(["run", "--strategy", strategy, "--out", str(tmp_path), *args])


# Small continual streams (3 experiences, chorse network) on which naive forgets and joint does not; each run
# takes a second or two. Forgetting measured with seed 0 (naive / joint): pairs 0.875 / 0.000, community
# 0.125 / -0.208, inference 0.167 / -0.111.
SMALL = {
    "cls-pairs": ["--bench-n-experiences", "3", "--bench-items-per-exp", "4", "--bench-trials-per-exp", "200"],
    "cls-community": ["--bench-n-experiences", "3", "--bench-n-communities", "3", "--bench-community-size", "4",
                      "--bench-degree", "3", "--bench-trials-per-exp", "300"],
    "cls-inference": ["--bench-n-experiences", "3", "--bench-triads-per-exp", "3", "--bench-reps", "40"],
}


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory):
    """naive and joint (cumulative) on each small continual stream, seed 0: benchmark -> strategy -> tidy rows."""
    out = {}
    for bench, args in SMALL.items():
        out[bench] = {}
        for strategy in ("naive", "joint"):
            folder = tmp_path_factory.mktemp(f"{bench}-{strategy}")
            assert main(["run", "--strategy", strategy, "--benchmark", bench, *args, "--bench-meta-train-episodes",
                         "0", "--out", str(folder)]) == 0
            out[bench][strategy] = load_results(folder)
    return out


@pytest.mark.parametrize("bench", list(SMALL))
def test_on_each_continual_stream_joint_forgets_less_than_naive(small_runs, bench):
    forgetting = {s: float(run_summaries(df)["forgetting"].iloc[0]) for s, df in small_runs[bench].items()}
    assert forgetting["naive"] > 0.1  # naive loses what it learned
    assert forgetting["joint"] < forgetting["naive"] - 0.1
    R, _ = accuracy_matrix(small_runs[bench]["naive"])
    assert R.shape == (3, 3) and not np.allclose(R, R[:, :1])  # columns differ: each tests its own items


def test_interleaved_schedule_gives_identical_columns(tmp_path):
    assert run(tmp_path, "--benchmark", "cls-pairs", "--bench-schedule", "interleaved", "--bench-n-experiences", "3",
               "--bench-trials-per-exp", "60", "--bench-meta-train-episodes", "0") == 0
    R, before = accuracy_matrix(load_results(tmp_path))
    assert R.shape == (3, 3)
    assert np.array_equal(R, np.repeat(R[:, :1], 3, axis=1))  # every test experience shows the same items
    assert np.array_equal(before, np.repeat(before[:1], 3))


def test_naive_on_cls_pairs_records_per_layer_similarity_and_prints_the_chorse_table(tmp_path, capsys):
    assert run(tmp_path, "--benchmark", "cls-pairs", "--model", "mlp", "--bench-trials-per-exp", "20",
               "--bench-n-experiences", "3") == 0
    out = capsys.readouterr().out
    assert "cls-pairs: final measures" in out and "C-HORSE comparison" in out and "initial" in out
    assert "retention per experience" in out
    df = load_results(tmp_path)
    assert set(df["status"]) == {"ok"} and set(df["benchmark"]) == {"cls-pairs"}
    acc = df[(df["metric"] == "accuracy") & (df["eval_exp"] >= 0)]
    assert sorted(acc["train_exp"].unique()) == [-1, 0, 1, 2] and sorted(acc["eval_exp"].unique()) == [0, 1, 2]
    sim = df[df["metric"] == "similarity_pair"]
    assert set(sim["entity"]) == {"2", "4"}  # the mlp's two hooked ReLU layers
    # per layer, after every evaluation (before training + 3 experiences): pooled and per test experience
    assert len(sim) == 2 * 4 * (1 + 3) and sorted(sim["eval_exp"].unique()) == [-1, 0, 1, 2]
    assert sim["value"].between(-1, 1).all()
    assert {"similarity_nonpair", "production_ab", "production_ba_choice"} <= set(df["metric"])
    corr = df[df["metric"] == "item_correlation"]
    assert set(corr["train_exp"]) == {2} and set(corr["entity"]) == {"2", "4"}  # the final evaluation only
    n_items = 3 * 8
    assert len(corr) == 2 * n_items * (n_items - 1) // 2 and (corr["item_a"] < corr["item_b"]).all()


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
    rows = df[(df["benchmark"] == "cls-pairs") & (df["train_exp"] == last) & (df["entity"] == "4")
              & (df["eval_exp"] == -1)].set_index("metric")
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
    (["--benchmark", "cls-pairs", "--bench-items-per-exp", "7"], ["even", "pairs"]),
    (["--benchmark", "cls-pairs", "--bench-schedule", "blocked"], ["--bench-schedule", "continual"]),
    (["--benchmark", "cls-inference", "--bench-triads-per-exp", "1"], ["--bench-triads-per-exp", ">= 2"]),
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
