"""Results tied to the code that made them: fingerprints, stale reuse, provenance, and `verify`."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO, read_runs
from hippo_bench.fingerprint import changed_files, clear_caches, closure
from hippo_bench.results import code_paths, git_state

PLUGIN = '''
import dataclasses
import avalanche.training as av
from hippo_bench.params import param
from hippo_bench.strategies.base import Strategy, sgd

class Plain(Strategy):
    description = "fine-tuning, as a third-party module whose source the test edits"

    @dataclasses.dataclass
    class Config:
        lr: float = param(0.05, "learning rate", min=0.0)

    def build(self, ctx):
        return av.Naive(**ctx.sgd_kwargs(sgd(ctx.model, self.config.lr)))
'''


@pytest.fixture
def plain_strategy(tmp_path, monkeypatch, fresh_strategy_registry):
    """A strategy in its own source file (identity_plugin.py), registered as a plugin."""
    src = tmp_path / "plugin_src"
    src.mkdir()
    path = src / "identity_plugin.py"
    path.write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.delitem(sys.modules, "identity_plugin", raising=False)
    fresh_strategy_registry({"plain": "identity_plugin:Plain"})
    clear_caches()
    yield path
    clear_caches()


def test_editing_code_the_run_depends_on_makes_the_cached_result_stale_but_a_comment_does_not(
        plain_strategy, run_cli, tiny_bench, tmp_path):
    out = tmp_path / "results"
    code, text, _ = run_cli("run", "--strategy", "plain", "--out", out, *tiny_bench)
    assert code == 0
    first = read_runs(out)
    code, text, _ = run_cli("run", "--strategy", "plain", "--out", out, *tiny_bench)
    assert "reusing them" in text  # same code: cached
    words = PLUGIN.replace('"fine-tuning, as', '"plain fine-tuning, as').replace('"learning rate"', '"step size"')
    plain_strategy.write_text(words + "\n# a comment\n")  # description, help text, comment: no number changes
    clear_caches()
    code, text, _ = run_cli("run", "--strategy", "plain", "--out", out, *tiny_bench)
    assert "reusing them" in text
    plain_strategy.write_text(PLUGIN.replace("self.config.lr)", "self.config.lr * 1.0)"))  # code, though equal
    clear_caches()
    code, text, _ = run_cli("run", "--strategy", "plain", "--out", out, "--reuse-stale", *tiny_bench)
    assert code == 0 and "marked stale" in text  # other code, reused only because asked
    assert read_runs(out)["created_at"].equals(first["created_at"])
    code, text, _ = run_cli("run", "--strategy", "plain", "--out", out, *tiny_bench)
    assert code == 0 and "reusing them" not in text and "stale" not in text  # rerun
    second = read_runs(out)
    assert len(second["run_id"].unique()) == 1 and second["run_id"].iloc[0] == first["run_id"].iloc[0]
    assert second["code_fingerprint"].iloc[0] != first["code_fingerprint"].iloc[0]
    assert changed_files(first["code_files"].iloc[0], second["code_files"].iloc[0]) == ["identity_plugin"]


def test_fingerprint_follows_imports_and_leaves_out_presentation_code():
    mods = closure(("hippo_bench.runner", "hippo_bench.strategies.meta_hippo", "hippo_bench.tasks.mnist",
                    "hippo_bench.models.hippo_models"))
    assert {"hippo_bench.strategies.meta.template", "hippo_bench.models.hippo_net", "hippo_bench.data.mnist",
            "hippo_bench.recording", "hippo_bench.tensor_batches"} <= set(mods)
    assert not any(m.startswith(("hippo_bench.reporting", "hippo_bench.commands", "hippo_bench.cli"))
                   for m in mods)
    assert "hippo_bench.strategies.ewc" not in mods  # another strategy's code does not stale these results
    assert "hippo_bench.results" not in mods and "hippo_bench" not in mods


def test_rows_record_code_versions_and_the_git_state(run_cli, tiny_bench, tmp_path):
    code, _, _ = run_cli("run", "--strategy", "naive", "--out", tmp_path, *tiny_bench)
    df = read_runs(tmp_path)
    row = df.iloc[0]
    assert len(row["code_fingerprint"]) == 16 and '"versions"' in row["code_files"]
    assert row["numpy_version"] and row["torch_version"] and row["avalanche_version"]
    paths = code_paths(row["code_files"])
    assert any(p.endswith("strategies/naive.py") for p in paths) and not any(p.endswith("ewc.py") for p in paths)
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", *paths], cwd=REPO,
                                capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    assert row["git_dirty"] == ("true" if status.strip() else "false")
    assert row["git_commit"]


def test_git_dirty_looks_at_the_run_own_code_files_only(tmp_path):
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    try:
        git("init", "-q")
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git is not available")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    mine, other = tmp_path / "mine.py", tmp_path / "other.py"
    mine.write_text("x = 1\n")
    other.write_text("y = 1\n")
    git("add", "mine.py", "other.py")
    git("commit", "-qm", "start")
    assert git_state([str(mine)])[1] == "false"
    other.write_text("y = 2\n")  # an edit to code the run does not use
    assert git_state([str(mine)])[1] == "false"
    mine.write_text("x = 2\n")
    assert git_state([str(mine)])[1] == "true"
    fresh = tmp_path / "fresh.py"  # a code file never committed
    fresh.write_text("z = 1\n")
    assert git_state([str(fresh)])[1] == "true"


def test_preset_is_part_of_the_run_identity():
    from hippo_bench.results import config_id_of, run_id_of, run_identity

    base = dict(benchmark="b", benchmark_params={}, benchmark_seed=0, strategy="s", strategy_params={}, model="m",
                model_params={}, seed=0, epochs=1, train_mb_size=5)
    a, b = run_identity(**base, preset=""), run_identity(**base, preset="p")
    assert run_id_of(a) != run_id_of(b) and config_id_of(a) != config_id_of(b)


def test_verify_reports_a_changed_value_and_exits_1(tmp_path, run_cli, tiny_bench):
    out = tmp_path / "results"
    assert run_cli("run", "--strategy", "naive", "--out", out, *tiny_bench)[0] == 0
    (path,) = out.glob("*.parquet")
    table = pd.read_parquet(path)
    code, text, _ = run_cli("verify", "--results", out)
    assert code == 0 and "1 of 1 reproduced" in text
    i = table.index[(table["metric"] == "accuracy") & (table["train_exp"] == 1)][0]
    table.loc[i, "value"] += 0.25
    table.to_parquet(path, index=False)
    code, text, _ = run_cli("verify", "--results", out)
    assert code == 1 and "differs" in text and "0.25" in text
    code, text, err = run_cli("verify", "--results", tmp_path / "nowhere")
    assert code == 2 and "folder not found" in err


def test_verify_leaves_out_every_timing_rate_and_memory_row_but_not_accuracy():
    from hippo_bench.verify import is_machine_metric

    for name in ("wall_time_s", "meta_train_seconds", "train_samples_per_s", "peak_rss_mb", "eval_time_s"):
        assert is_machine_metric(name), name
    for name in ("accuracy", "train_accuracy", "meta_train_steps", "percent_active", "learned_lr"):
        assert not is_machine_metric(name), name
