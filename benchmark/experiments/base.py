"""What every experiment is: run configurations, a statistic over seeds, a verdict, and a report folder.

An experiment names its runs as ``--config``-style mappings (resolved by
:mod:`hippo_bench.resolve`, so results are cached and identified like any
run), computes its statistic from the tidy rows with scipy.stats, and writes
``reports/<name>/``: ``index.md`` (claim, verdict, statistic, n, the command,
the figures), ``data.csv`` (the tidy numbers behind the verdict), one CSV per
further table, and each figure as PNG and SVG. Unless told otherwise the
benchmark seed follows the training seed, so the spread over seeds includes
the data-sampling variance (the seed's code draws new data per seed).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    tables: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    """Further named tables shown in the report (for example per-cell tests), each also saved as <name>.csv."""

    def line(self) -> str:
        return f"{self.name}: {self.verdict} ({self.statistic}; n = {self.n})"


class Experiment:
    """A claim of the poster, testable from meta-hippo's recorded rows."""

    name: ClassVar[str] = ""
    claim: ClassVar[str] = ""

    def configs(self, seeds: list[int], quick: bool) -> list[dict]:
        """The runs (same keys as a --config file), one mapping per configuration (seeds inside)."""
        raise NotImplementedError

    def run(self, seeds: list[int], quick: bool, out: Path, jobs: int = 1, reuse_stale: bool = False) -> pd.DataFrame:
        """Run (or reuse) the experiment's runs into ``out`` (``jobs`` in parallel); an experiment in stages
        overrides this."""
        return run_configs(self.configs(seeds, quick), out, jobs=jobs, reuse_stale=reuse_stale)

    def analyse(self, df: pd.DataFrame) -> Verdict:
        """The verdict from the tidy rows of this experiment's runs."""
        raise NotImplementedError

    def figures(self, df: pd.DataFrame) -> dict[str, Figure]:
        """Figures of the report, by file stem (drawn under the project's style); none by default."""
        return {}


def run_configs(configs: list[dict], out: Path, seed_follows: bool = True, jobs: int = 1,
                reuse_stale: bool = False) -> pd.DataFrame:
    """Run (or reuse) every configuration over its seeds; the tidy rows of all of them.

    With ``jobs`` > 1 the runs not yet in ``out`` are first run by a pool of
    that many worker processes (the local executor of ``hippo-bench sweep``);
    the rows are then read back from their results files, in the same order.
    With ``reuse_stale``, results made by other code (an older release) are
    analysed as they are instead of being rerun.
    """
    from hippo_bench.launch import run_specs

    plans = list(_plans(configs, out, seed_follows))
    if jobs > 1:
        _run_in_pool(plans, out, jobs, reuse_stale)
    tables = []
    for plan in plans:
        for member, instance, specs in plan.specs():
            for outcome in run_specs(specs, [instance] * len(specs), out, reuse_stale=reuse_stale, logs=plan.logs):
                if outcome.table is not None and outcome.status in ("ok", "cached", "stale"):
                    tables.append(outcome.table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _plans(configs: list[dict], out: Path, seed_follows: bool):
    """One resolved plan per configuration and seed (the benchmark seed following the seed unless set)."""
    from hippo_bench.resolve import plan_from

    for config in configs:
        for seed in list(config.get("seeds", [0])):
            layer = {**config, "seeds": [seed], "out": str(out)}
            if seed_follows and "benchmark_seed" not in config:
                layer["benchmark_seed"] = seed
            yield plan_from([("experiment", layer)])


def _run_in_pool(plans, out: Path, jobs: int, reuse_stale: bool = False) -> None:
    """Run the plans' missing runs on ``jobs`` worker processes; failures are recorded as by a sweep."""
    from hippo_bench.currency import CURRENT, STALE, state_of
    from hippo_bench.sweep.executors import run_local
    from hippo_bench.sweep.worker import Job

    todo = {}
    for plan in plans:
        for _, _, specs in plan.specs():
            for spec in specs:
                if state_of(out, spec)[0] not in ((CURRENT, STALE) if reuse_stale else (CURRENT,)):
                    todo.setdefault(spec.run_id, Job(spec.run_id, spec, plan.data_root, out, logs=plan.logs))
    if todo:
        run_local([[job] for job in todo.values()], jobs, lambda job: None, lambda job, result: None)


def final_rows(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per run and entity: the metric after the last experience (intact network)."""
    rows = df[(df["metric"] == metric) & (df["lesion"] == "") & (df["eval_exp"] == -1)]
    if rows.empty:
        return rows
    last = rows.groupby("run_id")["train_exp"].transform("max")
    return rows[rows["train_exp"] == last]


def draw_figures(experiment: Experiment, df: pd.DataFrame) -> dict[str, Figure]:
    """The experiment's figures, drawn under the project's style (none when there are no rows)."""
    from hippo_bench.plotting.style import styled

    if df.empty:
        return {}
    with styled():
        return experiment.figures(df)


def _markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=".4g") if not table.empty else "(none)"


def write_report(verdict: Verdict, folder: Path, command: str,
                 figures: dict[str, Figure] | None = None, release: str = "") -> list[Path]:
    """``index.md``, ``data.csv``, one CSV per further table and each figure as PNG and SVG, written atomically.

    The PNGs are embedded in ``index.md`` in the order given.
    """
    from hippo_bench.plotting.style import save
    from hippo_bench.results import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "index.md", folder / "data.csv"]
    md = [f"# {verdict.name}", "", f"**Claim.** {verdict.claim}", "",
          f"**Verdict: {verdict.verdict}.** {verdict.statistic} (n = {verdict.n}).", "",
          f"Regenerate: `{command}`.", ""] + ([release, ""] if release else [])
    for stem, fig in (figures or {}).items():
        written = save(fig, folder, stem)
        paths += written
        md += [f"![{stem}]({written[0].name})", ""]
    md += ["Per-seed values ([data.csv](data.csv)):", "", _markdown(verdict.table), ""]
    for name, table in verdict.tables.items():
        md += [f"{name.replace('-', ' ').capitalize()} ([{name}.csv]({name}.csv)):", "", _markdown(table), ""]
        paths.append(folder / f"{name}.csv")
        atomic_write_text(table.to_csv(index=False, float_format="%.6g"), paths[-1])
    atomic_write_text("\n".join(md), paths[0])
    atomic_write_text(verdict.table.to_csv(index=False, float_format="%.6g"), paths[1])
    return paths
