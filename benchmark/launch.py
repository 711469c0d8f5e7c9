"""The one way runs start: reuse what is current, then run the rest alone or with their seeds batched.

``hippo-bench run``, the Python API (:func:`hippo_bench.run`), experiments,
sweep workers, ``verify`` and ``release`` all call :func:`run_specs`. It
asks :mod:`hippo_bench.currency` whether each run's results already exist for
the code at hand (reused, or with ``reuse_stale`` reused though made by other
code), then runs the others through :func:`hippo_bench.runner.execute`, or,
with ``vectorize``, the seeds of one meta-hippo configuration as one batched
model (:mod:`hippo_bench.strategies.vectorized`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from hippo_bench.errors import UserError
from hippo_bench.progress import NoProgress, Progress


def run_specs(specs: Sequence, instances: Sequence, out: Path | None, *, force: bool = False,
              reuse_stale: bool = False, vectorize: bool = False, checkpoints: bool = True,
              progress: Callable[[], Progress] | None = None, logs=None) -> list:
    """One :class:`~hippo_bench.runner.RunOutcome` per spec, in order (``instances[i]`` is spec i's stream).

    ``out`` None: nothing is read or written. ``force``: run even when a
    current result exists. ``vectorize``: train the specs' seeds as one
    batched model (a :class:`UserError` says why where that is not
    supported). ``progress`` makes a display per lone run. ``logs`` (a
    :class:`~hippo_bench.run_logs.LogRequest`) gives every run that runs its loggers.
    """
    from hippo_bench.currency import CURRENT, STALE, located_state_of
    from hippo_bench.runner import RunOutcome, execute

    if len(specs) != len(instances):
        raise ValueError("run_specs: one instance per spec")
    out = Path(out) if out is not None else None
    outcomes: list = [None] * len(specs)
    todo: list[int] = []
    for i, spec in enumerate(specs):
        if not force and out is not None:
            state, table, path = located_state_of(out, spec)
            if state == CURRENT:
                outcomes[i] = RunOutcome(spec, "cached", table, path)
                continue
            if state == STALE and reuse_stale:
                outcomes[i] = RunOutcome(spec, "stale", table, path)
                continue
        todo.append(i)
    if vectorize and len(todo) > 1:
        from hippo_bench.strategies.vectorized import execute_seeds, unsupported_reason

        reason = unsupported_reason(specs[todo[0]], instances[todo[0]])
        if reason:
            raise UserError(f"--vectorize-seeds: {reason}")
        done = execute_seeds([specs[i] for i in todo], [instances[i] for i in todo], out, checkpoints=checkpoints,
                             logs=logs)
        for i, outcome in zip(todo, done):
            outcomes[i] = outcome
        return outcomes
    for i in todo:
        outcomes[i] = execute(specs[i], instances[i], out, progress=(progress or NoProgress)(),
                              checkpoints=checkpoints, logs=logs)
    return outcomes
