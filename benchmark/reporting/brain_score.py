"""Brain-likeness score: how close a network with named hippocampal layers comes to C-HORSE, in [0, 1].

A pure function of one run's tidy rows (no torch). Five components, each a
number in [0, 1] (1 = at C-HORSE's value or signature) computed from rows the
runs already record, intact network, after the last experience:

- ``coding_level``: ``percent_active`` per layer against C-HORSE's expected
  activity, EC 0.20, DG 0.01, CA3 0.06, CA1 0.25 (:data:`CODING_LEVEL`);
- ``pattern_separation``: ``item_correlation`` of ECin against DG, CA3 and
  CA1 for similar inputs (C-HORSE: DG decorrelates them, most of all layers);
- ``cued_recall``: ``production_<relation>_choice`` of the studied relations
  (C-HORSE produces the partner: choice 1, chance 0.5);
- ``pair_rsa``: ``similarity_pair`` - ``similarity_nonpair`` per layer
  (C-HORSE's initial response: DG 0.14, CA3 0.00, CA1 0.47);
- ``lr_ratio``: ``learned_lr`` of ECin->DG->CA3->CA1 over ECin->CA1
  (C-HORSE: 10, :data:`LR_RATIO`).

Each component's docstring gives its formula and source. A component the
rows cannot give (the strategy does not record the metric, the paradigm has
no pairs, the layer is missing) is **not measured**: its score is NaN and its
``reason`` says why; nothing is filled in. The score is the weighted mean of
the measured components (:data:`WEIGHTS`: equal weights), so it always lies
in [0, 1]; how many components it rests on is part of every table.

Not recorded by any probe, so not part of the score: completion inside the
hippocampus (CA3's pattern for a degraded cue against its pattern for the
full studied one; the CLS probe shows single items only) and C-HORSE's
settled response (our networks make one feed-forward pass).

The network is identified by its layer names: the last dotted part of an
entity, case-insensitive (``dg``, ``hippo.CA1``); ``ecin``, ``ecout`` and
``ec`` are EC. A run with none of DG, CA3, CA1 has no brain score (None).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
import pandas as pd

# ------------------------------------------------------------- references
#: Expected share of active units per region in C-HORSE, the values we score against:
#: DG 1%, CA3 6%, CA1 25% are Schapiro, Turk-Browne, Norman & Botvinick (2017), Phil. Trans. R. Soc. B 372:
#: 20160049 (C-HORSE; as quoted in docs/DESIGN.md section 4 and in issue 10, claim 4). EC 0.20 is the expected
#: activity of the EC layers in the lab's Go replication (github.com/schapirolab/hip-sl, hip-sl.go, ParamSets
#: "Base", class .EC: Layer.Inhib.ActAvg.Init 0.2), for want of a value from the paper.
CODING_LEVEL: dict[str, float] = {"EC": 0.20, "DG": 0.01, "CA3": 0.06, "CA1": 0.25}
#: The Go replication's expected activities (hip-sl.go, ParamSets "Base", Layer.Inhib.ActAvg.Init of #DG,
#: #CA3, #CA1, .EC): sparser CA3 and CA1 than the paper. Not used by the score; pass it as ``reference=`` to
#: :func:`coding_level` to score against the Go version instead.
CODING_LEVEL_HIPSL_GO: dict[str, float] = {"EC": 0.20, "DG": 0.01, "CA3": 0.02, "CA1": 0.10}
#: A layer whose share of active units is this many decades away from the reference scores 0.
CODING_LEVEL_DECADES = 1.0

#: C-HORSE's ratio of the trisynaptic to the monosynaptic learning rate: 0.2 on ECin->DG and ECin->CA3 vs
#: 0.02 on ECin<->CA1<->ECout (Schapiro et al. 2017, as quoted in docs/DESIGN.md section 4). The Go replication's
#: "Base" param set (hip-sl.go) has 0.4 on ECin->DG, ECin->CA3 and CA3->CA3 vs 0.02 on ECin<->CA1 (ratio 20),
#: 0.05 on CA3->CA1, and no learning on DG->CA3 (mossy fibres).
LR_RATIO = 10.0
#: A ratio this many decades away from LR_RATIO scores 0 (equal rates, ratio 1, score 0).
LR_RATIO_DECADES = 1.0
#: The learned projections of each pathway, by region: trisynaptic ECin -> DG -> CA3 -> CA1, monosynaptic
#: ECin -> CA1 (Schapiro et al. 2017, Fig. 1; the chorse model's names, models/hippo_net.py chorse_spec).
TRISYNAPTIC = (("EC", "DG"), ("DG", "CA3"), ("CA3", "CA1"))
MONOSYNAPTIC = (("EC", "CA1"),)

#: Pair vs non-pair pattern similarity in C-HORSE's *initial* (feed-forward) response on the pair task
#: (Schapiro lab's Emergent replication, as quoted in issue 5; analysis/chorse_reference.py). Our networks
#: make one feed-forward pass, so the initial response is the one to compare with.
PAIR_SIMILARITY_INITIAL: dict[str, tuple[float, float]] = {"DG": (0.26, 0.12), "CA3": (0.07, 0.07),
                                                           "CA1": (0.72, 0.25)}

#: Item pairs whose ECin correlation is at or above this quantile are the "similar inputs" whose separation
#: is measured.
SIMILAR_INPUT_QUANTILE = 0.75
#: Relations read off the output whose cue is part of a studied pattern (pairs A-B; triads A-B, B-C;
#: graph neighbours); A -> C inference is not recall and is left out.
STUDIED_RELATIONS = ("ab", "ba", "bc", "cb", "neighbour")
#: Chance level of the two-alternative choice (target vs foil).
CHANCE_CHOICE = 0.5

COMPONENTS = ("coding_level", "pattern_separation", "cued_recall", "pair_rsa", "lr_ratio")
#: Weights of the measured components in the score (renormalised over the measured ones): equal.
WEIGHTS: dict[str, float] = {name: 1.0 for name in COMPONENTS}

SOURCES: dict[str, str] = {
    "coding_level": "Schapiro et al. 2017 (C-HORSE) DG 1%, CA3 6%, CA1 25%; EC 20% from hip-sl.go (Base)",
    "pattern_separation": "DG pattern separation: O'Reilly & McClelland 1994; Schapiro et al. 2017 (sparse DG "
                          "separates); output vs input similarity of similar inputs (Yassa & Stark 2011)",
    "cued_recall": "Schapiro et al. 2017: the partner read off the output when one item is shown alone",
    "pair_rsa": "Schapiro et al. 2017 pair task, initial response (hip-sl replication, issue 5)",
    "lr_ratio": "Schapiro et al. 2017: lr 0.2 on ECin->DG/CA3 vs 0.02 on ECin<->CA1 (ratio 10)",
}

#: Each component's formula in one line (no "|": the strings go into markdown tables).
FORMULAS: dict[str, str] = {
    "coding_level": "per layer max(0, 1 - abs(log10(f / f_ref))), f = % active / 100; mean per region, then over "
                    "regions",
    "pattern_separation": "S_L = 1 - r_L / r_ECin over the top-quartile similar ECin item pairs; "
                          "clip(S_DG, 0, 1) x (0.5 + 0.5 x share of CA3, CA1 that DG out-separates)",
    "cued_recall": "clip((c - 0.5) / 0.5, 0, 1), c = mean choice of partner over foils, item shown alone",
    "pair_rsa": "max(0, 1 - sum_L abs(d_L - d_ref) / sum_L abs(d_ref)), d = pair - non-pair similarity, L = DG, CA3, "
                "CA1",
    "lr_ratio": "max(0, 1 - abs(log10(ratio / 10))), ratio = mean lr ECin->DG, DG->CA3, CA3->CA1 / lr ECin->CA1",
}

HIPPOCAMPAL = ("DG", "CA3", "CA1")
REGION_ORDER = ("EC", "DG", "CA3", "CA1")
NOT_MEASURED = "not measured"
MEASURED = "measured"


def region_of(entity: str) -> str | None:
    """The C-HORSE region a layer name stands for ("dg" -> "DG", "hippo.ecin" -> "EC"), if any."""
    key = str(entity).rsplit(".", 1)[-1].lower()
    if key in ("ec", "ecin", "ecout", "ec_in", "ec_out"):
        return "EC"
    return {"dg": "DG", "ca3": "CA3", "ca1": "CA1"}.get(key)


def input_layer(entities) -> str | None:
    """The layer that stands for the hippocampus's input: ECin (or a layer called EC)."""
    for e in entities:
        if str(e).rsplit(".", 1)[-1].lower() in ("ecin", "ec_in", "ec"):
            return e
    return None


@dataclasses.dataclass
class Component:
    """One component of one run: its score in [0, 1] (NaN when not measured) and what it rests on."""

    name: str
    score: float
    measured: str  # the measurement in its own units, in words ("" when not measured)
    reference: str  # the C-HORSE value it is scored against
    reason: str = ""  # why it is not measured ("" when it is)
    details: list[dict] = dataclasses.field(default_factory=list)  # per layer / projection

    @property
    def status(self) -> str:
        return MEASURED if math.isfinite(self.score) else NOT_MEASURED


# ------------------------------------------------------------- row access
ROW_COLUMNS = ("run_id", "seed", "model", "strategy_params", "train_exp", "eval_exp", "metric", "value", "entity",
               "lesion", "item_a", "item_b")


def _normalised(rows: pd.DataFrame) -> pd.DataFrame:
    """The columns the components read, optional ones filled in (hand-built rows may omit lesion, eval_exp, ...)."""
    rows = rows[[c for c in ROW_COLUMNS if c in rows.columns]].copy()
    for col, default in (("lesion", ""), ("eval_exp", -1), ("entity", ""), ("train_exp", 0),
                         ("item_a", -1), ("item_b", -1)):
        if col not in rows.columns:
            rows[col] = default
    rows["lesion"] = rows["lesion"].fillna("")
    rows["entity"] = rows["entity"].fillna("")
    return rows


def final_intact(rows: pd.DataFrame, metric: str, pooled: bool = True) -> pd.DataFrame:
    """Rows of ``metric`` after the run's last experience, intact network (pooled over items: eval_exp -1)."""
    if rows.empty:
        return rows
    last = rows["train_exp"].max()
    out = rows[(rows["metric"] == metric) & (rows["lesion"] == "") & (rows["train_exp"] == last)]
    return out[out["eval_exp"] == -1] if pooled else out


def _per_entity(rows: pd.DataFrame, metric: str) -> dict[str, float]:
    r = final_intact(rows, metric)
    return {str(e): float(v) for e, v in zip(r["entity"], r["value"]) if math.isfinite(float(v))}


def _missing(name: str, reference: str, reason: str) -> Component:
    return Component(name, math.nan, "", reference, reason)


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def log_closeness(value: float, reference: float, decades: float) -> float:
    """1 at the reference, falling linearly in |log10(value / reference)| to 0 at ``decades`` away (0 for 0)."""
    if not value > 0:
        return 0.0
    if math.isinf(value):
        return 0.0
    return _clip01(1.0 - abs(math.log10(value / reference)) / decades)


# ------------------------------------------------------------- components
def coding_level(rows: pd.DataFrame, reference: dict[str, float] = CODING_LEVEL) -> Component:
    """Share of active units per region against C-HORSE's expected activity.

    Per layer: ``f`` = percent_active / 100 (the probe measure, slow weights,
    intact); layer score = max(0, 1 - |log10(f / f_ref)| / CODING_LEVEL_DECADES)
    (coding levels span decades, so closeness is judged on a log scale: 1 at
    the reference, 0 ten times too dense or too sparse, 0 for a silent layer).
    A region's score is the mean of its layers' (EC: ECin and ECout); the
    component is the mean over the regions present, each region once.
    Example: 50% active everywhere gives EC 0.602, DG 0, CA3 0.079, CA1 0.699:
    0.345.
    """
    ref_text = ", ".join(f"{r} {reference[r]:g}" for r in REGION_ORDER if r in reference)
    name = "coding_level"
    active = _per_entity(rows, "percent_active")
    layers = {e: region_of(e) for e in active if region_of(e) in reference}
    if not _has_hippocampal_layers(rows):
        return _missing(name, ref_text, "the model has no layer named DG, CA3 or CA1")
    if not active:
        return _missing(name, ref_text, "no percent_active rows (only meta-hippo records the share of active units)")
    if not any(r in HIPPOCAMPAL for r in layers.values()):
        return _missing(name, ref_text, "no percent_active rows for DG, CA3 or CA1")
    details, per_region = [], {}
    for entity, region in layers.items():
        f = active[entity] / 100.0
        s = log_closeness(f, reference[region], CODING_LEVEL_DECADES)
        details.append(dict(component=name, entity=entity, region=region, quantity="fraction active", value=f,
                            reference=reference[region], score=s))
        per_region.setdefault(region, []).append(s)
    regions = [r for r in REGION_ORDER if r in per_region]
    score = float(np.mean([np.mean(per_region[r]) for r in regions]))
    measured = ", ".join(f"{d['entity']} {d['value']:.3f}" for d in details)
    return Component(name, score, measured, ref_text, "", details)


def pattern_separation(rows: pd.DataFrame) -> Component:
    """Output vs input similarity for similar inputs: does DG decorrelate them, and most of all layers?

    Input = ECin. From the final ``item_correlation`` rows (Pearson
    correlation of every two items' patterns, intact), the similar inputs
    are the item pairs whose ECin correlation is at or above the
    SIMILAR_INPUT_QUANTILE of all pairs. Per layer L (DG, CA3, CA1):
    separation S_L = (mean r_ECin - mean r_L) / mean r_ECin over those
    pairs: 0 = as similar as the input, 1 = decorrelated (r_L = 0), < 0 =
    more similar than the input. Component = clip(S_DG, 0, 1) x (0.5 + 0.5
    x the share of the other hippocampal layers present, CA3 and CA1, that
    DG separates strictly more than; 1 without them): a DG that does not
    separate scores 0 however the layers rank; one that separates and most
    of all scores clip(S_DG, 0, 1); one that separates less than both
    others half of that.
    Sources: DG as the pattern separator (O'Reilly & McClelland 1994; the
    1%-active DG of Schapiro et al. 2017); the output-vs-input similarity
    measure of pattern separation (Yassa & Stark 2011).
    """
    name = "pattern_separation"
    reference = "DG: separation > 0 (similar ECin inputs less similar in DG) and the largest of DG, CA3, CA1"
    if not _has_hippocampal_layers(rows):
        return _missing(name, reference, "the model has no layer named DG, CA3 or CA1")
    corr = final_intact(rows, "item_correlation", pooled=False)
    if corr.empty:
        return _missing(name, reference, "no item_correlation rows (recorded at the final evaluation of a CLS "
                                         "run; a run evaluated only before and after training has none)")
    table = corr.pivot_table(index=["item_a", "item_b"], columns="entity", values="value", aggfunc="mean")
    source = input_layer(table.columns)
    if source is None:
        return _missing(name, reference, "no ECin layer to take as the input")
    dg = [e for e in table.columns if region_of(e) == "DG"]
    if not dg:
        return _missing(name, reference, "the model has no DG layer")
    r_in = table[source].dropna()
    if r_in.empty:
        return _missing(name, reference, "ECin patterns have no defined correlation (silent ECin)")
    similar = r_in[r_in >= r_in.quantile(SIMILAR_INPUT_QUANTILE)].index
    mean_in = float(r_in.loc[similar].mean())
    if not mean_in > 0:
        return _missing(name, reference, f"no similar inputs: mean ECin correlation of the most similar item "
                                         f"pairs is {mean_in:.3f} <= 0")
    sep, details = {}, []
    for entity in table.columns:
        region = region_of(entity)
        if region not in HIPPOCAMPAL:
            continue
        both = table.loc[similar, [source, entity]].dropna()
        if both.empty:
            continue
        s = (float(both[source].mean()) - float(both[entity].mean())) / float(both[source].mean())
        sep[region] = s
        details.append(dict(component=name, entity=entity, region=region, quantity="separation S",
                            value=s, reference=math.nan, score=math.nan))
    if "DG" not in sep:
        return _missing(name, reference, "DG patterns have no defined correlation (silent DG)")
    others = [r for r in ("CA3", "CA1") if r in sep]
    ordering = sum(1.0 for r in others if sep["DG"] > sep[r]) / len(others) if others else 1.0
    score = _clip01(sep["DG"]) * (0.5 + 0.5 * ordering)
    measured = (f"ECin r = {mean_in:.3f} on the top {100 * (1 - SIMILAR_INPUT_QUANTILE):.0f}% of item pairs; S "
                + ", ".join(f"{r} {sep[r]:+.3f}" for r in HIPPOCAMPAL if r in sep))
    return Component(name, score, measured, reference, "", details)


def cued_recall(rows: pd.DataFrame) -> Component:
    """Completion of a studied pattern from a partial cue: the partner produced when one item is shown alone.

    A study trial shows an item with its predecessor (pair A-B: B at 1.0, A
    at 0.9); the probe shows one item alone, a partial cue of that pattern,
    and reads the output. ``production_<relation>_choice`` is the share of
    (target, foil) comparisons the target wins (0.5 chance, 1 always). Over
    the studied relations recorded (STUDIED_RELATIONS: A->B and B->A on the
    pair task), c = mean choice; component = clip((c - 0.5) / 0.5, 0, 1).
    Source: Schapiro et al. (2017) read the partner off the output with one
    item shown alone; C-HORSE produces it (reference: choice 1).
    """
    name = "cued_recall"
    reference = "partner produced over foils: choice 1 (chance 0.5)"
    if not _has_hippocampal_layers(rows):
        return _missing(name, reference, "the model has no layer named DG, CA3 or CA1")
    values = {}
    for rel in STUDIED_RELATIONS:
        r = final_intact(rows, f"production_{rel}_choice")
        v = r["value"].astype(float)
        v = v[np.isfinite(v)]
        if len(v):
            values[rel] = float(v.mean())
    if not values:
        return _missing(name, reference, "no production_<relation>_choice rows of a studied relation (CLS "
                                         "paradigms only)")
    c = float(np.mean(list(values.values())))
    details = [dict(component=name, entity="output", region="", quantity=f"{rel} choice", value=v,
                    reference=1.0, score=math.nan) for rel, v in values.items()]
    measured = ", ".join(f"{rel} {v:.3f}" for rel, v in values.items())
    return Component(name, _clip01((c - CHANCE_CHOICE) / (1.0 - CHANCE_CHOICE)), measured, reference, "", details)


def pair_rsa(rows: pd.DataFrame) -> Component:
    """Within- minus across-pair pattern similarity per hippocampal layer against C-HORSE's.

    Per layer L (DG, CA3, CA1) with both rows: d_L = similarity_pair -
    similarity_nonpair (mean Pearson correlation of pair-mates minus that of
    items of different pairs; intact, pooled over items); C-HORSE's initial
    response gives d_ref = DG 0.14, CA3 0.00, CA1 0.47
    (PAIR_SIMILARITY_INITIAL). Component = max(0, 1 - sum_L |d_L - d_ref_L| /
    sum_L |d_ref_L|): 1 = C-HORSE's contrasts, 0 = no closer than a network
    with no pair structure at all (d = 0 everywhere).
    """
    name = "pair_rsa"
    ref_d = {r: p - n for r, (p, n) in PAIR_SIMILARITY_INITIAL.items()}
    reference = "pair - non-pair: " + ", ".join(f"{r} {ref_d[r]:.2f}" for r in HIPPOCAMPAL)
    if not _has_hippocampal_layers(rows):
        return _missing(name, reference, "the model has no layer named DG, CA3 or CA1")
    pair, nonpair = _per_entity(rows, "similarity_pair"), _per_entity(rows, "similarity_nonpair")
    if not pair:
        return _missing(name, reference, "no similarity_pair rows (the pair task, cls-pairs, records them)")
    diffs, details = {}, []
    for entity in pair:
        region = region_of(entity)
        if region in HIPPOCAMPAL and entity in nonpair and region not in diffs:
            diffs[region] = pair[entity] - nonpair[entity]
            details.append(dict(component=name, entity=entity, region=region, quantity="pair - non-pair",
                                value=diffs[region], reference=ref_d[region], score=math.nan))
    if not diffs:
        return _missing(name, reference, "no pair and non-pair similarity rows for DG, CA3 or CA1")
    error = sum(abs(diffs[r] - ref_d[r]) for r in diffs)
    scale = sum(abs(ref_d[r]) for r in diffs)
    if scale == 0:  # only CA3 (reference 0): 1 at 0, falling to 0 at a contrast of 1
        score = _clip01(1.0 - error)
    else:
        score = _clip01(1.0 - error / scale)
    measured = ", ".join(f"{r} {diffs[r]:+.3f}" for r in HIPPOCAMPAL if r in diffs)
    return Component(name, score, measured, reference, "", details)


def lr_ratio(rows: pd.DataFrame) -> Component:
    """Learned learning rate of the trisynaptic over the monosynaptic pathway against C-HORSE's 10.

    From the final ``learned_lr`` rows (relu(alpha) per projection): fast =
    mean lr of the trisynaptic projections present (ECin->DG, DG->CA3,
    CA3->CA1), slow = mean lr of the monosynaptic ones (ECin->CA1); ratio =
    fast / slow; component = max(0, 1 - |log10(ratio / 10)| /
    LR_RATIO_DECADES): 1 at 10x, 0 at equal rates or at 100x (a dead
    monosynaptic pathway, ratio infinite, scores 0).
    """
    name = "lr_ratio"
    reference = f"trisynaptic / monosynaptic lr = {LR_RATIO:g}"
    if not _has_hippocampal_layers(rows):
        return _missing(name, reference, "the model has no layer named DG, CA3 or CA1")
    lrs = _per_entity(rows, "learned_lr")
    if not lrs:
        return _missing(name, reference, "no learned_lr rows (the strategy does not learn a learning rate per "
                                         "projection)")
    by_regions: dict[tuple, list[tuple[str, float]]] = {}
    for entity, v in lrs.items():
        if "->" not in entity:
            continue
        src, dst = entity.split("->", 1)
        by_regions.setdefault((region_of(src), region_of(dst)), []).append((entity, v))
    fast = [x for key in TRISYNAPTIC for x in by_regions.get(key, [])]
    slow = [x for key in MONOSYNAPTIC for x in by_regions.get(key, [])]
    if not fast or not slow:
        which = "trisynaptic (ECin->DG, DG->CA3, CA3->CA1)" if not fast else "monosynaptic (ECin->CA1)"
        return _missing(name, reference, f"no learned_lr rows for the {which} projections")
    f, s = float(np.mean([v for _, v in fast])), float(np.mean([v for _, v in slow]))
    details = [dict(component=name, entity=e, region="", quantity="learned lr", value=v, reference=math.nan,
                    score=math.nan) for e, v in fast + slow]
    if s == 0 and f == 0:
        return Component(name, math.nan, "", reference, "both pathways have learning rate 0 (no learning)",
                         details)
    ratio = math.inf if s == 0 else f / s
    measured = f"fast {f:.4g} / slow {s:.4g} = {ratio:.3g}"
    return Component(name, log_closeness(ratio, LR_RATIO, LR_RATIO_DECADES), measured, reference, "",
                     details)


COMPONENT_FUNCTIONS: dict[str, Callable[[pd.DataFrame], Component]] = {
    "coding_level": coding_level, "pattern_separation": pattern_separation, "cued_recall": cued_recall,
    "pair_rsa": pair_rsa, "lr_ratio": lr_ratio,
}


def _has_hippocampal_layers(rows: pd.DataFrame) -> bool:
    """Whether any layer named in the rows (as an entity or an end of a projection "a->b") is DG, CA3 or CA1."""
    names = {part for e in pd.unique(rows["entity"]) for part in str(e).split("->")}
    return any(region_of(n) in HIPPOCAMPAL for n in names)


# ------------------------------------------------------------- the score
def components_of_run(rows: pd.DataFrame) -> list[Component]:
    """The five components of one run's rows (all of them, measured or not)."""
    rows = _normalised(rows)
    if "run_id" in rows.columns and rows["run_id"].nunique() > 1:
        raise ValueError(f"components_of_run takes one run's rows, got {rows['run_id'].nunique()} runs")
    return [COMPONENT_FUNCTIONS[name](rows) for name in COMPONENTS]


def score_of(components: list[Component], weights: dict[str, float] = WEIGHTS) -> float:
    """Weighted mean of the measured components' scores (NaN when none is measured); in [0, 1]."""
    measured = [(c.score, weights[c.name]) for c in components if math.isfinite(c.score) and weights[c.name] > 0]
    if not measured:
        return math.nan
    total = sum(w for _, w in measured)
    return float(sum(s * w for s, w in measured) / total)


def components_table(rows: pd.DataFrame, weights: dict[str, float] = WEIGHTS) -> pd.DataFrame:
    """One row per component of one run: score, weight in the sum, measurement, reference, status, reason, source."""
    comps = components_of_run(rows)
    measured_weight = sum(weights[c.name] for c in comps if math.isfinite(c.score))
    out = []
    for c in comps:
        w = weights[c.name] / measured_weight if math.isfinite(c.score) and measured_weight else 0.0
        out.append(dict(component=c.name, score=c.score, weight=w, measured=c.measured, reference=c.reference,
                        status=c.status, reason=c.reason, source=SOURCES[c.name]))
    return pd.DataFrame(out)


def definitions_table(weights: dict[str, float] = WEIGHTS) -> pd.DataFrame:
    """What each component is: its weight, formula and source (the legend of every components table)."""
    total = sum(weights.values())
    return pd.DataFrame([dict(component=name, weight=weights[name] / total, formula=FORMULAS[name],
                              source=SOURCES[name]) for name in COMPONENTS])


def details_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per layer / projection numbers behind the components of one run (long format)."""
    items = [d for c in components_of_run(rows) for d in c.details]
    cols = ["component", "entity", "region", "quantity", "value", "reference", "score"]
    return pd.DataFrame(items, columns=cols)


def brain_score_of_run(rows: pd.DataFrame) -> float | None:
    """The brain-likeness score of one run, or None for a model without DG, CA3 or CA1 (or nothing measured).

    For leaderboard columns: the weighted mean of the measured components
    (:func:`components_table` says which and why the others are not).
    """
    rows = _normalised(rows)
    if rows.empty or not _has_hippocampal_layers(rows):
        return None
    score = score_of(components_of_run(rows))
    return score if math.isfinite(score) else None


# ------------------------------------------------------------- leaderboards
#: The leaderboard column: its key, header and what its legend line starts with.
LEADERBOARD_COLUMN = "brain"
LEADERBOARD_HEADER = "brain score ↑"
LEADERBOARD_LEGEND = ("brain score: closeness to C-HORSE in [0, 1], the equal-weight mean of the measured "
                      "components (coding level per region, DG pattern separation, cued recall, pair RSA, "
                      "trisynaptic/monosynaptic lr ratio; hippo_bench/reporting/brain_score.py; `hippo-bench "
                      "experiment brain-score` shows each); — for models without DG, CA3 and CA1")


@dataclasses.dataclass
class BoardColumn:
    """The brain-score column of one leaderboard.

    ``ranked`` is False when the scored runs rest on different sets of
    components (meta-hippo records % active and learned lr, other
    strategies do not): such scores are shown but not ranked (no bold, no
    ties). ``legend`` says which components each strategy's runs measured.
    """

    scores: dict[str, float]  # run_id -> brain score (runs without one left out)
    ranked: bool
    legend: str


def brain_scores(runs: pd.DataFrame) -> dict[str, float]:
    """run_id -> brain score, for every run that has one (models without hippocampal layers are left out)."""
    return leaderboard_column(runs).scores


def leaderboard_column(runs: pd.DataFrame) -> BoardColumn:
    """Per run the score and which components it rests on; the column's legend line and whether to rank it."""
    scores, measured_by_strategy = {}, {}
    for run_id, rows in runs.groupby("run_id", sort=True):
        if not _has_hippocampal_layers(_normalised(rows)):
            continue
        comps = components_of_run(rows)
        score = score_of(comps)
        if not math.isfinite(score):
            continue
        scores[str(run_id)] = score
        strategy = str(rows["strategy"].iloc[0]) if "strategy" in rows.columns else "?"
        measured = tuple(c.name for c in comps if math.isfinite(c.score))
        measured_by_strategy.setdefault(measured, set()).add(strategy)
    ranked = len(measured_by_strategy) <= 1
    parts = [f"{', '.join(sorted(strategies))}: {len(m)} of {len(COMPONENTS)} ({', '.join(m)})"
             for m, strategies in sorted(measured_by_strategy.items(), key=lambda kv: (-len(kv[0]), kv[0]))]
    legend = LEADERBOARD_LEGEND
    if parts:
        legend += "; components measured: " + "; ".join(parts)
    if not ranked:
        legend += " (scores on different components are not ranked: no bold, no ties)"
    return BoardColumn(scores, ranked, legend)
