"""Run the one-file strategy of ``my_strategy.py`` beside naive fine-tuning and see both on a leaderboard.

No data needed (generated patterns). Writes the runs and the board under
``--out`` and prints the board.

    python examples/strategy_on_a_board.py --out /tmp/my-board
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hippo_bench  # noqa: E402
import my_strategy  # noqa: E402,F401  (registers l2-naive)
from hippo_bench.reporting.leaderboard import build_leaderboards  # noqa: E402

PATTERNS = {"n_classes": 6, "classes_per_exp": 2, "dim": 32, "train_per_class": 40, "test_per_class": 20}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="my-board", help="folder for the runs (results/) and the board (boards/)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args(argv)
    results = Path(args.out) / "results"
    for strategy, params in (("l2-naive", {"weight_decay": 1e-2}), ("naive", {})):
        hippo_bench.run(strategy, benchmark="split-patterns", seeds=args.seeds, out=results,
                        benchmark_params=PATTERNS, **params)
    written = build_leaderboards(results, Path(args.out) / "boards")
    board = next(p for p in written if p.suffix == ".md")
    print(board.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
