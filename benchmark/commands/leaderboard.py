"""``hippo-bench leaderboard build|check``: tables from tidy results, and results against published targets."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hippo_bench.commands import Parser, console
from hippo_bench.errors import UserError


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="hippo-bench leaderboard", description="Leaderboards from tidy results.")
    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    b = sub.add_parser("build", help="write leaderboards/<benchmark>.md and .html")
    b.add_argument("--results", default="results", help="folder of result files (default: results)")
    b.add_argument("--out", default="leaderboards", help="output folder (default: leaderboards)")
    c = sub.add_parser("check", help="compare the results with the published targets (ours, target, difference)")
    c.add_argument("--results", default="results", help="folder of result files (default: results)")
    c.add_argument("--targets", help="targets CSV (default: the packaged hippo_bench/targets/published.csv)")
    args = parser.parse_args(argv)
    if args.action == "check":
        from hippo_bench.reporting.targets import check, check_table

        console().print(check_table(check(Path(args.results), args.targets)))
        return 0
    from hippo_bench.reporting.leaderboard import build_leaderboards

    results = Path(args.results)
    if not results.is_dir():
        raise UserError(f"--results: folder not found: {results}")
    written = build_leaderboards(results, Path(args.out))
    con = console()
    if not written:
        con.print(f"no completed runs under {results}/; nothing written")
    for path in written:
        con.print(f"wrote {path}")
    return 0
