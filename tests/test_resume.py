"""Resumable runs: a run killed with SIGKILL after an experience resumes and records the same rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from hippo_bench import checkpoint
from hippo_bench.models import models
from hippo_bench.results import result_path
from hippo_bench.runner import NoProgress, RunSpec, execute
from hippo_bench.strategies import strategies
from hippo_bench.tasks import benchmarks
from hippo_bench.verify import is_machine_metric

# 4 experiences of 2 classes each.
TINY = dict(n_classes=8, classes_per_exp=2, dim=16, train_per_class=10, test_per_class=5)
KILL_AFTER = 2  # SIGKILL once the checkpoint before experience 2 (of 0..3) is on disk

# case -> (strategy, model, strategy params)
RESUMABLE = {
    "naive": ("naive", "mlp", {}),
    "naive-momentum": ("naive", "mlp", {"momentum": 0.9}),  # optimizer state must survive the restart
    "meta-hippo": ("meta-hippo", None, {"buffer_size": 8}),
    "la-maml": ("la-maml", None, {"buffer_size": 8, "glances": 2}),
    "mer": ("mer", None, {"buffer_size": 8, "replay_batch": 2}),
    "meta-hippo-gated": ("meta-hippo-gated", "mlp2", {"buffer_size": 8, "gate_lr": 0.5}),  # adds parameters
    # its separate readout learner is a hook of the loop, not a plugin with state of its own
    "meta-hippo-frozen-readout": ("meta-hippo-frozen-readout", "mlp2", {"buffer_size": 8, "readout": "separate",
                                                                        "alpha_lr": 0.01}),
}


def make_run(case: str, seed: int = 3):
    bench_cls = benchmarks.get("split-patterns")
    config = bench_cls.Config(**TINY)
    instance = bench_cls(config).build(0, None)
    strategy_name, model, overrides = RESUMABLE.get(case, (case, "mlp", {}))
    strategy = strategies.get(strategy_name)
    model = model or strategy.default_model or "mlp"
    spec = RunSpec(benchmark="split-patterns", benchmark_config=config, strategy=strategy,
                   strategy_config=strategy.Config(**overrides), model=model,
                   model_config=models.get(model).Config(), seed=seed, train_mb_size=4)
    return spec, instance


def killed_run(case: str, out: str) -> None:
    """Run in a child process: SIGKILL itself right after the checkpoint before experience KILL_AFTER."""
    real_save = checkpoint.save

    def save_then_die(out_dir, run_id, fingerprint, template, progress):
        path = real_save(out_dir, run_id, fingerprint, template, progress)
        if progress["next_experience"] == KILL_AFTER:
            os.kill(os.getpid(), signal.SIGKILL)
        return path

    checkpoint.save = save_then_die
    spec, instance = make_run(case)
    execute(spec, instance, Path(out))


class TrainedExperiences(NoProgress):
    def __init__(self):
        self.trained: list[int] = []

    def start_experience(self, k, n_samples):
        self.trained.append(k)


def _comparable(table: pd.DataFrame) -> pd.DataFrame:
    keep = table[~table["metric"].map(is_machine_metric)]
    cols = ["train_exp", "eval_exp", "metric", "entity", "group", "lesion", "value"]
    return keep[cols].reset_index(drop=True)


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_killed_run_resumes_to_identical_rows(name, tmp_path):
    spec, instance = make_run(name)
    whole = execute(spec, instance, tmp_path / "whole")
    assert whole.status == "ok", whole.error
    assert not checkpoint.path_of(tmp_path / "whole", spec.run_id).exists()  # removed with the parquet

    out = tmp_path / "killed"
    here = Path(__file__).parent
    child = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(here)!r}); import test_resume as t; "
                               f"t.killed_run({name!r}, {str(out)!r})"],
        capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert checkpoint.path_of(out, spec.run_id).exists()
    assert not result_path(out, spec.run_id).exists()  # killed: no results file

    progress = TrainedExperiences()
    resumed = execute(spec, instance, out, progress=progress)
    assert resumed.status == "ok", resumed.error
    assert progress.trained == [2, 3]  # experiences 0 and 1 came from the checkpoint
    assert not checkpoint.path_of(out, spec.run_id).exists()
    pd.testing.assert_frame_equal(_comparable(resumed.table), _comparable(whole.table))
    # The samples counted across the interruption are those of the whole run.
    samples = lambda t: float(t.loc[t["metric"] == "train_samples", "value"].iloc[0])  # noqa: E731
    assert samples(resumed.table) == samples(whole.table) > 0


def test_a_run_with_a_checkpoint_from_other_code_starts_again(tmp_path):
    spec, instance = make_run("naive")
    model = torch.nn.Linear(1, 1)

    class Template:  # a stand-in with the attributes checkpoint.save reads
        optimizer = None

        def __init__(self):
            self.model = model

    checkpoint.save(tmp_path, spec.run_id, "other-code", Template(),
                    dict(rows=[], next_experience=3, train_time_s=0.0, train_cpu_time_s=0.0,
                         train_samples=0, wall_time_s=0.0))
    progress = TrainedExperiences()
    with pytest.warns(UserWarning, match="made by other code"):
        outcome = execute(spec, instance, tmp_path, progress=progress)
    assert outcome.status == "ok"
    assert progress.trained == [0, 1, 2, 3]


def test_a_corrupt_checkpoint_is_ignored_with_a_warning(tmp_path):
    spec, instance = make_run("naive")
    path = checkpoint.path_of(tmp_path, spec.run_id)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    progress = TrainedExperiences()
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        outcome = execute(spec, instance, tmp_path, progress=progress)
    assert outcome.status == "ok"
    assert progress.trained == [0, 1, 2, 3]
    assert not path.exists()


def test_strategies_with_hidden_plugin_state_write_no_checkpoint(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(checkpoint, "save", lambda *a, **k: saved.append(a))
    for name in ("ewc", "replay", "naive"):
        spec, instance = make_run(name)
        assert execute(spec, instance, tmp_path).status == "ok"
    assert len(saved) == 3  # naive only: after experiences 0, 1 and 2


def test_unsupported_names_the_reason():
    class Plugin:
        pass

    class Naive:  # the name is what the lookup uses
        plugins = [Plugin()]

    assert "Plugin" in checkpoint.unsupported(Naive())
    assert "whole stream" in checkpoint.unsupported(Naive(), trains_jointly=True)
    assert "not known" in checkpoint.unsupported(object())
