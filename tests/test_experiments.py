"""Experiments: each claim's statistic on hand-made rows whose answer is known, and the command end to end."""

from __future__ import annotations

import pandas as pd
import pytest

from hippo_bench.experiments import EXPERIMENTS
from hippo_bench.experiments.base import FAILS, HOLDS, INCONCLUSIVE


def rows(run: int, model: str, measures: dict[str, dict[str, float]], groups: dict[str, str] | None = None,
         train_exp: int = 3) -> list[dict]:
    """Tidy rows of one run: {metric: {entity: value}} after its last experience (and junk before it)."""
    out = []
    for metric, values in measures.items():
        for entity, value in values.items():
            for t, v in ((train_exp - 1, -value), (train_exp, value)):  # only the last experience counts
                out.append(dict(run_id=f"r{run}", seed=run, model=model, metric=metric, entity=entity,
                                group=(groups or {}).get(entity, ""), lesion="", eval_exp=-1, train_exp=t, value=v))
    return out


def hierarchy_run(run: int, model: str = "mlp4", flip: bool = False) -> list[dict]:
    active = {"h1": 40.0, "h2": 30.0, "h3": 20.0, "h4": 10.0}
    lr = {"input->h1": 0.01, "h1->h2": 0.02, "h2->h3": 0.03, "h3->h4": 0.04, "h4->out": 0.05}
    if flip:  # the opposite hierarchy
        active = {k: 50.0 - v for k, v in active.items()}
        lr = {k: 0.06 - v for k, v in lr.items()}
    rel = {k: v / 10 for k, v in lr.items()}
    groups = {"h4->out": "output"}
    return rows(run, model, {"percent_active": active, "learned_lr": lr, "relative_step": rel}, groups)


def test_a_hand_built_hierarchy_gives_rho_one_in_every_seed():
    df = pd.DataFrame([r for i in range(6) for r in hierarchy_run(i)])
    v = EXPERIMENTS["depth"]().analyse(df)
    assert v.verdict == HOLDS and v.n == 6
    assert list(v.table["rho_lr"]) == pytest.approx([1.0] * 6) and list(v.table["rho_active"]) == pytest.approx([-1.0] * 6)
    flipped = pd.DataFrame([r for i in range(6) for r in hierarchy_run(i, flip=True)])
    assert EXPERIMENTS["depth"]().analyse(flipped).verdict == FAILS
    few = pd.DataFrame([r for i in range(2) for r in hierarchy_run(i)])
    assert EXPERIMENTS["depth"]().analyse(few).verdict == INCONCLUSIVE  # two seeds cannot decide


def test_last_projection_claim_and_its_gradient_scale_control():
    df = pd.DataFrame([r for i in range(5) for r in hierarchy_run(i)])
    v = EXPERIMENTS["last-projection"]().analyse(df)
    assert v.verdict == HOLDS and set(v.table["top"]) == {"h4->out"}
    flipped = pd.DataFrame([r for i in range(5) for r in hierarchy_run(i, flip=True)])
    assert EXPERIMENTS["last-projection"]().analyse(flipped).verdict == FAILS


def test_dual_branches_paired_over_seeds():
    def run(i, large_active, small_active, large_lr, small_lr):
        return rows(i, "dual", {"percent_active": {"large": large_active, "small": small_active, "h3": 30.0},
                                "learned_lr": {"h3->large": large_lr, "h3->small": small_lr, "large->out": 0.1}})

    sparse_fast = pd.DataFrame([r for i in range(8) for r in run(i, 5.0 + i, 20.0 + i, 0.2 + 0.01 * i, 0.1)])
    v = EXPERIMENTS["dual"]().analyse(sparse_fast)
    assert v.verdict == HOLDS and "8/8" in v.statistic
    # Wilcoxon signed-rank, all 8 differences of the predicted sign: one-sided exact p = 1 / 2^8
    assert "p = 0.00391" in v.statistic
    mixed = pd.DataFrame([r for i in range(8) for r in run(i, 20.0 if i % 2 else 5.0, 10.0, 0.2, 0.1)])
    assert EXPERIMENTS["dual"]().analyse(mixed).verdict == FAILS


def test_experiment_all_writes_the_index_and_each_report(run_cli, tmp_path, monkeypatch):
    import hippo_bench.experiments as experiments

    # two claims sharing their quick runs keep this fast; the slow test below runs all of them
    monkeypatch.setattr(experiments, "EXPERIMENTS", {k: EXPERIMENTS[k] for k in ("hippocampus", "chorse-signatures")})
    code, out, err = run_cli("experiment", "all", "--quick", "--seeds", "1", "--results", tmp_path / "r",
                             "--out", tmp_path / "reports")
    assert code == 0, err
    index = (tmp_path / "reports" / "index.md").read_text()
    assert index.count(" | inconclusive | ") == 2  # one seed never decides a claim
    assert "[hippocampus](hippocampus/index.md) | inconclusive" in index
    md = (tmp_path / "reports" / "hippocampus" / "index.md").read_text()
    assert "![pathways](pathways.png)" in md and "Chorse reference ([chorse-reference.csv](chorse-reference.csv))" in md
    assert (tmp_path / "reports" / "chorse-signatures" / "signatures.svg").is_file()
    code, _, err = run_cli("experiment", "hippocampu")
    assert code == 2 and "did you mean hippocampus" in err


def test_index_keeps_a_statistic_with_a_pipe_in_one_cell():
    from hippo_bench.commands.experiment import index_markdown
    from hippo_bench.experiments.base import Verdict

    verdicts = [Verdict("lesions", "c", FAILS, "seed: item 0.02 | judged: item 0.26", 10, pd.DataFrame()),
                Verdict("dual", "c", HOLDS, "large sparser in 10/10", 10, pd.DataFrame())]
    text = index_markdown(verdicts, 10, False)
    assert "`hippo-bench experiment all --seeds 10`" in text
    body = [line for line in text.splitlines() if line.startswith("| [")]
    assert body[0] == "| [lesions](lesions/index.md) | does not hold | seed: item 0.02 \\| judged: item 0.26 | 10 |"
    # unescaped separators: exactly the five that bound the four columns, in every row
    assert [line.replace("\\|", "").count("|") for line in body] == [5, 5]


@pytest.mark.slow
def test_experiment_command_writes_every_report(run_cli, tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setenv("HIPPO_BENCH_DATA", str(tiny_mnist[0]))  # the lesion claim's quick run is on dual MNIST
    code, out, err = run_cli("experiment", "all", "--quick", "--seeds", "1", "--results", tmp_path / "r",
                             "--out", tmp_path / "reports")
    assert code == 0, err
    index = (tmp_path / "reports" / "index.md").read_text()
    for name in EXPERIMENTS:
        assert f"[{name}]({name}/index.md) | inconclusive" in index  # one seed never decides a claim
        assert (tmp_path / "reports" / name / "data.csv").read_text().startswith(("run_id", "\n", ""))
    # every claim's report embeds its figures, each saved as PNG and SVG
    for name, stems in {"robustness": ["accuracy-vs-alpha"], "depth": ["pattern-by-layer", "trajectories"],
                        "dual": ["pattern-by-layer", "pathways"], "hippocampus": ["pattern-by-layer", "pathways"],
                        "lesions": ["lesions"], "chorse-signatures": ["signatures"]}.items():
        md = (tmp_path / "reports" / name / "index.md").read_text()
        for stem in stems:
            assert f"![{stem}]({stem}.png)" in md, name
            assert (tmp_path / "reports" / name / f"{stem}.svg").is_file()


def test_runs_in_a_worker_pool_give_the_rows_of_sequential_runs(tmp_path):
    from hippo_bench.experiments import EXPERIMENTS
    from hippo_bench.experiments.base import run_configs

    configs = EXPERIMENTS["dual"]().configs([0, 1], quick=True)
    pooled = run_configs(configs, tmp_path / "pool", jobs=2)
    alone = run_configs(configs, tmp_path / "alone")
    assert len(list((tmp_path / "pool").glob("*.parquet"))) == 2
    key = ["run_id", "train_exp", "eval_exp", "metric", "entity", "lesion"]
    values = lambda df: df[df["metric"] == "accuracy"].sort_values(key)["value"].to_numpy()  # noqa: E731
    assert list(pooled["seed"].unique()) == [0, 1]
    assert (values(pooled) == values(alone)).all() and len(values(pooled)) > 0


def sized_run(run: int, width: int, depth: int, flip: bool = False) -> list[dict]:
    """A run of a depth-layer net of the given width whose hierarchy is perfect (or reversed)."""
    sign = -1 if flip else 1
    active = {f"h{i}": 50.0 - sign * 5.0 * i for i in range(1, depth + 1)}
    names = ["input"] + [f"h{i}" for i in range(1, depth + 1)] + ["out"]
    lr = {f"{a}->{b}": 0.5 + sign * 0.01 * i for i, (a, b) in enumerate(zip(names, names[1:]))}
    out = rows(run, "mlp2", {"percent_active": active, "learned_lr": lr})
    params = f'{{"hidden":{[width] * depth},"k_fraction":0.01}}'.replace(" ", "")
    return [{**r, "run_id": f"w{width}d{depth}s{run}", "model_params": params} for r in out]


def test_size_hierarchy_per_network_names_the_networks_where_it_breaks():
    nets = [(8, 2), (8, 3), (16, 2), (16, 3)]
    good = pd.DataFrame([r for w, d in nets for i in range(5) for r in sized_run(i, w, d)])
    v = EXPERIMENTS["size"]().analyse(good)
    assert v.verdict == HOLDS and v.n == 5
    assert "in 4 of 4 networks" in v.statistic
    assert list(v.table["lr_rises"]) == [5] * 4 and list(v.table["active_falls"]) == [5] * 4
    assert list(zip(v.table["width"], v.table["depth"])) == nets  # sorted by width, then depth
    assert v.tables["per-seed"]["rho_lr"].tolist() == pytest.approx([1.0] * 20)
    # the 16 x 3 net reversed in 2 of 5 seeds: 3/5 < 80%, so that network loses the hierarchy
    broken = pd.DataFrame([r for w, d in nets for i in range(5) for r in sized_run(i, w, d, flip=(w, d) == (16, 3)
                                                                                   and i < 2)])
    v = EXPERIMENTS["size"]().analyse(broken)
    assert v.verdict == FAILS and "in 3 of 4 networks" in v.statistic and v.statistic.endswith("not in 16x3")
    assert v.table.set_index(["width", "depth"]).loc[(16, 3), "lr_rises"] == 3
    few = pd.DataFrame([r for w, d in nets for i in range(4) for r in sized_run(i, w, d)])
    assert EXPERIMENTS["size"]().analyse(few).verdict == INCONCLUSIVE  # four seeds per network cannot decide


def test_size_quick_runs_every_network_and_draws_the_grid(run_cli, tmp_path):
    code, out, err = run_cli("experiment", "size", "--quick", "--seeds", "1", "--results", tmp_path / "r",
                             "--out", tmp_path / "reports")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "reports" / "size" / "data.csv")
    assert sorted(zip(table["width"], table["depth"])) == [(8, 2), (8, 3), (16, 2), (16, 3)]
    assert (tmp_path / "reports" / "size" / "hierarchy-by-size.svg").is_file()
    assert "![hierarchy-by-size](hierarchy-by-size.png)" in (tmp_path / "reports" / "size" / "index.md").read_text()
