"""Rerun committed results with the code at hand and compare them row by row.

A results file holds its full resolved configuration (identity columns), so
the run can be rebuilt from it alone: :func:`spec_of` turns the identity back
into a :class:`~hippo_bench.runner.RunSpec` (fields added to a Config since
then take their defaults). :func:`verify_run` reruns it without writing and
reports the largest difference over every recorded value except timings and
memory; ``regenerate`` writes the fresh run in place of the old file.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from hippo_bench.errors import UserError

# Rows that measure the machine, not the method: never compared. Besides these names, any metric named like a
# duration, a rate or a memory reading (a strategy's own timing, e.g. OML's meta_train_seconds) is left out.
MACHINE_METRICS = frozenset({"train_time_s", "wall_time_s", "train_time_s_total", "train_cpu_time_s",
                             "train_samples_per_s", "run_samples_per_s", "peak_rss_mb", "meta_train_seconds"})
MACHINE_SUFFIXES = ("_seconds", "_time_s", "_per_s", "_rss_mb")


def is_machine_metric(name: str) -> bool:
    return name in MACHINE_METRICS or name.endswith(MACHINE_SUFFIXES)
KEY = ["train_exp", "eval_exp", "metric", "entity", "group", "lesion", "item_a", "item_b"]
# Float noise: values agree when |a - b| <= ATOL + RTOL * |b|.
ATOL, RTOL = 1e-6, 1e-5


@dataclasses.dataclass
class Verdict:
    """One committed run against its rerun."""

    run_id: str
    label: str
    status: str  # reproduced | differs | failed | skipped
    max_diff: float = math.nan
    worst: str = ""  # the row with the largest difference
    n_compared: int = 0
    detail: str = ""
    new_run_id: str = ""
    seconds: float = math.nan


def _params(config_cls: type, text: str, what: str) -> object:
    from hippo_bench.params import build_config

    values = json.loads(text or "{}")
    return build_config(config_cls, (what, values))


def spec_of(first: pd.Series):
    """The RunSpec that made a results file, from its identity columns."""
    from hippo_bench.models import models
    from hippo_bench.runner import RunSpec
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import benchmarks

    strategy_cls = strategies.get(str(first["strategy"]))
    bench_cls = benchmarks.get(str(first["benchmark"]))
    model_cls = models.get(str(first["model"]))
    run_id = first["run_id"]
    return RunSpec(
        benchmark=str(first["benchmark"]),
        benchmark_config=_params(bench_cls.Config, first["benchmark_params"], f"{run_id} benchmark_params"),
        strategy=strategy_cls,
        strategy_config=_params(strategy_cls.Config, first["strategy_params"], f"{run_id} strategy_params"),
        model=str(first["model"]), model_config=_params(model_cls.Config, first["model_params"],
                                                        f"{run_id} model_params"),
        seed=int(first["seed"]), benchmark_seed=int(first["benchmark_seed"]), epochs=int(first["epochs"]),
        train_mb_size=int(first["train_mb_size"]), preset=str(first.get("preset", "") or ""))


def method_rows(df: pd.DataFrame) -> pd.Series:
    """Values keyed by their row identity (a repeated key is told apart by its order of appearance)."""
    df = df[~df["metric"].map(is_machine_metric)].copy()
    for col in ("item_a", "item_b"):
        if col not in df.columns:
            df[col] = -1
    df["occurrence"] = df.groupby(KEY, sort=False).cumcount()
    return df.set_index(KEY + ["occurrence"])["value"]


@dataclasses.dataclass
class Comparison:
    max_diff: float  # largest |committed - rerun| over rows both have (inf: a row exists in one only)
    worst: str  # the row of the largest difference
    n_compared: int
    reproduced: bool  # same rows, every value within float noise (ATOL + RTOL |value|)
    detail: str = ""


def compare_tables(old: pd.DataFrame, new: pd.DataFrame) -> Comparison:
    """Committed rows against rerun rows, timings and memory left out."""
    a, b = method_rows(old), method_rows(new)
    only_a = [str(k) for k in a.index.difference(b.index)[:3]]
    only_b = [str(k) for k in b.index.difference(a.index)[:3]]
    both = a.index.intersection(b.index)
    detail = f"rows only in the committed file: {only_a}; only in the rerun: {only_b}" if only_a or only_b else ""
    if len(both) == 0:
        return Comparison(math.inf, "", 0, False, detail or "no rows in common")
    av, bv = a.loc[both].to_numpy(float), b.loc[both].to_numpy(float)
    both_nan = np.isnan(av) & np.isnan(bv)
    diff = np.where(both_nan, 0.0, np.abs(av - bv))
    diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only
    i = int(np.argmax(diff))
    worst = ", ".join(f"{k}={v}" for k, v in zip(KEY, both[i]) if v not in ("", -1)) if diff[i] > 0 else ""
    worst = worst.replace(", occurrence=0", "")
    close = np.isclose(av, bv, rtol=RTOL, atol=ATOL, equal_nan=True)
    max_diff = math.inf if (only_a or only_b) else float(diff[i])
    return Comparison(max_diff, worst, len(both), bool(close.all()) and not (only_a or only_b), detail)


def committed_runs(results_dir: Path) -> list[tuple[Path, pd.DataFrame]]:
    """(file, table) of every ok results file under the folder, sorted by file name."""
    out = []
    for path in sorted(Path(results_dir).glob("*.parquet")):
        try:
            table = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - a corrupt file is reported, not fatal
            raise UserError(f"{path}: not a readable results file ({type(exc).__name__})") from None
        if not table.empty and (table["status"] == "ok").all():
            out.append((path, table))
    return out


def run_seconds(table: pd.DataFrame) -> float:
    wall = table.loc[table["metric"] == "wall_time_s", "value"]
    return float(wall.iloc[0]) if len(wall) else math.inf


def label_of(first: pd.Series) -> str:
    preset = f" [{first['preset']}]" if first.get("preset") else ""
    return f"{first['strategy']} · {first['benchmark']}{preset} · seed {first['seed']}"


def verify_run(path: Path, table: pd.DataFrame, *, rewrite: bool = False, out_dir: Path | None = None) -> Verdict:
    """Rerun one committed run with the code at hand; with ``rewrite`` the fresh run replaces the file."""
    import time

    from hippo_bench.launch import run_specs
    from hippo_bench.runner import build_instance
    from hippo_bench.tasks import benchmarks

    first = table.iloc[0]
    v = Verdict(str(first["run_id"]), label_of(first), "failed")
    try:
        spec = spec_of(first)
    except UserError as exc:
        v.detail = f"cannot rebuild the configuration: {exc}"
        return v
    if rewrite and out_dir is not None:  # resumable: a run already regenerated by this code is not redone
        from hippo_bench.currency import CURRENT, state_of

        if state_of(out_dir, spec)[0] == CURRENT:
            v.status, v.new_run_id, v.detail = "exists", spec.run_id, "already regenerated in the output folder"
            return v
    t0 = time.perf_counter()
    instance = build_instance(benchmarks.get(spec.benchmark), spec.benchmark_config, spec.benchmark_seed,
                              _data_root())
    (outcome,) = run_specs([spec], [instance], None)
    v.seconds = time.perf_counter() - t0
    if outcome.status != "ok":
        v.status, v.detail = outcome.status, (outcome.error or "").splitlines()[0] if outcome.error else outcome.status
        return v
    c = compare_tables(table, outcome.table)
    v.max_diff, v.worst, v.n_compared, v.detail = c.max_diff, c.worst, c.n_compared, c.detail
    v.status = "reproduced" if c.reproduced else "differs"
    v.new_run_id = str(outcome.table["run_id"].iloc[0])
    if rewrite:
        from hippo_bench.results import atomic_write_parquet, result_path

        target_dir = out_dir or path.parent
        atomic_write_parquet(outcome.table, result_path(target_dir, v.new_run_id))
        if v.new_run_id != v.run_id and path.parent == target_dir:
            path.unlink()
    return v


def _data_root():
    from hippo_bench.data_root import resolve_data_root

    return resolve_data_root(None)
