"""hippo-bench sweep: grid expansion, the local and Ray executors, skipping existing runs, dead workers."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hippo_bench.errors import UserError
from hippo_bench.params import param
from hippo_bench.strategies.base import SGDConfig
from hippo_bench.strategies.naive import Naive
from hippo_bench.sweep.grid import expand, load_grid, nest

# The tiny split-patterns stream of conftest.TINY_BENCH, as grid keys: a run takes well under a second.
TINY = {"strategy": "naive", "benchmark": "split-patterns",
        "benchmark_params": {"n_classes": 4, "classes_per_exp": 2, "dim": 16, "train_per_class": 10,
                             "test_per_class": 5}}


def write_grid(path: Path, grid: dict) -> Path:
    path.write_text(yaml.safe_dump(grid))
    return path


# -- expansion ------------------------------------------------------------------------------------

def test_points_are_presets_times_axes_times_zips_in_order():
    grid = load_grid({"base": {}, "presets": ["p1", "p2"], "axes": {"lr": [0.1, 0.2]},
                      "zip": [{"momentum": [0.0, 0.5], "benchmark_params.dim": [8, 16]}]}, "g")
    values = [p.values for p in grid.points()]
    assert len(values) == 8  # 2 presets x 2 lr x 2 zipped pairs (not 2 x 2 x 2 x 2)
    assert values[0] == {"preset": "p1", "lr": 0.1, "momentum": 0.0, "benchmark_params.dim": 8}
    assert values[1] == {"preset": "p1", "lr": 0.1, "momentum": 0.5, "benchmark_params.dim": 16}
    assert values[2] == {"preset": "p1", "lr": 0.2, "momentum": 0.0, "benchmark_params.dim": 8}
    assert values[7] == {"preset": "p2", "lr": 0.2, "momentum": 0.5, "benchmark_params.dim": 16}
    assert nest(values[7]) == {"preset": "p2", "lr": 0.2, "momentum": 0.5, "benchmark_params": {"dim": 16}}


def test_a_grid_without_axes_is_its_base():
    assert [p.values for p in load_grid({"base": {"strategy": "naive"}}, "g").points()] == [{}]


def test_expand_gives_one_run_per_point_and_seed_with_the_point_values():
    grid = load_grid({"base": {**TINY, "seeds": [0, 1]}, "axes": {"lr": [0.01, 0.1]},
                      "zip": [{"epochs": [1, 2], "benchmark_params.dim": [8, 16]}]}, "g")
    runs = expand(grid)
    got = [(r.spec.strategy_config.lr, r.spec.epochs, r.spec.benchmark_config.dim, r.spec.seed) for r in runs]
    assert got == [(0.01, 1, 8, 0), (0.01, 1, 8, 1), (0.01, 2, 16, 0), (0.01, 2, 16, 1),
                   (0.1, 1, 8, 0), (0.1, 1, 8, 1), (0.1, 2, 16, 0), (0.1, 2, 16, 1)]
    assert len({r.run_id for r in runs}) == 8
    # untouched base values stay
    assert {r.spec.benchmark_config.n_classes for r in runs} == {4}


def test_a_seeds_axis_and_duplicate_points_give_each_run_once():
    # seeds [0, 1] and [1, 2] overlap in seed 1: three distinct runs
    grid = load_grid({"base": dict(TINY), "axes": {"seeds": [[0, 1], [1, 2]]}}, "g")
    assert [r.spec.seed for r in expand(grid)] == [0, 1, 2]


def test_presets_axis_resolves_each_preset_under_the_base():
    from hippo_bench.resolve import plan_from

    grid = load_grid({"base": {"alpha_lr": 0.001}, "presets": ["seed-rotated-mnist", "seed-rotated-mnist-4layer",
                                                                 "seed-dual-mnist"]}, "g")
    plans = [plan_from(grid.layers(p)) for p in grid.points()]
    assert [p.preset for p in plans] == ["seed-rotated-mnist", "seed-rotated-mnist-4layer", "seed-dual-mnist"]
    assert [p.model_name for p in plans] == ["mlp2", "mlp4", "dual"]
    assert [p.strategy_config.alpha_init for p in plans] == [0.1, 0.01, 0.15]  # the presets' own values
    assert [p.strategy_config.alpha_lr for p in plans] == [0.001] * 3  # the base wins over the preset


SHIPPED = {"seed-rotated-mnist.yaml": 4 * 12, "seed-rotated-mnist-4layer.yaml": 1, "seed-dual-mnist.yaml": 1,
           "size.yaml": 5 * 5, "last-layer-lr.yaml": 2 * 2, "architecture.yaml": 3}


def test_every_grid_file_is_tested():
    assert sorted(p.name for p in (Path(__file__).resolve().parents[1] / "grids").glob("*.yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name,points", sorted(SHIPPED.items()))
def test_shipped_grids_resolve(name, points):
    """Every point of the shipped grids resolves (the runs themselves take hours: not run here)."""
    from hippo_bench.commands import load_yaml
    from hippo_bench.resolve import plan_from

    grid = load_grid(load_yaml(Path(__file__).resolve().parents[1] / "grids" / name, "grid"), name)
    plans = [plan_from(grid.layers(p)) for p in grid.points()]
    assert len(plans) == points
    assert all(p.seeds == list(range(10)) for p in plans)
    if name == "seed-rotated-mnist.yaml":
        combos = {(p.strategy_config.condition, p.strategy_config.alpha_init) for p in plans}
        assert len(combos) == 48 and ("baseline", 0.0001) in combos and ("both", 0.5) in combos


# -- bad grid files -------------------------------------------------------------------------------

@pytest.mark.parametrize("grid,key", [
    ({"base": TINY, "axis": {"lr": [0.1]}}, "axis"),                      # unknown top-level key
    ({"base": TINY, "axes": {"lrr": [0.1]}}, "lrr"),                      # unknown strategy field
    ({"base": TINY, "axes": {"lr": []}}, "lr"),                           # empty axis
    ({"base": TINY, "axes": {"lr": 0.1}}, "lr"),                          # not a list
    ({"base": TINY, "axes": {"lr": [0.1, "fast"]}}, "lr"),                # wrong type, in the second point
    ({"base": TINY, "axes": {"benchmark_params.nope": [1]}}, "nope"),     # unknown benchmark field
    ({"base": TINY, "axes": {"weights.dim": [1]}}, "weights.dim"),        # unknown section
    ({"base": TINY, "zip": [{"lr": [0.1, 0.2], "momentum": [0.0]}]}, "momentum"),  # unequal zip
    ({"base": {**TINY, "seedz": [0]}}, "seedz"),                          # unknown base key
])
def test_bad_grid_exits_2_naming_the_key_before_running(tmp_path, run_cli, grid, key):
    path = write_grid(tmp_path / "bad.yaml", grid)
    out = tmp_path / "res"
    code, stdout, err = run_cli("sweep", path, "--results", out, "--workers", 1)
    assert code == 2
    assert key in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing ran


def test_ray_executor_without_ray_exits_2_with_the_install_line(tmp_path, run_cli):
    try:
        import ray  # noqa: F401
        pytest.skip("Ray is installed: this checks the message shown without it")
    except ImportError:
        pass
    path = write_grid(tmp_path / "g.yaml", {"base": TINY})
    code, _, err = run_cli("sweep", path, "--executor", "ray", "--results", tmp_path / "res")
    assert code == 2 and "pip install -e '.[ray]'" in err


# -- the local executor ---------------------------------------------------------------------------

def four_run_grid(tmp_path: Path) -> Path:
    return write_grid(tmp_path / "four.yaml", {"base": {**TINY, "seeds": [0, 1]}, "axes": {"lr": [0.01, 0.1]}})


def test_local_executor_runs_a_grid_then_skips_it_and_dry_run_counts(tmp_path, run_cli):
    path, out = four_run_grid(tmp_path), tmp_path / "res"
    code, stdout, err = run_cli("sweep", path, "--workers", 2, "--results", out)
    assert code == 0, err
    files = sorted(out.glob("*.parquet"))
    assert len(files) == 4
    from hippo_bench.commands import load_yaml

    expected = {r.run_id: (r.spec.strategy_config.lr, r.spec.seed) for r in expand(load_grid(load_yaml(path, "g"), "g"))}
    assert {f.stem for f in files} == set(expected)
    for f in files:  # each file holds the run its name says, trained to the end
        table = pd.read_parquet(f)
        assert (table["status"] == "ok").all()
        assert table.loc[0, "seed"] == expected[f.stem][1]
        assert json.loads(table.loc[0, "strategy_params"])["lr"] == expected[f.stem][0]
        assert set(table.loc[table.metric == "accuracy", "train_exp"]) >= {0, 1}
    mtimes = {f: f.stat().st_mtime_ns for f in files}

    code, stdout, _ = run_cli("sweep", path, "--workers", 2, "--results", out)
    assert code == 0 and "nothing to run" in stdout
    assert {f: f.stat().st_mtime_ns for f in files} == mtimes  # nothing rewritten

    files[0].unlink()
    code, stdout, _ = run_cli("sweep", path, "--dry-run", "--results", out)
    assert code == 0
    assert "3 of 4 runs exist; 1 to run" in stdout
    assert files[0].stem in stdout and stdout.count("exists") == 3
    assert not files[0].exists()  # a dry run runs nothing


@dataclasses.dataclass
class _DieConfig(SGDConfig):
    die_marker: str = param("", "while this file exists, the run's process kills itself (SIGKILL)")


class DieWhileMarked(Naive):
    """Naive, except that its process dies with SIGKILL while a marker file exists (a test-only strategy)."""

    name = "sweep-test-die"  # set here too: the worker process unpickles the class without the registry
    description = "test only"
    Config = _DieConfig

    def build(self, ctx):
        if self.config.die_marker and os.path.exists(self.config.die_marker):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().build(ctx)


def test_a_dead_worker_is_recorded_as_failed_and_retried(tmp_path, run_cli, fresh_strategy_registry):
    from hippo_bench.strategies import strategies

    strategies.add(DieWhileMarked.name, DieWhileMarked)
    marker = tmp_path / "die"
    marker.write_text("")
    grid = {"base": {**TINY, "strategy": DieWhileMarked.name, "seeds": [0]},
            "axes": {"die_marker": ["", str(marker)]}}
    path, out = write_grid(tmp_path / "die.yaml", grid), tmp_path / "res"
    runs = expand(load_grid(grid, "g"))
    alive, dying = runs[0].run_id, runs[1].run_id

    code, stdout, _ = run_cli("sweep", path, "--workers", 2, "--results", out)
    assert code == 1
    assert (out / f"{alive}.parquet").exists() and not (out / f"{dying}.parquet").exists()
    from conftest import failure_records

    records = failure_records(out)
    assert [r["run_id"] for r in records] == [dying]
    assert "SIGKILL" in records[0]["error"] and records[0]["status"] == "failed"
    assert "1 of 2 runs failed" in stdout

    marker.unlink()  # the fault is gone: the same command retries only the failed run
    code, stdout, _ = run_cli("sweep", path, "--workers", 2, "--results", out)
    assert code == 0
    assert "1 ok" in stdout
    assert (out / f"{dying}.parquet").exists() and failure_records(out) == []


class NeverSupported(Naive):
    """Naive declaring no scenario: every run is written as skipped (a test-only strategy)."""

    name = "sweep-test-unsupported"
    description = "test only"
    scenarios = frozenset()


def test_a_run_skipped_as_unsupported_counts_as_done(tmp_path, run_cli, fresh_strategy_registry):
    from hippo_bench.strategies import strategies

    strategies.add(NeverSupported.name, NeverSupported)
    path, out = write_grid(tmp_path / "skip.yaml", {"base": {**TINY, "strategy": NeverSupported.name}}), tmp_path / "r"
    code, stdout, _ = run_cli("sweep", path, "--workers", 1, "--results", out)
    assert code == 0 and "1 skipped" in stdout
    [file] = out.glob("*.parquet")
    assert set(pd.read_parquet(file)["status"]) == {"skipped"}
    code, stdout, _ = run_cli("sweep", path, "--workers", 1, "--results", out)
    assert code == 0 and "nothing to run" in stdout


# -- the Ray executor -----------------------------------------------------------------------------

def test_ray_executor_runs_the_grid_on_a_local_ray(tmp_path, run_cli):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'); the Ray executor is untested")
    path, out = four_run_grid(tmp_path), tmp_path / "res"
    code, _, err = run_cli("sweep", path, "--executor", "ray", "--workers", 2, "--results", out)
    assert code == 0, err
    assert len(list(out.glob("*.parquet"))) == 4
    code, stdout, _ = run_cli("sweep", path, "--executor", "ray", "--workers", 2, "--results", out)
    assert code == 0 and "nothing to run" in stdout


def test_load_grid_rejects_a_key_varied_twice():
    with pytest.raises(UserError, match="'lr' is varied twice"):
        load_grid({"axes": {"lr": [0.1]}, "zip": [{"lr": [0.2]}]}, "g")
