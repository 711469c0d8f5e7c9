"""Releases: which package version made the published results, from which commit, how, and in how long.

Published results (``results/`` and ``reports/runs/``) belong to a release
(docs/DESIGN.md, "Results identity and releases"). Every row records the
package version that made it (``hippo_bench_version``); beside each
published folder a manifest, ``release.json``, records the release, the
commit whose code made the rows, the command that made them, its wall time
on this project's 2-core machine, the environment, and a count of the rows'
own provenance (versions, commits, platforms), so a reader can tell at once
whether a folder is one release made one way. ``CHANGELOG.md`` lists, per
release, every change that moved numbers and by how much.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

MANIFEST = "release.json"


def _first_rows(folder: Path):
    import pandas as pd

    cols = ["run_id", "status", "hippo_bench_version", "git_commit", "torch_version", "numpy_version",
            "avalanche_version", "python_version", "platform", "created_at"]
    frames = []
    for path in sorted(Path(folder).glob("*.parquet")):
        table = pd.read_parquet(path)
        wall = table.loc[table["metric"] == "wall_time_s", "value"]
        first = table[[c for c in cols if c in table.columns]].head(1).copy()
        first["wall_time_s"] = float(wall.iloc[0]) if len(wall) else 0.0
        frames.append(first)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols + ["wall_time_s"])


def manifest_of(folder: Path, *, release: str, commit: str, command: str, wall_time_s: float | None,
                note: str = "") -> dict[str, Any]:
    """The manifest of a published folder, its counts read from the rows themselves."""
    runs = _first_rows(folder)

    def counts(col: str) -> dict[str, int]:
        if col not in runs.columns:
            return {}
        return dict(sorted(collections.Counter(str(v) for v in runs[col]).items()))

    environment = {lib: (sorted(counts(f"{lib}_version")) or [""])[0] if len(counts(f"{lib}_version")) == 1
                   else counts(f"{lib}_version") for lib in ("torch", "numpy", "avalanche", "python")}
    return {
        "release": release,
        "commit": commit,
        "folder": str(folder),
        "command": command,
        "wall_time_s": None if wall_time_s is None else round(float(wall_time_s)),
        "runs": int(len(runs)),
        "process_seconds": round(float(runs["wall_time_s"].sum())) if len(runs) else 0,
        "rows_by_release": counts("hippo_bench_version"),
        "rows_by_commit": counts("git_commit"),
        "environment": environment,
        "platforms": counts("platform"),
        "made_between": [str(runs["created_at"].min()), str(runs["created_at"].max())] if len(runs) else [],
        "note": note,
    }


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    from hippo_bench.results import atomic_write_text

    path = Path(folder) / MANIFEST
    atomic_write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", path)
    return path


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """A folder's release manifest, or None when it has none (or it cannot be read)."""
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------ regeneration
RESULTS = Path("results")
REPORT_RUNS = Path("reports/runs")
REPORTS = Path("reports")
REPORT_SEEDS = 10


def outdated(folder: Path) -> list[tuple[Path, Any]]:
    """(file, spec) of every completed run under ``folder`` that is not yet of this code's release.

    A run is due when its rows are of an older release than the package, or
    when its code key is not the key of the code at hand (made by this
    development version but before a change).
    """
    from hippo_bench.currency import code_key, is_older_release
    from hippo_bench.verify import committed_runs, spec_of

    due = []
    for path, table in committed_runs(folder):
        first = table.iloc[0]
        spec = spec_of(first)
        if is_older_release(str(first.get("hippo_bench_version", ""))) \
                or str(first.get("code_fingerprint", "")) != code_key(spec)[0]:
            due.append((path, spec))
    return due


def regenerate(folder: Path, jobs: int, data_root: Path | None, on_done=None) -> tuple[int, int]:
    """Rerun every outdated run of ``folder`` on ``jobs`` worker processes (the sweep's pool); (done, failed).

    Each fresh file is written atomically under its run_id; the file it
    replaces (named by an older identity scheme) is removed once the fresh one
    exists, so an interrupted regeneration resumes where it stopped.
    """
    from hippo_bench.results import result_path
    from hippo_bench.sweep.executors import run_local
    from hippo_bench.sweep.worker import Job

    due = outdated(folder)
    by_id = {spec.run_id: (path, spec) for path, spec in due}
    done = failed = 0

    def finished(job, result) -> None:
        nonlocal done, failed
        old, _ = by_id[job.run_id]
        if result.status in ("ok", "cached") and result_path(folder, job.run_id).exists():
            done += 1
            if old.resolve() != result_path(folder, job.run_id).resolve() and old.exists():
                old.unlink()
        else:
            failed += 1
        if on_done is not None:
            on_done(job, result)

    # forced: a due file may carry the current code key yet an older release (no code it depends on changed)
    batches = [[Job(run_id, spec, data_root, Path(folder), force=True)] for run_id, (_, spec) in sorted(by_id.items())]
    if batches:
        run_local(batches, jobs, lambda job: None, finished)
    return done, failed


def remove_older(folder: Path) -> list[Path]:
    """Remove the files of ``folder`` made by an older release than the code; returns them.

    Called once a folder's regeneration finished without a failure: every
    configuration the code asks for then has a current file, so what is left
    of an older release is either replaced or asked for by nothing.
    """
    from hippo_bench.currency import is_older_release
    from hippo_bench.verify import committed_runs

    removed = []
    for path, table in committed_runs(folder):
        if is_older_release(str(table["hippo_bench_version"].iloc[0])):
            path.unlink()
            removed.append(path)
    return removed
