"""From settings to runs: presets, config files and flags resolved into :class:`RunSpec` s.

One resolution for every way in (``hippo-bench run``, ``hippo-bench sweep``,
``hippo_bench.run`` from Python): settings come as *layers*, each a mapping
with the keys of a ``--config`` file (run keys and strategy fields at the top
level, benchmark and model fields under ``benchmark_params`` and
``model_params``). Precedence is the order of the layers: defaults < preset <
config file < flags.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

from hippo_bench.errors import UserError

RUN_KEYS = ("strategy", "benchmark", "model", "preset", "seeds", "benchmark_seed", "epochs", "batch_size",
            "eval_batch_size", "out", "data_root", "device", "threads", "force", "reuse_stale", "vectorize_seeds",
            "log", "log_dir")
SECTION_KEYS = ("strategy_params", "benchmark_params", "model_params")
NAME_KEYS = ("strategy", "benchmark", "model", "preset")


@dataclasses.dataclass
class Layer:
    """One source of settings, split by what it configures."""

    source: str
    run: dict[str, Any]
    strategy: dict[str, Any]
    benchmark: dict[str, Any]
    model: dict[str, Any]


def split_layer(data: dict, strategy_fields: set[str], source: str) -> Layer:
    """A ``--config``-style mapping as a :class:`Layer`; unknown keys are user errors naming them."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping of keys to values, got {type(data).__name__}")
    run: dict[str, Any] = {}
    strat = dict(_section(data, "strategy_params", source))
    for key, value in data.items():
        k = str(key).replace("-", "_")
        if k in SECTION_KEYS:
            continue
        if k in RUN_KEYS:
            run[k] = value
        elif k in strategy_fields:
            strat[k] = value
        else:
            known = ", ".join(sorted(set(RUN_KEYS) | strategy_fields | set(SECTION_KEYS)))
            raise UserError(f"{source}: unknown key {key!r}; known: {known}")
    return Layer(source, run, strat, dict(_section(data, "benchmark_params", source)),
                 dict(_section(data, "model_params", source)))


def _section(data: dict, key: str, source: str) -> dict:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{source}: {key} must be a mapping, got {value!r}")
    return value


def check_name(kind: str, value: Any, source: str) -> str | None:
    """A component name from a layer: None when absent; blank or non-text is a user error."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{source}: {kind} name must be a non-empty name, got {value!r}")
    return value.strip()


def first_name(kind: str, raw_layers: list[tuple[str, dict]]) -> str | None:
    """The name of ``kind`` from the highest-precedence layer that sets it."""
    for source, data in reversed(raw_layers):
        name = check_name(kind, data.get(kind), source)
        if name is not None:
            return name
    return None


def positive(name: str, value: Any, minimum: int = 1) -> int:
    """An integer run option of at least ``minimum`` (one message naming the option otherwise)."""
    if isinstance(value, bool):
        raise UserError(f"{name}: expected an integer, got {value!r}")
    try:
        v = int(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
    except (TypeError, ValueError):
        raise UserError(f"{name}: expected an integer, got {value!r}") from None
    if v < minimum:
        raise UserError(f"{name}: must be >= {minimum}, got {v}")
    return v


@dataclasses.dataclass
class Member:
    """One benchmark a plan runs (a suite has several)."""

    name: str
    cls: type
    config: Any


@dataclasses.dataclass
class Plan:
    """A resolved request: strategy, benchmark(s), model and run options, ready to expand into RunSpecs."""

    strategy_cls: type
    strategy_config: Any
    bench_name: str
    bench_cls: type
    members: list[Member]
    model_name: str | None
    model_layers: list[tuple[str, dict]]
    preset: str
    seeds: list[int]
    benchmark_seed: int
    epochs: int
    batch_size: int | None
    eval_batch_size: int
    out: Path
    data_root: Path | None
    device: str
    threads: int
    force: bool
    reuse_stale: bool
    model_config: Any = None
    vectorize_seeds: bool = False
    logs: Any = None  # a hippo_bench.run_logs.LogRequest, or None

    # -- the model: it may default to the benchmark's --------------------------------------
    def choose_model(self, instance) -> str:
        """The model's name: the requested one, else the strategy's preference or the benchmark's default."""
        if not self.model_name:
            preferred = self.strategy_cls.models
            default = instance.default_model
            self.model_name = default if not preferred or default in preferred else preferred[0]
        return self.model_name

    def resolve_model(self, *extra: tuple[str, dict]) -> Any:
        """Build the model's Config from the layers (plus ``extra``, e.g. model flags)."""
        from hippo_bench.models import models
        from hippo_bench.params import build_config

        if not self.model_name:
            raise RuntimeError("choose_model() first")
        cls = models.get(self.model_name)
        self.model_config = build_config(cls.Config, *self.model_layers, *extra, flag_prefix="model_")
        return self.model_config

    # -- runs -----------------------------------------------------------------------------
    def build_instance(self, member: Member):
        from hippo_bench.runner import build_instance

        return build_instance(member.cls, member.config, self.benchmark_seed, self.data_root)

    def batch_for(self, instance) -> int:
        batch = self.batch_size or self.strategy_cls.default_batch_size or instance.default_batch_size
        return positive("--batch-size", batch)

    def spec(self, member: Member, instance, seed: int):
        from hippo_bench.runner import RunSpec

        if self.model_config is None:
            self.choose_model(instance)
            self.resolve_model()
        return RunSpec(benchmark=member.name, benchmark_config=member.config, strategy=self.strategy_cls,
                       strategy_config=self.strategy_config, model=self.model_name, model_config=self.model_config,
                       seed=seed, benchmark_seed=self.benchmark_seed, epochs=self.epochs,
                       train_mb_size=self.batch_for(instance), eval_mb_size=self.eval_batch_size,
                       preset=self.preset, device=self.device, threads=self.threads)

    def specs(self) -> Iterator[tuple[Member, Any, list]]:
        """(member, its instance, its RunSpecs over the seeds) for every benchmark of the plan."""
        for member in self.members:
            instance = self.build_instance(member)
            yield member, instance, [self.spec(member, instance, s) for s in self.seeds]


def plan_from(raw_layers: list[tuple[str, dict]], *, default_seeds: tuple[int, ...] = (0,)) -> Plan:
    """Resolve ``(source, mapping)`` layers, lowest precedence first, into a :class:`Plan`.

    A ``preset`` key in any layer loads that preset as the lowest layer.
    """
    from hippo_bench.params import build_config, fields_of
    from hippo_bench.presets import load_preset
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import DEFAULT_BENCHMARK, benchmarks

    preset_name = first_name("preset", raw_layers) or ""
    layers = list(raw_layers)
    if preset_name:
        preset = load_preset(preset_name)
        if "preset" in preset:
            raise UserError(f"preset {preset_name}: a preset cannot name another preset")
        layers.insert(0, (f"preset {preset_name}", preset))
    strategy_name = first_name("strategy", layers)
    if not strategy_name:
        raise UserError("--strategy is required (hippo-bench list shows them)")
    strategy_cls = strategies.get(strategy_name)
    bench_name = first_name("benchmark", layers) or DEFAULT_BENCHMARK
    bench_cls = benchmarks.get(bench_name)
    model_name = first_name("model", layers)
    if model_name:
        from hippo_bench.models import models

        models.get(model_name)  # an unknown model fails here, before anything is built

    sfields = {f.name for f in fields_of(strategy_cls.Config)}
    split = [split_layer(data, sfields, source) for source, data in layers]
    strategy_config = build_config(strategy_cls.Config, *[(L.source, L.strategy) for L in split])
    if bench_cls.members:
        extra = [L for L in split if L.benchmark]
        if extra:
            raise UserError(f"{extra[0].source}: {bench_name} is a suite of {', '.join(bench_cls.members)}; "
                            "its members run with their defaults (name a member to set its parameters)")
        members = [Member(m, benchmarks.get(m), benchmarks.get(m).Config()) for m in bench_cls.members]
    else:
        bench_config = build_config(bench_cls.Config, *[(L.source, L.benchmark) for L in split], flag_prefix="bench_")
        members = [Member(bench_name, bench_cls, bench_config)]

    run: dict[str, Any] = {}
    for L in split:
        run.update({k: v for k, v in L.run.items() if v is not None})
    seeds = run.get("seeds", list(default_seeds))
    if isinstance(seeds, (int, str)) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise UserError(f"--seeds: expected one or more integers, got {seeds!r}")
    seeds = [positive("--seeds", s, 0) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds: repeated seed in {seeds}")
    from hippo_bench.data_root import resolve_data_root

    batch = run.get("batch_size")
    return Plan(
        strategy_cls=strategy_cls, strategy_config=strategy_config, bench_name=bench_name, bench_cls=bench_cls,
        members=members, model_name=model_name, model_layers=[(L.source, L.model) for L in split],
        preset=preset_name, seeds=seeds,
        benchmark_seed=positive("--benchmark-seed", run.get("benchmark_seed", 0), 0),
        epochs=positive("--epochs", run.get("epochs", 1)),
        batch_size=positive("--batch-size", batch) if batch is not None else None,
        eval_batch_size=positive("--eval-batch-size", run.get("eval_batch_size", 512)),
        out=Path(str(run.get("out", "results"))), data_root=resolve_data_root(run.get("data_root")),
        device=str(run.get("device", "cpu")), threads=positive("--threads", run.get("threads", 1)),
        force=bool(run.get("force", False)), reuse_stale=bool(run.get("reuse_stale", False)),
        vectorize_seeds=_flag("vectorize_seeds", run.get("vectorize_seeds", False)),
        logs=_logs(run.get("log"), run.get("log_dir")))


def _logs(kinds: Any, folder: Any):
    """The loggers every run of the plan gets (``log``: names, ``log_dir``: their folder), or None."""
    from hippo_bench.run_logs import LogRequest

    return LogRequest.of(kinds, folder)


def _flag(key: str, value: Any) -> bool:
    """A yes/no run key: a YAML boolean (a string such as "no" would read as true)."""
    if not isinstance(value, bool):
        raise UserError(f"{key}: expected true or false, got {value!r}")
    return value
