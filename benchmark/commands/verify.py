"""``hippo-bench verify``: rerun committed runs with the code at hand and report every difference.

Exit 0 when every checked run is reproduced within float noise, 1 when any
differs or fails. ``--rewrite`` regenerates instead: each run is rerun with
the current code (Config fields added since take their defaults) and its
file replaced, so a results folder can be brought up to date in one command.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

from rich.table import Table

from hippo_bench.commands import Parser, console
from hippo_bench.errors import UserError


def _select(runs, args):
    from hippo_bench.verify import run_seconds

    chosen = [(p, t) for p, t in runs
              if (not args.strategy or t["strategy"].iloc[0] in args.strategy)
              and (not args.benchmark or t["benchmark"].iloc[0] in args.benchmark)
              and (args.max_seconds is None or run_seconds(t) <= args.max_seconds)]
    if args.sample is not None and args.sample < len(chosen):
        step = len(chosen) / args.sample  # evenly spread over the runs sorted by file name: deterministic
        chosen = [chosen[int(i * step)] for i in range(args.sample)]
    return chosen


def _work(item):
    """One run in a worker process (one torch thread each)."""
    import torch

    from hippo_bench.verify import verify_run

    torch.set_num_threads(1)
    path, table, rewrite, out = item
    return verify_run(path, table, rewrite=rewrite, out_dir=out)


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="hippo-bench verify", description="Rerun committed runs and compare them row by row.")
    parser.add_argument("--results", default="results", help="folder of results files (default: results)")
    parser.add_argument("--sample", type=int, help="check N runs spread evenly over the folder (default: all)")
    parser.add_argument("--max-seconds", type=float, help="only runs whose recorded wall time is at most this")
    parser.add_argument("--strategy", action="append", help="only runs of this strategy (repeatable)")
    parser.add_argument("--benchmark", action="append", help="only runs of this benchmark (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="runs checked in parallel processes (default: 1)")
    parser.add_argument("--rewrite", action="store_true",
                        help="regenerate: replace each file with its rerun by the current code")
    parser.add_argument("--out", help="with --rewrite: write the regenerated files here instead (old ones kept)")
    args = parser.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        raise UserError(f"--sample: must be >= 1, got {args.sample}")
    if args.jobs < 1:
        raise UserError(f"--jobs: must be >= 1, got {args.jobs}")
    from hippo_bench.verify import committed_runs

    results = Path(args.results)
    if not results.is_dir():
        raise UserError(f"--results: folder not found: {results}")
    chosen = _select(committed_runs(results), args)
    if not chosen:
        raise UserError(f"no completed runs under {results}/ match the selection")
    con = console()
    con.print(f"{'regenerating' if args.rewrite else 'verifying'} {len(chosen)} run(s) from {results}/ "
              f"with {args.jobs} process(es)")
    out = Path(args.out) if args.out else None
    if out is not None and not args.rewrite:
        raise UserError("--out needs --rewrite (verify alone writes nothing)")
    items = [(p, t, args.rewrite, out) for p, t in chosen]
    verdicts = []
    if args.jobs == 1:
        for item in items:
            verdicts.append(_work(item))
            _line(con, verdicts[-1])
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as pool:
            for v in pool.map(_work, items):
                verdicts.append(v)
                _line(con, v)
    con.print(_table(verdicts, args.rewrite))
    bad = [v for v in verdicts
           if v.status not in ("reproduced", "exists") and not (args.rewrite and v.status == "differs")]
    total = sum(v.seconds for v in verdicts if math.isfinite(v.seconds))
    con.print(f"{sum(v.status == 'reproduced' for v in verdicts)} of {len(verdicts)} reproduced; "
              f"{len(bad)} {'failed' if args.rewrite else 'not reproduced'}; rerun time {total:.0f} s")
    return 1 if bad else 0


def _line(con, v) -> None:
    con.print(f"{v.status:>10}  {v.label}  max diff {v.max_diff:.3g}  ({v.seconds:.1f} s)")


def _table(verdicts, rewrite: bool) -> Table:
    t = Table(title="Committed runs against their reruns" + (" (files regenerated)" if rewrite else ""),
              title_justify="left")
    for col in ("run", "status", "max diff", "largest at", "rows", "seconds", "note"):
        t.add_column(col, justify="right" if col in ("max diff", "rows", "seconds") else "left")
    for v in verdicts:
        t.add_row(f"{v.run_id} {v.label}", v.status, f"{v.max_diff:.3g}", v.worst, str(v.n_compared),
                  f"{v.seconds:.1f}", v.detail[:120])
    return t
