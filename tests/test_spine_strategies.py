"""Every registered strategy trains two experiences of the embedded benchmark through the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import read_runs
from hippo_bench.strategies import strategies

ALL = strategies.names()


def test_at_least_the_eleven_baselines_are_registered():
    baselines = {"naive", "joint", "replay", "ewc", "si", "lwf", "gem", "agem", "er-ace", "der", "mer-avalanche"}
    assert baselines <= set(ALL)
    assert not [k for k in strategies.broken if k.startswith("hippo_bench.")], strategies.broken


@pytest.mark.parametrize("name", ALL)
def test_trains_two_experiences(name, run_cli, tiny_bench, tmp_path):
    code, out, err = run_cli("run", "--strategy", name, *tiny_bench, "--out", tmp_path)
    runs = read_runs(tmp_path)
    assert not runs.empty, err
    status = runs["status"].iloc[0]
    if status == "skipped":
        pytest.skip(f"{name}: {runs['note'].iloc[0]}")
    assert code == 0 and status == "ok", err + out
    acc = runs[(runs["metric"] == "accuracy") & (runs["lesion"] == "")]
    after = acc[acc["train_exp"] == 1]
    assert sorted(after["eval_exp"]) == [0, 1]  # the whole test stream after the last experience
    assert sorted(acc.loc[acc["train_exp"] == -1, "eval_exp"]) == [0, 1]  # and before training
    values = acc["value"].to_numpy()
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    if not strategies.get(name)().trains_jointly:  # an instance property (joint: by its schedule)
        assert sorted(acc.loc[acc["train_exp"] == 0, "eval_exp"]) == [0, 1]
    assert runs.loc[runs["metric"] == "train_samples", "value"].iloc[0] == 40  # 2 x 2 classes x 10
