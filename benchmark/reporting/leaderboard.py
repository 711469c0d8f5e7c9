"""Leaderboards: one table per benchmark, one row per configuration, mean ± std over seeds.

Derived only from the tidy results (DESIGN.md section 2). Runs that differ
only in their training seed share a ``config_id`` and form one row; the
"variant" column names what sets a row apart: the strategy parameters that
differ from the strategy's defaults, plus any other setting (model or
benchmark parameter, epochs, batch size, benchmark seed, version) that is not
the same for every row of the table. Settings shared by every row are stated
once above the table.

The output is a pure function of the results: no timestamps, no paths, a
stable sort with tie-breakers and fixed float formatting, so regenerating
from the same results gives byte-identical files (a test checks this against
the committed ``leaderboards/``).
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from hippo_bench.errors import UserError
from hippo_bench.metrics import METRICS
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
    published: str = ""  # the published ACC for this row's preset (reporting/targets.py), if any


@dataclasses.dataclass
class Board:
    """Everything one benchmark's leaderboard shows."""

    benchmark: str
    shared: list[str]
    rows: list[Row]
    best: dict[str, float]  # metric -> best shown mean (absent: no finite value)
    excluded: list[str]  # skipped and failed runs, one line per configuration and reason


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
    summaries = run_summaries(runs) if not runs.empty else pd.DataFrame()
    configs = _configs(summaries)
    shared, varying = _split_settings(configs)
    rows = []
    for cfg in configs:
        group = summaries[summaries["config_id"] == cfg["config_id"]]
        cells = {m: Cell(tuple(float(v) for v in group[m] if math.isfinite(v)), len(group)) for m in COLUMNS}
        variant = _variant(cfg, varying, configs)
        rows.append(Row(cfg["config_id"], cfg["strategy"], cfg["model"], variant, len(group), cells,
                        _published(benchmark, cfg)))
    rows.sort(key=_sort_key)
    best = {}
    for m in COLUMNS:
        shown = [r.cells[m].shown_mean for r in rows if r.cells[m].values]
        if shown:
            best[m] = max(shown) if METRICS[m].higher_is_better else min(shown)
    ok_ids = set(summaries["run_id"]) if not summaries.empty else set()
    return Board(benchmark, shared, rows, best, _excluded(runs, failed, ok_ids))


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
    """The registered strategy's default parameters as JSON values (None if not installed)."""
    from hippo_bench.params import as_dict
    from hippo_bench.strategies import strategies

    try:
        cls = strategies.get(strategy)
    except UserError:
        return None
    return json.loads(canonical_json(as_dict(cls.Config())))


def _variant(cfg: dict, varying: set[str], configs: list[dict]) -> str:
    parts = _param_differences(cfg["strategy"], cfg["strategy_params"],
                               [c["strategy_params"] for c in configs if c["strategy"] == cfg["strategy"]])
    for key in sorted(varying, key=_setting_order):
        if key in cfg["settings"]:
            parts.append(f"{key}={_value_text(cfg['settings'][key])}")
    return ", ".join(parts)


def _param_differences(strategy: str, params: dict, siblings: list[dict]) -> list[str]:
    """Parameters that differ from the defaults; for an uninstalled strategy, those that vary."""
    defaults = strategy_defaults(strategy)
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
    """The published ACC of the row's preset, "†" marking a value not yet checked against the paper."""
    from hippo_bench.reporting.targets import load_targets, published_for

    target = published_for(load_targets(), benchmark, cfg["strategy"], cfg["preset"], SORT_METRIC,
                           cfg["strategy_params"])
    if target is None:
        return ""
    return _fixed(target.value) + ("" if target.checked else " †")


def _beside_acc(board: Board, items: list, published) -> list:
    """``items`` (one per COLUMNS metric) with the published column inserted after ACC when any row has one."""
    if not any(r.published for r in board.rows):
        return items
    at = COLUMNS.index(SORT_METRIC) + 1
    return items[:at] + [published] + items[at:]


PUBLISHED_HEADER = "published ACC"
PUBLISHED_NOTE = ("published ACC: the paper's value for the row's preset (hippo_bench/targets/published.csv; "
                  "† recalled, not yet checked against the paper); `hippo-bench leaderboard check` compares "
                  "every target")


# -------------------------------------------------------------- not shown
def _excluded(runs: pd.DataFrame, failed: pd.DataFrame, ok_ids: set[str]) -> list[str]:
    """One line per (strategy, model, variant, reason) of skipped and failed runs, seeds listed."""
    groups: dict[tuple[str, str, str, str], set[int]] = {}

    def add(strategy, model, params, reason, seed):
        variant = ", ".join(_param_differences(strategy, params, [params]))
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
    info = METRICS[metric]
    return f"{info.label} {'↑' if info.higher_is_better else '↓'}"


def _is_best(board: Board, row: Row, metric: str) -> bool:
    cell = row.cells[metric]
    return bool(cell.values) and metric in board.best and cell.shown_mean == board.best[metric]


def _legend() -> tuple[str, list[str]]:
    """The sentence explaining the cells and one line per metric with its reference."""
    intro = (f"Cells: mean ± sample standard deviation over the n training seeds of a configuration "
             f"({DIGITS} decimals); best per column in bold (↑ higher is better, ↓ lower is better); "
             f"rows sorted on {METRICS[SORT_METRIC].label}.")
    return intro, [f"{METRICS[m].label}: {METRICS[m].reference}" for m in COLUMNS]


def render_markdown(board: Board) -> str:
    out = [f"# Leaderboard: {board.benchmark}", "",
           "Generated by `hippo-bench leaderboard build` from the tidy results; do not edit by hand.", ""]
    if board.shared:
        out += ["Settings shared by every row: " + ", ".join(f"`{s}`" for s in board.shared) + ".", ""]
    if board.rows:
        headers = ["#", "strategy", "model", "variant", "n"] + _beside_acc(
            board, [_header(m) for m in COLUMNS], PUBLISHED_HEADER)
        body = []
        for i, row in enumerate(board.rows, 1):
            cells = []
            for m in COLUMNS:
                text = row.cells[m].text()
                cells.append(f"**{text}**" if _is_best(board, row, m) else text)
            body.append([str(i), row.strategy, row.model, row.variant, str(row.n)]
                        + _beside_acc(board, cells, row.published or MISSING))
        body = [[_md_escape(c) for c in r] for r in body]
        out += [tabulate(body, headers=headers, tablefmt="github", disable_numparse=True,
                         colalign=("right", "left", "left", "left", "right") + ("right",) * (len(headers) - 5)), ""]
    else:
        out += ["No completed runs.", ""]
    intro, metric_lines = _legend()
    if any(r.published for r in board.rows):
        metric_lines = metric_lines + [PUBLISHED_NOTE]
    out += [intro, ""] + [f"- {line}" for line in metric_lines] + [""]
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
    if board.shared:
        out.append("<p>Settings shared by every row: "
                   + ", ".join(f"<code>{e(s)}</code>" for s in board.shared) + ".</p>")
    if board.rows:
        heads = ["#", "strategy", "model", "variant", "n"] + _beside_acc(
            board, [_header(m) for m in COLUMNS], PUBLISHED_HEADER)
        out += ["<table>", "<thead>", "<tr>" + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>",
                "</thead>", "<tbody>"]
        for i, row in enumerate(board.rows, 1):
            tds = [f'<td class="num">{i}</td>', f"<td>{e(row.strategy)}</td>", f"<td>{e(row.model)}</td>",
                   f"<td>{e(row.variant)}</td>", f'<td class="num">{row.n}</td>']
            metric_tds = []
            for m in COLUMNS:
                text = e(row.cells[m].text())
                metric_tds.append(f'<td class="num">{"<strong>" + text + "</strong>" if _is_best(board, row, m) else text}</td>')
            tds += _beside_acc(board, metric_tds, f'<td class="num">{e(row.published or MISSING)}</td>')
            out.append("<tr>" + "".join(tds) + "</tr>")
        out += ["</tbody>", "</table>"]
    else:
        out.append("<p>No completed runs.</p>")
    intro, metric_lines = _legend()
    if any(r.published for r in board.rows):
        metric_lines = metric_lines + [PUBLISHED_NOTE]
    out += [f"<p>{e(intro)}</p>", "<ul>"] + [f"<li>{e(line)}</li>" for line in metric_lines] + ["</ul>"]
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
