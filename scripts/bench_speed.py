"""Speed and memory of meta-hippo on the seed's protocols, against naive, with issue 11's targets beside them.

Runs every configuration in this one process on the same benchmark instance
(built once per protocol) and prints a table: training-update throughput
(samples per second of ``train`` calls), whole-run throughput (evaluations
included), CPU-time throughput (robust to other load on a shared machine),
the ratio to naive on the same stream, the ratio of training-only to
whole-run throughput, and the target. Peak RSS is the process's high-water
mark, so "flat in stream length" is measured in child processes, one per
stream length (``--rss-lengths``), each running meta-hippo on a rotated-MNIST
stream of that many tasks.

The work table (``--work``) says what the targets ask of this CPU: one
meta-hippo run per protocol, with every ATen op counted and the FLOPs of
the matrix products (mm, bmm, addmm, addr) summed, training and evaluation
apart. Dividing by this process's best matrix-product speed, and adding
the cost of the cheapest op once per dispatched op, gives the most samples
per second any implementation with these products (and, for the second
ceiling, this implementation's op count) could train at here.

    make bench                                   # both protocols, seed 0, 10 vectorised seeds, RSS at 20 and 100 tasks, work
    python scripts/bench_speed.py --protocols seed-rotated-mnist --seeds 0 1 --rss-lengths

The seed's code, on a 2-core machine, trains at a median 345 samples/s on the
rotated protocol and 41/s on the dual one, and peaks at 5.1 GB (issue 3).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

SEED_CODE_SAMPLES_PER_S = {"seed-rotated-mnist": 345.0, "seed-dual-mnist": 41.0}
# Issue 11's throughput targets (training samples/s of meta-hippo `both`, one seed, one process).
TARGET_SAMPLES_PER_S = {"seed-rotated-mnist": 3500.0, "seed-dual-mnist": 600.0}
TARGET_RUN_RATIO = 1.5  # training-only throughput / whole-run throughput
TARGET_VECTORISED_SAMPLES_PER_S = 10000.0  # summed over 10 seeds trained as one batched model
TARGET_RSS_MB = 1536.0


def _protocol(name: str, data_root: str | None):
    """(preset, benchmark instance, benchmark config, seconds to build)."""
    from hippo_bench.data_root import resolve_data_root
    from hippo_bench.params import build_config
    from hippo_bench.presets import load_preset
    from hippo_bench.tasks import benchmarks

    preset = load_preset(name)
    bench_cls = benchmarks.get(preset["benchmark"])
    bench_cfg = build_config(bench_cls.Config, ("preset", preset.get("benchmark_params", {})))
    t0 = time.perf_counter()
    instance = bench_cls(bench_cfg).build(0, resolve_data_root(data_root))
    return preset, instance, bench_cfg, time.perf_counter() - t0


def _configs(preset: dict, alpha_init: float) -> list[tuple]:
    from hippo_bench.models import models
    from hippo_bench.params import build_config
    from hippo_bench.strategies import strategies

    strat_keys = {k: v for k, v in preset.items() if k not in (
        "strategy", "benchmark", "model", "batch_size", "epochs", "benchmark_params", "model_params", "seeds",
        "description", "source")}
    model_cfg = build_config(models.get(preset["model"]).Config, ("preset", preset.get("model_params", {})))
    mh, naive = strategies.get("meta-hippo"), strategies.get("naive")
    return [
        ("meta-hippo (both)", mh, build_config(mh.Config, ("preset", {**strat_keys, "condition": "both",
                                                                     "alpha_init": alpha_init})),
         preset["model"], model_cfg),
        ("meta-hippo (baseline)", mh, build_config(mh.Config, ("preset", {**strat_keys, "condition": "baseline",
                                                                         "alpha_init": alpha_init})),
         preset["model"], model_cfg),
        ("naive (same model)", naive, naive.Config(lr=0.05), preset["model"], model_cfg),
    ]


def _measure(outcome) -> dict:
    t = outcome.table
    val = lambda m: float(t.loc[t["metric"] == m, "value"].iloc[-1])  # noqa: E731
    acc = t[(t["metric"] == "accuracy") & (t["train_exp"] == t["train_exp"].max()) & (t["lesion"] == "")]
    return dict(train=val("train_samples_per_s"), run=val("run_samples_per_s"),
                cpu_train=val("train_samples") / val("train_cpu_time_s"), rss=val("peak_rss_mb"),
                acc=float(acc["value"].mean()))


def throughput(protocols: list[str], seeds: list[int], alpha_init: float, threads: int, data_root, con) -> int:
    from hippo_bench.runner import RunSpec, execute

    for name in protocols:
        preset, instance, bench_cfg, build_s = _protocol(name, data_root)
        configs = _configs(preset, alpha_init)
        rows = []
        for label, cls, cfg, mname, mcfg in configs:
            for seed in seeds:
                spec = RunSpec(benchmark=preset["benchmark"], benchmark_config=bench_cfg, strategy=cls,
                               strategy_config=cfg, model=mname, model_config=mcfg, seed=seed,
                               train_mb_size=int(preset.get("batch_size", 5)), threads=threads)
                outcome = execute(spec, instance, None)
                if outcome.status != "ok":
                    con.print(f"[red]{name} · {label} seed {seed} {outcome.status}: {outcome.error}")
                    return 1
                rows.append(dict(config=label, seed=seed, **_measure(outcome)))
        df = pd.DataFrame(rows).groupby("config", sort=False).mean(numeric_only=True)
        ref = df.loc[configs[-1][0]]
        table = Table(title=f"{name}: {instance.protocol} (built in {build_s:.1f} s; threads={threads}; "
                            f"seeds {seeds})", title_justify="left")
        for col in ("configuration", "train samples/s", "run samples/s", "train / run", "train samples/CPU-s",
                    "vs naive", "vs seed's code", "target train samples/s", "peak RSS MB", "ACC"):
            table.add_column(col, justify="left" if col == "configuration" else "right")
        target = TARGET_SAMPLES_PER_S.get(name)
        for label, r in df.iterrows():
            is_target_row = label == "meta-hippo (both)" and target
            table.add_row(label, f"{r['train']:,.0f}", f"{r['run']:,.0f}",
                          f"{r['train'] / r['run']:.2f} (≤ {TARGET_RUN_RATIO})",
                          f"{r['cpu_train']:,.0f}", f"{r['train'] / ref['train']:.2f}",
                          f"{r['train'] / SEED_CODE_SAMPLES_PER_S.get(name, float('nan')):.1f}x",
                          (f"{target:,.0f} ({'met' if r['train'] >= target else 'missed'})" if is_target_row
                           else ""), f"{r['rss']:,.0f}", f"{r['acc']:.3f}")
        con.print(table)
    return 0


def vectorised(n_seeds: int, alpha_init: float, data_root, con) -> int:
    """N seeds of meta-hippo ``both`` on the seed's rotated protocol: one after another, then as one batched model.

    Both ways run in this process on the same stream, and every seed's rows
    are checked to be identical. "Training" uses the protocol with one test
    image per task, so that evaluation costs next to nothing; "whole run" is
    the protocol itself (500 test images per task, evaluated after every task).
    """
    from hippo_bench.params import build_config
    from hippo_bench.runner import RunSpec, execute
    from hippo_bench.strategies.vectorized import execute_seeds
    from hippo_bench.tasks import benchmarks
    from hippo_bench.verify import compare_tables

    preset, _, _, _ = _protocol("seed-rotated-mnist", data_root)
    bench_cls = benchmarks.get(preset["benchmark"])
    label, cls, cfg, mname, mcfg = _configs(preset, alpha_init)[0]
    table = Table(title=f"Seeds vectorised: {n_seeds} seeds of {label} on seed-rotated-mnist, one after another "
                        "and as one batched model (this process)", title_justify="left")
    for col in ("what is timed", "samples", "one after another s", "batched s", "samples/s one after another",
                "samples/s batched (sum over seeds)", "speed-up", "target (sum)", "rows identical"):
        table.add_column(col, justify="left" if col == "what is timed" else "right")
    from hippo_bench.data_root import resolve_data_root

    for what, overrides in (("training (1 test image per task)", {"test_per_task": 1}),
                            ("whole run (the protocol)", {})):
        bench_cfg = build_config(bench_cls.Config, ("preset", {**preset["benchmark_params"], **overrides}))
        instance = bench_cls(bench_cfg).build(0, resolve_data_root(data_root))
        specs = [RunSpec(benchmark=preset["benchmark"], benchmark_config=bench_cfg, strategy=cls, strategy_config=cfg,
                         model=mname, model_config=mcfg, seed=seed, train_mb_size=int(preset.get("batch_size", 5)))
                 for seed in range(n_seeds)]
        t0 = time.perf_counter()
        lone = [execute(spec, instance, None, checkpoints=False) for spec in specs]
        t1 = time.perf_counter()
        together = execute_seeds(specs, [instance] * n_seeds, None, checkpoints=False)
        t2 = time.perf_counter()
        if any(o.status != "ok" for o in lone + together):
            con.print(f"[red]a run failed: {[o.error for o in lone + together if o.error][:1]}")
            return 1
        same = all(compare_tables(a.table, b.table).max_diff == 0 for a, b in zip(lone, together))
        samples = sum(float(o.table.loc[o.table["metric"] == "train_samples", "value"].iloc[0]) for o in lone)
        target = TARGET_VECTORISED_SAMPLES_PER_S if what.startswith("training") else None
        rate = samples / (t2 - t1)
        table.add_row(what, f"{samples:,.0f}", f"{t1 - t0:.1f}", f"{t2 - t1:.1f}", f"{samples / (t1 - t0):,.0f}",
                      f"{rate:,.0f}", f"{(t1 - t0) / (t2 - t1):.2f}",
                      f"{target:,.0f} ({'met' if rate >= target else 'missed'})" if target else "",
                      "yes" if same else "NO")
    con.print(table)
    return 0


def rss_child(n_tasks: int, data_root) -> dict:
    """In a fresh process: meta-hippo on an n-task rotated stream (small test sets), its peak RSS."""
    from hippo_bench.params import build_config
    from hippo_bench.runner import RunSpec, execute
    from hippo_bench.tasks import benchmarks

    preset, _, _, _ = _protocol("seed-rotated-mnist", data_root)
    bench_cls = benchmarks.get("rotated-mnist")
    bench_cfg = build_config(bench_cls.Config, ("preset", {**preset["benchmark_params"], "n_tasks": n_tasks,
                                                           "test_per_task": 50}))
    from hippo_bench.data_root import resolve_data_root

    instance = bench_cls(bench_cfg).build(0, resolve_data_root(data_root))
    label, cls, cfg, mname, mcfg = _configs(preset, 0.1)[0]
    spec = RunSpec(benchmark="rotated-mnist", benchmark_config=bench_cfg, strategy=cls, strategy_config=cfg,
                   model=mname, model_config=mcfg, seed=0, train_mb_size=5, threads=1)
    outcome = execute(spec, instance, None)
    if outcome.status != "ok":
        raise SystemExit(f"rss run failed: {outcome.error}")
    # This process's own high-water mark: getrusage's ru_maxrss (the results file's peak_rss_mb) keeps, across
    # exec, the resident size of the parent that forked it, which is the bench process after its other tables.
    return {"n_tasks": n_tasks, **_measure(outcome), "rss": _vm_hwm_mb()}


def _vm_hwm_mb() -> float:
    """Peak resident memory of this process image (VmHWM, reset by exec), in MB; Linux only."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    raise SystemExit("no VmHWM in /proc/self/status (the memory table needs Linux)")


def memory(lengths: list[int], data_root, con) -> int:
    rows = []
    for n in lengths:
        cmd = [sys.executable, __file__, "--rss-child", str(n)] + (["--data-root", data_root] if data_root else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            con.print(f"[red]RSS run with {n} tasks failed:[/] {done.stderr.strip().splitlines()[-1:]}")
            return 1
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    table = Table(title="Peak RSS of one meta-hippo process by stream length (rotated MNIST, 200 images per task, "
                        "50 test images per task)", title_justify="left")
    for col in ("tasks", "peak RSS MB", f"vs {lengths[0]} tasks", f"target < {TARGET_RSS_MB:,.0f} MB"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["n_tasks"]), f"{r['rss']:,.0f}", f"{r['rss'] / rows[0]['rss']:.2f}",
                      "met" if r["rss"] < TARGET_RSS_MB else "missed")
    con.print(table)
    return 0


def _work_counter():
    """A dispatch mode counting ATen ops and matrix-product FLOPs, apart for training and everything else."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    aten = torch.ops.aten

    def outer_flops(out_shape) -> int:  # addr: one multiply-add per entry of the (out, in) matrix
        return 2 * out_shape[0] * out_shape[1]

    class WorkCounter(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.phase = "other"
            self.ops = {"train": 0, "other": 0}
            self.flops = {"train": 0, "other": 0}

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            self.ops[self.phase] += 1
            packet = func.overloadpacket
            if packet in (aten.addr, aten.addr_):
                self.flops[self.phase] += outer_flops(out.shape)
            elif packet in flop_registry:
                self.flops[self.phase] += int(flop_registry[packet](*args, **kwargs, out_val=out))
            return out

    return WorkCounter()


def _best_gemm_flops() -> float:
    """The fastest matrix product of this process (FLOP/s): the best of a few shapes the protocols use."""
    best = 0.0
    for m, k, n in ((500, 784, 200), (50, 1000, 2000), (50, 200, 2000), (1000, 200, 200)):
        a, b = torch.rand(m, k), torch.rand(k, n)
        for _ in range(10):
            a @ b
        reps = max(5, int(2e9 / (2 * m * k * n)))
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - t0))
    return best


def _cheapest_op_s() -> float:
    """Seconds of the cheapest dispatched op here (a view, an in-place negation, a relu of one 200-unit row)."""
    x = torch.rand(1, 200)
    best = float("inf")
    for op in (torch.Tensor.t, torch.Tensor.neg_, torch.relu):
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(2000):
                op(x)
            best = min(best, (time.perf_counter() - t0) / 2000)
    return best


def ceilings(flops: dict, ops: dict, samples: float, peak: float, op_s: float, target: float) -> dict:
    """The most training samples/s the counted work allows here, and the least train/run ratio at ``target``.

    ``flops`` and ``ops`` are the counter's totals ("train", "other");
    ``peak`` the best matrix-product speed (FLOP/s), ``op_s`` the cheapest
    op's seconds. Training at ``target`` takes samples/target seconds; the
    rest of the run (evaluations, measures) at least its FLOPs over peak.
    """
    flop_per_sample, ops_per_sample = flops["train"] / samples, ops["train"] / samples
    return dict(flop_per_sample=flop_per_sample, ops_per_sample=ops_per_sample, target=target,
                flops_only=peak / flop_per_sample,
                with_ops=1.0 / (flop_per_sample / peak + ops_per_sample * op_s),
                least_ratio=1.0 + (flops["other"] / peak) / (samples / target))


def work(protocols: list[str], alpha_init: float, data_root, con) -> int:
    """What the throughput targets ask of this CPU, from the work of one counted run per protocol."""
    from unittest import mock

    from avalanche.training.templates.base import BaseTemplate

    from hippo_bench.runner import RunSpec, execute

    torch.set_num_threads(1)
    peak, op_s = _best_gemm_flops(), _cheapest_op_s()
    table = Table(title=f"Work per training sample of meta-hippo (both), counted in one run per protocol; best "
                        f"matrix product here {peak / 1e9:.0f} GFLOP/s, cheapest op {op_s * 1e6:.1f} us",
                  title_justify="left")
    for col in ("protocol", "train MFLOP/sample", "ATen ops/sample", "ceiling: FLOPs at best speed",
                "ceiling: + cheapest op per op", "target train samples/s", "evaluation GFLOP/run",
                f"least train/run at target (≤ {TARGET_RUN_RATIO})"):
        table.add_column(col, justify="left" if col == "protocol" else "right")
    vectorised_need = 0.0
    for name in protocols:
        preset, instance, bench_cfg, _ = _protocol(name, data_root)
        label, cls, cfg, mname, mcfg = _configs(preset, alpha_init)[0]
        spec = RunSpec(benchmark=preset["benchmark"], benchmark_config=bench_cfg, strategy=cls, strategy_config=cfg,
                       model=mname, model_config=mcfg, seed=0, train_mb_size=int(preset.get("batch_size", 5)))
        counter = _work_counter()
        real_train = BaseTemplate.train

        def counted_train(self, *args, **kwargs):
            counter.phase = "train"
            try:
                return real_train(self, *args, **kwargs)
            finally:
                counter.phase = "other"

        with mock.patch.object(BaseTemplate, "train", counted_train), counter:
            outcome = execute(spec, instance, None, checkpoints=False)
        if outcome.status != "ok":
            con.print(f"[red]{name}: the counted run {outcome.status}: {outcome.error}")
            return 1
        t = outcome.table
        samples = float(t.loc[t["metric"] == "train_samples", "value"].iloc[0])
        c = ceilings(counter.flops, counter.ops, samples, peak, op_s, TARGET_SAMPLES_PER_S.get(name, float("nan")))
        verdict = lambda ok: "under the ceiling" if ok else "above the ceiling"  # noqa: E731
        table.add_row(name, f"{c['flop_per_sample'] / 1e6:.1f}", f"{c['ops_per_sample']:,.0f}",
                      f"{c['flops_only']:,.0f}", f"{c['with_ops']:,.0f}",
                      f"{c['target']:,.0f} ({verdict(c['with_ops'] >= c['target'])})",
                      f"{counter.flops['other'] / 1e9:.1f}",
                      f"{c['least_ratio']:.2f} ({verdict(c['least_ratio'] <= TARGET_RUN_RATIO)})")
        if name == "seed-rotated-mnist":
            vectorised_need = c["flop_per_sample"] * TARGET_VECTORISED_SAMPLES_PER_S
    con.print(table)
    if vectorised_need:
        con.print(f"{TARGET_VECTORISED_SAMPLES_PER_S:,.0f} samples/s summed over vectorised seeds of seed-rotated-mnist "
                  f"needs {vectorised_need / 1e9:.0f} GFLOP/s of matrix products from one core, sustained: "
                  f"{vectorised_need / peak:.0%} of the best speed above (the inner loop's products are one "
                  "sample wide).")
    return 0


def main(argv=None) -> int:
    from hippo_bench.cli import prepare_environment

    prepare_environment()
    from hippo_bench.errors import UserError

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocols", nargs="*", default=["seed-rotated-mnist", "seed-dual-mnist"],
                    help="presets to time (default: the seed's rotated and dual protocols)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--alpha-init", type=float, default=0.1)
    ap.add_argument("--rss-lengths", type=int, nargs="*", default=[20, 100],
                    help="stream lengths (tasks) for the memory table; none to skip it")
    ap.add_argument("--vectorized-seeds", type=int, default=10,
                    help="seeds for the vectorised-seeds table (0 to skip it)")
    ap.add_argument("--work", nargs="*", default=None,
                    help="protocols for the work table (default: those of --protocols); --work with no "
                         "protocol skips it")
    ap.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--data-root")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    con = Console(width=160)
    try:
        if args.rss_child:
            print(json.dumps(rss_child(args.rss_child, args.data_root)))
            return 0
        code = throughput(args.protocols, args.seeds, args.alpha_init, args.threads, args.data_root, con)
        if code == 0 and args.vectorized_seeds > 1:
            code = vectorised(args.vectorized_seeds, args.alpha_init, args.data_root, con)
        if code == 0 and args.rss_lengths:
            code = memory(args.rss_lengths, args.data_root, con)
        work_protocols = args.protocols if args.work is None else args.work
        if code == 0 and work_protocols:
            code = work(work_protocols, args.alpha_init, args.data_root, con)
    except UserError as exc:
        con.print(f"[red]error:[/] {exc}")
        return 2
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    con.print(f"load average at the end: {load:.2f} on {os.cpu_count()} CPUs "
              "(other load inflates wall-clock rates; the CPU-time column is less sensitive)")
    return code


if __name__ == "__main__":
    sys.exit(main())
