"""meta-hippo-transfer: meta-hippo's online learner with m and lr taken from a source and frozen.

The poster's "real-image transfer" question: meta-learn m and lr on one
stream (rotated MNIST), freeze them, and learn another (Omniglot) online.
This strategy runs meta-hippo's loop with nothing meta-learned (as
``--condition baseline``), but with every hidden layer's inhibition
multiplier m and every projection's learning rate relu(alpha) set from
``source`` instead of 0 and ``alpha_init``. Only these scalars transfer,
never weights: a projection keeps its name across networks of the same
family (mlp2: ``input->h1``, ``h1->h2``, ``h2->out``), so the output
projection's lr transfers while its weights, whose shape follows the new
number of classes, start fresh.

``source`` is one of

- a results file (``results/<run_id>.parquet``) or a run id looked up in
  ``results/``: a finished run that recorded ``inhibition_m`` per layer and
  ``learned_lr`` per projection (meta-hippo and its variants); its values
  after the last experience are used;
- a JSON mapping ``{"m": {layer: value}, "lr": {projection: value}}``;
- ``none``: no transfer, m = 0 (a plain ReLU) and lr = 0.1 on every
  projection: the same numbers as ``meta-hippo --condition baseline`` at its
  default alpha_init.

The Config replaces a file or run id by the JSON of its values (with the
source's run id under ``"from"``) as soon as it is made, so the values
themselves are part of the run's identity: two sources never share a
run_id, and a source file changed later cannot pass for the old one.
Layer and projection names are checked against the network when the run
starts: every hidden layer needs an m and every projection an lr, and a
name the network does not have is an error.

It is meta-hippo with ``condition`` baseline (a class constant of its
Config, not a parameter), extended through meta-hippo's build hooks
(docs/DESIGN.md, "The meta-learning loop"): ``network`` sets m from the
source, ``fixed_rates`` every projection's rate.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import ClassVar

import torch

from hippo_bench.analysis.learned_pattern import pattern_table
from hippo_bench.errors import UserError
from hippo_bench.models.hippo_net import HippoNet
from hippo_bench.params import param
from hippo_bench.strategies import register
from hippo_bench.strategies.base import StrategyContext
from hippo_bench.strategies.meta_hippo import HippoLoopParams, MetaHippo

NO_SOURCE = "none"
NO_SOURCE_M = 0.0  # meta-hippo --condition baseline: no inhibition
NO_SOURCE_LR = 0.1  # meta-hippo's default alpha_init
RESULTS_FOLDER = Path("results")  # where a bare run id is looked up (the CLI's default --results)
RUN_ID = re.compile(r"[0-9a-f]{16}")


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"--source: {where} must be a finite number, got {value!r}")
    return float(value)


def check_mapping(data, origin: str = "") -> dict:
    """A source mapping, validated: {"m": {layer: number}, "lr": {projection: number >= 0}} (+ "from")."""
    if not isinstance(data, dict):
        raise UserError(f"--source: expected a JSON object with keys m and lr, got {type(data).__name__}")
    unknown = set(data) - {"m", "lr", "from"}
    if unknown or not {"m", "lr"} <= set(data):
        raise UserError(f"--source: a mapping needs exactly the keys m and lr (and optionally from); "
                        f"got {', '.join(sorted(map(str, data))) or 'none'}")
    out = {}
    for key in ("m", "lr"):
        part = data[key]
        if not isinstance(part, dict) or not part:
            raise UserError(f"--source: {key} must be a non-empty mapping of names to numbers, got {part!r}")
        out[key] = {str(name): _number(v, f"{key}[{name!r}]") for name, v in part.items()}
    negative = sorted(n for n, v in out["lr"].items() if v < 0)
    if negative:
        raise UserError(f"--source: learning rates must be >= 0; negative for {', '.join(negative)}")
    origin = origin or data.get("from", "")
    if origin:
        out["from"] = str(origin)
    return out


def values_of_run(table, where: str) -> dict:
    """m per hidden layer and lr per projection after the last experience of one finished run's tidy rows."""
    if table.empty or "run_id" not in table.columns:
        raise UserError(f"--source: {where} holds no run")
    runs = table["run_id"].unique()
    if len(runs) != 1:
        raise UserError(f"--source: {where} holds {len(runs)} runs; name one results file")
    run_id = str(runs[0])
    if not (table["status"] == "ok").all():
        raise UserError(f"--source: run {run_id} did not finish (status {table['status'].iloc[0]})")
    params = json.loads(table["strategy_params"].iloc[0] or "{}")
    if params.get("per_parameter_lr"):
        raise UserError(f"--source: run {run_id} learned one lr per weight; only per-projection rates transfer")
    pattern = pattern_table(table)
    values = {}
    for key, column, metric in (("m", "m", "inhibition_m"), ("lr", "lr", "learned_lr")):
        r = pattern[pattern[column].notna()]
        if r.empty:
            raise UserError(f"--source: run {run_id} ({table['strategy'].iloc[0]} on {table['benchmark'].iloc[0]}) "
                            f"has no {metric} rows; a source must be a meta-hippo run")
        values[key] = dict(zip(r["name"].astype(str), r[column].astype(float)))
    return check_mapping(values, origin=run_id)


def _read_run(path: Path):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise UserError(f"--source: cannot read {path} as a results file ({type(exc).__name__})") from None


def resolve_source(text: str) -> str:
    """The canonical text of a source: ``none``, or the JSON of its values (from a mapping, file or run id)."""
    text = str(text).strip()
    if text == NO_SOURCE:
        return NO_SOURCE
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UserError(f"--source: not valid JSON ({exc})") from None
        values = check_mapping(data)
    else:
        path = Path(text)
        if not path.is_file() and RUN_ID.fullmatch(text):
            path = RESULTS_FOLDER / f"{text}.parquet"
        if not path.is_file():
            raise UserError(f"--source: {text!r} is neither a JSON mapping, a results file, nor a run id in "
                            f"{RESULTS_FOLDER}/ (looked for {path})")
        values = values_of_run(_read_run(path), str(path))
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


@register("meta-hippo-transfer")
class MetaHippoTransfer(MetaHippo):
    description = ("meta-hippo's online learner with per-layer m and per-projection lr transferred from a source "
                   "run (or mapping) and frozen")
    references = MetaHippo.references

    @dataclasses.dataclass
    class Config(HippoLoopParams):
        # What meta-hippo's build reads, fixed here: nothing meta-learned, every rate per projection and set by
        # fixed_rates (alpha_init is never used).
        condition: ClassVar[str] = "baseline"
        per_parameter_lr: ClassVar[bool] = False
        alpha_init: ClassVar[float] = NO_SOURCE_LR
        source: str = param(NO_SOURCE, "m and lr to use: a results file or run id of a meta-hippo run, a JSON "
                                       "mapping {\"m\": {layer: v}, \"lr\": {projection: v}}, or none (m = 0, "
                                       "lr = 0.1); stored as the values themselves")

        def __post_init__(self):
            self.source = resolve_source(self.source)

    def values(self) -> dict | None:
        """The source's {"m": ..., "lr": ...}, or None for no transfer."""
        return None if self.config.source == NO_SOURCE else json.loads(self.config.source)

    def transferred(self, model: HippoNet) -> dict:
        """m per hidden layer and lr per projection for ``model``, checked against its names."""
        layers, projections = list(model.hidden_names), [p.name for p in model.spec.projections]
        values = self.values()
        if values is None:
            values = {"m": dict.fromkeys(layers, NO_SOURCE_M), "lr": dict.fromkeys(projections, NO_SOURCE_LR)}
        for key, names, what in (("m", layers, "hidden layers"), ("lr", projections, "projections")):
            unknown = [n for n in values[key] if n not in names]
            missing = [n for n in names if n not in values[key]]
            if unknown or missing:
                problem = (f"names {', '.join(unknown)}, which the network does not have" if unknown
                           else f"gives no {key} for {', '.join(missing)}")
                raise UserError(f"--source: {key} {problem} (its {what}: {', '.join(names)})")
        return values

    def network(self, ctx: StrategyContext) -> HippoNet:
        model = ctx.model
        if not isinstance(model, HippoNet):
            raise UserError(f"--model: {self.name} needs a meta-hippo network (mlp2, mlp4, dual or chorse), "
                            f"not a {type(model).__name__}")
        m = self.transferred(model)["m"]
        model = super().network(ctx)
        with torch.no_grad():
            model.inhibition.copy_(torch.tensor([m[n] for n in model.hidden_names], dtype=model.inhibition.dtype))
        return model

    def fixed_rates(self, model: HippoNet) -> dict[str, float]:
        lr = self.transferred(model)["lr"]
        return {f"weights.{p.key}": lr[p.name] for p in model.spec.projections}
