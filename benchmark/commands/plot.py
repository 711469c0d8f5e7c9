"""``hippo-bench plot RUN_OR_CONFIG``: the figures of one run or configuration, as PNG and SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hippo_bench.commands import Parser, console
from hippo_bench.errors import UserError


def main(argv: Sequence[str]) -> int:
    from hippo_bench.plotting import figure_kinds

    stems = [k.stem for k in figure_kinds()]
    parser = Parser(prog="hippo-bench plot", description="Figures of a run (run_id) or of a configuration over "
                    "its seeds (config_id): accuracy matrix, forgetting curves, the learned pattern over training, "
                    "the network with its learned pattern, item correlations (CLS tasks).")
    parser.add_argument("ident", metavar="RUN_OR_CONFIG", help="a run_id or config_id of the results")
    parser.add_argument("--results", default="results", help="folder of result files (default: results)")
    parser.add_argument("--out", help="output folder (default: figures/RUN_OR_CONFIG)")
    parser.add_argument("--only", nargs="+", choices=stems, metavar="FIGURE",
                        help=f"draw only these figures ({', '.join(stems)})")
    args = parser.parse_args(argv)

    from hippo_bench.plotting import plot_selection, select
    from hippo_bench.plotting.data import load_checked

    sel = select(load_checked(Path(args.results)), args.ident)
    out = Path(args.out) if args.out else Path("figures") / args.ident
    written = plot_selection(sel, out, only=args.only)
    con = console()
    if not written:
        raise UserError(f"{args.ident}: none of the figures {', '.join(args.only or stems)} applies to this "
                        f"{sel.kind} (no accuracy or pattern rows)")
    what = f"run {args.ident} (seed {sel.seeds[0]})" if sel.kind == "run" else f"configuration {args.ident} ({sel.n_seeds} seeds)"
    con.print(f"{sel.title}, {what}:")
    for kind, paths in written:
        con.print(f"  {kind.stem}: {', '.join(str(p) for p in paths)}")
    return 0
