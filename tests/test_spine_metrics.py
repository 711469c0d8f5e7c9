"""Metrics on hand-made accuracy matrices (values computed by hand in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hippo_bench import metrics
from hippo_bench.results import make_table, run_identity, run_summaries

# R[i, j]: accuracy on experience j after training experience i (T = 3).
R3 = np.array([[0.90, 0.10, 0.20],
               [0.95, 0.80, 0.30],
               [0.50, 0.70, 0.70]])
B3 = np.array([0.10, 0.20, 0.25])  # before any training


def test_three_experiences_by_hand():
    assert metrics.acc(R3) == pytest.approx((0.5 + 0.7 + 0.7) / 3)  # 0.6333
    assert metrics.learning_accuracy(R3) == pytest.approx((0.9 + 0.8 + 0.7) / 3)  # 0.8
    # BWT: ((0.5 - 0.9) + (0.7 - 0.8)) / 2 = -0.25
    assert metrics.bwt(R3) == pytest.approx(-0.25)
    # BTI averages the same sum over all T = 3 experiences: -0.5 / 3
    assert metrics.bti(R3) == pytest.approx(-0.5 / 3)
    # Forgetting uses the best earlier accuracy (0.95 after experience 1, not the 0.9 on the
    # diagonal): ((0.95 - 0.5) + (0.8 - 0.7)) / 2 = 0.275, so it differs from -BWT.
    assert metrics.forgetting(R3) == pytest.approx(0.275)
    # FWT: ((R[0,1] - b1) + (R[1,2] - b2)) / 2 = ((0.1 - 0.2) + (0.3 - 0.25)) / 2 = -0.025
    assert metrics.fwt(R3, B3) == pytest.approx(-0.025)


def test_positive_backward_transfer_and_negative_forgetting():
    R = np.array([[0.5, 0.0],
                  [0.7, 0.9]])
    assert metrics.bwt(R) == pytest.approx(0.2)  # 0.7 - 0.5
    assert metrics.bti(R) == pytest.approx(0.1)  # 0.2 / 2: BWT and BTI differ
    assert metrics.forgetting(R) == pytest.approx(-0.2)  # max(0.5) - 0.7
    assert metrics.acc(R) == pytest.approx(0.8)


def test_single_experience_has_no_transfer():
    R = np.array([[0.6]])
    assert metrics.acc(R) == pytest.approx(0.6)
    for fn in (metrics.bwt, metrics.bti, metrics.forgetting):
        assert math.isnan(fn(R))
    assert math.isnan(metrics.fwt(R, np.array([0.1])))


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="square"):
        metrics.acc(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="baseline"):
        metrics.fwt(R3, np.zeros(2))


def test_directions():
    higher = {k: m.higher_is_better for k, m in metrics.METRICS.items()}
    assert higher == {"acc": True, "la": True, "bwt": True, "bti": True, "forgetting": False, "fwt": True}


def test_summaries_from_tidy_rows_match_the_matrix():
    """The same matrix written as tidy rows (as the runner does) gives the same numbers."""
    rows = [dict(train_exp=-1, eval_exp=j, metric="accuracy", value=B3[j], entity="", group="", lesion="")
            for j in range(3)]
    rows += [dict(train_exp=i, eval_exp=j, metric="accuracy", value=R3[i, j], entity="", group="", lesion="")
             for i in range(3) for j in range(3)]
    rows.append(dict(train_exp=2, eval_exp=0, metric="accuracy", value=0.0, entity="", group="",
                     lesion="dg"))  # a lesioned evaluation must not enter the intact matrix
    identity = run_identity(benchmark="b", benchmark_params={}, benchmark_seed=0, strategy="s",
                            strategy_params={}, model="m", model_params={}, seed=0, epochs=1, train_mb_size=1)
    summary = run_summaries(make_table(identity, rows, prov={})).iloc[0]
    assert summary["acc"] == pytest.approx(0.6333333)
    assert summary["forgetting"] == pytest.approx(0.275)
    assert summary["bti"] == pytest.approx(-0.5 / 3)
    assert summary["fwt"] == pytest.approx(-0.025)
