"""Published targets and whether the results meet them: ``hippo-bench leaderboard check``.

``hippo_bench/targets/published.csv`` (``benchmark/targets/`` in the source
tree) holds one row per target:

- ``benchmark``, ``preset``, ``strategy``, ``metric`` and ``params`` name the
  configuration: the preset's resolved configuration with ``params``
  (``key=value`` pairs separated by ``;``, strategy fields, or
  ``bench.KEY`` / ``model.KEY``) on top. A run matches only when its full
  resolved configuration is that one (benchmark and its parameters, strategy
  parameters, model and its parameters, epochs, batch size, preset); the
  training and benchmark seeds may differ.
- ``value``: the reference value in this suite's units (accuracies as fractions).
- ``rule`` and ``tolerance``: how close is close enough. ``absolute``:
  |ours - value| <= tolerance; ``relative``: |ours - value| <= tolerance x
  |value|; ``interval95``: the difference of the means lies inside the 95%
  interval of a Welch two-sample comparison between our seeds and the
  reference's own seeds (``ref_values``; needs two or more).
- ``source_kind``: ``paper-checked`` (checked against the paper),
  ``paper-unchecked`` (recalled or read off a figure), ``original-code``
  (a re-run of the authors' code; its seed values in ``ref_values``).
  Tables show it as ``paper (checked)``, ``paper (unchecked)`` or
  ``re-run of the original code (n seeds)``.

A target is never met by runs that learned nothing: a run whose final value
is within :data:`LEARNED_MARGIN` of its own before-training value makes the
target "not learned".
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from hippo_bench.errors import DataError, UserError
from hippo_bench.metrics import METRICS
from hippo_bench.results import accuracy_matrix, canonical_json

FIELDS = ("benchmark", "preset", "strategy", "metric", "value", "rule", "tolerance", "source_kind", "ref_values",
          "source", "params")
PROBE_METRICS = {"seen_acc": "train_accuracy"}  # target metric -> tidy metric whose matrix gives it
RULES = ("absolute", "relative", "interval95")
SOURCE_KINDS = {"paper-checked": "paper (checked)", "paper-unchecked": "paper (unchecked)",
                "original-code": "re-run of the original code"}
# A run learned something when its final value exceeds its before-training value by more than this
# (10 points of a 10-way task is far beyond the binomial noise of the test sets used here: about 0.003 on
# 20 x 500 rotated-MNIST test images).
LEARNED_MARGIN = 0.05
# The identity columns a target's configuration fixes (seeds and the package version may differ).
MATCH_COLUMNS = ("benchmark", "benchmark_params", "strategy", "strategy_params", "model", "model_params", "epochs",
                 "train_mb_size", "preset")


@dataclasses.dataclass(frozen=True)
class Target:
    benchmark: str
    preset: str
    strategy: str
    metric: str
    value: float
    rule: str
    tolerance: float
    source_kind: str
    ref_values: tuple[float, ...]
    source: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return ";".join(f"{k}={v}" for k, v in self.params)

    @property
    def source_label(self) -> str:
        text = SOURCE_KINDS[self.source_kind]
        if self.source_kind == "original-code":
            n = len(self.ref_values)
            text += f" ({n} seed{'s' if n != 1 else ''})"
        return text

    @property
    def rule_text(self) -> str:
        if self.rule == "absolute":
            return f"±{self.tolerance:g}"
        if self.rule == "relative":
            return f"±{100 * self.tolerance:g}%"
        return "95% interval"

    def configuration(self) -> dict[str, object]:
        """The resolved configuration a matching run must have (MATCH_COLUMNS, parameters as JSON)."""
        return _configuration(self.preset, self.params)


@functools.lru_cache(maxsize=None)
def _configuration(preset: str, params: tuple[tuple[str, str], ...]) -> dict[str, object]:
    from hippo_bench.params import as_dict
    from hippo_bench.resolve import plan_from

    layer: dict[str, object] = {"preset": preset}
    bench: dict[str, str] = {}
    model: dict[str, str] = {}
    for key, value in params:
        if key.startswith("bench."):
            bench[key[len("bench."):]] = value
        elif key.startswith("model."):
            model[key[len("model."):]] = value
        else:
            layer[key] = value
    if bench:
        layer["benchmark_params"] = bench
    if model:
        layer["model_params"] = model
    plan = plan_from([("target", layer)])
    if not plan.model_name or not plan.batch_size:
        raise DataError(f"target preset {preset!r} must fix the model and the batch size")
    model_config = plan.resolve_model()
    member = plan.members[0]
    return {"benchmark": member.name, "benchmark_params": canonical_json(as_dict(member.config)),
            "strategy": plan.strategy_cls.name, "strategy_params": canonical_json(as_dict(plan.strategy_config)),
            "model": plan.model_name, "model_params": canonical_json(as_dict(model_config)),
            "epochs": plan.epochs, "train_mb_size": plan.batch_size, "preset": preset}


@dataclasses.dataclass(frozen=True)
class RunValue:
    run_id: str
    value: float
    before: float  # the same metric before training (NaN: not recorded)
    older_release: bool = False  # made by an older release than the code (hippo_bench.currency)

    @property
    def learned(self) -> bool:
        return not math.isfinite(self.before) or self.value - self.before > LEARNED_MARGIN


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One target against the matching runs (none: no committed run has its configuration)."""

    target: Target
    runs: tuple[RunValue, ...]

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(r.value for r in self.runs)

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def ours(self) -> float:
        return float(np.mean(self.values)) if self.runs else math.nan

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.n > 1 else math.nan

    @property
    def difference(self) -> float:
        return self.ours - self.target.value

    @property
    def half_width(self) -> float:
        """How far ours may lie from the reference under the target's rule."""
        t = self.target
        if t.rule == "absolute":
            return t.tolerance
        if t.rule == "relative":
            return t.tolerance * abs(t.value)
        return welch_half_width(self.values, t.ref_values)

    @property
    def status(self) -> str:
        """met | missed | not learned | no runs."""
        if not self.runs:
            return "no runs"
        if not all(r.learned for r in self.runs):
            return "not learned"
        return "met" if abs(self.difference) <= self.half_width else "missed"

    @property
    def within(self) -> bool | None:
        return None if not self.runs else self.status == "met"

    @property
    def older_release(self) -> bool:
        """Some matching run was made by an older release: its numbers say nothing about the current code."""
        return any(r.older_release for r in self.runs)


def welch_half_width(ours: tuple[float, ...], ref: tuple[float, ...]) -> float:
    """Half-width of the 95% interval of mean(ours) - mean(ref) (Welch; one run of ours borrows ref's spread)."""
    from scipy import stats

    r = np.asarray(ref, float)
    o = np.asarray(ours, float)
    if len(r) < 2 or len(o) < 1:
        return math.nan
    var_r = r.var(ddof=1)
    var_o = o.var(ddof=1) if len(o) > 1 else var_r
    a, b = var_o / len(o), var_r / len(r)
    se = math.sqrt(a + b)
    if se == 0:
        return 0.0
    dof_o = len(o) - 1 if len(o) > 1 else len(r) - 1
    df = (a + b) ** 2 / ((a * a) / dof_o + (b * b) / (len(r) - 1)) if (a or b) else 1.0
    return float(stats.t.ppf(0.975, df) * se)


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
            rule = row["rule"].strip()
            if rule not in RULES:
                raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
            kind = row["source_kind"].strip()
            if kind not in SOURCE_KINDS:
                raise ValueError(f"source_kind must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
            value = float(row["value"])
            tolerance = float(row["tolerance"]) if (row["tolerance"] or "").strip() else math.nan
            refs = tuple(float(v) for v in (row["ref_values"] or "").split(";") if v.strip())
            if not math.isfinite(value):
                raise ValueError("value must be finite")
            if rule in ("absolute", "relative") and not (math.isfinite(tolerance) and tolerance > 0):
                raise ValueError(f"rule {rule} needs a tolerance > 0")
            if rule == "interval95" and len(refs) < 2:
                raise ValueError("rule interval95 needs two or more ref_values (the reference's own seeds)")
            if kind == "original-code" and not refs:
                raise ValueError("source_kind original-code needs the re-run's seed values in ref_values")
            if refs and abs(float(np.mean(refs)) - value) > 1e-3:
                raise ValueError(f"value {value} is not the mean of ref_values {refs}")
        except (ValueError, TypeError, AttributeError) as exc:
            raise DataError(f"{source}, line {line}: {exc}") from None
        out.append(Target(row["benchmark"], row["preset"], row["strategy"], metric, value, rule, tolerance, kind,
                          refs, row["source"], _parse_params(row["params"], source, line)))
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


def _config_key(record) -> tuple:
    return tuple(str(record[c]) if c not in ("epochs", "train_mb_size") else int(record[c]) for c in MATCH_COLUMNS)


def matching_runs(df: pd.DataFrame, target: Target) -> pd.DataFrame:
    """The ok rows of runs whose resolved configuration is the target's."""
    if df.empty:
        return df
    want = _config_key(target.configuration())
    ok = df[df["status"] == "ok"]
    firsts = ok.drop_duplicates("run_id")
    ids = [r.run_id for r in firsts.itertuples(index=False) if _config_key(r._asdict()) == want]
    return ok[ok["run_id"].isin(ids)]


def run_values(runs: pd.DataFrame, metric: str) -> tuple[RunValue, ...]:
    """The metric of every run with its before-training value (from the same accuracy matrix)."""
    from hippo_bench.currency import older_release_runs

    older = older_release_runs(runs)
    out = []
    tidy = PROBE_METRICS.get(metric, "accuracy")
    info = METRICS.get(metric)
    for run_id, run in runs.groupby("run_id", sort=True):
        try:
            R, b = accuracy_matrix(run, tidy)
        except ValueError:
            continue
        value = float(np.mean(R[-1])) if info is None else info.compute(R, b)
        before = float(np.mean(b)) if b is not None and metric in ("acc", "seen_acc") else math.nan
        if math.isfinite(value):
            out.append(RunValue(str(run_id), value, before, str(run_id) in older))
    return tuple(out)


def compare(df: pd.DataFrame, targets: list[Target]) -> list[Comparison]:
    """Every target with the runs of exactly its configuration."""
    return [Comparison(t, run_values(matching_runs(df, t), t.metric)) for t in targets]


def target_for(targets: list[Target], config: dict, metric: str) -> Target | None:
    """The target of a leaderboard row whose configuration (MATCH_COLUMNS) is ``config``."""
    key = _config_key(config)
    for t in targets:
        if t.metric == metric and t.benchmark == config["benchmark"] and t.preset == config["preset"]:
            try:
                if _config_key(t.configuration()) == key:
                    return t
            except UserError:
                continue
    return None


def check(results_dir: Path, targets_path: Path | None = None) -> list[Comparison]:
    """Compare every result file under ``results_dir`` with the targets."""
    from hippo_bench.results import load_results

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"--results: folder not found: {results_dir}")
    return compare(load_results(results_dir), load_targets(targets_path))


def failing(comparisons: list[Comparison], allow_missing: bool = False) -> list[Comparison]:
    """The comparisons that make ``leaderboard check`` exit 1 (a match made by an older release proves nothing either)."""
    bad = {"missed", "not learned"} | (set() if allow_missing else {"no runs"})
    return [c for c in comparisons if c.status in bad or c.older_release]


def check_table(comparisons: list[Comparison]):
    """A rich table: ours (mean ± std, n), reference and its source, rule, difference, status."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Results against published targets", title_justify="left")
    right = ("ours", "n", "reference", "difference", "allowed")
    for col in ("status", "benchmark", "preset", "strategy", "params", "metric", "ours", "n", "reference", "source",
                "difference", "allowed"):
        table.add_column(col, justify="right" if col in right else "left", no_wrap=col not in ("params", "source"),
                         overflow="fold" if col in ("params", "source") else "ellipsis",
                         min_width={"params": 14, "source": 18}.get(col))
    style = {"met": "green", "missed": "red", "not learned": "red", "no runs": "yellow"}
    for c in comparisons:
        t = c.target
        if c.n:
            ours = f"{c.ours:.4f}" + (f" ± {c.std:.4f}" if c.n > 1 else "")
            diff = f"{c.difference:+.4f}"
        else:
            ours, diff = "—", ""
        allowed = f"±{c.half_width:.4f}" if c.n and math.isfinite(c.half_width) else t.rule_text
        status = f"[{style[c.status]}]{c.status}[/]" + (" [red](older release)[/]" if c.older_release else "")
        table.add_row(status, t.benchmark, t.preset, t.strategy,
                      escape(t.label.replace(";", " ")), t.metric, ours, str(c.n), f"{t.value:.4f}",
                      escape(t.source_label), diff, f"{allowed} ({t.rule})")
    return table
