"""Grid files: a base configuration and axes, expanded into one resolved run per point and seed.

A grid file holds ``base:`` (the keys of a ``--config`` file), ``axes:``
(key -> list of values; the product over axes), ``zip:`` (groups of keys
varied together, equal-length lists) and ``presets:`` (an axis over preset
names). A key is a run key, a strategy field, or a dotted
``benchmark_params.X`` / ``model_params.X``. Every point is resolved by
:func:`hippo_bench.resolve.plan_from`, so a grid accepts exactly what
``hippo-bench run --config`` accepts, and a bad key or value is one user
error naming it, raised before anything runs.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from pathlib import Path
from typing import Any

from hippo_bench.errors import UserError

GRID_KEYS = ("description", "base", "axes", "zip", "presets", "source")
SECTIONS = ("benchmark_params", "model_params", "strategy_params")


@dataclasses.dataclass
class Point:
    """One point of a grid: the values its axes take there (key -> value, dotted keys kept)."""

    values: dict[str, Any]

    def label(self) -> str:
        return ", ".join(f"{k}={_short(v)}" for k, v in self.values.items()) or "(base)"


@dataclasses.dataclass
class SweepRun:
    """One run of a sweep: its resolved spec plus what a worker needs to rebuild the benchmark."""

    spec: Any  # hippo_bench.runner.RunSpec (picklable: classes by reference, configs are dataclasses)
    point: Point
    data_root: Path | None
    logs: Any = None  # hippo_bench.run_logs.LogRequest, or None

    @property
    def run_id(self) -> str:
        return self.spec.run_id


@dataclasses.dataclass
class Grid:
    source: str
    base: dict
    axes: list[tuple[str, list]]  # (key, values), product in file order
    zips: list[dict[str, list]]  # each group: key -> values of equal length
    presets: list[str]

    def points(self) -> list[Point]:
        """Every point: presets (outermost) x axes (file order) x zip groups."""
        dims: list[list[dict]] = []
        if self.presets:
            dims.append([{"preset": p} for p in self.presets])
        for key, values in self.axes:
            dims.append([{key: v} for v in values])
        for group in self.zips:
            n = len(next(iter(group.values())))
            dims.append([{k: vs[i] for k, vs in group.items()} for i in range(n)])
        points = []
        for combo in itertools.product(*dims):
            values: dict[str, Any] = {}
            for part in combo:
                values.update(part)
            points.append(Point(values))
        return points

    def layers(self, point: Point) -> list[tuple[str, dict]]:
        """The resolver's layers for one point: the grid's base, then the point's values."""
        return [(f"{self.source} base", copy.deepcopy(self.base)),
                (f"{self.source} [{point.label()}]", nest(point.values))]


def load_grid(data: dict, source: str) -> Grid:
    """Check a grid file's shape (keys, non-empty axes, equal zip lengths) and return it."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: a grid file holds a mapping (base, axes, zip, presets)")
    for key in data:
        if key not in GRID_KEYS:
            raise UserError(f"{source}: unknown key {key!r}; a grid file holds {', '.join(GRID_KEYS)}")
    base = data.get("base") or {}
    if not isinstance(base, dict):
        raise UserError(f"{source}: base must be a mapping of --config keys, got {base!r}")
    axes_raw = data.get("axes") or {}
    if not isinstance(axes_raw, dict):
        raise UserError(f"{source}: axes must be a mapping of key -> list of values, got {axes_raw!r}")
    axes = [(str(k), _values(f"{source}: axes.{k}", v)) for k, v in axes_raw.items()]
    zips_raw = data.get("zip") or []
    if isinstance(zips_raw, dict):
        zips_raw = [zips_raw]
    if not isinstance(zips_raw, list):
        raise UserError(f"{source}: zip must be a list of mappings of key -> list of values")
    zips = []
    for i, group in enumerate(zips_raw):
        if not isinstance(group, dict) or not group:
            raise UserError(f"{source}: zip[{i}] must be a non-empty mapping of key -> list of values")
        g = {str(k): _values(f"{source}: zip[{i}].{k}", v) for k, v in group.items()}
        lengths = {k: len(v) for k, v in g.items()}
        if len(set(lengths.values())) > 1:
            raise UserError(f"{source}: zip[{i}] lists differ in length: "
                            + ", ".join(f"{k} has {n}" for k, n in lengths.items()))
        zips.append(g)
    presets = data.get("presets")
    presets = [] if presets is None else _values(f"{source}: presets", presets)
    for p in presets:
        if not isinstance(p, str) or not p.strip():
            raise UserError(f"{source}: presets: expected preset names, got {p!r}")
    seen: dict[str, str] = {}
    varied = ([("preset", "presets")] if presets else []) + [(k, "axes") for k, _ in axes] + \
        [(k, f"zip[{i}]") for i, g in enumerate(zips) for k in g]
    for key, where in varied:
        if key in seen:
            raise UserError(f"{source}: key {key!r} is varied twice ({seen[key]} and {where})")
        seen[key] = where
        _check_dotted(key, source)
    return Grid(source, base, axes, zips, presets)


def _values(where: str, value: Any) -> list:
    if not isinstance(value, list):
        raise UserError(f"{where}: expected a list of values, got {value!r}")
    if not value:
        raise UserError(f"{where}: empty axis (give at least one value)")
    return value


def _check_dotted(key: str, source: str) -> None:
    if "." in key:
        section, _, field = key.partition(".")
        if section not in SECTIONS or not field or "." in field:
            raise UserError(f"{source}: unknown key {key!r}; a dotted key is "
                            f"{' / '.join(s + '.FIELD' for s in SECTIONS)}")


def nest(values: dict[str, Any]) -> dict:
    """Dotted keys (``model_params.hidden``) into the nested ``--config`` layout."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if "." in key:
            section, _, field = key.partition(".")
            out.setdefault(section, {})[field] = value
        else:
            out[key] = value
    return out


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


class InstanceCache:
    """Benchmark instances by (benchmark, parameters, stream seed, data root): a grid builds each once."""

    def __init__(self, limit: int | None = None):
        self._items: dict[tuple, Any] = {}
        self.limit = limit

    def get(self, bench_cls: type, name: str, config: Any, benchmark_seed: int, data_root: Path | None):
        from hippo_bench.params import as_dict
        from hippo_bench.results import canonical_json
        from hippo_bench.runner import build_instance

        key = (name, canonical_json(as_dict(config)), benchmark_seed, str(data_root))
        if key not in self._items:
            if self.limit is not None and len(self._items) >= self.limit:
                self._items.pop(next(iter(self._items)))
            self._items[key] = build_instance(bench_cls, config, benchmark_seed, data_root)
        return self._items[key]


def expand(grid: Grid, cache: InstanceCache | None = None) -> list[SweepRun]:
    """Resolve every point (all of them, before anything runs) into runs, one per seed; duplicates once."""
    from hippo_bench.resolve import plan_from

    cache = cache or InstanceCache()
    runs: list[SweepRun] = []
    seen: set[str] = set()
    for point in grid.points():
        plan = plan_from(grid.layers(point))
        for member in plan.members:
            instance = cache.get(member.cls, member.name, member.config, plan.benchmark_seed, plan.data_root)
            for seed in plan.seeds:
                spec = plan.spec(member, instance, seed)
                if spec.run_id in seen:
                    continue
                seen.add(spec.run_id)
                runs.append(SweepRun(spec, point, plan.data_root, plan.logs))
    return runs


def read_grid(path: str | Path) -> Grid:
    from hippo_bench.commands import load_yaml

    return load_grid(load_yaml(path, "grid"), f"grid {path}")
