"""The ``hippo-bench`` command line: a dispatcher over :mod:`hippo_bench.commands`.

Each command lives in a module of its own (``commands/<name>.py`` with
``main(argv) -> int``). User mistakes raise :class:`UserError`; ``main``
prints its message on one line and exits 2, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Sequence

from rich.console import Console

from hippo_bench import __version__
from hippo_bench.commands import Parser
from hippo_bench.errors import UserError

# command -> (module under hippo_bench.commands, one-line summary)
COMMANDS = {
    "list": ("list", "registered strategies, benchmarks and models"),
    "run": ("run", "train and evaluate a strategy on a benchmark over seeds"),
    "leaderboard": ("leaderboard", "build leaderboards from results, or check them against published targets"),
    "data": ("data", "check or download the MNIST and Omniglot data sets"),
    "experiment": ("experiment", "test one of the poster's claims over seeds and write its report"),
    "verify": ("verify", "rerun committed results with the current code and report differences (or regenerate)"),
    "sweep": ("sweep", "run every point of a grid file in parallel (local processes or Ray), skipping existing results"),
    "plot": ("plot", "figures of a run or configuration (accuracy matrix, forgetting, learned pattern, network)"),
    "report": ("report", "a static HTML site of the results: leaderboards, a page per configuration, verdicts"),
    "release": ("release", "regenerate the published results, leaderboards and claim reports with this code"),
    "golden": ("golden", "rerun the golden runs and compare them with their committed rows (or rewrite them)"),
}


def prepare_environment() -> None:
    """Make library side effects safe before Avalanche or matplotlib is imported.

    ``import avalanche`` creates ``~/.avalanche/config.json`` and fails when the
    home folder is read-only (CI, containers); HOME then points at a private
    folder under the cache (``$HIPPO_BENCH_CACHE``) or the temp folder.
    """
    import tempfile

    os.environ.setdefault("MPLBACKEND", "Agg")
    home = Path.home()
    if (home / ".avalanche" / "config.json").is_file() or os.access(home, os.W_OK):
        return
    user = getattr(os, "getuid", lambda: 0)()
    base = os.environ.get("HIPPO_BENCH_CACHE") or os.path.join(tempfile.gettempdir(), f"hippo-bench-{user}")
    private = Path(base) / "home"
    private.mkdir(parents=True, exist_ok=True)
    os.environ["HOME"] = str(private)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prepare_environment()
    summary = "; ".join(f"{name}: {text}" for name, (_, text) in COMMANDS.items())
    top = Parser(prog="hippo-bench", description="Continual-learning benchmarks for meta-learned "
                 "hippocampal models and their baselines.", epilog=f"commands: {summary}")
    top.add_argument("--version", action="version", version=f"hippo-bench {__version__}")
    top.add_argument("command", choices=list(COMMANDS))
    try:
        if not argv or argv[0] in ("-h", "--help", "--version"):
            top.parse_args(argv or ["--help"])
            return 0
        cmd, rest = argv[0], argv[1:]
        if cmd not in COMMANDS:
            top.parse_args([cmd])  # raises the "invalid choice" UserError
        module = importlib.import_module(f"hippo_bench.commands.{COMMANDS[cmd][0]}")
        return module.main(rest)
    except UserError as exc:
        from rich.markup import escape

        message = " ".join(str(exc).split())  # always one line, whatever the source wrote
        Console(stderr=True, highlight=False).print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        return 130
