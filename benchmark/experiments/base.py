"""What every experiment is: run configurations, a statistic over seeds, a verdict, and a report folder.

An experiment names its runs as ``--config``-style mappings (resolved by
:mod:`hippo_bench.resolve`, so results are cached and identified like any
run), computes its statistic from the tidy rows with scipy.stats, and writes
``reports/<name>/``: ``index.md`` (claim, verdict, statistic, n, the command),
``data.csv`` (the tidy numbers behind the verdict). Unless told otherwise the
benchmark seed follows the training seed, so the spread over seeds includes
the data-sampling variance (the seed's code draws new data per seed).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

import pandas as pd

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


@dataclasses.dataclass
class Verdict:
    """The outcome of one claim: its verdict, the statistic in words, n, and the per-seed table behind it."""

    name: str
    claim: str
    verdict: str
    statistic: str
    n: int
    table: pd.DataFrame

    def line(self) -> str:
        return f"{self.name}: {self.verdict} ({self.statistic}; n = {self.n})"


class Experiment:
    """A claim of the poster, testable from meta-hippo's recorded rows."""

    name: ClassVar[str] = ""
    claim: ClassVar[str] = ""

    def configs(self, seeds: list[int], quick: bool) -> list[dict]:
        """The runs (same keys as a --config file), one mapping per configuration (seeds inside)."""
        raise NotImplementedError

    def analyse(self, df: pd.DataFrame) -> Verdict:
        """The verdict from the tidy rows of this experiment's runs."""
        raise NotImplementedError


def run_configs(configs: list[dict], out: Path, seed_follows: bool = True) -> pd.DataFrame:
    """Run (or reuse) every configuration over its seeds; the tidy rows of all of them."""
    from hippo_bench.resolve import plan_from
    from hippo_bench.runner import execute

    tables = []
    for config in configs:
        seeds = list(config.get("seeds", [0]))
        for seed in seeds:
            layer = {**config, "seeds": [seed], "out": str(out)}
            if seed_follows and "benchmark_seed" not in config:
                layer["benchmark_seed"] = seed
            plan = plan_from([("experiment", layer)])
            for member, instance, specs in plan.specs():
                for spec in specs:
                    outcome = execute(spec, instance, out)
                    if outcome.table is not None and outcome.status in ("ok", "cached"):
                        tables.append(outcome.table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def final_rows(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per run and entity: the metric after the last experience (intact network)."""
    rows = df[(df["metric"] == metric) & (df["lesion"] == "") & (df["eval_exp"] == -1)]
    if rows.empty:
        return rows
    last = rows.groupby("run_id")["train_exp"].transform("max")
    return rows[rows["train_exp"] == last]


def write_report(verdict: Verdict, folder: Path, command: str) -> list[Path]:
    """``index.md`` and ``data.csv`` of one experiment, written atomically."""
    from hippo_bench.results import atomic_write_text

    folder = Path(folder)
    md = [f"# {verdict.name}", "", f"**Claim.** {verdict.claim}", "",
          f"**Verdict: {verdict.verdict}.** {verdict.statistic} (n = {verdict.n}).", "",
          f"Regenerate: `{command}`.", "", "Per-seed values:", "",
          verdict.table.to_markdown(index=False, floatfmt=".4g") if not verdict.table.empty else "(none)", ""]
    paths = [folder / "index.md", folder / "data.csv"]
    atomic_write_text("\n".join(md), paths[0])
    atomic_write_text(verdict.table.to_csv(index=False, float_format="%.6g"), paths[1])
    return paths
