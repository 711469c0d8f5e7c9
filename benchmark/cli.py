"""The ``hippo-bench`` command line: list, run, leaderboard.

User mistakes raise :class:`UserError`; ``main`` prints its message on one
line and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

from hippo_bench import __version__
from hippo_bench.errors import UserError

RUN_KEYS = {"strategy", "benchmark", "model", "seeds", "benchmark_seed", "epochs", "batch_size",
            "eval_batch_size", "out", "data_root", "device", "threads", "strategy_params", "benchmark_params",
            "model_params"}


class _Parser(argparse.ArgumentParser):
    """argparse that raises UserError instead of printing usage and exiting.

    Abbreviated flags are off: with flags generated from Config fields, a
    prefix such as ``--mode`` would silently mean ``--model``.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UserError(f"{self.prog}: {message}")


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)


# --------------------------------------------------------------------- list
def cmd_list(args) -> int:
    from hippo_bench.models import models
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import benchmarks

    con = _console()
    t = Table(title="Strategies", title_justify="left")
    for c in ("name", "description", "scenarios", "references"):
        t.add_column(c)
    for name, cls in strategies.items():
        t.add_row(name, cls.description, ", ".join(sorted(cls.scenarios)), "; ".join(cls.references))
    con.print(t)
    t = Table(title="Benchmarks", title_justify="left")
    for c in ("name", "kind", "description", "references"):
        t.add_column(c)
    for name, cls in benchmarks.items():
        t.add_row(name, cls.kind, cls.description, "; ".join(cls.references))
    con.print(t)
    t = Table(title="Models", title_justify="left")
    for c in ("name", "description", "references"):
        t.add_column(c)
    for name, cls in models.items():
        t.add_row(name, cls.description, "; ".join(cls.references))
    con.print(t)
    broken = [(reg.kind, n, e) for reg in (strategies, benchmarks, models) for n, e in reg.broken.items()]
    if broken:
        t = Table(title="Failed to load", title_justify="left")
        for c in ("kind", "name", "error"):
            t.add_column(c)
        for row in broken:
            t.add_row(*row)
        con.print(t)
    return 0


# ---------------------------------------------------------------------- run
def _load_yaml(path: str, what: str) -> dict:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{what} file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{what} file {p} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} file {p} must hold a mapping of keys to values")
    return data


def _split_yaml(data: dict, strategy_fields: set[str], source: str) -> tuple[dict, dict, dict, dict]:
    """Run keys, strategy params, benchmark params, model params of one YAML layer."""
    run, strat = {}, dict(data.get("strategy_params") or {})
    for key, value in data.items():
        k = key.replace("-", "_")
        if k in ("strategy_params", "benchmark_params", "model_params"):
            continue
        if k in RUN_KEYS:
            run[k] = value
        elif k in strategy_fields:
            strat[k] = value
        else:
            known = ", ".join(sorted(RUN_KEYS | strategy_fields))
            raise UserError(f"{source}: unknown key {key!r}; known: {known}")
    return run, strat, dict(data.get("benchmark_params") or {}), dict(data.get("model_params") or {})


def _preset_layer(name: str | None) -> tuple[str, dict]:
    from hippo_bench.presets import load_preset

    if not name:
        return "", {}
    return name, load_preset(name)


def cmd_run(argv: Sequence[str]) -> int:
    from hippo_bench.models import models
    from hippo_bench.params import add_flags, build_config, fields_of
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import DEFAULT_BENCHMARK, benchmarks

    # Phase 1: what are we running? (decides which flags exist)
    pre = _Parser(prog="hippo-bench run", add_help=False)
    pre.add_argument("--strategy")
    pre.add_argument("--benchmark")
    pre.add_argument("--model")
    pre.add_argument("--config")
    pre.add_argument("--preset")
    pre.add_argument("-h", "--help", action="store_true")
    known, _ = pre.parse_known_args(argv)

    preset_name, preset = _preset_layer(known.preset)
    config_file = _load_yaml(known.config, "config") if known.config else {}
    strategy_name = known.strategy or config_file.get("strategy") or preset.get("strategy")
    if not strategy_name:
        if known.help:
            strategy_name = None
        else:
            raise UserError("hippo-bench run: --strategy is required (hippo-bench list shows them)")
    strategy_cls = strategies.get(strategy_name) if strategy_name else None
    bench_name = known.benchmark or config_file.get("benchmark") or preset.get("benchmark") or DEFAULT_BENCHMARK
    bench_cls = benchmarks.get(bench_name)

    # Phase 2: the full parser with this strategy's, benchmark's and model's fields
    parser = _Parser(prog="hippo-bench run", description="Train and evaluate a strategy on a benchmark.")
    parser.add_argument("--strategy", help="strategy name (hippo-bench list)")
    parser.add_argument("--benchmark", help=f"benchmark name (default: {DEFAULT_BENCHMARK})")
    parser.add_argument("--model", help="model name (default: the strategy's or the benchmark's)")
    parser.add_argument("--preset", help="named protocol preset (benchmark, model and hyperparameters)")
    parser.add_argument("--config", help="YAML file of run keys and parameters (flags win)")
    parser.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="training seeds (default: 0)")
    parser.add_argument("--benchmark-seed", type=int, help="seed of the stream itself (default: 0)")
    parser.add_argument("--epochs", type=int, help="passes over each experience (default: 1)")
    parser.add_argument("--batch-size", type=int, help="training minibatch size")
    parser.add_argument("--eval-batch-size", type=int, help="evaluation minibatch size (default: 512)")
    parser.add_argument("--out", help="results folder (default: results)")
    parser.add_argument("--data-root", help="folder holding MNIST/ and omniglot/ (default: $HIPPO_BENCH_DATA)")
    parser.add_argument("--device", help="torch device (default: cpu)")
    parser.add_argument("--threads", type=int, help="torch CPU threads per run (default: 1; small online "
                        "models run fastest on one)")
    parser.add_argument("--force", action="store_true", help="rerun even if the results file exists")
    strategy_dests = add_flags(parser, strategy_cls.Config, title=f"{strategy_name} parameters") if strategy_cls else {}
    bench_dests = add_flags(parser, bench_cls.Config, prefix="bench_", title=f"{bench_name} parameters (benchmark)")
    if known.help and strategy_cls is None:
        parser.print_help()
        return 0

    model_name = known.model or config_file.get("model") or preset.get("model")
    if not model_name:
        model_name = strategy_cls.default_model or None
    if known.help:
        model_cls = models.get(model_name) if model_name else None
        if model_cls:
            add_flags(parser, model_cls.Config, prefix="model_", title=f"{model_name} parameters (model)")
        parser.print_help()
        return 0

    # The model may come from the benchmark's default, which needs the benchmark's config first.
    args_ns, rest = parser.parse_known_args(argv)
    flag_values = vars(args_ns)
    sfields = {s.name for s in fields_of(strategy_cls.Config)}
    p_run, p_strat, p_bench, p_model = _split_yaml(preset, sfields, f"preset {preset_name}")
    c_run, c_strat, c_bench, c_model = _split_yaml(config_file, sfields, f"config {known.config}")
    f_strat = {d[len("cfg__"):]: v for d, v in flag_values.items() if d in strategy_dests}
    f_bench = {d[len("cfg__bench_"):]: v for d, v in flag_values.items() if d in bench_dests}

    strategy_config = build_config(strategy_cls.Config, (f"preset {preset_name}", p_strat),
                                   (f"config {known.config}", c_strat), ("flags", f_strat))
    bench_config = build_config(bench_cls.Config, (f"preset {preset_name}", p_bench),
                                (f"config {known.config}", c_bench), ("flags", f_bench), flag_prefix="bench_")
    run_opts = {**p_run, **c_run, **{k: v for k, v in flag_values.items()
                                     if not k.startswith("cfg__") and v is not None and v is not False}}
    return _run_resolved(parser, argv, rest, strategy_cls, strategy_config, bench_name, bench_cls, bench_config,
                         model_name, (p_model, c_model), run_opts, preset_name)


def _positive(name: str, value: Any, minimum: int = 1) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise UserError(f"{name}: expected an integer, got {value!r}") from None
    if v < minimum:
        raise UserError(f"{name}: must be >= {minimum}, got {v}")
    return v


def _run_resolved(parser, argv, rest, strategy_cls, strategy_config, bench_name, bench_cls, bench_config,
                  model_name, model_layers, run_opts, preset_name) -> int:
    from hippo_bench.data_root import resolve_data_root
    from hippo_bench.models import models
    from hippo_bench.params import add_flags, build_config
    from hippo_bench.reporting.progress import RichProgress
    from hippo_bench.reporting.run_report import summary_table
    from hippo_bench.runner import RunSpec, execute

    seeds = run_opts.get("seeds", [0])
    if isinstance(seeds, int):
        seeds = [seeds]
    seeds = [_positive("--seeds", s, 0) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds: repeated seed in {seeds}")
    epochs = _positive("--epochs", run_opts.get("epochs", 1))
    benchmark_seed = _positive("--benchmark-seed", run_opts.get("benchmark_seed", 0), 0)
    eval_mb = _positive("--eval-batch-size", run_opts.get("eval_batch_size", 512))
    out = Path(run_opts.get("out", "results"))
    data_root = resolve_data_root(run_opts.get("data_root"))
    device = str(run_opts.get("device", "cpu"))
    threads = _positive("--threads", run_opts.get("threads", 1))
    force = bool(run_opts.get("force", False))

    con = _console()
    if bench_cls.members:  # a suite: its member benchmarks in turn, each with its defaults
        from hippo_bench.tasks import benchmarks

        plan = [(m, benchmarks.get(m), benchmarks.get(m).Config()) for m in bench_cls.members]
    else:
        plan = [(bench_name, bench_cls, bench_config)]
    # The model's flags are known once the model is: parse the leftovers for them.
    first_instance = plan[0][1](plan[0][2]).build(benchmark_seed, data_root)
    if not model_name:
        preferred = strategy_cls.models
        default = first_instance.default_model
        model_name = default if not preferred or default in preferred else preferred[0]
    model_cls = models.get(model_name)
    mparser = _Parser(prog="hippo-bench run")
    model_dests = add_flags(mparser, model_cls.Config, prefix="model_")
    mns, unknown = mparser.parse_known_args(rest)
    if unknown:
        raise UserError(_unrecognized(unknown, (parser, mparser)))
    f_model = {d[len("cfg__model_"):]: v for d, v in vars(mns).items() if d in model_dests}
    model_config = build_config(model_cls.Config, ("preset", model_layers[0]), ("config", model_layers[1]),
                                ("flags", f_model), flag_prefix="model_")

    all_outcomes = []
    by_member: dict[str, list] = {}
    for i, (b_name, b_cls, b_config) in enumerate(plan):
        instance = first_instance if i == 0 else b_cls(b_config).build(benchmark_seed, data_root)
        batch = run_opts.get("batch_size") or strategy_cls.default_batch_size or instance.default_batch_size
        batch = _positive("--batch-size", batch)
        con.print(f"[bold]{strategy_cls.name}[/] on [bold]{b_name}[/] ({instance.protocol}); model "
                  f"{model_name}; seeds {seeds}; results in {out}/")
        outcomes = []
        for seed in seeds:
            spec = RunSpec(benchmark=b_name, benchmark_config=b_config, strategy=strategy_cls,
                           strategy_config=strategy_config, model=model_name, model_config=model_config,
                           seed=seed, benchmark_seed=benchmark_seed, epochs=epochs, train_mb_size=batch,
                           eval_mb_size=eval_mb, preset=preset_name, device=device,
                           threads=threads)
            outcome = execute(spec, instance, out, force=force, progress=RichProgress())
            if outcome.status == "cached":
                con.print(f"seed {seed}: results exist ({outcome.path}); reusing them (--force reruns)")
            elif outcome.status == "failed":
                con.print(f"[red]seed {seed}: run failed: {outcome.error.splitlines()[0]}[/]")
            outcomes.append(outcome)
        tables = [o.table for o in outcomes if o.table is not None]
        if tables:
            con.print(summary_table(tables, title=f"{strategy_cls.name} on {b_name}"))
            for renderable in strategy_cls(strategy_config).report(tables):
                con.print(renderable)
            for renderable in instance_reports(instance, tables):
                con.print(renderable)
        all_outcomes += outcomes
        by_member[b_name] = tables
    if bench_cls.members and by_member:
        for renderable in bench_cls(bench_config).suite_report(by_member):
            con.print(renderable)
    failed = [o for o in all_outcomes if o.status == "failed"]
    if failed:
        con.print(f"[red]{len(failed)} of {len(all_outcomes)} runs failed; errors recorded in {out}/failed/[/]")
        return 1
    return 0


def _unrecognized(unknown: list[str], parsers) -> str:
    """The 'unrecognized arguments' message, naming the closest known flags."""
    import difflib

    known = sorted({o for p in parsers for a in p._actions for o in a.option_strings if o.startswith("--")})
    hints = []
    for arg in unknown:
        if arg.startswith("--"):
            close = difflib.get_close_matches(arg.split("=")[0], known, n=3, cutoff=0.6)
            if close:
                hints.append(f"{arg}: did you mean {', '.join(close)}?")
    return f"hippo-bench run: unrecognized arguments: {' '.join(unknown)}" + (
        f" ({'; '.join(hints)})" if hints else "")


def instance_reports(instance, tables) -> list:
    report = instance.extra.get("report")
    return report(tables) if report else []


# -------------------------------------------------------------- leaderboard
def cmd_leaderboard(argv: Sequence[str]) -> int:
    from hippo_bench.reporting.leaderboard import build_leaderboards

    parser = _Parser(prog="hippo-bench leaderboard", description="Leaderboards from tidy results.")
    sub = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    b = sub.add_parser("build", help="write leaderboards/<benchmark>.md and .html")
    b.add_argument("--results", default="results", help="folder of result files (default: results)")
    b.add_argument("--out", default="leaderboards", help="output folder (default: leaderboards)")
    c = sub.add_parser("check", help="compare the results with the published targets (ours, target, difference)")
    c.add_argument("--results", default="results", help="folder of result files (default: results)")
    c.add_argument("--targets", help="targets CSV (default: the packaged hippo_bench/targets/published.csv)")
    args = parser.parse_args(argv)
    if args.action == "check":
        from hippo_bench.reporting.targets import check, check_table

        _console().print(check_table(check(Path(args.results), args.targets)))
    if args.action == "build":
        results = Path(args.results)
        if not results.is_dir():
            raise UserError(f"--results: folder not found: {results}")
        written = build_leaderboards(results, Path(args.out))
        con = _console()
        if not written:
            con.print(f"no completed runs under {results}/; nothing written")
        for path in written:
            con.print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------- main
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
    top = _Parser(prog="hippo-bench", description="Continual-learning benchmarks for meta-learned "
                  "hippocampal models and their baselines.",
                  epilog="commands: list | run --strategy NAME [...] | leaderboard build|check | data check|download")
    top.add_argument("--version", action="version", version=f"hippo-bench {__version__}")
    top.add_argument("command", choices=["list", "run", "leaderboard", "data"])
    try:
        if not argv or argv[0] in ("-h", "--help", "--version"):
            top.parse_args(argv or ["--help"])
            return 0
        cmd, rest = argv[0], argv[1:]
        if cmd == "list":
            _Parser(prog="hippo-bench list").parse_args(rest)
            return cmd_list(rest)
        if cmd == "run":
            return cmd_run(rest)
        if cmd == "leaderboard":
            return cmd_leaderboard(rest)
        if cmd == "data":
            from hippo_bench.data_cli import cmd_data

            return cmd_data(rest)
        top.parse_args([cmd])
        return 2
    except UserError as exc:
        from rich.markup import escape

        message = " ".join(str(exc).split())  # always one line, whatever the source wrote
        Console(stderr=True, highlight=False).print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        return 130
