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
    """Exit 1 when any target is missed, not learned, or (unless --allow-missing) has no matching runs, or when
    any row was made by an older release than the code."""
    from rich.markup import escape

    from hippo_bench.currency import code_version, is_older_release, releases_of
    from hippo_bench.reporting.targets import check, check_table, failing

    comparisons = check(Path(args.results), args.targets)
    runs = _first_rows(Path(args.results))
    con = console()
    con.print(check_table(comparisons))
    bad = failing(comparisons, allow_missing=args.allow_missing)
    counts = {s: sum(c.status == s for c in comparisons) for s in ("met", "missed", "not learned", "no runs")}
    con.print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" (of {len(comparisons)} targets)")
    for c in bad:
        t = c.target
        what = f"{t.strategy} on {t.benchmark} [{t.preset}{' ' + t.label if t.label else ''}] {t.metric}"
        detail = f"ours {c.ours:.4f} (n={c.n}) vs {t.value:.4f}" if c.n else "no run has this configuration"
        older = " (made by an older release: regenerate it)" if c.older_release else ""
        con.print(f"[red]{c.status}{older}:[/] {escape(what)}: {detail}")
    version = code_version()
    older = [v for v in releases_of(runs) if is_older_release(v, version)]
    for label in older:
        n = int((runs["hippo_bench_version"].astype(str) == label).sum())
        con.print(f"[red]older release:[/] {n} of {len(runs)} runs under {args.results}/ were made by release "
                  f"{label}, older than this code ({version}); `hippo-bench release` regenerates them")
    return 1 if bad or older else 0


def _first_rows(results: Path):
    """One row per run (its identity and release) of every results file under the folder."""
    import pandas as pd

    files = sorted(results.rglob("*.parquet"))
    cols = ["run_id", "hippo_bench_version"]
    frames = [pd.read_parquet(f, columns=cols).head(1) for f in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
