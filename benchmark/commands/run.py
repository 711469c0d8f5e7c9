"""``hippo-bench run``: train and evaluate one strategy on one benchmark (or suite) over seeds.

Flags depend on what is run (every Config field of the strategy, the
benchmark and the model is a flag), so parsing has two phases: first the
names (strategy, benchmark, model, preset, config file), then the full
parser. Settings resolve through :mod:`hippo_bench.resolve`, shared with
``sweep`` and the Python API.
"""

from __future__ import annotations

from typing import Any, Sequence

from hippo_bench.commands import Parser, console, load_yaml
from hippo_bench.errors import UserError

FLAG_RUN_KEYS = ("seeds", "benchmark_seed", "epochs", "batch_size", "eval_batch_size", "out", "data_root",
                 "device", "threads", "force", "reuse_stale", "vectorize_seeds")


def _base_parser() -> Parser:
    from hippo_bench.tasks import DEFAULT_BENCHMARK

    parser = Parser(prog="hippo-bench run", description="Train and evaluate a strategy on a benchmark.")
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
    parser.add_argument("--force", action="store_true", default=None,
                        help="rerun even if a results file made by the current code exists")
    parser.add_argument("--reuse-stale", action="store_true", default=None,
                        help="reuse a results file made by other code (marked stale in tables) instead of rerunning")
    parser.add_argument("--vectorize-seeds", action="store_true", default=None,
                        help="train the seeds as one batched model in this process (meta-hippo on a HippoNet; "
                        "rows identical to running each seed alone)")
    return parser


def main(argv: Sequence[str]) -> int:
    from hippo_bench.models import models
    from hippo_bench.params import add_flags
    from hippo_bench.resolve import check_name, first_name, plan_from
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import DEFAULT_BENCHMARK, benchmarks

    # Phase 1: what are we running? (decides which flags exist)
    pre = Parser(prog="hippo-bench run", add_help=False)
    for flag in ("--strategy", "--benchmark", "--model", "--config", "--preset"):
        pre.add_argument(flag)
    pre.add_argument("-h", "--help", action="store_true")
    known, _ = pre.parse_known_args(argv)
    for kind in ("strategy", "benchmark", "model", "preset"):
        check_name(kind, getattr(known, kind), f"--{kind}")
    config_file = load_yaml(known.config, "config") if known.config else {}
    names_layers = [("config " + str(known.config), config_file),
                    ("flags", {k: getattr(known, k) for k in ("strategy", "benchmark", "model", "preset")})]
    preset_name = first_name("preset", names_layers)
    if preset_name:
        from hippo_bench.presets import load_preset

        names_layers.insert(0, (f"preset {preset_name}", load_preset(preset_name)))
    strategy_name = first_name("strategy", names_layers)
    if not strategy_name and not known.help:
        raise UserError("hippo-bench run: --strategy is required (hippo-bench list shows them)")
    strategy_cls = strategies.get(strategy_name) if strategy_name else None
    bench_name = first_name("benchmark", names_layers) or DEFAULT_BENCHMARK
    bench_cls = benchmarks.get(bench_name)

    # Phase 2: the full parser with this strategy's and benchmark's fields
    parser = _base_parser()
    strategy_dests = add_flags(parser, strategy_cls.Config, title=f"{strategy_name} parameters") if strategy_cls else {}
    bench_dests = add_flags(parser, bench_cls.Config, prefix="bench_", title=f"{bench_name} parameters (benchmark)")
    if known.help:
        model_name = first_name("model", names_layers) or (strategy_cls.default_model if strategy_cls else None)
        if model_name:
            add_flags(parser, models.get(model_name).Config, prefix="model_", title=f"{model_name} parameters (model)")
        parser.print_help()
        return 0

    ns, rest = parser.parse_known_args(argv)
    values = vars(ns)
    flags: dict[str, Any] = {k: values[k] for k in ("strategy", "benchmark", "model", "preset") if values[k] is not None}
    flags.update({k: values[k] for k in FLAG_RUN_KEYS if values.get(k) is not None})
    flags.update({d[len("cfg__"):]: v for d, v in values.items() if d in strategy_dests})
    bench_flags = {d[len("cfg__bench_"):]: v for d, v in values.items() if d in bench_dests}
    if bench_flags:
        flags["benchmark_params"] = bench_flags
    plan = plan_from([(f"config {known.config}", config_file), ("flags", flags)])

    # The model may come from the benchmark's default: build the first instance, then parse model flags.
    first_member = plan.members[0]
    first_instance = plan.build_instance(first_member)
    model_name = plan.choose_model(first_instance)
    mparser = Parser(prog="hippo-bench run")
    model_dests = add_flags(mparser, models.get(model_name).Config, prefix="model_")
    mns, unknown = mparser.parse_known_args(rest)
    if unknown:
        raise UserError(_unrecognized(unknown, (parser, mparser)))
    plan.resolve_model(("flags", {d[len("cfg__model_"):]: v for d, v in vars(mns).items() if d in model_dests}))
    return execute_plan(plan, first_instance)


def execute_plan(plan, first_instance=None) -> int:
    """Run every (benchmark, seed) of a resolved plan with a progress display and end-of-run tables."""
    from hippo_bench.launch import run_specs
    from hippo_bench.reporting.progress import RichProgress
    from hippo_bench.reporting.run_report import summary_table

    con = console()
    all_outcomes = []
    by_member: dict[str, list] = {}
    strategy_cls = plan.strategy_cls
    for i, member in enumerate(plan.members):
        instance = first_instance if (i == 0 and first_instance is not None) else plan.build_instance(member)
        specs = [plan.spec(member, instance, seed) for seed in plan.seeds]
        con.print(f"[bold]{strategy_cls.name}[/] on [bold]{member.name}[/] ({instance.protocol}); model "
                  f"{plan.model_name}; seeds {plan.seeds}; results in {plan.out}/")
        vectorize = bool(plan.vectorize_seeds and len(specs) > 1)
        if vectorize:
            con.print(f"training seeds {plan.seeds} as one batched model")
        outcomes = run_specs(specs, [instance] * len(specs), plan.out, force=plan.force, reuse_stale=plan.reuse_stale,
                             vectorize=vectorize, progress=RichProgress)
        for spec, outcome in zip(specs, outcomes):
            if outcome.status == "cached":
                con.print(f"seed {spec.seed}: results exist ({outcome.path}); reusing them (--force reruns)")
            elif outcome.status == "stale":
                con.print(f"[yellow]seed {spec.seed}: results made by other code reused ({outcome.path}); "
                          f"marked stale (drop --reuse-stale to rerun)[/]")
            elif outcome.status == "failed":
                con.print(f"[red]seed {spec.seed}: run failed: {outcome.error.splitlines()[0]}[/]")
        tables = [o.table for o in outcomes if o.table is not None]
        if tables:
            con.print(summary_table(tables, title=f"{strategy_cls.name} on {member.name}"))
            for renderable in strategy_cls(plan.strategy_config).report(tables):
                con.print(renderable)
            report = instance.extra.get("report")
            for renderable in (report(tables) if report else []):
                con.print(renderable)
        all_outcomes += outcomes
        by_member[member.name] = tables
    if plan.bench_cls.members and by_member:
        for renderable in plan.bench_cls().suite_report(by_member):
            con.print(renderable)
    failed = [o for o in all_outcomes if o.status == "failed"]
    if failed:
        con.print(f"[red]{len(failed)} of {len(all_outcomes)} runs failed; errors recorded in {plan.out}/failed/[/]")
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
