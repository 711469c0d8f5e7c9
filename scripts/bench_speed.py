"""Speed and memory of meta-hippo against naive on the seed's rotated-MNIST stream.

Runs every configuration in this one process on the same benchmark instance
(built once) and prints a table: training-update throughput (samples per
second of ``train`` calls), whole-run throughput (evaluations included),
CPU-time throughput (robust to other load on a shared machine), the ratio to
the reference configuration, and peak resident memory. Peak RSS is the
process's high-water mark, so configurations run in order and each row
shows the peak so far (meta-hippo runs first).

    make bench                      # or: python scripts/bench_speed.py --seeds 0 1
    python scripts/bench_speed.py --preset seed-rotated-mnist --alpha-init 0.1

The seed's code, on a 2-core machine, trains at a median 345 samples/s
(training updates only; about 160/s with its periodic evaluations) and peaks
at 5.1 GB (issue 3).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import pandas as pd
from rich.console import Console
from rich.table import Table

SEED_CODE_SAMPLES_PER_S = 345.0


def main(argv=None) -> int:
    from hippo_bench.cli import prepare_environment

    prepare_environment()
    from hippo_bench.data_root import resolve_data_root
    from hippo_bench.errors import UserError
    from hippo_bench.models import models
    from hippo_bench.params import build_config
    from hippo_bench.presets import load_preset
    from hippo_bench.runner import RunSpec, execute
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import benchmarks

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="seed-rotated-mnist")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--alpha-init", type=float, default=0.1)
    ap.add_argument("--data-root")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    con = Console(width=150)
    try:
        preset = load_preset(args.preset)
        bench_cls = benchmarks.get(preset["benchmark"])
        bench_cfg = build_config(bench_cls.Config, ("preset", preset.get("benchmark_params", {})))
        t0 = time.perf_counter()
        instance = bench_cls(bench_cfg).build(0, resolve_data_root(args.data_root))
        build_s = time.perf_counter() - t0
    except UserError as exc:
        con.print(f"[red]error:[/] {exc}")
        return 2
    strat_keys = {k: v for k, v in preset.items() if k not in (
        "strategy", "benchmark", "model", "batch_size", "epochs", "benchmark_params", "model_params", "seeds")}
    model_name = preset["model"]
    model_cfg = build_config(models.get(model_name).Config, ("preset", preset.get("model_params", {})))
    mh = strategies.get("meta-hippo")
    naive = strategies.get("naive")
    configs = [
        ("meta-hippo (both)", mh, build_config(mh.Config, ("preset", {**strat_keys, "alpha_init": args.alpha_init})),
         model_name, model_cfg),
        ("meta-hippo (baseline)", mh, build_config(mh.Config, ("preset", {**strat_keys, "condition": "baseline",
                                                                         "alpha_init": args.alpha_init})),
         model_name, model_cfg),
        ("naive (mlp 2x100)", naive, naive.Config(lr=0.05), "mlp", models.get("mlp").Config()),
    ]
    rows = []
    for label, cls, cfg, mname, mcfg in configs:
        for seed in args.seeds:
            spec = RunSpec(benchmark=preset["benchmark"], benchmark_config=bench_cfg, strategy=cls,
                           strategy_config=cfg, model=mname, model_config=mcfg, seed=seed,
                           train_mb_size=int(preset.get("batch_size", 5)), threads=args.threads)
            outcome = execute(spec, instance, None)
            if outcome.status != "ok":
                con.print(f"[red]{label} seed {seed} {outcome.status}: {outcome.error}")
                return 1
            t = outcome.table
            val = lambda m: float(t.loc[t["metric"] == m, "value"].iloc[-1])  # noqa: E731
            acc = t[(t["metric"] == "accuracy") & (t["train_exp"] == t["train_exp"].max()) & (t["lesion"] == "")]
            rows.append(dict(config=label, seed=seed, train=val("train_samples_per_s"), run=val("run_samples_per_s"),
                             cpu_train=val("train_samples") / val("train_cpu_time_s"),
                             rss=val("peak_rss_mb"), acc=float(acc["value"].mean())))
    df = pd.DataFrame(rows).groupby("config", sort=False).mean(numeric_only=True)
    ref = df.loc[configs[-1][0]]
    table = Table(title=f"{args.preset}: {instance.protocol} (benchmark built in {build_s:.1f} s; "
                        f"threads={args.threads}; seeds {args.seeds})", title_justify="left")
    for col in ("configuration", "train samples/s", "run samples/s", "train samples/CPU-s", "vs naive (train)",
                "vs seed's code (train)", "peak RSS MB", "ACC"):
        table.add_column(col, justify="left" if col == "configuration" else "right")
    for label, r in df.iterrows():
        table.add_row(label, f"{r['train']:,.0f}", f"{r['run']:,.0f}", f"{r['cpu_train']:,.0f}",
                      f"{r['train'] / ref['train']:.2f}", f"{r['train'] / SEED_CODE_SAMPLES_PER_S:.1f}x",
                      f"{r['rss']:,.0f}", f"{r['acc']:.3f}")
    con.print(table)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    con.print(f"load average during the runs: {load:.2f} on {os.cpu_count()} CPUs "
              "(other load inflates wall-clock rates; the CPU-time column is less sensitive)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
