"""End-of-run tables of the CLS paradigms, derived from the tidy rows of one or more seeds.

``final_measures`` reduces each run to the probe measures pooled over all
items (``eval_exp`` -1) before training (intact) and after the last
experience (every lesion condition), item recall averaged over test
experiences (ACC), then to mean, sd and n over seeds. ``paradigm_table``
prints them with lesion conditions as columns. ``retention_table`` follows
each experience of a continual stream: its items' recall and its key
relation just after it was studied and at the end.
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd
from rich.table import Table

PROBE_PREFIXES = ("similarity_", "production_")
RECALL = "item recall (ACC)"
SIMILARITY_LABELS = {
    "pair": "pair-mates", "nonpair": "non-pairs",
    "within": "within community (unlinked)", "between": "between communities (unlinked)",
    "ac": "A-C, same triad", "ac_foil": "A-C, other triads",
}
RELATION_LABELS = {"ab": "A->B", "ba": "B->A", "bc": "B->C", "cb": "C->B", "ac": "A->C inference",
                   "neighbour": "graph neighbours"}
PRODUCTION_PARTS = {"": "target activity", "_foil": "foil activity", "_choice": "choice vs foils"}
LESION_LABELS = {"": "intact", "msp": "MSP lesion", "tsp": "TSP lesion"}


def ok_rows(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    frames = [t for t in tables if t is not None and len(t) and (t["status"] == "ok").all()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def final_measures(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Columns metric, entity, group, lesion, stage ("before"/"final"), mean, sd, n, in first-seen order."""
    df = ok_rows(tables)
    cols = ["metric", "entity", "group", "lesion", "stage", "mean", "sd", "n"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    last = df.groupby("run_id")["train_exp"].transform("max")
    df = df[(df["train_exp"] == -1) | (df["train_exp"] == last)].copy()
    df["stage"] = ["before" if t == -1 else "final" for t in df["train_exp"]]
    recall = df[(df["metric"] == "accuracy") & (df["eval_exp"] >= 0)]
    recall = (recall.groupby(["run_id", "stage", "lesion"], sort=False)["value"].mean().reset_index()
              .assign(metric=RECALL, entity="", group=""))
    probe = df[df["metric"].str.startswith(PROBE_PREFIXES) & (df["eval_exp"] == -1)]
    rows = pd.concat([recall, probe[recall.columns]], ignore_index=True)
    rows = rows[(rows["stage"] == "final") | (rows["lesion"] == "")]
    out = (rows.groupby(["metric", "entity", "group", "lesion", "stage"], sort=False)["value"]
           .agg(mean="mean", sd="std", n="count").reset_index())
    return out[cols]


def fmt_cell(mean: float, sd: float, n: int) -> str:
    if mean is None or math.isnan(mean):
        return "—"
    return f"{mean:.3f}" if n < 2 or math.isnan(sd) else f"{mean:.3f} ± {sd:.3f}"


def measure_label(metric: str) -> str:
    if metric.startswith("similarity_"):
        name = metric[len("similarity_"):]
        return f"similarity: {SIMILARITY_LABELS.get(name, name)}"
    if metric.startswith("production_"):
        rel, part = metric[len("production_"):], ""
        for suffix in ("_foil", "_choice"):
            if rel.endswith(suffix):
                rel, part = rel[: -len(suffix)], suffix
        return f"production {RELATION_LABELS.get(rel, rel)}: {PRODUCTION_PARTS[part]}"
    return metric


def paradigm_table(tables: Sequence[pd.DataFrame], title: str) -> Table:
    """Recall, production and per-layer similarity: before training, then after the last experience per lesion."""
    fm = final_measures(tables)
    n_runs = int(ok_rows(tables)["run_id"].nunique()) if not fm.empty else 0
    lesions = list(pd.unique(fm["lesion"])) if not fm.empty else [""]
    t = Table(title=f"{title} ({n_runs} seed{'s' if n_runs != 1 else ''}; mean ± sd)", title_justify="left")
    for col in ("measure", "layer", "group", "before training"):
        t.add_column(col, justify="left" if col != "before training" else "right")
    for lesion in lesions:
        t.add_column(f"final, {LESION_LABELS.get(lesion, lesion)}", justify="right")
    if fm.empty:
        return t
    cells = {(r.metric, r.entity, r.group, r.lesion, r.stage): fmt_cell(r.mean, r.sd, int(r.n))
             for r in fm.itertuples(index=False)}
    keys = list(dict.fromkeys((r.metric, r.entity, r.group) for r in fm.itertuples(index=False)))
    keys.sort(key=lambda k: 0 if k[0] == RECALL else 1 if k[0].startswith("production_") else 2)  # stable
    for metric, entity, group in keys:
        t.add_row(measure_label(metric), entity, group, cells.get((metric, entity, group, "", "before"), "—"),
                  *[cells.get((metric, entity, group, lesion, "final"), "—") for lesion in lesions])
    return t


def suite_table(tables_by_paradigm: dict[str, Sequence[pd.DataFrame]],
                headlines: dict[str, tuple[str, str, str]]) -> Table:
    """The paradigms side by side: recall, the key output relation, and per layer related - unrelated similarity.

    ``headlines[paradigm] = (relation, related contrast, unrelated contrast)``,
    for example ("ab", "pair", "nonpair").
    """
    finals = {}
    for paradigm, tables in tables_by_paradigm.items():
        fm = final_measures(tables)
        finals[paradigm] = fm[(fm["stage"] == "final") & (fm["lesion"] == "")].set_index(["metric", "entity"])
    layers = list(dict.fromkeys(e for fm in finals.values() for m, e in fm.index if m.startswith("similarity_")))
    t = Table(title="CLS suite, after the last experience (intact; mean over seeds)", title_justify="left",
              caption="similarity columns: related minus unrelated items (pair-mates - non-pairs; same - other "
                      "community, unlinked; A-C same - other triads)", caption_justify="left")
    for col in ("paradigm", "item recall (ACC)", "key production: choice vs foils", *layers):
        t.add_column(col, justify="left" if col == "paradigm" else "right")

    def value(fm: pd.DataFrame, metric: str, entity: str) -> float:
        return float(fm.loc[(metric, entity), "mean"]) if (metric, entity) in fm.index else math.nan

    for paradigm, fm in finals.items():
        relation, related, unrelated = headlines[paradigm]
        diffs = [value(fm, f"similarity_{related}", e) - value(fm, f"similarity_{unrelated}", e) for e in layers]
        choice = value(fm, f"production_{relation}_choice", "output")
        t.add_row(paradigm, fmt_cell(value(fm, RECALL, ""), math.nan, 1),
                  f"{RELATION_LABELS.get(relation, relation)} {fmt_cell(choice, math.nan, 1)}",
                  *[fmt_cell(d, math.nan, 1) for d in diffs])
    return t


def retention_table(tables: Sequence[pd.DataFrame], headline: tuple[str, str, str], title: str) -> Table:
    """Per test experience j (intact): recall and the key relation's choice rate after experience j and at the end.

    On a continual stream the first is what was learned, the second what is
    left after the later experiences (R[j, j] and R[T-1, j] of the accuracy
    matrix, and the same for the structure measure of experience j's items).
    """
    relation = headline[0]
    choice = f"production_{relation}_choice"
    df = ok_rows(tables)
    t = Table(title=f"{title} (intact; mean ± sd over seeds)", title_justify="left",
              caption="'learned': right after the experience was studied (train_exp = j); 'end': after the last "
                      "experience", caption_justify="left")
    label = RELATION_LABELS.get(relation, relation)
    for col in ("experience", "recall: learned", "recall: end", f"{label} choice: learned", f"{label} choice: end"):
        t.add_column(col, justify="left" if col == "experience" else "right")
    if df.empty:
        return t
    df = df[(df["lesion"] == "") & (df["eval_exp"] >= 0) & df["metric"].isin(["accuracy", choice])].copy()
    last = df.groupby("run_id")["train_exp"].transform("max")
    learned = df[df["train_exp"] == df["eval_exp"]].assign(stage="learned")
    end = df[df["train_exp"] == last].assign(stage="end")
    cells = (pd.concat([learned, end]).groupby(["metric", "eval_exp", "stage"])["value"]
             .agg(mean="mean", sd="std", n="count"))

    def cell(metric: str, j: int, stage: str) -> str:
        if (metric, j, stage) not in cells.index:
            return "—"
        r = cells.loc[(metric, j, stage)]
        return fmt_cell(float(r["mean"]), float(r["sd"]), int(r["n"]))

    for j in sorted(df["eval_exp"].unique().tolist()):
        t.add_row(str(j), cell("accuracy", j, "learned"), cell("accuracy", j, "end"),
                  cell(choice, j, "learned"), cell(choice, j, "end"))
    return t
