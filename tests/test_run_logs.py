"""Loggers: what a run records reaches Avalanche's TensorBoard, CSV, text and W&B loggers, per experience."""

from __future__ import annotations

import csv

import pytest

import hippo_bench
from hippo_bench.run_logs import LogRequest, metric_name

PATTERNS = {"n_classes": 6, "classes_per_exp": 2, "dim": 16, "train_per_class": 10, "test_per_class": 5}


def _run(tmp_path, loggers):
    return hippo_bench.run("meta-hippo", benchmark="split-patterns", model="mlp2", seeds=[0], loggers=loggers,
                           log_dir=tmp_path / "logs", benchmark_params=PATTERNS, model_params={"hidden": [12, 12]})


def _recorded(df, metric, entity):
    rows = df[(df["metric"] == metric) & (df["entity"] == entity) & (df["lesion"] == "")]
    return {int(t) + 1: float(v) for t, v in zip(rows["train_exp"], rows["value"])}


def test_tensorboard_csv_and_text_logs_hold_percent_active_and_learned_lr_per_experience(tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard is an optional extra (pip install tensorboard)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    df = _run(tmp_path, ["tensorboard", "csv", "text"])
    (folder,) = (tmp_path / "logs").iterdir()
    assert folder.name == df["run_id"].iloc[0]
    active, lr = _recorded(df, "percent_active", "h1"), _recorded(df, "learned_lr", "input->h1")
    assert sorted(active) == [0, 1, 2, 3] and len(set(lr.values())) > 1  # before training and after 3 experiences

    events = EventAccumulator(str(folder / "tensorboard"))
    events.Reload()
    for name, recorded in (("hippo/percent_active/h1", active), ("hippo/learned_lr/input->h1", lr)):
        logged = {e.step: e.value for e in events.Scalars(name)}
        assert logged == pytest.approx(recorded, rel=1e-6)  # float32 in the event file

    with open(folder / "csv" / "metrics.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)]
    by_name: dict[str, dict[int, float]] = {}
    for r in rows:
        by_name.setdefault(r["name"], {})[int(r["x"])] = float(r["value"])
    assert by_name["hippo/percent_active/h1"] == active and by_name["hippo/learned_lr/input->h1"] == lr
    assert by_name["hippo/accuracy/exp002"][3] == float(
        df[(df["metric"] == "accuracy") & (df["train_exp"] == 2) & (df["eval_exp"] == 2)]["value"].iloc[0])
    text = (folder / "log.txt").read_text()
    assert "hippo/percent_active/h1" in text and "hippo/learned_lr/h1->h2" in text


def test_wandb_logs_offline_without_network(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    df = _run(tmp_path, ["wandb"])
    run_id = df["run_id"].iloc[0]
    (record,) = (tmp_path / "logs" / run_id / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb")
    data = record.read_bytes()
    assert b"hippo/percent_active/h1" in data and b"hippo/learned_lr/input->h1" in data


def test_names_and_bad_requests():
    assert metric_name(dict(metric="accuracy", entity="", lesion="", eval_exp=3)) == "hippo/accuracy/exp003"
    assert metric_name(dict(metric="category_accuracy", entity="", lesion="small", eval_exp=0)) == \
        "hippo/category_accuracy/lesion-small/exp000"
    assert metric_name(dict(metric="learned_lr", entity="h1->h2", lesion="", eval_exp=-1)) == "hippo/learned_lr/h1->h2"
    assert LogRequest.of(None, "x") is None
    with pytest.raises(Exception, match="unknown logger 'tensorbord'; choose from text, csv, tensorboard, wandb"):
        LogRequest.of(["tensorbord"], "x")
    with pytest.raises(ValueError, match="unknown logger"):
        hippo_bench.run("naive", benchmark="split-patterns", loggers=["nope"], benchmark_params=PATTERNS)


def test_a_missing_logger_package_is_one_clear_message(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(Exception, match=r"--log tensorboard: the tensorboard package is not installed; pip install"):
        LogRequest.of(["tensorboard"], "x")
