"""The tables printed at the end of each run: ACC, LA, BWT, forgetting, FWT, speed, memory; meta-hippo's pattern."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from hippo_bench.analysis.learned_pattern import pattern_table
from hippo_bench.results import run_summaries


def fmt(x: float, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def summary_table(tables: list[pd.DataFrame], title: str = "Results") -> Table:
    """One line per run (ok or cached); skipped and failed runs show their reason."""
    t = Table(title=title, title_justify="left")
    for col in ("strategy", "benchmark", "seed", "ACC", "LA", "BWT", "Forgetting", "FWT", "wall s",
                "samples/s", "peak RSS MB"):
        t.add_column(col, justify="right" if col not in ("strategy", "benchmark") else "left")
    for table in tables:
        first = table.iloc[0]
        if first["status"] != "ok":
            t.add_row(first["strategy"], first["benchmark"], str(first["seed"]),
                      f"[yellow]{first['status']}: {first['note']}", *[""] * 7)
            continue
        s = run_summaries(table)
        if s.empty:
            continue
        r = s.iloc[0]
        t.add_row(r["strategy"], r["benchmark"], str(r["seed"]), fmt(r["acc"]), fmt(r["la"]),
                  fmt(r["bwt"]), fmt(r["forgetting"]), fmt(r["fwt"]), fmt(r["wall_time_s"], 1),
                  fmt(r["train_samples_per_s"], 0), fmt(r["peak_rss_mb"], 0))
    return t


def pathway_table(tables: list[pd.DataFrame]) -> Table:
    """Layers (group, units, % active, m) and projections (group, lr, relative step) after training, mean over
    seeds (:func:`hippo_bench.analysis.learned_pattern.pattern_table`)."""
    t = Table(title="meta-hippo: learned sparsity and learning rates (end of stream, mean over seeds)",
              title_justify="left")
    for col in ("kind", "name", "group", "units", "% active", "m", "learned lr", "relative step"):
        t.add_column(col, justify="left" if col in ("kind", "name", "group") else "right")
    table = pattern_table(pd.concat(tables, ignore_index=True)) if tables else pd.DataFrame()
    for r in table.itertuples(index=False):
        if r.kind == "layer":
            t.add_row("layer", r.name, r.group, f"{r.units:.0f}", f"{r.percent_active:.1f}", f"{r.m:.3f}", "", "")
        else:
            t.add_row("projection", r.name, r.group, "", "", "", f"{r.lr:.4g}", f"{r.relative_step:.3g}")
    return t
