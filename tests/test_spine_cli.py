"""The CLI end to end: bad input, a strategy that fails mid-run, interrupted writes."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from conftest import failure_records, read_runs
from hippo_bench.results import atomic_write_parquet


def _leftovers(folder) -> list[str]:
    """Temporary files an interrupted write could have left behind."""
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


@pytest.mark.parametrize("argv, message", [
    (["run", "--strategy", "ewcc"], "unknown strategy 'ewcc'; did you mean ewc?"),
    (["run", "--strategy", "naive", "--benchmark", "split-pattern"],
     "unknown benchmark 'split-pattern'; did you mean split-patterns"),
    (["run", "--strategy", "naive", "--model", "mpl"], "unknown model 'mpl'; did you mean mlp"),
    (["run", "--strategy", "naive", "--lr", "fast"], "--lr: expected a number, got 'fast'"),
    (["run", "--strategy", "ewc", "--ewc-lambda", "-1"], "--ewc-lambda: must be >= 0.0, got -1.0"),
    (["run", "--strategy", "ewc", "--mode", "offline"], "--mode: expected one of separate, online"),
    (["run", "--strategy", "naive", "--benchmark", "split-patterns", "--model-hidden", "0"], "--model-hidden: must be >= 1, got 0"),
    (["run", "--strategy", "naive", "--benchmark", "split-patterns", "--bench-noise", "-0.5"], "--bench-noise: must be >= 0.0"),
    (["run", "--strategy", "naive", "--seeds", "one"], "argument --seeds: invalid int value: 'one'"),
    (["run", "--strategy", "naive", "--epochs", "0"], "--epochs: must be >= 1, got 0"),
    (["run", "--strategy", "naive", "--data-root", "/no/such/folder"],
     "--data-root: folder does not exist: /no/such/folder"),
    (["run", "--strategy", "naive", "--lrr", "0.1"], "unrecognized arguments: --lrr 0.1 (--lrr: did you mean --lr?)"),
    (["run", "--strategy", "naive", "--mode", "online"], "unrecognized arguments: --mode online"),
    (["run"], "--strategy is required"),
    (["run", "--strategy", "naive", "--benchmark", ""], "--benchmark: benchmark name must be a non-empty name"),
    (["run", "--strategy", " "], "--strategy: strategy name must be a non-empty name"),
    (["run", "--strategy", "naive", "--model", ""], "--model: model name must be a non-empty name"),
    (["run", "--strategy", "naive", "--preset", ""], "--preset: preset name must be a non-empty name"),
    (["verify", "--results", "/no/such/results"], "--results: folder not found"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["leaderboard", "build", "--results", "/no/such/results"], "--results: folder not found"),
])
def test_bad_input_exits_2_with_one_line(argv, message, run_cli, tmp_path):
    code, out, err = run_cli(*argv, "--out", tmp_path / "out") if argv[0] == "run" else run_cli(*argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    assert not (tmp_path / "out").exists()  # nothing written


@pytest.fixture
def boom_strategy(fresh_strategy_registry):
    """A registered strategy that raises on its second experience, for training seed 1 only."""
    from avalanche.core import SupervisedPlugin

    from hippo_bench.strategies import strategies

    naive = strategies.get("naive")

    class Explode(SupervisedPlugin):
        def before_training_exp(self, strategy, **kwargs):
            if strategy.experience.current_experience == 1:
                raise RuntimeError("exploded on experience 1")

    class Boom(naive):
        @dataclasses.dataclass
        class Config(naive.Config):
            pass

        def build(self, ctx):
            if ctx.seed == 1:
                ctx.plugins.append(Explode())
            return super().build(ctx)

    strategies.add("boom", Boom)
    return Boom


def test_failing_run_is_recorded_and_other_seeds_go_on(boom_strategy, run_cli, tiny_bench, tmp_path):
    from hippo_bench.reporting.leaderboard import build_leaderboards

    code, out, err = run_cli("run", "--strategy", "boom", "--seeds", "0", "1", "2", *tiny_bench, "--out", tmp_path)
    assert code == 1
    assert "seed 1: run failed: RuntimeError: exploded on experience 1" in out
    runs = read_runs(tmp_path)
    assert sorted(runs["seed"].unique()) == [0, 2] and (runs["status"] == "ok").all()
    [failure] = failure_records(tmp_path)
    assert failure["status"] == "failed" and failure["seed"] == 1 and failure["strategy"] == "boom"
    assert failure["error"].startswith("RuntimeError: exploded on experience 1")
    assert not (tmp_path / f"{failure['run_id']}.parquet").exists()
    assert _leftovers(tmp_path) == []

    # the failure shows under the leaderboard, and the two good seeds form one row
    [md, _] = build_leaderboards(tmp_path, tmp_path / "lb")
    text = md.read_text()
    [row] = [line for line in text.splitlines() if line.startswith("|") and " boom " in line]
    assert [c.strip() for c in row.strip("|").split("|")][:5] == ["1", "boom", "mlp", "", "2"]
    assert "boom (mlp), seed 1: failed: RuntimeError: exploded on experience 1" in text


def test_success_clears_an_old_failure_record(boom_strategy, run_cli, tiny_bench, tmp_path, monkeypatch):
    run_cli("run", "--strategy", "boom", "--seeds", "1", *tiny_bench, "--out", tmp_path)
    assert len(failure_records(tmp_path)) == 1
    monkeypatch.setattr(boom_strategy, "build", lambda self, ctx: super(boom_strategy, self).build(ctx))
    code, _, err = run_cli("run", "--strategy", "boom", "--seeds", "1", *tiny_bench, "--out", tmp_path)
    assert code == 0, err
    assert failure_records(tmp_path) == [] and len(read_runs(tmp_path)) > 0


def _partial_then(exc: BaseException):
    """A to_parquet that writes half a file, then fails like a full disk or Ctrl-C."""

    def to_parquet(self, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"PAR1 half a file")
        raise exc

    return to_parquet


def test_interrupted_write_leaves_no_results_file(run_cli, tiny_bench, tmp_path, monkeypatch):
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _partial_then(OSError("No space left on device")))
    code, out, err = run_cli("run", "--strategy", "naive", *tiny_bench, "--out", tmp_path)
    assert code == 1
    assert list(tmp_path.glob("*.parquet")) == [] and _leftovers(tmp_path) == []
    [failure] = failure_records(tmp_path)
    assert failure["error"].startswith("writing results: OSError: No space left on device")


def test_ctrl_c_during_write_leaves_no_results_file(run_cli, tiny_bench, tmp_path, monkeypatch):
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _partial_then(KeyboardInterrupt()))
    code, out, err = run_cli("run", "--strategy", "naive", *tiny_bench, "--out", tmp_path)
    assert code == 130 and "interrupted" in err
    assert list(tmp_path.rglob("*.parquet")) == [] and _leftovers(tmp_path) == []


def test_failed_overwrite_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "run.parquet"
    old = pd.DataFrame({"value": [1.0, 2.0]})
    atomic_write_parquet(old, path)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _partial_then(OSError("disk full")))
    with pytest.raises(OSError):
        atomic_write_parquet(pd.DataFrame({"value": [3.0]}), path)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(pd.read_parquet(path), old)
    assert [p.name for p in tmp_path.iterdir()] == ["run.parquet"]


def test_existing_results_are_reused_unless_forced(run_cli, tiny_bench, tmp_path):
    code, out, _ = run_cli("run", "--strategy", "naive", *tiny_bench, "--out", tmp_path)
    [path] = tmp_path.glob("*.parquet")
    stamp = path.stat().st_mtime_ns
    code, out, _ = run_cli("run", "--strategy", "naive", *tiny_bench, "--out", tmp_path)
    assert code == 0 and "results exist" in out and path.stat().st_mtime_ns == stamp
    code, out, _ = run_cli("run", "--strategy", "naive", *tiny_bench, "--out", tmp_path, "--force")
    assert code == 0 and "results exist" not in out and path.stat().st_mtime_ns != stamp
