"""Seeds vectorised in one process: the batched meta-step, the turn-taking, and rows identical to lone runs."""

from __future__ import annotations

import dataclasses
import os
import random
import threading
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from hippo_bench.models import hippo_net_functional as fn
from hippo_bench.models.hippo_net import HippoNet, LowRank, chorse_spec, dual_spec, mlp_spec
from hippo_bench.models.hippo_net_stack import PER_SEED, NetStack, cross_entropy_and_grad
from hippo_bench.results import PROVENANCE_COLUMNS
from hippo_bench.strategies.meta.fast_weights import LowRankPath
from hippo_bench.strategies.meta.step_sizes import ReluAlpha
from hippo_bench.launch import run_specs
from hippo_bench.strategies.vectorized import Lockstep, execute_seeds, unsupported_reason
from hippo_bench.verify import is_machine_metric

SPECS = {
    "mlp2": lambda: mlp_spec([40, 30], {"out": 6}),
    "dual": lambda: dual_spec([40], 30, 12, {"category": 4, "item": 3}),
    "chorse": lambda: chorse_spec([20], 16, 30, 20, 24, {"out": 6}),
}


def _lone_meta_step(net: HippoNet, step: float, x, y, mx, my) -> dict:
    """One seed's inner loop and meta-gradient by the single-seed low-rank path."""
    params = {n: p for n, p in net.named_parameters()}
    steps = ReluAlpha(params, step, per_parameter=False, learned=True)
    path = LowRankPath(net, nn.CrossEntropyLoss(), steps, lambda: {"inhibition": net.inhibition})
    path.reset()
    path.inner_loop(x, y, None)
    loss = path.meta_backward(mx, my, None)
    return dict(loss=loss, H={k: path.H[k][:path.n].clone() for k in path.keys},
                d_w={k: p.grad.clone() for k, p in net.weights.items()}, d_m=net.inhibition.grad.clone(),
                d_c={k: steps.alpha[f"weights__{k}"].grad.clone() for k in path.keys})


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("n_meta", [5, 7, 10])  # meta-batch sizes that put the seeds' slices at odd offsets
def test_batched_meta_step_is_bit_for_bit_the_lone_one(name, n_meta):
    torch.manual_seed(0)
    G, B = 3, 5
    nets = [HippoNet(SPECS[name](), 50, k_fraction=0.1, k_floor=1) for _ in range(G)]
    n_out = sum(nets[0].units[o] for o in nets[0].spec.outputs)
    steps = [0.1, 0.05, 0.2]
    for g, net in enumerate(nets):
        net.inhibition.fill_(0.1 * (g + 1)).requires_grad_(True)
    x = torch.rand(G, B, 50) * (torch.rand(G, B, 50) > 0.7)  # sparse, as images are
    y = torch.randint(0, n_out, (G, B))
    mx, my = torch.rand(G, n_meta, 50), torch.randint(0, n_out, (G, n_meta))
    lone = [_lone_meta_step(net, steps[g], x[g], y[g], mx[g], my[g]) for g, net in enumerate(nets)]

    keys = list(nets[0].weights)
    weights = {k: torch.stack([net.weights[k].detach() for net in nets]) for k in keys}
    m = torch.stack([net.inhibition.detach() for net in nets])
    out = NetStack(nets[0]).meta_step(weights, m, {k: torch.tensor(steps) for k in keys}, x, y, mx, my)
    for g in range(G):
        assert torch.equal(out.loss[g], lone[g]["loss"])
        assert torch.equal(out.d_m[g], lone[g]["d_m"])
        for k in keys:
            assert torch.equal(out.H[k][g], lone[g]["H"][k]), k
            assert torch.equal(out.d_w[k][g], lone[g]["d_w"][k]), k
            assert torch.equal(out.d_c[k][g], lone[g]["d_c"][k]), k
    # and the seeds are not one another's copies: a batched step is not a broadcast of one seed
    assert not torch.equal(out.d_w[keys[0]][0], out.d_w[keys[0]][1])


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("states", [0, 4])  # without low-rank terms, and with 4 weight states
def test_the_passes_with_a_seed_dimension_are_the_lone_passes_seed_by_seed(name, states):
    """hippo_net_functional with PER_SEED on (G, ...) tensors gives each seed's LONE results, bit for bit."""
    torch.manual_seed(1)
    G, N, B = 3, 7, 4
    net = HippoNet(SPECS[name](), 50, k_fraction=0.1, k_floor=1)
    sizes = {"input": 50, **net.units}
    keys = [p.key for p in net.spec.projections]
    weights = {k: torch.randn(G, *net.weights[k].shape) / 5 for k in keys}
    m = 0.1 * torch.rand(G, len(net.hidden_names))
    x = torch.rand(G, N, 50) * (torch.rand(G, N, 50) > 0.7)
    y = torch.randint(0, sum(net.units[o] for o in net.spec.outputs), (G, N))
    low_rank = None
    if states:
        low_rank = {p.key: LowRank(torch.nn.functional.normalize(torch.rand(G, B, sizes[p.src]), dim=-1),
                                   torch.randn(G, B, sizes[p.dst]) / 10,
                                   torch.rand(G, 1, 1) * torch.tril(torch.ones(states, B)))
                    for p in net.spec.projections}
    with torch.no_grad():
        tr = fn.forward(net, x, weights, m, low_rank, products=PER_SEED, trace=True)
        _, g_out = cross_entropy_and_grad(tr.out, y)
        errors, d_w, d_c, d_m = fn.backward(net, tr, g_out, weights, low_rank, products=PER_SEED, param_grads=True)
    for g in range(G):  # each seed alone, its operands freshly allocated as the lone path's are
        lone_lr = {k: LowRank(lr.H[g].clone(), lr.D[g].clone(), lr.C[g].clone())
                   for k, lr in low_rank.items()} if states else None
        lone_w = {k: w[g].clone() for k, w in weights.items()}
        with torch.no_grad():
            lone = fn.forward(net, x[g].clone(), lone_w, m[g].clone(), lone_lr, trace=True)
            lone_back = fn.backward(net, lone, g_out[g].clone(), lone_w, lone_lr, param_grads=True)
        assert torch.equal(tr.out[g], lone.out)
        for mine, theirs in zip((errors, d_w, d_c), lone_back[:3]):
            assert mine.keys() == theirs.keys() and all(torch.equal(mine[k][g], theirs[k]) for k in mine)
        assert torch.equal(d_m[g], lone_back[3])
    assert len(d_c) == (len(keys) if states else 0)


def test_lockstep_runs_parties_in_turn_batches_every_call_and_keeps_each_rng():
    order: list[tuple] = []
    batches: list[dict] = []

    def batched(requests):
        batches.append(dict(requests))
        return {i: r * 10 for i, r in requests.items()}

    n = 3
    lock = Lockstep(n, batched)
    draws: dict[int, list[float]] = {}

    def party(i: int, rounds: int) -> None:
        lock.begin(i)
        try:
            torch.manual_seed(100 + i)
            random.seed(100 + i)
            mine = []
            for r in range(rounds):
                order.append((i, r))
                mine.append(torch.rand(1).item() + random.random())
                assert lock.call(i, i + r) == 10 * (i + r)
            draws[i] = mine
        finally:
            lock.finish(i)

    rounds = {0: 3, 1: 1, 2: 3}  # party 1 finishes early: the others go on without it
    threads = [threading.Thread(target=party, args=(i, rounds[i])) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert order == [(0, 0), (1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (2, 2)]  # one at a time, in index order
    assert [sorted(b) for b in batches] == [[0, 1, 2], [0, 2], [0, 2]]
    for i in range(n):  # each party drew exactly what it draws alone
        torch.manual_seed(100 + i)
        random.seed(100 + i)
        assert draws[i] == [torch.rand(1).item() + random.random() for _ in range(rounds[i])]


def _specs(seeds, benchmark_seed_follows=False, **strategy):
    from hippo_bench.resolve import plan_from

    layer = {"strategy": "meta-hippo", "model": "mlp2", "benchmark": "split-patterns", "seeds": list(seeds),
             "benchmark_params": {"n_classes": 8, "classes_per_exp": 2, "dim": 24, "train_per_class": 30,
                                  "test_per_class": 10},
             "model_params": {"hidden": [40, 30]}, "alpha_init": 0.1, **strategy}
    plan = plan_from([("test", layer)])
    member = plan.members[0]
    out = []
    for s in seeds:
        p = dataclasses.replace(plan, benchmark_seed=s) if benchmark_seed_follows else plan
        instance = p.build_instance(member)
        out.append((p.spec(member, instance, s), instance))
    return out


def _rows(table: pd.DataFrame) -> pd.DataFrame:
    keep = table[~table["metric"].map(is_machine_metric)]
    return keep.drop(columns=PROVENANCE_COLUMNS).reset_index(drop=True)  # where, when and by which code


@pytest.mark.parametrize("condition", ["both", "baseline"])
def test_three_vectorised_seeds_record_the_rows_of_three_lone_runs(tmp_path, condition):
    pairs = _specs([0, 1, 2], benchmark_seed_follows=True, condition=condition)
    specs, instances = [p[0] for p in pairs], [p[1] for p in pairs]
    from hippo_bench.runner import execute

    lone = [execute(s, inst, tmp_path / "lone") for s, inst in zip(specs, instances)]
    together = execute_seeds(specs, instances, tmp_path / "vec")
    assert [o.status for o in together] == ["ok"] * 3
    for a, b in zip(lone, together):
        assert a.table["run_id"].iloc[0] == b.table["run_id"].iloc[0]
        assert b.table["code_fingerprint"].iloc[0] == a.table["code_fingerprint"].iloc[0]  # one key, either path
        pd.testing.assert_frame_equal(_rows(a.table), _rows(b.table), check_exact=True)
    accs = [float(o.table.query("metric == 'accuracy'")["value"].mean()) for o in together]
    assert len(set(accs)) == 3  # three different runs, not one run three times
    # a second call finds every seed's results and runs nothing
    again = run_specs(specs, instances, tmp_path / "vec", vectorize=True)
    assert [o.status for o in again] == ["cached"] * 3
    # results of lone runs count as done too (the lone path is the reference)
    assert [o.status for o in run_specs(specs, instances, tmp_path / "lone", vectorize=True)] == ["cached"] * 3


def test_a_failing_seed_fails_alone_and_the_others_finish(tmp_path, monkeypatch):
    from hippo_bench.strategies.meta import template as meta_template

    pairs = _specs([0, 1, 2])
    specs, instances = [p[0] for p in pairs], [p[1] for p in pairs]
    original = meta_template.OnlineMetaTemplate._outer_update

    def nan_for_seed_1(self, **kwargs):
        if getattr(self, "_fail", False):
            self.model.inhibition.data.fill_(float("nan"))
        return original(self, **kwargs)

    monkeypatch.setattr(meta_template.OnlineMetaTemplate, "_outer_update", nan_for_seed_1)
    from hippo_bench.strategies import vectorized

    build = vectorized.VectorizedMetaHippo.build

    def mark(self, ctx):
        template = build(self, ctx)
        template._fail = ctx.seed == 1
        return template

    monkeypatch.setattr(vectorized.VectorizedMetaHippo, "build", mark)
    outcomes = execute_seeds(specs, instances, tmp_path)
    assert [o.status for o in outcomes] == ["ok", "failed", "ok"]
    assert "meta-loss is nan" in outcomes[1].error
    assert (tmp_path / "failed" / f"{specs[1].run_id}.json").exists()


def test_unsupported_configurations_say_why():
    (spec, instance), = _specs([0])
    assert unsupported_reason(spec, instance) is None
    per_param = dataclasses.replace(spec, strategy_config=dataclasses.replace(spec.strategy_config,
                                                                              per_parameter_lr=True))
    assert "per-parameter" in unsupported_reason(per_param)
    materialised = dataclasses.replace(spec, strategy_config=dataclasses.replace(spec.strategy_config,
                                                                                 path="materialised"))
    assert "materialised" in unsupported_reason(materialised)
    from hippo_bench.strategies import strategies

    naive = dataclasses.replace(spec, strategy=strategies.get("naive"))
    assert "only meta-hippo" in unsupported_reason(naive)
    with pytest.raises(ValueError, match="per-parameter"):
        execute_seeds([per_param], [instance], None)


def test_run_vectorize_seeds_on_an_unsupported_strategy_exits_2(run_cli, tiny_bench, tmp_path):
    code, out, err = run_cli("run", "--strategy", "naive", *tiny_bench, "--seeds", "0", "1", "--vectorize-seeds",
                             "--out", tmp_path)
    assert code == 2
    assert "--vectorize-seeds: only meta-hippo is vectorised over seeds (not naive)" in err
    assert not list(tmp_path.glob("*.parquet"))


def test_a_vectorize_seeds_key_that_is_not_a_boolean_exits_2(run_cli, tiny_bench, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("vectorize_seeds: 'yes'\n")
    code, out, err = run_cli("run", "--strategy", "meta-hippo", "--model", "mlp2", *tiny_bench, "--config", config,
                             "--out", tmp_path)
    assert code == 2 and "vectorize_seeds: expected true or false, got 'yes'" in err
    assert not list(tmp_path.glob("*.parquet"))


def test_run_vectorize_seeds_writes_the_rows_of_lone_runs(run_cli, tiny_bench, tmp_path):
    args = ["run", "--strategy", "meta-hippo", "--model", "mlp2", *tiny_bench, "--seeds", "0", "1"]
    assert run_cli(*args, "--out", tmp_path / "lone")[0] == 0
    code, out, err = run_cli(*args, "--vectorize-seeds", "--out", tmp_path / "vec")
    assert code == 0, err
    assert "as one batched model" in out
    lone, vec = sorted((tmp_path / "lone").glob("*.parquet")), sorted((tmp_path / "vec").glob("*.parquet"))
    assert [f.name for f in lone] == [f.name for f in vec] and len(vec) == 2
    for a, b in zip(lone, vec):
        pd.testing.assert_frame_equal(_rows(pd.read_parquet(a)), _rows(pd.read_parquet(b)), check_exact=True)


def test_run_reuses_results_made_either_way_with_or_without_the_flag(run_cli, tiny_bench, tmp_path):
    args = ["run", "--strategy", "meta-hippo", "--model", "mlp2", *tiny_bench, "--seeds", "0", "1"]
    for first, folder in ((["--vectorize-seeds"], tmp_path / "vec"), ([], tmp_path / "lone")):
        assert run_cli(*args, *first, "--out", folder)[0] == 0
        made = {f.name: f.stat().st_mtime_ns for f in folder.glob("*.parquet")}
        assert len(made) == 2
        for again in ([], ["--vectorize-seeds"]):
            code, out, err = run_cli(*args, *again, "--out", folder)
            assert code == 0, err
            assert out.count("results exist") == 2, (first, again, out)
        assert {f.name: f.stat().st_mtime_ns for f in folder.glob("*.parquet")} == made  # nothing rewritten
    code, out, _ = run_cli(*args, "--force", "--out", tmp_path / "vec")
    assert code == 0 and "results exist" not in out


def test_sweep_vectorize_seeds_batches_each_configurations_seeds(run_cli, tmp_path):
    grid = {"base": {"strategy": "meta-hippo", "model": "mlp2", "benchmark": "split-patterns", "seeds": [0, 1, 2],
                     "benchmark_params": {"n_classes": 4, "classes_per_exp": 2, "dim": 16, "train_per_class": 10,
                                          "test_per_class": 5},
                     "model_params": {"hidden": [20, 20]}},
            "axes": {"condition": ["baseline", "both"]}}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    grid["base"]["vectorize_seeds"] = True  # the grid may ask for it instead of the flag
    path.write_text(yaml.safe_dump(grid))
    code, out, err = run_cli("sweep", path, "--workers", 2, "--results", tmp_path / "vec")
    assert code == 0, err
    assert "6 runs (2 batches of seeds trained together)" in out
    del grid["base"]["vectorize_seeds"]
    path.write_text(yaml.safe_dump(grid))
    code, out, err = run_cli("sweep", path, "--workers", 2, "--results", tmp_path / "lone")
    assert code == 0, err
    assert "batches" not in out
    vec, lone = sorted((tmp_path / "vec").glob("*.parquet")), sorted((tmp_path / "lone").glob("*.parquet"))
    assert [f.name for f in vec] == [f.name for f in lone] and len(vec) == 6
    for a, b in zip(lone, vec):
        pd.testing.assert_frame_equal(_rows(pd.read_parquet(a)), _rows(pd.read_parquet(b)), check_exact=True)
    # results of either path count as done, for either way of sweeping
    for extra in ([], ["--vectorize-seeds"]):
        code, out, _ = run_cli("sweep", path, "--results", tmp_path / "vec", *extra)
        assert code == 0 and "nothing to run" in out


@pytest.mark.skipif(not (Path(os.environ.get("HIPPO_BENCH_DATA", "/nonexistent")) / "MNIST" / "raw").is_dir(),
                    reason="HIPPO_BENCH_DATA holds no MNIST/raw: the seed's rotated-MNIST protocol needs it")
def test_seed_protocol_three_seeds_vectorised_equal_lone_runs(tmp_path):
    """The protocol the speed targets name (seed-rotated-mnist, MLP 2 x 200), shortened to 3 rotations."""
    from hippo_bench.resolve import plan_from
    from hippo_bench.runner import execute

    plan = plan_from([("test", {"preset": "seed-rotated-mnist", "seeds": [0, 1, 2],
                                "benchmark_params": {"n_tasks": 3}})])
    member = plan.members[0]
    instance = plan.build_instance(member)
    specs = [plan.spec(member, instance, s) for s in plan.seeds]
    lone = [execute(s, instance, None, checkpoints=False) for s in specs]
    together = execute_seeds(specs, [instance] * 3, None, checkpoints=False)
    for a, b in zip(lone, together):
        pd.testing.assert_frame_equal(_rows(a.table), _rows(b.table), check_exact=True)


KILL_SEEDS = [3, 4, 5]


def _kill_specs():
    """meta-hippo on mlp2, 4 experiences of the tiny stream of test_resume, seeds KILL_SEEDS."""
    from test_resume import TINY

    from hippo_bench.models import models
    from hippo_bench.runner import RunSpec
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import benchmarks

    bench_cls = benchmarks.get("split-patterns")
    config = bench_cls.Config(**TINY)
    instance = bench_cls(config).build(0, None)
    strategy = strategies.get("meta-hippo")
    specs = [RunSpec(benchmark="split-patterns", benchmark_config=config, strategy=strategy,
                     strategy_config=strategy.Config(buffer_size=8), model="mlp2",
                     model_config=models.get("mlp2").Config(hidden=[20, 20]), seed=seed, train_mb_size=4)
             for seed in KILL_SEEDS]
    return specs, [instance] * len(specs)


def killed_group(out: str) -> None:
    """In a child process: the seeds batched; SIGKILL once the middle seed has saved its checkpoint before experience 2.

    The first seed has then saved the same checkpoint, the last one only the one before experience 1.
    """
    import signal

    from hippo_bench import checkpoint

    real_save = checkpoint.save
    middle = _kill_specs()[0][1].run_id

    def save_then_die(out_dir, run_id, fingerprint, template, progress):
        path = real_save(out_dir, run_id, fingerprint, template, progress)
        if run_id == middle and progress["next_experience"] == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return path

    checkpoint.save = save_then_die
    specs, instances = _kill_specs()
    execute_seeds(specs, instances, Path(out))


def test_a_killed_group_resumes_each_seed_from_its_own_checkpoint_to_identical_rows(tmp_path):
    import signal
    import subprocess
    import sys

    from hippo_bench import checkpoint
    from hippo_bench.runner import execute

    specs, instances = _kill_specs()
    lone = [execute(s, inst, tmp_path / "lone") for s, inst in zip(specs, instances)]
    out = tmp_path / "killed"
    here = Path(__file__).parent
    child = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(here)!r}); import test_vectorized_seeds as t; "
                               f"t.killed_group({str(out)!r})"], capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    saved = [torch.load(checkpoint.path_of(out, s.run_id), weights_only=False) for s in specs]
    assert [state["progress"]["next_experience"] for state in saved] == [2, 2, 1]  # seeds at different points
    for spec, state in zip(specs, saved):  # each checkpoint holds its own seed's weights only
        assert all(t.untyped_storage().nbytes() == t.numel() * t.element_size() for t in state["model"].values())
    assert not list(out.glob("*.parquet"))
    resumed = execute_seeds(specs, instances, out)
    assert [o.status for o in resumed] == ["ok"] * 3
    for a, b in zip(lone, resumed):
        pd.testing.assert_frame_equal(_rows(a.table), _rows(b.table), check_exact=True)
    assert not any(checkpoint.path_of(out, s.run_id).exists() for s in specs)


def test_a_vectorised_result_is_current_for_run_sweep_leaderboard_and_check(run_cli, tiny_bench, tmp_path):
    """One rule (hippo_bench.currency): what --vectorize-seeds made is as current as what lone runs make."""
    results = tmp_path / "results"
    args = ["run", "--strategy", "meta-hippo", "--model", "mlp2", *tiny_bench, "--seeds", "0", "1"]
    assert run_cli(*args, "--vectorize-seeds", "--out", results)[0] == 0
    code, out, err = run_cli(*args, "--out", results)
    assert code == 0 and out.count("results exist") == 2, err
    bench = dict(zip([a[len("--bench-"):].replace("-", "_") for a in tiny_bench[2::2]],
                     [int(v) for v in tiny_bench[3::2]]))
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"base": {"strategy": "meta-hippo", "model": "mlp2", "benchmark": "split-patterns",
                                             "seeds": [0, 1], "benchmark_params": bench}}))
    code, out, err = run_cli("sweep", grid, "--results", results, "--dry-run")
    assert code == 0 and "2 exist; 0 to run" in out, out + err
    code, out, err = run_cli("leaderboard", "build", "--results", results, "--out", tmp_path / "boards")
    assert code == 0, err
    board = (tmp_path / "boards" / "split-patterns.md").read_text()
    assert "| meta-hippo " in board and "older release" not in board
    code, out, err = run_cli("leaderboard", "check", "--results", results, "--allow-missing")
    assert code == 0 and "older release" not in out, out + err
