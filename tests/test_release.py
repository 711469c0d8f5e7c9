"""`hippo-bench release`: regenerates what an older release made, resumably, and writes the manifest."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from conftest import TINY_BENCH


def _as_older_release(path, new_name=None):
    """Relabel a results file as made by release 0.0.1 (and, with ``new_name``, named as an old scheme would)."""
    table = pd.read_parquet(path)
    table["hippo_bench_version"] = "0.0.1"
    if new_name:
        table["run_id"] = new_name
        path.unlink()
        path = path.with_name(f"{new_name}.parquet")
    table.to_parquet(path, index=False)
    return path


def test_release_regenerates_older_runs_once_and_resumes_where_it_stopped(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results"
    assert run_cli("run", "--strategy", "naive", *TINY_BENCH, "--seeds", "0", "1", "--out", results)[0] == 0
    first, second = sorted(results.glob("*.parquet"))
    _as_older_release(first)
    old_named = _as_older_release(second, new_name="00000000000000ab")  # as 0.1.0 named it (version in run_id)
    parked = tmp_path / "parked.parquet"
    shutil.move(old_named, parked)  # regenerate one run first, the other in a later invocation

    code, out, err = run_cli("release", "--only", "results", "--jobs", "1")
    assert code == 0, err
    assert "1 run(s) not yet made" in out and "1 regenerated, 0 failed" in out
    made = {p.name: p.stat().st_mtime_ns for p in results.glob("*.parquet")}
    assert list(made) == [first.name]
    assert pd.read_parquet(first)["hippo_bench_version"].iloc[0] != "0.0.1"
    manifest = json.loads((results / "release.json").read_text())
    assert manifest["complete"] and manifest["runs"] == 1 and manifest["rows_by_release"] != {"0.0.1": 1}
    assert (tmp_path / "leaderboards" / "split-patterns.md").exists()

    shutil.move(parked, old_named)
    code, out, err = run_cli("release", "--only", "results", "--jobs", "1")
    assert code == 0, err
    assert "1 run(s) not yet made" in out and "1 regenerated" in out
    names = sorted(p.name for p in results.glob("*.parquet"))
    assert names == sorted([first.name, second.name])  # the old-scheme file was replaced under its run_id
    assert first.stat().st_mtime_ns == made[first.name]  # what was done is not redone
    board = (tmp_path / "leaderboards" / "split-patterns.md").read_text()
    assert "older release" not in board

    code, out, _ = run_cli("release", "--only", "results", "--dry-run")
    assert code == 0 and "0 run(s) not yet made" in out
