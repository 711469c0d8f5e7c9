"""Resumable runs: the state of a run after each experience, saved atomically and loaded back.

A checkpoint is a plain ``torch.save`` dictionary of state dicts and tensors
(never a pickled template; Avalanche's own checkpointing pickles the whole
strategy, which does not survive here). It holds everything the rest of the
run depends on:

- the model's and optimiser's state dicts, Avalanche's clock counters;
- the strategy's own state, for the templates listed in :data:`EXTRA_STATE`
  (learned step sizes, replay reservoirs with their private RNGs, counters);
- the RNG states of python, numpy and torch, taken after the experience's
  evaluation, so the next experience draws exactly what it would have drawn;
- the tidy rows recorded so far and the running totals (samples, times).

A run resumed from it records the same rows as an uninterrupted run (a test
kills a run with SIGKILL and compares). Only templates whose whole state is
known here are checkpointed; for any other (Avalanche plugins with hidden
state, such as EWC's importances or a replay plugin's buffer) :func:`unsupported`
says why and the run simply starts from scratch when interrupted.

The file lives at ``<results>/checkpoints/<run_id>.pt`` and is deleted once
the run's parquet is written. One made by other code (another fingerprint)
or that cannot be read is ignored with a warning: the run restarts.
"""

from __future__ import annotations

import os
import random
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = 1
FOLDER = "checkpoints"

# Template class name -> attributes holding state beyond the model and optimiser (looked up along the MRO).
EXTRA_STATE: dict[str, tuple[str, ...]] = {
    "OnlineMetaTemplate": ("steps", "replay", "meta_steps", "train_activity"),
    "MERTemplate": ("replay", "_draw"),
    "Naive": (),
}
# Plugins that keep no state across experiences (the runner's recorder, the silent evaluator, Avalanche's
# PeriodicEval, which the runner leaves at eval_every=-1), or whose state is saved on its own (the clock).
STATELESS_PLUGINS = ("Recorder", "EvaluationPlugin", "PeriodicEval", "Clock")


def path_of(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / FOLDER / f"{run_id}.pt"


def _names(obj: Any) -> list[str]:
    return [c.__name__ for c in type(obj).__mro__]


def extra_attributes(template) -> tuple[str, ...] | None:
    """The state attributes of ``template`` beyond model and optimiser, or None when it is not known here."""
    for name in _names(template):
        if name in EXTRA_STATE:
            return EXTRA_STATE[name]
    return None


def unsupported(template, trains_jointly: bool = False) -> str | None:
    """Why runs of this template cannot be resumed, or None when they can."""
    if trains_jointly:
        return "it trains once on the whole stream"
    if extra_attributes(template) is None:
        return f"the state of {type(template).__name__} is not known to hippo_bench.checkpoint"
    for plugin in getattr(template, "plugins", []):
        if getattr(plugin, "checkpoint_stateless", False):  # a plugin may declare it (its state lives elsewhere)
            continue
        if not any(n in STATELESS_PLUGINS for n in _names(plugin)):
            return f"plugin {type(plugin).__name__} keeps state that is not checkpointed"
    return None


# ---------------------------------------------------------------- values
def _value_state(value: Any) -> Any:
    """A plain (torch.save-able, unpickling-safe) form of one attribute's value."""
    if isinstance(value, torch.nn.Module):
        return {"kind": "module", "state": value.state_dict()}
    if isinstance(value, random.Random):
        return {"kind": "random", "state": value.getstate()}
    if _is_reservoir(value):
        fields = {k: v for k, v in vars(value).items() if k != "rng"}
        return {"kind": "reservoir", "fields": fields, "rng": value.rng.getstate()}
    if isinstance(value, (int, float, str, bool, dict, list, tuple)) or value is None:
        return {"kind": "plain", "value": value}
    raise TypeError(f"cannot checkpoint a {type(value).__name__}")


def _restore_value(holder: Any, name: str, saved: dict) -> None:
    kind = saved["kind"]
    current = getattr(holder, name)
    if kind == "module":
        current.load_state_dict(saved["state"])
    elif kind == "random":
        current.setstate(_as_random_state(saved["state"]))
    elif kind == "reservoir":
        for k, v in saved["fields"].items():
            setattr(current, k, v)
        current.rng.setstate(_as_random_state(saved["rng"]))
    else:
        setattr(holder, name, saved["value"])


def _is_reservoir(value: Any) -> bool:
    return "ReservoirBuffer" in _names(value)


def _as_random_state(state) -> tuple:
    """``random.Random.setstate`` needs tuples; a state read back may hold lists."""
    version, internal, gauss = state
    return version, tuple(internal), gauss


# ---------------------------------------------------------------- RNGs
def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(_as_random_state(state["python"]))
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


# ---------------------------------------------------------------- files
def _own_storage(state: dict) -> dict:
    """Tensors that are views into a larger array (vectorised seeds stack their weights) copied out.

    ``torch.save`` writes a view's whole storage: one seed's checkpoint would hold every seed's weights.
    """
    out = {}
    for name, t in state.items():
        if isinstance(t, torch.Tensor) and t.untyped_storage().nbytes() > t.numel() * t.element_size():
            t = t.clone()
        out[name] = t
    return out


def save(out_dir: Path, run_id: str, fingerprint: str, template, progress: dict) -> Path:
    """Write the checkpoint of ``template`` after an experience; ``progress`` holds the runner's totals and rows."""
    state = {
        "format": FORMAT, "run_id": run_id, "fingerprint": fingerprint,
        "model": _own_storage(template.model.state_dict()),
        "optimizer": template.optimizer.state_dict() if getattr(template, "optimizer", None) is not None else None,
        "clock": dict(vars(template.clock)) if hasattr(template, "clock") else {},
        "extra": {name: _value_state(getattr(template, name)) for name in extra_attributes(template) or ()},
        "rng": rng_state(),
        "progress": progress,
    }
    path = path_of(out_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{run_id}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(out_dir: Path, run_id: str, fingerprint: str) -> dict | None:
    """The saved state of this run made by this code, or None (absent, unreadable or from other code)."""
    path = path_of(out_dir, run_id)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("run_id") != run_id:
            raise ValueError("not a checkpoint of this run")
    except Exception as exc:  # noqa: BLE001 - a corrupt checkpoint must never stop a run
        warnings.warn(f"ignoring unreadable checkpoint {path} ({type(exc).__name__}: {exc}); "
                      "the run starts from scratch", stacklevel=2)
        return None
    if state.get("fingerprint") != fingerprint:
        warnings.warn(f"ignoring checkpoint {path}: it was made by other code; the run starts from scratch",
                      stacklevel=2)
        return None
    return state


def restore(template, state: dict) -> dict:
    """Put ``state`` back into a freshly built template and the global RNGs; return the runner's progress."""
    template.model.load_state_dict(state["model"])
    if state["optimizer"] is not None:
        _adopt_model_parameters(template)
        template.optimizer.load_state_dict(state["optimizer"])
    if hasattr(template, "clock"):
        for k, v in state["clock"].items():
            setattr(template.clock, k, v)
    for name, saved in state["extra"].items():
        _restore_value(template, name, saved)
    set_rng_state(state["rng"])
    return state["progress"]


def _adopt_model_parameters(template) -> None:
    """Do now what Avalanche's first ``make_optimizer`` does at the first ``train`` call.

    That first call puts every model parameter in the optimizer and resets its
    state. A resumed template has not trained yet, so without this its
    optimizer would hold only the parameters it was built with (a strategy
    may add some later, as meta-hippo-gated adds its gates) and the first
    ``train`` would wipe the restored state (SGD momentum). Recording the
    parameter map here makes later calls keep the state, as in a run never
    interrupted.
    """
    if getattr(template, "optimized_param_id", "absent") is None:
        from avalanche.models.dynamic_optimizers import update_optimizer

        template.optimized_param_id = update_optimizer(
            template.optimizer, dict(template.model.named_parameters()), None, reset_state=True)


def clear(out_dir: Path, run_id: str) -> None:
    path_of(out_dir, run_id).unlink(missing_ok=True)
