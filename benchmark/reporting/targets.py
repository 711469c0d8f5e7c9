"""Published targets and how the committed results compare with them.

``hippo_bench/targets/published.csv`` (``benchmark/targets/`` in the source
tree) holds one row per (benchmark, preset, strategy, metric, params): the
published value in this suite's units (accuracies as fractions), the tolerance
within which a reproduction counts as matching, whether the value was checked
against the paper (``yes``/``no``), its source, and optionally ``params``:
strategy parameters a sweep cell fixes (``key=value`` pairs separated by
``;``, e.g. ``condition=both;alpha_init=0.001``). A result matches a target
when it was run with that preset and strategy on that benchmark and its
strategy parameters agree with ``params``.

Metrics: the accuracy-matrix summaries of :mod:`hippo_bench.metrics`
(``acc``, ``bti``, ...) and ``seen_acc``, the final average of the
``train_accuracy`` probe (OML's accuracy on the studied images).
"""

from __future__ import annotations

import csv
import json
import dataclasses
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from hippo_bench.errors import DataError, UserError
from hippo_bench.metrics import METRICS
from hippo_bench.results import accuracy_matrix, run_summaries

FIELDS = ("benchmark", "preset", "strategy", "metric", "value", "tolerance", "checked", "source", "params")
PROBE_METRICS = {"seen_acc": "train_accuracy"}  # target metric -> tidy metric whose matrix gives it


@dataclasses.dataclass(frozen=True)
class Target:
    benchmark: str
    preset: str
    strategy: str
    metric: str
    value: float
    tolerance: float
    checked: bool
    source: str
    params: tuple[tuple[str, str], ...] = ()  # strategy parameters the target's sweep cell fixes

    @property
    def label(self) -> str:
        return ";".join(f"{k}={v}" for k, v in self.params)

    def matches(self, strategy_params: dict) -> bool:
        """Whether a run's strategy parameters agree with this target's ``params``."""
        for key, text in self.params:
            if key not in strategy_params:
                return False
            value = strategy_params[key]
            try:
                if not math.isclose(float(value), float(text), rel_tol=1e-9, abs_tol=0.0):
                    return False
            except (TypeError, ValueError):
                if str(value) != text:
                    return False
        return True


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One target against the mean of the matching runs (``n`` = 0: none committed)."""

    target: Target
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def ours(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else math.nan

    @property
    def difference(self) -> float:
        return self.ours - self.target.value

    @property
    def within(self) -> bool | None:
        return None if not self.values else abs(self.difference) <= self.target.tolerance


def default_targets_path():
    return resources.files("hippo_bench").joinpath("targets", "published.csv")


def load_targets(path: Path | None = None) -> list[Target]:
    """Read and validate a targets file; a bad file is one DataError naming the line."""
    source = Path(path) if path is not None else default_targets_path()
    if path is not None and not Path(path).is_file():
        raise UserError(f"--targets: file not found: {path}")
    text = source.read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != FIELDS:
        raise DataError(f"{source}: header must be {','.join(FIELDS)}")
    out = []
    for line, row in enumerate(reader, start=2):
        try:
            metric = row["metric"]
            if metric not in METRICS and metric not in PROBE_METRICS:
                raise ValueError(f"unknown metric {metric!r}")
            checked = row["checked"].strip().lower()
            if checked not in ("yes", "no"):
                raise ValueError(f"checked must be yes or no, got {row['checked']!r}")
            value, tolerance = float(row["value"]), float(row["tolerance"])
            if not (math.isfinite(value) and math.isfinite(tolerance) and tolerance >= 0):
                raise ValueError("value and tolerance must be finite, tolerance >= 0")
        except (ValueError, TypeError, AttributeError) as exc:
            raise DataError(f"{source}, line {line}: {exc}") from None
        out.append(Target(row["benchmark"], row["preset"], row["strategy"], metric, value, tolerance,
                          checked == "yes", row["source"], _parse_params(row["params"], source, line)))
    return out


def _parse_params(text: str | None, source, line: int) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise DataError(f"{source}, line {line}: params must be key=value pairs separated by ';', got {text!r}")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def run_values(runs: pd.DataFrame, metric: str) -> tuple[float, ...]:
    """The metric of every ok run in ``runs`` (one value per run, NaN-free, by run_id)."""
    ok = runs[runs["status"] == "ok"]
    if ok.empty:
        return ()
    if metric in PROBE_METRICS:
        values = []
        for _, run in ok.groupby("run_id", sort=True):
            try:
                R, _ = accuracy_matrix(run, PROBE_METRICS[metric])
            except ValueError:
                continue
            values.append(float(np.mean(R[-1])))
    else:
        summaries = run_summaries(ok)
        values = list(summaries[metric]) if not summaries.empty else []
    return tuple(v for v in values if math.isfinite(v))


def compare(df: pd.DataFrame, targets: list[Target]) -> list[Comparison]:
    """Every target with the matching results (same benchmark, preset and strategy)."""
    out = []
    for t in targets:
        if df.empty:
            out.append(Comparison(t, ()))
            continue
        runs = df[(df["benchmark"] == t.benchmark) & (df["preset"] == t.preset) & (df["strategy"] == t.strategy)]
        if t.params and not runs.empty:
            runs = runs[runs["strategy_params"].map(lambda text: t.matches(json.loads(text)))]
        out.append(Comparison(t, run_values(runs, t.metric)))
    return out


def published_for(targets: list[Target], benchmark: str, strategy: str, preset: str, metric: str,
                  strategy_params: dict | None = None) -> Target | None:
    """The target a leaderboard row with this benchmark, strategy, preset (and parameters) is compared with."""
    for t in targets:
        if (t.benchmark, t.strategy, t.preset, t.metric) == (benchmark, strategy, preset, metric) \
                and t.matches(strategy_params or {}):
            return t
    return None


def check(results_dir: Path, targets_path: Path | None = None) -> list[Comparison]:
    """Compare every result file under ``results_dir`` with the targets."""
    from hippo_bench.results import load_results

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"--results: folder not found: {results_dir}")
    return compare(load_results(results_dir), load_targets(targets_path))


def check_table(comparisons: list[Comparison]):
    """A rich table: ours (mean ± std, n), target, difference, within tolerance, checked against the paper."""
    from rich.table import Table

    table = Table(title="Results against published targets", title_justify="left")
    for col in ("benchmark", "preset", "strategy", "params", "metric", "ours", "n", "target", "difference",
                "tolerance", "within", "checked"):
        table.add_column(col, justify="right" if col in ("ours", "n", "target", "difference", "tolerance") else "left",
                         no_wrap=col != "params", overflow="fold" if col == "params" else "ellipsis")
    for c in comparisons:
        t = c.target
        if c.n:
            ours = f"{c.ours:.4f}" + (f" ± {c.std:.4f}" if c.n > 1 else "")
            diff, within = f"{c.difference:+.4f}", "yes" if c.within else "no"
        else:
            ours, diff, within = "no results", "", "—"
        table.add_row(t.benchmark, t.preset, t.strategy, t.label.replace(";", " "), t.metric, ours, str(c.n), f"{t.value:.4f}", diff,
                      f"{t.tolerance:.4f}", within, "yes" if t.checked else "no")
    return table
