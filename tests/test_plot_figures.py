"""Figures from hand-made tidy results: the numbers they draw, the network they draw, deterministic files.

``write_results`` (also used by the report tests) writes a small results
folder by hand: meta-hippo on mlp2 with two seeds and its learned pattern,
naive beside it, meta-hippo on chorse with CLS item correlations, and a
failed run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hippo_bench.params import as_dict
from hippo_bench.results import atomic_write_parquet, make_table, record_failure, result_path, run_identity
from hippo_bench.strategies import strategies

# meta-hippo on mlp2, seeds 0 and 1: R after each of 3 experiences.
R_SEEDS = {0: [[0.9, 0.1, 0.0], [0.6, 0.8, 0.1], [0.5, 0.6, 0.9]],
           1: [[0.7, 0.1, 0.2], [0.4, 0.9, 0.1], [0.3, 0.4, 0.7]]}
BEFORE = [0.1, 0.1, 0.1]
# % active of h1 / h2 (seed 0; seed 1 is 2 points higher) at train_exp -1, 0, 1, 2.
ACTIVE = {"h1": [50.0, 30.0, 20.0, 10.0], "h2": [50.0, 20.0, 8.0, 2.0]}
M = {"h1": [0.01, 0.2, 0.4, 0.6], "h2": [0.01, 0.4, 0.7, 1.0]}
LR = {"input->h1": [0.1, 0.05, 0.02, 0.0], "h1->h2": [0.1, 0.12, 0.15, 0.2], "h2->out": [0.1, 0.2, 0.3, 0.4]}
LR_GROUP = {"input->h1": "h1", "h1->h2": "h2", "h2->out": "output"}
MLP2 = {"hidden": [8, 8], "m_init": 0.01, "k_fraction": 0.01, "k_floor": 2}
CHORSE = {"neocortex": [], "ec": 6, "scale": 0.05, "m_init": 0.01, "k_fraction": 0.01, "k_floor": 2}
ITEMS = 4  # CLS run: the correlation of items a < b is (a + b) / 10 in ca1 and -(a + b) / 10 in dg


def _params(strategy: str, **changes) -> dict:
    return {**as_dict(strategies.get(strategy).Config()), **changes}


def _row(train_exp, eval_exp, metric, value, entity="", group="", item_a=-1, item_b=-1):
    return dict(train_exp=train_exp, eval_exp=eval_exp, metric=metric, value=value, entity=entity, group=group,
                lesion="", item_a=item_a, item_b=item_b)


def _accuracy_rows(R, before=None):
    R = np.asarray(R)
    rows = [_row(i, j, "accuracy", R[i, j]) for i in range(len(R)) for j in range(len(R))]
    if before is not None:
        rows += [_row(-1, j, "accuracy", v) for j, v in enumerate(before)]
    return rows


def _write(folder: Path, benchmark: str, strategy: str, model: str, model_params: dict, seed: int, rows,
           params=None, version: str | None = None) -> str:
    identity = run_identity(benchmark=benchmark, benchmark_params={"n": 3}, benchmark_seed=0, strategy=strategy,
                            strategy_params=params or _params(strategy), model=model, model_params=model_params,
                            seed=seed, epochs=1, train_mb_size=5)
    table = make_table(identity, rows, prov={"created_at": "2024-01-01T00:00:00+00:00", "host": "test",
                                              "code_fingerprint": "abc123"})
    if version is not None:
        table["hippo_bench_version"] = version
    atomic_write_parquet(table, result_path(folder, table["run_id"].iloc[0]))
    return str(table["config_id"].iloc[0])


def write_results(folder: Path) -> dict[str, str]:
    """A hand-made results folder; returns the config ids by name ("hippo", "naive", "cls")."""
    ids = {}
    for seed, R in R_SEEDS.items():
        rows = _accuracy_rows(R, BEFORE)
        for step in range(4):
            for layer in ("h1", "h2"):
                rows.append(_row(step - 1, -1, "percent_active", ACTIVE[layer][step] + 2.0 * seed, layer, layer))
                rows.append(_row(step - 1, -1, "inhibition_m", M[layer][step], layer, layer))
                rows.append(_row(step - 1, -1, "units", 8.0, layer, layer))
            for proj, values in LR.items():
                rows.append(_row(step - 1, -1, "learned_lr", values[step], proj, LR_GROUP[proj]))
        ids["hippo"] = _write(folder, "toy", "meta-hippo", "mlp2", MLP2, seed, rows)
    ids["naive"] = _write(folder, "toy", "naive", "mlp", {"hidden": [8]}, 0,
                          _accuracy_rows([[0.9, 0.0, 0.0], [0.1, 0.9, 0.0], [0.0, 0.1, 0.9]]))
    identity = run_identity(benchmark="toy", benchmark_params={"n": 3}, benchmark_seed=0, strategy="naive",
                            strategy_params=_params("naive"), model="mlp", model_params={"hidden": [8]}, seed=1,
                            epochs=1, train_mb_size=5)
    record_failure(folder, identity, "RuntimeError: out of memory")
    rows = _accuracy_rows([[0.5, 0.2], [0.4, 0.8]])
    for layer, sign in (("dg", -1.0), ("ca1", 1.0)):
        for a in range(ITEMS):
            for b in range(a + 1, ITEMS):
                rows.append(_row(1, -1, "item_correlation", sign * (a + b) / 10, layer, "TSP", a, b))
        rows.append(_row(1, -1, "percent_active", 5.0 if layer == "dg" else 25.0, layer, "TSP"))
    for proj, group in (("input->ecin", "EC"), ("ecin->dg", "TSP"), ("ecin->ca3", "TSP"), ("dg->ca3", "TSP"),
                        ("ca3->ca1", "TSP"), ("ecin->ca1", "MSP"), ("ca1->ecout", "MSP"), ("ecout->out", "output")):
        rows.append(_row(1, -1, "learned_lr", 0.2 if group == "TSP" else 0.02, proj, group))
    ids["cls"] = _write(folder, "toy-cls", "meta-hippo", "chorse", CHORSE, 0, rows)
    return ids


@pytest.fixture
def results(tmp_path) -> tuple[Path, dict[str, str], pd.DataFrame]:
    from hippo_bench.results import load_results

    folder = tmp_path / "results"
    ids = write_results(folder)
    return folder, ids, load_results(folder)


def test_accuracy_is_averaged_over_seeds(results):
    from hippo_bench.plotting import select
    from hippo_bench.plotting.data import mean_accuracy

    _, ids, df = results
    R, S, before, _ = mean_accuracy(select(df, ids["hippo"]))
    assert R[2].tolist() == pytest.approx([0.4, 0.5, 0.8])  # (0.5 + 0.3) / 2, (0.6 + 0.4) / 2, (0.9 + 0.7) / 2
    assert S[2, 0] == pytest.approx(0.1)  # population std of 0.5 and 0.3
    assert before.tolist() == pytest.approx(BEFORE)


def test_pattern_series_and_final_table(results):
    from hippo_bench.analysis.learned_pattern import pattern_table, series
    from hippo_bench.plotting import select

    _, ids, df = results
    sel = select(df, ids["hippo"])
    active = series(sel.rows, "percent_active")
    assert list(dict.fromkeys(active["entity"])) == ["h1", "h2"]
    h2 = active[active["entity"] == "h2"].set_index("train_exp")
    assert h2.loc[2, "mean"] == pytest.approx(3.0) and h2.loc[2, "std"] == pytest.approx(1.0)  # 2 and 4
    assert list(h2.index) == [-1, 0, 1, 2] and set(h2["n"]) == {2}
    table = pattern_table(sel.rows).set_index("name")
    assert table.loc["h1", "percent_active"] == pytest.approx(11.0) and table.loc["h2", "m"] == pytest.approx(1.0)
    assert table.loc["input->h1", "lr"] == 0.0 and table.loc["h2->out", "group"] == "output"
    assert list(table["kind"]) == ["layer", "layer", "projection", "projection", "projection"]


def test_item_correlations_are_symmetric_with_unit_diagonal(results):
    from hippo_bench.plotting import select
    from hippo_bench.plotting.data import item_correlations

    _, ids, df = results
    mats = item_correlations(select(df, ids["cls"]))
    assert list(mats) == ["dg", "ca1"]
    ca1 = mats["ca1"]
    assert ca1.shape == (ITEMS, ITEMS) and np.allclose(np.diag(ca1), 1.0)
    assert ca1[1, 3] == ca1[3, 1] == pytest.approx(0.4) and mats["dg"][0, 2] == pytest.approx(-0.2)


def test_network_structure_and_layout_from_model_params(results):
    from hippo_bench.plotting import select
    from hippo_bench.plotting.network import COLUMN, LANES, heads_of, layout, net_structure

    _, ids, df = results
    sel = select(df, ids["cls"])
    assert heads_of(sel) == ["out"]
    nodes, edges = net_structure("chorse", CHORSE, heads_of(sel))
    assert [n.name for n in nodes] == ["input", "ecin", "dg", "ca3", "ca1", "ecout", "out"]
    assert {n.name: n.units for n in nodes}["dg"] == 20  # 400 x scale 0.05
    assert sorted(e.name for e in edges) == sorted(["input->ecin", "ecin->dg", "ecin->ca3", "dg->ca3",
                                                    "ca3->ca1", "ecin->ca1", "ca1->ecout", "ecout->out"])
    layout(nodes, edges)
    pos = {n.name: (n.x, n.y) for n in nodes}
    assert pos["ca1"] == (4 * COLUMN, 0.0)  # input 0, ecin 1, dg 2, ca3 3, ca1 4 (longest path)
    assert pos["dg"][1] == pos["ca3"][1] == LANES["TSP"] and pos["ecin"][1] == 0.0
    dual_heads = ["category", "item"]
    nodes, _ = net_structure("dual", {"shared": [4], "large": 10, "small": 3}, dual_heads)
    assert [n.name for n in nodes if n.output] == dual_heads


def test_figures_apply_by_what_was_recorded_and_files_are_deterministic(results, tmp_path):
    from hippo_bench.plotting import figure_kinds, plot, select

    _, ids, df = results
    a = plot(df, ids["hippo"], tmp_path / "a")
    b = plot(df, ids["hippo"], tmp_path / "b")
    assert [k.stem for k, _ in a] == ["network", "accuracy-matrix", "forgetting", "pattern"]
    for (_, pa), (_, pb) in zip(a, b):
        for x, y in zip(pa, pb):
            assert x.read_bytes() == y.read_bytes(), x.name
    svg = (tmp_path / "a" / "network.svg").read_text()
    assert "<dc:date>" not in svg and "input-&gt;h1" not in svg  # no date; text is drawn as paths
    applies = {name: [k.stem for k in figure_kinds() if k.applies(select(df, ids[name]))] for name in ("naive", "cls")}
    assert applies == {"naive": ["accuracy-matrix", "forgetting"],
                       "cls": ["network", "accuracy-matrix", "forgetting", "pattern", "correlations"]}


def test_plot_command_writes_png_and_svg(results, tmp_path, run_cli):
    folder, ids, _ = results
    code, out, err = run_cli("plot", ids["hippo"], "--results", folder, "--out", tmp_path / "figs",
                             "--only", "network", "pattern")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["network.png", "network.svg",
                                                                     "pattern.png", "pattern.svg"]
    assert "meta-hippo on toy (mlp2), configuration" in out
    run_id = sorted(p.stem for p in folder.glob("*.parquet"))[0]
    code, out, err = run_cli("plot", run_id, "--results", folder, "--out", tmp_path / "one", "--only", "forgetting")
    assert code == 0 and "seed" in out and sorted(p.name for p in (tmp_path / "one").iterdir()) == [
        "forgetting.png", "forgetting.svg"]


@pytest.mark.parametrize("case", ["unknown id", "no results", "no folder"])
def test_plot_bad_input_is_one_line_exit_2(case, results, tmp_path, run_cli):
    folder, ids, _ = results
    if case == "unknown id":
        args, expect = (ids["hippo"][:-1] + "x", "--results", folder), "no completed run or configuration"
    elif case == "no results":
        (tmp_path / "empty").mkdir()
        args, expect = ("abc", "--results", tmp_path / "empty"), "no results under"
    else:
        args, expect = ("abc", "--results", tmp_path / "missing"), "--results: folder not found"
    code, out, err = run_cli("plot", *args, "--out", tmp_path / "figs")
    assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "figs").exists()


def test_joint_training_gets_no_forgetting_curves(tmp_path):
    """A strategy that trains once on the whole stream is evaluated only at the end: no curves to draw."""
    from hippo_bench.plotting import figure_kinds, select
    from hippo_bench.plotting.data import mean_accuracy
    from hippo_bench.results import load_results

    rows = [_row(2, j, "accuracy", v) for j, v in enumerate([0.7, 0.8, 0.9])]
    config = _write(tmp_path, "toy", "joint", "mlp", {"hidden": [8]}, 0, rows)
    sel = select(load_results(tmp_path), config)
    R = mean_accuracy(sel)[0]
    assert np.isnan(R[:2]).all() and R[2].tolist() == pytest.approx([0.7, 0.8, 0.9])
    assert [k.stem for k in figure_kinds() if k.applies(sel)] == ["accuracy-matrix"]
