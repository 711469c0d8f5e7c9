"""Every regularisation and replay baseline acts: on a small stream where naive forgets, it forgets less.

Each check runs naive and the baseline with the same seed on the same stream
and compares forgetting (Chaudhry et al. 2018) from the accuracy matrix. A
baseline that does not learn does not forget either, so each check also
asks that it learned (LA above a floor). The margins are below the gaps
measured with seed 0 (quoted at each stream); a run takes about a second.
Where a baseline cannot help on a stream the test says why (xfail, strict:
it fails if the baseline starts helping, so the reason gets revisited).
"""

from __future__ import annotations

import numpy as np
import pytest

from hippo_bench.cli import main
from hippo_bench.results import accuracy_matrix, load_results, run_summaries

SPLIT = ["--benchmark", "split-patterns", "--bench-n-classes", "6", "--bench-classes-per-exp", "2", "--bench-dim", "32",
         "--bench-train-per-class", "50", "--bench-test-per-class", "20"]
# Seed 0, forgetting / LA. split-patterns, 1 epoch: naive 0.538 / 0.908, ewc 0.200 / 0.533, lwf 0.500 / 0.892.
# 4 epochs: naive 0.988 / 0.983, replay -0.138 / 0.742, der 0.100 / 0.967, gem 0.000 / 0.958, agem 0.125 / 0.975,
# joint -0.025 / 0.958, ewc 0.988, si 0.988, lwf 0.988 (regularisers do not help class-incremental learning).
# 10 epochs: naive 1.000 / 1.000, er-ace -0.012 / 0.942.
STREAMS = {
    "split-1": [*SPLIT, "--epochs", "1"],
    "split-4": [*SPLIT, "--epochs", "4"],
    "split-10": [*SPLIT, "--epochs", "10"],
    # cls-pairs, 3 continual experiences of 4 pairs, 300 trials each: naive 0.688 / 0.708, si 0.500 / 0.708,
    # ewc 0.562 / 0.750, replay -0.188 / 0.458, gem 0.000 / 0.667, agem 0.188 / 0.667, joint -0.125 / 0.625.
    "cls-pairs": ["--benchmark", "cls-pairs", "--bench-n-experiences", "3", "--bench-items-per-exp", "8",
                  "--bench-trials-per-exp", "300", "--bench-meta-train-episodes", "0"],
}
_RUNS: dict[tuple, dict] = {}


@pytest.fixture(scope="module")
def measure(tmp_path_factory):
    """``measure(strategy, stream, *flags)`` -> dict(forgetting, la, R) of seed 0 (cached per module)."""

    def run(strategy: str, stream: str, *flags: str) -> dict:
        key = (strategy, stream, flags)
        if key not in _RUNS:
            out = tmp_path_factory.mktemp(strategy)
            assert main(["run", "--strategy", strategy, *STREAMS[stream], *flags, "--seeds", "0",
                         "--out", str(out)]) == 0
            df = load_results(out)
            summary = run_summaries(df).iloc[0]
            _RUNS[key] = dict(forgetting=float(summary["forgetting"]), la=float(summary["la"]),
                              R=accuracy_matrix(df)[0])
        return _RUNS[key]

    return run


# (strategy, stream, required drop in forgetting below naive's, LA floor)
ACTS = [
    ("ewc", "split-1", 0.2, 0.4),
    ("replay", "split-4", 0.5, 0.6),
    ("der", "split-4", 0.5, 0.6),
    ("gem", "split-4", 0.5, 0.6),
    ("agem", "split-4", 0.5, 0.6),
    ("joint", "split-4", 0.5, 0.6),
    ("er-ace", "split-10", 0.5, 0.6),
    ("si", "cls-pairs", 0.1, 0.5),
    ("ewc", "cls-pairs", 0.08, 0.5),
    ("replay", "cls-pairs", 0.4, 0.35),  # LA 0.458: half of each batch is replay (chance is 1/24)
    ("gem", "cls-pairs", 0.4, 0.5),
    ("agem", "cls-pairs", 0.3, 0.5),
    ("joint", "cls-pairs", 0.4, 0.5),
]


@pytest.mark.parametrize("strategy, stream, margin, la_floor", ACTS, ids=[f"{s}-{t}" for s, t, *_ in ACTS])
def test_baseline_forgets_less_than_naive_and_still_learns(measure, strategy, stream, margin, la_floor):
    naive, other = measure("naive", stream), measure(strategy, stream)
    assert naive["forgetting"] > 0.5  # the stream makes naive forget
    assert other["forgetting"] < naive["forgetting"] - margin
    assert other["la"] >= la_floor


def test_si_differs_from_naive_in_every_row_after_the_first(measure):
    """The symptom of Avalanche's SI on CPU (all importances 0) was an accuracy matrix equal to naive's."""
    naive, si = measure("naive", "cls-pairs")["R"], measure("si", "cls-pairs")["R"]
    assert np.array_equal(naive[0], si[0])  # no penalty during the first experience: identical training
    assert not np.array_equal(naive[1:], si[1:])


@pytest.mark.xfail(strict=True, reason=(
    "LwF distils the previous model's logits, but on a single-head class-incremental stream the new classes' "
    "logits outgrow the old ones regardless (van de Ven & Tolias 2019, 'Three scenarios for continual learning'); "
    "on the autoassociative CLS streams it is not supported (it needs classification logits)"))
def test_lwf_forgets_less_than_naive_on_a_class_incremental_stream(measure):
    naive, lwf = measure("naive", "split-1"), measure("lwf", "split-1")
    assert not np.array_equal(naive["R"], lwf["R"])  # it acts: the distillation term changes training
    assert lwf["forgetting"] < naive["forgetting"] - 0.2


@pytest.mark.xfail(strict=True, reason=(
    "ewc acts on class-incremental split-patterns with one epoch (see above) but not with several: the "
    "regularisers cannot keep a single head from favouring the newest classes (van de Ven & Tolias 2019)"))
@pytest.mark.parametrize("strategy", ["ewc", "si"])
def test_regularisers_forget_less_than_naive_on_class_incremental_with_several_epochs(measure, strategy):
    naive, other = measure("naive", "split-4"), measure(strategy, "split-4")
    assert other["forgetting"] < naive["forgetting"] - 0.2


def test_joint_cumulative_fills_the_accuracy_matrix_and_offline_only_its_last_row(measure):
    from hippo_bench.strategies import strategies

    joint = strategies.get("joint")
    assert not joint(joint.Config()).trains_jointly  # cumulative, the default
    assert joint(joint.Config(schedule="offline")).trains_jointly
    cumulative = measure("joint", "split-1")["R"]
    offline = measure("joint", "split-1", "--schedule", "offline")["R"]
    assert not np.isnan(cumulative).any()  # every row: forgetting and BWT are defined
    assert np.isnan(offline[:-1]).all() and not np.isnan(offline[-1]).any()
