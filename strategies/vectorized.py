"""Seeds vectorised in one process: G seeds of one meta-hippo configuration trained as one batched model.

Each seed is still an ordinary run (:func:`hippo_bench.runner.execute`) with
its own model, template, data order, replay buffer, recorded rows, results
file and checkpoints; only the arithmetic of the meta-step is shared. The
G runs execute in G threads that take turns (:class:`Lockstep`): one runs
at a time, in a fixed order, each with its own saved python/numpy/torch
RNG state, until it reaches its next meta-step; when every live run has
reached it, the meta-steps of all of them are computed as one batched
model (:class:`hippo_bench.models.hippo_net_stack.NetStack`) and the runs
resume in order. Everything a seed draws, records and evaluates is
therefore what it would draw, record and evaluate alone; a batched product
is used only where it rounds as the lone ones do, so rows are bit for bit
those of the seed alone (tests check 3 seeds), and a result made either way
has the same code key: meta-hippo declares this module among the code its
runs may take (``also_made_by``).

Supported: meta-hippo itself (not its subclasses) on a HippoNet with one
step size per projection (the low-rank path), under plain cross-entropy.
:func:`unsupported_reason` says why anything else is not.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from hippo_bench.models.hippo_net import HippoNet
from hippo_bench.models.hippo_net_stack import NetStack
from hippo_bench.strategies.meta.fast_weights import LowRankPath, PathSetup, build_path
from hippo_bench.strategies.meta.template import LoopConfig
from hippo_bench.strategies.meta_hippo import MetaHippo


# ------------------------------------------------------------ turn taking
def _rng_state() -> tuple:
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _set_rng_state(state: tuple) -> None:
    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])


@dataclasses.dataclass
class _Failure:
    error: BaseException


class Lockstep:
    """G threads that run one at a time, in index order, and meet at a batched call.

    A party runs until it calls :meth:`call` (its request is kept and the
    turn passes to the next live party) or :meth:`finish`. When the last
    live party of a round has arrived, ``batched`` maps every request to
    its result, and the parties resume in index order. Each party's global
    RNG state is saved when it stops and restored when it resumes, so the
    parties never draw from each other's streams.
    """

    def __init__(self, n: int, batched: Callable[[dict[int, Any]], dict[int, Any]]):
        self._lock = threading.Lock()
        self._wake = [threading.Condition(self._lock) for _ in range(n)]  # one per party: wake only the next
        self._turn: int | None = 0 if n else None
        self._live = list(range(n))
        self._pending: dict[int, Any] = {}
        self._results: dict[int, Any] = {}
        self._rng: dict[int, tuple] = {}
        self._batched = batched

    def begin(self, i: int) -> None:
        with self._lock:
            self._wait_turn(i)

    def call(self, i: int, request: Any) -> Any:
        with self._lock:
            self._pending[i] = request
            self._rng[i] = _rng_state()
            self._pass(i)
            self._wait_turn(i)
            result = self._results.pop(i)
        if isinstance(result, _Failure):
            raise result.error
        return result

    def finish(self, i: int) -> None:
        with self._lock:
            if i in self._live:
                self._live.remove(i)
            self._pending.pop(i, None)
            self._rng.pop(i, None)
            if self._turn == i:
                self._pass(i)

    def _wait_turn(self, i: int) -> None:
        while self._turn != i:
            self._wake[i].wait()
        if i in self._rng:
            _set_rng_state(self._rng.pop(i))

    def _pass(self, i: int) -> None:
        later = [j for j in self._live if j > i]
        if later:
            self._turn = later[0]
        elif self._live:
            missing = [j for j in self._live if j not in self._pending]
            if missing:  # pragma: no cover - would be a scheduling bug
                raise RuntimeError(f"lockstep: parties {missing} neither waiting nor finished")
            requests, self._pending = self._pending, {}
            try:
                results = self._batched(requests)
            except Exception as exc:  # noqa: BLE001 - every waiting run fails with it
                results = {j: _Failure(exc) for j in requests}
            self._results.update(results)
            self._turn = self._live[0]
        else:
            self._turn = None
        if self._turn is not None:
            self._wake[self._turn].notify()


_party = threading.local()  # (Lockstep, index) of the run this thread executes


# ------------------------------------------------------------ the batched path
class _SeedPath:
    """Stands in for one seed's LowRankPath: its inner loop waits for the batched meta-step of every seed."""

    def __init__(self, real: LowRankPath, lockstep: Lockstep, index: int):
        self.real, self.lockstep, self.index = real, lockstep, index
        self.batch: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def factory(cls, lockstep: Lockstep, index: int) -> Callable[[PathSetup], "_SeedPath"]:
        """The loop's ``path_factory`` for party ``index``: meta-hippo's own path, wrapped."""
        def make(setup: PathSetup) -> _SeedPath:
            real = build_path(setup)
            if not isinstance(real, LowRankPath):
                raise RuntimeError("vectorised seeds need meta-hippo's low-rank path")
            return cls(real, lockstep, index)
        return make

    def reset(self) -> None:
        self.real.reset()

    def inner_loop(self, x, y, t) -> None:
        self.batch = (x, y)  # computed with the meta-step, batched over seeds

    def meta_backward(self, x, y, t) -> torch.Tensor:
        return self.lockstep.call(self.index, (self, x, y))

    def state_activity(self, x):
        return self.real.state_activity(x)


class _SharedWeights:
    """The weights of G networks as views into one stacked tensor per projection (no copy per step)."""

    def __init__(self):
        self._stacks: dict[tuple[int, ...], dict[str, torch.Tensor]] = {}

    def of(self, nets: list[HippoNet]) -> dict[str, torch.Tensor]:
        key = tuple(id(n) for n in nets)
        stacks = self._stacks.get(key)
        if stacks is None or any(net.weights[k].data_ptr() != stacks[k][g].data_ptr()
                                 for k in stacks for g, net in enumerate(nets)):
            stacks = {k: torch.stack([net.weights[k].detach() for net in nets]) for k in nets[0].weights}
            for k, stack in stacks.items():
                for g, net in enumerate(nets):
                    net.weights[k].data = stack[g]  # the template's in-place updates now write the stack
            self._stacks = {key: stacks}
        return stacks


def _meta_steps(shared: _SharedWeights, requests: dict[int, tuple]) -> dict[int, torch.Tensor]:
    """Every waiting seed's inner loop and meta-gradient, one batched computation per shape."""
    groups: dict[tuple, list[int]] = {}
    for i, (path, mx, _) in requests.items():
        x = path.batch[0]
        spec = path.real.model.spec
        groups.setdefault((spec.layers, spec.projections, x.shape[0], mx.shape[0]), []).append(i)
    results: dict[int, torch.Tensor] = {}
    for members in groups.values():
        paths = [requests[i][0] for i in members]
        reals = [p.real for p in paths]
        nets = [r.model for r in reals]
        keys = reals[0].keys
        weights = shared.of(nets)
        with torch.no_grad():
            m = torch.stack([net.inhibition for net in nets])
            steps = {k: torch.stack([r.steps.step(r.param_name[k]).detach() for r in reals]) for k in keys}
        out = NetStack(nets[0]).meta_step(
            weights, m, steps,
            torch.stack([p.batch[0].flatten(1) for p in paths]), torch.stack([p.batch[1] for p in paths]),
            torch.stack([requests[i][1].flatten(1) for i in members]), torch.stack([requests[i][2] for i in members]))
        for g, (i, real, net) in enumerate(zip(members, reals, nets)):
            B = out.H[keys[0]].shape[1]
            real.H = {k: out.H[k][g] for k in keys}
            real.D = {k: out.D[k][g] for k in keys}
            real.n = B
            for k, p in net.weights.items():
                p.grad = out.d_w[k][g]
            if net.inhibition.requires_grad:
                net.inhibition.grad = out.d_m[g]
            if real.steps.learned:
                real.steps.backward({real.param_name[k]: out.d_c[k][g] for k in keys})
            results[i] = out.loss[g]
    return results


class VectorizedMetaHippo(MetaHippo):
    """meta-hippo whose template, when built inside a :class:`Lockstep` party, takes batched meta-steps.

    Its runs are meta-hippo's runs (``runs_as``): same rows, same code key.
    """

    runs_as = "meta-hippo"

    def loop_config(self, ctx, model) -> LoopConfig:
        loop = super().loop_config(ctx, model)
        party = getattr(_party, "value", None)
        if party is None:
            return loop
        return dataclasses.replace(loop, path_factory=_SeedPath.factory(*party))


# ------------------------------------------------------------ running G seeds
def _keep_freed_memory() -> None:
    """Let glibc's malloc keep freed blocks instead of unmapping them.

    A batched step allocates several arrays of G x 200 x 784 floats; by
    default glibc maps each afresh and unmaps it when freed, so every step
    pays thousands of page faults (measured: 34 ms a step of 10 seeds
    instead of 21). This changes speed only, never a value.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD: blocks below 256 MiB come from the heap
        libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD: keep up to 512 MiB of freed heap
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass
def unsupported_reason(spec, instance=None) -> str | None:
    """Why the runs of ``spec`` cannot be vectorised over seeds, or None when they can."""
    if spec.strategy is not MetaHippo and spec.strategy is not VectorizedMetaHippo:
        return f"only meta-hippo is vectorised over seeds (not {spec.strategy.name})"
    cfg = spec.strategy_config
    if cfg.per_parameter_lr:
        return "per-parameter learning rates use the materialised path, which is not vectorised"
    if cfg.path == "materialised":
        return "--path materialised is not vectorised (the low-rank path is)"
    if spec.model not in MetaHippo.models:
        return f"model {spec.model} is not a HippoNet (meta-hippo's models: {', '.join(MetaHippo.models)})"
    if spec.device != "cpu":
        return "vectorised seeds run on the CPU"
    if instance is not None:
        crit = instance.criterion()
        if type(crit) is not nn.CrossEntropyLoss or crit.weight is not None or crit.label_smoothing != 0.0 \
                or crit.reduction != "mean":
            return f"the benchmark's loss ({type(crit).__name__}) is not plain cross-entropy"
    return None


def execute_seeds(specs: Sequence, instances: Sequence, out_dir: Path | None, *, checkpoints: bool = True,
                  logs=None) -> list:
    """Run the specs (one configuration, several seeds) as one batched model; one RunOutcome per spec.

    Every spec is run: which results already exist is decided before, by
    :func:`hippo_bench.launch.run_specs`.
    """
    from hippo_bench.runner import execute, quiet_warnings

    outcomes: list = [None] * len(specs)
    for i, spec in enumerate(specs):
        reason = unsupported_reason(spec, instances[i])
        if reason:
            raise ValueError(f"cannot vectorise seeds: {reason}")
    todo = list(range(len(specs)))
    if not todo:
        return outcomes

    _keep_freed_memory()
    shared = _SharedWeights()
    lockstep = Lockstep(len(todo), lambda requests: _meta_steps(shared, requests))
    errors: dict[int, BaseException] = {}

    def party(slot: int, i: int) -> None:
        _party.value = (lockstep, slot)
        try:
            lockstep.begin(slot)
            vspec = dataclasses.replace(specs[i], strategy=VectorizedMetaHippo)
            outcome = execute(vspec, instances[i], out_dir, checkpoints=checkpoints, logs=logs)
            outcomes[i] = dataclasses.replace(outcome, spec=specs[i])
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors[i] = exc
        finally:
            _party.value = None
            lockstep.finish(slot)

    threads = [threading.Thread(target=party, args=(slot, i), daemon=True, name=f"seed-{specs[i].seed}")
               for slot, i in enumerate(todo)]
    with quiet_warnings():  # one filter state for all parties: each run's own catch_warnings interleaves
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise next(iter(errors.values()))
    return outcomes
