"""meta-hippo's learned pattern, measured on a live network and tabulated from tidy rows, in one place.

The pattern: per hidden layer, the share of active units (``percent_active``,
in %), the inhibition multiplier m of its k-WTA threshold (``inhibition_m``)
and its ``units``; per projection, the learned step size relu(alpha)
(``learned_lr``), the raw alpha (``alpha_raw``) and the relative step
lr |dW| / |W| of the last update (``relative_step``); for networks with
lesions, every head's accuracy intact and under each lesion.

- :func:`measure` (and :func:`lesion_accuracies`) read it off a live model
  and template: the runner records it after every evaluation
  (``MetaHippo.measures``) and the Python API returns it
  (``strategy.learned_pattern()``);
- :func:`pattern_table` reduces recorded rows to one row per layer and per
  projection at the end of training: the end-of-run table of
  ``hippo-bench run``, the figures and the report site show it, and the API
  builds its table from its own measures with it, so every view of a
  quantity comes from one computation (docs/DESIGN.md).

torch, the models and Avalanche are imported inside the live functions: the
tables and figures read rows without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

    from hippo_bench.tasks.base import Measure

LAYER_METRICS = ("percent_active", "inhibition_m", "units")
PROJECTION_METRICS = ("learned_lr", "alpha_raw", "relative_step")
# metric -> column of :func:`pattern_table`
COLUMN_OF = {"units": "units", "percent_active": "percent_active", "inhibition_m": "m", "learned_lr": "lr",
             "alpha_raw": "alpha_raw", "relative_step": "relative_step"}
COLUMNS = ["kind", "name", "group", "units", "percent_active", "m", "lr", "alpha_raw", "relative_step"]


# ------------------------------------------------------------------ live
def projection_of(model: Any, param_name: str) -> tuple[str, str]:
    """(projection name, group) of a HippoNet weight; any other parameter keeps its name and has no group."""
    from hippo_bench.models.hippo_net import HippoNet

    if isinstance(model, HippoNet):
        for p in model.spec.projections:
            if param_name == f"weights.{p.key}":
                return p.name, p.group
    return param_name, ""


def layer_measures(model: Any, x: torch.Tensor, *, train_activity: dict[str, float] | None = None,
                   hooked: bool = False) -> list[Measure]:
    """% active, m and units of every hidden layer of a HippoNet on ``x`` (eval mode, current weights).

    ``train_activity`` adds the seed's own measure taken during training
    (``percent_active_train``). ``hooked`` also measures models that are not
    HippoNets, on their hooked activation modules (% active and units only):
    the API shows them, the runner records HippoNet layers only.
    """
    from hippo_bench.models.base import hidden_activations
    from hippo_bench.models.hippo_net import HippoNet
    from hippo_bench.tasks.base import Measure

    is_hippo = isinstance(model, HippoNet)
    if not (is_hippo or hooked):
        return []
    out: list[Measure] = []
    was_training = model.training
    model.eval()
    try:
        if is_hippo:
            active = model.fraction_active(x)
            for i, layer in enumerate(model.hidden_names):
                group = model.layer_groups[layer]
                out.append(Measure("percent_active", 100.0 * active[layer], entity=layer, group=group))
                out.append(Measure("inhibition_m", float(model.inhibition[i].detach()), entity=layer, group=group))
                out.append(Measure("units", float(model.units[layer]), entity=layer, group=group))
                if train_activity and layer in train_activity:
                    out.append(Measure("percent_active_train", 100.0 * train_activity[layer], entity=layer,
                                       group=group))
        else:
            for name, acts in hidden_activations(model, x).items():
                acts = acts.flatten(1)
                out.append(Measure("percent_active", 100.0 * float((acts > 0).float().mean()), entity=name))
                out.append(Measure("units", float(acts.shape[1]), entity=name))
    finally:
        model.train(was_training)
    return out


def step_measures(template: Any, *, relative: bool = True) -> list[Measure]:
    """relu(alpha), raw alpha and (``relative``) the last relative step of every learned step size.

    Templates without learned step sizes (MER, the SGD baselines) have none.
    """
    from hippo_bench.strategies.meta.step_sizes import StepSizes
    from hippo_bench.strategies.meta.template import relative_steps
    from hippo_bench.tasks.base import Measure

    steps = getattr(template, "steps", None)
    if not isinstance(steps, StepSizes):
        return []
    rel = relative_steps(template) if relative else {}
    raw = steps.raw_values()
    out: list[Measure] = []
    for name, lr in steps.values().items():
        proj, group = projection_of(template.model, name)
        out.append(Measure("learned_lr", lr, entity=proj, group=group))
        if name in raw:
            out.append(Measure("alpha_raw", raw[name], entity=proj, group=group))
        if name in rel:
            out.append(Measure("relative_step", rel[name], entity=proj, group=group))
    return out


def measure(template: Any, x: torch.Tensor, *, train_activity: dict[str, float] | None = None,
            hooked: bool = False, relative: bool = True) -> list[Measure]:
    """The pattern of ``template``'s model now: its layers on ``x``, then its learned step sizes."""
    return (layer_measures(template.model, x, train_activity=train_activity, hooked=hooked)
            + step_measures(template, relative=relative))


def collated_tests(benchmark: Any, device: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each test experience's (x, y) on ``device``: a benchmark instance's tensors, collated once for every
    evaluation, or those of a plain Avalanche benchmark (the Python API), collated here."""
    from hippo_bench.tensor_batches import collate_all

    sets = benchmark.test_tensors() if hasattr(benchmark, "test_tensors") else \
        [collate_all(exp.dataset.eval()) for exp in benchmark.test_stream]
    return [tuple(t.to(device) for t in tensors[:2]) for tensors in sets]


def probe_batch(tests: list[tuple[torch.Tensor, torch.Tensor]], size: int) -> torch.Tensor:
    """A fixed probe of ``size`` test inputs, the same share from every experience, for % active."""
    import torch

    per_exp = max(1, size // len(tests))
    return torch.cat([x[:per_exp] for x, _ in tests])[:size]


def lesion_accuracies(model: Any, benchmark: Any, tests: list[tuple[torch.Tensor, torch.Tensor]]) -> list[Measure]:
    """Per-head accuracy on every test experience, intact and under each lesion (none without lesions).

    Heads follow the benchmark's ``heads`` (target y = category + n_category *
    item for a category/item pair); without heads the single output is
    scored with the benchmark's score as "category".
    """
    import torch

    from hippo_bench.tasks.base import Measure

    lesions = getattr(model, "lesions", ())
    if not lesions:
        return []
    heads = benchmark.heads or {}
    n_cat = heads.get("category")
    out = []
    was_training = model.training
    model.eval()
    try:
        for j, (x, y) in enumerate(tests):
            for lesion in (None, *lesions):
                with torch.no_grad(), model.lesion(lesion):
                    logits = model(x)
                tag = lesion or ""
                if n_cat and "item" in heads:
                    cat = (logits[:, :n_cat].argmax(1) == y % n_cat).float().mean()
                    item = (logits[:, n_cat:].argmax(1) == y // n_cat).float().mean()
                    out.append(Measure("category_accuracy", float(cat), eval_exp=j, lesion=tag))
                    out.append(Measure("item_accuracy", float(item), eval_exp=j, lesion=tag))
                else:
                    score = benchmark.score(logits, y).mean()
                    out.append(Measure("category_accuracy", float(score), eval_exp=j, lesion=tag))
    finally:
        model.train(was_training)
    return out


def rows_of(measures: Iterable[Measure]) -> pd.DataFrame:
    """Measures as the tidy rows of one run at one step (what :func:`pattern_table` reads)."""
    return pd.DataFrame([dict(run_id="", train_exp=0, eval_exp=m.eval_exp, metric=m.metric, value=float(m.value),
                              entity=m.entity, group=m.group, lesion=m.lesion) for m in measures],
                        columns=["run_id", "train_exp", "eval_exp", "metric", "value", "entity", "group", "lesion"])


# ------------------------------------------------------------------ rows
def series(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per entity and training step: mean, std and count of ``metric`` over the runs (intact network only).

    Columns: entity, group, train_exp, mean, std (population), n; entities in
    the order they were first recorded (the network's forward order). A run
    that repeats a row counts once (its mean).
    """
    if "status" in rows.columns:
        rows = rows[rows["status"] == "ok"]
    rows = rows[(rows["metric"] == metric) & (rows["entity"] != "") & (rows["lesion"] == "")]
    if rows.empty:
        return pd.DataFrame(columns=["entity", "group", "train_exp", "mean", "std", "n"])
    order = {e: i for i, e in enumerate(dict.fromkeys(rows["entity"]))}
    per_run = rows.groupby(["entity", "group", "train_exp", "run_id"], sort=False)["value"].mean().reset_index()
    out = per_run.groupby(["entity", "group", "train_exp"], sort=False)["value"].agg(
        mean="mean", std=lambda v: float(np.std(v, ddof=0)), n="count").reset_index()
    out["order"] = out["entity"].map(order)
    return out.sort_values(["order", "train_exp"]).drop(columns="order").reset_index(drop=True)


def final(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """:func:`series` at the last training step it has (entity, group, mean, ...)."""
    s = series(rows, metric)
    return s[s["train_exp"] == s["train_exp"].max()] if not s.empty else s


def pattern_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The pattern at the end of training: one row per hidden layer, then one per projection, mean over the runs.

    Columns :data:`COLUMNS`: ``kind`` ("layer" or "projection"), ``name``,
    ``group``, ``units``, ``percent_active``, ``m``, ``lr``, ``alpha_raw``,
    ``relative_step``; a value a row does not have is NaN. Layers are the
    entities with % active or m, projections those with a learned rate, each
    in recorded order; every value is the mean over the runs of the last step
    at which its metric was recorded.
    """
    finals = {metric: final(rows, metric) for metric in (*LAYER_METRICS, *PROJECTION_METRICS)}
    value = {metric: dict(zip(f["entity"], f["mean"])) for metric, f in finals.items()}
    out = []
    for kind, metrics, named_by in (("layer", LAYER_METRICS, ("percent_active", "inhibition_m")),
                                    ("projection", PROJECTION_METRICS, ("learned_lr",))):
        groups: dict[str, str] = {}
        for metric in named_by:
            for entity, group in zip(finals[metric]["entity"], finals[metric]["group"]):
                groups.setdefault(entity, group)
        for name, group in groups.items():
            rec: dict[str, Any] = dict.fromkeys(COLUMNS, np.nan)
            rec.update(kind=kind, name=name, group=group)
            rec.update({COLUMN_OF[m]: float(value[m].get(name, np.nan)) for m in metrics})
            out.append(rec)
    return pd.DataFrame(out, columns=COLUMNS)
