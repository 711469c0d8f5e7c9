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
    c.add_argument("--allow-missing", action="store_true",
                   help="a target without matching runs does not fail the check")
    args = parser.parse_args(argv)
    if args.action == "check":
        return _check(args)
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


def _check(args) -> int:
    """Exit 1 when any target is missed, not learned, or (unless --allow-missing) has no matching runs."""
    from rich.markup import escape

    from hippo_bench.reporting.targets import check, check_table, failing

    comparisons = check(Path(args.results), args.targets)
    con = console()
    con.print(check_table(comparisons))
    bad = failing(comparisons, allow_missing=args.allow_missing)
    counts = {s: sum(c.status == s for c in comparisons) for s in ("met", "missed", "not learned", "no runs")}
    con.print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" (of {len(comparisons)} targets)")
    for c in bad:
        t = c.target
        what = f"{t.strategy} on {t.benchmark} [{t.preset}{' ' + t.label if t.label else ''}] {t.metric}"
        detail = f"ours {c.ours:.4f} (n={c.n}) vs {t.value:.4f}" if c.n else "no run has this configuration"
        stale = " (made by other code: rerun it)" if c.stale else ""
        con.print(f"[red]{c.status}{stale}:[/] {escape(what)}: {detail}")
    return 1 if bad else 0
