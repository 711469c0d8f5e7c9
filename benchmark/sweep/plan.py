"""Which runs of a sweep exist already and which are left, by the results cache rule.

A run is done when ``<results>/<run_id>.parquet`` exists and was made by the
current code (same run_id, same code key: the rule of hippo_bench.currency).
A file made by other code is rerun; a recorded failure is retried.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rich.table import Table

from hippo_bench.sweep.grid import Grid, SweepRun
from hippo_bench.sweep.worker import Job


@dataclasses.dataclass
class SweepPlan:
    runs: list[SweepRun]
    states: dict[str, str]  # run_id -> current | stale | failed | absent
    out: Path

    @classmethod
    def of(cls, runs: list[SweepRun], out: Path) -> "SweepPlan":
        from hippo_bench.currency import code_key, reuse_state
        from hippo_bench.results import failure_path, result_path

        states = {}
        for run in runs:
            path, fingerprint = result_path(out, run.run_id), code_key(run.spec)[0]
            state, _ = reuse_state(path, fingerprint)  # made alone or vectorised: the same key
            if state == "absent" and _skipped_by(path, fingerprint):
                state = "current"  # the strategy does not support this benchmark: asking again gives the same
            if state == "absent" and failure_path(out, run.run_id).exists():
                state = "failed"
            states[run.run_id] = state
        return cls(runs, states, out)

    @property
    def existing(self) -> list[SweepRun]:
        return [r for r in self.runs if self.states[r.run_id] == "current"]

    @property
    def todo(self) -> list[SweepRun]:
        return [r for r in self.runs if self.states[r.run_id] != "current"]

    def summary(self) -> str:
        n = {s: sum(1 for v in self.states.values() if v == s) for s in ("current", "stale", "failed", "absent")}
        parts = [f"{n['current']} exist", f"{len(self.todo)} to run"]
        if n["stale"]:
            parts.append(f"{n['stale']} made by other code (rerun)")
        if n["failed"]:
            parts.append(f"{n['failed']} failed before (retried)")
        return "; ".join(parts)

    def jobs(self) -> list[Job]:
        return [Job(r.run_id, r.spec, r.data_root, self.out, logs=r.logs) for r in self.todo]

    def batches(self, vectorize: bool = False) -> list[list[Job]]:
        """The jobs, one per batch; with ``vectorize``, the seeds of one configuration together (when supported)."""
        if not vectorize:
            return [[job] for job in self.jobs()]
        from hippo_bench.results import canonical_json
        from hippo_bench.strategies.vectorized import unsupported_reason

        groups: dict[str, list[Job]] = {}
        for job in self.jobs():
            if unsupported_reason(job.spec):
                groups[job.run_id] = [job]
                continue
            identity = {k: v for k, v in job.spec.identity().items() if k not in ("seed", "benchmark_seed")}
            groups.setdefault(canonical_json(identity), []).append(job)
        return list(groups.values())


def _skipped_by(path: Path, fingerprint: str) -> bool:
    """A results file recording a run as ``skipped`` (unsupported scenario) by the current code."""
    import pandas as pd

    if not path.exists():
        return False
    try:
        table = pd.read_parquet(path, columns=["status", "code_fingerprint"])
    except Exception:  # noqa: BLE001 - unreadable: run it again
        return False
    return len(table) > 0 and (table["status"] == "skipped").all() and table["code_fingerprint"].iloc[0] == fingerprint


STATE_TEXT = {"current": "[green]exists[/]", "stale": "[yellow]stale[/]", "failed": "[red]failed[/]",
              "absent": "to run"}


def run_table(plan: SweepPlan, grid: Grid) -> Table:
    """One row per run: its axis values, benchmark, seed, run_id and whether its results exist."""
    keys = []
    for run in plan.runs:
        for k in run.point.values:
            if k not in keys:
                keys.append(k)
    table = Table(title=f"{grid.source}: {len(plan.runs)} runs")
    table.add_column("#", justify="right")
    table.add_column("strategy")
    table.add_column("benchmark")
    for k in keys:
        table.add_column(k)
    table.add_column("seed", justify="right")
    table.add_column("run_id")
    table.add_column("state")
    for i, run in enumerate(plan.runs, 1):
        table.add_row(str(i), run.spec.strategy.name, run.spec.benchmark,
                      *[_cell(run.point.values.get(k, "")) for k in keys], str(run.spec.seed), run.run_id,
                      STATE_TEXT[plan.states[run.run_id]])
    return table


def _cell(value) -> str:
    from rich.markup import escape

    return escape(str(value))
