"""The learned pattern, measured once: the runner's recorded rows, the API's table and the tables from rows agree."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from rich.console import Console

import hippo_bench
from hippo_bench import MetaHippo, make_model
from hippo_bench.analysis.learned_pattern import COLUMNS, collated_tests, pattern_table, probe_batch
from hippo_bench.api import PATTERN_COLUMNS
from hippo_bench.reporting.run_report import pathway_table
from hippo_bench.reporting.site import _pattern_html
from hippo_bench.runner import _measure_rows
from hippo_bench.tasks.base import tensor_stream_benchmark

# h1 (k = 2 of 4 units) sees z proportional to (4, 3, 2, 1) through identity weights: with m = 0.5 the threshold
# 1.5 leaves three units above zero (75 %). h2 then sees (2.5, 1.5, 0.5, 0) and m = 0.9: 1.35 leaves two (50 %).
# The second sample is the first reversed, so the shares are the same.
X = torch.tensor([[4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
Y = torch.tensor([0, 1])


def recorded(template, train_exp: int) -> pd.DataFrame:
    """The rows the runner records after an evaluation: the registered strategy's measures, as the runner stores them."""
    by = hippo_bench.api.built_by(template)
    rows = pd.DataFrame(_measure_rows(by.strategy_impl.measures(template, by.ctx), train_exp))
    return rows.assign(run_id="r0", status="ok")


def rendered(renderable) -> str:
    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def test_recorded_api_and_table_patterns_agree_on_a_hand_built_net():
    bench = tensor_stream_benchmark([(X, Y), (X.flip(0), Y)], [(X, Y), (X, Y)])
    model = make_model("mlp2", (4,), 3, hidden=[4, 4], k_floor=2)
    with torch.no_grad():
        model.weights["input__h1"].copy_(torch.eye(4))
        model.weights["h1__h2"].copy_(torch.eye(4))
    template = MetaHippo(model, condition="both", alpha_init=0.25, alpha_lr=0.01, evaluator=None, benchmark=bench)
    with torch.no_grad():
        model.inhibition.copy_(torch.tensor([0.5, 0.9]))
    probe = probe_batch(collated_tests(bench, torch.device("cpu")), 256)
    assert torch.equal(probe, torch.cat([X, X]))  # the same share of every test experience

    before = recorded(template, -1)
    active = dict(zip(before.loc[before["metric"] == "percent_active", "entity"],
                      before.loc[before["metric"] == "percent_active", "value"]))
    assert active == {"h1": pytest.approx(75.0), "h2": pytest.approx(50.0)}
    table = pattern_table(before)
    assert list(table.columns) == COLUMNS
    assert table.set_index("name").loc["h1", "percent_active"] == pytest.approx(75.0)
    pd.testing.assert_frame_equal(template.learned_pattern(X), table[PATTERN_COLUMNS])
    assert "75.0" in rendered(pathway_table([before])) and "50.0" in rendered(pathway_table([before]))
    assert '<td class="num">75.0</td>' in _pattern_html(table)

    template.train(bench.train_stream[0])
    after = recorded(template, 0)
    rows = pd.concat([before, after], ignore_index=True)
    table = pattern_table(rows)  # the last step of each metric
    pd.testing.assert_frame_equal(template.learned_pattern(probe), table[PATTERN_COLUMNS])
    final = {(r.metric, r.entity): r.value for r in after.itertuples(index=False)}
    by_name = table.set_index("name")
    for name in ("input->h1", "h1->h2", "h2->out"):
        assert by_name.loc[name, "lr"] == final[("learned_lr", name)] != 0.25  # the rates moved
        assert by_name.loc[name, "relative_step"] == final[("relative_step", name)] > 0
    assert by_name.loc["h2", "m"] == final[("inhibition_m", "h2")] != pytest.approx(0.9)
    text = rendered(pathway_table([rows]))
    assert f"{final[('percent_active', 'h1')]:.1f}" in text and f"{final[('learned_lr', 'h2->out')]:.4g}" in text
