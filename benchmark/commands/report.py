"""``hippo-bench report``: the results as a static HTML site (leaderboards, a page per configuration, verdicts)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hippo_bench.commands import Parser, console


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="hippo-bench report", description="Write the results as a static website: an index of "
                    "the benchmarks, their leaderboards, a page per configuration with its figures and learned "
                    "pattern, and the experiment verdicts of reports/. Open <out>/index.html in a browser; no "
                    "server is needed.")
    parser.add_argument("--results", default="results", help="folder of result files (default: results)")
    parser.add_argument("--out", default="site", help="output folder, replaced whole (default: site)")
    parser.add_argument("--reports", default="reports", help="experiment reports to include, if present "
                        "(default: reports)")
    args = parser.parse_args(argv)

    from hippo_bench.reporting.site import build_site

    out = Path(args.out)
    pages = build_site(Path(args.results), out, Path(args.reports))
    console().print(f"wrote {len(pages)} pages to {out}/; open {out / 'index.html'}")
    return 0
