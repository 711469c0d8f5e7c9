"""``hippo-bench sweep GRID.yaml``: expand a grid into runs and run the missing ones in parallel.

The whole grid is resolved first (a bad key or value stops it before
anything runs, exit 2); runs whose results file exists and was made by the
current code are skipped, so a stopped sweep is started again with the same
command. Logic lives in :mod:`hippo_bench.sweep`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from hippo_bench.commands import Parser, console
from hippo_bench.errors import UserError


def _parser() -> Parser:
    parser = Parser(prog="hippo-bench sweep", description="Run every point of a grid file (base configuration "
                    "and axes), skipping runs whose results exist.")
    parser.add_argument("grid", help="grid file (YAML: base, axes, zip, presets; see grids/README.md)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: a pool of worker processes (default); ray: Ray tasks on a cluster")
    parser.add_argument("--workers", type=int, help="parallel runs (default: the CPU count; with ray: the "
                        "cluster's CPUs)")
    parser.add_argument("--address", help="with --executor ray: the cluster to join (e.g. auto); default: "
                        "start a local Ray")
    parser.add_argument("--results", help="results folder (default: the grid's out key, else results)")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and how many exist; run nothing")
    parser.add_argument("--vectorize-seeds", action="store_true",
                        help="run the seeds of each configuration as one batched model in one worker (meta-hippo "
                        "on a HippoNet; the rows are identical to running each seed alone); a grid's base may "
                        "say vectorize_seeds: true instead")
    return parser


def main(argv: Sequence[str]) -> int:
    from hippo_bench.sweep.executors import ray_module, run_local, run_ray
    from hippo_bench.sweep.grid import expand, read_grid
    from hippo_bench.sweep.plan import SweepPlan, run_table
    from hippo_bench.sweep.progress import SweepProgress

    args = _parser().parse_args(argv)
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers: must be >= 1, got {args.workers}")
    if args.address and args.executor != "ray":
        raise UserError("--address needs --executor ray")
    if args.executor == "ray" and not args.dry_run:
        ray_module()  # not installed: exit 2 with the install line, before the grid is resolved
    grid = read_grid(args.grid)
    con = console()
    runs = expand(grid)
    out = Path(args.results) if args.results else _grid_out(grid)
    plan = SweepPlan.of(runs, out)
    con.print(f"grid {args.grid}: {len(plan.runs)} runs; {plan.summary()}; results in {out}/")
    if args.dry_run:
        con.print(run_table(plan, grid))
        con.print(f"{len(plan.existing)} of {len(plan.runs)} runs exist; {len(plan.todo)} to run")
        return 0
    if not plan.todo:
        con.print("nothing to run: every result exists (made by the current code)")
        return 0

    jobs = plan.jobs()
    batches = plan.batches(args.vectorize_seeds or grid.base.get("vectorize_seeds") is True)
    labels = {r.run_id: f"[{r.point.label()}, seed {r.spec.seed}]" for r in plan.todo}
    workers = args.workers or (None if args.executor == "ray" else (os.cpu_count() or 1))
    shown = workers if workers else "cluster CPUs"
    together = f" ({len(batches)} batches of seeds trained together)" if len(batches) < len(jobs) else ""
    con.print(f"running {len(jobs)} runs{together} on {args.executor} with {shown} worker(s)")
    with SweepProgress(len(jobs), con, label=Path(args.grid).stem) as progress:
        def started(job):
            progress.started(job.run_id)

        def finished(job, result):
            progress.finished(job.run_id, result.status, result.error, labels.get(job.run_id, ""))

        if args.executor == "ray":
            results = run_ray(batches, workers, args.address, started, finished)
        else:
            results = run_local(batches, workers, started, finished)
    failed = [r for r in results if r.status == "failed"]
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    con.print("sweep finished: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if failed:
        con.print(f"[red]{len(failed)} of {len(results)} runs failed; errors in {out}/failed/; run the same "
                  f"command again to retry them[/]")
        return 1
    return 0


def _grid_out(grid) -> Path:
    value = grid.base.get("out")
    return Path(str(value)) if value else Path("results")
