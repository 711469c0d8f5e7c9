"""Leaderboards: one table per benchmark, one row per configuration, mean ± std over seeds.

Derived only from the tidy results (docs/DESIGN.md section 2). Runs that differ
only in their training seed share a ``config_id`` and form one row; the
"variant" column names what sets a row apart: the strategy parameters that
differ from the strategy's defaults, plus any other setting (model or
benchmark parameter, epochs, batch size, benchmark seed, version) that is not
the same for every row of the table. Settings shared by every row are stated
once above the table.

Fair comparison: rows are compared on the seed set they share. The board's
seed set is the most common set of training seeds among its rows; a row
that has more seeds is shown on the shared ones (its extra seeds are listed
below the table), a row that lacks some of them is shown on its own seeds
and marked, and takes no part in the tests. A cell is bold only when its row
beats the runner-up on the shared seeds by a paired t-test at p < 0.05;
rows not significantly different from the best are marked as tied (≈).
The caption says which release made the rows; a row made by an older
release than the code is marked with its release (hippo_bench.currency
decides, from the rows alone).

The output is a pure function of the results and the code: no timestamps, no
paths, a stable sort with tie-breakers and fixed float formatting, so
regenerating from the same results gives byte-identical files (a test checks
this against the committed ``leaderboards/``).
"""

from __future__ import annotations

import dataclasses
import html
import re
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from hippo_bench.errors import UserError
from hippo_bench.metrics import METRICS
from hippo_bench.reporting import brain_score
from hippo_bench.results import atomic_write_text, canonical_json, load_results, run_summaries

# The metrics shown, in column order; ACC is the sort key.
COLUMNS = ("acc", "bwt", "forgetting", "la", "fwt")
SORT_METRIC = "acc"
DIGITS = 3
MISSING = "—"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One metric of one configuration over its seeds."""

    values: tuple[float, ...]  # finite per-seed values
    n_runs: int
    seeds: tuple[int, ...] = ()  # the seed of each value
    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof = 1); NaN with fewer than two seeds."""
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else math.nan

    @property
    def shown_mean(self) -> float:
        """The mean as printed: bolding compares these, so equal-looking cells tie."""
        return _round(self.mean)

    def text(self) -> str:
        if not self.values:
            return MISSING
        out = _fixed(self.mean)
        if len(self.values) > 1:
            out += f" ± {_fixed(self.std)}"
        if len(self.values) < self.n_runs:
            out += f" (n={len(self.values)})"
        return out


@dataclasses.dataclass
class Row:
    config_id: str
    strategy: str
    model: str
    variant: str
    n: int
    cells: dict[str, Cell]
    published: str = ""  # the reference ACC for this row's configuration and its source (reporting/targets.py)
    extra_seeds: tuple[int, ...] = ()  # seeds beyond the board's shared set (shown below the table)
    off_seeds: bool = False  # lacks some of the shared seeds: shown on its own seeds, not tested
    older_release: str = ""  # the release that made the row, when older than the code's
    all_seeds_acc: str = ""  # ACC over all of the row's seeds, when it has extra ones

@dataclasses.dataclass
class Board:
    """Everything one benchmark's leaderboard shows."""

    benchmark: str
    shared: list[str]
    rows: list[Row]
    best: dict[str, str]  # metric -> config_id of the significantly best row (absent: none)
    excluded: list[str]  # skipped and failed runs, one line per configuration and reason
    seeds: tuple[int, ...] = ()  # the seed set rows are compared on
    tied: dict[str, set] = dataclasses.field(default_factory=dict)  # metric -> config_ids tied with the best
    caption: list[str] = dataclasses.field(default_factory=list)  # protocol, seeds, code, command
    columns: tuple[str, ...] = COLUMNS  # the metric columns shown (COLUMNS, plus the brain score on CLS boards)
    brain_legend: str = ""  # the brain-score column's legend line (which components each strategy measured)

def build_leaderboards(results_dir: Path, out_dir: Path) -> list[Path]:
    """Write ``<out>/<benchmark>.md`` and ``.html`` for every benchmark with results."""
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    df = load_results(results_dir)
    failures = load_failures(results_dir)
    written = []
    for board in boards(df, failures):
        stem = _safe_stem(board.benchmark)
        for suffix, text in ((".md", render_markdown(board)), (".html", render_html(board))):
            path = out_dir / f"{stem}{suffix}"
            atomic_write_text(text, path)
            written.append(path)
    return written


def load_failures(results_dir: Path) -> pd.DataFrame:
    """The failed-run records (``<results>/failed/*.json``) as a table."""
    records = []
    for path in sorted(Path(results_dir).rglob("failed/*.json")):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and "run_id" in rec:
            records.append(rec)
    return pd.DataFrame(records)


def boards(df: pd.DataFrame, failures: pd.DataFrame | None = None) -> list[Board]:
    """One Board per benchmark found in the results, sorted by benchmark name."""
    failures = failures if failures is not None else pd.DataFrame()
    names = set(df["benchmark"].unique()) if not df.empty else set()
    if not failures.empty:
        names |= set(failures["benchmark"].unique())
    out = []
    for name in sorted(names):
        runs = df[df["benchmark"] == name] if not df.empty else df
        failed = failures[failures["benchmark"] == name] if not failures.empty else failures
        out.append(board_of(name, runs, failed))
    return out


def board_of(benchmark: str, runs: pd.DataFrame, failed: pd.DataFrame) -> Board:
    defaults = _Defaults.of(runs, failed)
    summaries = run_summaries(runs) if not runs.empty else pd.DataFrame()
    configs = _configs(summaries)
    shared, varying = _split_settings(configs)
    seed_sets = {c["config_id"]: frozenset(int(s) for s in summaries.loc[summaries["config_id"] == c["config_id"],
                                                                          "seed"]) for c in configs}
    board_seeds = _board_seeds(list(seed_sets.values()))
    older_ids = _older_release_configs(runs, summaries)
    brain_col = (brain_score.leaderboard_column(runs[runs["status"] == "ok"])
                 if benchmark.startswith("cls") and not summaries.empty else None)
    brain = brain_col.scores if brain_col else {}
    columns = COLUMNS + ((brain_score.LEADERBOARD_COLUMN,) if brain else ())
    rows = []
    for cfg in configs:
        group = summaries[summaries["config_id"] == cfg["config_id"]].sort_values("seed")
        seeds = seed_sets[cfg["config_id"]]
        off = not board_seeds <= seeds
        use = group if off else group[group["seed"].isin(board_seeds)]
        cells = {m: Cell(tuple(float(v) for v in use[m] if math.isfinite(v)), len(use),
                         tuple(int(s) for s, v in zip(use["seed"], use[m]) if math.isfinite(v))) for m in COLUMNS}
        if brain:
            scored = [(int(s), brain[r]) for s, r in zip(use["seed"], use["run_id"]) if r in brain]
            cells[brain_score.LEADERBOARD_COLUMN] = Cell(tuple(v for _, v in scored), len(use),
                                                         tuple(s for s, _ in scored))
        extra = tuple(sorted(seeds - board_seeds)) if not off else ()
        all_acc = Cell(tuple(float(v) for v in group[SORT_METRIC] if math.isfinite(v)), len(group)).text() \
            if extra else ""
        rows.append(Row(cfg["config_id"], cfg["strategy"], cfg["model"], _variant(cfg, varying, configs, defaults),
                        len(use),
                        cells, _published(benchmark, cfg), extra, off, older_ids.get(cfg["config_id"], ""), all_acc))
    rows.sort(key=_sort_key)
    best, tied = {}, {}
    for m in columns:
        if m == brain_score.LEADERBOARD_COLUMN and not brain_col.ranked:
            continue
        best_id, tie = _significant_best(rows, m)
        if best_id:
            best[m] = best_id
        if tie:
            tied[m] = tie
    ok_ids = set(summaries["run_id"]) if not summaries.empty else set()
    board = Board(benchmark, shared, rows, best, _excluded(runs, failed, ok_ids, defaults), tuple(sorted(board_seeds)),
                  tied,
                  columns=columns, brain_legend=brain_col.legend if brain else "")
    board.caption = _caption(benchmark, board, runs)
    return board


# Significance level of the paired test that decides bold.
ALPHA = 0.05


def _board_seeds(seed_sets: list[frozenset]) -> frozenset:
    """The most common seed set among the rows (ties: the larger set, then the smaller seeds)."""
    if not seed_sets:
        return frozenset()
    counts: dict[frozenset, int] = {}
    for s in seed_sets:
        counts[s] = counts.get(s, 0) + 1
    return max(counts, key=lambda s: (counts[s], len(s), [-x for x in sorted(s)]))


def paired_p(a: Cell, b: Cell) -> float:
    """Two-sided paired t-test p of two rows' values on their common seeds (NaN below 2 pairs)."""
    from scipy import stats

    common = sorted(set(a.seeds) & set(b.seeds))
    if len(common) < 2:
        return math.nan
    va = [a.values[a.seeds.index(s)] for s in common]
    vb = [b.values[b.seeds.index(s)] for s in common]
    diff = np.subtract(va, vb)
    if np.allclose(diff, diff[0]):  # constant differences: the test is degenerate
        return 0.0 if diff[0] != 0 else 1.0
    return float(stats.ttest_rel(va, vb).pvalue)


def _significant_best(rows: list[Row], metric: str) -> tuple[str | None, set]:
    """(config_id bold in this column or None, config_ids tied with the best)."""
    candidates = [r for r in rows if r.cells[metric].values and not r.off_seeds]
    if len(candidates) < 2:
        return None, set()
    sign = 1.0 if metric == brain_score.LEADERBOARD_COLUMN or METRICS[metric].higher_is_better else -1.0
    ranked = sorted(candidates, key=lambda r: (-sign * r.cells[metric].mean, r.config_id))
    top = ranked[0]
    if paired_p(top.cells[metric], ranked[1].cells[metric]) < ALPHA:  # beats the runner-up
        return top.config_id, set()
    tie = {top.config_id} | {other.config_id for other in ranked[1:]
                             if not paired_p(top.cells[metric], other.cells[metric]) < ALPHA}  # NaN: too few seeds
    return None, tie


def _older_release_configs(runs: pd.DataFrame, summaries: pd.DataFrame) -> dict[str, str]:
    """config_id -> release, for configurations whose runs were made by an older release than the code."""
    from hippo_bench.currency import older_release_runs

    if summaries.empty:
        return {}
    older = summaries[summaries["run_id"].isin(older_release_runs(runs))]
    return {str(c): str(v) for c, v in zip(older["config_id"], older["hippo_bench_version"])}


def _row_text(runs: pd.DataFrame, column: str) -> str | None:
    """The wording a column of the rows holds (the newest release's), or None when the rows predate the column."""
    if runs.empty or column not in runs.columns:
        return None
    values = runs[runs[column].fillna("").astype(str) != ""]
    if values.empty:
        return None
    if "hippo_bench_version" not in values.columns:
        return str(values[column].iloc[0])
    from hippo_bench.currency import releases_of

    newest = releases_of(values)[-1]
    return str(values.loc[values["hippo_bench_version"].astype(str) == newest, column].iloc[0])


def _installed_wording(benchmark: str) -> tuple[str, str]:
    """(description, acc_meaning) from the installed benchmark, for rows made before rows carried them (0.1.0)."""
    from hippo_bench.tasks import benchmarks

    try:
        cls = benchmarks.get(benchmark)
    except UserError:
        return "", ""
    return cls.description, cls.acc_meaning


def _caption(benchmark: str, board: Board, runs: pd.DataFrame) -> list[str]:
    """What a reader needs to quote the table: protocol, seeds, release, and the command that regenerates it.

    The protocol's wording comes from the rows (the code that made them
    described it); only rows older than that record fall back on the
    installed benchmark's.
    """
    out = []
    description, meaning = _row_text(runs, "benchmark_description"), _row_text(runs, "acc_meaning")
    if description is None or meaning is None:
        installed = _installed_wording(benchmark)
        description = installed[0] if description is None else description
        meaning = installed[1] if meaning is None else meaning
    if description:
        out.append(f"Protocol: {benchmark}: {description}.")
    if meaning:
        out.append(f"ACC here: {meaning}.")
    if board.seeds:
        out.append("Compared on training seeds " + ", ".join(str(s) for s in board.seeds)
                   + " (the seed set most rows share); paired t-tests on those seeds decide bold.")
    from hippo_bench.currency import release_line

    release = release_line(runs[runs["status"] == "ok"] if "status" in runs.columns else runs)
    if release:
        out.append(release)
    out.append("Regenerate: `hippo-bench leaderboard build --results results --out leaderboards`.")
    return out


# ----------------------------------------------------------- configurations
def _configs(summaries: pd.DataFrame) -> list[dict[str, Any]]:
    """One record per config_id: its identity with parameters parsed from JSON."""
    if summaries.empty:
        return []
    out = []
    for config_id, group in summaries.groupby("config_id", sort=True):
        first = group.sort_values("run_id").iloc[0]
        out.append({
            "config_id": str(config_id), "strategy": str(first["strategy"]), "model": str(first["model"]),
            "strategy_params": json.loads(first["strategy_params"]), "preset": str(first.get("preset", "")),
            "settings": _settings(first),
            "match": {c: first[c] for c in ("benchmark", "benchmark_params", "strategy", "strategy_params", "model",
                                            "model_params", "epochs", "train_mb_size", "preset")},
        })
    return out


def _settings(run: pd.Series) -> dict[str, Any]:
    """Everything besides the strategy's parameters that defines a configuration."""
    out: dict[str, Any] = {}
    for key, value in sorted(json.loads(run["model_params"]).items()):
        out[f"model.{key}"] = value
    for key, value in sorted(json.loads(run["benchmark_params"]).items()):
        out[f"bench.{key}"] = value
    out["benchmark_seed"] = int(run["benchmark_seed"])
    out["epochs"] = int(run["epochs"])
    out["batch"] = int(run["train_mb_size"])
    out["version"] = str(run["hippo_bench_version"])
    return out


def _split_settings(configs: list[dict]) -> tuple[list[str], set[str]]:
    """Settings equal in every configuration (as text) and the names of those that vary."""
    keys = sorted({k for c in configs for k in c["settings"]}, key=_setting_order)
    shared, varying = [], set()
    for key in keys:
        values = {canonical_json(c["settings"].get(key, None)) for c in configs}
        present = all(key in c["settings"] for c in configs)
        if len(values) == 1 and present:
            shared.append(f"{key}={_value_text(configs[0]['settings'][key])}")
        else:
            varying.add(key)
    return shared, varying


def _setting_order(key: str) -> tuple[int, str]:
    prefix = 0 if key.startswith("bench.") else 1 if key.startswith("model.") else 2
    return prefix, key


def strategy_defaults(strategy: str) -> dict[str, Any] | None:
    """The installed strategy's default parameters as JSON values (None if not installed)."""
    from hippo_bench.params import as_dict
    from hippo_bench.strategies import strategies

    try:
        cls = strategies.get(strategy)
    except UserError:
        return None
    return json.loads(canonical_json(as_dict(cls.Config())))


@dataclasses.dataclass
class _Defaults:
    """Each strategy's default parameters as its rows record them (``strategy_defaults``).

    Rows made before rows carried them (release 0.1.0) fall back on the
    installed strategy's defaults.
    """

    recorded: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, *tables: pd.DataFrame) -> "_Defaults":
        out: dict[str, dict[str, Any]] = {}
        for table in tables:
            if table.empty or "strategy_defaults" not in table.columns or "strategy" not in table.columns:
                continue
            for strategy in table["strategy"].drop_duplicates():
                text = _row_text(table[table["strategy"] == strategy], "strategy_defaults")
                if text and str(strategy) not in out:
                    out[str(strategy)] = json.loads(text)
        return cls(out)

    def __call__(self, strategy: str) -> dict[str, Any] | None:
        if strategy not in self.recorded:
            self.recorded[strategy] = strategy_defaults(strategy)
        return self.recorded[strategy]


def _variant(cfg: dict, varying: set[str], configs: list[dict], defaults: _Defaults) -> str:
    parts = _param_differences(cfg["strategy"], cfg["strategy_params"],
                               [c["strategy_params"] for c in configs if c["strategy"] == cfg["strategy"]], defaults)
    for key in sorted(varying, key=_setting_order):
        if key in cfg["settings"]:
            parts.append(f"{key}={_value_text(cfg['settings'][key])}")
    return ", ".join(parts)


def _param_differences(strategy: str, params: dict, siblings: list[dict], known: _Defaults) -> list[str]:
    """Parameters that differ from the strategy's defaults; for an unknown strategy, those that vary."""
    defaults = known(strategy)
    out = []
    for key in sorted(params):
        value = params[key]
        if defaults is not None and key in defaults:
            differs = canonical_json(value) != canonical_json(defaults[key])
        else:
            differs = len({canonical_json(s.get(key)) for s in siblings}) > 1
        if differs:
            out.append(f"{key}={_value_text(value)}")
    return out


def _sort_key(row: Row) -> tuple:
    cell = row.cells[SORT_METRIC]
    sign = -1.0 if METRICS[SORT_METRIC].higher_is_better else 1.0
    primary = sign * cell.mean if cell.values else math.inf
    return (primary, row.strategy, row.model, row.variant, row.config_id)


def _published(benchmark: str, cfg: dict) -> str:
    """The reference ACC of the row's exact configuration, with its source label."""
    from hippo_bench.reporting.targets import load_targets, target_for

    if not cfg.get("match"):
        return ""
    target = target_for(load_targets(), cfg["match"], SORT_METRIC)
    if target is None:
        return ""
    return f"{_fixed(target.value)} ({target.source_label})"


def _beside_acc(board: Board, items: list, published) -> list:
    """``items`` (one per COLUMNS metric) with the published column inserted after ACC when any row has one."""
    if not any(r.published for r in board.rows):
        return items
    at = COLUMNS.index(SORT_METRIC) + 1
    return items[:at] + [published] + items[at:]


PUBLISHED_HEADER = "reference ACC"
PUBLISHED_NOTE = ("reference ACC: the published or re-run value for the row's exact configuration, labelled by "
                  "source (hippo_bench/targets/published.csv); `hippo-bench leaderboard check` tests every target "
                  "with its tolerance rule")


# -------------------------------------------------------------- not shown
def _excluded(runs: pd.DataFrame, failed: pd.DataFrame, ok_ids: set[str], known: _Defaults) -> list[str]:
    """One line per (strategy, model, variant, reason) of skipped and failed runs, seeds listed."""
    groups: dict[tuple[str, str, str, str], set[int]] = {}

    def add(strategy, model, params, reason, seed):
        variant = ", ".join(_param_differences(strategy, params, [params], known))
        key = (str(strategy), str(model), variant, reason)
        groups.setdefault(key, set()).add(int(seed))

    if not runs.empty:
        skipped = runs[runs["status"] == "skipped"].drop_duplicates("run_id").sort_values("run_id")
        for rec in skipped.itertuples(index=False):
            add(rec.strategy, rec.model, json.loads(rec.strategy_params), f"skipped: {rec.note}", rec.seed)
    if not failed.empty:
        for rec in failed.sort_values("run_id").to_dict("records"):
            if rec["run_id"] in ok_ids:
                continue
            error = str(rec.get("error", "")).strip().splitlines()
            params = rec.get("strategy_params", "{}")
            params = json.loads(params) if isinstance(params, str) else dict(params or {})
            add(rec.get("strategy", "?"), rec.get("model", "?"), params,
                f"failed: {error[0] if error else 'no error recorded'}", rec.get("seed", -1))
    lines = []
    for (strategy, model, variant, reason), seeds in sorted(groups.items()):
        what = f"{strategy} ({model}{', ' + variant if variant else ''})"
        seed_text = ", ".join(str(s) for s in sorted(seeds))
        lines.append(f"{what}, seed{'s' if len(seeds) > 1 else ''} {seed_text}: {reason}")
    return lines


# ------------------------------------------------------------- rendering
def _header(metric: str) -> str:
    if metric == brain_score.LEADERBOARD_COLUMN:
        return brain_score.LEADERBOARD_HEADER
    info = METRICS[metric]
    return f"{info.label} {'↑' if info.higher_is_better else '↓'}"


def _is_best(board: Board, row: Row, metric: str) -> bool:
    return board.best.get(metric) == row.config_id


def _is_tied(board: Board, row: Row, metric: str) -> bool:
    return row.config_id in board.tied.get(metric, set())


def _cell_text(board: Board, row: Row, metric: str) -> tuple[str, bool]:
    """(the cell's text, whether it is bold)."""
    text = row.cells[metric].text()
    if _is_tied(board, row, metric):
        text = "≈ " + text
    return text, _is_best(board, row, metric)


def _row_labels(row: Row) -> tuple[str, str]:
    """(strategy cell, n cell) with the row's marks: an older release, other seeds."""
    strategy = row.strategy + (f" ({row.older_release})" if row.older_release else "")
    n = f"{row.n}*" if row.off_seeds else str(row.n)
    return strategy, n


def _legend(board: Board) -> tuple[str, list[str]]:
    """The sentences explaining the cells and one line per metric with its reference."""
    intro = (f"Cells: mean ± sample standard deviation over the n training seeds of a configuration "
             f"({DIGITS} decimals; ↑ higher is better, ↓ lower is better); rows sorted on "
             f"{METRICS[SORT_METRIC].label}. Bold: the best row beats the runner-up on the shared seeds "
             f"(paired t-test, p < {ALPHA}); otherwise ≈ marks the rows not significantly different from the best.")
    marks = []
    if any(r.off_seeds for r in board.rows):
        marks.append("n*: the row lacks some of the shared seeds; shown on its own seeds, not tested")
    older = sorted({r.older_release for r in board.rows if r.older_release})
    if older:
        marks.append(f"({', '.join(older)}): made by release {', '.join(older)}, older than this code; "
                     f"`hippo-bench release` regenerates the rows")
    return intro, marks + [board.brain_legend if m == brain_score.LEADERBOARD_COLUMN
                           else f"{METRICS[m].label}: {METRICS[m].reference}" for m in board.columns]


def _extra_lines(board: Board) -> list[str]:
    out = []
    for r in board.rows:
        if r.extra_seeds:
            seeds = ", ".join(str(s) for s in r.extra_seeds)
            out.append(f"{r.strategy} ({r.model}{', ' + r.variant if r.variant else ''}) also has seeds {seeds}: "
                       f"ACC over all its seeds {r.all_seeds_acc}")
    return out


def render_markdown(board: Board) -> str:
    out = [f"# Leaderboard: {board.benchmark}", "",
           "Generated by `hippo-bench leaderboard build` from the tidy results; do not edit by hand.", ""]
    out += [" ".join(_md_escape(c) for c in board.caption), ""] if board.caption else []
    if board.shared:
        out += ["Settings shared by every row: " + ", ".join(f"`{s}`" for s in board.shared) + ".", ""]
    if board.rows:
        headers = ["#", "strategy", "model", "variant", "n"] + _beside_acc(
            board, [_header(m) for m in board.columns], PUBLISHED_HEADER)
        body = []
        for i, row in enumerate(board.rows, 1):
            cells = []
            for m in board.columns:
                text, bold = _cell_text(board, row, m)
                cells.append(f"**{text}**" if bold else text)
            strategy, n = _row_labels(row)
            body.append([str(i), strategy, row.model, row.variant, n]
                        + _beside_acc(board, cells, row.published or MISSING))
        body = [[_md_escape(c) for c in r] for r in body]
        out += [tabulate(body, headers=headers, tablefmt="github", disable_numparse=True,
                         colalign=("right", "left", "left", "left", "right") + ("right",) * (len(headers) - 5)), ""]
    else:
        out += ["No completed runs.", ""]
    intro, metric_lines = _legend(board)
    if any(r.published for r in board.rows):
        metric_lines = metric_lines + [PUBLISHED_NOTE]
    out += [intro, ""] + [f"- {line}" for line in metric_lines] + [""]
    extra = _extra_lines(board)
    if extra:
        out += ["## Seeds beyond the shared set", ""] + [f"- {_md_escape(line)}" for line in extra] + [""]
    if board.excluded:
        out += ["## Not in the table", ""] + [f"- {_md_escape(line)}" for line in board.excluded] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def render_html(board: Board) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>hippo-bench leaderboard: {e(board.benchmark)}</title>",
           "<style>",
           "body { font-family: system-ui, sans-serif; margin: 2em; }",
           "table { border-collapse: collapse; }",
           "th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }",
           "td.num { text-align: right; font-variant-numeric: tabular-nums; }",
           "</style>", "</head>", "<body>",
           f"<h1>Leaderboard: {e(board.benchmark)}</h1>",
           "<p>Generated by <code>hippo-bench leaderboard build</code> from the tidy results; "
           "do not edit by hand.</p>"]
    if board.caption:
        text = " ".join(e(c) for c in board.caption)
        out.append('<p class="caption">' + re.sub(r"`([^`]+)`", r"<code>\1</code>", text) + "</p>")
    if board.shared:
        out.append("<p>Settings shared by every row: "
                   + ", ".join(f"<code>{e(s)}</code>" for s in board.shared) + ".</p>")
    if board.rows:
        heads = ["#", "strategy", "model", "variant", "n"] + _beside_acc(
            board, [_header(m) for m in board.columns], PUBLISHED_HEADER)
        out += ["<table>", "<thead>", "<tr>" + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>",
                "</thead>", "<tbody>"]
        for i, row in enumerate(board.rows, 1):
            strategy, n = _row_labels(row)
            tds = [f'<td class="num">{i}</td>', f"<td>{e(strategy)}</td>", f"<td>{e(row.model)}</td>",
                   f"<td>{e(row.variant)}</td>", f'<td class="num">{e(n)}</td>']
            metric_tds = []
            for m in board.columns:
                text, bold = _cell_text(board, row, m)
                text = e(text)
                metric_tds.append(f'<td class="num">{"<strong>" + text + "</strong>" if bold else text}</td>')
            tds += _beside_acc(board, metric_tds, f'<td class="num">{e(row.published or MISSING)}</td>')
            out.append("<tr>" + "".join(tds) + "</tr>")
        out += ["</tbody>", "</table>"]
    else:
        out.append("<p>No completed runs.</p>")
    intro, metric_lines = _legend(board)
    if any(r.published for r in board.rows):
        metric_lines = metric_lines + [PUBLISHED_NOTE]
    out += [f"<p>{e(intro)}</p>", "<ul>"] + [f"<li>{e(line)}</li>" for line in metric_lines] + ["</ul>"]
    extra = _extra_lines(board)
    if extra:
        out += ["<h2>Seeds beyond the shared set</h2>", "<ul>"] + [f"<li>{e(x)}</li>" for x in extra] + ["</ul>"]
    if board.excluded:
        out += ["<h2>Not in the table</h2>", "<ul>"] + [f"<li>{e(line)}</li>" for line in board.excluded] + ["</ul>"]
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- helpers
def _round(x: float) -> float:
    return round(x, DIGITS) + 0.0 if math.isfinite(x) else x  # + 0.0 turns -0.0 into 0.0


def _fixed(x: float) -> str:
    return f"{_round(x):.{DIGITS}f}"


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _safe_stem(name: str) -> str:
    """Benchmark names become file names: keep them to a safe alphabet."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip(".") or "_"
