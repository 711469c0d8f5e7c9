"""Tidy results: one long table per run, written atomically as parquet.

One row per run x train_exp x eval_exp x metric (plus entity/group/lesion for
per-layer and per-projection measures), with the run's identity and
provenance repeated on every row. ``train_exp = -1`` is the evaluation
before training; ``eval_exp = -1`` marks a row not tied to one test
experience (wall time, a layer's % active). Everything else (metrics,
tables, plots) is derived from these rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess

import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from hippo_bench import __version__
from hippo_bench.metrics import summarize

ROW_COLUMNS = ["train_exp", "eval_exp", "metric", "value", "entity", "group", "lesion", "item_a", "item_b"]
# item_a / item_b: the two items of an item-by-item measure (a CLS layer's pattern correlations); -1 otherwise.
IDENTITY_COLUMNS = [
    "run_id", "config_id", "status", "note", "benchmark", "benchmark_params", "benchmark_seed",
    "strategy", "strategy_params", "model", "model_params", "seed", "epochs", "train_mb_size",
    "preset", "hippo_bench_version",
]
# hippo_bench_version is the release (or development version) that made the run: shown with the identity, but
# not part of run_id or config_id, so a release regenerates a configuration's file in place.
RELEASE_COLUMN = "hippo_bench_version"
PROVENANCE_COLUMNS = ["code_fingerprint", "code_files", "torch_version", "avalanche_version", "numpy_version",
                      "python_version", "platform", "host", "git_commit", "git_dirty", "created_at"]
# How the code that made a run describes its protocol, so boards and pages are rendered from the rows alone (no
# registry import): the benchmark's description and what its ACC measures, and the strategy's default parameters
# (a board's "variant" column names the parameters that differ from them).
WORDING_COLUMNS = ["benchmark_description", "acc_meaning", "strategy_defaults"]
# Provenance is compared by code key only: the rest says where and when a run was made.
COLUMNS = IDENTITY_COLUMNS + PROVENANCE_COLUMNS + WORDING_COLUMNS + ROW_COLUMNS


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_identity(*, benchmark: str, benchmark_params: dict, benchmark_seed: int, strategy: str,
                 strategy_params: dict, model: str, model_params: dict, seed: int, epochs: int,
                 train_mb_size: int, preset: str = "") -> dict:
    """The resolved configuration that names a run (its hash is the run_id); the release is not part of it."""
    return {
        "benchmark": benchmark, "benchmark_params": canonical_json(benchmark_params),
        "benchmark_seed": int(benchmark_seed), "strategy": strategy,
        "strategy_params": canonical_json(strategy_params), "model": model,
        "model_params": canonical_json(model_params), "seed": int(seed), "epochs": int(epochs),
        "train_mb_size": int(train_mb_size), "preset": preset,
    }


IDENTITY_KEYS = ("benchmark", "benchmark_params", "benchmark_seed", "strategy", "strategy_params", "model",
                 "model_params", "seed", "epochs", "train_mb_size", "preset")


def identity_of_row(first) -> dict:
    """The identity a stored row names (its columns), as :func:`run_identity` builds it now."""
    return run_identity(
        benchmark=str(first["benchmark"]), benchmark_params=json.loads(first["benchmark_params"] or "{}"),
        benchmark_seed=int(first["benchmark_seed"]), strategy=str(first["strategy"]),
        strategy_params=json.loads(first["strategy_params"] or "{}"), model=str(first["model"]),
        model_params=json.loads(first["model_params"] or "{}"), seed=int(first["seed"]), epochs=int(first["epochs"]),
        train_mb_size=int(first["train_mb_size"]), preset=str(first.get("preset", "") or ""))


def _hash(d: dict) -> str:
    return hashlib.sha256(canonical_json(d).encode()).hexdigest()[:16]


def run_id_of(identity: dict) -> str:
    """Hash of the whole resolved configuration, preset label included."""
    return _hash(identity)


def config_id_of(identity: dict) -> str:
    """Hash of everything but the training seed: runs that differ only in seed share it."""
    return _hash({k: v for k, v in identity.items() if k != "seed"})


# The source folders whose uncommitted edits make a run's git_commit untrustworthy, when the run does not
# say which files its code is (a row without a code record).
SOURCE_DIRS = ("benchmark", "strategies", "models", "pyproject.toml")


def code_paths(code_detail: str) -> list[str]:
    """Source files of the modules a run's code record names (see hippo_bench.fingerprint.code_identity)."""
    from hippo_bench.fingerprint import source_of

    try:
        modules = json.loads(code_detail or "{}").get("files", {})
    except ValueError:
        return []
    return sorted(p for p in (source_of(m) for m in modules) if p)


def git_state(paths: list[str] | None = None) -> tuple[str, str]:
    """(short commit, "true"/"false"), or ("", "") outside git.

    Dirty means that a file of ``paths`` (the run's own code files) differs from HEAD or is not committed at
    all; without ``paths``, any uncommitted edit in the source folders. Edits elsewhere (reports, another
    strategy's module) do not touch the run's numbers and leave it clean.
    """
    here = Path(paths[0]).resolve().parent if paths else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=5)
        if head.returncode != 0:
            return "", ""
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, text=True,
                             timeout=5).stdout.strip()
        which = ["--untracked-files=all", "--", *paths] if paths else ["--untracked-files=no", "--", *SOURCE_DIRS]
        status = subprocess.run(["git", "status", "--porcelain", *which],
                                cwd=top or here, capture_output=True, text=True, timeout=10)
        dirty = "true" if status.stdout.strip() else "false"
        return head.stdout.strip(), dirty if status.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return "", ""


def provenance(code: tuple[str, str] = ("", "")) -> dict:
    """Where, when and with what code a run was made; ``code`` is (fingerprint, detail) from hippo_bench.fingerprint."""
    from hippo_bench.fingerprint import library_versions

    versions = library_versions()
    commit, dirty = git_state(code_paths(code[1]) or None)
    return {
        "code_fingerprint": code[0], "code_files": code[1],
        "torch_version": versions["torch"], "avalanche_version": versions["avalanche"],
        "numpy_version": versions["numpy"],
        "python_version": platform.python_version(), "platform": platform.platform(terse=True),
        "host": socket.gethostname(), "git_commit": commit, "git_dirty": dirty,
        "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    }


def make_table(identity: dict, rows: Iterable[dict], *, status: str = "ok", note: str = "",
               prov: dict | None = None, code: tuple[str, str] = ("", "")) -> pd.DataFrame:
    """The tidy table of a run: measurement rows with identity and provenance columns."""
    body = pd.DataFrame(list(rows), columns=ROW_COLUMNS)
    if body.empty:
        body = pd.DataFrame([{"train_exp": -1, "eval_exp": -1, "metric": status, "value": np.nan,
                              "entity": "", "group": "", "lesion": "", "item_a": -1, "item_b": -1}])
    for col in ("item_a", "item_b"):
        body[col] = body[col].fillna(-1)
    body = body.astype({"train_exp": "int64", "eval_exp": "int64", "value": "float64", "item_a": "int64",
                        "item_b": "int64"})
    for col in ("entity", "group", "lesion", "metric"):
        body[col] = body[col].fillna("").astype(str)
    head = {**identity, "run_id": run_id_of(identity), "config_id": config_id_of(identity),
            "status": status, "note": note, RELEASE_COLUMN: __version__, **provenance(code), **(prov or {})}
    for col in IDENTITY_COLUMNS + PROVENANCE_COLUMNS + WORDING_COLUMNS:
        body[col] = head.get(col, "")
    return body[COLUMNS]


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write via a temporary file in the same folder and rename: all or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(text: str, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def result_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / f"{run_id}.parquet"


def failure_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / "failed" / f"{run_id}.json"


def record_failure(out_dir: Path, identity: dict, error: str, code: tuple[str, str] = ("", ""),
                   wording: dict | None = None) -> Path:
    """A failed run is recorded as JSON beside the results, never as a partial parquet."""
    path = failure_path(out_dir, run_id_of(identity))
    prov = {k: v for k, v in provenance(code).items() if k != "code_files"} | dict(wording or {})
    atomic_write_text(json.dumps({**identity, "run_id": run_id_of(identity), RELEASE_COLUMN: __version__,
                                  "status": "failed",
                                  "error": error, **prov}, indent=2, sort_keys=True), path)
    return path


def load_results(paths: Iterable[Path] | Path) -> pd.DataFrame:
    """Concatenate result files (a folder is searched recursively for *.parquet)."""
    if isinstance(paths, (str, Path)):
        root = Path(paths)
        files = sorted(root.rglob("*.parquet")) if root.is_dir() else [root]
    else:
        files = sorted(Path(p) for p in paths)
    frames = [pd.read_parquet(f) for f in files]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def accuracy_matrix(run: pd.DataFrame, metric: str = "accuracy", lesion: str = "") -> tuple[np.ndarray, np.ndarray | None]:
    """R (T x T) and the before-training row b (or None) of one run's rows."""
    acc = run[(run["metric"] == metric) & (run["eval_exp"] >= 0) & (run["lesion"] == lesion)]
    if acc.empty:
        raise ValueError(f"run has no {metric!r} rows")
    T = int(acc["eval_exp"].max()) + 1
    R = np.full((T, T), np.nan)
    b = None
    for row in acc.itertuples(index=False):
        if row.train_exp == -1:
            if b is None:
                b = np.full(T, np.nan)
            b[row.eval_exp] = row.value
        elif row.train_exp < T:
            R[row.train_exp, row.eval_exp] = row.value
    return R, b


def run_summaries(df: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """One row per ok run: identity columns plus ACC, LA, BWT, BTI, forgetting, FWT."""
    out = []
    ok = df[df["status"] == "ok"]
    for run_id, run in ok.groupby("run_id", sort=True):
        try:
            R, b = accuracy_matrix(run, metric)
        except ValueError:
            continue
        if np.isnan(R[-1]).all():
            continue
        first = run.iloc[0]
        rec = {c: first[c] for c in IDENTITY_COLUMNS}
        rec.update(summarize(R, b))
        for scalar in ("wall_time_s", "train_samples_per_s", "peak_rss_mb"):
            vals = run.loc[run["metric"] == scalar, "value"]
            rec[scalar] = float(vals.iloc[-1]) if len(vals) else float("nan")
        out.append(rec)
    return pd.DataFrame(out)


