"""Golden runs: a few-second reference run per code path that makes numbers, rerun by ``make test``.

The golden set (``tests/golden/golden.yaml``) lists small configurations that
together go through every path that computes a recorded number: meta-hippo
alone and with its seeds batched, each HippoNet kind, La-MAML, sparse-MAML,
MER, OML, each family of Avalanche baselines, the CLS, synthetic, MNIST and
Omniglot benchmark paths, and a run killed and resumed from its checkpoint.
Each entry's rows are committed beside it (``<name>.s<seed>.parquet``); the
test suite reruns every entry and compares every recorded value (timings and
memory excepted) within ``verify``'s float tolerance, naming the run and the
cells that moved.

An entry may say:

- ``config``: the run, as a ``--config`` mapping (``seeds`` included);
- ``same_as``: compare with another entry's files instead of its own (the
  batched and resumed paths must give the rows of the lone, whole run);
- ``vectorize: true``: train its seeds as one batched model;
- ``resume_after: K``: stop the run after experience K is checkpointed, then
  start it again to resume;
- ``data: true``: it reads the real MNIST / Omniglot copies
  (``HIPPO_BENCH_DATA``); without them it is skipped, saying so.

Changing numbers on purpose is one command, ``hippo-bench golden --rewrite``,
and a line in ``CHANGELOG.md`` saying why (docs/DESIGN.md, "Golden runs").
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from hippo_bench.errors import DataError, UserError

SET_FILE = "golden.yaml"
MOVED_SHOWN = 8  # cells listed per run that moved


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    config: dict[str, Any]
    same_as: str = ""
    vectorize: bool = False
    resume_after: int | None = None
    data: bool = False
    why: str = ""  # which code path it covers

    @property
    def seeds(self) -> list[int]:
        return [int(s) for s in self.config.get("seeds", [0])]

    @property
    def reference(self) -> str:
        return self.same_as or self.name


@dataclasses.dataclass
class Outcome:
    """One golden entry against its committed rows."""

    name: str
    status: str  # same | moved | missing | failed | skipped | written
    detail: str = ""
    moved: list[str] = dataclasses.field(default_factory=list)
    seconds: float = math.nan


def load_set(folder: Path) -> list[Entry]:
    """The entries of ``<folder>/golden.yaml``, checked (unknown keys, duplicate names, dangling ``same_as``)."""
    import yaml

    path = Path(folder) / SET_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"no golden set: {path} not found") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("runs"), list):
        raise DataError(f"{path}: expected a mapping with a list under 'runs'")
    allowed = {f.name for f in dataclasses.fields(Entry)}
    entries: list[Entry] = []
    for i, item in enumerate(raw["runs"]):
        if not isinstance(item, dict) or "name" not in item or "config" not in item:
            raise DataError(f"{path}: run {i + 1} needs a name and a config")
        unknown = set(item) - allowed
        if unknown:
            raise DataError(f"{path}: run {item['name']!r}: unknown keys {sorted(unknown)}")
        entries.append(Entry(**item))
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise DataError(f"{path}: duplicate run names")
    for e in entries:
        if e.same_as and e.same_as not in names:
            raise DataError(f"{path}: run {e.name!r}: same_as names no run ({e.same_as!r})")
    return entries


def file_of(folder: Path, name: str, seed: int) -> Path:
    return Path(folder) / f"{name}.s{seed}.parquet"


def data_missing(entry: Entry) -> str:
    """Why an entry that needs the real data sets cannot run here ('' when it can)."""
    if not entry.data:
        return ""
    from hippo_bench.data_root import resolve_data_root

    root = resolve_data_root(None)
    if root is None or not (Path(root) / "MNIST" / "raw").is_dir() or not (Path(root) / "omniglot").is_dir():
        return "needs the real MNIST and Omniglot copies: set HIPPO_BENCH_DATA (e.g. to ../shared/data)"
    return ""


class _StopAfter:
    """A progress display that interrupts the run when experience ``k + 1`` starts (after k is checkpointed)."""

    def __init__(self, k: int):
        self.k = k

    def start_run(self, label, n_experiences): pass

    def start_experience(self, k, n_samples):
        if k > self.k:
            raise KeyboardInterrupt(f"golden: stopped before experience {k}")

    def advance(self, n): pass
    def end_run(self): pass


def produce(entry: Entry) -> dict[int, pd.DataFrame]:
    """Run an entry with the code at hand; seed -> its table."""
    from hippo_bench.data.cache import disabled
    from hippo_bench.launch import run_specs
    from hippo_bench.resolve import plan_from
    from hippo_bench.runner import execute

    plan = plan_from([(f"golden run {entry.name}", dict(entry.config))])
    tables: dict[int, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp, disabled():  # nothing cached: every path runs
        out = Path(tmp)
        for _member, instance, specs in plan.specs():
            if entry.resume_after is not None:
                outcomes = []
                for spec in specs:
                    try:
                        execute(spec, instance, out, progress=_StopAfter(entry.resume_after))
                        raise RuntimeError(f"golden run {entry.name}: the run ended before it could be stopped")
                    except KeyboardInterrupt:
                        pass
                    outcomes.append(execute(spec, instance, out))
            else:
                outcomes = run_specs(specs, [instance] * len(specs), out, force=True,
                                     vectorize=entry.vectorize and len(specs) > 1)
            for spec, outcome in zip(specs, outcomes):
                if outcome.status != "ok" or outcome.table is None:
                    first = (outcome.error or outcome.status).splitlines()[0]
                    raise RuntimeError(f"golden run {entry.name} seed {spec.seed}: {outcome.status}: {first}")
                tables[spec.seed] = outcome.table
    return tables


def moved_cells(old: pd.DataFrame, new: pd.DataFrame, limit: int = MOVED_SHOWN) -> list[str]:
    """The recorded values that differ beyond float noise: 'metric [train_exp, eval_exp, entity...]: old -> new'."""
    from hippo_bench.verify import KEY, method_rows

    a, b = method_rows(old), method_rows(new)
    out = [f"row only in the golden file: {k}" for k in a.index.difference(b.index)[:limit]]
    out += [f"row only in the rerun: {k}" for k in b.index.difference(a.index)[:limit]]
    both = a.index.intersection(b.index)
    av, bv = a.loc[both].to_numpy(float), b.loc[both].to_numpy(float)
    import numpy as np

    from hippo_bench.verify import ATOL, RTOL

    far = ~np.isclose(av, bv, rtol=RTOL, atol=ATOL, equal_nan=True)
    order = np.argsort(-np.nan_to_num(np.abs(av - bv), nan=np.inf) * far)
    for i in order[: int(far.sum())][:limit]:
        key = dict(zip(KEY + ["occurrence"], both[i]))
        where = ", ".join(f"{k}={v}" for k, v in key.items() if k != "metric" and v not in ("", -1, 0)
                          or k in ("train_exp", "eval_exp"))
        out.append(f"{key['metric']} [{where}]: {av[i]:.9g} -> {bv[i]:.9g}")
    extra = int(far.sum()) - min(int(far.sum()), limit)
    if extra > 0:
        out.append(f"... and {extra} more cells")
    return out


def check(entry: Entry, folder: Path) -> Outcome:
    """Rerun one entry and compare it with its committed rows."""
    why = data_missing(entry)
    if why:
        return Outcome(entry.name, "skipped", why)
    files = {s: file_of(folder, entry.reference, s) for s in entry.seeds}
    missing = [str(p.name) for p in files.values() if not p.exists()]
    if missing:
        return Outcome(entry.name, "missing", f"no golden file {', '.join(missing)}: `hippo-bench golden --rewrite "
                                              f"{entry.reference}` writes it")
    t0 = time.perf_counter()
    try:
        tables = produce(entry)
    except (RuntimeError, UserError) as exc:
        return Outcome(entry.name, "failed", str(exc), seconds=time.perf_counter() - t0)
    moved = []
    for seed, path in files.items():
        cells = moved_cells(pd.read_parquet(path), tables[seed])
        moved += [f"seed {seed}: {c}" for c in cells]
    status = "moved" if moved else "same"
    return Outcome(entry.name, status, moved=moved, seconds=time.perf_counter() - t0)


def rewrite(entry: Entry, folder: Path) -> Outcome:
    """Rerun an entry and write its rows as the new golden files (entries with ``same_as`` are checked instead)."""
    if entry.same_as:
        return check(entry, folder)
    why = data_missing(entry)
    if why:
        return Outcome(entry.name, "skipped", why)
    from hippo_bench.results import atomic_write_parquet

    t0 = time.perf_counter()
    tables = produce(entry)
    for seed, table in tables.items():
        atomic_write_parquet(table, file_of(folder, entry.name, seed))
    return Outcome(entry.name, "written", seconds=time.perf_counter() - t0)
