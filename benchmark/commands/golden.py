"""``hippo-bench golden [NAME...] [--rewrite]``: rerun the golden runs and compare them with their committed rows."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hippo_bench.commands import Parser, console
from hippo_bench.errors import UserError


def main(argv: Sequence[str]) -> int:
    from rich.markup import escape
    from rich.table import Table

    from hippo_bench.golden import check, load_set, rewrite

    parser = Parser(prog="hippo-bench golden",
                    description="Rerun the golden runs (one small run per code path that makes numbers) and "
                                "compare every recorded value with the committed rows.")
    parser.add_argument("names", nargs="*", metavar="NAME", help="golden runs to take (default: all)")
    parser.add_argument("--dir", default="tests/golden", help="folder of golden.yaml and its rows "
                        "(default: tests/golden)")
    parser.add_argument("--rewrite", action="store_true",
                        help="write the rows of the code at hand as the new golden files (numbers moved on purpose: "
                             "say why in CHANGELOG.md)")
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    entries = load_set(folder)
    known = {e.name for e in entries}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        raise UserError(f"unknown golden run(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    chosen = [e for e in entries if not args.names or e.name in args.names]
    if args.rewrite:  # the references first: entries with same_as are checked against the fresh files
        chosen = sorted(chosen, key=lambda e: bool(e.same_as))
    con = console()
    table = Table(title=f"golden runs ({folder})", title_justify="left")
    for col in ("run", "status", "seconds", "detail"):
        table.add_column(col, overflow="fold")
    results = []
    for entry in chosen:
        result = rewrite(entry, folder) if args.rewrite else check(entry, folder)
        results.append(result)
        detail = result.detail or "; ".join(result.moved[:3])
        seconds = f"{result.seconds:.1f}" if result.seconds == result.seconds else ""
        table.add_row(entry.name, result.status, seconds, escape(detail))
    con.print(table)
    bad = [r for r in results if r.status in ("moved", "missing", "failed")]
    for r in bad:
        con.print(f"[red]{r.status}:[/] {escape(r.name)}" + (f": {escape(r.detail)}" if r.detail else ""))
        for line in r.moved:
            con.print(f"  {escape(line)}")
    counts = {s: sum(r.status == s for r in results) for s in ("same", "written", "moved", "missing", "failed",
                                                                "skipped")}
    con.print(", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" (of {len(results)} golden runs)")
    return 1 if bad else 0
